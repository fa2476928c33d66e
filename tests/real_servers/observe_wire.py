"""Print what the real servers put on the wire, for tests/real_servers/OBSERVED.md.

Starts llama-server (the cached build) and llama-cpp-python's server on loopback ports with
the PyPI models, sends the requests OBSERVED.md records, and prints each exchange: model
listings, ``/props``, context-overflow errors (streamed and not), ``/tokenize``, ``/infill``,
the 503 while loading, SSE pings, the last events of a stream, and what a client reads when
the server is killed mid-stream. Run it from the repository root:
``.venv/bin/python -m tests.real_servers.observe_wire`` (about a minute).
"""

from __future__ import annotations

import json
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.real_servers.build_llama_server import ensure_llama_server
from tests.real_servers.conftest import (
    GEMMA,
    LLAMA_CPP_PYTHON,
    LLAMA_SERVER,
    REAL_CACHE,
    SMOLLM,
    RealServer,
    Servers,
)

OVERFLOW_TEXT = "def f():\n    return 1\n" * 400
"""About 3,600 tokens: more than the 1,024-token servers below hold."""
TIMEOUT = httpx.Timeout(120, connect=5)


def show(title: str, value: Any) -> None:
    text = value if isinstance(value, str) else json.dumps(value, indent=2)
    print(f"\n### {title}\n```\n{text}\n```", flush=True)


def exchange(server: RealServer, method: str, path: str, body: Any = None) -> dict[str, Any]:
    response = httpx.request(method, server.url + path, json=body, timeout=TIMEOUT)
    try:
        payload: Any = response.json()
    except ValueError:
        payload = response.text
    return {
        "status": response.status_code,
        "content-type": response.headers.get("content-type"),
        "body": payload,
    }


def raw_stream(server: RealServer, path: str, body: Any) -> Iterator[tuple[float, str]]:
    """The raw lines of a streamed response, with seconds since the request."""
    started = time.monotonic()
    with httpx.stream("POST", server.url + path, json=body, timeout=TIMEOUT) as response:
        yield 0.0, f"HTTP {response.status_code} {response.headers.get('content-type')}"
        for line in response.iter_lines():
            yield time.monotonic() - started, line


def overflow(server: RealServer) -> None:
    for path, body in (
        ("/v1/completions", {"prompt": OVERFLOW_TEXT, "max_tokens": 8}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": OVERFLOW_TEXT}]}),
    ):
        for stream in (False, True):
            sent = {**body, "stream": stream}
            if stream:
                sent["stream_options"] = {"include_usage": True}
                lines = [line for _, line in raw_stream(server, path, sent)]
                show(f"{server.kind}: context overflow, POST {path} stream=true", lines)
            else:
                show(
                    f"{server.kind}: context overflow, POST {path} stream=false",
                    exchange(server, "POST", path, sent),
                )


def last_events(server: RealServer) -> None:
    for path, body in (
        ("/v1/completions", {"prompt": "def add(a, b):\n", "max_tokens": 6}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}]}),
    ):
        sent = {**body, "max_tokens": 6, "stream": True, "stream_options": {"include_usage": True}}
        lines = [line for _, line in raw_stream(server, path, sent) if line]
        show(
            f"{server.kind}: POST {path} stream=true, first and last lines", lines[:2] + lines[-3:]
        )


def pings(server: RealServer, prompt: str, wait: float) -> None:
    """A long prompt read slowly: the lines that arrive before the first token."""
    body = {"prompt": prompt, "max_tokens": 2, "stream": True, "sse_ping_interval": 1}
    lines = [f"{at:5.1f}s {line!r}" for at, line in raw_stream(server, "/v1/completions", body)]
    show(f"{server.kind}: a {wait:.0f}+ s prompt, stream=true: lines with arrival times", lines)


def killed_mid_stream(server: RealServer) -> None:
    body = {"prompt": "Once upon a time", "max_tokens": 400, "stream": True}
    seen: list[str] = []
    try:
        for _, line in raw_stream(server, "/v1/completions", body):
            seen.append(line)
            if line.startswith("data:") and len(seen) > 3:
                threading.Thread(target=server.kill, args=(signal.SIGKILL,)).start()
    except httpx.HTTPError as error:
        seen.append(f"client error: {type(error).__name__}: {error}")
    show(f"{server.kind}: SIGKILL mid-stream, the client reads (last 2 lines)", seen[-2:])


def main() -> None:
    REAL_CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as logs:
        servers = Servers(ensure_llama_server(root=REAL_CACHE), Path(logs))
        try:
            observe(servers)
        finally:
            servers.stop_all()


def observe(servers: Servers) -> None:
    gemma = servers.start(LLAMA_SERVER, GEMMA, context=1024)
    smol = servers.start(LLAMA_SERVER, SMOLLM, context=1024)
    python_smol = servers.start(LLAMA_CPP_PYTHON, SMOLLM, context=1024)
    for server in (gemma, python_smol):
        show(
            f"{server.kind} ({server.model}): GET /v1/models", exchange(server, "GET", "/v1/models")
        )
        show(f"{server.kind}: GET /health", exchange(server, "GET", "/health"))
    props = exchange(gemma, "GET", "/props")["body"]
    props.pop("chat_template", None)
    show("llama-server: GET /props (chat_template left out)", props)
    for server in (gemma, python_smol):
        overflow(server)
        last_events(server)
    for server, content in ((gemma, "<|fim_prefix|>"), (gemma, "<start_of_turn>")):
        show(
            f"llama-server ({server.model}): POST /tokenize {content}",
            exchange(server, "POST", "/tokenize", {"content": content, "with_pieces": True}),
        )
    infill = {"input_prefix": "def add(a, b):\n    ", "input_suffix": "\n", "n_predict": 8}
    for server in (gemma, smol):
        show(
            f"llama-server ({server.model}): POST /infill {json.dumps(infill)}",
            exchange(server, "POST", "/infill", infill),
        )
    show(
        "llama-server: POST /v1/completions with model 'no-such-model'",
        exchange(
            gemma,
            "POST",
            "/v1/completions",
            {"model": "no-such-model", "prompt": "x", "max_tokens": 1},
        ),
    )
    loading = servers.start(LLAMA_SERVER, GEMMA, context=1024, wait=False, load_delay=3)
    loading.wait_loading()
    show(
        "llama-server while loading: POST /v1/completions",
        exchange(loading, "POST", "/v1/completions", {"prompt": "x", "max_tokens": 1}),
    )
    long_prompt = "def f():\n    return 1\n" * 100
    pings(servers.start(LLAMA_SERVER, GEMMA, context=4096), long_prompt * 2, 1)
    pings(servers.start(LLAMA_CPP_PYTHON, GEMMA, context=4096), long_prompt * 3, 15)
    killed_mid_stream(servers.start(LLAMA_SERVER, GEMMA, context=1024))
    killed_mid_stream(servers.start(LLAMA_CPP_PYTHON, GEMMA, context=1024))


if __name__ == "__main__":
    main()
