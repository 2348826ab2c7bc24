"""Single-stream compressors: gzip (RFC 1952), bzip2, xz (xz file format 1.0.4).

None of them can encrypt, so the finding is about what they wrap: the one member is decompressed
(bounded, ratio-checked as it grows) and scanned like an archive member (``report.zip.gz``). The
gzip trailer's ISIZE (RFC 1952 §2.3.1, the size modulo 2^32) is checked against ``max_ratio`` before
anything is inflated. The member is named from the gzip FNAME field (§2.3.1) or from the outer name.
"""

from __future__ import annotations

import struct
from typing import Any

from mamori.mail.attachments.base import Member, Report, clean_name
from mamori.mail.attachments.budget import Malformed, ScanContext
from mamori.mail.attachments.sniff import sniff
from mamori.mail.attachments.streams import Stream, StreamContent

_SUFFIXES = {"gzip": (".gz", ".gzip", ".z"), "bzip2": (".bz2", ".bz"), "xz": (".xz",)}
_TAR_SUFFIX = {".tgz": ".tar", ".tbz": ".tar", ".tbz2": ".tar", ".txz": ".tar"}


def _gzip_name(data: bytes) -> str | None:
    """FNAME of the first gzip member header, if any (RFC 1952 §2.3.1: FEXTRA, then FNAME)."""
    if len(data) < 10:
        raise Malformed(f"gzip header truncated at offset {len(data)}")
    flags = data[3]
    pos = 10
    if flags & 0x04:
        if pos + 2 > len(data):
            raise Malformed(f"gzip extra field truncated at offset {pos}")
        pos += 2 + struct.unpack_from("<H", data, pos)[0]
    if flags & 0x08:
        end = data.find(b"\x00", pos, pos + 4096)
        if end < 0:
            raise Malformed(f"gzip file name not terminated (from offset {pos})")
        return data[pos:end].decode("latin-1")
    return None


def _inner_name(outer: str, fmt: str) -> str:
    low = outer.lower()
    for suffix, repl in _TAR_SUFFIX.items():
        if low.endswith(suffix):
            return outer[: -len(suffix)] + repl
    for suffix in _SUFFIXES[fmt]:
        if low.endswith(suffix) and len(outer) > len(suffix):
            return outer[: -len(suffix)]
    return "data"


def read(data: bytes, ctx: ScanContext, name: str = "") -> Report:
    fmt = sniff(data[:16])
    detail: dict[str, Any] = {}
    inner = None
    if fmt == "gzip":
        inner = _gzip_name(data)
        if len(data) >= 18:
            isize = struct.unpack_from("<I", data, len(data) - 4)[0]
            detail["isize"] = isize
            ctx.check_ratio(isize, len(data), "the gzip stream (declared ISIZE)")
    member_name = clean_name(inner.rsplit("/", 1)[-1] if inner else _inner_name(name, fmt))
    what = f"{fmt} stream"
    member = Member(member_name, None, len(data), content=StreamContent(
        lambda: Stream(ctx, fmt, data, what=what), size=None, what=what))
    return Report(fmt, False, "clean", f"{fmt}: one compressed stream (the format has no encryption); content "
                  "inspected", detail, [member])
