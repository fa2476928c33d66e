"""Cursor analysis: whether to request a completion, and single- or multi-line."""

from __future__ import annotations

from typing import Any

import pytest
import tree_sitter

from codehearth.completion import cursor
from codehearth.completion.cursor import CursorDecision, analyse_cursor
from codehearth.languages import LanguageRegistry, LanguageSpec, parse_with_deadline

CURSOR = "<|CURSOR|>"
SKIP, SINGLE, MULTI = "skip", "single", "multi"


@pytest.fixture(scope="module")
def registry() -> LanguageRegistry:
    return LanguageRegistry.load()


def analyse(registry: LanguageRegistry, language_id: str, source: str) -> CursorDecision:
    prefix, suffix = source.split(CURSOR)
    line = prefix.count("\n")
    column = len(prefix) - (prefix.rfind("\n") + 1)
    return analyse_cursor(registry, language_id, prefix + suffix, line, column)


def shape(decision: CursorDecision) -> str:
    if not decision.should_request:
        return SKIP
    return MULTI if decision.multiline else SINGLE


CASES = [
    # -- python
    pytest.param("python", "pri<|CURSOR|>nt(x)\n", SKIP, "mid-identifier", id="py-mid-identifier"),
    pytest.param("python", "print(<|CURSOR|>)\n", SINGLE, "before-closers", id="py-auto-closed"),
    pytest.param("python", "foo(<|CURSOR|>x)\n", SKIP, "text-after-cursor", id="py-before-arg"),
    pytest.param("python", "<|CURSOR|>x = 1\n", SKIP, "text-after-cursor", id="py-line-start"),
    pytest.param("python", "x = foo<|CURSOR|>\n", SINGLE, "end-of-line", id="py-end-of-line"),
    pytest.param("python", "x = a.<|CURSOR|>\n", SINGLE, "end-of-line", id="py-after-dot"),
    pytest.param("python", "def f():\n    <|CURSOR|>\n", MULTI, "after-opener", id="py-body-start"),
    pytest.param("python", "def f():<|CURSOR|>\n", MULTI, "after-opener", id="py-after-colon"),
    pytest.param(
        "python", "def f():  # todo<|CURSOR|>\n", SINGLE, "in-comment", id="py-comment-after-colon"
    ),
    pytest.param(
        "python",
        "if ok:  # note\n    <|CURSOR|>\n",
        MULTI,
        "after-opener",
        id="py-opener-before-comment",
    ),
    pytest.param(
        "python", "d = {'a':<|CURSOR|>\n", SINGLE, "end-of-line", id="py-dict-colon-not-block"
    ),
    pytest.param("python", "x = y[1:<|CURSOR|>]\n", SINGLE, "before-closers", id="py-slice"),
    pytest.param("python", "result = (<|CURSOR|>\n", MULTI, "after-opener", id="py-open-paren"),
    pytest.param(
        "python",
        "def f():\n    x = 1\n\n    <|CURSOR|>\n    y = 2\n",
        MULTI,
        "statement-line",
        id="py-blank-line-in-block",
    ),
    pytest.param(
        "python",
        "class A:\n    def f(self):\n        return 1\n\n    <|CURSOR|>\n",
        MULTI,
        "statement-line",
        id="py-blank-line-in-class",
    ),
    pytest.param(
        "python",
        "foo(\n    a,\n    <|CURSOR|>\n)\n",
        SINGLE,
        "expression-line",
        id="py-blank-line-in-call",
    ),
    pytest.param(
        "python",
        "x = {\n    'a': 1,\n    <|CURSOR|>\n}\n",
        SINGLE,
        "expression-line",
        id="py-blank-line-in-dict",
    ),
    pytest.param("python", "<|CURSOR|>", MULTI, "statement-line", id="py-empty-file"),
    pytest.param("python", 'x = "abc<|CURSOR|>"\n', SINGLE, "in-string", id="py-string-end"),
    pytest.param("python", 'print("abc<|CURSOR|>")\n', SINGLE, "in-string", id="py-string-in-call"),
    pytest.param(
        "python",
        'x = "abc <|CURSOR|>def"\n',
        SKIP,
        "text-after-cursor-in-string",
        id="py-string-text-after",
    ),
    pytest.param(
        "python", 'x = "abc<|CURSOR|>" + y\n', SKIP, "text-after-cursor", id="py-string-then-code"
    ),
    pytest.param(
        "python",
        'def f():\n    """Doc.\n\n    <|CURSOR|>\n    """\n',
        SINGLE,
        "in-string",
        id="py-docstring-line",
    ),
    pytest.param(
        "python", 'x = f"{na<|CURSOR|>}"\n', SINGLE, "before-closers", id="py-fstring-code"
    ),
    pytest.param("python", "x = 1  # why<|CURSOR|>\n", SINGLE, "in-comment", id="py-comment-end"),
    pytest.param(
        "python",
        "x = 1  # why <|CURSOR|>not\n",
        SKIP,
        "text-after-cursor-in-comment",
        id="py-comment-text-after",
    ),
    pytest.param(
        "python", "foo(<|CURSOR|>)  # note\n", SINGLE, "before-closers", id="py-trailing-comment"
    ),
    pytest.param(
        "python", 'foo(<|CURSOR|>"#x")\n', SKIP, "text-after-cursor", id="py-hash-in-string"
    ),
    # -- javascript / jsx
    pytest.param(
        "javascript", "foo(a, <|CURSOR|>);\n", SINGLE, "before-closers", id="js-second-arg"
    ),
    pytest.param(
        "javascript",
        "function f() {<|CURSOR|>}\n",
        MULTI,
        "empty-braces",
        id="js-empty-braces",
    ),
    pytest.param(
        "javascript",
        "function f() {\n<|CURSOR|>}\n",
        MULTI,
        "empty-braces",
        id="js-blank-before-brace",
    ),
    pytest.param(
        "javascript",
        "function f() {\n  <|CURSOR|>\n}\n",
        MULTI,
        "after-opener",
        id="js-body-start",
    ),
    pytest.param(
        "javascript",
        "function f() {\n  a();\n  <|CURSOR|>\n  b();\n}\n",
        MULTI,
        "statement-line",
        id="js-blank-line-in-block",
    ),
    pytest.param(
        "javascript",
        "const o = {\n  a: 1,\n  <|CURSOR|>\n};\n",
        SINGLE,
        "expression-line",
        id="js-blank-line-in-object",
    ),
    pytest.param("javascript", "const f = () =><|CURSOR|>\n", MULTI, "after-opener", id="js-arrow"),
    pytest.param(
        "javascript", "const s = `a ${b<|CURSOR|>}`;\n", SINGLE, "before-closers", id="js-template"
    ),
    pytest.param(
        "javascript", "/* abc<|CURSOR|> */\n", SINGLE, "in-comment", id="js-block-comment-end"
    ),
    pytest.param(
        "javascript",
        "/* abc <|CURSOR|>def */\n",
        SKIP,
        "text-after-cursor-in-comment",
        id="js-block-comment-text-after",
    ),
    pytest.param(
        "javascriptreact",
        "const App = () => <div>{<|CURSOR|>}</div>;\n",
        SKIP,
        "text-after-cursor",
        id="jsx-before-tag",
    ),
    # -- typescript / tsx
    pytest.param(
        "typescript", "interface A {\n  <|CURSOR|>\n}\n", MULTI, "after-opener", id="ts-interface"
    ),
    pytest.param(
        "typescript",
        "interface A {\n  a: string;\n  <|CURSOR|>\n}\n",
        MULTI,
        "statement-line",
        id="ts-interface-member-line",
    ),
    pytest.param(
        "typescript", "let x: Array<<|CURSOR|>>;\n", SINGLE, "before-closers", id="ts-generic"
    ),
    pytest.param(
        "typescript", "const n = cou<|CURSOR|>nt;\n", SKIP, "mid-identifier", id="ts-mid-identifier"
    ),
    pytest.param(
        "typescriptreact",
        "export function App() {\n  return <|CURSOR|>\n}\n",
        SINGLE,
        "end-of-line",
        id="tsx-return",
    ),
    # -- go
    pytest.param(
        "go",
        "package main\n\nfunc f() {\n\t<|CURSOR|>\n}\n",
        MULTI,
        "after-opener",
        id="go-body-start",
    ),
    pytest.param(
        "go",
        "package main\n\nfunc f() {\n\tx := 1\n\t<|CURSOR|>\n\ty := 2\n}\n",
        MULTI,
        "statement-line",
        id="go-blank-line-in-block",
    ),
    pytest.param(
        "go",
        "package main\n\nvar xs = []int{\n\t1,\n\t<|CURSOR|>\n}\n",
        SINGLE,
        "expression-line",
        id="go-blank-line-in-literal",
    ),
    pytest.param(
        "go",
        'package main\n\nvar s = "ab<|CURSOR|>"\n',
        SINGLE,
        "in-string",
        id="go-string-end",
    ),
    pytest.param(
        "go",
        "package main\n\nfunc f() {\n\tfmt.Println(<|CURSOR|>)\n}\n",
        SINGLE,
        "before-closers",
        id="go-auto-closed",
    ),
    # -- rust
    pytest.param(
        "rust",
        "fn f() {\n    let x = 1;\n    <|CURSOR|>\n}\n",
        MULTI,
        "statement-line",
        id="rs-blank-line-in-block",
    ),
    pytest.param("rust", "impl A {\n    <|CURSOR|>\n}\n", MULTI, "after-opener", id="rs-impl-body"),
    pytest.param(
        "rust",
        'fn f() {\n    let s = "a <|CURSOR|>b";\n}\n',
        SKIP,
        "text-after-cursor-in-string",
        id="rs-string-text-after",
    ),
    pytest.param(
        "rust", "fn f() {\n    // why<|CURSOR|>\n}\n", SINGLE, "in-comment", id="rs-comment-end"
    ),
    pytest.param(
        "rust", "let v: Vec<<|CURSOR|>> = x;\n", SKIP, "text-after-cursor", id="rs-text-after"
    ),
    # -- no grammar: text rules only
    pytest.param("plaintext", "hello wor<|CURSOR|>ld\n", SKIP, "mid-identifier", id="txt-mid-word"),
    pytest.param("plaintext", "hello (<|CURSOR|>)\n", SINGLE, "before-closers", id="txt-closers"),
    pytest.param("plaintext", "a,\n<|CURSOR|>\n", SINGLE, "expression-line", id="txt-after-comma"),
    pytest.param("plaintext", "a;\n<|CURSOR|>\n", MULTI, "statement-line", id="txt-after-stmt"),
]


