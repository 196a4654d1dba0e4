"""S3 XML response bodies, built as strings (no DOM) and returned as UTF-8 ``bytes``.

Every function answers one S3 operation and follows the element names, order and presence rules S3 uses
(S3 API reference, "Response Syntax" of each operation). Text goes through ``escape``, which also turns the
characters XML 1.0 cannot carry into ``&#x..;`` references exactly as S3 does; clients that must read such keys
ask for ``encoding-type=url`` (boto3 does on every listing), which ``url_encode`` serves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import quote

from smarts3.adapters.http.xml_models import (
    CorsRule,
    LifecycleFilter,
    LifecycleRule,
    ObjectLockConfiguration,
    Owner,
)
from smarts3.adapters.memo import IdentityMemo
from smarts3.domain import acl
from smarts3.domain.errors import InvalidArgument
from smarts3.domain.models import (
    NULL_VERSION,
    BucketInfo,
    ListPage,
    ObjectInfo,
    PartInfo,
    UploadInfo,
    VersionListPage,
)

__all__ = [
    "XML_DECLARATION",
    "complete_multipart_upload",
    "copy_object_result",
    "copy_part_result",
    "cors_configuration",
    "delete_result",
    "error",
    "escape",
    "initiate_multipart_upload",
    "legal_hold",
    "lifecycle_configuration",
    "list_buckets",
    "list_multipart_uploads",
    "list_objects_v1",
    "list_objects_v2",
    "list_parts",
    "list_versions",
    "location_constraint",
    "object_lock_configuration",
    "post_response",
    "retention",
    "tagging",
    "timestamp",
    "url_encode",
    "versioning_configuration",
]

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
_NS = ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'

# & < > " are escaped by name; CR by reference so parsers do not fold it into LF (S3: "XML related object
# key constraints"); the C0 controls XML 1.0 forbids, lone surrogates and U+FFFE/U+FFFF by reference, as S3 does.
_SPECIAL = re.compile('[&<>"\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')
_NAMED = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


def _reference(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or f"&#x{ord(char):x};"


def escape(text: str) -> str:
    """Escape ``text`` for XML element content (never HTML entities: only the four XML names and ``&#x..;``)."""
    if _SPECIAL.search(text) is None:
        return text
    return _SPECIAL.sub(_reference, text)


def url_encode(text: str) -> str:
    """S3's ``encoding-type=url``: UTF-8 percent-encoding keeping ``A-Za-z0-9-_.*/``; a space is ``%20`` and
    ``+`` is ``%2B``, as S3 answers (ceph/s3-tests checks both), so clients decoding with either ``unquote``
    or ``unquote_plus`` (botocore) get the key back. Lone surrogates (undecodable bytes carried by
    ``surrogateescape``) go out as the original bytes.
    """
    if _URL_SAFE.fullmatch(text) is not None:
        return text  # the common case: nothing to encode (listings encode every key)
    return quote(text.encode("utf-8", "surrogateescape"), safe="/*").replace("~", "%7E")


_URL_SAFE = re.compile(r"[A-Za-z0-9\-_.*/]*")


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as S3 writes them: ``2025-01-31T12:00:00.000Z``. Naive means UTC."""
    if moment.tzinfo is not None:
        if moment.tzinfo is not UTC:
            moment = moment.astimezone(UTC)
        moment = moment.replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def object_time(moment: datetime) -> str:
    """An object's (or a bucket's) time in XML: whole seconds (``...T12:00:00.000Z``), as S3 lists them and as
    the Last-Modified header of GET/HEAD has them. Sync tools compare the listed time with a file's mtime
    (``aws s3 sync --exact-timestamps``): with the sub-second part they found every file changed."""
    return timestamp(moment.replace(microsecond=0))


def _document(parts: Iterable[str]) -> bytes:
    return (XML_DECLARATION + "".join(parts)).encode("utf-8")


def _el(name: str, text: str) -> str:
    return f"<{name}>{escape(text)}</{name}>"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _etag(etag: str) -> str:
    return f"<ETag>&quot;{escape(etag)}&quot;</ETag>"


def _checksums(checksums: Mapping[str, str]) -> str:
    return "".join(_el(f"Checksum{algorithm.upper()}", value) for algorithm, value in checksums.items())


def _owner(owner: Owner | None, element: str = "Owner") -> str:
    if owner is None:
        return ""
    name = "" if owner.display_name is None else _el("DisplayName", owner.display_name)
    return f"<{element}>{_el('ID', owner.id)}{name}</{element}>"


def _encoding_element(encoding_type: str | None) -> str:
    """The EncodingType element to emit (nothing, or url); other values are refused as S3 does."""
    if encoding_type is None:
        return ""
    if encoding_type.lower() != "url":
        raise InvalidArgument(
            "Invalid Encoding Method specified in Request",
            extra={"ArgumentName": "encoding-type", "ArgumentValue": encoding_type},
        )
    return "<EncodingType>url</EncodingType>"


class _Enc:
    """Picks ``escape`` or ``url_encode`` for the names a listing's ``encoding-type`` covers."""

    __slots__ = ("element", "name")

    def __init__(self, encoding_type: str | None) -> None:
        self.element = _encoding_element(encoding_type)
        self.name = url_encode if self.element else escape


