"""Bucket use cases: create, delete, list, location, versioning and the per-bucket configuration documents."""

from __future__ import annotations

from collections.abc import Sequence

from smarts3.domain.errors import (
    BucketAlreadyOwnedByYou,
    IllegalVersioningConfigurationException,
    InvalidBucketName,
    InvalidBucketState,
)
from smarts3.domain.models import BucketInfo
from smarts3.domain.ports import StorageBackend
from smarts3.domain.services.common import VERSIONING_KIND, bucket_versioning
from smarts3.domain.validation import check_bucket_name


class BucketService:
    def __init__(self, storage: StorageBackend, region: str) -> None:
        self._storage = storage
        self.region = region

    async def create(
        self, name: str, *, location: str | None = None, object_lock: bool = False
    ) -> BucketInfo:
        check_bucket_name(name)
        region = location or self.region
        try:
            bucket = await self._storage.create_bucket(name, region=region, object_lock=object_lock)
        except BucketAlreadyOwnedByYou:
            # S3 (CreateBucket, "Errors"): in us-east-1 creating a bucket you already own answers 200 and
            # keeps it; every other region answers 409 BucketAlreadyOwnedByYou.
            existing = await self._storage.get_bucket(name)
            if region == "us-east-1" and existing.region == "us-east-1" and not object_lock:
                return existing
            raise

        if object_lock:
            # S3: enabling Object Lock at creation turns versioning on for good.
            await self._storage.put_bucket_config(name, VERSIONING_KIND, b"Enabled")
        return bucket

    async def delete(self, name: str) -> None:
        await self._storage.delete_bucket(name)

    async def get(self, name: str) -> BucketInfo:
        if not name or "/" in name:
            raise InvalidBucketName(resource=name)
        return await self._storage.get_bucket(name)

    async def list(self) -> Sequence[BucketInfo]:
        return await self._storage.list_buckets()

    async def get_versioning(self, name: str) -> str | None:
        return await bucket_versioning(self._storage, name)

    async def put_versioning(self, name: str, status: str) -> None:
        if status not in ("Enabled", "Suspended"):
            raise IllegalVersioningConfigurationException()
        bucket = await self._storage.get_bucket(name)
        # Object Lock is on when the bucket was created with it or received a configuration later
        locked = bucket.object_lock_enabled
        locked = locked or await self._storage.get_bucket_config(name, "object-lock") is not None
        if locked and status == "Suspended":
            raise InvalidBucketState(
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed."
            )
        await self._storage.put_bucket_config(name, VERSIONING_KIND, status.encode("ascii"))

    async def get_config(self, name: str, kind: str) -> bytes | None:
        return await self._storage.get_bucket_config(name, kind)

    async def put_config(self, name: str, kind: str, document: bytes | None) -> None:
        await self._storage.put_bucket_config(name, kind, document)
