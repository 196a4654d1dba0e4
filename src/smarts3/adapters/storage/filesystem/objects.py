"""Object reads, commits, deletes and versioning on the filesystem: the crash-consistency protocol lives here.

A commit of a new latest version has three steps:

1. ``stage`` (no lock): the body is in ``.smarts3/tmp/t<pid>-...`` (fsynced when fsync is on) and ``build`` has
   accepted it; the new sidecar is written (and fsynced) next to it in ``tmp/``. It records the identity
   ``(st_ino, size, mtime_ns)`` of the *new* data (a rename keeps all three), the data temp's name (``pending``)
   and its own name (``back``);
2. ``commit_staged`` (under the key's cross-process lock, see locks.py): ``condition`` sees the current latest;
   conflicts (``a`` vs ``a/b``) are checked; with versioning the current plain file is archived (versions.py);
   the staged sidecar is *exchanged* with the live one, so the previous sidecar now sits at the ``back`` name;
   the data temp is renamed onto the plain path. Renames only: without fsync this runs on the event loop;
3. ``settle`` (after the lock): the directories are fsynced, then the previous sidecar and data are removed, or
   kept to be written again as the next temps (recycle.py; hence ``pending_temp`` checks identities, not names).

A reader trusts a sidecar only when its identity matches the data file it opened. Otherwise, under the lock:
the pending temp still exists -> roll forward (rename it); the sidecar at ``back`` describes the data -> put it
back (the commit failed after the exchange); neither -> the file was changed by another program: recompute its
MD5 ETag. So new data never pairs with old metadata nor the reverse, whatever instant a crash hits; start-up
(``recover_staged``) settles a dead writer's half-done commit before removing its temps. Deletes remove data
first, then the sidecar; a sidecar without data is an absent object and is cleaned up lazily.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from smarts3.adapters.storage.filesystem import fsutil, metadata, versions
from smarts3.adapters.storage.filesystem.durable import DirSyncs, Durable
from smarts3.adapters.storage.filesystem.layout import Layout, key_components
from smarts3.adapters.storage.filesystem.locks import KeyLocks, LockBusy
from smarts3.adapters.storage.filesystem.recycle import MAX_SIZE, InodePool, Leftover, hold_shared
from smarts3.domain.errors import (
    InvalidObjectName,
    MethodNotAllowed,
    NoSuchBucket,
    NoSuchKey,
    NoSuchVersion,
    ObjectExistsAsDirectory,
    ParentIsObject,
)
from smarts3.domain.models import (
    NULL_VERSION,
    DeleteOutcome,
    NewObject,
    ObjectInfo,
    VersioningStatus,
)
from smarts3.domain.ports import Clock, WriteCondition

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_PATH_FLAGS = getattr(os, "O_PATH", 0) | os.O_NOFOLLOW | os.O_CLOEXEC
_PROC_FD = hasattr(os, "O_PATH") and os.path.isdir("/proc/self/fd")
_DELETE_MARKER = {"x-amz-delete-marker": "true"}
_HASH_CHUNK = 1 << 20
_PATHS_CACHE_SIZE = 4096


class NeedLock(Exception):
    """Internal: the lock-free fast path found something only a locked repair may resolve."""


class KeyPaths:
    """Paths of one key. Strings are built eagerly (cheap, used on every read and listed object); Path objects
    only on demand, because pathlib construction dominated listing profiles."""

    __slots__ = (
        "_data",
        "_sidecar",
        "_vdir",
        "bucket",
        "components",
        "data_s",
        "flat",
        "key",
        "sidecar_s",
        "vdir_s",
    )

    def __init__(
        self, bucket: str, key: str, components: list[str], data: str, sidecar: str, vdir: str
    ) -> None:
        self.bucket, self.key, self.components = bucket, key, components
        #: the data file sits right in the bucket directory: no directory of the key's own can be a symlink, and
        #: O_NOFOLLOW (or lstat) already refuses a symlink in its place, so no containment check is needed
        self.flat = len(components) == 1
        self.data_s, self.sidecar_s, self.vdir_s = data, sidecar, vdir
        self._data: Path | None = None
        self._sidecar: Path | None = None
        self._vdir: Path | None = None

    @property
    def data(self) -> Path:
        if self._data is None:
            self._data = Path(self.data_s)
        return self._data

    @property
    def sidecar(self) -> Path:
        if self._sidecar is None:
            self._sidecar = Path(self.sidecar_s)
        return self._sidecar

    @property
    def vdir(self) -> Path:
        if self._vdir is None:
            self._vdir = Path(self.vdir_s)
        return self._vdir


@attrs.frozen
class Found:
    """One resolved version: its record, where its bytes are, and (for opens) an fd bound to those bytes."""

    record: dict[str, Any]
    #: where the bytes are (a str on the hot path: building a Path per read showed up in listing profiles)
    data: str | Path | None
    fd: int | None
    plain: bool
    entry: versions.Entry | None = None
    is_latest: bool = True

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)


#: suffix of a staged sidecar in ``tmp/``; after its exchange that name holds the previous sidecar (the backup)
STAGED_SUFFIX = ".s"
#: suffix of the name in ``tmp/`` where a commit moves the previous data file just before its data rename
ASIDE_SUFFIX = ".old"


@attrs.define
class Staged:
    """A commit prepared outside the key lock (``ObjectEngine.stage``)."""

    #: the data temp file (fsynced when fsync is on)
    temp: str
    #: the new sidecar, written in ``tmp/`` (and fsynced); after the exchange, the previous sidecar
    path: str
    doc: dict[str, Any]
    #: stat of the new sidecar file (an exchange keeps its inode: the sidecar cache is primed with it)
    stat: os.stat_result
    #: False while fsync is on and the body and sidecar still have to be fsynced (both written on the loop)
    synced: bool = True


@attrs.define
class Committed:
    """What a commit leaves for after its lock (``ObjectEngine.settle``)."""

    info: ObjectInfo
    owed: Durable
    #: files the commit replaced (the previous data moved aside, the previous sidecar), removed after the fsyncs
    leftovers: list[str]
    #: the leftovers that may be reused as temp files instead (recycle.py)
    reusable: list[Leftover] = attrs.Factory(list)


def _same_version(record: dict[str, Any], version_id: str) -> bool:
    return (record.get("vid") or NULL_VERSION) == version_id


class ObjectEngine:
    def __init__(
        self, layout: Layout, locks: KeyLocks, cache: metadata.SidecarCache, *, fsync: bool, clock: Clock
    ):
        self.layout = layout
        self.locks = locks
        self.cache = cache
        self.fsync = fsync
        self.clock = clock
        self._tmp_prefix = str(layout.tmp) + os.sep
        self.dir_syncs = DirSyncs()
        self._paths_cache: dict[tuple[str, str], KeyPaths] = {}
        #: files this engine's commits displaced, written again as the next staged sidecars (recycle.py)
        self.pool = InodePool(per_key=not fsync)

    def paths(self, bucket: str, key: str) -> KeyPaths:
        """The key's paths; memoised (bounded), since the same hot keys are read and written over and over.
        KeyPaths is immutable once built (its lazily built Path objects derive from the strings)."""
        cache_key = (bucket, key)
        kp = self._paths_cache.get(cache_key)
        if kp is not None:
            return kp
        components = key_components(key)
        layout = self.layout
        kp = KeyPaths(
            bucket,
            key,
            components,
            layout.data_str(bucket, components),
            layout.sidecar_str(bucket, components),
            layout.version_dir_str(bucket, components),
        )
        if len(self._paths_cache) >= _PATHS_CACHE_SIZE:
            self._paths_cache.clear()
        self._paths_cache[cache_key] = kp
        return kp

    def _inside(self, kp: KeyPaths, fd: int | None = None) -> bool:
        """False when a directory on the way to the data file is a symlink (it could point out of the bucket).

        With an open fd the kernel tells where the file really is (one readlink of /proc/self/fd/N); that is
        exact and far cheaper than ``realpath``, which lstat()s every component in Python."""
        if fd is not None and _PROC_FD:
            try:
                real = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                pass
            else:
                # a file replaced since we opened it reads "<path> (deleted)"; one a writer just moved aside
                # (see _replace_data) lives in our tmp dir. Both are inside; the identity check decides.
                real = real.removesuffix(" (deleted)")
                return real == kp.data_s or real.startswith(self._tmp_prefix)
        parent = os.path.dirname(kp.data_s)
        return os.path.realpath(parent) == parent

    # -- reading the plain (latest) file --------------------------------------------------------------------
    def read_plain(self, kp: KeyPaths, *, locked: bool, want_fd: bool, walked: bool = False) -> Found | None:
        """The version at the plain path, or None. Raises NeedLock when a repair is required and not locked.

        ``walked``: the path came from a listing walk, which never enters symlinks, so the realpath check that
        guards paths built from client keys is skipped."""
        fd: int | None = None
        try:
            if want_fd:
                fd = os.open(kp.data_s, _OPEN_FLAGS)
                # held while the bytes are read: a file displaced meanwhile is not reused under us (recycle.py).
                # Busy means exactly that is happening: its bytes are no longer this key's. (Under the key lock
                # the file at the plain path is never one being reused: another program's lock; read anyway.)
                if hold_shared(fd) is False and not locked:
                    os.close(fd)
                    fd = None
                    raise NeedLock()
                st = os.fstat(fd)
            elif walked or kp.flat or not _PROC_FD:
                st = os.lstat(kp.data_s)
            else:
                # HEAD: an O_PATH handle is enough to learn where the file really is (see _inside)
                fd = os.open(kp.data_s, _PATH_FLAGS)
                st = os.fstat(fd)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EISDIR):
                raise
            if self._plain_absent(kp, locked=locked):
                return self.read_plain(kp, locked=locked, want_fd=want_fd, walked=walked)
            return None
        try:
            if not stat.S_ISREG(st.st_mode) or not (walked or kp.flat or self._inside(kp, fd)):
                raise _Absent()
            if not want_fd and fd is not None:
                os.close(fd)
                fd = None
            doc = self.cache.read(kp.sidecar_s)
            ident = metadata.identity_of(st)
            if doc is not None and tuple(doc["id"]) == ident:
                return Found(doc["obj"], kp.data_s, fd, plain=True)
            if not locked:
                raise NeedLock()
            record = self._repair(kp, doc, st)
            if record is None:
                raise _Absent()
            if fd is not None:
                # a roll-forward may have replaced the file: reopen the now-current bytes (we hold the lock)
                os.close(fd)
                fd = None
                fd = os.open(kp.data, _OPEN_FLAGS)
                hold_shared(fd)
            return Found(record, kp.data_s, fd, plain=True)
        except _Absent:
            if fd is not None:
                os.close(fd)
            return None
        except BaseException:
            if fd is not None:
                os.close(fd)
            raise

    def _plain_absent(self, kp: KeyPaths, *, locked: bool) -> bool:
        """No data file: roll a pending commit forward (True: read again) or drop a stale sidecar."""
        doc = self.cache.read(kp.sidecar_s)
        if doc is None:
            return False
        pending = self.pending_temp(doc)
        if pending:
            # a commit whose data rename has not happened yet (a writer mid-commit, or a crash)
            if not locked:
                raise NeedLock()
            self._roll_forward(kp, pending)
            return True
        if not locked:
            # a sidecar but no data: the data may be mid-replace (moved aside, see _replace_data): decide
            # under the lock
            raise NeedLock()
        aside = doc.get("aside")
        if aside and os.path.exists(self.layout.tmp / aside):
            # a commit that died after moving the previous data aside and lost its own: move it back (the
            # next read pairs it with the previous sidecar, kept at "back")
            fsutil.rename_into(self.layout.tmp / aside, kp.data_s)
            return True
        # sidecar without data: the object is absent; tidy up
        fsutil.unlink_quiet(kp.sidecar)
        self.cache.forget(kp.sidecar_s)
        fsutil.prune_empty_dirs(kp.sidecar.parent, self.layout.meta_root(kp.bucket))
        return False

    def pending_temp(self, doc: dict[str, Any]) -> str | None:
        """The name in ``tmp/`` of the data ``doc`` was staged for, if that file is still there unrenamed.

        The identity decides, not the name alone: once a commit is done its temp's name holds the data it
        displaced, which may be kept and written again (recycle.py)."""
        pending = doc.get("pending")
        if not pending:
            return None
        try:
            st = os.lstat(f"{self._tmp_prefix}{pending}")
        except OSError:
            return None
        return pending if metadata.identity_of(st) == tuple(doc["id"]) else None

    def _roll_forward(self, kp: KeyPaths, pending: str) -> None:
        fsutil.makedirs_racing(kp.data.parent)
        fsutil.rename_into(self.layout.tmp / pending, kp.data)
        if self.fsync:
            fsutil.fsync_dir(kp.data.parent)

    def _repair(self, kp: KeyPaths, doc: dict[str, Any] | None, st: os.stat_result) -> dict[str, Any] | None:
        """Make sidecar and data agree again (caller holds the lock). Returns the record now valid."""
        ident = metadata.identity_of(st)
        if doc is not None:
            pending = self.pending_temp(doc)
            if pending:
                self._roll_forward(kp, pending)
                return dict(doc["obj"])
            backup = self.backup_of(doc, ident)
            if backup is not None:
                # the commit failed (or died) after its sidecar exchange: put the previous sidecar back
                fsutil.rename_into(self.layout.tmp / doc["back"], kp.sidecar_s)
                self.cache.forget(kp.sidecar_s)
                return dict(backup["obj"])
            prev = doc.get("prev")  # sidecars written before backups existed carried the previous metadata
            if prev and tuple(prev["id"]) == ident:
                self._write_sidecar(kp, ident, prev["obj"], pending=None, prev=None)
                return dict(prev["obj"])
        # written by another program (no sidecar) or changed behind our back: hash it once, cache the result
        md5 = hashlib.md5(usedforsecurity=False)
        fd = os.open(kp.data, _OPEN_FLAGS)
        try:
            st = os.fstat(fd)
            while chunk := os.read(fd, _HASH_CHUNK):
                md5.update(chunk)
        finally:
            os.close(fd)
        old = doc["obj"] if doc is not None else {}
        record = metadata.record_from_new(
            NewObject(etag=md5.hexdigest()),
            size=st.st_size,
            now=_mtime(st),
            version_id=old.get("vid"),
            seq=max(time.time_ns(), int(old.get("seq", 0)) + 1),
        )
        self._write_sidecar(kp, metadata.identity_of(st), record, pending=None, prev=None)
        return record

    def backup_of(self, doc: dict[str, Any], ident: tuple[int, int, int]) -> dict[str, Any] | None:
        """The previous sidecar a commit left at its ``back`` name, if it describes the data ``ident``."""
        back = doc.get("back")
        if not back:
            return None
        try:
            with open(self.layout.tmp / back, "rb") as handle:
                backup = metadata.decode(handle.read())
        except (OSError, ValueError):
            return None
        if isinstance(backup, dict) and "obj" in backup and tuple(backup.get("id") or ()) == ident:
            return backup
        return None

    def _write_sidecar(
        self,
        kp: KeyPaths,
        ident: tuple[int, int, int],
        record: dict[str, Any],
        *,
        pending: str | None,
        prev: dict[str, Any] | None,
    ) -> None:
        doc = {"b": kp.bucket, "key": kp.key, "id": list(ident), "pending": pending, "obj": record}
        if prev is not None:
            doc["prev"] = prev
        fsutil.make_dirs(kp.sidecar.parent, fsync=self.fsync)
        fsutil.atomic_write(kp.sidecar, metadata.encode(doc), fsync=self.fsync, tmp_dir=self.layout.tmp)
        self.cache.forget(kp.sidecar_s)

    # -- resolving versions ---------------------------------------------------------------------------------
    def latest(self, kp: KeyPaths, *, locked: bool, want_fd: bool = False) -> Found | None:
        """The latest version: the plain file, else the newest version-store entry (maybe a delete marker)."""
        found = self.read_plain(kp, locked=locked, want_fd=want_fd)
        if found is not None:
            return found
        newest = versions.newest(kp.vdir_s)
        if newest is None:
            return None
        return self._store_found(kp, *newest, want_fd=want_fd, locked=locked)

    def _store_found(
        self, kp: KeyPaths, entry: versions.Entry, record: dict[str, Any], *, want_fd: bool, locked: bool
    ) -> Found:
        data = None if record.get("dm") else entry.data_path(kp.vdir)
        fd = os.open(data, _OPEN_FLAGS) if (want_fd and data is not None) else None
        if fd is not None and not locked:
            # A version-store file can become the plain file again (promotion), then be displaced and reused
            # (recycle.py) by the time we read it: hold it like any file being read, and make sure it is still
            # the file at this path once held (a move away needs the key lock, which this read does not have).
            assert data is not None
            held = hold_shared(fd)
            try:
                moved = held is False or (held is True and os.stat(data).st_ino != os.fstat(fd).st_ino)
            except FileNotFoundError:
                moved = True
            if moved:
                os.close(fd)
                raise NeedLock()
        elif fd is not None:
            hold_shared(fd)
        return Found(record, data, fd, plain=False, entry=entry)

    def resolve(self, kp: KeyPaths, version_id: str | None, *, locked: bool, want_fd: bool) -> Found:
        """What GET/HEAD address, with S3's errors for absent keys, versions and delete markers."""
        if version_id is None:
            found = self.latest(kp, locked=locked, want_fd=want_fd)
            if found is None:
                raise NoSuchKey(resource=kp.key, extra={"Key": kp.key})
            if found.record.get("dm"):
                found.close()
                raise NoSuchKey(resource=kp.key, extra={"Key": kp.key}, headers=self._marker_headers(found))
            return found
        plain = self.read_plain(kp, locked=locked, want_fd=want_fd)
        if plain is not None:
            if _same_version(plain.record, version_id):
                return plain
            plain.close()
        hit = versions.find(kp.vdir, version_id)
        if hit is None:
            raise NoSuchVersion(resource=kp.key, extra={"Key": kp.key, "VersionId": version_id})
        newest = None if plain is not None else versions.newest(kp.vdir)
        found = self._store_found(kp, *hit, want_fd=want_fd, locked=locked)
        found = attrs.evolve(found, is_latest=newest is not None and newest[0] == hit[0])
        if found.record.get("dm"):
            raise MethodNotAllowed(
                resource=kp.key,
                headers=self._marker_headers(found),
                extra={"Method": "GET", "ResourceType": "DeleteMarker"},
            )
        return found

    @staticmethod
    def _marker_headers(found: Found) -> dict[str, str]:
        headers = dict(_DELETE_MARKER)
        vid = found.record.get("vid")
        if vid:
            headers["x-amz-version-id"] = vid
        return headers

    def resolve_any(self, kp: KeyPaths, version_id: str | None, *, want_fd: bool) -> Found:
        """``resolve`` trying the lock-free path first (a few times, writers may be mid-commit), then locked."""
        for _ in range(3):
            try:
                return self.resolve(kp, version_id, locked=False, want_fd=want_fd)
            except NeedLock:
                continue
        with self.locks.hold(kp.bucket, kp.key):
            return self.resolve(kp, version_id, locked=True, want_fd=want_fd)

    def info(self, kp: KeyPaths, found: Found) -> ObjectInfo:
        if found.plain:
            return self.cache.info_for(kp.sidecar_s, kp.key, found.record)
        return metadata.record_to_info(kp.key, found.record, is_latest=found.is_latest)

    def load_listed(self, bucket: str, key: str, *, walked: bool = True) -> ObjectInfo | None:
        """ObjectInfo of the plain file of ``key`` (None if absent). ``walked``: see ``read_plain``."""
        try:
            kp = self.paths(bucket, key)
        except InvalidObjectName:
            return None
        if walked:
            # Listing fast path: a cached sidecar whose recorded identity is the data file's current identity
            # describes exactly these bytes, so skip the sidecar's own stat. (A metadata-only update, tags or
            # retention, changes nothing a listing shows.)
            doc = self.cache.peek(kp.sidecar_s)
            if doc is not None:
                try:
                    st = os.lstat(kp.data_s)
                except OSError:
                    st = None
                if (
                    st is not None
                    and stat.S_ISREG(st.st_mode)
                    and tuple(doc["id"]) == metadata.identity_of(st)
                ):
                    return self.cache.info_for(kp.sidecar_s, key, doc["obj"])
        try:
            found = self.read_plain(kp, locked=False, want_fd=False, walked=walked)
        except NeedLock:
            with self.locks.hold(bucket, key):
                found = self.read_plain(kp, locked=True, want_fd=False, walked=walked)
        return None if found is None else self.cache.info_for(kp.sidecar_s, key, found.record)

    # -- commits --------------------------------------------------------------------------------------------
    def stage(
        self,
        kp: KeyPaths,
        temp: str,
        new: NewObject,
        size: int,
        *,
        versioning: VersioningStatus | None,
        version_id: str | None,
        sync: bool = True,
        temp_stat: os.stat_result | None = None,
    ) -> Staged:
        """Step 1 of a commit, outside the key lock: the new sidecar, written (and fsynced) in ``tmp/``. Blocking.

        Its sequence number is the current time; ``commit_staged`` restages under the lock in the rare case the
        key's current version has a later one and the bucket keeps versions (whose order it decides)."""
        if versioning is None:
            new_vid = None
        elif versioning == "Enabled":
            new_vid = version_id
        else:
            new_vid = NULL_VERSION
        record = metadata.record_from_new(
            new, size=size, now=self.clock.now(), version_id=new_vid, seq=time.time_ns()
        )
        return self._stage_record(kp, temp, record, sync=sync, temp_stat=temp_stat)

    def _stage_record(
        self,
        kp: KeyPaths,
        temp: str,
        record: dict[str, Any],
        *,
        sync: bool = True,
        temp_stat: os.stat_result | None = None,
    ) -> Staged:
        """Write the staged sidecar (in a reused file when the pool has one). ``temp_stat``: the data temp's
        stat if the caller has it (its identity goes into the sidecar)."""
        ident = metadata.identity_of(temp_stat if temp_stat is not None else os.stat(temp))
        reused = self.pool.take("sidecar", (kp.bucket, kp.key))
        path = f"{self._tmp_prefix}{fsutil.temp_name(STAGED_SUFFIX)}" if reused is None else reused.path
        doc = {
            "b": kp.bucket,
            "key": kp.key,
            "id": list(ident),
            "pending": os.path.basename(temp),
            "back": os.path.basename(path),
            "aside": fsutil.temp_name(ASIDE_SUFFIX),
            "obj": record,
        }
        data = metadata.encode(doc)
        fd = fsutil.write_open(path, data) if reused is None else reused.fd
        try:
            if reused is None:
                written = os.fstat(fd)
            else:
                fsutil.write_all(fd, data)
                written = reused.finish(len(data))
            if self.fsync and sync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            fsutil.unlink_quiet(path)
            raise
        os.close(fd)
        return Staged(temp, path, doc, written, synced=sync or not self.fsync)

    def commit_staged(
        self,
        kp: KeyPaths,
        staged: Staged,
        *,
        condition: WriteCondition | None,
        versioning: VersioningStatus | None,
        blocking: bool = True,
    ) -> Committed:
        """Step 2, under the key's cross-process lock: check, then rename. Makes ``staged.temp`` the latest version.

        Renames only (directory fsyncs are left to ``settle``), unless a version is archived with fsync on, so it
        may run on the event loop: ``blocking=False`` never waits, it raises LockBusy when the lock is taken or the key needs a repair first
        (which may hash a large file); the caller then retries in a thread. On any failure nothing of the commit
        stays visible and ``staged.path`` is left for the caller to remove. ``settle`` must follow a success."""
        with self.locks.hold(kp.bucket, kp.key, blocking=blocking):
            try:
                current = self.latest(kp, locked=blocking)
            except NeedLock as exc:
                raise LockBusy() from exc
            if condition is not None:
                live = current if current is not None and not current.record.get("dm") else None
                condition(None if live is None else metadata.record_to_info(kp.key, live.record))
            owed = Durable()
            plain = current if current is not None and current.plain else None
            if plain is None:
                # (a latest plain file just read proves its directories, its bucket and that the path is a file)
                self._prepare_path(kp, owed)
            sidecar_known = plain is not None  # read (or repaired) under this lock: its directory exists
            if versioning is not None:
                if current is not None and int(current.record.get("seq", 0)) >= staged.doc["obj"]["seq"]:
                    # a writer that staged after us committed first (or the clock stepped back): versions must
                    # stay ordered, so write the sidecar again with the next sequence number
                    record = dict(staged.doc["obj"], seq=int(current.record["seq"]) + 1)
                    again = self._stage_record(kp, staged.temp, record)
                    fsutil.unlink_quiet(staged.path)
                    staged.path, staged.doc, staged.stat = again.path, again.doc, again.stat
                if versioning == "Suspended":
                    self._drop_null_entries(kp)
                if plain is not None and (
                    versioning == "Enabled" or plain.record.get("vid") not in (None, NULL_VERSION)
                ):
                    self._archive_plain(kp, plain.record)  # drops the sidecar, may prune its directories
                    plain = None
                    sidecar_known = False
            sidecar_dir = os.path.dirname(kp.sidecar_s)
            state = self.layout.bucket_state(kp.bucket)  # made with the bucket, removed only with it
            if not sidecar_known:
                self._bucket_gone_is_no_such_bucket(
                    kp, lambda: fsutil.make_dirs(sidecar_dir, fsync=self.fsync, later=owed, root=state)
                )
            # an exchange leaves the previous sidecar at staged.path: the backup a failed commit restores. With no
            # latest plain file (a new key, or one just archived) there is no sidecar to exchange with.
            if plain is not None:
                exchanged = fsutil.exchange_into(staged.path, kp.sidecar_s)
            else:
                self._bucket_gone_is_no_such_bucket(
                    kp, lambda: fsutil.rename_into(staged.path, kp.sidecar_s, state)
                )
                exchanged = False
            try:
                aside = f"{self._tmp_prefix}{staged.doc['aside']}" if plain is not None else None
                old = self._replace_data(staged.temp, kp, aside=aside)
            except BaseException as exc:
                self._unstage(kp, staged, exchanged)
                if isinstance(exc, IsADirectoryError):
                    raise ObjectExistsAsDirectory(resource=kp.key) from exc
                if isinstance(exc, FileNotFoundError) and not os.path.isdir(
                    self.layout.bucket_dir_str(kp.bucket)
                ):
                    raise NoSuchBucket(resource=kp.bucket, extra={"BucketName": kp.bucket}) from exc
                raise
            # the next reader of the key (often the next writer's commit) finds it parsed already; a rename keeps
            # the inode, so the stamp stays valid until someone replaces or edits the file
            self.cache.remember(kp.sidecar_s, staged.stat, staged.doc)
            if self.fsync:
                owed.add_dir(sidecar_dir)
                owed.add_dir(os.path.dirname(kp.data_s))
        leftovers = [] if old is None else [old]
        reusable: list[Leftover] = []
        if old is not None and old == staged.temp and plain is not None:
            # the previous data, exchanged to the temp's name: small ones are written again, not unlinked
            if int(plain.record.get("size", MAX_SIZE + 1)) <= MAX_SIZE:
                reusable.append(Leftover("data", old, (kp.bucket, kp.key)))
        if exchanged:
            leftovers.append(staged.path)
            reusable.append(Leftover("sidecar", staged.path, (kp.bucket, kp.key)))
        return Committed(metadata.record_to_info(kp.key, staged.doc["obj"]), owed, leftovers, reusable)

    def _unstage(self, kp: KeyPaths, staged: Staged, exchanged: bool) -> None:
        """Undo the sidecar step of a commit whose data rename failed (caller holds the lock)."""
        self.cache.forget(kp.sidecar_s)
        if exchanged:
            fsutil.exchange_into(staged.path, kp.sidecar_s)  # swapped back: ours is at staged.path again
        else:
            os.replace(kp.sidecar_s, staged.path)  # there was none before

    def settle(self, committed: Committed) -> None:
        """Step 3, after the lock: the directory fsyncs (grouped with concurrent writers', durable.py), then the
        files the commit replaced are removed. Blocking when there are fsyncs owed (``committed.owed``)."""
        try:
            committed.owed.sync(self.dir_syncs)
        except BaseException:
            # the renames are done either way: a failed fsync leaves the new object, not the replaced files
            for path in committed.leftovers:
                fsutil.unlink_quiet(path)
            raise
        self.release(committed.leftovers, committed.reusable)

    def release(self, leftovers: list[str], reusable: list[Leftover]) -> None:
        """After a commit is durable: keep its reusable leftovers in the pool, unlink the rest."""
        kept = {item.path for item in reusable if self.pool.give(item)}
        for path in leftovers:
            if path not in kept:
                fsutil.unlink_quiet(path)

    def commit(
        self,
        kp: KeyPaths,
        temp: str,
        new: NewObject,
        size: int,
        *,
        condition: WriteCondition | None,
        versioning: VersioningStatus | None,
        version_id: str | None,
    ) -> ObjectInfo:
        """The three steps in one blocking call (for callers already in a worker thread)."""
        staged = self.stage(kp, temp, new, size, versioning=versioning, version_id=version_id)
        try:
            committed = self.commit_staged(kp, staged, condition=condition, versioning=versioning)
        except BaseException:
            fsutil.unlink_quiet(staged.path)
            raise
        self.settle(committed)
        return committed.info

    def recover_staged(self, path: str, buckets: list[str]) -> None:
        """Start-up: finish or undo the commit a dead writer left at ``path`` (a staged sidecar in ``tmp/``).

        Only a commit that died between its sidecar exchange and its data rename needs anything: its sidecar
        names ``path`` as ``back``. Then the new data is rolled forward when its temp survived, else the previous
        sidecar (now at ``path``) is put back when it describes the data at the plain path. The caller removes
        dead temps afterwards, this one included."""
        try:
            with open(path, "rb") as handle:
                doc = metadata.decode(handle.read())
        except (OSError, ValueError):
            return
        if not isinstance(doc, dict) or not isinstance(doc.get("key"), str):
            return
        name = os.path.basename(path)
        bucket = doc.get("b")
        for candidate in [bucket] if isinstance(bucket, str) else buckets:
            try:
                kp = self.paths(candidate, doc["key"])
            except InvalidObjectName:
                continue
            with self.locks.hold(kp.bucket, kp.key):
                live = self.cache.read(kp.sidecar_s)
                if live is None or live.get("back") != name:
                    continue
                try:
                    st: os.stat_result | None = os.lstat(kp.data_s)
                except OSError:
                    st = None
                if st is not None and tuple(live["id"]) == metadata.identity_of(st):
                    return  # the commit had finished
                pending = self.pending_temp(live)
                if pending:
                    self._roll_forward(kp, pending)
                    return
                aside = live.get("aside")
                if st is None and aside and os.path.exists(self.layout.tmp / aside):
                    fsutil.rename_into(self.layout.tmp / aside, kp.data_s)
                    st = os.lstat(kp.data_s)
                if st is not None and "obj" in doc and tuple(doc.get("id") or ()) == metadata.identity_of(st):
                    fsutil.rename_into(path, kp.sidecar_s)
                    self.cache.forget(kp.sidecar_s)
            return

    def _replace_data(self, temp: str, kp: KeyPaths, *, aside: str | None) -> str | None:
        """Rename ``temp`` onto the plain path (under the key lock, after the sidecar names ``temp`` pending),
        moving the current file to ``aside`` (a name in ``tmp/`` the sidecar records) first; where the kernel
        can, exchange the two instead (the previous data then sits at ``temp``'s name).

        ext4 flushes a file renamed over an existing one (``auto_da_alloc``), which made every overwrite cost
        an implicit fsync even with fsync off. Moving the old file aside first avoids that. In between the
        plain path is briefly absent: lockless readers then find the sidecar's pending temp and wait for this
        lock; after a crash there the pending temp is rolled forward, or, when it was lost, the aside file is
        moved back with the previous sidecar. Returns the aside file for the caller to unlink.
        """
        if aside is not None and fsutil.can_exchange():
            # one atomic exchange: the plain path is never absent, and the previous data lands at the temp's
            # name (a crash after it leaves the sidecar matching the plain data: the commit had finished)
            return temp if fsutil.exchange_into(temp, kp.data_s) else None
        old = aside
        if old is not None:
            try:
                os.rename(kp.data_s, old)
            except FileNotFoundError:
                old = None
        try:
            fsutil.rename_into(temp, kp.data_s, self.layout.bucket_dir_str(kp.bucket))
        except BaseException:
            if old is not None:
                os.rename(old, kp.data_s)
            raise
        return old

    def _bucket_gone_is_no_such_bucket(self, kp: KeyPaths, action: Callable[[], object]) -> None:
        """Run ``action``; a FileNotFoundError because the bucket was deleted meanwhile is NoSuchBucket."""
        try:
            action()
        except FileNotFoundError as exc:
            if not os.path.isdir(self.layout.bucket_state(kp.bucket)):
                raise NoSuchBucket(resource=kp.bucket, extra={"BucketName": kp.bucket}) from exc
            raise

    def _prepare_path(self, kp: KeyPaths, owed: Durable | None = None) -> None:
        """Create the key's directories; refuse ``a/b`` when ``a`` is an object and ``a`` when ``a/`` has keys."""
        bucket_dir = self.layout.bucket_dir_str(kp.bucket)
        if not os.path.isdir(bucket_dir):
            # deleted while the body streamed: makedirs below must not resurrect the bucket directory
            raise NoSuchBucket(resource=kp.bucket, extra={"BucketName": kp.bucket})
        parent = os.path.dirname(kp.data_s)
        try:
            fsutil.make_dirs(parent, fsync=self.fsync, later=owed, root=bucket_dir)
        except (FileExistsError, NotADirectoryError) as exc:
            raise ParentIsObject(resource=kp.key) from exc
        except FileNotFoundError as exc:
            if not os.path.isdir(bucket_dir):  # deleted meanwhile: never made again by a write
                raise NoSuchBucket(resource=kp.bucket, extra={"BucketName": kp.bucket}) from exc
            raise
        if parent != bucket_dir and not self._inside(kp):
            raise InvalidObjectName("The key's path crosses a symbolic link.", resource=kp.key)
        if os.path.isdir(kp.data_s) and not os.path.islink(kp.data_s):
            try:
                os.rmdir(kp.data)  # an empty leftover directory may go
            except OSError as exc:
                raise ObjectExistsAsDirectory(resource=kp.key) from exc

    def _archive_plain(self, kp: KeyPaths, record: dict[str, Any]) -> None:
        archived = dict(record)
        archived["vid"] = record.get("vid") or NULL_VERSION
        versions.add(kp.vdir, kp.key, archived, kp.data, fsync=self.fsync, tmp=self.layout.tmp)
        self._drop_sidecar(kp)

    def _drop_sidecar(self, kp: KeyPaths) -> None:
        fsutil.unlink_quiet(kp.sidecar)
        self.cache.forget(kp.sidecar_s)
        fsutil.prune_empty_dirs(kp.sidecar.parent, self.layout.meta_root(kp.bucket))

    def _drop_plain(self, kp: KeyPaths) -> None:
        # data first, then sidecar: a sidecar without data already reads as absent
        fsutil.unlink_quiet(kp.data)
        self._drop_sidecar(kp)
        fsutil.prune_empty_dirs(kp.data.parent, self.layout.bucket_dir(kp.bucket))
        if self.fsync:
            with contextlib.suppress(FileNotFoundError):
                fsutil.fsync_dir(kp.data.parent)

    def _drop_null_entries(self, kp: KeyPaths) -> None:
        for entry in versions.entries(kp.vdir):
            if entry.version_id == NULL_VERSION:
                versions.remove(kp.vdir, entry, self.layout.versions_root(kp.bucket))

    def _promote(self, kp: KeyPaths) -> None:
        """After the latest was removed by id, make the next newest version the plain file again."""
        newest = versions.newest(kp.vdir)
        if newest is None or newest[1].get("dm"):
            return
        entry, record = newest
        data = entry.data_path(kp.vdir)
        try:
            self._prepare_path(kp)
        except (ParentIsObject, ObjectExistsAsDirectory, InvalidObjectName):
            return  # another key took the path meanwhile: the version stays readable from the store
        # sidecar first (identity of the store file, which the rename keeps), then data, then the store json
        self._write_sidecar(kp, metadata.identity_of(os.stat(data)), record, pending=None, prev=None)
        fsutil.rename_into(data, kp.data)
        fsutil.unlink_quiet(entry.json_path(kp.vdir))
        fsutil.prune_empty_dirs(kp.vdir, self.layout.versions_root(kp.bucket))
        if self.fsync:
            fsutil.fsync_dir(kp.data.parent)

    # -- deletes --------------------------------------------------------------------------------------------
    def delete(
        self,
        kp: KeyPaths,
        *,
        version_id: str | None,
        versioning: VersioningStatus | None,
        marker_version_id: str | None,
        condition: WriteCondition | None,
    ) -> DeleteOutcome:
        with self.locks.hold(kp.bucket, kp.key):
            current = self.latest(kp, locked=True)
            if condition is not None:
                live = current if current is not None and not current.record.get("dm") else None
                condition(None if live is None else metadata.record_to_info(kp.key, live.record))
            if version_id is not None:
                return self._delete_version(kp, current, version_id)
            plain = current if current is not None and current.plain else None
            if versioning is None:
                if plain is not None:
                    self._drop_plain(kp)
                return DeleteOutcome()
            seq = time.time_ns()
            if current is not None:
                seq = max(seq, int(current.record.get("seq", 0)) + 1)
            if versioning == "Suspended":
                self._drop_null_entries(kp)
                if plain is not None and plain.record.get("vid") in (None, NULL_VERSION):
                    self._drop_plain(kp)
                    plain = None
                marker_id = NULL_VERSION
            else:
                marker_id = marker_version_id or NULL_VERSION
            if plain is not None:
                self._archive_plain(kp, plain.record)
                fsutil.prune_empty_dirs(kp.data.parent, self.layout.bucket_dir(kp.bucket))
            marker = metadata.marker_record(now=self.clock.now(), version_id=marker_id, seq=seq)
            versions.add(kp.vdir, kp.key, marker, None, fsync=self.fsync, tmp=self.layout.tmp)
            return DeleteOutcome(version_id=marker_id, delete_marker=True)

    def _delete_version(self, kp: KeyPaths, current: Found | None, version_id: str) -> DeleteOutcome:
        if current is not None and current.plain and _same_version(current.record, version_id):
            self._drop_plain(kp)
            self._promote(kp)
            return DeleteOutcome(version_id=version_id)
        hit = versions.find(kp.vdir, version_id)
        if hit is None:
            # S3 answers 204 for a version that does not exist
            return DeleteOutcome(version_id=version_id)
        entry, record = hit
        was_latest = current is not None and not current.plain and current.entry == entry
        versions.remove(kp.vdir, entry, self.layout.versions_root(kp.bucket))
        if was_latest:
            self._promote(kp)
        return DeleteOutcome(version_id=version_id, delete_marker=bool(record.get("dm")))

    # -- metadata updates -----------------------------------------------------------------------------------
    def update(
        self, kp: KeyPaths, version_id: str | None, change: Callable[[ObjectInfo], ObjectInfo]
    ) -> ObjectInfo:
        with self.locks.hold(kp.bucket, kp.key):
            found = self.resolve(kp, version_id, locked=True, want_fd=False)
            before = metadata.record_to_info(kp.key, found.record)
            after = change(before)
            record = metadata.info_to_record(after, int(found.record.get("seq", 0)))
            if found.plain:
                ident = metadata.identity_of(os.lstat(kp.data))
                self._write_sidecar(kp, ident, record, pending=None, prev=None)
            else:
                assert found.entry is not None
                fsutil.atomic_write(
                    found.entry.json_path(kp.vdir),
                    metadata.encode({"key": kp.key, "obj": record}),
                    fsync=self.fsync,
                    tmp_dir=self.layout.tmp,
                )
            return metadata.record_to_info(kp.key, record)


class _Absent(Exception):
    pass


def _mtime(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime_ns / 1e9, tz=UTC)