def _object_checksum_fields(obj: ObjectInfo) -> str:
    if not obj.checksums:
        return ""
    algorithms = "".join(_el("ChecksumAlgorithm", algorithm.upper()) for algorithm in obj.checksums)
    if obj.checksum_type is not None:
        algorithms += _el("ChecksumType", obj.checksum_type)
    return algorithms


#: ObjectInfo, (the names' encoding, the owner element) -> its ``<Contents>`` element. A bucket listed again and
#: again lists the same (memoised, see metadata.SidecarCache.info_for) infos: each is formatted once, which was
#: ~40% of a 200-key ListObjectsV2 (the timestamp alone ~1.4 us a key). Bounded (a page lists at most 1000 keys).
_CONTENTS_MAX = 1024
_CONTENTS: IdentityMemo[str] = IdentityMemo(_CONTENTS_MAX)


def _contents(objects: Sequence[ObjectInfo], enc: _Enc, owner: Owner | None) -> list[str]:
    name = enc.name
    owner_xml = _owner(owner)
    out: list[str] = []
    variant = (enc.element, owner_xml)
    for obj in objects:
        hit = _CONTENTS.recall(obj, variant)
        if hit is not None:
            out.append(hit)
            continue
        xml = (
            f"<Contents><Key>{name(obj.key)}</Key><LastModified>{object_time(obj.last_modified)}</LastModified>"
            f"{_etag(obj.etag)}{_object_checksum_fields(obj)}<Size>{obj.size}</Size>{owner_xml}"
            f"{_el('StorageClass', obj.storage_class)}</Contents>"
        )
        _CONTENTS.remember(obj, variant, xml)
        out.append(xml)
    return out


def _common_prefixes(prefixes: Iterable[str], enc: _Enc) -> list[str]:
    name = enc.name
    return [f"<CommonPrefixes><Prefix>{name(p)}</Prefix></CommonPrefixes>" for p in prefixes]


# --- errors and buckets -------------------------------------------------------------------------------


def error(
    code: str,
    message: str,
    *,
    resource: str | None = None,
    request_id: str = "",
    host_id: str = "",
    extra: Mapping[str, str] | None = None,
) -> bytes:
    """S3 error document (S3: "Error responses"). ``<Error>`` carries no namespace, unlike other roots."""
    parts = ["<Error>", _el("Code", code), _el("Message", message)]
    if extra:
        parts.extend(_el(name, value) for name, value in extra.items())
    if resource is not None:
        parts.append(_el("Resource", resource))
    parts += [_el("RequestId", request_id), _el("HostId", host_id), "</Error>"]
    return _document(parts)


