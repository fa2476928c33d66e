"""Empty suggestions (issue 18): how often an invoked single-line inline completion from the
built-in model (Gemma 3 270M, prefix-only prompt) comes back empty, and why.

Tasks are real code: lines inside function bodies of an installed package's Python source
(``click`` is the dev set the fix was chosen on, ``jinja2`` the held-out test set), picked
with a seeded RNG. Each line is cut at a random column after its indentation; the rest of
that line is deleted (it is what the user has not typed yet, the "truth") and the rest of
the file stays as the suffix. Only cuts where the server asks the model for a single-line
completion (cursor analysis says so) become tasks.

``codehearth serve`` runs with Ollama unreachable, so the embedded model answers, in a
workspace holding a copy of the package (indexed: workspace context as a user gets it),
with a debug log. Each task is one invoked inline completion (``invokedItems`` 1, so one
generation per request), timed from request to answer. Reported per set:

* ``empty_rate``: no item came back; ``empty_rate_rest_nonempty``: the same among tasks
  whose truth is not empty (there was something to complete);
* ``why_empty``: for each empty answer, read from the server's debug log: the generation
  was empty (and what ended it), the first line was blank (the first token a line break),
  or which output filter emptied it; ``first_token_line_break``: of the empties, how many
  generations started with a line break;
* ``exact_match_rate``: the suggestion's first line equals the truth (tasks with a
  non-empty truth); ``prefix_match_rate``: it is a non-empty start of the truth;
  ``edit_similarity`` (difflib ratio of first line and truth; an empty answer counts 0)
  over all those tasks and over the answered ones only (a drop there would mean junk);
* ``p50_ms`` / ``p95_ms``: request to answer.

The prompt budget is fixed at :data:`PROMPT_TOKENS` and the model runs on one thread, so
that a busy machine changes the timings but not the prompts. Temperature 0 by default
(greedy: the same tasks give the same text, so before and after compare), ``--temperature``
to change it. Prints one JSON object.
"""

import os
import sys

# Run as a script, this folder is sys.path[0], and bench/typing.py would shadow the standard
# library's `typing`; put the repository root there instead.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import argparse
import ast
import asyncio
import collections
import difflib
import importlib.util
import json
import random
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import attrs

from bench.embedded import wait_loaded
from codehearth.client import ScriptedClient, insert_text
from codehearth.completion.cursor import analyse_cursor
from codehearth.languages import LanguageRegistry

SETS = {"dev": "click", "test": "jinja2"}
TASKS = 60
SEED = 18
PROMPT_TOKENS = 1024
"""The prompt budget (what the default gives a model that reads ~500 tokens/s)."""


@attrs.frozen
class Task:
    path: str
    """Relative to the package folder."""
    line: int
    column: int
    text: str
    """The document: the file with the cut line ending at the cursor."""
    truth: str
    """What the cut removed from the line."""


def package_folder(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None, f"{name} is not installed"
    return Path(spec.origin).parent


def body_lines(source: str) -> list[int]:
    """0-based first lines of the statements inside function bodies (docstrings left out)."""
    found: set[int] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for index, statement in enumerate(statements):
            docstring = (
                index == 0
                and isinstance(statement, ast.Expr)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
            )
            if not docstring:
                found.add(statement.lineno - 1)
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    visit(inner)
            for handler in getattr(statement, "handlers", []):
                visit(handler.body)
            for case in getattr(statement, "cases", []):
                visit(case.body)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            visit(node.body)
    return sorted(found)


def make_tasks(
    package: str, count: int, seed: int, registry: LanguageRegistry
) -> tuple[list[Task], dict[str, int]]:
    """``count`` single-line completion tasks from ``package``, and why other cuts were
    not tasks (cursor analysis reasons)."""
    folder = package_folder(package)
    candidates: list[tuple[str, int]] = []
    sources: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder).as_posix()
        sources[relative] = path.read_text(encoding="utf-8")
        candidates.extend((relative, line) for line in body_lines(sources[relative]))
    rng = random.Random(f"{seed}:{package}")
    rng.shuffle(candidates)
    tasks: list[Task] = []
    passed_over: collections.Counter[str] = collections.Counter()
    for relative, number in candidates:
        lines = sources[relative].split("\n")
        line = lines[number].rstrip()
        indent = len(line) - len(line.lstrip())
        if len(line) - indent < 2:
            continue
        column = rng.randint(indent + 1, len(line))
        text = "\n".join([*lines[:number], line[:column], *lines[number + 1 :]])
        decision = analyse_cursor(registry, "python", text, number, column)
        if not decision.should_request or decision.multiline:
            passed_over[decision.reason] += 1
            continue
        tasks.append(Task(relative, number, column, text, line[column:]))
        if len(tasks) == count:
            break
    return sorted(tasks, key=lambda t: (t.path, t.line)), dict(passed_over)


_BACKEND = re.compile(
    r"generated (\d+) tokens \(the first (is|is not) a line break\), ended by (.+)$"
)
_EMPTIED = re.compile(r"suggestion emptied by (\w+) \(raw: (\d+) chars, (\d+) leading line breaks")


def why_empty(log_lines: list[str]) -> tuple[str, bool]:
    """Why a request got no item, from the server's debug log lines for it; and whether
    the (first) generation started with a line break."""
    first_line_break = False
    ended = None
    for line in log_lines:
        if match := _BACKEND.search(line):
            first_line_break = first_line_break or match.group(2) == "is"
            ended = ended or match.group(3)
    for line in log_lines:
        if match := _EMPTIED.search(line):
            step, chars, leading = match.group(1), int(match.group(2)), int(match.group(3))
            if chars == 0:
                return f"generation empty (ended by {ended})", first_line_break
            if step == "limit_to_single_line" and leading:
                return "first line blank: limit_to_single_line", first_line_break
            return f"filtered: {step}", first_line_break
    return "no answer (no generation filtered)", first_line_break


