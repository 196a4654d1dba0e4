"""Deferred durability: the fsyncs a commit owes before its caller may answer, run after the key lock and off
the event loop, with directory fsyncs shared between concurrent writers (group commit).

A commit's renames happen first (under the key lock, possibly on the event loop); the fsyncs that make them
survive a power loss come after, in a worker thread, before the response. Crash consistency never depends on
them: it comes from the order of the renames (objects.py). Sixteen writers of one directory used to issue
sixteen fsyncs of it; one fsync that *starts* after a writer's rename covers that writer, so a writer that finds
an fsync of its directory already running waits for the next one, which it or another waiter starts for all.
"""

from __future__ import annotations

import os
import threading

from smarts3.adapters.storage.filesystem import fsutil


class _DirState:
    __slots__ = ("cond", "done", "running", "started")

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.started = 0
        self.done = 0
        self.running = False


class DirSyncs:
    """Coalesces concurrent fsyncs of the same directory. Blocking: call from worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dirs: dict[str, _DirState] = {}

    def _state(self, path: str) -> _DirState:
        state = self._dirs.get(path)
        if state is None:
            with self._lock:
                if len(self._dirs) > 4096:
                    self._dirs = {p: s for p, s in self._dirs.items() if s.running}
                state = self._dirs.setdefault(path, _DirState())
        return state

    def sync(self, path: str) -> None:
        """Return once an fsync of ``path`` that started after this call has completed."""
        state = self._state(path)
        with state.cond:
            # an fsync running now may have started before our rename: we need the one after it
            need = state.started + 1
            while state.done < need:
                if state.running:
                    state.cond.wait()
                    continue
                state.running = True
                state.started += 1
                mine = state.started
                state.cond.release()
                try:
                    fsutil.fsync_dir(path)
                finally:
                    state.cond.acquire()
                    state.running = False
                    state.cond.notify_all()
                # on failure the exception propagates (the waiters retry with a new fsync of their own)
                state.done = max(state.done, mine)


class Durable:
    """What one commit still owes: an open file to fsync and directories to fsync (in order, deduplicated)."""

    __slots__ = ("dirs", "fds")

    def __init__(self) -> None:
        self.fds: list[int] = []
        self.dirs: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.fds or self.dirs)

    def add_dir(self, path: str | os.PathLike[str]) -> None:
        text = os.fspath(path)
        if text not in self.dirs:
            self.dirs.append(text)

    def sync(self, syncs: DirSyncs) -> None:
        """Do it all (blocking); the descriptors are closed whatever happens."""
        try:
            for fd in self.fds:
                os.fsync(fd)
        finally:
            self.close()
        for path in self.dirs:
            syncs.sync(path)
        self.dirs.clear()

    def close(self) -> None:
        fds, self.fds = self.fds, []
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
