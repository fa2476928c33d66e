"""The user-facing memory operations, shared by the LSP commands and the CLI.

``show``, ``add``, ``search``, ``forget``, ``export`` and ``import`` take validated
argument objects (attrs, so the LSP layer structures client JSON into them and answers
``-32602`` for bad arguments) and return plain JSON-ready dicts. Every call is blocking
SQLite: callers on an event loop run them through ``asyncio.to_thread``. No pygls here.
"""

from __future__ import annotations

from typing import Any

import attrs

from codehearth.memory.store import ArchivalHit, MemoryStore, RecallRecord

MAX_TEXT = 4000


def _text(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.strip():
        raise ValueError(f"{attribute.name} must not be empty")
    if len(value) > MAX_TEXT:
        raise ValueError(f"{attribute.name} is longer than {MAX_TEXT} characters")


def _limit(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not 1 <= value <= 100:
        raise ValueError(f"{attribute.name} must be between 1 and 100")


@attrs.define
class AddArgs:
    text: str = attrs.field(validator=_text)
    tags: list[str] = attrs.field(factory=list)


@attrs.define
class SearchArgs:
    query: str = attrs.field(validator=_text)
    limit: int = attrs.field(default=5, validator=_limit)


@attrs.define
class ForgetArgs:
    id: str = attrs.field(validator=_text)


@attrs.define
class ImportArgs:
    data: dict[str, Any]


def show(store: MemoryStore, recent: int = 10) -> dict[str, Any]:
    return {
        "available": store.available,
        "problem": store.problem,
        "core": store.core_get(),
        "archivalCount": store.archival_count(),
        "recent": [_recall(record) for record in store.recent(recent)],
    }


def add(store: MemoryStore, args: AddArgs) -> dict[str, Any]:
    result = store.archival_insert(args.text, args.tags)
    return {"ok": result.ok, "id": result.record_id, "message": result.message}


def search(store: MemoryStore, args: SearchArgs) -> dict[str, Any]:
    return {
        "archival": [_hit(hit) for hit in store.archival_search(args.query, args.limit)],
        "recall": [_recall(record) for record in store.recall_search(args.query, args.limit)],
    }


def forget(store: MemoryStore, args: ForgetArgs) -> dict[str, Any]:
    result = store.forget(args.id)
    return {"ok": result.ok, "message": result.message}


def export(store: MemoryStore) -> dict[str, Any]:
    return store.export_json()


def import_(store: MemoryStore, args: ImportArgs) -> dict[str, Any]:
    report = store.import_json(args.data)
    return {"added": report.added, "skipped": report.skipped, "message": report.message}


def _hit(hit: ArchivalHit) -> dict[str, Any]:
    return {
        "id": hit.note.id,
        "text": hit.note.text,
        "tags": list(hit.note.tags),
        "time": hit.note.time,
        "score": round(hit.score, 4),
    }


def _recall(record: RecallRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "kind": record.kind,
        "time": record.time,
        "text": record.text,
        "role": record.role,
        "accepted": record.accepted,
    }
