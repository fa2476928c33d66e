"""syntax_problems: each syntax error on its own line, named (tree-sitter MISSING nodes,
ERROR nodes repaired with one token or their first offending token), across languages.

Repairs get a generous time budget here so that a loaded machine cannot change a result.
"""

from __future__ import annotations

import pytest

from codehearth.languages import LanguageRegistry
from codehearth.syntax import SyntaxProblem, syntax_problems

REGISTRY = LanguageRegistry.load()
PATIENT = 30.0

Row = tuple[int, int, int, int, str]

LOST_COLON = '''def total(items):
    """The sum."""
    return sum(items)


def cheapest(items: list[int]) -> int | None
    """The smallest item, or None for an empty list."""
    return min(items, default=None)


def dearest(items: list[int]) -> int | None:
    """The largest item."""
    return max(items, default=None)
'''


def problems(language_id: str, text: str, **options: float) -> list[Row]:
    found = syntax_problems(REGISTRY, language_id, text, probe_seconds=PATIENT, **options)
    return [(p.start_line, p.start_column, p.end_line, p.end_column, p.message) for p in found]


@pytest.mark.parametrize(
    ("language_id", "text", "expected"),
    [
        pytest.param(
            "python",
            "def cheapest(items)\n    return min(items)\n",
            [(0, 18, 0, 19, "expected ':'")],
            id="python-def-colon",
        ),
        pytest.param(
            "python", "class A\n    pass\n", [(0, 6, 0, 7, "expected ':'")], id="python-class-colon"
        ),
        pytest.param(
            "python", "if x\n    y = 1\n", [(0, 3, 0, 4, "expected ':'")], id="python-if-colon"
        ),
        pytest.param(
            "python",
            "for x in y\n    print(x)\n",
            [(0, 9, 0, 10, "expected ':'")],
            id="python-for-colon",
        ),
        pytest.param(
            "python",
            "import sys\n\n\ndef main(:\n    print(sys.argv)\n",
            [(3, 8, 3, 9, "expected ')'")],
            id="python-missing-node-paren",
        ),
        pytest.param(
            "python",
            "x = foo(1, 2\ny = 3\n",
            [(0, 11, 0, 12, "expected ')'")],
            id="python-paren-before-next-line",
        ),
        pytest.param(
            "python",
            "def f():\n    return [1, 2\n\ndef g():\n    pass\n",
            [(1, 15, 1, 16, "expected ']'")],
            id="python-bracket",
        ),
        pytest.param(
            "python",
            "d = {\n    'a': 1,\n    'b': 2\n    'c': 3,\n}\n",
            [(2, 9, 2, 10, "expected ','")],
            id="python-comma-in-dict",
        ),
        pytest.param(
            "python",
            "print('a' 'b' 1)\n",
            [(0, 10, 0, 13, "expected ','")],
            id="python-comma-after-string",
        ),
        pytest.param(
            "python", "x = = 3\n", [(0, 4, 0, 5, "unexpected '='")], id="python-unexpected"
        ),
        pytest.param(
            "python",
            "def f(x):\n    return x +\n",
            [(1, 4, 1, 14, "invalid syntax")],
            id="python-unfinished-expression",
        ),
        pytest.param(
            "python", "é = (1,\n", [(0, 6, 0, 7, "expected ')'")], id="python-code-point-columns"
        ),
        pytest.param(
            "javascript",
            "function f() {\n  foo(1, 2;\n}\n",
            [(1, 9, 1, 10, "expected ')'")],
            id="javascript-paren",
        ),
        pytest.param(
            "javascript",
            "function f() {\n  return 1;\n\nfunction g() {}\n",
            [(3, 14, 3, 15, "expected '}'")],
            id="javascript-brace",
        ),
        pytest.param(
            "javascript",
            "let x = [1, 2;\nfoo();\n",
            [(0, 12, 0, 13, "expected ']'")],
            id="javascript-bracket",
        ),
        pytest.param(
            "javascript",
            "function f() {\n  return 1\n}}\n",
            [(2, 1, 2, 2, "unexpected '}'")],
            id="javascript-stray-brace",
        ),
        pytest.param(
            "typescript",
            "function f(a: number {\n  return a;\n}\n",
            [(0, 14, 0, 20, "expected ')'")],
            id="typescript-paren",
        ),
        pytest.param(
            "go",
            "package main\n\nfunc main() {\n\tx := []int{1, 2\n\tfmt.Println(x)\n}\n",
            [(3, 15, 3, 16, "expected '}'")],
            id="go-brace-not-a-key",
        ),
        pytest.param(
            "rust",
            "fn main() {\n    let x = 1\n    let y = 2;\n}\n",
            [(1, 12, 1, 13, "expected ';'")],
            id="rust-semicolon",
        ),
        pytest.param(
            "java",
            "class A {\n  void f() {\n    int x = 1\n  }\n}\n",
            [(2, 12, 2, 13, "expected ';'")],
            id="java-semicolon",
        ),
        pytest.param(
            "c",
            "int main() {\n  if (x {\n  }\n}\n",
            [(1, 6, 1, 7, "expected ')'")],
            id="c-paren",
        ),
        pytest.param(
            "cpp",
            "int main() {\n  int x = 1\n  return x;\n}\n",
            [(1, 10, 1, 11, "expected ';'")],
            id="cpp-semicolon",
        ),
        pytest.param("python", "x = 1\n", [], id="valid"),
        pytest.param("plaintext", "((((", [], id="no-grammar"),
    ],
)
def test_each_problem_is_on_its_line_and_named(
    language_id: str, text: str, expected: list[Row]
) -> None:
    assert problems(language_id, text) == expected


