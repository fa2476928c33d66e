"""A fake Ollama HTTP server for tests, with fault injection.

`FakeOllama` speaks the Ollama wire protocol closely enough that the real `ollama`
Python client (and plain httpx) works against it unchanged: /api/generate and
/api/chat stream NDJSON over `Transfer-Encoding: chunked`, non-streamed replies carry
a `Content-Length`, connections are kept alive, and /api/show, /api/tags, /api/ps,
/api/embed and /api/version return the real response shapes. What /api/show and
/api/tags say about a model (capabilities, the GGUF metadata, the template, a cloud
model's remote host) is derived the way Ollama derives it; comments name the Ollama source
(ollama/ollama fb30760) each behaviour mirrors. Errors keep Ollama's texts, and an error
before any content is an HTTP status, never an NDJSON line.

It runs on `http_fake.FakeHttpServer` (stdlib asyncio streams in a daemon thread, so it
serves sync and async tests alike, with every byte on the wire under the fake's
control). Faults (`inject`): error statuses, streams cut mid-way, error or garbage NDJSON
lines, hung requests, trickled bodies and slow headers. Stopping and starting again on
the same port simulates Ollama going down and coming back. Everything it does is
recorded in `requests`, including whether the client hung up before a response finished.

Run it in the foreground with `python -m tests.fakes.fake_ollama --port 11434`.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import functools
import hashlib
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.http_fake import (
    JSON,
    Connection,
    FakeHttpServer,
    HttpError,
    Injection,
    RecordedRequest,
    Request,
    Response,
    encode_json,
)

__all__ = [
    "DEFAULT_TEXT",
    "EMBEDDING_DIMENSIONS",
    "GENERATION_PATHS",
    "VERSION",
    "FakeModel",
    "FakeOllama",
    "Fault",
    "RecordedRequest",
    "Responder",
]

Responder = Callable[[JSON], str | Mapping[str, Any]]
"""Maps a request body to the reply: text, or `{"content": ..., "tool_calls": [...],
"thinking": ...}` (the thinking is sent only by models with the `thinking` capability)."""

DEFAULT_TEXT = "return a + b\n"
VERSION = "0.33.0"
"""The Ollama release the fake follows (ollama/ollama fb30760, v0.33.0-rc2)."""
EMBEDDING_DIMENSIONS = 64
GENERATION_PATHS = frozenset({"/api/generate", "/api/chat"})

NDJSON_TYPE = "application/x-ndjson"
MODIFIED_AT = "2025-01-15T10:30:00.000000Z"
KEEP_ALIVE = timedelta(minutes=5)
LOADED_CONTEXT_LENGTH = 4096
FAULT_AFTER_LINES = 2

SERVER_ERROR_MESSAGE = "llama runner process has terminated: exit status 2"
OVERLOADED_MESSAGE = "server busy, please try again.  maximum pending requests exceeded"
STREAM_ERROR_MESSAGE = "an error was encountered while running the model: unexpected EOF"
BAD_JSON_LINE = b'{"model":"oops", this is not json\n'

# Word-ish pieces with their leading space, like a BPE tokenizer's output.
TOKEN_PATTERN = re.compile(r" ?\w+| ?[^\w\s]+|\s+(?!\S)|\s+")

_log = logging.getLogger(__name__)


class Fault(enum.StrEnum):
    """What `FakeOllama.inject` can do to a request."""

    NOT_FOUND = "not_found"
    SERVER_ERROR = "server_error"
    OVERLOADED = "overloaded"
    DROP_MID_STREAM = "drop_mid_stream"
    ERROR_LINE = "error_line"
    BAD_JSON = "bad_json"
    HANG = "hang"
    TRICKLE = "trickle"
    SLOW_HEADERS = "slow_headers"


DEFAULT_FAULT_DELAYS = {Fault.TRICKLE: 0.05, Fault.SLOW_HEADERS: 1.0}


@dataclass(frozen=True)
class FakeModel:
    """A model in the fake's registry; `name` always carries a tag.

    `/api/show` and `/api/tags` derive from these fields what real Ollama derives from the
    manifest config, the Go template and the GGUF file: `config_capabilities` are the
    config's own (`capabilities` adds the computed ones), `template` the Go template,
    `chat_template` the GGUF's Jinja `tokenizer.chat_template` (when set, Ollama selects it
    over the Go template), `vocabulary` the GGUF's `tokenizer.ggml.tokens`. A model with a
    `remote_host` is a cloud stub: Ollama proxies it to that host and has no GGUF for it.
    """

    name: str
    architecture: str
    config_capabilities: tuple[str, ...] = ()
    template: str = ""
    chat_template: str = ""
    context_length: int = 4096
    embedding_length: int = 2048
    parameter_size: str = "1B"
    quantization_level: str = "Q4_K_M"
    size: int = 1_000_000_000
    parameters: str = ""
    basename: str = ""
    finetune: str = ""
    embedding: bool = False
    tokenizer: str = "gpt2"
    vocabulary: tuple[str, ...] = ()
    remote_host: str = ""
    remote_model: str = ""

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()

    @property
    def qualified_name(self) -> str:
        return f"registry.ollama.ai/library/{self.name}"

    @property
    def selected_template(self) -> str:
        """What `/api/show` reports as `template`: the GGUF's Jinja chat template when the
        model runs in native chat mode, else the Go template (`selectedModelTemplate`,
        server/routes.go:1623-1630)."""
        return self.chat_template or self.template

    @property
    def capabilities(self) -> list[str]:
        """Capabilities as `Model.Capabilities` computes them (server/images.go:112-261,
        414-433): the config's own first; for a GGUF model `embedding` when it has a pooling
        type, else `completion`; then from the selected template: a Jinja chat template
        gives `tools`/`thinking` by substring, a Go template `tools` when it references
        `.Tools` and `insert` when it references `.Suffix`. A remote stub has no GGUF and no
        template of its own, so only the config's capabilities."""
        found: list[str] = []

        def add(capability: str) -> None:
            if capability not in found:
                found.append(capability)

        for capability in self.config_capabilities:
            add(capability)
        if self.remote_host:
            return found
        add("embedding" if self.embedding else "completion")
        if self.chat_template:
            if "tools" in self.chat_template or "tool_call" in self.chat_template:
                add("tools")
            if "<think>" in self.chat_template and "</think>" in self.chat_template:
                add("thinking")
            return found
        variables = go_template_variables(self.template)
        if "tools" in variables:
            add("tools")
        if "suffix" in variables:
            add("insert")
        return found

    def details(self) -> JSON:
        return {
            "parent_model": "",
            "format": "" if self.remote_host else "gguf",
            "family": self.architecture,
            "families": [self.architecture] if self.architecture else None,
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }

    def gguf_metadata(self) -> JSON:
        """The GGUF key-value set, as a llama.cpp conversion writes it (general.name and
        tokenizer.chat_template included; `/api/show` drops those two)."""
        arch = self.architecture
        special = [token for token in self.vocabulary if is_special_token(token)]
        metadata: JSON = {
            "general.architecture": arch,
            "general.name": " ".join(part for part in (self.basename, self.finetune) if part),
            "general.type": "model",
            "general.size_label": self.parameter_size,
            "general.parameter_count": parameter_count(self.parameter_size),
            "general.file_type": 15,
            "general.quantization_version": 2,
            f"{arch}.block_count": 28,
            f"{arch}.context_length": self.context_length,
            f"{arch}.embedding_length": self.embedding_length,
            f"{arch}.attention.head_count": 12,
            "tokenizer.ggml.model": self.tokenizer,
            "tokenizer.ggml.tokens": list(self.vocabulary),
            "tokenizer.ggml.token_type": [
                3 if is_special_token(token) else 1 for token in self.vocabulary
            ],
        }
        if self.basename:
            metadata["general.basename"] = self.basename
        if self.finetune:
            metadata["general.finetune"] = self.finetune
        if self.embedding:
            metadata[f"{arch}.pooling_type"] = 1
        if special:
            metadata["tokenizer.ggml.eos_token_id"] = self.vocabulary.index(special[0])
        if self.chat_template:
            metadata["tokenizer.chat_template"] = self.chat_template
        return metadata

    def model_info(self, *, verbose: bool) -> JSON:
        """`model_info` of `/api/show`. A GGUF model: its key-value set minus general.name
        and tokenizer.chat_template (server/routes.go:1567-1581), every array longer than 5
        items blanked to `[]` unless `verbose` (`getModelData`, server/routes.go:1600-1620).
        A remote stub: only what its config names (server/routes.go:1475-1493)."""
        if self.remote_host:
            if not self.architecture:
                return {}
            return {
                "general.architecture": self.architecture,
                **({"general.basename": self.basename} if self.basename else {}),
                f"{self.architecture}.context_length": self.context_length,
                f"{self.architecture}.embedding_length": self.embedding_length,
            }
        info = {
            key: [] if isinstance(value, list) and len(value) > 5 and not verbose else value
            for key, value in self.gguf_metadata().items()
        }
        del info["general.name"]
        info.pop("tokenizer.chat_template", None)
        return info

    def show(self, *, verbose: bool = False, omit_empty_model_info: bool = False) -> JSON:
        """The `/api/show` body (`api.ShowResponse`, api/types.go:737-755: empty fields are
        left out). Ollama before 0.14.3 also left out an empty `model_info` (`omitempty`,
        changed by ollama/ollama e98b5e8b4)."""
        shown: JSON = {
            "modelfile": self._modelfile(),
            "parameters": self.parameters,
            "template": self.selected_template,
            "details": self.details(),
            "model_info": self.model_info(verbose=verbose),
            "capabilities": self.capabilities,
            "modified_at": MODIFIED_AT,
            "remote_model": self.remote_model,
            "remote_host": self.remote_host,
        }
        if omit_empty_model_info and not shown["model_info"]:
            del shown["model_info"]
        return {key: value for key, value in shown.items() if value not in ("", [])}

    def listing(self, *, with_capabilities: bool = True) -> JSON:
        """An `/api/tags` entry (`api.ListModelResponse`, api/types.go:822-832): with
        `remote_model`/`remote_host` for a cloud stub and, since Ollama 0.30.0, the
        capabilities (server/model_list_cache.go `buildModelListSummary`)."""
        listed: JSON = {
            "name": self.name,
            "model": self.name,
            "modified_at": MODIFIED_AT,
            "size": self.size,
            "digest": self.digest,
            "details": self.details(),
        }
        if self.remote_host:
            listed["remote_model"] = self.remote_model
            listed["remote_host"] = self.remote_host
        if with_capabilities and (capabilities := self.capabilities):
            listed["capabilities"] = capabilities
        return listed

    def process(self, expires_at: str) -> JSON:
        return {
            "name": self.name,
            "model": self.name,
            "size": self.size,
            "digest": self.digest,
            "details": self.details(),
            "expires_at": expires_at,
            "size_vram": self.size,
            "context_length": LOADED_CONTEXT_LENGTH,
        }

    def _modelfile(self) -> str:
        source = self.remote_model or f"/root/.ollama/models/blobs/sha256-{self.digest}"
        return (
            '# Modelfile generated by "ollama show"\n'
            f"FROM {source}\n"
            f'TEMPLATE """{self.template}"""\n'
        )


