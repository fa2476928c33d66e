"""Generations and their store: anchors, typing along a suggestion (in flight or finished),
the LRU that never drops a stream requests wait on, and per-document cleanup.

Sources mark the cursor with ``<|CURSOR|>``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

import pytest

from codehearth.completion.generations import (
    MAX_PER_SURROUNDING,
    Anchor,
    Generation,
    GenerationStore,
)
from codehearth.models.errors import BackendError, ProblemKind

CURSOR = "<|CURSOR|>"
URI = "file:///project/a.py"
OTHER = "file:///project/b.py"
FINGERPRINT = ("http://127.0.0.1:11434", "qwen2.5-coder:1.5b")


def anchor(source: str, *, uri: str = URI, fingerprint: Hashable = FINGERPRINT) -> Anchor:
    prefix, suffix = source.split(CURSOR)
    return Anchor.at(uri, prefix + suffix, len(prefix), fingerprint)


def generation(
    source: str,
    text: str = "",
    *,
    finished: bool = True,
    multiline: bool = True,
    uri: str = URI,
) -> Generation:
    made = Generation(anchor=anchor(source, uri=uri), multiline=multiline)
    made.append(text)
    if finished:
        made.finish()
    return made


# -- anchors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "line_prefix"),
    [
        pytest.param("x = <|CURSOR|>\n", "x = ", id="first-line"),
        pytest.param("a = 1\n    b = <|CURSOR|>c\n", "    b = ", id="later-line"),
        pytest.param("a = 1\r\nb<|CURSOR|>", "b", id="crlf"),
        pytest.param("<|CURSOR|>", "", id="empty-document"),
        pytest.param("a\n<|CURSOR|>", "", id="start-of-last-line"),
    ],
)
def test_an_anchor_keeps_the_line_up_to_the_cursor(source: str, line_prefix: str) -> None:
    assert anchor(source).line_prefix == line_prefix


@pytest.mark.parametrize(
    ("earlier", "later", "typed"),
    [
        pytest.param("x = <|CURSOR|>\n", "x = foo<|CURSOR|>\n", "foo", id="typed-along"),
        pytest.param("x = <|CURSOR|>)\n", "x = a, <|CURSOR|>)\n", "a, ", id="before-closer"),
        pytest.param("x = <|CURSOR|>\n", "x = <|CURSOR|>\n", "", id="same-place"),
        pytest.param("x = foo<|CURSOR|>\n", "x = fo<|CURSOR|>\n", None, id="backspace"),
        pytest.param("x = <|CURSOR|>\n", "y = foo<|CURSOR|>\n", None, id="line-start-edited"),
        pytest.param("a\nx = <|CURSOR|>\n", "b\nx = f<|CURSOR|>\n", None, id="line-above-edited"),
        pytest.param("x = <|CURSOR|>\n", "x = f<|CURSOR|>\nz\n", None, id="text-below-edited"),
        pytest.param("x = <|CURSOR|>\n", "x = f<|CURSOR|>oo\n", None, id="typed-before-text"),
        pytest.param("x = <|CURSOR|>\n", "x = f\n<|CURSOR|>\n", None, id="new-line"),
    ],
)
def test_typed_since_is_what_was_typed_on_the_line_in_between(
    earlier: str, later: str, typed: str | None
) -> None:
    assert anchor(earlier).typed_since(anchor(later)) == typed


@pytest.mark.parametrize(
    "later",
    [
        pytest.param(anchor("x = f<|CURSOR|>\n", uri=OTHER), id="other-document"),
        pytest.param(anchor("x = f<|CURSOR|>\n", fingerprint=("other",)), id="other-model"),
    ],
)
def test_typed_since_needs_the_same_document_and_settings(later: Anchor) -> None:
    assert anchor("x = <|CURSOR|>\n").typed_since(later) is None


# -- one generation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "finished", "typed", "agrees"),
    [
        pytest.param("return a", True, "ret", True, id="finished-prefix"),
        pytest.param("return a", True, "", True, id="finished-nothing-typed"),
        pytest.param("return a", True, "return a", True, id="finished-typed-all"),
        pytest.param("return a", True, "return a + b", False, id="finished-typed-beyond"),
        pytest.param("return a", True, "x", False, id="finished-disagrees"),
        pytest.param("return a", False, "ret", True, id="in-flight-prefix"),
        pytest.param("return a", False, "return a + b", True, id="in-flight-typed-ahead"),
        pytest.param("", False, "anything", True, id="in-flight-nothing-yet"),
        pytest.param("return a", False, "x", False, id="in-flight-disagrees"),
    ],
)
def test_agrees_with_depends_on_whether_more_text_may_come(
    text: str, finished: bool, typed: str, agrees: bool
) -> None:
    made = generation("x = <|CURSOR|>", text, finished=finished)
    assert made.agrees_with(typed) is agrees


def test_a_failed_generation_agrees_with_nothing() -> None:
    failed = generation("x = <|CURSOR|>", "ret", finished=False)
    failed.finish(BackendError(ProblemKind.STREAM_DROPPED, "dropped"))
    assert not failed.agrees_with("")
    assert not failed.agrees_with("r")


def test_a_cancelled_generation_agrees_with_nothing() -> None:
    cancelled = generation("x = <|CURSOR|>", "ret", finished=False)
    cancelled.finish(cancelled=True)
    assert not cancelled.agrees_with("")


async def test_finishing_wakes_the_requests_waiting_on_the_text() -> None:
    made = generation("x = <|CURSOR|>", finished=False)
    waiter = asyncio.create_task(made.done.wait())
    made.append("ret")
    made.append("urn")
    await asyncio.sleep(0)
    assert not waiter.done()
    made.finish()
    await asyncio.wait_for(waiter, 1)
    assert (made.text, made.finished, made.error, made.cancelled) == ("return", True, None, False)


async def test_cancel_stops_a_running_task_and_ignores_a_finished_one() -> None:
    running = generation("x = <|CURSOR|>", finished=False)
    running.task = asyncio.create_task(asyncio.sleep(60))
    running.cancel()
    await asyncio.gather(running.task, return_exceptions=True)
    assert running.task.cancelled()

    done = generation("x = <|CURSOR|>")
    done.task = asyncio.create_task(asyncio.sleep(0))
    await done.task
    done.cancel()  # no error, nothing to stop
    assert not done.task.cancelled()

    generation("x = <|CURSOR|>", finished=False).cancel()  # no task at all


# -- the store: typing along -------------------------------------------------------------


def test_find_answers_a_request_typing_along_with_the_remainder() -> None:
    store = GenerationStore(capacity=8)
    made = generation("x = <|CURSOR|>\n", "foo(1)")
    store.add(made)
    assert store.find(anchor("x = fo<|CURSOR|>\n"), multiline=True) == (made, "fo")


def test_find_answers_the_same_place_again() -> None:
    store = GenerationStore(capacity=8)
    made = generation("x = <|CURSOR|>\n", "foo(1)")
    store.add(made)
    assert store.find(anchor("x = <|CURSOR|>\n"), multiline=True) == (made, "")


@pytest.mark.parametrize(
    "later",
    [
        pytest.param("x = bar<|CURSOR|>\n", id="typed-something-else"),
        pytest.param("x = foo(1)+<|CURSOR|>\n", id="typed-beyond-finished-text"),
        pytest.param("y = fo<|CURSOR|>\n", id="line-edited"),
    ],
)
def test_find_ignores_generations_the_request_does_not_extend(later: str) -> None:
    store = GenerationStore(capacity=8)
    store.add(generation("x = <|CURSOR|>\n", "foo(1)"))
    assert store.find(anchor(later), multiline=False) is None


def test_find_waits_on_an_in_flight_generation_the_user_typed_ahead_of() -> None:
    store = GenerationStore(capacity=8)
    made = generation("x = <|CURSOR|>\n", "fo", finished=False)
    store.add(made)
    assert store.find(anchor("x = foo(<|CURSOR|>\n"), multiline=False) == (made, "foo(")


@pytest.mark.parametrize(
    ("generated_multiline", "requested_multiline", "found"),
    [
        pytest.param(True, False, True, id="multi-answers-single"),
        pytest.param(True, True, True, id="multi-answers-multi"),
        pytest.param(False, False, True, id="single-answers-single"),
        pytest.param(False, True, False, id="single-cannot-answer-multi"),
    ],
)
def test_find_multiline_rule(
    generated_multiline: bool, requested_multiline: bool, found: bool
) -> None:
    store = GenerationStore(capacity=8)
    store.add(generation("x = <|CURSOR|>\n", "foo", multiline=generated_multiline))
    result = store.find(anchor("x = f<|CURSOR|>\n"), multiline=requested_multiline)
    assert (result is not None) is found


def test_find_prefers_the_newest_agreeing_generation() -> None:
    store = GenerationStore(capacity=8)
    older = generation("x = <|CURSOR|>\n", "foo")
    newer = generation("x = f<|CURSOR|>\n", "oo")
    store.add(older)
    store.add(newer)
    assert store.find(anchor("x = fo<|CURSOR|>\n"), multiline=True) == (newer, "o")


def test_find_falls_back_to_an_older_generation_when_the_newest_disagrees() -> None:
    store = GenerationStore(capacity=8)
    older = generation("x = <|CURSOR|>\n", "foo")
    newer = generation("x = f<|CURSOR|>\n", "izz")
    store.add(older)
    store.add(newer)
    assert store.find(anchor("x = fo<|CURSOR|>\n"), multiline=True) == (older, "fo")


def test_only_the_newest_generations_at_one_place_are_kept_for_typing_along() -> None:
    store = GenerationStore(capacity=100)
    lines = [f"x = {'a' * count}<|CURSOR|>\n" for count in range(MAX_PER_SURROUNDING + 1)]
    for source in lines:
        store.add(generation(source, "zzz"))
    assert len(store) == MAX_PER_SURROUNDING
    assert store.find(anchor(lines[0]), multiline=True) is None
    assert store.find(anchor(lines[1]), multiline=True) is not None


# -- the store: capacity ---------------------------------------------------------------------


def test_adding_at_the_same_anchor_replaces_the_generation() -> None:
    store = GenerationStore(capacity=8)
    first = generation("x = <|CURSOR|>\n", "foo")
    second = generation("x = <|CURSOR|>\n", "bar")
    store.add(first)
    store.add(second)
    assert len(store) == 1
    assert store.find(anchor("x = <|CURSOR|>\n"), multiline=True) == (second, "")


def test_the_least_recently_used_finished_generation_is_evicted() -> None:
    store = GenerationStore(capacity=2)
    a = generation("a = <|CURSOR|>\n", "1")
    b = generation("b = <|CURSOR|>\n", "2")
    c = generation("c = <|CURSOR|>\n", "3")
    store.add(a)
    store.add(b)
    assert store.find(anchor("a = <|CURSOR|>\n"), multiline=True) is not None  # a is now newest
    store.add(c)
    assert len(store) == 2
    assert store.find(anchor("b = <|CURSOR|>\n"), multiline=True) is None
    assert store.find(anchor("a = <|CURSOR|>\n"), multiline=True) == (a, "")
    assert store.find(anchor("c = <|CURSOR|>\n"), multiline=True) == (c, "")


def test_an_unfinished_generation_is_never_evicted() -> None:
    store = GenerationStore(capacity=1)
    streaming = generation("a = <|CURSOR|>\n", finished=False)
    store.add(streaming)
    store.add(generation("b = <|CURSOR|>\n", "2"))
    assert len(store) == 1
    assert store.find(anchor("a = <|CURSOR|>\n"), multiline=True) == (streaming, "")


def test_the_store_grows_past_capacity_rather_than_drop_streams() -> None:
    store = GenerationStore(capacity=1)
    for name in "abc":
        store.add(generation(f"{name} = <|CURSOR|>\n", finished=False))
    assert len(store) == 3
    assert len(store.in_flight(URI)) == 3


def test_resizing_to_zero_drops_finished_generations_but_keeps_streams() -> None:
    store = GenerationStore(capacity=8)
    streaming = generation("a = <|CURSOR|>\n", finished=False)
    store.add(streaming)
    store.add(generation("b = <|CURSOR|>\n", "2"))
    store.resize(0)
    assert len(store) == 1
    assert store.in_flight(URI) == [streaming]


def test_discard_removes_a_generation_from_lookups() -> None:
    store = GenerationStore(capacity=8)
    made = generation("x = <|CURSOR|>\n", "foo")
    store.add(made)
    store.discard(made)
    store.discard(made)  # twice is harmless
    store.discard(None)
    assert len(store) == 0
    assert store.find(anchor("x = f<|CURSOR|>\n"), multiline=True) is None


def test_discarding_a_replaced_generation_leaves_its_replacement() -> None:
    store = GenerationStore(capacity=8)
    stale = generation("x = <|CURSOR|>\n", "foo")
    current = generation("x = <|CURSOR|>\n", "bar")
    store.add(stale)
    store.add(current)
    store.discard(stale)
    assert store.find(anchor("x = b<|CURSOR|>\n"), multiline=True) == (current, "b")


# -- the store: documents ------------------------------------------------------------------


def test_in_flight_lists_the_unfinished_generations_of_one_document() -> None:
    store = GenerationStore(capacity=8)
    streaming = generation("a = <|CURSOR|>\n", finished=False)
    store.add(streaming)
    store.add(generation("b = <|CURSOR|>\n", "done"))
    store.add(generation("c = <|CURSOR|>\n", finished=False, uri=OTHER))
    assert store.in_flight(URI) == [streaming]
    assert store.in_flight("file:///project/unknown.py") == []


async def test_forget_document_cancels_its_streams_and_keeps_other_documents() -> None:
    store = GenerationStore(capacity=8)
    streaming = generation("a = <|CURSOR|>\n", finished=False)
    streaming.task = asyncio.create_task(asyncio.sleep(60))
    elsewhere = generation("a = <|CURSOR|>\n", finished=False, uri=OTHER)
    elsewhere.task = asyncio.create_task(asyncio.sleep(60))
    store.add(streaming)
    store.add(generation("b = <|CURSOR|>\n", "done"))
    store.add(elsewhere)

    store.forget_document(URI)
    await asyncio.gather(streaming.task, return_exceptions=True)

    assert streaming.task.cancelled()
    assert not elsewhere.task.done()
    assert len(store) == 1
    assert store.find(anchor("b = <|CURSOR|>\n"), multiline=True) is None
    assert store.in_flight(OTHER) == [elsewhere]
    elsewhere.task.cancel()
    await asyncio.gather(elsewhere.task, return_exceptions=True)
