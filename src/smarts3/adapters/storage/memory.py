"""An in-memory ``StorageBackend``: the fast fake the services' unit tests run on, with S3's exact semantics.

It passes the same contract kit (``smarts3.testing.contract``) as the filesystem adapter. Bodies are kept
as immutable ``bytes``, so an open reader is a snapshot for free. Everything runs on one event loop and no
``await`` sits between evaluating a write condition and committing, so check-and-commit needs no lock.
"""

from __future__ import annotations

import bisect
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime

import attrs

from smarts3.domain.errors import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    InvalidObjectName,
    InvalidPart,
    MethodNotAllowed,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    NoSuchVersion,
    ObjectExistsAsDirectory,
    ParentIsObject,
)
from smarts3.domain.listing import common_prefix_of, paginate
from smarts3.domain.models import (
    NULL_VERSION,
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
from smarts3.domain.ports import BodyDigest, BuildObject, Clock, WriteCondition

_DELETE_MARKER_HEADER = "x-amz-delete-marker"


class _UtcClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@attrs.frozen
class _Version:
    """One stored version: its metadata and its bytes (empty for a delete marker)."""

    info: ObjectInfo
    data: bytes = b""


@attrs.define
class _Upload:
    info: UploadInfo
    parts: dict[int, tuple[PartInfo, bytes]] = attrs.field(factory=dict)


@attrs.define
class _Bucket:
    info: BucketInfo
    configs: dict[str, bytes] = attrs.field(factory=dict)
    #: key -> versions, newest first; a key is present only while it has at least one version
    versions: dict[str, list[_Version]] = attrs.field(factory=dict)
    #: every key of ``versions``, kept sorted for listings
    keys: list[str] = attrs.field(factory=list)
    uploads: dict[str, _Upload] = attrs.field(factory=dict)

    def set_versions(self, key: str, versions: list[_Version]) -> None:
        if versions:
            if key not in self.versions:
                bisect.insort(self.keys, key)
            self.versions[key] = versions
        elif key in self.versions:
            del self.versions[key]
            del self.keys[bisect.bisect_left(self.keys, key)]


class MemoryReader:
    """An open version: the bytes are an immutable snapshot, so writers can never tear what it yields."""

    def __init__(self, info: ObjectInfo, data: bytes) -> None:
        self._info = info
        self._data = data

    @property
    def info(self) -> ObjectInfo:
        return self._info

    async def iter_bytes(
        self, byte_range: ByteRange | None = None, chunk_size: int = 1 << 20
    ) -> AsyncIterator[bytes]:
        start, stop = 0, len(self._data)
        if byte_range is not None:
            start, stop = byte_range.start, min(byte_range.end + 1, len(self._data))
        view = memoryview(self._data)
        for offset in range(start, stop, max(chunk_size, 1)):
            yield bytes(view[offset : min(offset + chunk_size, stop)])

    async def aclose(self) -> None:
        return None


def _same_version(stored: str | None, wanted: str) -> bool:
    # Objects written before versioning was first enabled have no id; S3 calls them the "null" version.
    return (stored if stored is not None else NULL_VERSION) == wanted


def _is_null(version: _Version) -> bool:
    return version.info.version_id in (None, NULL_VERSION)


def _check_key(key: str) -> None:
    if "\x00" in key:
        raise InvalidObjectName(resource=key)


def _prefix_successor(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None if there is none)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


class MemoryStorage:
    """Every ``StorageBackend`` operation over plain dicts. One instance is one isolated store."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or _UtcClock()
        self._buckets: dict[str, _Bucket] = {}

    # -- lifecycle -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def check_ready(self) -> None:
        return None

    # -- buckets ---------------------------------------------------------------------------------------------
    def _bucket(self, name: str) -> _Bucket:
        try:
            return self._buckets[name]
        except KeyError:
            raise NoSuchBucket(resource=name, extra={"BucketName": name}) from None

    async def create_bucket(self, name: str, *, region: str, object_lock: bool = False) -> BucketInfo:
        if name in self._buckets:
            raise BucketAlreadyOwnedByYou(resource=name, extra={"BucketName": name})
        info = BucketInfo(
            name=name, created=self._clock.now(), region=region, object_lock_enabled=object_lock
        )
        self._buckets[name] = _Bucket(info=info)
        return info

    async def delete_bucket(self, name: str) -> None:
        bucket = self._bucket(name)
        if bucket.versions:  # uploads in progress go with the bucket, as in S3
            raise BucketNotEmpty(resource=name, extra={"BucketName": name})
        del self._buckets[name]

    async def get_bucket(self, name: str) -> BucketInfo:
        return self._bucket(name).info

    async def list_buckets(self) -> Sequence[BucketInfo]:
        return [self._buckets[name].info for name in sorted(self._buckets)]

    async def get_bucket_config(self, name: str, kind: str) -> bytes | None:
        return self._bucket(name).configs.get(kind)

    async def put_bucket_config(self, name: str, kind: str, document: bytes | None) -> None:
        configs = self._bucket(name).configs
        if document is None:
            configs.pop(kind, None)
        else:
            configs[kind] = bytes(document)

    # -- objects: writes -------------------------------------------------------------------------------------
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
        _check_key(key)
        self._bucket(bucket)
        chunks: list[bytes] = []
        size = 0
        async for chunk in body:
            if not chunk:
                continue
            chunk = bytes(chunk)
            digest.update(chunk)
            chunks.append(chunk)
            size += len(chunk)
        new = build(size)
        return self._commit(bucket, key, b"".join(chunks), new, condition, versioning, version_id)

    def _commit(
        self,
        bucket_name: str,
        key: str,
        data: bytes,
        new: NewObject,
        condition: WriteCondition | None,
        versioning: VersioningStatus | None,
        version_id: str | None,
    ) -> ObjectInfo:
        """Check ``condition`` against the current object and install the new version; no await inside."""
        bucket = self._bucket(bucket_name)
        versions = bucket.versions.get(key, [])
        if condition is not None:
            condition(self._current(versions))
        self._check_path_conflicts(bucket, key)
        if versioning == "Suspended":
            version_id = NULL_VERSION
        elif versioning is None:
            version_id = None
        info = ObjectInfo(
            key=key,
            size=len(data),
            etag=new.etag,
            last_modified=self._clock.now(),
            headers=dict(new.headers),
            user_metadata=dict(new.user_metadata),
            checksums=dict(new.checksums),
            checksum_type=new.checksum_type,
            storage_class=new.storage_class,
            tags=new.tags,
            version_id=version_id,
            is_latest=True,
            parts_count=new.parts_count,
            part_sizes=new.part_sizes,
            part_checksums=new.part_checksums,
            lock_mode=new.lock_mode,
            lock_retain_until=new.lock_retain_until,
            legal_hold=new.legal_hold,
            acl=new.acl,
        )
        bucket.set_versions(key, [_Version(info, data), *self._archive(versions, versioning)])
        return info

    def _check_path_conflicts(self, bucket: _Bucket, key: str) -> None:
        """Refuse ``a/b`` while ``a`` is an object and ``a`` while ``a/...`` objects exist, exactly as the
        filesystem adapter must (a file cannot also be a directory), so tests on memory storage catch what
        production storage would refuse. Only current, non-delete-marker versions occupy a path."""
        parts = key.split("/")
        for depth in range(1, len(parts)):
            if self._current(bucket.versions.get("/".join(parts[:depth]), [])) is not None:
                raise ParentIsObject(resource=key)
        probe = key + "/"
        index = bisect.bisect_left(bucket.keys, probe)
        while index < len(bucket.keys) and bucket.keys[index].startswith(probe):
            if self._current(bucket.versions[bucket.keys[index]]) is not None:
                raise ObjectExistsAsDirectory(resource=key)
            index += 1

    @staticmethod
    def _archive(versions: list[_Version], versioning: VersioningStatus | None) -> list[_Version]:
        """What stays behind a new latest version: everything when enabled, all but the null version when
        suspended (S3 overwrites the null version wherever it is), nothing when never versioned."""
        if versioning == "Enabled":
            return versions
        return [v for v in versions if not _is_null(v)]

    @staticmethod
    def _current(versions: list[_Version]) -> ObjectInfo | None:
        if not versions or versions[0].info.is_delete_marker:
            return None
        return versions[0].info

    # -- objects: reads --------------------------------------------------------------------------------------
    def _find(self, bucket_name: str, key: str, version_id: str | None) -> tuple[_Version, bool]:
        """The addressed version (and whether it is the latest), raising what S3 raises for GET/HEAD."""
        bucket = self._bucket(bucket_name)
        versions = bucket.versions.get(key, [])
        if version_id is None:
            if not versions:
                raise NoSuchKey(resource=key, extra={"Key": key})
            latest = versions[0]
            if latest.info.is_delete_marker:
                raise NoSuchKey(resource=key, extra={"Key": key}, headers=self._marker_headers(latest.info))
            return latest, True
        for index, version in enumerate(versions):
            if _same_version(version.info.version_id, version_id):
                if version.info.is_delete_marker:
                    raise MethodNotAllowed(
                        resource=key,
                        extra={"Method": "GET", "ResourceType": "DeleteMarker"},
                        headers=self._marker_headers(version.info),
                    )
                return version, index == 0
        raise NoSuchVersion(resource=key, extra={"Key": key, "VersionId": version_id})

    @staticmethod
    def _marker_headers(marker: ObjectInfo) -> dict[str, str]:
        headers = {_DELETE_MARKER_HEADER: "true"}
        if marker.version_id is not None:
            headers["x-amz-version-id"] = marker.version_id
        return headers

    async def open_object(self, bucket: str, key: str, version_id: str | None = None) -> MemoryReader:
        version, latest = self._find(bucket, key, version_id)
        return MemoryReader(attrs.evolve(version.info, is_latest=latest), version.data)

    async def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        version, latest = self._find(bucket, key, version_id)
        return attrs.evolve(version.info, is_latest=latest)

    async def update_object(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        change: Callable[[ObjectInfo], ObjectInfo],
    ) -> ObjectInfo:
        version, latest = self._find(bucket, key, version_id)
        changed = change(attrs.evolve(version.info, is_latest=latest))
        # identity and bytes are not the caller's to change
        stored = attrs.evolve(
            changed,
            key=version.info.key,
            size=version.info.size,
            etag=version.info.etag,
            version_id=version.info.version_id,
            is_delete_marker=False,
            is_latest=True,
        )
        versions = self._bucket(bucket).versions[key]
        index = next(i for i, v in enumerate(versions) if v is version)
        versions[index] = _Version(stored, version.data)
        return attrs.evolve(stored, is_latest=latest)

    # -- objects: deletes ------------------------------------------------------------------------------------
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
        store = self._bucket(bucket)
        versions = store.versions.get(key, [])
        if version_id is not None:
            target = next((v for v in versions if _same_version(v.info.version_id, version_id)), None)
            if condition is not None:
                condition(None if target is None or target.info.is_delete_marker else target.info)
            if target is None:
                # S3: deleting a version that does not exist succeeds (DeleteObject is idempotent)
                return DeleteOutcome(version_id=version_id)
            store.set_versions(key, [v for v in versions if v is not target])
            return DeleteOutcome(version_id=version_id, delete_marker=target.info.is_delete_marker)
        if condition is not None:
            condition(self._current(versions))
        if versioning is None:
            store.set_versions(key, [v for v in versions if not _is_null(v)])
            return DeleteOutcome()
        marker_id = NULL_VERSION if versioning == "Suspended" else marker_version_id
        marker = ObjectInfo(
            key=key,
            size=0,
            etag="",
            last_modified=self._clock.now(),
            version_id=marker_id,
            is_delete_marker=True,
        )
        store.set_versions(key, [_Version(marker), *self._archive(versions, versioning)])
        return DeleteOutcome(version_id=marker_id, delete_marker=True)

    # -- listings --------------------------------------------------------------------------------------------
    async def list_objects(self, bucket: str, query: ListQuery) -> ListPage:
        store = self._bucket(bucket)
        keys, prefix = store.keys, query.prefix
        skips: list[str] = []

        def entries() -> Iterator[tuple[str, _Version]]:
            after = query.start_after
            index = bisect.bisect_right(keys, after) if after >= prefix else bisect.bisect_left(keys, prefix)
            while index < len(keys) and keys[index].startswith(prefix):
                key = keys[index]
                latest = store.versions[key][0]
                if not latest.info.is_delete_marker:
                    yield key, latest
                if skips:
                    # paginate emitted a common prefix: jump past every key inside it
                    successor = _prefix_successor(skips.pop())
                    index = len(keys) if successor is None else bisect.bisect_left(keys, successor)
                else:
                    index += 1

        def load(version: _Version) -> ObjectInfo:
            return version.info

        return paginate(entries(), query, load, skip_to=skips.append)

    async def list_versions(self, bucket: str, query: VersionListQuery) -> VersionListPage:
        store = self._bucket(bucket)
        prefix, delimiter, max_keys = query.prefix, query.delimiter, query.max_keys
        key_marker = query.key_marker
        out: list[ObjectInfo] = []
        prefixes: list[str] = []
        last: tuple[str, str | None] = ("", None)
        if max_keys <= 0:
            return VersionListPage(versions=(), common_prefixes=(), is_truncated=False)
        # S3: ListObjectVersions lists keys after key-marker, or, with version-id-marker too, resumes inside
        # key-marker with the versions older than version-id-marker.
        resume = bool(key_marker and query.version_id_marker)
        keys = store.keys
        index = bisect.bisect_left(keys, max(prefix, key_marker))
        for key in keys[index:]:
            if not key.startswith(prefix):
                break
            versions = store.versions[key]
            if key == key_marker:
                if not resume:
                    continue
                ids = [v.info.version_id for v in versions]
                found = [i for i, vid in enumerate(ids) if _same_version(vid, query.version_id_marker)]
                versions = versions[found[0] + 1 :] if found else []
            group = common_prefix_of(key, prefix, delimiter)
            if group is not None:
                if (prefixes and prefixes[-1] == group) or group <= key_marker:
                    continue
                if len(out) + len(prefixes) >= max_keys:
                    return self._version_page(out, prefixes, last)
                prefixes.append(group)
                last = (group, None)
                continue
            latest = store.versions[key][0]
            for version in versions:
                if len(out) + len(prefixes) >= max_keys:
                    return self._version_page(out, prefixes, last)
                info = version.info
                vid = info.version_id if info.version_id is not None else NULL_VERSION
                out.append(attrs.evolve(info, version_id=vid, is_latest=version is latest))
                last = (key, vid)
        return VersionListPage(versions=tuple(out), common_prefixes=tuple(prefixes), is_truncated=False)

    @staticmethod
    def _version_page(
        out: list[ObjectInfo], prefixes: list[str], last: tuple[str, str | None]
    ) -> VersionListPage:
        return VersionListPage(
            versions=tuple(out),
            common_prefixes=tuple(prefixes),
            is_truncated=True,
            next_key_marker=last[0],
            next_version_id_marker=last[1],
        )

    # -- multipart -------------------------------------------------------------------------------------------
    def _upload(self, bucket: str, key: str, upload_id: str) -> _Upload:
        upload = self._bucket(bucket).uploads.get(upload_id)
        if upload is None or upload.info.key != key:
            raise NoSuchUpload(resource=key, extra={"UploadId": upload_id})
        return upload

    async def create_upload(self, upload: UploadInfo) -> None:
        _check_key(upload.key)
        self._bucket(upload.bucket).uploads[upload.upload_id] = _Upload(info=upload)

    async def get_upload(self, bucket: str, key: str, upload_id: str) -> UploadInfo:
        return self._upload(bucket, key, upload_id).info

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
        self._upload(bucket, key, upload_id)
        chunks: list[bytes] = []
        size = 0
        async for chunk in body:
            if not chunk:
                continue
            chunk = bytes(chunk)
            digest.update(chunk)
            chunks.append(chunk)
            size += len(chunk)
        part = build(size)
        # the upload may have been aborted or completed while the body streamed
        upload = self._upload(bucket, key, upload_id)
        part = attrs.evolve(part, part_number=part_number, size=size)
        upload.parts[part_number] = (part, b"".join(chunks))
        return part

    async def list_parts(self, bucket: str, key: str, upload_id: str) -> Sequence[PartInfo]:
        upload = self._upload(bucket, key, upload_id)
        return [upload.parts[number][0] for number in sorted(upload.parts)]

    async def list_uploads(self, bucket: str) -> Sequence[UploadInfo]:
        uploads = [u.info for u in self._bucket(bucket).uploads.values()]
        return sorted(uploads, key=lambda u: (u.key, u.initiated, u.upload_id))

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
        upload = self._upload(bucket, key, upload_id)
        pieces: list[bytes] = []
        for wanted in parts:
            stored = upload.parts.get(wanted.part_number)
            if stored is None or stored[0].etag != wanted.etag:
                raise InvalidPart(extra={"PartNumber": str(wanted.part_number), "ETag": wanted.etag})
            digest.update(stored[1])
            pieces.append(stored[1])
        data = b"".join(pieces)
        new = build(len(data))
        info = self._commit(bucket, key, data, new, condition, versioning, version_id)
        del self._bucket(bucket).uploads[upload_id]
        return info

    async def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self._upload(bucket, key, upload_id)
        del self._bucket(bucket).uploads[upload_id]

    async def expire_uploads(self, initiated_before: datetime) -> int:
        count = 0
        for store in self._buckets.values():
            for upload_id in [uid for uid, u in store.uploads.items() if u.info.initiated < initiated_before]:
                del store.uploads[upload_id]
                count += 1
        return count
