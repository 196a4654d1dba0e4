"""One S3 request as handlers see it: parsed scope, resolved bucket and key, the (decoded) body."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs

from smarts3.adapters.http.wire import BodyStream, Receive, Scope
from smarts3.domain.errors import MalformedXML


@attrs.define(slots=True)
class S3Request:
    scope: Scope
    receive: Receive
    method: str
    raw_path: str
    query_string: str
    query: dict[str, str]
    headers: dict[str, str]
    bucket: str | None
    key: str | None
    request_id: str
    remote_addr: str = "-"
    virtual_host: bool = False
    access_key: str | None = None
    #: the raw HTTP body stream (before aws-chunked decoding)
    raw_body: BodyStream | None = None
    #: the payload: decoded from aws-chunked and verified against signatures when auth requires it
    body: Any = None
    operation: str = "-"
    error_code: str | None = None

    def payload(self) -> AsyncIterator[bytes]:
        return self.body.__aiter__()  # type: ignore[no-any-return]

    async def read_payload(self, limit: int = 1024 * 1024) -> bytes:
        parts: list[bytes] = []
        size = 0
        async for chunk in self.body:
            size += len(chunk)
            if size > limit:
                raise MalformedXML("The request body is too large.")
            parts.append(chunk)
        return b"".join(parts)
