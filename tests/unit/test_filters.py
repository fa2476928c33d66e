"""Output filters: each filter alone (table-driven), the chain, and golden cases.

A golden case is a directory under ``tests/golden/filters`` with ``input.<ext>`` (source
with a ``<|CURSOR|>`` marker), ``raw.txt`` (the model's raw output) and ``expected.txt``
(what the full chain leaves); an empty file ``truncated`` marks a generation that stopped
at its token limit. The completion shape (single- or multi-line) comes from cursor
analysis, as in the engine; the indent unit is guessed from the input, and the
tree-sitter steps parse with the real grammars.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from tests.golden.golden import check_golden

from codehearth.completion.cursor import analyse_cursor
from codehearth.completion.filters import (
    DEFAULT_CHAIN,
    FilterContext,
    apply_filters,
    drop_blank,
    drop_cut_off_line,
    fix_indentation,
    limit_to_single_line,
    reject_syntax_errors,
    repetition_guard,
    stop_at_block_end,
    stop_at_next_line_duplicate,
    stop_at_suffix_overlap,
    strip_code_fences,
    trim_trailing_whitespace,
)
from codehearth.languages import LanguageRegistry

CURSOR = "<|CURSOR|>"
GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden" / "filters"


REGISTRY = LanguageRegistry.load()


def make_ctx(
    source: str,
    *,
    multiline: bool = True,
    language_id: str = "python",
    indent_unit: str = "    ",
    registry: LanguageRegistry | None = None,
    truncated: bool = False,
) -> FilterContext:
    prefix, suffix = source.split(CURSOR)
    return FilterContext(
        prefix=prefix,
        suffix=suffix,
        multiline=multiline,
        language_id=language_id,
        indent_unit=indent_unit,
        registry=registry,
        truncated=truncated,
    )


# -- the context ------------------------------------------------------------------------


def test_context_views_of_the_document() -> None:
    ctx = make_ctx("a = 1\r\n\r\n    b = [" + CURSOR + "]\r\n\r\n    c\r\nd")
    assert ctx.line_prefix == "    b = ["
    assert ctx.line_suffix == "]"
    assert list(ctx.lines_below()) == ["", "    c", "d"]
    assert ctx.previous_code_line() == "a = 1"


def test_context_at_the_edges_of_the_document() -> None:
    ctx = make_ctx(CURSOR)
    assert (ctx.line_prefix, ctx.line_suffix) == ("", "")
    assert list(ctx.lines_below()) == []
    assert ctx.previous_code_line() is None
    assert list(make_ctx("x" + CURSOR + "\n").lines_below()) == [""]


# -- each filter alone ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "truncated", "expected"),
    [
        pytest.param("x = 1\ny = foo(a,", True, "x = 1\n", id="cut-off-line-dropped"),
        pytest.param("x = 1\ny = 2\n", True, "x = 1\ny = 2\n", id="ended-at-a-line-break"),
        pytest.param("return foo(a, b", True, "", id="only-line-cut-off"),
        pytest.param("x = 1\ny = foo(a,", False, "x = 1\ny = foo(a,", id="not-truncated"),
    ],
)
def test_drop_cut_off_line(raw: str, truncated: bool, expected: str) -> None:
    assert drop_cut_off_line(raw, make_ctx("def f():\n    " + CURSOR, truncated=truncated)) == (
        expected
    )


@pytest.mark.parametrize(
    ("raw", "language_id", "expected"),
    [
        pytest.param("```python\nx = 1\n```", "python", "x = 1", id="wrapped"),
        pytest.param("\n```\nx = 1\ny = 2\n```\nDone!", "python", "x = 1\ny = 2", id="no-lang-tag"),
        pytest.param("~~~js\nfoo();\n~~~", "javascript", "foo();", id="tildes"),
        pytest.param("x = 1\n```\nThat sets x.", "python", "x = 1", id="chatter-after"),
        pytest.param("```python\nx = 1", "python", "x = 1", id="unclosed"),
        pytest.param("x = 1\ny = 2", "python", "x = 1\ny = 2", id="no-fence"),
        pytest.param("```py\nx\n```", "markdown", "```py\nx\n```", id="markdown-kept"),
    ],
)
def test_strip_code_fences(raw: str, language_id: str, expected: str) -> None:
    ctx = make_ctx(f"{CURSOR}\n", language_id=language_id)
    assert strip_code_fences(raw, ctx) == expected


@pytest.mark.parametrize(
    ("source", "raw", "indent_unit", "expected"),
    [
        pytest.param(
            "def f():\n    " + CURSOR, "    return 1", "    ", "return 1", id="repeated-indent"
        ),
        pytest.param(
            "def f():\n    " + CURSOR,
            "    if x:\n        y()",
            "    ",
            "if x:\n        y()",
            id="repeated-indent-absolute-body",
        ),
        pytest.param(
            "def f():\n    " + CURSOR,
            "if x:\n    y()\nelse:\n    z()",
            "    ",
            "if x:\n        y()\n    else:\n        z()",
            id="relative-body-after-blank-head",
        ),
        pytest.param(
            "class A:\n    def f(self):" + CURSOR,
            "\n    return 1",
            "    ",
            "\n        return 1",
            id="relative-body-after-opener",
        ),
        pytest.param(
            "class A:\n    def f(self):" + CURSOR,
            "\n        return 1",
            "    ",
            "\n        return 1",
            id="absolute-body-kept",
        ),
        pytest.param(
            "def f():\n" + CURSOR, "        return 1", "    ", "    return 1", id="col0-dedent"
        ),
        pytest.param(
            "def f():\n" + CURSOR, "return 1\n", "    ", "    return 1\n", id="col0-indent-body"
        ),
        pytest.param(
            "def f():\n    x = 1\n" + CURSOR,
            "return x",
            "    ",
            "return x",
            id="col0-dedent-is-legit",
        ),
        pytest.param(
            "x = foo(a,\n" + CURSOR,
            "        b)",
            "    ",
            "        b)",
            id="col0-continuation-kept",
        ),
        pytest.param(
            "func f() {\n\t" + CURSOR,
            "x := 1\n    y := 2",
            "\t",
            "x := 1\n\ty := 2",
            id="spaces-to-tabs",
        ),
        pytest.param(
            "def f():\n  " + CURSOR, "x = 1\n\ty = 2", "  ", "x = 1\n  y = 2", id="tabs-to-spaces"
        ),
        pytest.param("x = foo(" + CURSOR, " 1, 2", "    ", " 1, 2", id="inline-spacing-kept"),
    ],
)
def test_fix_indentation(source: str, raw: str, indent_unit: str, expected: str) -> None:
    assert fix_indentation(raw, make_ctx(source, indent_unit=indent_unit)) == expected


@pytest.mark.parametrize(
    ("source", "raw", "multiline", "expected"),
    [
        pytest.param("x = " + CURSOR, "1\ny = 2", False, "1", id="first-line"),
        pytest.param("x = 1" + CURSOR, "\n\ny = 2\nz = 3", False, "\ny = 2", id="new-line-at-end"),
        pytest.param("foo(" + CURSOR + ")", "\na, b", False, "", id="blank-first-before-closer"),
        pytest.param("    " + CURSOR, "\nx = 1", False, "", id="blank-first-on-blank-line"),
        pytest.param("x = 1" + CURSOR, "\n\n", False, "", id="nothing-after-blank"),
        pytest.param("x = " + CURSOR, "1\ny = 2", True, "1\ny = 2", id="multiline-untouched"),
    ],
)
def test_limit_to_single_line(source: str, raw: str, multiline: bool, expected: str) -> None:
    assert limit_to_single_line(raw, make_ctx(source, multiline=multiline)) == expected


@pytest.mark.parametrize(
    ("source", "raw", "expected"),
    [
        pytest.param(CURSOR, "a()\na()\na()\na()", "a()", id="same-line"),
        pytest.param(CURSOR, "a()\na()\nb()", "a()\na()\nb()", id="twice-is-fine"),
        pytest.param(CURSOR, "x = 1\nf()\ng()\nf()\ng()\nf()\ng()", "x = 1\nf()\ng()", id="block"),
        pytest.param(CURSOR, "f()\n\nf()\n\nf()\n", "f()\n", id="block-with-blank-lines"),
        pytest.param(CURSOR, "x = 1\n\n\n\ny = 2", "x = 1\n\n\n\ny = 2", id="blank-lines-kept"),
        pytest.param("    " + CURSOR, "a()\n    a()\n    a()", "a()", id="first-line-with-prefix"),
        pytest.param(CURSOR, "f(" + ")" * 20, "f()", id="token-run"),
        pytest.param(CURSOR, "x = " + "foo " * 20, "x = foo ", id="word-run"),
        pytest.param(CURSOR, "mask = 0x" + "F" * 16, "mask = 0x" + "F" * 16, id="hex-kept"),
        pytest.param(CURSOR, "# " + "-" * 40, "# " + "-" * 40, id="decorative-rule-kept"),
        pytest.param(CURSOR, "[0, 0, 0, 0, 0, 0]", "[0, 0, 0, 0, 0, 0]", id="short-run-kept"),
    ],
)
def test_repetition_guard(source: str, raw: str, expected: str) -> None:
    assert repetition_guard(raw, make_ctx(source)) == expected


@pytest.mark.parametrize(
    ("source", "raw", "expected"),
    [
        pytest.param(
            "def f():\n    x = 1\n    " + CURSOR + "\n    return x\n",
            "y = 2\n    return x",
            "y = 2",
            id="cut-before-duplicate",
        ),
        pytest.param(
            "def f():\n    " + CURSOR + "\n    return x\n",
            "return x",
            "",
            id="first-line-duplicate",
        ),
        pytest.param(
            "def f(x):\n    " + CURSOR + "\n    return None\n",
            "if x:\n        return None\n    y = 1",
            "if x:\n        return None\n    y = 1",
            id="deeper-copy-kept",
        ),
        pytest.param(
            "if x {\n    " + CURSOR + "\n}\n",
            "y()\n}",
            "y()\n}",
            id="closer-lines-left-alone",
        ),
        pytest.param("x = 1" + CURSOR, "\ny = 2", "\ny = 2", id="no-next-line"),
    ],
)
def test_stop_at_next_line_duplicate(source: str, raw: str, expected: str) -> None:
    assert stop_at_next_line_duplicate(raw, make_ctx(source)) == expected


@pytest.mark.parametrize(
    ("source", "raw", "expected"),
    [
        pytest.param("print(" + CURSOR + ")", "x)", "x", id="closing-paren"),
        pytest.param("print(" + CURSOR + ")", "bar()", "bar()", id="balanced-kept"),
        pytest.param("f(" + CURSOR + ");", "a, b);", "a, b", id="paren-semicolon"),
        pytest.param("f(" + CURSOR + "))", "g(1))", "g(1)", id="partial-overlap"),
        pytest.param('x = "' + CURSOR + '"', 'hello"', "hello", id="closing-quote"),
        pytest.param('x = "' + CURSOR + '"', '"hi"', '"hi"', id="balanced-quotes-kept"),
        pytest.param("let v: Vec<" + CURSOR + ">", "u8>", "u8", id="angle-bracket"),
        pytest.param("f(" + CURSOR + ")", "x => x > 1)", "x => x > 1", id="arrow-not-bracket"),
        pytest.param("f(" + CURSOR + ") + 1", "a) + 1", "a", id="whole-rest-repeated"),
        pytest.param("f(" + CURSOR + ") + 1", "a + 1", "a + 1", id="partial-text-kept"),
        pytest.param(
            "function f() {" + CURSOR + "}\n",
            "\n  return 1;\n}\nfunction g() {}",
            "\n  return 1;",
            id="closer-line",
        ),
        pytest.param(
            "foo(" + CURSOR + ")\n",
            "\n    bar(\n        1,\n    )\n)",
            "\n    bar(\n        1,\n    )",
            id="nested-closer-kept",
        ),
        pytest.param(
            "def f():\n    " + CURSOR + "\n\n    run()\n",
            "a()\n    run()\n    b()",
            "a()",
            id="first-nonempty-suffix-line",
        ),
        pytest.param(
            "def f():\n    " + CURSOR + "\n\n    run()\n",
            "run()",
            "",
            id="first-line-is-suffix-line",
        ),
        pytest.param(
            "def f():\n    " + CURSOR + "\n\n    run()\n",
            "a()\n        run()",
            "a()\n        run()",
            id="indentation-must-match",
        ),
    ],
)
def test_stop_at_suffix_overlap(source: str, raw: str, expected: str) -> None:
    assert stop_at_suffix_overlap(raw, make_ctx(source)) == expected


FUNCTION_BODY = "def f(items):\n    " + CURSOR + "\n\n\ndef g():\n    pass\n"


@pytest.mark.parametrize(
    ("language_id", "source", "raw", "expected"),
    [
        pytest.param(
            "python",
            FUNCTION_BODY,
            "total = 0\n    return total\n\n\ndef h():\n    pass",
            "total = 0\n    return total",
            id="python-new-def-after-the-body",
        ),
        pytest.param(
            "python",
            FUNCTION_BODY,
            "return max(items)\n\n\nprint(f([1]))",
            "return max(items)",
            id="python-top-level-statement-after-the-body",
        ),
        pytest.param(
            "python",
            "def f(items):\n    if not items:\n        " + CURSOR + "\n",
            "return None\n    return min(items)",
            "return None",
            id="python-dedented-statement-after-a-nested-block",
        ),
        pytest.param(
            "python",
            FUNCTION_BODY,
            "if items:\n        x = 1\n    return x",
            "if items:\n        x = 1\n    return x",
            id="python-deeper-block-in-the-body-kept",
        ),
        pytest.param(
            "python",
            "def f(items):\n    return max(" + CURSOR + "\n",
            "items, key=len)\n\n\ndef g():\n    pass",
            "items, key=len)",
            id="python-statement-finished-on-the-cursor-line",
        ),
        pytest.param(
            "python",
            "import os\n\n" + CURSOR,
            "import sys\n\n\ndef main():\n    pass\n\n\ndef other():\n    pass",
            "import sys\n\n\ndef main():\n    pass",
            id="python-top-level-first-definition",
        ),
        pytest.param(
            "javascript",
            "function f() {\n  " + CURSOR + "\n}\n",
            "return 1;\n}\n\nfunction g() {\n  return 2;",
            "return 1;\n",
            id="javascript-the-documents-brace-closes-it",
        ),
        pytest.param(
            "javascript",
            "function f() {\n  " + CURSOR,
            "return 1;\n}\n\nfunction g() {\n  return 2;",
            "return 1;\n}",
            id="javascript-its-own-brace-closes-it",
        ),
        pytest.param(
            "go",
            "package main\n\nfunc f() int {\n\t" + CURSOR + "\n}\n",
            "x := 1\n\treturn x\n}\n\nfunc g() {\n",
            "x := 1\n\treturn x\n",
            id="go",
        ),
        pytest.param(
            "rust",
            "fn f() -> i32 {\n    " + CURSOR + "\n}\n",
            "let x = 1;\n    x + 1\n}\n\nfn g() {}",
            "let x = 1;\n    x + 1\n",
            id="rust",
        ),
        pytest.param(
            "python", FUNCTION_BODY, "return max(items)", "return max(items)", id="single-line"
        ),
    ],
)
def test_stop_at_block_end(language_id: str, source: str, raw: str, expected: str) -> None:
    ctx = make_ctx(source, language_id=language_id, registry=REGISTRY)
    assert stop_at_block_end(raw, ctx) == expected


@pytest.mark.parametrize(
    ("source", "raw", "expected"),
    [
        pytest.param(
            "def f(items):\n    " + CURSOR,
            "x = 1\n    return x\n\ndef g():\n    pass",
            "x = 1\n    return x\n\n",
            id="dedent-ends-the-block",
        ),
        pytest.param(
            "def f(items):" + CURSOR,
            "\n    return items\ndef g():",
            "\n    return items\n",
            id="body-of-the-cursor-line",
        ),
        pytest.param(
            "function f() {\n  " + CURSOR,
            "return 1;\n}\nfunction g() {}",
            "return 1;\n}",
            id="closing-line-belongs-to-it",
        ),
        pytest.param(
            CURSOR,
            "import os\n\ndef main():\n    pass",
            "import os\n\ndef main():\n    pass",
            id="top-level-has-no-lower-level",
        ),
    ],
)
def test_stop_at_block_end_by_indentation_without_a_tree(
    source: str, raw: str, expected: str
) -> None:
    assert stop_at_block_end(raw, make_ctx(source)) == expected


@pytest.mark.parametrize(
    ("source", "raw", "truncated", "expected"),
    [
        pytest.param(FUNCTION_BODY, "return max(items)", False, "return max(items)", id="parses"),
        pytest.param(FUNCTION_BODY, "return max(items", False, "", id="unclosed-call"),
        pytest.param(FUNCTION_BODY, '"""The sum of', False, "", id="unterminated-docstring"),
        pytest.param(
            "def f(items):\n    return max(" + CURSOR + "\n",
            "items)",
            False,
            "items)",
            id="resolves-the-line-as-typed",
        ),
        pytest.param(
            "def f(items):\n    return max(" + CURSOR + "\n",
            "items,",
            False,
            "items,",
            id="leaves-the-line-as-typed-broken",
        ),
        pytest.param(
            "def f(items):\n    " + CURSOR + "\n\n\ndef g(x)\n    return x\n",
            "return len(items)",
            False,
            "return len(items)",
            id="an-error-elsewhere-stays",
        ),
        pytest.param(
            FUNCTION_BODY,
            "total = 0\n    values = [\n        1,",
            True,
            "total = 0",
            id="truncated-open-construct-dropped",
        ),
        pytest.param(
            FUNCTION_BODY,
            "total = 0\n    values = [\n        1,",
            False,
            "",
            id="not-truncated-nothing",
        ),
        pytest.param(
            FUNCTION_BODY, "values = [\n        1,", True, "", id="truncated-nothing-complete"
        ),
    ],
)
def test_reject_syntax_errors(source: str, raw: str, truncated: bool, expected: str) -> None:
    ctx = make_ctx(source, registry=REGISTRY, truncated=truncated)
    assert reject_syntax_errors(raw, ctx) == expected


