"""Infer a user's coding style from their own code, per language, with tree-sitter.

:class:`StyleExtractor` takes files one by one (``add``), each with a weight (files the
user edits most count more), and ``result()`` returns one :class:`StyleAttribute` per
inferred attribute and language. ``add`` is ``observe`` (one file's unweighted
:class:`FileEvidence`, which can be stored by content and reused) then ``add_evidence``
(counted with the file's weight). Attributes and their values:

- ``indent.style`` (``spaces``/``tabs``) and ``indent.size``: from the indentation a
  block's first statement adds to the line that opens the block, not from raw leading
  whitespace (continuation lines and alignment do not count);
- ``line_length.p95`` (95th percentile of non-blank line lengths, tabs as 4 columns) and
  ``line_length.limit``: one of :data:`COMMON_LIMITS` when the distribution shows a wall
  there (almost nothing above it, a crowd just below it); comment lines and multi-line
  strings are left out, as formatters do not wrap them;
- ``quotes.strings`` and ``quotes.docstrings`` (``single``/``double``): strings that
  contain the other quote are ignored, docstrings are counted apart;
- ``trailing_commas`` (``yes``/``no``): in literals, calls and parameter lists written
  one element per line;
- ``naming.function``, ``naming.variable``, ``naming.class``, ``naming.constant``
  (``snake_case``, ``camelCase``, ``PascalCase``, ``UPPER_CASE``; ``MixedCaps`` in Go)
  and ``naming.private`` (``_prefix``, ``__prefix``, ``#private``, ``no prefix``);
- ``docstrings.style`` (``Google``, ``NumPy``, ``reST``, ``JSDoc``, ``line comments``);
- ``annotations.parameters`` and ``annotations.returns``: the share (0..1) of Python or
  TypeScript parameters and functions with explicit types;
- ``imports.form`` (``from-import``/``import``), ``imports.relative``
  (``relative``/``absolute``, for the project's own modules) and ``imports.grouping``
  (``grouped``/``mixed``: stdlib, third-party, local in that order, blank lines between);
- ``errors.idiom`` (rough: ``exceptions``, ``return codes``, ``error values``,
  ``Result and ?``, ``panics``);
- ``tests.framework`` (``pytest``, ``unittest``, ``jest``, ``vitest``, ``mocha``,
  ``node:test``, ``go test``, ``cargo test``);
- ``libraries.preferred``: the most imported third-party modules.

Votes are weighed per file. The observations of one file are not independent: one
author, or one formatter run, chose its quotes, indents and names together, so a file is
one sample of the user's style however long it is. Each file votes with its own shares of
the values it shows, worth the effective number of independent observations of a cluster
of ``n`` observations with intra-file correlation ρ = :data:`SAME_FILE_CORRELATION`
(Kish's design effect): ``n / (1 + (n - 1) * ρ)``. One observation is worth one; a file
is never worth more than ``1 / ρ`` = 4, so many small hand-written files outvote one big
file, and a file with a single string is a weak vote. The file's weight (files the user
saves often count more) multiplies that. An attribute's ``confidence`` is the winning
value's share of these per-file votes, so it says how far the files agree (for shares
and lists: how much evidence there is); below :data:`MIN_CONFIDENCE` or with fewer than
:data:`MIN_EVIDENCE` observations it is not :attr:`StyleAttribute.confident` and prompts
leave it out. Line lengths and annotation shares are distributions over lines and
parameters, pooled over the files.

Only nodes at most :data:`~codehearth.languages.MAX_QUERY_START_DEPTH` levels deep are
looked at (:func:`~codehearth.languages.bounded_captures`): a file nested deeper still
gives the evidence of its outer levels, in time linear in its size.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any

import attrs
import tree_sitter

from codehearth.languages import LanguageRegistry, bounded_captures, parse_with_deadline

Value = str | int | float | bool | tuple[str, ...]

EVIDENCE_VERSION = "1"
"""Bump when what a file's evidence holds or how it is observed changes: stored evidence
of other versions is never reused."""
MIN_CONFIDENCE = 0.6
MIN_EVIDENCE = 3
SAME_FILE_CORRELATION = 0.25
"""How alike two observations of one file are (0: independent, 1: one choice): a file with
``n`` observations of an attribute votes as ``n / (1 + (n - 1) * 0.25)`` of them, 4 at most."""
COMMON_LIMITS = (79, 88, 99, 100, 120)
PARSE_TIMEOUT_MICROS = 1_000_000
TAB_COLUMNS = 4
TOP_LIBRARIES = 5

_WALL_TOLERANCE = 0.025
"""At most this share of lines may exceed a limit that shows a wall."""
_WALL_BAND = 8
_WALL_MIN_BAND_SHARE = 0.005
"""At least this share of lines must sit in the band of ``_WALL_BAND`` columns below it."""


@attrs.frozen
class StyleAttribute:
    """One style fact: its value, how many observations back it and how strongly.

    ``source`` is ``inferred``, ``config:<file>`` (a formatter config says so) or
    ``pinned`` (the user said so).
    """

    name: str
    value: Value
    evidence: int
    confidence: float
    source: str = "inferred"

    @property
    def confident(self) -> bool:
        """Configured and pinned attributes always are; inferred ones need enough
        evidence and a clear majority."""
        if self.source != "inferred":
            return True
        return self.confidence >= MIN_CONFIDENCE and self.evidence >= MIN_EVIDENCE

    def to_json(self) -> dict[str, Any]:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {
            "name": self.name,
            "value": value,
            "evidence": self.evidence,
            "confidence": self.confidence,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StyleAttribute:
        value = data["value"]
        return cls(
            name=data["name"],
            value=tuple(value) if isinstance(value, list) else value,
            evidence=int(data["evidence"]),
            confidence=float(data["confidence"]),
            source=data.get("source", "inferred"),
        )


class _Votes:
    """Votes for one attribute's value, file by file (see the module docstring)."""

    def __init__(self) -> None:
        self.weights: defaultdict[Value, float] = defaultdict(float)
        self.count = 0

    def add_file(self, observations: Mapping[Value, int], weight: float) -> None:
        """One file's observations (value → how often), with the file's weight."""
        total = sum(observations.values())
        if total <= 0:
            return
        worth = weight * total / (1 + (total - 1) * SAME_FILE_CORRELATION)
        for value, seen in observations.items():
            self.weights[value] += worth * seen / total
        self.count += total

    def attribute(self, name: str) -> StyleAttribute | None:
        total = sum(self.weights.values())
        if not self.count or total <= 0:
            return None
        value, weight = max(self.weights.items(), key=lambda item: item[1])
        return StyleAttribute(name, value, self.count, round(weight / total, 3))


