"""A fix for a language CodeHearth cannot check itself (here Go) is offered once it parses,
and the client's diagnostics settle it later: the next code-action request over the fixed
line, after the edit, says whether the client still reports the diagnostic, and the
answer is added to the action's trace."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import open_document
from tests.e2e.test_code_actions import scripted
from tests.e2e.test_memory_commands import command
from tests.fakes.fake_ollama import FakeOllama

SOURCE = "package main\n\nfunc main() {\n\tx := 1\n}\n"
FIXED = "package main\n\nfunc main() {\n\t_ = 1\n}\n"
UNUSED = types.Diagnostic(
    range=types.Range(
        start=types.Position(line=3, character=1), end=types.Position(line=3, character=2)
    ),
    message="declared and not used: x",
    code="UnusedVar",
    source="compiler",
)
LINE_3 = types.Range(
    start=types.Position(line=3, character=0), end=types.Position(line=3, character=0)
)


def ask(uri: str, diagnostics: list[types.Diagnostic]) -> types.CodeActionParams:
    return types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=LINE_3,
        context=types.CodeActionContext(diagnostics=diagnostics),
    )


@pytest.mark.parametrize(
    ("after_the_edit", "cleared"),
    [
        pytest.param([], True, id="gone"),
        pytest.param([UNUSED], False, id="still-reported"),
    ],
)
async def test_the_clients_diagnostics_settle_a_fix_after_it_is_applied(
    client: LanguageClient,
    ollama: FakeOllama,
    workspace: Path,
    after_the_edit: list[types.Diagnostic],
    cleared: bool,
) -> None:
    ollama.responder = scripted("```go\n\t_ = 1\n```")
    uri = open_document(client, workspace, "main.go", SOURCE, "go")
    actions = await client.text_document_code_action_async(ask(uri, [UNUSED]))
    [stub] = [a for a in actions or [] if isinstance(a, types.CodeAction)]
    resolved = await client.code_action_resolve_async(stub)
    assert resolved.edit is not None  # it parses; go has no checker of ours
    client.text_document_did_change(  # the editor applies the edit
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=FIXED)],
        )
    )
    await client.text_document_code_action_async(ask(uri, after_the_edit))
    for _ in range(100):
        [trace] = (await command(client, "codehearth.refineTrace", 1))["traces"]
        checks = {c["name"]: c for c in trace["rounds"][-1]["checks"]}
        if "client_diagnostics" in checks:
            break
    assert checks["client_diagnostics"]["ok"] is cleared
    assert "declared and not used" in checks["client_diagnostics"]["detail"]
