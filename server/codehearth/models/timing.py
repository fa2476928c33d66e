"""How long a model server may take, phase by phase, and the stream that enforces it.

Real model servers send nothing while they work on a request before its first token:
Ollama loads the model (seconds to minutes from disk, on a CPU) and evaluates the prompt
before it writes the response headers, and hanging up meanwhile makes it abort the load
(``llm/llama_server.go``: "client connection closed before llama-server finished loading,
aborting load"); llama.cpp's ``llama-server`` likewise answers only with its first result.
So one read timeout for everything cuts every cold start, and the next request starts the
load from zero. Each phase gets its own limit instead, each named after the setting that
controls it so a timeout message says what to change:

- a **load** (:attr:`RoleTiming.load`, ``models.loadSeconds``): long, and spent in a load of
  its own that no editor request can cancel (:mod:`codehearth.models.pool`);
- the **first token** of an answer from a loaded model (:attr:`StreamLimits.first_token`):
  a completion's deadline, or a long limit for chat and code actions, whose prompts are big;
- a **stall** between chunks after the first (:attr:`StreamLimits.stall`);
- optionally the **whole answer** (:attr:`StreamLimits.total`, a completion's deadline).

No pygls here; pure asyncio.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar

import attrs

from codehearth.models.errors import BackendError, ProblemKind

Chunk = TypeVar("Chunk")

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@attrs.frozen
class Limit:
    """A number of seconds and the setting that controls it (named in timeout messages)."""

    seconds: float
    setting: str


@attrs.frozen
class StreamLimits:
    """The limits on one streamed answer from a model that is already loaded."""

    first_token: Limit
    stall: Limit
    total: Limit | None = None


@attrs.frozen
class RoleTiming:
    """Everything a role waits for: its answers' limits, the longest a load of its model
    may take, and the ``num_ctx`` a load uses (the role's own, so that the requests that
    follow do not make Ollama load the model again with another context size)."""

    stream: StreamLimits
    load: Limit
    num_ctx: int


def keep_alive_seconds(keep_alive: str) -> float:
    """How long a server keeps a model loaded after a request, from an Ollama-style
    ``keep_alive`` ("30m", "1h30m", "300", "-1"): ``math.inf`` for "forever" (negative, or
    empty: a server that manages it itself), 0 for "unload at once"."""
    text = keep_alive.strip()
    if not text:
        return math.inf
    try:
        seconds = float(text)
    except ValueError:
        parts = _DURATION_PART.findall(text.lstrip("+-"))
        if not parts or "".join(a + b for a, b in parts) != text.lstrip("+-"):
            return math.inf  # a spelling we do not know: Ollama would reject it anyway
        seconds = sum(float(amount) * _UNIT_SECONDS[unit] for amount, unit in parts)
        if text.startswith("-"):
            seconds = -seconds
    return math.inf if seconds < 0 else seconds


def timeout_error(label: str, limit: Limit, what: str) -> BackendError:
    """The TIMEOUT a limit raises: what did not happen in time, and the setting to raise."""
    return BackendError(
        ProblemKind.TIMEOUT,
        f"{label} {what} within {limit.seconds:g} s; raise {limit.setting} if this persists",
        f"{limit.setting} = {limit.seconds:g} s",
    )


async def timed_stream(
    chunks: AsyncIterator[Chunk], limits: StreamLimits, label: str
) -> AsyncGenerator[Chunk, None]:
    """``chunks`` with the limits applied: the first within ``first_token``, each later one
    within ``stall`` of the one before, all within ``total``. A limit that passes cancels
    the wait (which closes the server's stream) and raises a TIMEOUT naming its setting."""
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + limits.total.seconds if limits.total is not None else math.inf
    first = True
    while True:
        limit = limits.first_token if first else limits.stall
        wait = min(limit.seconds, ends_at - loop.time())
        binding = limits.total if limits.total is not None and wait < limit.seconds else limit
        try:
            async with asyncio.timeout(max(wait, 0.0)):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        except TimeoutError:
            if binding is limits.total:
                raise timeout_error(label, binding, "did not finish its answer") from None
            what = "did not start its answer" if first else "did not send more (stalled)"
            raise timeout_error(label, binding, what) from None
        first = False
        yield chunk
