"""The model pool: every configured endpoint's backend behind the router, and one routed
backend per role that the features talk to.

:func:`plan_routes` turns settings into the router's table: each role's own model on the
default Ollama endpoint first, then the user's fallbacks (``model@endpoint``), then the
embedded llama.cpp model (or first, with ``models.embedded = "prefer"``). Endpoints off
this machine are marked cloud, so the router skips them unless ``allowCloud`` is set; so
are cloud models a local Ollama would proxy (learned at discovery, and said once).

:class:`RoleBackend` is what the completion engine, chat and code actions hold. Each call
goes to the best candidate the router offers; when that endpoint fails *before the first
token* (down, model not pulled, overloaded, HTTP 5xx, timeout, a prompt longer than its
context) the same request moves to the next candidate, so one dead endpoint costs one
request nothing but a connect attempt.
Every prompt has its secret-shaped strings masked first, whichever model it goes to, and
the answer has them put back (``models/redact.py``). The pool
remembers which model answered each role for the status, and says once when a fallback
takes over.

Loads. A model that is not known to be in memory is loaded first, by a warm-up request of
its own (:meth:`ModelPool.ensure_loaded`): one per model however many requests wait for it,
shielded from their cancellation (hanging up makes Ollama abort a load) and bounded by
``models.loadSeconds`` instead of a request's limits (:mod:`codehearth.models.timing`);
``on_loading`` hears when one starts and ends, for the editor's progress. A load is not a
failure for the circuit breaker. Completions do not wait for a load when another of their
candidates is already in memory: it answers meanwhile. After a load, Ollama's ``/api/ps``
tells whether the load pushed another role's model out of memory, which is said once.
No pygls here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs

from codehearth.models.backend import ModelBackend
from codehearth.models.capabilities import detect_capabilities
from codehearth.models.connection import HEADER_NAME
from codehearth.models.embedded_backend import INSTALL_HINT, EmbeddedModels
from codehearth.models.errors import BackendError, ProblemKind
from codehearth.models.ollama_backend import (
    ChatChunk,
    GenerateChunk,
    GenerateRequest,
    OllamaBackend,
)
from codehearth.models.openai_backend import OpenAIBackend
from codehearth.models.redact import RevealingStream, SecretMask
from codehearth.models.router import (
    CONVERSATION_ROLES,
    ROLES,
    Candidate,
    Endpoint,
    Route,
    Router,
)
from codehearth.models.timing import (
    Limit,
    RoleTiming,
    StreamLimits,
    keep_alive_seconds,
    timed_stream,
    timeout_error,
)
from codehearth.prompts.family import context_length
from codehearth.prompts.fim import FAMILIES

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "ollama"
OLLAMA_REGISTRY = "registry.ollama.ai"
EMBEDDED_ENDPOINT = "embedded"
ENDPOINT_KINDS = ("ollama", "openai", "llama-server")
ENDPOINT_KEYS = (
    "name",
    "url",
    "kind",
    "api_key_env",
    "family",
    "headers",
    "ca_bundle",
    "insecure",
)
"""The keys of a ``models.endpoints`` table (snake_case, as settings keys are read)."""
CHARS_PER_TOKEN = 4
DISCOVERY_TIMEOUT_SECONDS = 3.0
LOADED_CHECK_SECONDS = 2.0
"""How long to wait for Ollama's ``/api/ps``, which blocks while any model is loading."""

FAILOVER_KINDS = frozenset(
    {
        ProblemKind.UNREACHABLE,
        ProblemKind.MODEL_MISSING,
        ProblemKind.SERVER_ERROR,
        ProblemKind.OVERLOADED,
        ProblemKind.TIMEOUT,
        ProblemKind.CONTEXT_EXCEEDED,
    }
)
"""Failures before the first token after which the next candidate gets the request."""

Notify = Callable[[str], None]
OnLoading = Callable[[str, bool], None]
"""Told ``(label, True)`` when a model starts loading and ``(label, False)`` when it ends."""
Chunk = TypeVar("Chunk", GenerateChunk, ChatChunk)


