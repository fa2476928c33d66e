"""The memory store: persistence, limits, search, export/import and every failure mode."""

from __future__ import annotations

import os
import pickle
import sqlite3
from pathlib import Path

import pytest

from codehearth.memory.search import (
    ArchivalIndex,
    EmbedTask,
    cosine_ranking,
    embedding_input,
    unit_vector,
)
from codehearth.memory.store import DATABASE_NAME, MemoryStore, default_memory_root


def fake_embed(texts: list[str], _task: EmbedTask = "document") -> list[list[float]]:
    """Deterministic 'semantics': one dimension per topic word family."""
    families = (("cat", "kitten", "feline"), ("car", "vehicle", "engine"), ("rain", "weather"))
    return [
        [1.0 + sum(word in text.lower() for word in family) for family in families]
        if any(word in text.lower() for family in families for word in family)
        else [0.0, 0.0, 0.0]
        for text in texts
    ]


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    return MemoryStore(tmp_path / "memory", "ws")


def test_default_root_is_data_not_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_memory_root() == tmp_path / "codehearth" / "memory"


def test_restart_keeps_every_memory(tmp_path: Path) -> None:
    with MemoryStore(tmp_path / "m", "ws") as first:
        assert first.core_append("user", "prefers tabs").ok
        note = first.archival_insert("deploy with tools/deploy.sh", ["ops"]).record_id
        first.add_message("user", "hello there", "c1", at=100.0)
        first.add_suggestion("file:///a.py", "print(x)", accepted=False, at=101.0)
    with MemoryStore(tmp_path / "m", "ws") as second:
        assert second.core_get()["user"] == "prefers tabs"
        assert [h.note.id for h in second.archival_search("deploy")] == [note]
        assert [(r.kind, r.text) for r in second.recent(10)] == [
            ("message", "hello there"),
            ("suggestion", "print(x)"),
        ]
        assert [e.action for e in second.audit()] == ["core_append", "archival_insert"]
    with MemoryStore(tmp_path / "m", "other") as other:
        assert other.core_get()["user"] == "" and other.recent(10) == []


@pytest.mark.parametrize(
    ("edits", "expected_ok", "expected_text"),
    [
        pytest.param([("append", "a" * 2000)], [True], "a" * 2000, id="exactly-at-limit"),
        pytest.param([("append", "a" * 2001)], [False], "", id="over-limit"),
        pytest.param(
            [("append", "a" * 1999), ("append", "b")], [True, False], "a" * 1999, id="newline"
        ),
        pytest.param(
            [("append", "likes tabs"), ("replace", "tabs", "spaces")],
            [True, True],
            "likes spaces",
            id="replace",
        ),
        pytest.param([("replace", "absent", "x")], [False], "", id="replace-missing"),
        pytest.param(
            [("append", "x y x"), ("replace", "x", "")], [True, True], " y ", id="delete-all"
        ),
        pytest.param(
            [("append", "aa"), ("replace", "a", "b" * 2000)], [True, False], "aa", id="grows-over"
        ),
    ],
)
def test_core_limits(
    store: MemoryStore, edits: list[tuple[str, ...]], expected_ok: list[bool], expected_text: str
) -> None:
    results = [
        store.core_append("user", edit[1])
        if edit[0] == "append"
        else store.core_replace("user", edit[1], edit[2])
        for edit in edits
    ]
    assert [r.ok for r in results] == expected_ok
    assert store.core_get()["user"] == expected_text
    assert all(r.message for r in results)
    assert all((r.audit is not None) == r.ok for r in results)


def test_core_unknown_block_and_custom_limits(tmp_path: Path) -> None:
    custom = MemoryStore(tmp_path / "m", "ws", core_limits={"notes": 5})
    assert not custom.core_append("persona", "x").ok
    assert "5 limit" in custom.core_append("notes", "123456").message
    assert custom.core_append("notes", "12345").ok
    assert custom.core_get() == {"notes": "12345"}
    assert custom.core_prompt() == '<notes chars="5/5">\n12345\n</notes>'


def test_recall_search_by_text_and_time(store: MemoryStore) -> None:
    store.add_message("user", "how do I parse JSON in Python", "c1", at=1000.0)
    store.add_message("assistant", "use json.loads", "c1", at=2000.0)
    store.add_suggestion("file:///x.py", "yaml.safe_load(stream)", accepted=True, at=3000.0)
    assert store.recall_search("json")[0].text == "use json.loads"
    assert {r.text for r in store.recall_search("json")} == {
        "how do I parse JSON in Python",
        "use json.loads",
    }
    assert [r.text for r in store.recall_search("yaml")] == ["yaml.safe_load(stream)"]
    assert [r.text for r in store.recall_search("", start=1500.0, end=3000.0)] == ["use json.loads"]
    assert [r.time for r in store.recall_search("")] == [3000.0, 2000.0, 1000.0]
    assert [r.time for r in store.recent(2)] == [2000.0, 3000.0]
    assert store.recall_search("unrelated") == []


