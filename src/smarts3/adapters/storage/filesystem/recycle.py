"""Files a commit displaced, kept in ``tmp/`` and written again as the next temp files instead of unlinked.

An overwrite of a key leaves two files behind: the previous data and the previous sidecar (see objects.py). The
next PUT needs two new files. Creating a file means allocating an inode, and on some filesystems that is the
most expensive thing a small PUT does: ext4 without a journal skips every inode freed in the last minute when it
allocates (``recently_deleted``), so under a steady overwrite load each create scanned thousands of freed
inodes (~125-270 us of kernel CPU per file on the benchmark machine, two per PUT; a `perf` profile showed
nothing else). Databases recycle their log files for the same reason (RocksDB's ``recycle_log_file_num``,
PostgreSQL's WAL segments). Here a commit's small leftovers go to this pool, and a temp file is taken from it
before one is created.

Reusing an inode is only safe if nobody can mistake its new content for its old one:

* other names: a file that has another hard link (a backup made with ``cp -al``, ``rsync --link-dest``) is
  never written again, only unlinked from ``tmp/``.
* readers: a GET holds ``flock(LOCK_SH)`` on the data file it streams, and the sidecar cache reads a sidecar
  under one too. ``take`` gets ``LOCK_EX | LOCK_NB`` before writing, so a file someone is reading is never
  rewritten (it is unlinked instead); a reader that opened it before and locks after sees its identity changed.
* identities: the crash protocol names data by ``(st_ino, size, mtime_ns)``. A reused file's mtime is made to
  move forward (``TempFile.finish``, ``ObjectEngine._stage_record``), so no identity ever names two contents,
  even where the clock is coarse. Roll-forwards check the pending file's identity, not just its name.
* durability: with fsync on, a leftover is only given here after the directory fsyncs of its commit, so a crash
  can never bring back a name that points at a reused inode. Without fsync nothing orders the renames before the
  rewrite, so the pool is kept per key (``per_key``): a power loss can then mix up versions of one key only.

Names are reused in kind: a displaced sidecar sits at a staged sidecar's name (``.s``) and is taken for the next
staged sidecar; displaced data sits at a data temp's name and is taken for data. The pool is per process (names
carry the pid), bounded, and emptied at close; start-up removes a dead process's pooled files like any temp.
"""

from __future__ import annotations

import fcntl
import os
import stat
import threading
import time
import weakref
from collections import OrderedDict

from smarts3.adapters.storage.filesystem import fsutil

#: files kept per kind; a load of N concurrent overwrites needs about N of each
CAPACITY = 64
#: larger leftovers are unlinked: the pool holds at most CAPACITY * MAX_SIZE (16 MiB) of disk per process
MAX_SIZE = 256 << 10


#: which key a file was displaced from, when reuse is kept within a key (fsync off); None otherwise
Owner = tuple[str, str] | None


class Leftover:
    """A file a commit displaced: its kind ("data" or "sidecar"), its name in ``tmp/`` and its key (``owner``)."""

    __slots__ = ("kind", "owner", "path")

    def __init__(self, kind: str, path: str, owner: Owner = None) -> None:
        self.kind = kind
        self.path = path
        self.owner = owner


class Reused:
    """A pooled file opened for writing, under an exclusive flock held until ``fd`` is closed."""

    __slots__ = ("fd", "old_mtime_ns", "old_size", "path")

    def __init__(self, fd: int, path: str, old_size: int, old_mtime_ns: int) -> None:
        self.fd = fd
        self.path = path
        self.old_size = old_size
        self.old_mtime_ns = old_mtime_ns

    def finish(self, size: int) -> os.stat_result:
        """After ``size`` new bytes were written from offset 0: cut what is left of the old content and make the
        mtime move on (see ``advance_mtime``). The file's stat, whose identity names the new content."""
        if self.old_size > size:
            os.ftruncate(self.fd, size)
        return advance_mtime(self.fd, os.fstat(self.fd), self.old_mtime_ns)


def hold_shared(fd: int) -> bool | None:
    """Take the shared flock a reader holds on a file while it reads it (``take`` needs the exclusive one).
    True: held; False: busy, the file is being written again (it is no longer what its path names); None: this
    filesystem has no flock (nothing is reused there, ``take`` cannot lock either)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


def advance_mtime(fd: int, st: os.stat_result, old_mtime_ns: int) -> os.stat_result:
    """Make sure a reused file's mtime moved past its previous one (timestamps can be coarse); its new stat."""
    if st.st_mtime_ns > old_mtime_ns:
        return st
    # now, where the clock allows (an old mtime would make the fresh temp look idle to ``smarts3 gc``)
    later = max(old_mtime_ns + 1, time.time_ns())
    os.utime(fd, ns=(later, later))
    return os.fstat(fd)


