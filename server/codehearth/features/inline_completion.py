"""Completions from the model: ``textDocument/inlineCompletion`` (LSP 3.18 ghost text) and,
for clients without it, ``textDocument/completion`` with one item.

Handlers are thin: they turn the LSP position into a :class:`CompletionQuery`, await the
engine and shape the answer. Each inline item's range runs from the cursor over auto-closed
characters at the end of the line, so accepting never duplicates a ``)``. The completion
item has no range: it is the word before the cursor followed by the suggestion, a snippet
when it spans lines and the client takes snippets (:mod:`codehearth.completion.menu` says
why editors need this shape). The document version is checked again before replying: an
answer for text the user has already changed is dropped. Cancellation (``$/cancelRequest``)
cancels the handler's task, which stops the wait; the engine closes any stream nobody
waits for.

While the editor's suggest widget is open, the context names the item selected there
(``selectedCompletionInfo``); an editor shows ghost text then only if it extends that
item from the same start. So the model completes the text as if the item were accepted,
and each item replaces the item's range with the item's text followed by the suggestion.
A selection that cannot be applied gets no answer (no model call): its range is not on
the cursor line around the cursor, or its text spans lines.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import attrs
from lsprotocol import types
from pygls.workspace import TextDocument

from codehearth.completion.edits import plan_insertion
from codehearth.completion.engine import CompletionQuery, Suggestion, relative_path
from codehearth.completion.menu import menu_entry
from codehearth.index.scanner import is_denied
from codehearth.server import CodeHearthServer

log = logging.getLogger(__name__)

ACCEPTED_COMMAND = "codehearth.suggestionAccepted"
"""Run by the editor when the user accepts a suggestion (recorded in recall memory)."""


@attrs.frozen
class Placed:
    """A suggestion placed in the document: its text and the client range it replaces, the
    line before the range, and the model's suggestion alone (inserted at the cursor, it
    leaves the auto-closed tail after the cursor as it is)."""

    text: str
    range: types.Range
    line_prefix: str
    suggestion: str


@attrs.frozen
class Target:
    """Where items go: the client range they replace (before any auto-closed tail), the
    text they start with, and the server column of the range's start."""

    start: types.Position
    end: types.Position
    lead: str
    column: int


@attrs.frozen
class Planned:
    """A query for the engine, where its suggestions go, and the cursor line as the query
    sees it (with the selected item in place)."""

    query: CompletionQuery
    target: Target
    line_text: str


def register(server: CodeHearthServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: CodeHearthServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        uri = params.text_document.uri
        selected = params.context.selected_completion_info
        log.debug(
            "inline completion, %s, at %s%s",
            "invoked" if invoked else "automatic",
            params.position,
            ", suggest widget open" if selected else "",
        )
        placed = await _complete(ls, uri, params.position, invoked, selected)
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
        entry = menu_entry(first.line_prefix, first.suggestion, snippets=_takes_snippets(ls))
        if entry is None:
            return None
        item = types.CompletionItem(
            label=entry.text,
            kind=types.CompletionItemKind.Text,
            detail="CodeHearth",
            insert_text=entry.snippet or entry.text,
            insert_text_format=(
                types.InsertTextFormat.Snippet
                if entry.snippet
                else types.InsertTextFormat.PlainText
            ),
            sort_text="0",
            preselect=True,
        )
        return types.CompletionList(is_incomplete=True, items=[item])


def _takes_snippets(ls: CodeHearthServer) -> bool:
    text_document = ls.client_capabilities.text_document
    completion = text_document.completion if text_document else None
    item = completion.completion_item if completion else None
    return bool(item and item.snippet_support)


async def _complete(
    ls: CodeHearthServer,
    uri: str,
    position: types.Position,
    invoked: bool,
    selected: types.SelectedCompletionInfo | None = None,
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
    at_cursor = completion_query(ls, document, lines, position, invoked)
    if at_cursor is None:
        return None
    line_text = lines[at_cursor.line] if at_cursor.line < len(lines) else ""
    planned = (
        Planned(at_cursor, Target(position, position, "", at_cursor.column), line_text)
        if selected is None
        else _accepting(document, lines, at_cursor, line_text, selected)
    )
    if planned is None:
        log.debug("the suggest widget's item does not apply at %s", position)
        return None
    query = planned.query
    suggestions = await engine.complete(query, lambda: document.version == query.version)
    if not suggestions or document.version != query.version:
        return None
    return [_place(suggestion, planned) for suggestion in suggestions]


def _accepting(
    document: TextDocument,
    lines: Sequence[str],
    query: CompletionQuery,
    line_text: str,
    selected: types.SelectedCompletionInfo,
) -> Planned | None:
    """The query as if the suggest widget's selected item were accepted, and where items
    go then; None when the item's range is not on the cursor line."""
    span = selected.range
    if not span.start.line == span.end.line == query.line:
        return None
    codec = document.position_codec
    start = codec.position_from_client_units(lines, span.start).character
    end = codec.position_from_client_units(lines, span.end).character
    accepted = query.accepting(start, end, selected.text)
    if accepted is None:
        return None
    return Planned(
        query=accepted,
        target=Target(start=span.start, end=span.end, lead=selected.text, column=start),
        line_text=line_text[:start] + selected.text + line_text[end:],
    )


def completion_query(
    ls: CodeHearthServer,
    document: TextDocument,
    lines: Sequence[str],
    position: types.Position,
    invoked: bool,
) -> CompletionQuery | None:
    """The engine's query for a client position in an open document (None past its end)."""
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


def _place(suggestion: Suggestion, planned: Planned) -> Placed:
    query, target, line_text = planned.query, planned.target, planned.line_text
    insertion = plan_insertion(line_text[query.column :], suggestion.text)
    # Closing characters are ASCII: one unit in every position encoding.
    end = types.Position(line=target.end.line, character=target.end.character + insertion.replaced)
    return Placed(
        text=target.lead + insertion.text,
        range=types.Range(start=target.start, end=end),
        line_prefix=line_text[: target.column],
        suggestion=suggestion.text,
    )
