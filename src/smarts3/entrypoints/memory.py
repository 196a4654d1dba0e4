"""Keep the server's resident memory flat: glibc malloc settings for a server that moves megabyte buffers
through a pool of worker threads.

By default glibc gives busy threads their own arenas (up to 8 per core) and raises its mmap threshold each
time a large block is freed (up to 32 MiB, and its trim threshold with it), so after a few parallel multipart
uploads many-megabyte buffers come from arenas that keep the memory: a server measured 72 MiB at rest grew to
~136 MiB after one 1 GiB upload with 8 parallel parts and stayed there. Fixed thresholds (set explicitly, glibc
stops adjusting them) bound what an arena keeps; two arenas are plenty when the GIL serialises Python anyway.
Other C libraries (musl) are left alone.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import importlib.abc
import logging
import sys
from typing import Any

_log = logging.getLogger("smarts3.server")

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
#: above the 1 MiB I/O buffers, which then reuse heap memory (a fresh mapping per buffer page-faults 256 times
#: per MiB: a 64 MiB GET ran at ~970 MB/s with a 256 KiB threshold, ~1,800 MB/s with this one)
MMAP_THRESHOLD = 2 * 1024 * 1024
#: free memory kept at the top of an arena for the next buffers before it is returned to the system
TRIM_THRESHOLD = 4 * 1024 * 1024
ARENA_MAX = 2


def tune_malloc() -> bool:
    """Apply the settings above (idempotent; call before worker threads start). False when not glibc."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        gnu_get_libc_version = libc.gnu_get_libc_version
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc: mallopt may not exist or mean something else
    gnu_get_libc_version.restype = ctypes.c_char_p
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    ok = (
        bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
        and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
        and bool(mallopt(_M_ARENA_MAX, ARENA_MAX))
    )
    if not ok:
        _log.debug("mallopt refused the memory settings")
    global _malloc_trim
    try:
        _malloc_trim = libc.malloc_trim
        _malloc_trim.argtypes = (ctypes.c_size_t,)
        _malloc_trim.restype = ctypes.c_int
    except AttributeError:
        _malloc_trim = None
    return ok


#: glibc's malloc_trim once tune_malloc ran (the server process), else None: trim_soon does nothing
_malloc_trim: Any = None
#: requests that moved at least this many body bytes ask for a trim afterwards
BIG_TRANSFER = 16 * 1024 * 1024
_trim_pending = False


def trim_soon(delay: float = 1.0) -> None:
    """After a big transfer: give the freed megabyte buffers back to the system in a second (malloc_trim, in a
    thread; at most one pending). Parallel multipart uploads leave arenas holding ~10-20 MiB of free, fragmented
    memory that the trim threshold alone does not return; the server's resting RSS then stays up."""
    global _trim_pending
    if _malloc_trim is None or _trim_pending:
        return
    _trim_pending = True
    loop = asyncio.get_running_loop()
    loop.call_later(delay, lambda: loop.run_in_executor(None, _trim))


def _trim() -> None:
    global _trim_pending
    _trim_pending = False
    if _malloc_trim is not None:
        _malloc_trim(0)


#: optional integrations dependency-injector imports whenever they happen to be installed (pydantic-settings for
#: ``Configuration.from_pydantic``, and pydantic itself when pydantic-settings is missing, to look for pydantic 1;
#: werkzeug and flask for wiring); smarts3 uses none of them
_UNUSED_OPTIONAL_IMPORTS = ("pydantic_settings", "pydantic", "pydantic_core", "flask", "werkzeug")


class _Absent(importlib.abc.MetaPathFinder):
    """Answers every import of the named top-level packages (and their submodules) with ModuleNotFoundError.

    A finder rather than ``None`` in ``sys.modules``: dependency-injector is compiled with Cython, whose import
    returns a ``None`` found there as the module instead of raising (it then failed on ``pydantic.VERSION``).
    ``importlib.util.find_spec`` of those names raises too, rather than answering None; nothing in the server's
    dependencies asks it about them."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = frozenset(names)

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"{fullname} is not used by the smarts3 server", name=fullname)
        return None


def skip_unused_optional_imports() -> None:
    """In the server process only (never when smarts3 is imported as a library): make the optional imports above
    fail, as if those packages were absent. A development environment that has them (moto pulls them in)
    otherwise carries ~10 MiB more resident memory for nothing (pydantic and pydantic-core alone). Packages
    already imported are left alone; calling this again changes nothing."""
    names = tuple(name for name in _UNUSED_OPTIONAL_IMPORTS if name not in sys.modules)
    if names and not any(isinstance(finder, _Absent) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Absent(names))
