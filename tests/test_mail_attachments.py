"""Password-protected attachment detection (PPAP), on samples made with the real tools.

Tool-built (Debian ``zip``, ``7z`` from p7zip-full, ``qpdf``; msoffcrypto-tool for OOXML Agile
encryption; ``cryptography`` for CMS EnvelopedData; pypdf to embed a file in a PDF): ZipCrypto, WinZip
AES, 7z content and header encryption, PDF user password and permissions only, encrypted
.docx/.xlsx, S/MIME. A missing Debian tool FAILS the run, naming ``scripts/system-deps``.

Hand-built, from the published specifications, because no free tool writes them (each builder's
docstring names its source):

- RAR 4 and RAR 5 (``rar`` is non-free): the RAR 4 technote and rarlab.com "RAR 5.0 archive
  format"; each hand-built RAR is also listed by 7-Zip's RAR handlers as an independent check;
- legacy Word/Excel/PowerPoint 97-2003 (no Office here, and msoffcrypto cannot encrypt them): minimal
  MS-CFB containers with the MS-DOC FibBase, the MS-XLS FILEPASS record and the MS-PPT
  CurrentUserAtom / UserEditAtom / CryptSession10Container; msoffcrypto-tool's ``is_encrypted``
  confirms each one independently;
- ZIP PKWARE strong encryption and encrypted central directory (only PKWARE SecureZIP writes them),
  OpenDocument encryption manifests, and the evasion constructions (local/central disagreement,
  hidden and overlapping entries, lying sizes, bombs).

Every encrypted sample has an unencrypted twin that must come back ``clean`` (zero false positives).
"""

from __future__ import annotations

import datetime
import io
import os
import random
import shutil
import struct
import subprocess
import tarfile
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mamori.mail.attachments import ScanBudget, scan_attachment, sniff
from mamori.mail.model import AttachmentFinding, ScanLimits

PW = "ppap-2025"
TOOLS = ("zip", "7z", "qpdf")


# --------------------------------------------------------------------------------------------- helpers
def run(cwd: Path, *args: str) -> None:
    proc = subprocess.run(args, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, f"{args}: {proc.stderr.decode(errors='replace')}"


def by_path(findings: list[AttachmentFinding]) -> dict[str, AttachmentFinding]:
    return {f.path: f for f in findings}


def top(findings: list[AttachmentFinding]) -> AttachmentFinding:
    return findings[0]


def zip_bytes(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


# ------------------------------------------------------------------------------------ OOXML and ODF
CT_DOCX = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
           b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
           b'<Default Extension="xml" ContentType="application/xml"/>'
           b'<Default Extension="xlsx" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"/>'
           b'<Override PartName="/word/document.xml" '
           b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
RELS_DOCX = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
             b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
             b'officeDocument" Target="word/document.xml"/></Relationships>')
DOC_XML = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r>'
           '<w:t>お取引報告書</w:t></w:r></w:p></w:body></w:document>').encode()
CT_XLSX = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
           b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
           b'<Default Extension="xml" ContentType="application/xml"/>'
           b'<Override PartName="/xl/workbook.xml" '
           b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
           b'<Override PartName="/xl/worksheets/sheet1.xml" '
           b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
RELS_XLSX = RELS_DOCX.replace(b"word/document.xml", b"xl/workbook.xml")
WB_XML = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
          b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
          b'<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
WB_RELS = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
           b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
           b'worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
SHEET_XML = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
             b'<row r="1"><c r="A1"><v>42</v></c></row></sheetData></worksheet>')


def make_docx(embedded: dict[str, bytes] | None = None) -> bytes:
    """Minimal WordprocessingML package (ECMA-376 Part 1 §11, Part 2 OPC), by hand: no Office here."""
    files = {"[Content_Types].xml": CT_DOCX, "_rels/.rels": RELS_DOCX, "word/document.xml": DOC_XML}
    for name, data in (embedded or {}).items():
        files[f"word/embeddings/{name}"] = data
    return zip_bytes(files)


def make_xlsx() -> bytes:
    """Minimal SpreadsheetML package (ECMA-376 Part 1 §12), by hand."""
    return zip_bytes({"[Content_Types].xml": CT_XLSX, "_rels/.rels": RELS_XLSX, "xl/workbook.xml": WB_XML,
                      "xl/_rels/workbook.xml.rels": WB_RELS, "xl/worksheets/sheet1.xml": SHEET_XML})


def ooxml_encrypt(plain: bytes) -> bytes:
    from msoffcrypto.format.ooxml import OOXMLFile  # type: ignore[import-untyped]

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(plain)).encrypt(PW, out)
    return out.getvalue()


