"""Making one batch of files and directories durable: the part of group commit that runs wherever the batch
is served, the fsync thread (``durable.GroupSyncer``) or the helper process (``sync_helper``). Nothing here
imports asyncio, so the helper stays small (its resident size counts against the server's)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from smarts3.adapters.storage.filesystem import fsutil


class SyncRequest:
    """Files and directories to make durable together, the files to remove after that, and how it went."""

    __slots__ = ("dirs", "error", "files", "remove")

    def __init__(self, files: Sequence[str], dirs: Sequence[str], remove: Sequence[str]) -> None:
        self.files = files
        self.dirs = dirs
        self.remove = remove
        self.error: BaseException | None = None


def sync_batch(jobs: Sequence[SyncRequest], fs_fds: dict[int, int]) -> None:
    """Make every job's files and directories durable: with one ``syncfs`` per filesystem when the batch has
    more than one path and little foreign dirty data is around (``fsutil.syncfs_ok``), else path by path."""
    paths = sum(len(job.files) + len(job.dirs) for job in jobs)
    if paths == 0:
        return
    if paths > 1 and fsutil.syncfs_ok():
        _syncfs_batch(jobs, fs_fds)
    else:
        _fsync_each(jobs)


#: directory -> the device (filesystem) it is on, for ``_syncfs_batch``; one syncer per process uses it
_DIR_DEVICES: dict[str, int] = {}


def _syncfs_batch(jobs: Sequence[SyncRequest], fs_fds: dict[int, int]) -> None:
    # a path's filesystem is its directory's, remembered per directory (``_DIR_DEVICES``): a stat per path cost
    # the fsync thread a GIL hand-over from the event loop each, ~10% of a 4 KiB PUT load. ``fs_fds`` keeps one
    # descriptor per filesystem for syncfs, opened on a directory (an open file would keep a deleted temp alive)
    members: dict[int, list[SyncRequest]] = {}
    for job in jobs:
        for path in (*job.files, *job.dirs):
            where = path if path in job.dirs else os.path.dirname(path)
            device = _DIR_DEVICES.get(where)
            try:
                if device is None:
                    if len(_DIR_DEVICES) >= 4096:
                        _DIR_DEVICES.clear()
                    device = _DIR_DEVICES[where] = os.stat(where).st_dev
                if device not in fs_fds:
                    fs_fds[device] = os.open(where, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError as exc:
                job.error = exc
                break
            group = members.setdefault(device, [])
            if not group or group[-1] is not job:
                group.append(job)
    for device, group in members.items():
        try:
            fsutil.syncfs(fs_fds[device])
        except OSError as exc:
            for job in group:
                job.error = job.error or exc


def _fsync_each(jobs: Sequence[SyncRequest]) -> None:
    opened: list[tuple[SyncRequest, int]] = []
    try:
        for job in jobs:
            for path in job.files:
                try:
                    opened.append((job, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
                except OSError as exc:
                    job.error = exc
                    break
        if len(opened) > 1:
            for _, fd in opened:
                fsutil.start_writeback(fd)
        for job, fd in opened:
            if job.error is None:
                try:
                    os.fsync(fd)
                except OSError as exc:
                    job.error = exc
    finally:
        for _, fd in opened:
            os.close(fd)
    synced: dict[str, OSError | None] = {}
    for job in jobs:
        for path in job.dirs:
            if path not in synced:
                try:
                    fsutil.fsync_dir(path)
                    synced[path] = None
                except OSError as exc:
                    synced[path] = exc
            error = synced[path]
            if error is not None and job.error is None:
                job.error = error