def list_buckets(
    buckets: Sequence[BucketInfo],
    owner_id: str,
    owner_name: str | None = None,
    *,
    prefix: str | None = None,
    continuation_token: str | None = None,
) -> bytes:
    """ListAllMyBucketsResult: Owner, then Buckets (Name, CreationDate, BucketRegion)."""
    parts = [f"<ListAllMyBucketsResult{_NS}>", _owner(Owner(owner_id, owner_name)), "<Buckets>"]
    parts += [
        f"<Bucket>{_el('Name', b.name)}<CreationDate>{object_time(b.created)}</CreationDate>"
        f"{_el('BucketRegion', b.region)}</Bucket>"
        for b in buckets
    ]
    parts.append("</Buckets>")
    if continuation_token is not None:
        parts.append(_el("ContinuationToken", continuation_token))
    if prefix is not None:
        parts.append(_el("Prefix", prefix))
    parts.append("</ListAllMyBucketsResult>")
    return _document(parts)


def location_constraint(region: str | None) -> bytes:
    """GetBucketLocation: us-east-1 (and no region) is the empty element, as S3 answers."""
    if not region or region == "us-east-1":
        return _document([f"<LocationConstraint{_NS}/>"])
    return _document([f"<LocationConstraint{_NS}>{escape(region)}</LocationConstraint>"])


# --- listings ---------------------------------------------------------------------------------------------


def list_objects_v1(
    bucket: str,
    page: ListPage,
    *,
    prefix: str = "",
    delimiter: str = "",
    marker: str = "",
    max_keys: int = 1000,
    encoding_type: str | None = None,
    owner: Owner | None = None,
) -> bytes:
    """ListObjects (v1). NextMarker only with a delimiter on a truncated page (S3: ListObjects, NextMarker);
    Owner is always sent in v1 when known."""
    enc = _Enc(encoding_type)
    name = enc.name
    parts = [
        f"<ListBucketResult{_NS}>",
        _el("Name", bucket),
        f"<Prefix>{name(prefix)}</Prefix><Marker>{name(marker)}</Marker>",
    ]
    if delimiter and page.is_truncated and page.next_marker is not None:
        parts.append(f"<NextMarker>{name(page.next_marker)}</NextMarker>")
    parts.append(f"<MaxKeys>{max_keys}</MaxKeys>")
    if delimiter:
        parts.append(f"<Delimiter>{name(delimiter)}</Delimiter>")
    parts += [enc.element, f"<IsTruncated>{_bool(page.is_truncated)}</IsTruncated>"]
    parts += _contents(page.objects, enc, owner)
    parts += _common_prefixes(page.common_prefixes, enc)
    parts.append("</ListBucketResult>")
    return _document(parts)


def list_objects_v2(
    bucket: str,
    page: ListPage,
    *,
    prefix: str = "",
    delimiter: str = "",
    max_keys: int = 1000,
    start_after: str | None = None,
    continuation_token: str | None = None,
    next_continuation_token: str | None = None,
    key_count: int | None = None,
    fetch_owner: bool = False,
    encoding_type: str | None = None,
    owner: Owner | None = None,
) -> bytes:
    """ListObjectsV2. ContinuationToken/NextContinuationToken are opaque and never url-encoded; StartAfter is
    echoed when sent; Owner only with ``fetch-owner=true``. ``key_count`` defaults to keys + common prefixes."""
    enc = _Enc(encoding_type)
    name = enc.name
    if key_count is None:
        key_count = len(page.objects) + len(page.common_prefixes)
    parts = [f"<ListBucketResult{_NS}>", _el("Name", bucket), f"<Prefix>{name(prefix)}</Prefix>"]
    if continuation_token is not None:
        parts.append(_el("ContinuationToken", continuation_token))
    if next_continuation_token is not None:
        parts.append(_el("NextContinuationToken", next_continuation_token))
    parts.append(f"<KeyCount>{key_count}</KeyCount><MaxKeys>{max_keys}</MaxKeys>")
    if delimiter:
        parts.append(f"<Delimiter>{name(delimiter)}</Delimiter>")
    parts += [enc.element, f"<IsTruncated>{_bool(page.is_truncated)}</IsTruncated>"]
    if start_after:
        parts.append(f"<StartAfter>{name(start_after)}</StartAfter>")
    parts += _contents(page.objects, enc, owner if fetch_owner else None)
    parts += _common_prefixes(page.common_prefixes, enc)
    parts.append("</ListBucketResult>")
    return _document(parts)


