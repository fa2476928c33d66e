"""Syntax diagnostics with default settings: published for open documents on the line of
the error and named, held back while a broken line is being typed, cleared once fixed or
turned off, and fixed by a verified CodeHearth quick fix."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.e2e.conftest import (
    SERVER_COMMAND,
    accept_registrations,
    capabilities,
    init_options,
    open_document,
)
from tests.fakes.fake_ollama import FakeOllama

BROKEN = "import sys\n\n\ndef main(:\n    print(sys.argv)\n"

INVENTORY = '''"""Prices."""


def total(items: list[float]) -> float:
    """The sum."""
    return sum(items)


def cheapest(items: list[float]) -> float | None:
    """The lowest price, or None for an empty list."""
    return min(items, default=None)
'''
CHEAPEST = 8
KEYSTROKE_SECONDS = 0.15
"""Typing speed: well under the server's idle time before it shows a new error."""
BETWEEN_EDITS_SECONDS = 0.6
"""Longer than the server's settle time, shorter than its idle time."""


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def syntax_client(
    lsp_client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> AsyncIterator[None]:
    """Default settings (the fake model, no index): ``diagnostics.syntax`` is not set."""
    accept_registrations(lsp_client)
    options = init_options(ollama)
    options["index"] = {"enabled": False}
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities("visual-studio-code"),
            root_uri=workspace.as_uri(),
            initialization_options=options,
        )
    )
    yield
    await lsp_client.shutdown_session()


async def published(
    client: LanguageClient, uri: str, seconds: float = 10
) -> list[types.Diagnostic]:
    """The next diagnostics published for ``uri``."""
    client.diagnostics.pop(uri, None)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while uri not in client.diagnostics:
        await asyncio.wait_for(
            client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS),
            deadline - loop.time(),
        )
    return list(client.diagnostics[uri])


def insert(
    client: LanguageClient, uri: str, version: int, line: int, column: int, text: str
) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=line, character=column),
                        end=types.Position(line=line, character=column),
                    ),
                    text=text,
                )
            ],
        )
    )


async def test_a_lost_colon_is_expected_on_its_own_line(
    syntax_client: LanguageClient, workspace: Path
) -> None:
    text = INVENTORY.replace("-> float | None:", "-> float | None")
    uri = open_document(syntax_client, workspace, "inventory.py", text)
    [diagnostic] = await published(syntax_client, uri)
    assert (diagnostic.message, diagnostic.source, diagnostic.code) == (
        "expected ':'",
        "codehearth",
        "syntax",
    )
    assert diagnostic.range == types.Range(
        start=types.Position(line=CHEAPEST, character=44),
        end=types.Position(line=CHEAPEST, character=48),
    )


async def test_a_broken_line_is_shown_once_typing_pauses_and_cleared_once_fixed(
    syntax_client: LanguageClient, workspace: Path
) -> None:
    uri = open_document(syntax_client, workspace, "inventory.py", INVENTORY)
    await asyncio.sleep(1.0)
    assert uri not in syntax_client.diagnostics  # a file that parses gets no publish
    line, version = INVENTORY.count("\n"), 1
    column = 0
    for word in ("\n\n", "def ", "dearest", "(items", ")"):  # a pause after each word
        for char in word:
            version += 1
            insert(syntax_client, uri, version, line, column, char)
            line, column = (line + 1, 0) if char == "\n" else (line, column + 1)
            await asyncio.sleep(KEYSTROKE_SECONDS)
        await asyncio.sleep(BETWEEN_EDITS_SECONDS)
        assert uri not in syntax_client.diagnostics, f"published after {word!r}"
    [diagnostic] = await published(syntax_client, uri)
    assert (diagnostic.range.start.line, diagnostic.message) == (line, "expected ':'")

    syntax_client.diagnostics.pop(uri)
    for char in ":\n    return max(items)":  # never idle long enough to show a new error
        version += 1
        insert(syntax_client, uri, version, line, column, char)
        line, column = (line + 1, 0) if char == "\n" else (line, column + 1)
        await asyncio.sleep(BETWEEN_EDITS_SECONDS if char in ":\n" else KEYSTROKE_SECONDS)
        if uri in syntax_client.diagnostics:
            break
    assert syntax_client.diagnostics.get(uri) is not None, (
        "the fix was not published before a pause"
    )
    assert list(syntax_client.diagnostics[uri]) == []


async def test_turning_the_setting_off_clears_them(
    syntax_client: LanguageClient, workspace: Path
) -> None:
    uri = open_document(syntax_client, workspace, "broken.py", BROKEN)
    assert [d.message for d in await published(syntax_client, uri)] == ["expected ')'"]
    (workspace / "codehearth.toml").write_text("[diagnostics]\nsyntax = false\n")
    syntax_client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[
                types.FileEvent(
                    uri=(workspace / "codehearth.toml").as_uri(), type=types.FileChangeType.Created
                )
            ]
        )
    )
    assert await published(syntax_client, uri) == []


async def test_a_syntax_error_is_published_and_fixed(
    syntax_client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    uri = open_document(syntax_client, workspace, "broken.py", BROKEN)
    [diagnostic] = await published(syntax_client, uri)
    assert (diagnostic.source, diagnostic.code, diagnostic.message) == (
        "codehearth",
        "syntax",
        "expected ')'",
    )
    assert diagnostic.range == types.Range(
        start=types.Position(line=3, character=8), end=types.Position(line=3, character=9)
    )
    ollama.set_text("```python\ndef main():\n```")
    actions = await syntax_client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    assert actions is not None
    [fix] = [
        a for a in actions if isinstance(a, types.CodeAction) and a.kind.startswith("quickfix")
    ]
    assert fix.title == "CodeHearth: fix syntax “expected ')'”"
    resolved = await syntax_client.code_action_resolve_async(fix)
    assert resolved.edit is not None and resolved.edit.document_changes
    [change] = resolved.edit.document_changes
    assert isinstance(change, types.TextDocumentEdit)
    assert apply(BROKEN, list(change.edits)) == BROKEN.replace("def main(:", "def main():")


def apply(text: str, edits: list[types.TextEdit | types.AnnotatedTextEdit]) -> str:
    """Apply single-line edits (as the server's minimal edits here are), last first."""
    lines = text.split("\n")
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character))[::-1]:
        start, end = edit.range.start, edit.range.end
        assert start.line == end.line
        line = lines[start.line]
        lines[start.line] = line[: start.character] + edit.new_text + line[end.character :]
    return "\n".join(lines)
