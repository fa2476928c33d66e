"""Which files of a workspace may be indexed, and may ever reach a prompt.

``WorkspaceScanner.scan()`` walks the workspace and yields the source files worth
indexing: it honours ``.gitignore`` files (nested ones too), a ``.codehearthignore`` and a
built-in deny list of secrets (``.env*``, keys, ``*.pem``, ``.npmrc``, ``.aws/`` ...),
dependency, build and VCS folders. It skips files over the size cap, binary files, files
of unknown languages, names that are not UTF-8, symlink loops, links out of the workspace
and folders it may not read, and never raises for a file that vanished mid-scan.
``is_denied(path)`` is the same check for a single path, used before any document's text
goes into a prompt.

``read_workspace_file`` reads the files a repository controls (ignore files, settings,
formatter configs, rules) only when they are regular files of bounded size: a repository
may link ``.gitignore`` to ``/dev/zero``, and a FIFO would block the reader forever.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path

import attrs
import pathspec

from codehearth.languages import LanguageRegistry

log = logging.getLogger(__name__)

IGNORE_FILES = (".gitignore", ".codehearthignore")

SECRET_PATTERNS = (
    ".env",
    ".env.*",
    "*.env",
    ".envrc",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.keystore",
    "*.jks",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".npmrc",
    ".pypirc",
    ".netrc",
    ".git-credentials",
    ".aws/",
    ".ssh/",
    ".gnupg/",
    ".docker/config.json",
    "credentials",
    "credentials.json",
    "secrets.json",
    "secrets.yaml",
    "secrets.yml",
    "*.tfvars",
    "*.tfstate",
)
"""Never indexed, never sent to a model, whatever the ignore files say."""

NOISE_PATTERNS = (
    ".git/",
    ".hg/",
    ".svn/",
    "node_modules/",
    "bower_components/",
    "__pycache__/",
    ".venv/",
    "venv/",
    ".tox/",
    ".nox/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    "build/",
    "dist/",
    "target/",
    "out/",
    "vendor/",
    "third_party/",
    ".next/",
    ".idea/",
    ".vscode/",
    "*.min.js",
    "*.min.css",
    "*.map",
    "*.lock",
    "*-lock.json",
)
"""Dependencies, build output, caches and generated files: not the user's code."""

BINARY_SNIFF_BYTES = 8192
MAX_CONFIG_BYTES = 1_000_000


@attrs.frozen
class ScannedFile:
    """A file the index may read: absolute path, language and the stat it was seen with."""

    path: str
    language_id: str
    size: int
    mtime_ns: int


@attrs.frozen
class ScanLimits:
    max_file_bytes: int = 1_000_000
    max_files: int = 50_000


_SECRET_SPEC = pathspec.GitIgnoreSpec.from_lines(SECRET_PATTERNS)
_NOISE_SPEC = pathspec.GitIgnoreSpec.from_lines(NOISE_PATTERNS)


