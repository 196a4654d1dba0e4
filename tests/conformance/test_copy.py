"""CopyObject: metadata directives, copy onto itself, URL-encoded sources, copy-source conditions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from s3conformance import Outcome, Run

Compare = Callable[..., dict[str, Any]]


def _source(run: Run, bucket: str, key: str = "src") -> str:
    run.raw(
        "put_object",
        Bucket=bucket,
        Key=key,
        Body=b"copy me",
        ContentType="text/plain",
        Metadata={"origin": "source"},
    )
    return key


def test_copy_with_copy_directive_keeps_metadata(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        other = run.bucket()
        _source(run, bucket)
        copied = run.call(
            "copy_object",
            Bucket=other,
            Key="dst",
            CopySource={"Bucket": bucket, "Key": "src"},
            Metadata={"ignored": "yes"},
        )
        return [copied, run.call("get_object", Bucket=other, Key="dst")]

    outcomes = compare(scenario)
    copied, got = outcomes["smarts3-fs"]
    assert copied["status"] == 200
    assert copied["CopyObjectResult"]["ETag"] == got["etag"]
    assert got["Body"] == b"copy me" and got["content-type"] == "text/plain"
    assert got["x-amz-meta-origin"] == "source" and "x-amz-meta-ignored" not in got


def test_copy_with_replace_directive_takes_new_metadata(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        _source(run, bucket)
        copied = run.call(
            "copy_object",
            Bucket=bucket,
            Key="dst",
            CopySource={"Bucket": bucket, "Key": "src"},
            MetadataDirective="REPLACE",
            Metadata={"fresh": "1"},
            ContentType="application/json",
        )
        return [copied, run.call("head_object", Bucket=bucket, Key="dst")]

    outcomes = compare(scenario)
    _copied, head = outcomes["smarts3-fs"]
    assert head["x-amz-meta-fresh"] == "1" and "x-amz-meta-origin" not in head
    assert head["content-type"] == "application/json"


def test_copy_onto_itself_needs_replace(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        _source(run, bucket)
        return [
            run.call("copy_object", Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"}),
            run.call(
                "copy_object",
                Bucket=bucket,
                Key="src",
                CopySource={"Bucket": bucket, "Key": "src"},
                MetadataDirective="REPLACE",
                Metadata={"origin": "replaced"},
            ),
            run.call("get_object", Bucket=bucket, Key="src"),
        ]

    outcomes = compare(scenario)
    refused, replaced, got = outcomes["smarts3-fs"]
    assert refused == {"status": 400, "code": "InvalidRequest"}
    assert replaced["status"] == 200
    assert got["x-amz-meta-origin"] == "replaced" and got["Body"] == b"copy me"


def test_copy_source_with_unicode_spaces_and_plus_in_the_key(compare: Compare) -> None:
    keys = ["dir/\u00e9t\u00e9 caf\u00e9+1.txt", "a b+c%d?e#f", "trailing/"]

    def scenario(run: Run) -> list[Any]:
        bucket = run.bucket()
        results: list[Any] = []
        for index, key in enumerate(keys):
            run.raw("put_object", Bucket=bucket, Key=key, Body=f"body {index}".encode())
            # botocore URL-encodes the dict form of CopySource itself
            copied = run.call(
                "copy_object", Bucket=bucket, Key=f"copy-{index}", CopySource={"Bucket": bucket, "Key": key}
            )
            results.append(
                (copied["status"], run.raw("get_object", Bucket=bucket, Key=f"copy-{index}")["Body"])
            )
        return results

    outcomes = compare(scenario)
    assert outcomes["smarts3-fs"] == [(200, f"body {index}".encode()) for index in range(len(keys))]


def test_copy_from_a_missing_source_is_no_such_key(compare: Compare) -> None:
    def scenario(run: Run) -> Outcome:
        bucket = run.bucket()
        return run.call(
            "copy_object", Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "missing"}
        )

    outcomes = compare(scenario)
    assert outcomes["smarts3-fs"] == {"status": 404, "code": "NoSuchKey"}


def test_copy_source_conditions_answer_412(compare: Compare) -> None:
    def scenario(run: Run) -> list[int]:
        bucket = run.bucket()
        _source(run, bucket)
        etag = run.raw("head_object", Bucket=bucket, Key="src")["ETag"]
        other = '"0123456789abcdef0123456789abcdef"'
        past = datetime.now(UTC) - timedelta(days=1)
        future = datetime.now(UTC) + timedelta(days=1)
        source = {"Bucket": bucket, "Key": "src"}
        cases: list[dict[str, Any]] = [
            {"CopySourceIfMatch": etag},
            {"CopySourceIfMatch": other},
            {"CopySourceIfNoneMatch": other},
            {"CopySourceIfNoneMatch": etag},
            {"CopySourceIfModifiedSince": past},
            {"CopySourceIfModifiedSince": future},
            {"CopySourceIfUnmodifiedSince": future},
            {"CopySourceIfUnmodifiedSince": past},
        ]
        statuses = []
        for index, case in enumerate(cases):
            outcome = run.call("copy_object", Bucket=bucket, Key=f"dst-{index}", CopySource=source, **case)
            statuses.append((outcome["status"], outcome.get("code")))
        return statuses

    outcomes = compare(scenario, moto_differs="D7")
    failed = (412, "PreconditionFailed")
    ok = (200, None)
    assert outcomes["smarts3-fs"] == [ok, failed, ok, failed, ok, failed, ok, failed]
