"""Completions with the context given by the caller (``codehearth eval``'s oracle and
no-context conditions), and what a closed document's engine state becomes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import attrs
import pytest
from tests.fakes.fake_ollama import FakeOllama

from codehearth.completion.engine import CompletionEngine, CompletionQuery
from codehearth.completion.given_context import complete_with_context, pack_snippets
from codehearth.languages import LanguageRegistry
from codehearth.models.errors import BackendError
from codehearth.models.ollama_backend import OllamaBackend
from codehearth.models.pool import ModelPool
from codehearth.prompts.budget import BudgetSplit, EstimatingCounter
from codehearth.prompts.fim import ContextSnippet
from codehearth.settings import CompletionSettings

pytestmark = pytest.mark.usefixtures("no_ca_bundle")

URI = "file:///project/orders.py"
SOURCE = "from pricing import apply_discount\n\n\ndef checkout(total):\n    return \n"
SETTINGS = CompletionSettings(invoked_items=1, num_ctx=2048, multiline=False)


def at_return(uri: str = URI) -> CompletionQuery:
    offset = SOURCE.index("return ") + len("return ")
    return CompletionQuery(
        uri=uri,
        version=1,
        text=SOURCE,
        offset=offset,
        line=4,
        column=len("    return "),
        language_id="python",
        invoked=True,
    )


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        server.set_text("apply_discount(total, 10)\n")
        yield server


@pytest.fixture
async def engine(fake: FakeOllama) -> AsyncIterator[CompletionEngine]:
    backend = OllamaBackend(fake.url)
    pool = ModelPool.direct(backend, completion=SETTINGS.model)
    for candidate in pool.router.roles["completion"]:
        pool.mark_loaded(candidate)
    reports: list[BackendError] = []
    made = CompletionEngine(
        pool.role("completion"), SETTINGS, LanguageRegistry.load(), reports.append
    )
    yield made
    await made.aclose()
    await backend.aclose()
    assert reports == []


def prompts(fake: FakeOllama) -> list[str]:
    return [str((request.body or {}).get("prompt")) for request in fake.generations()]


async def test_the_given_snippets_are_the_prompts_context_and_each_call_stands_alone(
    fake: FakeOllama, engine: CompletionEngine
) -> None:
    def found_by_the_index(
        query: CompletionQuery, split: BudgetSplit
    ) -> tuple[ContextSnippet, ...]:
        return (ContextSnippet("util.py", "def found_in_the_index():\n    pass\n"),)

    engine.context_provider = found_by_the_index
    [suggestion] = await engine.complete(at_return())
    assert suggestion.text == "apply_discount(total, 10)"
    definition = ContextSnippet("pricing.py", "def apply_discount(price, percent):\n    ...\n")
    [given] = await complete_with_context(engine, at_return(), [definition], limit=1024)
    [without] = await complete_with_context(engine, at_return(), [], limit=1024)
    assert given.text == without.text == "apply_discount(total, 10)"
    first, oracle, none = prompts(fake)  # the same query asked three times: no cached answer
    assert "found_in_the_index" in first and "def apply_discount" not in first
    assert "def apply_discount(price, percent)" in oracle and "found_in_the_index" not in oracle
    assert "def apply_discount" not in none and "found_in_the_index" not in none
    assert none.endswith(oracle[oracle.index("from pricing import") :])  # same file part
    assert engine.stats.generations == 1  # the server engine's own state is untouched


async def test_a_limit_of_zero_leaves_the_given_context_out(
    fake: FakeOllama, engine: CompletionEngine
) -> None:
    definition = ContextSnippet("pricing.py", "def apply_discount(price, percent):\n    ...\n")
    await complete_with_context(engine, at_return(), [definition], limit=0)
    assert "apply_discount(price" not in prompts(fake)[0]


async def test_a_reopened_document_gets_its_context_afresh(
    fake: FakeOllama, engine: CompletionEngine
) -> None:
    """Typing on in one place keeps the context chosen there; a document closed and opened
    again is a new place (``codehearth eval`` opens each task's file afresh)."""
    asked: list[int] = []

    def provider(query: CompletionQuery, split: BudgetSplit) -> tuple[ContextSnippet, ...]:
        asked.append(query.line)
        return (ContextSnippet("util.py", f"def helper_{len(asked)}():\n    pass\n"),)

    engine.context_provider = provider
    await engine.complete(at_return())
    engine.document_changed(URI, SOURCE + "\n")
    await engine.complete(attrs.evolve(at_return(), text=SOURCE + "\n", version=2))
    assert asked == [4]  # kept while typing on nearby
    engine.document_closed(URI)
    await engine.complete(at_return())
    assert asked == [4, 4]
    assert "helper_2" in prompts(fake)[-1]


SNIPPET = ContextSnippet("a.py", "def one():\n    return 1\n")
SECOND = ContextSnippet("b.py", "def two():\n    return 2\n")


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        pytest.param(1000, (SNIPPET, SECOND), id="all-fit"),
        pytest.param(0, (), id="no-budget"),
        pytest.param(
            "first-and-one-line",
            (SNIPPET, ContextSnippet("b.py", "def two():")),
            id="the-first-that-does-not-fit-keeps-its-first-lines",
        ),
        pytest.param("one-line", (ContextSnippet("a.py", "def one():"),), id="cut-first"),
    ],
)
def test_snippets_are_packed_in_order_within_the_budget(
    budget: int | str, expected: tuple[ContextSnippet, ...]
) -> None:
    counter = EstimatingCounter()
    if budget == "first-and-one-line":
        budget = counter.count(SNIPPET.text) + counter.count("def two():")
    elif budget == "one-line":
        budget = counter.count("def one():")
    assert pack_snippets([SNIPPET, SECOND], counter, int(budget)) == expected
