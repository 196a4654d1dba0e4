"""Bucket operations: create, head, delete, list, location and their errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from s3conformance import Outcome, Run, Target

Compare = Callable[..., dict[str, Any]]


def test_bucket_create_head_list_delete_round_trip(compare: Compare) -> None:
    def scenario(run: Run) -> list[Any]:
        name = run.new_bucket_name()
        created = run.raw("create_bucket", Bucket=name)
        head = run.call("head_bucket", Bucket=name)
        listed = run.raw("list_buckets")
        names = [b["Name"] for b in listed["Buckets"]]
        deleted = run.call("delete_bucket", Bucket=name)
        head_after = run.call("head_bucket", Bucket=name)
        listed_after = [b["Name"] for b in run.raw("list_buckets")["Buckets"]]
        return [
            created["ResponseMetadata"]["HTTPStatusCode"],
            created.get("Location") == "/" + name,
            head["status"],
            name in names,
            all(b.get("CreationDate") is not None for b in listed["Buckets"]),
            deleted["status"],
            head_after,
            name in listed_after,
        ]

    outcomes = compare(scenario)
    assert outcomes["smarts3-fs"] == [200, True, 200, True, True, 204, {"status": 404, "code": "404"}, False]


def test_bucket_location_is_empty_for_us_east_1_and_named_otherwise(compare: Compare) -> None:
    def scenario(run: Run) -> list[Any]:
        plain = run.bucket()
        located = run.new_bucket_name()
        created = run.call(
            "create_bucket", Bucket=located, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        return [
            run.call("get_bucket_location", Bucket=plain),
            created["status"],
            run.call("get_bucket_location", Bucket=located),
        ]

    outcomes = compare(scenario)
    assert outcomes["smarts3-fs"][0]["LocationConstraint"] is None
    assert outcomes["smarts3-fs"][2]["LocationConstraint"] == "eu-west-1"


def test_creating_own_bucket_again_in_us_east_1_succeeds_and_keeps_it(compare: Compare) -> None:
    def scenario(run: Run) -> Any:
        name = run.bucket()
        run.raw("put_object", Bucket=name, Key="kept", Body=b"x")
        again = run.call("create_bucket", Bucket=name)
        return [again["status"], run.call("head_object", Bucket=name, Key="kept")["status"]]

    outcomes = compare(scenario)
    # S3 (CreateBucket, "Errors"): in us-east-1 creating your own bucket again answers 200 and keeps it
    assert outcomes["smarts3-fs"] == [200, 200]


def test_creating_own_bucket_again_in_another_region_is_bucket_already_owned_by_you(
    smarts3_target: Target,
) -> None:
    client = smarts3_target.client
    name = smarts3_target.new_bucket_name()
    config = {"LocationConstraint": "eu-west-1"}
    client.create_bucket(Bucket=name, CreateBucketConfiguration=config)
    with pytest.raises(ClientError) as caught:
        client.create_bucket(Bucket=name, CreateBucketConfiguration=config)
    assert caught.value.response["Error"]["Code"] == "BucketAlreadyOwnedByYou"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_deleting_a_bucket_with_objects_is_bucket_not_empty(compare: Compare) -> None:
    def scenario(run: Run) -> list[Any]:
        name = run.bucket()
        run.raw("put_object", Bucket=name, Key="k", Body=b"x")
        refused = run.call("delete_bucket", Bucket=name)
        still_there = run.call("head_bucket", Bucket=name)
        return [refused, still_there["status"]]

    outcomes = compare(scenario)
    assert outcomes["smarts3-fs"] == [{"status": 409, "code": "BucketNotEmpty"}, 200]


def test_operations_on_a_missing_bucket_are_no_such_bucket(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        name = run.new_bucket_name()
        return [
            run.call("head_bucket", Bucket=name),
            run.call("delete_bucket", Bucket=name),
            run.call("list_objects_v2", Bucket=name),
            run.call("list_objects", Bucket=name),
            run.call("get_object", Bucket=name, Key="k"),
            run.call("put_object", Bucket=name, Key="k", Body=b"x"),
            run.call("get_bucket_location", Bucket=name),
        ]

    outcomes = compare(scenario)
    assert (
        outcomes["smarts3-fs"]
        == [{"status": 404, "code": "404"}] + [{"status": 404, "code": "NoSuchBucket"}] * 6
    )


def test_invalid_bucket_names_are_refused(compare: Compare) -> None:
    # botocore validates some names client-side; these reach the server
    names = ["ab", "UPPERCASE", "a" * 64, "under_score", "-leading-hyphen", "double..dot", "192.168.5.4"]

    def scenario(run: Run) -> list[Any]:
        return [(name, run.call("create_bucket", Bucket=name)) for name in names]

    outcomes = compare(scenario, moto_differs="D2")
    assert outcomes["smarts3-fs"] == [(name, {"status": 400, "code": "InvalidBucketName"}) for name in names]
