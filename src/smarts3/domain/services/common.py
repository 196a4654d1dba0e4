"""Small pieces the services share: system clock, id generator, limits, versioning lookup."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import attrs

from smarts3.domain.models import VersioningStatus
from smarts3.domain.ports import BucketStore


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class TimeOrderedIds:
    """Opaque ids that sort by creation time: 16 hex digits of nanoseconds, then 16 random ones."""

    def __init__(self) -> None:
        self._last = 0

    def new_id(self) -> str:
        now = time.time_ns()
        if now <= self._last:
            now = self._last + 1
        self._last = now
        return f"{now:016x}{os.urandom(8).hex()}"


@attrs.frozen
class Limits:
    max_object_size: int = 5 * 1024**4
    max_metadata_size: int = 2048
    max_key_length: int = 1024
    min_part_size: int = 5 * 1024 * 1024
    max_parts: int = 10000
    max_tags: int = 10


VERSIONING_KIND = "versioning"


async def bucket_versioning(store: BucketStore, bucket: str) -> VersioningStatus | None:
    """The bucket's versioning state: None when it was never enabled. NoSuchBucket if absent."""
    document = await store.get_bucket_config(bucket, VERSIONING_KIND)
    if document is None:
        return None
    status = document.decode("ascii", "replace").strip()
    if status == "Enabled":
        return "Enabled"
    if status == "Suspended":
        return "Suspended"
    return None


class NullDigest:
    """A digest that ignores its input, for writes whose hashes are already known (multipart complete).

    ``wants_bytes = False`` tells storage it may copy without passing the bytes through Python."""

    wants_bytes = False

    def update(self, chunk: bytes) -> None:
        return None
