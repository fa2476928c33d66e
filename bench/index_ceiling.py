"""How fast could a cold index build be? An outline-only build, measured against bare
tree-sitter in the same run, as ``bench/index.py`` measures the real one.

Each of two worker processes reads, parses and lists the definitions of its share of the
Python files of ``bench/index.py``'s corpus (a walk of the module's, classes' and
decorators' children: no query, no chunk text, no names, no skeletons). Nothing is stored.
This is the least an index that answers "where is X defined" must do per file, so its
``ratio_per_core`` bounds what an outline-first design (chunks materialised after the
index is ready, or on demand) could reach against issue 3's target of 0.8.

    python bench/index_ceiling.py
"""

import os
import sys

sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.index import MAX_FILE_BYTES, build_corpus
from codehearth.index.scanner import read_source
from codehearth.languages import LanguageRegistry

WORKERS = 2
BATCHES = 64
DEFINITIONS = frozenset({"function_definition", "class_definition", "decorated_definition"})


def outline(paths: list[str]) -> int:
    """Read, parse and list the definitions of ``paths``; how many definitions."""
    parser = LanguageRegistry.load().parser("python")
    assert parser is not None
    found = 0
    for path in paths:
        text = read_source(path, MAX_FILE_BYTES)
        if text is None:
            continue
        pending = [parser.parse(text.encode("utf-8")).root_node]
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


def bare_parse_seconds(paths: list[str]) -> float:
    parser = LanguageRegistry.load().parser("python")
    assert parser is not None
    started = time.perf_counter()
    for path in paths:
        text = read_source(path, MAX_FILE_BYTES)
        if text is not None:
            parser.parse(text.encode("utf-8"))
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "corpus"
        build_corpus(root)
        paths = sorted(str(path) for path in root.rglob("*.py"))
        megabytes = sum(os.path.getsize(path) for path in paths) / 1e6
        bare_seconds = bare_parse_seconds(paths)
        batches = [paths[i::BATCHES] for i in range(BATCHES)]
        with ProcessPoolExecutor(WORKERS) as pool:
            list(pool.map(outline, [paths[:10]] * WORKERS))  # start the workers
            started = time.perf_counter()
            definitions = sum(pool.map(outline, batches))
            outline_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "benchmark": "index_ceiling",
                "files": len(paths),
                "megabytes": round(megabytes, 2),
                "definitions": definitions,
                "bare_tree_sitter_seconds_one_core": round(bare_seconds, 3),
                "outline_seconds": round(outline_seconds, 3),
                "workers": WORKERS,
                "ratio_per_core": round(bare_seconds / (outline_seconds * WORKERS), 3),
                "target_ratio_per_core": 0.8,
            }
        )
    )


if __name__ == "__main__":
    main()
