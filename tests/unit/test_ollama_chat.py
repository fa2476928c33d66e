"""OllamaBackend.chat against the fake Ollama: streaming, tool calls, ``think``, failures,
cancel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from tests.fakes.fake_ollama import FakeOllama

from codehearth.models.errors import BackendError, ProblemKind
from codehearth.models.ollama_backend import ChatChunk, OllamaBackend

MODEL = "qwen2.5-coder:7b"
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama() as running:
        yield running


@pytest.fixture
async def backend(fake: FakeOllama) -> AsyncIterator[OllamaBackend]:
    made = OllamaBackend(fake.url, keep_alive="9m")
    yield made
    await made.aclose()


async def collect(backend: OllamaBackend, model: str = MODEL, **kwargs: Any) -> list[ChatChunk]:
    return [chunk async for chunk in backend.chat(model, HELLO, num_ctx=4096, **kwargs)]


async def test_chat_streams_the_answer_with_the_fixed_context(
    fake: FakeOllama, backend: OllamaBackend
) -> None:
    fake.set_text("Hi there, how can I help?")
    chunks = await collect(backend)
    assert "".join(chunk.content for chunk in chunks) == "Hi there, how can I help?"
    assert len(chunks) > 2 and chunks[-1].done
    body = fake.generations()[0].body
    assert body is not None
    assert body["options"]["num_ctx"] == 4096 and body["keep_alive"] == "9m"
    assert body["messages"] == HELLO


async def test_chat_returns_tool_calls(fake: FakeOllama, backend: OllamaBackend) -> None:
    call = {"function": {"name": "archival_memory_insert", "arguments": {"text": "likes tabs"}}}
    fake.responder = lambda _body: {"content": "", "tool_calls": [call]}
    tool = {
        "type": "function",
        "function": {"name": "archival_memory_insert", "parameters": {"type": "object"}},
    }
    chunks = await collect(backend, "llama3.2:3b", tools=[tool])
    calls = [c for chunk in chunks for c in chunk.tool_calls]
    assert calls == [{"name": "archival_memory_insert", "arguments": {"text": "likes tabs"}}]
    body = fake.generations()[0].body
    assert body is not None and body["tools"][0]["function"]["name"] == "archival_memory_insert"


@pytest.mark.parametrize(
    ("think", "sent"),
    [
        pytest.param(None, {}, id="default-not-sent"),
        pytest.param(False, {"think": False}, id="think-false"),
        pytest.param(True, {"think": True}, id="think-true"),
    ],
)
async def test_think_is_sent_only_when_given(
    fake: FakeOllama, backend: OllamaBackend, think: bool | None, sent: dict[str, Any]
) -> None:
    await collect(backend, think=think)
    body = fake.generations()[0].body
    assert body is not None
    assert {key: body[key] for key in body if key == "think"} == sent


@pytest.mark.parametrize(
    ("think", "thought"),
    [
        pytest.param(None, True, id="thinks-by-default"),
        pytest.param(False, False, id="told-not-to"),
    ],
)
async def test_a_thinking_models_reasoning_is_never_part_of_the_answer(
    fake: FakeOllama, backend: OllamaBackend, think: bool | None, thought: bool
) -> None:
    fake.add_model("qwen3:8b", architecture="qwen3", capabilities=["thinking"])
    fake.responder = lambda _body: {"content": "Use a set.", "thinking": "The user wants speed."}
    chunks = await collect(backend, "qwen3:8b", think=think)
    assert "".join(chunk.content for chunk in chunks) == "Use a set."
    thinking_pieces = [chunk for chunk in chunks if not chunk.content and not chunk.done]
    assert bool(thinking_pieces) is thought  # they came, and carried no answer text


async def test_tools_on_a_model_without_tool_support_is_a_clear_refusal(
    backend: OllamaBackend,
) -> None:
    tool = {"type": "function", "function": {"name": "t", "parameters": {"type": "object"}}}
    with pytest.raises(BackendError) as raised:
        await collect(backend, tools=[tool])
    assert raised.value.kind is ProblemKind.UNSUPPORTED
    assert "does not support tools" in raised.value.message


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        pytest.param("not_found", ProblemKind.MODEL_MISSING, id="404"),
        pytest.param("server_error", ProblemKind.SERVER_ERROR, id="500"),
        pytest.param("drop_mid_stream", ProblemKind.STREAM_DROPPED, id="dropped"),
        pytest.param("error_line", ProblemKind.STREAM_ERROR, id="error-line"),
    ],
)
async def test_chat_failures_are_classified(
    fake: FakeOllama, backend: OllamaBackend, fault: str, kind: ProblemKind
) -> None:
    fake.inject(fault, times=1)
    with pytest.raises(BackendError) as raised:
        await collect(backend)
    assert raised.value.kind is kind


async def test_cancelling_a_chat_closes_the_stream(
    fake: FakeOllama, backend: OllamaBackend
) -> None:
    fake.token_delay = 0.5

    async def consume() -> None:
        await collect(backend)

    task = asyncio.create_task(consume())
    assert await fake.wait_for_async(lambda: fake.open_streams == 1, 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await fake.wait_for_async(lambda: fake.generations()[0].client_disconnected, 2)
