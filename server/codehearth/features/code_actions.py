"""Code actions: ``textDocument/codeAction``, ``codeAction/resolve``, the
``codehearth.applyAction`` command (for clients that cannot resolve, for a resolve that
handed its run over, and for actions that answer in text) and ``codehearth.refineTrace``.

``codeAction`` answers at once with cheap stubs: a quick fix per diagnostic in the request
(kind ``quickfix.codehearth``) and, on a selection, refactors (add docstring, add type
hints, simplify; kind ``refactor.rewrite.codehearth``), actions that answer in text
(explain, write tests; kind ``refactor.answer.codehearth``) and the user's own actions from
``actions.custom`` (``edit`` ones are refactors, ``chat`` ones answer in text). Each stub
carries ``data`` (uri, version, action, lines, diagnostic).

The model only runs when an action is picked. For an edit, the refine loop drafts,
verifies (applies, parses, diagnostic gone, style), critiques and refines, and only a
verified edit that touches nothing but the target region of the current document version
is ever offered. When none verifies the user is told why, and the best draft goes to the
log, never as a silent edit. The loop runs in a background run per pick
(:mod:`codehearth.refine.runs`), so no request waits for it longer than a client does
(eglot gives up after 10 s; the built-in model needs 15-20 s):

* ``codeAction/resolve`` waits up to ``RESOLVE_WAIT_SECONDS`` and attaches the verified
  edit when it is there by then (the client applies it as part of the pick, as VS Code
  and Neovim do); otherwise it answers without the edit and with the command
  ``codehearth.applyAction``, which the client runs next;
* ``codehearth.applyAction`` (the stub's command for clients that cannot resolve, such as
  eglot 1.9) answers at once, claims the run and sends its verified edit by
  ``workspace/applyEdit`` (versioned) once it is ready, unless the document changed
  meanwhile: then the user is told and nothing is applied. The work shows as a
  ``$/progress`` item, or, for a client without one, a message per pick.

Picking the same action again while it runs joins the run (one model run, one edit);
editing or closing the document stops its runs (the model stream is closed), so does a
resolve the client cancels when nothing else waits for the run, and shutdown stops them
all. An action that answers in text carries a command instead: *explain* is the chat's
``codehearth.explain`` in the background; *write tests* (only tests that parse) and chat
actions run through ``codehearth.applyAction``, which answers at once; their answer comes
as a ``codehearth/chatChunk``, never as an edit (an edit may only touch the target
document).

Every resolved action leaves a trace (rounds, checks, tokens, ms) in the user cache
directory; ``codehearth.refineTrace`` (optional argument: how many) returns the last ones.
A fix for a language without a checker of ours (not Python) is rechecked after it is
applied: the client's diagnostics in the next code-action request over the fixed line say
whether the diagnostic is gone, and the trace gets that ``client_diagnostics`` check.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

import attrs
from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified, JsonRpcException, JsonRpcInvalidParams
from pygls.uris import to_fs_path

from codehearth.features.chat import CHUNK_NOTIFICATION
from codehearth.models.errors import BackendError
from codehearth.prompts.actions import ACTIONS, Message
from codehearth.refine.actions import ActionJob, ActionOutcome, run_action
from codehearth.refine.answers import AnswerOutcome, answer_once, write_tests
from codehearth.refine.edits import EditProposal, editable_path
from codehearth.refine.loop import Model, ModelAnswer, RoundTrace
from codehearth.refine.recheck import ClientRechecks, SeenDiagnostic
from codehearth.refine.runs import CHANGED, CLOSED, ActionRun, ActionRuns
from codehearth.refine.trace import KEEP_TRACES, ActionTrace, CheckRecord, TraceLog
from codehearth.refine.verify import TargetDiagnostic
from codehearth.server import CodeHearthServer, client_range
from codehearth.style.profile import render_style_block

log = logging.getLogger(__name__)

T = TypeVar("T")

QUICK_FIX_KIND = "quickfix.codehearth"
REFACTOR_KIND = "refactor.rewrite.codehearth"
ANSWER_KIND = "refactor.answer.codehearth"
APPLY_COMMAND = "codehearth.applyAction"
EXPLAIN_COMMAND = "codehearth.explain"
TRACE_COMMAND = "codehearth.refineTrace"
RESOLVE_WAIT_SECONDS = 5.0
"""How long ``codeAction/resolve`` waits for a verified edit before it hands the run to
the ``codehearth.applyAction`` command, whose edit follows by ``workspace/applyEdit``:
well under the 10 s after which eglot gives up on a request."""
ACTIONS_CONVERSATION = "codehearth-actions"
"""The ``conversationId`` of the chat chunks that carry code actions' text answers."""

