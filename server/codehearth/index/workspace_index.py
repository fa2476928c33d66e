"""The workspace index: every indexable file chunked by tree-sitter, kept current.

``WorkspaceIndex.build()`` scans the workspace (see :mod:`codehearth.index.scanner`),
reuses chunks persisted for unchanged files (:mod:`codehearth.index.store`) and chunks the
rest, on several processes when there are many files. ``update_file`` and ``remove_file``
keep it current from editor buffers, saves and file-system events. It implements the
``ChunkSource`` the retrieval pipeline reads: definitions by name, a file's chunks and
imports, import resolution and the BM25 index.

All methods are synchronous and thread-safe (one lock, held briefly); the server calls
the slow ones through ``asyncio.to_thread``.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from codehearth.index.bm25 import BM25Index
from codehearth.index.chunker import chunk_file
from codehearth.index.model import Chunk, FileChunks, Import
from codehearth.index.retrieval import chunk_tokens
from codehearth.index.scanner import (
    ScanLimits,
    ScannedFile,
    WorkspaceScanner,
    is_denied,
    read_source,
)
from codehearth.index.store import IndexStore, ManifestEntry
from codehearth.languages import LanguageRegistry

log = logging.getLogger(__name__)

PARALLEL_THRESHOLD = 64
"""Below this many files to parse, a process pool costs more than it saves."""

BATCH_SIZE = 24

LEXICAL_BATCH = 500
"""Chunks added to the BM25 index per lock hold."""

Progress = Callable[[int, int, str], None]
"""(files done, files total, message)."""


@attrs.frozen
class BuildReport:
    """What a build did, for `$/progress`, `codehearth index --json` and benchmarks."""

    files: int
    chunks: int
    bytes: int
    seconds: float
    parsed: int
    from_cache: int
    per_language: dict[str, int]
    skipped: dict[str, int]
    workers: int
    lexical_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class WorkspaceIndex:
    """Chunks of every indexable file of one workspace root."""

    def __init__(
        self,
        root: Path,
        registry: LanguageRegistry,
        store: IndexStore | None = None,
        limits: ScanLimits | None = None,
        extra_excludes: tuple[str, ...] = (),
    ) -> None:
        self.root = root.resolve()
        self.registry = registry
        self.store = store
        self.limits = limits or ScanLimits()
        self.scanner = WorkspaceScanner(self.root, registry, self.limits, extra_excludes)
        self.bm25 = BM25Index()
        self._lock = threading.RLock()
        self._files: dict[str, FileChunks] = {}
        self._chunks: dict[str, Chunk] = {}
        self._defining: dict[str, set[str]] = {}
        self._by_stem: dict[str, set[str]] = {}
        self._manifest: dict[str, ManifestEntry] = {}
        self._manifest_dirty = False
        self.ready = False
        self.lexical_ready = False

    # -- ChunkSource ---------------------------------------------------------------

    @staticmethod
    def chunk_key(chunk: Chunk) -> str:
        return f"{chunk.path}#{chunk.start_line}-{chunk.end_line}#{chunk.symbol}"

    def chunk_by_key(self, key: str) -> Chunk | None:
        return self._chunks.get(key)

    def chunks_defining(self, name: str) -> list[Chunk]:
        with self._lock:
            keys = list(self._defining.get(name, ()))
            return [self._chunks[key] for key in keys if key in self._chunks]

    def file_chunks(self, path: str) -> FileChunks | None:
        return self._files.get(path)

    def resolve_import(self, from_path: str, item: Import) -> list[str]:
        """Workspace files an import refers to (best effort, by path conventions)."""
        module = item.module.strip("\"'<> ")
        if not module:
            return []
        folder = PurePosixPath(from_path).parent
        candidates: list[str] = []
        if module.startswith("."):
            # Relative: Python `.mod`/`..pkg.mod`, JS/TS `./x`, `../x`, C `"x.h"`.
            if "/" in module:
                base = (Path(folder) / module).resolve()
                candidates += [str(base)] + [f"{base}{ext}" for ext in _SCRIPT_EXTENSIONS]
                candidates += [str(base / f"index{ext}") for ext in _SCRIPT_EXTENSIONS]
            else:
                dots = len(module) - len(module.lstrip("."))
                target = Path(folder)
                for _ in range(dots - 1):
                    target = target.parent
                rest = module.lstrip(".").replace(".", "/")
                base = target / rest if rest else target
                candidates += [f"{base}.py", str(base / "__init__.py")]
                candidates += [str(base / f"{name}.py") for name in item.names]
        else:
            parts = [p for p in module.replace("::", "/").replace(".", "/").split("/") if p]
            with self._lock:
                for length in range(len(parts), 0, -1):
                    stem = parts[length - 1]
                    suffix = "/".join(parts[:length])
                    for path in self._by_stem.get(stem, ()):
                        no_ext = path.rsplit(".", 1)[0]
                        if no_ext.endswith(suffix) or no_ext.endswith(suffix + "/__init__"):
                            candidates.append(path)
                    if candidates:
                        break
            if (Path(folder) / module).suffix:  # C/C++ "header.h" next to the file
                candidates.append(str((Path(folder) / module).resolve()))
        with self._lock:
            seen: list[str] = []
            for candidate in candidates:
                if candidate in self._files and candidate not in seen and candidate != from_path:
                    seen.append(candidate)
            return seen

    # -- queries -------------------------------------------------------------------

    def paths(self) -> list[str]:
        with self._lock:
            return list(self._files)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"files": len(self._files), "chunks": len(self._chunks)}

    def neighbours(self, path: str) -> list[FileChunks]:
        """Files in the same folder, for the repo-map outline."""
        folder = os.path.dirname(path)
        with self._lock:
            return [
                chunks
                for other, chunks in self._files.items()
                if other != path and os.path.dirname(other) == folder
            ]

    # -- building ------------------------------------------------------------------

    def build(self, progress: Progress | None = None, workers: int | None = None) -> BuildReport:
        """Scan and (re)index the workspace; unchanged files come from the store."""
        started = time.perf_counter()
        workers = workers or min(2, os.cpu_count() or 1)
        scanned = list(self.scanner.scan())
        manifest = self.store.load_manifest() if self.store else {}
        total = len(scanned)
        done = 0
        from_cache = 0
        to_parse: list[ScannedFile] = []
        fresh: dict[str, FileChunks] = {}
        new_manifest: dict[str, ManifestEntry] = {}
        for item in scanned:
            entry = manifest.get(item.path)
            cached = None
            if entry and entry.mtime_ns == item.mtime_ns and entry.size == item.size:
                cached = (
                    self.store.load_chunks(entry.content_hash, item.language_id)
                    if self.store
                    else None
                )
            if cached is not None:
                fresh[item.path] = rebased(cached, item.path)
                new_manifest[item.path] = entry  # type: ignore[assignment]
                from_cache += 1
                done += 1
            else:
                to_parse.append(item)
        if progress:
            progress(done, total, f"{from_cache} files from cache")
        used_workers = 1
        tokens: dict[str, list[str]] = {}
        results: Iterable[tuple[ScannedFile, FileChunks | None]]
        if len(to_parse) >= PARALLEL_THRESHOLD and workers > 1:
            used_workers = workers
            results = self._parse_parallel(to_parse, workers, tokens)
        else:
            results = ((item, self._parse_one(item)) for item in to_parse)
        for item, chunks in results:
            done += 1
            if chunks is not None:
                fresh[item.path] = chunks
                new_manifest[item.path] = ManifestEntry(
                    item.mtime_ns, item.size, chunks.content_hash
                )
                if self.store and used_workers == 1:
                    self.store.save_chunks(chunks)  # workers save their own
            if progress and (done % 25 == 0 or done == total):
                progress(done, total, os.path.relpath(item.path, self.root))
        with self._lock:
            for path in list(self._files):
                if path not in fresh:
                    self._uninstall(path)
            for chunks in fresh.values():
                current = self._files.get(chunks.path)
                if current is chunks:
                    continue
                if current is not None:
                    self._uninstall(chunks.path)
                self._install(chunks)
            self._manifest = new_manifest
            self._manifest_dirty = True
        self.flush()
        self.ready = True  # definitions and files answer from here; lexical ranking follows
        ready_seconds = time.perf_counter() - started
        self._index_lexical(tokens)
        languages = Counter(chunks.language_id for chunks in fresh.values())
        return BuildReport(
            files=len(fresh),
            chunks=sum(len(chunks.chunks) for chunks in fresh.values()),
            bytes=sum(item.size for item in scanned if item.path in fresh),
            seconds=round(ready_seconds, 3),
            parsed=len(to_parse),
            from_cache=from_cache,
            per_language=dict(languages),
            skipped=dict(self.scanner.skipped),
            workers=used_workers,
            lexical_seconds=round(time.perf_counter() - started - ready_seconds, 3),
        )

    def _index_lexical(self, known: dict[str, list[str]]) -> None:
        """Build the BM25 postings for every chunk, in small locked batches so retrieval
        on other threads is never held up for long."""
        with self._lock:
            keys = list(self._chunks)
        for start in range(0, len(keys), LEXICAL_BATCH):
            with self._lock:
                for key in keys[start : start + LEXICAL_BATCH]:
                    chunk = self._chunks.get(key)
                    if chunk is not None and key not in self.bm25:
                        self.bm25.add(key, known.get(key) or chunk_tokens(chunk))
        self.lexical_ready = True

    def _parse_one(self, item: ScannedFile) -> FileChunks | None:
        text = read_source(item.path, self.limits.max_file_bytes)
        if text is None:
            return None
        return chunk_file(self.registry, item.language_id, item.path, text)

    def _parse_parallel(
        self, items: list[ScannedFile], workers: int, tokens: dict[str, list[str]]
    ) -> Iterable[tuple[ScannedFile, FileChunks | None]]:
        """Chunk on a process pool; workers also tokenize for BM25 and write the store."""
        batches = [items[i : i + BATCH_SIZE] for i in range(0, len(items), BATCH_SIZE)]
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=context
        ) as pool:
            futures = {
                pool.submit(
                    chunk_batch,
                    [(item.path, item.language_id) for item in batch],
                    self.limits.max_file_bytes,
                    str(self.store.folder) if self.store and self.store.persistent else None,
                ): batch
                for batch in batches
            }
            for future in concurrent.futures.as_completed(futures):
                batch = futures[future]
                try:
                    results = future.result()
                except Exception as error:  # a crashed worker loses its batch, not the build
                    log.warning("indexing a batch of %d files failed: %s", len(batch), error)
                    results = [None] * len(batch)
                for item, data in zip(batch, results, strict=True):
                    if data is None:
                        yield item, None
                        continue
                    chunks = FileChunks.from_json(data["chunks"])
                    for chunk, chunk_terms in zip(chunks.chunks, data["tokens"], strict=True):
                        tokens[self.chunk_key(chunk)] = chunk_terms
                    yield item, chunks

    # -- incremental updates ---------------------------------------------------------

    def accepts(self, path: str) -> bool:
        """May this path be indexed (inside the root, not denied or ignored, known language)?"""
        try:
            relative = Path(path).resolve().relative_to(self.root).as_posix()
        except (ValueError, OSError):
            return False
        if is_denied(path, self.root) or self.registry.by_path(path) is None:
            return False
        return not self.scanner.excluded_path(relative)

    def update_file(self, path: str, text: str | None = None, *, saved: bool = False) -> bool:
        """Re-chunk one file from an editor buffer (``text``) or from disk; True if changed."""
        if not self.accepts(path):
            return False
        spec = self.registry.by_path(path)
        if spec is None:
            return False
        if text is None:
            text = read_source(path, self.limits.max_file_bytes)
            if text is None:
                self.remove_file(path)
                return True
        elif len(text.encode("utf-8", "surrogatepass")) > self.limits.max_file_bytes:
            # Too large now: drop it, as a build would.
            existed = path in self._files
            self.remove_file(path)
            return existed
        digest = content_hash(text)
        current = self._files.get(path)
        if current is not None and current.content_hash == digest:
            return False
        cached = self.store.load_chunks(digest, spec.language_id) if self.store and saved else None
        if cached is not None:
            chunks = rebased(cached, path)
        else:
            chunks = chunk_file(self.registry, spec.language_id, path, text)
            if self.store and saved:  # unsaved buffers change too often to be worth it
                self.store.save_chunks(chunks)
        with self._lock:
            if path in self._files:
                self._uninstall(path)
            self._install(chunks)
            if saved:
                try:
                    info = os.stat(path)
                    self._manifest[path] = ManifestEntry(info.st_mtime_ns, info.st_size, digest)
                    self._manifest_dirty = True
                except OSError:
                    pass
        return True

    def remove_file(self, path: str) -> None:
        with self._lock:
            if path in self._files:
                self._uninstall(path)
            if self._manifest.pop(path, None) is not None:
                self._manifest_dirty = True

    def flush(self) -> None:
        """Persist the manifest if it changed."""
        with self._lock:
            if not self._manifest_dirty or self.store is None:
                return
            manifest = dict(self._manifest)
            self._manifest_dirty = False
        self.store.save_manifest(manifest)

    # -- internals (lock held) -------------------------------------------------------

    def _install(self, chunks: FileChunks) -> None:
        self._files[chunks.path] = chunks
        for stem in _stems(chunks.path):
            self._by_stem.setdefault(stem, set()).add(chunks.path)
        for chunk in chunks.chunks:
            key = self.chunk_key(chunk)
            self._chunks[key] = chunk
            for name in chunk.defines:
                self._defining.setdefault(name, set()).add(key)
            if self.lexical_ready:
                self.bm25.add(key, chunk_tokens(chunk))

    def _uninstall(self, path: str) -> None:
        chunks = self._files.pop(path)
        for stem in _stems(path):
            paths = self._by_stem.get(stem)
            if paths is not None:
                paths.discard(path)
                if not paths:
                    del self._by_stem[stem]
        for chunk in chunks.chunks:
            key = self.chunk_key(chunk)
            self._chunks.pop(key, None)
            for name in chunk.defines:
                keys = self._defining.get(name)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._defining[name]
            self.bm25.remove(key)


def _stems(path: str) -> tuple[str, ...]:
    """Module names a file answers to: its stem, and its folder for package entry files."""
    pure = PurePosixPath(path)
    if pure.stem in ("__init__", "index", "mod"):
        return (pure.stem, pure.parent.name)
    return (pure.stem,)


_SCRIPT_EXTENSIONS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".d.ts")

_worker_registry: LanguageRegistry | None = None
_worker_store: IndexStore | None = None


def chunk_batch(
    items: list[tuple[str, str]], max_bytes: int, store_folder: str | None
) -> list[dict[str, Any] | None]:
    """Process-pool worker: chunk files by path, save them to the store and return their
    JSON with each chunk's BM25 terms (so the parent only installs)."""
    global _worker_registry, _worker_store
    if _worker_registry is None:
        _worker_registry = LanguageRegistry.load()
    if store_folder is not None and _worker_store is None:
        _worker_store = IndexStore(Path(store_folder))
    results: list[dict[str, Any] | None] = []
    for path, language_id in items:
        text = read_source(path, max_bytes)
        if text is None:
            results.append(None)
            continue
        try:
            chunks = chunk_file(_worker_registry, language_id, path, text)
        except Exception as error:  # one bad file must not lose the batch
            log.warning("chunking %s failed: %s", path, error)
            results.append(None)
            continue
        if _worker_store is not None:
            _worker_store.save_chunks(chunks)
        results.append(
            {
                "chunks": chunks.to_json(),
                "tokens": [chunk_tokens(chunk) for chunk in chunks.chunks],
            }
        )
    return results


def rebased(chunks: FileChunks, path: str) -> FileChunks:
    """Chunks stored for identical content at another path, moved to ``path``."""
    if chunks.path == path:
        return chunks
    return attrs.evolve(
        chunks,
        path=path,
        chunks=tuple(attrs.evolve(chunk, path=path) for chunk in chunks.chunks),
    )
