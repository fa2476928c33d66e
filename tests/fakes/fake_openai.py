"""Fake OpenAI-compatible HTTP servers for tests, with fault injection.

`FakeOpenAI` answers the three routes CodeHearth uses, under `/v1`, the way OpenAI does
and as a mix of servers would: `GET /v1/models` (with the context-length fields llama.cpp
and vLLM add), and `POST /v1/completions` and `POST /v1/chat/completions`, streamed as
server-sent events (`data: {...}` chunks, a usage chunk when `stream_options.include_usage`
is set, then `data: [DONE]`) or answered whole with `stream: false`. Streamed tool calls
come as OpenAI sends them: the name in the first delta, the arguments in JSON fragments.

Two subclasses behave as one real server does, each behaviour citing the source it
mirrors:

- `FakeLlamaServer`, llama.cpp's `llama-server` serving one model: it ignores `model`,
  lists one `owned_by: "llamacpp"` entry whose `meta` has `n_ctx` (the slot context) and
  `n_ctx_train`, errors carry integer codes, a prompt longer than the slot context is a
  400 `exceed_context_size_error`, headers go out with the first result (so an error
  before the first token is an HTTP status), `:` pings may come between events, and it
  serves `/props`, `/tokenize` and `/infill`. With `old_build` it answers as builds from
  before llama.cpp PR #16486 did: errors as `error: {...}` events under HTTP 200, then
  `data: [DONE]`, and no `n_ctx` in `meta`.
- `FakeVLLM`, `vllm serve`: `owned_by: "vllm"` entries with `max_model_len`, a 404 "The
  model `x` does not exist." for any other model, a 400 "This model's maximum context
  length is ..." for a prompt that does not fit, and `/tokenize`.

With `api_key` set, a request without `Authorization: Bearer <api_key>` gets a 401 whose
message echoes the key it was sent (the worst a server can do), which tests use to check
that the key never reaches an error message.

They run on `http_fake.FakeHttpServer`, as `FakeOllama` does (stdlib asyncio streams in a
daemon thread, so they serve sync and async tests alike), and share fake_ollama's
scripted `responder`. Faults (`inject`): HTTP 400/401/404/429/500/503 with each server's
error bodies, a stream cut mid-way, an error event, a garbage event, a stream that ends
without `[DONE]`, a whole JSON answer to a streamed request, and a hung request.
Every request is recorded in `requests`, headers included, with whether the client hung
up before the response finished.
"""

from __future__ import annotations

import asyncio
import enum
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import ClassVar

from tests.fakes import http_fake
from tests.fakes.fake_ollama import (
    DEFAULT_TEXT,
    QWEN_CONTROL_TOKENS,
    Reply,
    Responder,
    cut_at_stop,
    tokenize,
)
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
    "INFILL_PATH",
    "MODELS_PATH",
    "PROPS_PATH",
    "QWEN_SPECIAL_TOKENS",
    "TOKENIZE_PATH",
    "FakeLlamaServer",
    "FakeOpenAI",
    "FakeVLLM",
    "Fault",
    "RecordedRequest",
]

MODELS_PATH = "/v1/models"
COMPLETIONS_PATH = "/v1/completions"
CHAT_PATH = "/v1/chat/completions"
GENERATION_PATHS = frozenset({COMPLETIONS_PATH, CHAT_PATH})
# llama.cpp's own routes sit at the server root (tools/server/server.cpp, the routes table).
PROPS_PATH = "/props"
TOKENIZE_PATH = "/tokenize"
INFILL_PATH = "/infill"

SSE_TYPE = "text/event-stream"
DONE_EVENT = b"data: [DONE]\n\n"
PING_EVENT = b":\n\n"  # llama.cpp handle_completions_impl: an SSE comment while silent
BAD_JSON_EVENT = b'data: {"choices": [ this is not json\n\n'
FAULT_AFTER_EVENTS = 2
ARGUMENT_FRAGMENT_CHARS = 7
CREATED = 1_736_935_800
CHARS_PER_TOKEN = 4

DEFAULT_MODELS: dict[str, JSON] = {
    # llama.cpp reports the slot context and the trained one under "meta" (server-context.cpp
    # get_res_model_info), vLLM the served one at the top.
    "qwen2.5-coder-1.5b": {"owned_by": "llamacpp", "meta": {"n_ctx": 8192, "n_ctx_train": 32768}},
    "llama-3.2-3b-instruct": {"owned_by": "vllm", "max_model_len": 8192},
    "gpt-4o-mini": {"owned_by": "system"},
}