def test_without_a_registry_nothing_is_parsed() -> None:
    assert reject_syntax_errors("return max(items", make_ctx(FUNCTION_BODY)) == "return max(items"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("x = 1  \ny = 2\t", "x = 1\ny = 2", id="line-ends"),
        pytest.param("x = 1\n\n  \n", "x = 1", id="trailing-blank-lines"),
        pytest.param("\n    y = 2", "\n    y = 2", id="leading-break-kept"),
    ],
)
def test_trim_trailing_whitespace(raw: str, expected: str) -> None:
    assert trim_trailing_whitespace(raw, make_ctx(CURSOR)) == expected


@pytest.mark.parametrize(
    ("source", "raw", "expected"),
    [
        pytest.param("f() {" + CURSOR + "}", "\n  x;  \n", "\n  x;\n", id="column-0"),
        pytest.param("  if (a) {" + CURSOR + "}", "\n    x;", "\n    x;\n  ", id="indented"),
        pytest.param("f(" + CURSOR + ")", "x  ", "x", id="single-line"),
    ],
)
def test_trim_trailing_whitespace_before_text_on_the_line(
    source: str, raw: str, expected: str
) -> None:
    assert trim_trailing_whitespace(raw, make_ctx(source)) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("", "", id="empty"),
        pytest.param(" \n\t\n", "", id="whitespace"),
        pytest.param("\n x", "\n x", id="text"),
    ],
)
def test_drop_blank(raw: str, expected: str) -> None:
    assert drop_blank(raw, make_ctx(CURSOR)) == expected


