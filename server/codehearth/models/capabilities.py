"""What a model can do, read from what its server says about it (``show``).

Chat, code actions and the critic send a conversation; only an instruction-tuned model
can follow one. A *base* model (Gemma 3 270M as bundled, Qwen2.5-Coder's ``-base`` tags)
only continues text: sent a chat prompt, it echoes the prompt back. So each model is
classified, never by its name (users rename and re-tag models), from:

* ``chat_template``: the chat template an OpenAI-compatible server or a GGUF reports; an
  empty one says there is none (a base model);
* Ollama's ``capabilities``: ``tools`` needs a template that takes messages; a model that
  lists only ``embedding`` writes no text;
* Ollama's ``template``: a Go template that ranges over ``.Messages`` (or a Jinja one over
  ``messages``) is a chat template; Ollama gives a model published without one the bare
  ``{{ .Prompt }}``;
* ``general.finetune`` in ``model_info`` ("Instruct", "chat", "it").

Whatever none of them settles stays unknown, and an unknown model is tried: only a model
known to be a base model is kept from a conversation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from codehearth.prompts.family import detect_family

_BARE_TEMPLATES = frozenset({"{{ .Prompt }}", "{{- .Prompt }}", "{{ .Prompt -}}", "{{.Prompt}}"})
_MESSAGES = re.compile(r"\.Messages\b|\bmessages\b")
_INSTRUCT_FINETUNE = re.compile(r"(?i)(?:^|[^a-z])(instruct|chat|it|sft|dpo)(?:$|[^a-z])")
_PARAMETER_SIZE = re.compile(r"(?i)^\s*([\d.]+)\s*([KMBT])\s*$")
_SCALE = {"K": 1e-6, "M": 1e-3, "B": 1.0, "T": 1e3}
TOOL_PROTOCOL_BILLIONS = 1.0
"""Below this many parameters a model is not shown a JSON tool protocol: models this small
answer with the protocol's text instead of following it."""


@attrs.frozen
class ModelCapabilities:
    """What one model can do. ``follows_instructions`` is None when nothing tells."""

    follows_instructions: bool | None
    fills_in_the_middle: bool
    calls_tools: bool
    embeds_only: bool
    reason: str
    """What told whether it follows instructions."""

    def labels(self) -> list[str]:
        """Short names for ``doctor`` and ``codehearth.status``."""
        kind = {True: "instruct", False: "base", None: "instruct?"}[self.follows_instructions]
        labels = ["embedding"] if self.embeds_only else [kind]
        if self.fills_in_the_middle:
            labels.append("fim")
        if self.calls_tools:
            labels.append("tools")
        return labels


def detect_capabilities(show: Mapping[str, Any]) -> ModelCapabilities:
    """Classify a model from its server's ``show`` answer (see the module docstring)."""
    listed = show.get("capabilities")
    capabilities = set(listed) if isinstance(listed, list | tuple) else set()
    tools = "tools" in capabilities
    embeds_only = bool(capabilities) and capabilities <= {"embedding"}
    fim = detect_family(show).supports_fim
    follows, reason = _follows_instructions(show, capabilities, embeds_only)
    return ModelCapabilities(follows, fim, tools, embeds_only, reason)


def _follows_instructions(
    show: Mapping[str, Any], capabilities: set[str], embeds_only: bool
) -> tuple[bool | None, str]:
    if embeds_only:
        return False, "an embedding model: it writes no text"
    chat_template = show.get("chat_template")
    if isinstance(chat_template, str):
        if chat_template.strip():
            return True, "it has a chat template"
        return False, "a base model (no chat template)"
    if "tools" in capabilities:
        return True, "it calls tools, so its template takes messages"
    template = show.get("template")
    if isinstance(template, str) and template.strip():
        if _MESSAGES.search(template):
            return True, "its template takes messages"
        if template.strip() in _BARE_TEMPLATES:
            return False, "a base model (its template passes the prompt through bare)"
    info = show.get("model_info")
    finetune = info.get("general.finetune") if isinstance(info, Mapping) else None
    if isinstance(finetune, str) and _INSTRUCT_FINETUNE.search(finetune):
        return True, f"fine-tuned as '{finetune}'"
    return None, "its server does not say whether it follows instructions"


def parameter_billions(show: Mapping[str, Any]) -> float | None:
    """The model's size in billions of parameters (``details.parameter_size``: "135M",
    "1.5B"), when its server says."""
    details = show.get("details")
    size = details.get("parameter_size") if isinstance(details, Mapping) else None
    found = _PARAMETER_SIZE.match(size) if isinstance(size, str) else None
    if found is None:
        return None
    try:
        return float(found.group(1)) * _SCALE[found.group(2).upper()]
    except ValueError:
        return None


def follows_a_tool_protocol(show: Mapping[str, Any]) -> bool:
    """Whether a model without native tool calling may be shown the JSON tool protocol:
    not one known to be smaller than :data:`TOOL_PROTOCOL_BILLIONS`."""
    size = parameter_billions(show)
    return size is None or size >= TOOL_PROTOCOL_BILLIONS


def tool_support(show: Mapping[str, Any]) -> tuple[bool, bool]:
    """(native tool calling, the JSON tool protocol) for a chat with this model."""
    listed = show.get("capabilities")
    native = isinstance(listed, list | tuple) and "tools" in listed
    return native, follows_a_tool_protocol(show)
