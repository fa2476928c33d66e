"""The end-to-end fixtures (real server over stdio, fake Ollama) for security tests."""

from __future__ import annotations

from tests.e2e.conftest import (  # noqa: F401 - fixtures, found by name
    client,
    completion_settings,
    fake_ollama,
    ollama,
    workspace,
)
