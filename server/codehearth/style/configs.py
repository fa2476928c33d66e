"""Formatter configurations in a workspace: they state the style, so they override
inference and are reported as its source (``config:<file>``).

Read at the workspace root, lowest precedence first: ``.editorconfig`` (sections matched
per language extension), ``pyproject.toml`` ``[tool.black]`` (Black's defaults, 88 and
double quotes, when the table is there without keys), ``[tool.ruff]`` then ``ruff.toml``
/ ``.ruff.toml`` (``line-length``, ``indent-width``, ``[format] quote-style`` and
``indent-style``; Ruff's formatter defaults when a ``format`` table exists),
``.prettierrc`` / ``.prettierrc.json`` / ``package.json`` ``"prettier"`` (with Prettier's
defaults), ``rustfmt.toml`` / ``.rustfmt.toml`` (with rustfmt's defaults) and
``.clang-format`` (with its ``BasedOnStyle`` defaults).

:func:`read_excludes` reads which files the formatters are told to leave alone (vendored,
generated, fixtures): they are not the user's style, so inference leaves them out. For
Python, Ruff's ``exclude``, ``extend-exclude`` and ``format.exclude`` (globs, matched with
``fnmatch`` against each of the path's folders and the file, or against any one name when
the glob has no ``/``) and Black's ``exclude``, ``extend-exclude`` and ``force-exclude``
(regular expressions searched in ``/folder/`` and ``/folder/file.py``, as Black does);
for JavaScript and TypeScript, ``.prettierignore`` (gitignore lines).
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pathspec

from codehearth.index.scanner import read_workspace_file
from codehearth.languages import LanguageRegistry
from codehearth.style.extract import StyleAttribute, Value

log = logging.getLogger(__name__)

Settings = dict[str, Value]
"""Attribute name to value, as one config file states them."""

PYTHON = ("python",)
JS_TS = ("javascript", "javascriptreact", "typescript", "typescriptreact")
RUST = ("rust",)
C_CPP = ("c", "cpp")

_PRETTIER_DEFAULTS: Settings = {
    "line_length.limit": 80,
    "indent.style": "spaces",
    "indent.size": 2,
    "quotes.strings": "double",
    "trailing_commas": "yes",
}
_CLANG_STYLES: dict[str, Settings] = {
    "llvm": {"line_length.limit": 80, "indent.size": 2},
    "google": {"line_length.limit": 80, "indent.size": 2},
    "chromium": {"line_length.limit": 80, "indent.size": 2},
    "mozilla": {"line_length.limit": 80, "indent.size": 2},
    "webkit": {"indent.size": 4},
    "microsoft": {"line_length.limit": 120, "indent.size": 4},
    "gnu": {"line_length.limit": 79, "indent.size": 2},
}


def read_configs(root: Path, registry: LanguageRegistry) -> dict[str, dict[str, StyleAttribute]]:
    """The configured attributes per language id, each with its ``config:<file>`` source.
    Unreadable or malformed files are skipped (logged at debug level)."""
    found: dict[str, dict[str, StyleAttribute]] = {}

    def apply(language_ids: tuple[str, ...], settings: Settings, name: str) -> None:
        for language_id in language_ids:
            for key, value in settings.items():
                found.setdefault(language_id, {})[key] = StyleAttribute(
                    key, value, 0, 1.0, f"config:{name}"
                )

    text = _read(root / ".editorconfig")
    if text is not None:
        for spec in registry.specs:
            settings = editorconfig_settings(text, spec.extensions)
            if settings:
                apply((spec.language_id,), settings, ".editorconfig")
    for name, language_ids, reader in _READERS:
        text = _read(root / name)
        if text is None:
            continue
        try:
            settings = reader(text)
        except (ValueError, TypeError, AttributeError) as error:
            log.debug("cannot read %s: %s", name, error)
            continue
        apply(language_ids, settings, name)
    return found


def _read(path: Path) -> str | None:
    try:
        return read_workspace_file(path).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _table(data: Mapping[str, Any], *keys: str) -> dict[str, Any] | None:
    for key in keys:
        value = data.get(key)
        if not isinstance(value, dict):
            return None
        data = value
    return dict(data)


def black_settings(pyproject: str) -> Settings:
    """``[tool.black]``: Black always indents with 4 spaces and adds magic trailing
    commas; ``line-length`` defaults to 88 and strings are double-quoted unless
    ``skip-string-normalization`` is set."""
    black = _table(tomllib.loads(pyproject), "tool", "black")
    if black is None:
        return {}
    settings: Settings = {
        "indent.style": "spaces",
        "indent.size": 4,
        "line_length.limit": int(black.get("line-length", 88)),
        "trailing_commas": "yes",
    }
    if not black.get("skip-string-normalization", False):
        settings["quotes.strings"] = "double"
        settings["quotes.docstrings"] = "double"
    return settings


def ruff_settings(text: str, *, in_pyproject: bool = False) -> Settings:
    """``[tool.ruff]`` in ``pyproject.toml`` or a ``ruff.toml``: ``line-length``,
    ``indent-width`` and the ``format`` table (whose presence means Ruff formats, so
    its defaults apply: 88 columns, double quotes, spaces)."""
    data = tomllib.loads(text)
    ruff = _table(data, "tool", "ruff") if in_pyproject else data
    if ruff is None:
        return {}
    settings: Settings = {}
    format_table = ruff.get("format")
    if isinstance(format_table, dict):
        settings.update(
            {
                "line_length.limit": 88,
                "indent.style": "spaces",
                "indent.size": 4,
                "quotes.strings": "double",
                "quotes.docstrings": "double",
            }
        )
        quote = format_table.get("quote-style", "double")
        if quote in ("double", "single"):
            settings["quotes.strings"] = quote
        else:
            settings.pop("quotes.strings")
        if format_table.get("indent-style") == "tab":
            settings["indent.style"] = "tabs"
            settings.pop("indent.size")
        if not format_table.get("skip-magic-trailing-comma", False):
            settings["trailing_commas"] = "yes"
    if "line-length" in ruff:
        settings["line_length.limit"] = int(ruff["line-length"])
    if "indent-width" in ruff and settings.get("indent.style") != "tabs":
        settings["indent.size"] = int(ruff["indent-width"])
    return settings


def prettier_settings(text: str) -> Settings:
    """A ``.prettierrc`` (JSON, or the simple ``key: value`` YAML form) with Prettier's
    defaults (80 columns, 2 spaces, double quotes, trailing commas)."""
    text = text.strip()
    options: dict[str, Any]
    if text.startswith("{"):
        options = json.loads(text)
    else:
        options = {key: _yaml_scalar(value) for key, value in _yaml_pairs(text).items()}
    return _prettier(options)


def package_json_settings(text: str) -> Settings:
    """The ``"prettier"`` key of ``package.json`` when it holds options (a string names a
    shared config, which is not read)."""
    options = json.loads(text).get("prettier")
    return _prettier(options) if isinstance(options, dict) else {}


def _prettier(options: Mapping[str, Any]) -> Settings:
    settings = dict(_PRETTIER_DEFAULTS)
    if isinstance(options.get("printWidth"), int):
        settings["line_length.limit"] = options["printWidth"]
    if isinstance(options.get("tabWidth"), int):
        settings["indent.size"] = options["tabWidth"]
    if options.get("useTabs") is True:
        settings["indent.style"] = "tabs"
        settings.pop("indent.size")
    if isinstance(options.get("singleQuote"), bool):
        settings["quotes.strings"] = "single" if options["singleQuote"] else "double"
    if options.get("trailingComma") in ("none", "es5", "all"):
        settings["trailing_commas"] = "no" if options["trailingComma"] == "none" else "yes"
    return settings


def rustfmt_settings(text: str) -> Settings:
    """``rustfmt.toml``: ``max_width`` (100), ``hard_tabs`` (false), ``tab_spaces`` (4)."""
    data = tomllib.loads(text)
    settings: Settings = {"line_length.limit": int(data.get("max_width", 100))}
    if data.get("hard_tabs", False):
        settings["indent.style"] = "tabs"
    else:
        settings["indent.style"] = "spaces"
        settings["indent.size"] = int(data.get("tab_spaces", 4))
    return settings


def clang_format_settings(text: str) -> Settings:
    """``.clang-format`` (YAML): ``BasedOnStyle`` defaults, then ``ColumnLimit`` (0: no
    limit), ``IndentWidth`` and ``UseTab`` (``Never`` or a tab mode)."""
    pairs = _yaml_pairs(text)
    settings: Settings = {"indent.style": "spaces"}
    settings.update(_CLANG_STYLES.get(pairs.get("BasedOnStyle", "llvm").lower(), {}))
    if pairs.get("ColumnLimit", "").isdigit():
        limit = int(pairs["ColumnLimit"])
        if limit:
            settings["line_length.limit"] = limit
        else:
            settings.pop("line_length.limit", None)
    if pairs.get("IndentWidth", "").isdigit():
        settings["indent.size"] = int(pairs["IndentWidth"])
    use_tab = pairs.get("UseTab", "Never").lower()
    if use_tab not in ("never", "false"):
        settings["indent.style"] = "tabs"
        settings.pop("indent.size", None)
    return settings


def _yaml_pairs(text: str) -> dict[str, str]:
    """Top-level ``key: value`` lines of a flat YAML file (first document only)."""
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() == "---" and pairs:
            break
        match = re.match(r"^([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*(#.*)?$", line)
        if match and match.group(2):
            pairs.setdefault(match.group(1), match.group(2).strip("'\""))
    return pairs


def _yaml_scalar(value: str) -> Any:
    if value in ("true", "false"):
        return value == "true"
    if value.isdigit():
        return int(value)
    return value


def editorconfig_settings(text: str, extensions: tuple[str, ...]) -> Settings:
    """What ``.editorconfig`` says for files with one of these extensions: later
    sections win, as in the EditorConfig spec. Sections naming a folder path other than
    ``**/`` are not matched (a language has no folder)."""
    options: dict[str, str] = {}
    matches = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            matches = any(_section_matches(line[1:-1], f"file{ext}") for ext in extensions)
        elif matches and "=" in line:
            key, _, value = line.partition("=")
            options[key.strip().lower()] = value.strip().lower()
    settings: Settings = {}
    style = options.get("indent_style")
    if style in ("space", "tab"):
        settings["indent.style"] = "spaces" if style == "space" else "tabs"
    size = options.get("indent_size", "")
    if size.isdigit() and style != "tab":
        settings["indent.size"] = int(size)
    length = options.get("max_line_length", "")
    if length.isdigit():
        settings["line_length.limit"] = int(length)
    return settings


def _section_matches(glob: str, filename: str) -> bool:
    glob = glob.removeprefix("**/")
    if "/" in glob:
        return False
    return any(fnmatch.fnmatchcase(filename, pattern) for pattern in _expand_braces(glob))


def _expand_braces(glob: str) -> list[str]:
    match = re.search(r"\{([^{}]*)\}", glob)
    if match is None:
        return [glob.replace("**", "*")]
    head, tail = glob[: match.start()], glob[match.end() :]
    return [
        expanded
        for option in match.group(1).split(",")
        for expanded in _expand_braces(head + option + tail)
    ]


_READERS: list[tuple[str, tuple[str, ...], Callable[[str], Settings]]] = [
    ("pyproject.toml", PYTHON, black_settings),
    ("pyproject.toml", PYTHON, lambda t: ruff_settings(t, in_pyproject=True)),
    ("ruff.toml", PYTHON, ruff_settings),
    (".ruff.toml", PYTHON, ruff_settings),
    (".prettierrc", JS_TS, prettier_settings),
    (".prettierrc.json", JS_TS, prettier_settings),
    ("package.json", JS_TS, package_json_settings),
    ("rustfmt.toml", RUST, rustfmt_settings),
    (".rustfmt.toml", RUST, rustfmt_settings),
    (".clang-format", C_CPP, clang_format_settings),
]
"""The files read after ``.editorconfig``, lowest precedence first, with what they set."""

PathTest = Callable[[str], bool]
"""Whether a formatter excludes a path (POSIX, relative to the workspace root)."""


class FormatterExcludes:
    """The files the workspace's formatter configs exclude, per language."""

    def __init__(self, rules: tuple[tuple[tuple[str, ...], PathTest], ...] = ()) -> None:
        self.rules = rules

    def covers(self, relative: str, language_id: str) -> bool:
        """Does a formatter for ``language_id`` exclude ``relative`` (a POSIX path
        relative to the workspace root)?"""
        return any(
            language_id in language_ids and excluded(relative)
            for language_ids, excluded in self.rules
        )


