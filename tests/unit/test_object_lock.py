"""Object Lock: the pure rules, then the HTTP API through boto3 on both storage adapters."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from smarts3.domain.errors import AccessDenied, InvalidArgument, InvalidRequest
from smarts3.domain.models import ObjectInfo
from smarts3.domain.services.object_lock import (
    BucketLock,
    DefaultRetention,
    LockSettings,
    check_delete_version,
    check_retention_change,
    check_write_lock,
)
from smarts3.testing import RunningServer, running_server

NOW = datetime(2030, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(days=10)


def _version(mode: str | None = None, until: datetime | None = None, hold: str | None = None) -> ObjectInfo:
    return ObjectInfo(
        key="k",
        size=1,
        etag="e",
        last_modified=NOW,
        version_id="v",
        lock_mode=mode,
        lock_retain_until=until,
        legal_hold=hold,
    )


# -- pure rules --------------------------------------------------------------------------------------------
def test_write_without_headers_gets_the_bucket_default_retention() -> None:
    lock = BucketLock(enabled=True, default=DefaultRetention(mode="GOVERNANCE", days=3))
    settled = check_write_lock(LockSettings(), lock, NOW)
    assert settled == LockSettings(mode="GOVERNANCE", retain_until=NOW + timedelta(days=3))
    years = BucketLock(enabled=True, default=DefaultRetention(mode="COMPLIANCE", years=1))
    assert check_write_lock(LockSettings(), years, NOW).retain_until == NOW + timedelta(days=365)


def test_explicit_lock_headers_win_over_the_default() -> None:
    lock = BucketLock(enabled=True, default=DefaultRetention(mode="GOVERNANCE", days=3))
    asked = LockSettings(mode="COMPLIANCE", retain_until=LATER, legal_hold="ON")
    assert check_write_lock(asked, lock, NOW) == asked


@pytest.mark.parametrize(
    ("asked", "error"),
    [
        (LockSettings(mode="GOVERNANCE"), InvalidArgument),
        (LockSettings(retain_until=LATER), InvalidArgument),
        (LockSettings(mode="FOREVER", retain_until=LATER), InvalidArgument),
        (LockSettings(mode="GOVERNANCE", retain_until=NOW - timedelta(seconds=1)), InvalidArgument),
        (LockSettings(legal_hold="MAYBE"), InvalidArgument),
    ],
)
def test_invalid_lock_headers_are_refused(asked: LockSettings, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_write_lock(asked, BucketLock(enabled=True), NOW)


def test_lock_headers_on_a_bucket_without_object_lock_are_invalid_request() -> None:
    with pytest.raises(InvalidRequest):
        check_write_lock(LockSettings(legal_hold="ON"), BucketLock(enabled=False), NOW)


@pytest.mark.parametrize(
    ("version", "bypass", "refused"),
    [
        (_version(), False, False),
        (_version("GOVERNANCE", LATER), False, True),
        (_version("GOVERNANCE", LATER), True, False),
        (_version("COMPLIANCE", LATER), True, True),
        (_version("COMPLIANCE", NOW - timedelta(seconds=1)), False, False),
        (_version(hold="ON"), True, True),
        (_version(hold="OFF"), False, False),
    ],
)
def test_deleting_a_version_respects_retention_and_legal_hold(
    version: ObjectInfo, bypass: bool, refused: bool
) -> None:
    if refused:
        with pytest.raises(AccessDenied):
            check_delete_version(version, NOW, bypass_governance=bypass)
    else:
        check_delete_version(version, NOW, bypass_governance=bypass)


def test_compliance_can_be_extended_but_never_shortened_weakened_or_removed() -> None:
    locked = _version("COMPLIANCE", LATER)
    check_retention_change(locked, "COMPLIANCE", LATER + timedelta(days=1), NOW)
    for mode, until in (
        ("COMPLIANCE", LATER - timedelta(days=1)),
        ("GOVERNANCE", LATER + timedelta(days=1)),
        (None, None),
    ):
        with pytest.raises(AccessDenied):
            check_retention_change(locked, mode, until, NOW, bypass_governance=True)


def test_governance_shortening_needs_the_bypass_header() -> None:
    locked = _version("GOVERNANCE", LATER)
    check_retention_change(locked, "GOVERNANCE", LATER + timedelta(days=1), NOW)
    with pytest.raises(AccessDenied):  # switching mode alters governance settings too (ceph/s3-tests, AWS)
        check_retention_change(locked, "COMPLIANCE", LATER, NOW)
    check_retention_change(locked, "COMPLIANCE", LATER, NOW, bypass_governance=True)
    with pytest.raises(AccessDenied):
        check_retention_change(locked, "GOVERNANCE", LATER - timedelta(days=1), NOW)
    with pytest.raises(AccessDenied):
        check_retention_change(locked, None, None, NOW)
    check_retention_change(locked, "GOVERNANCE", LATER - timedelta(days=1), NOW, bypass_governance=True)
    check_retention_change(locked, None, None, NOW, bypass_governance=True)


# -- HTTP --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=["memory", "filesystem"])
def s3(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    data_dir: Path | None = tmp_path_factory.mktemp("lock") if request.param == "filesystem" else None
    server: RunningServer
    with running_server(data_dir=data_dir) as server:
        yield server.client()


def _name() -> str:
    return f"lock-{uuid.uuid4().hex[:16]}"


def _locked_bucket(s3: Any) -> str:
    name = _name()
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def _code(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _future(days: float = 2) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def test_bucket_created_with_object_lock_has_versioning_and_a_configuration(s3: Any) -> None:
    bucket = _locked_bucket(s3)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    config = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert config == {"ObjectLockEnabled": "Enabled"}
    code = _code(s3.put_bucket_versioning, Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert code == ("InvalidBucketState", 409)


def test_bucket_without_object_lock_refuses_lock_operations(s3: Any) -> None:
    bucket = _name()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert _code(s3.get_object_lock_configuration, Bucket=bucket) == (
        "ObjectLockConfigurationNotFoundError",
        404,
    )
    assert _code(s3.get_object_retention, Bucket=bucket, Key="k") == ("InvalidRequest", 400)
    assert _code(s3.put_object_legal_hold, Bucket=bucket, Key="k", LegalHold={"Status": "ON"}) == (
        "InvalidRequest",
        400,
    )
    assert _code(
        s3.put_object,
        Bucket=bucket,
        Key="k",
        Body=b"x",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=_future(),
    ) == ("InvalidRequest", 400)
    assert _code(
        s3.put_object_lock_configuration,
        Bucket=bucket,
        ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"},
    ) == ("InvalidBucketState", 409)


def test_object_lock_can_be_enabled_later_on_a_versioned_bucket(s3: Any) -> None:
    bucket = _name()
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON")["VersionId"]
    assert _code(s3.delete_object, Bucket=bucket, Key="k", VersionId=version) == ("AccessDenied", 403)
    assert _code(
        s3.put_bucket_versioning, Bucket=bucket, VersioningConfiguration={"Status": "Suspended"}
    ) == ("InvalidBucketState", 409)


def test_default_retention_applies_to_new_versions(s3: Any) -> None:
    bucket = _locked_bucket(s3)
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )
    rule = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["Rule"]
    assert rule == {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}
    before = datetime.now(UTC)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    until = head["ObjectLockRetainUntilDate"]
    assert before + timedelta(days=1) - timedelta(seconds=5) <= until <= before + timedelta(days=1, seconds=5)
    retention = s3.get_object_retention(Bucket=bucket, Key="k", VersionId=version)["Retention"]
    assert retention["Mode"] == "GOVERNANCE"
    assert _code(s3.get_object_legal_hold, Bucket=bucket, Key="k") == ("NoSuchObjectLockConfiguration", 404)

    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"abc")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert s3.get_object_retention(Bucket=bucket, Key="mp")["Retention"]["Mode"] == "GOVERNANCE"


def test_governance_version_is_deleted_only_with_bypass(s3: Any) -> None:
    bucket = _locked_bucket(s3)
    version = s3.put_object(
        Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=_future()
    )["VersionId"]
    assert _code(s3.delete_object, Bucket=bucket, Key="k", VersionId=version) == ("AccessDenied", 403)
    batch = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k", "VersionId": version}]})
    assert [e["Code"] for e in batch["Errors"]] == ["AccessDenied"]
    # a delete marker is always allowed: it removes nothing
    assert s3.delete_object(Bucket=bucket, Key="k")["DeleteMarker"] is True
    s3.delete_object(Bucket=bucket, Key="k", VersionId=version, BypassGovernanceRetention=True)
    assert _code(s3.head_object, Bucket=bucket, Key="k", VersionId=version)[1] == 404


def test_compliance_retention_extends_but_never_shortens_or_deletes(s3: Any) -> None:
    bucket = _locked_bucket(s3)
    until = _future(2)
    version = s3.put_object(
        Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until
    )["VersionId"]
    shorter = {"Mode": "COMPLIANCE", "RetainUntilDate": until - timedelta(days=1)}
    assert _code(
        s3.put_object_retention, Bucket=bucket, Key="k", Retention=shorter, BypassGovernanceRetention=True
    ) == ("AccessDenied", 403)
    weaker = {"Mode": "GOVERNANCE", "RetainUntilDate": until + timedelta(days=1)}
    assert _code(s3.put_object_retention, Bucket=bucket, Key="k", Retention=weaker)[0] == "AccessDenied"
    longer = until + timedelta(days=5)
    s3.put_object_retention(
        Bucket=bucket, Key="k", Retention={"Mode": "COMPLIANCE", "RetainUntilDate": longer}
    )
    got = s3.get_object_retention(Bucket=bucket, Key="k")["Retention"]["RetainUntilDate"]
    assert abs((got - longer).total_seconds()) < 1
    assert _code(
        s3.delete_object, Bucket=bucket, Key="k", VersionId=version, BypassGovernanceRetention=True
    ) == ("AccessDenied", 403)


def test_governance_retention_can_be_removed_with_bypass(s3: Any) -> None:
    bucket = _locked_bucket(s3)
    version = s3.put_object(
        Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=_future()
    )["VersionId"]
    assert _code(s3.put_object_retention, Bucket=bucket, Key="k", Retention={})[0] == "AccessDenied"
    s3.put_object_retention(Bucket=bucket, Key="k", Retention={}, BypassGovernanceRetention=True)
    assert _code(s3.get_object_retention, Bucket=bucket, Key="k")[0] == "NoSuchObjectLockConfiguration"
    s3.delete_object(Bucket=bucket, Key="k", VersionId=version)


def test_legal_hold_blocks_deletion_until_released(s3: Any) -> None:
    bucket = _locked_bucket(s3)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON")["VersionId"]
    assert s3.head_object(Bucket=bucket, Key="k")["ObjectLockLegalHoldStatus"] == "ON"
    assert s3.get_object_legal_hold(Bucket=bucket, Key="k")["LegalHold"] == {"Status": "ON"}
    assert _code(
        s3.delete_object, Bucket=bucket, Key="k", VersionId=version, BypassGovernanceRetention=True
    ) == ("AccessDenied", 403)
    s3.put_object_legal_hold(Bucket=bucket, Key="k", VersionId=version, LegalHold={"Status": "OFF"})
    assert s3.get_object_legal_hold(Bucket=bucket, Key="k")["LegalHold"] == {"Status": "OFF"}
    s3.delete_object(Bucket=bucket, Key="k", VersionId=version)


def test_lock_headers_on_copy_and_multipart_create(s3: Any) -> None:
    bucket = _locked_bucket(s3)
    until = _future(3)
    upload = s3.create_multipart_upload(
        Bucket=bucket, Key="mp", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until
    )["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"abc")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert s3.get_object_retention(Bucket=bucket, Key="mp")["Retention"]["Mode"] == "COMPLIANCE"
    s3.copy_object(
        Bucket=bucket, Key="cp", CopySource={"Bucket": bucket, "Key": "mp"}, ObjectLockLegalHoldStatus="ON"
    )
    head = s3.head_object(Bucket=bucket, Key="cp")
    # S3 does not copy the source's retention: only what the copy request asks for
    assert head["ObjectLockLegalHoldStatus"] == "ON" and "ObjectLockMode" not in head


def test_invalid_lock_headers_are_rejected_over_http(s3: Any) -> None:
    bucket = _locked_bucket(s3)
    past = datetime(2001, 1, 1, tzinfo=UTC)
    assert _code(
        s3.put_object,
        Bucket=bucket,
        Key="k",
        Body=b"x",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=past,
    ) == ("InvalidArgument", 400)
    assert _code(s3.put_object, Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE") == (
        "InvalidArgument",
        400,
    )


def test_browser_form_upload_gets_the_default_retention(s3: Any) -> None:
    import urllib.request

    bucket = _locked_bucket(s3)
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    post = s3.generate_presigned_post(Bucket=bucket, Key="form.txt")
    boundary = "----smarts3lock"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in post["fields"].items()
    ]
    body = (
        "".join(parts)
        + f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\nhello\r\n'
        + f"--{boundary}--\r\n"
    ).encode()
    request = urllib.request.Request(
        post["url"], data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with urllib.request.urlopen(request) as response:
        assert response.status in (200, 204)
    assert s3.get_object_retention(Bucket=bucket, Key="form.txt")["Retention"]["Mode"] == "COMPLIANCE"
