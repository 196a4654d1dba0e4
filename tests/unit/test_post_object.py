"""Browser form uploads (POST Object) over real HTTP: signed policies, conditions, success actions, streaming."""

from __future__ import annotations

import hashlib
import os
import re
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from botocore.config import Config

from smarts3.testing import running_server
from smarts3.testing.server import RunningServer

BUCKET = "forms"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with running_server() as s3:
        client = s3.client()
        client.create_bucket(Bucket=BUCKET)
        yield s3


def client_for(server: RunningServer, signature_version: str = "s3v4") -> Any:
    return boto3.client("s3", config=Config(signature_version=signature_version), **server.boto3_kwargs())


def presigned_post(
    server: RunningServer,
    key: str = "uploads/${filename}",
    fields: dict[str, str] | None = None,
    conditions: list[Any] | None = None,
    expires: int = 300,
    signature_version: str = "s3v4",
) -> tuple[str, dict[str, str]]:
    post = client_for(server, signature_version).generate_presigned_post(
        BUCKET, key, Fields=fields or {}, Conditions=conditions or [], ExpiresIn=expires
    )
    return post["url"], dict(post["fields"])


def multipart_body(
    before: list[tuple[str, str]],
    file: tuple[str, bytes] | None,
    after: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> tuple[bytes, str]:
    """A form body in exactly the given field order (httpx would always put files last)."""
    boundary = "----smarts3" + uuid.uuid4().hex
    out = bytearray()
    for name, value in before:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    if file is not None:
        filename, content = file
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        out += content + b"\r\n"
    for name, value in after:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def post_form(
    url: str, fields: dict[str, str], filename: str = "photo.png", content: bytes = b"PNG-bytes-here"
) -> httpx.Response:
    return httpx.post(url, data=fields, files={"file": (filename, content, "image/png")}, timeout=30)


def error_of(response: httpx.Response) -> tuple[str, str]:
    code = re.search(r"<Code>(.*?)</Code>", response.text)
    message = re.search(r"<Message>(.*?)</Message>", response.text)
    assert code is not None and message is not None, response.text
    return code.group(1), message.group(1).replace("&quot;", '"')


def exists(server: RunningServer, key: str) -> bool:
    try:
        server.client().head_object(Bucket=BUCKET, Key=key)
    except server.client().exceptions.ClientError:
        return False
    return True


def test_signed_form_upload_stores_the_file_under_the_substituted_key(server: RunningServer) -> None:
    url, fields = presigned_post(
        server,
        fields={"Content-Type": "image/png", "x-amz-meta-album": "summer"},
        conditions=[
            ["starts-with", "$key", "uploads/"],
            {"Content-Type": "image/png"},
            ["starts-with", "$x-amz-meta-album", ""],
        ],
    )
    response = post_form(url, fields, filename="beach.png", content=b"\x89PNG beach")
    assert response.status_code == 204, response.text
    digest = hashlib.md5(b"\x89PNG beach").hexdigest()
    assert response.headers["etag"] == f'"{digest}"'
    assert response.headers["location"].endswith(f"/{BUCKET}/uploads/beach.png")
    stored = server.client().get_object(Bucket=BUCKET, Key="uploads/beach.png")
    assert stored["Body"].read() == b"\x89PNG beach"
    assert stored["ContentType"] == "image/png"
    assert stored["Metadata"] == {"album": "summer"}


def test_sigv2_signed_form_upload_is_accepted(server: RunningServer) -> None:
    url, fields = presigned_post(server, key="v2/${filename}", signature_version="s3")
    assert "signature" in fields and "AWSAccessKeyId" in fields
    response = post_form(url, fields, filename="old.txt", content=b"v2")
    assert response.status_code == 204, response.text
    assert exists(server, "v2/old.txt")


def test_success_action_status_201_answers_post_response_xml(server: RunningServer) -> None:
    url, fields = presigned_post(
        server,
        key="created.bin",
        fields={"success_action_status": "201"},
        conditions=[{"success_action_status": "201"}],
    )
    response = post_form(url, fields, content=b"abc")
    assert response.status_code == 201, response.text
    assert "<Bucket>forms</Bucket>" in response.text
    assert "<Key>created.bin</Key>" in response.text
    assert "<ETag>&quot;900150983cd24fb0d6963f7d28e17f72&quot;</ETag>" in response.text
    assert "<Location>http://" in response.text


def test_success_action_status_200_answers_an_empty_200(server: RunningServer) -> None:
    url, fields = presigned_post(
        server,
        key="ok.bin",
        fields={"success_action_status": "200"},
        conditions=[{"success_action_status": "200"}],
    )
    response = post_form(url, fields)
    assert (response.status_code, response.content) == (200, b"")


def test_success_action_redirect_answers_303_with_bucket_key_and_etag(server: RunningServer) -> None:
    target = "https://app.example.com/done?from=form"
    url, fields = presigned_post(
        server,
        key="redirected.txt",
        fields={"success_action_redirect": target},
        conditions=[{"success_action_redirect": target}],
    )
    response = post_form(url, fields, content=b"abc")
    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "app.example.com", "/done")
    query = parse_qs(location.query)
    assert query == {
        "from": ["form"],
        "bucket": [BUCKET],
        "key": ["redirected.txt"],
        "etag": ['"900150983cd24fb0d6963f7d28e17f72"'],
    }


