"""The S3 REST API as one ASGI callable: parse, authenticate, dispatch to a handler, answer.

Wired once at start-up (plain attributes, no per-request dependency resolution), so the object hot path costs
little more than the domain call itself. Errors raised anywhere below become S3 XML errors here, and only here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

import attrs

from smarts3.adapters.auth import Authenticator, RequestView, decode_body
from smarts3.adapters.http import xml as s3xml
from smarts3.adapters.http.encryption import check_encryption_headers
from smarts3.adapters.http.object_headers import body_checks
from smarts3.adapters.http.wire import (
    BodyStream,
    Receive,
    Response,
    Scope,
    Send,
    decode_key,
    header_dict,
    header_section_size,
    host_id,
    new_request_id,
    parse_query,
    xml_response,
)
from smarts3.adapters.observability.logging import request_id_var
from smarts3.domain import acl as acls
from smarts3.domain import policy
from smarts3.domain.checksums import BodyHasher
from smarts3.domain.errors import (
    AccessDenied,
    InternalError,
    InvalidArgument,
    InvalidBucketName,
    MethodNotAllowed,
    NoSuchBucket,
    NotImplementedS3,
    NotModified,
    RequestHeaderSectionTooLarge,
    S3Error,
)
from smarts3.domain.services.buckets import BucketService
from smarts3.domain.services.listing import ListingService
from smarts3.domain.services.multipart import MultipartService
from smarts3.domain.services.objects import CopySource, ObjectService, decode_content_md5, verify_body
from smarts3.entrypoints import memory
from smarts3.entrypoints.s3 import buckets as bucket_ops
from smarts3.entrypoints.s3 import multipart as multipart_ops
from smarts3.entrypoints.s3 import object_lock as lock_ops
from smarts3.entrypoints.s3 import objects as object_ops
from smarts3.entrypoints.s3 import public_access
from smarts3.entrypoints.s3.fast_read import try_fast_read
from smarts3.entrypoints.s3.request import S3Request

log = logging.getLogger("smarts3.s3")

Handler = Callable[["S3Api", S3Request], Awaitable[Response]]


class RequestObserver(Protocol):
    """Told about every finished request (access log, metrics)."""

    def request_started(self) -> None: ...

    def request_finished(
        self,
        req: S3Request,
        status: int,
        bytes_sent: int,
        bytes_received: int,
        object_size: int | None,
        seconds: float,
    ) -> None: ...


class CorsPolicy(Protocol):
    async def preflight(self, req: S3Request) -> Response: ...

    async def response_headers(self, req: S3Request) -> list[tuple[bytes, bytes]]: ...


_BASE_HEADERS = [(b"server", b"smarts3")]
_FAST_READ_METHODS = frozenset({"GET", "HEAD"})
#: bucket operations an anonymous client may call on a public-read bucket: the listings, and HEAD
_ANONYMOUS_BUCKET_READS = frozenset(
    {"REST.GET.BUCKET", "REST.GET.BUCKETVERSIONS", "REST.GET.UPLOADS", "REST.HEAD.BUCKET"}
)
#: object subresources that stay the owner's even on a public bucket
_OWNER_OBJECT_SUBRESOURCES = frozenset({"acl", "tagging", "retention", "legal-hold", "attributes"})
#: an error answered with more unread body than this closes the connection instead of reading the rest
_DRAIN_LIMIT = 1024 * 1024
#: errors after which the rest of the body is not worth waiting for: close the connection (as S3 does)
_CLOSE_AFTER = frozenset({"RequestTimeout", "IncompleteBody", "EntityTooLarge"})
_CONFIG_KINDS = ("tagging", "cors", "lifecycle", "policy", "publicAccessBlock")


class S3Api:
    def __init__(
        self,
        *,
        buckets: BucketService,
        objects: ObjectService,
        listing: ListingService,
        multipart: MultipartService,
        authenticator: Authenticator,
        base_domain: str = "",
        request_timeout: float = 20.0,
        observer: RequestObserver | None = None,
        cors: CorsPolicy | None = None,
        auth_enabled: bool = True,
        max_header_size: int = 16 * 1024,
    ) -> None:
        self.buckets = buckets
        self.objects = objects
        self.listing = listing
        self.multipart = multipart
        self.authenticator = authenticator
        self.base_domain = base_domain.lower().strip(".")
        self.request_timeout = request_timeout
        self.observer = observer
        self.cors = cors
        self.auth_enabled = auth_enabled
        self.max_header_size = max_header_size
        self.owner_id = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"
        self.owner_name = "smarts3"
        self.owner = s3xml.Owner(self.owner_id, self.owner_name)
        #: extra routes handled before S3 dispatch (browser POST uploads, ...): (method, predicate) -> handler
        self.post_object_handler: Handler | None = None

    # -- ASGI entry --------------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] in _FAST_READ_METHODS and await try_fast_read(self, scope, receive, send):
            return
        started = time.perf_counter()
        if self.observer is not None:
            self.observer.request_started()
        req = self._parse(scope, receive)
        # every log line written while this request runs (error lines included) carries its id
        request_id_token = request_id_var.set(req.request_id)
        bytes_sent = 0
        status = 500
        response: Response | None = None
        try:
            try:
                response = await self._handle(req)
            except S3Error as error:
                response = self._error_response(req, error)
            except Exception:
                log.exception("unexpected error", extra={"request_id": req.request_id})
                response = self._error_response(req, InternalError())
            if self.cors is not None and "origin" in req.headers and req.method != "OPTIONS":
                response.headers.extend(await self.cors.response_headers(req))
            status, bytes_sent = await self.send_response(req, response, send)
        finally:
            if self.observer is not None:
                raw = req.raw_body
                self.observer.request_finished(
                    req,
                    status,
                    bytes_sent,
                    raw.received if raw is not None else 0,
                    response.object_size if response is not None else None,
                    time.perf_counter() - started,
                )
            request_id_var.reset(request_id_token)

    def _parse(self, scope: Scope, receive: Receive) -> S3Request:
        headers = header_dict(scope["headers"])
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        query_string = scope.get("query_string", b"").decode("latin-1")
        bucket: str | None
        key: str | None
        vhost_bucket = self._virtual_host_bucket(headers.get("host", ""))
        virtual_host = vhost_bucket is not None
        if vhost_bucket is not None:
            bucket = vhost_bucket
            key_raw = path[1:] if path.startswith("/") else path
            key = decode_key(key_raw) if key_raw else None
        else:
            trimmed = path[1:] if path.startswith("/") else path
            bucket_raw, slash, key_raw = trimmed.partition("/")
            bucket = decode_key(bucket_raw) if bucket_raw else None
            key = decode_key(key_raw) if slash and key_raw else None
        client = scope.get("client")
        req = S3Request(
            scope=scope,
            receive=receive,
            method=scope["method"],
            raw_path=path,
            query_string=query_string,
            query=parse_query(query_string),
            headers=headers,
            bucket=bucket,
            key=key,
            request_id=new_request_id(),
            remote_addr=client[0] if client else "-",
            virtual_host=virtual_host,
        )
        return req

    def _virtual_host_bucket(self, host: str) -> str | None:
        if not self.base_domain or not host:
            return None
        name = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host
        suffix = "." + self.base_domain
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
        return None

    # -- authentication and body -------------------------------------------------------------------------
    async def _authenticate(self, req: S3Request) -> None:
        content_length = req.headers.get("content-length")
        length: int | None = None
        if content_length is not None:
            value = content_length.strip()
            if not value.isdigit():
                raise InvalidArgument(
                    "Content-Length must be a non-negative integer.", extra={"ArgumentName": "Content-Length"}
                )
            length = int(value)
        req.raw_body = BodyStream(req.receive, length, self.request_timeout)
        view = RequestView(
            method=req.method,
            raw_path=req.raw_path,
            query_string=req.query_string,
            headers=req.headers,
            host=req.headers.get("host", ""),
            bucket_from_host=req.bucket if req.virtual_host else None,
        )
        result = self.authenticator.authenticate(view)
        req.access_key = result.access_key
        req.body = decode_body(result, req.headers, aiter(req.raw_body))
        if result.access_key is None and self.auth_enabled:
            await self.authorize_anonymous(req)

    async def _policy_verdict(self, req: S3Request) -> policy.Verdict:
        """What the bucket's policy says about this anonymous request (domain/policy.py); an Allow counts only
        while RestrictPublicBuckets is off."""
        assert req.bucket is not None
        try:
            document = await self.buckets.get_config(req.bucket, "policy")
        except S3Error:
            return None
        if document is None:
            return None
        self._route(req)
        action = policy.ACTIONS.get(req.operation)
        if action is None:
            return None
        resource = f"arn:aws:s3:::{req.bucket}" if req.key is None else f"arn:aws:s3:::{req.bucket}/{req.key}"
        context = {
            "aws:SecureTransport": "true" if req.scope.get("scheme") == "https" else "false",
            "aws:SourceIp": req.remote_addr,
        }
        for header, key in (("referer", "aws:Referer"), ("user-agent", "aws:UserAgent")):
            if header in req.headers:
                context[key] = req.headers[header]
        if req.key is None:
            for name in ("prefix", "delimiter", "max-keys"):
                if name in req.query:
                    context[f"s3:{name}"] = req.query[name]
        verdict = policy.evaluate(document, action=action, resource=resource, context=context)
        if verdict == "allow" and (await public_access.settings(self, req.bucket))["RestrictPublicBuckets"]:
            return None
        return verdict

    async def authorize_anonymous(self, req: S3Request) -> None:
        """What an unsigned request may do: read an object whose own ACL grants AllUsers READ; otherwise what the
        bucket's ACL grants AllUsers (smarts3 applies it to objects that have no ACL of their own): READ
        (public-read) lists and reads, WRITE (public-read-write) writes and deletes objects. IgnorePublicAcls
        turns all of that off; configuration subresources stay the owner's."""
        if req.bucket is None or (req.method == "PUT" and req.key is None and not req.query):
            raise AccessDenied()  # ListBuckets, CreateBucket: never anonymous, whether the bucket exists or not
        # S3 answers an anonymous request on a bucket that does not exist with 404 NoSuchBucket
        await self.buckets.get(req.bucket)
        if "x-amz-bypass-governance-retention" in req.headers:
            raise AccessDenied()  # s3:BypassGovernanceRetention is never anyone's
        if req.method == "DELETE" and "versionId" in req.query:
            raise AccessDenied()  # s3:DeleteObjectVersion: a WRITE grant covers DeleteObject only
        copy_source = req.headers.get("x-amz-copy-source")
        if copy_source is not None and req.method == "PUT" and req.key is not None:
            # a copy reads its source: anonymous clients need read access there too (its ACL, its policy)
            await self.authorize_anonymous(_source_read(req, object_ops.parse_copy_source(copy_source)))
        verdict = await self._policy_verdict(req)
        if verdict == "deny":
            raise AccessDenied()
        if verdict == "allow":
            return
        query = req.query
        object_read = (
            req.method in ("GET", "HEAD")
            and req.key is not None
            and not (query.keys() & _OWNER_OBJECT_SUBRESOURCES)
        )
        if object_read:
            assert req.key is not None
            own = await self._object_acl(req.bucket, req.key, query.get("versionId"))
            if own is not None:
                if acls.anyone_reads(own) and not await public_access.ignores_public_acls(self, req.bucket):
                    return
                raise AccessDenied()
        try:
            acl = await self.buckets.get_config(req.bucket, "acl")
        except S3Error:
            acl = None
        bucket_acl = None if acl is None else acl.decode("utf-8", "replace")
        reads, writes = acls.anyone_reads(bucket_acl), acls.anyone_writes(bucket_acl)
        if not (reads or writes) or await public_access.ignores_public_acls(self, req.bucket):
            raise AccessDenied()
        if req.method in ("GET", "HEAD"):
            if not reads:
                raise AccessDenied()
            if object_read:
                return
            if req.key is None:
                # a listing, whatever other query parameters come along (S3 ignores unknown ones, e.g. those a
                # browser POST's success_action_redirect adds)
                self._route(req)
                if req.operation in _ANONYMOUS_BUCKET_READS:
                    return
        elif writes and req.key is not None and not (query.keys() & _OWNER_OBJECT_SUBRESOURCES):
            return  # public-read-write (WRITE to AllUsers): anonymous writes and deletes of objects
        raise AccessDenied()

    async def _object_acl(self, bucket: str, key: str, version_id: str | None) -> str | None:
        """The canned ACL set on the object (None: none set, or no such object: the bucket's ACL decides)."""
        try:
            info, _ = await self.objects.head_object(bucket, key, version_id=version_id or None)
        except S3Error:
            return None
        return info.acl

    async def read_verified_document(self, req: S3Request, limit: int = 2 * 1024 * 1024) -> bytes:
        """A small XML body, checked against Content-MD5 / x-amz-checksum-* (DeleteObjects requires one)."""
        document = await req.read_payload(limit)
        checks = body_checks(req.headers, req.body)
        hasher = BodyHasher(checks.algorithms())
        hasher.update(document)
        verify_body(hasher, checks, decode_content_md5(checks.content_md5))
        return document

    # -- dispatch ----------------------------------------------------------------------------------------
    async def _handle(self, req: S3Request) -> Response:
        # httptools accepts header sections of any size; limits.maxHeaderSize is enforced here
        if header_section_size(req.scope["headers"]) > self.max_header_size:
            try:
                self._route(req)  # name the operation for the access log and metrics
            except S3Error:
                pass
            raise RequestHeaderSectionTooLarge(extra={"MaxSizeAllowed": str(self.max_header_size)})
        if req.method == "OPTIONS":
            req.operation = "REST.OPTIONS.PREFLIGHT"
            if self.cors is None:
                raise AccessDenied("CORSResponse: CORS is not enabled for this bucket.")
            return await self.cors.preflight(req)
        if (
            req.method == "POST"
            and self.post_object_handler is not None
            and req.bucket is not None
            and req.key is None
            and not req.query
            and req.headers.get("content-type", "").lower().startswith("multipart/form-data")
        ):
            # browser form upload: the form's signed policy is the credential, not an Authorization header
            req.operation = "REST.POST.OBJECT"
            return await self.post_object_handler(self, req)
        try:
            await self._authenticate(req)
        except S3Error:
            # still name the operation, so metrics and access logs count refused requests by operation
            try:
                self._route(req)
            except S3Error:
                pass
            raise
        handler = self._route(req)
        if req.bucket is not None:
            _check_expected_owner(req.headers, self.owner_id)
        if req.key is not None:
            check_encryption_headers(req.headers)
        return await handler(self, req)

    def _route(self, req: S3Request) -> Handler:
        method = req.method
        query = req.query
        if req.bucket is None:
            if method == "GET":
                req.operation = "REST.GET.SERVICE"
                return bucket_ops.list_buckets
            raise MethodNotAllowed()
        if "/" in req.bucket or not req.bucket:
            raise InvalidBucketName()
        if req.key is None:
            return self._route_bucket(req, method, query)
        if method in ("GET", "HEAD"):
            if "torrent" in query:
                req.operation = "REST.GET.TORRENT"
                raise NotImplementedS3("The torrent subresource is not implemented by smarts3.")
            if "uploadId" in query and method == "GET":
                req.operation = "REST.GET.UPLOAD"
                return multipart_ops.list_parts
            if "tagging" in query:
                req.operation = "REST.GET.OBJECT_TAGGING"
                return object_ops.get_object_tagging
            if "attributes" in query and method == "GET":
                req.operation = "REST.GET.OBJECT_ATTRIBUTES"
                return object_ops.get_object_attributes
            if "acl" in query:
                req.operation = "REST.GET.ACL"
                return object_ops.get_object_acl
            if "retention" in query or "legal-hold" in query:
                req.operation = "REST.GET.OBJECT_LOCK"
                return lock_ops.get_handler
            if method == "HEAD":
                req.operation = "REST.HEAD.OBJECT"
                return _head_object
            req.operation = "REST.GET.OBJECT"
            return object_ops.get_object
        if method == "PUT":
            if "uploadId" in query or "partNumber" in query:
                req.operation = "REST.PUT.PART"
                _require(query, "uploadId")
                return multipart_ops.upload_part
            if "tagging" in query:
                req.operation = "REST.PUT.OBJECT_TAGGING"
                return object_ops.put_object_tagging
            if "acl" in query:
                req.operation = "REST.PUT.ACL"
                return object_ops.put_object_acl
            if "retention" in query or "legal-hold" in query:
                req.operation = "REST.PUT.OBJECT_LOCK"
                return lock_ops.put_handler
            req.operation = "REST.COPY.OBJECT" if "x-amz-copy-source" in req.headers else "REST.PUT.OBJECT"
            return object_ops.put_object
        if method == "POST":
            if "uploads" in query:
                req.operation = "REST.POST.UPLOADS"
                return multipart_ops.create_upload
            if "uploadId" in query:
                req.operation = "REST.POST.UPLOAD"
                return multipart_ops.complete_upload
            raise NotImplementedS3()
        if method == "DELETE":
            if "uploadId" in query:
                req.operation = "REST.DELETE.UPLOAD"
                return multipart_ops.abort_upload
            if "tagging" in query:
                req.operation = "REST.DELETE.OBJECT_TAGGING"
                return object_ops.delete_object_tagging
            req.operation = "REST.DELETE.OBJECT"
            return object_ops.delete_object
        raise MethodNotAllowed()

    def _route_bucket(self, req: S3Request, method: str, query: dict[str, str]) -> Handler:
        if method == "GET":
            for kind in _CONFIG_KINDS:
                if kind in query:
                    req.operation = f"REST.GET.{kind.upper()}"
                    return _config_handler(bucket_ops.get_config, kind)
            if "location" in query:
                req.operation = "REST.GET.LOCATION"
                return bucket_ops.get_bucket_location
            if "versioning" in query:
                req.operation = "REST.GET.VERSIONING"
                return bucket_ops.get_versioning
            if "versions" in query:
                req.operation = "REST.GET.BUCKETVERSIONS"
                return bucket_ops.list_object_versions
            if "uploads" in query:
                req.operation = "REST.GET.UPLOADS"
                return multipart_ops.list_uploads
            if "acl" in query:
                req.operation = "REST.GET.ACL"
                return bucket_ops.get_bucket_acl
            if "policyStatus" in query:
                req.operation = "REST.GET.POLICY_STATUS"
                return bucket_ops.get_policy_status
            if "object-lock" in query:
                req.operation = "REST.GET.OBJECT_LOCK_CONFIGURATION"
                return lock_ops.get_object_lock_configuration
            if "encryption" in query:
                req.operation = "REST.GET.ENCRYPTION"
                return _missing(_NoEncryption)
            for name, missing in _UNCONFIGURED.items():
                if name in query:
                    req.operation = f"REST.GET.{name.upper()}"
                    return _missing(missing)
            for name, document in _DEFAULT_DOCUMENTS.items():
                if name in query:
                    req.operation = f"REST.GET.{name.upper()}"
                    return _default_document(document)
            for name in (
                "analytics",
                "inventory",
                "metrics",
                "intelligent-tiering",
            ):
                if name in query:
                    req.operation = f"REST.GET.{name.upper()}"
                    return _unsupported_config(name)
            if "events" in query and "list-type" not in query:
                # MinIO's ListenBucketNotification (a long poll): answered as a listing, the MinIO SDKs poll
                # again at once, thousands of times a second
                req.operation = "REST.GET.NOTIFICATION_EVENTS"
                raise NotImplementedS3("Bucket notifications are not implemented by smarts3.")
            req.operation = "REST.GET.BUCKET"
            return bucket_ops.list_objects
        if method == "PUT":
            for kind in _CONFIG_KINDS:
                if kind in query:
                    req.operation = f"REST.PUT.{kind.upper()}"
                    return _config_handler(bucket_ops.put_config, kind)
            if "versioning" in query:
                req.operation = "REST.PUT.VERSIONING"
                return bucket_ops.put_versioning
            if "acl" in query:
                req.operation = "REST.PUT.ACL"
                return bucket_ops.put_bucket_acl
            if "object-lock" in query:
                req.operation = "REST.PUT.OBJECT_LOCK_CONFIGURATION"
                return lock_ops.put_object_lock_configuration
            if query:
                for name in query:
                    if name in (
                        "object-lock",
                        "encryption",
                        "website",
                        "replication",
                        "notification",
                        "logging",
                        "accelerate",
                        "requestPayment",
                        "ownershipControls",
                    ):
                        raise NotImplementedS3()
            req.operation = "REST.PUT.BUCKET"
            return bucket_ops.create_bucket
        if method == "DELETE":
            for kind in _CONFIG_KINDS:
                if kind in query:
                    req.operation = f"REST.DELETE.{kind.upper()}"
                    return _config_handler(bucket_ops.delete_config, kind)
            req.operation = "REST.DELETE.BUCKET"
            return bucket_ops.delete_bucket
        if method == "HEAD":
            req.operation = "REST.HEAD.BUCKET"
            return bucket_ops.head_bucket
        if method == "POST":
            if "delete" in query:
                req.operation = "REST.POST.MULTI_OBJECT_DELETE"
                return bucket_ops.delete_objects
            if self.post_object_handler is not None and "multipart/form-data" in req.headers.get(
                "content-type", ""
            ):
                req.operation = "REST.POST.OBJECT"
                return self.post_object_handler
            raise NotImplementedS3()
        raise MethodNotAllowed()

    # -- responses ---------------------------------------------------------------------------------------
    def _error_response(self, req: S3Request, error: S3Error) -> Response:
        req.error_code = error.code
        headers: list[tuple[bytes, bytes]] = [
            (name.lower().encode("latin-1"), value.encode("latin-1", "replace"))
            for name, value in error.headers.items()
        ]
        if isinstance(error, NotModified):
            return Response(status=304, headers=headers)
        resource = error.resource
        if resource is None:
            resource = req.raw_path.split("?", 1)[0]
        extra = dict(error.extra)
        if (
            req.bucket
            and "BucketName" not in extra
            and error.code in ("NoSuchBucket", "BucketNotEmpty", "BucketAlreadyOwnedByYou")
        ):
            extra["BucketName"] = req.bucket
        if req.key and "Key" not in extra and error.code == "NoSuchKey":
            extra["Key"] = req.key
        body = s3xml.error(
            error.code,
            error.message,
            resource=resource,
            request_id=req.request_id,
            host_id=host_id(req.request_id),
            extra=extra,
        )
        headers.append((b"content-type", b"application/xml"))
        response = Response(status=error.status, headers=headers, body=body)
        return response

    async def send_response(self, req: S3Request, response: Response, send: Send) -> tuple[int, int]:
        """Send ``response`` (adds the request id headers); returns the status and the body bytes sent."""
        headers = response.headers
        headers.append((b"x-amz-request-id", req.request_id.encode("latin-1")))
        headers.append((b"x-amz-id-2", host_id(req.request_id).encode("latin-1")))
        headers.extend(_BASE_HEADERS)
        head = req.method == "HEAD"
        stream = response.stream
        sent = 0
        # Answering "Expect: 100-continue" before reading the body: the client will not send the body, and
        # uvicorn would otherwise keep the connection and parse the client's next request as this one's body.
        # An error that leaves a large or never-coming body unread closes the connection too.
        close = _awaits_continue(req) or _abandons_body(req, response.status)
        if close:
            headers.append((b"connection", b"close"))
        try:
            if stream is None:
                body = response.body
                if not any(name == b"content-length" for name, _ in headers):
                    headers.append((b"content-length", str(len(body)).encode("latin-1")))
                if head:
                    body = b""
                await send({"type": "http.response.start", "status": response.status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                sent = len(body)
            else:
                await send({"type": "http.response.start", "status": response.status, "headers": headers})
                if head:
                    await send({"type": "http.response.body", "body": b""})
                else:
                    async for chunk in stream:
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                        sent += len(chunk)
                    await send({"type": "http.response.body", "body": b""})
        finally:
            if response.on_close is not None:
                await response.on_close()
            # let the connection be reused when a handler answered without reading the whole body
            raw = req.raw_body
            if raw is not None and response.status >= 300 and not close:
                await raw.drain()
            # both lanes (fast_read too) end here: after a big transfer, hand freed buffers back (memory.py)
            if sent + (raw.received if raw is not None else 0) >= memory.BIG_TRANSFER:
                memory.trim_soon()
        return response.status, sent


def _abandons_body(req: S3Request, status: int) -> bool:
    """An error answered before the body was read, and reading the rest would cost more than a new
    connection (a silent client, a refused huge upload)."""
    raw = req.raw_body
    if raw is None or status < 300:
        return False
    if req.error_code in _CLOSE_AFTER:
        return True
    return raw.content_length is not None and raw.content_length - raw.received > _DRAIN_LIMIT


def _awaits_continue(req: S3Request) -> bool:
    """The client sent Expect: 100-continue with a body (a length, or chunked framing: boto3 over HTTPS sends its
    aws-chunked checksum trailer with ``Transfer-Encoding: chunked``) and no body byte has been asked for yet."""
    raw = req.raw_body
    if (
        raw is None
        or raw.received
        or raw.finished
        or "100-continue" not in req.headers.get("expect", "").lower()
    ):
        return False
    if raw.content_length is None:
        return "chunked" in req.headers.get("transfer-encoding", "").lower()
    return raw.content_length > 0


def _source_read(req: S3Request, source: CopySource) -> S3Request:
    """The anonymous GET of a copy's source, to be authorized like any other read."""
    return attrs.evolve(
        req,
        method="GET",
        bucket=source.bucket,
        key=source.key,
        query={"versionId": source.version_id} if source.version_id else {},
        query_string="",
        headers={k: v for k, v in req.headers.items() if not k.startswith("x-amz-copy-source")},
        operation="-",
    )


_EXPECTED_OWNER_HEADERS = ("x-amz-expected-bucket-owner", "x-amz-source-expected-bucket-owner")


def _check_expected_owner(headers: Mapping[str, str], owner_id: str) -> None:
    """x-amz-expected-bucket-owner (and a copy's x-amz-source-expected-bucket-owner): S3 refuses with 403 when the
    bucket belongs to someone else. smarts3 has one owner and no AWS accounts, so it accepts the owner's
    canonical ID and any 12-digit account ID (what a program written for AWS sends for its own buckets), and
    refuses anything else."""
    for name in _EXPECTED_OWNER_HEADERS:
        expected = headers.get(name)
        if expected is None:
            continue
        value = expected.strip()
        if value != owner_id and not (len(value) == 12 and value.isdigit()):
            raise AccessDenied()


def _require(query: dict[str, str], name: str) -> None:
    if not query.get(name):
        raise InvalidArgument(f"{name} must be specified", extra={"ArgumentName": name})


async def _head_object(api: S3Api, req: S3Request) -> Response:
    return await object_ops.get_object(api, req, head=True)


def _config_handler(fn: Callable[[S3Api, S3Request, str], Awaitable[Response]], kind: str) -> Handler:
    async def handler(api: S3Api, req: S3Request) -> Response:
        return await fn(api, req, kind)

    return handler


class _NoEncryption(S3Error):
    code, status = "ServerSideEncryptionConfigurationNotFoundError", 404
    default_message = "The server side encryption configuration was not found"


class _NoWebsite(S3Error):
    code, status = "NoSuchWebsiteConfiguration", 404
    default_message = "The specified bucket does not have a website configuration"


class _NoReplication(S3Error):
    code, status = "ReplicationConfigurationNotFoundError", 404
    default_message = "The replication configuration was not found"


class _NoOwnershipControls(S3Error):
    code, status = "OwnershipControlsNotFoundError", 404
    default_message = "The bucket ownership controls were not found"


#: bucket configurations smarts3 does not support: reading one answers what S3 answers for a bucket without it
#: (tools that read every configuration of a bucket, Terraform's refresh for one, expect these, not 501)
_UNCONFIGURED: dict[str, type[S3Error]] = {
    "website": _NoWebsite,
    "replication": _NoReplication,
    "ownershipControls": _NoOwnershipControls,
}
_XMLNS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
_DEFAULT_DOCUMENTS: dict[str, bytes] = {
    "notification": f"<NotificationConfiguration {_XMLNS}/>".encode(),
    "logging": f"<BucketLoggingStatus {_XMLNS}/>".encode(),
    "accelerate": f"<AccelerateConfiguration {_XMLNS}/>".encode(),
    "requestPayment": (
        f"<RequestPaymentConfiguration {_XMLNS}><Payer>BucketOwner</Payer></RequestPaymentConfiguration>"
    ).encode(),
}


def _default_document(document: bytes) -> Handler:
    async def handler(api: S3Api, req: S3Request) -> Response:
        assert req.bucket is not None
        await api.buckets.get(req.bucket)
        return xml_response(b'<?xml version="1.0" encoding="UTF-8"?>\n' + document)

    return handler


def _missing(error: type[S3Error]) -> Handler:
    async def handler(api: S3Api, req: S3Request) -> Response:
        return await bucket_ops.not_configured(api, req, error)

    return handler


def _unsupported_config(name: str) -> Handler:
    async def handler(api: S3Api, req: S3Request) -> Response:
        assert req.bucket is not None
        await api.buckets.get(req.bucket)
        raise NotImplementedS3(f"The {name} subresource is not implemented by smarts3.")

    return handler


__all__ = ["NoSuchBucket", "S3Api"]
