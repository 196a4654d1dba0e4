"""Files that another program puts into (or removes from) a bucket directory, seen through the S3 API.

The rules (also in the README): a regular file under a bucket directory is an object whose key is its relative
path; its ETag is the MD5 of its bytes, computed on first read and cached until the file changes (inode, size
or mtime); a removed file is simply absent (its cached metadata is dropped); a new directory with a valid bucket
name is a bucket; symlinks, empty directories and names the key encoding never produces (containing '%') are
not objects.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from smarts3.testing import running_server


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    data = tmp_path / "data"
    with running_server(data_dir=data) as server:
        client = server.client()
        client.create_bucket(Bucket="shared")
        yield client, data / "shared"


def keys(client: Any, bucket: str = "shared", **kwargs: Any) -> dict[str, tuple[int, str]]:
    page = client.list_objects_v2(Bucket=bucket, **kwargs)
    return {o["Key"]: (o["Size"], o["ETag"].strip('"')) for o in page.get("Contents", [])}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_a_file_placed_by_another_program_is_listed_and_served_with_its_md5_etag(
    s3: tuple[Any, Path],
) -> None:
    client, bucket = s3
    (bucket / "reports" / "2024").mkdir(parents=True)
    body = b"q1,q2\n1,2\n"
    (bucket / "reports" / "2024" / "sales.csv").write_bytes(body)
    assert keys(client) == {"reports/2024/sales.csv": (len(body), md5(body))}
    head = client.head_object(Bucket="shared", Key="reports/2024/sales.csv")
    assert head["ContentLength"] == len(body) and head["ETag"] == f'"{md5(body)}"'
    assert client.get_object(Bucket="shared", Key="reports/2024/sales.csv")["Body"].read() == body
    listed = client.list_objects_v2(Bucket="shared", Delimiter="/")
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["reports/"]


def test_the_etag_is_computed_once_and_cached_in_a_sidecar(s3: tuple[Any, Path]) -> None:
    client, bucket = s3
    (bucket / "cached.bin").write_bytes(b"abc")
    sidecar = bucket.parent / ".smarts3" / "buckets" / "shared" / "meta" / "cached.bin.m"
    assert not sidecar.exists()
    client.head_object(Bucket="shared", Key="cached.bin")
    assert sidecar.exists()
    stamp = sidecar.stat().st_mtime_ns
    for _ in range(3):
        assert client.head_object(Bucket="shared", Key="cached.bin")["ETag"] == f'"{md5(b"abc")}"'
    assert sidecar.stat().st_mtime_ns == stamp  # not re-hashed


def test_a_file_rewritten_by_another_program_gets_a_new_etag(s3: tuple[Any, Path]) -> None:
    client, bucket = s3
    client.put_object(Bucket="shared", Key="notes.txt", Body=b"from s3", ContentType="text/plain")
    path = bucket / "notes.txt"
    time.sleep(0.01)
    path.write_bytes(b"edited in vim")
    head = client.head_object(Bucket="shared", Key="notes.txt")
    assert head["ETag"] == f'"{md5(b"edited in vim")}"' and head["ContentLength"] == len(b"edited in vim")
    assert client.get_object(Bucket="shared", Key="notes.txt")["Body"].read() == b"edited in vim"


def test_a_file_removed_behind_the_servers_back_disappears_cleanly(s3: tuple[Any, Path]) -> None:
    client, bucket = s3
    client.put_object(Bucket="shared", Key="dir/temp.txt", Body=b"short-lived")
    client.put_object(Bucket="shared", Key="dir/stays.txt", Body=b"stays")
    os.unlink(bucket / "dir" / "temp.txt")
    assert list(keys(client)) == ["dir/stays.txt"]
    with pytest.raises(ClientError) as missing:
        client.get_object(Bucket="shared", Key="dir/temp.txt")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(ClientError) as head_missing:
        client.head_object(Bucket="shared", Key="dir/temp.txt")
    assert head_missing.value.response["Error"]["Code"] == "404"
    # the key can be written again, and deleting the rest leaves the bucket deletable
    client.put_object(Bucket="shared", Key="dir/temp.txt", Body=b"again")
    assert client.get_object(Bucket="shared", Key="dir/temp.txt")["Body"].read() == b"again"
    client.delete_objects(Bucket="shared", Delete={"Objects": [{"Key": "dir/temp.txt"}, {"Key": "dir/stays.txt"}]})
    client.delete_bucket(Bucket="shared")


def test_a_directory_created_by_another_program_is_a_bucket_and_removing_it_removes_the_bucket(
    s3: tuple[Any, Path],
) -> None:
    client, bucket = s3
    other = bucket.parent / "dropped-bucket"
    other.mkdir()
    (other / "hello.txt").write_bytes(b"hi")
    assert "dropped-bucket" in [b["Name"] for b in client.list_buckets()["Buckets"]]
    assert keys(client, "dropped-bucket") == {"hello.txt": (2, md5(b"hi"))}
    (other / "hello.txt").unlink()
    other.rmdir()
    with pytest.raises(ClientError) as gone:
        client.list_objects_v2(Bucket="dropped-bucket")
    assert gone.value.response["Error"]["Code"] == "NoSuchBucket"


def test_symlinks_empty_directories_and_foreign_names_are_not_objects(
    s3: tuple[Any, Path], tmp_path: Path
) -> None:
    client, bucket = s3
    secret = tmp_path / "outside.txt"
    secret.write_bytes(b"not for clients")
    (bucket / "link.txt").symlink_to(secret)
    (bucket / "empty-dir").mkdir()
    (bucket / "50%off.txt").write_bytes(b"a name the key encoding never produces")
    (bucket / "plain.txt").write_bytes(b"ok")
    assert list(keys(client)) == ["plain.txt"]
    with pytest.raises(ClientError) as link:
        client.get_object(Bucket="shared", Key="link.txt")
    assert link.value.response["Error"]["Code"] == "NoSuchKey"
