"""AWS Signature Version 2 for S3 (``Authorization: AWS AKID:sig`` and ``?AWSAccessKeyId=&Expires=&Signature=``).

Rules come from the S3 developer guide, "Signing and Authenticating REST Requests" (Signature Version 2):
StringToSign = VERB\\nContent-MD5\\nContent-Type\\nDate\\nCanonicalizedAmzHeaders CanonicalizedResource,
signed with HMAC-SHA1 and base64-encoded. Older tools (s3cmd presigned URLs, some backup tools) still use it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Final
from urllib.parse import unquote

from smarts3.adapters.auth.credentials import CredentialStore, still_valid
from smarts3.adapters.auth.request import (
    AUTH_V2_HEADER,
    AUTH_V2_QUERY,
    PAYLOAD_NONE,
    AuthResult,
    RequestView,
)
from smarts3.adapters.auth.sigv4 import (
    check_skew,
    format_iso,
    parse_http_date,
    payload_mode_for,
    remember_verified,
    spaced_hex,
)
from smarts3.domain.errors import (
    AccessDenied,
    InvalidAccessKeyId,
    InvalidArgument,
    SignatureDoesNotMatch,
)

#: Sub-resources that belong in the CanonicalizedResource (S3 developer guide, "Constructing the
#: CanonicalizedResource Element"), plus those botocore's HmacV1Auth adds (object-lock, select, ...).
SUB_RESOURCES: Final = frozenset(
    {
        "accelerate",
        "acl",
        "analytics",
        "cors",
        "defaultObjectAcl",
        "delete",
        "encryption",
        "intelligent-tiering",
        "inventory",
        "legal-hold",
        "lifecycle",
        "location",
        "logging",
        "metrics",
        "notification",
        "object-lock",
        "ownershipControls",
        "partNumber",
        "policy",
        "policyStatus",
        "publicAccessBlock",
        "replication",
        "requestPayment",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        "restore",
        "retention",
        "select",
        "select-type",
        "storageClass",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
    }
)
#: The original list from the developer guide; some clients (s3cmd, old SDKs) sign only these.
_CLASSIC_SUB_RESOURCES: Final = frozenset(
    {
        "acl",
        "delete",
        "lifecycle",
        "location",
        "logging",
        "notification",
        "partNumber",
        "policy",
        "requestPayment",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
        "cors",
        "restore",
        "tagging",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
    }
)


def canonical_amz_headers(headers: Mapping[str, str]) -> str:
    """``x-amz-name:value\\n`` for each x-amz-* header, names lower-case and sorted, values trimmed."""
    amz = sorted((n, value.strip()) for n, value in headers.items() if n.startswith("x-amz-"))
    return "".join(f"{n}:{v}\n" for n, v in amz)


def canonical_resource(
    raw_path: str,
    query_string: str,
    bucket_from_host: str | None,
    *,
    sub_resources: frozenset[str] = SUB_RESOURCES,
    keep_empty_equals: bool = False,
) -> str:
    """``[/bucket]/path[?sub-resources]``: the path as sent, sub-resources sorted with decoded values."""
    path = raw_path or "/"
    if bucket_from_host:
        path = f"/{bucket_from_host}{path}"
    found: list[tuple[str, str | None]] = []
    if query_string:
        for item in query_string.split("&"):
            name, eq, value = item.partition("=")
            if name in sub_resources:
                decoded = unquote(value) if eq and value else ("" if eq and keep_empty_equals else None)
                found.append((name, decoded))
    if not found:
        return path
    found.sort(key=lambda nv: nv[0])
    return path + "?" + "&".join(n if v is None else f"{n}={v}" for n, v in found)


def string_to_sign(method: str, headers: Mapping[str, str], date_line: str, resource: str) -> str:
    return (
        f"{method.upper()}\n{headers.get('content-md5', '').strip()}\n"
        f"{headers.get('content-type', '').strip()}\n{date_line}\n"
        f"{canonical_amz_headers(headers)}{resource}"
    )


def sign(secret: str, sts: str) -> str:
    mac = hmac.new(secret.encode("utf-8"), sts.encode("utf-8", "surrogateescape"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def _signed_values(req: RequestView) -> tuple[str, ...]:
    """What a SigV2 query signature covers besides method, path and query."""
    headers = req.headers
    return (
        req.bucket_from_host or "",
        headers.get("content-md5", ""),
        headers.get("content-type", ""),
        canonical_amz_headers(headers),
    )


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("ascii", "replace"), b.encode("ascii", "replace"))


class SigV2Verifier:
    """Verifies SigV2 header and query-string signatures."""

    def __init__(
        self,
        credentials: CredentialStore,
        *,
        max_skew_seconds: int = 900,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = credentials
        self._max_skew = max_skew_seconds
        self._now = now
        #: presigned GET/HEAD requests already verified (see cached_presigned); insertion-ordered, oldest evicted
        self._presigned: dict[tuple[str, str, str], tuple[AuthResult, tuple[str, ...], int, str]] = {}

    def _secret(self, access_key: str) -> str:
        secret = self._credentials.secret_for(access_key)
        if secret is None:
            raise InvalidAccessKeyId(extra={"AWSAccessKeyId": access_key})
        return secret

    def _check(
        self, req: RequestView, access_key: str, secret: str, provided: str, date_lines: list[str]
    ) -> None:
        resource = canonical_resource(req.raw_path, req.query_string, req.bucket_from_host)

        def candidates() -> Iterator[str]:
            for date_line in date_lines:
                yield string_to_sign(req.method, req.headers, date_line, resource)
            for alt in (
                canonical_resource(
                    req.raw_path, req.query_string, req.bucket_from_host, keep_empty_equals=True
                ),
                canonical_resource(
                    req.raw_path,
                    req.query_string,
                    req.bucket_from_host,
                    sub_resources=_CLASSIC_SUB_RESOURCES,
                ),
            ):
                if alt != resource:
                    yield string_to_sign(req.method, req.headers, date_lines[0], alt)
            # botocore signs a path-style bucket request (URL "/bucket") with the resource "/bucket/"
            path, q, subs = resource.partition("?")
            if path.count("/") == 1 and len(path) > 1:
                yield string_to_sign(req.method, req.headers, date_lines[0], f"{path}/{q}{subs}")

        first = ""
        for sts in candidates():
            first = first or sts
            if _same(sign(secret, sts), provided):
                return
        sts_bytes = first.encode("utf-8", "surrogateescape")
        raise SignatureDoesNotMatch(
            extra={
                "AWSAccessKeyId": access_key,
                "StringToSign": first,
                "SignatureProvided": provided,
                "StringToSignBytes": spaced_hex(sts_bytes),
            }
        )

    def verify_header(self, req: RequestView, authorization: str) -> AuthResult:
        """``Authorization: AWS AKID:base64(HMAC-SHA1(secret, StringToSign))``."""
        access_key, sep, provided = authorization[4:].strip().rpartition(":")
        if not sep or not access_key or not provided:
            # S3 answers a malformed SigV2 header with InvalidArgument (AuthorizationHeaderMalformed is SigV4's)
            raise InvalidArgument(
                "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
                extra={"ArgumentName": "Authorization", "ArgumentValue": authorization},
            )
        secret = self._secret(access_key)
        headers = req.headers
        amz_date = headers.get("x-amz-date")
        date = headers.get("date")
        stamp = amz_date if amz_date is not None else date
        epoch = parse_http_date(stamp) if stamp is not None else None
        if epoch is None:
            raise AccessDenied("AWS authentication requires a valid Date or x-amz-date header")
        check_skew(epoch, self._now(), self._max_skew)
        # With x-amz-date present the Date line is empty (it is signed among the x-amz headers); some
        # clients put the Date header there anyway.
        date_lines = ["", (date or "").strip()] if amz_date is not None else [(date or "").strip()]
        self._check(req, access_key, secret, provided, date_lines)
        return self._result(access_key, headers, AUTH_V2_HEADER)

    def verify_query(self, req: RequestView, params: Mapping[str, str]) -> AuthResult:
        """``?AWSAccessKeyId=..&Expires=<epoch>&Signature=..``: Expires replaces the Date line."""
        access_key = params.get("AWSAccessKeyId")
        provided = params.get("Signature")
        expires = params.get("Expires")
        if not access_key or not provided or expires is None:
            raise AccessDenied(
                "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"
            )
        if not expires.isdigit():
            raise InvalidArgument(
                "Expires must be a number of seconds since the epoch",
                extra={"ArgumentName": "Expires", "ArgumentValue": expires},
            )
        now = self._now()
        if now > int(expires):
            raise AccessDenied(
                "Request has expired",
                extra={"Expires": format_iso(int(expires)), "ServerTime": format_iso(now)},
            )
        secret = self._secret(access_key)
        # base64 '+' is often left unencoded in URLs, and some decoders turn it into a space
        provided = provided.replace(" ", "+")
        # The query-auth parameters themselves are not part of the resource; canonical_resource only picks
        # sub-resources, so nothing needs removing.
        self._check(req, access_key, secret, provided, [expires])
        result = self._result(access_key, req.headers, AUTH_V2_QUERY)
        remember_verified(
            self._presigned,
            (req.method, req.raw_path, req.query_string),
            (result, _signed_values(req), int(expires), secret),
        )
        return result

    def cached_presigned(self, req: RequestView) -> AuthResult | None:
        """A presigned URL that verified before, if it is the very same request and not expired.

        Boto3's default presigned URL is SigV2 (``AWSAccessKeyId=..&Signature=..&Expires=..``) and is often
        used many times (fetched again, an upload retried). Its signature covers the method, the resource (raw
        path, sub-resources and the virtual-host bucket), Content-MD5, Content-Type, Expires (in the query) and every x-amz-* header; once
        that combination verified with a secret it verifies again until it expires. Anything else goes the full
        way, which also produces the proper error.
        """
        entry = self._presigned.get((req.method, req.raw_path, req.query_string))
        if entry is None:
            return None
        result, values, expires_at, secret = entry
        if self._now() > expires_at or _signed_values(req) != values:
            return None
        return result if still_valid(self._credentials, result.access_key, secret) else None

    @staticmethod
    def _result(access_key: str, headers: Mapping[str, str], auth_type: str) -> AuthResult:
        content_sha256 = headers.get("x-amz-content-sha256")
        if content_sha256 is None:
            return AuthResult(access_key=access_key, payload_mode=PAYLOAD_NONE, auth_type=auth_type)
        mode, expected = payload_mode_for(content_sha256)
        return AuthResult(
            access_key=access_key, payload_mode=mode, expected_sha256=expected, auth_type=auth_type
        )
