"""Positions: every negotiated encoding (UTF-8, UTF-16, UTF-32) counts emoji, astral CJK,
combining marks, tabs and CRLF as the client does, and lines end where the LSP says
(``\\r\\n``, ``\\r``, ``\\n``; not at form feeds or U+2028, which ``str.splitlines``
breaks at).

Positions are computed here independently of pygls (:func:`client_position`). In process,
a hypothesis state machine drives random incremental edits through a workspace set up
as the server sets up its own and compares it with full-sync copies. Over stdio, the
real server must decode a cursor into the exact prompt prefix, place a suggestion at the
cursor, publish syntax errors at the right place and follow random edits.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from lsprotocol import types
from pygls.workspace import Workspace
from pytest_lsp import ClientServerConfig, LanguageClient

from codehearth.features.documents import use_lsp_positions
from codehearth.languages import LanguageRegistry
from codehearth.server import client_range
from codehearth.syntax import syntax_problems
from tests.e2e.conftest import (
    SERVER_COMMAND,
    accept_registrations,
    capabilities,
    init_options,
    initialize_params,
    items_of,
    open_document,
    text_of,
)
from tests.fakes.fake_ollama import FakeOllama

ENCODINGS = [
    types.PositionEncodingKind.Utf8,
    types.PositionEncodingKind.Utf16,
    types.PositionEncodingKind.Utf32,
]
ALPHABET = "ab \t\r\n😀𠜎e\u0301\x0c\u2028"
"""Text the edits are made of: ASCII, a tab, line breaks, an emoji, an astral CJK ideograph,
a combining accent, and a form feed and a line separator (not line breaks in the LSP)."""
LINE_BREAK = re.compile(r"\r\n|\r|\n")
URI = "file:///project/edited.py"


def line_starts(text: str) -> list[int]:
    return [0, *(match.end() for match in LINE_BREAK.finditer(text))]


def units(text: str, encoding: str) -> int:
    if encoding == types.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8"))
    if encoding == types.PositionEncodingKind.Utf16:
        return len(text.encode("utf-16-le")) // 2
    return len(text)


def client_position(text: str, offset: int, encoding: str) -> types.Position:
    """The LSP position of a code-point offset, as a client counts it."""
    starts = line_starts(text)
    line = max(i for i, start in enumerate(starts) if start <= offset)
    return types.Position(line=line, character=units(text[starts[line] : offset], encoding))


def whole_break(text: str, offset: int, *, forward: bool) -> int:
    """``offset`` moved off the middle of a ``\\r\\n`` (no LSP position is there)."""
    if 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n":
        return offset + 1 if forward else offset - 1
    return offset


class IncrementalSyncMatchesFullSync(RuleBasedStateMachine):
    """The server's document (incremental sync) against full-sync copies and a string."""

    @initialize(encoding=st.sampled_from(ENCODINGS), text=st.text(ALPHABET, max_size=30))
    def open_document(self, encoding: str, text: str) -> None:
        self.encoding = encoding
        self.expected = text
        self.incremental = Workspace(None, position_encoding=encoding)
        use_lsp_positions(self.incremental)
        self.full = Workspace(None, types.TextDocumentSyncKind.Full, position_encoding=encoding)
        use_lsp_positions(self.full)
        for workspace in (self.incremental, self.full):
            workspace.put_text_document(
                types.TextDocumentItem(uri=URI, language_id="python", version=1, text=text)
            )
        self.version = 1

    @rule(data=st.data(), new_text=st.text(ALPHABET, max_size=6))
    def edit(self, data: st.DataObject, new_text: str) -> None:
        start = data.draw(st.integers(0, len(self.expected)), label="start")
        end = data.draw(st.integers(start, min(len(self.expected), start + 8)), label="end")
        start = whole_break(self.expected, start, forward=False)
        end = whole_break(self.expected, end, forward=True)
        change = types.TextDocumentContentChangePartial(
            range=types.Range(
                start=client_position(self.expected, start, self.encoding),
                end=client_position(self.expected, end, self.encoding),
            ),
            text=new_text,
        )
        self.expected = self.expected[:start] + new_text + self.expected[end:]
        self.version += 1
        self.incremental.update_text_document(
            types.VersionedTextDocumentIdentifier(uri=URI, version=self.version), change
        )
        self.full.update_text_document(
            types.VersionedTextDocumentIdentifier(uri=URI, version=self.version),
            types.TextDocumentContentChangeWholeDocument(text=self.expected),
        )

    @invariant()
    def same_text(self) -> None:
        incremental = self.incremental.get_text_document(URI).source
        assert incremental == self.full.get_text_document(URI).source == self.expected

    @invariant()
    def same_positions(self) -> None:
        """Every offset maps to the client's position and back, as the server converts
        them (``offset_at_position`` for selections, ``client_range`` for ranges it sends)."""
        document = self.incremental.get_text_document(URI)
        lines = document.lines
        starts = line_starts(self.expected)
        for offset in range(len(self.expected) + 1):
            if whole_break(self.expected, offset, forward=True) != offset:
                continue
            position = client_position(self.expected, offset, self.encoding)
            assert document.offset_at_position(position) == offset
            column = offset - starts[position.line]
            sent = client_range(document, lines, position.line, column, position.line, column)
            assert sent.start == position


TestIncrementalSyncMatchesFullSync = IncrementalSyncMatchesFullSync.TestCase
TestIncrementalSyncMatchesFullSync.settings = settings(
    max_examples=100, stateful_step_count=25, deadline=None
)


# -- over stdio ------------------------------------------------------------------------

