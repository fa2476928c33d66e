"""The language registry: loading languages.toml, look-ups, grammars and the parse deadline."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import tree_sitter

from codehearth import languages
from codehearth.languages import (
    MAX_QUERY_START_DEPTH,
    REGISTRY_FILE,
    LanguageRegistry,
    LanguageSpec,
    bounded_captures,
    grammars_dir,
    parse_with_deadline,
)

REQUIRED = (
    "python",
    "javascript",
    "javascriptreact",
    "typescript",
    "typescriptreact",
    "go",
    "rust",
    "java",
    "c",
    "cpp",
)

SAMPLES = {
    "python": "def f(x):\n    return x + 1\n",
    "javascript": "function f(x) { return x + 1; }\n",
    "javascriptreact": "const App = () => <div className='a'>{x}</div>;\n",
    "typescript": "function f(x: number): number { return x + 1; }\n",
    "typescriptreact": "const App = (p: Props) => <div>{p.x}</div>;\n",
    "go": "package main\n\nfunc f(x int) int { return x + 1 }\n",
    "rust": "fn f(x: i32) -> i32 { x + 1 }\n",
    "java": "class A { int f(int x) { return x + 1; } }\n",
    "c": "int f(int x) { return x + 1; }\n",
    "cpp": "template <typename T> T f(T x) { return x + 1; }\n",
}

FAKE_TABLE = """
[fake]
{optional}extensions = [".fake"]
grammar = "codehearth_no_such_grammar"
function = "language"
line_comment = "#"
body_placeholder = "..."
"""


@pytest.fixture(scope="module")
def registry() -> LanguageRegistry:
    return LanguageRegistry.load()


def write_registry(tmp_path: Path, text: str) -> Path:
    path = tmp_path / REGISTRY_FILE
    path.write_text(text, encoding="utf-8")
    return path


# -- loading ----------------------------------------------------------------------------


def test_registry_lists_every_language(registry: LanguageRegistry) -> None:
    assert tuple(spec.language_id for spec in registry.specs) == REQUIRED


def test_required_languages_are_available(registry: LanguageRegistry) -> None:
    available = {spec.language_id for spec in registry.available()}
    assert set(REQUIRED) <= available


def test_spec_fields(registry: LanguageRegistry) -> None:
    python = registry.by_id("python")
    assert python is not None
    assert python.grammar == "tree_sitter_python"
    assert python.function == "language"
    assert python.line_comment == "#"
    assert python.block_comment is None
    assert python.body_placeholder == "..."
    assert not python.optional
    go = registry.by_id("go")
    assert go is not None
    assert go.line_comment == "//"
    assert go.block_comment == ("/*", "*/")
    assert go.body_placeholder == "{ ... }"
    tsx = registry.by_id("typescriptreact")
    assert tsx is not None
    assert (tsx.grammar, tsx.function) == ("tree_sitter_typescript", "language_tsx")
    jsx = registry.by_id("javascriptreact")
    assert jsx is not None
    assert (jsx.grammar, jsx.function) == ("tree_sitter_javascript", "language")


def test_grammars_dir_in_a_source_checkout() -> None:
    assert (grammars_dir() / REGISTRY_FILE).is_file()
    assert grammars_dir() == Path(__file__).resolve().parents[2] / "grammars"


def test_grammars_dir_prefers_the_copy_inside_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site-packages" / "codehearth"
    (package / "grammars").mkdir(parents=True)
    (package / "grammars" / REGISTRY_FILE).write_text("", encoding="utf-8")
    monkeypatch.setattr(languages, "__file__", str(package / "languages.py"))
    assert grammars_dir() == package / "grammars"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(
            FAKE_TABLE.format(optional="") + "colour = 'red'\n", "unknown keys", id="typo"
        ),
        pytest.param(
            FAKE_TABLE.format(optional="").replace('grammar = "codehearth_no_such_grammar"\n', ""),
            "'grammar'",
            id="missing-key",
        ),
        pytest.param(
            FAKE_TABLE.format(optional="").replace('[".fake"]', '["fake"]'),
            "'extensions'",
            id="extension-without-dot",
        ),
        pytest.param(
            FAKE_TABLE.format(optional="") + 'block_comment = ["/*"]\n',
            "'block_comment'",
            id="half-block-comment",
        ),
        pytest.param(
            FAKE_TABLE.format(optional="optional = 'yes'\n"), "'optional'", id="optional-not-bool"
        ),
        pytest.param("version = 1\n", "must be a table", id="not-a-table"),
        pytest.param(
            FAKE_TABLE.format(optional="") + FAKE_TABLE.format(optional="").replace("fake]", "f2]"),
            "'.fake' belongs to both",
            id="duplicate-extension",
        ),
    ],
)
def test_malformed_registry_is_rejected(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        LanguageRegistry.load(write_registry(tmp_path, text))


# -- look-ups ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "language_id"),
    [
        pytest.param("src/app.py", "python", id="py"),
        pytest.param("types.pyi", "python", id="pyi"),
        pytest.param("/abs/MAIN.PY", "python", id="upper-case"),
        pytest.param("index.js", "javascript", id="js"),
        pytest.param("server.mjs", "javascript", id="mjs"),
        pytest.param("App.jsx", "javascriptreact", id="jsx"),
        pytest.param("lib.ts", "typescript", id="ts"),
        pytest.param("types.d.ts", "typescript", id="d-ts"),
        pytest.param("App.tsx", "typescriptreact", id="tsx"),
        pytest.param("main.go", "go", id="go"),
        pytest.param("lib.rs", "rust", id="rs"),
        pytest.param("Main.java", "java", id="java"),
        pytest.param("util.h", "c", id="h"),
        pytest.param("util.hpp", "cpp", id="hpp"),
        pytest.param(Path("pkg/mod.py"), "python", id="path-object"),
    ],
)
def test_by_path(registry: LanguageRegistry, path: str | Path, language_id: str) -> None:
    spec = registry.by_path(path)
    assert spec is not None and spec.language_id == language_id


@pytest.mark.parametrize("path", ["README.md", "Makefile", "archive.tar.gz", ""])
def test_by_path_unknown(registry: LanguageRegistry, path: str) -> None:
    assert registry.by_path(path) is None


def test_by_id_unknown(registry: LanguageRegistry) -> None:
    assert registry.by_id("cobol") is None
    assert registry.parser("cobol") is None
    assert registry.language("cobol") is None


# -- grammars ---------------------------------------------------------------------------


@pytest.mark.parametrize("language_id", REQUIRED)
def test_each_available_grammar_parses_a_sample(
    registry: LanguageRegistry, language_id: str
) -> None:
    parser = registry.parser(language_id)
    assert parser is not None
    tree = parser.parse(SAMPLES[language_id].encode())
    assert not tree.root_node.has_error, str(tree.root_node)


@pytest.mark.parametrize("language_id", REQUIRED)
def test_node_types_in_the_registry_exist_in_the_grammar(
    registry: LanguageRegistry, language_id: str
) -> None:
    spec = registry.by_id(language_id)
    language = registry.language(language_id)
    assert spec is not None and language is not None
    for node_type in spec.block_nodes | spec.string_nodes | spec.comment_nodes:
        assert language.id_for_node_kind(node_type, True) is not None, node_type


def test_parsers_are_cached(registry: LanguageRegistry) -> None:
    assert registry.parser("python") is registry.parser("python")
    assert registry.parser("javascript") is not registry.parser("javascriptreact")


@pytest.mark.parametrize(
    ("optional", "level"),
    [
        pytest.param(True, logging.DEBUG, id="optional"),
        pytest.param(False, logging.WARNING, id="required"),
    ],
)
def test_missing_grammar_is_skipped_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, optional: bool, level: int
) -> None:
    text = FAKE_TABLE.format(optional="optional = true\n" if optional else "")
    registry = LanguageRegistry.load(write_registry(tmp_path, text))
    caplog.set_level(logging.DEBUG, logger=languages.__name__)
    spec = registry.by_path("x.fake")
    assert spec is not None and spec.optional is optional
    assert registry.parser("fake") is None
    assert registry.parser("fake") is None
    assert registry.available() == ()
    records = [r for r in caplog.records if "codehearth_no_such_grammar" in r.getMessage()]
    assert [r.levelno for r in records] == [level]


def test_grammar_without_the_named_function_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = FAKE_TABLE.format(optional="").replace(
        'grammar = "codehearth_no_such_grammar"\nfunction = "language"',
        'grammar = "tree_sitter_python"\nfunction = "no_such_function"',
    )
    registry = LanguageRegistry.load(write_registry(tmp_path, text))
    with caplog.at_level(logging.WARNING, logger=languages.__name__):
        assert registry.parser("fake") is None
    assert "no_such_function" in caplog.text


def test_registry_from_specs() -> None:
    spec = LanguageSpec(
        language_id="py",
        extensions=(".py",),
        grammar="tree_sitter_python",
        function="language",
        line_comment="#",
        body_placeholder="...",
    )
    registry = LanguageRegistry((spec,))
    assert registry.by_path("a.py") is spec
    assert registry.available() == (spec,)
    with pytest.raises(ValueError, match="registered twice"):
        LanguageRegistry((spec, spec))


# -- parse deadline ---------------------------------------------------------------------


def test_parse_with_deadline_returns_a_tree_in_time(registry: LanguageRegistry) -> None:
    parser = registry.parser("python")
    assert parser is not None
    source = b"def f(x):\n    return x  # done\n"
    tree = parse_with_deadline(parser, source, 1_000_000)
    assert tree is not None
    assert not tree.root_node.has_error
    # The tree keeps its source, so node text is available.
    assert tree.root_node.children[0].text == source.rstrip(b"\n")


def test_parse_with_deadline_can_skip_keeping_the_source(registry: LanguageRegistry) -> None:
    parser = registry.parser("python")
    assert parser is not None
    source = b"def f(x):\n    return x  # done\n"
    tree = parse_with_deadline(parser, source, 1_000_000, keep_source=False)
    assert tree is not None
    # The same tree, without its source (so no Node.text on it).
    assert str(tree.root_node) == str(parser.parse(source).root_node)
    assert tree.root_node.children[0].byte_range == (0, len(source.rstrip(b"\n")))


def test_parse_with_deadline_gives_up_and_leaves_the_parser_usable(
    registry: LanguageRegistry,
) -> None:
    parser = registry.parser("python")
    assert parser is not None
    big = b"x = [1, 2, 3]\n" * 50_000
    assert parse_with_deadline(parser, big, 0) is None
    tree = parse_with_deadline(parser, b"y = 2\n", 1_000_000)
    assert tree is not None
    assert tree.root_node.end_byte == len(b"y = 2\n")
    assert str(tree.root_node) == str(parser.parse(b"y = 2\n").root_node)


# -- bounded queries --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("depth", "found"), [(10, [b"x", b"deep"]), (MAX_QUERY_START_DEPTH, [b"x"])]
)
def test_bounded_captures_do_not_match_past_the_depth_bound(
    registry: LanguageRegistry, depth: int, found: list[bytes]
) -> None:
    language = registry.language("python")
    parser = registry.parser("python")
    assert language is not None and parser is not None
    tree = parser.parse(f"x = {'[' * depth}deep{']' * depth}\n".encode())
    query = tree_sitter.Query(language, "(identifier) @name")
    captures = bounded_captures(query, tree.root_node)
    assert [node.text for node in captures["name"]] == found
