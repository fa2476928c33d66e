"""Verifiers for a candidate edit, cheapest first.

Each verifier returns a :class:`Check`; :func:`verify` runs them in order and stops at the
first that fails, so its :class:`Verdict` ends with the reason a candidate was rejected.
That detail is what the refine loop feeds back to the model (execution feedback).

1. :func:`applies_cleanly`: the edits apply to the current document text.
2. :func:`parses`: tree-sitter finds no error in the result that the original did not
   already have outside the edited span.
3. :func:`keeps_code`: the edit removes no function, class or method the file defined
   and does not blank out the lines it was meant to fix (deleting broken code also makes
   it parse).
4. :func:`diagnostic_cleared`: the diagnostic the action was asked to fix is gone and no
   new one appeared (Python: ``ruff`` as a subprocess; other languages: a callable when
   one is given; without one the check passes here and the client's re-published
   diagnostics settle it once the edit is applied, see :mod:`codehearth.refine.recheck`).
5. :func:`style_conforms`: the new text's indentation and quotes match the style profile
   (lenient: only clear contradictions fail).
6. :func:`run_tests`: a configured test command, off unless the workspace is trusted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import attrs
import tree_sitter

from codehearth.index.chunker import chunk_file
from codehearth.languages import LanguageRegistry, parse_with_deadline
from codehearth.refine.edits import (
    EditError,
    EditProposal,
    TextEdit,
    apply_edits,
    line_starts,
    offset_at,
)
from codehearth.style.profile import StyleProfile

PARSE_TIMEOUT_MICROS = 200_000
RUFF_TIMEOUT_S = 5.0
TESTS_TIMEOUT_S = 60.0
STYLE_KEYS = ("indent.style", "indent.size", "quotes.strings")
"""The style attributes :func:`style_conforms` reads."""

_SYNTAX_CODES = frozenset({"E999", "invalid-syntax", "syntax-error"})
_QUOTE_LANGUAGES = frozenset(
    {"python", "javascript", "javascriptreact", "typescript", "typescriptreact"}
)
_SINGLE = re.compile(r"(?<![\w'\"\\])'[^'\"\\\n]*'")
_DOUBLE = re.compile(r"(?<![\w'\"\\])\"[^'\"\\\n]*\"")
_DETAIL_CHARS = 600


@attrs.frozen
class Check:
    """One verifier's result; ``detail`` explains a failure (or why a check was skipped)."""

    name: str
    ok: bool
    detail: str = ""


@attrs.frozen
class Verdict:
    """All checks run on a candidate, in order; ``ok`` when every one passed."""

    ok: bool
    checks: tuple[Check, ...]

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.ok)


@attrs.frozen
class TargetDiagnostic:
    """The diagnostic a quick fix is for; ``line`` is 0-based, ``code`` e.g. ``F401``."""

    code: str
    message: str
    line: int
    char: int = 0


@attrs.frozen
class Candidate:
    """A model's proposed edit with what is needed to judge it."""

    proposal: EditProposal
    original_text: str
    language_id: str
    answer: str = ""
    diagnostic: TargetDiagnostic | None = None


DiagnosticChecker = Callable[[str, str, TargetDiagnostic], Check]
"""(language_id, result_text, diagnostic) -> Check, for languages other than Python."""


@attrs.frozen
class TestCommand:
    """A command that runs the project's tests, e.g. ``("pytest", "-x", "-q")``."""

    __test__ = False  # not a pytest test class

    argv: tuple[str, ...]
    cwd: str
    timeout_s: float = TESTS_TIMEOUT_S


def applies_cleanly(text: str, edits: Sequence[TextEdit]) -> Check:
    """The edits apply to ``text``: inside it and not overlapping."""
    try:
        apply_edits(text, edits)
    except EditError as error:
        return Check("applies_cleanly", False, str(error))
    return Check("applies_cleanly", True)


