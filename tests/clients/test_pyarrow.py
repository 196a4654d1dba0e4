"""pyarrow's ``pyarrow.fs.S3FileSystem`` (the AWS SDK for C++) with default settings, over HTTP and HTTPS.

Arrow sends every write aws-chunked with an ``x-amz-checksum-crc64nvme`` trailer even over plain HTTP (a
server that stores the framing corrupts every object), writes above its part size as multipart, and sends
DeleteObjects with a checksum header. It has no presigning. ``allow_bucket_creation=True`` is the one switch
turned on: Arrow refuses to create buckets without it.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs
import pytest

from clientkit import (
    MULTIPART_SIZE,
    PAGED_COUNT,
    TREE_FILES,
    TREE_KEYS,
    TREE_PREFIXES,
    TRICKY_KEYS,
    WRONG_SECRET,
    Target,
    sha256_file,
)

pytestmark = pytest.mark.clients


def _fs(target: Target, secret: str | None = None) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(
        access_key=target.server.access_key,
        secret_key=secret or target.server.secret_key,
        region=target.server.region,
        scheme="https" if target.https else "http",
        endpoint_override=target.host_port,
        tls_ca_file_path=str(target.ca_file) if target.ca_file else None,
        allow_bucket_creation=True,
        allow_bucket_deletion=True,
    )


def _names(infos: list[pafs.FileInfo], kind: pafs.FileType) -> list[str]:
    return sorted(info.path for info in infos if info.type == kind)


def test_pyarrow_object_round_trip(target: Target) -> None:
    fs = _fs(target)
    bucket = target.new_bucket("pyarrow")
    fs.create_dir(bucket)
    body = b"hello from pyarrow\n" * 600
    with fs.open_output_stream(f"{bucket}/doc.txt", metadata={"Content-Type": "text/plain"}) as out:
        out.write(body)

    info = fs.get_file_info(f"{bucket}/doc.txt")
    assert info.type == pafs.FileType.File
    assert info.size == len(body)
    with fs.open_input_stream(f"{bucket}/doc.txt") as stream:
        assert stream.read() == body
        assert stream.metadata()["Content-Type"] == b"text/plain"  # Arrow passes no x-amz-meta-* through
    with fs.open_input_file(f"{bucket}/doc.txt") as random_access:
        assert random_access.read_at(10, 6) == body[6:16]  # a ranged GET

    fs.copy_file(f"{bucket}/doc.txt", f"{bucket}/copy.txt")
    with fs.open_input_stream(f"{bucket}/copy.txt") as stream:
        assert stream.read() == body

    fs.delete_file(f"{bucket}/doc.txt")
    assert fs.get_file_info(f"{bucket}/doc.txt").type == pafs.FileType.NotFound
    fs.delete_dir_contents(bucket)  # DeleteObjects with a checksum header, no Content-MD5
    assert target.admin().list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    fs.delete_dir(bucket)
    assert fs.get_file_info(bucket).type == pafs.FileType.NotFound


def test_pyarrow_lists_with_prefix_delimiter_and_pages(target: Target) -> None:
    fs = _fs(target)
    bucket = target.new_bucket("pyarrow")
    target.admin().create_bucket(Bucket=bucket)
    target.create_tree(bucket)
    shallow = fs.get_file_info(pafs.FileSelector(f"{bucket}/tree", recursive=False))
    assert _names(shallow, pafs.FileType.Directory) == [f"{bucket}/{p.rstrip('/')}" for p in TREE_PREFIXES]
    assert _names(shallow, pafs.FileType.File) == [f"{bucket}/{k}" for k in TREE_FILES]
    deep = fs.get_file_info(pafs.FileSelector(bucket, recursive=True))
    assert _names(deep, pafs.FileType.File) == [f"{bucket}/{k}" for k in sorted(TREE_KEYS)]
    paged = fs.get_file_info(pafs.FileSelector(f"{target.paged_bucket}/p", recursive=True))
    assert len(paged) == PAGED_COUNT


def test_pyarrow_tricky_keys_round_trip(target: Target) -> None:
    fs = _fs(target)
    bucket = target.new_bucket("pyarrow")
    target.admin().create_bucket(Bucket=bucket)
    for key in TRICKY_KEYS:
        with fs.open_output_stream(f"{bucket}/{key}") as out:
            out.write(key.encode())
    listed = target.admin().list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == sorted(TRICKY_KEYS)
    infos = fs.get_file_info(pafs.FileSelector(bucket, recursive=True))
    assert _names(infos, pafs.FileType.File) == [f"{bucket}/{k}" for k in sorted(TRICKY_KEYS)]
    for key in TRICKY_KEYS:
        with fs.open_input_stream(f"{bucket}/{key}") as stream:
            assert stream.read() == key.encode()
    fs.copy_file(f"{bucket}/{TRICKY_KEYS[-1]}", f"{bucket}/copied/{TRICKY_KEYS[0]}")
    with fs.open_input_stream(f"{bucket}/copied/{TRICKY_KEYS[0]}") as stream:
        assert stream.read() == TRICKY_KEYS[-1].encode()


def test_pyarrow_wrong_secret_gets_signature_does_not_match(target: Target) -> None:
    fs = _fs(target, secret=WRONG_SECRET)
    with pytest.raises(OSError, match="SIGNATURE_DOES_NOT_MATCH"):
        fs.get_file_info(pafs.FileSelector(target.scratch_bucket, recursive=True))
    with pytest.raises(OSError, match="SIGNATURE_DOES_NOT_MATCH"), \
            fs.open_output_stream(f"{target.scratch_bucket}/nope") as out:
        out.write(b"x")
    assert target.admin().list_objects_v2(Bucket=target.scratch_bucket, Prefix="nope")["KeyCount"] == 0


def test_pyarrow_multipart_upload_round_trips(target: Target, big_file: Path, tmp_path: Path) -> None:
    fs = _fs(target)
    bucket = target.new_bucket("pyarrow")
    target.admin().create_bucket(Bucket=bucket)
    with fs.open_output_stream(f"{bucket}/big.bin") as out, big_file.open("rb") as src:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            out.write(chunk)
    head = target.admin().head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == MULTIPART_SIZE
    assert "-" in head["ETag"]  # Arrow switched to multipart
    back = tmp_path / "back.bin"
    with fs.open_input_stream(f"{bucket}/big.bin") as stream, back.open("wb") as dst:
        while chunk := stream.read(1 << 20):
            dst.write(chunk)
    assert sha256_file(back) == sha256_file(big_file)