def default_timing(
    *,
    completion_deadline: float = 10.0,
    stall: float = 4.0,
    first_token: float = 120.0,
    load: float = 300.0,
    completion_num_ctx: int = 4096,
    edit_num_ctx: int = 8192,
    chat_num_ctx: int = 8192,
) -> dict[str, RoleTiming]:
    """Each role's limits (:mod:`codehearth.models.timing`), named after the settings
    that hold them: a completion has its deadline for the first token and for the whole
    answer; chat, code actions and the critic have a long limit for the first token."""
    stall_limit = Limit(stall, "completion.stallSeconds")
    load_limit = Limit(load, "models.loadSeconds")
    deadline = Limit(completion_deadline, "completion.deadlineSeconds")
    answer = StreamLimits(Limit(first_token, "models.firstTokenSeconds"), stall_limit)
    return {
        "completion": RoleTiming(
            StreamLimits(deadline, stall_limit, deadline), load_limit, completion_num_ctx
        ),
        "edit": RoleTiming(answer, load_limit, edit_num_ctx),
        "critic": RoleTiming(answer, load_limit, edit_num_ctx),
        "chat": RoleTiming(answer, load_limit, chat_num_ctx),
        "embed": RoleTiming(answer, load_limit, chat_num_ctx),
    }


@attrs.frozen
class EndpointConfig:
    """An endpoint as the settings name it; ``api_key_env`` names the variable holding
    its key (never the key itself); ``family`` is the FIM template family of its models;
    ``headers`` (values may name ``${VAR}``), ``ca_bundle`` and ``insecure`` say how it is
    reached (see :mod:`codehearth.models.connection`)."""

    name: str
    endpoint: Endpoint
    api_key_env: str | None = None
    family: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    ca_bundle: str | None = None
    insecure: bool = False


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
    embedded_instruct_model: str,
) -> RoutePlan:
    """Build the routing table from ``settings.models`` (a ModelSettings) and each role's
    own model. ``embedded_ready`` says whether llama-cpp-python is installed; the built-in
    ``embedded_model`` (a base model) joins the completion route, the built-in
    ``embedded_instruct_model`` the chat and edit routes (a base model cannot follow a
    conversation)."""
    warnings: list[str] = []
    default = EndpointConfig(DEFAULT_ENDPOINT, _endpoint(ollama_url, "ollama"))
    embedded = EndpointConfig(EMBEDDED_ENDPOINT, Endpoint(EMBEDDED_ENDPOINT, kind="embedded"))
    named: dict[str, EndpointConfig] = {DEFAULT_ENDPOINT: default}
    for raw in models.endpoints:
        for key in sorted(set(raw) - set(ENDPOINT_KEYS)):
            warnings.append(
                f"models.endpoints: unknown key '{key}' in {raw.get('name')!r}; ignored"
            )
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
                embedded_model if role == "completion" else embedded_instruct_model,
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
    family = raw.get("family")
    if family is not None and family not in FAMILIES:
        return None, f"'{name}' has family '{family}' (known: {', '.join(FAMILIES)})"
    headers = raw.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(
        isinstance(key, str)
        and HEADER_NAME.match(key)
        and isinstance(value, str)
        and not set(value) & {"\r", "\n"}
        for key, value in headers.items()
    ):
        return None, f"'{name}' has headers that are not a table of header names and text"
    ca_bundle, insecure = raw.get("ca_bundle"), raw.get("insecure", False)
    if ca_bundle is not None and not (
        isinstance(ca_bundle, str) and Path(ca_bundle).expanduser().exists()
    ):
        return None, f"'{name}' has a caBundle that is not an existing file: {ca_bundle!r}"
    if not isinstance(insecure, bool):
        return None, f"'{name}' has insecure = {insecure!r} (expected true or false)"
    if ca_bundle and insecure:
        return None, f"'{name}' sets both caBundle and insecure: pick one"
    return EndpointConfig(
        name,
        _endpoint(url, kind),
        key_env or None,
        family,
        tuple(sorted(headers.items())),
        ca_bundle,
        insecure,
    ), ""


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
    return Candidate(config.endpoint, model, family=config.family), ""


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
        on_loading: OnLoading | None = None,
        timing: Mapping[str, RoleTiming] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        missing = {c.endpoint for cs in plan.roles.values() for c in cs} - set(backends)
        if missing:
            raise ValueError(f"no backend for {', '.join(e.url for e in missing)}")
        self.plan = plan
        self.backends = dict(backends)
        self.router = Router(plan.roles, allow_cloud=allow_cloud, clock=clock)
        self.answered: dict[str, Candidate] = {}
        self.timing = {**default_timing(), **(timing or {})}
        self.evictions: list[str] = []
        self._clock = clock
        self._notify = notify or (lambda message: log.info("%s", message))
        self._on_loading = on_loading
        self._said: set[str] = set()
        self._roles: dict[str, RoleBackend] = {}
        self._loaded_until: dict[Candidate, float] = {}
        self._loads: dict[Candidate, asyncio.Task[None]] = {}

    @classmethod
    def direct(
        cls,
        backend: ModelBackend,
        *,
        timing: Mapping[str, RoleTiming] | None = None,
        **models: str,
    ) -> ModelPool:
        """One backend serving the given roles (``completion="qwen2.5-coder:1.5b"``):
        for the command line and tests."""
        endpoint = Endpoint(backend.host, kind="ollama")
        roles = {role: (Candidate(endpoint, model),) for role, model in models.items() if model}
        return cls(
            RoutePlan((EndpointConfig(DEFAULT_ENDPOINT, endpoint),), roles),
            {endpoint: backend},
            timing=timing,
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

    # -- loads --------------------------------------------------------------------------

    def believed_loaded(self, candidate: Candidate) -> bool:
        """True while the candidate's model answered (or loaded) within its endpoint's
        keep-alive: the server should still hold it in memory."""
        return self._clock() < self._loaded_until.get(candidate, -math.inf)

    def mark_loaded(self, candidate: Candidate) -> None:
        keep = keep_alive_seconds(self.backends[candidate.endpoint].keep_alive)
        self._loaded_until[candidate] = self._clock() + keep

    def mark_unloaded(self, candidate: Candidate) -> None:
        self._loaded_until.pop(candidate, None)

    def loading(self) -> list[str]:
        """The models loading now, as the status shows them."""
        return [describe_candidate(candidate) for candidate in self._loads]

    async def loads_finished(self) -> None:
        """Wait for the loads under way to end (their failures are reported by them)."""
        await asyncio.gather(*self._loads.values(), return_exceptions=True)

    async def reported_loaded(self, candidate: Candidate) -> bool | None:
        """Whether the endpoint says the model is in memory; None when it cannot tell."""
        listed = await self._in_memory(candidate.endpoint)
        return None if listed is None else model_is_listed(candidate.model, listed)

    async def _in_memory(self, endpoint: Endpoint) -> list[str] | None:
        """The models an endpoint has in memory (Ollama's ``/api/ps``); None when it cannot
        tell: no such API, or no answer soon (Ollama's ``/api/ps`` waits while a model
        loads, ``server/sched.go`` ``loadedModels`` taking each runner's lock, which a
        loading runner holds)."""
        loaded_models = getattr(self.backends[endpoint], "loaded_models", None)
        if loaded_models is None:
            return None
        try:
            async with asyncio.timeout(LOADED_CHECK_SECONDS):
                return list(await loaded_models())
        except (BackendError, TimeoutError):
            return None

    async def ensure_loaded(self, candidate: Candidate, role: str) -> None:
        """Return once the candidate's model is in memory, loading it first if needed.
        Waiters share one load, which their cancellation does not stop. Raises the load's
        BackendError (a TIMEOUT naming ``models.loadSeconds`` when it takes too long).

        Only servers that load models on demand and say which are loaded (Ollama) get a
        load of their own; the others keep their model loaded themselves (llama-server
        answers 503 while it loads, which fails over) or load it in this process."""
        if self.believed_loaded(candidate) or not self._reports_loads(candidate):
            return
        if candidate not in self._loads:
            if await self.reported_loaded(candidate):
                self.mark_loaded(candidate)
                return
        await asyncio.shield(self.start_load(candidate, role))

    def _reports_loads(self, candidate: Candidate) -> bool:
        return getattr(self.backends[candidate.endpoint], "loaded_models", None) is not None

    def start_load(self, candidate: Candidate, role: str) -> asyncio.Task[None]:
        """The load of the candidate's model: the one under way, or a new one."""
        task = self._loads.get(candidate)
        if task is None:
            task = self._loads[candidate] = asyncio.create_task(self._load(candidate, role))
            task.add_done_callback(_retrieve_exception)
        return task

    async def _load(self, candidate: Candidate, role: str) -> None:
        timing = self.timing[role]
        label = describe_candidate(candidate)
        context = self.router.context_length(candidate)
        num_ctx = min(timing.num_ctx, context) if context else timing.num_ctx
        if self._on_loading is not None:
            self._on_loading(label, True)
        started = time.monotonic()
        try:
            async with asyncio.timeout(timing.load.seconds):
                await self.backends[candidate.endpoint].warm_up(candidate.model, num_ctx)
        except TimeoutError:
            error = timeout_error(label, timing.load, "did not finish loading")
            self.router.record(candidate, ok=False, problem=error.message)
            raise error from None
        except BackendError as error:
            if error.kind is ProblemKind.MODEL_MISSING:
                self.router.set_missing(candidate, True)
            elif error.kind in FAILOVER_KINDS:
                self.router.record(candidate, ok=False, problem=error.message)
            raise
        finally:
            del self._loads[candidate]
            if self._on_loading is not None:
                self._on_loading(label, False)
        seconds = time.monotonic() - started
        log.info("%s loaded in %.1f s", label, seconds)
        self.router.record(candidate, ok=True, seconds=seconds)
        self.mark_loaded(candidate)
        await self._note_evictions(candidate)

    async def _note_evictions(self, loaded: Candidate) -> None:
        """After a load: say once which other role's model it pushed out of memory."""
        others = [
            c
            for c in self._loaded_until
            if c.endpoint == loaded.endpoint and c != loaded and self.believed_loaded(c)
        ]
        if not others:
            return
        listed = await self._in_memory(loaded.endpoint)
        if listed is None:
            return
        for other in others:
            if model_is_listed(other.model, listed):
                continue
            self.mark_unloaded(other)
            message = (
                f"loading {loaded.model} made Ollama at {loaded.endpoint.url} unload "
                f"{other.model}: it keeps fewer models in memory than CodeHearth's roles use "
                "(raise OLLAMA_MAX_LOADED_MODELS, free memory, or use one model for both); "
                "meanwhile completions use a model that is still loaded"
            )
            if message not in self.evictions:
                self.evictions.append(message)
            self.say_once(message)

    async def discover(self) -> dict[Endpoint, list[str] | BackendError]:
        """Ask each endpoint the router may use which models it has (cloud endpoints only
        with allowCloud); a model that is not there (names compared as Ollama compares
        them; a one-model llama.cpp server has them all) is skipped by the router for a
        while (one failing endpoint does not stop the rest), and so is a cloud model an
        Ollama endpoint lists (without allowCloud), which is said once."""
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
                    missing = not model_is_listed(candidate.model, listed) and not (
                        serves_any_model(self.backends[candidate.endpoint])
                    )
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
                (b.describe() for b in self.backends.values() if isinstance(b, EmbeddedModels)),
                None,
            ),
            "loading": self.loading(),
            "evictions": list(self.evictions),
        }

    async def cannot_converse(self, choice: Choice) -> str:
        """Why ``choice`` cannot take a conversation ("" when it can, or nobody knows),
        asking its endpoint what the model can do the first time (cached)."""
        router = self.router
        if router.capabilities(choice.candidate) is None:
            try:
                shown = await choice.backend.show(choice.model)
            except BackendError:
                return ""  # the request itself will tell what is wrong
            router.learn_capabilities(choice.candidate, detect_capabilities(shown))
        return router.cannot_converse(choice.candidate)

    async def unloaded_meanwhile(self, candidate: Candidate) -> bool:
        """After a request got no first token in time: True when the endpoint says the
        model is not in memory, or cannot say because a load holds its ``/api/ps``, so the
        server was loading it (a model that ran out its keep-alive, or another role's
        load pushed it out) rather than failing."""
        if not self._reports_loads(candidate):
            return False
        return await self.reported_loaded(candidate) is not True

    async def aclose(self) -> None:
        for task in self._loads.values():
            task.cancel()
        await asyncio.gather(
            *(backend.aclose() for backend in self.backends.values()), return_exceptions=True
        )


