"""One chat conversation with persistent memory (Letta/MemGPT style).

:meth:`ChatSession.ask` answers a question:

1. The system prompt is made of sections (see :mod:`codehearth.chat.window`), highest
   priority first: a persona line, the core memory blocks (``store.core_prompt()``), the
   memory-tool instructions, what memory holds about the question, the summary of earlier
   conversation, and the caller's ``context`` (workspace snippets, the selection), which is
   the first to be cut. *What memory holds* is searched before the model answers (archival
   notes and earlier messages outside the window, best first, within
   :data:`REMEMBERED_TOKENS`): a remembered fact reaches every model, also one that never
   calls a memory tool (small local models rarely do).
2. History is this conversation's user and assistant messages from recall memory (among the
   :data:`HISTORY_FETCH` newest records) that came after the latest summary. When the window
   cuts history, the dropped messages are summarised by one model call (the previous
   summary plus the dropped messages make the new summary, recursively) and the summary is
   stored in recall as a ``role="system"`` message of the conversation whose text starts
   with ``[codehearth summary through=<time>]``, ``<time>`` being the time of the last
   message it covers. The dropped messages stay in recall, searchable by
   ``conversation_search``; they are only out of the window.
3. Tools: with native tool calling (``supports_tools`` True, or None, which tries it and
   falls back when the backend answers :attr:`ProblemKind.UNSUPPORTED`), the model gets
   :data:`TOOL_SCHEMAS`; each call is run by :func:`execute_tool` and its result sent back as
   a ``role="tool"`` message. Without it, the system prompt describes the strict JSON
   protocol of :func:`parse_tool_call` (unless ``json_tools`` is off: a model too small to
   follow it gets no tools at all); an answer that is a tool call is run and its result
   sent back as a user message starting with ``[tool result]``. After ``max_tool_steps``
   rounds of tool calls, one last request without tools gives the answer.
4. Only the final answer is streamed to ``on_chunk``: content that may still turn out to be
   a tool call (it starts with ``{`` or a fence) is held back until that is decided. (Prose
   a native-tools model writes before its tool calls is streamed: it cannot be told apart.)
5. The question is stored when the turn starts, the tool calls briefly as ``role="tool"``
   messages, and the answer once it is complete: a cancelled ask (``CancelledError``
   propagates and closes the model stream) stores no answer, and an empty answer is a
   :class:`BackendError` (``BAD_RESPONSE``), never a blank reply. Store calls run in a thread.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from codehearth.chat.window import (
    Assembly,
    Message,
    Section,
    assemble,
    clip_to_tokens,
    prompt_tokens,
)
from codehearth.memory.store import MemoryStore, RecallRecord
from codehearth.memory.tools import TOOL_SCHEMAS, ToolResult, execute_tool, parse_tool_call
from codehearth.models.errors import BackendError, ProblemKind
from codehearth.models.ollama_backend import ChatChunk
from codehearth.prompts.budget import TokenCounter, prompt_limit

log = logging.getLogger(__name__)

# Recall records read to find this conversation's history and latest summary.
HISTORY_FETCH = 500
# Longest tool result sent back to the model, and kept in recall.
TOOL_RESULT_CHARS = 2000
TOOL_RECALL_CHARS = 200
# Reply budget and longest stored text of a summary.
SUMMARY_TOKENS = 400
SUMMARY_MAX_CHARS = 3000
# When the window cuts history, the kept history fills only this share of its room.
KEEP_SHARE = 0.5
REMEMBERED_TOKENS = 400
"""Most tokens of what memory holds about the question put in the prompt."""
REMEMBERED_NOTES = 3
REMEMBERED_MESSAGES = 5
REMEMBERED_ANSWERS = 2
"""Of the remembered messages, at most this many the assistant's (after the user's)."""
REMEMBERED_ITEM_CHARS = 400

PERSONA = (
    "You are CodeHearth, a local coding assistant with a persistent memory. Answer "
    "concisely and accurately; keep lasting facts about the user and the project in memory."
)
NATIVE_TOOLS = (
    "Memory tools: edit your core memory with core_memory_append / core_memory_replace, "
    "store notes with archival_memory_insert, and look up facts you do not see here with "
    "archival_memory_search and conversation_search before saying you do not know."
)
SUMMARY_INSTRUCTIONS = (
    "You maintain a running summary of a conversation between a user and a coding "
    "assistant. Merge the previous summary and the new messages into one summary of at most "
    "200 words that keeps facts, decisions and open questions. Reply with the summary only."
)
REMEMBERED_HEADING = (
    "Found in memory for this question (earlier conversations and notes; use what is relevant):"
)
SUMMARY_MARK = "[codehearth summary through="
_SUMMARY = re.compile(r"\A\[codehearth summary through=([^\]\s]+)\]\n")
_PRIORITIES = {
    "persona": 100,
    "core": 90,
    "tools": 80,
    "remembered": 60,
    "summary": 50,
    "context": 10,
}


class ChatBackend(Protocol):
    """The part of :class:`~codehearth.models.ollama_backend.OllamaBackend` chat uses."""

    def chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        num_ctx: int,
        max_tokens: int = ...,
        temperature: float = ...,
        tools: list[Mapping[str, Any]] | None = ...,
    ) -> AsyncIterator[ChatChunk]: ...


@attrs.frozen
class ToolOutcome:
    """One tool call the model made and what it did."""

    name: str
    arguments: Mapping[str, Any]
    result: ToolResult


@attrs.frozen
class ChatAnswer:
    """The final ``text``, the tool calls made on the way, how many history messages were
    ``summarised`` and the estimated tokens of the last prompt sent."""

    text: str
    tool_results: list[ToolOutcome]
    summarised: int
    prompt_tokens: int


@attrs.frozen
class _Turn:
    text: str
    calls: list[Mapping[str, Any]]
    held: list[str]


class ChatSession:
    """A conversation with one model over one :class:`MemoryStore`."""

    def __init__(
        self,
        store: MemoryStore,
        backend: ChatBackend,
        *,
        model: str,
        num_ctx: int,
        conversation_id: str,
        counter: TokenCounter,
        supports_tools: bool | None = None,
        json_tools: bool = True,
        max_tool_steps: int = 4,
        reply_tokens: int = 1024,
    ) -> None:
        self.store = store
        self.backend = backend
        self.model = model
        self.num_ctx = num_ctx
        self.conversation_id = conversation_id
        self.counter = counter
        self.supports_tools = supports_tools
        self.json_tools = json_tools
        self.max_tool_steps = max_tool_steps
        self.reply_tokens = reply_tokens
        self._summary = ""
        self._through = -math.inf

    async def ask(
        self,
        question: str,
        *,
        context: str = "",
        on_chunk: Callable[[str], None] | None = None,
    ) -> ChatAnswer:
        """Answer ``question`` (see the module docstring). Raises BackendError, or
        :class:`~codehearth.chat.window.ContextOverflow` when the question cannot fit."""
        records = await asyncio.to_thread(self._load)
        remembered = await asyncio.to_thread(self._remembered, question, records)
        await asyncio.to_thread(self.store.add_message, "user", question, self.conversation_id)
        history: list[Message] = [{"role": r.role, "content": r.text} for r in records]
        core = await asyncio.to_thread(self.store.core_prompt)
        native = self.supports_tools is not False
        turn: list[Message] = []
        assemble = functools.partial(self._assemble, core, remembered, context)
        assembly = assemble(history, question, turn, native)
        summarised = 0
        if assembly.dropped:
            summarised = len(assembly.dropped)
            await self._summarise(assembly.dropped, records[summarised - 1].time)
            history = history[summarised:]
            assembly = assemble(history, question, turn, native)
        outcomes: list[ToolOutcome] = []
        steps = 0
        while True:
            may_call = steps < self.max_tool_steps
            tools: list[Mapping[str, Any]] | None = [*TOOL_SCHEMAS] if native and may_call else None
            try:
                result = await self._turn(assembly.messages, tools, may_call, on_chunk)
            except BackendError as error:
                if tools is None or self.supports_tools is not None:
                    raise
                if error.kind is not ProblemKind.UNSUPPORTED:
                    raise
                log.info("%s has no native tool calling; using the JSON protocol", self.model)
                self.supports_tools = native = False
                assembly = assemble(history, question, turn, native)
                continue
            calls = result.calls if native else _json_call(result.text, may_call)
            if not calls:
                break
            if native:
                turn.append(
                    {
                        "role": "assistant",
                        "content": result.text,
                        "tool_calls": [{"function": dict(call)} for call in calls],
                    }
                )
            else:
                turn.append({"role": "assistant", "content": result.text})
            for call in calls:
                outcome = await self._run_tool(call)
                outcomes.append(outcome)
                content = outcome.result.content[:TOOL_RESULT_CHARS]
                if native:
                    turn.append({"role": "tool", "content": content})
                else:
                    turn.append(
                        {"role": "user", "content": f"[tool result] {outcome.name}: {content}"}
                    )
            steps += 1
            core = await asyncio.to_thread(self.store.core_prompt)
            assemble = functools.partial(self._assemble, core, remembered, context)
            assembly = assemble(history, question, turn, native)
        if not result.text.strip():
            # Nothing to show or remember; the question stays out of later turns.
            raise BackendError(
                ProblemKind.BAD_RESPONSE,
                "the model gave an empty answer: ask again, or name a larger model in "
                "chat.model",
            )
        if on_chunk is not None:
            for piece in result.held:
                on_chunk(piece)
        await asyncio.to_thread(
            self.store.add_message, "assistant", result.text, self.conversation_id
        )
        return ChatAnswer(result.text, outcomes, summarised, assembly.tokens)

    # -- prompt ------------------------------------------------------------------------

    def _assemble(
        self,
        core: str,
        remembered: str,
        context: str,
        history: Sequence[Message],
        question: str,
        turn: Sequence[Message],
        native: bool,
    ) -> Assembly:
        sections: list[Section] = [(_PRIORITIES["persona"], PERSONA)]
        if core:
            sections.append((_PRIORITIES["core"], f"Core memory (always visible):\n{core}"))
        if native:
            sections.append((_PRIORITIES["tools"], NATIVE_TOOLS))
        elif self.json_tools:
            sections.append((_PRIORITIES["tools"], json_protocol()))
        if remembered:
            sections.append((_PRIORITIES["remembered"], f"{REMEMBERED_HEADING}\n{remembered}"))
        if self._summary:
            summary = f"Summary of the earlier conversation:\n{self._summary}"
            sections.append((_PRIORITIES["summary"], summary))
        if context.strip():
            sections.append((_PRIORITIES["context"], f"Workspace context:\n{context}"))
        schemas = prompt_tokens((), self.counter, TOOL_SCHEMAS) if native else 0
        return assemble(
            sections,
            history,
            question,
            num_ctx=self.num_ctx,
            reply_tokens=self.reply_tokens,
            counter=self.counter,
            turn=turn,
            fixed_tokens=schemas,
            keep_share=KEEP_SHARE,
        )

    # -- memory ------------------------------------------------------------------------

    def _remembered(self, question: str, in_window: Sequence[RecallRecord]) -> str:
        """What memory holds about ``question`` that the prompt does not already carry:
        the best archival notes, then the best earlier messages (of any conversation)
        outside this conversation's window, one line each, clipped to
        :data:`REMEMBERED_TOKENS` (blocking: run in a thread)."""
        seen = {record.id for record in in_window}
        lines = [
            f"- note: {_one_line(hit.note.text)}"
            for hit in self.store.archival_search(question, REMEMBERED_NOTES)
        ]
        earlier = [
            record
            for record in self.store.recall_search(question, REMEMBERED_MESSAGES + len(seen))
            if record.kind == "message"
            and record.role in ("user", "assistant")
            and record.id not in seen
        ]
        # The user's own words first: an earlier answer may have been wrong, and a small
        # model copies what it is shown.
        said = [r for r in earlier if r.role == "user"]
        said += [r for r in earlier if r.role == "assistant"][:REMEMBERED_ANSWERS]
        lines.extend(
            f"- the {record.role} said earlier: {_one_line(record.text)}"
            for record in said[:REMEMBERED_MESSAGES]
        )
        return clip_to_tokens("\n".join(lines), REMEMBERED_TOKENS, self.counter)

    def _load(self) -> list[RecallRecord]:
        """This conversation's user and assistant messages after the latest summary, which
        becomes the session's summary (blocking: run in a thread). A question that got no
        answer (the model failed: too long for its context, unreachable) stays in recall
        memory but not in the conversation, or every later turn would carry it."""
        mine = [
            record
            for record in self.store.recent(HISTORY_FETCH)
            if record.kind == "message" and record.conversation_id == self.conversation_id
        ]
        for record in mine:
            found = _SUMMARY.match(record.text) if record.role == "system" else None
            if found is None:
                continue
            through = float(found.group(1))
            if through >= self._through:
                self._summary, self._through = record.text[found.end() :], through
        turns = [
            record
            for record in mine
            if record.role in ("user", "assistant") and record.time > self._through
        ]
        return [
            record
            for index, record in enumerate(turns)
            if record.role != "user"
            or (index + 1 < len(turns) and turns[index + 1].role == "assistant")
        ]

    async def _summarise(self, dropped: Sequence[Message], through: float) -> None:
        """Fold ``dropped`` into the summary with one model call and store it; on a backend
        failure the summary is left as it was (the messages are still in recall)."""
        previous = self._summary or "(none)"
        head = f"Previous summary:\n{previous}\n\nNew messages:\n"
        system = {"role": "system", "content": SUMMARY_INSTRUCTIONS}
        room = prompt_limit(self.num_ctx, SUMMARY_TOKENS) - prompt_tokens(
            [system, {"role": "user", "content": head}], self.counter
        )
        transcript = "\n".join(f"{m['role']}: {m['content']}" for m in dropped)
        transcript = clip_to_tokens(transcript, max(0, room - 1), self.counter)
        messages = [system, {"role": "user", "content": head + transcript}]
        try:
            pieces = [
                chunk.content
                async for chunk in self.backend.chat(
                    self.model, messages, num_ctx=self.num_ctx, max_tokens=SUMMARY_TOKENS
                )
            ]
        except BackendError as error:
            log.warning("summarising the conversation failed: %s", error)
            return
        summary = "".join(pieces).strip()[:SUMMARY_MAX_CHARS]
        if not summary:
            return
        self._summary, self._through = summary, through
        await asyncio.to_thread(
            self.store.add_message,
            "system",
            f"{SUMMARY_MARK}{through!r}]\n{summary}",
            self.conversation_id,
        )

    async def _run_tool(self, call: Mapping[str, Any]) -> ToolOutcome:
        name, arguments = call.get("name"), call.get("arguments")
        result = await asyncio.to_thread(execute_tool, self.store, name, arguments)
        shown = json.dumps(arguments, ensure_ascii=False)[:TOOL_RECALL_CHARS]
        note = f"{name}({shown}) -> {result.content[:TOOL_RECALL_CHARS]}"
        await asyncio.to_thread(self.store.add_message, "tool", note, self.conversation_id)
        return ToolOutcome(str(name), arguments if isinstance(arguments, dict) else {}, result)

    # -- model -------------------------------------------------------------------------

    async def _turn(
        self,
        messages: Sequence[Message],
        tools: list[Mapping[str, Any]] | None,
        may_call: bool,
        on_chunk: Callable[[str], None] | None,
    ) -> _Turn:
        """One request. Content is streamed as soon as it is surely not a tool call; the
        pieces still held back are returned for the caller to stream if it is the answer."""
        pieces: list[str] = []
        calls: list[Mapping[str, Any]] = []
        held: list[str] = []
        streaming = not may_call
        async for chunk in self.backend.chat(
            self.model,
            messages,
            num_ctx=self.num_ctx,
            max_tokens=self.reply_tokens,
            tools=tools,
        ):
            calls.extend(chunk.tool_calls)
            if not chunk.content:
                continue
            pieces.append(chunk.content)
            if not streaming:
                held.append(chunk.content)
                start = "".join(pieces).lstrip()
                if not start or start.startswith(("{", "`")):
                    continue
                streaming = True
                chunk_pieces, held = held, []
            else:
                chunk_pieces = [chunk.content]
            if on_chunk is not None:
                for piece in chunk_pieces:
                    on_chunk(piece)
        return _Turn("".join(pieces), calls, held)


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= REMEMBERED_ITEM_CHARS else flat[: REMEMBERED_ITEM_CHARS - 1] + "…"


def _json_call(text: str, may_call: bool) -> list[Mapping[str, Any]]:
    call = parse_tool_call(text) if may_call else None
    return [] if call is None else [{"name": call.name, "arguments": call.arguments}]


def json_protocol() -> str:
    """The system-prompt section that teaches the JSON tool protocol."""
    lines = []
    for tool in TOOL_SCHEMAS:
        function = tool["function"]
        parameters = function["parameters"]
        arguments = ", ".join(
            name + ("" if name in parameters["required"] else "?")
            for name in parameters["properties"]
        )
        lines.append(f"- {function['name']}({arguments}): {function['description']}")
    return (
        "Memory tools: to call one, reply with exactly one JSON object and nothing else: "
        '{"tool": "<name>", "arguments": {...}} (arguments marked ? are optional). You get '
        "the result in the next message. Look up facts you do not see here with "
        "archival_memory_search or conversation_search before saying you do not know.\n"
        + "\n".join(lines)
    )