@pytest.mark.parametrize(("language_id", "source", "expected_shape", "reason"), CASES)
def test_cursor_decision(
    registry: LanguageRegistry, language_id: str, source: str, expected_shape: str, reason: str
) -> None:
    decision = analyse(registry, language_id, source)
    assert (shape(decision), decision.reason) == (expected_shape, reason)


def test_skip_is_never_multiline(registry: LanguageRegistry) -> None:
    decision = analyse(registry, "python", "pri<|CURSOR|>nt()")
    assert decision == CursorDecision(
        should_request=False, multiline=False, reason="mid-identifier"
    )


def test_line_out_of_range(registry: LanguageRegistry) -> None:
    assert analyse_cursor(registry, "python", "x = 1\n", 5, 0).reason == "out-of-range"
    assert analyse_cursor(registry, "python", "x = 1\n", -1, 0).reason == "out-of-range"


def test_column_past_the_end_is_clamped(registry: LanguageRegistry) -> None:
    decision = analyse_cursor(registry, "python", "def f():\n", 0, 99)
    assert (shape(decision), decision.reason) == (MULTI, "after-opener")


def test_crlf_line_breaks(registry: LanguageRegistry) -> None:
    decision = analyse_cursor(registry, "python", "def f():\r\n    \r\n", 1, 4)
    assert (shape(decision), decision.reason) == (MULTI, "after-opener")


