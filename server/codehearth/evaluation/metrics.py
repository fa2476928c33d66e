"""How close a suggestion is to the line the user wrote, as CrossCodeEval scores line
completion: the suggestion's first line against the expected rest of the line.

* exact match: equal once surrounding whitespace is stripped;
* edit similarity: ``1 - Levenshtein distance / length of the longer``, by characters
  (1.0 for two empty strings);
* identifier match: the identifiers of each (words that start with a letter or ``_``,
  Python's keywords left out for Python) compared as multisets: F1, and exact when the
  two lists are equal in order;
* latency percentiles by nearest rank.
"""

from __future__ import annotations

import keyword
import math
import re
from collections import Counter
from collections.abc import Sequence

_IDENTIFIER = re.compile(r"(?<!\w)[^\W\d]\w*")
KEYWORDS = {"python": frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)}
"""Words that are no identifiers, by language id (other languages keep every word)."""


def first_line(suggestion: str) -> str:
    """The part of a suggestion that completes the cursor's line."""
    return suggestion.split("\n", 1)[0].rstrip("\r")


def exact_match(suggestion: str, expected: str) -> bool:
    return first_line(suggestion).strip() == expected.strip()


def levenshtein(left: str, right: str) -> int:
    """Insertions, deletions and substitutions turning ``left`` into ``right``."""
    if len(left) < len(right):
        left, right = right, left
    previous = list(range(len(right) + 1))
    for i, char in enumerate(left, 1):
        current = [i]
        for j, other in enumerate(right, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other))
            )
        previous = current
    return previous[-1]


def edit_similarity(suggestion: str, expected: str) -> float:
    predicted, wanted = first_line(suggestion).strip(), expected.strip()
    longest = max(len(predicted), len(wanted))
    if longest == 0:
        return 1.0
    return 1.0 - levenshtein(predicted, wanted) / longest


def identifiers(text: str, language_id: str = "") -> list[str]:
    skipped = KEYWORDS.get(language_id, frozenset())
    return [word for word in _IDENTIFIER.findall(text) if word not in skipped]


def identifier_f1(suggestion: str, expected: str, language_id: str = "") -> float:
    predicted = Counter(identifiers(first_line(suggestion), language_id))
    wanted = Counter(identifiers(expected, language_id))
    if not predicted and not wanted:
        return 1.0
    common = sum((predicted & wanted).values())
    if common == 0:
        return 0.0
    precision = common / sum(predicted.values())
    recall = common / sum(wanted.values())
    return 2 * precision * recall / (precision + recall)


def identifier_exact(suggestion: str, expected: str, language_id: str = "") -> bool:
    return identifiers(first_line(suggestion), language_id) == identifiers(expected, language_id)


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]
