"""FilesystemStorage: the StorageBackend port over a local directory (buckets are directories, objects files).

This module is the async facade: it validates names, moves blocking work to worker threads in large units and
delegates to objects.py (commit/read/delete/versioning), listing.py, multipart.py. See layout.py for the tree.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import stat
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from smarts3.adapters.storage.filesystem import fsutil, listing, metadata
from smarts3.adapters.storage.filesystem.bodies import TempFile, commit_on_loop, stream_to_temp
from smarts3.adapters.storage.filesystem.durable import GroupSyncer
from smarts3.adapters.storage.filesystem.layout import Layout
from smarts3.adapters.storage.filesystem.locks import KeyLocks
from smarts3.adapters.storage.filesystem.multipart import PartSlot, Uploads
from smarts3.adapters.storage.filesystem.objects import (
    STAGED_SUFFIX,
    Committed,
    Found,
    KeyPaths,
    NeedLock,
    ObjectEngine,
    Staged,
)
from smarts3.adapters.storage.filesystem.reader import FileObjectReader
from smarts3.adapters.storage.filesystem.sync_process import SyncProcess
from smarts3.domain.errors import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    InsufficientStorage,
    InvalidBucketName,
    NoSuchBucket,
    S3Error,
)
from smarts3.domain.models import (
    BucketInfo,
    DeleteOutcome,
    ListPage,
    ListQuery,
    ObjectInfo,
    PartInfo,
    UploadInfo,
    VersioningStatus,
    VersionListPage,
    VersionListQuery,
)
from smarts3.domain.ports import BodyDigest, BuildObject, Clock, WriteCondition
from smarts3.domain.validation import is_valid_bucket_name


class _UtcClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


_CONFIG_QUIET_NS = 200_000_000
_CONFIG_MEMO_NS = 100_000_000

#: Listings are CPU-bound Python: several of them in the general I/O pool only fight over the GIL (a listing
#: of 200 keys ran 3x slower under 16 concurrent clients). One thread keeps them off the event loop without that.
_LISTING_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smarts3-list")


def _discard_placed(placing: asyncio.Future[PartSlot | None]) -> None:
    if not placing.cancelled() and placing.exception() is None and (slot := placing.result()) is not None:
        slot.discard()


class FilesystemStorage:
    """Objects as plain files under ``root``; everything else under ``root/.smarts3``.

    ``fsync=False`` skips every fsync: much faster writes, but a power loss (not a process crash) may lose
    acknowledged writes or leave empty files. Metadata/data consistency after a process crash is unaffected.
    """

    def __init__(
        self,
        root: Path,
        *,
        fsync: bool = True,
        clock: Clock | None = None,
        fsync_helper: Literal["thread", "process"] = "thread",
    ) -> None:
        self.layout = Layout(Path(root))
        self.fsync = fsync
        self.clock: Clock = clock or _UtcClock()
        self.locks = KeyLocks(self.layout)
        self.cache = metadata.SidecarCache()
        self.objects = ObjectEngine(self.layout, self.locks, self.cache, fsync=fsync, clock=self.clock)
        self.uploads = Uploads(self.layout, fsync=fsync)
        self._ready = False
        #: (bucket, kind) -> ((config dir inode, mtime_ns), document or None); see get_bucket_config
        self._config_cache: dict[tuple[str, str], tuple[tuple[int, int], bytes | None]] = {}
        self._bucket_strs_cache: dict[str, tuple[str, str]] = {}
        #: bucket -> (task, monotonic ns, stat of its config directory): see get_bucket_config
        self._config_stat_memo: dict[str, tuple[object, int, os.stat_result]] = {}
        #: group commit of the file and directory fsyncs of commits made on the event loop: one thread, or one
        #: helper process per event loop (sync_process.py: no GIL shared with the loop; what the server uses)
        self._syncer: GroupSyncer | SyncProcess = (
            SyncProcess() if fsync_helper == "process" else GroupSyncer()
        )

    # -- lifecycle ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        await asyncio.to_thread(self._start)

    def _start(self) -> None:
        layout = self.layout
        for directory in (layout.root, layout.tmp, layout.locks, layout.buckets_state, layout.uploads):
            os.makedirs(directory, exist_ok=True)
        dead = []
        for entry in os.scandir(layout.tmp):
            pid = fsutil.temp_owner(entry.name)
            if pid is not None and not fsutil.pid_alive(pid):
                dead.append(entry.path)
        # a dead writer's commit may have stopped between its sidecar exchange and its data rename: finish it
        # (its data temp is still here) or put the previous sidecar back, before its temps are removed
        staged = [path for path in dead if path.endswith(STAGED_SUFFIX)]
        if staged:
            buckets = sorted(os.listdir(layout.buckets_state)) if os.path.isdir(layout.buckets_state) else []
            for path in staged:
                self.objects.recover_staged(path, buckets)
        # (before the dead temps go: a completing upload's data file may be out among them, see multipart.py)
        self.uploads.recover()
        for path in dead:
            fsutil.unlink_quiet(path)
        self._ready = True

    def _ensure_started(self) -> None:
        # tolerate callers (tests, tools) that skip start(): creating the folders is idempotent and cheap
        if not self._ready:
            for directory in (
                self.layout.tmp,
                self.layout.locks,
                self.layout.buckets_state,
                self.layout.uploads,
            ):
                os.makedirs(directory, exist_ok=True)
            self._ready = True

    async def close(self) -> None:
        # the lock stripes' descriptors stay open for the storage's life (locks.py); many storages come and go
        # in one test process, so give them back
        self.locks.close()
        await self.drain()
        self.objects.pool.clear()

    async def drain(self) -> None:
        """Wait until the fsync thread (or helper process) has done what it was given, including removing the
        files that commits replaced (it removes them after answering their writers). For tests and shutdown."""
        await asyncio.to_thread(self._syncer.close, wait=5.0)

    async def check_ready(self) -> None:
        await asyncio.to_thread(self._check_ready)

    def _check_ready(self) -> None:
        self._ensure_started()
        probe = self.layout.state / fsutil.temp_name(".probe")
        try:
            with fsutil.disk_errors():
                fsutil.write_file(probe, b"ok", fsync=True)
        except OSError as exc:
            raise InsufficientStorage(f"Storage is not writable: {exc}") from exc
        finally:
            fsutil.unlink_quiet(probe)

    # -- buckets --------------------------------------------------------------------------------------------
    def _bucket_strs(self, name: str) -> tuple[str, str] | None:
        """(bucket directory, config directory) of a valid bucket name, as strings; None for an invalid name.
        Memoised: every object request checks its bucket, and pathlib + the name rules showed in profiles."""
        hit = self._bucket_strs_cache.get(name)
        if hit is None:
            if not is_valid_bucket_name(name):
                return None
            if len(self._bucket_strs_cache) >= 4096:
                self._bucket_strs_cache.clear()
            hit = (str(self.layout.bucket_dir(name)), str(self.layout.bucket_state(name)) + "/config")
            self._bucket_strs_cache[name] = hit
        return hit

    def _require_bucket(self, name: str) -> None:
        strs = self._bucket_strs(name)
        try:
            if strs is None or not stat.S_ISDIR(os.stat(strs[0]).st_mode):
                raise NoSuchBucket(resource=name, extra={"BucketName": name})
        except (FileNotFoundError, NotADirectoryError):
            raise NoSuchBucket(resource=name, extra={"BucketName": name}) from None
        if not self._ready:
            self._ensure_started()

    async def create_bucket(self, name: str, *, region: str, object_lock: bool = False) -> BucketInfo:
        try:
            return await asyncio.to_thread(self._create_bucket, name, region, object_lock)
        finally:
            self._config_stat_memo.pop(name, None)

    def _create_bucket(self, name: str, region: str, object_lock: bool) -> BucketInfo:
        self._ensure_started()
        if not is_valid_bucket_name(name):
            raise InvalidBucketName(resource=name, extra={"BucketName": name})
        info = BucketInfo(name=name, created=self.clock.now(), region=region, object_lock_enabled=object_lock)
        with fsutil.disk_errors():
            try:
                os.mkdir(self.layout.bucket_dir(name))
            except FileExistsError as exc:
                raise BucketAlreadyOwnedByYou(resource=name, extra={"BucketName": name}) from exc
            os.makedirs(self.layout.bucket_state(name) / "config", exist_ok=True)
            fsutil.atomic_write(
                self.layout.bucket_record(name),
                metadata.encode(metadata.converter.unstructure(info)),
                fsync=self.fsync,
                tmp_dir=self.layout.tmp,
            )
            if self.fsync:
                fsutil.fsync_dir(self.layout.root)
        return info

    async def get_bucket(self, name: str) -> BucketInfo:
        self._require_bucket(name)
        return self._bucket_info(name)

    def _bucket_info(self, name: str) -> BucketInfo:
        try:
            with open(self.layout.bucket_record(name), "rb") as handle:
                return metadata.converter.structure(metadata.decode(handle.read()), BucketInfo)
        except FileNotFoundError:
            # a directory created by another program: a bucket born when the directory was
            st = os.stat(self.layout.bucket_dir(name))
            return BucketInfo(name=name, created=datetime.fromtimestamp(st.st_mtime, tz=UTC))

    async def list_buckets(self) -> Sequence[BucketInfo]:
        return await asyncio.to_thread(self._list_buckets)

    def _list_buckets(self) -> list[BucketInfo]:
        names = sorted(
            entry.name
            for entry in os.scandir(self.layout.root)
            if entry.is_dir(follow_symlinks=False) and is_valid_bucket_name(entry.name)
        )
        return [self._bucket_info(name) for name in names]

    async def delete_bucket(self, name: str) -> None:
        self._require_bucket(name)
        try:
            await asyncio.to_thread(self._delete_bucket, name)
        finally:
            self._config_stat_memo.pop(name, None)

    def _delete_bucket(self, name: str) -> None:
        layout = self.layout
        if _has_files(layout.bucket_dir(name)) or _has_files(layout.versions_root(name)):
            raise BucketNotEmpty(resource=name, extra={"BucketName": name})
        # empty directories left by other programs go too (they hold no object), and so do multipart uploads in
        # progress: S3 deletes a bucket that holds nothing else (ceph/s3-tests' clean-up relies on it)
        _remove_empty_tree(layout.bucket_dir(name), name)
        shutil.rmtree(layout.bucket_state(name), ignore_errors=True)
        shutil.rmtree(layout.upload_root(name), ignore_errors=True)

    def _config_seen(self, name: str) -> bool:
        """This request (task) has just stat()ed the bucket's config directory: the bucket exists."""
        return self._config_stat_of_task(name, asyncio.current_task(), time.monotonic_ns()) is not None

    def _config_stat_of_task(self, name: str, task: object, now: int) -> os.stat_result | None:
        """The stat of the bucket's config directory that ``task`` made less than 100 ms ago, if any."""
        seen = self._config_stat_memo.get(name)
        if seen is not None and task is not None and seen[0] is task and now - seen[1] < _CONFIG_MEMO_NS:
            return seen[2]
        return None

    async def get_bucket_config(self, name: str, kind: str) -> bytes | None:
        """Read on every object request (versioning on writes, lifecycle for x-amz-expiration), so answers
        are cached per bucket and validated by one stat of the bucket's config directory: a document is
        replaced by a rename into that directory, which changes its mtime. A snapshot is trusted only once
        the directory has been quiet for a moment (timestamps are coarse), as for listing snapshots."""
        strs = self._bucket_strs(name)
        if strs is None:
            raise NoSuchBucket(resource=name, extra={"BucketName": name})
        # one request reads several kinds (a PUT: versioning, object lock, lifecycle): they share the stat its
        # first read made (same task, within 100 ms), a snapshot taken after the request began
        task = asyncio.current_task()
        now = time.monotonic_ns()
        st = self._config_stat_of_task(name, task, now)
        if st is None:
            try:
                st = os.stat(strs[1])
            except FileNotFoundError:
                self._require_bucket(name)
                return None
            if len(self._config_stat_memo) >= 4096:
                self._config_stat_memo.clear()
            self._config_stat_memo[name] = (task, now, st)
        # an existing config directory stands for its bucket (delete_bucket removes the bucket's state with
        # it), saving a stat of the bucket directory on every object request
        stamp = (st.st_ino, st.st_mtime_ns)
        cache_key = (name, kind)
        hit = self._config_cache.get(cache_key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        checked_at = time.time_ns()
        try:
            with open(str(self.layout.bucket_config(name, kind)), "rb") as handle:
                document: bytes | None = handle.read()
        except FileNotFoundError:
            document = None
        if checked_at - st.st_mtime_ns > _CONFIG_QUIET_NS:
            if len(self._config_cache) >= 4096:
                self._config_cache.clear()
            self._config_cache[cache_key] = (stamp, document)
        return document

    async def put_bucket_config(self, name: str, kind: str, document: bytes | None) -> None:
        self._require_bucket(name)
        await asyncio.to_thread(self._put_bucket_config, name, kind, document)

    def _put_bucket_config(self, name: str, kind: str, document: bytes | None) -> None:
        self._config_cache.pop((name, kind), None)
        self._config_stat_memo.pop(name, None)
        path = self.layout.bucket_config(name, kind)
        if document is None:
            fsutil.unlink_quiet(path)
            return
        with fsutil.disk_errors():
            os.makedirs(path.parent, exist_ok=True)
            fsutil.atomic_write(path, document, fsync=self.fsync, tmp_dir=self.layout.tmp)

    # -- objects --------------------------------------------------------------------------------------------
    def _paths(self, bucket: str, key: str) -> KeyPaths:
        kp = self.objects.paths(bucket, key)
        self._require_bucket(bucket)
        return kp

    async def write_object(
        self,
        bucket: str,
        key: str,
        body: AsyncIterator[bytes],
        *,
        digest: BodyDigest,
        build: BuildObject,
        condition: WriteCondition | None = None,
        versioning: VersioningStatus | None = None,
        version_id: str | None = None,
    ) -> ObjectInfo:
        kp = self.objects.paths(bucket, key)
        if not self._config_seen(bucket):
            # (a PUT has usually read the bucket's versioning already: its config directory stands for the
            # bucket, see get_bucket_config; a new key's commit checks the bucket directory again anyway)
            self._require_bucket(bucket)
        engine = self.objects
        temp = TempFile(self.layout.tmp, digest, fsync=self.fsync, pool=engine.pool, owner=(bucket, key))

        #: the staged sidecar once ``prepare`` has written it (possibly in a thread the request stopped waiting for)
        prepared: Staged | None = None

        def prepare(synced: bool) -> Staged:
            nonlocal prepared
            new = build(temp.size)
            with fsutil.disk_errors():
                prepared = engine.stage(
                    kp,
                    temp.path_s,
                    new,
                    temp.size,
                    versioning=versioning,
                    version_id=version_id,
                    sync=synced,
                    temp_stat=temp.stat,
                )
            return prepared

        # a small body is written and staged right on the event loop (see bodies.py); with fsync on, both files
        # are then fsynced in one thread hop
        try:
            staged = await stream_to_temp(body, temp, prepare, inline=True)
        except BaseException:
            # e.g. cancelled while the last batch, the fsync and ``prepare`` ran in a thread: the temp is gone
            # (stream_to_temp), the staged sidecar is ours to remove
            if prepared is not None:
                fsutil.unlink_quiet(prepared.path)
            raise

        #: set once the commit has renamed: from then on the temp's and the staged sidecar's names hold the files
        #: it displaced, which its settle removes or pools (recycle.py); a late failure or cancellation must not
        #: remove them again, another PUT may have taken them by then
        committed = False

        def commit(blocking: bool) -> Committed:
            nonlocal committed
            with fsutil.disk_errors():
                done = engine.commit_staged(
                    kp, staged, condition=condition, versioning=versioning, blocking=blocking
                )
            committed = True
            return done

        def settle(done: Committed) -> None:
            with fsutil.disk_errors():
                engine.settle(done)

        async def settle_on_loop(done: Committed) -> None:
            if done.owed:
                # the fsync thread (or helper) removes the replaced files after the directory fsyncs, except
                # the ones kept for reuse: those join the pool only once the fsyncs are done (recycle.py)
                kept = [item for item in done.reusable if engine.pool.room(item.kind)]
                keep = {item.path for item in kept}
                try:
                    with fsutil.disk_errors():
                        await self._syncer.dirs(
                            done.owed.dirs, then_remove=[p for p in done.leftovers if p not in keep]
                        )
                except BaseException:
                    for path in keep:
                        fsutil.unlink_quiet(path)
                    raise
                engine.release(list(keep), kept)
                return
            engine.release(done.leftovers, done.reusable)

        # the commit itself only renames, so it runs on the event loop, unless archiving a version needs fsyncs.
        # With fsync on, a body too big to be written on the loop (staged.synced: it went through a thread and
        # was fsynced there) commits and syncs its directories in a thread too: the fsync helper process is for
        # many small writes, and a big upload need not start it (nor count its memory)
        on_loop = not self.fsync or (versioning is None and not staged.synced)
        try:
            if self.fsync and not staged.synced:
                # body and staged sidecar, both written on the loop: fsynced in a batch with other writers'
                with fsutil.disk_errors():
                    await self._syncer.files((staged.temp, staged.path))
                staged.synced = True
            done = await commit_on_loop(
                commit,
                settle,
                gate=self.locks.gate(bucket, key) if on_loop else None,
                settle_on_loop=settle_on_loop,
            )
        except BaseException:
            if not committed:
                temp.discard()
                fsutil.unlink_quiet(staged.path)
            raise
        return done.info

    async def open_object(self, bucket: str, key: str, version_id: str | None = None) -> FileObjectReader:
        found, kp = await self._read(bucket, key, version_id, want_fd=True)
        info = self.objects.info(kp, found)
        return FileObjectReader(info, found.fd, None if found.data is None else str(found.data))

    async def head_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        found, kp = await self._read(bucket, key, version_id, want_fd=False)
        return self.objects.info(kp, found)

    async def _read(
        self, bucket: str, key: str, version_id: str | None, *, want_fd: bool
    ) -> tuple[Found, KeyPaths]:
        """Resolve a version for GET/HEAD. The bucket directory is only checked when the key is not found (a
        file found inside it proves the bucket), which saves a stat on every successful read."""
        if self._bucket_strs(bucket) is None:
            raise NoSuchBucket(resource=bucket, extra={"BucketName": bucket})
        kp = self.objects.paths(bucket, key)
        try:
            try:
                # lock-free fast path inline: an open, an fstat and a (usually cached) sidecar read
                found = self.objects.resolve(kp, version_id, locked=False, want_fd=want_fd)
            except NeedLock:
                found = await asyncio.to_thread(self.objects.resolve_any, kp, version_id, want_fd=want_fd)
        except S3Error:
            self._require_bucket(bucket)
            raise
        if not self._ready:
            self._ensure_started()
        return found, kp

    async def delete_object(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        versioning: VersioningStatus | None = None,
        marker_version_id: str | None = None,
        condition: WriteCondition | None = None,
    ) -> DeleteOutcome:
        kp = self._paths(bucket, key)

        def run() -> DeleteOutcome:
            with fsutil.disk_errors():
                return self.objects.delete(
                    kp,
                    version_id=version_id,
                    versioning=versioning,
                    marker_version_id=marker_version_id,
                    condition=condition,
                )

        return await asyncio.to_thread(run)

    async def update_object(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        change: Callable[[ObjectInfo], ObjectInfo],
    ) -> ObjectInfo:
        kp = self._paths(bucket, key)

        def run() -> ObjectInfo:
            with fsutil.disk_errors():
                return self.objects.update(kp, version_id, change)

        return await asyncio.to_thread(run)

    async def list_objects(self, bucket: str, query: ListQuery) -> ListPage:
        self._require_bucket(bucket)
        return await asyncio.get_running_loop().run_in_executor(
            _LISTING_EXECUTOR, listing.list_objects, self.objects, bucket, query
        )

    async def list_versions(self, bucket: str, query: VersionListQuery) -> VersionListPage:
        self._require_bucket(bucket)
        return await asyncio.to_thread(listing.list_versions, self.objects, bucket, query)

    # -- multipart ------------------------------------------------------------------------------------------
    async def create_upload(self, upload: UploadInfo) -> None:
        self._paths(upload.bucket, upload.key)
        await asyncio.to_thread(self.uploads.create, upload)

    async def get_upload(self, bucket: str, key: str, upload_id: str) -> UploadInfo:
        self._require_bucket(bucket)
        return self.uploads.get(bucket, key, upload_id)

    async def write_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        body: AsyncIterator[bytes],
        *,
        digest: BodyDigest,
        build: Callable[[int], PartInfo],
        size: int | None = None,
    ) -> PartInfo:
        self._require_bucket(bucket)
        self.uploads.get(bucket, key, upload_id)
        if size:
            placing = asyncio.ensure_future(
                asyncio.to_thread(self.uploads.place, bucket, upload_id, part_number, size, digest)
            )
            try:
                slot = await asyncio.shield(placing)
            except asyncio.CancelledError:
                # the thread may still claim a region: free it once it has (else the claim, and the descriptor
                # holding the shared flock, would stay for the life of the process)
                placing.add_done_callback(_discard_placed)
                raise
            if slot is not None:

                def publish(synced: bool) -> PartInfo:
                    part = build(slot.size)
                    with fsutil.disk_errors():
                        return self.uploads.publish(bucket, key, upload_id, slot, part)

                return await stream_to_temp(body, slot, publish)
        temp = TempFile(self.layout.tmp, digest, fsync=self.fsync, pool=self.objects.pool)

        def finish(synced: bool) -> PartInfo:
            part = build(temp.size)
            with fsutil.disk_errors():
                return self.uploads.store_part(bucket, key, upload_id, temp.path, part)

        return await stream_to_temp(body, temp, finish)

    async def list_parts(self, bucket: str, key: str, upload_id: str) -> Sequence[PartInfo]:
        self._require_bucket(bucket)
        parts = await asyncio.to_thread(self.uploads.parts, bucket, key, upload_id)
        return [part for part, _ in parts]

    async def list_uploads(self, bucket: str) -> Sequence[UploadInfo]:
        self._require_bucket(bucket)
        return await asyncio.to_thread(self.uploads.in_bucket, bucket)

    async def complete_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: Sequence[PartInfo],
        *,
        digest: BodyDigest,
        build: BuildObject,
        condition: WriteCondition | None = None,
        versioning: VersioningStatus | None = None,
        version_id: str | None = None,
    ) -> ObjectInfo:
        kp = self._paths(bucket, key)
        return await asyncio.to_thread(
            self._complete, kp, upload_id, parts, digest, build, condition, versioning, version_id
        )

    def _complete(
        self,
        kp: KeyPaths,
        upload_id: str,
        parts: Sequence[PartInfo],
        digest: BodyDigest,
        build: BuildObject,
        condition: WriteCondition | None,
        versioning: VersioningStatus | None,
        version_id: str | None,
    ) -> ObjectInfo:
        with fsutil.disk_errors():
            busy = self.uploads.take(kp.bucket, kp.key, upload_id, "complete")
        temp = self.layout.tmp / fsutil.temp_name()
        in_place = False
        try:
            size, in_place = self.uploads.assemble(busy, kp.bucket, kp.key, upload_id, parts, temp, digest)
            new = build(size)
            with fsutil.disk_errors():
                info = self.objects.commit(
                    kp,
                    str(temp),
                    new,
                    size,
                    condition=condition,
                    versioning=versioning,
                    version_id=version_id,
                )
        except BaseException:
            # refused (precondition, bad part, digest) or failed: S3 keeps the upload, so put it back
            # (an in-place data file is put back by give_back: see multipart.py, ASSEMBLED_NAME)
            if not in_place:
                fsutil.unlink_quiet(temp)
            self.uploads.give_back(busy, kp.bucket, upload_id)
            raise
        self.uploads.drop(busy)
        return info

    async def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self._require_bucket(bucket)

        def run() -> None:
            with fsutil.disk_errors():
                busy = self.uploads.take(bucket, key, upload_id, "abort")
            self.uploads.drop(busy)

        await asyncio.to_thread(run)

    async def expire_uploads(self, initiated_before: datetime) -> int:
        self._ensure_started()
        return await asyncio.to_thread(self.uploads.expire, initiated_before)


def _remove_empty_tree(path: Path, bucket: str) -> None:
    """Remove a bucket's directory tree found empty of files, while other requests may still be at work in it:
    a concurrent delete pruning a directory first is fine (try again); a write that lands meanwhile makes the
    bucket not empty (409, as S3 answers), never a 500."""
    for _ in range(3):
        try:
            shutil.rmtree(path)
            return
        except FileNotFoundError:
            if not path.exists():
                return
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise BucketNotEmpty(resource=bucket, extra={"BucketName": bucket}) from exc
            raise
    shutil.rmtree(path)


def _has_files(root: Path) -> bool:
    """Whether any non-directory entry exists below ``root`` (empty directories do not make a bucket busy)."""
    return any(files for _, _, files in os.walk(root))
