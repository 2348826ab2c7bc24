"""Scan one mail message for what the FSA asked securities firms to stop sending: password-protected
attachments with the password sent by mail (PPAP), and links in mail to customers.

The FSA's exchange of views with JSDA (2025-06-17, item 5) asks firms not to mail password-protected
files, since the receiver's gateway cannot scan them (the Emotet lesson) and a password sent by the
same channel protects nothing; its revised supervisory guidelines (2025-10-15) ask that mail to
customers, in principle, carry no link to a page where a password is entered.
:func:`scan_message` turns the raw bytes of a message into a :class:`~mamori.mail.model.MessageReport`:

* the message is parsed with the standard library (:mod:`email`, RFC 5322 for the header, RFC
  2045-2049 for MIME) through a *guarded* copy of ``email.policy.default`` (see
  :class:`_HeaderGuard`): the stdlib's structured header parser is quadratic on huge headers, so
  values are cut at :data:`MAX_HEADER_CHARS` and, after :data:`MAX_PARTS` parts, the structure of the
  rest is no longer read. Malformed MIME (missing boundaries, bad base64, unknown or wrong charsets,
  8-bit headers) never raises: each problem is named in ``problems`` and the scan goes on. Two fast
  parses build the very tree the stdlib's feed parser would (see "Parsing, fast" below): well-formed
  mail is split at its boundaries with ``bytes.find``, and long base64 blocks are kept out of the feed
  parser's line-by-line loop; base64 bodies are decoded in one call;
* every attachment (a part with a file name, or of a non-text type; also inside attached
  ``message/rfc822`` messages) goes to :func:`mamori.mail.attachments.scan_attachment`, with one
  :class:`~mamori.mail.attachments.ScanBudget` for the whole message;
* ``text/plain`` and ``text/html`` bodies (decoded with the declared charset; ISO-2022-JP and
  Shift_JIS/CP932, which Japanese mailers still send, are tried with their common supersets) are
  checked for links (:mod:`mamori.mail.links`) and for a password (:func:`find_password`); images
  are checked for QR codes;
* an encrypted message is named in ``encrypted_message``: ``smime`` for S/MIME enveloped or
  authenticated-enveloped data (RFC 8551: ``application/pkcs7-mime; smime-type=enveloped-data``, or a
  DER ``ContentInfo`` with the OID 1.2.840.113549.1.7.3), ``pgp`` for PGP/MIME (RFC 3156:
  ``multipart/encrypted; protocol="application/pgp-encrypted"``) or an inline ``-----BEGIN PGP
  MESSAGE-----`` body. A *signed* message (``multipart/signed``, or opaque ``signed-data``, OID
  1.2.840.113549.1.7.2) is not encrypted: its content is scanned like any other.

:class:`PpapTracker` pairs the two halves of PPAP across messages, :func:`iter_messages` reads
``.eml`` files, directories and mbox files for the ``mamori mail scan`` command.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email.errors
import email.header
import email.policy
import email.utils
import functools
import itertools
import logging
import mailbox
import os
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path
from typing import Any, Final

from mamori.mail.attachments import ScanBudget, scan_attachment
from mamori.mail.links import (
    find_links,
    find_links_html,
    find_links_in_image,
    html_text,
    image_pixels,
    is_scannable_image,
)
from mamori.mail.model import AttachmentFinding, LinkFinding, MessageReport, ScanLimits

__all__ = [
    "MAX_HEADER_CHARS",
    "MAX_IMAGES",
    "MAX_MESSAGE_BYTES",
    "MAX_MESSAGE_PIXELS",
    "MAX_PARTS",
    "MAX_TEXT_CHARS",
    "PasswordHint",
    "PpapMatch",
    "PpapTracker",
    "cms_content_type",
    "decode_text",
    "find_password",
    "iter_messages",
    "scan_message",
    "signed_content",
]

log = logging.getLogger("mamori.mail")

MAX_PARTS: Final = 1_000
"""MIME parts scanned per message; the rest is reported as one ``unscannable`` attachment."""
MAX_HEADER_CHARS: Final = 8_192
"""Longer header values are cut before the structured parse (which is quadratic in the length)."""
MAX_TEXT_CHARS: Final = 1_000_000
"""Characters of body text checked for links and passwords per message."""
MAX_IMAGES: Final = 32
"""Images checked for QR codes per message."""
MAX_MESSAGE_PIXELS: Final = 120_000_000
"""Pixels decoded for QR codes per message (one image may have up to
:data:`mamori.mail.links.MAX_IMAGE_PIXELS`); images beyond it are ``image_unscannable``."""
MAX_PROBLEMS: Final = 100
_DEFAULT_LIMITS: Final = ScanLimits()
MAX_MIME_DEPTH: Final = 50
"""Nested multiparts / attached messages followed; deeper content is ``unscannable``."""
MAX_MESSAGE_BYTES: Final = 256 * 1024 * 1024
""":func:`iter_messages` reports larger files instead of reading them."""

_ENVELOPED_OID: Final = bytes.fromhex("2a864886f70d010703")  # 1.2.840.113549.1.7.3 enveloped-data
_SIGNED_OID: Final = bytes.fromhex("2a864886f70d010702")  # 1.2.840.113549.1.7.2 signed-data
_AUTH_ENVELOPED_OID: Final = bytes.fromhex("2a864886f70d0109100117")  # 1.2.840.113549.1.9.16.1.23
_COMPRESSED_OID: Final = bytes.fromhex("2a864886f70d0109100109")  # 1.2.840.113549.1.9.16.1.9
_PKCS7_TYPES: Final = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
_SIGNATURE_TYPES: Final = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature",
                                     "application/pgp-signature"})
_PGP_ARMOR: Final = re.compile(r"^[ \t]*-----BEGIN PGP MESSAGE-----", re.M)


# ---------------------------------------------------------------------------------------------
# Parsing, bounded


@functools.lru_cache(maxsize=1024)
def _parse_header(name: str, value: str) -> Any:
    return email.policy.default.header_factory(name, value)


class _HeaderGuard:
    """The ``header_factory`` of the policy used to parse one message: ``email.policy.default``'s
    header registry, with values cut at :data:`MAX_HEADER_CHARS`, parsed headers cached, and - while
    ``content_type_budget`` is set - every ``Content-Type`` read after the budget is spent answered as
    ``text/plain``, so that the parser stops splitting parts (a 10,000-part message costs the same
    as a 1,000-part one plus reading bytes)."""

    def __init__(self, content_type_budget: int | None) -> None:
        self.registry: Any = email.policy.default.header_factory
        self.budget = content_type_budget
        self.degraded = False

    def __getitem__(self, name: str) -> Any:
        return self.registry[name]

    def __call__(self, name: str, value: str) -> Any:
        value = value[:MAX_HEADER_CHARS]
        if self.budget is not None and name.lower() == "content-type":
            self.budget -= 1
            if self.budget < 0:
                self.degraded = True
                value = "text/plain"
        return _parse_header(name, value)


_MISSING: Final = object()


class _Part(EmailMessage):
    """The message class of the parse: an :class:`~email.message.EmailMessage` that splits each
    distinct Content-Type / Content-Disposition value into its parameters once. The scan reads several
    parameters of every part (file name, charset, boundary, smime-type), and the stdlib parses the
    whole field again for each one."""

    def _get_params_preserve(self, failobj: Any, header: str) -> Any:
        value = self.get(header, _MISSING)
        if value is _MISSING:
            return failobj
        text = str(value)
        try:
            return list(_header_params(text) if len(text) <= 1024 else _stdlib_params(text))
        except Exception:  # whatever the stdlib raises on this value, let it raise it the ordinary way
            return super()._get_params_preserve(failobj, header)  # type: ignore[misc]


class _FieldValue:
    """All that ``Message._get_params_preserve`` asks of a message: ``get`` of the field."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def get(self, name: str, failobj: Any = None) -> str:
        return self.value


def _stdlib_params(value: str) -> tuple[tuple[str, Any], ...]:
    """The stdlib's own parameter split of one field value (``email.message._parseparam``, RFC 2231
    decoding), run on the value alone."""
    return tuple(_MESSAGE_PARAMS(_FieldValue(value), None, "content-type"))


_MESSAGE_PARAMS: Final = vars(Message)["_get_params_preserve"]


_header_params: Final = functools.lru_cache(maxsize=4096)(_stdlib_params)


def _policy(guard: _HeaderGuard) -> Any:
    return email.policy.default.clone(header_factory=guard, message_factory=_Part)


def _problem(problems: list[str], text: str) -> None:
    if len(problems) < MAX_PROBLEMS:
        problems.append(text)
    elif len(problems) == MAX_PROBLEMS:
        problems.append("more problems not listed")


