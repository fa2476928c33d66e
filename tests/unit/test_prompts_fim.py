"""FIM templates: exact special tokens, layouts and stop lists, plus golden prompts per family."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.golden.golden import check_golden

from codehearth.prompts.fim import FAMILIES, ContextSnippet, FimRequest, get_template

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden" / "prompts"
CURSOR = "<|CURSOR|>"

# DeepSeek's sentinels, spelled with escapes so the code points are checked, not just glyphs:
# U+FF5C FULLWIDTH VERTICAL LINE and U+2581 LOWER ONE EIGHTH BLOCK.
DS_BEGIN = "<\uff5cfim\u2581begin\uff5c>"
DS_HOLE = "<\uff5cfim\u2581hole\uff5c>"
DS_END = "<\uff5cfim\u2581end\uff5c>"
DS_EOS = "<\uff5cend\u2581of\u2581sentence\uff5c>"

SIMPLE = FimRequest(prefix="def f():\n    ", suffix="\n    return x\n")


def test_families_are_the_supported_set() -> None:
    assert FAMILIES == (
        "qwen2.5-coder",
        "codegemma",
        "deepseek-coder",
        "starcoder",
        "starcoder2",
        "codellama",
        "codestral",
        "plain",
    )
    assert all(get_template(family).family == family for family in FAMILIES)


def test_unknown_family_is_a_value_error_listing_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown model family 'gpt-9'") as excinfo:
        get_template("gpt-9")
    assert all(family in str(excinfo.value) for family in FAMILIES)


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        pytest.param(
            "qwen2.5-coder",
            "<|fim_prefix|>def f():\n    <|fim_suffix|>\n    return x\n<|fim_middle|>",
            id="qwen2.5-coder",
        ),
        pytest.param(
            "codegemma",
            "<|fim_prefix|>def f():\n    <|fim_suffix|>\n    return x\n<|fim_middle|>",
            id="codegemma",
        ),
        pytest.param(
            "deepseek-coder",
            f"{DS_BEGIN}def f():\n    {DS_HOLE}\n    return x\n{DS_END}",
            id="deepseek-coder",
        ),
        pytest.param(
            "starcoder",
            "<fim_prefix>def f():\n    <fim_suffix>\n    return x\n<fim_middle>",
            id="starcoder",
        ),
        pytest.param(
            "starcoder2",
            "<fim_prefix>def f():\n    <fim_suffix>\n    return x\n<fim_middle>",
            id="starcoder2",
        ),
        pytest.param(
            "codellama",
            "<PRE> def f():\n     <SUF>\n    return x\n <MID>",
            id="codellama-spaces-as-meta-and-ollama",
        ),
        pytest.param(
            "codestral",
            "[SUFFIX]\n    return x\n[PREFIX] def f():\n    ",
            id="codestral-suffix-first",
        ),
        pytest.param("plain", "def f():\n    ", id="plain-prefix-only"),
    ],
)
def test_file_level_layout(family: str, expected: str) -> None:
    assert get_template(family).render(SIMPLE) == expected


@pytest.mark.parametrize(
    ("family", "required"),
    [
        pytest.param(
            "qwen2.5-coder",
            {
                "<|endoftext|>",
                "<|fim_prefix|>",
                "<|fim_suffix|>",
                "<|fim_middle|>",
                "<|fim_pad|>",
                "<|repo_name|>",
                "<|file_sep|>",
                "<|im_end|>",
            },
            id="qwen2.5-coder",
        ),
        pytest.param(
            "codegemma",
            {"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_separator|>", "<eos>"},
            id="codegemma",
        ),
        pytest.param(
            "deepseek-coder", {DS_EOS, DS_BEGIN, DS_HOLE, DS_END, "<|EOT|>"}, id="deepseek-coder"
        ),
        pytest.param(
            "starcoder",
            {"<|endoftext|>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<fim_pad>"},
            id="starcoder",
        ),
        pytest.param(
            "starcoder2",
            {
                "<|endoftext|>",
                "<fim_prefix>",
                "<fim_suffix>",
                "<fim_middle>",
                "<fim_pad>",
                "<file_sep>",
                "<repo_name>",
            },
            id="starcoder2",
        ),
        pytest.param("codellama", {"<EOT>"}, id="codellama"),
        pytest.param("codestral", {"[PREFIX]", "[SUFFIX]", "[MIDDLE]"}, id="codestral"),
    ],
)
def test_stop_lists(family: str, required: set[str]) -> None:
    stop = get_template(family).stop
    assert required <= set(stop)
    assert len(stop) == len(set(stop))
    # "</s>" as a stop string would also end completions of HTML like <s>old</s>.
    assert "</s>" not in stop


def test_plain_template_has_no_fim_and_no_stop_override() -> None:
    plain = get_template("plain")
    assert not plain.supports_fim
    assert plain.stop == ()
    assert all(get_template(f).supports_fim for f in FAMILIES if f != "plain")


def test_only_qwen_and_starcoder2_have_repo_level_tokens() -> None:
    assert {f for f in FAMILIES if get_template(f).supports_repo_level} == {
        "qwen2.5-coder",
        "starcoder2",
    }


CONTEXT = (
    ContextSnippet("lib/util.py", "def helper():\n    return 1\n"),
    ContextSnippet("lib/const.py", "LIMIT = 3"),
)


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        pytest.param(
            FimRequest("a = ", "\n", file_path="app.py", repo_name="demo", context=CONTEXT),
            "<|repo_name|>demo\n"
            "<|file_sep|>lib/util.py\ndef helper():\n    return 1\n\n"
            "<|file_sep|>lib/const.py\nLIMIT = 3\n"
            "<|file_sep|>app.py\n<|fim_prefix|>a = <|fim_suffix|>\n<|fim_middle|>",
            id="repo-name-and-context",
        ),
        pytest.param(
            FimRequest("a = ", "", file_path="app.py", repo_name="demo"),
            "<|repo_name|>demo\n<|file_sep|>app.py\n<|fim_prefix|>a = <|fim_suffix|><|fim_middle|>",
            id="repo-name-only",
        ),
        pytest.param(
            FimRequest("a = ", "", context=CONTEXT[1:]),
            "<|file_sep|>lib/const.py\nLIMIT = 3\n<|file_sep|><|fim_prefix|>a = "
            "<|fim_suffix|><|fim_middle|>",
            id="context-without-repo-name-or-path",
        ),
        pytest.param(
            FimRequest("a = ", "", file_path="app.py"),
            "<|fim_prefix|>a = <|fim_suffix|><|fim_middle|>",
            id="path-alone-stays-file-level",
        ),
    ],
)
def test_qwen_repo_level(request_: FimRequest, expected: str) -> None:
    assert get_template("qwen2.5-coder").render(request_) == expected


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        pytest.param(
            FimRequest("a = ", "\n", file_path="app.py", repo_name="demo", context=CONTEXT),
            "<repo_name>demo"
            "<file_sep>lib/util.py\ndef helper():\n    return 1\n"
            "<file_sep>lib/const.py\nLIMIT = 3"
            "<file_sep><fim_prefix>app.py\na = <fim_suffix>\n<fim_middle>",
            id="paper-layout-path-after-fim-prefix",
        ),
        pytest.param(
            FimRequest("a = ", "", context=CONTEXT[1:]),
            "<file_sep>lib/const.py\nLIMIT = 3<file_sep><fim_prefix>a = <fim_suffix><fim_middle>",
            id="no-repo-name-no-path",
        ),
    ],
)
def test_starcoder2_repo_level(request_: FimRequest, expected: str) -> None:
    assert get_template("starcoder2").render(request_) == expected


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        pytest.param(
            "codellama",
            "<PRE> // Path: lib/util.py\ndef helper():\n    return 1\n\n"
            "// Path: lib/const.py\nLIMIT = 3\n\n// Path: app.js\nlet a =  <SUF>; <MID>",
            id="codellama",
        ),
        pytest.param(
            "codestral",
            "[SUFFIX];[PREFIX] // Path: lib/util.py\ndef helper():\n    return 1\n\n"
            "// Path: lib/const.py\nLIMIT = 3\n\n// Path: app.js\nlet a = ",
            id="codestral",
        ),
        pytest.param(
            "plain",
            "// Path: lib/util.py\ndef helper():\n    return 1\n\n"
            "// Path: lib/const.py\nLIMIT = 3\n\n// Path: app.js\nlet a = ",
            id="plain",
        ),
    ],
)
def test_comment_context_goes_before_the_prefix(family: str, expected: str) -> None:
    request = FimRequest(
        "let a = ", ";", file_path="app.js", repo_name="demo", context=CONTEXT, comment_prefix="//"
    )
    assert get_template(family).render(request) == expected


def test_comment_context_without_current_path_has_no_current_header() -> None:
    request = FimRequest("x", "", context=CONTEXT[1:])
    assert get_template("codegemma").render(request) == (
        "<|fim_prefix|># Path: lib/const.py\nLIMIT = 3\n\nx<|fim_suffix|><|fim_middle|>"
    )


# Golden prompts: each input under tests/golden/prompts holds a <|CURSOR|> marker and is
# rendered with every family. The settings below are the rest of each request.
GOLDEN_INPUTS: dict[str, dict[str, object]] = {
    "add.py": {"file_path": "mathlib/add.py", "comment_prefix": "#"},
    "greet.js": {"file_path": "web/greet.js", "comment_prefix": "//"},
    "server.go": {"file_path": "cmd/server/main.go", "comment_prefix": "//"},
    "shop.py": {
        "file_path": "shop.py",
        "comment_prefix": "#",
        "repo_name": "shop-demo",
        "context": ("inventory.py", "report.py"),
    },
}


def _golden_request(name: str) -> FimRequest:
    settings = GOLDEN_INPUTS[name]
    source = (GOLDEN_DIR / f"{name}.in").read_text(encoding="utf-8")
    assert source.count(CURSOR) == 1, f"{name}.in needs exactly one {CURSOR}"
    prefix, suffix = source.split(CURSOR)
    context_names = settings.get("context", ())
    assert isinstance(context_names, tuple)
    context = tuple(
        ContextSnippet(path, (GOLDEN_DIR / "context" / f"{path}.in").read_text(encoding="utf-8"))
        for path in context_names
    )
    repo_name = settings.get("repo_name")
    return FimRequest(
        prefix=prefix,
        suffix=suffix,
        file_path=str(settings["file_path"]),
        repo_name=None if repo_name is None else str(repo_name),
        context=context,
        comment_prefix=str(settings["comment_prefix"]),
    )


@pytest.mark.parametrize(
    ("name", "family"),
    [
        pytest.param(name, family, id=f"{name}-{family}")
        for name in GOLDEN_INPUTS
        for family in FAMILIES
    ],
)
def test_golden_prompt(name: str, family: str) -> None:
    rendered = get_template(family).render(_golden_request(name))
    check_golden(GOLDEN_DIR / f"{name}.{family}.prompt", rendered)


def test_every_golden_file_belongs_to_a_case() -> None:
    expected = {f"{name}.{family}.prompt" for name in GOLDEN_INPUTS for family in FAMILIES}
    assert {p.name for p in GOLDEN_DIR.glob("*.prompt")} == expected
    assert {p.name for p in GOLDEN_DIR.glob("*.in")} == {f"{name}.in" for name in GOLDEN_INPUTS}
