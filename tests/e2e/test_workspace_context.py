"""Workspace context end to end: the index is built in the background with $/progress,
its snippets reach the prompt, edits update it, and secrets never leave their files."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import inline_params, items_of, open_document
from tests.e2e.test_memory_commands import command
from tests.fakes.fake_ollama import FakeOllama

CANARY = "CANARY_SECRET_7f3a9c"

UTIL = '''"""Tax helpers."""


def compute_tax(amount: float, rate: float = 0.2) -> float:
    """The tax due on an amount."""
    return round(amount * rate, 2)
'''

MAIN = """from util import compute_tax


def invoice_total(amount: float) -> float:
    return amount + compute_tax(
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    (root / "util.py").write_text(UTIL, encoding="utf-8")
    (root / ".env").write_text(f"API_KEY={CANARY}\n", encoding="utf-8")
    (root / "keys").mkdir()
    (root / "keys" / "server.pem").write_text(f"-----BEGIN {CANARY}-----\n", encoding="utf-8")
    (root / "notes.py").write_text(f"TOKEN = '{CANARY}'\n", encoding="utf-8")
    (root / ".gitignore").write_text("notes.py\n", encoding="utf-8")
    return root


async def wait_for_index(client: LanguageClient) -> None:
    async def indexed() -> None:
        while not any("index:" in m.message for m in client.log_messages):
            await client.wait_for_notification(types.WINDOW_LOG_MESSAGE)

    await asyncio.wait_for(indexed(), timeout=20)


def all_bodies(ollama: FakeOllama) -> str:
    return "\n".join(json.dumps(r.body) for r in ollama.requests if r.body)


async def test_index_reports_progress(client: LanguageClient) -> None:
    await wait_for_index(client)
    if client.editor != "visual-studio-code":  # type: ignore[attr-defined]
        return  # the bundled Neovim capabilities do not announce workDoneProgress
    reports = next(iter(client.progress_reports.values()))
    assert isinstance(reports[0], types.WorkDoneProgressBegin)
    assert reports[0].title == "CodeHearth: indexing"
    assert isinstance(reports[-1], types.WorkDoneProgressEnd)
    assert reports[-1].message is not None and reports[-1].message.startswith("1 files, ")


async def test_definition_from_another_file_reaches_the_prompt(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    await wait_for_index(client)
    uri = open_document(client, workspace, "main.py", MAIN)
    await client.text_document_inline_completion_async(inline_params(uri, 4, 32))
    prompt = ollama.generations()[0].body["prompt"]  # type: ignore[index]
    assert "<|file_sep|>util.py\n" in prompt
    assert "def compute_tax(amount: float, rate: float = 0.2) -> float:" in prompt
    assert prompt.index("util.py") < prompt.index("<|fim_prefix|>")


async def test_edits_in_open_documents_update_the_index(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    await wait_for_index(client)
    files_before = (await command(client, "codehearth.status"))["index"]["files"]
    helper = "def shiny_new_helper(x):\n    return x * 3\n"
    open_document(client, workspace, "helpers.py", helper)
    for _ in range(200):  # the open document is indexed after a short debounce
        if (await command(client, "codehearth.status"))["index"]["files"] > files_before:
            break
        await asyncio.sleep(0.05)
    uri = open_document(
        client,
        workspace,
        "use.py",
        "from helpers import shiny_new_helper\n\nprint(shiny_new_helper(\n",
    )
    await client.text_document_inline_completion_async(inline_params(uri, 2, 23))
    prompt = ollama.generations()[0].body["prompt"]  # type: ignore[index]
    assert "def shiny_new_helper(x):" in prompt


async def test_secrets_and_ignored_files_never_reach_the_model(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    await wait_for_index(client)
    uri = open_document(client, workspace, "main.py", MAIN)
    await client.text_document_inline_completion_async(inline_params(uri, 4, 32))
    env_uri = open_document(client, workspace, ".env", f"API_KEY={CANARY}\nOTHER=", "dotenv")
    result = await client.text_document_inline_completion_async(inline_params(env_uri, 1, 6))
    assert items_of(result) == []
    assert len(ollama.generations()) >= 1
    assert CANARY not in all_bodies(ollama)


async def test_status_reports_index_memory_and_style(client: LanguageClient) -> None:
    await wait_for_index(client)
    status = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="codehearth.status", arguments=[])
    )
    assert status["completion"]["family"] == "qwen2.5-coder"
    assert status["index"]["ready"] is True and status["index"]["files"] == 1
    assert set(status["memory"]) == {"available", "problem"}
