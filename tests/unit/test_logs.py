"""Where the server log goes: stderr gets WARNING and above unless a level is chosen (editors
show a server's stderr as errors), a log file INFO and above; the ``logging`` settings win
over ``serve``'s ``--log-level``/``--log-file`` and leave them in force when unset."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codehearth.logs import configure_logging, log_level
from codehearth.server import CodeHearthServer


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        if handler not in handlers:
            handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.parametrize(
    ("level", "to_file", "expected"),
    [
        pytest.param(None, False, logging.WARNING, id="stderr-default"),
        pytest.param(None, True, logging.INFO, id="file-default"),
        pytest.param("DEBUG", False, logging.DEBUG, id="chosen-for-stderr"),
        pytest.param("error", True, logging.ERROR, id="lower-case"),
        pytest.param("WARN", True, logging.WARNING, id="warn-alias"),
        pytest.param("LOUD", False, logging.WARNING, id="unknown-name-stderr"),
        pytest.param("LOUD", True, logging.INFO, id="unknown-name-file"),
        pytest.param("", True, logging.INFO, id="empty"),
    ],
)
def test_log_level(level: str | None, to_file: bool, expected: int) -> None:
    assert log_level(level, to_file=to_file) == expected


def test_stderr_gets_warnings_not_info_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    logging.getLogger("codehearth.test").info("an ordinary event")
    logging.getLogger("codehearth.test").warning("something to look at")
    err = capsys.readouterr().err
    assert "something to look at" in err and "an ordinary event" not in err


def test_a_log_file_gets_info_by_default(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "codehearth.log"
    configure_logging(file=str(log_file))
    logging.getLogger("codehearth.test").debug("detail")
    logging.getLogger("codehearth.test").info("an ordinary event")
    text = log_file.read_text()
    assert "INFO codehearth.test: an ordinary event" in text and "detail" not in text


@pytest.mark.parametrize(
    ("flags", "settings", "level", "file_name"),
    [
        pytest.param((None, None), {}, logging.WARNING, None, id="defaults"),
        pytest.param(("DEBUG", "flag.log"), {}, logging.DEBUG, "flag.log", id="flags"),
        pytest.param((None, "flag.log"), {}, logging.INFO, "flag.log", id="file-flag-only"),
        pytest.param(
            ("DEBUG", "flag.log"),
            {"logging": {"level": "ERROR", "file": "settings.log"}},
            logging.ERROR,
            "settings.log",
            id="settings-win",
        ),
        pytest.param(
            ("DEBUG", "flag.log"),
            {"logging": {"level": "WARNING"}},
            logging.WARNING,
            "flag.log",
            id="level-setting-keeps-the-file-flag",
        ),
    ],
)
def test_settings_win_over_the_command_line(
    tmp_path: Path,
    flags: tuple[str | None, str | None],
    settings: dict[str, Any],
    level: int,
    file_name: str | None,
) -> None:
    flag_level, flag_file = flags
    server = CodeHearthServer(flag_level, str(tmp_path / flag_file) if flag_file else None)
    if "file" in settings.get("logging", {}):
        settings["logging"]["file"] = str(tmp_path / settings["logging"]["file"])
    server.initialization_options = settings
    server.rebuild_settings()
    root = logging.getLogger()
    assert root.level == level
    [handler] = root.handlers
    if file_name is None:
        assert isinstance(handler, logging.StreamHandler)
        assert not isinstance(handler, logging.FileHandler)
    else:
        assert isinstance(handler, logging.FileHandler)
        assert Path(handler.baseFilename) == tmp_path / file_name
