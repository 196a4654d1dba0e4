"""S3 request edge cases over real HTTP, each one found by running the public ceph/s3-tests suite against smarts3.

Every test states the S3 behaviour a client relies on; none reuses that suite's code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
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
def bucket(client: Any) -> str:
    name = f"edge-{next(_counter)}"
    client.create_bucket(Bucket=name)
    return name


def test_list_v2_with_empty_continuation_token_lists_from_the_start_and_echoes_it(client: Any, bucket: str) -> None:
    for key in ("a", "b", "c"):
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    page = client.list_objects_v2(Bucket=bucket, ContinuationToken="")
    assert [o["Key"] for o in page["Contents"]] == ["a", "b", "c"]
    assert page["ContinuationToken"] == ""
    assert page["IsTruncated"] is False


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("deflate, gzip", "deflate, gzip"),
        ("gzip, aws-chunked", "gzip"),
        ("aws-chunked, deflate, gzip", "deflate, gzip"),
        ("aws-chunked", None),
    ],
)
def test_content_encoding_is_stored_as_sent_minus_aws_chunked(
    client: Any, bucket: str, sent: str, stored: str | None
) -> None:
    # boto3 signs this plain body with its SHA-256: the aws-chunked label must not make the server unframe it
    client.put_object(Bucket=bucket, Key="enc", Body=b"abc", ContentEncoding=sent)
    got = client.get_object(Bucket=bucket, Key="enc")
    assert got.get("ContentEncoding") == stored
    assert got["Body"].read() == b"abc"


def test_anonymous_request_on_a_missing_bucket_is_no_such_bucket(server: RunningServer) -> None:
    for method in ("GET", "DELETE", "PUT"):
        response = httpx.request(method, f"{server.endpoint_url}/no-such-bucket-here/key", timeout=30)
        assert response.status_code == 404, method
        assert "<Code>NoSuchBucket</Code>" in response.text


def test_anonymous_request_on_an_existing_private_bucket_is_still_access_denied(
    server: RunningServer, bucket: str
) -> None:
    response = httpx.get(f"{server.endpoint_url}/{bucket}/key", timeout=30)
    assert response.status_code == 403
    assert "<Code>AccessDenied</Code>" in response.text
