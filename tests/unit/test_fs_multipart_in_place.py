"""Multipart parts written in place (multipart.py): completing an upload whose parts line up renames the upload's
data file into the object without copying, and every case that does not line up still gives the right bytes."""

from __future__ import annotations

import asyncio
import errno
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from smarts3.adapters.storage.filesystem import FilesystemStorage, bodies
from smarts3.adapters.storage.filesystem import multipart as mp
from smarts3.adapters.storage.filesystem.maintenance import collect_garbage
from smarts3.domain.errors import (
    IncompleteBody,
    InsufficientStorage,
    InvalidPart,
    InvalidRequest,
    NoSuchKey,
    NoSuchUpload,
    PreconditionFailed,
)
from smarts3.domain.models import PartInfo
from smarts3.testing.contract.helpers import (
    Md5Digest,
    chunks,
    get,
    md5_build,
    part_build,
    put_part,
    refuse,
    upload_info,
)

BUCKET = "bkt"
STRIDE = 4096


@pytest.fixture
async def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FilesystemStorage]:
    # small parts take the in-place path too (the defaults are 1 MiB and 64 KiB)
    monkeypatch.setattr(mp, "MIN_STRIDE", 1024)
    monkeypatch.setattr(mp, "STRIDE_ALIGN", 1024)
    monkeypatch.setattr(mp, "MIN_FULL_PART", 1024)
    backend = FilesystemStorage(tmp_path, fsync=True)
    await backend.start()
    await backend.create_bucket(BUCKET, region="us-east-1")
    await backend.create_upload(upload_info(BUCKET, "k", "u1"))
    yield backend


def upload_dir(storage: FilesystemStorage, upload_id: str = "u1") -> Path:
    return storage.uploads.upload_dir(BUCKET, upload_id)


def data_inode(storage: FilesystemStorage) -> int:
    return os.stat(upload_dir(storage) / mp.DATA_NAME).st_ino


def object_inode(storage: FilesystemStorage, key: str = "k") -> int:
    return os.stat(storage.objects.paths(BUCKET, key).data_s).st_ino


async def complete(storage: FilesystemStorage, parts: list[PartInfo], **kwargs: object) -> int:
    digest = Md5Digest()
    info = await storage.complete_upload(
        BUCKET,
        "k",
        "u1",
        parts,
        digest=digest,
        build=md5_build(digest),
        **kwargs,  # type: ignore[arg-type]
    )
    return info.size


def blocks(*sizes: int) -> list[bytes]:
    return [bytes([65 + n]) * size for n, size in enumerate(sizes)]


async def test_parts_that_line_up_become_the_object_without_a_copy(storage: FilesystemStorage) -> None:
    data = blocks(STRIDE, STRIDE, STRIDE, 1000)
    parts = [await put_part(storage, BUCKET, "k", "u1", n + 1, d) for n, d in enumerate(data)]
    assert os.readlink(upload_dir(storage) / mp.STRIDE_NAME) == str(STRIDE)
    assert not [name for name in os.listdir(upload_dir(storage)) if name.startswith("p0000") and "-" in name]
    inode = data_inode(storage)
    assert await complete(storage, parts) == 3 * STRIDE + 1000
    assert object_inode(storage) == inode  # renamed, not copied
    assert await get(storage, BUCKET, "k") == b"".join(data)
    with pytest.raises(NoSuchUpload):
        await storage.get_upload(BUCKET, "k", "u1")


async def test_parts_sent_out_of_order_land_in_their_places(storage: FilesystemStorage) -> None:
    data = blocks(STRIDE, STRIDE, STRIDE, 10)
    order = [2, 4, 1, 3]  # part 2 sets the stride (an aligned size); the short last part fits its region
    done = {n: await put_part(storage, BUCKET, "k", "u1", n, data[n - 1]) for n in order}
    inode = data_inode(storage)
    await complete(storage, [done[n] for n in (1, 2, 3, 4)])
    assert object_inode(storage) == inode
    assert await get(storage, BUCKET, "k") == b"".join(data)


