"""Issue 4, done when: `aws s3 cp` of a 200 MiB file up and down round-trips byte for byte.

The AWS CLI of this interpreter's environment (scripts/install-clients.sh installs it; a missing CLI fails the
test) runs with default settings: only ``--endpoint-url`` and credentials in the environment, and config and
credential files pointing into the temp dir so nothing of the user's own AWS setup leaks in.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from largekit import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    Figures,
    MiB,
    ServerProcess,
    require_free_space,
    sha256_file,
    write_test_file,
)

pytestmark = pytest.mark.slow

SIZE = 200 * MiB
#: the CLI's default multipart_chunksize
CLI_PART = 8 * MiB


def _aws(server: ServerProcess, home: Path, *args: str) -> None:
    if importlib.util.find_spec("awscli") is None:
        pytest.fail("awscli is not installed: run scripts/install-clients.sh", pytrace=False)
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "HOME": str(home),
            "AWS_CONFIG_FILE": str(home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    command = [sys.executable, "-m", "awscli", "--endpoint-url", server.endpoint, *args]
    done = subprocess.run(command, env=env, capture_output=True, timeout=240, check=False)
    assert done.returncode == 0, f"aws {' '.join(args)} exited {done.returncode}:\n{done.stderr.decode()}"


def test_aws_s3_cp_round_trips_200_mib_byte_for_byte(
    workdir: Path, server: ServerProcess, figures: Figures
) -> None:
    require_free_space(workdir, 1024 * MiB)
    source = write_test_file(workdir / "source.bin", SIZE, CLI_PART)
    home = workdir / "home"
    server.client().create_bucket(Bucket="cli")

    started = time.monotonic()
    _aws(server, home, "s3", "cp", str(source.path), "s3://cli/dir/two-hundred.bin")
    upload_s = time.monotonic() - started

    head = server.client().head_object(Bucket="cli", Key="dir/two-hundred.bin")
    assert head["ContentLength"] == SIZE
    # the CLI uploaded it in its default 8 MiB parts: the object has the multipart ETag of the file
    assert head["ETag"] == source.multipart_etag

    download = workdir / "download.bin"
    started = time.monotonic()
    _aws(server, home, "s3", "cp", "s3://cli/dir/two-hundred.bin", str(download))
    download_s = time.monotonic() - started

    assert download.stat().st_size == SIZE
    assert sha256_file(download) == source.sha256, (
        "the file the CLI downloaded differs from the one it uploaded"
    )
    figures.add(
        f"aws s3 cp up {SIZE / MiB / upload_s:.0f} MiB/s ({upload_s:.1f} s), "
        f"down {SIZE / MiB / download_s:.0f} MiB/s ({download_s:.1f} s), both including CLI start-up"
    )
