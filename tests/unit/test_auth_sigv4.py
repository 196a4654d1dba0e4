"""SigV4 header and presigned-URL authentication, checked against requests signed by botocore itself."""

from __future__ import annotations

import gc
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smarts3.adapters.auth import Authenticator, RequestView
from smarts3.adapters.auth.sigv4 import (
    canonical_query,
    canonical_uri,
    parse_authorization,
    signing_key,
    trim_header_value,
)
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

AK, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CREDS = Credentials(AK, SECRET)
ENDPOINT = "http://127.0.0.1:9000"

KEYS = [
    "plain.txt",
    "a b",
    "a+b",
    "ü/ß/日本語",
    "x~y=z&w",
    "100%",
    "100%25",
    "a//b",
    "/leading-slash",
    "tab\tq",
    "semi;colon,comma:",
    "quote'\"!",
    "star*paren()",
    "emoji😀",
    "dots/../x/./y",
    "hash#question?",
]


def _url(key: str, query: str = "") -> str:
    # boto3 encodes every character of a key except the unreserved ones and "/"
    url = f"{ENDPOINT}/bucket/{quote(key, safe='/~')}"
    return f"{url}?{query}" if query else url


def view(request: AWSRequest, **overrides: object) -> RequestView:
    """The RequestView the HTTP layer would build from what botocore puts on the wire."""
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = {
        k.lower(): (v.decode("latin-1") if isinstance(v, bytes) else v) for k, v in prepared.headers.items()
    }
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


def sign_header(
    method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None, region: str = "us-east-1"
) -> AWSRequest:
    req = AWSRequest(method, url, data=body, headers=headers or {})
    S3SigV4Auth(CREDS, "s3", region).add_auth(req)
    return req


def presign(method: str, url: str, expires: int = 300, headers: dict[str, str] | None = None) -> AWSRequest:
    req = AWSRequest(method, url, headers=headers or {})
    S3SigV4QueryAuth(CREDS, "s3", "us-east-1", expires=expires).add_auth(req)
    return req


def clock_at(delta: timedelta) -> Callable[[], datetime]:
    return lambda: datetime.now(UTC) + delta


@pytest.fixture
def auth() -> Authenticator:
    return Authenticator({AK: SECRET, "other": "other-secret"})


# --- accepted -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", KEYS)
def test_header_signed_put_with_awkward_key_is_accepted(auth: Authenticator, key: str) -> None:
    req = sign_header("PUT", _url(key), b"hello", {"x-amz-meta-colour": "  blue   green "})
    result = auth.authenticate(view(req))
    assert result.access_key == AK
    assert result.payload_mode == "sha256"
    assert result.expected_sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert result.auth_type == "v4-header"


@pytest.mark.parametrize("key", KEYS)
def test_presigned_get_with_awkward_key_and_query_is_accepted(auth: Authenticator, key: str) -> None:
    query = "response-content-disposition=" + quote('attachment; filename="é b+c.txt"', safe="")
    req = presign("GET", _url(key, query))
    result = auth.authenticate(view(req))
    assert result.access_key == AK
    assert result.payload_mode == "unsigned"
    assert result.auth_type == "v4-query"


def test_list_query_with_reserved_characters_is_accepted(auth: Authenticator) -> None:
    query = "list-type=2&prefix=a%20b%2Bc%2F%C3%A9&delimiter=%2F&encoding-type=url&max-keys=5"
    assert auth.authenticate(view(sign_header("GET", f"{ENDPOINT}/bucket?{query}"))).access_key == AK


def test_valueless_query_parameter_is_accepted(auth: Authenticator) -> None:
    assert auth.authenticate(view(sign_header("GET", f"{ENDPOINT}/bucket?acl"))).access_key == AK
    assert auth.authenticate(view(sign_header("POST", f"{ENDPOINT}/bucket/k?uploads"))).access_key == AK


@given(key=st.text(min_size=1, max_size=40).filter(lambda k: "\x00" not in k))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_key_botocore_signs_is_accepted(key: str) -> None:
    a = Authenticator({AK: SECRET})
    assert a.authenticate(view(sign_header("GET", _url(key)))).access_key == AK
    assert a.authenticate(view(presign("GET", _url(key)))).access_key == AK


