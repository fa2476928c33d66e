"""Context-window management for chat: what goes into one prompt, and what is cut.

:func:`assemble` builds the messages of one chat request: the system prompt, as many of the
most recent history messages as fit, the question, and the current turn's tool exchange.
The estimate of the whole prompt (by the caller's :class:`TokenCounter`, plus a few tokens
of template overhead per message and any ``fixed_tokens`` such as tool schemas) never
exceeds ``(num_ctx - reply_tokens) * (1 - margin)``.

The system prompt is a list of :data:`Section` ``(priority, text)`` pairs, joined in their
given order. When the system prompt, the question and the turn alone do not fit, whole
sections are cut, lowest priority first (among equals, the later one first); if nothing is
left to cut, :class:`ContextOverflow` is raised. History is never silently truncated: the
messages that do not fit, oldest first, come back in :attr:`Assembly.dropped` so the caller
can summarise them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from codehearth.prompts.budget import SAFETY_MARGIN, TokenCounter, prompt_limit

Message = Mapping[str, Any]
Section = tuple[int, str]

# Tokens of chat-template framing (role header, end marker) per message.
MESSAGE_OVERHEAD = 4


class ContextOverflow(ValueError):
    """The question (and current turn) alone do not fit in the context window."""


@attrs.frozen
class Assembly:
    """One prompt: ``messages`` to send, the history ``dropped`` from it (oldest first),
    the estimated ``tokens`` and how many system sections were ``cut``."""

    messages: list[dict[str, Any]]
    dropped: list[Message]
    tokens: int
    cut: int = 0


def message_tokens(message: Message, counter: TokenCounter) -> int:
    """The estimated tokens of one message: content, tool calls and template overhead."""
    tokens = counter.count(str(message.get("content") or "")) + MESSAGE_OVERHEAD
    calls = message.get("tool_calls")
    if calls:
        tokens += counter.count(json.dumps(calls, ensure_ascii=False))
    return tokens


def prompt_tokens(
    messages: Sequence[Message], counter: TokenCounter, tools: object | None = None
) -> int:
    """The estimated tokens of a whole request: its messages and its tool schemas."""
    fixed = counter.count(json.dumps(tools, ensure_ascii=False)) if tools else 0
    return fixed + sum(message_tokens(message, counter) for message in messages)


def clip_to_tokens(text: str, tokens: int, counter: TokenCounter) -> str:
    """The longest prefix of ``text`` whose estimate is at most ``tokens``."""
    if counter.count(text) <= tokens:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if counter.count(text[:middle]) <= tokens:
            low = middle
        else:
            high = middle - 1
    return text[:low]


def assemble(
    system: Sequence[Section],
    history: Sequence[Message],
    question: str,
    *,
    num_ctx: int,
    reply_tokens: int,
    counter: TokenCounter,
    turn: Sequence[Message] = (),
    fixed_tokens: int = 0,
    margin: float = SAFETY_MARGIN,
    keep_share: float = 1.0,
) -> Assembly:
    """The prompt for ``question`` (see the module docstring).

    ``turn`` holds the current turn's messages after the question (tool calls and results),
    always kept. ``fixed_tokens`` are spent outside the messages (tool schemas). When
    history must be cut, the kept history is cut to ``keep_share`` of the room left for it,
    so that cuts (and summaries) come in batches rather than on every turn.
    """
    limit = prompt_limit(num_ctx, reply_tokens, margin)
    user = {"role": "user", "content": question}
    tail_tokens = fixed_tokens + sum(message_tokens(m, counter) for m in (user, *turn))
    sections = list(enumerate(system))
    cut = 0
    while sections and _system_tokens(sections, counter) + tail_tokens > limit:
        lowest = min(sections, key=lambda item: (item[1][0], -item[0]))
        sections.remove(lowest)
        cut += 1
    base = _system_tokens(sections, counter) + tail_tokens
    if base > limit:
        raise ContextOverflow(
            f"the question needs about {base:,} tokens, over the {limit:,} the context "
            f"window of {num_ctx:,} leaves for a prompt"
        )
    costs = [message_tokens(message, counter) for message in history]
    room = limit - base
    if sum(costs) > room:
        room = math.floor(room * keep_share)
    kept = 0
    used = 0
    for cost in reversed(costs):
        if used + cost > room:
            break
        used += cost
        kept += 1
    start = len(history) - kept
    messages: list[dict[str, Any]] = []
    if sections:
        messages.append({"role": "system", "content": _join(sections)})
    messages.extend(dict(message) for message in history[start:])
    messages.append(user)
    messages.extend(dict(message) for message in turn)
    return Assembly(messages, list(history[:start]), base + used, cut)


def _join(sections: Sequence[tuple[int, Section]]) -> str:
    return "\n\n".join(text for _, (_, text) in sections if text)


def _system_tokens(sections: Sequence[tuple[int, Section]], counter: TokenCounter) -> int:
    if not sections:
        return 0
    return message_tokens({"content": _join(sections)}, counter)
