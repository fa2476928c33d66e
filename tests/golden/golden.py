"""Compare text with an expected ("golden") file; rewrite the file when UPDATE_GOLDEN=1.

Files are read and written as UTF-8 bytes, with no newline translation, so the comparison
is exact (special tokens, trailing spaces and CRLFs included).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path


def check_golden(path: Path, actual: str) -> None:
    """Assert that ``path`` holds exactly ``actual``, or write it there when updating."""
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))
        return
    if not path.exists():
        raise AssertionError(f"missing golden file {path}; rerun with UPDATE_GOLDEN=1")
    expected = path.read_bytes().decode("utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"{path} (expected)",
                tofile="actual",
            )
        )
        raise AssertionError(
            f"output differs from golden file {path} (rerun with UPDATE_GOLDEN=1 to accept):\n"
            f"{diff}"
        )
