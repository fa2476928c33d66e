"""The OpenAI-compatible backend against the fake OpenAI server (httpx on a real socket):
which URL is dialled, streamed generations and chat (tool calls put together from their
fragments), discovery, every fault mapped to its kind, streams closed when the consumer
stops, and the API key sent as a bearer token and never shown. Against fakes of llama.cpp's
server and vLLM: the context actually served, and errors as those servers send them.

Backends are created inside the running loop (an async fixture shares the test's loop)
and closed after each test.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from tests.fakes.fake_openai import (
    CHAT_PATH,
    COMPLETIONS_PATH,
    MODELS_PATH,
    PROPS_PATH,
    QWEN_SPECIAL_TOKENS,
    TOKENIZE_PATH,
    FakeLlamaCppPython,
    FakeLlamaServer,
    FakeOpenAI,
    FakeVLLM,
)

from codehearth.models.errors import BackendError, ProblemKind
from codehearth.models.ollama_backend import ChatChunk, GenerateChunk, GenerateRequest
from codehearth.models.openai_backend import (
    OpenAIBackend,
    api_base,
    as_stream_payload,
    classify_openai,
    openai_messages,
)
from codehearth.prompts.family import context_length, detect_family

CODER = "qwen2.5-coder-1.5b"
CHATTER = "llama-3.2-3b-instruct"
STALL_SECONDS = 0.3
API_KEY = "sk-test-4f9c2a7e1b3d5f7a9c1e3b5d7f9a2c4e"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]

pytestmark = pytest.mark.usefixtures("no_ca_bundle")


def request(**changes: object) -> GenerateRequest:
    fields: dict[str, object] = {
        "model": CODER,
        "prompt": "<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n<|fim_middle|>",
        "num_ctx": 2048,
        "max_tokens": 64,
        "temperature": 0.2,
    }
    fields.update(changes)
    return GenerateRequest(**fields)  # type: ignore[arg-type]


async def collect(backend: OpenAIBackend, generate: GenerateRequest) -> list[GenerateChunk]:
    return [chunk async for chunk in backend.generate(generate)]


async def chat(backend: OpenAIBackend, **options: Any) -> list[ChatChunk]:
    messages = options.pop("messages", QUESTION)
    model = options.pop("model", CHATTER)
    stream = backend.chat(model, messages, num_ctx=4096, **options)
    return [chunk async for chunk in stream]


def last_body(fake: FakeOpenAI) -> dict[str, Any]:
    body = fake.generations()[-1].body
    assert body is not None
    return body


def openai_tool_turn() -> list[dict[str, Any]]:
    """A tool call and its result, already in OpenAI's shape (a fresh copy each call)."""
    call = {"id": "call_x", "type": "function", "function": {"name": "now", "arguments": "{}"}}
    return [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "content": "noon", "tool_call_id": "call_x"},
    ]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def backend(fake: FakeOpenAI) -> AsyncIterator[OpenAIBackend]:
    made = OpenAIBackend(fake.api_url, request_timeout=STALL_SECONDS)
    yield made
    await made.aclose()


@pytest.fixture
async def keyed(fake: FakeOpenAI) -> AsyncIterator[OpenAIBackend]:
    """A backend with the API key the fake requires."""
    fake.api_key = API_KEY
    made = OpenAIBackend(fake.api_url, api_key=API_KEY, request_timeout=STALL_SECONDS)
    yield made
    await made.aclose()


# -- which URL -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        pytest.param("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1", id="no-path"),
        pytest.param("http://127.0.0.1:8080/", "http://127.0.0.1:8080/v1", id="root-slash"),
        pytest.param("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1", id="v1"),
        pytest.param("http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080/v1", id="v1-slash"),
        pytest.param("https://api.openai.com/v1", "https://api.openai.com/v1", id="openai"),
        pytest.param(
            "https://api.groq.com/openai/v1", "https://api.groq.com/openai/v1", id="path-prefix"
        ),
        pytest.param("localhost:1234", "http://localhost:1234/v1", id="bare-host-port"),
        pytest.param("  http://gpu-box:8000  ", "http://gpu-box:8000/v1", id="whitespace"),
    ],
)
def test_api_base(configured: str, expected: str) -> None:
    assert api_base(configured) == expected


@pytest.mark.parametrize("with_v1", [pytest.param(True, id="v1"), pytest.param(False, id="bare")])
async def test_the_url_works_with_or_without_v1(fake: FakeOpenAI, with_v1: bool) -> None:
    backend = OpenAIBackend(fake.api_url if with_v1 else fake.url)
    try:
        assert CODER in await backend.list_models()
        assert backend.host == fake.api_url
    finally:
        await backend.aclose()


async def test_credentials_in_the_url_are_not_part_of_the_host_name() -> None:
    backend = OpenAIBackend("http://user:hunter2@127.0.0.1:9/v1")
    try:
        assert backend.host == "http://127.0.0.1:9/v1"
    finally:
        await backend.aclose()


# -- generate ---------------------------------------------------------------------------------


async def test_generate_streams_the_text_in_pieces_and_ends_with_the_usage(
    fake: FakeOpenAI, backend: OpenAIBackend
) -> None:
    fake.set_text("return a + b\n")
    chunks = await collect(backend, request())
    pieces = [chunk for chunk in chunks if not chunk.done]
    assert len(pieces) > 1
    assert "".join(chunk.text for chunk in chunks) == "return a + b\n"
    assert [chunk.done for chunk in chunks] == [False] * len(pieces) + [True]
    final = chunks[-1]
    assert final.prompt_eval_count == len(request().prompt) // 4
    assert final.eval_count == len(pieces)


