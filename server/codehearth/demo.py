"""``codehearth demo``: the main job, end to end, in a real LSP session.

Copies the sample workspace to a fresh folder, starts ``codehearth serve`` as a subprocess
and drives it the way an editor does (:class:`codehearth.client.ScriptedClient`):

1. the workspace is indexed in the background (the ``$/progress`` reports are printed);
2. the style profile inferred from the code (``codehearth.style``);
3. an inline completion at a marked cursor (``textDocument/inlineCompletion``);
4. a quick fix for a syntax error through the refine loop (``textDocument/codeAction`` then
   ``codeAction/resolve``, and for a run slower than a resolve waits the command it hands
   over to, whose edit comes by ``workspace/applyEdit``), with its trace
   (``codehearth.refineTrace``) and the verified edit, or why none verified;
5. a chat question (``codehearth.chat``), which is kept in the workspace's memory;
6. the server is restarted and the memory searched (``codehearth.memory.search``) and asked
   about: what was said survived.

Models come from the user's settings: Ollama when it runs with the models pulled, else the
embedded llama.cpp model (``codehearth[embedded]``). Every line says which model answered.
Nothing here is scripted text: when a small model answers badly, that is what is printed.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types

from codehearth.client import ScriptedClient, insert_text

SAMPLE_FILE = "inventory.py"
CURSOR_LINE, CURSOR_COLUMN = 20, 5
"""1-based, like ``codehearth complete FILE:LINE:COL``: the empty body of ``restock``."""
BROKEN_LINE = "def cheapest(items: list[Item]) -> Item | None:"
CHAT_QUESTION = (
    "Please remember: in this project prices are in euros. "
    "In one sentence, what does total_value in inventory.py return?"
)
RECALL_QUESTION = "In which currency are the prices in this project?"
INDEX_TIMEOUT_SECONDS = 120.0
DIAGNOSTICS_TIMEOUT_SECONDS = 20.0
ACTION_TIMEOUT_SECONDS = 120.0
"""Longest wait for the quick fix (its time budget is ``actions.timeBudgetSeconds``)."""
MEMORY_TIMEOUT_SECONDS = 30.0
STYLE_TIMEOUT_SECONDS = 30.0
ANSWER_LINES = 8
"""Lines of a chat answer printed (a small base model may ramble on)."""
INDENT = "    "


def demo_workspace_dir() -> Path:
    """The sample workspace: inside the installed package, else the checkout's
    ``examples/workspace``."""
    installed = Path(__file__).parent / "demo_workspace"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / "examples" / "workspace"


def run_demo(
    workspace: Path | None = None,
    *,
    initialization_options: dict[str, Any] | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """Run the demo; returns the exit code (non-zero when a step could not run at all)."""
    source = workspace or demo_workspace_dir()
    if not source.is_dir():
        out(f"codehearth demo: no sample workspace at {source}")
        return 2
    with tempfile.TemporaryDirectory(prefix="codehearth-demo-") as scratch:
        root = Path(scratch) / "workspace"
        shutil.copytree(source, root)
        return asyncio.run(Demo(root, initialization_options or {}, out).run())


class Demo:
    """One demo run over a private copy of the sample workspace."""

    def __init__(self, root: Path, options: dict[str, Any], out: Callable[[str], None]) -> None:
        self.root = root
        self.options = {**options, "diagnostics": {"syntax": True}}
        self.out = out
        self.failures: list[str] = []
        self.sample = root / SAMPLE_FILE

    def say(self, text: str = "") -> None:
        self.out(text)

    def block(self, text: str) -> None:
        self.out(textwrap.indent(text.rstrip("\n") or "(empty)", INDENT))

    async def run(self) -> int:
        if not self.sample.is_file():
            self.say(f"codehearth demo: the sample workspace has no {SAMPLE_FILE}")
            return 2
        text = self.sample.read_text("utf-8")
        stderr = self.root.parent / "server.log"
        self.say(f"CodeHearth demo over a copy of the sample workspace: {self.root}")
        self.say(f"(server log: {stderr})\n")
        started = time.monotonic()
        async with ScriptedClient(
            root=self.root, initialization_options=self.options, stderr_path=stderr
        ) as session:
            await self.show_routes(session)
            await self.show_indexing(session)
            await self.show_style(session)
            uri = session.open(self.sample, text, "python")
            await self.show_completion(session, uri, text)
            await self.show_quick_fix(session, uri, text)
            await self.show_chat(session)
        self.say("\n== Restarting the server (a new process, same workspace) ==")
        async with ScriptedClient(
            root=self.root, initialization_options=self.options, stderr_path=stderr
        ) as session:
            await self.show_memory_survived(session)
        self.say(f"\nDemo finished in {time.monotonic() - started:.0f} s.")
        for failure in self.failures:
            self.say(f"NOT SHOWN: {failure}")
        return 1 if self.failures else 0

    async def show_routes(self, session: ScriptedClient) -> None:
        status = await session.status()
        routes = status.get("models", {}).get("routes", [])
        self.say("== Models by role (best first; the router skips what cannot answer) ==")
        for row in routes:
            where = "embedded llama.cpp" if row["kind"] == "embedded" else row["endpoint"]
            self.say(f"{INDENT}{row['role']:<10} #{row['rank']} {row['model']} at {where}")

    async def show_indexing(self, session: ScriptedClient) -> None:
        self.say("\n== 1. Indexing the workspace (tree-sitter, in the background) ==")
        deadline = time.monotonic() + INDEX_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if any(line.startswith("index:") for line in session.log_messages):
                break
            await asyncio.sleep(0.1)
        steps = []
        for value in session.progress:
            fields = value if isinstance(value, dict) else vars(value)
            percent = fields.get("percentage")
            message = fields.get("message") or fields.get("title") or ""
            steps.append(
                f"{fields.get('kind')} {'' if percent is None else f'{percent}% '}{message}".strip()
            )
        self.say(f"{INDENT}$/progress: " + (" -> ".join(steps) or "(none reported)"))
        for line in session.log_messages:
            if line.startswith("index:"):
                self.say(f"{INDENT}server: {line}")

    async def show_style(self, session: ScriptedClient) -> None:
        self.say("\n== 2. Your style, inferred from the code (codehearth.style) ==")
        deadline = time.monotonic() + STYLE_TIMEOUT_SECONDS
        while True:  # the profile is built in the background, after the index
            try:
                profile = await session.command("codehearth.style", {"languageId": "python"})
            except Exception as error:  # an old server or a failed extraction: say so
                self.failures.append(f"style profile ({error})")
                self.say(f"{INDENT}(not available: {error})")
                return
            if (profile or {}).get("ready") or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        attributes = _attributes(profile)
        if not attributes:
            self.say(f"{INDENT}(no attribute reached the confidence to be used yet)")
        for name, value, source in attributes:
            self.say(f"{INDENT}{name}: {value}  [{source}]")

    async def show_completion(self, session: ScriptedClient, uri: str, text: str) -> None:
        line, column = CURSOR_LINE - 1, CURSOR_COLUMN - 1
        self.say(f"\n== 3. Inline completion at {self.sample.name}:{line + 1}:{column + 1} ==")
        self.block("\n".join(text.splitlines()[max(0, line - 2) : line + 1]) + "  <- cursor")
        started = time.monotonic()
        items = await session.inline_completion(uri, line, column, invoked=True)
        elapsed = time.monotonic() - started
        answered = await self.answered(session, "completion")
        if items:
            self.say(f"answered by {answered} in {elapsed:.1f} s:")
            self.block(insert_text(items[0]))
        else:
            self.failures.append("inline completion (the model returned nothing usable)")
            self.say(
                f"no suggestion came back ({answered or 'no model answered'}); server messages:"
            )
            for message in session.messages[-3:]:
                self.say(f"{INDENT}{message}")

    async def show_quick_fix(self, session: ScriptedClient, uri: str, text: str) -> None:
        self.say("\n== 4. A quick fix through the refine loop (draft, verify, critique) ==")
        if BROKEN_LINE not in text:
            self.failures.append("quick fix (the sample has no line to break)")
            return
        broken = text.replace(BROKEN_LINE, BROKEN_LINE.rstrip(":"))
        line = broken.splitlines().index(BROKEN_LINE.rstrip(":"))
        session.replace_text(uri, broken)
        self.say(f"the user deletes the ':' at the end of line {line + 1}:")
        self.block(BROKEN_LINE.rstrip(":"))
        diagnostics = await session.wait_for_diagnostics(uri, DIAGNOSTICS_TIMEOUT_SECONDS)
        if not diagnostics:
            self.failures.append("quick fix (no syntax diagnostic was published)")
            self.say("no diagnostic was published; skipping the quick fix")
            return
        first = diagnostics[0]
        self.say(f"diagnostic: line {first.range.start.line + 1}: {first.message}")
        actions = await session.code_actions(uri, first.range, [first])
        fixes = [a for a in actions if a.kind and str(a.kind).startswith("quickfix")]
        if not fixes:
            self.failures.append("quick fix (the server offered none)")
            return
        started = time.monotonic()
        offered = await session.take_action(fixes[0], ACTION_TIMEOUT_SECONDS)
        elapsed = time.monotonic() - started
        by_model = await self.show_trace(session)
        answered = await self.answered(session, "edit") if by_model else ""
        edits = _text_edits(offered)
        if edits:
            who = answered if by_model else "no model (a one-token repair the parser pointed to)"
            self.say(f"verified edit offered ('{fixes[0].title}'), by {who}, in {elapsed:.1f} s:")
            lines = broken.split("\n")
            for edit in edits:
                start, end = edit.range.start, edit.range.end
                fixed = (
                    lines[start.line][: start.character]
                    + edit.new_text
                    + lines[end.line][end.character :]
                )
                self.say(f"{INDENT}lines {start.line + 1}-{end.line + 1} become:")
                self.block(fixed)
        else:
            self.say(
                f"no edit offered: none of the drafts by {answered or 'the model'} "
                f"verified in {elapsed:.1f} s (a wrong edit is never offered)"
            )
        session.replace_text(uri, text)

    async def show_trace(self, session: ScriptedClient) -> bool:
        """Print the last refine trace; True when a model was asked (a round after 0)."""
        try:
            traces = await session.command("codehearth.refineTrace", 1)
        except Exception as error:
            self.say(f"{INDENT}(no trace: {error})")
            return True
        asked = False
        for trace in _as_list(traces)[-1:]:
            self.say(f"refine trace: {trace.get('outcome') or trace.get('reason', '')}")
            for round_ in trace.get("rounds", []):
                checks = ", ".join(
                    f"{c.get('name')} {'ok' if c.get('ok') else 'FAILED'}"
                    for c in round_.get("checks", [])
                )
                number = round_.get("round")
                asked = asked or number != 0
                self.say(
                    f"{INDENT}round {number}{' (no model)' if number == 0 else ''}: "
                    f"{checks or 'no checks'} ({round_.get('ms', 0):.0f} ms)"
                )
        return asked

    async def show_chat(self, session: ScriptedClient) -> None:
        self.say("\n== 5. Chat, remembered in the workspace's memory ==")
        self.say(f"you: {CHAT_QUESTION}")
        answer = await session.command("codehearth.chat", {"question": CHAT_QUESTION})
        self.print_answer(answer)

    async def show_memory_survived(self, session: ScriptedClient) -> None:
        self.say("\n== 6. Memory after the restart ==")
        if not await self.memory_open(session):
            self.failures.append("memory after restart (the store did not open)")
            self.say("the memory store did not open; see the server log")
            return
        found = await session.command("codehearth.memory.search", {"query": "prices euros"})
        hits = [*found.get("recall", []), *found.get("archival", [])] if found else []
        if hits:
            self.say("codehearth.memory.search 'prices euros' finds what was said before:")
            for hit in hits[:3]:
                role = hit.get("role", "note")
                self.say(f"{INDENT}- [{role}] {_first_line(str(hit.get('text', hit)), 150)}")
        else:
            self.failures.append("memory after restart (the search found nothing)")
            self.say("the memory search found nothing")
        self.say(f"you: {RECALL_QUESTION}")
        answer = await session.command("codehearth.chat", {"question": RECALL_QUESTION})
        self.print_answer(answer)

    async def memory_open(self, session: ScriptedClient) -> bool:
        """Memory opens in the background after ``initialized``: wait for it."""
        deadline = time.monotonic() + MEMORY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            status = await session.status()
            if status.get("memory", {}).get("available"):
                return True
            await asyncio.sleep(0.2)
        return False

    def print_answer(self, answer: Any) -> None:
        if not answer or not answer.get("ok"):
            problem = (answer or {}).get("error", "no answer")
            self.failures.append(f"chat ({problem})")
            self.say(f"no answer: {problem}")
            return
        self.say(f"answer by {answer.get('answeredBy') or answer.get('model')}:")
        lines = str(answer.get("text", "")).strip().splitlines()
        self.block("\n".join(lines[:ANSWER_LINES]))
        if len(lines) > ANSWER_LINES:
            self.say(f"{INDENT}... ({len(lines) - ANSWER_LINES} more lines)")

    async def answered(self, session: ScriptedClient, role: str) -> str:
        status = await session.status()
        answered = status.get("models", {}).get("answered", {})
        return str(answered.get(role, ""))


def _first_line(text: str, width: int) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def _attributes(profile: Any) -> list[tuple[str, str, str]]:
    """(name, value, source and confidence) rows from the ``codehearth.style`` answer."""
    rows: list[tuple[str, str, str]] = []
    for language in (profile or {}).get("profiles", []):
        for attribute in language.get("attributes", []):
            source = f"{attribute.get('source')}, {attribute.get('evidence')} samples, "
            source += f"confidence {attribute.get('confidence', 0):.2f}"
            rows.append((str(attribute.get("name")), str(attribute.get("value")), source))
    return rows


def _as_list(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return list(value.get("traces", []))
    return list(value or [])


def _text_edits(edit: types.WorkspaceEdit | None) -> list[types.TextEdit]:
    if edit is None:
        return []
    found: list[types.TextEdit] = []
    for change in edit.document_changes or []:
        if isinstance(change, types.TextDocumentEdit):
            found.extend(e for e in change.edits if isinstance(e, types.TextEdit))
    for edits in (edit.changes or {}).values():
        found.extend(edits)
    return found
