"""What this disk allows a durable 4 KiB PUT: 16 threads each writing a 4 KiB temp file, fsyncing it, renaming it
over one name and fsyncing the directory, for a few seconds. The ceiling the fsync-on put4k figure should be
read against (the HTTP floor does not fsync at all). Run: ``python bench/fsync_floor.py [--dir D] [--seconds S]``.

A third figure replays the file operations of smarts3's own durable PUT of one existing key, without any Python
server around them: body and sidecar written and fsynced, the sidecar exchanged in (a rename here), the old data
moved aside, the body renamed in, both directories fsynced, the two replaced files unlinked. The fsync-on put4k
figure is best read against that one.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Callable


def run(directory: str, seconds: float, threads: int, dir_fsync: bool) -> float:
    stop = time.monotonic() + seconds
    counts = [0] * threads
    target = os.path.join(directory, "object")
    body = b"x" * 4096

    def worker(index: int) -> None:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            n = 0
            while time.monotonic() < stop:
                temp = os.path.join(directory, f".t{index}-{n}")
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                os.write(fd, body)
                os.fsync(fd)
                os.close(fd)
                os.replace(temp, target)
                if dir_fsync:
                    os.fsync(dir_fd)
                n += 1
            counts[index] = n
        finally:
            os.close(dir_fd)

    return _timed(worker, threads, counts)


def run_protocol(directory: str, seconds: float, threads: int) -> float:
    """smarts3's durable PUT of one existing key per thread, as bare system calls (see the module doc)."""
    stop = time.monotonic() + seconds
    counts = [0] * threads
    body, sidecar = b"x" * 4096, b"{" + b"m" * 700 + b"}"
    tmp, data, meta = (os.path.join(directory, name) for name in ("tmp", "data", "meta"))
    for path in (tmp, data, meta):
        os.makedirs(path, exist_ok=True)

    def write(path: str, content: bytes) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, content)
            os.fsync(fd)
        finally:
            os.close(fd)

    def fsync_dir(path: str) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def worker(index: int) -> None:
        target, side = os.path.join(data, f"k{index}"), os.path.join(meta, f"k{index}.m")
        write(target, body)
        write(side, sidecar)
        n = 0
        while time.monotonic() < stop:
            temp, staged, aside = (os.path.join(tmp, f"{kind}{index}-{n}") for kind in "tsa")
            write(temp, body)
            write(staged, sidecar)
            os.replace(staged, side)
            os.rename(target, aside)
            os.rename(temp, target)
            fsync_dir(meta)
            fsync_dir(data)
            os.unlink(aside)
            n += 1
        counts[index] = n

    return _timed(worker, threads, counts)


def _timed(worker: Callable[[int], None], threads: int, counts: list[int]) -> float:
    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--dir", default=None, help="a directory on the disk to measure (default: a temp dir)"
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        plain = run(directory, args.seconds, args.threads, dir_fsync=False)
        full = run(directory, args.seconds, args.threads, dir_fsync=True)
        protocol = run_protocol(directory, args.seconds, args.threads)
    print(
        f"fsync'd 4 KiB write + rename, {args.threads} threads: {plain:,.0f}/s; with a directory fsync too: {full:,.0f}/s"
    )
    print(f"smarts3's durable PUT protocol as bare system calls, {args.threads} threads: {protocol:,.0f}/s")


if __name__ == "__main__":
    main()