def test_any_region_in_the_scope_is_accepted(auth: Authenticator) -> None:
    for region in ("eu-central-1", "auto", "us-east-1", "minio"):
        assert auth.authenticate(view(sign_header("GET", _url("k"), region=region))).access_key == AK


def test_unsigned_payload_and_streaming_modes_are_reported(auth: Authenticator) -> None:
    for value, mode in [
        ("UNSIGNED-PAYLOAD", "unsigned"),
        ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "streaming-signed"),
        ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", "streaming-unsigned-trailer"),
        ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "streaming-signed-trailer"),
    ]:
        req = AWSRequest("PUT", _url("k"), headers={"X-Amz-Content-SHA256": value})
        # the generic signer signs x-amz-content-sha256 as given (S3SigV4Auth would replace it)
        SigV4Auth(CREDS, "s3", "us-east-1").add_auth(req)
        result = auth.authenticate(view(req))
        assert result.payload_mode == mode
        assert result.seed_signature and result.signing_key and result.scope and result.amz_date


def test_request_signed_with_date_header_instead_of_x_amz_date_is_accepted(auth: Authenticator) -> None:
    req = sign_header("GET", _url("k"), headers={"Date": "Mon, 01 Jan 2024 00:00:00 GMT"})
    v = view(req)
    assert "x-amz-date" not in v.headers and "date" in v.headers
    assert auth.authenticate(v).access_key == AK


def test_path_sent_unencoded_but_signed_encoded_is_accepted(auth: Authenticator) -> None:
    """Clients sign the RFC 3986 form of the path; some send reserved characters or UTF-8 raw."""
    req = sign_header("GET", _url("a=b&c é"))
    wire_path = "/bucket/a=b&c%20" + "é".encode().decode("latin-1")  # raw UTF-8 bytes as ASGI gives them
    assert auth.authenticate(view(req, raw_path=wire_path)).access_key == AK
    lower_hex = view(req).raw_path.replace("%C3%A9", "%c3%a9")
    assert auth.authenticate(view(req, raw_path=lower_hex)).access_key == AK


def test_path_signed_exactly_as_sent_is_accepted_even_when_not_canonical(auth: Authenticator) -> None:
    """A client that signs its raw path (e.g. an unencoded '=') is accepted: the bytes signed are the bytes sent."""
    req = AWSRequest("GET", f"{ENDPOINT}/bucket/a=b,c")
    S3SigV4Auth(CREDS, "s3", "us-east-1").add_auth(req)
    assert view(req).raw_path == "/bucket/a=b,c"
    assert auth.authenticate(view(req)).access_key == AK


def test_raw_plus_in_query_signed_as_space_is_accepted(auth: Authenticator) -> None:
    req = sign_header("GET", f"{ENDPOINT}/bucket?prefix=a%20b")
    assert auth.authenticate(view(req, query_string="prefix=a+b")).access_key == AK


def test_header_whitespace_is_trimmed_and_collapsed(auth: Authenticator) -> None:
    req = sign_header("PUT", _url("k"), b"", {"x-amz-meta-a": "one   two\t three"})
    v = view(req)
    assert auth.authenticate(v).access_key == AK
    v.headers["x-amz-meta-a"] = "  one two three  "  # type: ignore[index]
    assert auth.authenticate(v).access_key == AK


def test_latin1_header_value_is_accepted(auth: Authenticator) -> None:
    req = sign_header("PUT", _url("k"), b"", {"x-amz-meta-name": "café"})
    assert auth.authenticate(view(req)).access_key == AK


# --- rejected -------------------------------------------------------------------------------------------
def test_wrong_secret_is_signature_does_not_match_with_s3_diagnostics(auth: Authenticator) -> None:
    req = AWSRequest("PUT", _url("a b/ü"), data=b"x", headers={"x-amz-meta-k": "v"})
    signer = S3SigV4Auth(Credentials(AK, "not-the-secret"), "s3", "us-east-1")
    signer.add_auth(req)
    with pytest.raises(SignatureDoesNotMatch) as info:
        auth.authenticate(view(req))
    extra = info.value.extra
    authorization = req.headers["Authorization"]
    del req.headers["Authorization"]
    expected_cr = signer.canonical_request(req)
    expected_sts = signer.string_to_sign(req, expected_cr)
    req.headers["Authorization"] = authorization
    assert extra["CanonicalRequest"] == expected_cr
    assert extra["StringToSign"] == expected_sts
    assert extra["StringToSignBytes"] == " ".join(f"{b:02x}" for b in expected_sts.encode())
    assert extra["CanonicalRequestBytes"].split(" ")[:3] == ["50", "55", "54"]  # "PUT"
    assert extra["AWSAccessKeyId"] == AK
    assert extra["SignatureProvided"] in req.headers["Authorization"]
    assert info.value.status == 403


