"""Memos for pure functions of text a client chooses (paths, query strings): bounded in entries *and* in the
length of what they keep.

An ``lru_cache`` bounds the number of entries only. Keyed on a request's path or query, which a client may make
hundreds of kilobytes long before anything validates them, 4,096 entries could hold gigabytes. Here inputs
longer than ``max_len`` are computed every time and never kept; the usual short ones are remembered.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ShortTextMemo(Generic[T]):
    """``function(text, *rest)`` remembered (LRU, ``maxsize`` entries) when ``len(text) <= max_len``."""

    def __init__(self, function: Callable[..., T], *, maxsize: int, max_len: int) -> None:
        self._function = function
        self._cached = functools.lru_cache(maxsize=maxsize)(function)
        self.max_len = max_len
        functools.update_wrapper(self, function)

    def __call__(self, text: str, *rest: Any) -> T:
        if len(text) <= self.max_len:
            return self._cached(text, *rest)
        return self._function(text, *rest)

    def cache_info(self) -> Any:
        return self._cached.cache_info()

    def cache_clear(self) -> None:
        self._cached.cache_clear()


def short_text_memo(*, maxsize: int, max_len: int) -> Callable[[Callable[..., T]], ShortTextMemo[T]]:
    """Decorator form of :class:`ShortTextMemo`."""

    def wrap(function: Callable[..., T]) -> ShortTextMemo[T]:
        return ShortTextMemo(function, maxsize=maxsize, max_len=max_len)

    return wrap