def older_than(version: str, other: str) -> bool:
    """Whether Ollama `version` (`0.12.0`, `0.30.0-rc2`) comes before release `other`."""

    def numbers(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", text.split("-", 1)[0]))

    return numbers(version) < numbers(other)


def go_template_variables(template: str) -> set[str]:
    """The field names a Go template references, lower case, as `template.Vars` reports
    them (template/template.go): `{{ .Suffix }}` gives `suffix`."""
    actions = re.findall(r"{{.*?}}", template, flags=re.DOTALL)
    return {name.lower() for action in actions for name in re.findall(r"\.(\w+)", action)}


def is_special_token(token: str) -> bool:
    """A control token such as `<|im_end|>`, `<fim_prefix>`, `[PAD]` or `<｜fim▁begin｜>`."""
    return bool(re.fullmatch(r"<[^<>\s]+>|\[[A-Z_]+\]|▁<[A-Z]+>", token))


def parameter_count(size_label: str) -> int:
    """`1.5B` -> 1_500_000_000, `137M` -> 137_000_000."""
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
    number, unit = size_label[:-1], size_label[-1:].upper()
    try:
        return round(float(number) * scale[unit])
    except (KeyError, ValueError):
        return 0


QWEN_CODER_TEMPLATE = (
    "{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>\n"
    "{{- else if .Messages }}\n"
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n"
    "{{- else }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n<|im_start|>assistant\n"
    "{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"
)
BARE_TEMPLATE = "{{ .Prompt }}"
"""The template of a model published without one (`-base` tags)."""
LLAMA_TEMPLATE = (
    "{{- if .Tools }}<|start_header_id|>system<|end_header_id|>\n\n"
    "You can call these functions: {{ range .Tools }}{{ . }}\n{{ end }}<|eot_id|>{{ end }}"
    "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
    "{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
)
# Small stand-ins for real vocabularies: a few ordinary BPE pieces and each family's
# control tokens, which are what CodeHearth looks for.
BPE_PIECES = ("!", '"', "#", "def", "Ġreturn", "Ġa", "Ġ+", "Ġb", "Ċ")
QWEN_CONTROL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
)
QWEN_VOCABULARY = (*BPE_PIECES, *QWEN_CONTROL_TOKENS)
LLAMA3_VOCABULARY = (
    *BPE_PIECES,
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|python_tag|>",
)
BERT_VOCABULARY = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "def", "##s")


