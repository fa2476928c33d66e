"""Token counting, estimator calibration, the prefix/suffix budget split, the room a prompt
has under num_ctx and noticing a prompt that filled it."""

from __future__ import annotations

import itertools
import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codehearth.prompts.budget import (
    DEFAULT_CHARS_PER_TOKEN,
    MAX_CHARS_PER_TOKEN,
    MIN_CHARS_PER_TOKEN,
    BudgetSplit,
    CallableCounter,
    ContextWatch,
    EstimatingCounter,
    prompt_limit,
    split_budget,
)


class CharCounter:
    """One token per character: makes expected splits easy to compute by hand."""

    def count(self, text: str) -> int:
        return len(text)


class NewlineHeavyCounter:
    """Counts joined text higher than the sum of its lines (n newlines cost n*n extra)."""

    def count(self, text: str) -> int:
        return len(text) + text.count("\n") ** 2


# --- counters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "text", "expected"),
    [
        pytest.param(3.3, "", 0, id="empty"),
        pytest.param(3.3, "a", 1, id="one-char-rounds-up"),
        pytest.param(3.3, "x" * 33, 10, id="exact"),
        pytest.param(3.3, "x" * 34, 11, id="rounds-up"),
        pytest.param(4.0, "x" * 400, 100, id="other-ratio"),
    ],
)
def test_estimating_count(ratio: float, text: str, expected: int) -> None:
    assert EstimatingCounter(ratio).count(text) == expected


def test_default_ratio_is_a_code_estimate() -> None:
    assert EstimatingCounter().chars_per_token == DEFAULT_CHARS_PER_TOKEN
    assert 3.0 <= DEFAULT_CHARS_PER_TOKEN <= 4.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"chars_per_token": 0.0}, "chars_per_token", id="zero-ratio"),
        pytest.param({"chars_per_token": 50.0}, "chars_per_token", id="huge-ratio"),
        pytest.param({"smoothing": 0.0}, "smoothing", id="zero-smoothing"),
        pytest.param({"smoothing": 1.5}, "smoothing", id="big-smoothing"),
    ],
)
def test_estimating_counter_validates(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EstimatingCounter(**kwargs)


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        pytest.param([(400, 100)], 3.3 + 0.2 * (4.0 - 3.3), id="one-sample-ewma"),
        pytest.param([(400, 100), (400, 100)], 3.3 + 0.36 * (4.0 - 3.3), id="two-samples"),
        pytest.param([(100_000, 1)], 3.3 + 0.2 * (MAX_CHARS_PER_TOKEN - 3.3), id="clamped-high"),
        pytest.param([(1, 100)], 3.3 + 0.2 * (MIN_CHARS_PER_TOKEN - 3.3), id="clamped-low"),
        pytest.param([(400, 0)], 3.3, id="zero-tokens-ignored"),
        pytest.param([(0, 10)], 3.3, id="zero-chars-ignored"),
        pytest.param([(-5, 10)], 3.3, id="negative-ignored"),
    ],
)
def test_calibrate(samples: list[tuple[int, int]], expected: float) -> None:
    counter = EstimatingCounter(3.3)
    for text_chars, actual_tokens in samples:
        counter.calibrate(text_chars, actual_tokens)
    assert counter.chars_per_token == pytest.approx(expected)


def test_calibration_converges_and_changes_counts() -> None:
    counter = EstimatingCounter()
    for _ in range(100):
        counter.calibrate(4_200, 1_000)
    assert counter.chars_per_token == pytest.approx(4.2, abs=1e-6)
    assert counter.count("x" * 410) == 98


def test_calibration_stays_bounded_under_extreme_samples() -> None:
    counter = EstimatingCounter()
    for _ in range(200):
        counter.calibrate(10_000_000, 1)
    assert counter.chars_per_token == pytest.approx(MAX_CHARS_PER_TOKEN)
    for _ in range(200):
        counter.calibrate(1, 10_000_000)
    assert counter.chars_per_token == pytest.approx(MIN_CHARS_PER_TOKEN)