async def test_without_usage_from_the_server_the_counts_are_unknown(
    fake: FakeOpenAI, backend: OpenAIBackend
) -> None:
    fake.reports_usage = False
    final = (await collect(backend, request()))[-1]
    assert final.done
    assert (final.prompt_eval_count, final.eval_count) == (None, None)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, {"max_tokens": 64, "temperature": 0.2}, id="plain"),
        pytest.param(
            {"stop": ("<|endoftext|>", "\n\n"), "seed": 0, "max_tokens": 32},
            {"max_tokens": 32, "temperature": 0.2, "stop": ["<|endoftext|>", "\n\n"], "seed": 0},
            id="stop-and-seed",
        ),
    ],
)
async def test_generate_sends_a_streamed_completion_request(
    fake: FakeOpenAI, backend: OpenAIBackend, changes: dict[str, object], expected: dict[str, Any]
) -> None:
    generate = request(**changes)
    await collect(backend, generate)
    [recorded] = fake.generations()
    assert (recorded.method, recorded.path) == ("POST", COMPLETIONS_PATH)
    assert recorded.body == {
        "model": CODER,
        "prompt": generate.prompt,
        "stream": True,
        "stream_options": {"include_usage": True},
        **expected,
    }


async def test_generate_honours_max_tokens_and_stop(
    fake: FakeOpenAI, backend: OpenAIBackend
) -> None:
    fake.set_text("one two three four five")
    assert "".join(c.text for c in await collect(backend, request(max_tokens=2))) == "one two"
    stopped = await collect(backend, request(stop=(" four",)))
    assert "".join(c.text for c in stopped) == "one two three"


async def test_a_first_token_later_than_the_request_timeout_still_arrives(
    fake: FakeOpenAI, backend: OpenAIBackend
) -> None:
    """A server reading a long prompt (or loading) sends nothing before its first token:
    a stream has no read timeout of its own (the pool bounds it per phase)."""
    fake.set_text("a b")
    fake.first_token_delay = STALL_SECONDS * 3
    chunks = await collect(backend, request())
    assert "".join(chunk.text for chunk in chunks) == "a b"


async def test_a_slow_but_steady_stream_is_not_a_stall(
    fake: FakeOpenAI, backend: OpenAIBackend
) -> None:
    fake.set_text("a b c d e f")
    fake.token_delay = STALL_SECONDS / 4  # the whole answer takes longer than the stall limit
    chunks = await collect(backend, request())
    assert "".join(chunk.text for chunk in chunks) == "a b c d e f"


# -- chat -------------------------------------------------------------------------------------


