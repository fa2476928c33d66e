"""Syntax diagnostics (``textDocument/publishDiagnostics``), off by default.

When ``diagnostics.syntax`` is on, open documents are parsed with tree-sitter after each
change (debounced, off the event loop) and every ERROR or MISSING node is published as a
diagnostic with source ``codehearth`` and code ``syntax``. Editors then show CodeHearth's
quick fix for it (the refine loop verifies the fix parses). Meant for editors with no
other language server for the file; most users leave it off.
"""

from __future__ import annotations

import asyncio

from lsprotocol import types

from codehearth.languages import LanguageRegistry, parse_with_deadline
from codehearth.server import CodeHearthServer, DocumentTimers, client_range

DEBOUNCE_SECONDS = 0.4
PARSE_DEADLINE_MICROS = 500_000
MAX_DIAGNOSTICS = 20


def syntax_problems(
    registry: LanguageRegistry, language_id: str, text: str
) -> list[tuple[int, int, int, int, str]]:
    """(start line, start column, end line, end column, message) per syntax error, in
    UTF-8 byte columns converted to code points."""
    parser = registry.parser(language_id)
    if parser is None:
        return []
    source = text.encode("utf-8")
    tree = parse_with_deadline(parser, source, PARSE_DEADLINE_MICROS)
    if tree is None or not tree.root_node.has_error:
        return []
    lines = source.split(b"\n")
    problems: list[tuple[int, int, int, int, str]] = []
    pending = [tree.root_node]
    while pending and len(problems) < MAX_DIAGNOSTICS:
        node = pending.pop()
        if node.is_missing:
            message = f"syntax error: missing {node.type}"
        elif node.is_error:
            message = "syntax error"
        else:
            pending.extend(reversed([child for child in node.children if child.has_error]))
            continue
        (start_row, start_byte), (end_row, end_byte) = node.start_point, node.end_point
        problems.append(
            (
                start_row,
                _column(lines, start_row, start_byte),
                end_row,
                _column(lines, end_row, end_byte),
                message,
            )
        )
    return problems


def _column(lines: list[bytes], row: int, byte_column: int) -> int:
    line = lines[row] if row < len(lines) else b""
    return len(line[:byte_column].decode("utf-8", "replace"))


class SyntaxDiagnostics:
    """Debounced publishing for the documents that change."""

    def __init__(self, ls: CodeHearthServer) -> None:
        self.ls = ls
        self.registry = LanguageRegistry.load()  # its own parsers: used from a thread
        self._timers = DocumentTimers(ls.spawn)

    def schedule(self, uri: str) -> None:
        self._timers.schedule(
            uri, DEBOUNCE_SECONDS, lambda: self._publish(uri), "syntax diagnostics"
        )

    async def _publish(self, uri: str) -> None:
        # Settings are final once the services started (a didOpen can come first).
        if not await self.ls.wait_ready() or not self.ls.settings.diagnostics.syntax:
            return
        if self.ls.open_document(uri) is None:
            return
        document = self.ls.workspace.get_text_document(uri)
        version = document.version
        problems = await asyncio.to_thread(
            syntax_problems, self.registry, document.language_id or "", document.source
        )
        current = self.ls.open_document(uri)
        if current is None or current.version != version:
            return  # a newer change will publish
        lines = document.lines
        diagnostics = [
            types.Diagnostic(
                range=client_range(document, lines, start_line, start_column, end_line, end_column),
                message=message,
                severity=types.DiagnosticSeverity.Error,
                source="codehearth",
                code="syntax",
            )
            for start_line, start_column, end_line, end_column, message in problems
        ]
        self.ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version)
        )

    def cancel_all(self) -> None:
        self._timers.cancel_all()
