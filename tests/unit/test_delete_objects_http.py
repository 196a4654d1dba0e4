"""DeleteObjects (POST ?delete) over HTTP: Quiet mode, per-key results, the required integrity header,
MalformedXML. (XML hostility and the 1000-key limit are covered at the decoder in test_xml_decode.)"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from smarts3.testing import running_server
from smarts3.testing.server import RunningServer

BUCKET = "batch-delete"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with running_server() as s3:
        s3.client().create_bucket(Bucket=BUCKET)
        yield s3


def signed_post(server: RunningServer, body: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST ?delete signed with SigV4 exactly as given (boto3 would add a checksum header itself)."""
    url = f"{server.endpoint_url}/{BUCKET}?delete"
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    credentials = Credentials(server.access_key, server.secret_key)
    S3SigV4Auth(credentials, "s3", server.region).add_auth(request)
    return httpx.post(url, content=body, headers=dict(request.headers.items()))


def delete_document(keys: list[str], quiet: bool = False) -> bytes:
    objects = "".join(f"<Object><Key>{k}</Key></Object>" for k in keys)
    return f"<Delete><Quiet>{str(quiet).lower()}</Quiet>{objects}</Delete>".encode()


def md5_header(body: bytes) -> dict[str, str]:
    return {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}


def put_keys(server: RunningServer, keys: list[str]) -> None:
    client = server.client()
    for key in keys:
        client.put_object(Bucket=BUCKET, Key=key, Body=key.encode())


def remaining(server: RunningServer, prefix: str) -> list[str]:
    listing = server.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for o in listing.get("Contents", [])]


