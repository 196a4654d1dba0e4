"""Object Lock rules (S3: "Locking objects with Object Lock"), as pure decisions over domain values.

Which lock a new version gets (explicit headers or the bucket's default retention), whether a version may be
deleted by id, and whether a retention or legal hold may be changed. No I/O: the services and the HTTP edge
read the bucket's configuration and the version, then ask these functions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from smarts3.domain.errors import AccessDenied, InvalidArgument, InvalidRequest
from smarts3.domain.models import ObjectInfo

GOVERNANCE = "GOVERNANCE"
COMPLIANCE = "COMPLIANCE"
LOCK_MODES = (GOVERNANCE, COMPLIANCE)
LEGAL_HOLD_STATUSES = ("ON", "OFF")

#: S3 answers AccessDenied with this message when Object Lock refuses a change.
PROTECTED_MESSAGE = "Access Denied because object protected by object lock."
MISSING_CONFIGURATION_MESSAGE = "Bucket is missing Object Lock Configuration"


@attrs.frozen
class DefaultRetention:
    """A bucket's default retention rule (S3: PutObjectLockConfiguration, DefaultRetention)."""

    mode: str
    days: int | None = None
    years: int | None = None

    def retain_until(self, now: datetime) -> datetime:
        # S3 counts a retention year as 365 days.
        return now + timedelta(days=self.days if self.days is not None else 365 * (self.years or 0))


@attrs.frozen
class BucketLock:
    """Whether a bucket has Object Lock, and its default retention (None when it has no default rule)."""

    enabled: bool = False
    default: DefaultRetention | None = None


@attrs.frozen
class LockSettings:
    """The lock state a write gives its new version (x-amz-object-lock-* headers, or the bucket default)."""

    mode: str | None = None
    retain_until: datetime | None = None
    legal_hold: str | None = None

    @property
    def empty(self) -> bool:
        return self.mode is None and self.retain_until is None and self.legal_hold is None


NO_LOCK = LockSettings()


def check_write_lock(requested: LockSettings, bucket: BucketLock, now: datetime) -> LockSettings:
    """Validate the lock headers of a PUT, copy or multipart create, then apply the bucket's default retention.

    S3: mode and retain-until-date come together, the date lies in the future, the legal hold is ON or OFF,
    and the bucket must have Object Lock; a request without a mode gets the default retention, if any.
    """
    if (requested.mode is None) != (requested.retain_until is None):
        raise InvalidArgument(
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            extra={"ArgumentName": "x-amz-object-lock-mode"},
        )
    if requested.mode is not None and requested.mode not in LOCK_MODES:
        raise InvalidArgument(
            "Unknown wormMode directive.",
            extra={"ArgumentName": "x-amz-object-lock-mode", "ArgumentValue": requested.mode},
        )
    if requested.retain_until is not None and requested.retain_until <= now:
        raise InvalidArgument(
            "The retain until date must be in the future!",
            extra={"ArgumentName": "x-amz-object-lock-retain-until-date"},
        )
    if requested.legal_hold is not None and requested.legal_hold not in LEGAL_HOLD_STATUSES:
        raise InvalidArgument(
            "Legal Hold must be either of 'ON' or 'OFF'",
            extra={"ArgumentName": "x-amz-object-lock-legal-hold", "ArgumentValue": requested.legal_hold},
        )
    if not requested.empty and not bucket.enabled:
        raise InvalidRequest(MISSING_CONFIGURATION_MESSAGE)
    if requested.mode is None and bucket.default is not None:
        return attrs.evolve(
            requested, mode=bucket.default.mode, retain_until=bucket.default.retain_until(now)
        )
    return requested


def with_default(lock: LockSettings, default: DefaultRetention | None, now: datetime) -> LockSettings:
    """``lock`` with the default retention filled in when it names no mode (multipart complete)."""
    if lock.mode is not None or default is None:
        return lock
    return attrs.evolve(lock, mode=default.mode, retain_until=default.retain_until(now))


def retention_active(info: ObjectInfo, now: datetime) -> bool:
    return info.lock_mode is not None and info.lock_retain_until is not None and info.lock_retain_until > now


def is_protected(info: ObjectInfo, now: datetime, *, bypass_governance: bool = False) -> bool:
    """True when deleting this version would break its legal hold or an unexpired retention.

    S3: a legal hold blocks deletion until removed; COMPLIANCE blocks everyone until the date passes;
    GOVERNANCE blocks unless the request sends ``x-amz-bypass-governance-retention: true``.
    """
    if info.is_delete_marker:
        return False
    if info.legal_hold == "ON":
        return True
    if not retention_active(info, now):
        return False
    return not (info.lock_mode == GOVERNANCE and bypass_governance)


def check_delete_version(info: ObjectInfo, now: datetime, *, bypass_governance: bool = False) -> None:
    """Refuse to delete (by version id) a locked version, as S3 does (403 AccessDenied)."""
    if is_protected(info, now, bypass_governance=bypass_governance):
        raise AccessDenied(PROTECTED_MESSAGE)


def check_retention_change(
    info: ObjectInfo,
    mode: str | None,
    retain_until: datetime | None,
    now: datetime,
    *,
    bypass_governance: bool = False,
) -> None:
    """PutObjectRetention on a version: COMPLIANCE may be extended, never shortened, removed or weakened;
    GOVERNANCE may be extended freely; shortened, removed or switched to another mode (even COMPLIANCE) only
    with the bypass header."""
    if mode is not None and mode not in LOCK_MODES:
        raise InvalidArgument("Unknown wormMode directive.", extra={"ArgumentName": "Mode"})
    if retain_until is not None and retain_until <= now:
        raise InvalidArgument("The retain until date must be in the future!")
    if not retention_active(info, now):
        return
    assert info.lock_retain_until is not None
    weakens = (
        mode is None
        or retain_until is None
        or retain_until < info.lock_retain_until
        or mode != info.lock_mode
    )
    if not weakens:
        return
    if info.lock_mode == GOVERNANCE and bypass_governance:
        return
    raise AccessDenied(PROTECTED_MESSAGE)


__all__ = [
    "COMPLIANCE",
    "GOVERNANCE",
    "LEGAL_HOLD_STATUSES",
    "LOCK_MODES",
    "NO_LOCK",
    "BucketLock",
    "DefaultRetention",
    "LockSettings",
    "check_delete_version",
    "check_retention_change",
    "check_write_lock",
    "is_protected",
    "retention_active",
    "with_default",
]