class _Share:
    """A weighted share (annotation coverage): the value is the share itself."""

    def __init__(self) -> None:
        self.hits = 0.0
        self.total = 0.0
        self.count = 0

    def add(self, hits: int, observations: int, weight: float) -> None:
        self.hits += weight * hits
        self.total += weight * observations
        self.count += observations

    def attribute(self, name: str) -> StyleAttribute | None:
        if not self.count or self.total <= 0:
            return None
        confidence = round(min(1.0, self.count / 10), 3)
        return StyleAttribute(name, round(self.hits / self.total, 2), self.count, confidence)


# Node kinds captured per language family; kinds a grammar lacks are left out.
_PY_KINDS: dict[str, tuple[str, ...]] = {
    "string": ("string",),
    "collection": ("argument_list", "list", "dictionary", "set", "tuple", "parameters"),
    "function": ("function_definition",),
    "class": ("class_definition",),
    "assignment": ("assignment",),
    "import": ("import_statement", "import_from_statement"),
    "raise": ("raise_statement", "try_statement"),
    "return": ("return_statement",),
}
_JS_KINDS: dict[str, tuple[str, ...]] = {
    "string": ("string",),
    "collection": (
        "arguments",
        "array",
        "object",
        "formal_parameters",
        "named_imports",
        "object_pattern",
        "array_pattern",
    ),
    "function": (
        "function_declaration",
        "generator_function_declaration",
        "method_definition",
    ),
    "class": (
        "class_declaration",
        "interface_declaration",
        "type_alias_declaration",
        "enum_declaration",
    ),
    "assignment": ("variable_declarator",),
    "field": ("public_field_definition", "field_definition"),
    "import": ("import_statement",),
    "raise": ("throw_statement", "try_statement"),
}
_GO_KINDS: dict[str, tuple[str, ...]] = {
    "collection": ("argument_list", "literal_value", "parameter_list"),
    "function": ("function_declaration", "method_declaration"),
    "class": ("type_spec",),
    "assignment": ("short_var_declaration", "const_spec"),
    "import": ("import_spec",),
}
_RUST_KINDS: dict[str, tuple[str, ...]] = {
    "collection": (
        "arguments",
        "parameters",
        "array_expression",
        "tuple_expression",
        "field_initializer_list",
    ),
    "function": ("function_item",),
    "class": ("struct_item", "enum_item", "trait_item", "type_item"),
    "assignment": ("let_declaration", "const_item", "static_item"),
    "import": ("use_declaration",),
    "raise": ("try_expression",),
}
_C_LIKE_KINDS: dict[str, tuple[str, ...]] = {
    "collection": ("argument_list", "initializer_list", "array_initializer", "parameter_list"),
}
_FAMILIES: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "python": ("python", _PY_KINDS),
    "javascript": ("js", _JS_KINDS),
    "javascriptreact": ("js", _JS_KINDS),
    "typescript": ("js", _JS_KINDS),
    "typescriptreact": ("js", _JS_KINDS),
    "go": ("go", _GO_KINDS),
    "rust": ("rust", _RUST_KINDS),
}
_ROOT_KINDS = frozenset({"module", "program", "source_file", "translation_unit"})
_OPENERS = frozenset({"(", "[", "{", "<"})
_CLOSERS = frozenset({")", "]", "}", ">"})
_NO_TRAILING_COMMA_AFTER = frozenset(
    {"generator_expression", "rest_pattern", "rest_parameter", "variadic_parameter"}
)
_PY_LITERALS = frozenset(
    {"integer", "float", "string", "concatenated_string", "true", "false", "unary_operator"}
)
_JS_LITERALS = frozenset({"number", "string", "true", "false", "template_string", "regex"})
_STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}
_NODE_BUILTINS = frozenset(
    "fs path os http https url util events stream crypto child_process assert buffer "
    "process readline net zlib".split()
)
_RUST_ROOTS = frozenset({"std", "core", "alloc", "crate", "self", "super"})
_JS_TEST_IMPORTS = {
    "vitest": "vitest",
    "@jest/globals": "jest",
    "mocha": "mocha",
    "chai": "mocha",
    "node:test": "node:test",
}
_GENERATED = re.compile(
    r"do not edit|@generated|\b(?:auto-?)?generated (?:file|code|by|from)\b", re.I
)
_GENERATED_HEAD_CHARS = 2_000
_GOOGLE_SECTION = re.compile(
    r"^\s*(Args|Arguments|Returns|Raises|Yields|Attributes|Examples?|Note|Keyword Args):\s*$",
    re.M,
)
_NUMPY_SECTION = re.compile(r"^\s*(Parameters|Returns|Raises|Yields|Attributes)\s*\n\s*-{3,}", re.M)
_REST_FIELD = re.compile(r"^\s*:(param|type|returns?|rtype|raises?)\b[^:]*:", re.M)


