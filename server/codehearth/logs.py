"""Logging set-up: stderr or a file, never stdout (stdout carries the LSP stream).

The ``pygls`` logger is pinned to WARNING because at INFO it logs whole JSON payloads,
which would put the user's code and prompts into log files.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_QUIET_LOGGERS = ("pygls", "httpx", "httpcore", "asyncio")


def configure_logging(level: str = "INFO", file: str | None = None) -> None:
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
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
