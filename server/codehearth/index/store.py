"""The index on disk: chunks per content hash, and a manifest of what each path held.

A diskcache ``Cache`` per workspace under the user cache directory (never inside the
workspace), values stored as text (never pickle) inside its SQLite database, no eviction.
A file's chunks are one value (:func:`encode_chunks`: a JSON header line, then the chunk
texts) keyed by the content hash plus the chunker version, so a restart re-reads nothing
that did not change and an upgraded chunker never reuses stale chunks; a batch of files is
written in one transaction. Beside them, under the same content hash, the BM25 term
frequencies of each chunk (:func:`encode_terms`), so a warm start rebuilds the lexical
index without tokenizing the code again. The manifest (JSON) maps each path to its (mtime,
size, content hash), so a warm start only stats files and reads their values, hundreds per
query (and only text kept inline: a value diskcache would unpickle is never read back).

A store that cannot be opened (corrupt database, unreadable folder) is moved aside as
``*.corrupt-<time>`` and a fresh one started; if even that fails the index runs in memory
only. Both are logged once; the index never fails because of its cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import attrs
import diskcache
from diskcache.core import MODE_RAW

from codehearth.index.model import Chunk, FileChunks, Import

log = logging.getLogger(__name__)

CHUNKER_VERSION = "3"
MANIFEST_KEY = "manifest:v1"
READ_BATCH = 500
"""Keys per query when reading many values (SQLite allows 999 parameters)."""
INLINE_VALUE_BYTES = 1 << 26
"""Values up to this size stay in the database (diskcache's default puts values over 32 KiB
in a file each, one more open, write and fsync per file)."""


@attrs.frozen
class ManifestEntry:
    mtime_ns: int
    size: int
    content_hash: str


def user_cache_home() -> Path:
    """``$XDG_CACHE_HOME``, else ``~/.cache``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def default_cache_root() -> Path:
    return user_cache_home() / "codehearth"


def workspace_key(root: Path) -> str:
    """A stable folder name for a workspace: its name plus a hash of its absolute path."""
    digest = hashlib.sha256(str(root.resolve()).encode("utf-8")).hexdigest()[:16]
    return f"{root.name or 'root'}-{digest}"


