"""Style evidence on disk, so a restart re-reads files but parses none that did not change.

A diskcache ``Cache`` per workspace in the user cache directory, chosen by the index's
rule (:func:`~codehearth.index.store.default_cache_root` and
:func:`~codehearth.index.store.workspace_key`, under ``style/``), values stored as JSON
text (never pickle). Each file's :class:`~codehearth.style.extract.FileEvidence` is keyed
by :func:`evidence_key`: the evidence version, the language, the hash of the content and
the file name (the only part of the path the observations depend on). The store also
keeps how often the user saved each file (the most edited files weigh most).

A database that cannot be opened is moved aside (``*.corrupt-<time>``) and a fresh one
started (:func:`~codehearth.index.store.open_cache`, as for the index); if that fails too
(an unwritable folder), or a write fails later, it is logged once and the profile is kept
in memory only.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path, PurePath
from typing import Any

import diskcache

from codehearth.index.store import default_cache_root, open_cache, workspace_key
from codehearth.index.workspace_index import content_hash
from codehearth.style.extract import EVIDENCE_VERSION, FileEvidence

log = logging.getLogger(__name__)

EVIDENCE_PREFIX = "evidence:"
EDITS_KEY = "edits:v1"

_STORE_ERRORS = (sqlite3.Error, OSError, diskcache.Timeout)


def evidence_key(language_id: str, text: str, path: str) -> str:
    name = PurePath(path).name
    return f"{EVIDENCE_PREFIX}{EVIDENCE_VERSION}:{language_id}:{content_hash(text)}:{name}"


class StyleStore:
    """Persisted style evidence and edit counts for one workspace; every method is best
    effort and never raises."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.problem: str | None = None
        self._cache, problem = open_cache(folder, "style")
        if problem:
            self._disable(problem)

    @classmethod
    def for_workspace(cls, root: Path, cache_root: Path | None = None) -> StyleStore:
        return cls((cache_root or default_cache_root()) / "style" / workspace_key(root))

    @property
    def persistent(self) -> bool:
        return self._cache is not None

    def close(self) -> None:
        cache, self._cache = self._cache, None
        if cache is not None:
            cache.close()

    def load_evidence(self, key: str) -> FileEvidence | None:
        data = self._get(key)
        if not isinstance(data, dict):
            return None
        try:
            return FileEvidence.from_json(data)
        except (KeyError, TypeError, ValueError):
            return None

    def save_evidence(self, key: str, evidence: FileEvidence) -> None:
        self._set(key, evidence.to_json())

    def keep_only(self, keys: set[str]) -> None:
        """Drop stored evidence under any other key (files changed or gone)."""
        cache = self._cache  # (once: another thread may disable the store meanwhile)
        if cache is None:
            return
        try:
            stale = [
                key
                for key in cache.iterkeys()
                if isinstance(key, str) and key.startswith(EVIDENCE_PREFIX) and key not in keys
            ]
            for key in stale:
                cache.delete(key, retry=True)
        except _STORE_ERRORS as error:
            self._disable(f"style cache cleanup failed ({error})")

    def load_edits(self) -> dict[str, int]:
        """How often the user saved each file (absolute paths)."""
        data = self._get(EDITS_KEY)
        if not isinstance(data, dict):
            return {}
        return {str(path): count for path, count in data.items() if isinstance(count, int)}

    def save_edits(self, edits: dict[str, int]) -> None:
        self._set(EDITS_KEY, edits)

    def _get(self, key: str) -> Any:
        cache = self._cache  # (once: another thread may disable the store meanwhile)
        if cache is None:
            return None
        try:
            raw = cache.get(key)
            return json.loads(raw) if isinstance(raw, str) else None
        except (*_STORE_ERRORS, ValueError) as error:
            log.debug("style cache read failed for %s: %s", key, error)
            return None

    def _set(self, key: str, value: Any) -> None:
        cache = self._cache  # (once: another thread may disable the store meanwhile)
        if cache is None:
            return
        try:
            cache.set(key, json.dumps(value, separators=(",", ":")), retry=True)
        except _STORE_ERRORS as error:
            self._disable(f"style cache write failed ({error})")

    def _disable(self, problem: str) -> None:
        if self.problem is None:
            self.problem = problem
            log.warning("%s; the style profile stays in memory only", problem)
        self.close()