CURSOR = "|"
DOCUMENTS = {
    "emoji.py": 'def f(name):\n    return "😀" + str(|)\n',
    "astral_cjk.py": 'def f(name):\n    return "𠜎𠀀" + str(|)\n',
    "combining.py": 'def f(name):\n    return "e\u0301a\u0301" + str(|)\n',
    "crlf.py": 'def f(name):\r\n    return "😀" + str(|)\r\n',
    "tabs.py": 'def f(name):\n\treturn "\t😀\t" + str(|)\n',
    "form_feed.py": '"""A page."""\n\x0c\ndef f(name):\n    return "😀" + str(|)\n',
    "line_separator.py": 'def f(name):\n    s = "\u2028"\n    return "😀" + str(|)\n',
}
BROKEN = 'def f(name):\n    return "😀𠜎e\u0301\t" + (1 +\n\x0c\nx = [1, 2\n'


@pytest_lsp.fixture(params=ENCODINGS, config=ClientServerConfig(server_command=SERVER_COMMAND))
async def encoded_client(
    request: pytest.FixtureRequest, lsp_client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> AsyncIterator[None]:
    """A session whose client asks for one position encoding (syntax diagnostics on)."""
    accept_registrations(lsp_client)
    caps = capabilities("visual-studio-code")
    caps.general = types.GeneralClientCapabilities(position_encodings=[request.param])
    lsp_client.init_result = await lsp_client.initialize_session(  # type: ignore[attr-defined]
        initialize_params(
            workspace, caps, {**init_options(ollama), "diagnostics": {"syntax": True}}
        )
    )
    lsp_client.encoding = request.param  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


def fim_parts(prompt: str) -> tuple[str, str]:
    """(prefix, suffix) of a qwen2.5-coder FIM prompt."""
    prefix = prompt.split("<|fim_prefix|>", 1)[1].split("<|fim_suffix|>", 1)[0]
    suffix = prompt.split("<|fim_suffix|>", 1)[1].split("<|fim_middle|>", 1)[0]
    return prefix, suffix


async def test_positions_in_the_negotiated_encoding(
    encoded_client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    """One session per encoding (a server start costs more than the checks)."""
    client = encoded_client
    encoding = client.encoding  # type: ignore[attr-defined]
    assert client.init_result.capabilities.position_encoding == encoding  # type: ignore[attr-defined]
    await cursors_are_decoded_and_suggestions_placed(client, ollama, workspace, encoding)
    await syntax_errors_are_published_where_the_client_sees_them(client, workspace, encoding)
    await random_incremental_edits_leave_the_clients_text(client, ollama, workspace, encoding)


async def cursors_are_decoded_and_suggestions_placed(
    client: LanguageClient, ollama: FakeOllama, workspace: Path, encoding: str
) -> None:
    ollama.set_text("name")
    for name, marked in DOCUMENTS.items():
        offset = marked.index(CURSOR)
        text = marked.replace(CURSOR, "")
        uri = open_document(client, workspace, name, text)
        cursor = client_position(text, offset, encoding)
        ollama.reset()
        result = await client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=cursor,
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Invoked
                ),
            )
        )
        [item] = items_of(result)
        assert text_of(item) == "name)", name
        assert item.range == types.Range(
            start=cursor, end=types.Position(cursor.line, cursor.character + 1)
        ), name
        prompt = ollama.generations()[0].body["prompt"]  # type: ignore[index]
        assert fim_parts(prompt) == (text[:offset], text[offset:]), name


async def syntax_errors_are_published_where_the_client_sees_them(
    client: LanguageClient, workspace: Path, encoding: str
) -> None:
    uri = open_document(client, workspace, "broken.py", BROKEN)
    expected = []
    starts = line_starts(BROKEN)
    for problem in syntax_problems(LanguageRegistry.load(), "python", BROKEN):
        start = starts[problem.start_line] + problem.start_column
        end = starts[problem.end_line] + problem.end_column
        expected.append(
            types.Range(
                start=client_position(BROKEN, start, encoding),
                end=client_position(BROKEN, end, encoding),
            )
        )
    assert expected, "the sample must have syntax errors"
    while not client.diagnostics.get(uri):
        await asyncio.wait_for(
            client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), 10
        )
    assert [d.range for d in client.diagnostics[uri]] == expected


DOCSTRING_ALPHABET = "ab \t\r\n😀𠜎e\u0301\x0c\u2028"
TAIL = '\n"""\n\n\ndef tail(a, b):\n    '


async def random_incremental_edits_leave_the_clients_text(
    client: LanguageClient, ollama: FakeOllama, workspace: Path, encoding: str
) -> None:
    """Edits inside a docstring (so the cursor after it still asks for a completion); the
    prompt then holds the whole document as the server has it."""
    rng = random.Random(f"edits-{encoding}")
    text = '"""\nstart' + TAIL
    uri = open_document(client, workspace, "edited.py", text)
    for version in range(2, 82):
        body_end = len(text) - len(TAIL)
        start = whole_break(text, rng.randint(4, body_end), forward=False)
        end = whole_break(text, rng.randint(start, min(body_end, start + 6)), forward=True)
        new_text = "".join(rng.choice(DOCSTRING_ALPHABET) for _ in range(rng.randint(0, 4)))
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(
                            start=client_position(text, start, encoding),
                            end=client_position(text, end, encoding),
                        ),
                        text=new_text,
                    )
                ],
            )
        )
        text = text[:start] + new_text + text[end:]
    ollama.reset()
    await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=client_position(text, len(text), encoding),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked
            ),
        )
    )
    prompt = ollama.generations()[0].body["prompt"]  # type: ignore[index]
    assert fim_parts(prompt) == (text, "")
