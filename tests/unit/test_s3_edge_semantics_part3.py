"""More S3 edge cases over real HTTP, each found by running the public ceph/s3-tests suite (versioning,
tagging, lifecycle configuration) against smarts3.

Every test states the S3 behaviour a client relies on; none reuses that suite's code.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

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
    name = f"edge3-{next(_counter)}"
    client.create_bucket(Bucket=name)
    return name


def _suspend(client: Any, bucket: str) -> None:
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})


def test_writes_to_a_suspended_bucket_send_no_version_id(client: Any, bucket: str) -> None:
    _suspend(client, bucket)
    put = client.put_object(Bucket=bucket, Key="k", Body=b"v")
    assert "VersionId" not in put
    copied = client.copy_object(Bucket=bucket, Key="k2", CopySource={"Bucket": bucket, "Key": "k"})
    assert "VersionId" not in copied
    upload = client.create_multipart_upload(Bucket=bucket, Key="mp")
    part = client.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=b"p")
    done = client.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert "VersionId" not in done
    # the object is still the bucket's null version
    versions = client.list_object_versions(Bucket=bucket, Prefix="k")["Versions"]
    assert {v["VersionId"] for v in versions} == {"null"}


def test_writes_to_a_versioned_bucket_still_send_their_version_id(client: Any, bucket: str) -> None:
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    put = client.put_object(Bucket=bucket, Key="k", Body=b"v")
    assert put["VersionId"] not in ("", "null")


def test_head_object_reports_how_many_tags_the_object_has(client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="k", Body=b"v", Tagging="a=1&b=2")
    assert client.head_object(Bucket=bucket, Key="k")["TagCount"] == 2
    assert client.get_object(Bucket=bucket, Key="k")["TagCount"] == 2
    client.put_object(Bucket=bucket, Key="untagged", Body=b"v")
    assert "TagCount" not in client.head_object(Bucket=bucket, Key="untagged")


def test_tagging_header_with_a_bare_name_stores_a_tag_with_an_empty_value(client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="k", Body=b"v", Tagging="foo=bar&bar")
    tags = client.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]
    assert tags == [{"Key": "bar", "Value": ""}, {"Key": "foo", "Value": "bar"}]  # ordered by key, as S3 does


def test_a_tag_set_is_answered_ordered_by_key_whatever_order_it_was_given_in(client: Any, bucket: str) -> None:
    """ceph/s3-tests (test_put_obj_with_tags) expects S3's order: by key."""
    client.put_object(Bucket=bucket, Key="k", Body=b"v")
    given = [{"Key": "zeta", "Value": "1"}, {"Key": "alpha", "Value": "2"}, {"Key": "mid", "Value": "3"}]
    client.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": given})
    tags = client.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]
    assert [tag["Key"] for tag in tags] == ["alpha", "mid", "zeta"]


def test_tagging_header_with_an_empty_tag_name_is_rejected(client: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as err:
        client.put_object(Bucket=bucket, Key="k", Body=b"v", Tagging="=orphan")
    assert err.value.response["Error"]["Code"] == "InvalidArgument"


def test_lifecycle_rules_sent_without_an_id_get_one(client: Any, bucket: str) -> None:
    rules = [
        {"Expiration": {"Days": 31}, "Prefix": "logs/", "Status": "Enabled"},
        {"ID": "mine", "Expiration": {"Days": 120}, "Prefix": "tmp/", "Status": "Enabled"},
        {"Expiration": {"Days": 7}, "Filter": {"Prefix": "x/"}, "Status": "Disabled"},
    ]
    client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    got = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r.get("Prefix") or r["Filter"]["Prefix"] for r in got] == ["logs/", "tmp/", "x/"]
    ids = [r["ID"] for r in got]
    assert ids[1] == "mine"
    assert ids[0] and ids[2] and len(set(ids)) == 3
    assert [r["Expiration"]["Days"] for r in got] == [31, 120, 7]
    assert [r["Status"] for r in got] == ["Enabled", "Enabled", "Disabled"]


def test_lifecycle_transition_date_must_be_midnight_utc(client: Any, bucket: str) -> None:
    rule = {
        "ID": "r",
        "Prefix": "a/",
        "Status": "Enabled",
        "Transitions": [{"Date": datetime(2022, 9, 27, 13, 5, tzinfo=UTC), "StorageClass": "GLACIER"}],
    }
    with pytest.raises(ClientError) as err:
        client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    rule["Transitions"] = [{"Date": datetime(2022, 9, 27, tzinfo=UTC), "StorageClass": "GLACIER"}]
    client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    got = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["Transitions"]
    assert got[0]["Date"] == datetime(2022, 9, 27, tzinfo=UTC)


def _expiration(response: dict[str, Any]) -> str | None:
    value: str | None = response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-expiration")
    return value


def _lifecycle(client: Any, bucket: str, *rules: dict[str, Any]) -> None:
    client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": list(rules)})


def test_put_head_and_get_announce_when_a_lifecycle_rule_expires_the_object(client: Any, bucket: str) -> None:
    _lifecycle(
        client, bucket, {"ID": "week", "Expiration": {"Days": 7}, "Prefix": "logs/", "Status": "Enabled"}
    )
    put = client.put_object(Bucket=bucket, Key="logs/a", Body=b"v")
    modified = client.head_object(Bucket=bucket, Key="logs/a")["LastModified"]
    # S3: creation time + 7 days, rounded up to the next midnight UTC
    due = (modified + timedelta(days=7)).replace(hour=0, minute=0, second=0) + timedelta(days=1)
    expected = f'expiry-date="{due.strftime("%a, %d %b %Y %H:%M:%S GMT")}", rule-id="week"'
    assert _expiration(put) == expected
    assert _expiration(client.head_object(Bucket=bucket, Key="logs/a")) == expected
    assert _expiration(client.get_object(Bucket=bucket, Key="logs/a")) == expected
    assert client.head_object(Bucket=bucket, Key="logs/a")["Expiration"] == expected
    # outside the rule's prefix: no header
    assert _expiration(client.put_object(Bucket=bucket, Key="keep/a", Body=b"v")) is None


def test_expiration_header_follows_tag_filters_and_disabled_rules(client: Any, bucket: str) -> None:
    _lifecycle(
        client,
        bucket,
        {
            "ID": "tagged",
            "Expiration": {"Days": 1},
            "Filter": {"Tag": {"Key": "t", "Value": "1"}},
            "Status": "Enabled",
        },
        {"ID": "off", "Expiration": {"Days": 1}, "Filter": {"Prefix": ""}, "Status": "Disabled"},
    )
    client.put_object(Bucket=bucket, Key="a", Body=b"v", Tagging="t=1&u=2")
    client.put_object(Bucket=bucket, Key="b", Body=b"v", Tagging="t=2")
    assert 'rule-id="tagged"' in (_expiration(client.head_object(Bucket=bucket, Key="a")) or "")
    assert _expiration(client.head_object(Bucket=bucket, Key="b")) is None
    client.delete_bucket_lifecycle(Bucket=bucket)
    assert _expiration(client.head_object(Bucket=bucket, Key="a")) is None


def test_expiration_header_for_a_date_rule_names_that_date(client: Any, bucket: str) -> None:
    _lifecycle(
        client,
        bucket,
        {
            "ID": "d",
            "Expiration": {"Date": datetime(2040, 1, 1, tzinfo=UTC)},
            "Prefix": "",
            "Status": "Enabled",
        },
    )
    put = client.put_object(Bucket=bucket, Key="a", Body=b"v")
    assert _expiration(put) == 'expiry-date="Sun, 01 Jan 2040 00:00:00 GMT", rule-id="d"'
