"""CORS for the S3 API: per-bucket rules (PutBucketCors) first, then the server-wide ``cors`` settings.

S3: "Configuring cross-origin resource sharing (CORS)" and "How does Amazon S3 evaluate the CORS configuration
on a bucket?": the first rule whose AllowedOrigin matches the Origin, whose AllowedMethod includes the
(requested) method and whose AllowedHeader patterns cover every requested header wins. A preflight that no
rule allows is refused with 403; an actual request that no rule allows is answered without CORS headers, so
the browser hides the response from the page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import attrs

from smarts3.adapters.http import xml as s3xml
from smarts3.adapters.http.wire import Response
from smarts3.domain.errors import S3Error

CORS_KIND = "cors"
VARY = (b"vary", b"Origin, Access-Control-Request-Headers, Access-Control-Request-Method")


class CorsRequest(Protocol):
    """What CORS evaluation needs from a request (``S3Request`` satisfies it)."""

    @property
    def method(self) -> str: ...

    @property
    def headers(self) -> dict[str, str]: ...

    @property
    def bucket(self) -> str | None: ...


class BucketConfigs(Protocol):
    """Where per-bucket CORS documents come from (``BucketService`` satisfies it)."""

    async def get_config(self, name: str, kind: str) -> bytes | None: ...


class CorsForbidden(S3Error):
    code, status = "AccessForbidden", 403
    default_message = (
        "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
        "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted "
        "by the resource's CORS spec."
    )


class CorsBadRequest(S3Error):
    code, status = "BadRequest", 400
    default_message = "Insufficient information. Origin request header needed."


def _pattern_matches(pattern: str, value: str) -> bool:
    """S3 patterns hold at most one ``*``, which matches any run of characters (including none)."""
    if "*" not in pattern:
        return pattern == value
    prefix, _, suffix = pattern.partition("*")
    return len(value) >= len(prefix) + len(suffix) and value.startswith(prefix) and value.endswith(suffix)


@attrs.frozen
class Rule:
    """One CORS rule with its patterns normalised for matching (header patterns lower-cased)."""

    origins: tuple[str, ...]
    methods: tuple[str, ...]
    headers: tuple[str, ...] = ()
    expose: tuple[str, ...] = ()
    max_age: int | None = None
    #: None = S3's behaviour: credentials allowed unless the matching origin pattern is ``*``
    allow_credentials: bool | None = None

    @classmethod
    def from_xml(cls, rule: s3xml.CorsRule) -> Rule:
        return cls(
            origins=rule.allowed_origins,
            methods=rule.allowed_methods,
            headers=tuple(h.lower() for h in rule.allowed_headers),
            expose=rule.expose_headers,
            max_age=rule.max_age_seconds,
        )

    def matching_origin(self, origin: str) -> str | None:
        for pattern in self.origins:
            if _pattern_matches(pattern, origin):
                return pattern
        return None

    def allows_headers(self, requested: Iterable[str]) -> bool:
        return all(any(_pattern_matches(p, name) for p in self.headers) for name in requested)

    def response_headers(self, origin: str, pattern: str) -> list[tuple[bytes, bytes]]:
        credentials = self.allow_credentials if self.allow_credentials is not None else pattern != "*"
        allow_origin = "*" if pattern == "*" and not credentials else origin
        out = [
            (b"access-control-allow-origin", allow_origin.encode("latin-1", "replace")),
            (b"access-control-allow-methods", ", ".join(self.methods).encode("latin-1")),
        ]
        if self.expose:
            out.append(
                (b"access-control-expose-headers", ", ".join(self.expose).encode("latin-1", "replace"))
            )
        if self.max_age is not None:
            out.append((b"access-control-max-age", str(self.max_age).encode("latin-1")))
        if credentials:
            out.append((b"access-control-allow-credentials", b"true"))
        return out


def first_match(
    rules: Sequence[Rule], origin: str, method: str, requested_headers: Sequence[str] = ()
) -> tuple[Rule, str] | None:
    """The first rule allowing ``origin`` + ``method`` + every requested header, with the origin pattern."""
    for rule in rules:
        if method not in rule.methods:
            continue
        pattern = rule.matching_origin(origin)
        if pattern is None:
            continue
        if not rule.allows_headers(requested_headers):
            continue
        return rule, pattern
    return None


def requested_headers(value: str | None) -> list[str]:
    """Access-Control-Request-Headers as lower-case names."""
    if not value:
        return []
    return [name.strip().lower() for name in value.split(",") if name.strip()]


class CorsSettingsLike(Protocol):
    enabled: bool
    allowed_origins: list[str]
    allowed_methods: list[str]
    allowed_headers: list[str]
    exposed_headers: list[str]
    max_age: int
    allow_credentials: bool


def server_rule(settings: CorsSettingsLike) -> Rule | None:
    """The server-wide ``cors`` settings as one rule, or None when server-wide CORS is off."""
    if not settings.enabled:
        return None
    return Rule(
        origins=tuple(settings.allowed_origins),
        methods=tuple(m.upper() for m in settings.allowed_methods),
        headers=tuple(h.lower() for h in settings.allowed_headers),
        expose=tuple(settings.exposed_headers),
        max_age=settings.max_age,
        allow_credentials=settings.allow_credentials,
    )


class CorsPolicy:
    """The S3 API's CORS policy: answers preflights and adds CORS headers to actual responses.

    Bucket rules are parsed once per stored document (cached by the document's bytes), so a request with an
    ``Origin`` costs one bucket-config read and no XML parsing.
    """

    def __init__(self, buckets: BucketConfigs, server: Rule | None = None) -> None:
        self._buckets = buckets
        self._server = (server,) if server is not None else ()
        self._cache: dict[str, tuple[bytes, tuple[Rule, ...]]] = {}

    async def rules_for(self, bucket: str | None) -> tuple[Rule, ...]:
        """Bucket rules when the bucket has a CORS configuration, else the server-wide rule (if any)."""
        if bucket is None:
            return self._server
        try:
            document = await self._buckets.get_config(bucket, CORS_KIND)
        except S3Error:
            document = None
        if document is None:
            self._cache.pop(bucket, None)
            return self._server
        cached = self._cache.get(bucket)
        if cached is not None and cached[0] == document:
            return cached[1]
        try:
            rules = tuple(Rule.from_xml(r) for r in s3xml.parse_cors(document))
        except S3Error:
            rules = ()
        if len(self._cache) >= 10_000:
            self._cache.clear()
        self._cache[bucket] = (document, rules)
        return rules

    async def preflight(self, req: CorsRequest) -> Response:
        origin = req.headers.get("origin")
        if not origin:
            raise CorsBadRequest()
        method = req.headers.get("access-control-request-method")
        if not method:
            raise CorsBadRequest(f"Invalid Access-Control-Request-Method: {method or 'null'}")
        rules = await self.rules_for(req.bucket)
        if not rules:
            raise CorsForbidden("CORSResponse: CORS is not enabled for this bucket.")
        wanted = requested_headers(req.headers.get("access-control-request-headers"))
        match = first_match(rules, origin, method, wanted)
        if match is None:
            raise CorsForbidden()
        rule, pattern = match
        headers = rule.response_headers(origin, pattern)
        if wanted:
            headers.append((b"access-control-allow-headers", ", ".join(wanted).encode("latin-1", "replace")))
        headers.append(VARY)
        return Response(status=200, headers=headers)

    async def response_headers(self, req: CorsRequest) -> list[tuple[bytes, bytes]]:
        origin = req.headers.get("origin")
        if not origin:
            return []
        rules = await self.rules_for(req.bucket)
        if not rules:
            return []
        match = first_match(rules, origin, req.method)
        if match is None:
            return [VARY]
        rule, pattern = match
        headers = rule.response_headers(origin, pattern)
        headers.append(VARY)
        return headers
