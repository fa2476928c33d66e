"""The HTTP/1.1 server under the fake model servers (`FakeOllama`, `FakeOpenAI`).

`FakeHttpServer` listens on 127.0.0.1 and runs its own event loop in a daemon thread, so
it serves sync and async tests alike. It is stdlib only: asyncio streams plus a small
HTTP/1.1 parser, so every byte on the wire is under the fake's control, which is what
makes the faults possible: statuses, bodies cut short, hung requests, trickled bytes and
slow headers. Stopping and starting again on the same port simulates the server going
down and coming back.

The base owns all that does not depend on the protocol being faked: the lifecycle,
keep-alive connections, the routes table, the injected faults (`inject`), the record of
every request (`requests`, including whether the client hung up before its response
finished) and waiting on it (`wait_for`). A subclass supplies its routes, how its faults
rewrite an answer (`_respond`), the shape of its error bodies and what it records of a
request.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import enum
import functools
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from http import HTTPStatus
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar

JSON = dict[str, Any]

ANY_PATH = "*"
JSON_TYPE = "application/json; charset=utf-8"
LOOP_TIMEOUT = 5.0


def encode_json(payload: JSON) -> bytes:
    """Compact JSON, as Go's encoder writes it."""
    return json.dumps(payload, separators=(",", ":")).encode()