REFACTORS = {
    "add_docstring": "Add docstring",
    "add_type_hints": "Add type hints",
    "simplify": "Simplify",
}
EXPLAIN = "explain"
WRITE_TESTS = "write_tests"
CUSTOM = "custom"
CUSTOM_MODES = ("edit", "chat")
CUSTOM_KEYS = frozenset({"title", "prompt", "mode"})

_CUSTOM_PLACEHOLDER = re.compile(r"\{(code|file|instruction)\}")
_PROMPT_PLACEHOLDERS = {"code": "{selection}", "file": "{path}"}


@attrs.frozen
class CustomAction:
    """A user-defined action from ``actions.custom``: a prompt template and whether its
    answer edits the selection (``edit``, verified like any refactor) or is text (``chat``)."""

    title: str
    prompt: str
    mode: str

    def template(self, instruction: str) -> str:
        """The prompt in :func:`codehearth.prompts.actions.fill_template`'s placeholders:
        ``{code}`` is ``{selection}``, ``{file}`` is ``{path}``, and ``{instruction}`` is
        the text the client sent (empty when it sent none), in one pass."""
        return _CUSTOM_PLACEHOLDER.sub(
            lambda match: _PROMPT_PLACEHOLDERS.get(match.group(1), instruction), self.prompt
        )


def custom_actions(entries: Sequence[Mapping[str, Any]]) -> tuple[list[CustomAction], list[str]]:
    """The valid entries of ``actions.custom`` and a warning for each one skipped (no
    title or prompt text, an unknown mode, a title used twice) or each unknown key."""
    actions: list[CustomAction] = []
    warnings: list[str] = []
    titles: set[str] = set()
    for number, entry in enumerate(entries, 1):
        where = f"actions.custom entry {number}"
        title, prompt, mode = entry.get("title"), entry.get("prompt"), entry.get("mode", "edit")
        unknown = sorted(set(entry) - CUSTOM_KEYS)
        if unknown:
            warnings.append(f"{where}: unknown key(s) {', '.join(unknown)} ignored")
        if not isinstance(title, str) or not title.strip():
            warnings.append(f"{where} has no title; skipped")
        elif not isinstance(prompt, str) or not prompt.strip():
            warnings.append(f"{where} ({title}) has no prompt; skipped")
        elif mode not in CUSTOM_MODES:
            warnings.append(
                f"{where} ({title}): mode must be 'edit' or 'chat', not {mode!r}; skipped"
            )
        elif title.strip() in titles:
            warnings.append(f"{where}: the title {title.strip()!r} is used twice; skipped")
        else:
            titles.add(title.strip())
            actions.append(CustomAction(title.strip(), prompt, mode))
    return actions, warnings


def _custom_actions(ls: CodeHearthServer) -> list[CustomAction]:
    actions, warnings = custom_actions(ls.settings.actions.custom)
    for warning in warnings:
        ls.warn_once(warning)
    return actions


