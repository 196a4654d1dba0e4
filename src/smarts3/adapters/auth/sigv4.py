"""AWS Signature Version 4 for S3: the Authorization header and presigned (query-string) URLs.

Rules come from the S3 API reference, "Authenticating Requests (AWS Signature Version 4)": sections
"Signature Calculations for the Authorization Header" (header auth), "Authenticating Requests: Using Query
Parameters" (presigned URLs) and the IAM user guide "Create a canonical request for Signature Version 4".
S3 differs from other services in one way that matters here: the canonical URI is the URI-encoded path,
encoded once and never normalised (no removal of ``//``, ``.`` or ``..``).
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from email.utils import parsedate_tz
from functools import lru_cache
from typing import Final, TypeVar
from urllib.parse import quote, unquote, unquote_to_bytes

import msgspec

from smarts3.adapters.auth.credentials import CredentialStore, still_valid
from smarts3.adapters.auth.request import (
    AUTH_V4_HEADER,
    AUTH_V4_QUERY,
    PAYLOAD_SHA256,
    PAYLOAD_STREAMING_SIGNED,
    PAYLOAD_STREAMING_SIGNED_TRAILER,
    PAYLOAD_STREAMING_UNSIGNED_TRAILER,
    PAYLOAD_UNSIGNED,
    AuthResult,
    RequestView,
)
from smarts3.adapters.memo import bounded_memo
from smarts3.domain.errors import (
    AccessDenied,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidRequest,
    RequestTimeTooSkewed,
    S3Error,
    SignatureDoesNotMatch,
)

ALGORITHM: Final = "AWS4-HMAC-SHA256"
ECDSA_ALGORITHM: Final = "AWS4-ECDSA-P256-SHA256"
TERMINAL: Final = "aws4_request"
SERVICE: Final = "s3"
EMPTY_SHA256: Final = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD: Final = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED: Final = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER: Final = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER: Final = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_ECDSA: Final = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
STREAMING_ECDSA_TRAILER: Final = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"
MAX_PRESIGN_EXPIRES: Final = 604800  # S3: "X-Amz-Expires ... maximum 604800 seconds (7 days)"

_PAYLOAD_MODES: Final = {
    UNSIGNED_PAYLOAD: PAYLOAD_UNSIGNED,
    STREAMING_SIGNED: PAYLOAD_STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER: PAYLOAD_STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER: PAYLOAD_STREAMING_UNSIGNED_TRAILER,
}
HEX64 = re.compile(r"[0-9a-fA-F]{64}\Z")
_AMZ_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z\Z")
_SAFE_PATH = re.compile(r"[A-Za-z0-9\-._~/]*\Z")
_SAFE_QUERY_PART = re.compile(r"[A-Za-z0-9\-._~]*\Z")
_WS_RUN = re.compile(r"[ \t\r\n\f\v]+")
_CONTENT_SHA256_HELP: Final = (
    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER "
    "or a valid sha256 value."
)
_CREDENTIAL_HELP: Final = 'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'


# --- keys and digests ------------------------------------------------------------------------------------
@lru_cache(maxsize=1024)
def signing_key(secret: str, date: str, region: str, service: str = SERVICE) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").

    S3: "Signature Calculations ... Calculating a Signature". Cached: one key per (secret, day, region).
    """
    k = hmac.new(("AWS4" + secret).encode("utf-8"), date.encode("utf-8"), hashlib.sha256).digest()
    k = hmac.new(k, region.encode("utf-8"), hashlib.sha256).digest()
    k = hmac.new(k, service.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(k, TERMINAL.encode("ascii"), hashlib.sha256).digest()


def sign_hex(key: bytes, message: bytes) -> str:
    return hmac.digest(key, message, "sha256").hex()  # one-shot C path, no HMAC object


def spaced_hex(data: bytes) -> str:
    """Bytes as S3 prints them in ``StringToSignBytes``/``CanonicalRequestBytes``: ``"41 57 53 34"``."""
    return data.hex(" ")


def _encode_text(text: str, latin1: bool = False) -> bytes:
    if latin1:
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:
            pass
    return text.encode("utf-8", "surrogateescape")


def _wire_bytes(text: str) -> bytes:
    """Recover the bytes the client sent from a latin-1-decoded ASGI string (utf-8 if not latin-1)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")


# --- canonical request pieces ------------------------------------------------------------------------------
def canonical_uri(raw_path: str) -> str:
    """The CanonicalURI for S3: each path segment percent-decoded, then URI-encoded once (RFC 3986).

    IAM guide, "Create a canonical request": encode every byte except the unreserved characters
    ``A-Z a-z 0-9 - _ . ~``; keep ``/`` between segments; S3 does not normalise the path. An encoded
    slash (``%2F``) inside a segment stays encoded. Paths that are already canonical (the common case: boto3
    and the other SDKs send exactly this form) are returned unchanged without any work.
    """
    if not raw_path:
        return "/"
    if _SAFE_PATH.match(raw_path):
        return raw_path
    return _reencode_path(raw_path)


@bounded_memo(maxsize=4096, max_size=1024)
def _reencode_path(raw_path: str) -> str:
    segments = _wire_bytes(raw_path).split(b"/")
    return "/".join(quote(unquote_to_bytes(seg), safe="~") for seg in segments)


def _canonical_query_part(part: str, plus_as_space: bool) -> str:
    if _SAFE_QUERY_PART.match(part):
        return part
    return _reencode_query_part(part, plus_as_space)


# credential scopes, prefixes and delimiters repeat from request to request
@bounded_memo(maxsize=4096, max_size=1024)
def _reencode_query_part(part: str, plus_as_space: bool) -> str:
    raw = _wire_bytes(part)
    if plus_as_space:
        raw = raw.replace(b"+", b" ")
    return quote(unquote_to_bytes(raw), safe="~")


def canonical_query(query_string: str, *, plus_as_space: bool = False, exclude: str = "") -> str:
    """The CanonicalQueryString: every parameter URI-decoded then encoded, sorted by name then value.

    IAM guide, "Create a canonical request": parameters without ``=`` get an empty value; ``exclude`` names
    a parameter to leave out (``X-Amz-Signature`` for presigned URLs). ``plus_as_space`` treats a raw ``+``
    as an encoded space, as HTML forms do (tried only when the strict reading fails).
    """
    if not query_string:
        return ""
    pairs: list[tuple[str, str]] = []
    for item in query_string.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        if exclude and name == exclude:
            continue
        pairs.append(
            (_canonical_query_part(name, plus_as_space), _canonical_query_part(value, plus_as_space))
        )
    pairs.sort()
    return "&".join([f"{n}={v}" for n, v in pairs])


def trim_header_value(value: str) -> str:
    """Trimall: strip and collapse runs of whitespace to one space (IAM guide, "canonical headers")."""
    # isprintable() is False for tabs, newlines and the other control characters (and for some non-ASCII
    # ones, which then merely take the regex): one C pass instead of a scan per kind of whitespace
    if value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " ":
        return value
    return _WS_RUN.sub(" ", value).strip(" ")


def canonical_headers(signed: Sequence[str], values: Sequence[str]) -> str:
    """``name:trimmed-value\\n`` for each signed header, in the order the client listed them (``values``
    from :func:`signed_header_values`)."""
    return "".join(
        [f"{name}:{trim_header_value(value)}\n" for name, value in zip(signed, values, strict=True)]
    )


def parse_query_params(query_string: str) -> dict[str, str]:
    """Query parameters, percent-decoded (a ``+`` stays a ``+``); the first occurrence of a name wins."""
    params: dict[str, str] = {}
    if not query_string:
        return params
    for item in query_string.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        name = unquote(name) if "%" in name else name
        if name not in params:
            params[name] = unquote(value) if "%" in value else value
    return params


# --- dates -----------------------------------------------------------------------------------------------
@lru_cache(maxsize=256)
def parse_amz_date(value: str) -> int | None:
    """Seconds since the epoch for an ISO 8601 basic timestamp ``YYYYMMDDTHHMMSSZ``; None if malformed."""
    m = _AMZ_DATE.match(value)
    if m is None:
        return None
    y, mo, d, h, mi, s = (int(g) for g in m.groups())
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 61):
        return None
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))


def format_amz_date(epoch: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def format_iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def parse_http_date(value: str) -> int | None:
    """Seconds since the epoch for an RFC 1123/850/asctime ``Date`` header; None if malformed."""
    try:
        parts = parsedate_tz(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parts is None:
        return None
    try:
        return calendar.timegm(parts[:9]) - (parts[9] or 0)
    except (TypeError, ValueError, OverflowError):
        return None


def request_time(headers: Mapping[str, str]) -> tuple[int, str] | None:
    """(epoch, ISO-basic string) from ``x-amz-date``, else from ``Date`` (S3: "Time Stamp Requirement")."""
    amz = headers.get("x-amz-date")
    if amz is not None:
        epoch = parse_amz_date(amz.strip())
        if epoch is not None:
            return epoch, amz.strip()
        epoch = parse_http_date(amz)  # S3 also accepts an RFC 1123 x-amz-date
        return None if epoch is None else (epoch, format_amz_date(epoch))
    date = headers.get("date")
    if date is not None:
        epoch = parse_http_date(date)
        if epoch is not None:
            return epoch, format_amz_date(epoch)
    return None


def check_skew(request_epoch: int, now: float, max_skew: int) -> None:
    """S3: RequestTimeTooSkewed when the request time is more than 15 minutes from the server's."""
    if abs(now - request_epoch) > max_skew:
        raise RequestTimeTooSkewed(
            extra={
                "RequestTime": format_amz_date(request_epoch),
                "ServerTime": format_iso(now),
                "MaxAllowedSkewMilliseconds": str(max_skew * 1000),
            }
        )


def payload_mode_for(content_sha256: str) -> tuple[str, str | None]:
    """(payload mode, expected hex digest) for an ``x-amz-content-sha256`` value; InvalidArgument if bad."""
    mode = _PAYLOAD_MODES.get(content_sha256)
    if mode is not None:
        return mode, None
    if content_sha256 == EMPTY_SHA256:  # every SDK GET, HEAD and DELETE: no regex for the commonest hash
        return PAYLOAD_SHA256, EMPTY_SHA256
    if HEX64.match(content_sha256):
        return PAYLOAD_SHA256, content_sha256.lower()
    if content_sha256 in (STREAMING_ECDSA, STREAMING_ECDSA_TRAILER):
        raise InvalidRequest("SigV4a (AWS4-ECDSA-P256-SHA256) is not supported by this server.")
    raise InvalidArgument(
        _CONTENT_SHA256_HELP,
        extra={"ArgumentName": "x-amz-content-sha256", "ArgumentValue": content_sha256},
    )


# --- parsing the Authorization header / credential ------------------------------------------------------
class Credential(msgspec.Struct, frozen=True, gc=False):
    access_key: str
    date: str
    region: str
    service: str
    terminal: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminal}"