def test_file_larger_than_content_length_range_is_refused_and_not_stored(server: RunningServer) -> None:
    url, fields = presigned_post(server, key="big.bin", conditions=[["content-length-range", 1, 100]])
    response = post_form(url, fields, content=b"x" * 101)
    assert response.status_code == 400
    assert error_of(response)[0] == "EntityTooLarge"
    assert "<MaxSizeAllowed>100</MaxSizeAllowed>" in response.text
    assert not exists(server, "big.bin")


def test_file_smaller_than_content_length_range_is_refused(server: RunningServer) -> None:
    url, fields = presigned_post(server, key="small.bin", conditions=[["content-length-range", 10, 100]])
    response = post_form(url, fields, content=b"tiny")
    assert response.status_code == 400
    assert error_of(response)[0] == "EntityTooSmall"
    assert not exists(server, "small.bin")


def test_key_outside_starts_with_condition_is_access_denied(server: RunningServer) -> None:
    url, fields = presigned_post(server, key="uploads/${filename}")
    fields["key"] = "elsewhere/${filename}"
    response = post_form(url, fields)
    assert response.status_code == 403
    assert error_of(response) == (
        "AccessDenied",
        'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "uploads/"]',
    )
    assert not exists(server, "elsewhere/photo.png")


def test_field_differing_from_eq_condition_is_access_denied(server: RunningServer) -> None:
    url, fields = presigned_post(
        server,
        key="typed.png",
        fields={"Content-Type": "image/png"},
        conditions=[{"Content-Type": "image/png"}],
    )
    fields["Content-Type"] = "text/html"
    response = post_form(url, fields)
    assert response.status_code == 403
    code, message = error_of(response)
    assert code == "AccessDenied"
    assert message.startswith("Invalid according to Policy: Policy Condition failed:")
    assert "$Content-Type" in message


def test_field_not_mentioned_in_policy_is_access_denied(server: RunningServer) -> None:
    url, fields = presigned_post(server, key="extra.png")
    fields["x-amz-meta-sneaky"] = "1"
    response = post_form(url, fields)
    assert response.status_code == 403
    assert error_of(response) == (
        "AccessDenied",
        "Invalid according to Policy: Extra input fields: x-amz-meta-sneaky",
    )


def test_expired_policy_is_access_denied(server: RunningServer) -> None:
    url, fields = presigned_post(server, key="late.png", expires=-60)
    response = post_form(url, fields)
    assert response.status_code == 403
    assert error_of(response) == ("AccessDenied", "Invalid according to Policy: Policy expired.")


def test_tampered_policy_fails_the_signature_check(server: RunningServer) -> None:
    url, fields = presigned_post(server, key="sig.png")
    _, other = presigned_post(server, key="other.png")
    fields["policy"] = other["policy"]
    response = post_form(url, fields)
    assert response.status_code == 403
    assert error_of(response)[0] == "SignatureDoesNotMatch"


