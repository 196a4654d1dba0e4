"""Pure domain rules: ranges, conditions, names, checksums, multipart ETags, continuation tokens."""

from __future__ import annotations

import base64
import hashlib
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smarts3.domain.checksums import BodyHasher, combine_crc, crc_to_b64
from smarts3.domain.conditions import CopySourceConditions, ReadConditions, WriteConditions
from smarts3.domain.errors import (
    InvalidArgument,
    InvalidBucketName,
    InvalidRange,
    KeyTooLongError,
    MetadataTooLarge,
    NoSuchKey,
    NotModified,
    PreconditionFailed,
)
from smarts3.domain.models import ByteRange, ObjectInfo, PartInfo
from smarts3.domain.ranges import parse_range
from smarts3.domain.services.listing import decode_token, encode_token, parse_max_keys
from smarts3.domain.services.multipart import combined_checksum, multipart_etag
from smarts3.domain.validation import check_key, check_metadata_size, is_valid_bucket_name

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
INFO = ObjectInfo(key="k", size=10, etag="abc", last_modified=NOW)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-4", ByteRange(0, 4)),
        ("bytes=5-", ByteRange(5, 9)),
        ("bytes=-3", ByteRange(7, 9)),
        ("bytes=8-100", ByteRange(8, 9)),
        ("bytes=-100", ByteRange(0, 9)),
        (None, None),
        ("bytes=4-2", None),
        ("bytes=a-b", None),
        ("bytes=0-1,3-4", None),
        ("items=0-1", None),
    ],
)
def test_range_header_resolves_like_s3(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 10) == expected


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=10-20", "bytes=-0"])
def test_unsatisfiable_range_is_invalid_range(header: str) -> None:
    with pytest.raises(InvalidRange) as caught:
        parse_range(header, 10)
    assert caught.value.status == 416
    assert caught.value.headers["Content-Range"] == "bytes */10"


def test_any_range_on_empty_object_is_unsatisfiable() -> None:
    with pytest.raises(InvalidRange):
        parse_range("bytes=0-", 0)


@given(st.text(max_size=30), st.integers(min_value=0, max_value=10**6))
def test_range_parser_never_raises_anything_but_invalid_range(header: str, size: int) -> None:
    try:
        result = parse_range(header, size)
    except InvalidRange:
        return
    if result is not None:
        assert 0 <= result.start <= result.end < size


def test_if_match_failure_wins_over_if_none_match() -> None:
    with pytest.raises(PreconditionFailed):
        ReadConditions(if_match='"other"', if_none_match='"abc"').check(INFO)


def test_if_none_match_hit_is_not_modified() -> None:
    with pytest.raises(NotModified):
        ReadConditions(if_none_match='"abc"').check(INFO)


def test_if_match_true_ignores_if_unmodified_since_false() -> None:
    ReadConditions(if_match='"abc"', if_unmodified_since=NOW - timedelta(days=1)).check(INFO)


def test_if_none_match_miss_ignores_if_modified_since() -> None:
    ReadConditions(if_none_match='"zzz"', if_modified_since=NOW + timedelta(days=1)).check(INFO)


def test_if_modified_since_not_modified() -> None:
    with pytest.raises(NotModified):
        ReadConditions(if_modified_since=NOW).check(INFO)
    ReadConditions(if_modified_since=NOW - timedelta(seconds=1)).check(INFO)


def test_if_unmodified_since_fails_when_modified_after() -> None:
    with pytest.raises(PreconditionFailed):
        ReadConditions(if_unmodified_since=NOW - timedelta(seconds=1)).check(INFO)


def test_copy_source_none_match_failure_is_412_not_304() -> None:
    with pytest.raises(PreconditionFailed):
        CopySourceConditions(if_none_match='"abc"').check(INFO)


def test_write_if_none_match_star_refuses_existing_object() -> None:
    WriteConditions(if_none_match="*")(None)
    with pytest.raises(PreconditionFailed):
        WriteConditions(if_none_match="*")(INFO)


def test_write_if_match_is_compare_and_swap() -> None:
    WriteConditions(if_match='"abc"')(INFO)
    with pytest.raises(PreconditionFailed):
        WriteConditions(if_match='"nope"')(INFO)
    with pytest.raises(NoSuchKey):
        WriteConditions(if_match='"abc"')(None)


