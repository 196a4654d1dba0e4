"""Hostile and broken HTTP over raw sockets against a real ``smarts3 serve``: every case gets a clean 4xx (an S3
XML error where the request got that far), stores nothing outside the bucket, and the server keeps serving."""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from reliakit import ServerProcess, raw_exchange, raw_request, sign, status_of

BUCKET = "hostile"
REQUEST_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("hostile")
    (root / "outside").mkdir()
    (root / "outside" / "secret").write_bytes(b"outside the data dir")
    data_dir = root / "data"
    data_dir.mkdir()
    process = ServerProcess(
        data_dir,
        fsync=False,
        env={"SMARTS3_LIMITS_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT)},
        log=root / "server.log",
    )
    process.start()
    try:
        process.client().create_bucket(Bucket=BUCKET)
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def s3(server: ServerProcess) -> Any:
    return server.client()


@pytest.fixture(autouse=True)
def _still_serving_and_contained(server: ServerProcess, s3: Any) -> Iterator[None]:
    """After every case: the server still answers S3 requests and nothing was written outside the data dir."""
    outside = server.data_dir.parent / "outside"
    yield
    assert s3.head_bucket(Bucket=BUCKET)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert sorted(p.name for p in outside.rglob("*")) == ["secret"]
    root = server.data_dir.resolve()
    for path in server.data_dir.rglob("*"):
        if not path.is_symlink():
            assert path.resolve().is_relative_to(root), path
    assert b"Traceback" not in server.log.read_bytes()


def _send(server: ServerProcess, request: bytes, **kwargs: Any) -> bytes:
    return raw_exchange(server.port, request, **kwargs)


def _absent(s3: Any, key: str) -> bool:
    try:
        s3.head_object(Bucket=BUCKET, Key=key)
    except ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    return False


def _assert_clean_error(reply: bytes, *statuses: int, parser_may_refuse: bool = False) -> None:
    """A 4xx S3 XML error (never InternalError); with ``parser_may_refuse`` also uvicorn's plain 400 for a
    request the HTTP parser cannot read at all (it never reaches smarts3)."""
    status = status_of(reply)
    assert status in statuses, reply[:600]
    body = reply.partition(b"\r\n\r\n")[2]
    if parser_may_refuse and status == 400 and body == b"Invalid HTTP request received.":
        return
    if body:
        assert b"<Error>" in body and b"<Code>" in body and b"InternalError" not in body, body[:600]


# -- headers and framing ---------------------------------------------------------------------------------


def test_oversized_header_is_refused_and_server_keeps_serving(server: ServerProcess) -> None:
    reply = _send(server, b"GET /hostile HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
    assert reply == b"" or status_of(reply) in (400, 431), reply[:300]


def test_very_many_headers_are_refused_or_answered_cleanly(server: ServerProcess) -> None:
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(5000))
    reply = _send(server, b"GET /hostile HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert reply == b"" or status_of(reply) in (400, 403, 431), reply[:300]


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "0x10", "99999999999999999999999999"])
def test_bad_content_length_is_400_and_stores_nothing(server: ServerProcess, s3: Any, length: str) -> None:
    key = f"bad-length-{length}"
    signed = sign("PUT", server.endpoint_url, f"/{BUCKET}/{key}")
    head = "".join(f"{k}: {v}\r\n" for k, v in signed.items())
    reply = _send(
        server, f"PUT /{BUCKET}/{key} HTTP/1.1\r\n{head}Content-Length: {length}\r\n\r\nxyz".encode()
    )
    assert reply == b"" or status_of(reply) == 400, reply[:300]
    assert _absent(s3, key)


def test_content_length_with_transfer_encoding_is_refused_and_stores_nothing(
    server: ServerProcess, s3: Any
) -> None:
    request = raw_request("PUT", server.endpoint_url, f"/{BUCKET}/smuggle", b"5\r\nhello\r\n0\r\n\r\n")
    request = request.replace(b"\r\n\r\n", b"\r\nTransfer-Encoding: chunked\r\n\r\n", 1)
    reply = _send(server, request)
    assert reply == b"" or status_of(reply) == 400, reply[:300]
    assert _absent(s3, "smuggle")


def test_body_cut_short_by_the_client_stores_nothing(server: ServerProcess, s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="cut-short", Body=b"old body")
    request = raw_request(
        "PUT", server.endpoint_url, f"/{BUCKET}/cut-short", b"x" * 100, content_length=10_000
    )
    _send(server, request, shutdown=True, timeout=5)
    assert s3.get_object(Bucket=BUCKET, Key="cut-short")["Body"].read() == b"old body"
    assert list((server.data_dir / ".smarts3" / "tmp").iterdir()) == []