def make_odt(encrypted: bool) -> bytes:
    """OpenDocument text (ODF 1.2 Part 3 §3.3 mimetype first and stored; §4.8 encryption-data in the
    manifest). Hand-built: no office suite here."""
    enc = (b'<manifest:encryption-data manifest:checksum-type="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0#'
           b'sha256-1k" manifest:checksum="AAAA"><manifest:algorithm manifest:algorithm-name='
           b'"http://www.w3.org/2001/04/xmlenc#aes256-cbc" manifest:initialisation-vector="AAAA"/>'
           b'<manifest:key-derivation manifest:key-derivation-name="PBKDF2" manifest:key-size="32" '
           b'manifest:iteration-count="100000" manifest:salt="AAAA"/></manifest:encryption-data>') if encrypted else b""
    manifest = (b'<?xml version="1.0" encoding="UTF-8"?>\n<manifest:manifest xmlns:manifest='
                b'"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                b'<manifest:file-entry manifest:full-path="/" manifest:media-type='
                b'"application/vnd.oasis.opendocument.text"/>'
                b'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml" '
                b'manifest:size="120">' + enc + b'</manifest:file-entry></manifest:manifest>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", b"application/vnd.oasis.opendocument.text", zipfile.ZIP_STORED)
        z.writestr("content.xml", os.urandom(200) if encrypted else b"<office:document-content/>",
                   zipfile.ZIP_STORED if encrypted else zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


# ----------------------------------------------------------------------------------------- MS-CFB
ENDOFCHAIN, FREESECT, FATSECT, NOSTREAM = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF


def _dirent(name: str, typ: int, start: int, size: int, child: int = NOSTREAM, right: int = NOSTREAM) -> bytes:
    raw = name.encode("utf-16-le") + b"\x00\x00" if name else b""
    return struct.pack("<64sHBBIII16sIQQIQ", raw.ljust(64, b"\x00"), len(raw), typ, 1 if name else 0, NOSTREAM,
                       right, child, bytes(16), 0, 0, 0, start, size)


def make_cfb(streams: dict[str, bytes]) -> bytes:
    """A minimal version 3 Compound File (MS-CFB §2.2 header, §2.3 FAT, §2.6 directory entries): 512-byte
    sectors, every stream padded to the 4096-byte mini stream cutoff so all live in the FAT, siblings
    chained through the right-sibling links in CFB name order."""
    names = sorted(streams, key=lambda n: (len(n), n.upper()))
    body = bytearray()
    fat: list[int] = []
    entries = []
    for i, name in enumerate(names):
        data = streams[name].ljust(4096, b"\x00")
        nsec = (len(data) + 511) // 512
        start = len(fat)
        fat += [start + k + 1 for k in range(nsec - 1)] + [ENDOFCHAIN]
        body += data.ljust(nsec * 512, b"\x00")
        entries.append(_dirent(name, 2, start, len(data), right=i + 2 if i + 1 < len(names) else NOSTREAM))
    directory = _dirent("Root Entry", 5, ENDOFCHAIN, 0, child=1 if names else NOSTREAM) + b"".join(entries)
    directory = directory.ljust((len(directory) + 511) // 512 * 512, b"\x00")
    directory = b"".join(directory[i:i + 128] if directory[i:i + 128] != bytes(128) else _dirent("", 0, 0, 0)
                         for i in range(0, len(directory), 128))
    dir_start = len(fat)
    ndir = len(directory) // 512
    fat += [dir_start + k + 1 for k in range(ndir - 1)] + [ENDOFCHAIN]
    nfat = 1
    while len(fat) + nfat > nfat * 128:
        nfat += 1
    fat_start = len(fat)
    fat += [FATSECT] * nfat
    fat += [FREESECT] * (nfat * 128 - len(fat))
    header = struct.pack("<8s16sHHHHH6sIIIIIIIII", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", bytes(16), 0x3E, 3, 0xFFFE,
                         9, 6, bytes(6), 0, nfat, dir_start, 0, 4096, ENDOFCHAIN, 0, ENDOFCHAIN, 0)
    header += struct.pack("<109I", *([fat_start + k for k in range(nfat)] + [FREESECT] * (109 - nfat)))
    assert len(header) == 512
    return bytes(header + body + directory + struct.pack(f"<{len(fat)}I", *fat))


def make_doc(encrypted: bool) -> bytes:
    """Word 97-2003: WordDocument with a FibBase (MS-DOC §2.5.2: wIdent 0xA5EC, nFib 0xC1, flags at
    0x0A with fWhichTblStm 0x0200 and, encrypted, fEncrypted 0x0100), and a 1Table stream that starts
    with an RC4 CryptoAPI EncryptionHeader version 4.2 (MS-OFFCRYPTO §2.3.5.1) when encrypted."""
    flags = 0x0200 | (0x0100 if encrypted else 0)
    fib = struct.pack("<HHHHHHHIBBHHII", 0xA5EC, 0x00C1, 0, 0x0411, 0, flags, 0x00BF, 0x34 if encrypted else 0, 0,
                      0, 0, 0, 0, 0)
    rest = struct.pack("<H", 14) + bytes(28) + struct.pack("<H", 22) + bytes(88) + struct.pack("<H", 0x5D)
    table = (struct.pack("<HHI", 4, 2, 0x04) + os.urandom(200)) if encrypted else bytes(64)
    return make_cfb({"WordDocument": fib + rest, "1Table": table})


def _biff(rtype: int, body: bytes) -> bytes:
    return struct.pack("<HH", rtype, len(body)) + body


def make_xls(encrypted: bool) -> bytes:
    """Excel 97-2003: Workbook stream (BIFF8) BOF (MS-XLS §2.4.21), FILEPASS (0x002F, §2.4.117) with
    wEncryptionType 1 and an RC4 CryptoAPI header version 4.2 when encrypted, CODEPAGE, EOF."""
    records = _biff(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 6))
    if encrypted:
        records += _biff(0x002F, struct.pack("<HHHI", 1, 4, 2, 0x04) + os.urandom(180))
    records += _biff(0x0042, struct.pack("<H", 932)) + _biff(0x000A, b"")
    return make_cfb({"Workbook": records})


def make_ppt(encrypted: bool) -> bytes:
    """PowerPoint 97-2003: Current User stream with a CurrentUserAtom (MS-PPT §2.3.2; headerToken
    0xF3D1C4DF encrypted, 0xE391C05F not) pointing at a UserEditAtom (§2.3.3, recLen 0x20 with
    encryptSessionPersistIdRef when encrypted) in PowerPoint Document, plus a CryptSession10Container
    (recType 0x2F14, §2.3.7) when encrypted."""
    doc = bytearray(_ppt_record(0x000F, 0x03E8, bytes(24)))  # a DocumentContainer stub
    if encrypted:
        doc += _ppt_record(0x000F, 0x2F14, os.urandom(160))
    edit_at = len(doc)
    atom = struct.pack("<IHBBIIIIH2s", 0, 0, 0, 3, 0, 0, 1, 2, 1, b"\x00\x00")
    if encrypted:
        atom += struct.pack("<I", 2)
    doc += _ppt_record(0x0000, 0x0FF5, atom)
    token = 0xF3D1C4DF if encrypted else 0xE391C05F
    user = b"mamori"
    body = struct.pack("<IIIHHBB2s", 0x14, token, edit_at, len(user), 0x03F4, 3, 0, b"\x00\x00") + user
    body += struct.pack("<I", 8) + user.decode().encode("utf-16-le")
    return make_cfb({"Current User": _ppt_record(0x0000, 0x0FF6, body), "PowerPoint Document": bytes(doc)})


def _ppt_record(ver_inst: int, rtype: int, body: bytes) -> bytes:
    return struct.pack("<HHI", ver_inst, rtype, len(body)) + body


# ----------------------------------------------------------------------------------------------- RAR
def rar4_block(htype: int, flags: int, body: bytes) -> bytes:
    """RAR 4 technote block: HEAD_CRC (CRC-32 low 16 bits from HEAD_TYPE on), HEAD_TYPE, HEAD_FLAGS, HEAD_SIZE."""
    head = struct.pack("<BHH", htype, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(head) & 0xFFFF) + head


def rar4_file(name: str, data: bytes, *, encrypted: bool = False, stored: bool = True) -> bytes:
    """RAR 4 file header (0x74): PACK_SIZE, UNP_SIZE, HOST_OS 2, FILE_CRC, FTIME, UNP_VER 29, METHOD
    (0x30 stored / 0x33 normal), NAME_SIZE, ATTR; LHD_UNICODE names as ASCII + NUL + the RAR Unicode
    encoding (high byte, then 2-bit opcode 2 = full 16-bit character); LHD_PASSWORD 0x0004 + LHD_SALT
    0x0400 with an 8-byte salt when encrypted."""
    flags = 0x8000
    raw = name.encode("ascii", "replace")
    if not name.isascii():
        chars = [ord(c) for c in name]
        enc = bytearray([0])
        for i in range(0, len(chars), 4):
            group = chars[i:i + 4]
            enc.append(sum(2 << (6 - 2 * k) for k in range(len(group))))
            for c in group:
                enc += struct.pack("<H", c)
        raw = name.encode("ascii", "replace") + b"\x00" + bytes(enc)
        flags |= 0x0200
    payload = os.urandom(len(data) + 16) if encrypted else data
    salt = b""
    if encrypted:
        flags |= 0x0004 | 0x0400
        salt = os.urandom(8)
    body = struct.pack("<IIBIIBBHI", len(payload), len(data), 2, zlib.crc32(data), 0x5A210000, 29,
                       0x30 if stored else 0x33, len(raw), 0x20) + raw + salt
    return rar4_block(0x74, flags, body) + payload


def make_rar4(files: dict[str, bytes], *, encrypt_files: bool = False, encrypt_headers: bool = False,
              stored: bool = True) -> bytes:
    """RAR 4: marker block ``Rar!\\x1A\\x07\\x00``, archive header 0x73 (MHD_PASSWORD 0x0080 when the
    headers are encrypted; after it every block is encrypted: salt + AES blocks), file blocks, end 0x7B."""
    out = b"Rar!\x1a\x07\x00" + rar4_block(0x73, 0x0080 if encrypt_headers else 0, struct.pack("<HI", 0, 0))
    if encrypt_headers:
        return out + os.urandom(8) + os.urandom(16 * 6)
    for name, data in files.items():
        out += rar4_file(name, data, encrypted=encrypt_files, stored=stored)
    return out + rar4_block(0x7B, 0x4000, b"")


def vint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def rar5_block(htype: int, body: bytes, *, extra: bytes = b"", data: bytes = b"") -> bytes:
    """RAR 5.0 block: CRC32 of the header from Header size on, Header size, type, flags (0x0001 extra
    area, 0x0002 data area), extra area size, data size, type-specific fields, extra area; then data."""
    flags = (0x0001 if extra else 0) | (0x0002 if data else 0)
    fields = vint(htype) + vint(flags) + (vint(len(extra)) if extra else b"") + (vint(len(data)) if data else b"")
    head = vint(len(fields) + len(body) + len(extra)) + fields + body + extra
    return struct.pack("<I", zlib.crc32(head)) + head + data


def rar5_file(name: str, data: bytes, *, encrypted: bool = False, stored: bool = True) -> bytes:
    """RAR 5.0 file header (type 2): file flags 0x0004 (CRC32 present), unpacked size, attributes, CRC32,
    compression information (bits 7-9 method, 0 = store), host OS, UTF-8 name; when encrypted, an extra
    record of type 0x01 (File encryption: version 0 = AES-256, flags 0x0001, KDF count, salt, IV, check)."""
    raw = name.encode()
    comp = 0 if stored else 3 << 7
    body = vint(0x0004) + vint(len(data)) + vint(0x20) + struct.pack("<I", zlib.crc32(data)) + vint(comp) + vint(0)
    body += vint(len(raw)) + raw
    extra = b""
    payload = data
    if encrypted:
        rec = vint(0x01) + vint(0) + vint(0x0001) + bytes([15]) + os.urandom(16) + os.urandom(16) + os.urandom(12)
        extra = vint(len(rec)) + rec
        payload = os.urandom((len(data) + 15) // 16 * 16 or 16)
    return rar5_block(2, body, extra=extra, data=payload)


def make_rar5(files: dict[str, bytes], *, encrypt_files: bool = False, encrypt_headers: bool = False,
              stored: bool = True) -> bytes:
    """RAR 5.0: signature, [archive encryption header (type 4): version 0, flags 0x0001, KDF count, salt,
    check value; everything after it is encrypted], main archive header (type 1), files, end of archive (5)."""
    out = b"Rar!\x1a\x07\x01\x00"
    if encrypt_headers:
        enc = vint(0) + vint(0x0001) + bytes([15]) + os.urandom(16) + os.urandom(12)
        return out + rar5_block(4, enc) + os.urandom(16 * 8)
    out += rar5_block(1, vint(0))
    for name, data in files.items():
        out += rar5_file(name, data, encrypted=encrypt_files, stored=stored)
    return out + rar5_block(5, vint(0))


# ----------------------------------------------------------------------------------------------- ZIP
def make_zip_strong() -> bytes:
    """PKWARE strong encryption (APPNOTE 6.3.10 §7.2): general purpose flags 0x0041, Strong Encryption
    Header extra field 0x0017 (Format 2, AlgID 0x6610 AES-256, Bitlen 256, Flags 1) in the local and
    central headers, a random Decryption Header + data. Hand-built: only PKWARE SecureZIP writes it."""
    name = b"kessan.xlsx"
    seh = struct.pack("<HHHHH", 0x0017, 8, 2, 0x6610, 256) + struct.pack("<H", 1)
    payload = os.urandom(300)
    lfh = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 62, 0x0041, 8, 0, 0, 0x1234, len(payload), 1000, len(name),
                      len(seh)) + name + seh
    cd = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 62, 62, 0x0041, 8, 0, 0, 0x1234, len(payload), 1000,
                     len(name), len(seh), 0, 0, 0, 0, 0) + name + seh
    body = lfh + payload
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(cd), len(body), 0)
    return body + cd + eocd


