"""Running eval tasks through the real server: ``codehearth serve`` on stdio, driven by
:class:`~codehearth.client.ScriptedClient` as an editor drives it (this module is a
client, like the CLI; the server's packages know nothing of it).

For each model, one server per set of settings: ``none`` runs with
``index.contextTokens = 0`` (the index is built, so the style is the same, but no
workspace context goes into a prompt); ``codehearth`` and ``oracle`` share a server with
the user's settings. Every server gets the user's ``initializationOptions`` (over
:data:`EVAL_DEFAULTS`: a completion deadline long enough to measure slow models) plus
:data:`EVAL_SETTINGS` (greedy decoding, so the same prompt gives the same answer; one
item; single-line answers; prompt sizes that do not depend on timing) and
``completion.model`` for ``--model``. The workspace's ``codehearth.toml`` still wins over
all of these, as in the editor: a model it sets there is reported and that model skipped.

Once the index and style are built, one unmeasured completion loads the model; then each
task's file is opened with the line cut at the cursor (the rest of the line removed),
completed, and closed again (so no cached answer or context chosen for another cursor
is reused). ``none`` and ``codehearth`` ask ``textDocument/inlineCompletion`` (invoked)
at the cursor; ``oracle`` runs ``codehearth.evalComplete`` with the definitions the task
needs. Latency is timed at the client, request to answer. As in an editor, the server
re-indexes a file it is sent open, so later tasks see that file with one line cut short.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from codehearth.client import ScriptedClient, insert_text
from codehearth.evaluation.report import DEFAULT_MODEL, TaskResult
from codehearth.evaluation.tasks import CompletionTask
from codehearth.features.evaluation import EVAL_COMPLETE_COMMAND
from codehearth.settings import deep_merge, read_toml_settings

EVAL_SETTINGS: dict[str, Any] = {
    "completion": {
        "temperature": 0,
        "invokedItems": 1,
        "multiline": False,
        "promptMilliseconds": 0,
    }
}
"""Settings every eval server gets over the user's own (see the module docstring)."""

EVAL_DEFAULTS: dict[str, Any] = {"completion": {"deadlineSeconds": 120}}
"""Defaults under the user's settings: a slow answer is measured, not cut off at the
editor's deadline (the latency columns show what waiting for it costs)."""

NO_CONTEXT: dict[str, Any] = {"index": {"contextTokens": 0}}
STATUS_POLL_SECONDS = 0.2
NO_INDEX_SECONDS = 5.0
"""How long a server may report no index at all before it is taken as switched off."""


@attrs.frozen
class RunPlan:
    """What to run: tasks of the repository at ``root``, per model and condition."""

    root: Path
    tasks: tuple[CompletionTask, ...]
    models: tuple[str, ...] = (DEFAULT_MODEL,)
    conditions: tuple[str, ...] = ("none", "codehearth", "oracle")
    options: Mapping[str, Any] = attrs.field(factory=dict)
    request_seconds: float = 300.0
    ready_seconds: float = 600.0
    server_log: Path | None = None


def server_options(options: Mapping[str, Any], model: str, condition: str) -> dict[str, Any]:
    """The initializationOptions of the server that runs ``condition`` for ``model``."""
    chosen = {"completion": {"model": model}} if model != DEFAULT_MODEL else {}
    no_context = NO_CONTEXT if condition == "none" else {}
    return deep_merge(EVAL_DEFAULTS, options, EVAL_SETTINGS, chosen, no_context)


def overridden_by_workspace(root: Path) -> list[str]:
    """The eval's own settings (and ``index.contextTokens``, which ``none`` sets to 0)
    that the workspace's ``codehearth.toml`` sets, and so overrides, as dotted names."""
    toml_values, _ = read_toml_settings(root)
    fixed = deep_merge(EVAL_SETTINGS, NO_CONTEXT)
    return [
        f"{section}.{name}"
        for section, names in fixed.items()
        for name in names
        if isinstance(toml_values.get(section), dict) and name in toml_values[section]
    ]


def pending_work(
    plan: RunPlan, done: Mapping[tuple[str, str, str], TaskResult]
) -> list[tuple[str, str, list[CompletionTask]]]:
    """(model, condition, tasks not done yet), in the order they run."""
    work = []
    for model in plan.models:
        for condition in plan.conditions:
            tasks = [task for task in plan.tasks if (task.id, condition, model) not in done]
            if tasks:
                work.append((model, condition, tasks))
    return work


class ModelNotUsed(Exception):
    """The server would not run the model asked for (``codehearth.toml`` sets another)."""


async def run_plan(
    plan: RunPlan,
    done: Mapping[tuple[str, str, str], TaskResult],
    on_result: Callable[[TaskResult], None],
    on_note: Callable[[str], None],
) -> None:
    """Run every task not in ``done``; ``on_result`` gets each result as it is finished,
    ``on_note`` what the user should know (a model skipped, a file changed)."""
    work = pending_work(plan, done)
    sources: dict[str, str | None] = {}
    for model in plan.models:
        groups: dict[str, list[tuple[str, list[CompletionTask]]]] = {}
        for work_model, condition, tasks in work:
            if work_model == model:
                key = repr(server_options(plan.options, model, condition))
                groups.setdefault(key, []).append((condition, tasks))
        for conditions in groups.values():
            try:
                await _run_server(plan, model, conditions, sources, on_result, on_note)
            except ModelNotUsed as reason:
                on_note(str(reason))
                break


