"""DeleteObjects, versioning, object and bucket tagging, bucket CORS configuration, authentication errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from s3conformance import Outcome, Run, Target

Compare = Callable[..., dict[str, Any]]


def test_delete_objects_reports_each_key_and_missing_keys_as_deleted(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        run.put_many(bucket, ["one", "two", "dir/three"])
        verbose = run.call(
            "delete_objects",
            Bucket=bucket,
            Delete={"Objects": [{"Key": "one"}, {"Key": "dir/three"}, {"Key": "never-existed"}]},
        )
        quiet = run.call("delete_objects", Bucket=bucket, Delete={"Objects": [{"Key": "two"}], "Quiet": True})
        return [verbose, quiet, run.call("list_objects_v2", Bucket=bucket)]

    outcomes = compare(scenario, moto_differs="D18")
    verbose, quiet, listed = outcomes["smarts3-fs"]
    assert sorted(d["Key"] for d in verbose["Deleted"]) == ["dir/three", "never-existed", "one"]
    assert "Errors" not in verbose
    assert "Deleted" not in quiet and "Errors" not in quiet
    assert listed["KeyCount"] == 0


def test_delete_objects_with_more_than_1000_keys_is_malformed_xml(compare: Compare) -> None:
    def scenario(run: Run) -> Outcome:
        bucket = run.bucket()
        return run.call(
            "delete_objects", Bucket=bucket, Delete={"Objects": [{"Key": f"k{i}"} for i in range(1001)]}
        )

    outcomes = compare(scenario, moto_differs="D19")
    assert outcomes["smarts3-fs"] == {"status": 400, "code": "MalformedXML"}


def test_versioning_life_cycle(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        before = run.call("get_bucket_versioning", Bucket=bucket)
        run.raw("put_object", Bucket=bucket, Key="pre", Body=b"before versioning")
        enabled = run.call(
            "put_bucket_versioning", Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        status = run.call("get_bucket_versioning", Bucket=bucket)
        first = run.call("put_object", Bucket=bucket, Key="k", Body=b"v1")
        second = run.call("put_object", Bucket=bucket, Key="k", Body=b"v2")
        marker = run.call("delete_object", Bucket=bucket, Key="k")
        latest = run.call("get_object", Bucket=bucket, Key="k")
        old = run.call(
            "get_object",
            Bucket=bucket,
            Key="k",
            VersionId=run.raw("list_object_versions", Bucket=bucket, Prefix="k")["Versions"][-1]["VersionId"],
        )
        versions = run.call("list_object_versions", Bucket=bucket)
        return [before, enabled, status, first, second, marker, latest, old, versions]

    outcomes = compare(scenario, moto_differs=("D8", "D20"))
    before, _enabled, status, first, second, marker, latest, old, versions = outcomes["smarts3-fs"]
    assert "Status" not in before and status["Status"] == "Enabled"
    assert first["x-amz-version-id"] == "<id-1>" and second["x-amz-version-id"] == "<id-2>"
    assert marker == {"status": 204, "x-amz-delete-marker": "true", "x-amz-version-id": "<id-3>"}
    assert latest == {
        "status": 404,
        "code": "NoSuchKey",
        "x-amz-delete-marker": "true",
        "x-amz-version-id": "<id-3>",
    }
    assert old["Body"] == b"v1" and old["x-amz-version-id"] == "<id-1>"
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in versions["Versions"]] == [
        ("k", "<id-2>", False),
        ("k", "<id-1>", False),
        ("pre", "null", True),
    ]
    assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in versions["DeleteMarkers"]] == [
        ("k", "<id-3>", True)
    ]


def test_deleting_versions_by_id_and_removing_a_delete_marker(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        run.raw("put_bucket_versioning", Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        v1 = run.raw("put_object", Bucket=bucket, Key="k", Body=b"v1")["VersionId"]
        v2 = run.raw("put_object", Bucket=bucket, Key="k", Body=b"v2")["VersionId"]
        marker = run.raw("delete_object", Bucket=bucket, Key="k")["VersionId"]
        return [
            run.call("delete_object", Bucket=bucket, Key="k", VersionId=marker),
            run.call("get_object", Bucket=bucket, Key="k"),
            run.call("delete_object", Bucket=bucket, Key="k", VersionId=v2),
            run.call("get_object", Bucket=bucket, Key="k"),
            run.call("head_object", Bucket=bucket, Key="k", VersionId=v1),
            run.call("get_object", Bucket=bucket, Key="k", VersionId=v2),
        ]

    outcomes = compare(scenario, moto_differs="D20")
    unmarked, back, deleted_v2, now_v1, head_v1, gone = outcomes["smarts3-fs"]
    assert unmarked["status"] == 204 and unmarked["x-amz-delete-marker"] == "true"
    assert back["Body"] == b"v2"
    assert deleted_v2["status"] == 204
    assert now_v1["Body"] == b"v1"
    assert head_v1["status"] == 200
    assert gone["status"] == 404 and gone["code"] == "NoSuchVersion"


def test_object_tagging_round_trip(compare: Compare) -> None:
    tags = [{"Key": "project", "Value": "smarts3"}, {"Key": "tier", "Value": "gold"}]

    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        run.raw("put_object", Bucket=bucket, Key="k", Body=b"x", Tagging="initial=yes")
        return [
            run.call("get_object_tagging", Bucket=bucket, Key="k"),
            run.call("put_object_tagging", Bucket=bucket, Key="k", Tagging={"TagSet": tags}),
            run.call("get_object_tagging", Bucket=bucket, Key="k"),
            run.call("delete_object_tagging", Bucket=bucket, Key="k"),
            run.call("get_object_tagging", Bucket=bucket, Key="k"),
            run.call("get_object_tagging", Bucket=bucket, Key="missing"),
        ]

    outcomes = compare(scenario)
    initial, _put, stored, deleted, empty, missing = outcomes["smarts3-fs"]
    assert initial["TagSet"] == [{"Key": "initial", "Value": "yes"}]
    assert sorted(stored["TagSet"], key=lambda t: t["Key"]) == tags
    assert deleted["status"] == 204 and empty["TagSet"] == []
    assert missing == {"status": 404, "code": "NoSuchKey"}


def test_bucket_tagging_round_trip(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        return [
            run.call("get_bucket_tagging", Bucket=bucket),
            run.call(
                "put_bucket_tagging", Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "storage"}]}
            ),
            run.call("get_bucket_tagging", Bucket=bucket),
            run.call("delete_bucket_tagging", Bucket=bucket),
            run.call("get_bucket_tagging", Bucket=bucket),
        ]

    outcomes = compare(scenario)
    none, _put, stored, deleted, none_again = outcomes["smarts3-fs"]
    assert none == none_again == {"status": 404, "code": "NoSuchTagSet"}
    assert stored["TagSet"] == [{"Key": "team", "Value": "storage"}] and deleted["status"] == 204


def test_bucket_cors_configuration_round_trip(compare: Compare) -> None:
    rules = [
        {
            "AllowedMethods": ["GET", "PUT"],
            "AllowedOrigins": ["https://app.example.com", "https://*.example.org"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag", "x-amz-version-id"],
            "MaxAgeSeconds": 600,
            "ID": "browser",
        },
        {"AllowedMethods": ["HEAD"], "AllowedOrigins": ["*"]},
    ]

    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        return [
            run.call("get_bucket_cors", Bucket=bucket),
            run.call("put_bucket_cors", Bucket=bucket, CORSConfiguration={"CORSRules": rules}),
            run.call("get_bucket_cors", Bucket=bucket),
            run.call("delete_bucket_cors", Bucket=bucket),
            run.call("get_bucket_cors", Bucket=bucket),
        ]

    outcomes = compare(scenario)
    none, _put, stored, deleted, none_again = outcomes["smarts3-fs"]
    assert none == none_again == {"status": 404, "code": "NoSuchCORSConfiguration"}
    assert stored["CORSRules"] == rules and deleted["status"] == 204


def test_wrong_secret_is_signature_does_not_match(smarts3_target: Target) -> None:
    """smarts3 only: moto's server accepts any credentials unless its IAM auth is switched on."""
    client = smarts3_target.make_client(aws_secret_access_key="definitely-not-the-secret")
    run = Run(smarts3_target)
    assert run.call("list_buckets", client=client) == {"status": 403, "code": "SignatureDoesNotMatch"}
    bucket = run.bucket()
    assert run.call("put_object", client=client, Bucket=bucket, Key="k", Body=b"x") == {
        "status": 403,
        "code": "SignatureDoesNotMatch",
    }
    assert run.call("head_object", Bucket=bucket, Key="k")["status"] == 404


def test_unknown_access_key_is_invalid_access_key_id(smarts3_target: Target) -> None:
    """smarts3 only (see above)."""
    client = smarts3_target.make_client(aws_access_key_id="AKIANOBODYKNOWS00000")
    run = Run(smarts3_target)
    assert run.call("list_buckets", client=client) == {"status": 403, "code": "InvalidAccessKeyId"}


@pytest.mark.parametrize("operation", ["list_buckets"])
def test_moto_accepts_any_credentials(targets: dict[str, Target], operation: str) -> None:
    """Pins D21: the reason the two tests above run on smarts3 only."""
    client = targets["moto"].make_client(aws_secret_access_key="definitely-not-the-secret")
    assert Run(targets["moto"]).call(operation, client=client)["status"] == 200
