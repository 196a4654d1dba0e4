"""``smarts3 object ls|put|get|rm``: objects of the data directory without an S3 client or a running server.

Writes go through the same domain service as a PUT (MD5 ETag, metadata limits, versioning, atomic commit), so
an object put here is indistinguishable from one uploaded over HTTP. Large transfers draw a progress bar on
stderr when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import mimetypes
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from smarts3.domain.models import ObjectInfo
from smarts3.entrypoints.admin.common import (
    EXIT_OK,
    EXIT_USAGE,
    AdminError,
    command,
    human_size,
    load_admin_settings,
    open_services,
    print_json,
    settings_parent,
)

if TYPE_CHECKING:
    from smarts3.entrypoints.admin.common import Subparsers

#: transfers smaller than this draw no progress bar
PROGRESS_MIN_BYTES = 8 * 1024 * 1024
CHUNK = 1 << 20


def progress_stream() -> IO[str]:
    return sys.stderr


class Progress:
    """A one-line progress bar redrawn at most ten times a second; silent unless the stream is a terminal."""

    def __init__(self, label: str, total: int | None, stream: IO[str] | None = None) -> None:
        self.stream = stream or progress_stream()
        self.label = label
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self._drawn = 0.0
        self.enabled = bool(self.stream.isatty()) and (total is None or total >= PROGRESS_MIN_BYTES)

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and now - self._drawn >= 0.1:
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self.started, 1e-6)
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            bar = "#" * int(fraction * 30)
            text = (f"\r{self.label} [{bar:<30}] {fraction * 100:5.1f}% "
                    f"{human_size(self.done)}/{human_size(self.total)} {human_size(rate)}/s")
        else:
            text = f"\r{self.label} {human_size(self.done)} {human_size(rate)}/s"
        self.stream.write(text)
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()


def _object_json(info: ObjectInfo) -> dict[str, Any]:
    return {
        "key": info.key,
        "size": info.size,
        "etag": info.etag,
        "lastModified": info.last_modified,
        "versionId": info.version_id,
        "contentType": info.headers.get("content-type"),
        "storageClass": info.storage_class,
    }


async def _ls(args: argparse.Namespace) -> int:
    services = open_services(load_admin_settings(args))
    delimiter = "" if args.recursive else "/"
    marker = ""
    objects: list[ObjectInfo] = []
    prefixes: list[str] = []
    while True:
        page = await services.listing.list_v1(
            args.bucket, prefix=args.prefix, delimiter=delimiter, marker=marker, max_keys=1000
        )
        if args.json:
            objects.extend(page.objects)
            prefixes.extend(page.common_prefixes)
        else:
            for prefix in page.common_prefixes:
                print(f"{'PRE':>30}  {prefix}")
            for info in page.objects:
                stamp = info.last_modified.strftime("%Y-%m-%d %H:%M:%S")
                print(f"{stamp} {info.size:>10}  {info.key}")
        if not page.is_truncated or not page.next_marker:
            break
        marker = page.next_marker
    if args.json:
        print_json({"bucket": args.bucket, "prefix": args.prefix,
                    "objects": [_object_json(o) for o in objects], "commonPrefixes": prefixes})
    return EXIT_OK


async def _file_chunks(handle: BinaryIO, progress: Progress) -> AsyncIterator[bytes]:
    while True:
        chunk = await asyncio.to_thread(handle.read, CHUNK)
        if not chunk:
            return
        progress.advance(len(chunk))
        yield chunk


def _metadata_pairs(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise AdminError(f"--metadata {item!r}: allowed: NAME=VALUE", EXIT_USAGE)
        out[name.strip().lower()] = value
    return out


@contextlib.contextmanager
def _open_source(path: str) -> Iterator[tuple[BinaryIO, int | None]]:
    if path == "-":
        yield sys.stdin.buffer, None
        return
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise AdminError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AdminError(f"{path}: is a directory; give a file") from None
    except PermissionError:
        raise AdminError(f"{path}: permission denied") from None
    try:
        yield handle, os.fstat(handle.fileno()).st_size
    finally:
        handle.close()


async def _put(args: argparse.Namespace) -> int:
    from smarts3.domain.services.objects import BodyChecks, WriteAttributes

    services = open_services(load_admin_settings(args))
    await services.storage.start()
    content_type = args.content_type
    if content_type is None and args.file != "-":
        content_type = mimetypes.guess_type(args.file)[0]
    headers = {"content-type": content_type or "application/octet-stream"}
    attributes = WriteAttributes(headers=headers, user_metadata=_metadata_pairs(args.metadata or []))
    with _open_source(args.file) as (handle, size):
        progress = Progress(f"put {args.key}", size)
        info = await services.objects.put_object(
            args.bucket, args.key, _file_chunks(handle, progress), attributes, BodyChecks(content_length=size)
        )
        progress.finish()
    if args.json:
        print_json(_object_json(info))
    else:
        print(f"put {args.bucket}/{info.key}  {info.size} bytes  etag {info.etag}")
    return EXIT_OK


def _destination(dest: str | None, key: str) -> Path | None:
    """None for stdout; a directory gets the key's last segment."""
    if dest == "-":
        return None
    name = key.rstrip("/").rsplit("/", 1)[-1] or "object"
    if dest is None:
        return Path(name)
    path = Path(dest)
    return path / name if path.is_dir() else path