async def _run_server(
    plan: RunPlan,
    model: str,
    conditions: Sequence[tuple[str, list[CompletionTask]]],
    sources: dict[str, str | None],
    on_result: Callable[[TaskResult], None],
    on_note: Callable[[str], None],
) -> None:
    options = server_options(plan.options, model, conditions[0][0])
    async with ScriptedClient(
        root=plan.root,
        initialization_options=options,
        stderr_path=plan.server_log,
    ) as session:
        status = await _wait_until_ready(session, plan.ready_seconds, on_note)
        configured = status.get("completion", {}).get("model")
        if model != DEFAULT_MODEL and configured != model:
            raise ModelNotUsed(
                f"{model}: skipped, the workspace's codehearth.toml sets completion.model = "
                f"{configured!r}, which wins over --model (move it aside to compare models)"
            )
        first = _first_runnable(plan.root, conditions[0][1], sources)
        if first is not None:
            await _complete(session, plan, first[0], first[1], "none", request_seconds=None)
        for condition, tasks in conditions:
            for task in tasks:
                text = _document(plan.root, task, sources)
                if text is None:
                    on_note(f"{task.id}: skipped, the file changed since the tasks were built")
                    continue
                suggestion, latency_ms, answered_by, error = await _complete(
                    session, plan, task, text, condition, request_seconds=plan.request_seconds
                )
                on_result(
                    TaskResult.scored(
                        task, condition, model, suggestion, latency_ms, answered_by, error
                    )
                )


async def _wait_until_ready(
    session: ScriptedClient, seconds: float, on_note: Callable[[str], None]
) -> dict[str, Any]:
    """The server's status once its index and style are built (or ``seconds`` passed, or
    it has reported no index for :data:`NO_INDEX_SECONDS`: the index is off)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        status = dict(await session.status())
        index = status.get("index") or {}
        if status.get("ready") and index.get("ready") and status.get("styleReady"):
            return status
        waited = loop.time() - started
        if status.get("ready") and "lexicalReady" not in index and waited > NO_INDEX_SECONDS:
            return status
        if waited > seconds:
            on_note(f"the index was not built in {seconds:.0f} s; going on without waiting")
            return status
        await asyncio.sleep(STATUS_POLL_SECONDS)


def _document(root: Path, task: CompletionTask, sources: dict[str, str | None]) -> str | None:
    if task.path not in sources:
        try:
            sources[task.path] = (root / task.path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            sources[task.path] = None
    source = sources[task.path]
    return task.document(source) if source is not None else None


def _first_runnable(
    root: Path, tasks: Sequence[CompletionTask], sources: dict[str, str | None]
) -> tuple[CompletionTask, str] | None:
    for task in tasks:
        text = _document(root, task, sources)
        if text is not None:
            return task, text
    return None


async def _complete(
    session: ScriptedClient,
    plan: RunPlan,
    task: CompletionTask,
    text: str,
    condition: str,
    *,
    request_seconds: float | None,
) -> tuple[str, float, str, str]:
    """(suggestion, ms from request to answer, the model that answered, error) for one
    task: its document opened, completed at the cursor, closed."""
    path = plan.root / task.path
    line_text = text.split("\n")[task.line]
    character = len(line_text[: task.column].encode("utf-16-le")) // 2
    uri = session.open(path, text, task.language_id)
    suggestion, answered_by, error = "", "", ""
    started = time.perf_counter()
    try:
        if condition == "oracle":
            arguments = {
                "uri": uri,
                "line": task.line,
                "character": character,
                "context": [
                    {"path": definition.path, "text": definition.text}
                    for definition in task.definitions
                ],
            }
            answer = dict(
                await asyncio.wait_for(
                    session.command(EVAL_COMPLETE_COMMAND, arguments), request_seconds
                )
            )
            items = list(answer.get("items") or [])
            suggestion = str(items[0]) if items else ""
            answered_by = str(answer.get("answeredBy") or "")
            error = "" if answer.get("ok") else str(answer.get("error") or "failed")
        else:
            found = await asyncio.wait_for(
                session.inline_completion(uri, task.line, character, invoked=True),
                request_seconds,
            )
            suggestion = insert_text(found[0]) if found else ""
    except TimeoutError:
        error = f"no answer in {request_seconds:.0f} s"
    except Exception as failure:  # an error answer (JSON-RPC): that task fails, not the run
        error = f"{type(failure).__name__}: {failure}"
    finally:
        latency_ms = (time.perf_counter() - started) * 1000
        session.close(uri)
    if condition != "oracle":
        answered_by = str((await session.status()).get("completion", {}).get("answeredBy") or "")
    return suggestion, latency_ms, answered_by, error
