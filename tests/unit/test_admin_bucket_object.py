"""`smarts3 bucket ...` and `smarts3 object ...` work on the data directory without a server, and what they
store is what the S3 API serves."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from smarts3.entrypoints.admin import object as object_cmd
from smarts3.entrypoints.cli import main
from smarts3.testing import running_server


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_bucket_create_ls_rm_round_trip_with_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    assert run(capsys, "bucket", "create", "photos", "--data-dir", data)[0] == 0
    code, out, _ = run(capsys, "bucket", "ls", "--data-dir", data, "--json")
    assert code == 0
    assert [b["name"] for b in json.loads(out)] == ["photos"]
    assert run(capsys, "bucket", "rm", "photos", "--data-dir", data)[0] == 0
    assert json.loads(run(capsys, "bucket", "ls", "--data-dir", data, "--json")[1]) == []


def test_bucket_errors_have_messages_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path)
    code, _, err = run(capsys, "bucket", "rm", "missing-bucket", "--data-dir", data)
    assert code == 1 and "NoSuchBucket" in err
    code, _, err = run(capsys, "bucket", "create", "No_Such", "--data-dir", data)
    assert code == 1 and "InvalidBucketName" in err
    code, _, err = run(capsys, "bucket", "ls", "--data-dir", str(tmp_path / "nope"))
    assert code == 1 and "does not exist" in err
    with pytest.raises(SystemExit) as usage:
        main(["bucket", "frobnicate"])
    assert usage.value.code == 2


def test_bucket_rm_refuses_a_non_empty_bucket_unless_forced(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path)
    run(capsys, "bucket", "create", "full-bucket", "--data-dir", data, "--versioning")
    source = tmp_path / "f.txt"
    source.write_bytes(b"one")
    run(capsys, "object", "put", "full-bucket", "a/b.txt", str(source), "--data-dir", data)
    run(capsys, "object", "put", "full-bucket", "a/b.txt", str(source), "--data-dir", data)
    code, _, err = run(capsys, "bucket", "rm", "full-bucket", "--data-dir", data)
    assert code == 1 and "BucketNotEmpty" in err
    code, out, _ = run(capsys, "bucket", "rm", "full-bucket", "--force", "--data-dir", data, "--json")
    assert code == 0 and json.loads(out)["objectsRemoved"] == 2
    assert not (tmp_path / "full-bucket").exists()


def test_object_put_is_served_by_the_s3_api_and_get_returns_the_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    payload = b"hello smarts3\n" * 1000
    source = tmp_path / "page.html"
    source.write_bytes(payload)
    assert run(capsys, "bucket", "create", "site", "--data-dir", str(data))[0] == 0
    code, out, _ = run(capsys, "object", "put", "site", "docs/page.html", str(source),
                       "--metadata", "Owner=ops", "--data-dir", str(data), "--json")
    assert code == 0
    assert json.loads(out)["etag"] == hashlib.md5(payload).hexdigest()
    with running_server(data_dir=data) as s3:
        got = s3.client().get_object(Bucket="site", Key="docs/page.html")
        assert got["Body"].read() == payload
        assert got["ContentType"] == "text/html"
        assert got["Metadata"] == {"owner": "ops"}
        s3.client().put_object(Bucket="site", Key="docs/from-api.txt", Body=b"api")
    code, out, _ = run(capsys, "object", "ls", "site", "docs/", "--data-dir", str(data), "--json")
    assert [o["key"] for o in json.loads(out)["objects"]] == ["docs/from-api.txt", "docs/page.html"]
    code, out, _ = run(capsys, "object", "ls", "site", "--data-dir", str(data))
    assert "PRE" in out and "docs/" in out
    dest = tmp_path / "out"
    dest.mkdir()
    assert run(capsys, "object", "get", "site", "docs/from-api.txt", str(dest), "--data-dir", str(data))[0] == 0
    assert (dest / "from-api.txt").read_bytes() == b"api"
    code, _, err = run(capsys, "object", "get", "site", "docs/from-api.txt", str(dest), "--data-dir", str(data))
    assert code == 1 and "--force" in err
    assert run(capsys, "object", "rm", "site", "docs/page.html", "--data-dir", str(data))[0] == 0
    code, _, err = run(capsys, "object", "get", "site", "docs/page.html", "-", "--data-dir", str(data))
    assert code == 1 and "NoSuchKey" in err


def test_object_put_of_a_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "bucket", "create", "bkt", "--data-dir", str(tmp_path))
    code, _, err = run(capsys, "object", "put", "bkt", "k", str(tmp_path / "absent"), "--data-dir", str(tmp_path))
    assert code == 1 and "no such file" in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_large_transfers_draw_a_progress_bar_on_a_terminal_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(object_cmd, "progress_stream", lambda: terminal)
    monkeypatch.setattr(object_cmd, "PROGRESS_MIN_BYTES", 1024)
    source = tmp_path / "big.bin"
    source.write_bytes(b"x" * 3 * 1024 * 1024)
    run(capsys, "bucket", "create", "bkt", "--data-dir", str(tmp_path))
    assert run(capsys, "object", "put", "bkt", "big", str(source), "--data-dir", str(tmp_path))[0] == 0
    assert "100.0%" in terminal.getvalue() and "[" in terminal.getvalue()
    # not a terminal: nothing drawn
    plain = io.StringIO()
    monkeypatch.setattr(object_cmd, "progress_stream", lambda: plain)
    assert run(capsys, "object", "get", "bkt", "big", str(tmp_path / "copy"), "--data-dir", str(tmp_path))[0] == 0
    assert plain.getvalue() == ""
    assert (tmp_path / "copy").read_bytes() == source.read_bytes()


@pytest.mark.parametrize("args", [["bucket", "ls"], ["object", "put"], ["user", "add"], ["gc"], ["fsck"]])
def test_admin_commands_have_help(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*args, "--help"])
    assert exited.value.code == 0
    assert "usage: smarts3" in capsys.readouterr().out
