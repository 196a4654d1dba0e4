"""A real headless chromium on another origin talks to smarts3: presigned fetch() PUT and GET, an HTML form
POST upload with a signed policy, and preflights that bucket CORS rules refuse (fetch rejects)."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config

from smarts3.testing.server import RunningServer

from browserkit import Chromium

BUCKET = "browser"
LOCKED = "browser-locked"


def sigv4_client(s3: RunningServer) -> Any:
    return boto3.client("s3", config=Config(signature_version="s3v4"), **s3.boto3_kwargs())


@pytest.fixture(scope="module")
def site(s3: RunningServer, page_origin: str, browser: Chromium) -> Chromium:
    """Buckets with CORS rules for the page's origin, and the browser sitting on that page."""
    client = sigv4_client(s3)
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_cors(
        Bucket=BUCKET,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [page_origin],
                    "AllowedMethods": ["GET", "PUT"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag", "x-amz-request-id"],
                    "MaxAgeSeconds": 0,
                }
            ]
        },
    )
    client.create_bucket(Bucket=LOCKED)
    client.put_bucket_cors(
        Bucket=LOCKED,
        CORSConfiguration={
            "CORSRules": [{"AllowedOrigins": ["https://trusted.example.com"], "AllowedMethods": ["PUT"]}]
        },
    )
    browser.get(page_origin + "/")
    assert browser.run("return document.title") == "smarts3 browser test"
    return browser


FETCH = """
const [url, init] = args;
try {
  const response = await fetch(url, init);
  return {ok: true, status: response.status, etag: response.headers.get('ETag'), text: await response.text()};
} catch (error) {
  return {ok: false, error: String(error)};
}
"""


def test_fetch_put_to_presigned_url_uploads_and_exposes_etag(s3: RunningServer, site: Chromium) -> None:
    client = sigv4_client(s3)
    url = client.generate_presigned_url(
        "put_object", Params={"Bucket": BUCKET, "Key": "from-browser.txt", "ContentType": "text/plain"}
    )
    body = "written by chromium over CORS"
    result = site.run_async(
        FETCH, url, {"method": "PUT", "body": body, "headers": {"Content-Type": "text/plain"}}
    )
    assert result["ok"], result
    assert result["status"] == 200
    assert result["etag"] == f'"{hashlib.md5(body.encode()).hexdigest()}"'
    stored = client.get_object(Bucket=BUCKET, Key="from-browser.txt")
    assert stored["Body"].read() == body.encode()
    assert stored["ContentType"] == "text/plain"


def test_fetch_get_of_presigned_url_reads_the_object(s3: RunningServer, site: Chromium) -> None:
    client = sigv4_client(s3)
    client.put_object(Bucket=BUCKET, Key="readme.txt", Body=b"hello, page")
    url = client.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "readme.txt"})
    result = site.run_async(FETCH, url, {"method": "GET"})
    assert result == {
        "ok": True,
        "status": 200,
        "etag": f'"{hashlib.md5(b"hello, page").hexdigest()}"',
        "text": "hello, page",
    }


def test_html_form_post_uploads_a_file_with_a_signed_policy(
    s3: RunningServer, site: Chromium, page_origin: str
) -> None:
    client = sigv4_client(s3)
    redirect = f"{page_origin}/done"
    post = client.generate_presigned_post(
        BUCKET,
        "forms/${filename}",
        Fields={"Content-Type": "text/plain", "success_action_redirect": redirect},
        Conditions=[
            ["starts-with", "$key", "forms/"],
            {"Content-Type": "text/plain"},
            {"success_action_redirect": redirect},
            ["content-length-range", 1, 1024],
        ],
        ExpiresIn=300,
    )
    # a real <form> submission (navigation, not fetch): hidden fields, then the file input last
    site.run(
        """
        const [action, fields] = arguments;
        const form = document.createElement('form');
        form.method = 'POST';
        form.action = action;
        form.enctype = 'multipart/form-data';
        for (const [name, value] of Object.entries(fields)) {
          const input = document.createElement('input');
          input.type = 'hidden';
          input.name = name;
          input.value = value;
          form.appendChild(input);
        }
        const file = document.createElement('input');
        file.type = 'file';
        file.name = 'file';
        const transfer = new DataTransfer();
        transfer.items.add(new File(['uploaded from an HTML form'], 'note.txt', {type: 'text/plain'}));
        file.files = transfer.files;
        form.appendChild(file);
        document.body.appendChild(form);
        form.submit();
        """,
        post["url"],
        post["fields"],
    )
    landed = _wait_for_url(site, redirect)
    query = parse_qs(urlsplit(landed).query)
    etag = f'"{hashlib.md5(b"uploaded from an HTML form").hexdigest()}"'
    assert query == {"bucket": [BUCKET], "key": ["forms/note.txt"], "etag": [etag]}
    stored = client.get_object(Bucket=BUCKET, Key="forms/note.txt")
    assert stored["Body"].read() == b"uploaded from an HTML form"
    assert stored["ContentType"] == "text/plain"
    site.get(page_origin + "/")


def _wait_for_url(browser: Chromium, prefix: str, timeout: float = 20.0) -> str:
    import time

    deadline = time.monotonic() + timeout
    url = browser.current_url
    while not url.startswith(prefix):
        if time.monotonic() > deadline:
            raise AssertionError(f"browser stayed on {url!r}, expected a redirect to {prefix}")
        time.sleep(0.05)
        url = browser.current_url
    return url


def test_preflight_for_a_disallowed_origin_is_refused(s3: RunningServer, site: Chromium) -> None:
    client = sigv4_client(s3)
    url = client.generate_presigned_url("put_object", Params={"Bucket": LOCKED, "Key": "nope.txt"})
    result = site.run_async(FETCH, url, {"method": "PUT", "body": "should not land"})
    assert result["ok"] is False, result
    assert "Failed to fetch" in result["error"]
    assert client.list_objects_v2(Bucket=LOCKED).get("KeyCount") == 0


def test_preflight_for_a_disallowed_method_is_refused(s3: RunningServer, site: Chromium) -> None:
    client = sigv4_client(s3)
    client.put_object(Bucket=BUCKET, Key="keep.txt", Body=b"still here")
    url = client.generate_presigned_url("delete_object", Params={"Bucket": BUCKET, "Key": "keep.txt"})
    result = site.run_async(FETCH, url, {"method": "DELETE"})
    assert result["ok"] is False, result
    assert client.get_object(Bucket=BUCKET, Key="keep.txt")["Body"].read() == b"still here"
