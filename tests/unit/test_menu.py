"""A suggestion as a completion-menu entry: the word before the cursor followed by the
suggestion (editors replace that word, so nothing typed is lost); several lines only as a
snippet indented relative to the cursor line, else the first line alone."""

from __future__ import annotations

import pytest

from codehearth.completion.menu import (
    MenuEntry,
    escape_snippet,
    menu_entry,
    relative_lines,
    word_before,
)

BODY = '"""Return the sum."""\n    return a + b\n'


@pytest.mark.parametrize(
    ("line_prefix", "word"),
    [
        pytest.param("    ", "", id="indentation"),
        pytest.param("    return max(", "", id="after-a-parenthesis"),
        pytest.param("    ret", "ret", id="in-a-word"),
        pytest.param("    x = self.va", "va", id="after-a-dot"),
        pytest.param("    total_sum2", "total_sum2", id="underscore-and-digit"),
        pytest.param("    café", "café", id="non-ascii-letters"),
        pytest.param("    $el", "el", id="dollar-is-not-a-word-character"),
        pytest.param("", "", id="empty-line"),
    ],
)
def test_the_word_before_the_cursor(line_prefix: str, word: str) -> None:
    assert word_before(line_prefix) == word


@pytest.mark.parametrize(
    ("text", "snippet"),
    [
        pytest.param("return a + b", "return a + b", id="plain"),
        pytest.param("f'${x}'", "f'\\${x\\}'", id="dollar-and-brace"),
        pytest.param("a\\b", "a\\\\b", id="backslash"),
        pytest.param("{a: 1}", "{a: 1\\}", id="only-closing-brace"),
    ],
)
def test_snippet_escaping(text: str, snippet: str) -> None:
    assert escape_snippet(text) == snippet


@pytest.mark.parametrize(
    ("lines", "indent", "relative"),
    [
        pytest.param(["x", "    y"], "    ", ["x", "y"], id="same-indent"),
        pytest.param(["if a:", "        b"], "    ", ["if a:", "    b"], id="deeper"),
        pytest.param(["x", "", "    y"], "    ", ["x", "", "y"], id="blank-line-kept"),
        pytest.param(["x", "  ", "    y"], "    ", ["x", "", "y"], id="whitespace-line-emptied"),
        pytest.param(["x", "    y", "z"], "    ", ["x", "y"], id="cut-at-a-dedent"),
        pytest.param(["x", "    y", "", "def f():"], "    ", ["x", "y"], id="no-blank-tail"),
        pytest.param(["x", "\t\ty"], "\t", ["x", "\ty"], id="tabs"),
        pytest.param(["x", "y"], "", ["x", "y"], id="top-level"),
    ],
)
def test_later_lines_relative_to_the_cursor_line(
    lines: list[str], indent: str, relative: list[str]
) -> None:
    assert relative_lines(lines, indent) == relative


@pytest.mark.parametrize(
    ("line_prefix", "suggestion", "snippets", "entry"),
    [
        pytest.param("    return max(", "a, b)\n", True, MenuEntry("a, b)", None), id="one-line"),
        pytest.param("    ret", "urn a + b", True, MenuEntry("return a + b", None), id="word-kept"),
        pytest.param(
            "    ",
            BODY,
            True,
            MenuEntry('"""Return the sum."""\nreturn a + b', '"""Return the sum."""\nreturn a + b'),
            id="lines-as-a-snippet",
        ),
        pytest.param(
            "    ", BODY, False, MenuEntry('"""Return the sum."""', None), id="no-snippets"
        ),
        pytest.param(
            "    x = ",
            "f'${y}'\n    z = 1",
            True,
            MenuEntry("f'${y}'\nz = 1", "f'\\${y\\}'\nz = 1"),
            id="snippet-escaped",
        ),
        pytest.param(
            "    ",
            "return a\n\ndef g():\n    pass\n",
            True,
            MenuEntry("return a", None),
            id="dedent-leaves-one-line",
        ),
        pytest.param(
            "def f():",
            "\n    return 1",
            True,
            MenuEntry("\n    return 1", "\n    return 1"),
            id="starts-with-a-line-break",
        ),
        pytest.param("def f():", "\n    return 1", False, None, id="blank-first-line"),
        pytest.param("    ", "  \n", True, None, id="only-whitespace"),
    ],
)
def test_menu_entry(
    line_prefix: str, suggestion: str, snippets: bool, entry: MenuEntry | None
) -> None:
    assert menu_entry(line_prefix, suggestion, snippets=snippets) == entry
