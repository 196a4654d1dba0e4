"""Filesystem adapter specifics: on-disk layout, traversal safety, conflicts, atomic replace, crash leftovers,
files written by other programs, and disk-full handling."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from smarts3.adapters.storage.filesystem import FilesystemStorage, fsutil
from smarts3.adapters.storage.filesystem.layout import key_components
from smarts3.domain.errors import (
    BadDigest,
    InsufficientStorage,
    InvalidObjectName,
    NoSuchBucket,
    NoSuchKey,
    ObjectExistsAsDirectory,
    ParentIsObject,
    PreconditionFailed,
)
from smarts3.domain.models import ListQuery
from smarts3.testing.contract.helpers import Md5Digest, failing_build, get, md5_build, md5_hex, put, refuse

BUCKET = "bkt"


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[FilesystemStorage]:
    backend = FilesystemStorage(tmp_path, fsync=False)
    await backend.start()
    await backend.create_bucket(BUCKET, region="us-east-1")
    yield backend
    await backend.close()


def _tmp_files(root: Path) -> list[str]:
    return sorted(os.listdir(root / ".smarts3" / "tmp"))


def _files_outside_bucket(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_relative_to(root / BUCKET)]


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def _sidecar(root: Path, key: str) -> Path:
    comps = key_components(key)
    return root.joinpath(
        ".smarts3", "buckets", BUCKET, "meta", *[c + ".d" for c in comps[:-1]], comps[-1] + ".m"
    )


# -- layout on disk ------------------------------------------------------------------------------------------
async def test_object_is_a_plain_file_other_programs_can_read(
    storage: FilesystemStorage, tmp_path: Path
) -> None:
    await put(storage, BUCKET, "docs/report 1.txt", b"hello")
    assert (tmp_path / BUCKET / "docs" / "report 1.txt").read_bytes() == b"hello"
    # nothing but object data in the bucket directory
    assert sorted(str(p.relative_to(tmp_path / BUCKET)) for p in (tmp_path / BUCKET).rglob("*")) == [
        "docs",
        "docs/report 1.txt",
    ]


async def test_sidecar_stores_the_full_key(storage: FilesystemStorage, tmp_path: Path) -> None:
    await put(storage, BUCKET, "a/b", b"x", headers={"content-type": "text/plain"})
    doc = json.loads(_sidecar(tmp_path, "a/b").read_bytes())
    assert doc["key"] == "a/b"
    assert doc["obj"]["h"] == {"content-type": "text/plain"}


async def test_empty_parent_directories_are_removed_on_delete(
    storage: FilesystemStorage, tmp_path: Path
) -> None:
    await put(storage, BUCKET, "x/y/z", b"1")
    await storage.delete_object(BUCKET, "x/y/z")
    assert os.listdir(tmp_path / BUCKET) == []
    assert (tmp_path / BUCKET).is_dir()


# -- traversal and odd keys ----------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["../escape", "..", "a/../../escape", "/etc/passwd", ".", "./x", "a/./b"])
async def test_traversal_keys_stay_inside_the_bucket(
    storage: FilesystemStorage, tmp_path: Path, key: str
) -> None:
    await put(storage, BUCKET, key, b"data")
    assert await get(storage, BUCKET, key) == b"data"
    assert all(p.is_relative_to(tmp_path / ".smarts3") for p in _files_outside_bucket(tmp_path))
    assert not (tmp_path / "escape").exists() and not (tmp_path.parent / "escape").exists()
    page = await storage.list_objects(BUCKET, ListQuery())
    assert [o.key for o in page.objects] == [key]


async def test_nul_in_key_is_refused(storage: FilesystemStorage) -> None:
    with pytest.raises(InvalidObjectName):
        await put(storage, BUCKET, "a\x00b", b"x")


async def test_symlink_planted_in_bucket_is_never_followed(
    storage: FilesystemStorage, tmp_path: Path
) -> None:
    outside = tmp_path.parent / (tmp_path.name + "-outside")
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    os.symlink(outside, tmp_path / BUCKET / "link")
    os.symlink(outside / "secret", tmp_path / BUCKET / "file-link")
    with pytest.raises(NoSuchKey):
        await get(storage, BUCKET, "link/secret")
    with pytest.raises(NoSuchKey):
        await get(storage, BUCKET, "file-link")
    with pytest.raises(InvalidObjectName):
        await put(storage, BUCKET, "link/new", b"x")
    assert sorted(os.listdir(outside)) == ["secret"]
    page = await storage.list_objects(BUCKET, ListQuery())
    assert page.objects == ()


async def test_1024_byte_single_segment_key(storage: FilesystemStorage) -> None:
    key = "é" * 512
    assert len(key.encode()) == 1024
    await put(storage, BUCKET, key, b"long")
    assert await get(storage, BUCKET, key) == b"long"
    assert [o.key for o in (await storage.list_objects(BUCKET, ListQuery())).objects] == [key]


async def test_parent_is_object_and_object_exists_as_directory(storage: FilesystemStorage) -> None:
    await put(storage, BUCKET, "a", b"file")
    with pytest.raises(ParentIsObject):
        await put(storage, BUCKET, "a/b", b"x")
    await put(storage, BUCKET, "d/e", b"x")
    with pytest.raises(ObjectExistsAsDirectory):
        await put(storage, BUCKET, "d", b"x")
    assert await get(storage, BUCKET, "a") == b"file"


async def test_folder_marker_coexists_with_children(storage: FilesystemStorage) -> None:
    await put(storage, BUCKET, "a/", b"")
    await put(storage, BUCKET, "a/b", b"child")
    assert await get(storage, BUCKET, "a/") == b""
    await storage.delete_object(BUCKET, "a/b")
    assert await get(storage, BUCKET, "a/") == b""
    assert [o.key for o in (await storage.list_objects(BUCKET, ListQuery())).objects] == ["a/"]


# -- atomic writes ---------------------------------------------------------------------------------------------
async def test_reader_opened_before_replace_reads_the_old_body(storage: FilesystemStorage) -> None:
    old = os.urandom(300_000)  # large enough for threaded reads
    await put(storage, BUCKET, "k", old)
    reader = await storage.open_object(BUCKET, "k")
    await put(storage, BUCKET, "k", b"new")
    data = b"".join([c async for c in reader.iter_bytes(None, 65536)])
    assert data == old
    assert reader.info.etag == md5_hex(old)
    assert await get(storage, BUCKET, "k") == b"new"


async def test_failed_build_stores_nothing_and_leaves_no_temp(
    storage: FilesystemStorage, tmp_path: Path
) -> None:
    await put(storage, BUCKET, "k", b"old")
    digest = Md5Digest()
    with pytest.raises(BadDigest):
        await storage.write_object(
            BUCKET, "k", _body(b"new" * 1000), digest=digest, build=failing_build(BadDigest())
        )
    assert await get(storage, BUCKET, "k") == b"old"
    assert _tmp_files(tmp_path) == []


async def test_refused_condition_leaves_old_object_and_no_temp(
    storage: FilesystemStorage, tmp_path: Path
) -> None:
    await put(storage, BUCKET, "k", b"old")
    with pytest.raises(PreconditionFailed):
        await put(storage, BUCKET, "k", b"new", condition=refuse)
    assert await get(storage, BUCKET, "k") == b"old"
    assert _tmp_files(tmp_path) == []


async def test_large_body_is_streamed_in_batches(storage: FilesystemStorage) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    digest = Md5Digest()
    info = await storage.write_object(
        BUCKET, "big", _body(data, 64 * 1024), digest=digest, build=md5_build(digest)
    )
    assert info.size == len(data) and info.etag == hashlib.md5(data).hexdigest()
    assert await get(storage, BUCKET, "big") == data


# -- crash leftovers ---------------------------------------------------------------------------------------------
async def test_start_removes_temps_of_dead_writers_only(tmp_path: Path) -> None:
    backend = FilesystemStorage(tmp_path, fsync=False)
    await backend.start()
    dead_pid = _dead_pid()
    tmp = tmp_path / ".smarts3" / "tmp"
    (tmp / f"t{dead_pid}-abc").write_bytes(b"junk")
    live = fsutil.temp_name()
    (tmp / live).write_bytes(b"in progress")
    # an earlier process that had our pid (a container's server is always pid 1) is dead too
    (tmp / f"t{os.getpid()}-0123abcdearlier").write_bytes(b"junk of an earlier run")
    await FilesystemStorage(tmp_path, fsync=False).start()
    assert sorted(os.listdir(tmp)) == [live]


async def test_interrupted_commit_whose_temp_is_lost_rolls_back(
    storage: FilesystemStorage, tmp_path: Path
) -> None:
    """A commit dies between "rename sidecar" and "rename data" and its temp is gone: old data, old metadata."""
    await put(storage, BUCKET, "k", b"old")
    real_rename = os.replace
    data_path = tmp_path / BUCKET / "k"

    def crash_on_data(src: object, dst: object) -> None:
        if Path(str(dst)) == data_path:
            raise SystemExit("crash")
        real_rename(src, dst)  # type: ignore[arg-type]

    real_exchange = fsutil.exchange_into

    def crash_on_data_exchange(src: str, dst: str) -> bool:
        if Path(str(dst)) == data_path:
            raise SystemExit("crash")
        return real_exchange(src, dst)

    os.replace = crash_on_data  # type: ignore[assignment]
    fsutil.exchange_into = crash_on_data_exchange  # the data step where the kernel can exchange
    try:
        with pytest.raises(SystemExit):
            await put(storage, BUCKET, "k", b"new")
    finally:
        os.replace = real_rename
        fsutil.exchange_into = real_exchange
    # the temp was discarded by the failing writer: the reader must roll back to the old metadata
    fresh = FilesystemStorage(tmp_path, fsync=False)
    info = await fresh.head_object(BUCKET, "k")
    assert (info.etag, info.size) == (md5_hex(b"old"), 3)
    assert await get(fresh, BUCKET, "k") == b"old"


async def test_pending_temp_is_rolled_forward(storage: FilesystemStorage, tmp_path: Path) -> None:
    """A sidecar naming a temp that still exists (writer died after the sidecar rename) is completed."""
    await put(storage, BUCKET, "k", b"old")
    sidecar = _sidecar(tmp_path, "k")
    doc = json.loads(sidecar.read_bytes())
    temp = tmp_path / ".smarts3" / "tmp" / "t999999999-pending"
    temp.write_bytes(b"brand new")
    st = temp.stat()
    doc["prev"] = {"id": doc["id"], "obj": doc["obj"]}
    doc["id"] = [st.st_ino, st.st_size, st.st_mtime_ns]
    doc["pending"] = temp.name
    doc["obj"] = dict(doc["obj"], etag=md5_hex(b"brand new"), size=9)
    sidecar.write_text(json.dumps(doc))
    fresh = FilesystemStorage(tmp_path, fsync=False)
    assert await get(fresh, BUCKET, "k") == b"brand new"
    assert (await fresh.head_object(BUCKET, "k")).etag == md5_hex(b"brand new")
    assert not temp.exists()


async def test_sidecar_without_data_is_an_absent_object(storage: FilesystemStorage, tmp_path: Path) -> None:
    await put(storage, BUCKET, "gone", b"x")
    os.unlink(tmp_path / BUCKET / "gone")
    with pytest.raises(NoSuchKey):
        await storage.head_object(BUCKET, "gone")
    assert (await storage.list_objects(BUCKET, ListQuery())).objects == ()


# -- files written by other programs -----------------------------------------------------------------------------
async def test_external_file_appears_with_md5_etag(storage: FilesystemStorage, tmp_path: Path) -> None:
    (tmp_path / BUCKET / "ext").mkdir()
    (tmp_path / BUCKET / "ext" / "data.bin").write_bytes(b"from elsewhere")
    info = await storage.head_object(BUCKET, "ext/data.bin")
    assert info.etag == md5_hex(b"from elsewhere")
    assert info.content_type == "binary/octet-stream"
    assert _sidecar(tmp_path, "ext/data.bin").exists()  # cached for the next read
    assert await get(storage, BUCKET, "ext/data.bin") == b"from elsewhere"


async def test_file_changed_behind_our_back_gets_a_new_etag(
    storage: FilesystemStorage, tmp_path: Path
) -> None:
    await put(storage, BUCKET, "k", b"ours")
    path = tmp_path / BUCKET / "k"
    path.write_bytes(b"theirs, longer")
    info = await storage.head_object(BUCKET, "k")
    assert (info.etag, info.size) == (md5_hex(b"theirs, longer"), 14)


# -- disk faults ----------------------------------------------------------------------------------------------------
async def test_disk_full_raises_insufficient_storage_and_keeps_old_object(
    storage: FilesystemStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await put(storage, BUCKET, "k", b"old")
    real_write = os.write
    written = [0]

    def full(fd: int, data: bytes) -> int:
        written[0] += len(data)
        if written[0] > 1000:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(InsufficientStorage):
        await put(storage, BUCKET, "k", b"n" * 5000)
    monkeypatch.undo()
    assert await get(storage, BUCKET, "k") == b"old"
    assert _tmp_files(tmp_path) == []


async def test_check_ready_reports_unwritable_storage(
    storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    await storage.check_ready()

    def readonly(*args: object, **kwargs: object) -> int:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "open", readonly)
    with pytest.raises(InsufficientStorage):
        await storage.check_ready()


async def _body(data: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


# -- consistency under concurrency and hard kills -------------------------------------------------------------------
async def test_concurrent_readers_never_see_bytes_of_another_version(storage: FilesystemStorage) -> None:
    bodies = [os.urandom(size) for size in (10, 70_000, 200_000, 5)]
    await put(storage, BUCKET, "hot", bodies[0])
    stop = asyncio.Event()

    async def writer() -> None:
        try:
            for n in range(60):
                await put(storage, BUCKET, "hot", bodies[n % len(bodies)])
                await asyncio.sleep(0)  # without fsync small bodies commit inline: let the readers run
        finally:
            stop.set()

    async def reader() -> int:
        reads = 0
        while not stop.is_set():
            opened = await storage.open_object(BUCKET, "hot")
            data = b"".join([c async for c in opened.iter_bytes(None, 32_768)])
            assert md5_hex(data) == opened.info.etag and len(data) == opened.info.size
            reads += 1
            await asyncio.sleep(0)  # small objects are read inline: let the writer run
        return reads

    results = await asyncio.gather(writer(), reader(), reader(), reader())
    assert sum(r for r in results if r) > 0


_KILL_SCRIPT = """
import asyncio, os, sys
from pathlib import Path
from typing import Any
from smarts3.adapters.storage.filesystem import FilesystemStorage
from smarts3.testing.contract.helpers import put

