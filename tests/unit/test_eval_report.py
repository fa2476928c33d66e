"""Eval results: scored records, the resumable JSON-lines file, the sums per model and
condition and the table."""

from __future__ import annotations

from pathlib import Path

import pytest

from codehearth.evaluation.report import (
    ResultsFile,
    TaskResult,
    done_results,
    render_table,
    summarise,
)
from codehearth.evaluation.runner import overridden_by_workspace, server_options
from codehearth.evaluation.tasks import CompletionTask


def task(line: int, expected: str, kind: str = "after_call") -> CompletionTask:
    return CompletionTask(
        kind=kind, path="pkg/a.py", language_id="python", line=line, column=8, expected=expected
    )


def result(
    done: CompletionTask, suggestion: str, condition: str = "none", model: str = "m", ms: float = 10
) -> TaskResult:
    return TaskResult.scored(done, condition, model, suggestion, ms, "m (http://127.0.0.1:1)")


def test_a_result_is_scored_when_made() -> None:
    scored = result(task(3, "total(), percent)"), "total(), rate)\nmore")
    assert (scored.exact, scored.empty, scored.identifier_exact) == (False, False, False)
    assert scored.edit_similarity == pytest.approx(
        1 - 6 / 17, abs=1e-4
    )  # "percent" -> "rate": 6 edits
    assert scored.identifier_f1 == pytest.approx(0.5)
    assert result(task(3, "x"), "  ").empty


def test_the_results_file_keeps_what_was_done_and_skips_a_line_cut_short(
    tmp_path: Path,
) -> None:
    results = ResultsFile(tmp_path / "results.jsonl")
    assert results.load() == []
    first, second = result(task(1, "a(b)"), "a(b)"), result(task(2, "c"), "", "oracle")
    results.append(first)
    results.append(second)
    with results.path.open("a", encoding="utf-8") as file:
        file.write('{"task_id": "pkg/a.py:9:9:after_call", "kind": "aft')  # Ctrl-C mid-line
    assert results.load() == [first, second]


def test_a_result_for_a_line_that_changed_since_is_not_done() -> None:
    old = result(task(1, "a(b)"), "a(b)")
    assert done_results([old], [task(1, "a(b)")]) == {old.key: old}
    assert done_results([old], [task(1, "a(b, c)")]) == {}
    assert done_results([old], [task(2, "a(b)")]) == {}


def test_sums_per_model_and_condition() -> None:
    tasks = [task(n, "a(b)") for n in range(4)]
    results = [
        result(tasks[0], "a(b)", ms=10),
        result(tasks[1], "a(c)", ms=20),
        result(tasks[2], "", ms=30),
        result(tasks[3], "a(b)", ms=400),
        result(tasks[0], "a(b)", "oracle", ms=50),
        result(tasks[0], "zzz", "none", "other", ms=5),
    ]
    (none, oracle, other) = summarise(results)
    assert (none.model, none.condition, none.tasks) == ("m", "none", 4)
    assert none.exact_match == pytest.approx(0.5)
    assert none.empty == pytest.approx(0.25)
    assert none.identifier_f1 == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert (none.p50_ms, none.p95_ms) == (20, 400)
    assert (oracle.condition, oracle.tasks, oracle.exact_match) == ("oracle", 1, 1.0)
    assert (other.model, other.exact_match) == ("other", 0.0)
    table = render_table([none, oracle, other]).splitlines()
    assert table[0].split() == [
        "model", "condition", "tasks", "exact", "edit", "sim", "ident", "F1", "ident",
        "exact", "empty", "p50", "ms", "p95", "ms", "answered", "by",
    ]  # fmt: skip
    assert table[2].split()[:10] == [
        "m", "none", "4", "50.0%", "0.688", "0.625", "50.0%", "25.0%", "20", "400",
    ]  # fmt: skip


def test_sums_per_kind() -> None:
    results = [
        result(task(1, "a(b)", "after_call"), "a(b)"),
        result(task(2, "x = a(b)", "next_line"), "y"),
    ]
    kinds = [(s.kind, s.tasks, s.exact_match) for s in summarise(results, by_kind=True)]
    assert kinds == [("after_call", 1, 1.0), ("next_line", 1, 0.0)]


@pytest.mark.parametrize(
    ("model", "condition", "expected"),
    [
        pytest.param(
            "default",
            "codehearth",
            {
                "ollama": {"host": "http://127.0.0.1:1"},
                "completion": {
                    "deadline_seconds": 120,
                    "temperature": 0,
                    "invoked_items": 1,
                    "multiline": False,
                    "prompt_milliseconds": 0,
                },
            },
            id="the-servers-own-model-with-its-context",
        ),
        pytest.param(
            "qwen2.5-coder:7b-base",
            "none",
            {
                "ollama": {"host": "http://127.0.0.1:1"},
                "completion": {
                    "deadline_seconds": 120,
                    "temperature": 0,
                    "invoked_items": 1,
                    "multiline": False,
                    "prompt_milliseconds": 0,
                    "model": "qwen2.5-coder:7b-base",
                },
                "index": {"context_tokens": 0},
            },
            id="a-model-without-workspace-context",
        ),
    ],
)
def test_each_server_gets_the_users_settings_and_the_evals(
    model: str, condition: str, expected: dict[str, object]
) -> None:
    user = {"ollama": {"host": "http://127.0.0.1:1"}, "completion": {"temperature": 0.7}}
    assert server_options(user, model, condition) == expected


def test_the_users_own_deadline_wins_over_the_evals_longer_one() -> None:
    user = {"completion": {"deadlineSeconds": 5, "temperature": 0.7}}
    completion = server_options(user, "default", "oracle")["completion"]
    assert (completion["deadline_seconds"], completion["temperature"]) == (5, 0)


@pytest.mark.parametrize(
    ("toml", "overridden"),
    [
        pytest.param("", [], id="no-file"),
        pytest.param('[completion]\nmodel = "m"\nnum_ctx = 4096\n', [], id="other-keys"),
        pytest.param(
            "[completion]\ntemperature = 0.5\n[index]\ncontext_tokens = 512\n",
            ["completion.temperature", "index.context_tokens"],
            id="the-evals-own",
        ),
    ],
)
def test_settings_the_workspace_overrides_are_named(
    tmp_path: Path, toml: str, overridden: list[str]
) -> None:
    if toml:
        (tmp_path / "codehearth.toml").write_text(toml, encoding="utf-8")
    assert overridden_by_workspace(tmp_path) == overridden
