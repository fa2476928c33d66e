"""The workspace index: every indexable file chunked by tree-sitter, kept current.

``WorkspaceIndex.build()`` scans the workspace (see :mod:`codehearth.index.scanner`),
reuses chunks persisted for unchanged files (:mod:`codehearth.index.store`, matched by
mtime and size) and chunks the rest, on several processes when there are many files:
workers read, chunk and store files in batches and send each file back as the store's
compact text, which the parent installs as it comes; once every file is chunked the index
is ready, and the workers count the BM25 terms (and store them) while the parent installs
them. A warm start reads those counts back instead of tokenizing the code again.
``update_file`` and ``remove_file`` keep it current from editor buffers, saves and
file-system events: the last few files' syntax trees are kept so an edit is parsed
incrementally, and chunks that an edit only moved keep their BM25 documents. It
implements the ``ChunkSource`` the retrieval pipeline reads: definitions by name, a
file's chunks and imports, import resolution and the BM25 index.

All methods are synchronous and thread-safe (one lock, held briefly); the server calls
the slow ones through ``asyncio.to_thread``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import hashlib
import logging
import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from codehearth.index.bm25 import BM25Index
from codehearth.index.chunker import ParsedFile, chunk_file
from codehearth.index.model import Chunk, FileChunks, Import
from codehearth.index.retrieval import chunk_terms, terms_version
from codehearth.index.scanner import (
    ScanLimits,
    ScannedFile,
    WorkspaceScanner,
    is_denied,
    read_source,
)
from codehearth.index.store import (
    READ_BATCH,
    IndexStore,
    ManifestEntry,
    decode_chunks,
    decode_terms,
    encode_chunks,
    encode_terms,
)
from codehearth.languages import LanguageRegistry

log = logging.getLogger(__name__)

PARALLEL_THRESHOLD = 64
"""Below this many files to parse, a process pool costs more than it saves."""

BATCH_SIZE = 24

KEPT_TREES = 8
"""Syntax trees kept for the files updated last, so their next edit parses incrementally."""

LEXICAL_BATCH = 500
"""Chunks added to the BM25 index per lock hold."""

TermCounts = list[list[Counter[str]]]
"""BM25 term frequencies per file, per chunk."""

FileTerms = list[tuple[FileChunks, Sequence[Mapping[str, int]]]]
"""Files with the term frequencies of each of their chunks."""

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
        self._parsed: dict[str, ParsedFile] = {}
        # Paths replaced while the lexical index builds, after it listed the files to count.
        self._edited_during_lexical: set[str] | None = None
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
        return self._build(progress, workers or min(2, os.cpu_count() or 1))

    def _build(self, progress: Progress | None, workers: int) -> BuildReport:
        started = time.perf_counter()
        manifest = self.store.load_manifest() if self.store else {}
        known = {path: (entry.mtime_ns, entry.size) for path, entry in manifest.items()}
        scanned = list(self.scanner.scan(known))
        total = len(scanned)
        done = 0
        from_cache = 0
        to_parse: list[ScannedFile] = []
        fresh: dict[str, FileChunks] = {}
        new_manifest: dict[str, ManifestEntry] = {}
        with contextlib.ExitStack() as pool_scope, contextlib.ExitStack() as paused:
            # Reloading, chunking in this process and installing make many objects with
            # the collector paused; waiting for a pool (long) only pauses it for each step.
            paused.enter_context(_gc_paused())
            stored = self._load_unchanged(scanned, manifest)
            for item in scanned:
                cached = stored.get(item.path)
                if cached is not None:
                    fresh[item.path] = cached
                    new_manifest[item.path] = manifest[item.path]
                    from_cache += 1
                    done += 1
                else:
                    to_parse.append(item)
            with self._lock:  # stored files answer while the others are chunked
                for path, cached in stored.items():
                    if self._files.get(path) is not cached:
                        self._replace(path, cached)
            if progress:
                progress(done, total, f"{from_cache} files from cache")
            used_workers = 1
            results: Iterable[tuple[ScannedFile, FileChunks | None]]
            counted: Iterable[FileTerms] = ()  # terms counted elsewhere
            if len(to_parse) >= PARALLEL_THRESHOLD and workers > 1:
                paused.close()
                used_workers = workers
                pool = pool_scope.enter_context(
                    concurrent.futures.ProcessPoolExecutor(
                        max_workers=workers, mp_context=multiprocessing.get_context("spawn")
                    )
                )
                results, counted = self._parse_parallel(pool, to_parse)
            else:
                results = self._parse_here(to_parse)
            for item, chunks in results:
                done += 1
                if chunks is not None:
                    fresh[item.path] = chunks
                    new_manifest[item.path] = ManifestEntry(
                        item.mtime_ns, item.size, chunks.content_hash
                    )
                    # Installed as it comes, while the workers chunk the rest, rather than
                    # all after the last one.
                    with self._lock, _gc_paused():
                        self._replace(item.path, chunks)
                if progress and (done % 25 == 0 or done == total):
                    progress(done, total, os.path.relpath(item.path, self.root))
            with self._lock, _gc_paused():
                for path in list(self._files):
                    if path not in fresh:
                        self._replace(path, None)
                if new_manifest != manifest:
                    self._manifest_dirty = True
                self._manifest = new_manifest
            self.flush()
            self.ready = True  # definitions and files answer from here; lexical follows
            ready_seconds = time.perf_counter() - started
            paused.close()
            self._index_lexical(counted)
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

    def _load_unchanged(
        self, scanned: list[ScannedFile], manifest: dict[str, ManifestEntry]
    ) -> dict[str, FileChunks]:
        """The stored chunks of the files still of the mtime and size in the manifest."""
        if self.store is None:
            return {}
        unchanged = [
            (item, entry)
            for item in scanned
            if (entry := manifest.get(item.path)) is not None
            and (entry.mtime_ns, entry.size) == (item.mtime_ns, item.size)
        ]
        wanted = [(entry.content_hash, item.language_id, item.path) for item, entry in unchanged]
        loaded = self.store.load_many(wanted)
        return {
            item.path: chunks
            for (item, _), chunks in zip(unchanged, loaded, strict=True)
            if chunks is not None
        }

    def _index_lexical(self, counted: Iterable[FileTerms]) -> None:
        """Build the BM25 postings of every chunk, in small locked batches so retrieval on
        other threads is never held up for long: first those whose terms the workers
        counted (as they come), then the files whose counts the store holds, then the
        others, counted here and stored for the next start. Counts of a file that an edit
        replaced meanwhile are dropped; the files edited after the others were listed are
        counted last, under the lock that then sets ``lexical_ready``."""
        for file_terms in counted:
            self._add_terms(file_terms)
        with self._lock:
            installed = list(self._files.values())
            self._edited_during_lexical = set()
        files = [  # (outside the lock: a file replaced meanwhile is skipped when added)
            chunks
            for chunks in installed
            if any(self.chunk_key(chunk) not in self.bm25 for chunk in chunks.chunks)
        ]
        for start in range(0, len(files), READ_BATCH):
            batch = files[start : start + READ_BATCH]
            found: FileTerms = []
            counted_here: FileTerms = []
            for chunks, stored in zip(batch, self._stored_terms(batch), strict=True):
                if stored is not None:
                    found.append((chunks, stored))
                else:
                    counted_here.append((chunks, [chunk_terms(c) for c in chunks.chunks]))
            self._add_terms(found)
            self._add_terms(counted_here, save=True)
        with self._lock, _gc_paused():
            for path in self._edited_during_lexical or ():
                edited = self._files.get(path)
                for chunk in edited.chunks if edited is not None else ():
                    key = self.chunk_key(chunk)
                    if self._chunks.get(key) is chunk and key not in self.bm25:
                        self.bm25.add_counts(key, chunk_terms(chunk))
            self._edited_during_lexical = None
            self.lexical_ready = True

    def _stored_terms(self, files: list[FileChunks]) -> list[list[dict[str, int]] | None]:
        """The term counts the store holds for these files' contents (None: not there or
        not readable)."""
        if self.store is None:
            return [None] * len(files)
        wanted = [(chunks.content_hash, chunks.language_id) for chunks in files]
        with _gc_paused():
            return [
                None if text is None else decode_terms(text, chunks)
                for chunks, text in zip(
                    files, self.store.load_terms_many(wanted, terms_version()), strict=True
                )
            ]

    def _add_terms(self, files: FileTerms, *, save: bool = False) -> None:
        """Add the chunks of files still installed to BM25, a few hundred per lock hold;
        with ``save``, store the counts of those whose content is the one on disk."""
        start = 0
        while start < len(files):
            end = start + 1
            size = len(files[start][0].chunks)
            while end < len(files) and size < LEXICAL_BATCH:
                size += len(files[end][0].chunks)
                end += 1
            with self._lock, _gc_paused():
                for chunks, counts in files[start:end]:
                    if self._files.get(chunks.path) is not chunks:
                        continue  # replaced or removed meanwhile: its chunks are not ours
                    keyed = dict(zip(map(self.chunk_key, chunks.chunks), counts, strict=True))
                    for key, terms in keyed.items():
                        if key not in self.bm25:
                            self.bm25.add_counts(key, terms)
            start = end
        if not save or self.store is None:
            return
        with self._lock:
            on_disk = [
                (chunks, counts)
                for chunks, counts in files
                if (entry := self._manifest.get(chunks.path)) is not None
                and entry.content_hash == chunks.content_hash
            ]
        encoded = [
            (chunks.content_hash, chunks.language_id, text)
            for chunks, counts in on_disk
            if (text := encode_terms(chunks, counts)) is not None
        ]
        self.store.save_terms(encoded, terms_version())

    def _parse_here(
        self, items: list[ScannedFile]
    ) -> Iterator[tuple[ScannedFile, FileChunks | None]]:
        """Chunk in this process, saving to the store a batch at a time."""
        pending: list[tuple[str, str, str]] = []
        for item in items:
            text = read_source(item.path, self.limits.max_file_bytes)
            chunks = None
            if text is not None:
                chunks = chunk_file(self.registry, item.language_id, item.path, text)
                if self.store:
                    pending.append((chunks.content_hash, chunks.language_id, encode_chunks(chunks)))
            yield item, chunks
            if self.store and len(pending) >= BATCH_SIZE:
                self.store.save_encoded(pending)
                pending = []
        if self.store and pending:
            self.store.save_encoded(pending)

    def _parse_parallel(
        self, pool: concurrent.futures.Executor, items: list[ScannedFile]
    ) -> tuple[Iterator[tuple[ScannedFile, FileChunks | None]], Iterator[FileTerms]]:
        """Chunk on a process pool whose workers also write the store: the chunks of each
        file as they come, then the BM25 term frequencies of each file's chunks, a batch of
        files at a time as the workers count (and store) them; those tasks queue behind the
        chunking, so the index is ready before they run."""
        store_folder = str(self.store.folder) if self.store and self.store.persistent else None
        counting: list[tuple[list[FileChunks], concurrent.futures.Future[TermCounts]]] = []

        def chunked() -> Iterator[tuple[ScannedFile, FileChunks | None]]:
            futures = {}
            for start in range(0, len(items), BATCH_SIZE):
                batch = items[start : start + BATCH_SIZE]
                paths = [(item.path, item.language_id) for item in batch]
                max_bytes = self.limits.max_file_bytes
                futures[pool.submit(chunk_batch, paths, max_bytes, store_folder)] = batch
            for future in concurrent.futures.as_completed(futures):
                batch = futures[future]
                try:
                    results = future.result()
                except Exception as error:  # a crashed worker loses its batch, not the build
                    log.warning("indexing a batch of %d files failed: %s", len(batch), error)
                    results = [None] * len(batch)
                files: list[FileChunks] = []
                encoded_files: list[str] = []
                decoded = []
                with _gc_paused():
                    for item, encoded in zip(batch, results, strict=True):
                        chunks = None if encoded is None else decode_chunks(encoded, item.path)
                        if encoded is not None and chunks is not None:
                            files.append(chunks)
                            encoded_files.append(encoded)
                        decoded.append((item, chunks))
                yield from decoded
                if encoded_files:
                    task = pool.submit(batch_terms, encoded_files, store_folder)
                    counting.append((files, task))

        def counted() -> Iterator[FileTerms]:
            files_of = {future: files for files, future in counting}
            for future in concurrent.futures.as_completed(files_of):
                try:
                    counts = future.result()
                except Exception as error:  # those chunks are counted in this process
                    log.warning("counting terms of a batch failed: %s", error)
                    continue
                yield [
                    (chunks, file_counts)
                    for chunks, file_counts in zip(files_of[future], counts, strict=True)
                    # (none when the worker could not decode the file: counted here)
                    if len(file_counts) == len(chunks.chunks)
                ]

        return chunked(), counted()

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
        cached = None
        if self.store and saved:
            cached = self.store.load_chunks(digest, spec.language_id, path)
        if cached is not None:
            chunks = cached
        else:
            chunks = chunk_file(self.registry, spec.language_id, path, text, parsed=self._parsed)
            if self.store and saved:  # unsaved buffers change too often to be worth it
                self.store.save_chunks(chunks)
        with self._lock:
            self._replace(path, chunks)
            for stale in list(self._parsed)[:-KEPT_TREES]:  # the least recently updated
                self._parsed.pop(stale, None)
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
            self._replace(path, None)
            self._parsed.pop(path, None)
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

    def _replace(self, path: str, chunks: FileChunks | None) -> None:
        """Put ``chunks`` in place of whatever ``path`` held (None: forget the file)."""
        if self._edited_during_lexical is not None:
            self._edited_during_lexical.add(path)
        previous = self._uninstall(path).chunks if path in self._files else ()
        if chunks is not None:
            self._install(chunks)
        old_keys = [self.chunk_key(chunk) for chunk in previous]
        if not self.lexical_ready:  # the BM25 postings are built after the tables
            for key in old_keys:
                self.bm25.remove(key)
            return
        # An edit moves most chunks without changing them: their BM25 documents move to
        # the new keys instead of being tokenized again.
        unchanged: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]] = {}
        for key, chunk in zip(old_keys, previous, strict=True):
            unchanged.setdefault(_lexical_identity(chunk), []).append(key)
        moves: dict[str, str] = {}
        targets: set[str] = set()  # (a key twice in one file keeps the last chunk, as ever)
        fresh: list[tuple[str, Chunk]] = []
        for chunk in chunks.chunks if chunks is not None else ():
            key = self.chunk_key(chunk)
            keys = unchanged.get(_lexical_identity(chunk))
            if keys and key not in targets:
                moves[keys.pop()] = key
                targets.add(key)
            else:
                fresh.append((key, chunk))
        for key in old_keys:
            if key not in moves:
                self.bm25.remove(key)
        self.bm25.rekey(moves)
        for key, chunk in fresh:
            self.bm25.add_counts(key, chunk_terms(chunk))

    def _install(self, chunks: FileChunks) -> None:
        """Add a file's chunks to the tables (and to BM25 once it is built, except those
        :meth:`_replace` moves there)."""
        path = chunks.path
        self._files[path] = chunks
        for stem in _stems(path):
            self._by_stem.setdefault(stem, set()).add(path)
        chunk_key = self.chunk_key
        by_key = self._chunks
        defining = self._defining
        for chunk in chunks.chunks:
            key = chunk_key(chunk)
            by_key[key] = chunk
            for name in chunk.defines:
                keys = defining.get(name)
                if keys is None:
                    defining[name] = {key}
                else:
                    keys.add(key)

    def _uninstall(self, path: str) -> FileChunks:
        """Drop a file's chunks from the tables (not from BM25: :meth:`_replace` does)."""
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
        return chunks


