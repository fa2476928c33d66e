"""FrameReader: what the base-protocol framing accepts, rejects and resynchronises on."""

from __future__ import annotations

import io

import pytest

from codehearth.framing import Frame, FrameError, FrameReader


def frames(data: bytes, max_length: int = 1000, read_size: int | None = None) -> list[object]:
    stream = io.BytesIO(data)
    if read_size is None:
        return list(FrameReader(stream.read, max_length))
    return list(FrameReader(lambda _size: stream.read(read_size), max_length))


CASES = [
    pytest.param(b"Content-Length: 2\r\n\r\n{}", [Frame(b"{}")], id="canonical"),
    pytest.param(b"content-length:2\n\n{}", [Frame(b"{}")], id="lowercase-lf-only"),
    pytest.param(
        b"Content-Length:   2  \r\nContent-Type: x\r\n\r\n{}",
        [Frame(b"{}")],
        id="spaces-and-content-type",
    ),
    pytest.param(b"\r\n\r\nContent-Length: 2\r\n\r\n{}", [Frame(b"{}")], id="leading-blank-lines"),
    pytest.param(
        b"Content-Type: x\r\n\r\nContent-Length: 2\r\n\r\n{}",
        [FrameError("header block without Content-Length"), Frame(b"{}")],
        id="missing-length",
    ),
    pytest.param(
        b"Content-Length: two\r\n\r\nContent-Length: 2\r\n\r\n{}",
        [FrameError("Content-Length is not a number"), Frame(b"{}")],
        id="not-a-number",
    ),
    pytest.param(
        b"Content-Length: -1\r\n\r\nContent-Length: 2\r\n\r\n{}",
        [FrameError("negative Content-Length"), Frame(b"{}")],
        id="negative",
    ),
    pytest.param(
        b"Content-Length: 5000\r\n\r\n" + b"x" * 5000 + b"Content-Length: 2\r\n\r\n{}",
        [FrameError("message of 5000 bytes is over the 1000-byte limit"), Frame(b"{}")],
        id="oversized-body-skipped",
    ),
    pytest.param(
        b"garbage\r\n{not a header}\r\nContent-Length: 2\r\n\r\n{}",
        [Frame(b"{}")],
        id="garbage-lines",
    ),
    pytest.param(b"Content-Length: 10\r\n\r\n{}", [], id="truncated-body-at-eof"),
    pytest.param(b"", [], id="empty"),
]


@pytest.mark.parametrize(("data", "expected"), CASES)
def test_frames(data: bytes, expected: list[object]) -> None:
    assert frames(data) == expected


@pytest.mark.parametrize("read_size", [1, 3, 7, 65536])
def test_frames_do_not_depend_on_how_reads_are_cut(read_size: int) -> None:
    data = b"".join(f"Content-Length: {len(b)}\r\n\r\n".encode() + b for b in (b"{}", b"[1,2]"))
    assert frames(data, read_size=read_size) == [Frame(b"{}"), Frame(b"[1,2]")]
