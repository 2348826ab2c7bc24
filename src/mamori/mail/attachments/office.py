"""Office documents in a Compound File Binary container (OLE2): encrypted OOXML and 97-2003 formats.

The container (MS-CFB, magic ``D0 CF 11 E0 A1 B1 1A E1``) is read with olefile, always from a
``BytesIO`` (olefile treats short ``bytes`` as a file *name*), and a stream is only opened when its
directory size fits in the file (a cyclic FAT cannot make it read more).

- **Encrypted OOXML** (a ``.docx``/``.xlsx``/``.pptx`` with a password is *not* a ZIP): streams
  ``EncryptionInfo`` and ``EncryptedPackage`` (MS-OFFCRYPTO §2.3.4.4, §2.3.4.5, §2.3.4.10). The
  EncryptionInfo version tells the scheme: 4.4 = Agile, 2.2/3.2/4.2 = Standard, 3.3/4.3 =
  Extensible (MS-OFFCRYPTO §2.3.4.5, §2.3.4.10). IRM/DRM protection (``\\x06DataSpaces`` with the
  ``DRMEncryptedTransform``, MS-OFFCRYPTO §2.2) wraps an ``EncryptedPackage`` too. Format
  ``ooxml-encrypted``.
- **Word 97-2003**: ``WordDocument`` stream, FibBase (MS-DOC §2.5.2) ``wIdent`` 0xA5EC and the flags
  word at offset 0x0A: **fEncrypted (0x0100)**, fObfuscated (0x8000, XOR obfuscation, §2.2.6.1);
  otherwise the EncryptionHeader at the start of the table stream (``0Table``/``1Table`` by
  fWhichTblStm 0x0200) gives RC4 (1.1) or RC4 CryptoAPI (2/3/4.2) (MS-OFFCRYPTO §2.3.6.1, §2.3.5.1).
- **Excel 97-2003**: ``Workbook`` (BIFF8) or ``Book`` (BIFF5) stream, records walked from BOF to the
  globals substream's EOF: **FILEPASS (0x002F)** (MS-XLS §2.4.117) = encrypted; wEncryptionType 0 =
  XOR obfuscation, 1 = RC4 with the RC4 / CryptoAPI header version. Excel also writes FILEPASS for
  workbooks that only protect their structure, encrypting them with the built-in default password
  ``VelvetSweatshop`` (MS-XLS §2.2.10): such a file opens without a password, like a
  permissions-only PDF. The verifier in FILEPASS is checked against that password (XOR method 1,
  MS-OFFCRYPTO §2.3.7.1; RC4, §2.3.6.2 and §2.3.6.4; RC4 CryptoAPI, §2.3.5.2 and §2.3.5.6): a match is
  ``clean`` with ``detail.default_password = true``.
- **PowerPoint 97-2003**: ``Current User`` stream, CurrentUserAtom (MS-PPT §2.3.2) **headerToken
  0xF3D1C4DF** = encrypted (0xE391C05F = not); the UserEditAtom at offsetToCurrentEdit with the
  optional encryptSessionPersistIdRef (recLen 0x20, §2.3.3); a **CryptSession10Container** record
  (recType 0x2F14, §2.3.7) in ``PowerPoint Document``. Any of them = encrypted.

Embedded OLE objects inside these documents are not opened.
"""

from __future__ import annotations

import hashlib
import io
import struct
from typing import Any

from mamori.mail.attachments.base import Report
from mamori.mail.attachments.budget import Malformed, ScanContext

_MAX_BIFF_RECORDS = 20_000
DEFAULT_XLS_PASSWORD = "VelvetSweatshop"  # noqa: S105 - Excel's published built-in password, no secret
FILEPASS = 0x002F
BOF_TYPES = (0x0809, 0x0009, 0x0209, 0x0409)


def _header_version(blob: bytes) -> tuple[int, int] | None:
    return struct.unpack_from("<HH", blob) if len(blob) >= 4 else None


def _rc4_kind(version: tuple[int, int] | None) -> str:
    if version == (1, 1):
        return "RC4"
    if version is not None and version[1] == 2 and version[0] in (2, 3, 4):
        return "RC4 CryptoAPI"
    return f"unknown version {version[0]}.{version[1]}" if version else "unknown"