def is_denied(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> bool:
    """True for paths that must never reach a prompt (secrets), wherever they are."""
    candidate = Path(path)
    relative = candidate.name
    if root is not None:
        try:
            relative = candidate.resolve().relative_to(Path(root).resolve()).as_posix()
        except (ValueError, OSError):
            relative = candidate.as_posix().lstrip("/")
    else:
        relative = candidate.as_posix().lstrip("/")
    return _SECRET_SPEC.match_file(relative)


class WorkspaceScanner:
    """Walks one workspace root."""

    def __init__(
        self,
        root: Path,
        registry: LanguageRegistry,
        limits: ScanLimits | None = None,
        extra_excludes: tuple[str, ...] = (),
    ) -> None:
        self.root = root.resolve()
        self.registry = registry
        self.limits = limits or ScanLimits()
        self._extra = pathspec.GitIgnoreSpec.from_lines(extra_excludes)
        self.skipped: dict[str, int] = {}

    def _skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def excluded(self, relative: str, ignores: list[tuple[str, pathspec.PathSpec]]) -> bool:
        """Deny list, built-in noise, settings excludes, then the ignore files."""
        if _SECRET_SPEC.match_file(relative) or _NOISE_SPEC.match_file(relative):
            return True
        if self._extra.match_file(relative):
            return True
        # As git: ignore files apply root first, deeper ones later, and the last pattern
        # that matches decides (so a nested `!pattern` can re-include a file).
        ignored = False
        for base, spec in ignores:
            if base and not relative.startswith(base):
                continue
            verdict = spec.check_file(relative[len(base) :]).include
            if verdict is not None:
                ignored = verdict
        return ignored

    def excluded_path(self, relative: str) -> bool:
        """Is a file excluded, counting its folders? (A file in an excluded folder stays
        excluded whatever the patterns say about it, as in git and in ``scan``.)"""
        parts = relative.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth]) + "/"
            if self.excluded(folder, self.ignores_for(folder)):
                return True
        return self.excluded(relative, self.ignores_for(relative))

    def ignores_for(self, relative: str) -> list[tuple[str, pathspec.PathSpec]]:
        """The ignore files that apply to one path (those of its folder and its parents)."""
        ignores: list[tuple[str, pathspec.PathSpec]] = []
        folder = self.root
        prefix = ""
        parts = relative.split("/")[:-1]
        ignores += _read_ignores(folder, prefix)
        for part in parts:
            folder = folder / part
            prefix = f"{prefix}{part}/"
            ignores += _read_ignores(folder, prefix)
        return ignores

    def scan(self, known: Mapping[str, tuple[int, int]] | None = None) -> Iterator[ScannedFile]:
        """Yield indexable files, breadth-first; stops at ``max_files``. A file found in
        ``known`` (path -> (mtime_ns, size) of files indexed before) with the same
        modification time and size is not read again to tell whether it is binary."""
        known = known or {}
        self.skipped = {}
        seen_dirs: set[tuple[int, int]] = set()
        pending: list[tuple[Path, str, list[tuple[str, pathspec.PathSpec]]]] = [(self.root, "", [])]
        count = 0
        while pending:
            folder, relative_folder, inherited = pending.pop(0)
            try:
                folder_stat = folder.stat()
            except OSError:
                self._skip("unreadable folder")
                continue
            identity = (folder_stat.st_dev, folder_stat.st_ino)
            if identity in seen_dirs:
                self._skip("symlink loop")
                continue
            seen_dirs.add(identity)
            ignores = inherited + _read_ignores(folder, relative_folder)
            try:
                entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
            except OSError:
                self._skip("unreadable folder")
                continue
            for entry in entries:
                if not _decodable(entry.name):
                    self._skip("undecodable name")  # it could not be sent in a prompt
                    continue
                relative = f"{relative_folder}{entry.name}"
                try:
                    is_dir = entry.is_dir()
                    is_file = not is_dir and entry.is_file()
                except OSError:
                    self._skip("vanished")
                    continue
                if is_dir:
                    if entry.is_symlink() and not self._symlink_target_allowed(entry.path):
                        continue
                    if not self.excluded(relative + "/", ignores):
                        pending.append((Path(entry.path), relative + "/", ignores))
                    continue
                if not is_file or self.excluded(relative, ignores):
                    continue
                if entry.is_symlink() and not self._symlink_target_allowed(entry.path):
                    continue
                scanned = self._check_file(entry, known)
                if scanned is None:
                    continue
                count += 1
                yield scanned
                if count >= self.limits.max_files:
                    self._skip("over max files")
                    log.warning("stopped indexing at %d files (index.maxFiles)", count)
                    return

    def _symlink_target_allowed(self, path: str) -> bool:
        """A linked file or folder is read only when its target is inside the workspace
        and is not itself a secret (``innocent.py -> .env`` must not leak, ``docs -> ~``
        must not index the home folder)."""
        try:
            target = Path(os.path.realpath(path))
            relative = target.relative_to(self.root).as_posix()
        except (ValueError, OSError):
            self._skip("symlink outside workspace")
            return False
        if _SECRET_SPEC.match_file(relative):
            self._skip("symlink to a secret")
            return False
        return True

    def _check_file(
        self, entry: os.DirEntry[str], known: Mapping[str, tuple[int, int]]
    ) -> ScannedFile | None:
        spec = self.registry.by_path(entry.name)
        if spec is None:
            return None
        try:
            info = entry.stat()
        except OSError:
            self._skip("vanished")
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_size > self.limits.max_file_bytes:
            self._skip("too large")
            return None
        seen = (info.st_mtime_ns, info.st_size)
        if known.get(entry.path) != seen and looks_binary(entry.path):
            self._skip("binary")
            return None
        return ScannedFile(
            path=entry.path,  # (the folder's path, normalized, joined to the name)
            language_id=spec.language_id,
            size=info.st_size,
            mtime_ns=info.st_mtime_ns,
        )


def _decodable(name: str) -> bool:
    """Is a file name valid UTF-8 (not bytes smuggled in as surrogates)?"""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def looks_binary(path: str) -> bool:
    """A NUL byte in the first 8 KiB means binary (as git decides); unreadable counts too."""
    try:
        with open(path, "rb") as handle:
            return b"\0" in handle.read(BINARY_SNIFF_BYTES)
    except OSError:
        return True


def read_workspace_file(path: str | os.PathLike[str], max_bytes: int = MAX_CONFIG_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; raises ``OSError`` otherwise
    (``FileNotFoundError`` when there is none). A FIFO, a device or a link to one is not
    read: opening does not wait for a writer."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise OSError(errno.EFBIG, f"larger than {max_bytes} bytes", str(path))
    return data


def read_source(path: str, max_bytes: int) -> str | None:
    """The file as text, or None when it is too large, binary, not UTF-8, gone or not a
    regular file."""
    try:
        data = read_workspace_file(path, max_bytes)
    except OSError:
        return None
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _read_ignores(folder: Path, relative_folder: str) -> list[tuple[str, pathspec.PathSpec]]:
    found: list[tuple[str, pathspec.PathSpec]] = []
    for name in IGNORE_FILES:
        try:
            lines = read_workspace_file(folder / name).decode("utf-8", "replace").splitlines()
        except OSError:
            continue
        found.append((relative_folder, pathspec.GitIgnoreSpec.from_lines(lines)))
    return found
