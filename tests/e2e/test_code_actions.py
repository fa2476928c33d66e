"""Code actions end to end: stubs at once, the refine loop on resolve, only verified edits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import open_document
from tests.fakes.fake_ollama import FakeOllama

SOURCE = "import sys\n\n\ndef main():\n    argv = sys.argv[1:]\n    print(sys.argv)\n"
UNUSED_VARIABLE = types.Diagnostic(
    range=types.Range(
        start=types.Position(line=4, character=4), end=types.Position(line=4, character=8)
    ),
    message="Local variable `argv` is assigned to but never used",
    code="F841",
    source="ruff",
)
"""A diagnostic ruff has no safe fix for, so the model is asked (an unused import it
fixes itself, with no model: see test_a_ruff_fix_needs_no_model)."""


def request(uri: str, diagnostics: list[types.Diagnostic]) -> types.CodeActionParams:
    return types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(
            start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
        ),
        context=types.CodeActionContext(diagnostics=diagnostics),
    )


def scripted(*answers: str) -> Any:
    """A model that gives these answers in turn (then repeats the last)."""
    calls: list[Any] = []

    def answer(body: dict[str, Any]) -> str:
        calls.append(body)
        return answers[min(len(calls), len(answers)) - 1]

    answer.calls = calls  # type: ignore[attr-defined]
    return answer


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait for what the server sends after it answered (an edit, a chat chunk)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        assert loop.time() < deadline, f"not within {seconds} s"
        await asyncio.sleep(0.02)


async def quick_fix(client: LanguageClient, workspace: Path) -> tuple[str, types.CodeAction]:
    uri = open_document(client, workspace, "tool.py", SOURCE)
    actions = await client.text_document_code_action_async(request(uri, [UNUSED_VARIABLE]))
    assert actions is not None
    [stub] = [a for a in actions if isinstance(a, types.CodeAction)]
    assert stub.kind == "quickfix.codehearth" and stub.edit is None
    return uri, stub


async def test_a_weak_models_fix_is_verified_after_feedback(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    model = scripted("```python\n    argv = (\n```", "```python\n```")
    ollama.responder = model
    uri, stub = await quick_fix(client, workspace)
    resolved = await client.code_action_resolve_async(stub)
    assert resolved.edit is not None
    if resolved.edit.document_changes:  # VS Code: versioned document changes
        [document_edit] = resolved.edit.document_changes
        assert isinstance(document_edit, types.TextDocumentEdit)
        assert document_edit.text_document.uri == uri
        assert document_edit.text_document.version == 1
        edits = list(document_edit.edits)
    else:  # Neovim's captured capabilities: plain changes
        assert resolved.edit.changes is not None and list(resolved.edit.changes) == [uri]
        edits = list(resolved.edit.changes[uri])
    [edit] = edits
    assert isinstance(edit, types.TextEdit)
    assert edit.range.start.line == 4 and edit.new_text == ""
    assert len(model.calls) == 2
    assert [call["think"] for call in model.calls] == [False, False]  # no hidden reasoning
    critique = model.calls[1]["messages"][-1]["content"]
    assert "parses" in critique or "syntax" in critique.lower()


async def test_no_edit_is_offered_when_nothing_verifies(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    ollama.responder = scripted("```python\n    argv = (\n```")
    _, stub = await quick_fix(client, workspace)
    resolved = await client.code_action_resolve_async(stub)
    assert resolved.edit is None
    assert any("no verified edit for quick fix" in m.message for m in client.messages)


UNUSED_IMPORT = types.Diagnostic(
    range=types.Range(
        start=types.Position(line=0, character=7), end=types.Position(line=0, character=9)
    ),
    message="`os` imported but unused",
    code="F401",
    source="ruff",
)
BROKEN = "def total(prices: list[float]) -> float\n    return sum(prices)\n"
SYNTAX_ERROR = types.Diagnostic(
    range=types.Range(
        start=types.Position(line=0, character=0), end=types.Position(line=0, character=40)
    ),
    message="expected ':'",
    code="syntax",
    source="codehearth",
)


async def fixed_without_model(
    client: LanguageClient, uri: str, diagnostic: types.Diagnostic
) -> list[tuple[int, int, str]]:
    """The quick fix for ``diagnostic``, resolved: (line, character, new text) of each
    edit, whatever the workspace edit's shape."""
    actions = await client.text_document_code_action_async(request(uri, [diagnostic]))
    assert actions is not None
    [stub] = [a for a in actions if isinstance(a, types.CodeAction)]
    resolved = await client.code_action_resolve_async(stub)
    assert resolved.edit is not None
    changes = resolved.edit.document_changes or []
    edits = (
        [e for change in changes for e in change.edits]  # type: ignore[union-attr]
        if changes
        else list((resolved.edit.changes or {})[uri])
    )
    return [(e.range.start.line, e.range.start.character, e.new_text) for e in edits]


async def test_a_ruff_fix_needs_no_model(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    ollama.responder = scripted("```python\nimport os as\n```")  # it would be wrong
    uri = open_document(client, workspace, "tool.py", "import os\n" + SOURCE)
    assert await fixed_without_model(client, uri, UNUSED_IMPORT) == [(0, 0, "")]
    assert ollama.generations() == []  # no model was asked


async def test_a_deleted_colon_is_repaired_with_no_model(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    ollama.responder = scripted("I cannot help with that.")
    uri = open_document(client, workspace, "total.py", BROKEN)
    assert await fixed_without_model(client, uri, SYNTAX_ERROR) == [(0, 39, ":")]
    assert ollama.generations() == []
