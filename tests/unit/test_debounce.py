"""Adaptive debounce: typing cadence per document, context at the cursor, model latency,
and the configured [min, max] clamp. Keystroke times are passed explicitly (``now=``)."""

from __future__ import annotations

import pytest

from codehearth.completion.debounce import CADENCE_FACTOR, DEFAULT_CADENCE, AdaptiveDebounce

URI = "file:///project/a.py"
OTHER = "file:///project/b.py"
BASE_WAIT = CADENCE_FACTOR * DEFAULT_CADENCE


def unclamped() -> AdaptiveDebounce:
    """A debounce whose range never interferes with the computed wait."""
    return AdaptiveDebounce(min_ms=0, max_ms=100_000)


def type_at(debounce: AdaptiveDebounce, *times: float, uri: str = URI) -> None:
    for now in times:
        debounce.note_keystroke(uri, now=now)


# -- cadence ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("times", "cadence"),
    [
        pytest.param((), DEFAULT_CADENCE, id="no-keystrokes"),
        pytest.param((10.0,), DEFAULT_CADENCE, id="one-keystroke-has-no-gap"),
        pytest.param((10.0, 10.1), 0.1, id="first-gap-sets-it"),
        pytest.param((10.0, 10.1, 10.3), 0.7 * 0.1 + 0.3 * 0.2, id="moving-average"),
        pytest.param((10.0, 10.1, 15.0), 0.1, id="pause-ignored"),
        pytest.param((10.0, 10.1, 15.0, 15.2), 0.7 * 0.1 + 0.3 * 0.2, id="gap-after-pause"),
        pytest.param((10.0, 10.1, 10.1), 0.1, id="same-instant-ignored"),
        pytest.param((10.0, 10.1, 9.0), 0.1, id="clock-going-back-ignored"),
    ],
)
def test_cadence_follows_the_gaps_between_keystrokes(
    times: tuple[float, ...], cadence: float
) -> None:
    debounce = unclamped()
    type_at(debounce, *times)
    assert debounce.cadence(URI) == pytest.approx(cadence)


def test_cadence_is_tracked_per_document() -> None:
    debounce = unclamped()
    type_at(debounce, 0.0, 0.05, uri=URI)
    type_at(debounce, 0.0, 0.5, uri=OTHER)
    assert debounce.cadence(URI) == pytest.approx(0.05)
    assert debounce.cadence(OTHER) == pytest.approx(0.5)


def test_forgetting_a_document_resets_its_cadence_and_last_keystroke() -> None:
    debounce = unclamped()
    type_at(debounce, 0.0, 0.05)
    debounce.forget(URI)
    assert debounce.cadence(URI) == DEFAULT_CADENCE
    type_at(debounce, 0.1)  # no gap is measured from a keystroke before forget()
    assert debounce.cadence(URI) == DEFAULT_CADENCE


def test_a_faster_typist_waits_less() -> None:
    fast, slow = unclamped(), unclamped()
    type_at(fast, 0.0, 0.05, 0.1, 0.15)
    type_at(slow, 0.0, 0.4, 0.8, 1.2)
    assert fast.delay(URI, "x = foo") < slow.delay(URI, "x = foo")


# -- context at the cursor -------------------------------------------------------------


@pytest.mark.parametrize(
    ("line_prefix", "factor"),
    [
        pytest.param("x = foo", 1.2, id="mid-word"),
        pytest.param("x = foo_", 1.2, id="after-underscore"),
        pytest.param("x = 42", 1.2, id="after-digit"),
        pytest.param("obj.", 0.7, id="after-dot"),
        pytest.param("print(", 0.7, id="after-paren"),
        pytest.param("f(a,", 0.7, id="after-comma"),
        pytest.param("x = ", 0.7, id="after-equals-and-space"),
        pytest.param("def f():", 0.7, id="after-colon"),
        pytest.param("", 0.7, id="fresh-line"),
        pytest.param("    ", 0.7, id="indented-blank-line"),
        pytest.param("return x ", 1.0, id="after-word-and-space"),
        pytest.param("x +", 1.0, id="after-plus"),
    ],
)
def test_the_wait_depends_on_the_character_before_the_cursor(
    line_prefix: str, factor: float
) -> None:
    assert unclamped().delay(URI, line_prefix) == pytest.approx(BASE_WAIT * factor)


def test_pause_points_wait_less_than_plain_text_which_waits_less_than_mid_word() -> None:
    debounce = unclamped()
    after_dot = debounce.delay(URI, "obj.")
    after_space = debounce.delay(URI, "return x ")
    mid_word = debounce.delay(URI, "return x")
    assert after_dot < after_space < mid_word


# -- model latency -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("latencies", "added"),
    [
        pytest.param((), 0.0, id="none-measured"),
        pytest.param((1.0,), 0.25, id="first-measurement"),
        pytest.param((1.0, 0.0), 0.25 * 0.8, id="moving-average"),
    ],
)
def test_a_slower_model_is_asked_less_eagerly(latencies: tuple[float, ...], added: float) -> None:
    debounce = unclamped()
    for seconds in latencies:
        debounce.note_latency(seconds)
    assert debounce.delay(URI, "obj.") == pytest.approx(BASE_WAIT * 0.7 + added)


# -- clamping ------------------------------------------------------------------------------


def test_a_very_fast_typist_still_waits_the_minimum() -> None:
    debounce = AdaptiveDebounce(min_ms=100, max_ms=1000)
    type_at(debounce, 0.0, 0.01, 0.02, 0.03)
    assert debounce.delay(URI, "obj.") == pytest.approx(0.1)


def test_a_very_slow_model_never_waits_beyond_the_maximum() -> None:
    debounce = AdaptiveDebounce(min_ms=100, max_ms=1000)
    debounce.note_latency(30.0)
    assert debounce.delay(URI, "x = foo") == pytest.approx(1.0)


def test_configure_changes_the_range() -> None:
    debounce = AdaptiveDebounce(min_ms=100, max_ms=1000)
    debounce.configure(min_ms=300, max_ms=400)
    assert debounce.delay(URI, "obj.") == pytest.approx(0.3)  # 0.147 s computed
    debounce.note_latency(30.0)
    assert debounce.delay(URI, "obj.") == pytest.approx(0.4)


def test_a_zero_range_disables_the_wait() -> None:
    debounce = AdaptiveDebounce(min_ms=0, max_ms=0)
    debounce.note_latency(5.0)
    assert debounce.delay(URI, "x = foo") == 0.0
