"""The embedded model's speed: EmbeddedBackend.generate against llama-cpp-python called
directly, in one run, with the bundled Gemma 3 270M.

Both sides get the same prompt, ``max_tokens``, temperature 0 (greedy, so the same text),
``n_ctx`` and thread count, and run alternately for several repetitions. Tokens per second
is tokens generated over the whole call (prompt evaluation, the worker-thread hop and the
event loop included for the backend; ``create_completion`` without streaming for the direct
side). Also measured: model load seconds, the backend's time to its first chunk, how long
stopping a stream takes, and the process's peak RSS before and after loading the model.
Prints one JSON object.

Target: backend tokens/s median >= 0.9x the direct median.

Time to first token through the LSP: ``codehearth serve`` with Ollama unreachable (so the
router falls back to the embedded model, as on a fresh machine), driven by a scripted
client; once the model is loaded, invoked inline completions limited to one token are
timed from request to answer (the whole prompt evaluated each time, routing and both LSP
hops included).

Typing through a file (issue 17): the same server, workspace context on (CodeHearth's own
``completion`` package indexed), typing through ``engine.py``: :data:`TYPING_LINES` lines of
a method are deleted and typed back :data:`TYPING_STEP` characters at a time, each step an
invoked single-line completion, timed from request to suggestion. Run twice in one go:
with ``models.embeddedReusePrompt`` on (the default: llama.cpp evaluates only what changed
since the last prompt) and off (the whole prompt evaluated each time). Target: p50 <= 300
ms and p95 <= 800 ms with reuse on.
"""

import os
import sys

# Run as a script, this folder is sys.path[0], and bench/typing.py would shadow the standard
# library's `typing`; put the repository root there instead.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import asyncio
import json
import resource
import shutil
import statistics
import time
from pathlib import Path

import llama_cpp

from codehearth.client import ScriptedClient
from codehearth.models.embedded_backend import (
    DEFAULT_EMBEDDED_MODEL,
    EmbeddedBackend,
    assemble_bundled_model,
)
from codehearth.models.ollama_backend import GenerateRequest