def make_zip_encrypted_cd() -> bytes:
    """Central directory encryption (APPNOTE §7.3): the local header is masked (flags 0x2041, zero CRC and
    sizes, the name replaced by the entry number) and the central directory is preceded by an archive
    extra data record ``PK\\x06\\x08`` (§4.3.11) and is itself ciphertext. Hand-built (SecureZIP only)."""
    name = b"00000001"
    payload = os.urandom(200)
    lfh = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 62, 0x2041, 8, 0, 0, 0, 0, 0, len(name), 0) + name
    aed = b"PK\x06\x08" + struct.pack("<I", 12) + os.urandom(12)
    body = lfh + payload
    cd = aed + os.urandom(96)
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(cd), len(body), 0)
    return body + cd + eocd


def zip_layout(data: bytes) -> tuple[int, int]:
    """(offset of the first central directory header, offset of the EOCD) of a single-disk ZIP."""
    eocd = data.rfind(b"PK\x05\x06")
    cd_off = struct.unpack_from("<I", data, eocd + 16)[0]
    return cd_off, eocd


def patch(data: bytes, offset: int, fmt: str, *values: int) -> bytes:
    buf = bytearray(data)
    struct.pack_into(fmt, buf, offset, *values)
    return bytes(buf)


# ---------------------------------------------------------------------------------------------- S/MIME
def make_smime() -> tuple[bytes, bytes]:
    """CMS EnvelopedData (RFC 5652 §6) and, as its twin, SignedData, made with ``cryptography``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs7
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = __import__("cryptography.hazmat.primitives.asymmetric.rsa", fromlist=["rsa"]).generate_private_key(
        public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mamori test")])
    now = datetime.datetime.now(datetime.UTC)

    def cert(k: object) -> x509.Certificate:
        return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())  # type: ignore[attr-defined]
                .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                .sign(k, hashes.SHA256()))  # type: ignore[arg-type]

    enveloped = (pkcs7.PKCS7EnvelopeBuilder().set_data(b"secret report").add_recipient(cert(rsa_key))
                 .encrypt(serialization.Encoding.DER, []))
    signed = (pkcs7.PKCS7SignatureBuilder().set_data(b"public report").add_signer(cert(key), key, hashes.SHA256())
              .sign(serialization.Encoding.DER, []))
    return enveloped, signed


def make_pgp() -> tuple[bytes, bytes, bytes]:
    """OpenPGP packets by hand (RFC 4880 §4.2, §5.1, §5.3, §5.4): an armoured message starting with a
    Public-Key Encrypted Session Key (old format tag 1, version 3, RSA), a binary one starting with a
    Symmetric-Key Encrypted Session Key (new format tag 3, version 4, AES-256, iterated S2K), and as the
    twin an armoured signed-only message (One-Pass Signature, tag 4)."""
    import base64

    def armor(packets: bytes) -> bytes:
        b64 = base64.b64encode(packets)
        lines = b"\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
        return b"-----BEGIN PGP MESSAGE-----\nComment: mamori test\n\n" + lines + b"\n=abcd\n-----END PGP MESSAGE-----\n"

    pkesk_body = b"\x03" + os.urandom(8) + b"\x01" + struct.pack(">H", 2048) + os.urandom(256)
    pkesk = b"\x85" + struct.pack(">H", len(pkesk_body)) + pkesk_body
    seipd = b"\xd2" + bytes([len(b"\x01" + os.urandom(60))]) + b"\x01" + os.urandom(60)
    skesk_body = b"\x04\x09\x03\x08" + os.urandom(8) + b"\x60"
    skesk = b"\xc3" + bytes([len(skesk_body)]) + skesk_body
    one_pass = b"\x90\x0d\x03\x00\x08\x01" + os.urandom(8) + b"\x01"
    literal = b"\xcb" + bytes([len(b"b\x00\x00\x00\x00\x00hello")]) + b"b\x00\x00\x00\x00\x00hello"
    return armor(pkesk + seipd), skesk + seipd, armor(one_pass + literal)


def make_xls_filepass(body: bytes) -> bytes:
    records = _biff(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 6)) + _biff(0x002F, body)
    return make_cfb({"Workbook": records + _biff(0x000A, b"")})


def filepass_bodies(password: str) -> dict[str, bytes]:
    """FILEPASS bodies whose verifiers accept ``password`` (MS-XLS §2.4.117; MS-OFFCRYPTO §2.3.7.1 XOR,
    §2.3.6 RC4, §2.3.5 RC4 CryptoAPI); msoffcrypto-tool checks them independently in the test."""
    import hashlib

    from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
    from cryptography.hazmat.primitives.ciphers import Cipher

    def rc4(key: bytes, data: bytes) -> bytes:
        return Cipher(ARC4(key), mode=None).encryptor().update(data)

    verifier = 0
    for byte in reversed([len(password), *password.encode()]):
        verifier = (((verifier >> 14) & 1) | ((verifier << 1) & 0x7FFF)) ^ byte
    xor = struct.pack("<HHH", 0, 0x1234, verifier ^ 0xCE4B)
    salt, secret = os.urandom(16), os.urandom(16)
    h0 = hashlib.md5(password.encode("utf-16-le")).digest()[:5]
    h1 = hashlib.md5((h0 + salt) * 16).digest()[:5]
    key = hashlib.md5(h1 + bytes(4)).digest()
    rc4_body = struct.pack("<HHH", 1, 1, 1) + salt + rc4(key, secret + hashlib.md5(secret).digest())
    key = hashlib.sha1(hashlib.sha1(salt + password.encode("utf-16-le")).digest() + bytes(4)).digest()[:16]
    csp = "Microsoft Enhanced Cryptographic Provider v1.0\x00".encode("utf-16-le")
    header = struct.pack("<IIIIIIII", 0x04, 0, 0x6801, 0x8004, 128, 1, 0, 0) + csp
    enc = rc4(key, secret + hashlib.sha1(secret).digest())
    api = (struct.pack("<HHHII", 1, 4, 2, 0x04, len(header)) + header + struct.pack("<I", 16) + salt + enc[:16]
           + struct.pack("<I", 20) + enc[16:])
    return {"xor": xor, "rc4": rc4_body, "cryptoapi": api}


# ---------------------------------------------------------------------------------------------- samples
@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(f"Debian tools missing: {', '.join(missing)}; install them with scripts/system-deps "
                    "(packages zip, p7zip-full, qpdf)")
    import pypdf

    d = tmp_path_factory.mktemp("ppap")
    rnd = random.Random(8)
    (d / "report.txt").write_text("お取引報告書\n口座番号 1234567\n" * 200, encoding="utf-8")
    (d / "data.bin").write_bytes(rnd.randbytes(20_000))
    s: dict[str, bytes] = {}

    def tool(out: str, *args: str) -> None:
        run(d, *args)
        s[out] = (d / out).read_bytes()

    tool("zipcrypto.zip", "zip", "-q", "-P", PW, "zipcrypto.zip", "report.txt", "data.bin")
    tool("plain.zip", "zip", "-q", "plain.zip", "report.txt", "data.bin")
    tool("aes.zip", "7z", "a", "-tzip", "-mem=AES256", f"-p{PW}", "aes.zip", "report.txt", "data.bin")
    tool("plain7.zip", "7z", "a", "-tzip", "plain7.zip", "report.txt", "data.bin")
    tool("content.7z", "7z", "a", f"-p{PW}", "content.7z", "report.txt", "data.bin")
    tool("headers.7z", "7z", "a", f"-p{PW}", "-mhe=on", "headers.7z", "report.txt", "data.bin")
    tool("plain.7z", "7z", "a", "plain.7z", "report.txt", "data.bin")
    # nested: an encrypted zip inside a plain zip inside a 7z
    (d / "enc.zip").write_bytes(s["zipcrypto.zip"])
    tool("outer.zip", "zip", "-q", "outer.zip", "enc.zip", "report.txt")
    tool("nested.7z", "7z", "a", "nested.7z", "outer.zip")
    (d / "plainin.zip").write_bytes(s["plain.zip"])
    tool("outer-plain.zip", "zip", "-q", "outer-plain.zip", "plainin.zip", "report.txt")
    tool("nested-plain.7z", "7z", "a", "nested-plain.7z", "outer-plain.zip")
    # PDF
    w = pypdf.PdfWriter()
    w.add_blank_page(width=595, height=842)
    w.add_metadata({"/Title": "取引報告書"})
    buf = io.BytesIO()
    w.write(buf)
    (d / "plain.pdf").write_bytes(buf.getvalue())
    s["plain.pdf"] = buf.getvalue()
    tool("user.pdf", "qpdf", "--encrypt", PW, "owner-pw", "256", "--", "plain.pdf", "user.pdf")
    tool("user-aes128.pdf", "qpdf", "--encrypt", PW, "owner-pw", "128", "--use-aes=y", "--", "plain.pdf",
         "user-aes128.pdf")
    tool("owner-only.pdf", "qpdf", "--encrypt", "", "owner-pw", "256", "--print=none", "--modify=none", "--",
         "plain.pdf", "owner-only.pdf")
    w = pypdf.PdfWriter()
    w.add_blank_page(width=595, height=842)
    w.add_attachment("inner.zip", s["zipcrypto.zip"])
    buf = io.BytesIO()
    w.write(buf)
    s["embedded.pdf"] = buf.getvalue()
    w = pypdf.PdfWriter()
    w.add_blank_page(width=595, height=842)
    w.add_attachment("inner.zip", s["plain.zip"])
    buf = io.BytesIO()
    w.write(buf)
    s["embedded-plain.pdf"] = buf.getvalue()
    # Office
    s["plain.docx"] = make_docx()
    s["plain.xlsx"] = make_xlsx()
    s["enc.docx"] = ooxml_encrypt(s["plain.docx"])
    s["enc.xlsx"] = ooxml_encrypt(s["plain.xlsx"])
    s["embeds-enc.docx"] = make_docx({"Microsoft_Excel_Worksheet.xlsx": s["enc.xlsx"]})
    s["embeds-plain.docx"] = make_docx({"Microsoft_Excel_Worksheet.xlsx": s["plain.xlsx"]})
    for kind, maker in (("doc", make_doc), ("xls", make_xls), ("ppt", make_ppt)):
        s[f"enc.{kind}"] = maker(True)
        s[f"plain.{kind}"] = maker(False)
    s["enc.odt"] = make_odt(True)
    s["plain.odt"] = make_odt(False)
    # RAR (hand-built)
    files = {"report.txt": (d / "report.txt").read_bytes(), "data.bin": (d / "data.bin").read_bytes()[:3000]}
    s["files.rar4"] = make_rar4(files, encrypt_files=True)
    s["headers.rar4"] = make_rar4(files, encrypt_headers=True)
    s["plain.rar4"] = make_rar4(files)
    s["files.rar5"] = make_rar5(files, encrypt_files=True)
    s["headers.rar5"] = make_rar5(files, encrypt_headers=True)
    s["plain.rar5"] = make_rar5(files)
    s["nested.rar5"] = make_rar5({"報告書.zip": s["zipcrypto.zip"], "memo.txt": b"see the other mail"})
    s["nested.rar4"] = make_rar4({"報告書.zip": s["zipcrypto.zip"]})
    s["compressed.rar5"] = make_rar5({"inner.zip": s["plain.zip"], "memo.txt": b"x" * 50}, stored=False)
    # hand-built ZIP variants
    s["strong.zip"] = make_zip_strong()
    s["encrypted-cd.zip"] = make_zip_encrypted_cd()
    # tar.gz around an encrypted zip, and its twin
    for label, inner in (("enc", s["zipcrypto.zip"]), ("plain", s["plain.zip"])):
        tbuf = io.BytesIO()
        with tarfile.open(fileobj=tbuf, mode="w:gz") as t:
            info = tarfile.TarInfo("backup/kokyaku.zip")
            info.size = len(inner)
            t.addfile(info, io.BytesIO(inner))
        s[f"{label}.tar.gz"] = tbuf.getvalue()
    s["enc.p7m"], s["signed.p7s"] = make_smime()
    s["msg.asc"], s["sym.gpg"], s["signed.asc"] = make_pgp()
    return s


ENCRYPTED = [
    # sample, format, method substring
    ("zipcrypto.zip", "zip", "general purpose flag bit 0 set (ZipCrypto)"),
    ("aes.zip", "zip", "compression method 99 with AES extra field 0x9901 (WinZip AES-256"),
    ("strong.zip", "zip", "general purpose flag bit 6 set (PKWARE strong encryption, AES-256)"),
    ("encrypted-cd.zip", "zip", "central directory encrypted"),
    ("content.7z", "7z", "folder coders include 7zAES (06F10701)"),
    ("headers.7z", "7z", "the encoded header's coders include 7zAES (06F10701)"),
    ("files.rar4", "rar4", "file header flag 0x0004 (LHD_PASSWORD)"),
    ("headers.rar4", "rar4", "MHD_PASSWORD (0x0080)"),
    ("files.rar5", "rar5", "file encryption extra record (type 0x01)"),
    ("headers.rar5", "rar5", "archive encryption header (type 4)"),
    ("user.pdf", "pdf", "/Encrypt with a user password (the empty password does not open it)"),
    ("user-aes128.pdf", "pdf", "/Encrypt with a user password"),
    ("enc.docx", "ooxml-encrypted", "EncryptionInfo version 4.4: Agile encryption"),
    ("enc.xlsx", "ooxml-encrypted", "EncryptedPackage"),
    ("enc.doc", "ole-office", "Word FibBase fEncrypted bit set (MS-DOC §2.5.2): RC4 CryptoAPI"),
    ("enc.xls", "ole-office", "Excel FILEPASS record (0x002F)"),
    ("enc.ppt", "ole-office", "CurrentUserAtom headerToken 0xF3D1C4DF"),
    ("enc.odt", "odf", "encryption-data"),
    ("enc.p7m", "smime", "EnvelopedData"),
    ("msg.asc", "pgp", "encrypted session key"),
    ("sym.gpg", "pgp", "encrypted session key"),
]
TWINS = ["plain.zip", "plain7.zip", "plain.7z", "nested-plain.7z", "plain.rar4", "plain.rar5", "plain.pdf",
         "embedded-plain.pdf", "plain.docx", "plain.xlsx", "embeds-plain.docx", "plain.doc", "plain.xls",
         "plain.ppt", "plain.odt", "plain.tar.gz", "signed.p7s", "signed.asc"]


# ------------------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize(("sample", "fmt", "method"), ENCRYPTED)
def test_encrypted_sample_is_found(samples: dict[str, bytes], sample: str, fmt: str, method: str) -> None:
    findings = scan_attachment(samples[sample], sample)
    first = top(findings)
    assert first.format == fmt, first
    assert first.verdict == "encrypted" and first.encrypted, first
    assert method in first.method, first.method
    assert first.path == sample and first.size == len(samples[sample])


@pytest.mark.parametrize("sample", TWINS)
def test_unencrypted_twin_is_clean(samples: dict[str, bytes], sample: str) -> None:
    findings = scan_attachment(samples[sample], sample)
    bad = [f for f in findings if f.verdict != "clean" or f.encrypted]
    assert not bad, bad


def test_zip_members_are_listed_with_their_scheme(samples: dict[str, bytes]) -> None:
    found = by_path(scan_attachment(samples["aes.zip"], "aes.zip"))
    member = found["aes.zip/report.txt"]
    assert member.encrypted and member.detail["aes_bits"] == 256 and member.detail["aes_version"] in ("AE-1", "AE-2")
    assert by_path(scan_attachment(samples["zipcrypto.zip"], "z.zip"))["z.zip/data.bin"].detail == {
        "encryption": "zipcrypto"}
    plain = by_path(scan_attachment(samples["plain.zip"], "p.zip"))
    assert plain["p.zip/report.txt"].format == "text" and plain["p.zip/data.bin"].format == "unknown"


def test_7z_header_encryption_hides_names_content_encryption_does_not(samples: dict[str, bytes]) -> None:
    hidden = scan_attachment(samples["headers.7z"], "h.7z")
    assert len(hidden) == 1 and hidden[0].detail["headers_encrypted"] is True
    visible = by_path(scan_attachment(samples["content.7z"], "c.7z"))
    assert visible["c.7z/report.txt"].encrypted and visible["c.7z/data.bin"].encrypted
    plain = by_path(scan_attachment(samples["plain.7z"], "p.7z"))
    assert plain["p.7z/report.txt"].format == "text", plain  # decompressed (LZMA2) and sniffed


def test_pdf_permissions_only_is_clean_and_says_so(samples: dict[str, bytes]) -> None:
    finding = top(scan_attachment(samples["owner-only.pdf"], "owner-only.pdf"))
    assert finding.verdict == "clean" and not finding.encrypted
    assert finding.detail["permissions_only"] is True
    assert "permissions only" in finding.method
    assert top(scan_attachment(samples["user.pdf"], "u.pdf")).detail["R"] == 6


def test_pdf_empty_password_answer_is_the_one_the_reader_found(samples: dict[str, bytes]) -> None:
    """pdf.read asks pypdf's security handler what the empty password did when the file was opened
    instead of deriving the keys again; the answer must be what ``decrypt("")`` says."""
    import pypdf

    from mamori.mail.attachments.pdf import _opens_with_empty_password

    for name, opens in (("user.pdf", False), ("user-aes128.pdf", False), ("owner-only.pdf", True)):
        reader = pypdf.PdfReader(io.BytesIO(samples[name]))
        assert _opens_with_empty_password(pypdf, reader) is opens
        assert (pypdf.PdfReader(io.BytesIO(samples[name])).decrypt("") != pypdf.PasswordType.NOT_DECRYPTED) is opens


def test_nested_encrypted_zip_in_plain_zip_in_7z_has_the_right_path(samples: dict[str, bytes]) -> None:
    findings = scan_attachment(samples["nested.7z"], "nested.7z")
    found = by_path(findings)
    inner = found["nested.7z/outer.zip/enc.zip"]
    assert inner.format == "zip" and inner.verdict == "encrypted"
    assert found["nested.7z/outer.zip/enc.zip/report.txt"].method == "zip: general purpose flag bit 0 set (ZipCrypto)"
    assert found["nested.7z/outer.zip/report.txt"].verdict == "clean"
    outer = found["nested.7z/outer.zip"]
    assert outer.verdict == "encrypted" and outer.detail["own_verdict"] == "clean"
    assert top(findings).verdict == "encrypted" and "nested.7z/outer.zip/enc.zip" in top(findings).method


@pytest.mark.parametrize(("sample", "path"), [
    ("enc.tar.gz", "x.tgz/x.tar/backup/kokyaku.zip"),
    ("embedded.pdf", "x.pdf/inner.zip"),
    ("embeds-enc.docx", "x.docx/word/embeddings/Microsoft_Excel_Worksheet.xlsx"),
    ("nested.rar5", "x.rar/報告書.zip"),
    ("nested.rar4", "x.rar/報告書.zip"),
])
def test_encrypted_content_inside_other_containers(samples: dict[str, bytes], sample: str, path: str) -> None:
    name = path.split("/")[0]
    findings = scan_attachment(samples[sample], name)
    found = by_path(findings)
    assert path in found, list(found)
    assert found[path].verdict == "encrypted", found[path]
    assert top(findings).verdict == "encrypted" and top(findings).encrypted


def test_rar_compressed_members_are_listed_not_decoded(samples: dict[str, bytes]) -> None:
    found = by_path(scan_attachment(samples["compressed.rar5"], "c.rar"))
    # the name says container and there is no RAR decoder: it cannot be cleared
    assert found["c.rar/inner.zip"].verdict == "unscannable" and found["c.rar/inner.zip"].detail["inspected"] is False
    assert found["c.rar/memo.txt"].verdict == "clean" and found["c.rar/memo.txt"].detail["inspected"] is False


@pytest.mark.parametrize(("sample", "name"), [("zipcrypto.zip", "report.pdf"), ("content.7z", "photo.jpg"),
                                               ("user.pdf", "invoice.txt"), ("enc.docx", "notes.txt"),
                                               ("files.rar5", "memo.docx")])
def test_names_lie_bytes_decide(samples: dict[str, bytes], sample: str, name: str) -> None:
    finding = top(scan_attachment(samples[sample], name))
    assert finding.verdict == "encrypted" and finding.path == name
    assert finding.format == top(scan_attachment(samples[sample], sample)).format


def test_plain_zip_named_docx_is_not_ooxml(samples: dict[str, bytes]) -> None:
    assert top(scan_attachment(samples["plain.zip"], "report.docx")).format == "zip"
    assert top(scan_attachment(samples["plain.docx"], "report.zip")).format == "ooxml"


def test_hand_built_legacy_office_agrees_with_msoffcrypto(samples: dict[str, bytes]) -> None:
    import msoffcrypto  # type: ignore[import-untyped]

    for kind in ("doc", "xls", "ppt", "docx", "xlsx"):
        for label, expected in (("enc", True), ("plain", False)):
            if kind in ("docx", "xlsx") and label == "plain":
                continue
            office = msoffcrypto.OfficeFile(io.BytesIO(samples[f"{label}.{kind}"]))
            assert office.is_encrypted() is expected, (kind, label)


def test_hand_built_rar_agrees_with_7zip(samples: dict[str, bytes], tmp_path: Path) -> None:
    """7-Zip's own RAR and RAR5 handlers list the hand-built archives: an independent check of the builders."""
    for sample, encrypted in (("files.rar4", True), ("plain.rar4", False), ("files.rar5", True),
                              ("plain.rar5", False), ("nested.rar4", False)):
        path = tmp_path / f"{sample}.rar"
        path.write_bytes(samples[sample])
        proc = subprocess.run(["7z", "l", "-slt", "-p-", str(path)], stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=60, check=False)
        out = proc.stdout.decode(errors="replace")
        assert proc.returncode == 0, out + proc.stderr.decode(errors="replace")
        assert ("Encrypted = +" in out) is encrypted, out
        if sample == "nested.rar4":
            assert "Path = 報告書.zip" in out, out  # the RAR Unicode name encoding round-trips


