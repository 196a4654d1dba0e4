"""The MinIO Python SDK with default settings, over HTTP and HTTPS.

minio-py signs bodies with their SHA-256 over HTTP and as UNSIGNED-PAYLOAD over HTTPS, parses every XML answer
strictly (an HTML entity in a listing breaks it) and presigns with SigV4.
"""

from __future__ import annotations

import io
import ssl
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import urllib3
from minio import Minio
from minio.commonconfig import CopySource
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from clientkit import (
    METADATA,
    MULTIPART_SIZE,
    PAGED_COUNT,
    TREE_FILES,
    TREE_PREFIXES,
    TRICKY_KEYS,
    WRONG_SECRET,
    Target,
    sha256_file,
)

pytestmark = pytest.mark.clients


def _client(target: Target, secret: str | None = None) -> Minio:
    http_client = None
    if target.ca_file is not None:
        http_client = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(target.ca_file))
    return Minio(target.host_port, access_key=target.server.access_key,
                 secret_key=secret or target.server.secret_key, secure=target.https, http_client=http_client)


def _urlopen(url: str, target: Target) -> bytes:
    context = ssl.create_default_context(cafile=str(target.ca_file)) if target.ca_file else None
    with urllib.request.urlopen(url, context=context, timeout=10) as resp:
        return resp.read()  # type: ignore[no-any-return]


def _user_metadata(headers: object) -> dict[str, str]:
    items = headers.items()  # type: ignore[attr-defined]
    return {k.lower()[len("x-amz-meta-"):]: v for k, v in items if k.lower().startswith("x-amz-meta-")}


def test_minio_object_round_trip(target: Target) -> None:
    mc = _client(target)
    bucket = target.new_bucket("minio")
    mc.make_bucket(bucket)
    assert mc.bucket_exists(bucket)
    body = b"hello from minio-py\n" * 400
    mc.put_object(bucket, "doc.txt", io.BytesIO(body), len(body), content_type="text/plain", metadata=METADATA)

    stat = mc.stat_object(bucket, "doc.txt")
    assert stat.size == len(body)
    assert stat.content_type == "text/plain"
    assert _user_metadata(stat.metadata) == METADATA

    assert mc.get_object(bucket, "doc.txt").read() == body
    assert mc.get_object(bucket, "doc.txt", offset=6, length=10).read() == body[6:16]

    mc.copy_object(bucket, "copy.txt", CopySource(bucket, "doc.txt"))
    assert mc.get_object(bucket, "copy.txt").read() == body
    assert _user_metadata(mc.stat_object(bucket, "copy.txt").metadata) == METADATA

    mc.remove_object(bucket, "doc.txt")
    with pytest.raises(S3Error) as err:
        mc.stat_object(bucket, "doc.txt")
    assert err.value.code == "NoSuchKey"
    errors = list(mc.remove_objects(bucket, [DeleteObject("copy.txt"), DeleteObject("absent")]))
    assert errors == []
    assert list(mc.list_objects(bucket, recursive=True)) == []
    mc.remove_bucket(bucket)
    assert not mc.bucket_exists(bucket)


def test_minio_lists_with_prefix_delimiter_and_pages(target: Target) -> None:
    mc = _client(target)
    bucket = target.new_bucket("minio")
    mc.make_bucket(bucket)
    target.create_tree(bucket)
    entries = list(mc.list_objects(bucket, prefix="tree/"))  # not recursive: delimiter "/"
    assert [e.object_name for e in entries if e.is_dir] == TREE_PREFIXES
    assert [e.object_name for e in entries if not e.is_dir] == TREE_FILES
    v1 = list(mc.list_objects(bucket, prefix="tree/", use_api_v1=True))
    assert sorted(e.object_name for e in v1) == TREE_PREFIXES + TREE_FILES
    start_after = list(mc.list_objects(bucket, prefix="tree/", recursive=True, start_after="tree/b/1.txt"))
    assert [e.object_name for e in start_after] == TREE_FILES
    paged = list(mc.list_objects(target.paged_bucket, recursive=True))
    assert len(paged) == PAGED_COUNT
    assert [e.object_name for e in paged] == sorted(e.object_name for e in paged)


def test_minio_tricky_keys_round_trip_and_presigned_get(target: Target) -> None:
    mc = _client(target)
    bucket = target.new_bucket("minio")
    mc.make_bucket(bucket)
    for key in TRICKY_KEYS:
        mc.put_object(bucket, key, io.BytesIO(key.encode()), len(key.encode()))
    listed = [e.object_name for e in mc.list_objects(bucket, recursive=True)]
    assert listed == sorted(TRICKY_KEYS)
    for key in TRICKY_KEYS:
        assert mc.get_object(bucket, key).read() == key.encode()
        url = mc.presigned_get_object(bucket, key, expires=timedelta(minutes=5))
        assert "X-Amz-Signature=" in url
        assert _urlopen(url, target) == key.encode()
    # an error document naming a unicode key must be UTF-8 XML minio-py can parse (no HTML entities)
    with pytest.raises(S3Error) as err:
        mc.get_object(bucket, "missing/ünïcödé & ü.txt")
    assert err.value.code == "NoSuchKey"
    mc.copy_object(bucket, "copied/" + TRICKY_KEYS[0], CopySource(bucket, TRICKY_KEYS[-1]))
    assert mc.get_object(bucket, "copied/" + TRICKY_KEYS[0]).read() == TRICKY_KEYS[-1].encode()


def test_minio_wrong_secret_gets_signature_does_not_match(target: Target) -> None:
    mc = _client(target, secret=WRONG_SECRET)
    with pytest.raises(S3Error) as err:
        mc.list_buckets()
    assert err.value.code == "SignatureDoesNotMatch"
    with pytest.raises(S3Error) as put_err:
        mc.put_object(target.scratch_bucket, "nope", io.BytesIO(b"x"), 1)
    assert put_err.value.code == "SignatureDoesNotMatch"
    assert target.admin().list_objects_v2(Bucket=target.scratch_bucket, Prefix="nope")["KeyCount"] == 0


def test_minio_multipart_upload_round_trips(target: Target, big_file: Path, tmp_path: Path) -> None:
    mc = _client(target)
    bucket = target.new_bucket("minio")
    mc.make_bucket(bucket)
    result = mc.fput_object(bucket, "big.bin", str(big_file), metadata=METADATA)
    assert result.etag is not None
    stat = mc.stat_object(bucket, "big.bin")
    assert stat.size == MULTIPART_SIZE
    assert stat.etag is not None and stat.etag.endswith("-5")  # 5 MiB parts: minio-py used multipart
    assert _user_metadata(stat.metadata) == METADATA
    out = tmp_path / "back.bin"
    mc.fget_object(bucket, "big.bin", str(out))
    assert sha256_file(out) == sha256_file(big_file)
