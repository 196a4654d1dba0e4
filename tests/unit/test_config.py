"""Settings loading: sources, precedence, the plan's JSON shape, and validation messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smarts3.entrypoints.certs import generate_dev_certificates
from smarts3.entrypoints.config import (
    ConfigError,
    load_settings,
    mask_secrets,
    settings_from_json,
    settings_to_json,
)
from smarts3.entrypoints.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_defaults_without_any_source() -> None:
    assert load_settings(None, {}, {}) == Settings()


def test_a_stalled_body_times_out_before_an_sdk_gives_up_waiting() -> None:
    """S3 answers RequestTimeout after ~20 s of silence; the SDKs wait 60 s for an answer (boto3's read_timeout):
    the server has to speak first, or the client retries a request whose body it cannot complete."""
    assert Settings().limits.request_timeout == 20.0


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("c.json", '{"server": {"port": 9100}, "storage": {"cleanSlate": true}}'),
        ("c.yaml", "server:\n  port: 9100\nstorage:\n  cleanSlate: true\n"),
        ("c.yml", "server:\n  port: 9100\nstorage:\n  clean_slate: true\n"),
        ("c.toml", "[server]\nport = 9100\n[storage]\nclean_slate = true\n"),
    ],
)
def test_each_file_format_is_read(tmp_path: Path, name: str, text: str) -> None:
    settings = load_settings(write(tmp_path, name, text), {}, {})
    assert settings.server.port == 9100
    assert settings.storage.clean_slate is True


def test_precedence_flags_over_env_over_file(tmp_path: Path) -> None:
    path = write(tmp_path, "c.toml", '[server]\nport = 1000\nregion = "file-region"\nworkers = 3\n')
    env = {"SMARTS3_SERVER_PORT": "2000", "SMARTS3_SERVER_REGION": "env-region"}
    settings = load_settings(path, env, {"server.port": 3000})
    assert settings.server.port == 3000  # flag beats env and file
    assert settings.server.region == "env-region"  # env beats file
    assert settings.server.workers == 3  # file beats default
    assert settings.server.host == "127.0.0.1"  # default


def test_nested_sections_merge_instead_of_replacing(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "cors:\n  enabled: true\n  maxAge: 10\n")
    settings = load_settings(path, {"SMARTS3_CORS_ALLOWED_ORIGINS": "https://a.test, https://b.test"}, {})
    assert settings.cors.enabled and settings.cors.max_age == 10
    assert settings.cors.allowed_origins == ["https://a.test", "https://b.test"]


def test_config_file_from_smarts3_config_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", '{"server": {"port": 9200}}')
    assert load_settings(None, {"SMARTS3_CONFIG": path}, {}).server.port == 9200


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("yes", True), ("ON", True),
                                              ("false", False), ("0", False), ("no", False)])
def test_env_booleans(raw: str, expected: bool) -> None:
    assert load_settings(None, {"SMARTS3_STORAGE_FSYNC": raw}, {}).storage.fsync is expected


def test_env_variables_for_every_kind_of_setting() -> None:
    env = {
        "SMARTS3_SERVER_PORT": "9300",
        "SMARTS3_SERVER_WORKERS": "2",
        "SMARTS3_SERVER_SHUTDOWN_GRACE": "2.5",
        "SMARTS3_SERVER_ADDRESS": "::1",
        "SMARTS3_STORAGE_DIRECTORY": "/srv/data",
        "SMARTS3_AUTH_ENABLED": "no",
        "SMARTS3_LOGGING_LEVEL": "DEBUG",
        "SMARTS3_SERVER_SSL_REDIRECT_HTTP_PORT": "0",
        "SMARTS3_UNRELATED_THING": "ignored: not a settings section",
    }
    s = load_settings(None, env, {})
    assert (s.server.port, s.server.workers, s.server.shutdown_grace, s.server.host) == (9300, 2, 2.5, "::1")
    assert s.storage.directory == "/srv/data"
    assert s.auth.enabled is False
    assert s.logging.level == "debug"


def test_credentials_from_env_list_and_shortcut() -> None:
    s = load_settings(None, {"SMARTS3_AUTH_CREDENTIALS": "AK1:SECRET1, AK2:SEC:RET2"}, {})
    assert [(c.access_key_id, c.secret_access_key) for c in s.auth.credentials] == [
        ("AK1", "SECRET1"), ("AK2", "SEC:RET2")]
    s = load_settings(None, {"SMARTS3_ACCESS_KEY_ID": "AK", "SMARTS3_SECRET_ACCESS_KEY": "S"}, {})
    assert [(c.access_key_id, c.secret_access_key) for c in s.auth.credentials] == [("AK", "S")]


def test_env_credentials_replace_file_credentials(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "auth:\n  credentials:\n    - {accessKeyId: F, secretAccessKey: FS}\n")
    s = load_settings(path, {"SMARTS3_AUTH_CREDENTIALS": "E:ES"}, {})
    assert [c.access_key_id for c in s.auth.credentials] == ["E"]


def test_the_plans_example_config_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    certs = generate_dev_certificates(tmp_path / "gen")
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "server.crt").write_bytes(certs.cert.read_bytes())
    (tmp_path / "certs" / "server.key").write_bytes(certs.key.read_bytes())
    s = load_settings(str(EXAMPLES / "smarts3.config.json"), {}, {})
    assert (s.server.host, s.server.port) == ("0.0.0.0", 3000)
    assert s.server.ssl.enabled and s.server.ssl.cert == "./certs/server.crt"
    assert s.storage.directory == "./s3-data" and s.storage.clean_slate is False
    assert s.auth.credentials[0].access_key_id == "AKIAIOSFODNN7EXAMPLE"
    assert s.cors.enabled and s.cors.allowed_methods == ["GET", "POST", "PUT", "DELETE", "HEAD"]
    assert s.limits.max_object_size == 5368709120
    assert s.limits.request_timeout == 300.0  # the plan's 300000 milliseconds
    assert s.logging.format == "json" and s.logging.access_log is True
    assert s.logging.access_log_file == "./logs/access.log"
    assert s.logging.file == "./logs/error.log"


@pytest.mark.parametrize("name", ["smarts3.dev.toml", "smarts3.ci.yaml"])
def test_example_configs_are_valid(name: str) -> None:
    load_settings(str(EXAMPLES / name), {}, {})


def test_production_example_is_valid_with_credentials_and_certificates(tmp_path: Path) -> None:
    certs = generate_dev_certificates(tmp_path)
    env = {"SMARTS3_AUTH_CREDENTIALS": "AKPROD:prod-secret", "SMARTS3_SERVER_SSL_CERT": str(certs.cert),
           "SMARTS3_SERVER_SSL_KEY": str(certs.key)}
    s = load_settings(str(EXAMPLES / "smarts3.production.toml"), env, {})
    assert s.server.ssl.enabled and s.server.workers == 4


def test_tls_accepts_pem_text_instead_of_paths(tmp_path: Path) -> None:
    certs = generate_dev_certificates(tmp_path)
    s = load_settings(None, {}, {"server.ssl.enabled": True, "server.ssl.cert": certs.cert.read_text(),
                                 "server.ssl.key": certs.key.read_text()})
    shown = mask_secrets(s)["server"]["ssl"]
    assert "PRIVATE KEY" not in shown["key"]


def error_for(tmp_path: Path | None = None, env: dict[str, str] | None = None, text: str | None = None,
              **overrides: object) -> str:
    path = write(tmp_path, "c.yaml", text) if (tmp_path and text is not None) else None
    with pytest.raises(ConfigError) as info:
        load_settings(path, env or {}, {k.replace("__", "."): v for k, v in overrides.items()})
    return str(info.value)


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        ({"server__port": 70000}, ["server.port", "70000", "0 to 65535"]),
        ({"server__port": "abc"}, ["server.port", "'abc'", "an integer"]),
        ({"server__workers": 0}, ["server.workers", "0", ">= 1"]),
        ({"logging__level": "verbose"}, ["logging.level", "'verbose'", "'debug', 'info', 'warning', 'error'"]),
        ({"limits__minPartSize": 0}, ["limits.minPartSize", "0", "> 0"]),
        ({"metrics__path": "/metrics"}, ["metrics.path", "'/metrics'", "'_'"]),
        ({"metrics__healthPath": "health"}, ["metrics.healthPath", "'health'", "starting with '/'"]),
        ({"server__ssl__enabled": True}, ["server.ssl.cert", "''", "PEM"]),
        ({"server__ssl__enabled": True, "server__ssl__cert": "/nope.pem", "server__ssl__key": "/nope.key"},
         ["server.ssl.cert", "'/nope.pem'", "existing PEM file"]),
        ({"server__host": "0.0.0.0"}, ["server.host", "'0.0.0.0'", "allowDevCredentialsOnPublicAddress"]),
        ({"server__bogus": 1}, ["server.bogus", "1", "unknown setting", "host, port"]),
        ({"auth__credentials": [{"accessKeyId": "", "secretAccessKey": "x"}]},
         ["auth.credentials[0].accessKeyId", "''", "non-empty"]),
        ({"auth__credentials": [{"accessKeyId": "a"}]}, ["auth.credentials[0].secretAccessKey", "missing"]),
        ({"storage__backend": "memory", "server__workers": 2}, ["server.workers", "2", "memory"]),
    ],
)
def test_validation_failures_name_field_value_and_what_is_allowed(
    overrides: dict[str, object], fragments: list[str]
) -> None:
    message = error_for(**overrides)  # type: ignore[arg-type]
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert "allowed" in message


def test_validation_names_the_source_of_a_bad_value(tmp_path: Path) -> None:
    message = error_for(env={"SMARTS3_SERVER_PORT": "99999"})
    assert "server.port = 99999 (from env SMARTS3_SERVER_PORT)" in message
    message = error_for(tmp_path, text="server:\n  port: -1\n")
    assert "server.port = -1 (from file" in message


def test_bad_env_values_name_the_variable() -> None:
    assert "SMARTS3_STORAGE_FSYNC = 'maybe'" in error_for(env={"SMARTS3_STORAGE_FSYNC": "maybe"})
    message = error_for(env={"SMARTS3_SERVER_PROT": "1"})
    assert "SMARTS3_SERVER_PROT" in message and "SMARTS3_SERVER_PORT" in message
    assert "AK1:SECRET1" in error_for(env={"SMARTS3_AUTH_CREDENTIALS": "no-colon"})


def test_dev_credentials_on_public_address_allowed_when_asked_for() -> None:
    s = load_settings(None, {}, {"server.host": "0.0.0.0", "auth.allowDevCredentialsOnPublicAddress": True})
    assert s.server.host == "0.0.0.0"
    load_settings(None, {}, {"server.host": "0.0.0.0", "auth.enabled": False})
    load_settings(None, {"SMARTS3_AUTH_CREDENTIALS": "A:B"}, {"server.host": "0.0.0.0"})


def test_file_errors_are_config_errors(tmp_path: Path) -> None:
    assert "not found" in error_for(env={"SMARTS3_CONFIG": str(tmp_path / "missing.toml")})
    assert "not valid TOML" in error_for(tmp_path, env={"SMARTS3_CONFIG": write(tmp_path, "b.toml", "[x")})
    assert "unsupported extension" in error_for(env={"SMARTS3_CONFIG": write(tmp_path, "c.ini", "")})


def test_several_problems_are_reported_together() -> None:
    message = error_for(server__port=-5, server__workers=0)
    assert "server.port" in message and "server.workers" in message


def test_mask_secrets_hides_secret_keys() -> None:
    s = load_settings(None, {"SMARTS3_AUTH_CREDENTIALS": "AK1:TOPSECRET"}, {})
    shown = json.dumps(mask_secrets(s))
    assert "TOPSECRET" not in shown and "AK1" in shown


def test_settings_round_trip_for_worker_processes() -> None:
    s = load_settings(None, {"SMARTS3_AUTH_CREDENTIALS": "AK1:S1"}, {"server.port": 1234})
    assert settings_from_json(settings_to_json(s)) == s
