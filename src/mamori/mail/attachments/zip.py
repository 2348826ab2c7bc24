"""ZIP: encryption from the headers, read by our own bounded parser (not :mod:`zipfile`).

Spec: PKWARE APPNOTE.TXT 6.3.10 (2022). What is read and why:

- End of central directory record (§4.3.16), searched backwards within the last 64 KiB + 22 bytes;
  ZIP64 end of central directory locator and record (§4.3.14-4.3.15) when present. The start of the
  central directory is computed from its size, so a prefix (self-extractor stub, an image in a
  polyglot, a concatenated first archive) is found and reported (``detail.prefix_bytes``).
- Every central directory header (§4.3.12) **and** the local file header it points to (§4.3.7),
  compared: general purpose flags bit 0 (encrypted, §4.4.4), bit 6 (strong encryption), compression
  method, name, and sizes/CRC unless bit 3 (data descriptor) defers them. A disagreement is
  reported as suspicious: extractors differ in which header they trust, a known scanner-evasion trick.
- Encryption schemes, each named separately:

  * ZipCrypto (traditional PKWARE encryption, §6.1): bit 0 only;
  * WinZip AES (AE-1/AE-2): compression method 99 and extra field 0x9901 (vendor version, ``AE``,
    strength 1/2/3 = AES-128/192/256, actual method) per the WinZip AES specification; bit 0 is set too;
  * PKWARE strong encryption (§7.2): bit 6 and the Strong Encryption Header extra field 0x0017
    (Format, AlgID, Bitlen, Flags; AlgID 0x660E/0x660F/0x6610 = AES-128/192/256, §7.2.3.2);
  * central directory encryption (§7.3): bit 13 in the local headers (their values are masked) or an
    archive extra data record ``PK\\x06\\x08`` (§4.3.11) before the central directory, or a version 2
    ZIP64 end of central directory record with an encryption algorithm (§7.3.4): names are hidden.

- Zip-bomb constructions: entries whose local data overlap (the non-recursive bomb of D. Fifield,
  "A better zip bomb", WOOT 2019) are refused; declared sizes feed the engine's ratio check before
  any inflation; local headers not listed in the central directory (in the gaps between entries,
  or in a prefix) are reported as hidden entries.
- Names: bit 11 = UTF-8 (§4.4.4, appendix D); the Info-ZIP Unicode Path extra field 0x7075 when its
  CRC matches; otherwise UTF-8 if valid, else CP932 (Japanese Windows Explorer writes Shift_JIS
  names without bit 11), else CP437.

If the central directory cannot be read (a truncated mail, a split archive), the local headers are
walked from the start so that an encrypted entry is still found; without one the verdict is
``error`` naming the problem.
"""

from __future__ import annotations

import itertools
import lzma
import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from mamori.mail.attachments.base import Member, Reader, Report, clean_name
from mamori.mail.attachments.budget import Malformed, ScanContext
from mamori.mail.attachments.streams import Stream, StreamContent, clamp_dict

LFH_SIG = b"PK\x03\x04"
CDH_SIG = b"PK\x01\x02"
EOCD_SIG = b"PK\x05\x06"
Z64_EOCD_SIG = b"PK\x06\x06"
Z64_LOC_SIG = b"PK\x06\x07"
AED_SIG = b"PK\x06\x08"

LFH = struct.Struct("<4sHHHHHIIIHH")
CDH = struct.Struct("<4sHHHHHHIIIHHHHHII")
EOCD = struct.Struct("<4sHHHHIIH")
Z64_LOC = struct.Struct("<4sIQI")
Z64_EOCD = struct.Struct("<4sQHHIIQQQQ")

FLAG_ENCRYPTED = 0x0001
FLAG_DATA_DESCRIPTOR = 0x0008
FLAG_STRONG = 0x0040
FLAG_UTF8 = 0x0800
FLAG_MASKED = 0x2000

