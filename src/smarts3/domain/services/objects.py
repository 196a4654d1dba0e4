"""Object operations: put, get, head, copy, delete, batch delete and tagging, independent of HTTP and disk."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime

import attrs

from smarts3.domain.checksums import BodyHasher
from smarts3.domain.conditions import CopySourceConditions, ReadConditions, WriteConditions
from smarts3.domain.errors import (
    BadDigest,
    EntityTooLarge,
    InvalidArgument,
    InvalidDigest,
    InvalidRequest,
    InvalidStorageClass,
    InvalidTag,
    MethodNotAllowed,
    NoSuchKey,
    NoSuchVersion,
    S3Error,
)
from smarts3.domain.models import (
    ByteRange,
    DeleteOutcome,
    NewObject,
    ObjectInfo,
)
from smarts3.domain.ports import Clock, IdGenerator, ObjectReader, StorageBackend, WriteCondition
from smarts3.domain.ranges import parse_range
from smarts3.domain.services.common import Limits, bucket_versioning
from smarts3.domain.services.object_lock import (
    NO_LOCK,
    LockSettings,
    check_delete_version,
    check_retention_change,
)
from smarts3.domain.validation import check_key, check_metadata_size

STORAGE_CLASSES = frozenset(
    {
        "STANDARD",
        "REDUCED_REDUNDANCY",
        "STANDARD_IA",
        "ONEZONE_IA",
        "INTELLIGENT_TIERING",
        "GLACIER",
        "DEEP_ARCHIVE",
        "OUTPOSTS",
        "GLACIER_IR",
        "SNOW",
        "EXPRESS_ONEZONE",
    }
)

Tags = tuple[tuple[str, str], ...]

#: Version ids this server hands out (TimeOrderedIds: 32 lower-case hex digits), plus S3's "null".
_VERSION_ID = re.compile(r"[0-9a-f]{32}")


def check_version_id(version_id: str) -> str:
    """S3 answers 400 InvalidArgument for a version id that cannot be one of its own."""
    if version_id != "null" and _VERSION_ID.fullmatch(version_id) is None:
        raise InvalidArgument(
            "Invalid version id specified",
            extra={"ArgumentName": "versionId", "ArgumentValue": version_id},
        )
    return version_id


@attrs.frozen
class WriteAttributes:
    """What a client asked to store with an object (PUT, POST, copy with REPLACE, multipart create)."""

    headers: Mapping[str, str] = attrs.field(factory=dict)
    user_metadata: Mapping[str, str] = attrs.field(factory=dict)
    storage_class: str = "STANDARD"
    tags: Tags = ()
    #: x-amz-acl (a canned ACL), None when not sent
    acl: str | None = None


@attrs.frozen
class BodyChecks:
    """Integrity checks on an uploaded body: Content-MD5 and S3 additional checksums (header or trailer)."""

    content_md5: str | None = None
    content_length: int | None = None
    #: x-amz-sdk-checksum-algorithm / x-amz-checksum-algorithm (upper-case) when the client names one
    algorithm: str | None = None
    #: algorithm -> expected base64 value from x-amz-checksum-* headers
    expected: Mapping[str, str] = attrs.field(factory=dict)
    #: algorithms whose expected value arrives in a trailer (from x-amz-trailer)
    trailer_algorithms: tuple[str, ...] = ()
    #: called once the body is exhausted; returns the trailers (lower-case names)
    trailers: Callable[[], Mapping[str, str]] | None = None

    def algorithms(self) -> tuple[str, ...]:
        found = list(self.expected)
        found.extend(self.trailer_algorithms)
        if self.algorithm:
            found.append(self.algorithm)
        return tuple(dict.fromkeys(found))


def check_storage_class(name: str) -> str:
    if name not in STORAGE_CLASSES:
        raise InvalidStorageClass(extra={"StorageClassRequested": name})
    return name


def check_tags(tags: Tags, max_tags: int = 10) -> Tags:
    """S3 tag limits: at most ``max_tags``, keys 1-128 and values 0-256 characters, keys unique."""
    if len(tags) > max_tags:
        raise InvalidTag("Object tags cannot be greater than 10")
    seen: set[str] = set()
    for key, value in tags:
        if not key or len(key) > 128:
            raise InvalidTag("The TagKey you have provided is invalid")
        if len(value) > 256:
            raise InvalidTag("The TagValue you have provided is invalid")
        if key in seen:
            raise InvalidTag("Cannot provide multiple Tags with the same key")
        seen.add(key)
    return tags


def decode_content_md5(value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidDigest() from exc
    if len(digest) != 16:
        raise InvalidDigest()
    return digest


def verify_body(hasher: BodyHasher, checks: BodyChecks, expected_md5: bytes | None) -> dict[str, str]:
    """Compare what was received with what the client declared; returns the checksums to store."""
    if expected_md5 is not None and hasher.md5_digest() != expected_md5:
        raise BadDigest(
            extra={
                "ExpectedDigest": base64.b64encode(expected_md5).decode(),
                "CalculatedDigest": base64.b64encode(hasher.md5_digest()).decode(),
            }
        )
    expected = dict(checks.expected)
    if checks.trailer_algorithms and checks.trailers is not None:
        trailers = checks.trailers()
        for algorithm in checks.trailer_algorithms:
            value = trailers.get(f"x-amz-checksum-{algorithm.lower()}")
            if value is None:
                raise InvalidRequest(f"The x-amz-checksum-{algorithm.lower()} trailer was missing.")
            expected[algorithm] = value
    stored: dict[str, str] = {}
    for algorithm, value in expected.items():
        actual = hasher.checksum(algorithm)
        if actual != value.strip():
            raise BadDigest(f"The {algorithm} you specified did not match the calculated checksum.")
        stored[algorithm] = actual
    if not stored and checks.algorithm:
        stored[checks.algorithm] = hasher.checksum(checks.algorithm)
    return stored


@attrs.frozen
class CopySource:
    bucket: str
    key: str
    version_id: str | None = None
    conditions: CopySourceConditions = attrs.field(factory=CopySourceConditions)


@attrs.frozen
class CopyOptions:
    metadata_directive: str = "COPY"  # COPY | REPLACE
    tagging_directive: str = "COPY"
    attributes: WriteAttributes = attrs.field(factory=WriteAttributes)
    checksum_algorithm: str | None = None
    conditions: WriteConditions = attrs.field(factory=WriteConditions)
    #: lock state of the new version (S3 never copies the source's lock)
    lock: LockSettings = NO_LOCK


@attrs.frozen
class CopyResult:
    info: ObjectInfo
    source_version_id: str | None


@attrs.frozen
class DeleteRequestItem:
    key: str
    version_id: str | None = None
    #: the object's optional ETag element: delete only while the object has that ETag (like If-Match)
    if_match: str | None = None


@attrs.frozen
class DeleteItemResult:
    key: str
    version_id: str | None = None
    outcome: DeleteOutcome | None = None
    error: S3Error | None = None


class ObjectService:
    """Object use cases. Holds the storage port, a clock and an id generator; no HTTP, no filesystem."""

    def __init__(self, storage: StorageBackend, clock: Clock, ids: IdGenerator, limits: Limits) -> None:
        self._storage = storage
        self._clock = clock
        self._ids = ids
        self._limits = limits

    # -- writes ------------------------------------------------------------------------------------------
    def _check_attributes(self, key: str, attributes: WriteAttributes) -> None:
        check_key(key, self._limits.max_key_length)
        check_metadata_size(attributes.user_metadata, self._limits.max_metadata_size)
        check_storage_class(attributes.storage_class)
        check_tags(attributes.tags, self._limits.max_tags)

    async def _new_version_id(self, bucket: str) -> tuple[str | None, str | None]:
        versioning = await bucket_versioning(self._storage, bucket)
        if versioning == "Enabled":
            return versioning, self._ids.new_id()
        if versioning == "Suspended":
            return versioning, "null"
        return None, None

    async def put_object(
        self,
        bucket: str,
        key: str,
        body: AsyncIterator[bytes],
        attributes: WriteAttributes,
        checks: BodyChecks,
        conditions: WriteConditions | None = None,
        lock: LockSettings = NO_LOCK,
    ) -> ObjectInfo:
        self._check_attributes(key, attributes)
        if checks.content_length is not None and checks.content_length > self._limits.max_object_size:
            raise EntityTooLarge(
                extra={
                    "ProposedSize": str(checks.content_length),
                    "MaxSizeAllowed": str(self._limits.max_object_size),
                }
            )
        expected_md5 = decode_content_md5(checks.content_md5)
        hasher = BodyHasher(checks.algorithms())
        versioning, version_id = await self._new_version_id(bucket)
        max_size = self._limits.max_object_size

        def build(size: int) -> NewObject:
            if size > max_size:
                raise EntityTooLarge()
            checksums = verify_body(hasher, checks, expected_md5)
            return NewObject(
                etag=hasher.md5_hex(),
                headers=attributes.headers,
                user_metadata=attributes.user_metadata,
                checksums=checksums,
                checksum_type="FULL_OBJECT" if checksums else None,
                storage_class=attributes.storage_class,
                tags=attributes.tags,
                acl=attributes.acl,
                lock_mode=lock.mode,
                lock_retain_until=lock.retain_until,
                legal_hold=lock.legal_hold,
            )

        return await self._storage.write_object(
            bucket,
            key,
            body,
            digest=hasher,
            build=build,
            condition=None if conditions is None or conditions.empty else conditions,
            versioning=versioning,  # type: ignore[arg-type]
            version_id=version_id,
        )

    async def copy_object(
        self, bucket: str, key: str, source: CopySource, options: CopyOptions
    ) -> CopyResult:
        check_key(key, self._limits.max_key_length)
        directive = options.metadata_directive.upper()
        tagging_directive = options.tagging_directive.upper()
        if directive not in ("COPY", "REPLACE"):
            raise InvalidArgument(
                "Unknown metadata directive.", extra={"ArgumentName": "x-amz-metadata-directive"}
            )
        if tagging_directive not in ("COPY", "REPLACE"):
            raise InvalidArgument(
                "Unknown tagging directive.", extra={"ArgumentName": "x-amz-tagging-directive"}
            )
        reader = await self._storage.open_object(source.bucket, source.key, source.version_id)
        try:
            src = reader.info
            source.conditions.check(src)
            same_object = (
                source.bucket == bucket and source.key == key and source.version_id in (None, src.version_id)
            )
            changes_something = (
                directive == "REPLACE"
                or options.attributes.storage_class != src.storage_class
                or options.checksum_algorithm is not None
            )
            if same_object and not changes_something:
                raise InvalidRequest(
                    "This copy request is illegal because it is trying to copy an object to itself without "
                    "changing the object's metadata, storage class, website redirect location or encryption "
                    "attributes."
                )
            if directive == "REPLACE":
                headers, user_metadata = options.attributes.headers, options.attributes.user_metadata
            else:
                headers, user_metadata = src.headers, src.user_metadata
            tags = options.attributes.tags if tagging_directive == "REPLACE" else src.tags
            attributes = WriteAttributes(
                headers=headers,
                user_metadata=user_metadata,
                storage_class=options.attributes.storage_class,
                tags=tags,
            )
            self._check_attributes(key, attributes)
            algorithms: list[str] = list(src.checksums)
            if options.checksum_algorithm:
                algorithms = [options.checksum_algorithm]
            hasher = BodyHasher(algorithms)
            versioning, version_id = await self._new_version_id(bucket)

            def build(size: int) -> NewObject:
                checksums = hasher.checksums()
                return NewObject(
                    etag=hasher.md5_hex(),
                    headers=attributes.headers,
                    user_metadata=attributes.user_metadata,
                    checksums=checksums,
                    checksum_type="FULL_OBJECT" if checksums else None,
                    storage_class=attributes.storage_class,
                    tags=attributes.tags,
                    acl=options.attributes.acl,  # S3 never copies the source's ACL
                    lock_mode=options.lock.mode,
                    lock_retain_until=options.lock.retain_until,
                    legal_hold=options.lock.legal_hold,
                )

            info = await self._storage.write_object(
                bucket,
                key,
                reader.iter_bytes(None),
                digest=hasher,
                build=build,
                condition=None if options.conditions.empty else options.conditions,
                versioning=versioning,  # type: ignore[arg-type]
                version_id=version_id,
            )
            return CopyResult(info=info, source_version_id=src.version_id)
        finally:
            await reader.aclose()

    # -- reads -------------------------------------------------------------------------------------------
    async def get_object(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        range_header: str | None = None,
        conditions: ReadConditions | None = None,
    ) -> tuple[ObjectReader, ByteRange | None]:
        """Open an object for reading; the caller streams ``reader.iter_bytes(range)`` and closes it."""
        reader = await self._storage.open_object(bucket, key, version_id)
        try:
            info = reader.info
            if conditions is not None and not conditions.empty:
                conditions.check(info)
            byte_range = parse_range(range_header, info.size)
        except BaseException:
            await reader.aclose()
            raise
        return reader, byte_range

    async def head_object(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        range_header: str | None = None,
        conditions: ReadConditions | None = None,
    ) -> tuple[ObjectInfo, ByteRange | None]:
        info = await self._storage.head_object(bucket, key, version_id)
        if conditions is not None and not conditions.empty:
            conditions.check(info)
        return info, parse_range(range_header, info.size)

    # -- deletes -----------------------------------------------------------------------------------------
    async def delete_object(
        self,
        bucket: str,
        key: str,
        version_id: str | None = None,
        *,
        bypass_governance: bool = False,
        condition: WriteCondition | None = None,
    ) -> DeleteOutcome:
        """DeleteObject. By version id, a version under legal hold or unexpired retention is refused
        (AccessDenied). ``condition`` (If-Match, lifecycle) sees the current object of an id-less delete, under
        the key's lock; with a version id, that version (checked just before the delete)."""
        versioning = await bucket_versioning(self._storage, bucket)
        if version_id is not None:
            await self._check_unlocked(bucket, key, version_id, bypass_governance)
            if condition is not None:
                await self._check_version(bucket, key, version_id, condition)
        marker_id = None
        if version_id is None:
            if versioning == "Enabled":
                marker_id = self._ids.new_id()
            elif versioning == "Suspended":
                marker_id = "null"
        return await self._storage.delete_object(
            bucket,
            key,
            version_id=version_id,
            versioning=versioning,
            marker_version_id=marker_id,
            condition=condition if version_id is None else None,
        )

    async def _check_version(self, bucket: str, key: str, version_id: str, condition: WriteCondition) -> None:
        try:
            info: ObjectInfo | None = await self._storage.head_object(bucket, key, version_id)
        except (NoSuchKey, NoSuchVersion, MethodNotAllowed):
            info = None  # absent, or a delete marker: nothing an ETag can match
        condition(info)

    async def _check_unlocked(self, bucket: str, key: str, version_id: str, bypass_governance: bool) -> None:
        # Checked just before the delete rather than inside storage's lock: storage's delete condition sees
        # the latest version, not the one addressed by id.
        try:
            info = await self._storage.head_object(bucket, key, version_id)
        except (NoSuchKey, NoSuchVersion, MethodNotAllowed):
            return  # absent versions and delete markers carry no lock
        check_delete_version(info, self._clock.now(), bypass_governance=bypass_governance)

    async def delete_objects(
        self, bucket: str, items: Sequence[DeleteRequestItem], *, bypass_governance: bool = False
    ) -> list[DeleteItemResult]:
        """DeleteObjects: each key succeeds or fails on its own; a missing key counts as deleted (S3)."""
        await self._storage.get_bucket(bucket)
        results: list[DeleteItemResult] = []
        for item in items:
            try:
                check_key(item.key, self._limits.max_key_length)
                if item.version_id is not None:
                    try:
                        check_version_id(item.version_id)
                    except InvalidArgument:
                        raise NoSuchVersion("The specified version does not exist.") from None
                outcome = await self.delete_object(
                    bucket,
                    item.key,
                    item.version_id,
                    bypass_governance=bypass_governance,
                    condition=None if item.if_match is None else WriteConditions(if_match=item.if_match),
                )
            except S3Error as error:
                results.append(DeleteItemResult(key=item.key, version_id=item.version_id, error=error))
            else:
                results.append(DeleteItemResult(key=item.key, version_id=item.version_id, outcome=outcome))
        return results

    # -- tagging -----------------------------------------------------------------------------------------
    async def get_tags(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        return await self._storage.head_object(bucket, key, version_id)

    async def put_tags(self, bucket: str, key: str, tags: Tags, version_id: str | None = None) -> ObjectInfo:
        check_tags(tags, self._limits.max_tags)
        return await self._storage.update_object(
            bucket, key, version_id, lambda info: attrs.evolve(info, tags=tags)
        )

    async def put_acl(self, bucket: str, key: str, acl: str, version_id: str | None = None) -> ObjectInfo:
        """PutObjectAcl with a canned ACL: stored on the version (checked by the caller)."""
        return await self._storage.update_object(bucket, key, version_id, lambda info: attrs.evolve(info, acl=acl))

    async def delete_tags(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        return await self._storage.update_object(
            bucket, key, version_id, lambda info: attrs.evolve(info, tags=())
        )

    # -- object lock (the bucket's Object Lock is checked by the caller) ---------------------------------
    async def put_retention(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        mode: str | None,
        retain_until: datetime | None,
        *,
        bypass_governance: bool = False,
    ) -> ObjectInfo:
        """PutObjectRetention: checked and applied under storage's per-key lock, so two writers cannot both
        shorten a retention they each saw as unchanged."""
        now = self._clock.now()

        def change(info: ObjectInfo) -> ObjectInfo:
            check_retention_change(info, mode, retain_until, now, bypass_governance=bypass_governance)
            return attrs.evolve(info, lock_mode=mode, lock_retain_until=retain_until)

        return await self._storage.update_object(bucket, key, version_id, change)

    async def put_legal_hold(self, bucket: str, key: str, version_id: str | None, status: str) -> ObjectInfo:
        return await self._storage.update_object(
            bucket, key, version_id, lambda info: attrs.evolve(info, legal_hold=status)
        )


__all__ = [
    "BodyChecks",
    "CopyOptions",
    "CopyResult",
    "CopySource",
    "DeleteItemResult",
    "DeleteRequestItem",
    "NoSuchKey",
    "ObjectService",
    "WriteAttributes",
]
