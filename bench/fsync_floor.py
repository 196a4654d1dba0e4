"""What this disk allows a durable 4 KiB PUT: 16 threads each writing a 4 KiB temp file, fsyncing it, renaming it
over one name and fsyncing the directory, for a few seconds. The ceiling the fsync-on put4k figure should be
read against (the HTTP floor does not fsync at all). Run: ``python bench/fsync_floor.py [--dir D] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time


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
    print(
        f"fsync'd 4 KiB write + rename, {args.threads} threads: {plain:,.0f}/s; with a directory fsync too: {full:,.0f}/s"
    )


if __name__ == "__main__":
    main()