@pytest.mark.parametrize("name", ["abc", "my-bucket.data", "a1b2", "x" * 63])
def test_valid_bucket_names(name: str) -> None:
    assert is_valid_bucket_name(name)


@pytest.mark.parametrize(
    "name",
    ["ab", "x" * 64, "Upper", "under_score", "-start", "end-", "a..b", "192.168.1.1", "xn--abc", "b-s3alias", "_health"],
)
def test_invalid_bucket_names(name: str) -> None:
    assert not is_valid_bucket_name(name)


def test_key_rules() -> None:
    check_key("a" * 1024)
    with pytest.raises(KeyTooLongError):
        check_key("a" * 1025)
    with pytest.raises(KeyTooLongError):
        check_key("é" * 513)
    with pytest.raises(InvalidArgument):
        check_key("bad\x00key")


def test_metadata_over_2kb_is_refused() -> None:
    check_metadata_size({"a": "x" * 2047})
    with pytest.raises(MetadataTooLarge):
        check_metadata_size({"a": "x" * 2048})


def test_crc32_matches_zlib_and_base64_big_endian() -> None:
    hasher = BodyHasher(["CRC32", "SHA256"])
    hasher.update(b"hello ")
    hasher.update(b"world")
    assert hasher.checksum("CRC32") == base64.b64encode(zlib.crc32(b"hello world").to_bytes(4, "big")).decode()
    assert hasher.checksum("SHA256") == base64.b64encode(hashlib.sha256(b"hello world").digest()).decode()
    assert hasher.md5_hex() == hashlib.md5(b"hello world").hexdigest()


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_crc_combination_equals_crc_of_concatenation(algorithm: str) -> None:
    a, b = b"first part " * 100, b"second part" * 77
    whole, ha, hb = BodyHasher([algorithm]), BodyHasher([algorithm]), BodyHasher([algorithm])
    whole.update(a + b)
    ha.update(a)
    hb.update(b)
    from smarts3.domain.checksums import b64_to_crc

    combined = combine_crc(algorithm, b64_to_crc(ha.checksum(algorithm)), b64_to_crc(hb.checksum(algorithm)), len(b))
    assert crc_to_b64(algorithm, combined) == whole.checksum(algorithm)


def test_multipart_etag_is_md5_of_part_md5s_with_count() -> None:
    parts = [
        PartInfo(part_number=i, size=3, etag=hashlib.md5(data).hexdigest(), last_modified=NOW)
        for i, data in enumerate([b"abc", b"def"], start=1)
    ]
    expected = hashlib.md5(hashlib.md5(b"abc").digest() + hashlib.md5(b"def").digest()).hexdigest() + "-2"
    assert multipart_etag(parts) == expected


def test_full_object_crc_of_parts_equals_crc_of_whole() -> None:
    datas = [b"x" * 1000, b"y" * 10]
    parts = []
    for number, data in enumerate(datas, start=1):
        hasher = BodyHasher(["CRC32"])
        hasher.update(data)
        parts.append(
            PartInfo(part_number=number, size=len(data), etag="0" * 32, last_modified=NOW,
                     checksums={"CRC32": hasher.checksum("CRC32")})
        )
    whole = BodyHasher(["CRC32"])
    whole.update(b"".join(datas))
    assert combined_checksum("CRC32", "FULL_OBJECT", parts) == whole.checksum("CRC32")
    composite = combined_checksum("CRC32", "COMPOSITE", parts)
    assert composite is not None and composite.endswith("-2")


@given(st.text(max_size=200))
def test_continuation_token_round_trips(key: str) -> None:
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return
    assert decode_token(encode_token(key)) == key


@pytest.mark.parametrize("token", ["garbage!!", "dGVzdA", "%%%"])
def test_garbage_continuation_token_is_invalid_argument(token: str) -> None:
    with pytest.raises(InvalidArgument):
        decode_token(token)


def test_max_keys_rules() -> None:
    assert parse_max_keys(None) == 1000
    assert parse_max_keys("5000") == 1000
    assert parse_max_keys("0") == 0
    for bad in ("-1", "abc", "1.5"):
        with pytest.raises(InvalidArgument):
            parse_max_keys(bad)


def test_invalid_bucket_name_error_code() -> None:
    from smarts3.domain.validation import check_bucket_name

    with pytest.raises(InvalidBucketName) as caught:
        check_bucket_name("Bad_Name")
    assert caught.value.status == 400
