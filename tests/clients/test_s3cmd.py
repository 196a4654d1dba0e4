"""s3cmd (Debian package) with default settings but for a private config naming the endpoint (path style).

s3cmd signs requests with SigV4, sends DeleteObjects with Content-MD5, uploads above 15 MiB in multipart,
fetches the rest of a partial download with a Range request (``get --continue``) and presigns only with SigV2
(``signurl``).
"""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

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


class S3cmd:
    def __init__(self, target: Target, home: Path, secret: str | None = None) -> None:
        self.exe = require_executable("s3cmd")
        self.env = isolated_env(home)
        self.config = home / "s3cfg"
        self.config.write_text(
            "[default]\n"
            f"access_key = {target.server.access_key}\n"
            f"secret_key = {secret or target.server.secret_key}\n"
            f"host_base = {target.host_port}\n"
            f"host_bucket = {target.host_port}\n"  # no %(bucket)s: path-style requests
            f"bucket_location = {target.server.region}\n"
            "use_https = False\n",
            encoding="utf-8",
        )

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([self.exe, "-c", str(self.config), *args], env=self.env, capture_output=True,
                              text=True, timeout=120, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"s3cmd {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
        return proc


@pytest.fixture
def target(http_target: Target) -> Target:
    return http_target


@pytest.fixture
def s3cmd(target: Target, tmp_path: Path) -> S3cmd:
    return S3cmd(target, tmp_path / "home")


def test_s3cmd_object_round_trip(s3cmd: S3cmd, target: Target, tmp_path: Path) -> None:
    bucket = target.new_bucket("s3cmd")
    s3cmd.run("mb", f"s3://{bucket}")
    body = b"hello from s3cmd\n" * 500
    src = tmp_path / "doc.txt"
    src.write_bytes(body)
    headers = [f"--add-header=x-amz-meta-{k}:{v}" for k, v in METADATA.items()]
    s3cmd.run("put", *headers, "--mime-type=text/plain", str(src), f"s3://{bucket}/doc.txt")

    info = s3cmd.run("info", f"s3://{bucket}/doc.txt").stdout
    assert f"File size: {len(body)}" in info
    assert "MIME type: text/plain" in info
    head = target.admin().head_object(Bucket=bucket, Key="doc.txt")
    assert {k: head["Metadata"][k] for k in METADATA} == METADATA

    out = tmp_path / "out.txt"
    s3cmd.run("get", f"s3://{bucket}/doc.txt", str(out))
    assert out.read_bytes() == body
    # ranged GET: --continue asks for bytes=<local size>- and appends
    partial = tmp_path / "partial.txt"
    partial.write_bytes(body[:1000])
    s3cmd.run("get", "--continue", f"s3://{bucket}/doc.txt", str(partial))
    assert partial.read_bytes() == body

    s3cmd.run("cp", f"s3://{bucket}/doc.txt", f"s3://{bucket}/copy.txt")
    copied = target.admin().get_object(Bucket=bucket, Key="copy.txt")
    assert copied["Body"].read() == body
    assert {k: copied["Metadata"][k] for k in METADATA} == METADATA

    s3cmd.run("del", f"s3://{bucket}/doc.txt")
    assert [o["Key"] for o in target.admin().list_objects_v2(Bucket=bucket)["Contents"]] == ["copy.txt"]
    s3cmd.run("del", "--recursive", "--force", f"s3://{bucket}/")  # DeleteObjects with Content-MD5
    assert target.admin().list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    s3cmd.run("rb", f"s3://{bucket}")


def test_s3cmd_lists_with_prefix_delimiter_and_pages(s3cmd: S3cmd, target: Target) -> None:
    bucket = target.new_bucket("s3cmd")
    target.admin().create_bucket(Bucket=bucket)
    target.create_tree(bucket)
    lines = s3cmd.run("ls", f"s3://{bucket}/tree/").stdout.splitlines()
    assert [line.split()[-1] for line in lines] == [
        f"s3://{bucket}/tree/a/", f"s3://{bucket}/tree/b/", f"s3://{bucket}/tree/c.txt", f"s3://{bucket}/tree/d.txt"]
    assert [line.split()[0] for line in lines[:2]] == ["DIR", "DIR"]
    recursive = s3cmd.run("ls", "--recursive", f"s3://{bucket}/").stdout.splitlines()
    assert [line.split()[-1] for line in recursive] == [f"s3://{bucket}/{k}" for k in sorted(TREE_KEYS)]
    paged = s3cmd.run("ls", "--recursive", f"s3://{target.paged_bucket}/").stdout.splitlines()
    assert len(paged) == PAGED_COUNT


def test_s3cmd_tricky_keys_round_trip_and_sigv2_signurl(s3cmd: S3cmd, target: Target, tmp_path: Path) -> None:
    bucket = target.new_bucket("s3cmd")
    target.admin().create_bucket(Bucket=bucket)
    up = tmp_path / "up"
    for key in TRICKY_KEYS:
        (up / key).parent.mkdir(parents=True, exist_ok=True)
        (up / key).write_bytes(key.encode())
    s3cmd.run("sync", f"{up}/", f"s3://{bucket}/")
    listed = target.admin().list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == sorted(TRICKY_KEYS)
    down = tmp_path / "down"
    s3cmd.run("sync", f"s3://{bucket}/", f"{down}/")
    for key in TRICKY_KEYS:
        assert (down / key).read_bytes() == key.encode()
    for key in TRICKY_KEYS:
        url = s3cmd.run("signurl", f"s3://{bucket}/{key}", "+300").stdout.strip()
        assert "Signature=" in url and "X-Amz-Signature" not in url  # SigV2 query authentication
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.read() == key.encode()


def test_s3cmd_wrong_secret_gets_signature_does_not_match(target: Target, tmp_path: Path) -> None:
    s3cmd = S3cmd(target, tmp_path / "home", secret=WRONG_SECRET)
    listing = s3cmd.run("ls", check=False)
    assert listing.returncode != 0
    assert "SignatureDoesNotMatch" in listing.stderr
    src = tmp_path / "x.txt"
    src.write_bytes(b"x")
    put = s3cmd.run("put", str(src), f"s3://{target.scratch_bucket}/nope", check=False)
    assert put.returncode != 0
    assert "SignatureDoesNotMatch" in put.stderr
    assert target.admin().list_objects_v2(Bucket=target.scratch_bucket, Prefix="nope")["KeyCount"] == 0


def test_s3cmd_multipart_upload_round_trips(s3cmd: S3cmd, target: Target, big_file: Path, tmp_path: Path) -> None:
    bucket = target.new_bucket("s3cmd")
    target.admin().create_bucket(Bucket=bucket)
    s3cmd.run("put", str(big_file), f"s3://{bucket}/big.bin")
    head = target.admin().head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == MULTIPART_SIZE
    assert head["ETag"].endswith('-2"')  # 15 MiB parts: s3cmd used multipart
    out = tmp_path / "back.bin"
    s3cmd.run("get", f"s3://{bucket}/big.bin", str(out))
    assert sha256_file(out) == sha256_file(big_file)