async def test_a_last_part_larger_than_the_stride_is_appended(storage: FilesystemStorage) -> None:
    data = blocks(STRIDE, STRIDE, 3 * STRIDE + 5)
    parts = [await put_part(storage, BUCKET, "k", "u1", n + 1, d) for n, d in enumerate(data)]
    inode = data_inode(storage)
    assert await complete(storage, parts) == 5 * STRIDE + 5
    assert object_inode(storage) == inode
    assert await get(storage, BUCKET, "k") == b"".join(data)


async def test_a_part_sent_again_goes_apart_and_wins(storage: FilesystemStorage) -> None:
    first = await put_part(storage, BUCKET, "k", "u1", 1, b"a" * STRIDE)
    again = await put_part(storage, BUCKET, "k", "u1", 1, b"z" * STRIDE)  # its region is claimed: apart
    assert first.etag != again.etag
    second = await put_part(storage, BUCKET, "k", "u1", 2, b"b" * 100)
    with pytest.raises(InvalidPart):
        await complete(storage, [first, second])  # the first upload of part 1 is gone
    await complete(storage, [again, second])
    assert await get(storage, BUCKET, "k") == b"z" * STRIDE + b"b" * 100


async def test_parts_that_do_not_line_up_are_copied(storage: FilesystemStorage) -> None:
    one = await put_part(storage, BUCKET, "k", "u1", 1, b"a" * STRIDE)
    two = await put_part(storage, BUCKET, "k", "u1", 2, b"b" * 1000)  # short, but not the last part
    three = await put_part(storage, BUCKET, "k", "u1", 3, b"c" * STRIDE)
    inode = data_inode(storage)
    await complete(storage, [one, two, three])
    assert object_inode(storage) != inode
    assert await get(storage, BUCKET, "k") == b"a" * STRIDE + b"b" * 1000 + b"c" * STRIDE


async def test_completing_with_fewer_parts_than_sent_copies_them(storage: FilesystemStorage) -> None:
    parts = [
        await put_part(storage, BUCKET, "k", "u1", n + 1, d) for n, d in enumerate(blocks(*[STRIDE] * 3))
    ]
    inode = data_inode(storage)
    await complete(storage, parts[:2])  # part 3 lives in the data file: truncating would destroy it
    assert object_inode(storage) != inode
    assert await get(storage, BUCKET, "k") == b"A" * STRIDE + b"B" * STRIDE


async def test_a_refused_complete_gives_the_upload_back_whole(storage: FilesystemStorage) -> None:
    data = blocks(STRIDE, STRIDE, 3 * STRIDE)  # the last part is appended before the commit is refused
    parts = [await put_part(storage, BUCKET, "k", "u1", n + 1, d) for n, d in enumerate(data)]
    with pytest.raises(PreconditionFailed):
        await complete(storage, parts, condition=refuse)
    assert [p.part_number for p in await storage.list_parts(BUCKET, "k", "u1")] == [1, 2, 3]
    assert await complete(storage, parts) == 5 * STRIDE
    assert await get(storage, BUCKET, "k") == b"".join(data)


async def test_a_body_that_fails_half_way_frees_its_region(storage: FilesystemStorage) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise IncompleteBody()

    digest = Md5Digest()
    with pytest.raises(IncompleteBody):
        await storage.write_part(
            BUCKET, "k", "u1", 1, broken(), digest=digest, build=part_build(digest, 1), size=STRIDE
        )
    assert await storage.list_parts(BUCKET, "k", "u1") == []
    assert not (upload_dir(storage) / "p00001.slot").exists()
    part = await put_part(storage, BUCKET, "k", "u1", 1, b"y" * STRIDE)
    inode = data_inode(storage)
    await complete(storage, [part])
    assert object_inode(storage) == inode  # the region was written in place again
    assert await get(storage, BUCKET, "k") == b"y" * STRIDE


