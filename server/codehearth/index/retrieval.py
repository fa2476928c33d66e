"""Which chunks of the workspace to show the model for one cursor position.

Four rankings are built and fused:

* ``cursor``: what is being written at the cursor, resolved first: the function whose call
  is open (``name(``, ``module.name(``, ``self.attr.name(a, ``) or the name just typed, and
  for a member access not yet named (``module.``, ``Class.``, ``self.``) what the receiver
  is: a module the file imports (its definitions), a class (its members) or, for ``self``,
  the enclosing class's bases; a variable's class as the code names it: ``x: Foo``,
  ``x = Foo(``, ``self.x = Foo(``). :mod:`codehearth.index.compress` packs these before
  anything else, as a skeleton when whole they would not fit.
* ``member``: the members of that receiver, which compress shows as signatures right after.
* ``exact``: identifiers used near the cursor (the cursor's own statement first, nearest to
  the cursor first; then the rest of the enclosing definition by line distance), then the
  names the file imports, each looked up among the index's definitions. Definitions in files
  the current file imports come before same-named ones elsewhere, other files before the
  current one, and at most :data:`MAX_DEFINITIONS_PER_NAME` are taken per name.
* ``lexical``: BM25 over the index with the distinct terms of the enclosing definition,
  those of the cursor's statement (and its identifiers, whole) counted more.
  :func:`chunk_terms` is the document the index should hold for each chunk.
* ``recent``: the innermost chunk at each recently edited or opened position, most recent
  first (or the chunks next to it when the position lies between definitions).

Reciprocal-rank fusion (``weight / (k + rank)``, k = 60, summed over the rankings a chunk is
in) merges them, exact matches weighted highest. Chunks of the current file whose lines all
lie inside the caret window (already in the prompt) or that contain the cursor line (the code
being edited, whose indexed text is stale) are never returned. A chunk found by several
rankings is returned once, naming all of them; a class and its own method may both be
returned, and :mod:`codehearth.index.compress` decides what fits.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Protocol

import attrs

from codehearth.index.bm25 import (
    STOP_WORDS,
    BM25Index,
    code_term_counts,
    identifier_spans,
    identifier_terms,
    split_identifier,
    tokenize_code,
)
from codehearth.index.model import Chunk, FileChunks, Import

RRF_K = 60
# How many times a chunk's defined names count in its BM25 document, against once for the
# identifiers it uses.
DEFINE_WEIGHT = 3
# Per-ranking fusion weights: the definition of a name the cursor uses beats a lexical
# look-alike, which beats "was edited recently".
SOURCE_WEIGHTS: Mapping[str, float] = {
    "cursor": 4.0,
    "member": 3.0,
    "exact": 2.0,
    "imported": 2.0,
    "lexical": 1.0,
    "recent": 0.8,
}

# Lines on either side of the cursor searched when it is not inside an indexed definition,
# and the most lines of an enclosing definition searched on either side of it.
NEAR_LINES = 15
MAX_ENCLOSING_LINES = 60
# Extra times the cursor statement's terms count in the BM25 query; every other term of the
# enclosing definition counts once.
STATEMENT_WEIGHT = 3
# How far up a statement continued over several lines is followed.
MAX_STATEMENT_LINES = 8
# Definitions taken per looked-up name: common names (``get``, ``__init__``) have many.
MAX_DEFINITIONS_PER_NAME = 3
# Members of a receiver (``module.``, ``Class.``) taken for the cursor ranking.
MAX_RECEIVER_MEMBERS = 12
# Lines on either side of a recent position whose chunks count when none contains it.
RECENT_RADIUS = 3

# A line ending in one of these continues on the next one.
_CONTINUATIONS = ("(", "[", "{", ",", "\\", "+", "-", "*", "/", "=", ".", "&&", "||")


def chunk_terms(chunk: Chunk) -> Counter[str]:
    """The BM25 document of a chunk, as term frequencies: its defined names (whole and
    split, :data:`DEFINE_WEIGHT` times), the names it references (whole, once) and the
    sub-tokens of its text. :func:`retrieve`'s queries use the same terms."""
    terms = code_term_counts(chunk.text)
    defined = identifier_terms(chunk.defines)
    defined += [token for name in chunk.defines for token in split_identifier(name)]
    for term in defined:
        terms[term] += DEFINE_WEIGHT
    terms.update(identifier_terms(chunk.references))
    return terms