def register(server: CodeHearthServer) -> None:
    traces = TraceLog.default()
    rechecks = ClientRechecks()
    runs: ActionRuns[ActionOutcome] = ActionRuns(
        server.spawn, keep=lambda outcome: outcome.edit is not None
    )
    answers: ActionRuns[None] = ActionRuns(server.spawn, keep=lambda _: False)
    server.action_runs = runs

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[QUICK_FIX_KIND, REFACTOR_KIND, ANSWER_KIND], resolve_provider=True
        ),
    )
    async def code_action(
        ls: CodeHearthServer, params: types.CodeActionParams
    ) -> list[types.CodeAction] | None:
        if not await ls.wait_ready() or not ls.settings.actions.enabled:
            return None
        uri = params.text_document.uri
        document = ls.open_document(uri)
        if document is None:
            return None
        if document.path is None or not editable_path(document.path, ls.workspace_root):
            return None  # nothing could be offered: do not promise an action
        _settle_rechecks(ls, traces, rechecks, params, document.version)
        stubs = _stubs(params, document.version, _custom_actions(ls))
        if params.context.only:
            stubs = [
                s for s in stubs if any(str(s.kind).startswith(k) for k in params.context.only)
            ]
        if not _client_resolves_edits(ls):
            for stub in stubs:
                if stub.command is None:
                    stub.command = types.Command(
                        title=stub.title, command=APPLY_COMMAND, arguments=[stub.data]
                    )
        return stubs or None

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: CodeHearthServer, action: types.CodeAction) -> types.CodeAction:
        if _answers_in_text(ls, action.data):
            return action  # its command does the work when the user picks it
        job = _job(ls, action.data, await ls.user_rules())
        if job is None:
            return action
        run = _start_edit(ls, runs, traces, rechecks, job)
        done = not run.claimed and await runs.wait(run, RESOLVE_WAIT_SECONDS)
        if not done or run.claimed:
            # the command claims the run; its edit follows by workspace/applyEdit
            action.command = types.Command(
                title=action.title, command=APPLY_COMMAND, arguments=[action.data]
            )
            return action
        outcome = run.outcome()
        if outcome is not None and outcome.edit is not None:
            action.edit = _workspace_edit(ls, outcome.edit)
        elif run.stopped in (CHANGED, CLOSED):
            _tell_stopped(ls, job, run.stopped)
        return action

    @server.command(APPLY_COMMAND)
    async def apply_action(ls: CodeHearthServer, data: dict[str, Any]) -> dict[str, Any]:
        in_text = _answers_in_text(ls, data)
        job = _job(ls, data, await ls.user_rules())
        if job is None:
            ls.notifier.notify("still starting; pick the action again in a moment")
            return {"started": False, "reason": "not ready"}
        if in_text and job.kind == EXPLAIN:
            raise JsonRpcInvalidParams(f"explain runs as {EXPLAIN_COMMAND}")
        if in_text:
            claimed = answers.start(
                _run_key(job),
                job.uri,
                job.version,
                lambda: _shown(ls, job, _answer(ls, traces, job), lambda _: "answered"),
                f"action {job.kind}",
            ).claim()
        else:
            run = _start_edit(ls, runs, traces, rechecks, job)
            claimed = run.claim()
            if claimed:
                ls.spawn(_deliver_edit(ls, runs, run, job), f"deliver {job.kind}")
        _tell_working(ls, job, again=not claimed, in_text=in_text)
        return {"started": claimed, "reason": "running" if claimed else "already running"}

    @server.command(TRACE_COMMAND)
    async def refine_trace(ls: CodeHearthServer, *args: Any) -> dict[str, Any]:
        count = args[0] if args else KEEP_TRACES
        if len(args) > 1 or not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise JsonRpcInvalidParams("the only argument is how many traces (a positive number)")
        found = await asyncio.to_thread(traces.last, count)
        return {"file": str(traces.path), "traces": [trace.to_json() for trace in found]}


