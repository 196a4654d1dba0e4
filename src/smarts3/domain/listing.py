"""Pure listing logic shared by storage adapters: delimiter grouping and pagination over sorted keys.

S3 orders keys by their UTF-8 bytes. Python compares ``str`` by code point, which gives the same order for
every valid Unicode string (UTF-8 preserves code-point order), so plain ``str`` comparison is used throughout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from smarts3.domain.models import ListPage, ListQuery, ObjectInfo

T = TypeVar("T")


def common_prefix_of(key: str, prefix: str, delimiter: str) -> str | None:
    """The CommonPrefix ``key`` rolls up into, or None when it is listed on its own."""
    if not delimiter:
        return None
    cut = key.find(delimiter, len(prefix))
    if cut < 0:
        return None
    return key[: cut + len(delimiter)]


def paginate(
    entries: Iterable[tuple[str, T]],
    query: ListQuery,
    load: Callable[[T], ObjectInfo | None],
    skip_to: Callable[[str], None] | None = None,
) -> ListPage:
    """Build one page from ``entries`` (key, handle) sorted ascending by key and all > ``query.start_after``.

    ``load`` turns a handle into ObjectInfo only for keys that land on the page (None drops the entry, e.g. a
    file that vanished). ``skip_to(prefix)`` is an optional hint an adapter may honour to jump past every key
    starting with a common prefix already emitted (a filesystem adapter skips the whole directory).
    """
    max_keys = query.max_keys
    objects: list[ObjectInfo] = []
    prefixes: list[str] = []
    last: str | None = None
    if max_keys <= 0:
        return ListPage(objects=(), common_prefixes=(), is_truncated=False)
    iterator: Iterator[tuple[str, T]] = iter(entries)
    for key, handle in iterator:
        if not key.startswith(query.prefix) or key <= query.start_after:
            continue
        group = common_prefix_of(key, query.prefix, query.delimiter)
        if group is not None:
            if prefixes and prefixes[-1] == group:
                continue
            if group <= query.start_after:
                # the marker is inside this group: S3 does not repeat a prefix already returned
                continue
            if len(objects) + len(prefixes) >= max_keys:
                return _page(objects, prefixes, True, last)
            prefixes.append(group)
            last = group
            if skip_to is not None:
                skip_to(group)
            continue
        if len(objects) + len(prefixes) >= max_keys:
            return _page(objects, prefixes, True, last)
        info = load(handle)
        if info is None:
            continue
        objects.append(info)
        last = key
    return _page(objects, prefixes, False, None)


def _page(objects: list[ObjectInfo], prefixes: list[str], truncated: bool, last: str | None) -> ListPage:
    return ListPage(
        objects=tuple(objects),
        common_prefixes=tuple(prefixes),
        is_truncated=truncated,
        next_marker=last if truncated else None,
    )