def test_part_cut_short_by_the_client_stores_no_part(server: ServerProcess, s3: Any) -> None:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="cut-part")["UploadId"]
    path = f"/{BUCKET}/cut-part?partNumber=1&uploadId={upload}"
    _send(
        server, raw_request("PUT", server.endpoint_url, path, b"y" * 100, content_length=5000), shutdown=True
    )
    assert s3.list_parts(Bucket=BUCKET, Key="cut-part", UploadId=upload).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=BUCKET, Key="cut-part", UploadId=upload)


def test_client_that_stops_mid_body_gets_request_timeout_and_nothing_is_stored(
    server: ServerProcess, s3: Any
) -> None:
    request = raw_request("PUT", server.endpoint_url, f"/{BUCKET}/stalled", b"z" * 100, content_length=10_000)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):  # the server answers, then closes the connection
            reply += chunk
    elapsed = time.monotonic() - started
    assert status_of(reply) == 400 and b"<Code>RequestTimeout</Code>" in reply, reply[:600]
    assert REQUEST_TIMEOUT * 0.8 <= elapsed < REQUEST_TIMEOUT + 5
    assert _absent(s3, "stalled")


def test_hundreds_of_idle_connections_do_not_delay_other_clients(server: ServerProcess, s3: Any) -> None:
    idle: list[socket.socket] = []
    try:
        for _ in range(300):
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        half = [sock for i, sock in enumerate(idle) if i % 2]
        for sock in half:  # half of them even start a request and stall inside the headers
            sock.sendall(b"GET /hostile HTTP/1.1\r\nHost: x\r\n")
        s3.put_object(Bucket=BUCKET, Key="busy", Body=b"served")

        def timed_get(_: int) -> float:
            started = time.monotonic()
            assert s3.get_object(Bucket=BUCKET, Key="busy")["Body"].read() == b"served"
            return time.monotonic() - started

        with ThreadPoolExecutor(4) as pool:
            latencies = list(pool.map(timed_get, range(40)))
        assert max(latencies) < 2.0, latencies
    finally:
        for sock in idle:
            sock.close()


# -- names -------------------------------------------------------------------------------------------------

HOSTILE_KEYS = [
    "..",
    "../outside/pwned",
    "%2e%2e",
    "%2e%2e%2f%2e%2e%2foutside%2fpwned",
    "..%2f..%2f..%2foutside%2fpwned",
    "a/../../../outside/pwned",
    "..%5c..%5coutside%5cpwned",
    "%5c..%5c..%5coutside%5cpwned",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "nul%00byte",
    "%00",
    "bad%ffutf8",
    "%c0%ae%c0%ae/overlong-dot",
    "k" * 1025,
    "seg/" * 300,
    "%2e",
    "./././x",
    ".smarts3/tmp/x",
    "%2esmarts3%2fstate",
]


@pytest.mark.parametrize("raw_key", HOSTILE_KEYS, ids=lambda k: k[:40])
def test_hostile_key_is_clean_error_or_stored_inside_the_bucket(
    server: ServerProcess, s3: Any, raw_key: str
) -> None:
    path = f"/{BUCKET}/{raw_key}"
    reply = _send(server, raw_request("PUT", server.endpoint_url, path, b"hostile body"))
    status = status_of(reply)
    assert b"SignatureDoesNotMatch" not in reply, reply[:600]
    if status == 200:
        got = _send(server, raw_request("GET", server.endpoint_url, path))
        assert status_of(got) == 200 and got.endswith(b"hostile body"), got[:600]
        assert _send(server, raw_request("DELETE", server.endpoint_url, path)).startswith(b"HTTP/1.1 204")
    else:
        _assert_clean_error(reply, 400)
    for method in ("GET", "HEAD", "DELETE"):
        reply = _send(server, raw_request(method, server.endpoint_url, path))
        assert status_of(reply) in (200, 204, 400, 404), (method, reply[:600])
        if method == "GET":
            assert b"outside the data dir" not in reply


