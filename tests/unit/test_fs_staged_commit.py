"""The staged commit (objects.py): the new sidecar is written before the key lock, exchanged with the live one
under it, and the previous sidecar kept at the staged name (``back``) until the commit has settled. A writer
killed between that exchange and its data rename is finished at start-up when its data temp survived, and rolled
back to the previous sidecar when it did not. Also: event-loop writers of one key queue on the stripe's asyncio
gate instead of each falling back to a thread."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from smarts3.adapters.storage.filesystem import FilesystemStorage, fsutil
from smarts3.adapters.storage.filesystem.objects import STAGED_SUFFIX, ObjectEngine
from smarts3.domain.models import ListQuery
from smarts3.testing.contract.helpers import get, md5_hex, put

BUCKET = "bkt"  # the bucket the fs_storage fixtures create
T = TypeVar("T")

#: a child process that writes "old", then dies (os._exit, no clean-up of any kind) inside the commit of "new",
#: right before the data temp is renamed onto the plain path: after the sidecar exchange
_KILLED_WRITER = textwrap.dedent(
    """
    import asyncio, os, sys
    from smarts3.adapters.storage.filesystem import FilesystemStorage, objects
    from smarts3.testing.contract.helpers import put

    root, fsync = sys.argv[1], sys.argv[2] == "1"

    def dying(real):
        def die(source, target):
            if str(target).endswith(os.sep + "k"):
                os._exit(7)
            return real(source, target)
        return die

    async def main():
        storage = FilesystemStorage(root, fsync=fsync)
        await storage.start()
        await storage.create_bucket("bkt", region="us-east-1")
        await put(storage, "bkt", "k", b"old", user_metadata={"v": "old"})
        # the data step: an exchange where the kernel has one, else a rename
        objects.fsutil.rename_into = dying(objects.fsutil.rename_into)
        objects.fsutil.exchange_into = dying(objects.fsutil.exchange_into)
        await put(storage, "bkt", "k", b"brand new", user_metadata={"v": "new"})

    asyncio.run(main())
    """
)


def _kill_writer_mid_commit(root: Path, *, fsync: bool) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, str(root), "1" if fsync else "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 7, done.stderr


def _tmp(root: Path) -> Path:
    return root / ".smarts3" / "tmp"


def _live_sidecar(root: Path) -> dict[str, object]:
    doc = json.loads((root / ".smarts3" / "buckets" / BUCKET / "meta" / "k.m").read_bytes())
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize("fsync", [False, True])
async def test_a_writer_killed_after_the_sidecar_exchange_is_finished_at_start(
    tmp_path: Path, fsync: bool
) -> None:
    _kill_writer_mid_commit(tmp_path, fsync=fsync)
    # the crash state: the new sidecar is live, its data still in the temp, the previous sidecar at "back"
    doc = _live_sidecar(tmp_path)
    assert (_tmp(tmp_path) / str(doc["pending"])).exists()
    assert (_tmp(tmp_path) / str(doc["back"])).exists()
    storage = FilesystemStorage(tmp_path, fsync=fsync)
    await storage.start()
    info = await storage.head_object(BUCKET, "k")
    assert (info.etag, info.size, info.user_metadata) == (md5_hex(b"brand new"), 9, {"v": "new"})
    assert await get(storage, BUCKET, "k") == b"brand new"
    assert os.listdir(_tmp(tmp_path)) == []  # nothing of the dead writer is left
    await storage.close()


async def test_a_killed_writer_whose_data_temp_was_lost_is_rolled_back_at_start(tmp_path: Path) -> None:
    """Without fsync a power loss may lose the unsynced data temp: the previous object comes back whole."""
    _kill_writer_mid_commit(tmp_path, fsync=False)
    os.unlink(_tmp(tmp_path) / str(_live_sidecar(tmp_path)["pending"]))
    storage = FilesystemStorage(tmp_path, fsync=False)
    await storage.start()
    info = await storage.head_object(BUCKET, "k")
    assert (info.etag, info.size, info.user_metadata) == (md5_hex(b"old"), 3, {"v": "old"})
    assert await get(storage, BUCKET, "k") == b"old"
    assert os.listdir(_tmp(tmp_path)) == []
    await storage.close()


async def test_a_reader_restores_the_previous_sidecar_when_the_data_temp_is_gone(tmp_path: Path) -> None:
    """The same repair without a restart: a reader (under the key lock) finds the live sidecar describing data
    that never arrived, and the sidecar at ``back`` describing the bytes at the plain path."""
    _kill_writer_mid_commit(tmp_path, fsync=False)
    doc = _live_sidecar(tmp_path)
    os.unlink(_tmp(tmp_path) / str(doc["pending"]))
    storage = FilesystemStorage(tmp_path, fsync=False)  # not started: nothing recovered yet
    info = await storage.head_object(BUCKET, "k")
    assert (info.etag, info.user_metadata) == (md5_hex(b"old"), {"v": "old"})
    assert not (_tmp(tmp_path) / str(doc["back"])).exists()  # moved back into place
    listed = (await storage.list_objects(BUCKET, ListQuery())).objects
    assert [(o.key, o.etag) for o in listed] == [("k", md5_hex(b"old"))]


@pytest.mark.parametrize("fsync", [False, True])
async def test_a_data_rename_that_fails_puts_the_previous_sidecar_back(
    tmp_path: Path, fsync: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = FilesystemStorage(tmp_path, fsync=fsync)
    await storage.start()
    await storage.create_bucket(BUCKET, region="us-east-1")
    await put(storage, BUCKET, "k", b"old", user_metadata={"v": "old"})
    def failing(real: Callable[[str, str], T]) -> Callable[[str, str], T]:
        def fail(source: str, target: str) -> T:
            if str(target).endswith(os.sep + "k"):
                raise OSError(5, "Input/output error")
            return real(source, target)

        return fail

    # the data step: an exchange where the kernel has one, else a rename
    monkeypatch.setattr(fsutil, "rename_into", failing(fsutil.rename_into))
    monkeypatch.setattr(fsutil, "exchange_into", failing(fsutil.exchange_into))
    with pytest.raises(Exception):  # noqa: B017 - the adapter maps EIO to InsufficientStorage
        await put(storage, BUCKET, "k", b"new", user_metadata={"v": "new"})
    monkeypatch.undo()
    info = await storage.head_object(BUCKET, "k")
    assert (info.etag, info.user_metadata) == (md5_hex(b"old"), {"v": "old"})
    assert os.listdir(_tmp(tmp_path)) == []
    await storage.close()


async def test_a_settled_commit_leaves_nothing_in_tmp(fs_storage_fsync: FilesystemStorage) -> None:
    for body in (b"one", b"two", b"three"):
        await put(fs_storage_fsync, BUCKET, "k", body)
    await fs_storage_fsync.drain()  # the fsync thread removes replaced files after answering their writers
    # what is left is the previous data and sidecar, kept to be written again (recycle.py), and only those
    pooled = sorted(os.path.basename(p) for p in fs_storage_fsync.objects.pool.files())
    assert len(pooled) == 2
    assert sorted(os.listdir(fs_storage_fsync.layout.tmp)) == pooled
    assert await get(fs_storage_fsync, BUCKET, "k") == b"three"
    await fs_storage_fsync.close()
    assert os.listdir(fs_storage_fsync.layout.tmp) == []


async def test_writers_on_the_loop_queue_on_the_gate_while_a_thread_holds_the_key(
    fs_storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another thread holds the key's lock, the first loop writer falls back to a thread; the others wait
    on the stripe's gate and then commit on the loop, instead of each taking a thread of its own."""
    blocking_commits: list[bool] = []
    real = ObjectEngine.commit_staged

    def counting(self: ObjectEngine, *args: object, **kwargs: object) -> object:
        if kwargs.get("blocking", True):
            blocking_commits.append(True)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ObjectEngine, "commit_staged", counting)
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with fs_storage.locks.hold(BUCKET, "k"):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    writers = [asyncio.ensure_future(put(fs_storage, BUCKET, "k", f"v{i}".encode())) for i in range(5)]
    await asyncio.sleep(0.2)
    release.set()
    await asyncio.gather(*writers)
    holder.join(10)
    assert blocking_commits == [True]
    assert (await get(fs_storage, BUCKET, "k")).startswith(b"v")


def test_staged_names_are_recognised_as_temps() -> None:
    name = fsutil.temp_name(STAGED_SUFFIX)
    assert fsutil.temp_owner(name) == os.getpid() and name.endswith(STAGED_SUFFIX)


async def test_an_overwrite_exchanges_the_data_so_its_path_is_never_absent(
    fs_storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the kernel can exchange, the plain file is never renamed away: the previous data ends up at the temp's
    name (removed after the commit), so a lock-free reader always finds a file there."""
    if not fsutil.can_exchange():
        pytest.skip("this kernel or filesystem has no renameat2(RENAME_EXCHANGE)")
    await put(fs_storage, BUCKET, "k", b"old")
    kp = fs_storage.objects.paths(BUCKET, "k")
    moved_away: list[str] = []
    real_rename = os.rename

    def spy(source: str, target: str) -> None:
        if os.fspath(source) == kp.data_s:
            moved_away.append(os.fspath(target))
        real_rename(source, target)

    monkeypatch.setattr(os, "rename", spy)
    await put(fs_storage, BUCKET, "k", b"new")
    assert moved_away == []
    assert await get(fs_storage, BUCKET, "k") == b"new"
