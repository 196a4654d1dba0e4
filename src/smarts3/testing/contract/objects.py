"""Contract: single-object writes, reads, ranges, deletes, metadata updates and key spelling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import attrs
import pytest

from smarts3.domain.errors import (
    BadDigest,
    EntityTooSmall,
    InvalidObjectName,
    NoSuchBucket,
    NoSuchKey,
    ObjectExistsAsDirectory,
    ParentIsObject,
)
from smarts3.domain.models import ByteRange, ListQuery
from smarts3.domain.ports import ObjectReader, StorageBackend
from smarts3.testing.contract.base import ContractBase
from smarts3.testing.contract.helpers import (
    Md5Digest,
    body,
    chunks,
    failing_build,
    get,
    md5_build,
    md5_hex,
    put,
    read_all,
)

SPECIAL_KEYS = [
    "plain.txt",
    "with space/and more spaces .txt",
    "plus+sign+key",
    "percent%20encoded%2Fnot-decoded",
    "unicode/äöü/日本語/😀.bin",
    "double//slash",
    "trailing/slash/",
    "dots/./and/../parent",
    "x" * 1024,
    "é" * 512,
    "question?hash#amp&eq=",
    "~tilde-and-*star",
]


class ObjectContract(ContractBase):
    # -- writes ------------------------------------------------------------------------------------------
    async def test_write_then_read_returns_same_bytes(self, storage: StorageBackend, bucket: str) -> None:
        data = b"hello contract world" * 10
        info = await put(storage, bucket, "k", data)
        assert info.key == "k"
        assert info.size == len(data)
        assert info.etag == md5_hex(data)
        assert await get(storage, bucket, "k") == data

    async def test_write_persists_metadata_from_build(self, storage: StorageBackend, bucket: str) -> None:
        await put(
            storage,
            bucket,
            "meta",
            b"x",
            headers={"content-type": "text/plain", "cache-control": "no-cache"},
            user_metadata={"color": "blue", "unicode": "ünï"},
            checksums={"CRC32": "AAAAAA=="},
            checksum_type="FULL_OBJECT",
            storage_class="STANDARD_IA",
            tags=(("a", "1"), ("b", "2")),
        )
        info = await storage.head_object(bucket, "meta")
        assert info.content_type == "text/plain"
        assert dict(info.headers) == {"content-type": "text/plain", "cache-control": "no-cache"}
        assert dict(info.user_metadata) == {"color": "blue", "unicode": "ünï"}
        assert dict(info.checksums) == {"CRC32": "AAAAAA=="}
        assert info.checksum_type == "FULL_OBJECT"
        assert info.storage_class == "STANDARD_IA"
        assert info.tags == (("a", "1"), ("b", "2"))

    async def test_write_feeds_every_chunk_to_digest_in_order(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        data = bytes(range(256)) * 40
        digest = Md5Digest()
        build = md5_build(digest)
        await storage.write_object(bucket, "d", body(data, 100), digest=digest, build=build)
        assert digest.received == data
        assert build.sizes == [len(data)]

    async def test_zero_byte_object_round_trips(self, storage: StorageBackend, bucket: str) -> None:
        digest = Md5Digest()
        build = md5_build(digest)
        info = await storage.write_object(bucket, "empty", chunks([]), digest=digest, build=build)
        assert build.sizes == [0]
        assert info.size == 0
        assert info.etag == md5_hex(b"")
        assert (await storage.head_object(bucket, "empty")).size == 0
        assert await get(storage, bucket, "empty") == b""

    async def test_empty_chunks_in_body_are_harmless(self, storage: StorageBackend, bucket: str) -> None:
        digest = Md5Digest()
        await storage.write_object(
            bucket, "k", chunks([b"", b"ab", b"", b"c", b""]), digest=digest, build=md5_build(digest)
        )
        assert digest.received == b"abc"
        assert await get(storage, bucket, "k") == b"abc"

    async def test_large_body_in_many_chunks_round_trips(self, storage: StorageBackend, bucket: str) -> None:
        data = bytes(range(251)) * (12 * 1024)  # ~3 MiB, a prime-length pattern so misplaced chunks show
        digest = Md5Digest()
        info = await storage.write_object(
            bucket, "big", body(data, 65536), digest=digest, build=md5_build(digest)
        )
        assert info.size == len(data)
        assert await get(storage, bucket, "big") == data

    async def test_write_with_failing_build_stores_nothing(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        with pytest.raises(BadDigest):
            await storage.write_object(bucket, "k", body(b"data"), digest=Md5Digest(), build=failing_build())
        with pytest.raises(NoSuchKey):
            await storage.head_object(bucket, "k")
        page = await storage.list_objects(bucket, ListQuery())
        assert page.objects == ()

    async def test_write_with_failing_build_keeps_previous_object(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await put(storage, bucket, "k", b"old")
        with pytest.raises(EntityTooSmall):
            await storage.write_object(
                bucket, "k", body(b"new!"), digest=Md5Digest(), build=failing_build(EntityTooSmall())
            )
        assert await get(storage, bucket, "k") == b"old"

    async def test_write_with_failing_body_stores_nothing(self, storage: StorageBackend, bucket: str) -> None:
        async def broken() -> AsyncIterator[bytes]:
            yield b"partial"
            raise ConnectionError("client went away")

        await put(storage, bucket, "k", b"old")
        with pytest.raises(ConnectionError):
            await storage.write_object(
                bucket, "k", broken(), digest=Md5Digest(), build=md5_build(Md5Digest())
            )
        assert await get(storage, bucket, "k") == b"old"
        with pytest.raises(ConnectionError):
            await storage.write_object(
                bucket, "new", broken(), digest=Md5Digest(), build=md5_build(Md5Digest())
            )
        with pytest.raises(NoSuchKey):
            await storage.head_object(bucket, "new")

    async def test_write_to_missing_bucket_raises_no_such_bucket(self, storage: StorageBackend) -> None:
        with pytest.raises(NoSuchBucket):
            await put(storage, "no-such-bucket", "k", b"x")

    async def test_key_with_nul_raises_invalid_object_name(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        with pytest.raises(InvalidObjectName):
            await put(storage, bucket, "bad\x00key", b"x")

    @pytest.mark.parametrize("key", SPECIAL_KEYS, ids=lambda key: repr(key[:40]))
    async def test_key_spelling_round_trips_exactly(
        self, storage: StorageBackend, bucket: str, key: str
    ) -> None:
        await put(storage, bucket, key, key.encode())
        assert await get(storage, bucket, key) == key.encode()
        assert (await storage.head_object(bucket, key)).key == key
        page = await storage.list_objects(bucket, ListQuery())
        assert [o.key for o in page.objects] == [key]

    async def test_keys_differing_only_in_case_are_distinct(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await put(storage, bucket, "Case", b"upper")
        await put(storage, bucket, "case", b"lower")
        assert await get(storage, bucket, "Case") == b"upper"
        assert await get(storage, bucket, "case") == b"lower"

    async def test_key_and_prefix_overlap_is_supported_or_cleanly_refused(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        """S3 lets ``a`` and ``a/b`` coexist; a filesystem adapter may refuse with ParentIsObject /
        ObjectExistsAsDirectory. Either way, what was stored before stays intact."""
        await put(storage, bucket, "a", b"file")
        try:
            await put(storage, bucket, "a/b", b"child")
        except (ParentIsObject, ObjectExistsAsDirectory):
            assert await get(storage, bucket, "a") == b"file"
        else:
            assert await get(storage, bucket, "a") == b"file"
            assert await get(storage, bucket, "a/b") == b"child"
        await put(storage, bucket, "x/y", b"child")
        try:
            await put(storage, bucket, "x", b"file")
        except (ParentIsObject, ObjectExistsAsDirectory):
            assert await get(storage, bucket, "x/y") == b"child"
        else:
            assert await get(storage, bucket, "x") == b"file"
            assert await get(storage, bucket, "x/y") == b"child"

    # -- reads -------------------------------------------------------------------------------------------
    async def test_read_missing_key_raises_no_such_key(self, storage: StorageBackend, bucket: str) -> None:
        with pytest.raises(NoSuchKey):
            await storage.open_object(bucket, "absent")
        with pytest.raises(NoSuchKey):
            await storage.head_object(bucket, "absent")

    async def test_read_from_missing_bucket_raises_no_such_bucket(self, storage: StorageBackend) -> None:
        with pytest.raises(NoSuchBucket):
            await storage.open_object("no-such-bucket", "k")
        with pytest.raises(NoSuchBucket):
            await storage.head_object("no-such-bucket", "k")

    async def test_head_matches_open_and_write_result(self, storage: StorageBackend, bucket: str) -> None:
        written = await put(storage, bucket, "k", b"abc", user_metadata={"m": "v"})
        head = await storage.head_object(bucket, "k")
        reader = await storage.open_object(bucket, "k")
        try:
            assert isinstance(reader, ObjectReader)
            assert reader.info == head
        finally:
            await reader.aclose()
        assert (head.key, head.size, head.etag, dict(head.user_metadata)) == (
            written.key,
            written.size,
            written.etag,
            dict(written.user_metadata),
        )
        assert head.is_latest
        assert not head.is_delete_marker

    async def test_last_modified_is_timezone_aware_utc(self, storage: StorageBackend, bucket: str) -> None:
        info = await put(storage, bucket, "k", b"x")
        assert info.last_modified.utcoffset() == timedelta(0)

    @pytest.mark.parametrize(
        ("start", "end"),
        [(0, 0), (0, 9), (3, 6), (9, 9), (5, 9), (0, 25)],
    )
    async def test_range_read_returns_inclusive_slice(
        self, storage: StorageBackend, bucket: str, start: int, end: int
    ) -> None:
        data = b"0123456789abcdefghijklmnopqrstuvwxyz"[:26]
        await put(storage, bucket, "r", data)
        reader = await storage.open_object(bucket, "r")
        assert await read_all(reader, ByteRange(start, end)) == data[start : end + 1]

    async def test_range_read_with_small_chunks_returns_inclusive_slice(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        data = bytes(range(256)) * 8
        await put(storage, bucket, "r", data)
        reader = await storage.open_object(bucket, "r")
        received = [chunk async for chunk in reader.iter_bytes(ByteRange(100, 1500), chunk_size=64)]
        await reader.aclose()
        assert b"".join(received) == data[100:1501]
        assert all(0 < len(chunk) <= 64 for chunk in received)

    async def test_iter_bytes_respects_chunk_size(self, storage: StorageBackend, bucket: str) -> None:
        data = b"z" * 1000
        await put(storage, bucket, "c", data)
        reader = await storage.open_object(bucket, "c")
        received = [chunk async for chunk in reader.iter_bytes(None, chunk_size=128)]
        await reader.aclose()
        assert b"".join(received) == data
        assert all(0 < len(chunk) <= 128 for chunk in received)

    async def test_reader_opened_before_replace_yields_old_bytes(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        old, new = b"A" * 300_000, b"B" * 200_000
        await put(storage, bucket, "k", old)
        reader = await storage.open_object(bucket, "k")
        stream = reader.iter_bytes(None, chunk_size=4096)
        first = await anext(stream)
        await put(storage, bucket, "k", new)
        rest = b"".join([chunk async for chunk in stream])
        await reader.aclose()
        assert first + rest == old
        assert reader.info.size == len(old)
        assert await get(storage, bucket, "k") == new

    async def test_reader_opened_before_replace_but_read_after_yields_old_bytes(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await put(storage, bucket, "k", b"old" * 1000, user_metadata={"v": "old"})
        reader = await storage.open_object(bucket, "k")
        await put(storage, bucket, "k", b"new" * 999, user_metadata={"v": "new"})
        assert await read_all(reader, chunk_size=1000) == b"old" * 1000
        assert dict(reader.info.user_metadata) == {"v": "old"}

    async def test_reader_opened_before_delete_yields_old_bytes(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await put(storage, bucket, "k", b"still here" * 1000)
        reader = await storage.open_object(bucket, "k")
        await storage.delete_object(bucket, "k")
        assert await read_all(reader) == b"still here" * 1000

    async def test_reads_during_a_slow_replace_see_the_old_object(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await put(storage, bucket, "k", b"old")
        halfway = asyncio.Event()
        finish = asyncio.Event()

        async def slow() -> AsyncIterator[bytes]:
            yield b"new-first-half"
            halfway.set()
            await finish.wait()
            yield b"-second-half"

        digest = Md5Digest()
        writer = asyncio.create_task(
            storage.write_object(bucket, "k", slow(), digest=digest, build=md5_build(digest))
        )
        await asyncio.wait_for(halfway.wait(), 5)
        assert await get(storage, bucket, "k") == b"old"
        assert (await storage.head_object(bucket, "k")).size == 3
        finish.set()
        await asyncio.wait_for(writer, 5)
        assert await get(storage, bucket, "k") == b"new-first-half-second-half"

    # -- deletes -----------------------------------------------------------------------------------------
    async def test_delete_removes_object(self, storage: StorageBackend, bucket: str) -> None:
        await put(storage, bucket, "k", b"x")
        outcome = await storage.delete_object(bucket, "k")
        assert not outcome.delete_marker
        with pytest.raises(NoSuchKey):
            await storage.head_object(bucket, "k")
        assert (await storage.list_objects(bucket, ListQuery())).objects == ()

    async def test_delete_missing_key_succeeds(self, storage: StorageBackend, bucket: str) -> None:
        outcome = await storage.delete_object(bucket, "never-written")
        assert not outcome.delete_marker

    async def test_delete_in_missing_bucket_raises_no_such_bucket(self, storage: StorageBackend) -> None:
        with pytest.raises(NoSuchBucket):
            await storage.delete_object("no-such-bucket", "k")

    async def test_deleted_key_can_be_written_again(self, storage: StorageBackend, bucket: str) -> None:
        await put(storage, bucket, "k", b"one")
        await storage.delete_object(bucket, "k")
        await put(storage, bucket, "k", b"two")
        assert await get(storage, bucket, "k") == b"two"

    # -- metadata updates --------------------------------------------------------------------------------
    async def test_update_object_changes_tags_not_bytes(self, storage: StorageBackend, bucket: str) -> None:
        written = await put(storage, bucket, "k", b"payload", user_metadata={"m": "v"}, tags=(("old", "1"),))
        updated = await storage.update_object(
            bucket, "k", None, lambda info: attrs.evolve(info, tags=(("new", "2"),))
        )
        assert updated.tags == (("new", "2"),)
        head = await storage.head_object(bucket, "k")
        assert head.tags == (("new", "2"),)
        assert (head.etag, head.size, dict(head.user_metadata)) == (written.etag, written.size, {"m": "v"})
        assert await get(storage, bucket, "k") == b"payload"

    async def test_update_object_can_clear_tags(self, storage: StorageBackend, bucket: str) -> None:
        await put(storage, bucket, "k", b"payload", tags=(("old", "1"),))
        await storage.update_object(bucket, "k", None, lambda info: attrs.evolve(info, tags=()))
        assert (await storage.head_object(bucket, "k")).tags == ()

    async def test_update_missing_object_raises_no_such_key(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        with pytest.raises(NoSuchKey):
            await storage.update_object(bucket, "absent", None, lambda info: info)
