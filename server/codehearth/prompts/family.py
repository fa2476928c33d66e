"""Work out which FIM template family fits a model, from Ollama's ``/api/show`` response.

Detection never looks at the model's name (users rename and re-tag models freely). It uses:

* ``capabilities``: Ollama lists ``"insert"`` when the model's template accepts a suffix;
* ``template``: the FIM sentinels a template contains identify the family precisely;
* ``model_info["general.architecture"]``: a fallback when the template names no tokens.

A backend that found the family out another way (an OpenAI-compatible server's tokenizer,
see :mod:`codehearth.models.openai_backend`) reports it as ``fim``: ``{"family",
"reason"}``, which comes first. A model that neither advertises ``insert`` nor has FIM
tokens in its template is ``plain`` (prefix-only completion). An explicit override always
wins, once validated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from codehearth.prompts.fim import FAMILIES, get_template


@attrs.frozen
class FamilyDetection:
    """The chosen template family, whether it infills, and why it was chosen."""

    family: str
    supports_fim: bool
    reason: str


# Architecture (general.architecture in GGUF metadata) → family, used when the model can
# infill but its template shows no recognisable sentinels.
_ARCH_FAMILIES: dict[str, str] = {
    "qwen2": "qwen2.5-coder",
    "qwen2moe": "qwen2.5-coder",
    "qwen3": "qwen2.5-coder",
    "qwen3moe": "qwen2.5-coder",
    "gemma": "codegemma",
    "gemma2": "codegemma",
    "gemma3": "codegemma",
    "deepseek": "deepseek-coder",
    "deepseek2": "deepseek-coder",
    "starcoder": "starcoder",
    "starcoder2": "starcoder2",
    "llama": "codellama",
    "mistral": "codestral",
}


def _model_info(show: Mapping[str, Any]) -> Mapping[str, Any]:
    # The HTTP API says "model_info"; ollama-python's ShowResponse.model_dump() says "modelinfo".
    info = show.get("model_info") or show.get("modelinfo") or {}
    return info if isinstance(info, Mapping) else {}


def _architecture(show: Mapping[str, Any]) -> str | None:
    arch = _model_info(show).get("general.architecture")
    if isinstance(arch, str) and arch:
        return arch
    details = show.get("details")
    if isinstance(details, Mapping):
        family = details.get("family")
        if isinstance(family, str) and family:
            return family
    return None


def _family_from_template(template: str, arch: str | None) -> tuple[str, str] | None:
    """Return (family, reason) from the FIM sentinels in an Ollama template, if any."""
    arch_name = arch or "unknown"
    if "fim▁begin" in template:
        return "deepseek-coder", "template uses <｜fim▁begin｜>"
    if "[SUFFIX]" in template and "[PREFIX]" in template:
        return "codestral", "template uses [SUFFIX]/[PREFIX]"
    if "<PRE>" in template and "<SUF>" in template:
        return "codellama", "template uses <PRE>/<SUF>/<MID>"
    if "<|fim_prefix|>" in template:
        if arch_name.startswith("gemma"):
            return "codegemma", f"template uses <|fim_prefix|> on architecture {arch_name}"
        return "qwen2.5-coder", f"template uses <|fim_prefix|> on architecture {arch_name}"
    if "<fim_prefix>" in template:
        if arch == "starcoder2":
            return "starcoder2", "template uses <fim_prefix> on architecture starcoder2"
        # StarCoder and other <fim_prefix> models (e.g. Granite Code, CodeQwen1.5) share the
        # file-level layout; only StarCoder2's repository tokens are known to exist.
        return "starcoder", f"template uses <fim_prefix> on architecture {arch_name}"
    return None


def detect_family(show: Mapping[str, Any], override: str | None = None) -> FamilyDetection:
    """Pick the FIM template family for the model described by an ``/api/show`` response.

    ``override`` (a name from ``codehearth.prompts.fim.FAMILIES``) wins when given;
    an unknown override raises ValueError.
    """
    if override is not None:
        template = get_template(override)
        return FamilyDetection(override, template.supports_fim, "configured override")

    reported = show.get("fim")
    if isinstance(reported, Mapping) and reported.get("family") in FAMILIES:
        family = str(reported["family"])
        template = get_template(family)
        return FamilyDetection(family, template.supports_fim, str(reported.get("reason", "")))

    arch = _architecture(show)
    capabilities = show.get("capabilities") or ()
    can_insert = isinstance(capabilities, list | tuple) and "insert" in capabilities
    ollama_template = show.get("template")
    from_tokens = (
        _family_from_template(ollama_template, arch) if isinstance(ollama_template, str) else None
    )

    if from_tokens is not None:
        family, reason = from_tokens
        return FamilyDetection(family, True, reason)
    if not can_insert:
        return FamilyDetection(
            "plain", False, "no 'insert' capability and no FIM tokens in the template"
        )
    if arch is not None and arch in _ARCH_FAMILIES:
        family = _ARCH_FAMILIES[arch]
        return FamilyDetection(
            family, True, f"'insert' capability on architecture {arch}, template names no tokens"
        )
    return FamilyDetection(
        "plain",
        False,
        f"'insert' capability but unknown architecture {arch or 'unknown'}; prefix only",
    )


def context_length(show: Mapping[str, Any]) -> int | None:
    """Return the model's trained context length (``<arch>.context_length``), if reported."""
    arch = _architecture(show)
    if arch is None:
        return None
    value = _model_info(show).get(f"{arch}.context_length")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value