def read_excludes(root: Path) -> FormatterExcludes:
    """The exclusions of Ruff, Black and Prettier at the workspace root. Unreadable or
    malformed files, and patterns that do not compile, are skipped (logged at debug
    level)."""
    rules: list[tuple[tuple[str, ...], PathTest]] = []
    for name, in_pyproject in (
        ("pyproject.toml", True),
        ("ruff.toml", False),
        (".ruff.toml", False),
    ):
        text = _read(root / name)
        if text is None:
            continue
        try:
            data = tomllib.loads(text)
        except ValueError as error:
            log.debug("cannot read %s: %s", name, error)
            continue
        globs = ruff_excludes(data, in_pyproject=in_pyproject)
        if globs:
            rules.append((PYTHON, _glob_test(globs)))
        if in_pyproject:
            expressions = black_excludes(data)
            if expressions:
                rules.append((PYTHON, _expression_test(expressions)))
    text = _read(root / ".prettierignore")
    if text is not None:
        spec = pathspec.GitIgnoreSpec.from_lines(text.splitlines())
        rules.append((JS_TS, spec.match_file))
    return FormatterExcludes(tuple(rules))


def ruff_excludes(data: Mapping[str, Any], *, in_pyproject: bool) -> list[str]:
    """Ruff's ``exclude``, ``extend-exclude`` and ``format.exclude`` globs."""
    ruff = _table(data, "tool", "ruff") if in_pyproject else dict(data)
    if ruff is None:
        return []
    format_table = ruff.get("format")
    lists = [ruff.get("exclude"), ruff.get("extend-exclude")]
    if isinstance(format_table, dict):
        lists.append(format_table.get("exclude"))
    return [
        glob
        for found in lists
        if isinstance(found, list)
        for glob in found
        if isinstance(glob, str)
    ]


