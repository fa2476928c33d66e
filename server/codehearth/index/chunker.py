"""Split a source file into chunks: one per definition, plus the module-level code.

:func:`chunk_file` parses a file with tree-sitter and runs the language's query files
(``grammars/<lang>/chunks.scm``, ``tags.scm`` and ``imports.scm``, whose captures are
described in ``grammars/README.md``) in one cursor pass. No language is named here: kinds
come from the capture names, placeholders and comment and attribute node types from the
registry, so a language is added with a query folder, a registry entry and a wheel.

What the chunks of a file are, in order:

* The code outside every definition (imports, constants, top-level statements) is the
  ``module`` chunk, symbol ``""``, with its runs of blank lines squeezed to one; there is
  none when that code is blank. It comes first.
* Each definition captured by ``chunks.scm`` is a chunk of its whole lines, widened to the
  decorators, ``export`` or ``template`` around it and to the comments and attributes
  right above it, in source order. A definition that shares a line with other code
  (minified code, a one-line class) is no chunk of its own: it stays in the code around
  it, as does anything nested in a function.
* A definition with a ``@body`` directly in the body of a class or interface chunk is a
  member chunk, right after its class: symbol ``Class.method``, parent ``Class``, kind
  ``method`` for functions. A method written outside its type gets the same symbol and
  parent from ``@scope`` (``func (c *Cache) Get`` is ``Cache.Get``) but stays a
  top-level chunk.
* Skeletons: a function's is its first lines up to the body (with the comments and
  decorators above it) and its docstring, the body replaced by the language's
  ``body_placeholder``; a definition without a ``@body`` (a type alias, a struct) is its
  own skeleton. A class's text is its own code with each member replaced by the member's
  stub (its skeleton, or for a nested class its header with the placeholder), so no code
  is in two chunks in full; that text, fields included, is also its skeleton.
* A chunk longer than ``max_chunk_lines`` is cut, before statements where it can (never
  inside a member's stub), into ``part`` chunks keeping the symbol, parent and skeleton
  of the whole.
* ``defines`` are the chunk's own name and the ``tags.scm`` definitions on its lines;
  ``references`` the ``tags.scm`` references on its lines, in source order, minus its
  defines and at most :data:`MAX_REFERENCES`. They are identifier nodes, so keywords only
  show up where error recovery made one an identifier, and those are left out. A
  member's lines belong to the member, not to its class.

Text keeps the source's indentation and has ``\\n`` line endings. When the language is
unknown or has no grammar or queries, or parsing and querying overrun the deadline, the
file is cut into windows of ``max_chunk_lines`` lines, with no names or imports. What is
nested deeper than :data:`~codehearth.languages.MAX_QUERY_START_DEPTH` levels is not
matched by the queries (:func:`~codehearth.languages.bounded_captures`): no chunk or name
of its own, never a hang. Given the previous version's tree (:class:`ParsedFile`), an
edit is parsed incrementally unless a syntax error is involved, where error recovery could
build another tree than a whole parse: the chunks are those of a whole parse either way.
"""

from __future__ import annotations

import functools
import hashlib
import re
import time
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, MutableMapping, Sequence
from itertools import accumulate, chain, compress, count, pairwise
from operator import itemgetter, ne

import attrs
import tree_sitter

from codehearth.index.model import Chunk, FileChunks, Import
from codehearth.languages import (
    LanguageRegistry,
    LanguageSpec,
    bounded_captures,
    parse_with_deadline,
)

QUERY_FILES = ("chunks", "tags", "imports")
# The kinds a chunks.scm @definition.<kind> may name. When one node is captured with
# several kinds, the first in this order wins (a struct is a class before it is a type).
KINDS = ("method", "class", "interface", "function", "type")
CONTAINER_KINDS = frozenset({"class", "interface"})
MAX_REFERENCES = 200

_DEFINITION = "definition."
_DEFINES = "name.definition."
_REFERENCES = "name.reference."
_MODULE = "import.module"
_IMPORTED = "import.name"
_PARTS = ("name", "body", "members", "doc", "scope")
_WORD = re.compile(r"[A-Za-z_]\w*")


