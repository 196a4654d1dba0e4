"""What the admin commands share: the settings flags, opening the data directory, errors, output helpers.

Exit statuses of every admin command: 0 success, 1 failure or problems found, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import attrs

from smarts3.domain.errors import S3Error
from smarts3.entrypoints.config import ConfigError, load_settings
from smarts3.entrypoints.settings import Settings

if TYPE_CHECKING:  # the adapter loads only when a command runs
    from smarts3.adapters.storage.filesystem import FilesystemStorage

__all__ = [
    "EXIT_OK",
    "EXIT_PROBLEMS",
    "EXIT_USAGE",
    "AdminError",
    "Services",
    "command",
    "human_size",
    "load_admin_settings",
    "open_services",
    "print_json",
    "settings_parent",
]

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
T = TypeVar("T")


class AdminError(Exception):
    """A failure with a message for a human and an exit status."""

    def __init__(self, message: str, status: int = EXIT_PROBLEMS) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def settings_parent(*, json_output: bool = True) -> argparse.ArgumentParser:
    """``--config``, ``--data-dir`` (and ``--json``): where the data directory is, as for ``serve``."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("where (the same settings `smarts3 serve` reads)")
    group.add_argument("--config", metavar="FILE", help="config file (.json, .yaml, .yml, .toml); default $SMARTS3_CONFIG")
    group.add_argument("--data-dir", metavar="DIR", help="storage directory (storage.directory)")
    if json_output:
        parent.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    return parent


def load_admin_settings(args: argparse.Namespace, extra: dict[str, Any] | None = None) -> Settings:
    """Settings from the config file, SMARTS3_* and ``--data-dir``, validated like ``serve`` does.

    Admin commands never listen, so the rule against development credentials on a public address (which the
    server enforces) does not apply to them: a container's ``SMARTS3_SERVER_HOST=0.0.0.0`` must not stop
    ``smarts3 bucket ls`` inside it.
    """
    overrides: dict[str, Any] = {"auth.allowDevCredentialsOnPublicAddress": True}
    if getattr(args, "data_dir", None):
        overrides["storage.directory"] = args.data_dir
    overrides.update(extra or {})
    return load_settings(getattr(args, "config", None), os.environ, overrides)


@attrs.frozen
class Services:
    """The storage adapter and the domain services, wired as the server wires them (container.py)."""

    settings: Settings
    storage: FilesystemStorage
    buckets: Any
    objects: Any
    listing: Any
    multipart: Any


def open_services(settings: Settings, *, create: bool = False) -> Services:
    """Open the configured data directory. ``create``: make it if missing (else a missing one is an error)."""
    from smarts3.adapters.storage.filesystem import FilesystemStorage
    from smarts3.domain.services.buckets import BucketService
    from smarts3.domain.services.common import SystemClock, TimeOrderedIds
    from smarts3.domain.services.listing import ListingService
    from smarts3.domain.services.multipart import MultipartService
    from smarts3.domain.services.objects import ObjectService
    from smarts3.entrypoints.container import make_limits

    if settings.storage.backend != "filesystem":
        raise AdminError(
            f"storage.backend is {settings.storage.backend!r}: admin commands work on a filesystem data "
            "directory; allowed: storage.backend 'filesystem' with storage.directory (or --data-dir)",
            EXIT_USAGE,
        )
    directory = Path(settings.storage.directory)
    if not directory.is_dir():
        if not create:
            raise AdminError(
                f"storage.directory {str(directory)!r} ({directory.resolve()}) does not exist; "
                "give --data-dir or --config of the server's data directory"
            )
        directory.mkdir(parents=True, exist_ok=True)
    clock = SystemClock()
    ids = TimeOrderedIds()
    limits = make_limits(settings)
    storage = FilesystemStorage(directory, fsync=settings.storage.fsync, clock=clock)
    return Services(
        settings=settings,
        storage=storage,
        buckets=BucketService(storage, region=settings.server.region),
        objects=ObjectService(storage, clock, ids, limits),
        listing=ListingService(storage),
        multipart=MultipartService(storage, clock, ids, limits),
    )


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def command(fn: Callable[[argparse.Namespace], int | Awaitable[int]]) -> Callable[[argparse.Namespace], int]:
    """Wrap a handler: run it (awaiting coroutines), turn known errors into a message and an exit status."""

    def handler(args: argparse.Namespace) -> int:
        try:
            result = fn(args)
            if asyncio.iscoroutine(result):
                return int(run_async(result))
            return int(result)  # type: ignore[arg-type]
        except AdminError as exc:
            print(f"smarts3: {exc.message}", file=sys.stderr)
            return exc.status
        except ConfigError as exc:
            print(f"smarts3: configuration error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except S3Error as exc:
            where = f" ({exc.resource})" if exc.resource else ""
            print(f"smarts3: {exc.code}{where}: {exc.message}", file=sys.stderr)
            return EXIT_PROBLEMS
        except BrokenPipeError:
            # `smarts3 object ls | head`: the reader went away; not an error of ours
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), sys.stdout.fileno())
            return EXIT_OK

    handler.__doc__ = fn.__doc__
    return handler


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(data: Any, out: IO[str] | None = None) -> None:
    print(json.dumps(data, indent=2, default=_default), file=out or sys.stdout)


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``12h``, ``7d`` -> seconds (argparse type)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    raw = text.strip().lower()
    factor = 1
    if raw and raw[-1] in units:
        factor = units[raw[-1]]
        raw = raw[:-1]
    try:
        value = float(raw) * factor
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; allowed: a number of seconds or N s|m|h|d|w, e.g. 12h or 7d"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a duration must be >= 0")
    return value