def test_delete_objects_reports_each_deleted_key(server: RunningServer) -> None:
    put_keys(server, ["loud/a", "loud/b"])
    result = server.client().delete_objects(
        Bucket=BUCKET, Delete={"Objects": [{"Key": "loud/a"}, {"Key": "loud/b"}, {"Key": "loud/never"}]}
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["loud/a", "loud/b", "loud/never"]
    assert remaining(server, "loud/") == []


def test_quiet_mode_reports_only_errors(server: RunningServer) -> None:
    put_keys(server, ["quiet/a", "quiet/b"])
    body = delete_document(["quiet/a", "quiet/b"], quiet=True)
    response = signed_post(server, body, md5_header(body))
    assert response.status_code == 200, response.text
    assert "<Deleted>" not in response.text
    assert "<Error>" not in response.text
    assert remaining(server, "quiet/") == []


def test_a_failing_key_gets_an_error_entry_and_the_others_are_still_deleted(server: RunningServer) -> None:
    put_keys(server, ["mixed/a"])
    result = server.client().delete_objects(
        Bucket=BUCKET,
        Delete={"Objects": [{"Key": "mixed/a"}, {"Key": "mixed/b", "VersionId": "no-such-version"}]},
    )
    assert [d["Key"] for d in result["Deleted"]] == ["mixed/a"]
    assert [(e["Key"], e["VersionId"]) for e in result["Errors"]] == [("mixed/b", "no-such-version")]
    assert result["Errors"][0]["Code"]
    assert remaining(server, "mixed/") == []


def test_request_without_content_md5_or_checksum_is_refused(server: RunningServer) -> None:
    put_keys(server, ["guarded/a"])
    response = signed_post(server, delete_document(["guarded/a"]), {})
    assert response.status_code == 400
    assert "<Code>MissingSecurityHeader</Code>" in response.text
    assert remaining(server, "guarded/") == ["guarded/a"]


def test_wrong_content_md5_is_bad_digest_and_deletes_nothing(server: RunningServer) -> None:
    put_keys(server, ["digest/a"])
    body = delete_document(["digest/a"])
    response = signed_post(server, body, md5_header(b"something else"))
    assert response.status_code == 400
    assert "<Code>BadDigest</Code>" in response.text
    assert remaining(server, "digest/") == ["digest/a"]


@pytest.mark.parametrize(
    "body",
    [
        b"<Delete><Object><Key>x</Key>",
        b"not xml at all",
        b"<Delete></Delete>",
        b'<!DOCTYPE d [<!ENTITY e "boom">]><Delete><Object><Key>&e;</Key></Object></Delete>',
    ],
)
def test_malformed_or_hostile_document_is_malformed_xml(server: RunningServer, body: bytes) -> None:
    response = signed_post(server, body, md5_header(body))
    assert response.status_code == 400
    assert "<Code>MalformedXML</Code>" in response.text


def test_more_than_1000_keys_is_malformed_xml(server: RunningServer) -> None:
    body = delete_document([f"many/{i}" for i in range(1001)])
    response = signed_post(server, body, md5_header(body))
    assert response.status_code == 400
    assert "<Code>MalformedXML</Code>" in response.text


@pytest.mark.parametrize("content_md5", ["not base64!", base64.b64encode(b"short").decode()])
def test_malformed_content_md5_is_invalid_digest_and_deletes_nothing(
    server: RunningServer, content_md5: str
) -> None:
    put_keys(server, ["digest/a"])
    response = signed_post(server, delete_document(["digest/a"]), {"Content-MD5": content_md5})
    assert response.status_code == 400
    assert "<Code>InvalidDigest</Code>" in response.text
    assert remaining(server, "digest/") == ["digest/a"]


def test_delete_object_with_if_match_deletes_only_that_etag(server: RunningServer) -> None:
    """DeleteObject's If-Match (S3 since 2025): 412 on another ETag (the object stays), 404 when absent."""
    from botocore.exceptions import ClientError

    s3 = server.client()
    etag = s3.put_object(Bucket=BUCKET, Key="ifmatch-one", Body=b"v1")["ETag"]
    with pytest.raises(ClientError) as caught:
        s3.delete_object(Bucket=BUCKET, Key="ifmatch-one", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert caught.value.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.get_object(Bucket=BUCKET, Key="ifmatch-one")["Body"].read() == b"v1"
    s3.delete_object(Bucket=BUCKET, Key="ifmatch-one", IfMatch=etag)
    with pytest.raises(ClientError) as caught:
        s3.delete_object(Bucket=BUCKET, Key="ifmatch-one", IfMatch=etag)
    assert caught.value.response["Error"]["Code"] == "NoSuchKey"


def test_delete_object_version_with_if_match(server: RunningServer) -> None:
    s3 = server.client()
    s3.create_bucket(Bucket="guarded-versions")
    s3.put_bucket_versioning(Bucket="guarded-versions", VersioningConfiguration={"Status": "Enabled"})
    put = s3.put_object(Bucket="guarded-versions", Key="k", Body=b"v1")
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        s3.delete_object(Bucket="guarded-versions", Key="k", VersionId=put["VersionId"], IfMatch='"nope"')
    assert caught.value.response["Error"]["Code"] == "PreconditionFailed"
    s3.delete_object(Bucket="guarded-versions", Key="k", VersionId=put["VersionId"], IfMatch=put["ETag"])
    assert s3.list_object_versions(Bucket="guarded-versions").get("Versions", []) == []


def test_delete_objects_honours_each_objects_etag(server: RunningServer) -> None:
    s3 = server.client()
    good = s3.put_object(Bucket=BUCKET, Key="e-good", Body=b"a")["ETag"]
    s3.put_object(Bucket=BUCKET, Key="e-bad", Body=b"b")
    result = s3.delete_objects(
        Bucket=BUCKET,
        Delete={"Objects": [{"Key": "e-good", "ETag": good}, {"Key": "e-bad", "ETag": '"nope"'}]},
    )
    assert [d["Key"] for d in result.get("Deleted", [])] == ["e-good"]
    assert [(e["Key"], e["Code"]) for e in result.get("Errors", [])] == [("e-bad", "PreconditionFailed")]
    assert s3.get_object(Bucket=BUCKET, Key="e-bad")["Body"].read() == b"b"
