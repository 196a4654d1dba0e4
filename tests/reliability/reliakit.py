"""Helpers for the reliability suite: a real ``smarts3 serve`` subprocess, raw SigV4-signed requests, checks."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from smarts3.testing.server import free_port

ACCESS_KEY = "reliability-key"
SECRET_KEY = "reliability-secret-0123456789"
REGION = "us-east-1"


class ServerProcess:
    """``python -m smarts3.entrypoints.cli serve`` on a data dir; killed and restarted by PID only."""

    def __init__(
        self,
        data_dir: Path,
        *,
        workers: int = 1,
        fsync: bool = True,
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.workers = workers
        self.fsync = fsync
        self.extra_env = dict(env or {})
        self.port = free_port()
        self.log = log or data_dir.parent / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        command = [
            sys.executable,
            "-m",
            "smarts3.entrypoints.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--workers",
            str(self.workers),
            "--shutdown-grace",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        if not self.fsync:
            command.append("--no-fsync")
        env = {
            **os.environ,
            "SMARTS3_ACCESS_KEY_ID": ACCESS_KEY,
            "SMARTS3_SECRET_ACCESS_KEY": SECRET_KEY,
            **self.extra_env,
        }
        env.pop("SMARTS3_CONFIG", None)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"smarts3 exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}"
                )
            if self.ready():
                return
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"smarts3 did not become ready: {self.log.read_text()[-2000:]}")

    def ready(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/_ready")
            status = conn.getresponse().status
            conn.close()
        except OSError:
            return False
        return status == 200

    def kill(self) -> None:
        """SIGKILL this server's process (by PID) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM (graceful) by PID, SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def client(self, **config: Any) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(**{"retries": {"max_attempts": 1}, **config}),
        )


@contextlib.contextmanager
def serving(data_dir: Path, **kwargs: Any) -> Iterator[ServerProcess]:
    server = ServerProcess(data_dir, **kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class _RawPathAuth(SigV4Auth):
    """SigV4 for S3 over a path exactly as sent (S3 does not normalise ``..`` or re-encode the path)."""

    def _normalize_url_path(self, path: str) -> str:
        return path

    def _canonical_query_string_url(self, parts: Any) -> str:
        # the query as sent, each name and value decoded to bytes and re-encoded the one canonical way
        pairs = []
        for item in parts.query.split("&") if parts.query else []:
            name, _, value = item.partition("=")
            pairs.append((_canonical(name), _canonical(value)))
        return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _canonical(text: str) -> str:
    return quote(unquote_to_bytes(text), safe="-_.~")


def sign(
    method: str,
    endpoint_url: str,
    path_and_query: str,
    headers: Mapping[str, str] | None = None,
    *,
    content_sha256: str = "UNSIGNED-PAYLOAD",
) -> dict[str, str]:
    """Headers of a SigV4-signed request for inputs boto3 refuses to build (default: unsigned payload)."""
    request = AWSRequest(
        method=method,
        url=endpoint_url + path_and_query,
        headers={**dict(headers or {}), "X-Amz-Content-SHA256": content_sha256},
    )
    _RawPathAuth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION).add_auth(request)
    signed = dict(request.headers.items())
    signed["Host"] = endpoint_url.split("://", 1)[1]
    return signed


def raw_request(
    method: str,
    endpoint_url: str,
    path_and_query: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    content_length: int | None = None,
    content_sha256: str = "UNSIGNED-PAYLOAD",
) -> bytes:
    """The bytes of a signed HTTP/1.1 request; ``content_length`` may disagree with ``body`` on purpose."""
    signed = sign(method, endpoint_url, path_and_query, headers, content_sha256=content_sha256)
    length = len(body) if content_length is None else content_length
    lines = [f"{method} {path_and_query} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in signed.items()]
    lines.append(f"Content-Length: {length}")
    lines.append("Connection: close")  # so a reader knows the reply ended (HEAD has a length but no body)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def raw_exchange(port: int, request: bytes, *, timeout: float = 10.0, shutdown: bool = False) -> bytes:
    """Send raw bytes, read until the server closes (or ``timeout``); returns what came back."""
    chunks: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        if shutdown:
            sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not data:
                break
            chunks.append(data)
            reply = b"".join(chunks)
            if _complete(reply):
                break
    return b"".join(chunks)


def _complete(reply: bytes) -> bool:
    """Whether ``reply`` holds one whole HTTP response (status line, headers, Content-Length body)."""
    head, sep, body = reply.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return head.startswith(b"HTTP/1.1 1") is False and b"transfer-encoding" not in head.lower()


def status_of(reply: bytes) -> int:
    assert reply.startswith(b"HTTP/1."), reply[:200]
    return int(reply.split(b" ", 2)[1])
