"""Reusing the files an overwrite displaced (recycle.py): the next PUT writes into them instead of creating new
inodes, but never into one a reader still holds, never so that an identity names two contents, and a stale
``pending`` name in a live sidecar never rolls a reused file forward."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from smarts3.adapters.storage.filesystem import FilesystemStorage, maintenance, metadata, recycle
from smarts3.adapters.storage.filesystem.recycle import InodePool, Leftover, advance_mtime
from smarts3.domain.errors import InsufficientStorage
from smarts3.testing.contract.helpers import enable_versioning, get, md5_hex, put, read_all
from smarts3.testing.server import running_server, server_settings

BUCKET = "bkt"  # the bucket the fs_storage fixtures create


def _write(path: str, data: bytes) -> None:
    Path(path).write_bytes(data)


def _ino(storage: FilesystemStorage, key: str) -> int:
    return os.stat(storage.objects.paths(BUCKET, key).data_s).st_ino


@pytest.mark.parametrize("fsync", [False, True])
async def test_an_overwrite_writes_into_the_files_the_previous_one_displaced(
    fsync: bool, tmp_path: Path
) -> None:
    storage = FilesystemStorage(tmp_path / "data", fsync=fsync)
    await storage.start()
    await storage.create_bucket(BUCKET, region="us-east-1")
    try:
        await _overwrite_three_times(storage)
    finally:
        await storage.close()
    assert os.listdir(storage.layout.tmp) == []  # closing removes the pooled files


async def _overwrite_three_times(storage: FilesystemStorage) -> None:
    await put(storage, BUCKET, "k", b"one" * 100)
    first = _ino(storage, "k")
    await put(storage, BUCKET, "k", b"two" * 10)  # displaces "one": its data and sidecar go to the pool
    await storage.drain()
    assert len(storage.objects.pool.files()) == 2
    created_before = set(os.listdir(storage.layout.tmp))
    await put(storage, BUCKET, "k", b"three")
    assert _ino(storage, "k") == first  # "one"'s inode now holds "three", shorter: truncated
    assert await get(storage, BUCKET, "k") == b"three"
    info = await storage.head_object(BUCKET, "k")
    assert (info.size, info.etag) == (5, md5_hex(b"three"))
    await storage.drain()
    assert set(os.listdir(storage.layout.tmp)) == created_before  # the same two names, no new file


async def test_a_file_a_reader_holds_is_not_reused(fs_storage: FilesystemStorage) -> None:
    await put(fs_storage, BUCKET, "k", b"a" * 5000)
    reader = await fs_storage.open_object(BUCKET, "k")  # an open GET: holds the file under a shared flock
    try:
        await put(fs_storage, BUCKET, "k", b"b" * 5000)  # "a" is displaced into the pool, still being read
        await put(fs_storage, BUCKET, "k", b"c" * 5000)  # must not write "c" into "a"'s inode
        assert reader.read_small() == b"a" * 5000
    finally:
        await reader.aclose()
    assert await get(fs_storage, BUCKET, "k") == b"c" * 5000


def test_take_skips_a_file_under_a_shared_lock(tmp_path: Path) -> None:
    pool = InodePool()
    held, free = tmp_path / "held", tmp_path / "free"
    held.write_bytes(b"x")
    free.write_bytes(b"yy")
    assert pool.give(Leftover("data", str(free))) and pool.give(Leftover("data", str(held)))
    with open(held, "rb") as reader:
        fcntl.flock(reader, fcntl.LOCK_SH)
        reused = pool.take("data")
    assert reused is not None and reused.path == str(free) and reused.old_size == 2
    os.close(reused.fd)
    assert not held.exists()  # left to its reader: unlinked, never written
    assert pool.take("data") is None


def test_a_reused_file_gets_a_new_identity_even_when_the_clock_does_not_move(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"same")
    before = os.stat(path)
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, b"SAME")  # same size; pretend the write left mtime where it was (a coarse clock)
        os.utime(fd, ns=(before.st_atime_ns, before.st_mtime_ns))
        after = advance_mtime(fd, os.fstat(fd), before.st_mtime_ns)
    finally:
        os.close(fd)
    assert after.st_ino == before.st_ino and after.st_size == before.st_size
    assert after.st_mtime_ns > before.st_mtime_ns


def test_the_pool_is_bounded_and_emptied_at_clear(tmp_path: Path) -> None:
    pool = InodePool(capacity=2)
    paths = [tmp_path / f"f{n}" for n in range(3)]
    for path in paths:
        path.write_bytes(b"x")
    assert [pool.give(Leftover("sidecar", str(p))) for p in paths] == [True, True, False]
    assert pool.take("data") is None  # kinds are kept apart
    pool.clear()
    assert not paths[0].exists() and not paths[1].exists() and paths[2].exists()


async def test_a_stale_pending_name_never_rolls_a_reused_file_forward(fs_storage: FilesystemStorage) -> None:
    """The live sidecar still names its commit's temp as ``pending``; after the commit that name holds the data
    it displaced (kept in the pool). A data file then changed by another program must be re-indexed, not
    replaced by the displaced bytes."""
    await put(fs_storage, BUCKET, "k", b"old" * 10)
    await put(fs_storage, BUCKET, "k", b"new" * 10)
    doc = fs_storage.cache.read(fs_storage.objects.paths(BUCKET, "k").sidecar_s)
    assert doc is not None
    assert doc["pending"] in os.listdir(fs_storage.layout.tmp)  # the displaced "old", pooled
    _write(fs_storage.objects.paths(BUCKET, "k").data_s, b"edited by hand")
    assert await get(fs_storage, BUCKET, "k") == b"edited by hand"
    assert (await fs_storage.head_object(BUCKET, "k")).etag == md5_hex(b"edited by hand")


def test_concurrent_gets_of_a_key_being_overwritten_always_match_their_etag(tmp_path: Path) -> None:
    """Over HTTP, no fsync (the loop commits and reuses files at full speed): 4 writers and 4 readers of one key,
    bodies big enough to be streamed; every body read must be one that was written, whole, with its own ETag."""
    bodies = [
        bytes([n]) * (150_000 + 1000 * n) for n in range(8)
    ]  # streamed (> 64 KiB), reusable (< 256 KiB)
    etags = {hashlib.md5(b).hexdigest(): b for b in bodies}
    errors: list[str] = []
    settings = server_settings(data_dir=tmp_path / "data", fsync=False)
    with running_server(settings) as server:
        s3 = server.client()
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="k", Body=bodies[0])

        def writer(n: int) -> None:
            try:
                client = server.client()
                for i in range(15):
                    client.put_object(Bucket=BUCKET, Key="k", Body=bodies[(n + i) % len(bodies)])
            except Exception as exc:
                errors.append(f"writer: {exc!r}")

        def reader() -> None:
            try:
                client = server.client()
                for _ in range(30):
                    got = client.get_object(Bucket=BUCKET, Key="k")
                    body, etag = got["Body"].read(), got["ETag"].strip('"')
                    if etags.get(etag) != body:
                        errors.append(f"{etag}: {len(body)} bytes, starting {body[:1]!r}")
            except Exception as exc:
                errors.append(f"reader: {exc!r}")

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        threads += [threading.Thread(target=reader) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads)
    assert errors == []


async def test_reuse_survives_many_small_overwrites_in_parallel(fs_storage: FilesystemStorage) -> None:
    bodies = [bytes([n]) * (100 + n) for n in range(40)]
    for _ in range(3):
        await asyncio.gather(*(put(fs_storage, BUCKET, "same", body) for body in bodies))
    got = await get(fs_storage, BUCKET, "same")
    assert got in bodies
    assert (await fs_storage.head_object(BUCKET, "same")).etag == md5_hex(got)
    assert len(fs_storage.objects.pool.files()) <= 2 * 64


def test_the_sidecar_cache_never_reads_a_sidecar_being_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader that opened a sidecar just before a commit displaced it, and a writer took it from the pool
    (exclusive flock) to write another key's record: the reader must open the path again, not parse that."""
    live, displaced = tmp_path / "live.m", tmp_path / "displaced.s"
    live.write_bytes(metadata.encode({"b": BUCKET, "key": "k", "id": [1, 2, 3], "obj": {"etag": "live"}}))
    displaced.write_bytes(
        metadata.encode({"b": BUCKET, "key": "other", "id": [4, 5, 6], "obj": {"etag": "no"}})
    )
    writer = os.open(displaced, os.O_WRONLY)
    fcntl.flock(writer, fcntl.LOCK_EX)
    real_open = os.open
    opened: list[str] = []

    def racing_open(path: str, flags: int, *args: int) -> int:
        opened.append(path)
        # the first open lands on the file the commit is moving away
        return real_open(displaced if len(opened) == 1 else path, flags, *args)

    monkeypatch.setattr(metadata.os, "open", racing_open)
    try:
        doc = metadata.SidecarCache().read(str(live))
    finally:
        os.close(writer)
    assert doc is not None and doc["obj"] == {"etag": "live"}
    assert len(opened) == 2


