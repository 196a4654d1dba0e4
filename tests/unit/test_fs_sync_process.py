"""The fsync helper process (sync_process.py): group commit with no thread of ours, and what happens when it dies
or cannot start."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from smarts3.adapters.storage.filesystem import FilesystemStorage, sync_process
from smarts3.adapters.storage.filesystem.durable import GroupSyncer
from smarts3.adapters.storage.filesystem.sync_process import SyncProcess
from smarts3.domain.services.common import SystemClock
from smarts3.entrypoints.container import make_storage
from smarts3.entrypoints.settings import Settings, StorageSettings
from smarts3.testing.contract.helpers import get, put

BUCKET = "bkt"


@pytest.fixture
async def syncs() -> AsyncIterator[SyncProcess]:
    syncer = SyncProcess()
    yield syncer
    syncer.close(wait=5)


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        waited, _ = os.waitpid(pid, os.WNOHANG) if _is_child(pid) else (0, 0)
        if waited == pid or not os.path.exists(f"/proc/{pid}"):
            return True
        time.sleep(0.01)
    return False


def _is_child(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1]) == os.getpid()
    except OSError:
        return False


async def test_files_and_directories_are_synced_then_replaced_files_removed(
    tmp_path: Path, syncs: SyncProcess
) -> None:
    names = [tmp_path / f"f{i}" for i in range(8)]
    for name in names:
        name.write_bytes(b"x")
    leftover = tmp_path / "leftover"
    leftover.write_bytes(b"old")
    await asyncio.gather(*(syncs.files([str(name)]) for name in names), syncs.dirs([str(tmp_path)]))
    await syncs.dirs([str(tmp_path)], then_remove=[str(leftover)])
    [pid] = syncs.helper_pids()
    cmdline = await asyncio.to_thread(Path(f"/proc/{pid}/cmdline").read_bytes)
    assert b"filesystem.sync_helper import main" in cmdline
    syncs.close(wait=5)  # the helper removes it after answering, and before it ends at end of input
    assert not leftover.exists()
    assert _gone(pid)


async def test_a_missing_file_fails_its_own_request(tmp_path: Path, syncs: SyncProcess) -> None:
    with pytest.raises(FileNotFoundError):
        await syncs.files([str(tmp_path / "missing")])
    (tmp_path / "present").write_bytes(b"x")
    await syncs.files([str(tmp_path / "present")])  # the helper is still there and serves the next


async def test_a_batch_whose_helper_was_killed_is_made_durable_by_the_thread_and_a_new_helper_follows(
    tmp_path: Path, syncs: SyncProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    await syncs.dirs([str(tmp_path)])
    [first] = syncs.helper_pids()
    by_thread: list[object] = []
    real_submit = GroupSyncer.submit
    monkeypatch.setattr(GroupSyncer, "submit", lambda self, *a: by_thread.append(a) or real_submit(self, *a))
    os.kill(first, signal.SIGSTOP)  # the batch below waits in the pipe, unanswered
    leftover = tmp_path / "leftover"
    leftover.write_bytes(b"old")
    pending = asyncio.ensure_future(syncs.dirs([str(tmp_path)], then_remove=[str(leftover)]))
    await asyncio.sleep(0.05)
    assert not pending.done()
    os.kill(first, signal.SIGKILL)
    await asyncio.wait_for(pending, 5)  # served all the same, by the fsync thread
    assert by_thread == [((), [str(tmp_path)], [str(leftover)])]
    assert _gone(first)
    await syncs.dirs([str(tmp_path)])
    [second] = syncs.helper_pids()
    assert second != first and not syncs.broken
    syncs.close(wait=5)
    assert not leftover.exists()


async def test_a_helper_that_cannot_start_leaves_the_work_to_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync_process, "_HELPER_MAIN", "import sys; sys.exit(3)")
    syncs = SyncProcess()
    (tmp_path / "a").write_bytes(b"x")
    await syncs.files([str(tmp_path / "a")])
    await syncs.dirs([str(tmp_path)])
    assert syncs.broken and syncs.helper_pids() == []
    with pytest.raises(FileNotFoundError):  # errors still reach their writer, from the thread now
        await syncs.files([str(tmp_path / "missing")])
    syncs.close(wait=5)


async def test_the_helper_ignores_interrupts_meant_for_the_server(tmp_path: Path, syncs: SyncProcess) -> None:
    """A Ctrl-C reaches the whole process group; the helper must outlive the server's drain."""
    await syncs.dirs([str(tmp_path)])
    [pid] = syncs.helper_pids()
    os.kill(pid, signal.SIGINT)
    os.kill(pid, signal.SIGTERM)
    await asyncio.sleep(0.1)
    await syncs.dirs([str(tmp_path)])
    assert syncs.helper_pids() == [pid]


