"""Index throughput, warm start and incremental update on real code brought by pip.

Corpus: the Python standard library plus the source of large packages installed in this
venv (mypy, hypothesis, pygls, lsprotocol), copied into one temporary workspace so that
nothing is skipped as a virtualenv folder. Measured in one run and printed as one JSON
object:

- cold build (no cache, both cores) time and MB/s until the index answers (definitions,
  files, imports), then the BM25 postings built after it; bare tree-sitter parsing of the
  same files on one core; ``ratio_per_core`` = (our MB/s / workers) / bare MB/s;
- warm start: a new index over the same workspace that reloads the persisted store, to
  ready and then lexical; and the same for a workspace of at least 5,000 files (the
  corpus three times, each copy's files made distinct by a comment line), the size the
  target names;
- incremental re-index p50/p95 of a ~2,000-line file after a one-line edit;
- peak RSS of this process (one index alive at a time) and of the worker processes,
  and of this process once the large workspace was indexed.

Targets (issue 3): ratio_per_core >= 0.8, warm start <= 1 s for 5k files,
incremental p50 <= 20 ms.
"""

import os
import sys

sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import importlib.util
import json
import resource
import shutil
import statistics
import sysconfig
import tempfile
import time
from pathlib import Path

from codehearth.index.scanner import ScanLimits, read_source
from codehearth.index.store import IndexStore
from codehearth.index.workspace_index import BuildReport, WorkspaceIndex
from codehearth.languages import LanguageRegistry

PACKAGES = ("mypy", "hypothesis", "pygls", "lsprotocol")
MAX_FILE_BYTES = 1_000_000
LARGE_COPIES = 3
"""Copies of the corpus in the large warm-start workspace (over 5,000 files)."""
LIMITS = ScanLimits(max_file_bytes=MAX_FILE_BYTES, max_files=100_000)


def build_corpus(target: Path) -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    shutil.copytree(
        stdlib,
        target / "stdlib",
        ignore=shutil.ignore_patterns("site-packages", "__pycache__", "*.pyc", "test", "tests"),
        symlinks=True,
    )
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        shutil.copytree(
            Path(spec.origin).parent,
            target / name,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so"),
        )


def bare_parse_seconds(registry: LanguageRegistry, paths: list[tuple[str, str]]) -> float:
    """Bare tree-sitter: read and parse every file on one core, nothing else."""
    started = time.perf_counter()
    for path, language_id in paths:
        text = read_source(path, MAX_FILE_BYTES)
        parser = registry.parser(language_id)
        if text is not None and parser is not None:
            parser.parse(text.encode("utf-8"))
    return time.perf_counter() - started


def incremental_samples(index: WorkspaceIndex, path: Path, rounds: int = 40) -> list[float]:
    original = path.read_text(encoding="utf-8")
    samples = []
    for round_number in range(rounds):
        edited = original.replace("\n", f"\n# edit {round_number}\n", 1)
        started = time.perf_counter()
        index.update_file(str(path), edited)
        samples.append(time.perf_counter() - started)
    return samples


def build_large_corpus(corpus: Path, target: Path, copies: int = LARGE_COPIES) -> None:
    """``copies`` copies of the corpus's source files, each file's content made distinct
    (a comment line naming its copy) so that no two share stored chunks."""
    for copy in range(copies):
        for path in corpus.rglob("*"):
            if path.suffix not in (".py", ".pyi") or not path.is_file():
                continue
            destination = target / f"copy{copy}" / path.relative_to(corpus)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(path.read_bytes() + f"\n# copy {copy}\n".encode())


def open_index(root: Path, cache_root: Path, registry: LanguageRegistry) -> WorkspaceIndex:
    """An index of ``root`` persisted under ``cache_root`` (a fresh one, or a restart)."""
    store = IndexStore.for_workspace(root, cache_root)
    return WorkspaceIndex(root, registry, store, LIMITS)


def close_index(index: WorkspaceIndex) -> None:
    assert index.store is not None
    index.store.close()


def large_warm_start(corpus: Path, folder: Path, registry: LanguageRegistry) -> BuildReport:
    """Warm start over :func:`build_large_corpus`'s workspace, after a cold build."""
    root = folder / "large"
    build_large_corpus(corpus, root)
    cold = open_index(root, folder / "large-cache", registry)
    cold.build(workers=2)
    close_index(cold)
    del cold
    warm = open_index(root, folder / "large-cache", registry)
    report = warm.build(workers=2)
    close_index(warm)
    return report


def two_thousand_line_file(root: Path) -> Path:
    candidates = []
    for path in root.rglob("*.py"):
        lines = path.read_bytes().count(b"\n")
        if 1800 <= lines <= 2600:
            candidates.append((abs(lines - 2000), path))
    return min(candidates)[1]


def main() -> None:
    registry = LanguageRegistry.load()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "corpus"
        build_corpus(root)
        cache_root = Path(folder) / "cache"

        cold = open_index(root, cache_root, registry)
        report = cold.build(workers=2)
        files = [(path, chunks.language_id) for path, chunks in cold._files.items()]
        bare_seconds = bare_parse_seconds(registry, files)
        megabytes = report.bytes / 1e6
        ours_per_core = megabytes / report.seconds / report.workers
        bare_rate = megabytes / bare_seconds
        close_index(cold)
        del cold  # a server holds one index: the peak RSS must not count two

        warm = open_index(root, cache_root, registry)
        warm_report = warm.build(workers=2)

        big = two_thousand_line_file(root)
        big_lines = big.read_text(encoding="utf-8").count("\n")
        samples = incremental_samples(warm, big)
        close_index(warm)
        del warm
        # (before the large workspace, whose index is three times the size)
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

        large = large_warm_start(root, Path(folder), registry)
    large_own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "benchmark": "index",
                "files": report.files,
                "chunks": report.chunks,
                "megabytes": round(megabytes, 2),
                "cold_seconds_to_ready": report.seconds,
                "cold_lexical_seconds": report.lexical_seconds,
                "cold_mb_per_s": round(megabytes / report.seconds, 2),
                "workers": report.workers,
                "bare_tree_sitter_seconds_one_core": round(bare_seconds, 3),
                "bare_tree_sitter_mb_per_s": round(bare_rate, 2),
                "ratio_per_core": round(ours_per_core / bare_rate, 3),
                "target_ratio_per_core": 0.8,
                "warm_start_seconds_to_ready": warm_report.seconds,
                "warm_lexical_seconds": warm_report.lexical_seconds,
                "warm_from_cache": warm_report.from_cache,
                "large_warm_files": large.files,
                "large_warm_start_seconds_to_ready": large.seconds,
                "large_warm_lexical_seconds": large.lexical_seconds,
                "large_warm_from_cache": large.from_cache,
                "target_warm_seconds_for_5k_files": 1.0,
                "incremental_file_lines": big_lines,
                "incremental_p50_ms": round(statistics.median(samples) * 1000, 2),
                "incremental_p95_ms": round(
                    statistics.quantiles(samples, n=20, method="inclusive")[18] * 1000, 2
                ),
                "target_incremental_p50_ms": 20,
                "peak_rss_mb": round(own, 1),
                "peak_worker_rss_mb": round(children, 1),
                "large_peak_rss_mb": round(large_own, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
