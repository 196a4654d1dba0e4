"""``smarts3 user add|ls|rm|rotate``: the credential store file the server reads (``auth.credentialsFile``).

The file is JSON (``{"version": 1, "users": [{"name", "accessKeyId", "secretAccessKey", "created"}]}``), mode
0600, replaced atomically on every change. The server merges it with ``auth.credentials`` at start-up, so
restart (or roll) the server after a change. Secrets come from :func:`secrets.token_urlsafe` and are printed
once, when created or rotated; ``user ls`` never prints them.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import re
import secrets
import string
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from smarts3.entrypoints.admin.common import (
    EXIT_OK,
    EXIT_USAGE,
    AdminError,
    command,
    load_admin_settings,
    print_json,
    settings_parent,
)
from smarts3.entrypoints.config import read_credential_store
from smarts3.entrypoints.settings import CredentialStoreFile, StoredCredential

if TYPE_CHECKING:
    from smarts3.entrypoints.admin.common import Subparsers

_KEY_ALPHABET = string.ascii_uppercase + string.digits
_VALID_KEY = re.compile(r"^[A-Za-z0-9._\-+=@,]{3,128}$")


def new_access_key_id() -> str:
    """20 characters like AWS's, ``SM`` + 18 random upper-case letters and digits."""
    return "SM" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(18))


def new_secret() -> str:
    """40 URL-safe characters (240 random bits)."""
    return secrets.token_urlsafe(30)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def store_path(args: argparse.Namespace) -> Path:
    """``--file``, else ``auth.credentialsFile`` from the settings; a usage error when neither is set."""
    if args.file:
        return Path(args.file)
    settings = load_admin_settings(args)
    if not settings.auth.credentials_file:
        raise AdminError(
            "no credential store configured; allowed: set auth.credentialsFile in the config file "
            "(or SMARTS3_AUTH_CREDENTIALS_FILE), or give --file PATH",
            EXIT_USAGE,
        )
    return Path(settings.auth.credentials_file)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise concurrent ``smarts3 user`` edits of one store (a lock file next to it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_store(path: Path, store: CredentialStoreFile) -> None:
    """Replace the store atomically; the file is created 0600 and never exists with wider permissions."""
    data = msgspec.json.format(msgspec.json.encode(store), indent=2) + b"\n"
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def _find(store: CredentialStoreFile, who: str) -> int:
    """Index of the user with access key id (or else name) ``who``; exit 1 when unknown or ambiguous."""
    for index, user in enumerate(store.users):
        if user.access_key_id == who:
            return index
    named = [i for i, user in enumerate(store.users) if user.name and user.name == who]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise AdminError(f"{len(named)} users are named {who!r}; give the access key id")
    raise AdminError(f"no user with access key id or name {who!r}")


def _print_secret(path: Path, user: StoredCredential, args: argparse.Namespace, verb: str) -> None:
    if args.json:
        print_json({"name": user.name, "accessKeyId": user.access_key_id,
                    "secretAccessKey": user.secret_access_key, "created": user.created, "file": str(path)})
        return
    print(f"{verb} user {user.name or user.access_key_id} in {path}")
    print(f"access key id:     {user.access_key_id}")
    print(f"secret access key: {user.secret_access_key}")
    print("the secret is shown only now; restart the server to load the change", file=sys.stderr)


def _add(args: argparse.Namespace) -> int:
    path = store_path(args)
    access_key = args.access_key or new_access_key_id()
    if not _VALID_KEY.match(access_key):
        raise AdminError(f"--access-key {access_key!r}: allowed: 3-128 letters, digits and ._-+=@,", EXIT_USAGE)
    secret = sys.stdin.readline().strip() if args.secret_stdin else new_secret()
    if not secret:
        raise AdminError("--secret-stdin: read an empty secret", EXIT_USAGE)
    with _locked(path):
        store = read_credential_store(str(path))
        if any(u.access_key_id == access_key for u in store.users):
            raise AdminError(f"access key id {access_key!r} already exists in {path}; use `smarts3 user rotate`")
        user = StoredCredential(access_key_id=access_key, secret_access_key=secret, name=args.name or "",
                                created=_now())
        write_store(path, CredentialStoreFile(version=1, users=[*store.users, user]))
    _print_secret(path, user, args, "added")
    return EXIT_OK


def _ls(args: argparse.Namespace) -> int:
    path = store_path(args)
    store = read_credential_store(str(path))
    if args.json:
        print_json([{"name": u.name, "accessKeyId": u.access_key_id, "created": u.created} for u in store.users])
        return EXIT_OK
    if not store.users:
        print(f"no users in {path}", file=sys.stderr)
    for user in store.users:
        print(f"{user.access_key_id:<24} {user.created:<26} {user.name}")
    return EXIT_OK


def _rm(args: argparse.Namespace) -> int:
    path = store_path(args)
    with _locked(path):
        store = read_credential_store(str(path))
        index = _find(store, args.user)
        removed = store.users[index]
        write_store(path, CredentialStoreFile(version=1, users=[u for i, u in enumerate(store.users) if i != index]))
    if args.json:
        print_json({"accessKeyId": removed.access_key_id, "name": removed.name, "removed": True})
    else:
        print(f"removed user {removed.name or removed.access_key_id} ({removed.access_key_id}) from {path}")
    return EXIT_OK


def _rotate(args: argparse.Namespace) -> int:
    path = store_path(args)
    with _locked(path):
        store = read_credential_store(str(path))
        index = _find(store, args.user)
        users = list(store.users)
        user = msgspec.structs.replace(users[index], secret_access_key=new_secret(), created=_now())
        users[index] = user
        write_store(path, CredentialStoreFile(version=1, users=users))
    _print_secret(path, user, args, "rotated")
    return EXIT_OK


def register(subparsers: Subparsers) -> None:
    where = settings_parent()
    where.add_argument("--file", metavar="PATH",
                       help="credential store file (default: auth.credentialsFile from the settings)")
    parser = subparsers.add_parser(
        "user", help="manage access keys in the credential store file",
        description="Manage the credential store file (auth.credentialsFile) the server merges with "
                    "auth.credentials at start-up. Restart the server after a change.",
    )
    sub = parser.add_subparsers(dest="user_command", metavar="{add,ls,rm,rotate}", required=True)

    add = sub.add_parser("add", parents=[where], help="add a user with a new access key",
                         description="Add a user; prints the access key id and the generated secret once.")
    add.add_argument("name", metavar="NAME", nargs="?", help="a label for the user (optional)")
    add.add_argument("--access-key", metavar="ID", help="access key id to use (default: generated)")
    add.add_argument("--secret-stdin", action="store_true",
                     help="read the secret from the first line of stdin instead of generating one")
    add.set_defaults(handler=command(_add))

    ls = sub.add_parser("ls", parents=[where], help="list users (never secrets)",
                        description="List access key ids, creation times and names.")
    ls.set_defaults(handler=command(_ls))

    rm = sub.add_parser("rm", parents=[where], help="remove a user",
                        description="Remove the user with this access key id (or unique name).")
    rm.add_argument("user", metavar="ACCESS_KEY_ID|NAME")
    rm.set_defaults(handler=command(_rm))

    rotate = sub.add_parser("rotate", parents=[where], help="give a user a new secret",
                            description="Replace the user's secret with a new one and print it once.")
    rotate.add_argument("user", metavar="ACCESS_KEY_ID|NAME")
    rotate.set_defaults(handler=command(_rotate))
