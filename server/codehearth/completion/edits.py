"""Where a suggestion goes: the insert text and the range it replaces on the cursor line.

Editors auto-close brackets and quotes, so when the user types ``print(`` the line reads
``print(|)``. A suggestion shown before the ``)`` and accepted as-is would be fine, but
ghost text reads better and nothing can be duplicated when the suggestion *replaces* the
auto-closed tail: the item's range runs from the cursor over those characters and its text
ends with them. Only a tail made of closing characters is swallowed; any other text after
the cursor is left alone.
"""

from __future__ import annotations

import attrs

from codehearth.completion.cursor import CLOSERS


@attrs.frozen
class Insertion:
    """Text to insert at the cursor, replacing ``replaced`` characters after it."""

    text: str
    replaced: int


def swallowable_tail(rest_of_line: str) -> str:
    """The auto-closed characters after the cursor that a suggestion may replace.

    Returns ``""`` when the rest of the line holds anything but closers and whitespace.
    """
    tail = rest_of_line.rstrip("\r\n")
    stripped = tail.rstrip()
    if stripped and all(char in CLOSERS or char.isspace() for char in stripped):
        return stripped
    return ""


def plan_insertion(rest_of_line: str, suggestion: str) -> Insertion:
    """Insert ``suggestion`` at the cursor so that accepting it never duplicates a closer.

    ``suggestion`` has already been filtered against the suffix, so it does not repeat the
    tail; the tail is appended to the insert text and covered by the range.
    """
    tail = swallowable_tail(rest_of_line)
    if not tail:
        return Insertion(text=suggestion, replaced=0)
    return Insertion(text=suggestion + tail, replaced=len(tail))