@attrs.frozen
class ParsedFile:
    """A file version's bytes and syntax tree, kept so that :func:`chunk_file` parses the
    file's next version incrementally. Used once: that parse edits the tree."""

    language_id: str
    data: bytes
    tree: tree_sitter.Tree


def chunk_file(
    registry: LanguageRegistry,
    language_id: str,
    path: str,
    source: str,
    *,
    max_chunk_lines: int = 120,
    deadline_micros: int = 2_000_000,
    parsed: MutableMapping[str, ParsedFile] | None = None,
) -> FileChunks:
    """Chunk one file version (see the module docstring); never raises on odd text.

    Given ``parsed``, the tree of the path's previous version found there is edited and
    parsed again only where the text changed, and this version's tree is put there."""
    data = source.encode("utf-8", "surrogatepass")
    content_hash = hashlib.sha256(data).hexdigest()
    max_lines = max(1, max_chunk_lines)
    lines = _Lines(source, data)
    spec = registry.by_id(language_id)
    parser = registry.parser(language_id)
    query = registry.query(language_id, *QUERY_FILES)
    tree = captures = None
    if spec is not None and parser is not None and query is not None:
        started = time.monotonic_ns()
        # The chunker reads names from the bytes, never from a node: without text
        # predicates in the query, the tree need not keep its source.
        keep_source = query.string_count > 0
        previous = parsed.pop(path, None) if parsed is not None else None
        reusable = (
            previous is not None
            and previous.language_id == language_id
            and not previous.tree.root_node.has_error
        )
        if previous is not None and reusable:
            tree = _parse_edited(parser, previous, data, deadline_micros, keep_source)
        if not reusable or (tree is not None and tree.root_node.has_error):
            # Error recovery may build another tree than a whole parse does: parse anew.
            spent = (time.monotonic_ns() - started) // 1000
            remaining = max(1, deadline_micros - spent)
            tree = parse_with_deadline(parser, data, remaining, keep_source=keep_source)
        if tree is not None and parsed is not None:
            # A copy: the next version's update (maybe on another thread, while this one
            # still walks ``tree``) edits the stored tree in place.
            parsed[path] = ParsedFile(language_id, data, tree.copy())
        if tree is not None:
            # A query cursor cannot be interrupted, so the deadline is checked once it
            # is done; its depth bound keeps it linear in the size of the file.
            captures = bounded_captures(query, tree.root_node)
            if time.monotonic_ns() - started > deadline_micros * 1000:
                captures = None
    if spec is None or tree is None or captures is None:
        chunks = _text_chunks(path, language_id, lines, max_lines)
        return FileChunks(path, language_id, content_hash, chunks)
    chunker = _Chunker(spec, path, lines, max_lines, tree, captures)
    return FileChunks(path, language_id, content_hash, chunker.chunks(), chunker.imports())


def _parse_edited(
    parser: tree_sitter.Parser,
    previous: ParsedFile,
    data: bytes,
    deadline_micros: int,
    keep_source: bool,
) -> tree_sitter.Tree | None:
    """Parse ``data`` reusing the tree of ``previous``, edited by the one span of bytes
    where the two versions differ, within the deadline (None past it)."""
    old = previous.data
    start = _common_prefix(old, data)
    end = _common_suffix(old, data, min(len(old), len(data)) - start)
    tree = previous.tree
    tree.edit(
        start,
        len(old) - end,
        len(data) - end,
        _point(data, start),
        _point(old, len(old) - end),
        _point(data, len(data) - end),
    )
    return parse_with_deadline(parser, data, deadline_micros, tree, keep_source=keep_source)


def _common_prefix(a: bytes, b: bytes) -> int:
    """How many leading bytes ``a`` and ``b`` share (a binary search of C compares)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: bytes, b: bytes, at_most: int) -> int:
    """How many trailing bytes ``a`` and ``b`` share, up to ``at_most``."""
    low, high = 0, at_most
    while low < high:
        middle = (low + high + 1) // 2
        if a[len(a) - middle :] == b[len(b) - middle :]:
            low = middle
        else:
            high = middle - 1
    return low


def _point(data: bytes, offset: int) -> tuple[int, int]:
    """The (row, byte column) of a byte offset."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    return (data.count(b"\n", 0, offset), offset - line_start)


