"""The one entry point the HTTP layer calls per request: which scheme signed it, and is the signature good.

S3 accepts exactly one authentication mechanism per request (S3: "Authenticating Requests"): the
Authorization header (SigV4 or SigV2), SigV4 query parameters, or SigV2 query parameters. Anything else is
anonymous, and whether an anonymous request is allowed is the caller's decision (bucket policy / ACL).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime

from smarts3.adapters.auth.credentials import CredentialStore, as_store
from smarts3.adapters.auth.request import (
    AUTH_ANONYMOUS,
    AUTH_DISABLED,
    PAYLOAD_NONE,
    AuthResult,
    RequestView,
)
from smarts3.adapters.auth.sigv2 import SigV2Verifier
from smarts3.adapters.auth.sigv4 import (
    ALGORITHM,
    ECDSA_ALGORITHM,
    SigV4Verifier,
    parse_query_params,
    payload_mode_for,
)
from smarts3.domain.errors import InvalidArgument, InvalidRequest

_ONE_MECHANISM = (
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string "
    "parameter or the Authorization header should be specified"
)
_V4_QUERY_MARKERS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
_V2_QUERY_MARKERS = ("AWSAccessKeyId", "Signature")


def _query_auth_kind(query_string: str) -> tuple[str | None, dict[str, str] | None]:
    """("v4"|"v2"|None, parsed params). Parses only when a marker substring is present at all."""
    if not query_string or (
        "X-Amz-" not in query_string
        and "Signature" not in query_string
        and "AWSAccessKeyId" not in query_string
    ):
        return None, None
    params = parse_query_params(query_string)
    if any(m in params for m in _V4_QUERY_MARKERS):
        return "v4", params
    if any(m in params for m in _V2_QUERY_MARKERS):
        return "v2", params
    return None, params


class Authenticator:
    """Authenticates requests; wire once at start-up, then call :meth:`authenticate` per request."""

    def __init__(
        self,
        credentials: Mapping[str, str] | CredentialStore,
        *,
        region: str = "us-east-1",
        enabled: bool = True,
        max_skew_seconds: int = 900,
        clock: Callable[[], datetime] | None = None,
        require_signed_amz_headers: bool = True,
    ) -> None:
        self.region = region  # informational: any region in a credential scope is accepted
        self.enabled = enabled
        store = as_store(credentials)
        now: Callable[[], float] = time.time if clock is None else (lambda: clock().timestamp())
        self._v4 = SigV4Verifier(
            store,
            max_skew_seconds=max_skew_seconds,
            now=now,
            require_signed_amz_headers=require_signed_amz_headers,
        )
        self._v2 = SigV2Verifier(store, max_skew_seconds=max_skew_seconds, now=now)

    @staticmethod
    def is_anonymous(req: RequestView) -> bool:
        """No Authorization header and no signature/credential query parameter."""
        if "authorization" in req.headers:
            return False
        kind, _ = _query_auth_kind(req.query_string)
        return kind is None

    def authenticate(self, req: RequestView) -> AuthResult:
        """Verify the request's signature; return who signed it and how its body is to be read.

        Raises an :class:`~smarts3.domain.errors.S3Error` for a malformed, expired, unknown-key or
        wrong signature. Anonymous requests are not an error: they come back with ``access_key=None``.
        With ``enabled=False`` nothing is verified, but the payload mode is still derived from the
        headers so aws-chunked bodies decode (chunk signatures are then not checked).
        """
        authorization = req.headers.get("authorization")
        if authorization is not None and not authorization.strip():
            authorization = None  # an empty Authorization header is no signature at all: anonymous (S3: 403)
        if authorization is None and self.enabled and req.query_string:
            cached = self._v4.cached_presigned(req) or self._v2.cached_presigned(req)
            if cached is not None:
                return cached
        kind, params = _query_auth_kind(req.query_string)
        if not self.enabled:
            return _unauthenticated(req, AUTH_DISABLED)
        if authorization is not None:
            if kind is not None:
                raise InvalidArgument(
                    _ONE_MECHANISM, extra={"ArgumentName": "Authorization", "ArgumentValue": authorization}
                )
            if authorization.startswith(ALGORITHM + " "):
                return self._v4.verify_header(req, authorization)
            if authorization.startswith("AWS "):
                return self._v2.verify_header(req, authorization)
            if authorization.startswith(ECDSA_ALGORITHM):
                raise InvalidRequest("SigV4a (AWS4-ECDSA-P256-SHA256) is not supported by this server.")
            raise InvalidArgument(
                "Unsupported Authorization Type",
                extra={"ArgumentName": "Authorization", "ArgumentValue": authorization},
            )
        if kind == "v4":
            assert params is not None
            if "Signature" in params or "AWSAccessKeyId" in params:
                raise InvalidArgument(_ONE_MECHANISM, extra={"ArgumentName": "X-Amz-Algorithm"})
            return self._v4.verify_query(req, params)
        if kind == "v2":
            assert params is not None
            return self._v2.verify_query(req, params)
        return _unauthenticated(req, AUTH_ANONYMOUS)


def _unauthenticated(req: RequestView, auth_type: str) -> AuthResult:
    content_sha256 = req.headers.get("x-amz-content-sha256")
    if content_sha256 is None:
        return AuthResult(access_key=None, payload_mode=PAYLOAD_NONE, auth_type=auth_type)
    mode, expected = payload_mode_for(content_sha256)
    return AuthResult(access_key=None, payload_mode=mode, expected_sha256=expected, auth_type=auth_type)
