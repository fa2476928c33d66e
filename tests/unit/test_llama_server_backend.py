"""The llama-server endpoint kind against the fake llama.cpp server: completions through
``/infill`` with the parts llama.cpp's editor plugins send, the rendered prompt through
``/completions`` when there are no parts or the model has no FIM tokens, chat through the
OpenAI-compatible API, failures classified, secrets masked in every part, and the kind
built from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from tests.fakes.fake_openai import (
    CHAT_PATH,
    COMPLETIONS_PATH,
    INFILL_PATH,
    FakeLlamaServer,
)

from codehearth.models.errors import BackendError, ProblemKind
from codehearth.models.factory import build_pool
from codehearth.models.llama_server_backend import LlamaServerBackend
from codehearth.models.ollama_backend import GenerateChunk, GenerateRequest
from codehearth.models.pool import EndpointConfig, ModelPool, RoutePlan
from codehearth.models.router import Candidate, Endpoint
from codehearth.prompts.fim import ContextSnippet, FimRequest, get_template
from codehearth.settings import build_settings

pytestmark = pytest.mark.usefixtures("no_ca_bundle")

MODEL = "qwen2.5-coder:1.5b"
STALL_SECONDS = 0.3
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
PARTS = FimRequest(
    prefix="import os\n\ndef add(a, b):\n    ret",
    suffix="\n\nprint(add(1, 2))\n",
    file_path="calc.py",
    context=(ContextSnippet("util.py", "def sub(a, b):\n    return a - b\n"),),
)


def request(fim: FimRequest | None = PARTS, **changes: Any) -> GenerateRequest:
    template = get_template("qwen2.5-coder")
    fields: dict[str, Any] = {
        "model": MODEL,
        "prompt": template.render(fim or PARTS),
        "num_ctx": 4096,
        "max_tokens": 64,
        "temperature": 0.2,
        "stop": template.stop,
        "fim": fim,
    }
    fields.update(changes)
    return GenerateRequest(**fields)


async def collect(backend: LlamaServerBackend, generate: GenerateRequest) -> list[GenerateChunk]:
    return [chunk async for chunk in backend.generate(generate)]


def paths(fake: FakeLlamaServer) -> list[str]:
    return [r.path for r in fake.requests]


@pytest.fixture
def fake() -> Iterator[FakeLlamaServer]:
    with FakeLlamaServer() as server:
        server.set_text("urn a + b\n")
        yield server


@pytest.fixture
async def backend(fake: FakeLlamaServer) -> AsyncIterator[LlamaServerBackend]:
    made = LlamaServerBackend(fake.url, request_timeout=STALL_SECONDS)
    yield made
    await made.aclose()


async def test_a_completion_streams_from_infill_with_the_parts_llama_cpps_plugins_send(
    fake: FakeLlamaServer, backend: LlamaServerBackend
) -> None:
    chunks = await collect(backend, request(seed=3))
    assert "".join(chunk.text for chunk in chunks) == "urn a + b\n"
    assert [chunk.done for chunk in chunks].count(True) == 1 and chunks[-1].done
    assert chunks[-1].eval_count == len([c for c in chunks if c.text])
    assert chunks[-1].prompt_eval_count and chunks[-1].prompt_eval_count > 0
    [sent] = fake.requests
    assert sent.path == INFILL_PATH
    assert sent.body == {
        "model": MODEL,
        "input_prefix": "import os\n\ndef add(a, b):\n",
        "prompt": "    ret",
        "input_suffix": "\n\nprint(add(1, 2))\n",
        "input_extra": [{"filename": "util.py", "text": "def sub(a, b):\n    return a - b\n"}],
        "n_predict": 64,
        "temperature": 0.2,
        "n_indent": 4,
        "t_max_predict_ms": 1000,
        "cache_prompt": True,
        "stream": True,
        "stop": list(get_template("qwen2.5-coder").stop),
        "seed": 3,
    }


async def test_pings_and_the_missing_done_marker_are_how_infill_streams(
    fake: FakeLlamaServer, backend: LlamaServerBackend
) -> None:
    fake.pings = True
    chunks = await collect(backend, request())
    assert "".join(chunk.text for chunk in chunks) == "urn a + b\n"
    # The client can see the end of the response before the fake has logged it.
    assert await fake.wait_for_async(lambda: fake.requests[0].finished_at is not None, 2)
    assert fake.requests[0].completed


async def test_without_parts_the_rendered_prompt_goes_to_completions(
    fake: FakeLlamaServer, backend: LlamaServerBackend
) -> None:
    chunks = await collect(backend, request(fim=None))
    assert "".join(chunk.text for chunk in chunks) == "urn a + b\n"
    assert paths(fake) == [COMPLETIONS_PATH]


async def test_a_model_without_fim_tokens_gets_the_rendered_prompt_from_then_on(
    fake: FakeLlamaServer, backend: LlamaServerBackend
) -> None:
    fake.special_tokens = frozenset({"<|im_start|>", "<|im_end|>"})
    assert "".join(c.text for c in await collect(backend, request())) == "urn a + b\n"
    assert "".join(c.text for c in await collect(backend, request())) == "urn a + b\n"
    assert paths(fake) == [INFILL_PATH, COMPLETIONS_PATH, COMPLETIONS_PATH]
    assert fake.requests[0].status == 501
    sent = fake.requests[1].body
    assert sent is not None and sent["prompt"] == request().prompt


async def test_a_server_without_infill_gets_the_rendered_prompt_from_then_on(
    fake: FakeLlamaServer, backend: LlamaServerBackend
) -> None:
    fake.inject("not_found", path=INFILL_PATH)  # "File Not Found": an OpenAI-only server
    assert "".join(c.text for c in await collect(backend, request())) == "urn a + b\n"
    assert "".join(c.text for c in await collect(backend, request())) == "urn a + b\n"
    assert paths(fake) == [INFILL_PATH, COMPLETIONS_PATH, COMPLETIONS_PATH]


async def test_chat_goes_to_the_openai_compatible_route(
    fake: FakeLlamaServer, backend: LlamaServerBackend
) -> None:
    answer = backend.chat(MODEL, [{"role": "user", "content": "hi"}], num_ctx=4096)
    assert "".join([chunk.content async for chunk in answer]) == "urn a + b\n"
    assert paths(fake) == [CHAT_PATH]


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        pytest.param("drop_mid_stream", ProblemKind.STREAM_DROPPED, id="dropped"),
        pytest.param("error_event", ProblemKind.STREAM_ERROR, id="error-event"),
        pytest.param("overloaded", ProblemKind.OVERLOADED, id="loading-model"),
        pytest.param("server_error", ProblemKind.SERVER_ERROR, id="500"),
    ],
)
@pytest.mark.parametrize(
    "old_build", [pytest.param(False, id="llama.cpp"), pytest.param(True, id="old-llama.cpp")]
)
async def test_each_infill_fault_raises_a_classified_error(
    fake: FakeLlamaServer,
    backend: LlamaServerBackend,
    fault: str,
    kind: ProblemKind,
    old_build: bool,
) -> None:
    fake.old_build = old_build
    fake.set_text("one two three four five six")
    fake.inject(fault, times=1, path=INFILL_PATH)
    with pytest.raises(BackendError) as raised:
        await collect(backend, request())
    assert raised.value.kind is kind
    assert "OpenAI-compatible" not in raised.value.message
    assert (
        "".join(c.text for c in await collect(backend, request())) == "one two three four five six"
    )


async def test_a_stream_cut_after_the_last_token_but_before_the_last_chunk_is_dropped(
    fake: FakeLlamaServer, backend: LlamaServerBackend
) -> None:
    fake.inject("no_done", times=1, path=INFILL_PATH)  # drops the final stop: true chunk
    with pytest.raises(BackendError) as raised:
        await collect(backend, request())
    assert raised.value.kind is ProblemKind.STREAM_DROPPED


async def test_stopping_early_closes_the_connection(
    fake: FakeLlamaServer, backend: LlamaServerBackend
) -> None:
    fake.set_text("one two three four five six seven eight")
    fake.token_delay = 0.2
    async for chunk in backend.generate(request()):
        assert chunk.text == "one"
        break
    assert await fake.wait_for_async(
        lambda: [r.client_disconnected for r in fake.requests] == [True], 2
    )


async def test_secrets_in_every_part_are_masked_and_come_back_in_the_answer(
    fake: FakeLlamaServer,
) -> None:
    fake.responder = lambda body: "key = " + body["input_extra"][0]["text"].split("'")[1] + "\n"
    endpoint = Endpoint(fake.url, kind="llama-server")
    pool = ModelPool(
        RoutePlan(
            (EndpointConfig("llama", endpoint),), {"completion": (Candidate(endpoint, MODEL),)}
        ),
        {endpoint: LlamaServerBackend(fake.url)},
    )
    parts = FimRequest(
        prefix=f"key = '{AWS_KEY}'\nx = ",
        suffix=f"\ny = '{AWS_KEY}'\n",
        context=(ContextSnippet("conf.py", f"aws = '{AWS_KEY}'\n"),),
    )
    try:
        chunks = pool.role("completion").generate(request(parts))
        assert "".join([c.text async for c in chunks]) == f"key = {AWS_KEY}\n"
    finally:
        await pool.aclose()
    [sent] = fake.requests
    assert AWS_KEY not in str(sent.body) and "[REDACTED_1]" in str(sent.body)


def test_the_kind_is_built_from_settings() -> None:
    settings = build_settings(
        {
            "models": {
                "endpoints": [
                    {"name": "llama", "url": "http://127.0.0.1:8012", "kind": "llama-server"}
                ],
                "fallbacks": {"completion": ["coder@llama"]},
            }
        }
    )
    assert settings.warnings == ()
    built = build_pool(settings.settings)
    assert built.warnings == ()
    [backend] = [b for e, b in built.pool.backends.items() if e.kind == "llama-server"]
    assert isinstance(backend, LlamaServerBackend)
    assert backend.host == "http://127.0.0.1:8012/v1"