def test_archival_bm25_tags_and_forget(store: MemoryStore) -> None:
    ids = [
        store.archival_insert(text, tags).record_id
        for text, tags in [
            ("The database migrations run with alembic upgrade head", ["db"]),
            ("Release process: bump version, tag, push", ["release"]),
            ("Database backups happen nightly at 2am", []),
        ]
    ]
    hits = store.archival_search("database migrations", 5)
    assert [h.note.id for h in hits] == [ids[0], ids[2]]
    assert hits[0].note.tags == ("db",) and hits[0].sources == ("text",)
    assert store.forget(ids[0]).ok
    assert not store.forget(ids[0]).ok
    assert [h.note.id for h in store.archival_search("database migrations")] == [ids[2]]
    late = store.archival_insert("late migrations note").record_id
    assert [h.note.id for h in store.archival_search("migrations")] == [late]


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        pytest.param("", [], id="empty"),
        pytest.param("x" * 4001, [], id="too-long"),
        pytest.param("ok", [""], id="empty-tag"),
        pytest.param("ok", ["t"] * 17, id="too-many-tags"),
    ],
)
def test_archival_insert_rejects(store: MemoryStore, text: str, tags: list[str]) -> None:
    assert not store.archival_insert(text, tags).ok
    assert store.archival_count() == 0


def test_archival_hybrid_finds_semantic_matches(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "m", "ws", embed=fake_embed)
    kitten = store.archival_insert("my kitten sleeps all day").record_id
    engine = store.archival_insert("the engine needs oil").record_id
    store.archival_insert("meeting notes from monday")
    hits = store.archival_search("feline", 2)
    assert hits[0].note.id == kitten and hits[0].sources == ("vector",)
    both = store.archival_search("engine vehicle", 1)
    assert both[0].note.id == engine and set(both[0].sources) == {"text", "vector"}


def test_failing_embed_falls_back_to_text(tmp_path: Path) -> None:
    def broken(texts: list[str], task: EmbedTask) -> list[list[float]]:
        raise RuntimeError("ollama is down")

    store = MemoryStore(tmp_path / "m", "ws", embed=broken)
    note = store.archival_insert("the engine needs oil").record_id
    assert [h.note.id for h in store.archival_search("engine")] == [note]


def test_notes_are_embedded_as_documents_and_searches_as_queries(tmp_path: Path) -> None:
    asked: list[tuple[list[str], EmbedTask]] = []

    def embed(texts: list[str], task: EmbedTask) -> list[list[float]]:
        asked.append((texts, task))
        return fake_embed(texts)

    store = MemoryStore(tmp_path / "m", "ws", embed=embed)
    store.archival_insert("my kitten sleeps all day")
    store.archival_search("feline")
    assert asked == [(["my kitten sleeps all day"], "document"), (["feline"], "query")]


@pytest.mark.parametrize(
    ("model", "task", "sent"),
    [
        pytest.param("nomic-embed-text", "document", "search_document: tabs", id="nomic-note"),
        pytest.param("nomic-embed-text:v1.5", "query", "search_query: tabs", id="nomic-query"),
        pytest.param("nomic-embed-text-v2-moe:latest", "query", "search_query: tabs", id="v2"),
        pytest.param("mxbai-embed-large", "query", "tabs", id="other-model-raw"),
        pytest.param("all-minilm:nomic-embed-text", "document", "tabs", id="only-the-name-start"),
    ],
)
def test_embedding_input_adds_nomic_task_prefixes(model: str, task: EmbedTask, sent: str) -> None:
    assert embedding_input(model, "tabs", task) == sent


def test_search_helpers() -> None:
    assert unit_vector([0.0, 0.0]) is None
    assert unit_vector([3.0, 4.0]) == (0.6, 0.8)
    vectors = {"a": (1.0, 0.0), "b": (0.0, 1.0), "c": (1.0,)}
    assert cosine_ranking((1.0, 0.0), vectors, 5) == [("a", 1.0), ("b", 0.0)]
    index = ArchivalIndex()
    index.add("x", "alpha beta", [1.0, 0.0])
    assert "x" in index and len(index) == 1
    index.remove("x")
    assert index.search("alpha", 3, [1.0, 0.0]) == []


def test_export_import_round_trip(tmp_path: Path) -> None:
    source = MemoryStore(tmp_path / "a", "ws", embed=fake_embed)
    source.core_append("project", "monorepo with uv")
    source.archival_insert("kitten facts", ["pets"])
    source.add_message("user", "hi", "c1", at=5.0)
    source.add_suggestion("file:///a.py", "pass", accepted=True, at=6.0)
    exported = source.export_json()
    target = MemoryStore(tmp_path / "b", "ws")
    first = target.import_json(exported)
    assert first.added == len(exported["records"]) - 1  # the core block is upserted
    assert first.skipped == 0
    assert target.import_json(exported).added == 0
    assert target.export_json() == exported
    assert target.core_get()["project"] == "monorepo with uv"
    assert [h.note.text for h in target.archival_search("kitten")] == ["kitten facts"]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(None, id="none"),
        pytest.param({"format": "other", "records": []}, id="wrong-format"),
        pytest.param({"format": "codehearth-memory", "records": "x"}, id="records-not-list"),
    ],
)
def test_import_rejects_non_exports(store: MemoryStore, data: object) -> None:
    report = store.import_json(data)
    assert (report.added, report.skipped) == (0, 0) and report.message


