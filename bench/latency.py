"""Server overhead per inline completion, against a bare pygls server, in one run.

Both servers run as subprocesses driven by the same scripted LSP client over stdio.
CodeHearth talks to the fake Ollama with zero model latency; every request is a cache
miss (a comment line at the top changes before each one) and is ``Invoked`` (no
debounce) with one item. For CodeHearth, *overhead* is the client-measured round trip
minus the backend call as the server timed it (``codehearth.status``: the HTTP call to
Ollama, client library included); the round trip itself is printed too. Prints one JSON
object.

Target (issue 2): overhead p50 <= 1.5x the bare pygls round trip p50.
"""

import os
import sys

# Run as a script, this folder is sys.path[0], and this file would shadow the standard
# library's `typing`; put the repository root there instead.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


import asyncio
import contextlib
import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


from codehearth.client import ScriptedClient

WARMUP = 20
REQUESTS = 300
SOURCE = "# revision {n}\ndef add(a, b):\n    \n"


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "p50_ms": round(cut[49] * 1000, 3),
        "p95_ms": round(cut[94] * 1000, 3),
        "p99_ms": round(cut[98] * 1000, 3),
    }


async def measure(
    command: list[str], root: Path, options: dict, *, measure_backend: bool
) -> tuple[list[float], list[float]]:
    round_trips: list[float] = []
    overheads: list[float] = []
    async with ScriptedClient(
        root=root, initialization_options=options, server_command=command
    ) as session:
        path = root / "add.py"
        uri = session.open(path, SOURCE.format(n=0), "python")
        for n in range(1, WARMUP + REQUESTS + 1):
            session.replace_text(uri, SOURCE.format(n=n))
            started = time.perf_counter()
            items = await session.inline_completion(uri, 2, 4, invoked=True)
            elapsed = time.perf_counter() - started
            if not items:
                raise RuntimeError(f"no completion from {command[-1]} at request {n}")
            if n <= WARMUP:
                continue
            round_trips.append(elapsed)
            backend_ms = 0.0
            if measure_backend:
                status = await session.status()
                backend_ms = status["engine"]["recentBackendMs"][-1]
            overheads.append(elapsed - backend_ms / 1000)
    return round_trips, overheads


@contextlib.contextmanager
def fake_ollama_process() -> Iterator[str]:
    """The fake Ollama in its own process, so it never competes with this client's GIL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.fake_ollama", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(10)


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder, fake_ollama_process() as fake_url:
        root = Path(folder)
        bare, _ = await measure(
            [sys.executable, "-P", str(ROOT / "bench" / "bare_server.py")],
            root,
            {},
            measure_backend=False,
        )
        options = {
            "ollama": {"host": fake_url, "warmUp": False},
            "models": {"embedded": "off"},
            "completion": {"invokedItems": 1},
        }
        ours, overhead = await measure(
            [sys.executable, "-m", "codehearth", "serve", "--log-level", "WARNING"],
            root,
            options,
            measure_backend=True,
        )
    result = {
        "benchmark": "inline-completion-latency",
        "requests": REQUESTS,
        "bare_pygls_round_trip": percentiles(bare),
        "codehearth_round_trip": percentiles(ours),
        "codehearth_overhead": percentiles(overhead),
    }
    result["ratio_p50_overhead_vs_bare"] = round(
        result["codehearth_overhead"]["p50_ms"] / result["bare_pygls_round_trip"]["p50_ms"], 3
    )
    result["target_ratio_p50"] = 1.5
    result["meets_target"] = result["ratio_p50_overhead_vs_bare"] <= 1.5
    result["overhead_under_50ms_p99"] = result["codehearth_overhead"]["p99_ms"] < 50
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