def test_columns_count_code_points(registry: LanguageRegistry) -> None:
    # "é" and "😀" are one column each but 2 and 4 UTF-8 bytes.
    assert analyse(registry, "python", 'x = "é😀<|CURSOR|>"\n').reason == "in-string"
    assert analyse(registry, "python", 'x = "é😀" # é😀<|CURSOR|>\n').reason == "in-comment"


def test_missing_grammar_falls_back_to_text_rules() -> None:
    spec = LanguageSpec(
        language_id="fake",
        extensions=(".fake",),
        grammar="codehearth_no_such_grammar",
        function="language",
        line_comment="#",
        body_placeholder="...",
        optional=True,
    )
    registry = LanguageRegistry((spec,))
    assert registry.parser("fake") is None
    decision = analyse(registry, "fake", "def f():\n    <|CURSOR|>\n")
    assert (shape(decision), decision.reason) == (MULTI, "after-opener")
    decision = analyse(registry, "fake", "foo(<|CURSOR|>)  # note\n")
    assert (shape(decision), decision.reason) == (SINGLE, "before-closers")


def test_parse_timeout_falls_back_to_text_rules(
    registry: LanguageRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A blank line after a line ending with "," is a statement line to the tree (the
    # line is a tuple assignment) but a list item to the text rules.
    source = "def f():\n" + "    x = 1\n" * 3000 + "    y = 1,\n    <|CURSOR|>\n"
    decision = analyse(registry, "python", source)
    assert (shape(decision), decision.reason) == (MULTI, "statement-line")
    monkeypatch.setattr(cursor, "PARSE_TIMEOUT_MICROS", 0)
    decision = analyse(registry, "python", source)
    assert (shape(decision), decision.reason) == (SINGLE, "expression-line")


def _big_python_file(functions: int) -> str:
    body = "".join(
        f"def function_{i}(value):\n"
        f'    """Return value plus {i}."""\n'
        f"    result = value + {i}\n"
        "    if result > 10:\n"
        "        return result\n"
        "    return -result\n\n\n"
        for i in range(functions)
    )
    return body


def test_only_a_window_around_the_cursor_is_parsed(
    registry: LanguageRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _big_python_file(625)  # 5,000 lines
    parsed: list[int] = []
    real_parse = cursor.parse_with_deadline

    def spy(
        parser: tree_sitter.Parser, source: bytes, timeout_micros: int
    ) -> tree_sitter.Tree | None:
        parsed.append(source.count(b"\n") + 1)
        return real_parse(parser, source, timeout_micros)

    monkeypatch.setattr(cursor, "parse_with_deadline", spy)
    line = 8 * 312 + 2  # "    result = value + 312"
    decision = analyse_cursor(registry, "python", text, line, len(text.split("\n")[line]))
    assert decision.reason == "end-of-line"
    assert parsed and parsed[0] < 400


def test_window_does_not_start_inside_a_multiline_string(registry: LanguageRegistry) -> None:
    # Column-0 lines inside a long string look like statements; the window must not start
    # there, or the string would be parsed as code and the cursor seen outside it.
    code = _big_python_file(40)
    template = "TEMPLATE = '''\n" + "def fake():\nvalue = 1\n" * 150 + "print(<|CURSOR|>x)\n'''\n"
    decision = analyse(registry, "python", code + template)
    assert decision.reason == "text-after-cursor-in-string"


def test_window_keeps_the_enclosing_block_whole(registry: LanguageRegistry) -> None:
    # The cursor is on a blank line deep inside a long list in a method of a long class:
    # lines 200 above it are list items, which must not start the window.
    methods = "".join(f"    def m{i}(self):\n        return {i}\n\n" for i in range(100))
    items = "".join(f"            item_{i},\n" for i in range(300))
    source = "class Big:\n" + methods + "    def last(self):\n        x = [\n" + items
    decision = analyse(registry, "python", source + "            <|CURSOR|>\n        ]\n")
    assert (shape(decision), decision.reason) == (SINGLE, "expression-line")


def test_only_a_window_of_a_5000_line_file_is_parsed(
    registry: LanguageRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cost of an analysis follows the window around the cursor, not the file (the
    speed itself is measured by bench/latency.py)."""
    text = _big_python_file(625)
    lines = text.split("\n")
    parsed: list[int] = []

    def recording(parser: Any, source: bytes, timeout_micros: int) -> Any:
        parsed.append(len(source))
        return parse_with_deadline(parser, source, timeout_micros)

    monkeypatch.setattr(cursor, "parse_with_deadline", recording)
    for line in (10, 1200, 2500, 3800, 4990):
        analyse_cursor(registry, "python", text, line, len(lines[line]))
    assert len(parsed) == 5
    assert max(parsed) < len(text.encode()) / 10