async def test_a_body_longer_than_declared_never_reaches_the_next_region(storage: FilesystemStorage) -> None:
    two = await put_part(storage, BUCKET, "k", "u1", 2, b"b" * STRIDE)  # sets the stride
    digest = Md5Digest()
    with pytest.raises(InvalidRequest):
        await storage.write_part(
            BUCKET,
            "k",
            "u1",
            1,
            chunks([b"a" * STRIDE, b"a" * 10]),
            digest=digest,
            build=part_build(digest, 1),
            size=STRIDE,
        )
    assert [p.part_number for p in await storage.list_parts(BUCKET, "k", "u1")] == [2]
    one = await put_part(storage, BUCKET, "k", "u1", 1, b"a" * STRIDE)
    await complete(storage, [one, two])
    assert await get(storage, BUCKET, "k") == b"a" * STRIDE + b"b" * STRIDE


async def test_a_complete_never_lets_a_late_part_write_into_the_object(storage: FilesystemStorage) -> None:
    one = await put_part(storage, BUCKET, "k", "u1", 1, b"a" * STRIDE)
    gate = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"late" * 256
        await gate.wait()
        yield b"late" * 256

    digest = Md5Digest()
    late = asyncio.create_task(
        storage.write_part(
            BUCKET, "k", "u1", 2, slow(), digest=digest, build=part_build(digest, 2), size=STRIDE
        )
    )
    await asyncio.sleep(
        0.1
    )  # part 2 holds its region (and the shared lock) and waits for the rest of its body
    inode = data_inode(storage)
    await complete(storage, [one])
    assert object_inode(storage) != inode  # copied out: the writer still holds the data file
    gate.set()
    with pytest.raises(NoSuchUpload):
        await late
    assert not upload_dir(storage).exists()  # its json did not bring the directory back
    assert await get(storage, BUCKET, "k") == b"a" * STRIDE
    assert os.stat(storage.objects.paths(BUCKET, "k").data_s).st_size == STRIDE


async def test_parallel_writers_of_one_part_never_mix_their_bytes(storage: FilesystemStorage) -> None:
    bodies = [bytes([97 + n]) * STRIDE for n in range(6)]
    written = await asyncio.gather(*(put_part(storage, BUCKET, "k", "u1", 1, b) for b in bodies))
    listed = await storage.list_parts(BUCKET, "k", "u1")
    assert len(listed) == 1 and listed[0].etag in {p.etag for p in written}
    winner = next(p for p in written if p.etag == listed[0].etag)
    await complete(storage, [winner])
    assert await get(storage, BUCKET, "k") == bodies[written.index(winner)]


async def test_a_data_file_shorter_than_its_parts_is_an_invalid_part_not_zeros(
    storage: FilesystemStorage,
) -> None:
    parts = [
        await put_part(storage, BUCKET, "k", "u1", n + 1, d) for n, d in enumerate(blocks(STRIDE, STRIDE))
    ]
    os.truncate(upload_dir(storage) / mp.DATA_NAME, STRIDE)  # as a crash with fsync off may leave it
    with pytest.raises(InvalidPart):
        await complete(storage, parts)
    with pytest.raises(NoSuchKey):
        await storage.head_object(BUCKET, "k")
    assert [p.part_number for p in await storage.list_parts(BUCKET, "k", "u1")] == [1, 2]  # kept, as S3 does


async def test_abort_removes_the_data_file(storage: FilesystemStorage) -> None:
    await put_part(storage, BUCKET, "k", "u1", 1, b"a" * STRIDE)
    directory = upload_dir(storage)
    assert (directory / mp.DATA_NAME).exists()
    await storage.abort_upload(BUCKET, "k", "u1")
    assert not directory.exists()
    assert not [name for name in os.listdir(directory.parent) if not name.startswith(".")]


