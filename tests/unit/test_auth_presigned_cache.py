"""Presigned verification results are reused, but never past expiry and never for another request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from test_auth_sigv4 import AK, SECRET, _url, presign, view

from smarts3.adapters.auth import Authenticator
from smarts3.domain.errors import AccessDenied, SignatureDoesNotMatch


class MovableClock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def test_repeated_presigned_get_is_accepted_from_cache() -> None:
    auth = Authenticator({AK: SECRET})
    request = view(presign("GET", _url("photo.jpg")))
    first = auth.authenticate(request)
    second = auth.authenticate(request)
    assert first.access_key == second.access_key == AK
    assert len(auth._v4._presigned) == 1


@pytest.fixture
def rebuilt(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """One entry per signature rebuilt and compared in full (not answered from a cache)."""
    from smarts3.adapters.auth import sigv4

    calls: list[object] = []
    real_verify = sigv4._verify
    monkeypatch.setattr(sigv4, "_verify", lambda *a, **kw: calls.append(1) or real_verify(*a, **kw))
    return calls


def test_a_presigned_put_url_used_again_is_accepted_from_cache(rebuilt: list[object]) -> None:
    """An upload URL handed out once is used for every retry (and by load tests): its signature covers no body."""
    auth = Authenticator({AK: SECRET})
    request = view(presign("PUT", _url("upload.bin")))
    first = auth.authenticate(request)
    rebuilt.clear()
    assert auth.authenticate(request) == first and rebuilt == []
    # a payload hash header changes how the body is read: never from the cache
    hashed = view(
        presign("PUT", _url("upload.bin")),
        headers={**request.headers, "x-amz-content-sha256": "UNSIGNED-PAYLOAD"},
    )
    assert auth._v4.cached_presigned(hashed) is None
    # another method on the same URL is another signature
    with pytest.raises(SignatureDoesNotMatch):
        auth.authenticate(view(presign("PUT", _url("upload.bin")), method="DELETE"))


def test_cached_presigned_url_still_expires() -> None:
    clock = MovableClock()
    auth = Authenticator({AK: SECRET}, clock=clock)
    request = view(presign("GET", _url("photo.jpg"), expires=60))
    auth.authenticate(request)
    clock.offset = timedelta(seconds=120)
    with pytest.raises(AccessDenied):
        auth.authenticate(request)


def test_cached_result_does_not_cover_a_tampered_query_or_method() -> None:
    auth = Authenticator({AK: SECRET})
    good = presign("GET", _url("photo.jpg"))
    auth.authenticate(view(good))
    tampered = view(
        good, query_string=view(good).query_string.replace("X-Amz-Expires=300", "X-Amz-Expires=301")
    )
    with pytest.raises(SignatureDoesNotMatch):
        auth.authenticate(tampered)
    with pytest.raises(SignatureDoesNotMatch):
        auth.authenticate(view(good, method="DELETE"))


def test_cached_result_does_not_cover_another_host() -> None:
    auth = Authenticator({AK: SECRET})
    good = presign("GET", _url("photo.jpg"))
    request = view(good)
    auth.authenticate(request)
    other_host = view(
        good, host="evil.example:9000", headers={**request.headers, "host": "evil.example:9000"}
    )
    with pytest.raises(SignatureDoesNotMatch):
        auth.authenticate(other_host)


def test_a_header_signed_get_sent_again_is_accepted_without_rebuilding_its_signature(
    rebuilt: list[object],
) -> None:
    from test_auth_sigv4 import sign_header

    auth = Authenticator({AK: SECRET})
    request = view(sign_header("GET", _url("photo.jpg")))
    first = auth.authenticate(request)
    rebuilt.clear()
    assert auth.authenticate(request) == first and rebuilt == []  # the very same request: from the cache
    # anything the signature covers, changed, goes the full way and fails
    changed_host = view(sign_header("GET", _url("photo.jpg")), host="evil.example:9000")
    changed_host.headers["host"] = "evil.example:9000"
    with pytest.raises(SignatureDoesNotMatch):
        auth.authenticate(changed_host)
    with pytest.raises(SignatureDoesNotMatch):
        auth.authenticate(view(sign_header("GET", _url("photo.jpg")), method="HEAD"))
    # an x-amz-* header the client did not sign is still refused
    unsigned = view(sign_header("GET", _url("photo.jpg")))
    unsigned.headers["x-amz-meta-extra"] = "1"
    with pytest.raises(AccessDenied):
        auth.authenticate(unsigned)


def test_a_cached_header_signed_request_still_ages_out() -> None:
    from test_auth_sigv4 import sign_header

    from smarts3.domain.errors import RequestTimeTooSkewed

    clock = MovableClock()
    auth = Authenticator({AK: SECRET}, clock=clock)
    request = view(sign_header("GET", _url("photo.jpg")))
    auth.authenticate(request)
    clock.offset = timedelta(minutes=16)
    with pytest.raises(RequestTimeTooSkewed):
        auth.authenticate(request)
