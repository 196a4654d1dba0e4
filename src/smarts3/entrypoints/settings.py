"""The one settings model: msgspec Structs decoded from a file, SMARTS3_* environment variables, CLI flags.

Loading and validation live in ``smarts3.entrypoints.config``; this module only declares shape and defaults.
Keys are camelCase in files (``cleanSlate``); the loader also accepts snake_case and kebab-case spellings.
Units: durations are seconds, sizes are bytes.
"""

from __future__ import annotations

from typing import Literal

import msgspec

DEV_ACCESS_KEY = "smarts3-dev"
DEV_SECRET_KEY = "smarts3-dev-secret"


class Credential(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    access_key_id: str
    secret_access_key: str


class StoredCredential(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """One user of the credential store file (``auth.credentialsFile``)."""

    access_key_id: str
    secret_access_key: str
    name: str = ""
    #: ISO 8601 time the secret was created or last rotated
    created: str = ""


class CredentialStoreFile(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """The credential store file: ``{"version": 1, "users": [...]}``, written by ``smarts3 user``."""

    version: int = 1
    users: list[StoredCredential] = msgspec.field(default_factory=list)


class TlsSettings(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    enabled: bool = False
    #: path to a PEM file, or the PEM text itself
    cert: str = ""
    key: str = ""
    ca: str = ""
    #: port of an optional plain-HTTP listener that redirects to HTTPS (0 = off)
    redirect_http_port: int = 0


class ServerSettings(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    host: str = "127.0.0.1"
    port: int = 9000
    #: virtual-host style: requests to ``<bucket>.<base_domain>`` address the bucket (empty = path style only)
    base_domain: str = ""
    workers: int = 1
    region: str = "us-east-1"
    #: seconds in-flight requests get to finish after SIGTERM/SIGINT
    shutdown_grace: float = 10.0
    ssl: TlsSettings = msgspec.field(default_factory=TlsSettings)
    #: seconds an idle keep-alive connection stays open
    keep_alive_timeout: float = 5.0
    #: maximum concurrent connections+tasks per worker before answering 503 (0 = unlimited)
    limit_concurrency: int = 0
    #: listen backlog
    backlog: int = 2048
    #: trust X-Forwarded-For / X-Forwarded-Proto from ``forwarded_allow_ips`` (behind a reverse proxy)
    proxy_headers: bool = False
    forwarded_allow_ips: list[str] = msgspec.field(default_factory=lambda: ["127.0.0.1"])


class StorageSettings(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    backend: Literal["filesystem", "memory"] = "filesystem"
    directory: str = "./s3-data"
    #: fsync file data, metadata and directory entries before acknowledging a write
    fsync: bool = True
    #: who makes small writes durable in batches: a helper process per worker (no GIL shared with the event
    #: loop, faster) or a thread of the server process (no child process)
    fsync_helper: Literal["process", "thread"] = "process"
    #: remove every bucket at start-up (the plan's ``cleanSlate``)
    clean_slate: bool = False


class AuthSettings(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    enabled: bool = True
    credentials: list[Credential] = msgspec.field(default_factory=list)
    #: JSON credential store kept by ``smarts3 user add|rm|rotate``, merged with ``credentials`` at start-up
    #: (empty = none). When set, the development credentials are never accepted.
    credentials_file: str = ""
    #: allow the documented development credentials on a non-loopback address
    allow_dev_credentials_on_public_address: bool = False
    #: accepted clock skew, seconds (S3: 15 minutes)
    max_clock_skew: int = 900


class CorsSettings(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    enabled: bool = False
    allowed_origins: list[str] = msgspec.field(default_factory=lambda: ["*"])
    allowed_methods: list[str] = msgspec.field(
        default_factory=lambda: ["GET", "PUT", "POST", "DELETE", "HEAD"]
    )
    allowed_headers: list[str] = msgspec.field(default_factory=lambda: ["*"])
    exposed_headers: list[str] = msgspec.field(
        default_factory=lambda: ["ETag", "x-amz-request-id", "x-amz-version-id", "x-amz-delete-marker"]
    )
    max_age: int = 3600
    allow_credentials: bool = False


class LimitsSettings(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    #: S3: 5 TiB for one object
    max_object_size: int = 5 * 1024**4
    #: S3: 2 KB of user-defined metadata
    max_metadata_size: int = 2048
    max_key_length: int = 1024
    #: S3: parts other than the last must be at least 5 MiB
    min_part_size: int = 5 * 1024 * 1024
    #: seconds a client may stay silent mid-body before RequestTimeout (S3 gives up after about 20 s; it must stay
    #: below the SDKs' 60 s read timeout, or a client with a short body times out, and retries, first)
    request_timeout: float = 20.0
    max_header_size: int = 16 * 1024


class LoggingSettings(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"
    #: empty = stderr
    file: str = ""
    max_bytes: int = 10 * 1024 * 1024
    backup_count: int = 5
    access_log: bool = True
    access_log_format: Literal["s3", "json"] = "json"
    access_log_file: str = ""


class MetricsSettings(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    enabled: bool = True
    path: str = "/_metrics"
    health_path: str = "/_health"
    ready_path: str = "/_ready"


class MultipartSettings(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    #: abandoned uploads older than this many seconds are aborted (default 7 days)
    max_age: float = 7 * 24 * 3600
    #: seconds between cleanup runs (0 = only at start-up)
    cleanup_interval: float = 3600


class LifecycleSettings(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    interval: float = 3600
    #: length of a lifecycle "day" in seconds (tests shorten it)
    day_seconds: float = 86400


class Settings(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    storage: StorageSettings = msgspec.field(default_factory=StorageSettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    cors: CorsSettings = msgspec.field(default_factory=CorsSettings)
    limits: LimitsSettings = msgspec.field(default_factory=LimitsSettings)
    logging: LoggingSettings = msgspec.field(default_factory=LoggingSettings)
    metrics: MetricsSettings = msgspec.field(default_factory=MetricsSettings)
    multipart: MultipartSettings = msgspec.field(default_factory=MultipartSettings)
    lifecycle: LifecycleSettings = msgspec.field(default_factory=LifecycleSettings)

    def effective_credentials(self) -> list[Credential]:
        """Configured credentials plus those of ``auth.credentialsFile`` (inline ones win on a clash), or the
        documented development pair when neither is configured. Reads the file on every call."""
        if self.auth.credentials_file:
            from smarts3.entrypoints.config import read_credentials_file  # config imports this module

            inline = list(self.auth.credentials)
            known = {c.access_key_id for c in inline}
            stored = read_credentials_file(self.auth.credentials_file)
            return inline + [c for c in stored if c.access_key_id not in known]
        if self.auth.credentials:
            return list(self.auth.credentials)
        return [Credential(access_key_id=DEV_ACCESS_KEY, secret_access_key=DEV_SECRET_KEY)]
