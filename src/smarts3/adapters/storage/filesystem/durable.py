"""Deferred directory fsyncs: a commit's renames happen under the key lock; the directory fsyncs that make
them survive a power loss run after it, before the response, and are shared between concurrent writers (group
commit).

Sixteen writers of one directory used to issue sixteen fsyncs of it. One fsync that *starts* after a writer's
rename covers that writer, so a writer that finds an fsync of its directory already running waits for the next
one, which it or another waiter starts for all. File contents (body, sidecar) are fsynced before their renames,
so a power loss never leaves a name pointing at unwritten data.
"""

from __future__ import annotations

import asyncio
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


class _LoopDirState:
    __slots__ = ("next", "running")

    def __init__(self) -> None:
        #: the fsync the next arrivals wait for (starts when the running one ends)
        self.next: asyncio.Future[None] | None = None
        self.running = False


class LoopDirSyncs:
    """The same group commit, coordinated on the event loop: writers whose commit ran on the loop wait on a
    future, and one thread call fsyncs a directory for all of them. Sixteen writers each blocking a thread on a
    condition (DirSyncs) cost a thread hop and a GIL hand-off per writer; here it is one per fsync."""

    def __init__(self) -> None:
        self._dirs: dict[str, _LoopDirState] = {}

    async def sync(self, paths: list[str]) -> None:
        """Return once an fsync of each of ``paths`` that started after this call has completed."""
        waits = [self._next(path) for path in paths]
        if len(waits) == 1:
            await asyncio.shield(waits[0])
        elif waits:
            await asyncio.shield(asyncio.gather(*waits))

    def _next(self, path: str) -> asyncio.Future[None]:
        state = self._dirs.get(path)
        if state is None:
            state = self._dirs[path] = _LoopDirState()
        if state.next is None:
            state.next = asyncio.get_running_loop().create_future()
        future = state.next
        if not state.running:
            self._start(path, state)
        return future

    def _start(self, path: str, state: _LoopDirState) -> None:
        future, state.next = state.next, None
        assert future is not None
        state.running = True
        task = asyncio.ensure_future(asyncio.to_thread(fsutil.fsync_dir, path))

        def done(task: asyncio.Future[None]) -> None:
            state.running = False
            if task.cancelled():
                future.cancel()
            elif (error := task.exception()) is not None:
                future.set_exception(error)
                future.exception()  # its waiters raise it; none left waiting must not log "never retrieved"
            else:
                future.set_result(None)
            if state.next is not None:
                self._start(path, state)
            elif self._dirs.get(path) is state:
                del self._dirs[path]

        task.add_done_callback(done)


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
