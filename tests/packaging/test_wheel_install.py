"""The wheel installs into a fresh venv outside the checkout and serves S3 from there."""

from __future__ import annotations

import secrets
import signal
import subprocess
import tarfile
import tomllib
from pathlib import Path

import pytest

from packaging_support import ROOT, Installed, clean_env, free_port, s3_round_trip, serving, wait_http

pytestmark = pytest.mark.slow


def test_installed_package_is_the_wheel_not_the_checkout(installed: Installed) -> None:
    out = subprocess.run([str(installed.bin / "python"), "-c", "import smarts3; print(smarts3.__file__)"],
                         capture_output=True, text=True, check=True, env=clean_env(), cwd=installed.venv)
    assert Path(out.stdout.strip()).is_relative_to(installed.venv)
    assert not Path(out.stdout.strip()).is_relative_to(ROOT)


def test_version_comes_from_the_package_metadata(installed: Installed) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    out = subprocess.run([str(installed.bin / "smarts3"), "--version"], capture_output=True, text=True,
                         check=True, env=clean_env(), cwd=installed.venv)
    assert out.stdout.strip() == f"smarts3 {version}"
    assert installed.wheel.name.startswith(f"smarts3-{version}-")


def test_sdist_carries_the_sources_and_metadata(installed: Installed) -> None:
    with tarfile.open(installed.sdist) as archive:
        names = archive.getnames()
    assert any(n.endswith("src/smarts3/entrypoints/cli.py") for n in names)
    assert any(n.endswith("src/smarts3/entrypoints/admin/fsck.py") for n in names)
    assert any(n.endswith("/PKG-INFO") for n in names)


def test_wheel_serves_s3_and_exits_0_on_sigterm(installed: Installed, tmp_path: Path) -> None:
    port = free_port()
    access_key, secret_key = "wheel-test", secrets.token_urlsafe(30)
    env = clean_env(SMARTS3_ACCESS_KEY_ID=access_key, SMARTS3_SECRET_ACCESS_KEY=secret_key)
    cmd = [str(installed.bin / "smarts3"), "serve", "--host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(tmp_path / "data"), "--no-fsync"]
    with serving(cmd, env, tmp_path) as proc:
        assert b"ok" in wait_http(f"http://127.0.0.1:{port}/_health", proc)
        s3_round_trip(f"http://127.0.0.1:{port}", access_key, secret_key)
        assert (tmp_path / "data" / "packaged" / "dir" / "hello.txt").read_bytes() == b"hello from the wheel"
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=20)[0].decode(errors="replace")
        assert proc.returncode == 0, output
    assert secret_key not in output
