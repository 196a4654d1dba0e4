"""Versioning, tagging and storage classes end to end: boto3 against a running smarts3 on both storage adapters."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from smarts3.testing import RunningServer, running_server


@pytest.fixture(scope="module", params=["memory", "filesystem"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    data_dir: Path | None = tmp_path_factory.mktemp("versioning") if request.param == "filesystem" else None
    with running_server(data_dir=data_dir) as running:
        yield running


@pytest.fixture(scope="module")
def s3(server: RunningServer) -> Any:
    return server.client()


def _bucket(s3: Any, *, versioning: str | None = "Enabled") -> str:
    name = f"v-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    if versioning is not None:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})
    return name


def _error(call: Any, **kwargs: Any) -> tuple[str, int, dict[str, str]]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    response = info.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["ResponseMetadata"]["HTTPHeaders"],
    )


def test_never_enabled_bucket_answers_versioning_without_status(s3: Any) -> None:
    bucket = _bucket(s3, versioning=None)
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_each_write_gets_a_version_readable_by_id(s3: Any) -> None:
    bucket = _bucket(s3)
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    assert first != second
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=first)["Body"].read() == b"one"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    assert s3.head_object(Bucket=bucket, Key="k", VersionId=first)["VersionId"] == first
    copied = s3.copy_object(
        Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k", "VersionId": first}
    )
    assert copied["CopySourceVersionId"] == first
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"one"


def test_latest_delete_marker_makes_get_and_head_404_with_marker_headers(s3: Any) -> None:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    for call in (s3.get_object, s3.head_object):
        _code, status, headers = _error(call, Bucket=bucket, Key="k")
        assert status == 404
        assert headers["x-amz-delete-marker"] == "true"
        assert headers["x-amz-version-id"] == marker
    assert _error(s3.get_object, Bucket=bucket, Key="k")[0] == "NoSuchKey"


def test_delete_marker_addressed_by_id_is_405_method_not_allowed(s3: Any) -> None:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    code, status, headers = _error(s3.get_object, Bucket=bucket, Key="k", VersionId=marker)
    assert (code, status) == ("MethodNotAllowed", 405)
    assert headers["x-amz-delete-marker"] == "true"
    assert headers["x-amz-version-id"] == marker
    assert _error(s3.head_object, Bucket=bucket, Key="k", VersionId=marker)[1] == 405


def test_deleting_the_marker_by_id_brings_the_object_back(s3: Any) -> None:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"back")
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    removed = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    assert removed["DeleteMarker"] is True and removed["VersionId"] == marker
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"back"


def test_unknown_version_is_no_such_version_and_malformed_id_is_invalid_argument(s3: Any) -> None:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    unknown = "0" * 32
    assert _error(s3.get_object, Bucket=bucket, Key="k", VersionId=unknown)[:2] == ("NoSuchVersion", 404)
    assert _error(s3.head_object, Bucket=bucket, Key="k", VersionId=unknown)[1] == 404
    assert _error(s3.get_object_tagging, Bucket=bucket, Key="k", VersionId=unknown)[0] == "NoSuchVersion"
    for call in (s3.get_object, s3.delete_object, s3.get_object_tagging):
        assert _error(call, Bucket=bucket, Key="k", VersionId="not-a-version")[:2] == ("InvalidArgument", 400)
    code, status, _ = _error(
        s3.copy_object, Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "k", "VersionId": "bad"}
    )
    assert (code, status) == ("InvalidArgument", 400)


def test_delete_objects_reports_versions_and_delete_markers(s3: Any) -> None:
    bucket = _bucket(s3)
    v1 = s3.put_object(Bucket=bucket, Key="a", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="a", Body=b"2")
    s3.put_object(Bucket=bucket, Key="b", Body=b"b")
    result = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "a", "VersionId": v1}, {"Key": "b"}, {"Key": "c", "VersionId": "bogus"}]},
    )
    deleted = {d["Key"]: d for d in result["Deleted"]}
    assert deleted["a"]["VersionId"] == v1 and "DeleteMarker" not in deleted["a"]
    assert deleted["b"]["DeleteMarker"] is True and deleted["b"]["DeleteMarkerVersionId"]
    assert [(e["Key"], e["Code"]) for e in result["Errors"]] == [("c", "NoSuchVersion")]
    marker = deleted["b"]["DeleteMarkerVersionId"]
    again = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b", "VersionId": marker}]})
    assert again["Deleted"] == [
        {"Key": "b", "VersionId": marker, "DeleteMarker": True, "DeleteMarkerVersionId": marker}
    ]
    assert s3.get_object(Bucket=bucket, Key="b")["Body"].read() == b"b"
    versions = s3.list_object_versions(Bucket=bucket, Prefix="a")["Versions"]
    assert [v["VersionId"] != v1 for v in versions] == [True]


def test_list_object_versions_newest_first_with_markers_pagination_and_delimiter(s3: Any) -> None:
    bucket = _bucket(s3)
    ids: dict[str, list[str]] = {}
    for key in ("a", "b", "dir/x", "dir/y"):
        ids[key] = [s3.put_object(Bucket=bucket, Key=key, Body=b"%d" % i)["VersionId"] for i in range(3)]
    marker = s3.delete_object(Bucket=bucket, Key="b")["VersionId"]

    full = s3.list_object_versions(Bucket=bucket)
    seen = [(v["Key"], v["VersionId"], v["IsLatest"]) for v in full["Versions"]]
    assert [s for s in seen if s[0] == "a"] == [
        ("a", ids["a"][2], True),
        ("a", ids["a"][1], False),
        ("a", ids["a"][0], False),
    ]
    assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in full["DeleteMarkers"]] == [("b", marker, True)]

    pages: list[tuple[str, str]] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "MaxKeys": 2}
    for _ in range(20):
        page = s3.list_object_versions(**kwargs)
        entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
        assert len(entries) <= 2
        pages += [(e["Key"], e["VersionId"]) for e in entries]
        if not page["IsTruncated"]:
            break
        kwargs.update(KeyMarker=page["NextKeyMarker"], VersionIdMarker=page["NextVersionIdMarker"])
    expected = {(k, v) for k, vs in ids.items() for v in vs} | {("b", marker)}
    assert sorted(pages) == sorted(expected) and len(pages) == len(expected)

    resumed = s3.list_object_versions(Bucket=bucket, KeyMarker="a", VersionIdMarker=ids["a"][2])
    assert [v["VersionId"] for v in resumed["Versions"] if v["Key"] == "a"] == [ids["a"][1], ids["a"][0]]

    grouped = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["dir/"]
    assert {v["Key"] for v in grouped["Versions"]} == {"a", "b"}
    inside = s3.list_object_versions(Bucket=bucket, Prefix="dir/", KeyMarker="dir/x")
    assert {v["Key"] for v in inside["Versions"]} == {"dir/y"}


def test_list_object_versions_url_encodes_keys_when_asked(s3: Any) -> None:
    from urllib.parse import unquote_plus

    bucket = _bucket(s3)
    key = "dir/a b+c\u00e9"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    # botocore leaves the values encoded when the caller asks for EncodingType itself
    page = s3.list_object_versions(Bucket=bucket, EncodingType="url", Prefix="dir/", Delimiter="+")
    assert page["EncodingType"] == "url"
    (raw,) = [p["Prefix"] for p in page["CommonPrefixes"]]
    assert " " not in raw and unquote_plus(raw) == "dir/a b+"
    plain = s3.list_object_versions(Bucket=bucket, EncodingType="url")["Versions"][0]["Key"]
    assert plain != key and unquote_plus(plain) == key


def test_suspended_bucket_writes_the_null_version_and_replaces_it(s3: Any) -> None:
    bucket = _bucket(s3)
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"enabled")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    # S3 answers a suspended bucket's PUT without x-amz-version-id (PutObject "Versioning suspended" example)
    assert "VersionId" not in s3.put_object(Bucket=bucket, Key="k", Body=b"null-1")
    assert "VersionId" not in s3.put_object(Bucket=bucket, Key="k", Body=b"null-2")
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True), (kept, False)]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"null-2"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"


def test_object_tags_are_per_version(s3: Any) -> None:
    bucket = _bucket(s3)
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="gen=old")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"2", Tagging="gen=new&x=y")
    assert s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=old)["TagSet"] == [
        {"Key": "gen", "Value": "old"}
    ]
    s3.put_object_tagging(
        Bucket=bucket, Key="k", VersionId=old, Tagging={"TagSet": [{"Key": "gen", "Value": "older"}]}
    )
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 2
    assert s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=old)["TagSet"][0]["Value"] == "older"
    s3.delete_object_tagging(Bucket=bucket, Key="k", VersionId=old)
    assert s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=old)["TagSet"] == []
    assert len(s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]) == 2


def test_storage_class_is_reported_by_head_get_and_every_listing(s3: Any) -> None:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="ia", Body=b"x", StorageClass="STANDARD_IA")
    s3.put_object(Bucket=bucket, Key="std", Body=b"x")
    assert s3.head_object(Bucket=bucket, Key="ia")["StorageClass"] == "STANDARD_IA"
    assert s3.get_object(Bucket=bucket, Key="ia")["StorageClass"] == "STANDARD_IA"
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="std")
    expected = {"ia": "STANDARD_IA", "std": "STANDARD"}
    assert {o["Key"]: o["StorageClass"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]} == expected
    assert {o["Key"]: o["StorageClass"] for o in s3.list_objects(Bucket=bucket)["Contents"]} == expected
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert {v["Key"]: v["StorageClass"] for v in versions} == expected

    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", StorageClass="GLACIER_IR")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"abc")
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload)["StorageClass"] == "GLACIER_IR"
    assert s3.list_multipart_uploads(Bucket=bucket)["Uploads"][0]["StorageClass"] == "GLACIER_IR"
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert s3.head_object(Bucket=bucket, Key="mp")["StorageClass"] == "GLACIER_IR"
    copied = s3.copy_object(
        Bucket=bucket, Key="cp", CopySource={"Bucket": bucket, "Key": "ia"}, StorageClass="ONEZONE_IA"
    )
    assert copied["VersionId"]
    assert s3.head_object(Bucket=bucket, Key="cp")["StorageClass"] == "ONEZONE_IA"


def test_unknown_storage_class_is_refused(s3: Any) -> None:
    bucket = _bucket(s3)
    code, status, _ = _error(s3.put_object, Bucket=bucket, Key="k", Body=b"x", StorageClass="FAST")
    assert (code, status) == ("InvalidStorageClass", 400)
    assert _error(s3.create_multipart_upload, Bucket=bucket, Key="k", StorageClass="FAST")[0] == (
        "InvalidStorageClass"
    )


def test_version_id_marker_needs_a_key_marker(s3: Any) -> None:
    bucket = _bucket(s3)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    code, status, _ = _error(s3.list_object_versions, Bucket=bucket, VersionIdMarker=version)
    assert (code, status) == ("InvalidArgument", 400)
    assert _error(s3.list_object_versions, Bucket=bucket, KeyMarker="k", VersionIdMarker="junk")[0] == (
        "InvalidArgument"
    )
