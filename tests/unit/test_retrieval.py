"""The retrieval pipeline: exact, lexical and recency rankings fused for one cursor."""

from __future__ import annotations

import pytest

from codehearth.index.bm25 import BM25Index, identifier_spans
from codehearth.index.model import Chunk, FileChunks, Import
from codehearth.index.retrieval import (
    DEFINE_WEIGHT,
    RRF_K,
    SOURCE_WEIGHTS,
    ChunkSource,
    CursorContext,
    ScoredChunk,
    _written_at_cursor,
    caret_window,
    chunk_terms,
    fuse_rankings,
    retrieve,
)

# --- a small workspace ------------------------------------------------------------------

PRICING = '''\
"""Prices, taxes and discounts."""

TAX_RATE = 0.2


def compute_total(items, tax_rate=TAX_RATE):
    """Sum item prices and add tax."""
    subtotal = sum(item.price * item.quantity for item in items)
    return round(subtotal * (1 + tax_rate), 2)


def apply_discount(total, code):
    """Take a percentage off for a known discount code."""
    percent = DISCOUNTS.get(code, 0)
    return total * (100 - percent) / 100
'''

DB = """\
import sqlite3

from app.models import User


def connect(url):
    return sqlite3.connect(url)


def fetch_user(conn, user_id):
    row = conn.execute("SELECT id, name FROM users WHERE id = ?", (user_id,)).fetchone()
    return User(*row)


def save_user(conn, user):
    conn.execute("INSERT INTO users VALUES (?, ?)", (user.id, user.name))
"""

MODELS = """\
from dataclasses import dataclass


@dataclass
class User:
    id: int
    name: str

    def display_name(self):
        return self.name.title()
"""

TEXT = '''\
import re


def slugify(title):
    """Lowercase words joined by dashes."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def truncate(text, width):
    return text if len(text) <= width else text[: width - 1] + "..."
'''

REPORTS = """\
def summarize_totals(items):
    totals = [item.total for item in items]
    return {"items": len(items), "total": sum(totals), "subtotal": sum(totals)}
"""

LEGACY = """\
def compute_total(rows):
    return sum(row[1] for row in rows)
"""

SERVICE = """\
from app.db import fetch_user, save_user
from app.pricing import compute_total


def format_receipt(user, total):
    return f"{user.display_name()}: {total:.2f}"


def checkout(conn, user_id, items):
    user = fetch_user(conn, user_id)
    total = compute_total(items)
    receipt = format_receipt(user, total)
    save_user(conn, user)
    return receipt
"""


def make_file(
    path: str,
    source: str,
    definitions: list[tuple[str, str, int, int]],
    imports: tuple[Import, ...] = (),
) -> FileChunks:
    """Chunks like the chunker's: ``(symbol, kind, first line, last line)`` each."""
    lines = source.splitlines()
    chunks = []
    for symbol, kind, start, end in definitions:
        text = "\n".join(lines[start : end + 1])
        name = symbol.rpartition(".")[2]
        body = next(i for i in range(start, end + 1) if lines[i].rstrip().endswith(":"))
        skeleton = text if kind == "module" else "\n".join([*lines[start : body + 1], "    ..."])
        chunks.append(
            Chunk(
                path=path,
                language_id="python",
                start_line=start,
                end_line=end,
                symbol=symbol,
                kind=kind,
                text=text,
                skeleton=skeleton,
                defines=(name,) if name else (),
                references=tuple(n for _, n in identifier_spans(text) if n != name),
                parent=symbol.rpartition(".")[0],
            )
        )
    return FileChunks(path, "python", f"hash-{path}", tuple(chunks), imports)


