"""Grouped fsyncs. A commit's renames happen under the key lock; the directory fsyncs that make them survive a
power loss run after it, before the response, and are shared between concurrent writers (group commit): in
threads (``DirSyncs``) or, for commits made on the event loop, by one fsync thread that also fsyncs their files
(``GroupSyncer``) or by a helper process doing the same (``sync_process.SyncProcess``, what the server uses).

Sixteen writers of one directory used to issue sixteen fsyncs of it. One fsync that *starts* after a writer's
rename covers that writer, so a writer that finds an fsync of its directory already running waits for the next
one, which it or another waiter starts for all. File contents (body, sidecar) are fsynced before their renames,
so a power loss never leaves a name pointing at unwritten data.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Sequence
from typing import Any, TypeVar

from smarts3.adapters.storage.filesystem import fsutil
from smarts3.adapters.storage.filesystem.batch_sync import SyncRequest, sync_batch

T = TypeVar("T")


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


class SyncJob(SyncRequest):
    """A request handed to a syncer by a writer on ``loop``, who awaits ``future``."""

    __slots__ = ("future", "loop")

    def __init__(
        self,
        files: Sequence[str],
        dirs: Sequence[str],
        remove: Sequence[str],
        future: asyncio.Future[None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        super().__init__(files, dirs, remove)
        self.future = future
        self.loop = loop


class GroupSyncer:
    """The fsyncs of writers whose commits run on the event loop, made by one thread in batches (group commit).

    A writer hands over paths and awaits a future. The thread takes every request that arrived while it was busy
    as its next batch and makes it durable with one ``syncfs`` per filesystem (``fsutil.syncfs_ok``: Linux 5.8+,
    little foreign dirty data about), else path by path: it starts the writeback of all the batch's files at
    once (``fsutil.start_writeback``), fsyncs them one by one, then each directory the batch names once. It
    wakes the batch's writers with one call into their loop, then unlinks the files their commits replaced.

    Why: a thread per fsync (``asyncio.to_thread``) made each PUT of sixteen concurrent writers wait ~2 ms for a
    worker to start and ~2.5 ms to be resumed after its 1.9 ms of fsyncs, sixteen threads trading the GIL with
    the event loop on two cores. Here one thread wakes per batch and one call resumes its writers; 2 or 4 such
    threads measured slower than one. A ``syncfs`` of a batch of sixteen 4 KiB files took 0.35 ms where their
    sixteen fsyncs took 1.2 ms, in parallel or not.

    A request is served by a ``syncfs`` or fsync that starts after it arrived (the batch is taken after that),
    which is what makes a rename made before it durable. One instance per process: after a fork the child
    starts its own thread."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        for fd in getattr(self, "_fs_fds", {}).values():
            with contextlib.suppress(OSError):
                os.close(fd)  # after a fork: the parent's, whose error reports must stay the parent's
        #: one open directory per filesystem, for syncfs (its errors are reported to this descriptor once)
        self._fs_fds: dict[int, int] = {}
        self._pid = fsutil.current_pid()
        self._cond = threading.Condition(threading.Lock())
        self._jobs: list[SyncJob] = []
        #: whether the thread is alive (it owns ``_fs_fds`` while it is)
        self._running = False
        self._closed = False

    async def files(self, paths: Sequence[str]) -> None:
        """Return once each file at ``paths`` was fsynced (by an fsync that started after this call)."""
        if paths:
            await settle_future(self.submit(paths, (), ()))

    async def dirs(self, paths: Sequence[str], *, then_remove: Sequence[str] = ()) -> None:
        """Return once each directory at ``paths`` was fsynced by an fsync that started after this call. The
        thread then removes the files ``then_remove`` (whether the fsync succeeded or not), after releasing the
        caller: unlinking a replaced file waits for the journal, better done by this thread than by the loop."""
        if paths or then_remove:
            await settle_future(self.submit((), paths, then_remove))

    def close(self, *, wait: float = 0.0) -> None:
        """Let the thread end once it has served what it was given (a later request starts a new one); wait up
        to ``wait`` seconds for that."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            deadline = time.monotonic() + wait
            while self._running and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            if not self._running:
                fds, self._fs_fds = self._fs_fds, {}
                for fd in fds.values():
                    os.close(fd)

    def submit(
        self, files: Sequence[str], dirs: Sequence[str], remove: Sequence[str]
    ) -> asyncio.Future[None]:
        """Hand a request to the thread (starting it if needed); the future is done once it was served."""
        if self._pid != fsutil.current_pid():
            self._reset()  # forked: the parent's thread (and maybe its lock's holder) does not exist here
        loop = asyncio.get_running_loop()
        job = SyncJob(files, dirs, remove, loop.create_future(), loop)
        with self._cond:
            self._jobs.append(job)
            self._closed = False
            if self._running:
                self._cond.notify_all()  # the thread, and close(wait=...) if someone waits there
            else:
                self._running = True
                threading.Thread(target=self._run, name="smarts3-fsync", daemon=True).start()
        return job.future

    def _run(self) -> None:
        cond = self._cond
        while True:
            with cond:
                while not self._jobs:
                    if self._closed:
                        self._running = False
                        cond.notify_all()  # for close(wait=...)
                        return
                    cond.wait()
                jobs, self._jobs = self._jobs, []
            try:
                sync_batch(jobs, self._fs_fds)
            except BaseException as exc:  # a bug must not leave writers waiting forever
                for job in jobs:
                    job.error = job.error or exc
            by_loop: dict[asyncio.AbstractEventLoop, list[SyncJob]] = {}
            for job in jobs:
                by_loop.setdefault(job.loop, []).append(job)
            for loop, done in by_loop.items():
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
                    loop.call_soon_threadsafe(_deliver, done)
            # after the writers were released: an unlink waits for the journal like an fsync does (a separate
            # thread for them measured slower, the GIL again)
            for job in jobs:
                for path in job.remove:
                    fsutil.unlink_quiet(path)


def _deliver(jobs: list[SyncJob]) -> None:
    for job in jobs:
        if job.future.done():
            continue
        if job.error is None:
            job.future.set_result(None)
        else:
            job.future.set_exception(job.error)


async def settle_future(future: asyncio.Future[T]) -> T:
    """Await ``future`` (work running in a thread); if we are cancelled meanwhile, still wait until it is done
    (so the caller's clean-up never races that work), then re-raise the cancellation."""
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await wait_done(future)
        raise


async def wait_done(future: asyncio.Future[Any]) -> None:
    """Wait until ``future`` is done, whatever it raises and even if we are cancelled meanwhile."""
    while not future.done():
        try:
            await asyncio.wait({future})
        except asyncio.CancelledError:
            continue
    if not future.cancelled():
        future.exception()  # retrieved: the caller is already raising its own error


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
