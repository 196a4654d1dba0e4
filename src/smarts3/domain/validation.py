"""Name and size rules S3 enforces before any storage is touched (S3: "Bucket naming rules", "Object keys")."""

from __future__ import annotations

import re
from collections.abc import Mapping

from smarts3.domain.errors import (
    InvalidArgument,
    InvalidBucketName,
    InvalidObjectName,
    KeyTooLongError,
    MetadataTooLarge,
)

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4_RE = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")
_FORBIDDEN_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_FORBIDDEN_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def is_valid_bucket_name(name: str) -> bool:
    """S3's rules for general purpose buckets: 3-63 of [a-z0-9.-], alphanumeric at both ends, no '..',
    not an IP address, none of the reserved prefixes and suffixes."""
    if not _BUCKET_RE.match(name):
        return False
    if ".." in name or ".-" in name or "-." in name:
        return False
    if _IPV4_RE.match(name):
        return False
    if name.startswith(_FORBIDDEN_PREFIXES) or name.endswith(_FORBIDDEN_SUFFIXES):
        return False
    return True


def check_bucket_name(name: str) -> None:
    if not is_valid_bucket_name(name):
        raise InvalidBucketName(resource=name, extra={"BucketName": name})


def check_key(key: str, max_length: int = 1024) -> None:
    """KeyTooLongError above ``max_length`` UTF-8 bytes; empty keys and NUL bytes are refused."""
    if not key:
        raise InvalidArgument("Object key must not be empty.")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates from undecodable bytes
        raise InvalidObjectName("Object key is not valid UTF-8.") from exc
    if len(encoded) > max_length:
        raise KeyTooLongError(extra={"Size": str(len(encoded)), "MaxSizeAllowed": str(max_length)})
    if "\x00" in key:
        raise InvalidObjectName()


def check_metadata_size(user_metadata: Mapping[str, str], max_size: int = 2048) -> None:
    """S3 counts the UTF-8 bytes of every user-metadata name (without x-amz-meta-) and value."""
    size = sum(len(k.encode("utf-8")) + len(v.encode("utf-8")) for k, v in user_metadata.items())
    if size > max_size:
        raise MetadataTooLarge(extra={"Size": str(size), "MaxSizeAllowed": str(max_size)})