@pytest.mark.parametrize(
    "bucket",
    ["..", "%2e%2e", "A_UPPER", "ab", "-dash", "x" * 64, "a..b", "192.168.1.1", "b%00", "b%ff", ".smarts3"],
)
def test_invalid_bucket_name_is_a_clean_error(server: ServerProcess, bucket: str) -> None:
    for method, path in (("PUT", f"/{bucket}"), ("PUT", f"/{bucket}/key"), ("GET", f"/{bucket}")):
        reply = _send(server, raw_request(method, server.endpoint_url, path, b"x" if "/key" in path else b""))
        _assert_clean_error(reply, 400, 404)


@pytest.mark.parametrize(
    "source",
    [
        f"{BUCKET}/../outside/secret",
        f"{BUCKET}/..%2f..%2foutside%2fsecret",
        f"/{BUCKET}/%2e%2e/%2e%2e/outside/secret",
        f"{BUCKET}/..%5c..%5coutside%5csecret",
        "/etc/passwd",
        "..%2foutside%2fsecret",
        f"{BUCKET}/nul%00",
        f"{BUCKET}/%ff",
        f"{BUCKET}/" + "k" * 1100,
        "A_BAD/key",
        "",
        f"{BUCKET}",
        f"{BUCKET}/src?versionId=../../x",
    ],
)
def test_hostile_copy_source_is_a_clean_error(server: ServerProcess, s3: Any, source: str) -> None:
    reply = _send(
        server,
        raw_request(
            "PUT", server.endpoint_url, f"/{BUCKET}/copy-target", headers={"x-amz-copy-source": source}
        ),
    )
    _assert_clean_error(reply, 400, 404)
    assert _absent(s3, "copy-target")


def test_symlink_planted_in_the_data_dir_is_not_followed_out(server: ServerProcess, s3: Any) -> None:
    link = server.data_dir / BUCKET / "planted"
    link.symlink_to(server.data_dir.parent / "outside", target_is_directory=True)
    try:
        for method in ("GET", "HEAD"):
            reply = _send(server, raw_request(method, server.endpoint_url, f"/{BUCKET}/planted/secret"))
            assert status_of(reply) in (400, 404), reply[:600]
            assert b"outside the data dir" not in reply
        reply = _send(server, raw_request("PUT", server.endpoint_url, f"/{BUCKET}/planted/new", b"escape"))
        _assert_clean_error(reply, 400, 409)
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="planted").get("Contents", [])]
        assert listed == []
    finally:
        link.unlink()


# -- aws-chunked ---------------------------------------------------------------------------------------------

EMPTY_SHA = hashlib.sha256(b"").hexdigest()
STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


