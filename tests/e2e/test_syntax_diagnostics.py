"""Syntax diagnostics (opt-in): published for open documents, and fixed by a verified
CodeHearth quick fix."""

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


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def syntax_client(
    lsp_client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> AsyncIterator[None]:
    accept_registrations(lsp_client)
    options = init_options(ollama)
    options["diagnostics"] = {"syntax": True}
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


async def test_a_syntax_error_is_published_and_fixed(
    syntax_client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    uri = open_document(syntax_client, workspace, "broken.py", BROKEN)
    await asyncio.wait_for(
        syntax_client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), 10
    )
    [diagnostic] = syntax_client.diagnostics[uri]
    assert (diagnostic.source, diagnostic.code, diagnostic.range.start.line) == (
        "codehearth",
        "syntax",
        3,
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
