"""Offline-safe maintenance of a filesystem data directory: garbage collection and consistency checks.

Used by ``smarts3 gc`` and ``smarts3 fsck``. Every function here is blocking and may run while a server uses
the same directory: anything that changes a key's files is done under that key's cross-process lock
(locks.py) after looking again, and repairs reuse the engine's own roll-forward / roll-back / re-index logic
(objects.py), so a repair never invents a state the server could not have produced itself.

A :class:`Finding` is one thing found; ``problem`` tells whether it is a defect (fsck exits 1) or just worth
knowing (a file another program placed, which the server indexes on first read anyway).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import msgspec

from smarts3.adapters.storage.filesystem import fsutil, metadata, versions
from smarts3.adapters.storage.filesystem.backend import FilesystemStorage
from smarts3.adapters.storage.filesystem.layout import components_key, version_entry_id
from smarts3.adapters.storage.filesystem.multipart import BUSY_PREFIX
from smarts3.adapters.storage.filesystem.objects import NeedLock
from smarts3.domain.errors import NoSuchUpload, S3Error
from smarts3.domain.validation import is_valid_bucket_name

__all__ = ["Finding", "collect_garbage", "fsck"]

_HASH_CHUNK = 1 << 20


@attrs.frozen
class Finding:
    """One thing gc or fsck found. ``path`` is absolute; ``size`` is the bytes it holds (gc)."""

    kind: str
    path: str
    detail: str
    bucket: str | None = None
    key: str | None = None
    size: int = 0
    #: a defect (True) or only a notice (False)
    problem: bool = True
    #: whether ``--apply`` / ``--repair`` can fix it safely
    repairable: bool = True
    repaired: bool = False
    #: what went wrong when a repair was attempted and failed
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "bucket": self.bucket,
            "key": self.key,
            "path": self.path,
            "detail": self.detail,
            "size": self.size,
            "problem": self.problem,
            "repairable": self.repairable,
            "repaired": self.repaired,
            "error": self.error,
        }


def _tree_size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        try:
            return path.lstat().st_size
        except OSError:
            return 0
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                continue
    return total


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        fsutil.unlink_quiet(path)


def _bucket_names(storage: FilesystemStorage) -> list[str]:
    root = storage.layout.root
    return sorted(
        entry.name
        for entry in os.scandir(root)
        if entry.is_dir(follow_symlinks=False) and is_valid_bucket_name(entry.name)
    )


# --- garbage collection ---------------------------------------------------------------------------------------


def collect_garbage(
    storage: FilesystemStorage,
    *,
    upload_age: float,
    temp_age: float,
    apply: bool,
    now: float | None = None,
) -> list[Finding]:
    """Find (and with ``apply`` remove) what no live request needs any more.

    * multipart uploads initiated more than ``upload_age`` seconds ago (aborted atomically, like the server);
    * uploads of buckets that no longer exist; upload directories without a readable ``upload.json``;
    * part files no part record points at, older than ``temp_age``;
    * complete/abort leftovers (``.busy-*``) of processes that are gone (a complete is given back);
    * temp files whose writer process is gone, or that nobody touched for ``temp_age`` seconds.
    """
    storage._ensure_started()
    now = time.time() if now is None else now
    found: list[Finding] = []
    # uploads first: an interrupted complete's data file may be out among the temps (multipart.py)
    found.extend(_garbage_uploads(storage, upload_age, temp_age, now, apply))
    found.extend(_garbage_temps(storage, temp_age, now, apply))
    return found


def _garbage_temps(storage: FilesystemStorage, temp_age: float, now: float, apply: bool) -> Iterator[Finding]:
    tmp = storage.layout.tmp
    try:
        entries = list(os.scandir(tmp))
    except FileNotFoundError:
        return
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        age = now - st.st_mtime
        pid = fsutil.temp_owner(entry.name)
        path = Path(entry.path)
        if pid is not None and not fsutil.pid_alive(pid):
            detail = f"temp file of process {pid}, which is gone"
            remove: Any = lambda p=path: _remove(p)  # noqa: E731
        elif age > temp_age:
            # a live server's file: maybe one it keeps to write again (recycle.py), which keeps the old mtime
            detail = f"temp file untouched for {age:.0f} s"
            remove = lambda p=path: _remove_idle(p, temp_age)  # noqa: E731
        else:
            continue
        finding = Finding("temp-file", str(path), detail, size=_tree_size(path))
        yield _applied(finding, remove) if apply else finding


def _remove_idle(path: Path, temp_age: float) -> None:
    """Remove a live server's temp file only if it is still idle, holding the exclusive flock that a server
    taking the file for reuse (recycle.py ``take``) also needs: it can never be taken while it is being removed,
    nor removed while it is being written."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # being written or read right now: not idle
        st = os.fstat(fd)
        if time.time() - st.st_mtime <= temp_age:
            return  # written again since it was looked at
        try:
            same = os.lstat(path).st_ino == st.st_ino
        except FileNotFoundError:
            return
        if same:
            fsutil.unlink_quiet(path)
    finally:
        os.close(fd)


