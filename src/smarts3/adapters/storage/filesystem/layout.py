"""Where things live on disk: the reversible key <-> path mapping and every path under ``<root>/.smarts3/``.

Object keys become ordinary relative paths inside the bucket directory, one path component per ``/`` segment.
A segment is stored *plain* when that is safe and unambiguous; otherwise it is *encoded*:

* plain: non-empty, not ``.``/``..``, no ``%``, at most ``PLAIN_MAX`` UTF-8 bytes -> stored as is;
* ``%`` + escaped text: the segment with ``%`` written as ``%25`` and ``+`` as ``%2B`` (empty -> ``%``,
  ``..`` -> ``%..``); a name starting with ``%`` is therefore always an encoded one;
* too long for one file name (255 bytes): the segment is split into fragments, each but the last stored as a
  *continuation directory* ``%+`` + escaped fragment, the last one as a normal plain/encoded name. Reading the
  components back concatenates continuation fragments without a ``/``. So a 1024-byte single-segment key works
  and the path alone always gives the key back (no lookups, no hash collisions).

Every component is non-empty, never ``.``/``..`` and never contains ``/`` or NUL, so a key's path is lexically
inside the bucket directory; symlinks are handled by the callers (open with O_NOFOLLOW, realpath checks).

Metadata trees (sidecars, version store) mirror the same components with a suffix: directories get ``.d``, a
sidecar file ``.m`` and a per-key version directory ``.v``. A file name therefore never equals a directory name
(key ``a`` has sidecar ``a.m``; keys ``a.m/x`` live under directory ``a.m.d``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import quote, unquote

from smarts3.domain.errors import InvalidObjectName

#: plain segments longer than this are encoded; leaves headroom for the ``.d``/``.m`` suffixes (NAME_MAX 255)
PLAIN_MAX = 200
#: an encoded name (with its marker) must fit in this many bytes, else the segment is split
ENCODED_MAX = 200
LOCK_STRIPES = 256
_STRIPES_MEMO = 4096
STATE_DIR = ".smarts3"


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("+", "%2B")


def _unescape(text: str) -> str:
    # only %25 and %2B are ever produced; anything else means the name was not written by us
    out: list[str] = []
    i = 0
    while True:
        j = text.find("%", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        code = text[j + 1 : j + 3]
        if code == "25":
            out.append("%")
        elif code == "2B":
            out.append("+")
        else:
            raise ValueError(f"not an encoded name: {text!r}")
        i = j + 3


def _blen(text: str) -> int:
    return len(text.encode("utf-8"))


def _single(segment: str) -> str | None:
    """The one-component form of a segment, or None when it does not fit in a file name."""
    if segment and segment not in (".", "..") and "%" not in segment and _blen(segment) <= PLAIN_MAX:
        return segment
    encoded = "%" + _escape(segment)
    return encoded if _blen(encoded) <= ENCODED_MAX else None


def encode_segment(segment: str) -> list[str]:
    """Path components for one key segment (usually one; several for over-long segments)."""
    parts: list[str] = []
    rest = segment
    while True:
        single = _single(rest)
        if single is not None:
            parts.append(single)
            return parts
        # greedy fragment on character boundaries, so no fragment cuts a UTF-8 sequence or an escape
        size, cut = 2, 0
        for char in rest:
            width = _blen(_escape(char))
            if size + width > ENCODED_MAX:
                break
            size += width
            cut += 1
        parts.append("%+" + _escape(rest[:cut]))
        rest = rest[cut:]


def decode_component(name: str) -> tuple[str, bool]:
    """(text, is_continuation) for one path component. Raises ValueError for names we never produce."""
    if not name.startswith("%"):
        return name, False
    if name.startswith("%+"):
        return _unescape(name[2:]), True
    return _unescape(name[1:]), False


def check_key_chars(key: str) -> None:
    if "\x00" in key:
        raise InvalidObjectName()
    try:
        key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidObjectName("Object key is not valid UTF-8.") from exc


def key_components(key: str) -> list[str]:
    """The relative path components of ``key``. InvalidObjectName for NUL or invalid UTF-8."""
    check_key_chars(key)
    if not key:
        raise InvalidObjectName("Object key must not be empty.")
    components: list[str] = []
    for segment in key.split("/"):
        components.extend(encode_segment(segment))
    return components


def components_key(components: list[str]) -> str:
    """Inverse of ``key_components``. Raises ValueError when the components are not in canonical form."""
    out: list[str] = []
    for index, name in enumerate(components):
        text, continued = decode_component(name)
        out.append(text)
        if not continued and index < len(components) - 1:
            out.append("/")
    key = "".join(out)
    if key_components(key) != components:
        raise ValueError("non-canonical path")
    return key


def is_canonical_name(name: str) -> bool:
    """Whether a directory entry could have been produced by the encoding (foreign names are skipped)."""
    try:
        text, continued = decode_component(name)
        text.encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        return False
    if "\x00" in text:
        return False
    if continued:
        return name.startswith("%+") and len(text) > 0
    return encode_segment(text) == [name]


def meta_components(components: list[str], leaf_suffix: str) -> list[str]:
    """Components of a metadata tree entry mirroring a key: ``.d`` on directories, ``leaf_suffix`` on the leaf."""
    return [*(c + ".d" for c in components[:-1]), components[-1] + leaf_suffix]


class Layout:
    """Every path the adapter uses, computed from the root. Pure: creates nothing."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))
        self.state = self.root / STATE_DIR
        self.tmp = self.state / "tmp"
        self.locks = self.state / "locks"
        self.buckets_state = self.state / "buckets"
        self.uploads = self.state / "uploads"
        self._root_s = str(self.root)
        self._state_s = str(self.state)
        self._stripes: dict[tuple[str, str], tuple[int, str]] = {}
        #: the (number, lock file path) of every stripe, shared by all the memo's entries
        self._stripe_paths = [(n, f"{self.locks}{os.sep}{n:03d}.lock") for n in range(LOCK_STRIPES)]

    # -- buckets -------------------------------------------------------------------------------------------
    def bucket_dir(self, bucket: str) -> Path:
        return self.root / bucket

    def bucket_dir_str(self, bucket: str) -> str:
        return f"{self._root_s}/{bucket}"

    def bucket_state(self, bucket: str) -> Path:
        return self.buckets_state / bucket

    def bucket_record(self, bucket: str) -> Path:
        return self.bucket_state(bucket) / "bucket.json"

    def bucket_config(self, bucket: str, kind: str) -> Path:
        return self.bucket_state(bucket) / "config" / quote(kind, safe="")

    def meta_root(self, bucket: str) -> Path:
        return self.bucket_state(bucket) / "meta"

    def versions_root(self, bucket: str) -> Path:
        return self.bucket_state(bucket) / "versions"

    def upload_root(self, bucket: str) -> Path:
        return self.uploads / bucket

    # -- objects -------------------------------------------------------------------------------------------
    # string forms: built by concatenation on every request, far cheaper than pathlib joins
    def data_str(self, bucket: str, components: list[str]) -> str:
        return f"{self._root_s}/{bucket}/{'/'.join(components)}"

    def sidecar_str(self, bucket: str, components: list[str]) -> str:
        return f"{self._state_s}/buckets/{bucket}/meta/{'/'.join(meta_components(components, '.m'))}"

    def version_dir_str(self, bucket: str, components: list[str]) -> str:
        return f"{self._state_s}/buckets/{bucket}/versions/{'/'.join(meta_components(components, '.v'))}"

    def data_path(self, bucket: str, components: list[str]) -> Path:
        return self.bucket_dir(bucket).joinpath(*components)

    def sidecar_path(self, bucket: str, components: list[str]) -> Path:
        return self.meta_root(bucket).joinpath(*meta_components(components, ".m"))

    def version_dir(self, bucket: str, components: list[str]) -> Path:
        return self.versions_root(bucket).joinpath(*meta_components(components, ".v"))

    def lock_path(self, bucket: str, key: str) -> Path:
        return Path(self.lock_stripe(bucket, key)[1])

    def lock_stripe(self, bucket: str, key: str) -> tuple[int, str]:
        """The key's lock stripe: its number and its lock file's path. Memoised (bounded): a write asks twice
        (the event loop's gate, then the lock itself), and hot keys are written again and again."""
        hit = self._stripes.get((bucket, key))
        if hit is not None:
            return hit
        digest = hashlib.blake2b(
            f"{bucket}\x00{key}".encode("utf-8", "surrogatepass"), digest_size=4
        ).digest()
        hit = self._stripe_paths[int.from_bytes(digest, "big") % LOCK_STRIPES]
        if len(self._stripes) >= _STRIPES_MEMO:
            self._stripes.clear()
        self._stripes[(bucket, key)] = hit
        return hit


def version_entry_name(seq: int, version_id: str) -> str:
    """Version store entry stem: sortable sequence first so the newest is the last name in sorted order."""
    return f"{seq:020d}-{quote(version_id, safe='')}"


def version_entry_id(stem: str) -> tuple[int, str]:
    """(seq, version id) of a version store entry stem. ValueError for foreign names."""
    seq, _, quoted = stem.partition("-")
    return int(seq), unquote(quoted, errors="strict")
