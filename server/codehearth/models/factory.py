"""Build the model pool from settings: one backend per endpoint, reused across reloads.

:func:`build_pool` reads ``settings.models`` and the roles' own models, plans the routes
(:func:`codehearth.models.pool.plan_routes`) and creates a backend for each endpoint:
Ollama, an OpenAI-compatible server, llama.cpp's own server or the embedded llama.cpp
model. Each new backend gets its endpoint's headers (``${VAR}`` filled in from the
environment), certificate check and proxy (:mod:`codehearth.models.connection`). A backend
whose parameters did not change is carried over from the previous pool (an embedded model
stays loaded, HTTP connections stay open); the caller closes the ones returned as unused.
Create pools inside the running event loop. No pygls here.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

import attrs
import httpx

from codehearth.models.backend import ModelBackend
from codehearth.models.connection import endpoint_transport, expand_headers
from codehearth.models.embedded_backend import (
    DEFAULT_INSTRUCT_MODEL,
    EmbeddedBackend,
    EmbeddedModels,
    embedded_available,
    embedded_model_name,
)
from codehearth.models.llama_server_backend import LlamaServerBackend
from codehearth.models.ollama_backend import OllamaBackend, resolve_host
from codehearth.models.openai_backend import OpenAIBackend
from codehearth.models.pool import (
    EndpointConfig,
    ModelPool,
    Notify,
    OnLoading,
    RoleModels,
    RoutePlan,
    default_timing,
    plan_routes,
)
from codehearth.models.router import Endpoint
from codehearth.models.timing import RoleTiming
from codehearth.settings import Settings

BackendKey = tuple[Any, ...]


@attrs.frozen
class PoolBuild:
    """A new pool, the backends it no longer uses, and the settings warnings."""

    pool: ModelPool
    unused: tuple[ModelBackend, ...]
    warnings: tuple[str, ...]


def role_models(settings: Settings) -> RoleModels:
    return RoleModels(
        completion=settings.completion.model if settings.completion.enabled else "",
        edit=settings.actions.model,
        chat=settings.chat.model,
        embed=settings.memory.embed_model,
        critic=settings.actions.critic_model,
    )


def role_timing(settings: Settings) -> dict[str, RoleTiming]:
    """Each role's limits from the settings that name them."""
    return default_timing(
        completion_deadline=settings.completion.deadline_seconds,
        stall=settings.completion.stall_seconds,
        first_token=settings.models.first_token_seconds,
        load=settings.models.load_seconds,
        completion_num_ctx=settings.completion.num_ctx,
        edit_num_ctx=settings.actions.num_ctx,
        chat_num_ctx=settings.chat.num_ctx,
    )


def plan_for(settings: Settings) -> RoutePlan:
    return plan_routes(
        settings.models,
        role_models(settings),
        ollama_url=resolve_host(settings.ollama.host),
        embedded_ready=embedded_available(),
        embedded_model=embedded_model_name(settings.models.embedded_model_path),
        embedded_instruct_model=embedded_model_name(
            settings.models.embedded_instruct_model_path, DEFAULT_INSTRUCT_MODEL
        ),
    )


def build_pool(
    settings: Settings,
    previous: ModelPool | None = None,
    *,
    notify: Notify | None = None,
    on_loading: OnLoading | None = None,
) -> PoolBuild:
    plan = plan_for(settings)
    old_keys: dict[BackendKey, ModelBackend] = {}
    if previous is not None:
        configs = {config.endpoint: config for config in previous.plan.endpoints}
        old_keys = {
            _key(configs.get(endpoint, EndpointConfig("", endpoint)), settings): backend
            for endpoint, backend in previous.backends.items()
        }
    backends: dict[Endpoint, ModelBackend] = {}
    warnings: list[str] = []
    for config in plan.endpoints:
        reused = old_keys.pop(_key(config, settings), None)
        backends[config.endpoint] = reused or _create(config, settings, warnings)
    pool = ModelPool(
        plan,
        backends,
        allow_cloud=settings.models.allow_cloud,
        notify=notify,
        on_loading=on_loading,
        timing=role_timing(settings),
    )
    if previous is not None:
        _carry_health(previous, pool)
    return PoolBuild(pool, tuple(old_keys.values()), (*plan.warnings, *warnings))