async def test_chat_streams_the_content_and_ends_with_the_prompt_size(
    fake: FakeOpenAI, backend: OpenAIBackend
) -> None:
    fake.set_text("It is sunny in Paris.")
    chunks = await chat(backend, max_tokens=100, temperature=0.5)
    assert len(chunks) > 2
    assert "".join(chunk.content for chunk in chunks) == "It is sunny in Paris."
    final = chunks[-1]
    assert final.done and final.tool_calls == ()
    assert final.prompt_eval_count == len(QUESTION[0]["content"]) // 4
    assert not any(chunk.done for chunk in chunks[:-1])
    recorded = fake.generations()[-1]
    assert recorded.path == CHAT_PATH
    assert recorded.body == {
        "model": CHATTER,
        "messages": QUESTION,
        "max_tokens": 100,
        "temperature": 0.5,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def call(name: str, arguments: object) -> dict[str, Any]:
    return {"function": {"name": name, "arguments": arguments}}


@pytest.mark.parametrize(
    ("reply", "calls"),
    [
        pytest.param(
            {"tool_calls": [call("get_weather", {"city": "Paris"})]},
            ({"name": "get_weather", "arguments": {"city": "Paris"}},),
            id="one-call",
        ),
        pytest.param(
            {
                "tool_calls": [
                    call("get_weather", {"city": "Paris", "days": [1, 2, 3]}),
                    call("get_weather", {"city": 'Lyon, "La Part-Dieu" ünïcode'}),
                ]
            },
            (
                {"name": "get_weather", "arguments": {"city": "Paris", "days": [1, 2, 3]}},
                {"name": "get_weather", "arguments": {"city": 'Lyon, "La Part-Dieu" ünïcode'}},
            ),
            id="two-calls-long-arguments",
        ),
        pytest.param(
            {"tool_calls": [call("get_weather", {})]},
            ({"name": "get_weather", "arguments": {}},),
            id="no-arguments",
        ),
        pytest.param(
            {"content": "Let me check.", "tool_calls": [call("get_weather", {"city": "Nice"})]},
            ({"name": "get_weather", "arguments": {"city": "Nice"}},),
            id="content-and-call",
        ),
    ],
)
async def test_chat_puts_streamed_tool_calls_together(
    fake: FakeOpenAI, backend: OpenAIBackend, reply: dict[str, Any], calls: tuple[Any, ...]
) -> None:
    fake.responder = lambda _body: reply
    chunks = await chat(backend, tools=[WEATHER_TOOL])
    assert last_body(fake)["tools"] == [WEATHER_TOOL]
    assert "".join(chunk.content for chunk in chunks) == reply.get("content", "")
    assert all(chunk.tool_calls == () for chunk in chunks[:-1])
    assert chunks[-1].done
    assert chunks[-1].tool_calls == calls


async def test_tool_call_arguments_that_are_not_an_object_are_a_bad_response(
    fake: FakeOpenAI, backend: OpenAIBackend
) -> None:
    fake.responder = lambda _body: {"tool_calls": [call("get_weather", "Paris")]}
    with pytest.raises(BackendError) as raised:
        await chat(backend, tools=[WEATHER_TOOL])
    assert raised.value.kind is ProblemKind.BAD_RESPONSE


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        pytest.param(QUESTION, QUESTION, id="plain"),
        pytest.param(
            [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [call("get_weather", {"city": "Paris"}), call("now", {})],
                },
                {"role": "tool", "content": "sunny"},
                {"role": "tool", "content": "noon"},
            ],
            [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "call_1_0",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        },
                        {
                            "id": "call_1_1",
                            "type": "function",
                            "function": {"name": "now", "arguments": "{}"},
                        },
                    ],
                },
                {"role": "tool", "content": "sunny", "tool_call_id": "call_1_0"},
                {"role": "tool", "content": "noon", "tool_call_id": "call_1_1"},
            ],
            id="ollama-shaped-tool-turn",
        ),
        pytest.param(openai_tool_turn(), openai_tool_turn(), id="already-openai-shaped"),
    ],
)
def test_openai_messages(messages: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert openai_messages(messages) == expected


async def test_chat_sends_the_tool_history_in_openai_shape(
    fake: FakeOpenAI, backend: OpenAIBackend
) -> None:
    history = [
        *QUESTION,
        {"role": "assistant", "content": "", "tool_calls": [call("get_weather", {"city": "P"})]},
        {"role": "tool", "content": "sunny"},
    ]
    await chat(backend, messages=history)
    sent = last_body(fake)["messages"]
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == '{"city": "P"}'
    assert sent[2]["tool_call_id"] == sent[1]["tool_calls"][0]["id"]


# -- discovery and warm-up ------------------------------------------------------------------


async def test_list_models_names_every_served_model(backend: OpenAIBackend) -> None:
    assert await backend.list_models() == [CODER, CHATTER, "gpt-4o-mini"]


@pytest.mark.parametrize(
    ("model", "length"),
    [
        pytest.param(CODER, 8192, id="llama.cpp-meta"),
        pytest.param(CHATTER, 8192, id="vllm-max-model-len"),
        pytest.param("gpt-4o-mini", None, id="not-reported"),
        pytest.param("not-listed", None, id="not-listed"),
    ],
)
async def test_show_reports_the_context_length_only_when_the_server_does(
    backend: OpenAIBackend, model: str, length: int | None
) -> None:
    shown = await backend.show(model)
    assert context_length(shown) == length
    if length is None:
        assert shown == {"model_info": {}}
    detection = detect_family(shown)
    assert (detection.family, detection.supports_fim) == ("plain", False)


async def test_a_context_length_field_of_the_wrong_type_is_ignored(
    fake: FakeOpenAI, backend: OpenAIBackend
) -> None:
    fake.models["odd"] = {"max_model_len": "8192", "meta": {"n_ctx_train": True}}
    assert await backend.show("odd") == {"model_info": {}}


async def test_show_is_cached_until_the_model_is_forgotten(
    fake: FakeOpenAI, backend: OpenAIBackend
) -> None:
    def model_requests() -> int:
        return sum(1 for r in fake.requests if r.path == MODELS_PATH)

    first = await backend.show(CODER)
    assert await backend.show(CODER) == first
    assert model_requests() == 1
    backend.forget_model(CODER)
    fake.models[CODER] = {"meta": {"n_ctx_train": 4096}}
    assert context_length(await backend.show(CODER)) == 4096
    assert model_requests() == 2


async def test_warm_up_asks_for_one_token(fake: FakeOpenAI, backend: OpenAIBackend) -> None:
    await backend.warm_up(CODER, num_ctx=8192)
    assert await fake.wait_for_async(lambda: fake.generations()[0].finished_at is not None, 2)
    [recorded] = fake.generations()
    assert recorded.path == COMPLETIONS_PATH
    assert recorded.body == {"model": CODER, "prompt": "\n", "max_tokens": 1, "stream": False}
    assert recorded.completed


# -- faults -----------------------------------------------------------------------------------


def generate_call(backend: OpenAIBackend) -> Any:
    return collect(backend, request())


def chat_call(backend: OpenAIBackend) -> Any:
    return chat(backend, tools=[WEATHER_TOOL])


@pytest.mark.parametrize(
    "run", [pytest.param(generate_call, id="generate"), pytest.param(chat_call, id="chat")]
)
@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        pytest.param("bad_request", ProblemKind.UNSUPPORTED, id="400"),
        pytest.param("unauthorized", ProblemKind.SERVER_ERROR, id="401"),
        pytest.param("not_found", ProblemKind.MODEL_MISSING, id="404"),
        pytest.param("rate_limited", ProblemKind.OVERLOADED, id="429"),
        pytest.param("server_error", ProblemKind.SERVER_ERROR, id="500"),
        pytest.param("overloaded", ProblemKind.OVERLOADED, id="503"),
        pytest.param("drop_mid_stream", ProblemKind.STREAM_DROPPED, id="dropped"),
        pytest.param("no_done", ProblemKind.STREAM_DROPPED, id="no-done"),
        pytest.param("not_streamed", ProblemKind.BAD_RESPONSE, id="not-streamed"),
        pytest.param("error_event", ProblemKind.STREAM_ERROR, id="error-event"),
        pytest.param("bad_json", ProblemKind.BAD_RESPONSE, id="bad-json"),
    ],
)
async def test_each_generation_fault_raises_a_classified_error(
    fake: FakeOpenAI,
    backend: OpenAIBackend,
    run: Callable[[OpenAIBackend], Any],
    fault: str,
    kind: ProblemKind,
) -> None:
    fake.inject(fault, times=1)
    with pytest.raises(BackendError) as raised:
        await run(backend)
    assert raised.value.kind is kind
    assert backend.host in raised.value.message
    assert "ollama" not in raised.value.message.lower()
    assert await run(backend)  # the next call works again


