"""Adaptive debounce for automatic inline completions.

The wait before asking the model follows the user's typing cadence (wait a little longer
than the gap between their keystrokes, so a burst of typing costs no generation), the
context at the cursor (shorter after ``.``, ``(`` or at a fresh line, where people pause
to look; longer mid-word) and the measured model latency (a slow model is asked less
eagerly). The result is clamped to the configured range. Invoked completions never wait.
"""

from __future__ import annotations

import time

CADENCE_FACTOR = 1.4
"""Wait this multiple of the typing gap: a keystroke within it supersedes the request."""

DEFAULT_CADENCE = 0.15
"""Seconds between keystrokes assumed before any have been seen."""

PAUSE_POINT_CHARS = frozenset(".(,[{=:>")
"""Characters after which users typically pause for a suggestion."""

_CADENCE_MAX_GAP = 2.0
"""Gaps longer than this are pauses, not typing, and do not move the cadence."""


class AdaptiveDebounce:
    """Tracks typing cadence per document and model latency; computes the next delay."""

    def __init__(self, min_ms: int = 100, max_ms: int = 1000) -> None:
        self.min_seconds = min_ms / 1000
        self.max_seconds = max_ms / 1000
        self._last_keystroke: dict[str, float] = {}
        self._cadence: dict[str, float] = {}
        self._latency: float | None = None

    def configure(self, min_ms: int, max_ms: int) -> None:
        self.min_seconds = min_ms / 1000
        self.max_seconds = max_ms / 1000

    def note_keystroke(self, uri: str, now: float | None = None) -> None:
        """Record a document change (one keystroke, as editors send them)."""
        now = time.monotonic() if now is None else now
        previous = self._last_keystroke.get(uri)
        self._last_keystroke[uri] = now
        if previous is None:
            return
        gap = now - previous
        if gap <= 0 or gap > _CADENCE_MAX_GAP:
            return
        old = self._cadence.get(uri)
        self._cadence[uri] = gap if old is None else 0.7 * old + 0.3 * gap

    def note_latency(self, seconds: float) -> None:
        """Record how long a generation took to its first useful text."""
        self._latency = seconds if self._latency is None else 0.8 * self._latency + 0.2 * seconds

    def forget(self, uri: str) -> None:
        self._last_keystroke.pop(uri, None)
        self._cadence.pop(uri, None)

    def cadence(self, uri: str) -> float:
        return self._cadence.get(uri, DEFAULT_CADENCE)

    def delay(self, uri: str, line_prefix: str) -> float:
        """Seconds to wait before generating for a completion at the end of ``line_prefix``."""
        wait = CADENCE_FACTOR * self.cadence(uri)
        stripped = line_prefix.rstrip()
        if not stripped or stripped[-1] in PAUSE_POINT_CHARS:
            wait *= 0.7
        elif line_prefix[-1:].isalnum() or line_prefix.endswith("_"):
            wait *= 1.2
        if self._latency is not None:
            wait += 0.25 * self._latency
        return min(self.max_seconds, max(self.min_seconds, wait))