def test_unsigned_form_to_a_private_bucket_is_access_denied(server: RunningServer) -> None:
    response = post_form(f"{server.endpoint_url}/{BUCKET}", {"key": "anon.txt"})
    assert response.status_code == 403
    assert error_of(response)[0] == "AccessDenied"
    assert not exists(server, "anon.txt")


def test_form_without_a_file_is_an_invalid_argument(server: RunningServer) -> None:
    url, fields = presigned_post(server, key="nofile.txt")
    body, content_type = multipart_body(list(fields.items()), None)
    response = httpx.post(url, content=body, headers={"content-type": content_type})
    assert response.status_code == 400
    assert error_of(response) == ("InvalidArgument", "POST requires exactly one file upload per request.")


def test_fields_after_the_file_are_ignored(server: RunningServer) -> None:
    url, fields = presigned_post(server, key="ordered.txt")
    body, content_type = multipart_body(
        list(fields.items()), ("a.txt", b"first"), after=[("x-amz-meta-late", "1"), ("key", "hijacked.txt")]
    )
    response = httpx.post(url, content=body, headers={"content-type": content_type})
    assert response.status_code == 204, response.text
    head = server.client().head_object(Bucket=BUCKET, Key="ordered.txt")
    assert head["Metadata"] == {}
    assert not exists(server, "hijacked.txt")


def test_field_names_are_case_insensitive(server: RunningServer) -> None:
    url, fields = presigned_post(
        server,
        key="cased.txt",
        fields={"Content-Type": "text/plain"},
        conditions=[{"Content-Type": "text/plain"}],
    )
    shouted = {name.upper() if name != "policy" else "Policy": value for name, value in fields.items()}
    response = post_form(url, shouted, content=b"case")
    assert response.status_code == 204, response.text
    assert server.client().head_object(Bucket=BUCKET, Key="cased.txt")["ContentType"] == "text/plain"


def test_tagging_field_tags_the_object(server: RunningServer) -> None:
    tagging = "<Tagging><TagSet><Tag><Key>team</Key><Value>web</Value></Tag></TagSet></Tagging>"
    url, fields = presigned_post(
        server, key="tagged.txt", fields={"tagging": tagging}, conditions=[{"tagging": tagging}]
    )
    response = post_form(url, fields)
    assert response.status_code == 204, response.text
    tags = server.client().get_object_tagging(Bucket=BUCKET, Key="tagged.txt")["TagSet"]
    assert tags == [{"Key": "team", "Value": "web"}]


def test_body_that_is_not_multipart_is_malformed(server: RunningServer) -> None:
    url, fields = presigned_post(server, key="broken.txt")
    body, content_type = multipart_body(list(fields.items()), ("a.txt", b"data"))
    truncated = body[: body.index(b"data") + 2]
    response = httpx.post(url, content=truncated, headers={"content-type": content_type})
    assert response.status_code == 400
    assert error_of(response)[0] == "MalformedPOSTRequest"
    assert not exists(server, "broken.txt")


def test_large_file_streams_to_disk_without_being_buffered(tmp_path: Path) -> None:
    size = 48 * 1024 * 1024
    chunk = os.urandom(1024 * 1024)
    with running_server(data_dir=tmp_path / "data") as s3:
        s3.client().create_bucket(Bucket=BUCKET)
        url, fields = presigned_post(s3, key="big/${filename}")
        body_head, content_type = multipart_body(list(fields.items()), ("video.bin", b""))
        cut = body_head.index(b"\r\n--", body_head.index(b'filename="video.bin"'))
        head, tail = body_head[:cut], body_head[cut:]

        def stream() -> Iterator[bytes]:
            yield head
            for _ in range(size // len(chunk)):
                yield chunk
            yield tail

        tracemalloc.start()
        try:
            response = httpx.post(
                url,
                content=stream(),
                headers={"content-type": content_type, "content-length": str(len(head) + size + len(tail))},
                timeout=60,
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert response.status_code == 204, response.text
        assert s3.client().head_object(Bucket=BUCKET, Key="big/video.bin")["ContentLength"] == size
        assert peak < 16 * 1024 * 1024, f"peak traced memory {peak} bytes for a {size}-byte upload"
