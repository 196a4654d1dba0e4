"""SigV2 header and query-string authentication, checked against botocore's HmacV1Auth/HmacV1QueryAuth."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from smarts3.adapters.auth import Authenticator, RequestView
from smarts3.adapters.auth.sigv2 import canonical_resource, sign
from smarts3.domain.errors import (
    AccessDenied,
    InvalidAccessKeyId,
    InvalidArgument,
    RequestTimeTooSkewed,
    SignatureDoesNotMatch,
)

AK, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CREDS = Credentials(AK, SECRET)
KEYS = ["plain", "a b", "a+b", "ü/ß", "x~y=z&w", "100%", "a//b", "emoji😀"]


def _url(key: str, query: str = "") -> str:
    url = f"http://127.0.0.1:9000/bucket/{quote(key, safe='/~')}"
    return f"{url}?{query}" if query else url


def view(request: AWSRequest, **overrides: object) -> RequestView:
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    headers.setdefault("host", parts.netloc)
    fields: dict[str, object] = {
        "method": prepared.method,
        "raw_path": parts.path,
        "query_string": parts.query,
        "headers": headers,
        "host": parts.netloc,
    }
    fields.update(overrides)
    return RequestView(**fields)  # type: ignore[arg-type]


def clock_at(delta: timedelta) -> Callable[[], datetime]:
    return lambda: datetime.now(UTC) + delta


@pytest.fixture
def auth() -> Authenticator:
    return Authenticator({AK: SECRET})


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("query", ["", "acl", "versionId=3%2B4", "uploadId=abc&partNumber=2", "prefix=x"])
def test_header_signed_request_is_accepted(auth: Authenticator, key: str, query: str) -> None:
    req = AWSRequest(
        "PUT", _url(key, query), data=b"x", headers={"Content-Type": "text/plain", "x-amz-meta-a": " b "}
    )
    HmacV1Auth(CREDS).add_auth(req)
    result = auth.authenticate(view(req))
    assert result.access_key == AK and result.auth_type == "v2-header" and result.payload_mode == "none"


@pytest.mark.parametrize("key", KEYS)
def test_query_signed_url_is_accepted(auth: Authenticator, key: str) -> None:
    req = AWSRequest("GET", _url(key, "response-content-type=text%2Fplain"))
    HmacV1QueryAuth(CREDS, expires=60).add_auth(req)
    result = auth.authenticate(view(req))
    assert result.access_key == AK and result.auth_type == "v2-query"


def test_virtual_hosted_request_signs_the_bucket_into_the_resource(auth: Authenticator) -> None:
    req = AWSRequest("GET", "http://bucket.s3.local:9000/key")
    req.auth_path = "/bucket/key"
    HmacV1Auth(CREDS).add_auth(req)
    assert auth.authenticate(view(req, bucket_from_host="bucket")).access_key == AK
    with pytest.raises(SignatureDoesNotMatch):
        auth.authenticate(view(req))


def test_s3cmd_style_signature_with_unencoded_plus_is_accepted(auth: Authenticator) -> None:
    expires = str(int(time.time()) + 60)
    sig = sign(SECRET, f"GET\n\n\n{expires}\n/bucket/k")
    raw = f"AWSAccessKeyId={AK}&Expires={expires}&Signature={sig}"  # '+' and '/' left as is
    v = RequestView("GET", "/bucket/k", raw, {"host": "h"}, "h")
    assert auth.authenticate(v).access_key == AK


def test_x_amz_date_replaces_the_date_line(auth: Authenticator) -> None:
    now = formatdate(usegmt=True)
    sig = sign(SECRET, f"GET\n\n\n\nx-amz-date:{now}\n/bucket/k")
    headers = {"host": "h", "x-amz-date": now, "authorization": f"AWS {AK}:{sig}"}
    assert auth.authenticate(RequestView("GET", "/bucket/k", "", headers, "h")).access_key == AK


def test_wrong_secret_reports_the_string_to_sign(auth: Authenticator) -> None:
    req = AWSRequest("GET", _url("k", "acl"))
    HmacV1Auth(Credentials(AK, "wrong")).add_auth(req)
    with pytest.raises(SignatureDoesNotMatch) as info:
        auth.authenticate(view(req))
    sts = info.value.extra["StringToSign"]
    assert sts.startswith("GET\n\n\n") and sts.endswith("/bucket/k?acl")
    assert info.value.extra["StringToSignBytes"].startswith("47 45 54")


def test_tampered_request_is_rejected(auth: Authenticator) -> None:
    req = AWSRequest("PUT", _url("k"), data=b"x", headers={"x-amz-meta-a": "b"})
    HmacV1Auth(CREDS).add_auth(req)
    v = view(req)
    for tampered in (
        view(req, raw_path="/bucket/other"),
        view(req, method="DELETE"),
        view(req, headers={**v.headers, "x-amz-meta-a": "c"}),
        view(req, query_string="acl"),
    ):
        with pytest.raises(SignatureDoesNotMatch):
            auth.authenticate(tampered)


def test_expired_query_signature_is_access_denied() -> None:
    req = AWSRequest("GET", _url("k"))
    HmacV1QueryAuth(CREDS, expires=60).add_auth(req)
    with pytest.raises(AccessDenied, match="Request has expired"):
        Authenticator({AK: SECRET}, clock=clock_at(timedelta(seconds=61))).authenticate(view(req))


def test_skewed_header_date_is_rejected() -> None:
    req = AWSRequest("GET", _url("k"))
    HmacV1Auth(CREDS).add_auth(req)
    with pytest.raises(RequestTimeTooSkewed):
        Authenticator({AK: SECRET}, clock=clock_at(timedelta(minutes=20))).authenticate(view(req))


def test_unknown_key_and_malformed_header(auth: Authenticator) -> None:
    req = AWSRequest("GET", _url("k"))
    HmacV1Auth(Credentials("NOBODY", "x")).add_auth(req)
    with pytest.raises(InvalidAccessKeyId):
        auth.authenticate(view(req))
    v = view(req)
    with pytest.raises(InvalidArgument, match="Expected AwsAccessKeyId:signature"):
        auth.authenticate(view(req, headers={**v.headers, "authorization": "AWS nocolon"}))


def test_missing_date_is_access_denied(auth: Authenticator) -> None:
    headers = {"host": "h", "authorization": f"AWS {AK}:abc="}
    with pytest.raises(AccessDenied, match="Date"):
        auth.authenticate(RequestView("GET", "/bucket/k", "", headers, "h"))


def test_canonical_resource_keeps_only_sub_resources_sorted() -> None:
    q = "versionId=a%20b&prefix=p&acl&uploads="
    assert canonical_resource("/b/k", q, None) == "/b/k?acl&uploads&versionId=a b"
    assert canonical_resource("/k", "", "b") == "/b/k"
    assert canonical_resource("", "", None) == "/"


class _Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def test_repeated_presigned_get_is_accepted_from_cache_until_it_expires() -> None:
    clock = _Clock()
    auth = Authenticator({AK: SECRET}, clock=clock)
    req = AWSRequest("GET", _url("photo.jpg"))
    HmacV1QueryAuth(CREDS, expires=60).add_auth(req)
    first = auth.authenticate(view(req))
    assert len(auth._v2._presigned) == 1
    assert auth._v2.cached_presigned(view(req)) == first  # the second fetch skips the HMAC
    assert auth.authenticate(view(req)) == first
    clock.offset = timedelta(seconds=61)
    assert auth._v2.cached_presigned(view(req)) is None
    with pytest.raises(AccessDenied, match="Request has expired"):
        auth.authenticate(view(req))


def test_cached_presigned_result_covers_only_what_was_signed() -> None:
    auth = Authenticator({AK: SECRET})
    req = AWSRequest("GET", _url("photo.jpg"))
    HmacV1QueryAuth(CREDS, expires=60).add_auth(req)
    good = view(req)
    auth.authenticate(good)
    for tampered in (
        view(req, headers={**good.headers, "x-amz-meta-x": "1"}),  # x-amz-* headers are signed
        view(req, headers={**good.headers, "content-type": "text/html"}),
        view(req, bucket_from_host="other"),  # the virtual-host bucket is part of the resource
        view(req, method="DELETE"),
    ):
        assert auth._v2.cached_presigned(tampered) is None
        with pytest.raises(SignatureDoesNotMatch):
            auth.authenticate(tampered)
    assert auth.authenticate(good).access_key == AK


def test_a_presigned_put_url_used_again_is_accepted_from_cache() -> None:
    auth = Authenticator({AK: SECRET})
    req = AWSRequest("PUT", _url("upload.bin"), headers={"Content-Type": "text/plain"})
    HmacV1QueryAuth(CREDS, expires=60).add_auth(req)
    first = auth.authenticate(view(req))
    assert auth._v2.cached_presigned(view(req)) == first
    changed = view(req, headers={**view(req).headers, "content-type": "text/html"})  # signed in SigV2
    assert auth._v2.cached_presigned(changed) is None
    with pytest.raises(SignatureDoesNotMatch):
        auth.authenticate(changed)