def _key(config: EndpointConfig, settings: Settings) -> BackendKey:
    """What a backend is made from: one with the same key can be carried over."""
    endpoint = config.endpoint
    if endpoint.kind == "embedded":
        return (
            endpoint,
            settings.models.embedded_model_path,
            settings.models.embedded_instruct_model_path,
            settings.models.embedded_context,
            settings.models.embedded_reuse_prompt,
            settings.models.embedded_threads,
        )
    return (
        endpoint,
        settings.ollama.keep_alive,
        settings.ollama.connect_timeout,
        settings.completion.stall_seconds,
        config.api_key_env,
        config.headers,
        config.ca_bundle,
        config.insecure,
    )


def _create(config: EndpointConfig, settings: Settings, warnings: list[str]) -> ModelBackend:
    endpoint = config.endpoint
    if endpoint.kind == "embedded":
        n_ctx, reuse = settings.models.embedded_context, settings.models.embedded_reuse_prompt
        threads = settings.models.embedded_threads or min(os.cpu_count() or 1, 8)
        return EmbeddedModels(
            [
                EmbeddedBackend(
                    settings.models.embedded_model_path,
                    n_ctx=n_ctx,
                    n_threads=threads,
                    reuse_prompt=reuse,
                ),
                EmbeddedBackend(
                    settings.models.embedded_instruct_model_path,
                    n_ctx=n_ctx,
                    n_threads=threads,
                    bundled=DEFAULT_INSTRUCT_MODEL,
                    reuse_prompt=reuse,
                ),
            ]
        )
    headers, unset = expand_headers(dict(config.headers))
    warnings.extend(
        f"models.endpoints: a header of '{config.name}' names ${{{name}}}, which is not set; "
        "that header is not sent"
        for name in unset
    )
    transport = _transport(config, warnings)
    if endpoint.kind in ("openai", "llama-server"):
        server = LlamaServerBackend if endpoint.kind == "llama-server" else OpenAIBackend
        return server(
            endpoint.url,
            api_key=os.environ.get(config.api_key_env) if config.api_key_env else None,
            headers=headers,
            transport=transport,
            connect_timeout=settings.ollama.connect_timeout,
            request_timeout=settings.completion.stall_seconds,
        )
    return OllamaBackend(
        endpoint.url,
        keep_alive=settings.ollama.keep_alive,
        connect_timeout=settings.ollama.connect_timeout,
        request_timeout=settings.completion.stall_seconds,
        headers=headers,
        transport=transport,
    )


def _transport(config: EndpointConfig, warnings: list[str]) -> httpx.AsyncHTTPTransport:
    """How the endpoint is reached; a CA bundle that cannot be read leaves the usual
    certificate check."""
    url = config.endpoint.url
    try:
        return endpoint_transport(url, ca_bundle=config.ca_bundle, insecure=config.insecure)
    except (OSError, ssl.SSLError) as error:
        warnings.append(
            f"models.endpoints: the caBundle of '{config.name}' could not be read ({error}); "
            "the usual certificate authorities are trusted instead"
        )
        return endpoint_transport(url)


def _carry_health(previous: ModelPool, pool: ModelPool) -> None:
    """Health and answers survive a settings reload for endpoints that stayed, and so does
    which models discovery found to be cloud models."""
    for endpoint in pool.backends:
        if endpoint in previous.backends:
            pool.router.adopt_health(endpoint, previous.router.health(endpoint))
    pool.router.adopt_remote_hosts(previous.router)
    pool.answered.update(
        {role: c for role, c in previous.answered.items() if c.endpoint in pool.backends}
    )
