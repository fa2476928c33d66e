"""Code-action runs in flight: shared by whoever picks the same action, waited for with a
bound, claimed once, stopped when nobody waits or the document changes."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from codehearth.refine.runs import ABANDONED, CHANGED, CLOSED, ActionRuns

URI = "file:///w/a.py"


def spawn(coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
    return asyncio.create_task(coroutine, name=name)


class Work:
    """A model run that answers ``answer`` once released (or at once when ``release``
    is set from the start), counting how often it was started."""

    def __init__(self, answer: str = "edit", *, released: bool = False) -> None:
        self.answer = answer
        self.started = 0
        self.release = asyncio.Event()
        if released:
            self.release.set()

    async def __call__(self) -> str:
        self.started += 1
        await self.release.wait()
        if self.answer == "boom":
            raise RuntimeError("the verifier crashed")
        return self.answer


def runs_keeping_edits() -> ActionRuns[str]:
    return ActionRuns(spawn, keep=lambda answer: answer == "edit")


async def test_picking_the_same_action_again_joins_the_run() -> None:
    runs, work = runs_keeping_edits(), Work()
    first = runs.start("fix", URI, 1, work, "fix")
    second = runs.start("fix", URI, 1, work, "fix")
    other = runs.start("docstring", URI, 1, Work(released=True), "docstring")
    assert second is first and other is not first
    work.release.set()
    assert await runs.wait(first, 1) and first.outcome() == "edit"
    assert work.started == 1


async def test_a_bounded_wait_says_whether_the_run_finished() -> None:
    runs, work = runs_keeping_edits(), Work()
    run = runs.start("fix", URI, 1, work, "fix")
    assert not await runs.wait(run, 0.01)
    assert run.outcome() is None and not run.task.done()  # still running for the command
    work.release.set()
    assert await runs.wait(run, 1) and run.outcome() == "edit"


async def test_the_first_claim_delivers() -> None:
    run = runs_keeping_edits().start("fix", URI, 1, Work(), "fix")
    assert run.claim() and not run.claim() and run.claimed


async def test_a_claimed_run_is_let_go_once_its_result_is_taken() -> None:
    runs, work = runs_keeping_edits(), Work()
    run = runs.start("fix", URI, 1, work, "fix")
    assert run.claim()
    work.release.set()
    assert await runs.result(run) == "edit"
    assert len(runs) == 0
    assert runs.start("fix", URI, 1, work, "fix") is not run  # a new pick runs again


async def test_a_finished_edit_is_kept_and_a_failure_is_not() -> None:
    runs = runs_keeping_edits()
    verified = runs.start("fix", URI, 1, Work("edit", released=True), "fix")
    failed = runs.start("simplify", URI, 1, Work("none", released=True), "simplify")
    crashed = runs.start("hints", URI, 1, Work("boom", released=True), "hints")
    await asyncio.wait([verified.task, failed.task, crashed.task])
    await asyncio.sleep(0)  # the done callbacks
    assert runs.start("fix", URI, 1, Work(), "fix") is verified
    retry = Work("edit", released=True)
    assert runs.start("simplify", URI, 1, retry, "simplify") is not failed
    assert crashed.outcome() is None
    assert runs.start("hints", URI, 1, Work(), "hints") is not crashed
    await asyncio.sleep(0)
    assert retry.started == 1


async def test_a_run_nobody_waits_for_any_more_stops() -> None:
    runs, work = runs_keeping_edits(), Work()
    run = runs.start("fix", URI, 1, work, "fix")
    waiter = asyncio.ensure_future(runs.wait(run, 10))
    await asyncio.sleep(0.01)
    waiter.cancel()  # the client cancelled its codeAction/resolve
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.wait([run.task])
    assert run.task.cancelled() and run.stopped == ABANDONED and len(runs) == 0


@pytest.mark.parametrize("keeper", ["another waiter", "a claim"])
async def test_a_run_someone_still_wants_goes_on(keeper: str) -> None:
    runs, work = runs_keeping_edits(), Work()
    run = runs.start("fix", URI, 1, work, "fix")
    leaving = asyncio.ensure_future(runs.wait(run, 10))
    staying = asyncio.ensure_future(runs.wait(run, 10)) if keeper == "another waiter" else None
    if keeper == "a claim":
        run.claim()
    await asyncio.sleep(0.01)
    leaving.cancel()
    await asyncio.wait([leaving])
    work.release.set()
    await asyncio.wait([run.task])
    assert run.outcome() == "edit" and run.stopped is None
    if staying is not None:
        assert await staying


async def test_a_change_stops_the_runs_of_other_versions_of_that_document() -> None:
    runs = runs_keeping_edits()
    old = runs.start("fix", URI, 1, Work(), "fix")
    kept = runs.start("docstring", URI, 1, Work(released=True), "docstring")
    current = runs.start("fix v2", URI, 2, Work(), "fix")
    elsewhere = runs.start("fix in b", "file:///w/b.py", 1, Work(), "fix")
    await asyncio.wait([kept.task])
    runs.document_changed(URI, 2)
    await asyncio.wait([old.task])
    assert old.task.cancelled() and old.stopped == CHANGED
    assert kept.outcome() == "edit" and kept.stopped is None  # finished: only let go of
    assert runs.start("docstring", URI, 1, Work(), "docstring") is not kept
    for running in (current, elsewhere):
        assert not running.task.done() and running.stopped is None
        running.task.cancel()


async def test_closing_a_document_stops_its_runs() -> None:
    runs = runs_keeping_edits()
    run = runs.start("fix", URI, 1, Work(), "fix")
    elsewhere = runs.start("fix in b", "file:///w/b.py", 1, Work(), "fix")
    runs.document_closed(URI)
    await asyncio.wait([run.task])
    assert run.stopped == CLOSED and run.task.cancelled()
    assert not elsewhere.task.done()
    elsewhere.task.cancel()
