"""Fixtures of the real-editor tests: the fake Ollama scripted as ``harness.model`` and a
workspace holding calc.py and a codehearth.toml pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.editors.harness import SOURCE, TOML, model
from tests.fakes.fake_ollama import FakeOllama


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama() as ollama:
        ollama.responder = model
        yield ollama


@pytest.fixture
def workspace(tmp_path: Path, fake: FakeOllama) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "codehearth.toml").write_text(TOML.format(host=fake.url))
    (root / "calc.py").write_text(SOURCE)
    return root
