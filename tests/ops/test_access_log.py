"""The access log of a real process: one JSON line per request, tied by request id to the x-amz-request-id header
and to error lines, with no secret or signature anywhere in the log file."""

from __future__ import annotations

import io
import json
import logging
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from botocore.config import Config

from smarts3.adapters.observability.logging import configure_logging
from smarts3.adapters.storage.memory import MemoryStorage
from smarts3.entrypoints.app import create_app
from smarts3.entrypoints.settings import AuthSettings, LoggingSettings, Settings

from opskit import ACCESS_KEY, SECRET_KEY, start_server

WRONG_SECRET = "wrong-secret-must-not-be-logged-987654"
ALWAYS = ("time", "request_id", "remote_addr", "operation", "status", "bytes_sent", "total_time_ms")


def client(endpoint: str, secret: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=secret,
                        region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def test_access_log_has_one_complete_line_per_request_and_no_secrets(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "smarts3.log"
    server = start_server(tmp_path, "--log-format", "json", "--log-file", str(log_file), auth=True)
    answered: dict[str, int] = {}  # x-amz-request-id -> status, as the clients saw them
    presigned_signatures: list[str] = []
    try:
        s3 = client(server.endpoint, SECRET_KEY)

        def record(response: dict[str, Any]) -> None:
            meta = response["ResponseMetadata"]
            answered[meta["HTTPHeaders"]["x-amz-request-id"]] = meta["HTTPStatusCode"]

        record(s3.create_bucket(Bucket="logged"))
        record(s3.put_object(Bucket="logged", Key="dir/a.txt", Body=b"0123456789"))
        record(s3.get_object(Bucket="logged", Key="dir/a.txt"))
        record(s3.list_objects_v2(Bucket="logged"))
        with pytest.raises(s3.exceptions.NoSuchKey) as missing:
            s3.get_object(Bucket="logged", Key="missing")
        record(missing.value.response)

        v4 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=ACCESS_KEY,
                          aws_secret_access_key=SECRET_KEY, region_name="us-east-1",
                          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
        for presigner in (v4, s3):  # SigV4 (X-Amz-Signature=) and boto3's default for S3 presigns
            url = presigner.generate_presigned_url("get_object", Params={"Bucket": "logged", "Key": "dir/a.txt"})
            query = parse_qs(urlsplit(url).query)
            presigned_signatures.extend(query.get("X-Amz-Signature", []) + query.get("Signature", []))
            with urllib.request.urlopen(url, timeout=5) as ok:
                assert ok.read() == b"0123456789"
                answered[ok.headers["x-amz-request-id"]] = ok.status
        url = v4.generate_presigned_url("get_object", Params={"Bucket": "logged", "Key": "dir/a.txt"})
        v4.close()
        tampered = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(tampered, timeout=5)
        assert refused.value.code == 403
        answered[refused.value.headers["x-amz-request-id"]] = 403

        wrong = client(server.endpoint, WRONG_SECRET)
        with pytest.raises(Exception) as denied:
            wrong.put_object(Bucket="logged", Key="nope", Body=b"x")
        record(denied.value.response)  # type: ignore[attr-defined]
        assert denied.value.response["Error"]["Code"] == "SignatureDoesNotMatch"  # type: ignore[attr-defined]
        s3.close()
        wrong.close()
    finally:
        assert server.stop() == 0

    text = log_file.read_text()
    for secret in (SECRET_KEY, WRONG_SECRET, *presigned_signatures):
        assert secret not in text
    assert "X-Amz-Signature=[REDACTED]" in text  # presigned request URIs are logged, signatures are not
    for marker in ("Signature=", "X-Amz-Signature="):
        for fragment in text.split(marker)[1:]:
            assert fragment.startswith("[REDACTED]"), fragment[:60]

    lines = [json.loads(line) for line in text.splitlines()]
    access = [line for line in lines if "operation" in line]
    assert len(presigned_signatures) == 2
    assert len(access) == len(answered) == 9
    by_id = {line["request_id"]: line for line in access}
    assert set(by_id) == set(answered), "every answered request id has exactly one access line"
    for request_id, status in answered.items():
        line = by_id[request_id]
        assert all(field in line for field in ALWAYS), line
        assert line["status"] == status
        assert line["remote_addr"] == "127.0.0.1"
        assert line["bucket"] == "logged"
        if status >= 300:
            assert line["error_code"], line
    put = next(line for line in access if line["operation"] == "REST.PUT.OBJECT" and line["status"] == 200)
    assert (put["access_key"], put["key"], put["object_size"]) == (ACCESS_KEY, "dir/a.txt", 10)
    gets = [line for line in access if line["operation"] == "REST.GET.OBJECT" and line["status"] == 200]
    assert len(gets) == 3 and all(g["bytes_sent"] == 10 and g["object_size"] == 10 for g in gets)
    errors = sorted(line["error_code"] for line in access if line["status"] >= 300)
    assert errors == ["NoSuchKey", "SignatureDoesNotMatch", "SignatureDoesNotMatch"]


class _FailingStorage(MemoryStorage):
    """A storage adapter that logs a warning and then fails, as a broken disk would."""

    async def list_buckets(self) -> Any:
        logging.getLogger("smarts3.storage").warning("storage trouble")
        raise RuntimeError("disk on fire")


async def test_error_lines_carry_the_request_id_of_the_failed_request() -> None:
    stream = io.StringIO()
    settings = Settings(auth=AuthSettings(enabled=False), logging=LoggingSettings(format="json"))
    configure_logging(settings.logging, stream=stream)
    try:
        app = create_app(settings, storage=_FailingStorage())
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            response = await http.get("/")
    finally:
        configure_logging(LoggingSettings(access_log=False, level="warning"))
    assert response.status_code == 500 and b"<Code>InternalError</Code>" in response.content
    assert b"disk on fire" not in response.content
    request_id = response.headers["x-amz-request-id"]
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    trouble = next(line for line in lines if line.get("message") == "storage trouble")
    unexpected = next(line for line in lines if line.get("message") == "unexpected error")
    access = next(line for line in lines if "operation" in line)
    assert trouble["request_id"] == unexpected["request_id"] == access["request_id"] == request_id
    assert "disk on fire" in unexpected["exc"]
    assert (access["status"], access["error_code"]) == (500, "InternalError")
