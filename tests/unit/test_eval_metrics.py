"""The eval's scores of one suggestion against the expected rest of the line."""

from __future__ import annotations

import pytest

from codehearth.evaluation import metrics


@pytest.mark.parametrize(
    ("suggestion", "expected", "match"),
    [
        pytest.param("total(), percent)", "total(), percent)", True, id="same"),
        pytest.param("total(), percent)  \n", "total(), percent)", True, id="trailing-space"),
        pytest.param("x = 1\ny = 2", "x = 1", True, id="only-the-first-line-counts"),
        pytest.param("total(), rate)", "total(), percent)", False, id="different"),
        pytest.param("", "total()", False, id="empty"),
        pytest.param("\ntotal()", "total()", False, id="a-leading-line-break-is-no-answer"),
    ],
)
def test_exact_match(suggestion: str, expected: str, match: bool) -> None:
    assert metrics.exact_match(suggestion, expected) is match


@pytest.mark.parametrize(
    ("left", "right", "distance"),
    [
        pytest.param("", "", 0, id="empty"),
        pytest.param("abc", "", 3, id="all-deleted"),
        pytest.param("kitten", "sitting", 3, id="kitten-sitting"),
        pytest.param("flaw", "lawn", 2, id="delete-and-insert"),
        pytest.param("same", "same", 0, id="same"),
    ],
)
def test_levenshtein(left: str, right: str, distance: int) -> None:
    assert metrics.levenshtein(left, right) == distance
    assert metrics.levenshtein(right, left) == distance


@pytest.mark.parametrize(
    ("suggestion", "expected", "similarity"),
    [
        pytest.param("", "", 1.0, id="both-empty"),
        pytest.param("", "abcd", 0.0, id="nothing-suggested"),
        pytest.param("abcd", "abcd", 1.0, id="same"),
        pytest.param("abcx", "abcd", 0.75, id="one-of-four-wrong"),
        pytest.param("ab", "abcd", 0.5, id="half-written"),
        pytest.param("  abcd  \nmore", "abcd", 1.0, id="first-line-stripped"),
    ],
)
def test_edit_similarity(suggestion: str, expected: str, similarity: float) -> None:
    assert metrics.edit_similarity(suggestion, expected) == pytest.approx(similarity)


@pytest.mark.parametrize(
    ("text", "language_id", "names"),
    [
        pytest.param(
            "return apply_discount(cart.total(), 10)",
            "python",
            ["apply_discount", "cart", "total"],
            id="python-keywords-left-out",
        ),
        pytest.param("return x", "go", ["return", "x"], id="other-languages-keep-every-word"),
        pytest.param(
            'f"{name}: {price:.2f}"', "python", ["f", "name", "price"], id="no-word-in-2f"
        ),
        pytest.param("größe = 1", "python", ["größe"], id="unicode"),
    ],
)
def test_identifiers(text: str, language_id: str, names: list[str]) -> None:
    assert metrics.identifiers(text, language_id) == names


@pytest.mark.parametrize(
    ("suggestion", "expected", "f1", "exact"),
    [
        pytest.param("a(b, c)", "a(b, c)", 1.0, True, id="same"),
        pytest.param("a(c, b)", "a(b, c)", 1.0, False, id="same-names-other-order"),
        pytest.param("a(b)", "a(b, c)", 0.8, False, id="two-of-three"),
        pytest.param("x(y)", "a(b, c)", 0.0, False, id="none-shared"),
        pytest.param(")", ")", 1.0, True, id="no-identifiers-either-side"),
        pytest.param("", "a(b)", 0.0, False, id="empty"),
        pytest.param("a(a)", "a(b)", 0.5, False, id="counted-as-multisets"),
    ],
)
def test_identifier_match(suggestion: str, expected: str, f1: float, exact: bool) -> None:
    assert metrics.identifier_f1(suggestion, expected, "python") == pytest.approx(f1)
    assert metrics.identifier_exact(suggestion, expected, "python") is exact


@pytest.mark.parametrize(
    ("values", "share", "result"),
    [
        pytest.param([], 0.5, None, id="none"),
        pytest.param([7.0], 0.95, 7.0, id="one"),
        pytest.param([4.0, 1.0, 3.0, 2.0], 0.5, 2.0, id="median-nearest-rank"),
        pytest.param([float(n) for n in range(1, 21)], 0.95, 19.0, id="p95-of-20"),
        pytest.param([float(n) for n in range(1, 11)], 0.95, 10.0, id="p95-of-10-is-the-max"),
    ],
)
def test_percentile(values: list[float], share: float, result: float | None) -> None:
    assert metrics.percentile(values, share) == result