# Charsets Japanese mailers label one way and write in a superset of.
_CHARSET_CHAIN: Final = {
    "iso2022_jp": ("iso2022_jp", "iso2022_jp_2004", "iso2022_jp_ext", "iso2022_jp_2", "iso2022_jp_3"),
    "shift_jis": ("cp932", "shift_jis_2004", "shift_jis"),
    "cp932": ("cp932", "shift_jis_2004"),
    "euc_jp": ("euc_jp", "euc_jis_2004", "cp932"),
}
_FALLBACKS: Final = ("utf-8", "cp932", "euc_jp")


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip('"').lower()).name
    except LookupError:
        return None


def _japanese_score(text: str) -> float:
    """How much ``text`` reads like Japanese: EUC-JP bytes read as CP932 (and the reverse) give
    half-width katakana and rare kanji instead of hiragana."""
    score = 0.0
    for ch in text:
        o = ord(ch)
        if 0x3040 <= o <= 0x309F:
            score += 2
        elif 0x30A0 <= o <= 0x30FF or 0x3000 <= o <= 0x303F:
            score += 1
        elif 0x4E00 <= o <= 0x9FFF:
            score += 0.5
        elif 0xFF61 <= o <= 0xFF9F or 0xE000 <= o <= 0xF8FF:
            score -= 3
    return score


