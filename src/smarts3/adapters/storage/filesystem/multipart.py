"""Multipart uploads on disk, under ``.smarts3/uploads/<bucket>/<upload id>/``.

``upload.json`` holds the UploadInfo; each part is described by ``p<number>.json`` (PartInfo and where its bytes
are), and its json is atomically replaced: parallel parts (even of the same number) never wait on each other and
a reader always sees a complete part. Everything is on disk, so uploads survive restarts and are shared by workers.

Where a part's bytes are:

- **In place**, in the upload's one ``data`` file at ``(number - 1) * stride`` (json name ``@<offset>:<inode>``). The
  stride is the size of the first sizeable part (a symlink ``stride`` holds it: created atomically, read with one
  call; see MIN_STRIDE and MIN_FULL_PART). A part no larger than the stride claims its region with ``p<number>.slot`` (O_EXCL: one writer per
  region, ever) and is written there directly. When the completed parts are 1..k, all in place and of the
  stride's size except the last, completing only truncates ``data`` (and appends a last part kept apart) and
  renames it: no byte is copied, and nothing is fsynced twice. A 1 GiB upload's complete took ~2 s of copying
  before (and its fsync wrote the gigabyte a second time).
- **Apart**, in a file ``p<number>-<unique>`` written to a temp, fsynced and renamed in: a part larger than the
  stride, a part of unknown size, a region already claimed (a part sent again), or an upload without a stride
  yet. Completing an upload whose parts do not line up copies them all into a new file (copy_file_range).

Writers in place hold a shared flock on ``data`` while they write and publish. A complete takes the upload
(below), so a writer arriving later finds no upload; it then renames ``data`` into the object only if it gets an
exclusive flock at once. Otherwise a part it was not asked for is still being written in place, whose writes
must not land in the object: it copies the parts out instead (published regions never change).

Completing or aborting first *renames* the upload directory to a private name (``.completing-<pid>-...``): the
rename is atomic, so a second complete/abort, or a part racing in, finds no upload (NoSuchUpload) and can never
observe or produce a half-assembled object. ``start()`` renames back directories of dead completers.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from smarts3.adapters.storage.filesystem import fsutil, metadata
from smarts3.adapters.storage.filesystem.bodies import writeback_as_it_grows
from smarts3.adapters.storage.filesystem.layout import Layout
from smarts3.domain.errors import InvalidPart, InvalidRequest, NoSuchUpload
from smarts3.domain.models import PartInfo, UploadInfo
from smarts3.domain.ports import BodyDigest

_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_\-=~]{1,200}$")
_PART_JSON = re.compile(r"^p(\d{5})\.json$")
_COPY_CHUNK = 1 << 20
BUSY_PREFIX = ".busy-"
#: the upload's file of parts written in place, and the symlink whose target is the stride
DATA_NAME = "data"
STRIDE_NAME = "stride"
#: symlink a complete leaves in the taken upload while ``data`` is out as ``tmp/<name>`` (target ``<name>:<inode>``):
#: start-up puts ``data`` back if the completing process died before the commit took it
ASSEMBLED_NAME = "assembled"
#: json data name prefix of a part written in place: ``@<offset in data>:<inode of data>``. The inode ties the part
#: to the very file it was written to: a part never reads its region from another ``data``.
IN_PLACE = "@"
#: the smallest part 1 that sets the stride (smaller parts gain little from being written in place)
MIN_STRIDE = 1 << 20
#: another part sets the stride only when it is at least S3's minimum part size (a smaller one can only be the
#: last part) and its size is a multiple of STRIDE_ALIGN: clients cut parts in round sizes (boto3 8 MiB, minio-go
#: 16 MiB, rclone 5 MiB). The upload's last part, if it arrived first, would set a stride no other part fits in.
MIN_FULL_PART = 5 << 20
STRIDE_ALIGN = 1 << 16


def _fdatasync(fd: int) -> None:
    (getattr(os, "fdatasync", None) or os.fsync)(fd)  # (os.fdatasync is missing on macOS)


#: copy_file_range errnos meaning "not here" (another filesystem, an old kernel): copy through Python instead
_NO_KERNEL_COPY = frozenset({errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP})
#: S3's largest object: no region may end beyond it (ext4 files end at 16 TiB)
_MAX_END = 5 * 1024**4


class PartSlot:
    """A part's region of the upload's ``data`` file, claimed and held (shared flock) until published or
    discarded; written like a TempFile (the ``BodySink`` that ``stream_to_temp`` fills)."""

    def __init__(
        self, fd: int, claim: Path, offset: int, limit: int, digest: BodyDigest, *, fsync: bool
    ) -> None:
        self.fd: int | None = fd
        self.claim = claim
        self.offset = offset
        self.inode = os.fstat(fd).st_ino
        self.limit = limit
        self._digest = digest
        self._fsync = fsync
        self.size = 0
        self.published = False

    def write(self, chunks: list[bytes]) -> None:
        assert self.fd is not None
        with fsutil.disk_errors():
            before = self.size
            for chunk in chunks:
                if self.size + len(chunk) > self.limit:
                    # never past the region: the next part's bytes live there (the HTTP layer already refuses a
                    # body longer than its Content-Length; this guards the region whatever the caller)
                    raise InvalidRequest("The part carries more data than its Content-Length declares.")
                position = self.offset + self.size
                view = memoryview(chunk)
                while view:
                    written = os.pwrite(self.fd, view, position)
                    position += written
                    view = view[written:]
                self.size += len(chunk)
                self._digest.update(chunk)
            if self._fsync:
                writeback_as_it_grows(self.fd, before, self.size)  # (the part's fdatasync finds little left)

    def finish(self, *, sync: bool = True) -> None:
        if self._fsync and sync and self.fd is not None:
            with fsutil.disk_errors():
                _fdatasync(self.fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # (releases the shared flock)
            self.fd = None

    def mark_published(self) -> None:
        self.published = True

    def discard(self) -> None:
        """Failed before its json was published: free the region for the next writer of this part."""
        self.close()
        if not self.published:
            fsutil.unlink_quiet(self.claim)


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
            self._write_json(json_path, metadata.part_to_bytes(part, data_name))
        except FileNotFoundError as exc:
            fsutil.unlink_quiet(temp)
            raise NoSuchUpload(resource=upload_id) from exc
        if previous is not None and not previous[1].startswith(IN_PLACE):
            fsutil.unlink_quiet(directory / previous[1])
        return part

    def place(
        self, bucket: str, upload_id: str, number: int, size: int, digest: BodyDigest
    ) -> PartSlot | None:
        """Claim part ``number``'s region of the upload's ``data`` file for a body of ``size`` bytes (see the
        module's docstring); None when the part is to be written apart. NoSuchUpload once the upload is gone."""
        with fsutil.disk_errors():
            return self._place(bucket, upload_id, number, size, digest)

    def _place(
        self, bucket: str, upload_id: str, number: int, size: int, digest: BodyDigest
    ) -> PartSlot | None:
        directory = self.upload_dir(bucket, upload_id)
        stride = self._stride(directory, number, size)
        if stride is None or not 0 < size <= stride:
            return None
        offset = (number - 1) * stride
        if offset + size > _MAX_END:
            return None
        claim = directory / f"p{number:05d}.slot"
        try:
            os.close(os.open(claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        except FileExistsError:
            return None  # written in place before (the region may hold a published part), or being written
        except FileNotFoundError as exc:
            raise NoSuchUpload(resource=upload_id) from exc
        data = directory / DATA_NAME
        fd = -1
        try:
            fd = os.open(data, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            fcntl.flock(fd, fcntl.LOCK_SH)
            # a complete (or abort) took the upload after our open: its data file is not at our path any more,
            # and the complete may already read it. Holding the shared lock, a take after this check waits for us.
            if not os.path.samestat(os.fstat(fd), os.stat(data)):
                raise FileNotFoundError(errno.ENOENT, "upload taken", str(data))
        except BaseException as exc:
            if fd >= 0:
                os.close(fd)
            fsutil.unlink_quiet(claim)
            if isinstance(exc, FileNotFoundError):
                raise NoSuchUpload(resource=upload_id) from exc
            raise
        return PartSlot(fd, claim, offset, size, digest, fsync=self.fsync)

    def _stride(self, directory: Path, number: int, size: int) -> int | None:
        link = directory / STRIDE_NAME
        try:
            return int(os.readlink(link))
        except FileNotFoundError:
            pass
        except (OSError, ValueError):
            return None
        if size < MIN_STRIDE or (number != 1 and (size < MIN_FULL_PART or size % STRIDE_ALIGN)):
            return None
        try:
            os.symlink(str(size), link)
        except FileExistsError:
            pass  # another part chose it first
        except FileNotFoundError:
            return None  # the upload is gone: place() answers NoSuchUpload
        # (durable with the first part's json: publishing fsyncs this directory)
        try:
            return int(os.readlink(link))
        except (OSError, ValueError):
            return None

    def publish(self, bucket: str, key: str, upload_id: str, slot: PartSlot, part: PartInfo) -> PartInfo:
        """Make a part written in place (and fsynced) the upload's part ``part.part_number``; releases the slot."""
        directory = self.upload_dir(bucket, upload_id)
        json_path = directory / f"p{part.part_number:05d}.json"
        try:
            previous = self._read_part(json_path)
            name = f"{IN_PLACE}{slot.offset}:{slot.inode}"
            # published (its claim kept for good) once the json is in place, even if the directory fsync fails
            self._write_json(json_path, metadata.part_to_bytes(part, name), replaced=slot.mark_published)
        except FileNotFoundError as exc:
            raise NoSuchUpload(resource=upload_id) from exc
        finally:
            slot.close()
        if previous is not None and not previous[1].startswith(IN_PLACE):
            fsutil.unlink_quiet(directory / previous[1])
        return part

    def _write_json(self, path: Path, data: bytes, *, replaced: Callable[[], None] | None = None) -> None:
        """Atomically replace a part's json; FileNotFoundError when the upload directory is gone (taken by a
        complete or abort: unlike ``fsutil.atomic_write`` this never creates it again). ``replaced`` runs right
        after the rename."""
        temp = self.layout.tmp / fsutil.temp_name(".w")
        try:
            fsutil.write_file(temp, data, fsync=self.fsync)
            os.replace(temp, path)
        except BaseException:
            fsutil.unlink_quiet(temp)
            raise
        if replaced is not None:
            replaced()
        if self.fsync:
            fsutil.fsync_dir(path.parent)

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
        """A complete refused by a precondition or a bad part leaves the upload as it was (S3 keeps it). One whose
        ``data`` became the object (the commit went through, then something failed) is complete: removed."""
        try:
            back = self._reclaim_assembled(busy)
        except OSError:
            return  # could not tell or put data back: leave the taken upload for start-up/gc, never drop it
        if not back:
            self.drop(busy)
            return
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
    ) -> tuple[int, bool]:
        """Put the wanted parts, in order, into the new file ``temp``, feeding ``digest``. Returns the size, and
        whether ``temp`` is the upload's own ``data`` file (``give_back`` then puts it back if the commit fails)."""
        data_fd: int | None = None
        with fsutil.disk_errors():
            try:
                data_fd = os.open(busy / DATA_NAME, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                pass
            try:
                alone = False
                if data_fd is not None:
                    try:
                        fcntl.flock(data_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        alone = True
                    except BlockingIOError:
                        # a part the client left out is still being written in place: it must not write into
                        # the object, so copy the parts out instead (their regions are published: stable)
                        pass
                stored = {
                    part.part_number: (part, name) for part, name in self.parts(bucket, key, upload_id, busy)
                }
                inode = os.fstat(data_fd).st_ino if data_fd is not None else None
                chosen: list[tuple[PartInfo, str]] = []
                for want in wanted:
                    have = stored.get(want.part_number)
                    if (
                        have is None
                        or have[0].etag != want.etag.strip('"')
                        or (have[1].startswith(IN_PLACE) and _region(have[1])[1] not in (inode, None))
                    ):
                        # (a part in place whose data file is gone, or is another one now: never read it there)
                        raise InvalidPart(extra={"PartNumber": str(want.part_number)})
                    chosen.append(have)
                size = _in_place_size(chosen, stored) if alone else None
                if data_fd is not None and size is not None:
                    self._finish_in_place(busy, data_fd, chosen, size, digest)
                    marker = busy / ASSEMBLED_NAME
                    fsutil.unlink_quiet(marker)  # (left by an earlier complete that was refused)
                    os.symlink(f"{temp.name}:{os.fstat(data_fd).st_ino}", marker)
                    os.rename(busy / DATA_NAME, temp)
                    return size, True
                return self._concatenate(busy, data_fd, chosen, temp, digest), False
            finally:
                if data_fd is not None:
                    os.close(data_fd)

    def _reclaim_assembled(self, busy: Path) -> bool:
        """Before an upload is given back: put its ``data`` back if a complete moved it out as a temp and the
        temp is still there (a commit refused, or a completer that died first). False when the commit took it:
        it is the object now, and the upload is complete. Checked by inode: after a commit, that temp's name may
        hold the object the commit replaced."""
        marker = busy / ASSEMBLED_NAME
        try:
            name, _, inode = os.readlink(marker).rpartition(":")
        except OSError:
            return True  # no complete moved data out
        temp = self.layout.tmp / name
        back = os.path.lexists(busy / DATA_NAME)
        if not back:
            try:
                same = os.stat(temp).st_ino == int(inode)
            except (FileNotFoundError, ValueError):
                same = False
            if same:
                os.rename(temp, busy / DATA_NAME)  # (an error propagates: the caller leaves the upload taken)
                back = True
        fsutil.unlink_quiet(marker)
        return back

    def _finish_in_place(
        self, busy: Path, fd: int, chosen: list[tuple[PartInfo, str]], size: int, digest: BodyDigest
    ) -> None:
        """``data`` already holds every chosen part but perhaps the last at its place: cut it to ``size``."""
        last, name = chosen[-1]
        in_place_end = size if name.startswith(IN_PLACE) else size - last.size
        if os.fstat(fd).st_size < in_place_end:
            # (never cut longer: that would add zeros) a part's bytes were lost, by a crash with fsync off
            raise InvalidPart(extra={"PartNumber": str(last.part_number)})
        if name.startswith(IN_PLACE):
            os.ftruncate(fd, size)
        else:
            prefix = size - last.size
            os.ftruncate(fd, prefix)
            os.lseek(fd, prefix, os.SEEK_SET)
            src = os.open(busy / name, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _kernel_copy(src, fd) is None:
                    while chunk := os.read(src, _COPY_CHUNK):
                        fsutil.write_all(fd, chunk)
            finally:
                os.close(src)
        if getattr(digest, "wants_bytes", True):
            offset = 0
            while offset < size:
                chunk = os.pread(fd, min(_COPY_CHUNK, size - offset), offset)
                if not chunk:
                    raise InvalidPart()  # (cannot happen: the file was just cut to this size)
                digest.update(chunk)
                offset += len(chunk)
        if self.fsync:
            os.fsync(fd)  # the parts were fsynced when written: this writes the last part and the new size

    def _concatenate(
        self,
        busy: Path,
        data_fd: int | None,
        chosen: list[tuple[PartInfo, str]],
        temp: Path,
        digest: BodyDigest,
    ) -> int:
        """Copy the chosen parts one after the other into a new file (copy_file_range when nobody needs to see
        the bytes: the multipart ETag and checksums come from the parts)."""
        size = 0
        kernel = not getattr(digest, "wants_bytes", True)
        out = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            for part, name in chosen:
                if name.startswith(IN_PLACE):
                    if data_fd is None:
                        raise InvalidPart(extra={"PartNumber": str(part.part_number)})
                    size += _copy_range(data_fd, _region(name)[0], part.size, out, digest, kernel)
                    continue
                src = os.open(busy / name, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    copied = _kernel_copy(src, out) if kernel else None
                    if copied is None:
                        copied = 0
                        while chunk := os.read(src, _COPY_CHUNK):
                            fsutil.write_all(out, chunk)
                            digest.update(chunk)
                            copied += len(chunk)
                    size += copied
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
                # claim it first (a name of ours): several workers start at once, and gc may run meanwhile
                claimed = self.claim_busy(root / name, purpose, upload_id)
                if claimed is None:
                    continue
                if purpose == "complete" and _UPLOAD_ID.match(upload_id):
                    self.give_back(claimed, bucket, upload_id)
                else:
                    self.drop(claimed)

    @staticmethod
    def claim_busy(busy: Path, purpose: str, upload_id: str) -> Path | None:
        """Rename a dead process's taken upload to a name of ours (None if another recoverer was first)."""
        claimed = busy.parent / f"{BUSY_PREFIX}{purpose}-{fsutil.temp_name()}-{upload_id}"
        try:
            os.rename(busy, claimed)
        except FileNotFoundError:
            return None  # another recoverer took it
        return claimed


def _in_place_size(chosen: list[tuple[PartInfo, str]], stored: dict[int, tuple[PartInfo, str]]) -> int | None:
    """The object's size when ``data`` already holds the chosen parts in order from offset 0 (the last one may
    be apart, to be appended), else None. Also None when a part left out of the object lives in ``data``: the
    truncation would destroy it, and S3 keeps the upload if the commit is then refused."""
    offset = 0
    for index, (part, name) in enumerate(chosen):
        in_order = name.startswith(IN_PLACE) and _region(name)[0] == offset
        appended = index == len(chosen) - 1 and not name.startswith(IN_PLACE)
        if not (in_order or appended):
            return None
        offset += part.size
    numbers = {part.part_number for part, _ in chosen}
    if any(name.startswith(IN_PLACE) and number not in numbers for number, (_, name) in stored.items()):
        return None
    return offset


def _region(name: str) -> tuple[int, int | None]:
    """(offset, data file inode) of a part written in place, from its json's data name ``@<offset>:<inode>``
    (the inode is None in the names of the first version, ``@<offset>``)."""
    offset, _, inode = name[len(IN_PLACE) :].partition(":")
    return int(offset), int(inode) if inode else None


def _copy_range(src: int, offset: int, length: int, out: int, digest: BodyDigest, kernel: bool) -> int:
    """Append ``length`` bytes of ``src`` from ``offset`` to ``out``; InvalidPart if ``src`` is shorter."""
    done = 0
    copy = getattr(os, "copy_file_range", None) if kernel else None
    while done < length:
        n = 0
        if copy is not None:
            try:
                n = copy(src, out, length - done, offset + done)
            except OSError as exc:
                if done or exc.errno not in _NO_KERNEL_COPY:
                    raise
                copy = None
                continue
        else:
            chunk = os.pread(src, min(_COPY_CHUNK, length - done), offset + done)
            if chunk:
                fsutil.write_all(out, chunk)
                digest.update(chunk)
            n = len(chunk)
        if n == 0:
            raise InvalidPart()  # the data file is shorter than the part: lost in a crash mid-complete
        done += n
    return done


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
        if total == 0 and exc.errno in _NO_KERNEL_COPY:
            return None
        raise
