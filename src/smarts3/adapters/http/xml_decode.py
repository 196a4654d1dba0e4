"""S3 XML request bodies, parsed safely and validated the way S3 validates them.

Parsing goes through defusedxml with DTDs (hence entities, billion laughs, external references) refused, a size
bound and a nesting bound. Anything that is not the expected document raises ``MalformedXML``, or the more
specific error S3 answers (``InvalidTag``, ``InvalidRequest``, ``InvalidArgument`` ...). Documents are accepted
with or without the S3 namespace. No other exception escapes these functions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from smarts3.adapters.http.xml_encode import escape
from smarts3.adapters.http.xml_models import (
    CorsRule,
    LifecycleExpiration,
    LifecycleFilter,
    LifecycleRule,
    NoncurrentVersionExpiration,
    ObjectLockConfiguration,
)
from smarts3.domain import acl
from smarts3.domain.errors import (
    IllegalVersioningConfigurationException,
    InvalidArgument,
    InvalidRequest,
    InvalidRetentionPeriod,
    InvalidTag,
    MalformedACLError,
    MalformedXML,
    S3Error,
)

__all__ = [
    "DEFAULT_MAX_BODY",
    "MAX_DEPTH",
    "parse_complete_multipart_upload",
    "parse_cors",
    "parse_create_bucket_configuration",
    "parse_delete",
    "parse_legal_hold",
    "parse_lifecycle",
    "parse_object_lock_configuration",
    "parse_public_access_block",
    "parse_retention",
    "parse_tagging",
    "parse_versioning",
]

DEFAULT_MAX_BODY = 1024 * 1024
#: No S3 request document nests deeper than about 6; anything far deeper is hostile.
MAX_DEPTH = 32
MAX_DELETE_OBJECTS = 1000
MAX_CORS_RULES = 100
MAX_LIFECYCLE_RULES = 1000
CORS_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "HEAD"})
_CHECKSUM_ELEMENTS = {
    "ChecksumCRC32": "CRC32",
    "ChecksumCRC32C": "CRC32C",
    "ChecksumCRC64NVME": "CRC64NVME",
    "ChecksumSHA1": "SHA1",
    "ChecksumSHA256": "SHA256",
}
_UINT = re.compile(r"\s*\+?([0-9]{1,18})\s*")
_T = TypeVar("_T")
_P = ParamSpec("_P")


# --- parsing ------------------------------------------------------------------------------------------------


class _DepthLimitedBuilder:
    """A TreeBuilder target that refuses documents nested deeper than ``MAX_DEPTH``."""

    def __init__(self) -> None:
        self._builder = TreeBuilder()
        self._depth = 0

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise MalformedXML()
        return self._builder.start(tag, attrs)

    def end(self, tag: str) -> Element:
        self._depth -= 1
        return self._builder.end(tag)

    def data(self, data: str) -> None:
        self._builder.data(data)

    def close(self) -> Element:
        return self._builder.close()


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _parse(body: bytes | bytearray | memoryview | str, root: str, max_size: int) -> Element:
    """Parse ``body`` and check its root element's local name; every failure becomes MalformedXML."""
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if len(data) > max_size:
        raise MalformedXML("The XML you provided was larger than the maximum allowed size.")
    try:
        parser = DefusedXMLParser(target=_DepthLimitedBuilder(), forbid_dtd=True)
        parser.feed(data)
        element: Element = parser.close()
    except S3Error:
        raise
    except (ParseError, DefusedXmlException, ValueError, UnicodeError, LookupError) as exc:
        raise MalformedXML() from exc
    if _local(element.tag) != root:
        raise MalformedXML()
    return element


def _children(parent: Element, name: str | None = None) -> Iterator[Element]:
    for child in parent:
        if name is None or _local(child.tag) == name:
            yield child


def _text(element: Element) -> str:
    """Text content of a leaf element, exactly as sent (whitespace kept); a leaf with children is malformed."""
    if len(element):
        raise MalformedXML()
    return element.text or ""


def _one(parent: Element, name: str) -> Element | None:
    """The single child called ``name``, None if absent; repeated is malformed."""
    found = None
    for child in _children(parent, name):
        if found is not None:
            raise MalformedXML()
        found = child
    return found


