"""The offline breached-password list: HIBP conversion (both layouts), lookups, corrupt files, the default list."""

from __future__ import annotations

import hashlib
import os
import secrets
import string
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.auth.breached import (
    MAGIC,
    BreachedFileError,
    BreachedPasswords,
    BreachedSourceError,
    build_breached_file,
    default_breached_file,
)

LEAKED = {"password1": 2_000_000, "hunter2": 17_000, "tsukimi-dango": 3, "パスワード": 40, "rare-one": 1}


def sha1_hex(password: str) -> str:
    return hashlib.sha1(password.encode("utf-8")).hexdigest().upper()


def write_full_list(path: Path, counts: dict[str, int], *, newline: str = "\r\n") -> Path:
    """The single-file HIBP download: ``SHA1:COUNT`` lines ordered by hash (CRLF, as downloaded)."""
    lines = sorted(f"{sha1_hex(p)}:{c}" for p, c in counts.items())
    path.write_text(newline.join(lines) + newline, newline="")
    return path


def write_range_dir(directory: Path, counts: dict[str, int], *, padding: int = 3) -> Path:
    """The range layout: one file per 5-hex prefix, ``SUFFIX:COUNT`` lines, plus count-0 padding lines."""
    directory.mkdir(parents=True, exist_ok=True)
    by_prefix: dict[str, list[str]] = {}
    for password, count in counts.items():
        digest = sha1_hex(password)
        by_prefix.setdefault(digest[:5], []).append(f"{digest[5:]}:{count}")
    for prefix, lines in by_prefix.items():
        lines += [f"{secrets.token_hex(18)[:35].upper()}:0" for _ in range(padding)]
        (directory / f"{prefix}.txt").write_text("\r\n".join(sorted(lines)), newline="")
    return directory


def build(tmp_path: Path, *sources: Path, **kwargs: int) -> BreachedPasswords:
    out = tmp_path / "out" / "breached.bin"
    build_breached_file(list(sources), out, **kwargs)
    return BreachedPasswords.open(out)


# --- round trips ----------------------------------------------------------------------------------------------


def test_full_list_round_trip(tmp_path: Path) -> None:
    source = write_full_list(tmp_path / "pwned-passwords-sha1-ordered-by-hash.txt", LEAKED)
    out = tmp_path / "breached.bin"
    assert build_breached_file([source], out) == len(LEAKED)
    assert out.stat().st_size == 32 + 10 * len(LEAKED)
    with BreachedPasswords.open(out) as listed:
        assert len(listed) == len(LEAKED)
        for password in LEAKED:
            assert password in listed
        assert "password2" not in listed
        assert "" not in listed
        assert listed.contains_sha1(sha1_hex("hunter2"))
        assert listed.contains_sha1(sha1_hex("hunter2").lower())
        assert listed.contains_sha1(hashlib.sha1(b"hunter2").digest())
        assert not listed.contains_sha1(hashlib.sha1(b"hunter3").digest())


def test_range_layout_round_trip(tmp_path: Path) -> None:
    source = write_range_dir(tmp_path / "hashes", LEAKED)
    (source / "README").write_text("not a range file")
    with build(tmp_path, source) as listed:
        assert len(listed) == len(LEAKED)  # padding (count 0) skipped, README ignored
        for password in LEAKED:
            assert password in listed


def test_range_files_without_extension_in_nested_tree(tmp_path: Path) -> None:
    digest = sha1_hex("hunter2")
    nested = tmp_path / "tree" / digest[:2]
    nested.mkdir(parents=True)
    (nested / digest[:5].lower()).write_text(f"{digest[5:]}:4\n")
    with build(tmp_path, tmp_path / "tree") as listed:
        assert "hunter2" in listed and len(listed) == 1


def test_min_count_filter(tmp_path: Path) -> None:
    full = write_full_list(tmp_path / "full.txt", LEAKED)
    ranges = write_range_dir(tmp_path / "ranges", LEAKED)
    for source in (full, ranges):
        with build(tmp_path, source, min_count=40) as listed:
            assert {p for p in LEAKED if p in listed} == {"password1", "hunter2", "パスワード"}


