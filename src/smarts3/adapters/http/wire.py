"""HTTP wire helpers for the S3 edge: request views over an ASGI scope, body streams, date formats, responses.

Kept free of any framework so the hot object path can run as a bare ASGI callable.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import attrs

from smarts3.domain.errors import IncompleteBody, InvalidArgument, RequestTimeout

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(moment: datetime) -> str:
    """RFC 7231 IMF-fixdate, independent of the process locale."""
    m = moment.astimezone(UTC) if moment.tzinfo is not None else moment
    return (
        f"{_WEEKDAYS[m.weekday()]}, {m.day:02d} {_MONTHS[m.month - 1]} {m.year:04d} "
        f"{m.hour:02d}:{m.minute:02d}:{m.second:02d} GMT"
    )


def iso8601(moment: datetime) -> str:
    m = moment.astimezone(UTC)
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}.{m.microsecond // 1000:03d}Z"


#: request ids: a random per-process prefix and a sequence (unique, and no getrandom syscall per request)
_REQUEST_ID_PREFIX = os.urandom(4).hex().upper()
_REQUEST_SEQUENCE = itertools.count(int.from_bytes(os.urandom(2), "big") << 16)


def new_request_id() -> str:
    return f"{_REQUEST_ID_PREFIX}{next(_REQUEST_SEQUENCE) & 0xFFFFFFFF:08X}"


def host_id(request_id: str) -> str:
    return base64.b64encode(request_id.encode() * 3).decode()


def header_dict(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lower-case names; repeated headers joined with ',' (RFC 9110), latin-1 so bytes round-trip exactly."""
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        if key in headers:
            headers[key] = f"{headers[key]},{text}"
        else:
            headers[key] = text
    return headers


def header_section_size(headers: list[tuple[bytes, bytes]]) -> int:
    """Bytes of the request's header lines as sent: ``name: value`` plus CRLF for each."""
    return sum(map(len, itertools.chain.from_iterable(headers))) + 4 * len(headers)


#: parsed query strings, for presigned URLs used again and again (bounded: cleared when full)
_QUERIES: dict[str, dict[str, str]] = {}
_QUERIES_MAX = 1024
_QUERY_CACHED_LEN = 4096


def parse_query(query_string: str) -> dict[str, str]:
    """First value of each parameter; names without '=' map to ''. '+' means space, as in forms.

    Hand-rolled rather than ``parse_qsl``: it ran on every request and was the single largest line of a
    small GET's profile; only parts that contain ``%`` or ``+`` pay for decoding. A presigned URL is sent again
    by every retry and every user of a shared link, and decoding its credential scope cost ~4.5 us per request:
    results are remembered by query string (each caller gets its own copy)."""
    if not query_string:
        return {}
    hit = _QUERIES.get(query_string)
    if hit is None:
        hit = _parse_query(query_string)
        if len(query_string) <= _QUERY_CACHED_LEN:
            if len(_QUERIES) >= _QUERIES_MAX:
                _QUERIES.clear()
            _QUERIES[query_string] = hit
    return dict(hit)


def _parse_query(query_string: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for part in query_string.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "%" in name or "+" in name:
            name = unquote(name.replace("+", " "), errors="surrogateescape")
        if "%" in value or "+" in value:
            value = unquote(value.replace("+", " "), errors="surrogateescape")
        if name not in result:
            result[name] = value
    return result


def decode_key(raw: str) -> str:
    """Percent-decode a raw path fragment into a key; invalid UTF-8 survives as surrogates (and is refused
    later by key validation)."""
    return unquote(raw, errors="surrogateescape")


@attrs.define(slots=True)
class BodyStream:
    """The request body as an async iterator of chunks, coalesced to at least ``min_chunk`` bytes.

    Raises IncompleteBody when the client disconnects or sends less than Content-Length, RequestTimeout when it
    stays silent longer than ``timeout`` seconds.
    """

    receive: Receive
    content_length: int | None
    timeout: float
    min_chunk: int = 256 * 1024
    received: int = 0
    _done: bool = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    @property
    def finished(self) -> bool:
        """The whole body has been received (possibly zero bytes of it)."""
        return self._done

    async def _next_message(self) -> Message:
        try:
            async with asyncio.timeout(self.timeout):
                return await self.receive()
        except TimeoutError:
            raise RequestTimeout() from None

    async def _iterate(self) -> AsyncIterator[bytes]:
        if self._done:
            return
        pending: list[bytes] = []
        pending_size = 0
        while True:
            message = await self._next_message()
            if message["type"] == "http.disconnect":
                raise IncompleteBody()
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            if chunk:
                self.received += len(chunk)
                if self.content_length is not None and self.received > self.content_length:
                    raise IncompleteBody("The request body is longer than Content-Length.")
                if not more and not pending:
                    self._done = True
                    yield chunk
                    break
                pending.append(chunk)
                pending_size += len(chunk)
            if not more:
                self._done = True
                if pending:
                    yield pending[0] if len(pending) == 1 else b"".join(pending)
                break
            if pending_size >= self.min_chunk:
                yield pending[0] if len(pending) == 1 else b"".join(pending)
                pending = []
                pending_size = 0
        if self.content_length is not None and self.received < self.content_length:
            raise IncompleteBody()

    async def read_all(self, limit: int) -> bytes:
        """Read a small body (XML documents) into memory, refusing more than ``limit`` bytes."""
        parts: list[bytes] = []
        size = 0
        async for chunk in self:
            size += len(chunk)
            if size > limit:
                raise InvalidArgument("The request body is too large.")
            parts.append(chunk)
        return b"".join(parts)

    async def drain(self) -> None:
        """Consume whatever the client still sends, so the connection can be reused."""
        if self._done:
            return
        try:
            async for _ in self:
                pass
        except Exception:  # the body is being discarded anyway
            pass


@attrs.define(slots=True)
class Response:
    """What a handler answers: status, headers, and either bytes or an async chunk iterator."""

    status: int = 200
    headers: list[tuple[bytes, bytes]] = attrs.field(factory=list)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    #: called once the stream is done or abandoned (closes the object reader)
    on_close: Callable[[], Awaitable[None]] | None = None
    #: bytes counted for access logs and metrics
    object_size: int | None = None

    def add(self, name: str, value: str) -> None:
        self.headers.append((name.encode("latin-1"), value.encode("latin-1", "replace")))


XML_CONTENT_TYPE = (b"content-type", b"application/xml")


def xml_response(body: bytes, status: int = 200) -> Response:
    return Response(status=status, headers=[XML_CONTENT_TYPE], body=body)