def _opt_text(parent: Element, name: str) -> str | None:
    child = _one(parent, name)
    return None if child is None else _text(child)


def _req_text(parent: Element, name: str) -> str:
    value = _opt_text(parent, name)
    if value is None:
        raise MalformedXML()
    return value


def _uint(text: str) -> int:
    """A non-negative decimal integer, leading/trailing whitespace allowed, anything else malformed."""
    match = _UINT.fullmatch(text)
    if match is None:
        raise MalformedXML()
    return int(match.group(1))


def _opt_uint(parent: Element, name: str) -> int | None:
    value = _opt_text(parent, name)
    return None if value is None else _uint(value)


def _opt_int(parent: Element, name: str) -> int | None:
    """An optional decimal integer that may be negative (the caller judges its range)."""
    value = _opt_text(parent, name)
    if value is None:
        return None
    text = value.strip()
    negative = text.startswith("-")
    magnitude = _uint(text[1:] if negative else text)
    return -magnitude if negative else magnitude


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise MalformedXML()
    return value == "true"


def _datetime(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise MalformedXML() from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _raw(element: Element) -> str:
    """Re-serialise an element without namespaces (for configuration parts that are only echoed back)."""
    name = _local(element.tag)
    inner = "".join(_raw(child) + escape(child.tail or "") for child in element)
    return f"<{name}>{escape(element.text or '')}{inner}</{name}>"


def _guard(parse: Callable[_P, _T]) -> Callable[_P, _T]:
    """Turn any non-S3 exception a validator might hit into MalformedXML (defence in depth)."""

    @functools.wraps(parse)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return parse(*args, **kwargs)
        except S3Error:
            raise
        except Exception as exc:
            raise MalformedXML() from exc

    return guarded


Body = bytes | bytearray | memoryview | str


# --- buckets ------------------------------------------------------------------------------------------------


@_guard
def parse_create_bucket_configuration(body: Body, *, max_size: int = DEFAULT_MAX_BODY) -> str | None:
    """CreateBucketConfiguration -> LocationConstraint, None for an empty body or an empty constraint."""
    if not (body.strip() if isinstance(body, str) else bytes(body).strip()):
        return None
    root = _parse(body, "CreateBucketConfiguration", max_size)
    constraint = _opt_text(root, "LocationConstraint")
    if constraint is None:
        return None
    return constraint.strip() or None


@_guard
def parse_versioning(body: Body, *, max_size: int = DEFAULT_MAX_BODY) -> tuple[str | None, str | None]:
    """VersioningConfiguration -> (Status, MfaDelete). S3: PutBucketVersioning.

    A Status other than Enabled/Suspended or an MfaDelete other than Enabled/Disabled is MalformedXML; a
    document with neither is IllegalVersioningConfigurationException.
    """
    root = _parse(body, "VersioningConfiguration", max_size)
    status = _opt_text(root, "Status")
    mfa_delete = _opt_text(root, "MfaDelete")
    if status is not None and status not in ("Enabled", "Suspended"):
        raise MalformedXML()
    if mfa_delete is not None and mfa_delete not in ("Enabled", "Disabled"):
        raise MalformedXML()
    if status is None and mfa_delete is None:
        raise IllegalVersioningConfigurationException("The Versioning element must be specified")
    return status, mfa_delete


#: PublicAccessBlockConfiguration's four settings, in S3's order
PUBLIC_ACCESS_BLOCK_FIELDS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)


@_guard
def parse_public_access_block(body: Body, *, max_size: int = DEFAULT_MAX_BODY) -> dict[str, bool]:
    """PublicAccessBlockConfiguration (S3: PutPublicAccessBlock): each setting true/false, absent = false."""
    root = _parse(body, "PublicAccessBlockConfiguration", max_size)
    settings: dict[str, bool] = {}
    for name in PUBLIC_ACCESS_BLOCK_FIELDS:
        text = _opt_text(root, name)
        settings[name] = False if text is None else _bool(text)
    return settings


_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
#: a Grantee's xsi:type -> the element naming it
_GRANTEE_ELEMENTS = {acl.USER: "ID", acl.GROUP: "URI", acl.EMAIL: "EmailAddress"}


