"""What a conformance scenario sees and what it compares.

A scenario is a function of a ``Run`` (one target, fresh for every run). It calls boto3 through ``run.call``,
which never raises: it returns an ``Outcome`` (a plain dict) holding only what matters to a client — HTTP status,
error Code, the headers that matter, the body, the parsed XML fields — with server-specific values (request ids,
dates, owner ids, opaque tokens) replaced by their presence, and version/upload ids replaced by stable aliases
(``<id-1>``, ``<id-2>`` in order of first sight) so that "the same version as before" still compares.
"""

from __future__ import annotations

import http.client
import re
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

Outcome = dict[str, Any]

DIFFERENCES = Path(__file__).with_name("DIFFERENCES.md")

#: headers compared on responses that carry an object (GetObject, HeadObject)
_OBJECT_HEADERS = (
    "etag",
    "content-length",
    "content-range",
    "content-type",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
    "accept-ranges",
    "x-amz-delete-marker",
)
#: headers compared on every other response (their bodies are XML whose length and type are cosmetic); S3
#: sends an ETag header only where the object's ETag is not in the body
_OTHER_HEADERS = ("x-amz-delete-marker",)
_ETAG_HEADER_OPERATIONS = frozenset({"put_object", "upload_part"})
_OBJECT_OPERATIONS = frozenset({"get_object", "head_object"})

#: parsed fields whose values are server-specific: compared by presence only
_PRESENCE_ONLY = frozenset(
    {
        "LastModified",
        "Owner",
        "Initiator",
        "Initiated",
        "CreationDate",
        "NextContinuationToken",
        "ContinuationToken",
        "RequestId",
        "HostId",
        # CompleteMultipartUpload: an absolute URL naming the server's own host
        "Location",
    }
)
#: request parameters S3 echoes in listings; an empty echo and no echo say the same, so both are left out
_ECHOES = frozenset(
    {"Prefix", "Marker", "KeyMarker", "UploadIdMarker", "VersionIdMarker", "Delimiter", "StartAfter"}
)
#: parsed fields left out entirely: checksums are the flexible-checksum issue's business, not this suite's
_IGNORED = frozenset(
    {
        "ResponseMetadata",
        "ChecksumAlgorithm",
        "ChecksumType",
        "ChecksumCRC32",
        "ChecksumCRC32C",
        "ChecksumCRC64NVME",
        "ChecksumSHA1",
        "ChecksumSHA256",
        "BucketArn",
        "BucketRegion",
    }
)
#: parsed fields holding ids that differ between servers but whose identity matters
_ALIASED = frozenset(
    {
        "VersionId",
        "UploadId",
        "NextVersionIdMarker",
        "VersionIdMarker",
        "NextUploadIdMarker",
        "UploadIdMarker",
    }
)

PRESENT = "<present>"


@attrs.define
class Target:
    """One server under test and a boto3 client for it."""

    name: str
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    client: Any
    new_bucket_name: Callable[[], str]

    @property
    def is_moto(self) -> bool:
        return self.name == "moto"

    def make_client(self, **config: Any) -> Any:
        """A new client for this server; keyword arguments override credentials or go into botocore's Config."""
        access_key = config.pop("aws_access_key_id", self.access_key)
        secret_key = config.pop("aws_secret_access_key", self.secret_key)
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=self.region,
            config=Config(**config) if config else None,
        )

    def bucket(self) -> str:
        """Create a bucket with a name no other test uses and return the name."""
        name = self.new_bucket_name()
        self.client.create_bucket(Bucket=name)
        return name


