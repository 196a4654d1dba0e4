"""Listings reuse directory snapshots and cached sidecars, but never show a stale set of keys."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

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
    assert await reader.get_bucket_config("conf", "versioning") == b"Enabled"
    assert await reader.get_bucket_config("conf", "versioning") == b"Enabled"
    await writer.put_bucket_config("conf", "versioning", b"Suspended")
    assert await reader.get_bucket_config("conf", "versioning") == b"Suspended"
    await writer.put_bucket_config("conf", "versioning", None)
    assert await reader.get_bucket_config("conf", "versioning") is None
