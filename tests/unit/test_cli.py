"""The smarts3 command line: exit codes, config check/show, serve wiring, and a real process with signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from smarts3 import __version__
from smarts3.entrypoints import cli, server
from smarts3.entrypoints.certs import generate_dev_certificates
from smarts3.entrypoints.config import load_settings, settings_to_json
from smarts3.entrypoints.server import TlsFiles, _tls_files, uvicorn_options


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = cli.main(args)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.strip() == f"smarts3 {__version__}"


@pytest.mark.parametrize("args", [[], ["serve"], ["config"], ["config", "check"], ["config", "show"],
                                  ["cert"], ["cert", "generate"]])
def test_every_command_has_help(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli([*args, "--help"], capsys)
    assert code == 0 and "usage: smarts3" in out


def test_config_check_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("server:\n  port: 9001\n")
    code, out, _ = run_cli(["config", "check", str(path), "--ignore-env"], capsys)
    assert code == 0 and out.strip().endswith("ok")


def test_config_check_bad_file_exits_2_with_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[server]\nport = 123456\n")
    code, _, err = run_cli(["config", "check", str(path), "--ignore-env"], capsys)
    assert code == 2
    assert "server.port = 123456" in err and "0 to 65535" in err


def test_config_check_as_a_subprocess(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"logging": {"level": "loud"}}')
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTS3_")}
    result = subprocess.run([sys.executable, "-m", "smarts3.entrypoints.cli", "config", "check", str(path)],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2 and "logging.level = 'loud'" in result.stderr


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SMARTS3_AUTH_CREDENTIALS", "AKSHOW:very-secret-value")
    code, out, _ = run_cli(["config", "show", "--json", "--port", "9555"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["server"]["port"] == 9555
    assert data["auth"]["credentials"][0]["accessKeyId"] == "AKSHOW"
    assert "very-secret-value" not in out
    code, out, _ = run_cli(["config", "show", "--secret-key", "flag-secret", "--access-key", "AK"], capsys)
    assert code == 0 and "flag-secret" not in out and "accessKeyId: AK" in out


def test_serve_flags_become_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [k for k in os.environ if k.startswith("SMARTS3_")]:
        monkeypatch.delenv(name)
    seen: list[Any] = []
    monkeypatch.setattr(server, "run", seen.append)
    certs = generate_dev_certificates(tmp_path)
    code = cli.main(["serve", "--host", "::1", "--port", "9777", "--data-dir", str(tmp_path), "--workers", "2",
                     "--base-domain", "s3.test", "--access-key", "AK", "--secret-key", "SK", "--no-fsync",
                     "--tls-cert", str(certs.cert), "--tls-key", str(certs.key), "--log-level", "debug",
                     "--log-format", "json", "--no-access-log"])
    assert code == 0
    (s,) = seen
    assert (s.server.host, s.server.port, s.server.workers, s.server.base_domain) == ("::1", 9777, 2, "s3.test")
    assert s.storage.directory == str(tmp_path) and s.storage.fsync is False
    assert [(c.access_key_id, c.secret_access_key) for c in s.auth.credentials] == [("AK", "SK")]
    assert s.server.ssl.enabled and s.server.ssl.cert == str(certs.cert)
    assert (s.logging.level, s.logging.format, s.logging.access_log) == ("debug", "json", False)


def test_serve_with_invalid_settings_exits_2_before_binding(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(server, "run", lambda s: pytest.fail("must not start"))
    code, _, err = run_cli(["serve", "--memory", "--workers", "0"], capsys)
    assert code == 2 and "server.workers = 0" in err
    code, _, err = run_cli(["serve", "--access-key", "only-one"], capsys)
    assert code == 2 and "--secret-key" in err


def test_uvicorn_options_follow_settings(tmp_path: Path) -> None:
    s = load_settings(None, {}, {"server.shutdownGrace": 3.5, "server.port": 1234, "limits.maxHeaderSize": 999})
    options = uvicorn_options(s, TlsFiles())
    assert options["loop"] == "uvloop" and options["http"] == "smarts3.entrypoints.server:QuickCloseHttpToolsProtocol" and options["lifespan"] == "on"
    assert options["access_log"] is False and options["timeout_graceful_shutdown"] == 3.5
    assert options["port"] == 1234 and options["h11_max_incomplete_event_size"] == 999


def test_pem_text_is_written_to_private_temp_files(tmp_path: Path) -> None:
    certs = generate_dev_certificates(tmp_path)
    s = load_settings(None, {}, {"server.ssl.enabled": True, "server.ssl.cert": certs.cert.read_text(),
                                 "server.ssl.key": certs.key.read_text()})
    with _tls_files(s.server.ssl) as files:
        assert files.keyfile and files.certfile
        assert os.stat(files.keyfile).st_mode & 0o777 == 0o600
        assert Path(files.keyfile).read_text() == certs.key.read_text()
        ssl.create_default_context().load_cert_chain(files.certfile, files.keyfile)
    assert not Path(files.keyfile).exists()


STUB_SERVER = textwrap.dedent(
    """
    import sys
    from smarts3.entrypoints import cli, server

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    server._create_app = lambda settings: app
    sys.exit(cli.main(sys.argv[1:]))
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, context: ssl.SSLContext | None = None) -> bytes:
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(url, context=context, timeout=2) as response:
                return bytes(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_real_process_serves_tls_redirects_http_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    certs = generate_dev_certificates(tmp_path / "certs")
    script = tmp_path / "stub.py"
    script.write_text(STUB_SERVER)
    port, redirect_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTS3_")}
    proc = subprocess.Popen(
        [sys.executable, str(script), "serve", "--memory", "--port", str(port), "--tls-cert", str(certs.cert),
         "--tls-key", str(certs.key), "--redirect-http-port", str(redirect_port), "--log-format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
    )
    try:
        context = ssl.create_default_context(cafile=str(certs.ca))
        assert wait_for(f"https://localhost:{port}/_health", context) == b"ok"

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as info:
            opener.open(f"http://127.0.0.1:{redirect_port}/bucket/key?x=1", timeout=5)
        assert info.value.code == 301
        assert info.value.headers["location"] == f"https://127.0.0.1:{port}/bucket/key?x=1"
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    for line in output.splitlines():
        json.loads(line)  # every log line is JSON
    assert "smarts3-dev-secret" in output  # the documented dev credentials are announced


def test_worker_factory_reads_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(None, {}, {"server.port": 9123, "logging.accessLog": False})
    monkeypatch.setenv("SMARTS3_SETTINGS_JSON", settings_to_json(settings).decode())
    monkeypatch.setattr(server, "_create_app", lambda s: ("app-for", s))
    assert server.app_from_environment() == ("app-for", settings)
    monkeypatch.delenv("SMARTS3_SETTINGS_JSON")
    with pytest.raises(RuntimeError):
        server.app_from_environment()
