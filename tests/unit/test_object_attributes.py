"""GetObjectAttributes (``GET /bucket/key?attributes``) through a real server and boto3: the SDKs' checksum
helpers and ceph/s3-tests read an object's ETag, checksum, parts and size this way instead of downloading it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from smarts3.testing import RunningServer, running_server

BUCKET = "attrs"
ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    server: RunningServer
    with running_server(data_dir=tmp_path_factory.mktemp("data")) as server:
        client = server.client()
        client.create_bucket(Bucket=BUCKET)
        yield client


def _attributes(s3: Any, key: str, names: list[str], **kwargs: Any) -> dict[str, Any]:
    answer = s3.get_object_attributes(Bucket=BUCKET, Key=key, ObjectAttributes=names, **kwargs)
    answer.pop("ResponseMetadata")
    return dict(answer)


def test_a_simple_object_reports_its_etag_checksum_class_and_size_not_its_body(s3: Any) -> None:
    put = s3.put_object(Bucket=BUCKET, Key="k", Body=b"abc", ChecksumAlgorithm="SHA256")
    answer = _attributes(s3, "k", ALL)
    assert answer["ETag"] == hashlib.md5(b"abc").hexdigest()  # unquoted, unlike every other ETag
    assert answer["Checksum"] == {"ChecksumSHA256": put["ChecksumSHA256"], "ChecksumType": "FULL_OBJECT"}
    assert (answer["StorageClass"], answer["ObjectSize"]) == ("STANDARD", 3)
    assert "ObjectParts" not in answer  # not made by a multipart upload
    assert "LastModified" in answer
    assert _attributes(s3, "k", ["ObjectSize"]) == {"LastModified": answer["LastModified"], "ObjectSize": 3}


def test_a_multipart_object_lists_its_parts_page_by_page(s3: Any) -> None:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="m", ChecksumAlgorithm="SHA256")["UploadId"]
    parts = []
    for number, body in ((1, b"A" * (5 << 20)), (2, b"B" * 100)):
        part = s3.upload_part(
            Bucket=BUCKET, Key="m", UploadId=upload, PartNumber=number, Body=body, ChecksumAlgorithm="SHA256"
        )
        parts.append({"ETag": part["ETag"], "PartNumber": number, "ChecksumSHA256": part["ChecksumSHA256"]})
    done = s3.complete_multipart_upload(
        Bucket=BUCKET, Key="m", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    first = _attributes(s3, "m", ["ETag", "Checksum", "ObjectParts"], MaxParts=1)
    assert first["ETag"] == done["ETag"].strip('"')
    assert first["Checksum"]["ChecksumSHA256"] == done["ChecksumSHA256"]
    assert first["ObjectParts"]["TotalPartsCount"] == 2
    assert first["ObjectParts"]["IsTruncated"] is True
    # each part with its own checksum (ceph/s3-tests' test_get_multipart_checksum_object_attributes)
    assert first["ObjectParts"]["Parts"] == [
        {"PartNumber": 1, "Size": 5 << 20, "ChecksumSHA256": parts[0]["ChecksumSHA256"]}
    ]
    rest = _attributes(
        s3, "m", ["ObjectParts"], PartNumberMarker=first["ObjectParts"]["NextPartNumberMarker"]
    )["ObjectParts"]
    assert rest["IsTruncated"] is False
    assert rest["Parts"] == [{"PartNumber": 2, "Size": 100, "ChecksumSHA256": parts[1]["ChecksumSHA256"]}]


def test_unknown_attribute_names_and_missing_keys_are_errors(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="e", Body=b"x")
    with pytest.raises(ClientError) as bad:
        s3.get_object_attributes(Bucket=BUCKET, Key="e", ObjectAttributes=["Colour"])
    assert bad.value.response["Error"]["Code"] == "InvalidArgument"
    with pytest.raises(ClientError) as missing:
        s3.get_object_attributes(Bucket=BUCKET, Key="absent", ObjectAttributes=["ETag"])
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize(
    ("header", "value"), [("x-amz-max-parts", "many"), ("x-amz-part-number-marker", "-1")]
)
def test_paging_headers_that_are_not_numbers_are_invalid_argument(s3: Any, header: str, value: str) -> None:
    s3.put_object(Bucket=BUCKET, Key="p", Body=b"x")

    def add_header(params: dict[str, Any], **_: Any) -> None:
        params["headers"][header] = value

    s3.meta.events.register("before-call.s3.GetObjectAttributes", add_header)
    try:
        with pytest.raises(ClientError) as bad:
            s3.get_object_attributes(Bucket=BUCKET, Key="p", ObjectAttributes=["ObjectParts"])
    finally:
        s3.meta.events.unregister("before-call.s3.GetObjectAttributes", add_header)
    assert bad.value.response["Error"]["Code"] == "InvalidArgument"
