"""Access control lists: S3's grants, reduced to what one owner and the public groups mean here.

smarts3 has one owner (every credential acts as it), so a grant to a user can only name that owner; what an ACL
changes is what *anonymous* clients may do, through grants to the AllUsers group (READ lists a bucket or reads an
object, WRITE writes and deletes a bucket's objects, FULL_CONTROL both). AuthenticatedUsers and LogDelivery
grants are kept and reported.

An ACL is stored as a short string: a canned ACL's name (``public-read``...) when the grants are exactly that
canned ACL's, otherwise ``grants:`` followed by a JSON list of ``[type, grantee, permission]``. The canned names
are what earlier versions stored, so both forms are read the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import attrs

from smarts3.domain.errors import InvalidArgument, MalformedACLError, UnresolvableGrantByEmailAddress

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY})
PERMISSIONS = frozenset({"FULL_CONTROL", "READ", "WRITE", "READ_ACP", "WRITE_ACP"})
USER = "CanonicalUser"
GROUP = "Group"
EMAIL = "AmazonCustomerByEmail"

#: the group grants a canned ACL adds to the owner's FULL_CONTROL (S3: "Canned ACL")
CANNED_GRANTS: dict[str, tuple[tuple[str, str], ...]] = {
    "public-read": ((ALL_USERS, "READ"),),
    "public-read-write": ((ALL_USERS, "READ"), (ALL_USERS, "WRITE")),
    "authenticated-read": ((AUTHENTICATED_USERS, "READ"),),
}
_GRANTS_PREFIX = "grants:"


@attrs.frozen
class Grant:
    kind: str  # USER, GROUP or EMAIL
    grantee: str  # a canonical user id, a group URI or an e-mail address
    permission: str


def canonical(grants: Sequence[Grant], owner_id: str) -> str:
    """Validate ``grants`` (an AccessControlPolicy or x-amz-grant-* headers) and give their stored form:
    ``private`` or a canned ACL's name when they are exactly one, else the grants themselves."""
    for grant in grants:
        if grant.permission not in PERMISSIONS:
            raise MalformedACLError()
        if grant.kind == EMAIL:
            raise UnresolvableGrantByEmailAddress()
        if grant.kind == USER and grant.grantee != owner_id:
            raise InvalidArgument(
                "Invalid id", extra={"ArgumentName": "CanonicalUser/ID", "ArgumentValue": grant.grantee}
            )
        if grant.kind == GROUP and grant.grantee not in GROUPS:
            raise InvalidArgument(
                "Invalid group uri", extra={"ArgumentName": "Group/URI", "ArgumentValue": grant.grantee}
            )
        if grant.kind not in (USER, GROUP):
            raise MalformedACLError()
    owner_full = Grant(USER, owner_id, "FULL_CONTROL")
    given = set(grants)
    if given == {owner_full}:
        return "private"
    for name, groups in CANNED_GRANTS.items():
        if given == {owner_full, *(Grant(GROUP, uri, permission) for uri, permission in groups)}:
            return name
    unique = list(dict.fromkeys(grants))
    return _GRANTS_PREFIX + json.dumps(
        [[g.kind, g.grantee, g.permission] for g in unique], separators=(",", ":")
    )


def grants_of(stored: str | None, owner_id: str) -> list[Grant]:
    """The grants an ACL holds, in the order GetBucketAcl/GetObjectAcl list them (a canned ACL's group grants
    first, then the owner's FULL_CONTROL; a grant list as it was given)."""
    if stored is not None and stored.startswith(_GRANTS_PREFIX):
        return [Grant(kind, grantee, permission) for kind, grantee, permission in _decode(stored)]
    groups = CANNED_GRANTS.get(stored or "", ())
    return [Grant(GROUP, uri, permission) for uri, permission in groups] + [
        Grant(USER, owner_id, "FULL_CONTROL")
    ]


def _decode(stored: str) -> list[list[str]]:
    try:
        items = json.loads(stored[len(_GRANTS_PREFIX) :])
    except ValueError:
        return []
    return [item for item in items if isinstance(item, list) and len(item) == 3]


def _group_permissions(stored: str | None, groups: Iterable[str]) -> set[str]:
    if stored is None:
        return set()
    wanted = set(groups)
    if stored.startswith(_GRANTS_PREFIX):
        return {permission for kind, uri, permission in _decode(stored) if kind == GROUP and uri in wanted}
    return {permission for uri, permission in CANNED_GRANTS.get(stored, ()) if uri in wanted}


def anyone_reads(stored: str | None) -> bool:
    """Anonymous clients may read (list a bucket, get an object): READ or FULL_CONTROL to AllUsers."""
    return bool(_group_permissions(stored, (ALL_USERS,)) & {"READ", "FULL_CONTROL"})


def anyone_writes(stored: str | None) -> bool:
    """Anonymous clients may write and delete a bucket's objects: WRITE or FULL_CONTROL to AllUsers."""
    return bool(_group_permissions(stored, (ALL_USERS,)) & {"WRITE", "FULL_CONTROL"})


def is_public(stored: str | None) -> bool:
    """Any grant to AllUsers or AuthenticatedUsers: what Block Public Access calls a public ACL."""
    return bool(_group_permissions(stored, (ALL_USERS, AUTHENTICATED_USERS)))


def grants_anything(stored: str) -> bool:
    """Whether an ACL says more than "the owner has FULL_CONTROL" (what a bucket without one has): worth
    keeping. ``private`` and the object-only canned ACLs (bucket-owner-*) do not."""
    return stored in CANNED_GRANTS or stored.startswith(_GRANTS_PREFIX)
