"""Secret files never reach a model: canaries in ``.env``, ``id_rsa``, ``*.pem``,
``.npmrc`` and ``.aws/credentials`` (open in the editor too) and in a gitignored file (on
disk only) must not appear in any request the fake Ollama records, whatever the session
does: completions with workspace context, code actions, chat with a selection in a secret
file, chat long enough to be summarised, and memory notes embedded for search.

Secret *files* never enter a prompt (``index/scanner.py``) and ignored files never enter
the index. Secret-shaped strings *inside* ordinary code, such as the AWS key id in
``settings.py`` (context for ``app.py``, which imports it), are masked in every prompt to
every model (``models/redact.py``), and an edit of the line that holds one keeps the key.
Not asserted: a gitignored file the user opens and edits, whose text its own completions
and chat use.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.e2e.conftest import (
    SERVER_COMMAND,
    accept_registrations,
    capabilities,
    init_options,
    initialize_params,
    inline_params,
    open_document,
)
from tests.e2e.test_memory_commands import command
from tests.e2e.test_syntax_diagnostics import apply
from tests.e2e.test_workspace_context import wait_for_index
from tests.fakes.fake_ollama import FakeOllama

FILE_CANARIES = {
    ".env": "API_KEY=CANARY_DOTENV_5a1f\nDATABASE_URL=postgres://u:CANARY_DOTENV_PW@db/x\n",
    "id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\nCANARY_SSH_KEY_77b2\n"
    "-----END OPENSSH PRIVATE KEY-----\n",
    "certs/server.pem": "-----BEGIN CERTIFICATE-----\nCANARY_PEM_0c3d\n-----END CERTIFICATE-----\n",
    ".npmrc": "//registry.npmjs.org/:_authToken=CANARY_NPM_TOKEN_9e8f\n",
    ".aws/credentials": "[default]\naws_access_key_id = CANARY_AWS_FILE_ID\n"
    "aws_secret_access_key = CANARY_AWS_FILE_SECRET\n",
}
IGNORED = "scratch/notes.py"
IGNORED_TEXT = "API_TOKEN = 'CANARY_GITIGNORED_41aa'\n"
CANARIES = ("CANARY_DOTENV", "CANARY_SSH", "CANARY_PEM", "CANARY_NPM", "CANARY_AWS", "CANARY_GIT")
INLINE_AWS_KEY = "AKIACANARYINLINE0001"
APP = (
    '''"""Configuration loading: API_KEY, authToken, aws_secret_access_key, private key."""

from settings import load_credentials


def connect(api_key, auth_token):
    credentials = load_credentials()
'''
    + "    \n"
)
SETTINGS = f'''AWS_ACCESS_KEY_ID = "{INLINE_AWS_KEY}"


def load_credentials():
    return {{"aws_access_key_id": AWS_ACCESS_KEY_ID}}
'''


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "service"
    for name, text in FILE_CANARIES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    (root / "scratch").mkdir()
    (root / IGNORED).write_text(IGNORED_TEXT, encoding="utf-8")
    (root / ".gitignore").write_text("scratch/\n", encoding="utf-8")
    (root / "app.py").write_text(APP, encoding="utf-8")
    (root / "settings.py").write_text(SETTINGS, encoding="utf-8")
    return root


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def session(
    lsp_client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> AsyncIterator[None]:
    """A small chat window, so a few questions make the server summarise."""
    accept_registrations(lsp_client)
    await lsp_client.initialize_session(
        initialize_params(
            workspace,
            capabilities("visual-studio-code"),
            {**init_options(ollama, invokedItems=1), "chat": {"numCtx": 2048}},
            folder="service",
        )
    )
    yield
    await lsp_client.shutdown_session()


def everything_sent(ollama: FakeOllama) -> str:
    return "\n".join(json.dumps(r.body) for r in ollama.requests if r.body)


def whole(text: str) -> types.Range:
    lines = text.split("\n")
    return types.Range(
        start=types.Position(line=0, character=0),
        end=types.Position(line=len(lines) - 1, character=len(lines[-1])),
    )


async def test_secret_files_never_reach_a_model(
    session: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    client = session
    await wait_for_index(client)
    await command(client, "codehearth.memory.show")  # memory is open
    app = open_document(client, workspace, "app.py", APP)

    await client.text_document_inline_completion_async(inline_params(app, 7, 4))
    for name, text in FILE_CANARIES.items():
        secret = open_document(client, workspace, name, text, "plaintext")
        completion = await client.text_document_inline_completion_async(inline_params(secret, 0, 3))
        assert completion is None, name
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=secret),
                range=whole(text),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        assert actions is None, name
        await command(
            client,
            "codehearth.chat",
            {"question": f"What is in {name}?", "uri": secret, "range": whole(text)},
        )

    ollama.set_text("```python\ndef connect(api_key, auth_token):\n    return api_key\n```")
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=app),
            range=types.Range(start=types.Position(5, 0), end=types.Position(7, 0)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert actions is not None
    [simplify] = [a for a in actions if isinstance(a, types.CodeAction) and "Simplify" in a.title]
    await client.code_action_resolve_async(simplify)

    ollama.set_text("Credentials come from load_credentials in settings.py. " * 30)
    summarised = 0
    for turn in range(6):
        question = f"Where do the API key, auth token and AWS secret come from? ({turn}) " * 12
        answer = await command(client, "codehearth.chat", {"question": question})
        assert answer["ok"], answer
        summarised += answer["summarised"]
    assert summarised > 0, "the chat never summarised: the summary path went untested"

    await command(client, "codehearth.memory.add", {"text": "API keys rotate monthly"})
    await command(client, "codehearth.memory.search", {"query": "aws secret access key"})
    assert any(r.path == "/api/embed" for r in ollama.requests)

    sent = everything_sent(ollama)
    assert sent, "nothing reached the model: the test proves nothing"
    assert [canary for canary in CANARIES if canary in sent] == []
    assert "AWS_ACCESS_KEY_ID" in sent, "settings.py never reached a prompt: proves nothing"
    assert INLINE_AWS_KEY not in sent


async def test_an_edit_of_a_line_holding_a_secret_keeps_the_secret(
    session: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    client = session
    await wait_for_index(client)
    settings = open_document(client, workspace, "settings.py", SETTINGS)

    typed = SETTINGS.replace("AWS_ACCESS_KEY_ID =", "AWS_ACCESS_KEY_ID: str =")

    def type_hint_echoing_the_key(body: dict[str, Any]) -> str:
        [placeholder] = set(re.findall(r"\[REDACTED_[0-9]+\]", json.dumps(body)))
        return f"```python\n{typed.replace(INLINE_AWS_KEY, placeholder)}```"

    ollama.responder = type_hint_echoing_the_key
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=settings),
            range=whole(SETTINGS),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert actions is not None
    [simplify] = [a for a in actions if isinstance(a, types.CodeAction) and "Simplify" in a.title]
    resolved = await client.code_action_resolve_async(simplify)
    assert resolved.edit is not None and resolved.edit.document_changes
    [change] = resolved.edit.document_changes
    assert isinstance(change, types.TextDocumentEdit)
    assert apply(SETTINGS, list(change.edits)) == typed
    assert INLINE_AWS_KEY not in everything_sent(ollama)
