"""Streaming a request body into a temp file: chunks are batched (~1 MiB) so each thread hop writes a lot, and
``digest.update`` runs in the same worker thread right after the bytes are written."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Protocol, TypeVar

from smarts3.adapters.storage.filesystem import fsutil
from smarts3.adapters.storage.filesystem.durable import settle_future, wait_done
from smarts3.adapters.storage.filesystem.locks import LockBusy
from smarts3.adapters.storage.filesystem.recycle import InodePool, Owner, Reused
from smarts3.domain.ports import BodyDigest

T = TypeVar("T")
C = TypeVar("C")
BATCH = 1 << 20
#: a large body holds up to two batches (one being received, one being written): when many stream at once the
#: batch shrinks so that they share BATCH_BUDGET each (down to BATCH_MIN). Eight parallel multipart parts held
#: ~3.5 MiB each with 1 MiB batches; one or two bodies keep 1 MiB (smaller batches cost a lone 64 MiB PUT 15%).
BATCH_BUDGET = 2 << 20
BATCH_MIN = 256 << 10
#: large bodies (past their first batch) streaming in this process right now
_streaming = 0


def batch_size() -> int:
    """The batch for a large body now: BATCH, less when many large bodies stream at once."""
    return max(BATCH_MIN, min(BATCH, BATCH_BUDGET // max(1, _streaming)))


#: the largest body written (and, without fsync, committed) on the event loop
INLINE_MAX = 256 << 10
#: with fsync on, a large body's pages are sent to the disk each time this much more was written (not waited
#: for): the final fsync then finds little left to write. A 64 MiB PUT's fsync took ~50 of its ~195 ms here.
WRITEBACK_EVERY = 4 << 20


def writeback_as_it_grows(fd: int, before: int, after: int) -> None:
    """Start ``fd``'s writeback when a body written there grew from ``before`` past a WRITEBACK_EVERY step."""
    if before // WRITEBACK_EVERY != after // WRITEBACK_EVERY:
        fsutil.start_writeback(fd)


class BodySink(Protocol):
    """Where ``stream_to_temp`` writes a body: a TempFile, or a multipart part's region (multipart.PartSlot)."""

    size: int

    def write(self, chunks: list[bytes]) -> None: ...

    def finish(self, *, sync: bool = True) -> None: ...

    def discard(self) -> None: ...


