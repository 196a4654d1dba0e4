"""smarts3: an S3-compatible object storage server that keeps objects as plain files."""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    """``__version__`` is looked up on first use: importlib.metadata costs ~7 MiB and ~20 ms, which the fsync
    helper process (``adapters/storage/filesystem/sync_helper.py``) has no use for."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("smarts3")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0.0.0+local"
