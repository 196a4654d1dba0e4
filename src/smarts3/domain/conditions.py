"""Conditional requests as S3 evaluates them (S3: GetObject/HeadObject/PutObject/CopyObject "conditional")."""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime

import attrs

from smarts3.domain.errors import NoSuchKey, NotModified, PreconditionFailed
from smarts3.domain.models import ObjectInfo


def _etags(header: str) -> list[str]:
    tags = []
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        tags.append(tag.strip('"'))
    return tags


def etag_matches(header: str, etag: str) -> bool:
    tags = _etags(header)
    return "*" in tags or etag in tags


def parse_http_date(value: str | None) -> datetime | None:
    """An RFC 7231 date, or None when absent or unparseable (S3 ignores bad dates)."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return None
    return parsed


def _seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


@attrs.frozen
class ReadConditions:
    """If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since of a GET or HEAD."""

    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: datetime | None = None
    if_unmodified_since: datetime | None = None

    @property
    def empty(self) -> bool:
        return not (self.if_match or self.if_none_match or self.if_modified_since or self.if_unmodified_since)

    def check(self, info: ObjectInfo) -> None:
        """Raise PreconditionFailed (412) or NotModified (304) in S3's order of precedence."""
        modified = _seconds(info.last_modified)
        if self.if_match is not None:
            if not etag_matches(self.if_match, info.etag):
                raise PreconditionFailed(extra={"Condition": "If-Match"})
        elif self.if_unmodified_since is not None and modified > self.if_unmodified_since:
            raise PreconditionFailed(extra={"Condition": "If-Unmodified-Since"})
        if self.if_none_match is not None:
            if etag_matches(self.if_none_match, info.etag):
                raise NotModified(headers={"ETag": info.quoted_etag})
        elif self.if_modified_since is not None and modified <= self.if_modified_since:
            raise NotModified(headers={"ETag": info.quoted_etag})


@attrs.frozen
class CopySourceConditions:
    """x-amz-copy-source-if-*: every failure is 412 PreconditionFailed (S3: CopyObject)."""

    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: datetime | None = None
    if_unmodified_since: datetime | None = None

    def check(self, info: ObjectInfo) -> None:
        modified = _seconds(info.last_modified)
        if self.if_match is not None:
            if not etag_matches(self.if_match, info.etag):
                raise PreconditionFailed(extra={"Condition": "x-amz-copy-source-If-Match"})
        elif self.if_unmodified_since is not None and modified > self.if_unmodified_since:
            raise PreconditionFailed(extra={"Condition": "x-amz-copy-source-If-Unmodified-Since"})
        if self.if_none_match is not None:
            if etag_matches(self.if_none_match, info.etag):
                raise PreconditionFailed(extra={"Condition": "x-amz-copy-source-If-None-Match"})
        elif self.if_modified_since is not None and modified <= self.if_modified_since:
            raise PreconditionFailed(extra={"Condition": "x-amz-copy-source-If-Modified-Since"})


@attrs.frozen
class WriteConditions:
    """If-None-Match: * (create only) and If-Match: "etag" (compare and swap) on PUT and multipart complete.

    Evaluated by storage under the key's lock, so racing writers see a consistent answer.
    """

    if_match: str | None = None
    if_none_match: str | None = None

    @property
    def empty(self) -> bool:
        return self.if_match is None and self.if_none_match is None

    def __call__(self, current: ObjectInfo | None) -> None:
        if self.if_none_match is not None and current is not None:
            if etag_matches(self.if_none_match, current.etag):
                raise PreconditionFailed(extra={"Condition": "If-None-Match"})
        if self.if_match is not None:
            if current is None:
                raise NoSuchKey()
            if not etag_matches(self.if_match, current.etag):
                raise PreconditionFailed(extra={"Condition": "If-Match"})
