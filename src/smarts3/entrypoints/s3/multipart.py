"""Multipart upload handlers (S3: CreateMultipartUpload ... ListMultipartUploads)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smarts3.adapters.http import xml as s3xml
from smarts3.adapters.http.encryption import add_encryption_header
from smarts3.adapters.http.object_headers import body_checks, canned_acl, write_attributes
from smarts3.adapters.http.wire import Response, xml_response
from smarts3.domain.checksums import normalize_algorithm
from smarts3.domain.services.listing import parse_max_keys
from smarts3.domain.services.multipart import CompletedPart, parse_part_number, parse_part_number_marker
from smarts3.domain.services.objects import CopySource
from smarts3.entrypoints.s3 import public_access
from smarts3.entrypoints.s3.object_lock import default_retention, write_lock
from smarts3.entrypoints.s3.objects import (
    copy_source_conditions,
    parse_copy_source,
    write_conditions,
    written_version_header,
)

if TYPE_CHECKING:
    from smarts3.entrypoints.s3.api import S3Api
    from smarts3.entrypoints.s3.request import S3Request


async def create_upload(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None and req.key is not None
    headers = req.headers
    await public_access.check_acl(api, req.bucket, canned_acl(headers.get("x-amz-acl")))
    algorithm = headers.get("x-amz-checksum-algorithm")
    upload = await api.multipart.create(
        req.bucket,
        req.key,
        write_attributes(headers),
        checksum_algorithm=normalize_algorithm(algorithm) if algorithm else None,
        checksum_type=headers.get("x-amz-checksum-type", "").upper() or None,
        lock=await write_lock(api, req),
    )
    response = xml_response(s3xml.initiate_multipart_upload(req.bucket, req.key, upload.upload_id))
    add_encryption_header(response, headers)
    if upload.checksum_algorithm:
        response.add("x-amz-checksum-algorithm", upload.checksum_algorithm)
    if upload.checksum_type:
        response.add("x-amz-checksum-type", upload.checksum_type)
    return response


async def upload_part(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None and req.key is not None
    part_number = parse_part_number(req.query.get("partNumber"))
    upload_id = req.query["uploadId"]
    if "x-amz-copy-source" in req.headers:
        return await upload_part_copy(api, req, part_number, upload_id)
    part = await api.multipart.upload_part(
        req.bucket, req.key, upload_id, part_number, req.payload(), body_checks(req.headers, req.body)
    )
    response = Response(status=200)
    response.add("etag", f'"{part.etag}"')
    for algorithm, value in part.checksums.items():
        response.add(f"x-amz-checksum-{algorithm.lower()}", value)
    response.object_size = part.size
    return response


async def upload_part_copy(api: S3Api, req: S3Request, part_number: int, upload_id: str) -> Response:
    assert req.bucket is not None and req.key is not None
    source = parse_copy_source(req.headers["x-amz-copy-source"])
    source = CopySource(
        bucket=source.bucket,
        key=source.key,
        version_id=source.version_id,
        conditions=copy_source_conditions(req.headers),
    )
    part, source_version = await api.multipart.upload_part_copy(
        req.bucket, req.key, upload_id, part_number, source, req.headers.get("x-amz-copy-source-range")
    )
    response = xml_response(
        s3xml.copy_part_result(etag=part.etag, last_modified=part.last_modified, checksums=part.checksums)
    )
    if source_version is not None:
        response.add("x-amz-copy-source-version-id", source_version)
    return response


async def complete_upload(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None and req.key is not None
    upload_id = req.query["uploadId"]
    conditions = write_conditions(req.headers)
    document = await req.read_payload()
    parts = [
        CompletedPart(part_number=number, etag=etag, checksums=dict(checksums))
        for number, etag, checksums in s3xml.parse_complete_multipart_upload(document)
    ]
    info = await api.multipart.complete(
        req.bucket,
        req.key,
        upload_id,
        parts,
        conditions,
        default_retention=await default_retention(api, req.bucket),
        expected_checksums=body_checks(req.headers, composite=True).expected,
    )
    location = f"/{req.bucket}/{req.key}"
    response = xml_response(
        s3xml.complete_multipart_upload(
            location=location,
            bucket=req.bucket,
            key=req.key,
            etag=info.etag,
            checksums=info.checksums,
            checksum_type=info.checksum_type,
        )
    )
    written_version_header(response, info.version_id)
    add_encryption_header(response, info.headers)
    return response


async def abort_upload(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None and req.key is not None
    await api.multipart.abort(req.bucket, req.key, req.query["uploadId"])
    return Response(status=204)


async def list_parts(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None and req.key is not None
    query = req.query
    upload_id = query["uploadId"]
    max_parts = parse_max_keys(query.get("max-parts"), name="max-parts")
    marker = parse_part_number_marker(query.get("part-number-marker"))
    upload, parts, truncated = await api.multipart.list_parts(
        req.bucket, req.key, upload_id, marker=marker, max_parts=max_parts
    )
    return xml_response(
        s3xml.list_parts(
            req.bucket,
            req.key,
            upload_id,
            parts,
            part_number_marker=marker,
            next_part_number_marker=parts[-1].part_number if parts else marker,
            max_parts=max_parts,
            is_truncated=truncated,
            owner=api.owner,
            storage_class=upload.storage_class,
            checksum_algorithm=upload.checksum_algorithm,
        )
    )


async def list_uploads(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None
    query = req.query
    encoding = query.get("encoding-type")
    max_uploads = parse_max_keys(query.get("max-uploads"), name="max-uploads")
    prefix = query.get("prefix", "")
    delimiter = query.get("delimiter", "")
    key_marker = query.get("key-marker", "")
    upload_id_marker = query.get("upload-id-marker", "")
    uploads, prefixes, truncated = await api.multipart.list_uploads(
        req.bucket,
        prefix=prefix,
        delimiter=delimiter,
        key_marker=key_marker,
        upload_id_marker=upload_id_marker,
        max_uploads=max_uploads,
    )
    last = uploads[-1] if uploads else None
    return xml_response(
        s3xml.list_multipart_uploads(
            req.bucket,
            uploads,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            next_key_marker=last.key if last and truncated else None,
            next_upload_id_marker=last.upload_id if last and truncated else None,
            max_uploads=max_uploads,
            is_truncated=truncated,
            common_prefixes=prefixes,
            encoding_type=encoding,
            owner=api.owner,
        )
    )
