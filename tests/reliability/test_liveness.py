"""Liveness: cheap requests stay fast while a model streams, and floods of pipelined
requests and keystrokes are each answered once, with memory that stops growing.

The floods are sent as raw bytes (one write for thousands of messages, as a fast editor
or a replayed session would) to the real ``codehearth serve``; answers are counted by id.
"""

from __future__ import annotations

import asyncio
import collections
import queue
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.e2e.conftest import SERVER_COMMAND, inline_params, open_document, start
from tests.fakes.fake_ollama import FakeOllama
from tests.reliability.test_protocol import RawSession, frame
from tests.reliability.test_protocol_limits import rss_kib, status_request

CHEAP_REQUEST_P95_SECONDS = 0.2
FLOOD = 5000
KEYSTROKES_PER_BURST = 2000
SOURCE = "def add(a, b):\n    \n"


class FloodSession(RawSession):
    """A raw session initialised against the fake Ollama (no built-in model, no index)."""

    def start(self, ollama: FakeOllama, root: Path) -> None:
        self.send(
            frame(
                {
                    "jsonrpc": "2.0",
                    "id": "init",
                    "method": "initialize",
                    "params": {
                        "processId": None,
                        "rootUri": root.as_uri(),
                        "capabilities": {},
                        "initializationOptions": {
                            "ollama": {"host": ollama.url, "warmUp": False},
                            "models": {"embedded": "off"},
                            "index": {"enabled": False},
                        },
                    },
                }
            )
        )
        assert "result" in self.response("init")
        self.send(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))

    def answers(self, ids: set[Any], timeout: float = 60) -> collections.Counter[Any]:
        """How often each response id arrived, until every one of ``ids`` has (then a
        short wait for duplicates)."""
        counts: collections.Counter[Any] = collections.Counter()
        deadline = time.monotonic() + timeout
        while not ids <= counts.keys():
            message = self.messages.get(timeout=max(0.1, deadline - time.monotonic()))
            if "method" not in message:
                counts[message.get("id")] += 1
        settle = time.monotonic() + 0.3
        while time.monotonic() < settle:
            try:
                message = self.messages.get(timeout=0.05)
            except queue.Empty:
                continue
            if "method" not in message:
                counts[message.get("id")] += 1
        return counts

    def open(self, uri: str, text: str) -> None:
        document = {"uri": uri, "languageId": "python", "version": 1, "text": text}
        self.send(
            frame(
                {
                    "jsonrpc": "2.0",
                    "method": "textDocument/didOpen",
                    "params": {"textDocument": document},
                }
            )
        )


@pytest.fixture
def flood(tmp_path: Path, ollama: FakeOllama) -> Iterator[FloodSession]:
    root = tmp_path / "project"
    root.mkdir()
    session = FloodSession(tmp_path)
    session.start(ollama, root)
    yield session
    session.close()


def code_action(msg_id: int, uri: str) -> dict[str, Any]:
    selection = {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}
    return {
        "jsonrpc": "2.0",
        "id": msg_id,
        "method": "textDocument/codeAction",
        "params": {
            "textDocument": {"uri": uri},
            "range": selection,
            "context": {"diagnostics": []},
        },
    }


def pipelined_round(session: FloodSession, uri: str, first_id: int) -> None:
    ids = range(first_id, first_id + FLOOD)
    session.send(
        b"".join(frame(status_request(i) if i % 50 == 0 else code_action(i, uri)) for i in ids)
    )
    counts = session.answers(set(ids))
    assert set(counts) == set(ids)
    assert set(counts.values()) == {1}, "some request was answered more than once"


def test_pipelined_requests_are_each_answered_once_with_memory_that_stops_growing(
    flood: FloodSession, tmp_path: Path
) -> None:
    uri = (tmp_path / "project" / "add.py").as_uri()
    flood.open(uri, SOURCE)
    started = rss_kib(flood.process.pid)
    pipelined_round(flood, uri, 0)
    after_first = rss_kib(flood.process.pid)
    pipelined_round(flood, uri, FLOOD)
    after_second = rss_kib(flood.process.pid)
    assert after_first - started < 64 * 1024
    assert after_second - after_first < 8 * 1024, (started, after_first, after_second)


