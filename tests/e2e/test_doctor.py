"""``codehearth.doctor``: the CLI's checks run by the server on its own settings and model
pool, as rows and as the CLI's table (the VS Code menu's *Doctor* prints the table)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.fakes.fake_ollama import FakeOllama

DOCTOR = "codehearth.doctor"


async def doctor(client: LanguageClient) -> dict[str, Any]:
    report: dict[str, Any] = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=DOCTOR)
    )
    return report


def row(report: dict[str, Any], check: str) -> dict[str, str]:
    [found] = [r for r in report["checks"] if r["check"] == check]
    return found


async def test_doctor_reports_the_live_endpoint_and_routes_as_a_table(
    client: LanguageClient, ollama: FakeOllama
) -> None:
    report = await doctor(client)
    assert report["ok"] is True, report["table"]
    endpoint = row(report, "endpoint ollama")
    assert endpoint["status"] == "OK" and ollama.url in endpoint["detail"]
    assert row(report, "route completion #1")["status"] == "OK"
    table = report["table"].splitlines()
    assert table[0].split() == ["CHECK", "STATUS", "DETAIL"]
    assert any(line.startswith("endpoint ollama") and " OK " in line for line in table)
    assert "{" not in report["table"]  # a table, not JSON


async def test_doctor_names_the_fix_for_a_model_that_is_not_pulled(
    client: LanguageClient, ollama: FakeOllama, workspace: Path
) -> None:
    (workspace / "codehearth.toml").write_text(
        '[completion]\nmodel = "missing:1b"\nunknown_key = 1\n', encoding="utf-8"
    )
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[
                types.FileEvent(
                    uri=(workspace / "codehearth.toml").as_uri(), type=types.FileChangeType.Created
                )
            ]
        )
    )
    report = await doctor(client)
    route = row(report, "route completion #1")
    assert report["ok"] is False, report["table"]
    assert route["status"] == "FAIL" and route["fix"] == "ollama pull missing:1b"
    assert "fix: ollama pull missing:1b" in report["table"]
    settings = [r for r in report["checks"] if r["check"] == "settings"]
    assert any("unknown_key" in r["detail"] for r in settings), report["table"]
