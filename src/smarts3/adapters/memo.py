"""Memos for pure functions of what a client chooses (paths, query strings, header names): bounded in entries
*and* in the size of what they keep.

An ``lru_cache`` bounds the number of entries only. Keyed on a request's path, query or header names, which a
client may make hundreds of kilobytes long before anything validates them, 4,096 entries could hold gigabytes.
Here an argument larger than ``max_size`` (measured by ``size``, ``len`` by default) is computed every time and
never kept; the usual small ones are remembered.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
V = TypeVar("V")


class BoundedMemo(Generic[T]):
    """``function(key, *rest)`` remembered (LRU, ``maxsize`` entries) when ``size(key) <= max_size``."""

    def __init__(
        self,
        function: Callable[..., T],
        *,
        maxsize: int,
        max_size: int,
        size: Callable[[Any], int] = len,
    ) -> None:
        self._function = function
        self._cached = functools.lru_cache(maxsize=maxsize)(function)
        self._size = size
        self.max_size = max_size
        functools.update_wrapper(self, function)

    def __call__(self, key: Any, *rest: Any) -> T:
        if self._size(key) <= self.max_size:
            return self._cached(key, *rest)
        return self._function(key, *rest)

    def cache_info(self) -> Any:
        return self._cached.cache_info()

    def cache_clear(self) -> None:
        self._cached.cache_clear()


def bounded_memo(
    *, maxsize: int, max_size: int, size: Callable[[Any], int] = len
) -> Callable[[Callable[..., T]], BoundedMemo[T]]:
    """Decorator form of :class:`BoundedMemo`."""

    def wrap(function: Callable[..., T]) -> BoundedMemo[T]:
        return BoundedMemo(function, maxsize=maxsize, max_size=max_size, size=size)

    return wrap


def total_length(names: tuple[str, ...]) -> int:
    """A ``size`` for tuples of strings: their characters together."""
    return sum(map(len, names))


class IdentityMemo(dict[int, tuple[Any, Hashable, V]]):
    """What was derived from an object, found by the object's *identity* plus a hashable variant: for objects that
    are memoised elsewhere and served again and again (the ObjectInfo of a cached sidecar) but cannot be hashed
    by value. Keyed by ``id``; the entry holds the object, so that id cannot be reused while it is remembered.
    Cleared whole when ``maxsize`` entries are reached (a cheap bound; the hot entries come straight back)."""

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize

    def recall(self, obj: object, variant: Hashable) -> V | None:
        hit = self.get(id(obj))
        if hit is not None and hit[0] is obj and hit[1] == variant:
            return hit[2]
        return None

    def remember(self, obj: object, variant: Hashable, value: V) -> None:
        if len(self) >= self.maxsize:
            self.clear()
        self[id(obj)] = (obj, variant, value)
