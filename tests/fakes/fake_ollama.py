"""A fake Ollama HTTP server for tests, with fault injection.

`FakeOllama` speaks the Ollama wire protocol closely enough that the real `ollama`
Python client (and plain httpx) works against it unchanged: /api/generate and
/api/chat stream NDJSON over `Transfer-Encoding: chunked`, non-streamed replies carry
a `Content-Length`, connections are kept alive, and /api/show, /api/tags, /api/ps,
/api/embed and /api/version return the real response shapes.

It runs on `http_fake.FakeHttpServer` (stdlib asyncio streams in a daemon thread, so it
serves sync and async tests alike, with every byte on the wire under the fake's
control). Faults (`inject`): error statuses, streams cut mid-way, error or garbage NDJSON
lines, hung requests, trickled bodies and slow headers. Stopping and starting again on
the same port simulates Ollama going down and coming back. Everything it does is
recorded in `requests`, including whether the client hung up before a response finished.

Run it in the foreground with `python -m tests.fakes.fake_ollama --port 11434`.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import functools
import hashlib
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.http_fake import (
    JSON,
    Connection,
    FakeHttpServer,
    HttpError,
    Injection,
    RecordedRequest,
    Request,
    Response,
    encode_json,
)

__all__ = [
    "DEFAULT_TEXT",
    "EMBEDDING_DIMENSIONS",
    "GENERATION_PATHS",
    "VERSION",
    "FakeModel",
    "FakeOllama",
    "Fault",
    "RecordedRequest",
    "Responder",
]

Responder = Callable[[JSON], str | Mapping[str, Any]]
"""Maps a request body to the reply: text, or `{"content": ..., "tool_calls": [...]}`."""

DEFAULT_TEXT = "return a + b\n"
VERSION = "0.12.0"
EMBEDDING_DIMENSIONS = 64
GENERATION_PATHS = frozenset({"/api/generate", "/api/chat"})

NDJSON_TYPE = "application/x-ndjson"
MODIFIED_AT = "2025-01-15T10:30:00.000000Z"
KEEP_ALIVE = timedelta(minutes=5)
LOADED_CONTEXT_LENGTH = 4096
FAULT_AFTER_LINES = 2

SERVER_ERROR_MESSAGE = "llama runner process has terminated: exit status 2"
OVERLOADED_MESSAGE = "server busy, please try again.  maximum pending requests exceeded"
STREAM_ERROR_MESSAGE = "an error was encountered while running the model: unexpected EOF"
BAD_JSON_LINE = b'{"model":"oops", this is not json\n'

# Word-ish pieces with their leading space, like a BPE tokenizer's output.
TOKEN_PATTERN = re.compile(r" ?\w+| ?[^\w\s]+|\s+(?!\S)|\s+")

_log = logging.getLogger(__name__)


class Fault(enum.StrEnum):
    """What `FakeOllama.inject` can do to a request."""

    NOT_FOUND = "not_found"
    SERVER_ERROR = "server_error"
    OVERLOADED = "overloaded"
    DROP_MID_STREAM = "drop_mid_stream"
    ERROR_LINE = "error_line"
    BAD_JSON = "bad_json"
    HANG = "hang"
    TRICKLE = "trickle"
    SLOW_HEADERS = "slow_headers"


DEFAULT_FAULT_DELAYS = {Fault.TRICKLE: 0.05, Fault.SLOW_HEADERS: 1.0}


@dataclass(frozen=True)
class FakeModel:
    """A model in the fake's registry; `name` always carries a tag."""

    name: str
    architecture: str
    capabilities: tuple[str, ...]
    template: str = ""
    context_length: int = 4096
    parameter_size: str = "1B"
    quantization_level: str = "Q4_K_M"
    size: int = 1_000_000_000
    parameters: str = ""

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()

    @property
    def qualified_name(self) -> str:
        return f"registry.ollama.ai/library/{self.name}"

    def details(self) -> JSON:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.architecture,
            "families": [self.architecture],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }

    def show(self) -> JSON:
        return {
            "modelfile": self._modelfile(),
            "parameters": self.parameters,
            "template": self.template,
            "details": self.details(),
            "model_info": {
                "general.architecture": self.architecture,
                f"{self.architecture}.context_length": self.context_length,
            },
            "capabilities": list(self.capabilities),
            "modified_at": MODIFIED_AT,
        }

    def listing(self) -> JSON:
        return {
            "name": self.name,
            "model": self.name,
            "modified_at": MODIFIED_AT,
            "size": self.size,
            "digest": self.digest,
            "details": self.details(),
        }

    def process(self, expires_at: str) -> JSON:
        return {
            "name": self.name,
            "model": self.name,
            "size": self.size,
            "digest": self.digest,
            "details": self.details(),
            "expires_at": expires_at,
            "size_vram": self.size,
            "context_length": LOADED_CONTEXT_LENGTH,
        }

    def _modelfile(self) -> str:
        return (
            '# Modelfile generated by "ollama show"\n'
            f"FROM /root/.ollama/models/blobs/sha256-{self.digest}\n"
            f'TEMPLATE """{self.template}"""\n'
        )


