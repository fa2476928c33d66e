"""Long-conversation memory: facts planted early are still found 500+ turns later.

A scripted conversation runs through :class:`~codehearth.chat.pipeline.ChatSession` against
the fake Ollama (``llama3.2:3b``, native tool calling) with a real backend and a real
MemoryStore in a temporary folder:

- 50 turns each ask the assistant to remember a distinct fact; the scripted model stores it
  with an ``archival_memory_insert`` tool call;
- 460 filler turns push those turns out of the context window (summaries are made as the
  window fills);
- 50 turns ask for each fact; the scripted model calls ``archival_memory_search`` with the
  question.

Then the same with the real built-in instruction-tuned model (SmolLM2-135M-Instruct, when
``codehearth[embedded]`` is installed), as the server runs it for a model that small: no
tools, memory searched before it answers. :data:`BUILT_IN_FACTS` facts are planted in one
conversation, the store is closed and opened again (a restart), and each is asked for in a
conversation of its own: ``built_in_model.answered_share`` is the share of answers that hold the
fact's codeword, printed as the model gives them (``answers``).

Printed as one JSON object: ``fact_recall`` is the fraction of facts whose text appears in a
prompt sent to the model while it was asked for (from the fake's recorded request bodies;
target >= 0.95), ``max_prompt_tokens`` the largest prompt sent (estimated like the window
does, tool schemas included) against ``prompt_limit`` and ``num_ctx`` (it must never exceed
them), the number of turns and model requests, summaries made, and seconds.
"""

import os
import sys

sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import asyncio
import json
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.fakes.fake_ollama import FakeOllama

from bench import memory_search
from codehearth.chat.pipeline import SUMMARY_INSTRUCTIONS, ChatSession
from codehearth.chat.window import prompt_limit, prompt_tokens
from codehearth.memory.store import MemoryStore
from codehearth.models.ollama_backend import OllamaBackend
from codehearth.prompts.budget import EstimatingCounter

MODEL = "llama3.2:3b"
NUM_CTX = 4096
REPLY_TOKENS = 512
FACTS = 50
FILLER_TURNS = 460
HEADS = ("kel", "mor", "tav", "zin", "ruv", "pad", "gol", "sef")
TAILS = ("ana", "ido", "ux", "ora", "ent", "ilk", "oth")
NAMES = [head + tail for head in HEADS for tail in TAILS][:FACTS]


def fact(index: int) -> str:
    return f"The release codeword of project {NAMES[index]} is {index * 7919 % 100_003:05d}."


def question(index: int) -> str:
    return f"What is the release codeword of project {NAMES[index]}?"


