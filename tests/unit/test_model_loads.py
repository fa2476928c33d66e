"""Model loads and the limits on an answer (models/timing.py, the pool's loads), against
the fake Ollama loading cold models as the real one does: nothing on the wire until the
model is in memory, and a hang-up aborts the load."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterator

import pytest
from tests.fakes.fake_ollama import FakeOllama

from codehearth.models.errors import BackendError, ProblemKind
from codehearth.models.ollama_backend import GenerateRequest, OllamaBackend
from codehearth.models.pool import (
    EndpointConfig,
    ModelPool,
    Notify,
    OnLoading,
    RoutePlan,
    default_timing,
)
from codehearth.models.router import Candidate, Endpoint
from codehearth.models.timing import Limit, StreamLimits, keep_alive_seconds, timed_stream

FAST = "qwen2.5-coder:1.5b"
STRONG = "qwen2.5-coder:7b"
LOAD_SECONDS = 0.6
DEADLINE = 0.2  # shorter than a load: the load must not be bound by it


@pytest.mark.parametrize(
    ("keep_alive", "seconds"),
    [
        pytest.param("30m", 1800.0, id="minutes"),
        pytest.param("1h30m", 5400.0, id="hours-and-minutes"),
        pytest.param("300", 300.0, id="bare-seconds"),
        pytest.param("2.5s", 2.5, id="fractional"),
        pytest.param("0", 0.0, id="unload-at-once"),
        pytest.param("-1", math.inf, id="forever"),
        pytest.param("-1m", math.inf, id="negative-duration"),
        pytest.param("", math.inf, id="server-managed"),
        pytest.param("soon", math.inf, id="unknown-spelling"),
    ],
)
def test_keep_alive_durations(keep_alive: str, seconds: float) -> None:
    assert keep_alive_seconds(keep_alive) == seconds


# -- timed streams ----------------------------------------------------------------------

LIMITS = StreamLimits(
    first_token=Limit(0.2, "first.setting"),
    stall=Limit(0.1, "stall.setting"),
    total=Limit(0.5, "total.setting"),
)


async def paced(first: float, gap: float, count: int) -> AsyncIterator[int]:
    await asyncio.sleep(first)
    for number in range(count):
        if number:
            await asyncio.sleep(gap)
        yield number


@pytest.mark.parametrize(
    ("first", "gap", "count", "setting"),
    [
        pytest.param(0.4, 0.0, 3, "first.setting", id="no-first-token"),
        pytest.param(0.0, 0.3, 3, "stall.setting", id="stall-after-the-first"),
        pytest.param(0.0, 0.08, 20, "total.setting", id="whole-answer-too-long"),
    ],
)
async def test_each_limit_raises_a_timeout_naming_its_setting(
    first: float, gap: float, count: int, setting: str
) -> None:
    with pytest.raises(BackendError) as raised:
        async for _ in timed_stream(paced(first, gap, count), LIMITS, "model (host)"):
            pass
    assert raised.value.kind is ProblemKind.TIMEOUT
    assert f"raise {setting}" in raised.value.message
    assert raised.value.message.startswith("model (host) did ")


async def test_a_late_first_token_and_steady_chunks_within_the_limits_pass() -> None:
    chunks = [n async for n in timed_stream(paced(0.15, 0.06, 4), LIMITS, "model")]
    assert chunks == [0, 1, 2, 3]


# -- loads through the pool -------------------------------------------------------------


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        fake.load_seconds = LOAD_SECONDS
        yield fake


def make_pool(
    *fakes: FakeOllama,
    load: float = 30.0,
    notify: Notify | None = None,
    on_loading: OnLoading | None = None,
    **roles: list[str],
) -> ModelPool:
    """A pool over ``fakes`` (candidates ``model@N``, N counting from 1), with a completion
    deadline shorter than a load."""
    endpoints = [Endpoint(fake.url) for fake in fakes]
    candidates = {
        role: tuple(
            Candidate(endpoints[int(where) - 1], model)
            for model, where in (entry.split("@") for entry in entries)
        )
        for role, entries in roles.items()
    }
    return ModelPool(
        RoutePlan(tuple(EndpointConfig(str(n), e) for n, e in enumerate(endpoints, 1)), candidates),
        {e: OllamaBackend(fake.url) for e, fake in zip(endpoints, fakes, strict=True)},
        timing=default_timing(completion_deadline=DEADLINE, first_token=DEADLINE, load=load),
        notify=notify,
        on_loading=on_loading,
    )


@pytest.fixture
async def pool(ollama: FakeOllama) -> AsyncIterator[ModelPool]:
    made = make_pool(ollama, completion=[f"{FAST}@1"], chat=[f"{STRONG}@1"])
    yield made
    await made.aclose()


async def complete(pool: ModelPool) -> str:
    request = GenerateRequest(
        model="", prompt="def f():\n    ", num_ctx=4096, max_tokens=8, temperature=0.0
    )
    return "".join([chunk.text async for chunk in pool.role("completion").generate(request)])


async def test_a_cold_model_is_loaded_once_then_answers_and_no_load_is_cut(
    pool: ModelPool, ollama: FakeOllama
) -> None:
    assert await complete(pool) == "return a + b\n"
    assert (ollama.completed_loads, ollama.aborted_loads) == (1, 0)
    [load] = ollama.loads()
    assert load.body is not None and load.body["options"] == {"num_ctx": 4096}
    assert await complete(pool) == "return a + b\n"  # in memory now: no second load
    assert len(ollama.loads()) == 1
    assert pool.router.health(Endpoint(ollama.url)).failures == 0


async def test_requests_that_give_up_leave_the_load_running_for_the_next(
    pool: ModelPool, ollama: FakeOllama
) -> None:
    """The user typed on: each request is cancelled while the model loads, as an editor
    cancels stale completions; the load they share goes on."""
    for _ in range(3):
        waiting = asyncio.ensure_future(complete(pool))
        await asyncio.sleep(LOAD_SECONDS / 5)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    assert pool.loading() == [f"{FAST} ({ollama.url})"]
    assert await complete(pool) == "return a + b\n"
    assert (ollama.completed_loads, ollama.aborted_loads) == (1, 0)
    assert len(ollama.loads()) == 1


async def test_a_load_longer_than_its_limit_names_models_load_seconds(
    ollama: FakeOllama,
) -> None:
    pool = make_pool(ollama, load=LOAD_SECONDS / 3, completion=[f"{FAST}@1"])
    try:
        with pytest.raises(BackendError) as raised:
            await complete(pool)
        assert raised.value.kind is ProblemKind.TIMEOUT
        assert "did not finish loading" in raised.value.message
        assert "models.loadSeconds" in raised.value.message
    finally:
        await pool.aclose()


async def test_the_status_hears_when_a_load_starts_and_ends(ollama: FakeOllama) -> None:
    heard: list[tuple[str, bool]] = []
    pool = make_pool(
        ollama,
        on_loading=lambda label, started: heard.append((label, started)),
        completion=[f"{FAST}@1"],
    )
    try:
        await complete(pool)
        await complete(pool)
    finally:
        await pool.aclose()
    label = f"{FAST} ({ollama.url})"
    assert heard == [(label, True), (label, False)]


async def test_completions_use_a_model_in_memory_while_the_first_choice_loads(
    ollama: FakeOllama,
) -> None:
    with FakeOllama() as other:
        other.set_text("from the loaded one\n")
        other.preload()
        pool = make_pool(ollama, other, completion=[f"{FAST}@1", f"{FAST}@2"])
        try:
            ollama.stop()  # the first choice is down: the second answers, and is in memory
            assert await complete(pool) == "from the loaded one\n"
            ollama.start()  # back, with nothing loaded
            pool.router.health(Endpoint(ollama.url)).record_success(0.0)
            assert await complete(pool) == "from the loaded one\n"  # no wait for the load
            assert pool.loading() == [f"{FAST} ({ollama.url})"]
            await pool.loads_finished()
            assert await complete(pool) == "return a + b\n"
            assert ollama.aborted_loads == 0
        finally:
            await pool.aclose()


async def test_a_model_the_server_unloaded_is_reloaded_not_counted_as_a_failure(
    pool: ModelPool, ollama: FakeOllama
) -> None:
    """Believed in memory but gone (its keep-alive ran out on the server): the request
    gets no first token within the deadline while Ollama loads it again. That is a load,
    not a failure; the next request loads it first."""
    pool.mark_loaded(pool.router.roles["completion"][0])
    with pytest.raises(BackendError) as raised:
        await complete(pool)
    assert "completion.deadlineSeconds" in raised.value.message
    assert pool.router.health(Endpoint(ollama.url)).failures == 0
    assert await complete(pool) == "return a + b\n"
    assert ollama.completed_loads == 1


async def test_a_load_that_pushes_out_another_roles_model_is_said_once(
    ollama: FakeOllama,
) -> None:
    said: list[str] = []
    pool = make_pool(ollama, notify=said.append, completion=[f"{FAST}@1"], chat=[f"{STRONG}@1"])
    ollama.max_loaded = 1
    try:
        await load_both_models(pool)
    finally:
        await pool.aclose()
    [eviction] = pool.describe()["evictions"]
    assert f"loading {STRONG}" in eviction and f"unload {FAST}" in eviction
    assert "OLLAMA_MAX_LOADED_MODELS" in eviction
    assert said == [eviction]
    assert not pool.believed_loaded(pool.router.roles["completion"][0])


async def load_both_models(pool: ModelPool) -> None:
    assert await complete(pool) == "return a + b\n"
    answer = pool.role("chat").chat("", [{"role": "user", "content": "hi"}], num_ctx=8192)
    assert "".join([chunk.content async for chunk in answer]) == "return a + b\n"
