"""Browser-based uploads: ``POST /<bucket>`` with an HTML form (multipart/form-data), streamed to storage.

S3 API reference, "PostObject" and "Browser-based uploads using POST": form fields (names case-insensitive)
come before the ``file`` field; the policy's signature and conditions are checked once the ``file`` field
starts, then the file streams into ``ObjectService.put_object`` without being buffered. Fields after the file
are ignored. Answers 204 by default, 200 or 201 (PostResponse XML) per ``success_action_status``, or a 303 to
``success_action_redirect``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import attrs
import multipart

from smarts3.adapters.auth.credentials import CredentialStore, as_store
from smarts3.adapters.auth.post_policy import (
    PolicyCheck,
    check_conditions,
    content_length_range,
    verify_post_policy,
)
from smarts3.adapters.http import xml as s3xml
from smarts3.adapters.http.object_headers import (
    canned_acl,
    content_headers,
    parse_tagging_header,
    user_metadata,
)
from smarts3.adapters.http.wire import BodyStream, Response, xml_response
from smarts3.domain.errors import (
    EntityTooLarge,
    EntityTooSmall,
    InvalidArgument,
    S3Error,
)
from smarts3.domain.services.objects import BodyChecks, WriteAttributes
from smarts3.entrypoints.s3 import public_access
from smarts3.entrypoints.s3.object_lock import lock_for

if TYPE_CHECKING:
    from smarts3.entrypoints.s3.api import S3Api
    from smarts3.entrypoints.s3.request import S3Request

#: S3 caps the form fields before the file (the policy alone may be 20 KB)
MAX_FIELDS_SIZE = 1024 * 1024
MAX_FIELD_COUNT = 1000
_CANNED_ACLS = frozenset(
    {
        "private",
        "public-read",
        "public-read-write",
        "aws-exec-read",
        "authenticated-read",
        "bucket-owner-read",
        "bucket-owner-full-control",
        "log-delivery-write",
    }
)

#: a parser event: a MultipartSegment (part headers), a bytes chunk of its body, or None (end of part);
#: ``multipart`` ships no type hints
Event: TypeAlias = Any


class MalformedPOSTRequest(S3Error):
    code, status = "MalformedPOSTRequest", 400
    default_message = "The body of your POST request is not well-formed multipart/form-data."


class MaxPostPreDataLengthExceeded(S3Error):
    code, status = "MaxPostPreDataLengthExceededError", 400
    default_message = "Your POST request fields preceding the upload file were too large."


def _missing_file() -> S3Error:
    return InvalidArgument(
        "POST requires exactly one file upload per request.",
        extra={"ArgumentName": "file", "ArgumentValue": "0"},
    )


def _missing_key() -> S3Error:
    return InvalidArgument(
        "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the "
        "fields.",
        extra={"ArgumentName": "key", "ArgumentValue": ""},
    )


def _boundary(content_type: str) -> str:
    kind, options = multipart.parse_options_header(content_type)
    boundary = options.get("boundary")
    if kind != "multipart/form-data" or not boundary:
        raise MalformedPOSTRequest()
    return str(boundary)


async def _events(
    parser: multipart.PushMultipartParser, body: AsyncIterator[bytes]
) -> AsyncGenerator[Event, None]:
    """Every parser event over the whole body; a truncated or invalid stream becomes MalformedPOSTRequest."""
    try:
        async for chunk in body:
            for event in parser.parse(chunk):
                yield event
        for event in parser.parse(b""):
            yield event
    except multipart.MultipartError:
        raise MalformedPOSTRequest() from None


class PostObjectHandler:
    """``api.post_object_handler``: the S3 API calls it for a ``multipart/form-data`` POST to a bucket.

    It runs before header authentication (a browser form carries no Authorization header): the form's policy
    signature is the credential.
    """

    def __init__(
        self,
        credentials: Mapping[str, str] | CredentialStore,
        *,
        auth_enabled: bool = True,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = as_store(credentials)
        self._auth_enabled = auth_enabled
        self._now = now

    async def __call__(self, api: S3Api, req: S3Request) -> Response:
        assert req.bucket is not None
        boundary = _boundary(req.headers.get("content-type", ""))
        length = req.headers.get("content-length", "").strip()
        body = BodyStream(req.receive, int(length) if length.isdigit() else None, api.request_timeout)
        req.raw_body = body
        parser = multipart.PushMultipartParser(
            boundary, content_length=int(length) if length.isdigit() else -1, max_header_count=16
        )
        events = _events(parser, aiter(body))
        try:
            fields, filename = await self._read_fields(events)
            return await self._store(api, req, events, fields, filename)
        finally:
            await events.aclose()

    async def _read_fields(self, events: AsyncIterator[Event]) -> tuple[dict[str, str], str]:
        """Form fields up to the ``file`` field (lower-case names, first value wins) and the file's name."""
        fields: dict[str, str] = {}
        name: str | None = None
        parts: list[bytes] = []
        total = 0
        async for event in events:
            if isinstance(event, multipart.MultipartSegment):
                name = (event.name or "").lower()
                if name == "file":
                    return fields, event.filename or ""
                if len(fields) >= MAX_FIELD_COUNT:
                    raise MaxPostPreDataLengthExceeded()
                parts = []
            elif event is None:
                if name is not None and name not in fields:
                    fields[name] = b"".join(parts).decode("utf-8", "replace")
                name = None
            else:
                total += len(event)
                if total > MAX_FIELDS_SIZE:
                    raise MaxPostPreDataLengthExceeded()
                parts.append(bytes(event))
        raise _missing_file()

    async def _authorize(self, api: S3Api, req: S3Request, fields: dict[str, str]) -> PolicyCheck:
        if not self._auth_enabled:
            return PolicyCheck(access_key=None, auth_type="disabled")
        return verify_post_policy(fields, self._credentials, self._now())

    async def _store(
        self,
        api: S3Api,
        req: S3Request,
        events: AsyncIterator[Event],
        fields: dict[str, str],
        filename: str,
    ) -> Response:
        bucket = req.bucket
        assert bucket is not None
        check = await self._authorize(api, req, fields)
        req.access_key = check.access_key
        await api.buckets.get(bucket)
        if "key" not in fields:
            raise _missing_key()
        key = fields["key"].replace("${filename}", filename)
        if check.access_key is not None:
            _check_policy(check, fields, bucket, key)
        if not key:
            raise _missing_key()
        acl = fields.get("acl")
        if acl is not None and acl not in _CANNED_ACLS:
            raise InvalidArgument(extra={"ArgumentName": "x-amz-acl", "ArgumentValue": acl})
        if check.access_key is None and self._auth_enabled:
            # an unsigned form is an anonymous PutObject of that key: the bucket's policy, Block Public Access
            # and its ACL (WRITE to AllUsers) decide, exactly as for an anonymous PUT
            await api.authorize_anonymous(attrs.evolve(req, method="PUT", key=key, query={}, query_string=""))
        await public_access.check_acl(api, bucket, acl)
        info = await api.objects.put_object(
            bucket,
            key,
            _file_body(events, content_length_range(check.conditions)),
            _attributes(fields),
            BodyChecks(),
            lock=await lock_for(api, bucket, fields),
        )
        req.key = key
        # S3 ignores whatever follows the file; read it so the connection can be reused
        async for _ in events:
            pass
        return _success(req, fields, bucket, key, info.etag, info.version_id)


