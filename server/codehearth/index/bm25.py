"""Lexical search over code: code-aware tokenization and an incremental Okapi BM25 index.

Identifiers are split into lowercase sub-tokens at ``snake_case`` underscores, camelCase
humps and digits (``parseHTTPResponse2`` -> ``parse``, ``http``, ``response``); one-letter
tokens and the keywords and boilerplate names of common languages (``self``, ``return``,
``def`` ...) are dropped. :func:`identifier_terms` adds whole identifiers as terms of the
same space, so a verbatim identifier matches better than a document sharing its parts.

:class:`BM25Index` keeps an inverted index (term -> {key: term frequency}) updated one
document at a time (given as tokens or as term frequencies, :func:`code_term_counts`), so
re-indexing a file touches only its chunks, and a document can move to a new key without
being tokenized again. A search never scans all
documents: it walks the postings of the query's terms rarest first, and once
:data:`MAX_POSTINGS` entries have been read, the remaining (more common, lower-IDF) terms
only re-score the best candidates found so far. Results are exact for queries of rare terms
and a close approximation for queries of common ones, and a search over ~100k chunks stays
within milliseconds. The index is guarded by a lock, so one thread may search while another
re-indexes a file.
"""

from __future__ import annotations

import heapq
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from itertools import chain

# Tokens shorter than this carry no meaning on their own (loop counters, ``x``, ``T``).
MIN_TOKEN_LENGTH = 2

# Keywords and boilerplate names of the registry's languages: in nearly every chunk, so they
# would only add noise (and long postings) to the index.
STOP_WORDS = frozenset(
    """
    abstract and as assert async auto await bool boolean break byte case catch char class
    cls const continue crate def default defer del delete do double dyn elif else enum
    except export extends extern false final finally float fn for from func function go goto
    if impl implements import in instanceof int interface is lambda let long loop match mod
    move mut new nil none nonlocal not null of or package pass private protected pub public
    raise ref return select self short signed sizeof static str struct super switch this
    throw throws true try type typedef typeof undefined union unsafe unsigned use var void
    volatile where while with yield
    """.split()
)

# Search work bounds: candidates come from walking the rarest query terms' postings until
# MAX_POSTINGS entries have been read; the remaining (common) terms then only re-score the
# best RESCORE_FACTOR * limit (at least MIN_RESCORED) candidates found so far.
MAX_POSTINGS = 20_000
RESCORE_FACTOR = 8
MIN_RESCORED = 256

_IDENTIFIER = re.compile(r"[^\W\d]\w*")
# ASCII identifiers split by one regex: an acronym before a capitalised word, a capitalised
# or lowercase word, a trailing acronym. Digits and underscores are simply not matched.
_ASCII_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")
_LETTER_RUN = re.compile(r"[^\W\d_]+")


def identifier_spans(text: str) -> list[tuple[int, str]]:
    """The identifiers in ``text`` as written, with their offsets, in order; without stop
    words (keywords among them) and one-letter names."""
    return [
        (match.start(), name)
        for match in _IDENTIFIER.finditer(text)
        if len(name := match.group()) >= MIN_TOKEN_LENGTH and name.lower() not in STOP_WORDS
    ]


@lru_cache(maxsize=1 << 17)
def split_identifier(name: str) -> tuple[str, ...]:
    """The lowercase sub-tokens of one identifier, without one-letter tokens and stop words.

    Splits at underscores, digits and case changes, including ``HTTPServer`` -> ``http``,
    ``server``. Non-ASCII identifiers split the same way using Unicode case; letters without
    case (CJK, ...) stay together.
    """
    if name.isascii():
        parts = _ASCII_PART.findall(name)
    else:
        parts = [part for run in _LETTER_RUN.findall(name) for part in _split_case(run)]
    return tuple(
        token
        for token in (part.lower() for part in parts)
        if len(token) >= MIN_TOKEN_LENGTH and token not in STOP_WORDS
    )


def _split_case(run: str) -> list[str]:
    """Split a run of letters at lower->upper humps and before the last capital of an
    acronym that starts a word (``XMLParser`` -> ``XML``, ``Parser``)."""
    parts: list[str] = []
    start = 0
    for i in range(1, len(run)):
        previous, current = run[i - 1], run[i]
        hump = previous.islower() and current.isupper()
        acronym_end = (
            previous.isupper() and current.isupper() and i + 1 < len(run) and run[i + 1].islower()
        )
        if hump or acronym_end:
            parts.append(run[start:i])
            start = i
    parts.append(run[start:])
    return parts


def tokenize_code(text: str) -> list[str]:
    """The lowercase sub-tokens of every identifier in ``text``, in order."""
    return [token for name in _IDENTIFIER.findall(text) for token in split_identifier(name)]


def code_term_counts(text: str) -> Counter[str]:
    """How often each of :func:`tokenize_code`'s tokens occurs in ``text`` (the same bag,
    counted without a Python step per identifier)."""
    return Counter(chain.from_iterable(map(split_identifier, _IDENTIFIER.findall(text))))