def black_excludes(data: Mapping[str, Any]) -> list[re.Pattern[str]]:
    """Black's ``exclude``, ``extend-exclude`` and ``force-exclude`` regular expressions
    (verbose when they span lines, as Black reads them)."""
    black = _table(data, "tool", "black")
    if black is None:
        return []
    expressions: list[re.Pattern[str]] = []
    for key in ("exclude", "extend-exclude", "force-exclude"):
        pattern = black.get(key)
        if not isinstance(pattern, str) or not pattern.strip():
            continue
        try:
            expressions.append(re.compile(f"(?x){pattern}" if "\n" in pattern else pattern))
        except re.error as error:
            log.debug("cannot compile [tool.black] %s: %s", key, error)
    return expressions


def _glob_test(globs: list[str]) -> PathTest:
    patterns = [glob.removeprefix("./").rstrip("/") for glob in globs]

    def excluded(relative: str) -> bool:
        names = relative.split("/")
        paths = ["/".join(names[: depth + 1]) for depth in range(len(names))]
        for pattern in patterns:
            if "/" not in pattern:
                if any(fnmatch.fnmatchcase(name, pattern) for name in names):
                    return True
                continue
            anywhere = pattern.removeprefix("**/")
            if any(
                fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, anywhere)
                for path in paths
            ):
                return True
        return False

    return excluded


def _expression_test(expressions: list[re.Pattern[str]]) -> PathTest:
    def excluded(relative: str) -> bool:
        names = relative.split("/")
        folders = ["/" + "/".join(names[: depth + 1]) + "/" for depth in range(len(names) - 1)]
        return any(
            expression.search(path)
            for expression in expressions
            for path in (*folders, "/" + relative)
        )

    return excluded


EXCLUDE_FILES = (".prettierignore",)
"""Files read only for their exclusions (``pyproject.toml`` and Ruff's are read anyway)."""
CONFIG_FILES = (".editorconfig", *dict.fromkeys(name for name, _, _ in _READERS), *EXCLUDE_FILES)
"""Every file this module reads, at the workspace root."""
