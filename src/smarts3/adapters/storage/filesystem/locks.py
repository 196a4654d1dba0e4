"""Per-key locks that hold across threads *and* processes: a thread lock, then ``fcntl.flock``, per stripe.

Several uvicorn workers share one data directory, so an in-process mutex is not enough. Keys hash onto a fixed
set of lock files under ``.smarts3/locks/`` (a lock file per key would grow without bound).

Within a process, threads first queue on the stripe's ``threading.Lock``; only its holder then takes the
stripe's ``flock`` on one descriptor the process keeps open. Letting every thread ``flock`` its own descriptor
(as this module once did) made the kernel wake all waiters at each unlock: sixteen writers of one key spent
more time in that herd, fighting over the GIL, than in their commits. Acquiring blocks, so callers take locks in
a worker thread, never on the event loop; one thread never holds two stripes at once, so stripes cannot
deadlock. Descriptors are reopened after a fork (a child sharing its parent's open file description would not
be excluded by its ``flock``).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from smarts3.adapters.storage.filesystem import fsutil
from smarts3.adapters.storage.filesystem.layout import LOCK_STRIPES, Layout


class LockBusy(Exception):
    """``hold(..., blocking=False)``: the stripe is held by another thread or process right now."""


class KeyLocks:
    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self._threads = [threading.Lock() for _ in range(LOCK_STRIPES)]
        self._fds: dict[int, int] = {}
        self._pid = os.getpid()
        self._gates: list[asyncio.Lock] | None = None

    def gate(self, bucket: str, key: str) -> asyncio.Lock:
        """The stripe's asyncio lock, which event-loop code takes around its ``blocking=False`` attempts (and the
        thread fallback after one), so writers on the loop queue there instead of each falling back to a thread
        while one holds the stripe (see bodies.commit_on_loop)."""
        if self._gates is None:
            self._gates = [asyncio.Lock() for _ in range(LOCK_STRIPES)]
        return self._gates[self._layout.lock_stripe(bucket, key)[0]]

    def _fd(self, stripe: int, path: str) -> int:
        """The process's descriptor of a stripe's lock file (caller holds the stripe's thread lock)."""
        if self._pid != fsutil.current_pid():
            # forked: our descriptors are shared with the parent; drop them (without closing theirs)
            self._fds = {}
            self._pid = fsutil.current_pid()
        fd = self._fds.get(stripe)
        if fd is None:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._fds[stripe] = fd
        return fd

    @contextmanager
    def hold(self, bucket: str, key: str, *, blocking: bool = True) -> Iterator[None]:
        """Exclusive lock for (bucket, key) while the block runs.

        Blocking by default: call from a worker thread. ``blocking=False`` (safe on the event loop) raises
        LockBusy at once instead of waiting."""
        stripe, path = self._layout.lock_stripe(bucket, key)
        mutex = self._threads[stripe]
        if not mutex.acquire(blocking):
            raise LockBusy()
        try:
            fd = self._flock(stripe, path, blocking)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            mutex.release()

    def _flock(self, stripe: int, path: str, blocking: bool) -> int:
        operation = fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fd = self._fd(stripe, path)
        except FileNotFoundError:
            # the lock directory was removed under us (a wiped data dir): recreate it and open afresh
            os.makedirs(self._layout.locks, exist_ok=True)
            fd = self._fd(stripe, path)
        try:
            fcntl.flock(fd, operation)
        except BlockingIOError as exc:
            raise LockBusy() from exc
        return fd

    def close(self) -> None:
        """Close the lock files (their flocks are released with them)."""
        for stripe in range(LOCK_STRIPES):
            with self._threads[stripe]:
                fd = self._fds.pop(stripe, None)
                if fd is not None and self._pid == os.getpid():
                    os.close(fd)
