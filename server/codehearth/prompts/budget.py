"""Token counting, the room a prompt has, and the prefix/suffix budget of a completion.

A completion prompt has a fixed token budget, never more than :func:`prompt_limit` leaves
of the context window (a safety margin under ``num_ctx``: Ollama cuts an overlong prompt
without an error). :func:`split_budget` keeps the text nearest the cursor: the prefix is
trimmed from its start and the suffix from its end, at line boundaries, so each fits its
share of the budget; whatever the two do not use is left for cross-file context. Counting
goes through a :class:`TokenCounter`: the model's real tokenizer when one is at hand
(:class:`CallableCounter`), otherwise a characters-per-token estimate
(:class:`EstimatingCounter`) that calibrates itself from the prompt token counts Ollama
reports. :class:`ContextWatch` says when a reported count shows a prompt filled the window.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

import attrs

log = logging.getLogger(__name__)

# Source code averages roughly 3-4 characters per token with the BPE vocabularies of current
# code models (Qwen2.5-Coder, StarCoder2, DeepSeek-Coder) and nearer 3 with Code Llama's
# SentencePiece vocabulary. 3.3 sits at the low end, so the estimate errs towards counting
# too many tokens, which keeps prompts inside the model's window.
DEFAULT_CHARS_PER_TOKEN = 3.3
# Bounds for the calibrated ratio: below 1 char/token or above 8 is a bad measurement
# (for example a count that excluded a cached part of the prompt), not a real tokenizer.
MIN_CHARS_PER_TOKEN = 1.0
MAX_CHARS_PER_TOKEN = 8.0
# Share of a prompt's room kept free for estimation error (the counter is an estimate).
SAFETY_MARGIN = 0.10
# A prompt whose reported size comes this close to num_ctx filled the context window.
CONTEXT_FULL_TOKENS = 8


def prompt_limit(num_ctx: int, reply_tokens: int, margin: float = SAFETY_MARGIN) -> int:
    """The most prompt tokens (by estimate) a request may carry: the window less the
    reply, less the safety margin."""
    return max(0, math.floor((num_ctx - reply_tokens) * (1.0 - margin)))


class ContextWatch:
    """Notices prompts that filled the context window, once per model.

    Ollama does not fail on a prompt longer than ``num_ctx``: it keeps the first
    ``num_keep`` tokens and drops from the middle, logging only on its side
    (llm/llama_server.go in ollama/ollama). A reported ``prompt_eval_count`` within
    :data:`CONTEXT_FULL_TOKENS` of ``num_ctx`` means the estimate fell short.
    """

    def __init__(self) -> None:
        self._noticed: set[str] = set()

    def check(self, model: str, num_ctx: int, prompt_tokens: int) -> bool:
        """Log (INFO, the first time for ``model``) when ``prompt_tokens`` filled the window;
        True when it did."""
        if prompt_tokens < num_ctx - CONTEXT_FULL_TOKENS:
            return False
        if model not in self._noticed:
            self._noticed.add(model)
            log.info(
                "a prompt to %s filled its context window (%d of %d tokens): Ollama may have "
                "cut it silently; raise its num_ctx or lower the prompt budget",
                model,
                prompt_tokens,
                num_ctx,
            )
        return True


class TokenCounter(Protocol):
    """Anything that can count the tokens of a text."""

    def count(self, text: str) -> int: ...


class EstimatingCounter:
    """Estimates tokens as ``ceil(len(text) / chars_per_token)``; safe to share across threads.

    :meth:`calibrate` folds in measured ratios (prompt characters over Ollama's
    ``prompt_eval_count``) as an exponentially weighted moving average.
    """

    def __init__(
        self, chars_per_token: float = DEFAULT_CHARS_PER_TOKEN, *, smoothing: float = 0.2
    ) -> None:
        if not MIN_CHARS_PER_TOKEN <= chars_per_token <= MAX_CHARS_PER_TOKEN:
            raise ValueError(
                f"chars_per_token must be within [{MIN_CHARS_PER_TOKEN}, "
                f"{MAX_CHARS_PER_TOKEN}], got {chars_per_token}"
            )
        if not 0.0 < smoothing <= 1.0:
            raise ValueError(f"smoothing must be within (0, 1], got {smoothing}")
        self._chars_per_token = chars_per_token
        self._smoothing = smoothing
        self._lock = threading.Lock()

    @property
    def chars_per_token(self) -> float:
        """The current characters-per-token ratio."""
        with self._lock:
            return self._chars_per_token

    def count(self, text: str) -> int:
        """Return the estimated number of tokens in ``text``."""
        if not text:
            return 0
        with self._lock:
            ratio = self._chars_per_token
        return math.ceil(len(text) / ratio)

    def calibrate(self, text_chars: int, actual_tokens: int) -> None:
        """Fold one measurement into the ratio: ``text_chars`` characters were ``actual_tokens``.

        Pass the full prompt's length and Ollama's ``prompt_eval_count`` for it. Empty
        measurements are ignored; the measured ratio is clamped to
        [MIN_CHARS_PER_TOKEN, MAX_CHARS_PER_TOKEN] before it is averaged in.
        """
        if text_chars <= 0 or actual_tokens <= 0:
            return
        sample = min(max(text_chars / actual_tokens, MIN_CHARS_PER_TOKEN), MAX_CHARS_PER_TOKEN)
        with self._lock:
            self._chars_per_token += self._smoothing * (sample - self._chars_per_token)


class CallableCounter:
    """Counts tokens with a real tokenizer function ``tokenize(text) -> token ids``.

    The function should not add BOS/EOS or other special tokens: counts are taken per line
    and summed, so any per-call extras would be counted once per line.
    """

    def __init__(self, tokenize: Callable[[str], Sequence[int]]) -> None:
        self._tokenize = tokenize

    def count(self, text: str) -> int:
        """Return the number of tokens ``tokenize`` produces for ``text``."""
        if not text:
            return 0
        return len(self._tokenize(text))


@attrs.frozen
class BudgetSplit:
    """The trimmed prefix and suffix, their token counts, and the tokens left for context."""

    prefix: str
    suffix: str
    prefix_tokens: int
    suffix_tokens: int
    context_tokens: int
    prefix_start: int = 0
    """Where the kept prefix starts in the prefix given: the next request's
    ``window_start``."""


def _largest_fitting(n_max: int, fits: Callable[[int], bool], guess: int) -> int:
    """The largest ``n`` in [0, n_max] with ``fits(n)``, for a monotone ``fits`` with ``fits(0)``.

    Gallops up from ``guess`` and then bisects, so only texts near the answer's size are
    counted, even when ``n_max`` is a megabyte-long line.
    """
    lo, hi = 0, min(n_max, max(guess, 1))
    while fits(hi):
        lo = hi
        if hi == n_max:
            return hi
        hi = min(n_max, hi * 2)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


def _longest_fitting_tail(text: str, counter: TokenCounter, limit: int) -> str:
    """The longest ending of ``text`` (cut by characters) with at most ``limit`` tokens."""
    kept = _largest_fitting(
        len(text), lambda n: counter.count(text[len(text) - n :]) <= limit, limit * 4
    )
    return text[len(text) - kept :]


def _longest_fitting_head(text: str, counter: TokenCounter, limit: int) -> str:
    """The longest beginning of ``text`` (cut by characters) with at most ``limit`` tokens."""
    kept = _largest_fitting(len(text), lambda n: counter.count(text[:n]) <= limit, limit * 4)
    head = text[:kept]
    # Never end on the first half of a CRLF pair.
    return head[:-1] if head.endswith("\r") and kept < len(text) else head


def _fitting_start(prefix: str, counter: TokenCounter, limit: int) -> int:
    """Where the longest end of ``prefix`` within ``limit`` tokens starts: the cursor's
    line, then whole lines walking upwards (the cursor's line cut by characters when it
    alone is over)."""
    # The cursor's line is everything after the last newline.
    start = prefix.rfind("\n") + 1
    used = counter.count(prefix[start:])
    if used > limit:
        return len(prefix) - len(_longest_fitting_tail(prefix[start:], counter, limit))
    while start > 0:
        line_start = prefix.rfind("\n", 0, start - 1) + 1
        cost = counter.count(prefix[line_start:start])
        if used + cost > limit:
            break
        used += cost
        start = line_start
    # Per-line counts can differ slightly from the count of the joined text; if the joined
    # text is over, drop whole lines from the far end. The cursor's line alone fits, so a
    # text that is over always has another line to drop.
    while counter.count(prefix[start:]) > limit:
        start = prefix.index("\n", start) + 1
    return start


def _trim_prefix(
    prefix: str,
    counter: TokenCounter,
    limit: int,
    window_start: int | None = None,
    moved_limit: int | None = None,
) -> tuple[int, int, int]:
    """Keep the end of ``prefix`` within ``limit`` tokens (see :func:`split_budget` for
    ``window_start`` and ``moved_limit``).

    Returns where the kept text starts, its token count, and the token count of the
    longest end within ``limit`` (what the kept text would be without ``window_start``
    or ``moved_limit``).
    """
    if limit <= 0 or not prefix:
        return len(prefix), 0, 0
    start = _fitting_start(prefix, counter, limit)
    longest = counter.count(prefix[start:])
    cursor_line = prefix.rfind("\n") + 1
    if window_start is None:
        kept = _anchored_start(prefix, start, cursor_line)
    elif start <= window_start <= cursor_line and (
        window_start == 0 or prefix[window_start - 1] == "\n"
    ):
        kept = window_start  # the window still fits: the model reads only what was typed
    elif moved_limit is not None and moved_limit < longest:
        kept = _fitting_start(prefix, counter, max(moved_limit, 0))
    else:
        kept = _anchored_start(prefix, start, cursor_line)
    used = longest if kept == start else counter.count(prefix[kept:])
    return kept, used, longest


ANCHOR_SHARE = 8
"""The prefix's first line snaps forward to a multiple of a stride of at most an eighth of
the kept text: no more than that is given up."""


def _anchored_start(prefix: str, start: int, cursor_line: int) -> int:
    """``start``, moved forward to the first line that begins at or after the next multiple
    of a stride (a power of two near an eighth of the kept text, in characters, so it stays
    the same while the kept text's length wavers), so that the prompt's first line stays put
    while the user types on: the model server then reads only what changed (a prompt cache
    keeps what it read of the last prompt up to where the two differ). Never past the
    cursor's line; a prefix kept whole (``start`` 0) is left alone."""
    most = (len(prefix) - start) // ANCHOR_SHARE  # characters it may give up
    if start == 0 or most < 1:
        return start
    stride = 1 << (most.bit_length() - 1)
    anchor = -(-start // stride) * stride  # the next multiple, at or after start
    if anchor == start:
        return start
    line = prefix.find("\n", anchor - 1, cursor_line) + 1
    return line if 0 < line <= cursor_line and line - start <= most else start


def _trim_suffix(suffix: str, counter: TokenCounter, limit: int) -> tuple[str, int]:
    """Keep the start of ``suffix``: the rest of the cursor's line, then whole lines below.

    Returns the kept text and its token count.
    """
    if limit <= 0 or not suffix:
        return "", 0
    newline = suffix.find("\n")
    end = len(suffix) if newline == -1 else newline + 1
    used = counter.count(suffix[:end])
    if used > limit:
        kept = _longest_fitting_head(suffix[:end], counter, limit)
        return kept, counter.count(kept)
    while end < len(suffix):
        newline = suffix.find("\n", end)
        line_end = len(suffix) if newline == -1 else newline + 1
        cost = counter.count(suffix[end:line_end])
        if used + cost > limit:
            break
        used += cost
        end = line_end
    # As for the prefix: trust the joined text's count, dropping lines from the far end.
    while (used := counter.count(suffix[:end])) > limit:
        end = suffix.rindex("\n", 0, end - 1) + 1
    return suffix[:end], used


def split_budget(
    prefix: str,
    suffix: str,
    counter: TokenCounter,
    *,
    budget: int = 1536,
    prefix_share: float = 0.6,
    suffix_share: float = 0.2,
    window_start: int | None = None,
    moved_limit: int | None = None,
) -> BudgetSplit:
    """Trim ``prefix`` and ``suffix`` to their shares of ``budget`` tokens.

    The prefix loses lines from its start and the suffix from its end; the line holding the
    cursor is kept whole unless it alone is over its share, in which case it is cut by
    characters (the prefix keeps the characters nearest the cursor). Tokens the prefix and
    suffix would leave unused go to context: ``context_tokens = budget - prefix_tokens -
    suffix_tokens``, counting the prefix at its longest, so the room for context stays
    the same while the kept prefix is shorter than it could be. Work is proportional to the
    text kept, not the file's size.

    The kept prefix is the prompt's *window* on the file. With ``window_start`` (the
    ``prefix_start`` of the last prompt for this document) it stays put while it fits its
    share, so the prompt starts the same way as the last one and a model server's prompt
    cache reads only what was typed since. When it must move, ``moved_limit`` (tokens) caps
    it: the model reads the moved window from scratch, and a window it can read quickly
    grows back as the user types on. Without ``window_start`` its first line snaps to a
    stride (see :func:`_anchored_start`).
    """
    if budget < 0:
        raise ValueError(f"budget must be >= 0, got {budget}")
    if not (0.0 <= prefix_share <= 1.0 and 0.0 <= suffix_share <= 1.0):
        raise ValueError("prefix_share and suffix_share must be within [0, 1]")
    if prefix_share + suffix_share > 1.0:
        raise ValueError("prefix_share + suffix_share must not exceed 1")
    prefix_start, prefix_tokens, longest_prefix = _trim_prefix(
        prefix, counter, math.floor(budget * prefix_share), window_start, moved_limit
    )
    kept_suffix, suffix_tokens = _trim_suffix(suffix, counter, math.floor(budget * suffix_share))
    return BudgetSplit(
        prefix=prefix[prefix_start:],
        suffix=kept_suffix,
        prefix_tokens=prefix_tokens,
        suffix_tokens=suffix_tokens,
        context_tokens=max(0, budget - longest_prefix - suffix_tokens),
        prefix_start=prefix_start,
    )