def test_calibration_is_thread_safe() -> None:
    counter = EstimatingCounter(3.0, smoothing=0.5)
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(2_000):
            counter.calibrate(500, 100)
            assert counter.count("x" * 100) >= 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.chars_per_token == pytest.approx(5.0)


def test_callable_counter_counts_token_ids() -> None:
    calls: list[str] = []

    def tokenize(text: str) -> list[int]:
        calls.append(text)
        return [len(word) for word in text.split()]

    counter = CallableCounter(tokenize)
    assert counter.count("def add ( a , b )") == 7
    assert counter.count("") == 0
    assert calls == ["def add ( a , b )"]


# --- split_budget -----------------------------------------------------------------------


def test_everything_fits_untouched() -> None:
    split = split_budget("a = 1\nb = ", "2\nc = 3\n", CharCounter(), budget=100)
    assert split == BudgetSplit("a = 1\nb = ", "2\nc = 3\n", 10, 8, 82)


def test_prefix_loses_whole_lines_from_its_start() -> None:
    prefix = "line1\nline2\nline3\ncur"
    # prefix limit 13: "cur" (3) + "line3\n" (6) = 9; adding "line2\n" (6) would be 15.
    split = split_budget(prefix, "", CharCounter(), budget=20, prefix_share=0.65, suffix_share=0)
    assert split.prefix == "line3\ncur"
    assert split.prefix_tokens == 9


def test_suffix_loses_whole_lines_from_its_end() -> None:
    suffix = "end)\nline2\nline3\n"
    split = split_budget("", suffix, CharCounter(), budget=20, prefix_share=0, suffix_share=0.6)
    assert split.suffix == "end)\nline2\n"
    assert split.suffix_tokens == 11


def test_cursor_line_too_long_is_cut_by_characters_nearest_the_cursor() -> None:
    prefix = "import os\n" + "x = " + "1 + " * 50
    suffix = "2" * 40 + ")\nprint(x)\n"
    split = split_budget(prefix, suffix, CharCounter(), budget=50, prefix_share=0.4)
    assert split.prefix == prefix[-20:]
    assert split.suffix == suffix[:10]
    assert (split.prefix_tokens, split.suffix_tokens, split.context_tokens) == (20, 10, 20)


@pytest.mark.parametrize(
    ("budget", "prefix_share", "suffix_share"),
    [
        pytest.param(0, 0.6, 0.2, id="zero-budget"),
        pytest.param(1, 0.6, 0.2, id="budget-one-rounds-shares-to-zero"),
        pytest.param(100, 0.0, 0.0, id="zero-shares"),
    ],
)
def test_tiny_budget_keeps_nothing(budget: int, prefix_share: float, suffix_share: float) -> None:
    split = split_budget(
        "def f():\n    return ",
        "1\n",
        EstimatingCounter(),
        budget=budget,
        prefix_share=prefix_share,
        suffix_share=suffix_share,
    )
    assert (split.prefix, split.suffix, split.prefix_tokens, split.suffix_tokens) == ("", "", 0, 0)
    assert split.context_tokens == budget


def test_tiny_budget_keeps_a_few_characters_of_the_cursor_line() -> None:
    split = split_budget("def function_name(argument", ")", EstimatingCounter(3.0), budget=5)
    assert split.prefix == "(argument"  # floor(5 * 0.6) = 3 tokens of 3 characters
    assert split.suffix == ")"
    assert split.prefix_tokens + split.suffix_tokens + split.context_tokens == 5


def test_no_suffix_leaves_the_rest_to_context() -> None:
    split = split_budget("x = 1\ny = ", "", EstimatingCounter(), budget=100)
    assert split.suffix == ""
    assert split.suffix_tokens == 0
    assert split.context_tokens == 100 - split.prefix_tokens


