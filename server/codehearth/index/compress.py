"""Fitting retrieved chunks into the prompt's context budget.

:func:`compress` packs the definitions of what is being written at the cursor first (the
``cursor`` ranking), then the members of its receiver as signatures (``member``), then
greedily by score per token. Each chunk is offered whole when it is
small (at most :data:`LARGE_FRACTION` of the budget), as its skeleton (signature and
docstring, body elided) when it is large or when the whole text no longer fits, and last as
its bare signature (``def f(x): ...``), which is what a caller most needs. Chunks of one
file are merged into one snippet in line order, with an elision line (``# ...`` in the file's
comment syntax) between chunks that are not adjacent; a chunk inside another chunk shown
whole (a method of a class shown whole) is not repeated. Whatever budget is left then goes to
a repo-map style outline of neighbouring files: one line per definition, its signature.

The budget is a hard cap. Every snippet's ``tokens`` is ``counter.count`` of its text plus an
estimate of the path header the FIM template adds (``{comment} Path: {path}``, the longer of
the two header styles), and the sum of ``tokens`` never exceeds the budget: each addition is
checked by re-counting the whole rendered snippet of its file.

Snippets are ordered least relevant first (outlines, then files by their best chunk's score)
so the most relevant context sits right before the current file in the prompt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from codehearth.index.model import Chunk, FileChunks
from codehearth.index.retrieval import ScoredChunk
from codehearth.languages import LanguageRegistry
from codehearth.prompts.budget import TokenCounter
from codehearth.prompts.fim import ContextSnippet

# A chunk costing more than this share of the budget is offered as its skeleton first.
LARGE_FRACTION = 0.25
# Chunk kinds that are not definitions and so have no signature to outline.
_NOT_OUTLINED = frozenset(("module", "part"))


@attrs.frozen
class PackedSnippet:
    """One file's context: the rendered text, the chunks in it (line order), whether any is
    shown as a skeleton or outline line, its token cost (header included) and the best score
    of the retrieved chunks it shows, counting those inside a chunk shown whole (0 for an
    outline)."""

    path: str
    text: str
    chunks: tuple[Chunk, ...]
    skeletonized: bool
    tokens: int
    score: float


SIGNATURE, SKELETON, WHOLE = 0, 1, 2
"""How much of a chunk is shown: its signature line(s), its skeleton, or all of it."""

_DECORATOR_PREFIXES = ("@", "#[")


@attrs.frozen
class _Piece:
    chunk: Chunk
    form: int

    @property
    def whole(self) -> bool:
        return self.form == WHOLE

    def text(self) -> str:
        if self.form == WHOLE:
            return self.chunk.text
        if self.form == SKELETON:
            return self.chunk.skeleton
        return signature_text(self.chunk)


def signature_text(chunk: Chunk) -> str:
    """Decorators and the signature of a definition with its body elided (``def f(x): ...``,
    ``func f() { ... }``): the cheapest useful form, without the docstring."""
    lines: list[str] = []
    for line in (chunk.skeleton or chunk.text).splitlines():
        if not line.strip() and not lines:
            continue
        lines.append(line.rstrip())
        stripped = line.strip()
        if stripped.startswith(_DECORATOR_PREFIXES):
            continue
        if stripped.endswith(":"):
            lines[-1] += " ..."
            break
        if stripped.endswith("{"):
            lines[-1] += " ... }"
            break
        if stripped.endswith(("}", "...", ";")):
            break
    return "\n".join(lines)


@attrs.define
class _File:
    path: str
    comment: str
    pieces: list[_Piece] = attrs.field(factory=list)
    text: str = ""
    tokens: int = 0
    score: float = 0.0


def compress(
    scored: Sequence[ScoredChunk],
    counter: TokenCounter,
    budget: int,
    *,
    registry: LanguageRegistry,
    outline_neighbours: Sequence[FileChunks] = (),
) -> list[PackedSnippet]:
    """Pack ``scored`` chunks, then outlines of ``outline_neighbours`` (most relevant first),
    into at most ``budget`` tokens."""
    if budget < 0:
        raise ValueError(f"budget must be >= 0, got {budget}")
    if budget == 0:
        return []
    files: dict[str, _File] = {}
    used = 0

    def cost(path: str, comment: str, text: str) -> int:
        return counter.count(f"{comment} Path: {path}\n{text}\n")

    def place(item: ScoredChunk, form: int) -> bool:
        """Add the chunk to its file if the budget allows; True when it is (now) shown."""
        nonlocal used
        chunk = item.chunk
        whole = form == WHOLE
        file = files.get(chunk.path) or _File(chunk.path, _comment(registry, chunk))
        if any(
            (piece.whole and _contains(piece.chunk, chunk))
            or (piece.chunk == chunk and piece.form >= form)
            # A class's skeleton holds its members' stubs.
            or (form == SIGNATURE and piece.form >= SKELETON and piece.chunk.symbol == chunk.parent)
            for piece in file.pieces
        ):
            file.score = max(file.score, item.score)
            return True
        pieces = [
            p for p in file.pieces if not (whole and _contains(chunk, p.chunk)) and p.chunk != chunk
        ]
        pieces.append(_Piece(chunk, form))
        text = _render(pieces, file.comment)
        tokens = cost(chunk.path, file.comment, text)
        if used - file.tokens + tokens > budget:
            return False
        used += tokens - file.tokens
        file.pieces, file.text, file.tokens = pieces, text, tokens
        file.score = max(file.score, item.score)
        files[chunk.path] = file
        return True

    offers: list[tuple[float, int, ScoredChunk, tuple[int, ...]]] = []
    for index, item in enumerate(scored):
        chunk = item.chunk
        forms: tuple[int, ...]
        comment = _comment(registry, chunk)
        whole_cost = cost(chunk.path, comment, chunk.text)
        if not chunk.skeleton or chunk.skeleton == chunk.text:
            forms, first_cost = (WHOLE, SIGNATURE), whole_cost
        elif whole_cost > budget * LARGE_FRACTION:
            forms, first_cost = (SKELETON, SIGNATURE), cost(chunk.path, comment, chunk.skeleton)
        else:
            forms, first_cost = (WHOLE, SKELETON, SIGNATURE), whole_cost
        if chunk.kind in _NOT_OUTLINED:
            forms = tuple(form for form in forms if form != SIGNATURE)
        if "member" in item.sources and "cursor" not in item.sources:
            forms = (SIGNATURE,) if chunk.kind not in _NOT_OUTLINED else ()
        elif set(item.sources) <= {"imported", "lexical"} and "imported" in item.sources:
            forms = (SIGNATURE,) if chunk.kind not in _NOT_OUTLINED else forms
        offers.append((item.score / first_cost, index, item, forms))
    # What is being written at the cursor first, then its receiver's members, each in
    # retrieval's order; then the rest by score per token.
    offers.sort(
        key=lambda offer: (
            (priority := _priority(offer[2])),
            offer[1] if priority < 2 else 0,
            -offer[0],
            offer[1],
        )
    )
    for _, _, item, forms in offers:
        for form in forms:
            if place(item, form):
                break

    packed = [
        PackedSnippet(
            path=file.path,
            text=file.text,
            chunks=tuple(piece.chunk for piece in _in_line_order(file.pieces)),
            skeletonized=not all(piece.whole for piece in file.pieces),
            tokens=file.tokens,
            score=file.score,
        )
        for file in files.values()
    ]
    packed.sort(key=lambda snippet: snippet.score)
    outlines = _outlines(outline_neighbours, set(files), budget - used, registry, counter)
    return [*reversed(outlines), *packed]


def _priority(item: ScoredChunk) -> int:
    """0: what is being written at the cursor; 1: the members of its receiver; 2: the
    rest."""
    if "cursor" in item.sources:
        return 0
    if "member" in item.sources:
        return 1
    return 2


def as_context_snippets(packed: Iterable[PackedSnippet]) -> tuple[ContextSnippet, ...]:
    """The packed snippets as the FIM templates' context, in the same order."""
    return tuple(ContextSnippet(snippet.path, snippet.text) for snippet in packed)


