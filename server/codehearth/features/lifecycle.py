"""Lifecycle and settings: ``initialize`` (which also turns on the ``textDocument/completion``
fallback for clients without inline completion), ``initialized``, ``shutdown``,
and ``workspace/didChangeConfiguration``; it also starts following ``codehearth.toml``
(:mod:`codehearth.features.settings_file`).
"""

from __future__ import annotations

import logging

from lsprotocol import types

from codehearth.features.documents import use_lsp_positions
from codehearth.features.indexing import start_index
from codehearth.features.inline_completion import register_completion_fallback
from codehearth.features.memory import open_memory
from codehearth.server import CodeHearthServer

log = logging.getLogger(__name__)


def register(server: CodeHearthServer) -> None:
    @server.feature(types.INITIALIZE)
    async def on_initialize(ls: CodeHearthServer, params: types.InitializeParams) -> None:
        options = params.initialization_options
        ls.initialization_options = options if isinstance(options, dict) else {}
        use_lsp_positions(ls.workspace)
        ls.set_workspace_root(params)
        text_document = params.capabilities.text_document
        if text_document is None or text_document.inline_completion is None:
            # Registered before capabilities are computed, so it is advertised (pygls 2).
            register_completion_fallback(ls)
        client = params.client_info
        log.info(
            "initialize from %s %s, workspace %s",
            client.name if client else "unknown client",
            client.version if client and client.version else "",
            ls.workspace_root,
        )

    @server.feature(types.INITIALIZED)
    async def on_initialized(ls: CodeHearthServer, params: types.InitializedParams) -> None:
        await ls.start_services()
        await ls.settings_file.watch()
        ls.spawn(start_index(ls), "index build")
        ls.spawn(open_memory(ls), "open memory")

    @server.feature(types.SHUTDOWN)
    async def on_shutdown(ls: CodeHearthServer, params: None) -> None:
        await ls.stop_services()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_configuration(
        ls: CodeHearthServer, params: types.DidChangeConfigurationParams
    ) -> None:
        pushed = params.settings
        if isinstance(pushed, dict) and isinstance(pushed.get("codehearth"), dict):
            ls.client_settings = pushed["codehearth"]
        else:
            await ls.fetch_client_settings()
        ls.rebuild_settings()
        await ls.index_updates.style_keeper.recompose()  # pins may have changed
        ls.log_info("settings reloaded")
