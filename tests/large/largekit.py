"""Shared pieces of the large-body suite: a real `smarts3 serve` process, its memory, big test files.

The server is a child process (filesystem storage in a temp dir, fsync on as by default, auth on) so that its
memory can be read from /proc exactly as an operator would see it. Every process is stopped by its PID only.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
import boto3
import pytest
from botocore.config import Config

from smarts3.testing.server import free_port

ACCESS_KEY = "large-test-key"
SECRET_KEY = "large-test-secret-0123456789abcdef"
REGION = "us-east-1"
MiB = 1024 * 1024
GiB = 1024 * MiB
START_TIMEOUT = 20.0


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The runner's environment without SMARTS3_* or AWS_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTS3_", "AWS_"))}
    env.update(extra or {})
    return env


@attrs.define
class ServerProcess:
    """One `smarts3 serve` child process with auth on."""

    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    output_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.output_path.read_text(encoding="utf-8", errors="replace")

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server (path style, no retries that could hide a failure)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
                max_pool_connections=16,
                read_timeout=120,
                **config,
            ),
        )

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM this process (by PID) and wait; SIGKILL if it does not exit within ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return self.proc.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(data_dir: Path, log_dir: Path, name: str = "server") -> ServerProcess:
    """Start ``smarts3 serve`` on a free loopback port (filesystem storage, fsync on, auth on); wait for it."""
    port = free_port()
    output = log_dir / f"{name}.out"
    command = [
        sys.executable,
        "-m",
        "smarts3.entrypoints.cli",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    env = clean_env({"SMARTS3_AUTH_CREDENTIALS": f"{ACCESS_KEY}:{SECRET_KEY}"})
    with output.open("ab") as sink:
        proc = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    server = ServerProcess(proc, port, data_dir, output)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"smarts3 exited with {proc.returncode}:\n{server.output()}")
        try:
            with urllib.request.urlopen(f"{server.endpoint}/_health", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"smarts3 did not answer within {START_TIMEOUT}s:\n{server.output()}")
        time.sleep(0.05)


# --- figures


#: measured figures of this session, printed in the terminal summary by conftest.py
FIGURES: list[str] = []


class Figures:
    """Collects one test's measurements (MB/s, peak RSS, durations) for the terminal summary."""

    def __init__(self, test: str) -> None:
        self.test = test

    def add(self, text: str) -> None:
        FIGURES.append(f"{self.test}: {text}")


# --- memory


def _status_kib(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (VmRSS, VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def rss_mib(pid: int) -> float:
    return _status_kib(pid, "VmRSS") / 1024


def hwm_mib(pid: int) -> float:
    """The process's peak resident set since it started (the kernel keeps it: nothing between samples hides)."""
    return _status_kib(pid, "VmHWM") / 1024


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, grandchildren, ...) read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'
        parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return sorted(found)


class RssSampler:
    """Samples the summed VmRSS of a process and its descendants every ``interval`` seconds from a thread.

    ``peak`` is the highest sample; ``processes`` the largest process count seen (the server is expected to be
    one process). Use as a context manager around the phase being measured.
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0.0
        self.samples = 0
        self.processes = 1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)

    def sample(self) -> float:
        pids = [self.pid, *descendants(self.pid)]
        self.processes = max(self.processes, len(pids))
        total = 0.0
        for pid in pids:
            try:
                total += rss_mib(pid)
            except (OSError, KeyError):
                continue  # a child that just exited
        self.peak = max(self.peak, total)
        self.samples += 1
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()


# --- files


def require_free_space(path: Path, needed: int) -> None:
    """Fail (not skip) with a clear message when the temp filesystem cannot hold the test's files."""
    free = shutil.disk_usage(path).free
    if free < needed:
        pytest.fail(
            f"tests/large needs {needed / GiB:.1f} GiB free under {path}, only {free / GiB:.1f} GiB is free",
            pytrace=False,
        )


@attrs.frozen
class SourceFile:
    path: Path
    size: int
    sha256: str
    multipart_etag: str  # what S3 answers for this file uploaded in ``part_size`` parts


def write_test_file(path: Path, size: int, part_size: int) -> SourceFile:
    """Write ``size`` bytes of test data to ``path``, computing its sha256 and multipart ETag on the way.

    Every MiB is a slice of one random block at a different offset, led by its own index: no two MiB are
    equal, so a swapped, repeated or lost chunk changes the hash, and generating 1 GiB costs memcpy, not
    urandom. ``part_size`` must be a multiple of 1 MiB.
    """
    assert part_size % MiB == 0
    base = os.urandom(MiB + 4096)
    digest = hashlib.sha256()
    part_md5s: list[bytes] = []

    def hash_part(part: bytes) -> None:
        digest.update(part)
        part_md5s.append(hashlib.md5(part).digest())

    index = 0
    # hashing (in one thread, so in order) overlaps the disk write: both release the GIL
    with path.open("wb") as handle, concurrent.futures.ThreadPoolExecutor(1) as hasher:
        pending: concurrent.futures.Future[None] | None = None
        left = size
        while left:
            blocks = []
            for _ in range(-(-min(part_size, left) // MiB)):
                offset = (index * 4099) % 4096
                blocks.append(index.to_bytes(8, "big") + base[offset : offset + MiB - 8])
                index += 1
            part = b"".join(blocks)[: min(part_size, left)]
            if pending is not None:
                pending.result()
            pending = hasher.submit(hash_part, part)
            handle.write(part)
            left -= len(part)
        if pending is not None:
            pending.result()
    etag = f'"{hashlib.md5(b"".join(part_md5s)).hexdigest()}-{len(part_md5s)}"'
    return SourceFile(path, size, digest.hexdigest(), etag)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(8 * MiB):
            digest.update(block)
    return digest.hexdigest()
