"""The index store: chunks and BM25 term counts per content hash and the manifest persist
across restarts, a corrupt database is moved aside, an unusable folder leaves the index in
memory, and warm builds and identical files reuse stored chunks and counts."""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from codehearth.index import bm25, retrieval, workspace_index
from codehearth.index.bm25 import identifier_terms, tokenize_code
from codehearth.index.chunker import chunk_file
from codehearth.index.model import Chunk, FileChunks
from codehearth.index.retrieval import chunk_terms, terms_version
from codehearth.index.store import (
    CHUNKER_VERSION,
    IndexStore,
    ManifestEntry,
    decode_chunks,
    decode_terms,
    default_cache_root,
    encode_chunks,
    encode_terms,
    workspace_key,
)
from codehearth.index.workspace_index import WorkspaceIndex
from codehearth.languages import LanguageRegistry

REGISTRY = LanguageRegistry.load()

SOURCE = '''\
"""Geometry helpers."""

import math

from .units import Metres


class Circle:
    def area(self, radius):
        return math.pi * radius**2


def distance(a, b):
    """Straight-line distance."""
    return math.hypot(a.x - b.x, a.y - b.y)
'''

WORKSPACE = {
    "geometry.py": SOURCE,
    "units.py": "class Metres(float):\n    pass\n",
    "web/app.ts": "export function render(name: string): string {\n  return name;\n}\n",
    "native/calc.c": "int add(int a, int b) {\n    return a + b;\n}\n",
}


def write_tree(root: Path, files: Mapping[str, str]) -> None:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


def all_chunks(index: WorkspaceIndex) -> dict[str, FileChunks]:
    return {path: chunks for path in index.paths() if (chunks := index.file_chunks(path))}


@pytest.fixture
def file_chunks(tmp_path: Path) -> FileChunks:
    return chunk_file(REGISTRY, "python", str(tmp_path / "geometry.py"), SOURCE)


# --- round trips ----------------------------------------------------------------------


def test_chunks_round_trip_through_the_store(tmp_path: Path, file_chunks: FileChunks) -> None:
    store = IndexStore(tmp_path / "cache")
    store.save_chunks(file_chunks)

    assert store.load_chunks(file_chunks.content_hash, file_chunks.language_id) == file_chunks
    assert file_chunks.imports  # the round trip covers imports too
    assert any(chunk.references for chunk in file_chunks.chunks)


def test_chunks_survive_closing_and_reopening_the_store(
    tmp_path: Path, file_chunks: FileChunks
) -> None:
    store = IndexStore(tmp_path / "cache")
    store.save_chunks(file_chunks)
    store.close()

    reopened = IndexStore(tmp_path / "cache")

    assert reopened.persistent
    assert reopened.problem is None
    assert reopened.load_chunks(file_chunks.content_hash, file_chunks.language_id) == file_chunks


def test_many_chunks_load_at_once_each_at_its_path(tmp_path: Path, file_chunks: FileChunks) -> None:
    store = IndexStore(tmp_path / "cache")
    store.save_chunks(file_chunks)
    digest = file_chunks.content_hash
    wanted = [(digest, "python", "/w/a.py"), ("0" * 64, "python", "/w/b.py")]
    wanted += [(digest, "typescript", "/w/c.ts"), (digest, "python", file_chunks.path)]

    loaded = store.load_many(wanted)

    assert loaded[1] is None and loaded[2] is None
    assert loaded[3] == file_chunks
    assert loaded[0] is not None and loaded[0].path == "/w/a.py"
    assert [chunk.text for chunk in loaded[0].chunks] == [c.text for c in file_chunks.chunks]


def test_values_not_written_as_text_are_never_read_back(tmp_path: Path) -> None:
    """A planted pickle (diskcache would unpickle it on get) is not loaded."""
    store = IndexStore(tmp_path / "cache")
    assert store._cache is not None
    key = f"chunks:{CHUNKER_VERSION}:python:{'1' * 64}"
    store._cache.set(key, {"not": "text"})
    assert store.load_many([("1" * 64, "python", "/w/a.py")]) == [None]


