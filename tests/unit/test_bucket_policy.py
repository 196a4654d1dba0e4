"""Bucket policies for anonymous clients (domain/policy.py): Allow grants, Deny refuses over any ACL, conditions
that smarts3 cannot judge never apply; PutBucketPolicy validates (MalformedPolicy)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from smarts3.domain import policy
from smarts3.domain.errors import MalformedPolicy
from smarts3.testing import RunningServer, running_server

ARN = "arn:aws:s3:::pol"


def _doc(*statements: dict[str, Any]) -> bytes:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}).encode()


def _allow(action: str | list[str], resource: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": "*", "Action": action, "Resource": resource, **extra}


def _verdict(document: bytes, action: str, resource: str, **context: str) -> policy.Verdict:
    return policy.evaluate(document, action=action, resource=resource, context=context)


def test_allow_matches_action_and_resource_wildcards() -> None:
    document = _doc(_allow("s3:Get*", f"{ARN}/public/*"))
    assert _verdict(document, "s3:GetObject", f"{ARN}/public/a.txt") == "allow"
    assert _verdict(document, "s3:GetObject", f"{ARN}/private/a.txt") is None
    assert _verdict(document, "s3:PutObject", f"{ARN}/public/a.txt") is None


def test_deny_wins_over_allow() -> None:
    document = _doc(_allow("s3:*", f"{ARN}/*"), {**_allow("s3:GetObject", f"{ARN}/secret"), "Effect": "Deny"})
    assert _verdict(document, "s3:GetObject", f"{ARN}/secret") == "deny"
    assert _verdict(document, "s3:GetObject", f"{ARN}/other") == "allow"


def test_only_statements_about_everyone_apply_to_anonymous_clients() -> None:
    named = {**_allow("s3:GetObject", f"{ARN}/*"), "Principal": {"AWS": "arn:aws:iam::123456789012:user/x"}}
    assert _verdict(_doc(named), "s3:GetObject", f"{ARN}/k") is None
    everyone = {**_allow("s3:GetObject", f"{ARN}/*"), "Principal": {"AWS": ["*"]}}
    assert _verdict(_doc(everyone), "s3:GetObject", f"{ARN}/k") == "allow"


def test_conditions() -> None:
    https_only = _allow("s3:GetObject", f"{ARN}/*", Condition={"Bool": {"aws:SecureTransport": "true"}})
    assert _verdict(_doc(https_only), "s3:GetObject", f"{ARN}/k", **{"aws:SecureTransport": "false"}) is None
    assert _verdict(_doc(https_only), "s3:GetObject", f"{ARN}/k", **{"aws:SecureTransport": "true"}) == "allow"
    from_lan = _allow("s3:GetObject", f"{ARN}/*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    assert _verdict(_doc(from_lan), "s3:GetObject", f"{ARN}/k", **{"aws:SourceIp": "10.1.2.3"}) == "allow"
    assert _verdict(_doc(from_lan), "s3:GetObject", f"{ARN}/k", **{"aws:SourceIp": "127.0.0.1"}) is None
    prefix = _allow("s3:ListBucket", ARN, Condition={"StringLike": {"s3:prefix": ["docs/*"]}})
    assert _verdict(_doc(prefix), "s3:ListBucket", ARN, **{"s3:prefix": "docs/a"}) == "allow"
    assert _verdict(_doc(prefix), "s3:ListBucket", ARN) is None  # no prefix given: the key is absent


def test_a_condition_smarts3_cannot_judge_neither_grants_nor_denies() -> None:
    odd = {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*"}}
    assert _verdict(_doc(_allow("s3:GetObject", f"{ARN}/*", Condition=odd)), "s3:GetObject", f"{ARN}/k") is None
    deny = {**_allow("s3:GetObject", f"{ARN}/*", Condition=odd), "Effect": "Deny"}
    assert _verdict(_doc(deny), "s3:GetObject", f"{ARN}/k") is None


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"not json", "valid JSON"),
        (b"{}", "Statement"),
        (_doc({**_allow("s3:GetObject", f"{ARN}/*"), "Effect": "Maybe"}), "effect"),
        (_doc({k: v for k, v in _allow("s3:GetObject", f"{ARN}/*").items() if k != "Principal"}), "Principal"),
        (_doc(_allow("s3:Fly", f"{ARN}/*")), "action"),
        (_doc(_allow("s3:GetObject", "arn:aws:s3:::another-bucket/*")), "resource"),
        (_doc(_allow("s3:GetObject", "arn:aws:s3:::other-*/*")), "resource"),
        (json.dumps({"Version": "2099-01-01", "Statement": [_allow("s3:*", ARN)]}).encode(), "version"),
        # NotPrincipal is for Deny statements only (IAM reference)
        (_doc({**{k: v for k, v in _allow("s3:GetObject", f"{ARN}/*").items() if k != "Principal"},
               "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:root"}}), "syntax"),
    ],
)
def test_malformed_policies_are_refused(document: bytes, message: str) -> None:
    with pytest.raises(MalformedPolicy) as caught:
        policy.validate(document, "pol")
    assert message.lower() in caught.value.message.lower()


@pytest.mark.parametrize("resource", ["arn:aws:s3:::*", "arn:aws:s3:::*/*", "arn:aws:s3:::po?", "arn:aws:s3:::p*/x*"])
def test_wildcard_resources_that_cover_the_bucket_are_valid(resource: str) -> None:
    """ceph/s3-tests' policies name ``arn:aws:s3:::*`` and ``arn:aws:s3:::*/*``: they cover this bucket."""
    policy.validate(_doc(_allow("s3:GetObject", resource)), "pol")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(data_dir=tmp_path_factory.mktemp("data")) as running:
        yield running


