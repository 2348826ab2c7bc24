"""RAR 4 and RAR 5: encryption from the block headers alone (no RAR decoder is needed or used).

RAR 4 (RAR 2.9-4.x, ``TechNote.txt`` shipped with RAR, "RAR version 4.x - technical information"):
marker block ``Rar!\\x1A\\x07\\x00``, then blocks of HEAD_CRC (low 16 bits of the CRC-32 of the
header from HEAD_TYPE on), HEAD_TYPE, HEAD_FLAGS, HEAD_SIZE and, when HEAD_FLAGS has 0x8000, ADD_SIZE.

- archive header (HEAD_TYPE 0x73): flag **0x0080 MHD_PASSWORD** = block headers are encrypted
  (``rar -hp``): names are hidden, the archive is ``encrypted``;
- file header (0x74): flag **0x0004 LHD_PASSWORD** = the file is encrypted; 0x0100 LHD_LARGE adds
  HIGH_PACK_SIZE/HIGH_UNP_SIZE; 0x0200 LHD_UNICODE names carry the RAR Unicode name encoding after a
  NUL; METHOD 0x30 = stored.

RAR 5 (rarlab.com "RAR 5.0 archive format"): signature ``Rar!\\x1A\\x07\\x01\\x00``, then blocks of
CRC32, Header size (vint), Header type, Header flags, optional Extra area size and Data size.

- **archive encryption header (type 4)** = every following header is encrypted (``rar -hp``);
- file header (type 2): an extra area record of **type 0x01 (File encryption)** = the file is
  encrypted (AES-256, version 0); compression information bits 7-9 = method, 0 = stored.

Stored members are opened (their data area is the file); compressed ones are listed with names and
flags only (``detail.inspected = false``).
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

from mamori.mail.attachments.base import Member, Reader, Report, clean_name
from mamori.mail.attachments.budget import LimitExceeded, Malformed, ScanContext
from mamori.mail.attachments.streams import Stream, StreamContent

RAR4_SIG = b"Rar!\x1a\x07\x00"
RAR5_SIG = b"Rar!\x1a\x07\x01\x00"
_B4 = struct.Struct("<HBHH")
_F4 = struct.Struct("<IIBIIBBHI")


def _oem(raw: bytes) -> str:
    for enc in ("utf-8", "cp932"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("cp437")


def decode_unicode_name(name: bytes, enc: bytes) -> str:
    """RAR 3.x/4.x Unicode file names (unrar ``EncodeFileName::Decode``): a high byte, then 2-bit
    opcodes selecting a byte, a byte + high byte, a full 16-bit char, or a run copied from ``name``."""
    out: list[int] = []
    if not enc:
        return _oem(name)
    high = enc[0]
    i = 1
    flags = bits = 0
    try:
        while i < len(enc) and len(out) < 4096:
            if bits == 0:
                flags, bits = enc[i], 8
                i += 1
            bits -= 2
            op = (flags >> bits) & 3
            if op == 0:
                out.append(enc[i])
                i += 1
            elif op == 1:
                out.append(enc[i] | (high << 8))
                i += 1
            elif op == 2:
                out.append(enc[i] | (enc[i + 1] << 8))
                i += 2
            else:
                length = enc[i]
                i += 1
                if length & 0x80:
                    corr = enc[i]
                    i += 1
                    for _ in range((length & 0x7F) + 2):
                        out.append(((name[len(out)] + corr) & 0xFF) | (high << 8))
                else:
                    for _ in range(length + 2):
                        out.append(name[len(out)])
    except IndexError:
        pass
    return "".join(map(chr, out)) if out else _oem(name)


def _stored(ctx: ScanContext, data: bytes, start: int, packed: int, size: int, crc: int | None, name: str,
            fmt: str) -> StreamContent:
    what = f"{fmt} member {name}"
    payload = memoryview(data)[start:start + packed]
    return StreamContent(lambda: Stream(ctx, "store", payload, what=what), size=size, crc=crc, what=what)


def _read4(data: bytes, ctx: ScanContext, members: list[Member], detail: dict[str, Any]) -> Report:
    r = Reader(data)
    pos = len(RAR4_SIG)
    blocks = 0
    while pos < len(data):
        blocks = _count_block(ctx, blocks, "rar4")
        crc, htype, flags, hsize = r.unpack(_B4, pos, "block header")
        if hsize < 7:
            raise Malformed(f"block header at offset {pos} declares size {hsize}")
        r.need(pos, hsize, "block header")
        if zlib.crc32(data[pos + 2:pos + hsize]) & 0xFFFF != crc:
            raise Malformed(f"block header CRC mismatch at offset {pos} (type 0x{htype:02x})")
        add = 0
        if htype == 0x73:
            detail["main_flags"] = f"0x{flags:04x}"
            if flags & 0x0080:
                return Report("rar4", True, "encrypted", "rar4: archive header flag MHD_PASSWORD (0x0080): block "
                              "headers encrypted (rar -hp), file names and contents hidden",
                              {**detail, "encryption": "headers", "headers_encrypted": True})
        elif htype == 0x74:
            (packed, unpacked, _host, fcrc, _ftime, _ver, method, nsize, _attr) = r.unpack(_F4, pos + 7, "file header")
            off = pos + 7 + _F4.size
            if flags & 0x0100:
                hp, hu = r.unpack(struct.Struct("<II"), off, "file header")
                packed, unpacked = packed | hp << 32, unpacked | hu << 32
                off += 8
            if off + nsize > pos + hsize:
                raise Malformed(f"file name overruns the file header at offset {pos}")
            raw = data[off:off + nsize]
            if flags & 0x0200 and b"\x00" in raw:
                ascii_part, enc = raw.split(b"\x00", 1)
                name = clean_name(decode_unicode_name(ascii_part, enc))
            else:
                name = clean_name(_oem(raw))
            add = packed
            ctx.check_members(len(members) + 1, "rar4")
            is_dir = flags & 0xE0 == 0xE0
            if flags & 0x0004:
                members.append(Member(name, unpacked, packed, encrypted=True, detail={"encryption": "rar4-aes"},
                                      method="rar4: file header flag 0x0004 (LHD_PASSWORD): file encrypted"))
            elif is_dir:
                pass
            elif flags & 0x0003:
                members.append(Member(name, unpacked, packed, detail={"split": True},
                                      uninspected="rar4: file continues in another volume"))
            elif method == 0x30:
                if pos + hsize + packed > len(data):
                    members.append(Member(name, unpacked, packed, verdict="error",
                                          method=f"rar4: data of {name} truncated at offset {len(data)}"))
                else:
                    members.append(Member(name, unpacked, packed, content=_stored(
                        ctx, data, pos + hsize, packed, unpacked, fcrc, name, "rar4")))
            else:
                members.append(Member(name, unpacked, packed, detail={"method": f"0x{method:02x}"},
                                      uninspected=f"rar4: compressed with RAR method 0x{method:02x} (no RAR "
                                      "decoder; names and flags only)"))
        elif htype == 0x7B:
            break
        elif flags & 0x8000:
            add = r.unpack(struct.Struct("<I"), pos + 7, "block header")[0]
        pos += hsize + add
    return _summary("rar4", members, detail, "file header flag 0x0004 (LHD_PASSWORD)")


def _count_block(ctx: ScanContext, blocks: int, fmt: str) -> int:
    """Service, comment and other blocks are not members, but each costs a header parse."""
    blocks += 1
    if blocks > 4 * ctx.limits.max_members + 16:
        raise LimitExceeded(f"limit: {fmt} has more than {4 * ctx.limits.max_members + 16} blocks "
                            "(4 x ScanLimits.max_members)")
    return blocks


def _vint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    for i in range(10):
        if pos + i >= end:
            raise Malformed(f"block header truncated at offset {pos + i}")
        b = data[pos + i]
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos + i + 1
        shift += 7
    raise Malformed(f"variable-length integer too long at offset {pos}")


def _read5(data: bytes, ctx: ScanContext, members: list[Member], detail: dict[str, Any]) -> Report:
    pos = len(RAR5_SIG)
    n = len(data)
    blocks = 0
    while pos < n:
        blocks = _count_block(ctx, blocks, "rar5")
        if pos + 5 > n:
            raise Malformed(f"block header truncated at offset {pos}")
        crc = struct.unpack_from("<I", data, pos)[0]
        hsize, p = _vint(data, pos + 4, n)
        if hsize == 0 or hsize > 2 * 1024 * 1024:
            raise Malformed(f"block header at offset {pos} declares size {hsize}")
        hend = p + hsize
        if hend > n:
            raise Malformed(f"block header truncated at offset {n} (header at {pos} needs {hend})")
        if zlib.crc32(data[pos + 4:hend]) != crc:
            raise Malformed(f"block header CRC mismatch at offset {pos}")
        htype, p = _vint(data, p, hend)
        hflags, p = _vint(data, p, hend)
        extra_size = data_size = 0
        if hflags & 0x0001:
            extra_size, p = _vint(data, p, hend)
        if hflags & 0x0002:
            data_size, p = _vint(data, p, hend)
        if extra_size > hend - p:
            raise Malformed(f"extra area overruns the block header at offset {pos}")
        if htype == 4:
            version, p = _vint(data, p, hend)
            return Report("rar5", True, "encrypted", "rar5: archive encryption header (type 4): every following "
                          "header is encrypted (rar -hp), file names and contents hidden",
                          {**detail, "encryption": "headers", "headers_encrypted": True, "encryption_version": version})
        if htype == 1:
            aflags, p = _vint(data, p, hend)
            detail["archive_flags"] = f"0x{aflags:x}"
        elif htype in (2, 3):
            fflags, p = _vint(data, p, hend)
            unpacked, p = _vint(data, p, hend)
            _attr, p = _vint(data, p, hend)
            if fflags & 0x0002:
                p += 4
            fcrc = None
            if fflags & 0x0004:
                if p + 4 > hend:
                    raise Malformed(f"file header truncated at offset {p}")
                fcrc = struct.unpack_from("<I", data, p)[0]
                p += 4
            comp, p = _vint(data, p, hend)
            _host, p = _vint(data, p, hend)
            nlen, p = _vint(data, p, hend)
            if p + nlen > hend:
                raise Malformed(f"file name overruns the file header at offset {pos}")
            name = clean_name(data[p:p + nlen].decode("utf-8", "replace"))
            encrypted = _has_encryption_record(data, hend - extra_size, hend)
            if htype == 3:  # service header (CMT, QO, ACL, STM, RR): not a member
                if encrypted:
                    detail.setdefault("encrypted_service_headers", []).append(name)
            else:
                ctx.check_members(len(members) + 1, "rar5")
                method = (comp >> 7) & 7
                data_at = hend
                if encrypted:
                    members.append(Member(name, unpacked, data_size, encrypted=True,
                                          detail={"encryption": "rar5-aes256"},
                                          method="rar5: file encryption extra record (type 0x01): file encrypted "
                                          "(AES-256)"))
                elif fflags & 0x0001:
                    pass
                elif hflags & 0x0018:
                    members.append(Member(name, unpacked, data_size, detail={"split": True},
                                          uninspected="rar5: file continues in another volume"))
                elif method == 0 and not fflags & 0x0008:
                    if data_at + data_size > n:
                        members.append(Member(name, unpacked, data_size, verdict="error",
                                              method=f"rar5: data of {name} truncated at offset {n}"))
                    else:
                        members.append(Member(name, unpacked, data_size, content=_stored(
                            ctx, data, data_at, data_size, unpacked, fcrc, name, "rar5")))
                else:
                    members.append(Member(name, unpacked, data_size, detail={"method": method},
                                          uninspected=f"rar5: compressed with RAR method {method} (no RAR decoder; "
                                          "names and flags only)"))
        elif htype == 5:
            break
        pos = hend + data_size
    return _summary("rar5", members, detail, "file encryption extra record (type 0x01)")


def _has_encryption_record(data: bytes, start: int, end: int) -> bool:
    p = start
    while p < end:
        size, q = _vint(data, p, end)
        if size == 0 or q + size > end:
            raise Malformed(f"extra area record overruns the header at offset {p}")
        rtype, _ = _vint(data, q, end)
        if rtype == 0x01:
            return True
        p = q + size
    return False


def _summary(fmt: str, members: list[Member], detail: dict[str, Any], signal: str) -> Report:
    enc = [m for m in members if m.encrypted]
    detail["files"] = len(members)
    if enc:
        detail["encrypted_files"] = len(enc)
        return Report(fmt, True, "encrypted", f"{fmt}: {signal}: {len(enc)} of {len(members)} file(s) encrypted; "
                      "names visible", detail, members)
    return Report(fmt, False, "clean", f"{fmt}: {len(members)} file(s), no header or file encryption flag", detail,
                  members)


def read(data: bytes, ctx: ScanContext, name: str = "") -> Report:
    members: list[Member] = []
    detail: dict[str, Any] = {}
    fmt = "rar5" if data.startswith(RAR5_SIG) else "rar4"
    try:
        if fmt == "rar5":
            return _read5(data, ctx, members, detail)
        return _read4(data, ctx, members, detail)
    except Malformed as exc:
        if not any(m.encrypted for m in members):
            raise
        report = _summary(fmt, members, detail, "file encrypted")
        report.method += f"; the archive is damaged after that: {exc}"
        report.detail["damaged"] = str(exc)
        return report
