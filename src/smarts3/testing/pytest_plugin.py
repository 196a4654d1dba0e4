"""pytest plugin (registered through the ``pytest11`` entry point): ``smarts3_server`` and ``s3_client``.

def test_upload(s3_client):
    s3_client.create_bucket(Bucket="b")
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from smarts3.testing.server import RunningServer, running_server


@pytest.fixture
def smarts3_server() -> Iterator[RunningServer]:
    """A fresh in-memory smarts3 on a free loopback port, for one test."""
    with running_server() as server:
        yield server


@pytest.fixture
def s3_client(smarts3_server: RunningServer) -> Any:
    """A boto3 S3 client pointed at ``smarts3_server``."""
    return smarts3_server.client()
