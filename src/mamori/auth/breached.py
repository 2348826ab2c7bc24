"""Offline breached-password blocklist (NIST SP 800-63B-4 §3.1.1.2), looked up with no network call.

File format (all integers big-endian)::

    offset 0   16 bytes  magic b"MAMORI-BREACHED\\x01" (the last byte is the format version)
    offset 16  u32       record width w in bytes (1..20)
    offset 20  u32       reserved, 0
    offset 24  u64       record count n
    offset 32  n * w     the first w bytes of SHA-1(password), sorted ascending, no duplicates

Lookups binary-search the records through ``mmap`` (O(log n), pages loaded on demand), so even the full Have I
Been Pwned list (about 10^9 hashes, about 10 GB at the default width) needs no memory of its own.

False positives: with the default 10-byte (80-bit) prefixes a password that is *not* in a list of n entries is
reported as breached with probability about n / 2^80: 8.3e-16 for n = 10^9, 7e-20 for the 85,000-entry default
list. Shorter prefixes trade this for size (6 bytes: 1 in 280,000 for n = 10^9).

Passwords are hashed as UTF-8 after NFKC normalisation, the same form :mod:`mamori.auth.passwords` hashes.
Have I Been Pwned hashes the raw bytes of each leaked password; the two agree for every password that is already
NFKC-stable, which includes all ASCII passwords.

Sources: :func:`build_breached_file` converts Have I Been Pwned Pwned Passwords SHA-1 downloads
(https://haveibeenpwned.com/Passwords), either the single ``SHA1:COUNT`` text file or a directory of per-prefix
range files as written by ``haveibeenpwned-downloader -s false``. :func:`default_breached_file` builds a small
list from the common-password frequency list bundled with the ``zxcvbn`` package (MIT licence) so that a fresh
install rejects the most common passwords without any download.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import heapq
import mmap
import os
import re
import struct
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

__all__ = [
    "DEFAULT_WIDTH",
    "MAGIC",
    "BreachedFileError",
    "BreachedPasswords",
    "BreachedSourceError",
    "build_breached_file",
    "default_breached_file",
]

MAGIC = b"MAMORI-BREACHED\x01"
_HEADER = struct.Struct(">16sIIQ")
DEFAULT_WIDTH = 10
_SHA1_LEN = 20
#: Records sorted in memory per run before spilling to disk (about 50 bytes of Python memory each).
DEFAULT_CHUNK_RECORDS = 2_000_000
_MAX_MERGE_FAN_IN = 256
_MAX_REPORTED_ERRORS = 10
_RANGE_NAME = re.compile(r"[0-9A-Fa-f]{5}(\.txt)?")


class BreachedFileError(ValueError):
    """A blocklist file is missing, truncated, corrupt or not a blocklist file."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class BreachedSourceError(ValueError):
    """A Have I Been Pwned source file has malformed lines (the message lists them as ``file:line``)."""


def _sha1_prefix(password: str, width: int) -> bytes:
    data = unicodedata.normalize("NFKC", password).encode("utf-8")
    return hashlib.sha1(data, usedforsecurity=False).digest()[:width]