@pytest.mark.parametrize(
    "tamper",
    [
        lambda v: {"method": "DELETE"},
        lambda v: {"raw_path": v.raw_path + "x"},
        lambda v: {"query_string": "acl"},
        lambda v: {"headers": {**v.headers, "x-amz-meta-colour": "red"}},
        lambda v: {"headers": {**v.headers, "x-amz-content-sha256": "0" * 64}},
        lambda v: {"headers": {**v.headers, "host": "evil.example"}},
    ],
    ids=["method", "path", "query", "signed-header", "payload-hash", "host"],
)
def test_tampered_header_signed_request_is_rejected(
    auth: Authenticator, tamper: Callable[..., dict[str, object]]
) -> None:
    req = sign_header("PUT", _url("k"), b"body", {"x-amz-meta-colour": "blue"})
    v = view(req)
    with pytest.raises(SignatureDoesNotMatch):
        auth.authenticate(view(req, **tamper(v)))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda q: q.replace("X-Amz-Expires=300", "X-Amz-Expires=600"),
        lambda q: q + "&versionId=1",
        lambda q: q.replace("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=host%3Brange"),
    ],
    ids=["expires", "added-param", "signed-headers"],
)
def test_tampered_presigned_url_is_rejected(
    auth: Authenticator, tamper: Callable[..., dict[str, object]]
) -> None:
    v = view(presign("GET", _url("k")))
    with pytest.raises(SignatureDoesNotMatch):
        auth.authenticate(view(presign("GET", _url("k")), query_string=tamper(v.query_string)))


def test_presigned_url_used_for_another_key_is_rejected(auth: Authenticator) -> None:
    with pytest.raises(SignatureDoesNotMatch):
        auth.authenticate(view(presign("GET", _url("k")), raw_path="/bucket/other"))


def test_expired_presigned_url_is_access_denied() -> None:
    late = Authenticator({AK: SECRET}, clock=clock_at(timedelta(seconds=301)))
    with pytest.raises(AccessDenied, match="Request has expired") as info:
        late.authenticate(view(presign("GET", _url("k"), expires=300)))
    assert info.value.extra["X-Amz-Expires"] == "300"
    assert {"Expires", "ServerTime"} <= set(info.value.extra)


def test_presigned_url_from_the_future_is_not_yet_valid() -> None:
    early = Authenticator({AK: SECRET}, clock=clock_at(timedelta(hours=-1)))
    with pytest.raises(AccessDenied, match="not valid yet"):
        early.authenticate(view(presign("GET", _url("k"))))


@pytest.mark.parametrize("expires", ["0", "604801", "abc", "-5"])
def test_presigned_expires_out_of_range_is_rejected(auth: Authenticator, expires: str) -> None:
    v = view(presign("GET", _url("k")))
    with pytest.raises(AuthorizationQueryParametersError):
        auth.authenticate(
            view(
                presign("GET", _url("k")),
                query_string=v.query_string.replace("X-Amz-Expires=300", f"X-Amz-Expires={expires}"),
            )
        )


def test_presigned_week_long_expiry_is_accepted(auth: Authenticator) -> None:
    assert auth.authenticate(view(presign("GET", _url("k"), expires=604800))).access_key == AK


@pytest.mark.parametrize("drop", ["X-Amz-Date", "X-Amz-Credential", "X-Amz-SignedHeaders", "X-Amz-Expires"])
def test_presigned_url_missing_a_parameter_is_rejected(auth: Authenticator, drop: str) -> None:
    v = view(presign("GET", _url("k")))
    query = "&".join(p for p in v.query_string.split("&") if not p.startswith(drop + "="))
    with pytest.raises(AuthorizationQueryParametersError):
        auth.authenticate(view(presign("GET", _url("k")), query_string=query))


