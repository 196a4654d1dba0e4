"""Contract: ListObjects over latest versions: UTF-8 binary order, prefix, delimiter, markers and pages."""

from __future__ import annotations

import pytest

from smarts3.domain.errors import NoSuchBucket
from smarts3.domain.models import ListPage, ListQuery
from smarts3.domain.ports import StorageBackend
from smarts3.testing.contract.base import ContractBase
from smarts3.testing.contract.helpers import enable_versioning, md5_hex, put

#: keys chosen so no key is also a "directory" of another (filesystem adapters may refuse that)
TREE = [
    "a.txt",
    "b/1",
    "b/2",
    "b/3/deep",
    "c",
    "d/x/1",
    "d/x/2",
    "d/y",
    "e-",
    "e0",
    "f/",
]


async def _fill(storage: StorageBackend, bucket: str, keys: list[str]) -> None:
    for key in keys:
        await put(storage, bucket, key, key.encode())


async def _pages(storage: StorageBackend, bucket: str, query: ListQuery) -> list[ListPage]:
    """Follow next_marker until the listing ends (as ListObjects V1 / V2 do)."""
    pages = [await storage.list_objects(bucket, query)]
    while pages[-1].is_truncated:
        marker = pages[-1].next_marker
        assert marker is not None, "a truncated page must say where to resume"
        assert marker > query.start_after, "next_marker must move forward"
        query = ListQuery(
            prefix=query.prefix, delimiter=query.delimiter, start_after=marker, max_keys=query.max_keys
        )
        pages.append(await storage.list_objects(bucket, query))
        assert len(pages) < 1000, "listing does not terminate"
    return pages


def _names(page: ListPage) -> list[str]:
    return [o.key for o in page.objects]


