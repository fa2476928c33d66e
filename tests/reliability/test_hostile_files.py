"""Hostile workspaces: whatever a repository holds is skipped or degraded, never a crash,
a hang or a read outside the workspace.

In process: links out of the workspace, FIFOs where ignore files, settings, formatter
configs and rules are read, files and folders deleted mid-scan. Over stdio: one
workspace holding all of it at once (a huge one-line file, a line nested 20,000 deep,
binary, invalid UTF-8 and over-the-cap files, an undecodable file name, links to
``/dev/zero`` where configs are read, link loops) served by a real server whose memory
is capped, so an endless read fails the test instead of the machine; and a workspace of
100,000 files. (Folders that refuse listing are in ``tests/unit/test_scanner.py``: chmod
cannot stop root, who runs CI.)
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import statistics
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from codehearth.index.scanner import WorkspaceScanner
from codehearth.languages import LanguageRegistry
from codehearth.settings import read_toml_settings
from codehearth.style.configs import read_configs
from codehearth.style.rules import load_rules
from tests.e2e.conftest import inline_params, items_of, start
from tests.fakes.fake_ollama import FakeOllama

REGISTRY = LanguageRegistry.load()
OUTSIDE_CANARY = "OUTSIDE_THE_WORKSPACE_4411"
MEMORY_CAP_BYTES = 3 << 30
CAPPED_SERVER = [
    sys.executable,
    "-c",
    "import resource, sys\n"
    f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_CAP_BYTES}, {MEMORY_CAP_BYTES}))\n"
    "from codehearth.cli import main\n"
    "sys.exit(main(['serve', '--log-level', 'INFO']))\n",
]
"""``codehearth serve`` that dies of MemoryError rather than eat the machine."""


def finishes(call: Callable[[], Any], seconds: float = 10) -> Any:
    """``call()``'s result, failing the test if it does not return in time."""
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"{call} still running after {seconds} s"
    return result[0]


def scanned(root: Path) -> tuple[list[str], dict[str, int]]:
    scanner = WorkspaceScanner(root, REGISTRY)
    found = [Path(f.path).relative_to(root).as_posix() for f in scanner.scan()]
    return found, scanner.skipped


def test_a_folder_link_out_of_the_workspace_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "home"
    (outside / "project").mkdir(parents=True)
    (outside / "project" / "private.py").write_text(f"X = '{OUTSIDE_CANARY}'\n")
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("x = 1\n")
    (root / "docs").symlink_to(outside)
    (root / "alias").symlink_to(root / "src")
    found, skipped = scanned(root)
    assert found == ["alias/app.py"]  # the link inside the workspace is read, once
    assert skipped == {"symlink outside workspace": 1, "symlink loop": 1}


def test_files_and_folders_deleted_mid_scan_are_skipped(tmp_path: Path) -> None:
    for folder in ("a", "b", "c"):
        (tmp_path / folder).mkdir()
        for name in ("one.py", "two.py"):
            (tmp_path / folder / name).write_text("x = 1\n")
    scanner = WorkspaceScanner(tmp_path, REGISTRY)
    found = []
    for item in scanner.scan():
        found.append(Path(item.path).relative_to(tmp_path).as_posix())
        if len(found) == 1:
            (tmp_path / "a" / "two.py").unlink()
            shutil.rmtree(tmp_path / "b")
    assert found == ["a/one.py", "c/one.py", "c/two.py"]
    assert scanner.skipped == {"vanished": 1, "unreadable folder": 1}


def test_fifos_where_configs_are_read_are_not_waited_for(tmp_path: Path) -> None:
    """Opening a FIFO waits for a writer: the reader must not open it at all."""
    (tmp_path / "app.py").write_text("x = 1\n")
    (tmp_path / ".codehearth").mkdir()
    for name in (".gitignore", ".codehearthignore", "codehearth.toml", ".editorconfig"):
        os.mkfifo(tmp_path / name)
    os.mkfifo(tmp_path / ".codehearth" / "rules.md")
    os.mkfifo(tmp_path / "pipe.py")
    assert finishes(lambda: scanned(tmp_path)) == (["app.py"], {})
    values, warnings = finishes(lambda: read_toml_settings(tmp_path))
    assert values == {} and "not a regular file" in warnings[0]
    assert finishes(lambda: read_configs(tmp_path, REGISTRY)) == {}
    rules = finishes(lambda: load_rules(tmp_path, tmp_path / "no-global-rules.md"))
    assert rules.text == "" and "not a regular file" in rules.warnings[0]


def test_each_thread_parses_with_its_own_parser() -> None:
    """A tree-sitter parser used by two threads at once crashes the process; the index
    and style parse in worker threads while completions parse on the event loop."""
    registry = LanguageRegistry.load()
    mine = registry.parser("python")
    theirs = finishes(lambda: registry.parser("python"))
    assert mine is registry.parser("python") and theirs is not mine


# -- one hostile workspace over stdio ---------------------------------------------------

HUGE_LINE = "DATA = [" + ", ".join(["1"] * 290_000) + "]\n\n\ndef total(values):\n    "
NESTED = "f = " + "lambda: " * 20_000 + "1"
BAD_NAME = os.fsdecode(b"caf\xe9.py")


