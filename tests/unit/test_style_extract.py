"""Style inference on the fixture projects in tests/fixtures/style, and its profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from codehearth.languages import MAX_QUERY_START_DEPTH, LanguageRegistry
from codehearth.style.extract import StyleAttribute, StyleExtractor, Value, classify_name
from codehearth.style.profile import (
    StyleProfile,
    WorkspaceStyle,
    apply_to_completion,
    build_profile,
    render_style_block,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "style"


@pytest.fixture(scope="module")
def registry() -> LanguageRegistry:
    return LanguageRegistry.load()


@pytest.fixture(scope="module")
def inferred(registry: LanguageRegistry) -> dict[str, WorkspaceStyle]:
    return {
        name: build_profile(FIXTURES / name, registry, hide_configs=True)
        for name in ("black_py", "tabs_py", "ts_camel", "go_proj", "rust_proj")
    }


@pytest.mark.parametrize(
    ("project", "language", "attribute", "value"),
    [
        pytest.param("black_py", "python", "indent.style", "spaces", id="py-spaces"),
        pytest.param("black_py", "python", "indent.size", 4, id="py-indent-4"),
        pytest.param("black_py", "python", "quotes.strings", "double", id="py-double"),
        pytest.param("black_py", "python", "quotes.docstrings", "double", id="py-docstrings"),
        pytest.param("black_py", "python", "trailing_commas", "yes", id="py-commas"),
        pytest.param("black_py", "python", "naming.function", "snake_case", id="py-fn"),
        pytest.param("black_py", "python", "naming.variable", "snake_case", id="py-var"),
        pytest.param("black_py", "python", "naming.class", "PascalCase", id="py-class"),
        pytest.param("black_py", "python", "naming.constant", "UPPER_CASE", id="py-const"),
        pytest.param("black_py", "python", "naming.private", "_prefix", id="py-private"),
        pytest.param("black_py", "python", "docstrings.style", "Google", id="py-google"),
        pytest.param("black_py", "python", "annotations.parameters", 1.0, id="py-params"),
        pytest.param("black_py", "python", "annotations.returns", 1.0, id="py-returns"),
        pytest.param("black_py", "python", "imports.relative", "absolute", id="py-absolute"),
        pytest.param("black_py", "python", "imports.grouping", "grouped", id="py-grouped"),
        pytest.param("black_py", "python", "errors.idiom", "exceptions", id="py-errors"),
        pytest.param("black_py", "python", "tests.framework", "pytest", id="py-pytest"),
        pytest.param("tabs_py", "python", "indent.style", "tabs", id="tabs"),
        pytest.param("tabs_py", "python", "quotes.strings", "single", id="single-quotes"),
        pytest.param("tabs_py", "python", "quotes.docstrings", "single", id="single-doc"),
        pytest.param("tabs_py", "python", "annotations.parameters", 0.0, id="untyped"),
        pytest.param("ts_camel", "typescript", "indent.size", 2, id="ts-indent-2"),
        pytest.param("ts_camel", "typescript", "quotes.strings", "single", id="ts-single"),
        pytest.param("ts_camel", "typescript", "naming.function", "camelCase", id="ts-fn"),
        pytest.param("ts_camel", "typescript", "naming.variable", "camelCase", id="ts-var"),
        pytest.param("ts_camel", "typescript", "naming.class", "PascalCase", id="ts-class"),
        pytest.param("ts_camel", "typescript", "naming.constant", "UPPER_CASE", id="ts-const"),
        pytest.param("ts_camel", "typescript", "docstrings.style", "JSDoc", id="ts-jsdoc"),
        pytest.param("ts_camel", "typescript", "trailing_commas", "yes", id="ts-commas"),
        pytest.param("ts_camel", "typescript", "annotations.parameters", 1.0, id="ts-typed"),
        pytest.param("go_proj", "go", "indent.style", "tabs", id="go-tabs"),
        pytest.param("go_proj", "go", "naming.function", "MixedCaps", id="go-names"),
        pytest.param("go_proj", "go", "tests.framework", "go test", id="go-test"),
        pytest.param("go_proj", "go", "errors.idiom", "error values", id="go-errors"),
        pytest.param("rust_proj", "rust", "indent.size", 4, id="rust-indent"),
        pytest.param("rust_proj", "rust", "naming.function", "snake_case", id="rust-fn"),
        pytest.param("rust_proj", "rust", "naming.class", "PascalCase", id="rust-type"),
        pytest.param("rust_proj", "rust", "naming.constant", "UPPER_CASE", id="rust-const"),
        pytest.param("rust_proj", "rust", "tests.framework", "cargo test", id="rust-test"),
        pytest.param("rust_proj", "rust", "errors.idiom", "Result and ?", id="rust-errors"),
    ],
)
def test_inferred_attribute(
    inferred: dict[str, WorkspaceStyle], project: str, language: str, attribute: str, value: object
) -> None:
    profile = inferred[project].profile(language)
    assert profile is not None
    found = profile.attributes[attribute]
    assert found.value == value
    assert found.source == "inferred"
    assert found.evidence > 0


def test_preferred_libraries_are_third_party_only(inferred: dict[str, WorkspaceStyle]) -> None:
    python = inferred["black_py"].profile("python")
    assert python is not None
    assert python.value("libraries.preferred") == ("attrs", "httpx", "pytest")
    typescript = inferred["ts_camel"].profile("typescript")
    assert typescript is not None
    assert typescript.attributes["libraries.preferred"].value == ("axios", "zod")


@pytest.mark.parametrize(
    ("name", "style"),
    [
        pytest.param("total_price", "snake_case", id="snake"),
        pytest.param("_private_helper", "snake_case", id="underscored"),
        pytest.param("totalPrice", "camelCase", id="camel"),
        pytest.param("ShoppingCart", "PascalCase", id="pascal"),
        pytest.param("MAX_ITEMS", "UPPER_CASE", id="upper"),
        pytest.param("run", None, id="one-word-ambiguous"),
        pytest.param("x", None, id="too-short"),
        pytest.param("Mixed_Case", None, id="mixed"),
    ],
)
def test_classify_name(name: str, style: str | None) -> None:
    assert classify_name(name) == style


def _lines(lengths: list[int], copies: int) -> str:
    return "\n".join("x = " + "1" * (n - 4) for n in lengths for _ in range(copies)) + "\n"


@pytest.mark.parametrize(
    ("lengths", "limit"),
    [
        pytest.param([40, 60, 70, 80, 84, 86, 88], 88, id="wall-at-88"),
        pytest.param([40, 60, 70, 75, 77, 79], 79, id="wall-at-79"),
        pytest.param([40, 60, 80, 90, 96, 99], 99, id="wall-at-99"),
        pytest.param([40, 60, 80, 90, 96, 99, 100], 100, id="lines-at-100-mean-100"),
        pytest.param([40, 80, 100, 110, 116, 120], 120, id="wall-at-120"),
        pytest.param([20, 30, 40, 50], None, id="no-wall"),
    ],
)
def test_probable_line_limit(registry: LanguageRegistry, lengths: list[int], limit: int) -> None:
    extractor = StyleExtractor(registry)
    extractor.add("python", _lines(lengths, 20))
    found = extractor.result()["python"].get("line_length.limit")
    assert (found.value if found else None) == limit


def test_weights_favour_the_files_the_user_edits(registry: LanguageRegistry) -> None:
    single = "a = 'x'\nb = 'y'\nc = 'z'\n"
    double = 'a = "x"\nb = "y"\nc = "z"\n'
    extractor = StyleExtractor(registry)
    extractor.add("python", single, weight=10.0)
    extractor.add("python", double, weight=1.0)
    extractor.add("python", double, weight=1.0)
    quotes = extractor.result()["python"]["quotes.strings"]
    assert (quotes.value, quotes.evidence) == ("single", 9)


def test_strings_holding_the_other_quote_are_ignored(registry: LanguageRegistry) -> None:
    extractor = StyleExtractor(registry)
    extractor.add("python", "a = \"it's\"\nb = 'x'\nc = 'y'\nd = 'z'\n")
    quotes = extractor.result()["python"]["quotes.strings"]
    assert (quotes.value, quotes.evidence, quotes.confidence) == ("single", 3, 1.0)


def test_hostile_nesting_still_gives_evidence(registry: LanguageRegistry) -> None:
    # Thousands of nested classes: only the outer MAX_QUERY_START_DEPTH levels are looked
    # at (every level is a look at its parent, which tree-sitter walks down to find).
    levels = 20 * MAX_QUERY_START_DEPTH
    nest = "class Nest { m() { " * levels + "}}" * levels
    evidence = StyleExtractor(registry).observe("javascript", f"{nest}\nconst a = 'x';\n")
    assert evidence is not None
    assert 0 < evidence.votes["naming.class"]["PascalCase"] < MAX_QUERY_START_DEPTH
    assert evidence.votes["quotes.strings"] == {"single": 1}


def test_generated_files_are_skipped(registry: LanguageRegistry) -> None:
    extractor = StyleExtractor(registry)
    assert not extractor.add("python", "# Code generated by a tool. DO NOT EDIT.\nx = 'a'\n")
    assert extractor.result() == {}


def test_low_confidence_attributes_are_flagged_and_left_out(registry: LanguageRegistry) -> None:
    extractor = StyleExtractor(registry)
    extractor.add("python", "a = 'x'\nb = \"y\"\nc = 'z'\nd = \"w\"\n")
    profile = StyleProfile("python", extractor.result()["python"])
    quotes = profile.attributes["quotes.strings"]
    assert quotes.confidence == 0.5 and not quotes.confident
    assert profile.value("quotes.strings") is None
    assert "quotes" not in render_style_block(profile, "python")


def test_config_overrides_inference_and_is_the_source(registry: LanguageRegistry) -> None:
    style = build_profile(FIXTURES / "ts_camel", registry)
    profile = style.profile("typescript")
    assert profile is not None
    width = profile.attributes["line_length.limit"]
    assert (width.value, width.source) == (100, "config:.prettierrc")
    python = build_profile(FIXTURES / "black_py", registry).profile("python")
    assert python is not None
    assert python.attributes["line_length.limit"].value == 88
    assert python.attributes["quotes.strings"].source == "config:pyproject.toml"
    assert python.attributes["quotes.strings"].evidence > 0


def test_pinned_values_win(registry: LanguageRegistry) -> None:
    style = build_profile(
        FIXTURES / "black_py",
        registry,
        pinned={"python": {"quotes.strings": "single"}, "*": {"naming.class": "PascalCase"}},
    )
    profile = style.profile("python")
    assert profile is not None
    assert profile.attributes["quotes.strings"].source == "pinned"
    assert profile.value("quotes.strings") == "single"
    assert profile.attributes["naming.class"].source == "pinned"


def test_max_files_takes_the_heaviest_first(registry: LanguageRegistry) -> None:
    root = FIXTURES / "black_py"
    style = build_profile(
        root, registry, weights={"shop/pricing.py": 5.0}, max_files=1, hide_configs=True
    )
    profile = style.profile("python")
    assert profile is not None and profile.files == 1
    # Only pricing.py: UNKNOWN_PRICE (cart.py would add three).
    assert profile.attributes["naming.constant"].evidence == 1


def test_profile_json_round_trip(inferred: dict[str, WorkspaceStyle]) -> None:
    style = inferred["black_py"]
    assert WorkspaceStyle.from_json(style.to_json()) == style
    attribute = StyleAttribute("libraries.preferred", ("a", "b"), 3, 1.0)
    assert StyleAttribute.from_json(attribute.to_json()) == attribute


def test_render_style_block_content(inferred: dict[str, WorkspaceStyle]) -> None:
    block = render_style_block(inferred["black_py"], "python")
    assert block.splitlines()[0].startswith("Style: 4-space indents;")
    for phrase in ("double quotes", "snake_case functions", "Google docstrings", "pytest"):
        assert phrase in block
    assert len(block.splitlines()) <= 3
    assert render_style_block(inferred["black_py"], "go") == ""


def test_render_style_block_respects_the_budget(inferred: dict[str, WorkspaceStyle]) -> None:
    full = render_style_block(inferred["black_py"], "python")
    short = render_style_block(inferred["black_py"], "python", budget_chars=80)
    assert len(short) <= 80 < len(full)
    assert short.startswith("Style: 4-space indents")
    assert render_style_block(inferred["black_py"], "python", budget_chars=5) == ""


def _profile(**values: Value) -> StyleProfile:
    return StyleProfile(
        "python", {k.replace("_", ".", 1): StyleAttribute(k, v, 50, 1.0) for k, v in values.items()}
    )


SPACES_DOUBLE = _profile(indent_style="spaces", indent_size=4, quotes_strings="double")
TABS_SINGLE = _profile(indent_style="tabs", quotes_strings="single")


@pytest.mark.parametrize(
    ("text", "profile", "language", "expected"),
    [
        pytest.param(
            "\tif x:\n\t\treturn 1",
            SPACES_DOUBLE,
            "python",
            "    if x:\n        return 1",
            id="tabs-to-spaces",
        ),
        pytest.param(
            "    if x:\n        return 1",
            TABS_SINGLE,
            "python",
            "\tif x:\n\t\treturn 1",
            id="spaces-to-tabs",
        ),
        pytest.param(
            "  x = 1\n   y = 2", TABS_SINGLE, "python", "  x = 1\n   y = 2", id="uneven-spaces-kept"
        ),
        pytest.param("\t  x = 1", SPACES_DOUBLE, "python", "\t  x = 1", id="mixed-kept"),
        pytest.param("f('a', 'b')", SPACES_DOUBLE, "python", 'f("a", "b")', id="swap-quotes"),
        pytest.param('f("it\'s")', TABS_SINGLE, "python", 'f("it\'s")', id="other-quote-kept"),
        pytest.param("f('a\\n')", SPACES_DOUBLE, "python", "f('a\\n')", id="escape-kept"),
        pytest.param("f(r'a', b'c')", SPACES_DOUBLE, "python", "f(r'a', b'c')", id="prefixed-kept"),
        pytest.param(
            "x = 'a'  # 'b'", SPACES_DOUBLE, "python", "x = \"a\"  # 'b'", id="comment-kept"
        ),
        pytest.param("'''doc'''", SPACES_DOUBLE, "python", "'''doc'''", id="triple-kept"),
        pytest.param("lo' + 'x", SPACES_DOUBLE, "python", "lo' + 'x", id="mid-string-kept"),
        pytest.param("f('a')", SPACES_DOUBLE, "go", "f('a')", id="not-a-quote-language"),
        pytest.param('const a = "x";', TABS_SINGLE, "typescript", "const a = 'x';", id="ts-single"),
    ],
)
def test_apply_to_completion(
    text: str, profile: StyleProfile, language: str, expected: str
) -> None:
    assert apply_to_completion(text, profile, language) == expected
