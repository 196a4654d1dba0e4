"""The fsync helper process's program (started by ``sync_process.SyncProcess``): one batch per input line, made
durable by ``batch_sync.sync_batch``, answered on stdout, then the files it replaced are removed; it ends at end
of input. Standard library only (json, not msgspec; no asyncio): its resident size counts against the server's
(~15 MiB, where importing the whole adapter made it ~31).

A batch is ``[number, [[files, dirs, remove], ...]]``; its answer ``[number, [null | [errno, text], ...]]``.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
from typing import IO

from smarts3.adapters.storage.filesystem import fsutil
from smarts3.adapters.storage.filesystem.batch_sync import SyncRequest, sync_batch


def error_pair(error: BaseException | None) -> tuple[int, str] | None:
    if error is None:
        return None
    if isinstance(error, OSError):
        return (error.errno or errno.EIO, error.strerror or str(error))
    return (errno.EIO, repr(error))


def serve(reader: IO[bytes], writer: IO[bytes]) -> None:
    """Serve batches from ``reader`` until it ends."""
    fs_fds: dict[int, int] = {}
    try:
        for line in reader:
            number, jobs = json.loads(line)
            batch = [SyncRequest(files, dirs, remove) for files, dirs, remove in jobs]
            try:
                sync_batch(batch, fs_fds)
            except Exception as exc:  # a bug must not leave writers waiting forever
                for request in batch:
                    request.error = request.error or exc
            answer = [number, [error_pair(request.error) for request in batch]]
            writer.write(json.dumps(answer, separators=(",", ":")).encode() + b"\n")
            writer.flush()
            for request in batch:
                for path in request.remove:
                    fsutil.unlink_quiet(path)
    finally:
        for fd in fs_fds.values():
            os.close(fd)


def main() -> int:
    # it lives exactly as long as its pipe: a Ctrl-C or a signal to the process group is the server's to handle
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    serve(sys.stdin.buffer, sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