def test_crlf_lines_are_never_split_between_cr_and_lf() -> None:
    prefix = "".join(f"line {i}\r\n" for i in range(200)) + "value = "
    suffix = "compute()\r\n" + "".join(f"tail {i}\r\n" for i in range(200))
    split = split_budget(prefix, suffix, EstimatingCounter(), budget=120)
    assert prefix.endswith(split.prefix)
    assert split.prefix.startswith("line ")
    assert prefix[len(prefix) - len(split.prefix) - 2 :].startswith("\r\n")
    assert suffix.startswith(split.suffix)
    assert split.suffix.endswith("\r\n")
    assert split.prefix_tokens <= 72 and split.suffix_tokens <= 24


def test_crlf_cursor_line_cut_never_ends_on_a_lone_cr() -> None:
    split = split_budget(
        "", "abcd\r\nnext\r\n", CharCounter(), budget=10, prefix_share=0, suffix_share=0.5
    )
    assert split.suffix == "abcd"


def test_shares_are_validated() -> None:
    counter = EstimatingCounter()
    with pytest.raises(ValueError, match="budget"):
        split_budget("", "", counter, budget=-1)
    with pytest.raises(ValueError, match="within"):
        split_budget("", "", counter, prefix_share=1.5)
    with pytest.raises(ValueError, match="exceed"):
        split_budget("", "", counter, prefix_share=0.7, suffix_share=0.4)


def test_counts_of_joined_text_are_honoured_when_lines_undercount() -> None:
    prefix = "".join(f"l{i}\n" for i in range(30)) + "cur"
    split = split_budget(prefix, "", NewlineHeavyCounter(), budget=100, suffix_share=0)
    assert prefix.endswith(split.prefix)
    assert split.prefix_tokens == NewlineHeavyCounter().count(split.prefix) <= 60
    assert split.prefix.startswith("l")
    suffix = "cur\n" + "".join(f"l{i}\n" for i in range(30))
    split = split_budget("", suffix, NewlineHeavyCounter(), budget=100, prefix_share=0.5)
    assert suffix.startswith(split.suffix)
    assert split.suffix_tokens == NewlineHeavyCounter().count(split.suffix) <= 20
    assert split.suffix.endswith("\n")


def test_callable_counter_drives_the_split() -> None:
    counter = CallableCounter(lambda text: list(range(len(text.split()))))
    prefix = "one two\nthree four five\nsix "
    split = split_budget(prefix, "", counter, budget=10, prefix_share=0.5, suffix_share=0)
    assert split.prefix == "three four five\nsix "
    assert split.prefix_tokens == 4