def _probe(text: str, defines: tuple[str, ...], references: tuple[str, ...]) -> Chunk:
    return Chunk("probe.py", "python", 0, 0, "", "function", text, text, defines, references)


# Chunks exercising every rule of chunk_terms and the tokenizer: humps, acronyms and digits,
# underscores, cased and uncased non-ASCII letters, stop words, one-letter names, dotted
# defines, whole references and the defines' weight.
_TERMS_PROBES = (
    _probe(
        "def parseHTTPResponse2(self, xml_parser, URLValue):\n"
        "    return XMLParser(getURLValue, MAX_VALUE, __init__, v2_value3, x)",
        ("parseHTTPResponse2",),
        ("XMLParser", "getURLValue", "os.path"),
    ),
    _probe("größeBerechnen = 名前の値 + ÆrøSkjold", ("Geometry.größeBerechnen",), ("名前の値",)),
    _probe("class import if else for while lambda null nil", (), ()),
)


@functools.cache
def terms_version() -> str:
    """A digest of what :func:`chunk_terms` makes of probe chunks that exercise each of its
    rules and the tokenizer's. The index store keeps term counts under it, so counts made
    by a tokenizer that counts differently are never read back."""
    made = [sorted(chunk_terms(probe).items()) for probe in _TERMS_PROBES]
    return hashlib.sha256(json.dumps(made).encode("utf-8")).hexdigest()[:16]