def hostile_workspace(root: Path, outside: Path) -> None:
    outside.mkdir()
    (outside / "stolen.py").write_text(f"SECRET = '{OUTSIDE_CANARY}'\n")
    root.mkdir()
    (root / "main.py").write_text("def main():\n    return 1\n")
    (root / "huge_line.py").write_text(HUGE_LINE)
    (root / "nested.py").write_text(NESTED)
    (root / "too_big.py").write_text("x = 1\n" * 200_000)
    (root / "binary.py").write_bytes(b"\x00\x01\x02 not text" * 100)
    (root / "latin1.py").write_bytes("café = 'crème'\n".encode("latin-1"))
    (root / BAD_NAME).write_text("def coffee():\n    return 2\n")
    (root / "dangling.py").symlink_to(root / "missing.py")
    (root / "zero.py").symlink_to("/dev/zero")
    os.mkfifo(root / "pipe.py")
    (root / "loop").symlink_to(root)
    (root / "outside").symlink_to(outside)
    (root / ".codehearth").mkdir()
    for name in (".gitignore", "codehearth.toml", ".editorconfig", ".codehearth/rules.md"):
        (root / name).symlink_to("/dev/zero")
    os.mkfifo(root / "pyproject.toml")


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    hostile_workspace(root, tmp_path / "elsewhere")
    return root


@pytest_lsp.fixture(config=ClientServerConfig(server_command=CAPPED_SERVER))
async def hostile_client(
    lsp_client: LanguageClient, ollama: FakeOllama, hostile: Path
) -> AsyncIterator[None]:
    await start(lsp_client, ollama, hostile, "visual-studio-code")
    yield
    await lsp_client.shutdown_session()


async def index_report(client: LanguageClient, seconds: float) -> str:
    async def reported() -> str:
        while True:
            found = [m.message for m in client.log_messages if m.message.startswith("index:")]
            if found:
                return found[0]
            await client.wait_for_notification(types.WINDOW_LOG_MESSAGE)

    return await asyncio.wait_for(reported(), seconds)


async def status_seconds(client: LanguageClient) -> float:
    started = time.perf_counter()
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="codehearth.status", arguments=[])
    )
    return time.perf_counter() - started


def open_as_is(client: LanguageClient, path: Path) -> str:
    """Open a workspace file with the text it has on disk."""
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=path.read_text()
            )
        )
    )
    return uri


async def test_a_hostile_workspace_is_indexed_and_served(
    hostile_client: LanguageClient, ollama: FakeOllama, hostile: Path
) -> None:
    client = hostile_client
    report = await index_report(client, 60)
    assert re.match(r"index: 3 files,", report), report  # main, huge_line and nested
    assert not [m for m in client.log_messages if "failed" in m.message]
    assert any(
        "codehearth.toml could not be read" in m.message and "not a regular file" in m.message
        for m in client.log_messages
    )

    uri = open_as_is(client, hostile / "huge_line.py")
    started = time.perf_counter()
    result = await client.text_document_inline_completion_async(
        inline_params(uri, HUGE_LINE.count("\n"), 4)
    )
    assert items_of(result) and time.perf_counter() - started < 5

    uri = open_as_is(client, hostile / "nested.py")
    started = time.perf_counter()
    await client.text_document_inline_completion_async(inline_params(uri, 0, len(NESTED)))
    assert time.perf_counter() - started < 2, "analysing the nested line held the server up"
    timings = [await status_seconds(client) for _ in range(10)]
    assert statistics.median(timings) < 0.2, timings

    bodies = "\n".join(str(r.body) for r in ollama.requests if r.body)
    assert OUTSIDE_CANARY not in bodies


# -- 100,000 files ----------------------------------------------------------------------

FOLDERS, FILES_PER_FOLDER = 100, 1000


@pytest.fixture
def crowded(tmp_path: Path) -> Path:
    """100,000 empty source files (made with os.open: a few seconds)."""
    root = tmp_path / "monorepo"
    for number in range(FOLDERS):
        folder = root / f"pkg{number:03d}"
        folder.mkdir(parents=True)
        for file_number in range(FILES_PER_FOLDER):
            os.close(os.open(folder / f"m{file_number:04d}.py", os.O_CREAT | os.O_WRONLY, 0o644))
    (root / "main.py").write_text("def add(a, b):\n    \n")
    return root


@pytest_lsp.fixture(config=ClientServerConfig(server_command=CAPPED_SERVER))
async def crowded_client(
    lsp_client: LanguageClient, ollama: FakeOllama, crowded: Path
) -> AsyncIterator[None]:
    await start(lsp_client, ollama, crowded, "visual-studio-code")
    yield
    await lsp_client.shutdown_session()


@pytest.mark.slow
async def test_a_workspace_of_100k_files_stops_at_the_cap_and_keeps_answering(
    crowded_client: LanguageClient, crowded: Path
) -> None:
    client = crowded_client
    uri = open_as_is(client, crowded / "main.py")
    building = asyncio.ensure_future(index_report(client, 120))
    timings = []
    while not building.done():
        timings.append(await status_seconds(client))
        result = await client.text_document_inline_completion_async(inline_params(uri, 1, 4))
        assert items_of(result)
        await asyncio.sleep(0.1)
    report = await building
    assert report.startswith("index: 50000 files,"), report
    assert max(timings) < 1 and statistics.median(timings) < 0.2, timings
