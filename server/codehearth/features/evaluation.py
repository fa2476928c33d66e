"""``codehearth.evalComplete`` (``workspace/executeCommand``): the completion at a cursor
of an open document with the workspace context the caller gives (``codehearth eval``'s
"oracle" condition: the definition the line needs). The pipeline is the inline
completion's (:func:`codehearth.completion.given_context.complete_with_context`); this
handler only turns the arguments into a query and the suggestions into JSON.

Arguments: ``{"uri", "line", "character", "context": [{"path", "text"}]}`` (a position in
the client's units, as for ``textDocument/inlineCompletion``). Answer: ``{"ok": true,
"items": [text, ...], "answeredBy": "model (where)"}``, or ``{"ok": false, "error"}``.
"""

from __future__ import annotations

from typing import Any

import attrs
from lsprotocol import types

from codehearth.completion.given_context import complete_with_context
from codehearth.features.inline_completion import completion_query
from codehearth.index.scanner import is_denied
from codehearth.prompts.fim import ContextSnippet
from codehearth.server import CodeHearthServer

EVAL_COMPLETE_COMMAND = "codehearth.evalComplete"


@attrs.define
class GivenSnippet:
    path: str
    text: str


@attrs.define
class EvalCompleteArgs:
    uri: str
    line: int
    character: int
    context: list[GivenSnippet] = attrs.field(factory=list)


def register(server: CodeHearthServer) -> None:
    @server.command(EVAL_COMPLETE_COMMAND)
    async def eval_complete(ls: CodeHearthServer, args: EvalCompleteArgs) -> dict[str, Any]:
        if not await ls.wait_ready() or ls.engine is None:
            return {"ok": False, "error": "CodeHearth is still starting"}
        document = ls.open_document(args.uri)
        if document is None:
            return {"ok": False, "error": f"{args.uri} is not open"}
        if document.path is not None and is_denied(document.path, ls.workspace_root):
            return {"ok": False, "error": "this file never goes into a prompt"}
        position = types.Position(line=args.line, character=args.character)
        query = completion_query(ls, document, document.lines, position, invoked=True)
        if query is None:
            return {"ok": False, "error": f"no position {args.line}:{args.character}"}
        snippets = [ContextSnippet(given.path, given.text) for given in args.context]
        suggestions = await complete_with_context(
            ls.engine, query, snippets, ls.settings.index.context_tokens
        )
        return {
            "ok": True,
            "items": [suggestion.text for suggestion in suggestions],
            "answeredBy": ls.answered_by("completion"),
        }
