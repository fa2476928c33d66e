"""Completion quality end to end on real code: ``codehearth eval`` on a package installed
in this venv (default ``click``), with the models given (``--model``, repeatable; default:
whatever the server routes to, the built-in Gemma 3 270M when no Ollama answers), under
the three conditions (``none``: no workspace context; ``codehearth``: the context the
server finds; ``oracle``: the definition the line needs, given).

The package folder is the workspace as installed (nothing is copied or written there; the
index lives in the user cache). Tasks are seeded (``--seed``, default 0) and ``--limit``
(default 12, a few minutes with the built-in model on 2 cores) is shared between the three
task kinds. Prints one JSON object: per model and condition, and per task kind, exact
match, edit similarity, identifier F1 and exact match, empty answers and latency p50/p95.
"""

import os
import sys

# Run as a script, this folder is sys.path[0], and bench/typing.py would shadow the standard
# library's `typing`; put the repository root there instead.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import argparse
import importlib
import json
import subprocess
import tempfile
import time
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--package", default="click", help="an importable package (default click)")
    parser.add_argument("--model", action="append", default=[], help="repeatable")
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--host", help="Ollama URL")
    args = parser.parse_args()

    module = importlib.import_module(args.package)
    root = Path(module.__file__ or "").resolve().parent
    try:
        version = installed_version(args.package)
    except PackageNotFoundError:
        version = "?"
    command = [sys.executable, "-m", "codehearth", "eval", str(root), "--json"]
    command += ["--limit", str(args.limit), "--seed", str(args.seed)]
    for model in args.model:
        command += ["--model", model]
    if args.host:
        command += ["--host", args.host]
    with tempfile.TemporaryDirectory(prefix="codehearth-quality-") as scratch:
        log = Path(scratch) / "servers.log"
        started = time.perf_counter()
        done = subprocess.run(
            [*command, "--server-log", str(log)], capture_output=True, text=True, check=False
        )
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        raise SystemExit(done.returncode)
    report = json.loads(done.stdout)
    print(
        json.dumps(
            {
                "benchmark": "completion-quality",
                "package": f"{args.package} {version}",
                "seed": args.seed,
                "limit": args.limit,
                "files": report["files"],
                "candidates": report["candidates"],
                "tasks": report["tasks"],
                "settings": report["settings"],
                "seconds": round(seconds, 1),
                "summary": [_rounded(row) for row in report["summary"]],
                "by_kind": [_rounded(row) for row in report["by_kind"]],
            }
        )
    )


def _rounded(row: dict[str, object]) -> dict[str, object]:
    return {
        key: round(value, 3) if isinstance(value, float) else value for key, value in row.items()
    }


if __name__ == "__main__":
    main()
