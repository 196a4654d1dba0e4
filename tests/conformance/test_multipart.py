"""Multipart uploads: the whole life cycle, listings with markers, the errors, UploadPartCopy with ranges."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from s3conformance import Outcome, Run

Compare = Callable[..., dict[str, Any]]

MIB = 1024 * 1024
_PART_1 = b"a" * (5 * MIB)
_PART_2 = b"b" * (5 * MIB)
_PART_3 = b"tail"


def _multipart_etag(*parts: bytes) -> str:
    digest = hashlib.md5(b"".join(hashlib.md5(part).digest() for part in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'


def _upload(run: Run, bucket: str, key: str, **extra: Any) -> str:
    return str(run.raw("create_multipart_upload", Bucket=bucket, Key=key, **extra)["UploadId"])


def test_multipart_upload_round_trip_with_md5_dash_n_etag(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        created = run.call(
            "create_multipart_upload", Bucket=bucket, Key="big", ContentType="text/plain", Metadata={"m": "1"}
        )
        upload_id = run.raw("list_multipart_uploads", Bucket=bucket)["Uploads"][0]["UploadId"]
        part_1 = run.call(
            "upload_part", Bucket=bucket, Key="big", UploadId=upload_id, PartNumber=1, Body=_PART_1
        )
        part_2 = run.call(
            "upload_part", Bucket=bucket, Key="big", UploadId=upload_id, PartNumber=2, Body=_PART_2
        )
        part_3 = run.call(
            "upload_part", Bucket=bucket, Key="big", UploadId=upload_id, PartNumber=3, Body=_PART_3
        )
        parts = [{"PartNumber": n, "ETag": p["etag"]} for n, p in ((1, part_1), (2, part_2), (3, part_3))]
        completed = run.call(
            "complete_multipart_upload",
            Bucket=bucket,
            Key="big",
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
        )
        # moto names a version ("null") on an unversioned bucket; S3 does not (test_complete_on_unversioned...)
        completed.pop("x-amz-version-id", None)
        head = run.call("head_object", Bucket=bucket, Key="big")
        body = run.raw("get_object", Bucket=bucket, Key="big")["Body"]
        after = run.call("list_multipart_uploads", Bucket=bucket)
        return [
            created,
            part_1,
            part_2,
            part_3,
            completed,
            head,
            {"body-ok": body == _PART_1 + _PART_2 + _PART_3},
            after,
        ]

    outcomes = compare(scenario)
    created, part_1, _part_2, part_3, completed, head, body, after = outcomes["smarts3-fs"]
    assert created["UploadId"] == "<id-1>" and created["Key"] == "big"
    assert part_1["etag"] == f'"{hashlib.md5(_PART_1).hexdigest()}"'
    assert part_3["etag"] == f'"{hashlib.md5(_PART_3).hexdigest()}"'
    expected = _multipart_etag(_PART_1, _PART_2, _PART_3)
    assert completed["ETag"] == expected and completed["Key"] == "big"
    assert head["etag"] == expected and head["content-length"] == str(10 * MIB + 4)
    assert head["content-type"] == "text/plain" and head["x-amz-meta-m"] == "1"
    assert body == {"body-ok": True}
    assert "Uploads" not in after


def test_list_parts_pages_with_max_parts_and_part_number_marker(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        upload_id = _upload(run, bucket, "k")
        for number in (1, 2, 3, 5):
            run.raw(
                "upload_part",
                Bucket=bucket,
                Key="k",
                UploadId=upload_id,
                PartNumber=number,
                Body=b"p%d" % number,
            )
        return [
            run.call("list_parts", Bucket=bucket, Key="k", UploadId=upload_id),
            run.call("list_parts", Bucket=bucket, Key="k", UploadId=upload_id, MaxParts=2),
            run.call(
                "list_parts", Bucket=bucket, Key="k", UploadId=upload_id, MaxParts=2, PartNumberMarker=2
            ),
        ]

    outcomes = compare(scenario)
    everything, first, second = outcomes["smarts3-fs"]
    assert [p["PartNumber"] for p in everything["Parts"]] == [1, 2, 3, 5]
    assert everything["Parts"][0]["Size"] == 2 and everything["IsTruncated"] is False
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2]
    assert first["IsTruncated"] is True and first["NextPartNumberMarker"] == 2
    assert [p["PartNumber"] for p in second["Parts"]] == [3, 5] and second["IsTruncated"] is False


def test_reuploading_a_part_number_replaces_it(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        upload_id = _upload(run, bucket, "k")
        run.raw("upload_part", Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"old")
        new = run.raw("upload_part", Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"new!")
        listed = run.call("list_parts", Bucket=bucket, Key="k", UploadId=upload_id)
        run.raw(
            "complete_multipart_upload",
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": new["ETag"]}]},
        )
        return [listed, run.call("get_object", Bucket=bucket, Key="k")]

    outcomes = compare(scenario)
    listed, got = outcomes["smarts3-fs"]
    assert [(p["PartNumber"], p["Size"]) for p in listed["Parts"]] == [(1, 4)]
    assert got["Body"] == b"new!" and got["etag"] == _multipart_etag(b"new!")


def test_list_multipart_uploads_with_prefix_delimiter_and_markers(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        for key in ("a/1", "a/2", "b/1", "c"):
            _upload(run, bucket, key)
        return [
            run.call("list_multipart_uploads", Bucket=bucket),
            run.call("list_multipart_uploads", Bucket=bucket, Prefix="a/"),
            run.call("list_multipart_uploads", Bucket=bucket, Delimiter="/"),
            run.call("list_multipart_uploads", Bucket=bucket, MaxUploads=2),
            run.call("list_multipart_uploads", Bucket=bucket, KeyMarker="a/2"),
        ]

    outcomes = compare(scenario, moto_differs="D12")
    everything, prefixed, delimited, first_two, after_marker = outcomes["smarts3-fs"]
    assert [u["Key"] for u in everything["Uploads"]] == ["a/1", "a/2", "b/1", "c"]
    assert [u["Key"] for u in prefixed["Uploads"]] == ["a/1", "a/2"]
    assert [u["Key"] for u in delimited["Uploads"]] == ["c"]
    assert [p["Prefix"] for p in delimited["CommonPrefixes"]] == ["a/", "b/"]
    assert [u["Key"] for u in first_two["Uploads"]] == ["a/1", "a/2"] and first_two["IsTruncated"] is True
    assert first_two["NextKeyMarker"] == "a/2"
    assert [u["Key"] for u in after_marker["Uploads"]] == ["b/1", "c"]


def test_abort_removes_the_upload_and_its_parts(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        upload_id = _upload(run, bucket, "k")
        run.raw("upload_part", Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")
        return [
            run.call("abort_multipart_upload", Bucket=bucket, Key="k", UploadId=upload_id),
            run.call("list_parts", Bucket=bucket, Key="k", UploadId=upload_id),
            run.call("upload_part", Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=2, Body=b"x"),
            run.call("list_multipart_uploads", Bucket=bucket),
            run.call("head_object", Bucket=bucket, Key="k"),
        ]

    outcomes = compare(scenario, moto_differs="D13")
    aborted, parts, upload, listed, head = outcomes["smarts3-fs"]
    assert aborted["status"] == 204
    assert parts == upload == {"status": 404, "code": "NoSuchUpload"}
    assert "Uploads" not in listed and head["status"] == 404


def test_unknown_upload_id_is_no_such_upload(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        bogus = "does-not-exist"
        return [
            run.call("upload_part", Bucket=bucket, Key="k", UploadId=bogus, PartNumber=1, Body=b"x"),
            run.call("list_parts", Bucket=bucket, Key="k", UploadId=bogus),
            run.call(
                "complete_multipart_upload",
                Bucket=bucket,
                Key="k",
                UploadId=bogus,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"0"'}]},
            ),
        ]

    outcomes = compare(scenario, moto_differs="D13")
    assert outcomes["smarts3-fs"] == [{"status": 404, "code": "NoSuchUpload"}] * 3


def test_abort_of_unknown_upload_is_no_such_upload(compare: Compare) -> None:
    def scenario(run: Run) -> Outcome:
        bucket = run.bucket()
        return run.call("abort_multipart_upload", Bucket=bucket, Key="k", UploadId="does-not-exist")

    outcomes = compare(scenario)
    assert outcomes["smarts3-fs"] == {"status": 404, "code": "NoSuchUpload"}


def test_small_non_final_part_is_entity_too_small(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        upload_id = _upload(run, bucket, "k")
        small = run.raw(
            "upload_part", Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"small"
        )
        last = run.raw("upload_part", Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=2, Body=b"last")
        parts = [{"PartNumber": 1, "ETag": small["ETag"]}, {"PartNumber": 2, "ETag": last["ETag"]}]
        return [
            run.call(
                "complete_multipart_upload",
                Bucket=bucket,
                Key="k",
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            ),
            # the upload survives a refused Complete
            run.call("list_parts", Bucket=bucket, Key="k", UploadId=upload_id),
        ]

    outcomes = compare(scenario)
    refused, parts = outcomes["smarts3-fs"]
    assert refused == {"status": 400, "code": "EntityTooSmall"}
    assert [p["PartNumber"] for p in parts["Parts"]] == [1, 2]


def test_complete_with_wrong_etag_or_missing_part_is_invalid_part(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        upload_id = _upload(run, bucket, "k")
        part = run.raw("upload_part", Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")

        def complete(parts: list[dict[str, Any]]) -> Outcome:
            return run.call(
                "complete_multipart_upload",
                Bucket=bucket,
                Key="k",
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )

        return [
            complete([{"PartNumber": 1, "ETag": '"0123456789abcdef0123456789abcdef"'}]),
            complete([{"PartNumber": 1, "ETag": part["ETag"]}, {"PartNumber": 2, "ETag": part["ETag"]}]),
        ]

    outcomes = compare(scenario)
    assert outcomes["smarts3-fs"] == [{"status": 400, "code": "InvalidPart"}] * 2


def test_complete_with_parts_out_of_order_is_invalid_part_order(compare: Compare) -> None:
    def scenario(run: Run) -> Outcome:
        bucket = run.bucket()
        upload_id = _upload(run, bucket, "k")
        one = run.raw("upload_part", Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=_PART_1)
        two = run.raw("upload_part", Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=2, Body=_PART_2)
        return run.call(
            "complete_multipart_upload",
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"PartNumber": 2, "ETag": two["ETag"]}, {"PartNumber": 1, "ETag": one["ETag"]}]
            },
        )

    outcomes = compare(scenario, moto_differs="D17")
    assert outcomes["smarts3-fs"] == {"status": 400, "code": "InvalidPartOrder"}


def test_upload_part_copy_with_ranges(compare: Compare) -> None:
    source = bytes(range(256)) * (6 * 4096)  # 6 MiB

    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        run.raw("put_object", Bucket=bucket, Key="source", Body=source)
        upload_id = _upload(run, bucket, "assembled")
        copy_source = {"Bucket": bucket, "Key": "source"}
        first = run.call(
            "upload_part_copy",
            Bucket=bucket,
            Key="assembled",
            UploadId=upload_id,
            PartNumber=1,
            CopySource=copy_source,
            CopySourceRange=f"bytes=0-{5 * MIB - 1}",
        )
        second = run.call(
            "upload_part_copy",
            Bucket=bucket,
            Key="assembled",
            UploadId=upload_id,
            PartNumber=2,
            CopySource=copy_source,
            CopySourceRange="bytes=100-199",
        )
        parts = [
            {"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
            {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]},
        ]
        run.raw(
            "complete_multipart_upload",
            Bucket=bucket,
            Key="assembled",
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
        )
        body = run.raw("get_object", Bucket=bucket, Key="assembled")["Body"]
        return [first, second, {"body-ok": body == source[: 5 * MIB] + source[100:200]}]

    outcomes = compare(scenario)
    first, second, body = outcomes["smarts3-fs"]
    assert first["CopyPartResult"]["ETag"] == f'"{hashlib.md5(source[: 5 * MIB]).hexdigest()}"'
    assert second["CopyPartResult"]["ETag"] == f'"{hashlib.md5(source[100:200]).hexdigest()}"'
    assert body == {"body-ok": True}


def test_upload_part_copy_range_outside_the_source_is_invalid_argument(compare: Compare) -> None:
    def scenario(run: Run) -> Outcome:
        bucket = run.bucket()
        run.raw("put_object", Bucket=bucket, Key="source", Body=b"0123456789")
        return run.call(
            "upload_part_copy",
            Bucket=bucket,
            Key="other",
            UploadId=_upload(run, bucket, "other"),
            PartNumber=1,
            CopySource={"Bucket": bucket, "Key": "source"},
            CopySourceRange="bytes=10-20",
        )

    outcomes = compare(scenario, moto_differs="D14")
    # S3: "Range specified is not valid for source object of size: 10" (400 InvalidArgument, not 416)
    assert outcomes["smarts3-fs"] == {"status": 400, "code": "InvalidArgument"}


def test_complete_on_unversioned_bucket_names_no_version(compare: Compare) -> None:
    def scenario(run: Run) -> Outcome:
        bucket = run.bucket()
        upload_id = _upload(run, bucket, "k")
        part = run.raw("upload_part", Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")
        return run.call(
            "complete_multipart_upload",
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )

    outcomes = compare(scenario, moto_differs="D15")
    assert "x-amz-version-id" not in outcomes["smarts3-fs"]


def test_deleting_a_bucket_with_an_upload_in_progress(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        _upload(run, bucket, "k")
        return [run.call("delete_bucket", Bucket=bucket), run.call("head_bucket", Bucket=bucket)]

    outcomes = compare(scenario)
    assert outcomes["smarts3-fs"] == [{"status": 204}, {"status": 404, "code": "404"}]