async def test_small_or_unsized_parts_are_written_apart(storage: FilesystemStorage) -> None:
    digest = Md5Digest()
    unsized = await storage.write_part(
        BUCKET, "k", "u1", 1, chunks([b"a" * STRIDE]), digest=digest, build=part_build(digest, 1)
    )
    small = await put_part(storage, BUCKET, "k", "u1", 2, b"b" * 100)  # below MIN_STRIDE: sets no stride
    assert not (upload_dir(storage) / mp.STRIDE_NAME).exists()
    assert not (upload_dir(storage) / mp.DATA_NAME).exists()
    await complete(storage, [unsized, small])
    assert await get(storage, BUCKET, "k") == b"a" * STRIDE + b"b" * 100


async def test_gc_keeps_the_data_file_its_claims_and_the_stride(storage: FilesystemStorage) -> None:
    parts = [await put_part(storage, BUCKET, "k", "u1", n + 1, d) for n, d in enumerate(blocks(STRIDE, 10))]
    stray = upload_dir(storage) / "p00009-0123abcd"  # a part file no record names: gc's to remove
    stray.write_bytes(b"x")
    names = set(os.listdir(upload_dir(storage)))
    # upload_age: the test upload was initiated in 1970
    found = collect_garbage(storage, upload_age=1e12, temp_age=0, apply=True, now=time.time() + 3600)
    assert [f.kind for f in found] == ["orphan-part"]
    assert set(os.listdir(upload_dir(storage))) == names - {stray.name}
    inode = data_inode(storage)
    await complete(storage, parts)
    assert object_inode(storage) == inode


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


@pytest.mark.parametrize("committed", [False, True])
async def test_start_puts_back_the_data_file_of_a_complete_that_died(
    storage: FilesystemStorage, tmp_path: Path, committed: bool
) -> None:
    data = blocks(STRIDE, STRIDE, 7)
    parts = [await put_part(storage, BUCKET, "k", "u1", n + 1, d) for n, d in enumerate(data)]
    # what a completer leaves when killed after moving the data file out and before its commit took it
    dead = _dead_pid()
    busy = upload_dir(storage).parent / f".busy-complete-t{dead}-0123abcd-u1"
    os.rename(upload_dir(storage), busy)
    temp = storage.layout.tmp / f"t{dead}-0123abcd000000000001"
    inode = os.stat(busy / mp.DATA_NAME).st_ino
    os.symlink(f"{temp.name}:{inode}", busy / mp.ASSEMBLED_NAME)
    os.rename(busy / mp.DATA_NAME, temp)
    if committed:
        # the commit went through: the temp's name now holds the object it replaced (another file)
        os.rename(temp, tmp_path / "object")
        temp.write_bytes(b"the previous object")
    await FilesystemStorage(tmp_path, fsync=False).start()
    assert not temp.exists()
    if committed:
        # the upload is complete (its data is the object): gone, as on S3, never given back without its data
        with pytest.raises(NoSuchUpload):
            await storage.list_parts(BUCKET, "k", "u1")
        assert os.listdir(upload_dir(storage).parent) == []
    else:
        assert [p.part_number for p in await storage.list_parts(BUCKET, "k", "u1")] == [1, 2, 3]
        assert not (upload_dir(storage) / mp.ASSEMBLED_NAME).exists()
        await complete(storage, parts)  # the client's retry
        assert await get(storage, BUCKET, "k") == b"".join(data)


