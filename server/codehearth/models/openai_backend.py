"""OpenAI-compatible backend: llama.cpp's server, vLLM, LM Studio, OpenAI itself.

Raw generations stream from ``/completions`` and chat answers from ``/chat/completions``
as server-sent events (``data: {...}`` lines ending with ``data: [DONE]``), with
``stream_options.include_usage`` so the last chunk carries the token counts. Streamed tool
calls (arguments arrive as JSON string fragments) are put together and handed over whole
with the final chunk. ``/models`` lists the models; :meth:`OpenAIBackend.show` shapes what
it reports like Ollama's ``/api/show`` as far as it is known, never more: the context the
server actually serves (llama.cpp's ``meta.n_ctx``, else ``/props``, else the trained
context; vLLM's ``max_model_len``), and the FIM family its tokenizer's ``/tokenize`` shows
(llama.cpp, vLLM). A llama.cpp server running one model answers whatever model a request
names (:attr:`OpenAIBackend.serves_any_model`).

The API base URL: a URL with no path gets ``/v1`` appended (``http://127.0.0.1:8080`` →
``http://127.0.0.1:8080/v1``); a URL with a path is the API base as given
(``https://api.openai.com/v1``, ``https://api.groq.com/openai/v1``). llama.cpp's own routes
are beside it, at the server's root.

These APIs have no ``num_ctx`` (the server's context is fixed when it starts) and no
``keep_alive``; both are accepted for the protocol's sake and not sent. The API key goes
only to this endpoint, only as ``Authorization: Bearer``, and is scrubbed from every error
message and detail, as are the endpoint's extra headers and secret-shaped strings the
server echoes back. Every failure is raised as a
:class:`~codehearth.models.errors.BackendError` classified here: an HTTP 401 or 403 is
``SERVER_ERROR`` ("API key rejected"), not ``UNSUPPORTED``, because callers answer
``UNSUPPORTED`` by retrying without tools, which a rejected key would fail again; a refused
request is read by what the server says (:func:`~codehearth.models.errors.refusal`), and
an error sent as an event before the first token as the status its code names. Cancelling
the consumer of a stream closes its HTTP response, which stops the generation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, Awaitable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import attrs
import httpx

from codehearth.models.connection import endpoint_transport
from codehearth.models.errors import (
    BackendError,
    ProblemKind,
    header_secrets,
    is_refusal,
    refusal,
)
from codehearth.models.ollama_backend import ChatChunk, GenerateChunk, GenerateRequest
from codehearth.models.redact import REDACTED, redact_secrets
from codehearth.models.timing import Limit, timeout_error

_T = TypeVar("_T")

API_VERSION_PATH = "/v1"
MODELS_PATH = "/models"
COMPLETIONS_PATH = "/completions"
CHAT_PATH = "/chat/completions"
DONE_MARKER = "[DONE]"
_OTHER_SSE_LINES = (":", "id:", "retry:")  # a comment, and fields we do not need
SERVER_TEXT_LIMIT = 200
UNKNOWN_ARCHITECTURE = "unknown"
LLAMA_CPP_OWNER = "llamacpp"
PROPS_PATH = "/props"
# Where servers report a model's context length in /models, served context first:
# llama.cpp (meta.n_ctx, then /props, then meta.n_ctx_train), vLLM (max_model_len),
# OpenRouter and others (context_length), Groq (context_window).
_CONTEXT_LENGTH_FIELDS = ("max_model_len", "context_length", "context_window")
TOKENIZE_PATH = "/tokenize"
# The FIM family of a model, from tokens its vocabulary has (each must be one token),
# tried in order: CodeGemma before Qwen, which share <|fim_prefix|>. Code Llama is left
# out: its vocabulary spells the sentinels with SentencePiece's "▁", so the "<PRE>" of a
# rendered prompt is not read as the token (set the endpoint's family for it).
FIM_SIGNATURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("deepseek-coder", ("<｜fim▁begin｜>",)),
    ("codestral", ("[SUFFIX]", "[PREFIX]")),
    ("starcoder2", ("<fim_prefix>", "<file_sep>")),
    ("starcoder", ("<fim_prefix>",)),
    ("codegemma", ("<|fim_prefix|>", "<|file_separator|>")),
    ("qwen2.5-coder", ("<|fim_prefix|>",)),
)


def api_base(url: str) -> str:
    """The API base for a configured URL: ``/v1`` appended when the URL has no path."""
    raw = url.strip()
    if "://" not in raw:
        raw = f"http://{raw}"
    parts = urlsplit(raw)
    path = parts.path.rstrip("/") or API_VERSION_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@attrs.define
class _ToolCallParts:
    """A tool call being streamed: its name, and its arguments' JSON text so far."""

    name: str = ""
    arguments: str = ""