WORKSPACE = (
    make_file(
        "app/pricing.py",
        PRICING,
        [("compute_total", "function", 5, 8), ("apply_discount", "function", 11, 14)],
    ),
    make_file(
        "app/db.py",
        DB,
        [
            ("connect", "function", 5, 6),
            ("fetch_user", "function", 9, 11),
            ("save_user", "function", 14, 15),
        ],
        (Import("sqlite3"), Import("app.models", ("User",))),
    ),
    make_file(
        "app/models.py",
        MODELS,
        [("User", "class", 3, 9), ("User.display_name", "method", 8, 9)],
        (Import("dataclasses", ("dataclass",)),),
    ),
    make_file(
        "app/text.py",
        TEXT,
        [("slugify", "function", 3, 5), ("truncate", "function", 8, 9)],
        (Import("re"),),
    ),
    make_file("app/reports.py", REPORTS, [("summarize_totals", "function", 0, 2)]),
    make_file("legacy/pricing.py", LEGACY, [("compute_total", "function", 0, 1)]),
    make_file(
        "app/service.py",
        SERVICE,
        [("format_receipt", "function", 4, 5), ("checkout", "function", 8, 13)],
        (Import("app.db", ("fetch_user", "save_user")), Import("app.pricing", ("compute_total",))),
    ),
)


class FakeSource:
    """An in-memory ChunkSource over :data:`WORKSPACE`."""

    def __init__(self, files: tuple[FileChunks, ...] = WORKSPACE) -> None:
        self.files = {file.path: file for file in files}
        self.bm25 = BM25Index()
        self.chunks: dict[str, Chunk] = {}
        for file in files:
            for chunk in file.chunks:
                key = self.chunk_key(chunk)
                self.chunks[key] = chunk
                self.bm25.add_counts(key, chunk_terms(chunk))

    def chunks_defining(self, name: str) -> list[Chunk]:
        return [chunk for chunk in self.chunks.values() if name in chunk.defines]

    def file_chunks(self, path: str) -> FileChunks | None:
        return self.files.get(path)

    def resolve_import(self, from_path: str, item: Import) -> list[str]:
        path = item.module.replace(".", "/") + ".py"
        return [path] if path in self.files else []

    def chunk_by_key(self, key: str) -> Chunk | None:
        return self.chunks.get(key)

    @staticmethod
    def chunk_key(chunk: Chunk) -> str:
        return f"{chunk.path}#{chunk.start_line}-{chunk.end_line}#{chunk.symbol}"


def cursor_after(
    marker: str,
    *,
    window: tuple[int, int] = (8, 13),
    recent: tuple[tuple[str, int], ...] = (),
    text: str = SERVICE,
) -> CursorContext:
    """A cursor in ``app/service.py`` right after the first ``marker``."""
    offset = text.index(marker) + len(marker)
    return CursorContext("app/service.py", "python", text, offset, window, recent)


def symbols(results: list[ScoredChunk]) -> list[str]:
    return [f"{item.chunk.path}:{item.chunk.symbol}" for item in results]


def by_symbol(results: list[ScoredChunk], path: str, symbol: str) -> ScoredChunk:
    return next(r for r in results if r.chunk.path == path and r.chunk.symbol == symbol)


def test_fake_source_is_a_chunk_source() -> None:
    source: ChunkSource = FakeSource()
    assert source.file_chunks("app/db.py") is not None


def test_cursor_context_takes_recent_positions_as_any_iterable() -> None:
    cursor = CursorContext("a.py", "python", "", 0, (0, 0), [("b.py", 3)])
    assert cursor.recent == (("b.py", 3),)


@pytest.mark.parametrize(
    ("text", "marker"),
    [
        pytest.param("", "", id="empty-file"),
        pytest.param("compute_total(", "compute_total(", id="single-line-unindexed-file"),
        pytest.param("\n" * 5 + "fetch_user(", "fetch_user(", id="cursor-on-last-line"),
    ],
)
def test_file_edges(text: str, marker: str) -> None:
    offset = text.index(marker) + len(marker)
    cursor = CursorContext("new.py", "python", text, offset, (0, text.count("\n")))
    results = retrieve(FakeSource(), cursor)
    if marker:
        assert symbols(results)[0].endswith(marker.rstrip("("))
    else:
        assert all("exact" not in item.sources for item in results)


# --- exact ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("marker", "first"),
    [
        pytest.param("total = compute_total(", "app/pricing.py:compute_total", id="call-args"),
        pytest.param("user = fetch_user(", "app/db.py:fetch_user", id="other-call"),
        pytest.param("    save_user", "app/db.py:save_user", id="inside-name"),
    ],
)
def test_definition_called_on_cursor_line_ranks_first(marker: str, first: str) -> None:
    results = retrieve(FakeSource(), cursor_after(marker))
    assert symbols(results)[0] == first
    assert "exact" in results[0].sources


