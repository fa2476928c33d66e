"""Settings: merging the three sources, one warning per ignored key, ``codehearth.toml``
and the self-description used by docs and ``doctor``.

Layers are passed lowest precedence first (initialization options, workspace
configuration, ``codehearth.toml``); keys may be camelCase or snake_case. A bad key or
value never raises: it is reported once and the default is kept.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from codehearth.settings import (
    TOML_FILE_NAME,
    Settings,
    build_settings,
    deep_merge,
    describe,
    read_toml_settings,
    snake_case,
)

DEFAULTS = Settings()


def value_of(settings: Settings, section: str, key: str) -> Any:
    return getattr(getattr(settings, section), snake_case(key))


def default_of(section: str, key: str) -> Any:
    return value_of(DEFAULTS, section, key)


# -- key spelling and merging ----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        pytest.param("numCtx", "num_ctx", id="camel"),
        pytest.param("debounceMinMs", "debounce_min_ms", id="camel-three-words"),
        pytest.param("num_ctx", "num_ctx", id="snake-unchanged"),
        pytest.param("model", "model", id="one-word"),
        pytest.param("Model", "model", id="leading-capital"),
    ],
)
def test_snake_case_normalises_editor_keys(key: str, expected: str) -> None:
    assert snake_case(key) == expected


def test_no_layers_give_the_defaults_without_warnings() -> None:
    loaded = build_settings()
    assert loaded.settings == DEFAULTS
    assert loaded.warnings == ()


def test_absent_and_non_mapping_layers_are_skipped() -> None:
    loaded = build_settings(None, {}, None, ["not", "a", "mapping"])  # type: ignore[arg-type]
    assert loaded.settings == DEFAULTS
    assert loaded.warnings == ()


@pytest.mark.parametrize(
    "layer",
    [
        pytest.param({"completion": {"numCtx": 8192}}, id="camelCase"),
        pytest.param({"completion": {"num_ctx": 8192}}, id="snake_case"),
    ],
)
def test_camel_and_snake_case_keys_set_the_same_setting(layer: dict[str, Any]) -> None:
    loaded = build_settings(layer)
    assert loaded.settings.completion.num_ctx == 8192
    assert loaded.warnings == ()


def test_later_layers_win_key_by_key() -> None:
    init_options = {"completion": {"model": "from-init", "numCtx": 2048, "maxTokens": 64}}
    workspace = {"completion": {"model": "from-workspace", "numCtx": 8192}}
    toml = {"completion": {"model": "from-toml"}}
    completion = build_settings(init_options, workspace, toml).settings.completion
    assert (completion.model, completion.num_ctx, completion.max_tokens) == (
        "from-toml",
        8192,
        64,
    )


def test_a_later_snake_case_key_overrides_an_earlier_camel_case_one() -> None:
    loaded = build_settings({"completion": {"numCtx": 2048}}, {"completion": {"num_ctx": 8192}})
    assert loaded.settings.completion.num_ctx == 8192
    assert loaded.warnings == ()


def test_sections_from_different_layers_merge_without_dropping_siblings() -> None:
    ollama = build_settings(
        {"ollama": {"host": "http://gpu-box:11434"}}, {"ollama": {"keepAlive": "5m"}}
    ).settings.ollama
    assert (ollama.host, ollama.keep_alive) == ("http://gpu-box:11434", "5m")


def test_deep_merge_replaces_a_scalar_with_a_later_table_and_vice_versa() -> None:
    assert deep_merge({"a": 1}, {"a": {"bB": 2}}) == {"a": {"b_b": 2}}
    assert deep_merge({"a": {"b": 2}}, {"a": 1}) == {"a": 1}


# -- accepted values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "key", "raw", "expected"),
    [
        pytest.param("ollama", "host", "http://gpu-box:11434", "http://gpu-box:11434", id="str"),
        pytest.param("ollama", "host", None, None, id="optional-none"),
        pytest.param("ollama", "connectTimeout", 5, 5.0, id="int-for-float"),
        pytest.param("ollama", "warmUp", False, False, id="bool"),
        pytest.param("completion", "temperature", 0, 0.0, id="zero-for-float"),
        pytest.param("completion", "maxTokens", 256, 256, id="int"),
        pytest.param("completion", "family", "codegemma", "codegemma", id="optional-str"),
        pytest.param("logging", "file", "/tmp/codehearth.log", "/tmp/codehearth.log", id="path"),
    ],
)
def test_values_of_the_right_type_are_applied(
    section: str, key: str, raw: Any, expected: Any
) -> None:
    loaded = build_settings({section: {key: raw}})
    value = value_of(loaded.settings, section, key)
    assert value == expected
    assert type(value) is type(expected)
    assert loaded.warnings == ()


# -- ignored keys and values -------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "key", "raw"),
    [
        pytest.param("completion", "numCtx", "big", id="str-for-int"),
        pytest.param("completion", "numCtx", 4096.5, id="float-for-int"),
        pytest.param("completion", "maxTokens", True, id="bool-for-int"),
        pytest.param("completion", "temperature", "hot", id="str-for-float"),
        pytest.param("completion", "enabled", "yes", id="str-for-bool"),
        pytest.param("ollama", "warmUp", 1, id="int-for-bool"),
        pytest.param("ollama", "keepAlive", 30, id="int-for-str"),
        pytest.param("completion", "model", None, id="none-for-required-str"),
        pytest.param("completion", "model", ["a", "b"], id="list-for-str"),
    ],
)
def test_a_value_of_the_wrong_type_warns_once_and_keeps_the_default(
    section: str, key: str, raw: Any
) -> None:
    loaded = build_settings({section: {key: raw}})
    assert value_of(loaded.settings, section, key) == default_of(section, key)
    assert len(loaded.warnings) == 1
    warning = loaded.warnings[0]
    assert f"{section}.{snake_case(key)}" in warning
    assert "default kept" in warning


@pytest.mark.parametrize(
    ("layer", "name"),
    [
        pytest.param({"completion": {"modle": "x"}}, "completion.modle", id="typo-in-section"),
        pytest.param({"nonsense": 1}, "nonsense", id="top-level"),
        pytest.param({"completion": {"debounce": {"min": 1}}}, "completion.debounce", id="table"),
    ],
)
def test_an_unknown_key_warns_and_is_ignored(layer: dict[str, Any], name: str) -> None:
    loaded = build_settings(layer)
    assert loaded.settings == DEFAULTS
    assert len(loaded.warnings) == 1
    assert f"unknown setting '{name}'" in loaded.warnings[0]


def test_a_bad_key_does_not_stop_the_good_keys_next_to_it() -> None:
    loaded = build_settings(
        {"completion": {"modle": "typo", "model": "starcoder2:3b", "numCtx": "big"}}
    )
    assert loaded.settings.completion.model == "starcoder2:3b"
    assert loaded.settings.completion.num_ctx == DEFAULTS.completion.num_ctx
    assert len(loaded.warnings) == 2


@pytest.mark.parametrize("raw", [pytest.param("fast", id="str"), pytest.param(5, id="int")])
def test_a_section_that_is_not_a_table_warns_and_keeps_its_defaults(raw: Any) -> None:
    loaded = build_settings({"completion": raw})
    assert loaded.settings.completion == DEFAULTS.completion
    assert len(loaded.warnings) == 1
    assert "'completion' must be a table" in loaded.warnings[0]


# -- ranges --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "key", "raw"),
    [
        pytest.param("completion", "numCtx", 100, id="num-ctx-too-small"),
        pytest.param("completion", "promptTokens", 10, id="prompt-tokens-too-small"),
        pytest.param("completion", "maxTokens", 0, id="max-tokens-zero"),
        pytest.param("completion", "maxTokens", 5000, id="max-tokens-too-large"),
        pytest.param("completion", "prefixShare", 0.99, id="prefix-share-too-large"),
        pytest.param("completion", "prefixShare", math.nan, id="prefix-share-nan"),
        pytest.param("completion", "suffixShare", -0.1, id="suffix-share-negative"),
        pytest.param("completion", "invokedItems", 0, id="invoked-items-zero"),
        pytest.param("completion", "invokedItems", 11, id="invoked-items-too-many"),
        pytest.param("completion", "cacheSize", -1, id="cache-size-negative"),
        pytest.param("completion", "deadlineSeconds", 0, id="deadline-zero"),
        pytest.param("completion", "stallSeconds", math.inf, id="stall-infinite"),
        pytest.param("completion", "debounceMinMs", -5, id="debounce-min-negative"),
        pytest.param("completion", "debounceMaxMs", 20_000, id="debounce-max-too-large"),
        pytest.param("ollama", "connectTimeout", 0.0, id="connect-timeout-zero"),
    ],
)
def test_a_value_out_of_range_warns_once_and_keeps_the_default(
    section: str, key: str, raw: Any
) -> None:
    loaded = build_settings({section: {key: raw}})
    assert value_of(loaded.settings, section, key) == default_of(section, key)
    assert len(loaded.warnings) == 1
    assert f"{section}.{snake_case(key)}" in loaded.warnings[0]
    assert "outside" in loaded.warnings[0]


def test_an_unknown_template_family_warns_and_keeps_detection() -> None:
    loaded = build_settings({"completion": {"family": "qwen"}})
    assert loaded.settings.completion.family is None
    assert len(loaded.warnings) == 1
    assert "completion.family" in loaded.warnings[0]


@pytest.mark.parametrize(
    ("section", "key", "raw"),
    [
        pytest.param("completion", "numCtx", 512, id="num-ctx-lowest"),
        pytest.param("completion", "maxTokens", 4096, id="max-tokens-highest"),
        pytest.param("completion", "invokedItems", 1, id="invoked-items-lowest"),
        pytest.param("completion", "invokedItems", 10, id="invoked-items-highest"),
        pytest.param("completion", "suffixShare", 0.0, id="no-suffix"),
        pytest.param("completion", "cacheSize", 0, id="no-cache"),
        pytest.param("completion", "debounceMinMs", 0, id="no-debounce"),
        pytest.param("ollama", "connectTimeout", 120, id="connect-timeout-highest"),
    ],
)
def test_values_on_the_range_boundaries_are_accepted(section: str, key: str, raw: Any) -> None:
    loaded = build_settings({section: {key: raw}})
    assert value_of(loaded.settings, section, key) == raw
    assert loaded.warnings == ()


@pytest.mark.parametrize(
    ("completion", "keys"),
    [
        pytest.param(
            {"prefixShare": 0.9, "suffixShare": 0.5},
            ("prefix_share", "suffix_share"),
            id="shares-above-one",
        ),
        pytest.param(
            {"debounceMinMs": 800, "debounceMaxMs": 200},
            ("debounce_min_ms", "debounce_max_ms"),
            id="debounce-min-above-max",
        ),
        pytest.param(
            {"debounceMaxMs": 50},
            ("debounce_min_ms", "debounce_max_ms"),
            id="debounce-max-below-default-min",
        ),
    ],
)
def test_inconsistent_pairs_fall_back_to_both_defaults(
    completion: dict[str, Any], keys: tuple[str, str]
) -> None:
    loaded = build_settings({"completion": completion})
    for key in keys:
        assert getattr(loaded.settings.completion, key) == getattr(DEFAULTS.completion, key)
    assert len(loaded.warnings) == 1


def test_consistent_pairs_are_kept() -> None:
    loaded = build_settings(
        {
            "completion": {
                "prefixShare": 0.7,
                "suffixShare": 0.3,
                "debounceMinMs": 50,
                "debounceMaxMs": 50,
            }
        }
    )
    completion = loaded.settings.completion
    assert (completion.prefix_share, completion.suffix_share) == (0.7, 0.3)
    assert (completion.debounce_min_ms, completion.debounce_max_ms) == (50, 50)
    assert loaded.warnings == ()


# -- codehearth.toml -------------------------------------------------------------------------


def test_no_workspace_root_reads_nothing() -> None:
    assert read_toml_settings(None) == ({}, [])


def test_a_workspace_without_the_file_reads_nothing(tmp_path: Path) -> None:
    assert read_toml_settings(tmp_path) == ({}, [])


def test_the_file_is_read_and_feeds_build_settings(tmp_path: Path) -> None:
    (tmp_path / TOML_FILE_NAME).write_text(
        '[completion]\nmodel = "codegemma:2b"\nnum_ctx = 8192\n\n[ollama]\nwarm_up = false\n',
        encoding="utf-8",
    )
    values, warnings = read_toml_settings(tmp_path)
    assert warnings == []
    assert values == {
        "completion": {"model": "codegemma:2b", "num_ctx": 8192},
        "ollama": {"warm_up": False},
    }
    loaded = build_settings({"completion": {"model": "from-editor"}}, values)
    assert loaded.settings.completion.model == "codegemma:2b"
    assert loaded.settings.completion.num_ctx == 8192
    assert loaded.settings.ollama.warm_up is False


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("[completion\nmodel = 1\n", id="unclosed-table"),
        pytest.param('model = "a"\nmodel = "b"\n', id="duplicate-key"),
        pytest.param("model = \n", id="missing-value"),
    ],
)
def test_invalid_toml_is_ignored_with_one_warning(tmp_path: Path, content: str) -> None:
    (tmp_path / TOML_FILE_NAME).write_text(content, encoding="utf-8")
    values, warnings = read_toml_settings(tmp_path)
    assert values == {}
    assert len(warnings) == 1
    assert TOML_FILE_NAME in warnings[0]


def test_an_unreadable_file_is_ignored_with_one_warning(tmp_path: Path) -> None:
    (tmp_path / TOML_FILE_NAME).mkdir()
    values, warnings = read_toml_settings(tmp_path)
    assert values == {}
    assert len(warnings) == 1
    assert TOML_FILE_NAME in warnings[0]


def test_a_file_that_is_not_utf8_is_ignored_with_one_warning(tmp_path: Path) -> None:
    (tmp_path / TOML_FILE_NAME).write_bytes(b'# caf\xe9 (latin-1)\n[completion]\nmodel = "x"\n')
    values, warnings = read_toml_settings(tmp_path)
    assert values == {}
    assert len(warnings) == 1
    assert TOML_FILE_NAME in warnings[0]


# -- describe -----------------------------------------------------------------------------


def test_every_setting_is_described_with_a_docstring() -> None:
    rows = describe()
    undocumented = [name for name, _default, doc in rows if not doc.strip()]
    assert undocumented == []


def test_described_names_are_unique_dotted_camel_case() -> None:
    names = [name for name, _default, _doc in describe()]
    assert len(names) == len(set(names))
    assert all("_" not in name and "." in name for name in names)
    assert {"ollama.keepAlive", "completion.numCtx", "completion.debounceMinMs"} <= set(names)
    assert {"ollama", "completion", "logging"} <= {name.split(".")[0] for name in names}


def test_described_names_and_defaults_round_trip_through_build_settings() -> None:
    layer: dict[str, Any] = {}
    for name, default, _doc in describe():
        *sections, key = name.split(".")
        table = layer
        for section in sections:
            table = table.setdefault(section, {})
        table[key] = default
    loaded = build_settings(layer)
    assert loaded.warnings == ()
    assert loaded.settings == DEFAULTS


@pytest.mark.parametrize(
    ("toml", "setting"),
    [
        pytest.param("[models]\nallowCloud = true\n", "models.allow_cloud", id="cloud"),
        pytest.param("[models]\nallow_cloud = true\n", "models.allow_cloud", id="cloud-snake"),
        pytest.param(
            "[models]\nembedded_model_path = 'evil.gguf'\n",
            "models.embedded_model_path",
            id="model-file",
        ),
        pytest.param("[logging]\nfile = '/home/u/.bashrc'\n", "logging.file", id="log-file"),
    ],
)
def test_a_repository_cannot_set_user_only_settings(
    tmp_path: Path, toml: str, setting: str
) -> None:
    (tmp_path / "codehearth.toml").write_text(toml + "[completion]\nmodel = 'm'\n")
    values, warnings = read_toml_settings(tmp_path)
    settings = build_settings(values).settings
    assert settings == build_settings({"completion": {"model": "m"}}).settings
    [warning] = warnings
    assert setting in warning and "user settings" in warning


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        pytest.param("api_key_env = 'AWS_SECRET_ACCESS_KEY'", "api_key_env", id="key-variable"),
        pytest.param("apiKeyEnv = 'GITHUB_TOKEN'", "apiKeyEnv", id="key-variable-camel"),
        pytest.param("headers = { X-Leak = '${HOME}' }", "headers", id="header-variables"),
        pytest.param("ca_bundle = 'repo-ca.pem'", "ca_bundle", id="trusted-authorities"),
        pytest.param("insecure = true", "insecure", id="no-certificate-check"),
    ],
)
def test_a_repository_cannot_choose_what_an_endpoint_sends_or_trusts(
    tmp_path: Path, entry: str, key: str
) -> None:
    """An endpoint in codehearth.toml keeps its name, url and kind; the keys that would
    send the user's environment variables, or trust the repository's certificates, go."""
    toml = f"[[models.endpoints]]\nname = 'box'\nurl = 'https://box.example'\n{entry}\n"
    (tmp_path / "codehearth.toml").write_text(toml)
    values, warnings = read_toml_settings(tmp_path)
    assert values["models"]["endpoints"] == [{"name": "box", "url": "https://box.example"}]
    [warning] = warnings
    assert f"may not set {key} of the endpoint 'box'" in warning
