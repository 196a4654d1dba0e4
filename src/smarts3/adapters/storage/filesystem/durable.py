"""Deferred directory fsyncs: a commit's renames happen under the key lock; the directory fsyncs that make
them survive a power loss run after it, before the response, and are shared between concurrent writers (group
commit).

Sixteen writers of one directory used to issue sixteen fsyncs of it. One fsync that *starts* after a writer's
rename covers that writer, so a writer that finds an fsync of its directory already running waits for the next
one, which it or another waiter starts for all. File contents (body, sidecar) are fsynced before their renames,
so a power loss never leaves a name pointing at unwritten data.
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
    """The directories one commit still has to fsync before its caller answers (in order, deduplicated)."""

    __slots__ = ("dirs",)

    def __init__(self) -> None:
        self.dirs: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.dirs)

    def add_dir(self, path: str | os.PathLike[str]) -> None:
        text = os.fspath(path)
        if text not in self.dirs:
            self.dirs.append(text)

    def sync(self, syncs: DirSyncs) -> None:
        """Fsync them all (blocking), each shared with concurrent writers of the same directory."""
        for path in self.dirs:
            syncs.sync(path)
        self.dirs.clear()
