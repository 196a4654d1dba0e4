"""`smarts3 cert generate`: a CA clients can trust and a server certificate valid for localhost."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from smarts3.entrypoints import cli
from smarts3.entrypoints.certs import generate_dev_certificates


def handshake(certs_dir: Path, server_name: str, connect_host: str = "127.0.0.1") -> str:
    """TLS handshake against a server using cert.pem/key.pem, verifying with ca.pem; returns the peer CN."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(certs_dir / "cert.pem", certs_dir / "key.pem")
    family = socket.AF_INET6 if ":" in connect_host else socket.AF_INET
    listener = socket.socket(family)
    listener.bind((connect_host, 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client_ctx = ssl.create_default_context(cafile=str(certs_dir / "ca.pem"))
    try:
        with socket.create_connection((connect_host, port), timeout=5) as raw, \
                client_ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            peer = tls.getpeercert()
            tls.sendall(b"x")
    finally:
        thread.join(timeout=5)
        listener.close()
    assert peer is not None
    subject: Any = peer["subject"]
    return next(str(rdn[0][1]) for rdn in subject if rdn[0][0] == "commonName")


def test_generated_files_load_and_key_is_private(tmp_path: Path) -> None:
    paths = generate_dev_certificates(tmp_path)
    ssl.create_default_context(cafile=str(paths.ca)).load_cert_chain(paths.cert, paths.key)
    assert paths.key.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("name", "host"), [("localhost", "127.0.0.1"), ("127.0.0.1", "127.0.0.1")])
def test_certificate_verifies_for_loopback_names(tmp_path: Path, name: str, host: str) -> None:
    generate_dev_certificates(tmp_path)
    assert handshake(tmp_path, name, host) == "localhost"


def test_extra_hostnames_are_in_the_certificate_and_verify(tmp_path: Path) -> None:
    paths = generate_dev_certificates(tmp_path, ["s3.dev.test", "10.1.2.3"], days=30)
    cert = x509.load_pem_x509_certificate(paths.cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "s3.dev.test"} <= set(san.get_values_for_type(x509.DNSName))
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", "::1", "10.1.2.3"}
    handshake(tmp_path, "s3.dev.test")


def test_wrong_hostname_is_rejected(tmp_path: Path) -> None:
    generate_dev_certificates(tmp_path)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(tmp_path, "evil.example")


def test_cli_generate_prints_paths_and_refuses_to_overwrite(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "certs"
    assert cli.main(["cert", "generate", "--out-dir", str(out_dir), "--hostname", "minio.local"]) == 0
    out = capsys.readouterr().out
    for name in ("ca.pem", "cert.pem", "key.pem"):
        assert str(out_dir / name) in out and (out_dir / name).is_file()
    assert cli.main(["cert", "generate", "--out-dir", str(out_dir)]) == 1
    assert "exists" in capsys.readouterr().err
    assert cli.main(["cert", "generate", "--out-dir", str(out_dir), "--force", "--days", "1"]) == 0
    assert cli.main(["cert", "generate", "--out-dir", str(tmp_path / "x"), "--days", "0"]) == 2
