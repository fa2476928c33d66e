"""Syntax diagnostics (``textDocument/publishDiagnostics``), on by default.

Open documents are parsed with tree-sitter off the event loop, and each syntax error is
published on its line and named (``expected ':'``; see :mod:`codehearth.syntax`), with
source ``codehearth`` and code ``syntax``. Editors then offer CodeHearth's quick fix for
it, also where no other language server checks the file. ``diagnostics.syntax = false``
turns them off (for files another language server already checks); switching it clears
or publishes them for the open documents at once.

Not while typing: a half-typed line is rarely valid, so an error that appears after a
change waits until the document has been idle for :data:`IDLE_SECONDS`. An error already
shown stays while it lasts (the same message on the same line number or the same line
text), and one the user fixed goes away :data:`SETTLE_SECONDS` after the change. A
document just opened gets its errors after :data:`SETTLE_SECONDS`. The same list is not
published twice, and a document that never had an error gets no publish at all (another
server's diagnostics for it are not touched); a closed document's are cleared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import attrs
from lsprotocol import types
from pygls.workspace import TextDocument

from codehearth.languages import LanguageRegistry
from codehearth.server import CodeHearthServer, DocumentTimers, client_range
from codehearth.syntax import SyntaxProblem, syntax_problems

SETTLE_SECONDS = 0.4
"""Quiet time after a change (or the open) before the document is parsed."""

IDLE_SECONDS = 1.5
"""Quiet time after a change before an error it made is shown."""


@attrs.frozen
class _Shown:
    problem: SyntaxProblem
    line_text: str

    def still(self, new: _Shown) -> bool:
        """Is ``new`` this problem still (on a line that may have moved or changed)?"""
        return new.problem.message == self.problem.message and (
            new.problem.start_line == self.problem.start_line or new.line_text == self.line_text
        )


class SyntaxDiagnostics:
    """Debounced publishing for the documents that change."""

    def __init__(self, ls: CodeHearthServer) -> None:
        self.ls = ls
        self.registry = LanguageRegistry.load()  # its own parsers: used from a thread
        self._timers = DocumentTimers(ls.spawn)
        self._shown: dict[str, tuple[_Shown, ...]] = {}

    def opened(self, uri: str) -> None:
        self._schedule(uri, SETTLE_SECONDS, hold_new=False)

    def changed(self, uri: str) -> None:
        self._schedule(uri, SETTLE_SECONDS, hold_new=True)

    def closed(self, uri: str) -> None:
        self._timers.cancel(uri)
        if self._shown.pop(uri, ()):
            self.ls.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            )

    def refresh(self, uris: Sequence[str]) -> None:
        """Publish afresh for these documents (after ``diagnostics.syntax`` changed)."""
        for uri in uris:
            self._schedule(uri, 0, hold_new=False)

    def cancel_all(self) -> None:
        self._timers.cancel_all()

    def _schedule(self, uri: str, delay: float, *, hold_new: bool) -> None:
        self._timers.schedule(
            uri, delay, lambda: self._publish(uri, hold_new=hold_new), "syntax diagnostics"
        )

    async def _publish(self, uri: str, *, hold_new: bool) -> None:
        # Settings are final once the services started (a didOpen can come first).
        if not await self.ls.wait_ready() or self.ls.open_document(uri) is None:
            return
        document = self.ls.workspace.get_text_document(uri)
        version = document.version
        problems: list[SyntaxProblem] = []
        if self.ls.settings.diagnostics.syntax:
            problems = await asyncio.to_thread(
                syntax_problems, self.registry, document.language_id or "", document.source
            )
        current = self.ls.open_document(uri)
        if current is None or current.version != version:
            return  # a newer change will publish
        lines = document.lines
        shown = [_Shown(problem, _line(lines, problem.start_line)) for problem in problems]
        if hold_new:
            before = self._shown.get(uri, ())
            kept = [new for new in shown if any(old.still(new) for old in before)]
            if len(kept) < len(shown):
                self._schedule(uri, IDLE_SECONDS - SETTLE_SECONDS, hold_new=False)
            shown = kept
        self._send(uri, document, lines, tuple(shown))

    def _send(
        self, uri: str, document: TextDocument, lines: Sequence[str], shown: tuple[_Shown, ...]
    ) -> None:
        before = self._shown.get(uri, ())
        self._shown[uri] = shown
        if [item.problem for item in shown] == [item.problem for item in before]:
            return
        diagnostics = [
            types.Diagnostic(
                range=client_range(
                    document,
                    lines,
                    item.problem.start_line,
                    item.problem.start_column,
                    item.problem.end_line,
                    item.problem.end_column,
                ),
                message=item.problem.message,
                severity=types.DiagnosticSeverity.Error,
                source="codehearth",
                code="syntax",
            )
            for item in shown
        ]
        self.ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=uri, diagnostics=diagnostics, version=document.version
            )
        )


def _line(lines: Sequence[str], index: int) -> str:
    return lines[index].strip() if index < len(lines) else ""
