"""LSP base-protocol framing that never goes deaf: headers in, message bodies out.

pygls 2.1 accepts exactly ``Content-Length: N\\r\\n`` and reads ``N`` bytes unbounded, so a
lowercase header, LF-only line ends or a huge length desynchronise or kill the server.
:class:`FrameReader` reads header blocks case-insensitively, tolerates LF-only lines and
stray whitespace, caps ``Content-Length`` (64 MiB by default) and, when a frame is bad,
reports it and resynchronises on the next ``Content-Length`` header instead of stopping
(an oversized body is skipped as it streams by, never buffered).

It reads through a ``read(n) -> bytes`` function (e.g. ``os.read`` on the stdin file
descriptor) and keeps its own buffer, so a reader thread blocked in it holds no Python
lock and cannot hang interpreter shutdown. Pure Python, no pygls.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import attrs

MAX_CONTENT_LENGTH = 64 * 1024 * 1024
MAX_HEADER_LINE = 8192
READ_SIZE = 65536
_HEADER = re.compile(rb"^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*?)[ \t]*\r?$")
_CONTENT_LENGTH = re.compile(rb"content-length[ \t]*:", re.IGNORECASE)


@attrs.frozen
class Frame:
    """One message body, as sent."""

    body: bytes


@attrs.frozen
class FrameError:
    """A frame that could not be read; ``reason`` is safe to log (no payload)."""

    reason: str


class FrameReader:
    """Iterates over the frames of a byte stream until it ends."""

    def __init__(self, read: Callable[[int], bytes], max_length: int = MAX_CONTENT_LENGTH) -> None:
        self._read = read
        self.max_length = max_length
        self._buffer = bytearray()
        self._eof = False

    def __iter__(self) -> Iterator[Frame | FrameError]:
        while True:
            headers = self._read_headers()
            if headers is None:
                return
            raw_length = headers.get(b"content-length")
            if raw_length is None:
                yield FrameError("header block without Content-Length")
                continue
            try:
                length = int(raw_length)
            except ValueError:
                yield FrameError("Content-Length is not a number")
                continue
            if length < 0:
                yield FrameError("negative Content-Length")
                continue
            if length > self.max_length:
                yield FrameError(
                    f"message of {length} bytes is over the {self.max_length}-byte limit"
                )
                continue
            body = self._take(length)
            if body is None:
                return
            yield Frame(body)

    # -- buffer ----------------------------------------------------------------------

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = self._read(READ_SIZE)
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        return True

    def _line(self) -> bytes | None:
        """The next line without its newline (cut at MAX_HEADER_LINE); None at the end."""
        while True:
            newline = self._buffer.find(b"\n", 0, MAX_HEADER_LINE)
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                return line
            if len(self._buffer) >= MAX_HEADER_LINE:
                line = bytes(self._buffer[:MAX_HEADER_LINE])
                del self._buffer[:MAX_HEADER_LINE]
                return line
            if not self._fill():
                if not self._buffer:
                    return None
                line = bytes(self._buffer)
                self._buffer.clear()
                return line

    def _take(self, length: int) -> bytes | None:
        while len(self._buffer) < length:
            if not self._fill():
                return None
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        return body

    # -- headers ---------------------------------------------------------------------

    def _read_headers(self) -> dict[bytes, bytes] | None:
        """The next header block, skipping anything that is not a header line."""
        headers: dict[bytes, bytes] = {}
        while True:
            line = self._line()
            if line is None:
                return None
            if line.strip() == b"":
                if headers:
                    return headers
                continue  # blank lines between frames are harmless
            found = _CONTENT_LENGTH.search(line)
            if found is not None and found.start() > 0:
                # The tail of a skipped body glued to the next header: resynchronise.
                line = line[found.start() :]
                headers.clear()
            match = _HEADER.match(line)
            if match is None:
                headers.clear()  # garbage: wait for the next header line
                continue
            headers[match.group(1).lower()] = match.group(2)
