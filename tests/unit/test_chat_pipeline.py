"""ChatSession against the fake Ollama (and the fake llama.cpp server) with the real
backends and a real MemoryStore."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fake_openai import FakeLlamaServer

from codehearth.chat.pipeline import (
    REMEMBERED_HEADING,
    SUMMARY_INSTRUCTIONS,
    SUMMARY_MARK,
    ChatSession,
)
from codehearth.chat.window import prompt_tokens
from codehearth.memory.store import MemoryStore
from codehearth.models.errors import BackendError, ProblemKind
from codehearth.models.ollama_backend import OllamaBackend
from codehearth.models.openai_backend import OpenAIBackend
from codehearth.prompts.budget import EstimatingCounter, prompt_limit

CODER = "qwen2.5-coder:7b"
TOOLS_MODEL = "llama3.2:3b"
COUNTER = EstimatingCounter()


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama() as running:
        yield running


@pytest.fixture
async def backend(fake: FakeOllama) -> AsyncIterator[OllamaBackend]:
    made = OllamaBackend(fake.url)
    yield made
    await made.aclose()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MemoryStore]:
    with MemoryStore(tmp_path / "memory") as opened:
        yield opened


def session(
    store: MemoryStore, backend: OllamaBackend, model: str = CODER, **options: Any
) -> ChatSession:
    settings: dict[str, Any] = {"num_ctx": 4096, "conversation_id": "c1", "counter": COUNTER}
    settings.update(options)
    return ChatSession(store, backend, model=model, **settings)


def bodies(fake: FakeOllama) -> list[dict[str, Any]]:
    return [request.body for request in fake.generations() if request.body is not None]


def stored(store: MemoryStore) -> list[tuple[str, str]]:
    return [(r.role, r.text) for r in store.recent(1000) if r.kind == "message"]


def has_tool_result(body: Mapping[str, Any]) -> bool:
    return any(
        m["role"] == "tool" or str(m.get("content", "")).startswith("[tool result]")
        for m in body["messages"]
    )


async def test_a_plain_answer_is_streamed_and_stored(
    fake: FakeOllama, backend: OllamaBackend, store: MemoryStore
) -> None:
    fake.set_text("Use a dict comprehension here.")
    pieces: list[str] = []
    answer = await session(store, backend, supports_tools=False).ask(
        "How do I invert a dict?", on_chunk=pieces.append
    )
    assert answer.text == "Use a dict comprehension here."
    assert "".join(pieces) == answer.text and len(pieces) > 1
    assert answer.tool_results == [] and answer.summarised == 0
    assert stored(store) == [("user", "How do I invert a dict?"), ("assistant", answer.text)]
    body = bodies(fake)[0]
    assert body["options"]["num_ctx"] == 4096 and not body.get("tools")
    assert answer.prompt_tokens == prompt_tokens(body["messages"], COUNTER)


async def test_core_memory_and_context_are_in_the_system_prompt(
    fake: FakeOllama, backend: OllamaBackend, store: MemoryStore
) -> None:
    store.core_append("user", "Prefers tabs over spaces.")
    await session(store, backend, supports_tools=False).ask("hi", context="def f(): pass")
    system = bodies(fake)[0]["messages"][0]
    assert system["role"] == "system"
    assert "Prefers tabs over spaces." in system["content"]
    assert "def f(): pass" in system["content"]
    assert '{"tool": "<name>"' in system["content"]


APPEND = {"block": "user", "content": "Works on the billing service."}


def native_call(body: Mapping[str, Any]) -> str | dict[str, Any]:
    if has_tool_result(body):
        return "Noted, billing it is."
    return {"tool_calls": [{"function": {"name": "core_memory_append", "arguments": APPEND}}]}


def json_call(body: Mapping[str, Any]) -> str:
    if has_tool_result(body):
        return "Noted, billing it is."
    return json.dumps({"tool": "core_memory_append", "arguments": APPEND})


@pytest.mark.parametrize(
    ("model", "supports_tools", "responder", "refused"),
    [
        pytest.param(TOOLS_MODEL, True, native_call, 0, id="native"),
        pytest.param(TOOLS_MODEL, None, native_call, 0, id="native-detected"),
        pytest.param(CODER, False, json_call, 0, id="json-protocol"),
        pytest.param(CODER, None, json_call, 1, id="unsupported-fallback"),
    ],
)
async def test_a_tool_call_edits_memory_then_the_model_answers(
    fake: FakeOllama,
    backend: OllamaBackend,
    store: MemoryStore,
    model: str,
    supports_tools: bool | None,
    responder: Any,
    refused: int,
) -> None:
    fake.responder = responder
    chat = session(store, backend, model, supports_tools=supports_tools)
    pieces: list[str] = []
    answer = await chat.ask("I work on billing.", on_chunk=pieces.append)
    assert answer.text == "Noted, billing it is." and "".join(pieces) == answer.text
    assert [(t.name, t.result.ok) for t in answer.tool_results] == [("core_memory_append", True)]
    assert store.core_get()["user"] == "Works on the billing service."
    requests = fake.generations()
    assert [r.status for r in requests] == [400] * refused + [200, 200]
    sent = bodies(fake)[refused:]
    assert bool(sent[0].get("tools")) is (model == TOOLS_MODEL)
    assert "Works on the billing service." in sent[1]["messages"][0]["content"]
    assert chat.supports_tools is (False if refused else supports_tools)
    roles = [role for role, _ in stored(store)]
    assert roles == ["user", "tool", "assistant"]


async def test_a_prompt_longer_than_the_context_keeps_native_tool_calling(
    store: MemoryStore,
) -> None:
    with FakeLlamaServer() as server:
        server.n_ctx = 64  # less than the system prompt alone
        backend = OpenAIBackend(server.url)
        chat = ChatSession(
            store, backend, model="coder", num_ctx=4096, conversation_id="c1", counter=COUNTER
        )
        try:
            with pytest.raises(BackendError) as raised:
                await chat.ask("I work on billing.")
        finally:
            await backend.aclose()
        requests = server.generations()
    assert raised.value.kind is ProblemKind.CONTEXT_EXCEEDED
    assert chat.supports_tools is None  # still to be found out, not switched off
    assert [r.status for r in requests] == [400]
    assert requests[0].body is not None and requests[0].body["tools"]


async def test_a_question_that_got_no_answer_is_kept_out_of_the_next_turns(
    fake: FakeOllama, backend: OllamaBackend, store: MemoryStore
) -> None:
    """A question the model failed on (too long for its context) stays in recall memory,
    but the next turns do not carry it: they would fail the same way."""
    chat = session(store, backend, supports_tools=False)
    fake.inject("server_error", times=1)
    with pytest.raises(BackendError):
        await chat.ask("a question far too long " * 10)
    await chat.ask("a short one")
    await chat.ask("and another")
    assert ("user", "a question far too long " * 10) in stored(store)
    failed, *later = bodies(fake)
    assert "far too long" in json.dumps(failed["messages"])
    assert len(later) == 2
    for body in later:
        assert "far too long" not in json.dumps(body["messages"])
    assert "a short one" in json.dumps(bodies(fake)[-1]["messages"])


def summarising(body: Mapping[str, Any]) -> str:
    if body["messages"][0]["content"] == SUMMARY_INSTRUCTIONS:
        return "SUMMARY: the user talked about topics 0 to many."
    return "ok"


async def test_a_long_history_is_summarised_once_and_never_overflows(
    fake: FakeOllama, backend: OllamaBackend, store: MemoryStore
) -> None:
    for i in range(80):
        role = "user" if i % 2 == 0 else "assistant"
        store.add_message(role, f"topic {i}: " + "words " * 40, "c1", at=1000.0 + i)
    fake.responder = summarising
    chat = session(store, backend, num_ctx=2048, reply_tokens=256, supports_tools=False)
    first = await chat.ask("what did we say?")
    second = await chat.ask("and then?")
    assert first.summarised > 0 and second.summarised == 0
    summaries = [text for role, text in stored(store) if role == "system"]
    assert len(summaries) == 1 and summaries[0].startswith(SUMMARY_MARK)
    limit = prompt_limit(2048, 256)
    for body in bodies(fake):
        assert prompt_tokens(body["messages"], COUNTER, body.get("tools")) <= limit
    last = bodies(fake)[-1]["messages"]
    assert "SUMMARY: the user talked" in last[0]["content"]
    assert "topic 79" in json.dumps(last) and "topic 0:" not in json.dumps(last)
    # A new session on the same store picks the summary up from recall.
    third = session(store, backend, num_ctx=2048, reply_tokens=256, supports_tools=False)
    assert (await third.ask("still there?")).summarised == 0
    assert "SUMMARY: the user talked" in bodies(fake)[-1]["messages"][0]["content"]


async def test_cancelling_mid_stream_stores_no_answer(
    fake: FakeOllama, backend: OllamaBackend, store: MemoryStore
) -> None:
    fake.set_text("word " * 200)
    fake.token_delay = 0.02
    first_piece = asyncio.Event()
    chat = session(store, backend, supports_tools=False)
    task = asyncio.create_task(chat.ask("long please", on_chunk=lambda _: first_piece.set()))
    await asyncio.wait_for(first_piece.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await fake.wait_for_async(lambda: fake.generations()[-1].finished_at is not None)
    assert fake.generations()[-1].client_disconnected
    assert stored(store) == [("user", "long please")]


async def test_memory_survives_a_restart(
    fake: FakeOllama, backend: OllamaBackend, tmp_path: Path
) -> None:
    folder = tmp_path / "memory"
    fake.responder = native_call
    with MemoryStore(folder) as first:
        await session(first, backend, TOOLS_MODEL).ask("I work on billing.")
    fake.set_text("You work on billing.")
    with MemoryStore(folder) as second:
        answer = await session(second, backend, TOOLS_MODEL).ask("What do I work on?")
    assert answer.text == "You work on billing."
    messages = bodies(fake)[-1]["messages"]
    assert "Works on the billing service." in messages[0]["content"]
    assert [m["content"] for m in messages[1:]] == [
        "I work on billing.",
        "Noted, billing it is.",
        "What do I work on?",
    ]


async def test_a_fact_from_an_earlier_conversation_reaches_a_model_without_tools(
    fake: FakeOllama, backend: OllamaBackend, tmp_path: Path
) -> None:
    """No tool is called: the fact is searched for before the model answers, and found
    after a restart, in another conversation, in the prompt of a model too small for tools."""
    folder = tmp_path / "memory"
    fake.set_text("Noted.")
    with MemoryStore(folder) as first:
        ask = session(first, backend, supports_tools=False, json_tools=False).ask
        await ask("Our deploy target is a Raspberry Pi 5 in the garage.")
        await ask("Unrelated: how do I reverse a list?")
    with MemoryStore(folder) as second:
        second.archival_insert("The staging database is called heron.")
        later = session(
            second, backend, supports_tools=False, json_tools=False, conversation_id="c2"
        )
        await later.ask("Which machine is our deploy target, and what is staging called?")
    system = bodies(fake)[-1]["messages"][0]["content"]
    found = system.split(REMEMBERED_HEADING, 1)[1]
    assert "- note: The staging database is called heron." in found
    assert "- the user said earlier: Our deploy target is a Raspberry Pi 5 in the garage." in found
    assert "reverse a list" not in found.split("\n")[1]  # the best hit comes first
    assert '{"tool": "<name>"' not in system and "Memory tools" not in system  # no tools


async def test_what_is_already_in_the_window_is_not_repeated_as_remembered(
    fake: FakeOllama, backend: OllamaBackend, store: MemoryStore
) -> None:
    fake.set_text("Noted.")
    ask = session(store, backend, supports_tools=False).ask
    await ask("The release branch is called trunk-7.")
    await ask("What is the release branch called?")
    system = bodies(fake)[-1]["messages"][0]["content"]
    assert REMEMBERED_HEADING not in system  # the earlier turn is in the history already


def test_the_users_own_words_come_before_earlier_answers(store: MemoryStore) -> None:
    """An earlier answer may be wrong (a small model's echo): the user's words lead, and
    at most two answers follow."""
    for answer in ("The deploy target is a Mac.", "Deploy target noted: a Mac.", "Mac it is."):
        store.add_message("assistant", answer, "c0")
    store.add_message("user", "The deploy target is a Raspberry Pi.", "c0")
    found = session(store, None)._remembered("Which deploy target?", []).splitlines()  # type: ignore[arg-type]
    assert found[0] == "- the user said earlier: The deploy target is a Raspberry Pi."
    assert len([line for line in found if "assistant said" in line]) == 2


async def test_an_empty_answer_is_an_error_and_nothing_is_remembered(
    fake: FakeOllama, backend: OllamaBackend, store: MemoryStore
) -> None:
    fake.set_text("   \n")
    with pytest.raises(BackendError) as raised:
        await session(store, backend, supports_tools=False).ask("What does add do?")
    assert raised.value.kind is ProblemKind.BAD_RESPONSE
    assert "empty answer" in raised.value.message and "chat.model" in raised.value.message
    assert stored(store) == [("user", "What does add do?")]
