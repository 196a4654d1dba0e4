"""CompleteMultipartUpload checks the checksums its request carries: a part's checksum in the body must be the
one that part was uploaded with (InvalidPart), and an x-amz-checksum-* header must match the object's checksum
(BadDigest). Nothing is completed on a mismatch; the upload stays, as S3 keeps it."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from smarts3.testing import RunningServer, running_server

BUCKET = "cksum"


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    server: RunningServer
    with running_server() as server:
        client = server.client()
        client.create_bucket(Bucket=BUCKET)
        yield client


def _sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _upload(s3: Any, key: str) -> tuple[str, list[dict[str, Any]]]:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ChecksumAlgorithm="SHA256")["UploadId"]
    parts = []
    for number, body in ((1, b"A" * (5 << 20)), (2, b"B" * 1024)):
        part = s3.upload_part(
            Bucket=BUCKET,
            Key=key,
            UploadId=upload,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=_sha256(body),
        )
        parts.append({"ETag": part["ETag"], "PartNumber": number, "ChecksumSHA256": part["ChecksumSHA256"]})
    return upload, parts


def _code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    return str(refused.value.response["Error"]["Code"])


def test_a_wrong_object_checksum_header_is_bad_digest_and_completes_nothing(s3: Any) -> None:
    upload, parts = _upload(s3, "header")
    code = _code(
        s3.complete_multipart_upload,
        Bucket=BUCKET,
        Key="header",
        UploadId=upload,
        ChecksumSHA256=_sha256(b"something else"),
        MultipartUpload={"Parts": parts},
    )
    assert code == "BadDigest"
    assert len(s3.list_parts(Bucket=BUCKET, Key="header", UploadId=upload)["Parts"]) == 2  # upload kept
    assert _code(s3.head_object, Bucket=BUCKET, Key="header") == "404"
    # the right composite value, with or without its "-2" suffix, completes
    digests = b"".join(hashlib.sha256(b).digest() for b in (b"A" * (5 << 20), b"B" * 1024))
    composite = base64.b64encode(hashlib.sha256(digests).digest()).decode()
    done = s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="header",
        UploadId=upload,
        ChecksumSHA256=composite,
        MultipartUpload={"Parts": parts},
    )
    assert done["ChecksumSHA256"] == f"{composite}-2"


def test_a_part_checksum_that_is_not_the_uploaded_one_is_invalid_part(s3: Any) -> None:
    upload, parts = _upload(s3, "part")
    parts[1] = dict(parts[1], ChecksumSHA256=_sha256(b"not part two"))
    code = _code(
        s3.complete_multipart_upload,
        Bucket=BUCKET,
        Key="part",
        UploadId=upload,
        MultipartUpload={"Parts": parts},
    )
    assert code == "InvalidPart"
    assert _code(s3.head_object, Bucket=BUCKET, Key="part") == "404"


def test_a_malformed_checksum_value_is_invalid_request_not_bad_digest(s3: Any) -> None:
    for bad in ("bad", base64.b64encode(b"short").decode()):  # not base64 / not a 32-byte digest
        refused = _code(s3.put_object, Bucket=BUCKET, Key="malformed", Body=b"x", ChecksumSHA256=bad)
        assert refused == "InvalidRequest"
    assert _code(s3.head_object, Bucket=BUCKET, Key="malformed") == "404"
    # a well-formed value the body does not match stays BadDigest
    wrong = _code(s3.put_object, Bucket=BUCKET, Key="malformed", Body=b"x", ChecksumSHA256=_sha256(b"y"))
    assert wrong == "BadDigest"
    upload, parts = _upload(s3, "malformed-mp")
    code = _code(
        s3.complete_multipart_upload,
        Bucket=BUCKET,
        Key="malformed-mp",
        UploadId=upload,
        ChecksumSHA256="bad-2",
        MultipartUpload={"Parts": parts},
    )
    assert code == "InvalidRequest"