# -- the chain --------------------------------------------------------------------------


def test_default_chain_order() -> None:
    assert DEFAULT_CHAIN == (
        drop_cut_off_line,
        strip_code_fences,
        fix_indentation,
        limit_to_single_line,
        repetition_guard,
        stop_at_next_line_duplicate,
        stop_at_suffix_overlap,
        stop_at_block_end,
        trim_trailing_whitespace,
        drop_blank,
        reject_syntax_errors,
    )


def test_apply_filters_normalises_line_breaks() -> None:
    ctx = make_ctx("def f():\n    " + CURSOR)
    assert apply_filters("x = 1\r\n    return x\r\n", ctx) == "x = 1\n    return x"


def test_apply_filters_returns_empty_when_nothing_useful_remains() -> None:
    ctx = make_ctx("def f():\n    " + CURSOR + "\n    return x\n")
    assert apply_filters("```\n```", ctx) == ""
    assert apply_filters("return x\n", ctx) == ""


@pytest.mark.parametrize(
    ("source", "raw", "step", "shape"),
    [
        pytest.param(
            "def f(c):\n    e" + CURSOR + "\n    return c\n",
            " = subprocess.Popen(\n",
            "reject_syntax_errors",
            "raw: 21 chars, 0 leading line breaks, 2 lines",
            id="syntax-error",
        ),
        pytest.param(
            "x = foo(" + CURSOR + ")\n",
            "\n    a,\n",
            "limit_to_single_line",
            "raw: 8 chars, 1 leading line breaks, 3 lines",
            id="blank-first-line-mid-line",
        ),
        pytest.param(
            "x = " + CURSOR + "\n", "", "drop_cut_off_line", "raw: 0 chars", id="nothing-generated"
        ),
    ],
)
def test_the_debug_log_names_the_filter_that_emptied_a_suggestion(
    caplog: pytest.LogCaptureFixture, source: str, raw: str, step: str, shape: str
) -> None:
    ctx = make_ctx(source, multiline=False, registry=REGISTRY)
    with caplog.at_level(logging.DEBUG, logger="codehearth.completion.filters"):
        assert apply_filters(raw, ctx) == ""
    (message,) = caplog.messages
    assert message.startswith(f"suggestion emptied by {step} ({shape}")
    assert "Popen" not in message  # the code itself never reaches the log