def parse_credential(value: str, fail: Callable[[str], S3Error]) -> Credential:
    """``AKID/YYYYMMDD/region/service/aws4_request``; the access key itself may contain ``/``."""
    parts = value.rsplit("/", 4)
    if len(parts) != 5 or not parts[0] or not all(parts[1:]):
        raise fail(f"the Credential is mal-formed; {_CREDENTIAL_HELP}")
    cred = Credential(*parts)
    if len(cred.date) != 8 or not cred.date.isdigit():
        raise fail(f'Invalid credential date "{cred.date}". This date is not in the YYYYMMDD format.')
    if cred.service != SERVICE:
        raise fail(f'incorrect service "{cred.service}". This endpoint belongs to "{SERVICE}".')
    if cred.terminal != TERMINAL:
        raise fail(f'incorrect terminal "{cred.terminal}". This endpoint uses "{TERMINAL}".')
    return cred


class ParsedAuthorization(msgspec.Struct, frozen=True, gc=False):
    credential: Credential
    signed_headers: tuple[str, ...]
    signed_headers_text: str
    signature: str


def _header_malformed(detail: str) -> S3Error:
    return AuthorizationHeaderMalformed(f"The authorization header is malformed; {detail}")


def parse_authorization(value: str) -> ParsedAuthorization:
    """Parse ``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``.

    S3: "Using the Authorization Header": three comma-separated components, in any order, spaces optional.
    A client sends the same credential and signed-header list request after request with a new signature
    at the end: that head is parsed once (cached) and only the signature is new.
    """
    head, sep, signature = value.rpartition("Signature=")
    if sep and signature and "," not in signature and "=" not in signature:
        signature = signature.strip()
        if signature:
            known = _parse_authorization_head(head)
            return ParsedAuthorization(
                known.credential, known.signed_headers, known.signed_headers_text, signature
            )
    return _parse_authorization(value)


