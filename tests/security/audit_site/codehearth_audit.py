"""Audit hooks (``sys.addaudithook``) that catch a process escaping its sandbox.

Rules, for the whole test suite (:class:`Auditor`):

* no ``socket.connect`` to an address that is not loopback (Unix sockets are fine);
* no process (``subprocess.Popen``, ``os.system``, ``os.exec*``, ``os.posix_spawn``,
  ``os.spawn*``) that runs on workspace files: one started in a workspace folder or with
  a workspace path among its arguments, unless it is a known tool (ruff for the
  verifier, git, node/npm, the editors under test and tmux, the terminal they run in) or
  CodeHearth's own command line.

With ``strict`` (used for fuzzing commands) it also flags every process but the allowed
tools, whatever it runs on, and every write (``open`` for writing, ``os.remove`` and
friends, ``sqlite3.connect``) outside the folders it may write to.

The test process installs an :class:`Auditor` from ``tests/conftest.py``. Server
subprocesses get one too: this folder goes on ``PYTHONPATH``, where ``sitecustomize.py``
calls :func:`install_from_environment`, and problems are appended as JSON lines to the
file ``CODEHEARTH_AUDIT_LOG`` names, for the test process to read. Standard library
only (it loads before anything else in a subprocess).
"""

from __future__ import annotations

import ipaddress
import json
import os
import shlex
import sys
import threading
from collections.abc import Sequence
from typing import Any

LOG_VARIABLE = "CODEHEARTH_AUDIT_LOG"
WORKSPACES_VARIABLE = "CODEHEARTH_AUDIT_WORKSPACES"
WRITABLE_VARIABLE = "CODEHEARTH_AUDIT_WRITABLE"
"""Set (folders joined by ``os.pathsep``) to turn on ``strict``: no process, no write
outside these folders."""

ALLOWED_TOOLS = frozenset(
    {"ruff", "git", "node", "npm", "npx", "nvim", "emacs", "code-server", "tmux", "codehearth"}
)
ALLOWED_PYTHON_MODULES = frozenset({"codehearth"})
"""``python -m codehearth ...`` is the product's own command line (``complete FILE``)."""

