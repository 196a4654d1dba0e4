"""Object Lock handlers (S3: Put/GetObjectLockConfiguration, Put/GetObjectRetention, Put/GetObjectLegalHold)
and the helpers other handlers use to read a write's lock headers and the bucket's default retention.

A bucket has Object Lock when it was created with ``x-amz-bucket-object-lock-enabled: true`` or received an
Object Lock configuration later (S3 allows that on a versioning-enabled bucket); the configuration is stored as
the bucket document ``object-lock`` in S3's XML form. The rules themselves live in
``smarts3.domain.services.object_lock``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from smarts3.adapters.http import xml as s3xml
from smarts3.adapters.http.wire import Response, xml_response
from smarts3.domain.errors import (
    InvalidArgument,
    InvalidBucketState,
    InvalidRequest,
    MalformedXML,
    NoSuchObjectLockConfiguration,
    ObjectLockConfigurationNotFoundError,
)
from smarts3.domain.services.object_lock import (
    MISSING_CONFIGURATION_MESSAGE,
    NO_LOCK,
    BucketLock,
    DefaultRetention,
    LockSettings,
    check_write_lock,
)
from smarts3.domain.services.objects import check_version_id

if TYPE_CHECKING:
    from smarts3.entrypoints.s3.api import S3Api
    from smarts3.entrypoints.s3.request import S3Request

OBJECT_LOCK_KIND = "object-lock"
BYPASS_HEADER = "x-amz-bypass-governance-retention"
_LOCK_HEADERS = (
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
)


def _now() -> datetime:
    return datetime.now(UTC)


def bypass_governance(req: S3Request) -> bool:
    return req.headers.get(BYPASS_HEADER, "").strip().lower() == "true"


def _version(req: S3Request) -> str | None:
    version_id = req.query.get("versionId")
    if version_id is None:
        return None
    return check_version_id(version_id)


def _parse_until(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidArgument(
            "The retain until date must be provided in ISO 8601 format",
            extra={"ArgumentName": "x-amz-object-lock-retain-until-date", "ArgumentValue": value},
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def requested_lock(headers: Mapping[str, str]) -> LockSettings:
    """The x-amz-object-lock-* headers of a PUT, copy or CreateMultipartUpload, not yet validated."""
    if not any(name in headers for name in _LOCK_HEADERS):
        return NO_LOCK
    until = headers.get("x-amz-object-lock-retain-until-date")
    return LockSettings(
        mode=headers.get("x-amz-object-lock-mode"),
        retain_until=None if until is None else _parse_until(until),
        legal_hold=headers.get("x-amz-object-lock-legal-hold"),
    )


async def bucket_lock(api: S3Api, bucket: str, document: bytes | None = None) -> BucketLock:
    """Whether ``bucket`` has Object Lock and its default retention. NoSuchBucket if absent."""
    if document is None:
        document = await api.buckets.get_config(bucket, OBJECT_LOCK_KIND)
    if document is not None:
        config = s3xml.parse_object_lock_configuration(document)
        default = None
        if config.mode is not None:
            default = DefaultRetention(mode=config.mode, days=config.days, years=config.years)
        return BucketLock(enabled=True, default=default)
    info = await api.buckets.get(bucket)
    return BucketLock(enabled=info.object_lock_enabled)


async def write_lock(api: S3Api, req: S3Request) -> LockSettings:
    """The lock state a new version written by ``req`` gets: its headers (validated), else the bucket's default
    retention. One small read for buckets without Object Lock."""
    assert req.bucket is not None
    return await lock_for(api, req.bucket, req.headers)


async def lock_for(api: S3Api, bucket: str, fields: Mapping[str, str]) -> LockSettings:
    """``write_lock`` for lower-case ``x-amz-object-lock-*`` headers or browser-form fields."""
    requested = requested_lock(fields)
    document = await api.buckets.get_config(bucket, OBJECT_LOCK_KIND)
    if document is None and requested.empty:
        return NO_LOCK
    return check_write_lock(requested, await bucket_lock(api, bucket, document), _now())


async def default_retention(api: S3Api, bucket: str) -> DefaultRetention | None:
    """The bucket's default retention (multipart complete applies it when the upload named no lock)."""
    document = await api.buckets.get_config(bucket, OBJECT_LOCK_KIND)
    if document is None:
        return None
    return (await bucket_lock(api, bucket, document)).default


