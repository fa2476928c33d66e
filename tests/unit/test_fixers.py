"""Fixes that need no model: one-token syntax repairs found with tree-sitter, and ruff's
own fixes; each a draft for the region, which the refine loop verifies before any model."""

from __future__ import annotations

import pytest

from codehearth.languages import LanguageRegistry
from codehearth.refine.edits import TextRange
from codehearth.refine.fixers import ruff_fixes, syntax_repairs
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