QWEN_CODER_TEMPLATE = (
    "{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>\n"
    "{{- else if .Messages }}\n"
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n"
    "{{- else }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n<|im_start|>assistant\n"
    "{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"
)
LLAMA_TEMPLATE = (
    "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
    "{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
)


def default_models() -> list[FakeModel]:
    """The registry a fresh `FakeOllama` starts with."""
    coder = FakeModel(
        name="qwen2.5-coder:1.5b",
        architecture="qwen2",
        capabilities=("completion", "insert"),
        template=QWEN_CODER_TEMPLATE,
        context_length=32768,
        parameter_size="1.5B",
        size=986_062_089,
        parameters='stop                           "<|endoftext|>"',
    )
    return [
        coder,
        replace(coder, name="qwen2.5-coder:7b", parameter_size="7.6B", size=4_683_087_332),
        FakeModel(
            name="llama3.2:3b",
            architecture="llama",
            capabilities=("completion", "tools"),
            template=LLAMA_TEMPLATE,
            context_length=131072,
            parameter_size="3.2B",
            size=2_019_393_189,
        ),
        FakeModel(
            name="nomic-embed-text:latest",
            architecture="nomic-bert",
            capabilities=("embedding",),
            context_length=2048,
            parameter_size="137M",
            quantization_level="F16",
            size=274_302_450,
        ),
    ]