def test_apply_filters_with_a_custom_chain() -> None:
    ctx = make_ctx("x = " + CURSOR, multiline=False)
    assert apply_filters("1  \n2", ctx, chain=[trim_trailing_whitespace]) == "1\n2"


# -- golden cases -----------------------------------------------------------------------


def _golden_cases() -> list[Path]:
    return sorted(path for path in GOLDEN_DIR.iterdir() if path.is_dir())


def _indent_unit(text: str) -> str:
    lines = text.split("\n")
    if any(line.startswith("\t") for line in lines):
        return "\t"
    widths = [len(line) - len(line.lstrip(" ")) for line in lines if line.startswith(" ")]
    return " " * min(widths) if widths else "    "


def test_enough_golden_cases() -> None:
    assert len(_golden_cases()) >= 12


@pytest.mark.parametrize("case", _golden_cases(), ids=lambda path: path.name)
def test_golden_filter_case(case: Path) -> None:
    (source_path,) = case.glob("input.*")
    source = source_path.read_text(encoding="utf-8")
    raw = (case / "raw.txt").read_text(encoding="utf-8")
    spec = REGISTRY.by_path(source_path)
    assert spec is not None, f"no language for {source_path.name}"

    prefix, suffix = source.split(CURSOR)
    text = prefix + suffix
    line = prefix.count("\n")
    column = len(prefix) - (prefix.rfind("\n") + 1)
    decision = analyse_cursor(REGISTRY, spec.language_id, text, line, column)
    assert decision.should_request, decision.reason

    ctx = FilterContext(
        prefix=prefix,
        suffix=suffix,
        multiline=decision.multiline,
        language_id=spec.language_id,
        indent_unit=_indent_unit(text),
        registry=REGISTRY,
        truncated=(case / "truncated").exists(),
    )
    check_golden(case / "expected.txt", apply_filters(raw, ctx))
