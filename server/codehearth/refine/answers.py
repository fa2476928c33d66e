"""Actions answered with text instead of an edit: *write tests* and user-defined chat actions.

Their answer never changes a document (an edit may only touch the target region of the
document the action was asked for), so it reaches the user as a chat answer.

* *Write tests* is refined like an edit to a new, empty file of the same language: the
  loop drafts, the verifier checks that the code parses (tree-sitter), and a failure goes
  back to the model as feedback. Only code that parses is given to the user.
* A user-defined chat action is asked once; its answer is given as it came.

No pygls here.
"""

from __future__ import annotations

import asyncio
import time

import attrs

from codehearth.refine.actions import ActionJob, action_prompt, checking_verifier
from codehearth.refine.edits import TextRange
from codehearth.refine.loop import (
    Model,
    ModelAnswer,
    RefineTask,
    RoundTrace,
    estimate_tokens,
    refine,
)
from codehearth.refine.verify import Check


@attrs.frozen
class AnswerOutcome:
    """The text to show (None when there is nothing usable), the rounds it took, and the
    reason the action ended: ``verified`` (tests that parse), ``answered``, or why not."""

    text: str | None
    rounds: tuple[RoundTrace, ...]
    reason: str


async def write_tests(
    job: ActionJob, model: Model, *, max_rounds: int = 3, time_budget_s: float = 30.0
) -> AnswerOutcome:
    """Tests for ``job``'s region, in a fenced block of its language, once they parse."""
    _, messages = action_prompt(job)
    new_file = RefineTask(
        uri=job.uri,
        version=job.version,
        language_id=job.language_id,
        text="",
        region=TextRange(0, 0, 0, 0),
        messages=tuple(messages),
    )
    result = await refine(
        new_file,
        model,
        checking_verifier(),
        max_rounds=max_rounds,
        time_budget_s=time_budget_s,
    )
    if not result.verified or result.best_draft is None:
        return AnswerOutcome(None, result.rounds, result.reason)
    code = result.best_draft if result.best_draft.endswith("\n") else result.best_draft + "\n"
    return AnswerOutcome(f"```{job.language_id}\n{code}```", result.rounds, result.reason)


async def answer_once(
    job: ActionJob, model: Model, *, time_budget_s: float = 30.0
) -> AnswerOutcome:
    """Ask a user-defined chat action's prompt once and give the answer as it came."""
    _, messages = action_prompt(job, edits_region=False)
    tokens = estimate_tokens(messages)
    started = time.monotonic()
    try:
        answer = ModelAnswer.of(await asyncio.wait_for(model(messages), time_budget_s))
    except TimeoutError:
        timed_out = Check("model", False, f"no answer within {time_budget_s:g}s")
        ms = (time.monotonic() - started) * 1000
        return AnswerOutcome(None, (RoundTrace(1, tokens, 0, (timed_out,), ms),), "time-budget")
    text = answer.text.strip()
    check = Check("answer", bool(text), "" if text else "the answer is empty")
    trace = RoundTrace(
        1,
        tokens,
        len(answer.text),
        (check,),
        (time.monotonic() - started) * 1000,
        answer.prompt_tokens,
        answer.answer_tokens,
    )
    return AnswerOutcome(text or None, (trace,), "answered" if text else "empty-answer")
