"""The storage contract kit run against the filesystem adapter (fsync off: durability is not under test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from smarts3.domain.ports import StorageBackend
from smarts3.testing.contract import StorageContract


class TestFilesystemStorageContract(StorageContract):
    @pytest.fixture
    async def storage(self, tmp_path: Path) -> AsyncIterator[StorageBackend]:
        from smarts3.adapters.storage.filesystem import FilesystemStorage

        backend = FilesystemStorage(tmp_path, fsync=False)
        await backend.start()
        yield backend
        await backend.close()
