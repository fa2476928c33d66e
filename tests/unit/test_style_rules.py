"""User rules: merging, the size cap and control-character stripping."""

from __future__ import annotations

from pathlib import Path

import pytest

from codehearth.style.rules import load_rules, strip_control_characters


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("global_text", "workspace_text", "expected"),
    [
        pytest.param("Use attrs.", "Prefer httpx.", "Use attrs.\n\nPrefer httpx.", id="both"),
        pytest.param(None, "Prefer httpx.", "Prefer httpx.", id="workspace-only"),
        pytest.param("Use attrs.\n", None, "Use attrs.", id="global-only"),
        pytest.param(None, None, "", id="none"),
        pytest.param("  \n", "Prefer httpx.", "Prefer httpx.", id="blank-global"),
    ],
)
def test_merge_global_first(
    tmp_path: Path, global_text: str | None, workspace_text: str | None, expected: str
) -> None:
    global_path = tmp_path / "config" / "rules.md"
    workspace = tmp_path / "ws"
    workspace.mkdir()
    if global_text is not None:
        _write(global_path, global_text)
    if workspace_text is not None:
        _write(workspace / ".codehearth" / "rules.md", workspace_text)
    rules = load_rules(workspace, global_path)
    assert rules.text == expected
    assert rules.warnings == ()


def test_cap_cuts_at_a_line_and_warns(tmp_path: Path) -> None:
    global_path = _write(tmp_path / "rules.md", "\n".join(f"- rule {i:04d}" for i in range(600)))
    rules = load_rules(None, global_path, max_chars=4_000)
    assert len(rules.text) <= 4_000
    assert rules.text.endswith("rule 0332")
    assert len(rules.warnings) == 1 and "limit 4000" in rules.warnings[0]


@pytest.mark.parametrize(
    ("text", "clean", "removed"),
    [
        pytest.param("a\u200bb", "ab", {"U+200B": 1}, id="zero-width-space"),
        pytest.param("\u202eevil\u202c", "evil", {"U+202E": 1, "U+202C": 1}, id="bidi-override"),
        pytest.param("\u2066x\u2069", "x", {"U+2066": 1, "U+2069": 1}, id="isolates"),
        pytest.param("\ufeffrules", "rules", {"U+FEFF": 1}, id="bom"),
        pytest.param("a\u00adb\u2060c", "abc", {"U+00AD": 1, "U+2060": 1}, id="other-cf"),
        pytest.param("tab\there\nnew line\r\n", "tab\there\nnew line\r\n", {}, id="whitespace"),
        pytest.param("café — ünïcode", "café — ünïcode", {}, id="ordinary-unicode"),
    ],
)
def test_strip_control_characters(text: str, clean: str, removed: dict[str, int]) -> None:
    stripped, counts = strip_control_characters(text)
    assert stripped == clean
    assert dict(counts) == removed


def test_stripped_characters_are_reported(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    _write(workspace / ".codehearth" / "rules.md", "Be nice.\u200b\u200b\u202e")
    rules = load_rules(workspace, tmp_path / "missing.md")
    assert rules.text == "Be nice."
    assert len(rules.warnings) == 1
    assert "removed 3" in rules.warnings[0]
    assert "U+200B x2" in rules.warnings[0] and "U+202E x1" in rules.warnings[0]


def test_unreadable_rules_warn(tmp_path: Path) -> None:
    folder = tmp_path / "rules.md"
    folder.mkdir()
    rules = load_rules(None, folder)
    assert rules.text == ""
    assert len(rules.warnings) == 1 and "cannot be read" in rules.warnings[0]