METHOD_NAMES = {0: "stored", 1: "shrunk", 6: "imploded", 8: "deflate", 9: "deflate64", 12: "bzip2", 14: "lzma",
                19: "lz77", 93: "zstd", 94: "mp3", 95: "xz", 96: "jpeg", 97: "wavpack", 98: "ppmd", 99: "aes"}
_KINDS = {0: "store", 8: "deflate", 12: "bzip2", 14: "lzma-raw", 95: "xz"}
STRONG_ALGS = {0x6601: "DES", 0x6602: "RC2 (pre 5.2)", 0x6603: "3DES-168", 0x6609: "3DES-112", 0x660E: "AES-128",
               0x660F: "AES-192", 0x6610: "AES-256", 0x6702: "RC2", 0x6720: "Blowfish", 0x6721: "Twofish",
               0x6801: "RC4"}
AES_BITS = {1: 128, 2: 192, 3: 256}
_MAX_HIDDEN = 64


@dataclass
class _Entry:
    index: int
    raw_name: bytes
    name: str
    flags: int
    method: int
    crc: int
    csize: int
    usize: int
    offset: int
    extras: dict[int, bytes]
    notes: list[str] = field(default_factory=list)
    start: int = 0
    end: int = 0


def _extras(buf: bytes) -> tuple[dict[int, bytes], bool]:
    """Extra field blocks (APPNOTE §4.5.1): header ID, data size, data. ``False`` if one overruns."""
    out: dict[int, bytes] = {}
    i = 0
    while i + 4 <= len(buf):
        hid, hsz = struct.unpack_from("<HH", buf, i)
        if i + 4 + hsz > len(buf):
            return out, False
        out.setdefault(hid, buf[i + 4:i + 4 + hsz])
        i += 4 + hsz
    return out, True


