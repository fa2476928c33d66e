"""A first run against a model that is not in memory: a fresh ``codehearth serve`` with
default settings, a fake Ollama whose models take seconds to load and abort the load when
the client hangs up, and a user typing, one automatic inline request per keystroke, each
cancelled by the next as editors do, until the first suggestion shows.

Used by tests/e2e/test_cold_start.py and bench/cold_start.py.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import attrs
from lsprotocol import types

from codehearth.client import ScriptedClient, insert_text
from tests.fakes.fake_ollama import FakeOllama

PREFIX = "def add(a, b):\n    "
TYPED = "retu"
MODEL_SAYS = "rn a + b\n"
KEYSTROKE_SECONDS = 0.3
GIVE_UP_SECONDS = 60.0


@attrs.frozen
class ColdStart:
    """What the user saw, and what the fake Ollama saw."""

    seconds_to_first_suggestion: float | None
    suggestion: str
    keystrokes: int
    completed_loads: int
    aborted_loads: int
    load_requests: int
    progress_titles: tuple[str, ...]
    messages: tuple[str, ...]


async def type_until_first_suggestion(root: Path, fake: FakeOllama) -> ColdStart:
    """Start a server with default settings against ``fake`` and type until a suggestion
    comes (or ``GIVE_UP_SECONDS`` pass)."""
    options: dict[str, Any] = {"ollama": {"host": fake.url}, "models": {"embedded": "off"}}
    fake.set_text(MODEL_SAYS)
    started = time.monotonic()
    async with ScriptedClient(root=root, initialization_options=options) as session:
        uri = session.open(root / "add.py", PREFIX + "\n", "python")
        pending: tuple[str, asyncio.Future[list[types.InlineCompletionItem]]] | None = None
        typed, suggestion, seconds = "", "", None
        while time.monotonic() - started < GIVE_UP_SECONDS:
            if pending is not None and pending[1].done():
                items = pending[1].result() if not pending[1].exception() else []
                if items:
                    suggestion = insert_text(items[0])
                    seconds = time.monotonic() - started
                    break
                pending = None
            if pending is None or len(typed) < len(TYPED):
                if pending is not None:
                    session.cancel(pending[0])  # its answer is an error now: read it
                    pending[1].add_done_callback(lambda answer: answer.exception())
                if len(typed) < len(TYPED):
                    typed = TYPED[: len(typed) + 1]
                    session.replace_text(uri, PREFIX + typed + "\n")
                pending = session.request_inline_completion(uri, 1, 4 + len(typed), invoked=False)
            await asyncio.sleep(KEYSTROKE_SECONDS)
        if pending is not None and not pending[1].done():
            session.cancel(pending[0])
        titles = tuple(
            str(value.get("title"))
            for value in session.progress
            if value.get("kind") == "begin" and "loading" in str(value.get("title"))
        )
        return ColdStart(
            seconds_to_first_suggestion=None if seconds is None else round(seconds, 2),
            suggestion=suggestion,
            keystrokes=len(typed),
            completed_loads=fake.completed_loads,
            aborted_loads=fake.aborted_loads,
            load_requests=len(fake.loads()),
            progress_titles=titles,
            messages=tuple(session.messages),
        )
