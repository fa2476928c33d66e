"""syntax_problems: tree-sitter ERROR and MISSING nodes as (range, message)."""

from __future__ import annotations

import pytest

from codehearth.features.diagnostics import syntax_problems
from codehearth.languages import LanguageRegistry

REGISTRY = LanguageRegistry.load()


@pytest.mark.parametrize(
    ("language_id", "text", "expected"),
    [
        pytest.param("python", "x = 1\n", [], id="valid"),
        pytest.param(
            "python",
            "def f(:\n    pass\n",
            [(0, 6, 0, 6, "syntax error: missing )")],
            id="missing-paren",
        ),
        pytest.param("python", "é = (1,\n", [(0, 0, 0, 7, "syntax error")], id="unicode-columns"),
        pytest.param("go", "package main\nfunc f( {\n}\n", None, id="go-error"),
        pytest.param("plaintext", "((((", [], id="no-grammar"),
    ],
)
def test_syntax_problems(
    language_id: str, text: str, expected: list[tuple[int, int, int, int, str]] | None
) -> None:
    problems = syntax_problems(REGISTRY, language_id, text)
    if expected is None:
        assert problems and all(p[4].startswith("syntax error") for p in problems)
    else:
        assert problems == expected