def _check_policy(check: PolicyCheck, fields: dict[str, str], bucket: str, key: str) -> None:
    """The policy must hold for the key as stored (``${filename}`` substituted) or as the form wrote it.

    An anonymous form has no policy: nothing to check (the bucket's ACL already admitted it).
    """
    try:
        check_conditions(check.conditions, {**fields, "key": key, "bucket": bucket}, None)
    except S3Error:
        if key == fields["key"]:
            raise
        check_conditions(check.conditions, {**fields, "bucket": bucket}, None)


async def _file_body(events: AsyncIterator[Event], limits: tuple[int, int] | None) -> AsyncIterator[bytes]:
    """The ``file`` field's bytes, enforcing the policy's content-length-range as they pass."""
    size = 0
    async for event in events:
        if event is None:
            break
        if isinstance(event, multipart.MultipartSegment):  # pragma: no cover - the parser ends parts first
            raise MalformedPOSTRequest()
        size += len(event)
        if limits is not None and size > limits[1]:
            raise EntityTooLarge(extra={"ProposedSize": str(size), "MaxSizeAllowed": str(limits[1])})
        yield bytes(event)
    else:
        raise MalformedPOSTRequest()
    if limits is not None and size < limits[0]:
        raise EntityTooSmall(extra={"ProposedSize": str(size), "MinSizeAllowed": str(limits[0])})


def _attributes(fields: Mapping[str, str]) -> WriteAttributes:
    tags: tuple[tuple[str, str], ...] = ()
    if "tagging" in fields:  # S3: the form's ``tagging`` field is a Tagging XML document
        tags = tuple(s3xml.parse_tagging(fields["tagging"].encode("utf-8")))
    elif "x-amz-tagging" in fields:
        tags = parse_tagging_header(fields["x-amz-tagging"])
    return WriteAttributes(
        headers=content_headers(fields),
        user_metadata=user_metadata(fields),
        storage_class=fields.get("x-amz-storage-class", "STANDARD"),
        tags=tags,
        acl=canned_acl(fields.get("acl")),
    )


def _object_url(req: S3Request, bucket: str, key: str) -> str:
    scheme = str(req.scope.get("scheme", "http"))
    host = req.headers.get("host", "localhost")
    return f"{scheme}://{host}/{quote(bucket, safe='')}/{quote(key, safe='/')}"


def _success(
    req: S3Request, fields: Mapping[str, str], bucket: str, key: str, etag: str, version_id: str | None
) -> Response:
    location = _object_url(req, bucket, key)
    redirect = fields.get("success_action_redirect") or fields.get("redirect")
    response: Response
    if redirect and urlsplit(redirect).scheme in ("http", "https"):
        parts = urlsplit(redirect)
        extra = urlencode({"bucket": bucket, "key": key, "etag": f'"{etag}"'})
        query = f"{parts.query}&{extra}" if parts.query else extra
        response = Response(status=303)
        response.add("location", urlunsplit(parts._replace(query=query)))
    else:
        status = fields.get("success_action_status", "")
        if status == "201":
            response = xml_response(s3xml.post_response(location, bucket, key, etag), status=201)
        else:
            response = Response(status=200 if status == "200" else 204)
        response.add("location", location)
    response.add("etag", f'"{etag}"')
    # S3 sends no header for the null version a versioning-suspended bucket writes
    if version_id is not None and version_id != "null":
        response.add("x-amz-version-id", version_id)
    return response
