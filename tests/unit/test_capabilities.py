"""What a model can do, from its server's ``show``: base or instruction-tuned, FIM, tools,
embeddings; the fake Ollama's models and the GGUF-shaped answers of the built-in models."""

from __future__ import annotations

from typing import Any

import pytest
from tests.fakes.fake_ollama import BARE_TEMPLATE, LLAMA_TEMPLATE, QWEN_CODER_TEMPLATE

from codehearth.models.capabilities import detect_capabilities


def ollama(template: str, capabilities: list[str], finetune: str = "") -> dict[str, Any]:
    info: dict[str, Any] = {"general.architecture": "qwen2"}
    if finetune:
        info["general.finetune"] = finetune
    return {"template": template, "capabilities": capabilities, "model_info": info}


@pytest.mark.parametrize(
    ("show", "follows", "labels"),
    [
        pytest.param(
            ollama(QWEN_CODER_TEMPLATE, ["completion", "tools", "insert"], "Instruct"),
            True,
            ["instruct", "fim", "tools"],
            id="ollama-qwen-coder-instruct",
        ),
        pytest.param(
            ollama(BARE_TEMPLATE, ["completion"]), False, ["base"], id="ollama-bare-template"
        ),
        pytest.param(
            ollama(LLAMA_TEMPLATE, ["completion", "tools"], "Instruct"),
            True,
            ["instruct", "tools"],
            id="ollama-llama-instruct",
        ),
        pytest.param(
            ollama("", ["embedding"]), False, ["embedding"], id="ollama-embedding-model"
        ),
        pytest.param(
            ollama("{{ .System }} {{ .Prompt }}", ["completion"], "Instruct"),
            True,
            ["instruct"],
            id="finetune-names-it",
        ),
        pytest.param(
            {"chat_template": "{% for message in messages %}...", "capabilities": ["completion"]},
            True,
            ["instruct"],
            id="gguf-with-chat-template",
        ),
        pytest.param(
            {"chat_template": "", "capabilities": ["completion"]},
            False,
            ["base"],
            id="gguf-without-chat-template",
        ),
        pytest.param({"model_info": {}}, None, ["instruct?"], id="openai-compatible-unknown"),
    ],
)
def test_what_a_model_can_do(show: dict[str, Any], follows: bool | None, labels: list[str]) -> None:
    found = detect_capabilities(show)
    assert found.follows_instructions is follows, found.reason
    assert found.labels() == labels
