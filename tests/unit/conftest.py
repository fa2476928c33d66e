"""Fixtures shared by the unit tests.

``no_ca_bundle`` is for modules whose clients speak plain HTTP to a fake on loopback:
they apply it with ``pytestmark = pytest.mark.usefixtures("no_ca_bundle")``.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def empty_ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("no-ca-certificates")


@pytest.fixture
def no_ca_bundle(monkeypatch: pytest.MonkeyPatch, empty_ca_dir: Path) -> None:
    """httpx loads the CA bundle named by $SSL_CERT_FILE for each client (~25 ms), even
    one that only speaks plain HTTP to loopback; an empty $SSL_CERT_DIR is free."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_DIR", str(empty_ca_dir))