class TempFile:
    """A temp file under ``.smarts3/tmp`` being filled; created lazily on the first write. Blocking methods."""

    def __init__(
        self,
        tmp_dir: Path,
        digest: BodyDigest,
        *,
        fsync: bool,
        pool: InodePool | None = None,
        owner: Owner = None,
    ) -> None:
        #: a str: pathlib construction showed in PUT profiles (see ``path`` for a Path)
        self.path_s = f"{tmp_dir}{os.sep}{fsutil.temp_name()}"
        self._digest = digest
        self._fsync = fsync
        self._fd: int | None = None
        self._pool = pool
        #: the key written (a pool kept per key hands out only that key's files)
        self._owner = owner
        #: set when the file is a reused one (recycle.py): what it held before
        self._reused: Reused | None = None
        self.size = 0
        #: the file's stat once finished (its identity goes into the staged sidecar)
        self.stat: os.stat_result | None = None

    @property
    def path(self) -> Path:
        return Path(self.path_s)

    def write(self, chunks: list[bytes]) -> None:
        with fsutil.disk_errors():
            fd = self._fd if self._fd is not None else self._open()
            before = self.size
            for chunk in chunks:
                fsutil.write_all(fd, chunk)
                self._digest.update(chunk)
                self.size += len(chunk)
            if self._fsync:
                writeback_as_it_grows(fd, before, self.size)

    def _open(self) -> int:
        """Open the file: a reused one from the pool (recycle.py), else a new one."""
        reused = self._pool.take("data", self._owner) if self._pool is not None else None
        if reused is None:
            self._fd = os.open(self.path_s, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        else:
            self._reused, self._fd, self.path_s = reused, reused.fd, reused.path
        return self._fd

    def finish(self, *, sync: bool = True) -> None:
        """Flush to disk (when fsync is on and ``sync``) and close; the file stays for the commit to rename."""
        with fsutil.disk_errors():
            if self._fd is None:
                self.write([])
            assert self._fd is not None
            fd, self._fd = self._fd, None
            try:
                self.stat = os.fstat(fd) if self._reused is None else self._reused.finish(self.size)
                if self._fsync and sync:
                    os.fsync(fd)
            finally:
                os.close(fd)  # (releases a reused file's flock)

    def discard(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        fsutil.unlink_quiet(self.path_s)


async def _batch(body: AsyncIterator[bytes], limit: int) -> tuple[list[bytes], bool]:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        try:
            chunk = await anext(body)
        except StopAsyncIteration:
            return chunks, True
        if chunk:
            chunks.append(chunk)
            size += len(chunk)
    return chunks, False


async def stream_to_temp(
    body: AsyncIterator[bytes],
    temp: BodySink,
    prepare: Callable[[bool], T],
    *,
    inline: bool = False,
) -> T:
    """Write ``body`` into ``temp``, finish it (fsync) and run ``prepare`` (build + stage the commit); on any
    failure the temp is removed.

    A large body is written in ~1 MiB batches (smaller when many stream at once: ``batch_size``), each in a
    thread while the next one is received; its last batch,
    the fsync and ``prepare`` share one more thread hop (``prepare(True)``: the body is fsynced). With
    ``inline``, a body of at most INLINE_MAX bytes is written and prepared right here on the event loop, like any
    file server writing to the page cache, and *not* fsynced (``prepare(False)``): with fsync on, the caller
    fsyncs it with the staged sidecar in one thread hop afterwards.

    Why inline: every blocking call a worker thread makes re-takes the GIL, and sixteen workers doing ~30 small
    syscalls per PUT spent most of their time in that convoy (83k context switches/s on a 4 KiB PUT load).
    """
    global _streaming
    iterator = aiter(body)
    #: the previous batch being written in a thread while the next one is received (double buffering)
    writing: asyncio.Future[None] | None = None
    large = False
    try:
        while True:
            chunks, done = await _batch(iterator, batch_size() if large else BATCH)
            if writing is not None:
                # shielded: a cancelled upload must not cancel the wait for a thread that is still writing
                await asyncio.shield(writing)
                writing = None
            if done:
                if inline and temp.size == 0 and sum(map(len, chunks)) <= INLINE_MAX:
                    temp.write(chunks)
                    temp.finish(sync=False)
                    return prepare(False)
                return await in_thread(_write_then, temp, chunks, prepare)
            if not large:
                large = True
                _streaming += 1
            writing = asyncio.ensure_future(asyncio.to_thread(temp.write, chunks))
    except BaseException:
        if writing is not None:
            await wait_done(writing)  # never close the file under a thread still writing to it
        temp.discard()
        raise
    finally:
        if large:
            _streaming -= 1


async def commit_on_loop(
    commit: Callable[[bool], C],
    settle: Callable[[C], None],
    *,
    gate: asyncio.Lock | None,
    settle_on_loop: Callable[[C], Awaitable[None]],
) -> C:
    """Run a staged commit: ``commit(False)`` on the event loop under ``gate`` (it only renames; LockBusy when
    the key's lock is taken: then in a thread), else (``gate`` None) ``commit(True)`` in a thread; then
    ``settle`` (in the thread) or ``settle_on_loop`` (after a commit on the loop).

    ``gate`` is the key's stripe's asyncio lock: without it, one commit sent to a thread kept the stripe busy for
    the next writer, which went to a thread too, and so on, so a load on one key settled in the threaded mode
    for good. A commit or settle running in a thread is waited for even when the request is cancelled, so the
    caller's clean-up never races it.
    """
    if gate is not None:
        async with gate:
            try:
                done = commit(False)
            except LockBusy:
                return await in_thread(_commit_then_settle, commit, settle)
        await settle_on_loop(done)
        return done
    return await in_thread(_commit_then_settle, commit, settle)


def _commit_then_settle(commit: Callable[[bool], C], settle: Callable[[C], None]) -> C:
    done = commit(True)
    settle(done)
    return done


async def in_thread(function: Callable[..., T], *args: object) -> T:
    """``asyncio.to_thread`` whose caller, if cancelled, still waits for the thread to finish (then re-raises)."""
    return await settle_future(asyncio.ensure_future(asyncio.to_thread(function, *args)))


def _write_then(temp: BodySink, chunks: list[bytes], prepare: Callable[[bool], T]) -> T:
    temp.write(chunks)
    temp.finish()
    return prepare(True)
