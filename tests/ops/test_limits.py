"""Request limits through a real process: S3's values by default, each one changed by its SMARTS3_LIMITS_* variable.

Two servers: one with every default, one with small limits from the environment. Each limit is checked on
both sides of the boundary, and the same over-the-small-limit request is shown to pass on the default server,
so a test fails if the environment variable stops being honoured.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from opskit import (
    RawResponse,
    ServerProcess,
    connect,
    files_mentioning,
    read_response,
    request_head,
    simple_request,
    start_server,
)

SMALL_LIMITS = {
    "SMARTS3_LIMITS_MAX_OBJECT_SIZE": "1000",
    "SMARTS3_LIMITS_MIN_PART_SIZE": "100",
    "SMARTS3_LIMITS_MAX_METADATA_SIZE": "100",
    "SMARTS3_LIMITS_MAX_KEY_LENGTH": "50",
    "SMARTS3_LIMITS_MAX_HEADER_SIZE": "4096",
    "SMARTS3_LIMITS_REQUEST_TIMEOUT": "1",
}


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("defaults"))
    try:
        assert simple_request(server.port, "PUT", "/lim").status == 200
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("small"), env=SMALL_LIMITS)
    try:
        assert simple_request(server.port, "PUT", "/lim").status == 200
        yield server
    finally:
        server.stop()


def put(server: ServerProcess, key: str, body: bytes = b"x", headers: dict[str, str] | None = None) -> RawResponse:
    return simple_request(server.port, "PUT", f"/lim/{key}", body, headers)


def assert_not_stored(server: ServerProcess, key: str) -> None:
    assert simple_request(server.port, "GET", f"/lim/{key}").error_code == "NoSuchKey"
    assert files_mentioning(server.data_dir, key) == []


# --- max object size


def test_object_over_max_object_size_is_entity_too_large_and_not_stored(small: ServerProcess) -> None:
    assert put(small, "exactly-1000", b"a" * 1000).status == 200
    refused = put(small, "over-1000", b"a" * 1001)
    assert (refused.status, refused.error_code) == (400, "EntityTooLarge")
    assert_not_stored(small, "over-1000")


def test_default_max_object_size_accepts_what_the_env_limit_refuses(default: ServerProcess) -> None:
    assert put(default, "over-1000", b"a" * 1001).status == 200


def test_oversized_content_length_is_refused_before_the_body_is_sent(
    small: ServerProcess, default: ServerProcess
) -> None:
    for server, declared in ((small, 2000), (default, 5 * 1024**4 + 1)):
        started = time.monotonic()
        with connect(server.port, timeout=5) as sock:
            sock.sendall(request_head("PUT", "/lim/declared-too-big", {"Content-Length": str(declared)}))
            answer = read_response(sock)  # not a byte of body was sent
            assert (answer.status, answer.error_code) == (400, "EntityTooLarge")
            assert answer.headers.get("connection") == "close"
            assert sock.recv(1) == b""  # the server does not wait for the body
        assert time.monotonic() - started < 2.0
        assert_not_stored(server, "declared-too-big")


def test_streamed_body_without_content_length_is_cut_at_max_object_size(small: ServerProcess) -> None:
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in [b"z" * 600, b"z" * 600]) + b"0\r\n\r\n"
    with connect(small.port) as sock:
        sock.sendall(request_head("PUT", "/lim/streamed", {"Transfer-Encoding": "chunked"}) + chunks)
        answer = read_response(sock)
    assert (answer.status, answer.error_code) == (400, "EntityTooLarge")
    assert_not_stored(small, "streamed")


# --- user metadata


def meta(total: int) -> dict[str, str]:
    """x-amz-meta-m = value, counted by S3 as len("m") + len(value) bytes."""
    return {"x-amz-meta-m": "v" * (total - 1)}


def test_user_metadata_over_2_kb_is_metadata_too_large_by_default(default: ServerProcess) -> None:
    assert put(default, "meta-2048", headers=meta(2048)).status == 200
    refused = put(default, "meta-2049", headers=meta(2049))
    assert (refused.status, refused.error_code) == (400, "MetadataTooLarge")
    assert_not_stored(default, "meta-2049")


def test_metadata_limit_follows_the_environment(small: ServerProcess) -> None:
    assert put(small, "meta-100", headers=meta(100)).status == 200
    refused = put(small, "meta-101", headers=meta(101))
    assert (refused.status, refused.error_code) == (400, "MetadataTooLarge")
    assert_not_stored(small, "meta-101")


# --- key length


def test_key_over_1024_bytes_is_key_too_long_by_default(default: ServerProcess) -> None:
    assert put(default, "k" * 1024).status == 200
    refused = put(default, "k" * 1025)
    assert (refused.status, refused.error_code) == (400, "KeyTooLongError")
    # the limit counts UTF-8 bytes: 512 two-byte characters fit, one more does not
    assert put(default, "%C3%A9" * 512).status == 200
    assert put(default, "%C3%A9" * 512 + "k").error_code == "KeyTooLongError"


def test_key_length_limit_follows_the_environment(small: ServerProcess, default: ServerProcess) -> None:
    assert put(small, "k" * 50).status == 200
    assert put(small, "q" * 51).error_code == "KeyTooLongError"
    assert_not_stored(small, "q" * 51)
    assert put(default, "q" * 51).status == 200


# --- header section size


def test_header_section_over_16_kib_is_refused_by_default(default: ServerProcess) -> None:
    assert simple_request(default.port, "GET", "/lim", headers={"x-pad": "p" * 8 * 1024}).status == 200
    for size in (20 * 1024, 100 * 1024):
        refused = simple_request(default.port, "GET", "/lim", headers={"x-pad": "p" * size})
        assert (refused.status, refused.error_code) == (400, "RequestHeaderSectionTooLarge")
        assert b"Your request header section exceeds the maximum allowed size." in refused.body
    refused = put(default, "big-headers", headers={f"x-pad-{n}": "p" * 1000 for n in range(20)})
    assert refused.error_code == "RequestHeaderSectionTooLarge"
    assert_not_stored(default, "big-headers")


def test_header_limit_follows_the_environment(small: ServerProcess, default: ServerProcess) -> None:
    padded = {"x-pad": "p" * 5000}
    assert simple_request(small.port, "GET", "/lim", headers=padded).error_code == "RequestHeaderSectionTooLarge"
    assert simple_request(small.port, "GET", "/lim", headers={"x-pad": "p" * 3000}).status == 200
    assert simple_request(default.port, "GET", "/lim", headers=padded).status == 200


# --- request timeout


def test_client_that_stops_sending_gets_request_timeout_and_nothing_is_stored(small: ServerProcess) -> None:
    started = time.monotonic()
    with connect(small.port, timeout=10) as sock:
        sock.sendall(request_head("PUT", "/lim/stalled", {"Content-Length": "900"}) + b"s" * 300)
        try:
            answer: RawResponse | None = read_response(sock)
        except ConnectionError:
            answer = None  # a closed connection is an acceptable answer too
        if answer is not None:
            assert (answer.status, answer.error_code) == (400, "RequestTimeout")
            assert answer.headers.get("connection") == "close"
            assert sock.recv(1) == b""
    assert 0.9 < time.monotonic() - started < 4.0
    assert_not_stored(small, "stalled")
    tmp = small.data_dir / ".smarts3" / "tmp"
    assert not tmp.exists() or not any(p.is_file() for p in tmp.rglob("*"))


def test_default_request_timeout_lets_a_slow_client_pause(default: ServerProcess) -> None:
    with connect(default.port, timeout=10) as sock:
        sock.sendall(request_head("PUT", "/lim/paused", {"Content-Length": "900"}) + b"s" * 300)
        time.sleep(1.5)  # longer than the small server's 1 s timeout, far below the default 20 s
        sock.sendall(b"s" * 600)
        assert read_response(sock).status == 200


# --- bucket names (S3: "General purpose bucket naming rules")

INVALID_BUCKET_NAMES = {
    "too-short": "ab",
    "too-long": "a" * 64,
    "uppercase": "MyBucket",
    "underscore": "my_bucket",
    "starts-with-hyphen": "-bucket",
    "ends-with-hyphen": "bucket-",
    "starts-with-period": ".bucket",
    "ends-with-period": "bucket.",
    "adjacent-periods": "my..bucket",
    "ip-address": "192.168.5.4",
    "prefix-xn--": "xn--bucket",
    "prefix-sthree-": "sthree-bucket",
    "prefix-amzn-s3-demo-": "amzn-s3-demo-bucket",
    "suffix--s3alias": "bucket-s3alias",
    "suffix--ol-s3": "bucket--ol-s3",
    "suffix-.mrap": "bucket.mrap",
    "suffix--x-s3": "bucket--x-s3",
    "suffix--table-s3": "bucket--table-s3",
    "space": "my%20bucket",
}


@pytest.mark.parametrize("name", INVALID_BUCKET_NAMES.values(), ids=INVALID_BUCKET_NAMES.keys())
def test_bucket_name_breaking_an_s3_rule_is_invalid_bucket_name(default: ServerProcess, name: str) -> None:
    refused = simple_request(default.port, "PUT", f"/{name}")
    assert (refused.status, refused.error_code) == (400, "InvalidBucketName")
    assert not (default.data_dir / name).exists()


@pytest.mark.parametrize("name", ["abc", "a" * 63, "my.bucket-1", "1bucket", "my-xn--bucket"])
def test_bucket_name_following_every_rule_is_accepted(default: ServerProcess, name: str) -> None:
    assert simple_request(default.port, "PUT", f"/{name}").status == 200
    assert simple_request(default.port, "DELETE", f"/{name}").status == 204


def test_limits_default_to_s3_values() -> None:
    from smarts3.entrypoints.settings import LimitsSettings

    limits = LimitsSettings()
    assert (limits.max_object_size, limits.max_metadata_size, limits.max_key_length) == (5 * 1024**4, 2048, 1024)
    assert limits.min_part_size == 5 * 1024**2
