"""Prometheus metrics through OpenTelemetry: requests by S3 operation and status, latency, bytes, in-flight.

Each app gets its own prometheus_client registry, so several apps in one process (tests) never collide.
With ``--workers N`` every worker keeps its own counters; a scrape reaches one worker (documented in README).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, generate_latest

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class S3Metrics:
    """The instruments smarts3 records, and the text a scrape of ``/_metrics`` returns."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._reader = PrometheusMetricReader(registry=self.registry, disable_target_info=True)
        self._provider = MeterProvider(
            metric_readers=[self._reader],
            resource=Resource.create({"service.name": "smarts3"}),
            views=[
                View(
                    instrument_name="smarts3_request_duration",
                    aggregation=ExplicitBucketHistogramAggregation(boundaries=_LATENCY_BUCKETS),
                )
            ],
        )
        meter = self._provider.get_meter("smarts3")
        self._started = time.time()
        self.requests = meter.create_counter(
            "smarts3_requests", unit="1", description="S3 requests by operation and HTTP status"
        )
        self.duration = meter.create_histogram(
            "smarts3_request_duration", unit="s", description="S3 request latency by operation"
        )
        self.bytes_in = meter.create_counter(
            "smarts3_received_bytes", unit="By", description="Request body bytes"
        )
        self.bytes_out = meter.create_counter(
            "smarts3_sent_bytes", unit="By", description="Response body bytes"
        )
        self.in_flight = meter.create_up_down_counter(
            "smarts3_requests_in_flight", unit="1", description="Requests being served"
        )
        self.uploads_in_progress = 0
        meter.create_observable_gauge(
            "smarts3_multipart_uploads_in_progress",
            callbacks=[self._observe_uploads],
            unit="1",
            description="Multipart uploads started and not yet completed or aborted",
        )
        meter.create_observable_gauge(
            "smarts3_uptime", callbacks=[self._observe_uptime], unit="s", description="Seconds since start"
        )

    def _observe_uploads(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self.uploads_in_progress)]

    def _observe_uptime(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(time.time() - self._started)]

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def shutdown(self) -> None:
        self._provider.shutdown()


class RequestRecorder:
    """The S3 API's request observer: feeds metrics and the access log from one place."""

    def __init__(self, metrics: S3Metrics | None) -> None:
        self._metrics = metrics
        self._attributes: dict[tuple[str, int], dict[str, Any]] = {}

    def request_started(self) -> None:
        if self._metrics is not None:
            self._metrics.in_flight.add(1)

    def request_finished(
        self,
        req: Any,
        status: int,
        bytes_sent: int,
        bytes_received: int,
        object_size: int | None,
        seconds: float,
    ) -> None:
        metrics = self._metrics
        if metrics is not None:
            key = (req.operation, status)
            attributes = self._attributes.get(key)
            if attributes is None:
                attributes = {"operation": req.operation, "status": str(status)}
                if len(self._attributes) < 4096:
                    self._attributes[key] = attributes
            metrics.in_flight.add(-1)
            metrics.requests.add(1, attributes)
            metrics.duration.record(seconds, {"operation": req.operation})
            if bytes_received:
                metrics.bytes_in.add(bytes_received, {"operation": req.operation})
            if bytes_sent:
                metrics.bytes_out.add(bytes_sent, {"operation": req.operation})
        from smarts3.adapters.observability.logging import AccessRecord, access_log_enabled, log_access

        if access_log_enabled():
            headers = req.headers
            query = req.query_string
            log_access(
                AccessRecord(
                    time=time.time() - seconds,
                    request_id=req.request_id,
                    remote_addr=req.remote_addr,
                    access_key=req.access_key or "",
                    operation=req.operation,
                    bucket=req.bucket or "",
                    key=req.key or "",
                    status=status,
                    error_code=req.error_code or "",
                    bytes_sent=bytes_sent,
                    object_size=object_size,
                    total_time_ms=seconds * 1000.0,
                    user_agent=headers.get("user-agent", ""),
                    referrer=headers.get("referer", ""),
                    request_uri=f"{req.method} {req.raw_path}{'?' + query if query else ''} HTTP/1.1",
                    version_id=req.query.get("versionId", ""),
                    host_header=headers.get("host", ""),
                    signature_version="SigV4"
                    if "AWS4-HMAC-SHA256" in headers.get("authorization", query)
                    else "",
                )
            )