class _Lines:
    """The source by line, as text without line ends and as UTF-8 bytes (tree-sitter's
    columns are byte offsets), with the byte offset each line starts at."""

    def __init__(self, source: str, data: bytes) -> None:
        self.text = source.split("\n")
        if "\r" in source:
            self.text = [line.removesuffix("\r") for line in self.text]
        self.data = data
        self.raw = data.split(b"\n")
        self.starts = [0, *accumulate(map((1).__add__, map(len, self.raw)))]

    def before(self, point: tree_sitter.Point) -> str:
        """The text of a line up to a point."""
        return self.raw[point.row][: point.column].decode("utf-8", "replace")

    def after(self, point: tree_sitter.Point) -> str:
        """The text of a line from a point on."""
        return self.raw[point.row][point.column :].decode("utf-8", "replace")

    def of(self, node: tree_sitter.Node | None) -> str:
        """A node's text (``""`` for none), from the bytes: the tree may not keep them."""
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace") if node else ""

    def indent(self, row: int) -> str:
        """The leading blanks of a line."""
        line = self.text[row]
        return line[: len(line) - len(line.lstrip())]


# A stretch of a chunk's text: (first row, last row, its lines, whether it may be cut
# between lines). Source lines may; the stub standing for a member chunk may not.
_Segment = tuple[int, int, list[str], bool]


@attrs.define
class _Definition:
    """One ``@definition.<kind>`` capture while the chunks are worked out."""

    node: tree_sitter.Node
    kind: str
    name: tree_sitter.Node | None = None
    body: tree_sitter.Node | None = None
    members: tree_sitter.Node | None = None
    doc: tree_sitter.Node | None = None
    scope: tree_sitter.Node | None = None
    accepted: bool = False
    start_row: int = 0
    end_row: int = 0
    symbol: str = ""
    parent: str = ""
    children: list[_Definition] = attrs.field(factory=list)
    segments: list[_Segment] = attrs.field(factory=list)
    text: str = ""
    stub: str = ""
    skeleton: str = ""


@attrs.define
class _Draft:
    """A chunk before its names are known."""

    start_line: int
    end_line: int
    symbol: str
    kind: str
    text: str
    skeleton: str
    parent: str = ""
    # Each defined name with the byte offset it is first seen at, to list them in source
    # order; the referenced names in source order.
    defines: dict[str, int] = attrs.field(factory=dict)
    references: dict[str, None] = attrs.field(factory=dict)