def decode_text(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """``data`` as text, trying the declared ``charset`` first (and the superset Japanese mailers
    really use: CP932 for ``Shift_JIS``, JIS X 0213 forms for ``ISO-2022-JP``), then UTF-8, then
    whichever of CP932 and EUC-JP reads more like Japanese; the last resort is UTF-8 with replacement
    characters. The second value names a problem (unknown or wrong charset) or is ``None``."""
    codec = _codec(charset)
    problem = None if codec or not charset else f"unknown charset {charset!r}"
    if codec is None and b"\x1b$" in data:
        codec = "iso2022_jp"
    for name in _CHARSET_CHAIN.get(codec, (codec,)) if codec else ():
        try:
            return data.decode(name), problem
        except (UnicodeDecodeError, LookupError):
            continue
    candidates: list[tuple[float, str, str]] = []
    for name in _FALLBACKS:
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            continue
        if name == "utf-8":
            candidates = [(0.0, name, text)]
            break
        candidates.append((_japanese_score(text), name, text))
    if not candidates:
        return data.decode("utf-8", "replace"), problem or f"text is not valid {charset or 'UTF-8'}; bad bytes replaced"
    _, name, text = max(candidates)
    if charset and problem is None:
        problem = f"text is not valid {charset}; read as {name}"
    return text, problem


def _fields(msg: Message) -> dict[str, list[str]]:
    """The raw values of the header fields of ``msg`` by lower-case name, each unfolded."""
    fields: dict[str, list[str]] = {}
    for key, value in msg.raw_items():
        if isinstance(value, str):
            fields.setdefault(key.lower(), []).append("".join(value.splitlines()))
    return fields


def _decode_header_text(value: str) -> str:
    """RFC 2047 encoded words (``=?ISO-2022-JP?B?...?=``) and raw 8-bit bytes decoded."""
    if any("\udc80" <= ch <= "\udcff" for ch in value):  # 8-bit bytes the parser kept as surrogates
        return decode_text(value.encode("ascii", "surrogateescape"), None)[0]
    if "=?" not in value:  # no encoded word: decode_header gives the value back as one chunk, and so does str()
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (email.errors.HeaderParseError, UnicodeError, LookupError, ValueError):
        return value


@functools.lru_cache(maxsize=4096)
def _cached_addresses(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple(email.utils.getaddresses(list(values)))


def _getaddresses(values: list[str]) -> Iterable[tuple[str, str]]:
    """``email.utils.getaddresses(values)``, remembered for short values: the same senders and
    recipients come back message after message."""
    if sum(map(len, values)) <= 1024:
        return _cached_addresses(tuple(values))
    return email.utils.getaddresses(values)


def _addresses(fields: dict[str, list[str]], names: tuple[str, ...], problems: list[str]) -> list[str]:
    found: list[str] = []
    seen: set[str] = set()
    for name in names:
        values = fields.get(name, [])
        for value in values:
            if len(value) > MAX_HEADER_CHARS:
                _problem(problems, f"header {name.title()}: {len(value):,} characters")
        for _, address in _getaddresses(values):
            address = address.strip()
            if "@" in address and address.lower() not in seen:
                seen.add(address.lower())
                found.append(address)
    return found


def _header_fields(msg: Message, fields: dict[str, list[str]], problems: list[str]
                   ) -> tuple[str | None, str | None, str | None, str | None]:
    """(message id, sender, subject, ISO date) from the raw values (RFC 5322 section 3.6)."""
    message_id = next(iter(fields.get("message-id", ())), None)
    senders = _addresses(fields, ("from",), problems) or _addresses(fields, ("sender",), problems)
    subject_raw = next(iter(fields.get("subject", ())), None)
    subject = _decode_header_text(subject_raw[:MAX_HEADER_CHARS]).strip()[:998] if subject_raw is not None else None
    date: str | None = None
    date_raw = next(iter(fields.get("date", ())), None)
    if date_raw:
        try:
            date = email.utils.parsedate_to_datetime(date_raw[:200]).isoformat()
        except (TypeError, ValueError, IndexError, OverflowError):
            _problem(problems, f"header Date does not parse: {date_raw[:80]!r}")
    for name, value in msg.raw_items():
        if isinstance(value, str) and len(value) > MAX_HEADER_CHARS and name.lower() not in ("to", "cc", "bcc", "from"):
            _problem(problems, f"header {name}: {len(value):,} characters, only the first {MAX_HEADER_CHARS:,} read")
    return (message_id.strip()[:998] if message_id else None), (senders[0] if senders else None), subject, date


# ---------------------------------------------------------------------------------------------
# CMS (S/MIME) content type, from the DER/BER ContentInfo (RFC 5652 section 3)


def _ber_header(data: bytes, i: int) -> tuple[int, int, int | None]:
    """(tag byte, start of the value, length or ``None`` for the indefinite form) at ``data[i]``."""
    if i + 2 > len(data):
        raise ValueError("truncated")
    tag, first = data[i], data[i + 1]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tag")
    i += 2
    if first < 0x80:
        return tag, i, first
    if first == 0x80:
        return tag, i, None
    n = first & 0x7F
    if n > 4 or i + n > len(data):
        raise ValueError("bad length")
    return tag, i + n, int.from_bytes(data[i : i + n], "big")


def _ber_end(data: bytes, i: int, depth: int = 0) -> int:
    """Offset just past the element at ``data[i]`` (indefinite lengths followed to their end)."""
    if depth > 32:
        raise ValueError("too deep")
    _, start, length = _ber_header(data, i)
    if length is not None:
        if start + length > len(data):
            raise ValueError("truncated")
        return start + length
    j = start
    while data[j : j + 2] != b"\x00\x00":
        j = _ber_end(data, j, depth + 1)
    return j + 2


def _ber_children(data: bytes, i: int) -> list[int]:
    _, start, length = _ber_header(data, i)
    end = _ber_end(data, i) - (2 if length is None else 0)
    out: list[int] = []
    j = start
    while j < end and len(out) < 64:
        out.append(j)
        j = _ber_end(data, j)
    return out


def _octets(data: bytes, i: int, depth: int = 0) -> bytes:
    """The bytes of an OCTET STRING, primitive or constructed (BER chunks)."""
    tag, start, length = _ber_header(data, i)
    if tag == 0x04:
        return data[start : start + (length or 0)]
    if tag == 0x24 and depth < 8:
        return b"".join(_octets(data, j, depth + 1) for j in _ber_children(data, i))
    raise ValueError("not an OCTET STRING")


def cms_content_type(data: bytes) -> str | None:
    """``enveloped``, ``auth-enveloped``, ``signed``, ``compressed`` or ``None``: the ``contentType``
    OID of a CMS ``ContentInfo`` (RFC 5652; RFC 8551 for the S/MIME types). ``data`` may be DER/BER
    or its base64 text."""
    if data[:1] != b"\x30":
        try:
            data = base64.b64decode(b"".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            return None
    try:
        _, start, _ = _ber_header(data, 0)
        tag, oid_start, oid_len = _ber_header(data, start)
    except ValueError:
        return None
    if tag != 0x06 or oid_len is None:
        return None
    oid = data[oid_start : oid_start + oid_len]
    return {_ENVELOPED_OID: "enveloped", _AUTH_ENVELOPED_OID: "auth-enveloped", _SIGNED_OID: "signed",
            _COMPRESSED_OID: "compressed"}.get(oid)


def signed_content(data: bytes) -> bytes:
    """The encapsulated content of an opaque S/MIME ``signed-data`` (RFC 5652 section 5.1:
    ContentInfo / SignedData / EncapsulatedContentInfo / eContent); ``ValueError`` if there is none."""
    if data[:1] != b"\x30":
        data = base64.b64decode(b"".join(data.split()))
    content_info = _ber_children(data, 0)
    explicit = _ber_children(data, content_info[1])  # [0] EXPLICIT
    signed = _ber_children(data, explicit[0])  # SignedData: version, digestAlgorithms, encapContentInfo, ...
    encap = _ber_children(data, signed[2])
    if len(encap) < 2:
        raise ValueError("detached signature: no content")
    return _octets(data, _ber_children(data, encap[1])[0])


# ---------------------------------------------------------------------------------------------
# Password in the body (PPAP, second half)


@dataclass(frozen=True)
class PasswordHint:
    """Why a text looks like it carries a password: the rule and the keyword, never the password."""

    rule: str
    """``labelled`` (パスワード：Ab3$xY9q), ``next_line`` (a keyword line, then the token alone on a
    line), ``subject`` (the subject names a password, the body has a token line) or ``bare_token``
    (a short body that is essentially one password-like token)."""
    keyword: str | None
    length: int
    """Length of the token found (the token itself is not kept)."""


_STRONG_KW = (r"(?:解凍|展開|復号|開封|zip|ファイル|添付)?\s*(?:パスワード|パスコード|パスフレーズ|暗証番号)"
              r"|解凍(?:用)?キー|(?<![A-Za-z])pass[ -]?(?:word|code|phrase)s?(?![A-Za-z])")
_WEAK_KW = r"(?<![A-Za-z])(?:PW|P/W|PWD|pass)(?![A-Za-z])|(?<![ァ-ヶー])パス(?![ァ-ヶー])"
_KEYWORD = re.compile(rf"{_STRONG_KW}|{_WEAK_KW}", re.I)
_STRONG_ONLY = re.compile(_STRONG_KW, re.I)
_PW_LABEL = re.compile(r"(?<![A-Za-z])(?:PW|P/W|PWD)(?![A-Za-z])")
_KEYWORD_PARTS: Final = ("パス", "暗証番号", "解凍", "pass", "pw", "p/w")
"""Every match of :data:`_KEYWORD` or :data:`_PW_LABEL` contains one of these, lower-cased (after
NFKC no other letter folds to p, a, s or w)."""
_CONTEXT_WORDS = re.compile(r"パスワード|パス|PW|暗号化|別送|解凍|先ほど|先程|添付|zip|password|encrypt|decrypt|unlock"
                            r"|separate", re.I)
_SEPARATOR = re.compile(r"\s*(?:[:：=]|は|\bis\b:?|→|->|\s-\s)\s*|\s+", re.I)
_SENTENCE_BREAK = re.compile(r"\.\s|[。!?]")
_MAX_FILLER: Final = 40
_MAX_VALUE: Final = 120
"""Characters after a separator looked at for the token and what ends it (keeps long lines linear)."""
_MAX_KEYWORDS: Final = 2_000
"""Keyword occurrences looked at per text."""
"""Characters after a separator looked at for the token and what ends it (keeps long lines linear)."""
_FILLER_STOP = re.compile(r"期限|日時|日付|変更日|更新日|文字数|桁|長さ|回数|ポリシー|ルール|要件|条件"
                          r"|expir|date|length|changed|updated|attempt|policy|rule|require|must|should|never|reset"
                          r"|forgot", re.I)
_OPEN_QUOTES = "「『【[(<\"'“‘"
_CLOSE_QUOTES = "」』】])>\"'”’"
_TERMINATOR = re.compile(r"^\s*(?:$|[。、.,!;)(」』】\"'”’]|です|でございます|となります|になります|で\s|で$)")
_POINTER = re.compile(r"下記|以下|次の|つぎ|following|below|[:：]\s*$", re.I)
_NOT_PASSWORD = re.compile(
    r"^(?:\d{2,4}[/.\-]\d{1,2}[/.\-]\d{1,4}|\d{1,2}:\d{2}(?::\d{2})?|0\d{1,4}-\d{1,4}-\d{3,4}|\+?\d{1,3}-\d{2,4}-\d{2,4}-\d{3,4}"
    r"|\d{3}-\d{4}|[¥$]?\d{1,3}(?:,\d{3})+(?:\.\d+)?円?|[A-Za-z]*\d+(?:\.\d+)+|\d+(?:\.\d+)?%|#?\d{1,3}"
    r"|[\w.+\-]+@[\w.\-]+|.*://.*|www\..*)$")
_STOPWORDS: Final = frozenset({
    "required", "incorrect", "invalid", "changed", "reset", "expired", "sent", "below", "following", "attached",
    "separately", "same", "case-sensitive", "protected", "never", "different", "shown", "listed", "here", "set",
    "updated", "locked", "blank", "empty", "none", "n/a", "unknown", "correct", "wrong", "the", "your", "not",
    "valid", "stored", "saved", "encrypted", "unchanged", "forgotten", "lost", "mandatory", "optional", "hidden",
    "masked", "temporary", "one-time", "strong", "weak", "secure", "ok", "okay", "null", "undefined", "tbd",
})  # fmt: skip
_QUOTE_CUT = re.compile(r"^(?:-{2,}\s*(?:Original Message|元のメッセージ|Forwarded message|転送メッセージ)\s*-{2,}"
                        r"|On .{4,200} wrote:|.{0,100}(?:のメッセージ|さんは書きました|wrote)[:：]\s*$)", re.I | re.M)


def _classes(token: str) -> int:
    return sum((any(c.islower() for c in token), any(c.isupper() for c in token), any(c.isdigit() for c in token),
                any(not c.isalnum() for c in token)))


def _clean_token(token: str) -> str:
    token = token.strip()
    while token and token[0] in _OPEN_QUOTES and token[-1:] in _CLOSE_QUOTES:
        token = token[1:-1].strip()
    token = token.lstrip(_OPEN_QUOTES).rstrip(_CLOSE_QUOTES)
    stripped = token.rstrip(".,;:。、")
    return stripped if len(stripped) >= 4 else token


def _password_like(token: str, *, strength: str) -> bool:
    """``labelled``: after an explicit label; ``strong``: with nothing but its position to go on."""
    if not (4 <= len(token) <= 64) or not token.isascii() or not token.isprintable() or " " in token:
        return False
    if set(token) <= set("*●•xX#-_.?") or token.lower() in _STOPWORDS or _NOT_PASSWORD.match(token):
        return False
    classes = _classes(token)
    has_letter = any(c.isalpha() for c in token)
    has_digit = any(c.isdigit() for c in token)
    if strength == "strong":
        return len(token) >= 6 and has_letter and has_digit
    if token.isdigit() or classes >= 2:
        return True
    return strength == "explicit" and len(token) >= 6


def _token_after(rest: str) -> tuple[str, str] | None:
    """The ASCII run at the start of ``rest`` (after opening quotes) and what follows it."""
    m = re.match(rf"[{re.escape(_OPEN_QUOTES)}]*([!-~]+)", rest)
    if not m:
        return None
    return m.group(1), rest[m.end() :]


def _body_lines(text: str) -> list[str]:
    """The sender's own lines: quoted replies (``>``), forwarded/original messages and the signature
    (after ``-- ``) cut off."""
    m = _QUOTE_CUT.search(text)
    if m:
        text = text[: m.start()]
    lines = []
    for line in text.splitlines():
        if line.rstrip() in ("--", "-- "):
            break
        if not line.lstrip().startswith((">", "＞")):
            lines.append(line.strip())
    return lines


def _standalone(line: str) -> str | None:
    line = line.strip().lstrip("・*-•●◆■").strip()
    return _clean_token(line) if line and " " not in line and "\u3000" not in line else None


def find_password(text: str, *, subject: str | None = None) -> PasswordHint | None:
    """Whether ``text`` (a body, plain or the visible text of HTML) carries a password for an
    attachment, the second half of PPAP. Japanese and English; NFKC first, so full-width
    ``ＰＷ：Ａｂ３`` counts. The rules, in order:

    1. ``labelled``: a password keyword (パスワード, 解凍パスワード, パスコード, 暗証番号, 解凍キー,
       password, passcode, PW, P/W, PWD, パス, pass) then, on the same line and within 40 characters,
       a separator (``:`` ``：`` ``=`` ``は`` ``is`` ``→``) and a password-like token that ends the
       clause (``パスワード：Ab3$xY9q``, ``PW: 20261122``, ``解凍パスワードは「Ab3xY9q」です``,
       ``The password for the attached file is Xy7#kp2Q.``). Not when the words in between name a
       property of the password (有効期限, 文字数, length, must, never, reset ...);
    2. ``next_line``: a line with a password keyword, then within three non-empty lines a line that
       is one token (``パスワードは以下の通りです。`` / ``Ab3$xY9q``);
    3. ``subject``: the subject names a password (or 暗号化, 別送, 解凍 ...) and the body has a line
       that is one strong token;
    4. ``bare_token``: the body is at most three short lines, one of them a strong token (the
       "password-only" mail sent right after the attachment).

    A token is 4-64 printable ASCII characters without spaces that is not a date, time, phone or
    postal number, amount, version, percentage, e-mail address or URL, not a mask (``********``)
    and not an ordinary word (``required``, ``incorrect`` ...): digits only, or two character classes;
    a single-class word of six letters or more only after ``:``/``=``. A *strong* token (rules 3, 4,
    and 2 without ``下記``/``以下``/``following``/``:``) has six characters or more, letters and digits.
    Quoted replies, forwarded messages and signatures are ignored.
    """
    normalized = unicodedata.normalize("NFKC", text[:MAX_TEXT_CHARS])
    content = [line for line in _body_lines(normalized) if line]
    # Rules 1 and 2 start from a keyword in a line, and every keyword has one of these in it.
    lowered = normalized.lower()
    keyword = any(part in lowered for part in _KEYWORD_PARTS)
    hint = (_labelled(content) or _next_line(content)) if keyword else None
    subject = unicodedata.normalize("NFKC", subject or "")
    if hint is None and subject and len(content) <= 12 and _CONTEXT_WORDS.search(subject):
        hint = _lone_token(content, "subject")
    if hint is None and 1 <= len(content) <= 3 and sum(len(line) for line in content) <= 120:
        hint = _lone_token(content, "bare_token")
    return hint


def _labelled(lines: list[str]) -> PasswordHint | None:
    budget = _MAX_KEYWORDS
    for line in lines:
        for km in _KEYWORD.finditer(line):
            budget -= 1
            if budget < 0:
                return None  # no mail has this many; a text built to be slow
            keyword = km.group().strip()
            window = line[km.end() : km.end() + _MAX_FILLER + 8]
            for sm in itertools.islice(_SEPARATOR.finditer(window), 12):
                # Between the keyword and the separator: "for the attached file", "（半角英数字）".
                filler, separator = window[: sm.start()], sm.group()
                if len(filler) > _MAX_FILLER or _SENTENCE_BREAK.search(filler) or _FILLER_STOP.search(filler):
                    break
                spaced = not separator.strip()
                if spaced and (filler or not (_STRONG_ONLY.fullmatch(keyword) or keyword.upper().startswith("PW"))):
                    continue
                value_at = km.end() + sm.end()
                found = _token_after(line[value_at : value_at + _MAX_VALUE])
                if found is not None and _TERMINATOR.match(found[1]):
                    token = _clean_token(found[0])
                    strength = "explicit" if any(c in separator for c in ":：=") else ("strong" if spaced else
                                                                                      "labelled")
                    if _password_like(token, strength=strength):
                        return PasswordHint("labelled", keyword, len(token))
                if not spaced:
                    break  # the first real separator is the label's; a later ":" is inside the value
    return None


def _next_line(lines: list[str]) -> PasswordHint | None:
    for i, line in enumerate(lines):
        m = _STRONG_ONLY.search(line) or _PW_LABEL.search(line)
        if not m:
            continue
        strength = "labelled" if _POINTER.search(line[m.end() : m.end() + 200]) else "strong"
        for following in lines[i + 1 : i + 4]:
            token = _standalone(following)
            if token and _password_like(token, strength=strength):
                return PasswordHint("next_line", m.group().strip(), len(token))
    return None


def _lone_token(lines: list[str], rule: str) -> PasswordHint | None:
    for line in lines:
        token = _standalone(line)
        if token and _password_like(token, strength="strong"):
            return PasswordHint(rule, None, len(token))
    return None


# ---------------------------------------------------------------------------------------------
# The scan


@dataclass
class _Leaf:
    part: Message
    number: str
    ctype: str
    filename: str | None
    disposition: str | None
    where: str
    """For findings: ``text/plain``, ``image/png: logo.png``, ``message/rfc822: fwd.eml > text/plain``."""
    name: str
    """For attachments: the file name, prefixed by the names of the messages it is inside."""
    nested: bool
    """Inside an attached message (``message/rfc822``) or an encapsulated signed-data."""
    encrypted_root: bool
    """Only ``multipart/signed`` wrappers above it: an encrypted part here is the whole message."""


@dataclass
class _State:
    limits: ScanLimits
    budget: ScanBudget
    problems: list[str] = field(default_factory=list)
    attachments: list[AttachmentFinding] = field(default_factory=list)
    links: list[LinkFinding] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    encrypted: str | None = None
    parts: int = 0
    images: int = 0
    pixels_left: int = 0
    text_chars: int = 0
    skipped_parts: int = 0
    degraded: bool = False
    signed_depth: int = 0
    bodies: dict[Message, _Body] = field(default_factory=dict)
    """Where the fast parses found the bodies of leaf parts (:func:`_decoded`)."""


def _safe(problems: list[str], where: str, fn: Callable[[], Any], default: Any) -> Any:
    try:
        return fn()
    except Exception as exc:  # the email package can raise on hostile input; name it and go on
        _problem(problems, f"{where}: {type(exc).__name__}: {str(exc)[:120]}")
        return default


def _flatten(root: Message, state: _State, *, prefix: str = "", name_prefix: str = "", nested: bool = False,
             start: str = "", depth: int = 0, encrypted_root: bool = True) -> list[_Leaf]:
    """The leaves of ``root`` in document order (bounded by :data:`MAX_PARTS`), recording defects."""
    leaves: list[_Leaf] = []
    stack: list[tuple[Message, str, int, bool]] = [(root, start, depth, encrypted_root)]
    while stack:
        part, number, depth, encrypted_root = stack.pop()
        state.parts += 1
        if state.parts > MAX_PARTS:
            state.skipped_parts += 1 + len(stack)
            break
        label = f"part {number or '0'}"
        for defect in getattr(part, "defects", []):
            _problem(state.problems, f"{prefix}{label}: {type(defect).__name__}: {str(defect)[:120]}")
        ctype: str = _safe(state.problems, label, part.get_content_type, "application/octet-stream")
        filename: str | None = _safe(state.problems, label, part.get_filename, None)
        disposition: str | None = _safe(state.problems, label, part.get_content_disposition, None)
        if depth > MAX_MIME_DEPTH:
            _problem(state.problems, f"{prefix}{label}: MIME nesting deeper than {depth}; not read further")
            state.skipped_parts += 1
            continue
        payload = part.get_payload() if part.is_multipart() else None  # (a leaf's text is not needed here)
        if ctype == "multipart/encrypted":  # one unit: the version part and the ciphertext (RFC 1847)
            leaves.append(_leaf(part, number, ctype, filename, disposition, prefix, name_prefix, nested,
                                encrypted_root))
            continue
        if ctype.startswith("multipart/") and isinstance(payload, list):
            for index in range(len(payload) - 1, -1, -1):
                child = payload[index]
                if isinstance(child, Message):
                    # the signed content of multipart/signed (RFC 1847) is still "the message"
                    whole = encrypted_root and ctype == "multipart/signed" and index == 0
                    stack.append((child, f"{number}.{index + 1}" if number else str(index + 1), depth + 1, whole))
            continue
        if ctype.startswith("multipart/"):
            _problem(state.problems, f"{prefix}{label}: {ctype} without parts (boundary missing); read as text")
            leaves.append(_Leaf(part, number, "text/plain", None, None, f"{prefix}{ctype} (no boundary)",
                                f"{name_prefix}(part {number or 0}, {ctype})", nested, encrypted_root))
            continue
        if ctype == "message/rfc822" and isinstance(payload, list) and payload and isinstance(payload[0], Message):
            inner_name = filename or f"(attached message, {label})"
            inner_prefix = f"{prefix}message/rfc822: {inner_name} > "
            leaves.extend(_flatten(payload[0], state, prefix=inner_prefix, name_prefix=f"{name_prefix}{inner_name}/",
                                   nested=True, start=number, depth=depth + 1, encrypted_root=False))
            continue
        leaves.append(_leaf(part, number, ctype, filename, disposition, prefix, name_prefix, nested, encrypted_root))
    return leaves


def _leaf(part: Message, number: str, ctype: str, filename: str | None, disposition: str | None, prefix: str,
          name_prefix: str, nested: bool, encrypted_root: bool) -> _Leaf:
    where = f"{prefix}{ctype}: {filename}" if filename else f"{prefix}{ctype}"
    name = f"{name_prefix}{filename or f'(part {number or 0}, {ctype})'}"
    return _Leaf(part, number, ctype, filename, disposition, where, name, nested, encrypted_root)


def _is_attachment(leaf: _Leaf) -> bool:
    return leaf.filename is not None or leaf.disposition == "attachment" or not leaf.ctype.startswith("text/")


def _payload(leaf: _Leaf, state: _State) -> bytes:
    """The decoded body (base64 / quoted-printable, RFC 2045 section 6); decoding defects recorded."""
    seen = len(leaf.part.defects)
    data = _safe(state.problems, f"part {leaf.number or 0}", lambda: _decoded(leaf.part, state.bodies), b"")
    for defect in leaf.part.defects[seen:]:
        _problem(state.problems, f"{leaf.where} (part {leaf.number or 0}): {type(defect).__name__}")
    if isinstance(data, bytes):
        return data
    raw = leaf.part.get_payload()
    if isinstance(raw, list):  # message/delivery-status and the like: blocks of header fields
        return b"\n".join(_safe(state.problems, leaf.where, p.as_bytes, b"") for p in raw if isinstance(p, Message))
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _encrypted_finding(leaf: _Leaf, kind: str, method: str, size: int) -> AttachmentFinding:
    return AttachmentFinding(path=leaf.name, format=kind, encrypted=True, verdict="encrypted", method=method, size=size)


def _scan_encrypted_containers(leaf: _Leaf, data: bytes, state: _State, names: tuple[str, ...]) -> bool:
    """S/MIME and PGP/MIME containers; ``True`` when the leaf was handled here."""
    part = leaf.part
    if leaf.ctype == "multipart/encrypted":
        protocol = str(part.get_param("protocol", "") or "").lower()
        kind = "pgp" if protocol == "application/pgp-encrypted" else None
        method = f"multipart/encrypted; protocol={protocol or '(none)'} (RFC 1847, RFC 3156)"
        if leaf.encrypted_root and kind:
            state.encrypted = state.encrypted or kind
        else:
            size = sum(len(str(child.get_payload())) for child in part.get_payload() if isinstance(child, Message))
            state.attachments.append(_encrypted_finding(leaf, kind or "encrypted", method, size))
        return True
    smime_type = str(part.get_param("smime-type", "") or "").lower()
    is_pkcs7 = leaf.ctype in _PKCS7_TYPES or (leaf.filename or "").lower().endswith(".p7m")
    der = data[:1] == b"\x30" and not leaf.ctype.startswith("text/")
    cms = cms_content_type(data) if is_pkcs7 or der else None
    if not (is_pkcs7 or cms):
        return False
    if smime_type in ("enveloped-data", "authenveloped-data") or cms in ("enveloped", "auth-enveloped"):
        what = cms or smime_type
        oid = "1.2.840.113549.1.9.16.1.23" if "auth" in what else "1.2.840.113549.1.7.3"
        method = f"S/MIME {what} (RFC 8551; CMS content type {oid})"
        if leaf.encrypted_root:
            state.encrypted = state.encrypted or "smime"
        else:
            state.attachments.append(_encrypted_finding(leaf, "smime", method, len(data)))
        return True
    if smime_type == "signed-data" or cms == "signed":
        try:
            content = signed_content(data)
        except (ValueError, IndexError, binascii.Error) as exc:
            _problem(state.problems, f"part {leaf.number or 0}: S/MIME signed-data whose content cannot be read "
                                     f"({exc}); not scanned")
            state.attachments.append(AttachmentFinding(leaf.name, "smime", False, "unscannable",
                                                       "S/MIME signed-data: content not readable", len(data)))
            return True
        state.signed_depth += 1
        inner, degraded = _parse(content, state.problems, state.bodies) if state.signed_depth <= 4 else (None, False)
        state.degraded = state.degraded or degraded
        if inner is None:
            state.attachments.append(AttachmentFinding(leaf.name, "smime", False, "unscannable",
                                                       "S/MIME signed-data: content not readable", len(data)))
        else:
            for inner_leaf in _flatten(inner, state, prefix=f"{leaf.where} (signed content) > ",
                                       name_prefix=f"{leaf.name}/", nested=leaf.nested, start=leaf.number,
                                       encrypted_root=leaf.encrypted_root):
                _scan_leaf(inner_leaf, state, names)
        return True
    if smime_type == "compressed-data" or cms == "compressed":
        state.attachments.append(AttachmentFinding(leaf.name, "smime", False, "unscannable",
                                                   "S/MIME compressed-data (RFC 3274) is not unpacked", len(data)))
        return True
    return False


def _scan_text(leaf: _Leaf, data: bytes, state: _State, names: tuple[str, ...], *, body: bool) -> None:
    charset = _safe(state.problems, f"part {leaf.number or 0}", leaf.part.get_content_charset, None)
    text, problem = decode_text(data, charset)
    if problem:
        _problem(state.problems, f"{leaf.where} (part {leaf.number or 0}): {problem}")
    room = MAX_TEXT_CHARS - state.text_chars
    if len(text) > room:
        _problem(state.problems, f"{leaf.where}: text beyond {MAX_TEXT_CHARS:,} characters per message not scanned")
        text = text[: max(room, 0)]
    state.text_chars += len(text)
    if not text:
        return
    if leaf.ctype in ("text/html", "image/svg+xml"):
        state.links.extend(find_links_html(text, leaf.where, attachment_names=names))
        visible = html_text(text)
    else:
        state.links.extend(find_links(text, leaf.where, attachment_names=names))
        visible = text
    if body:
        if not leaf.nested:  # a password inside an attached message is that message's, like a quoted one
            state.texts.append(visible)
        if _PGP_ARMOR.search(visible):
            if leaf.nested:
                state.attachments.append(_encrypted_finding(leaf, "pgp", "inline OpenPGP message (RFC 4880 armor)",
                                                            len(data)))
            else:
                state.encrypted = state.encrypted or "pgp"


def _scan_image(leaf: _Leaf, data: bytes, state: _State) -> None:
    state.images += 1
    if state.images > MAX_IMAGES:
        if state.images == MAX_IMAGES + 1:
            state.links.append(LinkFinding("image_unscannable", f"more than {MAX_IMAGES} images; the rest not checked",
                                           leaf.where))
        return
    pixels = image_pixels(data) or 0
    if pixels > state.pixels_left:
        state.links.append(LinkFinding("image_unscannable", f"over the {MAX_MESSAGE_PIXELS:,}-pixel budget per message",
                                       leaf.where))
        return
    state.pixels_left -= pixels
    state.links.extend(find_links_in_image(data, leaf.where))


def _scan_leaf(leaf: _Leaf, state: _State, names: tuple[str, ...]) -> None:
    if leaf.ctype in _SIGNATURE_TYPES or leaf.ctype == "application/pgp-encrypted":
        return  # protocol parts of multipart/signed and multipart/encrypted, not content
    data = b"" if leaf.ctype == "multipart/encrypted" else _payload(leaf, state)
    if _scan_encrypted_containers(leaf, data, state, names):
        return
    attachment = _is_attachment(leaf)
    if attachment:
        try:
            state.attachments.extend(scan_attachment(data, leaf.name, limits=state.limits, budget=state.budget))
        except Exception as exc:  # a scanner bug must not pass the attachment as clean
            _problem(state.problems, f"{leaf.name}: attachment scanner failed: {type(exc).__name__}: {exc}")
            state.attachments.append(AttachmentFinding(leaf.name, "unknown", False, "unscannable",
                                                       f"scanner failed: {type(exc).__name__}", len(data)))
    if leaf.ctype == "image/svg+xml":
        _scan_text(leaf, data, state, names, body=False)
        return
    if leaf.ctype.startswith("image/") or is_scannable_image(data):
        _scan_image(leaf, data, state)
        return
    if leaf.ctype.startswith("text/") and (not attachment or leaf.ctype == "text/html"):
        _scan_text(leaf, data, state, names, body=not attachment and leaf.ctype in ("text/plain", "text/html"))


def _parse(raw: bytes, problems: list[str], bodies: dict[Message, _Body] | None = None) -> tuple[Message | None, bool]:
    """The parsed message (``None`` if the parser gave up: RecursionError on absurd nesting, ...) and
    whether the part budget of :class:`_HeaderGuard` cut the structure short.

    With ``bodies``, the fast parses are tried first (:func:`_parse_strict`, then
    :func:`_parse_skeleton`); the parts whose body they located are recorded there, for
    :func:`_decoded`."""
    parsed = None
    if bodies is not None:
        parsed = _parse_strict(raw, bodies) or _parse_skeleton(raw, bodies)
    if parsed is None:
        guard = _HeaderGuard(MAX_PARTS * 8)
        try:
            msg: Message = BytesParser(policy=_policy(guard)).parsebytes(raw)
        except Exception as exc:  # RecursionError, MemoryError, parser bugs on hostile input
            _problem(problems, f"message does not parse: {type(exc).__name__}")
            return None, False
        guard.budget = None
        parsed = msg, guard.degraded
    if parsed[1]:
        _problem(problems, f"more than about {MAX_PARTS:,} MIME parts: the structure of the rest was not read")
    return parsed


# ---------------------------------------------------------------------------------------------
# Parsing, fast
#
# The stdlib feed parser reads a message line by line in Python: a 1 MB base64 attachment is 13,000
# lines, each through several generator frames and regular expressions, only to be joined back
# together. Two faster parses give the *same* tree of :class:`~email.message.EmailMessage` objects
# (headers, payloads, preambles, epilogues, defects), so everything after the parse is unchanged:
#
# 1. :func:`_parse_strict` reads well-formed messages itself: the header blocks line by line through
#    the policy (``header_source_parse`` and ``set_raw``, as the feed parser does), the content type
#    from those headers (``get_content_type``, ``get_boundary``), and a multipart body split at its
#    boundary lines, found with ``bytes.find`` (RFC 2046 section 5.1.1), with the feed parser's rules
#    for the line break before a boundary, the preamble and the epilogue. Anything it does not
#    reproduce exactly (a line the feed parser would record a defect for, a missing or repeated
#    boundary, message/delivery-status, more than _STRICT_MAX_PARTS parts ...) makes it give up.
# 2. :func:`_parse_skeleton` handles the rest: it takes the long blocks of base64 lines out, each
#    replaced by one line of letters and digits (a *token*), lets the feed parser read what remains
#    (headers, boundaries, short texts), then puts the blocks back. The feed parser treats a line as
#    one of: a header line or continuation (``headerRE``: a name and ``:``, ``From ``, or leading white
#    space), an empty line (the header/body separator, and the block separator of
#    message/delivery-status), a boundary line (``--`` + boundary: only lines starting with ``-``),
#    or anything else, which is collected unchanged into the payload, preamble or epilogue being read.
#    A block is one or more whole lines (after an empty line, up to a line break), each non-empty and
#    made of base64 characters only - no ``:``, white space or ``-`` - and so is the token: both are
#    "anything else" in every state of the parser, and the first line of either ends a header block
#    in the same way (the same missing-separator defect). So the skeleton parses to the same tree, and
#    each token lands, whole, in the string that would have held its block.
#
# Either records where the body of each leaf part is in ``raw`` (:class:`_Body`), so that a base64
# body is decoded from the bytes in one call (:func:`_decoded`).

_B64_CHARS: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_STRICT_MAX_PARTS: Final = 100
_STRICT_MAX_DEPTH: Final = 20
_STRICT_MAX_HEADER_BYTES: Final = 64 * 1024
_HEADER_LINE: Final = re.compile(r"[\x21-\x39\x3b-\x7e]+:")
"""A field name and its colon (RFC 5322 section 3.6.8 ftext; the feed parser's ``headerRE`` without
its ``From `` and empty-name cases, which it records as defects)."""
_RUN_MIN_BYTES: Final = 2048
"""Shorter base64 blocks are left to the feed parser (setting them aside costs more than it saves)."""
_RUN_WINDOW_LINES: Final = 8192
_BLANK_LINE: Final = re.compile(rb"\n\r?\n")


@dataclass(frozen=True, slots=True)
class _Body:
    """The body of a leaf part: ``data[start:end]`` is its payload as bytes; ``chars`` is the number
    of base64 characters when it is known to be whole lines of base64 characters only."""

    data: bytes = field(repr=False)
    start: int
    end: int
    chars: int | None = None


class _Unusual(Exception):
    """The strict parse gives up; the message is read by the feed parser."""


def _parse_strict(raw: bytes, bodies: dict[Message, _Body]) -> tuple[Message, bool] | None:
    """:func:`_parse` for a well-formed message (see above), or ``None``."""
    guard = _HeaderGuard(None)
    parser = _StrictParser(raw, _policy(guard))
    try:
        msg = parser.part(0, len(raw), 0, digest=False, strip=False)
    except Exception:  # _Unusual, or the policy choking on a header: the feed parser reads it and says why
        return None
    bodies.update(parser.bodies)
    return msg, False


class _StrictParser:
    """The parse of :func:`_parse_strict`: one message, the parts it made and where their bodies are."""

    def __init__(self, raw: bytes, policy: Any) -> None:
        self.raw = raw
        self.policy = policy
        self.parts = 0
        self.bodies: dict[Message, _Body] = {}

    def part(self, start: int, end: int, depth: int, *, digest: bool, strip: bool) -> Message:
        """The part in ``raw[start:end]`` (whole lines). ``strip``: it ends before a boundary line, so
        the line break in front of that line is not its own (RFC 2046 section 5.1.1); the feed parser
        takes it from the payload of the last part it made (a leaf, or the innermost message of a
        message/* part) or from the epilogue of a multipart."""
        self.parts += 1
        if self.parts > _STRICT_MAX_PARTS or depth > _STRICT_MAX_DEPTH or start >= end:
            raise _Unusual
        msg: Message = self.policy.message_factory(policy=self.policy)
        if digest:
            msg.set_default_type("message/rfc822")
        body = self._headers(msg, start, end)
        ctype = msg.get_content_type()
        maintype = ctype.split("/")[0]
        if maintype == "message":
            if ctype == "message/delivery-status":
                raise _Unusual
            msg.attach(self.part(body, end, depth + 1, digest=False, strip=strip))
        elif maintype == "multipart":
            self._multipart(msg, body, end, depth, digest=ctype == "multipart/digest", strip=strip)
        else:
            if strip and end > body:
                end -= _eol_before(self.raw, end)
            msg.set_payload(str(memoryview(self.raw)[body:end], "ascii", "surrogateescape"))
            self.bodies[msg] = _Body(self.raw, body, end)
        return msg

    def _headers(self, msg: Message, start: int, end: int) -> int:
        """Set the header fields of ``raw[start:end]`` on ``msg``; where its body starts."""
        raw = self.raw
        for blank in (b"\n", b"\r\n"):
            if raw.startswith(blank, start, end):
                return start + len(blank)
        m = _BLANK_LINE.search(raw, start, min(end, start + _STRICT_MAX_HEADER_BYTES))
        if m is None:
            raise _Unusual
        block = raw[start : m.start() + 1]
        if b"\r" in block and block.count(b"\r") != block.count(b"\r\n"):  # a lone CR ends a line too
            raise _Unusual
        field_lines: list[str] = []
        for line in block.decode("ascii", "surrogateescape").split("\n")[:-1]:
            line += "\n"
            if line[0] in " \t":
                if not field_lines:
                    raise _Unusual
                field_lines.append(line)
                continue
            if not _HEADER_LINE.match(line):
                raise _Unusual
            if field_lines:
                msg.set_raw(*self.policy.header_source_parse(field_lines))
            field_lines = [line]
        if field_lines:
            msg.set_raw(*self.policy.header_source_parse(field_lines))
        return m.end()

    def _multipart(self, msg: Message, body: int, end: int, depth: int, *, digest: bool, strip: bool) -> None:
        boundary = msg.get_boundary()
        if boundary is None or not boundary.isascii() or "\r" in boundary or "\n" in boundary:
            raise _Unusual
        if str(msg.get("content-transfer-encoding", "8bit")).lower() not in ("7bit", "8bit", "binary"):
            raise _Unusual
        lines = self._boundary_lines(("--" + boundary).encode("ascii"), body, end)
        if not lines or lines[0][2] or not lines[-1][2]:  # no first boundary, or no close boundary
            raise _Unusual
        if lines[0][0] > body:
            msg.preamble = self._text(body, lines[0][0], strip=True)
        for (_, after, _), (following, _, _) in itertools.pairwise(lines):
            if following == after:  # boundary lines in a row: the feed parser skips them
                raise _Unusual
            msg.attach(self.part(after, following, depth + 1, digest=digest, strip=True))
        epilogue = self._text(lines[-1][1], end, strip=False)
        msg.epilogue = (None if not epilogue else self._text(lines[-1][1], end, strip=True)) if strip else epilogue

    def _boundary_lines(self, sep: bytes, start: int, end: int) -> list[tuple[int, int, bool]]:
        """(start, end, is the close boundary) of the lines of ``raw[start:end]`` that the feed parser
        takes for boundary lines: ``sep`` at the start of a line, then ``--`` or not, spaces or tabs,
        and the end of the line; up to the close boundary."""
        raw = self.raw
        lines: list[tuple[int, int, bool]] = []
        at = start
        while (hit := raw.find(sep, at, end)) >= 0:
            at = hit + len(sep)
            if hit > start and raw[hit - 1] not in b"\r\n":
                continue
            close = raw.startswith(b"--", at, end)
            q = at + 2 if close else at
            while q < end and raw[q] in b" \t":
                q += 1
            if q < end:
                if raw[q] == 0x0A:
                    q += 1
                elif raw[q] == 0x0D:
                    q += 2 if raw.startswith(b"\n", q + 1, end) else 1
                else:
                    continue
            lines.append((hit, q, close))
            if close or len(lines) > _STRICT_MAX_PARTS:
                break
        return lines

    def _text(self, start: int, end: int, *, strip: bool) -> str:
        if strip and end > start:
            end -= _eol_before(self.raw, end)
        return str(memoryview(self.raw)[start:end], "ascii", "surrogateescape")


def _eol_before(raw: bytes, end: int) -> int:
    """Length of the line break that ``raw[:end]`` ends with (0 if none)."""
    if raw[end - 1] == 0x0A:
        return 2 if end >= 2 and raw[end - 2] == 0x0D else 1
    return 1 if raw[end - 1] == 0x0D else 0


def _run_at(raw: bytes, start: int) -> _Body | None:
    """The block of base64 lines starting at ``start`` (a line start): lines of one length ``n``
    (16-998), each ended by the same CRLF or LF, then possibly one shorter line."""
    size = len(raw)
    nl = raw.find(b"\n", start, start + 1000)
    if nl <= start:
        return None
    crlf = raw[nl - 1] == 0x0D
    length = nl - start - crlf
    if length < 16 or raw[start : start + length].translate(None, _B64_CHARS):
        return None
    eol = b"\r\n" if crlf else b"\n"
    width = length + len(eol)
    full = 0  # lines of `length` characters and a line break, found by their breaks (strided slices)
    while True:
        at = start + full * width + length
        if at >= size:
            break
        stop = min(size, at + _RUN_WINDOW_LINES * width)
        breaks = raw[at:stop:width]
        found = len(breaks) - len(breaks.lstrip(eol[:1]))
        if crlf:
            feeds = raw[at + 1 : stop + 1 : width]
            found = min(found, len(feeds) - len(feeds.lstrip(b"\n")))
        full += found
        if found < len(breaks):
            break
    after = start + full * width
    end, breaks_inside = (after - len(eol), full - 1) if full else (start, 0)
    if after < size:  # a last, shorter line
        last = raw.find(eol, after, after + width)
        if last < 0 and size - after <= length:
            last = size
        if last > after and not raw[after:last].translate(None, _B64_CHARS):
            end, breaks_inside = last, full
    if end - start < _RUN_MIN_BYTES:
        return None
    rest = raw[start:end].translate(None, _B64_CHARS)
    if rest != eol * breaks_inside:  # a line break where it should not be: an empty or a split line
        return None
    return _Body(raw, start, end, end - start - len(rest))


def _base64_runs(raw: bytes) -> list[_Body]:
    """The blocks of base64 lines that start right after an empty line (where a body starts)."""
    runs: list[_Body] = []
    at = 0
    while len(runs) < MAX_PARTS:
        m = _BLANK_LINE.search(raw, at)
        if m is None:
            break
        run = _run_at(raw, m.end())
        at = run.end if run is not None else m.end() - 1
        if run is not None:
            runs.append(run)
    return runs


def _parse_skeleton(raw: bytes, bodies: dict[Message, _Body]) -> tuple[Message, bool] | None:
    """:func:`_parse` with the base64 blocks set aside (see above); ``None`` if there are none, or if
    anything is unexpected (the caller then parses ``raw`` itself)."""
    found = _base64_runs(raw) if len(raw) >= _RUN_MIN_BYTES else []
    if not found:
        return None
    prefix = f"MAMORI{os.urandom(8).hex().upper()}R"
    pieces: list[bytes] = []
    at = 0
    for index, run in enumerate(found):
        pieces += (raw[at : run.start], b"%s%06d" % (prefix.encode(), index))
        at = run.end
    pieces.append(raw[at:])
    skeleton = b"".join(pieces)
    if skeleton.count(prefix.encode()) != len(found):  # the prefix was in the message already
        return None
    guard = _HeaderGuard(MAX_PARTS * 8)
    try:
        msg: Message = BytesParser(policy=_policy(guard)).parsebytes(skeleton)
    except Exception:  # the ordinary parse of the message names it
        return None
    restored = _restore(msg, prefix, found)
    if restored is None:
        return None
    bodies.update(restored)
    guard.budget = None
    return msg, guard.degraded


def _restore(msg: Message, prefix: str, found: list[_Body]) -> dict[Message, _Body] | None:
    """Put the blocks back in place of their tokens (payloads, preambles, epilogues); the parts whose
    payload is one whole block, or ``None`` if not every token was found exactly once."""
    used = [False] * len(found)
    width = len(prefix) + 6

    def restored(value: str) -> str:
        pieces: list[str] = []
        at = 0
        while (hit := value.find(prefix, at)) >= 0:
            digits = value[hit + len(prefix) : hit + width]
            index = int(digits) if len(digits) == 6 and digits.isdigit() and digits.isascii() else len(found)
            if index >= len(found) or used[index]:
                raise ValueError("token out of place")
            used[index] = True
            run = found[index]
            pieces += (value[at:hit], str(memoryview(run.data)[run.start : run.end], "ascii"))
            at = hit + width
        pieces.append(value[at:])
        return "".join(pieces)

    whole: dict[Message, _Body] = {}
    stack = [msg]
    try:
        while stack:
            part = stack.pop()
            payload = getattr(part, "_payload", None)
            if isinstance(payload, list):
                stack.extend(child for child in payload if isinstance(child, Message))
            elif isinstance(payload, str) and prefix in payload:
                alone = payload.rstrip("\r\n")
                if len(alone) == width and alone.startswith(prefix) and alone[len(prefix) :].isdigit():
                    index = int(alone[len(prefix) :])
                    if index < len(found):
                        whole[part] = found[index]
                part.set_payload(restored(payload))
            for name in ("preamble", "epilogue"):
                value = getattr(part, name, None)
                if isinstance(value, str) and prefix in value:
                    setattr(part, name, restored(value))
    except ValueError:
        return None
    return whole if all(used) else None


def _decoded(part: Message, bodies: dict[Message, _Body]) -> Any:
    """``part.get_payload(decode=True)``; a base64 body located by a fast parse is decoded from the
    bytes in one call instead when the stdlib would decode it without a defect. The stdlib joins the
    lines and decodes strictly (RFC 4648 characters only, a multiple of four, ``=`` only as the last
    one or two); ``binascii.a2b_base64`` skips line breaks, and any other character, so a body laid
    out as whole lines (:func:`_base64_chars`) whose ``=`` are all at its end, and whose decoded size
    is exactly what that many characters give, had nothing else in it and decodes the same."""
    body = bodies.get(part)
    if body is not None and str(part.get("content-transfer-encoding", "")).lower() == "base64":
        data, start, end = body.data, body.start, body.end
        chars = body.chars if body.chars is not None else _base64_chars(data, start, end)
        pad = data.find(b"=", start, end)
        pads = 0 if pad < 0 else len(data[pad:end].translate(None, b"\r\n"))
        if chars and chars % 4 == 0 and pads <= 2 and (pad < 0 or data[pad:end].strip(b"\r\n=") == b""):
            try:
                out = binascii.a2b_base64(memoryview(data)[start:end])
            except binascii.Error:
                out = None
            if out is not None and len(out) == chars // 4 * 3 - pads:
                return out
    return part.get_payload(decode=True)


def _base64_chars(data: bytes, start: int, end: int) -> int | None:
    """How many characters ``data[start:end]`` has besides its line breaks, if it is laid out as
    base64 is sent: lines of one length, each ended by the same CRLF or LF, the last one no longer,
    then possibly empty lines. The line breaks are checked one per line (strided slices), the
    characters between them are not: :func:`_decoded` tells by the decoded size."""
    nl = data.find(b"\n", start, min(end, start + 1002))
    stop = end
    while stop > start and data[stop - 1] in b"\r\n" and end - stop < 64:
        stop -= 1
    if nl < 0 or nl >= stop:  # one line
        return stop - start if b"\r" not in data[start:stop] else None
    crlf = data[nl - 1] == 0x0D
    length = nl - start - crlf
    width = length + 1 + crlf
    size = stop - start
    breaks = (size - 1) // width
    if length < 4 or not 1 <= size - breaks * width <= length:
        return None
    last = start + breaks * width
    if data[start + length : last : width] != (b"\r" if crlf else b"\n") * breaks:
        return None
    if crlf and data[start + length + 1 : last : width] != b"\n" * breaks:
        return None
    return size - breaks * (1 + crlf)


def scan_message(raw: bytes, *, limits: ScanLimits = _DEFAULT_LIMITS) -> MessageReport:
    """Scan one message (RFC 5322 bytes, as sent or stored in an ``.eml`` file).

    Never raises on any input: malformed MIME is named in ``problems`` and whatever could not be
    read counts as an ``unscannable`` attachment, which policy treats like an encrypted one.
    """
    problems: list[str] = []
    state = _State(limits=limits, budget=ScanBudget.for_limits(limits), problems=problems,
                   pixels_left=MAX_MESSAGE_PIXELS)
    msg, state.degraded = _parse(raw, problems, state.bodies)
    if msg is None:
        return MessageReport(None, None, (), None, None,
                             (AttachmentFinding("(message)", "mime", False, "unscannable", "message does not parse",
                                                len(raw)),), (), False, None, tuple(problems))
    fields = _fields(msg)
    message_id, sender, subject, date = _header_fields(msg, fields, problems)
    recipients = _addresses(fields, ("to", "cc", "bcc"), problems)
    leaves = _flatten(msg, state)
    names = tuple(leaf.filename for leaf in leaves if leaf.filename)
    for leaf in leaves:
        try:
            _scan_leaf(leaf, state, names)
        except Exception as exc:  # one unreadable part must not lose the rest of the report
            _problem(problems, f"{leaf.where}: {type(exc).__name__}: {str(exc)[:120]}")
            state.attachments.append(AttachmentFinding(leaf.name, "unknown", False, "unscannable",
                                                       f"part not readable: {type(exc).__name__}", 0))
    if state.skipped_parts or state.degraded:
        state.attachments.append(AttachmentFinding(
            "(parts not scanned)", "mime", False, "unscannable",
            f"more than {MAX_PARTS:,} MIME parts (or nesting too deep): the rest was not scanned", 0))
    if state.encrypted:
        _problem(problems, f"the message is encrypted ({state.encrypted}): its content was not scanned")
    password = find_password("\n".join(state.texts), subject=subject) is not None if state.texts else False
    return MessageReport(
        message_id=message_id, sender=sender, recipients=tuple(recipients), subject=subject, date=date,
        attachments=tuple(state.attachments), links=tuple(_dedupe(state.links)), password_in_body=password,
        encrypted_message=state.encrypted, problems=tuple(problems),
    )


def _dedupe(links: list[LinkFinding]) -> list[LinkFinding]:
    return list(dict.fromkeys(links))[:1000]


# ---------------------------------------------------------------------------------------------
# PPAP across two messages


@dataclass(frozen=True)
class PpapMatch:
    """A message with a password (PPAP half two) sent after one with an encrypted attachment (half one)
    by the same sender to at least one of the same recipients, within the tracker's window."""

    sender: str
    recipients: tuple[str, ...]
    """Recipients of the password mail who also received the encrypted attachment."""
    first_message_id: str | None
    first_at: datetime
    attachments: tuple[str, ...]
    """Paths of the encrypted (or unscannable) attachments in the first message."""
    message_id: str | None
    at: datetime

    @property
    def delay_seconds(self) -> float:
        return (self.at - self.first_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        return {"sender": self.sender, "recipients": list(self.recipients), "first_message_id": self.first_message_id,
                "first_at": self.first_at.isoformat(), "attachments": list(self.attachments),
                "message_id": self.message_id, "at": self.at.isoformat(), "delay_seconds": self.delay_seconds}


@dataclass(frozen=True)
class _Pending:
    recipients: frozenset[str]
    message_id: str | None
    at: datetime
    attachments: tuple[str, ...]


class PpapTracker:
    """Remembers, per (sender, recipient set), the latest message with an encrypted attachment for
    ``window`` (default 30 minutes), and flags a later message from the same sender that carries a
    password (:attr:`MessageReport.password_in_body`) to any of those recipients: the two halves of
    PPAP. Memory is bounded: at most ``max_entries`` pending messages, oldest dropped first.

    Times are passed in (``at``, timezone-aware), so replaying an mbox works on the messages' own
    dates. Not thread-safe; give each worker its own or guard it with a lock.
    """

    def __init__(self, *, window: timedelta = timedelta(minutes=30), max_entries: int = 10_000) -> None:
        if window <= timedelta(0) or max_entries < 1:
            raise ValueError("window must be positive and max_entries at least 1")
        self.window = window
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, frozenset[str]], _Pending] = OrderedDict()
        self._by_sender: dict[str, set[frozenset[str]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: tuple[str, frozenset[str]]) -> None:
        self._entries.pop(key, None)
        keys = self._by_sender.get(key[0])
        if keys is not None:
            keys.discard(key[1])
            if not keys:
                del self._by_sender[key[0]]

    def _expire(self, now: datetime) -> None:
        while self._entries:
            key, pending = next(iter(self._entries.items()))
            if now - pending.at <= self.window and len(self._entries) <= self.max_entries:
                break
            self._drop(key)

    def observe(self, report: MessageReport, at: datetime) -> PpapMatch | None:
        """Record ``report`` (sent at ``at``) and return the match if it is the password half of PPAP."""
        if at.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        sender = (report.sender or "").strip().lower()
        recipients = frozenset(r.strip().lower() for r in report.recipients if r.strip())
        self._expire(at)
        match: PpapMatch | None = None
        if sender and recipients and report.password_in_body:
            best: _Pending | None = None
            for key_recipients in self._by_sender.get(sender, ()):
                pending = self._entries[(sender, key_recipients)]
                if pending.message_id is not None and pending.message_id == report.message_id:
                    continue
                if not (timedelta(0) <= at - pending.at <= self.window) or not (recipients & pending.recipients):
                    continue
                if best is None or pending.at > best.at:
                    best = pending
            if best is not None:
                match = PpapMatch(sender, tuple(sorted(recipients & best.recipients)), best.message_id, best.at,
                                  best.attachments, report.message_id, at)
        if sender and recipients and report.has_encrypted_attachment:
            key = (sender, recipients)
            self._drop(key)
            self._entries[key] = _Pending(recipients, report.message_id, at, tuple(
                a.path for a in report.attachments if a.verdict in ("encrypted", "unscannable")))
            self._by_sender.setdefault(sender, set()).add(recipients)
            self._expire(at)
        return match


# ---------------------------------------------------------------------------------------------
# Reading messages from files


def _default_error(source: str, reason: str) -> None:
    log.warning("mail: %s not read: %s", source, reason)


def iter_messages(path: Path, *, on_error: Callable[[str, str], None] = _default_error,
                  max_bytes: int = MAX_MESSAGE_BYTES) -> Iterator[tuple[str, bytes]]:
    """(source, raw bytes) for each message under ``path``: a single ``.eml`` (RFC 5322) file, a
    directory searched recursively for ``*.eml`` files (sorted by path, symbolic links to directories
    not followed), or an mbox file (a file starting with ``From ``; sources ``file#1``, ``file#2``...).

    A file that cannot be read (permissions, vanished, over ``max_bytes``) is passed to
    ``on_error(source, reason)`` and skipped; only a ``path`` that does not exist raises
    (:class:`FileNotFoundError`).
    """
    if path.is_dir():
        found: list[Path] = []

        def walk_error(exc: OSError) -> None:
            on_error(str(exc.filename or path), exc.strerror or str(exc))

        for directory, dirs, files in os.walk(path, onerror=walk_error):
            dirs.sort()
            found.extend(Path(directory, f) for f in files if f.lower().endswith(".eml"))
        for file in sorted(found):
            data = _read(file, on_error, max_bytes)
            if data is not None:
                yield str(file), data
        return
    if not path.exists():
        raise FileNotFoundError(str(path))
    try:
        with path.open("rb") as f:
            head = f.read(5)
    except OSError as exc:
        on_error(str(path), exc.strerror or str(exc))
        return
    if head != b"From ":
        data = _read(path, on_error, max_bytes)
        if data is not None:
            yield str(path), data
        return
    try:
        box = mailbox.mbox(path, create=False)
        keys = box.keys()
    except (OSError, mailbox.Error) as exc:
        on_error(str(path), str(exc))
        return
    try:
        for index, key in enumerate(keys, start=1):
            source = f"{path}#{index}"
            try:
                yield source, box.get_bytes(key)
            except (OSError, KeyError, mailbox.Error) as exc:
                on_error(source, str(exc))
    finally:
        box.close()


def _read(file: Path, on_error: Callable[[str, str], None], max_bytes: int) -> bytes | None:
    try:
        size = file.stat().st_size
        if size > max_bytes:
            on_error(str(file), f"{size:,} bytes is over the {max_bytes:,}-byte limit")
            return None
        return file.read_bytes()
    except OSError as exc:
        on_error(str(file), exc.strerror or str(exc))
        return None
