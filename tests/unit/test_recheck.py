"""Rechecking a fix with the client's later diagnostics (refine.recheck), and the trace
log taking the verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from codehearth.refine.recheck import PENDING_SECONDS, ClientRechecks, SeenDiagnostic
from codehearth.refine.trace import ActionTrace, CheckRecord, RoundRecord, TraceLog

URI = "file:///w/main.go"
TARGET = SeenDiagnostic("UnusedVar", "declared and not used: x", 3)


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def waiting() -> tuple[ClientRechecks, Clock]:
    clock = Clock()
    rechecks = ClientRechecks(clock)
    rechecks.expect(URI, trace_at="t", file="/w/main.go", diagnostic=TARGET, version=1)
    return rechecks, clock


@pytest.mark.parametrize(
    ("version", "lines", "diagnostics", "expected"),
    [
        pytest.param(1, (3, 3), [], [], id="edit-not-applied-yet"),
        pytest.param(2, (3, 3), [], [True], id="gone-from-the-fixed-line"),
        pytest.param(2, (0, 9), [TARGET], [False], id="still-reported"),
        pytest.param(
            2, (3, 3), [SeenDiagnostic("UnusedVar", "other", 3)], [True], id="another-finding"
        ),
        pytest.param(2, (7, 8), [], [], id="asked-elsewhere-cannot-tell"),
        pytest.param(None, (3, 3), [], [], id="no-version"),
    ],
)
def test_observe(
    version: int | None,
    lines: tuple[int, int],
    diagnostics: list[SeenDiagnostic],
    expected: list[bool],
) -> None:
    rechecks, _ = waiting()
    verdicts = rechecks.observe(URI, version, lines, diagnostics)
    assert [v.cleared for v in verdicts] == expected
    settled_now = bool(expected)
    assert bool(rechecks.observe(URI, 3, (3, 3), [])) is not settled_now  # settled once


def test_a_recheck_nobody_settles_expires() -> None:
    rechecks, clock = waiting()
    clock.now += PENDING_SECONDS + 1
    assert rechecks.observe(URI, 2, (3, 3), []) == []


def test_the_trace_takes_the_verdict_as_a_check(tmp_path: Path) -> None:
    log = TraceLog(tmp_path / "traces.jsonl")
    round_ = RoundRecord(1, 5.0, 10, True, 4, True, (CheckRecord("parses", True),))
    trace = ActionTrace("t", "quick_fix", "/w/main.go", 4, "m", "verified", True, (round_,))
    log.append(trace)
    assert log.add_check("t", "/w/main.go", CheckRecord("client_diagnostics", True, "gone"))
    [stored] = log.last()
    assert [c.name for c in stored.rounds[-1].checks] == ["parses", "client_diagnostics"]
    assert not log.add_check("other", "/w/main.go", CheckRecord("x", True))