async def run_set(
    package: str, count: int, seed: int, temperature: float, server_log: Path | None = None
) -> dict[str, object]:
    registry = LanguageRegistry.load()
    tasks, passed_over = make_tasks(package, count, seed, registry)
    results = []
    with tempfile.TemporaryDirectory(prefix="codehearth-bench-empty-") as folder:
        workspace = Path(folder) / package
        shutil.copytree(
            package_folder(package), workspace, ignore=shutil.ignore_patterns("__pycache__")
        )
        log_path = Path(folder) / "server.log"
        options = {
            "ollama": {"host": "http://127.0.0.1:9"},  # nothing listens: the embedded model
            "completion": {
                "deadlineSeconds": 60,
                "invokedItems": 1,
                "temperature": temperature,
                # A fixed prompt size: by default it follows the prefill speed measured
                # when the model loads, which another process on the machine can halve.
                "promptMilliseconds": 0,
                "promptTokens": PROMPT_TOKENS,
            },
            # One thread: llama.cpp's threads wait on each other when another process
            # takes a core, which made latency swing tenfold on a shared 2-core machine.
            "models": {"embeddedThreads": 1},
        }
        command = [sys.executable, "-m", "codehearth", "serve", "--log-level", "debug"]
        command += ["--log-file", str(log_path)]
        async with ScriptedClient(
            root=workspace, initialization_options=options, server_command=command
        ) as session:
            await wait_loaded(session)
            for _ in range(600):
                if (await session.status()).get("index", {}).get("lexicalReady"):
                    break
                await asyncio.sleep(0.1)
            uris: dict[str, str] = {}
            for task in tasks:
                path = workspace / task.path
                if task.path not in uris:
                    uris[task.path] = session.open(path, task.text, "python")
                else:
                    session.replace_text(uris[task.path], task.text)
                seen = log_path.stat().st_size
                started = time.perf_counter()
                items = await session.inline_completion(
                    uris[task.path], task.line, task.column, invoked=True
                )
                elapsed = time.perf_counter() - started
                with log_path.open(encoding="utf-8", errors="replace") as log:
                    log.seek(seen)
                    log_lines = log.read().splitlines()
                suggestion = insert_text(items[0]) if items else ""
                results.append((task, suggestion, elapsed, why_empty(log_lines)))
        if server_log is not None:
            shutil.copyfile(log_path, server_log.with_suffix(f".{package}.log"))

    empties = [r for r in results if not r[1]]
    with_truth = [r for r in results if r[0].truth.strip()]
    first_lines = [(r[1].split("\n", 1)[0].rstrip(), r[0].truth.rstrip()) for r in with_truth]
    similarity = [
        difflib.SequenceMatcher(None, first, truth).ratio() if first else 0.0
        for first, truth in first_lines
    ]
    answered = [s for s, (first, _) in zip(similarity, first_lines, strict=True) if first]
    timings = sorted(r[2] for r in results)
    return {
        "package": package,
        "tasks": len(results),
        "tasks_rest_nonempty": len(with_truth),
        "cuts_passed_over": passed_over,
        "empty": len(empties),
        "empty_rate": round(len(empties) / len(results), 3),
        "empty_rate_rest_nonempty": round(
            sum(1 for r in with_truth if not r[1]) / max(1, len(with_truth)), 3
        ),
        "why_empty": dict(collections.Counter(r[3][0] for r in empties).most_common()),
        "first_token_line_break": sum(1 for r in empties if r[3][1]),
        "multi_line_suggestions": sum(1 for r in results if "\n" in r[1]),
        "exact_match_rate": round(
            sum(first == truth for first, truth in first_lines) / max(1, len(first_lines)), 3
        ),
        "prefix_match_rate": round(
            sum(bool(first) and truth.startswith(first) for first, truth in first_lines)
            / max(1, len(first_lines)),
            3,
        ),
        "edit_similarity": round(statistics.fmean(similarity or [0.0]), 3),
        "edit_similarity_answered": round(statistics.fmean(answered or [0.0]), 3),
        "p50_ms": round(statistics.median(timings) * 1000, 1),
        "p95_ms": round(timings[min(len(timings) - 1, int(0.95 * len(timings)))] * 1000, 1),
        "details": [
            {
                "task": f"{r[0].path}:{r[0].line + 1}:{r[0].column}",
                "before": r[0].text.split("\n")[r[0].line][-40:],
                "truth": r[0].truth,
                "suggestion": r[1],
                "why_empty": r[3][0] if not r[1] else None,
            }
            for r in results
        ],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="dev,test", help="which of dev,test to run")
    parser.add_argument("--tasks", type=int, default=TASKS, help="tasks per set")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--details", type=Path, help="write each task's answer to this file")
    parser.add_argument("--server-log", type=Path, help="keep the server's debug log (per set)")
    args = parser.parse_args()
    result: dict[str, object] = {
        "benchmark": "empty-suggestions",
        "model": "gemma3-270m (embedded)",
        "temperature": args.temperature,
        "seed": args.seed,
    }
    details = {}
    for name in args.sets.split(","):
        figures = await run_set(
            SETS[name], args.tasks, args.seed, args.temperature, args.server_log
        )
        details[name] = figures.pop("details")
        result[name] = figures
    if args.details:
        args.details.write_text(json.dumps(details, indent=1), encoding="utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
