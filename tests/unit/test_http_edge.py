"""The S3 HTTP edge through a real server: addressing styles, request ids, key edge cases, limits, bad input."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from smarts3.entrypoints.settings import ServerSettings
from smarts3.testing import RunningServer, running_server, server_settings


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = server_settings(data_dir=tmp_path_factory.mktemp("data"))
    settings = type(settings)(
        server=ServerSettings(host="127.0.0.1", port=settings.server.port, base_domain="s3.localtest"),
        storage=settings.storage,
        auth=settings.auth,
        limits=settings.limits,
        logging=settings.logging,
    )
    with running_server(settings) as running:
        yield running


@pytest.fixture(scope="module")
def s3(server: RunningServer) -> Any:
    client = server.client()
    client.create_bucket(Bucket="edge")
    return client


def _error(call: Any, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_every_response_carries_request_ids(s3: Any) -> None:
    headers = s3.head_bucket(Bucket="edge")["ResponseMetadata"]["HTTPHeaders"]
    assert len(headers["x-amz-request-id"]) == 16
    assert headers["x-amz-id-2"]


def test_error_response_is_s3_xml_with_request_id(server: RunningServer, s3: Any) -> None:
    # (``s3`` creates the bucket "edge": without it the answer would be 404 NoSuchBucket)
    conn = http.client.HTTPConnection("127.0.0.1", int(server.endpoint_url.rsplit(":", 1)[1]))
    conn.request("GET", "/edge/missing")
    response = conn.getresponse()
    body = response.read().decode()
    assert response.status == 403  # anonymous
    assert "<Code>AccessDenied</Code>" in body
    assert response.getheader("x-amz-request-id") in body


def test_virtual_host_style_addresses_the_bucket(server: RunningServer, s3: Any) -> None:
    s3.put_object(Bucket="edge", Key="vhost.txt", Body=b"virtual")
    client = boto3.client(
        "s3",
        config=Config(s3={"addressing_style": "virtual"}),
        **{**server.boto3_kwargs(), "endpoint_url": server.endpoint_url.replace("127.0.0.1", "s3.localtest")},
    )
    # resolve edge.s3.localtest to the loopback server without touching DNS
    import urllib3.connection

    conn_cls = urllib3.connection.HTTPConnection
    saved = conn_cls.connect

    def connect(self: Any) -> None:
        self.host = "127.0.0.1"
        saved(self)

    conn_cls.connect = connect  # type: ignore[method-assign]
    try:
        body = client.get_object(Bucket="edge", Key="vhost.txt")["Body"].read()
    finally:
        conn_cls.connect = saved  # type: ignore[method-assign]
    assert body == b"virtual"


@pytest.mark.parametrize(
    "key",
    [
        "k" * 1024,
        "a/" + "b" * 300 + "/c",
        "../../etc/passwd",
        "./dot/./segments/..",
        "double//slash///",
        "trailing/",
        "spaces and+plus%percent?q#hash",
        "ünïcödé/日本語/😀",
        'back\\slash:colon*star|pipe<lt>gt"quote',
    ],
)
def test_unusual_keys_round_trip_and_stay_inside_the_bucket(s3: Any, server: RunningServer, key: str) -> None:
    s3.put_object(Bucket="edge", Key=key, Body=key.encode())
    assert s3.get_object(Bucket="edge", Key=key)["Body"].read() == key.encode()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="edge", Prefix=key[:10])["Contents"]]
    assert key in keys
    data_dir = Path(server.settings.storage.directory).resolve()
    for path in data_dir.rglob("*"):
        assert path.resolve().is_relative_to(data_dir)
    s3.delete_object(Bucket="edge", Key=key)


def test_key_longer_than_1024_bytes_is_key_too_long(s3: Any) -> None:
    assert _error(s3.put_object, Bucket="edge", Key="k" * 1025, Body=b"") == (400, "KeyTooLongError")


def test_object_and_prefix_of_same_name_conflict_cleanly(s3: Any) -> None:
    s3.put_object(Bucket="edge", Key="conflict", Body=b"file")
    status, code = _error(s3.put_object, Bucket="edge", Key="conflict/child", Body=b"x")
    assert (status, code) == (409, "XMinioParentIsObject")
    assert s3.get_object(Bucket="edge", Key="conflict")["Body"].read() == b"file"
    s3.put_object(Bucket="edge", Key="dir/child", Body=b"x")
    assert _error(s3.put_object, Bucket="edge", Key="dir", Body=b"y") == (
        409,
        "XMinioObjectExistsAsDirectory",
    )
    s3.put_object(Bucket="edge", Key="dir/", Body=b"")  # folder marker coexists with dir/child
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="edge", Prefix="dir")["Contents"]]
    assert keys == ["dir/", "dir/child"]


def test_metadata_over_2kb_is_metadata_too_large_and_stores_nothing(s3: Any) -> None:
    status, code = _error(
        s3.put_object, Bucket="edge", Key="meta-big", Body=b"x", Metadata={"big": "v" * 2100}
    )
    assert (status, code) == (400, "MetadataTooLarge")
    assert _error(s3.head_object, Bucket="edge", Key="meta-big")[0] == 404


def test_wrong_content_md5_is_bad_digest_and_stores_nothing(s3: Any) -> None:
    import base64
    import hashlib

    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    status, code = _error(s3.put_object, Bucket="edge", Key="md5", Body=b"data", ContentMD5=wrong)
    assert (status, code) == (400, "BadDigest")
    assert _error(s3.head_object, Bucket="edge", Key="md5")[0] == 404


def test_truncated_body_stores_nothing(server: RunningServer, s3: Any) -> None:
    import socket

    url = s3.generate_presigned_url("put_object", Params={"Bucket": "edge", "Key": "cut"}, ExpiresIn=60)
    host, port = "127.0.0.1", int(server.endpoint_url.rsplit(":", 1)[1])
    path = url.split(f":{port}", 1)[1]
    with socket.create_connection((host, port)) as sock:
        sock.sendall(
            f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: 1000\r\n\r\n".encode() + b"x" * 10
        )
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(5)
        try:
            while sock.recv(4096):
                pass
        except OSError:
            pass
    assert _error(s3.head_object, Bucket="edge", Key="cut")[0] == 404


def test_non_numeric_content_length_is_rejected(server: RunningServer) -> None:
    import socket

    port = int(server.endpoint_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"PUT /edge/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n")
        sock.settimeout(5)
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400")


def _signed(server: RunningServer, method: str, path_and_query: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send a SigV4-signed raw request (for inputs boto3 refuses to build)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=server.endpoint_url + path_and_query, data=body)
    S3SigV4Auth(Credentials(server.access_key, server.secret_key), "s3", server.region).add_auth(request)
    port = int(server.endpoint_url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request(method, path_and_query, body=body, headers=dict(request.headers.items()))
    response = conn.getresponse()
    return response.status, response.read()


@pytest.mark.parametrize("query", ["max-keys=-1", "max-keys=abc", "list-type=2&max-keys=1.5"])
def test_bad_max_keys_is_invalid_argument(server: RunningServer, s3: Any, query: str) -> None:
    status, body = _signed(server, "GET", f"/edge?{query}")
    assert status == 400
    assert b"<Code>InvalidArgument</Code>" in body


@pytest.mark.parametrize("query", ["partNumber=abc&uploadId=x", "uploadId=x&part-number-marker=zz"])
def test_non_numeric_part_parameters_are_invalid_argument(server: RunningServer, s3: Any, query: str) -> None:
    method = "PUT" if query.startswith("partNumber") else "GET"
    status, body = _signed(server, method, f"/edge/obj?{query}")
    assert status == 400
    assert b"<Code>InvalidArgument</Code>" in body


def test_malformed_xml_is_malformed_xml_and_server_keeps_serving(server: RunningServer, s3: Any) -> None:
    status, body = _signed(server, "PUT", "/edge?tagging", b"<Tagging><TagSet><Tag>")
    assert status == 400 and b"<Code>MalformedXML</Code>" in body
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b"<Tagging><TagSet><Tag><Key>&lol2;</Key><Value>v</Value></Tag></TagSet></Tagging>"
    )
    status, body = _signed(server, "PUT", "/edge?tagging", bomb)
    assert status == 400 and b"<Code>MalformedXML</Code>" in body
    assert s3.head_bucket(Bucket="edge")["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_unknown_method_is_method_not_allowed(server: RunningServer, s3: Any) -> None:
    status, body = _signed(server, "PATCH", "/edge/obj")
    assert status == 405
    assert b"<Code>MethodNotAllowed</Code>" in body


def test_garbage_continuation_token_is_invalid_argument(s3: Any) -> None:
    status, code = _error(s3.list_objects_v2, Bucket="edge", ContinuationToken="!!garbage!!")
    assert (status, code) == (400, "InvalidArgument")


def test_unknown_upload_id_is_no_such_upload(s3: Any) -> None:
    status, code = _error(s3.upload_part, Bucket="edge", Key="k", UploadId="nope", PartNumber=1, Body=b"x")
    assert (status, code) == (404, "NoSuchUpload")


@pytest.mark.parametrize("part_number", [0, 10001])
def test_part_number_out_of_range_is_invalid_argument(s3: Any, part_number: int) -> None:
    upload = s3.create_multipart_upload(Bucket="edge", Key="parts")["UploadId"]
    status, code = _error(
        s3.upload_part, Bucket="edge", Key="parts", UploadId=upload, PartNumber=part_number, Body=b"x"
    )
    assert (status, code) == (400, "InvalidArgument")
    s3.abort_multipart_upload(Bucket="edge", Key="parts", UploadId=upload)
