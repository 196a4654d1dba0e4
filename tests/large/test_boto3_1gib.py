"""Issue 4, done when: boto3 upload_file / download_file of a 1 GiB file (16 MiB parts, 8 threads) against a
real `smarts3 serve` process round-trips byte for byte, and the server's peak RSS stays under 200 MiB.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from largekit import (
    Figures,
    GiB,
    MiB,
    RssSampler,
    ServerProcess,
    hwm_mib,
    require_free_space,
    sha256_file,
    write_test_file,
)

pytestmark = pytest.mark.slow

SIZE = 1 * GiB
PART = 16 * MiB
RSS_LIMIT_MIB = 200.0


def test_boto3_round_trips_1_gib_in_16_mib_parts_with_server_rss_under_200_mib(
    workdir: Path, server: ServerProcess, figures: Figures
) -> None:
    # source, parts, assembled object and download coexist for a moment
    require_free_space(workdir, 4 * GiB)
    source = write_test_file(workdir / "source.bin", SIZE, PART)
    s3 = server.client()
    s3.create_bucket(Bucket="large")
    transfer = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=8)
    complete_times: list[float] = []
    s3.meta.events.register(
        "before-call.s3.CompleteMultipartUpload", lambda **_: complete_times.append(time.monotonic())
    )
    s3.meta.events.register(
        "after-call.s3.CompleteMultipartUpload", lambda **_: complete_times.append(time.monotonic())
    )

    with RssSampler(server.pid) as upload_rss:
        started = time.monotonic()
        s3.upload_file(str(source.path), "large", "one-gib.bin", Config=transfer)
        upload_s = time.monotonic() - started
    upload_hwm = hwm_mib(server.pid)

    head = s3.head_object(Bucket="large", Key="one-gib.bin")
    assert head["ContentLength"] == SIZE
    assert re.fullmatch(r'"[0-9a-f]{32}-64"', head["ETag"])
    assert head["ETag"] == source.multipart_etag
    # nothing of the upload is left behind: parts are gone once the object is assembled
    assert s3.list_multipart_uploads(Bucket="large").get("Uploads", []) == []
    stored = sum(p.stat().st_size for p in server.data_dir.rglob("*") if p.is_file())
    assert SIZE <= stored < SIZE + 16 * MiB, f"{stored} bytes on disk for one 1 GiB object"
    complete_s = complete_times[1] - complete_times[0]

    download = workdir / "download.bin"
    with RssSampler(server.pid) as download_rss:
        started = time.monotonic()
        s3.download_file("large", "one-gib.bin", str(download), Config=transfer)
        download_s = time.monotonic() - started
    download_hwm = hwm_mib(server.pid)

    assert download.stat().st_size == SIZE
    assert sha256_file(download) == source.sha256, "the downloaded file differs from the uploaded one"

    figures.add(
        f"upload {SIZE / MiB / upload_s:.0f} MiB/s ({upload_s:.1f} s, of which Complete {complete_s:.1f} s), peak RSS {upload_rss.peak:.0f} MiB "
        f"(VmHWM {upload_hwm:.0f} MiB, {upload_rss.samples} samples); download {SIZE / MiB / download_s:.0f} "
        f"MiB/s ({download_s:.1f} s), peak RSS {download_rss.peak:.0f} MiB (VmHWM {download_hwm:.0f} MiB)"
    )
    # one process: VmHWM of the server pid covers everything it ever held
    assert upload_rss.processes == download_rss.processes == 1, "the server forked: sum its children's RSS"
    assert upload_rss.peak < RSS_LIMIT_MIB and upload_hwm < RSS_LIMIT_MIB, (
        f"server RSS during the 1 GiB upload: peak sample {upload_rss.peak:.0f} MiB, VmHWM {upload_hwm:.0f} MiB"
    )
    assert download_rss.peak < RSS_LIMIT_MIB and download_hwm < RSS_LIMIT_MIB, (
        f"server RSS during the 1 GiB download: peak sample {download_rss.peak:.0f} MiB, "
        f"VmHWM {download_hwm:.0f} MiB"
    )
