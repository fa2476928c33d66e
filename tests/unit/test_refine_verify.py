"""The verifiers of a candidate edit, and ``verify`` running them cheapest first."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from codehearth.languages import LanguageRegistry
from codehearth.refine.edits import EditProposal, TextEdit
from codehearth.refine.verify import (
    Candidate,
    Check,
    TargetDiagnostic,
    TestCommand,
    applies_cleanly,
    diagnostic_cleared,
    find_ruff,
    keeps_code,
    parses,
    run_tests,
    style_conforms,
    verify,
)

REGISTRY = LanguageRegistry.load()
RUFF = find_ruff()
needs_ruff = pytest.mark.skipif(RUFF is None, reason="ruff not installed")

UNUSED_IMPORT = "import os\nimport sys\n\nprint(sys.argv)\n"
UNDEFINED_NAME = "def total(items):\n    return sum(item for item in itemz)\n"
BROKEN = "def f(:\n    pass\n"


def test_applies_cleanly() -> None:
    assert applies_cleanly("abc", [TextEdit(0, 0, 0, 1, "x")]) == Check("applies_cleanly", True)
    check = applies_cleanly("abc", [TextEdit(2, 0, 2, 1, "x")])
    assert not check.ok
    assert "outside the document" in check.detail


@pytest.mark.parametrize(
    ("language_id", "original", "edits", "ok", "detail"),
    [
        pytest.param("python", "x = 1\n", [TextEdit(0, 4, 0, 5, "2")], True, "", id="valid"),
        pytest.param(
            "python",
            "x = 1\n",
            [TextEdit(0, 4, 0, 5, "(2")],
            False,
            "at line 1",
            id="new-error",
        ),
        pytest.param(
            "python",
            "def f(:\n    pass\n\nx = 1\n",
            [TextEdit(3, 4, 3, 5, "2")],
            True,
            "",
            id="old-error-outside-region",
        ),
        pytest.param(
            "python",
            "x = 1\n\ndef f(:\n    pass\n",
            [TextEdit(0, 0, 0, 0, "\n\n")],
            True,
            "",
            id="old-error-shifted",
        ),
        pytest.param(
            "python",
            "def f(:\n    pass\n\nx = 1\n",
            [TextEdit(3, 4, 3, 5, "[")],
            False,
            "line 4",
            id="old-error-and-new-one",
        ),
        pytest.param(
            "python",
            BROKEN,
            [TextEdit(0, 6, 0, 6, "x")],
            False,
            "line 1",
            id="error-in-region-not-fixed",
        ),
        pytest.param(
            "python", BROKEN, [TextEdit(0, 6, 0, 7, "):")], True, "", id="error-in-region-fixed"
        ),
        pytest.param(
            "javascript",
            "const a = 1;\n",
            [TextEdit(0, 10, 0, 11, "{")],
            False,
            "line 1",
            id="javascript",
        ),
        pytest.param(
            "no-such-language",
            "x",
            [TextEdit(0, 0, 0, 1, "(")],
            True,
            "no parser for no-such-language",
            id="no-parser",
        ),
    ],
)
def test_parses(
    language_id: str, original: str, edits: list[TextEdit], ok: bool, detail: str
) -> None:
    check = parses(REGISTRY, language_id, original, edits)
    assert check.ok == ok, check.detail
    assert detail in check.detail


@needs_ruff
@pytest.mark.parametrize(
    ("original", "result", "diagnostic", "ok", "detail"),
    [
        pytest.param(
            UNUSED_IMPORT,
            "import sys\n\nprint(sys.argv)\n",
            TargetDiagnostic("F401", "`os` imported but unused", 0),
            True,
            "",
            id="F401-fixed",
        ),
        pytest.param(
            UNUSED_IMPORT,
            "import os  # keep\nimport sys\n\nprint(sys.argv)\n",
            TargetDiagnostic("F401", "`os` imported but unused", 0),
            False,
            "F401 still reported at line 1",
            id="F401-not-fixed",
        ),
        pytest.param(
            UNDEFINED_NAME,
            "def total(items):\n    return sum(item for item in items)\n",
            TargetDiagnostic("F821", "Undefined name `itemz`", 1),
            True,
            "",
            id="F821-fixed",
        ),
        pytest.param(
            UNDEFINED_NAME,
            "def total(items):\n    return sum(item for item in items) + count\n",
            TargetDiagnostic("F821", "Undefined name `itemz`", 1),
            False,
            "F821 still reported",
            id="F821-replaced-by-another",
        ),
        pytest.param(
            UNDEFINED_NAME,
            "import json\n\n\ndef total(items):\n    return sum(item for item in items)\n",
            TargetDiagnostic("F821", "Undefined name `itemz`", 1),
            False,
            "new F401 at line 1",
            id="F821-fixed-but-new-finding",
        ),
        pytest.param(
            BROKEN,
            "def f():\n    pass\n",
            TargetDiagnostic("E999", "SyntaxError", 0),
            True,
            "",
            id="syntax-error-fixed",
        ),
        pytest.param(
            BROKEN,
            "def f(:\n    return 1\n",
            TargetDiagnostic("E999", "SyntaxError", 0),
            False,
            "invalid-syntax still reported at line 1",
            id="syntax-error-not-fixed",
        ),
    ],
)
def test_diagnostic_cleared_with_ruff(
    original: str, result: str, diagnostic: TargetDiagnostic, ok: bool, detail: str
) -> None:
    check = diagnostic_cleared("python", result, diagnostic, original_text=original, ruff=RUFF)
    assert check.ok == ok, check.detail
    assert detail in check.detail


def test_diagnostic_cleared_without_ruff(tmp_path: Path) -> None:
    check = diagnostic_cleared(
        "python",
        "x",
        TargetDiagnostic("F401", "", 0),
        original_text="x",
        ruff=str(tmp_path / "missing-ruff"),
    )
    assert check.ok
    assert "ruff failed" in check.detail


def test_diagnostic_cleared_when_ruff_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("codehearth.refine.verify.find_ruff", lambda: None)
    check = diagnostic_cleared("python", "x", TargetDiagnostic("F401", "", 0), original_text="x")
    assert check == Check("diagnostic_cleared", True, "ruff not installed")


def test_diagnostic_cleared_other_languages_use_the_checker() -> None:
    seen: list[tuple[str, str, TargetDiagnostic]] = []

    def checker(language_id: str, text: str, diagnostic: TargetDiagnostic) -> Check:
        seen.append((language_id, text, diagnostic))
        return Check("diagnostic_cleared", False, "TS2304 still reported")

    diagnostic = TargetDiagnostic("2304", "Cannot find name 'x'", 0)
    check = diagnostic_cleared("typescript", "y;", diagnostic, original_text="x;", checker=checker)
    assert not check.ok
    assert seen == [("typescript", "y;", diagnostic)]
    unchecked = diagnostic_cleared("typescript", "y;", diagnostic, original_text="x;")
    assert unchecked.ok
    assert unchecked.detail == "no diagnostic checker for typescript"


@pytest.mark.parametrize(
    ("language_id", "text", "profile", "ok"),
    [
        pytest.param(
            "python", "if x:\n    y = 'a'\n", {"indent.style": "spaces"}, True, id="spaces"
        ),
        pytest.param("python", "if x:\n\ty = 1\n", {"indent.style": "spaces"}, False, id="tabs"),
        pytest.param("go", "if x {\n\ty()\n}\n", {"indent.style": "tabs"}, True, id="go-tabs"),
        pytest.param("go", "if x {\n    y()\n}\n", {"indent.style": "tabs"}, False, id="go-spaces"),
        pytest.param(
            "python",
            "if x:\n  a = 1\n  if y:\n    b = 2\n",
            {"indent.style": "spaces", "indent.size": 4},
            False,
            id="two-space-unit",
        ),
        pytest.param(
            "python",
            "f(a,\n  b)\nif x:\n    y()\n    z()\n",
            {"indent.style": "spaces", "indent.size": 4},
            True,
            id="hanging-indent-is-lenient",
        ),
        pytest.param(
            "python",
            "a = 'x'\nb = 'y'\n",
            {"quotes.strings": "double"},
            False,
            id="single-quotes",
        ),
        pytest.param(
            "python", "a = 'x'\nb = \"y\"\n", {"quotes.strings": "double"}, True, id="mixed"
        ),
        pytest.param(
            "python", 'a = "it\'s"\n', {"quotes.strings": "single"}, True, id="needs-other"
        ),
        pytest.param("go", "a := 'x' + 'y'\n", {"quotes.strings": "double"}, True, id="runes"),
        pytest.param("python", "\tx = 'a'\n", {}, True, id="no-profile"),
    ],
)
def test_style_conforms(language_id: str, text: str, profile: dict[str, object], ok: bool) -> None:
    check = style_conforms(language_id, text, profile)
    assert check.ok == ok, check.detail


PRINT_ONE = TestCommand((sys.executable, "-c", "print(1)"), cwd=".")


@pytest.mark.parametrize(
    ("command", "trusted", "detail"),
    [
        pytest.param(None, True, "no test command configured", id="unconfigured"),
        pytest.param(PRINT_ONE, False, "skipped: workspace not trusted", id="untrusted"),
    ],
)
def test_run_tests_is_off_by_default(
    command: TestCommand | None, trusted: bool, detail: str
) -> None:
    assert run_tests(command, trusted=trusted) == Check("run_tests", True, detail)


def test_run_tests_trusted() -> None:
    assert run_tests(PRINT_ONE, trusted=True) == Check("run_tests", True)
    failing = TestCommand((sys.executable, "-c", "raise SystemExit(3)"), cwd=".")
    check = run_tests(failing, trusted=True)
    assert not check.ok
    assert check.detail.startswith("exit code 3")


BROKEN_DEF = (
    "def cheapest(items)\n"
    "    return min(items)\n"
    "\n"
    "\n"
    "class Shelf:\n"
    "    def count(self):\n"
    "        return 1\n"
)


@pytest.mark.parametrize(
    ("edits", "ok", "detail"),
    [
        pytest.param([TextEdit(0, 19, 0, 19, ":")], True, "", id="a-real-fix"),
        pytest.param(
            [TextEdit(0, 0, 4, 0, "")], False, "deletes 2 lines", id="blanks-the-broken-code"
        ),
        pytest.param(
            [TextEdit(4, 0, 7, 0, "")], False, "removes Shelf, Shelf.count", id="drops-a-class"
        ),
        pytest.param(
            [TextEdit(5, 0, 7, 0, "    pass\n")], False, "removes Shelf.count", id="drops-a-method"
        ),
        pytest.param(
            [TextEdit(0, 19, 2, 0, ":\n    return None\n")], True, "", id="rewrites-the-body"
        ),
    ],
)
def test_keeps_code(edits: list[TextEdit], ok: bool, detail: str) -> None:
    check = keeps_code(REGISTRY, "python", BROKEN_DEF, edits)
    assert (check.ok, detail in check.detail) == (ok, True), check.detail


def _candidate(text: str, edits: list[TextEdit], diagnostic: TargetDiagnostic | None) -> Candidate:
    return Candidate(EditProposal("file:///x.py", 1, tuple(edits)), text, "python", "", diagnostic)


@needs_ruff
def test_verify_runs_every_check_on_a_good_candidate() -> None:
    candidate = _candidate(
        UNUSED_IMPORT, [TextEdit(0, 0, 1, 0, "")], TargetDiagnostic("F401", "unused", 0)
    )
    verdict = verify(
        candidate,
        registry=REGISTRY,
        style={"indent.style": "spaces"},
        ruff=RUFF,
        tests=PRINT_ONE,
        trusted=True,
    )
    assert verdict.ok
    assert [check.name for check in verdict.checks] == [
        "applies_cleanly",
        "parses",
        "keeps_code",
        "diagnostic_cleared",
        "style_conforms",
        "run_tests",
    ]
    assert verdict.failed == ()


@pytest.mark.parametrize(
    ("edits", "names"),
    [
        pytest.param([TextEdit(9, 0, 9, 0, "x")], ["applies_cleanly"], id="does-not-apply"),
        pytest.param([TextEdit(0, 0, 0, 0, "def (")], ["applies_cleanly", "parses"], id="parse"),
        pytest.param(
            [TextEdit(3, 0, 3, 0, "if True:\n\tpass\n")],
            ["applies_cleanly", "parses", "keeps_code", "style_conforms"],
            id="style",
        ),
    ],
)
def test_verify_stops_at_the_first_failure(edits: list[TextEdit], names: list[str]) -> None:
    candidate = _candidate(UNUSED_IMPORT, edits, None)
    verdict = verify(candidate, registry=REGISTRY, style={"indent.style": "spaces"})
    assert not verdict.ok
    assert [check.name for check in verdict.checks] == names
    assert verdict.failed == verdict.checks[-1:]
