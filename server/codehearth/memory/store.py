"""Persistent memory on disk: core blocks, recall (messages, suggestions) and archival notes.

Storage choice: SQLite through the stdlib ``sqlite3``, not diskcache. Memory is user data with
structure (kinds, times, ids, per-workspace namespaces) and multi-step edits (read a core
block, check its limit, write it and an audit entry), which need an explicit schema, real
transactions and range queries by time. diskcache is a key-value cache over the same SQLite,
with pickle as its default for non-native values and side files without fsync
(``/work/shared/NOTES-pygls.md`` section 4); none of that buys anything here.

Layout: one database ``memory.sqlite3`` per user in :func:`default_memory_root`
(``$XDG_DATA_HOME/codehearth/memory``: memory is data, not cache), one table of records, each
namespaced by a workspace key and carrying its kind, id, time and a JSON body with a schema
version ``"v"``. Values are JSON text only and are never unpickled: a row whose body is not
JSON text of a known version (a planted pickle, a truncated write, a newer schema) is
skipped and counted in :attr:`MemoryStore.skipped_records`, never fatal.

Durability and concurrency: WAL journal with ``synchronous=NORMAL`` (a committed transaction
survives a killed process; a power loss can drop the last commits but never corrupts), short
``BEGIN IMMEDIATE`` transactions, a busy timeout and retries on ``database is locked``, so
several processes can write one store without losing anything. Each edit and its audit entry
commit together.

Failures never reach callers. At open, ``PRAGMA quick_check`` runs; a corrupt database is
moved aside as ``<folder>.corrupt-<time>`` and a fresh one started, with one warning in
:attr:`MemoryStore.warnings`. A folder that cannot be written (read-only, not a folder) or a
write that fails (disk full, I/O error) switches the store off: :attr:`MemoryStore.available`
becomes False, :attr:`MemoryStore.problem` says why, reads return nothing and writes are
dropped (edits report ``ok=False``).

Archival search keeps an in-memory :class:`~codehearth.memory.search.ArchivalIndex`, built
lazily from the table on the first search and then caught up from the rows added since (by
any process) before each search. Notes another process forgot are dropped when a search
meets them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import attrs

from codehearth.index.store import workspace_key
from codehearth.memory.search import ArchivalIndex, EmbedTask, rank_texts

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DATABASE_NAME = "memory.sqlite3"
EXPORT_FORMAT = "codehearth-memory"

DEFAULT_CORE_LIMITS: Mapping[str, int] = {"persona": 2000, "user": 2000, "project": 2000}
# Longest archival note and tag, and most tags per note.
ARCHIVAL_MAX_CHARS = 4000
MAX_TAG_CHARS = 64
MAX_TAGS = 16
# Recall texts longer than this are cut (and flagged), keeping rows small.
RECALL_MAX_CHARS = 16_000
# Text search over recall memory ranks at most this many of the newest records.
RECALL_WINDOW = 5000
# Extra archival hits asked of the index, to make up for notes another process forgot.
STALE_SLACK = 8

BUSY_TIMEOUT_S = 5.0
WRITE_RETRY_S = 15.0

KINDS = ("core", "message", "suggestion", "archival", "audit")
FORGETTABLE_KINDS = ("message", "suggestion", "archival")

Embed = Callable[[list[str], EmbedTask], list[list[float]]]
"""Vectors of texts embedded for a task: notes as ``document``, searches as ``query``."""
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    time REAL NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (workspace, id)
);
CREATE INDEX IF NOT EXISTS records_by_time ON records (workspace, kind, time);
"""


