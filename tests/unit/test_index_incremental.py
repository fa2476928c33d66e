"""What makes re-indexing fast keeps the results exact: chunking an edited file from its
previous tree, moving unchanged chunks' BM25 documents to their new keys, counting BM25
terms, the compact text the store keeps; and a build leaves the garbage collector as it
found it."""

from __future__ import annotations

import gc
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codehearth.index.bm25 import BM25Index, code_term_counts, identifier_terms, tokenize_code
from codehearth.index.chunker import ParsedFile, chunk_file
from codehearth.index.model import Chunk, FileChunks, Import
from codehearth.index.retrieval import DEFINE_WEIGHT, chunk_terms
from codehearth.index.store import IndexStore, decode_chunks, encode_chunks
from codehearth.index.workspace_index import WorkspaceIndex
from codehearth.languages import LanguageRegistry

REGISTRY = LanguageRegistry.load()
SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "grammar_samples"
SAMPLE_FILES = {
    "python": "sample.py",
    "typescript": "sample.ts",
    "go": "sample.go",
    "rust": "sample.rs",
    "c": "sample.c",
}
SNIPPETS = (
    "\n",
    "    ",
    "def f():\n    pass\n",
    "}",
    "{",
    '"',
    "/*",
    "x = 1;",
    "é名",
    "class A:",
    "",
)


@st.composite
def edits(draw: st.DrawFn) -> list[tuple[float, float, str]]:
    """Edits as (start, length) fractions of the current text and the text put there."""
    fraction = st.floats(min_value=0.0, max_value=1.0)
    snippet = st.sampled_from(SNIPPETS)
    return draw(st.lists(st.tuples(fraction, fraction, snippet), min_size=1, max_size=6))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(language_id=st.sampled_from(sorted(SAMPLE_FILES)), steps=edits())
def test_chunking_an_edit_from_the_previous_tree_matches_a_fresh_parse(
    language_id: str, steps: list[tuple[float, float, str]]
) -> None:
    text = (SAMPLES / SAMPLE_FILES[language_id]).read_text(encoding="utf-8")
    parsed: dict[str, ParsedFile] = {}
    chunk_file(REGISTRY, language_id, "f", text, parsed=parsed)
    for start_fraction, length_fraction, snippet in steps:
        start = int(start_fraction * len(text))
        end = start + int(length_fraction * (len(text) - start) / 4)
        text = text[:start] + snippet + text[end:]
        incremental = chunk_file(REGISTRY, language_id, "f", text, parsed=parsed)
        assert incremental == chunk_file(REGISTRY, language_id, "f", text)
        assert parsed["f"].data == text.encode("utf-8")


@settings(max_examples=40, deadline=None)
@given(
    language_id=st.sampled_from(sorted(SAMPLE_FILES)),
    rows=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=6),
)
def test_lines_added_to_a_valid_file_chunk_as_a_fresh_parse_does(
    language_id: str, rows: list[float]
) -> None:
    """Edits that keep the file valid: the edited tree is what the chunks come from."""
    lines = (SAMPLES / SAMPLE_FILES[language_id]).read_text(encoding="utf-8").split("\n")
    marker = "#" if language_id == "python" else "//"
    parsed: dict[str, ParsedFile] = {}
    chunk_file(REGISTRY, language_id, "f", "\n".join(lines), parsed=parsed)
    for number, row in enumerate(rows):
        at = int(row * len(lines))
        indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())] if at < len(lines) else ""
        lines.insert(at, f"{indent}{marker} edit {number}")
        text = "\n".join(lines)
        incremental = chunk_file(REGISTRY, language_id, "f", text, parsed=parsed)
        assert not parsed["f"].tree.root_node.has_error
        assert incremental == chunk_file(REGISTRY, language_id, "f", text)


def test_a_tree_of_another_language_is_not_reused() -> None:
    source = "function add(a, b) {\n  return a + b;\n}\n"
    parsed: dict[str, ParsedFile] = {}
    chunk_file(REGISTRY, "javascript", "lib", source, parsed=parsed)
    as_python = chunk_file(REGISTRY, "python", "lib", source + "\n", parsed=parsed)
    assert as_python == chunk_file(REGISTRY, "python", "lib", source + "\n")
    assert parsed["lib"].language_id == "python"


