"""POSIX tar (ustar, pax, GNU): no encryption of its own, but members may be encrypted archives.

Headers are 512-byte blocks (POSIX.1-2017 ``pax``, "ustar Interchange Format"): name[100],
size[12] octal (or GNU base-256 when the high bit is set), chksum[8] (the sum of the header bytes
with the field read as spaces, checked), typeflag, ``ustar`` magic at 257, prefix[155] at 345. GNU
``L`` long names and pax ``x`` records (``path=``) name the following entry. Members are stored,
so their content is a slice of the file.
"""

from __future__ import annotations

from typing import Any

from mamori.mail.attachments.base import Member, Report, clean_name
from mamori.mail.attachments.budget import LimitExceeded, Malformed, ScanContext
from mamori.mail.attachments.streams import Stream, StreamContent

_ZERO = bytes(512)


def _size(field: bytes, pos: int) -> int:
    if field[:1] and field[0] & 0x80:
        return int.from_bytes(field[1:], "big")
    text = field.strip(b"\x00 ")
    try:
        return int(text or b"0", 8)
    except ValueError:
        raise Malformed(f"header size field {field!r} not octal at offset {pos + 124}") from None


def _slice(ctx: ScanContext, data: bytes, at: int, size: int, what: str) -> StreamContent:
    payload = memoryview(data)[at:at + size]
    return StreamContent(lambda: Stream(ctx, "store", payload, what=what), size=size, what=what)


def _pax_path(block: bytes) -> str | None:
    for line in block.split(b"\n"):
        _, _, rec = line.partition(b" ")
        if rec.startswith(b"path="):
            return rec[5:].decode("utf-8", "replace")
    return None


def read(data: bytes, ctx: ScanContext, name: str = "") -> Report:
    members: list[Member] = []
    pos = 0
    long_name: str | None = None
    headers = 0
    while pos + 512 <= len(data):
        headers += 1
        if headers > 4 * ctx.limits.max_members + 16:
            raise LimitExceeded(f"limit: tar has more than {4 * ctx.limits.max_members + 16} headers "
                                "(4 x ScanLimits.max_members)")
        hdr = data[pos:pos + 512]
        if hdr == _ZERO:
            break
        try:
            stored = int(hdr[148:156].strip(b"\x00 ") or b"-1", 8)
        except ValueError:
            stored = -1
        if stored != sum(hdr) - sum(hdr[148:156]) + 8 * 32:
            raise Malformed(f"header checksum mismatch at offset {pos}")
        size = _size(hdr[124:136], pos)
        kind = hdr[156:157]
        at = pos + 512
        nxt = at + (size + 511) // 512 * 512
        if kind in (b"L", b"x"):
            block = data[at:at + min(size, 65536)]
            long_name = block.rstrip(b"\x00").decode("utf-8", "replace") if kind == b"L" else _pax_path(block)
            pos = nxt
            continue
        raw = hdr[:100].split(b"\x00", 1)[0]
        if hdr[257:262] == b"ustar" and hdr[345:500].strip(b"\x00"):
            raw = hdr[345:500].split(b"\x00", 1)[0] + b"/" + raw
        fname = clean_name(long_name or raw.decode("utf-8", "replace"))
        long_name = None
        if kind in (b"0", b"\x00", b"7"):
            ctx.check_members(len(members) + 1, "tar")
            if at + size > len(data):
                members.append(Member(fname, size, size, verdict="error",
                                      method=f"tar: data of {fname} truncated at offset {len(data)}"))
                break
            members.append(Member(fname, size, size, content=_slice(ctx, data, at, size, f"tar member {fname}")))
        pos = nxt
    detail: dict[str, Any] = {"files": len(members)}
    return Report("tar", False, "clean", f"tar: {len(members)} file(s) (the format has no encryption)", detail, members)