def _apply_zip64(extras: dict[int, bytes], usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    """ZIP64 extended information extra field 0x0001 (§4.5.3): only the fields set to 0xFFFFFFFF."""
    ex = extras.get(0x0001)
    if ex is None:
        return usize, csize, offset
    vals = [struct.unpack_from("<Q", ex, i)[0] for i in range(0, len(ex) - 7, 8)]
    it = iter(vals)
    if usize == 0xFFFFFFFF:
        usize = next(it, usize)
    if csize == 0xFFFFFFFF:
        csize = next(it, csize)
    if offset == 0xFFFFFFFF:
        offset = next(it, offset)
    return usize, csize, offset


def decode_name(raw: bytes, flags: int, extras: dict[int, bytes]) -> str:
    up = extras.get(0x7075)
    if up is not None and len(up) > 5 and up[0] == 1 and struct.unpack_from("<I", up, 1)[0] == zlib.crc32(raw):
        return clean_name(up[5:].decode("utf-8", "replace"))
    if flags & FLAG_UTF8:
        return clean_name(raw.decode("utf-8", "replace"))
    for enc in ("utf-8", "cp932"):
        try:
            return clean_name(raw.decode(enc))
        except UnicodeDecodeError:
            continue
    return clean_name(raw.decode("cp437"))


def scheme(flags: int, method: int, extras: dict[int, bytes]) -> tuple[str, str, dict[str, Any]] | None:
    """The encryption scheme an entry's header declares: (key, method text, detail), or ``None``."""
    if method == 99 or 0x9901 in extras:
        aes = extras.get(0x9901, b"")
        detail: dict[str, Any] = {"encryption": "winzip-aes"}
        label = "WinZip AES"
        if len(aes) >= 7:
            version, vendor, strength, real_method = struct.unpack_from("<H2sBH", aes)
            bits = AES_BITS.get(strength)
            detail.update({"aes_version": f"AE-{version}", "aes_bits": bits, "vendor": vendor.decode("latin-1"),
                           "real_method": METHOD_NAMES.get(real_method, str(real_method))})
            label = f"WinZip AES-{bits or '?'}, AE-{version}"
        return "winzip-aes", f"zip: compression method 99 with AES extra field 0x9901 ({label})", detail
    if flags & FLAG_STRONG or 0x0017 in extras:
        seh = extras.get(0x0017, b"")
        detail = {"encryption": "pkware-strong"}
        label = "PKWARE strong encryption"
        if len(seh) >= 8:
            _fmt, alg, bitlen, _sflags = struct.unpack_from("<HHHH", seh)
            detail.update({"algorithm": STRONG_ALGS.get(alg, f"0x{alg:04x}"), "bits": bitlen})
            label += f", {STRONG_ALGS.get(alg, f'AlgID 0x{alg:04x}')}"
        src = "general purpose flag bit 6" if flags & FLAG_STRONG else "Strong Encryption Header extra field 0x0017"
        return "pkware-strong", f"zip: {src} set ({label})", detail
    if flags & FLAG_ENCRYPTED:
        return "zipcrypto", "zip: general purpose flag bit 0 set (ZipCrypto)", {"encryption": "zipcrypto"}
    return None


def _find_eocd(data: bytes) -> int:
    start = max(0, len(data) - 22 - 0xFFFF)
    pos = data.rfind(EOCD_SIG, start)
    fallback = -1
    tries = 0
    while pos >= 0 and tries < 64:
        tries += 1
        if pos + 22 <= len(data):
            clen = struct.unpack_from("<H", data, pos + 20)[0]
            if pos + 22 + clen == len(data):
                return pos
            if fallback < 0 and pos + 22 + clen <= len(data):
                fallback = pos
        pos = data.rfind(EOCD_SIG, start, pos + 3)
    if fallback < 0:
        raise Malformed("end of central directory record not found (truncated or not a ZIP)")
    return fallback


@dataclass
class _Directory:
    entries: list[_Entry]
    prefix: int
    cd_start: int
    zip64: bool
    notes: list[str]
    encrypted_cd: str | None = None


def _directory(data: bytes, ctx: ScanContext) -> _Directory:
    r = Reader(data)
    eocd = _find_eocd(data)
    _, disk, cd_disk, _n_disk, n_total, cd_size, cd_off, _clen = r.unpack(EOCD, eocd, "end of central directory")
    notes: list[str] = []
    cd_end = eocd
    zip64 = False
    z64_enc = False
    if eocd >= 20 and data[eocd - 20:eocd - 16] == Z64_LOC_SIG:
        _, _zdisk, z_off, _ndisks = r.unpack(Z64_LOC, eocd - 20, "ZIP64 end of central directory locator")
        z64 = z_off if data[z_off:z_off + 4] == Z64_EOCD_SIG else data.rfind(Z64_EOCD_SIG, max(0, eocd - 20 - 0x10000),
                                                                              eocd - 20)
        if z64 < 0:
            raise Malformed(f"ZIP64 end of central directory record not found (locator at offset {eocd - 20})")
        (_, rec_size, _vmade, vneed, disk, cd_disk, _nd, n_total, cd_size, cd_off) = r.unpack(
            Z64_EOCD, z64, "ZIP64 end of central directory")
        zip64 = True
        cd_end = z64
        if vneed >= 62 and rec_size >= 44 + 28 and z64 + 76 <= len(data):
            # version 2 record (§7.3.4): method, sizes, then AlgID of the central directory encryption
            z64_enc = struct.unpack_from("<H", data, z64 + 12 + 44 + 18)[0] != 0
    if disk != 0 or cd_disk != 0:
        raise Malformed(f"part of a split (multi-disk) archive: disk {disk}, central directory on disk {cd_disk}")
    cd_start = cd_end - cd_size
    if cd_start < 0:
        raise Malformed(f"central directory size {cd_size} is larger than the {cd_end} bytes before it")
    prefix = cd_start - cd_off
    if prefix < 0:
        raise Malformed(f"central directory offset {cd_off} points past the end of the central directory "
                        f"(it ends at offset {cd_end})")
    first = data[prefix:prefix + LFH.size]
    masked = len(first) == LFH.size and first[:4] == LFH_SIG and LFH.unpack(first)[2] & FLAG_MASKED
    if data[cd_start:cd_start + 4] == AED_SIG or data[cd_off:cd_off + 4] == AED_SIG or masked or z64_enc:
        why = ("archive extra data record before the central directory" if AED_SIG in (
            data[cd_start:cd_start + 4], data[cd_off:cd_off + 4]) else "general purpose flag bit 13 (masked local "
               "header)" if masked else "version 2 ZIP64 end of central directory record")
        return _Directory([], prefix, cd_start, zip64, notes, encrypted_cd=why)
    if n_total != 0xFFFF:
        ctx.check_members(n_total, "zip")
    entries: list[_Entry] = []
    pos = cd_start
    while pos < cd_end and data[pos:pos + 4] == CDH_SIG:
        (_, _vmade, _vneed, flags, method, _t, _d, crc, csize, usize, nlen, elen, clen, _dk, _ia, _ea,
         off) = r.unpack(CDH, pos, "central directory")
        r.need(pos, 46 + nlen + elen + clen, "central directory")
        raw = bytes(data[pos + 46:pos + 46 + nlen])
        extras, ok = _extras(bytes(data[pos + 46 + nlen:pos + 46 + nlen + elen]))
        usize, csize, off = _apply_zip64(extras, usize, csize, off)
        e = _Entry(len(entries), raw, decode_name(raw, flags, extras), flags, method, crc, csize, usize, off, extras)
        if not ok:
            e.notes.append("an extra field overruns the central directory header")
        entries.append(e)
        ctx.check_members(len(entries), "zip")
        pos += 46 + nlen + elen + clen
    if pos < cd_end and not entries:
        raise Malformed(f"central directory entry expected at offset {pos}, found {data[pos:pos + 4]!r}")
    if n_total not in (0xFFFF, len(entries)):
        notes.append(f"end of central directory declares {n_total} entries, the central directory holds {len(entries)}")
    return _Directory(entries, prefix, cd_start, zip64, notes)


def _local(data: bytes, e: _Entry, prefix: int) -> Member | None:
    """Read and compare the local header of ``e``; set ``e.start``/``e.end`` (its data span)."""
    lo = e.offset + prefix
    if lo < 0 or lo + LFH.size > len(data) or data[lo:lo + 4] != LFH_SIG:
        return Member(e.name, e.usize, e.csize, verdict="error", detail={"offset": lo},
                      method=f"zip: local header of {e.name} missing at offset {lo}")
    _, _v, lflags, lmethod, _t, _d, lcrc, lcsize, lusize, lnlen, lelen = LFH.unpack_from(data, lo)
    e.start = lo
    data_at = lo + LFH.size + lnlen + lelen
    e.end = data_at + e.csize
    lraw = bytes(data[lo + LFH.size:lo + LFH.size + lnlen])
    lextras, _ok = _extras(bytes(data[lo + LFH.size + lnlen:data_at]))
    lusize, lcsize, _ = _apply_zip64(lextras, lusize, lcsize, 0)
    central = scheme(e.flags, e.method, e.extras)
    local = scheme(lflags, lmethod, lextras)
    if (central is None) != (local is None) or (central and local and central[0] != local[0]):
        e.notes.append(f"local header and central directory disagree on encryption (local: "
                       f"{local[0] if local else 'none'}, central: {central[0] if central else 'none'})")
    disagree: list[str] = []
    if lmethod != e.method:
        disagree.append(f"compression method ({lmethod} vs {e.method})")
    if lraw != e.raw_name:
        disagree.append(f"name ({decode_name(lraw, lflags, lextras)!r} vs {e.name!r})")
    sizes_deferred = lflags & FLAG_DATA_DESCRIPTOR and lcsize == 0 and lusize == 0
    if not sizes_deferred:
        if (lcsize, lusize) != (e.csize, e.usize) and not (lcsize == 0xFFFFFFFF or lusize == 0xFFFFFFFF):
            disagree.append(f"sizes (local {lcsize}/{lusize} vs central {e.csize}/{e.usize} compressed/uncompressed)")
        if lcrc != e.crc and lcrc != 0:
            disagree.append(f"CRC-32 (local {lcrc:08x} vs central {e.crc:08x})")
    used = central or local
    if used is not None:
        notes = e.notes + disagree
        detail = dict(used[2])
        if notes:
            detail["suspicious"] = notes
        return Member(e.name, e.usize, e.csize, encrypted=True, detail=detail,
                      method=used[1] + (f" — {notes[0]}" if notes else ""))
    if disagree:
        return Member(e.name, e.usize, e.csize, verdict="unscannable",
                      detail={"suspicious": disagree},
                      method="zip: local header and central directory disagree on " + ", ".join(disagree)
                      + " — a scanner-evasion construction; the content cannot be trusted")
    if e.end > len(data):
        return Member(e.name, e.usize, e.csize, verdict="error",
                      method=f"zip: data of {e.name} truncated at offset {len(data)} (needs {e.end})")
    return None


def _content(data: bytes, ctx: ScanContext, e: _Entry) -> Member:
    kind = _KINDS.get(e.method)
    m = Member(e.name, e.usize, e.csize, detail={"compression": METHOD_NAMES.get(e.method, str(e.method))})
    if kind is None:
        label = METHOD_NAMES.get(e.method, "unknown")
        m.uninspected = f"zip: compression method {e.method} ({label}) has no decoder here"
        return m
    payload = memoryview(data)[e.end - e.csize:e.end]
    filters = None
    if kind == "lzma-raw":  # APPNOTE §5.8.8: 2-byte version, 2-byte properties size, properties, LZMA1 data
        if len(payload) < 9 or payload[2] != 5:
            m.verdict, m.method = "error", f"zip: LZMA properties header of {e.name} malformed"
            return m
        props = bytes(payload[4:9])
        d = props[0]
        if d >= 9 * 5 * 5:
            m.verdict, m.method = "error", f"zip: LZMA properties of {e.name} out of range"
            return m
        declared = struct.unpack_from("<I", props, 1)[0]
        filters = [{"id": lzma.FILTER_LZMA1, "dict_size": clamp_dict(declared, e.usize, ctx),
                    "lc": d % 9, "lp": (d // 9) % 5, "pb": d // 45}]
        payload = payload[9:]
    what = f"zip member {e.name}"

    def opener(payload: memoryview = payload, filters: Any = filters) -> Stream:
        return Stream(ctx, kind, payload, what=what, filters=filters)

    m.content = StreamContent(opener, size=e.usize, crc=e.crc, what=what)
    return m


def _hidden(data: bytes, entries: list[_Entry], cd_start: int) -> list[Member]:
    """Local headers in the gaps the central directory does not account for (APPNOTE §4.3.6 says every
    entry has one of each; a streaming extractor would still find these)."""
    spans = sorted((e.start, e.end + (24 if e.flags & FLAG_DATA_DESCRIPTOR else 0)) for e in entries if e.end)
    gaps: list[tuple[int, int]] = []
    cur = 0
    for s, t in spans:
        if s > cur:
            gaps.append((cur, s))
        cur = max(cur, t)
    if cur < cd_start:
        gaps.append((cur, cd_start))
    out: list[Member] = []
    probes = 0
    for g0, g1 in gaps:
        pos = data.find(LFH_SIG, g0, g1)
        while pos >= 0 and len(out) < _MAX_HIDDEN and probes < 64 * _MAX_HIDDEN:
            probes += 1
            if pos + LFH.size <= len(data):
                _, ver, flags, method, _t, _d, _c, csize, usize, nlen, elen = LFH.unpack_from(data, pos)
                plausible = (ver <= 100 and method in METHOD_NAMES and 0 < nlen <= 1024
                             and pos + 30 + nlen + elen <= len(data))
                if plausible:
                    raw = bytes(data[pos + 30:pos + 30 + nlen])
                    extras, _ = _extras(bytes(data[pos + 30 + nlen:pos + 30 + nlen + elen]))
                    name = decode_name(raw, flags, extras)
                    sch = scheme(flags, method, extras)
                    where = f"in a local header at offset {pos} that the central directory does not list"
                    if sch is not None:
                        out.append(Member(name, usize, csize, encrypted=True, method=f"{sch[1]} {where}",
                                          detail={**sch[2], "hidden": True, "offset": pos}))
                    else:
                        out.append(Member(name, usize, csize, verdict="unscannable",
                                          detail={"hidden": True, "offset": pos},
                                          method=f"zip: entry {where} (hidden or concatenated archive)"))
            pos = data.find(LFH_SIG, pos + 4, g1)
    return out


def _walk_local(data: bytes, ctx: ScanContext, problem: str) -> Report:
    """The central directory is unreadable: find encrypted entries from the local headers alone."""
    found: list[Member] = []
    seen = probes = 0
    pos = data.find(LFH_SIG)
    cap = ctx.limits.max_members
    while pos >= 0 and pos + LFH.size <= len(data) and seen < cap and probes < 4 * cap:
        probes += 1
        _, ver, flags, method, _t, _d, _c, csize, usize, nlen, elen = LFH.unpack_from(data, pos)
        nxt = pos + 4
        if ver <= 100 and method in METHOD_NAMES and nlen <= 1024 and pos + 30 + nlen + elen <= len(data):
            seen += 1
            raw = bytes(data[pos + 30:pos + 30 + nlen])
            extras, _ = _extras(bytes(data[pos + 30 + nlen:pos + 30 + nlen + elen]))
            sch = scheme(flags, method, extras)
            if sch is not None:
                found.append(Member(decode_name(raw, flags, extras), usize, csize, encrypted=True,
                                    method=f"{sch[1]} (local header at offset {pos})", detail=dict(sch[2])))
            if not flags & FLAG_DATA_DESCRIPTOR:
                nxt = max(nxt, pos + 30 + nlen + elen + csize)
        pos = data.find(LFH_SIG, nxt)
    detail = {"local_headers": seen, "central_directory": problem}
    if found:
        return Report("zip", True, "encrypted", f"{found[0].method}; central directory unreadable: {problem}",
                      detail, found)
    return Report("zip", False, "error", f"zip: {problem}", detail)


def _odf(data: bytes, ctx: ScanContext, entries: list[_Entry]) -> tuple[bool, list[str]] | None:
    """OpenDocument (ODF 1.2 Part 3 §3.3, §4.8): ``mimetype`` first and stored; encrypted entries carry
    ``<manifest:encryption-data>`` in ``META-INF/manifest.xml``."""
    if not entries or entries[0].name != "mimetype" or entries[0].method != 0 or not entries[0].end:
        return None
    first = entries[0]
    if not bytes(data[first.end - first.csize:first.end][:64]).startswith(b"application/vnd.oasis.opendocument"):
        return None
    manifest = next((e for e in entries if e.name == "META-INF/manifest.xml" and e.end), None)
    if manifest is None or manifest.method not in _KINDS or manifest.method == 14:
        return False, []
    text = Stream(ctx, _KINDS[manifest.method], memoryview(data)[manifest.end - manifest.csize:manifest.end],
                  what="zip member META-INF/manifest.xml").read(1024 * 1024)
    paths = [m.group(1).decode("utf-8", "replace") for m in
             re.finditer(rb'<manifest:file-entry[^>]*?manifest:full-path="([^"]*)"[^>]*?(?<!/)>(?:(?!</manifest:file-entry)'
                         rb'.)*?<manifest:encryption-data', text, re.S)]
    return bool(paths) or b"encryption-data" in text, paths


def read(data: bytes, ctx: ScanContext, name: str = "") -> Report:
    try:
        d = _directory(data, ctx)
    except Malformed as exc:
        return _walk_local(data, ctx, str(exc))
    detail: dict[str, Any] = {}
    if d.prefix:
        detail["prefix_bytes"] = d.prefix
    if d.zip64:
        detail["zip64"] = True
    if d.encrypted_cd:
        return Report("zip", True, "encrypted", f"zip: central directory encrypted ({d.encrypted_cd}; APPNOTE §7.3): "
                      "entry names and contents are hidden", {**detail, "encryption": "central-directory"})
    members: list[Member] = []
    for e in d.entries:
        m = _local(data, e, d.prefix)
        if m is not None:
            members.append(m)
            continue
        m = _content(data, ctx, e)
        if e.notes:
            m.detail["notes"] = e.notes
        members.append(m)
    members += _hidden(data, d.entries, d.cd_start)
    # overlapping entries: the non-recursive zip bomb construction
    spans = sorted((e.start, e.end, e.name) for e in d.entries if e.end > e.start)
    overlap = next(((a, b) for a, b in itertools.pairwise(spans) if b[0] < a[1]), None)
    enc = [m for m in members if m.encrypted]
    fmt = "zip"
    names = {e.name for e in d.entries}
    report_members: list[Member] = members
    if "[Content_Types].xml" in names:  # ECMA-376 Part 2 (OPC) package
        fmt = "ooxml"
        report_members = [m for m in members if m.encrypted or m.verdict is not None or "/embeddings/" in m.name]
        detail["parts"] = len(d.entries)
    else:
        odf = _odf(data, ctx, d.entries)
        if odf is not None:
            fmt = "odf"
            report_members = [m for m in members if m.encrypted or m.verdict is not None]
            if odf[0]:
                sizes = {e.name: e.usize for e in d.entries}
                report_members += [Member(clean_name(p), sizes.get(p), encrypted=True, detail={"encryption": "odf"},
                                          method="odf: <manifest:encryption-data> for this part in "
                                          "META-INF/manifest.xml") for p in odf[1]]
                detail["encrypted_parts"] = len(odf[1])
                return Report("odf", True, "encrypted", "odf: META-INF/manifest.xml lists <manifest:encryption-data> "
                              f"for {_n(len(odf[1]), 'part')} (password-protected OpenDocument)", detail,
                              report_members)
    files = [e for e in d.entries if not (e.name.endswith("/") and e.usize == 0)]
    detail["entries"] = len(files)
    if d.notes:
        detail["notes"] = d.notes
    problems = [m for m in members if m.verdict is not None]
    if problems:
        detail["problems"] = len(problems)
    if overlap is not None:
        a, b = overlap
        for m in report_members:
            if not m.encrypted and m.verdict is None:
                m.content, m.uninspected = None, "zip: not inspected (overlapping entries)"
        detail["suspicious"] = "overlapping entries"
        return Report(fmt, bool(enc), "encrypted" if enc else "unscannable",
                      f"zip: entries {a[2]!r} and {b[2]!r} overlap at offsets {b[0]}-{a[1]}: the overlapping-entry "
                      "zip bomb construction; contents not inspected", detail, report_members)
    report_members = [m for m in report_members if not (m.name.endswith("/") and not m.encrypted and m.verdict is None)]
    if enc:
        kinds = list(dict.fromkeys(m.method.split(" in a local header")[0].split(" — ")[0] for m in enc))
        detail["encrypted_entries"] = len(enc)
        detail["schemes"] = sorted({str(m.detail.get("encryption")) for m in enc})
        return Report(fmt, True, "encrypted", f"{'; '.join(kinds)} — {len(enc)} of {_n(len(files), 'entry')} "
                      "encrypted", detail, report_members)
    return Report(fmt, False, "clean", f"{fmt}: {_n(len(files), 'entry')}, none encrypted (flag bits 0/6/13, method "
                  "99 and extra fields 0x9901/0x0017 checked in local and central headers)", detail, report_members)


def _n(count: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{count} {noun if count == 1 else plural}"
