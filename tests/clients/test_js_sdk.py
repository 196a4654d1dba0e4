"""The AWS SDK for JavaScript v3 (@aws-sdk/client-s3, lib-storage, s3-request-presigner), default settings.

Since 3.729 the SDK sends stream bodies aws-chunked with an ``x-amz-checksum-crc32`` trailer even over plain
HTTP, and DeleteObjects with a checksum header instead of Content-MD5. ``node/scenario.mjs`` runs every step and
reports what it saw; this test asserts on the report. Installed by ``npm ci`` in ``tests/clients/node``.
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
    require_executable,
    sha256_file,
)

pytestmark = pytest.mark.clients

NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="module")
def report(http_target: Target, big_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    node = require_executable("node")
    if not (NODE_DIR / "node_modules" / "@aws-sdk" / "client-s3").is_dir():
        pytest.fail("the JS SDK is not installed: run scripts/install-clients.sh (npm ci)", pytrace=False)
    tmp = tmp_path_factory.mktemp("js")
    small = tmp / "small.bin"
    small.write_bytes(bytes(range(256)) * 300)
    target = http_target
    env = isolated_env(
        tmp / "home",
        S3_ENDPOINT=target.endpoint,
        S3_ACCESS_KEY=target.server.access_key,
        S3_SECRET_KEY=target.server.secret_key,
        S3_WRONG_SECRET=WRONG_SECRET,
        S3_REGION=target.server.region,
        S3_BUCKET=target.new_bucket("js"),
        S3_PAGED_BUCKET=target.paged_bucket,
        S3_BIG_FILE=str(big_file),
        S3_SMALL_FILE=str(small),
        S3_TREE_KEYS=json.dumps(TREE_KEYS),
        S3_TRICKY_KEYS=json.dumps(TRICKY_KEYS),
    )
    proc = subprocess.run([node, "scenario.mjs"], cwd=NODE_DIR, env=env, capture_output=True, timeout=180,
                          check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    data: dict[str, Any] = json.loads(proc.stdout)
    data["_small_sha256"] = sha256_file(small)
    data["_small_size"] = small.stat().st_size
    data["_big_sha256"] = sha256_file(big_file)
    return data


def test_js_sdk_put_head_get_range_copy(report: dict[str, Any]) -> None:
    assert report["createBucket"] == 200
    assert report["putString"] == "ok"
    assert report["head"] == {"length": len("hello from the JS SDK\n") * 300, "type": "text/plain",
                              "metadata": METADATA}
    assert report["get"] is True
    assert report["range"] == {"contentRange": f"bytes 6-15/{report['head']['length']}", "body": "from the J"}
    assert report["copy"] == {"length": report["head"]["length"], "metadata": METADATA}


def test_js_sdk_stream_body_with_crc32_trailer_is_stored_without_framing(report: dict[str, Any]) -> None:
    assert report["putStream"] == {"size": report["_small_size"], "sha256": report["_small_sha256"]}


def test_js_sdk_lists_with_prefix_delimiter_and_pages(report: dict[str, Any]) -> None:
    assert report["delimited"] == {"prefixes": TREE_PREFIXES, "keys": TREE_FILES}
    tree = sorted(k for k in TREE_KEYS if k.startswith("tree/"))
    assert report["pagedBy2"] == {"pages": 3, "keys": tree}
    assert report["pagedDefault"] == {"pages": 2, "count": PAGED_COUNT}


def test_js_sdk_tricky_keys_round_trip_and_presigned_get(report: dict[str, Any]) -> None:
    tricky = report["tricky"]
    assert tricky["listed"] == sorted(TRICKY_KEYS)
    assert tricky["bodies"] == list(TRICKY_KEYS)
    assert tricky["presigned"] == [{"status": 200, "body": key, "sigv4": True} for key in TRICKY_KEYS]
    assert tricky["copied"] == TRICKY_KEYS[-1]


def test_js_sdk_delete_and_delete_objects(report: dict[str, Any]) -> None:
    deleted = report["delete"]
    assert deleted["deleted"] == ["absent", "copy.txt", "stream.bin"]
    assert deleted["errors"] == []
    assert "doc.txt" not in deleted["left"]


def test_js_sdk_lib_storage_multipart_round_trips(report: dict[str, Any]) -> None:
    multipart = report["multipart"]
    assert multipart["parts"] == 5  # lib-storage's 5 MiB parts
    assert multipart["etag"].endswith('-5"')
    assert multipart["length"] == MULTIPART_SIZE
    assert multipart["metadata"] == {"color": "blue"}
    assert multipart["sha256"] == report["_big_sha256"]


def test_js_sdk_wrong_secret_gets_signature_does_not_match(report: dict[str, Any]) -> None:
    assert report["wrongSecret"] == [{"error": "SignatureDoesNotMatch", "status": 403}] * 2