def parse_access_control_policy(body: Body, *, max_size: int = DEFAULT_MAX_BODY) -> list[acl.Grant]:
    """AccessControlPolicy (S3: PutBucketAcl, PutObjectAcl) -> its grants, each grantee by its xsi:type (or,
    without one, by the element it carries: ID, URI, EmailAddress). A document that is not one is
    MalformedACLError, as in S3."""
    try:
        root = _parse(body, "AccessControlPolicy", max_size)
        listing = _one(root, "AccessControlList")
        if listing is None:
            raise MalformedXML()
        grants: list[acl.Grant] = []
        for grant in _children(listing, "Grant"):
            grantee = _one(grant, "Grantee")
            permission = _req_text(grant, "Permission").strip()
            if grantee is None:
                raise MalformedXML()
            kind = (grantee.get(_XSI_TYPE) or grantee.get("type") or "").rpartition(":")[2]
            if not kind:  # no xsi:type: the element it carries says
                kind = next(
                    (k for k, name in _GRANTEE_ELEMENTS.items() if _one(grantee, name) is not None), ""
                )
            element = _GRANTEE_ELEMENTS.get(kind)
            if element is None:
                raise MalformedXML()
            grants.append(acl.Grant(kind, _req_text(grantee, element).strip(), permission))
        return grants
    except MalformedXML as exc:
        raise MalformedACLError() from exc


# --- objects ------------------------------------------------------------------------------------------------


@_guard
def parse_delete(
    body: Body, *, max_size: int = DEFAULT_MAX_BODY
) -> tuple[bool, list[tuple[str, str | None, str | None]]]:
    """Delete (S3: DeleteObjects) -> (quiet, [(key, version_id, etag)]); ``etag``: the object's optional
    ``ETag`` element, a condition like DeleteObject's If-Match.

    Keys are returned exactly as sent (whitespace and any Unicode kept; an empty Key stays "" for the domain to
    answer per key). No Object, or more than 1000, is MalformedXML.
    """
    root = _parse(body, "Delete", max_size)
    quiet_text = _opt_text(root, "Quiet")
    quiet = False if quiet_text is None else _bool(quiet_text)
    objects: list[tuple[str, str | None, str | None]] = []
    for obj in _children(root, "Object"):
        if len(objects) == MAX_DELETE_OBJECTS:
            raise MalformedXML()
        objects.append((_req_text(obj, "Key"), _opt_text(obj, "VersionId"), _opt_text(obj, "ETag")))
    if not objects:
        raise MalformedXML()
    return quiet, objects


@_guard
def parse_complete_multipart_upload(
    body: Body, *, max_size: int = DEFAULT_MAX_BODY
) -> list[tuple[int, str, dict[str, str]]]:
    """CompleteMultipartUpload -> [(part_number, unquoted etag, {algorithm: checksum})] in document order.

    Order and existence are the domain's to judge (InvalidPartOrder, InvalidPart); here a missing or
    non-numeric PartNumber, a missing ETag or no Part at all is MalformedXML.
    """
    root = _parse(body, "CompleteMultipartUpload", max_size)
    parts: list[tuple[int, str, dict[str, str]]] = []
    for part in _children(root, "Part"):
        number = _uint(_req_text(part, "PartNumber"))
        etag = _req_text(part, "ETag").strip().strip('"')
        checksums: dict[str, str] = {}
        for child in part:
            algorithm = _CHECKSUM_ELEMENTS.get(_local(child.tag))
            if algorithm is not None:
                if algorithm in checksums:
                    raise MalformedXML()
                checksums[algorithm] = _text(child).strip()
        parts.append((number, etag, checksums))
    if not parts:
        raise MalformedXML()
    return parts