def test_definition_in_imported_file_beats_same_name_elsewhere() -> None:
    results = symbols(retrieve(FakeSource(), cursor_after("total = compute_total(")))
    assert results.index("app/pricing.py:compute_total") < results.index(
        "legacy/pricing.py:compute_total"
    )


def test_imported_names_are_found() -> None:
    """Imports are found even when the cursor is nowhere near their uses."""
    text = SERVICE + "\n\ndef later():\n    pass\n"
    cursor = cursor_after("    pass", text=text, window=(14, 18))
    results = retrieve(FakeSource(), cursor)
    for name in ("app/db.py:fetch_user", "app/db.py:save_user", "app/pricing.py:compute_total"):
        assert "exact" in by_symbol(results, *name.split(":")).sources


def test_names_of_the_enclosing_function_are_found() -> None:
    """``format_receipt`` is used two lines above the cursor, in the same function."""
    results = retrieve(FakeSource(), cursor_after("    return receipt"))
    assert "exact" in by_symbol(results, "app/service.py", "format_receipt").sources


def test_statement_continued_from_line_above_counts_as_cursor_statement() -> None:
    text = SERVICE.replace("    return receipt", "    return slugify(\n        receipt,\n        ")
    cursor = cursor_after("receipt,\n        ", text=text, window=(8, 15))
    assert symbols(retrieve(FakeSource(), cursor))[0] == "app/text.py:slugify"


def test_method_used_in_other_file_is_found() -> None:
    results = retrieve(FakeSource(), cursor_after("{user.display_name", window=(0, 13)))
    assert symbols(results)[0] == "app/models.py:User.display_name"


# --- caret window -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "receipt_shown"),
    [
        pytest.param((8, 13), True, id="outside-window-kept"),
        pytest.param((0, 13), False, id="inside-window-dropped"),
        pytest.param((5, 13), True, id="partly-inside-kept"),
    ],
)
def test_caret_window_dedupe(window: tuple[int, int], receipt_shown: bool) -> None:
    results = symbols(
        retrieve(FakeSource(), cursor_after("receipt = format_receipt(", window=window))
    )
    assert ("app/service.py:format_receipt" in results) is receipt_shown


def test_chunk_being_edited_is_never_returned() -> None:
    """``checkout`` holds the cursor: its indexed text is stale and mostly in the prompt."""
    results = retrieve(FakeSource(), cursor_after("total = compute_total(", window=(12, 13)))
    assert "app/service.py:checkout" not in symbols(results)


@pytest.mark.parametrize(
    ("prefix_chars", "suffix_chars", "expected"),
    [
        pytest.param(0, 0, (10, 10), id="cursor-line-only"),
        pytest.param(len("    total = "), 0, (10, 10), id="prefix-within-line"),
        pytest.param(10_000, 10_000, (0, 14), id="whole-file"),
        pytest.param(
            len("    user = fetch_user(conn, user_id)\n    total = "), 5, (9, 10), id="up"
        ),
    ],
)
def test_caret_window(prefix_chars: int, suffix_chars: int, expected: tuple[int, int]) -> None:
    offset = SERVICE.index("compute_total(items)")
    assert caret_window(SERVICE, offset, prefix_chars, suffix_chars) == expected


# --- lexical and recency ----------------------------------------------------------------


def test_lexical_finds_similar_code_without_a_shared_name() -> None:
    results = retrieve(FakeSource(), cursor_after("total = compute_total(items"))
    assert "lexical" in by_symbol(results, "app/reports.py", "summarize_totals").sources


def test_recently_edited_chunk_is_included() -> None:
    cursor = cursor_after("total = compute_total(", recent=(("app/text.py", 5),))
    slugify = by_symbol(retrieve(FakeSource(), cursor), "app/text.py", "slugify")
    assert slugify.sources == ("recent",)


