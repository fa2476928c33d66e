"""Re-reading ``codehearth.toml`` while the server runs, whatever the editor offers: its file
watcher (``workspace/didChangeWatchedFiles``, handled in :mod:`codehearth.features.indexing`),
``textDocument/didSave`` of the file when the editor has it open for this server, and, for
editors that watch no files (Neovim 0.11 on Linux; its client does not attach to TOML
files either), a look at the file's modification time every :data:`POLL_SECONDS` (one
``stat`` call). A change reloads the settings and recomposes the style (pins may have
changed).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from pygls.uris import to_fs_path

from codehearth.server import CodeHearthServer
from codehearth.settings import TOML_FILE_NAME, toml_signature

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
WATCHER_ID = "codehearth-toml-watcher"


class SettingsFile:
    """The workspace's ``codehearth.toml``: reloads, and the poll that notices edits."""

    def __init__(self, ls: CodeHearthServer) -> None:
        self.ls = ls
        self._seen: tuple[int, ...] | None = None

    def is_settings_file(self, uri: str) -> bool:
        path = to_fs_path(uri)
        root = self.ls.workspace_root
        return path is not None and root is not None and Path(path) == root / TOML_FILE_NAME

    async def reload(self) -> None:
        self._seen = toml_signature(self.ls.workspace_root)
        self.ls.rebuild_settings()
        self.ls.log_info(f"{TOML_FILE_NAME} changed: settings reloaded")
        await self.ls.index_updates.style_keeper.recompose()

    async def watch(self) -> None:
        """Ask the editor to watch the file; poll it when the editor cannot."""
        self._seen = toml_signature(self.ls.workspace_root)
        if not await self.ls.watch_files(WATCHER_ID, f"**/{TOML_FILE_NAME}"):
            self.ls.spawn(self._poll(), f"poll {TOML_FILE_NAME}")

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            if toml_signature(self.ls.workspace_root) == self._seen:
                continue
            try:
                await self.reload()
            except Exception:  # the next edit gets another try
                log.exception("reloading %s failed", TOML_FILE_NAME)


def register(server: CodeHearthServer) -> None:
    server.settings_file = SettingsFile(server)