@pytest.mark.parametrize("scheme", ["xor", "rc4", "cryptoapi"])
def test_excel_default_password_is_not_a_password(scheme: str) -> None:
    """Excel encrypts workbooks that only protect their structure with the built-in VelvetSweatshop:
    they open without a password, so they are clean (like a permissions-only PDF); any other password
    is a real one."""
    import msoffcrypto
    from msoffcrypto.exceptions import InvalidKeyError  # type: ignore[import-untyped]

    default = make_xls_filepass(filepass_bodies("VelvetSweatshop")[scheme])
    real = make_xls_filepass(filepass_bodies(PW)[scheme])
    msoffcrypto.OfficeFile(io.BytesIO(default)).load_key(password="VelvetSweatshop")
    with pytest.raises(InvalidKeyError):
        msoffcrypto.OfficeFile(io.BytesIO(real)).load_key(password="VelvetSweatshop")
    clean = top(scan_attachment(default, "protected.xls"))
    assert clean.verdict == "clean" and clean.detail["default_password"] is True and "VelvetSweatshop" in clean.method
    assert top(scan_attachment(real, "secret.xls")).verdict == "encrypted"


def test_odf_encrypted_parts_are_members(samples: dict[str, bytes]) -> None:
    found = by_path(scan_attachment(samples["enc.odt"], "a.odt"))
    assert found["a.odt/content.xml"].encrypted and found["a.odt"].detail["encrypted_parts"] == 1


