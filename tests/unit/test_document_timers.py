"""DocumentTimers: one pending job per document, and a document's jobs never overlap."""

from __future__ import annotations

import asyncio
from typing import Any

from codehearth.server import DocumentTimers


async def test_a_documents_jobs_run_one_after_another_and_other_documents_do_not_wait() -> None:
    events: list[str] = []
    first_may_finish = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []

    def spawn(coroutine: Any, name: str) -> asyncio.Task[Any]:
        tasks.append(asyncio.create_task(coroutine, name=name))
        return tasks[-1]

    def job(label: str, gate: asyncio.Event | None = None) -> Any:
        async def run() -> None:
            events.append(f"{label} started")
            if gate is not None:
                await gate.wait()
            events.append(f"{label} done")

        return run

    timers = DocumentTimers(spawn)
    timers.schedule("file:///a.py", 0, job("a1", first_may_finish), "a1")
    await asyncio.sleep(0.01)
    timers.schedule("file:///a.py", 0, job("a2"), "a2")
    timers.schedule("file:///b.py", 0, job("b1"), "b1")
    await asyncio.sleep(0.01)
    assert events == ["a1 started", "b1 started", "b1 done"]  # a2 waits for a1

    first_may_finish.set()
    await asyncio.gather(*tasks)
    assert events[3:] == ["a1 done", "a2 started", "a2 done"]


async def test_scheduling_again_replaces_the_pending_job() -> None:
    ran: list[str] = []
    tasks: list[asyncio.Task[Any]] = []

    def spawn(coroutine: Any, name: str) -> asyncio.Task[Any]:
        tasks.append(asyncio.create_task(coroutine, name=name))
        return tasks[-1]

    def job(label: str) -> Any:
        async def run() -> None:
            ran.append(label)

        return run

    timers = DocumentTimers(spawn)
    timers.schedule("file:///a.py", 0.05, job("old"), "old")
    timers.schedule("file:///a.py", 0.0, job("new"), "new")
    await asyncio.sleep(0.1)
    await asyncio.gather(*tasks)
    assert ran == ["new"]
