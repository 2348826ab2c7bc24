"""Neutralise values before they go into a customer notice, and mask IP addresses.

A notice quotes values that an attacker can choose: the device description comes from the
``User-Agent`` of the login being reported, an order's issue name or a display name may have been
changed by whoever took the account over. A phishing crew that controls such a value would like the
firm's own, genuine notice to carry *their* address ("Chrome - cancel at www.evil.jp") or their
phone number ("call 03-xxxx-xxxx to cancel"). Because the FSA's 2025 guidance is that customer
emails and SMS carry no links at all, and customers are taught exactly that, one smuggled address
in a real notice would undo the teaching.

:func:`sanitize_value` therefore

1. applies NFKC (full-width letters and digits become ASCII, half-width katakana become full-width),
2. turns line breaks, tabs and other separators into single spaces and drops control, format
   (zero-width, bidi override) and unassigned/private-use characters, so a value can neither add
   lines to the notice nor hide characters from the checks below,
3. **drops** every span :func:`~mamori.notify.linkcheck.find_links` reports in *strict* mode
   (unknown top-level domains included) and every phone-number-like run of nine or more digits,
   replacing each with :data:`REDACTED`, and repeats until nothing is found;
4. only then caps the length (so that a cut cannot leave a recognisable stub such as
   ``support@evil.j…``), and checks the cut value again. A value over 4,096 characters is dropped
   whole.

Dropping, not defanging: ``www[.]evil[.]jp`` or ``www・evil・jp`` is still an address a customer
can type, so a value that looks like a link loses that part entirely. The cost is that an innocent
value such as ``J.Smith`` (a host-shaped token) or ``Chrome 120.0.0.0`` (an IPv4-shaped version) is
shown as ``***`` or ``Chrome ***``; a notice is still clear without it.

Values the firm configures (its name, support phone, reference numbers) are not sanitised but
*validated*: :class:`~mamori.notify.templates.NoticeContext` refuses them if they contain a link.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Final

from mamori.notify.linkcheck import find_links

__all__ = ["REDACTED", "find_phone_numbers", "mask_ip", "sanitize_value"]

REDACTED: Final = "***"
"""What replaces a dropped part of a value."""

_MAX_PASSES: Final = 5
_MAX_INPUT: Final = 4096
_PHONE = re.compile(r"(?<![0-9])\+?\(?[0-9][0-9\s\-‐–—ー()]{7,}[0-9](?![0-9])")
_MIN_PHONE_DIGITS: Final = 9
_SPACES = re.compile(r"\s+")


def find_phone_numbers(text: str) -> list[tuple[int, int]]:
    """Spans of phone-number-like runs (nine or more digits with optional separators) in ``text``."""
    spans = []
    for m in _PHONE.finditer(text):
        if sum(ch.isdigit() for ch in m.group()) >= _MIN_PHONE_DIGITS:
            spans.append((m.start(), m.end()))
    return spans


def _clean(value: str) -> str:
    out = []
    for ch in unicodedata.normalize("NFKC", value):
        category = unicodedata.category(ch)
        if ch.isspace() or category in ("Zl", "Zp", "Zs"):
            out.append(" ")
        elif category[0] == "C" or (category in ("Mn", "Me") and not out):
            continue
        else:
            out.append(ch)
    return _SPACES.sub(" ", "".join(out)).strip()


def _redact(value: str, spans: list[tuple[int, int]]) -> str:
    for start, end in sorted(spans, reverse=True):
        value = value[:start] + REDACTED + value[end:]
    return _SPACES.sub(" ", value).strip()


def sanitize_value(value: str | None, *, max_len: int = 64) -> str:
    """``value`` made safe to quote in a notice (see the module docstring); ``""`` for ``None``."""
    if value is None:
        return ""
    if len(value) > _MAX_INPUT:
        return REDACTED  # no display name or device description is this long
    text = _redact_all(_clean(value))
    if len(text) > max_len:
        text = _redact_all(text[: max_len - 1].rstrip() + "…")
    return text


def _redact_all(text: str) -> str:
    for _ in range(_MAX_PASSES):
        spans = [(f.start, f.end) for f in find_links(text, strict=True)]
        spans += find_phone_numbers(text)
        if not spans:
            return text
        text = _redact(text, spans)
    return REDACTED  # still link-like after repeated redaction: drop the whole value


def mask_ip(ip: str) -> str:
    """The address with its host part hidden: IPv4 keeps the first two octets (``153.156.x.x``),
    IPv6 the first two groups (``2400:4050:x:x:x:x:x:x``). An IPv4-mapped IPv6 address is shown as
    IPv4. Raises ``ValueError`` if ``ip`` is not an IP address."""
    address = ipaddress.ip_address(ip.strip())
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv4Address):
        first, second = str(address).split(".")[:2]
        return f"{first}.{second}.x.x"
    groups = address.exploded.split(":")
    return ":".join([f"{int(groups[0], 16):x}", f"{int(groups[1], 16):x}"] + ["x"] * 6)
