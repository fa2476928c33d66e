"""Data the index is made of: chunks of code per definition, and a file's imports.

Plain frozen attrs classes; :mod:`codehearth.index.store` writes them as text (never
pickle), to persist them and to send them between processes.
Lines are 0-based and ``end_line`` is inclusive.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Chunk:
    """One definition (function, method, class, ...) or a file's module-level code.

    ``symbol`` is the defined name (``Class.method`` for methods, ``""`` for a header
    chunk); ``kind`` is ``function``, ``method``, ``class``, ``interface``, ``type``,
    ``module`` (the header) or ``part`` (a slice of an oversized definition).
    ``skeleton`` is the signature and docstring with the body elided in the language's
    own placeholder; ``defines`` the identifiers it defines, ``references`` those it uses.
    """

    path: str
    language_id: str
    start_line: int
    end_line: int
    symbol: str
    kind: str
    text: str
    skeleton: str
    defines: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    parent: str = ""


@attrs.frozen
class Import:
    """One import: the module path as written and the names taken from it (if any)."""

    module: str
    names: tuple[str, ...] = ()


@attrs.frozen
class FileChunks:
    """Everything the index knows about one file version."""

    path: str
    language_id: str
    content_hash: str
    chunks: tuple[Chunk, ...]
    imports: tuple[Import, ...] = ()