def test_rekey_moves_documents_even_when_keys_swap() -> None:
    moved = BM25Index()
    moved.add("a", ["alpha", "shared"])
    moved.add("b", ["beta", "beta", "shared"])
    moved.add("c", ["gamma"])
    moved.rekey({"a": "b", "b": "a", "c": "d"})
    fresh = BM25Index()
    fresh.add("b", ["alpha", "shared"])
    fresh.add("a", ["beta", "beta", "shared"])
    fresh.add("d", ["gamma"])
    for query in (["alpha"], ["beta"], ["shared"], ["gamma"], ["alpha", "beta", "gamma"]):
        assert moved.search(query) == fresh.search(query)
    assert "c" not in moved and len(moved) == 3
    assert moved.remove("d") and moved.search(["gamma"]) == []


@given(st.text(alphabet=st.sampled_from("aZ_9 .\n\tδΣςxX名(")))
def test_term_counts_are_the_tokens_counted(text: str) -> None:
    assert code_term_counts(text) == Counter(tokenize_code(text))


@given(st.lists(st.text(alphabet=st.sampled_from("aBΣ._ς\n"), max_size=6), max_size=5))
def test_identifier_terms_lower_each_dotted_part_alone(names: list[str]) -> None:
    expected = [
        term
        for name in names
        for term in (part.lower() for part in name.replace("\n", ".").split("."))
        if len(term) >= 2 and term not in {"self", "def"}
    ]
    assert [t for t in identifier_terms(names) if t not in {"self", "def"}] == expected


def test_chunk_terms_count_defines_references_and_text() -> None:
    chunk = chunk_file(
        REGISTRY, "python", "m.py", "def parse_http(raw):\n    return decode(raw)\n"
    ).chunks[0]
    terms = chunk_terms(chunk)
    tokens = [
        *[*identifier_terms(chunk.defines), "parse", "http"] * DEFINE_WEIGHT,
        *identifier_terms(chunk.references),
        *tokenize_code(chunk.text),
    ]
    assert terms == Counter(tokens)


names = st.lists(st.text(alphabet=st.sampled_from("ab\n .é"), max_size=4), max_size=4)


@st.composite
def file_chunks(draw: st.DrawFn) -> FileChunks:
    text = st.text(alphabet=st.sampled_from('ab\n"\\é名\x00{}'), max_size=30)
    chunks = tuple(
        Chunk(
            "p.py",
            "python",
            draw(st.integers(0, 9)),
            draw(st.integers(0, 9)),
            draw(st.sampled_from(["", "f", "A.f"])),
            draw(st.sampled_from(["function", "module", "part"])),
            body := draw(text),
            draw(st.one_of(st.just(body), text)),
            tuple(draw(names)),
            tuple(draw(names)),
            draw(st.sampled_from(["", "A"])),
        )
        for _ in range(draw(st.integers(0, 4)))
    )
    imports = (Import(draw(st.sampled_from(["os", "..m"])), tuple(draw(names))),)
    return FileChunks("p.py", "python", "h" * 64, chunks, imports)


@given(file_chunks())
def test_encoded_chunks_decode_to_the_same_chunks(chunks: FileChunks) -> None:
    assert decode_chunks(encode_chunks(chunks)) == chunks


@pytest.mark.parametrize("damaged", ["", "[]", "not json\nbody", '["p","python","h",[],[]]\nx'])
def test_damaged_values_decode_to_nothing(damaged: str) -> None:
    assert decode_chunks(damaged) is None


def test_a_buffer_the_store_cannot_encode_is_skipped_not_fatal(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "cache")
    odd = chunk_file(REGISTRY, "python", "odd.py", "x = '\udc80'\n")
    fine = chunk_file(REGISTRY, "python", "fine.py", "y = 1\n")
    store.save_encoded([(c.content_hash, c.language_id, encode_chunks(c)) for c in (odd, fine)])
    assert store.persistent and store.problem is None
    assert store.load_chunks(odd.content_hash, "python") is None
    assert store.load_chunks(fine.content_hash, "python") == fine


@pytest.mark.parametrize("enabled", [True, False])
def test_a_build_leaves_the_collector_as_it_was(tmp_path: Path, enabled: bool) -> None:
    (tmp_path / "a.py").write_text("def a():\n    return 1\n", encoding="utf-8")
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        index = WorkspaceIndex(tmp_path, REGISTRY, IndexStore(tmp_path.parent / "cache"))
        index.build()
        assert gc.isenabled() is enabled
        index.update_file(str(tmp_path / "a.py"), "def b():\n    return 2\n")
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()
