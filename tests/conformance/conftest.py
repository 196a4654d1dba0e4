"""Conformance fixtures: the same boto3 scenario against moto (in-process server) and smarts3 (both adapters).

Servers are started once per session; every test makes buckets with unique names, so tests never see each
other's state. ``compare`` runs one scenario on every target and asserts the outcomes that matter are equal;
``target`` is the parametrised form for tests that assert on one server at a time.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from smarts3.testing import RunningServer, running_server
from smarts3.testing.server import free_port

from s3conformance import Run, Target, compare_outcomes

TARGET_NAMES = ("moto", "smarts3-fs", "smarts3-mem")
SMARTS3_NAMES = ("smarts3-fs", "smarts3-mem")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    # werkzeug logs every request moto serves to stderr
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def smarts3_fs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data_dir: Path = tmp_path_factory.mktemp("smarts3-conformance-data")
    with running_server(data_dir=data_dir) as server:
        yield server


@pytest.fixture(scope="session")
def smarts3_mem() -> Iterator[RunningServer]:
    with running_server() as server:
        yield server


_counter = itertools.count()


def _bucket_namer(target: str) -> Callable[[], str]:
    def make() -> str:
        # S3: bucket names are 3-63 chars of lowercase letters, digits, dots and hyphens
        return f"conf-{next(_counter)}-{uuid.uuid4().hex[:12]}"

    return make


def _client(endpoint: str, access_key: str, secret_key: str, region: str, **config: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
        config=Config(**config) if config else None,
    )


@pytest.fixture(scope="session")
def targets(moto_endpoint: str, smarts3_fs: RunningServer, smarts3_mem: RunningServer) -> dict[str, Target]:
    """Every server under test, each with a default-config boto3 client (newest boto3, default checksums)."""
    built = {
        "moto": Target(
            name="moto",
            endpoint_url=moto_endpoint,
            access_key="testing",
            secret_key="testing",
            region="us-east-1",
            client=_client(moto_endpoint, "testing", "testing", "us-east-1"),
            new_bucket_name=_bucket_namer("moto"),
        )
    }
    for name, server in (("smarts3-fs", smarts3_fs), ("smarts3-mem", smarts3_mem)):
        built[name] = Target(
            name=name,
            endpoint_url=server.endpoint_url,
            access_key=server.access_key,
            secret_key=server.secret_key,
            region=server.region,
            client=_client(server.endpoint_url, server.access_key, server.secret_key, server.region),
            new_bucket_name=_bucket_namer(name),
        )
    return built


@pytest.fixture(params=TARGET_NAMES)
def target(request: pytest.FixtureRequest, targets: dict[str, Target]) -> Target:
    """One server at a time: moto, smarts3 on the filesystem, smarts3 in memory."""
    return targets[request.param]


@pytest.fixture(params=SMARTS3_NAMES)
def smarts3_target(request: pytest.FixtureRequest, targets: dict[str, Target]) -> Target:
    """smarts3 only (both adapters): for behaviour moto does not implement or gets wrong."""
    return targets[request.param]


@pytest.fixture
def compare(targets: dict[str, Target]) -> Callable[..., dict[str, Any]]:
    """Run a scenario on every target and assert the outcomes agree; returns outcomes by target name."""

    def run(scenario: Callable[[Run], Any], *, moto_differs: str | None = None) -> dict[str, Any]:
        prefix = f"conf-{uuid.uuid4().hex[:16]}"
        outcomes = {name: scenario(Run(t, bucket_prefix=prefix)) for name, t in targets.items()}
        compare_outcomes(outcomes, moto_differs=moto_differs)
        return outcomes

    return run