class BreachedPasswords:
    """Read-only view of a blocklist file. Use :meth:`open`; safe to share between threads."""

    def __init__(self, path: Path, file: BinaryIO, mapped: mmap.mmap, width: int, count: int) -> None:
        self.path = path
        self.width = width
        self._file = file
        self._map = mapped
        self._count = count

    @classmethod
    def open(cls, path: Path | str) -> BreachedPasswords:
        path = Path(path)
        try:
            file = path.open("rb")
        except OSError as exc:
            raise BreachedFileError(path, f"cannot open: {exc.strerror or exc}") from exc
        try:
            width, count = _read_header(path, file)
            mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except BaseException:
            file.close()
            raise
        if hasattr(mmap, "MADV_RANDOM"):
            mapped.madvise(mmap.MADV_RANDOM)
        return cls(path, file, mapped, width, count)

    def __contains__(self, password: str) -> bool:
        return self._find(_sha1_prefix(password, self.width))

    def contains_sha1(self, digest: str | bytes) -> bool:
        """Look up a SHA-1 digest given as 40 hex digits (either case) or 20 raw bytes."""
        if isinstance(digest, str):
            if len(digest) != 2 * _SHA1_LEN:
                raise ValueError(f"expected 40 hex digits, got {len(digest)} characters")
            try:
                raw = bytes.fromhex(digest)
            except ValueError as exc:
                raise ValueError("SHA-1 digest is not hexadecimal") from exc
        else:
            raw = bytes(digest)
            if len(raw) != _SHA1_LEN:
                raise ValueError(f"expected a 20-byte SHA-1 digest, got {len(raw)} bytes")
        return self._find(raw[: self.width])

    def _find(self, key: bytes) -> bool:
        mapped, width = self._map, self.width
        lo, hi = 0, self._count
        while lo < hi:
            mid = (lo + hi) // 2
            offset = _HEADER.size + mid * width
            record = mapped[offset : offset + width]
            if record < key:
                lo = mid + 1
            elif record > key:
                hi = mid
            else:
                return True
        return False

    def __len__(self) -> int:
        return self._count

    def close(self) -> None:
        self._map.close()
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _read_header(path: Path, file: BinaryIO) -> tuple[int, int]:
    header = file.read(_HEADER.size)
    if not header:
        raise BreachedFileError(path, "empty file")
    if not header.startswith(MAGIC[:-1]):
        raise BreachedFileError(path, "not a mamori breached-password file (wrong magic header)")
    if len(header) < _HEADER.size:
        raise BreachedFileError(path, f"truncated header ({len(header)} of {_HEADER.size} bytes)")
    if header[len(MAGIC) - 1] != MAGIC[-1]:
        raise BreachedFileError(path, f"unsupported format version {header[len(MAGIC) - 1]}")
    _magic, width, _reserved, count = _HEADER.unpack(header)
    if not 1 <= width <= _SHA1_LEN:
        raise BreachedFileError(path, f"corrupt header: record width {width} is not between 1 and {_SHA1_LEN}")
    size = os.fstat(file.fileno()).st_size
    expected = _HEADER.size + count * width
    if size != expected:
        problem = "truncated" if size < expected else "has trailing data"
        raise BreachedFileError(
            path, f"{problem}: header says {count} records of {width} bytes ({expected} bytes), file has {size}"
        )
    return width, count


# --- building -------------------------------------------------------------------------------------------------


def _parse_lines(path: Path, prefix: bytes, min_count: int, width: int) -> Iterator[bytes]:
    """Yield record prefixes from one HIBP text file; ``prefix`` is the 5 hex digits of a range file, else b""."""
    hex_len = 2 * _SHA1_LEN - len(prefix)
    errors: list[str] = []
    with path.open("rb") as lines:
        for lineno, line in enumerate(lines, 1):
            line = line.strip()
            if lineno == 1:
                line = line.removeprefix(b"\xef\xbb\xbf").strip()  # UTF-8 BOM
            if not line:
                continue
            digest, sep, count_text = line.partition(b":")
            problem = None
            if not sep or len(digest) != hex_len:
                problem = f"expected {hex_len} hex digits, ':' and a count"
                if len(digest) == 32 and not prefix:
                    problem += " (this looks like the NTLM list; use the SHA-1 one)"
            else:
                try:
                    raw = binascii.unhexlify(prefix + digest)
                    count = int(count_text)
                    if count < 0:
                        raise ValueError("negative count")
                except ValueError:  # binascii.Error is a ValueError
                    problem = "bad hex digits or count"
            if problem is not None:
                errors.append(f"{path}:{lineno}: {problem}: {line[:60].decode('utf-8', 'replace')!r}")
                if len(errors) >= _MAX_REPORTED_ERRORS:
                    break
                continue
            if count >= min_count:
                yield raw[:width]
    if errors:
        raise BreachedSourceError("malformed Have I Been Pwned lines:\n" + "\n".join(errors))


def _source_records(sources: Iterable[Path], min_count: int, width: int) -> Iterator[bytes]:
    for source in sources:
        source = Path(source)
        if source.is_dir():
            files = sorted(p for p in source.rglob("*") if p.is_file() and _RANGE_NAME.fullmatch(p.name))
            if not files:
                raise BreachedSourceError(f"{source}: no range files (named by 5 hex digits, e.g. 21BD1.txt)")
            for file in files:
                yield from _parse_lines(file, file.name[:5].encode("ascii"), min_count, width)
        elif source.is_file():
            yield from _parse_lines(source, b"", min_count, width)
        else:
            raise BreachedSourceError(f"{source}: no such file or directory")


def _unique(records: Iterable[bytes]) -> Iterator[bytes]:
    previous = None
    for record in records:
        if record != previous:
            yield record
            previous = record


