"""The suite-wide audit hook's rules, and proof that it watches server subprocesses too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.audit_site.codehearth_audit import (
    Auditor,
    SuiteAudit,
    connect_problem,
    process_problem,
)

WORKSPACE = "/tmp/audit-workspace"


@pytest.mark.parametrize(
    ("address", "escapes"),
    [
        pytest.param(("127.0.0.1", 11434), False, id="ipv4-loopback"),
        pytest.param(("127.8.9.10", 80), False, id="ipv4-loopback-net"),
        pytest.param(("::1", 11434, 0, 0), False, id="ipv6-loopback"),
        pytest.param(("::ffff:127.0.0.1", 80, 0, 0), False, id="ipv4-mapped-loopback"),
        pytest.param(("localhost", 11434), False, id="localhost"),
        pytest.param("/run/ollama.sock", False, id="unix-socket"),
        pytest.param(("10.255.255.1", 11434), True, id="lan-host"),
        pytest.param(("0.0.0.0", 11434), True, id="unspecified"),
        pytest.param(("api.example.com", 443), True, id="host-name"),
        pytest.param(("2001:db8::1", 443, 0, 0), True, id="ipv6-remote"),
    ],
)
def test_connect_rule(address: object, escapes: bool) -> None:
    assert (connect_problem(address) is not None) is escapes


@pytest.mark.parametrize(
    ("argv", "cwd", "flagged"),
    [
        pytest.param([sys.executable, "-m", "codehearth", "serve"], None, False, id="server"),
        pytest.param(
            [sys.executable, "-m", "codehearth", "complete", f"{WORKSPACE}/a.py:1:1"],
            None,
            False,
            id="own-cli-on-a-file",
        ),
        pytest.param(["/usr/bin/ruff", "check", f"{WORKSPACE}/a.py"], None, False, id="ruff"),
        pytest.param(["git", "status"], WORKSPACE, False, id="git-in-workspace"),
        pytest.param(["nvim", "--headless", f"{WORKSPACE}/a.py"], None, False, id="editor"),
        pytest.param([sys.executable, "-c", "print(1)"], ".", False, id="python-elsewhere"),
        pytest.param([sys.executable, f"{WORKSPACE}/setup.py"], None, True, id="workspace-script"),
        pytest.param(["pytest", "-q"], f"{WORKSPACE}/pkg", True, id="tests-in-workspace"),
        pytest.param(["sh", "-c", "make"], WORKSPACE, True, id="shell-in-workspace"),
        pytest.param(["cat", f"--file={WORKSPACE}/.env"], None, True, id="path-in-option"),
    ],
)
def test_process_rule(argv: list[str], cwd: str | None, flagged: bool) -> None:
    assert (process_problem(argv, cwd, [WORKSPACE]) is not None) is flagged


def test_strict_mode_flags_writes_outside_the_allowed_folders_and_other_programs(
    tmp_path: Path,
) -> None:
    allowed = tmp_path / "cache"
    auditor = Auditor([str(tmp_path)], writable=[str(allowed)])
    auditor.hook("open", (str(allowed / "index.db"), "w", 0))
    auditor.hook("open", (str(tmp_path / "project" / "a.py"), "r", 0))
    auditor.hook("open", (str(tmp_path / "x" / "__pycache__" / "m.pyc"), None, os.O_WRONLY))
    assert auditor.problems == []
    auditor.hook("open", (str(tmp_path / "project" / "a.py"), "a", 0))
    auditor.hook("os.remove", (str(tmp_path / "project" / "b.py"), -1))
    auditor.hook("sqlite3.connect", (str(tmp_path / "elsewhere.db"),))
    auditor.hook("subprocess.Popen", ("ruff", ["ruff", "check", "-"], None, None))
    assert len(auditor.problems) == 3
    auditor.hook("subprocess.Popen", ("sh", ["sh", "-c", "true"], None, None))
    assert len(auditor.problems) == 4


def test_a_server_subprocess_reports_to_the_suite_log(suite_audit: SuiteAudit) -> None:
    """What a Python subprocess does is audited too (the server runs as one): its
    problems reach the log the suite reads after each test. (0.0.0.0 counts as leaving
    the machine, yet the attempt is refused locally: nothing goes out.)"""
    mark = suite_audit.mark()
    escape = (
        "import socket\n"
        "probe = socket.socket()\n"
        "try:\n"
        "    probe.connect(('0.0.0.0', 9))\n"
        "except OSError:\n"
        "    pass\n"
    )
    subprocess.run([sys.executable, "-c", escape], check=True, timeout=30)
    problems = suite_audit.since(mark)
    assert len(problems) == 1 and "0.0.0.0" in problems[0]
    suite_audit.forget(mark)