PROCESS_EVENTS = frozenset(
    {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork"}
)
WRITE_EVENTS = frozenset(
    {
        "os.remove",
        "os.rename",
        "os.mkdir",
        "os.rmdir",
        "os.symlink",
        "os.link",
        "os.truncate",
        "os.chmod",
        "shutil.rmtree",
        "shutil.move",
    }
)
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
ALWAYS_WRITABLE = ("/dev/",)


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False  # a name other than localhost: it would be resolved and left
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def connect_problem(address: Any) -> str | None:
    """Why connecting to ``address`` (as ``socket.connect`` got it) leaves the machine."""
    if not isinstance(address, tuple) or not address:
        return None  # a Unix socket path
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if isinstance(host, str) and is_loopback_host(host):
        return None
    return f"socket.connect to {address!r}, which is not loopback"


def inside(path: str, folders: Sequence[str]) -> bool:
    """Is ``path`` (absolute) inside one of ``folders``?"""
    if not os.path.isabs(path):
        return False
    real = os.path.realpath(path)
    return any(real == folder or real.startswith(folder + os.sep) for folder in folders)


def argv_of(args: Any) -> list[str]:
    """An argument list as ``subprocess.Popen`` or ``os.system`` got it, as strings."""
    if isinstance(args, str):
        try:
            return shlex.split(args)
        except ValueError:
            return args.split()
    if isinstance(args, bytes | os.PathLike):
        return [os.fsdecode(args)]
    if isinstance(args, Sequence):
        return [os.fsdecode(a) if isinstance(a, bytes | os.PathLike) else str(a) for a in args]
    return []


def process_problem(argv: Sequence[str], cwd: str | None, workspaces: Sequence[str]) -> str | None:
    """Why running ``argv`` in ``cwd`` runs on workspace files; None when it does not or
    the program is an allowed tool."""
    if not argv:
        return None
    program = os.path.basename(argv[0])
    if program in ALLOWED_TOOLS:
        return None
    if program.startswith("python") and len(argv) > 2 and argv[1] == "-m":
        if argv[2].split(".")[0] in ALLOWED_PYTHON_MODULES:
            return None
    if cwd and inside(os.path.abspath(cwd), workspaces):
        return f"{program} started in the workspace folder {cwd}"
    for argument in argv[1:]:
        for candidate in (argument, argument.partition("=")[2]):
            if candidate and inside(candidate, workspaces):
                return f"{program} run on the workspace path {candidate}"
    return None


def is_write(args: tuple[Any, ...]) -> bool:
    """Does an ``open`` audit event (path, mode, flags) open for writing?"""
    _path, mode, flags = (*args, None, None, None)[:3]
    if isinstance(mode, str):
        return any(letter in mode for letter in "wax+")
    return isinstance(flags, int) and bool(flags & WRITE_FLAGS)


class Auditor:
    """One process's audit hook and the problems it saw."""

    def __init__(
        self,
        workspaces: Sequence[str],
        *,
        log_path: str | None = None,
        writable: Sequence[str] | None = None,
    ) -> None:
        self.workspaces = tuple(os.path.realpath(folder) for folder in workspaces)
        self.log_path = log_path
        self.strict = writable is not None
        self.writable = tuple(os.path.realpath(folder) for folder in writable or ())
        self.problems: list[str] = []
        self._lock = threading.Lock()
        self._busy = threading.local()
        self._watched = PROCESS_EVENTS | {"socket.connect", "os.system"}
        if self.strict:
            self._watched |= WRITE_EVENTS | {"open", "sqlite3.connect"}

    def install(self) -> None:
        sys.addaudithook(self.hook)

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event not in self._watched or getattr(self._busy, "active", False):
            return
        self._busy.active = True
        try:
            problem = self.problem(event, args)
            if problem is not None:
                self.report(problem)
        finally:
            self._busy.active = False

    def problem(self, event: str, args: tuple[Any, ...]) -> str | None:
        if event == "socket.connect":
            return connect_problem(args[1])
        if event in PROCESS_EVENTS:
            return self._process_problem(event, args)
        if event == "open":
            path = args[0]
            if isinstance(path, int) or not is_write(args):
                return None
            return self._write_problem(event, os.fsdecode(path))
        if event == "sqlite3.connect":
            database = os.fsdecode(args[0]) if args and args[0] is not None else ""
            if database in ("", ":memory:") or database.startswith("file::memory:"):
                return None
            return self._write_problem(event, database)
        if event in WRITE_EVENTS:
            path = args[0]
            if isinstance(path, int):
                return None
            return self._write_problem(event, os.fsdecode(path))
        return None

    def _process_problem(self, event: str, args: tuple[Any, ...]) -> str | None:
        cwd: str | None = None
        if event == "subprocess.Popen":
            executable, arguments, cwd = args[0], args[1], args[2]
            argv = argv_of(arguments) or argv_of(executable)
        elif event == "os.system":
            argv = argv_of(args[0])
        elif event == "os.fork":
            argv = ["(fork)"]
        else:  # os.exec (path, args, env), os.posix_spawn (path, argv, env), os.spawn
            argv = argv_of(args[-2])
        if self.strict and os.path.basename(argv[0]) not in ALLOWED_TOOLS:
            return f"{event} {argv!r}: no process may start here"
        if event == "os.fork":
            return None
        return process_problem(argv, os.fsdecode(cwd) if cwd else None, self.workspaces)

    def _write_problem(self, event: str, path: str) -> str | None:
        absolute = os.path.abspath(path)
        if absolute.startswith(ALWAYS_WRITABLE) or f"{os.sep}__pycache__{os.sep}" in absolute:
            return None
        if self.log_path is not None and absolute == os.path.abspath(self.log_path):
            return None
        if inside(absolute, self.writable):
            return None
        return f"{event} writes {absolute}, outside the folders it may write to"

    def report(self, problem: str) -> None:
        with self._lock:
            self.problems.append(problem)
            if self.log_path is not None:
                line = json.dumps({"pid": os.getpid(), "argv": sys.argv, "problem": problem})
                with open(self.log_path, "a", encoding="utf-8") as log:
                    log.write(line + "\n")


def install_from_environment() -> Auditor | None:
    """Install an :class:`Auditor` configured by the environment (in a subprocess)."""
    log_path = os.environ.get(LOG_VARIABLE)
    if not log_path:
        return None
    workspaces = [f for f in os.environ.get(WORKSPACES_VARIABLE, "").split(os.pathsep) if f]
    writable_setting = os.environ.get(WRITABLE_VARIABLE)
    writable = None
    if writable_setting is not None:
        writable = [f for f in writable_setting.split(os.pathsep) if f]
    auditor = Auditor(workspaces, log_path=log_path, writable=writable)
    auditor.install()
    return auditor


class SuiteAudit:
    """The test process's auditor plus the log its subprocesses write, read per test."""

    def __init__(self, workspaces: Sequence[str], log_path: str) -> None:
        self.auditor = Auditor(workspaces)
        self.log_path = log_path
        open(log_path, "a", encoding="utf-8").close()

    @property
    def environment(self) -> dict[str, str]:
        """Variables that audit Python subprocesses the same way."""
        site = os.path.dirname(os.path.abspath(__file__))
        path = os.pathsep.join(p for p in (site, os.environ.get("PYTHONPATH", "")) if p)
        return {
            "PYTHONPATH": path,
            LOG_VARIABLE: self.log_path,
            WORKSPACES_VARIABLE: os.pathsep.join(self.auditor.workspaces),
        }

    def mark(self) -> tuple[int, int]:
        """Where the problems seen so far end (in this process and in the log)."""
        return len(self.auditor.problems), os.path.getsize(self.log_path)

    def since(self, mark: tuple[int, int]) -> list[str]:
        """Problems seen after ``mark``."""
        seen, offset = mark
        problems = list(self.auditor.problems[seen:])
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            for line in log.read().decode("utf-8", "replace").splitlines():
                entry = json.loads(line)
                problems.append(f"{entry['problem']} (in {' '.join(entry['argv'])})")
        return problems

    def forget(self, mark: tuple[int, int]) -> None:
        """Drop the problems seen after ``mark`` (for tests of the audit itself)."""
        seen, offset = mark
        del self.auditor.problems[seen:]
        os.truncate(self.log_path, offset)