def default_memory_root() -> Path:
    """``$XDG_DATA_HOME/codehearth/memory`` (``~/.local/share`` when unset)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "codehearth" / "memory"


@attrs.frozen
class EditResult:
    """The outcome of an edit: whether it happened and a sentence saying what happened."""

    ok: bool
    message: str
    record_id: str | None = None
    audit: AuditEntry | None = None


@attrs.frozen
class RecallRecord:
    """A chat message (``kind="message"``: role, conversation) or a completion suggestion
    (``kind="suggestion"``: uri, accepted); ``text`` is the content either way."""

    id: str
    kind: str
    time: float
    text: str
    role: str = ""
    conversation_id: str = ""
    uri: str = ""
    accepted: bool | None = None


@attrs.frozen
class ArchivalNote:
    id: str
    time: float
    text: str
    tags: tuple[str, ...] = ()


@attrs.frozen
class ArchivalHit:
    """A found note, its score and the rankings (``text``, ``vector``) that found it."""

    note: ArchivalNote
    score: float
    sources: tuple[str, ...]


@attrs.frozen
class AuditEntry:
    """One edit made to memory: ``action`` (``core_append``, ``core_replace``,
    ``archival_insert``, ``forget``), the block or record it touched and a summary."""

    time: float
    action: str
    target: str
    detail: str


@attrs.frozen
class ImportReport:
    added: int
    skipped: int
    message: str


class _Unavailable(Exception):
    """The store is (or just became) switched off."""


class MemoryStore:
    """Memory of one workspace in a per-user SQLite database; every method is best effort
    and never raises (see the module docstring). Safe to share between threads."""

    def __init__(
        self,
        folder: Path | None = None,
        workspace: str = "default",
        *,
        core_limits: Mapping[str, int] = DEFAULT_CORE_LIMITS,
        archival_limit: int = ARCHIVAL_MAX_CHARS,
        embed: Embed | None = None,
    ) -> None:
        self.folder = folder if folder is not None else default_memory_root()
        self.workspace = workspace
        self.core_limits = dict(core_limits)
        self.archival_limit = archival_limit
        self.embed = embed
        self.problem: str | None = None
        self.warnings: list[str] = []
        self.on_switch_off: Callable[[str], None] | None = None
        """Called (from the thread that failed) when the store switches off mid-session."""
        self._skipped: set[int] = set()
        self._lock = threading.RLock()
        self._archival: ArchivalIndex | None = None
        self._watermark = 0
        self._conn = self._open()

    @classmethod
    def for_workspace(cls, root: Path, folder: Path | None = None, **options: Any) -> MemoryStore:
        """The store of the workspace at ``root`` (namespaced by its name and path hash)."""
        return cls(folder, workspace_key(root), **options)

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def available(self) -> bool:
        return self._conn is not None

    @property
    def skipped_records(self) -> int:
        """How many distinct rows were skipped because their body was not valid JSON of a
        known schema version."""
        return len(self._skipped)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
                self.problem = self.problem or "memory store closed"

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def integrity_ok(self) -> bool:
        """Whether ``PRAGMA integrity_check`` passes (False when switched off)."""
        rows = self._read("PRAGMA integrity_check", ())
        return bool(rows) and rows[0][0] == "ok"

    def _open(self) -> sqlite3.Connection | None:
        try:
            return _connect(self.folder)
        except sqlite3.OperationalError as error:
            # Cannot open or write (read-only folder, no space, locked for too long):
            # the data may be fine, so it is left alone.
            self._switch_off(f"memory store at {self.folder} cannot be used ({error})")
            return None
        except sqlite3.DatabaseError as error:
            return self._replace_corrupt(error)
        except OSError as error:
            self._switch_off(f"memory folder {self.folder} cannot be used ({error})")
            return None

    def _replace_corrupt(self, error: sqlite3.DatabaseError) -> sqlite3.Connection | None:
        aside = self.folder.with_name(f"{self.folder.name}.corrupt-{int(time.time())}")
        suffix = 0
        while aside.exists():
            suffix += 1
            aside = aside.with_name(f"{self.folder.name}.corrupt-{int(time.time())}-{suffix}")
        try:
            shutil.move(str(self.folder), str(aside))
            connection = _connect(self.folder)
        except (sqlite3.Error, OSError) as second:
            self._switch_off(f"memory store at {self.folder} is corrupt ({error}): {second}")
            return None
        warning = (
            f"memory store at {self.folder} was corrupt ({error}); "
            f"moved aside to {aside} and started empty"
        )
        self.warnings.append(warning)
        log.warning("%s", warning)
        return connection

    def _switch_off(self, problem: str) -> None:
        if self.problem is None:
            self.problem = problem
            log.warning("%s; memory is switched off", problem)
            if self.on_switch_off is not None:
                self.on_switch_off(problem)
        connection: sqlite3.Connection | None = getattr(self, "_conn", None)
        if connection is not None:
            try:
                connection.close()
            except sqlite3.Error as error:
                log.debug("closing the memory store failed: %s", error)
        self._conn = None

    # -- low-level access --------------------------------------------------------------

    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._conn is None:
                return []
            try:
                return list(self._conn.execute(sql, params))
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    self._switch_off(f"memory read failed ({error})")
                return []
            except sqlite3.DatabaseError as error:
                self._switch_off(f"memory read failed ({error})")
                return []

    def _write(self, change: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``change`` in one ``BEGIN IMMEDIATE`` transaction, retrying while another
        process holds the lock. Raises :class:`_Unavailable` when the store is off or the
        write failed (which switches it off, unless the lock was merely held too long)."""
        deadline = time.monotonic() + WRITE_RETRY_S
        with self._lock:
            while True:
                connection = self._conn
                if connection is None:
                    raise _Unavailable(self.problem or "memory store unavailable")
                try:
                    connection.execute("BEGIN IMMEDIATE")
                    try:
                        result = change(connection)
                        connection.execute("COMMIT")
                    except BaseException:
                        if connection.in_transaction:
                            connection.execute("ROLLBACK")
                        raise
                    return result
                except sqlite3.OperationalError as error:
                    if _is_busy(error):
                        if time.monotonic() < deadline:
                            time.sleep(0.01)
                            continue
                        raise _Unavailable(f"memory store busy ({error})") from error
                    self._switch_off(f"memory write failed ({error})")
                    raise _Unavailable(self.problem or str(error)) from error
                except sqlite3.DatabaseError as error:
                    self._switch_off(f"memory write failed ({error})")
                    raise _Unavailable(self.problem or str(error)) from error

    def _insert(
        self, connection: sqlite3.Connection, kind: str, record_id: str, at: float, body: dict
    ) -> bool:
        cursor = connection.execute(
            "INSERT OR IGNORE INTO records (workspace, kind, id, time, body) "
            "VALUES (?, ?, ?, ?, ?)",
            (self.workspace, kind, record_id, at, _dump(body)),
        )
        return cursor.rowcount == 1

    def _audit(
        self, connection: sqlite3.Connection, action: str, target: str, detail: str
    ) -> AuditEntry:
        entry = AuditEntry(time.time(), action, target, detail)
        body = {"v": SCHEMA_VERSION, "action": action, "target": target, "detail": detail}
        self._insert(connection, "audit", _new_id("audit"), entry.time, body)
        return entry

    def _body(self, seq: int, raw: object) -> dict[str, Any] | None:
        """The JSON body of a row, or None (counted as skipped). Only ``str`` is ever
        parsed, and only as JSON: bytes (a pickle, say) are skipped untouched."""
        if isinstance(raw, str):
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if (
                isinstance(body, dict)
                and type(body.get("v")) is int
                and 1 <= body["v"] <= SCHEMA_VERSION
            ):
                return body
        self._skipped.add(seq)
        return None

    def _records(
        self, kinds: Sequence[str], where: str = "", params: Sequence[Any] = (), tail: str = ""
    ) -> list[tuple[int, str, str, float, dict[str, Any]]]:
        """``(seq, kind, id, time, body)`` of this workspace's rows of ``kinds``, bad rows
        skipped."""
        marks = ",".join("?" * len(kinds))
        rows = self._read(
            f"SELECT seq, kind, id, time, body FROM records "
            f"WHERE workspace = ? AND kind IN ({marks}) {where} {tail}",
            (self.workspace, *kinds, *params),
        )
        parsed = []
        for seq, kind, record_id, at, raw in rows:
            body = self._body(seq, raw)
            if body is not None:
                parsed.append((seq, kind, record_id, at, body))
        return parsed

    # -- core memory -------------------------------------------------------------------

    def core_get(self) -> dict[str, str]:
        """Every configured core block's text (empty when never written), in order."""
        blocks = dict.fromkeys(self.core_limits, "")
        for seq, _, record_id, _, body in self._records(("core",)):
            name = record_id.removeprefix("core:")
            if name in blocks and isinstance(body.get("text"), str):
                blocks[name] = body["text"]
            elif name in blocks:
                self._skipped.add(seq)
        return blocks

    def core_prompt(self) -> str:
        """The core blocks as prompt text: each named, with its size against its limit."""
        return "\n".join(
            f'<{name} chars="{len(text)}/{self.core_limits[name]}">\n{text}\n</{name}>'
            for name, text in self.core_get().items()
        )

    def core_append(self, block: str, text: str) -> EditResult:
        """Add ``text`` as a new line at the end of ``block``."""
        return self._core_edit(
            block,
            "core_append",
            lambda current: (current + "\n" + text if current else text, f"appended {text!r}"),
        )

    def core_replace(self, block: str, old: str, new: str) -> EditResult:
        """Replace every occurrence of ``old`` in ``block`` with ``new`` (``""`` deletes)."""
        if not old:
            return EditResult(False, "old text must not be empty")

        def replace(current: str) -> tuple[str, str] | str:
            count = current.count(old)
            if count == 0:
                return f"{old!r} does not occur in block {block!r}"
            return current.replace(old, new), f"replaced {count} x {old!r} with {new!r}"

        return self._core_edit(block, "core_replace", replace)

    def _core_edit(
        self, block: str, action: str, edit: Callable[[str], tuple[str, str] | str]
    ) -> EditResult:
        limit = self.core_limits.get(block)
        if limit is None:
            known = ", ".join(self.core_limits)
            return EditResult(False, f"unknown core block {block!r} (known: {known})")

        def change(connection: sqlite3.Connection) -> EditResult:
            row = connection.execute(
                "SELECT seq, body FROM records WHERE workspace = ? AND id = ?",
                (self.workspace, f"core:{block}"),
            ).fetchone()
            body = self._body(row[0], row[1]) if row else None
            current = body.get("text") if body else ""
            outcome = edit(current if isinstance(current, str) else "")
            if isinstance(outcome, str):
                return EditResult(False, outcome)
            updated, summary = outcome
            if len(updated) > limit:
                return EditResult(
                    False,
                    f"block {block!r} would hold {len(updated):,} characters, over its "
                    f"{limit:,} limit; shorten or replace something in it first",
                )
            connection.execute(
                "INSERT INTO records (workspace, kind, id, time, body) VALUES (?, 'core', ?, ?, ?)"
                " ON CONFLICT (workspace, id) DO UPDATE SET time = excluded.time,"
                " body = excluded.body",
                (
                    self.workspace,
                    f"core:{block}",
                    time.time(),
                    _dump({"v": SCHEMA_VERSION, "text": updated}),
                ),
            )
            entry = self._audit(connection, action, block, summary)
            return EditResult(
                True, f"{block}: {summary} ({len(updated):,}/{limit:,} chars)", None, entry
            )

        try:
            return self._write(change)
        except _Unavailable as error:
            return EditResult(False, f"memory unavailable: {error}")

    # -- recall memory -----------------------------------------------------------------

    def add_message(
        self, role: str, content: str, conversation_id: str, at: float | None = None
    ) -> str | None:
        """Record one chat message; its id, or None when the store is off."""
        body = {
            "v": SCHEMA_VERSION,
            "role": role,
            "text": content[:RECALL_MAX_CHARS],
            "conversation": conversation_id,
            "truncated": len(content) > RECALL_MAX_CHARS,
        }
        return self._add_recall("message", body, at)

    def add_suggestion(
        self, uri: str, text: str, accepted: bool, at: float | None = None
    ) -> str | None:
        """Record one suggestion shown to the user and whether it was accepted."""
        body = {
            "v": SCHEMA_VERSION,
            "uri": uri,
            "text": text[:RECALL_MAX_CHARS],
            "accepted": bool(accepted),
            "truncated": len(text) > RECALL_MAX_CHARS,
        }
        return self._add_recall("suggestion", body, at)

    def _add_recall(self, kind: str, body: dict[str, Any], at: float | None) -> str | None:
        record_id = _new_id(kind[:3])
        stamp = time.time() if at is None else at
        try:
            self._write(lambda connection: self._insert(connection, kind, record_id, stamp, body))
        except _Unavailable:
            return None
        return record_id

    def recent(self, n: int) -> list[RecallRecord]:
        """The ``n`` newest messages and suggestions, oldest first."""
        if n <= 0:
            return []
        rows = self._records(
            ("message", "suggestion"), tail="ORDER BY time DESC, seq DESC LIMIT ?", params=(n,)
        )
        return [r for r in (_recall(*row[1:]) for row in reversed(rows)) if r is not None]

    def recall_search(
        self,
        query: str,
        limit: int = 10,
        *,
        start: float | None = None,
        end: float | None = None,
    ) -> list[RecallRecord]:
        """Messages and suggestions with ``start <= time < end``: with a query, the BM25
        best among the :data:`RECALL_WINDOW` newest; without one (or with no searchable
        word), the newest first."""
        if limit <= 0:
            return []
        rows = self._records(
            ("message", "suggestion"),
            where="AND time >= ? AND time < ?",
            params=(
                -math.inf if start is None else start,
                math.inf if end is None else end,
                RECALL_WINDOW,
            ),
            tail="ORDER BY time DESC, seq DESC LIMIT ?",
        )
        records = {r.id: r for r in (_recall(*row[1:]) for row in rows) if r is not None}
        if not query.strip():
            return list(records.values())[:limit]
        ranked = rank_texts(query, ((key, r.text) for key, r in records.items()), limit)
        return [records[key] for key in ranked] if ranked else []

    # -- archival memory ---------------------------------------------------------------

    def archival_insert(self, text: str, tags: Iterable[str] = ()) -> EditResult:
        """Store a note (embedded when an ``embed`` function was given)."""
        tag_list = list(tags)
        problem = self._archival_problem(text, tag_list)
        if problem:
            return EditResult(False, problem)
        vector = self._embed_one(text, "document")
        record_id = _new_id("arc")
        body: dict[str, Any] = {"v": SCHEMA_VERSION, "text": text, "tags": tag_list}
        if vector is not None:
            body["vector"] = vector

        def change(connection: sqlite3.Connection) -> AuditEntry:
            self._insert(connection, "archival", record_id, time.time(), body)
            return self._audit(connection, "archival_insert", record_id, _preview(text))

        try:
            entry = self._write(change)
        except _Unavailable as error:
            return EditResult(False, f"memory unavailable: {error}")
        return EditResult(True, f"stored archival note {record_id}", record_id, entry)

    def _archival_problem(self, text: object, tags: Sequence[object]) -> str | None:
        if not isinstance(text, str) or not text.strip():
            return "the note is empty"
        if len(text) > self.archival_limit:
            return (
                f"the note has {len(text):,} characters, over the {self.archival_limit:,} "
                "limit; split it into smaller notes"
            )
        if len(tags) > MAX_TAGS:
            return f"at most {MAX_TAGS} tags per note"
        for tag in tags:
            if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG_CHARS:
                return f"each tag must be a non-empty string of at most {MAX_TAG_CHARS} chars"
        return None

    def archival_search(self, query: str, limit: int = 5) -> list[ArchivalHit]:
        """The best ``limit`` notes for ``query``: BM25, fused by RRF with cosine
        similarity when an ``embed`` function was given."""
        if limit <= 0 or self._conn is None:
            return []
        index = self._sync_archival()
        query_vector = self._embed_one(query, "query") if self.embed is not None else None
        found = index.search(query, limit + STALE_SLACK, query_vector)
        if not found:
            return []
        ids = [key for key, _, _ in found]
        # By the (workspace, id) key: a kind filter would make SQLite scan the time index.
        rows = self._read(
            f"SELECT seq, kind, id, time, body FROM records "
            f"WHERE workspace = ? AND id IN ({','.join('?' * len(ids))})",
            (self.workspace, *ids),
        )
        notes: dict[str, ArchivalNote] = {}
        for seq, kind, record_id, at, raw in rows:
            body = self._body(seq, raw) if kind == "archival" else None
            note = _note(record_id, at, body) if body is not None else None
            if note is not None:
                notes[record_id] = note
        hits: list[ArchivalHit] = []
        for key, score, sources in found:
            note = notes.get(key)
            if note is None:
                index.remove(key)  # forgotten by another process (or skipped as bad)
            elif len(hits) < limit:
                hits.append(ArchivalHit(note, score, sources))
        return hits

    def archival_count(self) -> int:
        rows = self._read(
            "SELECT COUNT(*) FROM records WHERE workspace = ? AND kind = 'archival'",
            (self.workspace,),
        )
        return int(rows[0][0]) if rows else 0

    def _sync_archival(self) -> ArchivalIndex:
        """The archival index, first built from the table, then caught up with the rows
        added since (by this process or another)."""
        with self._lock:
            if self._archival is None:
                self._archival = ArchivalIndex()
            index = self._archival
            # A rowid range (NOT INDEXED keeps SQLite off the time index, which would
            # scan every archival row), so catching up costs only the new rows.
            rows = self._read(
                "SELECT seq, kind, id, body FROM records NOT INDEXED "
                "WHERE seq > ? AND workspace = ? ORDER BY seq",
                (self._watermark, self.workspace),
            )
            for seq, kind, record_id, raw in rows:
                self._watermark = max(self._watermark, seq)
                body = self._body(seq, raw) if kind == "archival" else None
                if body is None:
                    continue
                text, vector = body.get("text"), body.get("vector")
                if not isinstance(text, str):
                    self._skipped.add(seq)
                    continue
                index.add(record_id, text, vector if _is_vector(vector) else None)
            return index

    def _embed_one(self, text: str, task: EmbedTask) -> list[float] | None:
        if self.embed is None:
            return None
        try:
            vector = self.embed([text], task)[0]
        except Exception as error:  # an external model: any failure means "no vector"
            log.debug("memory embedding failed: %s", error)
            return None
        return [float(value) for value in vector] if _is_vector(vector) else None

    def forget(self, record_id: str) -> EditResult:
        """Delete an archival note, message or suggestion (core blocks are edited, not
        forgotten)."""

        def change(connection: sqlite3.Connection) -> AuditEntry | None:
            marks = ",".join("?" * len(FORGETTABLE_KINDS))
            cursor = connection.execute(
                f"DELETE FROM records WHERE workspace = ? AND id = ? AND kind IN ({marks})",
                (self.workspace, record_id, *FORGETTABLE_KINDS),
            )
            if cursor.rowcount != 1:
                return None
            return self._audit(connection, "forget", record_id, "deleted")

        try:
            entry = self._write(change)
        except _Unavailable as error:
            return EditResult(False, f"memory unavailable: {error}")
        if entry is None:
            return EditResult(False, f"no record {record_id!r} to forget")
        if self._archival is not None:
            self._archival.remove(record_id)
        return EditResult(True, f"forgot {record_id}", record_id, entry)

    # -- audit, export, import ---------------------------------------------------------

    def audit(self, limit: int = 100) -> list[AuditEntry]:
        """The ``limit`` newest edits, oldest first."""
        rows = self._records(("audit",), tail="ORDER BY seq DESC LIMIT ?", params=(limit,))
        entries = []
        for seq, _, _, at, body in reversed(rows):
            fields = [body.get(name) for name in ("action", "target", "detail")]
            if all(isinstance(value, str) for value in fields):
                entries.append(AuditEntry(at, *fields))
            else:
                self._skipped.add(seq)
        return entries

    def export_json(self) -> dict[str, Any]:
        """Everything this workspace remembers, as JSON-ready data for :meth:`import_json`."""
        records = [
            {"id": record_id, "kind": kind, "time": at, "body": body}
            for _, kind, record_id, at, body in self._records(KINDS, tail="ORDER BY seq")
        ]
        return {
            "format": EXPORT_FORMAT,
            "version": SCHEMA_VERSION,
            "workspace": self.workspace,
            "records": records,
        }

    def import_json(self, data: object) -> ImportReport:
        """Add the records of an export that are not here yet (by id), so importing twice
        changes nothing; core blocks take the imported text. Invalid records are skipped."""
        if (
            not isinstance(data, dict)
            or data.get("format") != EXPORT_FORMAT
            or not isinstance(data.get("records"), list)
        ):
            return ImportReport(0, 0, f"not a {EXPORT_FORMAT} export")
        valid = [row for row in map(self._importable, data["records"]) if row is not None]
        skipped = len(data["records"]) - len(valid)

        def change(connection: sqlite3.Connection) -> int:
            added = 0
            for kind, record_id, at, body in valid:
                if kind == "core":
                    connection.execute(
                        "INSERT INTO records (workspace, kind, id, time, body) "
                        "VALUES (?, 'core', ?, ?, ?) ON CONFLICT (workspace, id) DO UPDATE "
                        "SET time = excluded.time, body = excluded.body",
                        (self.workspace, record_id, at, _dump(body)),
                    )
                else:
                    added += self._insert(connection, kind, record_id, at, body)
            return added

        try:
            added = self._write(change)
        except _Unavailable as error:
            return ImportReport(0, len(data["records"]), f"memory unavailable: {error}")
        return ImportReport(added, skipped, f"imported {added}, skipped {skipped} invalid")

    def _importable(self, record: object) -> tuple[str, str, float, dict[str, Any]] | None:
        if not isinstance(record, dict):
            return None
        kind, record_id, at, body = (record.get(k) for k in ("kind", "id", "time", "body"))
        if (
            kind not in KINDS
            or not isinstance(record_id, str)
            or not record_id
            or isinstance(at, bool)
            or not isinstance(at, int | float)
            or not math.isfinite(at)
            or not isinstance(body, dict)
            or type(body.get("v")) is not int
            or not 1 <= body["v"] <= SCHEMA_VERSION
        ):
            return None
        valid = {
            "core": lambda: _core_importable(record_id, body, self.core_limits),
            "message": lambda: _recall(kind, record_id, at, body) is not None,
            "suggestion": lambda: _recall(kind, record_id, at, body) is not None,
            "archival": lambda: _note(record_id, at, body) is not None,
            "audit": lambda: all(
                isinstance(body.get(k), str) for k in ("action", "target", "detail")
            ),
        }[kind]()
        return (kind, record_id, float(at), body) if valid else None


