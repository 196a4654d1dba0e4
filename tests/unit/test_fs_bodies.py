"""Streaming bodies into temp files: batches are written in a thread while the next is received, and a body
that fails midway leaves nothing behind (no temp file, no descriptor closed under a writing thread)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator

import pytest

from smarts3.adapters.storage.filesystem import FilesystemStorage
from smarts3.adapters.storage.filesystem import bodies as bodies_module
from smarts3.domain.errors import IncompleteBody
from smarts3.testing.contract.helpers import Md5Digest, chunks, get, md5_build, put

BUCKET = "bkt"
MIB = 1 << 20


async def _failing_body(good: int, error: BaseException) -> AsyncIterator[bytes]:
    for _ in range(good):
        yield b"a" * (256 * 1024)
    raise error


async def test_a_body_failing_midway_leaves_no_temp_file(fs_storage: FilesystemStorage) -> None:
    await put(fs_storage, BUCKET, "k", b"old")
    with pytest.raises(IncompleteBody):
        await fs_storage.write_object(
            BUCKET, "k", _failing_body(13, IncompleteBody()), digest=(d := Md5Digest()), build=md5_build(d)
        )
    assert os.listdir(fs_storage.layout.tmp) == []
    assert await get(fs_storage, BUCKET, "k") == b"old"


async def test_the_next_batch_is_received_while_the_previous_one_is_written(
    fs_storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Double buffering: the body iterator is asked for more while a batch write is still in its thread."""
    in_write = threading.Event()
    overlapped = []
    real_write = bodies_module.TempFile.write

    def slow_write(self: bodies_module.TempFile, chunks: list[bytes]) -> None:
        in_write.set()
        threading.Event().wait(0.05)
        real_write(self, chunks)
        in_write.clear()

    async def body() -> AsyncIterator[bytes]:
        for n in range(12):
            if n == 4:
                # a batch (2 chunks) was handed to a thread: with double buffering we run while it writes;
                # without, we would only run again once the write is over (in_write never seen set)
                for _ in range(100):
                    if in_write.is_set():
                        break
                    await asyncio.sleep(0.005)
                overlapped.append(in_write.is_set())
            yield b"b" * (512 * 1024)
            await asyncio.sleep(0)

    monkeypatch.setattr(bodies_module.TempFile, "write", slow_write)
    await fs_storage.write_object(BUCKET, "big", body(), digest=(d := Md5Digest()), build=md5_build(d))
    assert overlapped == [True], "no chunk was received while a batch was being written"
    assert await get(fs_storage, BUCKET, "big") == b"b" * (6 * MIB)
    assert os.listdir(fs_storage.layout.tmp) == []


async def test_cancelling_an_upload_waits_for_the_write_in_flight(
    fs_storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed_while_writing = []
    writing = threading.Event()
    real_write = bodies_module.TempFile.write
    real_discard = bodies_module.TempFile.discard

    def slow_write(self: bodies_module.TempFile, chunks: list[bytes]) -> None:
        writing.set()
        threading.Event().wait(0.2)
        real_write(self, chunks)
        writing.clear()

    def discard(self: bodies_module.TempFile) -> None:
        closed_while_writing.append(writing.is_set())
        real_discard(self)

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"c" * (256 * 1024)
            await asyncio.sleep(0)

    monkeypatch.setattr(bodies_module.TempFile, "write", slow_write)
    monkeypatch.setattr(bodies_module.TempFile, "discard", discard)
    task = asyncio.ensure_future(
        fs_storage.write_object(BUCKET, "gone", endless(), digest=(d := Md5Digest()), build=md5_build(d))
    )
    while not writing.is_set():
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert closed_while_writing == [False]
    assert os.listdir(fs_storage.layout.tmp) == []


@pytest.mark.parametrize("fsync", [True, False])
async def test_a_large_body_is_sent_to_disk_while_it_streams_when_fsync_is_on(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    started: list[int] = []
    monkeypatch.setattr(bodies_module.fsutil, "start_writeback", lambda fd: started.append(fd))
    storage = FilesystemStorage(tmp_path, fsync=fsync)  # type: ignore[arg-type]
    await storage.start()
    await storage.create_bucket(BUCKET, region="us-east-1")
    data = os.urandom(3 * bodies_module.WRITEBACK_EVERY + 5)
    pieces = [data[at : at + MIB] for at in range(0, len(data), MIB)]
    await storage.write_object(BUCKET, "big", chunks(pieces), digest=(d := Md5Digest()), build=md5_build(d))
    # with fsync, once per WRITEBACK_EVERY written (the final fsync then finds little left to write)
    assert len(started) == (3 if fsync else 0)
    assert await get(storage, BUCKET, "big") == data
    await storage.close()


def test_the_batch_shrinks_when_many_large_bodies_stream_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = {}
    for streaming in (0, 1, 2, 4, 8, 100):
        monkeypatch.setattr(bodies_module, "_streaming", streaming)
        sizes[streaming] = bodies_module.batch_size()
    assert sizes == {0: MIB, 1: MIB, 2: MIB, 4: MIB // 2, 8: MIB // 4, 100: bodies_module.BATCH_MIN}


async def test_parallel_large_bodies_write_smaller_batches_and_are_counted_out_again(
    fs_storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[int] = []
    real_write = bodies_module.TempFile.write

    def recording(self: bodies_module.TempFile, chunks: list[bytes]) -> None:
        written.append(sum(map(len, chunks)))
        real_write(self, chunks)

    monkeypatch.setattr(bodies_module.TempFile, "write", recording)

    async def body(n: int) -> AsyncIterator[bytes]:
        for _ in range(48):  # 3 MiB in 64 KiB chunks, handing the loop to the others in between
            yield bytes([n]) * (64 * 1024)
            await asyncio.sleep(0)

    async def upload(n: int) -> None:
        digest = Md5Digest()
        await fs_storage.write_object(BUCKET, f"k{n}", body(n), digest=digest, build=md5_build(digest))

    await asyncio.gather(*(upload(n) for n in range(8)))
    assert max(written) == MIB  # each body's first batch: nobody knew yet how many would stream
    assert min(written[8:-8]) <= MIB // 4  # then eight at once share 2 MiB
    assert bodies_module._streaming == 0
    with pytest.raises(IncompleteBody):
        await fs_storage.write_object(
            BUCKET, "k", _failing_body(13, IncompleteBody()), digest=(d := Md5Digest()), build=md5_build(d)
        )
    assert bodies_module._streaming == 0
    for n in range(8):
        assert await get(fs_storage, BUCKET, f"k{n}") == bytes([n]) * (3 * MIB)