class InodePool:
    """The pool. ``per_key``: a file is only reused for the key it was displaced from (the storage sets it when
    fsync is off). Without fsync a power loss may keep a reused file's new blocks but roll back the renames
    that moved it out of its key; reusing it for the same key alone means such a key can show another version
    of itself, never another key's bytes. The least recently given file goes when a per-key pool is full."""

    def __init__(self, capacity: int = CAPACITY, *, per_key: bool = False) -> None:
        self._capacity = capacity
        self.per_key = per_key
        #: kind ("data" or "sidecar") -> owner -> files in tmp/ (oldest owner first)
        self._files: dict[str, OrderedDict[Owner, list[Leftover]]] = _empty()
        self._counts = {"data": 0, "sidecar": 0}
        self._lock = threading.Lock()
        self._pid = fsutil.current_pid()
        self.enabled = True
        _POOLS.add(self)

    def _after_fork(self) -> None:
        """In a forked child, before any other thread runs: the parent's files (and its lock, which another
        thread may have held at the fork) stay the parent's."""
        self._files, self._counts = _empty(), {"data": 0, "sidecar": 0}
        self._lock = threading.Lock()
        self._pid = fsutil.current_pid()

    def _mine(self) -> bool:
        return self._pid == fsutil.current_pid()

    def room(self, kind: str) -> bool:
        return self.enabled and (self.per_key or self._counts[kind] < self._capacity)

    def give(self, leftover: Leftover) -> bool:
        """Keep ``leftover`` (a file nobody will read again through its name) for reuse; False when full."""
        if not self._mine() or not self.enabled or (self.per_key and leftover.owner is None):
            return False
        owner = leftover.owner if self.per_key else None
        evicted: Leftover | None = None
        with self._lock:
            kind = leftover.kind
            by_owner = self._files[kind]
            if self._counts[kind] >= self._capacity:
                if not self.per_key or not by_owner:
                    return False
                oldest = next(iter(by_owner))
                stale = by_owner[oldest]
                evicted = stale.pop(0)
                if not stale:
                    del by_owner[oldest]
                self._counts[kind] -= 1
            mine = by_owner.get(owner)
            if mine is None:
                mine = by_owner[owner] = []
            else:
                by_owner.move_to_end(owner)
            mine.append(leftover)
            self._counts[kind] += 1
        if evicted is not None:
            fsutil.unlink_quiet(evicted.path)
        return True

    def take(self, kind: str, owner: Owner = None) -> Reused | None:
        """A pooled file (of ``owner``'s, in a per-key pool), opened for writing at offset 0 and locked; None when
        the pool has none to give."""
        if not self._mine() or (self.per_key and owner is None):
            return None  # (a per-key pool has nothing for a write that names no key: multipart parts)
        if not self.per_key:
            owner = None
        while True:
            with self._lock:
                by_owner = self._files[kind]
                files = by_owner.get(owner)
                if not files:
                    return None
                leftover = files.pop()
                if not files:
                    del by_owner[owner]
                self._counts[kind] -= 1
            path = leftover.path
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # gone (removed by hand, or by smarts3 gc): try the next
            except OSError:
                # out of descriptors or the like: keep the file for later, let the caller create one (or fail)
                self.give(leftover)
                return None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                st = os.fstat(fd)
            except OSError:
                st = None  # a reader still holds it (or it cannot be locked): leave it to that reader
            if st is None or st.st_nlink != 1 or not stat.S_ISREG(st.st_mode):
                # also a file with another name (a hard link a backup tool made of the object): not ours alone
                os.close(fd)
                fsutil.unlink_quiet(path)
                continue
            return Reused(fd, path, st.st_size, st.st_mtime_ns)

    def clear(self) -> None:
        """Unlink every pooled file (storage close)."""
        if not self._mine():
            return
        with self._lock:
            entries = self._entries()
            self._files, self._counts = _empty(), {"data": 0, "sidecar": 0}
        for leftover in entries:
            fsutil.unlink_quiet(leftover.path)

    def _entries(self) -> list[Leftover]:
        return [
            leftover for by_owner in self._files.values() for files in by_owner.values() for leftover in files
        ]

    def entries(self) -> list[Leftover]:
        """The pooled files (for tests and tools)."""
        with self._lock:
            return self._entries()

    def files(self) -> list[str]:
        """The pooled files' paths (for tests and tools: everything else in ``tmp/`` is in flight or a leftover)."""
        return [leftover.path for leftover in self.entries()]

    def __len__(self) -> int:
        return sum(self._counts.values())


#: every pool of this process, reset in a forked child (os.register_at_fork)
_POOLS: weakref.WeakSet[InodePool] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for pool in list(_POOLS):
        pool._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)


def _empty() -> dict[str, OrderedDict[Owner, list[Leftover]]]:
    return {"data": OrderedDict(), "sidecar": OrderedDict()}
