"""Code tokenization and the incremental BM25 index."""

from __future__ import annotations

import math
import threading

import pytest

from codehearth.index.bm25 import (
    BM25Index,
    identifier_spans,
    identifier_terms,
    split_identifier,
    tokenize_code,
)

# --- tokenization -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("parse_config", ("parse", "config"), id="snake-case"),
        pytest.param("parseConfig", ("parse", "config"), id="camel-case"),
        pytest.param("ParseConfigFile", ("parse", "config", "file"), id="pascal-case"),
        pytest.param("HTTPServer", ("http", "server"), id="leading-acronym"),
        pytest.param("parseHTTPResponse2", ("parse", "http", "response"), id="inner-acronym"),
        pytest.param("MAX_RETRY_COUNT", ("max", "retry", "count"), id="screaming-snake"),
        pytest.param("__init__", ("init",), id="dunder"),
        pytest.param("sha256sum", ("sha", "sum"), id="digits-split-and-dropped"),
        pytest.param("x", (), id="one-letter-dropped"),
        pytest.param("getX", ("get",), id="one-letter-part-dropped"),
        pytest.param("self", (), id="stop-word"),
        pytest.param("größeBerechnen", ("größe", "berechnen"), id="unicode-camel"),
        pytest.param("ÜberKlasse", ("über", "klasse"), id="unicode-pascal"),
        pytest.param("données_client", ("données", "client"), id="unicode-snake"),
        pytest.param("ΑΒΓParser", ("αβγ", "parser"), id="unicode-acronym"),
        pytest.param("計算結果", ("計算結果",), id="caseless-script"),
    ],
)
def test_split_identifier(name: str, expected: tuple[str, ...]) -> None:
    assert split_identifier(name) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "def load_user(self, userId):\n    return self.db.fetchUser(userId)\n",
            ["load", "user", "user", "id", "db", "fetch", "user", "user", "id"],
            id="python-keywords-and-self-dropped",
        ),
        pytest.param(
            "const total = computeTotal(items, 0.2); // TODO",
            ["total", "compute", "total", "items", "todo"],
            id="javascript-numbers-and-punctuation",
        ),
        pytest.param("", [], id="empty"),
        pytest.param("1 + 2 == 3", [], id="no-identifiers"),
    ],
)
def test_tokenize_code(text: str, expected: list[str]) -> None:
    assert tokenize_code(text) == expected


def test_identifier_spans_keep_names_verbatim_with_offsets() -> None:
    text = "result = self.compute_total(items, x)"
    assert identifier_spans(text) == [(0, "result"), (14, "compute_total"), (28, "items")]


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        pytest.param(["compute_total"], ["compute_total"], id="whole-lowercase"),
        pytest.param(["UserStore.fetchUser"], ["userstore", "fetchuser"], id="dotted"),
        pytest.param(["self", "x", "Parser"], ["parser"], id="filtered"),
    ],
)
def test_identifier_terms(names: list[str], expected: list[str]) -> None:
    assert identifier_terms(names) == expected


# --- index ------------------------------------------------------------------------------

DOCUMENTS = {
    "pricing": "compute total price with tax rate for items".split(),
    "discount": "apply discount code to total price".split(),
    "users": "fetch user by id from database connection".split(),
    "slug": "slugify title text lowercase dashes".split(),
    "long": ("tax " + "filler " * 60).split(),
}


def index_of(documents: dict[str, list[str]]) -> BM25Index:
    index = BM25Index()
    for key, tokens in documents.items():
        index.add(key, tokens)
    return index


@pytest.mark.parametrize(
    ("query", "best"),
    [
        pytest.param(["compute", "total"], "pricing", id="two-terms"),
        pytest.param(["discount"], "discount", id="single-rare-term"),
        pytest.param(["user", "database"], "users", id="other-document"),
        pytest.param(["tax"], "pricing", id="short-document-beats-long"),
        pytest.param(["total", "code", "code"], "discount", id="repeated-query-term"),
    ],
)
def test_ranking(query: list[str], best: str) -> None:
    results = index_of(DOCUMENTS).search(query, limit=3)
    assert results[0][0] == best
    assert [score for _, score in results] == sorted((s for _, s in results), reverse=True)