def _applied(finding: Finding, action: Any) -> Finding:
    try:
        action()
    except (OSError, S3Error) as exc:
        return attrs.evolve(finding, error=str(exc))
    return attrs.evolve(finding, repaired=True)


def _garbage_uploads(
    storage: FilesystemStorage, upload_age: float, temp_age: float, now: float, apply: bool
) -> Iterator[Finding]:
    layout = storage.layout
    uploads = storage.uploads
    try:
        buckets = sorted(os.listdir(layout.uploads))
    except FileNotFoundError:
        return
    for bucket in buckets:
        root = layout.upload_root(bucket)
        if not root.is_dir():
            continue
        if not layout.bucket_dir(bucket).is_dir():
            finding = Finding(
                "orphan-uploads",
                str(root),
                "multipart uploads of a bucket that no longer exists",
                bucket=bucket,
                size=_tree_size(root),
            )
            yield _applied(finding, lambda p=root: shutil.rmtree(p)) if apply else finding
            continue
        for name in sorted(os.listdir(root)):
            directory = root / name
            if name.startswith(BUSY_PREFIX):
                yield from _garbage_busy(storage, bucket, directory, apply)
                continue
            try:
                with open(directory / "upload.json", "rb") as handle:
                    upload = metadata.upload_from_bytes(handle.read())
            except (
                FileNotFoundError,
                NotADirectoryError,
                ValueError,
                TypeError,
                KeyError,
                msgspec.DecodeError,
            ) as exc:
                try:
                    age = now - directory.lstat().st_mtime
                except FileNotFoundError:
                    continue
                if age <= temp_age:
                    continue  # maybe being created right now
                finding = Finding(
                    "broken-upload",
                    str(directory),
                    f"no readable upload.json ({exc.__class__.__name__})",
                    bucket=bucket,
                    size=_tree_size(directory),
                )
                yield _applied(finding, lambda p=directory: _remove(p)) if apply else finding
                continue
            age = now - upload.initiated.timestamp()
            if age > upload_age:
                finding = Finding(
                    "stale-upload",
                    str(directory),
                    f"multipart upload {upload.upload_id} initiated {upload.initiated.isoformat()} ({age:.0f} s ago)",
                    bucket=bucket,
                    key=upload.key,
                    size=_tree_size(directory),
                )
                if apply:

                    def abort(u: Any = upload) -> None:
                        try:
                            uploads.drop(uploads.take(u.bucket, u.key, u.upload_id, "abort"))
                        except NoSuchUpload:
                            return  # completed or aborted meanwhile: nothing left to collect

                    finding = _applied(finding, abort)
                yield finding
                continue
            yield from _orphan_parts(directory, bucket, upload.key, temp_age, now, apply)


