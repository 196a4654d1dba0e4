"""The fixtures every contract test shares. The user's subclass supplies ``storage``; the kit adds ``bucket``."""

from __future__ import annotations

import pytest
import pytest_asyncio

from smarts3.domain.ports import StorageBackend

BUCKET = "contract-bucket"
REGION = "us-east-1"


class ContractBase:
    """Base of every contract group. Subclasses must provide an async ``storage`` fixture (a started backend)."""

    # explicit, so the kit also runs under pytest-asyncio's default strict mode
    pytestmark = pytest.mark.asyncio

    @pytest_asyncio.fixture
    async def bucket(self, storage: StorageBackend) -> str:
        await storage.create_bucket(BUCKET, region=REGION)
        return BUCKET
