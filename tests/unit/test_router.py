"""Routing by role, prompt size, health and the cloud rule; the circuit breaker."""

from __future__ import annotations

import pytest

from codehearth.models.health import BreakerState, EndpointHealth
from codehearth.models.router import Candidate, Endpoint, Router, cloud_tag


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


LOCAL = Endpoint("http://127.0.0.1:11434")
TEAM_BOX = Endpoint("http://192.168.1.20:11434")  # the user's own GPU box
CLOUD = Endpoint("https://api.example.com/v1", kind="openai", cloud=True)

FAST = Candidate(LOCAL, "qwen2.5-coder:1.5b", 32768)
STRONG = Candidate(LOCAL, "qwen2.5-coder:7b", 8192)
TEAM = Candidate(TEAM_BOX, "qwen2.5-coder:32b", 32768)
REMOTE = Candidate(CLOUD, "big-cloud-model", 128000)


def router(*, allow_cloud: bool = False, clock: Clock | None = None) -> Router:
    return Router(
        {"completion": [FAST], "edit": [STRONG, TEAM, REMOTE], "chat": [REMOTE, STRONG]},
        allow_cloud=allow_cloud,
        clock=clock or Clock(),
    )


@pytest.mark.parametrize(
    ("role", "tokens", "allow_cloud", "expected"),
    [
        pytest.param("completion", 100, False, [FAST], id="task-picks-the-fast-model"),
        pytest.param("edit", 100, False, [STRONG, TEAM], id="edit-in-order-no-cloud"),
        pytest.param("edit", 20000, False, [TEAM], id="too-big-for-the-7b-context"),
        pytest.param("edit", 20000, True, [TEAM, REMOTE], id="cloud-only-when-allowed"),
        pytest.param("chat", 100, False, [STRONG], id="cloud-first-in-settings-still-skipped"),
        pytest.param("embed", 100, False, [], id="role-without-models"),
    ],
)
def test_route(role: str, tokens: int, allow_cloud: bool, expected: list[Candidate]) -> None:
    assert list(router(allow_cloud=allow_cloud).route(role, tokens).candidates) == expected


def test_skipped_candidates_say_why() -> None:
    skipped = dict(router().route("edit", 20000).skipped)
    assert "exceeds its 8192 context" in skipped[STRONG]
    assert "allowCloud is off" in skipped[REMOTE]


def test_a_dead_endpoint_loses_its_traffic_and_gets_it_back_after_recovery() -> None:
    clock = Clock()
    routes = router(clock=clock)
    for _ in range(3):
        routes.record(STRONG, ok=False, problem="connection refused")
    assert list(routes.route("edit", 100).candidates) == [TEAM]
    clock.now += 5.0  # cooldown over: one probe may go
    assert routes.route("edit", 100).candidates[0] == STRONG
    routes.begin(STRONG)
    assert list(routes.route("edit", 100).candidates) == [TEAM]  # the probe is in flight
    routes.record(STRONG, ok=True, seconds=0.2)
    assert list(routes.route("edit", 100).candidates) == [STRONG, TEAM]


def test_a_failed_probe_doubles_the_cooldown() -> None:
    clock = Clock()
    health = EndpointHealth(clock=clock, cooldown_seconds=5.0)
    for _ in range(3):
        health.record_failure("500")
    assert health.state is BreakerState.OPEN
    clock.now += 5.0
    assert health.available()
    health.begin()
    health.record_failure("500 again")
    clock.now += 9.0
    assert not health.available()
    clock.now += 1.0
    assert health.available()


def test_latency_is_a_moving_average_of_successes() -> None:
    health = EndpointHealth(latency_smoothing=0.5)
    health.record_success(0.1)
    health.record_success(0.3)
    assert health.latency_ewma == pytest.approx(0.2)


