"""The model pool: every configured endpoint's backend behind the router, and one routed
backend per role that the features talk to.

:func:`plan_routes` turns settings into the router's table: each role's own model on the
default Ollama endpoint first, then the user's fallbacks (``model@endpoint``), then the
embedded llama.cpp model (or first, with ``models.embedded = "prefer"``). Endpoints off
this machine are marked cloud, so the router skips them unless ``allowCloud`` is set; so
are cloud models a local Ollama would proxy (learned at discovery, and said once).

:class:`RoleBackend` is what the completion engine, chat and code actions hold. Each call
goes to the best candidate the router offers; when that endpoint fails *before the first
token* (down, model not pulled, overloaded, HTTP 5xx, timeout) the same request moves to
the next candidate, so one dead endpoint costs one request nothing but a connect attempt.
Every prompt has its secret-shaped strings masked first, whichever model it goes to, and
the answer has them put back (``models/redact.py``). The pool
remembers which model answered each role for the status, and says once when a fallback
takes over. No pygls here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from codehearth.models.backend import ModelBackend
from codehearth.models.embedded_backend import EmbeddedBackend
from codehearth.models.errors import BackendError, ProblemKind
from codehearth.models.ollama_backend import (
    ChatChunk,
    GenerateChunk,
    GenerateRequest,
    OllamaBackend,
)
from codehearth.models.redact import RevealingStream, SecretMask
from codehearth.models.router import ROLES, Candidate, Endpoint, Route, Router
from codehearth.prompts.family import context_length

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "ollama"
EMBEDDED_ENDPOINT = "embedded"
ENDPOINT_KINDS = ("ollama", "openai")
CHARS_PER_TOKEN = 4
DISCOVERY_TIMEOUT_SECONDS = 3.0

FAILOVER_KINDS = frozenset(
    {
        ProblemKind.UNREACHABLE,
        ProblemKind.MODEL_MISSING,
        ProblemKind.SERVER_ERROR,
        ProblemKind.OVERLOADED,
        ProblemKind.TIMEOUT,
    }
)
"""Failures before the first token after which the next candidate gets the request."""

Notify = Callable[[str], None]
Chunk = TypeVar("Chunk", GenerateChunk, ChatChunk)


@attrs.frozen
class EndpointConfig:
    """An endpoint as the settings name it; ``api_key_env`` names the variable holding
    its key (never the key itself)."""

    name: str
    endpoint: Endpoint
    api_key_env: str | None = None


@attrs.frozen
class RoutePlan:
    """The router's table built from settings, and what was wrong with them."""

    endpoints: tuple[EndpointConfig, ...]
    roles: Mapping[str, tuple[Candidate, ...]]
    warnings: tuple[str, ...] = ()


@attrs.frozen
class RoleModels:
    """Each role's own model (from the feature settings); empty means none."""

    completion: str
    edit: str
    chat: str
    embed: str = ""
    critic: str = ""


def plan_routes(
    models: Any,
    own: RoleModels,
    *,
    ollama_url: str,
    embedded_ready: bool,
    embedded_model: str,
) -> RoutePlan:
    """Build the routing table from ``settings.models`` (a ModelSettings) and each role's
    own model. ``embedded_ready`` says whether llama-cpp-python is installed."""
    warnings: list[str] = []
    default = EndpointConfig(DEFAULT_ENDPOINT, _endpoint(ollama_url, "ollama"))
    embedded = EndpointConfig(EMBEDDED_ENDPOINT, Endpoint(EMBEDDED_ENDPOINT, kind="embedded"))
    named: dict[str, EndpointConfig] = {DEFAULT_ENDPOINT: default}
    for raw in models.endpoints:
        config, problem = _endpoint_config(raw, named)
        if problem:
            warnings.append(f"models.endpoints: {problem}; entry ignored")
        elif config is not None:
            named[config.name] = config
    use_embedded = models.embedded != "off" and embedded_ready
    if use_embedded:
        named[EMBEDDED_ENDPOINT] = embedded

    roles: dict[str, tuple[Candidate, ...]] = {}
    for role in ROLES:
        own_model = getattr(own, role, "")
        candidates: list[Candidate] = []
        if own_model:
            candidates.append(Candidate(default.endpoint, own_model))
        for entry in getattr(models.fallbacks, role, ()):
            candidate, problem = _candidate(entry, named)
            if problem:
                warnings.append(f"models.fallbacks.{role}: {problem}; entry ignored")
            elif candidate is not None and candidate not in candidates:
                if role == "embed" and candidate.endpoint.kind != "ollama":
                    warnings.append(
                        f"models.fallbacks.embed: '{entry}' is not an Ollama endpoint; ignored"
                    )
                    continue
                candidates.append(candidate)
        if use_embedded and role in ("completion", "edit", "chat"):
            built_in = Candidate(
                embedded.endpoint,
                embedded_model,
                models.embedded_context,
                models.embedded_prompt_tokens,
            )
            if built_in not in candidates:
                if models.embedded == "prefer":
                    candidates.insert(0, built_in)
                else:
                    candidates.append(built_in)
        if candidates:
            roles[role] = tuple(candidates)
    return RoutePlan(tuple(named.values()), roles, tuple(warnings))