async def _get(args: argparse.Namespace) -> int:
    services = open_services(load_admin_settings(args))
    reader, _ = await services.objects.get_object(args.bucket, args.key, version_id=args.version_id)
    info = reader.info
    target = _destination(args.dest, args.key)
    progress = Progress(f"get {args.key}", info.size)
    if target is None:
        out = sys.stdout.buffer
        async for chunk in reader.iter_bytes(None):
            out.write(chunk)
            progress.advance(len(chunk))
        out.flush()
        progress.finish()
        return EXIT_OK
    if target.exists() and not args.force:
        await reader.aclose()
        raise AdminError(f"{target}: exists; give --force to replace it")
    # write next to the target and rename: an interrupted get never leaves half a file under the real name
    partial = target.with_name(f".{target.name}.smarts3-partial-{os.getpid()}")
    try:
        with open(partial, "wb") as handle:
            async for chunk in reader.iter_bytes(None):
                await asyncio.to_thread(handle.write, chunk)
                progress.advance(len(chunk))
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    finally:
        await reader.aclose()
    progress.finish()
    if args.json:
        print_json({**_object_json(info), "file": str(target)})
    else:
        print(f"got {args.bucket}/{info.key} -> {target}  {info.size} bytes")
    return EXIT_OK


async def _rm(args: argparse.Namespace) -> int:
    services = open_services(load_admin_settings(args))
    await services.storage.start()
    await services.buckets.get(args.bucket)
    results = []
    for key in args.keys:
        outcome = await services.objects.delete_object(args.bucket, key, args.version_id)
        results.append({"key": key, "versionId": outcome.version_id, "deleteMarker": outcome.delete_marker})
        if not args.json:
            marker = " (delete marker created)" if outcome.delete_marker else ""
            print(f"removed {args.bucket}/{key}{marker}")
    if args.json:
        print_json(results)
    return EXIT_OK


def register(subparsers: Subparsers) -> None:
    where = settings_parent()
    parser = subparsers.add_parser(
        "object", help="list, put, get and remove objects (no server needed)",
        description="Work on objects in the data directory directly, through the same checks as the S3 API. "
                    "Safe next to a running server. Progress is drawn on stderr for large files on a terminal.",
    )
    sub = parser.add_subparsers(dest="object_command", metavar="{ls,put,get,rm}", required=True)

    ls = sub.add_parser("ls", parents=[where], help="list objects",
                        description="List objects in BUCKET under PREFIX: one level (like a folder) unless -r.")
    ls.add_argument("bucket", metavar="BUCKET")
    ls.add_argument("prefix", metavar="PREFIX", nargs="?", default="")
    ls.add_argument("-r", "--recursive", action="store_true", help="every key below PREFIX, no grouping")
    ls.set_defaults(handler=command(_ls))

    put = sub.add_parser("put", parents=[where], help="upload a file",
                         description="Store FILE (or stdin with '-') as BUCKET/KEY.")
    put.add_argument("bucket", metavar="BUCKET")
    put.add_argument("key", metavar="KEY")
    put.add_argument("file", metavar="FILE", help="file to upload, '-' for stdin")
    put.add_argument("--content-type", help="Content-Type (default: guessed from the file name)")
    put.add_argument("--metadata", action="append", metavar="NAME=VALUE", help="user metadata (repeatable)")
    put.set_defaults(handler=command(_put))

    get = sub.add_parser("get", parents=[where], help="download an object",
                         description="Write BUCKET/KEY to DEST (a file, a directory, or '-' for stdout; "
                                     "default: the key's last segment in the current directory).")
    get.add_argument("bucket", metavar="BUCKET")
    get.add_argument("key", metavar="KEY")
    get.add_argument("dest", metavar="DEST", nargs="?")
    get.add_argument("--version-id", help="a specific version")
    get.add_argument("--force", action="store_true", help="replace DEST if it exists")
    get.set_defaults(handler=command(_get))

    rm = sub.add_parser("rm", parents=[where], help="remove objects",
                        description="Delete keys (a delete marker when the bucket is versioned). Removing a key "
                                    "that does not exist succeeds, as in S3.")
    rm.add_argument("bucket", metavar="BUCKET")
    rm.add_argument("keys", metavar="KEY", nargs="+")
    rm.add_argument("--version-id", help="delete this version for good (one KEY)")
    rm.set_defaults(handler=command(_rm))
