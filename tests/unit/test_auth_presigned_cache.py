"""Presigned GET/HEAD verification results are reused, but never past expiry and never for another request."""

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
