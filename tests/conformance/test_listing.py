"""ListObjects V1 and V2, paginators, ListObjectVersions on unversioned buckets, emptying a bucket."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest

from s3conformance import Outcome, Run, Target

Compare = Callable[..., dict[str, Any]]

_TREE = [
    "a.txt",
    "b/1.txt",
    "b/2.txt",
    "b/c/3.txt",
    "b/c/4.txt",
    "d/",
    "d/5.txt",
    "e f/6.txt",
    "g+h.txt",
    "z.txt",
]


def _tree(run: Run) -> str:
    bucket = run.bucket()
    run.put_many(bucket, _TREE)
    return bucket


def test_list_v2_with_prefix_and_delimiter(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = _tree(run)
        return [
            run.call("list_objects_v2", Bucket=bucket),
            run.call("list_objects_v2", Bucket=bucket, Delimiter="/"),
            run.call("list_objects_v2", Bucket=bucket, Prefix="b/", Delimiter="/"),
            run.call("list_objects_v2", Bucket=bucket, Prefix="b/c"),
            run.call("list_objects_v2", Bucket=bucket, Prefix="nothing-here"),
        ]

    outcomes = compare(scenario)
    everything, top, under_b, under_bc, nothing = outcomes["smarts3-fs"]
    assert [item["Key"] for item in everything["Contents"]] == sorted(_TREE)
    assert everything["KeyCount"] == len(_TREE) and everything["IsTruncated"] is False
    assert [item["Key"] for item in top["Contents"]] == ["a.txt", "g+h.txt", "z.txt"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["b/", "d/", "e f/"]
    assert top["KeyCount"] == 6
    assert [item["Key"] for item in under_b["Contents"]] == ["b/1.txt", "b/2.txt"]
    assert [p["Prefix"] for p in under_b["CommonPrefixes"]] == ["b/c/"]
    assert [item["Key"] for item in under_bc["Contents"]] == ["b/c/3.txt", "b/c/4.txt"]
    assert nothing["KeyCount"] == 0 and "Contents" not in nothing


def test_list_v2_continuation_walk_returns_every_key_once(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = _tree(run)
        pages: list[Outcome] = []
        token: str | None = None
        for _ in range(20):
            params: dict[str, Any] = {"Bucket": bucket, "MaxKeys": 3, "Delimiter": "/"}
            if token:
                params["ContinuationToken"] = token
            raw = run.raw("list_objects_v2", **params)
            pages.append(run.call("list_objects_v2", **params))
            token = raw.get("NextContinuationToken")
            if not raw["IsTruncated"]:
                break
        return pages

    outcomes = compare(scenario, moto_differs="D8")
    pages = outcomes["smarts3-fs"]
    entries = [item["Key"] for page in pages for item in page.get("Contents", [])] + [
        p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])
    ]
    assert sorted(entries) == ["a.txt", "b/", "d/", "e f/", "g+h.txt", "z.txt"]
    assert [page["KeyCount"] for page in pages] == [3, 3]
    assert "NextContinuationToken" in pages[0] and "NextContinuationToken" not in pages[-1]


def test_list_v2_continuation_token_wins_over_start_after(compare: Compare) -> None:
    """minio-py sends its continuation token again as start-after; a start-after sorting after the keys still
    to come must not end the listing early."""

    def scenario(run: Run) -> list[Outcome]:
        bucket = _tree(run)
        first = run.raw("list_objects_v2", Bucket=bucket, MaxKeys=4)
        token = first["NextContinuationToken"]
        return [
            run.call("list_objects_v2", Bucket=bucket, ContinuationToken=token, StartAfter="zzzz"),
            run.call("list_objects_v2", Bucket=bucket, ContinuationToken=token, StartAfter=token),
        ]

    outcomes = compare(scenario, moto_differs="D8")
    for page in outcomes["smarts3-fs"]:
        assert [item["Key"] for item in page["Contents"]] == sorted(_TREE)[4:]


def test_list_v2_start_after_and_fetch_owner(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = _tree(run)
        return [
            run.call("list_objects_v2", Bucket=bucket, StartAfter="b/c/3.txt"),
            run.call("list_objects_v2", Bucket=bucket, FetchOwner=True, MaxKeys=1),
            run.call("list_objects_v2", Bucket=bucket, MaxKeys=1),
        ]

    outcomes = compare(scenario)
    after, with_owner, without_owner = outcomes["smarts3-fs"]
    assert after["Contents"][0]["Key"] == "b/c/4.txt" and after["StartAfter"] == "b/c/3.txt"
    assert "Owner" in with_owner["Contents"][0]
    assert "Owner" not in without_owner["Contents"][0]


def test_list_v1_marker_next_marker_and_max_keys(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = _tree(run)
        return [
            run.call("list_objects", Bucket=bucket, MaxKeys=2),
            run.call("list_objects", Bucket=bucket, Marker="b/2.txt", MaxKeys=3),
            run.call("list_objects", Bucket=bucket, Delimiter="/", MaxKeys=2),
            run.call("list_objects", Bucket=bucket, Delimiter="/", Marker="b/"),
            run.call("list_objects", Bucket=bucket, Prefix="b/", Delimiter="/"),
        ]

    outcomes = compare(scenario, moto_differs="D9")
    first, after_marker, with_delimiter, after_prefix, under_b = outcomes["smarts3-fs"]
    assert "NextMarker" not in first
    assert [i["Key"] for i in first["Contents"]] == ["a.txt", "b/1.txt"] and first["IsTruncated"] is True
    assert [i["Key"] for i in after_marker["Contents"]] == ["b/c/3.txt", "b/c/4.txt", "d/"]
    # S3: NextMarker only comes with a delimiter; clients use the last key otherwise
    # S3: common prefixes count against max-keys, and NextMarker is the last entry returned
    assert [i["Key"] for i in with_delimiter["Contents"]] == ["a.txt"]
    assert [p["Prefix"] for p in with_delimiter["CommonPrefixes"]] == ["b/"]
    assert with_delimiter["NextMarker"] == "b/" and with_delimiter["IsTruncated"] is True
    # a marker that is a common prefix skips everything under it, so paging never repeats "b/"
    assert [p["Prefix"] for p in after_prefix["CommonPrefixes"]] == ["d/", "e f/"]
    assert [p["Prefix"] for p in under_b["CommonPrefixes"]] == ["b/c/"]


def test_listing_keys_that_need_url_encoding(compare: Compare) -> None:
    """botocore asks for encoding-type=url on every listing and decodes the answer itself."""

    def scenario(run: Run) -> list[Outcome]:
        bucket = run.bucket()
        run.put_many(bucket, _AWKWARD_KEYS)
        return [
            run.call("list_objects_v2", Bucket=bucket, Delimiter="/"),
            run.call("list_objects", Bucket=bucket),
            run.call("list_objects_v2", Bucket=bucket, Prefix="sp ace/"),
            run.call("list_object_versions", Bucket=bucket),
        ]

    outcomes = compare(scenario, moto_differs="D8")
    v2, v1, prefixed, versions = outcomes["smarts3-fs"]
    assert [p["Prefix"] for p in v2["CommonPrefixes"]] == ["plus+/", "sp ace/", "\u00e9t\u00e9/"]
    assert [i["Key"] for i in v1["Contents"]] == sorted(_AWKWARD_KEYS)
    assert [i["Key"] for i in prefixed["Contents"]] == ["sp ace/x"] and prefixed["Prefix"] == "sp ace/"
    assert [v["Key"] for v in versions["Versions"]] == sorted(_AWKWARD_KEYS)


_AWKWARD_KEYS = ["sp ace/x", "plus+/y", "\u00e9t\u00e9/z", "pct%41", "amp&lt;", "ctrl\x01char"]


def test_url_encoded_listing_encodes_keys_and_start_after(targets: dict[str, Target]) -> None:
    """With encoding-type=url S3 encodes Key, Prefix, Delimiter and StartAfter (ListObjectsV2 response elements).

    botocore decodes only when it added the parameter itself, so ask explicitly and read the raw values. A space
    may come back as '+' or '%20': both decode to a space with unquote_plus, which is what botocore uses.
    """
    results = {}
    for name, target in targets.items():
        run = Run(target)
        bucket = run.bucket()
        run.put_many(bucket, _AWKWARD_KEYS)
        raw = run.raw("list_objects_v2", Bucket=bucket, EncodingType="url", StartAfter="pct%41")
        results[name] = (
            sorted(urllib.parse.unquote_plus(item["Key"]) for item in raw["Contents"]),
            all("\x01" not in item["Key"] and " " not in item["Key"] for item in raw["Contents"]),
            raw["StartAfter"],
        )
    expected_keys = sorted(k for k in _AWKWARD_KEYS if k > "pct%41")
    assert results["smarts3-fs"] == (expected_keys, True, "pct%2541")
    assert results["smarts3-mem"] == results["smarts3-fs"]
    # D10: moto encodes the keys but returns StartAfter as sent
    assert results["moto"] == (expected_keys, True, "pct%41")


@pytest.mark.slow
def test_paginator_walks_2500_keys_in_pages_of_1000(compare: Compare) -> None:
    keys = [f"many/{index:05d}" for index in range(2500)]

    def scenario(run: Run) -> list[Any]:
        bucket = run.bucket()
        run.put_many(bucket, keys, body=b"")
        v2_pages = list(run.client.get_paginator("list_objects_v2").paginate(Bucket=bucket))
        return [
            [len(page.get("Contents", [])) for page in v2_pages],
            [page["KeyCount"] for page in v2_pages],
            [page["IsTruncated"] for page in v2_pages],
            [item["Key"] for page in v2_pages for item in page["Contents"]] == keys,
        ]

    outcomes = compare(scenario)
    assert outcomes["smarts3-fs"] == [
        [1000, 1000, 500],
        [1000, 1000, 500],
        [True, True, False],
        True,
    ]


def test_list_object_versions_on_unversioned_bucket_reports_null_versions(compare: Compare) -> None:
    def scenario(run: Run) -> list[Outcome]:
        bucket = _tree(run)
        return [
            run.call("list_object_versions", Bucket=bucket),
            run.call("list_object_versions", Bucket=bucket, Prefix="b/", Delimiter="/"),
            run.call("list_object_versions", Bucket=bucket, MaxKeys=4),
        ]

    outcomes = compare(scenario, moto_differs="D8")
    everything, under_b, first_page = outcomes["smarts3-fs"]
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in everything["Versions"]] == [
        (key, "null", True) for key in sorted(_TREE)
    ]
    assert [v["Key"] for v in under_b["Versions"]] == ["b/1.txt", "b/2.txt"]
    assert [p["Prefix"] for p in under_b["CommonPrefixes"]] == ["b/c/"]
    assert first_page["IsTruncated"] is True and first_page["NextKeyMarker"] == "b/c/3.txt"


def _empty_through_versions(run: Run, page_size: int) -> list[Any]:
    bucket = _tree(run)
    deleted = 0
    for page in run.client.get_paginator("list_object_versions").paginate(Bucket=bucket, MaxKeys=page_size):
        victims = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", [])]
        victims += [{"Key": m["Key"], "VersionId": m["VersionId"]} for m in page.get("DeleteMarkers", [])]
        if victims:
            result = run.raw("delete_objects", Bucket=bucket, Delete={"Objects": victims})
            deleted += len(result.get("Deleted", []))
    return [deleted, run.call("delete_bucket", Bucket=bucket), run.call("head_bucket", Bucket=bucket)]


def test_emptying_a_bucket_through_list_object_versions_then_deleting_it(compare: Compare) -> None:
    """What cleanup tools (and boto3's bucket.object_versions.delete()) do before DeleteBucket."""
    outcomes = compare(lambda run: _empty_through_versions(run, 1000))
    assert outcomes["smarts3-fs"] == [len(_TREE), {"status": 204}, {"status": 404, "code": "404"}]


def test_emptying_a_bucket_through_paged_list_object_versions(compare: Compare) -> None:
    """The same, three versions a page: the next page starts at KeyMarker + VersionIdMarker "null"."""
    outcomes = compare(lambda run: _empty_through_versions(run, 3), moto_differs="D11")
    assert outcomes["smarts3-fs"] == [len(_TREE), {"status": 204}, {"status": 404, "code": "404"}]
