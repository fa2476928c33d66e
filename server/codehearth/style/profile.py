"""A workspace's style profile: inferred, configured and pinned attributes per language,
a compact block of it for prompts, and light post-processing of completions.

``build_profile`` scans the workspace (the index's scanner: same ignore files and deny
list), reads at most ``max_files`` files per language, heaviest first, infers attributes
with :class:`~codehearth.style.extract.StyleExtractor`, then lets formatter configs
(:mod:`codehearth.style.configs`) and pinned values override them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from codehearth.index.scanner import ScanLimits, ScannedFile, WorkspaceScanner, read_source
from codehearth.languages import LanguageRegistry
from codehearth.style.configs import read_configs
from codehearth.style.extract import StyleAttribute, StyleExtractor, Value

MAX_FILES_PER_LANGUAGE = 400
MAX_FILE_BYTES = 1_000_000


@attrs.frozen
class StyleProfile:
    """One language's attributes in one workspace; ``files`` is how many were read."""

    language_id: str
    attributes: Mapping[str, StyleAttribute]
    files: int = 0

    def value(self, name: str) -> Value | None:
        """The attribute's value when it is confident enough for a prompt, else None."""
        attribute = self.attributes.get(name)
        return attribute.value if attribute is not None and attribute.confident else None

    def to_json(self) -> dict[str, Any]:
        return {
            "language_id": self.language_id,
            "files": self.files,
            "attributes": [a.to_json() for a in self.attributes.values()],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StyleProfile:
        attributes = [StyleAttribute.from_json(item) for item in data["attributes"]]
        return cls(data["language_id"], {a.name: a for a in attributes}, int(data["files"]))


@attrs.frozen
class WorkspaceStyle:
    """The profiles of every language found in one workspace."""

    root: str
    profiles: Mapping[str, StyleProfile]

    def profile(self, language_id: str) -> StyleProfile | None:
        return self.profiles.get(language_id)

    def to_json(self) -> dict[str, Any]:
        return {"root": self.root, "profiles": [p.to_json() for p in self.profiles.values()]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkspaceStyle:
        profiles = [StyleProfile.from_json(item) for item in data["profiles"]]
        return cls(data["root"], {p.language_id: p for p in profiles})


def build_profile(
    root: Path,
    registry: LanguageRegistry,
    *,
    weights: Mapping[str, float] | None = None,
    pinned: Mapping[str, Mapping[str, Value]] | None = None,
    hide_configs: bool = False,
    max_files: int = MAX_FILES_PER_LANGUAGE,
    limits: ScanLimits | None = None,
    excludes: tuple[str, ...] = (),
) -> WorkspaceStyle:
    """Infer the workspace's style.

    ``weights`` maps file paths (absolute, or relative to ``root``) to how much they
    count (default 1.0; the most edited files should weigh most); ``pinned`` maps a
    language id (or ``*`` for all) to attribute values the user fixed;
    ``hide_configs`` ignores formatter configs (to measure inference alone);
    ``excludes`` are gitignore-style patterns left out of the scan.
    """
    root = root.resolve()
    weight_of = {_absolute(root, path): weight for path, weight in (weights or {}).items()}
    by_language: defaultdict[str, list[ScannedFile]] = defaultdict(list)
    for scanned in WorkspaceScanner(root, registry, limits, excludes).scan():
        by_language[scanned.language_id].append(scanned)
    extractor = StyleExtractor(registry, root)
    counts: dict[str, int] = {}
    for language_id, files in by_language.items():
        files.sort(key=lambda f: (-weight_of.get(f.path, 1.0), -f.size, f.path))
        counts[language_id] = 0
        for scanned in files[:max_files]:
            text = read_source(scanned.path, MAX_FILE_BYTES)
            weight = weight_of.get(scanned.path, 1.0)
            if text is not None and extractor.add(
                language_id, text, weight=weight, path=scanned.path
            ):
                counts[language_id] += 1
    attributes = extractor.result()
    if not hide_configs:
        for language_id, configured in read_configs(root, registry).items():
            if language_id not in attributes:
                continue
            merged = attributes[language_id]
            for name, attribute in configured.items():
                inferred = merged.get(name)
                evidence = inferred.evidence if inferred is not None else 0
                merged[name] = attrs.evolve(attribute, evidence=evidence)
    for key, values in (pinned or {}).items():
        for language_id in attributes if key == "*" else [key]:
            merged = attributes.setdefault(language_id, {})
            for name, value in values.items():
                merged[name] = StyleAttribute(name, value, 0, 1.0, "pinned")
    profiles = {
        language_id: StyleProfile(language_id, found, counts.get(language_id, 0))
        for language_id, found in attributes.items()
    }
    return WorkspaceStyle(str(root), profiles)


def _absolute(root: Path, path: str) -> str:
    candidate = Path(path)
    return str((candidate if candidate.is_absolute() else root / candidate).resolve())


_NAMING_KINDS = (
    ("naming.function", "functions"),
    ("naming.class", "classes"),
    ("naming.variable", "variables"),
    ("naming.constant", "constants"),
)
_LINE_LABELS = ("Style", "Naming", "Conventions")


def _style_phrases(profile: StyleProfile) -> list[tuple[int, str]]:
    """(line, phrase) in priority order: what to say first and keep longest."""
    value = profile.value
    phrases: list[tuple[int, str]] = []
    indent, size = value("indent.style"), value("indent.size")
    if indent == "tabs":
        phrases.append((0, "tab indents"))
    elif indent == "spaces" and size:
        phrases.append((0, f"{size}-space indents"))
    if value("line_length.limit"):
        phrases.append((0, f"lines <= {value('line_length.limit')}"))
    elif value("line_length.p95"):
        phrases.append((0, f"lines mostly <= {value('line_length.p95')}"))
    if value("quotes.strings"):
        phrases.append((0, f"{value('quotes.strings')} quotes"))
    docstring_quotes = value("quotes.docstrings")
    if docstring_quotes and docstring_quotes != value("quotes.strings"):
        phrases.append((0, f"{docstring_quotes}-quoted docstrings"))
    commas = value("trailing_commas")
    if commas:
        phrases.append(
            (
                0,
                "trailing commas in multi-line lists and calls"
                if commas == "yes"
                else "no trailing commas",
            )
        )
    for name, kind in _NAMING_KINDS:
        if value(name):
            phrases.append((1, f"{value(name)} {kind}"))
    if value("naming.private"):
        phrases.append((1, f"private members: {value('naming.private')}"))
    if value("docstrings.style"):
        phrases.append((2, f"{value('docstrings.style')} docstrings"))
    parameters, returns = value("annotations.parameters"), value("annotations.returns")
    if isinstance(parameters, float) and isinstance(returns, float):
        phrases.append(
            (2, f"type hints on {parameters:.0%} of parameters, {returns:.0%} of returns")
        )
    imports = [
        str(v) for v in (value("imports.relative"), value("imports.form")) if isinstance(v, str)
    ]
    if value("imports.grouping") == "grouped":
        imports.append("grouped stdlib/third-party/local")
    if imports:
        phrases.append((2, "imports: " + ", ".join(imports)))
    if value("errors.idiom"):
        phrases.append((2, f"errors: {value('errors.idiom')}"))
    if value("tests.framework"):
        phrases.append((2, f"tests: {value('tests.framework')}"))
    libraries = value("libraries.preferred")
    if isinstance(libraries, tuple) and libraries:
        phrases.append((2, "libraries: " + ", ".join(libraries)))
    return phrases


def render_style_block(
    style: WorkspaceStyle | StyleProfile, language_id: str, budget_chars: int = 600
) -> str:
    """A few lines describing the confident attributes for a prompt, at most
    ``budget_chars`` long (the least important phrases go first); empty when there is
    nothing confident to say."""
    profile = style if isinstance(style, StyleProfile) else style.profile(language_id)
    if profile is None:
        return ""
    phrases = _style_phrases(profile)
    while phrases:
        lines = [
            f"{label}: " + "; ".join(text for line, text in phrases if line == index) + "."
            for index, label in enumerate(_LINE_LABELS)
            if any(line == index for line, _ in phrases)
        ]
        block = "\n".join(lines)
        if len(block) <= budget_chars:
            return block
        phrases.pop()
    return ""


_QUOTE_LANGUAGES = frozenset(
    {"python", "javascript", "javascriptreact", "typescript", "typescriptreact"}
)


def apply_to_completion(text: str, style: WorkspaceStyle | StyleProfile, language_id: str) -> str:
    """Bring a completion in line with the profile where that is unambiguous: leading
    indentation converted between tabs and spaces (only when every indented line is a
    whole number of units), and the quotes of simple string literals (no prefix, escape
    or other quote inside) swapped; quotes are left alone when the text cannot be lexed
    to the end (it may start or stop inside a string)."""
    profile = style if isinstance(style, StyleProfile) else style.profile(language_id)
    if profile is None or not text:
        return text
    text = _reindent(text, profile.value("indent.style"), profile.value("indent.size"))
    quote = profile.value("quotes.strings")
    if language_id in _QUOTE_LANGUAGES and quote in ("single", "double"):
        text = _swap_quotes(text, '"' if quote == "double" else "'", language_id == "python")
    return text


def _reindent(text: str, indent: Value | None, size: Value | None) -> str:
    lines = text.split("\n")
    leads = [line[: len(line) - len(line.lstrip(" \t"))] for line in lines]
    if indent == "spaces" and isinstance(size, int) and size > 0:
        if not any("\t" in lead for lead in leads):
            return text
        if any(" " in lead for lead in leads):
            return text  # mixed tabs and spaces: not unambiguous
        return "\n".join(
            lead.replace("\t", " " * size) + line[len(lead) :]
            for lead, line in zip(leads, lines, strict=True)
        )
    if indent == "tabs":
        unit = size if isinstance(size, int) and size > 0 else _space_unit(leads)
        if unit is None or any("\t" in lead for lead in leads):
            return text
        if any(len(lead) % unit for lead in leads):
            return text
        return "\n".join(
            "\t" * (len(lead) // unit) + line[len(lead) :]
            for lead, line in zip(leads, lines, strict=True)
        )
    return text


def _space_unit(leads: list[str]) -> int | None:
    widths = {len(lead) for lead in leads if lead}
    if not widths:
        return None
    smallest = min(widths)
    return smallest if smallest in (2, 4, 8) and all(w % smallest == 0 for w in widths) else None


def _swap_quotes(text: str, wanted: str, python: bool) -> str:
    other = "'" if wanted == '"' else '"'
    out: list[str] = []
    i = 0
    line_comment = "#" if python else "//"
    while i < len(text):
        char = text[i]
        if text.startswith(line_comment, i):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            out.append(text[i:end])
            i = end
        elif not python and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                return text
            out.append(text[i : end + 2])
            i = end + 2
        elif char in "\"'`":
            if char == "`" and python:
                out.append(char)
                i += 1
                continue
            delimiter = char * 3 if python and text.startswith(char * 3, i) else char
            closed = _string_end(text, i + len(delimiter), delimiter)
            if closed is None:
                return text
            literal = text[i:closed]
            body = literal[len(delimiter) : -len(delimiter)]
            prefixed = i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")
            simple = (
                char == other
                and len(delimiter) == 1
                and not prefixed
                and wanted not in body
                and "\\" not in body
            )
            out.append(f"{wanted}{body}{wanted}" if simple else literal)
            i = closed
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _string_end(text: str, start: int, delimiter: str) -> int | None:
    """The index just past the closing delimiter, or None when the string is not closed
    (or a one-quote string runs into a newline, except a JS template)."""
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(delimiter, i):
            return i + len(delimiter)
        if text[i] == "\n" and len(delimiter) == 1 and delimiter != "`":
            return None
        i += 1
    return None
