"""Disk faults during writes: ENOSPC / EIO / EROFS / EDQUOT from any one filesystem call of a PUT or a
CompleteMultipartUpload answer 507 XMinioStorageFull, keep the previous object, leave no temp file, and /_ready
says 503 while the fault lasts. A sweep fails the 1st, 2nd, ... mutating call until the write gets through.
Once more for real: a PUT bigger than a 2 MiB tmpfs.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import os
import subprocess
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from smarts3.adapters.storage.filesystem import (
    backend,
    bodies,
    durable,
    fsutil,
    locks,
    metadata,
    multipart,
    objects,
    versions,
)
from smarts3.testing import RunningServer, running_server, server_settings

BUCKET = "faults"
#: os functions that change the disk; a fault in any of them must be handled
MUTATING = (
    "write",
    "fsync",
    "replace",
    "rename",
    "open",
    "mkdir",
    "makedirs",
    "link",
    "copy_file_range",
    "sendfile",
    "pwrite",
    "ftruncate",
    "fdatasync",
    "symlink",
)
ERRNOS = (errno.ENOSPC, errno.EIO, errno.EROFS, errno.EDQUOT)
MODULES = (backend, bodies, durable, fsutil, locks, metadata, multipart, objects, versions)


class FaultyOs(types.SimpleNamespace):
    """Stands in for ``os`` in the adapter's modules: the ``fail_at``-th mutating call raises ``error``."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.fail_at: int | None = None
        self.error = errno.ENOSPC
        self.fired = False
        self.last: tuple[str, Any] | None = None
        #: every kind of mutating call counted so far
        self.seen: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        real = getattr(os, name)
        if name not in MUTATING:
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            if name == "open" and not (len(args) > 1 and args[1] & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)):
                return real(*args, **kwargs)  # reads are not faulted
            if name == "write" and self.last == ("write", args[0]):
                return real(
                    *args, **kwargs
                )  # more writes of one body: as many as the socket delivered chunks
            self.count(name, args[0] if args else None)
            return real(*args, **kwargs)

        return call

    def count(self, name: str, first: Any) -> None:
        """One mutating call: raises the armed error when it is the ``fail_at``-th."""
        self.last = (name, first)
        self.seen.add(name)
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            self.fired = True
            raise OSError(self.error, os.strerror(self.error))

    def arm(self, fail_at: int | None, error: int = errno.ENOSPC) -> None:
        self.calls, self.fail_at, self.error, self.fired, self.last = 0, fail_at, error, False, None


@pytest.fixture(scope="module")
def faulty() -> Iterator[FaultyOs]:
    fake = FaultyOs()
    with pytest.MonkeyPatch.context() as patch:
        for module in MODULES:
            patch.setattr(module, "os", fake)
        exchange = fsutil._renameat2
        if exchange is not None:
            # the sidecar commit's atomic exchange is a libc call, not an ``os`` one: fault it too

            def faulty_exchange(*args: Any) -> int:
                fake.count("renameat2", args[1])
                return int(exchange(*args))

            patch.setattr(fsutil, "_renameat2", faulty_exchange)
        batch_sync = fsutil._syncfs
        if batch_sync is not None:
            # the fsync thread's syncfs (durable.py) is a libc call too; with no foreign dirty data counted, every
            # batch takes it, whatever else runs on this machine

            def faulty_syncfs(fd: int) -> int:
                fake.count("syncfs", fd)
                return int(batch_sync(fd))

            patch.setattr(fsutil, "_syncfs", faulty_syncfs)
            patch.setattr(fsutil, "dirty_bytes", lambda: 0)
        yield fake


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, faulty: FaultyOs) -> Iterator[RunningServer]:
    # faults are injected into this process's system calls: the fsyncs must happen here too, in the fsync thread,
    # not in the helper process the server uses by default (tests/unit/test_fs_sync_process.py covers that one)
    settings = server_settings(
        data_dir=tmp_path_factory.mktemp("faults"), fsync=True, min_part_size=1024, fsync_helper="thread"
    )
    with running_server(settings) as running:
        running.client().create_bucket(Bucket=BUCKET)
        yield running


@pytest.fixture(scope="module")
def s3(server: RunningServer) -> Any:
    return server.client(retries={"total_max_attempts": 1})