def _orphan_parts(
    directory: Path, bucket: str, key: str, temp_age: float, now: float, apply: bool
) -> Iterator[Finding]:
    """Part data files no ``p<n>.json`` names (a crash between the part rename and its record)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    referenced: set[str] = set()
    for name in names:
        if name.startswith("p") and name.endswith(".json"):
            try:
                with open(directory / name, "rb") as handle:
                    referenced.add(metadata.part_from_bytes(handle.read())[1])
            except (OSError, ValueError, KeyError, TypeError, msgspec.DecodeError):
                continue
    for name in names:
        # (a ``.slot`` claims a region of ``data`` for good: see multipart.py)
        if not name.startswith("p") or name.endswith((".json", ".slot")) or name in referenced:
            continue
        path = directory / name
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue
        if now - st.st_mtime <= temp_age:
            continue  # a part being published right now (renamed in, record not yet written)
        finding = Finding(
            "orphan-part",
            str(path),
            "part data no part record refers to",
            bucket=bucket,
            key=key,
            size=st.st_size,
        )
        yield _applied(finding, lambda p=path: fsutil.unlink_quiet(p)) if apply else finding


def _garbage_busy(storage: FilesystemStorage, bucket: str, directory: Path, apply: bool) -> Iterator[Finding]:
    purpose, _, rest = directory.name[len(BUSY_PREFIX) :].partition("-")
    pid = fsutil.temp_owner(rest)
    if pid is None or fsutil.pid_alive(pid):
        return
    upload_id = rest.split("-", 2)[-1]
    give_back = purpose == "complete"
    detail = f"multipart {purpose} interrupted (process {pid} is gone); " + (
        "the upload is given back" if give_back else "the upload is removed"
    )
    finding = Finding("interrupted-upload", str(directory), detail, bucket=bucket, size=_tree_size(directory))
    if apply:

        def settle() -> None:
            # claimed first (renamed to a name of ours), as start-up does: both may run at once
            claimed = storage.uploads.claim_busy(directory, purpose, upload_id)
            if claimed is None:
                return
            if give_back:
                storage.uploads.give_back(claimed, bucket, upload_id)
            else:
                storage.uploads.drop(claimed)

        finding = _applied(finding, settle)
    yield finding


# --- consistency check ------------------------------------------------------------------------------------------


def fsck(storage: FilesystemStorage, *, verify_etags: bool, repair: bool) -> list[Finding]:
    """Check that data files, sidecars and the version store agree; with ``repair`` fix what is safe.

    Per bucket: every data file (indexed? sidecar readable and describing these bytes? size and, with
    ``verify_etags``, MD5 matching?), every sidecar (does its data exist?), every version store entry (json
    and data both present?). Plus bucket state left by buckets whose directory is gone.
    """
    storage._ensure_started()
    found: list[Finding] = []
    buckets = _bucket_names(storage)
    for bucket in buckets:
        found.extend(_check_data(storage, bucket, verify_etags, repair))
        found.extend(_check_sidecars(storage, bucket, repair))
        found.extend(_check_versions(storage, bucket, repair))
    found.extend(_check_bucket_state(storage, set(buckets), repair))
    return found


def _data_files(bucket_dir: Path) -> Iterator[tuple[Path, str | None, str]]:
    """(path, key or None, why not a key) for every non-directory entry below the bucket directory."""
    for directory, dirs, files in os.walk(bucket_dir):
        base = Path(directory)
        relative = base.relative_to(bucket_dir).parts
        for name in list(dirs):
            if (base / name).is_symlink():
                dirs.remove(name)
                yield base / name, None, "a symbolic link (never followed, never listed)"
        for name in files:
            path = base / name
            if path.is_symlink():
                yield path, None, "a symbolic link (never followed, never listed)"
                continue
            try:
                key = components_key([*relative, name])
            except ValueError:
                yield path, None, "a name the key encoding never produces (ignored by listings)"
                continue
            yield path, key, ""


def _read_sidecar(path: Path) -> tuple[str, dict[str, Any] | None]:
    """("absent" | "corrupt" | "ok", document). Read under a shared flock, like the server's own reads: a sidecar
    that a live server's commit just displaced may be being written again for another key (recycle.py)."""
    try:
        read = metadata.read_locked(str(path))
    except (FileNotFoundError, NotADirectoryError):
        return "absent", None
    if read is None:
        return "corrupt", None
    raw = read[1]
    try:
        doc = metadata.decode(raw)
    except msgspec.DecodeError:
        return "corrupt", None
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("obj"), dict)
        or not isinstance(doc.get("id"), list)
    ):
        return "corrupt", None
    return "ok", doc


def _md5_of(path: Path) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            md5.update(chunk)
    return md5.hexdigest()


def _reindex(storage: FilesystemStorage, bucket: str, key: str) -> None:
    """Let the engine settle the key under its lock (roll forward/back, drop a stale sidecar, or hash)."""
    engine = storage.objects
    kp = engine.paths(bucket, key)
    with storage.locks.hold(bucket, key):
        try:
            engine.read_plain(kp, locked=True, want_fd=False)
        except NeedLock:  # pragma: no cover - cannot happen with locked=True
            raise


