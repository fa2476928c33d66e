"""An edit of ``codehearth.toml`` is noticed from the file system alone (the poll for editors
that watch no files): creation, deletion, a new size, a new modification time, a new file
put in its place."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from codehearth.settings import TOML_FILE_NAME, toml_signature


def rewrite_later(path: Path) -> None:
    stat = path.stat()
    path.write_text("x = 2\n")  # the same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


def replace_by_rename(path: Path) -> None:
    stat = path.stat()
    spare = path.with_name("saved.tmp")
    spare.write_text("x = 2\n")
    os.utime(spare, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the same time and size
    spare.replace(path)


@pytest.mark.parametrize(
    ("edit", "changed"),
    [
        pytest.param(lambda path: None, False, id="untouched"),
        pytest.param(lambda path: path.write_text("x = 10\n"), True, id="new-size"),
        pytest.param(rewrite_later, True, id="new-mtime"),
        pytest.param(replace_by_rename, True, id="new-inode"),
        pytest.param(lambda path: path.unlink(), True, id="deleted"),
    ],
)
def test_an_edit_changes_the_signature(
    tmp_path: Path, edit: Callable[[Path], object], changed: bool
) -> None:
    path = tmp_path / TOML_FILE_NAME
    path.write_text("x = 1\n")
    before = toml_signature(tmp_path)
    edit(path)
    assert (toml_signature(tmp_path) != before) is changed


def test_no_file_or_no_workspace_has_no_signature(tmp_path: Path) -> None:
    assert toml_signature(tmp_path) is None
    assert toml_signature(None) is None
