"""User-defined code actions (``actions.custom``): which entries are kept, the warnings for
the rest, and how their templates map onto the action prompt's placeholders."""

from __future__ import annotations

from typing import Any

import pytest

from codehearth.features.code_actions import CustomAction, custom_actions
from codehearth.prompts.actions import ActionRequest, fill_template
from codehearth.settings import build_settings

GOOD = {"title": "Use f-strings", "prompt": "Rewrite {code} with f-strings.", "mode": "edit"}


@pytest.mark.parametrize(
    ("entries", "kept", "warnings"),
    [
        pytest.param([], [], [], id="none"),
        pytest.param(
            [GOOD, {"title": "Review", "prompt": "Review {code}", "mode": "chat"}],
            [
                CustomAction("Use f-strings", GOOD["prompt"], "edit"),
                CustomAction("Review", "Review {code}", "chat"),
            ],
            [],
            id="edit-and-chat",
        ),
        pytest.param(
            [{"title": " Padded ", "prompt": "p"}],
            [CustomAction("Padded", "p", "edit")],
            [],
            id="mode-defaults-to-edit",
        ),
        pytest.param(
            [{"prompt": "p"}], [], ["actions.custom entry 1 has no title; skipped"], id="no-title"
        ),
        pytest.param(
            [{"title": " ", "prompt": "p"}],
            [],
            ["actions.custom entry 1 has no title; skipped"],
            id="blank-title",
        ),
        pytest.param(
            [{"title": "T", "prompt": 3}],
            [],
            ["actions.custom entry 1 (T) has no prompt; skipped"],
            id="prompt-not-text",
        ),
        pytest.param(
            [{"title": "T", "prompt": "p", "mode": "apply"}],
            [],
            ["actions.custom entry 1 (T): mode must be 'edit' or 'chat', not 'apply'; skipped"],
            id="unknown-mode",
        ),
        pytest.param(
            [GOOD, GOOD],
            [CustomAction("Use f-strings", GOOD["prompt"], "edit")],
            ["actions.custom entry 2: the title 'Use f-strings' is used twice; skipped"],
            id="duplicate-title",
        ),
        pytest.param(
            [{**GOOD, "kind": "refactor"}],
            [CustomAction("Use f-strings", GOOD["prompt"], "edit")],
            ["actions.custom entry 1: unknown key(s) kind ignored"],
            id="unknown-key-kept",
        ),
    ],
)
def test_custom_actions_keep_valid_entries_and_warn_about_the_rest(
    entries: list[dict[str, Any]], kept: list[CustomAction], warnings: list[str]
) -> None:
    assert custom_actions(entries) == (kept, warnings)


def test_the_setting_takes_tables_from_toml_and_editors() -> None:
    loaded = build_settings({"actions": {"custom": [GOOD]}})
    assert loaded.warnings == ()
    assert custom_actions(loaded.settings.actions.custom) == (
        [CustomAction("Use f-strings", GOOD["prompt"], "edit")],
        [],
    )


@pytest.mark.parametrize(
    ("prompt", "instruction", "expected"),
    [
        pytest.param(
            "Fix {code} in {file} ({language}).",
            "",
            "Fix ```python\nx = 1\n``` in src/a.py (python).",
            id="placeholders",
        ),
        pytest.param(
            "Do this: {instruction}", "rename x to y", "Do this: rename x to y", id="instruction"
        ),
        pytest.param("Do this: {instruction}!", "", "Do this: !", id="no-instruction"),
        pytest.param(
            "Also {selection} and {path}",
            "",
            "Also ```python\nx = 1\n``` and src/a.py",
            id="prompt-module-names",
        ),
        pytest.param("Keep {other} and {Code}", "", "Keep {other} and {Code}", id="unknown"),
    ],
)
def test_templates_fill_in_one_pass(prompt: str, instruction: str, expected: str) -> None:
    request = ActionRequest(path="src/a.py", language_id="python", selection="x = 1\n")
    template = CustomAction("T", prompt, "edit").template(instruction)
    assert fill_template(template, request) == expected
