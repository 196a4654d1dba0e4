"""Multipart uploads: create, upload (and copy) parts, complete, abort, list (S3: "Multipart upload overview")."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence

import attrs

from smarts3.domain.checksums import BodyHasher, b64_to_crc, combine_crc, crc_to_b64
from smarts3.domain.conditions import WriteConditions
from smarts3.domain.errors import (
    BadDigest,
    EntityTooLarge,
    EntityTooSmall,
    InvalidArgument,
    InvalidPart,
    InvalidPartOrder,
    InvalidRequest,
    NoSuchUpload,
    S3Error,
)
from smarts3.domain.models import (
    ByteRange,
    ChecksumType,
    NewObject,
    ObjectInfo,
    PartInfo,
    UploadInfo,
)
from smarts3.domain.ports import Clock, IdGenerator, StorageBackend
from smarts3.domain.services.common import Limits, NullDigest, bucket_versioning
from smarts3.domain.services.object_lock import NO_LOCK, DefaultRetention, LockSettings, with_default
from smarts3.domain.services.objects import (
    BodyChecks,
    CopySource,
    WriteAttributes,
    check_storage_class,
    check_tags,
    decode_content_md5,
    verify_body,
)
from smarts3.domain.validation import check_key, check_metadata_size

_CRCS = ("CRC32", "CRC32C", "CRC64NVME")


@attrs.frozen
class CompletedPart:
    """One <Part> of a CompleteMultipartUpload request."""

    part_number: int
    etag: str
    checksums: dict[str, str] = attrs.field(factory=dict)


def _bare(checksum: str) -> str:
    """A checksum without the ``-<parts>`` suffix S3 puts on composite ones."""
    value, dash, count = checksum.strip().rpartition("-")
    return value if dash and count.isdigit() else checksum.strip()


def parse_part_number_marker(value: str | None, name: str = "part-number-marker") -> int:
    """ListParts' part-number-marker (and GetObjectAttributes' x-amz-part-number-marker): 0 when absent."""
    raw = (value or "0").strip() or "0"
    if not raw.isdigit():
        raise InvalidArgument(
            "Provided part-number-marker not an integer or within integer range",
            extra={"ArgumentName": name, "ArgumentValue": str(value)},
        )
    return int(raw)


def parse_part_number(value: str | None) -> int:
    try:
        number = int(value or "")
    except ValueError:
        raise InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive",
            extra={"ArgumentName": "partNumber", "ArgumentValue": str(value)},
        ) from None
    if not 1 <= number <= 10000:
        raise InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive",
            extra={"ArgumentName": "partNumber", "ArgumentValue": str(value)},
        )
    return number


def multipart_etag(parts: Sequence[PartInfo]) -> str:
    """S3: MD5 of the concatenated binary part MD5s, a dash, the part count."""
    joined = b"".join(bytes.fromhex(part.etag) for part in parts)
    return f"{hashlib.md5(joined).hexdigest()}-{len(parts)}"


def combined_checksum(algorithm: str, checksum_type: ChecksumType, parts: Sequence[PartInfo]) -> str | None:
    values = [part.checksums.get(algorithm) for part in parts]
    if any(value is None for value in values):
        return None
    if checksum_type == "FULL_OBJECT" and algorithm in _CRCS:
        crc: int | None = None
        for part, value in zip(parts, values, strict=True):
            part_crc = b64_to_crc(value or "")
            crc = part_crc if crc is None else combine_crc(algorithm, crc, part_crc, part.size)
        return crc_to_b64(algorithm, crc or 0)
    raw = b"".join(base64.b64decode(value or "") for value in values)
    hasher = BodyHasher((algorithm,))
    hasher.update(raw)
    return f"{hasher.checksum(algorithm)}-{len(parts)}"


class MultipartService:
    def __init__(self, storage: StorageBackend, clock: Clock, ids: IdGenerator, limits: Limits) -> None:
        self._storage = storage
        self._clock = clock
        self._ids = ids
        self._limits = limits

    async def create(
        self,
        bucket: str,
        key: str,
        attributes: WriteAttributes,
        *,
        checksum_algorithm: str | None = None,
        checksum_type: str | None = None,
        lock: LockSettings = NO_LOCK,
    ) -> UploadInfo:
        check_key(key, self._limits.max_key_length)
        check_metadata_size(attributes.user_metadata, self._limits.max_metadata_size)
        check_storage_class(attributes.storage_class)
        check_tags(attributes.tags, self._limits.max_tags)
        ctype: ChecksumType | None = None
        if checksum_type is not None:
            if checksum_type not in ("COMPOSITE", "FULL_OBJECT"):
                raise InvalidRequest("Value for x-amz-checksum-type header is invalid.")
            ctype = checksum_type  # type: ignore[assignment]
        if checksum_algorithm is not None and ctype is None:
            ctype = "FULL_OBJECT" if checksum_algorithm == "CRC64NVME" else "COMPOSITE"
        if ctype == "FULL_OBJECT" and checksum_algorithm not in (None, *_CRCS):
            raise InvalidRequest(
                "The FULL_OBJECT checksum type cannot be used with the SHA1 or SHA256 algorithm."
            )
        if ctype == "COMPOSITE" and checksum_algorithm == "CRC64NVME":
            raise InvalidRequest(
                "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm."
            )
        await self._storage.get_bucket(bucket)
        upload = UploadInfo(
            bucket=bucket,
            key=key,
            upload_id=self._ids.new_id(),
            initiated=self._clock.now(),
            headers=attributes.headers,
            user_metadata=attributes.user_metadata,
            storage_class=attributes.storage_class,
            tags=attributes.tags,
            checksum_algorithm=checksum_algorithm,
            checksum_type=ctype if checksum_algorithm else None,
            acl=attributes.acl,
            lock_mode=lock.mode,
            lock_retain_until=lock.retain_until,
            legal_hold=lock.legal_hold,
        )
        await self._storage.create_upload(upload)
        return upload

    async def upload_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        body: AsyncIterator[bytes],
        checks: BodyChecks,
    ) -> PartInfo:
        upload = await self._storage.get_upload(bucket, key, upload_id)
        if checks.content_length is not None and checks.content_length > 5 * 1024**3:
            raise EntityTooLarge()
        expected_md5 = decode_content_md5(checks.content_md5)
        algorithms = list(checks.algorithms())
        if upload.checksum_algorithm and upload.checksum_algorithm not in algorithms:
            algorithms.append(upload.checksum_algorithm)
        hasher = BodyHasher(algorithms)
        now = self._clock.now

        def build(size: int) -> PartInfo:
            checksums = verify_body(hasher, checks, expected_md5)
            if upload.checksum_algorithm and upload.checksum_algorithm not in checksums:
                checksums[upload.checksum_algorithm] = hasher.checksum(upload.checksum_algorithm)
            return PartInfo(
                part_number=part_number,
                size=size,
                etag=hasher.md5_hex(),
                last_modified=now(),
                checksums=checksums,
            )

        return await self._storage.write_part(
            bucket, key, upload_id, part_number, body, digest=hasher, build=build, size=checks.content_length
        )

    async def upload_part_copy(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        source: CopySource,
        source_range: str | None,
    ) -> tuple[PartInfo, str | None]:
        upload = await self._storage.get_upload(bucket, key, upload_id)
        reader = await self._storage.open_object(source.bucket, source.key, source.version_id)
        try:
            info = reader.info
            source.conditions.check(info)
            byte_range = _parse_copy_range(source_range, info.size)
            algorithms = [upload.checksum_algorithm] if upload.checksum_algorithm else []
            hasher = BodyHasher(algorithms)
            now = self._clock.now

            def build(size: int) -> PartInfo:
                return PartInfo(
                    part_number=part_number,
                    size=size,
                    etag=hasher.md5_hex(),
                    last_modified=now(),
                    checksums=hasher.checksums(),
                )

            part = await self._storage.write_part(
                bucket,
                key,
                upload_id,
                part_number,
                reader.iter_bytes(byte_range),
                digest=hasher,
                build=build,
                size=info.size if byte_range is None else byte_range.length,
            )
            return part, info.version_id
        finally:
            await reader.aclose()

    async def complete(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        requested: Sequence[CompletedPart],
        conditions: WriteConditions | None = None,
        *,
        default_retention: DefaultRetention | None = None,
        expected_checksums: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """``default_retention`` (the bucket's Object Lock default) applies when the upload named no lock mode;
        S3 counts it from completion. ``expected_checksums`` (the request's x-amz-checksum-* headers) must match
        the object's checksum of that algorithm (BadDigest); a part's checksum given in the request must match
        the one its upload recorded (InvalidPart)."""
        try:
            upload = await self._storage.get_upload(bucket, key, upload_id)
        except NoSuchUpload:
            done = await self._already_completed(bucket, key, requested)
            if done is None:
                raise
            return done
        if not requested:
            raise InvalidRequest("You must specify at least one part")
        uploaded = {part.part_number: part for part in await self._storage.list_parts(bucket, key, upload_id)}
        chosen: list[PartInfo] = []
        previous = 0
        for item in requested:
            if item.part_number <= previous:
                raise InvalidPartOrder()
            previous = item.part_number
            part = uploaded.get(item.part_number)
            if (
                part is None
                or part.etag != item.etag.strip().strip('"')
                or any(part.checksums.get(a, given) != given for a, given in item.checksums.items())
            ):
                raise InvalidPart(extra={"UploadId": upload_id, "PartNumber": str(item.part_number)})
            chosen.append(part)
        for part in chosen[:-1]:
            if part.size < self._limits.min_part_size:
                raise EntityTooSmall(
                    extra={
                        "ProposedSize": str(part.size),
                        "MinSizeAllowed": str(self._limits.min_part_size),
                        "PartNumber": str(part.part_number),
                        "ETag": part.etag,
                    }
                )
        checksums: dict[str, str] = {}
        if upload.checksum_algorithm and upload.checksum_type:
            value = combined_checksum(upload.checksum_algorithm, upload.checksum_type, chosen)
            if value is not None:
                checksums[upload.checksum_algorithm] = value
        for algorithm, given in (expected_checksums or {}).items():
            computed = checksums.get(algorithm)
            if computed is not None and _bare(given) != _bare(computed):
                raise BadDigest(
                    f"The {algorithm.lower()} you specified did not match the calculated checksum."
                )
        etag = multipart_etag(chosen)
        total = sum(part.size for part in chosen)
        # each part's checksum, for GetObjectAttributes' ObjectParts (S3 lists them when the upload had one)
        algorithm = upload.checksum_algorithm or ""
        part_checksums = (
            tuple(part.checksums[algorithm] for part in chosen)
            if checksums and all(algorithm in part.checksums for part in chosen)
            else ()
        )
        versioning = await bucket_versioning(self._storage, bucket)
        version_id = self._ids.new_id() if versioning == "Enabled" else ("null" if versioning else None)
        lock = with_default(
            LockSettings(upload.lock_mode, upload.lock_retain_until, upload.legal_hold),
            default_retention,
            self._clock.now(),
        )

        def build(size: int) -> NewObject:
            if size != total:
                raise InvalidPart("Part data changed while completing the upload.")
            return NewObject(
                etag=etag,
                headers=upload.headers,
                user_metadata=upload.user_metadata,
                checksums=checksums,
                checksum_type=upload.checksum_type if checksums else None,
                storage_class=upload.storage_class,
                tags=upload.tags,
                parts_count=len(chosen),
                part_sizes=tuple(part.size for part in chosen),
                part_checksums=part_checksums,
                acl=upload.acl,
                lock_mode=lock.mode,
                lock_retain_until=lock.retain_until,
                legal_hold=lock.legal_hold,
            )

        return await self._storage.complete_upload(
            bucket,
            key,
            upload_id,
            chosen,
            digest=NullDigest(),
            build=build,
            condition=None if conditions is None or conditions.empty else conditions,
            versioning=versioning,
            version_id=version_id,
        )

    async def _already_completed(
        self, bucket: str, key: str, requested: Sequence[CompletedPart]
    ) -> ObjectInfo | None:
        """A retried CompleteMultipartUpload (the first answer lost) succeeds again, as on S3: the upload is
        gone, but the current object is the one these very parts made (same multipart ETag)."""
        try:
            joined = b"".join(bytes.fromhex(item.etag.strip().strip('"')) for item in requested)
        except ValueError:
            return None
        if not requested:
            return None
        expected = f"{hashlib.md5(joined).hexdigest()}-{len(requested)}"
        try:
            current = await self._storage.head_object(bucket, key)
        except S3Error:
            return None
        return current if current.etag == expected else None

    async def abort(self, bucket: str, key: str, upload_id: str) -> None:
        await self._storage.get_bucket(bucket)
        await self._storage.abort_upload(bucket, key, upload_id)

    async def get_upload(self, bucket: str, key: str, upload_id: str) -> UploadInfo:
        return await self._storage.get_upload(bucket, key, upload_id)

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, *, marker: int, max_parts: int
    ) -> tuple[UploadInfo, list[PartInfo], bool]:
        upload = await self._storage.get_upload(bucket, key, upload_id)
        parts = [
            part
            for part in await self._storage.list_parts(bucket, key, upload_id)
            if part.part_number > marker
        ]
        return upload, parts[:max_parts], len(parts) > max_parts

    async def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str,
        delimiter: str,
        key_marker: str,
        upload_id_marker: str,
        max_uploads: int,
    ) -> tuple[list[UploadInfo], list[str], bool]:
        """Uploads after (key_marker, upload_id_marker), grouped by delimiter, at most max_uploads entries."""
        uploads = await self._storage.list_uploads(bucket)
        selected: list[UploadInfo] = []
        prefixes: list[str] = []
        truncated = False
        for upload in uploads:
            if not upload.key.startswith(prefix):
                continue
            if key_marker:
                if upload.key < key_marker:
                    continue
                if upload.key == key_marker and (
                    not upload_id_marker or upload.upload_id <= upload_id_marker
                ):
                    continue
            if delimiter:
                cut = upload.key.find(delimiter, len(prefix))
                if cut >= 0:
                    group = upload.key[: cut + len(delimiter)]
                    if prefixes and prefixes[-1] == group:
                        continue
                    if len(selected) + len(prefixes) >= max_uploads:
                        truncated = True
                        break
                    prefixes.append(group)
                    continue
            if len(selected) + len(prefixes) >= max_uploads:
                truncated = True
                break
            selected.append(upload)
        return selected, prefixes, truncated

    async def expire(self, max_age_seconds: float) -> int:
        from datetime import timedelta

        return await self._storage.expire_uploads(self._clock.now() - timedelta(seconds=max_age_seconds))


def _parse_copy_range(header: str | None, size: int) -> ByteRange | None:
    """x-amz-copy-source-range: bytes=first-last, both required and inside the source (else InvalidArgument)."""
    if header is None:
        return None
    value = header.strip()
    if not value.startswith("bytes="):
        raise InvalidArgument("The x-amz-copy-source-range value must be of the form bytes=first-last")
    first, sep, last = value[6:].partition("-")
    if not sep or not first.isdigit() or not last.isdigit():
        raise InvalidArgument("The x-amz-copy-source-range value must be of the form bytes=first-last")
    start, end = int(first), int(last)
    if end < start or end >= size:
        raise InvalidArgument(
            f"Range specified is not valid for source object of size: {size}",
            extra={"ArgumentName": "x-amz-copy-source-range", "ArgumentValue": value},
        )
    return ByteRange(start, end)


__all__ = ["CompletedPart", "MultipartService", "NoSuchUpload", "parse_part_number"]
