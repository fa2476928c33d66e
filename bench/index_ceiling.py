"""How fast could a cold index build be? Each step of the per-file work, measured against
bare tree-sitter in the same run, as ``bench/index.py`` measures the real build.

The Python files of ``bench/index.py``'s corpus go through two worker processes (started
before the clock runs, the garbage collector off as in the index's workers, nothing
stored, nothing sent back but a count) in each of these
ways, each a superset of the last but the outline:

- ``parse``: read and parse (what bare tree-sitter does, on two cores);
- ``parse_with_deadline``: the same through the read and progress callbacks that bound
  the time a garbage file may take (:func:`codehearth.languages.parse_with_deadline`);
- ``queries``: and run the language's three query files (``chunks.scm``, ``tags.scm``,
  ``imports.scm``) over the tree, keeping the captures and doing nothing with them;
- ``chunk_file``: the whole per-file work of the index (:func:`chunk_file`);
- ``outline_walk``: read, parse and list the definitions by walking the module's,
  classes' and decorators' children in Python: no query, no chunk text, no names, no
  skeletons, and Python's node types written in the code.

``ratio_per_core`` of each is (bare seconds on one core) / (its seconds x 2 workers),
each the best of :data:`ROUNDS` runs:
``queries`` bounds any index built from the issue's query files, ``outline_walk`` what
an outline-first index could reach, against issue 3's target of 0.8.

    python bench/index_ceiling.py
"""

import os
import sys

sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import gc
import json
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.index import MAX_FILE_BYTES, bare_parse_seconds, build_corpus
from codehearth.index.chunker import QUERY_FILES, chunk_file
from codehearth.index.scanner import read_source
from codehearth.languages import LanguageRegistry, bounded_captures, parse_with_deadline

WORKERS = 2
BATCHES = 64
ROUNDS = 3
"""Each time is the best of this many runs (this machine's speed varies by a third)."""
DEADLINE_MICROS = 2_000_000
DEFINITIONS = frozenset({"function_definition", "class_definition", "decorated_definition"})


def parse(registry: LanguageRegistry, data: bytes) -> int:
    parser = registry.parser("python")
    assert parser is not None
    parser.parse(data)
    return 1


def parse_deadline(registry: LanguageRegistry, data: bytes) -> int:
    parser = registry.parser("python")
    assert parser is not None
    return int(parse_with_deadline(parser, data, DEADLINE_MICROS, keep_source=False) is not None)


def queries(registry: LanguageRegistry, data: bytes) -> int:
    parser = registry.parser("python")
    query = registry.query("python", *QUERY_FILES)
    assert parser is not None and query is not None
    tree = parse_with_deadline(parser, data, DEADLINE_MICROS, keep_source=False)
    if tree is None:
        return 0
    return sum(len(nodes) for nodes in bounded_captures(query, tree.root_node).values())


def chunks(registry: LanguageRegistry, data: bytes) -> int:
    return len(chunk_file(registry, "python", "bench.py", data.decode("utf-8")).chunks)


def outline_walk(registry: LanguageRegistry, data: bytes) -> int:
    parser = registry.parser("python")
    assert parser is not None
    found = 0
    pending = [parser.parse(data).root_node]
    while pending:
        for child in pending.pop().children:
            if child.type not in DEFINITIONS:
                continue
            found += 1
            body = child.child_by_field_name("body")
            if child.type == "decorated_definition":
                pending.append(child)
            elif child.type == "class_definition" and body is not None:
                pending.append(body)
    return found


STEPS: dict[str, Callable[[LanguageRegistry, bytes], int]] = {
    "parse": parse,
    "parse_with_deadline": parse_deadline,
    "queries": queries,
    "chunk_file": chunks,
    "outline_walk": outline_walk,
}

_registry: LanguageRegistry | None = None


def run_step(step: str, paths: list[str]) -> int:
    """Worker: read each file and put it through ``step``; the sum of its counts."""
    global _registry
    if _registry is None:
        _registry = LanguageRegistry.load()
        gc.disable()  # as the index's workers chunk: nothing made here holds a cycle
    total = 0
    for path in paths:
        text = read_source(path, MAX_FILE_BYTES)
        if text is not None:
            total += STEPS[step](_registry, text.encode("utf-8"))
    return total


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "corpus"
        build_corpus(root)
        paths = sorted(str(path) for path in root.rglob("*.py"))
        megabytes = sum(os.path.getsize(path) for path in paths) / 1e6
        python_files = [(path, "python") for path in paths]
        registry = LanguageRegistry.load()
        bare_seconds = min(bare_parse_seconds(registry, python_files) for _ in range(ROUNDS))
        batches = [paths[i::BATCHES] for i in range(BATCHES)]
        steps = {}
        with ProcessPoolExecutor(WORKERS) as pool:
            for step in STEPS:  # warm: the workers start and load every grammar and query
                list(pool.map(run_step, [step] * WORKERS, [paths[:10]] * WORKERS))
            timings: dict[str, list[float]] = {step: [] for step in STEPS}
            counts = {}
            for _ in range(ROUNDS):  # interleaved, so a slow spell of the machine hits all
                for step in STEPS:
                    started = time.perf_counter()
                    counts[step] = sum(pool.map(run_step, [step] * len(batches), batches))
                    timings[step].append(time.perf_counter() - started)
            for step, seconds in timings.items():
                steps[step] = {
                    "seconds": round(min(seconds), 3),
                    "count": counts[step],
                    "ratio_per_core": round(bare_seconds / (min(seconds) * WORKERS), 3),
                }
    print(
        json.dumps(
            {
                "benchmark": "index_ceiling",
                "files": len(paths),
                "megabytes": round(megabytes, 2),
                "bare_tree_sitter_seconds_one_core": round(bare_seconds, 3),
                "workers": WORKERS,
                "steps": steps,
                "target_ratio_per_core": 0.8,
            }
        )
    )


if __name__ == "__main__":
    main()