def _stubs(
    params: types.CodeActionParams, version: int | None, custom: Sequence[CustomAction]
) -> list[types.CodeAction]:
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
    if selection.start == selection.end:
        return stubs
    end_line = selection.end.line
    if selection.end.character == 0 and end_line > selection.start.line:
        end_line -= 1  # a selection of whole lines ends at column 0 of the next one

    def stub(label: str, kind: str, action: str, **extra: Any) -> types.CodeAction:
        title = f"CodeHearth: {label}"
        data = {
            "uri": uri,
            "version": version,
            "action": action,
            "startLine": selection.start.line,
            "endLine": end_line,
            **extra,
        }
        command = None
        if kind == ANSWER_KIND:
            command = types.Command(title=title, command=APPLY_COMMAND, arguments=[data])
        return types.CodeAction(title=title, kind=kind, data=data, command=command)

    for action, label in REFACTORS.items():
        stubs.append(stub(label, REFACTOR_KIND, action))
    explain = stub("Explain", ANSWER_KIND, EXPLAIN)
    explain.command = types.Command(
        title=explain.title,
        command=EXPLAIN_COMMAND,
        arguments=[{"uri": uri, "range": _range_json(selection), "background": True}],
    )
    stubs.append(explain)
    stubs.append(stub("Write tests", ANSWER_KIND, WRITE_TESTS))
    for user_action in custom:
        kind = REFACTOR_KIND if user_action.mode == "edit" else ANSWER_KIND
        stubs.append(stub(user_action.title, kind, CUSTOM, title=user_action.title))
    return stubs


def _range_json(selection: types.Range) -> dict[str, Any]:
    return {
        "start": {"line": selection.start.line, "character": selection.start.character},
        "end": {"line": selection.end.line, "character": selection.end.character},
    }


def _client_resolves_edits(ls: CodeHearthServer) -> bool:
    text_document = ls.client_capabilities.text_document
    code_action = text_document.code_action if text_document else None
    support = code_action.resolve_support if code_action else None
    return support is not None and "edit" in support.properties


def _find_custom(ls: CodeHearthServer, data: Mapping[str, Any]) -> CustomAction:
    title = data.get("title")
    for action in _custom_actions(ls):
        if action.title == title:
            return action
    raise JsonRpcInvalidParams(f"the action {title!r} is no longer in actions.custom")


def _answers_in_text(ls: CodeHearthServer, data: Any) -> bool:
    """Whether an action's result is text for the user rather than an edit."""
    if not isinstance(data, dict):
        return False
    if data.get("action") == CUSTOM:
        return _find_custom(ls, data).mode == "chat"
    return data.get("action") in (EXPLAIN, WRITE_TESTS)


def _job(ls: CodeHearthServer, data: Any, rules: str) -> ActionJob | None:
    """The job an action's data asks for; None when the server cannot run it (not ready,
    document closed). Raises for data CodeHearth did not make or a document that changed."""
    if not isinstance(data, dict) or not {"uri", "action", "startLine", "endLine"} <= set(data):
        raise JsonRpcInvalidParams("this code action was not made by CodeHearth")
    uri = str(data["uri"])
    document = ls.open_document(uri)
    if ls.engine is None or document is None:
        return None
    if data.get("version") is not None and document.version != data["version"]:
        raise JsonRpcContentModified("the document changed; ask for the action again")
    kind, template = str(data["action"]), ""
    if kind == CUSTOM:
        custom = _find_custom(ls, data)
        kind, template = (
            f"custom: {custom.title}",
            custom.template(str(data.get("instruction", ""))),
        )
    elif kind not in ACTIONS:
        raise JsonRpcInvalidParams(f"unknown action {kind!r}")
    diagnostic = _target_diagnostic(data.get("diagnostic"))
    if kind == "quick_fix" and diagnostic is None:
        raise JsonRpcInvalidParams("a quick fix needs the diagnostic it fixes")
    language_id = document.language_id or ""
    return ActionJob(
        kind=kind,
        uri=uri,
        version=document.version,
        path=document.path or to_fs_path(uri) or uri,
        language_id=language_id,
        text=document.source,
        start_line=_line_number(data, "startLine"),
        end_line=_line_number(data, "endLine"),
        diagnostic=diagnostic,
        style_block="\n\n".join(b for b in (_style_block(ls, language_id, kind), rules) if b),
        template=template,
    )