def tagged(name: str) -> str:
    """`name` with Ollama's implicit `:latest` tag added when it has none."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def tokenize(text: str) -> list[str]:
    """Split `text` into the small pieces the fake streams one at a time."""
    return TOKEN_PATTERN.findall(text)


def embedding(text: str) -> list[float]:
    """A deterministic unit vector derived from a hash of `text`."""
    digest = hashlib.shake_256(text.encode()).digest(EMBEDDING_DIMENSIONS)
    raw = [byte / 127.5 - 1.0 for byte in digest]
    norm = math.sqrt(sum(value * value for value in raw)) or 1.0
    return [value / norm for value in raw]


def cut_at_stop(text: str, stops: object) -> str:
    """`text` up to the first occurrence of any stop string, as Ollama does."""
    if isinstance(stops, str):
        stops = [stops]
    if not isinstance(stops, list):
        return text
    found = [text.find(stop) for stop in stops if isinstance(stop, str) and stop]
    return text[: min((index for index in found if index >= 0), default=len(text))]


def not_found_message(name: str, path: str) -> str:
    if path == "/api/show":
        return f"model '{name}' not found"
    return f'model "{name}" not found, try pulling it first'


def timestamp(offset: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + offset).isoformat(timespec="microseconds").replace("+00:00", "Z")


def nanoseconds(seconds: float) -> int:
    return round(seconds * 1e9)


# ---------------------------------------------------------------------------
# Planned responses and the faults that rewrite them


@dataclass(frozen=True)
class Reply:
    """What the responder produced, normalised."""

    content: str
    tool_calls: list[Any]

    @classmethod
    def of(cls, value: str | Mapping[str, Any]) -> Reply:
        if isinstance(value, str):
            return cls(value, [])
        return cls(str(value.get("content") or ""), list(value.get("tool_calls") or []))


@dataclass(frozen=True)
class Generation:
    """A reply cut into timed tokens, plus the statistics Ollama reports."""

    tokens: list[str]
    first_token_delay: float
    token_delay: float
    done_reason: str
    prompt_tokens: int
    tool_calls: list[Any]

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    def token_delays(self) -> list[float]:
        """Seconds to wait before each token."""
        if not self.tokens:
            return []
        return [self.first_token_delay] + [self.token_delay] * (len(self.tokens) - 1)

    @property
    def final_delay(self) -> float:
        """Seconds to wait before the `done` line (the end-of-sequence token)."""
        return self.token_delay if self.tokens else self.first_token_delay

    @property
    def duration(self) -> float:
        return self.first_token_delay + self.token_delay * len(self.tokens)

    def stats(self) -> JSON:
        return {
            "done_reason": self.done_reason,
            "total_duration": nanoseconds(self.duration),
            "load_duration": 0,
            "prompt_eval_count": self.prompt_tokens,
            "prompt_eval_duration": nanoseconds(self.first_token_delay),
            "eval_count": len(self.tokens),
            "eval_duration": nanoseconds(self.duration - self.first_token_delay),
        }


def error_reply(status: int, message: str) -> Response:
    """An Ollama-style error body."""
    return Response.json({"error": message}, status=status)


def ndjson_reply(lines: list[JSON], delays: list[float]) -> Response:
    """A stream of JSON lines, each sent after its delay."""
    parts = [(delay, encode_json(line) + b"\n") for delay, line in zip(delays, lines, strict=True)]
    return Response(content_type=NDJSON_TYPE, parts=parts, stream=True)


def fault_reply(fault: Fault, request: Request) -> Response | None:
    """The response that replaces the normal one, for faults that skip the handler."""
    if fault is Fault.NOT_FOUND:
        body = request.body or {}
        name = str(body.get("model") or body.get("name") or "")
        return error_reply(404, not_found_message(name, request.path))
    if fault is Fault.SERVER_ERROR:
        return error_reply(500, SERVER_ERROR_MESSAGE)
    if fault is Fault.OVERLOADED:
        return error_reply(503, OVERLOADED_MESSAGE)
    if fault is Fault.HANG:
        return Response(hang=True)
    return None


def apply_fault(injection: Injection, response: Response) -> Response:
    """Rewrite a planned response to misbehave on the wire."""
    fault, keep = injection.fault, max(0, min(FAULT_AFTER_LINES, len(response.parts) - 1))
    if fault is Fault.SLOW_HEADERS:
        return replace(response, header_delay=injection.delay)
    if fault is Fault.TRICKLE:
        return replace(response, byte_interval=injection.delay)
    if fault is Fault.DROP_MID_STREAM:
        parts = response.parts[:keep] if response.stream else response.parts
        return replace(response, parts=parts, truncate=True)
    if not response.stream:
        if fault is Fault.ERROR_LINE:
            return error_reply(500, STREAM_ERROR_MESSAGE)
        return replace(response, parts=[(response.parts[0][0], BAD_JSON_LINE)])
    if fault is Fault.ERROR_LINE:
        error_line = encode_json({"error": STREAM_ERROR_MESSAGE}) + b"\n"
        return replace(response, parts=[*response.parts[:keep], (0.0, error_line)])
    parts = [*response.parts[:keep], (0.0, BAD_JSON_LINE), *response.parts[keep:]]
    return replace(response, parts=parts)


# ---------------------------------------------------------------------------
# The fake server


class FakeOllama(FakeHttpServer[RecordedRequest]):
    """A fake Ollama server on 127.0.0.1, running its own loop in a daemon thread.

    Tune behaviour through the attributes, from any thread:

    - `responder(request_body) -> str | {"content", "tool_calls"}`: what the model says;
    - `token_delay` / `first_token_delay`: seconds before each token / the first one;
    - `prompt_eval_count`: reported prompt size (default: prompt characters // 4);
    - `load_seconds`: how long a model that is not in memory takes to load (0: at once).
      A load sends nothing on the wire until it is done, and the client hanging up
      meanwhile aborts it (`aborted_loads`); see `_load_first`;
    - `max_loaded`: most models in memory at once (0: no limit); loading one more unloads
      the least recently used, as `OLLAMA_MAX_LOADED_MODELS` (or memory) makes Ollama do
      (`server/sched.go` `processPending`: "max runners achieved, unloading one to make
      room").
    """

    thread_name = "fake-ollama"
    fault_type = Fault
    generation_paths = GENERATION_PATHS
    stream_head_waits_for_first_part = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(
            port,
            routes={
                ("GET", "/"): lambda _request: Response(
                    content_type="text/plain; charset=utf-8", parts=[(0.0, b"Ollama is running")]
                ),
                ("GET", "/api/version"): lambda _request: Response.json({"version": VERSION}),
                ("GET", "/api/tags"): self._tags,
                ("GET", "/api/ps"): self._ps,
                ("POST", "/api/show"): self._show,
                ("POST", "/api/generate"): self._generate,
                ("POST", "/api/chat"): self._chat,
                ("POST", "/api/embed"): self._embed,
            },
        )
        self.responder: Responder = lambda _body: DEFAULT_TEXT
        self.token_delay = 0.0
        self.first_token_delay = 0.0
        self.prompt_eval_count: int | None = None
        self.load_seconds = 0.0
        self.max_loaded = 0
        self.completed_loads = 0
        self.aborted_loads = 0
        self._models = {model.name: model for model in default_models()}
        self._loaded: dict[str, FakeModel] = {}
        self._loading: dict[str, asyncio.Future[bool]] = {}  # on the fake's own loop

    def stop(self) -> None:
        """Close the port and every connection, hung ones included; unload every model."""
        try:
            super().stop()
        finally:
            with self._lock:
                self._loaded.clear()

    # -- configuration ------------------------------------------------------

    def set_text(self, text: str) -> None:
        """Make every generation produce `text`."""
        self.responder = lambda _body: text

    def add_model(
        self,
        name: str,
        *,
        architecture: str,
        capabilities: list[str] | tuple[str, ...],
        template: str = "",
        context_length: int = 4096,
        parameter_size: str = "1B",
        quantization_level: str = "Q4_K_M",
        size: int = 1_000_000_000,
    ) -> FakeModel:
        model = FakeModel(
            name=tagged(name),
            architecture=architecture,
            capabilities=tuple(capabilities),
            template=template,
            context_length=context_length,
            parameter_size=parameter_size,
            quantization_level=quantization_level,
            size=size,
        )
        with self._lock:
            self._models[model.name] = model
        return model

    def preload(self, *names: str) -> None:
        """Put models in memory, as if they answered a moment ago (every model when none
        is named). `stop` unloads them all, as a restart of Ollama does."""
        with self._lock:
            for name in names or tuple(self._models):
                self._loaded[tagged(name)] = self._models[tagged(name)]

    def remove_model(self, name: str) -> None:
        key = tagged(name)
        with self._lock:
            self._models.pop(key, None)
            self._loaded.pop(key, None)

    def inject(
        self,
        fault: Fault | str,
        *,
        times: int | None = None,
        path: str | None = None,
        delay: float | None = None,
    ) -> None:
        """Make matching requests misbehave.

        `times`: the next N matching requests, or every one until `reset()` when None.
        `path`: an exact path, `"*"` for all, or None for /api/generate and /api/chat.
        `delay`: seconds between trickled bytes, or before slow headers.
        """
        fault = Fault(fault)
        if delay is None:
            delay = DEFAULT_FAULT_DELAYS.get(fault, 0.0)
        self._add_fault(fault, times, path, delay)

    # -- routing --------------------------------------------------------------

    def _respond(self, request: Request) -> Response:
        injection = self._take_fault(request.path)
        if injection is not None and (replacement := fault_reply(injection.fault, request)):
            return replacement
        response = self._route(request)
        return response if injection is None else apply_fault(injection, response)

    def _new_record(self, request: Request) -> RecordedRequest:
        return RecordedRequest(request.method, request.path, request.body, time.monotonic())

    def _unknown_route(self, _request: Request) -> Response:
        return Response(404, "text/plain; charset=utf-8", [(0.0, b"404 page not found")])

    def _error_reply(self, error: HttpError) -> Response:
        return error_reply(error.status, error.message)

    def _route(self, request: Request) -> Response:
        try:
            return super()._route(request)
        except Exception as exc:
            _log.exception("fake Ollama handler failed for %s", request.path)
            return error_reply(500, f"fake Ollama handler raised {exc!r}")

    def _find_model(self, body: JSON, path: str) -> tuple[str, FakeModel]:
        name = str(body.get("model") or body.get("name") or "")
        if not name:
            raise HttpError(400, "model is required")
        with self._lock:
            model = self._models.get(tagged(name))
        if model is None:
            raise HttpError(404, not_found_message(name, path))
        return name, model

    def generations(self) -> list[RecordedRequest]:
        """Requests that generate: to /api/generate and /api/chat, load-only ones left
        out (see `loads`)."""
        return [request for request in super().generations() if not _load_only(request)]

    def loads(self) -> list[RecordedRequest]:
        """Load-only requests (an empty prompt, no messages): what a client's warm-up sends.
        Real Ollama answers them once the model is loaded (`server/routes.go:476-485`)."""
        return [request for request in super().generations() if _load_only(request)]

    def _touch(self, model: FakeModel, keep_alive: object) -> bool:
        """Mark `model` loaded (at once, unless loads take time: then `_load_first` does),
        or unload it for `keep_alive: 0`; True if unloaded."""
        unload = keep_alive in (0, "0", "0s")
        with self._lock:
            if unload:
                self._loaded.pop(model.name, None)
            elif self.load_seconds <= 0 or model.name in self._loaded:
                self._make_room_for(model)
        return unload

    def _make_room_for(self, model: FakeModel) -> None:
        """`model` in memory, most recently used; the least recently used ones unloaded
        past `max_loaded`. Call with the lock held."""
        self._loaded.pop(model.name, None)
        self._loaded[model.name] = model
        while self.max_loaded and len(self._loaded) > self.max_loaded:
            del self._loaded[next(iter(self._loaded))]

    def _loaded_first(self, model: FakeModel, response: Response) -> Response:
        """`response`, sent once `model` is in memory (loading it first when it is not)."""
        if self.load_seconds <= 0:
            return response
        return replace(response, prepare=functools.partial(self._load_first, model))

    async def _load_first(self, model: FakeModel, connection: Connection) -> bool:
        """Load `model` if it is not in memory; False when the client hung up first.

        As Ollama does it: nothing is written until the model is loaded, since scheduling
        (the load) runs before any reply (`server/routes.go:466`); the runner is created
        with its lock held until it runs (`server/sched.go:716-729`), so other requests
        for the model wait for the same load; the load waits on the requesting client's
        context, so a hang-up aborts it ("client connection closed before llama-server
        finished loading, aborting load", `llm/llama_server.go:1299-1301`) and the runner
        is expired (`server/sched.go:731-737`): the next request loads from zero.
        """
        while True:
            with self._lock:
                if model.name in self._loaded:
                    return True
            pending = self._loading.get(model.name)
            if pending is None:
                return await self._load(model, connection)
            gone = asyncio.ensure_future(connection.gone.wait())
            await asyncio.wait([pending, gone], return_when=asyncio.FIRST_COMPLETED)
            gone.cancel()
            if connection.gone.is_set():
                return False
            # The load ended: loaded (returns above), or aborted (this request loads).

    async def _load(self, model: FakeModel, connection: Connection) -> bool:
        done = self._loading[model.name] = asyncio.get_running_loop().create_future()
        try:
            loaded = await connection.pause(self.load_seconds)
        finally:
            del self._loading[model.name]
        with self._lock:
            if loaded:
                self._make_room_for(model)
                self.completed_loads += 1
            else:
                self.aborted_loads += 1
            self._lock.notify_all()
        done.set_result(loaded)
        return loaded

    async def _after_loads(self, connection: Connection) -> bool:
        """`/api/ps` answers once no model is loading: it takes each runner's lock, which a
        loading runner holds (`server/sched.go` `loadedModels`, 1745-1761)."""
        while self._loading:
            gone = asyncio.ensure_future(connection.gone.wait())
            await asyncio.wait([*self._loading.values(), gone], return_when=asyncio.FIRST_COMPLETED)
            gone.cancel()
            if connection.gone.is_set():
                return False
        return True

    def _tags(self, _request: Request) -> Response:
        with self._lock:
            models = [model.listing() for model in self._models.values()]
        return Response.json({"models": models})

    def _ps(self, _request: Request) -> Response:
        return Response(prepare=self._after_loads, late_body=self._ps_body)

    def _ps_body(self) -> bytes:
        expires_at = timestamp(KEEP_ALIVE)
        with self._lock:
            models = [model.process(expires_at) for model in self._loaded.values()]
        return encode_json({"models": models})

    def _show(self, request: Request) -> Response:
        _name, model = self._find_model(request.json_body(), request.path)
        return Response.json(model.show())

    def _embed(self, request: Request) -> Response:
        body = request.json_body()
        name, model = self._find_model(body, request.path)
        inputs = body.get("input") or []
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(text, str) for text in inputs):
            raise HttpError(400, "invalid input type")
        self._touch(model, body.get("keep_alive"))
        return self._loaded_first(
            model,
            Response.json(
                {
                    "model": name,
                    "embeddings": [embedding(text) for text in inputs],
                    "total_duration": 0,
                    "load_duration": 0,
                    "prompt_eval_count": sum(len(text) // 4 for text in inputs),
                }
            ),
        )

    def _generate(self, request: Request) -> Response:
        body = request.json_body()
        name, model = self._find_model(body, request.path)
        if "completion" not in model.capabilities:
            raise HttpError(400, f'"{name}" does not support generate')
        if body.get("suffix"):
            self._require(model, "insert")
        unloaded = self._touch(model, body.get("keep_alive"))
        if not body.get("prompt"):  # like Ollama, even when a suffix is given
            return self._loaded_first(model, self._load_reply(name, unloaded, {"response": ""}))
        prompt = "".join(str(body.get(key) or "") for key in ("system", "prompt", "suffix"))
        generation = self._generation(body, prompt, with_tools=False)
        token_count = generation.prompt_tokens + len(generation.tokens)
        context = {} if body.get("raw") else {"context": list(range(token_count))}
        chunks = [self._line(name, response=token, done=False) for token in generation.tokens]
        final = self._line(name, response="", done=True, **context, **generation.stats())
        return self._loaded_first(
            model, self._completion(body, generation, chunks, final, {"response": generation.text})
        )

    def _chat(self, request: Request) -> Response:
        body = request.json_body()
        name, model = self._find_model(body, request.path)
        if "completion" not in model.capabilities:
            raise HttpError(400, f'"{name}" does not support chat')
        if body.get("tools"):
            self._require(model, "tools")
        unloaded = self._touch(model, body.get("keep_alive"))
        messages = body.get("messages") or []
        if not messages:
            return self._loaded_first(
                model, self._load_reply(name, unloaded, {"message": assistant("")})
            )
        prompt = "".join(str(message.get("content") or "") for message in messages)
        generation = self._generation(body, prompt, with_tools=bool(body.get("tools")))
        chunks = [
            self._line(name, message=assistant(token), done=False) for token in generation.tokens
        ]
        calls = {"tool_calls": generation.tool_calls} if generation.tool_calls else {}
        if calls:
            chunks.append(self._line(name, message=assistant("", **calls), done=False))
        final = self._line(name, message=assistant(""), done=True, **generation.stats())
        return self._loaded_first(
            model,
            self._completion(
                body, generation, chunks, final, {"message": assistant(generation.text, **calls)}
            ),
        )

    @staticmethod
    def _require(model: FakeModel, capability: str) -> None:
        if capability not in model.capabilities:
            raise HttpError(400, f"{model.qualified_name} does not support {capability}")

    @staticmethod
    def _line(name: str, **fields: Any) -> JSON:
        return {"model": name, "created_at": timestamp(), **fields}

    def _load_reply(self, name: str, unloaded: bool, empty: JSON) -> Response:
        reason = "unload" if unloaded else "load"
        return Response.json(self._line(name, **empty, done=True, done_reason=reason))

    def _generation(self, body: JSON, prompt: str, *, with_tools: bool) -> Generation:
        reply = Reply.of(self.responder(body))
        options = body.get("options") or {}
        tokens = tokenize(cut_at_stop(reply.content, options.get("stop")))
        done_reason = "stop"
        limit = options.get("num_predict")
        if isinstance(limit, int) and 0 <= limit < len(tokens):
            tokens, done_reason = tokens[:limit], "length"
        prompt_tokens = self.prompt_eval_count
        return Generation(
            tokens=tokens,
            first_token_delay=self.first_token_delay,
            token_delay=self.token_delay,
            done_reason=done_reason,
            prompt_tokens=max(1, len(prompt) // 4) if prompt_tokens is None else prompt_tokens,
            tool_calls=reply.tool_calls if with_tools else [],
        )

    @staticmethod
    def _completion(
        body: JSON, generation: Generation, chunks: list[JSON], final: JSON, whole: JSON
    ) -> Response:
        """Stream `chunks` then `final`, or answer `final` updated with `whole` at once."""
        if body.get("stream", True):
            extra = [0.0] * (len(chunks) - len(generation.tokens))
            delays = [*generation.token_delays(), *extra, generation.final_delay]
            return ndjson_reply([*chunks, final], delays)
        return Response.json({**final, **whole}, delay=generation.duration)


def _load_only(request: RecordedRequest) -> bool:
    body = request.body or {}
    return request.path in GENERATION_PATHS and not body.get("prompt") and not body.get("messages")


def assistant(content: str, **extra: Any) -> JSON:
    return {"role": "assistant", "content": content, **extra}


# ---------------------------------------------------------------------------
# Command line


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a fake Ollama server in the foreground.")
    parser.add_argument("--port", type=int, default=11434, help="0 picks a free port")
    parser.add_argument("--text", default=DEFAULT_TEXT, help="what every generation says")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds per token")
    parser.add_argument("--first-token-delay", type=float, default=0.0, help="seconds")
    args = parser.parse_args(argv)
    fake = FakeOllama(port=args.port)
    fake.set_text(args.text)
    fake.token_delay = args.token_delay
    fake.first_token_delay = args.first_token_delay
    try:
        print(fake.start(), flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
