"""Code actions: ``textDocument/codeAction``, ``codeAction/resolve`` and, for clients that
cannot resolve, the ``codehearth.applyAction`` command.

``codeAction`` answers at once with cheap stubs: a quick fix per diagnostic in the request
(kind ``quickfix.codehearth``) and, on a selection, refactors (add docstring, add type
hints, simplify; kind ``refactor.rewrite.codehearth``). Each stub carries ``data`` (uri,
version, action, lines, diagnostic). The model only runs on resolve: the refine loop
drafts, verifies (applies, parses, diagnostic gone, style), critiques and refines, and only
a verified edit that touches nothing but the target region of the current document
version is attached. When none verifies the user is told why, and the best draft goes to
the log as a chat answer, never as a silent edit.
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified, JsonRpcInvalidParams
from pygls.uris import to_fs_path

from codehearth.index.scanner import is_denied
from codehearth.models.errors import BackendError
from codehearth.refine.actions import ActionJob, ActionOutcome, run_action
from codehearth.refine.edits import EditProposal
from codehearth.refine.verify import TargetDiagnostic
from codehearth.server import CodeHearthServer, client_range
from codehearth.style.profile import render_style_block

log = logging.getLogger(__name__)

QUICK_FIX_KIND = "quickfix.codehearth"
REFACTOR_KIND = "refactor.rewrite.codehearth"
APPLY_COMMAND = "codehearth.applyAction"

REFACTORS = {
    "add_docstring": "Add docstring",
    "add_type_hints": "Add type hints",
    "simplify": "Simplify",
}


def register(server: CodeHearthServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[QUICK_FIX_KIND, REFACTOR_KIND], resolve_provider=True
        ),
    )
    async def code_action(
        ls: CodeHearthServer, params: types.CodeActionParams
    ) -> list[types.CodeAction] | None:
        if not await ls.wait_ready() or not ls.settings.actions.enabled:
            return None
        uri = params.text_document.uri
        if uri not in ls.workspace.text_documents:
            return None
        document = ls.workspace.get_text_document(uri)
        if document.path is not None and is_denied(document.path, ls.workspace_root):
            return None
        stubs = _stubs(params, document.version)
        if params.context.only:
            stubs = [
                s for s in stubs if any(str(s.kind).startswith(k) for k in params.context.only)
            ]
        if not _client_resolves_edits(ls):
            for stub in stubs:
                stub.command = types.Command(
                    title=stub.title, command=APPLY_COMMAND, arguments=[stub.data]
                )
        return stubs or None

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: CodeHearthServer, action: types.CodeAction) -> types.CodeAction:
        outcome = await _run(ls, action.data)
        if outcome is not None and outcome.edit is not None:
            action.edit = _workspace_edit(ls, outcome.edit)
        return action

    @server.command(APPLY_COMMAND)
    async def apply_action(ls: CodeHearthServer, data: dict[str, Any]) -> dict[str, Any]:
        outcome = await _run(ls, data)
        if outcome is None or outcome.edit is None:
            return {"applied": False, "reason": outcome.reason if outcome else "not ready"}
        result = await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(
                edit=_workspace_edit(ls, outcome.edit), label="CodeHearth"
            )
        )
        return {"applied": bool(result.applied), "reason": result.failure_reason or "verified"}


def _stubs(params: types.CodeActionParams, version: int | None) -> list[types.CodeAction]:
    uri = params.text_document.uri
    stubs: list[types.CodeAction] = []
    for diagnostic in params.context.diagnostics:
        message = diagnostic.message.splitlines()[0] if diagnostic.message else "problem"
        code = "" if diagnostic.code is None else str(diagnostic.code)
        stubs.append(
            types.CodeAction(
                title=f"CodeHearth: fix {code + ' ' if code else ''}“{message[:60]}”",
                kind=QUICK_FIX_KIND,
                diagnostics=[diagnostic],
                data={
                    "uri": uri,
                    "version": version,
                    "action": "quick_fix",
                    "startLine": diagnostic.range.start.line,
                    "endLine": diagnostic.range.end.line,
                    "diagnostic": {
                        "code": code,
                        "message": diagnostic.message,
                        "line": diagnostic.range.start.line,
                        "char": diagnostic.range.start.character,
                    },
                },
            )
        )
    selection = params.range
    if selection.start != selection.end:
        end_line = selection.end.line
        if selection.end.character == 0 and end_line > selection.start.line:
            end_line -= 1  # a selection of whole lines ends at column 0 of the next one
        for action, title in REFACTORS.items():
            stubs.append(
                types.CodeAction(
                    title=f"CodeHearth: {title}",
                    kind=REFACTOR_KIND,
                    data={
                        "uri": uri,
                        "version": version,
                        "action": action,
                        "startLine": selection.start.line,
                        "endLine": end_line,
                    },
                )
            )
    return stubs


def _client_resolves_edits(ls: CodeHearthServer) -> bool:
    text_document = ls.client_capabilities.text_document
    code_action = text_document.code_action if text_document else None
    support = code_action.resolve_support if code_action else None
    return support is not None and "edit" in support.properties


async def _run(ls: CodeHearthServer, data: Any) -> ActionOutcome | None:
    """Resolve one action; None when the server cannot run it (not ready, no document)."""
    if not isinstance(data, dict) or not {"uri", "action", "startLine", "endLine"} <= set(data):
        raise JsonRpcInvalidParams("this code action was not made by CodeHearth")
    engine = ls.engine
    uri = str(data["uri"])
    if engine is None or uri not in ls.workspace.text_documents:
        return None
    document = ls.workspace.get_text_document(uri)
    if data.get("version") is not None and document.version != data["version"]:
        raise JsonRpcContentModified("the document changed; ask for the action again")
    path = document.path or to_fs_path(uri) or uri
    language_id = document.language_id or ""
    diagnostic = data.get("diagnostic")
    settings = ls.settings.actions
    job = ActionJob(
        kind=str(data["action"]),
        uri=uri,
        version=document.version,
        path=path,
        language_id=language_id,
        text=document.source,
        start_line=int(data["startLine"]),
        end_line=int(data["endLine"]),
        diagnostic=(
            TargetDiagnostic(
                str(diagnostic.get("code", "")),
                str(diagnostic.get("message", "")),
                int(diagnostic.get("line", 0)),
                int(diagnostic.get("char", 0)),
            )
            if isinstance(diagnostic, dict)
            else None
        ),
        style_block=render_style_block(ls.style, language_id) if ls.style else "",
    )

    async def model(messages: list[dict[str, str]]) -> str:
        parts = [
            chunk.content
            async for chunk in engine.backend.chat(
                settings.model, messages, num_ctx=settings.num_ctx
            )
        ]
        return "".join(parts)

    try:
        outcome = await run_action(
            job,
            model,
            workspace_root=ls.workspace_root,
            current_version=lambda: ls.workspace.get_text_document(uri).version,
            max_rounds=settings.max_rounds,
            time_budget_s=settings.time_budget_seconds,
        )
    except BackendError as error:
        ls.notifier.report(error)
        return ActionOutcome(result=None, edit=None, reason=error.kind.value)  # type: ignore[arg-type]
    _log_trace(ls, job, outcome)
    return outcome


def _log_trace(ls: CodeHearthServer, job: ActionJob, outcome: ActionOutcome) -> None:
    rounds = outcome.result.rounds if outcome.result else ()
    summary = "; ".join(
        f"round {trace.round}: "
        + ", ".join(f"{c.name} {'ok' if c.ok else 'FAILED'}" for c in trace.checks)
        + f" ({trace.ms:.0f} ms)"
        for trace in rounds
    )
    ls.log_info(
        f"action {job.kind} on {job.path}:{job.start_line + 1}: {outcome.reason}. {summary}"
    )
    if outcome.edit is None:
        draft = outcome.result.best_draft if outcome.result else None
        ls.notifier.notify(
            f"no verified edit for {job.kind.replace('_', ' ')} ({outcome.reason}); "
            "the best draft is in the CodeHearth log"
            if draft
            else f"no verified edit for {job.kind.replace('_', ' ')} ({outcome.reason})"
        )
        if draft:
            ls.log_info(f"best unverified draft (not applied):\n{draft}")


def _workspace_edit(ls: CodeHearthServer, proposal: EditProposal) -> types.WorkspaceEdit:
    document = ls.workspace.get_text_document(proposal.uri)
    lines = document.lines
    edits = [
        types.TextEdit(
            range=client_range(
                document, lines, edit.start_line, edit.start_char, edit.end_line, edit.end_char
            ),
            new_text=edit.new_text,
        )
        for edit in proposal.edits
    ]
    workspace = ls.client_capabilities.workspace
    edit_support = workspace.workspace_edit if workspace else None
    if edit_support is not None and edit_support.document_changes:
        return types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=proposal.uri, version=proposal.version
                    ),
                    edits=list(edits),
                )
            ]
        )
    return types.WorkspaceEdit(changes={proposal.uri: edits})