@pytest.mark.parametrize(
    ("fault", "path", "kind"),
    [
        pytest.param("not_found", MODELS_PATH, ProblemKind.BAD_RESPONSE, id="models-404"),
        pytest.param("unauthorized", MODELS_PATH, ProblemKind.SERVER_ERROR, id="models-401"),
        pytest.param("server_error", MODELS_PATH, ProblemKind.SERVER_ERROR, id="models-500"),
        pytest.param("bad_json", MODELS_PATH, ProblemKind.BAD_RESPONSE, id="models-bad-json"),
        pytest.param("drop_mid_stream", MODELS_PATH, ProblemKind.STREAM_DROPPED, id="models-cut"),
        pytest.param("hang", MODELS_PATH, ProblemKind.TIMEOUT, id="models-hang"),
        pytest.param("not_found", COMPLETIONS_PATH, ProblemKind.MODEL_MISSING, id="warm-up-404"),
        pytest.param("rate_limited", COMPLETIONS_PATH, ProblemKind.OVERLOADED, id="warm-up-429"),
    ],
)
async def test_each_discovery_fault_raises_a_classified_error(
    fake: FakeOpenAI, backend: OpenAIBackend, fault: str, path: str, kind: ProblemKind
) -> None:
    calls = {
        MODELS_PATH: backend.list_models,
        COMPLETIONS_PATH: lambda: backend.warm_up(CODER, num_ctx=4096),
    }
    fake.inject(fault, times=1, path=path)
    with pytest.raises(BackendError) as raised:
        await calls[path]()
    assert raised.value.kind is kind


async def test_models_that_are_not_a_list_are_a_bad_response(
    fake: FakeOpenAI, backend: OpenAIBackend
) -> None:
    fake.models = {}
    assert await backend.list_models() == []
    fake.models = {"x": {"id": 7}}  # an id that is not a string
    with pytest.raises(BackendError) as raised:
        await backend.list_models()
    assert raised.value.kind is ProblemKind.BAD_RESPONSE


async def test_a_missing_model_names_the_endpoint_not_ollama(
    fake: FakeOpenAI, backend: OpenAIBackend
) -> None:
    with pytest.raises(BackendError) as raised:
        await collect(backend, request(model="missing-1b"))
    assert raised.value.kind is ProblemKind.MODEL_MISSING
    assert "missing-1b" in raised.value.message
    assert fake.api_url in raised.value.message
    assert "pull" not in raised.value.message


async def test_text_before_a_dropped_stream_is_delivered_first(
    fake: FakeOpenAI, backend: OpenAIBackend
) -> None:
    fake.set_text("return a + b * c - d\n")
    fake.inject("drop_mid_stream", times=1)
    received: list[str] = []
    with pytest.raises(BackendError) as raised:
        async for chunk in backend.generate(request()):
            received.append(chunk.text)
    assert raised.value.kind is ProblemKind.STREAM_DROPPED
    assert received
    assert "return a + b * c - d\n".startswith("".join(received))


async def test_nothing_listening_is_unreachable() -> None:
    with FakeOpenAI() as server:
        url = server.url
    backend = OpenAIBackend(url)
    try:
        with pytest.raises(BackendError) as raised:
            await collect(backend, request())
        assert raised.value.kind is ProblemKind.UNREACHABLE
        assert f"{url}/v1" in raised.value.message
        assert "ollama" not in raised.value.message.lower()
    finally:
        await backend.aclose()


# -- the stream is always closed ----------------------------------------------------------------


async def test_breaking_out_early_closes_the_connection(
    fake: FakeOpenAI, backend: OpenAIBackend
) -> None:
    fake.set_text("one two three four five six seven eight")
    fake.token_delay = 0.2
    async for chunk in backend.generate(request()):
        assert chunk.text == "one"
        break
    assert await fake.wait_for_async(
        lambda: [r.client_disconnected for r in fake.generations()] == [True], 2
    )
    assert await fake.wait_for_async(lambda: fake.open_streams == 0, 2)