def classify_name(name: str) -> str | None:
    """The naming convention of one identifier, ignoring leading and trailing
    underscores; ``None`` when a name fits several (``run``, ``x``) or none."""
    core = name.strip("_")
    if len(core) < 2 or not core[0].isalpha():
        return None
    letters = [c for c in core if c.isalpha()]
    if all(c.isupper() for c in letters):
        return "UPPER_CASE"
    if "_" in core:
        return "snake_case" if all(c.islower() for c in letters) else None
    if core[0].isupper():
        return "PascalCase"
    if any(c.isupper() for c in letters):
        return "camelCase"
    return None


def _text(node: tree_sitter.Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", "replace")


def _leading(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


ImportEntry = tuple[int, int, str, bool]
"""(start row, end row, top-level module, relative) of one top-level import."""


@attrs.frozen
class FileEvidence:
    """What one file says about its language's style, unweighted (every observation
    counts once), so it can be stored by the file's content and weighed when merged.

    Only the file name of ``path`` matters to the observations (test files); the whole
    path tells the project's own modules apart when evidence is merged.
    """

    language_id: str
    path: str
    votes: Mapping[str, Mapping[Value, int]]
    """Attribute → value → observations."""
    shares: Mapping[str, tuple[int, int]]
    """Attribute → (hits, observations), for shares such as annotation coverage."""
    lengths: Mapping[int, int]
    """Line length → lines (comments and multi-line strings left out)."""
    imports: tuple[ImportEntry, ...] = ()
    """Top-level imports in order."""
    modules: frozenset[str] = frozenset()
    """Top-level modules imported anywhere in the file (relative ones excluded)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "language_id": self.language_id,
            "path": self.path,
            "votes": [
                [name, value, count]
                for name, counts in self.votes.items()
                for value, count in counts.items()
            ],
            "shares": [[name, hits, total] for name, (hits, total) in self.shares.items()],
            "lengths": [[length, count] for length, count in self.lengths.items()],
            "imports": [list(entry) for entry in self.imports],
            "modules": sorted(self.modules),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FileEvidence:
        votes: defaultdict[str, dict[Value, int]] = defaultdict(dict)
        for name, value, count in data["votes"]:
            votes[str(name)][value] = int(count)
        return cls(
            language_id=str(data["language_id"]),
            path=str(data["path"]),
            votes=dict(votes),
            shares={str(name): (int(hits), int(total)) for name, hits, total in data["shares"]},
            lengths={int(length): int(count) for length, count in data["lengths"]},
            imports=tuple(
                (int(start), int(end), str(module), bool(relative))
                for start, end, module, relative in data["imports"]
            ),
            modules=frozenset(str(module) for module in data["modules"]),
        )


@attrs.define
class _FileImports:
    weight: float
    entries: tuple[ImportEntry, ...]
    modules: frozenset[str]


@attrs.define
class _Tally:
    """Everything observed for one language, weighted."""

    language_id: str
    family: str
    votes: defaultdict[str, _Votes] = attrs.field(factory=lambda: defaultdict(_Votes))
    shares: defaultdict[str, _Share] = attrs.field(factory=lambda: defaultdict(_Share))
    lengths: Counter[int] = attrs.field(factory=Counter)
    line_count: int = 0
    imports: list[_FileImports] = attrs.field(factory=list)


@attrs.define
class _Observations:
    """One file's observations while its tree is visited (every one counts once)."""

    language_id: str
    family: str
    votes: defaultdict[str, Counter[Value]] = attrs.field(factory=lambda: defaultdict(Counter))
    shares: defaultdict[str, list[int]] = attrs.field(factory=lambda: defaultdict(lambda: [0, 0]))
    imports: list[ImportEntry] = attrs.field(factory=list)
    modules: set[str] = attrs.field(factory=set)


class StyleExtractor:
    """Collects style evidence file by file; ``result()`` turns it into attributes
    (and may be called again after more files are added).

    ``root`` (optional) lets it tell the project's own modules from third-party ones:
    every folder and module name of the files added under it counts as local.
    """

    def __init__(self, registry: LanguageRegistry, root: str | PurePath | None = None) -> None:
        self.registry = registry
        self.root = PurePath(root) if root is not None else None
        self._tallies: dict[str, _Tally] = {}
        self._queries: dict[str, tree_sitter.Query | None] = {}
        self._local: set[str] = {self.root.name} if self.root is not None else set()

    def add(self, language_id: str, text: str, *, weight: float = 1.0, path: str = "") -> bool:
        """Observe one file's text (``path`` helps to find tests and local modules) and
        count it with ``weight``. Generated files (``DO NOT EDIT`` ... in their first
        lines) are not the user's style: they are skipped and ``False`` is returned."""
        if weight <= 0:
            return False
        evidence = self.observe(language_id, text, path)
        if evidence is None:
            return False
        self.add_evidence(evidence, weight)
        return True

    def observe(self, language_id: str, text: str, path: str = "") -> FileEvidence | None:
        """One file's evidence, not yet counted; ``None`` for empty and generated files."""
        if not text or _GENERATED.search(text[:_GENERATED_HEAD_CHARS]):
            return None
        family = _family(language_id)
        lines = text.splitlines()
        parser = self.registry.parser(language_id)
        tree = None
        if parser is not None:
            tree = parse_with_deadline(parser, text.encode("utf-8"), PARSE_TIMEOUT_MICROS)
        observations = _Observations(language_id, family)
        prose: set[int] = set()
        if tree is not None:
            captures = self._captures(language_id, tree)
            _FileVisitor(observations, lines, path, captures).visit(tree.root_node)
            prose = _prose_rows(captures)
        lengths = Counter(
            len(line.expandtabs(TAB_COLUMNS))
            for row, line in enumerate(lines)
            if line.strip() and row not in prose
        )
        return FileEvidence(
            language_id=language_id,
            path=path,
            votes={name: dict(counts) for name, counts in observations.votes.items()},
            shares={name: (hits, total) for name, (hits, total) in observations.shares.items()},
            lengths=dict(lengths),
            imports=tuple(sorted(observations.imports)),
            modules=frozenset(observations.modules),
        )

    def add_evidence(self, evidence: FileEvidence, weight: float = 1.0) -> None:
        """Count one file's evidence with ``weight``."""
        language_id = evidence.language_id
        tally = self._tallies.get(language_id)
        if tally is None:
            tally = self._tallies[language_id] = _Tally(language_id, _family(language_id))
        self._note_local(evidence.path)
        for name, counts in evidence.votes.items():
            tally.votes[name].add_file(counts, weight)
        for name, (hits, observations) in evidence.shares.items():
            tally.shares[name].add(hits, observations, weight)
        tally.lengths.update(evidence.lengths)
        tally.line_count += sum(evidence.lengths.values())
        tally.imports.append(_FileImports(weight, evidence.imports, evidence.modules))

    def _note_local(self, path: str) -> None:
        if not path:
            return
        relative = PurePath(path)
        if self.root is not None:
            try:
                relative = relative.relative_to(self.root)
            except ValueError:
                pass
        self._local.update(part for part in relative.parent.parts if part.isidentifier())
        self._local.add(relative.stem)

    def _captures(
        self, language_id: str, tree: tree_sitter.Tree
    ) -> dict[str, list[tree_sitter.Node]]:
        if language_id not in self._queries:
            self._queries[language_id] = self._build_query(language_id)
        query = self._queries[language_id]
        if query is None:
            return {}
        return bounded_captures(query, tree.root_node)

    def _build_query(self, language_id: str) -> tree_sitter.Query | None:
        language = self.registry.language(language_id)
        spec = self.registry.by_id(language_id)
        if language is None or spec is None:
            return None
        kinds = dict(_FAMILIES.get(language_id, ("other", _C_LIKE_KINDS))[1])
        kinds["block"] = tuple(sorted(spec.block_nodes - _ROOT_KINDS))
        kinds["comment"] = tuple(sorted(spec.comment_nodes))
        kinds["literal"] = tuple(sorted(spec.string_nodes))
        patterns = [
            f"({kind}) @{capture}"
            for capture, names in kinds.items()
            for kind in names
            if language.id_for_node_kind(kind, True) is not None
        ]
        return tree_sitter.Query(language, "\n".join(patterns)) if patterns else None

    def result(self) -> dict[str, dict[str, StyleAttribute]]:
        """The inferred attributes per language id."""
        out: dict[str, dict[str, StyleAttribute]] = {}
        for language_id, tally in self._tallies.items():
            votes = {**tally.votes, **self._import_votes(tally)}
            found: list[StyleAttribute | None] = [
                *(vote.attribute(name) for name, vote in sorted(votes.items())),
                *(share.attribute(name) for name, share in sorted(tally.shares.items())),
                *_line_length(tally.lengths, tally.line_count),
                self._libraries(tally),
            ]
            style = tally.votes.get("indent.style")
            winner = style.attribute("indent.style") if style is not None else None
            if winner is not None and winner.value == "tabs":
                found = [a for a in found if a is None or a.name != "indent.size"]
            out[language_id] = {a.name: a for a in found if a is not None}
        return out

    def _category(self, family: str, module: str, relative: bool) -> int:
        """0 ``__future__``, 1 stdlib, 2 third-party, 3 local."""
        if relative or module in self._local:
            return 3
        if family == "python":
            if module == "__future__":
                return 0
            return 1 if module in _STDLIB else 2
        return 2

    def _import_votes(self, tally: _Tally) -> dict[str, _Votes]:
        """``imports.relative`` and ``imports.grouping``, known once every file is in
        (which modules are local depends on all their paths)."""
        votes: defaultdict[str, _Votes] = defaultdict(_Votes)
        if tally.family != "python":
            return votes
        for file in tally.imports:
            categories = [self._category("python", m, rel) for _, _, m, rel in file.entries]
            local_forms: Counter[Value] = Counter(
                "relative" if relative else "absolute"
                for _, _, module, relative in file.entries
                if relative or module in self._local
            )
            votes["imports.relative"].add_file(local_forms, file.weight)
            if len(set(categories) - {0}) < 2:
                continue
            grouped = categories == sorted(categories) and all(
                later[0] > earlier[1] + 1
                for earlier, later, a, b in zip(
                    file.entries, file.entries[1:], categories, categories[1:], strict=False
                )
                if a != b
            )
            votes["imports.grouping"].add_file({"grouped" if grouped else "mixed": 1}, file.weight)
        return votes

    def _libraries(self, tally: _Tally) -> StyleAttribute | None:
        counts: Counter[str] = Counter()
        files = 0
        for file in tally.imports:
            third = {
                m for m in file.modules if self._category(tally.family, m, False) == 2
            } - _third_party_exclusions(tally.family)
            files += bool(third)
            counts.update({m: file.weight for m in third})
        if not counts:
            return None
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        top = tuple(name for name, _ in ranked[:TOP_LIBRARIES])
        return StyleAttribute("libraries.preferred", top, files, round(min(1.0, files / 5), 3))


def _prose_rows(captures: Mapping[str, list[tree_sitter.Node]]) -> set[int]:
    """Rows of comments and multi-line strings (docstrings): formatters do not wrap
    them, so they say nothing about the line limit."""
    rows: set[int] = set()
    for node in captures.get("comment", []):
        rows.update(range(node.start_point.row, node.end_point.row + 1))
    for node in captures.get("literal", []):
        if node.end_point.row > node.start_point.row:
            rows.update(range(node.start_point.row, node.end_point.row + 1))
    return rows


def _family(language_id: str) -> str:
    return _FAMILIES.get(language_id, ("other", _C_LIKE_KINDS))[0]


def _third_party_exclusions(family: str) -> frozenset[str]:
    if family == "js":
        return _NODE_BUILTINS
    if family == "rust":
        return _RUST_ROOTS
    return frozenset()


def _line_length(lengths: Counter[int], total: int) -> list[StyleAttribute | None]:
    """The 95th percentile, and a common limit where the distribution shows a wall."""
    if not total:
        return []
    running = 0
    p95 = 0
    for length in sorted(lengths):
        running += lengths[length]
        if running >= 0.95 * total:
            p95 = length
            break
    found: list[StyleAttribute | None] = [
        StyleAttribute("line_length.p95", p95, total, round(min(1.0, total / 200), 3))
    ]
    walls: list[tuple[int, float, int]] = []
    for limit in COMMON_LIMITS:
        over = sum(n for length, n in lengths.items() if length > limit) / total
        just_over = sum(lengths[length] for length in range(limit + 1, limit + 3))
        just_under = sum(lengths[length] for length in range(limit - 1, limit + 1))
        band = sum(lengths[length] for length in range(limit - _WALL_BAND + 1, limit + 1))
        above = sum(lengths[length] for length in range(limit + 1, limit + _WALL_BAND + 1))
        if over > _WALL_TOLERANCE or band / total < _WALL_MIN_BAND_SHARE:
            continue
        if above > 0.25 * band or (just_under and just_over > 0.4 * just_under):
            continue  # lines pile up right above it: the real limit is higher
        walls.append((limit, over, band))
    if walls:
        chosen = walls[0]
        for wall in walls[1:]:
            # Short-lined code under a higher limit also shows a small wall lower down:
            # a higher one with far fewer lines over it wins.
            if chosen[1] > _WALL_TOLERANCE / 5 and wall[1] < chosen[1] / 5:
                chosen = wall
        limit, over, band = chosen
        confidence = round(1.0 - 0.5 * over / _WALL_TOLERANCE, 3)
        found.append(StyleAttribute("line_length.limit", limit, band, confidence))
    return found


class _FileVisitor:
    """Turns one file's captured nodes into its observations."""

    def __init__(
        self,
        found: _Observations,
        lines: list[str],
        path: str,
        captures: dict[str, list[tree_sitter.Node]],
    ) -> None:
        self.found = found
        self.lines = lines
        self.path = path
        self.captures = captures

    def vote(self, name: str, value: Value) -> None:
        self.found.votes[name][value] += 1

    def share(self, name: str, hit: bool) -> None:
        counts = self.found.shares[name]
        counts[0] += hit
        counts[1] += 1

    def visit(self, root: tree_sitter.Node) -> None:
        self._indentation(self.captures.get("block", []))
        for node in self.captures.get("collection", []):
            self._trailing_comma(node)
        family = self.found.family
        if family == "python":
            self._python(root)
        elif family == "js":
            self._javascript()
        elif family == "go":
            self._go(root)
        elif family == "rust":
            self._rust(root)

    # Shared by every language.

    def _indentation(self, blocks: list[tree_sitter.Node]) -> None:
        seen: set[int] = set()
        for block in blocks:
            child = next((c for c in block.named_children), None)
            if child is None:
                continue
            row = child.start_point.row
            if row > block.start_point.row:
                opening = block.start_point.row
            elif block.parent is not None:
                opening = block.parent.start_point.row
            else:
                continue
            if row <= opening or row in seen or row >= len(self.lines):
                continue
            seen.add(row)
            outer, inner = _leading(self.lines[opening]), _leading(self.lines[row])
            if not inner.startswith(outer) or len(inner) == len(outer):
                continue
            extra = inner[len(outer) :]
            if set(extra) == {"\t"}:
                self.vote("indent.style", "tabs")
            elif set(extra) == {" "}:
                self.vote("indent.style", "spaces")
                self.vote("indent.size", len(extra))

    def _trailing_comma(self, node: tree_sitter.Node) -> None:
        children = node.children
        if len(children) < 2 or children[0].type not in _OPENERS:
            return
        if children[-1].type not in _CLOSERS:
            return
        elements = [c for c in node.named_children if "comment" not in c.type]
        if not elements or elements[-1].type in _NO_TRAILING_COMMA_AFTER:
            return
        close = children[-1]
        if close.start_point.row <= elements[-1].end_point.row:
            return
        if len({e.start_point.row for e in elements}) != len(elements) or len(elements) < 2:
            return  # one element, or several hugged on a line: no comma is expected
        if elements[0].start_point.row <= children[0].start_point.row:
            return
        before = [c for c in children[:-1] if "comment" not in c.type][-1]
        self.vote("trailing_commas", "yes" if before.type == "," else "no")

    def _name(self, name: str, kind: str) -> None:
        style = classify_name(name)
        if style is not None:
            self.vote(f"naming.{kind}", style)

    # Python.

    def _python(self, root: tree_sitter.Node) -> None:
        definitions = self.captures.get("function", []) + self.captures.get("class", [])
        docstrings = {n.start_byte for n in _python_docstrings(root, definitions)}
        for node in self.captures.get("string", []):
            self._python_string(node, node.start_byte in docstrings)
        for node in self.captures.get("function", []):
            self._python_function(node)
        for node in self.captures.get("class", []):
            name = _text(node.child_by_field_name("name"))
            self._name(name, "class")
            bases = _text(node.child_by_field_name("superclasses"))
            if "TestCase" in bases:
                self.vote("tests.framework", "unittest")
        for node in self.captures.get("assignment", []):
            self._python_assignment(node)
        for _ in self.captures.get("raise", []):
            self.vote("errors.idiom", "exceptions")
        for node in self.captures.get("return", []):
            value = _text(node).removeprefix("return").strip()
            if re.fullmatch(r"-\d+|None,\s*\S.*|\(None,\s*\S.*\)", value):
                self.vote("errors.idiom", "return codes")
        self._python_imports(root)

    def _python_string(self, node: tree_sitter.Node, docstring: bool) -> None:
        start = next((c for c in node.children if c.type == "string_start"), None)
        delimiter = _text(start).lstrip("rRbBuUfFtT")
        if not delimiter:
            return
        quote = "double" if delimiter[0] == '"' else "single"
        if docstring:
            self.vote("quotes.docstrings", quote)
            self._docstring_style(_text(node))
            return
        if len(delimiter) == 3:
            return
        body = _text(node)[len(_text(start)) : -1]
        if ("'" if quote == "double" else '"') in body:
            return
        self.vote("quotes.strings", quote)

    def _docstring_style(self, text: str) -> None:
        if _NUMPY_SECTION.search(text):
            self.vote("docstrings.style", "NumPy")
        elif _GOOGLE_SECTION.search(text):
            self.vote("docstrings.style", "Google")
        elif _REST_FIELD.search(text):
            self.vote("docstrings.style", "reST")

    def _python_function(self, node: tree_sitter.Node) -> None:
        name = _text(node.child_by_field_name("name"))
        is_method = _python_in_class(node)
        if name.startswith("__") and name.endswith("__"):
            pass
        elif name.startswith("_"):
            self.vote("naming.private", "__prefix" if name.startswith("__") else "_prefix")
        self._name(name, "function")
        if name.startswith("test") and PurePath(self.path).name.startswith("test"):
            self.vote("tests.framework", "pytest")
        parameters = node.child_by_field_name("parameters")
        if parameters is not None:
            params = [
                p
                for p in parameters.named_children
                if p.type not in ("keyword_separator", "positional_separator", "comment")
            ]
            if is_method and params and _text(params[0]) in ("self", "cls"):
                params = params[1:]
            for param in params:
                self.share("annotations.parameters", param.type.startswith("typed_"))
        self.share("annotations.returns", node.child_by_field_name("return_type") is not None)

    def _python_assignment(self, node: tree_sitter.Node) -> None:
        left = node.child_by_field_name("left")
        if left is None or left.type != "identifier":
            return
        name = _text(left)
        scope = _python_scope(node)
        if scope == "function":
            self._name(name, "variable")
        elif scope == "module" and not name.startswith("__"):
            right = node.child_by_field_name("right")
            if right is not None and right.type in _PY_LITERALS:
                self._name(name, "constant")

    def _python_imports(self, root: tree_sitter.Node) -> None:
        entries: list[tuple[int, int, str, bool]] = []
        modules: set[str] = set()
        for node in self.captures.get("import", []):
            if node.type == "import_statement":
                self.vote("imports.form", "import")
                names = [
                    _text(c.child_by_field_name("name") if c.type == "aliased_import" else c)
                    for c in node.children_by_field_name("name")
                ]
                relative = False
            else:
                self.vote("imports.form", "from-import")
                module = node.child_by_field_name("module_name")
                relative = module is not None and module.type == "relative_import"
                names = [_text(module).lstrip(".")]
            tops = [n.split(".")[0] for n in names if n]
            if not relative:
                modules.update(tops)
            if node.parent is not None and node.parent.type == "module":
                entries.extend(
                    (node.start_point.row, node.end_point.row, top, relative)
                    for top in tops or [""]
                )
                if "pytest" in tops:
                    self.vote("tests.framework", "pytest")
                elif "unittest" in tops and PurePath(self.path).name.startswith("test"):
                    self.vote("tests.framework", "unittest")
        self.found.imports.extend(entries)
        self.found.modules.update(modules)

    # JavaScript and TypeScript.

    def _javascript(self) -> None:
        for node in self.captures.get("string", []):
            text = _text(node)
            if len(text) < 2 or (node.parent is not None and node.parent.type == "jsx_attribute"):
                continue
            quote = "double" if text[0] == '"' else "single"
            if ("'" if quote == "double" else '"') not in text[1:-1]:
                self.vote("quotes.strings", quote)
        for node in self.captures.get("function", []):
            self._js_function(node, _text(node.child_by_field_name("name")))
        for node in self.captures.get("class", []):
            self._name(_text(node.child_by_field_name("name")), "class")
            self._js_doc(node)
        for node in self.captures.get("assignment", []):
            self._js_declarator(node)
        for node in self.captures.get("field", []):
            self._js_private(node, _text(node.child_by_field_name("name")))
        for _ in self.captures.get("raise", []):
            self.vote("errors.idiom", "exceptions")
        modules: set[str] = set()
        frameworks: set[str] = set()
        for node in self.captures.get("import", []):
            source = _text(node.child_by_field_name("source")).strip("'\"`")
            if source in _JS_TEST_IMPORTS:
                frameworks.add(_JS_TEST_IMPORTS[source])
            elif source and not source.startswith((".", "/", "node:")):
                parts = source.split("/")
                modules.add("/".join(parts[:2]) if source.startswith("@") else parts[0])
        if not frameworks and re.search(r"\.(test|spec)\.[cm]?[jt]sx?$", self.path):
            frameworks.add("jest")
        for framework in frameworks:
            self.vote("tests.framework", framework)
        self.found.modules.update(modules)

    def _js_function(self, node: tree_sitter.Node, name: str) -> None:
        if node.type == "method_definition":
            self._js_private(node, name)
        if name and name != "constructor":
            self._name(name, "function")
        self._js_doc(node)
        if self.found.language_id.startswith("typescript"):
            parameters = node.child_by_field_name("parameters")
            for param in parameters.named_children if parameters else []:
                if param.type in ("required_parameter", "optional_parameter"):
                    typed = param.child_by_field_name("type") is not None
                    self.share("annotations.parameters", typed)
            if name != "constructor":
                typed = node.child_by_field_name("return_type") is not None
                self.share("annotations.returns", typed)

    def _js_private(self, node: tree_sitter.Node, name: str) -> None:
        if name.startswith("#"):
            self.vote("naming.private", "#private")
        elif any(
            c.type == "accessibility_modifier" and _text(c) == "private" for c in node.children
        ):
            self.vote("naming.private", "_prefix" if name.startswith("_") else "no prefix")

    def _js_doc(self, node: tree_sitter.Node) -> None:
        anchor = node.parent if node.parent and node.parent.type == "export_statement" else node
        previous = anchor.prev_sibling
        if previous is None or previous.type != "comment":
            return
        if previous.end_point.row + 1 != anchor.start_point.row:
            return
        text = _text(previous)
        if text.startswith("/**"):
            self.vote("docstrings.style", "JSDoc")
        elif text.startswith("//"):
            self.vote("docstrings.style", "line comments")

    def _js_declarator(self, node: tree_sitter.Node) -> None:
        name_node = node.child_by_field_name("name")
        if name_node is None or name_node.type != "identifier":
            return
        name = _text(name_node)
        value = node.child_by_field_name("value")
        if value is not None and value.type in ("arrow_function", "function_expression"):
            self._js_function(value, name)
            return
        declaration = node.parent
        top_level = declaration is not None and (
            declaration.parent is None
            or declaration.parent.type == "program"
            or (declaration.parent.type == "export_statement")
        )
        is_const = declaration is not None and _text(declaration).startswith(("const", "export"))
        if top_level and is_const and value is not None and value.type in _JS_LITERALS:
            self._name(name, "constant")
        elif not top_level:
            self._name(name, "variable")

    # Go and Rust.

    def _go(self, root: tree_sitter.Node) -> None:
        for node in self.captures.get("function", []):
            self._go_name(_text(node.child_by_field_name("name")), "function")
        for node in self.captures.get("class", []):
            self._go_name(_text(node.child_by_field_name("name")), "class")
        for node in self.captures.get("assignment", []):
            if node.type == "const_spec":
                for name in node.children_by_field_name("name"):
                    self._go_name(_text(name), "constant")
            else:
                left = node.child_by_field_name("left")
                for name in left.named_children if left else []:
                    self._go_name(_text(name), "variable")
        modules: set[str] = set()
        for node in self.captures.get("import", []):
            path = _text(node.child_by_field_name("path")).strip('"`')
            if path == "testing":
                self.vote("tests.framework", "go test")
            if "." in path.split("/")[0]:
                modules.add("/".join(path.split("/")[:3]))
        text = _text(root)
        for _ in range(min(text.count("err != nil"), 50)):
            self.vote("errors.idiom", "error values")
        for _ in range(min(text.count("panic("), 50)):
            self.vote("errors.idiom", "panics")
        self.found.modules.update(modules)

    def _go_name(self, name: str, kind: str) -> None:
        style = classify_name(name)
        if style in ("camelCase", "PascalCase"):
            style = "MixedCaps"
        if style is not None:
            self.vote(f"naming.{kind}", style)

    def _rust(self, root: tree_sitter.Node) -> None:
        for node in self.captures.get("function", []):
            self._name(_text(node.child_by_field_name("name")), "function")
        for node in self.captures.get("class", []):
            self._name(_text(node.child_by_field_name("name")), "class")
        for node in self.captures.get("assignment", []):
            if node.type == "let_declaration":
                pattern = node.child_by_field_name("pattern")
                if pattern is not None and pattern.type == "identifier":
                    self._name(_text(pattern), "variable")
            else:
                self._name(_text(node.child_by_field_name("name")), "constant")
        for _ in self.captures.get("raise", []):
            self.vote("errors.idiom", "Result and ?")
        text = _text(root)
        for _ in range(min(text.count(".unwrap()") + text.count("panic!("), 50)):
            self.vote("errors.idiom", "panics")
        if "#[test]" in text:
            self.vote("tests.framework", "cargo test")
        modules: set[str] = set()
        for node in self.captures.get("import", []):
            argument = _text(node.child_by_field_name("argument"))
            modules.add(re.split(r"::|\{", argument)[0].strip())
        self.found.modules.update(modules - {""})


def _python_docstrings(
    root: tree_sitter.Node, definitions: list[tree_sitter.Node]
) -> Iterable[tree_sitter.Node]:
    """The string nodes that are docstrings: the first statement of a module, class or
    function body when it is a lone string."""
    bodies = [root, *(d.child_by_field_name("body") for d in definitions)]
    for body in bodies:
        first = (
            next((c for c in body.named_children if c.type != "comment"), None) if body else None
        )
        if first is not None and first.type == "expression_statement":
            string = first.named_children[0] if first.named_child_count == 1 else None
            if string is not None and string.type == "string":
                yield string


def _python_in_class(node: tree_sitter.Node) -> bool:
    parent = node.parent
    if parent is not None and parent.type == "decorated_definition":
        parent = parent.parent
    return (
        parent is not None
        and parent.type == "block"
        and (parent.parent is not None and parent.parent.type == "class_definition")
    )


def _python_scope(node: tree_sitter.Node) -> str:
    """``function``, ``class`` or ``module``: the innermost scope of a node."""
    parent = node.parent
    while parent is not None:
        if parent.type in ("function_definition", "lambda"):
            return "function"
        if parent.type == "class_definition":
            return "class"
        parent = parent.parent
    return "module"


def extract_style(
    files: Iterable[tuple[str, str, str]],
    registry: LanguageRegistry,
    *,
    weights: Mapping[str, float] | None = None,
    root: str | PurePath | None = None,
) -> dict[str, dict[str, StyleAttribute]]:
    """Infer attributes per language from ``(path, language_id, text)`` triples;
    ``weights`` maps a path to its weight (default 1.0)."""
    extractor = StyleExtractor(registry, root)
    for path, language_id, text in files:
        weight = (weights or {}).get(path, 1.0)
        extractor.add(language_id, text, weight=weight, path=path)
    return extractor.result()
