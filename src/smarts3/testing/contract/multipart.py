"""Contract: multipart uploads: parts, listings, completion by concatenation, abort and expiry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import attrs
import pytest

from smarts3.domain.errors import BadDigest, NoSuchBucket, NoSuchKey, NoSuchUpload, PreconditionFailed
from smarts3.domain.models import ObjectInfo, PartInfo, VersioningStatus, VersionListQuery
from smarts3.domain.ports import StorageBackend, WriteCondition
from smarts3.testing.contract.base import ContractBase
from smarts3.testing.contract.helpers import (
    EPOCH,
    Md5Digest,
    body,
    enable_versioning,
    failing_build,
    get,
    md5_build,
    md5_hex,
    part_build,
    put,
    put_part,
    refuse,
    upload_info,
)


async def _complete(
    storage: StorageBackend,
    bucket: str,
    key: str,
    upload_id: str,
    parts: list[PartInfo],
    *,
    condition: WriteCondition | None = None,
    versioning: VersioningStatus | None = None,
    version_id: str | None = None,
) -> tuple[Md5Digest, ObjectInfo]:
    digest = Md5Digest()
    info = await storage.complete_upload(
        bucket,
        key,
        upload_id,
        parts,
        digest=digest,
        build=md5_build(digest),
        condition=condition,
        versioning=versioning,
        version_id=version_id,
    )
    return digest, info


class MultipartContract(ContractBase):
    async def test_created_upload_can_be_read_back(self, storage: StorageBackend, bucket: str) -> None:
        upload = upload_info(bucket, "big/file", "u1")
        await storage.create_upload(upload)
        assert await storage.get_upload(bucket, "big/file", "u1") == upload

    async def test_upload_keeps_what_create_asked_for(self, storage: StorageBackend, bucket: str) -> None:
        upload = attrs.evolve(
            upload_info(bucket, "k", "u1"),
            headers={"content-type": "video/mp4"},
            user_metadata={"owner": "me"},
            tags=(("t", "1"),),
            checksum_algorithm="CRC32",
            checksum_type="COMPOSITE",
        )
        await storage.create_upload(upload)
        assert await storage.get_upload(bucket, "k", "u1") == upload

    async def test_create_upload_in_missing_bucket_raises_no_such_bucket(
        self, storage: StorageBackend
    ) -> None:
        with pytest.raises(NoSuchBucket):
            await storage.create_upload(upload_info("absent", "k", "u1"))

    async def test_unknown_upload_raises_no_such_upload(self, storage: StorageBackend, bucket: str) -> None:
        with pytest.raises(NoSuchUpload):
            await storage.get_upload(bucket, "k", "nope")
        with pytest.raises(NoSuchUpload):
            await storage.list_parts(bucket, "k", "nope")
        with pytest.raises(NoSuchUpload):
            await put_part(storage, bucket, "k", "nope", 1, b"x")
        with pytest.raises(NoSuchUpload):
            await storage.abort_upload(bucket, "k", "nope")

    async def test_upload_is_bound_to_its_key(self, storage: StorageBackend, bucket: str) -> None:
        await storage.create_upload(upload_info(bucket, "k", "u1"))
        with pytest.raises(NoSuchUpload):
            await storage.get_upload(bucket, "other-key", "u1")

    async def test_write_part_digests_every_chunk_and_builds_with_size(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await storage.create_upload(upload_info(bucket, "k", "u1"))
        data = bytes(range(256)) * 20
        digest = Md5Digest()
        part = await storage.write_part(
            bucket, "k", "u1", 1, body(data, 99), digest=digest, build=part_build(digest, 1)
        )
        assert digest.received == data
        assert (part.part_number, part.size, part.etag) == (1, len(data), md5_hex(data))
        assert list(await storage.list_parts(bucket, "k", "u1")) == [part]

    async def test_write_part_with_failing_build_stores_no_part(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await storage.create_upload(upload_info(bucket, "k", "u1"))

        def build(size: int) -> PartInfo:
            raise PreconditionFailed()

        with pytest.raises(PreconditionFailed):
            await storage.write_part(bucket, "k", "u1", 1, body(b"data"), digest=Md5Digest(), build=build)
        assert list(await storage.list_parts(bucket, "k", "u1")) == []

    async def test_same_part_number_replaces_the_earlier_part(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await storage.create_upload(upload_info(bucket, "k", "u1"))
        await put_part(storage, bucket, "k", "u1", 1, b"first attempt")
        second = await put_part(storage, bucket, "k", "u1", 1, b"second")
        assert list(await storage.list_parts(bucket, "k", "u1")) == [second]
        await _complete(storage, bucket, "k", "u1", [second])
        assert await get(storage, bucket, "k") == b"second"

    async def test_list_parts_is_ascending_by_part_number(self, storage: StorageBackend, bucket: str) -> None:
        await storage.create_upload(upload_info(bucket, "k", "u1"))
        for number in (3, 1, 10000, 2):
            await put_part(storage, bucket, "k", "u1", number, str(number).encode())
        parts = await storage.list_parts(bucket, "k", "u1")
        assert [p.part_number for p in parts] == [1, 2, 3, 10000]
        assert [p.size for p in parts] == [1, 1, 1, 5]

    async def test_list_uploads_sorted_by_key_then_initiated_then_id(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await storage.create_upload(upload_info(bucket, "b", "u9", initiated_offset=5))
        await storage.create_upload(upload_info(bucket, "a", "u5", initiated_offset=9))
        await storage.create_upload(upload_info(bucket, "b", "u2", initiated_offset=7))
        await storage.create_upload(upload_info(bucket, "b", "u1", initiated_offset=5))
        uploads = await storage.list_uploads(bucket)
        assert [(u.key, u.upload_id) for u in uploads] == [("a", "u5"), ("b", "u1"), ("b", "u9"), ("b", "u2")]

    async def test_list_uploads_is_per_bucket(self, storage: StorageBackend, bucket: str) -> None:
        await storage.create_bucket("other", region="us-east-1")
        await storage.create_upload(upload_info("other", "k", "u1"))
        assert list(await storage.list_uploads(bucket)) == []
        assert [u.upload_id for u in await storage.list_uploads("other")] == ["u1"]

    async def test_complete_concatenates_the_given_parts_in_order(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await storage.create_upload(upload_info(bucket, "k", "u1"))
        one = await put_part(storage, bucket, "k", "u1", 1, b"A" * 1000)
        await put_part(storage, bucket, "k", "u1", 2, b"not used")
        three = await put_part(storage, bucket, "k", "u1", 3, b"C" * 10)
        digest, _ = await _complete(storage, bucket, "k", "u1", [one, three])
        expected = b"A" * 1000 + b"C" * 10
        assert digest.received == expected
        assert await get(storage, bucket, "k") == expected
        head = await storage.head_object(bucket, "k")
        assert (head.size, head.etag) == (len(expected), md5_hex(expected))

    async def test_complete_stores_metadata_from_build(self, storage: StorageBackend, bucket: str) -> None:
        await storage.create_upload(upload_info(bucket, "k", "u1"))
        part = await put_part(storage, bucket, "k", "u1", 1, b"data")
        digest = Md5Digest()
        build = md5_build(
            digest,
            user_metadata={"m": "v"},
            parts_count=1,
            headers={"content-type": "a/b"},
            checksums={"CRC32": "AAAAAA==-1"},
            checksum_type="COMPOSITE",
            part_sizes=(4,),
            part_checksums=("AAAAAA==",),
        )
        await storage.complete_upload(bucket, "k", "u1", [part], digest=digest, build=build)
        assert build.sizes == [4]
        head = await storage.head_object(bucket, "k")
        assert (dict(head.user_metadata), head.parts_count, head.content_type) == ({"m": "v"}, 1, "a/b")
        # what GetObject with partNumber and GetObjectAttributes answer from
        assert (head.part_sizes, head.part_checksums) == ((4,), ("AAAAAA==",))

    async def test_complete_forgets_the_upload(self, storage: StorageBackend, bucket: str) -> None:
        await storage.create_upload(upload_info(bucket, "k", "u1"))
        part = await put_part(storage, bucket, "k", "u1", 1, b"x")
        await _complete(storage, bucket, "k", "u1", [part])
        with pytest.raises(NoSuchUpload):
            await storage.get_upload(bucket, "k", "u1")
        assert list(await storage.list_uploads(bucket)) == []
        await storage.delete_object(bucket, "k")
        await storage.delete_bucket(bucket)

    async def test_complete_replaces_an_existing_object(self, storage: StorageBackend, bucket: str) -> None:
        await put(storage, bucket, "k", b"old")
        await storage.create_upload(upload_info(bucket, "k", "u1"))
        part = await put_part(storage, bucket, "k", "u1", 1, b"new")
        await _complete(storage, bucket, "k", "u1", [part])
        assert await get(storage, bucket, "k") == b"new"

    async def test_complete_with_failing_build_stores_nothing(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await storage.create_upload(upload_info(bucket, "k", "u1"))
        part = await put_part(storage, bucket, "k", "u1", 1, b"x")
        with pytest.raises(BadDigest):
            await storage.complete_upload(
                bucket, "k", "u1", [part], digest=Md5Digest(), build=failing_build()
            )
        with pytest.raises(NoSuchKey):
            await storage.head_object(bucket, "k")

    async def test_complete_with_failing_condition_keeps_previous_object(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await put(storage, bucket, "k", b"old")
        await storage.create_upload(upload_info(bucket, "k", "u1"))
        part = await put_part(storage, bucket, "k", "u1", 1, b"new")
        with pytest.raises(PreconditionFailed):
            await _complete(storage, bucket, "k", "u1", [part], condition=refuse)
        assert await get(storage, bucket, "k") == b"old"

    async def test_complete_in_versioned_bucket_adds_a_version(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "k", b"v1", versioning="Enabled", version_id="v1")
        await storage.create_upload(upload_info(bucket, "k", "u1"))
        part = await put_part(storage, bucket, "k", "u1", 1, b"v2")
        await _complete(storage, bucket, "k", "u1", [part], versioning="Enabled", version_id="v2")
        page = await storage.list_versions(bucket, VersionListQuery())
        assert [v.version_id for v in page.versions] == ["v2", "v1"]
        assert await get(storage, bucket, "k", "v1") == b"v1"

    async def test_abort_forgets_the_upload_and_its_parts(self, storage: StorageBackend, bucket: str) -> None:
        await storage.create_upload(upload_info(bucket, "k", "u1"))
        await put_part(storage, bucket, "k", "u1", 1, b"x")
        await storage.abort_upload(bucket, "k", "u1")
        with pytest.raises(NoSuchUpload):
            await storage.get_upload(bucket, "k", "u1")
        with pytest.raises(NoSuchUpload):
            await storage.list_parts(bucket, "k", "u1")
        with pytest.raises(NoSuchUpload):
            await storage.abort_upload(bucket, "k", "u1")
        await storage.delete_bucket(bucket)

    async def test_uploads_of_one_key_are_independent(self, storage: StorageBackend, bucket: str) -> None:
        await storage.create_upload(upload_info(bucket, "k", "u1"))
        await storage.create_upload(upload_info(bucket, "k", "u2"))
        await put_part(storage, bucket, "k", "u1", 1, b"one")
        two = await put_part(storage, bucket, "k", "u2", 1, b"two")
        await storage.abort_upload(bucket, "k", "u1")
        assert list(await storage.list_parts(bucket, "k", "u2")) == [two]

    async def test_expire_uploads_aborts_only_older_ones(self, storage: StorageBackend, bucket: str) -> None:
        await storage.create_bucket("other", region="us-east-1")
        await storage.create_upload(upload_info(bucket, "old", "u1", initiated_offset=0))
        await storage.create_upload(upload_info("other", "old", "u2", initiated_offset=10))
        await storage.create_upload(upload_info(bucket, "new", "u3", initiated_offset=100))
        await put_part(storage, bucket, "old", "u1", 1, b"x")
        assert await storage.expire_uploads(EPOCH + timedelta(seconds=50)) == 2
        assert [u.upload_id for u in await storage.list_uploads(bucket)] == ["u3"]
        assert list(await storage.list_uploads("other")) == []
        assert await storage.expire_uploads(EPOCH + timedelta(seconds=50)) == 0

    async def test_parallel_parts_of_one_upload_do_not_block_each_other(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await storage.create_upload(upload_info(bucket, "k", "u1"))
        second_started = asyncio.Event()

        async def waits_for_second() -> AsyncIterator[bytes]:
            yield b"first-"
            await second_started.wait()
            yield b"part"

        async def signals() -> AsyncIterator[bytes]:
            second_started.set()
            yield b"second-part"

        d1, d2 = Md5Digest(), Md5Digest()
        one, two = await asyncio.wait_for(
            asyncio.gather(
                storage.write_part(
                    bucket, "k", "u1", 1, waits_for_second(), digest=d1, build=part_build(d1, 1)
                ),
                storage.write_part(bucket, "k", "u1", 2, signals(), digest=d2, build=part_build(d2, 2)),
            ),
            10,
        )
        assert (one.size, two.size) == (10, 11)
