"""Shared pieces of the real-client suite: the target server, test data and helpers.

Every client is driven with its default settings; only the endpoint, the credentials and (for HTTPS) the test
CA are passed, through arguments or a private config/env in a temp dir, never the user's home config.
Clients are installed by ``scripts/install-clients.sh``; a missing client fails its tests (no skips).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import itertools
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import attrs
import boto3
import pytest
from botocore.config import Config

from smarts3.testing import RunningServer

#: keys every client must round-trip unchanged: unicode, spaces, '+', '&' (and '=' which S3 signs literally)
TRICKY_KEYS = (
    "unicode/ünïcödé-ключ-日本.txt",
    "space/a key with spaces.txt",
    "plus/a+b+c.txt",
    "amp/this&that=1.txt",
    "mixed/ü + & ü.txt",
)
#: user metadata every client sets on a PUT
METADATA = {"color": "blue", "project": "smarts3"}
#: a listing fixture: what ListObjects(prefix="tree/", delimiter="/") must answer
TREE_KEYS = ("tree/a/1.txt", "tree/a/2.txt", "tree/b/1.txt", "tree/c.txt", "tree/d.txt", "other/x.txt")
TREE_PREFIXES = ["tree/a/", "tree/b/"]
TREE_FILES = ["tree/c.txt", "tree/d.txt"]
#: objects in the shared pagination bucket: more than one default page (1000) of every client
PAGED_COUNT = 1003
#: multipart size: above every client's default multipart threshold (8 MiB boto3/awscli, 5 MiB JS/minio,
#: 15 MiB s3cmd, rclone's streaming cutoff), not a multiple of any part size
MULTIPART_SIZE = 21 * 1024 * 1024 + 12345
WRONG_SECRET = "definitely-not-the-secret"

_names = itertools.count()


@attrs.define
class Target:
    """One running smarts3 as a client sees it."""

    server: RunningServer
    ca_file: Path | None  # the test CA for HTTPS, None over HTTP
    _paged_bucket: str | None = None
    _scratch_bucket: str | None = None
    _lock: threading.Lock = attrs.field(factory=threading.Lock)

    @property
    def paged_bucket(self) -> str:
        """A bucket of PAGED_COUNT objects ``p/00000``..., seeded on first use (listings over two pages)."""
        with self._lock:
            if self._paged_bucket is None:
                self._paged_bucket = _seed_paged_bucket(self)
            return self._paged_bucket

    @property
    def scratch_bucket(self) -> str:
        """An existing bucket for requests that must fail (nothing should land in it)."""
        with self._lock:
            if self._scratch_bucket is None:
                self.admin().create_bucket(Bucket="scratch")
                self._scratch_bucket = "scratch"
            return self._scratch_bucket

    @property
    def endpoint(self) -> str:
        return self.server.endpoint_url

    @property
    def https(self) -> bool:
        return self.ca_file is not None

    @property
    def host_port(self) -> str:
        return self.endpoint.split("://", 1)[1]

    def admin(self) -> Any:
        """A plain boto3 client used to seed and to check what another client stored."""
        return boto3.client(
            "s3",
            verify=str(self.ca_file) if self.ca_file else None,
            config=Config(retries={"max_attempts": 1}),
            **self.server.boto3_kwargs(),
        )

    def new_bucket(self, client_name: str) -> str:
        """A fresh bucket name (not created): tests own their bucket."""
        return f"{client_name}-{os.getpid()}-{next(_names)}"

    def create_tree(self, bucket: str) -> None:
        admin = self.admin()
        for key in TREE_KEYS:
            admin.put_object(Bucket=bucket, Key=key, Body=key.encode())


def _seed_paged_bucket(target: Target) -> str:
    bucket = "paged"
    admin = target.admin()
    admin.create_bucket(Bucket=bucket)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: admin.put_object(Bucket=bucket, Key=f"p/{i:05d}", Body=b"x"), range(PAGED_COUNT)))
    return bucket


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for a client subprocess: a private HOME and no AWS settings from the user."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_", "S3CMD_"))}
    home.mkdir(parents=True, exist_ok=True)
    env.update({
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "LC_ALL": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
    })
    env.update(extra)
    return env


def require_executable(name: str) -> str:
    """The path of an installed client; its absence fails the test (scripts/install-clients.sh installs it)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run scripts/install-clients.sh", pytrace=False)
    return path
