"""Request authentication for smarts3: SigV4 (header and presigned), SigV2, aws-chunked bodies, POST policies.

The HTTP layer builds a :class:`RequestView`, calls :meth:`Authenticator.authenticate`, then wraps the body
with :func:`decode_body`. Browser form uploads go through :func:`verify_post_policy` and
:func:`check_conditions`.
"""

from smarts3.adapters.auth.authenticator import Authenticator
from smarts3.adapters.auth.chunked import (
    ChunkedDecoder,
    DecodedBody,
    decode_body,
    is_aws_chunked,
    parse_content_md5,
    stored_content_encoding,
)
from smarts3.adapters.auth.credentials import CredentialStore, StaticCredentials
from smarts3.adapters.auth.post_policy import (
    Condition,
    PolicyCheck,
    check_conditions,
    content_length_range,
    verify_post_policy,
)
from smarts3.adapters.auth.request import AuthResult, RequestView
from smarts3.adapters.auth.sigv4 import signing_key

__all__ = [
    "AuthResult",
    "Authenticator",
    "ChunkedDecoder",
    "Condition",
    "CredentialStore",
    "DecodedBody",
    "PolicyCheck",
    "RequestView",
    "StaticCredentials",
    "check_conditions",
    "content_length_range",
    "decode_body",
    "is_aws_chunked",
    "parse_content_md5",
    "signing_key",
    "stored_content_encoding",
    "verify_post_policy",
]
