"""Bounded, incremental decompression: never more output than asked for, every byte charged to the
message budget, and the compression ratio checked as the output grows (so a bomb stops after about
``RATIO_FLOOR`` bytes, not after the whole payload).

Backends are the standard library only: ``zlib`` (Deflate, RFC 1951; gzip, RFC 1952), ``bz2`` and
``lzma`` (xz, and raw LZMA1/LZMA2 as used by 7z and ZIP method 14). Each is driven with
``max_length`` so that output is produced in steps of at most :data:`OUT_STEP` bytes.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from mamori.mail.attachments.budget import LimitExceeded, Malformed, ScanContext

OUT_STEP = 1024 * 1024
IN_STEP = 16 * 1024

_MAGIC = {"gzip": b"\x1f\x8b", "bzip2": b"BZh", "xz": b"\xfd7zXZ\x00"}

_Decomp = Any  # zlib._Decompress | bz2.BZ2Decompressor | lzma.LZMADecompressor (no common type)


def clamp_dict(declared: int, unpacked: int, ctx: ScanContext) -> int:
    """liblzma allocates the whole dictionary up front; a dictionary larger than everything we may
    decompress is never used, so a hostile 4 GiB declaration costs no more than the budget allows."""
    return max(4096, min(declared, max(unpacked, 4096), ctx.budget.limit + 1, 1 << 30))


class Stream:
    """Sequential reader of the decompressed form of ``payload``.

    ``kind`` is ``store``, ``deflate`` (raw), ``gzip``, ``bzip2``, ``xz`` (the last three accept
    concatenated members) or ``lzma-raw`` (with liblzma ``filters``).
    """

    def __init__(self, ctx: ScanContext, kind: str, payload: bytes | memoryview, *, what: str,
                 filters: Sequence[dict[str, Any]] | None = None) -> None:
        self.ctx = ctx
        self.kind = kind
        self.what = what
        self._src = memoryview(payload)
        self._filters = filters
        self._in = 0
        self.pos = 0
        """Decompressed bytes handed out (read or skipped) so far."""
        self._eof = False
        self._d: _Decomp = self._new() if kind != "store" else None

    def _new(self) -> _Decomp:
        if self.kind == "deflate":
            return zlib.decompressobj(-15)
        if self.kind == "gzip":
            return zlib.decompressobj(31)
        if self.kind == "bzip2":
            return bz2.BZ2Decompressor()
        if self.kind == "xz":
            return lzma.LZMADecompressor(format=lzma.FORMAT_XZ, memlimit=256 * 1024 * 1024)
        if self.kind == "lzma-raw":
            return lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=self._filters)
        raise Malformed(f"unknown stream kind {self.kind}")

    @property
    def consumed(self) -> int:
        """Compressed bytes used so far (exact for zlib, to within :data:`IN_STEP` otherwise)."""
        if self.kind in ("deflate", "gzip") and self._d is not None:
            return self._in - len(self._d.unconsumed_tail)
        return self._in

    def _feed(self) -> bytes:
        chunk = bytes(self._src[self._in:self._in + IN_STEP])
        self._in += len(chunk)
        return chunk

    def _produce(self, max_len: int) -> bytes:
        if self._eof:
            return b""
        if self._d is None:  # store
            chunk = bytes(self._src[self._in:self._in + max_len])
            self._in += len(chunk)
            if not chunk:
                self._eof = True
            return chunk
        try:
            while True:
                d = self._d
                is_zlib = self.kind in ("deflate", "gzip")
                if is_zlib:
                    data = d.unconsumed_tail or self._feed()
                    exhausted = not data
                else:
                    data = self._feed() if d.needs_input else b""
                    exhausted = d.needs_input and not data
                if exhausted:
                    raise Malformed(f"{self.what}: compressed data truncated after {self._in} bytes")
                out: bytes = d.decompress(data, max_len)
                if d.eof:
                    rest = bytes(d.unused_data) + (bytes(d.unconsumed_tail) if is_zlib else b"")
                    self._in -= len(rest)
                    magic = _MAGIC.get(self.kind)
                    if magic is not None and self._src[self._in:self._in + len(magic)] == magic:
                        self._d = self._new()  # next member of a concatenated stream
                    else:
                        self._eof = True
                if out or self._eof:
                    return out
        except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError) as exc:
            raise Malformed(f"{self.what}: corrupt compressed data ({exc})") from None

    def _account(self, n: int, total: int) -> None:
        self.ctx.budget.consume(n)
        self.ctx.check_ratio(total, self.consumed, self.what)

    def read(self, n: int) -> bytes:
        """Up to ``n`` decompressed bytes (fewer only at the end of the data)."""
        parts: list[bytes] = []
        got = 0
        while got < n:
            chunk = self._produce(min(n - got, OUT_STEP))
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
            self._account(len(chunk), self.pos + got)
        self.pos += got
        return b"".join(parts)

    def skip(self, n: int) -> int:
        """Decompress and drop ``n`` bytes (still charged to the budget); returns how many were dropped."""
        done = 0
        while done < n:
            chunk = self._produce(min(n - done, OUT_STEP))
            if not chunk:
                break
            done += len(chunk)
            self._account(len(chunk), self.pos + done)
        self.pos += done
        return done


class StreamContent:
    """The content of one member: ``size`` bytes at ``offset`` of a (possibly shared) stream.

    7z solid folders share one stream between their files, which the engine visits in order; ZIP,
    RAR, tar and gzip members each have their own.
    """

    def __init__(self, open_stream: Callable[[], Stream], *, offset: int = 0, size: int | None,
                 crc: int | None = None, what: str) -> None:
        self._open = open_stream
        self._stream: Stream | None = None
        self.offset = offset
        self.size = size
        self.crc = crc
        self.what = what
        self._head = b""

    def head(self, n: int) -> bytes:
        """The first ``n`` bytes (or the whole member if it is smaller)."""
        s = self._stream = self._open()
        if s.pos > self.offset:
            raise Malformed(f"{self.what}: overlaps the previous member")
        if s.pos < self.offset and s.skip(self.offset - s.pos) < self.offset - s.pos:
            raise Malformed(f"{self.what}: stream ends before the member starts")
        want = n if self.size is None else min(n, self.size)
        self._head = s.read(want)
        if len(self._head) < want and self.size is not None:
            raise Malformed(f"{self.what}: data truncated ({len(self._head)} of {self.size} bytes)")
        return self._head

    def full(self, limit: int) -> bytes:
        """The whole member, at most ``limit`` bytes (more raises :class:`LimitExceeded`)."""
        if self._stream is None:
            self.head(0)
        s = self._stream
        assert s is not None
        if self.size is not None:
            s.ctx.check_member_size(self.size, self.what)
            rest = s.read(self.size - len(self._head))
            data = self._head + rest
            if len(data) < self.size:
                raise Malformed(f"{self.what}: data truncated ({len(data)} of {self.size} bytes)")
        else:
            rest = s.read(limit + 1 - len(self._head))
            data = self._head + rest
            if len(data) > limit:
                raise LimitExceeded(f"limit: {self.what} decompresses to more than {limit} bytes "
                                    "(ScanLimits.max_member_bytes)")
        if self.crc is not None and zlib.crc32(data) != self.crc:
            raise Malformed(f"{self.what}: CRC-32 mismatch (stored {self.crc:08x}, computed {zlib.crc32(data):08x})")
        return data
