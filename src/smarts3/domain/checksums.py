"""Body digests computed chunk by chunk: the MD5 behind ETags and S3's additional checksums.

CRC32C and CRC64NVME come from awscrt (the AWS Common Runtime the SDKs themselves use), CRC32 from zlib,
SHA-1/SHA-256/MD5 from hashlib. Values are exchanged as S3 does: base64 of the big-endian checksum bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Iterable
from typing import Any

from smarts3.domain.errors import InvalidRequest
from smarts3.domain.models import CHECKSUM_ALGORITHMS

#: bytes of each algorithm's checksum (S3 sends them base64-encoded)
DIGEST_SIZES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}
_CRCS = frozenset({"CRC32", "CRC32C", "CRC64NVME"})


def normalize_algorithm(name: str) -> str:
    """Upper-case S3 checksum algorithm name; InvalidRequest for names S3 does not know."""
    upper = name.strip().upper()
    if upper not in CHECKSUM_ALGORITHMS:
        raise InvalidRequest(
            "Value for x-amz-checksum-algorithm header is invalid.",
        )
    return upper


class _Crc:
    __slots__ = ("_fn", "value")

    def __init__(self, fn: Any) -> None:
        self._fn = fn
        self.value = 0

    def update(self, chunk: bytes) -> None:
        self.value = self._fn(chunk, self.value)


def _crt() -> Any:
    """awscrt's checksums, imported on first use: its native library adds ~7 MiB to the server's resident size,
    and the CRCs clients send by default (CRC32, MD5) do not need it."""
    from awscrt import checksums

    return checksums


def _new_crc(algorithm: str) -> _Crc:
    if algorithm == "CRC32":
        return _Crc(zlib.crc32)
    if algorithm == "CRC32C":
        return _Crc(_crt().crc32c)
    return _Crc(_crt().crc64nvme)


def crc_to_b64(algorithm: str, value: int) -> str:
    return base64.b64encode(value.to_bytes(DIGEST_SIZES[algorithm], "big")).decode("ascii")


def b64_to_crc(value_b64: str) -> int:
    return int.from_bytes(base64.b64decode(value_b64), "big")


def combine_crc(algorithm: str, crc1: int, crc2: int, length2: int) -> int:
    """CRC of A+B from crc(A), crc(B) and len(B): full-object multipart checksums without rereading data."""
    crt = _crt()
    if algorithm == "CRC32":
        return int(crt.combine_crc32(crc1, crc2, length2))
    if algorithm == "CRC32C":
        return int(crt.combine_crc32c(crc1, crc2, length2))
    return int(crt.combine_crc64nvme(crc1, crc2, length2))


def well_formed(algorithm: str, value: str, *, composite: bool = False) -> bool:
    """Whether ``value`` is base64 of ``algorithm``'s checksum size (``composite``: ``<checksum>-<parts>``
    is allowed too, as CompleteMultipartUpload's composite checksums read)."""
    if composite:
        value, dash, parts = value.partition("-")
        if dash and not parts.isdigit():
            return False
    try:
        return len(base64.b64decode(value, validate=True)) == DIGEST_SIZES[algorithm]
    except (binascii.Error, ValueError):
        return False


def digest_b64(algorithm: str, data: bytes) -> str:
    """One-shot checksum of ``data`` in S3's base64 form."""
    hasher = BodyHasher((algorithm,))
    hasher.update(data)
    return hasher.checksum(algorithm)


class BodyHasher:
    """MD5 plus any requested S3 checksums, updated together as each chunk of a body passes."""

    __slots__ = ("_checksums", "_md5", "size")

    def __init__(self, algorithms: Iterable[str] = ()) -> None:
        self._md5 = hashlib.md5()
        self._checksums: dict[str, Any] = {}
        for algorithm in algorithms:
            if algorithm in self._checksums:
                continue
            if algorithm in _CRCS:
                self._checksums[algorithm] = _new_crc(algorithm)
            elif algorithm == "SHA1":
                self._checksums[algorithm] = hashlib.sha1()
            else:
                self._checksums[algorithm] = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._md5.update(chunk)
        self.size += len(chunk)
        for hasher in self._checksums.values():
            hasher.update(chunk)

    @property
    def algorithms(self) -> tuple[str, ...]:
        return tuple(self._checksums)

    def md5_hex(self) -> str:
        return self._md5.hexdigest()

    def md5_digest(self) -> bytes:
        return self._md5.digest()

    def checksum(self, algorithm: str) -> str:
        hasher = self._checksums[algorithm]
        if isinstance(hasher, _Crc):
            return crc_to_b64(algorithm, hasher.value)
        return base64.b64encode(hasher.digest()).decode("ascii")

    def checksums(self) -> dict[str, str]:
        return {algorithm: self.checksum(algorithm) for algorithm in self._checksums}