def test_megabyte_file_is_fast_and_only_touches_what_it_keeps() -> None:
    line = "    total = compute(values[index], weights[index]) + offset  # running sum\n"
    body = line * (1_000_000 // len(line) + 1)
    prefix, suffix = body + "    result = ", "\n" + body
    counted: list[int] = []

    class RecordingCounter(EstimatingCounter):
        def count(self, text: str) -> int:
            counted.append(len(text))
            return super().count(text)

    split = split_budget(prefix, suffix, RecordingCounter(), budget=1536)
    assert len(prefix) > 1_000_000
    assert prefix.endswith(split.prefix) and suffix.startswith(split.suffix)
    assert split.prefix.startswith("    total") and split.suffix.endswith("sum\n")
    assert split.prefix_tokens <= 921 and split.suffix_tokens <= 307
    assert 0 < split.context_tokens <= 1536 - split.prefix_tokens - split.suffix_tokens
    assert sum(counted) < 50_000  # proportional to the kept text, not the megabyte


def test_megabyte_single_line_is_cut_in_linear_work() -> None:
    minified = "var a=1;" * 150_000
    counted: list[int] = []

    class RecordingCounter(EstimatingCounter):
        def count(self, text: str) -> int:
            counted.append(len(text))
            return super().count(text)

    split = split_budget(minified, minified, RecordingCounter(), budget=1536)
    assert sum(counted) <= 2 * (2 * len(minified))  # each side measured about once
    assert minified.endswith(split.prefix) and minified.startswith(split.suffix)
    assert split.prefix_tokens == 921 and split.suffix_tokens == 307


lines = st.lists(st.text(alphabet="ab \t{}", max_size=30), max_size=40)


@settings(max_examples=200, deadline=None)
@given(
    prefix_lines=lines,
    suffix_lines=lines,
    newline=st.sampled_from(["\n", "\r\n"]),
    budget=st.integers(min_value=0, max_value=300),
    ratio=st.floats(min_value=1.0, max_value=8.0),
)
def test_split_properties(
    prefix_lines: list[str], suffix_lines: list[str], newline: str, budget: int, ratio: float
) -> None:
    prefix, suffix = newline.join(prefix_lines), newline.join(suffix_lines)
    counter = EstimatingCounter(ratio)
    split = split_budget(prefix, suffix, counter, budget=budget)
    assert prefix.endswith(split.prefix)
    assert suffix.startswith(split.suffix)
    assert split.prefix_tokens == counter.count(split.prefix) <= math.floor(budget * 0.6)
    assert split.suffix_tokens == counter.count(split.suffix) <= math.floor(budget * 0.2)
    # Context gets what the longest fitting prefix leaves (the kept one may be shorter).
    assert (
        budget - math.floor(budget * 0.6) - split.suffix_tokens
        <= split.context_tokens
        <= budget - split.prefix_tokens - split.suffix_tokens
    )
    assert prefix[split.prefix_start :] == split.prefix
    cursor_prefix = prefix[prefix.rfind("\n") + 1 :]
    if split.prefix != prefix and len(split.prefix) > len(cursor_prefix):
        # Beyond the cursor's line, whole lines only.
        assert prefix[: len(prefix) - len(split.prefix)].endswith("\n")
    newline_at = suffix.find("\n")
    cursor_suffix = suffix if newline_at == -1 else suffix[: newline_at + 1]
    if split.suffix != suffix and len(split.suffix) > len(cursor_suffix):
        assert split.suffix.endswith("\n")
    assert not (split.suffix.endswith("\r") and suffix[len(split.suffix) :].startswith("\n"))


@pytest.mark.parametrize(
    ("num_ctx", "reply_tokens", "limit"),
    [
        pytest.param(4096, 128, 3571, id="ten-percent-under-the-room"),
        pytest.param(512, 128, 345, id="small-window"),
        pytest.param(512, 600, 0, id="no-room"),
    ],
)
def test_prompt_limit_keeps_a_safety_margin(num_ctx: int, reply_tokens: int, limit: int) -> None:
    assert prompt_limit(num_ctx, reply_tokens) == limit


@pytest.mark.parametrize(
    ("prompt_tokens", "full"),
    [
        pytest.param(4096, True, id="all-of-it"),
        pytest.param(4090, True, id="within-a-few-tokens"),
        pytest.param(4087, False, id="room-left"),
        pytest.param(900, False, id="small-prompt"),
    ],
)
def test_context_watch_notices_a_prompt_that_filled_the_window(
    caplog: pytest.LogCaptureFixture, prompt_tokens: int, full: bool
) -> None:
    watch = ContextWatch()
    with caplog.at_level("INFO", logger="codehearth.prompts.budget"):
        assert watch.check("coder:1b", 4096, prompt_tokens) is full
        assert watch.check("coder:1b", 4096, prompt_tokens) is full
        watch.check("other:7b", 4096, prompt_tokens)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == (2 if full else 0)  # once per model
    if full:
        assert f"coder:1b filled its context window ({prompt_tokens} of 4096" in said[0]


SOURCE_LINES = "".join(f"value_{n} = compute({n}, factor={n * 3})\n" for n in range(400))


def test_the_first_line_stays_put_while_the_user_types_on() -> None:
    """Typing a line character by character, the kept prefix starts at the same line on
    most keystrokes (a model server's prompt cache then reads only what changed); without
    the anchor it would move with nearly every keystroke near the budget's edge."""
    typed = "result = compute(value_1, value_2) + compute(value_3)"
    firsts = []
    for n in range(1, len(typed) + 1):
        split = split_budget(SOURCE_LINES + typed[:n], "", CharCounter(), budget=2000)
        firsts.append(split.prefix.split("\n", 1)[0])
    changes = sum(a != b for a, b in itertools.pairwise(firsts))
    assert changes <= 1, firsts


@pytest.mark.parametrize("budget", [pytest.param(b, id=f"budget-{b}") for b in (300, 2000, 9000)])
def test_the_anchor_gives_up_at_most_an_eighth_of_the_prefix_share(budget: int) -> None:
    share = math.floor(budget * 0.6)
    for cut in range(0, 2000, 97):
        split = split_budget(SOURCE_LINES + "x" * (cut % 13), "", CharCounter(), budget=budget)
        longest = max(len(line) + 1 for line in SOURCE_LINES.splitlines())
        assert split.prefix_tokens >= share * 7 / 8 - longest, (cut, split.prefix_tokens)


def _typing(budget: int, moved_limit: int | None) -> list[tuple[int, int, int]]:
    """(prefix_start, prefix_tokens, context_tokens) of each keystroke while typing three
    new lines under SOURCE_LINES, each split given the last one's prefix_start."""
    typed = "".join(f"total_{n} = compute(total_{n - 1}, factor={n})\n" for n in range(1, 4))
    splits, window = [], None
    for n in range(1, len(typed) + 1):
        split = split_budget(
            SOURCE_LINES + typed[:n],
            "",
            CharCounter(),
            budget=budget,
            window_start=window,
            moved_limit=moved_limit,
        )
        window = split.prefix_start
        splits.append((split.prefix_start, split.prefix_tokens, split.context_tokens))
    return splits


def test_the_window_stays_put_until_it_no_longer_fits() -> None:
    splits = _typing(budget=2000, moved_limit=None)
    starts = [start for start, _, _ in splits]
    moves = sum(a != b for a, b in itertools.pairwise(starts))
    assert moves <= 2, starts  # ~130 characters typed into a 1,200-character share
    assert all(tokens <= 1200 for _, tokens, _ in splits)


def test_a_moved_window_is_capped_and_grows_back() -> None:
    splits = _typing(budget=2000, moved_limit=300)
    moved = [i for i, (a, b) in enumerate(itertools.pairwise(splits), 1) if a[0] != b[0]]
    assert len(moved) == 1, moved  # once capped, it has 900 characters to grow into
    start, tokens, _ = splits[moved[0]]
    assert tokens <= 300
    after = splits[moved[0] + 1 :]
    assert all(s == start for s, _, _ in after)
    assert [t for _, t, _ in after] == sorted(t for _, t, _ in after)  # it grows back
    # The room for context does not follow the window (a sticky context keeps fitting):
    # it wavers by less than a line as the longest fitting prefix does.
    longest_line = max(len(line) + 1 for line in SOURCE_LINES.splitlines())
    assert all(800 <= c < 800 + longest_line for _, _, c in splits)


@pytest.mark.parametrize(
    "window_start",
    [
        pytest.param(5, id="not-a-line-start"),
        pytest.param(10**9, id="past-the-cursor"),
        pytest.param(0, id="too-far-back"),
    ],
)
def test_a_window_that_cannot_be_kept_moves(window_start: int) -> None:
    prefix = SOURCE_LINES + "x = "
    split = split_budget(
        prefix, "", CharCounter(), budget=500, window_start=window_start, moved_limit=100
    )
    assert split.prefix_start != window_start
    assert prefix[split.prefix_start - 1] == "\n"
    assert split.prefix_tokens <= 100 and split.prefix.endswith("x = ")
