"""What the authenticator reads from a request, and what it hands back to the HTTP layer.

Both are plain frozen values: the HTTP layer builds one :class:`RequestView` per request from the ASGI scope,
and receives one :class:`AuthResult` that also carries what the aws-chunked decoder needs to verify chunk
signatures. They are msgspec Structs rather than frozen attrs classes because every request builds both: a
Struct is built ~8x faster (~0.1 vs ~0.7 us), and a GET of a small object costs only ~40 us of Python in all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec

#: payload modes (S3: "Authenticating Requests: Using the Authorization Header", x-amz-content-sha256 values)
PAYLOAD_SHA256: Final = "sha256"
PAYLOAD_UNSIGNED: Final = "unsigned"
PAYLOAD_STREAMING_SIGNED: Final = "streaming-signed"
PAYLOAD_STREAMING_UNSIGNED_TRAILER: Final = "streaming-unsigned-trailer"
PAYLOAD_STREAMING_SIGNED_TRAILER: Final = "streaming-signed-trailer"
PAYLOAD_NONE: Final = "none"

STREAMING_MODES: Final = frozenset(
    {PAYLOAD_STREAMING_SIGNED, PAYLOAD_STREAMING_UNSIGNED_TRAILER, PAYLOAD_STREAMING_SIGNED_TRAILER}
)

#: how the request was authenticated (for logs, metrics and bucket-policy conditions)
AUTH_ANONYMOUS: Final = "anonymous"
AUTH_DISABLED: Final = "disabled"
AUTH_V4_HEADER: Final = "v4-header"
AUTH_V4_QUERY: Final = "v4-query"
AUTH_V2_HEADER: Final = "v2-header"
AUTH_V2_QUERY: Final = "v2-query"


class RequestView(msgspec.Struct, frozen=True):
    """The parts of an HTTP request that signatures cover, exactly as they came off the wire.

    ``raw_path`` is ``scope["raw_path"].decode("latin-1")`` without the query; ``query_string`` is
    ``scope["query_string"].decode("latin-1")``; ``headers`` has lower-case names, repeated headers joined
    with ``","``. ``bucket_from_host`` is the bucket named by a virtual-hosted-style Host header (SigV2 signs
    ``/bucket/key`` even when the path is ``/key``); leave it ``None`` for path-style requests.
    """

    method: str
    raw_path: str
    query_string: str
    headers: Mapping[str, str]
    host: str
    bucket_from_host: str | None = None


class AuthResult(msgspec.Struct, frozen=True, gc=False):
    """Who sent the request and how its body is protected.

    ``signing_key``, ``scope``, ``seed_signature`` and ``amz_date`` are set for SigV4 requests so the
    aws-chunked decoder can verify chunk and trailer signatures (S3: "Signature Calculations for the
    Authorization Header: Transferring Payload in Multiple Chunks").
    """

    access_key: str | None
    payload_mode: str
    expected_sha256: str | None = None
    signing_key: bytes | None = None  # never in logs (left out of repr)
    scope: str | None = None
    seed_signature: str | None = None
    amz_date: str | None = None
    auth_type: str = AUTH_ANONYMOUS

    @property
    def is_anonymous(self) -> bool:
        return self.access_key is None

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        """What rich prints (msgspec's own lists every field, the signing key too)."""
        return [(name, getattr(self, name)) for name in self.__struct_fields__ if name != "signing_key"]

    def __repr__(self) -> str:
        return (
            f"AuthResult(access_key={self.access_key!r}, payload_mode={self.payload_mode!r}, "
            f"expected_sha256={self.expected_sha256!r}, scope={self.scope!r}, "
            f"seed_signature={self.seed_signature!r}, amz_date={self.amz_date!r}, auth_type={self.auth_type!r})"
        )
