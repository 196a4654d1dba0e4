"""Ports: the protocols the domain services depend on. Adapters implement them; services never see adapters.

The storage port is shaped by what S3 needs from a disk, not by HTTP:

* writes are *streamed then committed*: the adapter consumes an async body, calls ``digest.update`` on every
  chunk (in whatever thread does the write, so hashing rides along with I/O), then calls ``build(size)`` to get
  the final metadata (the domain verifies Content-MD5/checksums there and may raise), then commits atomically
  after evaluating ``condition`` against the current object under a lock that holds across processes;
* every write and delete says how the bucket's versioning is set, so the adapter knows whether to archive the
  previous version, replace the ``null`` version, or simply replace;
* reads open a consistent snapshot (metadata and bytes of one version) that a concurrent replace cannot tear.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from smarts3.domain.models import (
    BucketInfo,
    ByteRange,
    DeleteOutcome,
    ListPage,
    ListQuery,
    NewObject,
    ObjectInfo,
    PartInfo,
    UploadInfo,
    VersioningStatus,
    VersionListPage,
    VersionListQuery,
)


class BodyDigest(Protocol):
    """Receives every chunk of a body as it is written (MD5, SHA-256, CRCs ...).

    A digest whose ``wants_bytes`` attribute is False does not need them (storage may then copy in the kernel).
    """

    def update(self, chunk: bytes) -> None: ...


#: Evaluated by storage under the key's lock with the current latest version (None when absent).
#: Raises PreconditionFailed (or another S3Error) to refuse the write.
WriteCondition = Callable[[ObjectInfo | None], None]

#: Called by storage once the body is fully written, with the byte count; returns what to persist.
#: May raise an S3Error (BadDigest, EntityTooSmall ...): storage then discards the data and stores nothing.
BuildObject = Callable[[int], NewObject]


@runtime_checkable
class ObjectReader(Protocol):
    """An open object version. Bytes read from it always belong to ``info``, whatever writers do meanwhile."""

    @property
    def info(self) -> ObjectInfo: ...

    def iter_bytes(
        self, byte_range: ByteRange | None = None, chunk_size: int = 1 << 20
    ) -> AsyncIterator[bytes]:
        """Yield the object's bytes (or the range) in chunks of at most ``chunk_size``; closes when done."""
        ...

    async def aclose(self) -> None: ...


class BucketStore(Protocol):
    async def create_bucket(self, name: str, *, region: str, object_lock: bool = False) -> BucketInfo:
        """Create a bucket; BucketAlreadyOwnedByYou if it exists."""
        ...

    async def delete_bucket(self, name: str) -> None:
        """Delete an empty bucket: BucketNotEmpty if it holds objects or versions (delete markers count).
        Multipart uploads in progress do not keep it: they are deleted with it, as S3 does."""
        ...

    async def get_bucket(self, name: str) -> BucketInfo:
        """NoSuchBucket if absent."""
        ...

    async def list_buckets(self) -> Sequence[BucketInfo]:
        """All buckets, sorted by name."""
        ...

    async def get_bucket_config(self, name: str, kind: str) -> bytes | None:
        """An opaque per-bucket document (``versioning``, ``cors``, ``tagging``, ``lifecycle``, ``object-lock``,
        ``policy`` ...), or None when unset. NoSuchBucket if the bucket is absent."""
        ...

    async def put_bucket_config(self, name: str, kind: str, document: bytes | None) -> None:
        """Store (or with None, remove) a per-bucket document atomically."""
        ...


