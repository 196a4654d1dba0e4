"""``smarts3 gc``: remove stale multipart uploads and leftover temp files (dry run unless ``--apply``).

Exit status: 0 nothing to collect (or everything collected with --apply), 1 garbage found in a dry run or a
removal failed, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from smarts3.entrypoints.admin.common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    command,
    human_size,
    load_admin_settings,
    open_services,
    parse_duration,
    print_json,
    settings_parent,
)

if TYPE_CHECKING:
    from smarts3.entrypoints.admin.common import Subparsers


def _gc(args: argparse.Namespace) -> int:
    from smarts3.adapters.storage.filesystem.maintenance import collect_garbage

    settings = load_admin_settings(args)
    services = open_services(settings)
    upload_age = args.older_than if args.older_than is not None else settings.multipart.max_age
    found = collect_garbage(services.storage, upload_age=upload_age, temp_age=args.temp_age, apply=args.apply)
    failed = [f for f in found if f.error]
    total = sum(f.size for f in found)
    if args.json:
        print_json({
            "applied": args.apply,
            "uploadAge": upload_age,
            "tempAge": args.temp_age,
            "bytes": total,
            "items": [f.to_json() for f in found],
        })
    else:
        for f in found:
            state = ("removed" if f.repaired else f"FAILED: {f.error}" if f.error else "would remove")
            where = f" {f.bucket}/{f.key}" if f.key else (f" {f.bucket}" if f.bucket else "")
            print(f"{state:<13} {f.kind:<18}{where}  {human_size(f.size)}  {f.detail}  [{f.path}]")
        verb = "removed" if args.apply else "to remove"
        print(f"{len(found)} item(s), {human_size(total)} {verb}"
              + ("" if args.apply or not found else "; run with --apply to remove them"))
    if failed:
        return EXIT_PROBLEMS
    if found and not args.apply:
        return EXIT_PROBLEMS
    return EXIT_OK


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "gc", parents=[settings_parent()], help="remove stale multipart uploads and leftover temp files",
        description="Find multipart uploads older than --older-than, uploads of deleted buckets, part files "
                    "no record refers to, interrupted completes/aborts of dead processes, and temp files of "
                    "dead writers or untouched for --temp-age. Only reports unless --apply. Safe next to a "
                    "running server. Exit 0: nothing (left) to collect; 1: garbage found in a dry run, or a "
                    "removal failed; 2: usage.",
    )
    parser.add_argument("--older-than", type=parse_duration, metavar="AGE",
                        help="multipart uploads initiated longer ago than this are stale, e.g. 36h or 7d "
                             "(default multipart.maxAge)")
    parser.add_argument("--temp-age", type=parse_duration, default=24 * 3600.0, metavar="AGE",
                        help="temp files untouched this long are stale even if their writer runs (default 1d)")
    parser.add_argument("--apply", action="store_true", help="remove what was found (default: dry run)")
    parser.set_defaults(handler=command(_gc))
