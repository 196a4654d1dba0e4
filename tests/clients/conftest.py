"""Fixtures for the real-client suite: smarts3 with auth on, over HTTP and HTTPS, filesystem storage."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smarts3.entrypoints.certs import generate_dev_certificates
from smarts3.testing import running_server

from clientkit import MULTIPART_SIZE, Target


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return generate_dev_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def http_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with running_server(data_dir=tmp_path_factory.mktemp("data-http")) as server:
        yield Target(server, None)


@pytest.fixture(scope="session")
def https_target(tmp_path_factory: pytest.TempPathFactory, tls_files: Any) -> Iterator[Target]:
    with running_server(
        data_dir=tmp_path_factory.mktemp("data-https"), ssl_certfile=tls_files.cert, ssl_keyfile=tls_files.key
    ) as server:
        yield Target(server, Path(tls_files.ca))


@pytest.fixture(params=["http", "https"])
def target(request: pytest.FixtureRequest) -> Target:
    """Both transports: boto3, awscli and s3fs only send aws-chunked bodies with trailers over HTTPS."""
    return request.getfixturevalue(f"{request.param}_target")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file big enough that every client switches to multipart; random-ish so framing bugs show."""
    path = tmp_path_factory.mktemp("big") / "big.bin"
    block = hashlib.sha256(b"smarts3").digest() * 2048  # 64 KiB of non-repeating-looking bytes
    with path.open("wb") as fh:
        written = 0
        counter = 0
        while written < MULTIPART_SIZE:
            chunk = hashlib.sha256(counter.to_bytes(8, "big")).digest() + block
            chunk = chunk[: MULTIPART_SIZE - written]
            fh.write(chunk)
            written += len(chunk)
            counter += 1
    return path


