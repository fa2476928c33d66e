"""Logging set-up: a file or stderr, never stdout (stdout carries the LSP stream).

Editors show a server's stderr as trouble: Neovim records every line of it as ``[ERROR]``
in ``lsp.log``. So unless a level is chosen, stderr gets WARNING and above, and a log file
INFO and above. Messages meant for the user reach the editor as ``window/logMessage``
whatever the level (:meth:`codehearth.server.CodeHearthServer.log_info`).

The ``pygls`` logger is pinned to WARNING because at INFO it logs whole JSON payloads,
which would put the user's code and prompts into log files.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FILE_LEVEL = logging.INFO
STDERR_LEVEL = logging.WARNING

_QUIET_LOGGERS = ("pygls", "httpx", "httpcore", "asyncio")


def log_level(level: str | None, *, to_file: bool) -> int:
    """The level named ``level`` (DEBUG, INFO, WARNING or ERROR, any case); when it is
    None or no level's name, the default for the destination."""
    named = logging.getLevelName(level.upper()) if level else None
    if isinstance(named, int):
        return named
    return FILE_LEVEL if to_file else STDERR_LEVEL


def configure_logging(level: str | None = None, file: str | None = None) -> None:
    """(Re)configure the root logger; safe to call again after a settings change."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    handler: logging.Handler
    if file:
        path = Path(file).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    root.setLevel(log_level(level, to_file=bool(file)))
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
