"""Inline completion end to end: the real server over stdio, the fake Ollama behind it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.e2e.conftest import (
    SERVER_COMMAND,
    inline_params,
    items_of,
    open_document,
    start,
    text_of,
)
from tests.fakes.fake_ollama import FakeOllama

ADD = "def add(a, b):\n    \n"


async def test_inline_completion_returns_model_text(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    uri = open_document(client, workspace, "add.py", ADD)
    result = await client.text_document_inline_completion_async(inline_params(uri, 1, 4))
    items = items_of(result)
    assert [text_of(item) for item in items] == ["return a + b"]
    assert items[0].range == types.Range(
        start=types.Position(line=1, character=4), end=types.Position(line=1, character=4)
    )
    body = ollama.generations()[0].body
    assert body is not None
    assert body["raw"] is True
    assert body["model"] == "qwen2.5-coder:1.5b-base"
    assert body["options"]["num_ctx"] == 4096
    assert body["keep_alive"] == "30m"
    assert "<|fim_prefix|>" in body["prompt"] and body["prompt"].endswith("<|fim_middle|>")
    assert "def add(a, b):\n    <|fim_suffix|>" in body["prompt"]


async def test_capabilities_offer_inline_completion_not_the_fallback(
    client: LanguageClient,
) -> None:
    capabilities = client.init_result.capabilities  # type: ignore[attr-defined]
    assert capabilities.inline_completion_provider is not None
    assert capabilities.completion_provider is None


async def test_automatic_trigger_asks_once_invoked_offers_alternatives(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    ollama.responder = lambda body: f"return a + b  # v{body['options'].get('seed', 0)}\n"
    uri = open_document(client, workspace, "add.py", ADD)
    automatic = items_of(
        await client.text_document_inline_completion_async(inline_params(uri, 1, 4, invoked=False))
    )
    assert [text_of(i) for i in automatic] == ["return a + b  # v0"]
    assert len(ollama.generations()) == 1
    invoked = items_of(
        await client.text_document_inline_completion_async(inline_params(uri, 1, 4, invoked=True))
    )
    # The first answer comes from the cache; two alternatives are sampled.
    assert [text_of(i) for i in invoked] == [
        "return a + b  # v0",
        "return a + b  # v1",
        "return a + b  # v2",
    ]
    assert len(ollama.generations()) == 3


async def test_a_multi_line_suggestion_ends_where_its_block_ends(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    """The model writes on past the function (a new def, a top-level print): the
    suggestion is the function body only."""
    ollama.set_text(
        '"""The larger of a and b."""\n    return max(a, b)\n\n\n'
        "def smaller(a, b):\n    return min(a, b)\n\n\nprint(larger(1, 2))\n"
    )
    uri = open_document(client, workspace, "larger.py", "def larger(a, b):\n    \n")
    items = items_of(await client.text_document_inline_completion_async(inline_params(uri, 1, 4)))
    body = '"""The larger of a and b."""\n    return max(a, b)'
    assert [text_of(item) for item in items] == [body]


async def test_auto_closed_tail_is_swallowed(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    ollama.set_text('"hello")\n')
    uri = open_document(client, workspace, "hello.py", "print()\n")
    items = items_of(await client.text_document_inline_completion_async(inline_params(uri, 0, 6)))
    assert [text_of(item) for item in items] == ['"hello")']
    assert items[0].range == types.Range(
        start=types.Position(line=0, character=6), end=types.Position(line=0, character=7)
    )


async def test_no_request_in_the_middle_of_an_identifier(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    uri = open_document(client, workspace, "mid.py", "value = compute_total(x)\n")
    result = await client.text_document_inline_completion_async(inline_params(uri, 0, 12))
    assert items_of(result) == []
    assert ollama.generations() == []


async def test_identical_request_is_answered_from_cache(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    uri = open_document(client, workspace, "add.py", ADD)
    params = inline_params(uri, 1, 4, invoked=False)
    first = items_of(await client.text_document_inline_completion_async(params))
    second = items_of(await client.text_document_inline_completion_async(params))
    assert [text_of(i) for i in first] == [text_of(i) for i in second] == ["return a + b"]
    assert len(ollama.generations()) == 1


async def test_typing_along_the_suggestion_reuses_the_stream(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    ollama.token_delay = 0.05
    uri = open_document(client, workspace, "add.py", ADD)
    first = asyncio.ensure_future(
        client.text_document_inline_completion_async(inline_params(uri, 1, 4, invoked=True))
    )
    assert await ollama.wait_for_async(lambda: len(ollama.generations()) == 1)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=1, character=4),
                        end=types.Position(line=1, character=4),
                    ),
                    text="ret",
                )
            ],
        )
    )
    second = await client.text_document_inline_completion_async(
        inline_params(uri, 1, 7, invoked=False)
    )
    assert [text_of(i) for i in items_of(second)] == ["urn a + b"]
    assert items_of(await first) == []  # its document version is gone
    assert await ollama.wait_for_async(lambda: ollama.generations()[0].finished_at is not None)
    generations = ollama.generations()
    assert len(generations) == 1
    assert generations[0].completed and not generations[0].client_disconnected


def selecting(
    params: types.InlineCompletionParams, start: int, end: int, text: str
) -> types.InlineCompletionParams:
    """The params with the suggest widget open on ``text`` (replacing ``start``..``end``
    on the cursor line)."""
    line = params.position.line
    params.context.selected_completion_info = types.SelectedCompletionInfo(
        range=types.Range(start=types.Position(line, start), end=types.Position(line, end)),
        text=text,
    )
    return params


def completes_print(body: dict[str, object]) -> str:
    """The model, asked with `print` in place: `(a + b)`; asked anything else: `oops`."""
    return "(a + b)\n" if "    print<|fim_suffix|>" in str(body["prompt"]) else "oops\n"


async def test_suggest_widget_item_is_completed_as_if_accepted(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    """The suggest widget offers `print` for the typed `pr`: the model completes `print`,
    and the item extends the widget's item over its range, as an editor requires to show
    it while the widget is open."""
    ollama.responder = completes_print
    uri = open_document(client, workspace, "add.py", "def add(a, b):\n    pr\n")
    params = selecting(inline_params(uri, 1, 6, invoked=False), 4, 6, "print")
    items = items_of(await client.text_document_inline_completion_async(params))
    assert [text_of(item) for item in items] == ["print(a + b)"]
    assert items[0].range == types.Range(
        start=types.Position(line=1, character=4), end=types.Position(line=1, character=6)
    )


async def test_typing_on_through_the_selected_item_asks_the_model_once(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    ollama.responder = completes_print
    uri = open_document(client, workspace, "add.py", "def add(a, b):\n    pr\n")
    first = selecting(inline_params(uri, 1, 6, invoked=False), 4, 6, "print")
    assert [
        text_of(i) for i in items_of(await client.text_document_inline_completion_async(first))
    ] == ["print(a + b)"]
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=types.Position(1, 6), end=types.Position(1, 6)),
                    text="i",
                )
            ],
        )
    )
    second = selecting(inline_params(uri, 1, 7, invoked=False), 4, 7, "print")
    items = items_of(await client.text_document_inline_completion_async(second))
    assert [text_of(item) for item in items] == ["print(a + b)"]
    assert items[0].range.end == types.Position(line=1, character=7)
    assert len(ollama.generations()) == 1


async def test_a_selected_item_on_another_line_gets_no_answer(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    uri = open_document(client, workspace, "add.py", "def add(a, b):\n    pr\n")
    params = selecting(inline_params(uri, 1, 6, invoked=False), 4, 6, "print")
    assert params.context.selected_completion_info is not None
    params.context.selected_completion_info.range.start.line = 0
    assert items_of(await client.text_document_inline_completion_async(params)) == []
    assert ollama.generations() == []


async def test_cancel_request_stops_the_stream(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    ollama.token_delay = 0.5
    uri = open_document(client, workspace, "add.py", ADD)
    pending = asyncio.ensure_future(
        client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(uri, 1, 4), msg_id=4242
        )
    )
    assert await ollama.wait_for_async(lambda: ollama.open_streams == 1)
    client.cancel_request(types.CancelParams(id=4242))
    with pytest.raises(JsonRpcRequestCancelled):
        await pending
    assert await ollama.wait_for_async(
        lambda: ollama.generations()[0].client_disconnected, timeout=2
    )
    assert await ollama.wait_for_async(lambda: ollama.open_streams == 0, timeout=2)


async def test_new_edit_cancels_the_stream_it_contradicts(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    ollama.token_delay = 0.5
    uri = open_document(client, workspace, "add.py", ADD)
    pending = asyncio.ensure_future(
        client.text_document_inline_completion_async(inline_params(uri, 1, 4))
    )
    assert await ollama.wait_for_async(lambda: ollama.open_streams == 1)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="x = 1\n")],
        )
    )
    assert items_of(await pending) == []
    assert await ollama.wait_for_async(
        lambda: ollama.generations()[0].client_disconnected, timeout=2
    )


async def test_settings_reload_switches_model(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    uri = open_document(client, workspace, "add.py", ADD)
    await client.text_document_inline_completion_async(inline_params(uri, 1, 4, invoked=False))
    client.set_configuration({"completion": {"model": "qwen2.5-coder:7b"}}, section="codehearth")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await asyncio.sleep(0.2)
    await client.text_document_inline_completion_async(inline_params(uri, 1, 4, invoked=False))
    models = [request.body["model"] for request in ollama.generations() if request.body]
    assert models == ["qwen2.5-coder:1.5b-base", "qwen2.5-coder:7b"]


async def test_codehearth_toml_overrides_client_settings(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    (workspace / "codehearth.toml").write_text(
        "[completion]\nnum_ctx = 8192\nnot_a_setting = 1\n", encoding="utf-8"
    )
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[
                types.FileEvent(
                    uri=(workspace / "codehearth.toml").as_uri(), type=types.FileChangeType.Created
                )
            ]
        )
    )
    await asyncio.sleep(0.2)
    uri = open_document(client, workspace, "add.py", ADD)
    await client.text_document_inline_completion_async(inline_params(uri, 1, 4, invoked=False))
    body = ollama.generations()[0].body
    assert body is not None and body["options"]["num_ctx"] == 8192
    assert any("not_a_setting" in message.message for message in client.log_messages)


async def test_fallback_completion_for_clients_without_inline_completion(
    plain_client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    """One item, inserted at the cursor: no range (the auto-closed `)` stays after it)."""
    ollama.set_text("b)\n")
    uri = open_document(plain_client, workspace, "add.py", "def add(a, b):\n    return add(a, )\n")
    result = await plain_client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=1, character=18),
        )
    )
    capabilities = plain_client.init_result.capabilities  # type: ignore[attr-defined]
    assert capabilities.completion_provider is not None
    assert isinstance(result, types.CompletionList)
    assert len(result.items) == 1
    item = result.items[0]
    assert (item.label, item.insert_text) == ("b", "b")
    assert item.insert_text_format == types.InsertTextFormat.PlainText
    assert item.text_edit is None and item.filter_text is None


MENU_EDITORS = {
    "neovim@v0.11.0": (  # snippets: the lines, later ones relative to the cursor line
        types.InsertTextFormat.Snippet,
        '"""Add a and b."""\nreturn a + b',
    ),
    "neovim@v0.7.0": (types.InsertTextFormat.PlainText, '"""Add a and b."""'),  # no snippets
    "emacs": (types.InsertTextFormat.PlainText, '"""Add a and b."""'),  # eglot, no yasnippet
}


@pytest_lsp.fixture(
    params=list(MENU_EDITORS), config=ClientServerConfig(server_command=SERVER_COMMAND)
)
async def menu_client(
    request: pytest.FixtureRequest, lsp_client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> AsyncIterator[None]:
    """A session with a shipped editor's capabilities, none with inline completion."""
    lsp_client.editor = request.param  # type: ignore[attr-defined]
    await start(lsp_client, ollama, workspace, request.param, inline=False)
    yield
    await lsp_client.shutdown_session()