class _Chunker:
    """The chunks and imports of one parsed file, from its query captures."""

    def __init__(
        self,
        spec: LanguageSpec,
        path: str,
        lines: _Lines,
        max_lines: int,
        tree: tree_sitter.Tree,
        captures: dict[str, list[tree_sitter.Node]],
    ) -> None:
        self.spec = spec
        self.path = path
        self.lines = lines
        self.max_lines = max_lines
        self.language = tree.language
        self.root = tree.root_node
        self.captures = captures
        self.keywords = _keywords(tree.language)
        markers = [spec.line_comment, spec.block_comment[0] if spec.block_comment else ""]
        self.comment_markers = tuple(marker for marker in markers if marker)
        self.drafts: list[_Draft] = []
        self.owner = [-1] * len(lines.text)

    # -- chunks -------------------------------------------------------------------------

    def chunks(self) -> tuple[Chunk, ...]:
        top = self._accepted_definitions()
        self._emit_header(top)
        for definition in top:
            self._emit(definition)
        self._assign_names()
        return tuple(
            Chunk(
                path=self.path,
                language_id=self.spec.language_id,
                start_line=draft.start_line,
                end_line=draft.end_line,
                symbol=draft.symbol,
                kind=draft.kind,
                text=draft.text,
                skeleton=draft.skeleton,
                defines=_in_order(draft.defines),
                references=_references(draft),
                parent=draft.parent,
            )
            for draft in self.drafts
        )

    def _definitions(self) -> list[_Definition]:
        """The captured definitions by position, outer before inner, each with the
        name, body, members, doc and scope captures strictly inside it and in no inner
        definition (strictly: a Python class body holding one method spans that method)."""
        by_node: dict[tuple[int, int], _Definition] = {}
        for capture, nodes in self.captures.items():
            kind = capture.removeprefix(_DEFINITION)
            if capture == kind or kind not in KINDS:
                continue
            for node in nodes:
                key = (node.start_byte, node.end_byte)
                known = by_node.get(key)
                if known is None or KINDS.index(kind) < KINDS.index(known.kind):
                    by_node[key] = _Definition(node, kind)
        spans = sorted(by_node, key=lambda span: (span[0], -span[1]))
        definitions = [by_node[span] for span in spans]
        starts = [start for start, _ in spans]
        ends = [end for _, end in spans]
        for part in _PARTS:
            for node in self.captures.get(part, ()):
                start, end = node.start_byte, node.end_byte
                index = bisect_right(starts, start) - 1
                while index >= 0 and (
                    ends[index] < end or (starts[index] == start and ends[index] == end)
                ):
                    index -= 1
                if index >= 0 and getattr(definitions[index], part) is None:
                    setattr(definitions[index], part, node)
        return [definition for definition in definitions if definition.name is not None]

    def _accepted_definitions(self) -> list[_Definition]:
        """The top-level definition chunks, each with its member chunks, in order."""
        definitions = self._definitions()
        stops = {
            node.id for d in definitions for node in (d.node, d.body, d.members) if node is not None
        }
        top: list[_Definition] = []
        stack: list[_Definition] = []
        ends: list[int] = []  # where each definition on the stack ends
        for definition in definitions:
            start = definition.node.start_byte
            while stack and ends[-1] <= start:
                stack.pop()
                ends.pop()
            enclosing = stack[-1] if stack else None
            stack.append(definition)
            ends.append(definition.node.end_byte)
            container = None
            if enclosing is not None:
                # Only a definition with a body right in a container's body is a member.
                holder = enclosing.members or enclosing.body
                if not (
                    enclosing.accepted
                    and enclosing.kind in CONTAINER_KINDS
                    and holder is not None
                    and definition.body is not None
                ):
                    continue
                outer = self._widen(definition.node, stops)
                if outer.parent is None or outer.parent.id != holder.id:
                    continue
                container = enclosing
            else:
                outer = self._widen(definition.node, stops)
            if not self._alone_on_its_lines(outer):
                continue
            definition.accepted = True
            definition.start_row = self._leading_row(outer)
            definition.end_row = _last_row(outer)
            name = self.lines.of(definition.name)
            if container is not None:
                definition.symbol = f"{container.symbol}.{name}"
                definition.parent = container.symbol
                if definition.kind == "function":
                    definition.kind = "method"
                container.children.append(definition)
            else:
                scope = self.lines.of(definition.scope)
                definition.symbol = f"{scope}.{name}" if scope else name
                definition.parent = scope
                top.append(definition)
        for definition in top:
            self._compose(definition)
        return top

    def _widen(self, node: tree_sitter.Node, stops: set[int]) -> tree_sitter.Node:
        """The node with the wrappers that end on its last line (decorators, ``export``,
        ``template``, a one-spec ``type`` declaration ...), up to a block or a body."""
        end_row = node.end_point.row
        parent = node.parent
        while (
            parent is not None
            and parent.type not in self.spec.block_nodes
            and parent.id not in stops
            and not parent.is_error
            and parent.end_point.row == end_row
        ):
            grandparent = parent.parent  # (the root is no wrapper)
            if grandparent is None:
                break
            node, parent = parent, grandparent
        return node

    def _alone_on_its_lines(self, node: tree_sitter.Node) -> bool:
        """Whether nothing but blanks precedes the node on its first line and nothing but
        ``;``, ``,`` and a comment follows it on its last."""
        if self.lines.before(node.start_point).strip():
            return False
        end = node.end_point
        if end.column == 0 and end.row > node.start_point.row:
            return True
        rest = self.lines.after(end).strip().lstrip(";,").strip()
        return not rest or rest.startswith(self.comment_markers)

    def _leading_row(self, node: tree_sitter.Node) -> int:
        """The first row of the node with the comments and attributes right above it."""
        first = node
        previous = node.prev_sibling
        attached = self.spec.comment_nodes | self.spec.attribute_nodes
        while (
            previous is not None
            and previous.type in attached
            and _last_row(previous) >= first.start_point.row - 1
            and not self.lines.before(previous.start_point).strip()
        ):
            first, previous = previous, previous.prev_sibling
        return first.start_point.row

    def _compose(self, definition: _Definition) -> None:
        """Set the definition's text (its lines, each member replaced by its stub), its
        stub and its skeleton, members first."""
        for member in definition.children:
            self._compose(member)
        segments = definition.segments
        row = definition.start_row
        for next_member in [*definition.children, None]:
            end = next_member.start_row if next_member else definition.end_row + 1
            if end > row:
                segments.append((row, end - 1, self.lines.text[row:end], True))
            if next_member:
                stub = next_member.stub.split("\n")
                segments.append((next_member.start_row, next_member.end_row, stub, False))
                row = next_member.end_row + 1
        text = _join(segments)
        elided = self._elided(definition) if definition.body else None
        definition.text = text
        definition.stub = elided or text
        definition.skeleton = text if definition.kind in CONTAINER_KINDS else definition.stub

    def _elided(self, definition: _Definition) -> str:
        """The definition's lines up to its body and its docstring, with the body replaced
        by the placeholder: on the same line when the body starts on a line with code, else
        on a line of its own, indented like the body."""
        assert definition.body is not None
        start = definition.body.start_point
        head = self.lines.before(start)
        signature = "\n".join([*self.lines.text[definition.start_row : start.row], head])
        placeholder = self.spec.body_placeholder
        if head.strip():
            return f"{signature.rstrip()} {placeholder}"
        doc = definition.doc
        docstring = self.lines.text[doc.start_point.row : _last_row(doc) + 1] if doc else []
        indent = self.lines.indent(start.row)
        return "\n".join([signature.rstrip(), *docstring, indent + placeholder])

    def _emit(self, definition: _Definition) -> None:
        """Add the definition's chunk, or its parts, then its members'."""
        segments = definition.segments
        parts = [segments]
        if sum(len(segment[2]) for segment in segments) > self.max_lines:
            statements = definition.body or definition.node
            parts = self._cut(segments, _statement_rows(statements, self.max_lines))
        name = self.lines.of(definition.name)
        for part in parts:
            draft = _Draft(
                start_line=part[0][0],
                end_line=part[-1][1],
                symbol=definition.symbol,
                kind=definition.kind if len(parts) == 1 else "part",
                text=definition.text if part is segments else _join(part),
                skeleton=definition.skeleton,
                parent=definition.parent,
            )
            draft.defines[name] = -1
            self._own(draft, range(draft.start_line, draft.end_line + 1))
        for member in definition.children:
            self._emit(member)

    def _emit_header(self, top: Sequence[_Definition]) -> None:
        """The module chunk: the lines outside the top-level definitions, with runs of
        blank lines squeezed to one and none at either end."""
        kept: list[_Segment] = []
        row = 0
        for definition in [*top, None]:
            end = definition.start_row if definition else len(self.owner)
            for r in range(row, end):
                line = self.lines.text[r]
                if line.strip() or (kept and kept[-1][2][0].strip()):
                    kept.append((r, r, [line], True))
            if definition:
                row = definition.end_row + 1
        while kept and not kept[-1][2][0].strip():
            kept.pop()
        if not kept:
            return
        parts = [kept]
        if len(kept) > self.max_lines:
            parts = self._cut(kept, _statement_rows(self.root, self.max_lines))
        for part in parts:
            text = _join(part)
            draft = _Draft(
                start_line=part[0][0],
                end_line=part[-1][1],
                symbol="",
                kind="module" if len(parts) == 1 else "part",
                text=text,
                skeleton=text,
            )
            self._own(draft, (unit[0] for unit in part))

    def _own(self, draft: _Draft, rows: Iterable[int]) -> None:
        """Add a chunk, owning these rows (a member's rows are taken over later)."""
        index = len(self.drafts)
        self.drafts.append(draft)
        if isinstance(rows, range):
            self.owner[rows.start : rows.stop] = [index] * len(rows)
        else:
            for row in rows:
                self.owner[row] = index

    def _cut(self, segments: list[_Segment], statement_rows: set[int]) -> list[list[_Segment]]:
        """Cut a text into parts of at most ``max_lines`` lines, each as long as it can be
        while ending before a statement (where none fits, at the line limit), without
        blank lines at either end."""
        units = [
            unit
            for segment in segments
            for unit in (
                [(row, row, [line], True) for row, line in enumerate(segment[2], segment[0])]
                if segment[3]
                else [segment]
            )
        ]
        total = [0]
        for unit in units:
            total.append(total[-1] + len(unit[2]))
        cuts = [i for i in range(1, len(units)) if units[i][0] in statement_rows]
        parts = []
        start = 0
        while start < len(units):
            cut = len(units)
            if total[-1] - total[start] > self.max_lines:
                # At least one unit: a member's stub may be longer than a part.
                end = max(bisect_right(total, total[start] + self.max_lines) - 1, start + 1)
                best = bisect_right(cuts, end) - 1
                cut = cuts[best] if best >= 0 and cuts[best] > start else end
            parts.append(units[start:cut])
            start = cut
        return [trimmed for trimmed in map(_trim, parts) if trimmed]

    # -- names ------------------------------------------------------------------------

    def _assign_names(self) -> None:
        """Give each chunk the tags.scm definitions and references on the lines it owns.
        A keyword is a reference only outside syntax errors, where tree-sitter's error
        recovery can make one an identifier (``print`` and ``get`` are names elsewhere)."""
        unowned = _Draft(0, 0, "", "", "", "")  # collects the names on no chunk's lines
        drafts = [*self.drafts, unowned]  # (an owner of -1 is the last one)
        owner = self.owner
        data = self.lines.data
        line_starts = self.lines.starts
        referenced: dict[int, bytes] = {}  # each referencing node's start byte -> its text
        for capture, nodes in self.captures.items():
            if capture.startswith(_DEFINES):
                for node in nodes:
                    start = node.start_byte
                    name = data[start : node.end_byte].decode("utf-8", "replace")
                    defined = drafts[owner[bisect_right(line_starts, start) - 1]].defines
                    if start < defined.get(name, start + 1):
                        defined[name] = start
            elif capture.startswith(_REFERENCES):
                # (Identifiers are leaves: two of them never start at the same byte, only
                # an empty node that error recovery made up can, and it names nothing.)
                starts = [node.start_byte for node in nodes]
                spans = map(slice, starts, [node.end_byte for node in nodes])
                found = zip(starts, map(data.__getitem__, spans), strict=True)
                referenced.update(filter(itemgetter(1), found))
        positions = sorted(referenced)
        texts = list(map(referenced.__getitem__, positions))
        if self.root.has_error and not self.keywords.isdisjoint(texts):
            positions, texts = self._without_keywords_in_errors(positions, texts)
        decoded = {text: text.decode("utf-8", "replace") for text in set(texts)}
        names = list(map(decoded.__getitem__, texts))
        # Each run of lines one chunk owns takes the references that start on them, in
        # order: the first occurrence of a name decides its place.
        changes = compress(count(1), map(ne, owner[1:], owner[:-1]))
        low = 0
        for first, stop in pairwise([0, *changes, len(owner)]):
            high = bisect_left(positions, line_starts[stop], low)
            if high > low:
                drafts[owner[first]].references.update(dict.fromkeys(names[low:high]))
            low = high

    def _without_keywords_in_errors(
        self, positions: list[int], texts: list[bytes]
    ) -> tuple[list[int], list[bytes]]:
        """The references but the keywords inside ERROR nodes."""
        errors = sorted(
            (node.start_byte, node.end_byte)
            for node in bounded_captures(_error_query(self.language), self.root).get("error", ())
        )
        error_starts = [start for start, _ in errors]
        # The furthest end among the errors starting at or before each one.
        reaches = list(accumulate((end for _, end in errors), max))
        keywords = self.keywords
        kept = [
            (position, text)
            for position, text in zip(positions, texts, strict=True)
            if text not in keywords
            or (index := bisect_right(error_starts, position) - 1) < 0
            or reaches[index] <= position
        ]
        return [position for position, _ in kept], [text for _, text in kept]

    # -- imports ----------------------------------------------------------------------

    def imports(self) -> tuple[Import, ...]:
        """One import per imports.scm module node, in order, with the names captured in
        the smallest node around it and them."""
        unique = {(node.start_byte, node.end_byte): node for node in self.captures.get(_MODULE, ())}
        modules = [unique[key] for key in sorted(unique)]
        starts = [node.start_byte for node in modules]
        names: list[dict[str, None]] = [{} for _ in modules]
        for node in sorted(self.captures.get(_IMPORTED, ()), key=lambda node: node.start_byte):
            index = _nearest_inside(node, starts, modules)
            if index is not None:
                names[index][self.lines.of(node)] = None
        return tuple(
            Import(self.lines.of(module), tuple(taken))
            for module, taken in zip(modules, names, strict=True)
        )


