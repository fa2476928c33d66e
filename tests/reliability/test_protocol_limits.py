"""Protocol limits that ``test_protocol.py`` does not reach: what an internal error may
say, a huge body actually streamed, the pygls futures table, exit codes when stdin ends,
and notifications with bad params.

All but the huge body run the real server in this process over two pipes
(``serve_stdio``, what ``codehearth serve`` runs), so the futures table can be looked at
and the prune interval shortened.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codehearth import transport
from codehearth.framing import MAX_CONTENT_LENGTH
from codehearth.server import CodeHearthServer, create_server
from tests.reliability.test_protocol import RawSession, Replies, frame

SECRET = "AKIAIOSFODNN7EXAMPLE"


def status_request(msg_id: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": msg_id,
        "method": "workspace/executeCommand",
        "params": {"command": "codehearth.status", "arguments": []},
    }


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


class PipedServer(Replies):
    """``serve_stdio`` on a thread of this process, spoken to through two pipes."""

    def __init__(self, server: CodeHearthServer) -> None:
        self.server = server
        stdin_read, self._stdin_write = os.pipe()
        self._stdout_read, stdout_write = os.pipe()
        self.exit_code: int | None = None
        self._thread = threading.Thread(
            target=self._serve,
            args=(os.fdopen(stdin_read, "rb"), os.fdopen(stdout_write, "wb")),
            daemon=True,
        )
        self._thread.start()
        super().__init__(lambda size: os.read(self._stdout_read, size))

    def _serve(self, stdin: Any, stdout: Any) -> None:
        with stdin, stdout:
            self.exit_code = transport.serve_stdio(self.server, stdin, stdout)

    def send(self, payload: Any) -> None:
        os.write(self._stdin_write, frame(payload))

    def initialize(self) -> None:
        self.send(
            {
                "jsonrpc": "2.0",
                "id": "init",
                "method": "initialize",
                "params": {"processId": None, "rootUri": None, "capabilities": {}},
            }
        )
        assert "result" in self.response("init")

    def close_stdin(self) -> int | None:
        os.close(self._stdin_write)
        self._thread.join(10)
        self._reader.join(10)  # it stops at the end of the server's output
        os.close(self._stdout_read)
        return self.exit_code


@pytest.fixture
def piped() -> Iterator[PipedServer]:
    served = PipedServer(create_server())
    yield served
    if served.exit_code is None:
        served.close_stdin()


@pytest.fixture
def session(tmp_path: Path) -> Iterator[RawSession]:
    raw = RawSession(tmp_path)
    yield raw
    raw.close()


def test_internal_error_names_the_exception_type_only() -> None:
    """A handler that raises: -32603 without pygls's traceback (the server's file paths)
    and without the exception's text (which may quote a path or a secret)."""
    server = create_server()

    @server.command("test.raise")
    async def raising(ls: CodeHearthServer) -> None:
        raise ValueError(f"cannot read /home/someone/project/.env: {SECRET}")

    piped = PipedServer(server)
    try:
        piped.initialize()
        piped.send(
            {
                "jsonrpc": "2.0",
                "id": "boom",
                "method": "workspace/executeCommand",
                "params": {"command": "test.raise", "arguments": []},
            }
        )
        error = piped.response("boom")["error"]
        assert error == {
            "code": -32603,
            "message": "Internal error: ValueError in the server (details are in the server log)",
        }
        piped.send(status_request("after"))
        assert "result" in piped.response("after")
    finally:
        piped.close_stdin()


def test_a_body_over_the_cap_is_skipped_as_it_streams_without_buffering_it(
    session: RawSession,
) -> None:
    session.initialize()
    assert "result" in session.ping("warm")
    before = rss_kib(session.process.pid)
    length = MAX_CONTENT_LENGTH + 1
    chunk = b"x" * (1 << 20)
    session.send(f"Content-Length: {length}\r\n\r\n".encode())
    for _ in range(length // len(chunk)):
        session.send(chunk)
    session.send(b"x" * (length % len(chunk)))
    assert "result" in session.ping("after-the-flood")
    assert rss_kib(session.process.pid) - before < 16 * 1024


@pytest.mark.parametrize(
    ("shut_down", "code"),
    [pytest.param(True, 0, id="after-shutdown"), pytest.param(False, 1, id="without-shutdown")],
)
def test_stdin_ending_without_exit_ends_the_server(
    piped: PipedServer, shut_down: bool, code: int
) -> None:
    """The editor went away: 0 when it had shut us down, 1 when it crashed (what
    ``codehearth serve`` exits with)."""
    piped.initialize()
    if shut_down:
        piped.send({"jsonrpc": "2.0", "id": "bye", "method": "shutdown"})
        piped.response("bye")
    assert piped.close_stdin() == code


BAD_NOTIFICATIONS = [
    pytest.param(
        {"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {}}},
        id="did-change-without-changes",
    ),
    pytest.param(
        {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": 7}},
        id="did-open-with-a-number",
    ),
    pytest.param({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {}}, id="cancel-no-id"),
    pytest.param({"jsonrpc": "2.0", "method": "$/setTrace", "params": None}, id="no-params"),
]


@pytest.mark.parametrize("notification", BAD_NOTIFICATIONS)
def test_bad_notification_is_dropped_without_answer_or_popup(
    piped: PipedServer, notification: dict[str, Any]
) -> None:
    piped.initialize()
    piped.send(notification)
    piped.send(status_request("after"))
    seen = []
    while not (seen and seen[-1].get("id") == "after"):
        seen.append(piped.messages.get(timeout=10))
    assert [m.get("method") for m in seen[:-1]] == []


def test_done_futures_of_notifications_and_commands_are_pruned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pygls keeps a future per notification and command forever (its P9); the transport
    prunes finished ones every FUTURES_PRUNE_SECONDS."""
    monkeypatch.setattr(transport, "FUTURES_PRUNE_SECONDS", 0.05)
    piped = PipedServer(create_server())
    piped.initialize()
    uri = "file:///tmp/never-on-disk.py"
    piped.send(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": ""}
            },
        }
    )
    for version in range(2, 502):
        piped.send(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didChange",
                "params": {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [{"text": f"x = {version}\n"}],
                },
            }
        )
    for number in range(100):
        piped.send(status_request(number))
    for number in range(100):
        assert "result" in piped.response(number)
    futures = piped.server.protocol._request_futures
    deadline = time.monotonic() + 5
    while len(futures) > 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(futures) <= 10
    piped.send({"jsonrpc": "2.0", "id": "bye", "method": "shutdown"})
    piped.response("bye")
    piped.send({"jsonrpc": "2.0", "method": "exit"})
    piped.close_stdin()
    assert piped.exit_code == 0
