"""The Ollama backend: which host is dialled, and every call against the fake Ollama
server (the real ``ollama`` client and httpx on a real socket), faults included.

Backends are created inside the running loop (an async fixture shares the test's loop)
and closed after each test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from tests.fakes.fake_ollama import VERSION, FakeOllama

from codehearth.models.errors import BackendError, ProblemKind
from codehearth.models.ollama_backend import (
    DEFAULT_HOST,
    GenerateChunk,
    GenerateRequest,
    OllamaBackend,
    is_loopback,
    resolve_host,
)
from codehearth.prompts.family import detect_family

CODER = "qwen2.5-coder:1.5b"
STALL_SECONDS = 0.3

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


async def collect(backend: OllamaBackend, generate: GenerateRequest) -> list[GenerateChunk]:
    return [chunk async for chunk in backend.generate(generate)]


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


@pytest.fixture
async def backend(fake: FakeOllama) -> AsyncIterator[OllamaBackend]:
    made = OllamaBackend(fake.url, keep_alive="7m", request_timeout=STALL_SECONDS)
    yield made
    await made.aclose()


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nothing listens on (a fake that was started, then stopped)."""
    with FakeOllama() as server:
        url = server.url
    return url


# -- which host ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "environment", "expected"),
    [
        pytest.param(None, None, DEFAULT_HOST, id="default"),
        pytest.param("http://gpu-box:1234", "http://other:1", "http://gpu-box:1234", id="setting"),
        pytest.param(None, "http://10.0.0.5:11434", "http://10.0.0.5:11434", id="environment"),
        pytest.param("", "http://10.0.0.5:1", "http://10.0.0.5:1", id="empty-setting"),
        pytest.param(None, "0.0.0.0", "http://127.0.0.1:11434", id="bind-all"),
        pytest.param(None, "0.0.0.0:12345", "http://127.0.0.1:12345", id="bind-all-port"),
        pytest.param("http://[::]:11434", None, "http://127.0.0.1:11434", id="bind-all-ipv6"),
        pytest.param("localhost:8080", None, "http://localhost:8080", id="bare-host-port"),
        pytest.param("gpu-box", None, "http://gpu-box:11434", id="bare-host"),
        pytest.param("[::1]:9999", None, "http://[::1]:9999", id="ipv6-loopback"),
        pytest.param("  http://gpu-box:1/  ", None, "http://gpu-box:1", id="whitespace-slash"),
        pytest.param("http://h:1/ollama/", None, "http://h:1/ollama", id="path-prefix"),
        pytest.param(
            "https://ollama.example.com:8443", None, "https://ollama.example.com:8443", id="https"
        ),
    ],
)
def test_resolve_host(
    monkeypatch: pytest.MonkeyPatch, configured: str | None, environment: str | None, expected: str
) -> None:
    if environment is None:
        monkeypatch.delenv("OLLAMA_HOST", raising=False)
    else:
        monkeypatch.setenv("OLLAMA_HOST", environment)
    assert resolve_host(configured) == expected


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        pytest.param("https://ollama.example.com", "https://ollama.example.com:443", id="https"),
        pytest.param("http://ollama.example.com", "http://ollama.example.com:80", id="http"),
    ],
)
def test_resolve_host_uses_the_scheme_default_port_for_a_full_url(
    monkeypatch: pytest.MonkeyPatch, configured: str, expected: str
) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    assert resolve_host(configured) == expected


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        pytest.param("http://127.0.0.1:11434", True, id="ipv4-loopback"),
        pytest.param("http://127.8.9.10:1", True, id="ipv4-loopback-range"),
        pytest.param("http://localhost:11434", True, id="localhost"),
        pytest.param("http://LOCALHOST:11434", True, id="localhost-upper-case"),
        pytest.param("http://[::1]:11434", True, id="ipv6-loopback"),
        pytest.param("http://192.168.1.20:11434", False, id="lan"),
        pytest.param("http://0.0.0.0:11434", False, id="bind-all"),
        pytest.param("https://ollama.example.com", False, id="hostname"),
        pytest.param("not a url", False, id="garbage"),
    ],
)
def test_is_loopback(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback


@pytest.mark.parametrize(
    ("changes", "options"),
    [
        pytest.param(
            {},
            {"num_ctx": 2048, "num_predict": 64, "temperature": 0.2},
            id="plain",
        ),
        pytest.param(
            {"stop": ("<|endoftext|>", "\n\n"), "seed": 0},
            {
                "num_ctx": 2048,
                "num_predict": 64,
                "temperature": 0.2,
                "stop": ["<|endoftext|>", "\n\n"],
                "seed": 0,
            },
            id="stop-and-seed",
        ),
    ],
)
def test_request_options(changes: dict[str, object], options: dict[str, object]) -> None:
    assert request(**changes).options() == options


# -- generate --------------------------------------------------------------------------------


async def test_generate_streams_the_text_in_pieces_and_ends_with_the_stats(
    fake: FakeOllama, backend: OllamaBackend
) -> None:
    fake.set_text("return a + b\n")
    fake.prompt_eval_count = 42
    chunks = await collect(backend, request())
    pieces = [chunk for chunk in chunks if not chunk.done]
    assert len(pieces) > 1
    assert "".join(chunk.text for chunk in chunks) == "return a + b\n"
    final = chunks[-1]
    assert final.done
    assert (final.prompt_eval_count, final.eval_count) == (42, len(pieces))


async def test_generate_sends_a_raw_streamed_request_with_every_option(
    fake: FakeOllama, backend: OllamaBackend
) -> None:
    generate = request(stop=("<|endoftext|>",), seed=3, max_tokens=32)
    await collect(backend, generate)
    [recorded] = fake.generations()
    assert recorded.body is not None
    assert recorded.body["model"] == CODER
    assert recorded.body["prompt"] == generate.prompt
    assert recorded.body["raw"] is True
    assert recorded.body["stream"] is True
    assert recorded.body["keep_alive"] == "7m"
    assert recorded.body["options"] == {
        "num_ctx": 2048,
        "num_predict": 32,
        "temperature": 0.2,
        "stop": ["<|endoftext|>"],
        "seed": 3,
    }


async def test_a_slow_but_steady_stream_is_not_a_stall(
    fake: FakeOllama, backend: OllamaBackend
) -> None:
    fake.set_text("a b c d e f")
    fake.token_delay = STALL_SECONDS / 4  # the whole answer takes longer than the stall limit
    chunks = await collect(backend, request())
    assert "".join(chunk.text for chunk in chunks) == "a b c d e f"


async def test_a_first_token_later_than_the_request_timeout_still_arrives(
    fake: FakeOllama, backend: OllamaBackend
) -> None:
    """Ollama writes nothing while it loads the model and reads the prompt, and aborts
    the load when the client hangs up: a stream has no read timeout of its own (the pool
    bounds it per phase, see test_pool.py)."""
    fake.inject("slow_headers", times=1, delay=STALL_SECONDS * 3)
    chunks = await collect(backend, request())
    assert "".join(chunk.text for chunk in chunks) == "return a + b\n"
    assert not fake.generations()[0].client_disconnected


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        pytest.param("not_found", ProblemKind.MODEL_MISSING, id="model-missing"),
        pytest.param("server_error", ProblemKind.SERVER_ERROR, id="server-error"),
        pytest.param("overloaded", ProblemKind.OVERLOADED, id="overloaded"),
        pytest.param("drop_mid_stream", ProblemKind.STREAM_DROPPED, id="dropped"),
        pytest.param("error_line", ProblemKind.STREAM_ERROR, id="error-line"),
        pytest.param("bad_json", ProblemKind.BAD_RESPONSE, id="bad-json"),
    ],
)
async def test_each_generate_fault_raises_a_classified_error(
    fake: FakeOllama, backend: OllamaBackend, fault: str, kind: ProblemKind
) -> None:
    fake.inject(fault, times=1)
    with pytest.raises(BackendError) as raised:
        await collect(backend, request())
    assert raised.value.kind is kind
    assert await collect(backend, request())  # the next call works again


