"""Window assembly: history cut oldest first and returned, sections cut by priority."""

from __future__ import annotations

import pytest

from codehearth.chat.window import (
    ContextOverflow,
    assemble,
    clip_to_tokens,
    prompt_tokens,
)
from codehearth.prompts.budget import EstimatingCounter, prompt_limit

COUNTER = EstimatingCounter(4.0)
SYSTEM = [(100, "You are a helpful assistant."), (10, "Context: " + "x" * 400)]


def history(count: int, size: int = 200) -> list[dict[str, str]]:
    return [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i} " + "y" * size}
        for i in range(count)
    ]


@pytest.mark.parametrize(
    ("count", "num_ctx", "keep_share"),
    [
        pytest.param(3, 4096, 1.0, id="all-fit"),
        pytest.param(60, 2048, 1.0, id="cut-to-fit"),
        pytest.param(60, 2048, 0.5, id="cut-to-half"),
    ],
)
def test_history_is_cut_oldest_first_and_returned(
    count: int, num_ctx: int, keep_share: float
) -> None:
    past = history(count)
    made = assemble(
        SYSTEM,
        past,
        "what now?",
        num_ctx=num_ctx,
        reply_tokens=512,
        counter=COUNTER,
        keep_share=keep_share,
    )
    dropped = len(made.dropped)
    assert made.dropped == past[:dropped]
    assert made.messages[1 : len(made.messages) - 1] == past[dropped:]
    limit = prompt_limit(num_ctx, 512)
    if dropped:
        # One more message would not have fit in the (shared) room.
        one_more = prompt_tokens([past[dropped - 1]], COUNTER)
        room = limit - prompt_tokens([made.messages[0], made.messages[-1]], COUNTER)
        assert made.tokens + one_more > limit - room + room * keep_share
    assert (dropped > 0) is (count == 60)
    assert made.messages[0]["role"] == "system" and made.messages[-1]["content"] == "what now?"
    assert made.tokens == prompt_tokens(made.messages, COUNTER)
    assert made.tokens <= prompt_limit(num_ctx, 512)


def test_low_priority_sections_are_cut_before_the_question() -> None:
    made = assemble(SYSTEM, history(4), "q" * 1400, num_ctx=768, reply_tokens=256, counter=COUNTER)
    assert made.cut == 1 and made.dropped == history(4)[:3]
    assert made.messages[0]["content"] == "You are a helpful assistant."
    assert made.tokens <= prompt_limit(768, 256)


def test_turn_and_fixed_tokens_count_against_the_budget() -> None:
    turn = [{"role": "tool", "content": "z" * 800}]
    plain = assemble(SYSTEM, history(20), "q", num_ctx=2048, reply_tokens=512, counter=COUNTER)
    loaded = assemble(
        SYSTEM,
        history(20),
        "q",
        num_ctx=2048,
        reply_tokens=512,
        counter=COUNTER,
        turn=turn,
        fixed_tokens=300,
    )
    assert len(loaded.dropped) > len(plain.dropped)
    assert loaded.messages[-1] == turn[0]
    assert loaded.tokens <= prompt_limit(2048, 512)


def test_a_question_that_cannot_fit_is_an_error() -> None:
    with pytest.raises(ContextOverflow, match="context window"):
        assemble(SYSTEM, [], "q" * 10_000, num_ctx=1024, reply_tokens=256, counter=COUNTER)


@pytest.mark.parametrize(
    ("text", "tokens", "expected"),
    [
        pytest.param("abcdefgh", 5, "abcdefgh", id="fits"),
        pytest.param("abcdefghij", 2, "abcdefgh", id="clipped"),
        pytest.param("abc", 0, "", id="nothing"),
    ],
)
def test_clip_to_tokens(text: str, tokens: int, expected: str) -> None:
    assert clip_to_tokens(text, tokens, COUNTER) == expected
