"""What became of the suggestions shown: accepted, or rejected by typing something else.

The inline completion handler calls :meth:`SuggestionOutcomes.shown` for the suggestion it
returns; an accepted item runs the ``codehearth.suggestionAccepted`` command, which calls
:meth:`accepted`; a document change that no longer agrees with the suggestion (the user
typed something else, or moved on) makes it :meth:`rejected`. Each outcome is handed to a
``record(uri, text, accepted)`` callable (the memory store's recall). No pygls here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

Record = Callable[[str, str, bool], None]


@attrs.frozen
class Shown:
    """A suggestion as offered: the text before it on its line, and its text."""

    line: int
    line_prefix: str
    text: str


class SuggestionOutcomes:
    """The last suggestion per document and its fate."""

    def __init__(self, record: Record) -> None:
        self.record = record
        self._shown: dict[str, Shown] = {}

    def shown(self, uri: str, line: int, line_prefix: str, text: str) -> None:
        """A new suggestion replaces the one before it (that one was passed over)."""
        previous = self._shown.get(uri)
        if previous is not None and previous.text != text:
            self.record(uri, previous.text, False)
        self._shown[uri] = Shown(line, line_prefix, text)

    def accepted(self, uri: str, text: str) -> None:
        self._shown.pop(uri, None)
        self.record(uri, text, True)

    def watching(self, uri: str) -> bool:
        return uri in self._shown

    def document_changed(self, uri: str, lines: Sequence[str]) -> None:
        """Reject the suggestion once the line no longer agrees with it."""
        shown = self._shown.get(uri)
        if shown is None:
            return
        current = lines[shown.line] if shown.line < len(lines) else ""
        current = current.rstrip("\r\n")
        if current.startswith(shown.line_prefix):
            typed = current[len(shown.line_prefix) :]
            first_line = shown.text.split("\n", 1)[0]
            if first_line.startswith(typed.rstrip(")]}\"'`;, ")) or typed.startswith(first_line):
                return  # typing along it (or it was just accepted: the command decides)
        del self._shown[uri]
        self.record(uri, shown.text, False)

    def document_closed(self, uri: str) -> None:
        shown = self._shown.pop(uri, None)
        if shown is not None:
            self.record(uri, shown.text, False)
