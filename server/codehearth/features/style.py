"""The user's style profile in the server: kept current, and shown by a command.

``codehearth.style`` (``workspace/executeCommand``; one optional argument, a language id
as ``"python"`` or ``{"languageId": "python"}``) returns the profile as JSON, in the shape
of ``codehearth style PATH --json``: per language, every attribute with its value,
evidence count, confidence and source (``inferred``, ``config:<file>`` or ``pinned``),
plus whether the profile is ready and the problems met (pins ignored, cache unusable).
It composes the profile afresh, so pins just changed in the settings show at once.

:class:`StyleKeeper` keeps ``ls.style`` current for :mod:`codehearth.features.indexing`:
built after the index from per-file evidence in the user cache (only files whose content
changed are parsed), then refreshed as the user saves (``textDocument/didSave``; saved
files weigh more), as files and formatter configs change on disk
(``workspace/didChangeWatchedFiles``) and when ``codehearth.toml`` changes. The work runs
in a worker thread; refreshes run one at a time, so the latest profile is the one kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams

from codehearth.server import CodeHearthServer
from codehearth.style.pins import Pins, parse_pins
from codehearth.style.profile import StyleTracker, WorkspaceStyle
from codehearth.style.store import StyleStore

STYLE_COMMAND = "codehearth.style"


class StyleKeeper:
    """The server's :class:`StyleTracker` and the refreshes that keep ``ls.style``
    current."""

    def __init__(self, ls: CodeHearthServer) -> None:
        self.ls = ls
        self.tracker: StyleTracker | None = None
        self._refreshing = asyncio.Lock()

    async def build(self) -> None:
        """Profile the workspace (after the index is built)."""
        root = self.ls.workspace_root
        if root is None or not self.ls.settings.style.enabled:
            return
        tracker = await asyncio.to_thread(_built_tracker, root, self.ls)
        store = tracker.store
        if store is not None and store.problem:
            self.ls.warn_once(store.problem)
        async with self._refreshing:
            self.tracker = tracker
            style, _ = await self._compose(tracker)
        languages = ", ".join(
            f"{language} ({profile.files} files)" for language, profile in style.profiles.items()
        )
        self.ls.log_info(
            f"style: profiled {languages or 'no files'}; {tracker.extractions} file(s) parsed"
        )

    async def file_changed(self, path: str, text: str | None, *, edited: bool) -> None:
        """A workspace file changed (``text``: its saved buffer, else read from disk);
        ``edited``: the user saved it."""
        tracker = self.tracker
        if tracker is None:
            return
        async with self._refreshing:
            if await asyncio.to_thread(tracker.update_file, path, text, edited=edited):
                await self._compose(tracker)

    async def file_deleted(self, path: str) -> None:
        tracker = self.tracker
        if tracker is None:
            return
        async with self._refreshing:
            if tracker.remove_file(path):
                await self._compose(tracker)

    async def recompose(self) -> None:
        """Settings or formatter configs changed: the evidence did not."""
        tracker = self.tracker
        if tracker is None:
            return
        async with self._refreshing:
            await self._compose(tracker)

    def close(self) -> None:
        """Close the style cache (at shutdown)."""
        tracker, self.tracker = self.tracker, None
        if tracker is not None and tracker.store is not None:
            tracker.store.close()

    async def report(self, language_id: str | None) -> dict[str, Any]:
        """The ``codehearth.style`` answer."""
        tracker = self.tracker
        report: dict[str, Any] = {
            "enabled": self.ls.settings.style.enabled,
            "ready": tracker is not None,
            "root": str(self.ls.workspace_root) if self.ls.workspace_root else None,
            "profiles": [],
            "problems": [],
        }
        if tracker is None:
            return report
        async with self._refreshing:
            style, problems = await self._compose(tracker)
        report["profiles"] = [
            profile.to_json()
            for profile in style.profiles.values()
            if language_id in (None, profile.language_id)
        ]
        if tracker.store is not None and tracker.store.problem:
            problems.append(tracker.store.problem)
        report["problems"] = problems
        return report

    async def _compose(self, tracker: StyleTracker) -> tuple[WorkspaceStyle, list[str]]:
        """Compose the profile with the current pins into ``ls.style`` (lock held)."""
        pins, problems = self._pins()
        style = await asyncio.to_thread(tracker.style, pins)
        self.ls.style = style
        return style, problems

    def _pins(self) -> tuple[Pins, list[str]]:
        languages = {spec.language_id for spec in self.ls.registry.specs}
        pins, problems = parse_pins(self.ls.settings.style.pin, languages)
        for problem in problems:
            self.ls.warn_once(problem)
        return pins, problems


def _built_tracker(root: Path, ls: CodeHearthServer) -> StyleTracker:
    """A tracker over the user cache (when the index persists too), built (blocking)."""
    settings = ls.settings
    store = StyleStore.for_workspace(root) if settings.index.persist else None
    tracker = StyleTracker(
        root,
        ls.registry,
        store,
        limits=settings.index.limits(),
        excludes=tuple(settings.index.exclude),
    )
    tracker.build()
    return tracker


def requested_language(arguments: Sequence[Any]) -> str | None:
    """The language id in the command's arguments: none, ``"python"`` or
    ``{"languageId": "python"}``."""
    if not arguments:
        return None
    first = arguments[0]
    language_id = first.get("languageId") if isinstance(first, dict) else first
    if len(arguments) > 1 or not (language_id is None or isinstance(language_id, str)):
        raise JsonRpcInvalidParams(
            f'{STYLE_COMMAND} takes one optional argument: a language id or {{"languageId": id}}'
        )
    return language_id


def register(server: CodeHearthServer) -> None:
    @server.command(STYLE_COMMAND)
    async def show_style(ls: CodeHearthServer, *arguments: Any) -> dict[str, Any]:
        return await ls.index_updates.style_keeper.report(requested_language(arguments))
