"""Listing on the filesystem adapter: UTF-8 binary order from a sorted tree walk, delimiter roll-up that skips
whole directories, pagination that reads only the sidecars of listed objects and never the version store."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from smarts3.adapters.storage.filesystem import FilesystemStorage, objects, walk
from smarts3.domain.models import ListQuery
from smarts3.testing.contract.helpers import put

BUCKET = "bkt"


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[FilesystemStorage]:
    backend = FilesystemStorage(tmp_path, fsync=False)
    await backend.start()
    await backend.create_bucket(BUCKET, region="us-east-1")
    yield backend


async def _keys(storage: FilesystemStorage, **query: object) -> list[str]:
    page = await storage.list_objects(BUCKET, ListQuery(**query))  # type: ignore[arg-type]
    return [o.key for o in page.objects]


TRICKY = [
    "a-c",
    "a/b",
    "a0",
    "a",
    "a/",
    "a//x",
    "a/b!",
    "a/c/",
    "é",
    "z",
    "%25",
    "a b",
    "A",
    "a/c/d",
    "日本",
    "\U0001f600",
    ".",
]


async def test_tricky_keys_list_in_utf8_binary_order(storage: FilesystemStorage) -> None:
    # "a" cannot coexist with "a/..." on a filesystem, nor the marker "a/" with "a//x" (known limitation)
    keys = [k for k in TRICKY if k not in ("a", "a/")]
    for key in keys:
        await put(storage, BUCKET, key, b"x")
    expected = sorted(keys, key=lambda k: k.encode())
    assert await _keys(storage) == expected
    # every start_after resumes exactly after that key
    for index, key in enumerate(expected):
        assert await _keys(storage, start_after=key) == expected[index + 1 :]


async def test_long_segments_sort_correctly_among_neighbours(storage: FilesystemStorage) -> None:
    base = "p" * 250
    keys = [base, base + "a", base + "\u00e9" * 3, base + "/x", base[:200], "q"]
    for key in keys:
        if key == base:
            continue  # base + "/x" needs base as a directory
        await put(storage, BUCKET, key, b"x")
    expected = sorted((k for k in keys if k != base), key=lambda k: k.encode())
    assert await _keys(storage) == expected


async def test_delimiter_groups_and_paginates(storage: FilesystemStorage) -> None:
    for key in ["a/1", "a/2", "b", "c/x/1", "c/y", "d-1", "d-2", "e"]:
        await put(storage, BUCKET, key, b"x")
    page = await storage.list_objects(BUCKET, ListQuery(delimiter="/"))
    assert page.common_prefixes == ("a/", "c/")
    assert [o.key for o in page.objects] == ["b", "d-1", "d-2", "e"]

    seen: list[str] = []
    after = ""
    while True:
        page = await storage.list_objects(BUCKET, ListQuery(delimiter="/", start_after=after, max_keys=2))
        seen += list(page.common_prefixes) + [o.key for o in page.objects]
        if not page.is_truncated:
            break
        assert page.next_marker is not None
        after = page.next_marker
    assert sorted(seen) == ["a/", "b", "c/", "d-1", "d-2", "e"]

    page = await storage.list_objects(BUCKET, ListQuery(prefix="c/", delimiter="/"))
    assert page.common_prefixes == ("c/x/",) and [o.key for o in page.objects] == ["c/y"]
    page = await storage.list_objects(BUCKET, ListQuery(prefix="d", delimiter="-"))
    assert page.common_prefixes == ("d-",)


async def test_pages_read_only_their_own_sidecars(
    storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [f"dir{d:02d}/obj{i:03d}" for d in range(10) for i in range(100)]
    for key in keys:
        await put(storage, BUCKET, key, b"x")
    loads: list[str] = []
    real = objects.ObjectEngine.load_listed

    def counting(self: objects.ObjectEngine, bucket: str, key: str) -> object:
        loads.append(key)
        return real(self, bucket, key)

    monkeypatch.setattr(objects.ObjectEngine, "load_listed", counting)
    listed: list[str] = []
    after = ""
    while True:
        page = await storage.list_objects(BUCKET, ListQuery(start_after=after, max_keys=250))
        listed += [o.key for o in page.objects]
        if not page.is_truncated:
            break
        after = page.next_marker or ""
    assert listed == keys
    assert len(loads) == len(keys)  # each sidecar read once over all pages, not once per page


async def test_delimiter_listing_skips_whole_directories(
    storage: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    for d in range(10):
        for i in range(30):
            await put(storage, BUCKET, f"dir{d}/sub{i}/obj", b"x")
    scans: list[str] = []
    real = os.scandir

    def counting(path: str) -> object:
        scans.append(str(path))
        return real(path)

    monkeypatch.setattr(walk.os, "scandir", counting)
    page = await storage.list_objects(BUCKET, ListQuery(delimiter="/"))
    assert page.common_prefixes == tuple(f"dir{d}/" for d in range(10))
    # root + the first path down to one object per group, not 300 subdirectories
    assert len(scans) <= 1 + 10 * 2

    scans.clear()
    page = await storage.list_objects(
        BUCKET, ListQuery(prefix="dir7/", delimiter="/", start_after="dir7/sub5/")
    )
    assert page.common_prefixes[0] == "dir7/sub6/"
    assert not any("dir3" in s for s in scans)  # started at the marker, nothing before it was walked


async def test_listing_never_reads_the_version_store(storage: FilesystemStorage, tmp_path: Path) -> None:
    await put(storage, BUCKET, "k", b"1", versioning="Enabled", version_id="v1")
    await put(storage, BUCKET, "k", b"2", versioning="Enabled", version_id="v2")
    await storage.delete_object(BUCKET, "gone", versioning="Enabled", marker_version_id="m1")
    os.chmod(tmp_path / ".smarts3" / "buckets" / BUCKET / "versions", 0)
    try:
        assert await _keys(storage) == ["k"]
    finally:
        os.chmod(tmp_path / ".smarts3" / "buckets" / BUCKET / "versions", 0o755)


async def test_temp_and_foreign_files_never_appear(storage: FilesystemStorage, tmp_path: Path) -> None:
    await put(storage, BUCKET, "real", b"x")
    (tmp_path / ".smarts3" / "tmp" / "t1-leftover").write_bytes(b"tmp")
    (tmp_path / BUCKET / "%zz").write_bytes(b"not a name we produce")
    os.mkfifo(tmp_path / BUCKET / "fifo")
    assert await _keys(storage) == ["real"]