def _chunked_put(
    server: ServerProcess,
    key: str,
    payload: bytes,
    *,
    chunk: int = 8192,
    decoded_length: int | None = None,
    corrupt: str = "",
) -> bytes:
    """Encode ``payload`` as a signed aws-chunked body (S3: "Transferring Payload in Multiple Chunks"), maybe
    corrupted as ``corrupt`` says, and PUT it with a valid seed signature."""
    path = f"/{BUCKET}/{key}"
    decoded = len(payload) if decoded_length is None else decoded_length
    signed = sign(
        "PUT",
        server.endpoint_url,
        path,
        {"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": str(decoded)},
        content_sha256=STREAMING,
    )
    amz_date = signed["X-Amz-Date"]
    seed = signed["Authorization"].rsplit("Signature=", 1)[1]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    from reliakit import SECRET_KEY

    key_bytes = ("AWS4" + SECRET_KEY).encode()
    for part in (amz_date[:8], "us-east-1", "s3", "aws4_request"):
        key_bytes = hmac.new(key_bytes, part.encode(), hashlib.sha256).digest()
    body = b""
    previous = seed
    pieces = [payload[i : i + chunk] for i in range(0, len(payload), chunk)] + [b""]
    for index, piece in enumerate(pieces):
        to_sign = (
            f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{previous}\n{EMPTY_SHA}\n"
            f"{hashlib.sha256(piece).hexdigest()}"
        )
        signature = hmac.new(key_bytes, to_sign.encode(), hashlib.sha256).hexdigest()
        previous = signature
        if corrupt == "signature" and index == 1:
            signature = "0" * 64
        size = f"{len(piece):x}"
        if corrupt == "size" and index == 1:
            size = "zz"
        if corrupt == "oversize" and index == 1:
            size = f"{len(piece) + 5:x}"
        body += f"{size};chunk-signature={signature}\r\n".encode() + piece + b"\r\n"
    if corrupt == "truncated":
        body = body[: len(body) // 2]
    lines = [
        f"PUT {path} HTTP/1.1",
        *(f"{k}: {v}" for k, v in signed.items()),
        f"Content-Length: {len(body)}",
    ]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    return _send(server, request, shutdown=corrupt == "truncated")


def test_valid_aws_chunked_body_is_stored(server: ServerProcess, s3: Any) -> None:
    payload = os.urandom(30_000)
    reply = _chunked_put(server, "chunked-ok", payload)
    assert status_of(reply) == 200, reply[:600]
    assert s3.get_object(Bucket=BUCKET, Key="chunked-ok")["Body"].read() == payload


@pytest.mark.parametrize(
    ("corrupt", "decoded_delta"),
    [("size", 0), ("oversize", 0), ("truncated", 0), ("signature", 0), ("", 7), ("", -7)],
    ids=[
        "malformed-size",
        "size-past-chunk",
        "truncated",
        "bad-chunk-signature",
        "decoded-longer",
        "decoded-shorter",
    ],
)
def test_broken_aws_chunked_body_stores_nothing(
    server: ServerProcess, s3: Any, corrupt: str, decoded_delta: int
) -> None:
    payload = os.urandom(30_000)
    key = f"chunked-{corrupt or 'length'}-{decoded_delta}"
    reply = _chunked_put(server, key, payload, decoded_length=len(payload) + decoded_delta, corrupt=corrupt)
    if reply:  # a truncated body may just see the connection closed
        _assert_clean_error(reply, 400, 403)
    assert _absent(s3, key)


# -- query parameters and methods -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("GET", "?max-keys=-1"),
        ("GET", "?max-keys=abc"),
        ("GET", "?max-keys=99999999999999999999999"),  # S3 caps max-keys at 1000: a 200 page
        ("GET", "?list-type=2&max-keys=1e9"),
        ("GET", "?list-type=2&continuation-token=%ff%fe%00garbage"),
        ("GET", "?list-type=2&continuation-token=" + "A" * 5000),
        ("GET", "?list-type=2&start-after=%00"),
        ("GET", "?encoding-type=bogus"),
        ("GET", "?uploads&max-uploads=abc"),
        ("GET", "?uploads&max-uploads=-5"),
        ("GET", "?uploads&upload-id-marker=%00&key-marker=..%2f.."),
        ("GET", "?versions&max-keys=-3"),
        ("GET", "/obj?partNumber=abc"),
        ("GET", "/obj?partNumber=0"),
        ("GET", "/obj?partNumber=-1"),
        ("GET", "/obj?partNumber=10001"),
        ("GET", "/obj?uploadId=nope&max-parts=abc"),
        ("GET", "/obj?uploadId=nope&max-parts=-1"),
        ("GET", "/obj?uploadId=nope&part-number-marker=zz"),
        ("GET", "/obj?uploadId=..%2f..%2fupload"),
        ("PUT", "/obj?partNumber=1&uploadId=..%2F..%2Fx"),
        ("PUT", "/obj?partNumber=99999999999999999999&uploadId=nope"),
        ("POST", "/obj?uploadId=nope"),
        ("DELETE", "/obj?uploadId=nope"),
        ("DELETE", "/obj?versionId=..%2f..%2fx"),
        ("GET", "/obj?versionId=%00"),
    ],
)
def test_bad_query_parameters_are_clean_errors(
    server: ServerProcess, s3: Any, method: str, target: str
) -> None:
    s3.put_object(Bucket=BUCKET, Key="obj", Body=b"query target")
    path = f"/{BUCKET}{target}"
    body = b"<CompleteMultipartUpload></CompleteMultipartUpload>" if method == "POST" else b""
    reply = _send(server, raw_request(method, server.endpoint_url, path, body))
    if status_of(reply) == 200:
        # only listings whose odd parameter S3 also accepts (a capped max-keys, unusual markers)
        assert method == "GET" and not target.startswith("/"), reply[:600]
        assert target in LISTINGS_S3_ACCEPTS, target
        return
    _assert_clean_error(reply, 400, 404, 416)


LISTINGS_S3_ACCEPTS = {
    "?max-keys=99999999999999999999999",
    "?list-type=2&start-after=%00",
    "?uploads&upload-id-marker=%00&key-marker=..%2f..",
}


@pytest.mark.parametrize("method", ["PATCH", "PROPFIND", "TRACE", "BREW", "CONNECT"])
def test_unknown_methods_are_clean_errors(server: ServerProcess, method: str) -> None:
    reply = _send(server, raw_request(method, server.endpoint_url, f"/{BUCKET}/obj"))
    _assert_clean_error(reply, 400, 405, 501, parser_may_refuse=True)