def test_rare_terms_weigh_more_than_common_ones() -> None:
    index = index_of(
        {
            "common-only": ["price", "price"],
            "rare": ["slugify", "other"],
            "filler-a": ["price", "a1"],
            "filler-b": ["price", "b1"],
        }
    )
    assert index.search(["price", "slugify"], limit=1)[0][0] == "rare"


def test_score_matches_okapi_formula() -> None:
    index = index_of({"a": ["x1", "x1", "y1"], "b": ["y1"], "c": ["z1", "z1", "z1", "z1"]})
    ((key, score),) = index.search(["x1"], limit=1)
    n, df, tf, dl, avgdl, k1, b = 3, 1, 2, 3, 8 / 3, 1.2, 0.75
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    expected = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
    assert key == "a"
    assert score == pytest.approx(expected)


@pytest.mark.parametrize(
    ("query", "limit"),
    [
        pytest.param(["nothing", "matches"], 5, id="no-shared-terms"),
        pytest.param([], 5, id="empty-query"),
        pytest.param(["total"], 0, id="zero-limit"),
    ],
)
def test_empty_results(query: list[str], limit: int) -> None:
    assert index_of(DOCUMENTS).search(query, limit) == []


def test_limit_caps_results() -> None:
    assert len(index_of(DOCUMENTS).search(["total", "price", "tax", "user"], limit=2)) == 2


def test_empty_index() -> None:
    index = BM25Index()
    assert len(index) == 0
    assert index.search(["anything"], 5) == []


def test_add_remove_update() -> None:
    index = index_of(DOCUMENTS)
    assert len(index) == 5
    assert "users" in index

    assert index.remove("users") is True
    assert index.remove("users") is False
    assert "users" not in index
    assert index.search(["database"], 5) == []

    index.add("pricing", ["shipping", "cost"])  # replaces the old document
    assert len(index) == 4
    assert index.search(["shipping"], 5)[0][0] == "pricing"
    assert all(key != "pricing" for key, _ in index.search(["compute"], 5))


def test_remove_restores_statistics() -> None:
    """Adding then removing a document leaves scores exactly as they were."""
    index = index_of(DOCUMENTS)
    before = index.search(["total", "price"], 5)
    index.add("extra", ["total", "total", "price"] * 10)
    assert index.search(["total", "price"], 5) != before
    index.remove("extra")
    assert index.search(["total", "price"], 5) == before


def test_empty_document_is_indexed_but_never_found() -> None:
    index = index_of({"empty": [], "one": ["word"]})
    assert "empty" in index
    assert [key for key, _ in index.search(["word"], 5)] == ["one"]


def test_common_terms_only_rescore_rare_matches() -> None:
    """Past ``max_postings``, a common term re-scores candidates instead of adding more."""
    documents = {f"doc{i}": ["common"] for i in range(50)}
    documents["target"] = ["rare", "common"]
    index = BM25Index(max_postings=10)
    for key, tokens in documents.items():
        index.add(key, tokens)
    assert [key for key, _ in index.search(["rare", "common"], 5)] == ["target"]
    # With nothing rarer in the query, the common term still finds documents.
    assert len(index.search(["common"], 5)) == 5


def test_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="k1"):
        BM25Index(b=1.5)


def test_concurrent_updates_and_searches() -> None:
    index = index_of(DOCUMENTS)
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            for i in range(2000):
                index.add(f"tmp{i % 7}", ["total", f"t{i}", "price"])
                index.remove(f"tmp{(i + 3) % 7}")
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    thread = threading.Thread(target=churn)
    thread.start()
    for _ in range(500):
        index.search(["total", "price"], 5)
    thread.join()
    assert errors == []