async def test_closing_a_chat_stream_early_closes_the_connection(
    fake: FakeOpenAI, backend: OpenAIBackend
) -> None:
    fake.set_text("one two three four five six seven eight")
    fake.token_delay = 0.2
    stream = backend.chat(CHATTER, QUESTION, num_ctx=4096)
    first = await anext(stream)
    await stream.aclose()  # type: ignore[attr-defined]
    assert first.content == "one"
    assert await fake.wait_for_async(
        lambda: [r.client_disconnected for r in fake.generations()] == [True], 2
    )


async def test_cancelling_the_consumer_closes_the_connection(
    fake: FakeOpenAI, backend: OpenAIBackend
) -> None:
    fake.set_text("one two three four five six seven eight")
    fake.token_delay = 0.2
    await stop_by_cancelling(open_generate(backend))
    assert await fake.wait_for_async(
        lambda: [r.client_disconnected for r in fake.generations()] == [True], 2
    )
    assert await fake.wait_for_async(lambda: fake.open_streams == 0, 2)


def open_generate(backend: OpenAIBackend) -> AsyncGenerator[Any, None]:
    return backend.generate(request())


def open_chat(backend: OpenAIBackend) -> AsyncGenerator[Any, None]:
    return backend.chat(CHATTER, QUESTION, num_ctx=4096)


async def stop_by_closing(stream: AsyncGenerator[Any, None]) -> None:
    await anext(stream)
    await stream.aclose()


async def stop_by_cancelling(stream: AsyncGenerator[Any, None]) -> None:
    first = asyncio.Event()

    async def consume() -> None:
        async for _chunk in stream:
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize(
    "stop",
    [pytest.param(stop_by_closing, id="aclose"), pytest.param(stop_by_cancelling, id="cancel")],
)
@pytest.mark.parametrize(
    "open_stream", [pytest.param(open_generate, id="generate"), pytest.param(open_chat, id="chat")]
)
async def test_the_response_is_closed_by_the_time_the_stream_is_stopped(
    fake: FakeOpenAI,
    backend: OpenAIBackend,
    monkeypatch: pytest.MonkeyPatch,
    open_stream: Callable[[OpenAIBackend], AsyncGenerator[Any, None]],
    stop: Callable[[AsyncGenerator[Any, None]], Awaitable[None]],
) -> None:
    """Not left to garbage collection: closed before ``aclose`` or the cancelled task
    returns."""
    responses: list[httpx.Response] = []
    send = httpx.AsyncClient.send

    async def recording_send(client: httpx.AsyncClient, *args: Any, **kwargs: Any) -> Any:
        response = await send(client, *args, **kwargs)
        responses.append(response)
        return response

    monkeypatch.setattr(httpx.AsyncClient, "send", recording_send)
    fake.set_text("one two three four five six seven eight")
    fake.token_delay = 0.2
    await stop(open_stream(backend))
    assert [response.is_closed for response in responses] == [True]


# -- the API key ----------------------------------------------------------------------------------


async def test_the_api_key_is_sent_as_a_bearer_token_on_every_request(
    fake: FakeOpenAI, keyed: OpenAIBackend
) -> None:
    await keyed.list_models()
    await keyed.warm_up(CODER, num_ctx=2048)
    await collect(keyed, request())
    await chat(keyed)
    assert await fake.wait_for_async(lambda: len(fake.requests) == 4, 2)
    assert [r.headers.get("authorization") for r in fake.requests] == [f"Bearer {API_KEY}"] * 4


async def test_without_a_key_no_authorization_header_is_sent(
    fake: FakeOpenAI, backend: OpenAIBackend
) -> None:
    await backend.list_models()
    assert "authorization" not in fake.requests[0].headers


@pytest.mark.parametrize(
    "run",
    [
        pytest.param(lambda backend: backend.list_models(), id="models"),
        pytest.param(generate_call, id="generate"),
        pytest.param(chat_call, id="chat"),
        pytest.param(lambda backend: backend.warm_up(CODER, num_ctx=1), id="warm-up"),
    ],
)
async def test_a_rejected_key_never_appears_in_the_error_or_the_log(
    fake: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
    run: Callable[[OpenAIBackend], Any],
) -> None:
    fake.api_key = "the-key-the-server-wants"
    backend = OpenAIBackend(fake.api_url, api_key=API_KEY)
    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(BackendError) as raised:
            await run(backend)
    finally:
        await backend.aclose()
    error = raised.value
    assert error.kind is ProblemKind.SERVER_ERROR
    assert "API key rejected" in error.message
    assert fake.requests[-1].status == 401
    for text in (str(error), repr(error), error.detail, caplog.text):
        assert API_KEY not in text


async def test_a_key_the_server_echoes_in_another_error_is_scrubbed(keyed: OpenAIBackend) -> None:
    # The fake's 404 quotes the model name it was asked for, here the key itself.
    with pytest.raises(BackendError) as raised:
        await collect(keyed, request(model=API_KEY))
    assert raised.value.kind is ProblemKind.MODEL_MISSING
    assert API_KEY not in raised.value.message + raised.value.detail
    assert "[REDACTED]" in raised.value.message


async def test_a_server_that_wants_a_key_when_none_is_set_says_so(
    fake: FakeOpenAI, backend: OpenAIBackend
) -> None:
    fake.api_key = API_KEY
    with pytest.raises(BackendError, match=r"wants an API key.*apiKeyEnv") as raised:
        await backend.list_models()
    assert raised.value.kind is ProblemKind.SERVER_ERROR


# -- llama.cpp's server and vLLM as they are -----------------------------------------------------


