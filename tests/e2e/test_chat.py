"""Chat end to end: answers stream as codehearth/chatChunk, selections and memory reach the
prompt, and cancelling the progress stops the Ollama stream."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import open_document
from tests.e2e.test_code_actions import until
from tests.e2e.test_memory_commands import command
from tests.fakes.fake_ollama import FakeOllama


def collect_chunks(client: LanguageClient) -> list[str]:
    chunks: list[str] = []

    @client.feature("codehearth/chatChunk")
    def on_chunk(params: Any) -> None:
        chunks.append(params.text if hasattr(params, "text") else params["text"])

    return chunks


async def test_chat_streams_an_answer_that_knows_the_selection_and_memory(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    chunks = collect_chunks(client)
    await command(client, "codehearth.memory.show")  # memory is open
    ollama.set_text("It adds two numbers and returns the sum.")
    uri = open_document(client, workspace, "add.py", "def add(a, b):\n    return a + b\n")
    selection = types.Range(
        start=types.Position(line=0, character=0), end=types.Position(line=1, character=16)
    )
    result = await command(
        client,
        "codehearth.chat",
        {"question": "What does this do?", "uri": uri, "range": selection},
    )
    assert result["ok"] is True
    assert result["text"] == "It adds two numbers and returns the sum."
    assert "".join(chunks) == result["text"]
    body = ollama.generations()[-1].body
    assert body is not None and body["model"] == "qwen2.5-coder:7b"
    assert "think" not in body  # chat leaves a thinking model to its default
    prompt = "\n".join(message["content"] for message in body["messages"])
    assert "def add(a, b):" in prompt and "What does this do?" in prompt
    second = await command(client, "codehearth.chat", {"question": "And again?"})
    assert second["ok"] is True
    history = ollama.generations()[-1].body["messages"]  # type: ignore[index]
    assert any(m["content"] == "What does this do?" for m in history)


async def test_a_question_asked_in_the_background_is_answered_at_once_then_streamed(
    client: LanguageClient, ollama: FakeOllama
) -> None:
    """With ``background: true`` (eglot gives up on a request after 10 s) the command
    answers before the model does, and the answer follows as chunks, ended by a line
    break. Asked right after start: the question waits for memory to open."""
    chunks = collect_chunks(client)
    ollama.first_token_delay = 1.0
    ollama.set_text("Lists hold any objects, in order.")
    loop = asyncio.get_running_loop()
    asked = loop.time()
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="codehearth.chat",
            arguments=[{"question": "What does a list hold?", "background": True}],
        )
    )
    assert result == {"ok": True, "background": True}
    assert loop.time() - asked < 1.0 and chunks == []
    await until(lambda: "".join(chunks) == "Lists hold any objects, in order.\n")
    assert client.messages == []


async def test_cancelling_the_progress_stops_the_answer(
    client: LanguageClient, ollama: FakeOllama
) -> None:
    if client.editor != "visual-studio-code":  # type: ignore[attr-defined]
        return  # the bundled Neovim capabilities announce no work-done progress
    await command(client, "codehearth.memory.show")
    ollama.token_delay = 0.3
    pending = asyncio.ensure_future(
        command(client, "codehearth.chat", {"question": "Tell me a long story"})
    )
    assert await ollama.wait_for_async(lambda: ollama.open_streams == 1, 10)
    token = next(t for t in client.progress_reports if str(t).startswith("codehearth-chat-"))
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    result = await pending
    assert result == {"ok": False, "cancelled": True}
    assert await ollama.wait_for_async(
        lambda: ollama.generations()[-1].client_disconnected, timeout=2
    )


async def test_the_progress_item_says_writing_once_instead_of_each_token(
    client: LanguageClient, ollama: FakeOllama
) -> None:
    if client.editor != "visual-studio-code":  # type: ignore[attr-defined]
        return  # the bundled Neovim capabilities announce no work-done progress
    chunks = collect_chunks(client)
    await command(client, "codehearth.memory.show")
    ollama.set_text("It adds two numbers and returns the sum.")
    result = await command(client, "codehearth.chat", {"question": "What does add do?"})
    assert result["ok"] is True and len(chunks) > 3
    [token] = [t for t in client.progress_reports if str(t).startswith("codehearth-chat-")]
    reports = [r for r in client.progress_reports[token] if r.kind == "report"]
    assert [r.message for r in reports] == ["writing…"]


async def test_chat_prompt_carries_workspace_code_related_to_the_question(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    (workspace / "billing.py").write_text(
        "def compute_invoice_tax(amount):\n    return amount * 0.21\n", encoding="utf-8"
    )
    open_document(
        client,
        workspace,
        "billing.py",
        "def compute_invoice_tax(amount):\n    return amount * 0.21\n",
    )
    await command(client, "codehearth.memory.show")
    for _ in range(100):  # the index picks the open document up after its debounce
        result = await command(
            client, "codehearth.chat", {"question": "How is invoice tax computed?"}
        )
        prompt = "\n".join(m["content"] for m in ollama.generations()[-1].body["messages"])  # type: ignore[index]
        if "def compute_invoice_tax(amount):" in prompt:
            break
        await asyncio.sleep(0.1)
    assert result["ok"] is True
    assert "File billing.py:" in prompt and "def compute_invoice_tax(amount):" in prompt