def test_sources_are_merged_and_deduplicated(tmp_path: Path) -> None:
    full = write_full_list(tmp_path / "full.txt", {"hunter2": 5, "password1": 9})
    ranges = write_range_dir(tmp_path / "ranges", {"hunter2": 50, "rare-one": 1})
    with build(tmp_path, full, ranges, min_count=2) as listed:
        assert len(listed) == 2
        assert "hunter2" in listed and "password1" in listed and "rare-one" not in listed


def test_narrower_records(tmp_path: Path) -> None:
    source = write_full_list(tmp_path / "full.txt", LEAKED)
    out = tmp_path / "narrow.bin"
    build_breached_file([source], out, width=6)
    assert out.stat().st_size == 32 + 6 * len(LEAKED)
    with BreachedPasswords.open(out) as listed:
        assert listed.width == 6
        assert all(p in listed for p in LEAKED)


@pytest.mark.parametrize("fan_in", [256, 3])
def test_external_sort_matches_in_memory_sort(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fan_in: int) -> None:
    monkeypatch.setattr("mamori.auth.breached._MAX_MERGE_FAN_IN", fan_in)
    passwords = {f"pw-{i}": 1 + i % 3 for i in range(700)}
    source = write_full_list(tmp_path / "full.txt", passwords, newline="\n")
    duplicate = write_range_dir(tmp_path / "ranges", dict(list(passwords.items())[:100]), padding=0)
    in_memory, spilled = tmp_path / "a.bin", tmp_path / "b.bin"
    assert build_breached_file([source, duplicate], in_memory) == 700
    # One record per run: more runs than the merge fan-in, so intermediate merges happen.
    assert build_breached_file([source, duplicate], spilled, chunk_records=1) == 700
    assert in_memory.read_bytes() == spilled.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.bin", "full.txt", "ranges"]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(min_size=20, max_size=20), max_size=60), st.integers(min_value=1, max_value=20))
def test_records_are_the_sorted_unique_prefixes(digests: list[bytes], width: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "full.txt"
        source.write_text("".join(f"{d.hex()}:1\n" for d in digests))
        out = Path(tmp) / "out.bin"
        build_breached_file([source], out, width=width, chunk_records=7)
        expected = sorted({d[:width] for d in digests})
        assert out.read_bytes()[32:] == b"".join(expected)
        with BreachedPasswords.open(out) as listed:
            assert len(listed) == len(expected)
            assert all(listed.contains_sha1(d) for d in digests)
            absent = bytes(20) if not digests else bytes(b ^ 0xFF for b in digests[0])
            assert listed.contains_sha1(absent) == (absent[:width] in expected)


# --- bad input ------------------------------------------------------------------------------------------------


def test_bad_lines_reported_with_file_and_line(tmp_path: Path) -> None:
    source = tmp_path / "full.txt"
    good = sha1_hex("hunter2")
    source.write_text(f"{good}:3\n\n{good[:-1]}:3\n{good}\n{'Z' * 40}:1\n{good}:many\n")
    out = tmp_path / "out.bin"
    with pytest.raises(BreachedSourceError) as caught:
        build_breached_file([source], out)
    message = str(caught.value)
    for line in (3, 4, 5, 6):
        assert f"{source}:{line}:" in message
    assert f"{source}:1:" not in message and f"{source}:2:" not in message
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["full.txt"]  # no temporary files left behind


def test_ntlm_list_gets_a_hint(tmp_path: Path) -> None:
    source = tmp_path / "pwned-passwords-ntlm.txt"
    source.write_text("8846F7EAEE8FB117AD06BDD830B7586C:10\n")
    with pytest.raises(BreachedSourceError, match="NTLM"):
        build_breached_file([source], tmp_path / "out.bin")


def test_bad_range_line_names_the_range_file(tmp_path: Path) -> None:
    ranges = tmp_path / "ranges"
    ranges.mkdir()
    (ranges / "21BD1.txt").write_text("0018A45C4D1DEF81644B54AB7F969B88D65:1\n" + "A" * 40 + ":1\n")
    with pytest.raises(BreachedSourceError, match=r"21BD1\.txt:2: expected 35 hex digits"):
        build_breached_file([ranges], tmp_path / "out.bin")


def test_failed_build_keeps_previous_file(tmp_path: Path) -> None:
    out = tmp_path / "breached.bin"
    build_breached_file([write_full_list(tmp_path / "ok.txt", LEAKED)], out)
    before = out.read_bytes()
    bad = tmp_path / "bad.txt"
    bad.write_text("not a hash line\n")
    with pytest.raises(BreachedSourceError):
        build_breached_file([bad], out)
    assert out.read_bytes() == before


def test_missing_source_and_empty_range_dir(tmp_path: Path) -> None:
    with pytest.raises(BreachedSourceError, match="no such file"):
        build_breached_file([tmp_path / "nope.txt"], tmp_path / "out.bin")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BreachedSourceError, match="no range files"):
        build_breached_file([tmp_path / "empty"], tmp_path / "out.bin")


