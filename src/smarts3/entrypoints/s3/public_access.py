"""S3 Block Public Access for one bucket (PutPublicAccessBlock): the stored settings and where they apply.

* BlockPublicAcls: a request that sets a public ACL (``public-read``, ``public-read-write``,
  ``authenticated-read``, or grants to AllUsers / AuthenticatedUsers) on the bucket or an object is refused
  with 403 AccessDenied;
* IgnorePublicAcls: anonymous requests no longer get what the bucket's public canned ACL granted;
* BlockPublicPolicy: PutBucketPolicy with a public policy (an Allow to every principal, with no condition) is
  refused with 403 AccessDenied;
* RestrictPublicBuckets: a bucket policy's Allow statements no longer grant anonymous requests anything (its
  Deny statements still apply; see ``S3Api._policy_verdict``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from smarts3.adapters.http import xml as s3xml
from smarts3.adapters.http.object_headers import canned_acl, header_grants
from smarts3.domain import acl as acls
from smarts3.domain import policy
from smarts3.domain.errors import AccessDenied, InvalidRequest

if TYPE_CHECKING:
    from smarts3.entrypoints.s3.api import S3Api
    from smarts3.entrypoints.s3.request import S3Request

PUBLIC_ACCESS_BLOCK_KIND = "publicAccessBlock"
_BLOCKED = "Access Denied because public access is blocked for this bucket (Block Public Access)."


async def settings(api: S3Api, bucket: str) -> dict[str, bool]:
    """The bucket's Block Public Access settings; all False when it has none."""
    document = await api.buckets.get_config(bucket, PUBLIC_ACCESS_BLOCK_KIND)
    if document is None:
        return dict.fromkeys(s3xml.PUBLIC_ACCESS_BLOCK_FIELDS, False)
    return s3xml.parse_public_access_block(document)


async def check_acl(api: S3Api, bucket: str, acl: str | None) -> None:
    """Refuse setting a public ACL (a canned one or grants to AllUsers / AuthenticatedUsers) on ``bucket`` or
    its objects when BlockPublicAcls is on."""
    if acl is not None and acls.is_public(acl):
        if (await settings(api, bucket))["BlockPublicAcls"]:
            raise AccessDenied(_BLOCKED)


def header_acl(api: S3Api, headers: Mapping[str, str]) -> str | None:
    """The ACL request headers ask for, in its stored form (domain/acl.py): x-amz-acl (any letter case) or the
    x-amz-grant-* headers; None when they name none. An unknown canned ACL, both kinds at once or a grant S3 would
    refuse is an error, raised before anything is changed."""
    canned = canned_acl(headers.get("x-amz-acl"))
    grants = header_grants(headers)
    if grants is None:
        return canned
    if canned is not None:
        raise InvalidRequest("Specifying both Canned ACLs and Header Grants is not allowed")
    return acls.canonical(grants, api.owner_id)


async def requested_acl(api: S3Api, req: S3Request) -> str | None:
    """The ACL a PutBucketAcl / PutObjectAcl asks for: its headers (``header_acl``), else an AccessControlPolicy
    body; None when the request names none."""
    acl = header_acl(api, req.headers)
    document = await req.read_payload()
    if acl is None and document.strip():
        acl = acls.canonical(s3xml.parse_access_control_policy(document), api.owner_id)
    return acl


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
