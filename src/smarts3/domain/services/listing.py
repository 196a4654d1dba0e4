"""ListObjects V1/V2 and ListObjectVersions: argument rules and opaque continuation tokens."""

from __future__ import annotations

import base64
import binascii

import attrs

from smarts3.domain.errors import InvalidArgument
from smarts3.domain.models import ListPage, ListQuery, VersionListPage, VersionListQuery
from smarts3.domain.ports import StorageBackend

MAX_KEYS = 1000


def parse_max_keys(value: str | None, name: str = "max-keys", default: int = MAX_KEYS) -> int:
    """S3 caps max-keys at 1000; non-numbers and negatives are InvalidArgument."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidArgument(
            "Provided max-keys not an integer or within integer range",
            extra={"ArgumentName": name, "ArgumentValue": value},
        ) from None
    if number < 0:
        raise InvalidArgument(
            "Argument maxKeys must be an integer between 0 and 2147483647",
            extra={"ArgumentName": name, "ArgumentValue": value},
        )
    return min(number, default)


def encode_token(marker: str) -> str:
    """S3: ListObjectsV2 ContinuationToken is opaque. Ours wraps the last key returned."""
    return base64.urlsafe_b64encode(b"v1:" + marker.encode("utf-8")).decode("ascii")


def decode_token(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii") + b"=" * (-len(token) % 4))
        if not raw.startswith(b"v1:"):
            raise ValueError("unknown token version")
        return raw[3:].decode("utf-8")
    except (binascii.Error, ValueError, UnicodeError):
        raise InvalidArgument(
            "The continuation token provided is incorrect",
            extra={"ArgumentName": "continuation-token"},
        ) from None


@attrs.frozen
class V2Page:
    page: ListPage
    next_token: str | None


class ListingService:
    def __init__(self, storage: StorageBackend) -> None:
        self._storage = storage

    async def list_v1(
        self, bucket: str, *, prefix: str, delimiter: str, marker: str, max_keys: int
    ) -> ListPage:
        query = ListQuery(prefix=prefix, delimiter=delimiter, start_after=marker, max_keys=max_keys)
        return await self._storage.list_objects(bucket, query)

    async def list_v2(
        self,
        bucket: str,
        *,
        prefix: str,
        delimiter: str,
        continuation_token: str | None,
        start_after: str,
        max_keys: int,
    ) -> V2Page:
        after = start_after
        if continuation_token is not None:
            if continuation_token == "":
                raise InvalidArgument(
                    "The continuation token provided is incorrect",
                    extra={"ArgumentName": "continuation-token"},
                )
            # the token alone says where the next page starts: S3 (and MinIO, moto) ignore start-after then,
            # and minio-py sends its token again as start-after, which no key order may compare against
            after = decode_token(continuation_token)
        page = await self._storage.list_objects(
            bucket, ListQuery(prefix=prefix, delimiter=delimiter, start_after=after, max_keys=max_keys)
        )
        token = encode_token(page.next_marker) if page.is_truncated and page.next_marker is not None else None
        return V2Page(page=page, next_token=token)

    async def list_versions(
        self,
        bucket: str,
        *,
        prefix: str,
        delimiter: str,
        key_marker: str,
        version_id_marker: str,
        max_keys: int,
    ) -> VersionListPage:
        if version_id_marker and not key_marker:
            raise InvalidArgument(
                "A version-id marker cannot be specified without a key marker.",
                extra={"ArgumentName": "version-id-marker", "ArgumentValue": version_id_marker},
            )
        query = VersionListQuery(
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            version_id_marker=version_id_marker,
            max_keys=max_keys,
        )
        return await self._storage.list_versions(bucket, query)
