"""Filesystem storage adapter: objects are plain files under a root directory, state under ``root/.smarts3``."""

from smarts3.adapters.storage.filesystem.backend import FilesystemStorage

__all__ = ["FilesystemStorage"]
