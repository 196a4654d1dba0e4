"""Contract: S3 versioning: never-enabled / Enabled / Suspended writes and deletes, delete markers,
addressing versions by id, and ListObjectVersions order and markers."""

from __future__ import annotations

import attrs
import pytest

from smarts3.domain.errors import MethodNotAllowed, NoSuchKey, NoSuchVersion
from smarts3.domain.models import ListQuery, VersionListPage, VersionListQuery
from smarts3.domain.ports import StorageBackend
from smarts3.testing.contract.base import ContractBase
from smarts3.testing.contract.helpers import enable_versioning, get, put

DELETE_MARKER_HEADER = "x-amz-delete-marker"


async def _versions(
    storage: StorageBackend, bucket: str, **query: str | int
) -> list[tuple[str, str | None, bool, bool]]:
    """(key, version id, is_latest, is_delete_marker) for every entry of one ListObjectVersions page."""
    page = await storage.list_versions(bucket, VersionListQuery(**query))  # type: ignore[arg-type]
    return [(v.key, v.version_id, v.is_latest, v.is_delete_marker) for v in page.versions]


async def _all_pages(storage: StorageBackend, bucket: str, query: VersionListQuery) -> list[VersionListPage]:
    pages = [await storage.list_versions(bucket, query)]
    while pages[-1].is_truncated:
        last = pages[-1]
        assert last.next_key_marker is not None, "a truncated page must say where to resume"
        query = attrs.evolve(
            query, key_marker=last.next_key_marker, version_id_marker=last.next_version_id_marker or ""
        )
        pages.append(await storage.list_versions(bucket, query))
        assert len(pages) < 1000, "listing does not terminate"
    return pages


