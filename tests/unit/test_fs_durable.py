"""Deferred durability: grouped directory fsyncs, and what a PUT with fsync on still fsyncs before it answers."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

from smarts3.adapters.storage.filesystem import FilesystemStorage, fsutil
from smarts3.adapters.storage.filesystem.durable import DirSyncs, Durable, GroupSyncer
from smarts3.adapters.storage.filesystem.objects import STAGED_SUFFIX
from smarts3.domain.errors import InsufficientStorage
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


@pytest.fixture
def path_by_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """GroupSyncer without syncfs: each path fsynced on its own."""
    monkeypatch.setattr(fsutil, "_syncfs", None)


@pytest.fixture
def syncfs_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """GroupSyncer with syncfs available and no foreign dirty data; records the path behind each syncfs."""
    calls: list[str] = []

    def record(fd: int) -> None:
        calls.append(os.readlink(f"/proc/self/fd/{fd}"))

    monkeypatch.setattr(fsutil, "_syncfs", lambda fd: 0)
    monkeypatch.setattr(fsutil, "syncfs", record)
    monkeypatch.setattr(fsutil, "dirty_bytes", lambda: 0)
    monkeypatch.setattr(fsutil, "_dirty_seen", (-1.0, 0))
    return calls


async def test_group_syncs_of_one_directory_share_fsyncs_that_start_after_each_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path_by_path: None
) -> None:
    """Sixteen writers, far fewer fsyncs, each writer released by one that started after it came."""
    starts: list[float] = []
    ends: list[float] = []

    def slow_fsync(path: Path | str) -> None:
        starts.append(time.monotonic())
        time.sleep(0.05)
        ends.append(time.monotonic())

    monkeypatch.setattr(fsutil, "fsync_dir", slow_fsync)
    syncs = GroupSyncer()

    async def writer(delay: float) -> tuple[float, float]:
        await asyncio.sleep(delay)
        at = time.monotonic()
        await syncs.dirs([str(tmp_path)])
        return at, time.monotonic()

    results = await asyncio.gather(*(writer(i * 0.01) for i in range(16)))
    syncs.close(wait=5)
    assert 2 <= len(starts) <= 6, starts  # sixteen callers over ~0.15 s share a handful of 50 ms fsyncs
    for at, back in results:
        assert any(start >= at and end <= back + 1e-3 for start, end in zip(starts, ends, strict=True))


async def test_a_failed_group_fsync_reaches_its_waiters_and_the_next_one_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path_by_path: None
) -> None:
    calls = [0]

    def flaky(path: Path | str) -> None:
        calls[0] += 1
        if calls[0] == 1:
            time.sleep(0.02)
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(fsutil, "fsync_dir", flaky)
    syncs = GroupSyncer()
    first = await asyncio.gather(syncs.dirs([str(tmp_path)]), return_exceptions=True)
    assert isinstance(first[0], OSError)
    await syncs.dirs([str(tmp_path), str(tmp_path / "other")])  # a fresh fsync for each directory
    syncs.close(wait=5)
    assert calls[0] == 3


async def test_a_missing_file_fails_its_own_request_only(tmp_path: Path, path_by_path: None) -> None:
    present = tmp_path / "present"
    present.write_bytes(b"x")
    syncs = GroupSyncer()
    outcomes = await asyncio.gather(
        syncs.files([str(present)]), syncs.files([str(tmp_path / "missing")]), return_exceptions=True
    )
    syncs.close(wait=5)
    assert outcomes[0] is None
    assert isinstance(outcomes[1], FileNotFoundError)


async def test_one_syncfs_serves_a_batch_of_files_and_directories(
    tmp_path: Path, syncfs_calls: list[str]
) -> None:
    names = [tmp_path / f"f{i}" for i in range(8)]
    for name in names:
        name.write_bytes(b"x")
    syncs = GroupSyncer()
    await asyncio.gather(
        *(syncs.files([str(name)]) for name in names), syncs.dirs([str(tmp_path)]), syncs.dirs([str(tmp_path)])
    )
    syncs.close(wait=5)
    # the first request may be served alone; the rest arrive while it runs and share one batch
    assert 1 <= len(syncfs_calls) <= 2, syncfs_calls


async def test_syncfs_batches_look_up_each_directory_once_not_each_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, syncfs_calls: list[str]
) -> None:
    """Which filesystem a path is on is asked of its directory, once: a stat per file made the syncer thread
    take the GIL from the event loop once more per PUT."""
    names = [tmp_path / f"f{i}" for i in range(6)]
    for name in names:
        name.write_bytes(b"x")
    stats: list[str] = []
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda path, *a, **kw: stats.append(str(path)) or real_stat(path, *a, **kw))
    syncs = GroupSyncer()
    for _ in range(3):
        await asyncio.gather(*(syncs.files([str(name)]) for name in names), syncs.dirs([str(tmp_path)]))
    syncs.close(wait=5)
    assert syncfs_calls and stats == [str(tmp_path)]


async def test_a_failed_syncfs_reaches_every_request_of_its_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, syncfs_calls: list[str]
) -> None:
    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(fsutil, "syncfs", broken)
    (tmp_path / "a").write_bytes(b"x")
    syncs = GroupSyncer()
    # two paths per request: served alone or together, each batch has more than one path and takes syncfs
    outcomes = await asyncio.gather(
        syncs.files([str(tmp_path / "a")] * 2), syncs.dirs([str(tmp_path)] * 2), return_exceptions=True
    )
    syncs.close(wait=5)
    assert all(isinstance(outcome, OSError) for outcome in outcomes), outcomes


async def test_much_foreign_dirty_data_makes_the_batch_fsync_path_by_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, syncfs_calls: list[str]
) -> None:
    """syncfs would write out everything dirty on the filesystem, so with a lot of it about, fsync our paths."""
    monkeypatch.setattr(fsutil, "dirty_bytes", lambda: fsutil.SYNCFS_DIRTY_LIMIT + 1)
    synced: list[str] = []
    monkeypatch.setattr(fsutil, "fsync_dir", lambda path: synced.append(str(path)))
    (tmp_path / "a").write_bytes(b"x")
    syncs = GroupSyncer()
    await asyncio.gather(syncs.files([str(tmp_path / "a")]), syncs.dirs([str(tmp_path)]))
    syncs.close(wait=5)
    assert syncfs_calls == []
    assert synced == [str(tmp_path)]


async def test_the_files_to_remove_go_after_the_directory_fsync(tmp_path: Path, path_by_path: None) -> None:
    leftover = tmp_path / "leftover"
    leftover.write_bytes(b"old")
    syncs = GroupSyncer()
    await syncs.dirs([str(tmp_path)], then_remove=[str(leftover)])
    syncs.close(wait=5)  # the thread removes it after releasing the caller, and before it ends
    assert not leftover.exists()


def test_a_forked_child_gets_a_syncer_thread_of_its_own(tmp_path: Path) -> None:
    syncs = GroupSyncer()
    asyncio.run(syncs.dirs([str(tmp_path)]))  # the parent's thread now exists
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        try:
            asyncio.run(asyncio.wait_for(syncs.dirs([str(tmp_path)]), 10))
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    syncs.close(wait=5)
    assert os.waitstatus_to_exitcode(status) == 0


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
    fs_storage_fsync: FilesystemStorage, monkeypatch: pytest.MonkeyPatch, path_by_path: None
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


async def test_a_put_with_syncfs_syncs_before_the_renames_and_after_them(
    fs_storage_fsync: FilesystemStorage, monkeypatch: pytest.MonkeyPatch, syncfs_calls: list[str]
) -> None:
    """With syncfs, the same two steps: one while the body and sidecar are still temp files, one after."""
    await put(fs_storage_fsync, BUCKET, "a/k", b"old")
    kp = fs_storage_fsync.objects.paths(BUCKET, "a/k")
    seen: list[tuple[bytes, list[str]]] = []

    def record(fd: int) -> None:
        with open(kp.data_s, "rb") as handle:
            seen.append((handle.read(), os.listdir(fs_storage_fsync.layout.tmp)))

    monkeypatch.setattr(fsutil, "syncfs", record)
    await put(fs_storage_fsync, BUCKET, "a/k", b"new")
    assert len(seen) == 2, seen
    (before, temps), (after, _) = seen
    assert before == b"old" and any(name.endswith(STAGED_SUFFIX) for name in temps), seen
    assert after == b"new"
    assert await get(fs_storage_fsync, BUCKET, "a/k") == b"new"


async def test_a_failed_syncfs_before_the_commit_stores_nothing_and_keeps_the_old_object(
    fs_storage_fsync: FilesystemStorage, monkeypatch: pytest.MonkeyPatch, syncfs_calls: list[str]
) -> None:
    await put(fs_storage_fsync, BUCKET, "k", b"old")

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(fsutil, "syncfs", broken)
    with pytest.raises(InsufficientStorage):
        await put(fs_storage_fsync, BUCKET, "k", b"new")
    monkeypatch.undo()
    assert await get(fs_storage_fsync, BUCKET, "k") == b"old"
    await fs_storage_fsync.drain()
    assert os.listdir(fs_storage_fsync.layout.tmp) == []


async def test_syncfs_keeps_one_descriptor_per_filesystem_across_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, syncfs_calls: list[str]
) -> None:
    """A descriptor opened once hears of every writeback error after it was opened, even one that another
    process has already been told of (a fresh descriptor per batch would miss those)."""
    used: list[int] = []
    monkeypatch.setattr(fsutil, "syncfs", used.append)
    (tmp_path / "a").write_bytes(b"x")
    syncs = GroupSyncer()
    for _ in range(3):
        await syncs.files([str(tmp_path / "a"), str(tmp_path / "a")])
    assert len(used) == 3 and len(set(used)) == 1, used
    syncs.close(wait=5)
    with pytest.raises(OSError):
        os.fstat(used[0])  # given back once the thread is done
