"""The composition root: the only place that knows which adapter implements which port."""

from __future__ import annotations

from pathlib import Path

from dependency_injector import containers, providers

from smarts3.adapters.auth import Authenticator
from smarts3.adapters.http.cors import CorsPolicy, server_rule
from smarts3.adapters.observability.metrics import RequestRecorder, S3Metrics
from smarts3.domain.ports import Clock, StorageBackend
from smarts3.domain.services.buckets import BucketService
from smarts3.domain.services.common import Limits, SystemClock, TimeOrderedIds
from smarts3.domain.services.listing import ListingService
from smarts3.domain.services.multipart import MultipartService
from smarts3.domain.services.objects import ObjectService
from smarts3.entrypoints.s3.api import S3Api
from smarts3.entrypoints.s3.post_object import PostObjectHandler
from smarts3.entrypoints.settings import Settings


def make_storage(settings: Settings, clock: Clock) -> StorageBackend:
    if settings.storage.backend == "memory":
        from smarts3.adapters.storage.memory import MemoryStorage

        return MemoryStorage(clock=clock)
    from smarts3.adapters.storage.filesystem import FilesystemStorage

    return FilesystemStorage(
        Path(settings.storage.directory),
        fsync=settings.storage.fsync,
        clock=clock,
        fsync_helper=settings.storage.fsync_helper,
    )


def make_limits(settings: Settings) -> Limits:
    limits = settings.limits
    return Limits(
        max_object_size=limits.max_object_size,
        max_metadata_size=limits.max_metadata_size,
        max_key_length=limits.max_key_length,
        min_part_size=limits.min_part_size,
    )


def make_authenticator(settings: Settings) -> Authenticator:
    credentials = {c.access_key_id: c.secret_access_key for c in settings.effective_credentials()}
    return Authenticator(
        credentials,
        region=settings.server.region,
        enabled=settings.auth.enabled,
        max_skew_seconds=settings.auth.max_clock_skew,
    )


def make_post_object_handler(settings: Settings) -> PostObjectHandler:
    credentials = {c.access_key_id: c.secret_access_key for c in settings.effective_credentials()}
    return PostObjectHandler(credentials, auth_enabled=settings.auth.enabled)


def make_metrics(settings: Settings) -> S3Metrics | None:
    return S3Metrics() if settings.metrics.enabled else None


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(TimeOrderedIds)
    storage = providers.Singleton(make_storage, settings=settings, clock=clock)
    limits = providers.Singleton(make_limits, settings=settings)
    authenticator = providers.Singleton(make_authenticator, settings=settings)
    metrics = providers.Singleton(make_metrics, settings=settings)
    observer = providers.Singleton(RequestRecorder, metrics=metrics)

    buckets = providers.Singleton(BucketService, storage=storage, region=settings.provided.server.region)
    objects = providers.Singleton(ObjectService, storage=storage, clock=clock, ids=ids, limits=limits)
    listing = providers.Singleton(ListingService, storage=storage)
    multipart = providers.Singleton(MultipartService, storage=storage, clock=clock, ids=ids, limits=limits)

    # always wired: bucket CORS configurations apply even when server-wide CORS (settings.cors) is off
    cors = providers.Singleton(
        CorsPolicy, buckets=buckets, server=providers.Callable(server_rule, settings.provided.cors)
    )
    post_object = providers.Singleton(make_post_object_handler, settings=settings)

    s3_api = providers.Singleton(
        S3Api,
        buckets=buckets,
        objects=objects,
        listing=listing,
        multipart=multipart,
        authenticator=authenticator,
        base_domain=settings.provided.server.base_domain,
        request_timeout=settings.provided.limits.request_timeout,
        max_header_size=settings.provided.limits.max_header_size,
        auth_enabled=settings.provided.auth.enabled,
        observer=observer,
        cors=cors,
    )
