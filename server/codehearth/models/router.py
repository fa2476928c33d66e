"""Which model answers: roles, ordered fallbacks, context fit, health and the cloud rule.

Settings name model *roles* (``completion``, ``edit``, ``chat``, ``embed``, ``critic``),
each an ordered list of candidates: a model on an endpoint (several Ollama hosts, or an
OpenAI-compatible server such as llama.cpp or vLLM). :meth:`Router.route` returns the
candidates to try for one job, best first: those whose context length holds the prompt,
whose endpoint's circuit breaker lets a request through, and - unless the user set
``allowCloud`` - no cloud endpoint and no cloud model (one a local Ollama proxies to
ollama.com: a cloud tag in its name, or a ``remote_host`` Ollama lists it with, learned at
discovery); a model its endpoint said it lacks goes last. Callers
report each outcome with :meth:`Router.record`, which feeds the breaker and the latency
average; :meth:`table` is what ``codehearth doctor`` and the status command show. Pure
Python, no I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import attrs

from codehearth.models.capabilities import ModelCapabilities
from codehearth.models.health import EndpointHealth
from codehearth.models.ollama_backend import is_loopback

ROLES = ("completion", "edit", "chat", "embed", "critic")
CONVERSATION_ROLES = frozenset({"edit", "chat", "critic"})
"""Roles that send a conversation: only a model that follows instructions can answer."""
MISSING_RECHECK_SECONDS = 30.0
"""A model found missing goes after the other candidates this long (the user may pull it)."""


def cloud_tag(model: str) -> str | None:
    """The tag of a model name that makes Ollama run it on ollama.com, pulled or not:
    ``cloud``, or one ending in ``-cloud`` such as ``480b-cloud``
    (internal/modelref/modelref.go ``parseSourceSuffix`` in ollama/ollama)."""
    _name, colon, tag = model.rpartition(":")
    if not colon:
        return None
    lowered = tag.strip().lower()
    if lowered == "cloud" or ("/" not in tag and lowered.endswith("-cloud")):
        return tag
    return None


@attrs.frozen
class Endpoint:
    """A model server: ``kind`` is ``ollama``, ``openai`` (an OpenAI-compatible API),
    ``llama-server`` (llama.cpp's server: that API plus its own ``/infill``) or
    ``embedded`` (the llama.cpp model in this process).

    ``cloud`` marks a third-party service: it is only ever used with ``allowCloud``. A
    host the user configured on their own network (a team GPU box) is not cloud.
    """

    url: str
    kind: str = "ollama"
    cloud: bool = False

    @property
    def local(self) -> bool:
        return self.kind == "embedded" or is_loopback(self.url)


@attrs.frozen
class Candidate:
    """A model on an endpoint; ``context_length`` when known (from ``/api/show``),
    ``prompt_tokens``, the most prompt worth sending it for a completion (a model on the
    CPU pays for every prompt token before the first token of the answer), and ``family``,
    the FIM template family its endpoint's settings name."""

    endpoint: Endpoint
    model: str
    context_length: int | None = None
    prompt_tokens: int | None = None
    family: str | None = None


@attrs.frozen
class Route:
    """The candidates to try for one job, best first, and why others were left out."""

    candidates: tuple[Candidate, ...]
    skipped: tuple[tuple[Candidate, str], ...] = ()


class Router:
    """Routes jobs to candidates; keeps one health record per endpoint."""

    def __init__(
        self,
        roles: Mapping[str, Sequence[Candidate]],
        *,
        allow_cloud: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown model roles: {', '.join(sorted(unknown))}")
        self.roles = {role: tuple(candidates) for role, candidates in roles.items()}
        self.allow_cloud = allow_cloud
        self._clock = clock
        self._health: dict[Endpoint, EndpointHealth] = {}
        self._missing: dict[Candidate, float] = {}
        self._context_lengths: dict[Candidate, int] = {}
        self._remote_hosts: dict[Candidate, str] = {}
        self._capabilities: dict[Candidate, ModelCapabilities] = {}

    def health(self, endpoint: Endpoint) -> EndpointHealth:
        found = self._health.get(endpoint)
        if found is None:
            found = self._health[endpoint] = EndpointHealth(clock=self._clock)
        return found

    def adopt_health(self, endpoint: Endpoint, health: EndpointHealth) -> None:
        """Keep an endpoint's record across a settings reload."""
        self._health[endpoint] = health

    def route(self, role: str, prompt_tokens: int = 0, reply_tokens: int = 0) -> Route:
        """Candidates for ``role`` that may take a prompt of this size now, best first."""
        chosen: list[Candidate] = []
        deferred: list[Candidate] = []
        skipped: list[tuple[Candidate, str]] = []
        for candidate in self.roles.get(role, ()):
            reason = self._unusable(candidate, prompt_tokens + reply_tokens) or (
                self.cannot_converse(candidate) if role in CONVERSATION_ROLES else ""
            )
            if reason:
                skipped.append((candidate, reason))
            elif self.is_missing(candidate):
                deferred.append(candidate)  # last resort: it may have been pulled since
            else:
                chosen.append(candidate)
        return Route(tuple(chosen + deferred), tuple(skipped))

    def context_length(self, candidate: Candidate) -> int | None:
        """The candidate's context: configured, else learned from its endpoint."""
        return candidate.context_length or self._context_lengths.get(candidate)

    def learn_context_length(self, candidate: Candidate, tokens: int) -> None:
        """What the endpoint reports (Ollama's ``/api/show``) about the model's context."""
        self._context_lengths[candidate] = tokens

    def learn_remote_host(self, candidate: Candidate, host: str | None) -> None:
        """What the endpoint lists (Ollama's ``/api/tags``): the candidate's model is a
        cloud model Ollama proxies to ``host``, or (None) it is not."""
        if host:
            self._remote_hosts[candidate] = host
        else:
            self._remote_hosts.pop(candidate, None)

    def adopt_remote_hosts(self, other: Router) -> None:
        """Keep what ``other`` learned about cloud models (and what each model can do)
        across a settings reload."""
        self._remote_hosts.update(other._remote_hosts)
        self._capabilities.update(other._capabilities)

    def learn_capabilities(self, candidate: Candidate, capabilities: ModelCapabilities) -> None:
        """What the endpoint's ``show`` says the candidate's model can do."""
        self._capabilities[candidate] = capabilities

    def capabilities(self, candidate: Candidate) -> ModelCapabilities | None:
        return self._capabilities.get(candidate)

    def cannot_converse(self, candidate: Candidate) -> str:
        """Why the candidate cannot take a conversation (chat, an action), or "" when it
        can or nothing says it cannot."""
        known = self._capabilities.get(candidate)
        if known is None or known.follows_instructions is not False:
            return ""
        return f"{known.reason}: it continues text and cannot follow a conversation"

    def cloud_model(self, candidate: Candidate) -> str:
        """Why the candidate's prompts leave this machine though its endpoint is on it (a
        cloud model a local Ollama proxies); empty when they do not."""
        if candidate.endpoint.kind == "embedded":
            return ""
        host = self._remote_hosts.get(candidate)
        if host:
            return f"a cloud model: Ollama sends its prompts to {host}"
        tag = cloud_tag(candidate.model)
        if tag:
            return f"a cloud model: its tag '{tag}' makes Ollama send its prompts to ollama.com"
        return ""

    def is_cloud(self, candidate: Candidate) -> bool:
        """Whether the candidate's prompts leave this machine."""
        return candidate.endpoint.cloud or bool(self.cloud_model(candidate))

    def _unusable(self, candidate: Candidate, tokens: int) -> str:
        if candidate.endpoint.cloud and not self.allow_cloud:
            return "a cloud endpoint and allowCloud is off"
        if not self.allow_cloud and (cloud := self.cloud_model(candidate)):
            return f"{cloud}, and allowCloud is off"
        context = self.context_length(candidate)
        if context is not None and tokens > context:
            return f"prompt of {tokens} tokens exceeds its {context} context"
        if not self.health(candidate.endpoint).available():
            return f"circuit open: {self.health(candidate.endpoint).last_problem}"
        return ""

    def set_missing(self, candidate: Candidate, missing: bool) -> None:
        """The endpoint says it does not have (or now has) the candidate's model."""
        if missing:
            self._missing[candidate] = self._clock()
        else:
            self._missing.pop(candidate, None)

    def is_missing(self, candidate: Candidate) -> bool:
        since = self._missing.get(candidate)
        if since is None:
            return False
        if self._clock() - since >= MISSING_RECHECK_SECONDS:
            del self._missing[candidate]
            return False
        return True

    def begin(self, candidate: Candidate) -> None:
        """A request goes to ``candidate`` (claims the probe of a half-open endpoint)."""
        self.health(candidate.endpoint).begin()

    def release(self, candidate: Candidate) -> None:
        """A request ended with no verdict on the endpoint (its model was loading): a
        half-open endpoint lets the next request probe it."""
        self.health(candidate.endpoint).release()

    def record(
        self, candidate: Candidate, *, ok: bool, seconds: float = 0.0, problem: str = ""
    ) -> None:
        health = self.health(candidate.endpoint)
        if ok:
            health.record_success(seconds)
        else:
            health.record_failure(problem or "request failed")

    def table(self) -> list[dict[str, object]]:
        """One row per role and candidate, in order, with its endpoint's health."""
        rows: list[dict[str, object]] = []
        for role, candidates in self.roles.items():
            for rank, candidate in enumerate(candidates, start=1):
                rows.append(
                    {
                        "role": role,
                        "rank": rank,
                        "model": candidate.model,
                        "endpoint": candidate.endpoint.url,
                        "kind": candidate.endpoint.kind,
                        "local": candidate.endpoint.local,
                        "cloud": self.is_cloud(candidate),
                        "contextLength": self.context_length(candidate),
                        "modelMissing": self.is_missing(candidate),
                        "capabilities": (
                            self._capabilities[candidate].labels()
                            if candidate in self._capabilities
                            else None
                        ),
                        **self.health(candidate.endpoint).describe(),
                    }
                )
        return rows