def test_unknown_content_hash_loads_nothing(tmp_path: Path) -> None:
    assert IndexStore(tmp_path / "cache").load_chunks("0" * 64, "python") is None


def file_of(count: int) -> FileChunks:
    """A file of ``count`` one-line functions."""
    chunks = tuple(
        Chunk("/ws/f.py", "python", i, i, f"f{i}", "function", f"def f{i}(): pass", "", (f"f{i}",))
        for i in range(count)
    )
    return FileChunks("/ws/f.py", "python", "0" * 64, chunks)


@pytest.mark.parametrize(
    "counts",
    [
        pytest.param([], id="no chunks"),
        pytest.param([{}], id="a chunk without terms"),
        pytest.param([{"area": 2, "circle": 5}, {}, {"radius": 1}], id="several chunks"),
        pytest.param([{"größe": 1, "名前": 3}], id="unicode terms"),
    ],
)
def test_term_counts_round_trip(counts: list[dict[str, int]]) -> None:
    chunks = file_of(len(counts))
    encoded = encode_terms(chunks, counts)

    assert encoded is not None
    assert decode_terms(encoded, chunks) == counts


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda lines: ["3 9 3 0", *lines[1:]], id="counts of other chunks"),
        pytest.param(lambda lines: [lines[0], "2 2", *lines[2:]], id="sizes over the terms"),
        pytest.param(lambda lines: [lines[0], "1", *lines[2:]], id="a size missing"),
        pytest.param(lambda lines: [*lines[:2], "1", *lines[3:]], id="a frequency missing"),
        pytest.param(lambda lines: [*lines[:2], "1 2 3", *lines[3:]], id="a frequency too many"),
        pytest.param(lambda lines: [*lines[:2], "1 0", *lines[3:]], id="a zero frequency"),
        pytest.param(lambda lines: [lines[0], "-1 3", *lines[2:]], id="a negative size"),
        pytest.param(lambda lines: [lines[0], "x 1", *lines[2:]], id="not a number"),
        pytest.param(lambda lines: lines[:3], id="no terms"),
        pytest.param(lambda lines: lines[:1], id="only the first line"),
        pytest.param(lambda lines: [""], id="empty"),
    ],
)
def test_damaged_term_counts_decode_to_none(damage: Callable[[list[str]], list[str]]) -> None:
    chunks = file_of(2)
    encoded = encode_terms(chunks, [{"alpha": 1}, {"beta": 2}])
    assert encoded is not None and encoded.split("\n")[1:] == ["1 1", "1 2", "alpha", "beta"]

    assert decode_terms("\n".join(damage(encoded.split("\n"))), chunks) is None


def test_counts_of_content_chunked_another_way_are_not_read(tmp_path: Path) -> None:
    """The same content may be chunked as plain line windows, without names, when parsing
    overruns its deadline: the counts stored for its syntax chunk are not its window's,
    though both are one chunk."""
    source = "def compute_total(items):\n    return sum(items)\n"
    path = str(tmp_path / "total.py")
    by_syntax = chunk_file(REGISTRY, "python", path, source)
    as_window = chunk_file(REGISTRY, "python", path, source, deadline_micros=0)
    assert by_syntax.content_hash == as_window.content_hash
    assert len(by_syntax.chunks) == len(as_window.chunks) == 1
    assert by_syntax.chunks[0].defines == ("compute_total",) and as_window.chunks[0].defines == ()

    encoded = encode_terms(by_syntax, [chunk_terms(by_syntax.chunks[0])])

    assert encoded is not None and decode_terms(encoded, by_syntax) is not None
    assert decode_terms(encoded, as_window) is None


def test_decoded_files_share_the_strings_of_their_names_and_terms(tmp_path: Path) -> None:
    first, second = (
        chunk_file(REGISTRY, "python", str(tmp_path / name), "def run():\n    helper_name()\n")
        for name in ("a.py", "b.py")
    )
    a, b = (decode_chunks(encode_chunks(chunks)) for chunks in (first, second))
    a_terms, b_terms = (
        decode_terms(encode_terms(f, [chunk_terms(c) for c in f.chunks]) or "", f)
        for f in (first, second)
    )

    assert a is not None and b is not None and a_terms is not None and b_terms is not None
    assert a.chunks[0].references == b.chunks[0].references == ("helper_name",)
    assert a.chunks[0].references[0] is b.chunks[0].references[0]
    shared = [term for term in a_terms[0] if term == "helper_name"]
    assert shared and shared[0] is next(t for t in b_terms[0] if t == "helper_name")


