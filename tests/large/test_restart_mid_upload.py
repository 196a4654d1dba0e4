"""Issue 4, done when: a multipart upload survives a server restart and can be finished after it."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from largekit import (
    Figures,
    MiB,
    ServerProcess,
    require_free_space,
    sha256_file,
    start_server,
    write_test_file,
)

pytestmark = pytest.mark.slow

PART = 8 * MiB
PARTS = 6
SIZE = PARTS * PART - 3 * MiB - 12345  # the last part is shorter, as in real uploads


def test_upload_started_before_a_restart_lists_its_parts_and_completes_after_it(
    workdir: Path, server: ServerProcess, figures: Figures
) -> None:
    require_free_space(workdir, 1024 * MiB)
    started = time.monotonic()
    source = write_test_file(workdir / "source.bin", SIZE, PART)
    with source.path.open("rb") as handle:
        parts = [handle.read(PART) for _ in range(PARTS)]
    s3 = server.client()
    s3.create_bucket(Bucket="restart")
    upload_id = s3.create_multipart_upload(
        Bucket="restart",
        Key="resumed.bin",
        ContentType="application/x-test",
        Metadata={"phase": "before-restart"},
    )["UploadId"]
    first_half = PARTS // 2
    etags: dict[int, str] = {}
    for number in range(1, first_half + 1):
        etags[number] = s3.upload_part(
            Bucket="restart", Key="resumed.bin", UploadId=upload_id, PartNumber=number, Body=parts[number - 1]
        )["ETag"]

    assert server.stop() == 0, f"smarts3 did not exit cleanly on SIGTERM:\n{server.output()}"
    restarted = start_server(server.data_dir, workdir, name="restarted")
    try:
        s3 = restarted.client()
        listed = s3.list_parts(Bucket="restart", Key="resumed.bin", UploadId=upload_id)
        assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed["Parts"]] == [
            (n, f'"{hashlib.md5(parts[n - 1]).hexdigest()}"', PART) for n in range(1, first_half + 1)
        ]
        assert [p["ETag"] for p in listed["Parts"]] == [etags[n] for n in range(1, first_half + 1)]
        uploads = s3.list_multipart_uploads(Bucket="restart")["Uploads"]
        assert [(u["Key"], u["UploadId"]) for u in uploads] == [("resumed.bin", upload_id)]

        for number in range(first_half + 1, PARTS + 1):
            etags[number] = s3.upload_part(
                Bucket="restart",
                Key="resumed.bin",
                UploadId=upload_id,
                PartNumber=number,
                Body=parts[number - 1],
            )["ETag"]
        done = s3.complete_multipart_upload(
            Bucket="restart",
            Key="resumed.bin",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etags[n]} for n in range(1, PARTS + 1)]},
        )
        assert done["ETag"] == source.multipart_etag

        download = workdir / "download.bin"
        s3.download_file("restart", "resumed.bin", str(download))
        assert sha256_file(download) == source.sha256
        head = s3.head_object(Bucket="restart", Key="resumed.bin")
        # what CreateMultipartUpload said before the restart is what the object carries
        assert head["ContentType"] == "application/x-test"
        assert head["Metadata"] == {"phase": "before-restart"}
        assert head["ETag"] == source.multipart_etag
    finally:
        exit_code = restarted.stop()
    assert exit_code == 0, f"the restarted smarts3 did not exit cleanly:\n{restarted.output()}"
    figures.add(f"{SIZE / MiB:.0f} MiB in {PARTS} parts across a restart: {time.monotonic() - started:.1f} s")
