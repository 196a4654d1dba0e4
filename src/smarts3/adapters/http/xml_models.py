"""Structures the S3 XML adapter reads from request bodies and writes back (CORS, lifecycle, object lock).

Frozen attrs values, shared by ``xml_decode`` (which builds them after S3's validation) and ``xml_encode``
(which serialises them for the GET counterpart of each configuration).
"""

from __future__ import annotations

from datetime import datetime

import attrs


@attrs.frozen
class Owner:
    """``<Owner>``/``<Initiator>``: S3 stopped sending DisplayName in most regions in 2025, so it is optional."""

    id: str
    display_name: str | None = None


@attrs.frozen
class CorsRule:
    """One ``<CORSRule>`` (S3: PutBucketCors)."""

    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    id: str | None = None


@attrs.frozen
class LifecycleFilter:
    """``<Filter>``: exactly one predicate, or ``<And>`` of several (``is_and``), or nothing (whole bucket)."""

    prefix: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    object_size_greater_than: int | None = None
    object_size_less_than: int | None = None
    is_and: bool = False


@attrs.frozen
class LifecycleExpiration:
    days: int | None = None
    date: datetime | None = None
    expired_object_delete_marker: bool | None = None


@attrs.frozen
class NoncurrentVersionExpiration:
    noncurrent_days: int | None = None
    newer_noncurrent_versions: int | None = None


@attrs.frozen
class LifecycleRule:
    """One ``<Rule>`` of a lifecycle configuration (S3: PutBucketLifecycleConfiguration).

    ``filter`` is None when the rule used the legacy top-level ``<Prefix>`` (kept in ``prefix``).
    ``transitions`` and ``noncurrent_transitions`` hold the raw elements re-serialised without namespace
    (``<Transition><Days>30</Days>...</Transition>``): smarts3 has one storage class, so it only echoes them.
    """

    status: str
    id: str | None = None
    filter: LifecycleFilter | None = None
    prefix: str | None = None
    expiration: LifecycleExpiration | None = None
    noncurrent_version_expiration: NoncurrentVersionExpiration | None = None
    abort_incomplete_multipart_upload_days: int | None = None
    transitions: tuple[str, ...] = ()
    noncurrent_transitions: tuple[str, ...] = ()


@attrs.frozen
class ObjectLockConfiguration:
    """``<ObjectLockConfiguration>``: ``mode`` with exactly one of ``days``/``years`` when a default retention
    rule is present, all three None otherwise."""

    enabled: bool = True
    mode: str | None = None
    days: int | None = None
    years: int | None = None
