"""Deferred durability: grouped directory fsyncs, and what a PUT with fsync on still fsyncs before it answers."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from smarts3.adapters.storage.filesystem import FilesystemStorage, fsutil
from smarts3.adapters.storage.filesystem.durable import DirSyncs, Durable
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


def test_durable_closes_its_descriptors_even_when_fsync_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owed = Durable()
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT)
    owed.fds.append(fd)

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError):
        owed.sync(DirSyncs())
    with pytest.raises(OSError):
        os.fstat(fd)  # closed


@pytest.fixture
async def synced_storage(tmp_path: Path) -> AsyncIterator[FilesystemStorage]:
    backend = FilesystemStorage(tmp_path / "data", fsync=True)
    await backend.start()
    await backend.create_bucket(BUCKET, region="us-east-1")
    yield backend
    await backend.close()


async def test_a_put_with_fsync_fsyncs_data_sidecar_and_both_directories_before_answering(
    synced_storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    await put(synced_storage, BUCKET, "a/k", b"old")
    files: list[str] = []
    dirs: list[str] = []
    real_fsync, real_dir = os.fsync, fsutil.fsync_dir

    def record_fsync(fd: int) -> None:
        files.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def record_dir(path: Path | str) -> None:
        dirs.append(os.fspath(path))
        real_dir(path)

    monkeypatch.setattr(os, "fsync", record_fsync)
    monkeypatch.setattr(fsutil, "fsync_dir", record_dir)
    await put(synced_storage, BUCKET, "a/k", b"new")
    kp = synced_storage.objects.paths(BUCKET, "a/k")
    assert any(".smarts3/tmp/" in name for name in files), files  # the body, before its rename
    assert kp.sidecar_s in files, files  # the sidecar, after its rename
    assert {os.path.dirname(kp.data_s), os.path.dirname(kp.sidecar_s)} <= set(dirs), dirs
    assert await get(synced_storage, BUCKET, "a/k") == b"new"
