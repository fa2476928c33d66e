"""Formatter configs: each kind parsed, and their precedence in read_configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codehearth.languages import LanguageRegistry
from codehearth.style.configs import (
    CONFIG_FILES,
    black_settings,
    clang_format_settings,
    editorconfig_settings,
    package_json_settings,
    prettier_settings,
    read_configs,
    read_excludes,
    ruff_settings,
    rustfmt_settings,
)
from codehearth.style.extract import Value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "[tool.black]\n",
            {"line_length.limit": 88, "quotes.strings": "double", "indent.size": 4},
            id="black-defaults",
        ),
        pytest.param(
            "[tool.black]\nline-length = 100\nskip-string-normalization = true\n",
            {"line_length.limit": 100, "quotes.strings": None},
            id="black-skip-string-normalization",
        ),
        pytest.param(
            "[tool.isort]\nprofile = 'black'\n", {"line_length.limit": None}, id="no-black"
        ),
    ],
)
def test_black(text: str, expected: dict[str, Value | None]) -> None:
    settings = black_settings(text)
    assert {key: settings.get(key) for key in expected} == expected


@pytest.mark.parametrize(
    ("text", "in_pyproject", "expected"),
    [
        pytest.param(
            "[tool.ruff]\nline-length = 100\n",
            True,
            {"line_length.limit": 100, "quotes.strings": None},
            id="pyproject-lint-only",
        ),
        pytest.param(
            "[tool.ruff]\nline-length = 120\n[tool.ruff.format]\nquote-style = 'single'\n",
            True,
            {"line_length.limit": 120, "quotes.strings": "single", "indent.style": "spaces"},
            id="pyproject-format",
        ),
        pytest.param(
            "[format]\nindent-style = 'tab'\nquote-style = 'preserve'\n",
            False,
            {
                "indent.style": "tabs",
                "indent.size": None,
                "quotes.strings": None,
                "line_length.limit": 88,
            },
            id="ruff-toml-tabs",
        ),
        pytest.param(
            "indent-width = 2\n[format]\n", False, {"indent.size": 2}, id="ruff-indent-width"
        ),
    ],
)
def test_ruff(text: str, in_pyproject: bool, expected: dict[str, Value | None]) -> None:
    settings = ruff_settings(text, in_pyproject=in_pyproject)
    assert {key: settings.get(key) for key in expected} == expected


EDITORCONFIG = """
root = true

[*]
indent_style = space
indent_size = 2

[*.py]
indent_size = 4
max_line_length = 88

[*.{go,mk}]
indent_style = tab

