"""Fixes that need no model: drafts the refine loop verifies before it asks one.

* :func:`syntax_repairs`: one token inserted where the parser wants it, as the syntax
  diagnostics find it (:mod:`codehearth.syntax`: a MISSING node, or an ERROR that one
  token repairs, such as Python's deleted ``:``).
* :func:`ruff_fixes`: ruff's own safe fix for the diagnostic's rule (an unused import, an
  f-string without placeholders), when it changes nothing outside the region.

Each draft is the region's new text; the loop turns it into an edit and runs the same
verifier as for a model's answer, so a draft that breaks something is never offered.
"""

from __future__ import annotations

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
