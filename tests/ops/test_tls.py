"""The shipped example configs: each loads with `smarts3 config check`, and the TLS ones serve HTTPS that boto3
verifies against the CA written by `smarts3 cert generate`.

Deployment-specific values (certificate paths, listen address, credentials) come from SMARTS3_* variables,
as the comments in the examples tell an operator to do.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from smarts3.testing.server import free_port

from opskit import ACCESS_KEY, SECRET_KEY, clean_env, start_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def smarts3(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smarts3.entrypoints.cli", *args], capture_output=True,
                          text=True, env=clean_env(env), cwd=cwd, timeout=60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certs")
    result = smarts3("cert", "generate", "--out-dir", str(out))
    assert result.returncode == 0, result.stderr
    assert {p.name for p in out.iterdir()} >= {"ca.pem", "cert.pem", "key.pem"}
    return out


def deployment_env(certs: Path) -> dict[str, str]:
    return {
        "SMARTS3_SERVER_HOST": "127.0.0.1",
        "SMARTS3_SERVER_SSL_CERT": str(certs / "cert.pem"),
        "SMARTS3_SERVER_SSL_KEY": str(certs / "key.pem"),
        "SMARTS3_AUTH_CREDENTIALS": f"{ACCESS_KEY}:{SECRET_KEY}",
    }


@pytest.mark.parametrize("name", ["smarts3.production.toml", "smarts3.ci.yaml", "smarts3.config.json",
                                  "smarts3.dev.toml"])
def test_example_config_passes_config_check(name: str, certs: Path, tmp_path: Path) -> None:
    result = smarts3("config", "check", str(EXAMPLES / name), env=deployment_env(certs), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{EXAMPLES / name}: ok"


def test_production_example_without_certificates_or_credentials_is_refused(tmp_path: Path) -> None:
    result = smarts3("config", "check", str(EXAMPLES / "smarts3.production.toml"), cwd=tmp_path)
    assert result.returncode == 2
    assert "server.ssl.cert" in result.stderr and "auth.credentials" in result.stderr


def boto3_client(endpoint: str, ca: Path, access_key: str, secret_key: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
        verify=str(ca),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


@pytest.mark.parametrize(
    ("name", "credentials"),
    [
        ("smarts3.production.toml", (ACCESS_KEY, SECRET_KEY)),
        # the plan's config: its own inline example credentials, plan-shaped keys (address, accessLog {...})
        ("smarts3.config.json", ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")),
    ],
)
def test_example_config_serves_https_that_boto3_verifies_with_the_generated_ca(
    name: str, credentials: tuple[str, str], certs: Path, tmp_path: Path
) -> None:
    env = deployment_env(certs)
    env["SMARTS3_SERVER_WORKERS"] = "2"  # the production example's 4 are more than a test machine needs
    redirect_port = free_port()
    env["SMARTS3_SERVER_SSL_REDIRECT_HTTP_PORT"] = str(redirect_port)
    if name.endswith(".json"):
        env.pop("SMARTS3_AUTH_CREDENTIALS")
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    server = start_server(tmp_path, "--config", str(EXAMPLES / name), env=env, auth=True, tls_context=context,
                          test_credentials=name.endswith(".toml"))
    try:
        endpoint = f"https://localhost:{server.port}"
        s3 = boto3_client(endpoint, certs / "ca.pem", *credentials)
        s3.create_bucket(Bucket="tls-bucket")
        s3.put_object(Bucket="tls-bucket", Key="dir/hello.txt", Body=b"over TLS")
        assert s3.get_object(Bucket="tls-bucket", Key="dir/hello.txt")["Body"].read() == b"over TLS"
        listing = s3.list_objects_v2(Bucket="tls-bucket")
        assert [item["Key"] for item in listing["Contents"]] == ["dir/hello.txt"]

        # a client that does not trust the CA is refused by its own verification
        untrusted = boto3_client(endpoint, Path(certifi_bundle()), *credentials)
        with pytest.raises(Exception, match=r"(?i)certificate verify failed"):
            untrusted.list_buckets()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        with pytest.raises(urllib.error.HTTPError) as redirect:
            urllib.request.build_opener(NoRedirect).open(f"http://127.0.0.1:{redirect_port}/tls-bucket", timeout=5)
        assert redirect.value.code == 301
        assert redirect.value.headers["location"] == f"https://127.0.0.1:{server.port}/tls-bucket"
        # Idle keep-alive TLS connections hold a graceful shutdown until they close (the server's
        # close_notify waits for the client's): a well-behaved client closes its pool when done.
        s3.close()
        untrusted.close()
    finally:
        assert server.stop() == 0
    assert (server.data_dir / "tls-bucket" / "dir" / "hello.txt").read_bytes() == b"over TLS"


def default_tls_client(port: int, certs: Path) -> Any:
    """boto3 with its defaults (retries, checksums, pooling), as a user has it, trusting the generated CA."""
    return boto3.client(
        "s3",
        endpoint_url=f"https://localhost:{port}",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        verify=str(certs / "ca.pem"),
    )


def certifi_bundle() -> str:
    import certifi

    return str(certifi.where())


def test_sigterm_with_an_idle_tls_keep_alive_client_exits_promptly(certs: Path, tmp_path: Path) -> None:
    """An idle pooled TLS connection used to hold shutdown for the whole grace period (close_notify wait)."""
    import signal
    import time

    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    server = start_server(
        tmp_path,
        "--tls-cert", str(certs / "cert.pem"), "--tls-key", str(certs / "key.pem"),
        "--shutdown-grace", "10",
        auth=True,
        tls_context=context,
    )
    try:
        client = default_tls_client(server.port, certs)
        client.list_buckets()  # leaves a keep-alive connection idle in boto3's pool
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        assert server.wait(timeout=9) == 0
        assert time.monotonic() - started < 5
        del client
    finally:
        server.stop()


def test_an_upload_refused_before_its_body_leaves_boto3s_https_connection_usable(
    certs: Path, tmp_path: Path
) -> None:
    """boto3 over HTTPS sends PutObject as ``Transfer-Encoding: chunked`` (its aws-chunked CRC32 trailer) with
    ``Expect: 100-continue``; answered early (no such bucket, a key too long, an unknown storage class), it
    never sends the body. The connection used to stay open and parse boto3's next request as that body: 400."""
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    server = start_server(
        tmp_path, "--tls-cert", str(certs / "cert.pem"), "--tls-key", str(certs / "key.pem"),
        auth=True, tls_context=context,
    )
    try:
        s3 = default_tls_client(server.port, certs)
        s3.create_bucket(Bucket="kept")
        refusals = [
            (lambda: s3.put_object(Bucket="missing", Key="k", Body=b"x" * 100), "NoSuchBucket"),
            (lambda: s3.put_object(Bucket="kept", Key="k" * 1025, Body=b"x" * 100), "KeyTooLongError"),
            (lambda: s3.put_object(Bucket="kept", Key="k", Body=b"x" * 100, StorageClass="NOPE"),
             "InvalidStorageClass"),
            (lambda: s3.upload_part(Bucket="kept", Key="k", UploadId="nope", PartNumber=1, Body=b"x" * 100),
             "NoSuchUpload"),
        ]
        for call, code in refusals:
            with pytest.raises(ClientError) as refused:
                call()
            assert refused.value.response["Error"]["Code"] == code
            # the next requests travel on the pooled connection: each must be understood
            assert s3.list_objects_v2(Bucket="kept")["KeyCount"] == 0
        s3.put_object(Bucket="kept", Key="after", Body=b"still fine")
        assert s3.get_object(Bucket="kept", Key="after")["Body"].read() == b"still fine"
        s3.close()
    finally:
        assert server.stop() == 0