def _line_number(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise JsonRpcInvalidParams(f"{key} must be a line number")
    return value


def _target_diagnostic(diagnostic: Any) -> TargetDiagnostic | None:
    """The diagnostic in an action's data (None when there is none)."""
    if not isinstance(diagnostic, dict):
        return None
    return TargetDiagnostic(
        str(diagnostic.get("code", "")),
        str(diagnostic.get("message", "")),
        _line_number(diagnostic, "line"),
        _line_number(diagnostic, "char"),
    )


def _style_block(ls: CodeHearthServer, language_id: str, kind: str) -> str:
    """The style block for the prompt; for tests it names the test framework even when the
    block had no room for it."""
    if ls.style is None:
        return ""
    block = render_style_block(ls.style, language_id)
    profile = ls.style.profile(language_id)
    framework = profile.value("tests.framework") if profile is not None else None
    if kind == WRITE_TESTS and framework and f"tests: {framework}" not in block:
        block = f"{block}\nTests are written with {framework}.".strip()
    return block


TEXT_ANSWER_TOKENS = 1024
CRITIC_ANSWER_TOKENS = 256
"""A critic's review is a few bullet points."""
"""Longest answer for actions that answer in text (tests, user-defined chat actions)."""


def edit_answer_tokens(job: ActionJob) -> int:
    """Longest answer for an edit: room to rewrite the target lines about twice over (a
    model that rambles on stops there instead of running out the time budget)."""
    region = "\n".join(job.text.splitlines()[job.start_line : job.end_line + 1])
    return max(384, min(2048, 128 + 2 * len(region) // 4))


def _model(ls: CodeHearthServer, max_tokens: int, role: str = "edit") -> Model:
    """The chat model an action asks for ``role`` (the prompt's token count when it
    reports one). It is told not to think first: a reasoning model's hidden thinking costs
    the action's time budget and never reaches the edit."""
    settings = ls.settings.actions

    async def model(messages: list[Message]) -> ModelAnswer:
        parts: list[str] = []
        prompt_tokens: int | None = None
        async for chunk in ls.role_backend(role).chat(
            settings.model, messages, num_ctx=settings.num_ctx, max_tokens=max_tokens, think=False
        ):
            parts.append(chunk.content)
            prompt_tokens = chunk.prompt_eval_count or prompt_tokens
        return ModelAnswer("".join(parts), prompt_tokens=prompt_tokens)

    return model


def _critic(ls: CodeHearthServer) -> Model | None:
    """The critic model when one is configured and can answer now."""
    if not ls.role_backend("critic").choices():
        return None
    return _model(ls, CRITIC_ANSWER_TOKENS, "critic")


async def _run(
    ls: CodeHearthServer, traces: TraceLog, rechecks: ClientRechecks, job: ActionJob
) -> ActionOutcome:
    """Run one edit action through the refine loop; the user is told when none verifies."""
    settings = ls.settings.actions
    try:
        outcome = await run_action(
            job,
            _model(ls, edit_answer_tokens(job)),
            workspace_root=ls.workspace_root,
            current_version=lambda: ls.workspace.get_text_document(job.uri).version,
            max_rounds=settings.max_rounds,
            time_budget_s=settings.time_budget_seconds,
            critic=_critic(ls),
            fixes_without_model=settings.fixes_without_model,
        )
    except BackendError as error:
        ls.notifier.report(error)
        await _record(ls, traces, job, error.kind.value, (), offered=False)
        return ActionOutcome(result=None, edit=None, reason=error.kind.value)  # type: ignore[arg-type]
    rounds = outcome.result.rounds
    trace = await _record(ls, traces, job, outcome.reason, rounds, offered=outcome.edit is not None)
    target = job.diagnostic
    if outcome.edit is not None and target is not None and job.language_id != "python":
        # No checker of ours for this language: ask the client's diagnostics later.
        rechecks.expect(
            job.uri,
            trace_at=trace.at,
            file=trace.file,
            diagnostic=SeenDiagnostic(target.code, target.message, target.line),
            version=job.version or 0,
        )
    if outcome.edit is None:
        draft = outcome.result.best_draft
        ls.notifier.notify(
            f"no verified edit for {_label(job)} ({outcome.reason}); "
            "the best draft is in the CodeHearth log"
            if draft
            else f"no verified edit for {_label(job)} ({outcome.reason})"
        )
        if draft:
            ls.log_info(f"best unverified draft (not applied):\n{draft}")
    return outcome


def _run_key(job: ActionJob) -> Hashable:
    """What makes two picks the same action: document version, action and target."""
    return (
        job.uri,
        job.version,
        job.kind,
        job.start_line,
        job.end_line,
        job.diagnostic,
        job.template,
    )


def _start_edit(
    ls: CodeHearthServer,
    runs: ActionRuns[ActionOutcome],
    traces: TraceLog,
    rechecks: ClientRechecks,
    job: ActionJob,
) -> ActionRun[ActionOutcome]:
    """The run of an edit action: the one in flight (or verified) for the same pick, else
    a new one."""

    def ending(outcome: ActionOutcome) -> str:
        return "verified" if outcome.edit is not None else f"no verified edit ({outcome.reason})"

    return runs.start(
        _run_key(job),
        job.uri,
        job.version,
        lambda: _shown(ls, job, _run(ls, traces, rechecks, job), ending),
        f"action {job.kind}",
    )


async def _shown(
    ls: CodeHearthServer, job: ActionJob, work: Awaitable[T], ending: Callable[[T], str]
) -> T:
    """Do ``work`` under a ``$/progress`` item when the client shows them. The item is
    begun in a task of its own, so stopping the work never cancels the wait for the
    client's ``window/workDoneProgress/create`` reply (pygls#621), and it is ended
    whenever its token arrives."""
    begun = ls.spawn(ls.begin_progress("action", f"CodeHearth: {_label(job)}"), "progress")
    message = "stopped"
    try:
        result = await work
        message = ending(result)
        return result
    finally:

        def end(begun: asyncio.Task[str | None]) -> None:
            token = None if begun.cancelled() or begun.exception() else begun.result()
            if token is not None:
                ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))

        begun.add_done_callback(end)


def _tell_working(ls: CodeHearthServer, job: ActionJob, *, again: bool, in_text: bool) -> None:
    """Acknowledge a pick with one message where no ``$/progress`` shows the work (eglot
    1.9 shows none)."""
    window = ls.client_capabilities.window
    if window is not None and window.work_done_progress:
        return
    working = f"still working on the {_label(job)}" if again else f"working on the {_label(job)}"
    follows = (
        "the answer follows as a chat answer" if in_text else "its edit follows once it is verified"
    )
    ls.window_show_message(
        types.ShowMessageParams(
            type=types.MessageType.Info, message=f"CodeHearth: {working}; {follows}"
        )
    )


def _tell_stopped(ls: CodeHearthServer, job: ActionJob, why: str) -> None:
    ls.notifier.notify(f"the {_label(job)} stopped: {why}; pick the action again")


async def _deliver_edit(
    ls: CodeHearthServer,
    runs: ActionRuns[ActionOutcome],
    run: ActionRun[ActionOutcome],
    job: ActionJob,
) -> None:
    """Send a claimed run's verified edit with ``workspace/applyEdit``, unless the
    document changed meanwhile (the edit would be stale: the user is told instead)."""
    outcome = await runs.result(run)
    if run.stopped is not None:
        _tell_stopped(ls, job, run.stopped)
        return
    if outcome is None:
        ls.notifier.notify(f"the {_label(job)} failed; see the CodeHearth log")
        return
    if outcome.edit is None:
        return  # the run told the user why
    document = ls.open_document(job.uri)
    if document is None or document.version != job.version:
        _tell_stopped(ls, job, CHANGED if document is not None else CLOSED)
        return
    applying = ls.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(
            edit=_workspace_edit(ls, outcome.edit), label=f"CodeHearth: {_label(job)}"
        )
    )
    try:
        result = await asyncio.shield(applying)  # a shutdown must not orphan the reply
    except JsonRpcException as error:  # eglot: the user said no, or a stale version
        ls.notifier.notify(f"the editor did not apply the {_label(job)}: {error}")
        return
    if not result.applied:
        reason = result.failure_reason or "no reason given"
        ls.notifier.notify(f"the editor did not apply the {_label(job)}: {reason}")


