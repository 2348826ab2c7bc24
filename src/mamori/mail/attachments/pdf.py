"""PDF: a real user password (confidentiality) versus permissions only.

ISO 32000-1:2008 §7.6 (ISO 32000-2 §7.6): an encrypted document names its encryption dictionary with
the ``/Encrypt`` key of the trailer (§7.5.5) or of the cross-reference stream dictionary (§7.5.8.2);
both are uncompressed, so a byte search finds it (names may hide letters as ``#xx`` escapes,
§7.3.5, which are decoded). ``/EncryptMetadata`` (a key *inside* that dictionary) is not a match.

With ``/Encrypt`` present, pypdf opens the file and tries the empty user password (Algorithms 6 and
11 of §7.6.3.4 and §7.6.4.4 for R2-R6):

- it opens → only an owner password restricts permissions (printing, copying): the content is
  readable and scannable → ``clean`` with ``detail.permissions_only = true``;
- it does not → a user password is needed → ``encrypted``;
- a security handler other than ``/Standard`` (``/Adobe.PubSec`` public-key, §7.6.5) → ``encrypted``.

Embedded files (``/EmbeddedFiles`` name tree, §7.11.4; ``/Type /EmbeddedFile`` streams) of a
readable document are extracted with pypdf and scanned as members (a password ZIP inside a PDF).
pypdf runs with its decompression limits lowered to the member limit and the message budget, and
with the external ``jbig2dec`` binary disabled.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import threading
from typing import Any

from mamori.mail.attachments.base import Member, Report, clean_name
from mamori.mail.attachments.budget import LimitExceeded, Malformed, ScanContext
from mamori.mail.attachments.streams import Stream, StreamContent

_ENCRYPT = re.compile(rb"/Encrypt(?![A-Za-z0-9#])")
_ENCRYPT_REF = re.compile(rb"/Encrypt\s*(?:\d+\s+\d+\s+R|<<)")
_ESCAPED_NAME = re.compile(rb"/[A-Za-z0-9#]*#[0-9A-Fa-f]{2}[A-Za-z0-9#]*")
_HEX = re.compile(rb"#([0-9A-Fa-f]{2})")
logging.getLogger("pypdf").setLevel(logging.ERROR)
_LOCKED_MEMORY = 256
_LOCKED: dict[tuple[bytes, int], tuple[str, dict[str, Any]]] = {}
"""The verdict on PDFs that a user password locks, by (BLAKE2b-128 of the file, decompression cap):
trying the empty password costs two AES-256 (R6) key derivations of 64+ rounds each, and the same
locked file is often mailed again and again (one message per recipient, resends). Only this verdict,
which reads nothing from the message budget and yields no members, is remembered."""
_LOCKED_LOCK = threading.Lock()


def _escaped_names(data: bytes) -> set[bytes]:
    return {_HEX.sub(lambda m: bytes([int(m.group(1), 16)]), n) for n in _ESCAPED_NAME.findall(data)}


def read(data: bytes, ctx: ScanContext, name: str = "") -> Report:
    escaped = _escaped_names(data) if b"#" in data else set()
    has_encrypt = bool(_ENCRYPT.search(data)) or b"/Encrypt" in escaped
    has_embedded = b"/EmbeddedFile" in data or bool({b"/EmbeddedFile", b"/EmbeddedFiles"} & escaped)
    if data.rfind(b"%%EOF") < 0:
        if has_encrypt and _ENCRYPT_REF.search(data):
            return Report("pdf", True, "encrypted", "pdf: /Encrypt in a trailer of a truncated file (no %%EOF): the "
                          "empty user password could not be tried", {"truncated": True})
        raise Malformed("no %%EOF marker (truncated)")
    if not has_encrypt and not has_embedded:
        return Report("pdf", False, "clean", "pdf: no /Encrypt in the trailer (ISO 32000-1 §7.6.1)")
    cap = max(0, min(ctx.limits.max_member_bytes, ctx.budget.remaining))
    key = (hashlib.blake2b(data, digest_size=16).digest(), cap)
    with _LOCKED_LOCK:
        known = _LOCKED.get(key)
    if known is not None:
        return Report("pdf", True, "encrypted", known[0], dict(known[1]))
    import pypdf  # imported lazily: most attachments never need it

    try:
        with pypdf.apply_configuration(zlib_maximum_output_length=cap, lzw_maximum_output_length=cap,
                                       run_length_maximum_output_length=cap, jbig2_maximum_output_length=cap,
                                       brotli_maximum_output_length=cap, maximum_declared_stream_length=cap,
                                       array_based_stream_maximum_output_length=cap,
                                       stream_decoding_work_maximum_length=max(cap, 1), jbig2dec_binary=None):
            report = _with_pypdf(pypdf, data, ctx, has_encrypt, has_embedded, cap)
        if report.verdict == "encrypted" and report.members == ():
            with _LOCKED_LOCK:
                _LOCKED[key] = (report.method, dict(report.detail))
                while len(_LOCKED) > _LOCKED_MEMORY:
                    _LOCKED.pop(next(iter(_LOCKED)))
        return report
    except (LimitExceeded, Malformed):
        raise
    except Exception as exc:
        if type(exc).__name__ == "LimitReachedError":  # pypdf's own decompression limit, set to ours above
            raise LimitExceeded(f"limit: a PDF stream decompresses to more than {cap} bytes "
                                "(ScanLimits.max_member_bytes / message budget)") from None
        if has_encrypt and _ENCRYPT_REF.search(data):
            return Report("pdf", True, "encrypted", "pdf: /Encrypt in the trailer, but the file is malformed so the "
                          f"empty user password could not be tried ({type(exc).__name__}: {exc})", {"malformed": True})
        raise Malformed(f"unreadable ({type(exc).__name__}: {str(exc)[:200]})") from None


def _with_pypdf(pypdf: Any, data: bytes, ctx: ScanContext, has_encrypt: bool, has_embedded: bool, cap: int) -> Report:
    reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
    detail: dict[str, Any] = {}
    if reader.is_encrypted:
        enc = reader.trailer["/Encrypt"].get_object()
        handler = str(enc.get("/Filter", "/Standard"))
        detail.update({"filter": handler, "V": _int(enc.get("/V")), "R": _int(enc.get("/R")),
                       "P": _int(enc.get("/P")), "key_bits": _int(enc.get("/Length"))})
        if handler != "/Standard":
            return Report("pdf", True, "encrypted", f"pdf: /Encrypt with the {handler} security handler "
                          "(public-key or third-party: only the recipient's key opens it)", detail)
        if not _opens_with_empty_password(pypdf, reader):
            return Report("pdf", True, "encrypted", "pdf: /Encrypt with a user password (the empty password does not "
                          "open it)", detail)
        detail["permissions_only"] = True
        method = "pdf: /Encrypt with permissions only (an owner password; the empty user password opens it)"
    else:
        method = "pdf: no /Encrypt in the trailer (ISO 32000-1 §7.6.1)"
    members: list[Member] = []
    if has_embedded:
        for ef in reader.attachment_list:
            ctx.check_members(len(members) + 1, "pdf embedded files")
            fname = clean_name(str(ef.name) or f"embedded{len(members)}")
            blob = ef.content
            if len(blob) > cap:
                ctx.check_member_size(len(blob), f"pdf embedded file {fname}")
            members.append(Member(fname, len(blob), None, content=_blob(ctx, blob, f"pdf embedded file {fname}")))
        detail["embedded_files"] = len(members)
    return Report("pdf", False, "clean", method, detail, members)


def _opens_with_empty_password(pypdf: Any, reader: Any) -> bool:
    """Whether the empty user (or owner) password opens the document. ``PdfReader`` tried it already
    when it read the file (a reader made without a password tries ``b""``, and its security handler
    keeps the answer), so ask the handler rather than derive the keys again: for R6 that is two more
    hashes of 64+ rounds of AES and SHA-2 each. ``reader.decrypt("")`` if the handler cannot say."""
    is_decrypted = getattr(getattr(reader, "_encryption", None), "is_decrypted", None)
    if callable(is_decrypted):
        return bool(is_decrypted())
    return bool(reader.decrypt("") != pypdf.PasswordType.NOT_DECRYPTED)


def _blob(ctx: ScanContext, blob: bytes, what: str) -> StreamContent:
    return StreamContent(lambda: Stream(ctx, "store", blob, what=what), size=len(blob), what=what)


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None
