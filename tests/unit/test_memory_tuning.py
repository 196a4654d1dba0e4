"""tune_malloc: large buffers stay in their own mappings (returned to the system when freed) even after glibc
would have raised its dynamic mmap threshold, which is what let the server's RSS grow after big uploads."""

from __future__ import annotations

import ctypes.util
import platform
import subprocess
import sys

import pytest

_PROBE = """
import ctypes, ctypes.util, sys
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "tuned":
    from smarts3.entrypoints.memory import tune_malloc
    assert tune_malloc()
big = bytearray(8 << 20)
del big  # freeing an 8 MiB mapping raises glibc's dynamic mmap threshold to 8 MiB
before = libc.mallinfo2().hblkhd
buf = bytearray(3 << 20)
print(libc.mallinfo2().hblkhd - before)
"""


def _glibc_with_mallinfo2() -> bool:
    if platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    return name is not None and hasattr(ctypes.CDLL(name), "mallinfo2")


pytestmark = pytest.mark.skipif(not _glibc_with_mallinfo2(), reason="glibc >= 2.33 only (mallinfo2)")


def _mapped_bytes_of_a_3mib_buffer(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_without_tuning_a_freed_large_block_makes_later_buffers_come_from_the_heap() -> None:
    assert _mapped_bytes_of_a_3mib_buffer("default") == 0  # the behaviour tune_malloc exists to stop


def test_with_tuning_large_buffers_are_always_mapped() -> None:
    assert _mapped_bytes_of_a_3mib_buffer("tuned") >= 3 << 20


_IMPORTS_PROBE = """
import sys
import json  # already imported modules are never touched
from smarts3.entrypoints.memory import skip_unused_optional_imports
skip_unused_optional_imports()
from smarts3.entrypoints.app import create_app  # imports dependency-injector
names = ("pydantic_settings", "pydantic", "pydantic_core", "flask", "werkzeug")
loaded = [name for name in names if sys.modules.get(name) is not None]
print(",".join(loaded) or "-", sys.modules["json"] is not None)
"""


def test_the_server_process_does_not_load_dependency_injectors_unused_integrations() -> None:
    done = subprocess.run([sys.executable, "-c", _IMPORTS_PROBE], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["-", "True"]


_LAZY_PROBE = """
import sys
from smarts3.entrypoints.memory import skip_unused_optional_imports
skip_unused_optional_imports()  # as the server process does
from smarts3.entrypoints.cli import main  # the server process's entry point
from smarts3.entrypoints.app import create_app
from smarts3.domain.checksums import BodyHasher
hasher = BodyHasher(["CRC32"])  # what boto3 and the AWS CLI send by default
hasher.update(b"x")
hasher.checksum("CRC32")
print(",".join(name for name in ("awscrt", "_awscrt") if name in sys.modules) or "-")
BodyHasher(["CRC32C"]).update(b"x")  # the first CRC32C or CRC64NVME loads it
print("awscrt" in sys.modules)
"""


def test_the_server_loads_awscrt_only_when_a_client_asks_for_its_checksums() -> None:
    # awscrt's native library is ~7 MiB of resident size (measured with a bare interpreter)
    done = subprocess.run([sys.executable, "-c", _LAZY_PROBE], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["-", "True"]


_HELPER_PROBE = """
import sys
before = set(sys.modules)
from smarts3.adapters.storage.filesystem import sync_helper
heavy = ("subprocess", "shutil", "tempfile", "uuid", "pathlib", "ctypes.util", "smarts3.domain", "msgspec", "asyncio")
print(",".join(name for name in heavy if name in sys.modules and name not in before) or "-")
"""


def test_the_fsync_helper_process_imports_only_what_it_uses() -> None:
    # its resident size counts against the server's: 15.1 MiB with these imports, 12.2 MiB without
    done = subprocess.run([sys.executable, "-c", _HELPER_PROBE], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["-"]
