"""The workspace scanner: the secret deny list, ignore files, built-in noise, settings
excludes, and odd files (too large, binary, symlink loops, unreadable folders)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from codehearth.index.scanner import (
    BINARY_SNIFF_BYTES,
    ScanLimits,
    WorkspaceScanner,
    is_denied,
    looks_binary,
    read_source,
)
from codehearth.index.workspace_index import WorkspaceIndex
from codehearth.languages import LanguageRegistry

REGISTRY = LanguageRegistry.load()

CANARY = "CANARY-7f3b9c-do-not-leak"


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> None:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def scan_relative(scanner: WorkspaceScanner) -> list[str]:
    return [Path(item.path).relative_to(scanner.root).as_posix() for item in scanner.scan()]


# --- the deny list --------------------------------------------------------------------

SECRET_FILES = {
    ".env": f"API_TOKEN={CANARY}\n",
    ".env.local": f"API_TOKEN={CANARY}\n",
    "id_rsa": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{CANARY}\n",
    "server.pem": f"-----BEGIN CERTIFICATE-----\n{CANARY}\n",
    "x.key": f"{CANARY}\n",
    ".npmrc": f"//registry.npmjs.org/:_authToken={CANARY}\n",
    ".aws/credentials": f"[default]\naws_secret_access_key = {CANARY}\n",
    ".ssh/config": f"Host *\n  IdentityFile {CANARY}\n",
}
"""The deny list's own examples (most have no source extension)."""

SECRET_SOURCE_FILES = {
    ".env.py": f'API_TOKEN = "{CANARY}"\n\n\ndef load_api_token():\n    return API_TOKEN\n',
    "id_rsa.py": f'def load_private_key():\n    return "{CANARY}"\n',
    ".aws/boto_setup.py": f'def aws_secret():\n    return "{CANARY}"\n',
    ".ssh/agent.py": f'def ssh_agent_socket():\n    return "{CANARY}"\n',
    "deploy/credentials/db.py": f'def db_password():\n    return "{CANARY}"\n',
}
"""Denied paths with a source extension: a language is known, so only the deny list keeps
them out."""

ALL_SECRETS = {**SECRET_FILES, **SECRET_SOURCE_FILES}


@pytest.mark.parametrize(
    "relative", [pytest.param(relative, id=relative) for relative in ALL_SECRETS]
)
def test_is_denied_for_secret_paths_with_and_without_a_root(tmp_path: Path, relative: str) -> None:
    assert is_denied(tmp_path / relative, tmp_path)
    assert is_denied(tmp_path / relative)
    assert is_denied(relative)


@pytest.mark.parametrize(
    "relative",
    [
        pytest.param("main.py", id="plain-source"),
        pytest.param("env.py", id="env-without-dot"),
        pytest.param("src/environment.ts", id="environment"),
        pytest.param("keys.py", id="keys-module"),
        pytest.param("pem_parser.py", id="pem-in-name"),
        pytest.param("docs/credentials.md", id="credentials-with-extension"),
        pytest.param("ssh/client.py", id="ssh-without-dot"),
    ],
)
def test_is_denied_is_false_for_ordinary_paths(tmp_path: Path, relative: str) -> None:
    assert not is_denied(tmp_path / relative, tmp_path)
    assert not is_denied(relative)


def test_secret_files_are_never_scanned(tmp_path: Path) -> None:
    write_tree(tmp_path, {**ALL_SECRETS, "main.py": "def main():\n    return 0\n"})

    scanner = WorkspaceScanner(tmp_path, REGISTRY)

    assert scan_relative(scanner) == ["main.py"]


def test_ignore_file_negation_cannot_reinclude_a_secret(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            **SECRET_SOURCE_FILES,
            ".gitignore": "!.env.py\n!id_rsa.py\n!.aws/\n",
            ".codehearthignore": "!.ssh/agent.py\n",
        },
    )

    assert scan_relative(WorkspaceScanner(tmp_path, REGISTRY)) == []


def test_symlink_to_a_secret_file_is_not_scanned(tmp_path: Path) -> None:
    write_tree(tmp_path, SECRET_SOURCE_FILES)
    os.symlink(tmp_path / ".env.py", tmp_path / "innocent.py")

    assert scan_relative(WorkspaceScanner(tmp_path, REGISTRY)) == []


# --- ignore files, noise and settings excludes ----------------------------------------

