"""A workspace's style profile: inferred, configured and pinned attributes per language,
a compact block of it for prompts, and light post-processing of completions.

:class:`StyleTracker` keeps one workspace's profile current: it scans the workspace (the
index's scanner: same ignore files and deny list), holds the evidence of at most
``max_files`` files per language, heaviest first (the files the user saves most), taken
from the :class:`~codehearth.style.store.StyleStore` when their content was seen before,
else extracted with :class:`~codehearth.style.extract.StyleExtractor` (which leaves out
generated and data files); changed files are re-extracted one by one. Files the
project's formatter configs exclude (:func:`~codehearth.style.configs.read_excludes`) are
not the user's style either: they are not read, and they are left out of each composed
profile as the configs stand then. The profile is composed from that evidence, then
formatter configs (:mod:`codehearth.style.configs`) and pinned values
(:mod:`codehearth.style.pins`) override it. ``build_profile`` does all that once, in
memory.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from codehearth.index.scanner import ScanLimits, ScannedFile, WorkspaceScanner, read_source
from codehearth.languages import LanguageRegistry
from codehearth.style.configs import FormatterExcludes, read_configs, read_excludes
from codehearth.style.extract import FileEvidence, StyleAttribute, StyleExtractor, Value
from codehearth.style.pins import ALL_LANGUAGES
from codehearth.style.store import StyleStore, evidence_key

MAX_FILES_PER_LANGUAGE = 400
MAX_FILE_BYTES = 1_000_000
EDIT_WEIGHT_STEP = 0.25
MAX_COUNTED_EDITS = 8
"""A file the user saved n times (with changes) weighs 1 + 0.25 * min(n, 8): at most three
times a file they never touched."""


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


class StyleTracker:
    """One workspace's style evidence, kept current file by file.

    ``build()`` (re)reads the workspace; ``update_file`` and ``remove_file`` follow
    changes; ``style()`` composes the profile. ``weights`` maps paths (absolute, or
    relative to ``root``) to fixed weights, instead of the weight the user's saves give;
    ``hide_configs`` ignores the formatter configs' settings (to measure inference alone;
    the files they exclude stay out); ``excludes`` are gitignore-style patterns left out
    of the scan. A file a formatter config no longer excludes comes back when it changes
    or at the next ``build()``. ``extractions`` counts the files parsed (the others came
    from the store). Thread-safe: one lock, never held while a file is read or parsed.
    """

    def __init__(
        self,
        root: Path,
        registry: LanguageRegistry,
        store: StyleStore | None = None,
        *,
        weights: Mapping[str, float] | None = None,
        hide_configs: bool = False,
        max_files: int = MAX_FILES_PER_LANGUAGE,
        limits: ScanLimits | None = None,
        excludes: tuple[str, ...] = (),
    ) -> None:
        self.root = root.resolve()
        self.registry = registry
        self.store = store
        self.hide_configs = hide_configs
        self.max_files = max_files
        self.scanner = WorkspaceScanner(self.root, registry, limits, excludes)
        self.extractions = 0
        self._weights = {_absolute(self.root, path): w for path, w in (weights or {}).items()}
        self._edits = store.load_edits() if store is not None else {}
        self._observer = StyleExtractor(registry, self.root)
        self._lock = threading.Lock()
        self._evidence: dict[str, FileEvidence] = {}
        self._keys: dict[str, str] = {}
        """Path → evidence key of the content its evidence came from."""
        self._formatter_excludes = FormatterExcludes()
        """As the formatter configs stood at the last build or composition."""

    def weight(self, path: str) -> float:
        if path in self._weights:
            return self._weights[path]
        return 1.0 + EDIT_WEIGHT_STEP * min(self._edits.get(path, 0), MAX_COUNTED_EDITS)

    def build(self) -> None:
        """Scan the workspace and hold the evidence of the heaviest files per language."""
        formatter_excludes = read_excludes(self.root)
        by_language: defaultdict[str, list[ScannedFile]] = defaultdict(list)
        for scanned in self.scanner.scan():
            if not self._excluded(formatter_excludes, scanned.path, scanned.language_id):
                by_language[scanned.language_id].append(scanned)
        evidence: dict[str, FileEvidence] = {}
        keys: dict[str, str] = {}
        for language_id, files in by_language.items():
            files.sort(key=lambda f: (-self.weight(f.path), -f.size, f.path))
            for scanned in files[: self.max_files]:
                text = read_source(scanned.path, MAX_FILE_BYTES)
                if text is None:
                    continue
                key = evidence_key(language_id, text, scanned.path)
                found = self._evidence_for(key, language_id, text, scanned.path)
                if found is not None:
                    evidence[scanned.path] = found
                    keys[scanned.path] = key
        present = {scanned.path for files in by_language.values() for scanned in files}
        with self._lock:
            self._evidence, self._keys = evidence, keys
            self._formatter_excludes = formatter_excludes
            edits = {path: n for path, n in self._edits.items() if path in present}
            forgotten = len(edits) < len(self._edits)
            self._edits = edits
        if self.store is not None:
            self.store.keep_only(set(keys.values()))
            if forgotten:
                self.store.save_edits(edits)

    def update_file(self, path: str, text: str | None = None, *, edited: bool = False) -> bool:
        """Bring one file's evidence up to date from an editor buffer (``text``) or from
        disk; ``edited``: the user saved it, so it weighs more from now on. True when the
        evidence changed. The caller checks that the path belongs to the workspace (the
        index's ``accepts``)."""
        spec = self.registry.by_path(path)
        if spec is None:
            return False
        with self._lock:
            formatter_excludes = self._formatter_excludes
        if self._excluded(formatter_excludes, path, spec.language_id):
            return self.remove_file(path)
        if text is None:
            text = read_source(path, MAX_FILE_BYTES)
        elif len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
            text = None
        if text is None:
            return self.remove_file(path)
        key = evidence_key(spec.language_id, text, path)
        with self._lock:
            if self._keys.get(path) == key:
                return False
            held = path in self._evidence
            language_files = sum(
                1 for found in self._evidence.values() if found.language_id == spec.language_id
            )
        if edited:
            self._note_edit(path)
        if not held and language_files >= self.max_files:
            return False
        found = self._evidence_for(key, spec.language_id, text, path)
        with self._lock:
            if found is None:
                self._evidence.pop(path, None)
                self._keys.pop(path, None)
            else:
                self._evidence[path] = found
                self._keys[path] = key
        return held or found is not None

    def remove_file(self, path: str) -> bool:
        """Forget a deleted file; True when its evidence was held."""
        with self._lock:
            self._keys.pop(path, None)
            return self._evidence.pop(path, None) is not None

    def style(self, pinned: Mapping[str, Mapping[str, Value]] | None = None) -> WorkspaceStyle:
        """The profile from the held evidence, formatter configs and ``pinned`` values
        (language id, or ``*`` for every language, to attribute values), which win."""
        formatter_excludes = read_excludes(self.root)
        with self._lock:
            self._formatter_excludes = formatter_excludes
            weighted = [
                (found, self.weight(path))
                for path, found in self._evidence.items()
                if not self._excluded(formatter_excludes, path, found.language_id)
            ]
        extractor = StyleExtractor(self.registry, self.root)
        counts: defaultdict[str, int] = defaultdict(int)
        for found, weight in weighted:
            if weight > 0:
                extractor.add_evidence(found, weight)
                counts[found.language_id] += 1
        attributes = extractor.result()
        if not self.hide_configs:
            for language_id, configured in read_configs(self.root, self.registry).items():
                if language_id not in attributes:
                    continue
                merged = attributes[language_id]
                for name, attribute in configured.items():
                    inferred = merged.get(name)
                    evidence = inferred.evidence if inferred is not None else 0
                    merged[name] = attrs.evolve(attribute, evidence=evidence)
        everywhere = (pinned or {}).get(ALL_LANGUAGES, {})
        for language_id in attributes:
            _pin(attributes[language_id], everywhere)
        for key, values in (pinned or {}).items():
            if key != ALL_LANGUAGES:
                _pin(attributes.setdefault(key, {}), values)
        profiles = {
            language_id: StyleProfile(language_id, found, counts[language_id])
            for language_id, found in attributes.items()
        }
        return WorkspaceStyle(str(self.root), profiles)

    def _excluded(self, formatter_excludes: FormatterExcludes, path: str, language_id: str) -> bool:
        try:
            relative = Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return False
        return formatter_excludes.covers(relative, language_id)

    def _evidence_for(
        self, key: str, language_id: str, text: str, path: str
    ) -> FileEvidence | None:
        stored = self.store.load_evidence(key) if self.store is not None else None
        if stored is not None:
            return attrs.evolve(stored, path=path)
        self.extractions += 1
        found = self._observer.observe(language_id, text, path)
        if found is not None and self.store is not None:
            self.store.save_evidence(key, found)
        return found

    def _note_edit(self, path: str) -> None:
        with self._lock:
            self._edits[path] = self._edits.get(path, 0) + 1
            edits = dict(self._edits)
        if self.store is not None:
            self.store.save_edits(edits)


def _pin(merged: dict[str, StyleAttribute], values: Mapping[str, Value]) -> None:
    for name, value in values.items():
        inferred = merged.get(name)
        evidence = inferred.evidence if inferred is not None else 0
        merged[name] = StyleAttribute(name, value, evidence, 1.0, "pinned")


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
    """Infer the workspace's style once, in memory (see :class:`StyleTracker` for the
    arguments; ``weights`` should favour the files the user edits most)."""
    tracker = StyleTracker(
        root,
        registry,
        weights=weights,
        hide_configs=hide_configs,
        max_files=max_files,
        limits=limits,
        excludes=excludes,
    )
    tracker.build()
    return tracker.style(pinned)


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