def _version_id(version_id: str | None) -> str:
    return escape(NULL_VERSION if version_id is None else version_id)


def list_versions(
    bucket: str,
    page: VersionListPage,
    *,
    prefix: str = "",
    delimiter: str = "",
    key_marker: str = "",
    version_id_marker: str = "",
    max_keys: int = 1000,
    encoding_type: str | None = None,
    owner: Owner | None = None,
) -> bytes:
    """ListObjectVersions: Version and DeleteMarker entries interleaved in page order (newest first per key);
    a version written while versioning was never enabled has VersionId ``null``."""
    enc = _Enc(encoding_type)
    name = enc.name
    owner_xml = _owner(owner)
    parts = [
        f"<ListVersionsResult{_NS}>",
        _el("Name", bucket),
        f"<Prefix>{name(prefix)}</Prefix><KeyMarker>{name(key_marker)}</KeyMarker>",
        _el("VersionIdMarker", version_id_marker),
    ]
    if page.is_truncated:
        if page.next_key_marker is not None:
            parts.append(f"<NextKeyMarker>{name(page.next_key_marker)}</NextKeyMarker>")
        if page.next_version_id_marker is not None:
            parts.append(_el("NextVersionIdMarker", page.next_version_id_marker))
    parts.append(f"<MaxKeys>{max_keys}</MaxKeys>")
    if delimiter:
        parts.append(f"<Delimiter>{name(delimiter)}</Delimiter>")
    parts += [enc.element, f"<IsTruncated>{_bool(page.is_truncated)}</IsTruncated>"]
    for v in page.versions:
        head = (
            f"<Key>{name(v.key)}</Key><VersionId>{_version_id(v.version_id)}</VersionId>"
            f"<IsLatest>{_bool(v.is_latest)}</IsLatest><LastModified>{object_time(v.last_modified)}</LastModified>"
        )
        if v.is_delete_marker:
            parts.append(f"<DeleteMarker>{head}{owner_xml}</DeleteMarker>")
        else:
            parts.append(
                f"<Version>{head}{_etag(v.etag)}{_object_checksum_fields(v)}<Size>{v.size}</Size>"
                f"{owner_xml}{_el('StorageClass', v.storage_class)}</Version>"
            )
    parts += _common_prefixes(page.common_prefixes, enc)
    parts.append("</ListVersionsResult>")
    return _document(parts)


# --- copy and multipart -------------------------------------------------------------------------------------


def _copy_result(
    root: str,
    etag: str,
    last_modified: datetime,
    checksums: Mapping[str, str] | None,
    checksum_type: str | None,
) -> bytes:
    parts = [
        f"<{root}{_NS}><LastModified>{object_time(last_modified)}</LastModified>",
        _etag(etag),
        _checksums(checksums or {}),
    ]
    if checksum_type is not None:
        parts.append(_el("ChecksumType", checksum_type))
    parts.append(f"</{root}>")
    return _document(parts)


#: GetObjectAttributes: the attribute names S3 accepts in x-amz-object-attributes
OBJECT_ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")