def test_a_lost_colon_is_one_problem_not_errors_on_the_lines_after_it() -> None:
    assert problems("python", LOST_COLON) == [(5, 40, 5, 44, "expected ':'")]


def test_problems_after_a_repaired_one_are_still_found() -> None:
    text = "def f(:\n    pass\n\n\nx = [1, 2\ny = 3\n"
    assert problems("python", text) == [
        (0, 5, 0, 6, "expected ')'"),
        (4, 8, 4, 9, "expected ']'"),
    ]


def test_a_problem_after_one_without_a_repair_is_still_repaired() -> None:
    text = "def f(name):\n    return 1 + (1 +\n\nx = [1, 2\n"
    assert problems("python", text) == [
        (1, 4, 1, 19, "invalid syntax"),
        (3, 8, 3, 9, "expected ']'"),
    ]


def test_an_error_node_from_the_top_of_the_file_is_reported_where_it_went_wrong() -> None:
    """A mismatched bracket makes the whole file one ERROR node (from line 0)."""
    functions = "".join(f"def f{index}(x):\n    return x + {index}\n\n\n" for index in range(800))
    text = functions + "def g(x, y=1]:\n    return x\n\n\ndef h(x):\n    return x\n"
    assert problems("python", text) == [(3200, 12, 3200, 13, "unexpected ']'")]


def test_one_problem_per_line() -> None:
    assert problems("python", "f(a b c)\n") == [(0, 2, 0, 3, "expected ','")]


def test_without_time_for_repairs_the_first_offending_token_is_reported() -> None:
    found = syntax_problems(REGISTRY, "python", "if x\n    y = 1\n", probe_seconds=0)
    assert found == [SyntaxProblem(1, 4, 1, 5, "unexpected 'y'")]


def test_at_most_limit_problems() -> None:
    text = "".join(f"def f{index}(:\n    pass\n\n\n" for index in range(5))
    assert [row[0] for row in problems("python", text, limit=2)] == [0, 4]
    assert len(problems("python", text)) == 5


def test_a_parse_past_its_deadline_reports_nothing() -> None:
    text = "def f(:\n    pass\n" * 2000
    assert syntax_problems(REGISTRY, "python", text, parse_micros=1) == []
