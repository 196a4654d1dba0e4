"""Contract: bucket lifecycle, emptiness rules and per-bucket configuration documents."""

from __future__ import annotations

import pytest

from smarts3.domain.errors import BucketAlreadyOwnedByYou, BucketNotEmpty, NoSuchBucket
from smarts3.domain.models import ListQuery
from smarts3.domain.ports import StorageBackend
from smarts3.testing.contract.base import REGION, ContractBase
from smarts3.testing.contract.helpers import enable_versioning, put, upload_info


class BucketContract(ContractBase):
    async def test_create_bucket_returns_its_info(self, storage: StorageBackend) -> None:
        info = await storage.create_bucket("fresh", region="eu-west-1")
        assert info.name == "fresh"
        assert info.region == "eu-west-1"
        assert not info.object_lock_enabled
        assert info.created.utcoffset() is not None
        assert await storage.get_bucket("fresh") == info

    async def test_create_bucket_with_object_lock_reports_it(self, storage: StorageBackend) -> None:
        await storage.create_bucket("locked", region=REGION, object_lock=True)
        assert (await storage.get_bucket("locked")).object_lock_enabled

    async def test_get_missing_bucket_raises_no_such_bucket(self, storage: StorageBackend) -> None:
        with pytest.raises(NoSuchBucket):
            await storage.get_bucket("absent")

    async def test_create_existing_bucket_raises_already_owned(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        with pytest.raises(BucketAlreadyOwnedByYou):
            await storage.create_bucket(bucket, region=REGION)

    async def test_list_buckets_is_sorted_by_name(self, storage: StorageBackend) -> None:
        for name in ("zeta", "alpha", "mid-1", "mid.2"):
            await storage.create_bucket(name, region=REGION)
        assert [b.name for b in await storage.list_buckets()] == ["alpha", "mid-1", "mid.2", "zeta"]

    async def test_list_buckets_is_empty_on_fresh_storage(self, storage: StorageBackend) -> None:
        assert list(await storage.list_buckets()) == []

    async def test_delete_empty_bucket_removes_it(self, storage: StorageBackend, bucket: str) -> None:
        await storage.delete_bucket(bucket)
        with pytest.raises(NoSuchBucket):
            await storage.get_bucket(bucket)
        assert [b.name for b in await storage.list_buckets()] == []

    async def test_deleted_bucket_can_be_created_again_empty(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await put(storage, bucket, "k", b"x")
        await storage.delete_object(bucket, "k")
        await storage.put_bucket_config(bucket, "cors", b"<CORS/>")
        await storage.delete_bucket(bucket)
        await storage.create_bucket(bucket, region=REGION)
        assert (await storage.list_objects(bucket, ListQuery())).objects == ()
        assert await storage.get_bucket_config(bucket, "cors") is None

    async def test_delete_missing_bucket_raises_no_such_bucket(self, storage: StorageBackend) -> None:
        with pytest.raises(NoSuchBucket):
            await storage.delete_bucket("absent")

    async def test_delete_bucket_with_object_raises_not_empty(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await put(storage, bucket, "k", b"x")
        with pytest.raises(BucketNotEmpty):
            await storage.delete_bucket(bucket)
        assert (await storage.get_bucket(bucket)).name == bucket

    async def test_delete_bucket_with_only_old_versions_raises_not_empty(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        await enable_versioning(storage, bucket)
        await put(storage, bucket, "k", b"x", versioning="Enabled", version_id="v1")
        await storage.delete_object(bucket, "k", versioning="Enabled", marker_version_id="v2")
        assert (await storage.list_objects(bucket, ListQuery())).objects == ()
        with pytest.raises(BucketNotEmpty):
            await storage.delete_bucket(bucket)

    async def test_delete_bucket_with_only_uploads_in_progress_removes_them_too(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        """S3 deletes a bucket whose only content is incomplete multipart uploads; they go with it."""
        await storage.create_upload(upload_info(bucket, "k", "u1"))
        await storage.delete_bucket(bucket)
        await storage.create_bucket(bucket, region="us-east-1")
        assert list(await storage.list_uploads(bucket)) == []

    async def test_bucket_config_round_trips_and_none_removes_it(
        self, storage: StorageBackend, bucket: str
    ) -> None:
        assert await storage.get_bucket_config(bucket, "cors") is None
        document = b"<CORSConfiguration>\xc3\xa9</CORSConfiguration>"
        await storage.put_bucket_config(bucket, "cors", document)
        assert await storage.get_bucket_config(bucket, "cors") == document
        await storage.put_bucket_config(bucket, "cors", b"<replaced/>")
        assert await storage.get_bucket_config(bucket, "cors") == b"<replaced/>"
        await storage.put_bucket_config(bucket, "cors", None)
        assert await storage.get_bucket_config(bucket, "cors") is None

    async def test_removing_unset_config_is_harmless(self, storage: StorageBackend, bucket: str) -> None:
        await storage.put_bucket_config(bucket, "lifecycle", None)
        assert await storage.get_bucket_config(bucket, "lifecycle") is None

    async def test_bucket_config_kinds_are_independent(self, storage: StorageBackend, bucket: str) -> None:
        kinds = ("versioning", "cors", "tagging", "lifecycle", "object-lock", "policy")
        for kind in kinds:
            await storage.put_bucket_config(bucket, kind, kind.encode() * 2)
        await storage.put_bucket_config(bucket, "cors", None)
        for kind in kinds:
            expected = None if kind == "cors" else kind.encode() * 2
            assert await storage.get_bucket_config(bucket, kind) == expected

    async def test_bucket_configs_are_per_bucket(self, storage: StorageBackend, bucket: str) -> None:
        await storage.create_bucket("other", region=REGION)
        await storage.put_bucket_config(bucket, "policy", b"{}")
        assert await storage.get_bucket_config("other", "policy") is None

    async def test_bucket_config_on_missing_bucket_raises_no_such_bucket(
        self, storage: StorageBackend
    ) -> None:
        with pytest.raises(NoSuchBucket):
            await storage.get_bucket_config("absent", "cors")
        with pytest.raises(NoSuchBucket):
            await storage.put_bucket_config("absent", "cors", b"<x/>")

    async def test_objects_are_per_bucket(self, storage: StorageBackend, bucket: str) -> None:
        await storage.create_bucket("other", region=REGION)
        await put(storage, bucket, "k", b"x")
        assert (await storage.list_objects("other", ListQuery())).objects == ()
        await storage.delete_bucket("other")

    async def test_check_ready_passes_on_healthy_storage(self, storage: StorageBackend, bucket: str) -> None:
        await storage.check_ready()
        await put(storage, bucket, "k", b"x")
        await storage.check_ready()
        assert (await storage.head_object(bucket, "k")).size == 1
