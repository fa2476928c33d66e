"""Which files vote on the style, and how much: each file votes as one sample of the
user's style (so volume alone does not win), and generated files, data tables and files
the formatter configs exclude do not vote at all (issue 18)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from codehearth.languages import LanguageRegistry
from codehearth.style.extract import StyleAttribute, StyleExtractor
from codehearth.style.profile import StyleTracker, build_profile

FIXTURES = Path(__file__).parent.parent / "fixtures" / "style"
REGISTRY = LanguageRegistry.load()


def quoted(quote: str, strings: int) -> str:
    """A hand-written function returning ``strings`` different quoted strings."""
    body = "".join(
        f"    if code == {index}:\n        return {quote}label {index}{quote}\n"
        for index in range(strings)
    )
    return f"def label_for(code):\n{body}    return None\n"


def table(quote: str, rows: int) -> str:
    """A data module: one big dict of strings and numbers."""
    entries = "".join(
        f"    {quote}k{row}{quote}: {{{quote}name{quote}: {quote}Row {row}{quote}, "
        f"{quote}size{quote}: {row}}},\n"
        for row in range(rows)
    )
    return f"ROWS = {{\n{entries}}}\n"


def write_tree(root: Path, files: Mapping[str, str]) -> None:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


def python_quotes(root: Path) -> tuple[StyleAttribute, int]:
    profile = build_profile(root, REGISTRY, hide_configs=True).profile("python")
    assert profile is not None
    return profile.attributes["quotes.strings"], profile.files


def extracted_quotes(files: list[str]) -> StyleAttribute:
    extractor = StyleExtractor(REGISTRY)
    for text in files:
        extractor.add("python", text)
    return extractor.result()["python"]["quotes.strings"]


# --- per-file votes -----------------------------------------------------------------------


def test_reported_case_hand_written_double_quotes_beat_a_big_single_quoted_table() -> None:
    # Issue 18: five hand-written modules in double quotes and one 300-row table in single
    # quotes came out single; the table is data, so only the modules vote, and they agree.
    quotes, files = python_quotes(FIXTURES / "table_py")
    assert (quotes.value, quotes.confidence, files) == ("double", 1.0, 6)
    assert quotes.confident


def test_one_big_single_quoted_file_does_not_win_by_volume() -> None:
    quotes = extracted_quotes([quoted('"', 5)] * 3 + [quoted("'", 200)])
    assert quotes.value == "double"
    assert quotes.evidence == 215
    # Three files worth 5 / (1 + 4 * 0.25) = 2.5 each against one worth at most 4.
    assert quotes.confidence == pytest.approx(7.5 / (7.5 + 200 / 50.75), abs=1e-3)


@pytest.mark.parametrize(
    ("files", "value", "confidence"),
    [
        pytest.param([quoted('"', 10)] * 4, "double", 1.0, id="all-files-agree"),
        pytest.param(
            [quoted('"', 10)] * 3 + [quoted("'", 10)], "double", 0.75, id="three-files-of-four"
        ),
        pytest.param(
            [quoted('"', 3) + quoted("'", 1)] * 4, "double", 0.75, id="every-file-three-to-one"
        ),
    ],
)
def test_confidence_is_the_files_agreement(files: list[str], value: str, confidence: float) -> None:
    quotes = extracted_quotes(files)
    assert (quotes.value, quotes.confidence) == (value, confidence)


def test_a_file_with_one_string_is_a_weak_vote() -> None:
    # One string is one observation; a file of ten is worth 10 / 3.25 of them.
    quotes = extracted_quotes([quoted("'", 10), quoted('"', 1), quoted('"', 1)])
    assert quotes.value == "single"
    assert quotes.confidence == pytest.approx((10 / 3.25) / (10 / 3.25 + 2), abs=1e-3)


# --- generated and data files ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "text"),
    [
        pytest.param(
            "pkg/tables.py",
            "# This file was automatically generated\n" + quoted("'", 3),
            id="automatically-generated-header",
        ),
        pytest.param(
            "pkg/tables.py",
            '"""This module was generated."""\n' + quoted("'", 3),
            id="module-was-generated",
        ),
        pytest.param(
            "pkg/tables.py", "# -*- generated -*-\n" + quoted("'", 3), id="emacs-style-marker"
        ),
        pytest.param("proto/shop_pb2.py", quoted("'", 3), id="protobuf-module-name"),
        pytest.param("proto/shop_pb2_grpc.py", quoted("'", 3), id="protobuf-grpc-module-name"),
        pytest.param("pkg/rows.py", table("'", 150), id="data-table"),
        pytest.param(
            "pkg/rows.py",
            "from typing import Final\n\n" + table("'", 120).replace("ROWS =", "ROWS: Final ="),
            id="data-table-with-an-import",
        ),
    ],
)
def test_generated_and_data_files_do_not_vote(path: str, text: str) -> None:
    assert StyleExtractor(REGISTRY).observe("python", text, path) is None


@pytest.mark.parametrize(
    ("path", "text"),
    [
        pytest.param(
            "pkg/ids.py",
            "# Row ids are automatically generated per row.\n" + quoted("'", 3),
            id="generated-in-prose",
        ),
        pytest.param("pkg/pb2_tools.py", quoted("'", 3), id="protobuf-like-name"),
        pytest.param("pkg/rows.py", table("'", 60), id="small-table"),
        pytest.param(
            "pkg/rows.py", table("'", 150) + quoted("'", 200), id="table-in-a-bigger-module"
        ),
    ],
)
def test_hand_written_look_alikes_still_vote(path: str, text: str) -> None:
    assert StyleExtractor(REGISTRY).observe("python", text, path) is not None


def test_typescript_data_table_does_not_vote() -> None:
    rows = "".join(f"  {{ id: {row}, name: 'Row {row}', active: true }},\n" for row in range(120))
    text = f"export const ROWS = [\n{rows}];\n"
    assert StyleExtractor(REGISTRY).observe("typescript", text, "src/rows.ts") is None


# --- files the formatter configs exclude ----------------------------------------------------

DOUBLE_MODULE = quoted('"', 4)
SINGLE_MODULE = quoted("'", 4)


@pytest.mark.parametrize(
    ("config", "text", "excluded"),
    [
        pytest.param(
            "pyproject.toml",
            '[tool.ruff]\nextend-exclude = ["legacy"]\n',
            "legacy/lib/{}.py",
            id="ruff-extend-exclude-folder-name",
        ),
        pytest.param(
            "pyproject.toml",
            '[tool.ruff]\nexclude = ["src/legacy/*.py"]\n',
            "src/legacy/{}.py",
            id="ruff-exclude-glob",
        ),
        pytest.param(
            "pyproject.toml",
            '[tool.ruff.format]\nexclude = ["**/migrations"]\n',
            "migrations/{}.py",
            id="ruff-format-exclude",
        ),
        pytest.param(
            "ruff.toml", 'extend-exclude = ["old_*.py"]\n', "src/old_{}.py", id="ruff-toml"
        ),
        pytest.param(
            ".ruff.toml", 'exclude = ["./contrib/"]\n', "contrib/{}.py", id="dot-ruff-toml"
        ),
        pytest.param(
            "pyproject.toml",
            "[tool.black]\nextend-exclude = '^/generated/'\n",
            "generated/{}.py",
            id="black-extend-exclude",
        ),
        pytest.param(
            "pyproject.toml",
            "[tool.black]\nexclude = '''\n/(\n    build\n  | snapshots\n)/\n'''\n",
            "tests/snapshots/{}.py",
            id="black-verbose-exclude",
        ),
    ],
)
def test_files_the_python_formatter_excludes_do_not_vote(
    tmp_path: Path, config: str, text: str, excluded: str
) -> None:
    write_tree(
        tmp_path,
        {
            config: text,
            "src/app.py": DOUBLE_MODULE,
            **{excluded.format(f"m{index}"): SINGLE_MODULE for index in range(3)},
        },
    )
    quotes, files = python_quotes(tmp_path)
    assert (quotes.value, files) == ("double", 1)


def test_files_prettier_ignores_do_not_vote(tmp_path: Path) -> None:
    single = "export function label(code: number): string {\n  return code > 1 ? 'a' : 'b';\n}\n"
    double = single.replace("'", '"')
    write_tree(
        tmp_path,
        {
            ".prettierignore": "# built\ngenerated/\n",
            "src/app.ts": double,
            **{f"generated/m{index}.ts": single for index in range(3)},
        },
    )
    profile = build_profile(tmp_path, REGISTRY, hide_configs=True).profile("typescript")
    assert profile is not None
    assert (profile.attributes["quotes.strings"].value, profile.files) == ("double", 1)


def test_an_exclusion_added_later_applies_at_the_next_composition(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"src/app.py": DOUBLE_MODULE, **{f"legacy/m{i}.py": SINGLE_MODULE for i in range(3)}},
    )
    tracker = StyleTracker(tmp_path, REGISTRY)
    tracker.build()
    python = tracker.style().profile("python")
    assert python is not None and python.files == 4
    write_tree(tmp_path, {"ruff.toml": 'extend-exclude = ["legacy"]\n'})
    python = tracker.style().profile("python")
    assert python is not None and python.files == 1
    assert python.attributes["quotes.strings"].value == "double"
    assert not tracker.update_file(str(tmp_path / "legacy/m3.py"), SINGLE_MODULE, edited=True)
