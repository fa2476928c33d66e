"""Results of ``codehearth eval``: one record per task, condition and model, kept as JSON
lines (``--results FILE``: a rerun skips what is there), summed up per model and condition
as a text table or JSON.

Conditions: ``none`` (no workspace context in the prompt), ``codehearth`` (the context the
server finds, as in the editor) and ``oracle`` (the definitions the line needs, given).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from codehearth.evaluation import metrics
from codehearth.evaluation.tasks import KINDS, CompletionTask

CONDITIONS = ("none", "codehearth", "oracle")
DEFAULT_MODEL = "default"
"""The model label when ``--model`` is not given: whatever the server routes to."""


@attrs.frozen
class TaskResult:
    """What one model said for one task under one condition, and its scores."""

    task_id: str
    kind: str
    condition: str
    model: str
    expected: str
    suggestion: str
    latency_ms: float
    answered_by: str
    exact: bool
    edit_similarity: float
    identifier_f1: float
    identifier_exact: bool
    error: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.task_id, self.condition, self.model)

    @property
    def empty(self) -> bool:
        return not metrics.first_line(self.suggestion).strip()

    @classmethod
    def scored(
        cls,
        task: CompletionTask,
        condition: str,
        model: str,
        suggestion: str,
        latency_ms: float,
        answered_by: str,
        error: str = "",
    ) -> TaskResult:
        return cls(
            task_id=task.id,
            kind=task.kind,
            condition=condition,
            model=model,
            expected=task.expected,
            suggestion=suggestion,
            latency_ms=round(latency_ms, 1),
            answered_by=answered_by,
            exact=metrics.exact_match(suggestion, task.expected),
            edit_similarity=round(metrics.edit_similarity(suggestion, task.expected), 4),
            identifier_f1=round(
                metrics.identifier_f1(suggestion, task.expected, task.language_id), 4
            ),
            identifier_exact=metrics.identifier_exact(suggestion, task.expected, task.language_id),
            error=error,
        )

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> TaskResult:
        names = {field.name for field in attrs.fields(cls)}
        return cls(**{key: item for key, item in value.items() if key in names})


class ResultsFile:
    """``--results FILE``: a JSON line appended per finished result."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[TaskResult]:
        """The results recorded so far (a line cut short by an interruption is skipped)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        found: list[TaskResult] = []
        for line in text.splitlines():
            try:
                found.append(TaskResult.from_json(json.loads(line)))
            except (ValueError, TypeError):
                continue
        return found

    def append(self, result: TaskResult) -> None:
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(result.to_json()) + "\n")


def done_results(
    recorded: Iterable[TaskResult], tasks: Sequence[CompletionTask]
) -> dict[tuple[str, str, str], TaskResult]:
    """The recorded results of these tasks (a task whose file changed since is not done:
    its expected text differs), the last one for each key."""
    expected = {task.id: task.expected for task in tasks}
    return {
        result.key: result for result in recorded if expected.get(result.task_id) == result.expected
    }


@attrs.frozen
class Summary:
    """The scores of one model under one condition (of one kind of task, or all)."""

    model: str
    condition: str
    kind: str
    tasks: int
    exact_match: float
    edit_similarity: float
    identifier_f1: float
    identifier_exact: float
    empty: float
    p50_ms: float | None
    p95_ms: float | None
    answered_by: str

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def summarise(results: Iterable[TaskResult], *, by_kind: bool = False) -> list[Summary]:
    """One summary per model and condition (and kind, with ``by_kind``), in the order
    models were first seen, then :data:`CONDITIONS` and :data:`KINDS` order."""
    groups: dict[tuple[str, str, str], list[TaskResult]] = defaultdict(list)
    models: list[str] = []
    for result in results:
        if result.model not in models:
            models.append(result.model)
        groups[(result.model, result.condition, result.kind if by_kind else "all")].append(result)
    kinds = KINDS if by_kind else ("all",)
    summaries = []
    for model in models:
        for condition in CONDITIONS:
            for kind in kinds:
                group = groups.get((model, condition, kind))
                if group:
                    summaries.append(_summary(model, condition, kind, group))
    return summaries


def _summary(model: str, condition: str, kind: str, group: list[TaskResult]) -> Summary:
    latencies = [result.latency_ms for result in group if not result.error]
    answered = Counter(result.answered_by for result in group if result.answered_by)
    return Summary(
        model=model,
        condition=condition,
        kind=kind,
        tasks=len(group),
        exact_match=statistics.fmean(result.exact for result in group),
        edit_similarity=statistics.fmean(result.edit_similarity for result in group),
        identifier_f1=statistics.fmean(result.identifier_f1 for result in group),
        identifier_exact=statistics.fmean(result.identifier_exact for result in group),
        empty=statistics.fmean(result.empty for result in group),
        p50_ms=metrics.percentile(latencies, 0.5),
        p95_ms=metrics.percentile(latencies, 0.95),
        answered_by=", ".join(name for name, _ in answered.most_common()),
    )


HEADINGS = (
    "model",
    "condition",
    "tasks",
    "exact",
    "edit sim",
    "ident F1",
    "ident exact",
    "empty",
    "p50 ms",
    "p95 ms",
    "answered by",
)


def render_table(summaries: Sequence[Summary], *, with_kind: bool = False) -> str:
    """The summaries as an aligned text table (percentages and 0..1 similarities)."""
    headings = list(HEADINGS)
    if with_kind:
        headings.insert(2, "kind")
    rows = []
    for summary in summaries:
        row = [
            summary.model,
            summary.condition,
            str(summary.tasks),
            f"{summary.exact_match:.1%}",
            f"{summary.edit_similarity:.3f}",
            f"{summary.identifier_f1:.3f}",
            f"{summary.identifier_exact:.1%}",
            f"{summary.empty:.1%}",
            _milliseconds(summary.p50_ms),
            _milliseconds(summary.p95_ms),
            summary.answered_by or "-",
        ]
        if with_kind:
            row.insert(2, summary.kind)
        rows.append(row)
    widths = [max(len(row[i]) for row in [headings, *rows]) for i in range(len(headings))]
    numeric = {i for i, heading in enumerate(headings) if heading not in _TEXT_COLUMNS}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headings), rule, *(line(row) for row in rows)]) + "\n"


_TEXT_COLUMNS = frozenset({"model", "condition", "kind", "answered by"})


def _milliseconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"
