"""The refine loop: draft, verify, critique with the verifier's findings, refine.

Each round asks the model for a replacement of the task's region, turns the answer into a
minimal edit and runs the verifier on it. A candidate that verifies ends the loop; one that
does not makes the next prompt, which shows the model its previous answer and the failed
checks (execution feedback). The loop stops after ``max_rounds`` or when ``time_budget_s``
runs out (the model call in flight is cut off at the deadline). Each round leaves a
:class:`RoundTrace`: its checks, its milliseconds and its tokens (the backend's counts
when the model returns a :class:`ModelAnswer` with them, else estimates).

Drafts that need no model (:mod:`codehearth.refine.fixers`) are verified first, as round 0,
in the order given; the first that verifies is the answer and no model is asked.

Only a verified edit is ever returned; otherwise the result has ``edit=None`` and the
least-bad draft (the one that passed the most checks; later wins ties), which the server
may still show as a chat answer. Model garbage (empty answers, prose, fences in the wrong
language) is a failed round, never an exception; cancellation propagates at once.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence

import attrs

from codehearth.models.errors import BackendError
from codehearth.prompts.actions import Message, critic_messages, critique_messages
from codehearth.refine.edits import (
    AnswerError,
    EditError,
    EditProposal,
    TextRange,
    edits_from_answer,
    extract_code,
    range_text,
)
from codehearth.refine.fixers import as_answer
from codehearth.refine.verify import Candidate, Check, TargetDiagnostic, Verdict

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 4
"""The rough ratio behind token estimates when the backend gives no counts."""


@attrs.frozen
class ModelAnswer:
    """A model's answer with the token counts its backend reported (None: not reported)."""

    text: str
    prompt_tokens: int | None = None
    answer_tokens: int | None = None

    @classmethod
    def of(cls, reply: str | ModelAnswer) -> ModelAnswer:
        """A model's reply as a :class:`ModelAnswer` (plain text has no counts)."""
        return reply if isinstance(reply, ModelAnswer) else cls(reply)


Model = Callable[[list[Message]], Awaitable[str | ModelAnswer]]
"""A chat model: the messages in, the answer text (or a :class:`ModelAnswer`) out."""
Verifier = Callable[[Candidate], Awaitable[Verdict] | Verdict]


@attrs.frozen
class RefineTask:
    """One action to refine: the document, the region the model rewrites and the first
    prompt (from :mod:`codehearth.prompts.actions`)."""

    uri: str
    version: int | None
    language_id: str
    text: str
    region: TextRange
    messages: tuple[Message, ...]
    diagnostic: TargetDiagnostic | None = None


@attrs.frozen
class RoundTrace:
    """What one round cost and found. Token counts are the backend's when it reported
    them, else estimated from characters (:data:`CHARS_PER_TOKEN`)."""

    round: int
    prompt_tokens_estimate: int
    answer_chars: int
    checks: tuple[Check, ...]
    ms: float
    reported_prompt_tokens: int | None = None
    reported_answer_tokens: int | None = None

    @property
    def prompt_tokens(self) -> int:
        if self.reported_prompt_tokens is not None:
            return self.reported_prompt_tokens
        return self.prompt_tokens_estimate

    @property
    def answer_tokens(self) -> int:
        if self.reported_answer_tokens is not None:
            return self.reported_answer_tokens
        return math.ceil(self.answer_chars / CHARS_PER_TOKEN)


@attrs.frozen
class RefineResult:
    """The loop's outcome; ``reason`` is ``verified``, ``max-rounds`` or ``time-budget``."""

    verified: bool
    edit: EditProposal | None
    best_draft: str | None
    rounds: tuple[RoundTrace, ...]
    reason: str


def estimate_tokens(messages: Sequence[Message]) -> int:
    """The prompt's size in tokens, estimated from its characters."""
    return math.ceil(sum(len(message["content"]) for message in messages) / CHARS_PER_TOKEN)