def _retrieve_exception(task: asyncio.Task[None]) -> None:
    """A load nobody waits for any more still has its failure read (and recorded)."""
    if not task.cancelled():
        task.exception()


def model_is_listed(model: str, listed: Sequence[str]) -> bool:
    """Whether ``model`` is among ``listed`` as Ollama matches names (server/routes.go,
    model.ParseName): case-insensitively, ``registry.ollama.ai/library/`` implied, and a
    name without a tag meaning ``:latest``."""
    return model_key(model) in {model_key(name) for name in listed}


def model_key(name: str) -> str:
    """``name`` spelled the one way Ollama resolves it: ``Qwen2.5-Coder`` and
    ``registry.ollama.ai/library/qwen2.5-coder:latest`` are the same model."""
    key = name.strip().lower().removeprefix(f"{OLLAMA_REGISTRY}/").removeprefix("library/")
    return key if ":" in key.rpartition("/")[2] else f"{key}:latest"


def serves_any_model(backend: ModelBackend) -> bool:
    """A llama.cpp server running one model answers whatever model a request names."""
    return isinstance(backend, OpenAIBackend) and backend.serves_any_model


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
            router = self.pool.router
            base = [(c, why) for c, _ in route.skipped if (why := router.cannot_converse(c))]
            if base and len(base) == len(route.skipped):
                raise conversation_error(self.role, base)
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

    async def warm_up(self) -> Choice | None:
        """Load the first of the role's models that can be loaded (as every load: once,
        bounded by ``models.loadSeconds``, never cut by a request); returns which one, or
        None when every model is one its endpoint said it does not have."""
        last_error: BackendError | None = None
        for choice in self._route_or_raise(0, 0):
            if self.pool.router.is_missing(choice.candidate):
                continue  # nothing to load; already reported by whoever discovered it
            try:
                await asyncio.shield(self.pool.start_load(choice.candidate, self.role))
            except BackendError as error:
                if error.kind not in FAILOVER_KINDS:
                    raise
                last_error = error
                continue
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
            request = hide_secrets(mask, request)
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
        """Each candidate in turn until one streams: its model loaded first if need be,
        then its answer under the role's limits. A failure before the first chunk (of a
        kind worth retrying) moves on; after that, the failure is the answer."""
        last_error: BackendError | None = None
        limits = self.pool.timing[self.role].stream
        choices = self._in_memory_first(self._route_or_raise(prompt_tokens, reply_tokens))
        base_models: list[tuple[Candidate, str]] = []
        while choices:
            choice = choices.pop(0)
            if self.role in CONVERSATION_ROLES and (why := await self.pool.cannot_converse(choice)):
                base_models.append((choice.candidate, why))
                last_error = conversation_error(self.role, base_models)
                continue  # never sent a conversation: it would echo the prompt back
            self.pool.router.begin(choice.candidate)  # before any wait: one half-open probe
            try:
                await self.pool.ensure_loaded(choice.candidate, self.role)
            except BaseException as error:
                self.pool.router.release(choice.candidate)  # the load recorded its outcome
                if not isinstance(error, BackendError) or error.kind not in FAILOVER_KINDS:
                    raise
                last_error = error
                continue
            answered = False
            started = time.monotonic()
            try:
                async with (
                    contextlib.aclosing(open_stream(choice)) as raw,
                    contextlib.aclosing(timed_stream(raw, limits, choice.label)) as chunks,
                ):
                    async for chunk in chunks:
                        if not answered:
                            answered = True
                            self._answered(choice, time.monotonic() - started)
                        yield chunk
                if not answered:
                    self._answered(choice, time.monotonic() - started)
                return
            except (asyncio.CancelledError, GeneratorExit):
                if not answered:
                    self.pool.router.release(choice.candidate)
                raise
            except BackendError as error:
                if answered:
                    raise
                # A half-open endpoint's probe ended; a failure worth it is recorded below.
                self.pool.router.release(choice.candidate)
                if error.kind is ProblemKind.TIMEOUT and await self.pool.unloaded_meanwhile(
                    choice.candidate
                ):
                    # The server was loading the model again (it had unloaded it): a load,
                    # not a failure; the next request loads it first.
                    self.pool.mark_unloaded(choice.candidate)
                    last_error = error
                    continue
                if not self._failed(choice, error):
                    raise
                if error.kind is ProblemKind.CONTEXT_EXCEEDED:
                    choices = self._roomier_first(choice, choices, prompt_tokens + reply_tokens)
                last_error = error
        assert last_error is not None
        raise last_error

    def _roomier_first(self, failed: Choice, rest: list[Choice], tokens: int) -> list[Choice]:
        """After a prompt did not fit ``failed``'s context: that model is taken as too small
        for prompts of this size from now on, and the rest are tried those known to have a
        larger context first (largest first), then those whose context is unknown, then
        the others, each group in route order."""
        router = self.pool.router
        bound = max(1, tokens - 1)
        known = router.context_length(failed.candidate)
        router.learn_context_length(failed.candidate, min(known, bound) if known else bound)
        limit = router.context_length(failed.candidate) or bound

        def order(choice: Choice) -> tuple[int, int]:
            room = router.context_length(choice.candidate)
            if room is None:
                return (1, 0)
            return (0, -room) if room > limit else (2, 0)

        return sorted(rest, key=order)

    def _in_memory_first(self, choices: list[Choice]) -> list[Choice]:
        """For completions, which cannot wait: when the best candidate is not in memory
        but another is, that one answers while the best one loads in the background."""
        if self.role != "completion" or not choices:
            return choices
        if self.pool.believed_loaded(choices[0].candidate):
            return choices
        loaded = [c for c in choices if self.pool.believed_loaded(c.candidate)]
        if not loaded:
            return choices
        self.pool.start_load(choices[0].candidate, self.role)
        return loaded + [c for c in choices if c not in loaded]

    def _answered(self, choice: Choice, seconds: float) -> None:
        self.pool.router.record(choice.candidate, ok=True, seconds=seconds)
        self.pool.mark_loaded(choice.candidate)
        self.pool.note_answer(self.role, choice.candidate)

    def _failed(self, choice: Choice, error: BackendError) -> bool:
        """Record a failure before the first token; True when the next candidate may try."""
        if error.kind in (ProblemKind.MODEL_MISSING, ProblemKind.UNREACHABLE):
            self.pool.mark_unloaded(choice.candidate)
        if error.kind is ProblemKind.MODEL_MISSING:
            self.pool.router.set_missing(choice.candidate, True)
            choice.backend.forget_model(choice.model)
        elif error.kind in FAILOVER_KINDS - {ProblemKind.CONTEXT_EXCEEDED}:
            # (a prompt too long for one model says nothing of its endpoint's health)
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


