"""``codehearth context FOLDER --file F --line L --col C``: the workspace context a prompt
would carry at a cursor, as text or JSON, within the budget, with workspace-relative paths,
never showing secrets, and exit code 2 for a cursor that is not in the file."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from codehearth.cli import main

CANARY = "CANARY-7f3b9c-do-not-leak"

UTIL = '''\
"""Money helpers."""

TAX_RATE = 0.2


def compute_tax(amount, rate=TAX_RATE):
    """Tax owed on an amount."""
    return round(amount * rate, 2)
'''

MAIN = """\
from util import compute_tax


def checkout(cart):
    subtotal = sum(item.price for item in cart)
    tax = compute_tax(subtotal)
    token = load_api_token()
    return subtotal + tax, token
"""

CALL_LINE = 6  # 1-based line of `tax = compute_tax(subtotal)`
CALL_COL = MAIN.split("\n")[CALL_LINE - 1].index("compute_tax(") + len("compute_tax(") + 1

WORKSPACE = {
    "util.py": UTIL,
    "main.py": MAIN,
    ".env": f"API_TOKEN={CANARY}\n",
    ".env.py": f'def load_api_token():\n    return "{CANARY}"\n',
    "id_rsa.py": f'def load_api_token():\n    return "{CANARY}"\n',
    ".aws/credentials": f"aws_secret_access_key = {CANARY}\n",
}


def write_tree(root: Path, files: Mapping[str, str]) -> None:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "ws"
    write_tree(root, WORKSPACE)
    return root


def run_context(
    capsys: pytest.CaptureFixture[str], root: Path, *extra: str, line: int, col: int
) -> tuple[int, str, str]:
    code = main(
        [
            "context",
            str(root),
            "--file",
            str(root / "main.py"),
            "--line",
            str(line),
            "--col",
            str(col),
            *extra,
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def context_json(
    capsys: pytest.CaptureFixture[str], root: Path, budget: int | None = None
) -> dict[str, Any]:
    extra = ["--json"] + (["--budget", str(budget)] if budget is not None else [])
    code, out, err = run_context(capsys, root, *extra, line=CALL_LINE, col=CALL_COL)
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def test_json_shows_the_callee_definition_with_a_relative_path(
    capsys: pytest.CaptureFixture[str], workspace: Path
) -> None:
    data = context_json(capsys, workspace, budget=300)

    assert data["budget"] == 300
    by_file = {row["file"]: row for row in data["snippets"]}
    assert "util.py" in by_file
    assert "def compute_tax(amount, rate=TAX_RATE):" in by_file["util.py"]["text"]
    assert any(chunk["symbol"] == "compute_tax" for chunk in by_file["util.py"]["chunks"])
    compute_tax = next(c for c in by_file["util.py"]["chunks"] if c["symbol"] == "compute_tax")
    assert compute_tax["range"] == [6, 8]  # 1-based, inclusive


@pytest.mark.parametrize("budget", [1, 20, 60, 300, 1024])
def test_json_stays_within_the_budget_with_relative_paths(
    capsys: pytest.CaptureFixture[str], workspace: Path, budget: int
) -> None:
    data = context_json(capsys, workspace, budget=budget)

    assert sum(row["tokens"] for row in data["snippets"]) <= budget
    for row in data["snippets"]:
        assert not Path(row["file"]).is_absolute()
        assert (workspace / row["file"]).is_file()
        assert str(workspace) not in row["text"]


def test_zero_budget_gives_no_snippets(capsys: pytest.CaptureFixture[str], workspace: Path) -> None:
    assert context_json(capsys, workspace, budget=0)["snippets"] == []


def test_text_output_heads_each_snippet_with_its_file(
    capsys: pytest.CaptureFixture[str], workspace: Path
) -> None:
    code, out, _ = run_context(capsys, workspace, "--budget", "300", line=CALL_LINE, col=CALL_COL)

    assert code == 0
    assert "== util.py (" in out
    assert "def compute_tax(amount, rate=TAX_RATE):" in out
    assert str(workspace) not in out


@pytest.mark.parametrize("as_json", [pytest.param(True, id="json"), pytest.param(False, id="text")])
def test_secrets_never_appear_in_the_output(
    capsys: pytest.CaptureFixture[str], workspace: Path, as_json: bool
) -> None:
    lines = MAIN.split("\n")
    token_line = lines.index("    token = load_api_token()") + 1
    extra = ["--budget", "4000", *(["--json"] if as_json else [])]

    code, out, err = run_context(
        capsys, workspace, *extra, line=token_line, col=len(lines[token_line - 1])
    )

    assert code == 0, err
    assert CANARY not in out
    assert CANARY not in err


def test_cursor_at_the_end_of_a_line_is_accepted(
    capsys: pytest.CaptureFixture[str], workspace: Path
) -> None:
    end_col = len(MAIN.split("\n")[CALL_LINE - 1]) + 1

    code, _, err = run_context(capsys, workspace, "--json", line=CALL_LINE, col=end_col)

    assert code == 0, err


@pytest.mark.parametrize(
    ("line", "col"),
    [
        pytest.param(0, 1, id="line-zero"),
        pytest.param(999, 1, id="line-past-the-end"),
        pytest.param(1, 0, id="col-zero"),
        pytest.param(CALL_LINE, 200, id="col-past-the-end"),
    ],
)
def test_a_cursor_outside_the_file_exits_2(
    capsys: pytest.CaptureFixture[str], workspace: Path, line: int, col: int
) -> None:
    code, out, err = run_context(capsys, workspace, line=line, col=col)

    assert code == 2
    assert out == ""
    assert "has no line" in err


def test_a_missing_file_exits_2(capsys: pytest.CaptureFixture[str], workspace: Path) -> None:
    gone = workspace / "gone.py"

    code = main(["context", str(workspace), "--file", str(gone), "--line", "1", "--col", "1"])

    assert code == 2
    assert "codehearth context:" in capsys.readouterr().err
