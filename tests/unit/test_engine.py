"""The completion engine against the fake Ollama through a real OllamaBackend: when it
asks the model, when it answers from a generation it already has (cache, typing along),
how it cancels, debounces and supersedes requests, alternatives for invoked completions,
failures, reconfiguration and shutdown.

Sources mark the cursor with ``<|CURSOR|>``. Unless a test says otherwise the debounce
is short (0-20 ms) and invoked completions ask for one item, so only the behaviour under
test costs time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import attrs
import pytest
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fake_openai import INFILL_PATH, FakeLlamaServer

from codehearth.completion.engine import CompletionEngine, CompletionQuery, Suggestion
from codehearth.languages import LanguageRegistry
from codehearth.models.errors import BackendError, ProblemKind
from codehearth.models.llama_server_backend import LlamaServerBackend
from codehearth.models.ollama_backend import OllamaBackend
from codehearth.models.openai_backend import OpenAIBackend
from codehearth.models.pool import EndpointConfig, ModelPool, RoleBackend, RoutePlan, default_timing
from codehearth.models.router import Candidate, Endpoint
from codehearth.prompts.budget import BudgetSplit, EstimatingCounter, prompt_limit
from codehearth.prompts.fim import ContextSnippet
from codehearth.settings import CompletionSettings

pytestmark = pytest.mark.usefixtures("no_ca_bundle")

CURSOR = "<|CURSOR|>"
URI = "file:///project/calc.py"
BODY = "def add(a, b):\n    <|CURSOR|>\n"
TEXT = "return a + b\n"
FAST: dict[str, Any] = {
    "debounce_min_ms": 0,
    "debounce_max_ms": 20,
    "invoked_items": 1,
    "num_ctx": 2048,
}


def query(source: str, *, invoked: bool = False, uri: str = URI) -> CompletionQuery:
    prefix, suffix = source.split(CURSOR)
    line_start = prefix.rfind("\n") + 1
    return CompletionQuery(
        uri=uri,
        version=1,
        text=prefix + suffix,
        offset=len(prefix),
        line=prefix.count("\n"),
        column=len(prefix) - line_start,
        language_id="python",
        invoked=invoked,
    )


def texts(suggestions: list[Suggestion]) -> list[str]:
    return [suggestion.text for suggestion in suggestions]


def disconnected(fake: FakeOllama) -> list[bool]:
    return [request.client_disconnected for request in fake.generations()]


def bodies(fake: FakeOllama) -> list[dict[str, Any]]:
    return [request.body or {} for request in fake.generations()]


@pytest.fixture(scope="module")
def registry() -> LanguageRegistry:
    return LanguageRegistry.load()


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        server.set_text(TEXT)
        yield server


@pytest.fixture
async def backend(fake: FakeOllama) -> AsyncIterator[OllamaBackend]:
    made = OllamaBackend(fake.url)
    yield made
    await made.aclose()


def in_memory(pool: ModelPool) -> RoleBackend:
    """The pool's completion role, its model taken as loaded: these tests are about the
    engine; how the pool loads a cold model first is tested in test_pool.py."""
    for candidate in pool.router.roles["completion"]:
        pool.mark_loaded(candidate)
    return pool.role("completion")


@attrs.define
class Harness:
    engine: CompletionEngine
    reports: list[BackendError]


Make = Callable[..., Harness]


@pytest.fixture
async def make(backend: OllamaBackend, registry: LanguageRegistry) -> AsyncIterator[Make]:
    """``make(**settings)`` builds an engine (FAST settings unless overridden)."""
    engines: list[CompletionEngine] = []

    def build(**settings: Any) -> Harness:
        reports: list[BackendError] = []
        completion = CompletionSettings(**{**FAST, **settings})
        timing = default_timing(
            completion_deadline=completion.deadline_seconds, stall=completion.stall_seconds
        )
        routed = in_memory(ModelPool.direct(backend, timing=timing, completion=completion.model))
        engine = CompletionEngine(routed, completion, registry, reports.append)
        engines.append(engine)
        return Harness(engine, reports)

    yield build
    for engine in engines:
        await engine.aclose()


async def wait_for_stream(fake: FakeOllama) -> None:
    assert await fake.wait_for_async(lambda: fake.open_streams == 1, 2)


# -- asking the model ------------------------------------------------------------------------


async def test_a_completion_at_a_block_start_comes_from_one_generation(
    fake: FakeOllama, make: Make
) -> None:
    harness = make()
    suggestions = await harness.engine.complete(query(BODY))
    assert texts(suggestions) == ["return a + b"]
    [body] = bodies(fake)
    assert body["raw"] is True
    assert "def add(a, b):\n    " in body["prompt"]
    assert body["options"]["num_ctx"] == 2048
    assert harness.reports == []
    assert harness.engine.stats.generations == 1


@pytest.mark.parametrize(
    ("trained_context", "configured", "sent"),
    [
        pytest.param(32768, 8192, 8192, id="setting-below-the-model"),
        pytest.param(4096, 8192, 4096, id="capped-at-the-model"),
    ],
)
async def test_num_ctx_never_exceeds_the_models_trained_context(
    fake: FakeOllama, make: Make, trained_context: int, configured: int, sent: int
) -> None:
    fake.add_model(
        "tiny-coder:1b",
        architecture="qwen2",
        capabilities=["completion", "insert"],
        template="<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>",
        context_length=trained_context,
    )
    harness = make(model="tiny-coder:1b", num_ctx=configured)
    await harness.engine.complete(query(BODY))
    assert [body["options"]["num_ctx"] for body in bodies(fake)] == [sent]


@pytest.mark.parametrize(
    ("model", "fim"),
    [
        pytest.param("qwen2.5-coder:1.5b-base", True, id="base-model-fim-tokens-in-vocabulary"),
        pytest.param("llama3.2:3b", False, id="chat-model-prefix-only"),
    ],
)
async def test_a_model_whose_template_names_no_fim_tokens_is_judged_by_its_vocabulary(
    fake: FakeOllama, make: Make, model: str, fim: bool
) -> None:
    harness = make(model=model)
    await harness.engine.complete(query(BODY))
    await harness.engine.complete(query(BODY.replace("b):", "c):")))
    prompts = [body["prompt"] for body in bodies(fake)]
    assert len(prompts) == 2
    assert all(("<|fim_suffix|>" in prompt) is fim for prompt in prompts)
    shows = [r.body for r in fake.requests if r.path == "/api/show"]
    assert shows == [{"model": model}, {"model": model, "verbose": True}]


async def test_the_prompt_keeps_a_safety_margin_under_num_ctx(fake: FakeOllama, make: Make) -> None:
    harness = make(
        num_ctx=512, max_tokens=128, prompt_tokens=4096, prefix_share=0.95, suffix_share=0.0
    )
    await harness.engine.complete(query("x = 1\n" * 1000 + "<|CURSOR|>\n", invoked=True))
    [body] = bodies(fake)
    prefix = body["prompt"].split("<|fim_prefix|>")[1].split("<|fim_suffix|>")[0]
    budget = prompt_limit(512, 128)  # not all of the 512 - 128 left for the prompt
    # the first line snaps forward to an anchor: up to an eighth of the share given up
    assert 0.8 * budget * 0.95 <= EstimatingCounter().count(prefix) <= budget * 0.95


async def test_a_prompt_that_filled_the_context_window_is_logged_once_per_model(
    fake: FakeOllama, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    fake.prompt_eval_count = 2048 - 2  # the FAST settings' num_ctx
    harness = make()
    with caplog.at_level("INFO", logger="codehearth.prompts.budget"):
        await harness.engine.complete(query(BODY))
        await harness.engine.complete(query(BODY.replace("b):", "c):")))
    assert len(fake.generations()) == 2
    [said] = [r.getMessage() for r in caplog.records]
    assert "filled its context window (2046 of 2048 tokens)" in said


async def test_a_missing_model_is_looked_up_afresh_once_pulled(
    fake: FakeOllama, make: Make
) -> None:
    harness = make()
    await harness.engine.complete(query(BODY))
    fake.inject("not_found", times=1)
    assert await harness.engine.complete(query(BODY.replace("b):", "c):"))) == []
    shows_before = sum(1 for r in fake.requests if r.path == "/api/show")
    await harness.engine.complete(query(BODY.replace("b):", "d):")))
    # its template and its vocabulary (a verbose show), both forgotten with the model
    assert sum(1 for r in fake.requests if r.path == "/api/show") == shows_before + 2


async def test_a_multi_line_answer_is_kept_where_a_block_starts(
    fake: FakeOllama, make: Make
) -> None:
    fake.set_text("total = a + b\n    return total\n")
    suggestions = await make().engine.complete(query(BODY))
    assert suggestions == [Suggestion(text="total = a + b\n    return total", multiline=True)]


@pytest.mark.parametrize(
    ("max_tokens", "expected"),
    [
        # "total", " =", " a", " +", " b", "\n    ", "return", " total", "\n": 9 tokens
        pytest.param(7, "total = a + b", id="stopped-mid-line-by-the-limit"),
        pytest.param(9, "total = a + b\n    return total", id="stopped-at-the-limit-after-a-line"),
        pytest.param(10, "total = a + b\n    return total", id="under-the-limit"),
    ],
)
async def test_the_line_a_token_limit_cut_off_is_dropped(
    fake: FakeOllama, make: Make, max_tokens: int, expected: str
) -> None:
    fake.set_text("total = a + b\n    return total\n")
    suggestions = await make(max_tokens=max_tokens).engine.complete(query(BODY))
    assert texts(suggestions) == [expected]
    assert bodies(fake)[0]["options"]["num_predict"] == max_tokens


async def test_a_multi_line_answer_is_cut_where_the_block_ends(
    fake: FakeOllama, make: Make
) -> None:
    fake.set_text("return a + b\n\n\ndef sub(a, b):\n    return a - b\n\n\nprint(add(1, 2))\n")
    assert texts(await make().engine.complete(query(BODY))) == ["return a + b"]


async def test_a_single_line_completion_stops_the_stream_after_the_first_line(
    fake: FakeOllama, make: Make
) -> None:
    fake.set_text("1\nx = 2\ny = 3\nz = 4\nw = 5\n")
    fake.token_delay = 0.05
    suggestions = await make().engine.complete(query("x = <|CURSOR|>\n"))
    assert texts(suggestions) == ["1"]
    assert await fake.wait_for_async(lambda: disconnected(fake) == [True], 2)


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("x = pri<|CURSOR|>nt\n", id="mid-identifier"),
        pytest.param("foo(<|CURSOR|>x)\n", id="text-after-cursor"),
    ],
)
async def test_no_request_where_a_completion_makes_no_sense(
    fake: FakeOllama, make: Make, source: str
) -> None:
    harness = make()
    assert await harness.engine.complete(query(source, invoked=True)) == []
    assert fake.requests == []
    assert harness.engine.stats.skipped == 1


async def test_a_disabled_engine_never_asks(fake: FakeOllama, make: Make) -> None:
    assert await make(enabled=False).engine.complete(query(BODY, invoked=True)) == []
    assert fake.requests == []


async def test_an_outdated_document_starts_no_generation(fake: FakeOllama, make: Make) -> None:
    harness = make()
    assert await harness.engine.complete(query(BODY), still_current=lambda: False) == []
    assert fake.generations() == []


async def test_the_model_profile_is_looked_up_once(fake: FakeOllama, make: Make) -> None:
    harness = make()
    await harness.engine.complete(query(BODY))
    await harness.engine.complete(query("x = <|CURSOR|>\n"))
    assert len(fake.generations()) == 2
    # the default model's template names no FIM tokens: its vocabulary is asked once too
    assert [r.body for r in fake.requests if r.path == "/api/show"] == [
        {"model": "qwen2.5-coder:1.5b-base"},
        {"model": "qwen2.5-coder:1.5b-base", "verbose": True},
    ]


async def test_a_forced_family_needs_no_model_lookup(fake: FakeOllama, make: Make) -> None:
    await make(family="qwen2.5-coder").engine.complete(query(BODY))
    assert [r.path for r in fake.requests] == ["/api/generate"]


@pytest.mark.parametrize(
    ("endpoint_family", "setting", "opening"),
    [
        pytest.param(None, None, "<|fim_prefix|>def add", id="detected-from-the-tokenizer"),
        pytest.param("starcoder", None, "<fim_prefix>def add", id="the-endpoints-family"),
        pytest.param(None, "deepseek-coder", "<｜fim▁begin｜>def add", id="the-family-setting"),
        pytest.param("starcoder", "deepseek-coder", "<fim_prefix>def add", id="endpoint-wins"),
    ],
)
async def test_a_fallback_on_a_llama_cpp_server_gets_a_fim_prompt(
    fake: FakeOllama,
    backend: OllamaBackend,
    registry: LanguageRegistry,
    endpoint_family: str | None,
    setting: str | None,
    opening: str,
) -> None:
    fake.stop()  # the primary is down: the llama.cpp server answers
    with FakeLlamaServer() as llama:
        llama.set_text(TEXT)
        primary, other = Endpoint(fake.url), Endpoint(llama.url, kind="openai")
        served = OpenAIBackend(llama.url)
        pool = ModelPool(
            RoutePlan(
                (EndpointConfig("ollama", primary), EndpointConfig("llama", other)),
                {
                    "completion": (
                        Candidate(primary, "qwen2.5-coder:1.5b"),
                        Candidate(other, "coder", family=endpoint_family),
                    )
                },
            ),
            {primary: backend, other: served},
        )
        settings = CompletionSettings(**{**FAST, "family": setting})
        engine = CompletionEngine(pool.role("completion"), settings, registry, lambda _e: None)
        try:
            assert texts(await engine.complete(query(BODY, invoked=True))) == ["return a + b"]
        finally:
            await engine.aclose()
            await served.aclose()
        [sent] = llama.generations()
    assert sent.body is not None and sent.body["prompt"].startswith(opening)


async def test_a_llama_server_endpoint_infills_the_text_around_the_cursor(
    registry: LanguageRegistry,
) -> None:
    with FakeLlamaServer() as llama:
        llama.set_text("turn a + b\n")
        served = LlamaServerBackend(llama.url)
        engine = CompletionEngine(
            ModelPool.direct(served, completion="coder").role("completion"),
            CompletionSettings(**FAST),
            registry,
            lambda _e: None,
        )
        try:
            source = "def add(a, b):\n    re<|CURSOR|>\n\nprint(add(1, 2))\n"
            assert texts(await engine.complete(query(source, invoked=True))) == ["turn a + b"]
        finally:
            await engine.aclose()
            await served.aclose()
        [sent] = [r for r in llama.requests if r.path == INFILL_PATH]
    assert sent.body is not None
    assert (sent.body["input_prefix"], sent.body["prompt"]) == ("def add(a, b):\n", "    re")
    assert sent.body["input_suffix"] == "\n\nprint(add(1, 2))\n"


# -- answering from generations it already has ----------------------------------------------


async def test_the_same_query_again_is_answered_from_the_cache(
    fake: FakeOllama, make: Make
) -> None:
    harness = make()
    first = await harness.engine.complete(query(BODY))
    second = await harness.engine.complete(query(BODY))
    assert second == first
    assert len(fake.generations()) == 1
    assert harness.engine.stats.reused == 1


async def test_typing_along_a_finished_suggestion_reuses_it(fake: FakeOllama, make: Make) -> None:
    harness = make()
    await harness.engine.complete(query(BODY))
    suggestions = await harness.engine.complete(query("def add(a, b):\n    re<|CURSOR|>\n"))
    assert texts(suggestions) == ["turn a + b"]
    assert len(fake.generations()) == 1


async def test_typing_along_a_suggestion_still_streaming_reuses_it(
    fake: FakeOllama, make: Make
) -> None:
    fake.token_delay = 0.03
    harness = make()
    first = asyncio.create_task(harness.engine.complete(query(BODY, invoked=True)))
    await wait_for_stream(fake)
    harness.engine.document_changed(URI, "def add(a, b):\n    re\n")
    second = await harness.engine.complete(query("def add(a, b):\n    re<|CURSOR|>\n"))
    assert texts(second) == ["turn a + b"]
    assert texts(await first) == ["return a + b"]
    assert disconnected(fake) == [False]


async def test_typing_something_else_asks_the_model_again(fake: FakeOllama, make: Make) -> None:
    harness = make()
    await harness.engine.complete(query(BODY))
    await harness.engine.complete(query("def add(a, b):\n    x<|CURSOR|>\n"))
    assert len(fake.generations()) == 2
    assert harness.engine.stats.reused == 0


async def test_a_new_model_invalidates_cached_answers(
    fake: FakeOllama, make: Make, backend: OllamaBackend
) -> None:
    harness = make()
    await harness.engine.complete(query(BODY))
    strong = "qwen2.5-coder:7b"
    harness.engine.configure(
        CompletionSettings(**{**FAST, "model": strong}),
        in_memory(ModelPool.direct(backend, completion=strong)),
    )
    await harness.engine.complete(query(BODY))
    assert [body["model"] for body in bodies(fake)] == [
        "qwen2.5-coder:1.5b-base",
        "qwen2.5-coder:7b",
    ]


async def test_unchanged_settings_keep_cached_answers(fake: FakeOllama, make: Make) -> None:
    harness = make()
    await harness.engine.complete(query(BODY))
    harness.engine.configure(CompletionSettings(**FAST))
    await harness.engine.complete(query(BODY))
    assert len(fake.generations()) == 1


# -- cancelling and superseding ----------------------------------------------------------------


async def test_an_edit_that_contradicts_the_stream_cancels_it(fake: FakeOllama, make: Make) -> None:
    fake.token_delay = 0.2
    harness = make()
    pending = asyncio.create_task(harness.engine.complete(query(BODY, invoked=True)))
    await wait_for_stream(fake)
    harness.engine.document_changed(URI, "def sub(a, b):\n    \n")
    assert await asyncio.wait_for(pending, 2) == []
    assert await fake.wait_for_async(lambda: disconnected(fake) == [True], 2)
    assert harness.engine.stats.cancelled_streams == 1
    assert harness.reports == []


async def test_an_edit_that_types_along_the_stream_lets_it_finish(
    fake: FakeOllama, make: Make
) -> None:
    fake.token_delay = 0.02
    harness = make()
    pending = asyncio.create_task(harness.engine.complete(query(BODY, invoked=True)))
    await wait_for_stream(fake)
    harness.engine.document_changed(URI, "def add(a, b):\n    r\n")
    assert texts(await asyncio.wait_for(pending, 2)) == ["return a + b"]
    assert disconnected(fake) == [False]
    assert harness.engine.stats.cancelled_streams == 0


async def test_an_automatic_request_is_superseded_by_a_newer_one_while_it_waits(
    fake: FakeOllama, make: Make
) -> None:
    harness = make(debounce_min_ms=300, debounce_max_ms=300)
    fake.set_text(" + b\n")
    older = asyncio.create_task(harness.engine.complete(query(BODY)))
    await asyncio.sleep(0.05)
    newer = await harness.engine.complete(query("def add(a, b):\n    return a<|CURSOR|>\n"))
    assert await older == []
    assert texts(newer) == [" + b"]
    [body] = bodies(fake)
    assert "    return a<|fim_suffix|>" in body["prompt"]
    assert harness.engine.stats.debounced == 1


async def test_an_automatic_request_waits_before_asking(fake: FakeOllama, make: Make) -> None:
    harness = make(debounce_min_ms=300, debounce_max_ms=300)
    pending = asyncio.create_task(harness.engine.complete(query(BODY)))
    await asyncio.sleep(0.15)
    assert fake.generations() == []
    assert texts(await pending) == ["return a + b"]


async def test_requests_for_other_documents_do_not_supersede_each_other(
    fake: FakeOllama, make: Make
) -> None:
    harness = make(debounce_min_ms=100, debounce_max_ms=100)
    results = await asyncio.gather(
        harness.engine.complete(query(BODY, uri="file:///project/a.py")),
        harness.engine.complete(query(BODY, uri="file:///project/b.py")),
    )
    assert [texts(result) for result in results] == [["return a + b"], ["return a + b"]]
    assert len(fake.generations()) == 2


async def test_closing_the_document_drops_a_waiting_request(fake: FakeOllama, make: Make) -> None:
    harness = make(debounce_min_ms=300, debounce_max_ms=300)
    pending = asyncio.create_task(harness.engine.complete(query(BODY)))
    await asyncio.sleep(0.05)
    harness.engine.document_closed(URI)
    assert await asyncio.wait_for(pending, 1) == []
    assert fake.generations() == []


async def test_a_stream_nobody_waits_for_is_closed_after_a_grace_period(
    fake: FakeOllama, make: Make
) -> None:
    fake.token_delay = 0.2
    harness = make()
    pending = asyncio.create_task(harness.engine.complete(query(BODY, invoked=True)))
    await wait_for_stream(fake)
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert disconnected(fake) == [False]  # still open: the next keystroke may adopt it
    assert await fake.wait_for_async(lambda: disconnected(fake) == [True], 2)


async def test_a_stream_adopted_within_the_grace_period_keeps_running(
    fake: FakeOllama, make: Make
) -> None:
    fake.token_delay = 0.02
    harness = make()
    pending = asyncio.create_task(harness.engine.complete(query(BODY, invoked=True)))
    await wait_for_stream(fake)
    pending.cancel()
    suggestions = await harness.engine.complete(query("def add(a, b):\n    ret<|CURSOR|>\n"))
    assert texts(suggestions) == ["urn a + b"]
    assert disconnected(fake) == [False]
    with pytest.raises(asyncio.CancelledError):
        await pending


async def test_aclose_leaves_no_open_streams(fake: FakeOllama, make: Make) -> None:
    fake.token_delay = 0.5
    harness = make()
    pending = asyncio.create_task(harness.engine.complete(query(BODY, invoked=True)))
    await wait_for_stream(fake)
    await harness.engine.aclose()
    assert await asyncio.wait_for(pending, 1) == []
    assert await fake.wait_for_async(lambda: fake.open_streams == 0, 2)
    assert disconnected(fake) == [True]


# -- invoked completions -------------------------------------------------------------------


def by_seed(body: dict[str, Any]) -> str:
    seed = (body.get("options") or {}).get("seed")
    return {None: "return a + b\n", 1: "return a - b\n", 2: "return b + a\n"}[seed]


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        pytest.param(1, ["return a + b"], id="one"),
        pytest.param(2, ["return a + b", "return a - b"], id="two"),
        pytest.param(3, ["return a + b", "return a - b", "return b + a"], id="three"),
    ],
)
async def test_an_invoked_completion_offers_invoked_items_alternatives(
    fake: FakeOllama, make: Make, items: int, expected: list[str]
) -> None:
    fake.responder = by_seed
    suggestions = await make(invoked_items=items).engine.complete(query(BODY, invoked=True))
    assert texts(suggestions) == expected
    assert len(fake.generations()) == items


async def test_identical_alternatives_are_offered_once(fake: FakeOllama, make: Make) -> None:
    suggestions = await make(invoked_items=3).engine.complete(query(BODY, invoked=True))
    assert texts(suggestions) == ["return a + b"]


async def test_an_automatic_completion_offers_no_alternatives(fake: FakeOllama, make: Make) -> None:
    fake.responder = by_seed
    suggestions = await make(invoked_items=3).engine.complete(query(BODY))
    assert texts(suggestions) == ["return a + b"]
    assert len(fake.generations()) == 1


# -- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        pytest.param("server_error", ProblemKind.SERVER_ERROR, id="server-error"),
        pytest.param("drop_mid_stream", ProblemKind.STREAM_DROPPED, id="dropped"),
        pytest.param("error_line", ProblemKind.STREAM_ERROR, id="error-line"),
    ],
)
async def test_a_backend_failure_answers_nothing_and_is_reported_once(
    fake: FakeOllama, make: Make, fault: str, kind: ProblemKind
) -> None:
    fake.inject(fault, times=1)
    harness = make()
    assert await harness.engine.complete(query(BODY)) == []
    assert [error.kind for error in harness.reports] == [kind]
    assert harness.engine.stats.failures == 1
    # the failure is not cached: the next request asks again and succeeds
    assert texts(await harness.engine.complete(query(BODY))) == ["return a + b"]
    assert len(harness.reports) == 1


async def test_a_missing_model_is_reported_once_with_the_pull_command(
    fake: FakeOllama, make: Make
) -> None:
    harness = make(model="missing:1b")
    assert await harness.engine.complete(query(BODY, invoked=True)) == []
    [error] = harness.reports
    assert error.kind is ProblemKind.MODEL_MISSING
    assert "ollama pull missing:1b" in error.message
    assert fake.generations() == []


async def test_requests_typing_along_a_failing_stream_share_one_report(
    fake: FakeOllama, make: Make
) -> None:
    fake.set_text("return a + b * c - d / e\n")
    fake.token_delay = 0.2  # the stream drops after its second token
    fake.inject("drop_mid_stream", times=1)
    harness = make()
    first = asyncio.create_task(harness.engine.complete(query(BODY, invoked=True)))
    await wait_for_stream(fake)
    second = await harness.engine.complete(query("def add(a, b):\n    r<|CURSOR|>\n"))
    assert (await first, second) == ([], [])
    assert len(harness.reports) == 1
    assert len(fake.generations()) == 1


async def test_a_deadline_turns_a_hung_model_into_one_timeout_report(
    fake: FakeOllama, make: Make
) -> None:
    fake.inject("hang", times=1)
    harness = make(deadline_seconds=0.2)
    assert await harness.engine.complete(query(BODY, invoked=True)) == []
    assert [error.kind for error in harness.reports] == [ProblemKind.TIMEOUT]
    assert "deadlineSeconds" in harness.reports[0].message


@pytest.mark.parametrize("max_streams", [pytest.param(1, id="one"), pytest.param(2, id="two")])
async def test_streams_across_documents_are_capped_oldest_stopped_first(
    fake: FakeOllama, make: Make, max_streams: int
) -> None:
    fake.token_delay = 0.3  # every stream is still running when the next one starts
    harness = make(max_streams=max_streams)
    requests = []
    for index in range(3):
        uri = f"file:///project/doc{index}.py"
        requests.append(
            asyncio.create_task(harness.engine.complete(query(BODY, invoked=True, uri=uri)))
        )
        assert await fake.wait_for_async(lambda n=index: len(fake.generations()) == n + 1)
        assert await fake.wait_for_async(lambda: fake.open_streams <= max_streams)
    answers = await asyncio.gather(*requests)
    stopped = 3 - max_streams
    assert [bool(texts(answer)) for answer in answers] == [False] * stopped + [True] * max_streams
    assert harness.engine.stats.capped == stopped
    assert disconnected(fake)[:stopped] == [True] * stopped


# -- stats ------------------------------------------------------------------------------------


async def test_stats_count_what_happened(fake: FakeOllama, make: Make) -> None:
    harness = make()
    engine = harness.engine
    await engine.complete(query("x = pri<|CURSOR|>nt\n"))  # skipped
    await engine.complete(query(BODY))  # generation
    await engine.complete(query(BODY))  # reused
    await engine.complete(query("def add(a, b):\n    ret<|CURSOR|>\n"))  # reused
    fake.inject("server_error", times=1)
    await engine.complete(query("x = <|CURSOR|>\n"))  # generation, failure
    stats = engine.stats
    assert (stats.generations, stats.reused, stats.skipped, stats.failures) == (2, 2, 1, 1)
    assert len(stats.backend_ms) == 2


async def test_the_context_stays_while_the_user_types_on_nearby(
    fake: FakeOllama, make: Make
) -> None:
    """The workspace context is chosen once where the user types and kept for the next
    keystrokes and lines nearby (the prompt then starts the same way: a prompt cache reads
    only what changed); far away, or in another document, it is chosen afresh."""
    harness = make()
    asked: list[tuple[str, int]] = []

    def provider(q: CompletionQuery, split: BudgetSplit) -> tuple[ContextSnippet, ...]:
        asked.append((q.uri, q.line))
        return (ContextSnippet("util.py", f"def helper_{len(asked)}():\n    pass\n"),)

    harness.engine.context_provider = provider
    body = "def add(a, b):\n    ret" + CURSOR + "\n"
    far = "x = 1\n" * 40 + body
    for source, uri in [
        (body, URI),
        (body.replace("ret" + CURSOR, "retu" + CURSOR), URI),
        ("# note\n" + body, URI),  # a line further down
        (far, URI),  # 40 lines further down
        (body, "file:///other.py"),
    ]:
        fake.set_text(f"urn a + b  # {len(asked)}\n")
        await harness.engine.complete(query(source, invoked=True, uri=uri))
    assert asked == [(URI, 1), (URI, 41), ("file:///other.py", 1)]
    prompts = [body["prompt"] for body in bodies(fake)]
    # (the second keystroke was typed along the first suggestion: no new prompt)
    assert ["helper_1" in p for p in prompts[:2]] == [True, True]
    assert "helper_2" in prompts[-2] and "helper_3" in prompts[-1]


# -- time limits (llama.vim's t_max_prompt_ms / t_max_predict_ms) ---------------------------


def window_first_lines(fake: FakeOllama) -> list[str]:
    """The first ``value_N`` line of the file each prompt holds."""
    return [
        next(line for line in body["prompt"].split("\n") if line.startswith("value_"))
        for body in bodies(fake)
    ]


@pytest.mark.parametrize(
    "prefill_speed",
    [
        pytest.param(None, id="speed-unknown-window-moves-whole"),
        pytest.param(400.0, id="measured-speed-caps-a-moved-window"),
    ],
)
async def test_the_window_on_the_file_stays_while_typing_and_a_moved_one_is_capped(
    fake: FakeOllama,
    backend: OllamaBackend,
    make: Make,
    monkeypatch: pytest.MonkeyPatch,
    prefill_speed: float | None,
) -> None:
    """Typing a line at the end of a long file, the prompt keeps starting at the same line
    of the file until the window no longer fits; a model whose prompt-reading speed is
    known (400 tokens/s, 250 ms: 100 tokens) gets a moved window it reads in that time."""
    shown = backend.show

    async def show_with_speed(model: str) -> Any:
        return {**await shown(model), "prefill_tokens_per_second": prefill_speed}

    monkeypatch.setattr(backend, "show", show_with_speed)
    fake.set_text("0)\n")  # never what is typed next: every keystroke asks again
    engine = make(prompt_tokens=400, prompt_milliseconds=250, suffix_share=0.0).engine
    head = "".join(f"value_{n} = compute({n})\n" for n in range(200))
    typed = "".join(
        f"total_{n} = combine(value_{n}, value_{n + 1}, value_{n + 2})\n" for n in range(6)
    )
    steps = range(1, len(typed) + 1, 3)
    for n in steps:
        await engine.complete(query(head + typed[:n] + CURSOR + "\n", invoked=True))
    firsts = window_first_lines(fake)
    moves = [i for i in range(1, len(firsts)) if firsts[i] != firsts[i - 1]]
    assert len(firsts) == len(steps)
    assert 1 <= len(moves) <= 4, firsts  # ~330 characters typed into a ~800-character window
    windows = [
        body["prompt"][body["prompt"].index(first) : body["prompt"].index("<|fim_suffix|>")]
        for body, first in zip(bodies(fake), firsts, strict=True)
    ]
    longest = max(engine.counter.count(window) for window in windows)
    for i in moves:
        if prefill_speed is None:
            assert engine.counter.count(windows[i]) > longest * 3 / 4
        else:
            assert engine.counter.count(windows[i]) <= 100


@pytest.mark.parametrize(
    ("predict_milliseconds", "expected", "capped"),
    [
        pytest.param(150, "total = a + b", 1, id="cut-at-the-last-complete-line"),
        pytest.param(0, "total = a + b\n    y = total * 2\n    return y", 0, id="no-limit"),
    ],
)
async def test_a_slow_multi_line_suggestion_is_cut_at_predict_milliseconds(
    fake: FakeOllama, make: Make, predict_milliseconds: int, expected: str, capped: int
) -> None:
    fake.set_text("total = a + b\n    y = total * 2\n    return y\n")
    fake.token_delay = 0.04
    harness = make(predict_milliseconds=predict_milliseconds)
    suggestions = await harness.engine.complete(query(BODY))
    assert texts(suggestions) == [expected]
    assert harness.engine.stats.time_capped == capped
    assert harness.engine.stats.as_dict()["timeCappedStreams"] == capped