def object_attributes(
    obj: ObjectInfo, wanted: Iterable[str], *, max_parts: int = 1000, part_number_marker: int = 0
) -> bytes:
    """GetObjectAttributes: the requested attributes, in S3's element order. The ETag is unquoted; ObjectParts
    (part numbers and sizes, paged, and each part's checksum when the upload had one) only for an object made by
    a multipart upload."""
    names = set(wanted)
    parts = [f"<GetObjectAttributesResponse{_NS}>"]
    if "ETag" in names:
        parts.append(_el("ETag", obj.etag))
    if "Checksum" in names and obj.checksums:
        fields = _checksums(obj.checksums)
        if obj.checksum_type is not None:
            fields += _el("ChecksumType", obj.checksum_type)
        parts.append(f"<Checksum>{fields}</Checksum>")
    if "ObjectParts" in names and obj.parts_count:
        sizes = obj.part_sizes
        numbers = [n for n in range(1, len(sizes) + 1) if n > part_number_marker]
        page, truncated = numbers[:max_parts], len(numbers) > max_parts
        parts.append("<ObjectParts>")
        parts.append(f"<PartNumberMarker>{part_number_marker}</PartNumberMarker>")
        if page:
            parts.append(f"<NextPartNumberMarker>{page[-1]}</NextPartNumberMarker>")
        parts.append(f"<MaxParts>{max_parts}</MaxParts><IsTruncated>{_bool(truncated)}</IsTruncated>")
        parts.append(f"<PartsCount>{obj.parts_count}</PartsCount>")
        sums = obj.part_checksums if len(obj.part_checksums) == len(sizes) and obj.checksums else ()
        algorithm = next(iter(obj.checksums)) if sums else ""
        parts += [
            f"<Part>{_checksums({algorithm: sums[n - 1]}) if sums else ''}<PartNumber>{n}</PartNumber>"
            f"<Size>{sizes[n - 1]}</Size></Part>"
            for n in page
        ]
        parts.append("</ObjectParts>")
    if "StorageClass" in names:
        parts.append(_el("StorageClass", obj.storage_class))
    if "ObjectSize" in names:
        parts.append(f"<ObjectSize>{obj.size}</ObjectSize>")
    parts.append("</GetObjectAttributesResponse>")
    return _document(parts)


def copy_object_result(
    etag: str,
    last_modified: datetime,
    checksums: Mapping[str, str] | None = None,
    *,
    checksum_type: str | None = None,
) -> bytes:
    """CopyObjectResult (S3: CopyObject)."""
    return _copy_result("CopyObjectResult", etag, last_modified, checksums, checksum_type)


def copy_part_result(
    etag: str,
    last_modified: datetime,
    checksums: Mapping[str, str] | None = None,
) -> bytes:
    """CopyPartResult (S3: UploadPartCopy)."""
    return _copy_result("CopyPartResult", etag, last_modified, checksums, None)


def initiate_multipart_upload(bucket: str, key: str, upload_id: str) -> bytes:
    """InitiateMultipartUploadResult (S3: CreateMultipartUpload)."""
    return _document(
        [
            f"<InitiateMultipartUploadResult{_NS}>",
            _el("Bucket", bucket),
            _el("Key", key),
            _el("UploadId", upload_id),
            "</InitiateMultipartUploadResult>",
        ]
    )


def complete_multipart_upload(
    location: str,
    bucket: str,
    key: str,
    etag: str,
    checksums: Mapping[str, str] | None = None,
    checksum_type: str | None = None,
) -> bytes:
    """CompleteMultipartUploadResult. ``etag`` is the unquoted ``hex-N`` multipart ETag."""
    parts = [
        f"<CompleteMultipartUploadResult{_NS}>",
        _el("Location", location),
        _el("Bucket", bucket),
        _el("Key", key),
        _etag(etag),
        _checksums(checksums or {}),
    ]
    if checksum_type is not None:
        parts.append(_el("ChecksumType", checksum_type))
    parts.append("</CompleteMultipartUploadResult>")
    return _document(parts)


def list_parts(
    bucket: str,
    key: str,
    upload_id: str,
    parts: Sequence[PartInfo],
    *,
    part_number_marker: int = 0,
    next_part_number_marker: int | None = None,
    max_parts: int = 1000,
    is_truncated: bool = False,
    owner: Owner | None = None,
    initiator: Owner | None = None,
    storage_class: str = "STANDARD",
    checksum_algorithm: str | None = None,
    checksum_type: str | None = None,
) -> bytes:
    """ListPartsResult. The initiator defaults to the owner; NextPartNumberMarker is the last part listed."""
    out = [
        f"<ListPartsResult{_NS}>",
        _el("Bucket", bucket),
        _el("Key", key),
        _el("UploadId", upload_id),
        _owner(initiator or owner, "Initiator"),
        _owner(owner),
        _el("StorageClass", storage_class),
        f"<PartNumberMarker>{part_number_marker}</PartNumberMarker>",
    ]
    if next_part_number_marker is not None:
        out.append(f"<NextPartNumberMarker>{next_part_number_marker}</NextPartNumberMarker>")
    out.append(f"<MaxParts>{max_parts}</MaxParts><IsTruncated>{_bool(is_truncated)}</IsTruncated>")
    out += [
        f"<Part><PartNumber>{p.part_number}</PartNumber><LastModified>{object_time(p.last_modified)}"
        f"</LastModified>{_etag(p.etag)}<Size>{p.size}</Size>{_checksums(p.checksums)}</Part>"
        for p in parts
    ]
    if checksum_algorithm is not None:
        out.append(_el("ChecksumAlgorithm", checksum_algorithm))
    if checksum_type is not None:
        out.append(_el("ChecksumType", checksum_type))
    out.append("</ListPartsResult>")
    return _document(out)


