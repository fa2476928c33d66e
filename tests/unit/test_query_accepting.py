"""``CompletionQuery.accepting``: the document as if the suggest widget's selected item
were accepted, which is what the model completes while that widget is open."""

from __future__ import annotations

import pytest

from codehearth.completion.engine import CompletionQuery

TEXT = "def add(a, b):\n    pr\n\nprint(sys.argv)\n"
CURSOR = TEXT.index("    pr") + len("    pr")  # after `pr`, line 1, column 6


def query(
    text: str = TEXT, offset: int = CURSOR, line: int = 1, column: int = 6
) -> CompletionQuery:
    return CompletionQuery(
        uri="file:///w/calc.py",
        version=3,
        text=text,
        offset=offset,
        line=line,
        column=column,
        language_id="python",
    )


def test_the_item_replaces_its_range_and_the_cursor_follows_it() -> None:
    accepted = query().accepting(4, 6, "print")
    assert accepted is not None
    assert accepted.text == "def add(a, b):\n    print\n\nprint(sys.argv)\n"
    assert accepted.text[: accepted.offset].endswith("    print")
    assert (accepted.line, accepted.column) == (1, 9)
    assert (accepted.uri, accepted.version, accepted.language_id) == (
        "file:///w/calc.py",
        3,
        "python",
    )


def test_a_range_past_the_cursor_is_replaced_too() -> None:
    """Replace mode: the cursor inside `prnt`, the item `print` replaces the whole word."""
    text = "x = prnt\n"
    accepted = query(text, offset=6, line=0, column=6).accepting(4, 8, "print")
    assert accepted is not None
    assert accepted.text == "x = print\n"
    assert (accepted.offset, accepted.column) == (9, 9)


def test_the_same_item_again_is_the_same_query() -> None:
    """Typing on through the word the widget offers asks the same question (cache hits)."""
    typed_more = TEXT.replace("    pr\n", "    pri\n")
    first = query().accepting(4, 6, "print")
    second = query(typed_more, offset=CURSOR + 1, column=7).accepting(4, 7, "print")
    assert first == second


@pytest.mark.parametrize(
    ("start", "end", "item"),
    [
        pytest.param(7, 7, "print", id="range-after-cursor"),
        pytest.param(2, 5, "print", id="range-before-cursor"),
        pytest.param(4, 99, "print", id="range-past-line-end"),
        pytest.param(-1, 6, "print", id="negative-start"),
        pytest.param(4, 6, "print(\n)", id="item-spans-lines"),
        pytest.param(4, 6, "print\r", id="item-has-a-carriage-return"),
    ],
)
def test_an_item_that_cannot_be_applied_gives_none(start: int, end: int, item: str) -> None:
    assert query().accepting(start, end, item) is None


def test_last_line_without_a_line_break() -> None:
    accepted = query("    pr", offset=6, line=0, column=6).accepting(4, 6, "print")
    assert accepted is not None and accepted.text == "    print"
