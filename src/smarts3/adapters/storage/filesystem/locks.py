"""Per-key locks that hold across threads *and* processes: ``fcntl.flock`` on striped lock files.

Several uvicorn workers share one data directory, so an in-process mutex is not enough. Keys hash onto a fixed
set of lock files under ``.smarts3/locks/`` (a lock file per key would grow without bound). ``flock`` locks belong
to an open file description, so two threads of one process that each open the file also exclude each other.
Acquiring blocks, so callers take locks inside a worker thread, never on the event loop; one thread never holds
two stripes at once, so stripes cannot deadlock.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from smarts3.adapters.storage.filesystem.layout import Layout


class KeyLocks:
    def __init__(self, layout: Layout) -> None:
        self._layout = layout

    @contextmanager
    def hold(self, bucket: str, key: str) -> Iterator[None]:
        """Exclusive lock for (bucket, key) while the block runs. Blocking: call from a worker thread."""
        path = self._layout.lock_path(bucket, key)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            # closing the descriptor releases the flock
            os.close(fd)
