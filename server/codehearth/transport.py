"""Our transports: every request gets exactly one answer, bad input never kills us.

Replaces pygls's stdin loop (``run_async``) for ``codehearth serve`` and its TCP server
for ``codehearth serve --tcp``; both go through the same checks:

* TCP listens on a loopback address only, unless the user passes ``--allow-remote``, and
  serves one client (an editor session), then exits as on stdio;
* a dedicated reader thread frames messages with :class:`~codehearth.framing.FrameReader`
  and hands each whole body to the event loop (one thread hop per message, and the pygls
  thread pool stays free for real work);
* :class:`MessageGate` validates each body before pygls sees it: invalid JSON gets
  ``-32700``, a malformed message ``-32600``, params that do not fit the method ``-32602``
  with the request's id (pygls would send nothing), a request before ``initialize``
  ``-32002`` and a request after ``shutdown`` ``-32600``; error texts carry no payload;
* ``didChange`` and ``didClose`` for a document that was never opened (a client bug, or a
  message that raced a close) are dropped with one log line per document; pygls would
  fail on them and the user would see an internal-error popup;
* ``exit`` ends the process with 0 after ``shutdown`` and 1 without, per the spec;
* a handler that raises is answered ``-32603`` naming only the exception's type: pygls
  would send its message (which may quote the request, a path or a secret in the code)
  and the traceback with the server's file paths; both stay in the server log.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from lsprotocol import types
from lsprotocol.types import ResponseError
from pygls.exceptions import JsonRpcInvalidParams
from pygls.io_ import StdoutWriter
from pygls.protocol import JsonRPCProtocol

from codehearth.framing import Frame, FrameReader

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601
INTERNAL_ERROR = -32603
SERVER_NOT_INITIALIZED = -32002

_ALLOWED_BEFORE_INITIALIZE = frozenset({types.INITIALIZE, types.EXIT})
FUTURES_PRUNE_SECONDS = 30.0
_NEEDS_OPEN_DOCUMENT = frozenset({types.TEXT_DOCUMENT_DID_CHANGE, types.TEXT_DOCUMENT_DID_CLOSE})
_STRAY_URIS_REMEMBERED = 256


class MessageGate:
    """Checks a raw message and either answers the error itself or passes it to pygls."""

    def __init__(self, protocol: JsonRPCProtocol, open_document: Callable[[str], Any]) -> None:
        self.protocol = protocol
        self.open_document = open_document  # the server's: None for a document not open
        self.initialized = False
        self.shut_down = False
        self._stray_uris: set[str] = set()

    def dispatch(self, body: bytes) -> None:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            self._error(None, PARSE_ERROR, "Parse error: the message is not valid JSON")
            return
        if not isinstance(data, dict):
            self._error(None, INVALID_REQUEST, "Invalid request: expected a JSON object")
            return
        msg_id = data.get("id")
        method = data.get("method")
        has_id = "id" in data
        if msg_id is not None and (isinstance(msg_id, bool) or not isinstance(msg_id, int | str)):
            self._error(None, INVALID_REQUEST, "Invalid request: id must be a number or string")
            return
        if data.get("jsonrpc") != "2.0":
            if has_id:
                self._error(msg_id, INVALID_REQUEST, 'Invalid request: "jsonrpc" must be "2.0"')
            else:
                log.warning("dropped a notification without jsonrpc 2.0")
            return
        if method is not None and not isinstance(method, str):
            self._error(msg_id, INVALID_REQUEST, "Invalid request: method must be a string")
            return
        is_request = has_id and method is not None
        if method is not None and not self._lifecycle_allows(method, msg_id, is_request):
            return
        try:
            message = self.protocol.structure_message(data)
        except Exception as error:
            self._invalid(method, msg_id, is_request, error)
            return
        if method in _NEEDS_OPEN_DOCUMENT and not self._document_is_open(method, message):
            return
        if method == types.INITIALIZE:
            self.initialized = True
        elif method == types.SHUTDOWN:
            self.shut_down = True
        self.protocol.handle_message(message)

    def _lifecycle_allows(self, method: str, msg_id: Any, is_request: bool) -> bool:
        if not self.initialized and method not in _ALLOWED_BEFORE_INITIALIZE:
            if is_request:
                self._error(msg_id, SERVER_NOT_INITIALIZED, "Server not initialized")
            return False
        if self.shut_down and method != types.EXIT:
            if is_request:
                self._error(msg_id, INVALID_REQUEST, "Invalid request: the server is shut down")
            return False
        return True

    def _document_is_open(self, method: str, message: Any) -> bool:
        uri = message.params.text_document.uri
        if self.open_document(uri) is not None:
            return True
        if uri not in self._stray_uris and len(self._stray_uris) < _STRAY_URIS_REMEMBERED:
            self._stray_uris.add(uri)
            log.warning("ignored %s for a document that is not open: %s", method, uri)
        return False

    def _invalid(self, method: str | None, msg_id: Any, is_request: bool, error: Exception) -> None:
        cause = error.__cause__ or error
        summary = str(cause).splitlines()[0][:200] if str(cause) else type(cause).__name__
        if is_request and method and self.protocol.get_message_type(method) is None:
            if method not in self.protocol.fm.features:
                self._error(msg_id, METHOD_NOT_FOUND, f"Method not found: {method}")
                return
        if is_request:
            code = INVALID_PARAMS if isinstance(error, JsonRpcInvalidParams) else INVALID_REQUEST
            self._error(msg_id, code, f"Invalid params for {method}: {summary}")
        else:
            log.warning("dropped %s with invalid params: %s", method or "a message", summary)

    def _error(self, msg_id: Any, code: int, message: str) -> None:
        response = {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}
        self.protocol._send_data(response)  # already plain JSON: sent as is


def hide_internal_errors(protocol: JsonRPCProtocol) -> None:
    """Answer ``-32603`` with the exception's type only: no message, no traceback."""
    send_response = protocol._send_response

    def send_without_internals(
        msg_id: Any, result: Any = None, error: ResponseError | None = None
    ) -> None:
        if error is not None and error.code == INTERNAL_ERROR:
            error = ResponseError(INTERNAL_ERROR, internal_error_message(error.message))
        send_response(msg_id, result, error)

    protocol._send_response = send_without_internals  # type: ignore[method-assign]