async def _answer(ls: CodeHearthServer, traces: TraceLog, job: ActionJob) -> None:
    """Run an action that answers in text and send the answer as a chat chunk."""
    settings = ls.settings.actions
    try:
        if job.template:
            outcome = await answer_once(
                job, _model(ls, TEXT_ANSWER_TOKENS), time_budget_s=settings.time_budget_seconds
            )
        else:
            outcome = await write_tests(
                job,
                _model(ls, TEXT_ANSWER_TOKENS),
                max_rounds=settings.max_rounds,
                time_budget_s=settings.time_budget_seconds,
            )
    except BackendError as error:
        ls.notifier.report(error)
        await _record(ls, traces, job, error.kind.value, (), offered=False)
        return
    await _record(ls, traces, job, outcome.reason, outcome.rounds, offered=outcome.text is not None)
    _deliver(ls, job, outcome)


def _deliver(ls: CodeHearthServer, job: ActionJob, outcome: AnswerOutcome) -> None:
    if outcome.text is None:
        ls.notifier.notify(f"no answer for {_label(job)} ({outcome.reason})")
        return
    where = f"{job.path}:{job.start_line + 1}"
    ls.protocol.notify(
        CHUNK_NOTIFICATION,
        {
            "conversationId": ACTIONS_CONVERSATION,
            "text": f"{_label(job)} ({where}):\n{outcome.text}\n",
        },
    )


