"""Run a real smarts3 in a background thread for other people's tests.

    from smarts3.testing import running_server

    with running_server() as s3:
        client = boto3.client("s3", **s3.boto3_kwargs())

In-memory storage by default; pass ``data_dir=`` for the filesystem adapter, and ``ssl_certfile=`` /
``ssl_keyfile=`` (e.g. from ``smarts3 cert generate``) to serve HTTPS.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import attrs
import uvicorn

from smarts3.entrypoints.settings import (
    AuthSettings,
    Credential,
    LimitsSettings,
    LoggingSettings,
    ServerSettings,
    Settings,
    StorageSettings,
)

TEST_ACCESS_KEY = "smarts3-test"
TEST_SECRET_KEY = "smarts3-test-secret"


@attrs.frozen
class RunningServer:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    settings: Settings
    #: the storage backend this server serves (tests inspect it, e.g. the filesystem's pool of reusable files)
    storage: Any = None

    def boto3_kwargs(self) -> dict[str, Any]:
        return {
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": self.region,
        }

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server (needs boto3 installed)."""
        import boto3
        from botocore.config import Config

        return boto3.client("s3", config=Config(**config) if config else None, **self.boto3_kwargs())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_settings(
    *,
    port: int | None = None,
    data_dir: str | Path | None = None,
    auth: bool = True,
    min_part_size: int = 5 * 1024 * 1024,
    fsync: bool = False,
    fsync_helper: Literal["process", "thread"] = "process",
) -> Settings:
    return Settings(
        server=ServerSettings(host="127.0.0.1", port=port or free_port()),
        storage=StorageSettings(
            backend="filesystem" if data_dir is not None else "memory",
            directory=str(data_dir) if data_dir is not None else "./s3-data",
            fsync=fsync,
            fsync_helper=fsync_helper,
        ),
        auth=AuthSettings(
            enabled=auth,
            credentials=[Credential(access_key_id=TEST_ACCESS_KEY, secret_access_key=TEST_SECRET_KEY)],
        ),
        limits=LimitsSettings(min_part_size=min_part_size),
        logging=LoggingSettings(access_log=False, level="warning"),
    )


@contextlib.contextmanager
def running_server(
    settings: Settings | None = None,
    *,
    ssl_certfile: str | Path | None = None,
    ssl_keyfile: str | Path | None = None,
    **kwargs: Any,
) -> Iterator[RunningServer]:
    """Start smarts3 on a free loopback port in a daemon thread; stop it on exit.

    With ``ssl_certfile`` and ``ssl_keyfile`` the server speaks HTTPS and ``endpoint_url`` starts ``https://``.
    """
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise ValueError("ssl_certfile and ssl_keyfile must be given together")
    from smarts3.entrypoints.app import create_app

    settings = settings or server_settings(**kwargs)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.server.host,
        port=settings.server.port,
        lifespan="on",
        log_level="warning",
        access_log=False,
        server_header=False,
        ssl_certfile=str(ssl_certfile) if ssl_certfile is not None else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile is not None else None,
        # idle keep-alive connections a client left open (over TLS they wait for close_notify) would hold a
        # graceful shutdown for ever; a test server gives them a second, then runs the lifespan shutdown
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="smarts3-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("smarts3 test server failed to start")
        time.sleep(0.01)
    credential = settings.effective_credentials()[0]
    scheme = "https" if ssl_certfile is not None else "http"
    try:
        yield RunningServer(
            endpoint_url=f"{scheme}://{settings.server.host}:{settings.server.port}",
            access_key=credential.access_key_id,
            secret_key=credential.secret_access_key,
            region=settings.server.region,
            settings=settings,
            storage=app.storage,
        )
    finally:
        server.should_exit = True
        thread.join(timeout=15)
