"""Document sync hooks: ``textDocument/didOpen``, ``didChange``, ``didSave`` and
``didClose``.

pygls keeps the text; these handlers tell the completion engine about keystrokes (typing
cadence, cancelling streams the new text contradicts) and closed documents, stop the code
actions running for another version of the document (their edits would not apply), and
schedule the index update and the syntax diagnostics for the document (cleared when it
closes); saving the workspace's ``codehearth.toml`` reloads the settings. They stay thin:
they run on every keystroke.

:func:`use_lsp_positions` fixes two pygls 2.1 position bugs for the workspace: lines end
where the LSP says (``\\r\\n``, ``\\r``, ``\\n``), while pygls splits with ``str.splitlines``,
which also breaks at form feeds, ``\\x85``, U+2028 and others (after such a character,
incremental edits landed on the wrong line and ranges sent back were off); and a position
on the empty line after a final line break (the end of the file) is that place, while
pygls moved it to the previous line, at a column counted in client units (past the end of
the text when that line holds non-ASCII characters).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lsprotocol import types
from pygls.workspace import PositionCodec, ServerTextPosition, TextDocument, Workspace

from codehearth.features.diagnostics import SyntaxDiagnostics
from codehearth.server import CodeHearthServer

_NOT_LSP_LINE_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_LSP_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


class LspLinesDocument(TextDocument):
    """A pygls document whose lines end at ``\\r\\n``, ``\\r`` and ``\\n`` only."""

    @property
    def lines(self) -> Sequence[str]:
        source = self.source
        if _NOT_LSP_LINE_BREAKS.search(source) is None:
            return tuple(source.splitlines(True))  # the same lines, faster
        return tuple(_LSP_LINE.findall(source))


class LspPositionCodec(PositionCodec):
    """pygls's codec, except that a position past the last line is the end of the text."""

    def position_from_client_units(
        self, lines: Sequence[str], position: types.Position
    ) -> ServerTextPosition:
        if lines and position.line >= len(lines):
            last = lines[-1]
            if last.endswith(("\n", "\r")):
                return ServerTextPosition(len(lines), 0)
            return ServerTextPosition(len(lines) - 1, len(last))
        return super().position_from_client_units(lines, position)


def use_lsp_positions(workspace: Workspace) -> None:
    """Make ``workspace`` count positions as the LSP does (see the module docstring)."""
    workspace._position_codec = LspPositionCodec(workspace.position_encoding)

    def create(
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return LspLinesDocument(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=workspace._sync_kind,
            position_codec=workspace.position_codec,
        )

    workspace._create_text_document = create  # type: ignore[method-assign]


def register(server: CodeHearthServer) -> None:
    server.syntax_diagnostics = SyntaxDiagnostics(server)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def on_open(ls: CodeHearthServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.index_updates.schedule(params.text_document.uri, saved=False, delay=0)
        ls.syntax_diagnostics.opened(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def on_change(ls: CodeHearthServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        document = ls.open_document(uri)
        if ls.engine is not None and document is not None:
            ls.engine.document_changed(uri, document.source)
        if ls.outcomes.watching(uri) and document is not None:
            ls.outcomes.document_changed(uri, document.lines)
        for change in params.content_changes:
            line = change.range.start.line if hasattr(change, "range") else 0
            ls.note_edit(uri, line)
        ls.action_runs.document_changed(uri, params.text_document.version)
        ls.index_updates.schedule(uri, saved=False)
        ls.syntax_diagnostics.changed(uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def on_save(ls: CodeHearthServer, params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        if ls.settings_file.is_settings_file(uri):
            ls.spawn(ls.settings_file.reload(), "reload the settings file")
        ls.index_updates.schedule(uri, saved=True, delay=0)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def on_close(ls: CodeHearthServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.outcomes.document_closed(params.text_document.uri)
        ls.action_runs.document_closed(params.text_document.uri)
        ls.syntax_diagnostics.closed(params.text_document.uri)
        if ls.engine is not None:
            ls.engine.document_closed(params.text_document.uri)
