"""A fake OpenAI-compatible HTTP server for tests, with fault injection.

`FakeOpenAI` answers the three routes CodeHearth uses, under `/v1`, the way llama.cpp's
server, vLLM and OpenAI do: `GET /v1/models` (with the context-length fields llama.cpp
and vLLM add), and `POST /v1/completions` and `POST /v1/chat/completions`, streamed as
server-sent events (`data: {...}` chunks, a usage chunk when `stream_options.include_usage`
is set, then `data: [DONE]`) or answered whole with `stream: false`. Streamed tool calls
come as OpenAI sends them: the name in the first delta, the arguments in JSON fragments.

With `api_key` set, a request without `Authorization: Bearer <api_key>` gets a 401 whose
message echoes the key it was sent (the worst a server can do), which tests use to check
that the key never reaches an error message.

It shares fake_ollama's HTTP/1.1 plumbing (stdlib asyncio streams in a daemon thread, so
it serves sync and async tests alike) and its scripted `responder`. Faults (`inject`):
HTTP 400/401/404/429/500/503 with OpenAI-style error bodies, a stream cut mid-way, an
error event, a garbage event, a stream that ends without `[DONE]`, a whole JSON answer
to a streamed request, and a hung request.
Every request is recorded in `requests`, headers included, with whether the client hung
up before the response finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

from tests.fakes.fake_ollama import (
    DEFAULT_TEXT,
    JSON,
    Connection,
    HttpError,
    Reply,
    Request,
    Responder,
    Response,
    cut_at_stop,
    encode_json,
    http_chunk,
    parse_body,
    parse_head,
    response_head,
    tokenize,
    wants_keep_alive,
)

__all__ = [
    "CHAT_PATH",
    "COMPLETIONS_PATH",
    "DEFAULT_MODELS",
    "GENERATION_PATHS",
    "MODELS_PATH",
    "FakeOpenAI",
    "Fault",
    "RecordedRequest",
]

MODELS_PATH = "/v1/models"
COMPLETIONS_PATH = "/v1/completions"
CHAT_PATH = "/v1/chat/completions"
GENERATION_PATHS = frozenset({COMPLETIONS_PATH, CHAT_PATH})
ANY_PATH = "*"

SSE_TYPE = "text/event-stream"
DONE_EVENT = b"data: [DONE]\n\n"
BAD_JSON_EVENT = b'data: {"choices": [ this is not json\n\n'
FAULT_AFTER_EVENTS = 2
ARGUMENT_FRAGMENT_CHARS = 7
CREATED = 1_736_935_800
LOOP_TIMEOUT = 5.0

DEFAULT_MODELS: dict[str, JSON] = {
    # llama.cpp reports the trained context under "meta", vLLM the served one at the top.
    "qwen2.5-coder-1.5b": {"owned_by": "llamacpp", "meta": {"n_ctx_train": 32768}},
    "llama-3.2-3b-instruct": {"owned_by": "vllm", "max_model_len": 8192},
    "gpt-4o-mini": {"owned_by": "system"},
}


class Fault(enum.StrEnum):
    """What `FakeOpenAI.inject` can do to a request."""

    BAD_REQUEST = "bad_request"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    OVERLOADED = "overloaded"
    DROP_MID_STREAM = "drop_mid_stream"
    ERROR_EVENT = "error_event"
    BAD_JSON = "bad_json"
    NO_DONE = "no_done"
    NOT_STREAMED = "not_streamed"
    HANG = "hang"


# status, OpenAI error type and code, message ({model} and {key} filled in)
STATUS_FAULTS: dict[Fault, tuple[int, str, str, str]] = {
    Fault.BAD_REQUEST: (
        400,
        "invalid_request_error",
        "invalid_value",
        "tools are not supported by this model",
    ),
    Fault.UNAUTHORIZED: (
        401,
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided: {key}",
    ),
    Fault.NOT_FOUND: (
        404,
        "invalid_request_error",
        "model_not_found",
        "The model `{model}` does not exist",
    ),
    Fault.RATE_LIMITED: (
        429,
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for {model}",
    ),
    Fault.SERVER_ERROR: (500, "server_error", "internal_error", "The server had an error"),
    Fault.OVERLOADED: (503, "server_error", "overloaded", "The engine is currently overloaded"),
}


@dataclass
class RecordedRequest:
    """One request as the fake saw it; the `finished_at`.. fields fill in as it ends."""

    method: str
    path: str
    headers: dict[str, str]
    body: JSON | None
    started_at: float
    finished_at: float | None = None
    completed: bool = False
    client_disconnected: bool = False
    status: int | None = None


@dataclass
class Injection:
    fault: Fault
    remaining: int | None
    path: str | None

    def matches(self, path: str) -> bool:
        if self.path is None:
            return path in GENERATION_PATHS
        return self.path in (ANY_PATH, path)


def error_reply(status: int, kind: str, code: str, message: str) -> Response:
    """An OpenAI-style error body."""
    error = {"message": message, "type": kind, "param": None, "code": code}
    return Response.json({"error": error}, status=status)


def sse_event(payload: JSON) -> bytes:
    return b"data: " + encode_json(payload) + b"\n\n"


def apply_fault(fault: Fault, response: Response) -> Response:
    """Rewrite a planned answer to misbehave on the wire."""
    if not response.stream:
        if fault is Fault.DROP_MID_STREAM:
            return replace(response, truncate=True)
        if fault is Fault.BAD_JSON:
            return replace(response, parts=[(0.0, b'{"choices": [ this is not json')])
        return response
    events, done = response.parts[:-1], response.parts[-1]
    kept = events[:FAULT_AFTER_EVENTS]
    if fault is Fault.DROP_MID_STREAM:
        return replace(response, parts=kept, truncate=True)
    if fault is Fault.ERROR_EVENT:
        error = {"message": "the model crashed", "type": "server_error", "code": 500}
        return replace(response, parts=[*kept, (0.0, sse_event({"error": error}))])
    if fault is Fault.BAD_JSON:
        return replace(response, parts=[*kept, (0.0, BAD_JSON_EVENT), *events[len(kept) :], done])
    if fault is Fault.NO_DONE:
        return replace(response, parts=events)
    if fault is Fault.NOT_STREAMED:  # a server that ignores `stream: true`
        return Response.json({"choices": [{"index": 0, "text": "whole"}]})
    return response


class HeaderConnection(Connection):
    """fake_ollama's connection, keeping each request's headers for the record."""

    async def read_request_and_headers(self) -> tuple[Request, dict[str, str]] | None:
        """The next request and its headers, or None once the client closes."""
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
        return Request(method, path, wants_keep_alive(version, headers), body, error), headers


@dataclass(frozen=True)
class Plan:
    """What the model says for one request, cut into tokens, and the usage it reports."""

    tokens: list[str]
    finish_reason: str
    prompt_tokens: int
    tool_calls: list[JSON] = field(default_factory=list)

    @property
    def usage(self) -> JSON:
        completion = len(self.tokens)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }


class FakeOpenAI:
    """A fake OpenAI-compatible server on 127.0.0.1, running its own loop in a daemon thread.

    Tune behaviour through the attributes, from any thread:

    - `responder(request_body) -> str | {"content", "tool_calls"}`: what the model says
      (tool calls in Ollama's shape, `{"function": {"name", "arguments": {...}}}`);
    - `token_delay` / `first_token_delay`: seconds before each token / the first one;
    - `api_key`: when set, the bearer token every request must carry;
    - `reports_usage`: False to ignore `stream_options.include_usage`, as some servers do;
    - `models`: model id → extra fields of its `/v1/models` entry.
    """

    def __init__(self, port: int = 0) -> None:
        self.responder: Responder = lambda _body: DEFAULT_TEXT
        self.token_delay = 0.0
        self.first_token_delay = 0.0
        self.api_key: str | None = None
        self.reports_usage = True
        self.models: dict[str, JSON] = {name: dict(extra) for name, extra in DEFAULT_MODELS.items()}
        self._port = port
        self._lock = threading.Condition()
        self._faults: list[Injection] = []
        self._requests: list[RecordedRequest] = []
        self._open_streams = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], HeaderConnection] = {}
        self._routes: dict[tuple[str, str], Callable[[Request], Response]] = {
            ("GET", MODELS_PATH): self._models,
            ("POST", COMPLETIONS_PATH): self._completions,
            ("POST", CHAT_PATH): self._chat,
        }

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> str:
        """Bind and serve; returns the URL (without `/v1`)."""
        if self._loop is not None:
            raise RuntimeError("FakeOpenAI is already running")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-openai", daemon=True)
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

    @property
    def url(self) -> str:
        if not self._port:
            raise RuntimeError("FakeOpenAI has not been started, so it has no port yet")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """The API base, as OpenAI clients are usually configured."""
        return f"{self.url}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- configuration ------------------------------------------------------------------

    def set_text(self, text: str) -> None:
        """Make every generation produce `text`."""
        self.responder = lambda _body: text

    def inject(
        self, fault: Fault | str, *, times: int | None = None, path: str | None = None
    ) -> None:
        """Make matching requests misbehave.

        `times`: the next N matching requests, or every one until `reset()` when None.
        `path`: an exact path, `"*"` for all, or None for the two generation routes.
        """
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for 'until reset')")
        with self._lock:
            self._faults.append(Injection(Fault(fault), times, path))

    def reset(self) -> None:
        """Forget recorded requests and pending faults."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()
            self._lock.notify_all()

    # -- observation --------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def generations(self) -> list[RecordedRequest]:
        """Recorded requests to the two generation routes."""
        return [request for request in self.requests if request.path in GENERATION_PATHS]

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

    # -- server plumbing (loop thread) --------------------------------------------------

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve_connection, "127.0.0.1", self._port)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        # Aborting the sockets lets every connection task end by itself (hung ones see the
        # hang-up); cancelling a stream task makes Python 3.11's asyncio log a traceback.
        for connection in self._connections.values():
            connection.abort()
        tasks = list(self._connections)
        if tasks:
            await asyncio.wait(tasks, timeout=LOOP_TIMEOUT)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()

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
        connection = self._connections[task] = HeaderConnection(reader, writer)
        try:
            while incoming := await connection.read_request_and_headers():
                request, headers = incoming
                if not await self._exchange(connection, request, headers):
                    break
                if not request.keep_alive:
                    break
        except ValueError:
            pass  # not HTTP: drop the connection
        except asyncio.CancelledError:
            connection.abort()
            raise
        finally:
            del self._connections[task]
            connection.close()

    async def _exchange(
        self, connection: HeaderConnection, request: Request, headers: dict[str, str]
    ) -> bool:
        """Answer one request; True if the connection can carry another."""
        record = RecordedRequest(
            request.method, request.path, headers, request.body, time.monotonic()
        )
        with self._lock:
            self._requests.append(record)
            self._lock.notify_all()
        watch = asyncio.create_task(connection.watch())
        completed = False
        try:
            response = self._respond(request, headers)
            completed = await self._send(connection, response, record, request.keep_alive)
        finally:
            self._update(
                record,
                finished_at=time.monotonic(),
                completed=completed,
                client_disconnected=connection.gone.is_set() and not completed,
            )
            watch.cancel()
            await asyncio.wait([watch])
        return completed

    async def _send(
        self,
        connection: HeaderConnection,
        response: Response,
        record: RecordedRequest,
        keep_alive: bool,
    ) -> bool:
        if response.hang:
            await connection.gone.wait()
            return False
        if not response.stream:
            delay, body = response.parts[0]
            framing = f"Content-Length: {len(body)}"
            head = response_head(
                response.status, response.content_type, framing, close=not keep_alive
            )
            data = body[: len(body) // 2] if response.truncate else body
            if not await connection.pause(delay) or not await connection.send(head):
                return False
            self._update(record, status=response.status)
            return await connection.send(data) and not response.truncate
        framing = "Transfer-Encoding: chunked"
        head = response_head(response.status, response.content_type, framing, close=not keep_alive)
        with self._streaming():
            if not await connection.send(head):
                return False
            self._update(record, status=response.status)
            for delay, event in response.parts:
                if not await connection.pause(delay):
                    return False
                if not await connection.send(http_chunk(event)):
                    return False
            if response.truncate:
                return False
            return await connection.send(b"0\r\n\r\n")

    def _update(self, record: RecordedRequest, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(record, name, value)
            self._lock.notify_all()

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

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for injection in self._faults:
                if injection.matches(path):
                    if injection.remaining is not None:
                        injection.remaining -= 1
                        if injection.remaining == 0:
                            self._faults.remove(injection)
                    return injection.fault
        return None

    # -- routing ------------------------------------------------------------------------

    def _respond(self, request: Request, headers: dict[str, str]) -> Response:
        sent_key = headers.get("authorization", "").removeprefix("Bearer ")
        model = str((request.body or {}).get("model") or "")
        fault = self._take_fault(request.path)
        if self.api_key is not None and sent_key != self.api_key:
            fault = Fault.UNAUTHORIZED
        if fault is Fault.HANG:
            return Response(hang=True)
        if fault in STATUS_FAULTS:
            status, kind, code, message = STATUS_FAULTS[fault]
            return error_reply(status, kind, code, message.format(model=model, key=sent_key))
        response = self._route(request)
        return response if fault is None else apply_fault(fault, response)

    def _route(self, request: Request) -> Response:
        handler = self._routes.get((request.method, request.path))
        if handler is None:
            return error_reply(404, "invalid_request_error", "unknown_url", "Unknown request URL")
        try:
            return handler(request)
        except HttpError as error:
            return error_reply(error.status, "invalid_request_error", "invalid", error.message)

    def _models(self, _request: Request) -> Response:
        entries = [
            {"id": name, "object": "model", "created": CREATED, "owned_by": "fake", **extra}
            for name, extra in self.models.items()
        ]
        return Response.json({"object": "list", "data": entries})

    def _plan(self, body: JSON, prompt: str, *, with_tools: bool) -> Plan:
        model = str(body.get("model") or "")
        if model not in self.models:
            status, _kind, _code, message = STATUS_FAULTS[Fault.NOT_FOUND]
            raise HttpError(status, message.format(model=model))
        reply = Reply.of(self.responder(body))
        tokens = tokenize(cut_at_stop(reply.content, body.get("stop")))
        finish_reason = "stop"
        limit = body.get("max_tokens")
        if isinstance(limit, int) and 0 <= limit < len(tokens):
            tokens, finish_reason = tokens[:limit], "length"
        calls = reply.tool_calls if with_tools else []
        if calls:
            finish_reason = "tool_calls"
        return Plan(tokens, finish_reason, max(1, len(prompt) // 4), calls)

    def _completions(self, request: Request) -> Response:
        body = request.json_body()
        plan = self._plan(body, str(body.get("prompt") or ""), with_tools=False)
        head = {"id": "cmpl-fake", "object": "text_completion", "created": CREATED}
        head["model"] = body["model"]
        if not body.get("stream"):
            choice = {"index": 0, "text": "".join(plan.tokens), "logprobs": None}
            choices = [{**choice, "finish_reason": plan.finish_reason}]
            return Response.json({**head, "choices": choices, "usage": plan.usage})
        events = [
            {**head, "choices": [{"index": 0, "text": token, "finish_reason": None}]}
            for token in plan.tokens
        ]
        last = {"index": 0, "text": "", "finish_reason": plan.finish_reason}
        events.append({**head, "choices": [last]})
        return self._stream(body, head, events, plan)

    def _chat(self, request: Request) -> Response:
        body = request.json_body()
        messages = body.get("messages") or []
        prompt = "".join(str(message.get("content") or "") for message in messages)
        plan = self._plan(body, prompt, with_tools=bool(body.get("tools")))
        head = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": CREATED}
        head["model"] = body["model"]
        if not body.get("stream"):
            message: JSON = {"role": "assistant", "content": "".join(plan.tokens)}
            choices = [{"index": 0, "message": message, "finish_reason": plan.finish_reason}]
            whole = {**head, "object": "chat.completion", "choices": choices}
            return Response.json({**whole, "usage": plan.usage})

        def chunk(delta: JSON, finish_reason: str | None = None) -> JSON:
            return {
                **head,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }

        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": token}) for token in plan.tokens]
        for index, call in enumerate(plan.tool_calls):
            events += [chunk({"tool_calls": [delta]}) for delta in tool_call_deltas(index, call)]
        events.append(chunk({}, plan.finish_reason))
        # The role chunk comes at once; the tokens carry the timing.
        return self._stream(body, head, events, plan, untimed=1)

    def _stream(
        self, body: JSON, head: JSON, events: list[JSON], plan: Plan, untimed: int = 0
    ) -> Response:
        """Server-sent events, timed like tokens; the usage chunk and `[DONE]` at the end."""
        if self.reports_usage and (body.get("stream_options") or {}).get("include_usage"):
            events = [*events, {**head, "choices": [], "usage": plan.usage}]
        delays = [0.0] * untimed
        if plan.tokens:
            delays += [self.first_token_delay] + [self.token_delay] * (len(plan.tokens) - 1)
        delays += [0.0] * (len(events) - len(delays))
        parts = [(delay, sse_event(event)) for delay, event in zip(delays, events, strict=True)]
        return Response(content_type=SSE_TYPE, parts=[*parts, (0.0, DONE_EVENT)], stream=True)


def tool_call_deltas(index: int, call: JSON) -> list[JSON]:
    """One tool call as OpenAI streams it: id and name first, then argument fragments."""
    function = call.get("function", call)
    arguments = encode_json(function.get("arguments") or {}).decode()
    first = {
        "index": index,
        "id": f"call_{index}",
        "type": "function",
        "function": {"name": function["name"], "arguments": ""},
    }
    fragments = [
        {
            "index": index,
            "function": {"arguments": arguments[start : start + ARGUMENT_FRAGMENT_CHARS]},
        }
        for start in range(0, len(arguments), ARGUMENT_FRAGMENT_CHARS)
    ]
    return [first, *fragments]