async def _judge(
    task: RefineTask, region_text: str, answer: str, verifier: Verifier
) -> tuple[EditProposal | None, tuple[Check, ...], str | None]:
    """The proposal made from an answer, the checks it went through, and its code."""
    try:
        code = extract_code(answer)
        edits = edits_from_answer(region_text, answer, task.region)
    except (AnswerError, EditError) as error:
        return None, (Check("answer", False, str(error)),), None
    if not edits:
        return None, (Check("answer", False, "the answer does not change the region"),), code
    proposal = EditProposal(task.uri, task.version, tuple(edits))
    candidate = Candidate(proposal, task.text, task.language_id, answer, task.diagnostic)
    try:
        outcome = verifier(candidate)
        verdict = await outcome if inspect.isawaitable(outcome) else outcome
    except asyncio.CancelledError:
        raise
    except Exception as error:
        log.exception("verifier failed")
        return None, (Check("verifier", False, f"verifier error: {error!r}"),), code
    assert isinstance(verdict, Verdict)
    return (proposal if verdict.ok else None), verdict.checks, code


async def _review(
    critic: Model | None,
    task: RefineTask,
    answer: str,
    failed: list[tuple[str, str]],
    deadline: float,
) -> str:
    """The critic's notes on a failed draft; empty without a critic, or when it fails or
    runs out of time (the findings alone still go to the next round)."""
    remaining = deadline - time.monotonic()
    if critic is None or remaining <= 0:
        return ""
    try:
        reply = await asyncio.wait_for(
            critic(critic_messages(task.messages, answer, failed)), remaining
        )
    except (TimeoutError, BackendError) as error:
        log.info("the critic gave no review: %s", error)
        return ""
    return ModelAnswer.of(reply).text


async def refine(
    task: RefineTask,
    model: Model,
    verifier: Verifier,
    *,
    max_rounds: int = 3,
    time_budget_s: float = 20.0,
    critic: Model | None = None,
    drafts: Sequence[str] = (),
) -> RefineResult:
    """Draft, verify and refine until a candidate verifies or rounds or time run out.
    With a ``critic``, a failed draft is first reviewed by it (it sees the checks'
    findings) and its notes go into the refine prompt. ``drafts``: the region's new text
    from fixers that need no model, verified first (round 0)."""
    deadline = time.monotonic() + time_budget_s
    region_text = range_text(task.text, task.region)
    messages = list(task.messages)
    rounds: list[RoundTrace] = []
    for draft in drafts:
        started = time.monotonic()
        proposal, checks, code = await _judge(task, region_text, as_answer(draft), verifier)
        ms = (time.monotonic() - started) * 1000
        rounds.append(RoundTrace(0, 0, len(draft), checks, ms, 0, 0))
        if proposal is not None:
            log.info("a fix that needs no model verified in %.0f ms", ms)
            return RefineResult(True, proposal, code, tuple(rounds), "verified")
    best_draft: str | None = None
    best_score = -1
    reason = "max-rounds"
    for number in range(1, max_rounds + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            reason = "time-budget"
            break
        started = time.monotonic()
        tokens = estimate_tokens(messages)
        try:
            reply = await asyncio.wait_for(model(messages), remaining)
        except TimeoutError:
            ms = (time.monotonic() - started) * 1000
            timed_out = Check("model", False, f"no answer within {time_budget_s:g}s")
            rounds.append(RoundTrace(number, tokens, 0, (timed_out,), ms))
            reason = "time-budget"
            break
        answered = ModelAnswer.of(reply)
        answer = answered.text
        proposal, checks, code = await _judge(task, region_text, answer, verifier)
        ms = (time.monotonic() - started) * 1000
        rounds.append(
            RoundTrace(
                number,
                tokens,
                len(answer),
                checks,
                ms,
                answered.prompt_tokens,
                answered.answer_tokens,
            )
        )
        if proposal is not None:
            return RefineResult(True, proposal, code, tuple(rounds), "verified")
        score = sum(check.ok for check in checks)
        if code is not None and score >= best_score:
            best_draft, best_score = code, score
        failed = [(check.name, check.detail) for check in checks if not check.ok]
        review = await _review(critic, task, answer, failed, deadline)
        messages = critique_messages(task.messages, answer, failed, task.language_id, review)
    return RefineResult(False, None, best_draft, tuple(rounds), reason)