async def main():
    storage = FilesystemStorage(Path(sys.argv[1]), fsync=False)
    n = 0
    while True:
        n += 1
        versioning = "Enabled" if n % 3 == 0 else None
        await put(storage, "bkt", f"k{n % 4}", os.urandom(1000 + n % 50_000), versioning=versioning,
                  version_id=f"v{n:08d}" if versioning else None)
        if n == 20:
            print("ready", flush=True)

asyncio.run(main())
"""


def _run_and_kill(root: Path, seconds: float) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, str(root)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(seconds)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


async def test_sigkilled_writer_leaves_every_object_consistent(tmp_path: Path) -> None:
    backend = FilesystemStorage(tmp_path, fsync=False)
    await backend.start()
    await backend.create_bucket(BUCKET, region="us-east-1")
    for attempt in range(3):
        await asyncio.to_thread(_run_and_kill, tmp_path, 0.2 + attempt * 0.13)
        restarted = FilesystemStorage(tmp_path, fsync=False)
        await restarted.start()
        for n in range(4):
            try:
                opened = await restarted.open_object(BUCKET, f"k{n}")
            except NoSuchKey:
                continue
            data = b"".join([c async for c in opened.iter_bytes()])
            assert md5_hex(data) == opened.info.etag and len(data) == opened.info.size
        assert _tmp_files(tmp_path) == []


@pytest.mark.parametrize("fsync", [False, True])
async def test_a_put_racing_delete_bucket_does_not_bring_the_bucket_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    """DeleteBucket removes the bucket's directories while a PUT is between its bucket check and its renames:
    the PUT is NoSuchBucket and makes nothing again (the racing-prune retries used to re-create the bucket's
    whole directory chain, so a deleted bucket came back in ListBuckets)."""
    import shutil

    backend = FilesystemStorage(tmp_path, fsync=fsync)
    await backend.start()
    await backend.create_bucket("gone", region="us-east-1")
    real = fsutil.make_dirs

    def delete_bucket_first(path: Any, **kwargs: Any) -> None:
        shutil.rmtree(tmp_path / "gone", ignore_errors=True)
        shutil.rmtree(tmp_path / ".smarts3" / "buckets" / "gone", ignore_errors=True)
        real(path, **kwargs)

    monkeypatch.setattr(fsutil, "make_dirs", delete_bucket_first)
    try:
        with pytest.raises(NoSuchBucket):
            await put(backend, "gone", "deep/er/key", b"late")
        monkeypatch.setattr(fsutil, "make_dirs", real)
        assert not (tmp_path / "gone").exists()
        assert not (tmp_path / ".smarts3" / "buckets" / "gone").exists()
        assert [b.name for b in await backend.list_buckets()] == []
    finally:
        await backend.close()


def test_make_dirs_and_rename_into_never_make_their_root(tmp_path: Path) -> None:
    missing = tmp_path / "bucket"
    with pytest.raises(FileNotFoundError):
        fsutil.make_dirs(missing / "a" / "b", fsync=False, root=missing)
    source = tmp_path / "source"
    source.write_bytes(b"x")
    with pytest.raises(FileNotFoundError):
        fsutil.rename_into(source, missing / "a" / "object", missing)
    assert not missing.exists() and source.exists()
    missing.mkdir()
    fsutil.make_dirs(missing / "a" / "b", fsync=True, root=missing)
    fsutil.rename_into(source, missing / "c" / "object", missing)
    assert (missing / "a" / "b").is_dir() and (missing / "c" / "object").read_bytes() == b"x"


async def test_keys_whose_first_segment_starts_with_two_dots_are_stored(storage: FilesystemStorage) -> None:
    """``..a/b`` is an ordinary key (only ``..`` alone is a path trick): making its directory below the bucket's
    root took the first segment for a climb out of the root (500)."""
    for key in ("..a/b", "...ellipsis/y", "..c/d/e"):
        await put(storage, BUCKET, key, key.encode())
        assert await get(storage, BUCKET, key) == key.encode()


@pytest.mark.parametrize("landed", [True, False])
async def test_delete_bucket_racing_writers_is_bucket_not_empty_or_done_never_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, landed: bool
) -> None:
    """DeleteBucket found no files, then removes the tree while writers are at work in it: a directory pruned
    under it is fine, a file landed meanwhile makes the bucket not empty; both were 500."""
    import shutil

    from smarts3.adapters.storage.filesystem import backend as backend_module
    from smarts3.domain.errors import BucketNotEmpty

    storage = FilesystemStorage(tmp_path, fsync=False)
    await storage.start()
    await storage.create_bucket("racing", region="us-east-1")
    real = shutil.rmtree
    calls: list[str] = []

    def racing_rmtree(path: Any, *args: Any, **kwargs: Any) -> None:
        if str(path).endswith("/racing") and not calls:
            calls.append(str(path))
            if landed:
                raise OSError(errno.ENOTEMPTY, "Directory not empty", str(path))
            raise FileNotFoundError(errno.ENOENT, "pruned meanwhile", f"{path}/d1")
        real(path, *args, **kwargs)

    monkeypatch.setattr(backend_module.shutil, "rmtree", racing_rmtree)
    try:
        if landed:
            with pytest.raises(BucketNotEmpty):
                await storage.delete_bucket("racing")
        else:
            await storage.delete_bucket("racing")
            assert [b.name for b in await storage.list_buckets()] == []
        assert calls
    finally:
        monkeypatch.setattr(backend_module.shutil, "rmtree", real)
        await storage.close()
