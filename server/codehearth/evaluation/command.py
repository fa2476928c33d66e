"""``codehearth eval PATH``: build the tasks, run what is not done yet with a progress bar
on stderr, and print the table (or ``--json``) on stdout. Ctrl-C stops the run and prints
what is done so far (each finished result is already in ``--results``)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from codehearth.evaluation.progress import ProgressBar
from codehearth.evaluation.report import (
    CONDITIONS,
    DEFAULT_MODEL,
    ResultsFile,
    TaskResult,
    done_results,
    render_table,
    summarise,
)
from codehearth.evaluation.runner import (
    EVAL_SETTINGS,
    RunPlan,
    overridden_by_workspace,
    pending_work,
    run_plan,
)
from codehearth.evaluation.tasks import KINDS, TaskSet, build_tasks
from codehearth.languages import LanguageRegistry


@attrs.frozen
class EvalRequest:
    root: Path
    models: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    limit: int = 30
    seed: int = 0
    languages: tuple[str, ...] | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)
    results: Path | None = None
    request_seconds: float = 300.0
    server_log: Path | None = None
    by_kind: bool = False
    as_json: bool = False


def run_eval(request: EvalRequest) -> int:
    """The whole command; its exit code (1: no task, 130: interrupted)."""
    task_set = build_tasks(
        request.root,
        LanguageRegistry.load(),
        limit=request.limit,
        seed=request.seed,
        languages=request.languages,
    )
    counts = ", ".join(
        f"{sum(task.kind == kind for task in task_set.tasks)} {kind}" for kind in KINDS
    )
    print(
        f"codehearth eval: {len(task_set.tasks)} tasks ({counts}) from {task_set.files} files",
        file=sys.stderr,
    )
    if not task_set.tasks:
        print("codehearth eval: no function body to take tasks from", file=sys.stderr)
        return 1
    for name in overridden_by_workspace(request.root):
        print(
            f"codehearth eval: warning: codehearth.toml sets {name}, which wins over the "
            "eval's own value: results may not be repeatable, or 'none' may have context",
            file=sys.stderr,
        )
    plan = RunPlan(
        root=request.root,
        tasks=task_set.tasks,
        models=request.models or (DEFAULT_MODEL,),
        conditions=request.conditions or CONDITIONS,
        options=request.options,
        request_seconds=request.request_seconds,
        server_log=request.server_log,
    )
    results_file = ResultsFile(request.results) if request.results is not None else None
    done = done_results(results_file.load() if results_file else [], plan.tasks)
    wanted = {
        key: result
        for key, result in done.items()
        if result.model in plan.models and result.condition in plan.conditions
    }
    total = sum(len(tasks) for _, _, tasks in pending_work(plan, wanted))
    if wanted:
        print(
            f"codehearth eval: {len(wanted)} results already in {request.results}",
            file=sys.stderr,
        )
    progress = ProgressBar(total)
    finished = dict(wanted)

    def on_result(result: TaskResult) -> None:
        finished[result.key] = result
        if results_file is not None:
            results_file.append(result)
        progress.advance(f"{result.model} / {result.condition}")

    # On Ctrl-C the servers answer requests whose futures are already cancelled, and the
    # pygls client logs each as a traceback; every task's own error is in its result.
    logging.getLogger("pygls").setLevel(logging.CRITICAL)
    interrupted = False
    try:
        asyncio.run(run_plan(plan, wanted, on_result, progress.note))
    except KeyboardInterrupt:
        interrupted = True
    progress.clear()
    if interrupted:
        print(
            f"codehearth eval: interrupted; {len(finished)} of "
            f"{len(plan.tasks) * len(plan.models) * len(plan.conditions)} results done",
            file=sys.stderr,
        )
    ordered = _in_plan_order(plan, finished)
    if request.as_json:
        print(json.dumps(as_json(request, task_set, plan, ordered, interrupted), indent=2))
    else:
        print(render_table(summarise(ordered)), end="")
        if request.by_kind:
            print()
            print(render_table(summarise(ordered, by_kind=True), with_kind=True), end="")
    return 130 if interrupted else 0


def _in_plan_order(
    plan: RunPlan, finished: Mapping[tuple[str, str, str], TaskResult]
) -> list[TaskResult]:
    return [
        finished[key]
        for model in plan.models
        for condition in plan.conditions
        for task in plan.tasks
        if (key := (task.id, condition, model)) in finished
    ]


def as_json(
    request: EvalRequest,
    task_set: TaskSet,
    plan: RunPlan,
    results: Sequence[TaskResult],
    interrupted: bool,
) -> dict[str, Any]:
    return {
        "path": str(request.root),
        "seed": request.seed,
        "limit": request.limit,
        "files": task_set.files,
        "candidates": dict(task_set.candidates),
        "tasks": {kind: sum(task.kind == kind for task in plan.tasks) for kind in KINDS},
        "models": list(plan.models),
        "conditions": list(plan.conditions),
        "settings": EVAL_SETTINGS,
        "interrupted": interrupted,
        "summary": [summary.to_json() for summary in summarise(results)],
        "by_kind": [summary.to_json() for summary in summarise(results, by_kind=True)],
        "results": [result.to_json() for result in results],
    }