def _endpoint(url: str, kind: str) -> Endpoint:
    endpoint = Endpoint(url.rstrip("/"), kind=kind)
    return attrs.evolve(endpoint, cloud=not endpoint.local)


def _endpoint_config(
    raw: Mapping[str, Any], named: Mapping[str, EndpointConfig]
) -> tuple[EndpointConfig | None, str]:
    name = str(raw.get("name") or "").strip()
    url = str(raw.get("url") or "").strip()
    kind = str(raw.get("kind") or "ollama").strip()
    key_env = raw.get("api_key_env")
    if not name or not url:
        return None, f"{dict(raw)!r} needs a name and a url"
    if name in named or name == EMBEDDED_ENDPOINT:
        return None, f"the name '{name}' is taken"
    if kind not in ENDPOINT_KINDS:
        return None, f"'{name}' has kind '{kind}' (expected {' or '.join(ENDPOINT_KINDS)})"
    if not url.startswith(("http://", "https://")):
        return None, f"'{name}' has url '{url}' (expected http:// or https://)"
    if key_env is not None and not isinstance(key_env, str):
        return None, f"'{name}' has an apiKeyEnv that is not a variable name"
    return EndpointConfig(name, _endpoint(url, kind), key_env or None), ""


def _candidate(entry: str, named: Mapping[str, EndpointConfig]) -> tuple[Candidate | None, str]:
    model, at, endpoint_name = entry.rpartition("@")
    if not at:
        model, endpoint_name = entry, DEFAULT_ENDPOINT
    model = model.strip()
    config = named.get(endpoint_name.strip())
    if not model:
        return None, f"'{entry}' names no model"
    if config is None:
        if endpoint_name.strip() == EMBEDDED_ENDPOINT:
            return None, f"'{entry}': the embedded model is off or not installed"
        return None, f"'{entry}': no endpoint named '{endpoint_name}'"
    return Candidate(config.endpoint, model), ""


@attrs.frozen
class Choice:
    """One candidate and the backend that serves it."""

    candidate: Candidate
    backend: ModelBackend

    @property
    def model(self) -> str:
        return self.candidate.model

    @property
    def label(self) -> str:
        return describe_candidate(self.candidate)


def describe_candidate(candidate: Candidate) -> str:
    """``model`` on ``where``, as the status and the demo print it."""
    endpoint = candidate.endpoint
    where = "the embedded llama.cpp runtime" if endpoint.kind == "embedded" else endpoint.url
    return f"{candidate.model} ({where})"