@lru_cache(maxsize=256)
def _parse_authorization_head(head: str) -> ParsedAuthorization:
    """The Credential and SignedHeaders components (any error they have is raised, and not cached)."""
    return _parse_authorization(head + "Signature=-")


def _parse_authorization(value: str) -> ParsedAuthorization:
    rest = value[len(ALGORITHM) :]
    fields: dict[str, str] = {}
    for component in rest.split(","):
        name, sep, val = component.strip().partition("=")
        if sep:
            fields[name.strip()] = val.strip()
    if not all(k in fields for k in ("Credential", "SignedHeaders", "Signature")):
        raise _header_malformed(
            "the authorization header requires three components: Credential, SignedHeaders, and Signature."
        )
    credential = parse_credential(fields["Credential"], _header_malformed)
    signed_text = fields["SignedHeaders"]
    signed = tuple(signed_text.split(";"))
    if not signed_text or any(not h or h != h.lower() for h in signed):
        raise _header_malformed("the SignedHeaders component is mal-formed.")
    return ParsedAuthorization(credential, signed, signed_text, fields["Signature"])


# --- verification ----------------------------------------------------------------------------------------
def build_canonical_request(
    method: str, uri: str, query: str, headers_block: str, signed_headers: str, payload: str
) -> str:
    return f"{method}\n{uri}\n{query}\n{headers_block}\n{signed_headers}\n{payload}"


