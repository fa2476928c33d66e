"""Soak: a long editing session with random model faults; is every request answered
once, do cheap requests stay fast, does the server's memory stay flat?

One ``codehearth serve`` subprocess (driven by ``ScriptedClient``, as an editor would)
against the fake Ollama in this process. The session mixes, at random: typing with an
automatic inline completion per keystroke (the previous one cancelled, as VS Code does),
invoked completions, code actions and their resolution (the refine loop), chat
questions, memory notes, and cheap requests (``codehearth.status`` and code-action stubs,
whose latency is measured). Every 5-15 s a fault is injected: an Ollama error, a stream
cut or trickled, bad NDJSON, a hang, or Ollama stopped for a few seconds.

Prints one JSON object: requests sent, answered exactly once (and the ratio; answers to
cancelled requests count), unanswered (no answer within 30 s) and duplicate answers, p50
and p99 latency of the cheap requests, the server's RSS after warm-up and at the end,
and errors by kind.

Targets: 100% answered exactly once; RSS growth <= 20%.

    python bench/soak.py [--seconds 600] [--seed 7]
"""

import os
import sys

# Run as a script, this folder is sys.path[0], and this file would shadow the standard
# library's `typing`; put the repository root there instead.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


import argparse
import asyncio
import collections
import json
import logging
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from tests.fakes.fake_ollama import FakeOllama, Fault

from codehearth.client import ScriptedClient

ANSWER_DEADLINE = 30.0
RSS_TARGET_GROWTH = 0.20
WARM_UP_SECONDS = 5.0
SOURCE = (
    '''"""Order totals."""


def subtotal(items):
    return sum(item.price * item.quantity for item in items)


def total(items, tax_rate):
'''
    + "    "
)
TYPED = "amount = subtotal(items)\n    return round(amount * (1 + tax_rate), 2)\n"
MODEL_TEXT = "amount = subtotal(items)\n    return amount * (1 + tax_rate)\n"
FAULTS = [fault for fault in Fault if fault is not Fault.SLOW_HEADERS]
ERROR_NAMES = {
    -32800: "cancelled",
    -32801: "content modified",
    -32602: "invalid params",
    -32603: "internal error",
}
CHEAP_EVERY_KEYSTROKES = 8


