"""s3fs (fsspec over aiobotocore) with default settings, over HTTP and HTTPS.

Like boto3, s3fs sends CRC32 checksums in a header over HTTP and aws-chunked bodies with trailers over HTTPS.
It runs in its own virtualenv (``tests/clients/.venv-s3fs``, made by ``scripts/install-clients.sh``) because
aiobotocore pins an older botocore than the newest boto3 tested here; ``s3fs_scenario.py`` does the work.
"""

from __future__ import annotations

import json
import subprocess
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

HERE = Path(__file__).parent
S3FS_PYTHON = HERE / ".venv-s3fs" / "bin" / "python"


@pytest.fixture(scope="module", params=["http", "https"])
def report(request: pytest.FixtureRequest, big_file: Path,
           tmp_path_factory: pytest.TempPathFactory) -> tuple[Target, dict[str, Any]]:
    if not S3FS_PYTHON.exists():
        pytest.fail("s3fs is not installed: run scripts/install-clients.sh", pytrace=False)
    target: Target = request.getfixturevalue(f"{request.param}_target")
    bucket = target.new_bucket("s3fs")
    spec = {
        "endpoint": target.endpoint,
        "region": target.server.region,
        "ca_file": str(target.ca_file) if target.ca_file else None,
        "access_key": target.server.access_key,
        "secret_key": target.server.secret_key,
        "wrong_secret": WRONG_SECRET,
        "bucket": bucket,
        "paged_bucket": target.paged_bucket,
        "metadata": METADATA,
        "tree_keys": list(TREE_KEYS),
        "tricky_keys": list(TRICKY_KEYS),
        "big_file": str(big_file),
    }
    env = isolated_env(tmp_path_factory.mktemp("s3fs-home"))
    proc = subprocess.run([str(S3FS_PYTHON), str(HERE / "s3fs_scenario.py"), json.dumps(spec)], env=env,
                          capture_output=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    data: dict[str, Any] = json.loads(proc.stdout)
    data["_bucket"] = bucket
    data["_big_sha256"] = sha256_file(big_file)
    return target, data


def test_s3fs_put_head_get_range_copy_presign(report: tuple[Target, dict[str, Any]]) -> None:
    _, data = report
    size = len(b"hello from s3fs\n") * 700
    assert data["head"] == {"size": size, "type": "text/plain", "metadata": METADATA}
    assert data["get"] is True
    assert data["range"] == "from s3fs\n"
    assert data["seek_read"] is True
    assert data["copy"] == {"same": True, "metadata": METADATA}
    assert data["presigned"] is True


def test_s3fs_lists_with_prefix_delimiter_and_pages(report: tuple[Target, dict[str, Any]]) -> None:
    _, data = report
    bucket = data["_bucket"]
    assert data["delimited"] == {
        "dirs": [f"{bucket}/{p.rstrip('/')}" for p in TREE_PREFIXES],
        "files": [f"{bucket}/{k}" for k in TREE_FILES],
    }
    assert data["paged"] == PAGED_COUNT


def test_s3fs_tricky_keys_round_trip_and_presigned_get(report: tuple[Target, dict[str, Any]]) -> None:
    _, data = report
    assert data["tricky_listed"] == sorted(TRICKY_KEYS)
    assert data["tricky_bodies"] == list(TRICKY_KEYS)
    assert data["tricky_presigned"] == list(TRICKY_KEYS)


def test_s3fs_delete_and_delete_objects(report: tuple[Target, dict[str, Any]]) -> None:
    _, data = report
    assert data["deleted_exists"] is False
    assert data["left_after_rm"] == []


def test_s3fs_multipart_upload_round_trips(report: tuple[Target, dict[str, Any]]) -> None:
    _, data = report
    assert data["multipart"]["size"] == MULTIPART_SIZE
    assert data["multipart"]["etag"].endswith('-5"')
    assert data["multipart"]["sha256"] == data["_big_sha256"]


def test_s3fs_wrong_secret_gets_signature_does_not_match(report: tuple[Target, dict[str, Any]]) -> None:
    target, data = report
    assert len(data["wrong_secret"]) == 2
    for error in data["wrong_secret"]:
        assert error is not None and error.startswith("PermissionError: SignatureDoesNotMatch: ")
    assert target.admin().list_objects_v2(Bucket=data["_bucket"], Prefix="nope")["KeyCount"] == 0