def list_multipart_uploads(
    bucket: str,
    uploads: Sequence[UploadInfo],
    *,
    prefix: str = "",
    delimiter: str = "",
    key_marker: str = "",
    upload_id_marker: str = "",
    next_key_marker: str | None = None,
    next_upload_id_marker: str | None = None,
    max_uploads: int = 1000,
    is_truncated: bool = False,
    common_prefixes: Sequence[str] = (),
    encoding_type: str | None = None,
    owner: Owner | None = None,
) -> bytes:
    """ListMultipartUploadsResult. ``encoding-type=url`` covers Key, Prefix, Delimiter, KeyMarker,
    NextKeyMarker and CommonPrefixes."""
    enc = _Enc(encoding_type)
    name = enc.name
    parts = [
        f"<ListMultipartUploadsResult{_NS}>",
        _el("Bucket", bucket),
        f"<KeyMarker>{name(key_marker)}</KeyMarker>",
        _el("UploadIdMarker", upload_id_marker),
    ]
    if next_key_marker is not None:
        parts.append(f"<NextKeyMarker>{name(next_key_marker)}</NextKeyMarker>")
    if next_upload_id_marker is not None:
        parts.append(_el("NextUploadIdMarker", next_upload_id_marker))
    if delimiter:
        parts.append(f"<Delimiter>{name(delimiter)}</Delimiter>")
    parts += [
        f"<Prefix>{name(prefix)}</Prefix>",
        f"<MaxUploads>{max_uploads}</MaxUploads>",
        enc.element,
        f"<IsTruncated>{_bool(is_truncated)}</IsTruncated>",
    ]
    initiator = _owner(owner, "Initiator")
    owner_xml = _owner(owner)
    for u in uploads:
        algorithm = "" if u.checksum_algorithm is None else _el("ChecksumAlgorithm", u.checksum_algorithm)
        checksum_type = "" if u.checksum_type is None else _el("ChecksumType", u.checksum_type)
        parts.append(
            f"<Upload><Key>{name(u.key)}</Key>{_el('UploadId', u.upload_id)}{initiator}{owner_xml}"
            f"{_el('StorageClass', u.storage_class)}<Initiated>{timestamp(u.initiated)}</Initiated>"
            f"{algorithm}{checksum_type}</Upload>"
        )
    parts += _common_prefixes(common_prefixes, enc)
    parts.append("</ListMultipartUploadsResult>")
    return _document(parts)


# --- delete ---------------------------------------------------------------------------------------------------


def delete_result(
    deleted: Sequence[tuple[str, str | None, bool, str | None]],
    errors: Sequence[tuple[str, str | None, str, str]],
    quiet: bool = False,
) -> bytes:
    """DeleteResult (S3: DeleteObjects). ``deleted``: (key, version_id, delete_marker, delete_marker_version_id);
    ``errors``: (key, version_id, code, message). Quiet mode reports errors only."""
    parts = [f"<DeleteResult{_NS}>"]
    if not quiet:
        for key, version_id, delete_marker, marker_version_id in deleted:
            entry = [_el("Key", key)]
            if version_id is not None:
                entry.append(_el("VersionId", version_id))
            if delete_marker:
                entry.append("<DeleteMarker>true</DeleteMarker>")
            if marker_version_id is not None:
                entry.append(_el("DeleteMarkerVersionId", marker_version_id))
            parts.append(f"<Deleted>{''.join(entry)}</Deleted>")
    for key, version_id, code, message in errors:
        version = "" if version_id is None else _el("VersionId", version_id)
        parts.append(f"<Error>{_el('Key', key)}{version}{_el('Code', code)}{_el('Message', message)}</Error>")
    parts.append("</DeleteResult>")
    return _document(parts)