def test_term_counts_with_a_line_break_in_a_term_are_not_encoded() -> None:
    assert encode_terms(file_of(1), [{"two\nlines": 1}]) is None


def test_term_counts_are_kept_per_content_language_and_terms_version(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "cache")
    store.save_terms([("hash1", "python", "1\n2\narea")], "v1")

    assert store.load_terms_many([("hash1", "python"), ("hash2", "python")], "v1") == [
        "1\n2\narea",
        None,
    ]
    assert store.load_terms_many([("hash1", "javascript")], "v1") == [None]
    assert store.load_terms_many([("hash1", "python")], "v2") == [None]


def test_terms_version_follows_what_the_tokenizer_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    version = terms_version()
    assert version == terms_version.__wrapped__()

    monkeypatch.setattr(retrieval, "DEFINE_WEIGHT", retrieval.DEFINE_WEIGHT + 1)
    assert terms_version.__wrapped__() != version
    monkeypatch.undo()
    monkeypatch.setattr(bm25, "MIN_TOKEN_LENGTH", 3)
    bm25.split_identifier.cache_clear()
    try:
        assert terms_version.__wrapped__() != version
    finally:
        monkeypatch.undo()
        bm25.split_identifier.cache_clear()


def test_manifest_round_trips(tmp_path: Path) -> None:
    manifest = {
        "/w/a.py": ManifestEntry(1_700_000_000_123_456_789, 120, "a" * 64),
        "/w/ü/b.ts": ManifestEntry(5, 0, "b" * 64),
    }
    store = IndexStore(tmp_path / "cache")
    store.save_manifest(manifest)
    store.close()

    assert IndexStore(tmp_path / "cache").load_manifest() == manifest


def test_fresh_store_has_an_empty_manifest(tmp_path: Path) -> None:
    assert IndexStore(tmp_path / "cache").load_manifest() == {}


def test_values_are_stored_as_json_text_not_pickle(tmp_path: Path, file_chunks: FileChunks) -> None:
    store = IndexStore(tmp_path / "cache")
    store.save_chunks(file_chunks)
    store.save_manifest({"/w/a.py": ManifestEntry(1, 2, "c" * 64)})
    store.close()

    with sqlite3.connect(tmp_path / "cache" / "cache.db") as db:
        rows = list(db.execute("SELECT mode, value FROM Cache"))

    assert len(rows) == 2
    # diskcache modes: 1 raw (a short str kept inline), 3 text file; 4 would be pickle.
    assert {mode for mode, _ in rows} <= {1, 3}
    assert all(isinstance(value, str) for mode, value in rows if mode == 1)


