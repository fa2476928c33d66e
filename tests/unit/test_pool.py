"""The model pool: routes from settings, fail-over inside one request, recovery, the cloud
rule with secrets masked for every model, and no socket to another machine unless allowCloud."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fake_openai import FakeLlamaServer, FakeOpenAI, FakeVLLM

from codehearth.models.errors import BackendError, ProblemKind
from codehearth.models.factory import build_pool
from codehearth.models.health import BreakerState
from codehearth.models.ollama_backend import GenerateRequest, OllamaBackend
from codehearth.models.openai_backend import OpenAIBackend
from codehearth.models.pool import (
    EndpointConfig,
    ModelPool,
    RoleModels,
    RoutePlan,
    model_is_listed,
    plan_routes,
)
from codehearth.models.router import Candidate, Endpoint
from codehearth.settings import ModelSettings, Settings, build_settings

FAST = "qwen2.5-coder:1.5b"
STRONG = "qwen2.5-coder:7b"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def models(**values: Any) -> ModelSettings:
    return build_settings({"models": values}).settings.models


OWN = RoleModels(completion=FAST, edit=STRONG, chat=STRONG, embed="nomic-embed-text")
LOCAL_URL = "http://127.0.0.1:11434"


def plan(**values: Any) -> RoutePlan:
    return plan_routes(
        models(**values),
        OWN,
        ollama_url=LOCAL_URL,
        embedded_ready=True,
        embedded_model="gemma",
        embedded_instruct_model="smollm",
    )


def routes(built: RoutePlan, role: str) -> list[str]:
    return [f"{c.model}@{c.endpoint.kind}" for c in built.roles.get(role, ())]


# -- the routing table from settings ----------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "role", "expected"),
    [
        pytest.param({}, "completion", [f"{FAST}@ollama", "gemma@embedded"], id="embedded-last"),
        pytest.param(
            {"embedded": "prefer"}, "chat", ["smollm@embedded", f"{STRONG}@ollama"], id="prefer"
        ),
        pytest.param({}, "chat", [f"{STRONG}@ollama", "smollm@embedded"], id="chat-instruct"),
        pytest.param({"embedded": "off"}, "edit", [f"{STRONG}@ollama"], id="off"),
        pytest.param({}, "embed", ["nomic-embed-text@ollama"], id="embed-never-embedded"),
        pytest.param({}, "critic", [], id="no-critic-unless-configured"),
        pytest.param(
            {"fallbacks": {"critic": ["llama3.2:3b"]}},
            "critic",
            ["llama3.2:3b@ollama"],
            id="critic-from-fallbacks",
        ),
        pytest.param(
            {
                "endpoints": [{"name": "box", "url": "http://127.0.0.1:8080", "kind": "openai"}],
                "fallbacks": {"edit": ["big@box", f"{FAST}"]},
            },
            "edit",
            [f"{STRONG}@ollama", "big@openai", f"{FAST}@ollama", "smollm@embedded"],
            id="fallbacks-in-order",
        ),
    ],
)
def test_routes_from_settings(values: dict[str, Any], role: str, expected: list[str]) -> None:
    assert routes(plan(**values), role) == expected


@pytest.mark.parametrize(
    ("values", "warning"),
    [
        pytest.param({"fallbacks": {"chat": ["x@nowhere"]}}, "no endpoint named", id="unknown"),
        pytest.param({"fallbacks": {"chat": ["@ollama"]}}, "names no model", id="no-model"),
        pytest.param(
            {"endpoints": [{"name": "a", "url": "ftp://x", "kind": "ollama"}]},
            "expected http",
            id="bad-url",
        ),
        pytest.param(
            {"endpoints": [{"name": "a", "url": "http://x", "kind": "grpc"}]},
            "kind 'grpc'",
            id="bad-kind",
        ),
        pytest.param(
            {"endpoints": [{"name": "ollama", "url": "http://x"}]}, "taken", id="name-taken"
        ),
        pytest.param(
            {"endpoints": [{"name": "a", "url": "http://x", "kind": "openai", "family": "qwen"}]},
            "family 'qwen'",
            id="unknown-family",
        ),
        pytest.param(
            {
                "endpoints": [{"name": "o", "url": "http://127.0.0.1:1", "kind": "openai"}],
                "fallbacks": {"embed": ["e@o"]},
            },
            "not an Ollama endpoint",
            id="embed-needs-ollama",
        ),
    ],
)
def test_bad_route_settings_are_warned_and_skipped(values: dict[str, Any], warning: str) -> None:
    built = plan(**values)
    assert any(warning in text for text in built.warnings), built.warnings


def test_an_endpoints_family_goes_with_each_of_its_models() -> None:
    built = plan(
        endpoints=[
            {
                "name": "box",
                "url": "http://127.0.0.1:8080",
                "kind": "openai",
                "family": "starcoder2",
            }
        ],
        fallbacks={"completion": ["sc2@box"]},
    )
    assert [c.family for c in built.roles["completion"]] == [None, "starcoder2", None]


def test_an_endpoint_off_this_machine_is_cloud() -> None:
    built = plan(endpoints=[{"name": "team", "url": "http://192.168.7.7:11434"}])
    team = next(c for c in built.endpoints if c.name == "team")
    assert team.endpoint.cloud and not team.endpoint.local
    assert not next(c for c in built.endpoints if c.name == "ollama").endpoint.cloud


def test_embedded_is_left_out_when_not_installed() -> None:
    built = plan_routes(
        models(),
        OWN,
        ollama_url=LOCAL_URL,
        embedded_ready=False,
        embedded_model="gemma",
        embedded_instruct_model="smollm",
    )
    assert routes(built, "completion") == [f"{FAST}@ollama"]


# -- fail-over and recovery against two fake Ollamas ------------------------------------------


@pytest.fixture
def primary() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        fake.set_text("from the primary\n")
        yield fake


@pytest.fixture
def fallback() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        fake.set_text("from the fallback\n")
        yield fake


def two_endpoint_pool(
    primary: FakeOllama, fallback: FakeOllama, clock: Clock, **roles: list[str]
) -> ModelPool:
    first = Endpoint(primary.url)
    second = Endpoint(fallback.url)
    candidates = {
        role: tuple(
            Candidate(first if where == "1" else second, model)
            for model, where in (entry.split("@") for entry in entries)
        )
        for role, entries in roles.items()
    }
    return ModelPool(
        RoutePlan((EndpointConfig("one", first), EndpointConfig("two", second)), candidates),
        {first: OllamaBackend(primary.url), second: OllamaBackend(fallback.url)},
        clock=clock,
    )


@pytest.fixture
async def pool(primary: FakeOllama, fallback: FakeOllama) -> AsyncIterator[ModelPool]:
    made = two_endpoint_pool(
        primary, fallback, Clock(), completion=[f"{FAST}@1", f"{FAST}@2"], chat=[f"{STRONG}@1"]
    )
    yield made
    await made.aclose()


def request(prompt: str = "def f():\n    ") -> GenerateRequest:
    return GenerateRequest(
        model="ignored", prompt=prompt, num_ctx=2048, max_tokens=16, temperature=0.0
    )


async def generate(pool: ModelPool, role: str = "completion") -> str:
    return "".join([chunk.text async for chunk in pool.role(role).generate(request())])


async def test_the_first_candidate_answers_while_it_is_healthy(
    pool: ModelPool, primary: FakeOllama, fallback: FakeOllama
) -> None:
    assert await generate(pool) == "from the primary\n"
    assert len(primary.generations()) == 1 and fallback.generations() == []
    assert pool.describe()["fallbackAnswering"] == {}


async def test_a_dead_endpoint_moves_the_same_request_to_the_fallback_and_back(
    primary: FakeOllama, fallback: FakeOllama
) -> None:
    clock = Clock()
    pool = two_endpoint_pool(primary, fallback, clock, completion=[f"{FAST}@1", f"{FAST}@2"])
    try:
        primary.stop()
        assert await generate(pool) == "from the fallback\n"  # this very request
        assert fallback.url in pool.describe()["fallbackAnswering"]["completion"]
        for _ in range(2):
            assert await generate(pool) == "from the fallback\n"
        health = pool.router.health(Endpoint(primary.url))
        assert health.state is BreakerState.OPEN  # now skipped without a connect attempt
        primary.start()
        assert await generate(pool) == "from the fallback\n"  # still cooling down
        assert primary.generations() == []
        clock.now += health.current_cooldown + 0.1  # half-open: the primary may be tried
        # Completions do not wait: the fallback, in memory, answers while the primary loads.
        assert await generate(pool) == "from the fallback\n"
        await pool.loads_finished()
        assert await generate(pool) == "from the primary\n"
        assert health.state is BreakerState.CLOSED
        assert pool.describe()["fallbackAnswering"] == {}
    finally:
        await pool.aclose()


@pytest.mark.parametrize(
    ("fault", "moves"),
    [
        pytest.param("server_error", True, id="http-500-moves"),
        pytest.param("overloaded", True, id="http-503-moves"),
        pytest.param("not_found", True, id="model-missing-moves"),
        pytest.param("drop_mid_stream", False, id="dropped-after-tokens-does-not"),
    ],
)
async def test_which_failures_move_to_the_fallback(
    pool: ModelPool, primary: FakeOllama, fault: str, moves: bool
) -> None:
    primary.inject(fault, times=1)
    if moves:
        assert await generate(pool) == "from the fallback\n"
    else:
        with pytest.raises(BackendError) as raised:
            await generate(pool)
        assert raised.value.kind is ProblemKind.STREAM_DROPPED


async def test_a_missing_model_is_skipped_until_it_is_pulled(
    pool: ModelPool, primary: FakeOllama
) -> None:
    primary.remove_model(FAST)
    await pool.discover()
    assert await generate(pool) == "from the fallback\n"
    assert primary.generations() == []  # the router knew; no request was wasted
    table = {(row["endpoint"], row["role"]): row for row in pool.router.table()}
    assert table[(primary.url, "completion")]["modelMissing"] is True


async def test_when_nothing_can_answer_the_error_says_why_for_each_model(
    pool: ModelPool, primary: FakeOllama
) -> None:
    primary.stop()
    with pytest.raises(BackendError) as raised:
        await generate(pool, "chat")
    assert raised.value.kind is ProblemKind.UNREACHABLE
    primary.remove_model(STRONG)
    primary.start()
    await pool.discover()
    with pytest.raises(BackendError) as missing:
        await generate(pool, "chat")
    assert f"ollama pull {STRONG}" in missing.value.message


async def test_chat_fails_over_too(pool: ModelPool, primary: FakeOllama) -> None:
    made = pool.role("completion")
    primary.stop()
    chunks = [
        c.content async for c in made.chat("x", [{"role": "user", "content": "hi"}], num_ctx=2048)
    ]
    assert "".join(chunks) == "from the fallback\n"


BASE = "qwen2.5-coder:1.5b-base"
HELLO = [{"role": "user", "content": "What does add do?"}]


async def chat(pool: ModelPool) -> str:
    chunks = pool.role("chat").chat("x", HELLO, num_ctx=2048)
    return "".join([chunk.content async for chunk in chunks])


async def test_a_base_model_is_never_sent_a_conversation(
    primary: FakeOllama, fallback: FakeOllama
) -> None:
    pool = two_endpoint_pool(primary, fallback, Clock(), chat=[f"{BASE}@1", f"{STRONG}@2"])
    try:
        assert await chat(pool) == "from the fallback\n"
        assert await chat(pool) == "from the fallback\n"
        assert primary.generations() == []  # asked what it is (/api/show), never to chat
        [base_row] = [r for r in pool.describe()["routes"] if r["model"] == BASE]
        assert base_row["capabilities"] == ["base"]
        assert pool.role("chat").choices()[0].model == STRONG  # the route skips it now
    finally:
        await pool.aclose()


async def test_with_only_base_models_chat_says_so_in_one_sentence_with_the_fix(
    primary: FakeOllama, fallback: FakeOllama
) -> None:
    pool = two_endpoint_pool(primary, fallback, Clock(), chat=[f"{BASE}@1"])
    try:
        for _ in range(2):  # found out on the first request, skipped by the route after
            with pytest.raises(BackendError) as raised:
                await chat(pool)
            message = raised.value.message
            assert raised.value.kind is ProblemKind.UNSUPPORTED
            assert message.startswith("No model that follows instructions can answer chat (")
            assert "a base model" in message and "chat.model" in message
            assert "ollama pull qwen2.5-coder:7b" in message and "codehearth[embedded]" in message
        assert primary.generations() == []
    finally:
        await pool.aclose()


@pytest.mark.parametrize("think", [pytest.param(None, id="default"), pytest.param(False, id="off")])
async def test_a_role_passes_think_to_the_model_that_answers(
    pool: ModelPool, primary: FakeOllama, fallback: FakeOllama, think: bool | None
) -> None:
    primary.stop()  # the fallback gets the same request
    hello = [{"role": "user", "content": "hi"}]
    assert [c async for c in pool.role("completion").chat("x", hello, num_ctx=2048, think=think)]
    [sent] = [r.body for r in fallback.generations()]
    assert sent is not None and sent.get("think") == think


async def test_routing_by_prompt_size(primary: FakeOllama, fallback: FakeOllama) -> None:
    small, big = Endpoint(primary.url), Endpoint(fallback.url)
    pool = ModelPool(
        RoutePlan(
            (EndpointConfig("small", small), EndpointConfig("big", big)),
            {"edit": (Candidate(small, STRONG, 2048), Candidate(big, STRONG, 32768))},
        ),
        {small: OllamaBackend(primary.url), big: OllamaBackend(fallback.url)},
    )
    try:
        long_prompt = "x = 1\n" * 3000  # ~4,500 tokens: too big for the 2k model
        text = "".join([c.text async for c in pool.role("edit").generate(request(long_prompt))])
        assert text == "from the fallback\n"
        assert primary.generations() == []
        assert "".join([c.text async for c in pool.role("edit").generate(request())]) == (
            "from the primary\n"
        )
    finally:
        await pool.aclose()


# -- the cloud rule ----------------------------------------------------------------------------


@pytest.fixture
def cloud() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        fake.set_text("from the cloud\n")
        yield fake


async def cloud_pool(primary: FakeOllama, cloud: FakeOpenAI, *, allow_cloud: bool) -> ModelPool:
    local = Endpoint(primary.url)
    remote = Endpoint(cloud.api_url, kind="openai", cloud=True)  # as a third-party API is
    return ModelPool(
        RoutePlan(
            (EndpointConfig("ollama", local), EndpointConfig("cloud", remote)),
            {"chat": (Candidate(local, STRONG), Candidate(remote, "gpt-4o-mini"))},
        ),
        {local: OllamaBackend(primary.url), remote: OpenAIBackend(cloud.api_url)},
        allow_cloud=allow_cloud,
    )


SECRET_PROMPT = [{"role": "user", "content": f"why does aws_key = '{AWS_KEY}' fail?"}]


async def ask(pool: ModelPool) -> str:
    return "".join(
        [c.content async for c in pool.role("chat").chat("x", SECRET_PROMPT, num_ctx=2048)]
    )


async def test_a_cloud_endpoint_is_never_used_without_allow_cloud(
    primary: FakeOllama, cloud: FakeOpenAI
) -> None:
    pool = await cloud_pool(primary, cloud, allow_cloud=False)
    try:
        primary.stop()
        with pytest.raises(BackendError):
            await ask(pool)
        assert cloud.requests == []
    finally:
        await pool.aclose()


async def test_with_allow_cloud_the_prompt_is_redacted_before_it_leaves(
    primary: FakeOllama, cloud: FakeOpenAI
) -> None:
    pool = await cloud_pool(primary, cloud, allow_cloud=True)
    try:
        primary.stop()
        assert await ask(pool) == "from the cloud\n"
        [sent] = cloud.generations()
        assert AWS_KEY not in str(sent.body) and "[REDACTED_1]" in str(sent.body)
        primary.start()
        assert await ask(pool) == "from the primary\n"  # local again once it is back
    finally:
        await pool.aclose()


def echo_placeholders(body: dict[str, Any]) -> str:
    """A model that repeats each masked secret it was shown (as a code edit would)."""
    shown = body.get("prompt") or json.dumps(body.get("messages"))
    return "key = " + " ".join(re.findall(r"\[REDACTED_[0-9]+\]", shown)) + "\n"


async def test_a_local_model_never_sees_an_inline_secret_and_the_answer_keeps_it(
    pool: ModelPool, primary: FakeOllama
) -> None:
    primary.responder = echo_placeholders
    prompt = f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"\nsecond = "{AWS_KEY}"\n'
    completion = pool.role("completion").generate(request(prompt))
    assert "".join([chunk.text async for chunk in completion]) == f"key = {AWS_KEY} {AWS_KEY}\n"
    answer = [c.content async for c in pool.role("chat").chat("x", SECRET_PROMPT, num_ctx=2048)]
    assert "".join(answer) == f"key = {AWS_KEY}\n"
    sent = [json.dumps(r.body) for r in primary.requests if r.body]  # loads included
    assert not [body for body in sent if AWS_KEY in body]
    asked = [json.dumps(r.body) for r in primary.generations()]
    assert len(asked) == 2 and all("[REDACTED_1]" in body for body in asked)


@contextlib.contextmanager
def no_socket_leaves_loopback() -> Iterator[list[Any]]:
    """Record every connect() to an address that is not loopback (an audit hook)."""
    attempts: list[Any] = []
    active = True

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if active and event == "socket.connect":
            address = args[1]
            host = address[0] if isinstance(address, tuple) else str(address)
            if host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("/"):
                attempts.append(address)

    sys.addaudithook(hook)
    try:
        yield attempts
    finally:
        active = False


async def test_no_request_leaves_loopback_unless_allow_cloud(primary: FakeOllama) -> None:
    settings = build_settings(
        {
            "ollama": {"host": primary.url},
            "models": {
                "embedded": "off",
                "endpoints": [
                    {"name": "team", "url": "http://10.255.255.1:11434"},
                    {"name": "api", "url": "https://api.example.com/v1", "kind": "openai"},
                ],
                "fallbacks": {"chat": ["big@team", "gpt@api"], "completion": ["big@team"]},
            },
        }
    ).settings
    primary.stop()  # so every role would have to fall back
    built = build_pool(settings)
    try:
        with no_socket_leaves_loopback() as attempts:
            await built.pool.discover()
            for role in ("completion", "chat"):
                with pytest.raises(BackendError):
                    await generate(built.pool, role)
        assert attempts == []
    finally:
        await built.pool.aclose()


def test_settings_reload_keeps_unchanged_backends() -> None:
    first = build_pool(Settings())
    changed = build_settings({"models": {"fallbacks": {"chat": ["llama3.2:3b"]}}}).settings
    second = build_pool(changed, first.pool)
    assert second.unused == ()
    assert set(second.pool.backends.values()) == set(first.pool.backends.values())
    moved = build_settings({"ollama": {"host": "http://127.0.0.1:1"}}).settings
    third = build_pool(moved, second.pool)
    assert len(third.unused) == 1


async def test_discovery_learns_each_models_context_and_routes_big_prompts_by_it(
    primary: FakeOllama, fallback: FakeOllama
) -> None:
    primary.add_model(
        "small-ctx:1b", architecture="qwen2", capabilities=["completion"], context_length=2048
    )
    fallback.add_model(
        "small-ctx:1b", architecture="qwen2", capabilities=["completion"], context_length=32768
    )
    pool = two_endpoint_pool(primary, fallback, Clock(), edit=["small-ctx:1b@1", "small-ctx:1b@2"])
    try:
        await pool.discover()
        table = {row["endpoint"]: row["contextLength"] for row in pool.router.table()}
        assert table == {primary.url: 2048, fallback.url: 32768}
        long_prompt = "x = 1\n" * 3000  # ~4,500 tokens
        text = "".join([c.text async for c in pool.role("edit").generate(request(long_prompt))])
        assert text == "from the fallback\n" and primary.generations() == []
    finally:
        await pool.aclose()


# -- model names and one-model servers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "listed", "expected"),
    [
        pytest.param("qwen2.5-coder:1.5b", ["qwen2.5-coder:1.5b"], True, id="exact"),
        pytest.param("llama3.2", ["llama3.2:latest"], True, id="implicit-latest"),
        pytest.param("Qwen2.5-Coder:1.5B", ["qwen2.5-coder:1.5b"], True, id="case-insensitive"),
        pytest.param(
            "registry.ollama.ai/library/qwen2.5-coder:7b",
            ["qwen2.5-coder:7b"],
            True,
            id="fully-qualified",
        ),
        pytest.param("library/llama3.2", ["llama3.2:latest"], True, id="library-namespace"),
        pytest.param("me/coder", ["me/coder:latest"], True, id="user-namespace"),
        pytest.param("localhost:5000/coder", ["localhost:5000/coder:latest"], True, id="host-port"),
        pytest.param("qwen2.5-coder:7b", ["qwen2.5-coder:1.5b"], False, id="other-tag"),
        pytest.param("me/coder", ["coder:latest"], False, id="other-namespace"),
    ],
)
def test_model_names_match_as_ollama_matches_them(
    model: str, listed: list[str], expected: bool
) -> None:
    assert model_is_listed(model, listed) is expected


async def discovered_missing(url: str, model: str) -> bool:
    endpoint = Endpoint(url, kind="openai")
    pool = ModelPool(
        RoutePlan((EndpointConfig("server", endpoint),), {"chat": (Candidate(endpoint, model),)}),
        {endpoint: OpenAIBackend(url)},
    )
    try:
        await pool.discover()
        return pool.router.is_missing(Candidate(endpoint, model))
    finally:
        await pool.aclose()


# -- cloud models a local Ollama proxies ------------------------------------------------------

CLOUD_TAGGED = "qwen3-coder:480b-cloud"  # in the fake's registry, with a remote_host
RENAMED_CLOUD = "team-coder"  # a cloud model under a name without a cloud tag


def cloud_model_pool(fake: FakeOllama, *, allow_cloud: bool, said: list[str]) -> ModelPool:
    fake.add_model(RENAMED_CLOUD, architecture="", remote_host="https://ollama.com:443")
    endpoint = Endpoint(fake.url)
    roles = {"completion": tuple(Candidate(endpoint, m) for m in (CLOUD_TAGGED, RENAMED_CLOUD))}
    roles["chat"] = (Candidate(endpoint, RENAMED_CLOUD), Candidate(endpoint, STRONG))
    return ModelPool(
        RoutePlan((EndpointConfig("ollama", endpoint),), roles),
        {endpoint: OllamaBackend(fake.url)},
        allow_cloud=allow_cloud,
        notify=said.append,
    )


async def test_a_cloud_model_on_the_local_ollama_is_skipped_and_said_once(
    primary: FakeOllama,
) -> None:
    said: list[str] = []
    pool = cloud_model_pool(primary, allow_cloud=False, said=said)
    try:
        await pool.discover()
        await pool.discover()
        with pytest.raises(BackendError, match="allowCloud is off"):
            await generate(pool)
        answer = [c.content async for c in pool.role("chat").chat("x", SECRET_PROMPT, num_ctx=2048)]
        assert "".join(answer) == "from the primary\n"
        assert [r.body["model"] for r in primary.generations() if r.body] == [STRONG]
        shown = {r.body["model"] for r in primary.requests if r.path == "/api/show" and r.body}
        assert shown == {STRONG}  # not even a cloud model's metadata is asked for
        assert said == [
            f"completion: {CLOUD_TAGGED} ({primary.url}) is skipped: a cloud model: Ollama "
            "sends its prompts to https://ollama.com:443; set models.allowCloud = true to use it",
            f"completion: {RENAMED_CLOUD} ({primary.url}) is skipped: a cloud model: Ollama "
            "sends its prompts to https://ollama.com:443; set models.allowCloud = true to use it",
            f"chat: {RENAMED_CLOUD} ({primary.url}) is skipped: a cloud model: Ollama "
            "sends its prompts to https://ollama.com:443; set models.allowCloud = true to use it",
            f"chat: {STRONG} ({primary.url}) is answering (fallback)",
        ]
    finally:
        await pool.aclose()


async def test_a_llama_cpp_server_with_one_model_has_whatever_model_is_named() -> None:
    with FakeLlamaServer() as server:
        assert await discovered_missing(server.url, "qwen2.5-coder:1.5b") is False


async def test_a_vllm_server_lacks_the_models_it_does_not_list() -> None:
    with FakeVLLM() as server:
        assert await discovered_missing(server.url, "Qwen/Qwen2.5-Coder-7B-Instruct") is False
        assert await discovered_missing(server.url, "qwen2.5-coder:1.5b") is True


# -- a prompt longer than the context -----------------------------------------------------------


async def test_a_prompt_too_long_for_one_server_moves_to_the_next() -> None:
    with FakeLlamaServer() as small, FakeLlamaServer() as big:
        small.n_ctx, big.n_ctx = 256, 32768
        big.set_text("from the big one\n")
        first, second = Endpoint(small.url, kind="openai"), Endpoint(big.url, kind="openai")
        pool = ModelPool(
            RoutePlan(
                (EndpointConfig("small", first), EndpointConfig("big", second)),
                {"edit": (Candidate(first, "coder"), Candidate(second, "coder"))},
            ),
            {first: OpenAIBackend(small.url), second: OpenAIBackend(big.url)},
        )
        try:
            long_prompt = "x = 1\n" * 300  # ~450 tokens: more than the small slot holds
            for _ in range(3):
                chunks = pool.role("edit").generate(request(long_prompt))
                assert "".join([c.text async for c in chunks]) == "from the big one\n"
            # Once too small for prompts this size, it is not asked again for them.
            assert [r.status for r in small.generations()] == [400]
            # A prompt too long for one model says nothing of its endpoint's health.
            assert pool.router.health(first).state is BreakerState.CLOSED
            small.set_text("from the small one\n")
            chunks = pool.role("edit").generate(request())
            assert "".join([c.text async for c in chunks]) == "from the small one\n"
        finally:
            await pool.aclose()


async def test_after_a_context_overflow_a_model_known_to_be_roomier_goes_first() -> None:
    """Route order: a small server, one whose context is unknown, a large one. The prompt
    overflows the small one; the large one, known to hold it, answers before the unknown
    one is tried."""
    with FakeLlamaServer() as small, FakeLlamaServer() as unknown, FakeLlamaServer() as big:
        small.n_ctx, unknown.n_ctx, big.n_ctx = 256, 256, 32768
        big.set_text("from the big one\n")
        servers = (small, unknown, big)
        endpoints = [Endpoint(server.url, kind="openai") for server in servers]
        candidates = tuple(Candidate(endpoint, "coder") for endpoint in endpoints)
        pool = ModelPool(
            RoutePlan(
                tuple(EndpointConfig(f"s{n}", e) for n, e in enumerate(endpoints)),
                {"edit": candidates},
            ),
            {e: OpenAIBackend(server.url) for e, server in zip(endpoints, servers, strict=True)},
        )
        pool.router.learn_context_length(candidates[2], 32768)  # only the big one is known
        try:
            chunks = pool.role("edit").generate(request("x = 1\n" * 300))
            assert "".join([c.text async for c in chunks]) == "from the big one\n"
            assert [r.status for r in small.generations()] == [400]
            assert unknown.generations() == []
        finally:
            await pool.aclose()


async def test_with_allow_cloud_a_cloud_model_answers(primary: FakeOllama) -> None:
    said: list[str] = []
    pool = cloud_model_pool(primary, allow_cloud=True, said=said)
    try:
        await pool.discover()
        assert await generate(pool) == "from the primary\n"
        assert [r.body["model"] for r in primary.generations() if r.body] == [CLOUD_TAGGED]
        assert said == []
    finally:
        await pool.aclose()


def test_a_settings_reload_keeps_what_discovery_learned_about_cloud_models() -> None:
    first = build_pool(Settings())
    cloud = first.pool.router.roles["chat"][0]
    first.pool.router.learn_remote_host(cloud, "https://ollama.com:443")
    second = build_pool(Settings(), first.pool)
    assert second.pool.router.cloud_model(cloud)


async def test_a_half_open_probe_that_ends_in_a_refusal_lets_the_next_request_probe() -> None:
    """A prompt too long for the model says nothing of its endpoint's health, so it neither
    closes nor reopens the breaker; it must not keep the one probe slot either."""
    with FakeLlamaServer() as small:
        small.n_ctx = 256
        endpoint = Endpoint(small.url, kind="openai")
        pool = ModelPool(
            RoutePlan((EndpointConfig("small", endpoint),), {"edit": (Candidate(endpoint, "m"),)}),
            {endpoint: OpenAIBackend(small.url)},
        )
        health = pool.router.health(endpoint)
        health.state = BreakerState.HALF_OPEN
        try:
            with pytest.raises(BackendError) as raised:
                chunks = pool.role("edit").generate(request("x = 1\n" * 300))
                "".join([c.text async for c in chunks])
            assert raised.value.kind is ProblemKind.CONTEXT_EXCEEDED
            assert health.state is BreakerState.HALF_OPEN and health.available()
        finally:
            await pool.aclose()