def _rebuild_sidecar(
    storage: FilesystemStorage, bucket: str, key: str, *, size_mismatch: bool = False
) -> None:
    """Replace an unusable sidecar (unreadable, or ``size_mismatch``: recording another size than the data's) by
    one computed from the data (content type and user metadata are lost), after looking again under the key's
    lock: a server may have replaced it since the check."""
    engine = storage.objects
    kp = engine.paths(bucket, key)
    with storage.locks.hold(bucket, key):
        state, doc = _read_sidecar(kp.sidecar)
        if size_mismatch and state == "ok" and doc is not None:
            try:
                still_bad = int(doc["obj"].get("size", -1)) != os.lstat(kp.data_s).st_size
            except FileNotFoundError:
                still_bad = False
        else:
            still_bad = state == "corrupt"
        if not still_bad:
            engine.cache.forget(str(kp.sidecar))
            engine.read_plain(kp, locked=True, want_fd=False)  # whatever else it needs (roll forward...)
            return
        fsutil.unlink_quiet(kp.sidecar)
        engine.cache.forget(str(kp.sidecar))
        engine.read_plain(kp, locked=True, want_fd=False)


def _check_data(
    storage: FilesystemStorage, bucket: str, verify_etags: bool, repair: bool
) -> Iterator[Finding]:
    engine = storage.objects
    for path, key, why in _data_files(storage.layout.bucket_dir(bucket)):
        if key is None:
            yield Finding("ignored-entry", str(path), why, bucket=bucket, problem=False, repairable=False)
            continue
        kp = engine.paths(bucket, key)
        state, doc = _read_sidecar(kp.sidecar)
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue  # deleted meanwhile
        finding: Finding | None = None
        action: Any = None
        if state == "absent":
            finding = Finding(
                "unindexed",
                str(path),
                "no metadata yet (placed by another program?); indexed with an MD5 ETag on first read",
                bucket=bucket,
                key=key,
                problem=False,
            )
            action = lambda k=key: _reindex(storage, bucket, k)  # noqa: E731
        elif state == "corrupt":
            finding = Finding(
                "corrupt-sidecar",
                str(kp.sidecar),
                "metadata file is not readable; repair re-indexes from the data "
                "(content type and user metadata are lost)",
                bucket=bucket,
                key=key,
            )
            action = lambda k=key: _rebuild_sidecar(storage, bucket, k)  # noqa: E731
        else:
            assert doc is not None
            record = doc["obj"]
            if tuple(doc["id"]) != metadata.identity_of(st):
                if storage.objects.pending_temp(doc):
                    detail = (
                        "interrupted commit: the new data is still in a temp file (rolled forward on repair)"
                    )
                    is_problem = True
                else:
                    prev = doc.get("prev")  # how sidecars of earlier versions kept the previous metadata
                    if storage.objects.backup_of(doc, metadata.identity_of(st)) is not None or (
                        prev and tuple(prev["id"]) == metadata.identity_of(st)
                    ):
                        detail = "interrupted commit: data is the previous version (metadata rolled back on repair)"
                        is_problem = True
                    else:
                        detail = (
                            "data changed since its metadata was written (by another program?); "
                            "the ETag is recomputed on first read"
                        )
                        is_problem = False
                finding = Finding(
                    "stale-metadata", str(path), detail, bucket=bucket, key=key, problem=is_problem
                )
                action = lambda k=key: _reindex(storage, bucket, k)  # noqa: E731
            elif int(record.get("size", -1)) != st.st_size:
                finding = Finding(
                    "size-mismatch",
                    str(path),
                    f"metadata says {record.get('size')} bytes, the file has {st.st_size}; repair "
                    "re-indexes from the data",
                    bucket=bucket,
                    key=key,
                )
                action = lambda k=key: _rebuild_sidecar(storage, bucket, k, size_mismatch=True)  # noqa: E731
            elif verify_etags and "-" not in str(record.get("etag", "")) and not record.get("dm"):
                actual = _md5_of(path)
                if actual != record.get("etag"):
                    finding = Finding(
                        "etag-mismatch",
                        str(path),
                        f"stored ETag {record.get('etag')} but the data hashes to {actual}: the bytes changed "
                        "without their size or mtime changing (corruption?); restore or re-upload it",
                        bucket=bucket,
                        key=key,
                        repairable=False,
                    )
        if finding is None:
            continue
        if repair and finding.repairable and action is not None:
            finding = _applied(finding, action)
        yield finding


def _meta_key(meta_root: Path, path: Path) -> str | None:
    """The key a sidecar path mirrors (``.d`` directories, ``.m`` leaf), or None."""
    parts = path.relative_to(meta_root).parts
    if not parts or not parts[-1].endswith(".m") or any(not p.endswith(".d") for p in parts[:-1]):
        return None
    try:
        return components_key([*(p[:-2] for p in parts[:-1]), parts[-1][:-2]])
    except ValueError:
        return None