[docs/*.py]
indent_size = 8
"""


@pytest.mark.parametrize(
    ("extensions", "expected"),
    [
        pytest.param(
            (".py",),
            {"indent.style": "spaces", "indent.size": 4, "line_length.limit": 88},
            id="python-section-wins",
        ),
        pytest.param((".go",), {"indent.style": "tabs"}, id="brace-section-tabs"),
        pytest.param((".ts",), {"indent.style": "spaces", "indent.size": 2}, id="star-only"),
    ],
)
def test_editorconfig(extensions: tuple[str, ...], expected: dict[str, Value]) -> None:
    assert editorconfig_settings(EDITORCONFIG, extensions) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "{}",
            {
                "line_length.limit": 80,
                "indent.size": 2,
                "quotes.strings": "double",
                "trailing_commas": "yes",
            },
            id="prettier-defaults",
        ),
        pytest.param(
            json.dumps(
                {"printWidth": 100, "singleQuote": True, "useTabs": True, "trailingComma": "none"}
            ),
            {
                "line_length.limit": 100,
                "quotes.strings": "single",
                "indent.style": "tabs",
                "indent.size": None,
                "trailing_commas": "no",
            },
            id="prettier-json",
        ),
        pytest.param(
            "printWidth: 120\ntabWidth: 4\nsingleQuote: true\n",
            {"line_length.limit": 120, "indent.size": 4, "quotes.strings": "single"},
            id="prettier-yaml",
        ),
    ],
)
def test_prettier(text: str, expected: dict[str, Value | None]) -> None:
    settings = prettier_settings(text)
    assert {key: settings.get(key) for key in expected} == expected


def test_package_json_prettier_key() -> None:
    assert package_json_settings(json.dumps({"prettier": {"tabWidth": 4}}))["indent.size"] == 4
    assert package_json_settings(json.dumps({"prettier": "@company/prettier-config"})) == {}
    assert package_json_settings(json.dumps({"name": "x"})) == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "",
            {"line_length.limit": 100, "indent.style": "spaces", "indent.size": 4},
            id="rustfmt-defaults",
        ),
        pytest.param(
            "max_width = 80\nhard_tabs = true\n",
            {"line_length.limit": 80, "indent.style": "tabs"},
            id="rustfmt-tabs",
        ),
    ],
)
def test_rustfmt(text: str, expected: dict[str, Value]) -> None:
    assert rustfmt_settings(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "BasedOnStyle: Google\n",
            {"indent.style": "spaces", "line_length.limit": 80, "indent.size": 2},
            id="clang-google",
        ),
        pytest.param(
            "---\nBasedOnStyle: LLVM\nColumnLimit: 100\nIndentWidth: 4\nUseTab: Never\n",
            {"indent.style": "spaces", "line_length.limit": 100, "indent.size": 4},
            id="clang-explicit",
        ),
        pytest.param(
            "ColumnLimit: 0\nUseTab: ForIndentation\n", {"indent.style": "tabs"}, id="clang-tabs"
        ),
    ],
)
def test_clang_format(text: str, expected: dict[str, Value]) -> None:
    assert clang_format_settings(text) == expected


def test_read_configs_precedence_and_sources(tmp_path: Path) -> None:
    (tmp_path / ".editorconfig").write_text("[*.py]\nindent_style = tab\nmax_line_length = 79\n")
    (tmp_path / "pyproject.toml").write_text("[tool.black]\nline-length = 100\n")
    (tmp_path / "ruff.toml").write_text("line-length = 110\n")
    (tmp_path / "package.json").write_text(json.dumps({"prettier": {"singleQuote": True}}))
    (tmp_path / "rustfmt.toml").write_text("max_width = 90\n")
    (tmp_path / ".clang-format").write_text("ColumnLimit: 70\n")
    (tmp_path / ".prettierrc").write_text("not json {")
    found = read_configs(tmp_path, LanguageRegistry.load())
    python = found["python"]
    assert python["line_length.limit"].value == 110
    assert python["line_length.limit"].source == "config:ruff.toml"
    assert python["indent.style"].value == "spaces"
    assert python["indent.style"].source == "config:pyproject.toml"
    assert found["typescript"]["quotes.strings"].source == "config:package.json"
    assert found["rust"]["line_length.limit"].value == 90
    assert found["cpp"]["line_length.limit"].value == 70
    assert all(attribute.confident for attribute in python.values())


def test_read_configs_without_files(tmp_path: Path) -> None:
    assert read_configs(tmp_path, LanguageRegistry.load()) == {}


@pytest.mark.parametrize(
    ("files", "relative", "language", "covered"),
    [
        pytest.param(
            {"pyproject.toml": '[tool.ruff]\nextend-exclude = ["gen_*.py"]\n'},
            "pkg/deep/gen_models.py",
            "python",
            True,
            id="ruff-name-glob-at-any-depth",
        ),
        pytest.param(
            {"pyproject.toml": '[tool.ruff]\nextend-exclude = ["gen_*.py"]\n'},
            "pkg/models_gen.py",
            "python",
            False,
            id="ruff-name-glob-other-name",
        ),
        pytest.param(
            {"pyproject.toml": '[tool.ruff]\nexclude = ["tests/fixtures"]\n'},
            "tests/fixtures/case/input.py",
            "python",
            True,
            id="ruff-folder-path",
        ),
        pytest.param(
            {"pyproject.toml": '[tool.ruff]\nexclude = ["tests/fixtures"]\n'},
            "src/tests/fixtures.py",
            "python",
            False,
            id="ruff-folder-path-elsewhere",
        ),
        pytest.param(
            {"pyproject.toml": '[tool.ruff]\nexclude = ["tests/fixtures"]\n'},
            "tests/fixtures/case/input.ts",
            "typescript",
            False,
            id="ruff-is-python-only",
        ),
        pytest.param(
            {"pyproject.toml": "[tool.black]\nforce-exclude = 'proto/.*_grpc\\.py$'\n"},
            "api/proto/shop_grpc.py",
            "python",
            True,
            id="black-force-exclude",
        ),
        pytest.param(
            {"pyproject.toml": "[tool.black]\nexclude = '(unclosed'\n"},
            "unclosed/a.py",
            "python",
            False,
            id="black-bad-expression-skipped",
        ),
        pytest.param(
            {"ruff.toml": "exclude = [\n", ".prettierignore": "*.py\n"},
            "a.py",
            "python",
            False,
            id="malformed-toml-and-prettier-for-python",
        ),
        pytest.param(
            {".prettierignore": "src/**/*.gen.ts\n!src/keep.gen.ts\n"},
            "src/api/client.gen.ts",
            "typescript",
            True,
            id="prettierignore",
        ),
        pytest.param(
            {".prettierignore": "src/**/*.gen.ts\n!src/keep.gen.ts\n"},
            "src/keep.gen.ts",
            "typescript",
            False,
            id="prettierignore-negation",
        ),
    ],
)
def test_read_excludes(
    tmp_path: Path, files: dict[str, str], relative: str, language: str, covered: bool
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert read_excludes(tmp_path).covers(relative, language) is covered


def test_prettierignore_changes_are_watched() -> None:
    assert ".prettierignore" in CONFIG_FILES
