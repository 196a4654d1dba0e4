"""Range GETs and conditional requests (GET/HEAD preconditions, conditional PutObject)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from s3conformance import Outcome, Run

Compare = Callable[..., dict[str, Any]]

_BODY = bytes(range(256)) * 4  # 1024 bytes


def test_range_requests_answer_206_with_content_range(compare: Compare) -> None:
    ranges = ["bytes=0-9", "bytes=1000-", "bytes=-24", "bytes=1020-5000", "bytes=0-0", "bytes=-5000"]

    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        run.raw("put_object", Bucket=bucket, Key="k", Body=_BODY)
        return [run.call("get_object", Bucket=bucket, Key="k", Range=value) for value in ranges]

    outcomes = compare(scenario)
    first, suffix_from, last, clipped, one, whole = outcomes["smarts3-fs"]
    assert (first["status"], first["content-range"], first["Body"]) == (206, "bytes 0-9/1024", _BODY[:10])
    assert (suffix_from["content-range"], suffix_from["Body"]) == ("bytes 1000-1023/1024", _BODY[1000:])
    assert (last["content-range"], last["content-length"], last["Body"]) == (
        "bytes 1000-1023/1024",
        "24",
        _BODY[-24:],
    )
    assert (clipped["content-range"], clipped["Body"]) == ("bytes 1020-1023/1024", _BODY[1020:])
    assert (one["content-range"], one["Body"]) == ("bytes 0-0/1024", _BODY[:1])
    assert (whole["status"], whole["content-range"], whole["Body"]) == (206, "bytes 0-1023/1024", _BODY)


def test_range_starting_past_the_end_is_invalid_range(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        run.raw("put_object", Bucket=bucket, Key="k", Body=_BODY)
        run.raw("put_object", Bucket=bucket, Key="empty", Body=b"")
        return [
            run.call("get_object", Bucket=bucket, Key="k", Range="bytes=1024-"),
            run.call("get_object", Bucket=bucket, Key="k", Range="bytes=2000-3000"),
            run.call("get_object", Bucket=bucket, Key="empty", Range="bytes=0-10"),
        ]

    outcomes = compare(scenario)
    assert outcomes["smarts3-fs"] == [{"status": 416, "code": "InvalidRange"}] * 3


def test_range_on_head_reports_the_partial_length(compare: Compare) -> None:
    def scenario(run: Run) -> Outcome:
        bucket = run.bucket()
        run.raw("put_object", Bucket=bucket, Key="k", Body=_BODY)
        return run.call("head_object", Bucket=bucket, Key="k", Range="bytes=10-19")

    outcomes = compare(scenario)
    head = outcomes["smarts3-fs"]
    assert (head["status"], head["content-length"], head["content-range"]) == (206, "10", "bytes 10-19/1024")


def _conditional_scenario(run: Run, operation: str) -> list[Outcome]:
    bucket = run.bucket()
    etag = run.raw("put_object", Bucket=bucket, Key="k", Body=b"conditional")["ETag"]
    past = datetime.now(UTC) - timedelta(days=1)
    future = datetime.now(UTC) + timedelta(days=1)
    get = run.call
    return [
        get(operation, Bucket=bucket, Key="k", IfMatch=etag),
        get(operation, Bucket=bucket, Key="k", IfMatch='"0123456789abcdef0123456789abcdef"'),
        get(operation, Bucket=bucket, Key="k", IfNoneMatch=etag),
        get(operation, Bucket=bucket, Key="k", IfNoneMatch='"0123456789abcdef0123456789abcdef"'),
        get(operation, Bucket=bucket, Key="k", IfModifiedSince=future),
        get(operation, Bucket=bucket, Key="k", IfModifiedSince=past),
        get(operation, Bucket=bucket, Key="k", IfUnmodifiedSince=past),
        get(operation, Bucket=bucket, Key="k", IfUnmodifiedSince=future),
    ]


def _precedence_scenario(run: Run, operation: str) -> list[Outcome]:
    bucket = run.bucket()
    etag = run.raw("put_object", Bucket=bucket, Key="k", Body=b"conditional")["ETag"]
    past = datetime.now(UTC) - timedelta(days=1)
    return [
        # S3: If-Match true and If-Unmodified-Since false -> 200 (the ETag condition wins)
        run.call(operation, Bucket=bucket, Key="k", IfMatch=etag, IfUnmodifiedSince=past),
        # S3: If-None-Match false and If-Modified-Since true -> 304
        run.call(operation, Bucket=bucket, Key="k", IfNoneMatch=etag, IfModifiedSince=past),
    ]


def _statuses(outcomes: list[Outcome]) -> list[int]:
    return [outcome["status"] for outcome in outcomes]


def test_conditional_get_answers_304_and_412(compare: Compare) -> None:
    outcomes = compare(lambda run: _conditional_scenario(run, "get_object"))
    assert _statuses(outcomes["smarts3-fs"]) == [200, 412, 304, 200, 304, 200, 412, 200]
    assert outcomes["smarts3-fs"][1]["code"] == "PreconditionFailed"


def test_conditional_head_answers_304_and_412(compare: Compare) -> None:
    outcomes = compare(lambda run: _conditional_scenario(run, "head_object"))
    assert _statuses(outcomes["smarts3-fs"]) == [200, 412, 304, 200, 304, 200, 412, 200]


def test_conditional_get_etag_conditions_take_precedence_over_dates(compare: Compare) -> None:
    outcomes = compare(lambda run: _precedence_scenario(run, "get_object"), moto_differs="D6")
    assert _statuses(outcomes["smarts3-fs"]) == [200, 304]


def test_conditional_head_etag_conditions_take_precedence_over_dates(compare: Compare) -> None:
    outcomes = compare(lambda run: _precedence_scenario(run, "head_object"), moto_differs="D6")
    assert _statuses(outcomes["smarts3-fs"]) == [200, 304]


def test_put_if_none_match_star_creates_only_once(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        return [
            run.call("put_object", Bucket=bucket, Key="k", Body=b"first", IfNoneMatch="*"),
            run.call("put_object", Bucket=bucket, Key="k", Body=b"second", IfNoneMatch="*"),
            run.call("get_object", Bucket=bucket, Key="k"),
        ]

    outcomes = compare(scenario)
    created, refused, current = outcomes["smarts3-fs"]
    assert created["status"] == 200
    assert refused == {"status": 412, "code": "PreconditionFailed"}
    assert current["Body"] == b"first"


def test_put_if_match_replaces_only_the_matching_version(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        etag = run.raw("put_object", Bucket=bucket, Key="k", Body=b"v1")["ETag"]
        return [
            run.call(
                "put_object", Bucket=bucket, Key="k", Body=b"v2", IfMatch='"0123456789abcdef0123456789abcdef"'
            ),
            run.call("put_object", Bucket=bucket, Key="k", Body=b"v2", IfMatch=etag),
            run.call("put_object", Bucket=bucket, Key="missing", Body=b"v2", IfMatch=etag),
            run.call("get_object", Bucket=bucket, Key="k"),
        ]

    outcomes = compare(scenario)
    mismatch, replaced, missing, current = outcomes["smarts3-fs"]
    assert mismatch == {"status": 412, "code": "PreconditionFailed"}
    assert replaced["status"] == 200
    assert missing == {"status": 404, "code": "NoSuchKey"}
    assert current["Body"] == b"v2"
