"""Fill-in-the-middle (FIM) prompt templates, one per model family.

Each template turns a :class:`FimRequest` (the text before and after the cursor, plus
optional cross-file context) into the exact raw prompt string the model was trained on,
and carries the stop strings that end a completion for that family. The special tokens
and layouts are copied from each model's own documentation or reference code; the source
is cited next to every template. Prompts are meant for Ollama's ``raw`` generate mode, so
nothing here relies on Ollama's own template.

Families whose tokenizers have repository-level tokens (Qwen2.5-Coder, StarCoder2) render
context snippets with those tokens. The others render each snippet as a comment header
(``{comment_prefix} Path: {path}``) followed by its text, at the start of the prefix
section, which is the convention DeepSeek-Coder's README uses for repository-level
completion.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs


@attrs.frozen
class ContextSnippet:
    """A piece of another file shown to the model as context."""

    path: str
    text: str


@attrs.frozen
class FimRequest:
    """Everything a template needs to render one completion prompt."""

    prefix: str
    suffix: str
    file_path: str | None = None
    repo_name: str | None = None
    context: tuple[ContextSnippet, ...] = ()
    comment_prefix: str = "#"


@attrs.frozen
class FimTemplate:
    """A model family's prompt layout and stop strings."""

    family: str
    supports_fim: bool
    stop: tuple[str, ...]
    supports_repo_level: bool
    _renderer: Callable[[FimRequest], str] = attrs.field(repr=False)

    def render(self, request: FimRequest) -> str:
        """Return the raw prompt for ``request``."""
        return self._renderer(request)


def _comment_context(request: FimRequest) -> str:
    """Render context snippets as comment-headed blocks, for families without file tokens.

    When there is context and the current file's path is known, the current file gets a
    header too, so the model sees where the other files end and the edited file begins.
    """
    if not request.context:
        return ""
    parts: list[str] = []
    for snippet in request.context:
        text = snippet.text if snippet.text.endswith("\n") else snippet.text + "\n"
        parts.append(f"{request.comment_prefix} Path: {snippet.path}\n{text}\n")
    if request.file_path:
        parts.append(f"{request.comment_prefix} Path: {request.file_path}\n")
    return "".join(parts)


# Qwen2.5-Coder.
# File level: README "File-Level Code Completion (Fill in the middle)",
#   https://github.com/QwenLM/Qwen2.5-Coder#3-file-level-code-completion-fill-in-the-middle
# Repository level: technical report (arXiv:2409.12186) §3.2.2 and the official example
#   https://github.com/QwenLM/Qwen2.5-Coder/blob/main/examples/Qwen2.5-Coder-repolevel-fim.py
#   <|repo_name|>{repo}\n<|file_sep|>{path}\n{text}\n...<|file_sep|>{path}\n<|fim_prefix|>...
# Stops: the eos_token_ids of that example (151643, 151645, 151659-151664).
_QWEN_STOP = (
    "<|endoftext|>",
    "<|fim_prefix|>",
    "<|fim_suffix|>",
    "<|fim_middle|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
    "<|im_end|>",
)


def _render_qwen(request: FimRequest) -> str:
    fim = f"<|fim_prefix|>{request.prefix}<|fim_suffix|>{request.suffix}<|fim_middle|>"
    if request.repo_name is None and not request.context:
        return fim
    parts: list[str] = []
    if request.repo_name is not None:
        parts.append(f"<|repo_name|>{request.repo_name}\n")
    for snippet in request.context:
        parts.append(f"<|file_sep|>{snippet.path}\n{snippet.text}\n")
    parts.append(f"<|file_sep|>{request.file_path}\n" if request.file_path else "<|file_sep|>")
    parts.append(fim)
    return "".join(parts)


# CodeGemma: model card "For Code Completion" and
#   https://ai.google.dev/gemma/docs/codegemma/prompt-structure
# No extra spaces or newlines around the tokens. The model card's terminators are the three
# FIM tokens, <|file_separator|> and <eos>; Ollama's codegemma also stops on <end_of_turn>.
# The file separator's multi-file layout is not documented, so context uses comments.
_CODEGEMMA_STOP = (
    "<|fim_prefix|>",
    "<|fim_suffix|>",
    "<|fim_middle|>",
    "<|file_separator|>",
    "<eos>",
    "<end_of_turn>",
)


def _render_codegemma(request: FimRequest) -> str:
    return (
        f"<|fim_prefix|>{_comment_context(request)}{request.prefix}"
        f"<|fim_suffix|>{request.suffix}<|fim_middle|>"
    )


# DeepSeek-Coder and DeepSeek-Coder-V2: README "Code Insertion",
#   https://github.com/deepseek-ai/DeepSeek-Coder#2-code-insertion
#   https://github.com/deepseek-ai/DeepSeek-Coder-V2#code-insertion
# The bars are U+FF5C FULLWIDTH VERTICAL LINE and the word joiner is U+2581 LOWER ONE EIGHTH
# BLOCK. Stops: the base models' EOS <｜end▁of▁sentence｜>, the FIM tokens, and the instruct
# models' <|EOT|> (ASCII bars). Repository-level context follows the README's "#path" style.
_DEEPSEEK_STOP = (
    "<｜end▁of▁sentence｜>",
    "<｜fim▁begin｜>",
    "<｜fim▁hole｜>",
    "<｜fim▁end｜>",
    "<|EOT|>",
)


def _render_deepseek(request: FimRequest) -> str:
    return (
        f"<｜fim▁begin｜>{_comment_context(request)}{request.prefix}"
        f"<｜fim▁hole｜>{request.suffix}<｜fim▁end｜>"
    )