IGNORE_WORKSPACE: dict[str, str] = {
    ".gitignore": (
        "*.generated.py\n"
        "gen/\n"
        "/root_only.py\n"
        "scratch_*.py\n"
        "!scratch_keep.py\n"
        "logs/\n"
        "!logs/keep.py\n"
    ),
    ".codehearthignore": "private/\nnotes_*.ts\n",
    "sub/.gitignore": "local.py\n!keep.generated.py\n",
    "main.py": "",
    "models.generated.py": "",
    "gen/tool.py": "",
    "root_only.py": "",
    "sub/root_only.py": "",
    "scratch_a.py": "",
    "scratch_keep.py": "",
    "logs/keep.py": "",
    "private/x.py": "",
    "notes_1.ts": "",
    "notes.ts": "",
    "local.py": "",
    "sub/local.py": "",
    "sub/deeper/local.py": "",
    "sub/deeper/other.py": "",
    "sub/keep.generated.py": "",
    "node_modules/lib/index.js": "",
    "web/node_modules/react/index.js": "",
    ".venv/lib/site.py": "",
    "build/out.py": "",
    "pkg/build/x.py": "",
    "__pycache__/x.py": "",
    "src/app.min.js": "",
    "src/app.js": "",
    "generated_code/a.py": "",
    "proto/msg_pb2.py": "",
    "proto/msg.py": "",
    "README.md": "",
}
EXTRA_EXCLUDES = ("generated_code/", "*_pb2.py")

IGNORE_CASES = [
    pytest.param("main.py", True, id="plain-file"),
    pytest.param("models.generated.py", False, id="root-glob"),
    pytest.param("gen/tool.py", False, id="directory-pattern"),
    pytest.param("root_only.py", False, id="anchored-pattern"),
    pytest.param("sub/root_only.py", True, id="anchored-pattern-only-at-root"),
    pytest.param("scratch_a.py", False, id="glob-before-negation"),
    pytest.param("scratch_keep.py", True, id="negation-in-same-file"),
    pytest.param("logs/keep.py", False, id="negation-under-excluded-directory"),
    pytest.param("private/x.py", False, id="codehearthignore-directory"),
    pytest.param("notes_1.ts", False, id="codehearthignore-glob"),
    pytest.param("notes.ts", True, id="codehearthignore-glob-no-match"),
    pytest.param("local.py", True, id="nested-pattern-not-above-its-folder"),
    pytest.param("sub/local.py", False, id="nested-gitignore"),
    pytest.param("sub/deeper/local.py", False, id="nested-gitignore-below"),
    pytest.param("sub/deeper/other.py", True, id="nested-folder-other-file"),
    pytest.param(
        "sub/keep.generated.py",
        True,
        id="nested-negation-overrides-root",
    ),
    pytest.param("node_modules/lib/index.js", False, id="noise-node-modules"),
    pytest.param("web/node_modules/react/index.js", False, id="noise-nested-node-modules"),
    pytest.param(".venv/lib/site.py", False, id="noise-venv"),
    pytest.param("build/out.py", False, id="noise-build"),
    pytest.param("pkg/build/x.py", False, id="noise-nested-build"),
    pytest.param("__pycache__/x.py", False, id="noise-pycache"),
    pytest.param("src/app.min.js", False, id="noise-minified"),
    pytest.param("src/app.js", True, id="unminified-js"),
    pytest.param("generated_code/a.py", False, id="settings-exclude-directory"),
    pytest.param("proto/msg_pb2.py", False, id="settings-exclude-glob"),
    pytest.param("proto/msg.py", True, id="settings-exclude-no-match"),
    pytest.param("README.md", False, id="unknown-language"),
]


@pytest.fixture(scope="module")
def ignore_workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[WorkspaceIndex, set[str]]:
    root = tmp_path_factory.mktemp("ignores")
    write_tree(root, IGNORE_WORKSPACE)
    index = WorkspaceIndex(root, REGISTRY, extra_excludes=EXTRA_EXCLUDES)
    return index, set(scan_relative(index.scanner))


@pytest.mark.parametrize(("relative", "included"), IGNORE_CASES)
def test_scan_honours_ignore_files_noise_and_excludes(
    ignore_workspace: tuple[WorkspaceIndex, set[str]], relative: str, included: bool
) -> None:
    _, scanned = ignore_workspace
    assert (relative in scanned) is included


@pytest.mark.parametrize(
    "relative",
    [pytest.param(param.values[0], id=param.id) for param in IGNORE_CASES],
)
def test_accepts_agrees_with_scan(
    ignore_workspace: tuple[WorkspaceIndex, set[str]], relative: str
) -> None:
    index, scanned = ignore_workspace
    assert index.accepts(str(index.root / relative)) is (relative in scanned)


