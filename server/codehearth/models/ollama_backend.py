"""Ollama backend: streaming raw generation, model discovery and warm-up.

Wraps the official ``ollama.AsyncClient``. Every request carries an explicit
``options.num_ctx`` (one fixed value per model so Ollama never reloads it) and
``keep_alive``; raw prompts use our own FIM templates. The non-streamed calls
(``/api/version``, ``/api/tags``, ``/api/show``) are read as raw JSON through the client's
httpx client: ollama-python's response models drop fields CodeHearth needs (a cloud model's
``remote_host``) and require ones older Ollama versions leave out (``model_info``). Every
failure is re-raised as a classified :class:`~codehearth.models.errors.BackendError`.
Cancelling the task that consumes a stream closes its HTTP connection, which makes Ollama
stop generating.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs
import httpx
import ollama

from codehearth.models.errors import BackendError, ProblemKind, classify, header_secrets, scrub
from codehearth.models.timing import Limit, timeout_error
from codehearth.prompts.family import fim_tokens_in
from codehearth.prompts.fim import FimRequest

log = logging.getLogger(__name__)

DEFAULT_HOST = "http://127.0.0.1:11434"


def resolve_host(configured: str | None) -> str:
    """The Ollama URL to use: the setting, else $OLLAMA_HOST, else loopback.

    A bind-all address such as ``0.0.0.0`` (meant for the Ollama *server*) is dialled on
    loopback, which is what the user means.
    """
    raw = (configured or os.environ.get("OLLAMA_HOST") or DEFAULT_HOST).strip()
    if "://" not in raw:
        raw = f"http://{raw}"
    parts = urlsplit(raw)
    hostname = parts.hostname or "127.0.0.1"
    if hostname in ("0.0.0.0", "::"):
        hostname = "127.0.0.1"
    scheme_given = "://" in (configured or os.environ.get("OLLAMA_HOST") or DEFAULT_HOST)
    default_port = {"http": 80, "https": 443}.get(parts.scheme, 11434) if scheme_given else 11434
    port = parts.port or default_port
    host_text = f"[{hostname}]" if ":" in hostname else hostname
    return f"{parts.scheme or 'http'}://{host_text}:{port}{parts.path.rstrip('/')}"


def is_loopback(url: str) -> bool:
    """True when the URL points at this machine."""
    hostname = urlsplit(url).hostname or ""
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


@attrs.frozen
class GenerateChunk:
    """One piece of a streamed generation; the last one has ``done`` set and the stats."""

    text: str
    done: bool = False
    prompt_eval_count: int | None = None
    eval_count: int | None = None


@attrs.frozen
class ChatChunk:
    """One piece of a streamed chat answer; tool calls arrive whole, with ``done`` last."""

    content: str = ""
    tool_calls: tuple[Mapping[str, Any], ...] = ()
    done: bool = False
    prompt_eval_count: int | None = None


@attrs.frozen
class GenerateRequest:
    """A raw (template already applied) generation request; ``fim`` holds the parts a FIM
    ``prompt`` was rendered from, for a backend whose server renders FIM itself."""

    model: str
    prompt: str
    num_ctx: int
    max_tokens: int
    temperature: float
    stop: tuple[str, ...] = ()
    seed: int | None = None
    fim: FimRequest | None = None

    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "num_ctx": self.num_ctx,
            "num_predict": self.max_tokens,
            "temperature": self.temperature,
        }
        if self.stop:
            options["stop"] = list(self.stop)
        if self.seed is not None:
            options["seed"] = self.seed
        return options


class OllamaBackend:
    """An Ollama endpoint. Create inside the running event loop; ``aclose`` at shutdown."""

    def __init__(
        self,
        host: str,
        *,
        keep_alive: str = "30m",
        connect_timeout: float = 2.0,
        request_timeout: float = 4.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``headers`` go with every request (their values are scrubbed from errors);
        ``transport`` decides certificates and proxy (see models/connection.py)."""
        self.host = host
        self.keep_alive = keep_alive
        # No read timeout: Ollama sends nothing while it loads a model and hangs up on a
        # load when we do. Streams are bounded by the pool (models/timing.py); the short
        # requests here (lists, metadata) by request_timeout.
        self._request_limit = Limit(request_timeout, "completion.stallSeconds")
        timeout = httpx.Timeout(None, connect=connect_timeout)
        self._client = ollama.AsyncClient(
            host=host, timeout=timeout, headers=headers, transport=transport
        )
        # ollama-python sends $OLLAMA_API_KEY to whatever host is configured; a local
        # server never needs it, so it never leaves the machine from here. Only an
        # Authorization header the endpoint's settings name is sent.
        if not any(name.lower() == "authorization" for name in headers or {}):
            self._client._client.headers.pop("authorization", None)
        self._secrets = header_secrets(headers or {})
        self._show_cache: dict[str, Mapping[str, Any]] = {}
        self._fim_cache: dict[str, frozenset[str]] = {}
        self._remote_hosts: dict[str, str] = {}

    async def aclose(self) -> None:
        await self._client._client.aclose()

    def _classify(self, error: BaseException, model: str) -> BackendError:
        return scrub(classify(error, host=self.host, model=model), self._secrets)

    async def _call(self, model: str, call: Any) -> Any:
        try:
            return await call
        except asyncio.CancelledError:
            raise
        except Exception as error:
            raise self._classify(error, model) from error

    async def _json(
        self, method: str, path: str, model: str, body: Mapping[str, Any] | None = None
    ) -> Mapping[str, Any]:
        """A non-streamed call's answer, a JSON object read as it came. Bounded by
        ``request_timeout``: these calls load no model."""
        try:
            async with asyncio.timeout(self._request_limit.seconds):
                response = await self._client._client.request(method, path, json=body)
            if response.is_error:  # the text is {"error": ...}, as ollama-python reads it
                raise ollama.ResponseError(response.text, response.status_code)
            answer = response.json()
            if not isinstance(answer, dict):
                raise ValueError(f"{path} answered {type(answer).__name__}, not an object")
            return answer
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            label = f"Ollama at {self.host}"
            raise timeout_error(label, self._request_limit, f"did not answer {path}") from None
        except Exception as error:
            raise self._classify(error, model) from error

    async def version(self) -> str:
        version = (await self._json("GET", "/api/version", "")).get("version")
        if not isinstance(version, str):
            raise self._classify(ValueError("/api/version names no version"), "")
        return version

    async def list_models(self) -> list[str]:
        """Model names from ``/api/tags``; which of them are cloud models is remembered
        (see :meth:`remote_host`)."""
        models = (await self._json("GET", "/api/tags", "")).get("models") or []
        if not isinstance(models, list):
            raise self._classify(ValueError("/api/tags lists no models"), "")
        names: list[str] = []
        remote_hosts: dict[str, str] = {}
        for entry in models:
            name = (entry.get("model") or entry.get("name")) if isinstance(entry, dict) else None
            if not isinstance(name, str) or not name:
                continue
            names.append(name)
            remote = entry.get("remote_host")
            if isinstance(remote, str) and remote:
                remote_hosts[name] = remote
        self._remote_hosts = remote_hosts
        return names

    async def loaded_models(self) -> list[str]:
        """Names of the models in memory now (``/api/ps``). Ollama answers only once no
        model is loading (``server/sched.go`` ``loadedModels``), so callers bound the wait."""
        models = (await self._json("GET", "/api/ps", "")).get("models") or []
        if not isinstance(models, list):
            raise self._classify(ValueError("/api/ps lists no models"), "")
        return [
            str(entry.get("model") or entry.get("name"))
            for entry in models
            if isinstance(entry, dict) and (entry.get("model") or entry.get("name"))
        ]

    def remote_host(self, model: str) -> str | None:
        """Where Ollama sends requests for ``model`` when it is a cloud model it proxies
        (``remote_host`` in the last ``/api/tags``), else None."""
        found = self._remote_hosts.get(model)
        if found is None and ":" not in model:
            found = self._remote_hosts.get(f"{model}:latest")
        return found

    async def show(self, model: str) -> Mapping[str, Any]:
        """``/api/show`` for a model as a plain dict (cached per backend). Any of its
        fields may be missing: ``model_info`` (before Ollama 0.14.3, when empty),
        ``capabilities``, ``template`` (which may also be the GGUF's Jinja template)."""
        cached = self._show_cache.get(model)
        if cached is not None:
            return cached
        shown = await self._json("POST", "/api/show", model, {"model": model})
        self._show_cache[model] = shown
        return shown

    async def fim_vocabulary(self, model: str) -> frozenset[str]:
        """The FIM tokens in the model's vocabulary (cached per backend). Plain
        ``/api/show`` blanks every array longer than 5 items; the verbose one lists the
        whole vocabulary (``tokenizer.ggml.tokens``, megabytes), so it is asked once and
        only the answer is kept."""
        cached = self._fim_cache.get(model)
        if cached is not None:
            return cached
        shown = await self._json("POST", "/api/show", model, {"model": model, "verbose": True})
        info = shown.get("model_info")
        tokens = info.get("tokenizer.ggml.tokens") if isinstance(info, dict) else None
        found = fim_tokens_in(tokens if isinstance(tokens, list) else ())
        self._fim_cache[model] = found
        return found

    def forget_model(self, model: str) -> None:
        """Drop cached model metadata (after a pull, or a settings change)."""
        self._show_cache.pop(model, None)
        self._fim_cache.pop(model, None)

    async def warm_up(self, model: str, num_ctx: int) -> None:
        """Load the model with the num_ctx we will always use (an empty prompt loads it).
        Not bounded here: the caller gives a load its own, long, limit."""
        await self._call(
            model,
            self._client.generate(
                model=model, prompt="", keep_alive=self.keep_alive, options={"num_ctx": num_ctx}
            ),
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
        """Stream a chat answer (``/api/chat``), with tool calls when ``tools`` are given.
        ``think`` is sent when given (a model with the thinking capability thinks unless
        told ``False``); ``message.thinking`` is left out of the answer. Raises
        BackendError; cancelling the consumer closes the stream."""
        options = {"num_ctx": num_ctx, "num_predict": max_tokens, "temperature": temperature}
        stream = await self._call(
            model,
            self._client.chat(
                model=model,
                messages=list(messages),
                tools=tools,
                stream=True,
                think=think,
                keep_alive=self.keep_alive,
                options=options,
            ),
        )
        async with contextlib.aclosing(self._parts(stream, model)) as parts:
            async for part in parts:
                message = part.message
                calls = tuple(
                    {"name": call.function.name, "arguments": dict(call.function.arguments)}
                    for call in (message.tool_calls or ())
                )
                yield ChatChunk(
                    content=message.content or "",
                    tool_calls=calls,
                    done=bool(part.done),
                    prompt_eval_count=part.prompt_eval_count,
                )
                if part.done:
                    return

    async def generate(self, request: GenerateRequest) -> AsyncGenerator[GenerateChunk, None]:
        """Stream a raw generation. Raises BackendError; cancellation closes the stream."""
        stream = await self._call(
            request.model,
            self._client.generate(
                model=request.model,
                prompt=request.prompt,
                raw=True,
                stream=True,
                keep_alive=self.keep_alive,
                options=request.options(),
            ),
        )
        async with contextlib.aclosing(self._parts(stream, request.model)) as parts:
            async for part in parts:
                if part.done:
                    yield GenerateChunk(
                        text=part.response or "",
                        done=True,
                        prompt_eval_count=part.prompt_eval_count,
                        eval_count=part.eval_count,
                    )
                    return
                yield GenerateChunk(text=part.response or "")

    async def _parts(self, stream: Any, model: str) -> AsyncGenerator[Any, None]:
        """The stream's parts, failures classified; the HTTP response is always closed
        (which is what makes Ollama stop generating), also when the consumer stops early."""
        iterator = stream.__aiter__()
        try:
            while True:
                try:
                    part = await iterator.__anext__()
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    raise self._classify(error, model) from error
                yield part
        finally:
            await _close_quietly(iterator)


async def _close_quietly(iterator: Any) -> None:
    closer = getattr(iterator, "aclose", None)
    if closer is None:
        return
    try:
        await closer()
    except Exception:  # the stream is already broken; closing is best effort
        log.debug("closing a broken stream failed", exc_info=True)


__all__ = [
    "BackendError",
    "ChatChunk",
    "GenerateChunk",
    "GenerateRequest",
    "OllamaBackend",
    "ProblemKind",
    "is_loopback",
    "resolve_host",
]
