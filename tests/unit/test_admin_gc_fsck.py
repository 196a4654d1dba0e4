"""`smarts3 gc` collects stale uploads and temp files (dry run by default); `smarts3 fsck` finds metadata and
data that disagree and repairs what is safe."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from smarts3.adapters.storage.filesystem import fsutil
from smarts3.entrypoints.cli import main
from smarts3.testing import running_server


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_gc_dry_run_reports_and_apply_aborts_stale_multipart_uploads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_server(data_dir=tmp_path) as s3:
        client = s3.client()
        client.create_bucket(Bucket="uploads")
        upload_id = client.create_multipart_upload(Bucket="uploads", Key="big.iso")["UploadId"]
        client.upload_part(Bucket="uploads", Key="big.iso", UploadId=upload_id, PartNumber=1, Body=b"p" * 1000)

        code, out, _ = run(capsys, "gc", "--data-dir", str(tmp_path), "--json")
        assert code == 0 and json.loads(out)["items"] == []  # younger than multipart.maxAge (7 days)

        code, out, _ = run(capsys, "gc", "--older-than", "0s", "--data-dir", str(tmp_path), "--json")
        report = json.loads(out)
        assert code == 1 and not report["applied"]
        stale = [i for i in report["items"] if i["kind"] == "stale-upload"]
        assert [(i["key"], i["repaired"]) for i in stale] == [("big.iso", False)]
        assert stale[0]["size"] >= 1000
        assert len(client.list_multipart_uploads(Bucket="uploads").get("Uploads", [])) == 1

        code, out, _ = run(capsys, "gc", "--older-than", "0s", "--apply", "--data-dir", str(tmp_path))
        assert code == 0 and "removed" in out
        assert client.list_multipart_uploads(Bucket="uploads").get("Uploads", []) == []


def test_gc_removes_temp_files_of_dead_writers_but_not_fresh_ones_of_live_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "bucket", "create", "bkt", "--data-dir", str(tmp_path))
    tmp = tmp_path / ".smarts3" / "tmp"
    dead = tmp / "t999999999-deadbeef"
    dead.write_bytes(b"half an upload")
    live = tmp / fsutil.temp_name()  # a live writer: this process, this incarnation
    live.write_bytes(b"being written")
    code, out, _ = run(capsys, "gc", "--apply", "--data-dir", str(tmp_path), "--json")
    assert code == 0
    assert [i["path"] for i in json.loads(out)["items"]] == [str(dead)]
    assert not dead.exists() and live.exists()
    old = live.stat().st_mtime - 3 * 86400
    os.utime(live, (old, old))
    code, out, _ = run(capsys, "gc", "--apply", "--temp-age", "1d", "--data-dir", str(tmp_path), "--json")
    assert [i["path"] for i in json.loads(out)["items"]] == [str(live)] and not live.exists()


def test_gc_rejects_a_bad_duration_as_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["gc", "--older-than", "soon"])
    assert exited.value.code == 2
    assert "not a duration" in capsys.readouterr().err


def _stored(tmp_path: Path, capsys: pytest.CaptureFixture[str], *keys: str) -> None:
    run(capsys, "bucket", "create", "bkt", "--data-dir", str(tmp_path))
    for key in keys:
        source = tmp_path / "src"
        source.write_bytes(f"content of {key}".encode())
        assert run(capsys, "object", "put", "bkt", key, str(source), "--data-dir", str(tmp_path))[0] == 0


def test_fsck_is_clean_on_a_healthy_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _stored(tmp_path, capsys, "a.txt", "dir/b.txt")
    code, out, _ = run(capsys, "fsck", "--data-dir", str(tmp_path), "--json")
    assert code == 0 and json.loads(out) == {"repair": False, "verifiedEtags": True, "problems": 0,
                                             "findings": []}


def test_fsck_reports_and_repairs_metadata_whose_file_was_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _stored(tmp_path, capsys, "gone.txt", "kept.txt")
    (tmp_path / "bkt" / "gone.txt").unlink()
    code, out, _ = run(capsys, "fsck", "--data-dir", str(tmp_path), "--json")
    findings = json.loads(out)["findings"]
    assert code == 1 and [(f["kind"], f["key"]) for f in findings] == [("orphan-sidecar", "gone.txt")]
    code, out, _ = run(capsys, "fsck", "--repair", "--data-dir", str(tmp_path))
    assert code == 0 and "repaired" in out
    assert run(capsys, "fsck", "--data-dir", str(tmp_path))[0] == 0
    assert not (tmp_path / ".smarts3" / "buckets" / "bkt" / "meta" / "gone.txt.m").exists()


def test_fsck_rebuilds_an_unreadable_sidecar_from_the_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _stored(tmp_path, capsys, "k.txt")
    (tmp_path / ".smarts3" / "buckets" / "bkt" / "meta" / "k.txt.m").write_bytes(b"{not json")
    code, out, _ = run(capsys, "fsck", "--data-dir", str(tmp_path), "--json")
    assert code == 1 and json.loads(out)["findings"][0]["kind"] == "corrupt-sidecar"
    assert run(capsys, "fsck", "--repair", "--data-dir", str(tmp_path))[0] == 0
    code, out, _ = run(capsys, "object", "ls", "bkt", "--data-dir", str(tmp_path), "--json")
    assert json.loads(out)["objects"][0]["etag"] == hashlib.md5(b"content of k.txt").hexdigest()


def test_fsck_reports_changed_bytes_as_an_etag_mismatch_it_does_not_paper_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _stored(tmp_path, capsys, "rot.txt")
    path = tmp_path / "bkt" / "rot.txt"
    before = path.stat()
    with open(path, "r+b") as handle:  # same inode, same size, mtime put back: silent corruption
        handle.write(b"X")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    code, out, _ = run(capsys, "fsck", "--repair", "--data-dir", str(tmp_path), "--json")
    findings = json.loads(out)["findings"]
    assert code == 1
    assert [(f["kind"], f["repairable"], f["repaired"]) for f in findings] == [("etag-mismatch", False, False)]
    assert run(capsys, "fsck", "--quick", "--data-dir", str(tmp_path))[0] == 0  # --quick does not hash


def test_fsck_notices_files_placed_by_other_programs_without_failing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _stored(tmp_path, capsys)
    (tmp_path / "bkt" / "dropped.csv").write_text("a,b\n")
    code, out, _ = run(capsys, "fsck", "--data-dir", str(tmp_path), "--json")
    report = json.loads(out)
    assert code == 0 and report["problems"] == 0
    assert [(f["kind"], f["problem"]) for f in report["findings"]] == [("unindexed", False)]


def test_fsck_drops_incomplete_version_entries_and_state_of_vanished_buckets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "bucket", "create", "ver", "--versioning", "--data-dir", str(tmp_path))
    source = tmp_path / "src"
    for body in (b"v1", b"v2"):
        source.write_bytes(body)
        run(capsys, "object", "put", "ver", "k", str(source), "--data-dir", str(tmp_path))
    vdir = tmp_path / ".smarts3" / "buckets" / "ver" / "versions" / "k.v"
    (data,) = vdir.glob("*.data")
    data.unlink()  # as if a crash hit between the record and the data rename
    run(capsys, "bucket", "create", "gone", "--data-dir", str(tmp_path))
    (tmp_path / "gone").rmdir()  # removed behind the server's back
    code, out, _ = run(capsys, "fsck", "--data-dir", str(tmp_path), "--json")
    kinds = sorted(f["kind"] for f in json.loads(out)["findings"])
    assert code == 1 and kinds == ["incomplete-version", "orphan-bucket-state"]
    assert run(capsys, "fsck", "--repair", "--data-dir", str(tmp_path))[0] == 0
    assert run(capsys, "fsck", "--data-dir", str(tmp_path))[0] == 0
    assert not (tmp_path / ".smarts3" / "buckets" / "gone").exists()
