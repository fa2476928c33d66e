"""Data the index is made of: chunks of code per definition, and a file's imports.

Plain frozen attrs classes that round-trip through JSON (``to_json``/``from_json``), so
they can be persisted in diskcache without pickle and sent between processes.
Lines are 0-based and ``end_line`` is inclusive.
"""

from __future__ import annotations

from typing import Any

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

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self, recurse=False, value_serializer=_lists)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        return cls(
            **{**data, "defines": tuple(data["defines"]), "references": tuple(data["references"])}
        )


@attrs.frozen
class Import:
    """One import: the module path as written and the names taken from it (if any)."""

    module: str
    names: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"module": self.module, "names": list(self.names)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Import:
        return cls(module=data["module"], names=tuple(data["names"]))


@attrs.frozen
class FileChunks:
    """Everything the index knows about one file version."""

    path: str
    language_id: str
    content_hash: str
    chunks: tuple[Chunk, ...]
    imports: tuple[Import, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "language_id": self.language_id,
            "content_hash": self.content_hash,
            "chunks": [chunk.to_json() for chunk in self.chunks],
            "imports": [item.to_json() for item in self.imports],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileChunks:
        return cls(
            path=data["path"],
            language_id=data["language_id"],
            content_hash=data["content_hash"],
            chunks=tuple(Chunk.from_json(chunk) for chunk in data["chunks"]),
            imports=tuple(Import.from_json(item) for item in data["imports"]),
        )


def _lists(_instance: Any, _field: Any, value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
