"""SuggestionOutcomes: accepted through the command, rejected when typed past or replaced."""

from __future__ import annotations

import pytest

from codehearth.completion.outcomes import SuggestionOutcomes


def tracker() -> tuple[SuggestionOutcomes, list[tuple[str, str, bool]]]:
    records: list[tuple[str, str, bool]] = []
    return SuggestionOutcomes(
        lambda uri, text, accepted: records.append((uri, text, accepted))
    ), records


@pytest.mark.parametrize(
    ("line_now", "expected"),
    [
        pytest.param("    ret", [], id="typing-along"),
        pytest.param("    return a + b", [], id="typed-it-all"),
        pytest.param("    return a + b)", [], id="with-auto-closed-tail"),
        pytest.param("    pass", [("u", "return a + b", False)], id="typed-something-else"),
        pytest.param("", [("u", "return a + b", False)], id="line-deleted"),
    ],
)
def test_document_changes(line_now: str, expected: list[tuple[str, str, bool]]) -> None:
    outcomes, records = tracker()
    outcomes.shown("u", 1, "    ", "return a + b")
    outcomes.document_changed("u", ["def add(a, b):", line_now])
    assert records == expected


def test_accepted_is_recorded_once() -> None:
    outcomes, records = tracker()
    outcomes.shown("u", 1, "    ", "return a + b")
    outcomes.accepted("u", "return a + b")
    outcomes.document_changed("u", ["def add(a, b):", "    x"])
    assert records == [("u", "return a + b", True)]


def test_a_new_suggestion_passes_over_the_old_one() -> None:
    outcomes, records = tracker()
    outcomes.shown("u", 1, "    ", "return a + b")
    outcomes.shown("u", 1, "    ", "return a + b")  # the same one again: nothing yet
    outcomes.shown("u", 2, "", "print(x)")
    assert records == [("u", "return a + b", False)]


def test_closing_the_document_rejects_what_was_shown() -> None:
    outcomes, records = tracker()
    outcomes.shown("u", 0, "", "x = 1")
    outcomes.document_closed("u")
    outcomes.document_closed("u")
    assert records == [("u", "x = 1", False)]
    assert not outcomes.watching("u")
