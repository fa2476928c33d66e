"""Which files vote on the style, and how much: each file votes as one sample of the
user's style, so volume alone does not win (issue 18)."""

from __future__ import annotations

import pytest

from codehearth.languages import LanguageRegistry
from codehearth.style.extract import StyleAttribute, StyleExtractor

REGISTRY = LanguageRegistry.load()


def quoted(quote: str, strings: int) -> str:
    """A hand-written function returning ``strings`` different quoted strings."""
    body = "".join(
        f"    if code == {index}:\n        return {quote}label {index}{quote}\n"
        for index in range(strings)
    )
    return f"def label_for(code):\n{body}    return None\n"


def extracted_quotes(files: list[str]) -> StyleAttribute:
    extractor = StyleExtractor(REGISTRY)
    for text in files:
        extractor.add("python", text)
    return extractor.result()["python"]["quotes.strings"]


# --- per-file votes -----------------------------------------------------------------------


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