class VersioningContract(ContractBase):
    # -- never enabled -----------------------------------------------------------------------------------
    async def test_unversioned_replace_keeps_a_single_null_version(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        first = await put(storage, bucket, "k", b"one")
        assert first.version_id is None
        await put(storage, bucket, "k", b"two")
        assert await _versions(storage, bucket) == [("k", "null", True, False)]
        assert await get(storage, bucket, "k") == b"two"

    async def test_unversioned_object_is_readable_as_the_null_version(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await put(storage, bucket, "k", b"one")
        assert await get(storage, bucket, "k", "null") == b"one"

    # -- enabled -----------------------------------------------------------------------------------------
    async def test_enabled_write_gets_the_given_version_id(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        info = await put(storage, bucket, "k", b"x", versioning="Enabled", version_id="v1")
        assert info.version_id == "v1"
        assert (await storage.head_object(bucket, "k")).version_id == "v1"

    async def test_enabled_write_keeps_previous_versions(self, storage: StorageBackend, bucket: str) -> None:
        await enable_versioning(storage, bucket)
        for n in (1, 2, 3):
            await put(storage, bucket, "k", f"body{n}".encode(), versioning="Enabled", version_id=f"v{n}")
        assert await get(storage, bucket, "k") == b"body3"
        assert await get(storage, bucket, "k", "v1") == b"body1"
        assert await get(storage, bucket, "k", "v2") == b"body2"
        assert await _versions(storage, bucket) == [
            ("k", "v3", True, False),
            ("k", "v2", False, False),
            ("k", "v1", False, False),
        ]

    async def test_head_by_version_id_reports_that_version(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "k", b"short", versioning="Enabled", version_id="v1")
        await put(storage, bucket, "k", b"much longer", versioning="Enabled", version_id="v2")
        old = await storage.head_object(bucket, "k", "v1")
        assert (old.version_id, old.size, old.is_latest) == ("v1", 5, False)
        new = await storage.head_object(bucket, "k", "v2")
        assert (new.version_id, new.size, new.is_latest) == ("v2", 11, True)

    async def test_unknown_version_id_raises_no_such_version(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "k", b"x", versioning="Enabled", version_id="v1")
        with pytest.raises(NoSuchVersion):
            await storage.head_object(bucket, "k", "v-unknown")
        with pytest.raises(NoSuchVersion):
            await storage.open_object(bucket, "k", "v-unknown")

    async def test_object_written_before_enabling_becomes_the_null_version(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await put(storage, bucket, "k", b"before")
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "k", b"after", versioning="Enabled", version_id="v1")
        assert await get(storage, bucket, "k", "null") == b"before"
        assert await _versions(storage, bucket) == [("k", "v1", True, False), ("k", "null", False, False)]

    async def test_enabled_delete_adds_a_marker_and_hides_the_key(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "k", b"x", versioning="Enabled", version_id="v1")
        outcome = await storage.delete_object(bucket, "k", versioning="Enabled", marker_version_id="m1")
        assert (outcome.version_id, outcome.delete_marker) == ("m1", True)
        with pytest.raises(NoSuchKey) as opened:
            await storage.open_object(bucket, "k")
        assert opened.value.headers.get(DELETE_MARKER_HEADER) == "true"
        with pytest.raises(NoSuchKey) as headed:
            await storage.head_object(bucket, "k")
        assert headed.value.headers.get(DELETE_MARKER_HEADER) == "true"
        assert (await storage.list_objects(bucket, ListQuery())).objects == ()
        assert await _versions(storage, bucket) == [("k", "m1", True, True), ("k", "v1", False, False)]
        assert await get(storage, bucket, "k", "v1") == b"x"

    async def test_enabled_delete_of_absent_key_still_adds_a_marker(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        outcome = await storage.delete_object(bucket, "ghost", versioning="Enabled", marker_version_id="m1")
        assert (outcome.version_id, outcome.delete_marker) == ("m1", True)
        assert await _versions(storage, bucket) == [("ghost", "m1", True, True)]

    async def test_delete_marker_addressed_by_id_raises_method_not_allowed(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "k", b"x", versioning="Enabled", version_id="v1")
        await storage.delete_object(bucket, "k", versioning="Enabled", marker_version_id="m1")
        with pytest.raises(MethodNotAllowed) as opened:
            await storage.open_object(bucket, "k", "m1")
        assert opened.value.headers.get(DELETE_MARKER_HEADER) == "true"
        with pytest.raises(MethodNotAllowed) as headed:
            await storage.head_object(bucket, "k", "m1")
        assert headed.value.headers.get(DELETE_MARKER_HEADER) == "true"

    async def test_deleting_the_delete_marker_restores_the_object(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "k", b"back", versioning="Enabled", version_id="v1")
        await storage.delete_object(bucket, "k", versioning="Enabled", marker_version_id="m1")
        outcome = await storage.delete_object(bucket, "k", version_id="m1", versioning="Enabled")
        assert (outcome.version_id, outcome.delete_marker) == ("m1", True)
        assert await get(storage, bucket, "k") == b"back"
        assert [o.key for o in (await storage.list_objects(bucket, ListQuery())).objects] == ["k"]

    async def test_deleting_the_latest_version_by_id_promotes_the_previous(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "k", b"one", versioning="Enabled", version_id="v1")
        await put(storage, bucket, "k", b"two", versioning="Enabled", version_id="v2")
        outcome = await storage.delete_object(bucket, "k", version_id="v2", versioning="Enabled")
        assert (outcome.version_id, outcome.delete_marker) == ("v2", False)
        head = await storage.head_object(bucket, "k")
        assert (head.version_id, head.is_latest) == ("v1", True)
        assert await get(storage, bucket, "k") == b"one"
        assert await _versions(storage, bucket) == [("k", "v1", True, False)]
        with pytest.raises(NoSuchVersion):
            await storage.head_object(bucket, "k", "v2")

    async def test_deleting_an_old_version_by_id_keeps_the_latest(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "k", b"one", versioning="Enabled", version_id="v1")
        await put(storage, bucket, "k", b"two", versioning="Enabled", version_id="v2")
        await storage.delete_object(bucket, "k", version_id="v1", versioning="Enabled")
        assert await get(storage, bucket, "k") == b"two"
        assert await _versions(storage, bucket) == [("k", "v2", True, False)]

    async def test_deleting_every_version_removes_the_key(self, storage: StorageBackend, bucket: str) -> None:
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "k", b"one", versioning="Enabled", version_id="v1")
        await storage.delete_object(bucket, "k", versioning="Enabled", marker_version_id="m1")
        await storage.delete_object(bucket, "k", version_id="m1", versioning="Enabled")
        await storage.delete_object(bucket, "k", version_id="v1", versioning="Enabled")
        with pytest.raises(NoSuchKey) as raised:
            await storage.head_object(bucket, "k")
        assert DELETE_MARKER_HEADER not in raised.value.headers
        assert await _versions(storage, bucket) == []
        await storage.delete_bucket(bucket)

    async def test_deleting_the_null_version_by_id(self, storage: StorageBackend, bucket: str) -> None:
        await put(storage, bucket, "k", b"before")
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "k", b"after", versioning="Enabled", version_id="v1")
        await storage.delete_object(bucket, "k", version_id="null", versioning="Enabled")
        assert await _versions(storage, bucket) == [("k", "v1", True, False)]

    async def test_update_object_by_version_id_changes_only_that_version(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "k", b"one", versioning="Enabled", version_id="v1", tags=(("t", "old"),))
        await put(storage, bucket, "k", b"two", versioning="Enabled", version_id="v2", tags=(("t", "old"),))
        await storage.update_object(bucket, "k", "v1", lambda info: attrs.evolve(info, tags=(("t", "new"),)))
        assert (await storage.head_object(bucket, "k", "v1")).tags == (("t", "new"),)
        assert (await storage.head_object(bucket, "k", "v2")).tags == (("t", "old"),)
        assert await get(storage, bucket, "k", "v1") == b"one"

    # -- suspended ---------------------------------------------------------------------------------------
    async def test_suspended_write_replaces_the_null_version(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket, "Suspended")
        first = await put(storage, bucket, "k", b"one", versioning="Suspended", version_id="null")
        await put(storage, bucket, "k", b"two", versioning="Suspended", version_id="null")
        assert first.version_id == "null"
        assert await _versions(storage, bucket) == [("k", "null", True, False)]
        assert await get(storage, bucket, "k") == b"two"

    async def test_suspended_write_archives_an_enabled_version(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "k", b"one", versioning="Enabled", version_id="v1")
        await enable_versioning(storage, bucket, "Suspended")
        await put(storage, bucket, "k", b"two", versioning="Suspended", version_id="null")
        assert await _versions(storage, bucket) == [("k", "null", True, False), ("k", "v1", False, False)]
        assert await get(storage, bucket, "k", "v1") == b"one"

    async def test_suspended_write_replaces_an_older_null_version(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        """S3: in a suspended bucket a new null version overwrites the existing null version, even when that
        one is no longer the latest (UsingVersioningSuspended / AddingObjectstoVersionSuspendedBuckets)."""
        await put(storage, bucket, "k", b"null-before")
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "k", b"v1", versioning="Enabled", version_id="v1")
        await enable_versioning(storage, bucket, "Suspended")
        await put(storage, bucket, "k", b"null-after", versioning="Suspended", version_id="null")
        assert await _versions(storage, bucket) == [("k", "null", True, False), ("k", "v1", False, False)]
        assert await get(storage, bucket, "k", "null") == b"null-after"

    async def test_suspended_delete_adds_a_null_marker_replacing_the_null_version(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "k", b"one", versioning="Enabled", version_id="v1")
        await enable_versioning(storage, bucket, "Suspended")
        await put(storage, bucket, "k", b"two", versioning="Suspended", version_id="null")
        outcome = await storage.delete_object(bucket, "k", versioning="Suspended", marker_version_id="null")
        assert (outcome.version_id, outcome.delete_marker) == ("null", True)
        assert await _versions(storage, bucket) == [("k", "null", True, True), ("k", "v1", False, False)]
        with pytest.raises(NoSuchKey) as raised:
            await storage.head_object(bucket, "k")
        assert raised.value.headers.get(DELETE_MARKER_HEADER) == "true"

    # -- ListObjectVersions ------------------------------------------------------------------------------
    async def test_list_versions_orders_keys_ascending_and_newest_first(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "b", b"1", versioning="Enabled", version_id="b1")
        await put(storage, bucket, "a", b"1", versioning="Enabled", version_id="a1")
        await put(storage, bucket, "b", b"2", versioning="Enabled", version_id="b2")
        await storage.delete_object(bucket, "a", versioning="Enabled", marker_version_id="a2")
        await put(storage, bucket, "c/d", b"1", versioning="Enabled", version_id="c1")
        assert await _versions(storage, bucket) == [
            ("a", "a2", True, True),
            ("a", "a1", False, False),
            ("b", "b2", True, False),
            ("b", "b1", False, False),
            ("c/d", "c1", True, False),
        ]

    async def test_list_versions_with_prefix_and_delimiter(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        for key, vid in (("p/a", "1"), ("p/a", "2"), ("p/sub/x", "3"), ("q", "4")):
            await put(storage, bucket, key, b"x", versioning="Enabled", version_id=vid)
        page = await storage.list_versions(bucket, VersionListQuery(prefix="p/", delimiter="/"))
        assert [(v.key, v.version_id) for v in page.versions] == [("p/a", "2"), ("p/a", "1")]
        assert page.common_prefixes == ("p/sub/",)
        assert not page.is_truncated

    async def test_list_versions_key_marker_alone_starts_after_that_key(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        for key, vid in (("a", "1"), ("a", "2"), ("b", "3"), ("c", "4")):
            await put(storage, bucket, key, b"x", versioning="Enabled", version_id=vid)
        assert [v[:2] for v in await _versions(storage, bucket, key_marker="a")] == [("b", "3"), ("c", "4")]

    async def test_list_versions_resumes_after_the_version_id_marker(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        for key, vid in (("a", "1"), ("a", "2"), ("a", "3"), ("b", "4")):
            await put(storage, bucket, key, b"x", versioning="Enabled", version_id=vid)
        listed = await _versions(storage, bucket, key_marker="a", version_id_marker="3")
        assert [v[:2] for v in listed] == [("a", "2"), ("a", "1"), ("b", "4")]

    async def test_list_versions_pages_cover_everything_exactly_once(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        expected: list[tuple[str, str | None]] = []
        for key in ("a", "b/1", "b/2", "c"):
            for n in (1, 2, 3):
                await put(storage, bucket, key, b"x", versioning="Enabled", version_id=f"{key}-{n}")
            expected.extend((key, f"{key}-{n}") for n in (3, 2, 1))
        for max_keys in (1, 2, 4, 5):
            pages = await _all_pages(storage, bucket, VersionListQuery(max_keys=max_keys))
            assert [(v.key, v.version_id) for p in pages for v in p.versions] == expected, max_keys
            assert all(len(p.versions) <= max_keys for p in pages)
            last = pages[0]
            if last.is_truncated:
                assert (last.next_key_marker, last.next_version_id_marker) == (
                    last.versions[-1].key,
                    last.versions[-1].version_id,
                )

    async def test_list_versions_pages_with_delimiter_never_repeat_a_prefix(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        for key, vid in (("a", "1"), ("d/1", "2"), ("d/2", "3"), ("e", "4"), ("f/x", "5")):
            await put(storage, bucket, key, b"x", versioning="Enabled", version_id=vid)
        pages = await _all_pages(storage, bucket, VersionListQuery(delimiter="/", max_keys=1))
        assert [v.key for p in pages for v in p.versions] == ["a", "e"]
        assert [c for p in pages for c in p.common_prefixes] == ["d/", "f/"]

    async def test_list_versions_max_keys_zero_returns_an_empty_page(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await put(storage, bucket, "k", b"x")
        page = await storage.list_versions(bucket, VersionListQuery(max_keys=0))
        assert (page.versions, page.common_prefixes) == ((), ())
        # truncated without a next marker would send a paging client round in circles
        assert not page.is_truncated
