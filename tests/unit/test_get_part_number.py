"""GetObject / HeadObject with partNumber return one part of a multipart object, as S3 does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from smarts3.testing import RunningServer, running_server

PART = 5 * 1024 * 1024


@pytest.fixture(scope="module", params=["filesystem", "memory"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    kwargs: dict[str, Any] = (
        {"data_dir": tmp_path_factory.mktemp("data")} if request.param == "filesystem" else {}
    )
    with running_server(**kwargs) as running:
        yield running


@pytest.fixture(scope="module")
def s3(server: RunningServer) -> Any:
    client = server.client()
    client.create_bucket(Bucket="parts")
    upload = client.create_multipart_upload(Bucket="parts", Key="mp")["UploadId"]
    bodies = [b"a" * PART, b"b" * PART, b"c" * 1000]
    etags = [
        client.upload_part(Bucket="parts", Key="mp", UploadId=upload, PartNumber=n, Body=body)["ETag"]
        for n, body in enumerate(bodies, start=1)
    ]
    client.complete_multipart_upload(
        Bucket="parts",
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]},
    )
    client.put_object(Bucket="parts", Key="plain", Body=b"plain body")
    return client


@pytest.mark.parametrize(("number", "fill", "length"), [(1, b"a", PART), (2, b"b", PART), (3, b"c", 1000)])
def test_get_with_part_number_returns_only_that_part(s3: Any, number: int, fill: bytes, length: int) -> None:
    response = s3.get_object(Bucket="parts", Key="mp", PartNumber=number)
    body = response["Body"].read()
    assert body == fill * length
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 206
    start = (number - 1) * PART
    assert response["ContentRange"] == f"bytes {start}-{start + length - 1}/{2 * PART + 1000}"
    assert response["PartsCount"] == 3


def test_head_with_part_number_describes_that_part(s3: Any) -> None:
    response = s3.head_object(Bucket="parts", Key="mp", PartNumber=3)
    assert response["ContentLength"] == 1000
    assert response["PartsCount"] == 3


def test_parts_count_is_sent_only_to_requests_that_name_a_part(s3: Any) -> None:
    assert "PartsCount" not in s3.head_object(Bucket="parts", Key="mp")
    assert "PartsCount" not in s3.get_object(Bucket="parts", Key="mp")
    assert "PartsCount" not in s3.head_object(Bucket="parts", Key="plain", PartNumber=1)


def test_part_number_past_the_last_part_is_invalid_part_number(s3: Any) -> None:
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket="parts", Key="mp", PartNumber=4)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416


def test_part_one_of_an_ordinary_object_is_the_whole_object(s3: Any) -> None:
    assert s3.get_object(Bucket="parts", Key="plain", PartNumber=1)["Body"].read() == b"plain body"
    with pytest.raises(ClientError):
        s3.get_object(Bucket="parts", Key="plain", PartNumber=2)


def test_range_and_part_number_together_are_refused(s3: Any) -> None:
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket="parts", Key="mp", PartNumber=1, Range="bytes=0-1")
    assert caught.value.response["Error"]["Code"] == "InvalidRequest"
