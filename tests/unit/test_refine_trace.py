"""Refine traces: token counts in the loop's rounds, the on-disk log (bounded, tolerant of
corrupt and unwritable files) and ``codehearth refine-trace``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from codehearth.cli import main
from codehearth.prompts.actions import Message
from codehearth.refine.edits import TextRange
from codehearth.refine.loop import ModelAnswer, RefineTask, RoundTrace, refine
from codehearth.refine.trace import TRACE_FILE_NAME, ActionTrace, RoundRecord, TraceLog, render
from codehearth.refine.verify import Candidate, Check, Verdict

TASK = RefineTask(
    "file:///w/a.py",
    1,
    "python",
    "x = 1\n",
    TextRange(0, 0, 0, 5),
    ({"role": "user", "content": "x" * 40},),
)
ROUNDS = (
    RoundTrace(1, 10, 7, (Check("parses", False, "syntax error at line 1, column 3"),), 12.34),
    RoundTrace(2, 30, 9, (Check("applies_cleanly", True), Check("parses", True)), 8.0, 28, 3),
)


def trace(action: str = "quick_fix", line: int = 1) -> ActionTrace:
    return ActionTrace.of_rounds(
        action=action,
        file="/w/a.py",
        line=line,
        model="qwen2.5-coder:7b",
        outcome="verified",
        offered=True,
        rounds=ROUNDS,
    )


def accept_all(candidate: Candidate) -> Verdict:
    return Verdict(True, (Check("accepted", True),))


@pytest.mark.parametrize(
    ("reply", "prompt_tokens", "answer_tokens", "estimated"),
    [
        pytest.param("```python\nx = 2\n```", 10, 5, (True, True), id="text-is-estimated"),
        pytest.param(
            ModelAnswer("```python\nx = 2\n```", prompt_tokens=17),
            17,
            5,
            (False, True),
            id="prompt-count-reported",
        ),
        pytest.param(
            ModelAnswer("```python\nx = 2\n```", prompt_tokens=17, answer_tokens=4),
            17,
            4,
            (False, False),
            id="both-reported",
        ),
    ],
)
async def test_rounds_carry_reported_or_estimated_tokens(
    reply: str | ModelAnswer,
    prompt_tokens: int,
    answer_tokens: int,
    estimated: tuple[bool, bool],
) -> None:
    async def model(messages: list[Message]) -> str | ModelAnswer:
        return reply

    result = await refine(TASK, model, accept_all)
    [round_] = result.rounds
    assert (round_.prompt_tokens, round_.answer_tokens) == (prompt_tokens, answer_tokens)
    record = RoundRecord.of(round_)
    assert (record.prompt_tokens_estimated, record.answer_tokens_estimated) == estimated


def test_a_trace_round_trips_through_json() -> None:
    original = trace()
    data = json.loads(json.dumps(original.to_json()))
    assert ActionTrace.from_json(data) == original
    assert data["total_ms"] == pytest.approx(20.3)
    first, second = data["rounds"]
    assert (first["prompt_tokens"], first["prompt_tokens_estimated"]) == (10, True)
    assert (first["answer_tokens"], first["answer_tokens_estimated"]) == (2, True)  # 7 chars
    assert (second["prompt_tokens"], second["answer_tokens"]) == (28, 3)
    assert first["checks"] == [
        {"name": "parses", "ok": False, "detail": "syntax error at line 1, column 3"}
    ]


def _broken(change: dict[str, Any]) -> dict[str, Any]:
    return {**trace().to_json(), **change}


@pytest.mark.parametrize(
    "data",
    [
        pytest.param([], id="not-an-object"),
        pytest.param({"action": "quick_fix"}, id="missing-keys"),
        pytest.param(_broken({"line": "1"}), id="line-as-text"),
        pytest.param(_broken({"line": True}), id="line-as-bool"),
        pytest.param(_broken({"offered": "yes"}), id="offered-as-text"),
        pytest.param(_broken({"rounds": "none"}), id="rounds-as-text"),
        pytest.param(_broken({"rounds": [{"round": 1}]}), id="round-missing-keys"),
    ],
)
def test_from_json_rejects_what_it_did_not_write(data: Any) -> None:
    with pytest.raises(ValueError, match="not a refine trace"):
        ActionTrace.from_json(data)


def test_the_log_keeps_only_the_newest(tmp_path: Path) -> None:
    log = TraceLog(tmp_path / "traces.jsonl", keep=3)
    for line in range(1, 6):
        assert log.append(trace(line=line))
    assert [t.line for t in log.last()] == [3, 4, 5]
    assert [t.line for t in log.last(2)] == [4, 5]
    assert len(log.path.read_text(encoding="utf-8").splitlines()) == 3


def test_a_log_of_one_keeps_the_last_trace(tmp_path: Path) -> None:
    log = TraceLog(tmp_path / "traces.jsonl", keep=1)
    log.append(trace(line=1))
    log.append(trace(line=2))
    assert [t.line for t in log.last()] == [2]


def test_corrupt_lines_are_skipped_and_dropped_on_the_next_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "traces.jsonl"
    good = json.dumps(trace(line=7).to_json()).encode()
    path.write_bytes(b"{not json\n" + good + b"\n\xff\xfe\n" + b'{"line": 1}\n\n')
    log = TraceLog(path)
    with caplog.at_level(logging.WARNING):
        assert [t.line for t in log.last()] == [7]
        assert log.append(trace(line=8))
        assert [t.line for t in log.last()] == [7, 8]
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2
    warnings = [r.getMessage() for r in caplog.records if "corrupt" in r.getMessage()]
    assert warnings == [f"skipped 3 corrupt line(s) in {path}"]  # once


def test_an_unwritable_place_is_logged_once_and_the_action_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the cache folder should be", encoding="utf-8")
    log = TraceLog(not_a_folder / "codehearth" / TRACE_FILE_NAME)
    with caplog.at_level(logging.WARNING):
        assert log.append(trace()) is False
        assert log.append(trace()) is False
        assert log.last() == []
    assert sum("cannot be written" in r.getMessage() for r in caplog.records) == 1
    assert not list(tmp_path.glob("**/*.tmp"))


def test_an_unreadable_log_is_logged_and_read_as_empty(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder_in_the_way = tmp_path / TRACE_FILE_NAME
    folder_in_the_way.mkdir()
    log = TraceLog(folder_in_the_way)
    with caplog.at_level(logging.WARNING):
        assert log.last() == []
        assert log.append(trace()) is False
    assert any("cannot be read" in r.getMessage() for r in caplog.records)


def test_the_default_log_is_in_the_user_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    log = TraceLog.default()
    assert log.path == tmp_path / "codehearth" / TRACE_FILE_NAME
    assert log.append(trace())
    assert (log.path.stat().st_mode & 0o777) == 0o600


def test_render_shows_rounds_checks_and_estimates() -> None:
    text = render(trace())
    assert "quick_fix  /w/a.py:1  (qwen2.5-coder:7b)" in text
    assert "verified, offered; 2 round(s), 20 ms" in text
    assert "round 1: 12 ms, prompt ~10 tokens, answer ~2 tokens" in text
    assert "parses: FAILED (syntax error at line 1, column 3)" in text
    assert "round 2: 8 ms, prompt 28 tokens, answer 3 tokens" in text
    assert "applies_cleanly: ok" in text


def test_cli_prints_the_last_traces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert main(["refine-trace"]) == 0
    assert "no code action traces yet" in capsys.readouterr().err
    log = TraceLog.default()
    for action in ("quick_fix", "simplify", "write_tests"):
        log.append(trace(action=action))
    assert main(["refine-trace", "--last", "2"]) == 0
    out = capsys.readouterr().out
    assert "simplify" in out and "write_tests" in out and "quick_fix" not in out
    assert main(["refine-trace", "--json", "--last", "1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["file"] == str(log.path)
    assert [t["action"] for t in printed["traces"]] == ["write_tests"]
    assert main(["refine-trace", "--last", "0"]) == 2
