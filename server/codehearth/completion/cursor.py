"""Cursor analysis: is a completion worth requesting here, and may it span several lines?

:func:`analyse_cursor` parses the text around the cursor with tree-sitter (when the
language has a grammar) and applies these rules in order; the first that applies decides,
and :attr:`CursorDecision.reason` names it.

No request:

``out-of-range``
    the line does not exist.
``mid-identifier``
    word characters on both sides of the cursor (``pri|nt``).
``text-after-cursor-in-string`` / ``text-after-cursor-in-comment``
    the cursor is inside a string literal or a comment that has more text after the
    cursor on this line (its closing delimiter does not count).
``text-after-cursor``
    the rest of the line holds something a completion would collide with: anything but
    closers (``) ] } >``, quotes, ``;``, ``,``), whitespace and a trailing comment.

Request, single-line:

``in-string`` / ``in-comment``
    at the end of a string's content (``"abc|"``) or of a comment.
``before-closers``
    only closers follow on the line (``foo(|)``): complete up to them.
``end-of-line``
    the cursor ends a line of code that does not open a block (``x = foo|``).
``expression-line``
    a blank line inside a bracketed expression (an argument list, a literal): one item.

Request, multi-line:

``after-opener``
    the code before the cursor, or the previous non-blank line when the cursor's line is
    blank, ends with ``:``, ``{``, ``(``, ``[`` or ``=>`` (a ``:`` only when no bracket
    is left open on that line, so slices, dict entries and annotations do not count).
``empty-braces``
    between a ``{`` and its auto-closed ``}`` (``{|}``, or a blank line before ``}``).
``statement-line``
    a blank line where statements go: the innermost node around the cursor is one of
    the language's ``block_nodes`` (or, without a usable tree, the previous line does
    not end with ``,``).

Speed: only a window of lines around the cursor is parsed (about 1-3 ms for a cursor in a
5,000-line file, where a whole parse takes 15 ms or more). The window starts and ends at
lines that look like statement starts (a word, ``@``, ``#`` or ``$`` that does not
follow a line ending with ``,``, an open bracket or an operator) and are indented no
deeper than any line between them and the cursor, so the blocks around the cursor are
parsed whole. The start is a column-0 line or one at least ``WINDOW_LINES_BEFORE`` lines
up (everything above is parsed when the cursor is nearer the top); one inside an
unbalanced multi-line literal (odd count of triple quotes or backticks, open block
comment) moves further up. The end is at least ``WINDOW_LINES_AFTER`` lines down. The
parse is abandoned after ``PARSE_TIMEOUT_MICROS`` and the text rules decide alone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import attrs
import tree_sitter

from codehearth.languages import LanguageRegistry, LanguageSpec, parse_with_deadline

WINDOW_LINES_BEFORE = 200
WINDOW_LINES_AFTER = 50
PARSE_TIMEOUT_MICROS = 50_000
MAX_ANCESTORS = 64
"""How far up from the cursor's node to look for a string, comment or statement: each
step up costs tree-sitter a walk from the root, so on a line nested thousands deep
(``f = lambda: lambda: ...``) walking to the root took seconds on the event loop."""

CLOSERS = ")]}>;,'\"`"
"""Characters an editor auto-closes (or that end a statement) and a completion may precede."""

_QUOTES = "\"'`#"
_OPENERS = ("{", "(", "[", "=>")
_EMBEDDED_CODE_NODES = frozenset({"interpolation", "template_substitution"})
_MULTILINE_DELIMITERS = ('"""', "'''", "`")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_ANCHOR = re.compile(r"[A-Za-z_@#$]")
_CONTINUATION_KEYWORD = re.compile(r"(else|elif|except|finally|catch)\b")
_GOES_ON = (",", "(", "[", "\\", "+", "-", "*", "/", "%", "&", "|", "=", "<", ">", ".")


@attrs.frozen
class CursorDecision:
    """Whether to ask the model for a completion at the cursor, and of what shape."""

    should_request: bool
    multiline: bool
    reason: str


def analyse_cursor(
    registry: LanguageRegistry, language_id: str, text: str, line: int, column: int
) -> CursorDecision:
    """Decide whether and how to complete at ``line``/``column`` (0-based; the column
    counts code points and is clamped to the line)."""
    lines = _LINE_BREAK.split(text) if "\r" in text else text.split("\n")
    if not 0 <= line < len(lines):
        return _skip("out-of-range")
    current = lines[line]
    column = max(0, min(column, len(current)))
    before, after = current[:column], current[column:]
    if before and after and _is_word(before[-1]) and _is_word(after[0]):
        return _skip("mid-identifier")

    spec = registry.by_id(language_id)
    parser = registry.parser(language_id) if spec else None
    window = _Window.parse(parser, spec, lines, line) if parser and spec else None

    literal = window.literal_at(line, column) if window else None
    if literal is not None:
        kind, end_column = literal
        inner = current[column:end_column] if end_column is not None else after
        if _without_closing_delimiter(inner, kind, spec).strip():
            return _skip(f"text-after-cursor-in-{kind}")
        rest_column = end_column if end_column is not None else len(current)
        if not _rest_is_clear(lines, line, rest_column, spec, window):
            return _skip("text-after-cursor")
        return _single(f"in-{kind}")

    if not _rest_is_clear(lines, line, column, spec, window):
        return _skip("text-after-cursor")

    head = before.rstrip()
    rest = after.strip()
    previous = "" if head else _previous_code_line(lines, line)
    if rest.startswith("}") and (head.endswith("{") or (not head and previous.endswith("{"))):
        return _multi("empty-braces")
    if rest:
        return _single("before-closers")
    if head:
        return _multi("after-opener") if _opens_block(head, spec) else _single("end-of-line")
    if previous and _opens_block(previous, spec):
        return _multi("after-opener")
    statement_level = window.statement_level(line, column) if window else None
    if statement_level is None:
        statement_level = not previous.endswith(",")
    return _multi("statement-line") if statement_level else _single("expression-line")


def _skip(reason: str) -> CursorDecision:
    return CursorDecision(should_request=False, multiline=False, reason=reason)


def _single(reason: str) -> CursorDecision:
    return CursorDecision(should_request=True, multiline=False, reason=reason)


def _multi(reason: str) -> CursorDecision:
    return CursorDecision(should_request=True, multiline=True, reason=reason)


def _is_word(char: str) -> bool:
    return char.isalnum() or char in "_$"


def _previous_code_line(lines: list[str], line: int) -> str:
    """The nearest non-blank line above ``line``, right-stripped ("" at the top)."""
    for index in range(line - 1, -1, -1):
        if lines[index].strip():
            return lines[index].rstrip()
    return ""


def _opens_block(code: str, spec: LanguageSpec | None) -> bool:
    """Does this line of code end with something that starts a body or continuation?

    A trailing line comment is ignored and a comment line opens nothing. A final ``:``
    counts only when every bracket opened on the line is closed again (``def f(x):``
    yes; ``d = {"a":``, ``x[1:`` no).
    """
    if spec and spec.line_comment in code:
        code = code.split(spec.line_comment, 1)[0].rstrip()
    return code.endswith(_OPENERS) or (code.endswith(":") and _brackets_closed(code))


def _brackets_closed(code: str) -> bool:
    depth = 0
    for char in code:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(0, depth - 1)
    return depth == 0


def _without_closing_delimiter(inner: str, kind: str, spec: LanguageSpec | None) -> str:
    """The literal's text after the cursor without its closing quote or comment end."""
    inner = inner.rstrip()
    if kind == "string":
        return inner.rstrip(_QUOTES)
    if spec and spec.block_comment:
        return inner.removesuffix(spec.block_comment[1])
    return inner


def _rest_is_clear(
    lines: list[str], line: int, column: int, spec: LanguageSpec | None, window: _Window | None
) -> bool:
    """Is the line after ``column`` only closers, whitespace and a trailing comment?"""
    current = lines[line]
    rest = current[column:]
    remainder = rest.lstrip(CLOSERS + " \t")
    if not remainder:
        return True
    if spec is None:
        return False
    trailing_comment = remainder.startswith(spec.line_comment) or bool(
        spec.block_comment
        and remainder.startswith(spec.block_comment[0])
        and remainder.rstrip().endswith(spec.block_comment[1])
    )
    if not trailing_comment:
        return False
    return window is None or window.is_comment_at(line, len(current) - len(remainder))


@attrs.frozen(eq=False)
class _Window:
    """A parse of the lines ``first_line`` .. around the cursor line."""

    tree: tree_sitter.Tree
    spec: LanguageSpec
    lines: list[str]
    first_line: int

    @classmethod
    def parse(
        cls,
        parser: tree_sitter.Parser,
        spec: LanguageSpec,
        lines: list[str],
        line: int,
    ) -> _Window | None:
        start, end = window_bounds(lines, line, spec)
        source = "\n".join(lines[start:end]).encode("utf-8", "surrogatepass")
        tree = parse_with_deadline(parser, source, PARSE_TIMEOUT_MICROS)
        if tree is None:
            return None
        return cls(tree=tree, spec=spec, lines=lines, first_line=start)

    def _point(self, line: int, column: int) -> tuple[int, int]:
        prefix = self.lines[line][:column]
        return (line - self.first_line, len(prefix.encode("utf-8", "surrogatepass")))

    def _column(self, line: int, byte_column: int) -> int:
        """The code-point column of a byte column on ``line``."""
        encoded = self.lines[line].encode("utf-8", "surrogatepass")
        return len(encoded[:byte_column].decode("utf-8", "surrogatepass"))

    def literal_at(self, line: int, column: int) -> tuple[str, int | None] | None:
        """``("string" | "comment", end column)`` when the cursor is inside a literal or
        at the end of a line comment; the end column is ``None`` when the literal goes on
        past this line. Code embedded in a string (``f"{x|}"``) is not inside it."""
        point = self._point(line, column)
        previous = (point[0], self._point(line, column - 1)[1]) if column else point
        leaf = self.tree.root_node.descendant_for_point_range(previous, point)
        for node in _ancestors(leaf):
            if node.type in _EMBEDDED_CODE_NODES:
                return None
            kind = (
                "string"
                if node.type in self.spec.string_nodes
                else "comment"
                if node.type in self.spec.comment_nodes
                else None
            )
            if kind is not None:
                start, end = tuple(node.start_point), tuple(node.end_point)
                inside = start < point < end or (
                    kind == "comment" and point == end and not self._block_closed(node)
                )
                if not inside:
                    return None
                if end[0] != point[0]:
                    return kind, None
                return kind, self._column(line, end[1])
        return None

    def _block_closed(self, comment: tree_sitter.Node) -> bool:
        closer = self.spec.block_comment[1] if self.spec.block_comment else None
        text = comment.text or b""
        return closer is not None and text.endswith(closer.encode())

    def is_comment_at(self, line: int, column: int) -> bool:
        """Is the character at this position part of a comment?"""
        start = self._point(line, column)
        end = self._point(line, column + 1)
        leaf = self.tree.root_node.descendant_for_point_range(start, end)
        return any(node.type in self.spec.comment_nodes for node in _ancestors(leaf))

    def statement_level(self, line: int, column: int) -> bool | None:
        """Is the innermost node strictly around the cursor a statement container?

        ``None`` when the tree cannot tell (that node is an ``ERROR``)."""
        point = self._point(line, column)
        leaf = self.tree.root_node.descendant_for_point_range(point, point)
        around = next(
            (
                node
                for node in _ancestors(leaf)
                if node.parent is None or tuple(node.start_point) < point < tuple(node.end_point)
            ),
            None,
        )
        if around is None or around.type == "ERROR":
            return None
        return around.type in self.spec.block_nodes


def _ancestors(node: tree_sitter.Node | None) -> Iterator[tree_sitter.Node]:
    """``node`` and at most ``MAX_ANCESTORS`` of its ancestors, innermost first."""
    for _ in range(MAX_ANCESTORS + 1):
        if node is None:
            return
        yield node
        node = node.parent


def window_bounds(lines: list[str], line: int, spec: LanguageSpec) -> tuple[int, int]:
    """The lines parsed for a cursor on ``line``: ``lines[start:end]``, the blocks around
    the cursor whole (see the module docstring)."""
    return _window_start(lines, line, spec), _window_end(lines, line)


def _window_start(lines: list[str], line: int, spec: LanguageSpec) -> int:
    """The first line to parse: a statement start outside any multi-line literal,
    indented no deeper than any line between it and the cursor (so the cursor's enclosing
    blocks are whole), and either at column 0 or ``WINDOW_LINES_BEFORE`` lines above the
    cursor. The whole text above is parsed when the cursor is that close to the top."""
    limit = line - WINDOW_LINES_BEFORE
    if limit <= 0:
        return 0
    delimiters = [*_MULTILINE_DELIMITERS, *(spec.block_comment or ())]
    counts: dict[str, int] = {}
    candidate = 0
    min_indent = math.inf
    for index in range(line, 0, -1):
        text = lines[index]
        stripped = text.lstrip()
        if not stripped:
            continue
        indent = len(text) - len(stripped)
        near_enough = index <= limit or indent == 0
        if near_enough and indent <= min_indent and _starts_statement(lines, index, stripped):
            if counts:
                for between in lines[index:candidate]:
                    for delimiter in delimiters:
                        counts[delimiter] -= between.count(delimiter)
            else:
                head = "\n".join(lines[:index])
                counts = {delimiter: head.count(delimiter) for delimiter in delimiters}
            if _balanced(counts, spec):
                return index
            candidate = index
        min_indent = min(min_indent, indent)
    return 0


def _balanced(counts: dict[str, int], spec: LanguageSpec) -> bool:
    if any(counts[delimiter] % 2 for delimiter in _MULTILINE_DELIMITERS):
        return False
    return not spec.block_comment or (
        counts[spec.block_comment[0]] <= counts[spec.block_comment[1]]
    )


def _window_end(lines: list[str], line: int) -> int:
    """The line after the last one to parse: a statement start at least
    ``WINDOW_LINES_AFTER`` lines below the cursor, indented no deeper than any line
    between the cursor and it."""
    min_indent = math.inf
    for index in range(line + 1, len(lines)):
        text = lines[index]
        stripped = text.lstrip()
        if not stripped:
            continue
        indent = len(text) - len(stripped)
        far_enough = index > line + WINDOW_LINES_AFTER
        if far_enough and indent <= min_indent and _starts_statement(lines, index, stripped):
            return index
        min_indent = min(min_indent, indent)
    return len(lines)


def _starts_statement(lines: list[str], index: int, stripped: str) -> bool:
    """Does line ``index`` (``stripped`` of its indentation) look like a statement start:
    a word, decorator or directive that neither continues a compound statement (``else``)
    nor follows a line that goes on (ending with ``,``, an open bracket or an operator)?"""
    return (
        bool(_ANCHOR.match(stripped))
        and not _CONTINUATION_KEYWORD.match(stripped)
        and not _previous_code_line(lines, index).endswith(_GOES_ON)
    )
