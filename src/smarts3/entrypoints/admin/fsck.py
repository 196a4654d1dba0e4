"""``smarts3 fsck``: check that metadata sidecars, data files and the version store agree.

Exit status: 0 no problems (or all repaired), 1 problems found (or left after --repair), 2 usage or
configuration error. Notices (files placed by other programs, names the server ignores) do not fail.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from smarts3.entrypoints.admin.common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    command,
    load_admin_settings,
    open_services,
    print_json,
    settings_parent,
)

if TYPE_CHECKING:
    from smarts3.entrypoints.admin.common import Subparsers


def _fsck(args: argparse.Namespace) -> int:
    from smarts3.adapters.storage.filesystem.maintenance import fsck

    services = open_services(load_admin_settings(args))
    found = fsck(services.storage, verify_etags=not args.quick, repair=args.repair)
    if not args.all:
        found = [f for f in found if f.problem or f.kind != "ignored-entry"]
    remaining = [f for f in found if f.problem and not f.repaired]
    if args.json:
        print_json({
            "repair": args.repair,
            "verifiedEtags": not args.quick,
            "problems": len(remaining),
            "findings": [f.to_json() for f in found],
        })
    else:
        for f in found:
            if f.repaired:
                state = "repaired"
            elif f.error:
                state = "FAILED"
            elif f.problem:
                state = "PROBLEM" if f.repairable else "PROBLEM!"
            else:
                state = "notice"
            where = f"{f.bucket}/{f.key}" if f.key else (f.bucket or "")
            error = f" ({f.error})" if f.error else ""
            print(f"{state:<9} {f.kind:<20} {where}  {f.detail}{error}  [{f.path}]")
        hint = ""
        if remaining and not args.repair and any(f.repairable for f in remaining):
            hint = "; run with --repair to fix what is safe to fix"
        print(f"{len(remaining)} problem(s){hint}" if remaining else "no problems found")
    return EXIT_PROBLEMS if remaining else EXIT_OK


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "fsck", parents=[settings_parent()], help="check (and repair) data files against their metadata",
        description="Check every bucket: data files without metadata (notice: indexed on first read), "
                    "unreadable or stale metadata, interrupted commits, size and MD5 ETag mismatches, metadata "
                    "without data, incomplete version-store entries, state of deleted buckets. --repair fixes "
                    "what is safe (it never rewrites object data; ETag mismatches are only reported). Safe "
                    "next to a running server. Exit 0: no problems (left); 1: problems; 2: usage.",
    )
    parser.add_argument("--repair", action="store_true", help="fix what is safe to fix")
    parser.add_argument("--quick", action="store_true", help="skip hashing data files (no ETag check)")
    parser.add_argument("--all", action="store_true", help="also list entries the server ignores (symlinks...)")
    parser.set_defaults(handler=command(_fsck))
