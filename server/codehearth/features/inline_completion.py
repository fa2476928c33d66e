"""Completions from the model: ``textDocument/inlineCompletion`` (LSP 3.18 ghost text) and,
for clients without it, ``textDocument/completion`` with one item.

Handlers are thin: they turn the LSP position into a :class:`CompletionQuery`, await the
engine and shape the answer. Each item's range runs from the cursor over auto-closed
characters at the end of the line, so accepting never duplicates a ``)``. The document
version is checked again before replying: an answer for text the user has already changed
is dropped. Cancellation (``$/cancelRequest``) cancels the handler's task, which stops the
wait; the engine closes any stream nobody waits for.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import attrs
from lsprotocol import types
from pygls.workspace import TextDocument

from codehearth.completion.edits import plan_insertion
from codehearth.completion.engine import CompletionQuery, Suggestion, relative_path
from codehearth.index.scanner import is_denied
from codehearth.server import CodeHearthServer

log = logging.getLogger(__name__)

ACCEPTED_COMMAND = "codehearth.suggestionAccepted"
"""Run by the editor when the user accepts a suggestion (recorded in recall memory)."""


@attrs.frozen
class Placed:
    """A suggestion placed in the document: its text and the client range it replaces."""

    text: str
    range: types.Range
    line_prefix: str


def register(server: CodeHearthServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: CodeHearthServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        uri = params.text_document.uri
        placed = await _complete(ls, uri, params.position, invoked)
        if not placed:
            return None
        first = placed[0]
        ls.outcomes.shown(uri, first.range.start.line, first.line_prefix, first.text)
        return types.InlineCompletionList(
            items=[
                types.InlineCompletionItem(
                    insert_text=p.text,
                    range=p.range,
                    command=types.Command(
                        title="CodeHearth: suggestion accepted",
                        command=ACCEPTED_COMMAND,
                        arguments=[{"uri": uri, "text": p.text}],
                    ),
                )
                for p in placed
            ]
        )


def register_completion_fallback(server: CodeHearthServer) -> None:
    """``textDocument/completion`` for clients that cannot show inline completions."""

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(resolve_provider=False),
    )
    async def completion(
        ls: CodeHearthServer, params: types.CompletionParams
    ) -> types.CompletionList | None:
        invoked = (
            params.context is None
            or params.context.trigger_kind == types.CompletionTriggerKind.Invoked
        )
        placed = await _complete(ls, params.text_document.uri, params.position, invoked)
        if not placed:
            return None
        first = placed[0]
        label = first.line_prefix.lstrip() + first.text.split("\n", 1)[0]
        indent = len(first.line_prefix) - len(first.line_prefix.lstrip())
        edit_range = types.Range(
            start=types.Position(line=first.range.start.line, character=indent),
            end=first.range.end,
        )
        item = types.CompletionItem(
            label=label.strip() or first.text.strip()[:60],
            kind=types.CompletionItemKind.Text,
            detail="CodeHearth",
            documentation=types.MarkupContent(
                kind=types.MarkupKind.PlainText, value=first.line_prefix.lstrip() + first.text
            ),
            filter_text=first.line_prefix.lstrip(),
            text_edit=types.TextEdit(
                range=edit_range, new_text=first.line_prefix.lstrip() + first.text
            ),
            insert_text_format=types.InsertTextFormat.PlainText,
            sort_text="0",
            preselect=True,
        )
        return types.CompletionList(is_incomplete=True, items=[item])


async def _complete(
    ls: CodeHearthServer, uri: str, position: types.Position, invoked: bool
) -> list[Placed] | None:
    if not await ls.wait_ready():
        return None
    engine = ls.engine
    document = ls.open_document(uri)
    if engine is None or document is None:
        return None
    if document.path is not None and is_denied(document.path, ls.workspace_root):
        return None  # secrets never go into a prompt
    lines = document.lines  # pygls re-splits the text on every access: do it once
    query = _query(ls, document, lines, position, invoked)
    if query is None:
        return None
    suggestions = await engine.complete(query, lambda: document.version == query.version)
    if not suggestions or document.version != query.version:
        return None
    line_text = lines[query.line] if query.line < len(lines) else ""
    return [_place(suggestion, line_text, query, position) for suggestion in suggestions]


def _query(
    ls: CodeHearthServer,
    document: TextDocument,
    lines: Sequence[str],
    position: types.Position,
    invoked: bool,
) -> CompletionQuery | None:
    if position.line > len(lines) or position.line < 0 or position.character < 0:
        return None
    server_position = document.position_codec.position_from_client_units(lines, position)
    offset = sum(len(line) for line in lines[: server_position.line]) + server_position.character
    root = ls.workspace_root
    return CompletionQuery(
        uri=document.uri,
        version=document.version,
        text=document.source,
        offset=offset,
        line=server_position.line,
        column=server_position.character,
        language_id=document.language_id or _language_from_path(ls, document.path),
        invoked=invoked,
        file_path=relative_path(document.path, str(root) if root else None),
        repo_name=root.name if root else None,
    )


def _language_from_path(ls: CodeHearthServer, path: str | None) -> str:
    spec = ls.registry.by_path(path) if path else None
    return spec.language_id if spec is not None else ""


def _place(
    suggestion: Suggestion, line_text: str, query: CompletionQuery, position: types.Position
) -> Placed:
    insertion = plan_insertion(line_text[query.column :], suggestion.text)
    # Closing characters are ASCII: one unit in every position encoding.
    end = types.Position(line=position.line, character=position.character + insertion.replaced)
    return Placed(
        text=insertion.text,
        range=types.Range(start=position, end=end),
        line_prefix=line_text[: query.column],
    )