# --- bucket and object configuration ------------------------------------------------------------------------


def policy_status(is_public: bool) -> bytes:
    """GetBucketPolicyStatus."""
    return _document([f"<PolicyStatus{_NS}><IsPublic>{_bool(is_public)}</IsPublic></PolicyStatus>"])


def public_access_block(settings: Mapping[str, bool]) -> bytes:
    """GetPublicAccessBlock: the four settings, each true or false."""
    inner = "".join(f"<{name}>{_bool(value)}</{name}>" for name, value in settings.items())
    return _document([f"<PublicAccessBlockConfiguration{_NS}>{inner}</PublicAccessBlockConfiguration>"])


def versioning_configuration(status: str | None, mfa_delete: str | None = None) -> bytes:
    """GetBucketVersioning: an empty element for a bucket that never had versioning."""
    inner = ""
    if status is not None:
        inner += _el("Status", status)
    if mfa_delete is not None:
        inner += _el("MfaDelete", mfa_delete)
    if not inner:
        return _document([f"<VersioningConfiguration{_NS}/>"])
    return _document([f"<VersioningConfiguration{_NS}>{inner}</VersioningConfiguration>"])


def _tag_set(tags: Iterable[tuple[str, str]]) -> str:
    return "".join(f"<Tag>{_el('Key', k)}{_el('Value', v)}</Tag>" for k, v in tags)


def tagging(tags: Iterable[tuple[str, str]]) -> bytes:
    """GetObjectTagging / GetBucketTagging."""
    return _document([f"<Tagging{_NS}><TagSet>", _tag_set(tags), "</TagSet></Tagging>"])


def cors_configuration(rules: Sequence[CorsRule]) -> bytes:
    """GetBucketCors."""
    parts = [f"<CORSConfiguration{_NS}>"]
    for rule in rules:
        parts.append("<CORSRule>")
        if rule.id is not None:
            parts.append(_el("ID", rule.id))
        parts += [_el("AllowedHeader", h) for h in rule.allowed_headers]
        parts += [_el("AllowedMethod", m) for m in rule.allowed_methods]
        parts += [_el("AllowedOrigin", o) for o in rule.allowed_origins]
        parts += [_el("ExposeHeader", h) for h in rule.expose_headers]
        if rule.max_age_seconds is not None:
            parts.append(f"<MaxAgeSeconds>{rule.max_age_seconds}</MaxAgeSeconds>")
        parts.append("</CORSRule>")
    parts.append("</CORSConfiguration>")
    return _document(parts)


def _filter(f: LifecycleFilter) -> str:
    inner = ""
    if f.prefix is not None:
        inner += _el("Prefix", f.prefix)
    inner += _tag_set(f.tags)
    if f.object_size_greater_than is not None:
        inner += f"<ObjectSizeGreaterThan>{f.object_size_greater_than}</ObjectSizeGreaterThan>"
    if f.object_size_less_than is not None:
        inner += f"<ObjectSizeLessThan>{f.object_size_less_than}</ObjectSizeLessThan>"
    if f.is_and:
        inner = f"<And>{inner}</And>"
    return f"<Filter>{inner}</Filter>"


