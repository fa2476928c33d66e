"""End-to-end fixtures: the real ``codehearth serve`` over stdio (pytest-lsp) against the
fake Ollama, with the client capabilities of real editors (plus inline completion, which
their bundled captures predate)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.fakes.fake_ollama import FakeOllama

SERVER_COMMAND = [sys.executable, "-m", "codehearth", "serve", "--log-level", "DEBUG"]
EDITORS = ["visual-studio-code", "neovim"]


@pytest.fixture(scope="session")
def fake_ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        yield fake


@pytest.fixture
def ollama(fake_ollama: FakeOllama) -> Iterator[FakeOllama]:
    """The shared fake, reset to a clean, fast state for each test, its models in memory
    (as after Ollama served them a moment ago)."""
    fake_ollama.reset()
    fake_ollama.token_delay = 0.0
    fake_ollama.first_token_delay = 0.0
    fake_ollama.set_text("return a + b\n")
    if not fake_ollama.running:
        fake_ollama.start()
    fake_ollama.preload()
    yield fake_ollama
    if not fake_ollama.running:
        fake_ollama.start()


@pytest.fixture
def completion_settings() -> dict[str, Any]:
    """Extra ``completion`` settings for the session; override per test module."""
    return {}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


def capabilities(editor: str, *, inline: bool = True) -> types.ClientCapabilities:
    caps = client_capabilities(editor)
    assert caps.text_document is not None
    if inline:
        caps.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    return caps


def init_options(ollama: FakeOllama, **completion: Any) -> dict[str, Any]:
    return {
        "ollama": {"host": ollama.url, "warmUp": False},
        # the fake is the only model: no built-in model quietly answering instead
        "models": {"embedded": "off"},
        "completion": {"debounceMinMs": 100, **completion},
    }


def accept_registrations(client: LanguageClient) -> None:
    """Answer client/registerCapability as editors do (pytest-lsp's client does not)."""

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(params: types.RegistrationParams) -> None:
        client.registrations = [  # type: ignore[attr-defined]
            *getattr(client, "registrations", []),
            *params.registrations,
        ]


async def start(
    client: LanguageClient,
    ollama: FakeOllama,
    workspace: Path,
    editor: str,
    *,
    inline: bool = True,
    **completion: Any,
) -> types.InitializeResult:
    accept_registrations(client)
    return await client.initialize_session(
        initialize_params(
            workspace, capabilities(editor, inline=inline), init_options(ollama, **completion)
        )
    )


def initialize_params(
    workspace: Path,
    client_capabilities: types.ClientCapabilities,
    options: dict[str, Any],
    folder: str = "project",
) -> types.InitializeParams:
    """A session rooted at ``workspace``, opened as the one workspace folder ``folder``."""
    return types.InitializeParams(
        capabilities=client_capabilities,
        root_uri=workspace.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name=folder)],
        initialization_options=options,
    )


@pytest_lsp.fixture(params=EDITORS, config=ClientServerConfig(server_command=SERVER_COMMAND))
async def client(
    request: pytest.FixtureRequest,
    lsp_client: LanguageClient,
    ollama: FakeOllama,
    workspace: Path,
    completion_settings: dict[str, Any],
) -> AsyncIterator[None]:
    """A session with an editor's capabilities plus inline completion."""
    lsp_client.editor = request.param  # type: ignore[attr-defined]
    lsp_client.init_result = await start(  # type: ignore[attr-defined]
        lsp_client, ollama, workspace, request.param, **completion_settings
    )
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def plain_client(
    lsp_client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> AsyncIterator[None]:
    """Neovim's capabilities as shipped: no inline completion, so the fallback is used."""
    lsp_client.init_result = await start(  # type: ignore[attr-defined]
        lsp_client, ollama, workspace, "neovim", inline=False
    )
    yield
    await lsp_client.shutdown_session()


def open_document(
    client: LanguageClient, workspace: Path, name: str, text: str, language_id: str = "python"
) -> str:
    path = workspace / name
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language_id, version=1, text=text
            )
        )
    )
    return uri


def inline_params(
    uri: str, line: int, character: int, *, invoked: bool = True
) -> types.InlineCompletionParams:
    kind = (
        types.InlineCompletionTriggerKind.Invoked
        if invoked
        else types.InlineCompletionTriggerKind.Automatic
    )
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=kind),
    )


def items_of(result: Any) -> list[types.InlineCompletionItem]:
    if result is None:
        return []
    if isinstance(result, types.InlineCompletionList):
        return list(result.items)
    return list(result)


def text_of(item: types.InlineCompletionItem) -> str:
    return item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