PROMPT = "def fibonacci(n):\n"
MAX_TOKENS = 96
REPETITIONS = 9
N_CTX = 4096
N_THREADS = max(1, (os.cpu_count() or 2) // 2)  # llama-cpp-python's own default


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def request(max_tokens: int = MAX_TOKENS) -> GenerateRequest:
    return GenerateRequest(
        model=DEFAULT_EMBEDDED_MODEL,
        prompt=PROMPT,
        num_ctx=N_CTX,
        max_tokens=max_tokens,
        temperature=0.0,
    )


async def backend_run(backend: EmbeddedBackend) -> tuple[float, float, int, str]:
    """(tokens/s, seconds to the first chunk, tokens, text) of one generation."""
    started = time.perf_counter()
    first_chunk: float | None = None
    pieces: list[str] = []
    tokens = 0
    async for chunk in backend.generate(request()):
        if first_chunk is None:
            first_chunk = time.perf_counter() - started
        pieces.append(chunk.text)
        if chunk.done:
            tokens = chunk.eval_count or 0
    elapsed = time.perf_counter() - started
    return tokens / elapsed, first_chunk or elapsed, tokens, "".join(pieces)


def direct_run(llm: llama_cpp.Llama) -> tuple[float, int, str]:
    """(tokens/s, tokens, text) of one create_completion call."""
    started = time.perf_counter()
    result = llm.create_completion(PROMPT, max_tokens=MAX_TOKENS, temperature=0.0)
    elapsed = time.perf_counter() - started
    tokens = result["usage"]["completion_tokens"]
    return tokens / elapsed, tokens, result["choices"][0]["text"]


async def stop_latency(backend: EmbeddedBackend) -> float:
    """Seconds from closing a running stream to its worker thread being free."""
    stream = backend.generate(request(max_tokens=2000))
    await anext(stream)
    started = time.perf_counter()
    await stream.aclose()
    return time.perf_counter() - started


LSP_REQUESTS = 5
LSP_SOURCE = (
    "def mean(values: list[float]) -> float:\n"
    '    """The arithmetic mean."""\n'
    "    return sum(values) / len(values)\n"
    "\n"
    "\n"
    "def variance(values: list[float]) -> float:\n"
    "    m = \n"
)


async def wait_loaded(session: ScriptedClient) -> None:
    """Until the warm-up has loaded the built-in completion model (at most a minute)."""
    for _ in range(600):
        models = (await session.status()).get("models", {}).get("embedded") or {}
        if models.get(DEFAULT_EMBEDDED_MODEL, {}).get("loaded"):
            return
        await asyncio.sleep(0.1)


TYPING_LINES = 6
TYPING_STEP = 3
TYPED_FILE = "engine.py"
TYPED_FROM = "    def _context_for("
"""Where the typing starts in TYPED_FILE: a method of a dozen lines."""
TYPED_PACKAGE = Path(__file__).resolve().parents[1] / "server" / "codehearth" / "completion"
"""The workspace typed in: CodeHearth's own completion package (a copy)."""


def typing_script(text: str) -> list[tuple[str, int, int]]:
    """(document text, line, column) of each request while typing through ``text``:
    :data:`TYPING_LINES` lines from :data:`TYPED_FROM` on are deleted and typed back, each
    request :data:`TYPING_STEP` characters after the last (the lines below stay)."""
    lines = text.split("\n")
    first = next(n for n, line in enumerate(lines) if line.startswith(TYPED_FROM))
    script = []
    for number in range(first, first + TYPING_LINES):
        line = lines[number]
        indent = len(line) - len(line.lstrip())
        for column in range(indent + TYPING_STEP, len(line) + 1, TYPING_STEP):
            typed = [*lines[:number], line[:column], *lines[number + 1 :]]
            script.append(("\n".join(typed), number, column))
    return script


async def lsp_typing_latency(root: str, reuse: bool) -> dict[str, float]:
    """p50/p95 ms from request to suggestion while typing through a file, with workspace
    context, with llama.cpp's prompt reuse on or off."""
    workspace = Path(root) / ("reuse" if reuse else "whole")
    shutil.copytree(TYPED_PACKAGE, workspace, ignore=shutil.ignore_patterns("__pycache__"))
    options = {
        "ollama": {"host": "http://127.0.0.1:9"},  # nothing listens: the embedded model answers
        "models": {"embeddedReusePrompt": reuse},
        "completion": {"deadlineSeconds": 60, "invokedItems": 1, "multiline": False},
    }
    source = (workspace / TYPED_FILE).read_text(encoding="utf-8")
    async with ScriptedClient(root=workspace, initialization_options=options) as session:
        await wait_loaded(session)
        for _ in range(600):  # the index gives the workspace context
            if (await session.status()).get("index", {}).get("lexicalReady"):
                break
            await asyncio.sleep(0.1)
        uri = session.open(workspace / TYPED_FILE, source, "python")
        timings, answered = [], 0
        for text, line, column in typing_script(source):
            session.replace_text(uri, text)
            started = time.perf_counter()
            items = await session.inline_completion(uri, line, column, invoked=True)
            timings.append(time.perf_counter() - started)
            answered += bool(items)
    timings.sort()
    return {
        "requests": len(timings),
        "answered": answered,
        "p50_ms": round(statistics.median(timings) * 1000, 1),
        "p95_ms": round(timings[min(len(timings) - 1, int(0.95 * len(timings)))] * 1000, 1),
    }


async def lsp_time_to_first_token(root: str) -> float:
    """Median ms of a one-token inline completion through ``codehearth serve``. Each
    request's text starts differently, so neither the engine's cache nor llama.cpp's
    prompt cache can answer it: the whole prompt is evaluated every time."""
    from pathlib import Path

    workspace = Path(root)
    source = workspace / "stats.py"
    source.write_text(LSP_SOURCE, encoding="utf-8")
    options = {
        "ollama": {"host": "http://127.0.0.1:9"},  # nothing listens: the embedded model answers
        "completion": {"maxTokens": 1, "deadlineSeconds": 60, "invokedItems": 1},
    }
    async with ScriptedClient(root=workspace, initialization_options=options) as session:
        await wait_loaded(session)
        uri = session.open(source, LSP_SOURCE, "python")
        timings = []
        for index in range(LSP_REQUESTS):
            text = f"# revision {index}\n{LSP_SOURCE}"
            session.replace_text(uri, text)
            line = text.count("\n") - 1
            started = time.perf_counter()
            await session.inline_completion(uri, line, len("    m = "), invoked=True)
            timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


async def main() -> None:
    model_path = assemble_bundled_model()
    rss_before_load = peak_rss_mb()
    backend = EmbeddedBackend(n_ctx=N_CTX, n_threads=N_THREADS)
    started = time.perf_counter()
    await backend.warm_up(DEFAULT_EMBEDDED_MODEL, N_CTX)
    warm_up_seconds = time.perf_counter() - started
    await backend_run(backend)  # first generation allocates llama.cpp's compute buffers
    rss_after_load = peak_rss_mb()

    started = time.perf_counter()
    direct = llama_cpp.Llama(
        model_path=str(model_path), n_ctx=N_CTX, n_threads=N_THREADS, verbose=False
    )
    direct_load_seconds = time.perf_counter() - started
    direct_run(direct)

    ours: list[float] = []
    theirs: list[float] = []
    first_chunks: list[float] = []
    same_text = True
    for repetition in range(REPETITIONS):
        # Alternate who goes first, so neither always runs on a warmer CPU.
        if repetition % 2:
            direct_rate, direct_tokens, direct_text = direct_run(direct)
            rate, first_chunk, tokens, text = await backend_run(backend)
        else:
            rate, first_chunk, tokens, text = await backend_run(backend)
            direct_rate, direct_tokens, direct_text = direct_run(direct)
        ours.append(rate)
        theirs.append(direct_rate)
        first_chunks.append(first_chunk)
        same_text = same_text and text == direct_text and tokens == direct_tokens

    stops = [await stop_latency(backend) for _ in range(REPETITIONS)]
    await backend.aclose()
    direct.close()

    ratio = statistics.median(ours) / statistics.median(theirs)
    result = {
        "benchmark": "embedded-model-throughput",
        "model": DEFAULT_EMBEDDED_MODEL,
        "llama_cpp_python": llama_cpp.__version__,
        "n_ctx": N_CTX,
        "n_threads": N_THREADS,
        "max_tokens": MAX_TOKENS,
        "repetitions": REPETITIONS,
        "backend_tokens_per_s": round(statistics.median(ours), 2),
        "direct_tokens_per_s": round(statistics.median(theirs), 2),
        "ratio_backend_vs_direct": round(ratio, 3),
        "target_ratio": 0.9,
        "meets_target": ratio >= 0.9,
        "same_text": same_text,
        "model_load_seconds": round(backend.load_seconds or 0.0, 3),
        "warm_up_seconds": round(warm_up_seconds, 3),
        "direct_load_seconds": round(direct_load_seconds, 3),
        "backend_first_chunk_ms": round(statistics.median(first_chunks) * 1000, 1),
        "stop_latency_ms": round(statistics.median(stops) * 1000, 1),
        "peak_rss_mb_before_load": rss_before_load,
        "peak_rss_mb_after_load": rss_after_load,
        "lsp_time_to_first_token_ms": round(await lsp_ttft(), 1),
        **await typing_figures(),
    }
    print(json.dumps(result))


async def lsp_ttft() -> float:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="codehearth-bench-") as root:
        return await lsp_time_to_first_token(root)


async def typing_figures() -> dict[str, object]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="codehearth-bench-") as root:
        reused = await lsp_typing_latency(root, reuse=True)
        whole = await lsp_typing_latency(root, reuse=False)
    return {
        "typing_with_context_prompt_reused": reused,
        "typing_with_context_prompt_whole": whole,
        "typing_target_ms": {"p50": 300, "p95": 800},
        "typing_meets_target": reused["p50_ms"] <= 300 and reused["p95_ms"] <= 800,
    }


if __name__ == "__main__":
    asyncio.run(main())