def _ready_status(server: RunningServer) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", server.settings.server.port, timeout=10)
    conn.request("GET", "/_ready")
    status = conn.getresponse().status
    conn.close()
    return status


def _tmp_files(server: RunningServer) -> list[str]:
    """What is left in ``tmp/`` once the fsync thread, which removes replaced files after answering, is done,
    besides the files the storage keeps to write again (recycle.py)."""
    tmp = Path(server.settings.storage.directory) / ".smarts3" / "tmp"

    def left() -> list[str]:
        pooled = {os.path.basename(path) for path in server.storage.objects.pool.files()}
        return sorted(set(os.listdir(tmp)) - pooled)

    deadline = time.monotonic() + 5
    while (files := left()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return files


def _body_of(s3: Any, key: str) -> tuple[bytes, str, dict[str, str]]:
    got = s3.get_object(Bucket=BUCKET, Key=key)
    return got["Body"].read(), got["ETag"].strip('"'), got["Metadata"]


def _sweep(
    server: RunningServer, s3: Any, faulty: FaultyOs, key: str, write: Any, new: bytes
) -> dict[str, int]:
    """Fail the k-th mutating call of ``write()`` for k = 1, 2, ... until it succeeds untouched."""
    old_body, old_etag, old_meta = _body_of(s3, key)
    outcome = {"faults": 0, "kept_old": 0, "got_new": 0}
    for k in range(1, 200):
        error = ERRNOS[k % len(ERRNOS)]
        faulty.arm(k, error)
        try:
            write()
        except ClientError as exc:
            assert faulty.fired
            response = exc.response
            assert response["ResponseMetadata"]["HTTPStatusCode"] == 507, (k, response)
            assert response["Error"]["Code"] == "XMinioStorageFull", (k, response)
            outcome["faults"] += 1
            # while the disk refuses writes, readiness says so
            faulty.arm(1, error)
            assert _ready_status(server) == 503
            faulty.arm(None)
            assert _ready_status(server) == 200
            body, etag, meta = _body_of(s3, key)
            # a fault after the data rename (directory fsync) cannot be undone: then it is the whole new object
            if body == old_body:
                assert (etag, meta) == (old_etag, old_meta), k
                outcome["kept_old"] += 1
            else:
                assert body == new and etag.split("-")[0] != old_etag, k
                outcome["got_new"] += 1
                assert _tmp_files(server) == [], (k, _tmp_files(server))
                return outcome  # the rest of the sweep would start from the new object
            assert _tmp_files(server) == [], (k, _tmp_files(server))
            continue
        finally:
            faulty.arm(None)
        assert not faulty.fired, f"call {k} failed but the write was acknowledged"
        assert _body_of(s3, key)[0] == new
        return outcome
    raise AssertionError("the write never got through")


def test_any_disk_fault_during_a_put_is_507_and_keeps_the_old_object(
    server: RunningServer, s3: Any, faulty: FaultyOs
) -> None:
    s3.put_object(Bucket=BUCKET, Key="doc", Body=b"old" * 1000, Metadata={"v": "old"})
    new = os.urandom(300_000)
    outcome = _sweep(
        server,
        s3,
        faulty,
        "doc",
        lambda: s3.put_object(Bucket=BUCKET, Key="doc", Body=new, Metadata={"v": "new"}),
        new,
    )
    print(f"PUT fault sweep: {outcome}")
    assert outcome["faults"] >= 5
    if fsutil._renameat2 is not None:
        assert "renameat2" in faulty.seen  # the sidecar's exchange was among the faulted calls
    if fsutil._syncfs is not None:
        assert "syncfs" in faulty.seen  # and the fsync thread's syncfs
    assert _tmp_files(server) == []


@pytest.fixture(scope="module")
def server_nofsync(tmp_path_factory: pytest.TempPathFactory, faulty: FaultyOs) -> Iterator[RunningServer]:
    settings = server_settings(data_dir=tmp_path_factory.mktemp("faults-nofsync"), fsync=False)
    with running_server(settings) as running:
        running.client().create_bucket(Bucket=BUCKET)
        yield running


def test_any_disk_fault_during_a_put_committed_on_the_event_loop_is_507_and_keeps_the_old_object(
    server_nofsync: RunningServer, faulty: FaultyOs
) -> None:
    """Without fsync a small PUT is written and committed inline (bodies.py): the same guarantees hold."""
    s3: Any = server_nofsync.client(retries={"total_max_attempts": 1})
    s3.put_object(Bucket=BUCKET, Key="inline", Body=b"old" * 1000, Metadata={"v": "old"})
    new = os.urandom(100_000)  # under bodies.INLINE_MAX
    outcome = _sweep(
        server_nofsync,
        s3,
        faulty,
        "inline",
        lambda: s3.put_object(Bucket=BUCKET, Key="inline", Body=new, Metadata={"v": "new"}),
        new,
    )
    print(f"inline PUT fault sweep: {outcome}")
    assert outcome["faults"] >= 4
    assert _tmp_files(server_nofsync) == []


def test_any_disk_fault_during_multipart_complete_is_507_and_keeps_upload_and_old_object(
    server: RunningServer, s3: Any, faulty: FaultyOs
) -> None:
    s3.put_object(Bucket=BUCKET, Key="mp", Body=b"previous object", Metadata={"v": "old"})
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="mp", Metadata={"v": "new"})["UploadId"]
    parts = [os.urandom(2048), os.urandom(1000)]
    listed = [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(Bucket=BUCKET, Key="mp", UploadId=upload, PartNumber=n, Body=p)["ETag"],
        }
        for n, p in enumerate(parts, 1)
    ]

    def complete() -> None:
        s3.complete_multipart_upload(
            Bucket=BUCKET, Key="mp", UploadId=upload, MultipartUpload={"Parts": listed}
        )
        # a failed complete keeps the upload for a retry (as S3 does)

    outcome = _sweep(server, s3, faulty, "mp", complete, b"".join(parts))
    print(f"CompleteMultipartUpload fault sweep: {outcome}")
    assert outcome["faults"] >= 3
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-2"
    assert _body_of(s3, "mp")[1] == expected


