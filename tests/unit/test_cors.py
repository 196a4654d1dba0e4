"""CORS rule matching as S3 does it: bucket rules first (first match wins), then server-wide settings."""

from __future__ import annotations

import attrs
import pytest

from smarts3.adapters.http import cors as cors_module
from smarts3.adapters.http.cors import CorsBadRequest, CorsForbidden, CorsPolicy, server_rule
from smarts3.entrypoints.settings import CorsSettings

BUCKET_XML = b"""<CORSConfiguration>
  <CORSRule>
    <ID>apps</ID>
    <AllowedOrigin>https://*.example.com</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedHeader>Content-Type</AllowedHeader>
    <AllowedHeader>x-amz-*</AllowedHeader>
    <ExposeHeader>ETag</ExposeHeader>
    <ExposeHeader>x-amz-version-id</ExposeHeader>
    <MaxAgeSeconds>600</MaxAgeSeconds>
  </CORSRule>
  <CORSRule>
    <AllowedOrigin>https://app.example.com</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>DELETE</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <MaxAgeSeconds>5</MaxAgeSeconds>
  </CORSRule>
  <CORSRule>
    <AllowedOrigin>*</AllowedOrigin>
    <AllowedMethod>HEAD</AllowedMethod>
  </CORSRule>
</CORSConfiguration>"""


@attrs.define
class FakeRequest:
    method: str
    headers: dict[str, str]
    bucket: str | None = "photos"


class FakeBuckets:
    def __init__(self, documents: dict[str, bytes] | None = None) -> None:
        self.documents = dict(documents or {})

    async def get_config(self, name: str, kind: str) -> bytes | None:
        assert kind == "cors"
        return self.documents.get(name)


def preflight_request(
    origin: str | None, method: str | None, headers: str | None = None, bucket: str | None = "photos"
) -> FakeRequest:
    h: dict[str, str] = {}
    if origin is not None:
        h["origin"] = origin
    if method is not None:
        h["access-control-request-method"] = method
    if headers is not None:
        h["access-control-request-headers"] = headers
    return FakeRequest("OPTIONS", h, bucket)


def as_dict(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in headers}


@pytest.fixture
def policy() -> CorsPolicy:
    return CorsPolicy(FakeBuckets({"photos": BUCKET_XML}))


async def test_wildcard_origin_rule_allows_a_subdomain_preflight(policy: CorsPolicy) -> None:
    response = await policy.preflight(
        preflight_request("https://cdn.example.com", "PUT", "Content-Type, X-Amz-Date")
    )
    headers = as_dict(response.headers)
    assert response.status == 200
    assert headers["access-control-allow-origin"] == "https://cdn.example.com"
    assert headers["access-control-allow-methods"] == "GET, PUT"
    assert headers["access-control-allow-headers"] == "content-type, x-amz-date"
    assert headers["access-control-expose-headers"] == "ETag, x-amz-version-id"
    assert headers["access-control-max-age"] == "600"
    assert headers["access-control-allow-credentials"] == "true"
    assert headers["vary"] == "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"


@pytest.mark.parametrize(
    "origin",
    ["https://example.com", "http://cdn.example.com", "https://cdn.example.com.evil.org", "null"],
)
async def test_origin_outside_every_rule_is_refused_with_403(policy: CorsPolicy, origin: str) -> None:
    with pytest.raises(CorsForbidden) as caught:
        await policy.preflight(preflight_request(origin, "GET"))
    assert caught.value.status == 403
    assert caught.value.code == "AccessForbidden"
    assert caught.value.message.startswith("CORSResponse: This CORS request is not allowed.")


async def test_first_matching_rule_wins(policy: CorsPolicy) -> None:
    # app.example.com matches both the wildcard rule and the exact one: the first (max age 600) answers
    response = await policy.preflight(preflight_request("https://app.example.com", "GET"))
    assert as_dict(response.headers)["access-control-max-age"] == "600"


async def test_later_rule_answers_when_the_first_lacks_the_method(policy: CorsPolicy) -> None:
    response = await policy.preflight(preflight_request("https://app.example.com", "DELETE", "X-Custom"))
    headers = as_dict(response.headers)
    assert headers["access-control-allow-methods"] == "GET, DELETE"
    assert headers["access-control-max-age"] == "5"
    assert headers["access-control-allow-headers"] == "x-custom"


async def test_requested_header_not_covered_by_any_allowed_header_is_refused(policy: CorsPolicy) -> None:
    with pytest.raises(CorsForbidden):
        await policy.preflight(preflight_request("https://cdn.example.com", "PUT", "content-type, x-custom"))


async def test_method_not_in_any_matching_rule_is_refused(policy: CorsPolicy) -> None:
    with pytest.raises(CorsForbidden):
        await policy.preflight(preflight_request("https://cdn.example.com", "POST"))


async def test_star_origin_answers_star_without_credentials(policy: CorsPolicy) -> None:
    response = await policy.preflight(preflight_request("https://anyone.org", "HEAD"))
    headers = as_dict(response.headers)
    assert headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in headers


