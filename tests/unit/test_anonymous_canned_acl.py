"""Anonymous access follows the bucket's canned ACL: public-read lists and reads, public-read-write also writes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from smarts3.testing import RunningServer, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(data_dir=tmp_path_factory.mktemp("data")) as running:
        owner = running.client()
        owner.create_bucket(Bucket="private-b")
        owner.create_bucket(Bucket="read-b", ACL="public-read")
        owner.create_bucket(Bucket="write-b", ACL="public-read-write")
        for bucket in ("private-b", "read-b", "write-b"):
            owner.put_object(Bucket=bucket, Key="doc.txt", Body=b"hello")
        yield running


@pytest.fixture(scope="module")
def anonymous(server: RunningServer) -> Any:
    return server.client(signature_version=UNSIGNED)


def _denied(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as error:
        return bool(error.response["ResponseMetadata"]["HTTPStatusCode"] == 403)
    return False


def test_private_bucket_refuses_anonymous_reads_and_lists(anonymous: Any) -> None:
    assert _denied(anonymous.get_object, Bucket="private-b", Key="doc.txt")
    assert _denied(anonymous.list_objects_v2, Bucket="private-b")


def test_public_read_bucket_lists_and_reads_but_refuses_writes_and_config(anonymous: Any) -> None:
    assert anonymous.get_object(Bucket="read-b", Key="doc.txt")["Body"].read() == b"hello"
    assert [o["Key"] for o in anonymous.list_objects_v2(Bucket="read-b")["Contents"]] == ["doc.txt"]
    assert [o["Key"] for o in anonymous.list_objects(Bucket="read-b")["Contents"]] == ["doc.txt"]
    assert _denied(anonymous.put_object, Bucket="read-b", Key="new.txt", Body=b"x")
    assert _denied(anonymous.delete_object, Bucket="read-b", Key="doc.txt")
    assert _denied(anonymous.get_bucket_acl, Bucket="read-b")
    assert _denied(anonymous.get_object_tagging, Bucket="read-b", Key="doc.txt")


def test_public_read_write_bucket_accepts_anonymous_writes_and_deletes(anonymous: Any) -> None:
    anonymous.put_object(Bucket="write-b", Key="dropped.txt", Body=b"from anyone")
    assert anonymous.get_object(Bucket="write-b", Key="dropped.txt")["Body"].read() == b"from anyone"
    anonymous.delete_object(Bucket="write-b", Key="dropped.txt")
    assert _denied(
        anonymous.put_bucket_versioning, Bucket="write-b", VersioningConfiguration={"Status": "Enabled"}
    )


def test_a_public_listing_ignores_query_parameters_it_does_not_know(server: RunningServer) -> None:
    """A browser POST's success_action_redirect lands on ``/bucket?bucket=..&key=..&etag=..``: S3 ignores
    parameters it does not know, so that is still an anonymous listing of a public-read bucket."""
    import urllib.error
    import urllib.request

    with urllib.request.urlopen(f"{server.endpoint_url}/read-b?bucket=read-b&key=doc.txt&etag=x") as answer:
        assert answer.status == 200 and b"<Key>doc.txt</Key>" in answer.read()
    for subresource in ("acl", "policy", "versioning", "website"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.endpoint_url}/read-b?{subresource}&prefix=d")
        assert refused.value.code == 403, subresource


def test_authenticated_read_canned_acl_grants_authenticated_users_read(server: RunningServer) -> None:
    owner = server.client()
    owner.create_bucket(Bucket="authread-b", ACL="authenticated-read")
    grants = owner.get_bucket_acl(Bucket="authread-b")["Grants"]
    groups = {(g["Grantee"].get("URI"), g["Permission"]) for g in grants if g["Grantee"]["Type"] == "Group"}
    assert groups == {("http://acs.amazonaws.com/groups/global/AuthenticatedUsers", "READ")}
    owner.put_bucket_acl(Bucket="authread-b", ACL="private")
    assert [g["Permission"] for g in owner.get_bucket_acl(Bucket="authread-b")["Grants"]] == ["FULL_CONTROL"]
    owner.put_bucket_acl(Bucket="authread-b", ACL="authenticated-read")
    assert len(owner.get_bucket_acl(Bucket="authread-b")["Grants"]) == 2


def _owner_and_bucket(server: RunningServer, name: str, **kwargs: Any) -> Any:
    owner = server.client()
    owner.create_bucket(Bucket=name, **kwargs)
    return owner


def test_an_objects_own_canned_acl_decides_over_the_buckets(server: RunningServer, anonymous: Any) -> None:
    """ceph/s3-tests test_object_raw_get_object_acl / _bucket_acl: a public object in a private bucket is
    readable, a private object in a public-read bucket is not; an object with no ACL of its own follows the
    bucket, as smarts3 always did."""
    owner = _owner_and_bucket(server, "objacl-private")
    owner.put_object(Bucket="objacl-private", Key="open", Body=b"o", ACL="public-read")
    owner.put_object(Bucket="objacl-private", Key="closed", Body=b"c")
    assert anonymous.get_object(Bucket="objacl-private", Key="open")["Body"].read() == b"o"
    assert _denied(anonymous.get_object, Bucket="objacl-private", Key="closed")
    assert _denied(anonymous.list_objects_v2, Bucket="objacl-private")

    owner = _owner_and_bucket(server, "objacl-public", ACL="public-read")
    owner.put_object(Bucket="objacl-public", Key="secret", Body=b"s", ACL="private")
    owner.put_object(Bucket="objacl-public", Key="plain", Body=b"p")
    assert _denied(anonymous.get_object, Bucket="objacl-public", Key="secret")
    assert _denied(anonymous.head_object, Bucket="objacl-public", Key="secret")
    assert anonymous.get_object(Bucket="objacl-public", Key="plain")["Body"].read() == b"p"


def test_put_object_acl_is_stored_and_reported(server: RunningServer, anonymous: Any) -> None:
    owner = _owner_and_bucket(server, "objacl-put")
    owner.put_object(Bucket="objacl-put", Key="k", Body=b"x")
    assert [g["Permission"] for g in owner.get_object_acl(Bucket="objacl-put", Key="k")["Grants"]] == [
        "FULL_CONTROL"
    ]
    assert _denied(anonymous.get_object, Bucket="objacl-put", Key="k")
    owner.put_object_acl(Bucket="objacl-put", Key="k", ACL="public-read")
    grants = owner.get_object_acl(Bucket="objacl-put", Key="k")["Grants"]
    assert {
        (g["Grantee"].get("URI"), g["Permission"]) for g in grants if g["Grantee"]["Type"] == "Group"
    } == {("http://acs.amazonaws.com/groups/global/AllUsers", "READ")}
    assert anonymous.get_object(Bucket="objacl-put", Key="k")["Body"].read() == b"x"
    # a copy never takes its source's ACL; a multipart upload keeps the one it was created with
    owner.copy_object(Bucket="objacl-put", Key="copy", CopySource={"Bucket": "objacl-put", "Key": "k"})
    assert _denied(anonymous.get_object, Bucket="objacl-put", Key="copy")
    upload = owner.create_multipart_upload(Bucket="objacl-put", Key="mp", ACL="public-read")["UploadId"]
    part = owner.upload_part(Bucket="objacl-put", Key="mp", UploadId=upload, PartNumber=1, Body=b"m")
    owner.complete_multipart_upload(
        Bucket="objacl-put",
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    assert anonymous.get_object(Bucket="objacl-put", Key="mp")["Body"].read() == b"m"


def test_an_unknown_canned_acl_is_invalid_argument(server: RunningServer) -> None:
    owner = _owner_and_bucket(server, "objacl-bad")
    with pytest.raises(ClientError) as refused:
        owner.put_object(Bucket="objacl-bad", Key="k", Body=b"x", ACL="everyone-please")
    assert refused.value.response["Error"]["Code"] == "InvalidArgument"


def test_anonymous_reads_may_not_override_response_headers(server: RunningServer, anonymous: Any) -> None:
    """AWS: "Request specific response headers cannot be used for anonymous GET requests" (400)."""
    with pytest.raises(ClientError) as caught:
        anonymous.get_object(Bucket="read-b", Key="doc.txt", ResponseContentType="foo/bar")
    error = caught.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (400, "InvalidRequest")
    # a signed request may
    got = server.client().get_object(Bucket="read-b", Key="doc.txt", ResponseContentType="foo/bar")
    assert got["ContentType"] == "foo/bar"


def test_with_auth_off_every_request_may_override_response_headers(tmp_path: Any) -> None:
    with running_server(data_dir=tmp_path / "data", auth=False) as open_server:
        s3 = open_server.client(signature_version=UNSIGNED)
        s3.create_bucket(Bucket="open-b")
        s3.put_object(Bucket="open-b", Key="doc.txt", Body=b"hello")
        got = s3.get_object(Bucket="open-b", Key="doc.txt", ResponseContentType="foo/bar")
        assert got["ContentType"] == "foo/bar"


def test_an_unknown_canned_acl_on_a_bucket_is_invalid_argument_and_changes_nothing(server: RunningServer) -> None:
    owner = server.client()
    with pytest.raises(ClientError) as caught:
        owner.create_bucket(Bucket="acl-typo", ACL="public-ready")  # type: ignore[arg-type]
    assert caught.value.response["Error"]["Code"] == "InvalidArgument"
    with pytest.raises(ClientError) as caught:
        owner.head_bucket(Bucket="acl-typo")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404  # not created
    with pytest.raises(ClientError) as caught:
        owner.put_bucket_acl(Bucket="read-b", ACL="public-ready")  # type: ignore[arg-type]
    assert caught.value.response["Error"]["Code"] == "InvalidArgument"
    grants = owner.get_bucket_acl(Bucket="read-b")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") for g in grants)  # still public-read


def test_anonymous_bucket_creation_and_an_empty_authorization_header_are_access_denied(
    server: RunningServer,
) -> None:
    import httpx

    created = httpx.put(f"{server.endpoint_url}/anon-new-bucket")
    assert (created.status_code, b"<Code>AccessDenied</Code>" in created.content) == (403, True)
    empty = httpx.put(f"{server.endpoint_url}/private-b/x", content=b"x", headers={"Authorization": ""})
    assert (empty.status_code, b"<Code>AccessDenied</Code>" in empty.content) == (403, True)


def test_canned_acl_grants_list_the_groups_before_the_owner(server: RunningServer) -> None:
    """The order s3-tests' canned-ACL checks (test_bucket_acl_canned...) compare grants in, pairwise."""
    owner = server.client()

    def kinds(grants: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(g["Grantee"]["Type"], g["Permission"]) for g in grants]

    bucket_grants = owner.get_bucket_acl(Bucket="write-b")["Grants"]
    assert kinds(bucket_grants) == [("Group", "READ"), ("Group", "WRITE"), ("CanonicalUser", "FULL_CONTROL")]
    owner.put_object(Bucket="read-b", Key="acl-order.txt", Body=b"x", ACL="authenticated-read")
    object_grants = owner.get_object_acl(Bucket="read-b", Key="acl-order.txt")["Grants"]
    assert kinds(object_grants) == [("Group", "READ"), ("CanonicalUser", "FULL_CONTROL")]
