"""``codehearth.toml`` edits apply without a restart in editors that watch no files: the
server polls the file's modification time (Neovim 0.11's capabilities: no dynamic
registration of file watchers), and a ``didSave`` of the file reloads at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import inline_params, open_document
from tests.fakes.fake_ollama import FakeOllama

ADD = "def add(a, b):\n    \n"
RELOADED = "codehearth.toml changed: settings reloaded"
TOML = "[completion]\nnum_ctx = 8192\n"


async def reloaded(client: LanguageClient, seconds: float) -> bool:
    for _ in range(int(seconds / 0.1)):
        if any(RELOADED in message.message for message in client.log_messages):
            return True
        await asyncio.sleep(0.1)
    return False


def completion_params(uri: str) -> types.CompletionParams:
    return types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=1, character=4),
    )


async def test_an_edit_is_noticed_without_file_events(
    plain_client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    """Neovim 0.11 (no watcher registration): codehearth.toml written, no event sent; within
    a poll the settings are reloaded and the next completion asks with its num_ctx."""
    registrations = getattr(plain_client, "registrations", [])
    assert not [r for r in registrations if r.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES]
    uri = open_document(plain_client, workspace, "add.py", ADD)
    await plain_client.text_document_completion_async(completion_params(uri))
    before = len(ollama.generations())
    (workspace / "codehearth.toml").write_text(TOML, encoding="utf-8")
    assert await reloaded(plain_client, seconds=6), [m.message for m in plain_client.log_messages]
    await plain_client.text_document_completion_async(completion_params(uri))
    contexts = [g.body["options"]["num_ctx"] for g in ollama.generations() if g.body]
    assert set(contexts[:before]) == {4096} and set(contexts[before:]) == {8192}, contexts


async def test_saving_the_file_reloads_at_once(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    """An editor that has codehearth.toml open for the server (didOpen, didSave) and sends
    no file event for it: the save reloads the settings."""
    path = workspace / "codehearth.toml"
    path.write_text("", encoding="utf-8")
    open_document(client, workspace, "codehearth.toml", "", language_id="toml")
    path.write_text(TOML, encoding="utf-8")
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(path.as_uri()))
    )
    assert await reloaded(client, seconds=1), [m.message for m in client.log_messages]
    uri = open_document(client, workspace, "add.py", ADD)
    await client.text_document_inline_completion_async(inline_params(uri, 1, 4, invoked=False))
    body = ollama.generations()[0].body
    assert body is not None and body["options"]["num_ctx"] == 8192
