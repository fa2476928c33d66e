"""The user's style end to end: inferred from the workspace, applied to suggestions,
shown by ``codehearth.style`` with the pins of ``codehearth.toml``, and kept current as
files are saved or change on disk."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pytest_lsp import LanguageClient

from tests.e2e.conftest import inline_params, items_of, open_document, text_of
from tests.fakes.fake_ollama import FakeOllama

SINGLE_QUOTED = """\
def greet(name):
\tmessage = 'hello ' + name
\tprint(message, end='')
\treturn {'greeting': message, 'kind': 'plain'}


def farewell(name):
\treturn 'bye ' + name + '!'
"""

PINS = """\
[[style.pin]]
language = "python"
attribute = "quotes.docstrings"
value = "double"

[[style.pin]]
attribute = "naming.nonsense"
value = "x"
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "tabs-and-single-quotes"
    root.mkdir()
    for index in range(3):
        (root / f"module_{index}.py").write_text(SINGLE_QUOTED, encoding="utf-8")
    (root / "codehearth.toml").write_text(PINS, encoding="utf-8")
    return root


async def wait_for_style(client: LanguageClient) -> None:
    while not any("style:" in m.message for m in client.log_messages):
        await client.wait_for_notification(types.WINDOW_LOG_MESSAGE)


async def test_suggestion_takes_the_workspace_quotes_and_tabs(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    await wait_for_style(client)
    ollama.set_text('if name:\n    print("hi", name)\nreturn "done"\n')
    uri = open_document(client, workspace, "new.py", "def run(name):\n\t\n")
    items = items_of(await client.text_document_inline_completion_async(inline_params(uri, 1, 1)))
    assert [text_of(item) for item in items] == ["if name:\n\t\tprint('hi', name)\n\treturn 'done'"]


async def style_command(client: LanguageClient, *arguments: Any) -> dict[str, Any]:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="codehearth.style", arguments=list(arguments))
    )
    assert isinstance(result, dict)
    return result


def attributes(report: dict[str, Any], language_id: str) -> dict[str, dict[str, Any]]:
    (profile,) = [p for p in report["profiles"] if p["language_id"] == language_id]
    return {attribute["name"]: attribute for attribute in profile["attributes"]}


async def test_style_command_shows_inferred_and_pinned_attributes(client: LanguageClient) -> None:
    await wait_for_style(client)
    report = await style_command(client, {"languageId": "python"})
    assert report["ready"] is True and report["enabled"] is True
    python = attributes(report, "python")
    indent, quotes = python["indent.style"], python["quotes.strings"]
    assert (indent["value"], indent["source"], indent["confidence"]) == ("tabs", "inferred", 1.0)
    assert (quotes["value"], quotes["source"]) == ("single", "inferred")
    assert quotes["evidence"] >= 3
    docstrings = python["quotes.docstrings"]
    assert (docstrings["value"], docstrings["source"], docstrings["confidence"]) == (
        "double",
        "pinned",
        1.0,
    )
    assert [p for p in report["problems"] if "unknown attribute 'naming.nonsense'" in p]
    assert any("naming.nonsense" in m.message for m in client.log_messages)
    assert (await style_command(client, "python"))["profiles"] == report["profiles"]
    assert (await style_command(client))["profiles"] == report["profiles"]  # one language here
    assert (await style_command(client, {"languageId": "rust"}))["profiles"] == []


async def test_style_command_rejects_bad_arguments(client: LanguageClient) -> None:
    with pytest.raises(JsonRpcInvalidParams):
        await style_command(client, 42)


async def poll_style(client: LanguageClient, done: Any) -> dict[str, Any]:
    for _ in range(100):
        report = await style_command(client)
        if done(report):
            return report
        await asyncio.sleep(0.05)
    raise AssertionError(f"the style profile never caught up: {report}")


async def test_profile_follows_saved_and_watched_files(
    client: LanguageClient, workspace: Path
) -> None:
    await wait_for_style(client)
    lib = workspace / "lib.rs"
    lib.write_text("fn main_loop() {\n    let total_count = 1;\n}\n", encoding="utf-8")
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=lib.as_uri(), type=types.FileChangeType.Created)]
        )
    )
    report = await poll_style(
        client, lambda r: any(p["language_id"] == "rust" for p in r["profiles"])
    )
    assert attributes(report, "rust")["naming.function"]["value"] == "snake_case"

    editorconfig = workspace / ".editorconfig"
    editorconfig.write_text("[*.py]\nindent_style = space\n", encoding="utf-8")
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=editorconfig.as_uri(), type=types.FileChangeType.Created)]
        )
    )
    report = await poll_style(
        client, lambda r: attributes(r, "python")["indent.style"]["value"] == "spaces"
    )
    assert attributes(report, "python")["indent.style"]["source"] == "config:.editorconfig"

    uri = open_document(client, workspace, "saved.py", SINGLE_QUOTED.replace("\t", "    "))
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    report = await poll_style(
        client, lambda r: [p["files"] for p in r["profiles"] if p["language_id"] == "python"] == [4]
    )
    assert attributes(report, "python")["indent.style"]["evidence"] > 6
