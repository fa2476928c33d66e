"""Ranking for memory search, independent of storage: BM25 text, cosine vectors, RRF hybrid.

:class:`ArchivalIndex` is the in-memory search structure of archival memory: a
:class:`~codehearth.index.bm25.BM25Index` over the notes' tokens (the same tokenizer as code
search, which splits ``snake_case``/camelCase and drops keywords, so prose and identifiers
share one term space) plus the notes' unit-length embedding vectors. It is filled from
storage once and then updated per insert/forget, so a search walks postings instead of
scanning rows. Text and vector rankings are fused with reciprocal-rank fusion
(:func:`~codehearth.index.retrieval.fuse_rankings`).

Vector search is an exact linear scan in pure Python (no numpy in the dependencies): it costs
O(notes x dimensions) and is meant for the hybrid mode with a local embedding model, whose
own latency dominates at the sizes personal memory reaches. Text search is the fast path.
What is embedded depends on the model and the task (:func:`embedding_input`): nomic's
embedding models expect a task prefix.
"""

from __future__ import annotations

import heapq
import math
import threading
from collections.abc import Iterable, Sequence
from typing import Literal

from codehearth.index.bm25 import BM25Index, tokenize_code
from codehearth.index.retrieval import RRF_K, fuse_rankings

# Fusion weights of the two archival rankings: equal, as in plain RRF.
HYBRID_WEIGHTS = {"text": 1.0, "vector": 1.0}
# Postings a text search walks before common terms only re-score the best candidates (see
# codehearth.index.bm25): lower than for code, as notes share many common words.
ARCHIVAL_MAX_POSTINGS = 4000

EmbedTask = Literal["document", "query"]
"""What a text is embedded for: to be stored (a note) or to look notes up (a query)."""
NOMIC_TASK_PREFIXES: dict[EmbedTask, str] = {
    "document": "search_document: ",
    "query": "search_query: ",
}


def embedding_input(model: str, text: str, task: EmbedTask) -> str:
    """The text to embed with ``model`` for ``task``. nomic-embed-text models were trained
    with a task prefix and their model card asks for it (``search_document:`` for what is
    stored, ``search_query:`` for what is looked up); other models take the text as is."""
    if model.lower().startswith("nomic-embed-text"):
        return NOMIC_TASK_PREFIXES[task] + text
    return text


def text_tokens(text: str) -> list[str]:
    """The BM25 terms of a memory text (lowercase identifier sub-tokens, no stop words)."""
    return tokenize_code(text)


def unit_vector(values: Iterable[float]) -> tuple[float, ...] | None:
    """``values`` scaled to length 1, or None when empty, zero or not finite."""
    vector = tuple(float(value) for value in values)
    norm = math.sqrt(sum(value * value for value in vector))
    if not vector or norm == 0.0 or not math.isfinite(norm):
        return None
    return tuple(value / norm for value in vector)


def cosine_ranking(
    query: Sequence[float], vectors: dict[str, tuple[float, ...]], limit: int
) -> list[tuple[str, float]]:
    """The ``limit`` keys whose unit vectors are most similar to the unit ``query``, best
    first (equal scores by key). Vectors of another dimension are ignored."""
    if limit <= 0:
        return []
    size = len(query)
    scored = (
        (key, sum(map(float.__mul__, query, vector)))
        for key, vector in vectors.items()
        if len(vector) == size
    )
    return heapq.nsmallest(limit, scored, key=lambda item: (-item[1], item[0]))


def rank_texts(query: str, documents: Iterable[tuple[str, str]], limit: int) -> list[str]:
    """BM25 over a small ad hoc collection of ``(key, text)``: the best ``limit`` keys."""
    index = BM25Index()
    for key, text in documents:
        index.add(key, text_tokens(text))
    return [key for key, _ in index.search(text_tokens(query), limit)]


class ArchivalIndex:
    """Archival notes by id: BM25 over their text and their embedding vectors. Thread-safe."""

    def __init__(self) -> None:
        self._text = BM25Index(max_postings=ARCHIVAL_MAX_POSTINGS)
        self._vectors: dict[str, tuple[float, ...]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._text)

    def __contains__(self, key: object) -> bool:
        return key in self._text

    def add(self, key: str, text: str, vector: Sequence[float] | None = None) -> None:
        """Index one note, replacing what ``key`` held."""
        unit = unit_vector(vector) if vector is not None else None
        self._text.add(key, text_tokens(text))
        with self._lock:
            if unit is None:
                self._vectors.pop(key, None)
            else:
                self._vectors[key] = unit

    def remove(self, key: str) -> None:
        self._text.remove(key)
        with self._lock:
            self._vectors.pop(key, None)

    def search(
        self, query: str, limit: int, query_vector: Sequence[float] | None = None
    ) -> list[tuple[str, float, tuple[str, ...]]]:
        """The best ``limit`` notes as ``(key, score, rankings)``: BM25 scores alone without
        a query vector, else the RRF fusion of the text and vector rankings."""
        if limit <= 0:
            return []
        text = self._text.search(text_tokens(query), limit)
        unit = unit_vector(query_vector) if query_vector is not None else None
        if unit is None:
            return [(key, score, ("text",)) for key, score in text]
        with self._lock:
            vectors = dict(self._vectors)
        nearest = cosine_ranking(unit, vectors, limit)
        fused = fuse_rankings(
            {"text": [key for key, _ in text], "vector": [key for key, _ in nearest]},
            HYBRID_WEIGHTS,
            k=RRF_K,
        )
        return fused[:limit]
