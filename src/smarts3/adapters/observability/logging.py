"""Structured application logging, the access log and secret redaction.

- :func:`configure_logging` installs JSON (one msgspec-encoded object per line) or text handlers on the root
  logger, to stderr or to a size-rotated file, plus the ``smarts3.access`` logger (own file optional).
- :class:`AccessRecord` is one request; :func:`log_access` writes it as JSON or as an S3 server access log
  line and costs one attribute check when the access log is off.
- :class:`SecretRedactionFilter` sits on every handler and rewrites anything that looks like a credential
  (Authorization values, ``X-Amz-Signature=``, secret keys, private keys) before a line is written.
- :data:`request_id_var` carries the current request id; every line logged while it is set carries it.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import re
import sys
import threading
import time
from collections.abc import Iterable
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO
from urllib.parse import quote

import msgspec

__all__ = [
    "ACCESS_LOGGER_NAME",
    "AccessRecord",
    "JsonFormatter",
    "LoggingOptions",
    "SecretRedactionFilter",
    "TextFormatter",
    "access_log_enabled",
    "configure_logging",
    "flush_access_log",
    "format_access_json",
    "format_access_s3",
    "log_access",
    "redact",
    "redact_request_uri",
    "request_id_var",
]

ACCESS_LOGGER_NAME = "smarts3.access"
REDACTED = "[REDACTED]"

#: the id of the request being served; set it in the HTTP layer, every log line picks it up
request_id_var: ContextVar[str | None] = ContextVar("smarts3_request_id", default=None)

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class LoggingOptions(Protocol):
    """The logging settings this module reads (``smarts3.entrypoints.settings.LoggingSettings`` fits)."""

    @property
    def level(self) -> str: ...
    @property
    def format(self) -> str: ...
    @property
    def file(self) -> str: ...
    @property
    def max_bytes(self) -> int: ...
    @property
    def backup_count(self) -> int: ...
    @property
    def access_log(self) -> bool: ...
    @property
    def access_log_format(self) -> Literal["s3", "json"]: ...
    @property
    def access_log_file(self) -> str: ...


# LogRecord attributes that are not "extra" fields
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "access_lines",
    "taskName",
    "color_message",
}


# --- redaction

_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private keys, whole block
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S),
        "-----BEGIN PRIVATE KEY-----" + REDACTED + "-----END PRIVATE KEY-----",
    ),
    # Authorization header values: "Authorization: ...", 'authorization': '...', (b'authorization', b'...')
    (re.compile(r"""(?i)(\bauthorization["']?\s*(?:[:=]|,)\s*b?["']?)[^"'\r\n]+"""), r"\1" + REDACTED),
    # SigV4 / SigV2 signatures in headers and presigned query strings
    (re.compile(r"(?i)((?:x-amz-)?signature=)[^&\s\"',;]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)(x-amz-security-token[\"']?\s*[:=,]\s*b?[\"']?)[^&\s\"',;]+"), r"\1" + REDACTED),
    # SigV2 header "AWS AKID:signature"
    (re.compile(r"\b(AWS [A-Za-z0-9]{4,128}:)[A-Za-z0-9+/=]+"), r"\1" + REDACTED),
    # secret keys and passwords written as key/value pairs (JSON, YAML, TOML, env, repr)
    (
        re.compile(r"""(?i)((?:aws_)?secret(?:[_\-]?access)?[_\-]?key["']?\s*[:=]\s*b?["']?)[^"'\s,}&]+"""),
        r"\1" + REDACTED,
    ),
    (re.compile(r"""(?i)(\bpassword["']?\s*[:=]\s*["']?)[^"'\s,}&]+"""), r"\1" + REDACTED),
)


def redact(text: str, known_secrets: Iterable[str] = ()) -> str:
    """``text`` with credentials and signatures replaced by ``[REDACTED]``."""
    for secret in known_secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


#: query parameters whose values are credentials (compared lower-cased)
_SECRET_QUERY_PARAMS = frozenset({"signature", "x-amz-signature", "x-amz-security-token"})


def redact_request_uri(uri: str, known_secrets: Iterable[str] = ()) -> str:
    """``"GET /path?query HTTP/1.1"`` with signature and session-token query values and known secrets redacted.

    The access log's request line is the one string every request logs; it only ever carries secrets in its
    query, so it is redacted by parsing the query rather than with :func:`redact`'s patterns (a tenth of the
    cost, and the access log is written once per request).
    """
    for secret in known_secrets:
        if secret and secret in uri:
            uri = uri.replace(secret, REDACTED)
    head, question, rest = uri.partition("?")
    if not question:
        return uri
    query, space, tail = rest.partition(" ")
    lowered = query.lower()
    if "signature=" not in lowered and "token=" not in lowered:
        return uri
    params = query.split("&")
    for i, param in enumerate(params):
        name, equals, value = param.partition("=")
        if equals and value and name.lower() in _SECRET_QUERY_PARAMS:
            params[i] = name + "=" + REDACTED
    return head + "?" + "&".join(params) + space + tail


class SecretRedactionFilter(logging.Filter):
    """Rewrites the message, string extras and traceback text of every record that passes a handler.

    ``known_secrets`` are exact strings (the configured secret access keys) removed wherever they appear,
    even when no pattern would recognise them.
    """

    def __init__(self, known_secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.known_secrets = tuple(s for s in known_secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_smarts3_redacted", False):
            return True
        message = record.getMessage()
        record.msg, record.args = redact(message, self.known_secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.known_secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.known_secrets)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, redact(value, self.known_secrets))
        record._smarts3_redacted = True
        return True


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


# --- access log


class AccessRecord(msgspec.Struct, kw_only=True):
    """One served request, as the access log records it. Sizes in bytes, times in milliseconds."""

    #: start of the request, seconds since the epoch
    time: float
    request_id: str
    remote_addr: str = ""
    access_key: str = ""
    #: S3 access-log operation name, e.g. ``REST.PUT.OBJECT``
    operation: str = ""
    bucket: str = ""
    key: str = ""
    status: int = 0
    error_code: str = ""
    bytes_sent: int = 0
    object_size: int | None = None
    total_time_ms: float = 0.0
    turn_around_time_ms: float | None = None
    user_agent: str = ""
    referrer: str = ""
    #: ``"GET /bucket/key?x=1 HTTP/1.1"`` without the quotes; query signatures are redacted before writing
    request_uri: str = ""
    version_id: str = ""
    bucket_owner: str = ""
    host_id: str = ""
    signature_version: str = ""
    cipher_suite: str = ""
    auth_type: str = ""
    host_header: str = ""
    tls_version: str = ""


def _dash(value: object) -> str:
    if value is None or value == "":
        return "-"
    return str(value)


def _quoted(value: str) -> str:
    return '"' + (value.replace("\\", "\\\\").replace('"', '\\"') if value else "-") + '"'


def _s3_time(epoch: float) -> str:
    return time.strftime("[%d/%b/%Y:%H:%M:%S +0000]", time.gmtime(epoch))


#: (whole second, its "YYYY-MM-DDTHH:MM:SS" text): every access line of one second shares the formatting
_iso_second: tuple[int, str] = (-1, "")


def _iso_time(epoch: float) -> str:
    global _iso_second
    second = int(epoch)
    if _iso_second[0] != second:
        _iso_second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_iso_second[1]}.{int(epoch * 1000) % 1000:03d}Z"


def format_access_s3(record: AccessRecord) -> str:
    """The S3 server access log line (AWS "Amazon S3 server access log format"), '-' for missing fields."""
    fields = [
        _dash(record.bucket_owner),
        _dash(record.bucket),
        _s3_time(record.time),
        _dash(record.remote_addr),
        _dash(record.access_key),
        _dash(record.request_id),
        _dash(record.operation),
        _dash(quote(record.key, safe="/") if record.key else ""),
        _quoted(record.request_uri),
        _dash(record.status or ""),
        _dash(record.error_code),
        _dash(record.bytes_sent if record.bytes_sent else ""),
        _dash(record.object_size),
        _dash(round(record.total_time_ms)),
        _dash(None if record.turn_around_time_ms is None else round(record.turn_around_time_ms)),
        _quoted(record.referrer),
        _quoted(record.user_agent),
        _dash(record.version_id),
        _dash(record.host_id),
        _dash(record.signature_version),
        _dash(record.cipher_suite),
        _dash(record.auth_type),
        _dash(record.host_header),
        _dash(record.tls_version),
        "-",  # access point ARN
        "-",  # aclRequired
    ]
    return " ".join(fields)


def _written_default(field: msgspec.structs.FieldInfo) -> object:
    """The default that makes an omit-defaults encoder leave out exactly the empty fields: "" and None are
    empty; numbers are never left out (a 0 is information), so their default is one no request produces."""
    if field.default is None or field.default == "":
        return field.default
    return -1.0 if isinstance(field.default, float) else -1


#: :class:`AccessRecord` as written: the same fields in the same order, ``time`` as ISO 8601 text, and every
#: empty field left out, in one msgspec encode
_AccessJson = msgspec.defstruct(
    "_AccessJson",
    [("time", str)]
    + [
        (f.name, f.type) if f.required else (f.name, f.type, _written_default(f))
        for f in msgspec.structs.fields(AccessRecord)[1:]
    ],
    omit_defaults=True,
)

_access_encoder = msgspec.json.Encoder()


def format_access_json(record: AccessRecord) -> str:
    """The access record as one JSON object (empty fields omitted, ``time`` as ISO 8601 UTC)."""
    fields = msgspec.structs.astuple(record)
    return _access_encoder.encode(_AccessJson(_iso_time(record.time), *fields[1:])).decode()


class _AccessState:
    enabled = False
    format: Literal["s3", "json"] = "json"
    #: the configured secret keys, redacted from request lines
    secrets: tuple[str, ...] = ()


_access_state = _AccessState()
_access_logger = logging.getLogger(ACCESS_LOGGER_NAME)


def access_log_enabled() -> bool:
    """Whether :func:`log_access` writes anything; check it before building an expensive record."""
    return _access_state.enabled


class _PendingLines(threading.local):
    loop: asyncio.AbstractEventLoop | None = None
    lines: list[str] | None = None


_pending = _PendingLines()


#: how long a line logged on an event loop may wait for others to share its write
ACCESS_BATCH_SECONDS = 0.005


def log_access(record: AccessRecord) -> None:
    """Write one access-log line (a no-op when the access log is off).

    On an event loop the line is written within :data:`ACCESS_BATCH_SECONDS`, together with every other line
    logged meanwhile: one log record and one write for all of them, instead of a record, a filter pass and a
    flushed write per request (through ``Logger.info`` and the pattern redaction, the access log halved the rate
    of small GETs). The lifespan's shutdown and :func:`configure_logging` write what is pending. Called off a
    loop, it writes at once.
    """
    if not _access_state.enabled:
        return
    if record.request_uri:
        record.request_uri = redact_request_uri(record.request_uri, _access_state.secrets)
    line = format_access_json(record) if _access_state.format == "json" else format_access_s3(record)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        _write_access_lines([line])
        return
    pending = _pending
    lines = pending.lines
    if lines is None or pending.loop is not loop:
        if lines:  # left by a loop that stopped before writing them
            _write_access_lines(lines)
        lines = pending.lines = []
        pending.loop = loop
        loop.call_later(ACCESS_BATCH_SECONDS, _flush_pending)
    lines.append(line)


def flush_access_log() -> None:
    """Write the lines this thread's event loop has not written yet."""
    _flush_pending()