def test_table_lists_every_role_and_candidate_with_health() -> None:
    routes = router()
    routes.record(FAST, ok=True, seconds=0.05)
    rows = routes.table()
    assert [(row["role"], row["rank"], row["model"]) for row in rows] == [
        ("completion", 1, "qwen2.5-coder:1.5b"),
        ("edit", 1, "qwen2.5-coder:7b"),
        ("edit", 2, "qwen2.5-coder:32b"),
        ("edit", 3, "big-cloud-model"),
        ("chat", 1, "big-cloud-model"),
        ("chat", 2, "qwen2.5-coder:7b"),
    ]
    assert rows[0]["latencyMs"] == 50.0 and rows[0]["state"] == "closed"
    assert (rows[2]["local"], rows[2]["cloud"]) == (False, False)
    assert (rows[3]["local"], rows[3]["cloud"]) == (False, True)


def test_unknown_roles_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown model roles: autocomplete"):
        Router({"autocomplete": [FAST]})


# -- cloud models a local Ollama proxies ------------------------------------------------------

CLOUD_TAGGED = Candidate(LOCAL, "qwen3-coder:480b-cloud", 262144)
RENAMED_CLOUD = Candidate(LOCAL, "team-coder:latest")  # created FROM a cloud model
REMOTE_HOST = "https://ollama.com:443"


@pytest.mark.parametrize(
    ("model", "tag"),
    [
        pytest.param("qwen3-coder:480b-cloud", "480b-cloud", id="size-cloud"),
        pytest.param("gpt-oss:120b-cloud", "120b-cloud", id="gpt-oss"),
        pytest.param("kimi-k2:cloud", "cloud", id="cloud"),
        pytest.param("deepseek-v3.1:671B-Cloud", "671B-Cloud", id="any-case"),
        pytest.param("qwen2.5-coder:1.5b", None, id="local-tag"),
        pytest.param("my-cloud-coder", None, id="cloud-in-the-name-not-the-tag"),
        pytest.param("qwen3-coder:480b-cloud-q8", None, id="cloud-not-at-the-end"),
        pytest.param("registry.example.com:5000/team-cloud", None, id="registry-port"),
    ],
)
def test_cloud_tag(model: str, tag: str | None) -> None:
    assert cloud_tag(model) == tag


@pytest.mark.parametrize(
    ("allow_cloud", "expected"),
    [
        pytest.param(False, [FAST], id="skipped-on-a-loopback-ollama"),
        pytest.param(True, [CLOUD_TAGGED, RENAMED_CLOUD, FAST], id="used-with-allow-cloud"),
    ],
)
def test_a_cloud_model_is_cloud_even_on_a_loopback_ollama(
    allow_cloud: bool, expected: list[Candidate]
) -> None:
    routes = Router({"completion": [CLOUD_TAGGED, RENAMED_CLOUD, FAST]}, allow_cloud=allow_cloud)
    routes.learn_remote_host(RENAMED_CLOUD, REMOTE_HOST)
    route = routes.route("completion", 100)
    assert list(route.candidates) == expected
    assert [row["cloud"] for row in routes.table()] == [True, True, False]


def test_a_skipped_cloud_model_says_why() -> None:
    routes = Router({"completion": [CLOUD_TAGGED, RENAMED_CLOUD, FAST]})
    routes.learn_remote_host(RENAMED_CLOUD, REMOTE_HOST)
    skipped = dict(routes.route("completion", 100).skipped)
    assert skipped == {
        CLOUD_TAGGED: "a cloud model: its tag '480b-cloud' makes Ollama send its prompts to "
        "ollama.com, and allowCloud is off",
        RENAMED_CLOUD: f"a cloud model: Ollama sends its prompts to {REMOTE_HOST}, "
        "and allowCloud is off",
    }
    routes.learn_remote_host(RENAMED_CLOUD, None)  # no longer listed as a cloud model
    assert list(routes.route("completion", 100).candidates) == [RENAMED_CLOUD, FAST]


def test_what_discovery_learned_about_cloud_models_survives_a_reload() -> None:
    first = Router({"completion": [RENAMED_CLOUD, FAST]})
    first.learn_remote_host(RENAMED_CLOUD, REMOTE_HOST)
    second = Router({"completion": [RENAMED_CLOUD, FAST]})
    second.adopt_remote_hosts(first)
    assert list(second.route("completion", 100).candidates) == [FAST]
