"""Issue 4: parts upload in parallel (8 at once, like boto3's TransferConfig) without locking each other out.

Each part body is sent at a fixed pace (a slice, then a pause) through a presigned UploadPart URL, so a part
takes a known wall time whatever the load of the machine: 8 parts that do not wait on each other finish in
about the time of one; parts serialised by a lock anywhere on their path take about 8 times as long. A
CPU-bound comparison would measure the core count instead (this runs on 2 shared cores in CI).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import http.client
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from largekit import Figures, MiB, ServerProcess

pytestmark = pytest.mark.slow

PART = 8 * MiB
PARALLEL = 8
SLICES = 16
PAUSE = 0.04  # seconds after each of the 16 slices: a part takes at least ~0.6 s


def _paced(body: bytes) -> Iterator[bytes]:
    step = len(body) // SLICES
    for offset in range(0, len(body), step):
        yield body[offset : offset + step]
        time.sleep(PAUSE)


def _put_part(url: str, body: bytes) -> tuple[int, str, float]:
    """PUT one part body at the fixed pace; returns (status, ETag, seconds)."""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=60)
    started = time.monotonic()
    try:
        connection.request(
            "PUT",
            f"{parsed.path}?{parsed.query}",
            body=_paced(body),
            headers={"Content-Length": str(len(body))},
        )
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("ETag", ""), time.monotonic() - started
    finally:
        connection.close()


def test_eight_parts_uploaded_at_once_do_not_wait_for_each_other(
    workdir: Path, server: ServerProcess, figures: Figures
) -> None:
    s3 = server.client()
    s3.create_bucket(Bucket="parallel")
    upload_id = s3.create_multipart_upload(Bucket="parallel", Key="parts.bin")["UploadId"]
    bodies = {
        n: bytes([n]) * 8 + hashlib.sha256(bytes([n])).digest() * (PART // 32 - 1) + b"x" * 24
        for n in range(1, PARALLEL + 2)
    }
    assert all(len(body) == PART for body in bodies.values())

    def url(number: int) -> str:
        return str(
            s3.generate_presigned_url(
                "upload_part",
                ExpiresIn=600,
                Params={
                    "Bucket": "parallel",
                    "Key": "parts.bin",
                    "UploadId": upload_id,
                    "PartNumber": number,
                },
            )
        )

    # one part alone: the reference time (part PARALLEL + 1, also kept in the object)
    status, _, alone_s = _put_part(url(PARALLEL + 1), bodies[PARALLEL + 1])
    assert status == 200

    urls = {n: url(n) for n in range(1, PARALLEL + 1)}
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        futures = {n: pool.submit(_put_part, urls[n], bodies[n]) for n in urls}
        results = {n: future.result() for n, future in futures.items()}
    together_s = time.monotonic() - started

    assert {n: (r[0], r[1]) for n, r in results.items()} == {
        n: (200, f'"{hashlib.md5(bodies[n]).hexdigest()}"') for n in urls
    }
    figures.add(
        f"one paced 8 MiB part {alone_s:.2f} s, {PARALLEL} at once {together_s:.2f} s "
        f"({together_s / alone_s:.1f}x one part)"
    )
    assert together_s < 6 * alone_s, (
        f"{PARALLEL} parallel parts took {together_s:.2f} s, one part alone {alone_s:.2f} s: parts wait on each other"
    )

    # every part landed intact: the upload completes into the concatenation
    numbers = range(1, PARALLEL + 2)
    done = s3.complete_multipart_upload(
        Bucket="parallel",
        Key="parts.bin",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": f'"{hashlib.md5(bodies[n]).hexdigest()}"'} for n in numbers]
        },
    )
    md5s = b"".join(hashlib.md5(bodies[n]).digest() for n in numbers)
    assert done["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-{len(numbers)}"'
    whole = hashlib.sha256()
    for chunk in s3.get_object(Bucket="parallel", Key="parts.bin")["Body"].iter_chunks(MiB):
        whole.update(chunk)
    assert whole.hexdigest() == hashlib.sha256(b"".join(bodies[n] for n in numbers)).hexdigest()
