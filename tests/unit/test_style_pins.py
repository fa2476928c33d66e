"""Pinned style attributes (``style.pin``): valid entries are kept, anything else is one
warning and ignored, and pins win over formatter configs and inference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codehearth.languages import LanguageRegistry
from codehearth.settings import build_settings
from codehearth.style.extract import Value
from codehearth.style.pins import parse_pins
from codehearth.style.profile import build_profile

REGISTRY = LanguageRegistry.load()
LANGUAGES = {spec.language_id for spec in REGISTRY.specs}
FIXTURES = Path(__file__).parent.parent / "fixtures" / "style"


@pytest.mark.parametrize(
    ("entry", "pins"),
    [
        pytest.param(
            {"language": "python", "attribute": "quotes.strings", "value": "single"},
            {"python": {"quotes.strings": "single"}},
            id="choice",
        ),
        pytest.param(
            {"language": "python", "attribute": "docstrings.style", "value": "numpy"},
            {"python": {"docstrings.style": "NumPy"}},
            id="choice-any-case",
        ),
        pytest.param(
            {"attribute": "indent.size", "value": 2},
            {"*": {"indent.size": 2}},
            id="no-language-means-all",
        ),
        pytest.param(
            {"language": "*", "attribute": "line_length.limit", "value": 100},
            {"*": {"line_length.limit": 100}},
            id="star",
        ),
        pytest.param(
            {"language": "typescript", "attribute": "annotations.returns", "value": 1},
            {"typescript": {"annotations.returns": 1.0}},
            id="share",
        ),
        pytest.param(
            {"language": "go", "attribute": "errors.idiom", "value": " wrapped errors "},
            {"go": {"errors.idiom": "wrapped errors"}},
            id="free-text",
        ),
        pytest.param(
            {"language": "python", "attribute": "libraries.preferred", "value": ["httpx"]},
            {"python": {"libraries.preferred": ("httpx",)}},
            id="libraries",
        ),
    ],
)
def test_valid_pin(entry: dict[str, Any], pins: dict[str, dict[str, Value]]) -> None:
    assert parse_pins([entry], LANGUAGES) == (pins, [])


@pytest.mark.parametrize(
    ("entry", "warning"),
    [
        pytest.param({"attribute": "quotes", "value": "single"}, "unknown attribute", id="attr"),
        pytest.param({"value": "single"}, "no attribute", id="no-attribute"),
        pytest.param(
            {"language": "cobol", "attribute": "indent.size", "value": 4},
            "unknown language 'cobol'",
            id="language",
        ),
        pytest.param({"attribute": "indent.size"}, "has no value", id="no-value"),
        pytest.param(
            {"attribute": "quotes.strings", "value": "backtick"}, "expected one of", id="choice"
        ),
        pytest.param({"attribute": "indent.size", "value": 0}, "from 1 to 16", id="too-small"),
        pytest.param({"attribute": "indent.size", "value": "4"}, "whole number", id="text-size"),
        pytest.param({"attribute": "indent.size", "value": True}, "whole number", id="bool-size"),
        pytest.param(
            {"attribute": "annotations.parameters", "value": 1.5}, "from 0 to 1", id="share"
        ),
        pytest.param(
            {"attribute": "tests.framework", "value": "x" * 61}, "at most 60", id="long-text"
        ),
        pytest.param(
            {"attribute": "errors.idiom", "value": "a\nb"}, "line of text", id="multi-line"
        ),
        pytest.param(
            {"attribute": "libraries.preferred", "value": "httpx"}, "list", id="not-a-list"
        ),
        pytest.param(
            {"attribute": "quotes.strings", "value": "single", "lang": "python"},
            "unknown key(s) lang",
            id="unknown-key",
        ),
    ],
)
def test_invalid_pin_is_one_warning_and_ignored(entry: dict[str, Any], warning: str) -> None:
    valid = {"language": "rust", "attribute": "indent.size", "value": 4}
    pins, warnings = parse_pins([entry, valid], LANGUAGES)
    assert pins == {"rust": {"indent.size": 4}}
    assert len(warnings) == 1
    assert warnings[0].startswith("style.pin entry 1: ") and warning in warnings[0]


def test_a_later_pin_for_the_same_attribute_wins() -> None:
    entries = [
        {"language": "python", "attribute": "indent.size", "value": 2},
        {"language": "python", "attribute": "indent.size", "value": 8},
    ]
    assert parse_pins(entries, LANGUAGES) == ({"python": {"indent.size": 8}}, [])


def test_pins_come_from_the_settings_as_tables() -> None:
    loaded = build_settings(
        {"style": {"pin": [{"language": "python", "attribute": "quotes.strings", "value": "x"}]}}
    )
    assert loaded.warnings == ()
    assert loaded.settings.style.pin == [
        {"language": "python", "attribute": "quotes.strings", "value": "x"}
    ]


def test_pins_win_over_configs_and_inference() -> None:
    pins, _ = parse_pins(
        [
            {"attribute": "line_length.limit", "value": 120},
            {"language": "python", "attribute": "quotes.strings", "value": "single"},
            {"language": "python", "attribute": "line_length.limit", "value": 100},
        ],
        LANGUAGES,
    )
    configured = build_profile(FIXTURES / "black_py", REGISTRY).profile("python")
    pinned = build_profile(FIXTURES / "black_py", REGISTRY, pinned=pins).profile("python")
    assert configured is not None and pinned is not None
    assert configured.attributes["quotes.strings"].source == "config:pyproject.toml"
    quotes = pinned.attributes["quotes.strings"]
    assert (quotes.value, quotes.source, quotes.confidence) == ("single", "pinned", 1.0)
    assert quotes.evidence == configured.attributes["quotes.strings"].evidence
    # a language's own pin beats the one for every language, whatever their order
    assert pinned.attributes["line_length.limit"].value == 100
    assert pinned.value("quotes.strings") == "single"
