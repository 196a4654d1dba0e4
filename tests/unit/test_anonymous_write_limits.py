"""What a WRITE grant to everyone (``public-read-write``, ``x-amz-grant-write: uri=".../AllUsers"``) does *not*
give an anonymous client, and what Block Public Access still refuses (found by a review of the ACL grants):

* a copy reads its source: an anonymous CopyObject / UploadPartCopy needs read access to it (it could copy any
  private object into a writable bucket and read the copy);
* deleting a version (``DELETE ?versionId``) is s3:DeleteObjectVersion, bypassing governance retention is
  s3:BypassGovernanceRetention: neither is anyone's;
* an unsigned browser form is an anonymous PutObject: the bucket's policy and IgnorePublicAcls apply to it;
* BlockPublicAcls refuses a public canned ACL in any letter case, on a form's ``acl`` field, and on CreateBucket
  of a bucket you already own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from unitkit import status

from smarts3.domain import acl
from smarts3.testing import RunningServer, running_server

BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(data_dir=tmp_path_factory.mktemp("data")) as running:
        owner = running.client()
        owner.create_bucket(Bucket="private-src")
        owner.put_object(Bucket="private-src", Key="secret.txt", Body=b"TOP SECRET")
        owner.create_bucket(Bucket="public-src", ACL="public-read")
        owner.put_object(Bucket="public-src", Key="open.txt", Body=b"open")
        owner.create_bucket(Bucket="drop-box")
        owner.put_bucket_acl(Bucket="drop-box", GrantWrite=f'uri="{acl.ALL_USERS}"')
        yield running


@pytest.fixture(scope="module")
def anonymous(server: RunningServer) -> Any:
    return server.client(signature_version=UNSIGNED)


def test_an_anonymous_copy_needs_read_access_to_its_source(server: RunningServer, anonymous: Any) -> None:
    stolen = {
        "Bucket": "drop-box",
        "Key": "stolen",
        "CopySource": {"Bucket": "private-src", "Key": "secret.txt"},
    }
    assert status(anonymous.copy_object, **stolen) == (403, "AccessDenied")
    upload = server.client().create_multipart_upload(Bucket="drop-box", Key="parts")["UploadId"]
    assert status(
        anonymous.upload_part_copy,
        Bucket="drop-box",
        Key="parts",
        UploadId=upload,
        PartNumber=1,
        CopySource={"Bucket": "private-src", "Key": "secret.txt"},
    ) == (403, "AccessDenied")
    assert status(server.client().head_object, Bucket="drop-box", Key="stolen") == (404, "404")
    # a source everyone may read may be copied by anyone who may write the destination
    copied = {
        "Bucket": "drop-box",
        "Key": "copied",
        "CopySource": {"Bucket": "public-src", "Key": "open.txt"},
    }
    assert status(anonymous.copy_object, **copied) == (200, None)
    assert server.client().get_object(Bucket="drop-box", Key="copied")["Body"].read() == b"open"


def test_a_write_grant_does_not_delete_versions_or_bypass_retention(
    server: RunningServer, anonymous: Any
) -> None:
    owner = server.client()
    owner.create_bucket(Bucket="versioned-drop", ObjectLockEnabledForBucket=True)
    owner.put_bucket_acl(Bucket="versioned-drop", ACL="public-read-write")
    version = owner.put_object(Bucket="versioned-drop", Key="k", Body=b"v1")["VersionId"]
    assert status(anonymous.delete_object, Bucket="versioned-drop", Key="k", VersionId=version) == (
        403,
        "AccessDenied",
    )
    locked = owner.put_object(
        Bucket="versioned-drop",
        Key="locked",
        Body=b"x",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate="2099-01-01T00:00:00Z",
    )["VersionId"]
    assert status(
        anonymous.delete_object,
        Bucket="versioned-drop",
        Key="locked",
        VersionId=locked,
        BypassGovernanceRetention=True,
    ) == (403, "AccessDenied")
    assert status(anonymous.delete_object, Bucket="versioned-drop", Key="k") == (
        204,
        None,
    )  # DeleteObject: yes
    assert [
        v["VersionId"] for v in owner.list_object_versions(Bucket="versioned-drop", Prefix="k")["Versions"]
    ] == [version]


def test_an_unsigned_form_is_judged_like_an_anonymous_put(server: RunningServer) -> None:
    owner = server.client()
    for bucket in ("form-ignored", "form-denied"):
        owner.create_bucket(Bucket=bucket, ACL="public-read-write")
    owner.put_public_access_block(Bucket="form-ignored", PublicAccessBlockConfiguration=BLOCK_ALL)
    owner.put_bucket_policy(
        Bucket="form-denied",
        Policy='{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", '
        '"Action": "s3:PutObject", "Resource": "arn:aws:s3:::form-denied/*"}]}',
    )
    for bucket in ("form-ignored", "form-denied"):
        response = httpx.post(
            f"{server.endpoint_url}/{bucket}",
            data={"key": "anon.txt"},
            files={"file": ("a", b"x")},
            timeout=30,
        )
        assert response.status_code == 403, (bucket, response.text)
        assert status(owner.head_object, Bucket=bucket, Key="anon.txt") == (404, "404")
    allowed = httpx.post(
        f"{server.endpoint_url}/drop-box", data={"key": "form.txt"}, files={"file": ("a", b"x")}, timeout=30
    )
    assert allowed.status_code == 204, allowed.text


def test_block_public_acls_refuses_canned_acls_in_any_case_forms_and_bucket_re_creation(
    server: RunningServer, anonymous: Any
) -> None:
    owner = server.client()
    owner.create_bucket(Bucket="blocked")
    owner.put_public_access_block(
        Bucket="blocked", PublicAccessBlockConfiguration={**BLOCK_ALL, "IgnorePublicAcls": False}
    )
    for canned in ("Public-Read", "PUBLIC-READ-WRITE"):
        assert status(owner.put_object, Bucket="blocked", Key="k", Body=b"x", ACL=canned) == (
            403,
            "AccessDenied",
        )
        assert status(owner.create_multipart_upload, Bucket="blocked", Key="k", ACL=canned) == (
            403,
            "AccessDenied",
        )
    assert status(owner.create_bucket, Bucket="blocked", ACL="public-read") == (403, "AccessDenied")
    assert status(owner.create_bucket, Bucket="blocked", GrantRead=f'uri="{acl.ALL_USERS}"') == (
        403,
        "AccessDenied",
    )
    assert status(anonymous.list_objects_v2, Bucket="blocked") == (403, "AccessDenied")
    signer = boto3.client("s3", config=Config(signature_version="s3v4"), **server.boto3_kwargs())
    post = signer.generate_presigned_post(
        "blocked", "form.txt", Fields={"acl": "public-read"}, Conditions=[{"acl": "public-read"}]
    )
    response = httpx.post(post["url"], data=post["fields"], files={"file": ("a", b"x")}, timeout=30)
    assert response.status_code == 403, response.text
    assert status(owner.head_object, Bucket="blocked", Key="form.txt") == (404, "404")
