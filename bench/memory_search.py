"""Archival memory: search latency over 100k notes, insert throughput and cold open.

Generates 100,000 realistic developer notes (decisions, commands, preferences, bugs over a
vocabulary of project words and identifiers), loads them through ``import_json`` (one
transaction), then measures in one run and prints one JSON object:

- ``insert_per_s``: single ``archival_insert`` calls (each its own transaction + audit entry);
- ``open_ms``: opening the store (WAL, quick_check, schema) and ``cold_first_search_ms``:
  the first search, which builds the in-memory BM25 index from the table;
- ``search_p50_ms`` / ``search_p99_ms`` over 300 queries of 1-4 words once warm.

Target (persistent memory issue): search_p50_ms <= 20.
"""

import os
import sys

sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from codehearth.memory.store import EXPORT_FORMAT, SCHEMA_VERSION, MemoryStore

NOTES = 100_000
QUERIES = 300
INSERTS = 1_000
TARGET_P50_MS = 20.0

SUBJECTS = (
    "the parser",
    "the build",
    "CI",
    "the release script",
    "the auth service",
    "the cache",
    "the LSP server",
    "the indexer",
    "the database migration",
    "the frontend",
    "the CLI",
    "the tokenizer",
    "the scheduler",
    "the payment webhook",
    "the config loader",
)
VERBS = (
    "fails when",
    "is slow because",
    "should be refactored so",
    "was changed so that",
    "needs a test for when",
    "must not be touched until",
    "breaks on Windows when",
)
OBJECTS = (
    "the input is empty",
    "a file is renamed",
    "the user is offline",
    "two requests race",
    "the timezone is not UTC",
    "the JSON has trailing commas",
    "the disk is full",
    "the token expires",
    "the cache is cold",
    "a submodule is missing",
)
IDENTIFIERS = (
    "parseConfig",
    "load_settings",
    "HttpClient",
    "retry_with_backoff",
    "UserSession",
    "build_index",
    "fetchTokens",
    "WorkspaceIndex",
    "render_template",
    "apply_migration",
    "validateSchema",
    "flush_queue",
    "EventBus",
    "normalize_path",
    "resolveImports",
)
EXTRAS = (
    "Decided with the team on Tuesday.",
    "See issue {n}.",
    "User prefers tabs over spaces.",
    "Run make test before pushing.",
    "Ask before changing public APIs.",
    "Workaround: {ident}.",
)


def make_note(rng: random.Random) -> str:
    ident = rng.choice(IDENTIFIERS)
    extra = rng.choice(EXTRAS).format(n=rng.randint(1, 9999), ident=rng.choice(IDENTIFIERS))
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} in {ident}. {extra}"


def make_query(rng: random.Random) -> str:
    words = [
        *rng.choice(OBJECTS).split(),
        *rng.choice(SUBJECTS).split(),
        rng.choice(IDENTIFIERS),
    ]
    return " ".join(rng.sample(words, rng.randint(1, 4)))


def measure() -> dict[str, object]:
    """Archival search over 100k notes: p50/p99, insert rate, cold open and first search."""
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "memory"
        store = MemoryStore(folder, "bench")
        records = [
            {
                "id": f"arc-{i:06d}",
                "kind": "archival",
                "time": 1_700_000_000.0 + i,
                "body": {"v": SCHEMA_VERSION, "text": make_note(rng), "tags": []},
            }
            for i in range(NOTES)
        ]
        start = time.perf_counter()
        report = store.import_json({"format": EXPORT_FORMAT, "records": records})
        bulk_s = time.perf_counter() - start
        assert report.added == NOTES, report

        start = time.perf_counter()
        for _ in range(INSERTS):
            assert store.archival_insert(make_note(rng)).ok
        insert_s = time.perf_counter() - start
        store.close()

        start = time.perf_counter()
        store = MemoryStore(folder, "bench")
        open_s = time.perf_counter() - start
        start = time.perf_counter()
        store.archival_search(make_query(rng), 5)
        cold_search_s = time.perf_counter() - start

        latencies = []
        empty = 0
        for _ in range(QUERIES):
            query = make_query(rng)
            start = time.perf_counter()
            hits = store.archival_search(query, 5)
            latencies.append((time.perf_counter() - start) * 1000)
            empty += not hits
        latencies.sort()
        p50 = statistics.median(latencies)
        store.close()

    return {
        "benchmark": "memory_search",
        "notes": NOTES + INSERTS,
        "bulk_import_per_s": round(NOTES / bulk_s),
        "insert_per_s": round(INSERTS / insert_s),
        "open_ms": round(open_s * 1000, 1),
        "cold_first_search_ms": round(cold_search_s * 1000, 1),
        "search_p50_ms": round(p50, 2),
        "search_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "queries": QUERIES,
        "queries_without_hits": empty,
        "target_p50_ms": TARGET_P50_MS,
        "meets_target": p50 <= TARGET_P50_MS,
    }


def main() -> None:
    print(json.dumps(measure()))


if __name__ == "__main__":
    main()