@attrs.define
class Run:
    """One scenario run against one target: the target's client plus alias bookkeeping."""

    target: Target
    #: the same on every target of one comparison, so bucket names (echoed in listings) compare equal
    bucket_prefix: str = attrs.field(factory=lambda: f"conf-{uuid.uuid4().hex[:16]}")
    aliases: dict[str, str] = attrs.field(factory=dict)
    _buckets_made: int = 0

    @property
    def client(self) -> Any:
        return self.target.client

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def is_moto(self) -> bool:
        return self.target.is_moto

    def new_bucket_name(self) -> str:
        self._buckets_made += 1
        return f"{self.bucket_prefix}-{self._buckets_made}"

    def bucket(self) -> str:
        """Create a bucket whose name no other test uses (and every target of this comparison shares)."""
        name = self.new_bucket_name()
        self.client.create_bucket(Bucket=name)
        return name

    def call(self, operation: str, client: Any = None, **params: Any) -> Outcome:
        """Call ``operation`` (a boto3 method name) and return what a client sees of the answer."""
        client = client or self.client
        try:
            response = getattr(client, operation)(**params)
        except ClientError as error:
            return self._error(error)
        except Exception as error:  # a reply botocore cannot even parse is an outcome too
            return {"unparseable": type(error).__name__}
        return self._success(operation, client, response)

    def raw(self, operation: str, client: Any = None, **params: Any) -> dict[str, Any]:
        """The boto3 response itself (Body read), raising on errors: for values a scenario reuses."""
        response: dict[str, Any] = getattr(client or self.client, operation)(**params)
        if "Body" in response:
            response["Body"] = response["Body"].read()
        return response

    def alias(self, value: str) -> str:
        if value == "null":
            return value
        return self.aliases.setdefault(value, f"<id-{len(self.aliases) + 1}>")

    def put_many(self, bucket: str, keys: list[str], body: bytes = b"x") -> None:
        """Create many objects quickly: presigned PUTs over plain keep-alive connections from a few threads.

        The servers run in this process, so boto3's per-call overhead (and the GIL) would dominate; a presigned
        URL and http.client cost a fraction of that and still exercise each server's PutObject.
        """
        local = threading.local()

        def put(key: str) -> None:
            url = self.client.generate_presigned_url(
                "put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=900
            )
            parts = urllib.parse.urlsplit(url)
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection(
                    parts.hostname or "127.0.0.1", parts.port, timeout=30
                )
            conn.request(
                "PUT", f"{parts.path}?{parts.query}", body=body, headers={"Content-Length": str(len(body))}
            )
            response = conn.getresponse()
            response.read()
            assert response.status == 200, f"PUT {key!r} on {self.name}: {response.status}"

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(put, keys))

    # -- normalisation --------------------------------------------------------------------------------------
    def _error(self, error: ClientError) -> Outcome:
        response: Mapping[str, Any] = error.response
        meta = response.get("ResponseMetadata", {})
        headers = meta.get("HTTPHeaders", {})
        outcome: Outcome = {
            "status": meta.get("HTTPStatusCode"),
            "code": response.get("Error", {}).get("Code"),
        }
        # a 304 must carry the ETag (RFC 9110 §15.4.5); on other errors S3 documents no headers worth comparing
        if outcome["status"] == 304 and "etag" in headers:
            outcome["etag"] = headers["etag"]
        if "x-amz-delete-marker" in headers:
            outcome["x-amz-delete-marker"] = headers["x-amz-delete-marker"]
        if "x-amz-version-id" in headers:
            outcome["x-amz-version-id"] = self.alias(headers["x-amz-version-id"])
        return outcome

    def _success(self, operation: str, client: Any, response: dict[str, Any]) -> Outcome:
        meta = response.get("ResponseMetadata", {})
        headers: dict[str, str] = meta.get("HTTPHeaders", {})
        outcome: Outcome = {"status": meta.get("HTTPStatusCode")}
        wanted = _OBJECT_HEADERS if operation in _OBJECT_OPERATIONS else _OTHER_HEADERS
        for name in wanted:
            if name in headers:
                outcome[name] = headers[name]
        if operation in _ETAG_HEADER_OPERATIONS and "etag" in headers:
            outcome["etag"] = headers["etag"]
        for name, value in headers.items():
            if name.startswith("x-amz-meta-"):
                outcome[name] = value
        # S3 sends Last-Modified with an object, not on PutObject and friends (moto does): presence only there
        if "last-modified" in headers and operation in _OBJECT_OPERATIONS:
            outcome["last-modified"] = PRESENT
        if "x-amz-version-id" in headers:
            outcome["x-amz-version-id"] = self.alias(headers["x-amz-version-id"])
        header_fields = _header_members(client, operation)
        for field, value in response.items():
            if field in header_fields or field in _IGNORED or (field in _ECHOES and value == ""):
                continue
            if field == "Body":
                outcome["Body"] = value.read()
                continue
            outcome[field] = self._normalise(field, value)
        return outcome

    def _normalise(self, field: str, value: Any) -> Any:
        if field in _IGNORED:
            return None
        if field in _PRESENCE_ONLY:
            return PRESENT
        if field in _ALIASED and isinstance(value, str):
            return self.alias(value)
        if isinstance(value, dict):
            return {k: self._normalise(k, v) for k, v in value.items() if k not in _IGNORED}
        if isinstance(value, list):
            return [self._normalise(field, item) for item in value]
        return value


