"""The user's rules reach the prompts: the global ``rules.md`` (under $XDG_CONFIG_HOME) and
the workspace's ``.codehearth/rules.md``, merged, for code actions and chat; invisible
characters are stripped first and reported once."""

from __future__ import annotations

import os
from pathlib import Path

from pytest_lsp import LanguageClient

from tests.e2e.test_code_actions import quick_fix, scripted
from tests.e2e.test_memory_commands import command
from tests.fakes.fake_ollama import FakeOllama

GLOBAL_RULE = "Prefer early returns."
WORKSPACE_RULE = "Name booleans is_* or has_*."


def write_rules(workspace: Path) -> Path:
    global_rules = Path(os.environ["XDG_CONFIG_HOME"]) / "codehearth" / "rules.md"
    global_rules.parent.mkdir(parents=True, exist_ok=True)
    global_rules.write_text(GLOBAL_RULE, encoding="utf-8")
    (workspace / ".codehearth").mkdir()
    (workspace / ".codehearth" / "rules.md").write_text(
        "Name booleans\u200b is_* or has_*.",
        encoding="utf-8",  # a zero-width space hides in it
    )
    return global_rules


def prompt_of(body: dict[str, object]) -> str:
    messages = body.get("messages") or []
    assert isinstance(messages, list)
    return "\n".join(str(message.get("content", "")) for message in messages)


async def test_rules_reach_the_code_action_and_chat_prompts(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    global_rules = write_rules(workspace)
    try:
        model = scripted("```python\n```")
        ollama.responder = model
        _, stub = await quick_fix(client, workspace)
        await client.code_action_resolve_async(stub)
        action_prompt = prompt_of(model.calls[0])
        assert GLOBAL_RULE in action_prompt and WORKSPACE_RULE in action_prompt
        assert action_prompt.index(GLOBAL_RULE) < action_prompt.index(WORKSPACE_RULE)
        assert "\u200b" not in action_prompt

        ollama.set_text("Noted.")
        await command(client, "codehearth.memory.show")  # memory is open
        answer = await command(client, "codehearth.chat", {"question": "Any rules?"})
        assert answer["ok"] is True
        chat_prompt = prompt_of(ollama.generations()[-1].body or {})
        assert GLOBAL_RULE in chat_prompt and WORKSPACE_RULE in chat_prompt
        assert sum("U+200B" in params.message for params in client.log_messages) == 1
    finally:
        global_rules.unlink()