class OpenAIBackend:
    """An OpenAI-compatible endpoint. Create inside the running event loop; ``aclose`` at
    shutdown."""

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        connect_timeout: float = 2.0,
        request_timeout: float = 4.0,
        keep_alive: str = "",
    ) -> None:
        """``headers`` go with every request (the key's ``Authorization`` wins over one of
        them) and are scrubbed from errors; ``transport`` decides certificates and proxy,
        by default those of :func:`~codehearth.models.connection.endpoint_transport`."""
        base = api_base(url)
        self.host = _without_credentials(base)
        self.keep_alive = keep_alive
        self._secrets = tuple(secret for secret in (api_key, urlsplit(base).password) if secret)
        self._secrets += header_secrets(headers or {})
        self._key_sent = bool(api_key) or any(
            name.lower() == "authorization" for name in headers or {}
        )
        sent = dict(headers or {})
        if api_key:
            sent = {n: v for n, v in sent.items() if n.lower() != "authorization"}
            sent["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.AsyncClient(
            base_url=base,
            headers=sent,
            # No read timeout: a server sends nothing before its first result (a model
            # load, a long prompt). Streams are bounded by the pool (models/timing.py);
            # the model list by request_timeout.
            timeout=httpx.Timeout(None, connect=connect_timeout),
            transport=transport or endpoint_transport(base),
        )
        self._request_limit = Limit(request_timeout, "completion.stallSeconds")
        self._root = server_root(base)
        self._show_cache: dict[str, Mapping[str, Any]] = {}
        self.serves_any_model = False
        """True once ``/models`` showed a llama.cpp server running one model, which
        answers whatever ``model`` a request names."""

    async def aclose(self) -> None:
        await self._client.aclose()

    async def list_models(self) -> list[str]:
        """Model ids from ``/models``."""
        return [str(entry["id"]) for entry in await self._model_entries()]

    async def show(self, model: str) -> Mapping[str, Any]:
        """What ``/models`` reports for ``model``, shaped like Ollama's ``/api/show``
        (cached per backend). ``model_info`` holds a context length only when the server
        reports one, under the architecture ``unknown`` since these APIs do not name it."""
        cached = self._show_cache.get(model)
        if cached is not None:
            return cached
        entries = await self._model_entries()
        entry = next((e for e in entries if e["id"] == model), {})
        if not entry and self.serves_any_model:
            entry = entries[0]
        length = _served_context(entry) or await self._props_context(entry)
        length = length or _context_length(entry)
        info: dict[str, Any] = {}
        if length is not None:
            info = {
                "general.architecture": UNKNOWN_ARCHITECTURE,
                f"{UNKNOWN_ARCHITECTURE}.context_length": length,
            }
        shown: dict[str, Any] = {"model_info": info}
        fim = await self._fim_family(model)
        if fim is not None:
            shown["fim"] = fim
        self._show_cache[model] = shown
        return shown

    def forget_model(self, model: str) -> None:
        """Drop cached model metadata (after a settings change)."""
        self._show_cache.pop(model, None)

    async def warm_up(self, model: str, num_ctx: int) -> None:
        """Load the model with a one-token completion (servers that load models on demand,
        such as LM Studio, do so on the first request). ``num_ctx`` is not sent. Not
        bounded here: the caller gives a load its own, long, limit."""
        body = {"model": model, "prompt": "\n", "max_tokens": 1, "stream": False}
        await self._request_json("POST", COMPLETIONS_PATH, model, body)

    async def generate(self, request: GenerateRequest) -> AsyncGenerator[GenerateChunk, None]:
        """Stream a raw generation from ``/completions``. Raises BackendError; cancelling
        the consumer closes the stream."""
        body: dict[str, Any] = {
            "model": request.model,
            "prompt": request.prompt,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if request.seed is not None:
            body["seed"] = request.seed
        usage: Mapping[str, Any] = {}
        events = self._events(COMPLETIONS_PATH, body, request.model)
        async with contextlib.aclosing(events) as payloads:
            async for payload in payloads:
                usage = _usage(payload) or usage
                choice = self._first_choice(payload, request.model)
                text = choice.get("text") if choice else None
                if text:
                    yield GenerateChunk(text=self._expect(str, text, request.model))
        yield GenerateChunk(
            text="",
            done=True,
            prompt_eval_count=count_field(usage, "prompt_tokens"),
            eval_count=count_field(usage, "completion_tokens"),
        )

    async def chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        num_ctx: int,
        max_tokens: int = 1024,
        temperature: float = 0.2,
        tools: list[Mapping[str, Any]] | None = None,
        think: bool | None = None,
    ) -> AsyncGenerator[ChatChunk, None]:
        """Stream a chat answer from ``/chat/completions``; tool calls arrive whole with the
        final chunk. ``num_ctx`` and ``think`` are not sent (the API has no thinking switch
        every server accepts). Raises BackendError; cancelling the consumer closes the
        stream."""
        body: dict[str, Any] = {
            "model": model,
            "messages": openai_messages(messages),
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            body["tools"] = list(tools)
        usage: Mapping[str, Any] = {}
        calls: dict[int, _ToolCallParts] = {}
        async with contextlib.aclosing(self._events(CHAT_PATH, body, model)) as payloads:
            async for payload in payloads:
                usage = _usage(payload) or usage
                choice = self._first_choice(payload, model)
                delta = self._expect(dict, (choice or {}).get("delta") or {}, model)
                self._add_tool_call_parts(calls, delta.get("tool_calls") or [], model)
                content = delta.get("content")
                if content:
                    yield ChatChunk(content=self._expect(str, content, model))
        yield ChatChunk(
            tool_calls=tuple(self._finished_call(calls[index], model) for index in sorted(calls)),
            done=True,
            prompt_eval_count=count_field(usage, "prompt_tokens"),
        )

    # -- requests -----------------------------------------------------------------------

    async def _model_entries(self) -> list[Mapping[str, Any]]:
        try:
            async with asyncio.timeout(self._request_limit.seconds):
                listing = await self._request_json("GET", MODELS_PATH, "", None)
        except TimeoutError:
            raise self._scrubbed(
                timeout_error(self.host, self._request_limit, f"did not answer {MODELS_PATH}")
            ) from None
        entries = listing.get("data")
        if not isinstance(entries, list) or not all(
            isinstance(entry, dict) and isinstance(entry.get("id"), str) for entry in entries
        ):
            raise self._bad_response("", f"{MODELS_PATH} has no list of models with ids")
        # llama.cpp lists its one model (get_res_model_info); in router mode every entry
        # has a "status" and the request's model picks the instance.
        self.serves_any_model = (
            len(entries) == 1
            and entries[0].get("owned_by") == LLAMA_CPP_OWNER
            and "status" not in entries[0]
        )
        return entries

    async def _fim_family(self, model: str) -> dict[str, str] | None:
        """The model's FIM family from the server's tokenizer (``/tokenize`` of llama.cpp
        or vLLM): the first of :data:`FIM_SIGNATURES` whose tokens are each one token.
        None for a server without ``/tokenize`` or a model without FIM tokens."""
        known: dict[str, bool] = {}
        for family, tokens in FIM_SIGNATURES:
            for token in tokens:
                if token not in known:
                    single = await self._one_token(model, token)
                    if single is None:
                        return None
                    known[token] = single
            if all(known[token] for token in tokens):
                return {"family": family, "reason": f"the server's tokenizer has {tokens[0]}"}
        return None

    async def _one_token(self, model: str, text: str) -> bool | None:
        """Whether the model's tokenizer reads ``text`` as one token; None when the server
        has no tokenizer to ask. One body serves both servers: llama.cpp reads ``content``
        (parse_special defaults to true), vLLM ``model``, ``prompt`` and
        ``add_special_tokens``; each ignores the other's fields. A server that fails or is
        busy raises, so that the answer is not cached."""
        url = f"{self._root}{TOKENIZE_PATH}"
        body = {"content": text, "model": model, "prompt": text, "add_special_tokens": False}
        response = await self._call(model, url, self._client.post(url, json=body))
        if response.status_code in (429, 500, 502, 503, 504):
            await self._call(model, url, response.aread())
            raise self._classify(
                httpx.HTTPStatusError("error status", request=response.request, response=response),
                model=model,
                path=TOKENIZE_PATH,
            )
        try:
            tokens = response.json().get("tokens") if response.is_success else None
        except (ValueError, AttributeError):
            tokens = None
        return len(tokens) == 1 if isinstance(tokens, list) else None

    async def _props_context(self, entry: Mapping[str, Any]) -> int | None:
        """llama.cpp's slot context from ``/props`` (``default_generation_settings.n_ctx``),
        for a llama.cpp entry that does not say it; None when unknown."""
        if entry.get("owned_by") != LLAMA_CPP_OWNER:
            return None
        try:
            props = await self._request_json("GET", f"{self._root}{PROPS_PATH}", "", None)
        except BackendError:
            return None
        settings = props.get("default_generation_settings")
        return _positive(settings.get("n_ctx")) if isinstance(settings, dict) else None

    async def _request_json(
        self, method: str, path: str, model: str, body: Mapping[str, Any] | None
    ) -> Mapping[str, Any]:
        """One non-streamed request; its JSON object body. Raises BackendError."""
        response = await self._call(model, path, self._client.request(method, path, json=body))
        try:
            response.raise_for_status()
            payload = response.json()
        except Exception as error:
            raise self._classify(error, model=model, path=path) from error
        return self._expect(dict, payload, model)

    async def _events(
        self, path: str, body: Mapping[str, Any], model: str, *, done_marker: bool = True
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The JSON payloads of a streamed request's server-sent events, up to ``[DONE]``
        (or the end of the stream, for a route that sends no ``[DONE]``), failures
        classified. The HTTP response is opened here and always closed (which is what
        makes the server stop generating), also when the consumer stops early.

        An error may come as an event: ``data: {"error": {...}}`` (vLLM, llama.cpp), an
        ``event: error`` event, or the ``error: {...}`` line of llama.cpp builds from
        before October 2025 (under HTTP 200, then ``data: [DONE]``). Before any other
        event it stands for the HTTP status its ``code`` names, as newer builds send it."""
        request = self._client.build_request("POST", path, json=body)
        response = await self._call(model, path, self._client.send(request, stream=True))
        try:
            if not response.is_success:
                await self._call(model, path, response.aread())
                raise self._classify(
                    httpx.HTTPStatusError("error status", request=request, response=response),
                    model=model,
                    path=path,
                )
            lines = response.aiter_lines().__aiter__()
            data: list[str] = []
            event = ""
            first = True
            while True:
                try:
                    line = await lines.__anext__()
                except StopAsyncIteration:
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    classified = self._classify(error, model=model, path=path)
                    if not (done_marker and first and not data):
                        raise classified from error
                    break  # cut before its first event: asked again below
                if line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("error:"):
                    raise self._error_event(line[6:].strip(), model, path, first=first)
                elif not line and data:
                    if "\n".join(data) == DONE_MARKER:
                        return
                    if event == "error":
                        raise self._error_event("\n".join(data), model, path, first=first)
                    yield self._event_payload("\n".join(data), model, path, first=first)
                    data, event, first = [], "", False
                elif line and not line.startswith(_OTHER_SSE_LINES):
                    raise self._bad_response(model, f"not a server-sent event: {line[:80]!r}")
            if not done_marker or (data and "\n".join(data) == DONE_MARKER):
                return
            if first and not data:
                # Nothing, or a cut, under HTTP 200 before any event: llama-cpp-python's
                # server answers so when its model fails after the headers went out (a
                # prompt longer than the context: llama_cpp/server/app.py streams from a
                # generator that raises). The same request unstreamed gets the server's own
                # error, or the answer. That server also closes the connection the empty
                # answer came on, which httpx may have pooled again: a request that finds
                # it closed before any response is sent once more, on a new one.
                await response.aclose()
                try:
                    whole = await self._request_json("POST", path, model, unstreamed(body))
                except BackendError as error:
                    if error.kind is not ProblemKind.STREAM_DROPPED:
                        raise
                    whole = await self._request_json("POST", path, model, unstreamed(body))
                yield as_stream_payload(whole)
                return
            raise self._scrubbed(
                BackendError(
                    ProblemKind.STREAM_DROPPED,
                    f"{self.host} ended the answer from {model} early (no [DONE]); "
                    "check the server's log",
                    f"stream from {path} ended without [DONE]",
                )
            )
        finally:
            await response.aclose()

    async def _call(self, model: str, path: str, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except asyncio.CancelledError:
            raise
        except Exception as error:
            raise self._classify(error, model=model, path=path) from error

    # -- reading the answers ------------------------------------------------------------

    def _event_payload(self, data: str, model: str, path: str, *, first: bool) -> dict[str, Any]:
        try:
            payload = json.loads(data)
        except ValueError as failure:
            raise self._classify(failure, model=model, path="") from failure
        payload = self._expect(dict, payload, model)
        if payload.get("error"):
            raise self._error_event(data, model, path, first=first)
        return payload

    def _error_event(self, data: str, model: str, path: str, *, first: bool) -> BackendError:
        """An error the server sent as an event (``data`` is its JSON: the error object, or
        one holding it under ``error``). Before any other event, with an HTTP status as its
        code, it is classified as that status; later it broke the answer off."""
        try:
            payload = json.loads(data)
        except ValueError:
            payload = data
        error = (payload.get("error") or payload) if isinstance(payload, dict) else payload
        code = error.get("code") if isinstance(error, dict) else None
        if first and isinstance(code, int) and not isinstance(code, bool) and code >= 400:
            return self._scrubbed(
                _status_error(
                    code,
                    _error_text(error),
                    data,
                    endpoint=self.host,
                    model=model,
                    path=path,
                    key_sent=self._key_sent,
                )
            )
        return self._scrubbed(
            BackendError(
                ProblemKind.STREAM_ERROR,
                f"{self.host} reported an error while generating with {model}: "
                f"{_error_text(error)}",
                f"error event: {data[:SERVER_TEXT_LIMIT]}",
            )
        )

    def _first_choice(self, payload: Mapping[str, Any], model: str) -> Mapping[str, Any] | None:
        """The first choice of a chunk; None for the usage-only chunk (no choices)."""
        choices = self._expect(list, payload.get("choices") or [], model)
        return self._expect(dict, choices[0], model) if choices else None

    def _add_tool_call_parts(
        self, calls: dict[int, _ToolCallParts], deltas: object, model: str
    ) -> None:
        """Merge one chunk's ``tool_calls`` deltas: the name comes once, the arguments in
        pieces; a call without an ``index`` is placed by its position in the chunk."""
        for position, delta in enumerate(self._expect(list, deltas, model)):
            delta = self._expect(dict, delta, model)
            index = delta.get("index", position)
            function = self._expect(dict, delta.get("function") or {}, model)
            parts = calls.setdefault(self._expect(int, index, model), _ToolCallParts())
            name = function.get("name")
            if name and not parts.name:
                parts.name = self._expect(str, name, model)
            arguments = function.get("arguments")
            if isinstance(arguments, dict):  # some servers send the object whole
                parts.arguments = json.dumps(arguments)
            elif arguments:
                parts.arguments += self._expect(str, arguments, model)

    def _finished_call(self, parts: _ToolCallParts, model: str) -> Mapping[str, Any]:
        try:
            arguments = json.loads(parts.arguments) if parts.arguments.strip() else {}
        except ValueError:
            arguments = None
        if not parts.name or not isinstance(arguments, dict):
            raise self._bad_response(
                model,
                f"{model} sent a tool call without a name or whose arguments are not a JSON object",
            )
        return {"name": parts.name, "arguments": arguments}

    def _expect(self, kind: type[_T], value: object, model: str) -> _T:
        """``value`` if it has the type the API promises, else a BAD_RESPONSE error."""
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise self._bad_response(model, f"expected {kind.__name__}, got {value!r:.80}")
        return value

    # -- errors ---------------------------------------------------------------------------

    def _bad_response(self, model: str, detail: str) -> BackendError:
        return self._scrubbed(
            BackendError(
                ProblemKind.BAD_RESPONSE,
                f"{self.host} sent a response CodeHearth could not read"
                f"{f' for {model}' if model else ''}; is it an OpenAI-compatible API base URL?",
                detail,
            )
        )

    def _classify(self, error: BaseException, *, model: str, path: str) -> BackendError:
        """Map a failure talking to this endpoint to a BackendError with a message a user
        can act on, the API key scrubbed from it."""
        classified = classify_openai(
            error, endpoint=self.host, model=model, path=path, key_sent=self._key_sent
        )
        return self._scrubbed(classified)

    def _scrubbed(self, error: BackendError) -> BackendError:
        return attrs.evolve(
            error, message=self._scrub(error.message), detail=self._scrub(error.detail)
        )

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return redact_secrets(text)[0]


def classify_openai(
    error: BaseException, *, endpoint: str, model: str, path: str, key_sent: bool = True
) -> BackendError:
    """Map an exception from a request to an OpenAI-compatible ``endpoint`` to a
    BackendError. Server text is quoted only for statuses other than 401/403 (a rejected
    key's error text may echo the key)."""
    if isinstance(error, BackendError):
        return error
    if isinstance(error, httpx.HTTPStatusError):
        response = error.response
        return _status_error(
            response.status_code,
            _server_text(response),
            response.text,
            endpoint=endpoint,
            model=model,
            path=path,
            key_sent=key_sent,
        )
    detail = f"{type(error).__name__}: {error}"
    if isinstance(error, httpx.ConnectTimeout):
        return BackendError(
            ProblemKind.UNREACHABLE,
            f"{endpoint} did not accept a connection in time: check that the server runs and "
            "the endpoint's url (or raise ollama.connectTimeout for a slow network)",
            detail,
        )
    if isinstance(error, httpx.ConnectError | ConnectionError):
        return BackendError(
            ProblemKind.UNREACHABLE,
            f"no OpenAI-compatible server is reachable at {endpoint}: start it (llama-server, "
            "vllm serve, LM Studio) or fix the endpoint's url",
            detail,
        )
    if isinstance(error, TimeoutError | httpx.TimeoutException):
        return BackendError(
            ProblemKind.TIMEOUT,
            f"{model or 'the server'} at {endpoint} did not answer in time; check the server's log",
            detail,
        )
    if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return BackendError(
            ProblemKind.STREAM_DROPPED,
            f"{endpoint} dropped the connection mid-answer; check the server's log",
            detail,
        )
    if isinstance(error, ValueError | KeyError | TypeError):
        return BackendError(
            ProblemKind.BAD_RESPONSE,
            f"{endpoint} sent a response CodeHearth could not read; "
            "is it an OpenAI-compatible API base URL?",
            detail,
        )
    if isinstance(error, httpx.HTTPError):
        return BackendError(
            ProblemKind.UNREACHABLE, f"HTTP error talking to {endpoint}: {error}", detail
        )
    return BackendError(ProblemKind.BAD_RESPONSE, f"unexpected backend failure: {detail}", detail)


def _status_error(
    status: int, said: str, text: str, *, endpoint: str, model: str, path: str, key_sent: bool
) -> BackendError:
    """An error status (or an error event standing for one): ``said`` is what the server
    said about it, ``text`` its whole error body."""
    detail = f"HTTP {status} from {path}"
    if status in (401, 403) and not key_sent:
        return BackendError(
            ProblemKind.SERVER_ERROR,
            f"{endpoint} wants an API key (HTTP {status}): set the endpoint's apiKeyEnv to "
            "the name of an environment variable holding it (or send it in its headers)",
            detail,
        )
    if status in (401, 403):
        return BackendError(
            ProblemKind.SERVER_ERROR,
            f"API key rejected by {endpoint} (HTTP {status}): check the key in the variable "
            "named by the endpoint's apiKeyEnv (or in its headers)"
            + (f", and that it may use {model}" if model and status == 403 else ""),
            detail,
        )
    detail = f"{detail}: {said}"
    if status == 404 and path == MODELS_PATH:
        return BackendError(
            ProblemKind.BAD_RESPONSE,
            f"{endpoint} has no {MODELS_PATH}: is it an OpenAI-compatible API base URL "
            "(usually ending in /v1)?",
            detail,
        )
    if status == 404:
        return BackendError(
            ProblemKind.MODEL_MISSING,
            f"{model} is not served at {endpoint} ({said}): use a model id it lists under "
            f"{MODELS_PATH}",
            detail,
        )
    if is_refusal(status, text):
        refused = refusal(status, text, said=said, model=model, where=endpoint)
        return attrs.evolve(refused, detail=detail)
    if status in (429, 503):
        return BackendError(
            ProblemKind.OVERLOADED,
            f"{endpoint} is busy or rate limiting (HTTP {status}: {said}); "
            "requests resume when it catches up",
            detail,
        )
    return BackendError(
        ProblemKind.SERVER_ERROR,
        f"{endpoint} failed (HTTP {status}){f' for {model}' if model else ''}: {said}; "
        "check the server's log",
        detail,
    )


def _server_text(response: httpx.Response) -> str:
    """What the server said about an error: ``error.message``, ``message`` or the body."""
    try:
        payload = response.json()
    except ValueError:
        return response.text.strip()[:SERVER_TEXT_LIMIT]
    if isinstance(payload, dict):
        said = payload.get("error") or payload.get("message") or payload.get("detail")
        if said:
            return _error_text(said)
    return response.text.strip()[:SERVER_TEXT_LIMIT]


def _error_text(error: object) -> str:
    if isinstance(error, dict):
        error = error.get("message") or error
    return str(error).strip()[:SERVER_TEXT_LIMIT]


def unstreamed(body: Mapping[str, Any]) -> dict[str, Any]:
    """A streamed request's body asking for the whole answer at once."""
    sent = {key: value for key, value in body.items() if key != "stream_options"}
    sent["stream"] = False
    return sent


def as_stream_payload(whole: Mapping[str, Any]) -> dict[str, Any]:
    """A whole (unstreamed) answer as the one event of a stream: each chat choice's
    ``message`` becomes its ``delta``; completions' ``text`` and the usage stay."""
    choices = whole.get("choices")
    if not isinstance(choices, list):
        return dict(whole)
    streamed = [
        {**choice, "delta": choice["message"]}
        if isinstance(choice, dict) and isinstance(choice.get("message"), dict)
        else choice
        for choice in choices
    ]
    return {**whole, "choices": streamed}


def _usage(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    usage = payload.get("usage")
    return usage if isinstance(usage, dict) else {}


def count_field(payload: Mapping[str, Any], key: str) -> int | None:
    """A token count the server reported (an int), or None."""
    value = payload.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _positive(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _served_context(entry: Mapping[str, Any]) -> int | None:
    """llama.cpp's per-slot context (``meta.n_ctx``, the context a request actually gets:
    the ``-c`` context divided among the slots, at most the trained one)."""
    meta = entry.get("meta")
    return _positive(meta.get("n_ctx")) if isinstance(meta, dict) else None


def _context_length(entry: Mapping[str, Any]) -> int | None:
    """The context a server reports for a model that does not say what it serves:
    llama.cpp's trained context, or the fields other servers use."""
    meta = entry.get("meta")
    candidates = [meta.get("n_ctx_train")] if isinstance(meta, dict) else []
    candidates += [entry.get(field) for field in _CONTEXT_LENGTH_FIELDS]
    return next((value for value in map(_positive, candidates) if value), None)


def server_root(base: str) -> str:
    """The server's own root for an API base: llama.cpp serves ``/props``, ``/tokenize``
    and ``/infill`` beside ``/v1``, not under it."""
    return base.removesuffix(API_VERSION_PATH)


def openai_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages in OpenAI's shape. The chat pipeline writes Ollama's: assistant tool
    calls as ``{"function": {"name", "arguments": {...}}}`` and tool results without a
    ``tool_call_id``. Here each call gets an id (kept if it has one), its arguments as a
    JSON string, and each following tool result the id of the call it answers, in order."""
    converted: list[dict[str, Any]] = []
    unanswered: list[str] = []
    for number, message in enumerate(messages):
        out = dict(message)
        calls = message.get("tool_calls")
        if message.get("role") == "assistant" and calls:
            out["tool_calls"] = []
            unanswered = []
            for position, call in enumerate(calls):
                function = call.get("function", call)
                call_id = str(call.get("id") or f"call_{number}_{position}")
                arguments = function.get("arguments", {})
                out["tool_calls"].append(
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": function.get("name", ""),
                            "arguments": arguments
                            if isinstance(arguments, str)
                            else json.dumps(arguments),
                        },
                    }
                )
                unanswered.append(call_id)
        elif message.get("role") == "tool" and "tool_call_id" not in message and unanswered:
            out["tool_call_id"] = unanswered.pop(0)
        converted.append(out)
    return converted


__all__ = [
    "OpenAIBackend",
    "api_base",
    "classify_openai",
    "count_field",
    "openai_messages",
    "server_root",
]
