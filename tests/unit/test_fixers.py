"""Fixes that need no model: one-token syntax repairs found with tree-sitter, one-line
repairs of typing slips, and ruff's own fixes; each a draft for the region, which the
refine loop verifies before any model."""

from __future__ import annotations

import pytest

from codehearth.languages import LanguageRegistry
from codehearth.refine.edits import TextRange
from codehearth.refine.fixers import line_repairs, ruff_fixes, syntax_repairs
from codehearth.refine.verify import find_ruff

REGISTRY = LanguageRegistry.load()


def line_region(text: str, line: int) -> TextRange:
    return TextRange(line, 0, line, len(text.split("\n")[line]))


@pytest.mark.parametrize(
    ("language", "text", "line", "first"),
    [
        pytest.param(
            "python",
            "def cheapest(items: list[int]) -> int | None\n    return min(items)\n",
            0,
            "def cheapest(items: list[int]) -> int | None:",
            id="python-deleted-colon",
        ),
        pytest.param(
            "python",
            "if ready\n    go()\n",
            0,
            "if ready:",
            id="python-if-without-colon",
        ),
        pytest.param(
            "python",
            "total = sum(prices\nprint(total)\n",
            0,
            "total = sum(prices)",
            id="python-unclosed-call",
        ),
        pytest.param(
            "javascript",
            "const xs = [1, 2;\n",
            0,
            "const xs = [1, 2];",
            id="javascript-missing-bracket",
        ),
    ],
)
def test_a_one_token_repair_is_found(language: str, text: str, line: int, first: str) -> None:
    repairs = syntax_repairs(REGISTRY, language, text, line_region(text, line))
    assert repairs and repairs[0] == first, repairs


def test_a_region_that_parses_gets_no_repair() -> None:
    text = "def f(a):\n    return a\n"
    assert syntax_repairs(REGISTRY, "python", text, line_region(text, 0)) == []


def whole(text: str) -> TextRange:
    lines = text.split("\n")
    return TextRange(0, 0, len(lines) - 1, len(lines[-1]))


@pytest.mark.parametrize(
    ("language", "text", "diagnostic_line", "first"),
    [
        pytest.param(
            "python",
            "def f(x):\n    y = x + 1\n      return y\n",
            2,
            "def f(x):\n    y = x + 1\n    return y\n",
            id="python-over-indented",
        ),
        pytest.param(
            "python",
            "for i in range(3):\nprint(i)\n",
            1,
            "for i in range(3):\n    print(i)\n",
            id="python-body-not-indented",
        ),
        pytest.param(
            "python",
            "def f():\n\ta = 1\n  return a\n",
            2,
            "def f():\n\ta = 1\n\treturn a\n",
            id="python-dedent-to-a-tab-level",
        ),
        pytest.param(
            "python",
            "result = max(1, 2))\nprint(result)\n",
            0,
            "result = max(1, 2)\nprint(result)\n",
            id="python-stray-closing-bracket",
        ),
        pytest.param(
            "python",
            'name = "world\nprint(name)\n',
            0,
            'name = "world"\nprint(name)\n',
            id="python-open-string",
        ),
        pytest.param(
            "python",
            "print('hello)\n",
            0,
            "print('hello')\n",
            id="python-open-string-inside-a-call",
        ),
        pytest.param(
            "javascript",
            "function f() {\n  return g(1));\n}\n",
            1,
            "function f() {\n  return g(1);\n}\n",
            id="javascript-stray-closing-bracket",
        ),
    ],
)
def test_a_one_line_repair_is_found(
    language: str, text: str, diagnostic_line: int, first: str
) -> None:
    repairs = line_repairs(REGISTRY, language, text, whole(text), diagnostic_line)
    assert repairs and repairs[0] == first, repairs


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("def f(a):\n    x = 1\n    return a\n", id="parses-no-repair"),
        pytest.param("def f(a:\n    return a\n  )))\n", id="no-one-line-change-parses"),
    ],
)
def test_no_line_repair_where_none_is_needed_or_none_works(text: str) -> None:
    assert line_repairs(REGISTRY, "python", text, whole(text), 1) == []


needs_ruff = pytest.mark.skipif(find_ruff() is None, reason="ruff is not installed")


@needs_ruff
def test_ruff_removes_an_unused_import_within_the_region() -> None:
    text = "import os\nimport sys\n\nprint(sys.argv)\n"
    ruff = find_ruff()
    assert ruff is not None
    assert ruff_fixes(ruff, text, line_region(text, 0), "F401") == [""]  # the line goes


@needs_ruff
def test_a_ruff_fix_reaching_outside_the_region_is_not_a_draft() -> None:
    text = "import os\nimport sys\n\nprint(sys.argv)\n"
    ruff = find_ruff()
    assert ruff is not None
    # F401 on line 0, but the region is line 3: the fix would change line 0
    assert ruff_fixes(ruff, text, line_region(text, 3), "F401") == []
