"""The real embedded model (llama.cpp, Gemma 3 270M) through the LSP, with no Ollama.

Ollama's port is closed, so the router falls back to the embedded model as it does on a
fresh machine. Marked ``model``: these load and run a real model (a few seconds each).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from codehearth.models.embedded_backend import assemble_bundled_model, embedded_available
from tests.e2e.conftest import (
    SERVER_COMMAND,
    accept_registrations,
    capabilities,
    initialize_params,
    inline_params,
    items_of,
    open_document,
    text_of,
)
from tests.e2e.test_memory_commands import command
from tests.fakes.fake_ollama import FakeOllama

pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(not embedded_available(), reason="codehearth[embedded] not installed"),
]

SOURCE = (
    "def fibonacci(n: int) -> int:\n"
    '    """The n-th Fibonacci number."""\n'
    "    if n < 2:\n"
    "        return n\n"
    "    return fibonacci(n - 1) + fibonacci(n - 2)\n"
    "\n"
    "\n"
    "def factorial(n: int) -> int:\n"
    '    """n! for n >= 0."""\n'
    "    \n"
)
CURSOR = (9, 4)
STOP_BUDGET_MS = 100


@pytest.fixture(scope="module")
def dead_ollama() -> str:
    """A loopback URL where nothing listens (a stopped fake's port)."""
    with FakeOllama() as fake:
        url = fake.url
    return url


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def client(
    lsp_client: LanguageClient, dead_ollama: str, workspace: Path
) -> AsyncIterator[None]:
    accept_registrations(lsp_client)
    await lsp_client.initialize_session(
        initialize_params(
            workspace,
            capabilities("visual-studio-code"),
            {
                "ollama": {"host": dead_ollama},  # warm-up on: it loads the embedded model
                "completion": {"maxTokens": 48, "deadlineSeconds": 60},
            },
        )
    )
    yield
    await lsp_client.shutdown_session()


async def status(client: LanguageClient) -> dict[str, Any]:
    report: dict[str, Any] = await command(client, "codehearth.status")
    return report


async def embedded(client: LanguageClient) -> dict[str, Any]:
    """The state of the built-in completion model (the base model)."""
    state: dict[str, Any] = (await status(client))["models"]["embedded"]["gemma3-270m"]
    return state


async def wait_until(client: LanguageClient, predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate(await embedded(client)):
            return True
        await asyncio.sleep(0.02)
    return False


async def test_a_completion_is_generated_by_the_embedded_model_when_ollama_is_down(
    client: LanguageClient, workspace: Path
) -> None:
    uri = open_document(client, workspace, "maths.py", SOURCE)
    items = items_of(
        await client.text_document_inline_completion_async(inline_params(uri, *CURSOR))
    )
    assert items and text_of(items[0]).strip()  # text the model wrote
    report = await status(client)
    assert "gemma3-270m" in report["models"]["answered"]["completion"]
    # what the VS Code status item shows: the model that answered, not completion.model
    assert report["completion"]["answeredBy"].startswith("gemma3-270m (")
    assert "completion" in report["models"]["fallbackAnswering"]
    # the second request reuses the loaded model
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=SOURCE + "\n")],
        )
    )
    await client.text_document_inline_completion_async(inline_params(uri, *CURSOR))
    state = await embedded(client)
    assert state["loads"] == 1 and state["generations"] >= 2


async def test_typing_on_stops_the_generation_within_100_ms(
    client: LanguageClient, workspace: Path
) -> None:
    uri = open_document(client, workspace, "maths.py", SOURCE)
    await client.text_document_inline_completion_async(inline_params(uri, *CURSOR))  # loaded
    longer = SOURCE.replace("def factorial", "def factorial_of_a_much_longer_name")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=longer)],
        )
    )
    pending = asyncio.ensure_future(
        client.text_document_inline_completion_async(inline_params(uri, *CURSOR))
    )
    assert await wait_until(client, lambda state: state["generating"], 30)
    typed = time.monotonic()
    client.text_document_did_change(  # the user types something the stream contradicts
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="x = 1\n")],
        )
    )
    assert await wait_until(client, lambda state: not state["generating"], 5)
    idle_after = time.monotonic() - typed
    assert items_of(await pending) == []
    state = await embedded(client)
    print(f"stopped {state['lastStopMs']} ms after the cancel; idle {idle_after * 1000:.0f} ms")
    assert state["lastStopMs"] is not None and state["lastStopMs"] < STOP_BUDGET_MS


async def test_the_built_in_instruct_model_answers_chat_and_signs_it(
    client: LanguageClient,
) -> None:
    """Chat is configured for qwen2.5-coder:7b, which does not answer: the built-in
    instruction-tuned model does (never the base model, which would echo the prompt), in
    a few lines with none of its prompt, and the signature (printed under the answer by the
    editors) names it."""
    await command(client, "codehearth.memory.show")  # memory is open
    result = await command(client, "codehearth.chat", {"question": "What is 2 + 2?"})
    assert result["ok"] is True, result
    print(f"\nSmolLM2-135M-Instruct answers: {result['text']!r}")
    assert result["model"] == "smollm2-135m-instruct", result
    assert result["answeredBy"].startswith("smollm2-135m-instruct ("), result
    assert len(result["text"].splitlines()) < 25
    assert "You are CodeHearth" not in result["text"] and "Core memory" not in result["text"]
    report = await status(client)
    assert "smollm2-135m-instruct" in report["models"]["answered"]["chat"]
    routes = {(r["role"], r["model"]): r for r in report["models"]["routes"]}
    assert routes[("chat", "smollm2-135m-instruct")]["capabilities"] == ["instruct"]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def base_as_instruct(
    lsp_client: LanguageClient, dead_ollama: str, workspace: Path
) -> AsyncIterator[None]:
    """The built-in chat model set to a base model's GGUF (Gemma 3 270M: no chat template)."""
    accept_registrations(lsp_client)
    await lsp_client.initialize_session(
        initialize_params(
            workspace,
            capabilities("visual-studio-code"),
            {
                "ollama": {"host": dead_ollama, "warmUp": False},
                "models": {"embeddedInstructModelPath": str(assemble_bundled_model())},
            },
        )
    )
    yield
    await lsp_client.shutdown_session()


async def test_a_model_without_a_chat_template_is_never_sent_a_chat(
    base_as_instruct: LanguageClient,
) -> None:
    """Chat says in one sentence that no model can follow a conversation, and how to get
    one; the base model is asked what it is (its GGUF metadata), never to chat."""
    client = base_as_instruct
    await command(client, "codehearth.memory.show")  # memory is open
    result = await command(client, "codehearth.chat", {"question": "What is 2 + 2?"})
    assert result["ok"] is False, result
    message = result["error"]
    assert message.startswith("No model that follows instructions can answer chat ("), message
    assert "no chat template" in message and "codehearth[embedded]" in message
    state = (await status(client))["models"]["embedded"]["gemma-3-270m-q4_k_m"]
    assert state["generations"] == 0
