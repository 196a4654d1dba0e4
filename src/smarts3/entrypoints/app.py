"""The Litestar application: operational endpoints as Litestar routes, the S3 API mounted as a raw ASGI app.

S3 routes by method + query parameters rather than by path, and its object path is the hot path, so the S3 API
is one ASGI callable mounted at ``/`` (Litestar ``asgi`` mount); health, readiness and metrics are ordinary
Litestar handlers on paths that contain ``_``, which no valid bucket name can.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dependency_injector import providers
from litestar import Litestar, MediaType, Response, get
from litestar.handlers import asgi
from litestar.types import Receive, Scope, Send

from smarts3.adapters.observability.logging import flush_access_log
from smarts3.domain.errors import S3Error
from smarts3.domain.ports import StorageBackend
from smarts3.domain.services.multipart import MultipartService
from smarts3.entrypoints.container import Container
from smarts3.entrypoints.lifecycle_runner import LifecycleRunner
from smarts3.entrypoints.settings import Settings

log = logging.getLogger("smarts3")

#: threads for blocking storage I/O per process
IO_THREADS = 64


class Smarts3App:
    """The ASGI app uvicorn serves: S3 requests go straight to the S3 API, everything else to Litestar.

    The Litestar application owns lifespan (storage start-up, background workers) and the operational routes; it
    also mounts the S3 API at ``/``, so serving ``.litestar`` alone behaves the same. This front door only saves
    the hot object path the framework's per-request layers (router, exception middleware), about half of a small
    GET's cost on a 2-core machine (see bench/README.md).
    """

    def __init__(
        self, litestar: Litestar, s3_api: Any, litestar_paths: set[str], storage: StorageBackend | None = None
    ) -> None:
        self.litestar = litestar
        self.state = litestar.state
        #: the storage backend the app serves (for tests and embedding code that inspect it)
        self.storage = storage
        self._s3 = s3_api
        self._litestar_paths = frozenset(litestar_paths)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] not in self._litestar_paths:
            await self._s3(scope, receive, send)
            return
        await self.litestar(scope, receive, send)


def create_app(settings: Settings, *, storage: StorageBackend | None = None) -> Smarts3App:
    """Build the ASGI app for ``settings``; ``storage`` overrides the configured backend (tests, embedding)."""
    container = Container(settings=settings)
    if storage is not None:
        container.storage.override(providers.Object(storage))
    api = container.s3_api()
    api.post_object_handler = container.post_object()
    backend: StorageBackend = container.storage()
    multipart = container.multipart()

    @asgi("/", is_mount=True, copy_scope=False)
    async def s3(scope: Scope, receive: Receive, send: Send) -> None:
        await api(scope, receive, send)  # type: ignore[arg-type]

    @get(settings.metrics.health_path, media_type=MediaType.JSON, sync_to_thread=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @get(settings.metrics.ready_path, media_type=MediaType.JSON)
    async def ready() -> Response[dict[str, str]]:
        try:
            await backend.check_ready()
        except S3Error as error:
            return Response({"status": "unavailable", "reason": error.code}, status_code=503)
        except OSError as error:
            return Response({"status": "unavailable", "reason": str(error)}, status_code=503)
        return Response({"status": "ready"})

    metrics = container.metrics()
    handlers: list[Any] = [health, ready, s3]
    if metrics is not None:

        @get(
            settings.metrics.path, media_type="text/plain; version=0.0.4; charset=utf-8", sync_to_thread=False
        )
        def prometheus() -> Response[bytes]:
            return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

        handlers.append(prometheus)

    lifecycle_runner = LifecycleRunner(
        backend,
        container.objects(),
        multipart,
        container.clock(),
        day_seconds=settings.lifecycle.day_seconds,
        metrics=metrics,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Blocking file I/O (fsync above all) runs in threads; the default pool (cpus + 4) would serialise
        # concurrent uploads behind a handful of fsyncs on a 2-core machine.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="smarts3-io")
        )
        await backend.start()
        cleanup = asyncio.create_task(_expire_uploads_forever(multipart, settings))
        gauges = asyncio.create_task(_refresh_upload_gauge(backend, metrics)) if metrics is not None else None
        lifecycle = (
            asyncio.create_task(lifecycle_runner.run_forever(settings.lifecycle.interval))
            if settings.lifecycle.interval > 0
            else None
        )
        try:
            yield
        finally:
            for task in (cleanup, gauges, lifecycle):
                if task is None:
                    continue
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await backend.close()
            flush_access_log()  # the last requests' lines, before the loop that would write them stops

    app = Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        openapi_config=None,
        logging_config=None,
        request_max_body_size=None,
    )
    app.state.container = container
    app.state.s3_api = api
    app.state.lifecycle = lifecycle_runner
    operational = {settings.metrics.health_path, settings.metrics.ready_path}
    if metrics is not None:
        operational.add(settings.metrics.path)
    return Smarts3App(app, api, operational, backend)


async def _expire_uploads_forever(multipart: MultipartService, settings: Settings) -> None:
    max_age = settings.multipart.max_age
    interval = settings.multipart.cleanup_interval
    while True:
        try:
            expired = await multipart.expire(max_age)
            if expired:
                log.info("aborted %d abandoned multipart uploads", expired)
        except Exception:
            log.exception("multipart cleanup failed")
        if interval <= 0:
            return
        await asyncio.sleep(interval)


async def _refresh_upload_gauge(backend: StorageBackend, metrics: Any, interval: float = 15.0) -> None:
    """Keep the multipart-uploads-in-progress gauge current without touching storage on every scrape."""
    while True:
        try:
            total = 0
            for bucket in await backend.list_buckets():
                total += len(await backend.list_uploads(bucket.name))
            metrics.uploads_in_progress = total
        except Exception:
            log.debug("could not count multipart uploads", exc_info=True)
        await asyncio.sleep(interval)
