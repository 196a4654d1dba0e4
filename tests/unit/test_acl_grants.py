"""ACLs given as grants (an AccessControlPolicy body or x-amz-grant-* headers), not only canned: stored, reported
by GetBucketAcl/GetObjectAcl, enforced for anonymous clients through the AllUsers grants, and validated as S3
does (an unknown user id, an e-mail grantee, a malformed document). They used to be answered 200 and ignored,
so a bucket made private through an ACL document stayed public."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore import UNSIGNED
from unitkit import status

from smarts3.domain import acl
from smarts3.domain.errors import InvalidArgument, MalformedACLError, UnresolvableGrantByEmailAddress
from smarts3.testing import RunningServer, running_server

OWNER = "f" * 64


def user(permission: str, who: str = OWNER) -> acl.Grant:
    return acl.Grant(acl.USER, who, permission)


def group(permission: str, uri: str = acl.ALL_USERS) -> acl.Grant:
    return acl.Grant(acl.GROUP, uri, permission)


# -- the domain rules ------------------------------------------------------------------------------------------


def test_grants_equal_to_a_canned_acl_are_stored_as_its_name() -> None:
    assert acl.canonical([user("FULL_CONTROL")], OWNER) == "private"
    assert acl.canonical([group("READ"), user("FULL_CONTROL")], OWNER) == "public-read"
    assert acl.canonical([user("FULL_CONTROL"), group("WRITE"), group("READ")], OWNER) == "public-read-write"
    assert acl.canonical([group("READ", acl.AUTHENTICATED_USERS), user("FULL_CONTROL")], OWNER) == (
        "authenticated-read"
    )


def test_other_grants_are_kept_as_given_and_read_back_in_order() -> None:
    grants = [group("WRITE"), user("READ"), group("READ_ACP", acl.LOG_DELIVERY)]
    stored = acl.canonical(grants, OWNER)
    assert stored.startswith("grants:")
    assert acl.grants_of(stored, OWNER) == grants
    assert acl.grants_of(acl.canonical([], OWNER), OWNER) == []


def test_what_anonymous_clients_may_do_follows_the_all_users_grants() -> None:
    write_only = acl.canonical([group("WRITE"), user("FULL_CONTROL")], OWNER)
    full = acl.canonical([group("FULL_CONTROL")], OWNER)
    authenticated = acl.canonical([group("FULL_CONTROL", acl.AUTHENTICATED_USERS)], OWNER)
    assert (acl.anyone_reads(write_only), acl.anyone_writes(write_only)) == (False, True)
    assert (acl.anyone_reads(full), acl.anyone_writes(full)) == (True, True)
    assert (acl.anyone_reads(authenticated), acl.anyone_writes(authenticated)) == (False, False)
    assert acl.is_public(authenticated) and acl.is_public(write_only)
    assert not acl.is_public(acl.canonical([user("READ")], OWNER))
    assert (acl.anyone_reads("public-read"), acl.anyone_writes("public-read")) == (True, False)
    assert (acl.anyone_reads(None), acl.anyone_writes("private")) == (False, False)


@pytest.mark.parametrize(
    ("grant", "error"),
    [
        (user("READ", "a" * 64), InvalidArgument),
        (acl.Grant(acl.EMAIL, "someone@example.com", "READ"), UnresolvableGrantByEmailAddress),
        (group("READ", "http://acs.amazonaws.com/groups/global/Nobody"), InvalidArgument),
        (user("EVERYTHING"), MalformedACLError),
    ],
)
def test_grants_s3_would_refuse(grant: acl.Grant, error: type[Exception]) -> None:
    with pytest.raises(error):
        acl.canonical([user("FULL_CONTROL"), grant], OWNER)


# -- over HTTP ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(data_dir=tmp_path_factory.mktemp("data")) as running:
        yield running


@pytest.fixture(scope="module")
def owner(server: RunningServer) -> Any:
    return server.client()


@pytest.fixture(scope="module")
def anonymous(server: RunningServer) -> Any:
    return server.client(signature_version=UNSIGNED)


def owner_id(client: Any) -> str:
    return str(client.list_buckets()["Owner"]["ID"])


def policy(client: Any, *grants: dict[str, Any]) -> dict[str, Any]:
    return {"Owner": {"ID": owner_id(client)}, "Grants": list(grants)}


def all_users(permission: str) -> dict[str, Any]:
    return {"Grantee": {"Type": "Group", "URI": acl.ALL_USERS}, "Permission": permission}


def owner_full(client: Any) -> dict[str, Any]:
    return {"Grantee": {"Type": "CanonicalUser", "ID": owner_id(client)}, "Permission": "FULL_CONTROL"}


def test_an_acl_document_makes_a_public_bucket_private_again(owner: Any, anonymous: Any) -> None:
    owner.create_bucket(Bucket="was-public", ACL="public-read")
    owner.put_object(Bucket="was-public", Key="k", Body=b"secret")
    assert anonymous.get_object(Bucket="was-public", Key="k")["Body"].read() == b"secret"
    owner.put_bucket_acl(Bucket="was-public", AccessControlPolicy=policy(owner, owner_full(owner)))
    assert [g["Permission"] for g in owner.get_bucket_acl(Bucket="was-public")["Grants"]] == ["FULL_CONTROL"]
    assert status(anonymous.get_object, Bucket="was-public", Key="k") == (403, "AccessDenied")
    assert status(anonymous.list_objects_v2, Bucket="was-public") == (403, "AccessDenied")


def test_group_grants_in_a_document_are_reported_and_enforced(owner: Any, anonymous: Any) -> None:
    owner.create_bucket(Bucket="drop-box")
    owner.put_bucket_acl(
        Bucket="drop-box", AccessControlPolicy=policy(owner, owner_full(owner), all_users("WRITE"))
    )
    grants = owner.get_bucket_acl(Bucket="drop-box")["Grants"]
    assert {(g["Grantee"].get("URI", g["Grantee"].get("ID")), g["Permission"]) for g in grants} == {
        (owner_id(owner), "FULL_CONTROL"),
        (acl.ALL_USERS, "WRITE"),
    }
    anonymous.put_object(Bucket="drop-box", Key="dropped", Body=b"x")  # WRITE: anyone may write...
    assert status(anonymous.get_object, Bucket="drop-box", Key="dropped") == (403, "AccessDenied")  # not read


def test_revoking_every_grant_is_kept(owner: Any) -> None:
    owner.create_bucket(Bucket="no-grants", ACL="public-read")
    owner.put_bucket_acl(Bucket="no-grants", AccessControlPolicy=policy(owner))
    assert owner.get_bucket_acl(Bucket="no-grants")["Grants"] == []


def test_grant_headers_set_the_acl(owner: Any, anonymous: Any) -> None:
    owner.create_bucket(Bucket="by-headers")
    owner.put_object(Bucket="by-headers", Key="k", Body=b"hello")
    owner.put_bucket_acl(
        Bucket="by-headers", GrantRead=f'uri="{acl.ALL_USERS}"', GrantFullControl=f'id="{owner_id(owner)}"'
    )
    assert owner.get_bucket_acl(Bucket="by-headers")["Grants"][0]["Grantee"]["URI"] == acl.ALL_USERS
    assert [o["Key"] for o in anonymous.list_objects_v2(Bucket="by-headers")["Contents"]] == ["k"]
    # an object's own ACL: grant headers on PutObjectAcl
    owner.put_object_acl(Bucket="by-headers", Key="k", GrantFullControl=f'id="{owner_id(owner)}"')
    assert status(anonymous.get_object, Bucket="by-headers", Key="k") == (403, "AccessDenied")
    owner.put_object_acl(Bucket="by-headers", Key="k", AccessControlPolicy=policy(owner, all_users("READ")))
    assert anonymous.get_object(Bucket="by-headers", Key="k")["Body"].read() == b"hello"
    assert [g["Permission"] for g in owner.get_object_acl(Bucket="by-headers", Key="k")["Grants"]] == ["READ"]


def test_create_bucket_takes_grant_headers(owner: Any, anonymous: Any) -> None:
    owner.create_bucket(Bucket="created-public", GrantRead=f'uri="{acl.ALL_USERS}"')
    assert anonymous.list_objects_v2(Bucket="created-public")["KeyCount"] == 0


def test_creating_your_own_bucket_again_resets_its_acl(owner: Any, anonymous: Any) -> None:
    owner.create_bucket(Bucket="recreated", ACL="public-read")
    assert anonymous.list_objects_v2(Bucket="recreated")["KeyCount"] == 0
    owner.create_bucket(Bucket="recreated")  # us-east-1: 200, and S3 resets the ACL
    assert status(anonymous.list_objects_v2, Bucket="recreated") == (403, "AccessDenied")
    assert [g["Permission"] for g in owner.get_bucket_acl(Bucket="recreated")["Grants"]] == ["FULL_CONTROL"]


def test_invalid_acls_are_refused_and_change_nothing(owner: Any, anonymous: Any) -> None:
    owner.create_bucket(Bucket="kept-public", ACL="public-read")
    stranger = {"Grantee": {"Type": "CanonicalUser", "ID": "0" * 64}, "Permission": "READ"}
    email = {
        "Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "a@example.com"},
        "Permission": "READ",
    }
    refused = [
        (dict(AccessControlPolicy=policy(owner, owner_full(owner), stranger)), (400, "InvalidArgument")),
        (dict(AccessControlPolicy=policy(owner, email)), (400, "UnresolvableGrantByEmailAddress")),
        (dict(GrantRead='id="nobody"'), (400, "InvalidArgument")),
        (dict(GrantRead="everyone"), (400, "InvalidArgument")),
        (dict(ACL="private", GrantRead=f'uri="{acl.ALL_USERS}"'), (400, "InvalidRequest")),
    ]
    for kwargs, expected in refused:
        assert status(owner.put_bucket_acl, Bucket="kept-public", **kwargs) == expected, kwargs
    assert anonymous.list_objects_v2(Bucket="kept-public")["KeyCount"] == 0  # still public-read


def test_a_malformed_acl_document_is_malformed_acl_error(server: RunningServer, owner: Any) -> None:
    owner.create_bucket(Bucket="malformed-acl")
    client = server.client()

    def replace_body(request: Any, **_: Any) -> None:
        request.data = b"<AccessControlPolicy><AccessControlList><Grant></AccessControlList>"
        for name in [n for n in request.headers if n.lower() in ("content-md5", "x-amz-checksum-crc32")]:
            del request.headers[name]

    client.meta.events.register("before-sign.s3.PutBucketAcl", replace_body)
    assert status(client.put_bucket_acl, Bucket="malformed-acl", AccessControlPolicy=policy(owner)) == (
        400,
        "MalformedACLError",
    )


def test_block_public_acls_refuses_public_grants(owner: Any) -> None:
    owner.create_bucket(Bucket="blocked-acls")
    owner.put_public_access_block(
        Bucket="blocked-acls",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    assert status(owner.put_bucket_acl, Bucket="blocked-acls", GrantRead=f'uri="{acl.ALL_USERS}"') == (
        403,
        "AccessDenied",
    )
    owner.put_bucket_acl(
        Bucket="blocked-acls", GrantFullControl=f'id="{owner_id(owner)}"'
    )  # not public: fine


# -- x-amz-expected-bucket-owner ---------------------------------------------------------------------------


def test_expected_bucket_owner_refuses_another_owner(owner: Any) -> None:
    owner.create_bucket(Bucket="owned")
    owner.put_object(Bucket="owned", Key="k", Body=b"x")
    mine = owner_id(owner)
    # the owner's canonical id, or a 12-digit AWS account id (what a program written for AWS sends): accepted
    for accepted in (mine, "123456789012"):
        assert status(owner.list_objects_v2, Bucket="owned", ExpectedBucketOwner=accepted) == (200, None)
        assert status(owner.get_object, Bucket="owned", Key="k", ExpectedBucketOwner=accepted) == (200, None)
    for refused in (mine + "foo", "someone-else"):
        assert status(owner.list_objects_v2, Bucket="owned", ExpectedBucketOwner=refused) == (
            403,
            "AccessDenied",
        )
        assert status(owner.put_object, Bucket="owned", Key="k", Body=b"y", ExpectedBucketOwner=refused) == (
            403,
            "AccessDenied",
        )
        assert status(
            owner.copy_object,
            Bucket="owned",
            Key="copy",
            CopySource={"Bucket": "owned", "Key": "k"},
            ExpectedSourceBucketOwner=refused,
        ) == (403, "AccessDenied")
    assert owner.get_object(Bucket="owned", Key="k")["Body"].read() == b"x"  # nothing was written