# StarCoder (v1): model card "Fill-in-the-middle", https://huggingface.co/bigcode/starcoder
#   <fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>
# Its vocabulary has <filename>/<reponame> metadata tokens but no file separator, so context
# uses comments.
_STARCODER_STOP = (
    "<|endoftext|>",
    "<fim_prefix>",
    "<fim_suffix>",
    "<fim_middle>",
    "<fim_pad>",
    "<filename>",
    "<reponame>",
)


def _render_starcoder(request: FimRequest) -> str:
    return (
        f"<fim_prefix>{_comment_context(request)}{request.prefix}"
        f"<fim_suffix>{request.suffix}<fim_middle>"
    )


# StarCoder2: paper "StarCoder 2 and The Stack v2" (arXiv:2402.19173) §5.1, repository-level
# FIM:
#   <repo_name>reponame<file_sep>filepath0\ncode0<file_sep><fim_prefix>filepath1\n
#   code1_pre<fim_suffix>code1_suf<fim_middle>
# Only the newline after each path is added; the FIM'd file's path sits after <fim_prefix>.
# Without repository context the plain file-level form is used, as in the model card.
_STARCODER2_STOP = (
    "<|endoftext|>",
    "<fim_prefix>",
    "<fim_suffix>",
    "<fim_middle>",
    "<fim_pad>",
    "<file_sep>",
    "<repo_name>",
)


def _render_starcoder2(request: FimRequest) -> str:
    if request.repo_name is None and not request.context:
        return f"<fim_prefix>{request.prefix}<fim_suffix>{request.suffix}<fim_middle>"
    parts: list[str] = []
    if request.repo_name is not None:
        parts.append(f"<repo_name>{request.repo_name}")
    for snippet in request.context:
        parts.append(f"<file_sep>{snippet.path}\n{snippet.text}")
    path_line = f"{request.file_path}\n" if request.file_path else ""
    parts.append(
        f"<file_sep><fim_prefix>{path_line}{request.prefix}<fim_suffix>{request.suffix}<fim_middle>"
    )
    return "".join(parts)


# Code Llama infilling: Meta's reference code, llama/generation.py infilling_prompt_tokens,
#   https://github.com/meta-llama/codellama/blob/main/llama/generation.py
#   format as "<PRE> {pre} <SUF>{suf} <MID>"
# and Ollama's codellama:*-code template `<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>`
# (https://github.com/ollama/ollama/blob/main/docs/template.md). The spaces are part of the
# format: SentencePiece gives the prefix a leading space, and the tokenizer spells the
# suffix/middle sentinels with one ("▁<SUF>", "▁<MID>"). <EOT> ends the infill. </s> is left
# out on purpose: as a stop string it would also cut HTML such as <s>..</s>.
_CODELLAMA_STOP = ("<EOT>", "<PRE>", "<SUF>", "<MID>")


def _render_codellama(request: FimRequest) -> str:
    return f"<PRE> {_comment_context(request)}{request.prefix} <SUF>{request.suffix} <MID>"


# Codestral: suffix first. mistral-common InstructTokenizerV2.encode_fim emits
#   [BOS] [SUFFIX] suffix [PREFIX] prefix
# encoding the suffix without SentencePiece's leading space and the prefix with it, which is
# what Ollama's documented template writes as text: `[SUFFIX]{{ .Suffix }}[PREFIX] {{ .Prompt }}`
# (https://github.com/ollama/ollama/blob/main/docs/template.md,
#  https://github.com/mistralai/mistral-common/blob/main/src/mistral_common/tokens/tokenizers/instruct.py).
# </s> is left out of the stops for the same reason as Code Llama's.
_CODESTRAL_STOP = ("[PREFIX]", "[SUFFIX]", "[MIDDLE]", "[INST]", "[/INST]")


def _render_codestral(request: FimRequest) -> str:
    return f"[SUFFIX]{request.suffix}[PREFIX] {_comment_context(request)}{request.prefix}"


# Plain: for models without infilling. The model continues the prefix; the suffix is dropped.
# No stop strings, so the model's own defaults (from its Modelfile) apply.
def _render_plain(request: FimRequest) -> str:
    return f"{_comment_context(request)}{request.prefix}"


_TEMPLATES: dict[str, FimTemplate] = {
    template.family: template
    for template in (
        FimTemplate("qwen2.5-coder", True, _QWEN_STOP, True, _render_qwen),
        FimTemplate("codegemma", True, _CODEGEMMA_STOP, False, _render_codegemma),
        FimTemplate("deepseek-coder", True, _DEEPSEEK_STOP, False, _render_deepseek),
        FimTemplate("starcoder", True, _STARCODER_STOP, False, _render_starcoder),
        FimTemplate("starcoder2", True, _STARCODER2_STOP, True, _render_starcoder2),
        FimTemplate("codellama", True, _CODELLAMA_STOP, False, _render_codellama),
        FimTemplate("codestral", True, _CODESTRAL_STOP, False, _render_codestral),
        FimTemplate("plain", False, (), False, _render_plain),
    )
}

FAMILIES: tuple[str, ...] = tuple(_TEMPLATES)


def get_template(family: str) -> FimTemplate:
    """Return the template for ``family``; raise ValueError naming the known families."""
    try:
        return _TEMPLATES[family]
    except KeyError:
        raise ValueError(
            f"unknown model family {family!r}; known families: {', '.join(FAMILIES)}"
        ) from None