def internal_error_message(message: str) -> str:
    """``"ValueError: invalid literal ..."`` (pygls's text) -> a text without the details."""
    kind = message.partition(":")[0].strip()
    named = kind.replace(".", "").replace("_", "").isalnum() and kind[:1].isalpha()
    what = kind.rpartition(".")[2] if named else "an exception"
    return f"Internal error: {what} in the server (details are in the server log)"


def serve_stdio(server: Any, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
    """Run ``server`` (a pygls LanguageServer) on stdio; returns the process exit code."""
    descriptor = (stdin or sys.stdin.buffer).fileno()
    # os.read on the descriptor: a thread blocked there holds no Python-level lock, so the
    # interpreter can exit while it waits.
    return _serve(server, lambda size: os.read(descriptor, size), stdout or sys.stdout.buffer)


class NotLoopbackError(ValueError):
    """``serve --tcp`` was asked to listen where other machines could connect."""


def serve_tcp(server: Any, host: str, port: int, *, allow_remote: bool = False) -> int:
    """Listen on ``host:port``, serve the first client that connects (an editor session, as
    on stdio) and return the exit code when it ends. ``host`` must be a loopback address
    unless ``allow_remote``: whoever connects can read the workspace through the server.
    The address checked is the address bound (a name is not resolved twice)."""
    loopback = loopback_addresses(host)
    if not allow_remote and not loopback:
        raise NotLoopbackError(
            f"{host} is not a loopback address: anyone who can reach it could read this "
            "workspace through the server (pass --allow-remote to listen there anyway)"
        )
    bind = host if allow_remote else loopback[0]
    try:
        with socket.create_server((bind, port), backlog=1) as listener:
            bound_host, bound_port = listener.getsockname()[:2]
            log.info("listening on %s:%d for one client", bound_host, bound_port)
            print(
                f"codehearth: listening on {bound_host}:{bound_port}", file=sys.stderr, flush=True
            )
            connection, peer = listener.accept()
    except KeyboardInterrupt:
        return 130
    log.info("client connected from %s:%d", peer[0], peer[1])
    with connection:
        output = connection.makefile("wb")
        try:
            return _serve(server, connection.recv, output)
        finally:
            with contextlib.suppress(OSError):  # the client is gone: nothing left to send
                output.close()


def loopback_addresses(host: str) -> list[str]:
    """The numeric addresses ``host`` resolves to when every one of them is on this
    machine's loopback; none when one is not, or when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    loopback = all(ipaddress.ip_address(a.partition("%")[0]).is_loopback for a in addresses)
    return addresses if loopback else []


def _serve(server: Any, read: Callable[[int], bytes], output: BinaryIO) -> int:
    server._stop_event = threading.Event()
    server.protocol.set_writer(StdoutWriter(output))
    hide_internal_errors(server.protocol)
    gate = MessageGate(server.protocol, server.open_document)
    try:
        asyncio.run(_run(server, gate, read))
    except SystemExit as exit_request:  # `exit`: pygls calls sys.exit(0 or 1)
        code = exit_request.code
        return code if isinstance(code, int) else 0
    except BrokenPipeError:
        log.error("the client closed the connection")
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        server.shutdown()
    # The input ended without `exit`: the editor went away.
    return 0 if gate.shut_down else 1


async def _run(server: Any, gate: MessageGate, read: Callable[[int], bytes]) -> None:
    loop = asyncio.get_running_loop()
    finished = asyncio.Event()

    def read_frames() -> None:
        try:
            for frame in FrameReader(read):
                if isinstance(frame, Frame):
                    loop.call_soon_threadsafe(_dispatch, gate, frame.body)
                else:
                    loop.call_soon_threadsafe(log.warning, "bad frame: %s", frame.reason)
        except (OSError, ValueError) as error:
            loop.call_soon_threadsafe(log.error, "reading the client's messages failed: %s", error)
        finally:
            loop.call_soon_threadsafe(finished.set)

    threading.Thread(target=read_frames, name="lsp-reader", daemon=True).start()
    pruner = asyncio.create_task(_prune_futures(server.protocol))
    try:
        await finished.wait()
    finally:
        pruner.cancel()


def _dispatch(gate: MessageGate, body: bytes) -> None:
    try:
        gate.dispatch(body)
    except SystemExit:
        raise
    except Exception:  # a bug in a handler's dispatch must not stop the loop
        log.exception("internal error while dispatching a message")


async def _prune_futures(protocol: JsonRPCProtocol) -> None:
    """pygls never drops finished futures of notifications and commands (its P9): prune."""
    while True:
        await asyncio.sleep(FUTURES_PRUNE_SECONDS)
        prune_done_futures(protocol)


def prune_done_futures(protocol: JsonRPCProtocol) -> int:
    futures = protocol._request_futures
    done = [key for key, future in futures.items() if future.done()]
    for key in done:
        futures.pop(key, None)
    return len(done)