def _lifecycle_rule(rule: LifecycleRule) -> str:
    parts = ["<Rule>"]
    if rule.id is not None:
        parts.append(_el("ID", rule.id))
    if rule.filter is not None:
        parts.append(_filter(rule.filter))
    elif rule.prefix is not None:
        parts.append(_el("Prefix", rule.prefix))
    parts.append(_el("Status", rule.status))
    if (e := rule.expiration) is not None:
        parts.append("<Expiration>")
        if e.date is not None:
            parts.append(f"<Date>{timestamp(e.date)}</Date>")
        if e.days is not None:
            parts.append(f"<Days>{e.days}</Days>")
        if e.expired_object_delete_marker is not None:
            parts.append(
                f"<ExpiredObjectDeleteMarker>{_bool(e.expired_object_delete_marker)}</ExpiredObjectDeleteMarker>"
            )
        parts.append("</Expiration>")
    parts += rule.transitions
    if (n := rule.noncurrent_version_expiration) is not None:
        parts.append("<NoncurrentVersionExpiration>")
        if n.noncurrent_days is not None:
            parts.append(f"<NoncurrentDays>{n.noncurrent_days}</NoncurrentDays>")
        if n.newer_noncurrent_versions is not None:
            parts.append(f"<NewerNoncurrentVersions>{n.newer_noncurrent_versions}</NewerNoncurrentVersions>")
        parts.append("</NoncurrentVersionExpiration>")
    parts += rule.noncurrent_transitions
    if rule.abort_incomplete_multipart_upload_days is not None:
        parts.append(
            "<AbortIncompleteMultipartUpload><DaysAfterInitiation>"
            f"{rule.abort_incomplete_multipart_upload_days}</DaysAfterInitiation></AbortIncompleteMultipartUpload>"
        )
    parts.append("</Rule>")
    return "".join(parts)


def lifecycle_configuration(rules: Sequence[LifecycleRule]) -> bytes:
    """GetBucketLifecycleConfiguration."""
    return _document(
        [f"<LifecycleConfiguration{_NS}>", *map(_lifecycle_rule, rules), "</LifecycleConfiguration>"]
    )


def object_lock_configuration(config: ObjectLockConfiguration) -> bytes:
    """GetObjectLockConfiguration."""
    parts = [f"<ObjectLockConfiguration{_NS}>"]
    if config.enabled:
        parts.append("<ObjectLockEnabled>Enabled</ObjectLockEnabled>")
    if config.mode is not None:
        period = (
            f"<Days>{config.days}</Days>" if config.days is not None else f"<Years>{config.years}</Years>"
        )
        parts.append(f"<Rule><DefaultRetention>{_el('Mode', config.mode)}{period}</DefaultRetention></Rule>")
    parts.append("</ObjectLockConfiguration>")
    return _document(parts)


def retention(mode: str | None, until: datetime | None) -> bytes:
    """GetObjectRetention."""
    inner = "" if mode is None else _el("Mode", mode)
    if until is not None:
        inner += f"<RetainUntilDate>{timestamp(until)}</RetainUntilDate>"
    return _document([f"<Retention{_NS}>{inner}</Retention>"])


def legal_hold(status: str) -> bytes:
    """GetObjectLegalHold (``ON`` or ``OFF``)."""
    return _document([f"<LegalHold{_NS}>{_el('Status', status)}</LegalHold>"])


def post_response(location: str, bucket: str, key: str, etag: str) -> bytes:
    """Browser-form POST with ``success_action_status=201`` (S3: "POST Object")."""
    return _document(
        [
            "<PostResponse>",
            _el("Location", location),
            _el("Bucket", bucket),
            _el("Key", key),
            _etag(etag),
            "</PostResponse>",
        ]
    )


def access_control_policy(owner_id: str, owner_name: str | None = None, stored: str | None = None) -> bytes:
    """GetBucketAcl / GetObjectAcl: the grants of a stored ACL (domain/acl.py): a canned ACL's group grants,
    then the owner's FULL_CONTROL; or a grant list as it was put. The owner's grants carry its display name."""
    owner = Owner(owner_id, owner_name)
    listed = []
    for grant in acl.grants_of(stored, owner_id):
        if grant.kind == acl.GROUP:
            who = f'xsi:type="Group">{_el("URI", grant.grantee)}'
        else:
            name = owner_name if grant.grantee == owner_id else None
            who = (
                f'xsi:type="CanonicalUser">{_el("ID", grant.grantee)}'
                f"{'' if name is None else _el('DisplayName', name)}"
            )
        listed.append(
            '<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f"{who}</Grantee>{_el('Permission', grant.permission)}</Grant>"
        )
    body = (
        f"<AccessControlPolicy{_NS}>{_owner(owner)}<AccessControlList>{''.join(listed)}"
        "</AccessControlList></AccessControlPolicy>"
    )
    return (XML_DECLARATION + body).encode("utf-8")
