"""Attributes the user pins (the ``style.pin`` setting): checked here, applied by
:meth:`~codehearth.style.profile.StyleTracker.style`, where they win over formatter
configs and inference (source ``pinned``, full confidence).

Each entry is a table with ``attribute``, ``value`` and optionally ``language`` (a
language id; ``*`` or left out: every language). :func:`parse_pins` turns the entries into
``{language or "*": {attribute: value}}`` and returns one warning for each entry it
ignores (an unknown attribute or language, a value the attribute cannot take).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from codehearth.style.extract import Value

ALL_LANGUAGES = "*"

NAMING_STYLES = ("snake_case", "camelCase", "PascalCase", "UPPER_CASE", "MixedCaps")

CHOICES: dict[str, tuple[str, ...]] = {
    "indent.style": ("spaces", "tabs"),
    "quotes.strings": ("single", "double"),
    "quotes.docstrings": ("single", "double"),
    "trailing_commas": ("yes", "no"),
    "naming.function": NAMING_STYLES,
    "naming.variable": NAMING_STYLES,
    "naming.class": NAMING_STYLES,
    "naming.constant": NAMING_STYLES,
    "naming.private": ("_prefix", "__prefix", "#private", "no prefix"),
    "docstrings.style": ("Google", "NumPy", "reST", "JSDoc", "line comments"),
    "imports.form": ("from-import", "import"),
    "imports.relative": ("relative", "absolute"),
    "imports.grouping": ("grouped", "mixed"),
}
"""Attributes with a fixed set of values (matched ignoring case)."""

WIDTHS: dict[str, tuple[int, int]] = {
    "indent.size": (1, 16),
    "line_length.limit": (20, 500),
    "line_length.p95": (20, 500),
}
"""Whole-number attributes and their range."""

SHARES = ("annotations.parameters", "annotations.returns")
"""Attributes that are a share from 0 to 1."""

FREE_TEXT = ("errors.idiom", "tests.framework")
"""Attributes whose value is the user's own short wording (it goes into prompts)."""

MAX_TEXT_CHARS = 60
MAX_LIBRARIES = 10

ATTRIBUTES = (*CHOICES, *WIDTHS, *SHARES, *FREE_TEXT, "libraries.preferred")

Pins = dict[str, dict[str, Value]]
"""Language id (or ``*``) → attribute → value."""


def parse_pins(
    entries: Iterable[Mapping[str, Any]], languages: Collection[str]
) -> tuple[Pins, list[str]]:
    """The valid entries as :data:`Pins` (a later entry for the same attribute and
    language wins), and a warning for each one ignored; ``languages`` are the known ids."""
    pins: Pins = {}
    warnings: list[str] = []
    for number, entry in enumerate(entries, start=1):
        where = f"style.pin entry {number}"
        unknown = sorted(set(entry) - {"language", "attribute", "value"})
        attribute = entry.get("attribute")
        language = entry.get("language") or ALL_LANGUAGES
        if unknown:
            warnings.append(f"{where}: unknown key(s) {', '.join(unknown)}; entry ignored")
        elif attribute is None:
            warnings.append(f"{where}: no attribute; entry ignored")
        elif attribute not in ATTRIBUTES:
            warnings.append(
                f"{where}: unknown attribute {attribute!r} ignored (known: {', '.join(ATTRIBUTES)})"
            )
        elif language != ALL_LANGUAGES and language not in languages:
            warnings.append(f"{where}: unknown language {language!r}; entry ignored")
        elif "value" not in entry:
            warnings.append(f"{where}: {attribute} has no value; entry ignored")
        else:
            value, problem = pin_value(attribute, entry["value"])
            if value is None:
                warnings.append(f"{where}: {attribute} = {entry['value']!r} ignored ({problem})")
            else:
                pins.setdefault(language, {})[attribute] = value
    return pins, warnings


def pin_value(attribute: str, raw: Any) -> tuple[Value | None, str]:
    """The value as the profile holds it, or (None, why it is not valid)."""
    if attribute in CHOICES:
        choices = CHOICES[attribute]
        for choice in choices:
            if isinstance(raw, str) and raw.strip().lower() == choice.lower():
                return choice, ""
        return None, f"expected one of {', '.join(choices)}"
    if attribute in WIDTHS:
        low, high = WIDTHS[attribute]
        if isinstance(raw, int) and not isinstance(raw, bool) and low <= raw <= high:
            return raw, ""
        return None, f"expected a whole number from {low} to {high}"
    if attribute in SHARES:
        if isinstance(raw, int | float) and not isinstance(raw, bool) and 0 <= raw <= 1:
            return float(raw), ""
        return None, "expected a share from 0 to 1"
    if attribute in FREE_TEXT:
        if _short_text(raw):
            return raw.strip(), ""
        return None, f"expected a line of text of at most {MAX_TEXT_CHARS} characters"
    if attribute != "libraries.preferred":
        return None, "unknown attribute"
    if (
        isinstance(raw, list)
        and 0 < len(raw) <= MAX_LIBRARIES
        and all(_short_text(item) for item in raw)
    ):
        return tuple(item.strip() for item in raw), ""
    return None, f"expected a list of 1 to {MAX_LIBRARIES} names"


def _short_text(raw: Any) -> bool:
    return (
        isinstance(raw, str)
        and 0 < len(raw.strip()) <= MAX_TEXT_CHARS
        and raw.strip().isprintable()
    )
