"""Browser-based uploads (HTML form POST): the policy's signature, its expiration and its conditions.

S3 API reference, "Authenticating Requests in Browser-Based Uploads Using POST (AWS Signature Version 4)"
and "Creating a POST Policy": the form carries a base64 JSON policy, signed with the SigV4 signing key
(``x-amz-signature``, hex) or, for SigV2, with HMAC-SHA1 of the secret (``signature``, base64). The policy
lists an ``expiration`` and ``conditions`` every other form field must satisfy.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from smarts3.adapters.auth import sigv2
from smarts3.adapters.auth.credentials import CredentialStore, as_store
from smarts3.adapters.auth.sigv4 import ALGORITHM, parse_credential, signing_key
from smarts3.domain.errors import (
    AccessDenied,
    EntityTooLarge,
    EntityTooSmall,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidPolicyDocument,
    S3Error,
    SignatureDoesNotMatch,
)

#: form fields a policy need not mention (S3: "Creating a POST Policy", "Conditions")
_EXEMPT_FIELDS: Final = frozenset({"policy", "x-amz-signature", "signature", "awsaccesskeyid", "file"})
_EXPIRATION = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?Z\Z")


@attrs.frozen
class Condition:
    """One policy condition: ``op`` is ``eq``, ``starts-with`` or ``content-length-range``."""

    op: str
    name: str  # lower-case field name without "$" ("" for content-length-range)
    value: str = ""
    low: int = 0
    high: int = 0
    raw: str = ""  # as S3 prints it in "Policy Condition failed: ..."


@attrs.frozen
class PolicyCheck:
    """A verified POST form: who signed it, and the conditions the HTTP layer must still enforce."""

    access_key: str | None
    conditions: tuple[Condition, ...] = ()
    expiration: str | None = None
    auth_type: str = "anonymous"

    def content_length_range(self) -> tuple[int, int] | None:
        return content_length_range(self.conditions)


def _lower(fields: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in fields.items()}


def _missing_field(name: str) -> S3Error:
    return InvalidArgument(
        f"Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of "
        "the fields.",
        extra={"ArgumentName": name, "ArgumentValue": ""},
    )


def _epoch(now: datetime | float) -> float:
    return now.timestamp() if isinstance(now, datetime) else float(now)


def verify_post_policy(
    fields: Mapping[str, str],
    credentials: Mapping[str, str] | CredentialStore,
    now: datetime | float,
) -> PolicyCheck:
    """Verify the form's signature over its policy, decode the policy and reject it once expired.

    A form without ``policy`` is anonymous (``access_key=None``): the bucket must allow public writes.
    """
    f = _lower(fields)
    store = as_store(credentials)
    policy_b64 = f.get("policy")
    if policy_b64 is None:
        if any(k in f for k in ("x-amz-signature", "signature", "x-amz-credential", "awsaccesskeyid")):
            raise _missing_field("policy")
        return PolicyCheck(access_key=None)
    policy_bytes = policy_b64.encode("utf-8")
    if "x-amz-signature" in f or "x-amz-algorithm" in f or "x-amz-credential" in f:
        for name in ("x-amz-algorithm", "x-amz-credential", "x-amz-signature", "x-amz-date"):
            if name not in f:
                raise _missing_field(name)
        if f["x-amz-algorithm"] != ALGORITHM:
            raise InvalidArgument(
                'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"',
                extra={"ArgumentName": "x-amz-algorithm", "ArgumentValue": f["x-amz-algorithm"]},
            )
        cred = parse_credential(
            f["x-amz-credential"],
            lambda d: InvalidArgument(
                f"Error parsing the X-Amz-Credential parameter; {d}",
                extra={"ArgumentName": "x-amz-credential", "ArgumentValue": f["x-amz-credential"]},
            ),
        )
        access_key = cred.access_key
        secret = store.secret_for(access_key)
        if secret is None:
            raise InvalidAccessKeyId(extra={"AWSAccessKeyId": access_key})
        key = signing_key(secret, cred.date, cred.region, cred.service)
        expected = hmac.new(key, policy_bytes, hashlib.sha256).hexdigest().encode("ascii")
        provided = f["x-amz-signature"]
        ok = hmac.compare_digest(expected, provided.lower().encode("utf-8", "replace"))
        auth_type = "v4-post"
    else:
        for name in ("awsaccesskeyid", "signature"):
            if name not in f:
                raise _missing_field("AWSAccessKeyId" if name == "awsaccesskeyid" else name)
        access_key = f["awsaccesskeyid"]
        secret = store.secret_for(access_key)
        if secret is None:
            raise InvalidAccessKeyId(extra={"AWSAccessKeyId": access_key})
        provided = f["signature"]
        expected_v2 = sigv2.sign(secret, policy_b64)
        ok = hmac.compare_digest(expected_v2.encode("ascii"), provided.encode("utf-8", "replace"))
        auth_type = "v2-post"
    if not ok:
        raise SignatureDoesNotMatch(
            extra={"AWSAccessKeyId": access_key, "StringToSign": policy_b64, "SignatureProvided": provided}
        )
    policy = _decode_policy(policy_b64)
    expiration = policy.get("expiration")
    if not isinstance(expiration, str):
        raise InvalidPolicyDocument("Invalid Policy: Policy missing expiration.")
    expires_at = _parse_expiration(expiration)
    if _epoch(now) > expires_at:
        raise AccessDenied("Invalid according to Policy: Policy expired.")
    conditions = parse_conditions(policy.get("conditions"))
    return PolicyCheck(
        access_key=access_key, conditions=conditions, expiration=expiration, auth_type=auth_type
    )


def _decode_policy(policy_b64: str) -> dict[str, Any]:
    try:
        raw = base64.b64decode(policy_b64.strip(), validate=False)
    except (binascii.Error, ValueError):
        raise InvalidPolicyDocument("Invalid Policy: Invalid Base64 Encoding.") from None
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidPolicyDocument("Invalid Policy: Invalid JSON.") from None
    if not isinstance(doc, dict):
        raise InvalidPolicyDocument("Invalid Policy: Invalid JSON.")
    return doc


def _parse_expiration(value: str) -> float:
    m = _EXPIRATION.match(value)
    if m is None:
        raise InvalidPolicyDocument(f"Invalid Policy: Invalid 'expiration' value: '{value}'")
    y, mo, d, h, mi, s = (int(g) for g in m.groups())
    try:
        datetime(y, mo, d, h, mi, s)
    except ValueError:
        raise InvalidPolicyDocument(f"Invalid Policy: Invalid 'expiration' value: '{value}'") from None
    return float(calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)))


def _bad_condition(raw: Any) -> S3Error:
    return InvalidPolicyDocument(f"Invalid Policy: Invalid Condition: {json.dumps(raw)}")


def parse_conditions(raw: Any) -> tuple[Condition, ...]:
    """Policy ``conditions``: ``{"name": "v"}``, ``["eq"|"starts-with", "$name", "v"]``,
    ``["content-length-range", min, max]``."""
    if not isinstance(raw, list):
        raise InvalidPolicyDocument("Invalid Policy: Policy missing conditions.")
    out: list[Condition] = []
    for cond in raw:
        if isinstance(cond, dict):
            if not cond:
                # S3: an object condition names a field ({"field": "value"}); {} is malformed
                raise _bad_condition(cond)
            for name, value in cond.items():
                if not isinstance(value, str | int | float) or isinstance(value, bool):
                    raise _bad_condition(cond)
                lname = str(name).lower().removeprefix("$")
                out.append(Condition("eq", lname, str(value), raw=json.dumps(["eq", f"${name}", value])))
        elif isinstance(cond, list) and len(cond) == 3 and isinstance(cond[0], str):
            op = cond[0].lower()
            if op == "content-length-range":
                low, high = cond[1], cond[2]
                try:
                    low_i, high_i = int(low), int(high)
                except (TypeError, ValueError):
                    raise _bad_condition(cond) from None
                if low_i < 0 or high_i < low_i:
                    raise _bad_condition(cond)
                out.append(Condition(op, "", low=low_i, high=high_i, raw=json.dumps(cond)))
            elif op in ("eq", "starts-with"):
                name, value = cond[1], cond[2]
                if not isinstance(name, str) or not name.startswith("$") or not isinstance(value, str):
                    raise _bad_condition(cond)
                out.append(Condition(op, name[1:].lower(), value, raw=json.dumps(cond)))
            else:
                raise _bad_condition(cond)
        else:
            raise _bad_condition(cond)
    return tuple(out)


def content_length_range(conditions: Sequence[Condition]) -> tuple[int, int] | None:
    """The tightest ``content-length-range`` in the policy, or None (enforce while streaming the file)."""
    ranges = [(c.low, c.high) for c in conditions if c.op == "content-length-range"]
    if not ranges:
        return None
    return max(r[0] for r in ranges), min(r[1] for r in ranges)


def _condition_failed(cond: Condition) -> S3Error:
    return AccessDenied(f"Invalid according to Policy: Policy Condition failed: {cond.raw}")


def check_conditions(
    conditions: Sequence[Condition], fields: Mapping[str, str], content_length: int | None
) -> None:
    """Raise unless the form satisfies every condition and every field is covered by one.

    ``fields`` are the form fields plus ``bucket`` (from the URL); pass ``content_length`` of the file part
    when known (or enforce :func:`content_length_range` while streaming). S3: "Creating a POST Policy".
    """
    f = _lower(fields)
    covered: set[str] = set()
    for cond in conditions:
        if cond.op == "content-length-range":
            if content_length is not None:
                if content_length < cond.low:
                    raise EntityTooSmall(
                        extra={"ProposedSize": str(content_length), "MinSizeAllowed": str(cond.low)}
                    )
                if content_length > cond.high:
                    raise EntityTooLarge(
                        extra={"ProposedSize": str(content_length), "MaxSizeAllowed": str(cond.high)}
                    )
            continue
        covered.add(cond.name)
        value = f.get(cond.name)
        if cond.op == "eq":
            if value is None or value != cond.value:
                raise _condition_failed(cond)
        else:  # starts-with
            if value is None:
                if cond.value:
                    raise _condition_failed(cond)
                continue
            parts = [p.strip() for p in value.split(",")] if cond.name == "content-type" else [value]
            if not all(p.startswith(cond.value) for p in parts):
                raise _condition_failed(cond)
    extra = sorted(
        k
        for k in f
        if k not in covered and k not in _EXEMPT_FIELDS and not k.startswith("x-ignore-") and k != "bucket"
    )
    if extra:
        raise AccessDenied(f"Invalid according to Policy: Extra input fields: {', '.join(extra)}")