def test_any_disk_fault_during_a_multipart_complete_in_place_is_507_and_a_retry_completes(
    server: RunningServer, s3: Any, faulty: FaultyOs
) -> None:
    # parts of 1 MiB are written into the upload's data file, which the complete renames (multipart.py)
    s3.put_object(Bucket=BUCKET, Key="mp-in-place", Body=b"previous object")
    parts = [os.urandom(1 << 20), os.urandom(1 << 20), os.urandom(1000)]
    done: list[str] = []
    for k in range(1, 200):
        upload = s3.create_multipart_upload(Bucket=BUCKET, Key="mp-in-place")["UploadId"]
        listed = [
            {
                "PartNumber": n,
                "ETag": s3.upload_part(
                    Bucket=BUCKET, Key="mp-in-place", UploadId=upload, PartNumber=n, Body=p
                )["ETag"],
            }
            for n, p in enumerate(parts, 1)
        ]
        multipart = {"Parts": listed}
        faulty.arm(k, ERRNOS[k % len(ERRNOS)])
        try:
            s3.complete_multipart_upload(
                Bucket=BUCKET, Key="mp-in-place", UploadId=upload, MultipartUpload=multipart
            )
        except ClientError as exc:
            assert faulty.fired and exc.response["Error"]["Code"] == "XMinioStorageFull", (k, exc.response)
            faulty.arm(None)
            try:
                # S3 keeps a failed complete's upload: the retry must give the object, never other bytes
                s3.complete_multipart_upload(
                    Bucket=BUCKET, Key="mp-in-place", UploadId=upload, MultipartUpload=multipart
                )
                done.append("retried")
            except ClientError as again:
                # unless the commit had gone through (a fault after it): then the upload is complete
                assert again.response["Error"]["Code"] == "NoSuchUpload", (k, again.response)
                done.append("committed")
            assert _body_of(s3, "mp-in-place")[0] == b"".join(parts), k
            s3.put_object(Bucket=BUCKET, Key="mp-in-place", Body=b"previous object")
            continue
        finally:
            faulty.arm(None)
        assert not faulty.fired, f"call {k} failed but the complete was acknowledged"
        assert _body_of(s3, "mp-in-place")[0] == b"".join(parts)
        break
    print(f"in-place complete fault sweep: {len(done)} faults, {done.count('committed')} after the commit")
    assert len(done) >= 3
    assert _tmp_files(server) == []