@pytest.mark.parametrize(
    ("recent", "expected"),
    [
        pytest.param(("app/models.py", 9), "User.display_name", id="innermost"),
        pytest.param(("app/models.py", 4), "User", id="container"),
        pytest.param(("app/text.py", 7), "truncate", id="between-definitions"),
    ],
)
def test_recent_position_picks_innermost_or_nearest(recent: tuple[str, int], expected: str) -> None:
    # Cursor at the top of the file, whose only nearby names are its imports.
    cursor = cursor_after("from app.db import ", window=(0, 2), recent=(recent,))
    results = retrieve(FakeSource(), cursor)
    assert "recent" in by_symbol(results, recent[0], expected).sources


def test_recent_position_in_unknown_file_is_ignored() -> None:
    cursor = cursor_after("total = compute_total(", recent=(("gone.py", 3),))
    assert all("recent" not in item.sources for item in retrieve(FakeSource(), cursor))


# --- fusion -----------------------------------------------------------------------------


def test_chunk_found_by_several_sources_is_returned_once() -> None:
    cursor = cursor_after("total = compute_total(", recent=(("app/pricing.py", 7),))
    results = retrieve(FakeSource(), cursor)
    keys = symbols(results)
    assert len(keys) == len(set(keys))
    top = by_symbol(results, "app/pricing.py", "compute_total")
    assert top.sources == ("cursor", "exact", "lexical", "recent")
    assert top is results[0]


def test_scores_are_sorted_and_limited() -> None:
    results = retrieve(FakeSource(), cursor_after("total = compute_total("), limit=3)
    assert len(results) == 3
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    assert retrieve(FakeSource(), cursor_after("total = compute_total("), limit=0) == []


def w(name: str, rank: int) -> float:
    return SOURCE_WEIGHTS[name] / (RRF_K + rank)


@pytest.mark.parametrize(
    ("rankings", "expected"),
    [
        pytest.param(
            {"exact": ["a", "b"], "lexical": ["b", "c"], "recent": []},
            [
                ("b", w("exact", 2) + w("lexical", 1), ("exact", "lexical")),
                ("a", w("exact", 1), ("exact",)),
                ("c", w("lexical", 2), ("lexical",)),
            ],
            id="sum-over-sources",
        ),
        pytest.param(
            {"exact": ["a"], "lexical": ["b"], "recent": ["c"]},
            [
                ("a", w("exact", 1), ("exact",)),
                ("b", w("lexical", 1), ("lexical",)),
                ("c", w("recent", 1), ("recent",)),
            ],
            id="exact-weighted-highest",
        ),
        pytest.param(
            {"exact": [], "lexical": ["x", "y"], "recent": ["y", "x"]},
            [
                ("x", w("lexical", 1) + w("recent", 2), ("lexical", "recent")),
                ("y", w("lexical", 2) + w("recent", 1), ("lexical", "recent")),
            ],
            id="cross-ranks",
        ),
        pytest.param({"exact": [], "lexical": [], "recent": []}, [], id="empty"),
    ],
)
def test_fuse_rankings(
    rankings: dict[str, list[str]], expected: list[tuple[str, float, tuple[str, ...]]]
) -> None:
    fused = fuse_rankings(rankings)
    assert [(key, sources) for key, _, sources in fused] == [(k, s) for k, _, s in expected]
    assert [score for _, score, _ in fused] == pytest.approx([s for _, s, _ in expected])


def test_fuse_rankings_ties_keep_first_seen_order() -> None:
    fused = fuse_rankings({"a": ["x"], "b": ["y"]}, {"a": 1.0, "b": 1.0})
    assert [key for key, _, _ in fused] == ["x", "y"]


# --- documents --------------------------------------------------------------------------


def test_chunk_terms_weight_defined_names() -> None:
    chunk = WORKSPACE[0].chunks[0]  # compute_total
    terms = chunk_terms(chunk)
    assert terms["compute_total"] == DEFINE_WEIGHT
    assert terms["compute"] == DEFINE_WEIGHT + chunk.text.count("compute")
    assert "round" in terms  # a referenced name, whole
    assert "def" not in terms and "return" not in terms


