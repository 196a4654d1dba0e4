"""Features smarts3 does not provide, over real HTTP, answered the way S3 clients can live with.

Server-side encryption: SSE-S3 (AES256) is accepted, recorded and answered as S3 does; SSE-C and SSE-KMS are
refused with 501 rather than storing in the clear what a client asked to have encrypted; any other algorithm is
400 InvalidArgument. Bucket configurations smarts3 has no use for (notification, logging, website...) read as
they read on a bucket that never had them."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from smarts3.testing import running_server
from smarts3.testing.server import RunningServer, server_settings


@pytest.fixture(scope="module", params=["filesystem", "memory"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data: Path | None = tmp_path_factory.mktemp("sse") if request.param == "filesystem" else None
    with running_server(server_settings(data_dir=data)) as s3:
        yield s3


@pytest.fixture()
def client(server: RunningServer) -> Any:
    return server.client()


_counter = iter(range(1_000_000))


@pytest.fixture()
def bucket(client: Any) -> str:
    name = f"sse-{next(_counter)}"
    client.create_bucket(Bucket=name)
    return name


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    error = exc.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]


def test_sse_s3_is_recorded_and_answered_on_every_path(client: Any, bucket: str) -> None:
    put = client.put_object(Bucket=bucket, Key="k", Body=b"data", ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    assert client.head_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "AES256"
    got = client.get_object(Bucket=bucket, Key="k")
    assert got["ServerSideEncryption"] == "AES256" and got["Body"].read() == b"data"
    copied = client.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k"})
    assert copied["ServerSideEncryption"] == "AES256"
    upload = client.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="AES256")
    assert upload["ServerSideEncryption"] == "AES256"
    part = client.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=b"p")
    done = client.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert done["ServerSideEncryption"] == "AES256"
    assert client.head_object(Bucket=bucket, Key="mp")["ServerSideEncryption"] == "AES256"
    # an object written without it says nothing about encryption
    client.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert "ServerSideEncryption" not in client.head_object(Bucket=bucket, Key="plain")


def test_sse_kms_is_not_implemented_and_stores_nothing(client: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as refused:
        client.put_object(Bucket=bucket, Key="k", Body=b"secret", ServerSideEncryption="aws:kms")
    assert _code(refused) == (501, "NotImplemented")
    with pytest.raises(ClientError) as refused:
        client.create_multipart_upload(Bucket=bucket, Key="k", ServerSideEncryption="aws:kms", SSEKMSKeyId="key")
    assert _code(refused) == (501, "NotImplemented")
    assert "Contents" not in client.list_objects_v2(Bucket=bucket)


def test_sse_c_is_not_implemented_for_writes_reads_and_copies(client: Any, bucket: str) -> None:
    key = b"k" * 32
    sse_c = {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(key).decode(),
        "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }
    with pytest.raises(ClientError) as refused:
        client.put_object(Bucket=bucket, Key="k", Body=b"secret", **sse_c)
    assert _code(refused) == (501, "NotImplemented")
    assert "Contents" not in client.list_objects_v2(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="plain", Body=b"x")
    with pytest.raises(ClientError) as refused:
        client.get_object(Bucket=bucket, Key="plain", **sse_c)
    assert _code(refused) == (501, "NotImplemented")
    with pytest.raises(ClientError) as refused:
        client.copy_object(
            Bucket=bucket,
            Key="copy",
            CopySource={"Bucket": bucket, "Key": "plain"},
            CopySourceSSECustomerAlgorithm="AES256",
            CopySourceSSECustomerKey=sse_c["SSECustomerKey"],
            CopySourceSSECustomerKeyMD5=sse_c["SSECustomerKeyMD5"],
        )
    assert _code(refused) == (501, "NotImplemented")


def test_an_unknown_algorithm_is_invalid_argument(client: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as refused:
        client.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="DES")
    assert _code(refused) == (400, "InvalidArgument")
    assert refused.value.response["Error"]["ArgumentName"] == "x-amz-server-side-encryption"
    assert "Contents" not in client.list_objects_v2(Bucket=bucket)


def test_reading_unsupported_bucket_configurations_answers_as_for_a_bucket_without_them(
    client: Any, bucket: str
) -> None:
    """What S3 answers for a bucket that never had these set (Terraform and other tools read them all)."""
    assert client.get_bucket_notification_configuration(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "LoggingEnabled" not in client.get_bucket_logging(Bucket=bucket)
    assert "Status" not in client.get_bucket_accelerate_configuration(Bucket=bucket)
    assert client.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    for call, code in (
        (client.get_bucket_website, "NoSuchWebsiteConfiguration"),
        (client.get_bucket_replication, "ReplicationConfigurationNotFoundError"),
        (client.get_bucket_ownership_controls, "OwnershipControlsNotFoundError"),
    ):
        with pytest.raises(ClientError) as missing:
            call(Bucket=bucket)
        assert _code(missing) == (404, code)
    with pytest.raises(ClientError) as no_bucket:
        client.get_bucket_request_payment(Bucket=bucket + "-absent")
    assert _code(no_bucket) == (404, "NoSuchBucket")


def test_a_torrent_request_is_not_answered_with_the_object(client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="k", Body=b"the bytes")
    with pytest.raises(ClientError) as refused:
        client.get_object_torrent(Bucket=bucket, Key="k")
    assert _code(refused) == (501, "NotImplemented")


def test_minio_listen_bucket_notification_is_not_implemented(client: Any, bucket: str) -> None:
    """MinIO's long poll is ``GET /bucket?events=...``; answered as a listing, its SDKs poll again at once."""

    def add_events(request: Any, **_: Any) -> None:
        request.url += "&events=s3%3AObjectCreated%3A%2A&prefix=&suffix="

    client.meta.events.register("before-sign.s3.ListObjects", add_events)
    try:
        with pytest.raises(ClientError) as refused:
            client.list_objects(Bucket=bucket)
    finally:
        client.meta.events.unregister("before-sign.s3.ListObjects", add_events)
    assert _code(refused) == (501, "NotImplemented")
    assert client.list_objects(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