# -------------------------------------------------------------------------------- evasion constructions
def test_local_header_says_encrypted_central_directory_does_not(samples: dict[str, bytes]) -> None:
    data = samples["plain.zip"]
    flags = struct.unpack_from("<H", data, 6)[0]
    tampered = patch(data, 6, "<H", flags | 0x0001)  # first local header only
    found = scan_attachment(tampered, "t.zip")
    member = by_path(found)["t.zip/report.txt"]
    assert member.verdict == "encrypted" and "disagree on encryption" in member.method
    assert member.detail["suspicious"]


def test_central_directory_says_encrypted_local_header_does_not(samples: dict[str, bytes]) -> None:
    data = samples["plain.zip"]
    cd, _ = zip_layout(data)
    flags = struct.unpack_from("<H", data, cd + 8)[0]
    member = by_path(scan_attachment(patch(data, cd + 8, "<H", flags | 0x0001), "t.zip"))["t.zip/report.txt"]
    assert member.verdict == "encrypted" and "local: none, central: zipcrypto" in member.method


def test_local_and_central_sizes_disagree(samples: dict[str, bytes]) -> None:
    data = samples["plain.zip"]
    usize = struct.unpack_from("<I", data, 22)[0]
    member = by_path(scan_attachment(patch(data, 22, "<I", usize + 1), "t.zip"))["t.zip/report.txt"]
    assert member.verdict == "unscannable" and "disagree on sizes" in member.method


