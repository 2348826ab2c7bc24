"""7z: content encryption and header encryption from the archive headers.

Spec: 7-Zip ``DOC/7zFormat.txt`` (Igor Pavlov), and the method IDs of ``DOC/Methods.txt``.

- SignatureHeader: ``7z\\xBC\\xAF\\x27\\x1C``, version, StartHeaderCRC over NextHeaderOffset,
  NextHeaderSize and NextHeaderCRC; the next header sits at ``32 + NextHeaderOffset``. Both CRCs
  are checked.
- If the next header is ``kEncodedHeader`` (0x17), it is a StreamsInfo whose folder decodes to the
  real header. When that folder's coders include **7zAES (method ID 06 F1 07 01)** the headers are
  encrypted (``7z a -mhe=on``): file names are hidden and the archive is reported ``encrypted``
  without listing members. Otherwise the folder is decompressed (LZMA/LZMA2/Deflate/BZip2/Copy, via
  the standard library's ``lzma``/``zlib``/``bz2``, bounded) and parsed.
- ``kHeader`` (0x01): MainStreamsInfo (PackInfo, UnPackInfo with Folders and their Coders,
  SubStreamsInfo) and FilesInfo (kEmptyStream, kEmptyFile, kName, kWinAttributes). A file whose
  folder's coder chain contains 7zAES is encrypted (names visible: ``7z a -p`` without ``-mhe``).

Member content: folders whose coder chain is one of Copy, LZMA, LZMA2, Deflate, BZip2, or Delta in
front of LZMA/LZMA2, are decompressed with ``lzma``'s raw decoder (the same filters as in xz),
``zlib`` or ``bz2`` within the limits; files of a solid folder are visited in order on one shared
stream. Other chains are listed with names and flags only (``detail.inspected = false``): branch
converters (BCJ, which 7-Zip applies to executables: liblzma holds their last bytes back without an
end marker), BCJ2, PPMd, Deflate64, zstd. The engine escalates such a member to ``unscannable`` when
its name suggests a container.
"""

from __future__ import annotations

import lzma
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from mamori.mail.attachments.base import Member, Report, clean_name
from mamori.mail.attachments.budget import Malformed, ScanContext
from mamori.mail.attachments.streams import Stream, StreamContent, clamp_dict

SIGNATURE = b"7z\xbc\xaf\x27\x1c"
AES = b"\x06\xf1\x07\x01"
CODERS = {b"\x00": "Copy", b"\x03\x01\x01": "LZMA", b"\x21": "LZMA2", b"\x04\x01\x08": "Deflate",
          b"\x04\x01\x09": "Deflate64", b"\x04\x02\x02": "BZip2", b"\x03\x04\x01": "PPMD", AES: "7zAES",
          b"\x03\x03\x01\x03": "BCJ", b"\x03\x03\x01\x1b": "BCJ2", b"\x03\x03\x02\x05": "PPC",
          b"\x03\x03\x04\x01": "IA64", b"\x03\x03\x05\x01": "ARM", b"\x03\x03\x07\x01": "ARMT",
          b"\x03\x03\x08\x05": "SPARC", b"\x03": "Delta", b"\x0a": "ARM64", b"\x04\xf7\x11\x01": "ZSTD"}
_BRANCH = {b"\x03\x03\x01\x03", b"\x03\x03\x02\x05", b"\x03\x03\x04\x01", b"\x03\x03\x05\x01",
           b"\x03\x03\x07\x01", b"\x03\x03\x08\x05", b"\x0a"}
_HEADER_CAP = 64 * 1024 * 1024
K_END, K_HEADER, K_ARCHIVE_PROPS, K_ADD_STREAMS, K_MAIN_STREAMS, K_FILES = 0, 1, 2, 3, 4, 5
K_PACK, K_UNPACK, K_SUBSTREAMS, K_SIZE, K_CRC, K_FOLDER, K_UNPACK_SIZE, K_NUM_UNPACK = 6, 7, 8, 9, 10, 11, 12, 13
K_EMPTY_STREAM, K_EMPTY_FILE, K_ANTI, K_NAME, K_ATTRIBUTES, K_ENCODED = 14, 15, 16, 17, 21, 23


