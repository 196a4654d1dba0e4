"""Listings reuse directory snapshots and cached sidecars, but never show a stale set of keys."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from smarts3.adapters.storage.filesystem import FilesystemStorage, walk
from smarts3.domain.models import ListQuery
from smarts3.testing.contract.helpers import put


async def _keys(storage: FilesystemStorage, bucket: str) -> list[str]:
    page = await storage.list_objects(bucket, ListQuery(max_keys=1000))
    return [o.key for o in page.objects]


async def test_listing_sees_keys_added_and_removed_after_a_cached_snapshot(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path, fsync=False)
    await storage.start()
    await storage.create_bucket("cache", region="us-east-1")
    for n in range(5):
        await put(storage, "cache", f"k{n}", b"x")
    await asyncio.sleep(walk._QUIET_NS / 1e9 + 0.05)  # let the directory go quiet: its snapshot is cached
    assert await _keys(storage, "cache") == [f"k{n}" for n in range(5)]
    assert any(path == str(tmp_path / "cache") for path, _ in walk._DIR_CACHE)
    await put(storage, "cache", "k5", b"new")  # through the API
    (tmp_path / "cache" / "k6").write_bytes(b"dropped in by another program")
    await storage.delete_object("cache", "k0")
    assert await _keys(storage, "cache") == ["k1", "k2", "k3", "k4", "k5", "k6"]


async def test_listing_shows_a_replaced_objects_new_etag_and_size(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path, fsync=False)
    await storage.start()
    await storage.create_bucket("cache", region="us-east-1")
    await put(storage, "cache", "obj", b"first")
    before = (await storage.list_objects("cache", ListQuery())).objects[0]
    await put(storage, "cache", "obj", b"second version")
    after = (await storage.list_objects("cache", ListQuery())).objects[0]
    assert (after.size, after.etag) != (before.size, before.etag)
    assert after.size == len(b"second version")


async def test_listing_notices_a_file_rewritten_behind_the_servers_back(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path, fsync=False)
    await storage.start()
    await storage.create_bucket("cache", region="us-east-1")
    await put(storage, "cache", "obj", b"original")
    assert (await storage.list_objects("cache", ListQuery())).objects[0].size == 8
    path = tmp_path / "cache" / "obj"
    path.write_bytes(b"rewritten by someone else")
    os.utime(path, ns=(time.time_ns(), time.time_ns()))
    listed = (await storage.list_objects("cache", ListQuery())).objects[0]
    assert listed.size == len(b"rewritten by someone else")


async def test_bucket_config_cached_in_one_process_sees_another_process_change_it(tmp_path: Path) -> None:
    reader = FilesystemStorage(tmp_path, fsync=False)
    writer = FilesystemStorage(tmp_path, fsync=False)  # another worker on the same data directory
    await reader.start()
    await writer.start()
    await writer.create_bucket("conf", region="us-east-1")
    await writer.put_bucket_config("conf", "versioning", b"Enabled")
    await asyncio.sleep(0.25)  # quiet long enough for the reader to cache its answer

    async def request() -> bytes | None:  # each read is a request of its own: a task of its own
        return await asyncio.create_task(reader.get_bucket_config("conf", "versioning"))

    assert await request() == b"Enabled"
    assert await request() == b"Enabled"
    await writer.put_bucket_config("conf", "versioning", b"Suspended")
    assert await request() == b"Suspended"
    await writer.put_bucket_config("conf", "versioning", None)
    assert await request() is None


async def test_one_request_reads_several_bucket_configs_with_one_stat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = FilesystemStorage(tmp_path, fsync=False)
    await storage.start()
    await storage.create_bucket("conf", region="us-east-1")
    await storage.put_bucket_config("conf", "versioning", b"Enabled")
    config_dir = os.fspath(storage.layout.bucket_state("conf")) + "/config"
    stats: list[str] = []
    real_stat = os.stat

    def counting_stat(path: object, *args: object, **kwargs: object) -> os.stat_result:
        if path == config_dir:
            stats.append(config_dir)
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", counting_stat)

    async def request() -> list[bytes | None]:
        return [await storage.get_bucket_config("conf", kind) for kind in ("versioning", "object-lock", "lifecycle")]

    assert await asyncio.create_task(request()) == [b"Enabled", None, None]
    assert len(stats) == 1
    assert await asyncio.create_task(request()) == [b"Enabled", None, None]
    assert len(stats) == 2  # the next request looks again


async def test_a_long_lived_task_sees_a_bucket_config_change_after_a_moment(tmp_path: Path) -> None:
    """The lifecycle runner reads configs from one task for hours: its stat is reused for 100 ms at most."""
    reader = FilesystemStorage(tmp_path, fsync=False)
    writer = FilesystemStorage(tmp_path, fsync=False)
    await reader.start()
    await writer.start()
    await writer.create_bucket("conf", region="us-east-1")
    assert await reader.get_bucket_config("conf", "lifecycle") is None
    await writer.put_bucket_config("conf", "lifecycle", b"<rules/>")
    await asyncio.sleep(0.15)
    assert await reader.get_bucket_config("conf", "lifecycle") == b"<rules/>"
