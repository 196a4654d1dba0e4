"""Key locks: exclusive across threads and processes, never blocking the event loop when asked not to, and the
inline (no-fsync) PUT path that relies on that."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from smarts3.adapters.storage.filesystem import FilesystemStorage
from smarts3.adapters.storage.filesystem.layout import Layout
from smarts3.adapters.storage.filesystem.locks import KeyLocks, LockBusy
from smarts3.domain.models import NewObject
from smarts3.testing.contract.helpers import Md5Digest, body, get, md5_build, put

BUCKET = "bkt"

_HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


@contextmanager
def lock_held_by_another_process(path: str, seconds: float) -> Iterator[subprocess.Popen[str]]:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, path, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def locks(tmp_path: Path) -> KeyLocks:
    layout = Layout(tmp_path)
    layout.locks.mkdir(parents=True)
    return KeyLocks(layout)


def test_non_blocking_hold_reports_a_key_held_by_another_thread(locks: KeyLocks) -> None:
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with locks.hold(BUCKET, "k"):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(5)
        with pytest.raises(LockBusy), locks.hold(BUCKET, "k", blocking=False):
            pass
    finally:
        release.set()
        thread.join()
    with locks.hold(BUCKET, "k", blocking=False):
        pass  # free again


def test_non_blocking_hold_reports_a_key_held_by_another_process(locks: KeyLocks, tmp_path: Path) -> None:
    _, path = Layout(tmp_path).lock_stripe(BUCKET, "k")
    with (
        lock_held_by_another_process(path, 30),
        pytest.raises(LockBusy),
        locks.hold(BUCKET, "k", blocking=False),
    ):
        pass
    with locks.hold(BUCKET, "k", blocking=False):
        pass


def test_threads_of_one_process_exclude_each_other(locks: KeyLocks) -> None:
    counter = [0]

    def bump() -> None:
        for _ in range(200):
            with locks.hold(BUCKET, "k"):
                value = counter[0]
                time.sleep(0)  # invite a switch inside the critical section
                counter[0] = value + 1

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter[0] == 1600


def test_a_blocking_hold_waits_for_another_process(locks: KeyLocks, tmp_path: Path) -> None:
    _, path = Layout(tmp_path).lock_stripe(BUCKET, "k")
    with lock_held_by_another_process(path, 0.5):
        started = time.monotonic()
        with locks.hold(BUCKET, "k"):
            waited = time.monotonic() - started
    assert waited >= 0.3


async def test_inline_put_waits_in_a_thread_while_another_process_holds_the_key(
    fs_storage: FilesystemStorage,
) -> None:
    """Without fsync a small PUT commits on the event loop; a busy key must not freeze the loop meanwhile."""
    await put(fs_storage, BUCKET, "k", b"old")
    _, path = fs_storage.layout.lock_stripe(BUCKET, "k")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    with lock_held_by_another_process(path, 0.6):
        tick_task = asyncio.create_task(ticker())
        started = time.monotonic()
        await put(fs_storage, BUCKET, "k", b"new")
        waited = time.monotonic() - started
        tick_task.cancel()
    assert waited >= 0.3, "the PUT must have waited for the other process's lock"
    assert ticks >= 10, "the event loop kept running while the PUT waited"
    assert await get(fs_storage, BUCKET, "k") == b"new"


async def test_a_put_that_falls_back_to_a_thread_builds_its_object_once(fs_storage: FilesystemStorage) -> None:
    _, path = fs_storage.layout.lock_stripe(BUCKET, "once")
    digest = Md5Digest()
    real = md5_build(digest)
    builds: list[int] = []

    def build(size: int) -> NewObject:
        builds.append(size)
        return real(size)

    with lock_held_by_another_process(path, 0.3):
        await fs_storage.write_object(BUCKET, "once", body(b"payload"), digest=digest, build=build)
    assert builds == [7]
    assert await get(fs_storage, BUCKET, "once") == b"payload"


async def test_many_inline_puts_of_one_key_leave_one_whole_version(fs_storage: FilesystemStorage) -> None:
    bodies = [bytes([n]) * (1000 + n) for n in range(20)]
    await asyncio.gather(*(put(fs_storage, BUCKET, "same", body) for body in bodies))
    assert await get(fs_storage, BUCKET, "same") in bodies
    # nothing but the files kept for reuse (recycle.py); closing the storage removes those too
    assert sorted(os.listdir(fs_storage.layout.tmp)) == sorted(
        os.path.basename(p) for p in fs_storage.objects.pool.files()
    )
    await fs_storage.close()
    assert not list((fs_storage.layout.tmp).iterdir())


async def test_closing_the_storage_closes_its_lock_files(tmp_path: Path) -> None:
    backend = FilesystemStorage(tmp_path / "closing", fsync=False)
    await backend.start()
    await backend.create_bucket(BUCKET, region="us-east-1")
    for n in range(20):
        await put(backend, BUCKET, f"k{n}", b"x")

    def lock_fds() -> int:
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                name = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue  # the descriptor listdir itself used
            count += name.startswith(str(backend.layout.locks))
        return count

    assert lock_fds() > 0
    await backend.close()
    assert lock_fds() == 0


def test_a_forked_child_opens_its_own_lock_descriptors_and_names_temps_with_its_own_pid(tmp_path: Path) -> None:
    """After fork() the child must open its own lock descriptors (a ``flock`` on the parent's shared open file
    would not exclude it from the parent) and carry its own pid in temp names: both rely on the pid the module
    refreshes at fork, not on a stale copy."""
    from smarts3.adapters.storage.filesystem import fsutil

    layout = Layout(tmp_path)
    os.makedirs(layout.locks, exist_ok=True)
    locks = KeyLocks(layout)
    stripe, path = layout.lock_stripe(BUCKET, "k")
    with locks.hold(BUCKET, "k"):  # opens the stripe's descriptor in the parent
        pass
    parent_fd = locks._fd(stripe, path)
    parent_stat = os.fstat(parent_fd)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's clean-ups
        try:
            child_fd = locks._fd(stripe, path)
            own = child_fd != parent_fd and os.fstat(child_fd).st_ino == parent_stat.st_ino
            named = fsutil.temp_owner(fsutil.temp_name()) == os.getpid()
            os.write(write_end, f"{own} {named}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    report = os.read(read_end, 100).decode()
    os.waitpid(pid, 0)
    os.close(read_end)
    assert report == "True True"
