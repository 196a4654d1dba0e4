"""Bucket operation handlers: bucket lifecycle, listings, batch delete and per-bucket configuration."""

from __future__ import annotations

import base64
import secrets
from typing import TYPE_CHECKING

import attrs

from smarts3.adapters.http import xml as s3xml
from smarts3.adapters.http.wire import Response, xml_response
from smarts3.domain import acl as acls
from smarts3.domain import policy
from smarts3.domain.errors import (
    InvalidArgument,
    MissingSecurityHeader,
    NoSuchBucketPolicy,
    NoSuchCORSConfiguration,
    NoSuchLifecycleConfiguration,
    NoSuchPublicAccessBlockConfiguration,
    NoSuchTagSet,
    S3Error,
)
from smarts3.domain.services.listing import parse_max_keys
from smarts3.domain.services.objects import DeleteRequestItem, check_version_id
from smarts3.entrypoints.s3 import public_access

if TYPE_CHECKING:
    from smarts3.entrypoints.s3.api import S3Api
    from smarts3.entrypoints.s3.request import S3Request


def _encoding_type(req: S3Request) -> str | None:
    value = req.query.get("encoding-type")
    if value is None:
        return None
    if value.lower() != "url":
        raise InvalidArgument(
            "Invalid Encoding Method specified in Request", extra={"ArgumentName": "encoding-type"}
        )
    return "url"


