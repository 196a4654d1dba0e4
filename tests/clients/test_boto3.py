"""boto3 (newest) with default settings, over HTTP and HTTPS.

boto3 >= 1.36 sends a CRC32 for every PUT/UploadPart: in a header over HTTP, and as an aws-chunked body with an
``x-amz-checksum-crc32`` trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER) over HTTPS.
"""

from __future__ import annotations

import base64
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from clientkit import (
    METADATA,
    MULTIPART_SIZE,
    PAGED_COUNT,
    TREE_FILES,
    TREE_KEYS,
    TREE_PREFIXES,
    TRICKY_KEYS,
    WRONG_SECRET,
    Target,
    sha256_file,
)

pytestmark = pytest.mark.clients


def _client(target: Target, secret: str | None = None) -> Any:
    kwargs = target.server.boto3_kwargs()
    if secret is not None:
        kwargs["aws_secret_access_key"] = secret
    return boto3.client("s3", verify=str(target.ca_file) if target.ca_file else None, **kwargs)


def test_boto3_object_round_trip(target: Target) -> None:
    s3 = _client(target)
    bucket = target.new_bucket("boto3")
    s3.create_bucket(Bucket=bucket)
    body = b"hello from boto3 " * 1000
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=body, Metadata=METADATA,
                  ContentType="text/plain")

    head = s3.head_object(Bucket=bucket, Key="doc.txt")
    assert head["ContentLength"] == len(body)
    assert head["Metadata"] == METADATA
    assert head["ContentType"] == "text/plain"

    # the CRC32 boto3 sent (header over HTTP, aws-chunked trailer over HTTPS) was verified and stored
    got = s3.get_object(Bucket=bucket, Key="doc.txt", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["ChecksumCRC32"] == base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    ranged = s3.get_object(Bucket=bucket, Key="doc.txt", Range="bytes=6-15")
    assert ranged["ContentRange"] == f"bytes 6-15/{len(body)}"
    assert ranged["Body"].read() == body[6:16]

    s3.copy_object(Bucket=bucket, Key="copy.txt",
                   CopySource={"Bucket": bucket, "Key": "doc.txt"})
    copied = s3.get_object(Bucket=bucket, Key="copy.txt")
    assert copied["Body"].read() == body
    assert copied["Metadata"] == METADATA

    s3.delete_object(Bucket=bucket, Key="doc.txt")
    with pytest.raises(ClientError) as err:
        s3.head_object(Bucket=bucket, Key="doc.txt")
    assert err.value.response["Error"]["Code"] == "404"
    # DeleteObjects: boto3 sends a CRC32 header, not Content-MD5
    deleted = s3.delete_objects(Bucket=bucket,
                                Delete={"Objects": [{"Key": "copy.txt"}, {"Key": "absent"}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["absent", "copy.txt"]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_boto3_lists_with_prefix_delimiter_and_pages(target: Target) -> None:
    s3 = _client(target)
    bucket = target.new_bucket("boto3")
    s3.create_bucket(Bucket=bucket)
    target.create_tree(bucket)

    listing = s3.list_objects_v2(Bucket=bucket, Prefix="tree/", Delimiter="/")
    assert [p["Prefix"] for p in listing["CommonPrefixes"]] == TREE_PREFIXES
    assert [o["Key"] for o in listing["Contents"]] == TREE_FILES

    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 2})
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert keys == sorted(TREE_KEYS)
    v1 = s3.get_paginator("list_objects").paginate(
        Bucket=bucket, Prefix="tree/", PaginationConfig={"PageSize": 2})
    assert [o["Key"] for page in v1 for o in page.get("Contents", [])] == sorted(TREE_KEYS[:5])

    default_pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=target.paged_bucket))
    assert len(default_pages) == 2
    assert sum(p["KeyCount"] for p in default_pages) == PAGED_COUNT


def test_boto3_tricky_keys_round_trip(target: Target) -> None:
    s3 = _client(target)
    bucket = target.new_bucket("boto3")
    s3.create_bucket(Bucket=bucket)
    for key in TRICKY_KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(TRICKY_KEYS)
    for key in TRICKY_KEYS:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
        url = s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
        assert _fetch(url, target) == key.encode()
    copy_source = {"Bucket": bucket, "Key": TRICKY_KEYS[-1]}
    s3.copy_object(Bucket=bucket, Key="copied/" + TRICKY_KEYS[0], CopySource=copy_source)
    assert s3.get_object(
        Bucket=bucket, Key="copied/" + TRICKY_KEYS[0])["Body"].read() == TRICKY_KEYS[-1].encode()


def _fetch(url: str, target: Target) -> bytes:
    import ssl

    context = ssl.create_default_context(cafile=str(target.ca_file)) if target.ca_file else None
    with urllib.request.urlopen(url, context=context, timeout=10) as resp:
        return resp.read()


def test_boto3_presigned_get_downloads_the_object(target: Target) -> None:
    s3 = _client(target)
    bucket = target.new_bucket("boto3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="shared.bin", Body=b"\x00\x01presigned")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "shared.bin"}, ExpiresIn=60)
    # boto3 presigns S3 with SigV2 query auth by default for us-east-1 (Signature=, Expires=)
    assert "Signature=" in url
    assert _fetch(url, target) == b"\x00\x01presigned"


def test_boto3_wrong_secret_gets_signature_does_not_match(target: Target) -> None:
    s3 = _client(target, secret=WRONG_SECRET)
    with pytest.raises(ClientError) as err:
        s3.list_buckets()
    assert err.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as put_err:
        s3.put_object(Bucket=target.scratch_bucket, Key="nope", Body=b"x")
    assert put_err.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    admin = target.admin()
    with pytest.raises(ClientError):
        admin.head_object(Bucket=target.scratch_bucket, Key="nope")


def test_boto3_multipart_upload_round_trips(target: Target, big_file: Path, tmp_path: Path) -> None:
    s3 = _client(target)
    bucket = target.new_bucket("boto3")
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(big_file), bucket, "big.bin", ExtraArgs={"Metadata": METADATA})
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == MULTIPART_SIZE
    assert head["ETag"].endswith(f'-{-(-MULTIPART_SIZE // TransferConfig().multipart_chunksize)}"')
    assert head["Metadata"] == METADATA
    out = tmp_path / "back.bin"
    s3.download_file(bucket, "big.bin", str(out))
    assert sha256_file(out) == sha256_file(big_file)
