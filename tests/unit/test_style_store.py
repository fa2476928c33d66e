"""The style profile persisted and kept current: a restart reloads per-file evidence from
the user cache without parsing, only changed files are re-extracted, saves make a file
weigh more, and a corrupt or unusable cache leaves the profile in memory."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from codehearth.index.store import default_cache_root, workspace_key
from codehearth.languages import LanguageRegistry
from codehearth.style.extract import FileEvidence, StyleExtractor
from codehearth.style.profile import StyleTracker, build_profile
from codehearth.style.store import EVIDENCE_PREFIX, StyleStore, evidence_key

REGISTRY = LanguageRegistry.load()

SINGLE = "def greet(name):\n\treturn 'hi ' + name\n\n\ndef bye(name):\n\treturn 'bye ' + name\n"
DOUBLE = 'def greet(name):\n    return "hi " + name\n\n\ndef bye(name):\n    return "bye " + name\n'

WORKSPACE = {
    "app/main.py": SINGLE,
    "app/util.py": SINGLE,
    "app/extra.py": SINGLE,
    "web/view.ts": "export function render(name: string): string {\n  return 'x' + name;\n}\n",
}


def write_tree(root: Path, files: Mapping[str, str]) -> None:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    write_tree(root, WORKSPACE)
    return root


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def trackers(workspace: Path, cache: Path) -> Iterator[list[StyleTracker]]:
    """Built trackers over the workspace and the cache (a new one per 'restart')."""
    made: list[StyleTracker] = []
    yield made
    for tracker in made:
        if tracker.store is not None:
            tracker.store.close()


def start(trackers: list[StyleTracker], workspace: Path, cache: Path) -> StyleTracker:
    if trackers and trackers[-1].store is not None:
        trackers[-1].store.close()  # the previous server exited
    tracker = StyleTracker(workspace, REGISTRY, StyleStore.for_workspace(workspace, cache))
    tracker.build()
    trackers.append(tracker)
    return tracker


def quotes(tracker: StyleTracker) -> object:
    profile = tracker.style().profile("python")
    assert profile is not None
    return profile.attributes["quotes.strings"].value


def stored_keys(store: StyleStore) -> list[str]:
    assert store._cache is not None
    return [key for key in store._cache.iterkeys() if key.startswith(EVIDENCE_PREFIX)]


# --- restarts ---------------------------------------------------------------------------


def test_restart_reloads_every_file_from_the_cache(
    trackers: list[StyleTracker], workspace: Path, cache: Path
) -> None:
    cold = start(trackers, workspace, cache)
    assert cold.extractions == len(WORKSPACE)
    warm = start(trackers, workspace, cache)
    assert warm.extractions == 0
    assert warm.style() == cold.style() == build_profile(workspace, REGISTRY)


def test_restart_re_extracts_only_the_changed_file(
    trackers: list[StyleTracker], workspace: Path, cache: Path
) -> None:
    start(trackers, workspace, cache)
    (workspace / "app/util.py").write_text(DOUBLE, encoding="utf-8")
    warm = start(trackers, workspace, cache)
    assert warm.extractions == 1
    assert warm.style() == build_profile(workspace, REGISTRY)


def test_store_lives_in_the_user_cache_keyed_by_workspace(workspace: Path) -> None:
    store = StyleStore.for_workspace(workspace)
    try:
        assert store.folder == default_cache_root() / "style" / workspace_key(workspace)
        assert not store.folder.is_relative_to(workspace)
    finally:
        store.close()


def test_stale_evidence_is_dropped_at_the_next_build(
    trackers: list[StyleTracker], workspace: Path, cache: Path
) -> None:
    start(trackers, workspace, cache)
    (workspace / "app/util.py").write_text(DOUBLE, encoding="utf-8")
    (workspace / "web/view.ts").unlink()
    warm = start(trackers, workspace, cache)
    assert warm.store is not None
    assert len(stored_keys(warm.store)) == len(WORKSPACE) - 1


def test_evidence_is_keyed_by_content_and_file_name(tmp_path: Path) -> None:
    key = evidence_key("python", SINGLE, str(tmp_path / "a" / "main.py"))
    assert key == evidence_key("python", SINGLE, str(tmp_path / "b" / "main.py"))
    assert key != evidence_key("python", SINGLE, str(tmp_path / "a" / "test_main.py"))
    assert key != evidence_key("python", DOUBLE, str(tmp_path / "a" / "main.py"))
    assert key != evidence_key("typescript", SINGLE, str(tmp_path / "a" / "main.py"))


def test_evidence_round_trips_as_json() -> None:
    source = (
        'import os\nimport requests\n\nfrom .models import User\n\n\nclass Shop:\n    """A'
        ' shop.\n\n    Args:\n        name: its name.\n    """\n\n    def total(self, items:'
        " list[int]) -> int:\n        return sum(items)\n"
    )
    evidence = StyleExtractor(REGISTRY).observe("python", source, "shop/test_shop.py")
    assert evidence is not None and evidence.votes and evidence.shares and evidence.imports
    assert FileEvidence.from_json(json.loads(json.dumps(evidence.to_json()))) == evidence