def test_presigned_with_wrong_algorithm_is_rejected(auth: Authenticator) -> None:
    v = view(presign("GET", _url("k")))
    q = v.query_string.replace("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1")
    with pytest.raises(AuthorizationQueryParametersError, match="only supports"):
        auth.authenticate(view(presign("GET", _url("k")), query_string=q))


@pytest.mark.parametrize("minutes", [16, -16])
def test_clock_skew_beyond_fifteen_minutes_is_rejected(minutes: int) -> None:
    skewed = Authenticator({AK: SECRET}, clock=clock_at(timedelta(minutes=minutes)))
    with pytest.raises(RequestTimeTooSkewed) as info:
        skewed.authenticate(view(sign_header("GET", _url("k"))))
    assert info.value.extra["MaxAllowedSkewMilliseconds"] == "900000"


def test_clock_skew_within_limit_is_accepted() -> None:
    a = Authenticator({AK: SECRET}, clock=clock_at(timedelta(minutes=14)))
    assert a.authenticate(view(sign_header("GET", _url("k")))).access_key == AK


def test_unknown_access_key_is_invalid_access_key_id(auth: Authenticator) -> None:
    req = AWSRequest("GET", _url("k"))
    S3SigV4Auth(Credentials("NOBODY", SECRET), "s3", "us-east-1").add_auth(req)
    with pytest.raises(InvalidAccessKeyId) as info:
        auth.authenticate(view(req))
    assert info.value.extra["AWSAccessKeyId"] == "NOBODY"
    req = AWSRequest("GET", _url("k"))
    S3SigV4QueryAuth(Credentials("NOBODY", SECRET), "s3", "us-east-1").add_auth(req)
    with pytest.raises(InvalidAccessKeyId):
        auth.authenticate(view(req))


def test_credential_for_another_service_is_malformed(auth: Authenticator) -> None:
    req = AWSRequest("GET", _url("k"), headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    S3SigV4Auth(CREDS, "iam", "us-east-1").add_auth(req)
    with pytest.raises(AuthorizationHeaderMalformed, match='incorrect service "iam"'):
        auth.authenticate(view(req))


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/s3/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=ab",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2024010/us-east-1/s3/aws4_request, SignedHeaders=host, "
        "Signature=ab",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/s3/aws5_request, SignedHeaders=host, "
        "Signature=ab",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/s3/aws4_request, SignedHeaders=, "
        "Signature=ab",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/s3/aws4_request, SignedHeaders=Host, "
        "Signature=ab",
        "AWS4-HMAC-SHA256 garbage",
    ],
)
def test_malformed_authorization_header_is_rejected(auth: Authenticator, authorization: str) -> None:
    req = sign_header("GET", _url("k"))
    v = view(req)
    with pytest.raises(AuthorizationHeaderMalformed):
        auth.authenticate(view(req, headers={**v.headers, "authorization": authorization}))


def test_credential_date_must_match_request_date(auth: Authenticator) -> None:
    v = view(sign_header("GET", _url("k")))
    bad = v.headers["authorization"].replace(f"/{v.headers['x-amz-date'][:8]}/", "/20000101/")
    with pytest.raises(AuthorizationHeaderMalformed, match="credential date"):
        auth.authenticate(view(sign_header("GET", _url("k")), headers={**v.headers, "authorization": bad}))


def test_host_must_be_signed(auth: Authenticator) -> None:
    v = view(sign_header("GET", _url("k")))
    bad = v.headers["authorization"].replace("SignedHeaders=host;", "SignedHeaders=")
    with pytest.raises(AuthorizationHeaderMalformed, match="host"):
        auth.authenticate(view(sign_header("GET", _url("k")), headers={**v.headers, "authorization": bad}))


def test_unknown_authorization_scheme_is_invalid_argument(auth: Authenticator) -> None:
    v = view(sign_header("GET", _url("k")))
    with pytest.raises(InvalidArgument, match="Unsupported Authorization Type"):
        auth.authenticate(
            view(sign_header("GET", _url("k")), headers={**v.headers, "authorization": "Bearer x"})
        )


