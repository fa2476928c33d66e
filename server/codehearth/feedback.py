"""User feedback in three tiers, rate-limited: log, a rare popup, nothing per keystroke.

A problem (e.g. "model X is not pulled") is shown to the user at most once per distinct
message per window (default one minute) through ``show``; every occurrence goes to
``log`` with its technical detail. The module never imports pygls: the server passes the
two callables.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from codehearth.models.errors import BackendError

PROBLEM_WINDOW_SECONDS = 60.0


class ProblemNotifier:
    """De-duplicates and rate-limits user-facing problem messages."""

    def __init__(
        self,
        show: Callable[[str], None],
        log: Callable[[str], None],
        window_seconds: float = PROBLEM_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._show = show
        self._log = log
        self._window = window_seconds
        self._clock = clock
        self._last_shown: dict[str, float] = {}
        self.shown = 0

    def report(self, error: BackendError) -> None:
        self._log(
            f"{error.kind.value}: {error.message} ({error.detail})"
            if error.detail
            else f"{error.kind.value}: {error.message}"
        )
        self.notify(error.message)

    def notify(self, message: str) -> None:
        """Show ``message`` unless the same one was shown within the window."""
        now = self._clock()
        last = self._last_shown.get(message)
        if last is not None and now - last < self._window:
            return
        self._last_shown[message] = now
        self.shown += 1
        self._show(f"CodeHearth: {message}")
