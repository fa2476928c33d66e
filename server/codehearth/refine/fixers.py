"""Fixes that need no model: drafts the refine loop verifies before it asks one.

* :func:`syntax_repairs`: one token inserted where the parser wants it. tree-sitter marks
  some gaps as MISSING nodes (a JavaScript ``}``, a ``]``); for others (Python's deleted
  ``:``) it only reports an ERROR, so a closing token is also tried at the end of each line
  of the region, and kept only when the region then parses without error.
* :func:`ruff_fixes`: ruff's own safe fix for the diagnostic's rule (an unused import, an
  f-string without placeholders), when it changes nothing outside the region.

Each draft is the region's new text; the loop turns it into an edit and runs the same
verifier as for a model's answer, so a draft that breaks something is never offered.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator

import tree_sitter

from codehearth.refine.edits import TextRange, range_text

log = logging.getLogger(__name__)

INSERTABLE = (":", ")", "]", "}", ";", ",")
"""Tokens tried at the end of a line: what an edit most often loses there."""
MOST_REPAIRS = 3
RUFF_FIX_TIMEOUT_S = 5.0


def _errors_in(node: tree_sitter.Node, first_row: int, last_row: int) -> int:
    """ERROR and MISSING nodes under ``node`` that touch rows ``first_row..last_row``."""
    if node.end_point.row < first_row or node.start_point.row > last_row:
        return 0
    if node.is_missing or node.type == "ERROR":
        return 1
    if not node.has_error:
        return 0
    return sum(_errors_in(child, first_row, last_row) for child in node.children)


def _missing_nodes(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    if node.is_missing:
        yield node
    elif node.has_error:
        for child in node.children:
            yield from _missing_nodes(child)


def syntax_repairs(
    parser: tree_sitter.Parser, text: str, region: TextRange, *, most: int = MOST_REPAIRS
) -> list[str]:
    """New texts for ``region`` that each insert one token and leave the region parsing
    cleanly, best first: tree-sitter's MISSING tokens, then a token at a line's end."""
    first, last = region.start_line, region.end_line
    tree = parser.parse(text.encode("utf-8"))
    if _errors_in(tree.root_node, first, last) == 0:
        return []
    lines = text.split("\n")
    tried: set[str] = set()
    repairs: list[str] = []

    def attempt(line: int, column: int, token: str) -> None:
        candidate_lines = list(lines)
        current = candidate_lines[line]
        candidate_lines[line] = current[:column] + token + current[column:]
        candidate = "\n".join(candidate_lines)
        if candidate in tried or len(repairs) >= most:
            return
        tried.add(candidate)
        repaired = parser.parse(candidate.encode("utf-8"))
        if _errors_in(repaired.root_node, first, last) == 0:
            repairs.append(range_text(candidate, _grown(region, line, token)))

    for node in _missing_nodes(tree.root_node):
        row = node.start_point.row
        if first <= row <= last and node.type in INSERTABLE:
            line_bytes = text.encode("utf-8").split(b"\n")[row]
            column = len(line_bytes[: node.start_point.column].decode("utf-8", "replace"))
            attempt(row, column, node.type)
    for row in range(first, last + 1):
        code = lines[row].rstrip("\r")
        end = len(code.rstrip())
        for token in INSERTABLE:
            attempt(row, end, token)
    return repairs


def _grown(region: TextRange, line: int, token: str) -> TextRange:
    """``region`` after ``token`` was inserted on ``line`` (its last line grows)."""
    if line != region.end_line:
        return region
    return TextRange(
        region.start_line, region.start_char, region.end_line, region.end_char + len(token)
    )


def ruff_fixes(ruff: str, text: str, region: TextRange, code: str) -> list[str]:
    """ruff's safe fix of rule ``code`` as the region's new text, when the fix changes
    only the region's lines (else nothing: the edit must stay in the region)."""
    try:
        done = subprocess.run(
            [ruff, "check", "--isolated", "--fix-only", "--exit-zero", "--select", code,
             "--stdin-filename", "x.py", "-"],
            input=text, capture_output=True, text=True, timeout=RUFF_FIX_TIMEOUT_S, check=False,
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
