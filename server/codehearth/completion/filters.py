"""Output filters: turn a model's raw completion into text worth showing at the cursor.

Each filter is a small pure function ``(text, ctx) -> text``; :func:`apply_filters` runs a
chain of them (by default :data:`DEFAULT_CHAIN`, in this order) and returns ``""`` when
nothing useful remains:

1. :func:`drop_cut_off_line` drops the last line of a generation stopped by its token
   limit in the middle of that line.
2. :func:`strip_code_fences` removes the markdown fences chatty models wrap code in.
3. :func:`fix_indentation` removes indentation the model repeated, re-bases indentation
   the model wrote relative to the wrong column, and converts tabs/spaces to the
   document's indent unit.
4. :func:`limit_to_single_line` keeps one line when a single-line completion was asked.
5. :func:`repetition_guard` cuts degenerate loops (a line or block three times running, a
   short token many times running).
6. :func:`stop_at_next_line_duplicate` cuts where the completion re-types the line below.
7. :func:`stop_at_suffix_overlap` drops what the text after the cursor already holds.
8. :func:`stop_at_block_end` cuts a multi-line completion where the block being written
   at the cursor ends (tree-sitter; by indentation where the tree cannot tell).
9. :func:`trim_trailing_whitespace` and 10. :func:`drop_blank` tidy up.
11. :func:`reject_syntax_errors` leaves nothing when the completion adds a syntax error
    to the document (after cutting a generation stopped by its token limit back to
    before the statement it left unfinished).

Steps 8 and 11 parse with tree-sitter (see :mod:`codehearth.completion.fit`) when the
context has a language registry. Line breaks in the model output are normalised to
``\\n`` before the chain runs.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator, Sequence

import attrs

from codehearth.completion.cursor import CLOSERS
from codehearth.completion.fit import CursorSite
from codehearth.languages import LanguageRegistry

log = logging.getLogger(__name__)


@attrs.frozen
class FilterContext:
    """The document around the cursor and the kind of completion that was asked for.

    ``registry`` gives the tree-sitter steps their parser (without it they fall back to
    text rules or let the completion through); ``truncated`` says the generation stopped
    at its token limit."""

    prefix: str
    suffix: str
    multiline: bool
    language_id: str = ""
    indent_unit: str = "    "
    registry: LanguageRegistry | None = None
    truncated: bool = False

    @functools.cached_property
    def site(self) -> CursorSite | None:
        """The parse window around the cursor (None without a registry or grammar)."""
        if self.registry is None:
            return None
        return CursorSite.at(self.registry, self.language_id, self.prefix, self.suffix)

    @property
    def line_prefix(self) -> str:
        """The cursor line up to the cursor."""
        return self.prefix.rsplit("\n", 1)[-1]

    @property
    def line_suffix(self) -> str:
        """The cursor line after the cursor."""
        return self.suffix.split("\n", 1)[0].rstrip("\r")

    def lines_below(self) -> Iterator[str]:
        """The lines after the cursor line, top down (read lazily: documents are long)."""
        start = self.suffix.find("\n")
        while start != -1:
            end = self.suffix.find("\n", start + 1)
            yield self.suffix[start + 1 : end if end != -1 else None].rstrip("\r")
            start = end

    def previous_code_line(self) -> str | None:
        """The nearest non-blank line above the cursor line, right-stripped."""
        end = self.prefix.rfind("\n")
        while end != -1:
            start = self.prefix.rfind("\n", 0, end)
            line = self.prefix[start + 1 : end]
            if line.strip():
                return line.rstrip()
            end = start
        return None


Filter = Callable[[str, FilterContext], str]

MARKDOWN_LANGUAGES = frozenset({"markdown", "mdx"})
"""Languages where fences are content, not chatter."""

BLOCK_OPENERS = (":", "{", "(", "[", "=>")
DEFAULT_TAB_WIDTH = 4
TOKEN_RUN_REPEATS = 16
"""A unit of up to 10 characters this many times running is a degenerate loop."""

_FENCE = re.compile(r"[ \t]*(```|~~~)")
_TOKEN_RUN = re.compile(rf"(\S.{{0,9}}?)\1{{{TOKEN_RUN_REPEATS - 1},}}")
_DECORATIVE = frozenset("-=*#~_/+.")
_PAIRS = {")": "(", "]": "[", "}": "{", ">": "<"}
_BLOCK_CLOSERS = frozenset(")]};,")
_CONTINUATION_ENDINGS = (",", "\\", "+", "-", "*", "/", "%", "&", "|", "^", "=", "<", ">", ".")


# -- 1. token limit ---------------------------------------------------------------------


def drop_cut_off_line(text: str, ctx: FilterContext) -> str:
    """Drop the last line of a generation stopped by its token limit, unless the
    generation ended with a line break (then every line is whole). A construct left open
    over several lines is dealt with by :func:`reject_syntax_errors`."""
    if not ctx.truncated or text.endswith("\n"):
        return text
    return text[: text.rfind("\n") + 1]


# -- 2. fences --------------------------------------------------------------------------


def strip_code_fences(text: str, ctx: FilterContext) -> str:
    """Unwrap `````lang ... ````` and cut at a fence that follows the code.

    When the first non-blank line is a fence, the completion is what lies between it and
    the next fence; otherwise the completion ends before the first fence line (the model
    finished the code and started chatting). Markdown documents are left alone.
    """
    if ctx.language_id in MARKDOWN_LANGUAGES:
        return text
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and _FENCE.match(lines[first]):
        lines = lines[first + 1 :]
    end = next((i for i, line in enumerate(lines) if _FENCE.match(line)), len(lines))
    return "\n".join(lines[:end])


# -- 3. indentation ---------------------------------------------------------------------


def fix_indentation(text: str, ctx: FilterContext) -> str:
    """Make the completion's indentation fit the cursor line.

    * When the cursor sits after indentation only and the model repeats it on the first
      line, the repeat is removed (the first line is then an absolute line).
    * At column 0 of a blank line, when all the completion is indented deeper than the
      line above allows (its indentation, one unit more if it opens a block) the whole
      completion is dedented to that; when the line above opens a block and the
      completion is not indented into it, it is indented to it. A line above that goes on
      (ends with ``,``, an operator or an open bracket) is left to the model.
    * When the cursor line ends with a block opener (``:``, ``{``, ``(``, ``[``, ``=>``)
      and the next line is not indented deeper than it, the model wrote the following
      lines relative to the cursor line, so they are shifted by the cursor line's
      indentation.
    * Leading tabs and spaces are converted to the document's indent unit (tabs count as
      one unit in a space-indented document; in a tab-indented one, the model's smallest
      space indentation counts as one tab).
    """
    lines = text.split("\n")
    line_prefix = ctx.line_prefix
    blank_head = not line_prefix.strip()
    tab_width = _tab_width(ctx.indent_unit, lines)
    indents = [_columns(_leading_ws(line), tab_width) for line in lines]
    bodies = [line.lstrip(" \t") for line in lines]
    prefix_width = _columns(line_prefix, tab_width) if blank_head else 0

    if blank_head and line_prefix:
        indents[0] = max(0, indents[0] - prefix_width)
    elif not line_prefix:
        indents = _fit_to_line_above(indents, bodies, ctx.previous_code_line(), tab_width)

    head_indent = (
        prefix_width + indents[0] if blank_head else _columns(_leading_ws(line_prefix), tab_width)
    )
    head = bodies[0] if blank_head else line_prefix + lines[0]
    body_rows = [i for i in range(1, len(lines)) if bodies[i]]
    if head_indent and body_rows and _opens_block(head) and indents[body_rows[0]] <= head_indent:
        indents = [indents[0]] + [indent + head_indent for indent in indents[1:]]

    rendered = [
        _render(indents[i], ctx.indent_unit, tab_width) + bodies[i] if bodies[i] else ""
        for i in range(len(lines))
    ]
    if not blank_head:
        rendered[0] = lines[0]
    return "\n".join(rendered)


def _fit_to_line_above(
    indents: list[int], bodies: list[str], above: str | None, tab_width: int
) -> list[int]:
    """Column-0 case of :func:`fix_indentation`: shift all lines to the expected indent."""
    rows = [i for i, body in enumerate(bodies) if body]
    if above is None or not rows:
        return indents
    stripped = above.rstrip()
    opens = _opens_block(stripped)
    goes_on = not opens and (
        stripped.endswith(_CONTINUATION_ENDINGS) or not _brackets_closed(stripped)
    )
    expected = _columns(_leading_ws(above), tab_width) + (tab_width if opens else 0)
    least = min(indents[i] for i in rows)
    if goes_on or least == expected or (least < expected and not opens):
        return indents
    shift = expected - least
    return [max(0, indent + shift) for indent in indents]


def _opens_block(code: str) -> bool:
    code = code.rstrip()
    return code.endswith(BLOCK_OPENERS) and (not code.endswith(":") or _brackets_closed(code))


def _brackets_closed(code: str) -> bool:
    depth = 0
    for char in code:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(0, depth - 1)
    return depth == 0


def _leading_ws(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _columns(whitespace: str, tab_width: int) -> int:
    width = 0
    for char in whitespace:
        width = (width // tab_width + 1) * tab_width if char == "\t" else width + 1
    return width


def _tab_width(indent_unit: str, lines: list[str]) -> int:
    """Columns per tab: the unit's width for spaces; for tabs, the model's own smallest
    space indentation (so that its space-indented output converts level for level)."""
    if not indent_unit.startswith("\t"):
        return len(indent_unit) or DEFAULT_TAB_WIDTH
    widths = [len(ws) for ws in map(_leading_ws, lines) if ws and "\t" not in ws]
    return min(widths) if widths and min(widths) >= 2 else DEFAULT_TAB_WIDTH


def _render(columns: int, indent_unit: str, tab_width: int) -> str:
    if indent_unit.startswith("\t"):
        return "\t" * (columns // tab_width) + " " * (columns % tab_width)
    return " " * columns


# -- 4. single line ---------------------------------------------------------------------


def limit_to_single_line(text: str, ctx: FilterContext) -> str:
    """Keep only the first line of a single-line completion.

    When that line is blank and the cursor ends a non-blank line (nothing after it), the
    model chose to start the next line: the first non-blank line is kept after a line
    break, so ``x = 1|`` may be completed with one new statement. Otherwise a blank first
    line leaves nothing.
    """
    if ctx.multiline:
        return text
    lines = text.split("\n")
    if lines[0].strip():
        return lines[0]
    at_line_end = bool(ctx.line_prefix.strip()) and not ctx.line_suffix.strip()
    following = next((line for line in lines[1:] if line.strip()), None)
    return "\n" + following if at_line_end and following is not None else ""


# -- 5. repetition ----------------------------------------------------------------------


def repetition_guard(text: str, ctx: FilterContext) -> str:
    """Cut degenerate loops, keeping one copy of what repeats.

    * A line or block of lines (not all blank) three or more times in a row: everything
      after its first copy is dropped. The first line counts together with the text
      before the cursor, so ``    foo()`` typed after ``    `` repeats ``foo()``.
    * A unit of 1-10 characters :data:`TOKEN_RUN_REPEATS` or more times in a row on one
      line (``)))))))...``, ``foo foo foo ...``): the text is cut after its first copy.
      Runs of one letter or digit (``0xFFFFFFFFFFFFFFFF``) or of one decorative
      character (``----``, ``====``, ``####`` ...) are allowed.
    """
    lines = text.split("\n")
    end = _end_of_first_repeated_copy([ctx.line_prefix + lines[0], *lines[1:]])
    if end is not None:
        text = "\n".join(lines[:end])
    for match in _TOKEN_RUN.finditer(text):
        unit = match.group(1)
        if not (len(unit) == 1 and (unit.isalnum() or unit in _DECORATIVE)):
            return text[: match.start() + len(unit)]
    return text


def _end_of_first_repeated_copy(lines: list[str]) -> int | None:
    """Where the first copy ends of the earliest line or block repeated three times."""
    count = len(lines)
    for start in range(count):
        first = lines[start]
        for size in range(1, (count - start) // 3 + 1):
            if lines[start + size] != first or lines[start + 2 * size] != first:
                continue  # cheap test before comparing whole blocks
            block = lines[start : start + size]
            if (
                any(line.strip() for line in block)
                and lines[start + size : start + 2 * size] == block
                and lines[start + 2 * size : start + 3 * size] == block
            ):
                return start + size
    return None


# -- 6. next line -----------------------------------------------------------------------


def stop_at_next_line_duplicate(text: str, ctx: FilterContext) -> str:
    """Cut the completion before a line that re-types the document's next line.

    Lines compare without surrounding whitespace; a completion line indented deeper
    than the next line does not count (a nested statement may legitimately look the
    same). The first completion line is compared together with the text before the
    cursor. Lines with no letter or digit (``}``, ``);``) are left to
    :func:`stop_at_suffix_overlap`, which compares them with their indentation.
    """
    following = next(ctx.lines_below(), "")
    if not _significant(following):
        return text
    target = following.strip()
    target_indent = len(_leading_ws(following))
    lines = text.split("\n")
    for index, line in enumerate(lines):
        full = ctx.line_prefix + line if index == 0 else line
        if full.strip() == target and len(_leading_ws(full)) <= target_indent:
            return "\n".join(lines[:index])
    return text


def _significant(line: str) -> bool:
    return any(char.isalnum() for char in line)


# -- 7. suffix overlap ------------------------------------------------------------------


def stop_at_suffix_overlap(text: str, ctx: FilterContext) -> str:
    """Drop the part of the completion that the text after the cursor already holds.

    * A completion line equal to the first non-empty line of the suffix ends the
      completion. When that is the rest of the cursor line (say ``)`` or ``});``), a
      later completion line matches when it holds that text at the cursor line's
      indentation (a deeper ``)`` closes something of the completion's own); a later
      suffix line must match as a whole line, the first completion line being taken
      together with the text before the cursor.
    * The end of the completion that repeats the start of the rest of the cursor line is
      dropped (``foo(a)`` before ``)`` becomes ``foo(a``) when the repeated closers are
      not matched inside the completion (``bar()`` before ``)`` is kept) and a repeated
      quote closes a quote the completion leaves open. Other repeated text is dropped
      only when it is the whole rest of the line.
    """
    rest = ctx.line_suffix.strip()
    target = rest or next((line for line in ctx.lines_below() if line.strip()), None)
    line_indent = _leading_ws(ctx.line_prefix + ctx.line_suffix)
    lines = text.split("\n")
    if target is not None:
        for index, line in enumerate(lines):
            if rest:
                cut = index > 0 and line == line_indent + line.lstrip() and line.strip() == rest
            else:
                full = ctx.line_prefix + line if index == 0 else line
                cut = bool(line.strip()) and full.rstrip() == target.rstrip()
            if cut:
                lines = lines[:index]
                break
    text = "\n".join(lines)
    if not rest:
        return text
    trimmed = text.rstrip()
    for size in range(min(len(rest), len(trimmed)), 0, -1):
        overlap = rest[:size]
        if trimmed.endswith(overlap) and _droppable(trimmed, overlap, whole=size == len(rest)):
            return trimmed[:-size]
    return text


def _droppable(completion: str, overlap: str, whole: bool) -> bool:
    """May ``overlap``, the end of ``completion``, be dropped as a repeat of the suffix?"""
    if not whole and not all(char in CLOSERS or char.isspace() for char in overlap):
        return False
    unmatched = _unmatched_closers(completion)
    offset = len(completion) - len(overlap)
    for position, char in enumerate(overlap, start=offset):
        if char in _PAIRS and position not in unmatched:
            return False
        if char in "'\"`" and (overlap.count(char) > 1 or completion.count(char) % 2 == 0):
            return False
    return True


def _unmatched_closers(text: str) -> set[int]:
    """Positions of closing brackets with no opening bracket before them in ``text``.

    Angle brackets are counted apart from the others (``<`` is often a comparison) and
    the ``>`` of ``->`` and ``=>`` is not a bracket."""
    stack: list[str] = []
    angles = 0
    unmatched: set[int] = set()
    for position, char in enumerate(text):
        if char in "([{":
            stack.append(char)
        elif char in ")]}":
            if stack and stack[-1] == _PAIRS[char]:
                stack.pop()
            else:
                unmatched.add(position)
        elif char == "<":
            angles += 1
        elif char == ">" and text[position - 1 : position] not in ("-", "="):
            if angles:
                angles -= 1
            else:
                unmatched.add(position)
    return unmatched


# -- 8. the block -----------------------------------------------------------------------


def stop_at_block_end(text: str, ctx: FilterContext) -> str:
    """Cut a multi-line completion where the block being written at the cursor ends, so
    that it adds no sibling definitions or statements after it (see
    :meth:`CursorSite.block_end`). Where the tree cannot tell (no grammar, an ERROR at
    the cursor), the block ends before the first line indented less than it: the body of
    the completed cursor line when that opens a block, else the cursor line's own level;
    a line of closing brackets there (``}``, ``)``) still belongs to it."""
    if "\n" not in text:
        return text
    end = ctx.site.block_end(text) if ctx.site is not None else None
    if end is None:
        end = _indented_block_end(text, ctx)
    return text[:end]


def _indented_block_end(text: str, ctx: FilterContext) -> int:
    lines = _Lines.of(text, ctx)
    for row in lines.code[1:]:
        if lines.indent(row) >= lines.level:
            continue
        if all(char in _BLOCK_CLOSERS for char in lines.rows[row].strip()):
            return lines.starts[row] + len(lines.rows[row])
        return lines.starts[row]
    return len(text)


@attrs.frozen
class _Lines:
    """A completion's lines as they will stand in the document (the first one after the
    text before the cursor), and the indentation of the statements it writes: that of its
    first line, or of the body that line opens."""

    rows: list[str]
    starts: list[int]
    """Where each row starts in the completion (the first at 0)."""
    code: list[int]
    """The rows that are not blank."""
    tab_width: int
    level: int

    @classmethod
    def of(cls, text: str, ctx: FilterContext) -> _Lines:
        lines = text.split("\n")
        rows = [ctx.line_prefix + lines[0], *lines[1:]]
        starts = [0] + [index + 1 for index, char in enumerate(text) if char == "\n"]
        code = [row for row in range(len(rows)) if rows[row].strip()]
        tab_width = _tab_width(ctx.indent_unit, [])
        level = 0
        if code:
            level = _columns(_leading_ws(rows[code[0]]), tab_width)
            body = _columns(_leading_ws(rows[code[1]]), tab_width) if len(code) > 1 else 0
            if _opens_block(rows[code[0]]) and body > level:
                level = body
        return cls(rows, starts, code, tab_width, level)

    def indent(self, row: int) -> int:
        return _columns(_leading_ws(self.rows[row]), self.tab_width)

    def last_statement(self) -> int:
        """Where the last row at the statements' level (after the first) starts; 0 when
        there is none."""
        for row in reversed(self.code[1:]):
            if self.indent(row) <= self.level:
                return self.starts[row]
        return 0


# -- 9, 10. tidying ---------------------------------------------------------------------


def trim_trailing_whitespace(text: str, ctx: FilterContext) -> str:
    """Strip whitespace at the end of every line and blank lines at the end.

    A multi-line completion followed by text on the cursor line (the ``}`` of ``{|}``)
    then ends with a line break and the cursor line's indentation, so that the text
    lands on a line of its own.
    """
    text = "\n".join(line.rstrip() for line in text.split("\n")).rstrip()
    if "\n" in text and ctx.line_suffix.strip():
        return text + "\n" + _leading_ws(ctx.line_prefix + ctx.line_suffix)
    return text


def drop_blank(text: str, ctx: FilterContext) -> str:
    """Nothing at all rather than whitespace."""
    return text if text.strip() else ""


# -- 11. syntax errors ------------------------------------------------------------------


def reject_syntax_errors(text: str, ctx: FilterContext) -> str:
    """Nothing when the completion, inserted at the cursor, adds a syntax error to the
    document (see :meth:`CursorSite.adds_errors`: an error the document already had may
    stay, or be resolved). A generation stopped by its token limit is first cut back to
    before its last statement (the construct the limit left unfinished), if a statement
    remains. Without a grammar, or when the parse takes too long, the completion is let
    through."""
    site = ctx.site
    if site is None or not site.adds_errors(text):
        return text
    if ctx.truncated:
        cut = _Lines.of(text, ctx).last_statement()
        shorter = trim_trailing_whitespace(text[:cut], ctx) if cut else ""
        if shorter.strip() and site.adds_errors(shorter) is False:
            return shorter
    return ""


DEFAULT_CHAIN: tuple[Filter, ...] = (
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


def apply_filters(text: str, ctx: FilterContext, chain: Sequence[Filter] = DEFAULT_CHAIN) -> str:
    """Run ``chain`` over the raw model output; ``""`` means nothing worth showing."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    raw = text
    for step in chain:
        text = step(text, ctx)
        if not text:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("suggestion emptied by %s (%s)", step.__name__, describe_raw(raw))
            return ""
    return text


def describe_raw(raw: str) -> str:
    """The shape of a raw generation, for the debug log (the code itself is never logged):
    its length, how many line breaks it starts with, and how many lines it has."""
    leading = len(raw) - len(raw.lstrip("\n"))
    lines = raw.count("\n") + 1
    return f"raw: {len(raw)} chars, {leading} leading line breaks, {lines} lines"