def test_each_event_loop_gets_its_own_helper(tmp_path: Path) -> None:
    syncs = SyncProcess()
    pids: list[int] = []
    for _ in range(2):

        async def once() -> None:
            await syncs.dirs([str(tmp_path)])
            pids.extend(syncs.helper_pids())

        asyncio.run(once())
    syncs.close(wait=5)
    assert len(set(pids)) == 2  # a pipe read by one loop cannot be read by another
    assert all(_gone(pid) for pid in pids)


async def test_a_storage_with_the_helper_process_puts_durably_and_stops_it_on_close(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "data", fsync=True, fsync_helper="process")
    await storage.start()
    await storage.create_bucket(BUCKET, region="us-east-1")
    for body in (b"one", b"two", b"three"):
        await put(storage, BUCKET, "k", body)
    assert await get(storage, BUCKET, "k") == b"three"
    assert isinstance(storage._syncer, SyncProcess)
    [pid] = storage._syncer.helper_pids()
    await storage.close()
    assert os.listdir(storage.layout.tmp) == []  # the replaced files were removed before the helper ended
    assert _gone(pid)


def test_the_server_uses_the_helper_process_unless_told_otherwise(tmp_path: Path) -> None:
    clock = SystemClock()
    default = make_storage(Settings(storage=StorageSettings(directory=str(tmp_path / "a"))), clock)
    thread = make_storage(
        Settings(storage=StorageSettings(directory=str(tmp_path / "b"), fsync_helper="thread")), clock
    )
    assert isinstance(default, FilesystemStorage) and isinstance(default._syncer, SyncProcess)
    assert isinstance(thread, FilesystemStorage) and isinstance(thread._syncer, GroupSyncer)


def test_the_helper_program_stays_small() -> None:
    """Its resident size counts against the server's: it must not load asyncio, msgspec or the whole adapter."""
    probe = (
        "import sys, smarts3.adapters.storage.filesystem.sync_helper; "
        "print(sorted(m for m in ('asyncio', 'msgspec', 'importlib.metadata', "
        "'smarts3.adapters.storage.filesystem.backend') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


async def test_an_idle_helper_exits_and_the_next_request_starts_another(
    tmp_path: Path, syncs: SyncProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync_process, "IDLE_SECONDS", 0.1)
    await syncs.dirs([str(tmp_path)])
    [first] = syncs.helper_pids()
    await asyncio.sleep(0.3)
    assert syncs.helper_pids() == [] and _gone(first)
    await syncs.dirs([str(tmp_path)])
    [second] = syncs.helper_pids()
    assert second != first and not syncs.broken


async def test_a_big_upload_commits_in_a_thread_without_starting_the_helper(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "data", fsync=True, fsync_helper="process")
    await storage.start()
    await storage.create_bucket(BUCKET, region="us-east-1")
    assert isinstance(storage._syncer, SyncProcess)
    await put(storage, BUCKET, "big", b"b" * (1 << 20))  # larger than what is written on the event loop
    assert storage._syncer.helper_pids() == []
    await put(storage, BUCKET, "small", b"s")
    assert len(storage._syncer.helper_pids()) == 1
    assert await get(storage, BUCKET, "big") == b"b" * (1 << 20)
    await storage.close()


async def test_a_helper_that_answers_nonsense_is_replaced_and_its_batch_still_served(
    tmp_path: Path, syncs: SyncProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    await syncs.dirs(
        [str(tmp_path)]
    )  # a working helper first: a garbled one must not disable helpers for good
    [first] = syncs.helper_pids()
    syncs.close(wait=5)
    monkeypatch.setattr(
        sync_process,
        "_HELPER_MAIN",
        "import sys; sys.stdin.readline(); print('nonsense', flush=True); sys.stdin.read()",
    )
    await asyncio.wait_for(syncs.dirs([str(tmp_path)]), 5)  # served by the fsync thread instead
    assert first not in syncs.helper_pids()


async def test_a_helper_that_cannot_even_be_spawned_leaves_the_work_to_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync_process.sys, "executable", str(tmp_path / "no-such-python"))
    syncs = SyncProcess()
    await syncs.dirs([str(tmp_path)])  # Popen failed: the fsync thread served it
    assert syncs.broken and syncs.helper_pids() == []
    syncs.close(wait=5)


def test_a_forked_child_starts_a_helper_of_its_own(tmp_path: Path) -> None:
    syncs = SyncProcess()
    asyncio.run(syncs.dirs([str(tmp_path)]))
    [parents] = syncs.helper_pids()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe and its exit status
        code = 1
        try:
            asyncio.run(asyncio.wait_for(syncs.dirs([str(tmp_path)]), 10))
            os.write(write_end, str(syncs.helper_pids()).encode())
            syncs.close(wait=5)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    reported = os.read(read_end, 1000).decode()
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    syncs.close(wait=5)
    assert os.waitstatus_to_exitcode(status) == 0
    assert reported.startswith("[") and str(parents) not in reported and reported != "[]"
