"""Request bodies as the payload bytes: aws-chunked decoding, chunk/trailer signatures, payload hashes.

S3: "Signature Calculations for the Authorization Header: Transferring Payload in Multiple Chunks (Chunked
Upload) (AWS Signature Version 4)" and its trailer variant ("... Including Trailing Headers"). The wire form:

    hex-size[;chunk-signature=sig]\\r\\n <size bytes> \\r\\n   ...repeated...
    0[;chunk-signature=sig]\\r\\n [name:value\\r\\n]* [x-amz-trailer-signature:sig\\r\\n] \\r\\n

The decoder is a push parser fed whatever pieces ASGI delivers (boundaries fall anywhere, including inside a
size line or a CRLF). Payload bytes are yielded as they arrive; each chunk's signature is checked when its last
byte has been seen, and every check (signatures, decoded length, trailers, truncation) raises from the
iterator *before* it ends. A consumer that commits only once the iterator is exhausted (the storage layer's
build step) therefore never commits unverified or truncated data. Memory use is bounded by one size line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Final

from smarts3.adapters.auth.request import (
    PAYLOAD_SHA256,
    PAYLOAD_STREAMING_SIGNED,
    PAYLOAD_STREAMING_SIGNED_TRAILER,
    STREAMING_MODES,
    AuthResult,
)
from smarts3.adapters.auth.sigv4 import EMPTY_SHA256, HEX64
from smarts3.domain.errors import (
    BadDigest,
    IncompleteBody,
    InvalidArgument,
    InvalidDigest,
    InvalidRequest,
    S3Error,
    SignatureDoesNotMatch,
    XAmzContentSHA256Mismatch,
)

PAYLOAD_ALGORITHM: Final = "AWS4-HMAC-SHA256-PAYLOAD"
TRAILER_ALGORITHM: Final = "AWS4-HMAC-SHA256-TRAILER"
TRAILER_SIGNATURE: Final = "x-amz-trailer-signature"
#: longest size line / trailer line accepted (a signed size line is ~90 bytes)
MAX_LINE: Final = 4096
MAX_TRAILERS: Final = 64

_HEX_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}\Z")
_HEX_SIG = re.compile(rb"[0-9a-fA-F]{64}\Z")
_TRAILER_NAME = re.compile(rb"[A-Za-z0-9!#$%&'*+\-.^_`|~]+\Z")

_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


def _malformed(detail: str) -> S3Error:
    return InvalidRequest(f"Malformed aws-chunked body: {detail}")


class ChunkedDecoder:
    """Push parser for aws-chunked bodies; :meth:`feed` returns payload pieces, :meth:`finish` ends it.

    With ``signing_key`` set, chunk signatures (and, with ``trailer_signed``, the trailer signature) are
    verified, chaining from ``seed_signature`` (the request's own signature).
    """

    __slots__ = (
        "_amz_date",
        "_buf",
        "_chunk_hash",
        "_chunk_sig",
        "_decoded_length",
        "_expected_trailers",
        "_key",
        "_prev_sig",
        "_remaining",
        "_scope",
        "_signed",
        "_state",
        "_trailer_lines",
        "_trailer_sig",
        "_trailer_signed",
        "total",
        "trailers",
    )

    def __init__(
        self,
        *,
        signing_key: bytes | None = None,
        scope: str | None = None,
        seed_signature: str | None = None,
        amz_date: str | None = None,
        signed: bool = False,
        trailer_signed: bool = False,
        decoded_length: int | None = None,
        expected_trailers: frozenset[str] = frozenset(),
    ) -> None:
        self._key = signing_key
        self._scope = scope or ""
        self._amz_date = amz_date or ""
        self._prev_sig = (seed_signature or "").lower()
        # Signature lines are required when the mode is signed; they are verified only with a key.
        self._signed = signed
        self._trailer_signed = trailer_signed
        self._decoded_length = decoded_length
        self._expected_trailers = expected_trailers
        self._state = _SIZE
        self._buf = bytearray()
        self._remaining = 0
        self._chunk_hash: hashlib._Hash | None = None
        self._chunk_sig: bytes | None = None
        self._trailer_lines: list[tuple[str, str]] = []
        self._trailer_sig: str | None = None
        #: payload bytes decoded so far
        self.total = 0
        #: trailing headers (lower-case names), complete once :attr:`done`
        self.trailers: dict[str, str] = {}

    @property
    def done(self) -> bool:
        return self._state == _DONE

    # -- feeding --------------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[bytes]:
        """Consume the next piece of the wire body; return the payload bytes it completes (maybe none)."""
        out: list[bytes] = []
        pos = 0
        n = len(data)
        while pos < n:
            state = self._state
            if state == _DATA:
                take = min(self._remaining, n - pos)
                piece = data if take == n else data[pos : pos + take]
                if self._chunk_hash is not None:
                    self._chunk_hash.update(piece)
                out.append(piece)
                pos += take
                self._remaining -= take
                if not self._remaining:
                    self._end_of_chunk_data()
                continue
            if state == _DONE:
                raise _malformed("data after the final chunk")
            # line-oriented states: size line, CRLF after data, trailer lines
            room = MAX_LINE - len(self._buf)
            end = data.find(b"\n", pos, pos + room)
            if end < 0:
                if n - pos >= room:
                    raise _malformed("chunk header line too long")
                self._buf += data[pos:]
                break
            if self._buf:
                self._buf += data[pos : end + 1]
                line = bytes(self._buf)
                self._buf.clear()
            else:
                line = data[pos : end + 1]
            pos = end + 1
            self._line(line)
        return out

    def finish(self) -> None:
        """The wire body ended: raise IncompleteBody unless the final chunk (and trailers) were complete."""
        if self._state == _DONE:
            return
        if self._state == _TRAILER and not self._buf:
            # Some SDKs omit the blank line that closes the trailer section; everything else was complete.
            self._end_trailers()
            return
        raise IncompleteBody("The request body terminated unexpectedly")

    # -- lines ----------------------------------------------------------------------------------------------
    def _line(self, line: bytes) -> None:
        if not line.endswith(b"\r\n"):
            raise _malformed("lines must end with CRLF")
        content = line[:-2]
        state = self._state
        if state == _SIZE:
            self._size_line(content)
        elif state == _DATA_END:
            if content:
                raise _malformed("chunk data is longer than its declared size")
            self._state = _SIZE
        else:  # _TRAILER
            if content:
                self._trailer_line(content)
            else:
                self._end_trailers()

    def _size_line(self, content: bytes) -> None:
        size_text, sep, ext = content.partition(b";")
        if not _HEX_SIZE.match(size_text):
            raise InvalidArgument(
                "Invalid chunk size in aws-chunked body",
                extra={"ArgumentName": "chunk-size", "ArgumentValue": size_text[:32].decode("latin-1")},
            )
        size = int(size_text, 16)
        sig: bytes | None = None
        if sep:
            for param in ext.split(b";"):
                name, _, value = param.partition(b"=")
                if name.strip() == b"chunk-signature":
                    sig = value.strip()
        if self._signed:
            if sig is None or not _HEX_SIG.match(sig):
                raise SignatureDoesNotMatch("The chunk signature is missing or malformed.")
            self._chunk_sig = sig.lower()
        self.total += size
        if self._decoded_length is not None and self.total > self._decoded_length:
            raise InvalidRequest(
                "The aws-chunked body carries more data than x-amz-decoded-content-length declares."
            )
        if size == 0:
            if self._signed:
                self._verify_chunk(EMPTY_SHA256)
            self._state = _TRAILER
            return
        self._remaining = size
        self._chunk_hash = hashlib.sha256() if (self._signed and self._key is not None) else None
        self._state = _DATA

    def _end_of_chunk_data(self) -> None:
        if self._signed:
            digest = self._chunk_hash.hexdigest() if self._chunk_hash is not None else ""
            self._verify_chunk(digest)
        self._chunk_hash = None
        self._state = _DATA_END

    def _verify_chunk(self, payload_hash: str) -> None:
        """S3: chunk string to sign = PAYLOAD-algorithm, date, scope, previous signature, hash(""), hash(data)."""
        sig = (self._chunk_sig or b"").decode("ascii")
        if self._key is not None:
            sts = (
                f"{PAYLOAD_ALGORITHM}\n{self._amz_date}\n{self._scope}\n{self._prev_sig}\n"
                f"{EMPTY_SHA256}\n{payload_hash}"
            )
            expected = hmac.digest(self._key, sts.encode("ascii"), "sha256").hex()
            if not hmac.compare_digest(expected, sig):
                raise SignatureDoesNotMatch(extra={"StringToSign": sts, "SignatureProvided": sig})
        self._prev_sig = sig

    def _trailer_line(self, content: bytes) -> None:
        name_b, sep, value_b = content.partition(b":")
        name_b = name_b.strip()
        if not sep or not _TRAILER_NAME.match(name_b):
            raise _malformed("trailer lines must be name:value")
        if len(self._trailer_lines) >= MAX_TRAILERS:
            raise _malformed("too many trailing headers")
        name = name_b.decode("ascii").lower()
        value = value_b.strip().decode("latin-1")
        if name == TRAILER_SIGNATURE:
            self._trailer_sig = value
        else:
            self._trailer_lines.append((name, value))
            self.trailers[name] = value

    def _end_trailers(self) -> None:
        if self._trailer_signed:
            self._verify_trailer()
        missing = self._expected_trailers.difference(self.trailers)
        if missing:
            raise InvalidRequest(
                f"The trailing header(s) {', '.join(sorted(missing))} declared in x-amz-trailer were not sent."
            )
        if self._decoded_length is not None and self.total != self._decoded_length:
            raise IncompleteBody(
                "The aws-chunked body carries less data than x-amz-decoded-content-length declares."
            )
        self._state = _DONE

    def _verify_trailer(self) -> None:
        """S3: trailer string to sign = TRAILER-algorithm, date, scope, previous signature, hash(trailers)."""
        provided = self._trailer_sig
        if provided is None:
            raise SignatureDoesNotMatch("The x-amz-trailer-signature trailing header is missing.")
        if self._key is None:
            return
        orders = [self._trailer_lines]
        if len(self._trailer_lines) > 1:
            orders.append(sorted(self._trailer_lines))
        first = ""
        for lines in orders:
            canonical = "".join(f"{n}:{v}\n" for n, v in lines).encode("latin-1")
            sts = (
                f"{TRAILER_ALGORITHM}\n{self._amz_date}\n{self._scope}\n{self._prev_sig}\n"
                f"{hashlib.sha256(canonical).hexdigest()}"
            )
            first = first or sts
            expected = hmac.new(self._key, sts.encode("ascii"), hashlib.sha256).hexdigest()
            if hmac.compare_digest(expected.encode("ascii"), provided.lower().encode("utf-8", "replace")):
                return
        raise SignatureDoesNotMatch(extra={"StringToSign": first, "SignatureProvided": provided})


class DecodedBody:
    """The request payload as an async iterator of bytes; raises from the iterator when the body is bad.

    ``trailers`` is filled once the iterator is exhausted; ``decoded_length`` is the declared payload size
    of an aws-chunked body (``x-amz-decoded-content-length``), or ``None``.
    """

    def __init__(
        self,
        source: AsyncIterator[bytes],
        *,
        decoder: ChunkedDecoder | None = None,
        expected_sha256: str | None = None,
        expected_md5: bytes | None = None,
        decoded_length: int | None = None,
    ) -> None:
        self._source = source
        self._decoder = decoder
        self._expected_sha256 = expected_sha256
        self._expected_md5 = expected_md5
        self.trailers: dict[str, str] = {}
        self.decoded_length = decoded_length

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._decoder is None and self._expected_sha256 is None and self._expected_md5 is None:
            return self._source.__aiter__()  # nothing to check: hand the ASGI stream straight through
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        sha = hashlib.sha256() if self._expected_sha256 is not None else None
        md5 = hashlib.md5() if self._expected_md5 is not None else None
        decoder = self._decoder
        updaters: list[Callable[[bytes], None]] = [h.update for h in (sha, md5) if h is not None]
        async for piece in self._source:
            if decoder is None:
                for update in updaters:
                    update(piece)
                yield piece
                continue
            for out in decoder.feed(piece):
                for update in updaters:
                    update(out)
                yield out
        if decoder is not None:
            decoder.finish()
            self.trailers = decoder.trailers
        if sha is not None and self._expected_sha256 is not None:
            computed = sha.hexdigest()
            if computed != self._expected_sha256:
                raise XAmzContentSHA256Mismatch(
                    extra={
                        "ClientComputedContentSHA256": self._expected_sha256,
                        "S3ComputedContentSHA256": computed,
                    }
                )
        if md5 is not None and md5.digest() != self._expected_md5:
            raise BadDigest(
                extra={
                    "ExpectedDigest": base64.b64encode(self._expected_md5 or b"").decode("ascii"),
                    "CalculatedDigest": base64.b64encode(md5.digest()).decode("ascii"),
                }
            )


def _content_encodings(headers: Mapping[str, str]) -> list[str]:
    return [t.strip().lower() for t in headers.get("content-encoding", "").split(",") if t.strip()]


def is_aws_chunked(result: AuthResult, headers: Mapping[str, str]) -> bool:
    """True when the body is aws-chunked framed (STREAMING-* payload, or ``Content-Encoding: aws-chunked``).

    A body signed by its own SHA-256 (``x-amz-content-sha256: <hex>``) is the object's bytes as they are: a
    client that merely labels it ``aws-chunked`` (S3 strips the label) is not sending chunk framing.
    """
    return _chunked(result.payload_mode in STREAMING_MODES, result.payload_mode == PAYLOAD_SHA256, headers)


def declares_aws_chunked(headers: Mapping[str, str]) -> bool:
    """``is_aws_chunked`` from the headers alone, before authentication (for the payload's declared length)."""
    payload = headers.get("x-amz-content-sha256", "")
    return _chunked(payload.startswith("STREAMING-"), HEX64.match(payload) is not None, headers)


def _chunked(streaming: bool, self_hashed: bool, headers: Mapping[str, str]) -> bool:
    return streaming or (not self_hashed and "aws-chunked" in _content_encodings(headers))


def stored_content_encoding(headers: Mapping[str, str]) -> str | None:
    """The Content-Encoding to store with the object: the header minus ``aws-chunked`` (S3 drops it)."""
    kept = [
        t.strip()
        for t in headers.get("content-encoding", "").split(",")
        if t.strip() and t.strip().lower() != "aws-chunked"
    ]
    return ",".join(kept) if kept else None


def parse_decoded_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("x-amz-decoded-content-length")
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit() or not value.isascii():
        raise InvalidArgument(
            "x-amz-decoded-content-length must be a non-negative integer",
            extra={"ArgumentName": "x-amz-decoded-content-length", "ArgumentValue": value},
        )
    return int(value)


def parse_content_md5(headers: Mapping[str, str]) -> bytes | None:
    """The 16-byte digest from ``Content-MD5``; InvalidDigest when it is not base64 of 16 bytes."""
    value = headers.get("content-md5")
    if value is None:
        return None
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidDigest() from None
    if len(digest) != 16:
        raise InvalidDigest()
    return digest


def decode_body(
    result: AuthResult,
    headers: Mapping[str, str],
    body: AsyncIterator[bytes],
    *,
    verify_content_md5: bool = False,
) -> DecodedBody:
    """Wrap the ASGI body stream so iterating it yields the verified payload.

    - aws-chunked (``x-amz-content-sha256: STREAMING-*`` and/or ``Content-Encoding: aws-chunked``): decoded,
      chunk and trailer signatures verified when the request was SigV4-signed, trailers collected, total
      checked against ``x-amz-decoded-content-length``.
    - ``payload_mode == "sha256"``: the bytes pass through and are hashed; XAmzContentSHA256Mismatch is
      raised by the iterator instead of ending.
    - otherwise the ASGI stream is returned as is (no per-piece overhead).

    ``verify_content_md5`` also checks ``Content-MD5`` (BadDigest); leave it off when the storage layer
    compares it against the MD5 it computes for the ETag anyway.
    """
    expected_md5 = parse_content_md5(headers) if verify_content_md5 else None
    if not is_aws_chunked(result, headers):
        return DecodedBody(
            body,
            expected_sha256=result.expected_sha256 if result.payload_mode == PAYLOAD_SHA256 else None,
            expected_md5=expected_md5,
        )
    decoded_length = parse_decoded_length(headers)
    mode = result.payload_mode
    signed = mode in (PAYLOAD_STREAMING_SIGNED, PAYLOAD_STREAMING_SIGNED_TRAILER)
    declared = frozenset(t.strip().lower() for t in headers.get("x-amz-trailer", "").split(",") if t.strip())
    decoder = ChunkedDecoder(
        signing_key=result.signing_key if signed else None,
        scope=result.scope,
        seed_signature=result.seed_signature,
        amz_date=result.amz_date,
        signed=signed,
        trailer_signed=mode == PAYLOAD_STREAMING_SIGNED_TRAILER,
        decoded_length=decoded_length,
        expected_trailers=declared,
    )
    return DecodedBody(body, decoder=decoder, expected_md5=expected_md5, decoded_length=decoded_length)