def test_sigv4a_is_refused_clearly(auth: Authenticator) -> None:
    v = view(sign_header("GET", _url("k")))
    headers = {**v.headers, "authorization": "AWS4-ECDSA-P256-SHA256 Credential=x"}
    with pytest.raises(InvalidRequest, match="SigV4a"):
        auth.authenticate(view(sign_header("GET", _url("k")), headers=headers))


def test_missing_content_sha256_header_is_invalid_request(auth: Authenticator) -> None:
    req = AWSRequest("GET", _url("k"))
    SigV4Auth(CREDS, "s3", "us-east-1").add_auth(req)
    with pytest.raises(InvalidRequest, match="x-amz-content-sha256"):
        auth.authenticate(view(req))


def test_invalid_content_sha256_value_is_invalid_argument(auth: Authenticator) -> None:
    v = view(sign_header("GET", _url("k")))
    with pytest.raises(InvalidArgument, match="x-amz-content-sha256 must be"):
        auth.authenticate(
            view(sign_header("GET", _url("k")), headers={**v.headers, "x-amz-content-sha256": "nope"})
        )


def test_unsigned_amz_header_is_access_denied(auth: Authenticator) -> None:
    v = view(sign_header("PUT", _url("k"), b"x"))
    with pytest.raises(AccessDenied, match="not signed") as info:
        auth.authenticate(
            view(sign_header("PUT", _url("k"), b"x"), headers={**v.headers, "x-amz-acl": "public-read"})
        )
    assert info.value.extra["HeadersNotSigned"] == "x-amz-acl"
    lenient = Authenticator({AK: SECRET}, require_signed_amz_headers=False)
    req = sign_header("PUT", _url("k"), b"x")
    assert lenient.authenticate(
        view(req, headers={**view(req).headers, "x-amz-acl": "public-read"})
    ).access_key


def test_header_and_query_auth_together_is_invalid_argument(auth: Authenticator) -> None:
    v = view(sign_header("GET", _url("k")))
    q = view(presign("GET", _url("k"))).query_string
    with pytest.raises(InvalidArgument, match="Only one auth mechanism"):
        auth.authenticate(view(sign_header("GET", _url("k")), query_string=q, headers=v.headers))


# --- anonymous and disabled ------------------------------------------------------------------------------
def test_anonymous_request_is_not_an_error(auth: Authenticator) -> None:
    v = RequestView("GET", "/bucket/k", "prefix=a", {"host": "h"}, "h")
    assert auth.is_anonymous(v)
    result = auth.authenticate(v)
    assert result.access_key is None and result.payload_mode == "none" and result.auth_type == "anonymous"


def test_signed_requests_are_not_anonymous(auth: Authenticator) -> None:
    assert not auth.is_anonymous(view(sign_header("GET", _url("k"))))
    assert not auth.is_anonymous(view(presign("GET", _url("k"))))


def test_disabled_authenticator_accepts_anything_but_still_reports_payload_mode() -> None:
    off = Authenticator({}, enabled=False)
    req = AWSRequest("PUT", _url("k"), data=b"x")
    S3SigV4Auth(Credentials("who", "ever"), "s3", "us-east-1").add_auth(req)
    result = off.authenticate(view(req))
    assert result.access_key is None and result.auth_type == "disabled"
    assert result.payload_mode == "sha256" and result.expected_sha256


# --- building blocks against botocore -------------------------------------------------------------------
@given(st.text(max_size=30))
def test_canonical_uri_of_a_boto3_path_is_the_path_itself(key: str) -> None:
    path = "/bucket/" + quote(key, safe="/~")
    assert canonical_uri(path) == path


@given(st.lists(st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=8)), max_size=5))
def test_canonical_query_matches_botocore(params: list[tuple[str, str]]) -> None:
    signer = SigV4Auth(CREDS, "s3", "us-east-1")
    wire = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)
    assert canonical_query(wire) == signer._canonical_query_string_params(params)


def test_signing_key_matches_aws_documentation_example() -> None:
    """IAM guide, "Examples of how to derive a signing key for Signature Version 4"."""
    key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


def test_every_error_is_an_s3_error() -> None:
    assert all(
        issubclass(cls, S3Error)
        for cls in (AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId, RequestTimeTooSkewed)
    )