class _P:
    """Cursor over a header buffer; every read is bounds-checked."""

    def __init__(self, buf: bytes, base: int) -> None:
        self.b = buf
        self.i = 0
        self.base = base

    def _short(self) -> Malformed:
        return Malformed(f"header truncated at offset {self.base + self.i}")

    def byte(self) -> int:
        if self.i >= len(self.b):
            raise self._short()
        self.i += 1
        return self.b[self.i - 1]

    def take(self, n: int) -> bytes:
        if n < 0 or self.i + n > len(self.b):
            raise self._short()
        self.i += n
        return self.b[self.i - n:self.i]

    def number(self) -> int:
        """7zFormat.txt NUMBER: the leading 1 bits of the first byte count the extra bytes."""
        first = self.byte()
        mask = 0x80
        value = 0
        for i in range(8):
            if not first & mask:
                return value | ((first & (mask - 1)) << (8 * i))
            value |= self.byte() << (8 * i)
            mask >>= 1
        return value

    def count(self, what: str, cap: int = 1 << 20) -> int:
        n = self.number()
        if n > cap or n > len(self.b) * 8 + 8:
            raise Malformed(f"implausible {what} count {n} at offset {self.base + self.i}")
        return n

    def bits(self, n: int) -> list[bool]:
        raw = self.take((n + 7) // 8)
        return [bool(raw[i >> 3] & (0x80 >> (i & 7))) for i in range(n)]

    def defined(self, n: int) -> list[bool]:
        return [True] * n if self.byte() else self.bits(n)


@dataclass
class _Coder:
    id: bytes
    n_in: int
    n_out: int
    props: bytes

    @property
    def name(self) -> str:
        return CODERS.get(self.id, self.id.hex())


@dataclass
class _Folder:
    coders: list[_Coder]
    bind_pairs: list[tuple[int, int]]
    packed: list[int]
    sizes: list[int] = field(default_factory=list)
    crc: int | None = None

    @property
    def encrypted(self) -> bool:
        return any(c.id == AES for c in self.coders)

    @property
    def size(self) -> int:
        bound = {o for _, o in self.bind_pairs}
        main = next((i for i in range(len(self.sizes)) if i not in bound), 0)
        return self.sizes[main] if self.sizes else 0

    @property
    def chain(self) -> str:
        return "+".join(c.name for c in self.coders)


@dataclass
class _Streams:
    pack_pos: int = 0
    pack_sizes: list[int] = field(default_factory=list)
    folders: list[_Folder] = field(default_factory=list)
    num_unpack: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    crcs: list[int | None] = field(default_factory=list)


def _digests(p: _P, n: int) -> list[int | None]:
    return [struct.unpack("<I", p.take(4))[0] if d else None for d in p.defined(n)]


def _folder(p: _P) -> _Folder:
    coders: list[_Coder] = []
    for _ in range(p.count("coder", 64)):
        flag = p.byte()
        if flag & 0x80:
            raise Malformed("alternative coder methods (flag 0x80) are not defined by 7zFormat.txt")
        cid = p.take(flag & 0x0F)
        n_in, n_out = (p.count("coder stream", 64), p.count("coder stream", 64)) if flag & 0x10 else (1, 1)
        props = p.take(p.count("property byte", 1 << 16)) if flag & 0x20 else b""
        coders.append(_Coder(cid, n_in, n_out, props))
    total_out = sum(c.n_out for c in coders)
    total_in = sum(c.n_in for c in coders)
    pairs = [(p.number(), p.number()) for _ in range(max(0, total_out - 1))]
    n_packed = total_in - len(pairs)
    if n_packed < 1:
        raise Malformed("folder without a packed stream")
    if n_packed == 1:
        bound_in = {i for i, _ in pairs}
        packed = [next((i for i in range(total_in) if i not in bound_in), 0)]
    else:
        packed = [p.number() for _ in range(n_packed)]
    return _Folder(coders, pairs, packed)


def _streams_info(p: _P, ctx: ScanContext) -> _Streams:
    s = _Streams()
    t = p.number()
    if t == K_PACK:
        s.pack_pos = p.number()
        n = p.count("pack stream")
        t = p.number()
        while t != K_END:
            if t == K_SIZE:
                s.pack_sizes = [p.number() for _ in range(n)]
            elif t == K_CRC:
                _digests(p, n)
            else:
                raise Malformed(f"unexpected property 0x{t:02x} in PackInfo")
            t = p.number()
        t = p.number()
    if t == K_UNPACK:
        if p.number() != K_FOLDER:
            raise Malformed("UnPackInfo without kFolder")
        nf = p.count("folder")
        if p.byte() != 0:
            raise Malformed("folders stored in an additional stream (External) are not supported")
        s.folders = [_folder(p) for _ in range(nf)]
        if p.number() != K_UNPACK_SIZE:
            raise Malformed("UnPackInfo without kCodersUnPackSize")
        for f in s.folders:
            f.sizes = [p.number() for _ in range(sum(c.n_out for c in f.coders))]
        t = p.number()
        while t != K_END:
            if t == K_CRC:
                for f, crc in zip(s.folders, _digests(p, nf), strict=True):
                    f.crc = crc
            else:
                raise Malformed(f"unexpected property 0x{t:02x} in UnPackInfo")
            t = p.number()
        t = p.number()
    s.num_unpack = [1] * len(s.folders)
    if t == K_SUBSTREAMS:
        t = p.number()
        if t == K_NUM_UNPACK:
            s.num_unpack = [p.count("substream") for _ in s.folders]
            ctx.check_members(sum(s.num_unpack), "7z")
            t = p.number()
        if t == K_SIZE:
            for f, n in zip(s.folders, s.num_unpack, strict=True):
                if n == 0:
                    continue
                part = [p.number() for _ in range(n - 1)]
                last = f.size - sum(part)
                if last < 0:
                    raise Malformed("substream sizes exceed the folder's unpacked size")
                s.sizes += [*part, last]
            t = p.number()
        unknown = sum(n for f, n in zip(s.folders, s.num_unpack, strict=True) if not (n == 1 and f.crc is not None))
        digests: list[int | None] = []
        while t != K_END:
            if t == K_CRC:
                digests = _digests(p, unknown)
            else:
                raise Malformed(f"unexpected property 0x{t:02x} in SubStreamsInfo")
            t = p.number()
        it = iter(digests)
        for f, n in zip(s.folders, s.num_unpack, strict=True):
            if n == 1 and f.crc is not None:
                s.crcs.append(f.crc)
            else:
                s.crcs += [next(it, None) for _ in range(n)]
        t = p.number()
    if not s.sizes:
        for f, n in zip(s.folders, s.num_unpack, strict=True):
            if n > 1:
                raise Malformed("several substreams in a folder without their sizes")
            if n == 1:
                s.sizes.append(f.size)
    if not s.crcs:
        s.crcs = [f.crc if n == 1 else None for f, n in zip(s.folders, s.num_unpack, strict=True) for _ in range(n)]
    if t != K_END:
        raise Malformed(f"unexpected property 0x{t:02x} in StreamsInfo")
    return s


def _lzma_filter(c: _Coder, unpacked: int, ctx: ScanContext) -> dict[str, Any] | None:
    if c.name == "LZMA" and len(c.props) >= 5 and c.props[0] < 225:
        d = c.props[0]
        declared = struct.unpack_from("<I", c.props, 1)[0]
        return {"id": lzma.FILTER_LZMA1, "dict_size": clamp_dict(declared, unpacked, ctx),
                "lc": d % 9, "lp": (d // 9) % 5, "pb": d // 45}
    if c.name == "LZMA2" and len(c.props) >= 1 and c.props[0] <= 40:
        b = c.props[0]
        declared = 0xFFFFFFFF if b == 40 else (2 | (b & 1)) << (b // 2 + 11)
        return {"id": lzma.FILTER_LZMA2, "dict_size": clamp_dict(declared, unpacked, ctx)}
    return None


def _stream_spec(f: _Folder, ctx: ScanContext) -> tuple[str, list[dict[str, Any]] | None] | str:
    """(stream kind, lzma filters) for a folder we can decode, else the reason we cannot."""
    if len(f.packed) != 1 or any(c.n_in != 1 or c.n_out != 1 for c in f.coders) or len(f.coders) > 2:
        return f"7z: coder chain {f.chain} has no decoder here"
    if len(f.coders) == 1:
        c = f.coders[0]
        simple = {"Copy": "store", "Deflate": "deflate", "BZip2": "bzip2"}.get(c.name)
        if simple:
            return simple, None
        flt = _lzma_filter(c, f.size, ctx)
        return ("lzma-raw", [flt]) if flt else f"7z: coder {c.name} has no decoder here"
    bound_out = {o for _, o in f.bind_pairs}
    outer_i = next(i for i in range(2) if i not in bound_out)
    outer, inner = f.coders[outer_i], f.coders[1 - outer_i]
    flt = _lzma_filter(inner, f.size, ctx)
    first: dict[str, Any] | None = None
    if outer.id in _BRANCH:
        # liblzma's branch converters keep the last few bytes back until the stream ends, and 7z's
        # LZMA data has no end marker to tell them: those folders are listed, not decoded
        return f"7z: coder chain {f.chain} (branch converter) is listed only"
    if outer.name == "Delta" and len(outer.props) == 1:
        first = {"id": lzma.FILTER_DELTA, "dist": outer.props[0] + 1}
    if flt is None or first is None:
        return f"7z: coder chain {f.chain} has no decoder here"
    return "lzma-raw", [first, flt]


def _open_folder(data: bytes, ctx: ScanContext, s: _Streams, k: int, what: str) -> Stream:
    f = s.folders[k]
    spec = _stream_spec(f, ctx)
    if isinstance(spec, str):
        raise Malformed(spec)
    first = sum(len(g.packed) for g in s.folders[:k])
    if first >= len(s.pack_sizes):
        raise Malformed(f"folder {k} has no pack stream size")
    start = 32 + s.pack_pos + sum(s.pack_sizes[:first])
    size = s.pack_sizes[first]
    if start + size > len(data):
        raise Malformed(f"pack stream of folder {k} truncated at offset {len(data)} (needs {start + size})")
    ctx.check_ratio(f.size, size, what)
    return Stream(ctx, spec[0], memoryview(data)[start:start + size], what=what, filters=spec[1])


def _files(p: _P, ctx: ScanContext) -> list[dict[str, Any]]:
    n = p.count("file")
    ctx.check_members(n, "7z")
    empty_stream = [False] * n
    empty_file: list[bool] = []
    anti: list[bool] = []
    names: list[str] = []
    attrs: list[int | None] = [None] * n
    while True:
        t = p.number()
        if t == K_END:
            break
        size = p.number()
        sub = _P(p.take(size), p.base + p.i - size)
        if t == K_EMPTY_STREAM:
            empty_stream = sub.bits(n)
        elif t == K_EMPTY_FILE:
            empty_file = sub.bits(sum(empty_stream))
        elif t == K_ANTI:
            anti = sub.bits(sum(empty_stream))
        elif t == K_NAME:
            if sub.byte() != 0:
                raise Malformed("file names stored in an additional stream (External) are not supported")
            names = sub.b[1:].decode("utf-16-le", "replace").split("\x00")
        elif t == K_ATTRIBUTES:
            defined = sub.defined(n)
            if sub.byte() != 0:
                raise Malformed("attributes stored in an additional stream (External) are not supported")
            attrs = [struct.unpack("<I", sub.take(4))[0] if d else None for d in defined]
    out: list[dict[str, Any]] = []
    ei = 0
    for i in range(n):
        is_empty = empty_stream[i] if i < len(empty_stream) else False
        is_dir = is_anti = False
        if is_empty:
            is_dir = not (empty_file[ei] if ei < len(empty_file) else False)
            is_anti = anti[ei] if ei < len(anti) else False
            ei += 1
        a = attrs[i]
        if a is not None and a & 0x10:
            is_dir = True
        out.append({"name": clean_name(names[i] if i < len(names) and names[i] else f"file{i}"),
                    "empty": is_empty, "dir": is_dir, "anti": is_anti})
    return out


def read(data: bytes, ctx: ScanContext, name: str = "") -> Report:
    if len(data) < 32:
        raise Malformed(f"signature header truncated at offset {len(data)}")
    _sig, major, minor, start_crc, next_off, next_size, next_crc = struct.unpack_from("<6sBBIQQI", data, 0)
    if zlib.crc32(data[12:32]) != start_crc:
        raise Malformed("start header CRC mismatch (damaged or truncated signature header)")
    detail: dict[str, Any] = {"version": f"{major}.{minor}"}
    if next_size == 0:
        return Report("7z", False, "clean", "7z: empty archive", {**detail, "files": 0})
    hstart = 32 + next_off
    if hstart + next_size > len(data):
        raise Malformed(f"next header at offset {hstart} ({next_size} bytes) truncated at offset {len(data)}")
    hdr = data[hstart:hstart + next_size]
    if zlib.crc32(hdr) != next_crc:
        raise Malformed(f"next header CRC mismatch at offset {hstart}")
    p = _P(hdr, hstart)
    t = p.number()
    rounds = 0
    while t == K_ENCODED:
        rounds += 1
        si = _streams_info(p, ctx)
        if any(f.encrypted for f in si.folders):
            chain = next(f.chain for f in si.folders if f.encrypted)
            return Report("7z", True, "encrypted",
                          f"7z: the encoded header's coders include 7zAES (06F10701) ({chain}): header encryption, "
                          "file names and contents hidden",
                          {**detail, "encryption": "7zaes", "headers_encrypted": True})
        if not si.folders or rounds > 4:
            raise Malformed("encoded header without a folder")
        f = si.folders[0]
        if f.size > _HEADER_CAP:
            raise Malformed(f"encoded header declares {f.size} bytes")
        stream = _open_folder(data, ctx, si, 0, "7z encoded header")
        decoded = stream.read(f.size)
        if len(decoded) < f.size:
            raise Malformed("encoded header truncated")
        if f.crc is not None and zlib.crc32(decoded) != f.crc:
            raise Malformed("encoded header CRC mismatch")
        detail["header"] = f"encoded ({f.chain})"
        p = _P(decoded, 0)
        t = p.number()
    if t != K_HEADER:
        raise Malformed(f"unexpected header type 0x{t:02x} at offset {hstart}")
    t = p.number()
    if t == K_ARCHIVE_PROPS:
        while p.number() != K_END:
            p.take(p.number())
        t = p.number()
    if t == K_ADD_STREAMS:
        _streams_info(p, ctx)
        t = p.number()
    s = _Streams()
    if t == K_MAIN_STREAMS:
        s = _streams_info(p, ctx)
        t = p.number()
    files: list[dict[str, Any]] = []
    if t == K_FILES:
        files = _files(p, ctx)
        t = p.number()
    if t != K_END:
        raise Malformed(f"unexpected property 0x{t:02x} in Header")
    return _report(data, ctx, s, files, detail)


def _report(data: bytes, ctx: ScanContext, s: _Streams, files: list[dict[str, Any]], detail: dict[str, Any]) -> Report:
    streams: list[tuple[int, int, int]] = []  # (folder, offset in folder, size) per non-empty stream
    si = 0
    for k, n in enumerate(s.num_unpack):
        off = 0
        for _ in range(n):
            size = s.sizes[si] if si < len(s.sizes) else 0
            streams.append((k, off, size))
            off += size
            si += 1
    cache: dict[int, Stream] = {}
    members: list[Member] = []
    si = 0
    for fi in files:
        if fi["anti"] or (fi["dir"] and fi["empty"]):
            continue
        if fi["empty"]:
            members.append(Member(fi["name"], 0, 0, content=StreamContent(
                lambda: Stream(ctx, "store", b"", what="7z empty file"), size=0, what="7z empty file")))
            continue
        if si >= len(streams):
            members.append(Member(fi["name"], None, verdict="error",
                                  method="7z: more files with data than streams in the header"))
            continue
        k, off, size = streams[si]
        crc = s.crcs[si] if si < len(s.crcs) else None
        si += 1
        f = s.folders[k]
        m = Member(fi["name"], size, detail={"folder": k, "coders": f.chain})
        if s.num_unpack[k] == 1:
            first = sum(len(g.packed) for g in s.folders[:k])
            m.packed = s.pack_sizes[first] if first < len(s.pack_sizes) else None
        if f.encrypted:
            m.encrypted = True
            m.method = f"7z: folder coders include 7zAES (06F10701) ({f.chain}): content encrypted, names visible"
            m.detail["encryption"] = "7zaes"
        elif isinstance(_stream_spec(f, ctx), str):
            m.uninspected = str(_stream_spec(f, ctx))
        else:
            what = f"7z folder {k}"

            def opener(k: int = k, what: str = what) -> Stream:
                if k not in cache:
                    cache.clear()  # files are visited in order: one folder decoder alive at a time
                    cache[k] = _open_folder(data, ctx, s, k, what)
                return cache[k]

            m.content = StreamContent(opener, offset=off, size=size, crc=crc, what=f"7z member {fi['name']}")
        members.append(m)
    enc = [m for m in members if m.encrypted]
    detail.update({"files": len(members), "folders": len(s.folders),
                   "coders": sorted({f.chain for f in s.folders})})
    if enc:
        detail["encrypted_files"] = len(enc)
        detail["encryption"] = "7zaes"
        return Report("7z", True, "encrypted", f"7z: folder coders include 7zAES (06F10701): {len(enc)} of "
                      f"{len(members)} file(s) encrypted; names visible (header not encrypted)", detail, members)
    return Report("7z", False, "clean", f"7z: {len(members)} file(s), no 7zAES coder in the header or the folders",
                  detail, members)