class IndexStore:
    """Persisted chunks, their BM25 term counts and the manifest of one workspace; every
    method is best effort."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache, self.problem = open_cache(folder, "index")
        if self.problem:
            log.warning("%s; the index stays in memory only", self.problem)

    @classmethod
    def for_workspace(cls, root: Path, cache_root: Path | None = None) -> IndexStore:
        return cls((cache_root or default_cache_root()) / "index" / workspace_key(root))

    @property
    def persistent(self) -> bool:
        return self._cache is not None

    def close(self) -> None:
        cache, self._cache = self._cache, None
        if cache is not None:
            cache.close()

    def _get(self, key: str) -> str | None:
        cache = self._cache  # (once: another thread may disable the store meanwhile)
        if cache is None:
            return None
        try:
            value = cache.get(key)
        except (sqlite3.Error, OSError, diskcache.Timeout) as error:
            log.debug("index cache read failed for %s: %s", key, error)
            return None
        return value if isinstance(value, str) else None

    def _set_many(self, items: Iterable[tuple[str, str]]) -> None:
        """Write (key, text) pairs in one transaction."""
        cache = self._cache  # (once: another thread may disable the store meanwhile)
        if cache is None:
            return
        try:
            with cache.transact(retry=True):
                for key, text in items:
                    try:
                        cache.set(key, text, retry=True)
                    except UnicodeEncodeError:  # a buffer with lone surrogates: not kept
                        log.debug("index cache cannot keep %s: not UTF-8", key)
        except (sqlite3.Error, OSError, diskcache.Timeout) as error:
            self._disable(f"index cache write failed ({error})")

    def _disable(self, problem: str) -> None:
        if self.problem is None:
            self.problem = problem
            log.warning("%s; the index stays in memory only", problem)
        self.close()

    def load_chunks(
        self, content_hash: str, language_id: str, path: str | None = None
    ) -> FileChunks | None:
        """Chunks for this content parsed as this language (the same bytes chunk
        differently as JavaScript and TypeScript), at ``path`` (default: the path they
        were saved from)."""
        encoded = self._get(_chunks_key(content_hash, language_id))
        return decode_chunks(encoded, path) if encoded is not None else None

    def load_many(self, wanted: Sequence[tuple[str, str, str]]) -> list[FileChunks | None]:
        """:meth:`load_chunks` for many (content hash, language, path) triples, read with
        a few queries instead of one per file (what a warm start does)."""
        keys = [_chunks_key(digest, language) for digest, language, _ in wanted]
        values = self._get_many(keys)
        return [
            decode_chunks(values[key], path) if key in values else None
            for key, (_, _, path) in zip(keys, wanted, strict=True)
        ]

    def _get_many(self, keys: list[str]) -> dict[str, str]:
        """The text values of these keys, from diskcache's table directly (it has no bulk
        read): only values kept inline as text, which is how this store writes them."""
        cache = self._cache  # (once: another thread may disable the store meanwhile)
        if cache is None:
            return {}
        found: dict[str, str] = {}
        try:
            for start in range(0, len(keys), READ_BATCH):
                batch = keys[start : start + READ_BATCH]
                marks = ",".join("?" * len(batch))
                rows = cache._sql(
                    f"SELECT key, value FROM Cache WHERE raw = 1 AND mode = {MODE_RAW}"
                    f" AND key IN ({marks})",
                    batch,
                ).fetchall()
                found.update((key, value) for key, value in rows if isinstance(value, str))
        except (sqlite3.Error, OSError) as error:
            log.debug("index cache read failed: %s", error)
        return found

    def load_terms_many(self, wanted: Sequence[tuple[str, str]], version: str) -> list[str | None]:
        """The :func:`encode_terms` texts saved for these (content hash, language) pairs by
        :meth:`save_terms` with this terms ``version`` (None where there is none)."""
        keys = [_terms_key(digest, language, version) for digest, language in wanted]
        values = self._get_many(keys)
        return [values.get(key) for key in keys]

    def save_terms(self, encoded: Iterable[tuple[str, str, str]], version: str) -> None:
        """Save (content hash, language, :func:`encode_terms` text) triples in one
        transaction, for this terms ``version`` (the tokenizer's: a new one never reads
        the counts of an old one)."""
        self._set_many(
            (_terms_key(digest, language, version), text) for digest, language, text in encoded
        )

    def save_chunks(self, chunks: FileChunks) -> None:
        self.save_encoded([(chunks.content_hash, chunks.language_id, encode_chunks(chunks))])

    def save_encoded(self, encoded: Iterable[tuple[str, str, str]]) -> None:
        """Save (content hash, language, :func:`encode_chunks` text) triples in one
        transaction."""
        self._set_many((_chunks_key(digest, language), text) for digest, language, text in encoded)

    def load_manifest(self) -> dict[str, ManifestEntry]:
        try:
            data = json.loads(self._get(MANIFEST_KEY) or "{}")
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        manifest: dict[str, ManifestEntry] = {}
        for path, entry in data.items():
            if isinstance(entry, list) and len(entry) == 3:
                manifest[path] = ManifestEntry(int(entry[0]), int(entry[1]), str(entry[2]))
        return manifest

    def save_manifest(self, manifest: dict[str, ManifestEntry]) -> None:
        data = {path: [e.mtime_ns, e.size, e.content_hash] for path, e in manifest.items()}
        self._set_many([(MANIFEST_KEY, json.dumps(data, separators=(",", ":")))])


def encode_chunks(chunks: FileChunks) -> str:
    """A file's chunks as the text the store keeps (and pool workers send): a JSON header
    line ``[path, language_id, content_hash, imports, chunks, names]``, each import
    ``[module, names]`` and each chunk ``[start_line, end_line, symbol, kind, text length,
    skeleton length, defines count, references count, parent]``, then the chunks' texts
    and skeletons one after the other, unescaped (a skeleton that is the text, as a
    class's or a module chunk's, has a null length and is not repeated). ``names`` are
    every chunk's defines then references, in chunk order, as one string of lines (which
    JSON decodes many times faster than a list of strings), or as a list when there are
    none or a name holds a line break."""
    texts: list[str] = []
    names: list[str] = []
    rows = []
    for chunk in chunks.chunks:
        texts.append(chunk.text)
        skeleton_length = None
        if chunk.skeleton != chunk.text:
            texts.append(chunk.skeleton)
            skeleton_length = len(chunk.skeleton)
        names += chunk.defines
        names += chunk.references
        rows.append(
            [
                chunk.start_line,
                chunk.end_line,
                chunk.symbol,
                chunk.kind,
                len(chunk.text),
                skeleton_length,
                len(chunk.defines),
                len(chunk.references),
                chunk.parent,
            ]
        )
    lines = "\n".join(names)
    packed: str | list[str] = lines if names and lines.count("\n") == len(names) - 1 else names
    imports = [[item.module, item.names] for item in chunks.imports]
    header = [chunks.path, chunks.language_id, chunks.content_hash, imports, rows, packed]
    return json.dumps(header, separators=(",", ":")) + "\n" + "".join(texts)


def decode_chunks(encoded: str, path: str | None = None) -> FileChunks | None:
    """The chunks of an :func:`encode_chunks` text, at ``path`` (default: the path they
    were encoded at, so identical content at another path is reused as is); None for
    anything else."""
    try:
        # (the texts are sliced from ``encoded`` itself: no copy of them all first)
        offset = encoded.index("\n") + 1
        own_path, language_id, content_hash, imports, rows, packed = json.loads(encoded[:offset])
        # Interned: a name recurs in many chunks and files (a warm start of 5,000 files
        # decodes 1.5 million names, 46,000 of them distinct), and each chunk holding its
        # own copies took a fifth of the index's memory (for the process's life on Python
        # 3.12+: bounded by the workspace's vocabulary).
        names = list(map(sys.intern, packed.split("\n") if isinstance(packed, str) else packed))
        path = path or own_path
        chunks: list[Chunk] = []
        add = chunks.append
        taken = 0
        for start, end, symbol, kind, length, skeleton_length, defined, used, parent in rows:
            text = encoded[offset : offset + length]
            offset += length
            skeleton = text
            if skeleton_length is not None:
                skeleton = encoded[offset : offset + skeleton_length]
                offset += skeleton_length
            defines = tuple(names[taken : taken + defined])
            taken += defined
            references = tuple(names[taken : taken + used])
            taken += used
            add(
                Chunk(
                    path,
                    language_id,
                    start,
                    end,
                    symbol,
                    kind,
                    text,
                    skeleton,
                    defines,
                    references,
                    parent,
                )
            )
        if offset != len(encoded) or taken != len(names):
            return None
        return FileChunks(
            path,
            language_id,
            content_hash,
            tuple(chunks),
            tuple(Import(module, tuple(imported)) for module, imported in imports),
        )
    except (TypeError, ValueError):
        return None


def encode_terms(chunks: FileChunks, counts: Sequence[Mapping[str, int]]) -> str | None:
    """The BM25 term frequencies of a file's chunks, in chunk order, as text: a line saying
    which chunks they count (:func:`_terms_fingerprint`), a line of each chunk's number of
    terms, a line of all the frequencies, then the terms one per line (split at once, many
    times faster than JSON). None when a term holds a line break (the tokenizer makes
    none)."""
    terms = "\n".join(term for chunk in counts for term in chunk)
    total = sum(map(len, counts))
    if total and terms.count("\n") != total - 1:
        return None
    sizes = " ".join(map(str, map(len, counts)))
    frequencies = " ".join(str(frequency) for chunk in counts for frequency in chunk.values())
    return f"{_terms_fingerprint(chunks)}\n{sizes}\n{frequencies}\n{terms}"


def decode_terms(encoded: str, chunks: FileChunks) -> list[dict[str, int]] | None:
    """The term frequencies of an :func:`encode_terms` text for these chunks; None for
    anything else: counts of other chunks of the same content (chunked as plain line
    windows when parsing overran its deadline, or the other way round), a damaged value."""
    try:
        fingerprint, size_line, frequency_line, names = encoded.split("\n", 3)
        sizes = list(map(int, size_line.split()))
        frequencies = list(map(int, frequency_line.split()))
    except ValueError:
        return None
    if fingerprint != _terms_fingerprint(chunks):
        return None
    # Interned: the BM25 index keeps each document's terms, and the same words recur in
    # every file, so documents share one string each instead of holding copies (for the
    # process's life on Python 3.12+: bounded by the workspace's vocabulary).
    terms = list(map(sys.intern, names.split("\n"))) if names else []
    if (
        len(sizes) != len(chunks.chunks)
        or len(frequencies) != len(terms)
        or sum(sizes) != len(terms)
        or (sizes and min(sizes) < 0)
        or (frequencies and min(frequencies) < 1)
    ):
        return None
    counts = []
    start = 0
    for size in sizes:
        end = start + size
        counts.append(dict(zip(terms[start:end], frequencies[start:end], strict=True)))
        start = end
    return counts


def _terms_fingerprint(chunks: FileChunks) -> str:
    """What a chunk's terms are made of, summed over the file's chunks: their number, text
    lengths, defines and references. Content chunked two ways gives two fingerprints."""
    items = chunks.chunks
    texts = sum(len(chunk.text) for chunk in items)
    defines = sum(len(chunk.defines) for chunk in items)
    references = sum(len(chunk.references) for chunk in items)
    return f"{len(items)} {texts} {defines} {references}"


def _chunks_key(content_hash: str, language_id: str) -> str:
    return f"chunks:{CHUNKER_VERSION}:{language_id}:{content_hash}"


def _terms_key(content_hash: str, language_id: str, version: str) -> str:
    return f"terms:{CHUNKER_VERSION}:{version}:{language_id}:{content_hash}"


def open_cache(folder: Path, what: str) -> tuple[diskcache.Cache | None, str | None]:
    """Open (or create) the integrity-checked cache in ``folder``. An unusable one is moved
    aside (``*.corrupt-<time>``) and a fresh one started; when even that fails the answer
    is ``(None, problem)`` and the caller works in memory."""
    try:
        return _open_checked(folder), None
    except (sqlite3.DatabaseError, OSError, diskcache.Timeout) as error:
        aside = folder.with_name(f"{folder.name}.corrupt-{int(time.time())}")
        try:
            if folder.exists():
                shutil.move(str(folder), str(aside))
            fresh = _open_checked(folder)
        except (sqlite3.DatabaseError, OSError, diskcache.Timeout) as second:
            return None, f"{what} cache disabled: {second}"  # the caller says so, once
        log.warning(
            "%s cache at %s was unusable (%s); moved aside to %s", what, folder, error, aside
        )
        return fresh, None


def _open_checked(folder: Path) -> diskcache.Cache:
    folder.mkdir(parents=True, exist_ok=True)
    cache = diskcache.Cache(
        str(folder), eviction_policy="none", timeout=5, disk_min_file_size=INLINE_VALUE_BYTES
    )
    try:
        row = cache._sql("PRAGMA quick_check").fetchone()
    except sqlite3.DatabaseError:
        cache.close()
        raise
    if not row or row[0] != "ok":
        cache.close()
        raise sqlite3.DatabaseError(f"integrity check failed: {row}")
    return cache
