"""ListObjects and ListObjectVersions over the trees: lazy sorted walks (walk.py) feeding pagination.

``list_objects`` walks only the data tree (never the version store) and reads a sidecar only for objects that
land on the page. ``list_versions`` merges the data tree (latest versions) with the version store.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

import attrs

from smarts3.adapters.storage.filesystem import metadata, versions
from smarts3.adapters.storage.filesystem.objects import ObjectEngine
from smarts3.adapters.storage.filesystem.walk import TreeWalker
from smarts3.domain.listing import common_prefix_of, paginate
from smarts3.domain.models import (
    NULL_VERSION,
    ListPage,
    ListQuery,
    ObjectInfo,
    VersionListPage,
    VersionListQuery,
)


def list_objects(engine: ObjectEngine, bucket: str, query: ListQuery) -> ListPage:
    walker = TreeWalker(engine.layout.bucket_dir(bucket))
    # the handle is the key itself: sidecar paths derive from it, and only page entries are loaded
    entries = ((key, key) for key, _ in walker.entries(query.prefix, query.start_after))
    return paginate(entries, query, lambda key: engine.load_listed(bucket, key), walker.skip_to)


def _keys(walker: TreeWalker, prefix: str, marker: str) -> Iterator[str]:
    for key, _ in walker.entries(prefix, marker, inclusive=True):
        yield key


def list_versions(engine: ObjectEngine, bucket: str, query: VersionListQuery) -> VersionListPage:
    layout = engine.layout
    data_walker = TreeWalker(layout.bucket_dir(bucket))
    store_walker = TreeWalker(layout.versions_root(bucket), versions=True)
    # as ListObjects does: an empty page that is not truncated (no marker to go on from)
    if query.max_keys <= 0:
        return VersionListPage(versions=(), common_prefixes=(), is_truncated=False)
    # inclusive of the key marker itself: versions after version_id_marker may remain on it
    marker = query.key_marker
    merged = heapq.merge(_keys(data_walker, query.prefix, marker), _keys(store_walker, query.prefix, marker))

    out: list[ObjectInfo] = []
    prefixes: list[str] = []
    max_keys = query.max_keys
    last_key: str | None = None
    last_vid: str | None = None
    previous: str | None = None
    truncated = False
    for key in merged:
        if key == previous:
            continue
        previous = key
        if key < query.key_marker or (key == query.key_marker and not query.version_id_marker):
            continue
        group = common_prefix_of(key, query.prefix, query.delimiter)
        if group is not None:
            if (prefixes and prefixes[-1] == group) or group <= query.key_marker:
                continue
            if len(out) + len(prefixes) >= max_keys:
                truncated = True
                break
            prefixes.append(group)
            last_key, last_vid = group, None
            continue
        key_versions = _versions_of(engine, bucket, key)
        if key == query.key_marker:
            ids = [info.version_id or "null" for info in key_versions]
            if query.version_id_marker not in ids:
                continue
            key_versions = key_versions[ids.index(query.version_id_marker) + 1 :]
        for info in key_versions:
            if len(out) + len(prefixes) >= max_keys:
                truncated = True
                break
            out.append(info)
            last_key, last_vid = key, info.version_id or "null"
        if truncated:
            break
    return VersionListPage(
        versions=tuple(out),
        common_prefixes=tuple(prefixes),
        is_truncated=truncated,
        next_key_marker=last_key if truncated else None,
        next_version_id_marker=last_vid if truncated else None,
    )


def _versions_of(engine: ObjectEngine, bucket: str, key: str) -> list[ObjectInfo]:
    """Every version of one key, newest first, the first flagged latest."""
    kp = engine.paths(bucket, key)
    found: list[ObjectInfo] = []
    # the key may come from the version-store walk: its data path was not walked, so check for symlinks
    plain = engine.load_listed(bucket, key, walked=False)
    if plain is not None:
        # ListObjectVersions names a never-versioned object "null" (contract kit; GET/HEAD keep None)
        found.append(plain if plain.version_id else attrs.evolve(plain, version_id=NULL_VERSION))
    for entry in versions.entries(kp.vdir):
        record = versions.read(kp.vdir, entry)
        if record is not None:
            found.append(metadata.record_to_info(key, record, is_latest=not found))
    return found
