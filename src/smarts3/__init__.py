"""smarts3: an S3-compatible object storage server that keeps objects as plain files."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("smarts3")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
