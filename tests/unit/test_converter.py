"""The server's converter accepts VS Code's unconverted inline-completion context (what
vscode-languageclient 9.0.1 sends) and still rejects what no client means."""

from __future__ import annotations

from typing import Any

import pytest
from cattrs.errors import ClassValidationError
from lsprotocol import types
from pygls.protocol import default_converter

from codehearth.converter import converter
from codehearth.server import CodeHearthServer

START = {"line": 3, "character": 4}
END = {"line": 3, "character": 6}
RANGE = types.Range(start=types.Position(line=3, character=4), end=types.Position(3, 6))


@pytest.mark.parametrize(
    ("sent", "kind"),
    [
        pytest.param(0, types.InlineCompletionTriggerKind.Invoked, id="vscode-invoke-0"),
        pytest.param(1, types.InlineCompletionTriggerKind.Invoked, id="lsp-invoked-1"),
        pytest.param(2, types.InlineCompletionTriggerKind.Automatic, id="lsp-automatic-2"),
    ],
)
def test_trigger_kinds(sent: int, kind: types.InlineCompletionTriggerKind) -> None:
    context = converter().structure({"triggerKind": sent}, types.InlineCompletionContext)
    assert context.trigger_kind is kind


@pytest.mark.parametrize("sent", [3, -1, "0", False, None])
def test_other_trigger_kinds_are_still_invalid(sent: Any) -> None:
    with pytest.raises(ClassValidationError):
        converter().structure({"triggerKind": sent}, types.InlineCompletionContext)


@pytest.mark.parametrize(
    "span",
    [
        pytest.param([START, END], id="vscode-json-array"),
        pytest.param({"start": START, "end": END}, id="lsp-range"),
    ],
)
def test_selected_completion_range_in_either_shape(span: Any) -> None:
    context = converter().structure(
        {"triggerKind": 2, "selectedCompletionInfo": {"range": span, "text": "print"}},
        types.InlineCompletionContext,
    )
    assert context.selected_completion_info == types.SelectedCompletionInfo(
        range=RANGE, text="print"
    )


@pytest.mark.parametrize(
    "info",
    [
        pytest.param({"range": [START], "text": "print"}, id="one-position"),
        pytest.param({"range": [START, END, END], "text": "print"}, id="three-positions"),
        pytest.param({"range": [START, {"line": 3}], "text": "print"}, id="no-character"),
        pytest.param({"range": [START, END]}, id="no-text"),
        pytest.param([START, END], id="not-an-object"),
    ],
)
def test_malformed_selected_completion_info_is_still_invalid(info: Any) -> None:
    with pytest.raises(ClassValidationError):
        converter().structure(
            {"triggerKind": 2, "selectedCompletionInfo": info}, types.InlineCompletionContext
        )


def test_pygls_default_converter_rejects_what_ours_accepts() -> None:
    """The reason for the module: without the hooks these fail (as they did in VS Code)."""
    for context in (
        {"triggerKind": 0},
        {"triggerKind": 1, "selectedCompletionInfo": {"range": [START, END], "text": "x"}},
    ):
        with pytest.raises(ClassValidationError):
            default_converter().structure(context, types.InlineCompletionContext)


def test_the_server_structures_vscode_9_requests_with_it() -> None:
    """A request as vscode-languageclient 9.0.1 sends it with the suggest widget open,
    through the server's own protocol (as MessageGate hands it over)."""
    message = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": types.TEXT_DOCUMENT_INLINE_COMPLETION,
        "params": {
            "textDocument": {"uri": "file:///w/calc.py"},
            "position": END,
            "context": {
                "triggerKind": 1,
                "selectedCompletionInfo": {"range": [START, END], "text": "print"},
            },
        },
    }
    request = CodeHearthServer().protocol.structure_message(message)
    assert isinstance(request, types.InlineCompletionRequest)
    assert request.params.context.selected_completion_info == types.SelectedCompletionInfo(
        range=RANGE, text="print"
    )