def default_models() -> list[FakeModel]:
    """The registry a fresh `FakeOllama` starts with."""
    coder = FakeModel(
        name="qwen2.5-coder:1.5b",
        architecture="qwen2",
        template=QWEN_CODER_TEMPLATE,
        context_length=32768,
        embedding_length=1536,
        parameter_size="1.5B",
        size=986_062_089,
        parameters='stop                           "<|endoftext|>"',
        basename="Qwen2.5-Coder",
        finetune="Instruct",
        vocabulary=QWEN_VOCABULARY,
    )
    return [
        coder,
        # The base model: trained for FIM, its vocabulary has the FIM tokens, but it is
        # published with a bare template, so Ollama reports no `insert`.
        replace(
            coder,
            name="qwen2.5-coder:1.5b-base",
            template=BARE_TEMPLATE,
            finetune="",
            parameters="",
            size=986_048_768,
        ),
        replace(
            coder,
            name="qwen2.5-coder:7b",
            parameter_size="7.6B",
            embedding_length=3584,
            size=4_683_087_332,
        ),
        FakeModel(
            name="llama3.2:3b",
            architecture="llama",
            template=LLAMA_TEMPLATE,
            context_length=131072,
            embedding_length=3072,
            parameter_size="3.2B",
            size=2_019_393_189,
            basename="Llama-3.2",
            finetune="Instruct",
            vocabulary=LLAMA3_VOCABULARY,
        ),
        FakeModel(
            name="nomic-embed-text:latest",
            architecture="nomic-bert",
            embedding=True,
            context_length=2048,
            embedding_length=768,
            parameter_size="137M",
            quantization_level="F16",
            size=274_302_450,
            basename="nomic-embed-text",
            tokenizer="bert",
            vocabulary=BERT_VOCABULARY,
        ),
        # A cloud model: the local Ollama lists it, and proxies every request for it to
        # ollama.com (server/routes.go:308-398).
        FakeModel(
            name="qwen3-coder:480b-cloud",
            architecture="qwen3moe",
            config_capabilities=("completion", "tools"),
            context_length=262144,
            embedding_length=6144,
            parameter_size="480B",
            quantization_level="",
            size=382,
            basename="Qwen3-Coder",
            remote_host="https://ollama.com:443",
            remote_model="qwen3-coder:480b",
        ),
    ]