async def test_a_displaced_file_with_another_hard_link_is_never_written_again(
    fs_storage: FilesystemStorage,
) -> None:
    """A backup made with hard links (cp -al, rsync --link-dest) shares the object's inode: writing the next PUT
    into that inode would change the backup."""
    await put(fs_storage, BUCKET, "k", b"backed up")
    backup = fs_storage.layout.root.parent / "backup-of-k"
    _link(fs_storage.objects.paths(BUCKET, "k").data_s, str(backup))
    await put(fs_storage, BUCKET, "k", b"second")  # displaces the backed-up inode into the pool
    await put(fs_storage, BUCKET, "k", b"third!!!!")  # must not write into it
    assert _read(str(backup)) == b"backed up"
    assert await get(fs_storage, BUCKET, "k") == b"third!!!!"


def _link(src: str, dst: str) -> None:
    os.link(src, dst)


async def _cancel_in_thread(
    storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch, method: str, body: bytes
) -> None:
    """PUT ``body`` (over 256 KiB: its last steps run in a worker thread) to "k" and cancel the request while
    the thread is in the engine's ``method``, just after that method did its work."""
    engine = storage.objects
    real = getattr(engine, method)
    reached = threading.Event()

    def slow(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        reached.set()
        time.sleep(0.3)  # the loop sees the cancellation while the thread is still here
        return result

    monkeypatch.setattr(engine, method, slow)
    task = asyncio.create_task(put(storage, BUCKET, "k", body))
    await asyncio.to_thread(reached.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def _exists(path: str) -> bool:
    return os.path.exists(path)


def _read(path: str) -> bytes:
    return Path(path).read_bytes()


async def test_a_version_being_read_is_not_reused_after_it_became_the_latest_again(
    fs_storage: FilesystemStorage,
) -> None:
    """GET ?versionId= of a stored version, which is then promoted to the plain file (its successor deleted) and
    displaced by a suspended-versioning overwrite: the next PUT of another key must not write into it."""
    original = b"N" * (100 << 10)
    await put(fs_storage, BUCKET, "k", original)  # the "null" version
    await enable_versioning(fs_storage, BUCKET, "Enabled")
    await put(fs_storage, BUCKET, "k", b"V" * 100, versioning="Enabled", version_id="v2")  # null archived
    reader = await fs_storage.open_object(BUCKET, "k", version_id="null")
    try:
        await fs_storage.delete_object(BUCKET, "k", version_id="v2", versioning="Enabled")  # null promoted
        await enable_versioning(fs_storage, BUCKET, "Suspended")
        await put(fs_storage, BUCKET, "k", b"S" * 100, versioning="Suspended")  # its inode is displaced
        await put(fs_storage, BUCKET, "secret", b"Z" * (100 << 10))
        assert await read_all(reader, chunk_size=16 << 10) == original
    finally:
        await reader.aclose()


async def test_a_cancelled_put_whose_commit_went_through_leaves_the_pool_alone(
    fs_storage_fsync: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With fsync on, a body over 256 KiB commits and settles in a thread; the request is cancelled meanwhile.
    Its settle has pooled the displaced files under the temp's and the staged sidecar's names: the request's
    clean-up must not remove them (another PUT may have taken them)."""
    storage = fs_storage_fsync
    await put(storage, BUCKET, "k", b"x" * 4096)
    await storage.drain()
    engine = storage.objects
    await _cancel_in_thread(storage, monkeypatch, "release", b"A" * (300 << 10))
    pooled = engine.pool.files()
    assert len(pooled) == 2
    assert all(_exists(path) for path in pooled)
    assert await get(storage, BUCKET, "k") == b"A" * (300 << 10)


async def test_fsck_repair_looks_at_a_sidecar_again_before_replacing_it(
    fs_storage: FilesystemStorage,
) -> None:
    """fsck found a sidecar unreadable (a torn read of a file a live server was reusing): by the time the repair
    runs, under the key's lock, the sidecar is fine, and must be kept with all its metadata."""
    await put(
        fs_storage,
        BUCKET,
        "k",
        b"body",
        user_metadata={"owner": "alice"},
        headers={"content-type": "image/png"},
    )
    maintenance._rebuild_sidecar(fs_storage, BUCKET, "k")
    info = await fs_storage.head_object(BUCKET, "k")
    assert info.user_metadata == {"owner": "alice"}
    assert info.headers.get("content-type") == "image/png"


async def test_gc_removes_a_live_servers_idle_pooled_file_but_never_one_being_written(
    fs_storage: FilesystemStorage,
) -> None:
    """A pooled file keeps the mtime of the object it held, so ``smarts3 gc`` finds it "untouched for days";
    removing it is fine, but not while the server is writing it as its next temp (exclusive flock held)."""
    await put(fs_storage, BUCKET, "k", b"old" * 100)
    await put(fs_storage, BUCKET, "k", b"new" * 100)
    entries = {entry.kind: entry.path for entry in fs_storage.objects.pool.entries()}
    two_days_ago = time.time() - 2 * 86400
    for path in entries.values():
        os.utime(path, (two_days_ago, two_days_ago))
    writing = os.open(entries["data"], os.O_RDONLY)
    try:
        fcntl.flock(writing, fcntl.LOCK_EX)
        maintenance.collect_garbage(fs_storage, upload_age=7 * 86400, temp_age=86400, apply=True)
        assert _exists(entries["data"])
        assert not _exists(entries["sidecar"])
    finally:
        os.close(writing)


@pytest.mark.parametrize("fsync", [False, True])
async def test_without_fsync_a_file_is_reused_only_for_the_key_it_came_from(
    fsync: bool, tmp_path: Path
) -> None:
    """Without fsync a power loss may undo the renames that moved a file out of its key while keeping the blocks
    written into it since: reuse then stays within the key, so no key can ever show another key's bytes. With
    fsync (leftovers are pooled after their commit is durable) any key may take them."""
    storage = FilesystemStorage(tmp_path / "data", fsync=fsync)
    await storage.start()
    await storage.create_bucket(BUCKET, region="us-east-1")
    try:
        await put(storage, BUCKET, "a", b"a1" * 50)
        a1 = _ino(storage, "a")
        await put(storage, BUCKET, "a", b"a2" * 50)  # a1's inode is displaced into the pool
        await storage.drain()
        await put(storage, BUCKET, "b", b"b1" * 50)
        assert (_ino(storage, "b") == a1) is fsync
        if not fsync:
            await put(storage, BUCKET, "a", b"a3" * 50)
            assert _ino(storage, "a") == a1
        assert await get(storage, BUCKET, "a") == (b"a2" * 50 if fsync else b"a3" * 50)
        assert await get(storage, BUCKET, "b") == b"b1" * 50
    finally:
        await storage.close()


def test_a_full_per_key_pool_lets_the_least_recently_given_file_go(tmp_path: Path) -> None:
    pool = InodePool(capacity=2, per_key=True)
    paths = [tmp_path / f"f{n}" for n in range(3)]
    for path in paths:
        path.write_bytes(b"x")
    for n, path in enumerate(paths):
        assert pool.give(Leftover("data", str(path), (BUCKET, f"k{n}")))
    assert not paths[0].exists() and paths[1].exists() and paths[2].exists()
    assert pool.take("data", (BUCKET, "k0")) is None
    reused = pool.take("data", (BUCKET, "k2"))
    assert reused is not None and reused.path == str(paths[2])
    os.close(reused.fd)
    assert len(pool) == 1


async def test_fsck_still_repairs_a_sidecar_that_records_the_wrong_size(
    fs_storage: FilesystemStorage,
) -> None:
    """The look-again before a rebuild must judge by the finding's own rule, not only "unreadable"."""
    await put(fs_storage, BUCKET, "k", b"hello world")
    sidecar = fs_storage.objects.paths(BUCKET, "k").sidecar_s
    doc = metadata.decode(_read(sidecar))
    doc["obj"]["size"] = 999  # the data identity still matches: only the recorded size is wrong
    _write(sidecar, metadata.encode(doc))
    fs_storage.cache.forget(sidecar)
    found = maintenance.fsck(fs_storage, verify_etags=False, repair=True)
    assert [(f.kind, f.repaired) for f in found] == [("size-mismatch", True)]
    assert maintenance.fsck(fs_storage, verify_etags=False, repair=False) == []
    assert (await fs_storage.head_object(BUCKET, "k")).size == 11


async def test_a_put_cancelled_while_its_last_hop_stages_leaves_no_staged_sidecar(
    fs_storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body over 256 KiB: its last batch, the fsync and the staging run in one thread hop; the request is
    cancelled meanwhile. The staged sidecar that hop wrote (often a pooled file) must not stay in tmp/."""
    await put(fs_storage, BUCKET, "k", b"a" * 100)
    await put(fs_storage, BUCKET, "k", b"b" * 100)
    engine = fs_storage.objects
    await _cancel_in_thread(fs_storage, monkeypatch, "stage", b"c" * (300 << 10))
    await fs_storage.drain()
    pooled = {os.path.basename(path) for path in engine.pool.files()}
    assert set(os.listdir(fs_storage.layout.tmp)) == pooled
    assert await get(fs_storage, BUCKET, "k") == b"b" * 100


def test_take_keeps_a_file_it_cannot_open_right_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pool = InodePool()
    path = tmp_path / "f"
    path.write_bytes(b"x")
    assert pool.give(Leftover("data", str(path)))

    def no_descriptors(*args: Any, **kwargs: Any) -> int:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(recycle.os, "open", no_descriptors)
    assert pool.take("data") is None
    monkeypatch.undo()
    assert pool.files() == [str(path)] and path.exists()


def test_a_reused_file_whose_write_left_its_old_mtime_gets_the_current_time(tmp_path: Path) -> None:
    """An empty body written into an empty pooled file changes nothing: its mtime must still become "now", or
    ``smarts3 gc`` would take the in-flight temp for an idle file days old."""
    path = tmp_path / "f"
    path.write_bytes(b"")
    two_days_ago = time.time_ns() - 2 * 86400 * 10**9
    os.utime(path, ns=(two_days_ago, two_days_ago))
    fd = os.open(path, os.O_WRONLY)
    try:
        after = advance_mtime(fd, os.fstat(fd), two_days_ago)
    finally:
        os.close(fd)
    assert time.time_ns() - after.st_mtime_ns < 60 * 10**9


def test_a_forked_child_starts_with_an_empty_pool_of_its_own(tmp_path: Path) -> None:
    pool = InodePool()
    path = tmp_path / "f"
    path.write_bytes(b"x")
    assert pool.give(Leftover("data", str(path)))
    pid = os.fork()
    if pid == 0:  # the child: the parent's file is not its to reuse (nor to remove)
        ok = len(pool) == 0 and pool.take("data") is None
        pool.clear()
        os._exit(0 if ok and path.exists() else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert pool.files() == [str(path)]


@pytest.mark.parametrize("failing", ["data", "sidecar"])
async def test_a_disk_error_while_a_reused_file_is_written_keeps_the_object_and_leaves_no_half_file(
    failing: str, fs_storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC in the middle of writing a pooled file (the body, or the staged sidecar): 507, the previous object
    stays whole, and the half-written file is neither left in tmp/ nor handed out again."""
    await put(fs_storage, BUCKET, "k", b"one" * 100, user_metadata={"v": "1"})
    await put(fs_storage, BUCKET, "k", b"two" * 100, user_metadata={"v": "2"})
    taken = {entry.kind: entry.path for entry in fs_storage.objects.pool.entries()}
    real_write = os.write

    def full_disk(fd: int, data: Any) -> int:
        if os.readlink(f"/proc/self/fd/{fd}") == taken[failing]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(InsufficientStorage):
        await put(fs_storage, BUCKET, "k", b"three" * 100, user_metadata={"v": "3"})
    monkeypatch.undo()
    assert await get(fs_storage, BUCKET, "k") == b"two" * 100
    assert (await fs_storage.head_object(BUCKET, "k")).user_metadata == {"v": "2"}
    assert not _exists(taken[failing])
    pooled = {os.path.basename(path) for path in fs_storage.objects.pool.files()}
    assert set(os.listdir(fs_storage.layout.tmp)) == pooled
