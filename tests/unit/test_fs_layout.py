"""Key <-> path mapping of the filesystem adapter: one-to-one, reversible, always inside the bucket directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smarts3.adapters.storage.filesystem.layout import (
    Layout,
    components_key,
    is_canonical_name,
    key_components,
    meta_components,
)
from smarts3.domain.errors import InvalidObjectName

# keys as S3 allows them: any unicode but NUL and lone surrogates, slashes (also doubled/trailing), dots, '%'
_segment_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/")
_segment = st.one_of(
    st.text(_segment_chars, max_size=12),
    st.sampled_from(["", ".", "..", "%", "%2F", "%+x", "+", "a.m", "a.d", "con", "a\\b", " ", "?#"]),
    st.text(_segment_chars, min_size=150, max_size=400),
)
keys = (
    st.lists(_segment, min_size=1, max_size=6)
    .map("/".join)
    .filter(lambda k: k != "" and len(k.encode()) <= 1024)
)


@settings(max_examples=400, deadline=None)
@given(keys)
def test_every_key_maps_inside_the_bucket_and_back(key: str) -> None:
    components = key_components(key)
    assert components_key(components) == key
    for name in components:
        assert name not in ("", ".", "..")
        assert "/" not in name and "\x00" not in name
        assert len(name.encode()) <= 250  # NAME_MAX 255 minus room for the metadata suffixes
        assert is_canonical_name(name)
    root = Path("/data/bucket")
    path = root.joinpath(*components)
    assert os.path.normpath(path).startswith(str(root) + "/")


@settings(max_examples=300, deadline=None)
@given(keys, keys)
def test_mapping_is_one_to_one(first: str, second: str) -> None:
    if first != second:
        assert key_components(first) != key_components(second)


@settings(max_examples=200, deadline=None)
@given(keys)
def test_metadata_file_names_never_equal_directory_names(key: str) -> None:
    # the sidecar of key K must never be a name some other key needs as a directory (e.g. "a.m" vs "a.m/x")
    leaf = meta_components(key_components(key), ".m")[-1]
    other = meta_components([*key_components(key + "/x")], ".m")
    assert leaf not in other[:-1] or leaf.endswith(".m")
    assert all(name.endswith(".d") for name in other[:-1])
    assert leaf.endswith(".m")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("a/b", ["a", "b"]),
        ("a/", ["a", "%"]),
        ("a//b", ["a", "%", "b"]),
        ("../x", ["%..", "x"]),
        ("./x", ["%.", "x"]),
        ("100%", ["%100%25"]),
        ("/abs", ["%", "abs"]),
        ("ünï cödé", ["ünï cödé"]),
    ],
)
def test_tricky_keys_become_safe_names(key: str, expected: list[str]) -> None:
    assert key_components(key) == expected


def test_a_1024_byte_single_segment_key_is_split_into_continuations() -> None:
    key = "k" * 1024
    components = key_components(key)
    assert len(components) > 1
    assert all(name.startswith("%+") for name in components[:-1])
    assert components_key(components) == key


def test_nul_is_refused() -> None:
    with pytest.raises(InvalidObjectName):
        key_components("a\x00b")


def test_foreign_names_are_not_canonical() -> None:
    # names another program may create in a bucket that we could not have produced: never listed as keys
    assert not is_canonical_name("%zz")
    assert not is_canonical_name("%abc%41")
    assert not is_canonical_name("%plain")  # "plain" would be stored without the marker


def test_state_paths_live_under_the_hidden_dir(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    components = key_components("a/b")
    for path in (layout.sidecar_path("bkt", components), layout.version_dir("bkt", components), layout.tmp):
        assert path.is_relative_to(tmp_path / ".smarts3")
    assert layout.data_path("bkt", components) == layout.root / "bkt" / "a" / "b"


def test_makedirs_and_rename_into_survive_a_parent_pruned_under_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another key's delete removes empty directories (prune_empty_dirs) while a writer creates them: makedirs
    then fails with FileNotFoundError, and so does the rename into a directory just removed."""
    from smarts3.adapters.storage.filesystem import fsutil

    real_mkdir = os.mkdir
    pruned: list[str] = []

    def mkdir_after_a_prune(path: Any, mode: int = 0o777, *args: Any, **kwargs: Any) -> None:
        parent = os.path.dirname(os.fspath(path))
        if os.fspath(path).endswith("leaf") and len(pruned) < 3:
            os.rmdir(parent)  # the concurrent delete wins, three times in a row
            pruned.append(parent)
        real_mkdir(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir_after_a_prune)
    fsutil.make_dirs(tmp_path / "a" / "b" / "leaf", fsync=False)
    assert (tmp_path / "a" / "b" / "leaf").is_dir() and len(pruned) == 3

    source = tmp_path / "source"
    source.write_bytes(b"data")
    target = tmp_path / "c" / "d" / "leaf" / "object"
    pruned.clear()
    fsutil.rename_into(source, target)
    assert target.read_bytes() == b"data" and len(pruned) == 3


def test_make_dirs_below_a_root_takes_two_leading_dots_for_a_name(tmp_path: Path) -> None:
    from smarts3.adapters.storage.filesystem import fsutil

    fsutil.make_dirs(tmp_path / "..x" / "y", fsync=False, root=tmp_path)
    assert (tmp_path / "..x" / "y").is_dir()
    (tmp_path / "sub").mkdir()
    with pytest.raises(ValueError):  # a real climb out of the root is refused
        fsutil.make_dirs(tmp_path / "sub" / ".." / "outside", fsync=False, root=tmp_path / "sub")
    assert not (tmp_path / "outside").exists()
