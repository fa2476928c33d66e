"""Workspace context for one cursor (retrieve, then compress to a token budget), and for a
chat question (BM25 over its words, then compress).

The one entry point shared by inline completion prompts and ``codehearth context``: it
builds the :class:`CursorContext` (the caret window is the part of the file the prompt
already holds), ranks chunks with :func:`retrieve`, packs them with :func:`compress` and
returns the snippets with workspace-relative paths.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import attrs

from codehearth.index.bm25 import tokenize_code
from codehearth.index.compress import PackedSnippet, compress
from codehearth.index.retrieval import CursorContext, ScoredChunk, caret_window, retrieve
from codehearth.index.workspace_index import WorkspaceIndex
from codehearth.languages import LanguageRegistry
from codehearth.prompts.budget import TokenCounter

QUESTION_CHUNKS = 20
"""Chunks ranked for a chat question before compression."""


@attrs.frozen
class ContextRequest:
    """A cursor and how much of its file the prompt already carries."""

    path: str
    language_id: str
    text: str
    offset: int
    prefix_chars: int
    suffix_chars: int
    budget: int
    recent: tuple[tuple[str, int], ...] = ()


def workspace_context(
    index: WorkspaceIndex,
    registry: LanguageRegistry,
    counter: TokenCounter,
    request: ContextRequest,
) -> list[PackedSnippet]:
    """Snippets of other code that matter at the cursor, within ``request.budget`` tokens."""
    if request.budget <= 0:
        return []
    cursor = CursorContext(
        path=request.path,
        language_id=request.language_id,
        text=request.text,
        offset=request.offset,
        window_lines=caret_window(
            request.text, request.offset, request.prefix_chars, request.suffix_chars
        ),
        recent=request.recent,
    )
    scored = retrieve(index, cursor)
    packed = compress(
        scored,
        counter,
        request.budget,
        registry=registry,
        outline_neighbours=index.neighbours(request.path),
    )
    return [attrs.evolve(snippet, path=relative(snippet.path, index.root)) for snippet in packed]


def question_context(
    index: WorkspaceIndex,
    registry: LanguageRegistry,
    counter: TokenCounter,
    question: str,
    budget: int,
) -> list[PackedSnippet]:
    """Code related to a chat question (BM25 over its words), within ``budget`` tokens."""
    if budget <= 0:
        return []
    terms = tokenize_code(question)
    scored = [
        ScoredChunk(chunk, score, ("lexical",))
        for key, score in index.bm25.search(terms, QUESTION_CHUNKS)
        if (chunk := index.chunk_by_key(key)) is not None
    ]
    packed = compress(scored, counter, budget, registry=registry)
    return [attrs.evolve(snippet, path=relative(snippet.path, index.root)) for snippet in packed]


def relative(path: str, root: os.PathLike[str] | str) -> str:
    """A workspace-relative POSIX path for prompts (absolute paths leak the user's home)."""
    try:
        return os.path.relpath(path, root).replace(os.sep, "/")
    except ValueError:
        return os.path.basename(path)


def recent_positions(
    edits: Sequence[tuple[str, int]], limit: int = 16
) -> tuple[tuple[str, int], ...]:
    """Most recent first, one entry per (path, line)."""
    seen: list[tuple[str, int]] = []
    for edit in reversed(edits):
        if edit not in seen:
            seen.append(edit)
        if len(seen) >= limit:
            break
    return tuple(seen)
