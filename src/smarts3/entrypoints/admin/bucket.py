"""``smarts3 bucket ls|create|rm``: buckets of the data directory, without a running server."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from smarts3.domain.errors import NoSuchUpload
from smarts3.domain.models import VersionListPage
from smarts3.entrypoints.admin.common import (
    EXIT_OK,
    AdminError,
    Services,
    command,
    load_admin_settings,
    open_services,
    print_json,
    settings_parent,
)

if TYPE_CHECKING:
    from smarts3.entrypoints.admin.common import Subparsers


async def _ls(args: argparse.Namespace) -> int:
    services = open_services(load_admin_settings(args))
    buckets = await services.buckets.list()
    if args.json:
        print_json([
            {"name": b.name, "created": b.created, "region": b.region, "objectLock": b.object_lock_enabled}
            for b in buckets
        ])
        return EXIT_OK
    for bucket in buckets:
        print(f"{bucket.created.strftime('%Y-%m-%d %H:%M:%S')}  {bucket.name}")
    return EXIT_OK


async def _create(args: argparse.Namespace) -> int:
    services = open_services(load_admin_settings(args), create=True)
    await services.storage.start()
    info = await services.buckets.create(args.name, location=args.region, object_lock=args.object_lock)
    if args.versioning and not args.object_lock:
        await services.buckets.put_versioning(args.name, "Enabled")
    if args.json:
        print_json({"name": info.name, "created": info.created, "region": info.region})
    else:
        print(f"created bucket {info.name}")
    return EXIT_OK


async def _empty(services: Services, name: str) -> int:
    """Delete every version, delete marker and multipart upload of the bucket; returns the count."""
    removed = 0
    while True:
        # always the first page: what was deleted is gone, so there is no marker to carry
        page: VersionListPage = await services.listing.list_versions(
            name, prefix="", delimiter="", key_marker="", version_id_marker="", max_keys=1000
        )
        if not page.versions:
            break
        for item in page.versions:
            await services.storage.delete_object(name, item.key, version_id=item.version_id or "null")
            removed += 1
        if removed > 10_000_000:  # pragma: no cover - a listing that never shrinks: stop, do not spin
            raise AdminError(f"bucket {name} does not empty; giving up after {removed} deletes")
    for upload in await services.storage.list_uploads(name):
        try:
            await services.storage.abort_upload(name, upload.key, upload.upload_id)
        except NoSuchUpload:
            continue
        removed += 1
    return removed


async def _rm(args: argparse.Namespace) -> int:
    services = open_services(load_admin_settings(args))
    await services.storage.start()
    removed = 0
    if args.force:
        await services.buckets.get(args.name)
        removed = await _empty(services, args.name)
    await services.buckets.delete(args.name)
    if args.json:
        print_json({"name": args.name, "deleted": True, "objectsRemoved": removed})
    else:
        suffix = f" and {removed} object version(s)/upload(s)" if args.force else ""
        print(f"removed bucket {args.name}{suffix}")
    return EXIT_OK


def register(subparsers: Subparsers) -> None:
    where = settings_parent()
    parser = subparsers.add_parser(
        "bucket", help="list, create and remove buckets (no server needed)",
        description="Work on the buckets of the data directory directly. Safe next to a running server.",
    )
    sub = parser.add_subparsers(dest="bucket_command", metavar="{ls,create,rm}", required=True)

    ls = sub.add_parser("ls", parents=[where], help="list buckets", description="List buckets, oldest first by name.")
    ls.set_defaults(handler=command(_ls))

    create = sub.add_parser("create", parents=[where], help="create a bucket",
                            description="Create a bucket (S3 naming rules apply). Exit 1 if it exists.")
    create.add_argument("name", metavar="NAME")
    create.add_argument("--region", help="location constraint recorded for the bucket (default server.region)")
    create.add_argument("--versioning", action="store_true", help="enable versioning right away")
    create.add_argument("--object-lock", action="store_true", help="enable Object Lock (implies versioning)")
    create.set_defaults(handler=command(_create))

    rm = sub.add_parser("rm", parents=[where], help="remove a bucket",
                        description="Remove an empty bucket; exit 1 with BucketNotEmpty otherwise, unless --force.")
    rm.add_argument("name", metavar="NAME")
    rm.add_argument("--force", action="store_true",
                    help="first delete every object, version, delete marker and multipart upload in it")
    rm.set_defaults(handler=command(_rm))


__all__ = ["register"]