def test_accepts_refuses_paths_outside_the_root(
    ignore_workspace: tuple[WorkspaceIndex, set[str]], tmp_path: Path
) -> None:
    index, _ = ignore_workspace
    outside = tmp_path / "elsewhere.py"
    outside.write_text("x = 1\n", encoding="utf-8")

    assert not index.accepts(str(outside))


def test_ignores_for_collects_the_ignore_files_of_every_parent_folder(
    ignore_workspace: tuple[WorkspaceIndex, set[str]],
) -> None:
    index, _ = ignore_workspace

    bases = [base for base, _ in index.scanner.ignores_for("sub/deeper/local.py")]

    assert bases == ["", "", "sub/"]  # root .gitignore and .codehearthignore, then sub/


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        pytest.param("main.py", False, id="plain"),
        pytest.param(".env.py", True, id="secret"),
        pytest.param("node_modules/x.js", True, id="noise"),
        pytest.param("dist/", True, id="noise-directory"),
        pytest.param("generated_code/a.py", True, id="settings-exclude"),
        pytest.param("gen/", True, id="ignore-file-directory"),
    ],
)
def test_excluded_with_the_root_ignore_files(
    ignore_workspace: tuple[WorkspaceIndex, set[str]], relative: str, expected: bool
) -> None:
    index, _ = ignore_workspace
    scanner = index.scanner
    assert scanner.excluded(relative, scanner.ignores_for(relative)) is expected


# --- odd files ------------------------------------------------------------------------


def test_file_over_the_size_cap_is_skipped_as_too_large(tmp_path: Path) -> None:
    (tmp_path / "huge.py").write_bytes(b"x = 1\n" * (5_000_000 // 6 + 1))
    (tmp_path / "small.py").write_text("x = 1\n", encoding="utf-8")
    scanner = WorkspaceScanner(tmp_path, REGISTRY)

    assert scan_relative(scanner) == ["small.py"]
    assert scanner.skipped == {"too large": 1}


@pytest.mark.parametrize(
    ("size", "scanned"),
    [
        pytest.param(999_999, True, id="just-under-cap"),
        pytest.param(1_000_000, True, id="exactly-cap"),
        pytest.param(1_000_001, False, id="just-over-cap"),
    ],
)
def test_size_cap_boundary(tmp_path: Path, size: int, scanned: bool) -> None:
    body = b"# " + b"a" * (size - 3) + b"\n"
    (tmp_path / "edge.py").write_bytes(body)
    assert len(body) == size

    assert (scan_relative(WorkspaceScanner(tmp_path, REGISTRY)) == ["edge.py"]) is scanned


def test_binary_file_named_py_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "blob.py").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00" * 50)
    scanner = WorkspaceScanner(tmp_path, REGISTRY)

    assert scan_relative(scanner) == []
    assert scanner.skipped == {"binary": 1}


def test_known_unchanged_files_are_not_sniffed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path, {"same.py": "a = 1\n", "edited.py": "b = 2\n"})
    sniffed: list[str] = []
    monkeypatch.setattr(
        "codehearth.index.scanner.looks_binary", lambda path: sniffed.append(path) or False
    )
    scanner = WorkspaceScanner(tmp_path, REGISTRY)
    same, edited = scanner.root / "same.py", scanner.root / "edited.py"
    known = {
        str(same): (same.stat().st_mtime_ns, same.stat().st_size),
        str(edited): (edited.stat().st_mtime_ns, edited.stat().st_size + 1),
    }
    assert sorted(Path(item.path).name for item in scanner.scan(known)) == ["edited.py", "same.py"]
    assert sniffed == [str(edited)]


def test_files_of_unknown_languages_are_not_scanned_nor_counted(tmp_path: Path) -> None:
    write_tree(tmp_path, {"notes.txt": "hi", "data.csv": "a,b", "Makefile": "all:", "a.py": ""})
    scanner = WorkspaceScanner(tmp_path, REGISTRY)

    assert scan_relative(scanner) == ["a.py"]
    assert scanner.skipped == {}


def test_scan_stops_at_max_files(tmp_path: Path) -> None:
    write_tree(tmp_path, {f"m{i}.py": "" for i in range(5)})
    scanner = WorkspaceScanner(tmp_path, REGISTRY, ScanLimits(max_files=3))

    assert len(scan_relative(scanner)) == 3
    assert scanner.skipped == {"over max files": 1}


def test_scan_is_breadth_first_and_sorted(tmp_path: Path) -> None:
    write_tree(tmp_path, {"b.py": "", "a/z.py": "", "a/b/c.py": "", "c.py": "", "a/a.py": ""})

    assert scan_relative(WorkspaceScanner(tmp_path, REGISTRY)) == [
        "b.py",
        "c.py",
        "a/a.py",
        "a/z.py",
        "a/b/c.py",
    ]


