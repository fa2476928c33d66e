"""Fixes that need no model: drafts the refine loop verifies before it asks one.

* :func:`syntax_repairs`: one token inserted where the parser wants it, as the syntax
  diagnostics find it (:mod:`codehearth.syntax`: a MISSING node, or an ERROR that one
  token repairs, such as Python's deleted ``:``).
* :func:`line_repairs`: one line of a syntax error changed the way typing slips change it:
  indented to a level the code around it uses, a stray closing bracket deleted, a string
  or bracket left open closed. Only changes after which the file parses are drafts; a file
  that parses gets none.
* :func:`ruff_fixes`: ruff's own safe fix for the diagnostic's rule (an unused import, an
  f-string without placeholders), when it changes nothing outside the region.

Each draft is the region's new text; the loop turns it into an edit and runs the same
verifier as for a model's answer, so a draft that breaks something is never offered.
"""

from __future__ import annotations

import ast
import logging
import subprocess

from codehearth.languages import LanguageRegistry
from codehearth.refine.edits import TextRange, range_text
from codehearth.refine.verify import RUFF_TIMEOUT_S
from codehearth.syntax import syntax_problems

log = logging.getLogger(__name__)


def syntax_repairs(
    registry: LanguageRegistry, language_id: str, text: str, region: TextRange
) -> list[str]:
    """New texts for ``region``, one per syntax error in it that one token repairs (the
    token :func:`codehearth.syntax.syntax_problems` names: ``expected ':'``), inserted
    where the parser wants it."""
    lines = text.split("\n")
    drafts: list[str] = []
    for problem in syntax_problems(registry, language_id, text):
        row, column = problem.end_line, problem.end_column
        if not problem.repair or not region.start_line <= row <= region.end_line:
            continue
        fixed = [*lines[:row], lines[row][:column] + problem.repair + lines[row][column:]]
        fixed += lines[row + 1 :]
        grown = region
        if row == region.end_line:
            end_char = region.end_char + len(problem.repair)
            grown = TextRange(region.start_line, region.start_char, region.end_line, end_char)
        drafts.append(range_text("\n".join(fixed), grown))
    return drafts


MAX_LINE_REPAIRS = 4
"""Drafts :func:`line_repairs` offers at most (each is verified in turn)."""
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_OPENERS = {opener: closer for closer, opener in _CLOSERS.items()}


def line_repairs(
    registry: LanguageRegistry,
    language_id: str,
    text: str,
    region: TextRange,
    diagnostic_line: int | None = None,
) -> list[str]:
    """New texts for ``region`` that each change one line (see :func:`line_variants`) of a
    file that does not parse, after which it does; the smallest changes first. The lines
    tried are those of the syntax errors found and the diagnostic's (Python's indentation
    errors are no tree-sitter error)."""
    if parses(registry, language_id, text) is not False:
        return []
    rows = {
        row
        for problem in syntax_problems(registry, language_id, text)
        for row in range(problem.start_line - 1, problem.end_line + 1)
    }
    if diagnostic_line is not None:
        rows |= {diagnostic_line - 1, diagnostic_line}
    lines = text.split("\n")
    found: list[tuple[int, str]] = []
    for row in sorted(row for row in rows if region.start_line <= row <= region.end_line):
        for variant in line_variants(lines, row):
            fixed = "\n".join([*lines[:row], variant, *lines[row + 1 :]])
            if not parses(registry, language_id, fixed):
                continue
            grown = region
            if row == region.end_line:
                end_char = region.end_char + len(variant) - len(lines[row])
                grown = TextRange(region.start_line, region.start_char, region.end_line, end_char)
            found.append((abs(len(variant) - len(lines[row])), range_text(fixed, grown)))
    found.sort(key=lambda item: item[0])  # stable: a line's variants keep their order
    return list(dict.fromkeys(draft for _, draft in found))[:MAX_LINE_REPAIRS]


def parses(registry: LanguageRegistry, language_id: str, text: str) -> bool | None:
    """Whether ``text`` parses: for Python, as the compiler reads it (indentation included;
    parsed, never run), else by tree-sitter; None without a grammar."""
    if language_id == "python":
        try:
            ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
        return True
    parser = registry.parser(language_id)
    if parser is None:
        return None
    return not parser.parse(text.encode("utf-8", "surrogatepass")).root_node.has_error


def line_variants(lines: list[str], row: int) -> list[str]:
    """Line ``row`` changed as a slip of typing would be undone: indented to each level the
    lines above use (one level deeper after a line that opens a block), nearest first; a
    closing bracket with no opener on the line deleted; an open string or bracket closed at
    the end of the line (before a closing bracket that ends it, for a string)."""
    line = lines[row]
    code = line.strip()
    if not code:
        return []
    variants: list[str] = []
    indent = line[: len(line) - len(line.lstrip())]
    prefixes: set[str] = set()
    above = [text for text in lines[max(0, row - 50) : row] if text.strip()]
    for text in above:
        prefixes.add(text[: len(text) - len(text.lstrip())])
    if above and above[-1].rstrip().endswith((":", "{")):
        previous = above[-1][: len(above[-1]) - len(above[-1].lstrip())]
        deeper = sorted((p for p in prefixes if p.startswith(previous) and p != previous), key=len)
        prefixes.add(deeper[0] if deeper else previous + ("\t" if "\t" in previous else "    "))
    # Nearest level first; of two as near, the deeper one (the line stays in its block).
    for prefix in sorted(
        prefixes - {indent}, key=lambda prefix: (abs(len(prefix) - len(indent)), -len(prefix))
    ):
        variants.append(prefix + code)
    depth: list[str] = []
    for at, char in enumerate(line):
        if char in _OPENERS:
            depth.append(char)
        elif char in _CLOSERS:
            if depth and depth[-1] == _CLOSERS[char]:
                depth.pop()
            else:
                variants.append(line[:at] + line[at + 1 :])
    body = line.rstrip()
    if depth:
        variants.append(body + "".join(_OPENERS[opener] for opener in reversed(depth)))
    for quote in ('"', "'"):
        if body.count(quote) % 2 == 1 and quote * 3 not in body:
            variants.append(body + quote)
            stripped = body.rstrip(")]}")
            if stripped != body:
                variants.append(stripped + quote + body[len(stripped) :])
    return variants


def ruff_fixes(ruff: str, text: str, region: TextRange, code: str) -> list[str]:
    """ruff's safe fix of rule ``code`` as the region's new text, when the fix changes
    only the region's lines (else nothing: the edit must stay in the region)."""
    try:
        done = subprocess.run(
            [ruff, "check", "--isolated", "--fix-only", "--exit-zero", "--select", code,
             "--stdin-filename", "x.py", "-"],
            input=text, capture_output=True, text=True, timeout=RUFF_TIMEOUT_S, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        log.info("ruff --fix failed: %s", error)
        return []
    fixed = done.stdout
    if done.returncode != 0 or not fixed or fixed == text:
        return []
    before, after = text.split("\n"), fixed.split("\n")
    head, tail = region.start_line, len(before) - region.end_line - 1
    if before[:head] != after[:head] or (tail and before[-tail:] != after[-tail:]):
        return []
    return ["\n".join(after[head : len(after) - tail])]  # "" when the fix deletes the lines


def as_answer(draft: str) -> str:
    """A draft in the shape of a model's answer (a fenced block; empty: delete the region)."""
    return f"```\n{draft}\n```" if draft else "```\n```"