class ListingContract(ContractBase):
    async def test_list_empty_bucket(self, storage: StorageBackend, bucket: str) -> None:
        page = await storage.list_objects(bucket, ListQuery())
        assert page == ListPage(objects=(), common_prefixes=(), is_truncated=False, next_marker=None)

    async def test_list_missing_bucket_raises_no_such_bucket(self, storage: StorageBackend) -> None:
        with pytest.raises(NoSuchBucket):
            await storage.list_objects("absent", ListQuery())

    async def test_list_returns_every_key_in_utf8_binary_order(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        keys = ["b", "B", "a", "a-", "a0", "aa", "é", "z", "中", "😀", "ﬀ", "~", " space", "_", "A"]
        await _fill(storage, bucket, keys)
        page = await storage.list_objects(bucket, ListQuery())
        assert _names(page) == sorted(keys, key=lambda k: k.encode("utf-8"))
        assert not page.is_truncated

    async def test_list_reports_size_and_etag(self, storage: StorageBackend, bucket: str) -> None:
        await put(storage, bucket, "k", b"12345", user_metadata={"m": "v"})
        (info,) = (await storage.list_objects(bucket, ListQuery())).objects
        assert (info.key, info.size, info.etag) == ("k", 5, md5_hex(b"12345"))

    async def test_list_with_prefix_returns_only_matching_keys(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await _fill(storage, bucket, TREE)
        page = await storage.list_objects(bucket, ListQuery(prefix="d/"))
        assert _names(page) == ["d/x/1", "d/x/2", "d/y"]
        page = await storage.list_objects(bucket, ListQuery(prefix="e"))
        assert _names(page) == ["e-", "e0"]
        page = await storage.list_objects(bucket, ListQuery(prefix="nothing"))
        assert _names(page) == []

    async def test_list_with_delimiter_groups_common_prefixes(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await _fill(storage, bucket, TREE)
        page = await storage.list_objects(bucket, ListQuery(delimiter="/"))
        assert _names(page) == ["a.txt", "c", "e-", "e0"]
        assert page.common_prefixes == ("b/", "d/", "f/")

    async def test_list_with_prefix_and_delimiter_descends_one_level(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await _fill(storage, bucket, TREE)
        page = await storage.list_objects(bucket, ListQuery(prefix="d/", delimiter="/"))
        assert _names(page) == ["d/y"]
        assert page.common_prefixes == ("d/x/",)
        page = await storage.list_objects(bucket, ListQuery(prefix="b/", delimiter="/"))
        assert _names(page) == ["b/1", "b/2"]
        assert page.common_prefixes == ("b/3/",)

    async def test_list_with_prefix_that_is_an_object_key_ending_in_delimiter(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await _fill(storage, bucket, TREE)
        page = await storage.list_objects(bucket, ListQuery(prefix="f/", delimiter="/"))
        assert _names(page) == ["f/"]
        assert page.common_prefixes == ()

    async def test_list_with_multichar_delimiter(self, storage: StorageBackend, bucket: str) -> None:
        await _fill(storage, bucket, ["x--1", "x--2", "y", "z-1"])
        page = await storage.list_objects(bucket, ListQuery(delimiter="--"))
        assert _names(page) == ["y", "z-1"]
        assert page.common_prefixes == ("x--",)

    async def test_list_with_non_slash_delimiter(self, storage: StorageBackend, bucket: str) -> None:
        await _fill(storage, bucket, ["a.1", "a.2", "b/c.3", "b/c"])
        page = await storage.list_objects(bucket, ListQuery(delimiter="."))
        assert _names(page) == ["b/c"]
        assert page.common_prefixes == ("a.", "b/c.")

    async def test_start_after_excludes_the_marker_and_everything_before(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await _fill(storage, bucket, TREE)
        page = await storage.list_objects(bucket, ListQuery(start_after="c"))
        assert _names(page) == ["d/x/1", "d/x/2", "d/y", "e-", "e0", "f/"]
        page = await storage.list_objects(bucket, ListQuery(start_after="cz"))
        assert _names(page) == ["d/x/1", "d/x/2", "d/y", "e-", "e0", "f/"]
        page = await storage.list_objects(bucket, ListQuery(start_after="zzz"))
        assert _names(page) == []

    async def test_start_after_a_common_prefix_does_not_repeat_it(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await _fill(storage, bucket, TREE)
        page = await storage.list_objects(bucket, ListQuery(delimiter="/", start_after="b/"))
        assert _names(page) == ["c", "e-", "e0"]
        assert page.common_prefixes == ("d/", "f/")

    async def test_max_keys_truncates_and_next_marker_resumes(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await _fill(storage, bucket, TREE)
        pages = await _pages(storage, bucket, ListQuery(max_keys=3))
        assert [len(p.objects) for p in pages] == [3, 3, 3, 2]
        assert [name for p in pages for name in _names(p)] == sorted(TREE)
        assert all(p.next_marker == p.objects[-1].key for p in pages[:-1])
        assert pages[-1].next_marker is None

    async def test_pages_with_delimiter_never_repeat_a_common_prefix(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await _fill(storage, bucket, TREE)
        for max_keys in (1, 2, 3):
            pages = await _pages(storage, bucket, ListQuery(delimiter="/", max_keys=max_keys))
            objects = [name for p in pages for name in _names(p)]
            prefixes = [prefix for p in pages for prefix in p.common_prefixes]
            assert objects == ["a.txt", "c", "e-", "e0"], max_keys
            assert prefixes == ["b/", "d/", "f/"], max_keys
            assert all(len(p.objects) + len(p.common_prefixes) <= max_keys for p in pages)

    async def test_common_prefixes_count_toward_max_keys(self, storage: StorageBackend, bucket: str) -> None:
        await _fill(storage, bucket, TREE)
        page = await storage.list_objects(bucket, ListQuery(delimiter="/", max_keys=2))
        assert _names(page) == ["a.txt"]
        assert page.common_prefixes == ("b/",)
        assert page.is_truncated
        assert page.next_marker == "b/"

    async def test_exactly_max_keys_entries_is_not_truncated(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await _fill(storage, bucket, ["1", "2", "3"])
        page = await storage.list_objects(bucket, ListQuery(max_keys=3))
        assert _names(page) == ["1", "2", "3"]
        assert not page.is_truncated
        assert page.next_marker is None

    async def test_max_keys_zero_returns_an_empty_page(self, storage: StorageBackend, bucket: str) -> None:
        await _fill(storage, bucket, ["1", "2"])
        page = await storage.list_objects(bucket, ListQuery(max_keys=0))
        assert (page.objects, page.common_prefixes) == ((), ())

    async def test_paging_with_prefix_and_start_after(self, storage: StorageBackend, bucket: str) -> None:
        keys = [f"logs/{n:03d}" for n in range(25)] + ["other"]
        await _fill(storage, bucket, keys)
        pages = await _pages(storage, bucket, ListQuery(prefix="logs/", start_after="logs/004", max_keys=7))
        assert [name for p in pages for name in _names(p)] == keys[5:25]

    async def test_listing_sees_replacements_once(self, storage: StorageBackend, bucket: str) -> None:
        await put(storage, bucket, "k", b"one")
        await put(storage, bucket, "k", b"three")
        (info,) = (await storage.list_objects(bucket, ListQuery())).objects
        assert (info.key, info.size) == ("k", 5)

    async def test_listing_skips_deleted_and_delete_marked_keys(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await _fill(storage, bucket, ["gone", "kept", "marked/x"])
        await storage.delete_object(bucket, "gone")
        await enable_versioning(storage, bucket)
        await storage.delete_object(bucket, "marked/x", versioning="Enabled", marker_version_id="m1")
        page = await storage.list_objects(bucket, ListQuery(delimiter="/"))
        assert _names(page) == ["kept"]
        assert page.common_prefixes == ()