# --- corrupt files --------------------------------------------------------------------------------------------


@pytest.fixture
def valid_file(tmp_path: Path) -> Path:
    out = tmp_path / "valid.bin"
    build_breached_file([write_full_list(tmp_path / "full.txt", LEAKED)], out)
    return out


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda data: b"", "empty file"),
        (lambda data: b"PK\x03\x04" + data[4:], "wrong magic"),
        (lambda data: data[:20], "truncated header"),
        (lambda data: data[:-3], "truncated"),
        (lambda data: data + b"\x00", "trailing data"),
        (lambda data: MAGIC[:-1] + b"\x02" + data[16:], "unsupported format version 2"),
        (lambda data: data[:16] + struct.pack(">I", 0) + data[20:], "record width 0"),
        (lambda data: data[:16] + struct.pack(">I", 21) + data[20:], "record width 21"),
        (lambda data: data[:24] + struct.pack(">Q", 2**40) + data[32:], "truncated"),
    ],
)
def test_corrupt_files_raise_naming_file_and_problem(
    valid_file: Path, mutate: Callable[[bytes], bytes], problem: str
) -> None:
    valid_file.write_bytes(mutate(valid_file.read_bytes()))
    with pytest.raises(BreachedFileError, match=problem) as caught:
        BreachedPasswords.open(valid_file)
    assert str(valid_file) in str(caught.value)
    assert caught.value.path == valid_file


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BreachedFileError, match="cannot open"):
        BreachedPasswords.open(tmp_path / "absent.bin")


def test_contains_sha1_rejects_wrong_lengths(valid_file: Path) -> None:
    with BreachedPasswords.open(valid_file) as listed:
        for bad in ("abc", "Z" * 40, b"\x00" * 19):
            with pytest.raises(ValueError):
                listed.contains_sha1(bad)


# --- default list ---------------------------------------------------------------------------------------------


def test_default_list_from_zxcvbn(tmp_path: Path) -> None:
    path = default_breached_file(tmp_path)
    assert path.parent == tmp_path
    with BreachedPasswords.open(path) as common:
        assert len(common) > 30_000
        for password in ("password1", "123456", "qwerty", "Password1", "PASSWORD1", "ｐａｓｓｗｏｒｄ１"):
            assert password in common, password
        alphabet = string.ascii_letters + string.digits
        random_password = "".join(secrets.choice(alphabet) for _ in range(20))
        assert random_password not in common


def test_default_list_is_cached_and_rebuilt_when_corrupt(tmp_path: Path) -> None:
    path = default_breached_file(tmp_path)
    stamp = path.stat().st_mtime_ns
    os.utime(path, ns=(stamp - 10**9, stamp - 10**9))
    assert default_breached_file(tmp_path) == path
    assert path.stat().st_mtime_ns == stamp - 10**9  # not rebuilt
    path.write_bytes(path.read_bytes()[:100])
    assert default_breached_file(tmp_path) == path
    with BreachedPasswords.open(path) as common:
        assert "password1" in common
