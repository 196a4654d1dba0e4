"""S3 Block Public Access for one bucket (PutPublicAccessBlock): the stored settings and where they apply.

* BlockPublicAcls: a request that sets a public canned ACL (``public-read``, ``public-read-write``,
  ``authenticated-read``) on the bucket or an object is refused with 403 AccessDenied;
* IgnorePublicAcls: anonymous requests no longer get what the bucket's public canned ACL granted;
* BlockPublicPolicy: PutBucketPolicy with a public policy (an Allow to every principal, with no condition) is
  refused with 403 AccessDenied;
* RestrictPublicBuckets: a bucket policy's Allow statements no longer grant anonymous requests anything (its
  Deny statements still apply; see ``S3Api._policy_verdict``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smarts3.adapters.http import xml as s3xml
from smarts3.domain import policy
from smarts3.domain.errors import AccessDenied

if TYPE_CHECKING:
    from smarts3.entrypoints.s3.api import S3Api

PUBLIC_ACCESS_BLOCK_KIND = "publicAccessBlock"
#: canned ACLs S3 counts as public (grants to AllUsers or AuthenticatedUsers)
PUBLIC_CANNED_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
_BLOCKED = "Access Denied because public access is blocked for this bucket (Block Public Access)."


async def settings(api: S3Api, bucket: str) -> dict[str, bool]:
    """The bucket's Block Public Access settings; all False when it has none."""
    document = await api.buckets.get_config(bucket, PUBLIC_ACCESS_BLOCK_KIND)
    if document is None:
        return dict.fromkeys(s3xml.PUBLIC_ACCESS_BLOCK_FIELDS, False)
    return s3xml.parse_public_access_block(document)


async def check_acl(api: S3Api, bucket: str, acl: str | None) -> None:
    """Refuse setting a public canned ACL on ``bucket`` or its objects when BlockPublicAcls is on."""
    if acl is not None and acl.strip().lower() in PUBLIC_CANNED_ACLS:
        if (await settings(api, bucket))["BlockPublicAcls"]:
            raise AccessDenied(_BLOCKED)


async def check_policy(api: S3Api, bucket: str, document: bytes) -> None:
    """Refuse a public bucket policy when BlockPublicPolicy is on."""
    if is_public_policy(document) and (await settings(api, bucket))["BlockPublicPolicy"]:
        raise AccessDenied(_BLOCKED)


async def ignores_public_acls(api: S3Api, bucket: str) -> bool:
    return (await settings(api, bucket))["IgnorePublicAcls"]


def is_public_policy(document: bytes) -> bool:
    """True when a statement allows every principal (``"*"`` or ``{"AWS": "*"}``) without any condition, the
    simplest of the cases S3 calls public."""
    return any(
        statement.get("Effect") == "Allow"
        and not statement.get("Condition")
        and policy.names_everyone(statement.get("Principal"))
        for statement in policy.statements(document)
    )
