"""After an edit is applied: does the client still report the diagnostic it fixed?

For Python the verifier re-runs ``ruff`` before an edit is offered. For other languages
CodeHearth has no checker of its own: the diagnostics come from the editor's other
language servers and reach CodeHearth only as the ``context.diagnostics`` of later
``textDocument/codeAction`` requests, once the client has re-published them. So an offered
fix whose diagnostic could not be checked is remembered here, and the next code-action
request on the same document, at a newer version and over the fixed line, settles it:
still reported (the fix did not clear it) or gone. The result is added to the action's
trace as a ``client_diagnostics`` check. No pygls here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import attrs

PENDING_PER_DOCUMENT = 8
PENDING_SECONDS = 600.0
"""A recheck nobody settles within this long (the user never came back) is dropped."""


@attrs.frozen
class SeenDiagnostic:
    """A diagnostic as a code-action request carries it (0-based line)."""

    code: str
    message: str
    line: int


@attrs.frozen
class Recheck:
    """An offered fix waiting for the client's verdict: the trace it belongs to (its time
    stamp and file), the diagnostic it fixed and the document version it was made for."""

    trace_at: str
    file: str
    diagnostic: SeenDiagnostic
    version: int
    since: float


@attrs.frozen
class Verdict:
    recheck: Recheck
    cleared: bool

    @property
    def detail(self) -> str:
        what = f"'{self.recheck.diagnostic.message}'"
        if self.cleared:
            return f"the client no longer reports {what} after the edit"
        return f"the client still reports {what} after the edit"


class ClientRechecks:
    """Pending rechecks per document URI."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._pending: dict[str, list[Recheck]] = {}

    def expect(
        self, uri: str, *, trace_at: str, file: str, diagnostic: SeenDiagnostic, version: int
    ) -> None:
        pending = self._pending.setdefault(uri, [])
        pending.append(Recheck(trace_at, file, diagnostic, version, self._clock()))
        del pending[:-PENDING_PER_DOCUMENT]

    def observe(
        self,
        uri: str,
        version: int | None,
        lines: tuple[int, int],
        diagnostics: Sequence[SeenDiagnostic],
    ) -> list[Verdict]:
        """A code-action request on ``uri`` at ``version`` over ``lines`` (first, last)
        carrying the client's ``diagnostics``: the rechecks it settles."""
        pending = self._pending.get(uri)
        if not pending or version is None:
            return []
        now = self._clock()
        verdicts: list[Verdict] = []
        waiting: list[Recheck] = []
        for recheck in pending:
            if now - recheck.since > PENDING_SECONDS:
                continue
            if version <= recheck.version:  # the edit is not applied yet
                waiting.append(recheck)
                continue
            target = recheck.diagnostic
            if any(d.code == target.code and d.message == target.message for d in diagnostics):
                verdicts.append(Verdict(recheck, cleared=False))
            elif lines[0] <= target.line <= lines[1]:
                verdicts.append(Verdict(recheck, cleared=True))
            else:
                waiting.append(recheck)  # asked elsewhere: this request cannot tell
        if waiting:
            self._pending[uri] = waiting
        else:
            self._pending.pop(uri, None)
        return verdicts

    def forget(self, uri: str) -> None:
        self._pending.pop(uri, None)
