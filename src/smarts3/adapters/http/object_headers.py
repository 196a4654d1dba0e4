"""Translate between S3 object headers and domain values: what a PUT asks to store, what a GET/HEAD answers."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

from smarts3.adapters.auth.chunked import declares_aws_chunked
from smarts3.adapters.http.wire import Response, http_date
from smarts3.adapters.memo import IdentityMemo
from smarts3.domain import acl
from smarts3.domain.checksums import normalize_algorithm, well_formed
from smarts3.domain.errors import InvalidArgument, InvalidRequest, InvalidTag
from smarts3.domain.models import CHECKSUM_ALGORITHMS, CONTENT_HEADERS, ByteRange, ObjectInfo
from smarts3.domain.services.objects import BodyChecks, WriteAttributes

_RESPONSE_OVERRIDES = {
    "response-content-type": "content-type",
    "response-content-language": "content-language",
    "response-expires": "expires",
    "response-cache-control": "cache-control",
    "response-content-disposition": "content-disposition",
    "response-content-encoding": "content-encoding",
}
_CHECKSUM_HEADERS: dict[str, str] = {f"x-amz-checksum-{a.lower()}": a for a in CHECKSUM_ALGORITHMS}


def has_response_overrides(query: Mapping[str, str]) -> bool:
    """Whether a GET/HEAD asks for ``response-*`` header overrides (which S3 refuses to anonymous requests)."""
    return bool(query) and any(name in query for name in _RESPONSE_OVERRIDES)


_META_PREFIX = "x-amz-meta-"


def content_headers(headers: Mapping[str, str]) -> dict[str, str]:
    stored: dict[str, str] = {}
    for name in CONTENT_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        if name == "content-encoding":
            # aws-chunked is transfer framing, not a property of the object (S3 strips it)
            codings = [c.strip() for c in value.split(",") if c.strip()]
            kept = [c for c in codings if c.lower() != "aws-chunked"]
            if not kept:
                continue
            if len(kept) != len(codings):
                value = ", ".join(kept)  # otherwise kept exactly as sent ("deflate, gzip" stays so)
        stored[name] = value
    return stored


def user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        name[len(_META_PREFIX) :]: value for name, value in headers.items() if name.startswith(_META_PREFIX)
    }


def parse_tagging_header(value: str | None) -> tuple[tuple[str, str], ...]:
    """x-amz-tagging: URL-query encoded ``k1=v1&k2=v2``; a bare ``k`` (no ``=``) is tag ``k`` with an empty value."""
    if not value:
        return ()
    pairs = parse_qsl(value, keep_blank_values=True)
    if any(not k for k, _ in pairs):
        raise InvalidArgument(
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."
        )
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise InvalidTag("Cannot provide multiple Tags with the same key")
    return tuple(pairs)


#: S3's canned ACLs (x-amz-acl)
CANNED_ACLS = frozenset(
    {
        "private",
        "public-read",
        "public-read-write",
        "authenticated-read",
        "aws-exec-read",
        "bucket-owner-read",
        "bucket-owner-full-control",
    }
)


def canned_acl(value: str | None) -> str | None:
    """An x-amz-acl value (None when absent); anything but a canned ACL is InvalidArgument."""
    if value is None:
        return None
    acl = value.strip().lower()
    if acl not in CANNED_ACLS:
        raise InvalidArgument(extra={"ArgumentName": "x-amz-acl", "ArgumentValue": value})
    return acl


#: x-amz-grant-* headers and the permission each grants
GRANT_HEADERS = {
    "x-amz-grant-read": "READ",
    "x-amz-grant-write": "WRITE",
    "x-amz-grant-read-acp": "READ_ACP",
    "x-amz-grant-write-acp": "WRITE_ACP",
    "x-amz-grant-full-control": "FULL_CONTROL",
}
_GRANTEE = re.compile(r'\s*(id|uri|emailaddress)\s*=\s*"([^"]*)"\s*(,|$)', re.IGNORECASE)
_GRANTEE_KINDS = {"id": acl.USER, "uri": acl.GROUP, "emailaddress": acl.EMAIL}


def header_grants(headers: Mapping[str, str]) -> list[acl.Grant] | None:
    """The grants of x-amz-grant-* headers (``id="..."``, ``uri="..."``, ``emailAddress="..."``, comma
    separated), None when none is sent; a value in another form is InvalidArgument."""
    grants: list[acl.Grant] | None = None
    for name, permission in GRANT_HEADERS.items():
        value = headers.get(name)
        if value is None:
            continue
        grants = grants if grants is not None else []
        position = 0
        while position < len(value):
            match = _GRANTEE.match(value, position)
            if match is None or match.end() == position:
                raise InvalidArgument(extra={"ArgumentName": name, "ArgumentValue": value})
            grants.append(acl.Grant(_GRANTEE_KINDS[match.group(1).lower()], match.group(2), permission))
            position = match.end()
    return grants


def write_attributes(headers: Mapping[str, str], *, tags: bool = True) -> WriteAttributes:
    return WriteAttributes(
        headers=content_headers(headers),
        user_metadata=user_metadata(headers),
        storage_class=headers.get("x-amz-storage-class", "STANDARD"),
        tags=parse_tagging_header(headers.get("x-amz-tagging")) if tags else (),
        acl=canned_acl(headers.get("x-amz-acl")),
    )


def content_length(headers: Mapping[str, str]) -> int | None:
    """Content-Length of the *payload*: x-amz-decoded-content-length for aws-chunked bodies; any other body is
    what Content-Length says, whatever else a client sends."""
    decoded = headers.get("x-amz-decoded-content-length") if declares_aws_chunked(headers) else None
    raw = decoded or headers.get("content-length")
    if raw is None:
        return None
    raw = raw.strip()
    if not raw.isdigit():
        raise InvalidArgument(
            "Content-Length must be a non-negative integer.", extra={"ArgumentName": "Content-Length"}
        )
    return int(raw)


def body_checks(
    headers: Mapping[str, str], trailers: object = None, *, composite: bool = False
) -> BodyChecks:
    """Content-MD5, x-amz-checksum-* headers, x-amz-sdk-checksum-algorithm and x-amz-trailer of a request.

    A checksum value that is not base64 of its algorithm's digest size is InvalidRequest, as in S3 (BadDigest is
    for a well-formed value the body does not match); ``composite`` accepts CompleteMultipartUpload's
    ``<checksum>-<parts>`` form."""
    expected: dict[str, str] = {
        algo: headers[name] for name, algo in _CHECKSUM_HEADERS.items() if name in headers
    }
    if len(expected) > 1:
        raise InvalidRequest(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        )
    for named, value in expected.items():
        if not well_formed(named, value.strip(), composite=composite):
            raise InvalidRequest(f"Value for x-amz-checksum-{named.lower()} header is invalid.")
    algorithm_header = headers.get("x-amz-sdk-checksum-algorithm") or headers.get("x-amz-checksum-algorithm")
    algorithm = normalize_algorithm(algorithm_header) if algorithm_header else None
    trailer_algorithms: list[str] = []
    trailer_header = headers.get("x-amz-trailer")
    if trailer_header:
        for name in trailer_header.split(","):
            algo = _CHECKSUM_HEADERS.get(name.strip().lower())
            if algo is None:
                raise InvalidRequest(
                    f"The value specified in the x-amz-trailer header is not supported: {name}"
                )
            trailer_algorithms.append(algo)
    # read ``trailers.trailers`` when the body has been consumed, not now: the decoded body only fills (and
    # rebinds) it once the final chunk has arrived
    has_trailers = hasattr(trailers, "trailers")
    return BodyChecks(
        content_md5=headers.get("content-md5"),
        content_length=content_length(headers),
        algorithm=algorithm,
        expected=expected,
        trailer_algorithms=tuple(trailer_algorithms),
        trailers=(lambda: getattr(trailers, "trailers", {})) if has_trailers else None,
    )


def add_object_headers(
    response: Response,
    info: ObjectInfo,
    *,
    query: Mapping[str, str],
    checksum_mode: bool,
    byte_range: ByteRange | None,
    include_tag_count: bool,
) -> None:
    """ETag, Last-Modified, content headers (with response-* overrides), metadata, version and checksums."""
    overrides = (
        {target: query[name] for name, target in _RESPONSE_OVERRIDES.items() if name in query}
        if query
        else {}
    )
    if not overrides:
        # the common case: the headers depend on the object alone, and the same (memoised) ObjectInfo is
        # served again and again; encode them once
        hit = _ENCODED.recall(info, include_tag_count)
        if hit is not None:
            response.headers.extend(hit)
        else:
            encoded: list[tuple[bytes, bytes]] = []
            _object_headers(encoded.append, info, {}, include_tag_count)
            _ENCODED.remember(info, include_tag_count, encoded)
            response.headers.extend(encoded)
    else:
        _object_headers(response.headers.append, info, overrides, include_tag_count)
    add = response.headers.append
    if checksum_mode and info.checksums and byte_range is None:
        for algorithm, value in info.checksums.items():
            add((f"x-amz-checksum-{algorithm.lower()}".encode("latin-1"), value.encode("latin-1")))
        if info.checksum_type:
            add((b"x-amz-checksum-type", info.checksum_type.encode("latin-1")))


#: ObjectInfo, include_tag_count -> its encoded headers
_ENCODED: IdentityMemo[list[tuple[bytes, bytes]]] = IdentityMemo(4096)


def _object_headers(
    add: Callable[[tuple[bytes, bytes]], None],
    info: ObjectInfo,
    overrides: Mapping[str, str],
    include_tag_count: bool,
) -> None:
    add((b"etag", info.quoted_etag.encode("latin-1")))
    add((b"last-modified", http_date(info.last_modified).encode("latin-1")))
    add((b"accept-ranges", b"bytes"))
    stored = info.headers
    content_type = overrides.get("content-type") or stored.get("content-type") or "binary/octet-stream"
    add((b"content-type", content_type.encode("latin-1", "replace")))
    for name in ("cache-control", "content-disposition", "content-encoding", "content-language", "expires"):
        value = overrides.get(name) or stored.get(name)
        if value is not None:
            add((name.encode("latin-1"), value.encode("latin-1", "replace")))
    redirect = stored.get("x-amz-website-redirect-location")
    if redirect:
        add((b"x-amz-website-redirect-location", redirect.encode("latin-1", "replace")))
    sse = stored.get("x-amz-server-side-encryption")
    if sse:
        add((b"x-amz-server-side-encryption", sse.encode("latin-1", "replace")))
    for name, value in info.user_metadata.items():
        add(((_META_PREFIX + name).encode("latin-1", "replace"), value.encode("latin-1", "replace")))
    if info.version_id is not None:
        add((b"x-amz-version-id", info.version_id.encode("latin-1")))
    if info.storage_class != "STANDARD":
        add((b"x-amz-storage-class", info.storage_class.encode("latin-1")))
    if include_tag_count and info.tags:
        add((b"x-amz-tagging-count", str(len(info.tags)).encode("latin-1")))
    if info.lock_mode:
        add((b"x-amz-object-lock-mode", info.lock_mode.encode("latin-1")))
    if info.lock_retain_until is not None:
        from smarts3.adapters.http.wire import iso8601

        add((b"x-amz-object-lock-retain-until-date", iso8601(info.lock_retain_until).encode("latin-1")))
    if info.legal_hold:
        add((b"x-amz-object-lock-legal-hold", info.legal_hold.encode("latin-1")))