def test_import_skips_invalid_records(store: MemoryStore) -> None:
    good = {"id": "arc-1", "kind": "archival", "time": 1.0, "body": {"v": 1, "text": "ok"}}
    bad = [
        {"id": "arc-2", "kind": "archival", "time": 1.0, "body": {"v": 99, "text": "new"}},
        {"id": "arc-3", "kind": "nope", "time": 1.0, "body": {"v": 1, "text": "x"}},
        {"id": "arc-4", "kind": "archival", "time": "x", "body": {"v": 1, "text": "x"}},
        {"id": "core:user", "kind": "core", "time": 1.0, "body": {"v": 1, "text": "x" * 9999}},
        "not a record",
    ]
    report = store.import_json({"format": "codehearth-memory", "records": [good, *bad]})
    assert (report.added, report.skipped) == (1, len(bad))


def test_corrupt_database_is_moved_aside(tmp_path: Path) -> None:
    folder = tmp_path / "memory"
    with MemoryStore(folder, "ws") as store:
        store.archival_insert("soon gone")
    for suffix in ("-wal", "-shm"):
        (folder / (DATABASE_NAME + suffix)).unlink(missing_ok=True)
    with open(folder / DATABASE_NAME, "r+b") as database:
        database.write(b"this is not sqlite at all")
    fresh = MemoryStore(folder, "ws")
    assert fresh.available and fresh.problem is None
    assert len(fresh.warnings) == 1 and "corrupt" in fresh.warnings[0]
    assert len(list(tmp_path.glob("memory.corrupt-*"))) == 1
    assert fresh.archival_count() == 0
    assert fresh.archival_insert("new life").ok and fresh.integrity_ok()


def _unwritable(tmp_path: Path, how: str) -> Path:
    if how == "file-in-the-way":
        (tmp_path / "file").write_text("x")
        return tmp_path / "file" / "memory"
    if how == "read-only-fs":
        return Path("/proc/codehearth-memory-test")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):
        pytest.skip("running as root: permissions do not stop writes")
    return folder / "memory"


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("file-in-the-way", id="not-a-folder"),
        pytest.param("read-only-fs", id="read-only-filesystem"),
        pytest.param("chmod", id="read-only-folder"),
    ],
)
def test_unwritable_folder_switches_off(tmp_path: Path, how: str) -> None:
    store = MemoryStore(_unwritable(tmp_path, how), "ws")
    assert not store.available and store.problem
    assert store.core_get() == {"persona": "", "user": "", "project": ""}
    assert not store.core_append("user", "x").ok
    assert not store.core_replace("user", "x", "y").ok
    assert not store.archival_insert("x").ok
    assert store.archival_search("x") == []
    assert store.add_message("user", "x", "c") is None
    assert store.add_suggestion("u", "x", accepted=True) is None
    assert store.recent(5) == [] and store.recall_search("x") == []
    assert not store.forget("x").ok
    assert store.export_json()["records"] == []
    assert store.import_json(store.export_json()).added == 0
    assert store.audit() == [] and not store.integrity_ok()


def test_full_disk_switches_off_without_raising(store: MemoryStore) -> None:
    assert store._conn is not None
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages + 1}")
    results = [store.archival_insert("x" * 4000) for _ in range(20)]
    assert not results[-1].ok
    assert not store.available and "full" in (store.problem or "")
    assert store.archival_search("x") == [] and store.add_message("u", "x", "c") is None


class _Planted:
    """Unpickling this creates a file: proof that a pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize(
    "kind", [pytest.param(k, id=k) for k in ("archival", "message", "core", "audit")]
)
def test_planted_pickle_is_never_executed(tmp_path: Path, kind: str) -> None:
    marker = tmp_path / "pwned"
    folder = tmp_path / "memory"
    with MemoryStore(folder, "ws") as store:
        store.archival_insert("a real note about pickles")
    connection = sqlite3.connect(folder / DATABASE_NAME)
    with connection:
        for body in (pickle.dumps(_Planted(marker)), pickle.dumps(_Planted(marker), 0).decode()):
            connection.execute(
                "INSERT INTO records (workspace, kind, id, time, body) VALUES ('ws', ?, ?, 1, ?)",
                (kind, f"{'core:user' if kind == 'core' else 'x'}-{len(body)}", body),
            )
    connection.close()
    store = MemoryStore(folder, "ws")
    assert [h.note.text for h in store.archival_search("pickles")] == ["a real note about pickles"]
    assert store.recent(10) == [] and store.recall_search("x") == []
    assert store.core_get()["user"] == "" and store.audit()[0].action == "archival_insert"
    exported = store.export_json()
    assert all(r["kind"] != kind or r["body"].get("v") == 1 for r in exported["records"])
    assert store.skipped_records == 2
    assert not marker.exists()