class ModelPool:
    """The backends for a routing plan, the router over them, and who answered what."""

    def __init__(
        self,
        plan: RoutePlan,
        backends: Mapping[Endpoint, ModelBackend],
        *,
        allow_cloud: bool = False,
        notify: Notify | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        missing = {c.endpoint for cs in plan.roles.values() for c in cs} - set(backends)
        if missing:
            raise ValueError(f"no backend for {', '.join(e.url for e in missing)}")
        self.plan = plan
        self.backends = dict(backends)
        self.router = Router(plan.roles, allow_cloud=allow_cloud, clock=clock)
        self.answered: dict[str, Candidate] = {}
        self._notify = notify or (lambda message: log.info("%s", message))
        self._said: set[str] = set()
        self._roles: dict[str, RoleBackend] = {}

    @classmethod
    def direct(cls, backend: ModelBackend, **models: str) -> ModelPool:
        """One backend serving the given roles (``completion="qwen2.5-coder:1.5b"``):
        for the command line and tests."""
        endpoint = Endpoint(backend.host, kind="ollama")
        roles = {role: (Candidate(endpoint, model),) for role, model in models.items() if model}
        return cls(
            RoutePlan((EndpointConfig(DEFAULT_ENDPOINT, endpoint),), roles),
            {endpoint: backend},
        )

    def role(self, role: str) -> RoleBackend:
        found = self._roles.get(role)
        if found is None:
            found = self._roles[role] = RoleBackend(self, role)
        return found

    def backend(self, endpoint: Endpoint) -> ModelBackend:
        return self.backends[endpoint]

    def say_once(self, message: str) -> None:
        if message not in self._said:
            self._said.add(message)
            self._notify(message)

    def note_answer(self, role: str, candidate: Candidate) -> None:
        previous = self.answered.get(role)
        self.answered[role] = candidate
        first = self.router.roles.get(role, (None,))[0]
        if candidate != first and previous != candidate:
            self.say_once(f"{role}: {describe_candidate(candidate)} is answering (fallback)")

    async def discover(self) -> dict[Endpoint, list[str] | BackendError]:
        """Ask each endpoint the router may use which models it has (cloud endpoints only
        with allowCloud); a model that is not there is skipped by the router for a while
        (one failing endpoint does not stop the rest), and so is a cloud model an Ollama
        endpoint lists (without allowCloud), which is said once."""
        endpoints = [e for e in self.backends if self.router.allow_cloud or not e.cloud]

        async def listing(endpoint: Endpoint) -> list[str] | BackendError:
            try:
                async with asyncio.timeout(DISCOVERY_TIMEOUT_SECONDS):
                    return await self.backends[endpoint].list_models()
            except BackendError as error:
                return error
            except TimeoutError:
                return BackendError(ProblemKind.TIMEOUT, f"{endpoint.url} did not list its models")

        results = await asyncio.gather(*(listing(e) for e in endpoints))
        found = dict(zip(endpoints, results, strict=True))
        present: list[Candidate] = []
        for candidates in self.router.roles.values():
            for candidate in candidates:
                listed = found.get(candidate.endpoint)
                if isinstance(listed, list):
                    missing = not model_is_listed(candidate.model, listed)
                    self.router.set_missing(candidate, missing)
                    self._learn_remote_host(candidate)
                    if not missing and candidate.endpoint.kind != "embedded":
                        present.append(candidate)  # (the embedded one would load to tell)
        self._say_cloud_models_skipped()
        if not self.router.allow_cloud:  # not even their metadata is asked for
            present = [c for c in present if not self.router.cloud_model(c)]
        await asyncio.gather(*(self._learn_context(c) for c in dict.fromkeys(present)))
        return found

    def _learn_remote_host(self, candidate: Candidate) -> None:
        backend = self.backends[candidate.endpoint]
        if isinstance(backend, OllamaBackend):
            self.router.learn_remote_host(candidate, backend.remote_host(candidate.model))

    def _say_cloud_models_skipped(self) -> None:
        if self.router.allow_cloud:
            return
        for role, candidates in self.router.roles.items():
            for candidate in candidates:
                if cloud := self.router.cloud_model(candidate):
                    self.say_once(
                        f"{role}: {describe_candidate(candidate)} is skipped: {cloud}; "
                        "set models.allowCloud = true to use it"
                    )

    async def _learn_context(self, candidate: Candidate) -> None:
        """Route by prompt size: the model's context length from its endpoint."""
        try:
            async with asyncio.timeout(DISCOVERY_TIMEOUT_SECONDS):
                shown = await self.backends[candidate.endpoint].show(candidate.model)
        except (BackendError, TimeoutError):
            return  # unknown: the router does not filter this candidate by size
        tokens = context_length(shown)
        if tokens:
            self.router.learn_context_length(candidate, tokens)

    def describe(self) -> dict[str, Any]:
        """The routing table with health, and which model answered each role last."""
        return {
            "allowCloud": self.router.allow_cloud,
            "routes": self.router.table(),
            "answered": {role: describe_candidate(c) for role, c in self.answered.items()},
            "fallbackAnswering": {
                role: describe_candidate(c)
                for role, c in self.answered.items()
                if c != self.router.roles.get(role, (c,))[0]
            },
            "embedded": next(
                (b.describe() for b in self.backends.values() if isinstance(b, EmbeddedBackend)),
                None,
            ),
        }

    async def aclose(self) -> None:
        await asyncio.gather(
            *(backend.aclose() for backend in self.backends.values()), return_exceptions=True
        )


def model_is_listed(model: str, listed: Sequence[str]) -> bool:
    """Ollama lists ``name:tag``; a name without a tag means ``:latest``."""
    return model in listed or (":" not in model and f"{model}:latest" in listed)


class RoleBackend:
    """A :class:`~codehearth.models.backend.ModelBackend` for one role: every call is
    routed, and fails over before the first token. The ``model`` argument of
    :meth:`chat` and :meth:`show` is ignored: the route decides the model."""

    def __init__(self, pool: ModelPool, role: str) -> None:
        self.pool = pool
        self.role = role

    @property
    def primary(self) -> Candidate | None:
        candidates = self.pool.router.roles.get(self.role, ())
        return candidates[0] if candidates else None

    @property
    def host(self) -> str:
        """Where the role's requests go now (the first usable candidate's endpoint)."""
        choices = self.choices()
        candidate = choices[0].candidate if choices else self.primary
        return candidate.endpoint.url if candidate is not None else "(no model)"

    @property
    def keep_alive(self) -> str:
        choices = self.choices()
        return choices[0].backend.keep_alive if choices else ""

    def choices(self, prompt_tokens: int = 0, reply_tokens: int = 0) -> list[Choice]:
        route = self.pool.router.route(self.role, prompt_tokens, reply_tokens)
        return [Choice(c, self.pool.backend(c.endpoint)) for c in route.candidates]

    def _route_or_raise(self, prompt_tokens: int, reply_tokens: int) -> list[Choice]:
        route = self.pool.router.route(self.role, prompt_tokens, reply_tokens)
        if not route.candidates:
            raise no_route_error(self.role, route)
        return [Choice(c, self.pool.backend(c.endpoint)) for c in route.candidates]

    async def aclose(self) -> None:
        """The pool owns the backends; a role has nothing of its own to close."""

    async def list_models(self) -> list[str]:
        return [c.model for c in self.choices()]

    async def show(self, model: str = "") -> Mapping[str, Any]:
        for choice in self._route_or_raise(0, 0):
            try:
                return await choice.backend.show(choice.model)
            except BackendError as error:
                if not self._failed(choice, error):
                    raise
        raise no_route_error(self.role, self.pool.router.route(self.role))

    def forget_model(self, model: str) -> None:
        for choice in self.choices():
            choice.backend.forget_model(choice.model)

    async def warm_up(self, model: str = "", num_ctx: int = 2048) -> Choice | None:
        """Load the first of the role's models that can be loaded; returns which one, or
        None when every model is one its endpoint said it does not have."""
        last_error: BackendError | None = None
        for choice in self._route_or_raise(0, 0):
            if self.pool.router.is_missing(choice.candidate):
                continue  # nothing to load; already reported by whoever discovered it
            started = time.monotonic()
            try:
                await choice.backend.warm_up(choice.model, num_ctx)
            except BackendError as error:
                if not self._failed(choice, error):
                    raise
                last_error = error
                continue
            self.pool.router.record(choice.candidate, ok=True, seconds=time.monotonic() - started)
            return choice
        if last_error is not None:
            raise last_error
        return None

    def generate(self, request: GenerateRequest) -> AsyncGenerator[GenerateChunk, None]:
        """Stream ``request`` (model replaced by each candidate's own)."""

        async def for_choice(choice: Choice) -> GenerateRequest:
            return attrs.evolve(request, model=choice.model)

        return self.stream(for_choice, len(request.prompt) // CHARS_PER_TOKEN, request.max_tokens)

    def stream(
        self,
        build: Callable[[Choice], Awaitable[GenerateRequest]],
        prompt_tokens: int = 0,
        reply_tokens: int = 0,
    ) -> AsyncGenerator[GenerateChunk, None]:
        """Stream a generation whose request depends on the model (its FIM template):
        ``build`` renders it for each candidate tried."""

        async def generation(choice: Choice) -> AsyncGenerator[GenerateChunk, None]:
            request = await build(choice)  # may fail too (e.g. /api/show while building)
            mask = SecretMask()
            request = attrs.evolve(request, prompt=mask.hide(request.prompt))
            self._note_masked(mask, choice)
            revealing = RevealingStream(mask)
            async with contextlib.aclosing(choice.backend.generate(request)) as chunks:
                async for chunk in chunks:
                    text = revealing.feed(chunk.text)
                    if chunk.done:
                        text += revealing.flush()
                    yield chunk if text == chunk.text else attrs.evolve(chunk, text=text)
            if held := revealing.flush():  # the stream ended without its done line
                yield GenerateChunk(text=held)

        return self._fail_over(generation, prompt_tokens, reply_tokens)

    def chat(
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
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in messages) // CHARS_PER_TOKEN

        mask = SecretMask()  # the same messages go to every candidate: hidden once
        sent = mask.hide_messages(messages)

        async def answer(choice: Choice) -> AsyncGenerator[ChatChunk, None]:
            self._note_masked(mask, choice)
            revealing = RevealingStream(mask)
            context = self.pool.router.context_length(choice.candidate)
            chunks = choice.backend.chat(
                choice.model,
                sent,
                num_ctx=min(num_ctx, context) if context else num_ctx,
                max_tokens=max_tokens,
                temperature=temperature,
                tools=tools,
                think=think,
            )
            async with contextlib.aclosing(chunks):
                async for chunk in chunks:
                    if not mask.count:
                        yield chunk
                        continue
                    content = revealing.feed(chunk.content)
                    if chunk.done or chunk.tool_calls:
                        content += revealing.flush()
                    yield attrs.evolve(
                        chunk,
                        content=content,
                        tool_calls=tuple(mask.reveal_value(c) for c in chunk.tool_calls),
                    )
            if held := revealing.flush():  # the stream ended without its done line
                yield ChatChunk(content=held)

        return self._fail_over(answer, prompt_tokens, max_tokens)

    async def _fail_over(
        self,
        open_stream: Callable[[Choice], AsyncGenerator[Chunk, None]],
        prompt_tokens: int,
        reply_tokens: int,
    ) -> AsyncGenerator[Chunk, None]:
        """Each candidate in turn until one streams: a failure before its first chunk
        (of a kind worth retrying) moves on; after that, the failure is the answer."""
        last_error: BackendError | None = None
        for choice in self._route_or_raise(prompt_tokens, reply_tokens):
            answered = False
            started = time.monotonic()
            self.pool.router.begin(choice.candidate)
            try:
                async with contextlib.aclosing(open_stream(choice)) as chunks:
                    async for chunk in chunks:
                        if not answered:
                            answered = True
                            self._answered(choice, time.monotonic() - started)
                        yield chunk
                if not answered:
                    self._answered(choice, time.monotonic() - started)
                return
            except BackendError as error:
                if answered or not self._failed(choice, error):
                    raise
                last_error = error
        assert last_error is not None
        raise last_error

    def _answered(self, choice: Choice, seconds: float) -> None:
        self.pool.router.record(choice.candidate, ok=True, seconds=seconds)
        self.pool.note_answer(self.role, choice.candidate)

    def _failed(self, choice: Choice, error: BackendError) -> bool:
        """Record a failure before the first token; True when the next candidate may try."""
        if error.kind is ProblemKind.MODEL_MISSING:
            self.pool.router.set_missing(choice.candidate, True)
            choice.backend.forget_model(choice.model)
        elif error.kind in FAILOVER_KINDS:
            self.pool.router.record(choice.candidate, ok=False, problem=error.message)
        if error.kind not in FAILOVER_KINDS:
            return False
        log.info("%s: %s failed (%s); trying the next model", self.role, choice.label, error)
        return True

    def _note_masked(self, mask: SecretMask, choice: Choice) -> None:
        if mask.count:
            log.log(
                logging.INFO if self.pool.router.is_cloud(choice.candidate) else logging.DEBUG,
                "%s: %d secret-shaped strings masked in the prompt to %s",
                self.role,
                mask.count,
                choice.label,
            )


def no_route_error(role: str, route: Route) -> BackendError:
    """Why no model can take a job now, naming each candidate's reason."""
    if not route.skipped:
        return BackendError(
            ProblemKind.UNSUPPORTED, f"no model is configured for {role}; see models.fallbacks"
        )
    reasons = "; ".join(f"{describe_candidate(c)}: {why}" for c, why in route.skipped)
    return BackendError(ProblemKind.UNREACHABLE, f"no model can answer {role} now ({reasons})")