def test_encrypted_zip_hidden_in_front_of_a_plain_zip(samples: dict[str, bytes]) -> None:
    """Two archives concatenated: extractors that read the first one see an encrypted entry."""
    data = samples["zipcrypto.zip"] + samples["plain.zip"]
    findings = scan_attachment(data, "two.zip")
    assert top(findings).verdict == "encrypted"
    hidden = [f for f in findings if f.detail.get("hidden")]
    assert hidden and all(f.encrypted for f in hidden)
    assert top(findings).detail["prefix_bytes"] == len(samples["zipcrypto.zip"])


def test_overlapping_entries_are_a_bomb_construction() -> None:
    base = zip_bytes({"a.txt": b"A" * 1000}, zipfile.ZIP_STORED)
    cd, eocd = zip_layout(base)
    entry = base[cd:eocd]
    data = base[:cd] + entry + entry.replace(b"a.txt", b"b.txt") + patch(base[eocd:], 8, "<HHI", 2, 2, 2 * len(entry))
    finding = top(scan_attachment(data, "overlap.zip"))
    assert finding.verdict == "unscannable" and "overlap" in finding.method


def test_zip_behind_an_exe_stub_is_found(samples: dict[str, bytes]) -> None:
    data = b"MZ" + os.urandom(5000) + samples["zipcrypto.zip"]
    finding = top(scan_attachment(data, "setup.exe"))
    assert finding.format == "zip" and finding.verdict == "encrypted"