def tagged(name: str) -> str:
    """`name` with Ollama's implicit `:latest` tag added when it has none."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def tokenize(text: str) -> list[str]:
    """Split `text` into the small pieces the fake streams one at a time."""
    return TOKEN_PATTERN.findall(text)


def embedding(text: str) -> list[float]:
    """A deterministic unit vector derived from a hash of `text`."""
    digest = hashlib.shake_256(text.encode()).digest(EMBEDDING_DIMENSIONS)
    raw = [byte / 127.5 - 1.0 for byte in digest]
    norm = math.sqrt(sum(value * value for value in raw)) or 1.0
    return [value / norm for value in raw]


def cut_at_stop(text: str, stops: object) -> str:
    """`text` up to the first occurrence of any stop string, as Ollama does."""
    if isinstance(stops, str):
        stops = [stops]
    if not isinstance(stops, list):
        return text
    found = [text.find(stop) for stop in stops if isinstance(stop, str) and stop]
    return text[: min((index for index in found if index >= 0), default=len(text))]


def not_found_message(name: str, path: str) -> str:
    """The 404 text for a model Ollama does not have. Generate and chat name the model as
    asked (server/routes.go:285-289, 2481-2485); show names it with its tag
    (`DisplayShortest`, server/routes.go:1355-1367); embed looks the model up through the
    scheduler's error path, whose wording is the only one with "try pulling it first"
    (server/routes.go:848-850, `handleScheduleError` 3115-3116)."""
    if path == "/api/show":
        return f"model '{tagged(name)}' not found"
    if path == "/api/embed":
        return f'model "{name}" not found, try pulling it first'
    return f"model '{name}' not found"


def timestamp(offset: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + offset).isoformat(timespec="microseconds").replace("+00:00", "Z")


def nanoseconds(seconds: float) -> int:
    return round(seconds * 1e9)


# ---------------------------------------------------------------------------
# Planned responses and the faults that rewrite them


@dataclass(frozen=True)
class Reply:
    """What the responder produced, normalised."""

    content: str
    tool_calls: list[Any]
    thinking: str = ""

    @classmethod
    def of(cls, value: str | Mapping[str, Any]) -> Reply:
        if isinstance(value, str):
            return cls(value, [])
        return cls(
            str(value.get("content") or ""),
            list(value.get("tool_calls") or []),
            str(value.get("thinking") or ""),
        )


@dataclass(frozen=True)
class Generation:
    """A reply cut into timed tokens, plus the statistics Ollama reports."""

    tokens: list[str]
    first_token_delay: float
    token_delay: float
    done_reason: str
    prompt_tokens: int
    tool_calls: list[Any]
    thinking: str = ""

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    def token_delays(self) -> list[float]:
        """Seconds to wait before each token."""
        if not self.tokens:
            return []
        return [self.first_token_delay] + [self.token_delay] * (len(self.tokens) - 1)

    @property
    def final_delay(self) -> float:
        """Seconds to wait before the `done` line (the end-of-sequence token)."""
        return self.token_delay if self.tokens else self.first_token_delay

    @property
    def duration(self) -> float:
        return self.first_token_delay + self.token_delay * len(self.tokens)

    def stats(self) -> JSON:
        return {
            "done_reason": self.done_reason,
            "total_duration": nanoseconds(self.duration),
            "load_duration": 0,
            "prompt_eval_count": self.prompt_tokens,
            "prompt_eval_duration": nanoseconds(self.first_token_delay),
            "eval_count": len(self.tokens),
            "eval_duration": nanoseconds(self.duration - self.first_token_delay),
        }


def error_reply(status: int, message: str) -> Response:
    """An Ollama-style error body."""
    return Response.json({"error": message}, status=status)


def ndjson_reply(lines: list[JSON], delays: list[float]) -> Response:
    """A stream of JSON lines, each sent after its delay."""
    parts = [(delay, encode_json(line) + b"\n") for delay, line in zip(delays, lines, strict=True)]
    return Response(content_type=NDJSON_TYPE, parts=parts, stream=True)


def fault_reply(fault: Fault, request: Request) -> Response | None:
    """The response that replaces the normal one, for faults that skip the handler."""
    if fault is Fault.NOT_FOUND:
        body = request.body or {}
        name = str(body.get("model") or body.get("name") or "")
        return error_reply(404, not_found_message(name, request.path))
    if fault is Fault.SERVER_ERROR:
        return error_reply(500, SERVER_ERROR_MESSAGE)
    if fault is Fault.OVERLOADED:
        return error_reply(503, OVERLOADED_MESSAGE)
    if fault is Fault.HANG:
        return Response(hang=True)
    return None


def apply_fault(injection: Injection, response: Response) -> Response:
    """Rewrite a planned response to misbehave on the wire."""
    fault, keep = injection.fault, max(0, min(FAULT_AFTER_LINES, len(response.parts) - 1))
    if fault is Fault.SLOW_HEADERS:
        return replace(response, header_delay=injection.delay)
    if fault is Fault.TRICKLE:
        return replace(response, byte_interval=injection.delay)
    if fault is Fault.DROP_MID_STREAM:
        parts = response.parts[:keep] if response.stream else response.parts
        return replace(response, parts=parts, truncate=True)
    if fault is Fault.ERROR_LINE:
        return model_error_reply(response)
    if not response.stream:
        return replace(response, parts=[(response.parts[0][0], BAD_JSON_LINE)])
    parts = [*response.parts[:keep], (0.0, BAD_JSON_LINE), *response.parts[keep:]]
    return replace(response, parts=parts)


def model_error_reply(response: Response) -> Response:
    """The model fails while answering, losing at least the answer's last token. Ollama
    reports an error as an HTTP status with a JSON body while nothing is written yet, and
    as an `{"error"}` NDJSON line only mid-stream (`streamResponse`,
    server/routes.go:2097-2127): a reply of 0-1 tokens fails with the status, at the time
    its first line was due."""
    keep = max(0, min(FAULT_AFTER_LINES, len(response.parts) - 2))
    if not response.stream:
        return error_reply(500, STREAM_ERROR_MESSAGE)
    if keep == 0:
        return Response.json(
            {"error": STREAM_ERROR_MESSAGE}, status=500, delay=response.parts[0][0]
        )
    error_line = encode_json({"error": STREAM_ERROR_MESSAGE}) + b"\n"
    return replace(response, parts=[*response.parts[:keep], (0.0, error_line)])


# ---------------------------------------------------------------------------
# The fake server


class FakeOllama(FakeHttpServer[RecordedRequest]):
    """A fake Ollama server on 127.0.0.1, running its own loop in a daemon thread.

    Tune behaviour through the attributes, from any thread:

    - `responder(request_body) -> str | {"content", "tool_calls", "thinking"}`: what the
      model says;
    - `token_delay` / `first_token_delay`: seconds before each token / the first one;
    - `prompt_eval_count`: reported prompt size (default: prompt characters // 4);
    - `load_seconds`: how long a model that is not in memory takes to load (0: at once).
      A load sends nothing on the wire until it is done, and the client hanging up
      meanwhile aborts it (`aborted_loads`); see `_load_first`;
    - `max_loaded`: most models in memory at once (0: no limit); loading one more unloads
      the least recently used, as `OLLAMA_MAX_LOADED_MODELS` (or memory) makes Ollama do
      (`server/sched.go` `processPending`: "max runners achieved, unloading one to make
      room").
    - `version`: the Ollama version it reports, and behaves like where they differ (an
      empty `model_info` left out before 0.14.3, no capabilities in `/api/tags` before
      0.30.0).
    """

    thread_name = "fake-ollama"
    fault_type = Fault
    generation_paths = GENERATION_PATHS
    stream_head_waits_for_first_part = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(
            port,
            routes={
                ("GET", "/"): lambda _request: Response(
                    content_type="text/plain; charset=utf-8", parts=[(0.0, b"Ollama is running")]
                ),
                ("GET", "/api/version"): lambda _request: Response.json({"version": self.version}),
                ("GET", "/api/tags"): self._tags,
                ("GET", "/api/ps"): self._ps,
                ("POST", "/api/show"): self._show,
                ("POST", "/api/generate"): self._generate,
                ("POST", "/api/chat"): self._chat,
                ("POST", "/api/embed"): self._embed,
            },
        )
        self.responder: Responder = lambda _body: DEFAULT_TEXT
        self.token_delay = 0.0
        self.first_token_delay = 0.0
        self.prompt_eval_count: int | None = None
        self.load_seconds = 0.0
        self.max_loaded = 0
        self.completed_loads = 0
        self.aborted_loads = 0
        self.version = VERSION
        self._models = {model.name: model for model in default_models()}
        self._loaded: dict[str, FakeModel] = {}
        self._loading: dict[str, asyncio.Future[bool]] = {}  # on the fake's own loop

    def stop(self) -> None:
        """Close the port and every connection, hung ones included; unload every model."""
        try:
            super().stop()
        finally:
            with self._lock:
                self._loaded.clear()

    # -- configuration ------------------------------------------------------

    def set_text(self, text: str) -> None:
        """Make every generation produce `text`."""
        self.responder = lambda _body: text

    def add_model(
        self,
        name: str,
        *,
        architecture: str,
        capabilities: list[str] | tuple[str, ...] = (),
        vocabulary: list[str] | tuple[str, ...] = (),
        **fields: Any,
    ) -> FakeModel:
        """Install a model; `fields` are `FakeModel`'s (`template`, `context_length`, ...),
        `capabilities` the config's own (the shown ones are computed from all fields)."""
        model = FakeModel(
            name=tagged(name),
            architecture=architecture,
            config_capabilities=tuple(capabilities),
            vocabulary=tuple(vocabulary),
            **fields,
        )
        with self._lock:
            self._models[model.name] = model
        return model

    def preload(self, *names: str) -> None:
        """Put models in memory, as if they answered a moment ago (every model when none
        is named). `stop` unloads them all, as a restart of Ollama does."""
        with self._lock:
            for name in names or tuple(self._models):
                self._loaded[tagged(name)] = self._models[tagged(name)]

    def remove_model(self, name: str) -> None:
        key = tagged(name)
        with self._lock:
            self._models.pop(key, None)
            self._loaded.pop(key, None)

    def inject(
        self,
        fault: Fault | str,
        *,
        times: int | None = None,
        path: str | None = None,
        delay: float | None = None,
    ) -> None:
        """Make matching requests misbehave.

        `times`: the next N matching requests, or every one until `reset()` when None.
        `path`: an exact path, `"*"` for all, or None for /api/generate and /api/chat.
        `delay`: seconds between trickled bytes, or before slow headers.
        """
        fault = Fault(fault)
        if delay is None:
            delay = DEFAULT_FAULT_DELAYS.get(fault, 0.0)
        self._add_fault(fault, times, path, delay)

    # -- routing --------------------------------------------------------------

    def _respond(self, request: Request) -> Response:
        injection = self._take_fault(request.path)
        if injection is not None and (replacement := fault_reply(injection.fault, request)):
            return replacement
        response = self._route(request)
        return response if injection is None else apply_fault(injection, response)

    def _new_record(self, request: Request) -> RecordedRequest:
        return RecordedRequest(request.method, request.path, request.body, time.monotonic())

    def _unknown_route(self, _request: Request) -> Response:
        return Response(404, "text/plain; charset=utf-8", [(0.0, b"404 page not found")])

    def _error_reply(self, error: HttpError) -> Response:
        return error_reply(error.status, error.message)

    def _route(self, request: Request) -> Response:
        try:
            return super()._route(request)
        except Exception as exc:
            _log.exception("fake Ollama handler failed for %s", request.path)
            return error_reply(500, f"fake Ollama handler raised {exc!r}")

    def _find_model(self, body: JSON, path: str) -> tuple[str, FakeModel]:
        name = str(body.get("model") or body.get("name") or "")
        if not name:
            raise HttpError(400, "model is required")
        with self._lock:
            model = self._models.get(tagged(name))
        if model is None:
            raise HttpError(404, not_found_message(name, path))
        return name, model

    def generations(self) -> list[RecordedRequest]:
        """Requests that generate: to /api/generate and /api/chat, load-only ones left
        out (see `loads`)."""
        return [request for request in super().generations() if not _load_only(request)]

    def loads(self) -> list[RecordedRequest]:
        """Load-only requests (an empty prompt, no messages): what a client's warm-up sends.
        Real Ollama answers them once the model is loaded (`server/routes.go:476-485`)."""
        return [request for request in super().generations() if _load_only(request)]

    def _touch(self, model: FakeModel, keep_alive: object) -> bool:
        """Mark `model` loaded (at once, unless loads take time: then `_load_first` does),
        or unload it for `keep_alive: 0`; True if unloaded."""
        unload = keep_alive in (0, "0", "0s")
        with self._lock:
            if unload:
                self._loaded.pop(model.name, None)
            elif self.load_seconds <= 0 or model.name in self._loaded:
                self._make_room_for(model)
        return unload

    def _make_room_for(self, model: FakeModel) -> None:
        """`model` in memory, most recently used; the least recently used ones unloaded
        past `max_loaded`. Call with the lock held."""
        self._loaded.pop(model.name, None)
        self._loaded[model.name] = model
        while self.max_loaded and len(self._loaded) > self.max_loaded:
            del self._loaded[next(iter(self._loaded))]

    def _loaded_first(self, model: FakeModel, response: Response) -> Response:
        """`response`, sent once `model` is in memory (loading it first when it is not)."""
        if self.load_seconds <= 0:
            return response
        return replace(response, prepare=functools.partial(self._load_first, model))

    async def _load_first(self, model: FakeModel, connection: Connection) -> bool:
        """Load `model` if it is not in memory; False when the client hung up first.

        As Ollama does it: nothing is written until the model is loaded, since scheduling
        (the load) runs before any reply (`server/routes.go:466`); the runner is created
        with its lock held until it runs (`server/sched.go:716-729`), so other requests
        for the model wait for the same load; the load waits on the requesting client's
        context, so a hang-up aborts it ("client connection closed before llama-server
        finished loading, aborting load", `llm/llama_server.go:1299-1301`) and the runner
        is expired (`server/sched.go:731-737`): the next request loads from zero.
        """
        while True:
            with self._lock:
                if model.name in self._loaded:
                    return True
            pending = self._loading.get(model.name)
            if pending is None:
                return await self._load(model, connection)
            gone = asyncio.ensure_future(connection.gone.wait())
            await asyncio.wait([pending, gone], return_when=asyncio.FIRST_COMPLETED)
            gone.cancel()
            if connection.gone.is_set():
                return False
            # The load ended: loaded (returns above), or aborted (this request loads).

    async def _load(self, model: FakeModel, connection: Connection) -> bool:
        done = self._loading[model.name] = asyncio.get_running_loop().create_future()
        try:
            loaded = await connection.pause(self.load_seconds)
        finally:
            del self._loading[model.name]
        with self._lock:
            if loaded:
                self._make_room_for(model)
                self.completed_loads += 1
            else:
                self.aborted_loads += 1
            self._lock.notify_all()
        done.set_result(loaded)
        return loaded

    async def _after_loads(self, connection: Connection) -> bool:
        """`/api/ps` answers once no model is loading: it takes each runner's lock, which a
        loading runner holds (`server/sched.go` `loadedModels`, 1745-1761)."""
        while self._loading:
            gone = asyncio.ensure_future(connection.gone.wait())
            await asyncio.wait([*self._loading.values(), gone], return_when=asyncio.FIRST_COMPLETED)
            gone.cancel()
            if connection.gone.is_set():
                return False
        return True

    def _tags(self, _request: Request) -> Response:
        with_capabilities = not older_than(self.version, "0.30.0")
        with self._lock:
            models = [
                model.listing(with_capabilities=with_capabilities)
                for model in self._models.values()
            ]
        return Response.json({"models": models})

    def _ps(self, _request: Request) -> Response:
        return Response(prepare=self._after_loads, late_body=self._ps_body)

    def _ps_body(self) -> bytes:
        expires_at = timestamp(KEEP_ALIVE)
        with self._lock:
            models = [model.process(expires_at) for model in self._loaded.values()]
        return encode_json({"models": models})

    def _show(self, request: Request) -> Response:
        body = request.json_body()
        _name, model = self._find_model(body, request.path)
        omit = older_than(self.version, "0.14.3")
        return Response.json(
            model.show(verbose=bool(body.get("verbose")), omit_empty_model_info=omit)
        )

    def _embed(self, request: Request) -> Response:
        body = request.json_body()
        name, model = self._find_model(body, request.path)
        inputs = body.get("input") or []
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(text, str) for text in inputs):
            raise HttpError(400, "invalid input type")
        self._touch(model, body.get("keep_alive"))
        return self._loaded_first(
            model,
            Response.json(
                {
                    "model": name,
                    "embeddings": [embedding(text) for text in inputs],
                    "total_duration": 0,
                    "load_duration": 0,
                    "prompt_eval_count": sum(len(text) // 4 for text in inputs),
                }
            ),
        )

    def _generate(self, request: Request) -> Response:
        body = request.json_body()
        name, model = self._find_model(body, request.path)
        if "completion" not in model.capabilities:
            raise HttpError(400, f'"{name}" does not support generate')
        if body.get("suffix"):
            self._require(model, "insert")
        unloaded = self._touch(model, body.get("keep_alive"))
        if not body.get("prompt"):  # like Ollama, even when a suffix is given
            return self._loaded_first(model, self._load_reply(name, unloaded, {"response": ""}))
        prompt = "".join(str(body.get(key) or "") for key in ("system", "prompt", "suffix"))
        generation = self._generation(body, prompt, with_tools=False)
        token_count = generation.prompt_tokens + len(generation.tokens)
        context = {} if body.get("raw") else {"context": list(range(token_count))}
        chunks = [self._line(name, response=token, done=False) for token in generation.tokens]
        final = self._line(name, response="", done=True, **context, **generation.stats())
        return self._loaded_first(
            model, self._completion(body, generation, chunks, final, {"response": generation.text})
        )

    def _chat(self, request: Request) -> Response:
        body = request.json_body()
        name, model = self._find_model(body, request.path)
        if "completion" not in model.capabilities:
            raise HttpError(400, f'"{name}" does not support chat')
        if body.get("tools"):
            self._require(model, "tools")
        unloaded = self._touch(model, body.get("keep_alive"))
        messages = body.get("messages") or []
        if not messages:
            return self._loaded_first(
                model, self._load_reply(name, unloaded, {"message": assistant("")})
            )
        prompt = "".join(str(message.get("content") or "") for message in messages)
        generation = self._generation(body, prompt, with_tools=bool(body.get("tools")))
        thinking = self._thinking(model, body, generation)
        chunks = [
            *(self._line(name, message=assistant("", **piece), done=False) for piece in thinking),
            *(
                self._line(name, message=assistant(token), done=False)
                for token in generation.tokens
            ),
        ]
        calls = {"tool_calls": generation.tool_calls} if generation.tool_calls else {}
        if calls:
            chunks.append(self._line(name, message=assistant("", **calls), done=False))
        final = self._line(name, message=assistant(""), done=True, **generation.stats())
        thought = {"thinking": generation.thinking} if thinking else {}
        return self._loaded_first(
            model,
            self._completion(
                body,
                generation,
                chunks,
                final,
                {"message": assistant(generation.text, **calls, **thought)},
            ),
        )

    @staticmethod
    def _thinking(model: FakeModel, body: JSON, generation: Generation) -> list[JSON]:
        """The `thinking` pieces streamed before the answer: a model with the `thinking`
        capability thinks unless the request says `think: false` (server/routes.go:2615-2620)."""
        if "thinking" not in model.capabilities or body.get("think") is False:
            return []
        return [{"thinking": piece} for piece in tokenize(generation.thinking)]

    @staticmethod
    def _require(model: FakeModel, capability: str) -> None:
        if capability not in model.capabilities:
            raise HttpError(400, f"{model.qualified_name} does not support {capability}")

    @staticmethod
    def _line(name: str, **fields: Any) -> JSON:
        return {"model": name, "created_at": timestamp(), **fields}

    def _load_reply(self, name: str, unloaded: bool, empty: JSON) -> Response:
        reason = "unload" if unloaded else "load"
        return Response.json(self._line(name, **empty, done=True, done_reason=reason))

    def _generation(self, body: JSON, prompt: str, *, with_tools: bool) -> Generation:
        reply = Reply.of(self.responder(body))
        options = body.get("options") or {}
        tokens = tokenize(cut_at_stop(reply.content, options.get("stop")))
        done_reason = "stop"
        limit = options.get("num_predict")
        if isinstance(limit, int) and 0 <= limit < len(tokens):
            tokens, done_reason = tokens[:limit], "length"
        prompt_tokens = self.prompt_eval_count
        return Generation(
            tokens=tokens,
            first_token_delay=self.first_token_delay,
            token_delay=self.token_delay,
            done_reason=done_reason,
            prompt_tokens=max(1, len(prompt) // 4) if prompt_tokens is None else prompt_tokens,
            tool_calls=reply.tool_calls if with_tools else [],
            thinking=reply.thinking,
        )

    @staticmethod
    def _completion(
        body: JSON, generation: Generation, chunks: list[JSON], final: JSON, whole: JSON
    ) -> Response:
        """Stream `chunks` then `final`, or answer `final` updated with `whole` at once."""
        if body.get("stream", True):
            extra = [0.0] * (len(chunks) - len(generation.tokens))
            delays = [*generation.token_delays(), *extra, generation.final_delay]
            return ndjson_reply([*chunks, final], delays)
        return Response.json({**final, **whole}, delay=generation.duration)


def _load_only(request: RecordedRequest) -> bool:
    body = request.body or {}
    return request.path in GENERATION_PATHS and not body.get("prompt") and not body.get("messages")


def assistant(content: str, **extra: Any) -> JSON:
    return {"role": "assistant", "content": content, **extra}


# ---------------------------------------------------------------------------
# Command line


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a fake Ollama server in the foreground.")
    parser.add_argument("--port", type=int, default=11434, help="0 picks a free port")
    parser.add_argument("--text", default=DEFAULT_TEXT, help="what every generation says")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds per token")
    parser.add_argument("--first-token-delay", type=float, default=0.0, help="seconds")
    args = parser.parse_args(argv)
    fake = FakeOllama(port=args.port)
    fake.set_text(args.text)
    fake.token_delay = args.token_delay
    fake.first_token_delay = args.first_token_delay
    try:
        print(fake.start(), flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
