"""Structured logging, the access log formats, secret redaction and file rotation."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smarts3.adapters.observability.logging import (
    AccessRecord,
    _iso_time,
    access_log_enabled,
    configure_logging,
    flush_access_log,
    format_access_json,
    format_access_s3,
    log_access,
    redact,
    redact_request_uri,
    request_id_var,
)
from smarts3.entrypoints.settings import LoggingSettings

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SIGNATURE = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    access = logging.getLogger("smarts3.access")
    for handler in list(access.handlers):
        access.removeHandler(handler)
        handler.close()
    configure_logging(LoggingSettings(access_log=False), stream=io.StringIO())
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def json_lines(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


def record(**kw: object) -> AccessRecord:
    base: dict[str, object] = {
        "time": 1700000000.25,
        "request_id": "REQ123",
        "remote_addr": "192.0.2.3",
        "access_key": "AKIAEXAMPLE",
        "operation": "REST.PUT.OBJECT",
        "bucket": "photos",
        "key": "2024/a b.jpg",
        "status": 200,
        "bytes_sent": 0,
        "object_size": 1234,
        "total_time_ms": 12.6,
        "user_agent": "aws-cli/2.0",
        "request_uri": "PUT /photos/2024/a%20b.jpg HTTP/1.1",
    }
    base.update(kw)
    return AccessRecord(**base)  # type: ignore[arg-type]


def test_json_lines_parse_and_carry_request_id_and_extras() -> None:
    buf = io.StringIO()
    configure_logging(LoggingSettings(format="json"), stream=buf)
    token = request_id_var.set("REQ-9")
    try:
        logging.getLogger("smarts3.test").info("stored %s", "obj", extra={"bucket": "b", "size": 3})
    finally:
        request_id_var.reset(token)
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("smarts3.test").exception("failed")
    first, second = json_lines(buf)
    assert first["message"] == "stored obj" and first["level"] == "info" and first["logger"] == "smarts3.test"
    assert first["request_id"] == "REQ-9" and first["bucket"] == "b" and first["size"] == 3
    assert str(first["time"]).endswith("Z")
    assert "ValueError: bad" in str(second["exc"])


def test_text_format_is_human_readable() -> None:
    buf = io.StringIO()
    configure_logging(LoggingSettings(format="text", level="debug"), stream=buf)
    logging.getLogger("smarts3.t").debug("hello")
    assert "DEBUG" in buf.getvalue() and "smarts3.t hello" in buf.getvalue()


def test_level_filters_lines() -> None:
    buf = io.StringIO()
    configure_logging(LoggingSettings(level="warning"), stream=buf)
    logging.getLogger("smarts3.t").info("quiet")
    logging.getLogger("smarts3.t").warning("loud")
    assert "quiet" not in buf.getvalue() and "loud" in buf.getvalue()


@pytest.mark.parametrize(
    "message",
    [
        f"Authorization: AWS4-HMAC-SHA256 Credential=AKIA/20250101/us-east-1/s3/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={SIGNATURE}",
        f"headers {{'authorization': 'AWS4-HMAC-SHA256 Credential=AKIA/x, Signature={SIGNATURE}'}}",
        f"scope headers [(b'authorization', b'AWS4-HMAC-SHA256 Signature={SIGNATURE}')]",
        f"GET /b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={SIGNATURE}&X-Amz-Expires=60",
        f"config {{'accessKeyId': 'AK', 'secretAccessKey': '{SECRET}'}}",
        f"aws_secret_access_key={SECRET}",
        f"SigV2 header AWS AKIAIOSFODNN7EXAMPLE:{SIGNATURE[:28]}=",
    ],
)
def test_no_secret_reaches_a_log_line(message: str) -> None:
    buf = io.StringIO()
    configure_logging(LoggingSettings(format="json"), stream=buf)
    logging.getLogger("smarts3.test").warning("%s", message, extra={"detail": message})
    output = buf.getvalue()
    assert SIGNATURE not in output and SIGNATURE[:28] not in output and SECRET not in output
    json_lines(buf)


def test_configured_secrets_are_redacted_even_without_a_pattern() -> None:
    buf = io.StringIO()
    configure_logging(LoggingSettings(format="text"), secrets=["plain-looking-secret"], stream=buf)
    logging.getLogger("x").error("value was plain-looking-secret")
    assert "plain-looking-secret" not in buf.getvalue()


def test_private_keys_are_redacted() -> None:
    text = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----"
    assert "MIGHAgEAMBMGByqGSM49" not in redact(f"key is {text}")


def test_exception_text_is_redacted() -> None:
    buf = io.StringIO()
    configure_logging(LoggingSettings(format="json"), stream=buf)
    try:
        raise RuntimeError(f"X-Amz-Signature={SIGNATURE}")
    except RuntimeError:
        logging.getLogger("x").exception("boom")
    assert SIGNATURE not in buf.getvalue()


def test_s3_access_log_line_format() -> None:
    line = format_access_s3(record(error_code="", referrer=""))
    assert line == (
        "- photos [14/Nov/2023:22:13:20 +0000] 192.0.2.3 AKIAEXAMPLE REQ123 REST.PUT.OBJECT 2024/a%20b.jpg "
        '"PUT /photos/2024/a%20b.jpg HTTP/1.1" 200 - - 1234 13 - "-" "aws-cli/2.0" - - - - - - - - -'
    )
    minimal = format_access_s3(AccessRecord(time=0, request_id="R", status=404, error_code="NoSuchKey"))
    assert minimal.startswith("- - [01/Jan/1970:00:00:00 +0000] - - R - - ")
    assert " 404 NoSuchKey " in minimal


def test_access_json_format() -> None:
    data = json.loads(format_access_json(record(status=403, error_code="AccessDenied")))
    assert data["time"] == "2023-11-14T22:13:20.250Z"
    assert data["operation"] == "REST.PUT.OBJECT" and data["error_code"] == "AccessDenied"
    assert data["request_id"] == "REQ123" and data["total_time_ms"] == 12.6


def test_access_log_to_its_own_file_in_s3_format_with_signature_redacted(tmp_path: Path) -> None:
    buf = io.StringIO()
    path = tmp_path / "logs" / "access.log"
    configure_logging(
        LoggingSettings(format="json", access_log_format="s3", access_log_file=str(path)), stream=buf
    )
    assert access_log_enabled()
    log_access(record(request_uri=f"GET /photos/k?X-Amz-Signature={SIGNATURE} HTTP/1.1"))
    for handler in logging.getLogger("smarts3.access").handlers:
        handler.flush()
    text = path.read_text()
    assert "REST.PUT.OBJECT" in text and SIGNATURE not in text
    assert buf.getvalue() == ""  # not duplicated into the application log


def test_access_log_shares_the_application_stream_by_default() -> None:
    buf = io.StringIO()
    configure_logging(LoggingSettings(format="json", access_log_format="json"), stream=buf)
    log_access(record())
    (line,) = json_lines(buf)
    assert line["operation"] == "REST.PUT.OBJECT"


def test_access_json_keeps_zeros_and_leaves_out_empty_fields() -> None:
    data = json.loads(
        format_access_json(record(bytes_sent=0, total_time_ms=0.0, user_agent="", object_size=None))
    )
    assert data["bytes_sent"] == 0 and data["total_time_ms"] == 0.0 and data["status"] == 200
    assert "user_agent" not in data and "object_size" not in data and "version_id" not in data
    assert list(data)[:3] == ["time", "request_id", "remote_addr"]  # the record's field order


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            f"GET /b/k?X-Amz-Signature={SIGNATURE}&x-id=GetObject HTTP/1.1",
            "GET /b/k?X-Amz-Signature=[REDACTED]&x-id=GetObject HTTP/1.1",
        ),
        (
            f"GET /b/k?AWSAccessKeyId=AK&Signature={SIGNATURE}&Expires=1 HTTP/1.1",  # SigV2 presigned
            "GET /b/k?AWSAccessKeyId=AK&Signature=[REDACTED]&Expires=1 HTTP/1.1",
        ),
        (
            "GET /b/k?x-amz-security-token=FwoGZXIvYXdzEJr&X-AMZ-SIGNATURE=abc HTTP/1.1",  # any spelling
            "GET /b/k?x-amz-security-token=[REDACTED]&X-AMZ-SIGNATURE=[REDACTED] HTTP/1.1",
        ),
        (f"GET /b/k?prefix={SECRET} HTTP/1.1", "GET /b/k?prefix=[REDACTED] HTTP/1.1"),  # a configured secret
        ("GET /b/Signature=kept-it-is-a-key HTTP/1.1", "GET /b/Signature=kept-it-is-a-key HTTP/1.1"),
        ("PUT /b/k?uploadId=u&partNumber=1 HTTP/1.1", "PUT /b/k?uploadId=u&partNumber=1 HTTP/1.1"),
    ],
)
def test_request_lines_lose_signatures_tokens_and_secrets(uri: str, expected: str) -> None:
    assert redact_request_uri(uri, (SECRET,)) == expected


class _CountingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def test_lines_logged_on_a_loop_share_one_record_written_within_the_batch_window() -> None:
    buf = io.StringIO()
    configure_logging(LoggingSettings(format="json"), stream=buf)
    counting = _CountingHandler()
    logging.getLogger("smarts3.access").addHandler(counting)
    try:
        for i in range(5):
            log_access(
                record(request_id=f"R{i}", request_uri=f"GET /p/k?X-Amz-Signature={SIGNATURE} HTTP/1.1")
            )
        assert buf.getvalue() == ""  # not yet: the batch window is open
        await asyncio.sleep(0.05)
        assert [line["request_id"] for line in json_lines(buf)] == ["R0", "R1", "R2", "R3", "R4"]
        assert len(counting.messages) == 1 and SIGNATURE not in counting.messages[0]
        log_access(record(request_id="R5"))
        flush_access_log()  # shutdown writes what is pending without waiting
        assert json_lines(buf)[-1]["request_id"] == "R5"
        log_access(record(request_id="R6"))
        configure_logging(LoggingSettings(access_log=False), stream=io.StringIO())  # reconfiguring writes it
        assert json_lines(buf)[-1]["request_id"] == "R6"
    finally:
        logging.getLogger("smarts3.access").removeHandler(counting)


def test_access_log_off_writes_nothing() -> None:
    buf = io.StringIO()
    configure_logging(LoggingSettings(access_log=False), stream=buf)
    assert not access_log_enabled()
    log_access(record())
    assert buf.getvalue() == ""


def test_log_file_rotates_at_max_bytes(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    configure_logging(LoggingSettings(format="json", file=str(path), max_bytes=2000, backup_count=2))
    log = logging.getLogger("smarts3.rotation")
    for i in range(100):
        log.info("line %03d %s", i, "x" * 50)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["app.log", "app.log.1", "app.log.2"]
    for name in files:
        assert (tmp_path / name).stat().st_size <= 2000
        for line in (tmp_path / name).read_text().splitlines():
            json.loads(line)


def test_configure_twice_does_not_duplicate_lines() -> None:
    buf = io.StringIO()
    configure_logging(LoggingSettings(), stream=buf)
    configure_logging(LoggingSettings(), stream=buf)
    logging.getLogger("smarts3.t").warning("unique-marker")
    assert buf.getvalue().count("unique-marker") == 1


@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False), st.floats(min_value=0, max_value=3))
def test_access_times_match_a_fresh_formatting_whatever_came_before(first: float, later: float) -> None:
    # the whole-second text is remembered between lines: a line of another second must never reuse it
    def plain(epoch: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}Z"

    for epoch in (first, first + later, first + later + 0.0005, first):
        assert _iso_time(epoch) == plain(epoch)
