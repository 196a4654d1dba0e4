"""Where the authenticator finds a secret for an access key.

smarts3 has static credentials from its settings; the :class:`CredentialStore` protocol lets a test or a
future adapter (a file that is re-read, a database) supply secrets another way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable


@runtime_checkable
class CredentialStore(Protocol):
    """Look up the secret access key for an access key id; ``None`` when the key is unknown."""

    def secret_for(self, access_key: str) -> str | None: ...


class StaticCredentials:
    """An immutable access-key -> secret table, built once at start-up."""

    __slots__ = ("_table",)

    def __init__(self, pairs: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        self._table: dict[str, str] = {str(k): str(v) for k, v in items}

    def secret_for(self, access_key: str) -> str | None:
        return self._table.get(access_key)

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:  # never print secrets
        return f"StaticCredentials(<{len(self._table)} keys>)"


def still_valid(store: CredentialStore, access_key: str | None, secret: str) -> bool:
    """Whether ``access_key`` still has ``secret`` (a cached verification is void once a secret rotates or a key
    is removed; a store that fails to answer voids it too)."""
    try:
        return store.secret_for(access_key or "") == secret
    except Exception:
        return False


def as_store(credentials: Mapping[str, str] | CredentialStore) -> CredentialStore:
    """Accept either a plain mapping or a store, return a store."""
    if isinstance(credentials, Mapping):
        return StaticCredentials(credentials)
    return credentials