@_guard
def parse_tagging(
    body: Body,
    *,
    max_tags: int = 10,
    max_size: int = DEFAULT_MAX_BODY,
) -> list[tuple[str, str]]:
    """Tagging -> [(key, value)] with S3's limits (S3: "Tagging objects"; 10 for objects, 50 for buckets).

    Key 1..128 and value 0..256 Unicode characters, no duplicate keys, no ``aws:`` prefix: InvalidTag.
    """
    root = _parse(body, "Tagging", max_size)
    tag_set = _one(root, "TagSet")
    if tag_set is None:
        raise MalformedXML()
    tags: list[tuple[str, str]] = []
    seen: set[str] = set()
    for tag in _children(tag_set, "Tag"):
        key = _req_text(tag, "Key")
        value = _req_text(tag, "Value")
        if not key or len(key) > 128:
            raise InvalidTag(
                "The TagKey you have provided is too long, max 128"
                if key
                else "The TagKey you have provided is invalid"
            )
        if len(value) > 256:
            raise InvalidTag("The TagValue you have provided is too long, max 256")
        if key.lower().startswith("aws:"):
            raise InvalidTag("Your TagKey cannot be prefixed with aws:")
        if key in seen:
            raise InvalidTag("Cannot provide multiple Tags with the same key")
        seen.add(key)
        tags.append((key, value))
    if len(tags) > max_tags:
        raise InvalidTag(f"Object tags cannot be greater than {max_tags}")
    return tags


# --- CORS ---------------------------------------------------------------------------------------------------


def _check_wildcards(values: tuple[str, ...], element: str) -> None:
    for value in values:
        if value.count("*") > 1:
            raise InvalidRequest(f'{element} "{value}" can not have more than one wildcard.')


@_guard
def parse_cors(body: Body, *, max_size: int = DEFAULT_MAX_BODY) -> list[CorsRule]:
    """CORSConfiguration -> rules (S3: PutBucketCors). At least one and at most 100 rules, each with an
    AllowedOrigin and an AllowedMethod among GET PUT POST DELETE HEAD (else InvalidRequest)."""
    root = _parse(body, "CORSConfiguration", max_size)
    rules: list[CorsRule] = []
    for rule in _children(root, "CORSRule"):
        if len(rules) == MAX_CORS_RULES:
            raise MalformedXML("The number of CORS rules should not exceed allowed limit of 100 rules.")
        origins = tuple(_text(e) for e in _children(rule, "AllowedOrigin"))
        methods = tuple(_text(e) for e in _children(rule, "AllowedMethod"))
        headers = tuple(_text(e) for e in _children(rule, "AllowedHeader"))
        expose = tuple(_text(e) for e in _children(rule, "ExposeHeader"))
        if not origins or not methods:
            raise MalformedXML()
        for method in methods:
            if method not in CORS_METHODS:
                raise InvalidRequest(
                    f"Found unsupported HTTP method in CORS config. Unsupported method is {method}"
                )
        _check_wildcards(origins, "AllowedOrigin")
        _check_wildcards(headers, "AllowedHeader")
        rule_id = _opt_text(rule, "ID")
        if rule_id is not None and len(rule_id) > 255:
            raise InvalidArgument("ID length should not exceed allowed limit of 255")
        rules.append(
            CorsRule(
                allowed_origins=origins,
                allowed_methods=methods,
                allowed_headers=headers,
                expose_headers=expose,
                max_age_seconds=_opt_uint(rule, "MaxAgeSeconds"),
                id=rule_id,
            )
        )
    if not rules:
        raise MalformedXML()
    return rules


# --- lifecycle ----------------------------------------------------------------------------------------------


def _positive(parent: Element, name: str, message: str) -> int | None:
    value = _opt_uint(parent, name)
    if value is not None and value <= 0:
        raise InvalidArgument(message)
    return value


def _tag_pair(tag: Element) -> tuple[str, str]:
    key = _req_text(tag, "Key")
    value = _req_text(tag, "Value")
    if not key or len(key) > 128:
        raise InvalidTag("The TagKey you have provided is invalid")
    if len(value) > 256:
        raise InvalidTag("The TagValue you have provided is invalid")
    return key, value