def test_authorization_heads_are_parsed_once_but_every_signature_is_its_own() -> None:
    head = (
        "AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, "
    )
    first, second = (
        parse_authorization(head + "Signature=aa11"),
        parse_authorization(head + "Signature=bb22 "),
    )
    assert (first.signature, second.signature) == ("aa11", "bb22")
    assert first.credential == second.credential and first.signed_headers == ("host", "x-amz-date")
    # components in another order, or spaces missing, parse the same
    reordered = parse_authorization(
        "AWS4-HMAC-SHA256 Signature=cc33,Credential=AK/20250101/us-east-1/s3/aws4_request,SignedHeaders=host"
    )
    assert (reordered.signature, reordered.signed_headers) == ("cc33", ("host",))
    bad = "AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature="
    for signature in ("dd44", "dd44"):  # a malformed head fails every time, not only the first
        with pytest.raises(AuthorizationHeaderMalformed, match='incorrect service "iam"'):
            parse_authorization(bad + signature)
    with pytest.raises(AuthorizationHeaderMalformed, match="three components"):
        parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/s3/aws4_request, Signature=ee55"
        )


def _trim_reference(value: str) -> str:
    """Trimall written the slow, obvious way: every run of whitespace becomes one space, ends stripped."""
    return re.sub(r"[ \t\r\n\f\v]+", " ", value).strip(" ")


@given(st.text(alphabet=st.sampled_from(" \t\r\n\f\va\x7f\xa0ü日-"), max_size=12))
def test_trim_header_value_agrees_with_the_plain_reading(value: str) -> None:
    assert trim_header_value(value) == _trim_reference(value)


@pytest.mark.parametrize(
    "value",
    ["two  spaces", "tab\there", " leading", "trailing ", "  many   runs  ", "non-ascii  ü", "del\x7fchar"],
)
def test_signed_header_values_with_whitespace_verify(auth: Authenticator, value: str) -> None:
    # botocore canonicalises by collapsing whitespace runs, as S3 does: the signature must verify
    req = sign_header("GET", _url("k"), headers={"x-amz-meta-note": value})
    assert (
        auth.authenticate(view(req, headers={**view(req).headers, "x-amz-meta-note": value})).access_key == AK
    )


def test_auth_result_repr_never_shows_the_signing_key(auth: Authenticator) -> None:
    result = auth.authenticate(view(sign_header("GET", _url("k"))))
    assert result.signing_key is not None
    assert result.signing_key.hex() not in repr(result) and repr(result.signing_key) not in repr(result)
    assert "access_key='AKIDEXAMPLE'" in repr(result)
    shown = dict(result.__rich_repr__())  # what rich prints (its pretty printer and tracebacks with locals)
    assert "signing_key" not in shown and shown["access_key"] == "AKIDEXAMPLE"


def test_header_names_a_client_chooses_do_not_fill_any_cache(auth: Authenticator) -> None:
    # checked before the signature: a memo keyed on the names let a client without the secret make the server
    # hold megabytes (found by review)
    import smarts3.adapters.auth.sigv4 as sigv4_module

    caches = {
        name: fn for name, fn in vars(sigv4_module).items() if callable(fn) and hasattr(fn, "cache_info")
    }
    before = {name: fn.cache_info().currsize for name, fn in caches.items()}
    for i in range(40):
        req = sign_header("DELETE", _url("k"))
        junk = {f"x-amz-meta-junk-{i}-{j}-{'n' * 40}": "v" for j in range(30)}
        with pytest.raises(AccessDenied):
            auth.authenticate(view(req, headers={**view(req).headers, **junk}))
    grown = {name: fn.cache_info().currsize - before[name] for name, fn in caches.items()}
    assert all(growth <= 1 for growth in grown.values()), grown


def test_remembered_verifications_are_not_tracked_by_the_garbage_collector(auth: Authenticator) -> None:
    # every fresh signature adds an entry; entries the collector tracks made each full collection longer
    result = auth.authenticate(view(sign_header("GET", _url("k"))))
    assert not gc.is_tracked(result)
    gc.collect()  # the collector untracks a tuple once all it holds is untracked: inner tuples first,
    gc.collect()  # then, on the next pass, the entry that holds them
    entries = list(auth._v4._header_signed.values())
    assert entries and not any(gc.is_tracked(entry) for entry in entries)
