"""Memory commands over LSP: add, search, show, forget; bad arguments get -32602; what
one server process stored, the next one finds."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pytest_lsp import LanguageClient

from tests.e2e.conftest import (
    SERVER_COMMAND,
    capabilities,
    init_options,
    inline_params,
    items_of,
    open_document,
)
from tests.fakes.fake_ollama import FakeOllama


async def command(client: LanguageClient, name: str, *arguments: Any) -> Any:
    for _ in range(100):  # the store opens in the background after `initialized`
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=list(arguments))
        )
        if not (isinstance(result, dict) and result.get("problem") == "memory is not open yet"):
            return result
        await asyncio.sleep(0.05)
    raise AssertionError("memory never opened")


async def test_add_search_show_forget(client: LanguageClient) -> None:
    added = await command(
        client, "codehearth.memory.add", {"text": "Deploys go out on Thursdays", "tags": ["ops"]}
    )
    assert added["ok"] is True
    found = await command(client, "codehearth.memory.search", {"query": "when do deploys go"})
    assert [hit["text"] for hit in found["archival"]] == ["Deploys go out on Thursdays"]
    shown = await command(client, "codehearth.memory.show")
    assert shown["available"] is True and shown["archivalCount"] == 1
    forgotten = await command(client, "codehearth.memory.forget", {"id": added["id"]})
    assert forgotten["ok"] is True
    assert (await command(client, "codehearth.memory.show"))["archivalCount"] == 0


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param([{"text": "   "}], id="blank-text"),
        pytest.param([{"txt": "typo"}], id="unknown-key"),
        pytest.param([], id="missing-argument"),
    ],
)
async def test_bad_arguments_get_invalid_params(
    client: LanguageClient, arguments: list[Any]
) -> None:
    await command(client, "codehearth.memory.show")
    with pytest.raises(JsonRpcInvalidParams):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="codehearth.memory.add", arguments=arguments)
        )


async def test_memory_survives_a_server_restart(ollama: FakeOllama, workspace: Path) -> None:
    async def session() -> LanguageClient:
        client = LanguageClient()
        await client.start_io(*SERVER_COMMAND)
        await client.initialize_session(
            types.InitializeParams(
                capabilities=capabilities("visual-studio-code"),
                root_uri=workspace.as_uri(),
                initialization_options=init_options(ollama),
            )
        )
        return client

    first = await session()
    await command(first, "codehearth.memory.add", {"text": "The team lead is Ana"})
    await first.shutdown_session()
    second = await session()
    found = await command(second, "codehearth.memory.search", {"query": "team lead"})
    await second.shutdown_session()
    assert [hit["text"] for hit in found["archival"]] == ["The team lead is Ana"]


async def test_notes_are_embedded_through_ollama_for_hybrid_search(
    client: LanguageClient, ollama: FakeOllama
) -> None:
    await command(client, "codehearth.memory.add", {"text": "Releases are signed with cosign"})
    found = await command(client, "codehearth.memory.search", {"query": "how are releases signed"})
    assert found["archival"][0]["text"] == "Releases are signed with cosign"
    embeds = [r for r in ollama.requests if r.path == "/api/embed"]
    assert embeds and all(r.body and r.body["model"] == "nomic-embed-text" for r in embeds)
    assert [r.body["input"] for r in embeds if r.body] == [  # nomic's task prefixes
        ["search_document: Releases are signed with cosign"],
        ["search_query: how are releases signed"],
    ]


async def test_accepted_and_rejected_suggestions_are_remembered(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    await command(client, "codehearth.memory.show")
    uri = open_document(client, workspace, "add.py", "def add(a, b):\n    \n")
    items = items_of(await client.text_document_inline_completion_async(inline_params(uri, 1, 4)))
    assert items[0].command is not None
    # The editor runs the item's command when the user accepts it.
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=items[0].command.command, arguments=items[0].command.arguments
        )
    )
    ollama.set_text("return a - b\n")
    other = open_document(client, workspace, "sub.py", "def sub(a, b):\n    \n")
    await client.text_document_inline_completion_async(inline_params(other, 1, 4))
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=other, version=2),
            content_changes=[
                types.TextDocumentContentChangeWholeDocument(text="def sub(a, b):\n    pass\n")
            ],
        )
    )
    for _ in range(100):
        recent = (await command(client, "codehearth.memory.show"))["recent"]
        outcomes = [(r["text"], r["accepted"]) for r in recent if r["kind"] == "suggestion"]
        if len(outcomes) == 2:
            break
        await asyncio.sleep(0.05)
    assert outcomes == [("return a + b", True), ("return a - b", False)]