def _read_run(path: Path, width: int) -> Iterator[bytes]:
    with path.open("rb") as run:
        while chunk := run.read(width * 65536):
            for offset in range(0, len(chunk), width):
                yield chunk[offset : offset + width]


def _write_run(records: Iterable[bytes], directory: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix="run-", dir=directory)
    with os.fdopen(fd, "wb", buffering=1 << 20) as run:
        run.writelines(records)
    return Path(name)


def _sorted_unique(records: Iterable[bytes], width: int, workdir: Path, chunk_records: int) -> Iterator[bytes]:
    """External merge sort: sorted runs of ``chunk_records`` spill to ``workdir`` and are merged lazily."""
    runs: list[Path] = []
    chunk: list[bytes] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= chunk_records:
            chunk.sort()
            runs.append(_write_run(_unique(chunk), workdir))
            chunk = []
    chunk.sort()
    if not runs:
        yield from _unique(chunk)
        return
    if chunk:
        runs.append(_write_run(_unique(chunk), workdir))
    del chunk
    while len(runs) > _MAX_MERGE_FAN_IN:  # keep the number of open files bounded
        group, runs = runs[:_MAX_MERGE_FAN_IN], runs[_MAX_MERGE_FAN_IN:]
        runs.append(_write_run(_unique(heapq.merge(*(_read_run(r, width) for r in group))), workdir))
        for run in group:
            run.unlink()
    yield from _unique(heapq.merge(*(_read_run(r, width) for r in runs)))


def _write_atomically(records: Iterable[bytes], out: Path, width: int) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as file:
            file.write(_HEADER.pack(MAGIC, width, 0, 0))
            count = 0
            for record in records:
                file.write(record)
                count += 1
            file.seek(0)
            file.write(_HEADER.pack(MAGIC, width, 0, count))
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


def build_breached_file(
    sources: Iterable[Path],
    out: Path,
    *,
    min_count: int = 1,
    width: int = DEFAULT_WIDTH,
    chunk_records: int = DEFAULT_CHUNK_RECORDS,
) -> int:
    """Convert Have I Been Pwned SHA-1 downloads into a blocklist file at ``out``; returns the record count.

    Each source is either the single text file (``<40 hex>:<count>`` per line) or a directory of range files
    named by their 5-hex-digit prefix (``<35 hex>:<count>`` per line; searched recursively; the padding entries
    of the range API have count 0). Entries seen fewer than ``min_count`` times are skipped; an entry is kept if
    any source line for it reaches ``min_count``. ``out`` is replaced atomically, only once the build succeeds.
    Memory is bounded by ``chunk_records``: larger inputs are sorted in runs in a temporary directory next to
    ``out`` (allow about ``width`` bytes per input line of free disk).
    """
    if not 1 <= width <= _SHA1_LEN:
        raise ValueError(f"width must be between 1 and {_SHA1_LEN}")
    if chunk_records < 1:
        raise ValueError("chunk_records must be positive")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".mamori-breached-", dir=out.parent) as workdir:
        records = _sorted_unique(_source_records(sources, min_count, width), width, Path(workdir), chunk_records)
        return _write_atomically(records, out, width)


def _zxcvbn_common_passwords() -> tuple[list[str], str]:
    from importlib.metadata import version

    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

    passwords: list[str] = list(FREQUENCY_LISTS["passwords"])
    return passwords, version("zxcvbn")


def default_breached_file(data_dir: Path) -> Path:
    """Path of the default blocklist in ``data_dir``, built on first use from zxcvbn's common-password list.

    The list (30,000 passwords from leaked-password corpora, lower case) is stored as written, Capitalised and
    in UPPER CASE. The file name carries the zxcvbn version, so upgrading zxcvbn rebuilds it; a corrupt cached
    file is rebuilt too. Concurrent first calls are safe (each writes its own temporary file, then renames).
    """
    passwords, zxcvbn_version = _zxcvbn_common_passwords()
    out = Path(data_dir) / f"breached-zxcvbn-{zxcvbn_version}.bin"
    if out.exists():
        with contextlib.suppress(BreachedFileError), BreachedPasswords.open(out):
            return out
    variants = {v for p in passwords for v in (p, p.capitalize(), p.upper())}
    records = sorted({_sha1_prefix(p, DEFAULT_WIDTH) for p in variants})
    _write_atomically(records, out, DEFAULT_WIDTH)
    return out
