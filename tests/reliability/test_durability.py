"""With fsync on, everything a 200 depends on is fsynced first: the body, the sidecar and the directory entries,
including those of directories the write had to create (a power loss must not orphan a durable file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smarts3.adapters.storage.filesystem import fsutil
from smarts3.adapters.storage.filesystem.sync_process import SyncProcess
from smarts3.testing import RunningServer, running_server, server_settings


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []
    real = fsutil.fsync_dir

    def record(path: Path) -> None:
        calls.append(Path(path))
        real(path)

    monkeypatch.setattr(fsutil, "fsync_dir", record)
    # the helper process (the server's default) fsyncs in another process: record what it is handed
    real_submit = SyncProcess._submit

    def handed(self: SyncProcess, files: Any, dirs: Any, remove: Any) -> Any:
        calls.extend(Path(path) for path in dirs)
        return real_submit(self, files, dirs, remove)

    monkeypatch.setattr(SyncProcess, "_submit", handed)
    # path by path, so that each directory's fsync shows (one syncfs of the whole filesystem covers them all
    # otherwise: tests/unit/test_fs_durable.py checks that one runs after the renames)
    monkeypatch.setattr(fsutil, "_syncfs", None)
    return calls


@pytest.fixture(params=["thread", "process"])
def server(tmp_path: Path, synced: list[Path], request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    settings = server_settings(
        data_dir=tmp_path / "data", fsync=True, min_part_size=1024, fsync_helper=request.param
    )
    with running_server(settings) as running:
        yield running


def test_put_to_a_new_deep_key_fsyncs_every_created_directory_entry(
    server: RunningServer, synced: list[Path]
) -> None:
    s3: Any = server.client()
    s3.create_bucket(Bucket="durable")
    bucket = Path(server.settings.storage.directory) / "durable"
    synced.clear()
    s3.put_object(Bucket="durable", Key="new/deep/key", Body=b"x")
    # the entries of new/ and new/deep/ live in their parents: both parents must be synced, and the file's dir
    assert {bucket, bucket / "new", bucket / "new" / "deep"} <= set(synced), synced


def test_create_multipart_upload_fsyncs_the_new_upload_directory_entry(
    server: RunningServer, synced: list[Path]
) -> None:
    s3: Any = server.client()
    s3.create_bucket(Bucket="durable")
    synced.clear()
    upload = s3.create_multipart_upload(Bucket="durable", Key="k")["UploadId"]
    assert any(path.name == "durable" and ".smarts3" in path.parts for path in synced), synced
    assert any(path.name == upload for path in synced), synced
