"""rclone (Debian package) with default settings, configured only through RCLONE_CONFIG_* variables.

rclone 1.60 uploads single parts through a presigned PUT and sends UNSIGNED-PAYLOAD, streams (``rcat``) above
its streaming cutoff in 5 MiB multipart chunks, checks every upload's MD5 against the ETag, parses XML strictly,
and fails every request when AWS_CA_BUNDLE is set: the environment here drops it.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from clientkit import (
    METADATA,
    MULTIPART_SIZE,
    PAGED_COUNT,
    TREE_KEYS,
    TRICKY_KEYS,
    WRONG_SECRET,
    Target,
    isolated_env,
    require_executable,
    sha256_file,
)

pytestmark = pytest.mark.clients


class Rclone:
    def __init__(self, target: Target, home: Path, secret: str | None = None) -> None:
        self.exe = require_executable("rclone")
        self.env = isolated_env(
            home,
            RCLONE_CONFIG=str(home / "rclone.conf"),  # an empty private config: the remote is all env
            RCLONE_CONFIG_SMARTS3_TYPE="s3",
            RCLONE_CONFIG_SMARTS3_PROVIDER="Other",
            RCLONE_CONFIG_SMARTS3_ACCESS_KEY_ID=target.server.access_key,
            RCLONE_CONFIG_SMARTS3_SECRET_ACCESS_KEY=secret or target.server.secret_key,
            RCLONE_CONFIG_SMARTS3_ENDPOINT=target.endpoint,
            RCLONE_CONFIG_SMARTS3_REGION=target.server.region,
        )
        (home / "rclone.conf").write_text("", encoding="utf-8")

    def run(self, *args: str, check: bool = True, stdin: Path | None = None) -> subprocess.CompletedProcess[bytes]:
        with stdin.open("rb") if stdin is not None else open("/dev/null", "rb") as fh:
            proc = subprocess.run([self.exe, *args], env=self.env, stdin=fh, capture_output=True, timeout=120,
                                  check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"rclone {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode()}")
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args).stdout)


@pytest.fixture
def target(http_target: Target) -> Target:
    return http_target


@pytest.fixture
def rclone(target: Target, tmp_path: Path) -> Rclone:
    return Rclone(target, tmp_path / "home")


def test_rclone_object_round_trip(rclone: Rclone, target: Target, tmp_path: Path) -> None:
    bucket = target.new_bucket("rclone")
    rclone.run("mkdir", f"smarts3:{bucket}")
    body = b"hello from rclone\n" * 500
    src = tmp_path / "doc.txt"
    src.write_bytes(body)
    headers = [arg for k, v in METADATA.items() for arg in ("--header-upload", f"X-Amz-Meta-{k}: {v}")]
    rclone.run("copyto", *headers, str(src), f"smarts3:{bucket}/doc.txt")

    [stat] = rclone.json("lsjson", "--metadata", "--hash", f"smarts3:{bucket}/doc.txt")
    assert stat["Size"] == len(body)
    assert stat["MimeType"] == "text/plain; charset=utf-8"  # rclone's guess from the extension
    assert {k: stat["Metadata"][k] for k in METADATA} == METADATA
    assert "mtime" in stat["Metadata"]  # rclone keeps the modification time as x-amz-meta-mtime
    assert stat["Hashes"]["md5"] == __import__("hashlib").md5(body).hexdigest()

    assert rclone.run("cat", f"smarts3:{bucket}/doc.txt").stdout == body
    assert rclone.run("cat", "--offset", "6", "--count", "10", f"smarts3:{bucket}/doc.txt").stdout == body[6:16]

    rclone.run("copyto", f"smarts3:{bucket}/doc.txt", f"smarts3:{bucket}/copy.txt")  # server-side copy
    copied = target.admin().get_object(Bucket=bucket, Key="copy.txt")
    assert copied["Body"].read() == body
    assert {k: copied["Metadata"][k] for k in METADATA} == METADATA

    rclone.run("deletefile", f"smarts3:{bucket}/doc.txt")
    assert rclone.run("lsf", f"smarts3:{bucket}").stdout.decode().split() == ["copy.txt"]
    rclone.run("purge", f"smarts3:{bucket}")
    assert bucket not in rclone.run("lsf", "smarts3:").stdout.decode().split()


def test_rclone_lists_with_prefix_delimiter_and_pages(rclone: Rclone, target: Target) -> None:
    bucket = target.new_bucket("rclone")
    target.admin().create_bucket(Bucket=bucket)
    target.create_tree(bucket)
    assert rclone.run("lsf", f"smarts3:{bucket}/tree").stdout.decode().split() == ["a/", "b/", "c.txt", "d.txt"]
    by_two = rclone.run("lsf", "-R", "--files-only", "--s3-list-chunk", "2", f"smarts3:{bucket}")
    assert sorted(by_two.stdout.decode().split()) == sorted(TREE_KEYS)
    paged = rclone.run("lsf", "-R", "--files-only", f"smarts3:{target.paged_bucket}").stdout.decode().split()
    assert len(paged) == PAGED_COUNT


def test_rclone_tricky_keys_round_trip_and_presigned_link(rclone: Rclone, target: Target, tmp_path: Path) -> None:
    bucket = target.new_bucket("rclone")
    target.admin().create_bucket(Bucket=bucket)
    up = tmp_path / "up"
    for key in TRICKY_KEYS:
        (up / key).parent.mkdir(parents=True, exist_ok=True)
        (up / key).write_bytes(key.encode())
    rclone.run("copy", str(up), f"smarts3:{bucket}")
    listed = target.admin().list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == sorted(TRICKY_KEYS)
    assert sorted(rclone.run("lsf", "-R", "--files-only", f"smarts3:{bucket}").stdout.decode().splitlines()) == \
        sorted(TRICKY_KEYS)
    down = tmp_path / "down"
    rclone.run("copy", f"smarts3:{bucket}", str(down))
    for key in TRICKY_KEYS:
        assert (down / key).read_bytes() == key.encode()
    for key in TRICKY_KEYS:
        url = rclone.run("link", "--expire", "5m", f"smarts3:{bucket}/{key}").stdout.decode().strip()
        assert "X-Amz-Signature=" in url
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.read() == key.encode()
    rclone.run("copyto", f"smarts3:{bucket}/{TRICKY_KEYS[-1]}", f"smarts3:{bucket}/copied/{TRICKY_KEYS[0]}")
    assert rclone.run("cat", f"smarts3:{bucket}/copied/{TRICKY_KEYS[0]}").stdout == TRICKY_KEYS[-1].encode()


def test_rclone_wrong_secret_gets_signature_does_not_match(target: Target, tmp_path: Path) -> None:
    rclone = Rclone(target, tmp_path / "home", secret=WRONG_SECRET)
    listing = rclone.run("lsf", "--retries", "1", "smarts3:", check=False)
    assert listing.returncode != 0
    assert b"SignatureDoesNotMatch" in listing.stderr
    src = tmp_path / "x.txt"
    src.write_bytes(b"x")
    put = rclone.run("rcat", "--retries", "1", f"smarts3:{target.scratch_bucket}/nope", stdin=src, check=False)
    assert put.returncode != 0
    assert b"SignatureDoesNotMatch" in put.stderr, put.stderr
    assert target.admin().list_objects_v2(Bucket=target.scratch_bucket, Prefix="nope")["KeyCount"] == 0


def test_rclone_multipart_upload_round_trips(rclone: Rclone, target: Target, big_file: Path, tmp_path: Path) -> None:
    bucket = target.new_bucket("rclone")
    target.admin().create_bucket(Bucket=bucket)
    # a stream of unknown length above the streaming cutoff goes up in 5 MiB multipart chunks
    rclone.run("rcat", f"smarts3:{bucket}/big.bin", stdin=big_file)
    head = target.admin().head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == MULTIPART_SIZE
    assert head["ETag"].endswith('-5"')
    out = tmp_path / "back.bin"
    rclone.run("copyto", f"smarts3:{bucket}/big.bin", str(out))
    assert sha256_file(out) == sha256_file(big_file)
