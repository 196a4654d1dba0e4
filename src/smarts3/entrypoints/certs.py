"""``smarts3 cert generate``: a throwaway development CA and a server certificate it signs.

The CA's private key is never written, so the CA can sign nothing else: trust ``ca.pem`` in a client (boto3
``verify=``, ``AWS_CA_BUNDLE``, curl ``--cacert``) and serve ``cert.pem``/``key.pem``. For development only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["DEFAULT_HOSTNAMES", "GeneratedCertificates", "generate_dev_certificates"]

DEFAULT_HOSTNAMES = ("localhost", "127.0.0.1", "::1")


class GeneratedCertificates:
    """Paths of the files written by :func:`generate_dev_certificates`."""

    def __init__(self, ca: Path, cert: Path, key: Path) -> None:
        self.ca, self.cert, self.key = ca, cert, key


def _san(names: Iterable[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    seen: set[str] = set()
    for name in names:
        name = name.strip()
        if not name or name in seen:
            continue
        seen.add(name)
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name.strip("[]"))))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def generate_dev_certificates(
    out_dir: str | Path,
    hostnames: Iterable[str] = (),
    days: int = 825,
    *,
    overwrite: bool = False,
) -> GeneratedCertificates:
    """Write ``ca.pem``, ``cert.pem`` and ``key.pem`` (mode 0600) to ``out_dir``.

    The server certificate names localhost, 127.0.0.1 and ::1 plus ``hostnames`` (DNS names or IP addresses).
    Raises ``FileExistsError`` when a file exists and ``overwrite`` is false, ``ValueError`` for bad ``days``.
    """
    if days < 1:
        raise ValueError(f"days = {days}: must be at least 1")
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    paths = GeneratedCertificates(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    if not overwrite:
        for path in (paths.ca, paths.cert, paths.key):
            if path.exists():
                raise FileExistsError(f"{path} exists (use --force to replace it)")

    now = dt.datetime.now(dt.UTC)
    not_before = now - dt.timedelta(minutes=5)  # tolerate small clock differences
    not_after = now + dt.timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smarts3 development"),
        x509.NameAttribute(NameOID.COMMON_NAME, "smarts3 development CA"),
    ])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    names = [*DEFAULT_HOSTNAMES, *hostnames]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smarts3 development"),
            x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
        ]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(_san(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    paths.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    if paths.key.exists():
        paths.key.unlink()
    fd = os.open(paths.key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem)
    return paths
