"""Tell a file's format from its bytes, never from its name (``report.pdf`` may well be a ZIP).

Magic numbers, each from the format's own specification:

- ZIP ``PK\\x03\\x04`` local file header, ``PK\\x05\\x06`` end of central directory (an empty
  archive), ``PK\\x07\\x08`` / ``PK00`` spanning markers (PKWARE APPNOTE 6.3.10 §4.3.6, §4.3.16,
  §8.5.3-8.5.4); a self-extracting ``MZ`` stub followed by a ZIP is found by its end of central
  directory record within the last 64 KiB + 22 bytes (§4.3.16).
- 7z ``7z\\xBC\\xAF\\x27\\x1C`` (7-Zip ``7zFormat.txt``, SignatureHeader).
- RAR 4 ``Rar!\\x1A\\x07\\x00`` (RAR 4 technote, marker block), RAR 5 ``Rar!\\x1A\\x07\\x01\\x00``
  (RAR 5.0 archive format, "General archive layout").
- Compound File Binary (OLE2) ``D0 CF 11 E0 A1 B1 1A E1`` (MS-CFB §2.2, header signature).
- PDF ``%PDF-`` within the first 1024 bytes (ISO 32000-1 §7.5.2; readers accept leading junk).
- gzip ``1F 8B 08`` (RFC 1952 §2.3.1), bzip2 ``BZh`` + level + block or end magic, xz
  ``FD 37 7A 58 5A 00`` (xz file format 1.0.4 §2.1.1.1), POSIX tar ``ustar`` at offset 257.
- CMS EnvelopedData / AuthEnvelopedData (S/MIME ``smime.p7m``, RFC 5652 §6, RFC 5083): a DER
  SEQUENCE whose contentType OID is 1.2.840.113549.1.7.3 or 1.2.840.113549.1.9.16.1.23;
  OpenPGP (RFC 4880 §4.2-4.3, §5.1, §5.3; RFC 9580), armoured (``-----BEGIN PGP MESSAGE-----``,
  §6.2) or binary, whose first packet is a Public-Key (tag 1) or Symmetric-Key (tag 3) Encrypted
  Session Key: an encrypted message (a signed-only message starts with another packet).
"""

from __future__ import annotations

import base64
import binascii
import re
import struct

CONTAINERS = frozenset({"zip", "7z", "rar4", "rar5", "pdf", "cfb", "gzip", "bzip2", "xz", "tar"})
"""Formats the engine opens (recurses into or inspects beyond the magic)."""

ENCRYPTED_LEAVES = {
    "smime": "smime: CMS EnvelopedData (RFC 5652 §6): the content is encrypted to the recipients' keys",
    "pgp": "pgp: OpenPGP message whose first packet is an encrypted session key (RFC 4880 §5.1, §5.3)",
}
"""Formats that are encrypted by nature: no flag to read, the format is the finding."""

_ENVELOPED_OIDS = (b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03",
                   b"\x06\x0b\x2a\x86\x48\x86\xf7\x0d\x01\x09\x10\x01\x17")
_EOCD = b"PK\x05\x06"
_EOCD_STRUCT = struct.Struct("<4sHHHHIIH")


def _zip_tail(data: bytes) -> bool:
    """A plausible end of central directory record near the end (ZIP behind a prefix)."""
    start = max(0, len(data) - 22 - 0xFFFF)
    pos = data.rfind(_EOCD, start)
    if pos < 0 or pos + 22 > len(data):
        return False
    _, _, _, _, total, cd_size, _cd_off, clen = _EOCD_STRUCT.unpack_from(data, pos)
    return bool(pos + 22 + clen <= len(data) and cd_size <= pos and (total == 0 or cd_size >= 46))


_ARMOR = b"-----BEGIN PGP MESSAGE-----"
_PK_ALGOS = {1, 2, 3, 16, 18, 20, 22, 25, 26}
_SYM_ALGOS = {1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 13}


def _pgp_encrypted(packet: bytes) -> bool:
    """The first OpenPGP packet is an encrypted session key with plausible fields."""
    if len(packet) < 4 or not packet[0] & 0x80:
        return False
    b = packet[0]
    if b & 0x40:  # new format: tag in the low 6 bits, then a 1, 2 or 5 octet length
        tag, first = b & 0x3F, packet[1]
        body = 2 if first < 192 else 3 if first < 224 else 6 if first == 255 else 2
    else:  # old format: tag in bits 5-2, length type in bits 1-0
        tag = (b >> 2) & 0x0F
        body = 1 + {0: 1, 1: 2, 2: 4}.get(b & 3, 0)
    version = packet[body] if body < len(packet) else -1
    if tag == 1 and version == 3:
        return len(packet) > body + 9 and packet[body + 9] in _PK_ALGOS
    if tag == 1 and version == 6:
        return True
    if tag == 3 and version in (4, 5, 6):
        return len(packet) > body + 1 and (packet[body + 1] in _SYM_ALGOS or version != 4)
    return False


def _armored_pgp(head: bytes) -> bool | None:
    """``None`` if not an armoured message, else whether it is encrypted."""
    text = head.lstrip()
    if not text.startswith(_ARMOR):
        return None
    parts = re.split(rb"\r?\n[ \t]*\r?\n", text[len(_ARMOR):], maxsplit=1)
    b64 = b"".join(parts[-1].split())[:32] if len(parts) == 2 else b""
    try:
        return _pgp_encrypted(base64.b64decode(b64[: len(b64) // 4 * 4]))
    except (binascii.Error, ValueError):
        return False


def _is_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    for enc in ("utf-8", "cp932", "euc-jp"):
        try:
            head.decode(enc)
        except UnicodeDecodeError as exc:
            if enc == "utf-8" and exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
                return True  # the sniff window cut a multi-byte character
            continue
        return True
    return False


def sniff(data: bytes, *, whole: bool = True) -> str:
    """The format of ``data``; ``whole=False`` when ``data`` is only the first bytes of a member
    (then the end-of-file checks, such as a ZIP behind an ``MZ`` stub, are skipped)."""
    if not data:
        return "empty"
    head = data[:16]
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")) or (
            head[:4] in (b"PK\x07\x08", b"PK00") and data[4:8] == b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"Rar!\x1a\x07\x01\x00"):
        return "rar5"
    if head.startswith(b"Rar!\x1a\x07\x00"):
        return "rar4"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "cfb"
    if head.startswith(b"\x1f\x8b\x08"):
        return "gzip"
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] in (b"\x31\x41\x59\x26\x53\x59",
                                                                       b"\x17\x72\x45\x38\x50\x90"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if data.find(b"%PDF-", 0, 1024) >= 0:
        return "pdf"
    if data[257:262] == b"ustar":
        return "tar"
    if head[:1] == b"\x30" and any(data.find(oid, 2, 40) >= 0 for oid in _ENVELOPED_OIDS):
        return "smime"
    if _armored_pgp(data[:4096]) or _pgp_encrypted(data[:64]):
        return "pgp"
    if whole and _zip_tail(data):  # a ZIP behind a prefix: SFX stub, image polyglot, junk
        return "zip"
    if head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"\xff\xd8\xff") or head[:4] == b"GIF8" or (
            head[:4] == b"RIFF" and head[8:12] == b"WEBP") or head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image"
    if head[:2] == b"MZ":
        return "exe"
    if head[:4] == b"\x7fELF":
        return "elf"
    if _is_text(data[:8192]):
        return "text"
    return "unknown"
