"""Memory survives writers killed mid-write, and concurrent writers lose nothing.

Writers are forked (already imported, so a round costs milliseconds, not an interpreter
start) and open their own store after the fork; each reports an id only once the call that
wrote it has returned, i.e. once its transaction committed.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from multiprocessing.connection import Connection
from pathlib import Path

from codehearth.memory.store import MemoryStore

ROUNDS = 50
CONTEXT = multiprocessing.get_context("fork")


def _write_forever(folder: Path, round_number: int, report: Connection) -> None:
    store = MemoryStore(folder, "ws")
    for i in range(1_000_000):
        if i % 3 == 2:
            record_id = store.add_message("user", f"round {round_number} message {i}", "c")
        else:
            record_id = store.archival_insert(f"round {round_number} note {i} " * 20).record_id
        report.send(record_id)


def _write_many(folder: Path, writer: int, count: int) -> None:
    store = MemoryStore(folder, "ws")
    for i in range(count):
        if not store.archival_insert(f"writer {writer} note {i}").ok:
            os._exit(1)
    store.close()


def test_sigkilled_writers_lose_nothing_committed(tmp_path: Path) -> None:
    folder = tmp_path / "memory"
    rng = random.Random(1234)
    committed: list[str] = []
    for round_number in range(ROUNDS):
        receive, send = CONTEXT.Pipe(duplex=False)
        child = CONTEXT.Process(target=_write_forever, args=(folder, round_number, send))
        child.start()
        send.close()
        time.sleep(rng.uniform(0.0, 0.12))
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        while receive.poll():
            try:
                committed.append(receive.recv())
            except EOFError:
                break
        receive.close()
    assert len(committed) > ROUNDS
    store = MemoryStore(folder, "ws")
    assert store.available and store.warnings == [] and store.integrity_ok()
    exported = {record["id"] for record in store.export_json()["records"]}
    assert set(committed) <= exported
    assert store.skipped_records == 0


def test_two_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "memory"
    MemoryStore(folder, "ws").close()
    writers = [CONTEXT.Process(target=_write_many, args=(folder, n, 500)) for n in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
        assert writer.exitcode == 0
    store = MemoryStore(folder, "ws")
    assert store.archival_count() == 1000
    assert len(store.archival_search("writer note", 20)) == 20
