"""The refine loop with scripted fake models and verifiers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from codehearth.languages import LanguageRegistry
from codehearth.models.errors import BackendError, ProblemKind
from codehearth.prompts.actions import Message
from codehearth.refine.edits import EditProposal, TextEdit, TextRange, apply_edits
from codehearth.refine.loop import RefineTask, refine
from codehearth.refine.verify import Candidate, Check, Verdict, verify

REGISTRY = LanguageRegistry.load()
TEXT = "def total(items):\n    return sum(item for item in itemz)\n"
REGION = TextRange(1, 0, 2, 0)
FIRST_PROMPT: tuple[Message, ...] = (
    {"role": "system", "content": "system"},
    {"role": "user", "content": "fix the region"},
)
TASK = RefineTask("file:///w/a.py", 7, "python", TEXT, REGION, FIRST_PROMPT)
RIGHT = "```python\n    return sum(item for item in items)\n```"
WRONG = "```python\n    return sum(item for item in itemz\n```"


class ScriptedModel:
    """Answers from a script, recording every prompt it was given."""

    def __init__(self, answers: Sequence[str], delay_s: float = 0.0) -> None:
        self.answers = list(answers)
        self.prompts: list[list[Message]] = []
        self.delay_s = delay_s

    async def __call__(self, messages: list[Message]) -> str:
        self.prompts.append(messages)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return self.answers[min(len(self.prompts), len(self.answers)) - 1]


def fixes_itemz(candidate: Candidate) -> Verdict:
    """A sync verifier: parses with tree-sitter, then insists ``itemz`` is gone."""
    verdict = verify(candidate, registry=REGISTRY)
    if not verdict.ok:
        return verdict
    result = apply_edits(candidate.original_text, candidate.proposal.edits)
    ok = "itemz" not in result
    cleared = Check("diagnostic_cleared", ok, "" if ok else "F821 Undefined name `itemz`")
    return Verdict(cleared.ok, (*verdict.checks, cleared))


async def async_fixes_itemz(candidate: Candidate) -> Verdict:
    await asyncio.sleep(0)
    return fixes_itemz(candidate)


@pytest.mark.parametrize(
    "verifier", [pytest.param(fixes_itemz, id="sync"), pytest.param(async_fixes_itemz, id="async")]
)
async def test_right_first_time(verifier: object) -> None:
    model = ScriptedModel([RIGHT])
    result = await refine(TASK, model, verifier)  # type: ignore[arg-type]
    assert result.verified
    assert result.reason == "verified"
    assert result.edit == EditProposal(TASK.uri, 7, (TextEdit(1, 36, 1, 37, "s"),))
    assert len(result.rounds) == 1
    trace = result.rounds[0]
    assert trace.round == 1
    assert trace.answer_chars == len(RIGHT)
    assert trace.prompt_tokens_estimate == 5  # 20 characters at 4 per token
    assert all(check.ok for check in trace.checks)
    assert model.prompts == [list(FIRST_PROMPT)]


async def test_wrong_then_right_after_feedback() -> None:
    model = ScriptedModel([WRONG, RIGHT])
    result = await refine(TASK, model, fixes_itemz)
    assert result.verified
    assert [trace.round for trace in result.rounds] == [1, 2]
    failed = [check for check in result.rounds[0].checks if not check.ok]
    assert [check.name for check in failed] == ["parses"]
    second = model.prompts[1]
    assert second[: len(FIRST_PROMPT)] == list(FIRST_PROMPT)
    assert second[-2] == {"role": "assistant", "content": WRONG}
    assert failed[0].detail in second[-1]["content"]
    assert "parses" in second[-1]["content"]


class FailingCritic:
    async def __call__(self, messages: list[Message]) -> str:
        raise BackendError(ProblemKind.UNREACHABLE, "the critic's host is down")


@pytest.mark.parametrize(
    ("critic", "review_in_prompt"),
    [
        pytest.param(ScriptedModel(["- close the paren on line 2"]), True, id="reviewed"),
        pytest.param(FailingCritic(), False, id="critic-down-findings-alone"),
    ],
)
async def test_a_critic_reviews_the_failed_draft_before_the_refine(
    critic: object, review_in_prompt: bool
) -> None:
    model = ScriptedModel([WRONG, RIGHT])
    result = await refine(TASK, model, fixes_itemz, critic=critic)  # type: ignore[arg-type]
    assert result.verified
    refine_prompt = model.prompts[1][-1]["content"]
    assert "parses" in refine_prompt  # the verifier's findings always go along
    assert ("close the paren on line 2" in refine_prompt) is review_in_prompt
    if isinstance(critic, ScriptedModel):
        [review_prompt] = critic.prompts
        assert WRONG in review_prompt[-1]["content"] and "parses" in review_prompt[-1]["content"]


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param([WRONG], id="always-wrong"),
        pytest.param(["", "   \n", WRONG], id="empty-answers"),
        pytest.param(["I cannot help with that.", WRONG, "Sure!"], id="prose"),
        pytest.param(["```rust\nfn main() {}\n```", WRONG], id="wrong-language-fence"),
        pytest.param(["```python\n    return sum(item for item in itemz)\n```"], id="no-change"),
    ],
)
async def test_never_verified(answers: list[str]) -> None:
    model = ScriptedModel(answers)
    result = await refine(TASK, model, fixes_itemz, max_rounds=3)
    assert not result.verified
    assert result.edit is None
    assert result.reason == "max-rounds"
    assert len(result.rounds) == 3
    assert result.best_draft is not None
    assert all(not all(check.ok for check in trace.checks) for trace in result.rounds)


async def test_best_draft_is_the_least_bad() -> None:
    # The parsing draft passes more checks than the broken one that came after it.
    parsing_but_wrong = "```python\n    return sum(item for item in itemz) + 0\n```"
    model = ScriptedModel([parsing_but_wrong, WRONG])
    result = await refine(TASK, model, fixes_itemz, max_rounds=2)
    assert result.best_draft == "    return sum(item for item in itemz) + 0\n"


async def test_empty_answers_leave_no_draft() -> None:
    result = await refine(TASK, ScriptedModel([""]), fixes_itemz, max_rounds=2)
    assert result.best_draft is None
    assert [check.name for check in result.rounds[0].checks] == ["answer"]


async def test_time_budget_cuts_off_a_slow_model() -> None:
    model = ScriptedModel([RIGHT], delay_s=5.0)
    result = await refine(TASK, model, fixes_itemz, time_budget_s=0.05)
    assert not result.verified
    assert result.reason == "time-budget"
    assert len(result.rounds) == 1
    assert result.rounds[0].checks[0].name == "model"


async def test_time_budget_stops_between_rounds() -> None:
    def slow_verifier(candidate: Candidate) -> Verdict:
        return Verdict(False, (Check("slow", False, "no"),))

    model = ScriptedModel([WRONG], delay_s=0.03)
    result = await refine(TASK, model, slow_verifier, max_rounds=100, time_budget_s=0.1)
    assert result.reason == "time-budget"
    assert 1 <= len(result.rounds) < 100


async def test_verifier_errors_are_a_failed_round() -> None:
    def broken(candidate: Candidate) -> Verdict:
        raise RuntimeError("boom")

    result = await refine(TASK, ScriptedModel([RIGHT]), broken, max_rounds=1)
    assert not result.verified
    assert result.rounds[0].checks == (
        Check("verifier", False, "verifier error: RuntimeError('boom')"),
    )


async def test_cancellation_propagates() -> None:
    model = ScriptedModel([RIGHT], delay_s=5.0)
    task = asyncio.create_task(refine(TASK, model, fixes_itemz))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(model.prompts) == 1


async def test_cancellation_in_the_verifier_propagates() -> None:
    async def cancelled(candidate: Candidate) -> Verdict:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await refine(TASK, ScriptedModel([RIGHT]), cancelled)


async def test_a_draft_that_verifies_needs_no_model() -> None:
    model = ScriptedModel([WRONG])
    wrong, right = (
        "    return sum(item for item in itemz\n",
        "    return sum(item for item in items)\n",
    )
    result = await refine(TASK, model, fixes_itemz, drafts=[wrong, right])
    assert result.verified and result.reason == "verified"
    assert model.prompts == []  # no model was asked
    assert [trace.round for trace in result.rounds] == [0, 0]
    assert [all(c.ok for c in trace.checks) for trace in result.rounds] == [False, True]
    assert result.rounds[1].prompt_tokens == 0 and result.rounds[1].answer_tokens == 0


async def test_when_no_draft_verifies_the_model_is_asked() -> None:
    model = ScriptedModel([RIGHT])
    result = await refine(TASK, model, fixes_itemz, drafts=["    return sum(itemz)\n"])
    assert result.verified and len(model.prompts) == 1
    assert [trace.round for trace in result.rounds] == [0, 1]