def _check_sidecars(storage: FilesystemStorage, bucket: str, repair: bool) -> Iterator[Finding]:
    """Sidecars whose data file is gone (deleted behind the server's back, or a crash mid-delete)."""
    engine = storage.objects
    meta_root = storage.layout.meta_root(bucket)
    for directory, _, files in os.walk(meta_root):
        for name in files:
            path = Path(directory) / name
            key = _meta_key(meta_root, path)
            if key is None:
                continue  # temp names, foreign files: not ours to judge
            kp = engine.paths(bucket, key)
            if os.path.lexists(kp.data):
                continue  # checked from the data side
            state, doc = _read_sidecar(path)
            if doc is not None and storage.objects.pending_temp(doc):
                finding = Finding(
                    "interrupted-commit",
                    str(path),
                    "the data is still in a temp file (rolled forward on repair)",
                    bucket=bucket,
                    key=key,
                )
                action: Any = lambda k=key: _reindex(storage, bucket, k)  # noqa: E731
            else:
                finding = Finding(
                    "orphan-sidecar",
                    str(path),
                    "metadata without data (the file was removed); the object is absent either way",
                    bucket=bucket,
                    key=key,
                )
                if state == "ok":
                    action = lambda k=key: _reindex(storage, bucket, k)  # noqa: E731
                else:

                    def action(p: Path = path, k: str = key) -> None:
                        with storage.locks.hold(bucket, k):
                            if not os.path.lexists(engine.paths(bucket, k).data):
                                fsutil.unlink_quiet(p)

            yield _applied(finding, action) if repair else finding


def _check_versions(storage: FilesystemStorage, bucket: str, repair: bool) -> Iterator[Finding]:
    root = storage.layout.versions_root(bucket)
    for directory, dirs, _ in os.walk(root):
        for name in dirs:
            if not name.endswith(".v"):
                continue
            vdir = Path(directory) / name
            yield from _check_version_dir(storage, bucket, vdir, root, repair)


def _check_version_dir(
    storage: FilesystemStorage, bucket: str, vdir: Path, root: Path, repair: bool
) -> Iterator[Finding]:
    try:
        names = set(os.listdir(vdir))
    except FileNotFoundError:
        return
    for name in sorted(names):
        stem, dot, ext = name.rpartition(".")
        if not dot or ext not in ("json", "data"):
            continue
        try:
            seq, version_id = version_entry_id(stem)
        except ValueError:
            continue
        entry = versions.Entry(seq, version_id, stem)
        if ext == "data":
            if stem + ".json" not in names:
                yield Finding(
                    "orphan-version-data",
                    str(vdir / name),
                    "archived data without its version record (unreachable); check and remove by hand",
                    bucket=bucket,
                    size=_tree_size(vdir / name),
                    repairable=False,
                )
            continue
        try:
            doc = metadata.decode((vdir / name).read_bytes())
            record = doc["obj"]
            key = str(doc["key"])
        except (OSError, msgspec.DecodeError, KeyError, TypeError):
            yield Finding(
                "corrupt-version",
                str(vdir / name),
                "version record is not readable",
                bucket=bucket,
                repairable=False,
            )
            continue
        if record.get("dm") or stem + ".data" in names:
            continue
        finding = Finding(
            "incomplete-version",
            str(vdir / name),
            f"version {version_id} has a record but no data (an archive interrupted by a crash; "
            "ignored by reads)",
            bucket=bucket,
            key=key,
        )

        def drop(e: versions.Entry = entry, k: str = key) -> None:
            with storage.locks.hold(bucket, k):
                if not e.data_path(vdir).exists():
                    fsutil.unlink_quiet(e.json_path(vdir))
                    fsutil.prune_empty_dirs(vdir, root)

        yield _applied(finding, drop) if repair else finding


def _check_bucket_state(storage: FilesystemStorage, buckets: set[str], repair: bool) -> Iterator[Finding]:
    layout = storage.layout
    try:
        names = sorted(os.listdir(layout.buckets_state))
    except FileNotFoundError:
        return
    for name in names:
        if name in buckets:
            continue
        path = layout.bucket_state(name)
        finding = Finding(
            "orphan-bucket-state",
            str(path),
            "metadata and versions of a bucket whose directory is gone (the bucket does not exist)",
            bucket=name,
            size=_tree_size(path),
        )
        yield _applied(finding, lambda p=path: shutil.rmtree(p)) if repair else finding


def utc_iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat()
