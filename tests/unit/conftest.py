"""Fixtures shared by the filesystem adapter's unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from smarts3.adapters.storage.filesystem import FilesystemStorage

#: the bucket the ``fs_storage`` fixtures create
FS_BUCKET = "bkt"


async def _started(root: Path, *, fsync: bool) -> FilesystemStorage:
    backend = FilesystemStorage(root, fsync=fsync)
    await backend.start()
    await backend.create_bucket(FS_BUCKET, region="us-east-1")
    return backend


@pytest.fixture
async def fs_storage(tmp_path: Path) -> AsyncIterator[FilesystemStorage]:
    """Filesystem storage under ``tmp_path/data`` with fsync off and the bucket ``bkt``."""
    backend = await _started(tmp_path / "data", fsync=False)
    yield backend
    await backend.close()


@pytest.fixture
async def fs_storage_fsync(tmp_path: Path) -> AsyncIterator[FilesystemStorage]:
    """The same with fsync on."""
    backend = await _started(tmp_path / "data", fsync=True)
    yield backend
    await backend.close()
