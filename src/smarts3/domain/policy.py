"""Bucket policies, as they apply to anonymous requests: does a policy explicitly allow or deny an action?

smarts3 has one owner, so the one kind of principal a policy can speak about that smarts3 can tell apart is
"everyone" (``"Principal": "*"`` or ``{"AWS": "*"}``): anonymous clients. The owner's own requests are not
judged by policies. A statement applies to an anonymous request when its principal is everyone (or its
``NotPrincipal`` is not), its Action/NotAction matches the S3 action (``s3:GetObject``...), its
Resource/NotResource matches the ARN (``arn:aws:s3:::bucket/key``) and every condition holds. IAM's order: an
explicit Deny wins over any Allow; neither leaves the decision to the ACLs.

Conditions: the string operators (``StringEquals``, ``StringNotEquals``, ``StringLike``, ``StringNotLike``,
case-insensitive variants), ``Bool``, ``IpAddress``/``NotIpAddress``, ``Null``, and the ``...IfExists`` forms,
over the keys the caller supplies (``aws:SecureTransport``, ``aws:SourceIp``, ``aws:Referer``,
``aws:UserAgent``, ``s3:prefix``...). A statement with an operator or key outside those never applies: an unknown
condition neither grants nor denies.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal

from smarts3.domain.errors import MalformedPolicy

Verdict = Literal["allow", "deny"] | None

#: the S3 actions a policy names, by smarts3's operation name (the access log's REST.<METHOD>.<THING>)
ACTIONS: Mapping[str, str] = {
    "REST.GET.OBJECT": "s3:GetObject",
    "REST.HEAD.OBJECT": "s3:GetObject",
    "REST.GET.OBJECT_ATTRIBUTES": "s3:GetObject",
    "REST.PUT.OBJECT": "s3:PutObject",
    "REST.COPY.OBJECT": "s3:PutObject",
    "REST.POST.UPLOADS": "s3:PutObject",
    "REST.PUT.PART": "s3:PutObject",
    "REST.POST.UPLOAD": "s3:PutObject",
    "REST.DELETE.OBJECT": "s3:DeleteObject",
    "REST.DELETE.UPLOAD": "s3:AbortMultipartUpload",
    "REST.GET.UPLOAD": "s3:ListMultipartUploadParts",
    "REST.GET.OBJECT_TAGGING": "s3:GetObjectTagging",
    "REST.PUT.OBJECT_TAGGING": "s3:PutObjectTagging",
    "REST.DELETE.OBJECT_TAGGING": "s3:DeleteObjectTagging",
    "REST.GET.BUCKET": "s3:ListBucket",
    "REST.HEAD.BUCKET": "s3:ListBucket",
    "REST.GET.BUCKETVERSIONS": "s3:ListBucketVersions",
    "REST.GET.UPLOADS": "s3:ListBucketMultipartUploads",
    "REST.GET.LOCATION": "s3:GetBucketLocation",
}

_STRING_OPERATORS = {
    "StringEquals": (False, False, True),
    "StringNotEquals": (False, False, False),
    "StringEqualsIgnoreCase": (False, True, True),
    "StringNotEqualsIgnoreCase": (False, True, False),
    "StringLike": (True, False, True),
    "StringNotLike": (True, False, False),
}


class _Unsupported(Exception):
    """A condition this evaluator cannot judge: the statement does not apply."""


_VERSIONS = frozenset({"2008-10-17", "2012-10-17"})
#: what an S3 action name looks like (s3:GetObject, s3:ListBucketVersions...), or one with wildcards
_ACTION = re.compile(
    r"\*|s3:(\*|.*[*?].*|(Get|Put|List|Delete|Abort|Create|Restore|Bypass|Replicate|Update|Describe|Submit"
    r"|Initiate|Pause|Resume|Object)[A-Za-z]*)",
    re.IGNORECASE,
)


def validate(document: bytes, bucket: str) -> None:
    """PutBucketPolicy's checks (S3's MalformedPolicy): a JSON object with a known Version, at least one
    statement, each with Effect Allow or Deny, a principal, S3 actions and resources in this bucket."""
    try:
        policy = json.loads(document)
    except ValueError:
        raise MalformedPolicy() from None
    if not isinstance(policy, dict):
        raise MalformedPolicy()
    version = policy.get("Version")
    if version is not None and version not in _VERSIONS:
        raise MalformedPolicy(f"Invalid policy version: {version}")
    listed = policy.get("Statement")
    if isinstance(listed, dict):
        listed = [listed]
    if not listed or not isinstance(listed, list):
        raise MalformedPolicy("Missing required field Statement")
    own = f"arn:aws:s3:::{bucket}"
    for statement in listed:
        if not isinstance(statement, dict):
            raise MalformedPolicy("Statement is not an object")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise MalformedPolicy(f"Invalid effect: {statement.get('Effect')}")
        if "Principal" not in statement and "NotPrincipal" not in statement:
            raise MalformedPolicy("Missing required field Principal")
        if "NotPrincipal" in statement and statement["Effect"] == "Allow":
            # IAM: "NotPrincipal must be used with "Effect":"Deny". Using it with "Effect":"Allow" is not supported."
            raise MalformedPolicy("Invalid policy syntax.")
        actions = _as_list(statement.get("Action", statement.get("NotAction")))
        if not actions or not all(_ACTION.fullmatch(action) for action in actions):
            raise MalformedPolicy("Policy has invalid action")
        resources = _as_list(statement.get("Resource", statement.get("NotResource")))
        if not resources or not all(_names_bucket(r, own) for r in resources):
            raise MalformedPolicy("Policy has invalid resource")


def _names_bucket(resource: str, own: str) -> bool:
    """A resource a bucket's policy may name: the bucket, its objects, or a wildcard that covers either
    (``arn:aws:s3:::*``, ``arn:aws:s3:::*/*``, ``arn:aws:s3:::my-*``)."""
    if resource == own or resource.startswith((own + "/", own + "*")):
        return True
    prefix = "arn:aws:s3:::"
    if not resource.startswith(prefix) or ("*" not in resource and "?" not in resource):
        return False
    bucket_pattern = resource[len(prefix) :].partition("/")[0]
    return _wildcard(bucket_pattern, own[len(prefix) :], True)


def evaluate(document: bytes, *, action: str, resource: str, context: Mapping[str, str]) -> Verdict:
    """What the policy says about an anonymous request: "deny", "allow", or None (nothing applies)."""
    verdict: Verdict = None
    for statement in statements(document):
        if not _applies(statement, action, resource, context):
            continue
        if statement.get("Effect") == "Deny":
            return "deny"
        if statement.get("Effect") == "Allow":
            verdict = "allow"
    return verdict


@lru_cache(maxsize=256)
def statements(document: bytes) -> tuple[dict[str, Any], ...]:
    """The policy's statements (objects only); none when it is not JSON."""
    try:
        policy = json.loads(document)
    except ValueError:
        return ()
    listed = policy.get("Statement", []) if isinstance(policy, dict) else []
    if isinstance(listed, dict):
        listed = [listed]
    return tuple(statement for statement in listed if isinstance(statement, dict))


def _applies(statement: dict[str, Any], action: str, resource: str, context: Mapping[str, str]) -> bool:
    if "NotPrincipal" in statement:
        if names_everyone(statement["NotPrincipal"]):
            return False
    elif not names_everyone(statement.get("Principal")):
        return False
    if not _matches_field(statement, "Action", action, case_sensitive=False):
        return False
    if not _matches_field(statement, "Resource", resource, case_sensitive=True):
        return False
    try:
        return _conditions_hold(statement.get("Condition") or {}, context)
    except _Unsupported:
        return False


def names_everyone(principal: Any) -> bool:
    """Whether a Principal is everyone: ``"*"`` or ``{"AWS": "*"}`` (or a list holding ``"*"``)."""
    if principal == "*":
        return True
    if isinstance(principal, dict):
        aws = principal.get("AWS")
        return aws == "*" or (isinstance(aws, list) and "*" in aws)
    return False


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value]
    return []


def _matches_field(statement: dict[str, Any], field: str, value: str, *, case_sensitive: bool) -> bool:
    if field in statement:
        return any(_wildcard(pattern, value, case_sensitive) for pattern in _as_list(statement[field]))
    negated = f"Not{field}"
    if negated in statement:
        return not any(_wildcard(pattern, value, case_sensitive) for pattern in _as_list(statement[negated]))
    return False


@lru_cache(maxsize=1024)
def _compiled(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    # IAM wildcards: * any run of characters, ? one character; nothing else is special
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, 0 if case_sensitive else re.IGNORECASE)


def _wildcard(pattern: str, value: str, case_sensitive: bool) -> bool:
    return _compiled(pattern, case_sensitive).fullmatch(value) is not None


def _conditions_hold(conditions: Any, context: Mapping[str, str]) -> bool:
    if not isinstance(conditions, dict):
        raise _Unsupported()
    for operator, tests in conditions.items():
        if not isinstance(tests, dict):
            raise _Unsupported()
        if_exists = operator.endswith("IfExists")
        base = operator.removesuffix("IfExists")
        for key, expected in tests.items():
            wanted = _as_list(expected)
            if base == "Null":
                if (key.lower() not in _lower(context)) != (wanted[:1] == ["true"]):
                    return False
                continue
            present = _lower(context).get(key.lower())
            if present is None:
                if if_exists or base in ("StringNotEquals", "StringNotLike", "StringNotEqualsIgnoreCase"):
                    continue
                if base not in _STRING_OPERATORS and base not in ("Bool", "IpAddress", "NotIpAddress"):
                    raise _Unsupported()
                return False
            if not _test(base, present, wanted):
                return False
    return True


def _lower(context: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in context.items()}


def _test(operator: str, present: str, wanted: list[str]) -> bool:
    if operator in _STRING_OPERATORS:
        like, ignore_case, positive = _STRING_OPERATORS[operator]
        if like:
            hit = any(_wildcard(pattern, present, not ignore_case) for pattern in wanted)
        elif ignore_case:
            hit = present.lower() in (item.lower() for item in wanted)
        else:
            hit = present in wanted
        return hit if positive else not hit
    if operator == "Bool":
        return present.lower() in (item.lower() for item in wanted)
    if operator in ("IpAddress", "NotIpAddress"):
        try:
            address = ipaddress.ip_address(present)
            hit = any(address in ipaddress.ip_network(item, strict=False) for item in wanted)
        except ValueError:
            raise _Unsupported() from None
        return hit if operator == "IpAddress" else not hit
    raise _Unsupported()
