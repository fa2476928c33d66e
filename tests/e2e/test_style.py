"""The user's style end to end: inferred from the workspace, applied to suggestions."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
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


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "tabs-and-single-quotes"
    root.mkdir()
    for index in range(3):
        (root / f"module_{index}.py").write_text(SINGLE_QUOTED, encoding="utf-8")
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
