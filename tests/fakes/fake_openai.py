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

It runs on `http_fake.FakeHttpServer`, as `FakeOllama` does (stdlib asyncio streams in a
daemon thread, so it serves sync and async tests alike), and shares fake_ollama's
scripted `responder`. Faults (`inject`): HTTP 400/401/404/429/500/503 with OpenAI-style
error bodies, a stream cut mid-way, an error event, a garbage event, a stream that ends
without `[DONE]`, a whole JSON answer to a streamed request, and a hung request.
Every request is recorded in `requests`, headers included, with whether the client hung
up before the response finished.
"""

from __future__ import annotations

import asyncio
import enum
import time
from dataclasses import dataclass, field, replace

from tests.fakes import http_fake
from tests.fakes.fake_ollama import DEFAULT_TEXT, Reply, Responder, cut_at_stop, tokenize
from tests.fakes.http_fake import (
    JSON,
    LOOP_TIMEOUT,
    FakeHttpServer,
    HttpError,
    Request,
    Response,
    encode_json,
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

SSE_TYPE = "text/event-stream"
DONE_EVENT = b"data: [DONE]\n\n"
BAD_JSON_EVENT = b'data: {"choices": [ this is not json\n\n'
FAULT_AFTER_EVENTS = 2
ARGUMENT_FRAGMENT_CHARS = 7
CREATED = 1_736_935_800

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
class RecordedRequest(http_fake.RecordedRequest):
    """One request as the fake saw it, with its headers (names in lower case)."""

    headers: dict[str, str] = field(kw_only=True)


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


class FakeOpenAI(FakeHttpServer[RecordedRequest]):
    """A fake OpenAI-compatible server on 127.0.0.1, running its own loop in a daemon thread.

    Tune behaviour through the attributes, from any thread:

    - `responder(request_body) -> str | {"content", "tool_calls"}`: what the model says
      (tool calls in Ollama's shape, `{"function": {"name", "arguments": {...}}}`);
    - `token_delay` / `first_token_delay`: seconds before each token / the first one;
    - `api_key`: when set, the bearer token every request must carry;
    - `reports_usage`: False to ignore `stream_options.include_usage`, as some servers do;
    - `models`: model id → extra fields of its `/v1/models` entry.
    """

    thread_name = "fake-openai"
    fault_type = Fault
    generation_paths = GENERATION_PATHS
    stream_head_waits_for_first_part = False

    def __init__(self, port: int = 0) -> None:
        super().__init__(
            port,
            routes={
                ("GET", MODELS_PATH): self._models,
                ("POST", COMPLETIONS_PATH): self._completions,
                ("POST", CHAT_PATH): self._chat,
            },
        )
        self.responder: Responder = lambda _body: DEFAULT_TEXT
        self.token_delay = 0.0
        self.first_token_delay = 0.0
        self.api_key: str | None = None
        self.reports_usage = True
        self.models: dict[str, JSON] = {name: dict(extra) for name, extra in DEFAULT_MODELS.items()}

    @property
    def api_url(self) -> str:
        """The API base, as OpenAI clients are usually configured."""
        return f"{self.url}/v1"

    def set_text(self, text: str) -> None:
        """Make every generation produce `text`."""
        self.responder = lambda _body: text

    # -- server plumbing (loop thread) --------------------------------------------------

    async def _end_connections(self) -> None:
        # Aborting the sockets lets every connection task end by itself (hung ones see the
        # hang-up); cancelling a stream task makes Python 3.11's asyncio log a traceback.
        for connection in self._connections.values():
            connection.abort()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=LOOP_TIMEOUT)
        await super()._end_connections()

    # -- routing ------------------------------------------------------------------------

    def _respond(self, request: Request) -> Response:
        sent_key = request.headers.get("authorization", "").removeprefix("Bearer ")
        model = str((request.body or {}).get("model") or "")
        injection = self._take_fault(request.path)
        fault = None if injection is None else injection.fault
        if self.api_key is not None and sent_key != self.api_key:
            fault = Fault.UNAUTHORIZED
        if fault is Fault.HANG:
            return Response(hang=True)
        if fault in STATUS_FAULTS:
            status, kind, code, message = STATUS_FAULTS[fault]
            return error_reply(status, kind, code, message.format(model=model, key=sent_key))
        response = self._route(request)
        return response if fault is None else apply_fault(fault, response)

    def _new_record(self, request: Request) -> RecordedRequest:
        return RecordedRequest(
            request.method, request.path, request.body, time.monotonic(), headers=request.headers
        )

    def _unknown_route(self, _request: Request) -> Response:
        return error_reply(404, "invalid_request_error", "unknown_url", "Unknown request URL")

    def _error_reply(self, error: HttpError) -> Response:
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
