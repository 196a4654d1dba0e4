"""ObjectReader over an open file descriptor: the bytes always belong to the version that was opened, because
a concurrent replace renames a new inode over the path and never touches ours."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

from smarts3.domain.models import ByteRange, ObjectInfo

#: reads up to this size run inline on the event loop (a thread hop costs more than a page-cache read)
INLINE_READ = 64 * 1024
MAX_HOP = 1 << 20


class FileObjectReader:
    def __init__(self, info: ObjectInfo, fd: int | None, path: str | None) -> None:
        self._info = info
        self._fd = fd
        #: the data file's path, for zero-copy senders (sendfile); None for delete markers/empty
        self.path = path

    @property
    def info(self) -> ObjectInfo:
        return self._info

    async def iter_bytes(
        self, byte_range: ByteRange | None = None, chunk_size: int = 1 << 20
    ) -> AsyncIterator[bytes]:
        try:
            fd = self._fd
            if fd is None:
                return
            start, end = (
                (0, self._info.size - 1) if byte_range is None else (byte_range.start, byte_range.end)
            )
            remaining = end - start + 1
            offset = start
            chunk_size = max(1, chunk_size)
            if remaining <= INLINE_READ:
                while remaining > 0:
                    data = os.pread(fd, min(chunk_size, remaining), offset)
                    if not data:
                        return
                    offset += len(data)
                    remaining -= len(data)
                    yield data
                return
            hop = min(chunk_size, MAX_HOP)
            while remaining > 0:
                data = await asyncio.to_thread(os.pread, fd, min(hop, remaining), offset)
                if not data:
                    return  # the file was truncated behind our back; stop rather than loop
                offset += len(data)
                remaining -= len(data)
                yield data
        finally:
            await self.aclose()

    def read_small(self, byte_range: ByteRange | None = None) -> bytes:
        """The body (or range) in one ``pread``, then closed: an optional capability the HTTP edge uses for
        bodies it knows are small (at most INLINE_READ), where an async generator cost more than the read."""
        try:
            fd = self._fd
            if fd is None:
                return b""
            start, end = (
                (0, self._info.size - 1) if byte_range is None else (byte_range.start, byte_range.end)
            )
            return os.pread(fd, end - start + 1, start) if end >= start else b""
        finally:
            fd, self._fd = self._fd, None
            if fd is not None:
                os.close(fd)

    async def aclose(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)