# Qwen2.5-Coder's special tokens (tokenizer_config.json added_tokens): each is one token.
QWEN_SPECIAL_TOKENS = frozenset(QWEN_CONTROL_TOKENS)


class Fault(enum.StrEnum):
    """What `inject` can do to a request."""

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


def error_reply(status: int, kind: str, code: str | int, message: str, **extra: object) -> Response:
    """An OpenAI-style error body."""
    error = {"message": message, "type": kind, "param": None, "code": code, **extra}
    return Response.json({"error": error}, status=status)


def sse_event(payload: JSON) -> bytes:
    return b"data: " + encode_json(payload) + b"\n\n"


def prompt_tokens(text: str) -> int:
    """What the fakes count as the prompt's size in tokens."""
    return max(1, len(text) // CHARS_PER_TOKEN)


def apply_fault(fault: Fault, response: Response, error_event: bytes) -> Response:
    """Rewrite a planned answer to misbehave on the wire; `error_event` is how the server
    reports an error after the first event."""
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
        return replace(response, parts=[*kept, (0.0, error_event)])
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
    status_faults: ClassVar[Mapping[Fault, tuple[int, str, str, str]]] = STATUS_FAULTS

    def __init__(self, port: int = 0) -> None:
        super().__init__(port, routes=self._routes_table())
        self.responder: Responder = lambda _body: DEFAULT_TEXT
        self.token_delay = 0.0
        self.first_token_delay = 0.0
        self.api_key: str | None = None
        self.reports_usage = True
        self.models: dict[str, JSON] = {name: dict(extra) for name, extra in DEFAULT_MODELS.items()}

    def _routes_table(self) -> dict[tuple[str, str], http_fake.Handler]:
        return {
            ("GET", MODELS_PATH): self._models,
            ("POST", COMPLETIONS_PATH): self._completions,
            ("POST", CHAT_PATH): self._chat,
        }

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
        if fault in self.status_faults:
            status, kind, code, message = self.status_faults[fault]
            return self._error(status, kind, message.format(model=model, key=sent_key), code)
        response = self._route(request)
        if fault is None:
            return response
        return apply_fault(fault, response, self._error_event(request.path))

    def _error(self, status: int, kind: str, message: str, code: str = "invalid") -> Response:
        """This server's error body for a status."""
        return error_reply(status, kind, code, message)

    def _error_event(self, path: str) -> bytes:
        """An error after the first event on `path`: `data: {"error": {...}}`."""
        return sse_event(
            {"error": {"message": "the model crashed", "type": "server_error", "code": 500}}
        )

    def _new_record(self, request: Request) -> RecordedRequest:
        return RecordedRequest(
            request.method, request.path, request.body, time.monotonic(), headers=request.headers
        )

    def _unknown_route(self, _request: Request) -> Response:
        return self._error(404, "invalid_request_error", "Unknown request URL", "unknown_url")

    def _error_reply(self, error: HttpError) -> Response:
        return self._error(error.status, "invalid_request_error", error.message)

    def _models(self, _request: Request) -> Response:
        entries = [
            {"id": name, "object": "model", "created": CREATED, "owned_by": "fake", **extra}
            for name, extra in self.models.items()
        ]
        return Response.json({"object": "list", "data": entries})

    def _check_model(self, model: str) -> None:
        """Refuse a model this server does not serve."""
        if model not in self.models:
            status, _kind, _code, message = self.status_faults[Fault.NOT_FOUND]
            raise HttpError(status, message.format(model=model))

    def _check_context(self, model: str, tokens: int, max_tokens: object) -> Response | None:
        """The error answer for a prompt that does not fit, or None (OpenAI's own models
        are not modelled: their contexts are large)."""
        return None

    def _plan(self, body: JSON, prompt: str, *, with_tools: bool) -> Plan:
        self._check_model(str(body.get("model") or ""))
        reply = Reply.of(self.responder(body))
        tokens = tokenize(cut_at_stop(reply.content, body.get("stop")))
        finish_reason = "stop"
        limit = body.get("max_tokens")
        if isinstance(limit, int) and 0 <= limit < len(tokens):
            tokens, finish_reason = tokens[:limit], "length"
        calls = reply.tool_calls if with_tools else []
        if calls:
            finish_reason = "tool_calls"
        return Plan(tokens, finish_reason, prompt_tokens(prompt), calls)

    def _completions(self, request: Request) -> Response:
        body = request.json_body()
        plan = self._plan(body, str(body.get("prompt") or ""), with_tools=False)
        refused = self._check_context(
            str(body["model"]), plan.prompt_tokens, body.get("max_tokens")
        )
        if refused is not None:
            return self._refuse(body, refused)
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
        refused = self._check_context(
            str(body["model"]), plan.prompt_tokens, body.get("max_tokens")
        )
        if refused is not None:
            return self._refuse(body, refused)
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

    def _refuse(self, body: JSON, refused: Response) -> Response:
        """How a refusal found once generation was requested reaches the client."""
        return refused

    def _stream(
        self, body: JSON, head: JSON, events: list[JSON], plan: Plan, untimed: int = 0
    ) -> Response:
        """Server-sent events, timed like tokens; the usage chunk and `[DONE]` at the end."""
        if self.reports_usage and (body.get("stream_options") or {}).get("include_usage"):
            events = [*events, {**head, "choices": [], "usage": plan.usage}]
        return Response(
            content_type=SSE_TYPE,
            parts=[*self._timed(events, len(plan.tokens), untimed), (0.0, DONE_EVENT)],
            stream=True,
        )

    def _timed(
        self, events: list[JSON], tokens: int, untimed: int = 0
    ) -> list[tuple[float, bytes]]:
        """The events as timed parts: `untimed` at once, then one per token."""
        delays = [0.0] * untimed
        if tokens:
            delays += [self.first_token_delay] + [self.token_delay] * (tokens - 1)
        delays += [0.0] * (len(events) - len(delays))
        return [(delay, sse_event(event)) for delay, event in zip(delays, events, strict=True)]


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


# -- llama.cpp's llama-server ---------------------------------------------------------------

# llama.cpp tools/server/server-common.cpp format_error_response: {"code": <int status>,
# "message", "type"}, the type naming the error_type; the messages are the server's own.
LLAMA_STATUS_FAULTS: dict[Fault, tuple[int, str, str, str]] = {
    # oaicompat_completion_params_parse (builds before suffix support)
    Fault.BAD_REQUEST: (400, "invalid_request_error", "", "Unsupported param: suffix"),
    # server.cpp middleware_validate_api_key (the key is not echoed)
    Fault.UNAUTHORIZED: (401, "authentication_error", "", "Invalid API Key"),
    # server-http.cpp: the handler for a route the server does not have
    Fault.NOT_FOUND: (404, "not_found_error", "", "File Not Found"),
    # get_slots with fail_on_no_slot (llama-server has no rate limit)
    Fault.RATE_LIMITED: (503, "unavailable_error", "", "no slot available"),
    Fault.SERVER_ERROR: (500, "server_error", "", "failed to decode the batch"),
    # server.cpp middleware_server_state while the model loads
    Fault.OVERLOADED: (503, "unavailable_error", "", "Loading model"),
}
# What makes llama-server's vocabulary FIM-capable (llama_vocab_fim_pre is set): the
# prefix tokens of the families CodeHearth knows.
FIM_PREFIX_TOKENS = frozenset({"<|fim_prefix|>", "<fim_prefix>", "<｜fim▁begin｜>", "[PREFIX]"})
FIRST_SPECIAL_ID = 151643  # Qwen2.5's <|endoftext|>


class FakeLlamaServer(FakeOpenAI):
    """llama.cpp's `llama-server -m <gguf>`: one model, whatever `model` a request names.

    Attributes beyond FakeOpenAI's: `model_id` (what `/v1/models` lists: the `--alias`,
    else the model path), `n_ctx` (the slot context, `-c` divided among `--parallel`
    slots) and `n_ctx_train`; `special_tokens`, the vocabulary's special tokens (each one
    token for `/tokenize` with parse_special; a FIM prefix among them makes `/infill`
    work); `pings`, to send an SSE comment between events; `old_build`, to answer as
    builds from before PR #16486 (October 2025).
    """

    thread_name = "fake-llama-server"
    # handle_completions_impl: rd.next() waits for the first result before status 200 and
    # the headers go out, so an error before the first token is an HTTP status.
    stream_head_waits_for_first_part = True
    status_faults = LLAMA_STATUS_FAULTS

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.model_id = "qwen2.5-coder-1.5b-instruct-q8_0.gguf"
        self.n_ctx = 4096
        self.n_ctx_train = 32768
        self.special_tokens: frozenset[str] = QWEN_SPECIAL_TOKENS
        self.pings = False
        self.old_build = False

    def _routes_table(self) -> dict[tuple[str, str], http_fake.Handler]:
        return {
            **super()._routes_table(),
            ("GET", PROPS_PATH): self._props,
            ("POST", TOKENIZE_PATH): self._tokenize,
            ("POST", INFILL_PATH): self._infill,
        }

    def _error(self, status: int, kind: str, message: str, code: str = "") -> Response:
        return Response.json({"error": llama_error(status, kind, message)}, status=status)

    def _error_event(self, path: str) -> bytes:
        error = llama_error(500, "server_error", "the model crashed")
        if self.old_build:  # server_sent_event(sink, "error", ...), then [DONE] for OAI routes
            done = b"" if path == INFILL_PATH else DONE_EVENT
            return b"error: " + encode_json(error) + b"\n\n" + done
        # handle_completions_impl format_error: a data event, and the stream ends there
        return sse_event({"error": error})

    def _models(self, _request: Request) -> Response:
        # server-context.cpp get_res_model_info; builds before meta.n_ctx had only n_ctx_train
        meta: JSON = {"vocab_type": 2, "n_vocab": 151936, "n_ctx": self.n_ctx}
        meta["n_ctx_train"] = self.n_ctx_train
        meta.update({"n_embd": 1536, "n_params": 1543714304, "size": 1873000000})
        if self.old_build:
            del meta["n_ctx"]
        entry = {"id": self.model_id, "object": "model", "created": CREATED}
        entry.update({"owned_by": "llamacpp", "meta": meta})
        return Response.json({"object": "list", "data": [entry]})

    def _check_model(self, model: str) -> None:
        """One model: the `model` field is ignored (only router mode reads it)."""

    def _check_context(self, model: str, tokens: int, max_tokens: object) -> Response | None:
        # server-context.cpp launch_slot_with_task: a prompt that fills the slot is refused
        if tokens < self.n_ctx:
            return None
        message = (
            f"request ({tokens} tokens) exceeds the available context size "
            f"({self.n_ctx} tokens), try increasing it"
        )
        error = llama_error(400, "exceed_context_size_error", message)
        error.update({"n_prompt_tokens": tokens, "n_ctx": self.n_ctx})
        return Response.json({"error": error}, status=400)

    def _refuse(self, body: JSON, refused: Response) -> Response:
        if not (self.old_build and body.get("stream")):
            return refused
        # Old builds started the event stream before the slot ran the task, so its error
        # became an `error:` event under HTTP 200, then `data: [DONE]`.
        error = json.loads(refused.parts[0][1])["error"]
        event = b"error: " + encode_json(error) + b"\n\n"
        return Response(content_type=SSE_TYPE, parts=[(0.0, event), (0.0, DONE_EVENT)], stream=True)

    def _stream(
        self, body: JSON, head: JSON, events: list[JSON], plan: Plan, untimed: int = 0
    ) -> Response:
        streamed = super()._stream(body, head, events, plan, untimed)
        return replace(streamed, parts=self._with_pings(streamed.parts))

    def _with_pings(self, parts: list[tuple[float, bytes]]) -> list[tuple[float, bytes]]:
        """A `:` comment before every event after the first (sent while the next is due)."""
        if not self.pings:
            return parts
        pinged = parts[:1]
        for delay, part in parts[1:]:
            pinged += [(delay, PING_EVENT), (0.0, part)]
        return pinged

    def _props(self, _request: Request) -> Response:
        # server-context.cpp get_res_props
        settings = {"n_ctx": self.n_ctx, "params": {"n_predict": -1, "temperature": 0.8}}
        return Response.json(
            {
                "default_generation_settings": settings,
                "total_slots": 1,
                "model_alias": self.model_id,
                "model_path": f"/models/{self.model_id}",
                "modalities": {"vision": False, "audio": False},
                "build_info": "b6100-fake",
                "is_sleeping": False,
            }
        )

    def _tokenize(self, request: Request) -> Response:
        # server-context.cpp post_tokenize: add_special defaults to false, parse_special to
        # true; an unknown text falls into one token per character here.
        body = request.json_body()
        content = body.get("content")
        if not isinstance(content, str):
            return Response.json({"tokens": []})
        special = body.get("parse_special", True)
        ids = token_ids(content, self.special_tokens, parse_special=bool(special))
        return Response.json({"tokens": ids})

    def _infill(self, request: Request) -> Response:
        # server-context.cpp post_infill: the model needs FIM tokens, then the body is
        # checked; the prompt is built from the parts (format_prompt_infill, which trims
        # them to the context) and streamed like /completion (TASK_RESPONSE_TYPE_NONE:
        # `content`/`stop` chunks, no [DONE]).
        if not self.special_tokens & FIM_PREFIX_TOKENS:
            missing = "prefix token is missing. suffix token is missing. middle token is missing. "
            message = f"Infill is not supported by this model: {missing}"
            return self._error(501, "not_supported_error", message)
        body = request.json_body()
        if "prompt" in body and not isinstance(body["prompt"], str):
            return self._error(400, "invalid_request_error", '"prompt" must be a string')
        for required in ("input_prefix", "input_suffix"):
            if required not in body:
                return self._error(400, "invalid_request_error", f'"{required}" is required')
        extra = body.get("input_extra", [])
        if not isinstance(extra, list) or not all(
            isinstance(chunk, dict) and isinstance(chunk.get("text"), str) for chunk in extra
        ):
            message = '"input_extra" must be an array of {"filename": string, "text": string}'
            return self._error(400, "invalid_request_error", message)
        parts = [str(body["input_prefix"]), str(body["input_suffix"]), str(body.get("prompt", ""))]
        parts += [str(chunk["text"]) for chunk in extra]
        evaluated = min(prompt_tokens("".join(parts)), self.n_ctx - 1)
        reply = Reply.of(self.responder(body))
        tokens = tokenize(cut_at_stop(reply.content, body.get("stop")))
        stop_type = "eos"
        limit = body.get("n_predict")
        if isinstance(limit, int) and 0 <= limit < len(tokens):
            tokens, stop_type = tokens[:limit], "limit"
        final: JSON = {
            "index": 0,
            "content": "",
            "tokens": [],
            "id_slot": 0,
            "stop": True,
            "model": self.model_id,
            "tokens_predicted": len(tokens),
            "tokens_evaluated": evaluated,
            "has_new_line": any("\n" in token for token in tokens),
            "truncated": False,
            "stop_type": stop_type,
            "stopping_word": "",
            "tokens_cached": 0,
            "timings": {"prompt_n": evaluated, "predicted_n": len(tokens)},
        }
        if not body.get("stream"):
            return Response.json({**final, "content": "".join(tokens)})
        events: list[JSON] = [
            {
                "index": 0,
                "content": token,
                "tokens": [ord(token[0])],
                "stop": False,
                "id_slot": 0,
                "tokens_predicted": number,
                "tokens_evaluated": evaluated,
            }
            for number, token in enumerate(tokens, start=1)
        ]
        parts_out = self._with_pings(self._timed([*events, final], len(tokens)))
        return Response(content_type=SSE_TYPE, parts=parts_out, stream=True)


def llama_error(status: int, kind: str, message: str) -> JSON:
    """llama.cpp's error object (server-common.cpp format_error_response)."""
    return {"code": status, "message": message, "type": kind}


def token_ids(
    text: str, special_tokens: frozenset[str], *, parse_special: bool = True
) -> list[int]:
    """`text` in a fake vocabulary: each special token one id, any other character one."""
    ordered = sorted(special_tokens)
    ids: list[int] = []
    position = 0
    while position < len(text):
        token = next((t for t in ordered if parse_special and text.startswith(t, position)), None)
        if token is None:
            ids.append(ord(text[position]))
            position += 1
        else:
            ids.append(FIRST_SPECIAL_ID + ordered.index(token))
            position += len(token)
    return ids


# -- vLLM ------------------------------------------------------------------------------------

# vllm/entrypoints/openai/protocol.py ErrorResponse: {"error": {"message", "type", "param",
# "code": <int status>}}, the type the exception's name.
VLLM_STATUS_FAULTS: dict[Fault, tuple[int, str, str, str]] = {
    Fault.BAD_REQUEST: (
        400,
        "BadRequestError",
        "",
        '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
    ),
    Fault.UNAUTHORIZED: (401, "Unauthorized", "", "Unauthorized"),
    # serving_engine.py _check_model
    Fault.NOT_FOUND: (404, "NotFoundError", "", "The model `{model}` does not exist."),
    Fault.RATE_LIMITED: (429, "TooManyRequests", "", "Too many requests"),
    Fault.SERVER_ERROR: (500, "InternalServerError", "", "EngineCore encountered an issue"),
    Fault.OVERLOADED: (503, "ServiceUnavailableError", "", "The engine is overloaded"),
}


class FakeVLLM(FakeOpenAI):
    """`vllm serve <model>`: the models it was started with (`models`: id → extra fields,
    `max_model_len` among them), nothing else; `special_tokens` as FakeLlamaServer's."""

    thread_name = "fake-vllm"
    status_faults = VLLM_STATUS_FAULTS

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.models = {"Qwen/Qwen2.5-Coder-7B-Instruct": {"max_model_len": 8192}}
        self.special_tokens: frozenset[str] = QWEN_SPECIAL_TOKENS

    def _routes_table(self) -> dict[tuple[str, str], http_fake.Handler]:
        return {**super()._routes_table(), ("POST", TOKENIZE_PATH): self._tokenize}

    def _error(self, status: int, kind: str, message: str, code: str = "") -> Response:
        return error_reply(status, kind, status, message)

    def _error_reply(self, error: HttpError) -> Response:
        kind = "NotFoundError" if error.status == 404 else "BadRequestError"
        return self._error(error.status, kind, error.message)

    def _error_event(self, path: str) -> bytes:
        # serving_completion.py: the error as a data event, then [DONE]
        error = {"message": "the model crashed", "type": "InternalServerError", "code": 500}
        return sse_event({"error": error}) + DONE_EVENT

    def _models(self, _request: Request) -> Response:
        # protocol.py ModelCard
        entries = [
            {
                "id": name,
                "object": "model",
                "created": CREATED,
                "owned_by": "vllm",
                "root": name,
                "parent": None,
                **extra,
            }
            for name, extra in self.models.items()
        ]
        return Response.json({"object": "list", "data": entries})

    def _check_context(self, model: str, tokens: int, max_tokens: object) -> Response | None:
        # serving_engine.py _validate_input
        limit = int(self.models[model].get("max_model_len", 8192))
        wanted = max_tokens if isinstance(max_tokens, int) else 16
        if tokens + wanted <= limit:
            return None
        message = (
            f"This model's maximum context length is {limit} tokens. However, you requested "
            f"{tokens + wanted} tokens ({tokens} in the messages, {wanted} in the completion). "
            "Please reduce the length of the messages or completion."
        )
        return self._error(400, "BadRequestError", message)

    def _tokenize(self, request: Request) -> Response:
        # serving_tokenization.py: {"model", "prompt", "add_special_tokens"} → the ids; the
        # fake vocabulary is Qwen's special tokens plus one token per other character.
        body = request.json_body()
        self._check_model(str(body.get("model") or ""))
        ids = token_ids(str(body.get("prompt") or ""), self.special_tokens)
        limit = self.models[str(body["model"])].get("max_model_len", 8192)
        return Response.json(
            {"count": len(ids), "max_model_len": limit, "tokens": ids, "token_strs": None}
        )


class FakeLlamaCppPython(FakeOpenAI):
    """`python -m llama_cpp.server --model M --n_ctx N`, llama-cpp-python's own server: the
    prompt and `max_tokens` together must fit `n_ctx`. A request that does not is refused
    with HTTP 400 `context_length_exceeded` when unstreamed; streamed, it gets HTTP 200 and
    an empty body, since the error is raised inside the stream's iterator after the headers
    went out (`llama_cpp/server/app.py`; seen on the real server, tests/real_servers/
    OBSERVED.md): the chunked body ends with no event, and the server then closes the
    connection, which it had announced as kept alive."""

    thread_name = "fake-llama-cpp-python"
    stream_head_waits_for_first_part = False

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.n_ctx = 2048

    def _check_context(self, model: str, tokens: int, max_tokens: object) -> Response | None:
        wanted = max_tokens if isinstance(max_tokens, int) else 16
        if tokens + wanted <= self.n_ctx:
            return None
        message = (
            f"This model's maximum context length is {self.n_ctx} tokens, however you "
            f"requested {tokens + wanted} tokens ({tokens} in your prompt; {wanted} for the "
            "completion). Please reduce your prompt; or completion length."
        )
        return error_reply(400, "invalid_request_error", "context_length_exceeded", message)

    def _refuse(self, body: JSON, refused: Response) -> Response:
        if not body.get("stream"):
            return refused
        return Response(content_type=SSE_TYPE, parts=[], stream=True, close_after=True)