def _errors(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """The outermost ERROR nodes and every MISSING node under ``node``."""
    if node.is_missing:
        yield node
        return
    if node.type == "ERROR":
        yield node
        return
    if node.has_error:
        for child in node.children:
            yield from _errors(child)


def _signature(node: tree_sitter.Node) -> tuple[str, str]:
    kind = f"missing {node.type}" if node.is_missing else "error"
    text = node.text.decode("utf-8", "replace") if node.text is not None else ""
    return (kind, " ".join(text.split()))


def _byte_spans(text: str, edits: Sequence[TextEdit]) -> list[tuple[int, int]]:
    starts = line_starts(text)
    spans = []
    for edit in edits:
        start = offset_at(text, edit.start_line, edit.start_char, starts)
        end = offset_at(text, edit.end_line, edit.end_char, starts)
        spans.append((len(text[:start].encode()), len(text[:end].encode())))
    return spans


def keeps_code(
    registry: LanguageRegistry, language_id: str, original_text: str, edits: Sequence[TextEdit]
) -> Check:
    """Nothing the file defined disappears, and no edit replaces several lines of code with
    nothing: a fix repairs code, it does not delete it."""
    result_text = apply_edits(original_text, edits)
    before = _defined_symbols(registry, language_id, original_text)
    after = _defined_symbols(registry, language_id, result_text)
    lost = sorted(before - after)
    if lost:
        return Check("keeps_code", False, f"the edit removes {', '.join(lost)}; fix it instead")
    starts = line_starts(original_text)
    for edit in edits:
        start = offset_at(original_text, edit.start_line, edit.start_char, starts)
        end = offset_at(original_text, edit.end_line, edit.end_char, starts)
        replaced = [line for line in original_text[start:end].splitlines() if line.strip()]
        if len(replaced) >= 2 and not edit.new_text.strip():
            return Check(
                "keeps_code",
                False,
                f"the edit deletes {len(replaced)} lines (from line {edit.start_line + 1}) "
                "instead of fixing them",
            )
    return Check("keeps_code", True)


def _defined_symbols(registry: LanguageRegistry, language_id: str, text: str) -> set[str]:
    chunks = chunk_file(registry, language_id, "", text).chunks
    return {chunk.symbol for chunk in chunks if chunk.symbol}


def parses(
    registry: LanguageRegistry,
    language_id: str,
    original_text: str,
    edits: Sequence[TextEdit],
    *,
    timeout_micros: int = PARSE_TIMEOUT_MICROS,
) -> Check:
    """The edited text parses without errors, except those the original already had
    outside the edited span (matched by their text, as the edit may shift them)."""
    parser = registry.parser(language_id)
    if parser is None:
        return Check("parses", True, f"no parser for {language_id}")
    result_text = apply_edits(original_text, edits)
    result = parse_with_deadline(parser, result_text.encode(), timeout_micros)
    if result is None:
        return Check("parses", True, "parse timed out")
    if not result.root_node.has_error:
        return Check("parses", True)
    original = parse_with_deadline(parser, original_text.encode(), timeout_micros)
    spans = _byte_spans(original_text, edits)
    allowed: Counter[tuple[str, str]] = Counter()
    if original is not None:
        for node in _errors(original.root_node):
            if all(node.end_byte < start or node.start_byte > end for start, end in spans):
                allowed[_signature(node)] += 1
    for node in _errors(result.root_node):
        signature = _signature(node)
        if allowed[signature] > 0:
            allowed[signature] -= 1
            continue
        line, column = node.start_point
        what = signature[0] if signature[0] != "error" else "syntax error"
        return Check("parses", False, f"{what} at line {line + 1}, column {column + 1}")
    return Check("parses", True)


def find_ruff() -> str | None:
    """The ``ruff`` binary: on ``PATH``, else next to the running interpreter."""
    found = shutil.which("ruff")
    if found:
        return found
    beside = Path(sys.executable).parent / ("ruff.exe" if os.name == "nt" else "ruff")
    return str(beside) if beside.is_file() else None


def _normal_code(code: object) -> str:
    return "invalid-syntax" if code is None or code in _SYNTAX_CODES else str(code)


def ruff_findings(
    ruff: str, text: str, *, timeout_s: float = RUFF_TIMEOUT_S
) -> list[tuple[str, int, str]]:
    """``ruff check`` findings for Python source as (code, 0-based line, message); syntax
    errors have the code ``invalid-syntax``. Raise ``OSError``/``TimeoutExpired``/
    ``ValueError`` when ruff cannot run or answers garbage."""
    completed = subprocess.run(
        [ruff, "check", "--isolated", "--output-format=json", "--stdin-filename", "x.py", "-"],
        input=text.encode(),
        capture_output=True,
        timeout=timeout_s,
        check=False,
    )
    if completed.returncode not in (0, 1):
        raise ValueError(completed.stderr.decode("utf-8", "replace").strip()[:_DETAIL_CHARS])
    return [
        (_normal_code(item.get("code")), int(item["location"]["row"]) - 1, str(item["message"]))
        for item in json.loads(completed.stdout or b"[]")
    ]


def diagnostic_cleared(
    language_id: str,
    result_text: str,
    diagnostic: TargetDiagnostic,
    *,
    original_text: str,
    ruff: str | None = None,
    checker: DiagnosticChecker | None = None,
    timeout_s: float = RUFF_TIMEOUT_S,
) -> Check:
    """The diagnostic is gone from about its place (within the number of lines the edit
    added or removed) and no other finding is new.

    Python runs ``ruff`` (``ruff`` default: :func:`find_ruff`) on the original and the
    result; other languages use ``checker`` and pass when there is none.
    """
    name = "diagnostic_cleared"
    if language_id != "python":
        if checker is None:
            return Check(name, True, f"no diagnostic checker for {language_id}")
        return checker(language_id, result_text, diagnostic)
    ruff = ruff or find_ruff()
    if ruff is None:
        return Check(name, True, "ruff not installed")
    try:
        before = ruff_findings(ruff, original_text, timeout_s=timeout_s)
        after = ruff_findings(ruff, result_text, timeout_s=timeout_s)
    except subprocess.TimeoutExpired:
        return Check(name, True, "ruff timed out")
    except (OSError, ValueError) as error:
        return Check(name, True, f"ruff failed: {error}")
    target = _normal_code(diagnostic.code)
    shift = abs(len(line_starts(result_text)) - len(line_starts(original_text))) + 1
    for code, line, message in after:
        if code == target and abs(line - diagnostic.line) <= shift:
            return Check(name, False, f"{code} still reported at line {line + 1}: {message}")
    old = Counter(code for code, _, _ in before)
    new = Counter(code for code, _, _ in after)
    for code, line, message in after:
        if new[code] > old[code]:
            return Check(name, False, f"new {code} at line {line + 1}: {message}")
    return Check(name, True)


def _profile_value(profile: Mapping[str, object] | StyleProfile, name: str) -> object:
    return profile.value(name) if isinstance(profile, StyleProfile) else profile.get(name)


def style_conforms(
    language_id: str, new_text: str, profile: Mapping[str, object] | StyleProfile
) -> Check:
    """The new text follows the profile's indentation unit and string quotes, leniently:
    only tabs where spaces are the style (or the reverse), most indented lines off the
    indent size, or several strings all in the other quote fail."""
    name = "style_conforms"
    indent = _profile_value(profile, "indent.style")
    size = _profile_value(profile, "indent.size")
    leads = [
        line[: len(line) - len(line.lstrip(" \t"))]
        for line in new_text.splitlines()
        if line.strip() and line[:1] in " \t"
    ]
    if indent == "spaces" and any(lead.startswith("\t") for lead in leads):
        return Check(name, False, "indents with tabs; this codebase indents with spaces")
    if indent == "tabs" and any(lead.startswith(" ") for lead in leads):
        return Check(name, False, "indents with spaces; this codebase indents with tabs")
    if indent == "spaces" and isinstance(size, int) and size > 0 and leads:
        off = sum(1 for lead in leads if len(lead) % size)
        if off * 2 > len(leads):
            return Check(name, False, f"indentation is not a multiple of {size} spaces")
    quote = _profile_value(profile, "quotes.strings")
    if language_id in _QUOTE_LANGUAGES and quote in ("single", "double"):
        single, double = len(_SINGLE.findall(new_text)), len(_DOUBLE.findall(new_text))
        wrong, right = (single, double) if quote == "double" else (double, single)
        if wrong >= 2 and right == 0:
            return Check(name, False, f"strings should use {quote} quotes")
    return Check(name, True)


def run_tests(command: TestCommand | None, *, trusted: bool) -> Check:
    """Run the configured test command; skipped (ok) unless configured and trusted."""
    name = "run_tests"
    if command is None:
        return Check(name, True, "no test command configured")
    if not trusted:
        return Check(name, True, "skipped: workspace not trusted")
    try:
        completed = subprocess.run(
            list(command.argv),
            cwd=command.cwd,
            capture_output=True,
            timeout=command.timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Check(name, False, f"tests timed out after {command.timeout_s:g}s")
    except OSError as error:
        return Check(name, False, f"cannot run tests: {error}")
    if completed.returncode == 0:
        return Check(name, True)
    output = (completed.stdout + completed.stderr).decode("utf-8", "replace").strip()
    return Check(
        name, False, f"exit code {completed.returncode}: {output[-_DETAIL_CHARS:]}".strip()
    )


def verify(
    candidate: Candidate,
    *,
    registry: LanguageRegistry,
    style: Mapping[str, object] | StyleProfile | None = None,
    ruff: str | None = None,
    checker: DiagnosticChecker | None = None,
    tests: TestCommand | None = None,
    trusted: bool = False,
) -> Verdict:
    """Run the verifiers cheapest first, stopping at the first failing one."""
    edits = candidate.proposal.edits
    text = candidate.original_text
    checks: list[Check] = []

    def failed(check: Check) -> bool:
        checks.append(check)
        return not check.ok

    if failed(applies_cleanly(text, edits)):
        return Verdict(False, tuple(checks))
    if failed(parses(registry, candidate.language_id, text, edits)):
        return Verdict(False, tuple(checks))
    if failed(keeps_code(registry, candidate.language_id, text, edits)):
        return Verdict(False, tuple(checks))
    result_text = apply_edits(text, edits)
    if candidate.diagnostic is not None and failed(
        diagnostic_cleared(
            candidate.language_id,
            result_text,
            candidate.diagnostic,
            original_text=text,
            ruff=ruff,
            checker=checker,
        )
    ):
        return Verdict(False, tuple(checks))
    added = Counter(result_text.splitlines()) - Counter(text.splitlines())
    new_text = "\n".join(added.elements())
    if style is not None and failed(style_conforms(candidate.language_id, new_text, style)):
        return Verdict(False, tuple(checks))
    if tests is not None and failed(run_tests(tests, trusted=trusted)):
        return Verdict(False, tuple(checks))
    return Verdict(True, tuple(checks))
