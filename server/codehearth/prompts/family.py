"""Work out which FIM template family fits a model, from Ollama's ``/api/show`` response.

Detection never looks at the model's name (users rename and re-tag models freely). It uses:

* ``template``: the FIM sentinels a template contains identify the family precisely;
* ``capabilities``: Ollama lists ``"insert"`` when the model's Go template accepts a
  suffix; then ``model_info["general.architecture"]`` names the family;
* the vocabulary, when the two above leave the model prefix-only: a model published with
  a bare template (Qwen2.5-Coder's ``-base`` tags) or with Ollama showing its Jinja chat
  template has neither, yet its FIM tokens are in ``tokenizer.ggml.tokens``, which only a
  verbose ``/api/show`` lists (:func:`fim_tokens_in` picks them out).

A backend that found the family out another way (an OpenAI-compatible server's tokenizer,
see :mod:`codehearth.models.openai_backend`) reports it as ``fim``: ``{"family",
"reason"}``, which comes first. Any of the other fields may be missing. A model none of
them marks as a FIM model is ``plain`` (prefix-only completion). An explicit override
always wins, once validated.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
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


FIM_TOKENS = frozenset(
    {
        "<|fim_prefix|>",  # Qwen2.5-Coder, CodeGemma
        "<fim_prefix>",  # StarCoder, StarCoder2, Granite Code
        "<｜fim▁begin｜>",  # DeepSeek-Coder
        "<PRE>",  # Code Llama; its SentencePiece vocabulary spells them with a leading ▁
        "<SUF>",
        "▁<PRE>",
        "▁<SUF>",
        "[PREFIX]",  # Codestral
        "[SUFFIX]",
    }
)
"""The vocabulary tokens that tell a family's FIM layout apart."""


def fim_tokens_in(tokens: Iterable[object]) -> frozenset[str]:
    """The :data:`FIM_TOKENS` among a vocabulary's tokens (``tokenizer.ggml.tokens``)."""
    return frozenset(token for token in tokens if isinstance(token, str) and token in FIM_TOKENS)


def _model_info(show: Mapping[str, Any]) -> Mapping[str, Any]:
    info = show.get("model_info") or {}  # left out by Ollama before 0.14.3 when empty
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


def _family_from_tokens(text: str, arch: str | None) -> tuple[str, str] | None:
    """Return (family, the tokens that tell) from the FIM sentinels in a template or a
    list of vocabulary tokens, if any."""
    arch_name = arch or "unknown"
    if "fim▁begin" in text:
        return "deepseek-coder", "<｜fim▁begin｜>"
    if "[SUFFIX]" in text and "[PREFIX]" in text:
        return "codestral", "[SUFFIX]/[PREFIX]"
    if "<PRE>" in text and "<SUF>" in text:
        return "codellama", "<PRE>/<SUF>/<MID>"
    if "<|fim_prefix|>" in text:
        if arch_name.startswith("gemma"):
            return "codegemma", f"<|fim_prefix|> on architecture {arch_name}"
        return "qwen2.5-coder", f"<|fim_prefix|> on architecture {arch_name}"
    if "<fim_prefix>" in text:
        if arch == "starcoder2":
            return "starcoder2", "<fim_prefix> on architecture starcoder2"
        # StarCoder and other <fim_prefix> models (e.g. Granite Code, CodeQwen1.5) share the
        # file-level layout; only StarCoder2's repository tokens are known to exist.
        return "starcoder", f"<fim_prefix> on architecture {arch_name}"
    return None


def detect_family(
    show: Mapping[str, Any],
    override: str | None = None,
    vocabulary: Collection[str] | None = None,
) -> FamilyDetection:
    """Pick the FIM template family for the model described by an ``/api/show`` response.

    ``override`` (a name from ``codehearth.prompts.fim.FAMILIES``) wins when given;
    an unknown override raises ValueError. ``vocabulary``: the model's FIM tokens
    (:func:`fim_tokens_in`) when they were looked up, consulted when the template and
    capabilities do not make the model a FIM model.
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
        _family_from_tokens(ollama_template, arch) if isinstance(ollama_template, str) else None
    )

    if from_tokens is not None:
        family, tokens = from_tokens
        return FamilyDetection(family, True, f"template uses {tokens}")
    if can_insert and arch is not None and arch in _ARCH_FAMILIES:
        family = _ARCH_FAMILIES[arch]
        return FamilyDetection(
            family, True, f"'insert' capability on architecture {arch}, template names no tokens"
        )
    from_vocabulary = _family_from_tokens(" ".join(sorted(vocabulary or ())), arch)
    if from_vocabulary is not None:
        family, tokens = from_vocabulary
        return FamilyDetection(
            family, True, f"vocabulary has {tokens}; the template names no FIM tokens"
        )
    where = "the template" if vocabulary is None else "the template or the vocabulary"
    if not can_insert:
        return FamilyDetection(
            "plain", False, f"no 'insert' capability and no FIM tokens in {where}"
        )
    return FamilyDetection(
        "plain",
        False,
        f"'insert' capability but unknown architecture {arch or 'unknown'} and no FIM tokens "
        f"in {where}; prefix only",
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
