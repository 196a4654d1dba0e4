"""Anonymous access follows the bucket's canned ACL: public-read lists and reads, public-read-write also writes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
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
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name=server.region,
        config=Config(signature_version=UNSIGNED),
    )


def _denied(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as error:
        return error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
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