# ---------------------------------------------------------------------------------------------- limits
def bomb_zip(size: int = 50 * 1024 * 1024) -> bytes:
    return zip_bytes({"zeros.bin": bytes(size)})


def test_single_highly_compressed_member_stops_before_inflating() -> None:
    data = bomb_zip()
    t0 = time.perf_counter()
    findings = scan_attachment(data, "bomb.zip")
    elapsed = time.perf_counter() - t0
    assert top(findings).verdict == "unscannable"
    assert "limit: compression ratio" in top(findings).method and "ScanLimits.max_ratio" in top(findings).method
    assert by_path(findings)["bomb.zip/zeros.bin"].verdict == "unscannable"
    assert elapsed < 0.5


def test_lying_sizes_are_caught_while_inflating() -> None:
    """Declared sizes say 2 MiB from 50 KiB (ratio 40); the data inflates at ~1000:1, which the
    streaming check sees after about 1 MiB of output."""
    payload = b"PK\x03\x04" + bytes(60 * 1024 * 1024)
    data = zip_bytes({"inner.zip": payload})
    cd, _ = zip_layout(data)
    lie = 2 * 1024 * 1024
    csize = struct.unpack_from("<I", data, 18)[0]
    data = patch(patch(data, 22, "<I", lie), cd + 24, "<I", lie)
    t0 = time.perf_counter()
    findings = scan_attachment(data, "lie.zip")
    assert time.perf_counter() - t0 < 0.5
    assert csize * 200 < 60 * 1024 * 1024
    assert top(findings).verdict == "unscannable" and "limit: compression ratio" in top(findings).method


def test_gzip_bomb_with_a_false_isize_is_caught_while_inflating() -> None:
    import gzip

    data = bytearray(gzip.compress(b"PK\x03\x04" + bytes(40 * 1024 * 1024)))
    assert "limit: compression ratio" in top(scan_attachment(bytes(data), "b.gz")).method  # declared ISIZE
    data[-4:] = b"\x00\x00\x00\x00"
    t0 = time.perf_counter()
    finding = top(scan_attachment(bytes(data), "b.gz"))
    assert time.perf_counter() - t0 < 0.5
    assert finding.verdict == "unscannable" and "limit: compression ratio" in finding.method


def test_42_zip_style_nested_bomb_stops_fast() -> None:
    """16 copies per level, 6 levels of zips around 2 MiB of zeros: a path down hits a limit at once."""
    layer = zip_bytes({f"{i:x}.bin": bytes(2 * 1024 * 1024) for i in range(16)})
    for level in ("page", "doc", "chapter", "book", "lib"):
        layer = zip_bytes({f"{level}{i:x}.zip": layer for i in range(16)})
    t0 = time.perf_counter()
    findings = scan_attachment(layer, "42.zip")
    elapsed = time.perf_counter() - t0
    assert top(findings).verdict == "unscannable" and "limit: nesting depth 5" in top(findings).method
    assert elapsed < 1.0 and len(findings) < 50
    # with more depth allowed, the innermost member's ratio stops it
    deep = scan_attachment(layer, "42.zip", limits=ScanLimits(max_depth=10))
    assert top(deep).verdict == "unscannable" and "limit: compression ratio" in top(deep).method


def test_member_count_limit() -> None:
    data = zip_bytes({f"f{i}.txt": b"x" for i in range(50)})
    finding = top(scan_attachment(data, "many.zip", limits=ScanLimits(max_members=10)))
    assert finding.verdict == "unscannable" and "ScanLimits.max_members" in finding.method
    assert top(scan_attachment(data, "many.zip")).verdict == "clean"


def test_member_size_limit(samples: dict[str, bytes]) -> None:
    data = zip_bytes({"inner.zip": samples["plain.zip"] + bytes(100_000)}, zipfile.ZIP_STORED)
    finding = top(scan_attachment(data, "big.zip", limits=ScanLimits(max_member_bytes=50_000)))
    assert finding.verdict == "unscannable" and "ScanLimits.max_member_bytes" in finding.method