async def test_a_part_written_in_place_is_sent_to_disk_while_it_streams(
    storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[int] = []
    monkeypatch.setattr(mp.fsutil, "start_writeback", lambda fd: started.append(fd))
    monkeypatch.setattr(bodies, "WRITEBACK_EVERY", 1024)
    digest = Md5Digest()
    part = await storage.write_part(
        BUCKET,
        "k",
        "u1",
        1,
        chunks([b"a" * 1024] * 4),
        digest=digest,
        build=part_build(digest, 1),
        size=STRIDE,
    )
    assert len(started) == 1  # the body arrived as one batch, which crossed the threshold
    await complete(storage, [part])
    assert await get(storage, BUCKET, "k") == b"a" * STRIDE


async def test_a_complete_that_fails_after_its_commit_never_gives_the_upload_back_without_data(
    storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = blocks(STRIDE, STRIDE, 7)
    parts = [await put_part(storage, BUCKET, "k", "u1", n + 1, d) for n, d in enumerate(data)]

    def failing_settle(committed: object) -> None:
        raise OSError(errno.EIO, "I/O error")  # e.g. a directory fsync after the rename

    monkeypatch.setattr(storage.objects, "settle", failing_settle)
    with pytest.raises(InsufficientStorage):
        await complete(storage, parts)
    monkeypatch.undo()
    assert await get(storage, BUCKET, "k") == b"".join(data)  # the commit went through
    with pytest.raises(NoSuchUpload):
        await storage.list_parts(BUCKET, "k", "u1")  # complete: not an upload whose parts point nowhere


async def test_a_part_in_place_is_never_read_from_another_data_file(storage: FilesystemStorage) -> None:
    parts = [
        await put_part(storage, BUCKET, "k", "u1", n + 1, d) for n, d in enumerate(blocks(STRIDE, STRIDE))
    ]
    os.unlink(upload_dir(storage) / mp.DATA_NAME)  # lost (how it went does not matter)
    os.unlink(upload_dir(storage) / "p00002.slot")
    again = await put_part(storage, BUCKET, "k", "u1", 2, b"B" * STRIDE)  # makes a new, sparse data file
    assert (upload_dir(storage) / mp.DATA_NAME).exists()
    with pytest.raises(InvalidPart):
        await complete(storage, [parts[0], again])  # part 1 lives in the lost file: never zeros
    with pytest.raises(NoSuchKey):
        await storage.head_object(BUCKET, "k")


async def test_a_published_part_keeps_its_claim_when_the_directory_fsync_fails(
    storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = mp.fsutil.fsync_dir

    def failing(path: object) -> None:
        if str(path) == str(upload_dir(storage)):
            raise OSError(errno.EIO, "I/O error")
        real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(mp.fsutil, "fsync_dir", failing)
    with pytest.raises(InsufficientStorage):
        await put_part(storage, BUCKET, "k", "u1", 1, b"A" * STRIDE)
    monkeypatch.undo()
    listed = await storage.list_parts(BUCKET, "k", "u1")  # the json did replace the old one
    assert [p.part_number for p in listed] == [1]
    assert (upload_dir(storage) / "p00001.slot").exists()  # so nobody may write its region again
    again = await put_part(storage, BUCKET, "k", "u1", 1, b"Z" * STRIDE)  # written apart
    with pytest.raises(InvalidPart):
        await complete(storage, listed)  # replaced by the part sent again
    await complete(storage, [again])
    assert await get(storage, BUCKET, "k") == b"Z" * STRIDE


async def test_a_disk_error_while_claiming_a_region_is_insufficient_storage(
    storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.open

    def full(path: object, *args: object, **kwargs: object) -> int:
        if str(path).endswith(".slot"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(mp.os, "open", full)
    with pytest.raises(InsufficientStorage):
        await put_part(storage, BUCKET, "k", "u1", 1, b"A" * STRIDE)


async def test_a_cancelled_part_frees_the_region_its_thread_claimed(
    storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real = storage.uploads.place

    def slow_place(*args: Any) -> mp.PartSlot | None:
        release.wait(5)
        return real(*args)

    monkeypatch.setattr(storage.uploads, "place", slow_place)
    writing = asyncio.create_task(put_part(storage, BUCKET, "k", "u1", 1, b"A" * STRIDE))
    await asyncio.sleep(0.05)
    writing.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await writing
    for _ in range(100):  # the thread finishes, then the claim it made is given up
        if (upload_dir(storage) / mp.STRIDE_NAME).exists() and not (
            upload_dir(storage) / "p00001.slot"
        ).exists():
            break
        await asyncio.sleep(0.01)
    assert not (upload_dir(storage) / "p00001.slot").exists()
    monkeypatch.undo()
    part = await put_part(storage, BUCKET, "k", "u1", 1, b"A" * STRIDE)
    inode = data_inode(storage)
    await complete(storage, [part])
    assert object_inode(storage) == inode  # written in place: the region was free again


async def test_a_short_part_other_than_the_first_does_not_set_the_stride(
    storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mp, "MIN_FULL_PART", 2 * STRIDE)  # STRIDE-sized parts are "short" here
    last = await put_part(storage, BUCKET, "k", "u1", 3, b"c" * STRIDE)  # the last part, arriving first
    assert not (upload_dir(storage) / mp.STRIDE_NAME).exists()
    first = await put_part(storage, BUCKET, "k", "u1", 1, b"a" * 2 * STRIDE)
    second = await put_part(storage, BUCKET, "k", "u1", 2, b"b" * 2 * STRIDE)
    assert os.readlink(upload_dir(storage) / mp.STRIDE_NAME) == str(2 * STRIDE)
    inode = data_inode(storage)
    await complete(storage, [first, second, last])
    assert object_inode(storage) == inode
    assert await get(storage, BUCKET, "k") == b"a" * 2 * STRIDE + b"b" * 2 * STRIDE + b"c" * STRIDE


async def test_a_data_file_that_cannot_be_put_back_leaves_the_upload_taken_not_dropped(
    storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = [await put_part(storage, BUCKET, "k", "u1", n + 1, d) for n, d in enumerate(blocks(STRIDE, 7))]
    real = os.rename

    def failing(source: object, target: object) -> None:
        if str(target).endswith(f"{os.sep}{mp.DATA_NAME}"):
            raise OSError(errno.EIO, "I/O error")  # putting data back after the refused commit
        real(source, target)  # type: ignore[arg-type]

    monkeypatch.setattr(mp.os, "rename", failing)
    with pytest.raises(PreconditionFailed):
        await complete(storage, parts, condition=refuse)
    monkeypatch.undo()
    # not given back (its data is out) and not dropped either: start-up or gc settle it once the disk works
    busy = [p for p in upload_dir(storage).parent.iterdir() if p.name.startswith(mp.BUSY_PREFIX)]
    assert len(busy) == 1 and (busy[0] / "p00001.json").exists()
    assert len(os.listdir(storage.layout.tmp)) == 1  # the data file, kept


async def test_only_one_of_two_recoverers_settles_an_interrupted_complete(storage: FilesystemStorage) -> None:
    await put_part(storage, BUCKET, "k", "u1", 1, b"a" * STRIDE)
    busy = upload_dir(storage).parent / f".busy-complete-t{_dead_pid()}-0123abcd-u1"
    os.rename(upload_dir(storage), busy)
    first = storage.uploads.claim_busy(busy, "complete", "u1")
    assert first is not None and first.exists()
    assert storage.uploads.claim_busy(busy, "complete", "u1") is None  # the other one finds nothing to do
    storage.uploads.give_back(first, BUCKET, "u1")
    assert [p.part_number for p in await storage.list_parts(BUCKET, "k", "u1")] == [1]


async def test_parts_written_in_place_before_names_carried_the_inode_still_complete(
    storage: FilesystemStorage,
) -> None:
    parts = [await put_part(storage, BUCKET, "k", "u1", n + 1, d) for n, d in enumerate(blocks(STRIDE, 9))]
    for n in (1, 2):  # as the first version wrote them: "@<offset>"
        path = upload_dir(storage) / f"p{n:05d}.json"
        path.write_bytes(re.sub(rb'"@(\d+):\d+"', rb'"@\1"', path.read_bytes()))
    inode = data_inode(storage)
    await complete(storage, parts)
    assert object_inode(storage) == inode
    assert await get(storage, BUCKET, "k") == b"".join(blocks(STRIDE, 9))
