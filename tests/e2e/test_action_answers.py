"""Code actions end to end, beyond the quick fix: the trace command after a resolve, *write
tests* and user-defined actions (a verified edit, a chat answer), and model answers that
try to reach another file or the editor's settings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pytest_lsp import LanguageClient

from codehearth.client import read_code_actions_as_editors_do
from tests.e2e.conftest import open_document
from tests.e2e.test_chat import collect_chunks
from tests.e2e.test_code_actions import quick_fix, scripted, until
from tests.fakes.fake_ollama import FakeOllama

CUSTOM_ACTIONS = """\
[[actions.custom]]
title = "Use f-strings"
prompt = "Rewrite {code} from {file} ({language}) with f-strings."
mode = "edit"

[[actions.custom]]
title = "Review"
prompt = "Review this {language} code from {file}: {code} {instruction}"
mode = "chat"
"""
GREET = 'def greet(name):\n    return "Hello, " + name\n'
ANSWER_KIND = "refactor.answer.codehearth"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The project, with two user-defined actions in its codehearth.toml."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "codehearth.toml").write_text(CUSTOM_ACTIONS, encoding="utf-8")
    return root


def lines(start: int, end: int) -> types.Range:
    """Whole lines ``start``..``end - 1``, selected as editors do (end at column 0)."""
    return types.Range(
        start=types.Position(line=start, character=0), end=types.Position(line=end, character=0)
    )


async def actions_on(client: LanguageClient, uri: str, selection: types.Range) -> dict[str, Any]:
    read_code_actions_as_editors_do(client)
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=selection,
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert actions is not None
    return {a.title: a for a in actions if isinstance(a, types.CodeAction)}


async def execute(client: LanguageClient, command: types.Command) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command.command, arguments=command.arguments)
    )


async def last_trace(client: LanguageClient) -> dict[str, Any]:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="codehearth.refineTrace", arguments=[1])
    )
    [trace] = result["traces"]
    return trace


def edits_of(edit: types.WorkspaceEdit | None, uri: str) -> list[types.TextEdit]:
    assert edit is not None
    if edit.document_changes:
        [document_edit] = edit.document_changes
        assert isinstance(document_edit, types.TextDocumentEdit)
        assert document_edit.text_document.uri == uri
        return [e for e in document_edit.edits if isinstance(e, types.TextEdit)]
    assert edit.changes is not None and list(edit.changes) == [uri]
    return list(edit.changes[uri])


async def test_the_trace_command_shows_the_rounds_of_the_last_resolve(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    ollama.responder = scripted("```python\n    argv = (\n```", "```python\n```")
    _, stub = await quick_fix(client, workspace)
    resolved = await client.code_action_resolve_async(stub)
    assert resolved.edit is not None
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="codehearth.refineTrace", arguments=[1])
    )
    assert Path(result["file"]) == Path(os.environ["XDG_CACHE_HOME"]) / "codehearth" / (
        "refine-traces.jsonl"
    )
    [trace] = result["traces"]
    assert trace["action"] == "quick_fix"
    assert Path(trace["file"]) == workspace / "tool.py" and trace["line"] == 5
    assert trace["model"] == f"qwen2.5-coder:7b ({ollama.url})"  # the model that answered
    assert (trace["outcome"], trace["offered"]) == ("verified", True)
    first, second = trace["rounds"]
    [failed] = [c for c in first["checks"] if not c["ok"]]
    assert failed["name"] == "parses" and "syntax error" in failed["detail"]
    assert all(c["ok"] for c in second["checks"])
    for round_ in (first, second):
        assert round_["prompt_tokens"] > 0 and not round_["prompt_tokens_estimated"]
        assert round_["answer_tokens"] > 0 and round_["answer_tokens_estimated"]
        assert round_["ms"] > 0
    with pytest.raises(JsonRpcInvalidParams):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="codehearth.refineTrace", arguments=["all"])
        )


async def test_write_tests_answers_with_tests_that_parse_and_edits_nothing(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    tests_code = "from add import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    model = scripted(
        "```python\ndef test_add(:\n    assert add(1, 2) == 3\n```", f"```python\n{tests_code}```"
    )
    ollama.responder = model
    chunks = collect_chunks(client)
    source = "def add(a, b):\n    return a + b\n"
    uri = open_document(client, workspace, "add.py", source)
    stub = (await actions_on(client, uri, lines(0, 2)))["CodeHearth: Write tests"]
    assert stub.kind == ANSWER_KIND and stub.edit is None and stub.command is not None
    resolved = await client.code_action_resolve_async(stub)
    assert resolved.edit is None and model.calls == []  # the command does the work
    result = await execute(client, stub.command)
    assert result == {"started": True, "reason": "running"}  # at once; the answer follows
    await until(lambda: tests_code in "".join(chunks))
    assert f"```python\n{tests_code}```" in "".join(chunks)
    assert len(model.calls) == 2
    assert "Write unit tests" in model.calls[0]["messages"][-1]["content"]
    assert "- parses:" in model.calls[1]["messages"][-1]["content"]
    assert sorted(os.listdir(workspace)) == ["add.py", "codehearth.toml"]
    assert (workspace / "add.py").read_text(encoding="utf-8") == source
    trace = await last_trace(client)
    assert (trace["action"], trace["outcome"], len(trace["rounds"])) == (
        "write_tests",
        "verified",
        2,
    )


async def test_a_user_defined_edit_action_is_offered_only_verified(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    model = scripted(
        '```python\n    return f"Hello, {name}\n```', '```python\n    return f"Hello, {name}"\n```'
    )
    ollama.responder = model
    uri = open_document(client, workspace, "greet.py", GREET)
    stub = (await actions_on(client, uri, lines(1, 2)))["CodeHearth: Use f-strings"]
    assert stub.kind == "refactor.rewrite.codehearth"
    resolved = await client.code_action_resolve_async(stub)
    [edit] = edits_of(resolved.edit, uri)
    assert edit.range.start.line == 1 and 'f"Hello, {name}"' in edit.new_text
    assert len(model.calls) == 2
    prompt = model.calls[0]["messages"][-1]["content"]
    assert f"from {workspace / 'greet.py'} (python) with f-strings" in prompt
    assert 'return "Hello, " + name' in prompt
    trace = await last_trace(client)
    assert trace["action"] == "custom: Use f-strings" and trace["outcome"] == "verified"


async def test_a_user_defined_chat_action_answers_in_text(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    model = scripted("Looks fine; `greet` could use an f-string.")
    ollama.responder = model
    chunks = collect_chunks(client)
    uri = open_document(client, workspace, "greet.py", GREET)
    stub = (await actions_on(client, uri, lines(0, 2)))["CodeHearth: Review"]
    assert stub.kind == ANSWER_KIND and stub.command is not None
    [data] = stub.command.arguments or []
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=stub.command.command,
            arguments=[{**data, "instruction": "Focus on naming."}],
        )
    )
    assert result == {"started": True, "reason": "running"}
    await until(lambda: "Looks fine; `greet` could use an f-string." in "".join(chunks))
    prompt = model.calls[0]["messages"][-1]["content"]
    assert f"Review this python code from {workspace / 'greet.py'}:" in prompt
    assert 'return "Hello, " + name' in prompt and "Focus on naming." in prompt
    assert (workspace / "greet.py").read_text(encoding="utf-8") == GREET


async def test_explain_hands_the_selection_to_the_chat(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    """The answer follows as chat chunks after a heading, the command answers at once (a
    client that gives up on a request after 10 s, as eglot does, gets it too)."""
    ollama.set_text("It greets someone by name.")
    chunks = collect_chunks(client)
    uri = open_document(client, workspace, "greet.py", GREET)
    stub = (await actions_on(client, uri, lines(0, 2)))["CodeHearth: Explain"]
    assert stub.kind == ANSWER_KIND and (await client.code_action_resolve_async(stub)).edit is None
    assert stub.command is not None and stub.command.command == "codehearth.explain"
    result = await execute(client, stub.command)
    assert result == {"ok": True, "background": True}
    await until(lambda: "".join(chunks).endswith("It greets someone by name.\n"))
    assert "".join(chunks).startswith("\nExplain greet.py:1-2:\n")
    prompt = "\n".join(m["content"] for m in ollama.generations()[-1].body["messages"])  # type: ignore[index]
    assert 'return "Hello, " + name' in prompt


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(
            '```json\n// .vscode/settings.json\n{"python.defaultInterpreterPath": "/tmp/x"}\n```',
            id="settings-json",
        ),
        pytest.param(
            "--- a/setup.py\n+++ b/setup.py\n@@ -1 +1 @@\n-x = 1\n+import evil\n",
            id="diff-for-another-file",
        ),
    ],
)
async def test_an_answer_aimed_at_another_file_is_not_offered(
    client: LanguageClient, ollama: FakeOllama, workspace: Path, answer: str
) -> None:
    ollama.responder = scripted(answer)
    _, stub = await quick_fix(client, workspace)
    resolved = await client.code_action_resolve_async(stub)
    assert resolved.edit is None
    assert not (workspace / ".vscode").exists() and not (workspace / "setup.py").exists()
    trace = await last_trace(client)
    assert trace["outcome"] == "max-rounds" and not trace["offered"]


async def test_the_editors_settings_file_is_never_edited(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    (workspace / ".vscode").mkdir()
    settings = '{\n  "editor.tabSize": 4,\n}\n'
    ollama.responder = scripted('```json\n  "editor.tabSize": 4\n```')
    uri = open_document(client, workspace, ".vscode/settings.json", settings, "json")
    trailing_comma = types.Diagnostic(
        range=types.Range(
            start=types.Position(line=1, character=20), end=types.Position(line=1, character=21)
        ),
        message="Trailing comma",
    )
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=trailing_comma.range.start, end=trailing_comma.range.start),
            context=types.CodeActionContext(diagnostics=[trailing_comma]),
        )
    )
    assert actions is None  # nothing is promised on a protected file
    forged = types.CodeAction(  # a client replaying an action made for another file
        title="CodeHearth: fix",
        kind="quickfix.codehearth",
        data={
            "uri": uri,
            "version": 1,
            "action": "quick_fix",
            "startLine": 1,
            "endLine": 1,
            "diagnostic": {"code": "", "message": "Trailing comma", "line": 1, "char": 20},
        },
    )
    resolved = await client.code_action_resolve_async(forged)
    assert resolved.edit is None
    assert (workspace / ".vscode" / "settings.json").read_text(encoding="utf-8") == settings
    trace = await last_trace(client)
    assert trace["outcome"] == "protected-path" and not trace["offered"]
