"""Actions answered in text: *write tests* (only code that parses, refined with the parser's
feedback) and user-defined chat actions (asked once)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from codehearth.prompts.actions import Message
from codehearth.refine.actions import ActionJob
from codehearth.refine.answers import answer_once, write_tests
from codehearth.refine.loop import ModelAnswer

SOURCE = "def add(a, b):\n    return a + b\n"
JOB = ActionJob("write_tests", "file:///w/add.py", 1, "/w/add.py", "python", SOURCE, 0, 1)
CHAT_JOB = ActionJob(
    "custom: Review",
    "file:///w/add.py",
    1,
    "/w/add.py",
    "python",
    SOURCE,
    0,
    1,
    template="Review {selection} from {path}.",
)
TESTS = "def test_add():\n    assert add(1, 2) == 3\n"
BROKEN = "```python\ndef test_add(:\n    assert add(1, 2) == 3\n```"


class ScriptedModel:
    """Answers from a script (the last one repeats), recording every prompt."""

    def __init__(self, answers: Sequence[str | ModelAnswer], delay_s: float = 0.0) -> None:
        self.answers = list(answers)
        self.prompts: list[list[Message]] = []
        self.delay_s = delay_s

    async def __call__(self, messages: list[Message]) -> str | ModelAnswer:
        self.prompts.append(messages)
        await asyncio.sleep(self.delay_s)
        return self.answers[min(len(self.prompts), len(self.answers)) - 1]


async def test_tests_that_parse_are_given_as_a_fenced_block() -> None:
    model = ScriptedModel([f"Here you go:\n```python\n{TESTS}```\nThey cover addition."])
    outcome = await write_tests(JOB, model)
    assert outcome.text == f"```python\n{TESTS}```"
    assert outcome.reason == "verified" and len(outcome.rounds) == 1
    prompt = model.prompts[0][-1]["content"]
    assert "Write unit tests" in prompt and "def add(a, b):" in prompt


async def test_tests_that_do_not_parse_get_the_parsers_feedback() -> None:
    model = ScriptedModel([BROKEN, f"```python\n{TESTS}```"])
    outcome = await write_tests(JOB, model)
    assert outcome.text == f"```python\n{TESTS}```"
    assert [c.name for c in outcome.rounds[0].checks if not c.ok] == ["parses"]
    assert "- parses:" in model.prompts[1][-1]["content"]


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        pytest.param([BROKEN], "max-rounds", id="never-parses"),
        pytest.param(["", "  \n"], "max-rounds", id="empty"),
    ],
)
async def test_tests_that_never_parse_are_not_given(answers: list[str], reason: str) -> None:
    outcome = await write_tests(JOB, ScriptedModel(answers), max_rounds=2)
    assert (outcome.text, outcome.reason, len(outcome.rounds)) == (None, reason, 2)


async def test_a_chat_action_is_asked_once_with_its_template() -> None:
    model = ScriptedModel([ModelAnswer("  Fine as it is.\n", prompt_tokens=42)])
    outcome = await answer_once(CHAT_JOB, model)
    assert (outcome.text, outcome.reason) == ("Fine as it is.", "answered")
    [round_] = outcome.rounds
    assert round_.prompt_tokens == 42 and round_.checks[0].ok
    prompt = model.prompts[0][-1]["content"]
    assert "Review ```python\ndef add(a, b):" in prompt and "from /w/add.py." in prompt
    assert "ONLY the replacement code" not in prompt


async def test_an_empty_chat_answer_is_not_given() -> None:
    outcome = await answer_once(CHAT_JOB, ScriptedModel([" \n"]))
    assert (outcome.text, outcome.reason) == (None, "empty-answer")


async def test_a_slow_chat_answer_is_cut_off() -> None:
    outcome = await answer_once(CHAT_JOB, ScriptedModel(["late"], delay_s=1.0), time_budget_s=0.05)
    assert (outcome.text, outcome.reason) == (None, "time-budget")
    assert outcome.rounds[0].checks[0].name == "model"