@pytest.fixture
def llama() -> Iterator[FakeLlamaServer]:
    with FakeLlamaServer() as server:
        yield server


@pytest.fixture
def vllm() -> Iterator[FakeVLLM]:
    with FakeVLLM() as server:
        yield server


@pytest.fixture
async def on_llama(llama: FakeLlamaServer) -> AsyncIterator[OpenAIBackend]:
    made = OpenAIBackend(llama.url, request_timeout=STALL_SECONDS)
    yield made
    await made.aclose()


VLLM_MODEL = "Qwen/Qwen2.5-Coder-7B-Instruct"


def old_llama(llama: FakeLlamaServer) -> None:
    llama.old_build = True


def old_llama_without_props(llama: FakeLlamaServer) -> None:
    llama.old_build = True
    llama.inject("not_found", path=PROPS_PATH)


@pytest.mark.parametrize(
    ("setup", "length"),
    [
        pytest.param(lambda _llama: None, 4096, id="meta-n_ctx"),
        pytest.param(old_llama, 4096, id="old-build-props"),
        pytest.param(old_llama_without_props, 32768, id="old-build-trained-context-last"),
    ],
)
async def test_the_context_of_a_llama_cpp_model_is_the_one_it_serves(
    llama: FakeLlamaServer,
    on_llama: OpenAIBackend,
    setup: Callable[[FakeLlamaServer], None],
    length: int,
) -> None:
    llama.n_ctx, llama.n_ctx_train = 4096, 32768  # llama-server -c 4096 on a 32k model
    setup(llama)
    assert context_length(await on_llama.show(llama.model_id)) == length


async def test_the_context_of_a_vllm_model_is_its_max_model_len(vllm: FakeVLLM) -> None:
    backend = OpenAIBackend(vllm.url)
    try:
        assert context_length(await backend.show(VLLM_MODEL)) == 8192
        assert PROPS_PATH not in [r.path for r in vllm.requests]  # llama.cpp's own route
    finally:
        await backend.aclose()


FIM_MIDDLES = frozenset({"<|fim_suffix|>", "<|fim_middle|>"})


@pytest.mark.parametrize(
    ("tokens", "family"),
    [
        pytest.param(QWEN_SPECIAL_TOKENS, "qwen2.5-coder", id="qwen2.5-coder"),
        pytest.param(
            FIM_MIDDLES | {"<|fim_prefix|>", "<|file_separator|>", "<eos>"},
            "codegemma",
            id="codegemma",
        ),
        pytest.param(
            frozenset({"<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<file_sep>"}),
            "starcoder2",
            id="starcoder2",
        ),
        pytest.param(
            frozenset({"<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<filename>"}),
            "starcoder",
            id="starcoder",
        ),
        pytest.param(
            frozenset({"<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"}),
            "deepseek-coder",
            id="deepseek-coder",
        ),
        pytest.param(frozenset({"[SUFFIX]", "[PREFIX]", "[INST]"}), "codestral", id="codestral"),
        pytest.param(frozenset({"<|im_start|>", "<|im_end|>"}), "plain", id="no-fim-tokens"),
    ],
)
async def test_the_fim_family_comes_from_the_servers_tokenizer(
    llama: FakeLlamaServer, on_llama: OpenAIBackend, tokens: frozenset[str], family: str
) -> None:
    llama.special_tokens = tokens
    detection = detect_family(await on_llama.show(llama.model_id))
    assert detection.family == family
    assert detection.supports_fim is (family != "plain")


async def test_vllms_tokenizer_tells_the_family_too(vllm: FakeVLLM) -> None:
    backend = OpenAIBackend(vllm.url)
    try:
        detection = detect_family(await backend.show(VLLM_MODEL))
    finally:
        await backend.aclose()
    assert detection.family == "qwen2.5-coder"
    body = next(r.body for r in vllm.requests if r.path == TOKENIZE_PATH)
    assert body == {
        "content": "<｜fim▁begin｜>",
        "model": VLLM_MODEL,
        "prompt": "<｜fim▁begin｜>",
        "add_special_tokens": False,
    }


async def test_a_busy_tokenizer_is_asked_again_next_time(
    llama: FakeLlamaServer, on_llama: OpenAIBackend
) -> None:
    llama.inject("overloaded", times=1, path=TOKENIZE_PATH)  # "Loading model"
    with pytest.raises(BackendError) as raised:
        await on_llama.show(llama.model_id)
    assert raised.value.kind is ProblemKind.OVERLOADED
    assert detect_family(await on_llama.show(llama.model_id)).family == "qwen2.5-coder"
    asked = [r.path for r in llama.requests].count(TOKENIZE_PATH)
    await on_llama.show(llama.model_id)
    assert [r.path for r in llama.requests].count(TOKENIZE_PATH) == asked  # cached now


LONG_PROMPT = "x = 1\n" * 200  # 1,200 characters: ~300 tokens


def generate_long(backend: OpenAIBackend) -> Any:
    return collect(backend, request(prompt=LONG_PROMPT))


def chat_long(backend: OpenAIBackend) -> Any:
    return chat(backend, messages=[{"role": "user", "content": LONG_PROMPT}], tools=[WEATHER_TOOL])


