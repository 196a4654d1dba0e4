"""Sidecar records: the JSON kept next to (not inside) object data, and a small cache of parsed sidecars.

A sidecar is ``{"b", "key", "id", "pending", "back", "obj"}``:

* ``obj`` the object's metadata (everything in ObjectInfo but ``key``/``is_latest``, plus ``seq`` for ordering
  versions);
* ``id`` the identity ``[st_ino, st_size, st_mtime_ns]`` of the data file this metadata describes. A data file
  whose identity differs was changed by someone else, or its commit was interrupted (see objects.py);
* ``pending`` the temp file name the data was committed from (rolled forward by readers after a crash);
* ``back`` the name in ``tmp/`` where the commit's exchange left the previous sidecar, so a commit interrupted
  before its data rename rolls *back* to the old metadata instead of pairing old bytes with new metadata.
  (Sidecars of earlier versions carried the previous ``{"id", "obj"}`` inline as ``prev``; still honoured.)

The full key is stored in every record because over-long segments are split in the path (layout.py) and a
future layout may hash them.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any

import cattrs
import msgspec

from smarts3.adapters.storage.filesystem.recycle import hold_shared
from smarts3.domain.models import NewObject, ObjectInfo, PartInfo, UploadInfo

Identity = tuple[int, int, int]

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()

converter = cattrs.Converter()
converter.register_unstructure_hook(datetime, lambda value: value.isoformat())
converter.register_structure_hook(datetime, lambda value, _: datetime.fromisoformat(value))


def identity_of(st: os.stat_result) -> Identity:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def encode(doc: Any) -> bytes:
    return _encoder.encode(doc)


def decode(data: bytes) -> Any:
    return _decoder.decode(data)


def _dt(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def record_from_new(
    new: NewObject, *, size: int, now: datetime, version_id: str | None, seq: int
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "etag": new.etag,
        "size": size,
        "mtime": now.isoformat(),
        "seq": seq,
        "vid": version_id,
        "h": dict(new.headers),
        "um": dict(new.user_metadata),
        "ck": dict(new.checksums),
        "ckt": new.checksum_type,
        "sc": new.storage_class,
        "tags": [list(tag) for tag in new.tags],
        "pc": new.parts_count,
        "lmode": new.lock_mode,
        "luntil": _dt(new.lock_retain_until),
        "lhold": new.legal_hold,
    }
    if new.part_sizes:
        record["ps"] = list(new.part_sizes)
    if new.part_checksums:
        record["pck"] = list(new.part_checksums)
    if new.acl is not None:
        record["acl"] = new.acl
    return record


def marker_record(*, now: datetime, version_id: str | None, seq: int) -> dict[str, Any]:
    return {"etag": "", "size": 0, "mtime": now.isoformat(), "seq": seq, "vid": version_id, "dm": True}


def record_to_info(key: str, record: dict[str, Any], *, is_latest: bool = True) -> ObjectInfo:
    until = record.get("luntil")
    return ObjectInfo(
        key=key,
        size=record["size"],
        etag=record["etag"],
        last_modified=datetime.fromisoformat(record["mtime"]),
        headers=record.get("h") or {},
        user_metadata=record.get("um") or {},
        checksums=record.get("ck") or {},
        checksum_type=record.get("ckt"),
        storage_class=record.get("sc") or "STANDARD",
        tags=tuple((k, v) for k, v in record.get("tags") or ()),
        version_id=record.get("vid"),
        is_delete_marker=bool(record.get("dm")),
        is_latest=is_latest,
        parts_count=record.get("pc"),
        part_sizes=tuple(record.get("ps") or ()),
        part_checksums=tuple(record.get("pck") or ()),
        lock_mode=record.get("lmode"),
        lock_retain_until=None if until is None else datetime.fromisoformat(until),
        legal_hold=record.get("lhold"),
        acl=record.get("acl"),
    )


def info_to_record(info: ObjectInfo, seq: int) -> dict[str, Any]:
    """Inverse of record_to_info (used by update_object after the domain changed tags/retention)."""
    record = record_from_new(
        NewObject(
            etag=info.etag,
            headers=info.headers,
            user_metadata=info.user_metadata,
            checksums=info.checksums,
            checksum_type=info.checksum_type,
            storage_class=info.storage_class,
            tags=info.tags,
            parts_count=info.parts_count,
            part_sizes=info.part_sizes,
            part_checksums=info.part_checksums,
            lock_mode=info.lock_mode,
            lock_retain_until=info.lock_retain_until,
            legal_hold=info.legal_hold,
            acl=info.acl,
        ),
        size=info.size,
        now=info.last_modified,
        version_id=info.version_id,
        seq=seq,
    )
    if info.is_delete_marker:
        record["dm"] = True
    return record


def upload_to_bytes(upload: UploadInfo) -> bytes:
    return encode(converter.unstructure(upload))


def upload_from_bytes(data: bytes) -> UploadInfo:
    return converter.structure(decode(data), UploadInfo)


def part_to_bytes(part: PartInfo, data_name: str) -> bytes:
    doc = converter.unstructure(part)
    doc["file"] = data_name
    return encode(doc)


def part_from_bytes(data: bytes) -> tuple[PartInfo, str]:
    doc = decode(data)
    name = doc.pop("file")
    return converter.structure(doc, PartInfo), name


def read_locked(path: str, attempts: int = 3) -> tuple[tuple[int, int, int], bytes] | None:
    """The bytes of the file at ``path`` and the (ino, mtime_ns, size) they were read under.

    Read under a shared flock: a sidecar a commit has just displaced may be taken for reuse and written again
    (recycle.py), which takes an exclusive one first. Busy means the file we opened is such a one: the path
    holds a newer sidecar now, so open it again. The last attempt reads whatever it finds: under the key's lock
    the file at the path is never one being reused, so a lock held there is another program's. None when the
    read keeps coming up short."""
    for attempt in range(attempts):
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if hold_shared(fd) is False and attempt + 1 < attempts:
                continue
            st = os.fstat(fd)
            data = os.read(fd, st.st_size + 1)
            if len(data) != st.st_size:
                continue  # changed under us (edited by another program): read again
            return (st.st_ino, st.st_mtime_ns, st.st_size), data
        finally:
            os.close(fd)
    return None


class SidecarCache:
    """Parsed sidecars keyed by path and validated by the sidecar file's (ino, mtime_ns, size).

    Listing a page re-reads the same sidecars again and again; a stat is much cheaper than open+read+parse.
    Bounded LRU; thread-safe because listing runs in worker threads.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, tuple[tuple[int, int, int], dict[str, Any]]] = OrderedDict()
        #: ObjectInfo built from a cached record, valid while that very record object is the cached one
        self._infos: dict[str, tuple[dict[str, Any], ObjectInfo]] = {}
        self._lock = threading.Lock()

    def info_for(self, path: str, key: str, record: dict[str, Any]) -> ObjectInfo:
        """``record_to_info`` memoised per sidecar: listing pages and HEADs rebuild the same infos often."""
        hit = self._infos.get(path)
        if hit is not None and hit[0] is record:
            return hit[1]
        info = record_to_info(key, record)
        with self._lock:
            if len(self._infos) >= self._capacity:
                self._infos.clear()
            self._infos[path] = (record, info)
        return info

    def read(self, path: str) -> dict[str, Any] | None:
        """The sidecar at ``path`` (None when absent or unreadable garbage)."""
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            hit = self._items.get(path)
            if hit is not None and hit[0] == stamp:
                self._items.move_to_end(path)
                return hit[1]
        try:
            read = read_locked(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if read is None:
            return None
        stamp, data = read
        try:
            doc = decode(data)
        except msgspec.DecodeError:
            return None
        if not isinstance(doc, dict) or "obj" not in doc:
            return None
        with self._lock:
            self._items[path] = (stamp, doc)
            if len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return doc

    def remember(self, path: str, st: os.stat_result, doc: dict[str, Any]) -> None:
        """Cache ``doc`` as the sidecar at ``path`` whose file has stat ``st`` (a writer that just wrote it)."""
        with self._lock:
            self._infos.pop(path, None)
            self._items[path] = ((st.st_ino, st.st_mtime_ns, st.st_size), doc)
            self._items.move_to_end(path)
            if len(self._items) > self._capacity:
                self._items.popitem(last=False)

    def peek(self, path: str) -> dict[str, Any] | None:
        """The cached sidecar at ``path`` without checking the file (callers validate it another way)."""
        hit = self._items.get(path)
        return None if hit is None else hit[1]

    def forget(self, path: str) -> None:
        with self._lock:
            self._items.pop(path, None)
            self._infos.pop(path, None)