# --- what is being written at the cursor ---------------------------------------------------


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        pytest.param("total = compute_total(", [("compute_total", ())], id="call-opened"),
        pytest.param(
            "x = mod.run(a, ",
            [("run", ("mod",))],
            id="arguments-of-a-module-function",
        ),
        pytest.param(
            "self.store.save(item",
            [("item", ()), ("save", ("self", "store"))],
            id="name-typed-inside-a-call",
        ),
        pytest.param("value = config.", [("", ("config",))], id="member-not-named-yet"),
        pytest.param("run(text.", [("", ("text",)), ("run", ())], id="member-inside-a-call"),
        pytest.param('log("(", ', [("log", ())], id="brackets-in-strings-do-not-count"),
        pytest.param("return (", [], id="a-keyword-is-no-call"),
        pytest.param("items[0](", [], id="no-name-before-the-call"),
        pytest.param("x = [a, b", [("b", ())], id="a-list-is-no-call"),
    ],
)
def test_what_is_written_at_the_cursor(before: str, expected: list[tuple[str, tuple]]) -> None:
    found = _written_at_cursor(before)
    assert [(written.name, written.receiver) for written in found] == expected


def test_the_call_being_written_is_resolved_first_through_the_files_imports() -> None:
    """``compute_total`` is defined twice; the one app/service.py imports comes first, and
    packs before everything else."""
    results = retrieve(FakeSource(), cursor_after("total = compute_total("))
    first = results[0]
    assert (first.chunk.path, first.chunk.symbol) == ("app/pricing.py", "compute_total")
    assert "cursor" in first.sources
    legacy = by_symbol(results, "legacy/pricing.py", "compute_total")
    assert legacy.score < first.score


SHOP = """\
from app.models import User


class Shop:
    def greet(self, user: User):
        return user.
"""

ADMIN = """\
from app.models import User


class Admin(User):
    def badge(self):
        return self.
"""


@pytest.mark.parametrize(
    ("path", "source", "marker"),
    [
        pytest.param("app/shop.py", SHOP, "return user.", id="an-annotated-parameter"),
        pytest.param("app/admin.py", ADMIN, "return self.", id="self-in-a-subclass"),
    ],
)
def test_a_member_access_shows_the_receivers_class_and_its_members(
    path: str, source: str, marker: str
) -> None:
    extra = make_file(
        path,
        source,
        [("Shop" if "Shop" in source else "Admin", "class", 3, 5)],
        (Import("app.models", ("User",)),),
    )
    files = (*WORKSPACE, extra)
    offset = source.index(marker) + len(marker)
    cursor = CursorContext(path, "python", source, offset, (0, 5))
    results = retrieve(FakeSource(files), cursor)
    user = by_symbol(results, "app/models.py", "User")
    member = by_symbol(results, "app/models.py", "User.display_name")
    assert "cursor" in user.sources and "member" in member.sources
    assert results[:2] == [user, member]


def test_an_unknown_receiver_adds_nothing() -> None:
    cursor = cursor_after("user = ", text=SERVICE.replace("user = fetch", "user = thing.fetch"))
    assert all("member" not in item.sources for item in retrieve(FakeSource(), cursor))


STORES = """\
class FileStore:
    def save(self, item):
        pass


class CloudStore:
    def save(self, item):
        pass
"""

SAVER = """\
from app.stores import CloudStore


def keep(store: CloudStore, item):
    store.save(
"""


def test_a_typed_methods_definition_in_the_receivers_class_comes_first() -> None:
    stores = make_file(
        "app/stores.py",
        STORES,
        [
            ("FileStore", "class", 0, 2),
            ("FileStore.save", "method", 1, 2),
            ("CloudStore", "class", 5, 7),
            ("CloudStore.save", "method", 6, 7),
        ],
    )
    saver = make_file(
        "app/saver.py",
        SAVER,
        [("keep", "function", 3, 4)],
        (Import("app.stores", ("CloudStore",)),),
    )
    cursor = CursorContext("app/saver.py", "python", SAVER, len(SAVER) - 1, (0, 4))
    results = retrieve(FakeSource((*WORKSPACE, stores, saver)), cursor)
    first = results[0]
    assert (first.chunk.symbol, first.sources[0]) == ("CloudStore.save", "cursor")
