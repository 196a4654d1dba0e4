"""Memos keyed on what a client chooses keep only small inputs (smarts3.adapters.memo)."""

from __future__ import annotations

from smarts3.adapters.auth import sigv4
from smarts3.adapters.memo import BoundedMemo, IdentityMemo, bounded_memo
from smarts3.entrypoints.s3 import fast_read


def test_short_inputs_are_remembered_and_long_ones_computed_every_time() -> None:
    calls: list[str] = []

    @bounded_memo(maxsize=8, max_size=10)
    def upper(text: str, suffix: str = "") -> str:
        calls.append(text)
        return text.upper() + suffix

    assert upper("abc") == "ABC" and upper("abc") == "ABC"
    assert calls == ["abc"]  # the second call was remembered
    long = "x" * 11
    assert upper(long) == long.upper() and upper(long) == long.upper()
    assert calls == ["abc", long, long]  # never kept
    assert upper.cache_info().currsize == 1
    assert upper("abc", "!") == "ABC!"  # further arguments are part of the key
    upper.cache_clear()
    assert upper.cache_info().currsize == 0


def test_the_request_text_memos_are_bounded_in_length() -> None:
    memos = [
        fast_read._plain_query,
        fast_read._object_names,
        sigv4._reencode_path,
        sigv4._reencode_query_part,
    ]
    assert all(isinstance(memo, BoundedMemo) and memo.max_size <= 4096 for memo in memos)
    assert isinstance(fast_read._plain_header_names, BoundedMemo)
    before = [memo.cache_info().currsize for memo in memos]
    for i in range(50):
        long = f"/bucket/{i}-" + "k%20" * 2000
        fast_read._plain_query("X-Amz-Date=1&" + "a" * 5000 + str(i))
        assert fast_read._object_names(long) == ("bucket", f"{i}-" + "k " * 2000)
        sigv4._reencode_path(long)
        sigv4._reencode_query_part(long, False)
    assert [memo.cache_info().currsize for memo in memos] == before


def test_an_identity_memo_finds_the_very_object_and_variant_it_was_given() -> None:
    memo: IdentityMemo[str] = IdentityMemo(maxsize=3)
    first, twin = {"k": 1}, {"k": 1}  # equal, unhashable: only identity tells them apart
    memo.remember(first, "plain", "A")
    assert memo.recall(first, "plain") == "A"
    assert memo.recall(first, "url") is None
    assert memo.recall(twin, "plain") is None
    for n in range(3):
        memo.remember({"n": n}, "plain", str(n))
    assert len(memo) <= 3  # cleared whole at maxsize