async def test_a_missing_model_names_the_pull_command(
    fake: FakeOllama, backend: OllamaBackend
) -> None:
    with pytest.raises(BackendError, match=r"ollama pull missing:1b") as raised:
        await collect(backend, request(model="missing:1b"))
    assert raised.value.kind is ProblemKind.MODEL_MISSING


async def test_text_before_a_dropped_stream_is_delivered_first(
    fake: FakeOllama, backend: OllamaBackend
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


async def test_cancelling_the_consumer_closes_the_connection(
    fake: FakeOllama, backend: OllamaBackend
) -> None:
    fake.set_text("one two three four five six seven eight")
    fake.token_delay = 0.2
    first = asyncio.Event()

    async def consume() -> None:
        async for _chunk in backend.generate(request()):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await fake.wait_for_async(
        lambda: [r.client_disconnected for r in fake.generations()] == [True], 2
    )
    assert await fake.wait_for_async(lambda: fake.open_streams == 0, 2)


async def test_closing_the_stream_early_closes_the_connection(
    fake: FakeOllama, backend: OllamaBackend
) -> None:
    fake.set_text("one two three four five six seven eight")
    fake.token_delay = 0.2
    stream = backend.generate(request())
    first = await anext(stream)
    await stream.aclose()  # type: ignore[attr-defined]
    assert first.text == "one"
    assert await fake.wait_for_async(
        lambda: [r.client_disconnected for r in fake.generations()] == [True], 2
    )


async def test_generate_against_nothing_listening_is_unreachable(closed_port_url: str) -> None:
    backend = OllamaBackend(closed_port_url)
    try:
        with pytest.raises(BackendError, match="ollama serve") as raised:
            await collect(backend, request())
        assert raised.value.kind is ProblemKind.UNREACHABLE
    finally:
        await backend.aclose()


# -- discovery and warm-up -----------------------------------------------------------------


async def test_version(backend: OllamaBackend) -> None:
    assert await backend.version() == VERSION


async def test_list_models_names_every_installed_model(backend: OllamaBackend) -> None:
    models = await backend.list_models()
    assert {
        CODER,
        "qwen2.5-coder:1.5b-base",
        "qwen2.5-coder:7b",
        "llama3.2:3b",
        "nomic-embed-text:latest",
        "qwen3-coder:480b-cloud",
    } == set(models)


async def test_show_returns_the_model_metadata(backend: OllamaBackend) -> None:
    shown = await backend.show(CODER)
    assert "<|fim_prefix|>" in shown["template"]
    assert "insert" in shown["capabilities"]
    assert shown["details"]["family"] == "qwen2"


@pytest.mark.parametrize(
    ("version", "fields", "expected"),
    [
        pytest.param(
            "0.12.0",
            {"architecture": "", "remote_host": "https://ollama.com:443"},
            {"remote_host": "https://ollama.com:443"},
            id="no-model-info-no-capabilities-from-ollama-0.12",
        ),
        pytest.param(
            VERSION,
            {"architecture": "", "remote_host": "https://ollama.com:443"},
            {"model_info": {}},
            id="empty-model-info",
        ),
        pytest.param(
            VERSION,
            {"architecture": "qwen2", "chat_template": "{%- for m in messages %}{% endfor %}"},
            {"template": "{%- for m in messages %}{% endfor %}", "capabilities": ["completion"]},
            id="jinja-template",
        ),
    ],
)
async def test_show_takes_what_ollama_sends_as_it_comes(
    fake: FakeOllama,
    backend: OllamaBackend,
    version: str,
    fields: dict[str, object],
    expected: dict[str, object],
) -> None:
    fake.version = version
    fake.add_model("odd:1b", **fields)
    shown = await backend.show("odd:1b")
    assert expected.items() <= shown.items()
    assert detect_family(shown).family == "plain"  # the vocabulary is asked next


@pytest.mark.parametrize(
    ("model", "tokens"),
    [
        pytest.param("qwen2.5-coder:1.5b-base", {"<|fim_prefix|>"}, id="base-model"),
        pytest.param("llama3.2:3b", set(), id="chat-model"),
    ],
)
async def test_the_fim_vocabulary_comes_from_one_verbose_show(
    fake: FakeOllama, backend: OllamaBackend, model: str, tokens: set[str]
) -> None:
    def verbose_shows() -> list[object]:
        return [r.body for r in fake.requests if r.path == "/api/show"]

    assert await backend.fim_vocabulary(model) == tokens
    assert await backend.fim_vocabulary(model) == tokens
    assert verbose_shows() == [{"model": model, "verbose": True}]
    backend.forget_model(model)
    await backend.fim_vocabulary(model)
    assert len(verbose_shows()) == 2


async def test_listing_the_models_learns_which_are_cloud_models(
    fake: FakeOllama, backend: OllamaBackend
) -> None:
    fake.add_model("proxied", architecture="", remote_host="https://ollama.com:443")
    assert backend.remote_host("qwen3-coder:480b-cloud") is None  # not listed yet
    await backend.list_models()
    assert backend.remote_host("qwen3-coder:480b-cloud") == "https://ollama.com:443"
    assert backend.remote_host("proxied") == "https://ollama.com:443"  # as proxied:latest
    assert backend.remote_host(CODER) is None
    fake.remove_model("proxied")
    await backend.list_models()
    assert backend.remote_host("proxied") is None


async def test_show_is_cached_until_the_model_is_forgotten(
    fake: FakeOllama, backend: OllamaBackend
) -> None:
    def show_requests() -> int:
        return sum(1 for r in fake.requests if r.path == "/api/show")

    first = await backend.show(CODER)
    assert await backend.show(CODER) == first
    assert show_requests() == 1
    await backend.show("llama3.2:3b")
    assert show_requests() == 2
    backend.forget_model(CODER)
    await backend.show(CODER)
    assert show_requests() == 3


async def test_warm_up_loads_the_model_with_the_fixed_context_size(
    fake: FakeOllama, backend: OllamaBackend
) -> None:
    await backend.warm_up(CODER, num_ctx=8192)
    # The client can see the end of the response before the fake has logged it.
    assert await fake.wait_for_async(lambda: fake.loads()[0].finished_at is not None, 2)
    assert fake.generations() == []  # a load only: nothing is generated
    [recorded] = fake.loads()
    assert recorded.body is not None
    assert recorded.body["prompt"] == ""
    assert recorded.body["options"] == {"num_ctx": 8192}
    assert recorded.body["keep_alive"] == "7m"
    assert recorded.completed


@pytest.mark.parametrize(
    ("fault", "path", "kind"),
    [
        pytest.param("not_found", "/api/show", ProblemKind.MODEL_MISSING, id="show-missing"),
        pytest.param("server_error", "/api/tags", ProblemKind.SERVER_ERROR, id="tags-500"),
        pytest.param("bad_json", "/api/tags", ProblemKind.BAD_RESPONSE, id="tags-bad-json"),
        pytest.param("drop_mid_stream", "/api/tags", ProblemKind.STREAM_DROPPED, id="tags-cut"),
        pytest.param("bad_json", "/api/version", ProblemKind.BAD_RESPONSE, id="version-bad-json"),
        pytest.param("hang", "/api/version", ProblemKind.TIMEOUT, id="version-hang"),
        pytest.param("not_found", "/api/generate", ProblemKind.MODEL_MISSING, id="warm-up-404"),
    ],
)
async def test_each_discovery_fault_raises_a_classified_error(
    fake: FakeOllama, backend: OllamaBackend, fault: str, path: str, kind: ProblemKind
) -> None:
    calls = {
        "/api/show": lambda: backend.show(CODER),
        "/api/tags": backend.list_models,
        "/api/version": backend.version,
        "/api/generate": lambda: backend.warm_up(CODER, num_ctx=4096),
    }
    fake.inject(fault, times=1, path=path)
    with pytest.raises(BackendError) as raised:
        await calls[path]()
    assert raised.value.kind is kind


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        pytest.param("server_error", ProblemKind.SERVER_ERROR, id="500"),
        pytest.param("overloaded", ProblemKind.OVERLOADED, id="503"),
    ],
)
async def test_an_http_error_status_from_version_is_not_called_unreachable(
    fake: FakeOllama, backend: OllamaBackend, fault: str, kind: ProblemKind
) -> None:
    fake.inject(fault, times=1, path="/api/version")
    with pytest.raises(BackendError) as raised:
        await backend.version()
    assert raised.value.kind is kind


async def test_discovery_against_nothing_listening_is_unreachable(closed_port_url: str) -> None:
    backend = OllamaBackend(closed_port_url)
    try:
        for call in (backend.version, backend.list_models, lambda: backend.show(CODER)):
            with pytest.raises(BackendError, match="ollama serve") as raised:
                await call()
            assert raised.value.kind is ProblemKind.UNREACHABLE
    finally:
        await backend.aclose()