def _lifecycle_filter(element: Element) -> LifecycleFilter:
    predicates = list(element)
    if not predicates:
        return LifecycleFilter()
    if len(predicates) > 1:
        raise MalformedXML()
    (predicate,) = predicates
    name = _local(predicate.tag)
    if name == "Prefix":
        return LifecycleFilter(prefix=_text(predicate))
    if name == "Tag":
        return LifecycleFilter(tags=(_tag_pair(predicate),))
    if name == "ObjectSizeGreaterThan":
        return LifecycleFilter(object_size_greater_than=_uint(_text(predicate)))
    if name == "ObjectSizeLessThan":
        return LifecycleFilter(object_size_less_than=_uint(_text(predicate)))
    if name != "And":
        raise MalformedXML()
    tags = tuple(_tag_pair(t) for t in _children(predicate, "Tag"))
    if len({k for k, _ in tags}) != len(tags):
        raise InvalidRequest("Duplicate Tag Keys are not allowed.")
    result = LifecycleFilter(
        prefix=_opt_text(predicate, "Prefix"),
        tags=tags,
        object_size_greater_than=_opt_uint(predicate, "ObjectSizeGreaterThan"),
        object_size_less_than=_opt_uint(predicate, "ObjectSizeLessThan"),
        is_and=True,
    )
    known = {"Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan"}
    if any(_local(c.tag) not in known for c in predicate):
        raise MalformedXML()
    greater, less = result.object_size_greater_than, result.object_size_less_than
    if greater is not None and less is not None and greater >= less:
        raise InvalidArgument("ObjectSizeGreaterThan must be less than ObjectSizeLessThan")
    return result


def _midnight(text: str) -> datetime:
    """A lifecycle ``<Date>`` (Expiration or Transition): ISO 8601, at midnight UTC (else InvalidArgument)."""
    date = _datetime(text)
    if (date.hour, date.minute, date.second, date.microsecond) != (0, 0, 0, 0):
        raise InvalidArgument("'Date' must be at midnight GMT")
    return date


def _expiration(element: Element) -> LifecycleExpiration:
    days = _positive(element, "Days", "'Days' for Expiration action must be a positive integer")
    date_text = _opt_text(element, "Date")
    marker_text = _opt_text(element, "ExpiredObjectDeleteMarker")
    if sum(v is not None for v in (days, date_text, marker_text)) != 1:
        raise MalformedXML()
    date = None if date_text is None else _midnight(date_text)
    marker = None if marker_text is None else _bool(marker_text)
    return LifecycleExpiration(days=days, date=date, expired_object_delete_marker=marker)


def _lifecycle_rule(rule: Element) -> LifecycleRule:
    rule_id = _opt_text(rule, "ID")
    if rule_id is not None and len(rule_id) > 255:
        raise InvalidArgument("ID length should not exceed allowed limit of 255")
    status = _req_text(rule, "Status")
    if status not in ("Enabled", "Disabled"):
        raise MalformedXML()
    filter_element = _one(rule, "Filter")
    prefix = _opt_text(rule, "Prefix")
    if (filter_element is None) == (prefix is None):
        raise MalformedXML()
    rule_filter = None if filter_element is None else _lifecycle_filter(filter_element)

    expiration_element = _one(rule, "Expiration")
    expiration = None if expiration_element is None else _expiration(expiration_element)
    noncurrent = None
    if (nve := _one(rule, "NoncurrentVersionExpiration")) is not None:
        noncurrent = NoncurrentVersionExpiration(
            noncurrent_days=_positive(
                nve,
                "NoncurrentDays",
                "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
            ),
            newer_noncurrent_versions=_positive(
                nve, "NewerNoncurrentVersions", "'NewerNoncurrentVersions' must be a positive integer"
            ),
        )
        if noncurrent.noncurrent_days is None:
            raise MalformedXML()
    abort_days = None
    if (abort := _one(rule, "AbortIncompleteMultipartUpload")) is not None:
        abort_days = _positive(
            abort,
            "DaysAfterInitiation",
            "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
        )
        if abort_days is None:
            raise MalformedXML()
    transition_elements = list(_children(rule, "Transition"))
    for transition in transition_elements:
        if (transition_date := _opt_text(transition, "Date")) is not None:
            _midnight(transition_date)
    transitions = tuple(_raw(t) for t in transition_elements)
    noncurrent_transitions = tuple(_raw(t) for t in _children(rule, "NoncurrentVersionTransition"))

    if (
        expiration is None
        and noncurrent is None
        and abort_days is None
        and not transitions
        and not noncurrent_transitions
    ):
        raise InvalidRequest("At least one action needs to be specified in a rule")
    has_tags = rule_filter is not None and bool(rule_filter.tags)
    if has_tags and abort_days is not None:
        raise InvalidRequest("AbortIncompleteMultipartUpload cannot be specified with Tags.")
    if has_tags and expiration is not None and expiration.expired_object_delete_marker is not None:
        raise InvalidRequest("ExpiredObjectDeleteMarker cannot be specified with tags.")
    return LifecycleRule(
        status=status,
        id=rule_id,
        filter=rule_filter,
        prefix=prefix,
        expiration=expiration,
        noncurrent_version_expiration=noncurrent,
        abort_incomplete_multipart_upload_days=abort_days,
        transitions=transitions,
        noncurrent_transitions=noncurrent_transitions,
    )


