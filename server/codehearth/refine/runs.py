"""Code actions in flight: one run per picked action, shared by whoever asks for it.

Picking an action starts one background run per (document version, action); picking it
again while it runs joins that run instead of asking the model twice. A
``codeAction/resolve`` waits a bounded time for a run (:meth:`ActionRuns.wait`), and
whoever applies the result claims the run first (:meth:`ActionRun.claim`), so an edit is
delivered once however often the action was picked. A run that nobody waits for any more
is stopped, and so is every run of a document that changed or closed, whose edit could no
longer apply (:attr:`ActionRun.stopped` says why). A finished run stays only while its
result is worth handing out again (``keep``): a retry after a failure asks the model anew.
No pygls here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

import attrs

T = TypeVar("T")

Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]
"""Starts a background task with a name (the server's, cancelled at shutdown)."""

CHANGED = "the document changed"
CLOSED = "the document was closed"
ABANDONED = "nobody waits for it"


@attrs.define(eq=False)
class ActionRun(Generic[T]):
    """One run of an action on one document version."""

    key: Hashable
    uri: str
    version: int | None
    task: asyncio.Task[T]
    waiters: int = 0
    claimed: bool = False
    stopped: str | None = None
    """Why the run was stopped before it finished (None: it was not)."""

    def claim(self) -> bool:
        """Whether the caller is the first to claim the run, and so delivers its result."""
        if self.claimed:
            return False
        self.claimed = True
        return True

    def outcome(self) -> T | None:
        """The run's result once it finished; None while it runs, or if it was stopped or
        failed (a failure is logged by whoever spawned it)."""
        task = self.task
        if not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()


class ActionRuns(Generic[T]):
    """The runs in flight, and the finished ones worth keeping (``keep``), by key."""

    def __init__(self, spawn: Spawn, keep: Callable[[T], bool]) -> None:
        self._spawn = spawn
        self._keep = keep
        self._runs: dict[Hashable, ActionRun[T]] = {}

    def __len__(self) -> int:
        return len(self._runs)

    def start(
        self,
        key: Hashable,
        uri: str,
        version: int | None,
        work: Callable[[], Coroutine[Any, Any, T]],
        name: str,
    ) -> ActionRun[T]:
        """The run for ``key``: the one running or kept, else a new one doing ``work()``."""
        run = self._runs.get(key)
        if run is not None:
            return run
        run = ActionRun(key, uri, version, self._spawn(work(), name))
        self._runs[key] = run
        run.task.add_done_callback(lambda _task: self._finished(run))
        return run

    async def wait(self, run: ActionRun[T], seconds: float) -> bool:
        """Wait up to ``seconds`` for ``run`` to finish; whether it did. A waiter that is
        cancelled (its client gave up) lets go of the run, which stops when nobody else
        waits for it and nobody claimed it."""
        run.waiters += 1
        try:
            await asyncio.wait([run.task], timeout=seconds)
        except asyncio.CancelledError:
            run.waiters -= 1
            if run.waiters == 0 and not run.claimed:
                self._stop(run, ABANDONED)
            raise
        run.waiters -= 1
        return run.task.done()

    async def result(self, run: ActionRun[T]) -> T | None:
        """Wait for a claimed run to end and let go of it; its outcome (None if it was
        stopped or failed)."""
        await asyncio.wait([run.task])
        self._forget(run)
        return run.outcome()

    def document_changed(self, uri: str, version: int | None) -> None:
        """Stop the runs made for another version of ``uri``: their edits would not apply."""
        for run in [r for r in self._runs.values() if r.uri == uri and r.version != version]:
            self._stop(run, CHANGED)

    def document_closed(self, uri: str) -> None:
        for run in [r for r in self._runs.values() if r.uri == uri]:
            self._stop(run, CLOSED)

    def _finished(self, run: ActionRun[T]) -> None:
        outcome = run.outcome()
        if outcome is None or not self._keep(outcome):
            self._forget(run)

    def _forget(self, run: ActionRun[T]) -> None:
        if self._runs.get(run.key) is run:
            del self._runs[run.key]

    def _stop(self, run: ActionRun[T], why: str) -> None:
        self._forget(run)
        if not run.task.done():
            run.stopped = why
            run.task.cancel()
