"""The lifecycle worker: every ``settings.lifecycle.interval`` seconds, apply each bucket's lifecycle rules.

It reads the stored ``lifecycle`` document (S3 XML), turns it into domain rules, walks the bucket through the
storage port and applies what ``smarts3.domain.services.lifecycle`` plans, through the object and multipart
services (so Object Lock and versioning rules hold exactly as for client requests). One log line per action;
counts by action are exported as ``smarts3_lifecycle_actions_total`` when metrics are on.

Several workers (``--workers N``, or several servers on one data directory) may run it at once: every action
is idempotent. Deleting a version twice is a no-op, aborting a finished upload is ignored, and expiring a current
object is conditional on it being the very object the plan saw, so two workers never add two delete markers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

from smarts3.adapters.http import xml as s3xml
from smarts3.domain.errors import PreconditionFailed, S3Error
from smarts3.domain.models import ListQuery, ObjectInfo, VersionListQuery
from smarts3.domain.ports import Clock, StorageBackend
from smarts3.domain.services.common import bucket_versioning
from smarts3.domain.services.lifecycle import Action, Rule, RuleFilter, plan_key, plan_uploads
from smarts3.domain.services.multipart import MultipartService
from smarts3.domain.services.objects import ObjectService

log = logging.getLogger("smarts3.lifecycle")

LIFECYCLE_KIND = "lifecycle"
_PAGE = 1000


def rules_from_xml(document: bytes) -> list[Rule]:
    """The stored PutBucketLifecycleConfiguration body as domain rules."""
    rules: list[Rule] = []
    for raw in s3xml.parse_lifecycle(document):
        f = raw.filter
        if f is None:
            rule_filter = RuleFilter(prefix=raw.prefix or "")
        else:
            rule_filter = RuleFilter(
                prefix=f.prefix or "",
                tags=f.tags,
                size_greater_than=f.object_size_greater_than,
                size_less_than=f.object_size_less_than,
            )
        expiration = raw.expiration
        noncurrent = raw.noncurrent_version_expiration
        rules.append(
            Rule(
                id=raw.id or "",
                enabled=raw.status == "Enabled",
                filter=rule_filter,
                expiration_days=None if expiration is None else expiration.days,
                expiration_date=None if expiration is None else expiration.date,
                expired_object_delete_marker=bool(expiration and expiration.expired_object_delete_marker),
                noncurrent_days=None if noncurrent is None else noncurrent.noncurrent_days,
                newer_noncurrent_versions=None
                if noncurrent is None
                else noncurrent.newer_noncurrent_versions,
                abort_upload_days=raw.abort_incomplete_multipart_upload_days,
            )
        )
    return rules


class _ActionCounter:
    """A prometheus_client collector over the runner's counts (registered in the app's metrics registry)."""

    def __init__(self, counts: Counter[str]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily

        family = CounterMetricFamily(
            "smarts3_lifecycle_actions", "Lifecycle actions applied, by action", labels=["action"]
        )
        for action, count in sorted(self._counts.items()):
            family.add_metric([action], count)
        yield family


class LifecycleRunner:
    def __init__(
        self,
        storage: StorageBackend,
        objects: ObjectService,
        multipart: MultipartService,
        clock: Clock,
        *,
        day_seconds: float = 86400,
        metrics: Any = None,
    ) -> None:
        self._storage = storage
        self._objects = objects
        self._multipart = multipart
        self._clock = clock
        self._day = timedelta(seconds=day_seconds)
        #: action kind -> how many this process applied
        self.counts: Counter[str] = Counter()
        registry = getattr(metrics, "registry", None)
        if registry is not None:
            registry.register(_ActionCounter(self.counts))

    async def run_forever(self, interval: float) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("lifecycle pass failed")
            await asyncio.sleep(max(interval, 0.01))

    async def run_once(self) -> list[Action]:
        """One pass over every bucket that has a lifecycle configuration; returns the actions applied."""
        applied: list[Action] = []
        for bucket in await self._storage.list_buckets():
            try:
                applied += await self.run_bucket(bucket.name)
            except S3Error as error:  # bucket deleted meanwhile, unreadable document ...
                log.warning("lifecycle skipped bucket %s: %s", bucket.name, error.code)
        return applied

    async def run_bucket(self, bucket: str) -> list[Action]:
        document = await self._storage.get_bucket_config(bucket, LIFECYCLE_KIND)
        if document is None:
            return []
        rules = [rule for rule in rules_from_xml(document) if rule.enabled]
        if not rules:
            return []
        versioned = await bucket_versioning(self._storage, bucket) is not None
        applied: list[Action] = []
        groups = self._version_groups(bucket) if versioned else self._current_objects(bucket)
        async for versions in groups:
            for action in plan_key(rules, versions, now=self._clock.now(), day=self._day):
                if await self._apply(bucket, action):
                    applied.append(action)
        if any(rule.abort_upload_days is not None for rule in rules):
            uploads = await self._storage.list_uploads(bucket)
            for action in plan_uploads(rules, uploads, now=self._clock.now(), day=self._day):
                if await self._apply(bucket, action):
                    applied.append(action)
        return applied

    async def _current_objects(self, bucket: str) -> AsyncIterator[list[ObjectInfo]]:
        start_after = ""
        while True:
            page = await self._storage.list_objects(
                bucket, ListQuery(start_after=start_after, max_keys=_PAGE)
            )
            for info in page.objects:
                yield [info]
            if not page.is_truncated or not page.objects:
                return
            start_after = page.objects[-1].key

    async def _version_groups(self, bucket: str) -> AsyncIterator[list[ObjectInfo]]:
        """All versions of each key, newest first, one key at a time (a key may span listing pages)."""
        query = VersionListQuery(max_keys=_PAGE)
        group: list[ObjectInfo] = []
        while True:
            page = await self._storage.list_versions(bucket, query)
            for info in page.versions:
                if group and group[0].key != info.key:
                    yield group
                    group = []
                group.append(info)
            if not page.is_truncated or page.next_key_marker is None:
                break
            query = VersionListQuery(
                key_marker=page.next_key_marker,
                version_id_marker=page.next_version_id_marker or "",
                max_keys=_PAGE,
            )
        if group:
            yield group

    async def _apply(self, bucket: str, action: Action) -> bool:
        """Apply one action; False when it no longer applies (another worker or a client got there first)."""
        try:
            if action.kind == "expire-current":
                await self._objects.delete_object(bucket, action.key, condition=_unchanged(action))
            elif action.kind in ("delete-version", "remove-delete-marker"):
                await self._objects.delete_object(bucket, action.key, action.version_id or "null")
            else:
                assert action.upload_id is not None
                await self._multipart.abort(bucket, action.key, action.upload_id)
        except PreconditionFailed:
            return False
        except S3Error as error:
            if error.code not in ("NoSuchUpload", "NoSuchKey", "NoSuchVersion"):
                log.warning(
                    "lifecycle %s failed bucket=%s key=%s: %s", action.kind, bucket, action.key, error.code
                )
            return False
        self.counts[action.kind] += 1
        log.info(
            "lifecycle %s bucket=%s key=%s version=%s upload=%s rule=%s",
            action.kind,
            bucket,
            action.key,
            action.version_id or "-",
            action.upload_id or "-",
            action.rule_id or "-",
        )
        return True


def _unchanged(action: Action) -> Any:
    """Storage evaluates this under the key's lock: expire only the object the plan saw."""

    def condition(current: ObjectInfo | None) -> None:
        if current is None or current.etag != action.etag or current.last_modified != action.last_modified:
            raise PreconditionFailed()

    return condition


__all__ = ["LifecycleRunner", "rules_from_xml"]
