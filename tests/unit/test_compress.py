"""Packing retrieved chunks and neighbour outlines into the context budget."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codehearth.index.compress import (
    LARGE_FRACTION,
    PackedSnippet,
    as_context_snippets,
    compress,
    signature_text,
)
from codehearth.index.model import Chunk, FileChunks
from codehearth.index.retrieval import ScoredChunk
from codehearth.languages import LanguageRegistry
from codehearth.prompts.budget import EstimatingCounter
from codehearth.prompts.fim import ContextSnippet

REGISTRY = LanguageRegistry.load()


class CharCounter:
    """One token per character: expected costs are easy to work out by hand."""

    def count(self, text: str) -> int:
        return len(text)


class NewlineHeavyCounter:
    """Counts joined text higher than the sum of its parts (n newlines cost n*n extra)."""

    def count(self, text: str) -> int:
        return len(text) + text.count("\n") ** 2


def make_chunk(
    path: str,
    start: int,
    end: int,
    symbol: str = "",
    *,
    kind: str = "function",
    parent: str = "",
    language_id: str = "python",
    skeleton: str | None = None,
) -> Chunk:
    """A Python-looking definition spanning lines ``start``..``end``."""
    symbol = symbol or f"f{start}"
    name = symbol.rpartition(".")[2]
    body = [f"    x{i} = {i}" for i in range(start + 1, end + 1)]
    text = "\n".join([f"def {name}():", *body])
    return Chunk(
        path=path,
        language_id=language_id,
        start_line=start,
        end_line=end,
        symbol=symbol,
        kind=kind,
        text=text,
        skeleton=f"def {name}():\n    ..." if skeleton is None else skeleton,
        defines=(name,),
        parent=parent,
    )


def scored(chunk: Chunk, score: float = 0.03) -> ScoredChunk:
    return ScoredChunk(chunk, score, ("exact",))


def cost(path: str, text: str, comment: str = "#") -> int:
    """CharCounter cost of a snippet: header estimate, text, trailing newline."""
    return len(f"{comment} Path: {path}\n{text}\n")


def pack(
    items: list[ScoredChunk], budget: int, *, outline_neighbours: Sequence[FileChunks] = ()
) -> list[PackedSnippet]:
    return compress(
        items, CharCounter(), budget, registry=REGISTRY, outline_neighbours=outline_neighbours
    )


# --- budget edges -----------------------------------------------------------------------


def test_zero_budget_packs_nothing() -> None:
    outline = FileChunks("n.py", "python", "h", (make_chunk("n.py", 0, 1),))
    assert pack([scored(make_chunk("a.py", 0, 2))], 0, outline_neighbours=[outline]) == []


def test_negative_budget_is_an_error() -> None:
    with pytest.raises(ValueError, match="budget"):
        pack([], -1)


def test_nothing_fits() -> None:
    assert pack([scored(make_chunk("a.py", 0, 2))], 5) == []


def test_tokens_are_counted_on_the_rendered_text_with_header() -> None:
    chunk = make_chunk("pkg/a.py", 0, 2)
    (snippet,) = pack([scored(chunk, 0.5)], 1000)
    assert snippet == PackedSnippet(
        "pkg/a.py", chunk.text, (chunk,), False, cost("pkg/a.py", chunk.text), 0.5
    )


# --- whole or skeleton ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "budget", "skeleton", "expected"),
    [
        pytest.param(3, 1000, None, "whole", id="small-whole"),
        pytest.param(40, 1000, None, "skeleton", id="large-skeleton"),
        pytest.param(40, 1000, "", "whole", id="large-without-skeleton-whole"),
        pytest.param(3, 40, None, "skeleton", id="whole-does-not-fit"),
        pytest.param(3, 20, None, "omitted", id="neither-fits"),
    ],
)
def test_whole_or_skeleton(lines: int, budget: int, skeleton: str | None, expected: str) -> None:
    chunk = make_chunk("a.py", 0, lines - 1, skeleton=skeleton)
    packed = pack([scored(chunk)], budget)
    if expected == "omitted":
        assert packed == []
        return
    (snippet,) = packed
    assert snippet.text == (chunk.text if expected == "whole" else chunk.skeleton)
    assert snippet.skeletonized is (expected == "skeleton")


def test_large_means_over_a_quarter_of_the_budget() -> None:
    chunk = make_chunk("a.py", 0, 5)
    whole = cost("a.py", chunk.text)
    at_limit = int(whole / LARGE_FRACTION)
    assert not pack([scored(chunk)], at_limit)[0].skeletonized
    assert pack([scored(chunk)], at_limit - 1)[0].skeletonized


def test_denser_chunks_are_packed_first() -> None:
    """Score per token: small chunks with a slightly lower score go before a big one."""
    big = make_chunk("big.py", 0, 5)
    smalls = [make_chunk(f"s{i}.py", 0, 1) for i in range(10)]
    small_cost = cost("s0.py", smalls[0].text)
    budget = 10 * small_cost + cost("big.py", big.text) - 1
    assert cost("big.py", big.text) <= budget * LARGE_FRACTION
    packed = pack([scored(big, 0.033), *(scored(s, 0.030) for s in smalls)], budget)
    shown = {p.path: p.skeletonized for p in packed}
    assert shown == {"big.py": True, **{f"s{i}.py": False for i in range(10)}}


# --- grouping per file ------------------------------------------------------------------


def test_chunks_of_one_file_are_merged_in_line_order_with_elisions() -> None:
    first, adjacent, far = (
        make_chunk("a.py", 0, 2),
        make_chunk("a.py", 3, 4),
        make_chunk("a.py", 10, 11),
    )
    (snippet,) = pack([scored(far, 0.05), scored(first, 0.04), scored(adjacent, 0.03)], 1000)
    assert snippet.text == f"{first.text}\n{adjacent.text}\n# ...\n{far.text}"
    assert snippet.chunks == (first, adjacent, far)
    assert snippet.score == 0.05
    assert snippet.tokens == cost("a.py", snippet.text)


def test_elision_after_a_skeleton_even_when_adjacent() -> None:
    big = make_chunk("a.py", 0, 39)
    small = make_chunk("a.py", 40, 41)
    (snippet,) = pack([scored(big), scored(small)], 1000)
    assert snippet.text == f"{big.skeleton}\n# ...\n{small.text}"
    assert snippet.skeletonized


def test_elision_uses_the_language_comment() -> None:
    one = make_chunk("web/app.js", 0, 1, language_id="javascript")
    two = make_chunk("web/app.js", 5, 6, language_id="javascript")
    (snippet,) = pack([scored(one), scored(two)], 1000)
    assert "\n// ...\n" in snippet.text
    assert snippet.tokens == cost("web/app.js", snippet.text, "//")


@pytest.mark.parametrize(
    ("class_score", "method_score"),
    [
        pytest.param(1.0, 0.001, id="class-placed-first"),
        pytest.param(0.001, 1.0, id="method-placed-first-then-replaced"),
    ],
)
def test_method_inside_whole_class_is_not_repeated(class_score: float, method_score: float) -> None:
    cls = make_chunk("m.py", 0, 6, "Box", kind="class")
    method = make_chunk("m.py", 4, 6, "Box.open", kind="method", parent="Box")
    (snippet,) = pack([scored(cls, class_score), scored(method, method_score)], 1000)
    assert snippet.chunks == (cls,)
    assert snippet.text == cls.text
    assert snippet.score == max(class_score, method_score)


def test_method_whole_inside_skeleton_class_is_shown() -> None:
    cls = make_chunk("m.py", 0, 39, "Box", kind="class")
    method = make_chunk("m.py", 30, 32, "Box.open", kind="method", parent="Box")
    (snippet,) = pack([scored(cls), scored(method)], 1000)
    assert snippet.chunks == (cls, method)
    assert snippet.text == f"{cls.skeleton}\n# ...\n{method.text}"


def test_same_chunk_twice_is_packed_once() -> None:
    chunk = make_chunk("a.py", 0, 39)
    (snippet,) = pack([scored(chunk), scored(chunk, 0.01)], 1000)
    assert snippet.chunks == (chunk,)


def test_files_are_ordered_least_relevant_first() -> None:
    items = [
        scored(make_chunk("best.py", 0, 1), 0.05),
        scored(make_chunk("worst.py", 0, 1), 0.01),
        scored(make_chunk("middle.py", 0, 1), 0.03),
        scored(make_chunk("middle.py", 5, 6), 0.02),
    ]
    packed = pack(items, 1000)
    assert [p.path for p in packed] == ["worst.py", "middle.py", "best.py"]


# --- outlines ---------------------------------------------------------------------------


def neighbour(path: str) -> FileChunks:
    chunks = (
        Chunk(path, "python", 0, 1, "", "module", "import os\nimport re", "import os\nimport re"),
        make_chunk(path, 3, 9, "Store", kind="class", skeleton='class Store:\n    """A store."""'),
        make_chunk(
            path,
            5,
            6,
            "Store.get",
            kind="method",
            parent="Store",
            skeleton="def get(self, key: str) -> bytes:\n        ...",
        ),
        make_chunk(path, 12, 14, "helper", skeleton="\ndef helper(x: int) -> int:\n    ..."),
    )
    return FileChunks(path, "python", "h", chunks)


def test_outline_fills_the_remaining_budget() -> None:
    item = make_chunk("a.py", 0, 1)
    packed = pack([scored(item)], 1000, outline_neighbours=[neighbour("lib/store.py")])
    outline, main = packed
    assert main.path == "a.py"
    assert outline.path == "lib/store.py"
    assert outline.text == (
        "class Store:\n    def get(self, key: str) -> bytes:\ndef helper(x: int) -> int:"
    )
    assert [c.symbol for c in outline.chunks] == ["Store", "Store.get", "helper"]
    assert outline.skeletonized and outline.score == 0.0
    assert outline.tokens == cost("lib/store.py", outline.text)


def test_outline_is_cut_to_fit() -> None:
    budget = cost("lib/store.py", "class Store:\n    def get(self, key: str) -> bytes:")
    (outline,) = pack([], budget, outline_neighbours=[neighbour("lib/store.py")])
    assert outline.text == "class Store:\n    def get(self, key: str) -> bytes:"
    assert outline.tokens == budget


def test_outline_skips_packed_and_repeated_files_and_orders_most_relevant_last() -> None:
    item = make_chunk("lib/a.py", 0, 1)
    neighbours = [
        neighbour("lib/a.py"),
        neighbour("lib/b.py"),
        neighbour("lib/c.py"),
        neighbour("lib/b.py"),
    ]
    packed = pack([scored(item)], 10_000, outline_neighbours=neighbours)
    assert [(p.path, p.score) for p in packed] == [
        ("lib/c.py", 0.0),
        ("lib/b.py", 0.0),
        ("lib/a.py", 0.03),
    ]


def test_outline_moves_on_to_a_neighbour_that_fits() -> None:
    small = FileChunks("s.py", "python", "h", (make_chunk("s.py", 0, 1, "go"),))
    budget = cost("s.py", "def go():")
    packed = pack([], budget, outline_neighbours=[neighbour("lib/very/long/path/store.py"), small])
    assert [p.path for p in packed] == ["s.py"]


# --- conversion -------------------------------------------------------------------------


def test_as_context_snippets_keeps_order() -> None:
    packed = pack(
        [scored(make_chunk("x.py", 0, 1), 0.01), scored(make_chunk("y.py", 0, 1), 0.02)], 1000
    )
    assert as_context_snippets(packed) == (
        ContextSnippet("x.py", packed[0].text),
        ContextSnippet("y.py", packed[1].text),
    )


# --- the budget is a hard cap -----------------------------------------------------------

_chunks = st.builds(
    lambda path, start, length, score: ScoredChunk(
        make_chunk(path, start, start + length), score, ("lexical",)
    ),
    path=st.sampled_from(["a.py", "b.py", "c/d.js", "e.rs", "unknown.ext"]),
    start=st.integers(0, 200),
    length=st.integers(0, 60),
    score=st.floats(0.001, 0.1),
)


@settings(max_examples=150, deadline=None)
@given(
    items=st.lists(_chunks, max_size=25),
    budget=st.integers(0, 3000),
    counter=st.sampled_from([CharCounter(), NewlineHeavyCounter(), EstimatingCounter(3.3)]),
    neighbours=st.lists(st.sampled_from(["n1.py", "n2.py", "a.py"]), max_size=3),
)
def test_budget_is_never_exceeded(
    items: list[ScoredChunk],
    budget: int,
    counter: CharCounter | NewlineHeavyCounter | EstimatingCounter,
    neighbours: list[str],
) -> None:
    packed = compress(
        items,
        counter,
        budget,
        registry=REGISTRY,
        outline_neighbours=[neighbour(path) for path in neighbours],
    )
    assert sum(p.tokens for p in packed) <= budget
    assert len({p.path for p in packed}) == len(packed)
    for snippet in packed:
        assert snippet.tokens > 0
        assert snippet.chunks == tuple(sorted(snippet.chunks, key=lambda c: c.start_line))


SIGNATURES = [
    pytest.param(
        'def tax(amount: float) -> float:\n    """Tax due."""\n    ...',
        "def tax(amount: float) -> float: ...",
        id="python-docstring-dropped",
    ),
    pytest.param(
        "@property\ndef name(self) -> str:\n    ...",
        "@property\ndef name(self) -> str: ...",
        id="python-decorator-kept",
    ),
    pytest.param(
        "def long(\n    a: int,\n    b: int,\n) -> int:\n    ...",
        "def long(\n    a: int,\n    b: int,\n) -> int: ...",
        id="python-multi-line-signature",
    ),
    pytest.param(
        "/** Docs. */\nfunc Add(a, b int) int {\n\t...\n}",
        "/** Docs. */\nfunc Add(a, b int) int { ... }",
        id="go-braces",
    ),
    pytest.param("func F() { ... }", "func F() { ... }", id="one-line-skeleton"),
]


@pytest.mark.parametrize(("skeleton", "expected"), SIGNATURES)
def test_signature_text(skeleton: str, expected: str) -> None:
    chunk = make_chunk("s.py", 0, 5, "f", skeleton=skeleton)
    assert signature_text(chunk) == expected


def test_a_definition_too_big_for_its_skeleton_is_shown_by_its_signature() -> None:
    docstring = "\n".join(f"    line {i} of a long docstring" for i in range(80))
    skeleton = f'def big(a: int) -> int:\n    """\n{docstring}\n    """\n    ...'
    chunk = make_chunk("big.py", 0, 200, "big", skeleton=skeleton)
    packed = compress([scored(chunk)], CharCounter(), 80, registry=REGISTRY)
    assert [snippet.text for snippet in packed] == ["def big(a: int) -> int: ..."]
    assert packed[0].skeletonized


def test_outline_lines_skip_decorators() -> None:
    decorated = make_chunk(
        "n.py", 0, 3, "name", skeleton="@property\ndef name(self) -> str:\n    ..."
    )
    neighbour = FileChunks(path="n.py", language_id="python", content_hash="0", chunks=(decorated,))
    packed = compress([], CharCounter(), 200, registry=REGISTRY, outline_neighbours=[neighbour])
    assert packed[0].text.splitlines()[-1] == "def name(self) -> str:"


# --- what is being written at the cursor ---------------------------------------------------


def found_by(chunk: Chunk, score: float, *sources: str) -> ScoredChunk:
    return ScoredChunk(chunk, score, sources)


def test_the_definition_at_the_cursor_is_packed_first_even_when_it_costs_more() -> None:
    """Denser, better-scored chunks would fill the budget; the one being called at the
    cursor is packed first (as its skeleton, being large)."""
    called = make_chunk("called.py", 0, 30)
    others = [make_chunk(f"o{i}.py", 0, 1) for i in range(6)]
    budget = 6 * cost("o0.py", others[0].text)
    packed = pack(
        [*(found_by(o, 0.05, "exact") for o in others), found_by(called, 0.01, "cursor")], budget
    )
    assert "called.py" in {snippet.path for snippet in packed}
    (shown,) = [snippet for snippet in packed if snippet.path == "called.py"]
    assert shown.text == called.skeleton


def receiver_class() -> tuple[Chunk, list[Chunk]]:
    """A class whose skeleton holds its members' stubs, as the chunker makes it."""
    members = [
        make_chunk("box.py", 10 * i + 2, 10 * i + 9, f"Box.m{i}", kind="method", parent="Box")
        for i in range(3)
    ]
    stubs = "\n".join(f"    def m{i}():\n        ..." for i in range(3))
    cls = make_chunk("box.py", 0, 40, "Box", kind="class", skeleton=f"class Box:\n{stubs}")
    return cls, members


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        pytest.param(
            1000,
            "class Box:\n    def m0():\n        ...\n    def m1():\n        ...\n"
            "    def m2():\n        ...",
            id="skeleton-fits-members-not-repeated",
        ),
        pytest.param(
            cost("box.py", "x" * 70),
            "class Box: ...\ndef m0(): ...\ndef m1(): ...\ndef m2(): ...",
            id="else-an-outline-of-signatures",
        ),
    ],
)
def test_a_receivers_class_and_members(budget: int, expected: str) -> None:
    cls, members = receiver_class()
    (snippet,) = pack(
        [found_by(cls, 0.1, "cursor"), *(found_by(m, 0.05, "member") for m in members)], budget
    )
    assert snippet.text == expected


def test_an_imported_definition_found_by_nothing_else_is_shown_by_its_signature() -> None:
    imported = make_chunk("lib.py", 0, 5, "helper")
    (snippet,) = pack([found_by(imported, 0.05, "imported", "lexical")], 1000)
    assert snippet.text == "def helper(): ..."


def test_a_file_header_does_not_hold_the_definitions_between_its_lines() -> None:
    """A module chunk spans the whole file (its lines are above and below the functions)
    but holds none of them: a function is still packed after it."""
    header = Chunk("a.py", "python", 0, 20, "", "module", "import os\nX = 1", "import os\nX = 1")
    function = make_chunk("a.py", 5, 7, "work")
    (snippet,) = pack([found_by(header, 0.1, "exact"), found_by(function, 0.05, "exact")], 1000)
    assert snippet.chunks == (header, function)
    assert "def work():" in snippet.text