@pytest.mark.parametrize(
    ("origin", "method", "message"),
    [
        (None, "GET", "Insufficient information. Origin request header needed."),
        ("https://cdn.example.com", None, "Invalid Access-Control-Request-Method: null"),
    ],
)
async def test_preflight_without_origin_or_requested_method_is_a_bad_request(
    policy: CorsPolicy, origin: str | None, method: str | None, message: str
) -> None:
    with pytest.raises(CorsBadRequest) as caught:
        await policy.preflight(preflight_request(origin, method))
    assert (caught.value.status, caught.value.code, caught.value.message) == (400, "BadRequest", message)


async def test_actual_request_from_allowed_origin_gets_cors_headers(policy: CorsPolicy) -> None:
    headers = as_dict(
        await policy.response_headers(FakeRequest("GET", {"origin": "https://cdn.example.com"}))
    )
    assert headers["access-control-allow-origin"] == "https://cdn.example.com"
    assert headers["access-control-expose-headers"] == "ETag, x-amz-version-id"
    assert "vary" in headers


async def test_actual_request_from_other_origin_gets_only_vary(policy: CorsPolicy) -> None:
    headers = as_dict(await policy.response_headers(FakeRequest("PUT", {"origin": "https://evil.org"})))
    assert headers == {"vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"}


async def test_bucket_without_configuration_and_server_cors_off_refuses_preflight() -> None:
    policy = CorsPolicy(FakeBuckets(), server_rule(CorsSettings(enabled=False)))
    with pytest.raises(CorsForbidden) as caught:
        await policy.preflight(preflight_request("https://cdn.example.com", "GET"))
    assert "not enabled" in caught.value.message
    assert await policy.response_headers(FakeRequest("GET", {"origin": "https://cdn.example.com"})) == []


SERVER = CorsSettings(
    enabled=True,
    allowed_origins=["https://*.corp.test", "http://localhost:3000"],
    allowed_methods=["GET", "PUT"],
    allowed_headers=["*"],
    exposed_headers=["ETag", "x-amz-request-id"],
    max_age=120,
    allow_credentials=False,
)


async def test_server_wide_settings_apply_to_buckets_without_configuration() -> None:
    policy = CorsPolicy(FakeBuckets(), server_rule(SERVER))
    response = await policy.preflight(preflight_request("https://ui.corp.test", "PUT", "authorization"))
    headers = as_dict(response.headers)
    assert headers["access-control-allow-origin"] == "https://ui.corp.test"
    assert headers["access-control-expose-headers"] == "ETag, x-amz-request-id"
    assert headers["access-control-max-age"] == "120"
    assert "access-control-allow-credentials" not in headers
    with pytest.raises(CorsForbidden):
        await policy.preflight(preflight_request("https://ui.corp.test", "DELETE"))


async def test_bucket_rules_take_precedence_over_server_settings() -> None:
    policy = CorsPolicy(FakeBuckets({"photos": BUCKET_XML}), server_rule(SERVER))
    # allowed server-wide, but the bucket's own rules do not allow this origin
    with pytest.raises(CorsForbidden):
        await policy.preflight(preflight_request("https://ui.corp.test", "GET"))
    other = await policy.preflight(preflight_request("https://ui.corp.test", "GET", bucket="logs"))
    assert other.status == 200


async def test_requests_without_a_bucket_use_server_settings() -> None:
    policy = CorsPolicy(FakeBuckets({"photos": BUCKET_XML}), server_rule(SERVER))
    headers = as_dict(
        await policy.response_headers(FakeRequest("GET", {"origin": "http://localhost:3000"}, bucket=None))
    )
    assert headers["access-control-allow-origin"] == "http://localhost:3000"


async def test_server_settings_with_star_and_credentials_echo_the_origin() -> None:
    settings = CorsSettings(enabled=True, allowed_origins=["*"], allow_credentials=True)
    policy = CorsPolicy(FakeBuckets(), server_rule(settings))
    headers = as_dict(await policy.response_headers(FakeRequest("GET", {"origin": "https://x.test"})))
    assert headers["access-control-allow-origin"] == "https://x.test"
    assert headers["access-control-allow-credentials"] == "true"
    star = CorsPolicy(FakeBuckets(), server_rule(CorsSettings(enabled=True)))
    headers = as_dict(await star.response_headers(FakeRequest("GET", {"origin": "https://x.test"})))
    assert headers["access-control-allow-origin"] == "*"


async def test_rules_are_parsed_once_per_stored_document(
    policy: CorsPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    real = cors_module.s3xml.parse_cors

    def counting(document: bytes) -> object:
        nonlocal calls
        calls += 1
        return real(document)

    monkeypatch.setattr(cors_module.s3xml, "parse_cors", counting)
    buckets = FakeBuckets({"photos": BUCKET_XML})
    policy = CorsPolicy(buckets)
    for _ in range(5):
        await policy.preflight(preflight_request("https://cdn.example.com", "GET"))
    assert calls == 1
    # a new PutBucketCors document replaces the cached rules
    buckets.documents["photos"] = BUCKET_XML.replace(b"https://*.example.com", b"https://*.other.test")
    with pytest.raises(CorsForbidden):
        await policy.preflight(preflight_request("https://cdn.example.com", "PUT"))
    assert calls == 2