class DuplicateAnswers(logging.Handler):
    """Counts pygls's 'response to unknown message id' warnings: an answer to a request
    that was already answered (or never sent)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "unknown message id" in record.getMessage():
            self.count += 1


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Session:
    """The editing session and what it observed."""

    def __init__(self, client: ScriptedClient, root: Path, fake: FakeOllama, seed: int) -> None:
        self.client = client
        self.root = root
        self.fake = fake
        self.rng = random.Random(seed)
        self.sent = 0
        self.answered = 0
        self.unanswered = 0
        self.errors: collections.Counter[str] = collections.Counter()
        self.faults: collections.Counter[str] = collections.Counter()
        self.cheap_seconds: list[float] = []
        self.pending: set[asyncio.Task[None]] = set()
        self.version_text: dict[str, str] = {}

    # -- requests -------------------------------------------------------------------

    def track(self, request: Awaitable[Any], kind: str, *, cheap: bool = False) -> None:
        """Send a request and count its answer (in the background)."""
        self.sent += 1
        task = asyncio.ensure_future(self._await(request, kind, cheap))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _await(self, request: Awaitable[Any], kind: str, cheap: bool) -> None:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(request, ANSWER_DEADLINE)
        except TimeoutError:
            self.unanswered += 1
            self.errors[f"{kind}: no answer"] += 1
            return
        except JsonRpcException as error:
            self.errors[f"{kind}: {ERROR_NAMES.get(error.code, error.code)}"] += 1
        except Exception as error:  # a client-side failure is an error of its own kind
            self.errors[f"{kind}: {type(error).__name__}"] += 1
        self.answered += 1
        if cheap:
            self.cheap_seconds.append(time.perf_counter() - started)

    # -- the user ---------------------------------------------------------------------

    def open_file(self, name: str) -> str:
        uri = self.client.open(self.root / name, SOURCE, "python")
        self.version_text[uri] = SOURCE
        return uri

    async def type_line(self, uri: str) -> None:
        """Type TYPED character by character; an automatic completion per keystroke, the
        previous one cancelled."""
        previous: str | None = None
        for number, char in enumerate(TYPED):
            text = self.version_text[uri] + char
            self.version_text[uri] = text
            self.client.replace_text(uri, text)
            if previous is not None:
                self.client.cancel(previous)
            lines = text.split("\n")
            previous, items = self.client.request_inline_completion(
                uri, len(lines) - 1, len(lines[-1]), invoked=False
            )
            self.track(items, "inline (automatic)")
            if number % CHEAP_EVERY_KEYSTROKES == 0:
                self.cheap_requests(uri)
            await asyncio.sleep(self.rng.uniform(0.03, 0.12))
        self.version_text[uri] = SOURCE
        self.client.replace_text(uri, SOURCE)

    def invoke_completion(self, uri: str) -> None:
        lines = self.version_text[uri].split("\n")
        self.track(
            self.client.inline_completion(uri, len(lines) - 1, len(lines[-1])), "inline (invoked)"
        )

    def cheap_requests(self, uri: str) -> None:
        self.track(self.client.status(), "status", cheap=True)
        self.track(self.client.code_actions(uri, selection(3, 5), []), "codeAction", cheap=True)

    async def code_action(self, uri: str) -> None:
        self.sent += 1
        try:
            actions = await asyncio.wait_for(
                self.client.code_actions(uri, selection(3, 5), []), ANSWER_DEADLINE
            )
        except TimeoutError:
            self.unanswered += 1
            self.errors["codeAction: no answer"] += 1
            return
        self.answered += 1
        refactors = [a for a in actions if a.kind == "refactor.rewrite.codehearth"]
        if refactors:
            self.track(self.client.resolve(self.rng.choice(refactors)), "codeAction/resolve")

    def chat(self, uri: str) -> None:
        question = self.rng.choice(
            ["What does subtotal return?", "How is tax applied?", "Explain total()."]
        )
        self.track(
            self.client.command(
                "codehearth.chat", {"question": question, "uri": uri, "range": selection(3, 5)}
            ),
            "chat",
        )

    def remember(self) -> None:
        note = f"Totals are rounded to cents (note {self.rng.randrange(10**6)})"
        self.track(self.client.command("codehearth.memory.add", {"text": note}), "memory.add")

    async def fault(self) -> None:
        if self.rng.random() < 0.25:
            self.faults["ollama stopped"] += 1
            self.fake.stop()
            await asyncio.sleep(self.rng.uniform(1, 4))
            self.fake.start()
            return
        fault = self.rng.choice(FAULTS)
        self.faults[fault.value] += 1
        self.fake.inject(fault, times=self.rng.randint(1, 3), delay=0.2)


def selection(start: int, end: int) -> types.Range:
    return types.Range(start=types.Position(start, 0), end=types.Position(end, 0))


def percentile(samples: list[float], cut: int) -> float:
    if len(samples) < 2:
        return round(samples[0] * 1000, 3) if samples else 0.0
    return round(statistics.quantiles(samples, n=100, method="inclusive")[cut - 1] * 1000, 3)


async def soak(seconds: float, seed: int) -> dict[str, Any]:
    duplicates = DuplicateAnswers()
    logging.getLogger("pygls").addHandler(duplicates)
    with tempfile.TemporaryDirectory() as folder, FakeOllama() as fake:
        root = Path(folder)
        fake.set_text(MODEL_TEXT)
        fake.token_delay = 0.01
        options = {
            "ollama": {"host": fake.url, "warmUp": False},
            "models": {"embedded": "off"},
            "completion": {"deadlineSeconds": 3, "stallSeconds": 1.5},
            "actions": {"maxRounds": 2, "timeBudgetSeconds": 10},
        }
        command = [sys.executable, "-m", "codehearth", "serve", "--log-level", "WARNING"]
        async with ScriptedClient(
            root=root, initialization_options=options, server_command=command
        ) as client:
            server = client.client._server
            assert server is not None
            session = Session(client, root, fake, seed)
            uris = [session.open_file(f"orders_{n}.py") for n in range(3)]
            warm_until = time.monotonic() + WARM_UP_SECONDS
            while time.monotonic() < warm_until:
                session.cheap_requests(uris[0])
                session.invoke_completion(uris[0])
                await asyncio.sleep(0.2)
            rss_start = rss_kib(server.pid)
            session.cheap_seconds.clear()
            started = time.monotonic()
            next_fault = started + session.rng.uniform(5, 15)
            while time.monotonic() - started < seconds:
                uri = session.rng.choice(uris)
                roll = session.rng.random()
                if roll < 0.35:
                    await session.type_line(uri)
                elif roll < 0.55:
                    session.invoke_completion(uri)
                elif roll < 0.70:
                    await session.code_action(uri)
                elif roll < 0.80:
                    session.chat(uri)
                elif roll < 0.85:
                    session.remember()
                session.cheap_requests(uri)
                if time.monotonic() >= next_fault:
                    await session.fault()
                    next_fault = time.monotonic() + session.rng.uniform(5, 15)
                await asyncio.sleep(session.rng.uniform(0.05, 0.3))
            fake.reset()  # no fault left pending: let the last requests finish
            if not fake.running:
                fake.start()
            await asyncio.gather(*session.pending, return_exceptions=True)
            elapsed = time.monotonic() - started
            rss_end = rss_kib(server.pid)
    answered_once = session.answered - duplicates.count
    growth = (rss_end - rss_start) / rss_start if rss_start else 0.0
    return {
        "benchmark": "soak",
        "seconds": round(elapsed, 1),
        "seed": seed,
        "requests_sent": session.sent,
        "answered_exactly_once": answered_once,
        "answered_exactly_once_ratio": round(answered_once / max(1, session.sent), 5),
        "unanswered": session.unanswered,
        "duplicate_answers": duplicates.count,
        "cheap_requests": len(session.cheap_seconds),
        "cheap_p50_ms": percentile(session.cheap_seconds, 50),
        "cheap_p99_ms": percentile(session.cheap_seconds, 99),
        "rss_start_kib": rss_start,
        "rss_end_kib": rss_end,
        "rss_growth_ratio": round(growth, 4),
        "errors_by_kind": dict(session.errors.most_common()),
        "faults_injected": dict(session.faults.most_common()),
        "meets_targets": answered_once == session.sent and growth <= RSS_TARGET_GROWTH,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the session")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the session")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(soak(args.seconds, args.seed))))


if __name__ == "__main__":
    main()