def _header_members(client: Any, operation: str) -> frozenset[str]:
    """Output fields botocore reads from headers (compared through the header allow-list instead)."""
    model = client.meta.service_model
    name = client.meta.method_to_api_mapping.get(operation)
    if name is None:
        return frozenset()
    shape = model.operation_model(name).output_shape
    if shape is None:
        return frozenset()
    return frozenset(
        member
        for member, member_shape in shape.members.items()
        if member_shape.serialization.get("location") in ("header", "headers", "statusCode")
    )


def documented_differences() -> set[str]:
    """Ids (first column, like ``D3``) of the rows in DIFFERENCES.md."""
    text = DIFFERENCES.read_text(encoding="utf-8")
    return set(re.findall(r"^\|\s*(D\d+)\s*\|", text, flags=re.MULTILINE))


def differences(left: Any, right: Any, path: str = "") -> list[str]:
    """Where two outcomes differ, as ``path: left != right`` lines (for readable failures)."""
    if isinstance(left, dict) and isinstance(right, dict):
        found: list[str] = []
        for key in sorted(set(left) | set(right), key=str):
            if key not in left or key not in right:
                found.append(
                    f"{path}.{key}: {left.get(key, '<missing>')!r} != {right.get(key, '<missing>')!r}"
                )
            else:
                found += differences(left[key], right[key], f"{path}.{key}")
        return found
    if isinstance(left, list | tuple) and isinstance(right, list | tuple) and len(left) == len(right):
        return [
            line
            for i, (a, b) in enumerate(zip(left, right, strict=True))
            for line in differences(a, b, f"{path}[{i}]")
        ]
    return [] if left == right else [f"{path}: {left!r} != {right!r}"]


def compare_outcomes(outcomes: dict[str, Any], *, moto_differs: str | tuple[str, ...] | None = None) -> None:
    """Both smarts3 adapters answer alike; moto answers alike too, unless documented differences say not."""
    fs, mem, moto = outcomes["smarts3-fs"], outcomes["smarts3-mem"], outcomes["moto"]
    assert fs == mem, "filesystem and memory adapters disagree (fs != mem):\n" + "\n".join(
        differences(fs, mem)
    )
    if moto_differs is None:
        assert fs == moto, "smarts3 and moto disagree (smarts3 != moto):\n" + "\n".join(differences(fs, moto))
        return
    ids = (moto_differs,) if isinstance(moto_differs, str) else moto_differs
    missing = set(ids) - documented_differences()
    assert not missing, f"{sorted(missing)} not rows of {DIFFERENCES.name}"
    assert fs != moto, f"moto now agrees with smarts3: difference {ids} is stale, update {DIFFERENCES.name}"
