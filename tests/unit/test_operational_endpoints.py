"""/_health, /_ready and /_metrics: outside S3 auth, never hiding a bucket, and a Prometheus scrape that
reports requests by operation and status, latency histograms, bytes, in-flight, uploads and uptime."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from smarts3.adapters.storage.memory import MemoryStorage
from smarts3.domain.errors import InsufficientStorage
from smarts3.entrypoints.app import create_app
from smarts3.entrypoints.settings import MetricsSettings, Settings
from smarts3.testing import running_server
from smarts3.testing.server import RunningServer, server_settings


class FlakyStorage:
    """A storage backend whose readiness check fails on demand (everything else is delegated)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.failure: Exception | None = None

    async def check_ready(self) -> None:
        if self.failure is not None:
            raise self.failure
        await self._inner.check_ready()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@contextlib.contextmanager
def serve(settings: Settings, storage: Any) -> Iterator[str]:
    """Serve ``create_app(settings, storage=storage)`` on its loopback port; yields the base URL."""
    config = uvicorn.Config(
        create_app(settings, storage=storage),
        host="127.0.0.1",
        port=settings.server.port,
        lifespan="on",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server failed to start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{settings.server.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition: (name, labels without otel_scope_*) -> value."""
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = frozenset((k, v) for k, v in sample.labels.items() if not k.startswith("otel_scope"))
            out[(sample.name, labels)] = sample.value
    return out


def value(
    all_samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return all_samples.get((name, frozenset(labels.items())), 0.0)


def scrape(base_url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = httpx.get(f"{base_url}/_metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with running_server() as s3:
        yield s3


def test_health_answers_200_without_a_signature(server: RunningServer) -> None:
    response = httpx.get(f"{server.endpoint_url}/_health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_answers_200_when_storage_is_usable(server: RunningServer) -> None:
    response = httpx.get(f"{server.endpoint_url}/_ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_unsigned_s3_request_is_still_refused(server: RunningServer) -> None:
    # the probes are outside auth; the S3 API next to them is not
    assert httpx.get(f"{server.endpoint_url}/").status_code == 403


def test_buckets_named_like_the_probes_stay_reachable(server: RunningServer) -> None:
    client = server.client()
    for name in ("health", "ready", "metrics"):
        client.create_bucket(Bucket=name)
        client.put_object(Bucket=name, Key="k", Body=name.encode())
        assert client.get_object(Bucket=name, Key="k")["Body"].read() == name.encode()
        assert [o["Key"] for o in client.list_objects_v2(Bucket=name)["Contents"]] == ["k"]
    assert httpx.get(f"{server.endpoint_url}/_health").json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (
            InsufficientStorage("Storage is not writable: [Errno 30] Read-only file system"),
            "XMinioStorageFull",
        ),
        (PermissionError(13, "Permission denied"), "Permission denied"),
    ],
)
def test_ready_answers_503_while_storage_fails_and_recovers(failure: Exception, reason: str) -> None:
    storage = FlakyStorage(MemoryStorage())
    with serve(server_settings(), storage) as base_url:
        assert httpx.get(f"{base_url}/_ready").status_code == 200
        storage.failure = failure
        response = httpx.get(f"{base_url}/_ready")
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"
        assert reason in response.json()["reason"]
        # liveness is not readiness: the process is still alive
        assert httpx.get(f"{base_url}/_health").status_code == 200
        storage.failure = None
        assert httpx.get(f"{base_url}/_ready").status_code == 200


def test_probe_paths_are_configurable() -> None:
    settings = msgspec.structs.replace(
        server_settings(),
        metrics=MetricsSettings(path="/_prom", health_path="/_live", ready_path="/_ok"),
    )
    with running_server(settings) as s3:
        assert httpx.get(f"{s3.endpoint_url}/_live").json() == {"status": "ok"}
        assert httpx.get(f"{s3.endpoint_url}/_ok").json() == {"status": "ready"}
        assert "smarts3_uptime_seconds" in httpx.get(f"{s3.endpoint_url}/_prom").text
        # the default paths are now ordinary (invalid-bucket) S3 paths, not probes
        assert httpx.get(f"{s3.endpoint_url}/_health").status_code != 200


def test_metrics_count_requests_by_operation_and_status() -> None:
    with running_server() as s3:
        client = s3.client()
        client.create_bucket(Bucket="counted")
        for i in range(3):
            client.put_object(Bucket="counted", Key=f"k{i}", Body=b"x" * 1000)
        for i in range(2):
            client.get_object(Bucket="counted", Key=f"k{i}")["Body"].read()
        with pytest.raises(client.exceptions.NoSuchKey):
            client.get_object(Bucket="counted", Key="missing")
        httpx.get(f"{s3.endpoint_url}/counted/k0")  # anonymous: 403

        metrics = scrape(s3.endpoint_url)
        requests = "smarts3_requests_total"
        assert value(metrics, requests, operation="REST.PUT.BUCKET", status="200") == 1
        assert value(metrics, requests, operation="REST.PUT.OBJECT", status="200") == 3
        assert value(metrics, requests, operation="REST.GET.OBJECT", status="200") == 2
        assert value(metrics, requests, operation="REST.GET.OBJECT", status="404") == 1
        assert value(metrics, requests, operation="REST.GET.OBJECT", status="403") == 1

        # latency: a cumulative histogram per operation with the +Inf bucket equal to the count
        duration = "smarts3_request_duration_seconds"
        count = value(metrics, duration + "_count", operation="REST.GET.OBJECT")
        assert count == 4
        buckets = {
            labels: v
            for (name, labels), v in metrics.items()
            if name == duration + "_bucket" and ("operation", "REST.GET.OBJECT") in labels
        }
        bounds = sorted(
            (float(dict(labels)["le"]), v) for labels, v in buckets.items() if dict(labels)["le"] != "+Inf"
        )
        assert len(bounds) >= 10
        assert [v for _, v in bounds] == sorted(v for _, v in bounds)
        assert value(metrics, duration + "_bucket", operation="REST.GET.OBJECT", le="+Inf") == count
        assert 0 < value(metrics, duration + "_sum", operation="REST.GET.OBJECT") < 30

        assert value(metrics, "smarts3_received_bytes_total", operation="REST.PUT.OBJECT") >= 3000
        assert value(metrics, "smarts3_sent_bytes_total", operation="REST.GET.OBJECT") >= 2000
        # the scrape itself is not an S3 request, so nothing is in flight now
        assert value(metrics, "smarts3_requests_in_flight") == 0
        assert ("smarts3_multipart_uploads_in_progress", frozenset()) in metrics


def test_in_flight_gauge_counts_a_request_being_served() -> None:
    with running_server() as s3:
        client = s3.client()
        client.create_bucket(Bucket="slow")
        url = client.generate_presigned_url("put_object", Params={"Bucket": "slow", "Key": "k"})
        release = threading.Event()

        def body() -> Iterator[bytes]:
            yield b"first half "
            release.wait(10)
            yield b"second half"

        result: list[int] = []
        uploader = threading.Thread(
            target=lambda: result.append(
                httpx.put(url, content=body(), headers={"content-length": "22"}, timeout=20).status_code
            )
        )
        uploader.start()
        try:
            deadline = time.monotonic() + 10
            while value(scrape(s3.endpoint_url), "smarts3_requests_in_flight") != 1:
                assert time.monotonic() < deadline, "the in-flight PUT never showed up"
                time.sleep(0.02)
        finally:
            release.set()
            uploader.join(timeout=20)
        assert result == [200]
        assert value(scrape(s3.endpoint_url), "smarts3_requests_in_flight") == 0


def test_uptime_grows(server: RunningServer) -> None:
    first = value(scrape(server.endpoint_url), "smarts3_uptime_seconds")
    time.sleep(0.2)
    second = value(scrape(server.endpoint_url), "smarts3_uptime_seconds")
    assert 0 < first < second


def test_uploads_in_progress_reports_unfinished_multipart_uploads(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_server(data_dir=data) as s3:
        client = s3.client()
        client.create_bucket(Bucket="mpu")
        for key in ("a", "b"):
            client.create_multipart_upload(Bucket="mpu", Key=key)
    # the gauge is refreshed at start-up (then every 15 s): a restart on the same data shows both uploads
    with running_server(data_dir=data) as s3:
        deadline = time.monotonic() + 10
        while value(scrape(s3.endpoint_url), "smarts3_multipart_uploads_in_progress") != 2:
            assert time.monotonic() < deadline, "uploads in progress never reached 2"
            time.sleep(0.05)
