"""What each code action did, round by round, kept on disk for ``codehearth refine-trace``.

Every resolve makes one :class:`ActionTrace`: the action, where it was asked for, the
model, the outcome, and per refine round the checks the verifier ran (ok or the failure's
detail), the prompt and answer tokens (the backend's counts when it reported them, else
estimated at four characters a token) and the milliseconds the round took. Prompts and
answers themselves are never stored.

:class:`TraceLog` keeps the last :data:`KEEP_TRACES` as JSON lines in the user cache
directory (``$XDG_CACHE_HOME/codehearth/refine-traces.jsonl``). It is best effort: a
corrupt line is skipped, and a file that cannot be read or written is logged (once) while
the action goes on. Two servers writing at the same moment may lose one trace (each write
replaces the file atomically). No pygls here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from codehearth.index.store import default_cache_root
from codehearth.refine.loop import RoundTrace

log = logging.getLogger(__name__)

TRACE_FILE_NAME = "refine-traces.jsonl"
KEEP_TRACES = 50
"""How many traces the log keeps (the oldest go first)."""


@attrs.frozen
class CheckRecord:
    """One verifier check of a round; ``detail`` says why it failed (or was skipped)."""

    name: str
    ok: bool
    detail: str = ""


@attrs.frozen
class RoundRecord:
    """One draft/verify round: its checks, its tokens and how long it took."""

    round: int
    ms: float
    prompt_tokens: int
    prompt_tokens_estimated: bool
    answer_tokens: int
    answer_tokens_estimated: bool
    checks: tuple[CheckRecord, ...]

    @classmethod
    def of(cls, trace: RoundTrace) -> RoundRecord:
        return cls(
            round=trace.round,
            ms=round(trace.ms, 1),
            prompt_tokens=trace.prompt_tokens,
            prompt_tokens_estimated=trace.reported_prompt_tokens is None,
            answer_tokens=trace.answer_tokens,
            answer_tokens_estimated=trace.reported_answer_tokens is None,
            checks=tuple(CheckRecord(c.name, c.ok, c.detail) for c in trace.checks),
        )


@attrs.frozen
class ActionTrace:
    """One resolved action. ``line`` is 1-based; ``outcome`` is the reason the action
    ended (``verified``, ``max-rounds``, ``protected-path``, ...); ``offered`` tells
    whether the user got an edit or an answer."""

    at: str
    action: str
    file: str
    line: int
    model: str
    outcome: str
    offered: bool
    rounds: tuple[RoundRecord, ...]

    @property
    def total_ms(self) -> float:
        return round(sum(r.ms for r in self.rounds), 1)

    @classmethod
    def of_rounds(
        cls,
        *,
        action: str,
        file: str,
        line: int,
        model: str,
        outcome: str,
        offered: bool,
        rounds: Sequence[RoundTrace],
    ) -> ActionTrace:
        """A trace stamped now, from the refine loop's round traces."""
        return cls(
            at=datetime.now(UTC).isoformat(timespec="seconds"),
            action=action,
            file=file,
            line=line,
            model=model,
            outcome=outcome,
            offered=offered,
            rounds=tuple(RoundRecord.of(r) for r in rounds),
        )

    def to_json(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["total_ms"] = self.total_ms
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ActionTrace:
        """Raise ``ValueError`` when ``data`` is not a trace this module wrote."""
        try:
            rounds = tuple(
                RoundRecord(
                    round=_typed(r["round"], int),
                    ms=float(_typed(r["ms"], int | float)),
                    prompt_tokens=_typed(r["prompt_tokens"], int),
                    prompt_tokens_estimated=_typed(r["prompt_tokens_estimated"], bool),
                    answer_tokens=_typed(r["answer_tokens"], int),
                    answer_tokens_estimated=_typed(r["answer_tokens_estimated"], bool),
                    checks=tuple(
                        CheckRecord(
                            _typed(c["name"], str), _typed(c["ok"], bool), _typed(c["detail"], str)
                        )
                        for c in r["checks"]
                    ),
                )
                for r in data["rounds"]
            )
            return cls(
                at=_typed(data["at"], str),
                action=_typed(data["action"], str),
                file=_typed(data["file"], str),
                line=_typed(data["line"], int),
                model=_typed(data["model"], str),
                outcome=_typed(data["outcome"], str),
                offered=_typed(data["offered"], bool),
                rounds=rounds,
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a refine trace: {error!r}") from error


def _typed(value: Any, expected: Any) -> Any:
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise TypeError(f"{value!r} is not {expected}")
    return value


class TraceLog:
    """The last ``keep`` traces in one JSON-lines file; every method is best effort."""

    def __init__(self, path: Path, keep: int = KEEP_TRACES) -> None:
        if keep < 1:
            raise ValueError("a trace log keeps at least one trace")
        self.path = path
        self.keep = keep
        self._warned: set[str] = set()

    @classmethod
    def default(cls) -> TraceLog:
        """The log in the user cache directory (the same rule as the index store)."""
        return cls(default_cache_root() / TRACE_FILE_NAME)

    def _warn(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning("%s", message)

    def _valid_lines(self) -> list[str]:
        """The file's lines that hold a trace, oldest first; bad lines are skipped."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as error:
            self._warn("read", f"refine traces at {self.path} cannot be read: {error}")
            return []
        lines: list[str] = []
        skipped = 0
        for line in raw.splitlines():
            try:
                ActionTrace.from_json(json.loads(line.decode("utf-8")))
            except ValueError:  # UnicodeDecodeError and JSONDecodeError included
                skipped += line.strip() != b""
                continue
            lines.append(line.decode("utf-8"))
        if skipped:
            self._warn("corrupt", f"skipped {skipped} corrupt line(s) in {self.path}")
        return lines

    def append(self, trace: ActionTrace) -> bool:
        """Add a trace, dropping the oldest beyond ``keep``; False when it could not be
        written (logged once)."""
        lines = self._valid_lines()
        lines = [*lines[max(0, len(lines) - (self.keep - 1)) :], json.dumps(trace.to_json())]
        return self._write(lines)

    def _write(self, lines: list[str]) -> bool:
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
            os.replace(temporary, self.path)
        except OSError as error:
            self._warn("write", f"refine traces cannot be written to {self.path}: {error}")
            with contextlib.suppress(OSError):
                temporary.unlink()
            return False
        return True

    def add_check(self, at: str, file: str, check: CheckRecord) -> bool:
        """Add a check found after the fact (see refine.recheck) to the last round of the
        trace stamped ``at`` for ``file``; False when that trace is gone or not written."""
        lines = self._valid_lines()
        for index in range(len(lines) - 1, -1, -1):
            trace = ActionTrace.from_json(json.loads(lines[index]))
            if trace.at == at and trace.file == file and trace.rounds:
                last = trace.rounds[-1]
                rounds = (*trace.rounds[:-1], attrs.evolve(last, checks=(*last.checks, check)))
                lines[index] = json.dumps(attrs.evolve(trace, rounds=rounds).to_json())
                return self._write(lines)
        return False

    def last(self, count: int | None = None) -> list[ActionTrace]:
        """The newest ``count`` traces (all kept ones when None), oldest first."""
        traces = [ActionTrace.from_json(json.loads(line)) for line in self._valid_lines()]
        return traces if count is None else traces[max(0, len(traces) - count) :]


def render(trace: ActionTrace) -> str:
    """A trace as a few lines of text: the action, its outcome, then each round with its
    checks (``~`` marks estimated token counts)."""

    def tokens(count: int, estimated: bool) -> str:
        return f"{'~' if estimated else ''}{count}"

    lines = [
        f"{trace.at}  {trace.action}  {trace.file}:{trace.line}  ({trace.model})",
        f"  {trace.outcome}, {'offered' if trace.offered else 'nothing offered'}; "
        f"{len(trace.rounds)} round(s), {trace.total_ms:.0f} ms",
    ]
    for record in trace.rounds:
        lines.append(
            f"  round {record.round}: {record.ms:.0f} ms, prompt "
            f"{tokens(record.prompt_tokens, record.prompt_tokens_estimated)} tokens, answer "
            f"{tokens(record.answer_tokens, record.answer_tokens_estimated)} tokens"
        )
        for check in record.checks:
            status = "ok" if check.ok else "FAILED"
            lines.append(
                f"    {check.name}: {status}{f' ({check.detail})' if check.detail else ''}"
            )
    return "\n".join(lines)
