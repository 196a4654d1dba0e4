"""Multipart uploads on the filesystem adapter: state on disk (survives restarts, shared by processes), parallel
parts, and a complete racing an abort or a second complete never leaving a corrupt object."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from smarts3.adapters.storage.filesystem import FilesystemStorage
from smarts3.domain.errors import BucketNotEmpty, NoSuchUpload
from smarts3.testing.contract.helpers import (
    EPOCH,
    Md5Digest,
    get,
    md5_build,
    part_build,
    put,
    put_part,
    upload_info,
)

BUCKET = "bkt"


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[FilesystemStorage]:
    backend = FilesystemStorage(tmp_path, fsync=False)
    await backend.start()
    await backend.create_bucket(BUCKET, region="us-east-1")
    yield backend


class _SlowBody:
    """A body that waits on an event half way: proves another part can finish meanwhile."""

    def __init__(self, data: bytes, gate: asyncio.Event) -> None:
        self.data, self.gate = data, gate

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data[: len(self.data) // 2]
        await self.gate.wait()
        yield self.data[len(self.data) // 2 :]


async def test_parallel_parts_do_not_block_each_other(storage: FilesystemStorage) -> None:
    await storage.create_upload(upload_info(BUCKET, "big", "u1"))
    gate = asyncio.Event()
    digest = Md5Digest()
    slow = asyncio.create_task(
        storage.write_part(
            BUCKET,
            "big",
            "u1",
            1,
            aiter(_SlowBody(b"A" * 3_000_000, gate)),  # type: ignore[arg-type]
            digest=digest,
            build=part_build(digest, 1),
        )
    )
    await asyncio.sleep(0.05)
    fast = await asyncio.wait_for(put_part(storage, BUCKET, "big", "u1", 2, b"B" * 1000), timeout=5)
    assert not slow.done()
    gate.set()
    first = await slow
    assert [p.part_number for p in await storage.list_parts(BUCKET, "big", "u1")] == [1, 2]
    digest = Md5Digest()
    info = await storage.complete_upload(
        BUCKET, "big", "u1", [first, fast], digest=digest, build=md5_build(digest)
    )
    assert info.size == 3_001_000
    assert await get(storage, BUCKET, "big") == b"A" * 3_000_000 + b"B" * 1000
    with pytest.raises(NoSuchUpload):
        await storage.get_upload(BUCKET, "big", "u1")


async def test_upload_survives_a_restart(storage: FilesystemStorage, tmp_path: Path) -> None:
    await storage.create_upload(upload_info(BUCKET, "k", "u1"))
    part = await put_part(storage, BUCKET, "k", "u1", 1, b"hello ")
    restarted = FilesystemStorage(tmp_path, fsync=False)
    await restarted.start()  # must not touch live uploads
    assert (await restarted.get_upload(BUCKET, "k", "u1")).initiated == EPOCH
    part2 = await put_part(restarted, BUCKET, "k", "u1", 2, b"world")
    assert await restarted.list_parts(BUCKET, "k", "u1") == [part, part2]
    digest = Md5Digest()
    await restarted.complete_upload(BUCKET, "k", "u1", [part, part2], digest=digest, build=md5_build(digest))
    assert await get(storage, BUCKET, "k") == b"hello world"


async def test_complete_racing_abort_and_complete_is_all_or_nothing(storage: FilesystemStorage) -> None:
    data = os.urandom(600_000)
    for attempt in range(3):
        upload_id = f"u{attempt}"
        await storage.create_upload(upload_info(BUCKET, "k", upload_id))
        part = await put_part(storage, BUCKET, "k", upload_id, 1, data)

        async def complete(upload_id: str = upload_id, part: object = part) -> str:
            digest = Md5Digest()
            try:
                await storage.complete_upload(
                    BUCKET,
                    "k",
                    upload_id,
                    [part],
                    digest=digest,
                    build=md5_build(digest),  # type: ignore[list-item]
                )
            except NoSuchUpload:
                return "lost"
            return "won"

        async def abort(upload_id: str = upload_id) -> str:
            try:
                await storage.abort_upload(BUCKET, "k", upload_id)
            except NoSuchUpload:
                return "lost"
            return "aborted"

        results = await asyncio.gather(complete(), complete(), abort())
        assert sorted(results).count("lost") == 2
        if "won" in results:
            assert await get(storage, BUCKET, "k") == data
        assert await storage.list_uploads(BUCKET) == []


async def test_delete_bucket_discards_uploads_in_progress_but_not_objects(storage: FilesystemStorage) -> None:
    await storage.create_upload(upload_info(BUCKET, "k", "u1"))
    await put(storage, BUCKET, "kept", b"x")
    with pytest.raises(BucketNotEmpty):
        await storage.delete_bucket(BUCKET)
    await storage.delete_object(BUCKET, "kept")
    await storage.delete_bucket(BUCKET)
    assert not storage.layout.upload_root(BUCKET).exists()  # the upload's parts are gone from disk


async def test_unsafe_upload_ids_are_unknown(storage: FilesystemStorage) -> None:
    for upload_id in ("../x", ".", "a/b", ""):
        with pytest.raises(NoSuchUpload):
            await storage.get_upload(BUCKET, "k", upload_id)


async def test_expire_aborts_only_old_uploads(storage: FilesystemStorage) -> None:
    await storage.create_upload(upload_info(BUCKET, "k", "old", initiated_offset=0))
    await storage.create_upload(upload_info(BUCKET, "k", "new", initiated_offset=100))
    assert await storage.expire_uploads(EPOCH + timedelta(seconds=50)) == 1
    assert [u.upload_id for u in await storage.list_uploads(BUCKET)] == ["new"]


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


async def test_start_gives_back_an_upload_a_dead_process_was_completing(
    storage: FilesystemStorage, tmp_path: Path
) -> None:
    await storage.create_upload(upload_info(BUCKET, "k", "u-1"))
    part = await put_part(storage, BUCKET, "k", "u-1", 1, b"data")
    root = tmp_path / ".smarts3" / "uploads" / BUCKET
    # what a completer leaves when killed between taking the upload and committing the object
    os.rename(root / "u-1", root / f".busy-complete-t{_dead_pid()}-0123abcd-u-1")
    with pytest.raises(NoSuchUpload):
        await storage.get_upload(BUCKET, "k", "u-1")
    await FilesystemStorage(tmp_path, fsync=False).start()
    assert await storage.list_parts(BUCKET, "k", "u-1") == [part]
