"""Keeping the workspace index and style profile current: the background build after
``initialized`` (reported with ``$/progress``, then the style profile), debounced
re-chunking of open documents (driven by the document sync handlers; saves also refresh
the style) and ``workspace/didChangeWatchedFiles`` (watchers registered dynamically for
the languages the index knows and for formatter configs; it also reloads
``codehearth.toml`` through :mod:`codehearth.features.settings_file`). The style itself is
kept by :mod:`codehearth.features.style`.

Handlers stay thin: parsing runs in a worker thread (``asyncio.to_thread``), the cold
build on a process pool, so the event loop keeps answering requests.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path

from codehearth.features.style import StyleKeeper
from codehearth.index.store import IndexStore
from codehearth.index.workspace_index import WorkspaceIndex
from codehearth.server import CodeHearthServer, DocumentTimers
from codehearth.settings import TOML_FILE_NAME
from codehearth.style.configs import CONFIG_FILES

log = logging.getLogger(__name__)

CHANGE_DEBOUNCE_SECONDS = 0.3
WATCHER_ID = "codehearth-source-watcher"
STYLE_CONFIG_WATCHER_ID = "codehearth-style-config-watcher"


class IndexUpdates:
    """Debounced re-chunking of open documents (one pending update per document), and
    the style profile the same updates keep current."""

    def __init__(self, ls: CodeHearthServer) -> None:
        self.ls = ls
        self.style_keeper = StyleKeeper(ls)
        self._timers = DocumentTimers(ls.spawn)

    def schedule(self, uri: str, *, saved: bool, delay: float = CHANGE_DEBOUNCE_SECONDS) -> None:
        if self.ls.index is None:
            return
        self._timers.schedule(
            uri, delay, lambda: _update(self.ls, uri, saved=saved), "index update"
        )

    def cancel_all(self) -> None:
        self._timers.cancel_all()


def register(server: CodeHearthServer) -> None:
    server.index_updates = IndexUpdates(server)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def on_watched(ls: CodeHearthServer, params: types.DidChangeWatchedFilesParams) -> None:
        style_keeper = ls.index_updates.style_keeper
        if any(change.uri.endswith("/" + TOML_FILE_NAME) for change in params.changes):
            await ls.settings_file.reload()  # recomposes the style too
        elif any(_is_style_config(ls, change.uri) for change in params.changes):
            await style_keeper.recompose()  # formatter configs changed
        index = ls.index
        if index is None:
            return
        for change in params.changes:
            path = to_fs_path(change.uri)
            if path is None or ls.open_document(change.uri) is not None:
                continue  # open documents are tracked through their buffers
            if change.type == types.FileChangeType.Deleted:
                await asyncio.to_thread(index.remove_file, path)
                await style_keeper.file_deleted(path)
            else:
                await asyncio.to_thread(index.update_file, path, None, saved=True)
                if index.accepts(path):
                    await style_keeper.file_changed(path, None, edited=False)


def _is_style_config(ls: CodeHearthServer, uri: str) -> bool:
    """A formatter config the style reads (they count at the workspace root only)."""
    path = to_fs_path(uri)
    return (
        path is not None
        and ls.workspace_root is not None
        and Path(path).name in CONFIG_FILES
        and Path(path).parent == ls.workspace_root
    )


async def _update(ls: CodeHearthServer, uri: str, *, saved: bool) -> None:
    index = ls.index
    path = to_fs_path(uri)
    if index is None or path is None or ls.open_document(uri) is None:
        return
    text = ls.workspace.get_text_document(uri).source
    await asyncio.to_thread(index.update_file, path, text, saved=saved)
    if saved and index.accepts(path):
        await ls.index_updates.style_keeper.file_changed(path, text, edited=True)


async def start_index(ls: CodeHearthServer) -> None:
    """Build the index in the background, reporting progress; then watch source files."""
    settings = ls.settings.index
    if not settings.enabled or ls.workspace_root is None:
        return
    store = IndexStore.for_workspace(ls.workspace_root) if settings.persist else None
    index = WorkspaceIndex(
        ls.workspace_root,
        ls.registry,
        store,
        limits=settings.limits(),
        extra_excludes=tuple(settings.exclude),
    )
    ls.index = index
    reporter = await _Progress.start(ls, "CodeHearth: indexing")
    loop = asyncio.get_running_loop()

    def progress(done: int, total: int, message: str) -> None:
        loop.call_soon_threadsafe(reporter.report, done, total, message)

    try:
        report = await asyncio.to_thread(index.build, progress, settings.workers)
    except Exception as error:  # the index is an aid: never take the server down
        log.exception("indexing failed")
        reporter.end(f"indexing failed: {error}")
        return
    reporter.end(f"{report.files} files, {report.chunks} chunks in {report.seconds:.1f} s")
    ls.log_info(
        f"index: {report.files} files, {report.chunks} chunks, {report.from_cache} from cache, "
        f"{report.seconds:.2f} s on {report.workers} worker(s)"
    )
    if store is not None and store.problem:
        ls.warn_once(store.problem)
    await _watch_sources(ls)
    await ls.index_updates.style_keeper.build()


async def _watch_sources(ls: CodeHearthServer) -> None:
    extensions = sorted({ext.lstrip(".") for spec in ls.registry.specs for ext in spec.extensions})
    await ls.watch_files(WATCHER_ID, f"**/*.{{{','.join(extensions)}}}")
    await ls.watch_files(STYLE_CONFIG_WATCHER_ID, f"**/{{{','.join(CONFIG_FILES)}}}")


class _Progress:
    """``$/progress`` for one job, or log lines when the client cannot show progress."""

    def __init__(self, ls: CodeHearthServer, token: str | None, title: str) -> None:
        self.ls = ls
        self.token = token
        self.title = title
        self._last_percent = -1

    @classmethod
    async def start(cls, ls: CodeHearthServer, title: str) -> _Progress:
        return cls(ls, await ls.begin_progress("index", title, percentage=0), title)

    def report(self, done: int, total: int, message: str) -> None:
        percent = 100 if total == 0 else int(done * 100 / total)
        if self.token is None or percent == self._last_percent:
            return
        self._last_percent = percent
        self.ls.work_done_progress.report(
            self.token,
            types.WorkDoneProgressReport(percentage=percent, message=f"{done}/{total} files"),
        )

    def end(self, message: str) -> None:
        if self.token is not None:
            self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