class HttpError(Exception):
    """Raised by route handlers; becomes the subclass's error reply (`_error_reply`)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class RecordedRequest:
    """One request as the fake saw it; the `finished_at`.. fields fill in as it ends."""

    method: str
    path: str
    body: JSON | None
    started_at: float
    finished_at: float | None = None
    completed: bool = False
    client_disconnected: bool = False
    status: int | None = None


@dataclass(frozen=True)
class Response:
    """How to answer one request: status, body parts and their timing."""

    status: int = 200
    content_type: str = JSON_TYPE
    parts: list[tuple[float, bytes]] = field(default_factory=list)  # (delay before, bytes)
    stream: bool = False
    header_delay: float = 0.0
    byte_interval: float = 0.0  # trickle: pause before every byte of the body
    truncate: bool = False  # close the connection before the body is complete
    hang: bool = False
    # Work before anything is written (a model load): False when the client left meanwhile.
    prepare: Callable[[Connection], Awaitable[bool]] | None = None
    late_body: Callable[[], bytes] | None = None  # the body, made once `prepare` is done
    close_after: bool = False  # close the connection after the answer, unannounced

    @classmethod
    def json(cls, payload: JSON, *, status: int = 200, delay: float = 0.0) -> Response:
        return cls(status=status, parts=[(delay, encode_json(payload))])


@dataclass
class Injection:
    """A fault waiting for matching requests; `remaining` None means until reset."""

    fault: enum.StrEnum
    remaining: int | None
    path: str | None
    delay: float = 0.0

    def matches(self, path: str, generation_paths: frozenset[str]) -> bool:
        if self.path is None:
            return path in generation_paths
        return self.path in (ANY_PATH, path)


# ---------------------------------------------------------------------------
# HTTP/1.1 on asyncio streams


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    keep_alive: bool
    body: JSON | None
    body_error: str | None

    def json_body(self) -> JSON:
        if self.body is None:
            raise HttpError(400, self.body_error or "missing request body")
        return self.body


def parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    """Request line and headers; raises ValueError when malformed."""
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, version = request_line.split(" ")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return method, target.split("?", 1)[0], version, headers


def parse_body(raw: bytes) -> tuple[JSON | None, str | None]:
    if not raw:
        return None, "missing request body"
    try:
        body = json.loads(raw)
    except ValueError as exc:
        return None, f"invalid JSON in request body: {exc}"
    if not isinstance(body, dict):
        return None, "request body must be a JSON object"
    return body, None


def wants_keep_alive(version: str, headers: Mapping[str, str]) -> bool:
    connection = headers.get("connection", "").lower()
    return connection == "keep-alive" if version == "HTTP/1.0" else connection != "close"


def response_head(status: int, content_type: str, framing: str, *, close: bool) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        f"Content-Type: {content_type}",
        f"Date: {formatdate(usegmt=True)}",
        framing,
        *(["Connection: close"] if close else []),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class Connection:
    """One client socket: buffered request reading and disconnect-aware writing."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._buffer = bytearray()
        self.gone = asyncio.Event()

    async def read_request(self) -> Request | None:
        """The next request, or None once the client closes the connection."""
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            if not await self._fill():
                return None
        method, path, version, headers = parse_head(bytes(self._buffer[:end]))
        del self._buffer[: end + 4]
        length = int(headers.get("content-length", "0"))
        while len(self._buffer) < length:
            if not await self._fill():
                return None
        raw = bytes(self._buffer[:length])
        del self._buffer[:length]
        body, error = parse_body(raw)
        keep_alive = wants_keep_alive(version, headers)
        return Request(method, path, headers, keep_alive, body, error)

    async def watch(self) -> None:
        """Read ahead while a response is sent, so a hang-up is seen immediately."""
        while await self._fill():
            pass
        self.gone.set()

    async def pause(self, seconds: float) -> bool:
        """Sleep, waking early if the client goes away; False if it has."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.gone.wait(), seconds)
        return not self.gone.is_set()

    async def send(self, data: bytes) -> bool:
        if self.gone.is_set():
            return False
        self._writer.write(data)
        try:
            await self._writer.drain()
        except ConnectionError:
            self.gone.set()
            return False
        return True

    async def send_body(self, data: bytes, *, chunked: bool, byte_interval: float) -> bool:
        pieces = [data[i : i + 1] for i in range(len(data))] if byte_interval else [data]
        for piece in pieces:
            if not await self.pause(byte_interval):
                return False
            if not await self.send(http_chunk(piece) if chunked else piece):
                return False
        return True

    def close(self) -> None:
        self._writer.close()

    def abort(self) -> None:
        self._writer.transport.abort()

    async def _fill(self) -> bool:
        try:
            data = await self._reader.read(65536)
        except ConnectionError:
            data = b""
        self._buffer += data
        return bool(data)


# ---------------------------------------------------------------------------
# The server

Record = TypeVar("Record", bound=RecordedRequest)
Handler = Callable[[Request], Response]


class FakeHttpServer(abc.ABC, Generic[Record]):
    """A fake HTTP server on 127.0.0.1, running its own loop in a daemon thread.

    A subclass sets the class attributes, passes its routes (`(method, path)` → handler)
    to `__init__`, and implements `_respond`, `_new_record`, `_unknown_route` and
    `_error_reply`.
    """

    thread_name: ClassVar[str]
    fault_type: ClassVar[type[enum.StrEnum]]
    """The faults `inject` accepts."""
    generation_paths: ClassVar[frozenset[str]]
    """The routes a fault injected without a `path` applies to."""
    stream_head_waits_for_first_part: ClassVar[bool]
    """True: a streamed answer's head goes out with its first part, after that part's
    delay; False: at once, before any part is due."""

    def __init__(self, port: int, routes: Mapping[tuple[str, str], Handler]) -> None:
        self._port = port
        self._routes = dict(routes)
        self._lock = threading.Condition()
        self._faults: list[Injection] = []
        self._requests: list[Record] = []
        self._open_streams = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], Connection] = {}

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> str:
        """Bind (the same port as last time, once known) and serve; returns the URL."""
        if self._loop is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name=self.thread_name, daemon=True)
        thread.start()
        try:
            listening = asyncio.run_coroutine_threadsafe(self._listen(), loop)
            self._server = listening.result(LOOP_TIMEOUT)
        except BaseException:
            self._stop_loop(loop, thread)
            raise
        self._loop, self._thread = loop, thread
        self._port = self._server.sockets[0].getsockname()[1]
        return self.url

    def stop(self) -> None:
        """Close the port and every connection, hung ones included."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(LOOP_TIMEOUT)
        finally:
            self._stop_loop(loop, thread)
            self._loop = self._thread = self._server = None

    def restart(self) -> str:
        """Stop and start again on the same port."""
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self._loop is not None

    @property
    def port(self) -> int:
        if not self._port:
            name = type(self).__name__
            raise RuntimeError(f"{name} has not been started, so it has no port yet")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- configuration ------------------------------------------------------

    def inject(
        self, fault: enum.StrEnum | str, *, times: int | None = None, path: str | None = None
    ) -> None:
        """Make matching requests misbehave.

        `times`: the next N matching requests, or every one until `reset()` when None.
        `path`: an exact path, `"*"` for all, or None for the generation routes.
        """
        self._add_fault(self.fault_type(fault), times, path)

    def reset(self) -> None:
        """Forget recorded requests and pending faults."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()
            self._lock.notify_all()

    # -- observation --------------------------------------------------------

    @property
    def requests(self) -> list[Record]:
        with self._lock:
            return list(self._requests)

    def generations(self) -> list[Record]:
        """Recorded requests to the generation routes."""
        return [request for request in self.requests if request.path in self.generation_paths]

    @property
    def open_streams(self) -> int:
        with self._lock:
            return self._open_streams

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until `predicate()` holds (re-checked on every server event)."""
        with self._lock:
            return self._lock.wait_for(predicate, timeout)

    async def wait_for_async(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the wait runs in a thread, not on this loop
    ) -> bool:
        """`wait_for` without blocking the caller's event loop."""
        return await asyncio.to_thread(self.wait_for, predicate, timeout)

    # -- what a subclass supplies --------------------------------------------

    @abc.abstractmethod
    def _respond(self, request: Request) -> Response:
        """The answer to `request`: `_route`'s, unless an injected fault changes it."""

    @abc.abstractmethod
    def _new_record(self, request: Request) -> Record:
        """What `requests` keeps of `request`, started now."""

    @abc.abstractmethod
    def _unknown_route(self, request: Request) -> Response:
        """The answer to a method and path no route serves."""

    @abc.abstractmethod
    def _error_reply(self, error: HttpError) -> Response:
        """The answer to a handler that raised `error`."""

    # -- server plumbing (loop thread) --------------------------------------

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve_connection, "127.0.0.1", self._port)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._end_connections()
        await self._server.wait_closed()

    async def _end_connections(self) -> None:
        """Cancel every connection task, hung ones included."""
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    def _stop_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(LOOP_TIMEOUT)
        loop.close()

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        connection = self._connections[task] = Connection(reader, writer)
        try:
            while request := await connection.read_request():
                if not await self._exchange(connection, request) or not request.keep_alive:
                    break
        except ValueError:
            pass  # not HTTP: drop the connection
        except asyncio.CancelledError:
            # Only _end_connections cancels these. Ending normally keeps asyncio's
            # connection callback (Python 3.11) from logging the CancelledError as an error.
            connection.abort()
        finally:
            del self._connections[task]
            connection.close()

    async def _exchange(self, connection: Connection, request: Request) -> bool:
        """Answer one request; True if the connection can carry another."""
        record = self._record(request)
        watch = asyncio.create_task(connection.watch())
        completed = False
        try:
            response = self._respond(request)
            completed = await self._send(connection, response, record, request.keep_alive)
        finally:
            self._finish(record, completed, connection.gone.is_set())
            watch.cancel()
            await asyncio.wait([watch])
        return completed and not response.close_after

    async def _send(
        self, connection: Connection, response: Response, record: Record, keep_alive: bool
    ) -> bool:
        if response.hang:
            await connection.gone.wait()
            return False
        if response.prepare is not None and not await response.prepare(connection):
            return False
        if response.late_body is not None:
            response = replace(response, parts=[(0.0, response.late_body())])
        if not await connection.pause(response.header_delay):
            return False
        sender = self._send_stream if response.stream else self._send_whole
        return await sender(connection, response, record, keep_alive)

    async def _send_whole(
        self, connection: Connection, response: Response, record: Record, keep_alive: bool
    ) -> bool:
        delay, body = response.parts[0]
        framing = f"Content-Length: {len(body)}"
        data = body[: len(body) // 2] if response.truncate else body
        return (
            await connection.pause(delay)
            and await self._send_head(connection, response, record, framing, keep_alive)
            and await connection.send_body(
                data, chunked=False, byte_interval=response.byte_interval
            )
            and not response.truncate
        )

    async def _send_stream(
        self, connection: Connection, response: Response, record: Record, keep_alive: bool
    ) -> bool:
        framing = "Transfer-Encoding: chunked"
        send_head = functools.partial(
            self._send_head, connection, response, record, framing, keep_alive
        )
        with self._streaming():
            head_pending = self.stream_head_waits_for_first_part
            if not head_pending and not await send_head():
                return False
            for delay, part in response.parts:
                if not await connection.pause(delay):
                    return False
                if head_pending and not await send_head():
                    return False
                head_pending = False
                if not await connection.send_body(
                    part, chunked=True, byte_interval=response.byte_interval
                ):
                    return False
            if response.truncate:
                return False
            return await connection.send(b"0\r\n\r\n")

    async def _send_head(
        self,
        connection: Connection,
        response: Response,
        record: Record,
        framing: str,
        keep_alive: bool,
    ) -> bool:
        head = response_head(response.status, response.content_type, framing, close=not keep_alive)
        if not await connection.send(head):
            return False
        self._update(record, status=response.status)
        return True

    # -- bookkeeping ----------------------------------------------------------

    def _record(self, request: Request) -> Record:
        record = self._new_record(request)
        with self._lock:
            self._requests.append(record)
            self._lock.notify_all()
        return record

    def _update(self, record: Record, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(record, name, value)
            self._lock.notify_all()

    def _finish(self, record: Record, completed: bool, gone: bool) -> None:
        self._update(
            record,
            finished_at=time.monotonic(),
            completed=completed,
            client_disconnected=gone and not completed,
        )

    @contextlib.contextmanager
    def _streaming(self) -> Iterator[None]:
        with self._lock:
            self._open_streams += 1
            self._lock.notify_all()
        try:
            yield
        finally:
            with self._lock:
                self._open_streams -= 1
                self._lock.notify_all()

    def _add_fault(
        self, fault: enum.StrEnum, times: int | None, path: str | None, delay: float = 0.0
    ) -> None:
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for 'until reset')")
        with self._lock:
            self._faults.append(Injection(fault, times, path, delay))

    def _take_fault(self, path: str) -> Injection | None:
        with self._lock:
            for injection in self._faults:
                if injection.matches(path, self.generation_paths):
                    if injection.remaining is not None:
                        injection.remaining -= 1
                        if injection.remaining == 0:
                            self._faults.remove(injection)
                    return injection
        return None

    # -- routing --------------------------------------------------------------

    def _route(self, request: Request) -> Response:
        handler = self._routes.get((request.method, request.path))
        if handler is None:
            return self._unknown_route(request)
        try:
            return handler(request)
        except HttpError as error:
            return self._error_reply(error)