def call(name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    return {"tool_calls": [{"function": {"name": name, "arguments": dict(arguments)}}]}


def respond(body: Mapping[str, Any]) -> str | dict[str, Any]:
    """The scripted model: summaries, tool calls for facts and questions, chatter."""
    messages = body["messages"]
    if messages[0]["content"] == SUMMARY_INSTRUCTIONS:
        return "The user and the assistant discussed many numbered topics."
    user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    asked, results = messages[user]["content"], messages[user + 1 :]
    tool_results = [m["content"] for m in results if m["role"] == "tool"]
    if asked.startswith("Remember: "):
        if tool_results:
            return "Stored in archival memory."
        return call("archival_memory_insert", {"content": asked.removeprefix("Remember: ")})
    if asked.startswith("What is the release codeword"):
        if not tool_results:
            return call("archival_memory_search", {"query": asked})
        name = asked.split("project ")[1].rstrip("?")
        notes = [n["text"] for n in json.loads(tool_results[-1]) if name in n["text"]]
        return notes[0] if notes else "I do not know."
    return f"Sure, here is a thought about {asked[:40]}: " + "details " * 30


async def run(folder: Path, fake: FakeOllama) -> dict[str, Any]:
    counter = EstimatingCounter()
    backend = OllamaBackend(fake.url)
    found = summarised = turns = 0
    started = time.perf_counter()
    try:
        with MemoryStore(folder) as store:
            chat = ChatSession(
                store,
                backend,
                model=MODEL,
                num_ctx=NUM_CTX,
                conversation_id="bench",
                counter=counter,
                supports_tools=True,
                reply_tokens=REPLY_TOKENS,
            )
            script = [f"Remember: {fact(i)}" for i in range(FACTS)]
            script += [
                f"Topic {i}: how should module {i} handle retries?" for i in range(FILLER_TURNS)
            ]
            for text in script:
                summarised += (await chat.ask(text)).summarised
                turns += 1
            for index in range(FACTS):
                before = len(fake.generations())
                summarised += (await chat.ask(question(index))).summarised
                turns += 1
                sent = [r.body for r in fake.generations()[before:] if r.body is not None]
                found += any(fact(index) in json.dumps(b["messages"]) for b in sent)
    finally:
        await backend.aclose()
    seconds = time.perf_counter() - started
    bodies = [r.body for r in fake.generations() if r.body is not None]
    largest = max(prompt_tokens(b["messages"], counter, b.get("tools")) for b in bodies)
    return {
        "benchmark": "memory",
        "model": MODEL,
        "turns": turns,
        "model_requests": len(bodies),
        "facts": FACTS,
        "fact_recall": round(found / FACTS, 3),
        "target_fact_recall": 0.95,
        "max_prompt_tokens": largest,
        "prompt_limit": prompt_limit(NUM_CTX, REPLY_TOKENS),
        "num_ctx": NUM_CTX,
        "never_exceeded": largest <= prompt_limit(NUM_CTX, REPLY_TOKENS),
        "messages_summarised": summarised,
        "seconds": round(seconds, 2),
    }


BUILT_IN_FACTS = 20
BUILT_IN_REPLY_TOKENS = 48


def codeword(index: int) -> str:
    return f"{index * 7919 % 100_003:05d}"


async def run_built_in(folder: Path) -> dict[str, Any]:
    """The built-in instruct model: facts planted, a restart, each fact asked for."""
    from codehearth.models.embedded_backend import DEFAULT_INSTRUCT_MODEL, EmbeddedBackend

    backend = EmbeddedBackend(bundled=DEFAULT_INSTRUCT_MODEL)
    counter = EstimatingCounter()

    def session(store: MemoryStore, conversation: str) -> ChatSession:
        return ChatSession(
            store,
            backend,
            model=DEFAULT_INSTRUCT_MODEL,
            num_ctx=NUM_CTX,
            conversation_id=conversation,
            counter=counter,
            supports_tools=False,
            json_tools=False,  # what the server decides for a model under 1B parameters
            reply_tokens=BUILT_IN_REPLY_TOKENS,
        )

    started = time.perf_counter()
    answers: list[str] = []
    try:
        with MemoryStore(folder) as store:
            planting = session(store, "earlier")
            for index in range(BUILT_IN_FACTS):
                await planting.ask(f"Please remember this: {fact(index)}")
        with MemoryStore(folder) as store:  # after a restart
            for index in range(BUILT_IN_FACTS):  # each asked once, in a new conversation
                asking = session(store, f"later-{index}")
                answers.append((await asking.ask(question(index))).text.strip())
    finally:
        await backend.aclose()
    right = sum(codeword(index) in answer for index, answer in enumerate(answers))
    return {
        "model": DEFAULT_INSTRUCT_MODEL,
        "facts": BUILT_IN_FACTS,
        "answered_correctly": right,
        "answered_share": round(right / BUILT_IN_FACTS, 3),
        "seconds": round(time.perf_counter() - started, 1),
        "answers": answers[:5],
    }


def main() -> None:
    from codehearth.models.embedded_backend import embedded_available

    with tempfile.TemporaryDirectory() as folder, FakeOllama() as fake:
        fake.responder = respond
        result = asyncio.run(run(Path(folder) / "memory", fake))
    if embedded_available():
        with tempfile.TemporaryDirectory() as folder:
            built_in = asyncio.run(run_built_in(Path(folder) / "memory"))
        result["built_in_model"] = built_in
        result["scripted_vs_built_in"] = {
            "scripted_fact_recall": result["fact_recall"],
            "built_in_answered_share": built_in["answered_share"],
        }
    search = memory_search.measure()
    result["archival_search_100k"] = {
        key: search[key] for key in ("notes", "search_p50_ms", "search_p99_ms", "meets_target")
    }
    result["target_archival_p50_ms"] = search["target_p50_ms"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
