"""`smarts3 user ...` keeps the credential store file (auth.credentialsFile) that the server merges at start."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import boto3
import msgspec
import pytest
from botocore.exceptions import ClientError

from smarts3.entrypoints.cli import main
from smarts3.entrypoints.config import ConfigError, load_settings, uses_dev_credentials
from smarts3.entrypoints.settings import DEV_ACCESS_KEY, DEV_SECRET_KEY
from smarts3.testing import running_server
from smarts3.testing.server import server_settings


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_user_add_writes_a_private_store_and_prints_the_secret_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "users.json"
    code, out, _ = run(capsys, "user", "add", "alice", "--file", str(store), "--json")
    assert code == 0
    added = json.loads(out)
    assert len(added["secretAccessKey"]) >= 40 and added["accessKeyId"].startswith("SM")
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    code, out, _ = run(capsys, "user", "ls", "--file", str(store), "--json")
    listed = json.loads(out)
    assert listed == [{"name": "alice", "accessKeyId": added["accessKeyId"], "created": added["created"]}]
    assert added["secretAccessKey"] not in out
    code, out, _ = run(capsys, "user", "ls", "--file", str(store))
    assert added["secretAccessKey"] not in out and "alice" in out


def test_rotate_replaces_the_secret_and_rm_removes_the_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "users.json"
    first = json.loads(run(capsys, "user", "add", "bob", "--file", str(store), "--json")[1])
    rotated = json.loads(run(capsys, "user", "rotate", "bob", "--file", str(store), "--json")[1])
    assert rotated["accessKeyId"] == first["accessKeyId"]
    assert rotated["secretAccessKey"] != first["secretAccessKey"]
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert run(capsys, "user", "rm", first["accessKeyId"], "--file", str(store))[0] == 0
    code, _, err = run(capsys, "user", "rm", "bob", "--file", str(store))
    assert code == 1 and "no user" in err


def test_user_add_refuses_a_duplicate_access_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "u.json")
    assert run(capsys, "user", "add", "--access-key", "AKIAFIXED", "--file", store)[0] == 0
    code, _, err = run(capsys, "user", "add", "--access-key", "AKIAFIXED", "--file", store)
    assert code == 1 and "already exists" in err


def test_user_commands_without_a_store_are_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SMARTS3_AUTH_CREDENTIALS_FILE", raising=False)
    code, _, err = run(capsys, "user", "ls", "--data-dir", str(tmp_path))
    assert code == 2 and "auth.credentialsFile" in err


def test_store_path_comes_from_the_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "from-env.json"
    monkeypatch.setenv("SMARTS3_AUTH_CREDENTIALS_FILE", str(store))
    assert run(capsys, "user", "add", "carol")[0] == 0
    assert store.exists()


def test_server_accepts_store_users_merged_with_inline_credentials_and_not_dev_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "users.json"
    alice = json.loads(run(capsys, "user", "add", "alice", "--file", str(store), "--json")[1])
    base = server_settings(data_dir=tmp_path / "data")
    settings = msgspec.structs.replace(base, auth=msgspec.structs.replace(base.auth, credentials_file=str(store)))
    keys = [c.access_key_id for c in settings.effective_credentials()]
    assert keys == ["smarts3-test", alice["accessKeyId"]]
    with running_server(settings) as s3:
        def client(key: str, secret: str) -> object:
            return boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1",
                                aws_access_key_id=key, aws_secret_access_key=secret)

        as_alice = client(alice["accessKeyId"], alice["secretAccessKey"])
        as_alice.create_bucket(Bucket="alices")  # type: ignore[attr-defined]
        assert [b["Name"] for b in s3.client().list_buckets()["Buckets"]] == ["alices"]
        with pytest.raises(ClientError) as denied:
            client(DEV_ACCESS_KEY, DEV_SECRET_KEY).list_buckets()  # type: ignore[attr-defined]
        assert denied.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_a_configured_store_disables_the_dev_credentials_even_when_empty(tmp_path: Path) -> None:
    settings = load_settings(None, {"SMARTS3_AUTH_CREDENTIALS_FILE": str(tmp_path / "none-yet.json"),
                                    "SMARTS3_SERVER_HOST": "0.0.0.0"}, {})
    assert not uses_dev_credentials(settings)
    assert settings.effective_credentials() == []


def test_a_malformed_store_fails_configuration_naming_the_setting(tmp_path: Path) -> None:
    store = tmp_path / "users.json"
    store.write_text('{"users": [{"accessKeyId": "A"}]}')
    with pytest.raises(ConfigError) as error:
        load_settings(None, {"SMARTS3_AUTH_CREDENTIALS_FILE": str(store)}, {})
    assert "auth.credentialsFile" in str(error.value) and "secretAccessKey" in str(error.value)
