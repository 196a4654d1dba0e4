"""CORS through the running server: PutBucketCors rules answer unauthenticated preflights and decorate
responses (errors included); server-wide settings cover ListBuckets and buckets without rules."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import msgspec
import pytest

from smarts3.entrypoints.settings import CorsSettings
from smarts3.testing import running_server
from smarts3.testing.server import RunningServer, server_settings

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    settings = server_settings()
    settings = msgspec.structs.replace(
        settings,
        cors=CorsSettings(
            enabled=True,
            allowed_origins=["http://localhost:*"],
            allowed_methods=["GET", "HEAD"],
            exposed_headers=["ETag", "x-amz-request-id"],
            max_age=30,
        ),
    )
    with running_server(settings) as s3:
        client = s3.client()
        client.create_bucket(Bucket="site")
        client.create_bucket(Bucket="plain")
        client.put_bucket_cors(
            Bucket="site",
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedOrigins": ["https://*.example.com"],
                        "AllowedMethods": ["GET", "PUT"],
                        "AllowedHeaders": ["content-type", "x-amz-*"],
                        "ExposeHeaders": ["ETag", "x-amz-version-id"],
                        "MaxAgeSeconds": 600,
                    }
                ]
            },
        )
        client.put_object(Bucket="site", Key="index.html", Body=b"<h1>hi</h1>")
        yield s3


def test_preflight_allowed_by_bucket_rule_needs_no_signature(server: RunningServer) -> None:
    response = httpx.options(
        f"{server.endpoint_url}/site/index.html",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type,x-amz-date,x-amz-content-sha256",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"
    assert response.headers["access-control-allow-methods"] == "GET, PUT"
    assert (
        response.headers["access-control-allow-headers"] == "content-type, x-amz-date, x-amz-content-sha256"
    )
    assert response.headers["access-control-max-age"] == "600"
    assert response.headers["vary"] == VARY


def test_preflight_from_disallowed_origin_is_403_access_forbidden(server: RunningServer) -> None:
    response = httpx.options(
        f"{server.endpoint_url}/site/index.html",
        headers={"Origin": "https://evil.org", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 403
    assert "<Code>AccessForbidden</Code>" in response.text
    assert "access-control-allow-origin" not in response.headers


def test_preflight_without_origin_is_400(server: RunningServer) -> None:
    response = httpx.options(
        f"{server.endpoint_url}/site/index.html", headers={"Access-Control-Request-Method": "GET"}
    )
    assert response.status_code == 400
    assert "<Code>BadRequest</Code>" in response.text


def test_get_from_allowed_origin_exposes_etag(server: RunningServer) -> None:
    url = server.client().generate_presigned_url("get_object", Params={"Bucket": "site", "Key": "index.html"})
    response = httpx.get(url, headers={"Origin": "https://app.example.com"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"
    assert response.headers["access-control-expose-headers"] == "ETag, x-amz-version-id"
    assert response.headers["vary"] == VARY


def test_error_responses_carry_cors_headers_so_the_page_can_read_them(server: RunningServer) -> None:
    response = httpx.get(f"{server.endpoint_url}/site/missing", headers={"Origin": "https://app.example.com"})
    assert response.status_code == 403  # anonymous
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"


def test_bucket_without_rules_falls_back_to_server_settings(server: RunningServer) -> None:
    allowed = httpx.options(
        f"{server.endpoint_url}/plain/k",
        headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET"},
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert allowed.headers["access-control-expose-headers"] == "ETag, x-amz-request-id"
    # the bucket with its own rules ignores the server-wide origins
    refused = httpx.options(
        f"{server.endpoint_url}/site/k",
        headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET"},
    )
    assert refused.status_code == 403


def test_list_buckets_uses_server_settings(server: RunningServer) -> None:
    response = httpx.options(
        f"{server.endpoint_url}/",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-max-age"] == "30"


def test_deleting_bucket_cors_stops_its_rules_applying(server: RunningServer) -> None:
    client = server.client()
    client.create_bucket(Bucket="temporary")
    client.put_bucket_cors(
        Bucket="temporary",
        CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["https://a.test"], "AllowedMethods": ["GET"]}]},
    )
    headers = {"Origin": "https://a.test", "Access-Control-Request-Method": "GET"}
    assert httpx.options(f"{server.endpoint_url}/temporary/k", headers=headers).status_code == 200
    client.delete_bucket_cors(Bucket="temporary")
    assert httpx.options(f"{server.endpoint_url}/temporary/k", headers=headers).status_code == 403


def test_bucket_rules_apply_when_server_cors_is_off() -> None:
    with running_server() as s3:
        client = s3.client()
        client.create_bucket(Bucket="only-bucket")
        headers = {"Origin": "https://a.test", "Access-Control-Request-Method": "GET"}
        assert httpx.options(f"{s3.endpoint_url}/only-bucket/k", headers=headers).status_code == 403
        client.put_bucket_cors(
            Bucket="only-bucket",
            CORSConfiguration={
                "CORSRules": [{"AllowedOrigins": ["https://a.test"], "AllowedMethods": ["GET"]}]
            },
        )
        assert httpx.options(f"{s3.endpoint_url}/only-bucket/k", headers=headers).status_code == 200
