"""Filesystem storage adapter: objects are plain files under a root directory, state under ``root/.smarts3``.

On-disk layout::

    <root>/
      <bucket>/<key path>                     latest version of each object, an ordinary file (layout.py)
      .smarts3/
        buckets/<bucket>/bucket.json          BucketInfo (created, region, object lock)
        buckets/<bucket>/config/<kind>        per-bucket documents (versioning, cors, policy ...)
        buckets/<bucket>/meta/<a.d>/<b.m>     sidecar of key "a/b": metadata + data identity (metadata.py)
        buckets/<bucket>/versions/<a.d>/<b.v>/<seq>-<id>.json|.data   archived versions, delete markers
        uploads/<bucket>/<upload id>/         upload.json, p00001.json + p00001-<uniq> (multipart.py)
        tmp/t<pid>-<uuid>                     bodies being written; removed by start() once <pid> is dead
        locks/000.lock .. 255.lock            flock stripes shared by all processes (locks.py)

See objects.py for the crash-consistency protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smarts3.adapters.storage.filesystem.backend import FilesystemStorage

__all__ = ["FilesystemStorage"]


def __getattr__(name: str) -> Any:
    """``FilesystemStorage`` is imported on first use, so the fsync helper process (``sync_helper``), which
    needs only ``fsutil`` and ``batch_sync``, does not load the whole adapter (~31 -> ~15 MiB resident)."""
    if name == "FilesystemStorage":
        from smarts3.adapters.storage.filesystem.backend import FilesystemStorage

        return FilesystemStorage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
