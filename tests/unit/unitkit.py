"""Helpers shared by unit tests that talk to a running server through boto3."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def status(call: Any, **kwargs: Any) -> tuple[int, str | None]:
    """``call(**kwargs)``'s HTTP status and S3 error code (None on success)."""
    try:
        response = call(**kwargs)
    except ClientError as error:
        return error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"]
    return response["ResponseMetadata"]["HTTPStatusCode"], None
