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
  can never bring back a name that points at a reused inode.

Names are reused in kind: a displaced sidecar sits at a staged sidecar's name (``.s``) and is taken for the next
staged sidecar; displaced data sits at a data temp's name and is taken for data. The pool is per process (names
carry the pid), bounded, and emptied at close; start-up removes a dead process's pooled files like any temp.
"""

from __future__ import annotations

import fcntl
import os
import stat
import threading

from smarts3.adapters.storage.filesystem import fsutil

#: files kept per kind; a load of N concurrent overwrites needs about N of each
CAPACITY = 64
#: larger leftovers are unlinked: the pool holds at most CAPACITY * MAX_SIZE (16 MiB) of disk per process
MAX_SIZE = 256 << 10


class Leftover:
    """A file a commit displaced: its kind ("data" or "sidecar") and its name in ``tmp/``."""

    __slots__ = ("kind", "path")

    def __init__(self, kind: str, path: str) -> None:
        self.kind = kind
        self.path = path


class Reused:
    """A pooled file opened for writing, under an exclusive flock held until ``fd`` is closed."""

    __slots__ = ("fd", "old_mtime_ns", "old_size", "path")

    def __init__(self, fd: int, path: str, old_size: int, old_mtime_ns: int) -> None:
        self.fd = fd
        self.path = path
        self.old_size = old_size
        self.old_mtime_ns = old_mtime_ns


def advance_mtime(fd: int, st: os.stat_result, old_mtime_ns: int) -> os.stat_result:
    """Make sure a reused file's mtime moved past its previous one (timestamps can be coarse); its new stat."""
    if st.st_mtime_ns > old_mtime_ns:
        return st
    later = old_mtime_ns + 1
    os.utime(fd, ns=(later, later))
    return os.fstat(fd)


class InodePool:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        #: kind ("data" or "sidecar") -> files in tmp/
        self._files: dict[str, list[Leftover]] = {"data": [], "sidecar": []}
        self._lock = threading.Lock()
        self._pid = fsutil.current_pid()
        self.enabled = True

    def _mine(self) -> bool:
        if self._pid != fsutil.current_pid():
            # forked: these names belong to the parent, which goes on using them
            self._files = {"data": [], "sidecar": []}
            self._pid = fsutil.current_pid()
            return False
        return True

    def room(self, kind: str) -> bool:
        return self.enabled and len(self._files[kind]) < self._capacity

    def give(self, leftover: Leftover) -> bool:
        """Keep ``leftover`` (a file nobody will read again through its name) for reuse; False when full."""
        with self._lock:
            if not self._mine():
                return False
            files = self._files[leftover.kind]
            if not self.enabled or len(files) >= self._capacity:
                return False
            files.append(leftover)
            return True

    def take(self, kind: str) -> Reused | None:
        """A pooled file, opened for writing at offset 0 and locked; None when the pool has none to give."""
        while True:
            with self._lock:
                if not self._mine() or not self._files[kind]:
                    return None
                leftover = self._files[kind].pop()
            path = leftover.path
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                continue  # gone (removed by hand?): try the next
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
        with self._lock:
            mine = self._mine()
            files, self._files = self._files, {"data": [], "sidecar": []}
        if mine:
            for leftovers in files.values():
                for leftover in leftovers:
                    fsutil.unlink_quiet(leftover.path)

    def entries(self) -> list[Leftover]:
        """The pooled files (for tests and tools)."""
        with self._lock:
            return [leftover for leftovers in self._files.values() for leftover in leftovers]

    def files(self) -> list[str]:
        """The pooled files' paths (for tests and tools: everything else in ``tmp/`` is in flight or a leftover)."""
        with self._lock:
            return [leftover.path for leftovers in self._files.values() for leftover in leftovers]

    def __len__(self) -> int:
        return sum(len(leftovers) for leftovers in self._files.values())
