"""Chat commands (``workspace/executeCommand``): ``codehearth.chat`` and
``codehearth.explain``, plus ``window/workDoneProgress/cancel`` to stop an answer.

An answer streams as ``codehearth/chatChunk`` notifications (``{conversationId, text}``)
and as ``$/progress`` report messages when the client supports work-done progress; the
command's result is the whole answer, or, with ``background: true``, ``{"ok": true,
"background": true}`` at once (the answer then follows only as chunks: for clients that
give up on a request after a while, as eglot does after 10 s; the code action *Explain*
asks so). The model runs in a task of our own, so cancelling the progress (pygls does not
stop a running command, its pitfall P4) cancels it and closes the Ollama stream; nothing
half-written is kept in memory. One answer at a time per conversation. A question asked
just after the server started waits a few seconds for memory to open.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine
from typing import Any

import attrs
from lsprotocol import types
from pygls.uris import to_fs_path

from codehearth.chat.pipeline import ChatAnswer, ChatSession
from codehearth.chat.window import ContextOverflow
from codehearth.index.context import question_context, relative
from codehearth.index.scanner import is_denied
from codehearth.models.capabilities import tool_support
from codehearth.models.errors import BackendError
from codehearth.server import CodeHearthServer
from codehearth.style.profile import render_style_block

log = logging.getLogger(__name__)

CHUNK_NOTIFICATION = "codehearth/chatChunk"
MAX_SELECTION_CHARS = 12_000


@attrs.define
class ChatArgs:
    question: str = attrs.field(validator=attrs.validators.min_len(1))
    conversation_id: str = "default"
    uri: str | None = None
    range: types.Range | None = None
    background: bool = False


@attrs.define
class ExplainArgs:
    uri: str
    range: types.Range
    conversation_id: str = "default"
    background: bool = False


@attrs.define
class ChatState:
    """Sessions per conversation, the running answers and their progress tokens."""

    sessions: dict[str, ChatSession] = attrs.field(factory=dict)
    locks: dict[str, asyncio.Lock] = attrs.field(factory=dict)
    running: dict[str, asyncio.Task[ChatAnswer]] = attrs.field(factory=dict)


def register(server: CodeHearthServer) -> None:
    state = ChatState()

    @server.command("codehearth.chat")
    async def chat(ls: CodeHearthServer, args: ChatArgs) -> dict[str, Any]:
        answer = _answer(ls, state, args.question, args.conversation_id, args.uri, args.range)
        if args.background:
            return _in_background(ls, answer, args.conversation_id, heading="")
        return await answer

    @server.command("codehearth.explain")
    async def explain(ls: CodeHearthServer, args: ExplainArgs) -> dict[str, Any]:
        question = "Explain what the selected code does, and why, for a colleague."
        answer = _answer(ls, state, question, args.conversation_id, args.uri, args.range)
        if args.background:
            heading = f"\nExplain {_where(ls, args.uri, args.range)}:\n"
            return _in_background(ls, answer, args.conversation_id, heading)
        return await answer

    @server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def cancel(ls: CodeHearthServer, params: types.WorkDoneProgressCancelParams) -> None:
        task = state.running.get(str(params.token))
        if task is not None:
            task.cancel()


async def _answer(
    ls: CodeHearthServer,
    state: ChatState,
    question: str,
    conversation_id: str,
    uri: str | None,
    selection: types.Range | None,
) -> dict[str, Any]:
    if not await ls.wait_ready() or ls.engine is None:
        return {"ok": False, "error": "CodeHearth is still starting"}
    if await ls.wait_for_memory(MEMORY_OPEN_SECONDS) is None:
        return {"ok": False, "error": "memory is not open yet; try again in a moment"}
    session = await _session(ls, state, conversation_id)
    context = _context(ls, question, uri, selection, await ls.user_rules())
    token = await ls.begin_progress("chat", "CodeHearth: answering", cancellable=True)

    writing = False

    def on_chunk(text: str) -> None:
        nonlocal writing
        ls.protocol.notify(CHUNK_NOTIFICATION, {"conversationId": conversation_id, "text": text})
        if token is not None and not writing:
            # Once: the answer itself streams as chunks; the progress item would flicker
            # through its tokens (VS Code shows the message in the status bar).
            writing = True
            ls.work_done_progress.report(token, types.WorkDoneProgressReport(message="writing…"))

    lock = state.locks.setdefault(conversation_id, asyncio.Lock())
    async with lock:
        task = asyncio.create_task(session.ask(question, context=context, on_chunk=on_chunk))
        key = token or f"chat-{uuid.uuid4().hex[:8]}"
        state.running[key] = task
        try:
            answer = await task
        except asyncio.CancelledError:
            return _done(ls, token, {"ok": False, "cancelled": True})
        except BackendError as error:
            ls.notifier.report(error)
            return _done(ls, token, {"ok": False, "error": error.message})
        except ContextOverflow:
            return _done(ls, token, {"ok": False, "error": "the question is too long"})
        finally:
            state.running.pop(key, None)
    return _done(
        ls,
        token,
        {
            "ok": True,
            "text": answer.text,
            "model": ls.answered_model("chat") or session.model,
            "answeredBy": ls.answered_by("chat"),
            "toolResults": [
                {"name": t.name, "ok": t.result.ok, "content": t.result.content}
                for t in answer.tool_results
            ],
            "summarised": answer.summarised,
        },
    )


def _in_background(
    ls: CodeHearthServer,
    answer: Coroutine[Any, Any, dict[str, Any]],
    conversation_id: str,
    heading: str,
) -> dict[str, Any]:
    """Answer at once and let the answer follow as chunks only (after ``heading``, and a
    line break at its end), for clients that give up on a request after a while (eglot
    after 10 s); a failure is shown (a model problem was already)."""

    def chunk(text: str) -> None:
        ls.protocol.notify(CHUNK_NOTIFICATION, {"conversationId": conversation_id, "text": text})

    async def answer_in_chunks() -> None:
        if heading:
            chunk(heading)
        result = await answer
        if result.get("ok"):
            chunk("\n")
        elif not result.get("cancelled"):
            ls.notifier.notify(str(result.get("error")))

    ls.spawn(answer_in_chunks(), "chat answer")
    return {"ok": True, "background": True}


def _where(ls: CodeHearthServer, uri: str, selection: types.Range) -> str:
    """``path:first-last`` of a selection (1-based lines; a selection of whole lines ends
    at column 0 of the next one), the path relative to the workspace."""
    path = to_fs_path(uri) or uri
    shown = relative(path, ls.workspace_root) if ls.workspace_root else path
    start, end = selection.start.line, selection.end.line
    last = end if selection.end.character == 0 and end > start else end + 1
    return f"{shown}:{start + 1}-{last}"


MEMORY_OPEN_SECONDS = 5.0
"""How long a question asked just after the server started waits for memory to open."""


async def _session(ls: CodeHearthServer, state: ChatState, conversation_id: str) -> ChatSession:
    settings = ls.settings.chat
    session = state.sessions.get(conversation_id)
    if session is not None and session.model == settings.model:
        return session
    engine = ls.engine
    assert engine is not None and ls.memory is not None
    supports_tools: bool | None = None
    json_tools = True
    try:
        supports_tools, json_tools = tool_support(await ls.role_backend("chat").show())
    except BackendError:
        pass  # the answer itself will report the problem
    session = ChatSession(
        ls.memory,
        ls.role_backend("chat"),
        model=settings.model,
        num_ctx=settings.num_ctx,
        conversation_id=conversation_id,
        counter=engine.counter,
        supports_tools=supports_tools,
        json_tools=json_tools,
    )
    state.sessions[conversation_id] = session
    return session


CHAT_CONTEXT_TOKENS = 1500
"""Tokens of workspace code related to the question put into the chat prompt."""


def _workspace_snippets(ls: CodeHearthServer, question: str) -> str:
    index, engine = ls.index, ls.engine
    if index is None or not index.lexical_ready or engine is None:
        return ""
    packed = question_context(index, ls.registry, engine.counter, question, CHAT_CONTEXT_TOKENS)
    if not packed:
        return ""
    return "Workspace code that may be relevant:\n" + "\n\n".join(
        f"File {snippet.path}:\n```\n{snippet.text}\n```" for snippet in packed
    )


def _context(
    ls: CodeHearthServer,
    question: str,
    uri: str | None,
    selection: types.Range | None,
    rules: str,
) -> str:
    """The user's rules, related workspace code, the selected code (never from a secret
    file) and the user's style, for the prompt (the window manager cuts this first when
    space runs out)."""
    related = "\n\n".join(part for part in (rules, _workspace_snippets(ls, question)) if part)
    document = ls.open_document(uri) if uri is not None else None
    if uri is None or document is None:
        return related
    path = document.path or to_fs_path(uri) or uri
    if is_denied(path, ls.workspace_root):
        return related
    parts = [related] if related else []
    if selection is not None:
        text = document.source
        start = document.offset_at_position(selection.start)
        end = document.offset_at_position(selection.end)
        if end > start:
            shown = relative(path, ls.workspace_root) if ls.workspace_root else path
            code = text[start:end][:MAX_SELECTION_CHARS]
            parts.append(
                f"Selected code from {shown} (lines {selection.start.line + 1}-"
                f"{selection.end.line + 1}):\n```{document.language_id or ''}\n{code}\n```"
            )
    if ls.style is not None and document.language_id:
        block = render_style_block(ls.style, document.language_id)
        if block:
            parts.append(block)
    return "\n\n".join(parts)


def _done(ls: CodeHearthServer, token: str | None, result: dict[str, Any]) -> dict[str, Any]:
    if token is not None:
        message = "done" if result.get("ok") else result.get("error", "cancelled")
        ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=str(message)))
    return result
