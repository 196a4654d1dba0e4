"""Browser form uploads: policy edge cases found by running the public ceph/s3-tests suite.

- A form without a policy (anonymous) to a public-read-write bucket carries ordinary fields (key, acl,
  Content-Type); there is no policy for them to be "extra input fields" of.
- The policy is checked against the key S3 stores, i.e. with ``${filename}`` replaced by the uploaded file's name
  (AWS "Creating a POST Policy": conditions apply to the form fields; ``${filename}`` is the user-supplied name).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from smarts3.testing import running_server
from smarts3.testing.server import RunningServer


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with running_server() as s3:
        client = s3.client()
        client.create_bucket(Bucket="public-drop", ACL="public-read-write")
        client.create_bucket(Bucket="signed-drop")
        yield s3


def _v2_signed_fields(server: RunningServer, conditions: list[object]) -> dict[str, str]:
    expiration = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    policy = base64.b64encode(json.dumps({"expiration": expiration, "conditions": conditions}).encode())
    signature = base64.b64encode(hmac.new(server.secret_key.encode(), policy, hashlib.sha1).digest())
    return {"AWSAccessKeyId": server.access_key, "policy": policy.decode(), "signature": signature.decode()}


def test_anonymous_form_with_ordinary_fields_uploads_to_public_read_write_bucket(server: RunningServer) -> None:
    fields = {"key": "inbox/note.txt", "acl": "public-read", "Content-Type": "text/plain"}
    response = httpx.post(
        f"{server.endpoint_url}/public-drop", data=fields, files={"file": ("note.txt", b"hello")}, timeout=30
    )
    assert response.status_code == 204, response.text
    got = server.client().get_object(Bucket="public-drop", Key="inbox/note.txt")
    assert got["Body"].read() == b"hello"
    assert got["ContentType"] == "text/plain"


def test_anonymous_form_to_private_bucket_is_still_refused(server: RunningServer) -> None:
    response = httpx.post(
        f"{server.endpoint_url}/signed-drop", data={"key": "x.txt"}, files={"file": ("x.txt", b"x")}, timeout=30
    )
    assert response.status_code == 403


def test_starts_with_key_condition_applies_to_the_key_after_filename_substitution(server: RunningServer) -> None:
    conditions: list[object] = [{"bucket": "signed-drop"}, ["starts-with", "$key", "foo"]]
    fields = {"key": "${filename}", **_v2_signed_fields(server, conditions)}
    response = httpx.post(
        f"{server.endpoint_url}/signed-drop", data=fields, files={"file": ("foo.txt", b"bar")}, timeout=30
    )
    assert response.status_code == 204, response.text
    assert server.client().get_object(Bucket="signed-drop", Key="foo.txt")["Body"].read() == b"bar"


def test_substituted_key_outside_the_condition_is_refused(server: RunningServer) -> None:
    conditions: list[object] = [{"bucket": "signed-drop"}, ["starts-with", "$key", "foo"]]
    fields = {"key": "${filename}", **_v2_signed_fields(server, conditions)}
    response = httpx.post(
        f"{server.endpoint_url}/signed-drop", data=fields, files={"file": ("bar.txt", b"bar")}, timeout=30
    )
    assert response.status_code == 403


def test_policy_with_an_empty_condition_object_is_a_malformed_policy(server: RunningServer) -> None:
    fields = {"key": "empty-cond.txt", **_v2_signed_fields(server, [{}])}
    response = httpx.post(
        f"{server.endpoint_url}/signed-drop", data=fields, files={"file": ("x.txt", b"x")}, timeout=30
    )
    assert response.status_code == 400
    assert "<Code>InvalidPolicyDocument</Code>" in response.text