def _nearest_inside(
    node: tree_sitter.Node, starts: list[int], modules: list[tree_sitter.Node]
) -> int | None:
    """The index of the module in the smallest ancestor of ``node`` holding one (the
    nearest, when that ancestor holds several)."""
    ancestor = node.parent
    while ancestor is not None:
        low = bisect_right(starts, ancestor.start_byte - 1)
        high = bisect_right(starts, ancestor.end_byte - 1)
        inside = [i for i in range(low, high) if modules[i].end_byte <= ancestor.end_byte]
        if inside:
            return min(inside, key=lambda i: abs(modules[i].start_byte - node.start_byte))
        ancestor = ancestor.parent
    return None


@functools.cache
def _keywords(language: tree_sitter.Language) -> frozenset[bytes]:
    """The grammar's words that are tokens of their own (``def``, ``return`` ...)."""
    kinds = (
        language.node_kind_for_id(kind)
        for kind in range(language.node_kind_count)
        if not language.node_kind_is_named(kind) and language.node_kind_is_visible(kind)
    )
    return frozenset(kind.encode() for kind in kinds if kind and _WORD.fullmatch(kind))


@functools.cache
def _error_query(language: tree_sitter.Language) -> tree_sitter.Query:
    return tree_sitter.Query(language, "(ERROR) @error")


