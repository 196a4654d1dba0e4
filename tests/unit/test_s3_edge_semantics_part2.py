"""More S3 request edge cases over real HTTP, found by running the public ceph/s3-tests suite against smarts3.

Every test states the S3 behaviour a client relies on; none reuses that suite's code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from smarts3.testing import running_server
from smarts3.testing.server import RunningServer


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with running_server() as s3:
        yield s3


@pytest.fixture()
def client(server: RunningServer) -> Any:
    return server.client()


_counter = iter(range(1_000_000))


@pytest.fixture()
def bucket_name() -> str:
    return f"edge2-{next(_counter)}"


def test_sigv2_boto3_client_can_create_list_acl_and_delete_a_bucket(server: RunningServer, bucket_name: str) -> None:
    # botocore's SigV2 signer signs path-style bucket requests as "/bucket/" while sending "/bucket"
    v2 = server.client(signature_version="s3")
    v2.create_bucket(Bucket=bucket_name)
    v2.put_object(Bucket=bucket_name, Key="k", Body=b"x")
    assert [o["Key"] for o in v2.list_objects(Bucket=bucket_name)["Contents"]] == ["k"]
    v2.put_bucket_acl(Bucket=bucket_name, ACL="private")
    v2.head_bucket(Bucket=bucket_name)
    v2.delete_object(Bucket=bucket_name, Key="k")
    v2.delete_bucket(Bucket=bucket_name)


def test_list_buckets_pages_by_name_with_max_buckets_and_continuation_token(client: Any) -> None:
    names = [f"page-{i}" for i in range(3)]
    for name in names:
        client.create_bucket(Bucket=name)
    seen: list[str] = []
    kwargs: dict[str, Any] = {"MaxBuckets": 2, "Prefix": "page-"}
    while True:
        page = client.list_buckets(**kwargs)
        assert page["Prefix"] == "page-"
        seen += [b["Name"] for b in page["Buckets"]]
        if "ContinuationToken" not in page:
            break
        kwargs["ContinuationToken"] = page["ContinuationToken"]
    assert seen == names
    assert [b["Name"] for b in client.list_buckets(Prefix="page-1")["Buckets"]] == ["page-1"]
    for name in names:
        client.delete_bucket(Bucket=name)


def test_list_buckets_rejects_max_buckets_out_of_range(client: Any) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as err:
        client.list_buckets(MaxBuckets=10001)
    assert err.value.response["Error"]["Code"] == "InvalidArgument"


def test_retried_complete_multipart_upload_succeeds_with_the_same_etag(client: Any, bucket_name: str) -> None:
    # an SDK retries CompleteMultipartUpload when the first answer is lost; S3 answers 200 again
    client.create_bucket(Bucket=bucket_name)
    upload_id = client.create_multipart_upload(Bucket=bucket_name, Key="k")["UploadId"]
    etag = client.upload_part(Bucket=bucket_name, Key="k", UploadId=upload_id, PartNumber=1, Body=b"abc")["ETag"]
    parts = {"Parts": [{"ETag": etag, "PartNumber": 1}]}
    first = client.complete_multipart_upload(Bucket=bucket_name, Key="k", UploadId=upload_id, MultipartUpload=parts)
    again = client.complete_multipart_upload(Bucket=bucket_name, Key="k", UploadId=upload_id, MultipartUpload=parts)
    assert again["ETag"] == first["ETag"]
    assert client.get_object(Bucket=bucket_name, Key="k")["Body"].read() == b"abc"


def test_complete_of_an_unknown_upload_with_other_parts_is_no_such_upload(client: Any, bucket_name: str) -> None:
    from botocore.exceptions import ClientError

    client.create_bucket(Bucket=bucket_name)
    client.put_object(Bucket=bucket_name, Key="k", Body=b"abc")
    parts = {"Parts": [{"ETag": '"' + "0" * 32 + '"', "PartNumber": 1}]}
    with pytest.raises(ClientError) as err:
        client.complete_multipart_upload(Bucket=bucket_name, Key="k", UploadId="nope", MultipartUpload=parts)
    assert err.value.response["Error"]["Code"] == "NoSuchUpload"


_ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


@pytest.mark.parametrize(
    ("canned", "public"), [("public-read", ["READ"]), ("public-read-write", ["READ", "WRITE"]), ("private", [])]
)
def test_get_bucket_acl_shows_the_canned_acl_anonymous_access_honours(
    client: Any, bucket_name: str, canned: str, public: list[str]
) -> None:
    client.create_bucket(Bucket=bucket_name, ACL="public-read")
    client.put_bucket_acl(Bucket=bucket_name, ACL=canned)
    grants = client.get_bucket_acl(Bucket=bucket_name)["Grants"]
    assert [g["Permission"] for g in grants if g["Grantee"].get("URI") == _ALL_USERS] == public
    assert [g["Permission"] for g in grants if g["Grantee"]["Type"] == "CanonicalUser"] == ["FULL_CONTROL"]