def test_any_disk_fault_during_an_upload_part_in_place_is_507_and_a_resend_completes(
    server: RunningServer, s3: Any, faulty: FaultyOs
) -> None:
    parts = [os.urandom(1 << 20), os.urandom(1 << 20), os.urandom(1000)]
    faults = 0
    for k in range(1, 200):
        key = f"part-in-place-{k}"
        upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]

        def send(n: int, upload: str = upload, key: str = key) -> str:
            return str(
                s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=n, Body=parts[n - 1])[
                    "ETag"
                ]
            )

        first = send(1)
        faulty.arm(k, ERRNOS[k % len(ERRNOS)])
        try:
            second = send(2)
            fired = faulty.fired
        except ClientError as exc:
            assert faulty.fired and exc.response["Error"]["Code"] == "XMinioStorageFull", (k, exc.response)
            fired = True
            faults += 1
            faulty.arm(None)
            second = send(2)  # the client sends the part again
        finally:
            faulty.arm(None)
        assert not fired or faults, f"call {k} failed but the part was acknowledged"
        listed = [
            {"PartNumber": 1, "ETag": first},
            {"PartNumber": 2, "ETag": second},
            {"PartNumber": 3, "ETag": send(3)},
        ]
        s3.complete_multipart_upload(
            Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": listed}
        )
        assert _body_of(s3, key)[0] == b"".join(parts), k
        if not fired:
            break
    print(f"in-place UploadPart fault sweep: {faults} faults")
    assert faults >= 3
    assert _tmp_files(server) == []


def test_any_disk_fault_during_a_copy_is_507_and_keeps_the_old_object(
    server: RunningServer, s3: Any, faulty: FaultyOs
) -> None:
    source = os.urandom(100_000)
    s3.put_object(Bucket=BUCKET, Key="copy-src", Body=source)
    s3.put_object(Bucket=BUCKET, Key="copy-dst", Body=b"before the copy", Metadata={"v": "old"})
    outcome = _sweep(
        server,
        s3,
        faulty,
        "copy-dst",
        lambda: s3.copy_object(
            Bucket=BUCKET, Key="copy-dst", CopySource={"Bucket": BUCKET, "Key": "copy-src"}
        ),
        source,
    )
    print(f"CopyObject fault sweep: {outcome}")
    assert outcome["faults"] >= 5


def test_disk_fault_during_upload_part_is_507_and_the_part_is_not_listed(
    server: RunningServer, s3: Any, faulty: FaultyOs
) -> None:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="part")["UploadId"]
    faulty.arm(1, errno.ENOSPC)
    try:
        with pytest.raises(ClientError) as caught:
            s3.upload_part(Bucket=BUCKET, Key="part", UploadId=upload, PartNumber=1, Body=b"p" * 5000)
    finally:
        faulty.arm(None)
    assert caught.value.response["Error"]["Code"] == "XMinioStorageFull"
    assert s3.list_parts(Bucket=BUCKET, Key="part", UploadId=upload).get("Parts", []) == []
    assert _tmp_files(server) == []
    s3.abort_multipart_upload(Bucket=BUCKET, Key="part", UploadId=upload)


# -- a real full filesystem -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _tiny_tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_put_larger_than_a_full_tmpfs_is_507_and_the_server_keeps_serving(tmp_path: Path) -> None:
    with _tiny_tmpfs(tmp_path / "small", "2m") as data_dir:
        settings = server_settings(data_dir=data_dir, fsync=True)
        with running_server(settings) as running:
            s3 = running.client(retries={"total_max_attempts": 1})
            s3.create_bucket(Bucket=BUCKET)
            s3.put_object(Bucket=BUCKET, Key="kept", Body=b"k" * 500_000, Metadata={"v": "old"})
            with pytest.raises(ClientError) as caught:
                s3.put_object(Bucket=BUCKET, Key="kept", Body=os.urandom(3 * 1024 * 1024))
            response = caught.value.response
            assert response["ResponseMetadata"]["HTTPStatusCode"] == 507
            assert response["Error"]["Code"] == "XMinioStorageFull"
            got = s3.get_object(Bucket=BUCKET, Key="kept")
            assert got["Body"].read() == b"k" * 500_000 and got["Metadata"] == {"v": "old"}
            assert os.listdir(data_dir / ".smarts3" / "tmp") == []
            assert _ready_status(running) == 200  # the failed write's space was given back
            s3.put_object(Bucket=BUCKET, Key="small", Body=b"still serving")
            assert s3.get_object(Bucket=BUCKET, Key="small")["Body"].read() == b"still serving"
