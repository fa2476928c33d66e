"""Where a suggestion goes: auto-closed characters after the cursor are swallowed (covered
by the range and re-appended to the text) so accepting never duplicates them; any other
text after the cursor is left alone."""

from __future__ import annotations

import pytest

from codehearth.completion.edits import Insertion, plan_insertion, swallowable_tail


@pytest.mark.parametrize(
    ("rest_of_line", "tail"),
    [
        pytest.param(")", ")", id="paren"),
        pytest.param('")', '")', id="quote-and-paren"),
        pytest.param("];", "];", id="bracket-and-semicolon"),
        pytest.param("})", "})", id="brace-and-paren"),
        pytest.param("`", "`", id="backtick"),
        pytest.param("'", "'", id="single-quote"),
        pytest.param(">", ">", id="angle"),
        pytest.param(",", ",", id="comma"),
        pytest.param(")  ", ")", id="trailing-spaces-kept"),
        pytest.param(")\t", ")", id="trailing-tab-kept"),
        pytest.param(")\n", ")", id="newline"),
        pytest.param(")\r\n", ")", id="crlf"),
        pytest.param(") )", ") )", id="space-between-closers"),
        pytest.param(" )", " )", id="space-before-closer"),
        pytest.param("", "", id="end-of-line"),
        pytest.param("   ", "", id="only-spaces"),
        pytest.param("\n", "", id="only-newline"),
        pytest.param("x)", "", id="identifier-before-closer"),
        pytest.param(") + 1", "", id="expression-after-closer"),
        pytest.param(")  # note", "", id="comment-after-closer"),
        pytest.param("foo", "", id="word"),
    ],
)
def test_only_closers_and_whitespace_are_swallowable(rest_of_line: str, tail: str) -> None:
    assert swallowable_tail(rest_of_line) == tail


@pytest.mark.parametrize(
    ("rest_of_line", "suggestion", "insertion"),
    [
        pytest.param(")", "a, b", Insertion("a, b)", 1), id="call"),
        pytest.param('")', "hello", Insertion('hello")', 2), id="string-argument"),
        pytest.param("];", "1, 2", Insertion("1, 2];", 2), id="list-statement"),
        pytest.param(")  ", "x", Insertion("x)", 1), id="trailing-spaces-not-replaced"),
        pytest.param(")\n", "x", Insertion("x)", 1), id="line-break-not-replaced"),
        pytest.param("", "x = 1", Insertion("x = 1", 0), id="end-of-line"),
        pytest.param("x)", "y, ", Insertion("y, ", 0), id="text-after-cursor"),
        pytest.param(") + 1", "y", Insertion("y", 0), id="expression-after-closer"),
        pytest.param(")", "", Insertion(")", 1), id="empty-suggestion"),
    ],
)
def test_plan_insertion_swallows_the_auto_closed_tail(
    rest_of_line: str, suggestion: str, insertion: Insertion
) -> None:
    assert plan_insertion(rest_of_line, suggestion) == insertion


@pytest.mark.parametrize(
    ("line", "column", "suggestion", "accepted"),
    [
        pytest.param("print()", 6, "x", "print(x)", id="call"),
        pytest.param('print("")', 7, "hi", 'print("hi")', id="string"),
        pytest.param("xs = [];  ", 6, "1, 2", "xs = [1, 2];  ", id="trailing-spaces"),
        pytest.param("f(x)", 2, "y, ", "f(y, x)", id="argument-after-cursor"),
    ],
)
def test_accepting_the_insertion_never_duplicates_a_closer(
    line: str, column: int, suggestion: str, accepted: str
) -> None:
    insertion = plan_insertion(line[column:], suggestion)
    result = line[:column] + insertion.text + line[column + insertion.replaced :]
    assert result == accepted