@pytest.mark.parametrize(
    "run", [pytest.param(generate_long, id="generate"), pytest.param(chat_long, id="chat")]
)
@pytest.mark.parametrize(
    "old_build", [pytest.param(False, id="llama.cpp"), pytest.param(True, id="old-llama.cpp")]
)
async def test_a_prompt_longer_than_llama_cpps_context_is_context_exceeded(
    llama: FakeLlamaServer,
    on_llama: OpenAIBackend,
    run: Callable[[OpenAIBackend], Any],
    old_build: bool,
) -> None:
    llama.n_ctx, llama.old_build = 128, old_build
    with pytest.raises(BackendError) as raised:
        await run(on_llama)
    assert raised.value.kind is ProblemKind.CONTEXT_EXCEEDED
    assert "exceeds the available context size (128 tokens)" in raised.value.message
    assert "OpenAI-compatible" not in raised.value.message
    assert llama.requests[-1].status == (200 if old_build else 400)


@pytest.mark.parametrize(
    "run", [pytest.param(generate_long, id="generate"), pytest.param(chat_long, id="chat")]
)
async def test_a_prompt_longer_than_vllms_context_is_context_exceeded(
    vllm: FakeVLLM, run: Callable[[OpenAIBackend], Any]
) -> None:
    vllm.models[CODER] = {"max_model_len": 256}
    vllm.models[CHATTER] = {"max_model_len": 256}
    backend = OpenAIBackend(vllm.url)
    try:
        with pytest.raises(BackendError) as raised:
            await run(backend)
    finally:
        await backend.aclose()
    assert raised.value.kind is ProblemKind.CONTEXT_EXCEEDED
    assert "maximum context length is 256 tokens" in raised.value.message


async def test_an_old_llama_cpp_error_after_the_first_token_breaks_the_answer_off(
    llama: FakeLlamaServer, on_llama: OpenAIBackend
) -> None:
    llama.old_build = True
    llama.set_text("one two three four five")
    llama.inject("error_event", times=1)
    with pytest.raises(BackendError) as raised:
        await collect(on_llama, request())
    assert raised.value.kind is ProblemKind.STREAM_ERROR
    assert "the model crashed" in raised.value.message


async def test_llama_cpp_pings_between_tokens_are_ignored(
    llama: FakeLlamaServer, on_llama: OpenAIBackend
) -> None:
    llama.pings = True
    llama.set_text("return a + b\n")
    assert "".join(c.text for c in await collect(on_llama, request())) == "return a + b\n"


def sse_body(*events: str) -> bytes:
    return "".join(f"{event}\n\n" for event in events).encode()


EXCEEDED = (
    '{"code":400,"message":"the request exceeds the available context size, try increasing '
    'it","type":"exceed_context_size_error"}'
)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        pytest.param(
            sse_body(f"error: {EXCEEDED}", "data: [DONE]"),
            ProblemKind.CONTEXT_EXCEEDED,
            id="old-llama.cpp-error-line-context",
        ),
        pytest.param(
            sse_body(
                'error: {"code":500,"message":"llama_decode failed","type":"server_error"}',
                "data: [DONE]",
            ),
            ProblemKind.SERVER_ERROR,
            id="old-llama.cpp-error-line-500",
        ),
        pytest.param(
            sse_body(
                'error: {"code":503,"message":"Loading model","type":"unavailable_error"}',
                "data: [DONE]",
            ),
            ProblemKind.OVERLOADED,
            id="old-llama.cpp-error-line-503",
        ),
        pytest.param(
            sse_body(f"event: error\ndata: {EXCEEDED}"),
            ProblemKind.CONTEXT_EXCEEDED,
            id="event-error",
        ),
        pytest.param(
            sse_body(
                'data: {"error":{"message":"This model\'s maximum context length is 2048 '
                'tokens.","type":"BadRequestError","param":null,"code":400}}',
                "data: [DONE]",
            ),
            ProblemKind.CONTEXT_EXCEEDED,
            id="data-error-before-any-token",
        ),
        pytest.param(
            sse_body(
                'data: {"choices":[{"index":0,"text":"return"}]}',
                'error: {"code":500,"message":"llama_decode failed","type":"server_error"}',
                "data: [DONE]",
            ),
            ProblemKind.STREAM_ERROR,
            id="error-line-after-a-token",
        ),
    ],
)
async def test_error_events_are_classified_by_their_code(body: bytes, kind: ProblemKind) -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    backend = OpenAIBackend("http://127.0.0.1:9")
    await backend._client.aclose()
    backend._client = httpx.AsyncClient(
        base_url=backend.host, transport=httpx.MockTransport(handler)
    )
    try:
        with pytest.raises(BackendError) as raised:
            await collect(backend, request())
    finally:
        await backend.aclose()
    assert raised.value.kind is kind
    assert "OpenAI-compatible" not in raised.value.message


