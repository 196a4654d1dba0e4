"""After a big transfer the server gives freed buffers back to the system (memory.trim_soon -> malloc_trim)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from smarts3.entrypoints import memory
from smarts3.testing import running_server


async def test_trim_soon_calls_malloc_trim_once_after_its_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(memory, "_malloc_trim", calls.append)
    monkeypatch.setattr(memory, "_trim_pending", False)
    for _ in range(5):  # a burst of big transfers asks for one trim
        memory.trim_soon(delay=0.05)
    assert calls == []
    await asyncio.sleep(0.3)
    assert calls == [0]
    memory.trim_soon(delay=0.01)  # and the next burst for another
    await asyncio.sleep(0.2)
    assert calls == [0, 0]


async def test_without_glibc_tuning_trim_soon_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_malloc_trim", None)
    monkeypatch.setattr(memory, "_trim_pending", False)
    memory.trim_soon(delay=0.01)
    await asyncio.sleep(0.05)
    assert memory._trim_pending is False


def test_tune_malloc_finds_malloc_trim_on_glibc() -> None:
    if not memory.tune_malloc():
        pytest.skip("not glibc")
    assert memory._malloc_trim is not None


def test_a_big_get_through_the_fast_lane_asks_for_a_trim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(memory, "_malloc_trim", calls.append)
    monkeypatch.setattr(memory, "_trim_pending", False)
    with running_server(data_dir=tmp_path / "data") as server:
        s3 = server.client()
        s3.create_bucket(Bucket="trim")
        s3.put_object(Bucket="trim", Key="small", Body=b"x")
        s3.get_object(Bucket="trim", Key="small")["Body"].read()
        time.sleep(1.3)
        assert calls == []  # small transfers do not
        s3.put_object(Bucket="trim", Key="big", Body=b"x" * memory.BIG_TRANSFER)
        time.sleep(1.3)
        assert calls == [0]  # the upload
        assert len(s3.get_object(Bucket="trim", Key="big")["Body"].read()) == memory.BIG_TRANSFER
        deadline = time.monotonic() + 5
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert calls == [0, 0]  # and the download, served by fast_read
