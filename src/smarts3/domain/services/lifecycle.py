"""Lifecycle rules (S3: "Managing your storage lifecycle"): what a bucket's rules expire at a given instant.

Pure: given the rules, the versions of one key (newest first) or the bucket's multipart uploads, the current
time and the length of a "day", answer the actions to take. A runner (``entrypoints/lifecycle_runner.py``)
lists storage, asks this module, and applies the actions through the object and multipart services.

Supported actions: Expiration (Days or Date; in a versioned bucket it adds a delete marker),
ExpiredObjectDeleteMarker, NoncurrentVersionExpiration (NoncurrentDays, NewerNoncurrentVersions) and
AbortIncompleteMultipartUpload, with filters by prefix, tags and object size. Transitions are stored and
reported by GetBucketLifecycleConfiguration but never applied: smarts3 has one storage tier.

Due times: with real days an action is due, as in S3, ``days`` days after its start rounded up to the next
midnight UTC (the date ``x-amz-expiration`` announces); with a shortened day (``lifecycle.day_seconds``, for
tests) exactly ``days * day`` after its start, so the timing is exact. Versions under an Object
Lock retention or legal hold are never removed (S3 does the same); expiring a current version of a versioned
bucket only adds a delete marker, which Object Lock allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Literal

import attrs

from smarts3.domain.models import ObjectInfo, UploadInfo
from smarts3.domain.services.object_lock import is_protected

ActionKind = Literal["expire-current", "delete-version", "remove-delete-marker", "abort-upload"]


@attrs.frozen
class RuleFilter:
    """Every condition must hold (S3's ``<Filter>``, ``<And>`` or legacy ``<Prefix>``); empty matches all."""

    prefix: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    size_greater_than: int | None = None
    size_less_than: int | None = None

    def matches_key(self, key: str) -> bool:
        return key.startswith(self.prefix)

    def matches(self, info: ObjectInfo) -> bool:
        if not info.key.startswith(self.prefix):
            return False
        if self.tags:
            own = set(info.tags)
            if not all(tag in own for tag in self.tags):
                return False
        if self.size_greater_than is not None and not info.size > self.size_greater_than:
            return False
        return self.size_less_than is None or info.size < self.size_less_than


@attrs.frozen
class Rule:
    """One enabled-or-disabled rule, in domain terms (the HTTP edge parses S3's XML into it)."""

    id: str = ""
    enabled: bool = True
    filter: RuleFilter = RuleFilter()
    expiration_days: int | None = None
    expiration_date: datetime | None = None
    expired_object_delete_marker: bool = False
    noncurrent_days: int | None = None
    newer_noncurrent_versions: int | None = None
    abort_upload_days: int | None = None


@attrs.frozen
class Action:
    """One thing the runner should do. ``expire-current`` carries the ETag and modification time the plan saw,
    so the runner expires that object only (a client may overwrite it meanwhile)."""

    kind: ActionKind
    key: str
    rule_id: str
    version_id: str | None = None
    upload_id: str | None = None
    etag: str | None = None
    last_modified: datetime | None = None


_REAL_DAY = timedelta(days=1)


def _next_midnight(moment: datetime) -> datetime:
    """``moment`` rounded up to a midnight UTC (itself when it is one)."""
    midnight = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == moment else midnight + _REAL_DAY


def due_time(start: datetime, days: int, day: timedelta) -> datetime:
    """When an action ``days`` "days" after ``start`` is due (see the module doc for real and short days)."""
    if day == _REAL_DAY:
        return _next_midnight(start + days * _REAL_DAY)
    return start + days * day


def _due(start: datetime, days: int, day: timedelta, now: datetime) -> bool:
    return due_time(start, days, day) <= now


def _current_expires(rule: Rule, latest: ObjectInfo, day: timedelta, now: datetime) -> bool:
    if not rule.filter.matches(latest):
        return False
    if rule.expiration_days is not None and _due(latest.last_modified, rule.expiration_days, day, now):
        return True
    return rule.expiration_date is not None and rule.expiration_date <= now


def _noncurrent_expired(
    rule: Rule, versions: Sequence[ObjectInfo], day: timedelta, now: datetime
) -> list[ObjectInfo]:
    """Noncurrent versions (and delete markers) ``rule`` expires. A version became noncurrent when the next
    newer one was written; NewerNoncurrentVersions keeps that many of the newest matching noncurrent ones."""
    if rule.noncurrent_days is None:
        return []
    keep = rule.newer_noncurrent_versions or 0
    expired: list[ObjectInfo] = []
    seen = 0
    for newer, version in pairwise(versions):
        if not rule.filter.matches(version):
            continue
        seen += 1
        if seen <= keep:
            continue
        if _due(newer.last_modified, rule.noncurrent_days, day, now) and not is_protected(version, now):
            expired.append(version)
    return expired


def plan_key(
    rules: Iterable[Rule], versions: Sequence[ObjectInfo], *, now: datetime, day: timedelta
) -> list[Action]:
    """Actions for one key, given all its versions newest first (one entry, without id, when the bucket never
    had versioning)."""
    if not versions:
        return []
    active = [rule for rule in rules if rule.enabled]
    latest = versions[0]
    key = latest.key
    actions: list[Action] = []
    if not latest.is_delete_marker:
        for rule in active:
            if _current_expires(rule, latest, day, now):
                actions.append(
                    Action(
                        "expire-current",
                        key,
                        rule.id,
                        version_id=latest.version_id,
                        etag=latest.etag,
                        last_modified=latest.last_modified,
                    )
                )
                break
    removed: set[str | None] = set()
    for rule in active:
        for version in _noncurrent_expired(rule, versions, day, now):
            if version.version_id not in removed:
                removed.add(version.version_id)
                actions.append(Action("delete-version", key, rule.id, version_id=version.version_id))
    remaining = [v for v in versions if v.version_id not in removed]
    if latest.is_delete_marker and len(remaining) == 1:
        # S3: an expired object delete marker is one with no noncurrent versions left behind it
        for rule in active:
            if rule.expired_object_delete_marker and rule.filter.matches_key(key):
                actions.append(Action("remove-delete-marker", key, rule.id, version_id=latest.version_id))
                break
    return actions


def plan_uploads(
    rules: Iterable[Rule], uploads: Iterable[UploadInfo], *, now: datetime, day: timedelta
) -> list[Action]:
    """AbortIncompleteMultipartUpload: uploads initiated at least DaysAfterInitiation days ago (prefix filter)."""
    active = [rule for rule in rules if rule.enabled and rule.abort_upload_days is not None]
    actions: list[Action] = []
    for upload in uploads:
        for rule in active:
            assert rule.abort_upload_days is not None
            if rule.filter.matches_key(upload.key) and _due(
                upload.initiated, rule.abort_upload_days, day, now
            ):
                actions.append(Action("abort-upload", upload.key, rule.id, upload_id=upload.upload_id))
                break
    return actions


def expiry(rules: Iterable[Rule], info: ObjectInfo) -> tuple[datetime, str] | None:
    """When S3 says the current object ``info`` expires, and by which rule (GET/HEAD/PUT ``x-amz-expiration``).

    S3's announced date: creation time plus the rule's Days, rounded up to the next midnight UTC (or the rule's
    Date). The earliest of the enabled Expiration rules whose filter matches wins; None when none does."""
    best: tuple[datetime, str] | None = None
    for rule in rules:
        if not rule.enabled or not rule.filter.matches(info):
            continue
        if rule.expiration_days is not None:
            when = due_time(info.last_modified, rule.expiration_days, _REAL_DAY)
        elif rule.expiration_date is not None:
            when = rule.expiration_date
        else:
            continue
        if best is None or when < best[0]:
            best = (when, rule.id)
    return best


def needs_versions(rules: Iterable[Rule]) -> bool:
    """True when some enabled rule looks at noncurrent versions or delete markers."""
    return any(
        rule.enabled and (rule.noncurrent_days is not None or rule.expired_object_delete_marker)
        for rule in rules
    )


__all__ = [
    "Action",
    "ActionKind",
    "Rule",
    "RuleFilter",
    "expiry",
    "needs_versions",
    "plan_key",
    "plan_uploads",
]
