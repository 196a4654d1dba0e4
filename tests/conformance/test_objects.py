"""Object basics: put, get, head, delete, headers, metadata, Content-MD5, keys S3 allows."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from s3conformance import PRESENT, Outcome, Run, Target

Compare = Callable[..., dict[str, Any]]

_HELLO_ETAG = '"5d41402abc4b2a76b9719d911017c592"'


def test_put_get_head_delete_round_trip(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        return [
            run.call("put_object", Bucket=bucket, Key="hello.txt", Body=b"hello"),
            run.call("get_object", Bucket=bucket, Key="hello.txt"),
            run.call("head_object", Bucket=bucket, Key="hello.txt"),
            run.call("delete_object", Bucket=bucket, Key="hello.txt"),
            run.call("get_object", Bucket=bucket, Key="hello.txt"),
        ]

    outcomes = compare(scenario)
    put, get, head, delete, gone = outcomes["smarts3-fs"]
    assert put == {"status": 200, "etag": _HELLO_ETAG}
    assert get == {
        "status": 200,
        "etag": _HELLO_ETAG,
        "content-length": "5",
        "content-type": "binary/octet-stream",
        "accept-ranges": "bytes",
        "last-modified": PRESENT,
        "Body": b"hello",
    }
    assert head == {key: value for key, value in get.items() if key != "Body"}
    assert delete == {"status": 204}
    assert gone == {"status": 404, "code": "NoSuchKey"}


def test_zero_byte_object_round_trips(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        return [
            run.call("put_object", Bucket=bucket, Key="empty", Body=b""),
            run.call("get_object", Bucket=bucket, Key="empty"),
            run.call("head_object", Bucket=bucket, Key="empty"),
        ]

    outcomes = compare(scenario)
    put, get, _head = outcomes["smarts3-fs"]
    assert put["etag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert get["content-length"] == "0" and get["Body"] == b""


def test_user_metadata_round_trips(compare: Compare) -> None:
    metadata = {"colour": "blue", "mixed-case": "Value With Spaces", "empty": ""}

    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        run.raw("put_object", Bucket=bucket, Key="k", Body=b"x", Metadata=metadata)
        return [
            run.call("head_object", Bucket=bucket, Key="k"),
            run.raw("get_object", Bucket=bucket, Key="k")["Metadata"],
        ]

    outcomes = compare(scenario)
    head, get_metadata = outcomes["smarts3-fs"]
    assert head["x-amz-meta-colour"] == "blue"
    assert get_metadata == metadata


def test_content_headers_round_trip(compare: Compare) -> None:
    expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        run.raw(
            "put_object",
            Bucket=bucket,
            Key="page.html",
            Body=b"<p>hi</p>",
            ContentType="text/html; charset=utf-8",
            CacheControl="max-age=3600, public",
            ContentDisposition='attachment; filename="page.html"',
            ContentEncoding="identity",
            ContentLanguage="en-GB",
            Expires=expires,
        )
        return [
            run.call("get_object", Bucket=bucket, Key="page.html"),
            run.call("head_object", Bucket=bucket, Key="page.html"),
        ]

    outcomes = compare(scenario)
    get = outcomes["smarts3-fs"][0]
    assert get["content-type"] == "text/html; charset=utf-8"
    assert get["cache-control"] == "max-age=3600, public"
    assert get["content-disposition"] == 'attachment; filename="page.html"'
    assert get["content-encoding"] == "identity"
    assert get["content-language"] == "en-GB"
    assert get["expires"] == "Wed, 02 Jan 2030 03:04:05 GMT"


def test_response_query_overrides_replace_headers_on_get(compare: Compare) -> None:
    def scenario(run: Run) -> Outcome:
        bucket = run.bucket()
        run.raw("put_object", Bucket=bucket, Key="k", Body=b"data", ContentType="text/plain")
        return run.call(
            "get_object",
            Bucket=bucket,
            Key="k",
            ResponseContentType="application/json",
            ResponseContentDisposition="inline",
            ResponseCacheControl="no-cache",
            ResponseContentEncoding="gzip",
            ResponseContentLanguage="fr",
            ResponseExpires=datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC),
        )

    outcomes = compare(scenario)
    get = outcomes["smarts3-fs"]
    assert get["content-type"] == "application/json"
    assert get["content-disposition"] == "inline"
    assert get["cache-control"] == "no-cache"
    assert get["content-encoding"] == "gzip"
    assert get["content-language"] == "fr"
    assert get["expires"] == "Tue, 06 May 2031 07:08:09 GMT"


def test_missing_key_is_no_such_key_on_get_and_bare_404_on_head(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        return [
            run.call("get_object", Bucket=bucket, Key="nope"),
            run.call("head_object", Bucket=bucket, Key="nope"),
        ]

    outcomes = compare(scenario)
    assert outcomes["smarts3-fs"] == [{"status": 404, "code": "NoSuchKey"}, {"status": 404, "code": "404"}]


def test_deleting_a_missing_key_is_204(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        return [
            run.call("delete_object", Bucket=bucket, Key="never-was"),
            run.call("delete_object", Bucket=bucket, Key="never-was"),
        ]

    outcomes = compare(scenario)
    assert outcomes["smarts3-fs"] == [{"status": 204}, {"status": 204}]


def test_overwriting_an_object_replaces_body_and_metadata(compare: Compare) -> None:
    def scenario(run: Run) -> Outcome:
        bucket = run.bucket()
        run.raw(
            "put_object", Bucket=bucket, Key="k", Body=b"first", Metadata={"a": "1"}, ContentType="text/plain"
        )
        run.raw("put_object", Bucket=bucket, Key="k", Body=b"second!", Metadata={"b": "2"})
        return run.call("get_object", Bucket=bucket, Key="k")

    outcomes = compare(scenario)
    get = outcomes["smarts3-fs"]
    assert get["Body"] == b"second!" and get["x-amz-meta-b"] == "2" and "x-amz-meta-a" not in get
    assert get["content-type"] == "binary/octet-stream"


def test_content_md5_is_verified(compare: Compare) -> None:
    body = b"checked body"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()

    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        return [
            run.call("put_object", Bucket=bucket, Key="good", Body=body, ContentMD5=good),
            run.call("put_object", Bucket=bucket, Key="bad", Body=body, ContentMD5=wrong),
            run.call("head_object", Bucket=bucket, Key="bad"),
        ]

    outcomes = compare(scenario, moto_differs="D3")
    ok, bad, stored = outcomes["smarts3-fs"]
    assert ok["status"] == 200
    assert bad == {"status": 400, "code": "BadDigest"}
    assert stored == {"status": 404, "code": "404"}


def test_malformed_content_md5_is_invalid_digest(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        return [
            run.call("put_object", Bucket=bucket, Key="k", Body=b"x", ContentMD5="not base64!"),
            run.call(
                "put_object",
                Bucket=bucket,
                Key="k",
                Body=b"x",
                ContentMD5=base64.b64encode(b"short").decode(),
            ),
        ]

    outcomes = compare(scenario, moto_differs="D3")
    assert outcomes["smarts3-fs"] == [{"status": 400, "code": "InvalidDigest"}] * 2


def test_keys_with_characters_s3_allows_round_trip_and_list(compare: Compare) -> None:
    keys = [
        "unicode/\u00e9t\u00e9 \u65e5\u672c\u8a9e \U0001f600.txt",
        "spaces in name.txt",
        "plus+sign+key",
        "percent%20literal%",
        "question?mark",
        "hash#fragment",
        "double//slash",
        "folder/",
        "tilde~and=equals&amp;",
        'windows<illegal>:chars|*"',
        "x" * 1024,
    ]

    def scenario(run: Run) -> list[Any]:
        bucket = run.bucket()
        results: list[Any] = []
        for index, key in enumerate(keys):
            run.raw("put_object", Bucket=bucket, Key=key, Body=f"body {index}".encode())
        for index, key in enumerate(keys):
            got = run.raw("get_object", Bucket=bucket, Key=key)
            results.append((key, got["Body"] == f"body {index}".encode()))
        listed = run.raw("list_objects_v2", Bucket=bucket)
        results.append(sorted(item["Key"] for item in listed["Contents"]))
        return results

    outcomes = compare(scenario)
    assert all(ok for _key, ok in outcomes["smarts3-fs"][:-1])
    assert outcomes["smarts3-fs"][-1] == sorted(keys)


def test_key_longer_than_1024_bytes_is_key_too_long(compare: Compare) -> None:
    def scenario(run: Run) -> Outcome:
        bucket = run.bucket()
        return run.call("put_object", Bucket=bucket, Key="k" * 1025, Body=b"x")

    outcomes = compare(scenario, moto_differs="D4")
    assert outcomes["smarts3-fs"] == {"status": 400, "code": "KeyTooLongError"}


def test_rejected_upload_leaves_the_connection_usable(compare: Compare) -> None:
    # boto3 sends "Expect: 100-continue" on PutObject; an early error must not leave the body pending
    def scenario(run: Run) -> list[Outcome]:
        missing = run.new_bucket_name()
        bucket = run.bucket()
        return [
            run.call("put_object", Bucket=missing, Key="k", Body=b"x" * 1000),
            run.call("get_bucket_location", Bucket=missing),
            run.call("put_object", Bucket=bucket, Key="k", Body=b"ok"),
        ]

    outcomes = compare(scenario)
    assert [o["status"] for o in outcomes["smarts3-fs"]] == [404, 404, 200]


def test_key_and_key_slash_child_conflict_on_both_storages(targets: dict[str, Target]) -> None:
    """S3 (and moto) allow ``a`` and ``a/b`` at once; a file cannot also be a directory, so smarts3's
    filesystem adapter refuses the second with MinIO's codes, and the memory adapter does the same so that
    tests run on memory storage see what production storage would answer (D5)."""

    def scenario(run: Run) -> list[tuple[int, str | None]]:
        first = run.bucket()
        second = run.bucket()
        outcomes = [
            run.call("put_object", Bucket=first, Key="a", Body=b"file"),
            run.call("put_object", Bucket=first, Key="a/b", Body=b"child"),
            run.call("put_object", Bucket=second, Key="a/b", Body=b"child"),
            run.call("put_object", Bucket=second, Key="a", Body=b"file"),
            run.call("put_object", Bucket=second, Key="a/", Body=b""),
        ]
        return [(o["status"], o.get("code")) for o in outcomes]

    results = {name: scenario(Run(target)) for name, target in targets.items()}
    expected = [
        (200, None),
        (409, "XMinioParentIsObject"),
        (200, None),
        (409, "XMinioObjectExistsAsDirectory"),
        (200, None),
    ]
    assert results["smarts3-fs"] == expected
    assert results["smarts3-mem"] == expected
    assert results["moto"] == [(200, None)] * 5