def test_store_for_workspace_lives_in_the_user_cache_not_the_workspace(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    store = IndexStore.for_workspace(root)

    assert store.folder.is_relative_to(Path(os.environ["XDG_CACHE_HOME"]))
    assert store.folder.is_relative_to(default_cache_root())
    assert not store.folder.is_relative_to(root)
    assert store.folder.name == workspace_key(root)


def test_workspace_key_is_stable_and_distinct_per_path(tmp_path: Path) -> None:
    (tmp_path / "a" / "app").mkdir(parents=True)
    (tmp_path / "b" / "app").mkdir(parents=True)

    first = workspace_key(tmp_path / "a" / "app")

    assert first == workspace_key(tmp_path / "a" / ".." / "a" / "app")
    assert first != workspace_key(tmp_path / "b" / "app")
    assert first.startswith("app-")


# --- broken stores --------------------------------------------------------------------


def test_corrupt_database_is_moved_aside_and_a_fresh_store_works(
    tmp_path: Path, file_chunks: FileChunks
) -> None:
    folder = tmp_path / "cache"
    store = IndexStore(folder)
    store.save_chunks(file_chunks)
    store.close()
    database = folder / "cache.db"
    with database.open("r+b") as handle:
        handle.write(b"this is not an sqlite database!!" * 4)

    reopened = IndexStore(folder)

    assert reopened.persistent
    assert reopened.problem is None
    moved = list(tmp_path.glob("cache.corrupt-*"))
    assert len(moved) == 1
    assert (moved[0] / "cache.db").read_bytes().startswith(b"this is not an sqlite")
    assert reopened.load_chunks(file_chunks.content_hash, file_chunks.language_id) is None
    reopened.save_chunks(file_chunks)
    assert reopened.load_chunks(file_chunks.content_hash, file_chunks.language_id) == file_chunks


def test_build_with_a_corrupt_store_rebuilds_from_source(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write_tree(root, WORKSPACE)
    folder = tmp_path / "cache"
    first = IndexStore(folder)
    WorkspaceIndex(root, REGISTRY, first).build()
    first.close()
    with (folder / "cache.db").open("r+b") as handle:
        handle.write(os.urandom(100))

    report = WorkspaceIndex(root, REGISTRY, IndexStore(folder)).build()

    assert (report.files, report.parsed, report.from_cache) == (len(WORKSPACE), len(WORKSPACE), 0)


@pytest.fixture
def unusable_folder(tmp_path: Path) -> Path:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a regular file where the cache folder's parent should be")
    return blocker / "cache"


def test_unusable_store_folder_leaves_the_store_in_memory_only(
    unusable_folder: Path, file_chunks: FileChunks
) -> None:
    store = IndexStore(unusable_folder)

    assert not store.persistent
    assert store.problem is not None and "disabled" in store.problem
    store.save_chunks(file_chunks)  # no exception, nothing kept
    store.save_manifest({"/w/a.py": ManifestEntry(1, 2, "x")})
    assert store.load_chunks(file_chunks.content_hash, file_chunks.language_id) is None
    assert store.load_manifest() == {}


def test_unwritable_store_folder_leaves_the_store_in_memory_only(tmp_path: Path) -> None:
    parent = tmp_path / "readonly"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        if os.geteuid() == 0 or os.access(parent, os.W_OK):
            pytest.skip("chmod 500 does not stop this user from writing (running as root?)")
        store = IndexStore(parent / "cache")
        assert not store.persistent
        assert store.problem is not None
    finally:
        parent.chmod(0o755)


def test_index_over_an_unusable_store_builds_in_memory(
    tmp_path: Path, unusable_folder: Path
) -> None:
    root = tmp_path / "ws"
    write_tree(root, WORKSPACE)
    store = IndexStore(unusable_folder)
    index = WorkspaceIndex(root, REGISTRY, store)

    report = index.build()

    assert store.problem is not None
    assert report.files == len(WORKSPACE)
    assert [chunk.symbol for chunk in index.chunks_defining("distance")] == ["distance"]
    assert index.update_file(str(root / "units.py"), "class Feet(float):\n    pass\n")
    assert [chunk.symbol for chunk in index.chunks_defining("Feet")] == ["Feet"]


def test_a_failing_write_disables_the_store_without_raising(
    tmp_path: Path, file_chunks: FileChunks, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = IndexStore(tmp_path / "cache")
    assert store._cache is not None

    def fail(*_args: object, **_kwargs: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store._cache, "set", fail)
    store.save_chunks(file_chunks)

    assert not store.persistent
    assert store.problem is not None and "disk I/O error" in store.problem
    store.save_chunks(file_chunks)
    assert store.load_chunks(file_chunks.content_hash, file_chunks.language_id) is None


# --- warm builds and reuse ------------------------------------------------------------


def test_warm_build_reloads_every_file_from_the_cache(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write_tree(root, WORKSPACE)
    store = IndexStore(tmp_path / "cache")
    cold_index = WorkspaceIndex(root, REGISTRY, store)
    cold = cold_index.build()
    store.close()

    warm_index = WorkspaceIndex(root, REGISTRY, IndexStore(tmp_path / "cache"))
    warm = warm_index.build()

    assert (cold.parsed, cold.from_cache) == (len(WORKSPACE), 0)
    assert warm.from_cache == warm.files == len(WORKSPACE)
    assert warm.parsed == 0
    assert warm.chunks == cold.chunks
    assert all_chunks(warm_index) == all_chunks(cold_index)


def built_workspace(tmp_path: Path) -> tuple[Path, IndexStore, WorkspaceIndex]:
    """WORKSPACE written under ``tmp_path/ws`` and indexed with a store in
    ``tmp_path/cache``."""
    root = tmp_path / "ws"
    write_tree(root, WORKSPACE)
    store = IndexStore(tmp_path / "cache")
    index = WorkspaceIndex(root, REGISTRY, store)
    index.build()
    return root, store, index


def lexical_view(index: WorkspaceIndex) -> tuple[int, dict[str, list[tuple[str, float]]]]:
    """How many BM25 documents, and what a search for each indexed name finds."""
    names = sorted(
        {
            name
            for chunks in all_chunks(index).values()
            for chunk in chunks.chunks
            for name in (*chunk.defines, *chunk.references)
        }
    )
    searches = {
        name: index.bm25.search([*tokenize_code(name), *identifier_terms([name])], limit=50)
        for name in names
    }
    return len(index.bm25), searches


def test_warm_build_reads_the_term_counts_instead_of_tokenizing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, store, cold = built_workspace(tmp_path)
    store.close()

    def no_tokenizing(chunk: Chunk) -> Counter[str]:
        raise AssertionError(f"{chunk.symbol} tokenized again")

    monkeypatch.setattr(workspace_index, "chunk_terms", no_tokenizing)
    warm = WorkspaceIndex(root, REGISTRY, IndexStore(tmp_path / "cache"))
    warm.build()

    assert warm.lexical_ready
    assert lexical_view(warm) == lexical_view(cold)
    assert lexical_view(warm)[0] == sum(len(c.chunks) for c in all_chunks(warm).values())


def test_damaged_stored_term_counts_are_counted_again(tmp_path: Path) -> None:
    root, store, cold = built_workspace(tmp_path)
    files = list(all_chunks(cold).values())
    store.save_terms(
        [(chunks.content_hash, chunks.language_id, "9\n1\nwrong") for chunks in files],
        terms_version(),
    )
    store.close()

    warm = WorkspaceIndex(root, REGISTRY, IndexStore(tmp_path / "cache"))
    warm.build()

    assert lexical_view(warm) == lexical_view(cold)
    # ... and stored again, right this time.
    wanted = [(chunks.content_hash, chunks.language_id) for chunks in files]
    stored = warm.store.load_terms_many(wanted, terms_version()) if warm.store else []
    assert [
        decode_terms(text, chunks) if text else None
        for chunks, text in zip(files, stored, strict=True)
    ] == [[chunk_terms(chunk) for chunk in chunks.chunks] for chunks in files]


def test_warm_build_reparses_only_changed_files(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write_tree(root, WORKSPACE)
    store = IndexStore(tmp_path / "cache")
    WorkspaceIndex(root, REGISTRY, store).build()
    store.close()
    (root / "units.py").write_text("class Feet(float):\n    pass\n", encoding="utf-8")

    index = WorkspaceIndex(root, REGISTRY, IndexStore(tmp_path / "cache"))
    report = index.build()

    assert (report.parsed, report.from_cache) == (1, len(WORKSPACE) - 1)
    assert index.chunks_defining("Metres") == []
    assert [chunk.symbol for chunk in index.chunks_defining("Feet")] == ["Feet"]


def test_warm_build_forgets_deleted_files(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write_tree(root, WORKSPACE)
    store = IndexStore(tmp_path / "cache")
    WorkspaceIndex(root, REGISTRY, store).build()
    store.close()
    (root / "units.py").unlink()

    store = IndexStore(tmp_path / "cache")
    index = WorkspaceIndex(root, REGISTRY, store)
    report = index.build()

    assert report.files == report.from_cache == len(WORKSPACE) - 1
    assert str(root / "units.py") not in index.paths()
    assert str(root / "units.py") not in store.load_manifest()


def test_identical_content_at_two_paths_gets_the_right_path_on_each_chunk(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ws"
    write_tree(root, {"a/geometry.py": SOURCE, "b/copy_of_geometry.py": SOURCE})
    store = IndexStore(tmp_path / "cache")
    WorkspaceIndex(root, REGISTRY, store).build()
    store.close()

    index = WorkspaceIndex(root, REGISTRY, IndexStore(tmp_path / "cache"))
    report = index.build()

    assert report.from_cache == 2
    for relative in ("a/geometry.py", "b/copy_of_geometry.py"):
        path = str(root / relative)
        chunks = index.file_chunks(path)
        assert chunks is not None and chunks.path == path
        assert chunks.chunks and {chunk.path for chunk in chunks.chunks} == {path}
    definitions = index.chunks_defining("distance")
    assert sorted(chunk.path for chunk in definitions) == [
        str(root / "a/geometry.py"),
        str(root / "b/copy_of_geometry.py"),
    ]


def test_saved_update_reuses_stored_chunks_of_identical_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "ws"
    write_tree(root, {"geometry.py": SOURCE})
    index = WorkspaceIndex(root, REGISTRY, IndexStore(tmp_path / "cache"))
    index.build()

    def no_parsing(*_args: object, **_kwargs: object) -> FileChunks:
        raise AssertionError("identical content must come from the store")

    monkeypatch.setattr(workspace_index, "chunk_file", no_parsing)
    copy = root / "shapes.py"
    copy.write_text(SOURCE, encoding="utf-8")

    assert index.update_file(str(copy), saved=True)
    chunks = index.file_chunks(str(copy))
    assert chunks is not None
    assert {chunk.path for chunk in chunks.chunks} == {str(copy)}
    assert len(index.chunks_defining("distance")) == 2


def test_saved_update_is_in_the_manifest_after_flush(tmp_path: Path) -> None:
    root, store, index = built_workspace(tmp_path)
    path = root / "units.py"
    path.write_text("class Feet(float):\n    pass\n", encoding="utf-8")

    assert index.update_file(str(path), saved=True)
    index.flush()
    store.close()

    warm = WorkspaceIndex(root, REGISTRY, IndexStore(tmp_path / "cache")).build()
    assert (warm.parsed, warm.from_cache) == (0, len(WORKSPACE))


@pytest.mark.parametrize(
    ("first", "second", "content"),
    [
        pytest.param("pkg/__init__.py", "web/index.ts", "", id="empty-python-and-typescript"),
        pytest.param(
            "lib.js",
            "lib.ts",
            "function add(a, b) {\n  return a + b;\n}\n",
            id="same-code-javascript-and-typescript",
        ),
    ],
)
def test_warm_build_keeps_each_file_language_for_identical_content(
    tmp_path: Path, first: str, second: str, content: str
) -> None:
    root = tmp_path / "ws"
    write_tree(root, {first: content, second: content})
    store = IndexStore(tmp_path / "cache")
    cold = WorkspaceIndex(root, REGISTRY, store)
    cold.build()
    store.close()

    warm = WorkspaceIndex(root, REGISTRY, IndexStore(tmp_path / "cache"))
    warm.build()

    for relative in (first, second):
        path = str(root / relative)
        expected = REGISTRY.by_path(path)
        chunks = warm.file_chunks(path)
        assert expected is not None and chunks is not None
        assert chunks.language_id == expected.language_id
        assert {chunk.language_id for chunk in chunks.chunks} <= {expected.language_id}
        assert chunks == cold.file_chunks(path)


def test_saved_update_keeps_the_language_of_identical_content(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write_tree(root, {"pkg/__init__.py": ""})
    index = WorkspaceIndex(root, REGISTRY, IndexStore(tmp_path / "cache"))
    index.build()
    empty_ts = root / "web" / "index.ts"
    write_tree(root, {"web/index.ts": ""})

    assert index.update_file(str(empty_ts), saved=True)
    chunks = index.file_chunks(str(empty_ts))
    assert chunks is not None and chunks.language_id == "typescript"
