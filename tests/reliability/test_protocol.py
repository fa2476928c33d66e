"""Raw bytes on stdin: every request gets exactly one answer, the server stays alive.

Runs the real ``codehearth serve`` and speaks the base protocol by hand, so malformed
frames and messages (which no LSP client library would send) can be tested.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from codehearth.framing import Frame, FrameReader

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


class Replies:
    """What the server writes, parsed on a thread by the server's own frame reader:
    responses are looked up by id, notifications are also kept in order."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.notifications: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, args=(read,), daemon=True)
        self._reader.start()

    def _read(self, read: Callable[[int], bytes]) -> None:
        with contextlib.suppress(OSError):  # the connection was closed under the reader
            for item in FrameReader(read):
                if isinstance(item, Frame):
                    message = json.loads(item.body)
                    if "method" in message and "id" not in message:
                        self.notifications.append(message)
                    self.messages.put(message)

    def response(self, msg_id: Any, timeout: float = 10) -> dict[str, Any]:
        """The response with this id (notifications and other responses are skipped)."""
        while True:
            message = self.messages.get(timeout=timeout)
            if "method" not in message and message.get("id") == msg_id:
                return message


class RawSession(Replies):
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
        assert self.process.stdout is not None
        stdout = self.process.stdout.fileno()
        super().__init__(lambda size: os.read(stdout, size))

    def send(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

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


def notify(method: str, params: dict[str, Any]) -> bytes:
    return frame({"jsonrpc": "2.0", "method": method, "params": params})


def test_changing_or_closing_a_document_never_opened_is_ignored_without_a_popup(
    session: RawSession,
) -> None:
    session.initialize()
    never_opened = {"uri": "file:///never/opened.py", "version": 2}
    edit = {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}}
    session.send(
        notify(
            "textDocument/didChange",
            {"textDocument": never_opened, "contentChanges": [{**edit, "text": "x = 1"}]},
        )
    )
    session.send(notify("textDocument/didClose", {"textDocument": {"uri": never_opened["uri"]}}))
    assert "result" in session.ping("after-stray-change")

    opened = {"uri": "file:///never/opened.py", "languageId": "python", "version": 3, "text": ""}
    session.send(notify("textDocument/didOpen", {"textDocument": opened}))
    session.send(
        notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": opened["uri"], "version": 4},
                "contentChanges": [{**edit, "text": "y = 2"}],
            },
        )
    )
    assert "result" in session.ping("after-real-change")
    popups = [n for n in session.notifications if n["method"] == "window/showMessage"]
    assert popups == []


def test_tcp_serves_one_client_with_the_same_checks_as_stdio(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "codehearth", "serve", "--tcp", "127.0.0.1:0"]
    server = subprocess.Popen(
        [*command, "--log-level", "WARNING"], stderr=subprocess.PIPE, env=env, text=True
    )
    try:
        assert server.stderr is not None
        announced = server.stderr.readline()
        assert announced.startswith("codehearth: listening on 127.0.0.1:"), announced
        port = int(announced.rpartition(":")[2])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            replies = Replies(connection.recv)
            connection.sendall(frame(INITIALIZE))
            assert "result" in replies.response("init")
            connection.sendall(b'{"not a frame"}\r\n\r\n' + frame(b"{broken json"))
            assert replies.response(None)["error"]["code"] == -32700
            connection.sendall(frame({"jsonrpc": "2.0", "id": "bye", "method": "shutdown"}))
            assert replies.response("bye") == {"jsonrpc": "2.0", "id": "bye", "result": None}
            connection.sendall(frame({"jsonrpc": "2.0", "method": "exit"}))
            assert server.wait(10) == 0
    finally:
        server.kill()
        server.wait(10)


@pytest.mark.parametrize("host", ["0.0.0.0", "[::]"])
def test_tcp_refuses_to_listen_beyond_this_machine_unless_allowed(
    tmp_path: Path, host: str
) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    refused = subprocess.run(
        [sys.executable, "-m", "codehearth", "serve", "--tcp", f"{host}:0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert refused.returncode == 2
    assert "not a loopback address" in refused.stderr and "--allow-remote" in refused.stderr