def _connect(folder: Path) -> sqlite3.Connection:
    """Open (creating) the database in ``folder``: WAL, busy timeout, integrity checked,
    schema created in a write transaction (so a read-only store fails here)."""
    folder.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(
        folder / DATABASE_NAME,
        timeout=BUSY_TIMEOUT_S,
        isolation_level=None,
        check_same_thread=False,
    )
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        row = connection.execute("PRAGMA quick_check").fetchone()
        if not row or row[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {row}")
        connection.execute("BEGIN IMMEDIATE")
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                connection.execute(statement)
        connection.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.close()
        raise
    return connection


def _is_busy(error: sqlite3.OperationalError) -> bool:
    message = str(error).lower()
    return "locked" in message or "busy" in message


def _dump(body: Mapping[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def _preview(text: str, size: int = 80) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _is_vector(value: object) -> bool:
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(
            isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
            for x in value
        )
    )


def _recall(kind: str, record_id: str, at: float, body: dict[str, Any]) -> RecallRecord | None:
    text = body.get("text")
    if not isinstance(text, str):
        return None
    if kind == "message":
        role, conversation = body.get("role"), body.get("conversation")
        if isinstance(role, str) and isinstance(conversation, str):
            return RecallRecord(record_id, kind, at, text, role=role, conversation_id=conversation)
    elif kind == "suggestion":
        uri, accepted = body.get("uri"), body.get("accepted")
        if isinstance(uri, str) and isinstance(accepted, bool):
            return RecallRecord(record_id, kind, at, text, uri=uri, accepted=accepted)
    return None


def _note(record_id: str, at: float, body: dict[str, Any]) -> ArchivalNote | None:
    text, tags = body.get("text"), body.get("tags", [])
    if not isinstance(text, str) or not isinstance(tags, list):
        return None
    if not all(isinstance(tag, str) for tag in tags):
        return None
    vector = body.get("vector")
    if vector is not None and not _is_vector(vector):
        return None
    return ArchivalNote(record_id, at, text, tuple(tags))


def _core_importable(record_id: str, body: dict[str, Any], limits: Mapping[str, int]) -> bool:
    name, text = record_id.removeprefix("core:"), body.get("text")
    return (
        record_id.startswith("core:")
        and name in limits
        and isinstance(text, str)
        and len(text) <= limits[name]
    )
