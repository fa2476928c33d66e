"""Every Ollama failure: an empty completion, one actionable message, and recovery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.e2e.conftest import (
    SERVER_COMMAND,
    accept_registrations,
    capabilities,
    inline_params,
    items_of,
    open_document,
    text_of,
)
from tests.fakes.fake_ollama import FakeOllama

ADD = "def add(a, b):\n    \n"

FAULTS = [
    pytest.param("not_found", "is not pulled: run `ollama pull qwen2.5-coder:1.5b-base`", id="404"),
    pytest.param("server_error", "failed (HTTP 500)", id="500"),
    pytest.param("overloaded", "is busy", id="503"),
    pytest.param("drop_mid_stream", "dropped the connection", id="drop-mid-stream"),
    pytest.param("error_line", "reported an error while generating", id="error-line"),
    pytest.param("bad_json", "could not read", id="bad-ndjson"),
    pytest.param("hang", "did not", id="hang-before-headers"),
    pytest.param("trickle", "did not", id="trickle"),
]


@pytest.fixture
def completion_settings() -> dict[str, float]:
    """Short deadlines so hung and trickling streams fail fast."""
    return {"deadlineSeconds": 1.5, "stallSeconds": 0.8}


def warnings_about(client: LanguageClient, text: str) -> list[str]:
    return [m.message for m in client.messages if text in m.message]


@pytest.mark.parametrize(("fault", "message"), FAULTS)
async def test_fault_gives_empty_answer_and_one_message(
    client: LanguageClient, ollama: FakeOllama, workspace: Path, fault: str, message: str
) -> None:
    ollama.inject(fault, times=2, delay=0.3 if fault == "trickle" else None)
    uri = open_document(client, workspace, "add.py", ADD)
    for _ in range(2):
        result = await asyncio.wait_for(
            client.text_document_inline_completion_async(inline_params(uri, 1, 4)), timeout=10
        )
        assert items_of(result) == []
    assert len(warnings_about(client, message)) == 1, client.messages
    assert await ollama.wait_for_async(lambda: ollama.open_streams == 0, timeout=2)
    recovered = await client.text_document_inline_completion_async(inline_params(uri, 1, 4))
    assert [text_of(i) for i in items_of(recovered)] == ["return a + b"]


async def test_ollama_down_then_back(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    uri = open_document(client, workspace, "add.py", ADD)
    ollama.stop()
    result = await client.text_document_inline_completion_async(inline_params(uri, 1, 4))
    assert items_of(result) == []
    assert warnings_about(client, "Ollama is not reachable")
    ollama.start()
    result = await client.text_document_inline_completion_async(inline_params(uri, 1, 4))
    assert [text_of(i) for i in items_of(result)] == ["return a + b"]


@pytest_lsp.fixture(
    params=["qwen2.5-coder:1.5b-base", "not-pulled:1b"],
    config=ClientServerConfig(server_command=SERVER_COMMAND),
)
async def warming_client(
    request: pytest.FixtureRequest, lsp_client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> AsyncIterator[None]:
    """A session with warm-up on (the default), for the model in ``request.param``."""
    accept_registrations(lsp_client)
    lsp_client.model = request.param  # type: ignore[attr-defined]
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities("visual-studio-code"),
            root_uri=workspace.as_uri(),
            initialization_options={
                "ollama": {"host": ollama.url},
                "models": {"embedded": "off"},
                "completion": {"model": request.param},
            },
        )
    )
    yield
    await lsp_client.shutdown_session()


async def test_warm_up_loads_the_model_or_says_how_to_pull_it(
    warming_client: LanguageClient, ollama: FakeOllama
) -> None:
    model = warming_client.model  # type: ignore[attr-defined]
    if model == "not-pulled:1b":
        await warming_client.wait_for_notification(types.WINDOW_SHOW_MESSAGE)
        assert [m.message for m in warming_client.messages] == [
            "CodeHearth: model not-pulled:1b is not pulled: run `ollama pull not-pulled:1b`"
        ]
        assert ollama.generations() == []
    else:
        assert await ollama.wait_for_async(lambda: len(ollama.loads()) == 1)
        assert ollama.generations() == []
        body = ollama.loads()[0].body
        assert body is not None
        assert body["model"] == model and body["prompt"] == ""
        assert body["options"]["num_ctx"] == 4096 and body["keep_alive"] == "30m"
        assert warming_client.messages == []
