"""User-facing problem messages: every report is logged, but each distinct message is
shown at most once per window (an injected clock stands in for time)."""

from __future__ import annotations

import pytest

from codehearth.feedback import PROBLEM_WINDOW_SECONDS, ProblemNotifier
from codehearth.models.errors import BackendError, ProblemKind

MISSING = BackendError(
    ProblemKind.MODEL_MISSING,
    "model qwen2.5-coder:1.5b is not pulled: run `ollama pull qwen2.5-coder:1.5b`",
    "ResponseError: model not found (status code: 404)",
)
DOWN = BackendError(
    ProblemKind.UNREACHABLE, "Ollama is not reachable at http://127.0.0.1:11434: start it"
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A notifier wired to lists instead of the editor."""

    def __init__(self, window: float = PROBLEM_WINDOW_SECONDS) -> None:
        self.clock = FakeClock()
        self.shown: list[str] = []
        self.logged: list[str] = []
        self.notifier = ProblemNotifier(
            self.shown.append, self.logged.append, window_seconds=window, clock=self.clock
        )

    def report_at(self, *times: float, error: BackendError = MISSING) -> None:
        for offset in times:
            self.clock.now = 1000.0 + offset
            self.notifier.report(error)


def test_the_first_report_is_shown_and_logged_with_its_detail() -> None:
    recorder = Recorder()
    recorder.report_at(0)
    assert recorder.shown == [f"CodeHearth: {MISSING.message}"]
    assert recorder.logged == [f"model-missing: {MISSING.message} ({MISSING.detail})"]
    assert recorder.notifier.shown == 1


def test_a_report_without_detail_is_logged_without_parentheses() -> None:
    recorder = Recorder()
    recorder.report_at(0, error=DOWN)
    assert recorder.logged == [f"unreachable: {DOWN.message}"]


@pytest.mark.parametrize(
    ("times", "shown"),
    [
        pytest.param((0, 1, 30, 59.9), 1, id="repeats-within-the-window"),
        pytest.param((0, 60), 2, id="again-once-the-window-passed"),
        pytest.param((0, 30, 60), 2, id="suppressed-repeats-do-not-extend-the-window"),
        pytest.param((0, 30, 59, 61, 90, 125), 3, id="once-per-window-over-time"),
    ],
)
def test_the_same_message_is_shown_once_per_window_but_always_logged(
    times: tuple[float, ...], shown: int
) -> None:
    recorder = Recorder()
    recorder.report_at(*times)
    assert len(recorder.shown) == shown
    assert recorder.notifier.shown == shown
    assert len(recorder.logged) == len(times)


def test_distinct_messages_are_each_shown() -> None:
    recorder = Recorder()
    recorder.report_at(0, error=MISSING)
    recorder.report_at(1, error=DOWN)
    recorder.report_at(2, error=MISSING)
    assert recorder.shown == [f"CodeHearth: {MISSING.message}", f"CodeHearth: {DOWN.message}"]


def test_the_window_is_configurable() -> None:
    recorder = Recorder(window=5)
    recorder.report_at(0, 4, 5)
    assert len(recorder.shown) == 2


def test_notify_rate_limits_plain_messages_without_logging() -> None:
    recorder = Recorder()
    recorder.notifier.notify("settings: unknown key")
    recorder.notifier.notify("settings: unknown key")
    assert recorder.shown == ["CodeHearth: settings: unknown key"]
    assert recorder.logged == []