def string_to_sign(amz_date: str, scope: str, canonical_request: bytes) -> bytes:
    digest = hashlib.sha256(canonical_request).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}".encode("ascii")


def _mismatch(access_key: str, provided: str, sts: bytes, canonical: bytes) -> SignatureDoesNotMatch:
    """SignatureDoesNotMatch carrying what S3 returns, so a client can diff its own canonical request."""
    return SignatureDoesNotMatch(
        extra={
            "AWSAccessKeyId": access_key,
            "StringToSign": sts.decode("utf-8", "replace"),
            "SignatureProvided": provided,
            "StringToSignBytes": spaced_hex(sts),
            "CanonicalRequest": canonical.decode("utf-8", "replace"),
            "CanonicalRequestBytes": spaced_hex(canonical),
        }
    )


def _verify(
    req: RequestView,
    *,
    key: bytes,
    amz_date: str,
    scope: str,
    signed: Sequence[str],
    values: Sequence[str],
    signed_text: str,
    payload: str,
    provided: str,
    access_key: str,
    exclude_query: str,
) -> None:
    """Compare the provided signature against the canonical request S3 would build.

    The strict form comes first; when it does not match, a few readings real clients are known to sign
    are tried (the path as sent rather than re-encoded, ``+`` in the query meaning a space, header bytes
    that were UTF-8 on the wire). Only the strict form is reported on failure.
    """
    method = req.method.upper()
    uri = canonical_uri(req.raw_path)
    query = canonical_query(req.query_string, exclude=exclude_query)
    headers_block = canonical_headers(signed, values)
    canonical = build_canonical_request(method, uri, query, headers_block, signed_text, payload)
    canonical_bytes = _encode_text(canonical)
    sts = string_to_sign(amz_date, scope, canonical_bytes)
    provided_l = provided.lower().encode("utf-8", "surrogateescape")
    if hmac.compare_digest(sign_hex(key, sts).encode("ascii"), provided_l):
        return

    def variants() -> Iterator[bytes]:
        if req.raw_path and uri != req.raw_path:
            yield _encode_text(
                build_canonical_request(method, req.raw_path, query, headers_block, signed_text, payload)
            )
        if "+" in req.query_string:
            q2 = canonical_query(req.query_string, plus_as_space=True, exclude=exclude_query)
            yield _encode_text(build_canonical_request(method, uri, q2, headers_block, signed_text, payload))
        if not headers_block.isascii():
            yield _encode_text(canonical, latin1=True)

    for alt in variants():
        if hmac.compare_digest(
            sign_hex(key, string_to_sign(amz_date, scope, alt)).encode("ascii"), provided_l
        ):
            return
    raise _mismatch(access_key, provided, sts, canonical_bytes)


