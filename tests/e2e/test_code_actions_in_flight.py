"""Code actions while the model works: every request is answered in time for a client
that gives up after 10 s (eglot), the verified edit follows by ``workspace/applyEdit``
(once, however often the action is picked), and typing, a cancelled resolve or a shutdown
stop the run with nothing stale applied and nothing left running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled
from pytest_lsp import ClientServerConfig, LanguageClient

from codehearth.client import read_code_actions_as_editors_do
from codehearth.features.code_actions import RESOLVE_WAIT_SECONDS
from tests.e2e.conftest import (
    SERVER_COMMAND,
    accept_registrations,
    capabilities,
    init_options,
    initialize_params,
    open_document,
)
from tests.e2e.test_code_actions import SOURCE, UNUSED_VARIABLE, request, scripted, until
from tests.fakes.fake_ollama import FakeOllama

FIX = "```python\n```\n"  # the target line `import os`, deleted
WORKING = "CodeHearth: working on the quick fix; its edit follows once it is verified"
STILL_WORKING = "CodeHearth: still working on the quick fix; its edit follows once it is verified"


async def start_editor(
    client: LanguageClient, ollama: FakeOllama, workspace: Path, *, like_eglot: bool
) -> None:
    """VS Code's capabilities (it resolves code actions and shows progress), or, like
    eglot 1.9, neither; ``workspace/applyEdit`` is applied (recorded in ``applied``)."""
    accept_registrations(client)
    read_code_actions_as_editors_do(client)
    applied: list[types.ApplyWorkspaceEditParams] = []

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        applied.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    caps = capabilities("visual-studio-code", inline=False)
    if like_eglot:
        assert caps.text_document is not None and caps.text_document.code_action is not None
        assert caps.window is not None
        caps.text_document.code_action.resolve_support = None
        caps.window.work_done_progress = False
    client.applied = applied  # type: ignore[attr-defined]
    await client.initialize_session(initialize_params(workspace, caps, init_options(ollama)))


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def eglot(
    lsp_client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> AsyncIterator[None]:
    await start_editor(lsp_client, ollama, workspace, like_eglot=True)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def vscode(
    lsp_client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> AsyncIterator[None]:
    await start_editor(lsp_client, ollama, workspace, like_eglot=False)
    yield
    if not getattr(lsp_client, "shut_down", False):
        await lsp_client.shutdown_session()


async def the_quick_fix(client: LanguageClient, workspace: Path) -> tuple[str, types.CodeAction]:
    uri = open_document(client, workspace, "tool.py", SOURCE)
    actions = await client.text_document_code_action_async(request(uri, [UNUSED_VARIABLE]))
    [fix] = [a for a in actions or [] if isinstance(a, types.CodeAction)]
    return uri, fix


async def execute(client: LanguageClient, command: types.Command | None) -> Any:
    assert command is not None
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command.command, arguments=command.arguments)
    )


def the_edit(client: LanguageClient, uri: str) -> types.TextEdit:
    """The one edit the server asked the client to apply, for version 1 of ``uri``."""
    [params] = client.applied  # type: ignore[attr-defined]
    [change] = params.edit.document_changes or []
    assert isinstance(change, types.TextDocumentEdit)
    assert (change.text_document.uri, change.text_document.version) == (uri, 1)
    [edit] = change.edits
    assert isinstance(edit, types.TextEdit)
    return edit


def shown(client: LanguageClient) -> list[str]:
    return [message.message for message in client.messages]


async def test_a_pick_is_answered_at_once_and_its_verified_edit_follows_once(
    eglot: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    """eglot 1.9 runs the stub's command and gives up after 10 s: the command answers at
    once, a second pick while the model works joins the first (one model run, one
    edit), each pick is acknowledged by a message (no $/progress in eglot 1.9)."""
    client = eglot
    ollama.first_token_delay = 2.0
    ollama.responder = scripted(FIX)
    uri, fix = await the_quick_fix(client, workspace)
    assert fix.command is not None and fix.command.command == "codehearth.applyAction"
    loop = asyncio.get_running_loop()
    picked = loop.time()
    first = await execute(client, fix.command)
    again = await execute(client, fix.command)
    assert loop.time() - picked < 1.0 and not client.applied  # type: ignore[attr-defined]
    assert first == {"started": True, "reason": "running"}
    assert again == {"started": False, "reason": "already running"}
    await until(lambda: bool(client.applied))  # type: ignore[attr-defined]
    edit = the_edit(client, uri)
    assert edit.range.start.line == 4 and edit.new_text == ""
    assert len(ollama.generations()) == 1
    assert shown(client) == [WORKING, STILL_WORKING]


async def test_typing_while_the_model_works_stops_it_and_applies_nothing(
    eglot: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    client = eglot
    ollama.first_token_delay = 3.0
    ollama.responder = scripted(FIX)
    uri, fix = await the_quick_fix(client, workspace)
    assert (await execute(client, fix.command))["started"]
    assert await ollama.wait_for_async(lambda: len(ollama.generations()) == 1)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=types.Position(5, 0), end=types.Position(5, 0)),
                    text="    # typed meanwhile\n",
                )
            ],
        )
    )
    stopped = "CodeHearth: the quick fix stopped: the document changed; pick the action again"
    await until(lambda: stopped in shown(client))
    assert await ollama.wait_for_async(
        lambda: ollama.generations()[0].client_disconnected, timeout=2
    )  # the model was stopped, not left to finish
    assert not client.applied  # type: ignore[attr-defined]


async def test_a_slow_fix_is_handed_from_resolve_to_the_command(
    vscode: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    """A client that resolves gets an answer within RESOLVE_WAIT_SECONDS: without the edit
    when the model is slower, with the command that takes over the same run; the edit
    follows by workspace/applyEdit, under a $/progress item."""
    client = vscode
    ollama.first_token_delay = RESOLVE_WAIT_SECONDS + 1.5
    ollama.responder = scripted(FIX)
    uri, fix = await the_quick_fix(client, workspace)
    assert fix.command is None and fix.edit is None  # VS Code resolves
    loop = asyncio.get_running_loop()
    picked = loop.time()
    resolved = await client.code_action_resolve_async(fix)
    assert loop.time() - picked < RESOLVE_WAIT_SECONDS + 1
    assert resolved.edit is None and resolved.command is not None
    assert resolved.command.command == "codehearth.applyAction"
    assert await execute(client, resolved.command) == {"started": True, "reason": "running"}
    await until(lambda: bool(client.applied))  # type: ignore[attr-defined]
    assert the_edit(client, uri).range.start.line == 4
    assert len(ollama.generations()) == 1  # the command took over the run, not a new one
    [end] = [
        reports[-1]
        for reports in client.progress_reports.values()
        if reports and getattr(reports[0], "title", "") == "CodeHearth: quick fix"
    ]
    assert isinstance(end, types.WorkDoneProgressEnd) and end.message == "verified"
    assert shown(client) == []  # the progress said it all


async def test_a_resolve_the_client_cancels_stops_the_model(
    vscode: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    client = vscode
    ollama.first_token_delay = 3.0
    ollama.responder = scripted(FIX)
    _, fix = await the_quick_fix(client, workspace)
    pending = asyncio.ensure_future(
        client.protocol.send_request_async(types.CODE_ACTION_RESOLVE, fix, msg_id=4343)
    )
    assert await ollama.wait_for_async(lambda: len(ollama.generations()) == 1)
    client.cancel_request(types.CancelParams(id=4343))
    with pytest.raises(JsonRpcRequestCancelled):
        await pending
    assert await ollama.wait_for_async(
        lambda: ollama.generations()[0].client_disconnected, timeout=2
    )


async def test_shutdown_answers_a_pending_resolve_and_stops_the_model(
    vscode: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    client = vscode
    ollama.first_token_delay = 3.0
    ollama.responder = scripted(FIX)
    _, fix = await the_quick_fix(client, workspace)
    pending = asyncio.ensure_future(client.code_action_resolve_async(fix))
    assert await ollama.wait_for_async(lambda: len(ollama.generations()) == 1)
    await asyncio.wait_for(client.shutdown_async(None), 5)
    client.shut_down = True  # type: ignore[attr-defined]
    done, _ = await asyncio.wait([pending], timeout=5)
    assert done, "the resolve was never answered"
    if pending.exception() is None:  # answered before pygls cancelled it: no edit
        assert pending.result().edit is None
    else:
        assert isinstance(pending.exception(), JsonRpcRequestCancelled)
    assert await ollama.wait_for_async(
        lambda: ollama.generations()[0].client_disconnected, timeout=2
    )
    client.exit(None)
