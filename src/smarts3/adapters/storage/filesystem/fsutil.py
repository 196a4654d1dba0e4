"""Small filesystem primitives: temp files that carry their writer's pid, fsync of files and directories,
durable atomic small-file writes, and the mapping of disk-full/read-only errors to InsufficientStorage."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import os
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from smarts3.adapters.storage.filesystem.durable import Durable

#: errors that mean "the disk cannot take this write right now", answered 507 like MinIO does
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})
TEMP_PREFIX = "t"


#: distinguishes this process from an earlier one with the same pid (a container's server is always pid 1)
_INCARNATION = os.urandom(4).hex()


#: a per-process sequence: pid + incarnation + sequence is unique, and cheaper than a uuid4 per temp file
_SEQUENCE = itertools.count()


#: our pid, kept current across fork() (os.getpid() is a system call, and temp names are made per request)
_PID = os.getpid()


def _after_fork() -> None:
    global _PID
    _PID = os.getpid()


os.register_at_fork(after_in_child=_after_fork)


def current_pid() -> int:
    return _PID


def temp_name(tag: str = "") -> str:
    """A unique temp file name carrying our pid and incarnation, so ``start()`` can tell leftovers of dead
    writers (including an earlier run that had our pid)."""
    return f"{TEMP_PREFIX}{_PID}-{_INCARNATION}{next(_SEQUENCE):012x}{tag}"


def temp_owner(name: str) -> int | None:
    """The pid that wrote ``name``; -1 when it carries our pid but was written by an earlier process."""
    if not name.startswith(TEMP_PREFIX):
        return None
    pid, sep, rest = name[len(TEMP_PREFIX) :].partition("-")
    if not (sep and pid.isdigit()):
        return None
    if int(pid) == os.getpid() and not rest.startswith(_INCARNATION):
        return -1
    return int(pid)


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fsync_file(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: attempts at creating a directory chain while other keys' deletes prune empty directories in it
_PRUNE_RACE_ATTEMPTS = 64


def makedirs_racing(path: Path | str, root: Path | str | None = None) -> None:
    """``os.makedirs(path, exist_ok=True)`` that survives a concurrent prune: another key's delete may remove a
    parent it has just created (still empty) before the child is made, which makedirs reports as
    FileNotFoundError. Directories are made under the key's lock only, not the neighbours'.

    With ``root`` (a bucket's directory), only directories below it are made, and a missing root is
    FileNotFoundError at once: a PUT racing DeleteBucket must not bring the bucket back."""
    for attempt in range(_PRUNE_RACE_ATTEMPTS + 1):
        try:
            if root is None:
                os.makedirs(path, exist_ok=True)
            else:
                _makedirs_below(os.fspath(path), os.fspath(root))
            return
        except FileNotFoundError:
            if attempt == _PRUNE_RACE_ATTEMPTS or (root is not None and not os.path.isdir(root)):
                raise


def _makedirs_below(path: str, root: str) -> None:
    """Make ``path`` one directory at a time from ``root`` (which must exist; it is never made)."""
    if not os.path.isdir(root):
        raise FileNotFoundError(errno.ENOENT, "no such directory", root)
    relative = os.path.relpath(path, root)
    if relative == ".":
        return
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):  # (a first component "..a" is fine)
        raise ValueError(f"{path} is not below {root}")
    current = root
    for part in relative.split(os.sep):
        current = os.path.join(current, part)
        try:
            os.mkdir(current)
        except FileExistsError:
            pass  # a file there: the next mkdir (or the check below) reports it, as makedirs would
    if not os.path.isdir(path):
        raise FileExistsError(errno.EEXIST, "not a directory", path)


def make_dirs(
    path: Path | str, *, fsync: bool, later: Durable | None = None, root: Path | str | None = None
) -> None:
    """``os.makedirs(path, exist_ok=True)``; with ``fsync`` the entry of every directory it created is fsynced
    in its parent, so a file later made durable inside ``path`` is also reachable after a power loss. With
    ``later`` those parents are added to it instead, to be fsynced after the commit (durable.py). With ``root``
    nothing at or above it is made (see makedirs_racing)."""
    if os.path.isdir(path):
        return
    if not fsync:
        makedirs_racing(path, root)
        return
    missing: list[str] = []
    current = os.fspath(path)
    while not os.path.isdir(current) and os.path.dirname(current) != current:
        missing.append(current)
        current = os.path.dirname(current)
    if not missing:
        return
    makedirs_racing(path, root)
    for created in reversed(missing):
        if later is not None:
            later.add_dir(os.path.dirname(created))
        else:
            with contextlib.suppress(FileNotFoundError):  # pruned meanwhile: the writer makes it again
                fsync_dir(os.path.dirname(created))


def unlink_quiet(path: Path | str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def write_file(path: Path, data: bytes, *, fsync: bool) -> None:
    """Write ``data`` to a new file (O_EXCL) and optionally fsync it."""
    fd = write_open(path, data)
    try:
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is written (a write may take less than it was given)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_open(path: Path | str, data: bytes) -> int:
    """Write ``data`` to a new file (O_EXCL) and return its still-open descriptor (to fsync later)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        write_all(fd, data)
    except BaseException:
        os.close(fd)
        unlink_quiet(path)
        raise
    return fd


def atomic_write(path: Path, data: bytes, *, fsync: bool, tmp_dir: Path | None = None) -> None:
    """Replace ``path`` with ``data`` atomically: write a temp next to it (or in ``tmp_dir``), fsync, rename."""
    temp = (tmp_dir or path.parent) / temp_name(".w")
    try:
        write_file(temp, data, fsync=fsync)
        rename_into(temp, path)
    except BaseException:
        unlink_quiet(temp)
        raise
    if fsync:
        fsync_dir(path.parent)


def rename_into(source: Path | str, target: Path | str, root: Path | str | None = None) -> None:
    """``os.replace`` that creates the target's parents, retrying when a concurrent cleanup removed an empty
    parent between our makedirs and the rename (another key's delete prunes empty directories). With ``root``
    (the bucket's directory) nothing at or above it is made: a missing root is FileNotFoundError."""
    for _ in range(_PRUNE_RACE_ATTEMPTS):
        try:
            os.replace(source, target)
            return
        except FileNotFoundError:
            if not os.path.exists(source):
                raise
            makedirs_racing(os.path.dirname(target), root)
    os.replace(source, target)


def prune_empty_dirs(start: Path, stop: Path) -> None:
    """Remove ``start`` and its parents while empty, never ``stop`` itself or anything above it."""
    current = start
    while current != stop and stop in current.parents:
        try:
            os.rmdir(current)
        except OSError:
            return
        current = current.parent


@contextlib.contextmanager
def disk_errors() -> Iterator[None]:
    """Turn disk-full / read-only / I/O errors into InsufficientStorage (S3 clients understand a 507)."""
    try:
        yield
    except OSError as exc:
        if exc.errno in DISK_ERRNOS:
            # (imported here: the fsync helper process imports this module and has no use for the domain)
            from smarts3.domain.errors import InsufficientStorage

            raise InsufficientStorage(f"Storage cannot be written: {os.strerror(exc.errno or 0)}") from exc
        raise


# -- atomic exchange ---------------------------------------------------------------------------------------------
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
#: errnos meaning "this kernel or filesystem cannot exchange": fall back to a plain replace from then on
_NO_EXCHANGE_ERRNOS = frozenset({errno.EINVAL, errno.ENOSYS, errno.EXDEV, errno.EOPNOTSUPP, errno.ENOTSUP})


def _libc_function(name: str, argtypes: tuple[Any, ...]) -> Any:
    """A libc function returning an int (errno kept), or None off Linux or where this libc lacks it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        # dlopen(NULL): the symbols the process already has, libc's among them (glibc and musl alike);
        # ctypes.util.find_library would cost the fsync helper process ~2 MiB of imports (subprocess, shutil)
        function = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = argtypes
    function.restype = ctypes.c_int
    return function


def _kernel_at_least(major: int, minor: int) -> bool:
    try:
        found = tuple(int(part) for part in os.uname().release.split("-")[0].split(".")[:2])
    except ValueError:
        return False
    return found >= (major, minor)


#: None with glibc < 2.28 or musl: plain replaces
_renameat2: Any = _libc_function(
    "renameat2", (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
)
_sync_file_range: Any = _libc_function(
    "sync_file_range", (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
)
_SYNC_FILE_RANGE_WRITE = 2

#: None where ``syncfs`` is missing, or does not report writeback errors (before Linux 5.8): then fsyncs are made
#: file by file
_syncfs: Any = _libc_function("syncfs", (ctypes.c_int,)) if _kernel_at_least(5, 8) else None
#: above this much dirty page cache (system wide), a batch is fsynced file by file: ``syncfs`` would also write
#: out whatever other programs left dirty on the filesystem, and make our writers wait for it
SYNCFS_DIRTY_LIMIT = 32 << 20


#: (when, dirty bytes) of the last look at /proc/meminfo, which costs ~10 us: looked at every 50 ms at most
_dirty_seen: tuple[float, int] = (-1.0, 0)


def syncfs_ok() -> bool:
    """Whether one ``syncfs`` may stand for a batch of fsyncs right now (see ``SYNCFS_DIRTY_LIMIT``)."""
    global _dirty_seen
    if _syncfs is None:
        return False
    now = time.monotonic()
    when, dirty = _dirty_seen
    if now - when > 0.05:
        dirty = dirty_bytes()
        _dirty_seen = (now, dirty)
    return dirty < SYNCFS_DIRTY_LIMIT


def syncfs(fd: int) -> None:
    """Flush the whole filesystem holding ``fd`` (data, metadata, journal): one call that makes every write and
    rename made on it before the call durable. Raises a writeback error any file on that filesystem met and that
    nobody was told of yet (errseq, Linux 5.8+), like ``fsync`` does for one file."""
    if _syncfs(fd) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def dirty_bytes() -> int:
    """Dirty + under-writeback page cache of the whole system (``/proc/meminfo``); a large number when unknown."""
    try:
        fd = os.open("/proc/meminfo", os.O_RDONLY | os.O_CLOEXEC)
        try:
            text = os.read(fd, 8192)
        finally:
            os.close(fd)
        total = 0
        for field in (b"\nDirty:", b"\nWriteback:"):
            at = text.index(field) + len(field)
            total += int(text[at : text.index(b"kB", at)]) << 10
        return total
    except (OSError, ValueError):
        return 1 << 62


def start_writeback(fd: int) -> None:
    """Start writing ``fd``'s dirty pages out without waiting (Linux ``sync_file_range(SYNC_FILE_RANGE_WRITE)``;
    nothing elsewhere). Not a durability step: a later ``fsync`` still is. It lets one thread fsync a batch of
    files about as fast as one thread per file would, because their data is in flight together and the first
    fsync's journal commit covers every block allocated meanwhile."""
    if _sync_file_range is not None:
        _sync_file_range(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)  # a failure here resurfaces in the fsync


def can_exchange() -> bool:
    """Whether ``exchange_into`` still tries ``renameat2(RENAME_EXCHANGE)`` (not known to be unsupported)."""
    return _renameat2 is not None


def exchange_into(source: str, target: str) -> bool:
    """Put ``source`` at ``target`` atomically, like ``os.replace``. When ``target`` existed it is *exchanged*
    (``renameat2(RENAME_EXCHANGE)``): True, and ``source`` now names the old file, for the caller to unlink.

    Why: ext4 (``auto_da_alloc``) starts writeback of a file renamed over an existing one, which cost ~80 us per
    sidecar replace here; an exchange costs ~15 us, unlink included, and leaves no moment without a file at
    ``target`` (as moving the old one aside first would). Falls back to ``os.replace`` (False) where exchanges are
    not supported, or when ``target`` does not exist yet."""
    global _renameat2
    function = _renameat2
    if function is not None:
        if function(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_EXCHANGE) == 0:
            return True
        code = ctypes.get_errno()
        if code in _NO_EXCHANGE_ERRNOS:
            _renameat2 = None
        elif code != errno.ENOENT:
            raise OSError(code, os.strerror(code), target)
    rename_into(source, target)
    return False
