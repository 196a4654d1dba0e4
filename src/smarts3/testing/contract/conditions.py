"""Contract: write conditions (If-Match / If-None-Match) are evaluated atomically with the commit."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from smarts3.domain.errors import NoSuchKey, PreconditionFailed
from smarts3.domain.models import NewObject, ObjectInfo, VersionListQuery
from smarts3.domain.ports import StorageBackend
from smarts3.testing.contract.base import ContractBase
from smarts3.testing.contract.helpers import (
    Md5Digest,
    body,
    enable_versioning,
    get,
    only_if_absent,
    put,
    refuse,
)


class ConditionContract(ContractBase):
    async def test_condition_sees_none_for_absent_key(self, storage: StorageBackend, bucket: str) -> None:
        seen: list[ObjectInfo | None] = []
        await put(storage, bucket, "k", b"x", condition=seen.append)
        assert seen == [None]

    async def test_condition_sees_the_current_object(self, storage: StorageBackend, bucket: str) -> None:
        current = await put(storage, bucket, "k", b"old")
        seen: list[ObjectInfo | None] = []
        await put(storage, bucket, "k", b"new", condition=seen.append)
        assert len(seen) == 1
        assert seen[0] is not None
        assert (seen[0].key, seen[0].etag, seen[0].size) == (current.key, current.etag, current.size)

    async def test_condition_sees_none_when_latest_is_a_delete_marker(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "k", b"x", versioning="Enabled", version_id="v1")
        await storage.delete_object(bucket, "k", versioning="Enabled", marker_version_id="v2")
        seen: list[ObjectInfo | None] = []
        await put(storage, bucket, "k", b"y", condition=seen.append, versioning="Enabled", version_id="v3")
        assert seen == [None]

    async def test_failing_condition_on_absent_key_stores_nothing(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        with pytest.raises(PreconditionFailed):
            await put(storage, bucket, "k", b"x", condition=refuse)
        with pytest.raises(NoSuchKey):
            await storage.head_object(bucket, "k")

    async def test_failing_condition_keeps_previous_object(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await put(storage, bucket, "k", b"old")
        with pytest.raises(PreconditionFailed):
            await put(storage, bucket, "k", b"new", condition=only_if_absent)
        assert await get(storage, bucket, "k") == b"old"

    async def test_failing_condition_in_versioned_bucket_adds_no_version(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "k", b"old", versioning="Enabled", version_id="v1")
        with pytest.raises(PreconditionFailed):
            await put(storage, bucket, "k", b"new", condition=refuse, versioning="Enabled", version_id="v2")
        page = await storage.list_versions(bucket, VersionListQuery())
        assert [v.version_id for v in page.versions] == ["v1"]

    async def test_condition_is_evaluated_after_the_body_and_build(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        events: list[str] = []

        class Recorder:
            def update(self, chunk: bytes) -> None:
                events.append("chunk")

        def build(size: int) -> NewObject:
            events.append("build")
            return NewObject(etag="0" * 32)

        def condition(info: ObjectInfo | None) -> None:
            events.append("condition")

        await storage.write_object(
            bucket, "k", body(b"abcdef", 2), digest=Recorder(), build=build, condition=condition
        )
        assert events == ["chunk", "chunk", "chunk", "build", "condition"]

    async def test_concurrent_create_if_absent_lets_exactly_one_win(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        started: list[bytes] = []
        both_started = asyncio.Event()

        async def slow(data: bytes) -> AsyncIterator[bytes]:
            yield data[:1]
            started.append(data)
            if len(started) == 2:
                both_started.set()
            # overlap the two bodies when the adapter allows it; an adapter that serialises whole writes of
            # one key is still correct, so do not wait for ever
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(both_started.wait(), 1)
            yield data[1:]

        async def create(data: bytes) -> ObjectInfo:
            digest = Md5Digest()
            return await storage.write_object(
                bucket,
                "k",
                slow(data),
                digest=digest,
                build=lambda size: NewObject(etag=digest.hexdigest()),
                condition=only_if_absent,
            )

        results = await asyncio.wait_for(
            asyncio.gather(create(b"first"), create(b"second"), return_exceptions=True), 10
        )
        winners = [r for r in results if isinstance(r, ObjectInfo)]
        losers = [r for r in results if isinstance(r, PreconditionFailed)]
        assert (len(winners), len(losers)) == (1, 1)
        assert winners[0].size == len(await get(storage, bucket, "k"))

    async def test_delete_with_failing_condition_keeps_object(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await put(storage, bucket, "k", b"keep")
        with pytest.raises(PreconditionFailed):
            await storage.delete_object(bucket, "k", condition=refuse)
        assert await get(storage, bucket, "k") == b"keep"

    async def test_delete_condition_sees_the_current_object(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        current = await put(storage, bucket, "k", b"x")
        seen: list[ObjectInfo | None] = []
        await storage.delete_object(bucket, "k", condition=seen.append)
        assert [None if s is None else s.etag for s in seen] == [current.etag]
        with pytest.raises(NoSuchKey):
            await storage.head_object(bucket, "k")