def _lexical_identity(chunk: Chunk) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """What a chunk's BM25 document is made of (:func:`chunk_terms`)."""
    return (chunk.text, chunk.defines, chunk.references)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (for the whole process, so only for a short
    step) while the index makes many objects: they hold no cycles to free, and every
    collection would walk all of them again (decoding the stored chunks takes four times
    as long with it running)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _stems(path: str) -> tuple[str, ...]:
    """Module names a file answers to: its stem, and its folder for package entry files
    (as ``PurePosixPath``'s ``stem`` and ``parent.name``, without making one)."""
    folder, _, name = path.rpartition("/")
    dot = name.rfind(".")
    stem = name[:dot] if 0 < dot < len(name) - 1 else name
    if stem in ("__init__", "index", "mod"):
        return (stem, folder.rpartition("/")[2])
    return (stem,)


_SCRIPT_EXTENSIONS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".d.ts")

_worker_registry: LanguageRegistry | None = None
_worker_store: IndexStore | None = None


def chunk_batch(
    items: list[tuple[str, str]], max_bytes: int, store_folder: str | None
) -> list[str | None]:
    """Process-pool worker: chunk files by path, save them to the store (one transaction)
    and return each file's :func:`encode_chunks` text (so the parent only decodes and
    installs); None for a file that is gone or could not be chunked."""
    global _worker_registry
    if _worker_registry is None:
        _worker_registry = LanguageRegistry.load()
    store = _store_in_worker(store_folder)
    results: list[str | None] = []
    encoded: list[tuple[str, str, str]] = []
    with _gc_paused():  # chunking makes no cycles, only objects that die young
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
            text = encode_chunks(chunks)
            encoded.append((chunks.content_hash, language_id, text))
            results.append(text)
    if store is not None:
        store.save_encoded(encoded)
    return results


def batch_terms(encoded_files: list[str], store_folder: str | None = None) -> TermCounts:
    """Process-pool worker: the BM25 term frequencies of each chunk of each encoded file
    (none for one that does not decode), saved to the store for the next start."""
    terms: TermCounts = []
    saved: list[tuple[str, str, str]] = []
    with _gc_paused():
        for encoded in encoded_files:
            chunks = decode_chunks(encoded)
            counts = [chunk_terms(chunk) for chunk in chunks.chunks] if chunks else []
            terms.append(counts)
            if chunks is not None and (text := encode_terms(chunks, counts)) is not None:
                saved.append((chunks.content_hash, chunks.language_id, text))
    store = _store_in_worker(store_folder)
    if store is not None:
        store.save_terms(saved, terms_version())
    return terms


def _store_in_worker(store_folder: str | None) -> IndexStore | None:
    """The worker process's store (opened once), or None when the index has none."""
    global _worker_store
    if store_folder is not None and _worker_store is None:
        _worker_store = IndexStore(Path(store_folder))
    return _worker_store