async def test_fallback_item_of_several_lines_is_a_snippet_only_for_clients_with_snippets(
    menu_client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    ollama.set_text('"""Add a and b."""\n    return a + b\n\n\ndef sub(a, b):\n')
    uri = open_document(menu_client, workspace, "add.py", "def add(a, b):\n    \n")
    result = await menu_client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=1, character=4),
        )
    )
    assert isinstance(result, types.CompletionList) and len(result.items) == 1
    item = result.items[0]
    text_format, text = MENU_EDITORS[menu_client.editor]  # type: ignore[attr-defined]
    assert (item.insert_text_format, item.insert_text, item.label) == (text_format, text, text)
    assert item.text_edit is None


@pytest.mark.parametrize(
    "folder",
    [pytest.param("my project", id="space"), pytest.param("café", id="non-ascii")],
)
async def test_edits_reach_a_document_whose_uri_is_percent_encoded(
    client: LanguageClient, ollama: FakeOllama, workspace: Path, folder: str
) -> None:
    (workspace / folder).mkdir()
    uri = open_document(client, workspace, f"{folder}/add.py", ADD)
    assert "%" in uri
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangeWholeDocument(text="def mul(a, b):\n    \n")
            ],
        )
    )
    result = await client.text_document_inline_completion_async(inline_params(uri, 1, 4))
    assert [text_of(item) for item in items_of(result)] == ["return a + b"]
    prompts = [g.body["prompt"] for g in ollama.generations() if g.body]
    assert prompts and all("def mul(a, b):" in p and "def add" not in p for p in prompts)
