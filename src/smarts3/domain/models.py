"""Domain value objects: buckets, objects, versions, parts, listings. Frozen attrs classes, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

import attrs

#: Standard content headers S3 stores with an object and returns on GET/HEAD (lower-case names).
CONTENT_HEADERS: tuple[str, ...] = (
    "content-type",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
    "x-amz-website-redirect-location",
    # SSE-S3 as the client asked for it (AES256 only; see adapters/http/encryption.py)
    "x-amz-server-side-encryption",
)

DEFAULT_CONTENT_TYPE = "binary/octet-stream"
NULL_VERSION = "null"

ChecksumAlgorithm = Literal["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]
CHECKSUM_ALGORITHMS: tuple[ChecksumAlgorithm, ...] = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
ChecksumType = Literal["COMPOSITE", "FULL_OBJECT"]
VersioningStatus = Literal["Enabled", "Suspended"]


@attrs.frozen
class BucketInfo:
    name: str
    created: datetime
    region: str = "us-east-1"
    object_lock_enabled: bool = False


@attrs.frozen
class ObjectInfo:
    """What S3 knows about one object version. ``etag`` is unquoted (``hex`` or ``hex-N``)."""

    key: str
    size: int
    etag: str
    last_modified: datetime
    #: lower-case standard content headers present on the object (see CONTENT_HEADERS)
    headers: Mapping[str, str] = attrs.field(factory=dict)
    #: user metadata, keys lower-case without the ``x-amz-meta-`` prefix
    user_metadata: Mapping[str, str] = attrs.field(factory=dict)
    #: algorithm -> base64 value, as sent in x-amz-checksum-*
    checksums: Mapping[str, str] = attrs.field(factory=dict)
    checksum_type: ChecksumType | None = None
    storage_class: str = "STANDARD"
    tags: tuple[tuple[str, str], ...] = ()
    #: None for objects written while the bucket never had versioning; "null" for the null version.
    version_id: str | None = None
    is_delete_marker: bool = False
    is_latest: bool = True
    parts_count: int | None = None
    #: sizes of the parts of a multipart object, in order (GetObject/HeadObject with partNumber)
    part_sizes: tuple[int, ...] = ()
    #: the parts' checksums (base64, of the object's checksum algorithm), in order, when every part had one
    part_checksums: tuple[str, ...] = ()
    #: object-lock state (issue: object lock): mode GOVERNANCE/COMPLIANCE, retain-until, legal hold ON/OFF
    lock_mode: str | None = None
    lock_retain_until: datetime | None = None
    legal_hold: str | None = None
    #: the canned ACL set on this object (x-amz-acl, PutObjectAcl); None: none was set, the bucket's decides
    acl: str | None = None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", DEFAULT_CONTENT_TYPE)

    @property
    def quoted_etag(self) -> str:
        return f'"{self.etag}"'


@attrs.frozen
class NewObject:
    """Everything the domain decided about an object being written, handed to storage to persist.

    Storage adds nothing but the bytes, the size it counted and the modification time.
    """

    etag: str
    headers: Mapping[str, str] = attrs.field(factory=dict)
    user_metadata: Mapping[str, str] = attrs.field(factory=dict)
    checksums: Mapping[str, str] = attrs.field(factory=dict)
    checksum_type: ChecksumType | None = None
    storage_class: str = "STANDARD"
    tags: tuple[tuple[str, str], ...] = ()
    parts_count: int | None = None
    part_sizes: tuple[int, ...] = ()
    part_checksums: tuple[str, ...] = ()
    lock_mode: str | None = None
    lock_retain_until: datetime | None = None
    legal_hold: str | None = None
    acl: str | None = None


@attrs.frozen
class ByteRange:
    """An inclusive byte range already resolved against an object's size."""

    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


@attrs.frozen
class PartInfo:
    part_number: int
    size: int
    etag: str  # unquoted md5 hex
    last_modified: datetime
    checksums: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class UploadInfo:
    """A multipart upload in progress, with what CreateMultipartUpload asked for the final object."""

    bucket: str
    key: str
    upload_id: str
    initiated: datetime
    headers: Mapping[str, str] = attrs.field(factory=dict)
    user_metadata: Mapping[str, str] = attrs.field(factory=dict)
    storage_class: str = "STANDARD"
    tags: tuple[tuple[str, str], ...] = ()
    checksum_algorithm: str | None = None
    checksum_type: ChecksumType | None = None
    lock_mode: str | None = None
    lock_retain_until: datetime | None = None
    legal_hold: str | None = None
    acl: str | None = None


@attrs.frozen
class ListQuery:
    """A listing request in storage terms: every key > ``start_after`` with ``prefix``, grouped by delimiter."""

    prefix: str = ""
    delimiter: str = ""
    start_after: str = ""
    max_keys: int = 1000


@attrs.frozen
class ListPage:
    """Result of one listing call. ``next_marker`` is the last key or common prefix returned when truncated."""

    objects: tuple[ObjectInfo, ...]
    common_prefixes: tuple[str, ...]
    is_truncated: bool
    next_marker: str | None = None


@attrs.frozen
class VersionListQuery:
    prefix: str = ""
    delimiter: str = ""
    key_marker: str = ""
    version_id_marker: str = ""
    max_keys: int = 1000


@attrs.frozen
class VersionListPage:
    """Versions (ObjectInfo with version_id, is_latest, is_delete_marker), newest first within a key."""

    versions: tuple[ObjectInfo, ...]
    common_prefixes: tuple[str, ...]
    is_truncated: bool
    next_key_marker: str | None = None
    next_version_id_marker: str | None = None


@attrs.frozen
class DeleteOutcome:
    """What a delete did: the version it removed or the delete marker it created."""

    version_id: str | None = None
    delete_marker: bool = False
