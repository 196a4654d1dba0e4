"""aws-chunked bodies: decoding, chunk and trailer signatures, truncation, and payload hashes.

Signed bodies are built per S3's "Transferring Payload in Multiple Chunks" with the signing key of a request
that botocore signed; unsigned-trailer bodies come from botocore's own ``AwsChunkedWrapper``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import itertools
import zlib
from collections.abc import AsyncIterator, Iterable, Sequence
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum
from hypothesis import given, settings
from hypothesis import strategies as st

from smarts3.adapters.auth import Authenticator, AuthResult, RequestView, decode_body, stored_content_encoding
from smarts3.adapters.auth.chunked import ChunkedDecoder
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

AK, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
EMPTY = hashlib.sha256(b"").hexdigest()
PAYLOAD = bytes(range(256)) * 300 + b"tail"  # 76,804 bytes


def signed_request(
    content_sha256: str, decoded_length: int, extra: dict[str, str] | None = None
) -> tuple[AuthResult, dict[str, str]]:
    """A PUT signed by botocore with the given x-amz-content-sha256, authenticated by smarts3."""
    headers = {
        "X-Amz-Content-SHA256": content_sha256,
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(decoded_length),
        **(extra or {}),
    }
    req = AWSRequest("PUT", "http://127.0.0.1:9000/bucket/key", headers=headers)
    SigV4Auth(Credentials(AK, SECRET), "s3", "us-east-1").add_auth(req)
    prepared = req.prepare()
    parts = urlsplit(prepared.url)
    wire = {k.lower(): v for k, v in prepared.headers.items()}
    wire["host"] = parts.netloc
    view = RequestView("PUT", parts.path, parts.query, wire, parts.netloc)
    return Authenticator({AK: SECRET}).authenticate(view), wire


def _chunk_sig(result: AuthResult, prev: str, data: bytes) -> str:
    assert result.signing_key is not None
    sts = (
        f"AWS4-HMAC-SHA256-PAYLOAD\n{result.amz_date}\n{result.scope}\n{prev}\n{EMPTY}\n"
        f"{hashlib.sha256(data).hexdigest()}"
    )
    return hmac.new(result.signing_key, sts.encode(), hashlib.sha256).hexdigest()


def signed_body(
    result: AuthResult, payload: bytes, chunk_size: int = 65536, trailers: Sequence[tuple[str, str]] = ()
) -> bytes:
    """Encode ``payload`` as STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] exactly as the AWS doc describes."""
    assert result.seed_signature is not None and result.signing_key is not None
    prev = result.seed_signature
    out = io.BytesIO()
    chunks = [payload[i : i + chunk_size] for i in range(0, len(payload), chunk_size)] + [b""]
    for chunk in chunks:
        sig = _chunk_sig(result, prev, chunk)
        out.write(b"%x;chunk-signature=%s\r\n" % (len(chunk), sig.encode()))
        if chunk:
            out.write(chunk + b"\r\n")
        prev = sig
    if trailers:
        canonical = "".join(f"{n}:{v}\n" for n, v in trailers).encode()
        sts = (
            f"AWS4-HMAC-SHA256-TRAILER\n{result.amz_date}\n{result.scope}\n{prev}\n"
            f"{hashlib.sha256(canonical).hexdigest()}"
        )
        tsig = hmac.new(result.signing_key, sts.encode(), hashlib.sha256).hexdigest()
        for n, v in trailers:
            out.write(f"{n}:{v}\r\n".encode())
        out.write(f"x-amz-trailer-signature:{tsig}\r\n".encode())
    out.write(b"\r\n")
    return out.getvalue()


def botocore_unsigned_trailer_body(payload: bytes, chunk_size: int = 8192) -> bytes:
    wrapper = AwsChunkedWrapper(
        io.BytesIO(payload),
        checksum_cls=Crc32Checksum,
        checksum_name="x-amz-checksum-crc32",
        chunk_size=chunk_size,
    )
    return bytes(wrapper.read())


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def split(body: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts} | {0, len(body)})
    return [body[a:b] for a, b in itertools.pairwise(points)]


async def _aiter(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    for p in pieces:
        yield p


def run_decode(
    result: AuthResult, headers: dict[str, str], pieces: Iterable[bytes], **kw: bool
) -> tuple[bytes, dict[str, str]]:
    async def go() -> tuple[bytes, dict[str, str]]:
        body = decode_body(result, headers, _aiter(pieces), **kw)
        out = bytearray()
        async for piece in body:
            out += piece
        return bytes(out), body.trailers

    return asyncio.run(go())


# --- signed chunks ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def signed() -> tuple[AuthResult, dict[str, str], bytes]:
    result, headers = signed_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", len(PAYLOAD))
    return result, headers, signed_body(result, PAYLOAD, chunk_size=16384)


def test_signed_chunked_body_decodes_to_the_payload(signed: tuple[AuthResult, dict[str, str], bytes]) -> None:
    result, headers, body = signed
    assert result.payload_mode == "streaming-signed"
    data, trailers = run_decode(result, headers, [body])
    assert data == PAYLOAD and trailers == {}


@given(cuts=st.lists(st.integers(min_value=0), max_size=40))
@settings(max_examples=200, deadline=None)
def test_signed_chunked_body_decodes_whatever_the_piece_boundaries(cuts: list[int]) -> None:
    result, headers = signed_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", len(PAYLOAD))
    body = signed_body(result, PAYLOAD, chunk_size=9000)
    data, _ = run_decode(result, headers, split(body, cuts))
    assert data == PAYLOAD


def test_signed_chunked_body_fed_one_byte_at_a_time() -> None:
    payload = PAYLOAD[:3000]
    r2, h2 = signed_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", len(payload))
    body = signed_body(r2, payload, chunk_size=1000)
    data, _ = run_decode(r2, h2, [body[i : i + 1] for i in range(len(body))])
    assert data == payload


def test_empty_signed_chunked_body() -> None:
    result, headers = signed_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", 0)
    assert run_decode(result, headers, [signed_body(result, b"")]) == (b"", {})


def test_tampered_chunk_data_is_signature_does_not_match(
    signed: tuple[AuthResult, dict[str, str], bytes],
) -> None:
    result, headers, body = signed
    idx = body.index(b"\r\n") + 100
    bad = body[:idx] + bytes([body[idx] ^ 1]) + body[idx + 1 :]
    with pytest.raises(SignatureDoesNotMatch):
        run_decode(result, headers, [bad])


def test_tampered_chunk_signature_is_rejected(signed: tuple[AuthResult, dict[str, str], bytes]) -> None:
    result, headers, body = signed
    idx = body.index(b"chunk-signature=") + len(b"chunk-signature=")
    flipped = b"0" if body[idx : idx + 1] != b"0" else b"1"
    with pytest.raises(SignatureDoesNotMatch):
        run_decode(result, headers, [body[:idx] + flipped + body[idx + 1 :]])


def test_reordered_chunks_are_rejected() -> None:
    payload = b"A" * 100 + b"B" * 100
    result, headers = signed_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", len(payload))
    body = signed_body(result, payload, chunk_size=100)
    first_end = body.index(b"\r\n", body.index(b"\r\n") + 2) + 2
    second_end = body.index(b"\r\n", body.index(b"\r\n", first_end) + 2) + 2
    swapped = body[first_end:second_end] + body[:first_end] + body[second_end:]
    with pytest.raises(SignatureDoesNotMatch):
        run_decode(result, headers, [swapped])


def test_missing_chunk_signature_in_signed_mode_is_rejected() -> None:
    result, headers = signed_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", 3)
    with pytest.raises(SignatureDoesNotMatch):
        run_decode(result, headers, [b"3\r\nabc\r\n0\r\n\r\n"])


def test_every_truncation_of_a_signed_body_is_an_error() -> None:
    payload = b"hello world, " * 10
    result, headers = signed_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", len(payload))
    body = signed_body(result, payload, chunk_size=50)
    for cut in range(len(body) - 2):  # the final CRLF alone may be omitted (see finish())
        with pytest.raises((IncompleteBody, SignatureDoesNotMatch, InvalidRequest)):
            run_decode(result, headers, [body[:cut]])


def test_size_larger_than_the_data_is_incomplete_body() -> None:
    result, headers = signed_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", 3)
    body = signed_body(result, b"abc")
    with pytest.raises((IncompleteBody, InvalidRequest, SignatureDoesNotMatch)):
        run_decode(result, headers, [body.replace(b"3;chunk", b"5;chunk", 1)])


def test_size_smaller_than_the_data_is_rejected() -> None:
    result, headers = signed_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", 3)
    body = signed_body(result, b"abc")
    with pytest.raises((InvalidRequest, SignatureDoesNotMatch)):
        run_decode(result, headers, [body.replace(b"3;chunk", b"2;chunk", 1)])


@pytest.mark.parametrize("size", [b"zz", b"", b"-3", b"0x3", b" 3", b"1" * 17, b"3_0"])
def test_malformed_size_is_invalid_argument(size: bytes) -> None:
    decoder = ChunkedDecoder()
    with pytest.raises(InvalidArgument):
        decoder.feed(size + b"\r\nabc\r\n0\r\n\r\n")


def test_decoded_length_that_disagrees_is_rejected() -> None:
    result, headers = signed_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", 10)
    with pytest.raises(IncompleteBody):
        run_decode(result, headers, [signed_body(result, b"abc")])
    result, headers = signed_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", 2)
    with pytest.raises(InvalidRequest, match="more data"):
        run_decode(result, headers, [signed_body(result, b"abc")])


def test_bad_decoded_length_header_is_invalid_argument(
    signed: tuple[AuthResult, dict[str, str], bytes],
) -> None:
    result, headers, body = signed
    with pytest.raises(InvalidArgument):
        run_decode(result, {**headers, "x-amz-decoded-content-length": "ten"}, [body])


def test_data_after_the_final_chunk_is_rejected(signed: tuple[AuthResult, dict[str, str], bytes]) -> None:
    result, headers, body = signed
    with pytest.raises(InvalidRequest):
        run_decode(result, headers, [body + b"extra"])


# --- signed trailer ---------------------------------------------------------------------------------------
def test_signed_trailer_is_verified_and_returned() -> None:
    crc = crc32_b64(PAYLOAD)
    result, headers = signed_request(
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", len(PAYLOAD), {"X-Amz-Trailer": "x-amz-checksum-crc32"}
    )
    assert result.payload_mode == "streaming-signed-trailer"
    body = signed_body(result, PAYLOAD, 20000, trailers=[("x-amz-checksum-crc32", crc)])
    data, trailers = run_decode(result, headers, split(body, range(0, len(body), 777)))
    assert data == PAYLOAD
    assert trailers == {"x-amz-checksum-crc32": crc}


def test_tampered_trailer_value_is_rejected() -> None:
    result, headers = signed_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", 3)
    body = signed_body(result, b"abc", trailers=[("x-amz-checksum-crc32", crc32_b64(b"abc"))])
    bad = body.replace(crc32_b64(b"abc").encode(), crc32_b64(b"abd").encode())
    with pytest.raises(SignatureDoesNotMatch):
        run_decode(result, headers, [bad])


def test_missing_trailer_signature_is_rejected() -> None:
    result, headers = signed_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", 3)
    body = signed_body(result, b"abc", trailers=[("x-amz-checksum-crc32", crc32_b64(b"abc"))])
    start = body.index(b"x-amz-trailer-signature:")
    bad = body[:start] + body[body.index(b"\r\n", start) + 2 :]
    with pytest.raises(SignatureDoesNotMatch):
        run_decode(result, headers, [bad])


# --- unsigned trailer (botocore's own encoder) ------------------------------------------------------------
@given(
    payload=st.binary(max_size=20000),
    chunk_size=st.integers(min_value=1, max_value=9000),
    cuts=st.lists(st.integers(min_value=0), max_size=30),
)
@settings(max_examples=200, deadline=None)
def test_botocore_unsigned_trailer_body_decodes_at_any_boundaries(
    payload: bytes, chunk_size: int, cuts: list[int]
) -> None:
    body = botocore_unsigned_trailer_body(payload, chunk_size)
    headers = {
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "content-encoding": "aws-chunked",
        "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-decoded-content-length": str(len(payload)),
    }
    result = AuthResult(access_key=AK, payload_mode="streaming-unsigned-trailer")
    data, trailers = run_decode(result, headers, split(body, cuts))
    assert data == payload
    assert trailers == {"x-amz-checksum-crc32": crc32_b64(payload)}


def test_declared_trailer_that_never_arrives_is_rejected() -> None:
    headers = {"x-amz-trailer": "x-amz-checksum-crc32", "content-encoding": "aws-chunked"}
    result = AuthResult(access_key=AK, payload_mode="streaming-unsigned-trailer")
    with pytest.raises(InvalidRequest, match="x-amz-checksum-crc32"):
        run_decode(result, headers, [b"3\r\nabc\r\n0\r\n\r\n"])


def test_trailer_section_without_closing_blank_line_is_accepted() -> None:
    result = AuthResult(access_key=AK, payload_mode="streaming-unsigned-trailer")
    body = b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:" + crc32_b64(b"abc").encode() + b"\r\n"
    assert run_decode(result, {}, [body]) == (b"abc", {"x-amz-checksum-crc32": crc32_b64(b"abc")})


def test_content_encoding_aws_chunked_alone_is_decoded() -> None:
    result = AuthResult(access_key=None, payload_mode="none")
    assert (
        run_decode(result, {"content-encoding": "gzip, aws-chunked"}, [b"3\r\nabc\r\n0\r\n\r\n"])[0] == b"abc"
    )


def test_stored_content_encoding_drops_aws_chunked() -> None:
    assert stored_content_encoding({"content-encoding": "aws-chunked"}) is None
    assert stored_content_encoding({"content-encoding": "aws-chunked,gzip"}) == "gzip"
    assert stored_content_encoding({}) is None


def test_signed_chunks_decode_without_verification_when_auth_is_disabled() -> None:
    result, headers = signed_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", 3)
    body = signed_body(result, b"abc")
    off = Authenticator({}, enabled=False).authenticate(
        RequestView("PUT", "/bucket/key", "", headers, headers["host"])
    )
    assert off.payload_mode == "streaming-signed" and off.signing_key is None
    assert run_decode(off, headers, [body])[0] == b"abc"


# --- fuzzing: only domain errors may escape ---------------------------------------------------------------
@given(st.binary(max_size=400), st.sampled_from(["streaming-signed", "streaming-unsigned-trailer"]))
@settings(max_examples=500, deadline=None)
def test_random_bytes_only_raise_s3_errors(garbage: bytes, mode: str) -> None:
    result = AuthResult(access_key=AK, payload_mode=mode)
    try:
        run_decode(result, {"x-amz-trailer": ""}, [garbage])
    except S3Error:
        pass


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_mutated_signed_body_never_decodes_to_other_bytes(data: st.DataObject) -> None:
    payload = b"0123456789" * 30
    result, headers = signed_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", len(payload))
    body = bytearray(signed_body(result, payload, 128, trailers=[("x-amz-checksum-crc32", "AAAAAA==")]))
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        i = data.draw(st.integers(0, len(body) - 1))
        if op == "flip":
            body[i] ^= data.draw(st.integers(1, 255))
        elif op == "insert":
            body[i:i] = data.draw(st.binary(min_size=1, max_size=4))
        else:
            del body[i]
    cuts = data.draw(st.lists(st.integers(min_value=0), max_size=10))
    try:
        out, trailers = run_decode(result, headers, split(bytes(body), cuts))
    except S3Error:
        return
    assert out == payload and trailers == {"x-amz-checksum-crc32": "AAAAAA=="}


# --- plain bodies -----------------------------------------------------------------------------------------
def test_sha256_payload_is_checked_and_the_error_comes_from_the_iterator_itself() -> None:
    good = AuthResult(
        access_key=AK, payload_mode="sha256", expected_sha256=hashlib.sha256(b"abcdef").hexdigest()
    )
    assert run_decode(good, {}, [b"abc", b"def"])[0] == b"abcdef"

    bad = AuthResult(
        access_key=AK, payload_mode="sha256", expected_sha256=hashlib.sha256(b"other").hexdigest()
    )

    async def consume() -> list[bytes]:
        seen: list[bytes] = []
        body = decode_body(bad, {}, _aiter([b"abc", b"def"]))
        with pytest.raises(XAmzContentSHA256Mismatch) as info:
            async for piece in body:
                seen.append(piece)
        assert info.value.extra["S3ComputedContentSHA256"] == hashlib.sha256(b"abcdef").hexdigest()
        return seen

    assert asyncio.run(consume()) == [b"abc", b"def"]


def test_unsigned_plain_body_is_passed_through_untouched() -> None:
    source = _aiter([b"x"])
    body = decode_body(AuthResult(access_key=AK, payload_mode="unsigned"), {}, source)
    assert body.__aiter__() is source


def test_content_md5_is_verified_when_asked() -> None:
    result = AuthResult(access_key=AK, payload_mode="unsigned")
    md5 = base64.b64encode(hashlib.md5(b"abc").digest()).decode()
    assert run_decode(result, {"content-md5": md5}, [b"abc"], verify_content_md5=True)[0] == b"abc"
    with pytest.raises(BadDigest):
        run_decode(result, {"content-md5": md5}, [b"abd"], verify_content_md5=True)
    with pytest.raises(InvalidDigest):
        run_decode(result, {"content-md5": "not-base64!"}, [b"abc"], verify_content_md5=True)
