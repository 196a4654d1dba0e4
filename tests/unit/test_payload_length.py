"""The payload length a request declares: x-amz-decoded-content-length counts only for aws-chunked bodies."""

from __future__ import annotations

import pytest

from smarts3.adapters.http.object_headers import content_length
from smarts3.domain.errors import InvalidArgument


def test_an_aws_chunked_body_is_as_long_as_its_decoded_length() -> None:
    headers = {
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "content-length": "5000",
        "x-amz-decoded-content-length": "4096",
    }
    assert content_length(headers) == 4096


def test_a_plain_body_is_as_long_as_content_length_whatever_else_is_sent() -> None:
    # a stray decoded length on a plain body used to become the part's size limit (refused as too long)
    headers = {"x-amz-content-sha256": "UNSIGNED-PAYLOAD", "content-length": "3145728"}
    assert content_length({**headers, "x-amz-decoded-content-length": "2097152"}) == 3145728
    assert content_length({"content-length": "10", "x-amz-decoded-content-length": "3"}) == 10


def test_no_length_is_none_and_a_bad_one_is_invalid_argument() -> None:
    assert content_length({}) is None
    with pytest.raises(InvalidArgument):
        content_length({"content-length": "ten"})


def test_an_aws_chunked_content_encoding_counts_unless_the_body_is_signed_by_its_own_hash() -> None:
    # the rule the aws-chunked decoder applies (chunked.is_aws_chunked)
    headers = {
        "content-encoding": "gzip, aws-chunked",
        "content-length": "5000",
        "x-amz-decoded-content-length": "9",
    }
    assert content_length(headers) == 9
    assert content_length({**headers, "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}) == 9
    assert content_length({**headers, "x-amz-content-sha256": "ab" * 32}) == 5000
