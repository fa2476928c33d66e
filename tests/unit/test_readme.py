"""The README stays true: its settings table lists every setting with its real default."""

from __future__ import annotations

import re
from pathlib import Path

from codehearth.settings import describe

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(?P<name>[\w.]+)` \| `(?P<default>[^`]*)` \| (?P<doc>.+) \|$")


def test_readme_settings_table_matches_the_settings_tree() -> None:
    rows = {
        match["name"]: (match["default"], match["doc"])
        for line in README.read_text(encoding="utf-8").splitlines()
        if (match := ROW.match(line))
    }
    expected = {name: (str(default), doc) for name, default, doc in describe()}
    assert rows == expected
