"""ListObjects' <Contents> elements are formatted once per ObjectInfo (xml_encode._CONTENTS): the memo must never
serve another object's element, another encoding's or another owner's, and must stay bounded."""

from __future__ import annotations

from datetime import UTC, datetime

from smarts3.adapters.http import xml_encode
from smarts3.adapters.http.xml_models import Owner
from smarts3.domain.models import ListPage, ObjectInfo

WHEN = datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=UTC)


def info(key: str, etag: str = "0" * 32, size: int = 3) -> ObjectInfo:
    return ObjectInfo(key=key, size=size, etag=etag, last_modified=WHEN)


def listing(*objects: ObjectInfo, encoding_type: str | None = None, owner: Owner | None = None) -> str:
    page = ListPage(objects=objects, common_prefixes=(), is_truncated=False)
    body = xml_encode.list_objects_v2("bkt", page, encoding_type=encoding_type, owner=owner, fetch_owner=True)
    return body.decode()


def test_a_listed_object_is_formatted_once_and_listed_the_same_again() -> None:
    xml_encode._CONTENTS.clear()
    obj = info("a b&c")
    first = listing(obj)
    assert id(obj) in xml_encode._CONTENTS
    assert listing(obj) == first
    assert "<Key>a b&amp;c</Key><LastModified>2026-11-27T12:00:00.000Z</LastModified>" in first


def test_the_encoding_and_the_owner_are_part_of_what_is_remembered() -> None:
    obj = info("a b&c")
    plain = listing(obj)
    encoded = listing(obj, encoding_type="url")
    assert "<Key>a%20b%26c</Key>" in encoded and "<Key>a b&amp;c</Key>" in plain
    owned = listing(obj, owner=Owner("me", "Me"))
    assert "<Owner><ID>me</ID><DisplayName>Me</DisplayName></Owner>" in owned
    assert listing(obj) == plain  # and back: never the element made for the other request


def test_another_object_with_the_same_key_is_formatted_anew() -> None:
    old = info("k", etag="1" * 32, size=1)
    assert "<Size>1</Size>" in listing(old)
    new = info("k", etag="2" * 32, size=2)  # the object was replaced: a new (memoised) ObjectInfo
    text = listing(new)
    assert "<Size>2</Size>" in text and "2" * 32 in text and "1" * 32 not in text


def test_the_memo_is_bounded() -> None:
    objects = [info(f"key-{n}") for n in range(3 * xml_encode._CONTENTS_MAX)]
    for start in range(0, len(objects), 500):
        listing(*objects[start : start + 500])
    assert len(xml_encode._CONTENTS) <= xml_encode._CONTENTS_MAX
