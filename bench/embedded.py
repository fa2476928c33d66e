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
"""

import os
import sys

# Run as a script, this folder is sys.path[0], and bench/typing.py would shadow the standard
# library's `typing`; put the repository root there instead.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import asyncio
import json
import resource
import statistics
import time

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
        for _ in range(600):  # warm-up loads the model in the background
            embedded = (await session.status()).get("models", {}).get("embedded") or {}
            if embedded.get("loaded"):
                break
            await asyncio.sleep(0.1)
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
    }
    print(json.dumps(result))


async def lsp_ttft() -> float:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="codehearth-bench-") as root:
        return await lsp_time_to_first_token(root)


if __name__ == "__main__":
    asyncio.run(main())
