"""Lazy walk of a key tree in UTF-8 binary key order, for listings.

A directory's entries are sorted by their decoded key text, directories compared as ``segment + "/"`` (so
``a-c`` < ``a/b`` < ``a0``). The walk starts at ``start_after``/``prefix`` without visiting what lies before
(it only descends into directories that can hold keys > start_after with the prefix) and abandons a directory
as soon as the listing says all its keys roll up into a common prefix already emitted (``skip_to``).

The same walker serves the data tree (leaves are regular files) and the version store (leaves are ``.v``
directories, inner directories end in ``.d``). Symlinks and names the key encoding never produces are skipped.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from smarts3.adapters.storage.filesystem.layout import decode_component, is_canonical_name

_LEAF, _DIR, _CONT = 0, 1, 2

# Sorted directory listings, validated by the directory's (inode, mtime): a paginated listing of a big
# directory otherwise reads and sorts every entry again for each page. Shared by all walkers of the process.
_DIR_CACHE: dict[tuple[str, bool], tuple[tuple[int, int], list[tuple[str, int, str]]]] = {}
_DIR_CACHE_LOCK = threading.Lock()
_DIR_CACHE_MAX_ENTRIES = 100_000  # entries across all cached directories (memory bound)
_QUIET_NS = 200_000_000
_cached_entries = 0


def _remember(key: tuple[str, bool], stamp: tuple[int, int], children: list[tuple[str, int, str]]) -> None:
    global _cached_entries
    with _DIR_CACHE_LOCK:
        old = _DIR_CACHE.pop(key, None)
        if old is not None:
            _cached_entries -= len(old[1])
        while _DIR_CACHE and _cached_entries + len(children) > _DIR_CACHE_MAX_ENTRIES:
            _, evicted = _DIR_CACHE.pop(next(iter(_DIR_CACHE)))
            _cached_entries -= len(evicted[1])
        _DIR_CACHE[key] = (stamp, children)
        _cached_entries += len(children)


class TreeWalker:
    def __init__(self, root: Path, *, versions: bool = False) -> None:
        self._root = root
        self._versions = versions
        self._skip: str | None = None

    def skip_to(self, group: str) -> None:
        """Hint from ``paginate``: every key starting with ``group`` may be skipped from now on."""
        self._skip = group

    def entries(
        self, prefix: str = "", start_after: str = "", *, inclusive: bool = False
    ) -> Iterator[tuple[str, str]]:
        """(key, path) for every key with ``prefix`` and > ``start_after`` (>= when inclusive), ascending."""
        self._prefix = prefix
        self._after = start_after
        self._inclusive = inclusive
        if not self._root.is_dir():
            return iter(())
        return self._walk(str(self._root), "")

    def _children(self, path: str, key_prefix: str) -> list[tuple[str, int, str]]:
        """The sorted entries of one directory, from the directory cache when it is provably current."""
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return []
        cache_key = (path, self._versions)
        hit = _DIR_CACHE.get(cache_key)
        if hit is not None and hit[0] == (st.st_ino, st.st_mtime_ns):
            return hit[1]
        scanned_at = time.time_ns()
        children = self._scan(path, key_prefix)
        # Trust the snapshot later only if the directory had been quiet for a while before we read it: file
        # timestamps are coarse (a few ms), so a change right after a change could keep the same mtime.
        if scanned_at - st.st_mtime_ns > _QUIET_NS and len(children) <= _DIR_CACHE_MAX_ENTRIES:
            _remember(cache_key, (st.st_ino, st.st_mtime_ns), children)
        return children

    def _scan(self, path: str, key_prefix: str) -> list[tuple[str, int, str]]:
        children: list[tuple[str, int, str]] = []
        try:
            scan = os.scandir(path)
        except (FileNotFoundError, NotADirectoryError):
            return children
        with scan:
            for entry in scan:
                name = entry.name
                if entry.is_symlink():
                    continue  # never follow a link out of the tree, never list one as an object
                if self._versions:
                    if not entry.is_dir(follow_symlinks=False) or len(name) < 3:
                        continue
                    suffix, name = name[-2:], name[:-2]
                    if suffix == ".v":
                        kind = _LEAF
                    elif suffix == ".d":
                        kind = _DIR
                    else:
                        continue
                elif entry.is_file(follow_symlinks=False):
                    kind = _LEAF
                elif entry.is_dir(follow_symlinks=False):
                    kind = _DIR
                else:
                    continue
                if not is_canonical_name(name):
                    continue
                text, continued = decode_component(name)
                if continued:
                    if kind != _DIR:
                        continue
                    children.append((key_prefix + text, _CONT, entry.path))
                elif kind == _DIR:
                    children.append((key_prefix + text + "/", _DIR, entry.path))
                else:
                    children.append((key_prefix + text, _LEAF, entry.path))
        children.sort()
        return children

    def _after_start(self, key: str) -> bool:
        return key > self._after or (self._inclusive and key == self._after)

    def _walk(self, path: str, key_prefix: str) -> Iterator[tuple[str, str]]:
        children = self._children(path, key_prefix)
        if any(kind == _CONT for _, kind, _ in children):
            # A continuation fragment (over-long segment) is not a whole segment, so its keys may sort on
            # both sides of a sibling: collect this (rare) directory fully and sort.
            found: list[tuple[str, str]] = []
            for sort_key, kind, child in children:
                if kind == _LEAF:
                    found.append((sort_key, child))
                else:
                    found.extend(self._walk(child, sort_key))
            found.sort()
            for key, child_path in found:
                if key.startswith(self._prefix) and self._after_start(key):
                    yield key, child_path
            return
        prefix, after = self._prefix, self._after
        for sort_key, kind, child in children:
            skip = self._skip
            if kind == _LEAF:
                if sort_key.startswith(prefix):
                    if (sort_key > after or (self._inclusive and sort_key == after)) and not (
                        skip and sort_key.startswith(skip)
                    ):
                        yield sort_key, child
                elif sort_key > prefix:
                    return
                continue
            if not (sort_key.startswith(prefix) or prefix.startswith(sort_key)):
                if sort_key > prefix:
                    return
                continue
            if not (sort_key > after or after.startswith(sort_key)):
                continue  # every key below sorts before start_after
            if skip and sort_key.startswith(skip):
                continue
            for item in self._walk(child, sort_key):
                yield item
                skip = self._skip
                if skip and sort_key.startswith(skip):
                    break
