"""``codehearth eval`` end to end: the command runs real ``codehearth serve`` processes
over stdio against the fake Ollama, on the sample workspace and on a tiny repository whose
fake model only knows an answer when the definition it needs is in its prompt."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from codehearth.models.embedded_backend import embedded_available
from tests.fakes.fake_ollama import FakeOllama

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "workspace"
REPO = ROOT / "tests" / "fixtures" / "eval_repo"
EVAL = [sys.executable, "-m", "codehearth", "eval"]


def settings_file(tmp_path: Path, host: str, **extra: Any) -> Path:
    path = tmp_path / "settings.json"
    options = {"ollama": {"host": host, "warmUp": False}, "models": {"embedded": "off"}, **extra}
    path.write_text(json.dumps(options), encoding="utf-8")
    return path


def run_eval(
    root: Path, settings: Path, *flags: str, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EVAL, str(root), "--settings", str(settings), *flags],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def summary(report: dict[str, Any], key: str = "summary") -> dict[tuple[str, ...], Any]:
    return {
        (row["condition"],) if key == "summary" else (row["condition"], row["kind"]): row
        for row in report[key]
    }


def test_the_sample_workspace_is_measured_under_each_condition_and_a_rerun_resumes(
    ollama: FakeOllama, tmp_path: Path
) -> None:
    ollama.set_text("return sum(item.price * item.quantity for item in items)\n")
    settings = settings_file(tmp_path, ollama.url)
    results = tmp_path / "results.jsonl"
    done = run_eval(SAMPLE, settings, "--limit", "3", "--json", "--results", str(results))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    rows = summary(report)
    assert list(rows) == [("none",), ("codehearth",), ("oracle",)]
    for row in rows.values():
        # two code lines in function bodies (the sample has one file: no cross-file call)
        assert row["tasks"] == 2
        assert row["exact_match"] == 0.5  # total_value's line, not cheapest's
        assert row["empty"] == 0.0
        assert "qwen2.5-coder:1.5b-base" in row["answered_by"]
        assert row["p50_ms"] is not None and row["p95_ms"] >= row["p50_ms"]
    assert report["tasks"] == {"before_symbol": 0, "after_call": 0, "next_line": 2}
    sent = [request.body or {} for request in ollama.generations()]
    assert {body["options"]["temperature"] for body in sent} == {0}
    assert len(results.read_text(encoding="utf-8").splitlines()) == 6

    asked = len(ollama.generations())
    again = run_eval(SAMPLE, settings, "--limit", "3", "--results", str(results))
    assert again.returncode == 0, again.stderr
    assert len(ollama.generations()) == asked  # everything was done: no server, no model
    assert "6 results already in" in again.stderr
    table = again.stdout.splitlines()
    assert table[0].split()[:3] == ["model", "condition", "tasks"]
    assert [line.split()[:4] for line in table[2:]] == [
        ["default", condition, "2", "50.0%"] for condition in ("none", "codehearth", "oracle")
    ]


def knows_only_what_it_is_shown(body: dict[str, Any]) -> str:
    """The rest of the cursor's line in the fixture repository; for a line of orders.py,
    only when the definition of the pricing.py name at the cursor (the one it starts, or
    the one whose ``(`` it follows) is in the prompt, else ``pass``."""
    prompt = str(body.get("prompt", ""))
    match = re.search(r"<\|fim_prefix\|>(.*)<\|fim_suffix\|>", prompt, re.S)
    assert match is not None, prompt
    *_, previous, current = ("\n" + match.group(1)).split("\n")
    for path in sorted(REPO.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").split("\n")
        for before, line in pairwise(lines):
            if before == previous and line.startswith(current) and line != current:
                rest = line[len(current) :]
                at_cursor = re.search(r"(\w+)\($", current) or re.match(r"\w+", rest)
                name = at_cursor.group(1 if current.endswith("(") else 0) if at_cursor else ""
                pricing = name in {"apply_discount", "add_item", "total", "Cart"}
                shown = re.search(rf"(def|class) {name}\b", prompt)
                if path.name == "orders.py" and pricing and not shown:
                    return "pass\n"
                return rest + "\n"
    return "pass\n"


def test_the_oracle_condition_shows_the_model_the_definition_it_needs(
    ollama: FakeOllama, tmp_path: Path
) -> None:
    ollama.responder = knows_only_what_it_is_shown
    done = run_eval(REPO, settings_file(tmp_path, ollama.url), "--limit", "9", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["tasks"] == {"before_symbol": 3, "after_call": 3, "next_line": 3}
    kinds = summary(report, "by_kind")
    for kind in ("before_symbol", "after_call"):
        assert kinds[("none", kind)]["exact_match"] == 0.0, kind
        assert kinds[("oracle", kind)]["exact_match"] == 1.0, kind
        # CodeHearth's own retrieval finds what orders.py imports from pricing.py
        assert kinds[("codehearth", kind)]["exact_match"] == 1.0, kind
    for condition in ("none", "codehearth", "oracle"):
        assert kinds[(condition, "next_line")]["exact_match"] > 0  # some need no other file
    oracle = [r for r in report["results"] if r["condition"] == "oracle"]
    assert all(r["edit_similarity"] == 1.0 for r in oracle if r["kind"] != "next_line")


def test_ctrl_c_prints_what_is_done_and_a_rerun_does_the_rest(
    ollama: FakeOllama, tmp_path: Path
) -> None:
    ollama.set_text("apply_discount(cart.total(), percent)\n")
    ollama.first_token_delay = 0.3
    settings = settings_file(tmp_path, ollama.url)
    results = tmp_path / "results.jsonl"
    flags = ["--limit", "6", "--condition", "none", "--results", str(results)]
    running = subprocess.Popen(
        [*EVAL, str(REPO), "--settings", str(settings), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 120
    while not (results.exists() and results.read_text(encoding="utf-8").count("\n") >= 2):
        assert running.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    running.send_signal(signal.SIGINT)
    stdout, stderr = running.communicate(timeout=60)
    assert running.returncode == 130, stderr
    recorded = results.read_text(encoding="utf-8").count("\n")
    assert 2 <= recorded < 6
    assert f"interrupted; {recorded} of 6 results done" in stderr
    [row] = stdout.splitlines()[2:]
    assert row.split()[:3] == ["default", "none", str(recorded)]

    ollama.first_token_delay = 0.0
    asked = len(ollama.generations())
    rest = run_eval(REPO, settings, *flags, "--json")
    assert rest.returncode == 0, rest.stderr
    assert f"{recorded} results already in" in rest.stderr
    assert summary(json.loads(rest.stdout))[("none",)]["tasks"] == 6
    assert results.read_text(encoding="utf-8").count("\n") == 6
    # the tasks left, and one unmeasured completion that loads the model first
    assert len(ollama.generations()) - asked == 6 - recorded + 1


def test_a_model_the_workspace_settings_override_is_reported_and_skipped(
    ollama: FakeOllama, tmp_path: Path
) -> None:
    """The sample's codehearth.toml sets completion.model, which wins over --model."""
    done = run_eval(
        SAMPLE, settings_file(tmp_path, ollama.url), "--model", "qwen2.5-coder:7b", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert "qwen2.5-coder:7b: skipped, the workspace's codehearth.toml sets" in done.stderr
    assert json.loads(done.stdout)["summary"] == []
    assert ollama.generations() == []


@pytest.mark.model
@pytest.mark.skipif(not embedded_available(), reason="codehearth[embedded] not installed")
def test_the_built_in_model_answers_when_ollama_is_unreachable(tmp_path: Path) -> None:
    with FakeOllama() as fake:
        dead = fake.url  # nothing listens there once the fake is stopped
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"ollama": {"host": dead}}), encoding="utf-8")
    done = run_eval(SAMPLE, settings, "--limit", "2", "--json", timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    print(json.dumps(report["results"], indent=1))
    for row in report["summary"]:
        assert row["tasks"] == 2 and "gemma3-270m" in row["answered_by"], row