async def _require_lock(api: S3Api, bucket: str) -> None:
    if not (await bucket_lock(api, bucket)).enabled:
        raise InvalidRequest(MISSING_CONFIGURATION_MESSAGE)


# -- bucket configuration ---------------------------------------------------------------------------------
async def get_object_lock_configuration(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None
    document = await api.buckets.get_config(req.bucket, OBJECT_LOCK_KIND)
    if document is not None:
        return xml_response(document)
    if not (await api.buckets.get(req.bucket)).object_lock_enabled:
        raise ObjectLockConfigurationNotFoundError(
            "Object Lock configuration does not exist for this bucket", extra={"BucketName": req.bucket}
        )
    return xml_response(s3xml.object_lock_configuration(s3xml.ObjectLockConfiguration(enabled=True)))


async def put_object_lock_configuration(api: S3Api, req: S3Request) -> Response:
    """S3 accepts a configuration on a bucket created with Object Lock, or on any bucket whose versioning is
    Enabled (which turns Object Lock on for good); ``ObjectLockEnabled`` must say ``Enabled``."""
    assert req.bucket is not None
    bucket = await api.buckets.get(req.bucket)
    config = s3xml.parse_object_lock_configuration(await req.read_payload())
    if not config.enabled:
        raise MalformedXML()
    has_lock = bucket.object_lock_enabled or (
        await api.buckets.get_config(req.bucket, OBJECT_LOCK_KIND) is not None
    )
    if not has_lock and await api.buckets.get_versioning(req.bucket) != "Enabled":
        raise InvalidBucketState("Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration")
    await api.buckets.put_config(req.bucket, OBJECT_LOCK_KIND, s3xml.object_lock_configuration(config))
    return Response(status=200)


# -- per-version retention and legal hold ----------------------------------------------------------------
async def get_object_retention(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None and req.key is not None
    version_id = _version(req)
    await _require_lock(api, req.bucket)
    info, _ = await api.objects.head_object(req.bucket, req.key, version_id=version_id)
    if info.lock_mode is None:
        raise NoSuchObjectLockConfiguration()
    return xml_response(s3xml.retention(info.lock_mode, info.lock_retain_until))


async def put_object_retention(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None and req.key is not None
    version_id = _version(req)
    await _require_lock(api, req.bucket)
    mode, until = s3xml.parse_retention(await req.read_payload())
    await api.objects.put_retention(
        req.bucket, req.key, version_id, mode, until, bypass_governance=bypass_governance(req)
    )
    return Response(status=200)


async def get_object_legal_hold(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None and req.key is not None
    version_id = _version(req)
    await _require_lock(api, req.bucket)
    info, _ = await api.objects.head_object(req.bucket, req.key, version_id=version_id)
    if info.legal_hold is None:
        raise NoSuchObjectLockConfiguration()
    return xml_response(s3xml.legal_hold(info.legal_hold))


async def put_object_legal_hold(api: S3Api, req: S3Request) -> Response:
    assert req.bucket is not None and req.key is not None
    version_id = _version(req)
    await _require_lock(api, req.bucket)
    status = s3xml.parse_legal_hold(await req.read_payload())
    await api.objects.put_legal_hold(req.bucket, req.key, version_id, status)
    return Response(status=200)


async def get_handler(api: S3Api, req: S3Request) -> Response:
    """GET ?retention or ?legal-hold on an object."""
    if "retention" in req.query:
        return await get_object_retention(api, req)
    return await get_object_legal_hold(api, req)


async def put_handler(api: S3Api, req: S3Request) -> Response:
    """PUT ?retention or ?legal-hold on an object."""
    if "retention" in req.query:
        return await put_object_retention(api, req)
    return await put_object_legal_hold(api, req)
