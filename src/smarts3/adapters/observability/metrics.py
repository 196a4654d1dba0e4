"""Prometheus metrics through OpenTelemetry: requests by S3 operation and status, latency, bytes, in-flight.

Counting happens in plain dictionaries on the request path (a dict increment costs far less than an OpenTelemetry
``Counter.add`` with attributes); OpenTelemetry observable instruments read them at scrape time and the
OpenTelemetry Prometheus exporter renders them. The latency histogram is the one exception: OpenTelemetry has no
observable histogram and ``Histogram.record`` cost ~14% of a 4 KiB GET in profiles, so latencies are counted
into a bucket array here and exported by a small prometheus_client collector registered in the same registry
(same text format, same scrape). Each app gets its own registry, so several apps in one process (tests) never
collide. With ``--workers N`` every worker keeps its own figures; a scrape reaches one of them.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

from smarts3.adapters.observability.logging import AccessRecord, access_log_enabled, log_access

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class LatencyHistogram(Collector):
    """Per-operation latency histogram: one bisect and two additions per request."""

    def __init__(self, name: str, documentation: str, buckets: tuple[float, ...]) -> None:
        self._name = name
        self._documentation = documentation
        self._buckets = buckets
        #: operation -> [counts per bucket (last = +Inf)..., ], and running sums
        self._counts: dict[str, list[int]] = {}
        self._sums: defaultdict[str, float] = defaultdict(float)

    def observe(self, operation: str, seconds: float) -> None:
        counts = self._counts.get(operation)
        if counts is None:
            counts = self._counts[operation] = [0] * (len(self._buckets) + 1)
        counts[bisect.bisect_left(self._buckets, seconds)] += 1
        self._sums[operation] += seconds

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self._name, self._documentation, labels=["operation"], unit="seconds")
        for operation, counts in list(self._counts.items()):
            cumulative = 0
            buckets: list[tuple[str, float]] = []
            for bound, count in zip((*self._buckets, float("inf")), counts, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), cumulative))
            family.add_metric([operation], buckets, self._sums[operation])
        yield family


class S3Metrics:
    """The instruments smarts3 records, and the text a scrape of ``/_metrics`` returns."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._reader = PrometheusMetricReader(registry=self.registry, disable_target_info=True)
        self._provider = MeterProvider(
            metric_readers=[self._reader],
            resource=Resource.create({"service.name": "smarts3"}),
        )
        meter = self._provider.get_meter("smarts3")
        self._started = time.time()
        #: (operation, status) -> count
        self.request_counts: defaultdict[tuple[str, int], int] = defaultdict(int)
        self.received: defaultdict[str, int] = defaultdict(int)
        self.sent: defaultdict[str, int] = defaultdict(int)
        self.in_flight = 0
        self.uploads_in_progress = 0
        meter.create_observable_counter(
            "smarts3_requests",
            callbacks=[self._observe_requests],
            unit="1",
            description="S3 requests by operation and HTTP status",
        )
        self.duration = LatencyHistogram(
            "smarts3_request_duration", "S3 request latency by operation", _LATENCY_BUCKETS
        )
        self.registry.register(self.duration)
        meter.create_observable_counter(
            "smarts3_received_bytes",
            callbacks=[self._observe_received],
            unit="By",
            description="Request body bytes",
        )
        meter.create_observable_counter(
            "smarts3_sent_bytes", callbacks=[self._observe_sent], unit="By", description="Response body bytes"
        )
        meter.create_observable_up_down_counter(
            "smarts3_requests_in_flight",
            callbacks=[self._observe_in_flight],
            unit="1",
            description="Requests being served",
        )
        meter.create_observable_gauge(
            "smarts3_multipart_uploads_in_progress",
            callbacks=[self._observe_uploads],
            unit="1",
            description="Multipart uploads started and not yet completed or aborted",
        )
        meter.create_observable_gauge(
            "smarts3_uptime", callbacks=[self._observe_uptime], unit="s", description="Seconds since start"
        )

    def _observe_requests(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(count, {"operation": operation, "status": str(status)})
            for (operation, status), count in list(self.request_counts.items())
        ]

    def _observe_received(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(n, {"operation": op}) for op, n in list(self.received.items())]

    def _observe_sent(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(n, {"operation": op}) for op, n in list(self.sent.items())]

    def _observe_in_flight(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self.in_flight)]

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

    def request_started(self) -> None:
        if self._metrics is not None:
            self._metrics.in_flight += 1

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
        operation = req.operation
        if metrics is not None:
            metrics.in_flight -= 1
            metrics.request_counts[(operation, status)] += 1
            if bytes_received:
                metrics.received[operation] += bytes_received
            if bytes_sent:
                metrics.sent[operation] += bytes_sent
            metrics.duration.observe(operation, seconds)
        if access_log_enabled():
            headers = req.headers
            query = req.query_string
            log_access(
                AccessRecord(
                    time=time.time() - seconds,
                    request_id=req.request_id,
                    remote_addr=req.remote_addr,
                    access_key=req.access_key or "",
                    operation=operation,
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
