"""The storage contract kit run against the in-memory adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from smarts3.adapters.storage.memory import MemoryStorage
from smarts3.domain.ports import StorageBackend
from smarts3.testing.contract import StorageContract


class TestMemoryStorageContract(StorageContract):
    @pytest.fixture
    async def storage(self) -> AsyncIterator[StorageBackend]:
        backend = MemoryStorage()
        await backend.start()
        yield backend
        await backend.close()