def test_message_budget_is_shared_across_attachments(samples: dict[str, bytes]) -> None:
    data = zip_bytes({"inner.zip": samples["plain.zip"]}, zipfile.ZIP_STORED)
    probe = ScanBudget()
    scan_attachment(data, "probe.zip", budget=probe)
    budget = ScanBudget(max_total_bytes=int(probe.used * 1.5))
    first = top(scan_attachment(data, "a.zip", budget=budget))
    second = top(scan_attachment(data, "b.zip", budget=budget))
    assert first.verdict == "clean"
    assert second.verdict == "unscannable" and "total decompressed bytes per message" in second.method
    # headers-only checks still work once the budget is spent
    assert top(scan_attachment(samples["zipcrypto.zip"], "c.zip", budget=budget)).verdict == "encrypted"


def test_entry_budget_bounds_work_on_tiny_nested_archives() -> None:
    empty = b"PK\x05\x06" + bytes(18)  # a valid empty ZIP: 22 bytes, almost free in decompressed bytes
    data = zip_bytes({f"e{i}.zip": empty for i in range(200)}, zipfile.ZIP_STORED)
    finding = top(scan_attachment(data, "tiny.zip", budget=ScanBudget(max_entries=50)))
    assert finding.verdict == "unscannable" and "ScanBudget.max_entries" in finding.method
    assert top(scan_attachment(data, "tiny.zip")).verdict == "clean"


def test_hostile_lzma_dictionary_size_is_clamped(samples: dict[str, bytes]) -> None:
    """A 7z header declaring a 4 GiB LZMA dictionary (liblzma reserves the dictionary up front) is
    clamped to what may be decompressed and still decodes."""
    data = bytearray(samples["plain.7z"])
    off, size = struct.unpack_from("<QQ", data, 12)
    header = 32 + off
    props = data.find(b"\x03\x01\x01\x05\x5d", header, header + size)  # LZMA coder id, 5 property bytes
    assert props > 0
    struct.pack_into("<I", data, props + 5, 0xFFFFFFFF)
    struct.pack_into("<I", data, 28, zlib.crc32(data[header:header + size]))
    struct.pack_into("<I", data, 8, zlib.crc32(data[12:32]))
    found = by_path(scan_attachment(bytes(data), "d.7z"))
    assert found["d.7z"].verdict == "clean" and "d.7z/report.txt" in found


def test_depth_limit_counts_from_the_attachment(samples: dict[str, bytes]) -> None:
    data = samples["zipcrypto.zip"]
    for i in range(3):
        data = zip_bytes({f"level{i}.zip": data})
    assert top(scan_attachment(data, "d.zip", limits=ScanLimits(max_depth=4))).verdict == "encrypted"
    limited = top(scan_attachment(data, "d.zip", limits=ScanLimits(max_depth=3)))
    assert limited.verdict == "unscannable" and "limit: nesting depth 3" in limited.method


# ------------------------------------------------------------------------------------------- malformed
def test_truncated_zip_still_shows_encryption_from_local_headers(samples: dict[str, bytes]) -> None:
    data = samples["zipcrypto.zip"][:600]
    finding = top(scan_attachment(data, "cut.zip"))
    assert finding.verdict == "encrypted" and "central directory unreadable" in finding.method


def test_truncated_plain_zip_is_an_error_naming_the_problem(samples: dict[str, bytes]) -> None:
    finding = top(scan_attachment(samples["plain.zip"][:600], "cut.zip"))
    assert finding.verdict == "error" and finding.method.startswith("zip: end of central directory record not found")


def test_central_directory_overrun_names_the_offset(samples: dict[str, bytes]) -> None:
    data = samples["plain.zip"]
    cd, _ = zip_layout(data)
    finding = top(scan_attachment(patch(data, cd + 28, "<H", 60000), "bad.zip"))
    assert finding.verdict == "error" and f"central directory truncated at offset {cd}" in finding.method


@pytest.mark.parametrize(("sample", "cut", "expected"), [
    ("plain.7z", 100, "7z: next header"),
    ("plain.pdf", 200, "pdf: no %%EOF"),
    ("plain.rar5", 40, "rar5: "),
    ("plain.rar4", 40, "rar4: "),
    ("plain.doc", 700, "cfb: "),
])
def test_truncated_files_are_errors(samples: dict[str, bytes], sample: str, cut: int, expected: str) -> None:
    finding = top(scan_attachment(samples[sample][:cut], sample))
    assert finding.verdict == "error" and finding.method.startswith(expected), finding


def test_sniff_by_bytes(samples: dict[str, bytes]) -> None:
    expected = {"zipcrypto.zip": "zip", "content.7z": "7z", "files.rar4": "rar4", "files.rar5": "rar5",
                "user.pdf": "pdf", "enc.docx": "cfb", "plain.docx": "zip", "enc.tar.gz": "gzip", "enc.p7m": "smime",
                "msg.asc": "pgp", "sym.gpg": "pgp", "signed.asc": "text", "signed.p7s": "unknown"}
    for sample, fmt in expected.items():
        assert sniff(samples[sample]) == fmt, sample
    assert sniff(b"") == "empty" and sniff("こんにちは".encode("cp932")) == "text"


# ------------------------------------------------------------------------------------------------ fuzz
def _mutations(data: bytes) -> st.SearchStrategy[bytes]:
    n = len(data)
    cut = st.integers(0, n).map(lambda k: data[:k])
    flips = st.lists(st.tuples(st.integers(0, max(n - 1, 0)), st.integers(0, 255)), min_size=1, max_size=16).map(
        lambda edits: _apply(data, edits))
    splice = st.tuples(st.integers(0, n), st.binary(max_size=64)).map(lambda t: data[:t[0]] + t[1] + data[t[0]:])
    return st.one_of(cut, flips, splice, st.binary(max_size=2048).map(lambda b: data[:16] + b))


def _apply(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    buf = bytearray(data)
    for pos, value in edits:
        if buf:
            buf[pos % len(buf)] = value
    return bytes(buf)


FUZZ_SAMPLES = [name for name, *_ in ENCRYPTED] + TWINS + ["nested.7z", "enc.tar.gz", "embedded.pdf", "owner-only.pdf",
                                                             "nested.rar5", "compressed.rar5"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_fuzz_never_raises(samples: dict[str, bytes], data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(FUZZ_SAMPLES))
    blob = data.draw(_mutations(samples[name]))
    findings = scan_attachment(blob, name, limits=ScanLimits(max_total_bytes=8 * 1024 * 1024))
    assert findings and findings[0].path == name
    for f in findings:
        assert f.verdict in ("clean", "encrypted", "unscannable", "error")
        assert isinstance(f.method, str) and f.method
        f.to_dict()


def test_random_bytes_never_raise() -> None:
    rnd = random.Random(3)
    prefixes: list[Callable[[], bytes]] = [lambda: b"PK\x03\x04", lambda: b"7z\xbc\xaf\x27\x1c", lambda: b"Rar!\x1a\x07\x00",
                                           lambda: b"Rar!\x1a\x07\x01\x00", lambda: b"%PDF-1.7\n",
                                           lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", lambda: b"\x1f\x8b\x08",
                                           lambda: b"BZh91AY&SY", lambda: b"\xfd7zXZ\x00", lambda: b""]
    for _ in range(300):
        blob = rnd.choice(prefixes)() + rnd.randbytes(rnd.randint(0, 3000))
        assert scan_attachment(blob, None)[0].path == "attachment"
