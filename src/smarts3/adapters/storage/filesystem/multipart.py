"""Multipart uploads on disk, under ``.smarts3/uploads/<bucket>/<upload id>/``.

``upload.json`` holds the UploadInfo; each part is a data file ``p<number>-<unique>`` plus ``p<number>.json``
(PartInfo and the data file's name). A part is written to a temp, fsynced, renamed into the upload directory,
then its json is atomically replaced: parallel parts (even of the same number) never wait on each other and a
reader always sees a complete part. Everything is on disk, so uploads survive restarts and are shared by workers.

Completing or aborting first *renames* the upload directory to a private name (``.completing-<pid>-...``): the
rename is atomic, so a second complete/abort, or a part racing in, finds no upload (NoSuchUpload) and can never
observe or produce a half-assembled object. ``start()`` renames back directories of dead completers.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from smarts3.adapters.storage.filesystem import fsutil, metadata
from smarts3.adapters.storage.filesystem.layout import Layout
from smarts3.domain.errors import InvalidPart, NoSuchUpload
from smarts3.domain.models import PartInfo, UploadInfo
from smarts3.domain.ports import BodyDigest

_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_\-=~]{1,200}$")
_PART_JSON = re.compile(r"^p(\d{5})\.json$")
_COPY_CHUNK = 1 << 20
BUSY_PREFIX = ".busy-"


class Uploads:
    def __init__(self, layout: Layout, *, fsync: bool) -> None:
        self.layout = layout
        self.fsync = fsync

    def upload_dir(self, bucket: str, upload_id: str) -> Path:
        if not _UPLOAD_ID.match(upload_id):
            raise NoSuchUpload(resource=upload_id)
        return self.layout.upload_root(bucket) / upload_id

    # -- blocking operations (called in worker threads) ------------------------------------------------
    def create(self, upload: UploadInfo) -> None:
        directory = self.upload_dir(upload.bucket, upload.upload_id)
        with fsutil.disk_errors():
            fsutil.make_dirs(directory, fsync=self.fsync)
            fsutil.atomic_write(
                directory / "upload.json",
                metadata.upload_to_bytes(upload),
                fsync=self.fsync,
                tmp_dir=self.layout.tmp,
            )

    def get(self, bucket: str, key: str, upload_id: str, directory: Path | None = None) -> UploadInfo:
        directory = directory or self.upload_dir(bucket, upload_id)
        try:
            with open(directory / "upload.json", "rb") as handle:
                upload = metadata.upload_from_bytes(handle.read())
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise NoSuchUpload(resource=upload_id) from exc
        if upload.key != key:
            raise NoSuchUpload(resource=upload_id)
        return upload

    def store_part(self, bucket: str, key: str, upload_id: str, temp: Path, part: PartInfo) -> PartInfo:
        """Move a finished part temp into the upload (the upload must still exist) and publish its json."""
        directory = self.upload_dir(bucket, upload_id)
        self.get(bucket, key, upload_id)
        number = part.part_number
        data_name = f"p{number:05d}-{uuid.uuid4().hex}"
        json_path = directory / f"p{number:05d}.json"
        previous = self._read_part(json_path)
        try:
            # plain os.replace: if the upload directory vanished (completed/aborted) this must fail
            os.replace(temp, directory / data_name)
            fsutil.atomic_write(
                json_path, metadata.part_to_bytes(part, data_name), fsync=self.fsync, tmp_dir=self.layout.tmp
            )
        except FileNotFoundError as exc:
            fsutil.unlink_quiet(temp)
            raise NoSuchUpload(resource=upload_id) from exc
        if previous is not None and previous[1] != data_name:
            fsutil.unlink_quiet(directory / previous[1])
        return part

    @staticmethod
    def _read_part(path: Path) -> tuple[PartInfo, str] | None:
        try:
            with open(path, "rb") as handle:
                return metadata.part_from_bytes(handle.read())
        except (FileNotFoundError, NotADirectoryError):
            return None

    def parts(
        self, bucket: str, key: str, upload_id: str, directory: Path | None = None
    ) -> list[tuple[PartInfo, str]]:
        directory = directory or self.upload_dir(bucket, upload_id)
        self.get(bucket, key, upload_id, directory)
        found: list[tuple[PartInfo, str]] = []
        for name in os.listdir(directory):
            if _PART_JSON.match(name):
                part = self._read_part(directory / name)
                if part is not None:
                    found.append(part)
        found.sort(key=lambda item: item[0].part_number)
        return found

    def in_bucket(self, bucket: str) -> list[UploadInfo]:
        root = self.layout.upload_root(bucket)
        try:
            names = os.listdir(root)
        except FileNotFoundError:
            return []
        uploads: list[UploadInfo] = []
        for name in names:
            if name.startswith("."):
                continue
            try:
                with open(root / name / "upload.json", "rb") as handle:
                    uploads.append(metadata.upload_from_bytes(handle.read()))
            except (FileNotFoundError, NotADirectoryError):
                continue
        uploads.sort(key=lambda u: (u.key, u.initiated, u.upload_id))
        return uploads

    def take(self, bucket: str, key: str, upload_id: str, purpose: str) -> Path:
        """Atomically move the upload out of reach of other completes/aborts/parts; returns its new path."""
        directory = self.upload_dir(bucket, upload_id)
        self.get(bucket, key, upload_id)
        busy = directory.parent / f"{BUSY_PREFIX}{purpose}-{fsutil.temp_name()}-{upload_id}"
        try:
            os.rename(directory, busy)
        except FileNotFoundError as exc:
            raise NoSuchUpload(resource=upload_id) from exc
        return busy

    def give_back(self, busy: Path, bucket: str, upload_id: str) -> None:
        """A complete refused by a precondition or a bad part leaves the upload as it was (S3 keeps it)."""
        try:
            os.rename(busy, self.upload_dir(bucket, upload_id))
        except OSError:
            shutil.rmtree(busy, ignore_errors=True)

    def drop(self, busy: Path) -> None:
        # rename first: a crash halfway through the removal must leave a directory recover() removes, not a
        # "complete" one it would give back as an upload with parts missing
        doomed = busy.parent / f"{BUSY_PREFIX}drop-{fsutil.temp_name()}"
        try:
            os.rename(busy, doomed)
        except OSError:
            doomed = busy
        shutil.rmtree(doomed, ignore_errors=True)

    def assemble(
        self,
        busy: Path,
        bucket: str,
        key: str,
        upload_id: str,
        wanted: Sequence[PartInfo],
        temp: Path,
        digest: BodyDigest,
    ) -> int:
        """Concatenate the wanted parts into ``temp`` with large copies, feeding ``digest``. Returns the size."""
        stored = {part.part_number: (part, name) for part, name in self.parts(bucket, key, upload_id, busy)}
        size = 0
        with fsutil.disk_errors():
            out = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            try:
                for want in wanted:
                    have = stored.get(want.part_number)
                    if have is None or have[0].etag != want.etag.strip('"'):
                        raise InvalidPart(extra={"PartNumber": str(want.part_number)})
                    src = os.open(busy / have[1], os.O_RDONLY | os.O_CLOEXEC)
                    try:
                        if not getattr(digest, "wants_bytes", True):
                            # nobody needs to see the bytes (the multipart ETag and checksums come from
                            # the parts): let the kernel copy them (a reflink on XFS/btrfs)
                            copied = _kernel_copy(src, out)
                            if copied is not None:
                                size += copied
                                continue
                        # read + write: the digest has to see every byte
                        while chunk := os.read(src, _COPY_CHUNK):
                            fsutil.write_all(out, chunk)
                            digest.update(chunk)
                            size += len(chunk)
                    finally:
                        os.close(src)
                if self.fsync:
                    os.fsync(out)
            finally:
                os.close(out)
        return size

    def expire(self, before: datetime) -> int:
        count = 0
        try:
            buckets = os.listdir(self.layout.uploads)
        except FileNotFoundError:
            return 0
        for bucket in buckets:
            for upload in self.in_bucket(bucket):
                if upload.initiated < before:
                    try:
                        self.drop(self.take(bucket, upload.key, upload.upload_id, "abort"))
                    except NoSuchUpload:
                        continue
                    count += 1
        return count

    def recover(self) -> None:
        """start(): give back uploads a dead process was completing/aborting (the assembled object was either
        committed, and then the parts are just garbage, or not, and then the client may retry)."""
        try:
            buckets = os.listdir(self.layout.uploads)
        except FileNotFoundError:
            return
        for bucket in buckets:
            root = self.layout.upload_root(bucket)
            for name in os.listdir(root):
                if not name.startswith(BUSY_PREFIX):
                    continue
                purpose, _, rest = name[len(BUSY_PREFIX) :].partition("-")
                pid = fsutil.temp_owner(rest)
                if pid is None or fsutil.pid_alive(pid):
                    continue
                upload_id = rest.split("-", 2)[-1]
                if purpose == "complete" and _UPLOAD_ID.match(upload_id):
                    self.give_back(root / name, bucket, upload_id)
                else:
                    self.drop(root / name)


def _kernel_copy(src: int, out: int) -> int | None:
    """Append all of ``src`` to ``out`` with copy_file_range; None when the kernel or filesystem cannot."""
    copy = getattr(os, "copy_file_range", None)
    if copy is None:
        return None
    total = 0
    try:
        while True:
            n = copy(src, out, 1 << 30)
            if n == 0:
                return total
            total += n
    except OSError as exc:
        if total == 0 and exc.errno in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            return None
        raise
