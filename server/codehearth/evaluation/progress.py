"""A progress bar for ``codehearth eval`` on stderr (stdout carries the table): redrawn in
place on a terminal, else a line at every tenth of the work."""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 24


class ProgressBar:
    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty()
        self.started = time.monotonic()
        self._shown_tenth = 0
        self._drawn = False

    def advance(self, label: str) -> None:
        """One more result finished; ``label`` says what is running."""
        self.done += 1
        if self.live:
            self._draw(label)
            return
        tenth = self.done * 10 // max(1, self.total)
        if tenth > self._shown_tenth or self.done == self.total:
            self._shown_tenth = tenth
            print(f"eval: {self.line(label)}", file=self.stream, flush=True)

    def note(self, message: str) -> None:
        """A message on a line of its own (the bar is redrawn under it)."""
        self.clear()
        print(message, file=self.stream, flush=True)

    def clear(self) -> None:
        if self.live and self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._drawn = False

    def line(self, label: str) -> str:
        elapsed = time.monotonic() - self.started
        per_task = elapsed / self.done if self.done else 0.0
        left = per_task * (self.total - self.done)
        return f"{self.done}/{self.total}  {label}  {per_task:.1f} s each, ~{left:.0f} s left"

    def _draw(self, label: str) -> None:
        filled = BAR_WIDTH * self.done // max(1, self.total)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.stream.write(f"\r\033[K[{bar}] {self.line(label)}")
        self.stream.flush()
        self._drawn = True
