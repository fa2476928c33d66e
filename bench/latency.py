"""Server overhead per inline completion, against a bare pygls server, in one run.

Both servers run as subprocesses driven by the same scripted LSP client over stdio.
CodeHearth talks to the fake Ollama with zero model latency; every request is a cache
miss (a comment line at the top changes before each one) and is ``Invoked`` (no
debounce) with one item. For CodeHearth, *overhead* is the client-measured round trip
minus the time the fake spent serving the generation. Prints one JSON object.

Target (issue 2): overhead p50 <= 1.5x the bare pygls round trip p50.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.fake_ollama import FakeOllama  # noqa: E402

from codehearth.client import ScriptedClient  # noqa: E402

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
    command: list[str], root: Path, options: dict, fake: FakeOllama | None
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
            if fake is not None:
                fake.reset()
            started = time.perf_counter()
            items = await session.inline_completion(uri, 2, 4, invoked=True)
            elapsed = time.perf_counter() - started
            if not items:
                raise RuntimeError(f"no completion from {command[-1]} at request {n}")
            if n <= WARMUP:
                continue
            round_trips.append(elapsed)
            backend = 0.0
            if fake is not None:
                for request in fake.generations():
                    if request.finished_at is not None:
                        backend += request.finished_at - request.started_at
            overheads.append(elapsed - backend)
    return round_trips, overheads


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder, FakeOllama() as fake:
        root = Path(folder)
        fake.set_text("return a + b\n")
        bare, _ = await measure(
            [sys.executable, str(ROOT / "bench" / "bare_server.py")], root, {}, None
        )
        options = {
            "ollama": {"host": fake.url, "warmUp": False},
            "completion": {"invokedItems": 1},
        }
        ours, overhead = await measure(
            [sys.executable, "-m", "codehearth", "serve", "--log-level", "WARNING"],
            root,
            options,
            fake,
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