def _rc4(key: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
    from cryptography.hazmat.primitives.ciphers import Cipher

    return Cipher(ARC4(key), mode=None).decryptor().update(data)


def xor_verifier(password: str) -> int:
    """MS-OFFCRYPTO §2.3.7.1 CreatePasswordVerifier_Method1 (XOR obfuscation)."""
    verifier = 0
    for byte in reversed([len(password), *password.encode("latin-1", "replace")]):
        verifier = ((verifier >> 14) & 1 | (verifier << 1) & 0x7FFF) ^ byte
    return verifier ^ 0xCE4B


def _rc4_key(password: str, salt: bytes) -> bytes:
    """MS-OFFCRYPTO §2.3.6.2: RC4 encryption key for block 0."""
    h0 = hashlib.md5(password.encode("utf-16-le"), usedforsecurity=False).digest()[:5]
    h1 = hashlib.md5((h0 + salt) * 16, usedforsecurity=False).digest()[:5]
    return hashlib.md5(h1 + b"\x00\x00\x00\x00", usedforsecurity=False).digest()


def _cryptoapi_key(password: str, salt: bytes, bits: int) -> bytes:
    """MS-OFFCRYPTO §2.3.5.2: RC4 CryptoAPI encryption key for block 0 (40-bit keys are zero-padded)."""
    h0 = hashlib.sha1(salt + password.encode("utf-16-le"), usedforsecurity=False).digest()
    final = hashlib.sha1(h0 + b"\x00\x00\x00\x00", usedforsecurity=False).digest()
    return final[:5] + bytes(11) if bits == 40 else final[:bits // 8]


def opens_with(body: bytes, password: str) -> bool:
    """Whether the FILEPASS record ``body`` (from wEncryptionType on) verifies ``password``."""
    if len(body) < 6:
        return False
    etype = struct.unpack_from("<H", body)[0]
    if etype == 0:
        return int(struct.unpack_from("<H", body, 4)[0]) == xor_verifier(password)
    major, minor = struct.unpack_from("<HH", body, 2)
    if (major, minor) == (1, 1) and len(body) >= 54:
        plain = _rc4(_rc4_key(password, body[6:22]), body[22:54])
        return hashlib.md5(plain[:16], usedforsecurity=False).digest() == plain[16:32]
    if minor == 2 and major in (2, 3, 4) and len(body) >= 14:
        hsize = struct.unpack_from("<I", body, 10)[0]
        at = 14 + hsize
        if hsize < 20 or len(body) < at + 4 + 16 + 16 + 4 + 20:
            return False
        bits = struct.unpack_from("<I", body, 14 + 16)[0] or 40
        if bits % 8 or not 40 <= bits <= 128:
            return False
        salt_size = struct.unpack_from("<I", body, at)[0]
        salt = body[at + 4:at + 4 + salt_size]
        rest = at + 4 + salt_size
        plain = _rc4(_cryptoapi_key(password, salt, bits), body[rest:rest + 16] + body[rest + 20:rest + 40])
        return hashlib.sha1(plain[:16], usedforsecurity=False).digest() == plain[16:36]
    return False


class _Cfb:
    def __init__(self, ole: Any, size: int) -> None:
        self.ole = ole
        self.size = size
        self.paths = {"/".join(p).lower(): "/".join(p) for p in ole.listdir(streams=True, storages=False)}
        self.all = {"/".join(p).lower() for p in ole.listdir(streams=True, storages=True)}

    def has(self, name: str) -> bool:
        return name.lower() in self.paths

    def read(self, name: str, limit: int | None = None) -> bytes:
        real = self.paths[name.lower()]
        n = self.ole.get_size(real)
        if n > self.size:
            raise Malformed(f"stream {real} declares {n} bytes, more than the {self.size}-byte file")
        with self.ole.openstream(real) as s:
            return bytes(s.read(n if limit is None else min(n, limit)))


def _ooxml(c: _Cfb) -> Report:
    version = _header_version(c.read("EncryptionInfo", 8)) if c.has("EncryptionInfo") else None
    if version == (4, 4):
        kind = "Agile"
    elif version is not None and version[1] == 2 and version[0] in (2, 3, 4):
        kind = "Standard"
    elif version is not None and version[1] == 3 and version[0] in (3, 4):
        kind = "Extensible"
    else:
        kind = "unknown"
    irm = any("drmencrypted" in p for p in c.all)
    detail: dict[str, Any] = {"encryption": kind.lower(), "irm": irm}
    if version:
        detail["encryption_info_version"] = f"{version[0]}.{version[1]}"
    what = ("IRM/DRM rights-management protection (\\x06DataSpaces DRMEncryptedTransform)" if irm else
            f"EncryptionInfo version {detail.get('encryption_info_version', '?')}: {kind} encryption")
    return Report("ooxml-encrypted", True, "encrypted", "ooxml-encrypted: compound file with EncryptionInfo and "
                  f"EncryptedPackage streams ({what}; MS-OFFCRYPTO §2.3.4)", detail)


def _word(c: _Cfb) -> Report:
    fib = c.read("WordDocument", 32)
    if len(fib) < 12:
        raise Malformed("WordDocument stream too short for a FibBase")
    ident, _nfib = struct.unpack_from("<HH", fib)
    flags = struct.unpack_from("<H", fib, 0x0A)[0]
    detail: dict[str, Any] = {"application": "word", "wIdent": f"0x{ident:04x}"}
    if ident != 0xA5EC:
        raise Malformed(f"WordDocument FibBase wIdent 0x{ident:04x} is not 0xA5EC")
    if not flags & 0x0100:
        return Report("ole-office", False, "clean", "ole-office: Word 97-2003 document, FibBase fEncrypted not set "
                      "(MS-DOC §2.5.2)", detail)
    if flags & 0x8000:
        kind = "XOR obfuscation"
    else:
        table = "1Table" if flags & 0x0200 else "0Table"
        kind = _rc4_kind(_header_version(c.read(table, 4))) if c.has(table) else "unknown (no table stream)"
    detail["encryption"] = kind
    return Report("ole-office", True, "encrypted", f"ole-office: Word FibBase fEncrypted bit set (MS-DOC §2.5.2): "
                  f"{kind}", detail)


def _excel(c: _Cfb) -> Report:
    name = "Workbook" if c.has("Workbook") else "Book"
    wb = c.read(name)
    detail: dict[str, Any] = {"application": "excel", "stream": name}
    if len(wb) < 4 or struct.unpack_from("<H", wb)[0] not in BOF_TYPES:
        raise Malformed(f"{name} stream does not start with a BOF record (MS-XLS §2.4.21)")
    pos = 0
    for _ in range(_MAX_BIFF_RECORDS):
        if pos + 4 > len(wb):
            break
        rtype, rsize = struct.unpack_from("<HH", wb, pos)
        body = wb[pos + 4:pos + 4 + rsize]
        if rtype == FILEPASS:
            etype = struct.unpack_from("<H", body)[0] if len(body) >= 2 else -1
            kind = ("XOR obfuscation" if etype == 0 else _rc4_kind(_header_version(body[2:6])) if etype == 1
                    else f"unknown type {etype}")
            detail["encryption"] = kind
            if opens_with(body, DEFAULT_XLS_PASSWORD):
                detail["default_password"] = True
                return Report("ole-office", False, "clean", f"ole-office: Excel FILEPASS record (0x002F) with the "
                              f"default password {DEFAULT_XLS_PASSWORD} ({kind}; MS-XLS §2.2.10): workbook "
                              "structure protection only, it opens without a password", detail)
            return Report("ole-office", True, "encrypted", f"ole-office: Excel FILEPASS record (0x002F) in the {name} "
                          f"stream (MS-XLS §2.4.117): {kind}", detail)
        if rtype == 0x000A:  # EOF of the globals substream: FILEPASS can only come before it
            break
        pos += 4 + rsize
    return Report("ole-office", False, "clean", f"ole-office: Excel 97-2003 workbook, no FILEPASS record in the "
                  f"{name} globals substream (MS-XLS §2.4.117)", detail)


def _powerpoint(c: _Cfb) -> Report:
    detail: dict[str, Any] = {"application": "powerpoint"}
    signals: list[str] = []
    doc = c.read("PowerPoint Document")
    if c.has("Current User"):
        cu = c.read("Current User", 64)
        if len(cu) >= 20 and struct.unpack_from("<H", cu, 2)[0] == 0x0FF6:
            token, offset = struct.unpack_from("<II", cu, 12)
            detail["headerToken"] = f"0x{token:08X}"
            if token == 0xF3D1C4DF:
                signals.append("CurrentUserAtom headerToken 0xF3D1C4DF (MS-PPT §2.3.2)")
            if offset + 8 <= len(doc):
                rtype, rlen = struct.unpack_from("<HI", doc, offset + 2)
                if rtype == 0x0FF5 and rlen == 0x20:
                    signals.append("UserEditAtom with encryptSessionPersistIdRef (MS-PPT §2.3.3)")
    if doc.find(b"\x0f\x00\x14\x2f") >= 0:
        signals.append("CryptSession10Container record 0x2F14 (MS-PPT §2.3.7)")
    if signals:
        detail["signals"] = signals
        return Report("ole-office", True, "encrypted", f"ole-office: PowerPoint encrypted: {'; '.join(signals)}",
                      detail)
    return Report("ole-office", False, "clean", "ole-office: PowerPoint 97-2003 presentation, CurrentUserAtom "
                  "headerToken not the encrypted token and no CryptSession10Container (MS-PPT §2.3.2, §2.3.7)", detail)


def read(data: bytes, ctx: ScanContext, name: str = "") -> Report:
    import olefile  # type: ignore[import-untyped]  # no stubs published

    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except Exception as exc:
        raise Malformed(f"unreadable compound file ({type(exc).__name__}: {exc})") from None
    try:
        c = _Cfb(ole, len(data))
        if c.has("EncryptedPackage"):
            return _ooxml(c)
        if c.has("WordDocument"):
            return _word(c)
        if c.has("Workbook") or c.has("Book"):
            return _excel(c)
        if c.has("PowerPoint Document"):
            return _powerpoint(c)
        kind = "outlook-msg" if c.has("__properties_version1.0") else "other"
        return Report("cfb", False, "clean", "cfb: compound file without Office encryption streams (no "
                      "EncryptedPackage, WordDocument, Workbook or PowerPoint Document)",
                      {"application": kind, "streams": len(c.paths)})
    except Malformed:
        raise
    except Exception as exc:
        raise Malformed(f"unreadable compound file ({type(exc).__name__}: {exc})") from None
    finally:
        ole.close()
