"""Range header parsing (RFC 9110 byte ranges, as S3 applies them: one range, clipped to the object)."""

from __future__ import annotations

from smarts3.domain.errors import InvalidRange
from smarts3.domain.models import ByteRange


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """Resolve a ``Range`` header against an object of ``size`` bytes.

    None means "send the whole object" (no header, or one S3 ignores: malformed or multiple ranges).
    InvalidRange (416) when the range starts past the end, or for any range on an empty object.
    """
    if not header:
        return None
    value = header.strip()
    if not value.lower().startswith("bytes="):
        return None
    spec = value[6:].strip()
    if "," in spec:
        return None
    first, sep, last = spec.partition("-")
    first, last = first.strip(), last.strip()
    if not sep or (first and not first.isdigit()) or (last and not last.isdigit()):
        return None
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(size)
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise _unsatisfiable(size)
    return ByteRange(start, min(end, size - 1))


def _unsatisfiable(size: int) -> InvalidRange:
    return InvalidRange(extra={"ActualObjectSize": str(size)}, headers={"Content-Range": f"bytes */{size}"})
