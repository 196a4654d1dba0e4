"""Anonymous access follows the bucket's canned ACL: public-read lists and reads, public-read-write also writes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from smarts3.testing import RunningServer, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(data_dir=tmp_path_factory.mktemp("data")) as running:
        owner = running.client()
        owner.create_bucket(Bucket="private-b")
        owner.create_bucket(Bucket="read-b", ACL="public-read")
        owner.create_bucket(Bucket="write-b", ACL="public-read-write")
        for bucket in ("private-b", "read-b", "write-b"):
            owner.put_object(Bucket=bucket, Key="doc.txt", Body=b"hello")
        yield running


@pytest.fixture(scope="module")
def anonymous(server: RunningServer) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name=server.region,
        config=Config(signature_version=UNSIGNED),
    )


def _denied(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as error:
        return error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return False


def test_private_bucket_refuses_anonymous_reads_and_lists(anonymous: Any) -> None:
    assert _denied(anonymous.get_object, Bucket="private-b", Key="doc.txt")
    assert _denied(anonymous.list_objects_v2, Bucket="private-b")


def test_public_read_bucket_lists_and_reads_but_refuses_writes_and_config(anonymous: Any) -> None:
    assert anonymous.get_object(Bucket="read-b", Key="doc.txt")["Body"].read() == b"hello"
    assert [o["Key"] for o in anonymous.list_objects_v2(Bucket="read-b")["Contents"]] == ["doc.txt"]
    assert [o["Key"] for o in anonymous.list_objects(Bucket="read-b")["Contents"]] == ["doc.txt"]
    assert _denied(anonymous.put_object, Bucket="read-b", Key="new.txt", Body=b"x")
    assert _denied(anonymous.delete_object, Bucket="read-b", Key="doc.txt")
    assert _denied(anonymous.get_bucket_acl, Bucket="read-b")
    assert _denied(anonymous.get_object_tagging, Bucket="read-b", Key="doc.txt")


def test_public_read_write_bucket_accepts_anonymous_writes_and_deletes(anonymous: Any) -> None:
    anonymous.put_object(Bucket="write-b", Key="dropped.txt", Body=b"from anyone")
    assert anonymous.get_object(Bucket="write-b", Key="dropped.txt")["Body"].read() == b"from anyone"
    anonymous.delete_object(Bucket="write-b", Key="dropped.txt")
    assert _denied(
        anonymous.put_bucket_versioning, Bucket="write-b", VersioningConfiguration={"Status": "Enabled"}
    )
