"""Faults ``tests/e2e/test_faults.py`` does not cover: how many streams are open at once
(and that a stream cancelled twice is still closed), the circuit breaker letting one
probe through once Ollama is back, and a memory store
that cannot be written (a read-only data folder, a disk that fills up mid-session):
memory switches off with one warning and completions keep working.

The server runs through :class:`~codehearth.client.ScriptedClient`, which can give it its
own environment (``XDG_DATA_HOME``) and resource limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from codehearth.client import ScriptedClient, insert_text
from codehearth.completion.generations import Anchor, Generation
from codehearth.models.health import EndpointHealth
from tests.fakes.fake_ollama import FakeOllama, RecordedRequest

SOURCE = "def add(a, b):\n    \n"
BREAKER_COOLDOWN = EndpointHealth().cooldown_seconds


def options(ollama: FakeOllama, **completion: Any) -> dict[str, Any]:
    return {
        "ollama": {"host": ollama.url, "warmUp": False},
        "models": {"embedded": "off"},
        "index": {"enabled": False},
        "completion": {"debounceMinMs": 50, **completion},
    }


@contextlib.asynccontextmanager
async def session(
    root: Path,
    ollama: FakeOllama,
    env: Mapping[str, str] | None = None,
    server_command: list[str] | None = None,
    **completion: Any,
) -> AsyncIterator[ScriptedClient]:
    async with ScriptedClient(
        root=root,
        initialization_options=options(ollama, **completion),
        env={**os.environ, **(env or {})},
        server_command=server_command
        or [sys.executable, "-m", "codehearth", "serve", "--log-level", "WARNING"],
    ) as client:
        yield client


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "add.py").write_text(SOURCE, encoding="utf-8")
    return folder


DISCONNECT_LAG = 0.1
"""How much later than the server closed a stream the fake may notice (it watches the
socket): overlaps shorter than this are not two streams at once."""


def most_at_once(requests: list[RecordedRequest]) -> int:
    """The most generation requests that were open at the same time."""
    events = []
    for request in requests:
        end = request.finished_at or float("inf")
        if request.client_disconnected:
            end = max(request.started_at, end - DISCONNECT_LAG)
        events.append((request.started_at, 1))
        events.append((end, -1))
    open_now = peak = 0
    for _, change in sorted(events):
        open_now += change
        peak = max(peak, open_now)
    return peak


async def test_typing_fast_keeps_one_stream_open_per_document(
    root: Path, ollama: FakeOllama
) -> None:
    """Each keystroke asks again; the stream its text contradicts is closed first.

    The debounce is pinned short of the typing gap: an adaptive one learns the cadence
    and lets a burst cost no stream at all, which would leave nothing to overlap."""
    ollama.token_delay = 0.05
    ollama.set_text("result = a + b\nreturn result\n")
    async with session(root, ollama, debounceMinMs=20, debounceMaxMs=20) as client:
        uri = client.open(root / "add.py", SOURCE, "python")
        pending = []
        typed = ""
        for letter in "value = a * b":
            typed += letter
            client.replace_text(uri, f"def add(a, b):\n    {typed}\n")
            _, items = client.request_inline_completion(uri, 1, 4 + len(typed), invoked=False)
            pending.append(items)
            await asyncio.sleep(0.12)
        await asyncio.gather(*pending, return_exceptions=True)
        assert await ollama.wait_for_async(lambda: ollama.open_streams == 0, timeout=5)
    assert len(ollama.generations()) > 1
    assert most_at_once(ollama.generations()) == 1, [
        (r.started_at, r.finished_at, r.client_disconnected) for r in ollama.generations()
    ]


async def test_a_stream_cancelled_twice_still_closes() -> None:
    """The keystroke that contradicts a stream and the request that follows it both
    cancel it; the second cancel must not interrupt the cleanup that closes the HTTP
    connection (else Ollama generates on, a second stream at once)."""
    closed = asyncio.Event()

    async def stream() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.sleep(0.01)  # closing the connection awaits too
            closed.set()

    generation = Generation(anchor=Anchor.at("file:///a.py", "x", 1, ()), multiline=False)
    generation.task = asyncio.create_task(stream())
    await asyncio.sleep(0)
    generation.cancel()
    await asyncio.sleep(0)  # the stream is closing when the second cancel comes
    generation.cancel()
    await asyncio.gather(generation.task, return_exceptions=True)
    assert closed.is_set()


async def test_after_ollama_comes_back_one_probe_closes_the_breaker(
    root: Path, ollama: FakeOllama
) -> None:
    async with session(root, ollama, invokedItems=1) as client:
        uri = client.open(root / "add.py", SOURCE, "python")
        assert [insert_text(i) for i in await client.inline_completion(uri, 1, 4)]
        ollama.stop()
        for _ in range(3):  # the breaker opens after three failures in a row
            client.replace_text(uri, SOURCE + f"# {time.monotonic()}\n")
            assert await client.inline_completion(uri, 1, 4) == []
        opened = time.monotonic()
        assert route_state(await client.status()) == "open"
        ollama.start()
        ollama.reset()
        client.replace_text(uri, SOURCE + "# while open\n")
        assert await client.inline_completion(uri, 1, 4) == []
        assert ollama.generations() == [], "a request went through the open breaker"
        await asyncio.sleep(max(0.0, opened + BREAKER_COOLDOWN + 0.3 - time.monotonic()))
        other = client.open(root / "other.py", "def mul(a, b):\n    \n", "python")
        client.replace_text(uri, SOURCE + "# probe\n")
        ollama.first_token_delay = 0.5  # the probe is still running when the other asks
        answers = await asyncio.gather(
            client.inline_completion(uri, 1, 4), client.inline_completion(other, 1, 4)
        )
        assert sorted(len(items) for items in answers) == [0, 1], "exactly one probe"
        ollama.first_token_delay = 0.0
        assert len(ollama.generations()) == 1
        assert route_state(await client.status()) == "closed"
        assert [insert_text(i) for i in await client.inline_completion(other, 1, 4)]


def route_state(status: Any) -> str:
    [completion] = [r for r in status["models"]["routes"] if r["role"] == "completion"]
    return str(completion["state"])


async def test_a_data_folder_that_cannot_be_written_switches_memory_off_once(
    root: Path, ollama: FakeOllama, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    async with session(root, ollama, env={"XDG_DATA_HOME": str(blocker)}) as client:
        uri = client.open(root / "add.py", SOURCE, "python")
        assert [insert_text(i) for i in await client.inline_completion(uri, 1, 4)]
        added = await client.command("codehearth.memory.add", {"text": "remember this"})
        assert not added["ok"]
        status = await client.status()
        assert status["memory"]["available"] is False
        client.replace_text(uri, SOURCE + "# again\n")
        assert [insert_text(i) for i in await client.inline_completion(uri, 1, 4)]
    warnings = [m for m in client.log_messages if "memory is switched off" in m]
    assert len(warnings) == 1, client.log_messages


FILE_SIZE_LIMIT = 1 << 20
LIMITED_SERVER = [
    sys.executable,
    "-c",
    "import resource, sys\n"
    f"resource.setrlimit(resource.RLIMIT_FSIZE, ({FILE_SIZE_LIMIT}, {FILE_SIZE_LIMIT}))\n"
    "from codehearth.cli import main\n"
    "sys.exit(main(['serve', '--log-level', 'WARNING']))\n",
]
"""A server whose files cannot grow past 1 MiB: the disk is full for it (writes fail with
EFBIG; Python ignores the SIGXFSZ that would otherwise kill it)."""


@pytest.fixture
def data_home(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


async def test_a_disk_that_fills_up_mid_session_switches_memory_off_once(
    root: Path, ollama: FakeOllama, data_home: Path
) -> None:
    note = "a long note about the project " * 100
    async with session(
        root, ollama, env={"XDG_DATA_HOME": str(data_home)}, server_command=LIMITED_SERVER
    ) as client:
        uri = client.open(root / "add.py", SOURCE, "python")
        for _ in range(50):
            if (await client.status())["memory"]["available"]:
                break
            await asyncio.sleep(0.1)
        results = []
        for _ in range(FILE_SIZE_LIMIT // len(note) * 2):
            results.append(await client.command("codehearth.memory.add", {"text": note}))
            if not results[-1]["ok"]:
                break
        assert results[0]["ok"] and not results[-1]["ok"], "the disk never filled up"
        assert (await client.status())["memory"]["available"] is False
        again = await client.command("codehearth.memory.add", {"text": "one more"})
        assert not again["ok"]
        assert [insert_text(i) for i in await client.inline_completion(uri, 1, 4)]
    warnings = [m for m in client.log_messages if "memory is switched off" in m]
    assert len(warnings) == 1, client.log_messages
