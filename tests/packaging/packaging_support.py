"""Helpers of the packaging tests: the installed-wheel record, a clean environment, serving and a boto3 round trip."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[2]


@attrs.frozen
class Installed:
    venv: Path
    wheel: Path
    sdist: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"


def clean_env(**extra: str) -> dict[str, str]:
    """A minimal environment: nothing from this checkout's venv, no SMARTS3_* of the developer."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """`python -m build` (sdist, then the wheel from the sdist), then a venv with the wheel from PyPI deps."""
    base = tmp_path_factory.mktemp("packaging")
    dist = base / "dist"
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], check=True,
                   capture_output=True, timeout=300, cwd=base)
    (wheel,) = dist.glob("smarts3-*.whl")
    (sdist,) = dist.glob("smarts3-*.tar.gz")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120, cwd=base)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    str(wheel)], check=True, capture_output=True, timeout=300, cwd=base)
    return Installed(venv=venv, wheel=wheel, sdist=sdist)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bytes(response.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def serving(cmd: list[str], env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start the server; on exit stop it by PID with SIGTERM (SIGKILL only if it hangs)."""
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def s3_round_trip(endpoint: str, access_key: str, secret_key: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access_key,
                          aws_secret_access_key=secret_key, region_name="us-east-1")
    client.create_bucket(Bucket="packaged")
    client.put_object(Bucket="packaged", Key="dir/hello.txt", Body=b"hello from the wheel")
    assert client.get_object(Bucket="packaged", Key="dir/hello.txt")["Body"].read() == b"hello from the wheel"
    listed = client.list_objects_v2(Bucket="packaged")
    assert [o["Key"] for o in listed["Contents"]] == ["dir/hello.txt"]
