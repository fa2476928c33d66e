"""The end-to-end fixtures (real server over stdio, fake Ollama) for reliability tests,
and the ``slow`` marker: tests that take more than a few seconds (they still run in CI;
``-m "not slow"`` skips them in a quick local loop)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import (  # noqa: F401 - fixtures, found by name
    completion_settings,
    fake_ollama,
    ollama,
    workspace,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than a few seconds; still runs in CI")
