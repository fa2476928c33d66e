"""The cattrs converter pygls structures incoming messages with: pygls's own, plus hooks
that accept what real clients send where the LSP types are stricter.

pygls structures a request's params before any handler runs; params that do not fit are
answered ``-32602`` (and pygls logs a traceback), so a client quirk turns every such
request into an error toast in the editor. The quirks accepted here:

* **VS Code's inline-completion context, passed through unconverted.**
  vscode-languageclient 9.0.1 forwards VS Code's own ``InlineCompletionContext``
  (microsoft/vscode-languageserver-node#1371; converted from 10.x on):

  - ``triggerKind`` in VS Code's numbering, Invoke = 0 and Automatic = 1, where the LSP
    has Invoked = 1 and Automatic = 2. ``0`` can only mean an explicit request, so it is
    read as ``Invoked``. A ``1`` from such a client (an automatic trigger) cannot be told
    from the LSP's ``Invoked``: the extension converts the context itself, so our
    extension never sends one (``vscode-extension/src/logic.ts``).
  - ``selectedCompletionInfo.range`` as a ``vscode.Range`` turned into JSON, which is
    the array ``[start, end]`` of ``{line, character}``, not an LSP ``Range``.

Only public pygls API is used: ``LanguageServer(converter_factory=...)`` and
``pygls.protocol.default_converter``.
"""

from __future__ import annotations

from typing import Any

import cattrs
from lsprotocol import types
from pygls.protocol import default_converter

VSCODE_INVOKE = 0
"""``vscode.InlineCompletionTriggerKind.Invoke``: an explicit request (Alt+\\)."""


def converter() -> cattrs.Converter:
    """pygls's default converter with the hooks above; pass as ``converter_factory``."""
    result = default_converter()
    result.register_structure_hook(types.InlineCompletionTriggerKind, _trigger_kind)
    structure_selected = result.get_structure_hook(types.SelectedCompletionInfo)

    def selected_completion_info(value: Any, cls: type) -> types.SelectedCompletionInfo:
        return structure_selected(_lsp_range_in(value), cls)  # type: ignore[no-any-return]

    result.register_structure_hook(types.SelectedCompletionInfo, selected_completion_info)
    return result


def _trigger_kind(value: Any, _cls: type) -> types.InlineCompletionTriggerKind:
    if value == VSCODE_INVOKE and not isinstance(value, bool):
        return types.InlineCompletionTriggerKind.Invoked
    return types.InlineCompletionTriggerKind(value)


def _lsp_range_in(value: Any) -> Any:
    """``{"range": [start, end], ...}`` -> ``{"range": {"start": start, "end": end}, ...}``;
    anything else unchanged (the default hook then accepts or rejects it)."""
    if isinstance(value, dict):
        span = value.get("range")
        if isinstance(span, list) and len(span) == 2:
            return {**value, "range": {"start": span[0], "end": span[1]}}
    return value