def keystroke(uri: str, version: int, start: int, end: int, text: str) -> bytes:
    """One edit of line 0 (a comment): typing replaces nothing, backspace inserts nothing."""
    return frame(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didChange",
            "params": {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [
                    {
                        "range": {
                            "start": {"line": 0, "character": start},
                            "end": {"line": 0, "character": end},
                        },
                        "text": text,
                    }
                ],
            },
        }
    )


def typed_then_erased(uri: str, first_version: int) -> bytes:
    """Half a burst types characters after ``# ``, the other half backspaces them."""
    half = KEYSTROKES_PER_BURST // 2
    typing = [keystroke(uri, first_version + n, 2 + n, 2 + n, "x") for n in range(half)]
    erasing = [
        keystroke(uri, first_version + half + n, 1 + half - n, 2 + half - n, "")
        for n in range(half)
    ]
    return b"".join(typing + erasing)


def test_bursts_of_keystrokes_are_absorbed_and_the_text_stays_right(
    flood: FloodSession, ollama: FakeOllama, tmp_path: Path
) -> None:
    uri = (tmp_path / "project" / "add.py").as_uri()
    flood.open(uri, "# \n" + SOURCE)
    rss = [rss_kib(flood.process.pid)]
    for burst in range(3):
        version = 2 + burst * KEYSTROKES_PER_BURST
        flood.send(typed_then_erased(uri, version) + frame(code_action(burst, uri)))
        assert flood.answers({burst}) == {burst: 1}
        rss.append(rss_kib(flood.process.pid))
    assert rss[-1] - rss[1] < 8 * 1024, rss
    flood.send(keystroke(uri, 2 + 3 * KEYSTROKES_PER_BURST, 2, 2, "done"))
    completion = {
        "jsonrpc": "2.0",
        "id": "complete",
        "method": "textDocument/inlineCompletion",
        "params": {
            "textDocument": {"uri": uri},
            "position": {"line": 2, "character": 4},
            "context": {"triggerKind": 1},
        },
    }
    flood.send(frame(completion))
    assert flood.response("complete")["result"]["items"][0]["insertText"] == "return a + b"
    prompt = ollama.generations()[-1].body["prompt"]  # type: ignore[index]
    assert "<|fim_prefix|># done\ndef add(a, b):\n    <|fim_suffix|>" in prompt


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def streaming_client(
    lsp_client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> AsyncIterator[None]:
    await start(lsp_client, ollama, workspace, "visual-studio-code")
    yield
    await lsp_client.shutdown_session()


async def timed(request: Any) -> float:
    started = time.perf_counter()
    await request
    return time.perf_counter() - started


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


async def test_cheap_requests_stay_fast_while_a_slow_stream_runs(
    streaming_client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    client = streaming_client
    ollama.token_delay = 0.05
    ollama.set_text("total = a + b\n" * 40)  # a few seconds of tokens
    uri = open_document(client, workspace, "add.py", SOURCE)
    plain = open_document(client, workspace, "notes.py", "x = 1\ny = 2\n")
    stream = asyncio.ensure_future(
        client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(uri, 1, 4), msg_id="slow"
        )
    )
    assert await ollama.wait_for_async(lambda: ollama.open_streams == 1, timeout=10)
    status = types.ExecuteCommandParams(command="codehearth.status", arguments=[])
    action = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=plain),
        range=types.Range(start=types.Position(0, 0), end=types.Position(1, 0)),
        context=types.CodeActionContext(diagnostics=[]),
    )
    status_times, action_times = [], []
    for _ in range(30):
        status_times.append(await timed(client.workspace_execute_command_async(status)))
        action_times.append(await timed(client.text_document_code_action_async(action)))
    assert ollama.open_streams == 1, "the stream ended before the measurement did"
    assert p95(status_times) < CHEAP_REQUEST_P95_SECONDS, status_times
    assert p95(action_times) < CHEAP_REQUEST_P95_SECONDS, action_times
    client.cancel_request(types.CancelParams(id="slow"))
    await asyncio.gather(stream, return_exceptions=True)