def _max_buckets(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 10000:
        raise InvalidArgument(
            "max-buckets must be between 1 and 10000", extra={"ArgumentName": "max-buckets"}
        )
    return value


def _bucket_token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode("ascii")


def _bucket_after_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode()
    except (ValueError, UnicodeError):
        raise InvalidArgument(
            "The continuation token provided is incorrect", extra={"ArgumentName": "continuation-token"}
        ) from None


async def list_buckets(api: S3Api, req: S3Request) -> Response:
    """ListBuckets, paginated by name with max-buckets / continuation-token, filtered by prefix and bucket-region."""
    query = req.query
    buckets = list(await api.buckets.list())
    prefix = query.get("prefix")
    if prefix:
        buckets = [b for b in buckets if b.name.startswith(prefix)]
    region = query.get("bucket-region")
    if region:
        buckets = [b for b in buckets if b.region == region]
    token = query.get("continuation-token")
    if token:
        after = _bucket_after_token(token)
        buckets = [b for b in buckets if b.name > after]
    limit = _max_buckets(query.get("max-buckets"))
    next_token = None
    if limit is not None and len(buckets) > limit:
        buckets = buckets[:limit]
        next_token = _bucket_token(buckets[-1].name)
    return xml_response(
        s3xml.list_buckets(
            buckets,
            owner_id=api.owner_id,
            owner_name=api.owner_name,
            prefix=prefix,
            continuation_token=next_token,
        )
    )


async def create_bucket(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None
    document = await req.read_payload()
    location = s3xml.parse_create_bucket_configuration(document) if document.strip() else None
    object_lock = req.headers.get("x-amz-bucket-object-lock-enabled", "").lower() == "true"
    acl = public_access.header_acl(api, req.headers)  # refused before anything is made
    await api.buckets.create(req.bucket, location=location, object_lock=object_lock)
    # also when the bucket was already yours (us-east-1 answers 200): S3 then resets its ACL, which Block Public
    # Access must still allow
    await public_access.check_acl(api, req.bucket, acl)
    await _store_bucket_acl(api, req.bucket, acl or "private")
    response = Response(status=200)
    response.add("location", f"/{req.bucket}")
    return response


async def delete_bucket(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None
    await api.buckets.delete(req.bucket)
    return Response(status=204)


async def head_bucket(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None
    bucket = await api.buckets.get(req.bucket)
    response = Response(status=200)
    response.add("x-amz-bucket-region", bucket.region)
    response.add("x-amz-access-point-alias", "false")
    return response


async def get_bucket_location(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None
    bucket = await api.buckets.get(req.bucket)
    return xml_response(s3xml.location_constraint(bucket.region))


async def list_objects(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None
    query = req.query
    if query.get("list-type") == "2":
        return await list_objects_v2(api, req)
    if "list-type" in query:
        raise InvalidArgument("Invalid List Type specified in Request", extra={"ArgumentName": "list-type"})
    encoding = _encoding_type(req)
    max_keys = parse_max_keys(query.get("max-keys"))
    prefix = query.get("prefix", "")
    delimiter = query.get("delimiter", "")
    marker = query.get("marker", "")
    page = await api.listing.list_v1(
        req.bucket, prefix=prefix, delimiter=delimiter, marker=marker, max_keys=max_keys
    )
    return xml_response(
        s3xml.list_objects_v1(
            req.bucket,
            page,
            prefix=prefix,
            delimiter=delimiter,
            marker=marker,
            max_keys=max_keys,
            encoding_type=encoding,
            owner=api.owner,
        )
    )


async def list_objects_v2(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None
    query = req.query
    encoding = _encoding_type(req)
    max_keys = parse_max_keys(query.get("max-keys"))
    prefix = query.get("prefix", "")
    delimiter = query.get("delimiter", "")
    start_after = query.get("start-after", "")
    token = query.get("continuation-token")
    result = await api.listing.list_v2(
        req.bucket,
        prefix=prefix,
        delimiter=delimiter,
        # an empty continuation-token (what some SDKs send for "from the start") lists from the start
        continuation_token=token or None,
        start_after=start_after,
        max_keys=max_keys,
    )
    page = result.page
    return xml_response(
        s3xml.list_objects_v2(
            req.bucket,
            page,
            prefix=prefix,
            delimiter=delimiter,
            max_keys=max_keys,
            start_after=start_after or None,
            continuation_token=token,
            next_continuation_token=result.next_token,
            key_count=len(page.objects) + len(page.common_prefixes),
            fetch_owner=query.get("fetch-owner", "").lower() == "true",
            encoding_type=encoding,
            owner=api.owner,
        )
    )


async def list_object_versions(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None
    query = req.query
    encoding = _encoding_type(req)
    max_keys = parse_max_keys(query.get("max-keys"))
    prefix = query.get("prefix", "")
    delimiter = query.get("delimiter", "")
    key_marker = query.get("key-marker", "")
    version_id_marker = query.get("version-id-marker", "")
    if version_id_marker and not key_marker:
        # S3: ListObjectVersions
        raise InvalidArgument(
            "A version-id marker cannot be specified without a key marker.",
            extra={"ArgumentName": "version-id-marker", "ArgumentValue": version_id_marker},
        )
    if version_id_marker:
        check_version_id(version_id_marker)
    page = await api.listing.list_versions(
        req.bucket,
        prefix=prefix,
        delimiter=delimiter,
        key_marker=key_marker,
        version_id_marker=version_id_marker,
        max_keys=max_keys,
    )
    return xml_response(
        s3xml.list_versions(
            req.bucket,
            page,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            version_id_marker=version_id_marker,
            max_keys=max_keys,
            encoding_type=encoding,
            owner=api.owner,
        )
    )


async def delete_objects(api: S3Api, req: S3Request) -> Response:
    """POST ?delete. S3 requires Content-MD5 or an x-amz-checksum-* header; the body checks verify it."""
    assert req.bucket is not None
    headers = req.headers
    if (
        "content-md5" not in headers
        and not any(name.startswith("x-amz-checksum-") for name in headers)
        and "x-amz-sdk-checksum-algorithm" not in headers
        and "x-amz-trailer" not in headers
    ):
        raise MissingSecurityHeader(
            "Missing required header for this request: Content-MD5 OR x-amz-checksum-*",
            extra={"MissingHeaderName": "Content-MD5"},
        )
    document = await api.read_verified_document(req)
    quiet, objects = s3xml.parse_delete(document)
    results = await api.objects.delete_objects(
        req.bucket,
        [
            DeleteRequestItem(key=key, version_id=version_id, if_match=etag)
            for key, version_id, etag in objects
        ],
        bypass_governance=req.headers.get("x-amz-bypass-governance-retention", "").lower() == "true",
    )
    deleted = []
    errors = []
    for result in results:
        if result.error is not None:
            errors.append((result.key, result.version_id, result.error.code, result.error.message))
            continue
        outcome = result.outcome
        assert outcome is not None
        marker = outcome.delete_marker
        deleted.append(
            (
                result.key,
                result.version_id,
                marker,
                outcome.version_id if marker else None,
            )
        )
    return xml_response(s3xml.delete_result(deleted, errors, quiet=quiet))


# -- configuration documents -------------------------------------------------------------------------------
async def get_versioning(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None
    status = await api.buckets.get_versioning(req.bucket)
    return xml_response(s3xml.versioning_configuration(status, None))


async def put_versioning(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None
    status, _mfa = s3xml.parse_versioning(await req.read_payload())
    await api.buckets.put_versioning(req.bucket, status or "")
    return Response(status=200)


_MISSING = {
    "tagging": NoSuchTagSet,
    "cors": NoSuchCORSConfiguration,
    "lifecycle": NoSuchLifecycleConfiguration,
    "policy": NoSuchBucketPolicy,
    public_access.PUBLIC_ACCESS_BLOCK_KIND: NoSuchPublicAccessBlockConfiguration,
}


async def get_config(api: S3Api, req: S3Request, kind: str) -> Response:
    assert req.bucket is not None
    document = await api.buckets.get_config(req.bucket, kind)
    if document is None:
        raise _MISSING[kind]()
    if kind == "policy":
        return Response(status=200, headers=[(b"content-type", b"application/json")], body=document)
    return xml_response(document)


def _new_rule_id() -> str:
    return base64.b64encode(secrets.token_bytes(36)).decode("ascii")


async def put_config(api: S3Api, req: S3Request, kind: str) -> Response:
    assert req.bucket is not None
    await api.buckets.get(req.bucket)
    document = await req.read_payload()
    if kind == "tagging":
        tags = s3xml.parse_tagging(document, max_tags=50)
        document = s3xml.tagging(tags)
    elif kind == "cors":
        s3xml.parse_cors(document)
    elif kind == "lifecycle":
        rules = s3xml.parse_lifecycle(document)
        if any(not rule.id for rule in rules):
            # S3 names a rule sent without <ID> (GetBucketLifecycleConfiguration always returns one)
            named = [rule if rule.id else attrs.evolve(rule, id=_new_rule_id()) for rule in rules]
            document = s3xml.lifecycle_configuration(named)
    elif kind == "policy":
        policy.validate(document, req.bucket)
        await public_access.check_policy(api, req.bucket, document)
    elif kind == public_access.PUBLIC_ACCESS_BLOCK_KIND:
        document = s3xml.public_access_block(s3xml.parse_public_access_block(document))
    await api.buckets.put_config(req.bucket, kind, document)
    # S3 answers PutBucketPolicy and PutBucketTagging with 204 No Content, PutBucketCors/Lifecycle with 200
    return Response(status=204 if kind in ("policy", "tagging") else 200)


async def delete_config(api: S3Api, req: S3Request, kind: str) -> Response:
    assert req.bucket is not None
    await api.buckets.get(req.bucket)
    await api.buckets.put_config(req.bucket, kind, None)
    return Response(status=204)


async def get_policy_status(api: S3Api, req: S3Request) -> Response:
    """GetBucketPolicyStatus: public when the bucket's policy allows everyone without a condition (ACLs do not
    count, as in S3); a bucket without a policy is not public."""
    assert req.bucket is not None
    await api.buckets.get(req.bucket)
    document = await api.buckets.get_config(req.bucket, "policy")
    return xml_response(
        s3xml.policy_status(document is not None and public_access.is_public_policy(document))
    )


async def get_bucket_acl(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None
    await api.buckets.get(req.bucket)
    canned = await api.buckets.get_config(req.bucket, "acl")
    return xml_response(
        s3xml.access_control_policy(api.owner_id, api.owner_name, canned.decode() if canned else None)
    )


async def put_bucket_acl(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None
    await api.buckets.get(req.bucket)
    acl = await public_access.requested_acl(api, req)  # anything invalid is refused and changes nothing
    await public_access.check_acl(api, req.bucket, acl)
    if acl is not None:
        await _store_bucket_acl(api, req.bucket, acl)
    return Response(status=200)


async def _store_bucket_acl(api: S3Api, bucket: str, acl: str) -> None:
    """Keep a bucket's ACL; one that grants nothing beyond the owner's FULL_CONTROL is stored as none."""
    await api.buckets.put_config(bucket, "acl", acl.encode() if acls.grants_anything(acl) else None)


async def not_configured(api: S3Api, req: S3Request, error: type[S3Error]) -> Response:
    assert req.bucket is not None
    await api.buckets.get(req.bucket)
    raise error()
