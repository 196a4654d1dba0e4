"""Streams, not buffers: the server's memory for one PUT or GET does not grow with the body size.

A 16 MiB and then a 512 MiB single-request PUT and GET go through a real server; its peak RSS while serving
the big ones may exceed the peak while serving the small ones by less than 50 MiB (a server that buffered
bodies would grow by about 500 MiB).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest

from largekit import Figures, MiB, RssSampler, ServerProcess, hwm_mib, require_free_space, write_test_file

pytestmark = pytest.mark.slow

SMALL = 16 * MiB
LARGE = 512 * MiB
GROWTH_LIMIT_MIB = 50.0


def _put_then_get(s3: Any, source: Path, key: str) -> tuple[str, float, float]:
    """Single PUT of ``source``, then a streamed GET; returns (sha256 read back, put s, get s)."""
    started = time.monotonic()
    with source.open("rb") as body:
        s3.put_object(Bucket="memory", Key=key, Body=body)
    put_s = time.monotonic() - started
    started = time.monotonic()
    digest = hashlib.sha256()
    for chunk in s3.get_object(Bucket="memory", Key=key)["Body"].iter_chunks(MiB):
        digest.update(chunk)
    return digest.hexdigest(), put_s, time.monotonic() - started


def test_single_put_and_get_of_512_mib_use_no_more_server_memory_than_16_mib(
    workdir: Path, server: ServerProcess, figures: Figures
) -> None:
    require_free_space(workdir, 2 * LARGE + 256 * MiB)
    small = write_test_file(workdir / "small.bin", SMALL, SMALL)
    large = write_test_file(workdir / "large.bin", LARGE, 16 * MiB)
    s3 = server.client()
    s3.create_bucket(Bucket="memory")

    with RssSampler(server.pid) as small_rss:
        small_sha, _, _ = _put_then_get(s3, small.path, "small.bin")
    small_hwm = hwm_mib(server.pid)
    assert small_sha == small.sha256

    with RssSampler(server.pid) as large_rss:
        large_sha, put_s, get_s = _put_then_get(s3, large.path, "large.bin")
    large_hwm = hwm_mib(server.pid)
    assert large_sha == large.sha256, "the 512 MiB object read back differs from what was put"

    growth = large_rss.peak - small_rss.peak
    figures.add(
        f"peak RSS 16 MiB PUT+GET {small_rss.peak:.0f} MiB (VmHWM {small_hwm:.0f}), 512 MiB PUT+GET "
        f"{large_rss.peak:.0f} MiB (VmHWM {large_hwm:.0f}), growth {growth:.0f} MiB; 512 MiB PUT "
        f"{LARGE / MiB / put_s:.0f} MiB/s, GET {LARGE / MiB / get_s:.0f} MiB/s"
    )
    assert large_rss.processes == 1, "the server forked: sum its children's RSS"
    assert growth < GROWTH_LIMIT_MIB, (
        f"server RSS grew by {growth:.0f} MiB from a 16 MiB to a 512 MiB PUT/GET: bodies are buffered"
    )
    assert large_hwm - small_hwm < GROWTH_LIMIT_MIB