class SigV4Verifier:
    """Verifies SigV4 header and presigned-URL signatures against a credential store."""

    def __init__(
        self,
        credentials: CredentialStore,
        *,
        max_skew_seconds: int = 900,
        now: Callable[[], float] = time.time,
        require_signed_amz_headers: bool = True,
    ) -> None:
        self._credentials = credentials
        self._max_skew = max_skew_seconds
        self._now = now
        self._require_signed_amz = require_signed_amz_headers
        #: presigned GET/HEAD requests already verified (see cached_presigned); insertion-ordered, oldest evicted
        self._presigned: dict[
            tuple[str, str, str], tuple[AuthResult, tuple[str, ...], tuple[str, ...], float, float, str]
        ] = {}
        #: header-signed GET/HEAD requests already verified, by Authorization value (see verify_header)
        self._header_signed: dict[
            tuple[str, str, str, str], tuple[AuthResult, tuple[str, ...], tuple[str, ...], str, int, str]
        ] = {}

    def _secret(self, access_key: str) -> str:
        secret = self._credentials.secret_for(access_key)
        if secret is None:
            raise InvalidAccessKeyId(extra={"AWSAccessKeyId": access_key})
        return secret

    def verify_header(self, req: RequestView, authorization: str) -> AuthResult:
        """S3: "Signature Calculations for the Authorization Header (AWS Signature Version 4)".

        A GET or HEAD that is the very same signed request as one verified before (same Authorization value,
        method, path, query, signed header values and payload hash: an SDK reading one object again within the
        second its x-amz-date names) is accepted without rebuilding the canonical request, while its time is
        within the allowed skew and the secret unchanged; S3 accepts such a replay too.
        """
        cache_key = (authorization, req.method, req.raw_path, req.query_string)
        if req.method in ("GET", "HEAD"):
            hit = self._header_signed.get(cache_key)
            if hit is not None:
                result, names, values, payload_hash, epoch, secret = hit
                headers = req.headers
                if (
                    abs(self._now() - epoch) <= self._max_skew
                    and headers.get("x-amz-content-sha256") == payload_hash
                    and signed_header_values(req, names) == values
                    and still_valid(self._credentials, result.access_key, secret)
                ):
                    if self._require_signed_amz:
                        _check_amz_headers_signed(headers, names)
                    return result
        auth = parse_authorization(authorization)
        cred = auth.credential
        secret = self._secret(cred.access_key)
        headers = req.headers
        when = request_time(headers)
        if when is None:
            raise AccessDenied("AWS authentication requires a valid Date or x-amz-date header")
        epoch, amz_date = when
        if amz_date[:8] != cred.date:
            raise _header_malformed("Invalid credential date. Date is not the same as X-Amz-Date.")
        check_skew(epoch, self._now(), self._max_skew)
        content_sha256 = headers.get("x-amz-content-sha256")
        if content_sha256 is None:
            # S3 answers this for every SigV4 header-authenticated request without the header.
            raise InvalidRequest("Missing required header for this request: x-amz-content-sha256")
        mode, expected = payload_mode_for(content_sha256)
        if "host" not in auth.signed_headers:
            raise _header_malformed("the SignedHeaders component must include host.")
        if self._require_signed_amz:
            _check_amz_headers_signed(headers, auth.signed_headers)
        key = signing_key(secret, cred.date, cred.region, cred.service)
        values = signed_header_values(req, auth.signed_headers)
        scope = cred.scope
        _verify(
            req,
            key=key,
            amz_date=amz_date,
            scope=scope,
            signed=auth.signed_headers,
            values=values,
            signed_text=auth.signed_headers_text,
            payload=content_sha256,
            provided=auth.signature,
            access_key=cred.access_key,
            exclude_query="",
        )
        result = AuthResult(
            access_key=cred.access_key,
            payload_mode=mode,
            expected_sha256=expected,
            signing_key=key,
            scope=scope,
            seed_signature=auth.signature.lower(),
            amz_date=amz_date,
            auth_type=AUTH_V4_HEADER,
        )
        if req.method in ("GET", "HEAD"):
            remember_verified(
                self._header_signed,
                cache_key,
                (result, auth.signed_headers, values, content_sha256, epoch, secret),
            )
        return result

    def verify_query(self, req: RequestView, params: Mapping[str, str]) -> AuthResult:
        """S3: "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)"."""
        required = (
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Signature",
            "X-Amz-Date",
            "X-Amz-SignedHeaders",
            "X-Amz-Expires",
        )
        if any(name not in params for name in required):
            raise AuthorizationQueryParametersError()
        if params["X-Amz-Algorithm"] != ALGORITHM:
            raise AuthorizationQueryParametersError('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
        cred = parse_credential(
            params["X-Amz-Credential"],
            lambda d: AuthorizationQueryParametersError(f"Error parsing the X-Amz-Credential parameter; {d}"),
        )
        amz_date = params["X-Amz-Date"]
        epoch = parse_amz_date(amz_date)
        if epoch is None:
            raise AuthorizationQueryParametersError(
                "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
            )
        expires_text = params["X-Amz-Expires"]
        if not expires_text.lstrip("-").isdigit():
            raise AuthorizationQueryParametersError("X-Amz-Expires should be a number")
        expires = int(expires_text)
        if expires < 0:
            raise AuthorizationQueryParametersError("X-Amz-Expires must be non-negative")
        if expires > MAX_PRESIGN_EXPIRES:
            raise AuthorizationQueryParametersError(
                "X-Amz-Expires must be less than a week (in seconds) that is 604800"
            )
        if expires == 0:
            raise AuthorizationQueryParametersError("X-Amz-Expires must be at least 1 second")
        if amz_date[:8] != cred.date:
            raise AuthorizationQueryParametersError(
                f'Invalid credential date "{cred.date}". This date is not the same as X-Amz-Date: '
                f'"{amz_date[:8]}".'
            )
        now = self._now()
        if epoch - now > self._max_skew:
            raise AccessDenied("Request is not valid yet")
        if now > epoch + expires:
            raise AccessDenied(
                "Request has expired",
                extra={
                    "X-Amz-Expires": expires_text,
                    "Expires": format_iso(epoch + expires),
                    "ServerTime": format_iso(now),
                },
            )
        secret = self._secret(cred.access_key)
        signed_text = params["X-Amz-SignedHeaders"]
        signed = tuple(signed_text.split(";"))
        if "host" not in signed:
            raise AuthorizationQueryParametersError("X-Amz-SignedHeaders must include host.")
        payload = params.get("X-Amz-Content-Sha256", UNSIGNED_PAYLOAD)
        mode, expected = payload_mode_for(payload)
        if mode == PAYLOAD_UNSIGNED and "x-amz-content-sha256" in req.headers:
            # not covered by the signature, but it still says how the body is framed / what it should hash to
            mode, expected = payload_mode_for(req.headers["x-amz-content-sha256"])
            if mode in (PAYLOAD_STREAMING_SIGNED, PAYLOAD_STREAMING_SIGNED_TRAILER):
                raise InvalidRequest(
                    "Signed aws-chunked payloads require Authorization header authentication."
                )
        cacheable = mode == PAYLOAD_UNSIGNED
        key = signing_key(secret, cred.date, cred.region, cred.service)
        provided = params["X-Amz-Signature"]
        values = signed_header_values(req, signed)
        scope = cred.scope
        _verify(
            req,
            key=key,
            amz_date=amz_date,
            scope=scope,
            signed=signed,
            values=values,
            signed_text=signed_text,
            payload=payload,
            provided=provided,
            access_key=cred.access_key,
            exclude_query="X-Amz-Signature",
        )
        result = AuthResult(
            access_key=cred.access_key,
            payload_mode=mode,
            expected_sha256=expected,
            signing_key=key,
            scope=cred.scope,
            seed_signature=provided.lower(),
            amz_date=amz_date,
            auth_type=AUTH_V4_QUERY,
        )
        if cacheable:
            remember_verified(
                self._presigned,
                (req.method, req.raw_path, req.query_string),
                (
                    result,
                    signed,
                    values,
                    epoch - self._max_skew,
                    epoch + expires,
                    secret,
                ),
            )
        return result

    def cached_presigned(self, req: RequestView) -> AuthResult | None:
        """A presigned request that verified before, if it is still the very same request and still valid.

        A presigned URL is often used many times (a page's images, a CI artifact, an upload URL handed to a
        client that retries, a load test). Its signature covers the method, raw path, raw query and the signed
        headers' values, not the body (UNSIGNED-PAYLOAD); once that exact combination verified with a secret,
        it verifies again until it expires, as S3 accepts it again. Anything else (expired, not yet valid,
        another signed header value, a rotated secret, a payload hash header that changes how the body is read)
        goes the full way, which also produces the proper error.
        """
        entry = self._presigned.get((req.method, req.raw_path, req.query_string))
        if entry is None:
            return None
        result, names, values, not_before, expires_at, secret = entry
        now = self._now()
        if now < not_before or now > expires_at or "x-amz-content-sha256" in req.headers:
            return None
        if signed_header_values(req, names) != values:
            return None
        return result if still_valid(self._credentials, result.access_key, secret) else None


#: entries kept by each cache of verified requests (oldest evicted first; ~1.1 KiB each)
VERIFIED_CACHE_SIZE = 1024

K = TypeVar("K")
V = TypeVar("V")


def remember_verified(cache: dict[K, V], key: K, value: V) -> None:
    """Add a verified request to one of the bounded, insertion-ordered caches (the oldest entry makes room)."""
    if len(cache) >= VERIFIED_CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = value


def signed_header_values(req: RequestView, names: Sequence[str]) -> tuple[str, ...]:
    """The values of the signed headers (missing ones empty; the request's host when the Host header is absent):
    what the canonical request holds and a cached verification compares."""
    headers, host = req.headers, req.host
    return tuple([headers.get(name, host if name == "host" else "") for name in names])


def _check_amz_headers_signed(headers: Mapping[str, str], signed: tuple[str, ...]) -> None:
    """S3 rejects x-amz-* headers sent but not signed: AccessDenied with a HeadersNotSigned element."""
    # not memoised: the header names are the client's choice, checked before the signature, and a memo keyed on
    # them let any client make the server hold megabytes of names
    missing = [
        n for n in headers if n.startswith("x-amz-") and n not in signed and n != "x-amz-content-sha256"
    ]
    if missing:
        raise AccessDenied(
            "There were headers present in the request which were not signed",
            extra={"HeadersNotSigned": ", ".join(sorted(missing))},
        )
