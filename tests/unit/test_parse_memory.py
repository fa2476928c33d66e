"""Parsing with a deadline keeps no memory behind: py-tree-sitter 0.26 never releases a
buffer its read callback returns, so the way :func:`parse_with_deadline` feeds the source
decides whether every parse leaks (it did: about 1 MB a minute of typing in the soak)."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from codehearth.languages import LanguageRegistry, parse_with_deadline

SOURCE = "def total(items):\n    return sum(i.price for i in items)  # é, 漢\n" * 200
PARSES = 100
DEADLINE_MICROS = 10_000_000


@pytest.mark.parametrize(
    "language_id", [pytest.param(lang, id=lang) for lang in ("python", "javascript")]
)
def test_repeated_parses_keep_no_memory_behind(language_id: str) -> None:
    parser = LanguageRegistry.load().parser(language_id)
    assert parser is not None
    data = SOURCE.encode("utf-8")

    def parse_a_fresh_copy() -> None:
        tree = parse_with_deadline(parser, bytes(bytearray(data)), DEADLINE_MICROS)
        assert tree is not None and tree.root_node.end_byte == len(data)

    parse_a_fresh_copy()  # caches and the parser's own buffers
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(PARSES):
            parse_a_fresh_copy()
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # A leak of the source (13 kB) or of the callback's slices would keep over a megabyte.
    assert kept < 64 * 1024, f"{kept} bytes kept after {PARSES} parses"