def _comment(registry: LanguageRegistry, chunk: Chunk | FileChunks) -> str:
    spec = registry.by_id(chunk.language_id) or registry.by_path(chunk.path)
    return spec.line_comment if spec is not None else "#"


def _contains(outer: Chunk, inner: Chunk) -> bool:
    """Whether ``outer``'s text holds ``inner``'s. A file's header chunk (its module-level
    lines, no symbol) spans the definitions between them but holds none of them."""
    return (
        bool(outer.symbol)
        and outer.start_line <= inner.start_line
        and inner.end_line <= outer.end_line
    )


def _in_line_order(pieces: Iterable[_Piece]) -> list[_Piece]:
    return sorted(pieces, key=lambda piece: (piece.chunk.start_line, -piece.chunk.end_line))


def _render(pieces: Iterable[_Piece], comment: str) -> str:
    """The pieces in line order, an elision line between any two that are not adjacent."""
    lines: list[str] = []
    previous: _Piece | None = None
    for piece in _in_line_order(pieces):
        adjacent = previous is not None and (
            (previous.whole and piece.chunk.start_line == previous.chunk.end_line + 1)
            or _outline_pair(previous, piece)
        )
        if previous is not None and not adjacent:
            lines.append(f"{comment} ...")
        lines.append(piece.text().rstrip("\n"))
        previous = piece
    return "\n".join(lines)


