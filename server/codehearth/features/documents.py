"""Document sync hooks: ``textDocument/didChange`` and ``textDocument/didClose``.

pygls keeps the text; these handlers only tell the completion engine about keystrokes
(typing cadence, cancelling streams the new text contradicts) and closed documents. They
stay thin: notification handlers run on every keystroke.
"""

from __future__ import annotations

from lsprotocol import types

from codehearth.server import CodeHearthServer


def register(server: CodeHearthServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def on_change(ls: CodeHearthServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        if ls.engine is not None and uri in ls.workspace.text_documents:
            ls.engine.document_changed(uri, ls.workspace.get_text_document(uri).source)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def on_close(ls: CodeHearthServer, params: types.DidCloseTextDocumentParams) -> None:
        if ls.engine is not None:
            ls.engine.document_closed(params.text_document.uri)
