"""The storage-adapter contract kit: the executable definition of ``smarts3.domain.ports.StorageBackend``.

Every test is written against the port only. To check an adapter, subclass ``StorageContract`` in a test
module of your own and provide an async ``storage`` fixture that yields a fresh, started backend::

    # tests/test_my_adapter_contract.py
    import pytest_asyncio

    from smarts3.testing.contract import StorageContract
    from my_package import MyStorage


    class TestMyStorageContract(StorageContract):
        @pytest_asyncio.fixture
        async def storage(self, tmp_path):
            backend = MyStorage(tmp_path)
            await backend.start()
            yield backend
            await backend.close()

Run it with pytest and pytest-asyncio, in either asyncio mode: the kit marks its own tests (with
``asyncio_mode = "auto"`` a plain ``@pytest.fixture`` works for ``storage`` too). Each test gets its own
``storage``; the kit creates the bucket it uses through the ``bucket`` fixture. The groups (``BucketContract``, ``ObjectContract``, ``ListingContract``,
``MultipartContract``, ``VersioningContract``, ``ConditionContract``) can also be subclassed one by one, e.g.
while an adapter is half written. ``smarts3.testing.contract.helpers`` has the digests, builds and bodies the
tests use, for writing adapter-specific tests in the same style.
"""

from __future__ import annotations

import pytest

# The test modules live inside the package, not in a test directory: ask pytest to rewrite their asserts
# so failures show values. Must run before the modules below are imported.
pytest.register_assert_rewrite("smarts3.testing.contract")

from smarts3.testing.contract.buckets import BucketContract  # noqa: E402
from smarts3.testing.contract.conditions import ConditionContract  # noqa: E402
from smarts3.testing.contract.listing import ListingContract  # noqa: E402
from smarts3.testing.contract.multipart import MultipartContract  # noqa: E402
from smarts3.testing.contract.objects import ObjectContract  # noqa: E402
from smarts3.testing.contract.versioning import VersioningContract  # noqa: E402


class StorageContract(
    BucketContract,
    ObjectContract,
    ListingContract,
    MultipartContract,
    VersioningContract,
    ConditionContract,
):
    """Every contract test. Subclass it as ``Test...`` and provide an async ``storage`` fixture."""


__all__ = [
    "BucketContract",
    "ConditionContract",
    "ListingContract",
    "MultipartContract",
    "ObjectContract",
    "StorageContract",
    "VersioningContract",
]
