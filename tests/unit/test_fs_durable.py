"""Deferred durability: grouped directory fsyncs, and what a PUT with fsync on still fsyncs before it answers."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

from smarts3.adapters.storage.filesystem import FilesystemStorage, fsutil
from smarts3.adapters.storage.filesystem.durable import DirSyncs, Durable, LoopDirSyncs
from smarts3.adapters.storage.filesystem.objects import STAGED_SUFFIX
from smarts3.testing.contract.helpers import get, put

BUCKET = "bkt"


def test_concurrent_syncs_of_one_directory_share_fsyncs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts: list[float] = []

    def slow_fsync(path: Path | str) -> None:
        starts.append(time.monotonic())
        time.sleep(0.05)

    monkeypatch.setattr(fsutil, "fsync_dir", slow_fsync)
    syncs = DirSyncs()
    called: list[float] = []
    returned: list[float] = []
    lock = threading.Lock()

    def writer() -> None:
        at = time.monotonic()
        syncs.sync(str(tmp_path))
        with lock:
            called.append(at)
            returned.append(time.monotonic())

    threads = [threading.Thread(target=writer) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(returned) == 16
    assert len(starts) < 16, "concurrent callers must share fsyncs"
    # every caller returned after an fsync that started no earlier than its call had completed
    for at, back in zip(called, returned, strict=True):
        assert any(start >= at and start + 0.05 <= back + 1e-3 for start in starts)


def test_a_failed_directory_fsync_reaches_its_caller_and_the_next_one_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = [0]

    def flaky(path: Path | str) -> None:
        calls[0] += 1
        if calls[0] == 1:
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(fsutil, "fsync_dir", flaky)
    syncs = DirSyncs()
    with pytest.raises(OSError):
        syncs.sync(str(tmp_path))
    syncs.sync(str(tmp_path))
    assert calls[0] == 2


async def test_loop_syncs_of_one_directory_share_fsyncs_that_start_after_each_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the loop: sixteen writers, far fewer fsyncs, each writer released by one that started after it came."""
    starts: list[float] = []
    ends: list[float] = []

    def slow_fsync(path: Path | str) -> None:
        starts.append(time.monotonic())
        time.sleep(0.05)
        ends.append(time.monotonic())

    monkeypatch.setattr(fsutil, "fsync_dir", slow_fsync)
    syncs = LoopDirSyncs()

    async def writer(delay: float) -> tuple[float, float]:
        await asyncio.sleep(delay)
        at = time.monotonic()
        await syncs.sync([str(tmp_path)])
        return at, time.monotonic()

    results = await asyncio.gather(*(writer(i * 0.01) for i in range(16)))
    assert 2 <= len(starts) <= 6, starts  # sixteen callers over ~0.15 s share a handful of 50 ms fsyncs
    for at, back in results:
        assert any(start >= at and end <= back + 1e-3 for start, end in zip(starts, ends, strict=True))


async def test_a_failed_loop_fsync_reaches_its_waiters_and_the_next_one_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = [0]

    def flaky(path: Path | str) -> None:
        calls[0] += 1
        if calls[0] == 1:
            time.sleep(0.02)
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(fsutil, "fsync_dir", flaky)
    syncs = LoopDirSyncs()
    first = await asyncio.gather(syncs.sync([str(tmp_path)]), return_exceptions=True)
    assert isinstance(first[0], OSError)
    await syncs.sync([str(tmp_path), str(tmp_path / "other")])  # a fresh fsync for each directory
    assert calls[0] == 3


def test_durable_syncs_each_directory_once_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    monkeypatch.setattr(fsutil, "fsync_dir", lambda path: synced.append(str(path)))
    owed = Durable()
    for name in ("a", "b", "a"):
        owed.add_dir(tmp_path / name)
    assert owed
    owed.sync(DirSyncs())
    assert synced == [str(tmp_path / "a"), str(tmp_path / "b")]
    assert not owed


async def test_a_put_with_fsync_fsyncs_body_and_sidecar_before_their_renames_and_both_directories(
    fs_storage_fsync: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    await put(fs_storage_fsync, BUCKET, "a/k", b"old")
    kp = fs_storage_fsync.objects.paths(BUCKET, "a/k")
    files: list[str] = []
    dirs: list[str] = []
    real_fsync, real_dir = os.fsync, fsutil.fsync_dir

    def record_fsync(fd: int) -> None:
        name = os.readlink(f"/proc/self/fd/{fd}")
        if os.path.isdir(name):
            real_fsync(fd)  # a directory: recorded by record_dir
            return
        # fsynced while still a temp file: the name the object will be read by never points at unwritten data
        assert name.startswith(str(fs_storage_fsync.layout.tmp)), name
        files.append(name)
        real_fsync(fd)

    def record_dir(path: Path | str) -> None:
        dirs.append(os.fspath(path))
        real_dir(path)

    monkeypatch.setattr(os, "fsync", record_fsync)
    monkeypatch.setattr(fsutil, "fsync_dir", record_dir)
    await put(fs_storage_fsync, BUCKET, "a/k", b"new")
    assert len(files) == 2, files  # the body and the sidecar
    assert any(name.endswith(STAGED_SUFFIX) for name in files), files  # the staged sidecar
    assert {os.path.dirname(kp.data_s), os.path.dirname(kp.sidecar_s)} <= set(dirs), dirs
    assert await get(fs_storage_fsync, BUCKET, "a/k") == b"new"
