"""Inline completion requests in the raw shapes VS Code sends through vscode-languageclient
9.0.1 (VS Code's own context, unconverted), as bytes on the real server's stdin, with the
fake Ollama behind it: each is answered, none is an error, none leaves a traceback in the
server log. (An LSP client library cannot send these shapes: its types refuse them.)"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import init_options
from tests.fakes.fake_ollama import FakeOllama
from tests.reliability.test_protocol import RawSession, frame

# `pr` typed in the body of add(); VS Code's word suggestions offer `print` (from line 6)
SOURCE = "import sys\n\n\ndef add(a, b):\n    pr\n\nprint(sys.argv)\n"
WORD_START = {"line": 4, "character": 4}
CURSOR = {"line": 4, "character": 6}


class VSCodeSession:
    """The server in a subprocess, one python document open, raw JSON in and out."""

    def __init__(self, raw: RawSession, workspace: Path, ollama: FakeOllama, log: Path) -> None:
        self.raw = raw
        self.log = log
        self.ids = count(1)
        options = {
            **init_options(ollama),
            "logging": {"level": "DEBUG", "file": str(log)},
            "index": {"enabled": False},
        }
        self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": workspace.as_uri(),
                "capabilities": {"textDocument": {"inlineCompletion": {}}},
                "initializationOptions": options,
            },
        )
        self.notify("initialized", {})
        path = workspace / "calc.py"
        path.write_text(SOURCE)
        self.uri = path.as_uri()
        document = {"uri": self.uri, "languageId": "python", "version": 1, "text": SOURCE}
        self.notify("textDocument/didOpen", {"textDocument": document})

    def notify(self, method: str, params: Any) -> None:
        self.raw.send(frame({"jsonrpc": "2.0", "method": method, "params": params}))

    def request(self, method: str, params: Any) -> dict[str, Any]:
        msg_id = next(self.ids)
        self.raw.send(frame({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}))
        return self.raw.response(msg_id, timeout=30)

    def inline(self, context: dict[str, Any]) -> dict[str, Any]:
        params = {"textDocument": {"uri": self.uri}, "position": CURSOR, "context": context}
        return self.request("textDocument/inlineCompletion", params)

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


@pytest.fixture
def vscode(tmp_path: Path, workspace: Path, ollama: FakeOllama) -> Iterator[VSCodeSession]:
    raw = RawSession(tmp_path)
    try:
        yield VSCodeSession(raw, workspace, ollama, tmp_path / "codehearth.log")
    finally:
        raw.close()


def texts(response: dict[str, Any]) -> list[str]:
    assert "error" not in response, response
    result = response["result"] or {"items": []}
    items = result["items"] if isinstance(result, dict) else result
    return [item["insertText"] for item in items]


def assert_no_traceback(session: VSCodeSession) -> None:
    log = session.log_text()
    assert log, "the server wrote no log"
    assert "Traceback" not in log and "Unable to deserialize" not in log, log[-3000:]


def test_suggest_widget_open_range_as_json_array_is_answered(
    vscode: VSCodeSession, ollama: FakeOllama
) -> None:
    """Typing with the suggest widget open: `selectedCompletionInfo.range` is the JSON
    array of a vscode.Range. It was answered -32602 with a traceback in the log (the
    toast "Request textDocument/inlineCompletion failed"). The item extends the widget's
    `print` over the same range, so VS Code can show it with the widget open."""
    ollama.responder = lambda body: (
        "(a + b)\n" if "    print<|fim_suffix|>" in body["prompt"] else "oops\n"
    )
    response = vscode.inline(
        {
            "triggerKind": 1,  # VS Code's Automatic, unconverted
            "selectedCompletionInfo": {"range": [WORD_START, CURSOR], "text": "print"},
        }
    )
    assert texts(response) == ["print(a + b)"]
    assert response["result"]["items"][0]["range"] == {"start": WORD_START, "end": CURSOR}
    # VS Code's Automatic = 1 reads as the LSP's Invoked = 1: the server cannot tell them
    # apart, so it samples the alternatives too (the extension now converts the kind)
    assert len(ollama.generations()) == 3
    assert_no_traceback(vscode)


def test_explicit_trigger_kind_0_is_invoked(vscode: VSCodeSession, ollama: FakeOllama) -> None:
    """Alt+\\ sends VS Code's Invoke = 0 (it was -32602): answered as Invoked, with the
    alternatives (completion.invokedItems = 3 samples)."""
    ollama.responder = lambda body: f"int(a + b)  # v{body['options'].get('seed', 0)}\n"
    response = vscode.inline({"triggerKind": 0})
    assert texts(response) == ["int(a + b)  # v0", "int(a + b)  # v1", "int(a + b)  # v2"]
    assert len(ollama.generations()) == 3
    assert_no_traceback(vscode)


def test_lsp_automatic_trigger_asks_for_one_sample(
    vscode: VSCodeSession, ollama: FakeOllama
) -> None:
    """What the extension sends now (LSP Automatic = 2): one sample, no alternatives."""
    ollama.responder = lambda body: f"int(a + b)  # v{body['options'].get('seed', 0)}\n"
    response = vscode.inline({"triggerKind": 2})
    assert texts(response) == ["int(a + b)  # v0"]
    assert len(ollama.generations()) == 1
    assert_no_traceback(vscode)
