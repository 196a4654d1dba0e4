"""The filesystem's ObjectReader: bytes of the version it opened, streamed or (``read_small``) in one read."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smarts3.adapters.storage.filesystem.reader import FileObjectReader
from smarts3.domain.models import ByteRange, ObjectInfo
from smarts3.testing.contract.helpers import read_all


def _reader(tmp_path: Path, data: bytes) -> FileObjectReader:
    path = tmp_path / "object"
    path.write_bytes(data)
    info = ObjectInfo(key="k", size=len(data), etag="e", last_modified=datetime.now(UTC))
    return FileObjectReader(info, os.open(path, os.O_RDONLY), str(path))


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize(
    ("data", "byte_range", "expected"),
    [
        (b"hello world", None, b"hello world"),
        (b"hello world", ByteRange(6, 10), b"world"),
        (b"hello world", ByteRange(0, 0), b"h"),
        (b"", None, b""),
    ],
)
async def test_read_small_returns_what_the_stream_would_and_closes(
    tmp_path: Path, data: bytes, byte_range: ByteRange | None, expected: bytes
) -> None:
    streamed = await read_all(_reader(tmp_path, data), byte_range)
    before = _open_fds()
    reader = _reader(tmp_path, data)
    assert reader.read_small(byte_range) == streamed == expected
    assert _open_fds() == before  # its descriptor is closed
    assert reader.read_small(byte_range) == b""  # and it reads nothing more
    await reader.aclose()  # closing again is harmless


async def test_a_reader_keeps_the_bytes_it_opened_when_the_file_is_replaced(tmp_path: Path) -> None:
    reader = _reader(tmp_path, b"old bytes")
    replacement = tmp_path / "new"
    replacement.write_bytes(b"new bytes, longer")
    os.replace(replacement, tmp_path / "object")
    assert reader.read_small() == b"old bytes"