class ObjectStore(Protocol):
    async def write_object(
        self,
        bucket: str,
        key: str,
        body: AsyncIterator[bytes],
        *,
        digest: BodyDigest,
        build: BuildObject,
        condition: WriteCondition | None = None,
        versioning: VersioningStatus | None = None,
        version_id: str | None = None,
    ) -> ObjectInfo:
        """Stream ``body`` into a new version of ``key`` and make it the latest, atomically.

        ``versioning`` is the bucket's state: None (never enabled: replace), "Enabled" (archive the previous
        latest; the new version gets ``version_id``), "Suspended" (the new version is "null"; archive the previous
        latest unless it is the null version, which is replaced). Until this returns, readers see the previous
        state; on any failure nothing of the new body remains.
        """
        ...

    async def open_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectReader:
        """Open the latest version (or ``version_id``). NoSuchKey / NoSuchVersion / NoSuchBucket.

        A latest version that is a delete marker raises NoSuchKey with ``x-amz-delete-marker: true``;
        a delete marker addressed by id raises MethodNotAllowed with that header.
        """
        ...

    async def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        """Same errors as ``open_object``, without opening the bytes."""
        ...

    async def delete_object(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        versioning: VersioningStatus | None = None,
        marker_version_id: str | None = None,
        condition: WriteCondition | None = None,
    ) -> DeleteOutcome:
        """Delete as S3 does: by version id, the version is removed for good (the previous becomes latest);
        without one, never-versioned buckets remove the object (idempotent), enabled buckets add a delete marker
        with ``marker_version_id``, suspended buckets add a "null" delete marker replacing the null version."""
        ...

    async def update_object(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        change: Callable[[ObjectInfo], ObjectInfo],
    ) -> ObjectInfo:
        """Rewrite one version's metadata (tags, retention, legal hold) atomically; the bytes are untouched."""
        ...

    async def list_objects(self, bucket: str, query: ListQuery) -> ListPage:
        """Latest non-deleted versions in UTF-8 binary key order, grouped by delimiter, at most max_keys entries
        (objects plus common prefixes). Must not read the version store."""
        ...

    async def list_versions(self, bucket: str, query: VersionListQuery) -> VersionListPage:
        """All versions and delete markers, keys ascending, newest first within a key."""
        ...


class MultipartStore(Protocol):
    async def create_upload(self, upload: UploadInfo) -> None:
        """Persist a new upload (the domain chose its id). NoSuchBucket if the bucket is absent."""
        ...

    async def get_upload(self, bucket: str, key: str, upload_id: str) -> UploadInfo:
        """NoSuchUpload if unknown, completed or aborted."""
        ...

    async def write_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        body: AsyncIterator[bytes],
        *,
        digest: BodyDigest,
        build: Callable[[int], PartInfo],
        size: int | None = None,
    ) -> PartInfo:
        """Stream a part; replaces an earlier part with the same number atomically. Parallel parts of one
        upload never block each other. ``size``: the body's declared size when known (Content-Length), a hint
        an adapter may use to place the part (the filesystem writes it where the object will need it); the body
        is checked against it by the caller, and an adapter must never trust it for more than placement."""
        ...

    async def list_parts(self, bucket: str, key: str, upload_id: str) -> Sequence[PartInfo]:
        """Every uploaded part, ascending by part number."""
        ...

    async def list_uploads(self, bucket: str) -> Sequence[UploadInfo]:
        """Every upload in progress in the bucket, sorted by (key, initiated, upload id)."""
        ...

    async def complete_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: Sequence[PartInfo],
        *,
        digest: BodyDigest,
        build: BuildObject,
        condition: WriteCondition | None = None,
        versioning: VersioningStatus | None = None,
        version_id: str | None = None,
    ) -> ObjectInfo:
        """Concatenate ``parts`` (already validated by the domain) into the object, then commit it exactly like
        ``write_object`` and forget the upload. Never reads the object into memory."""
        ...

    async def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        """Forget the upload and its parts. NoSuchUpload if unknown."""
        ...

    async def expire_uploads(self, initiated_before: datetime) -> int:
        """Abort every upload initiated before the instant; returns how many."""
        ...


class StorageBackend(BucketStore, ObjectStore, MultipartStore, Protocol):
    """Everything a storage adapter implements. See ``smarts3.testing.contract`` for the executable spec."""

    async def start(self) -> None:
        """Prepare storage for serving: create folders, remove leftovers of interrupted writes."""
        ...

    async def close(self) -> None: ...

    async def check_ready(self) -> None:
        """Raise an S3Error (e.g. InsufficientStorage) if storage cannot be read and written right now."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> str:
        """An opaque, URL-safe identifier, unique and increasing in time (version ids, upload ids)."""
        ...
