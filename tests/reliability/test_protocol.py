"""Raw bytes on stdin: every request gets exactly one answer, the server stays alive.

Runs the real ``codehearth serve`` and speaks the base protocol by hand, so malformed
frames and messages (which no LSP client library would send) can be tested.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": "init",
    "method": "initialize",
    "params": {
        "processId": None,
        "rootUri": None,
        "capabilities": {},
        "initializationOptions": {
            "ollama": {"host": "http://127.0.0.1:9", "warmUp": False},
            "index": {"enabled": False},
        },
    },
}


def frame(payload: Any, header: str = "Content-Length") -> bytes:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return f"{header}: {len(body)}\r\n\r\n".encode() + body


class RawSession:
    """The server as a subprocess; responses parsed from its stdout on a thread."""

    def __init__(self, tmp: Path) -> None:
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "codehearth", "serve", "--log-level", "WARNING"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                if line.strip() == b"":
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            assert length is not None
            self.messages.put(json.loads(stream.read(length)))

    def send(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def response(self, msg_id: Any, timeout: float = 10) -> dict[str, Any]:
        """The response with this id (notifications and other responses are skipped)."""
        while True:
            message = self.messages.get(timeout=timeout)
            if "method" not in message and message.get("id") == msg_id:
                return message

    def initialize(self) -> None:
        self.send(frame(INITIALIZE))
        assert "result" in self.response("init")
        self.send(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))

    def ping(self, msg_id: str) -> dict[str, Any]:
        self.send(
            frame(
                {
                    "jsonrpc": "2.0",
                    "id": msg_id,
                    "method": "workspace/executeCommand",
                    "params": {"command": "codehearth.status", "arguments": []},
                }
            )
        )
        return self.response(msg_id)

    def close(self) -> int:
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait(10)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[RawSession]:
    raw = RawSession(tmp_path)
    yield raw
    raw.close()


def test_request_before_initialize_gets_server_not_initialized(session: RawSession) -> None:
    session.send(
        frame(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "textDocument/hover",
                "params": {
                    "textDocument": {"uri": "file:///x.py"},
                    "position": {"line": 0, "character": 0},
                },
            }
        )
    )
    assert session.response(1)["error"]["code"] == -32002
    session.initialize()
    assert "result" in session.ping("after")


BAD_MESSAGES = [
    pytest.param(
        b'{"jsonrpc": "2.0", "id": 7, "method": "shutdo', None, -32700, id="truncated-json"
    ),
    pytest.param(b"\xff\xfe not utf-8", None, -32700, id="invalid-utf8"),
    pytest.param(b"[1, 2, 3]", None, -32600, id="not-an-object"),
    pytest.param(
        json.dumps({"id": 8, "method": "shutdown"}).encode(), 8, -32600, id="missing-jsonrpc"
    ),
    pytest.param(
        json.dumps({"jsonrpc": "2.0", "id": {"x": 1}, "method": "shutdown"}).encode(),
        None,
        -32600,
        id="object-id",
    ),
    pytest.param(
        json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 9,
                "method": "textDocument/inlineCompletion",
                "params": {"textDocument": {"uri": "file:///x.py"}},
            }
        ).encode(),
        9,
        -32602,
        id="missing-position",
    ),
    pytest.param(
        json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 10,
                "method": "textDocument/inlineCompletion",
                "params": {
                    "textDocument": {"uri": "file:///x.py"},
                    "position": {"line": -1, "character": 0},
                    "context": {"triggerKind": 1},
                },
            }
        ).encode(),
        10,
        -32602,
        id="negative-line",
    ),
    pytest.param(
        json.dumps({"jsonrpc": "2.0", "id": 11, "method": "no/such"}).encode(),
        11,
        -32601,
        id="unknown-method",
    ),
]


@pytest.mark.parametrize(("body", "msg_id", "code"), BAD_MESSAGES)
def test_bad_message_gets_one_error_and_the_server_keeps_answering(
    session: RawSession, body: bytes, msg_id: Any, code: int
) -> None:
    session.initialize()
    session.send(frame(body))
    assert session.response(msg_id)["error"]["code"] == code
    assert "result" in session.ping("still-alive")


FRAMINGS = [
    pytest.param(
        lambda body: f"content-length: {len(body)}\r\n\r\n".encode() + body, id="lowercase-header"
    ),
    pytest.param(lambda body: f"Content-Length:{len(body)}\n\n".encode() + body, id="lf-only"),
    pytest.param(
        lambda body: (
            f"Content-Length: {len(body)}\r\nContent-Type: application/"
            f"vscode-jsonrpc; charset=utf-8\r\n\r\n".encode()
            + body
        ),
        id="content-type",
    ),
    pytest.param(
        lambda body: b"garbage line\r\n\r\n" + frame(json.loads(body)), id="garbage-first"
    ),
    pytest.param(
        lambda body: b"Content-Length: 1000000000000\r\n\r\n{}" + frame(json.loads(body)),
        id="huge-length",
    ),
    pytest.param(
        lambda body: b"Content-Length: -5\r\n\r\n" + frame(json.loads(body)), id="negative-length"
    ),
]


@pytest.mark.parametrize("framing", FRAMINGS)
def test_odd_framing_is_understood_or_skipped_without_going_deaf(
    session: RawSession, framing: Any
) -> None:
    session.initialize()
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": "framed",
            "method": "workspace/executeCommand",
            "params": {"command": "codehearth.status", "arguments": []},
        }
    ).encode()
    session.send(framing(body))
    assert "result" in session.response("framed")
    assert "result" in session.ping("next")


def test_shutdown_then_requests_are_refused_and_exit_is_clean(session: RawSession) -> None:
    session.initialize()
    session.send(frame({"jsonrpc": "2.0", "id": "bye", "method": "shutdown"}))
    assert session.response("bye")["result"] is None
    session.send(
        frame(
            {
                "jsonrpc": "2.0",
                "id": "late",
                "method": "workspace/executeCommand",
                "params": {"command": "codehearth.status", "arguments": []},
            }
        )
    )
    assert session.response("late")["error"]["code"] == -32600
    session.send(frame({"jsonrpc": "2.0", "method": "exit"}))
    assert session.process.wait(10) == 0


def test_exit_without_shutdown_exits_with_1(session: RawSession) -> None:
    session.initialize()
    session.send(frame({"jsonrpc": "2.0", "method": "exit"}))
    assert session.process.wait(10) == 1