def identifier_terms(names: Iterable[str]) -> list[str]:
    """Whole identifiers as lowercase terms (a dotted ``Class.method`` gives both parts).

    They sit in the same term space as :func:`tokenize_code`'s sub-tokens, so a query that
    uses an identifier verbatim matches documents that define or use it better than
    documents that merely share its parts.
    """
    # One join, lower and split for all names (a line break stops lower()'s final-sigma
    # context as the end of a name does).
    parts = "\n".join(names).replace(".", "\n").lower().split("\n")
    return [term for term in parts if len(term) >= MIN_TOKEN_LENGTH and term not in STOP_WORDS]


class BM25Index:
    """An incremental Okapi BM25 index from string keys to bags of tokens.

    ``k1`` saturates term frequency and ``b`` normalises by document length.
    ``max_postings`` bounds the postings a search walks to find candidates (see the module
    docstring). Thread-safe.
    """

    def __init__(
        self, *, k1: float = 1.2, b: float = 0.75, max_postings: int = MAX_POSTINGS
    ) -> None:
        if k1 < 0 or not 0.0 <= b <= 1.0 or max_postings < 1:
            raise ValueError("need k1 >= 0, 0 <= b <= 1 and max_postings >= 1")
        self.k1 = k1
        self.b = b
        self.max_postings = max_postings
        self._postings: dict[str, dict[str, int]] = {}
        self._terms: dict[str, tuple[str, ...]] = {}
        self._lengths: dict[str, int] = {}
        self._total_length = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._lengths)

    def __contains__(self, key: object) -> bool:
        return key in self._lengths

    def add(self, key: str, tokens: Iterable[str]) -> None:
        """Index ``tokens`` under ``key``, replacing whatever ``key`` held before."""
        self.add_counts(key, Counter(tokens))

    def add_counts(self, key: str, counts: Mapping[str, int]) -> None:
        """Index a document given as term frequencies (all positive) under ``key``,
        replacing whatever ``key`` held before."""
        postings = self._postings
        with self._lock:
            self._remove(key)
            for term, frequency in counts.items():
                posting = postings.get(term)
                if posting is None:
                    postings[term] = {key: frequency}
                else:
                    posting[key] = frequency
            self._terms[key] = tuple(counts)
            length = sum(counts.values())
            self._lengths[key] = length
            self._total_length += length

    def rekey(self, moves: Mapping[str, str]) -> None:
        """Move documents from old to new keys (a permutation among them is fine); a new
        key must hold no other document."""
        postings = self._postings
        with self._lock:
            detached = []
            for old, new in moves.items():
                if old == new:
                    continue
                terms = self._terms.pop(old)
                frequencies = [postings[term].pop(old) for term in terms]
                detached.append((new, terms, frequencies, self._lengths.pop(old)))
            for new, terms, frequencies, length in detached:
                for term, frequency in zip(terms, frequencies, strict=True):
                    postings[term][new] = frequency
                self._terms[new] = terms
                self._lengths[new] = length

    def remove(self, key: str) -> bool:
        """Drop ``key`` from the index; return whether it was there."""
        with self._lock:
            return self._remove(key)

    def _remove(self, key: str) -> bool:
        length = self._lengths.pop(key, None)
        if length is None:
            return False
        self._total_length -= length
        for term in self._terms.pop(key):
            postings = self._postings[term]
            del postings[key]
            if not postings:
                del self._postings[term]
        return True

    def search(self, query_tokens: Iterable[str], limit: int = 20) -> list[tuple[str, float]]:
        """The ``limit`` best keys for the query with their scores, best first.

        A query token given n times counts n times, so callers weight terms by repeating
        them. Documents sharing no term with the query are never returned.
        """
        query = Counter(query_tokens)
        if limit <= 0:
            return []
        with self._lock:
            scores = self._scores(query, limit)
        # Best score first; equal scores by key, so results never depend on insertion order.
        return heapq.nsmallest(limit, scores.items(), key=lambda item: (-item[1], item[0]))

    def _scores(self, query: Counter[str], limit: int) -> dict[str, float]:
        documents = len(self._lengths)
        average_length = self._total_length / documents if documents else 1.0
        terms = sorted(
            (term for term in query if term in self._postings),
            key=lambda term: len(self._postings[term]),
        )
        scores: dict[str, float] = {}
        walked = 0
        rescored: list[str] | None = None
        for term in terms:
            postings = self._postings[term]
            frequency = len(postings)
            idf = math.log(1.0 + (documents - frequency + 0.5) / (frequency + 0.5))
            weight = idf * query[term]
            matches: Iterable[tuple[str, int]]
            if rescored is None and (not scores or walked + frequency <= self.max_postings):
                walked += frequency
                matches = postings.items()
            else:
                if rescored is None:
                    rescored = heapq.nlargest(
                        max(limit * RESCORE_FACTOR, MIN_RESCORED), scores, key=scores.__getitem__
                    )
                matches = [(key, postings[key]) for key in rescored if key in postings]
            for key, tf in matches:
                norm = self.k1 * (1.0 - self.b + self.b * self._lengths[key] / average_length)
                scores[key] = scores.get(key, 0.0) + weight * tf * (self.k1 + 1.0) / (tf + norm)
        return scores