# --- incremental updates ----------------------------------------------------------------


def test_a_changed_file_is_re_extracted_and_the_profile_follows(
    trackers: list[StyleTracker], workspace: Path, cache: Path
) -> None:
    tracker = start(trackers, workspace, cache)
    assert quotes(tracker) == "single"
    before = tracker.extractions
    for name in ("main.py", "util.py"):
        assert tracker.update_file(str(workspace / "app" / name), DOUBLE, edited=True)
    assert tracker.extractions == before + 2
    assert quotes(tracker) == "double"
    assert not tracker.update_file(str(workspace / "app/main.py"), DOUBLE)  # unchanged


def test_content_seen_before_is_not_parsed_again(
    trackers: list[StyleTracker], workspace: Path, cache: Path
) -> None:
    tracker = start(trackers, workspace, cache)
    path = str(workspace / "app/main.py")
    assert tracker.update_file(path, DOUBLE)
    extracted = tracker.extractions
    assert tracker.update_file(path, SINGLE)  # back to what the store already holds
    assert tracker.extractions == extracted


def test_new_and_deleted_files(trackers: list[StyleTracker], workspace: Path, cache: Path) -> None:
    tracker = start(trackers, workspace, cache)
    lib = workspace / "crate" / "lib.rs"
    write_tree(workspace, {"crate/lib.rs": "fn main_loop() {\n    let total_count = 1;\n}\n"})
    assert tracker.update_file(str(lib))
    rust = tracker.style().profile("rust")
    assert rust is not None and rust.files == 1
    assert tracker.remove_file(str(lib))
    assert tracker.style().profile("rust") is None
    assert not tracker.update_file(str(workspace / "notes.txt"), "not code")


def test_saves_make_a_file_weigh_more_and_are_remembered(
    trackers: list[StyleTracker], workspace: Path, cache: Path
) -> None:
    write_tree(workspace, {"app/main.py": DOUBLE})  # two single-quoted files, one double
    tracker = start(trackers, workspace, cache)
    assert quotes(tracker) == "single"
    main = str(workspace / "app/main.py")
    for version in range(5):  # saved with changes, five times
        assert tracker.update_file(main, DOUBLE + f"\n\nVERSION = {version}\n", edited=True)
    assert tracker.weight(main) > tracker.weight(str(workspace / "app/util.py"))
    assert quotes(tracker) == "double"
    restarted = start(trackers, workspace, cache)
    assert restarted.weight(main) == tracker.weight(main)


# --- a corrupt or unusable cache ----------------------------------------------------------


def test_corrupt_cache_is_moved_aside_logged_once_and_rebuilt(
    trackers: list[StyleTracker],
    workspace: Path,
    cache: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    start(trackers, workspace, cache)
    folder = StyleStore.for_workspace(workspace, cache).folder
    trackers[-1].store.close()  # type: ignore[union-attr]
    for name in ("cache.db-wal", "cache.db-shm"):
        (folder / name).unlink(missing_ok=True)
    (folder / "cache.db").write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.WARNING, logger="codehearth.style.store"):
        tracker = start(trackers, workspace, cache)
    assert len(caplog.records) == 1 and "unusable" in caplog.records[0].getMessage()
    assert tracker.store is not None and tracker.store.persistent
    assert tracker.extractions == len(WORKSPACE)
    assert list(folder.parent.glob(f"{folder.name}.corrupt-*"))
    assert start(trackers, workspace, cache).extractions == 0  # the fresh cache works


def test_unusable_cache_folder_leaves_the_profile_in_memory(
    workspace: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the cache folder should be", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="codehearth.style.store"):
        store = StyleStore(blocker / "style")
        tracker = StyleTracker(workspace, REGISTRY, store)
        tracker.build()
        tracker.update_file(str(workspace / "app/main.py"), DOUBLE, edited=True)
    assert not store.persistent and store.problem
    assert len(caplog.records) == 1
    assert tracker.extractions == len(WORKSPACE) + 1
    python = tracker.style().profile("python")
    assert python is not None and python.files == 3


def test_a_failing_write_disables_the_store_once(
    workspace: Path, cache: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StyleStore(cache)
    assert store._cache is not None

    def fail(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store._cache, "set", fail)
    with caplog.at_level(logging.WARNING, logger="codehearth.style.store"):
        tracker = StyleTracker(workspace, REGISTRY, store)
        tracker.build()
    assert len(caplog.records) == 1 and "write failed" in caplog.records[0].getMessage()
    assert not store.persistent
    assert tracker.style().profile("python") is not None