def _label(job: ActionJob) -> str:
    return job.kind.replace("_", " ")


def _settle_rechecks(
    ls: CodeHearthServer,
    traces: TraceLog,
    rechecks: ClientRechecks,
    params: types.CodeActionParams,
    version: int | None,
) -> None:
    """The client's diagnostics in this request settle earlier fixes' rechecks."""
    seen = [
        SeenDiagnostic(str(d.code or ""), d.message, d.range.start.line)
        for d in params.context.diagnostics
    ]
    lines = (params.range.start.line, params.range.end.line)
    for verdict in rechecks.observe(params.text_document.uri, version, lines, seen):
        check = CheckRecord("client_diagnostics", verdict.cleared, verdict.detail)
        ls.log_info(f"action on {verdict.recheck.file}: {verdict.detail}")
        ls.spawn(
            asyncio.to_thread(
                traces.add_check, verdict.recheck.trace_at, verdict.recheck.file, check
            ),
            "recheck trace",
        )


async def _record(
    ls: CodeHearthServer,
    traces: TraceLog,
    job: ActionJob,
    reason: str,
    rounds: Sequence[RoundTrace],
    *,
    offered: bool,
) -> ActionTrace:
    """One log line for the action, and its trace on disk (off the event loop)."""
    summary = "; ".join(
        f"round {trace.round}: "
        + ", ".join(f"{c.name} {'ok' if c.ok else 'FAILED'}" for c in trace.checks)
        + f" ({trace.ms:.0f} ms)"
        for trace in rounds
    )
    ls.log_info(f"action {job.kind} on {job.path}:{job.start_line + 1}: {reason}. {summary}")
    trace = ActionTrace.of_rounds(
        action=job.kind,
        file=job.path,
        line=job.start_line + 1,
        model=ls.answered_by("edit") or ls.settings.actions.model,
        outcome=reason,
        offered=offered,
        rounds=rounds,
    )
    await asyncio.to_thread(traces.append, trace)
    return trace


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
