"""Document sync hooks: ``textDocument/didOpen``, ``didChange``, ``didSave`` and
``didClose``.

pygls keeps the text; these handlers tell the completion engine about keystrokes (typing
cadence, cancelling streams the new text contradicts) and closed documents, and schedule
the index update and (when enabled) the syntax diagnostics for the document. They stay
thin: they run on every keystroke.
"""

from __future__ import annotations

from lsprotocol import types

from codehearth.features.diagnostics import SyntaxDiagnostics
from codehearth.server import CodeHearthServer


def register(server: CodeHearthServer) -> None:
    server.syntax_diagnostics = SyntaxDiagnostics(server)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def on_open(ls: CodeHearthServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.index_updates.schedule(params.text_document.uri, saved=False, delay=0)
        ls.syntax_diagnostics.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def on_change(ls: CodeHearthServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        if ls.engine is not None and uri in ls.workspace.text_documents:
            ls.engine.document_changed(uri, ls.workspace.get_text_document(uri).source)
        if ls.outcomes.watching(uri) and uri in ls.workspace.text_documents:
            ls.outcomes.document_changed(uri, ls.workspace.get_text_document(uri).lines)
        for change in params.content_changes:
            line = change.range.start.line if hasattr(change, "range") else 0
            ls.note_edit(uri, line)
        ls.index_updates.schedule(uri, saved=False)
        ls.syntax_diagnostics.schedule(uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def on_save(ls: CodeHearthServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.index_updates.schedule(params.text_document.uri, saved=True, delay=0)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def on_close(ls: CodeHearthServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.outcomes.document_closed(params.text_document.uri)
        if ls.engine is not None:
            ls.engine.document_closed(params.text_document.uri)
