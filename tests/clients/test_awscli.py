"""The AWS CLI (v1, ``aws s3`` and ``aws s3api``) with default settings, over HTTP and HTTPS.

Each CLI call costs a second of start-up, so what does not depend on the transport (listing, keys, presigning,
errors) runs over HTTP only; the writes that switch to aws-chunked trailers run over both.

Configuration is only environment variables and ``--endpoint-url``; HTTPS trusts the test CA through
``AWS_CA_BUNDLE``. Like boto3, the CLI sends CRC32 checksums in a header over HTTP and as aws-chunked trailers
over HTTPS.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from clientkit import (
    METADATA,
    MULTIPART_SIZE,
    PAGED_COUNT,
    TREE_FILES,
    TREE_KEYS,
    TREE_PREFIXES,
    TRICKY_KEYS,
    WRONG_SECRET,
    Target,
    isolated_env,
    sha256_file,
)

pytestmark = pytest.mark.clients


class AwsCli:
    def __init__(self, target: Target, home: Path, secret: str | None = None) -> None:
        extra = {
            "AWS_ACCESS_KEY_ID": target.server.access_key,
            "AWS_SECRET_ACCESS_KEY": secret or target.server.secret_key,
            "AWS_DEFAULT_REGION": target.server.region,
        }
        if target.ca_file is not None:
            extra["AWS_CA_BUNDLE"] = str(target.ca_file)
        self.env = isolated_env(home, **extra)
        self.endpoint = target.endpoint

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        # the awscli of this interpreter's environment (scripts/install-clients.sh puts it there)
        cmd = [sys.executable, "-m", "awscli", "--endpoint-url", self.endpoint, *args]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, timeout=120, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode()}")
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--output", "json").stdout or b"{}")


@pytest.fixture
def aws(target: Target, tmp_path: Path) -> AwsCli:
    return AwsCli(target, tmp_path / "home")


def test_awscli_object_round_trip(aws: AwsCli, target: Target, tmp_path: Path) -> None:
    bucket = target.new_bucket("awscli")
    aws.run("s3", "mb", f"s3://{bucket}")
    body = b"hello from the aws cli\n" * 500
    src = tmp_path / "doc.txt"
    src.write_bytes(body)
    meta = ",".join(f"{k}={v}" for k, v in METADATA.items())
    aws.run("s3", "cp", str(src), f"s3://{bucket}/doc.txt", "--metadata", meta, "--content-type", "text/plain")

    head = aws.json("s3api", "head-object", "--bucket", bucket, "--key", "doc.txt")
    assert head["ContentLength"] == len(body)
    assert head["Metadata"] == METADATA
    assert head["ContentType"] == "text/plain"

    assert aws.run("s3", "cp", f"s3://{bucket}/doc.txt", "-").stdout == body
    ranged = aws.json("s3api", "get-object", "--bucket", bucket, "--key", "doc.txt", "--range", "bytes=6-15",
                      str(tmp_path / "range.out"))
    assert ranged["ContentRange"] == f"bytes 6-15/{len(body)}"
    assert (tmp_path / "range.out").read_bytes() == body[6:16]

    aws.run("s3", "cp", f"s3://{bucket}/doc.txt", f"s3://{bucket}/copy.txt")  # server-side CopyObject
    admin = target.admin()
    copied = admin.get_object(Bucket=bucket, Key="copy.txt")
    assert copied["Body"].read() == body
    assert copied["Metadata"] == METADATA

    aws.run("s3", "rm", f"s3://{bucket}/doc.txt")
    assert [o["Key"] for o in admin.list_objects_v2(Bucket=bucket)["Contents"]] == ["copy.txt"]
    aws.run("s3", "rm", f"s3://{bucket}", "--recursive")  # DeleteObjects with a CRC32 header, no Content-MD5
    assert admin.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


@pytest.mark.parametrize("target", ["http"], indirect=True)
def test_awscli_lists_with_prefix_delimiter_and_pages(aws: AwsCli, target: Target) -> None:
    bucket = target.new_bucket("awscli")
    target.admin().create_bucket(Bucket=bucket)
    target.create_tree(bucket)

    listing = aws.json("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "tree/", "--delimiter", "/")
    assert [p["Prefix"] for p in listing["CommonPrefixes"]] == TREE_PREFIXES
    assert [o["Key"] for o in listing["Contents"]] == TREE_FILES
    ls = aws.run("s3", "ls", f"s3://{bucket}/tree/").stdout.decode().splitlines()
    assert [line.split()[-1] for line in ls] == ["a/", "b/", "c.txt", "d.txt"]

    # --page-size 2: the CLI follows continuation tokens itself, two keys a request
    paged = aws.json("s3api", "list-objects-v2", "--bucket", bucket, "--page-size", "2")
    assert [o["Key"] for o in paged["Contents"]] == sorted(TREE_KEYS)
    all_keys = aws.run("s3", "ls", f"s3://{target.paged_bucket}/", "--recursive").stdout.decode().splitlines()
    assert len(all_keys) == PAGED_COUNT


@pytest.mark.parametrize("target", ["http"], indirect=True)
def test_awscli_tricky_keys_round_trip_and_presigned_get(aws: AwsCli, target: Target, tmp_path: Path) -> None:
    bucket = target.new_bucket("awscli")
    target.admin().create_bucket(Bucket=bucket)
    up = tmp_path / "up"
    for key in TRICKY_KEYS:
        (up / key).parent.mkdir(parents=True, exist_ok=True)
        (up / key).write_bytes(key.encode())
    aws.run("s3", "sync", str(up), f"s3://{bucket}/")
    listed = target.admin().list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == sorted(TRICKY_KEYS)
    down = tmp_path / "down"
    aws.run("s3", "sync", f"s3://{bucket}/", str(down))
    for key in TRICKY_KEYS:
        assert (down / key).read_bytes() == key.encode()
    aws.run("s3", "cp", f"s3://{bucket}/{TRICKY_KEYS[-1]}", f"s3://{bucket}/copied/{TRICKY_KEYS[0]}")
    url = aws.run("s3", "presign", f"s3://{bucket}/copied/{TRICKY_KEYS[0]}").stdout.decode().strip()
    assert "Signature=" in url  # like boto3, the CLI presigns with SigV2 query auth for us-east-1 by default
    assert _fetch(url, target) == TRICKY_KEYS[-1].encode()


def _fetch(url: str, target: Target) -> bytes:
    context = ssl.create_default_context(cafile=str(target.ca_file)) if target.ca_file else None
    with urllib.request.urlopen(url, context=context, timeout=10) as resp:
        return resp.read()  # type: ignore[no-any-return]


@pytest.mark.parametrize("target", ["http"], indirect=True)
def test_awscli_wrong_secret_gets_signature_does_not_match(target: Target, tmp_path: Path) -> None:
    aws = AwsCli(target, tmp_path / "home", secret=WRONG_SECRET)
    listing = aws.run("s3", "ls", check=False)
    assert listing.returncode != 0
    assert b"SignatureDoesNotMatch" in listing.stderr
    src = tmp_path / "x.txt"
    src.write_bytes(b"x")
    put = aws.run("s3", "cp", str(src), f"s3://{target.scratch_bucket}/nope", check=False)
    assert put.returncode != 0
    assert b"SignatureDoesNotMatch" in put.stderr
    assert target.admin().list_objects_v2(Bucket=target.scratch_bucket, Prefix="nope")["KeyCount"] == 0


def test_awscli_multipart_upload_round_trips(aws: AwsCli, target: Target, big_file: Path, tmp_path: Path) -> None:
    bucket = target.new_bucket("awscli")
    target.admin().create_bucket(Bucket=bucket)
    aws.run("s3", "cp", str(big_file), f"s3://{bucket}/big.bin")
    head = target.admin().head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == MULTIPART_SIZE
    assert head["ETag"].endswith('-3"')  # 8 MiB parts: the CLI used multipart
    out = tmp_path / "back.bin"
    aws.run("s3", "cp", f"s3://{bucket}/big.bin", str(out))
    assert sha256_file(out) == sha256_file(big_file)
