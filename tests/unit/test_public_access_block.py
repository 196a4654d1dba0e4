"""Block Public Access (Put/Get/DeletePublicAccessBlock) through a real server: the stored settings, and the
three that smarts3 enforces (BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from smarts3.entrypoints.s3.public_access import is_public_policy
from smarts3.testing import RunningServer, running_server

ALL_OFF = {
    "BlockPublicAcls": False,
    "IgnorePublicAcls": False,
    "BlockPublicPolicy": False,
    "RestrictPublicBuckets": False,
}


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with running_server() as running:
        yield running


@pytest.fixture()
def s3(server: RunningServer) -> Any:
    return server.client()


@pytest.fixture()
def anonymous(server: RunningServer) -> Any:
    return server.client(signature_version=UNSIGNED)


def _bucket(s3: Any, **kwargs: Any) -> str:
    name = f"pab-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, **kwargs)
    return name


def _error(call: Any, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    response = refused.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_settings_round_trip_and_a_bucket_without_them_answers_404(s3: Any) -> None:
    bucket = _bucket(s3)
    assert _error(s3.get_public_access_block, Bucket=bucket) == (404, "NoSuchPublicAccessBlockConfiguration")
    wanted = dict(ALL_OFF, BlockPublicAcls=True, RestrictPublicBuckets=True)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=wanted)
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == wanted
    s3.delete_public_access_block(Bucket=bucket)
    assert _error(s3.get_public_access_block, Bucket=bucket) == (404, "NoSuchPublicAccessBlockConfiguration")


def test_block_public_acls_refuses_public_canned_acls_on_the_bucket_and_its_objects(s3: Any) -> None:
    bucket = _bucket(s3)
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration=dict(ALL_OFF, BlockPublicAcls=True)
    )
    for acl in ("public-read", "public-read-write", "authenticated-read"):
        assert _error(s3.put_bucket_acl, Bucket=bucket, ACL=acl) == (403, "AccessDenied")
        assert _error(s3.put_object, Bucket=bucket, Key="k", Body=b"x", ACL=acl) == (403, "AccessDenied")
        assert _error(s3.create_multipart_upload, Bucket=bucket, Key="m", ACL=acl) == (403, "AccessDenied")
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="private")
    assert _error(s3.put_object_acl, Bucket=bucket, Key="k", ACL="public-read") == (403, "AccessDenied")


def test_ignore_public_acls_closes_a_public_read_bucket_to_anonymous_clients(s3: Any, anonymous: Any) -> None:
    bucket = _bucket(s3, ACL="public-read")
    s3.put_object(Bucket=bucket, Key="doc", Body=b"hello")
    assert anonymous.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"hello"
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration=dict(ALL_OFF, IgnorePublicAcls=True)
    )
    assert _error(anonymous.get_object, Bucket=bucket, Key="doc") == (403, "AccessDenied")
    assert _error(anonymous.list_objects_v2, Bucket=bucket) == (403, "AccessDenied")
    s3.delete_public_access_block(Bucket=bucket)
    assert anonymous.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"hello"


def test_ignore_public_acls_also_closes_objects_with_a_public_acl(s3: Any, anonymous: Any) -> None:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="open", Body=b"o", ACL="public-read")
    assert anonymous.get_object(Bucket=bucket, Key="open")["Body"].read() == b"o"
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration=dict(ALL_OFF, IgnorePublicAcls=True)
    )
    assert _error(anonymous.get_object, Bucket=bucket, Key="open") == (403, "AccessDenied")


def test_block_public_policy_refuses_a_policy_open_to_everyone(s3: Any) -> None:
    bucket = _bucket(s3)
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration=dict(ALL_OFF, BlockPublicPolicy=True)
    )
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    public = {"Version": "2012-10-17", "Statement": [dict(statement, Principal="*")]}
    assert _error(s3.put_bucket_policy, Bucket=bucket, Policy=json.dumps(public)) == (403, "AccessDenied")
    scoped = {"Version": "2012-10-17", "Statement": [dict(statement, Principal="arn:aws:iam::1:root")]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(scoped))


def test_what_counts_as_a_public_policy() -> None:
    def policy(**statement: Any) -> bytes:
        return json.dumps({"Statement": [dict({"Effect": "Allow", "Action": "s3:*"}, **statement)]}).encode()

    assert is_public_policy(policy(Principal="*"))
    assert is_public_policy(policy(Principal={"AWS": "*"}))
    assert is_public_policy(policy(Principal={"AWS": ["arn:aws:iam::1:root", "*"]}))
    assert not is_public_policy(
        policy(Principal="*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    )
    assert not is_public_policy(policy(Principal="*", Effect="Deny"))
    assert not is_public_policy(policy(Principal={"AWS": "arn:aws:iam::1:root"}))
    assert not is_public_policy(b"not json")


def test_policy_status_says_whether_the_buckets_policy_is_public(s3: Any) -> None:
    bucket = _bucket(s3, ACL="public-read")
    assert (
        s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    )  # ACLs do not count
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Statement": [dict(statement, Principal="*")]}))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    scoped = dict(statement, Principal={"AWS": "arn:aws:iam::1:root"})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Statement": [scoped]}))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False


@pytest.mark.parametrize(
    "document",
    [
        b"<PublicAccessBlockConfiguration><BlockPublicAcls>maybe</BlockPublicAcls></PublicAccessBlockConfiguration>",
        b"<SomethingElse/>",
        b"<PublicAccessBlockConfiguration>",
    ],
)
def test_a_malformed_configuration_is_malformed_xml_and_stores_nothing(s3: Any, document: bytes) -> None:
    bucket = _bucket(s3)

    def replace_body(params: dict[str, Any], **_: Any) -> None:
        params["body"] = document
        params["headers"].pop("Content-MD5", None)

    s3.meta.events.register("before-call.s3.PutPublicAccessBlock", replace_body)
    try:
        error = _error(s3.put_public_access_block, Bucket=bucket, PublicAccessBlockConfiguration=ALL_OFF)
    finally:
        s3.meta.events.unregister("before-call.s3.PutPublicAccessBlock", replace_body)
    assert error == (400, "MalformedXML")
    assert _error(s3.get_public_access_block, Bucket=bucket) == (404, "NoSuchPublicAccessBlockConfiguration")