def _status(call: Any, **kwargs: Any) -> int:
    try:
        call(**kwargs)
    except ClientError as error:
        return int(error.response["ResponseMetadata"]["HTTPStatusCode"])
    return 200


def test_an_allow_policy_opens_reads_to_anonymous_clients(server: RunningServer) -> None:
    owner, anonymous = server.client(), server.client(signature_version=UNSIGNED)
    owner.create_bucket(Bucket="pol-read")
    owner.put_object(Bucket="pol-read", Key="public/a.txt", Body=b"hello")
    owner.put_object(Bucket="pol-read", Key="private/b.txt", Body=b"secret")
    assert _status(anonymous.get_object, Bucket="pol-read", Key="public/a.txt") == 403
    read_public = _allow("s3:GetObject", "arn:aws:s3:::pol-read/public/*")
    owner.put_bucket_policy(Bucket="pol-read", Policy=_doc(read_public).decode())
    assert anonymous.get_object(Bucket="pol-read", Key="public/a.txt")["Body"].read() == b"hello"
    assert _status(anonymous.get_object, Bucket="pol-read", Key="private/b.txt") == 403
    assert _status(anonymous.list_objects_v2, Bucket="pol-read") == 403
    assert _status(anonymous.put_object, Bucket="pol-read", Key="public/new", Body=b"x") == 403
    owner.put_public_access_block(
        Bucket="pol-read",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        },
    )
    assert _status(anonymous.get_object, Bucket="pol-read", Key="public/a.txt") == 403  # restricted
    owner.delete_public_access_block(Bucket="pol-read")
    owner.delete_bucket_policy(Bucket="pol-read")
    assert _status(anonymous.get_object, Bucket="pol-read", Key="public/a.txt") == 403


def test_a_deny_policy_closes_what_a_public_acl_opened(server: RunningServer) -> None:
    owner, anonymous = server.client(), server.client(signature_version=UNSIGNED)
    owner.create_bucket(Bucket="pol-deny", ACL="public-read")
    owner.put_object(Bucket="pol-deny", Key="k", Body=b"x")
    assert _status(anonymous.list_objects_v2, Bucket="pol-deny") == 200
    deny_list = {**_allow("s3:ListBucket", "arn:aws:s3:::pol-deny"), "Effect": "Deny"}
    owner.put_bucket_policy(Bucket="pol-deny", Policy=_doc(deny_list).decode())
    assert _status(anonymous.list_objects_v2, Bucket="pol-deny") == 403
    assert anonymous.get_object(Bucket="pol-deny", Key="k")["Body"].read() == b"x"  # not denied: the ACL
    assert owner.list_objects_v2(Bucket="pol-deny")["KeyCount"] == 1  # the owner is not judged by policies


def test_put_bucket_policy_answers_malformed_policy(server: RunningServer) -> None:
    owner = server.client()
    owner.create_bucket(Bucket="pol-bad")
    with pytest.raises(ClientError) as caught:
        owner.put_bucket_policy(Bucket="pol-bad", Policy='{"Statement": []}')
    assert caught.value.response["Error"]["Code"] == "MalformedPolicy"
    assert _status(owner.get_bucket_policy, Bucket="pol-bad") == 404
