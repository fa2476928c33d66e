"""The index on disk: chunks per content hash, and a manifest of what each path held.

A diskcache ``Cache`` per workspace under the user cache directory (never inside the
workspace), values stored as JSON text (never pickle), no eviction. Chunks are keyed by
the content hash plus the chunker version, so a restart re-reads nothing that did not
change and an upgraded chunker never reuses stale chunks. The manifest maps each path to
its (mtime, size, content hash), so a warm start only stats files.

A store that cannot be opened (corrupt database, unreadable folder) is moved aside as
``*.corrupt-<time>`` and a fresh one started; if even that fails the index runs in memory
only. Both are logged once; the index never fails because of its cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import attrs
import diskcache

from codehearth.index.model import FileChunks

log = logging.getLogger(__name__)

CHUNKER_VERSION = "1"
MANIFEST_KEY = "manifest:v1"


@attrs.frozen
class ManifestEntry:
    mtime_ns: int
    size: int
    content_hash: str


def default_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "codehearth"


def workspace_key(root: Path) -> str:
    """A stable folder name for a workspace: its name plus a hash of its absolute path."""
    digest = hashlib.sha256(str(root.resolve()).encode("utf-8")).hexdigest()[:16]
    return f"{root.name or 'root'}-{digest}"


class IndexStore:
    """Persisted chunks and manifest for one workspace; every method is best effort."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.problem: str | None = None
        self._cache = self._open(folder)

    @classmethod
    def for_workspace(cls, root: Path, cache_root: Path | None = None) -> IndexStore:
        return cls((cache_root or default_cache_root()) / "index" / workspace_key(root))

    def _open(self, folder: Path) -> diskcache.Cache | None:
        try:
            return _open_checked(folder)
        except (sqlite3.DatabaseError, OSError, diskcache.Timeout) as error:
            aside = folder.with_name(f"{folder.name}.corrupt-{int(time.time())}")
            log.warning(
                "index cache at %s is unusable (%s); moved aside to %s", folder, error, aside
            )
            try:
                if folder.exists():
                    shutil.move(str(folder), str(aside))
                return _open_checked(folder)
            except (sqlite3.DatabaseError, OSError, diskcache.Timeout) as second:
                self.problem = f"index cache disabled: {second}"
                log.warning("%s; the index stays in memory only", self.problem)
                return None

    @property
    def persistent(self) -> bool:
        return self._cache is not None

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def _get(self, key: str) -> Any:
        if self._cache is None:
            return None
        try:
            raw = self._cache.get(key)
            return json.loads(raw) if isinstance(raw, str) else None
        except (sqlite3.Error, OSError, ValueError, diskcache.Timeout) as error:
            log.debug("index cache read failed for %s: %s", key, error)
            return None

    def _set(self, key: str, value: Any) -> None:
        if self._cache is None:
            return
        try:
            self._cache.set(key, json.dumps(value, separators=(",", ":")), retry=True)
        except (sqlite3.Error, OSError, diskcache.Timeout) as error:
            self._disable(f"index cache write failed ({error})")

    def _disable(self, problem: str) -> None:
        if self.problem is None:
            self.problem = problem
            log.warning("%s; the index stays in memory only", problem)
        self.close()

    def load_chunks(self, content_hash: str, language_id: str) -> FileChunks | None:
        """Chunks for this content parsed as this language (the same bytes chunk
        differently as JavaScript and TypeScript)."""
        data = self._get(_chunks_key(content_hash, language_id))
        if not isinstance(data, dict):
            return None
        try:
            return FileChunks.from_json(data)
        except (KeyError, TypeError, ValueError):
            return None

    def save_chunks(self, chunks: FileChunks) -> None:
        self._set(_chunks_key(chunks.content_hash, chunks.language_id), chunks.to_json())

    def load_manifest(self) -> dict[str, ManifestEntry]:
        data = self._get(MANIFEST_KEY)
        if not isinstance(data, dict):
            return {}
        manifest: dict[str, ManifestEntry] = {}
        for path, entry in data.items():
            if isinstance(entry, list) and len(entry) == 3:
                manifest[path] = ManifestEntry(int(entry[0]), int(entry[1]), str(entry[2]))
        return manifest

    def save_manifest(self, manifest: dict[str, ManifestEntry]) -> None:
        self._set(
            MANIFEST_KEY,
            {path: [e.mtime_ns, e.size, e.content_hash] for path, e in manifest.items()},
        )


def _chunks_key(content_hash: str, language_id: str) -> str:
    return f"chunks:{CHUNKER_VERSION}:{language_id}:{content_hash}"


def _open_checked(folder: Path) -> diskcache.Cache:
    folder.mkdir(parents=True, exist_ok=True)
    cache = diskcache.Cache(str(folder), eviction_policy="none", timeout=5)
    try:
        row = cache._sql("PRAGMA quick_check").fetchone()
    except sqlite3.DatabaseError:
        cache.close()
        raise
    if not row or row[0] != "ok":
        cache.close()
        raise sqlite3.DatabaseError(f"integrity check failed: {row}")
    return cache