def hide_secrets(mask: SecretMask, request: GenerateRequest) -> GenerateRequest:
    """``request`` with the secrets in its prompt masked, and in its FIM parts (which a
    server that renders FIM itself is sent instead of the prompt)."""
    prompt, fim = mask.hide(request.prompt), request.fim
    if fim is not None:
        context = tuple(attrs.evolve(s, text=mask.hide(s.text)) for s in fim.context)
        fim = attrs.evolve(
            fim, prefix=mask.hide(fim.prefix), suffix=mask.hide(fim.suffix), context=context
        )
    return attrs.evolve(request, prompt=prompt, fim=fim)


ROLE_MODEL_SETTINGS = {
    "chat": "chat.model",
    "edit": "actions.model",
    "critic": "actions.criticModel",
}
"""The setting that names each conversation role's own model."""


def conversation_error(role: str, base_models: list[tuple[Candidate, str]]) -> BackendError:
    """No model of the route can follow a conversation: one sentence, with the fix."""
    which = "; ".join(f"{describe_candidate(c)} is {why}" for c, why in base_models)
    return BackendError(
        ProblemKind.UNSUPPORTED,
        f"No model that follows instructions can answer {role} ({which}): pull one, e.g. "
        f"`ollama pull qwen2.5-coder:7b`, and name it in {ROLE_MODEL_SETTINGS.get(role, role)}, "
        f"or install the built-in one with `{INSTALL_HINT}`.",
    )


def no_route_error(role: str, route: Route) -> BackendError:
    """Why no model can take a job now, naming each candidate's reason."""
    if not route.skipped:
        return BackendError(
            ProblemKind.UNSUPPORTED, f"no model is configured for {role}; see models.fallbacks"
        )
    reasons = "; ".join(f"{describe_candidate(c)}: {why}" for c, why in route.skipped)
    return BackendError(ProblemKind.UNREACHABLE, f"no model can answer {role} now ({reasons})")
