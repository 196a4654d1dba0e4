"""Object operation handlers: translate S3 HTTP requests to ObjectService calls and results back to HTTP."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import unquote

from smarts3.adapters.http import xml as s3xml
from smarts3.adapters.http.encryption import add_encryption_header
from smarts3.adapters.http.object_headers import (
    add_object_headers,
    body_checks,
    canned_acl,
    has_response_overrides,
    write_attributes,
)
from smarts3.adapters.http.wire import Response, http_date, xml_response
from smarts3.domain.conditions import CopySourceConditions, ReadConditions, WriteConditions, parse_http_date
from smarts3.domain.errors import (
    InternalError,
    InvalidArgument,
    InvalidPartNumber,
    InvalidRequest,
    MissingContentLength,
    NotImplementedS3,
    S3Error,
)
from smarts3.domain.models import ByteRange, ObjectInfo
from smarts3.domain.services.lifecycle import Rule, expiry
from smarts3.domain.services.listing import parse_max_keys
from smarts3.domain.services.multipart import parse_part_number_marker
from smarts3.domain.services.objects import CopyOptions, CopySource, check_version_id
from smarts3.entrypoints.lifecycle_runner import LIFECYCLE_KIND, rules_from_xml
from smarts3.entrypoints.s3 import public_access
from smarts3.entrypoints.s3.object_lock import bypass_governance, write_lock

if TYPE_CHECKING:
    from smarts3.domain.ports import ObjectReader
    from smarts3.entrypoints.s3.api import S3Api
    from smarts3.entrypoints.s3.request import S3Request


def read_conditions(headers: dict[str, str]) -> ReadConditions | None:
    if not (
        "if-match" in headers
        or "if-none-match" in headers
        or "if-modified-since" in headers
        or "if-unmodified-since" in headers
    ):
        return None
    return ReadConditions(
        if_match=headers.get("if-match"),
        if_none_match=headers.get("if-none-match"),
        if_modified_since=parse_http_date(headers.get("if-modified-since")),
        if_unmodified_since=parse_http_date(headers.get("if-unmodified-since")),
    )


def write_conditions(headers: dict[str, str]) -> WriteConditions | None:
    if "if-match" not in headers and "if-none-match" not in headers:
        return None
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None and if_none_match.strip() != "*":
        # S3 answers an ETag (anything but '*') in a write's If-None-Match with 501 (aws-sdk-ruby#3144)
        raise NotImplementedS3(extra={"Header": "If-None-Match"})
    return WriteConditions(if_match=headers.get("if-match"), if_none_match=if_none_match)


def version_param(req: S3Request) -> str | None:
    version_id = req.query.get("versionId")
    if version_id is None:
        return None
    if version_id == "":
        raise InvalidArgument("Version id cannot be the empty string", extra={"ArgumentName": "versionId"})
    return check_version_id(version_id)


def _version_header(response: Response, info: ObjectInfo) -> None:
    if info.version_id is not None:
        response.add("x-amz-version-id", info.version_id)


def written_version_header(response: Response, version_id: str | None) -> None:
    """x-amz-version-id on a write (PUT, copy, POST, CompleteMultipartUpload): S3 sends it only for a real
    version; the ``null`` version a versioning-suspended bucket writes gets no header."""
    if version_id is not None and version_id != "null":
        response.add("x-amz-version-id", version_id)


@functools.lru_cache(maxsize=128)
def _lifecycle_rules(document: bytes) -> tuple[Rule, ...]:
    return tuple(rules_from_xml(document))


async def _expiration_header(api: S3Api, bucket: str, info: ObjectInfo, response: Response) -> None:
    """x-amz-expiration (GET/HEAD/PUT of the current object): when the bucket's lifecycle expires it, and
    which rule does."""
    try:
        document = await api.buckets.get_config(bucket, LIFECYCLE_KIND)
    except S3Error:  # the bucket went away meanwhile: the object answer stands without the header
        return
    if document is None:
        return
    found = expiry(_lifecycle_rules(document), info)
    if found is not None:
        when, rule_id = found
        response.add("x-amz-expiration", f'expiry-date="{http_date(when)}", rule-id="{rule_id}"')


def _require_content_length(req: S3Request) -> None:
    headers = req.headers
    if "content-length" not in headers and "x-amz-decoded-content-length" not in headers:
        if "chunked" not in headers.get("transfer-encoding", "").lower():
            raise MissingContentLength()


async def get_object(api: S3Api, req: S3Request, *, head: bool = False) -> Response:
    assert req.bucket is not None and req.key is not None
    if api.auth_enabled and req.access_key is None and has_response_overrides(req.query):
        # a public object may be read anonymously, but not with the response-* overrides (AWS: 400)
        raise InvalidRequest("Request specific response headers cannot be used for anonymous GET requests.")
    headers = req.headers
    version_id = version_param(req)
    part_number = req.query.get("partNumber")
    range_header = headers.get("range")
    if part_number is not None:
        if range_header is not None:
            raise InvalidRequest("Cannot specify both Range header and partNumber query parameter")
        if not part_number.isdigit() or not 1 <= int(part_number) <= 10000:
            raise InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive",
                extra={"ArgumentName": "partNumber", "ArgumentValue": part_number},
            )
    conditions = read_conditions(headers)
    checksum_mode = headers.get("x-amz-checksum-mode", "").upper() == "ENABLED"
    if head:
        info, byte_range = await api.objects.head_object(
            req.bucket, req.key, version_id=version_id, range_header=range_header, conditions=conditions
        )
        reader = None
    else:
        reader, byte_range = await api.objects.get_object(
            req.bucket, req.key, version_id=version_id, range_header=range_header, conditions=conditions
        )
        info = reader.info
    if part_number is not None:
        try:
            byte_range = _part_range(info, int(part_number), byte_range)
        except S3Error:
            if reader is not None:
                await reader.aclose()
            raise
    return await object_response(
        api,
        req.bucket,
        info,
        reader,
        query=req.query,
        checksum_mode=checksum_mode,
        byte_range=byte_range,
        version_id=version_id,
    )


async def object_response(
    api: S3Api,
    bucket: str,
    info: ObjectInfo,
    reader: ObjectReader | None,
    *,
    query: Mapping[str, str],
    checksum_mode: bool,
    byte_range: ByteRange | None,
    version_id: str | None,
) -> Response:
    """The answer to a GetObject (``reader`` streams the body) or HeadObject (``reader`` is None)."""
    response = Response(status=206 if byte_range is not None else 200)
    add_object_headers(
        response,
        info,
        query=query,
        checksum_mode=checksum_mode,
        byte_range=byte_range,
        include_tag_count=True,  # GetObject and HeadObject both send x-amz-tagging-count
    )
    if version_id is None:
        await _expiration_header(api, bucket, info, response)
    if info.parts_count and "partNumber" in query:
        # S3 sends PartsCount only to a request that names a part (HeadObject, GetObject: "only returned if
        # you specify partNumber in your request and the object was uploaded as a multipart upload")
        response.add("x-amz-mp-parts-count", str(info.parts_count))
    if byte_range is not None:
        response.add("content-range", f"bytes {byte_range.start}-{byte_range.end}/{info.size}")
        length = byte_range.length
    else:
        length = info.size
    response.add("content-length", str(length))
    response.object_size = info.size
    if reader is not None:
        if length <= SMALL_BODY:
            # one message instead of a stream: small objects are read in one go anyway (from the page cache);
            # a reader that can (the filesystem's: ``read_small``) skips the async generator, ~3 us per GET
            read_small = getattr(reader, "read_small", None)
            try:
                if read_small is not None:
                    response.body = read_small(byte_range)
                else:
                    response.body = b"".join([chunk async for chunk in reader.iter_bytes(byte_range)])
            finally:
                await reader.aclose()
            if len(response.body) != length:
                raise InternalError("The object changed size while it was read.")
        else:
            response.stream = reader.iter_bytes(byte_range)
            response.on_close = reader.aclose
    return response


#: bodies up to this size are sent as one message rather than streamed
SMALL_BODY = 64 * 1024


def _part_range(info: ObjectInfo, number: int, byte_range: ByteRange | None) -> ByteRange | None:
    """S3: GetObject/HeadObject with partNumber address one part of a multipart object (206 with its
    Content-Range); part 1 of an ordinary object is the whole object."""
    sizes = info.part_sizes
    if not sizes:
        if number > (info.parts_count or 1):
            raise InvalidPartNumber()
        return byte_range
    if number > len(sizes):
        raise InvalidPartNumber()
    start = sum(sizes[: number - 1])
    if sizes[number - 1] == 0:
        return byte_range
    return ByteRange(start, start + sizes[number - 1] - 1)


async def put_object(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None and req.key is not None
    await public_access.check_acl(api, req.bucket, canned_acl(req.headers.get("x-amz-acl")))
    if "x-amz-copy-source" in req.headers:
        return await copy_object(api, req)
    _require_content_length(req)
    lock = await write_lock(api, req)
    info = await api.objects.put_object(
        req.bucket,
        req.key,
        req.payload(),
        write_attributes(req.headers),
        body_checks(req.headers, req.body),
        write_conditions(req.headers),
        lock=lock,
    )
    response = Response(status=200)
    response.add("etag", info.quoted_etag)
    written_version_header(response, info.version_id)
    add_encryption_header(response, info.headers)
    await _expiration_header(api, req.bucket, info, response)
    for algorithm, value in info.checksums.items():
        response.add(f"x-amz-checksum-{algorithm.lower()}", value)
    if info.checksum_type and info.checksums:
        response.add("x-amz-checksum-type", info.checksum_type)
    response.object_size = info.size
    return response


def parse_copy_source(value: str) -> CopySource:
    """x-amz-copy-source: ``bucket/key[?versionId=id]``, URL-encoded, optional leading slash."""
    source = value.strip()
    version_id = None
    path, sep, query = source.partition("?")
    if sep:
        for item in query.split("&"):
            name, _, val = item.partition("=")
            if name == "versionId":
                version_id = unquote(val)
    path = unquote(path, errors="surrogateescape")
    if path.startswith("/"):
        path = path[1:]
    bucket, slash, key = path.partition("/")
    if not bucket or not slash or not key:
        raise InvalidArgument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            extra={"ArgumentName": "x-amz-copy-source", "ArgumentValue": value},
        )
    if version_id:
        check_version_id(version_id)
    return CopySource(bucket=bucket, key=key, version_id=version_id or None)


def copy_source_conditions(headers: dict[str, str]) -> CopySourceConditions:
    return CopySourceConditions(
        if_match=headers.get("x-amz-copy-source-if-match"),
        if_none_match=headers.get("x-amz-copy-source-if-none-match"),
        if_modified_since=parse_http_date(headers.get("x-amz-copy-source-if-modified-since")),
        if_unmodified_since=parse_http_date(headers.get("x-amz-copy-source-if-unmodified-since")),
    )


async def copy_object(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None and req.key is not None
    headers = req.headers
    source = parse_copy_source(headers["x-amz-copy-source"])
    source = CopySource(
        bucket=source.bucket,
        key=source.key,
        version_id=source.version_id,
        conditions=copy_source_conditions(headers),
    )
    algorithm = headers.get("x-amz-checksum-algorithm")
    options = CopyOptions(
        metadata_directive=headers.get("x-amz-metadata-directive", "COPY"),
        tagging_directive=headers.get("x-amz-tagging-directive", "COPY"),
        attributes=write_attributes(headers),
        checksum_algorithm=algorithm.upper() if algorithm else None,
        conditions=write_conditions(headers) or WriteConditions(),
        lock=await write_lock(api, req),
    )
    result = await api.objects.copy_object(req.bucket, req.key, source, options)
    info = result.info
    response = xml_response(
        s3xml.copy_object_result(etag=info.etag, last_modified=info.last_modified, checksums=info.checksums)
    )
    written_version_header(response, info.version_id)
    add_encryption_header(response, info.headers)
    if result.source_version_id is not None:
        response.add("x-amz-copy-source-version-id", result.source_version_id)
    return response


async def delete_object(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None and req.key is not None
    if_match = req.headers.get("if-match")
    outcome = await api.objects.delete_object(
        req.bucket,
        req.key,
        version_param(req),
        bypass_governance=bypass_governance(req),
        # delete only while the object has this ETag (S3, since 2025); 412 otherwise, 404 when there is none
        condition=None if if_match is None else WriteConditions(if_match=if_match),
    )
    response = Response(status=204)
    if outcome.version_id is not None:
        response.add("x-amz-version-id", outcome.version_id)
    if outcome.delete_marker:
        response.add("x-amz-delete-marker", "true")
    return response


async def get_object_attributes(api: S3Api, req: S3Request) -> Response:
    """GetObjectAttributes (``GET ?attributes``): the attributes named in ``x-amz-object-attributes``."""
    assert req.bucket is not None and req.key is not None
    wanted = [
        name.strip() for name in req.headers.get("x-amz-object-attributes", "").split(",") if name.strip()
    ]
    if not wanted:
        raise InvalidArgument(
            "Empty value provided for header x-amz-object-attributes",
            extra={"ArgumentName": "x-amz-object-attributes"},
        )
    for name in wanted:
        if name not in s3xml.OBJECT_ATTRIBUTES:
            raise InvalidArgument(
                "Invalid attribute name specified.", extra={"ArgumentName": "x-amz-object-attributes"}
            )
    max_parts = parse_max_keys(req.headers.get("x-amz-max-parts"), name="x-amz-max-parts")
    marker = parse_part_number_marker(req.headers.get("x-amz-part-number-marker"), "x-amz-part-number-marker")
    info, _ = await api.objects.head_object(req.bucket, req.key, version_id=version_param(req))
    response = xml_response(
        s3xml.object_attributes(info, wanted, max_parts=max_parts, part_number_marker=marker)
    )
    response.add("last-modified", http_date(info.last_modified))
    _version_header(response, info)
    return response


async def get_object_tagging(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None and req.key is not None
    info = await api.objects.get_tags(req.bucket, req.key, version_param(req))
    # S3 answers a tag set ordered by key, whatever order it was given in
    response = xml_response(s3xml.tagging(sorted(info.tags)))
    _version_header(response, info)
    return response


async def put_object_tagging(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None and req.key is not None
    document = await req.read_payload()
    tags = s3xml.parse_tagging(document)
    info = await api.objects.put_tags(req.bucket, req.key, tuple(tags), version_param(req))
    response = Response(status=200)
    _version_header(response, info)
    return response


async def delete_object_tagging(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None and req.key is not None
    info = await api.objects.delete_tags(req.bucket, req.key, version_param(req))
    response = Response(status=204)
    _version_header(response, info)
    return response


async def get_object_acl(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None and req.key is not None
    info, _ = await api.objects.head_object(req.bucket, req.key, version_id=version_param(req))
    response = xml_response(s3xml.access_control_policy(api.owner_id, api.owner_name, info.acl))
    _version_header(response, info)
    return response


async def put_object_acl(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None and req.key is not None
    acl = await public_access.requested_acl(api, req)  # anything invalid is refused and changes nothing
    await public_access.check_acl(api, req.bucket, acl)
    if acl is None:
        info, _ = await api.objects.head_object(req.bucket, req.key, version_id=version_param(req))
    else:
        info = await api.objects.put_acl(req.bucket, req.key, acl, version_param(req))
    response = Response(status=200)
    _version_header(response, info)
    return response
