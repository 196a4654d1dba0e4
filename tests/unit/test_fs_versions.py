"""Versioning on the filesystem adapter: where versions live on disk, promotion, null-version rules, and
consistency under concurrent writers in several processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from smarts3.adapters.storage.filesystem import FilesystemStorage
from smarts3.domain.errors import MethodNotAllowed, NoSuchKey
from smarts3.domain.models import VersionListQuery
from smarts3.testing.contract.helpers import get, md5_hex, put

BUCKET = "bkt"


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[FilesystemStorage]:
    backend = FilesystemStorage(tmp_path, fsync=False)
    await backend.start()
    await backend.create_bucket(BUCKET, region="us-east-1")
    yield backend


def _store_files(root: Path) -> list[str]:
    versions = root / ".smarts3" / "buckets" / BUCKET / "versions"
    return sorted(p.name for p in versions.rglob("*") if p.is_file()) if versions.exists() else []


async def _listing(storage: FilesystemStorage, **query: object) -> list[tuple[str, str | None, bool, bool]]:
    page = await storage.list_versions(BUCKET, VersionListQuery(**query))  # type: ignore[arg-type]
    return [(v.key, v.version_id, v.is_latest, v.is_delete_marker) for v in page.versions]


async def test_latest_stays_at_the_plain_path_older_versions_move_to_the_store(
    storage: FilesystemStorage, tmp_path: Path
) -> None:
    await put(storage, BUCKET, "k", b"one", versioning="Enabled", version_id="v1")
    await put(storage, BUCKET, "k", b"two", versioning="Enabled", version_id="v2")
    assert (tmp_path / BUCKET / "k").read_bytes() == b"two"
    files = _store_files(tmp_path)
    assert len(files) == 2 and files[0].endswith("-v1.data") and files[1].endswith("-v1.json")


async def test_delete_marker_hides_object_and_removing_it_restores_the_file(
    storage: FilesystemStorage, tmp_path: Path
) -> None:
    await put(storage, BUCKET, "k", b"one", versioning="Enabled", version_id="v1")
    outcome = await storage.delete_object(BUCKET, "k", versioning="Enabled", marker_version_id="m1")
    assert outcome.delete_marker and outcome.version_id == "m1"
    assert not (tmp_path / BUCKET / "k").exists()
    with pytest.raises(NoSuchKey) as missing:
        await storage.head_object(BUCKET, "k")
    assert missing.value.headers["x-amz-delete-marker"] == "true"
    with pytest.raises(MethodNotAllowed):
        await storage.head_object(BUCKET, "k", "m1")
    await storage.delete_object(BUCKET, "k", version_id="m1")
    # promoted back to an ordinary file other programs can read
    assert (tmp_path / BUCKET / "k").read_bytes() == b"one"
    assert await _listing(storage) == [("k", "v1", True, False)]


async def test_deleting_latest_by_id_promotes_the_next_newest(
    storage: FilesystemStorage, tmp_path: Path
) -> None:
    for n in (1, 2, 3):
        await put(storage, BUCKET, "k", f"body{n}".encode(), versioning="Enabled", version_id=f"v{n}")
    await storage.delete_object(BUCKET, "k", version_id="v3")
    assert (tmp_path / BUCKET / "k").read_bytes() == b"body2"
    info = await storage.head_object(BUCKET, "k")
    assert (info.version_id, info.etag) == ("v2", md5_hex(b"body2"))
    await storage.delete_object(BUCKET, "k", version_id="v1")
    assert await _listing(storage) == [("k", "v2", True, False)]


async def test_suspended_replaces_null_and_keeps_others(storage: FilesystemStorage) -> None:
    await put(storage, BUCKET, "k", b"pre")  # written before versioning: the null version
    await put(storage, BUCKET, "k", b"v1", versioning="Enabled", version_id="v1")
    await put(storage, BUCKET, "k", b"s1", versioning="Suspended")
    await put(storage, BUCKET, "k", b"s2", versioning="Suspended")
    assert await _listing(storage) == [("k", "null", True, False), ("k", "v1", False, False)]
    assert await get(storage, BUCKET, "k") == b"s2"
    assert await get(storage, BUCKET, "k", "v1") == b"v1"


async def test_unversioned_bucket_has_empty_version_store(storage: FilesystemStorage, tmp_path: Path) -> None:
    await put(storage, BUCKET, "k", b"1")
    await put(storage, BUCKET, "k", b"2")
    await storage.delete_object(BUCKET, "k")
    assert _store_files(tmp_path) == []
    with pytest.raises(NoSuchKey):
        await storage.head_object(BUCKET, "k")


async def test_version_listing_markers_and_delimiter(storage: FilesystemStorage) -> None:
    for key in ("a/1", "a/2", "b"):
        for n in (1, 2):
            await put(storage, BUCKET, key, b"x", versioning="Enabled", version_id=f"{key}-{n}")
    page = await storage.list_versions(BUCKET, VersionListQuery(delimiter="/", max_keys=2))
    assert page.common_prefixes == ("a/",)
    assert [(v.key, v.version_id) for v in page.versions] == [("b", "b-2")]
    assert page.is_truncated and page.next_key_marker == "b" and page.next_version_id_marker == "b-2"
    rest = await _listing(storage, delimiter="/", key_marker="b", version_id_marker="b-2")
    assert rest == [("b", "b-1", False, False)]


async def test_conditional_create_is_exclusive_across_processes(tmp_path: Path) -> None:
    """Several processes (uvicorn workers) race to create one key with if-none-match: exactly one wins."""
    backend = FilesystemStorage(tmp_path, fsync=False)
    await backend.start()
    await backend.create_bucket(BUCKET, region="us-east-1")
    winners = _race(tmp_path, processes=4)
    assert winners == 1
    assert (await backend.head_object(BUCKET, "race")).size > 0


def _race(root: Path, processes: int) -> int:
    script = textwrap.dedent(
        f"""
        import asyncio, os, sys, time
        from pathlib import Path
        from smarts3.adapters.storage.filesystem import FilesystemStorage
        from smarts3.domain.errors import PreconditionFailed
        from smarts3.testing.contract.helpers import only_if_absent, put

        async def main():
            storage = FilesystemStorage(Path({str(root)!r}), fsync=False)
            while time.time() < float(sys.argv[1]):
                pass
            try:
                await put(storage, "{BUCKET}", "race", os.urandom(100000), condition=only_if_absent)
            except PreconditionFailed:
                print("lost")
            else:
                print("won")

        asyncio.run(main())
        """
    )
    start = str(time.time() + 1.0)
    procs = [
        subprocess.Popen([sys.executable, "-c", script, start], stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(o in ("won", "lost") for o in outputs), outputs
    return outputs.count("won")
