"""Emacs 28 + eglot 1.9 with eglot's defaults, used as a person does (``emacs_typing.el``):
a code action picked from ``M-x eglot-code-actions`` while the model is slower than eglot's
10 s request timeout, *Explain* and the README's ``M-x codehearth-ask`` streaming into
``*CodeHearth Chat*``, and ``completion-at-point`` in an empty function body.

Each test is skipped without emacs, or without eglot (``apt-get install elpa-eglot``).
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.editors.harness import HERE, README, editor_env, keep, run_editor, tail
from tests.fakes.fake_ollama import FakeOllama

pytestmark = [
    pytest.mark.editors,
    pytest.mark.skipif(
        shutil.which("emacs") is None, reason="emacs not installed (tests/editors/install.sh)"
    ),
]

SLOWER_THAN_EGLOT = 11.0
"""Seconds before the fake model's first token: eglot 1.9 gives up on a request after 10."""

BROKEN = "import sys\n\n\ndef main(:\n    print(sys.argv)\n"
FIXED = BROKEN.replace("def main(:", "def main():")
SYNTAX_FIX = "```python\ndef main():\n```"  # the fake's fix of line 4
EXPLANATION = "main prints the command-line arguments it was started with."
QUESTION = "Which arguments does main print?"
ANSWER = "All of them: sys.argv, the script name first."
SYNTAX_TOML = "\n[diagnostics]\nsyntax = true\n"


def readme_emacs_chat() -> str:
    """The README's Emacs snippet that shows chat answers (the fenced ```elisp block under
    "### Emacs (eglot)" that defines ``codehearth-ask``), verbatim."""
    section = README.read_text().split("### Emacs (eglot)", 1)[1].split("\n### ", 1)[0]
    blocks = [block.split("```", 1)[0] for block in section.split("```elisp\n")[1:]]
    [chat] = [block for block in blocks if "(defun codehearth-ask" in block]
    return chat


def run_emacs(
    tmp_path: Path, workspace: Path, mode: str, file: str, **driver: str
) -> tuple[int, str, str]:
    """Run ``emacs_typing.el`` in ``mode`` on ``file`` with the README's chat snippet
    loaded; (exit status, its output, the evidence kept in artifacts/emacs-<mode>.log)."""
    server_log = tmp_path / "codehearth.log"
    events = tmp_path / "eglot-events.log"
    readme_el = tmp_path / "readme-chat.el"
    readme_el.write_text(readme_emacs_chat())
    env = editor_env(
        tmp_path,
        CODEHEARTH_LOG=str(server_log),
        EGLOT_EVENTS=str(events),
        README_EL=str(readme_el),
        MODE=mode,
        **driver,
    )
    rc, output, seconds = run_editor(
        ["emacs", "--batch", "-l", str(HERE / "emacs_typing.el"), file], workspace, env
    )
    if "Cannot open load file" in output and "eglot" in output:
        pytest.skip("eglot not installed (apt-get install elpa-eglot)")
    evidence = "\n".join(
        [f"--- emacs MODE={mode} (exit {rc}, {seconds:.1f} s) ---", output]
        + [f"--- {path} ---\n{tail(path)}" for path in (events, server_log)]
    )
    keep(f"emacs-{mode}.log", evidence)
    return rc, output, evidence


def prompt_of(body: dict[str, Any]) -> str:
    return json.dumps(body.get("messages") or body.get("prompt"))


def test_emacs_code_actions_answer_within_eglots_timeout(
    tmp_path: Path, workspace: Path, fake: FakeOllama
) -> None:
    """A model slower than eglot's 10 s: the quick fix picked from M-x eglot-code-actions
    (picked twice) lands its verified edit in the buffer, with no "Timed out", the model
    asked once; Explain's answer appears in *CodeHearth Chat*."""
    fake.first_token_delay = SLOWER_THAN_EGLOT
    fake.responder = lambda body: (
        EXPLANATION if "Explain what the selected code does" in prompt_of(body) else SYNTAX_FIX
    )
    (workspace / "codehearth.toml").write_text(
        (workspace / "codehearth.toml").read_text() + SYNTAX_TOML
    )
    (workspace / "calc.py").write_text(BROKEN)
    rc, output, evidence = run_emacs(
        tmp_path, workspace, "quickfix", "calc.py", EXPECT="def main():", ANSWER=EXPLANATION
    )
    assert rc == 0 and "RESULT: PASS" in output, evidence
    assert "Timed out" not in output, evidence
    assert (workspace / "calc.py").read_text() == FIXED, evidence
    assert "Server wants to edit" in output, evidence  # eglot asked, the person said y
    chats = [r for r in fake.requests if r.path == "/api/chat"]
    fixes = [r for r in chats if "Explain what" not in prompt_of(r.body or {})]
    assert len(fixes) == 1, f"the second pick started another run\n{evidence}"
    assert len(chats) == 2, evidence


def test_emacs_readme_chat_shows_the_answer(
    tmp_path: Path, workspace: Path, fake: FakeOllama
) -> None:
    """The README's snippet, verbatim: with the function marked, M-x codehearth-ask asks a
    model slower than eglot's timeout; the answer streams into *CodeHearth Chat*, and the
    model saw the question and the marked code."""
    fake.first_token_delay = SLOWER_THAN_EGLOT
    fake.responder = lambda body: ANSWER
    (workspace / "calc.py").write_text(FIXED)
    rc, output, evidence = run_emacs(
        tmp_path, workspace, "chat", "calc.py", QUESTION=QUESTION, ANSWER=ANSWER
    )
    assert rc == 0 and "RESULT: PASS" in output, evidence
    assert "Timed out" not in output, evidence
    [chat_line] = [line for line in output.splitlines() if line.startswith("CHAT: ")]
    assert QUESTION in chat_line and ANSWER in chat_line, evidence
    prompts = [prompt_of(r.body or {}) for r in fake.requests if r.path == "/api/chat"]
    assert any(QUESTION in p and "print(sys.argv)" in p for p in prompts), evidence


SHOP = (
    "from dataclasses import dataclass\n\n\n@dataclass\nclass Item:\n    name: str\n"
    "    price: float\n\n\ndef most_expensive(items):\n    \n"
)
SHOP_BODY_LINE = 11
CORRECT_LINE = "return max(items, key=lambda item: item.price, default=None)"
RAMBLING = f'''{CORRECT_LINE}


def least_expensive(items):
    return min(items, key=lambda item: item.price, default=None)


def most_expensive_quantity(items):
    """The item with the most expensive quantity, or'''
"""What the user trial's model wrote into the empty body: the right line, then two
invented functions, the last cut off at max tokens inside its docstring."""


def test_emacs_completion_in_an_empty_body_leaves_a_file_that_parses(
    tmp_path: Path, workspace: Path, fake: FakeOllama
) -> None:
    """M-TAB (completion-at-point) in the empty body of the last function: the model
    rambles on past the function; the saved file parses and holds the correct line."""
    fake.responder = lambda body: "" if "messages" in body else RAMBLING
    (workspace / "shop.py").write_text(SHOP)
    rc, output, evidence = run_emacs(
        tmp_path, workspace, "complete", "shop.py", LINE=str(SHOP_BODY_LINE)
    )
    text = (workspace / "shop.py").read_text()
    assert rc == 0 and "RESULT: PASS" in output, evidence
    assert f"\n    {CORRECT_LINE}\n" in text, f"shop.py:\n{text}\n{evidence}"
    try:
        ast.parse(text)
    except SyntaxError as error:
        pytest.fail(f"shop.py no longer parses ({error}):\n{text}\n{evidence}")