def _positions(positions: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    return tuple(positions)


@attrs.frozen
class CursorContext:
    """Where completion was asked for.

    ``offset`` counts code points into ``text``. ``window_lines`` is the caret window: the
    first and last 0-based line of this file already in the prompt (:func:`caret_window`
    computes it). ``recent`` lists recently edited or opened ``(path, line)`` positions,
    most recent first.
    """

    path: str
    language_id: str
    text: str
    offset: int
    window_lines: tuple[int, int]
    recent: tuple[tuple[str, int], ...] = attrs.field(default=(), converter=_positions)


def caret_window(text: str, offset: int, prefix_chars: int, suffix_chars: int) -> tuple[int, int]:
    """The caret window of a prompt that kept ``prefix_chars`` characters before ``offset``
    and ``suffix_chars`` after it (the lengths of ``split_budget``'s prefix and suffix)."""
    start = max(0, offset - prefix_chars)
    first = text.count("\n", 0, start)
    return first, first + text.count("\n", start, offset + suffix_chars)


@attrs.frozen
class ScoredChunk:
    """A retrieved chunk, its fused score and the rankings that found it."""

    chunk: Chunk
    score: float
    sources: tuple[str, ...]


class ChunkSource(Protocol):
    """What retrieval needs from the workspace index."""

    @property
    def bm25(self) -> BM25Index:
        """The lexical index, keyed by :meth:`chunk_key`."""
        ...

    def chunks_defining(self, name: str) -> list[Chunk]:
        """The chunks that define ``name``."""
        ...

    def file_chunks(self, path: str) -> FileChunks | None:
        """The indexed chunks and imports of a file, if it is indexed."""
        ...

    def resolve_import(self, from_path: str, item: Import) -> list[str]:
        """Paths of the workspace files that ``item``, imported by ``from_path``, refers to."""
        ...

    def chunk_by_key(self, key: str) -> Chunk | None:
        """The chunk indexed under ``key``, if it is still indexed."""
        ...

    def chunk_key(self, chunk: Chunk) -> str:
        """The key ``chunk`` is indexed under."""
        ...


@attrs.frozen
class _Line:
    number: int
    start: int
    text: str


def retrieve(source: ChunkSource, cursor: CursorContext, *, limit: int = 40) -> list[ScoredChunk]:
    """The ``limit`` most useful chunks to show as context for ``cursor``, best first."""
    if limit <= 0:
        return []
    line = cursor.text.count("\n", 0, cursor.offset)
    current = source.file_chunks(cursor.path)
    lines = _lines(cursor.text, cursor.offset, line, *_enclosing_region(current, line))
    statement_first = _statement_start(lines, line)
    statement = "\n".join(item.text for item in lines if statement_first <= item.number <= line)
    eligible = _eligibility(cursor, line)
    found: dict[str, Chunk] = {}

    def ranked(chunks: Iterator[Chunk]) -> list[str]:
        keys: list[str] = []
        for chunk in chunks:
            key = source.chunk_key(chunk)
            if key not in keys:
                keys.append(key)
                found[key] = chunk
                if len(keys) == limit:
                    break
        return keys

    imports = current.imports if current is not None else ()
    near = list(dict.fromkeys(_names_near_cursor(lines, cursor.offset, statement_first, line)))
    imported = {path for item in imports for path in source.resolve_import(cursor.path, item)}
    statement_offset = next(item.start for item in lines if item.number == statement_first)
    written = _written_at_cursor(cursor.text[statement_offset : cursor.offset])
    definitions, members = _cursor_definitions(
        source, written, imports, imported, cursor, line, eligible
    )
    at_cursor = ranked(iter(definitions))
    of_receiver = ranked(iter(members))
    exact = ranked(_definitions(source, near, imported, cursor.path, eligible))
    # Imported names get a ranking of their own (most used in the file first), so a long
    # import list is not cut off behind the names near the cursor.
    imported_names = _imported_names_by_use(cursor.text, imports, set(near))
    from_imports = ranked(_definitions(source, imported_names, imported, cursor.path, eligible))

    statement_terms = tokenize_code(statement)
    statement_terms += identifier_terms(name for _, name in identifier_spans(statement))
    region_terms = dict.fromkeys(tokenize_code("\n".join(item.text for item in lines)))
    query = [*region_terms, *list(dict.fromkeys(statement_terms)) * STATEMENT_WEIGHT]
    lexical = ranked(
        chunk
        for key, _ in source.bm25.search(query, limit * 2)
        if (chunk := source.chunk_by_key(key)) is not None and eligible(chunk)
    )
    recent = ranked(chunk for chunk in _recent_chunks(source, cursor.recent) if eligible(chunk))

    fused = fuse_rankings(
        {
            "cursor": at_cursor,
            "member": of_receiver,
            "exact": exact,
            "imported": from_imports,
            "lexical": lexical,
            "recent": recent,
        }
    )
    return [ScoredChunk(found[key], score, sources) for key, score, sources in fused[:limit]]


def fuse_rankings(
    rankings: Mapping[str, Sequence[str]],
    weights: Mapping[str, float] = SOURCE_WEIGHTS,
    *,
    k: int = RRF_K,
) -> list[tuple[str, float, tuple[str, ...]]]:
    """Reciprocal-rank fusion: a key scores ``weights[name] / (k + rank)`` summed over the
    rankings it is in (rank 1 is the first). Returns ``(key, score, ranking names)``, best
    first; ties keep the order keys were first seen in."""
    scores: dict[str, float] = {}
    sources: dict[str, list[str]] = {}
    for name, keys in rankings.items():
        for rank, key in enumerate(keys, start=1):
            scores[key] = scores.get(key, 0.0) + weights[name] / (k + rank)
            sources.setdefault(key, []).append(name)
    order = sorted(scores, key=lambda key: -scores[key])
    return [(key, scores[key], tuple(sources[key])) for key in order]


def _eligibility(cursor: CursorContext, line: int) -> Callable[[Chunk], bool]:
    """Whether a chunk may be shown: not already in the prompt and not being edited."""
    first, last = cursor.window_lines

    def eligible(chunk: Chunk) -> bool:
        if chunk.path != cursor.path:
            return True
        in_window = first <= chunk.start_line and chunk.end_line <= last
        return not in_window and not chunk.start_line <= line <= chunk.end_line

    return eligible


def _enclosing_region(current: FileChunks | None, line: int) -> tuple[int, int]:
    """The lines of the innermost indexed definition around ``line`` (at most
    :data:`MAX_ENCLOSING_LINES` either side), or the :data:`NEAR_LINES` around it."""
    enclosing = [
        chunk
        for chunk in (current.chunks if current is not None else ())
        if chunk.kind != "module" and chunk.start_line <= line <= chunk.end_line
    ]
    if not enclosing:
        return line - NEAR_LINES, line + NEAR_LINES
    inner = min(enclosing, key=lambda chunk: chunk.end_line - chunk.start_line)
    return (
        max(inner.start_line, line - MAX_ENCLOSING_LINES),
        min(inner.end_line, line + MAX_ENCLOSING_LINES),
    )


def _lines(text: str, offset: int, line: int, first: int, last: int) -> list[_Line]:
    """Lines ``first``..``last`` of ``text`` (clipped to the text), found by walking out from
    the cursor (on ``line``) so the cost is that of the lines returned, not of the file."""
    start = text.rfind("\n", 0, offset) + 1
    number = line
    while number > first and start > 0:
        start = text.rfind("\n", 0, start - 1) + 1
        number -= 1
    result: list[_Line] = []
    while number <= last:
        end = text.find("\n", start)
        result.append(_Line(number, start, text[start : len(text) if end == -1 else end]))
        if end == -1:
            break
        start, number = end + 1, number + 1
    return result


def _statement_start(lines: list[_Line], line: int) -> int:
    """The first line of the cursor's statement: walk up while the line above ends in an
    open bracket, a comma, an operator or a backslash."""
    by_number = {item.number: item.text for item in lines}
    first = line
    while line - first < MAX_STATEMENT_LINES - 1 and (
        by_number.get(first - 1, "").rstrip().endswith(_CONTINUATIONS)
    ):
        first -= 1
    return first


def _names_near_cursor(
    lines: list[_Line], offset: int, statement_first: int, line: int
) -> list[str]:
    """The identifiers of the cursor's statement, nearest to the cursor first, then the
    other identifiers of ``lines`` by line distance from the cursor's line (repeats kept)."""
    near: list[tuple[int, int, str]] = []
    for item in lines:
        in_statement = statement_first <= item.number <= line
        for column, name in identifier_spans(item.text):
            if in_statement:
                near.append((0, abs(item.start + column - offset), name))
            else:
                near.append((1, abs(item.number - line), name))
    near.sort(key=lambda entry: entry[:2])
    return [name for _, _, name in near]


@attrs.frozen
class _Written:
    """What is being written at the cursor: a name (the function whose call is open, or
    the identifier just typed) and the dotted receiver before it (``self.attr`` in
    ``self.attr.name(``), or only a receiver (``module.``, the member not yet named)."""

    name: str
    receiver: tuple[str, ...]


_CALL_TAIL = re.compile(r"((?:[A-Za-z_][\w]*\s*\.\s*)*)([A-Za-z_]\w*)?\s*$")


def _written_at_cursor(before: str) -> list[_Written]:
    """What is being written at the end of ``before`` (the cursor's statement up to the
    cursor), most specific first: the member access or name right at the cursor, then the
    call whose arguments are being written."""
    before = _without_strings(before)
    found: list[_Written] = []
    tail = _CALL_TAIL.search(before)
    if tail is not None and (tail.group(1) or tail.group(2)):
        found.append(_Written(_callable(tail.group(2)), _dotted(tail.group(1))))
    depth = 0
    for at in range(len(before) - 1, -1, -1):
        char = before[at]
        if char in ")]}":
            depth += 1
        elif char in "([{":
            if depth == 0:
                call = _CALL_TAIL.search(before[:at]) if char == "(" else None
                if call is not None and _callable(call.group(2)):
                    found.append(_Written(call.group(2), _dotted(call.group(1))))
                break
            depth -= 1
    return [written for written in found if written.name or written.receiver]


def _callable(name: str | None) -> str:
    """``name`` unless it is missing or a keyword (``return (``, ``if (``)."""
    return name if name and name.lower() not in STOP_WORDS else ""


def _dotted(chain: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in chain.split(".") if part.strip())


_STRING = re.compile(r"""("(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?)""")


def _without_strings(text: str) -> str:
    """``text`` with its string literals blanked (same length), so brackets inside them
    do not count."""
    return _STRING.sub(lambda match: " " * len(match.group()), text)


def _cursor_definitions(
    source: ChunkSource,
    written_at_cursor: list[_Written],
    imports: Sequence[Import],
    imported: set[str],
    cursor: CursorContext,
    line: int,
    eligible: Callable[[Chunk], bool],
) -> tuple[list[Chunk], list[Chunk]]:
    """The definitions of what is being written at the cursor (see :class:`_Written`),
    and the members of the receiver a member access names no member of yet."""
    definitions: list[Chunk] = []
    members: list[Chunk] = []
    for written in written_at_cursor:
        receiver_files = _receiver_files(source, written.receiver, imports, cursor.path)
        if written.name:
            types = set(_receiver_types(source, written.receiver, cursor, line))
            candidates = [c for c in source.chunks_defining(written.name) if eligible(c)]
            candidates.sort(
                key=lambda chunk: (
                    bool(types) and chunk.parent.rsplit(".", 1)[-1] not in types,
                    chunk.path not in receiver_files,
                    chunk.path not in imported,
                    chunk.path == cursor.path,
                    -_shared_folders(chunk.path, cursor.path),
                    chunk.kind == "part",
                    chunk.path,
                    chunk.start_line,
                )
            )
            definitions += candidates[:MAX_DEFINITIONS_PER_NAME]
        elif written.receiver:
            classes, owned = _receiver_members(
                source, written.receiver, receiver_files, cursor, line
            )
            definitions += [chunk for chunk in classes if eligible(chunk)]
            members += [chunk for chunk in owned if eligible(chunk)]
    return definitions, members


def _receiver_files(
    source: ChunkSource, receiver: tuple[str, ...], imports: Sequence[Import], path: str
) -> set[str]:
    """Files a dotted receiver's first name comes from: the module it names (``module.``)
    or the module that defines it, when the file imports it."""
    if not receiver:
        return set()
    head = receiver[0]
    files: set[str] = set()
    for item in imports:
        module_tail = item.module.rsplit(".", 1)[-1].lstrip(".")
        if head in item.names or module_tail == head:
            files.update(source.resolve_import(path, item))
            if head in item.names:  # `from package import module`
                files.update(source.resolve_import(path, Import(f"{item.module}.{head}")))
    return files


_SELF_NAMES = ("self", "cls", "this")
# Words of a type annotation that are not the class whose members matter.
_TYPE_WORDS = frozenset(
    "Optional Union None Any Type type ClassVar Final Annotated list dict set tuple "
    "List Dict Set Tuple Sequence Iterable Iterator Mapping Callable Awaitable".split()
)


def _receiver_members(
    source: ChunkSource,
    receiver: tuple[str, ...],
    receiver_files: set[str],
    cursor: CursorContext,
    line: int,
) -> tuple[list[Chunk], list[Chunk]]:
    """What a member access on ``receiver`` may name, as (owners, members): for ``self``
    (``cls``, ``this``), the enclosing class's bases; for a name whose class the code says
    (an annotation, ``name = Class(``, ``self.name = Class(``) or a class itself, that
    class; for a module the file imports, its top-level definitions."""
    current = source.file_chunks(cursor.path)
    enclosing = _enclosing_class(current, line)
    if receiver == (receiver[0],) and receiver[0] in _SELF_NAMES:
        if enclosing is None:
            return [], []
        classes = [_class_named(source, name, receiver_files) for name in _base_names(enclosing)]
        found = [chunk for chunk in classes if chunk is not None]
        return found, [member for chunk in found for member in _members(source, chunk)]
    if len(receiver) == 1:
        names = [*_receiver_types(source, receiver, cursor, line), receiver[0]]
    elif len(receiver) == 2 and receiver[0] in _SELF_NAMES and enclosing is not None:
        names = _receiver_types(source, receiver, cursor, line)
    else:
        return [], []
    for name in names:
        named = _class_named(source, name, receiver_files)
        if named is not None:
            return [named], _members(source, named)
    module_files = [
        path
        for path in sorted(receiver_files)
        if os.path.splitext(os.path.basename(path))[0] in (receiver[0], "__init__")
    ]
    members: list[Chunk] = []
    for path in module_files:
        indexed = source.file_chunks(path)
        if indexed is not None:
            members += [
                chunk
                for chunk in indexed.chunks
                if chunk.kind not in ("module", "part") and not chunk.parent
            ]
    return [], members[:MAX_RECEIVER_MEMBERS]


def _receiver_types(
    source: ChunkSource, receiver: tuple[str, ...], cursor: CursorContext, line: int
) -> list[str]:
    """Class names a receiver may have, as the code says (see :func:`_receiver_members`)."""
    if not receiver:
        return []
    enclosing = _enclosing_class(source.file_chunks(cursor.path), line)
    if receiver == (receiver[0],) and receiver[0] in _SELF_NAMES:
        if enclosing is None:
            return []
        return [enclosing.symbol.rsplit(".", 1)[-1], *_base_names(enclosing)]
    if len(receiver) == 1:
        return _annotated_types(cursor.text, receiver[0], line)
    if len(receiver) == 2 and receiver[0] in _SELF_NAMES and enclosing is not None:
        return _annotated_types(cursor.text, receiver[1], line, enclosing, attribute=True)
    return []


def _enclosing_class(current: FileChunks | None, line: int) -> Chunk | None:
    classes = [
        chunk
        for chunk in (current.chunks if current is not None else ())
        if chunk.kind == "class" and chunk.start_line <= line <= chunk.end_line
    ]
    return max(classes, key=lambda chunk: chunk.start_line) if classes else None


def _class_named(source: ChunkSource, name: str, preferred: set[str]) -> Chunk | None:
    """The class (or interface) called ``name``, in a preferred file first."""
    classes = [
        chunk
        for chunk in source.chunks_defining(name)
        if chunk.kind in ("class", "interface") and chunk.symbol.rsplit(".", 1)[-1] == name
    ]
    classes.sort(key=lambda chunk: (chunk.path not in preferred, chunk.path, chunk.start_line))
    return classes[0] if classes else None


def _members(source: ChunkSource, owner: Chunk) -> list[Chunk]:
    """The member chunks of a class, in source order (a member cut in parts once)."""
    indexed = source.file_chunks(owner.path)
    members: dict[str, Chunk] = {}
    for chunk in indexed.chunks if indexed is not None else ():
        if chunk.parent == owner.symbol and chunk.symbol not in members:
            members[chunk.symbol] = chunk
    return list(members.values())


def _annotated_types(
    text: str, name: str, line: int, owner: Chunk | None = None, *, attribute: bool = False
) -> list[str]:
    """Class names the code gives ``name`` before ``line`` (within ``owner``'s lines when
    given): ``name: Type`` (a parameter or variable), ``name = Type(`` (``new Type(``), Go's
    ``(name *Type``, ``var name Type`` and ``name := Type{``; with
    ``attribute``, ``self.name: Type`` and ``self.name = Type(`` (and ``name: Type`` in the
    class body), nearest first."""
    lines = text.split("\n")
    first, last = (owner.start_line, owner.end_line) if owner is not None else (0, line)
    region = "\n".join(lines[max(0, first) : min(len(lines), last + 1)])
    target = rf"(?:\b(?:self|this)\.)?\b{re.escape(name)}" if attribute else rf"\b{re.escape(name)}"
    patterns = (
        rf"{target}\s*:\s*([^=\n,)]+)",  # Python, TypeScript
        rf"{target}\s*(?::[^=\n]*)?=\s*(?:await\s+|new\s+)?([A-Za-z_][\w.]*)\s*\(",
        rf"(?:[(,]|\bvar)\s*{target}\s+\*?([A-Za-z_][\w.]*)",  # Go parameters, var
        rf"{target}\s*:=\s*&?([A-Za-z_][\w.]*)\s*[{{(]",  # Go
    )
    found: list[tuple[int, str]] = []
    for pattern in patterns:
        for match in re.finditer(pattern, region):
            for word in re.findall(r"[A-Za-z_]\w*", match.group(1)):
                if word not in _TYPE_WORDS:
                    found.append((match.start(), word))
    found.sort(key=lambda item: -item[0])  # the nearest (last) mention first
    return list(dict.fromkeys(word for _, word in found))


_BASES = re.compile(r"class\s+\w+\s*\(([^)]*)\)")


def _base_names(chunk: Chunk) -> list[str]:
    """The base classes a Python class names (the last part of a dotted one)."""
    match = _BASES.search(chunk.skeleton or chunk.text)
    if match is None:
        return []
    names = []
    for part in match.group(1).split(","):
        name = part.strip().split("[", 1)[0].rsplit(".", 1)[-1]
        if (
            name.isidentifier()
            and "=" not in part
            and name not in ("object", "Generic", "Protocol")
        ):
            names.append(name)
    return names


def _shared_folders(path: str, other: str) -> int:
    """How many leading folders two paths share."""
    shared = 0
    for a, b in zip(
        os.path.dirname(path).split(os.sep), os.path.dirname(other).split(os.sep), strict=False
    ):
        if a != b:
            break
        shared += 1
    return shared


def _definitions(
    source: ChunkSource,
    names: list[str],
    imported: set[str],
    current_path: str,
    eligible: Callable[[Chunk], bool],
) -> Iterator[Chunk]:
    """The eligible chunks defining each name in turn: in imported files first, then in
    other files, then in the current file; at most :data:`MAX_DEFINITIONS_PER_NAME` each."""
    folder = os.path.dirname(current_path)
    for name in names:
        candidates = [chunk for chunk in source.chunks_defining(name) if eligible(chunk)]
        candidates.sort(
            key=lambda chunk: (
                chunk.path not in imported,
                chunk.path == current_path,
                os.path.dirname(chunk.path) != folder,
                chunk.path,
                chunk.start_line,
            )
        )
        yield from candidates[:MAX_DEFINITIONS_PER_NAME]


def _imported_names_by_use(text: str, imports: Sequence[Import], skip: set[str]) -> list[str]:
    """Names the file imports (not already in ``skip``), most used in the file first."""
    names = [name for item in imports for name in item.names if name not in skip]
    if not names:
        return []
    uses = Counter(name for _, name in identifier_spans(text) if name in set(names))
    return sorted(dict.fromkeys(names), key=lambda name: -uses[name])


def _recent_chunks(source: ChunkSource, recent: Sequence[tuple[str, int]]) -> Iterator[Chunk]:
    """For each recent position: the innermost chunk containing it, or else the chunks
    within :data:`RECENT_RADIUS` lines of it, nearest first."""
    for path, line in recent:
        indexed = source.file_chunks(path)
        if indexed is None:
            continue
        containing = [c for c in indexed.chunks if c.start_line <= line <= c.end_line]
        if containing:
            yield min(containing, key=lambda chunk: chunk.end_line - chunk.start_line)
            continue
        nearby = [
            chunk
            for chunk in indexed.chunks
            if chunk.start_line - RECENT_RADIUS <= line <= chunk.end_line + RECENT_RADIUS
        ]
        yield from sorted(
            nearby, key=lambda chunk: min(abs(chunk.start_line - line), abs(chunk.end_line - line))
        )
