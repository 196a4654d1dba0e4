"""fsutil.exchange_into: os.replace semantics, done as an atomic exchange when the target exists (no ext4
writeback of the new file, never a moment without a file at the target)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smarts3.adapters.storage.filesystem import fsutil

needs_exchange = pytest.mark.skipif(fsutil._renameat2 is None, reason="renameat2 unavailable (not glibc >= 2.28)")


@needs_exchange
def test_an_existing_target_is_exchanged_and_the_old_file_is_left_at_the_source(tmp_path: Path) -> None:
    source, target = tmp_path / "new", tmp_path / "sub" / "current"
    target.parent.mkdir()
    source.write_bytes(b"new")
    target.write_bytes(b"old")
    assert fsutil.exchange_into(str(source), str(target)) is True
    assert target.read_bytes() == b"new"
    assert source.read_bytes() == b"old"


def test_a_missing_target_is_a_plain_rename(tmp_path: Path) -> None:
    source, target = tmp_path / "new", tmp_path / "fresh" / "current"
    source.write_bytes(b"new")
    assert fsutil.exchange_into(str(source), str(target)) is False  # parents are created, like rename_into
    assert target.read_bytes() == b"new"
    assert not source.exists()


def test_without_renameat2_it_replaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fsutil, "_renameat2", None)
    source, target = tmp_path / "new", tmp_path / "current"
    source.write_bytes(b"new")
    target.write_bytes(b"old")
    assert fsutil.exchange_into(str(source), str(target)) is False
    assert target.read_bytes() == b"new"
    assert not source.exists()


def test_a_missing_source_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "current"
    target.write_bytes(b"old")
    with pytest.raises(FileNotFoundError):
        fsutil.exchange_into(str(tmp_path / "absent"), str(target))
    assert target.read_bytes() == b"old"