def _outline_pair(previous: _Piece, piece: _Piece) -> bool:
    """Two signatures of one class read as its outline (no elision line between them): the
    class's own followed by a member's, or two members'."""
    if previous.form != SIGNATURE or piece.form != SIGNATURE or not piece.chunk.parent:
        return False
    return piece.chunk.parent in (previous.chunk.symbol, previous.chunk.parent)


def _outlines(
    neighbours: Sequence[FileChunks],
    packed_paths: set[str],
    budget: int,
    registry: LanguageRegistry,
    counter: TokenCounter,
) -> list[PackedSnippet]:
    """Outlines of the neighbours not already packed, in order, while budget remains: each
    definition's first signature line (methods indented), as many as fit per file."""
    outlines: list[PackedSnippet] = []
    seen = set(packed_paths)
    for neighbour in neighbours:
        if neighbour.path in seen:
            continue
        seen.add(neighbour.path)
        header = f"{_comment(registry, neighbour)} Path: {neighbour.path}\n"
        chunks = [
            chunk
            for chunk in sorted(neighbour.chunks, key=lambda chunk: chunk.start_line)
            if chunk.kind not in _NOT_OUTLINED and (chunk.skeleton or chunk.text).strip()
        ]
        lines = [_signature(chunk) for chunk in chunks]

        low, high = 0, len(lines)
        while low < high:
            middle = (low + high + 1) // 2
            if counter.count(header + "\n".join(lines[:middle]) + "\n") <= budget:
                low = middle
            else:
                high = middle - 1
        if low == 0:
            continue
        text = "\n".join(lines[:low])
        tokens = counter.count(header + text + "\n")
        outlines.append(PackedSnippet(neighbour.path, text, tuple(chunks[:low]), True, tokens, 0.0))
        budget -= tokens
    return outlines


def _signature(chunk: Chunk) -> str:
    """One outline line: the chunk's signature line (decorators and attributes skipped),
    indented one level for a member of a class."""
    lines = [line for line in signature_text(chunk).splitlines() if line.strip()]
    first = next(
        (line for line in lines if not line.strip().startswith(_DECORATOR_PREFIXES)),
        lines[0] if lines else "",
    )
    line = first.strip().removesuffix(" ... }").removesuffix(" ...")
    return ("    " if chunk.parent else "") + line
