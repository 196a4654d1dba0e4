"""Server-side encryption request headers: what smarts3 accepts, and the S3 error for the rest.

smarts3 keeps objects as plain files and has no key management, so:

- ``x-amz-server-side-encryption: AES256`` (SSE-S3, what AWS applies to every object by default) is accepted,
  stored with the object and answered on PUT, GET and HEAD, as S3 does. The bytes on disk are protected by the
  disk, not by smarts3: the header records the client's request, it does not encrypt.
- SSE-KMS (``aws:kms``, ``aws:kms:dsse``, a KMS key id or encryption context) and SSE-C (customer keys, for the
  object or for a copy source) are answered ``501 NotImplemented`` rather than silently storing in the clear
  what the client asked to have encrypted.
- Any other ``x-amz-server-side-encryption`` value is ``400 InvalidArgument``, as in S3.
"""

from __future__ import annotations

from collections.abc import Mapping

from smarts3.adapters.http.wire import Response
from smarts3.domain.errors import InvalidArgument, NotImplementedS3

SSE_HEADER = "x-amz-server-side-encryption"
SSE_S3 = "AES256"
_KMS = ("aws:kms", "aws:kms:dsse")
_KMS_HEADERS = (
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context",
)
_CUSTOMER_PREFIXES = (
    "x-amz-server-side-encryption-customer-",
    "x-amz-copy-source-server-side-encryption-customer-",
)


def check_encryption_headers(headers: Mapping[str, str]) -> None:
    """Raise the S3 error for encryption a request asks for and smarts3 cannot provide (see the module)."""
    if not any(name.startswith(SSE_HEADER) or name.startswith(_CUSTOMER_PREFIXES[1]) for name in headers):
        return
    if any(name.startswith(_CUSTOMER_PREFIXES) for name in headers):
        raise NotImplementedS3(
            "Server-side encryption with customer-provided keys (SSE-C) is not implemented by smarts3."
        )
    value = headers.get(SSE_HEADER)
    if value in _KMS or any(name in headers for name in _KMS_HEADERS):
        raise NotImplementedS3("Server-side encryption with AWS KMS keys (SSE-KMS) is not implemented by smarts3.")
    if value is not None and value != SSE_S3:
        raise InvalidArgument(
            "The encryption method specified is not supported",
            extra={"ArgumentName": SSE_HEADER, "ArgumentValue": value},
        )


def add_encryption_header(response: Response, stored: Mapping[str, str]) -> None:
    """``x-amz-server-side-encryption`` on a write's response, when the object records it."""
    value = stored.get(SSE_HEADER)
    if value:
        response.add(SSE_HEADER, value)
