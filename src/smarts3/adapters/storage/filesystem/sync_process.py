"""Group commit in a helper process: the fsyncs of commits made on the event loop, with no thread of ours.

``SyncProcess`` has ``GroupSyncer``'s interface (``files``, ``dirs``, ``close``) and the same batching rule, but
the batch is made durable by a child process (``sync_helper.py``) that runs the very same
``batch_sync.sync_batch``. The event loop writes one line per batch to the child's stdin and
reads its answer from the child's stdout with ``add_reader``; while a batch is out, later requests queue and go
together as the next one (a request is served by a ``syncfs`` or fsync that starts after it arrived).

Why a process: the fsync thread has to take the GIL back from the event loop after each of its system calls, and
on a 4 KiB PUT load that hand-over was 17% of the loop thread's CPU (``futex``); a fsync'd PUT cost the loop
~850 us against ~600 us without fsync. The child has a GIL of its own: ~1,000 -> ~1,600 fsync'd PUT/s here.

The child lives exactly as long as its pipe: it ignores SIGINT and SIGTERM (a Ctrl-C or a process-group
signal must not take it away while the server drains) and exits at end of input, which is also what a killed
server leaves it. If it dies, the batch it held (and what queued behind it) is made durable by the fsync thread
(``GroupSyncer``) instead, and the next request starts a new child; if a child never answered (it cannot start
here), the thread does all the work from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Sequence

import msgspec

from smarts3.adapters.storage.filesystem import fsutil
from smarts3.adapters.storage.filesystem.durable import GroupSyncer, SyncJob, settle_future

_log = logging.getLogger("smarts3.storage")

#: one batch: ``[number, [[files, dirs, remove], ...]]``; its answer: ``[number, [None | [errno, text], ...]]``
_Answer = tuple[int, list[tuple[int, str] | None]]
_encode = msgspec.json.encode
_decode_answer = msgspec.json.Decoder(_Answer).decode


#: a helper that served nothing for this long exits (its ~15 MiB are the server's); the next write starts a new
#: one, which costs that write ~50 ms
IDLE_SECONDS = 30.0

#: the helper's program (sync_helper.py); ``-c`` rather than ``-m``: runpy warns about a module the package
#: imported already
_HELPER_MAIN = (
    "import sys; from smarts3.adapters.storage.filesystem.sync_helper import main; sys.exit(main())"
)


class _Channel:
    """One child process serving one event loop (a process may run several loops: tests, embedding)."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, on_lost: Callable[[_Channel, list[SyncJob]], None]
    ) -> None:
        self.loop = loop
        self._on_lost = on_lost
        # the child imports what we imported, from where we did (a test run or a source checkout may have put
        # the package on sys.path by other means than PYTHONPATH)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HELPER_MAIN],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
            env=env,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._out = self.proc.stdin.fileno()
        self._in = self.proc.stdout.fileno()
        os.set_blocking(self._in, False)
        self.queue: list[SyncJob] = []
        self.sent: list[SyncJob] | None = None
        self.closed = False
        #: whether the child ever answered (one that never did cannot work here: see SyncProcess._lost)
        self.answered = False
        self._idle: asyncio.TimerHandle | None = None
        self._number = 0
        self._buffer = b""
        loop.add_reader(self._in, self._readable)

    def submit(self, job: SyncJob) -> None:
        self.queue.append(job)
        if self.sent is None:
            self._send()

    def _send(self) -> None:
        batch, self.queue = self.queue, []
        self._number += 1
        line = _encode((self._number, [(w.files, w.dirs, w.remove) for w in batch])) + b"\n"
        self.sent = batch
        try:
            # at most one batch is out, and the child reads it at once: this never waits for long
            fsutil.write_all(self._out, line)
        except OSError as exc:
            self._lost(exc)

    def _readable(self) -> None:
        try:
            data = os.read(self._in, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lost(exc)
            return
        if not data:
            self._lost(OSError(errno.EIO, "the fsync helper process exited"))
            return
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            batch = self.sent or []
            try:
                number, errors = _decode_answer(line)
                if number != self._number or len(errors) != len(batch):
                    raise ValueError(f"answer {number} with {len(errors)} results for batch {self._number}")
            except (msgspec.DecodeError, ValueError) as exc:
                # never leave writers waiting on a child that talks nonsense: replace it
                self.proc.kill()
                self._lost(OSError(errno.EIO, f"garbled answer from the fsync helper process: {exc}"))
                return
            self.answered = True
            self.sent = None
            for waiter, error in zip(batch, errors, strict=True):
                if not waiter.future.done():
                    if error is None:
                        waiter.future.set_result(None)
                    else:
                        waiter.future.set_exception(OSError(error[0], error[1]))
        if self.queue and self.sent is None and not self.closed:
            self._send()
        elif self.sent is None and not self.closed:
            if self._idle is not None:
                self._idle.cancel()
            self._idle = self.loop.call_later(IDLE_SECONDS, self._idle_check)

    def _idle_check(self) -> None:
        if self.sent is None and not self.queue:
            self.shut()  # the child exits at end of input; the next request starts a new one

    def _lost(self, exc: OSError) -> None:
        """The child is gone (or its pipe broke): what it held and what waits goes back to the owner."""
        self.shut()
        orphans = [w for w in (*(self.sent or []), *self.queue) if not w.future.done()]
        self.sent, self.queue = None, []
        _log.warning("the fsync helper process (pid %s) is gone: %s", self.proc.pid, exc)
        self._on_lost(self, orphans)

    def shut(self) -> None:
        """Stop reading and close our ends of the pipes (the child finishes its batch and exits); loop thread."""
        if self.closed:
            return
        self.closed = True
        if self._idle is not None:
            self._idle.cancel()
        with contextlib.suppress(RuntimeError, ValueError, OSError):  # the loop may be closed already
            self.loop.remove_reader(self._in)
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                assert stream is not None
                stream.close()


class SyncProcess:
    """Group commit of file and directory fsyncs by a helper process per event loop (see the module doc)."""

    def __init__(self) -> None:
        self._channels: dict[asyncio.AbstractEventLoop, _Channel] = {}
        self._pid = fsutil.current_pid()
        #: the fsync thread, for batches whose helper died and for good once a helper could not start at all
        self._fallback = GroupSyncer()
        self.broken = False

    async def files(self, paths: Sequence[str]) -> None:
        """Return once each file at ``paths`` was fsynced (by an fsync that started after this call)."""
        if paths:
            await settle_future(self._submit(paths, (), ()))

    async def dirs(self, paths: Sequence[str], *, then_remove: Sequence[str] = ()) -> None:
        """Return once each directory at ``paths`` was fsynced by an fsync that started after this call; the
        helper then removes ``then_remove`` (after answering, whether the fsync succeeded or not)."""
        if paths or then_remove:
            await settle_future(self._submit((), paths, then_remove))

    def helper_pids(self) -> list[int]:
        return [channel.proc.pid for channel in self._channels.values() if not channel.closed]

    def close(self, *, wait: float = 0.0) -> None:
        """Let every helper end once it has served what it was given (a later request starts a new one); wait
        up to ``wait`` seconds for each to exit. Callable from any thread."""
        channels, self._channels = self._channels, {}
        for channel in channels.values():
            if channel.sent or channel.queue:
                # still serving writers: let it finish; its idle timer (or the next close) ends it
                self._channels[channel.loop] = channel
                continue
            _shut_from_anywhere(channel)
            if wait > 0:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    channel.proc.wait(wait)
        self._fallback.close(wait=wait)

    def _submit(
        self, files: Sequence[str], dirs: Sequence[str], remove: Sequence[str]
    ) -> asyncio.Future[None]:
        channel = self._channel()
        if channel is None:
            return self._fallback.submit(files, dirs, remove)
        job = SyncJob(files, dirs, remove, channel.loop.create_future(), channel.loop)
        channel.submit(job)
        return job.future

    def _channel(self) -> _Channel | None:
        if self._pid != fsutil.current_pid():  # forked: the parent's helpers and pipes are the parent's
            self._channels, self._pid = {}, fsutil.current_pid()
        if self.broken:
            return None
        loop = asyncio.get_running_loop()
        channel = self._channels.get(loop)
        if channel is None or channel.closed:
            if channel is not None:
                channel.proc.poll()  # a helper that died: reap it (no zombie left behind)
            try:
                channel = self._channels[loop] = _Channel(loop, self._lost)
            except OSError as exc:
                self._give_up(f"it could not be started ({exc})")
                return None
        return channel

    def _lost(self, channel: _Channel, orphans: list[SyncJob]) -> None:
        """A helper died: its batch and the requests queued behind it are served by the fsync thread (a sync
        that starts now still starts after they arrived). One that never answered cannot work here at all
        (say, the interpreter cannot import the package): the thread serves everything from then on."""
        channel.proc.poll()
        if not channel.answered:
            self._give_up(f"it exited with {channel.proc.returncode} before answering")
        for waiter in orphans:
            _chain(self._fallback.submit(waiter.files, waiter.dirs, waiter.remove), waiter.future)

    def _give_up(self, why: str) -> None:
        self.broken = True
        _log.warning("fsync helper process not used, %s: the fsync thread does its work instead", why)


def _chain(source: asyncio.Future[None], target: asyncio.Future[None]) -> None:
    def copy(done: asyncio.Future[None]) -> None:
        if target.done():
            return
        error = done.exception()
        if error is None:
            target.set_result(None)
        else:
            target.set_exception(error)

    source.add_done_callback(copy)


def _shut_from_anywhere(channel: _Channel) -> None:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is channel.loop or channel.loop.is_closed():
        channel.shut()
        return
    try:
        channel.loop.call_soon_threadsafe(channel.shut)
    except RuntimeError:  # closed meanwhile
        channel.shut()