@_guard
def parse_lifecycle(body: Body, *, max_size: int = DEFAULT_MAX_BODY) -> list[LifecycleRule]:
    """LifecycleConfiguration -> rules (S3: PutBucketLifecycleConfiguration) with S3's validation:
    1..1000 rules, unique IDs, Status Enabled/Disabled, exactly one of Filter or legacy Prefix, at least one
    action, positive day counts, dates at midnight UTC."""
    root = _parse(body, "LifecycleConfiguration", max_size)
    rules: list[LifecycleRule] = []
    ids: set[str] = set()
    for element in _children(root, "Rule"):
        if len(rules) == MAX_LIFECYCLE_RULES:
            raise MalformedXML()
        rule = _lifecycle_rule(element)
        if rule.id:
            if rule.id in ids:
                raise InvalidArgument("Rule ID must be unique. Found same ID for more than one rule")
            ids.add(rule.id)
        rules.append(rule)
    if not rules:
        raise MalformedXML()
    return rules


# --- object lock --------------------------------------------------------------------------------------------

_LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")


@_guard
def parse_object_lock_configuration(
    body: Body, *, max_size: int = DEFAULT_MAX_BODY
) -> ObjectLockConfiguration:
    """ObjectLockConfiguration (S3: PutObjectLockConfiguration). ObjectLockEnabled must be ``Enabled``; a
    DefaultRetention needs a Mode and exactly one of Days/Years, which must be positive (InvalidRetentionPeriod)."""
    root = _parse(body, "ObjectLockConfiguration", max_size)
    enabled = _opt_text(root, "ObjectLockEnabled")
    if enabled is not None and enabled != "Enabled":
        raise MalformedXML()
    rule = _one(root, "Rule")
    if rule is None:
        return ObjectLockConfiguration(enabled=enabled is not None)
    retention = _one(rule, "DefaultRetention")
    if retention is None:
        raise MalformedXML()
    mode = _req_text(retention, "Mode")
    if mode not in _LOCK_MODES:
        raise MalformedXML()
    days = _opt_int(retention, "Days")
    years = _opt_int(retention, "Years")
    if (days is None) == (years is None):
        raise MalformedXML()
    if (days or years or 0) <= 0:
        raise InvalidRetentionPeriod()
    return ObjectLockConfiguration(enabled=enabled is not None, mode=mode, days=days, years=years)


@_guard
def parse_retention(body: Body, *, max_size: int = DEFAULT_MAX_BODY) -> tuple[str | None, datetime | None]:
    """Retention (S3: PutObjectRetention) -> (mode, retain until, UTC). An empty Retention (both absent) is
    allowed: it removes a governance retention when the bypass header is sent."""
    root = _parse(body, "Retention", max_size)
    mode = _opt_text(root, "Mode")
    until_text = _opt_text(root, "RetainUntilDate")
    if (mode is None) != (until_text is None):
        raise MalformedXML()
    if mode is not None and mode not in _LOCK_MODES:
        raise MalformedXML()
    return mode, None if until_text is None else _datetime(until_text)


@_guard
def parse_legal_hold(body: Body, *, max_size: int = DEFAULT_MAX_BODY) -> str:
    """LegalHold (S3: PutObjectLegalHold) -> ``ON`` or ``OFF``."""
    root = _parse(body, "LegalHold", max_size)
    status = _req_text(root, "Status")
    if status not in ("ON", "OFF"):
        raise MalformedXML()
    return status
