"""The version store: archived versions and delete markers of one key, under ``.smarts3/buckets/<b>/versions/``.

Each key has a directory (``.v``) holding, per version, ``<seq>-<version id>.json`` (``{"key", "obj"}``) and
``<seq>-<version id>.data`` (absent for delete markers). ``seq`` grows with every version of a key, so sorting
names gives the order; the newest entry is the latest when no plain file exists.

Archive order is "json first, then data rename": an entry whose data file is missing is incomplete (a crash
between the two steps, while the plain file still holds the version) and is ignored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs

from smarts3.adapters.storage.filesystem import fsutil, metadata
from smarts3.adapters.storage.filesystem.layout import version_entry_id, version_entry_name


@attrs.frozen
class Entry:
    seq: int
    version_id: str
    stem: str

    def json_path(self, vdir: Path) -> Path:
        return vdir / (self.stem + ".json")

    def data_path(self, vdir: Path) -> Path:
        return vdir / (self.stem + ".data")


def entries(vdir: Path | str) -> list[Entry]:
    """Entries of one key, newest first (by name only: no file is opened)."""
    try:
        names = os.listdir(vdir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found: list[Entry] = []
    for name in names:
        if not name.endswith(".json"):
            continue
        stem = name[:-5]
        try:
            seq, version_id = version_entry_id(stem)
        except ValueError:
            continue
        found.append(Entry(seq, version_id, stem))
    found.sort(key=lambda entry: entry.seq, reverse=True)
    return found


def read(vdir: Path, entry: Entry) -> dict[str, Any] | None:
    """The entry's record, or None when incomplete (no data for a non-marker) or unreadable."""
    try:
        with open(entry.json_path(vdir), "rb") as handle:
            doc = metadata.decode(handle.read())
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None
    record: dict[str, Any] = doc["obj"]
    if not record.get("dm") and not os.path.exists(entry.data_path(vdir)):
        return None
    return record


def newest(vdir: Path | str) -> tuple[Entry, dict[str, Any]] | None:
    """The newest complete entry. ``vdir`` may be a str: a key that was never versioned (the usual case on
    every write of a new key) then costs one failed listdir and no Path."""
    found = entries(vdir)
    if not found:
        return None
    vdir = Path(vdir)
    for entry in found:
        record = read(vdir, entry)
        if record is not None:
            return entry, record
    return None


def find(vdir: Path, version_id: str) -> tuple[Entry, dict[str, Any]] | None:
    for entry in entries(vdir):
        if entry.version_id == version_id:
            record = read(vdir, entry)
            if record is not None:
                return entry, record
    return None


def add(vdir: Path, key: str, record: dict[str, Any], data: Path | None, *, fsync: bool, tmp: Path) -> Entry:
    """Archive ``record`` (moving ``data`` in, or a delete marker when None). Json first: see module doc."""
    version_id = record.get("vid") or "null"
    entry = Entry(record["seq"], version_id, version_entry_name(record["seq"], version_id))
    fsutil.make_dirs(vdir, fsync=fsync)  # new version folders must survive a power loss too
    fsutil.atomic_write(
        entry.json_path(vdir), metadata.encode({"key": key, "obj": record}), fsync=fsync, tmp_dir=tmp
    )
    if data is not None:
        fsutil.rename_into(data, entry.data_path(vdir))
        if fsync:
            fsutil.fsync_dir(vdir)
            fsutil.fsync_dir(data.parent)
    return entry


def remove(vdir: Path, entry: Entry, stop: Path) -> None:
    """Remove an entry for good: data first, then json (a json without data is already ignored)."""
    fsutil.unlink_quiet(entry.data_path(vdir))
    fsutil.unlink_quiet(entry.json_path(vdir))
    fsutil.prune_empty_dirs(vdir, stop)