def _statement_rows(node: tree_sitter.Node, max_lines: int) -> set[int]:
    """The first rows of the node's children, and of their children when they are longer
    than ``max_lines``: where a part may start."""
    rows: set[int] = set()
    pending = [node]
    while pending:
        for child in pending.pop().named_children:
            rows.add(child.start_point.row)
            if child.end_point.row - child.start_point.row >= max_lines:
                pending.append(child)
    return rows


def _in_order(names: dict[str, int]) -> tuple[str, ...]:
    return tuple(sorted(names, key=names.__getitem__))


def _references(draft: _Draft) -> tuple[str, ...]:
    """The chunk's references in source order, without its defines, at most
    :data:`MAX_REFERENCES`."""
    defines = draft.defines
    names = [name for name in draft.references if name not in defines]
    return tuple(names[:MAX_REFERENCES])


def _trim(segments: list[_Segment]) -> list[_Segment]:
    """The segments without blank ones at either end."""
    filled = [i for i, segment in enumerate(segments) if any(map(str.strip, segment[2]))]
    return segments[filled[0] : filled[-1] + 1] if filled else []


def _join(segments: Iterable[_Segment]) -> str:
    return "\n".join(chain.from_iterable(segment[2] for segment in segments))


def _last_row(node: tree_sitter.Node) -> int:
    """The node's last row, not counting a line end it includes (Rust line comments)."""
    end = node.end_point
    return end.row - 1 if end.column == 0 and end.row > node.start_point.row else end.row


def _text_chunks(path: str, language_id: str, lines: _Lines, max_lines: int) -> tuple[Chunk, ...]:
    """The fallback: windows of ``max_lines`` lines, blank ones at either end left out."""
    rows = [row for row, line in enumerate(lines.text) if line.strip()]
    if not rows:
        return ()
    windows = range(rows[0], rows[-1] + 1, max_lines)
    chunks = []
    for start in windows:
        end = min(start + max_lines, rows[-1] + 1) - 1
        text = "\n".join(lines.text[start : end + 1])
        chunks.append(
            Chunk(
                path=path,
                language_id=language_id,
                start_line=start,
                end_line=end,
                symbol="",
                kind="module" if len(windows) == 1 else "part",
                text=text,
                skeleton=text,
            )
        )
    return tuple(chunks)
