"""Generations in flight and finished, shared between requests.

A :class:`Generation` is one model stream for one cursor *anchor* (document, text before
the cursor line, the line up to the cursor, text after the cursor, model settings). Its
text grows as chunks arrive. A later request whose line extends the anchor's line by
characters the model has produced (the user typing along the suggestion) is answered from
the same generation, in flight or finished, instead of asking the model again.

:class:`GenerationStore` is the LRU of generations, indexed so that "same document, same
surroundings, longer line" is found without scanning.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Hashable

import attrs

from codehearth.models.errors import BackendError

MAX_PER_SURROUNDING = 8
"""Generations kept per (document, surroundings) for typing-along lookups."""


@attrs.frozen(cache_hash=True)
class Anchor:
    """Where a generation was asked for. ``line_prefix`` is kept whole for extension checks."""

    uri: str
    head_hash: int
    head_length: int
    line_prefix: str
    suffix_hash: int
    suffix_length: int
    fingerprint: Hashable

    @classmethod
    def at(cls, uri: str, text: str, offset: int, fingerprint: Hashable) -> Anchor:
        line_start = text.rfind("\n", 0, offset) + 1
        head = text[:line_start]
        return cls(
            uri=uri,
            head_hash=hash(head),
            head_length=len(head),
            line_prefix=text[line_start:offset],
            suffix_hash=hash(text[offset:]),
            suffix_length=len(text) - offset,
            fingerprint=fingerprint,
        )

    @property
    def surroundings(self) -> tuple[Hashable, ...]:
        return (
            self.uri,
            self.head_hash,
            self.head_length,
            self.suffix_hash,
            self.suffix_length,
            self.fingerprint,
        )

    def typed_since(self, later: Anchor) -> str | None:
        """Characters typed on the line between this anchor and ``later``, if it extends it."""
        if later.surroundings != self.surroundings:
            return None
        if not later.line_prefix.startswith(self.line_prefix):
            return None
        return later.line_prefix[len(self.line_prefix) :]


@attrs.define(eq=False)
class Generation:
    """One model stream and the text it has produced so far."""

    anchor: Anchor
    multiline: bool
    text: str = ""
    truncated: bool = False
    """The model stopped at the request's token limit (its last line may be cut off)."""
    error: BackendError | None = None
    cancelled: bool = False
    finished: bool = False
    task: asyncio.Task[None] | None = None
    subscribers: int = 0
    done: asyncio.Event = attrs.field(factory=asyncio.Event)
    started: float = attrs.field(factory=time.monotonic)

    def append(self, piece: str) -> None:
        self.text += piece

    def finish(self, error: BackendError | None = None, *, cancelled: bool = False) -> None:
        self.error = error
        self.cancelled = cancelled
        self.finished = True
        self.done.set()

    def agrees_with(self, typed: str) -> bool:
        """Could the user's ``typed`` characters be the start of this generation's text?"""
        if self.error is not None or self.cancelled:
            return False
        if self.text.startswith(typed):
            return True
        return not self.finished and typed.startswith(self.text)

    def cancel(self) -> None:
        """Stop the stream (closing its HTTP connection) if it is still running. Only
        once: a second ``Task.cancel()`` while the task unwinds from the first interrupts
        the cleanup that closes the connection, and Ollama would generate on (a keystroke
        and the request after it both cancel a contradicted stream)."""
        if self.task is not None and not self.task.done() and not self.task.cancelling():
            self.task.cancel()


class GenerationStore:
    """An LRU of generations with a side index for typing-along lookups."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._by_anchor: OrderedDict[Anchor, Generation] = OrderedDict()
        self._by_surroundings: dict[tuple[Hashable, ...], list[Generation]] = {}
        self._unfinished: dict[str, list[Generation]] = {}

    def __len__(self) -> int:
        return len(self._by_anchor)

    def resize(self, capacity: int) -> None:
        self.capacity = capacity
        self._evict()

    def add(self, generation: Generation) -> None:
        self.discard(self._by_anchor.get(generation.anchor))
        self._by_anchor[generation.anchor] = generation
        if not generation.finished:
            self._unfinished.setdefault(generation.anchor.uri, []).append(generation)
        bucket = self._by_surroundings.setdefault(generation.anchor.surroundings, [])
        bucket.append(generation)
        if len(bucket) > MAX_PER_SURROUNDING:
            oldest_finished = next((g for g in bucket if g.finished), None)
            self.discard(oldest_finished)  # running streams are never dropped from view
        self._evict()

    def discard(self, generation: Generation | None) -> None:
        if generation is None or self._by_anchor.get(generation.anchor) is not generation:
            return
        del self._by_anchor[generation.anchor]
        bucket = self._by_surroundings.get(generation.anchor.surroundings, [])
        if generation in bucket:
            bucket.remove(generation)
        if not bucket:
            self._by_surroundings.pop(generation.anchor.surroundings, None)
        unfinished = self._unfinished.get(generation.anchor.uri, [])
        if generation in unfinished:
            unfinished.remove(generation)

    def find(self, anchor: Anchor, *, multiline: bool) -> tuple[Generation, str] | None:
        """The newest generation that ``anchor`` extends with agreeing typed text.

        A multi-line generation can answer a single-line request (the filters keep its
        first line), not the other way round.
        """
        for generation in reversed(self._by_surroundings.get(anchor.surroundings, ())):
            if multiline and not generation.multiline:
                continue
            typed = generation.anchor.typed_since(anchor)
            if typed is not None and generation.agrees_with(typed):
                self._by_anchor.move_to_end(generation.anchor)
                return generation, typed
        return None

    def in_flight(self, uri: str) -> list[Generation]:
        """Unfinished generations for a document (kept in a side list: this runs on
        every keystroke and must not scan the whole store)."""
        alive = [g for g in self._unfinished.get(uri, ()) if not g.finished]
        if alive:
            self._unfinished[uri] = alive
        else:
            self._unfinished.pop(uri, None)
        return alive

    def oldest_in_flight(self, limit: int) -> list[Generation]:
        """The oldest unfinished generations beyond the newest ``limit - 1`` across all
        documents: what to stop so a new stream stays within ``limit`` open at once."""
        running = [
            generation
            for uri in list(self._unfinished)
            for generation in self.in_flight(uri)
            if generation.task is not None and not generation.task.cancelling()
        ]
        running.sort(key=lambda generation: generation.started)
        return running[: max(0, len(running) - (limit - 1))]

    def cancel_all(self) -> list[asyncio.Task[None]]:
        """Cancel every unfinished stream; the tasks, to await their end."""
        tasks = []
        for generations in self._unfinished.values():
            for generation in generations:
                generation.cancel()
                if generation.task is not None:
                    tasks.append(generation.task)
        return tasks

    def forget_document(self, uri: str) -> None:
        for generation in [g for g in self._by_anchor.values() if g.anchor.uri == uri]:
            generation.cancel()
            self.discard(generation)

    def _evict(self) -> None:
        while len(self._by_anchor) > max(self.capacity, 0):
            oldest = next(iter(self._by_anchor.values()))
            if not oldest.finished:
                # Never evict a stream that requests are waiting on; drop a finished one.
                finished = next((g for g in self._by_anchor.values() if g.finished), None)
                if finished is None:
                    return
                oldest = finished
            self.discard(oldest)