def _flush_pending() -> None:
    pending = _pending
    lines, pending.lines, pending.loop = pending.lines, None, None
    if lines:
        _write_access_lines(lines)


def _write_access_lines(lines: list[str]) -> None:
    """One LogRecord carrying finished lines: formatters write its message as it is, redaction skips it."""
    logger = _access_logger
    if logger.disabled:
        return
    record = logger.makeRecord(
        ACCESS_LOGGER_NAME,
        logging.INFO,
        "",
        0,
        "\n".join(lines),
        (),
        None,
        extra={"access_lines": True, "_smarts3_redacted": True},
    )
    logger.handle(record)


# --- formatters


def _exception_text(record: logging.LogRecord) -> str | None:
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    return record.exc_text or None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, extras, exc.

    Access-log batches (already formatted by :func:`log_access`, JSON or S3 lines) are written as they are.
    """

    def __init__(self) -> None:
        super().__init__()
        self._encoder = msgspec.json.Encoder(enc_hook=repr)

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "access_lines", False):
            return str(record.msg)
        data: dict[str, Any] = {
            "time": _iso_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            data["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                data[key] = value
        exc = _exception_text(record)
        if exc:
            data["exc"] = exc
        if record.stack_info:
            data["stack"] = record.stack_info
        return self._encoder.encode(data).decode()


class TextFormatter(logging.Formatter):
    """``2025-01-02T03:04:05.678Z INFO    smarts3.x [req-id] message key=value``; access-log batches as they are."""

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "access_lines", False):
            return str(record.msg)
        request_id = getattr(record, "request_id", None)
        line = f"{_iso_time(record.created)} {record.levelname:<7} {record.name}"
        if request_id:
            line += f" [{request_id}]"
        line += " " + record.getMessage()
        extras = [
            f"{k}={v!r}"
            for k, v in vars(record).items()
            if k not in _STANDARD_ATTRS and not k.startswith("_")
        ]
        if extras:
            line += " " + " ".join(extras)
        exc = _exception_text(record)
        if exc:
            line += "\n" + exc
        if record.stack_info:
            line += "\n" + record.stack_info
        return line


# --- set-up

_OWNED = "_smarts3_handler"


def _handler(path: str, settings: LoggingOptions, stream: TextIO | None) -> logging.Handler:
    if not path:
        return logging.StreamHandler(stream if stream is not None else sys.stderr)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # maxBytes=0 disables rotation (RotatingFileHandler's own convention)
    return logging.handlers.RotatingFileHandler(
        path, maxBytes=settings.max_bytes, backupCount=settings.backup_count, encoding="utf-8"
    )


def _remove_owned(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        if getattr(handler, _OWNED, False):
            logger.removeHandler(handler)
            handler.close()


def configure_logging(
    settings: LoggingOptions,
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Install smarts3's handlers (replacing ones installed by an earlier call; safe to call again).

    ``secrets`` are exact strings to redact everywhere (configured secret keys). ``stream`` replaces stderr,
    for tests.
    """
    _flush_pending()  # lines logged under the old configuration go where it said
    known = tuple(secrets)
    redaction = SecretRedactionFilter(known)
    request_ids = _RequestIdFilter()

    def make_formatter() -> logging.Formatter:
        if settings.format == "json":
            return JsonFormatter()
        return TextFormatter()

    root = logging.getLogger()
    _remove_owned(root)
    main = _handler(settings.file, settings, stream)
    main.setFormatter(make_formatter())
    main.addFilter(request_ids)
    main.addFilter(redaction)
    setattr(main, _OWNED, True)
    root.addHandler(main)
    root.setLevel(_LEVELS[settings.level])

    # uvicorn's own loggers go through ours; its access log is off (the app writes the access log)
    for name in ("uvicorn", "uvicorn.error"):
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
    logging.getLogger("uvicorn.access").disabled = True

    access = logging.getLogger(ACCESS_LOGGER_NAME)
    _remove_owned(access)
    access.setLevel(logging.INFO)
    if settings.access_log and settings.access_log_file:
        handler = _handler(settings.access_log_file, settings, stream)
        handler.setFormatter(make_formatter())
        handler.addFilter(redaction)
        setattr(handler, _OWNED, True)
        access.addHandler(handler)
        access.propagate = False
    else:
        access.propagate = True  # same destination as the application log
    access.disabled = not settings.access_log
    _access_state.enabled = settings.access_log
    _access_state.secrets = redaction.known_secrets
    _access_state.format = settings.access_log_format
