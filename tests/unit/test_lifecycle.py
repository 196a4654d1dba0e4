"""Lifecycle: the pure rule evaluation, the runner on both adapters with a fake clock, and the background worker
of a running server through boto3 (a "day" of one second)."""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import msgspec
import pytest
from botocore.exceptions import ClientError

from smarts3.adapters.storage.filesystem import FilesystemStorage
from smarts3.adapters.storage.memory import MemoryStorage
from smarts3.domain.models import ListQuery, ObjectInfo, UploadInfo, VersionListQuery
from smarts3.domain.ports import StorageBackend
from smarts3.domain.services.common import Limits, TimeOrderedIds
from smarts3.domain.services.lifecycle import Action, Rule, RuleFilter, expiry, plan_key, plan_uploads
from smarts3.domain.services.multipart import MultipartService
from smarts3.domain.services.objects import BodyChecks, ObjectService, WriteAttributes
from smarts3.entrypoints.lifecycle_runner import LifecycleRunner, rules_from_xml
from smarts3.entrypoints.settings import LifecycleSettings, LoggingSettings
from smarts3.testing import running_server
from smarts3.testing.server import server_settings

T0 = datetime(2030, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def _info(key: str, age_days: float, **fields: Any) -> ObjectInfo:
    return ObjectInfo(
        key=key, size=fields.pop("size", 10), etag="e", last_modified=T0 - age_days * DAY, **fields
    )


def _kinds(actions: list[Any]) -> list[tuple[str, str | None]]:
    return [(a.kind, a.version_id) for a in actions]


# -- pure evaluation ---------------------------------------------------------------------------------------
def test_with_real_days_an_expiration_is_due_at_the_midnight_utc_after_creation_plus_days() -> None:
    """S3 rounds a due time up to the next midnight UTC (and announces that date in x-amz-expiration)."""
    rule = Rule(id="r", expiration_days=1)
    created = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
    info = ObjectInfo(key="k", size=1, etag="e", last_modified=created)
    assert plan_key([rule], [info], now=datetime(2030, 1, 2, 23, 59, tzinfo=UTC), day=DAY) == []
    assert len(plan_key([rule], [info], now=datetime(2030, 1, 3, tzinfo=UTC), day=DAY)) == 1
    assert expiry([rule], info) == (datetime(2030, 1, 3, tzinfo=UTC), "r")
    # a shortened day (tests) keeps exact timing: 1 "day" of 10 s after creation
    short = timedelta(seconds=10)
    assert plan_key([rule], [info], now=created + timedelta(seconds=9), day=short) == []
    assert len(plan_key([rule], [info], now=created + timedelta(seconds=10), day=short)) == 1


def test_expiration_days_expires_only_objects_old_enough() -> None:
    rule = Rule(id="r", expiration_days=3)
    assert _kinds(plan_key([rule], [_info("k", 3)], now=T0, day=DAY)) == [("expire-current", None)]
    assert plan_key([rule], [_info("k", 2.9)], now=T0, day=DAY) == []


def test_expiration_date_expires_everything_once_the_date_passed() -> None:
    rule = Rule(expiration_date=T0)
    assert len(plan_key([rule], [_info("k", 0)], now=T0, day=DAY)) == 1
    assert plan_key([rule], [_info("k", 0)], now=T0 - timedelta(seconds=1), day=DAY) == []


def test_disabled_rules_do_nothing() -> None:
    rule = Rule(enabled=False, expiration_days=1, abort_upload_days=1)
    assert plan_key([rule], [_info("k", 9)], now=T0, day=DAY) == []
    upload = UploadInfo(bucket="b", key="k", upload_id="u", initiated=T0 - 9 * DAY)
    assert plan_uploads([rule], [upload], now=T0, day=DAY) == []


@pytest.mark.parametrize(
    ("rule_filter", "info", "matches"),
    [
        (RuleFilter(prefix="logs/"), _info("logs/a", 5), True),
        (RuleFilter(prefix="logs/"), _info("data/a", 5), False),
        (RuleFilter(tags=(("t", "1"),)), _info("a", 5, tags=(("t", "1"), ("u", "2"))), True),
        (RuleFilter(tags=(("t", "1"),)), _info("a", 5, tags=(("t", "2"),)), False),
        (RuleFilter(size_greater_than=10), _info("a", 5, size=11), True),
        (RuleFilter(size_greater_than=10), _info("a", 5, size=10), False),
        (RuleFilter(size_less_than=10), _info("a", 5, size=10), False),
        (
            RuleFilter(prefix="a", size_less_than=10, tags=(("t", "1"),)),
            _info("ab", 5, size=3, tags=(("t", "1"),)),
            True,
        ),
    ],
)
def test_filters_by_prefix_tags_and_size(rule_filter: RuleFilter, info: ObjectInfo, matches: bool) -> None:
    actions = plan_key([Rule(filter=rule_filter, expiration_days=1)], [info], now=T0, day=DAY)
    assert bool(actions) is matches


def test_noncurrent_versions_expire_counted_from_when_they_were_replaced() -> None:
    versions = [
        _info("k", 1, version_id="v3"),
        _info("k", 5, version_id="v2"),  # noncurrent for 1 day
        _info("k", 9, version_id="v1"),  # noncurrent for 5 days
    ]
    rule = Rule(noncurrent_days=3)
    assert _kinds(plan_key([rule], versions, now=T0, day=DAY)) == [("delete-version", "v1")]


def test_newer_noncurrent_versions_keeps_the_newest_noncurrent_ones() -> None:
    versions = [_info("k", 10 - i, version_id=f"v{10 - i}") for i in range(5)]  # v10 (current) .. v6
    rule = Rule(noncurrent_days=1, newer_noncurrent_versions=2)
    assert _kinds(plan_key([rule], versions, now=T0, day=DAY)) == [
        ("delete-version", "v7"),
        ("delete-version", "v6"),
    ]


def test_locked_noncurrent_versions_are_kept() -> None:
    versions = [
        _info("k", 1, version_id="v2"),
        _info("k", 9, version_id="v1", legal_hold="ON"),
    ]
    assert plan_key([Rule(noncurrent_days=1)], versions, now=T0, day=DAY) == []


def test_expired_object_delete_marker_is_removed_once_alone() -> None:
    marker = _info("k", 1, version_id="m", is_delete_marker=True, size=0)
    rule = Rule(expired_object_delete_marker=True)
    assert _kinds(plan_key([rule], [marker], now=T0, day=DAY)) == [("remove-delete-marker", "m")]
    behind = [marker, _info("k", 2, version_id="v1")]
    assert plan_key([rule], behind, now=T0, day=DAY) == []
    # the same pass that expires the last noncurrent version also removes the marker it leaves alone
    both = [rule, Rule(noncurrent_days=1)]
    assert _kinds(plan_key(both, behind, now=T0, day=DAY)) == [
        ("delete-version", "v1"),
        ("remove-delete-marker", "m"),
    ]


def test_incomplete_uploads_are_aborted_after_days_after_initiation() -> None:
    old = UploadInfo(bucket="b", key="tmp/x", upload_id="old", initiated=T0 - 2 * DAY)
    young = UploadInfo(bucket="b", key="tmp/y", upload_id="young", initiated=T0 - DAY / 2)
    elsewhere = UploadInfo(bucket="b", key="keep/z", upload_id="other", initiated=T0 - 9 * DAY)
    rule = Rule(filter=RuleFilter(prefix="tmp/"), abort_upload_days=1)
    actions = plan_uploads([rule], [old, young, elsewhere], now=T0, day=DAY)
    assert [a.upload_id for a in actions] == ["old"]


def test_stored_configuration_becomes_domain_rules() -> None:
    document = b"""<LifecycleConfiguration><Rule><ID>a</ID><Filter><And><Prefix>p/</Prefix>
    <Tag><Key>t</Key><Value>1</Value></Tag><ObjectSizeGreaterThan>5</ObjectSizeGreaterThan></And></Filter>
    <Status>Enabled</Status><Expiration><Days>2</Days></Expiration>
    <Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition>
    <NoncurrentVersionExpiration><NoncurrentDays>3</NoncurrentDays><NewerNoncurrentVersions>1</NewerNoncurrentVersions>
    </NoncurrentVersionExpiration></Rule>
    <Rule><Prefix>old/</Prefix><Status>Disabled</Status><AbortIncompleteMultipartUpload>
    <DaysAfterInitiation>4</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>"""
    first, second = rules_from_xml(document)
    assert first == Rule(
        id="a",
        filter=RuleFilter(prefix="p/", tags=(("t", "1"),), size_greater_than=5),
        expiration_days=2,
        noncurrent_days=3,
        newer_noncurrent_versions=1,
    )
    assert second == Rule(enabled=False, filter=RuleFilter(prefix="old/"), abort_upload_days=4)


# -- the runner on real adapters, with a clock the test moves ------------------------------------------------
@attrs.define
class FakeClock:
    moment: datetime = T0

    def now(self) -> datetime:
        return self.moment


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _lifecycle(*rules: str) -> bytes:
    return f"<LifecycleConfiguration>{''.join(rules)}</LifecycleConfiguration>".encode()


EXPIRE_ALL_AFTER_ONE_DAY = (
    "<Rule><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>"
)


@attrs.define
class World:
    clock: FakeClock
    storage: StorageBackend
    objects: ObjectService
    runner: LifecycleRunner

    def another_runner(self, storage: StorageBackend) -> LifecycleRunner:
        ids, limits = TimeOrderedIds(), Limits()
        objects = ObjectService(storage, self.clock, ids, limits)
        return LifecycleRunner(
            storage,
            objects,
            MultipartService(storage, self.clock, ids, limits),
            self.clock,
            day_seconds=86400,
        )

    async def put(
        self, bucket: str, key: str, data: bytes = b"data", tags: tuple[tuple[str, str], ...] = ()
    ) -> str | None:
        info = await self.objects.put_object(
            bucket, key, _body(data), WriteAttributes(tags=tags), BodyChecks()
        )
        return info.version_id

    async def versions(self, bucket: str) -> list[tuple[str, str | None, bool]]:
        page = await self.storage.list_versions(bucket, VersionListQuery())
        return [(v.key, v.version_id, v.is_delete_marker) for v in page.versions]


@pytest.fixture(params=["memory", "filesystem"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    clock = FakeClock()
    storage: StorageBackend
    if request.param == "memory":
        storage = MemoryStorage(clock=clock)
    else:
        storage = FilesystemStorage(tmp_path / "data", fsync=False, clock=clock)
    await storage.start()
    ids, limits = TimeOrderedIds(), Limits()
    objects = ObjectService(storage, clock, ids, limits)
    runner = LifecycleRunner(storage, objects, MultipartService(storage, clock, ids, limits), clock)
    yield World(clock, storage, objects, runner)
    await storage.close()


async def _bucket(world: World, config: bytes, versioning: str | None) -> str:
    name = f"lc-{uuid.uuid4().hex[:12]}"
    await world.storage.create_bucket(name, region="us-east-1")
    if versioning:
        await world.storage.put_bucket_config(name, "versioning", versioning.encode())
    await world.storage.put_bucket_config(name, "lifecycle", config)
    return name


async def test_runner_expires_current_objects_of_an_unversioned_bucket(world: World) -> None:
    bucket = await _bucket(world, _lifecycle(EXPIRE_ALL_AFTER_ONE_DAY), None)
    await world.put(bucket, "old")
    world.clock.moment += DAY / 2
    await world.put(bucket, "young")
    world.clock.moment += DAY / 2
    applied = await world.runner.run_once()
    assert [(a.kind, a.key) for a in applied] == [("expire-current", "old")]
    assert [v[0] for v in await world.versions(bucket)] == ["young"]
    assert await world.runner.run_once() == []


async def test_runner_adds_one_delete_marker_in_a_versioned_bucket_even_with_two_workers(
    world: World,
) -> None:
    bucket = await _bucket(world, _lifecycle(EXPIRE_ALL_AFTER_ONE_DAY), "Enabled")
    version = await world.put(bucket, "k")
    world.clock.moment += 2 * DAY
    other = world.another_runner(world.storage)
    first = await world.runner.run_once()
    second = await other.run_once()
    assert [a.kind for a in first] == ["expire-current"] and second == []
    listed = await world.versions(bucket)
    assert [(key, marker) for key, _, marker in listed] == [("k", True), ("k", False)]
    assert listed[1][1] == version


async def test_runner_does_not_expire_an_object_overwritten_after_planning(world: World) -> None:
    bucket = await _bucket(world, _lifecycle(EXPIRE_ALL_AFTER_ONE_DAY), None)
    await world.put(bucket, "k", b"old")
    world.clock.moment += 2 * DAY
    seen = (await world.storage.list_objects(bucket, ListQuery())).objects[0]
    await world.put(bucket, "k", b"new")
    stale = Action("expire-current", "k", "", etag=seen.etag, last_modified=seen.last_modified)
    assert await world.runner._apply(bucket, stale) is False
    reader = await world.storage.open_object(bucket, "k")
    assert b"".join([chunk async for chunk in reader.iter_bytes()]) == b"new"


async def test_runner_expires_noncurrent_versions_and_then_the_lone_marker(world: World) -> None:
    rules = _lifecycle(
        "<Rule><ID>nc</ID><Filter/><Status>Enabled</Status>"
        "<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule>",
        "<Rule><ID>dm</ID><Filter/><Status>Enabled</Status>"
        "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>",
    )
    bucket = await _bucket(world, rules, "Enabled")
    await world.put(bucket, "k", b"1")
    await world.put(bucket, "k", b"2")
    await world.objects.delete_object(bucket, "k")
    assert len(await world.versions(bucket)) == 3
    world.clock.moment += DAY / 2
    assert await world.runner.run_once() == []
    world.clock.moment += DAY
    applied = await world.runner.run_once()
    assert sorted(a.kind for a in applied) == ["delete-version", "delete-version", "remove-delete-marker"]
    assert await world.versions(bucket) == []


async def test_runner_aborts_incomplete_uploads(world: World) -> None:
    rules = _lifecycle(
        "<Rule><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status>"
        "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
        "</AbortIncompleteMultipartUpload></Rule>"
    )
    bucket = await _bucket(world, rules, None)
    multipart = MultipartService(world.storage, world.clock, TimeOrderedIds(), Limits())
    doomed = await multipart.create(bucket, "tmp/x", WriteAttributes())
    kept = await multipart.create(bucket, "keep/x", WriteAttributes())
    world.clock.moment += 2 * DAY
    applied = await world.runner.run_once()
    assert [a.upload_id for a in applied] == [doomed.upload_id]
    assert [u.upload_id for u in await world.storage.list_uploads(bucket)] == [kept.upload_id]


async def test_two_servers_on_one_data_directory_expire_each_object_once(tmp_path: Path) -> None:
    clock = FakeClock()
    stores = [FilesystemStorage(tmp_path / "shared", fsync=False, clock=clock) for _ in range(2)]
    for store in stores:
        await store.start()
    ids, limits = TimeOrderedIds(), Limits()
    objects = ObjectService(stores[0], clock, ids, limits)
    bucket = "shared-bucket"
    await stores[0].create_bucket(bucket, region="us-east-1")
    await stores[0].put_bucket_config(bucket, "versioning", b"Enabled")
    await stores[0].put_bucket_config(bucket, "lifecycle", _lifecycle(EXPIRE_ALL_AFTER_ONE_DAY))
    for i in range(20):
        await objects.put_object(bucket, f"k{i}", _body(b"x"), WriteAttributes(), BodyChecks())
    clock.moment += 2 * DAY
    runners = [
        LifecycleRunner(
            s, ObjectService(s, clock, ids, limits), MultipartService(s, clock, ids, limits), clock
        )
        for s in stores
    ]
    results = await asyncio.gather(*(r.run_once() for r in runners))
    assert sum(len(r) for r in results) == 20
    page = await stores[1].list_versions(bucket, VersionListQuery())
    assert sum(v.is_delete_marker for v in page.versions) == 20
    for store in stores:
        await store.close()


# -- the background worker of a running server -------------------------------------------------------------
@pytest.fixture(scope="module", params=["memory", "filesystem"])
def fast_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    data_dir = tmp_path_factory.mktemp("lifecycle") if request.param == "filesystem" else None
    settings = msgspec.structs.replace(
        server_settings(data_dir=data_dir),
        lifecycle=LifecycleSettings(interval=0.2, day_seconds=1),
        logging=LoggingSettings(access_log=False, level="info"),
    )
    with running_server(settings) as server:
        yield server


def _wait_for(check: Callable[[], bool], timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("lifecycle did not act in time")


def _keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_worker_expires_by_prefix_tag_and_size_and_logs_each_action(
    fast_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="smarts3.lifecycle")
    s3 = fast_server.client()
    bucket = f"lc-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {"ID": "tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 1}},
                {
                    "ID": "tagged-big",
                    "Filter": {"And": {"Tags": [{"Key": "x", "Value": "1"}], "ObjectSizeGreaterThan": 3}},
                    "Status": "Enabled",
                    "Expiration": {"Days": 1},
                },
                {
                    "ID": "cold",
                    "Filter": {"Prefix": "cold/"},
                    "Status": "Enabled",
                    "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}],
                },
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="tmp/a", Body=b"x")
    s3.put_object(Bucket=bucket, Key="big", Body=b"12345", Tagging="x=1")
    s3.put_object(Bucket=bucket, Key="small", Body=b"1", Tagging="x=1")
    s3.put_object(Bucket=bucket, Key="untagged", Body=b"12345")
    s3.put_object(Bucket=bucket, Key="cold/a", Body=b"x")
    _wait_for(lambda: _keys(s3, bucket) == ["cold/a", "small", "untagged"])
    # transitions are reported back, never applied
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["Transitions"] for r in rules if r["ID"] == "cold"] == [
        [{"Days": 1, "StorageClass": "GLACIER"}]
    ]
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="cold/a")
    lines = [
        r.getMessage() for r in caplog.records if r.name == "smarts3.lifecycle" and bucket in r.getMessage()
    ]
    assert sorted(line.split(" key=")[1].split(" ")[0] for line in lines) == ["big", "tmp/a"]
    metrics = urllib.request.urlopen(f"{fast_server.endpoint_url}/_metrics").read().decode()
    assert 'smarts3_lifecycle_actions_total{action="expire-current"}' in metrics


def test_worker_handles_versions_markers_and_uploads(fast_server: Any) -> None:
    s3 = fast_server.client()
    bucket = f"lc-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="pending")["UploadId"]
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "all",
                    "Filter": {},
                    "Status": "Enabled",
                    "Expiration": {"Days": 2},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                },
                {
                    "ID": "markers",
                    "Filter": {},
                    "Status": "Enabled",
                    "Expiration": {"ExpiredObjectDeleteMarker": True},
                },
            ]
        },
    )
    _wait_for(lambda: not s3.list_multipart_uploads(Bucket=bucket).get("Uploads"))
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads") is None
    with pytest.raises(ClientError):
        s3.list_parts(Bucket=bucket, Key="pending", UploadId=upload)
    # day 1: the replaced version goes; day 2: the current one gets a delete marker; then the marker, now
    # alone, goes too
    _wait_for(
        lambda: (
            "Versions" not in s3.list_object_versions(Bucket=bucket)
            and not s3.list_object_versions(Bucket=bucket).get("DeleteMarkers")
        )
    )
    assert _keys(s3, bucket) == []