def test_symlink_loop_terminates_and_is_counted(tmp_path: Path) -> None:
    write_tree(tmp_path, {"top.py": "", "a/inner.py": ""})
    os.symlink("..", tmp_path / "a" / "link")
    scanner = WorkspaceScanner(tmp_path, REGISTRY)

    assert scan_relative(scanner) == ["top.py", "a/inner.py"]
    assert scanner.skipped == {"symlink loop": 1}


def test_dangling_symlink_is_ignored(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.py": ""})
    os.symlink(tmp_path / "missing.py", tmp_path / "dangling.py")

    assert scan_relative(WorkspaceScanner(tmp_path, REGISTRY)) == ["a.py"]


@pytest.fixture
def locked_folder(tmp_path: Path) -> Iterator[Path]:
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "hidden.py").write_text("x = 1\n", encoding="utf-8")
    locked.chmod(0)
    try:
        if os.geteuid() == 0 or os.access(locked, os.R_OK):
            pytest.skip("chmod 000 does not stop this user from reading (running as root?)")
        yield locked
    finally:
        locked.chmod(0o755)


def test_unreadable_folder_is_skipped(tmp_path: Path, locked_folder: Path) -> None:
    (tmp_path / "open.py").write_text("x = 1\n", encoding="utf-8")
    scanner = WorkspaceScanner(tmp_path, REGISTRY)

    assert scan_relative(scanner) == ["open.py"]
    assert scanner.skipped == {"unreadable folder": 1}


def test_folder_that_refuses_listing_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same as the chmod test, for users (root) whom chmod cannot stop."""
    write_tree(tmp_path, {"open.py": "", "locked/hidden.py": "", "locked/deeper/x.py": ""})
    scandir = os.scandir

    def refusing(path: Any) -> Any:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    scanner = WorkspaceScanner(tmp_path, REGISTRY)

    assert scan_relative(scanner) == ["open.py"]
    assert scanner.skipped == {"unreadable folder": 1}


def test_rescan_resets_skipped_counts(tmp_path: Path) -> None:
    (tmp_path / "blob.py").write_bytes(b"\0\0\0")
    scanner = WorkspaceScanner(tmp_path, REGISTRY)
    list(scanner.scan())
    list(scanner.scan())

    assert scanner.skipped == {"binary": 1}


# --- looks_binary and read_source -----------------------------------------------------


@pytest.mark.parametrize(
    ("content", "binary"),
    [
        pytest.param(b"def f():\n    pass\n", False, id="text"),
        pytest.param(b"", False, id="empty"),
        pytest.param(b"abc\0def", True, id="nul-byte"),
        pytest.param("é ü 计算".encode(), False, id="utf8-text"),
        pytest.param(b"\xff\xfe\xfa", False, id="invalid-utf8-without-nul"),
        pytest.param(b"a" * BINARY_SNIFF_BYTES + b"\0", False, id="nul-after-sniff-window"),
    ],
)
def test_looks_binary(tmp_path: Path, content: bytes, binary: bool) -> None:
    path = tmp_path / "f.py"
    path.write_bytes(content)
    assert looks_binary(str(path)) is binary


def test_looks_binary_counts_a_missing_file_as_binary(tmp_path: Path) -> None:
    assert looks_binary(str(tmp_path / "gone.py"))


@pytest.mark.parametrize(
    ("content", "max_bytes", "expected"),
    [
        pytest.param(b"x = 1\n", 100, "x = 1\n", id="utf8"),
        pytest.param("größe = '计算'\n".encode(), 100, "größe = '计算'\n", id="non-ascii"),
        pytest.param(b"x = 1\r\ny = 2\r\n", 100, "x = 1\r\ny = 2\r\n", id="crlf-kept"),
        pytest.param(b"x" * 10, 10, "x" * 10, id="exactly-max-bytes"),
        pytest.param(b"x" * 11, 10, None, id="over-max-bytes"),
        pytest.param(b"x = '\0'\n", 100, None, id="nul-byte"),
        pytest.param(b"x = '\xff\xfe'\n", 100, None, id="invalid-utf8"),
    ],
)
def test_read_source(tmp_path: Path, content: bytes, max_bytes: int, expected: str | None) -> None:
    path = tmp_path / "f.py"
    path.write_bytes(content)
    assert read_source(str(path), max_bytes) == expected


def test_read_source_of_a_missing_file_is_none(tmp_path: Path) -> None:
    assert read_source(str(tmp_path / "gone.py"), 100) is None