def status_error(status: int, body: str) -> httpx.HTTPStatusError:
    sent = httpx.Request("POST", "http://127.0.0.1:8080/v1/chat/completions")
    response = httpx.Response(
        status, text=body, headers={"content-type": "application/json"}, request=sent
    )
    return httpx.HTTPStatusError(f"HTTP {status}", request=sent, response=response)


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        pytest.param(
            400,
            '{"error":{"code":400,"message":"request (9412 tokens) exceeds the available '
            'context size (8192 tokens), try increasing it","type":"exceed_context_size_error",'
            '"n_prompt_tokens":9412,"n_ctx":8192}}',
            ProblemKind.CONTEXT_EXCEEDED,
            id="llama.cpp-context",
        ),
        pytest.param(
            400,
            '{"error":{"message":"This model\'s maximum context length is 8192 tokens. However, '
            'you requested 9000 tokens (8000 in the messages, 1000 in the completion).",'
            '"type":"BadRequestError","param":null,"code":400}}',
            ProblemKind.CONTEXT_EXCEEDED,
            id="vllm-context",
        ),
        pytest.param(
            400,
            '{"error":{"message":"Please reduce the length of the messages.","type":'
            '"invalid_request_error","param":"messages","code":"context_length_exceeded"}}',
            ProblemKind.CONTEXT_EXCEEDED,
            id="openai-context",
        ),
        pytest.param(
            500,
            '{"error":{"code":500,"message":"tools param requires --jinja flag",'
            '"type":"server_error"}}',
            ProblemKind.UNSUPPORTED,
            id="llama.cpp-tools-without-jinja",
        ),
        pytest.param(
            400,
            '{"error":{"message":"\\"auto\\" tool choice requires --enable-auto-tool-choice '
            'and --tool-call-parser to be set","type":"BadRequestError","param":null,"code":400}}',
            ProblemKind.UNSUPPORTED,
            id="vllm-tools-not-enabled",
        ),
        pytest.param(
            501,
            '{"error":{"code":501,"message":"Infill is not supported by this model: prefix '
            'token is missing. ","type":"not_supported_error"}}',
            ProblemKind.UNSUPPORTED,
            id="llama.cpp-no-infill",
        ),
        pytest.param(
            400,
            '{"error":{"code":400,"message":"\\"input_prefix\\" is required",'
            '"type":"invalid_request_error"}}',
            ProblemKind.REFUSED,
            id="llama.cpp-bad-request",
        ),
        pytest.param(
            500,
            '{"error":{"code":500,"message":"failed to decode the batch","type":"server_error"}}',
            ProblemKind.SERVER_ERROR,
            id="llama.cpp-500",
        ),
    ],
)
def test_error_statuses_are_classified_by_what_the_server_says(
    status: int, body: str, kind: ProblemKind
) -> None:
    classified = classify_openai(
        status_error(status, body),
        endpoint="http://127.0.0.1:8080/v1",
        model=CODER,
        path=CHAT_PATH,
    )
    assert classified.kind is kind


# -- a stream that ends before it begins ------------------------------------------------


@pytest.mark.parametrize(
    "ask",
    [
        pytest.param(lambda backend, text: collect(backend, request(prompt=text)), id="generate"),
        pytest.param(
            lambda backend, text: chat(backend, messages=[{"role": "user", "content": text}]),
            id="chat",
        ),
    ],
)
async def test_an_empty_stream_is_asked_again_unstreamed_to_learn_why(
    ask: Callable[[OpenAIBackend, str], Any],
) -> None:
    """llama-cpp-python's server answers a prompt longer than its context with HTTP 200
    and nothing else when streaming; asked again without streaming, it says why, and the
    failure is a context overflow (which fails over), not a dropped stream."""
    with FakeLlamaCppPython() as server:
        server.n_ctx = 64
        backend = OpenAIBackend(server.api_url)
        try:
            with pytest.raises(BackendError) as raised:
                await ask(backend, "x = 1\n" * 200)
            assert raised.value.kind is ProblemKind.CONTEXT_EXCEEDED
            assert "maximum context length is 64 tokens" in raised.value.message
            assert [r.body["stream"] for r in server.generations() if r.body] == [True, False]
            server.n_ctx = 4096
            assert await ask(backend, "x = 1\n")  # a prompt that fits streams as usual
            assert [r.body["stream"] for r in server.generations() if r.body][-1] is True
        finally:
            await backend.aclose()


@pytest.mark.parametrize(
    ("whole", "streamed"),
    [
        pytest.param(
            {"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}]},
            {
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "hi"},
                        "delta": {"role": "assistant", "content": "hi"},
                    }
                ]
            },
            id="chat-message-becomes-delta",
        ),
        pytest.param(
            {"choices": [{"index": 0, "text": "hi"}], "usage": {"prompt_tokens": 3}},
            {"choices": [{"index": 0, "text": "hi"}], "usage": {"prompt_tokens": 3}},
            id="completion-text-and-usage-stay",
        ),
        pytest.param({"object": "list"}, {"object": "list"}, id="no-choices"),
    ],
)
def test_a_whole_answer_reads_as_one_stream_event(
    whole: dict[str, Any], streamed: dict[str, Any]
) -> None:
    assert as_stream_payload(whole) == streamed


@pytest.mark.parametrize(
    ("error", "says"),
    [
        pytest.param(
            httpx.ConnectTimeout("timed out"),
            "raise ollama.connectTimeout",
            id="connect-timeout-names-its-setting",
        ),
        pytest.param(
            httpx.ConnectError("All connection attempts failed"),
            "start it (llama-server",
            id="refused-says-start-it",
        ),
    ],
)
def test_a_connection_that_fails_is_unreachable_and_says_what_controls_it(
    error: Exception, says: str
) -> None:
    classified = classify_openai(
        error, endpoint="http://127.0.0.1:8080/v1", model=CODER, path=CHAT_PATH
    )
    assert classified.kind is ProblemKind.UNREACHABLE
    assert says in classified.message
