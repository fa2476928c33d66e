"""Suite-wide isolation: caches (the index store) and data (the memory store) go to
temporary folders, never to the user's ~/.cache or ~/.local/share.

Suite-wide audit (``tests/security/audit_site``): a test fails when it, or a Python
subprocess it started (servers included), connects to an address that is not loopback
or runs a process on workspace files that is not an allowed tool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.audit_site.codehearth_audit import SuiteAudit


@pytest.fixture(autouse=True, scope="session")
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        patch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))
        patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
        yield


@pytest.fixture(autouse=True, scope="session")
def suite_audit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SuiteAudit]:
    workspaces = tmp_path_factory.getbasetemp()
    audit = SuiteAudit([str(workspaces)], str(tmp_path_factory.mktemp("audit") / "audit.log"))
    audit.auditor.install()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in audit.environment.items():
            patch.setenv(name, value)
        yield audit


@pytest.fixture(autouse=True)
def nothing_escapes(suite_audit: SuiteAudit) -> Iterator[None]:
    mark = suite_audit.mark()
    yield
    problems = suite_audit.since(mark)
    if problems:
        pytest.fail("audit: " + "; ".join(problems), pytrace=False)
