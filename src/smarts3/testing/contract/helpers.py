"""Building blocks for contract tests (and a third party's own adapter tests): bodies, digests, builds.

``Md5Digest`` + ``md5_build`` are the simplest honest pair a storage call needs: the digest sees every chunk,
and the build turns it into a ``NewObject`` whose ETag is the MD5 of what storage received.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from smarts3.domain.errors import BadDigest, PreconditionFailed
from smarts3.domain.models import NewObject, ObjectInfo, PartInfo, UploadInfo, VersioningStatus
from smarts3.domain.ports import BuildObject, ObjectReader, StorageBackend, WriteCondition

#: a fixed instant the kit uses for upload initiation times; storage never compares it with its own clock
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


class Md5Digest:
    """A ``BodyDigest`` that hashes with MD5 and remembers the chunks it saw (for order/size assertions)."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5()
        self.chunks: list[bytes] = []

    def update(self, chunk: bytes) -> None:
        self._md5.update(chunk)
        self.chunks.append(bytes(chunk))

    @property
    def received(self) -> bytes:
        return b"".join(self.chunks)

    def hexdigest(self) -> str:
        return self._md5.hexdigest()


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class Md5Build:
    """A ``BuildObject`` returning ``NewObject(etag=<md5 the digest saw>, **fields)``; records each size."""

    def __init__(self, digest: Md5Digest, **fields: Any) -> None:
        self._digest = digest
        self._fields = fields
        self.sizes: list[int] = []

    def __call__(self, size: int) -> NewObject:
        self.sizes.append(size)
        return NewObject(etag=self._digest.hexdigest(), **self._fields)


def md5_build(digest: Md5Digest, **fields: Any) -> Md5Build:
    return Md5Build(digest, **fields)


def failing_build(error: Exception | None = None) -> BuildObject:
    """A build that refuses the body, as the domain does on a Content-MD5 mismatch."""

    def build(size: int) -> NewObject:
        raise error if error is not None else BadDigest()

    return build


def part_build(digest: Md5Digest, part_number: int) -> Callable[[int], PartInfo]:
    def build(size: int) -> PartInfo:
        return PartInfo(part_number=part_number, size=size, etag=digest.hexdigest(), last_modified=EPOCH)

    return build


def refuse(info: ObjectInfo | None) -> None:
    """A write condition that always fails."""
    raise PreconditionFailed()


def only_if_absent(info: ObjectInfo | None) -> None:
    """``If-None-Match: *``: refuse when an object exists."""
    if info is not None:
        raise PreconditionFailed()


async def body(data: bytes, chunk_size: int = 7) -> AsyncIterator[bytes]:
    """An async body yielding ``data`` in small chunks (small by default so adapters see several)."""
    for offset in range(0, len(data), chunk_size):
        yield data[offset : offset + chunk_size]


async def chunks(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def put(
    storage: StorageBackend,
    bucket: str,
    key: str,
    data: bytes,
    *,
    condition: WriteCondition | None = None,
    versioning: VersioningStatus | None = None,
    version_id: str | None = None,
    **fields: Any,
) -> ObjectInfo:
    """Write ``data`` with an MD5 ETag; ``fields`` go into the NewObject (headers, user_metadata, tags ...)."""
    digest = Md5Digest()
    return await storage.write_object(
        bucket,
        key,
        body(data),
        digest=digest,
        build=md5_build(digest, **fields),
        condition=condition,
        versioning=versioning,
        version_id=version_id,
    )


async def read_all(reader: ObjectReader, byte_range: Any = None, chunk_size: int = 1 << 20) -> bytes:
    """Every byte a reader yields (closing it afterwards)."""
    try:
        return b"".join([chunk async for chunk in reader.iter_bytes(byte_range, chunk_size)])
    finally:
        await reader.aclose()


async def get(storage: StorageBackend, bucket: str, key: str, version_id: str | None = None) -> bytes:
    return await read_all(await storage.open_object(bucket, key, version_id))


async def put_part(
    storage: StorageBackend, bucket: str, key: str, upload_id: str, part_number: int, data: bytes
) -> PartInfo:
    digest = Md5Digest()
    return await storage.write_part(
        bucket,
        key,
        upload_id,
        part_number,
        body(data),
        digest=digest,
        build=part_build(digest, part_number),
        size=len(data),
    )


def upload_info(bucket: str, key: str, upload_id: str, *, initiated_offset: float = 0.0) -> UploadInfo:
    """An UploadInfo initiated ``initiated_offset`` seconds after ``EPOCH``."""
    return UploadInfo(
        bucket=bucket, key=key, upload_id=upload_id, initiated=EPOCH + timedelta(seconds=initiated_offset)
    )


async def enable_versioning(
    storage: StorageBackend, bucket: str, status: VersioningStatus = "Enabled"
) -> None:
    """Record the bucket's versioning state the way the domain does (the ``versioning`` config document)."""
    await storage.put_bucket_config(bucket, "versioning", status.encode("ascii"))


__all__ = [
    "EPOCH",
    "Md5Build",
    "Md5Digest",
    "body",
    "chunks",
    "enable_versioning",
    "failing_build",
    "get",
    "md5_build",
    "md5_hex",
    "only_if_absent",
    "part_build",
    "put",
    "put_part",
    "read_all",
    "refuse",
    "upload_info",
]
