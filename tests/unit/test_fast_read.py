"""The fast lane for plain GET/HEAD (entrypoints/s3/fast_read.py): it answers exactly what the general path
answers, it is really taken for plain reads, and everything else falls through to the general path."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from smarts3.entrypoints.s3 import api as api_module
from smarts3.entrypoints.s3 import fast_read
from smarts3.testing import RunningServer, running_server, server_settings

_VOLATILE = {"x-amz-request-id", "x-amz-id-2", "date"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = server_settings(data_dir=tmp_path_factory.mktemp("fast"))
    with running_server(settings) as running:
        s3: Any = running.client()
        s3.create_bucket(Bucket="fast")
        s3.put_object(
            Bucket="fast",
            Key="dir/small.txt",
            Body=b"hello fast lane",
            ContentType="text/plain",
            Metadata={"colour": "blue"},
            Tagging="a=1",
        )
        s3.put_object(Bucket="fast", Key="big.bin", Body=b"z" * (300 * 1024))
        yield running


@pytest.fixture
def lanes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, per request, whether the fast lane answered it."""
    taken: list[bool] = []
    real = fast_read.try_fast_read

    async def recording(*args: Any) -> bool:
        answered = await real(*args)
        taken.append(answered)
        return answered

    monkeypatch.setattr(api_module, "try_fast_read", recording)
    return taken


def _settled(lanes: list[bool], count: int) -> list[bool]:
    """``lanes`` once ``count`` requests are recorded: the server records a request after its last byte is
    sent, which may be a moment after the client has read that byte (a race seen under load)."""
    deadline = time.monotonic() + 5
    while len(lanes) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return lanes


def _fetch(server: RunningServer, method: str, key: str, **params: Any) -> requests.Response:
    url = server.client().generate_presigned_url(
        "get_object" if method == "GET" else "head_object",
        Params={"Bucket": "fast", "Key": key, **params},
        ExpiresIn=300,
    )
    return requests.request(method, url, timeout=10, headers=params.pop("headers", None))


def _stable(response: requests.Response) -> tuple[int, dict[str, str], bytes]:
    headers = {k.lower(): v for k, v in response.headers.items() if k.lower() not in _VOLATILE}
    return response.status_code, headers, response.content


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("key", ["dir/small.txt", "big.bin"])
def test_the_fast_lane_answers_exactly_like_the_general_path(
    server: RunningServer, lanes: list[bool], monkeypatch: pytest.MonkeyPatch, method: str, key: str
) -> None:
    fast = _fetch(server, method, key)
    assert _settled(lanes, 1) == [True], "a plain presigned read must take the fast lane"

    async def never(*args: Any) -> bool:
        return False

    monkeypatch.setattr(api_module, "try_fast_read", never)
    general = _fetch(server, method, key)
    assert _stable(fast) == _stable(general)
    assert fast.headers["x-amz-request-id"] != general.headers["x-amz-request-id"]


def test_header_signed_sdk_reads_take_the_fast_lane(server: RunningServer, lanes: list[bool]) -> None:
    s3: Any = server.client()
    got = s3.get_object(Bucket="fast", Key="dir/small.txt", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"hello fast lane"
    assert got["Metadata"] == {"colour": "blue"} and got["TagCount"] == 1
    assert s3.head_object(Bucket="fast", Key="big.bin")["ContentLength"] == 300 * 1024
    assert _settled(lanes, 2) == [True, True]


@pytest.mark.parametrize(
    ("params", "headers", "status"),
    [
        ({}, {"Range": "bytes=0-4"}, 206),
        ({}, {"If-None-Match": "*"}, 304),
        ({}, {"Origin": "https://example.com"}, 200),
        ({"ResponseContentType": "application/x-test"}, {}, 200),
        ({"VersionId": "null"}, {}, 200),
        ({"PartNumber": 1}, {}, 200),
    ],
)
def test_reads_with_more_to_them_take_the_general_path(
    server: RunningServer, lanes: list[bool], params: dict[str, Any], headers: dict[str, str], status: int
) -> None:
    url = server.client().generate_presigned_url(
        "get_object", Params={"Bucket": "fast", "Key": "dir/small.txt", **params}, ExpiresIn=300
    )
    answer = requests.get(url, headers=headers, timeout=10)
    assert answer.status_code == status, answer.text
    assert _settled(lanes, 1) == [False]
    if "ResponseContentType" in params:
        assert answer.headers["content-type"] == "application/x-test"


@pytest.mark.parametrize(
    ("key", "tamper", "status", "code"),
    [
        ("missing", False, 404, "NoSuchKey"),
        ("dir/small.txt", True, 403, "SignatureDoesNotMatch"),
    ],
)
def test_errors_come_from_the_general_path(
    server: RunningServer, lanes: list[bool], key: str, tamper: bool, status: int, code: str
) -> None:
    url = server.client().generate_presigned_url(
        "get_object", Params={"Bucket": "fast", "Key": key}, ExpiresIn=300
    )
    if tamper:
        url = re.sub(r"(Signature=)([^&]+)", r"\g<1>AAAA\g<2>", url)
    answer = requests.get(url, timeout=10)
    assert answer.status_code == status
    assert f"<Code>{code}</Code>" in answer.text
    assert _settled(lanes, 1) == [False]


def test_anonymous_reads_take_the_general_path(server: RunningServer, lanes: list[bool]) -> None:
    answer = requests.get(f"{server.endpoint_url}/fast/dir/small.txt", timeout=10)
    assert answer.status_code == 403 and "<Code>AccessDenied</Code>" in answer.text
    assert _settled(lanes, 1) == [False]


def test_fast_reads_are_counted_in_the_metrics(
    server: RunningServer, lanes: list[bool], tmp_path: Path
) -> None:
    def get_count() -> float:
        text = requests.get(f"{server.endpoint_url}/_metrics", timeout=10).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith("smarts3_requests_total") and 'operation="REST.GET.OBJECT"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return total

    before = get_count()
    _fetch(server, "GET", "dir/small.txt")
    assert lanes[-1] is True
    assert get_count() == before + 1


def test_long_header_name_sets_are_not_remembered(server: RunningServer, lanes: list[bool]) -> None:
    # the names are the client's choice: a memo keyed on them must not grow with requests that carry many
    url = server.client().generate_presigned_url(
        "get_object", Params={"Bucket": "fast", "Key": "dir/small.txt"}
    )
    before = fast_read._plain_header_names.cache_info().currsize
    for i in range(20):
        junk = {f"x-junk-{i}-{j}-{'n' * 30}": "v" for j in range(20)}
        response = requests.get(url, headers=junk, timeout=10)
        assert response.status_code == 200 and response.content == b"hello fast lane"
    assert fast_read._plain_header_names.cache_info().currsize - before <= 1
    assert all(_settled(lanes, 20))  # still answered by the fast lane


def test_long_paths_and_queries_are_not_remembered(server: RunningServer) -> None:
    # checked before the signature: a memo keyed on them would let any client make the server hold gigabytes
    memos = (fast_read._object_names, fast_read._plain_query)
    before = [memo.cache_info().currsize for memo in memos]
    for i in range(10):
        url = f"{server.endpoint_url}/fast/{i}-{'k' * 3000}?X-Amz-Signature={'s' * 5000}"
        assert requests.get(url, timeout=10).status_code in (400, 403)
    assert [memo.cache_info().currsize for memo in memos] == before
