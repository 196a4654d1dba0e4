"""The fast lane for the commonest request of all: a plain GET or HEAD of an object.

A GET of a small object paid ~50 us of Python in the general path (full request parsing, the body wrapper a
GET never reads, routing, a dozen checks of query parameters and headers it does not carry) for ~10 us of
actual work. This lane serves only requests that have none of that: path-style, no query other than presign
parameters, no Range, no conditional, CORS or unknown ``x-amz-*`` header, no body, a signature that
verifies (or auth off) and an object that opens. Anything else, including every error, returns False *before*
a byte is sent, and the general path then answers it from scratch; a GET or HEAD changes nothing, so
doing its first steps twice is harmless. The answer itself is built by the same code as the general path's
(``object_response``, ``S3Api.send_response``), so both lanes answer a request they both accept identically.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from smarts3.adapters.auth import RequestView
from smarts3.adapters.http.wire import (
    Receive,
    Scope,
    Send,
    decode_key,
    header_dict,
    header_section_size,
    new_request_id,
)
from smarts3.adapters.memo import bounded_memo, total_length
from smarts3.adapters.observability.logging import request_id_var
from smarts3.domain.errors import S3Error
from smarts3.entrypoints.s3.objects import object_response
from smarts3.entrypoints.s3.request import S3Request

if TYPE_CHECKING:
    from smarts3.entrypoints.s3.api import S3Api

#: headers that need the general path (checked as a set intersection with the request's header names)
_GENERAL_PATH_HEADERS = frozenset(
    {
        "range",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "origin",
        "expect",
        "transfer-encoding",
        "content-encoding",
    }
)
#: x-amz-* headers a plain read may carry (signing and SDK bookkeeping); any other one takes the general path
_PLAIN_AMZ_HEADERS = frozenset(
    {"x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "x-amz-user-agent", "x-amz-checksum-mode"}
)
#: query parameters of presigned URLs (SigV4, SigV2) and the SDKs' operation marker
_PRESIGN_PREFIX = "X-Amz-"
_PRESIGN_V2 = frozenset({"AWSAccessKeyId", "Signature", "Expires", "x-id"})


# A presigned URL, a client's header set and a hot key's path are seen again and again: the pure checks below
# are memoised, bounded in entries and in the size of what is kept (a client chooses all of it: adapters/memo.py).


@bounded_memo(maxsize=1024, max_size=4096)
def _plain_query(query_string: str) -> bool:
    return all(
        name.startswith(_PRESIGN_PREFIX) or name in _PRESIGN_V2
        for name in (part.partition("=")[0] for part in query_string.split("&"))
    )


@bounded_memo(maxsize=1024, max_size=512, size=total_length)
def _plain_header_names(names: tuple[str, ...]) -> bool:
    return _GENERAL_PATH_HEADERS.isdisjoint(names) and not any(
        name.startswith("x-amz-") and name not in _PLAIN_AMZ_HEADERS for name in names
    )


@bounded_memo(maxsize=4096, max_size=1024)
def _object_names(path: str) -> tuple[str, str] | None:
    """(bucket, key) of a path-style object path, decoded; None for anything else."""
    bucket_raw, slash, key_raw = path[1:].partition("/")
    if not (bucket_raw and slash and key_raw) or not path.startswith("/"):
        return None
    return decode_key(bucket_raw), decode_key(key_raw)


async def try_fast_read(api: S3Api, scope: Scope, receive: Receive, send: Send) -> bool:
    """Answer a plain GET/HEAD of an object and return True, or return False having sent nothing."""
    started = time.perf_counter()
    raw_headers = scope["headers"]
    headers = header_dict(raw_headers)
    if not _plain_header_names(tuple(headers)) or headers.get("content-length", "0") != "0":
        return False
    if api.base_domain or header_section_size(raw_headers) > api.max_header_size:
        return False  # virtual-hosted names and oversized headers: the general path decides
    raw_path_bytes = scope.get("raw_path")
    path = raw_path_bytes.decode("latin-1") if raw_path_bytes else scope["path"]
    names = _object_names(path)
    if names is None:
        return False
    bucket, key = names
    query_string = scope.get("query_string", b"").decode("latin-1")
    if query_string and not _plain_query(query_string):
        return False
    method = scope["method"]
    view = RequestView(
        method=method, raw_path=path, query_string=query_string, headers=headers, host=headers.get("host", "")
    )
    try:
        result = api.authenticator.authenticate(view)
    except S3Error:
        return False  # the general path produces the error (and counts it)
    if result.access_key is None and api.auth_enabled:
        return False  # anonymous: bucket ACL rules live in the general path
    head = method == "HEAD"
    try:
        if head:
            info, _ = await api.objects.head_object(bucket, key)
            reader = None
        else:
            reader, _ = await api.objects.get_object(bucket, key)
            info = reader.info
    except S3Error:
        return False
    client = scope.get("client")
    req = S3Request(
        scope=scope,
        receive=receive,
        method=method,
        raw_path=path,
        query_string=query_string,
        query={},  # presign parameters only: nothing downstream of this lane reads them
        headers=headers,
        bucket=bucket,
        key=key,
        request_id=new_request_id(),
        remote_addr=client[0] if client else "-",
        access_key=result.access_key,
        operation="REST.HEAD.OBJECT" if head else "REST.GET.OBJECT",
    )
    token = request_id_var.set(req.request_id)
    observer = api.observer
    if observer is not None:
        observer.request_started()
    status, bytes_sent, object_size = 500, 0, None
    try:
        try:
            response = await object_response(
                api,
                bucket,
                info,
                reader,
                query={},
                # sent by default by current AWS SDKs on every GetObject (response checksum validation)
                checksum_mode=headers.get("x-amz-checksum-mode", "").upper() == "ENABLED",
                byte_range=None,
                version_id=None,
            )
        except BaseException:
            if reader is not None:
                await reader.aclose()
            raise
        object_size = response.object_size
        status, bytes_sent = await api.send_response(req, response, send)
    finally:
        if observer is not None:
            observer.request_finished(req, status, bytes_sent, 0, object_size, time.perf_counter() - started)
        request_id_var.reset(token)
    return True
