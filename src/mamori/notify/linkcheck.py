"""Find anything a reader could follow or type as a link in customer-facing text.

Why: the FSA (金融庁) and the Japan Securities Dealers Association asked securities firms in 2025,
after the wave of account takeovers through phishing sites, not to put links in the emails and SMS
they send to customers: phishing mails copy the firms' real notices, so a customer who is taught
"the notice has a link" will follow the fake one too. Customers are told instead to use the
official app or a site they bookmarked. :mod:`mamori.notify.templates` renders the notices and
this module is how the templates (and their tests) prove that no link got in, whether written by
us or smuggled in through a value such as a device name taken from a ``User-Agent`` header.

What counts as a link (:class:`LinkKind`):

* ``url`` - anything with a scheme and ``://`` (``https://``, ``ftp://``, ``hxxp://``, ``ttp://``),
  and ``mailto:``, ``javascript:``, ``data:``, ``file:``, ``intent:`` and ``market:`` forms.
  ``tel:`` is not counted: a phone number is the one contact a notice does give;
* ``www`` - ``www.`` (or ``www2.`` ...) followed by anything, whatever the top-level domain;
* ``domain`` - a bare host name whose last label is a delegated top-level domain (IANA's list,
  ``tlds-alpha-by-domain.txt`` beside this file, version in its first line), e.g. ``example.co.jp``,
  ``secure-login.jp``, ``価格.com``, with any ``:port`` and ``/path`` that follow;
* ``email`` - ``local@host.tld``;
* ``ip`` - a full IPv4 or IPv6 address (a masked one such as ``153.156.x.x`` is not);
* ``shortener`` - a URL or host on a known URL-shortening service (``bit.ly``, ``t.co``, ...).

Before matching, the text is normalised so that disguised forms read as what they are:

* every code point goes through ``unicodedata.normalize("NFKC")`` (full-width ``ｈｔｔｐｓ：／／``
  and ``ｅｘａｍｐｌｅ．ｃｏｍ`` become ASCII; ``｡`` becomes ``。``), then format characters
  (zero-width spaces, bidi controls, soft hyphens) and combining marks are dropped;
* ``。`` (browsers accept it as a label separator) and the middle dots and bullets ``・ · •``
  between two ASCII letters or digits are dots;
* defanged forms are undone: ``[.]`` ``(.)`` ``{.}`` ``[dot]`` ``(dot)`` `` dot `` ``[ドット]``,
  a dot with a space before it (``example . com``), ``[@]`` ``(at)`` ``[at]``, ``hxxp`` ``h**p``
  ``ttp``, ``[:]`` and ``: / /``.

Normalisation is done per code point, so that every :class:`Finding` keeps exact ``start``/``end``
offsets into the text as given; :attr:`Finding.normalized` is what the span reads as.

``strict=True`` also reports host-shaped tokens whose last label is *not* a known top-level domain
(``evil.newtld``, but also ``J.Smith``). The templates use it on values they do not control, where a
false positive costs a redacted word and a false negative could put a phishing address in a notice.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Final

__all__ = ["SHORTENERS", "Finding", "LinkKind", "find_links", "has_links", "known_tlds"]


class LinkKind(StrEnum):
    URL = "url"
    WWW = "www"
    DOMAIN = "domain"
    EMAIL = "email"
    IP = "ip"
    SHORTENER = "shortener"


@dataclass(frozen=True, slots=True)
class Finding:
    """One link-like span of the text."""

    kind: LinkKind
    start: int
    """Offset of the first character in the text as given."""
    end: int
    """Offset just past the last character (``text[start:end]`` is :attr:`text`)."""
    text: str
    """The span as written (possibly full-width or defanged)."""
    normalized: str
    """What the span reads as after normalisation, e.g. ``https://example.com``."""

    @property
    def obfuscated(self) -> bool:
        """The span is disguised: full-width, defanged or split by invisible characters."""
        return self.text != self.normalized


SHORTENERS: Final = frozenset(
    {
        "bit.ly", "bitly.com", "t.co", "tinyurl.com", "goo.gl", "ow.ly", "is.gd", "v.gd", "buff.ly",
        "rebrand.ly", "cutt.ly", "t.ly", "x.gd", "rb.gy", "shorturl.at", "tiny.cc", "bl.ink", "s.id",
        "lnkd.in", "youtu.be", "amzn.to", "amzn.asia", "j.mp", "ift.tt", "dlvr.it", "lin.ee", "qr.paps.jp",
        "00m.in", "urx.blue", "urx.red", "onl.bz", "onl.tw", "onl.la", "onl.sc", "tinyurl.hu", "gg.gg",
        "shorturl.asia", "clck.ru", "u.to", "qrco.de", "forms.gle", "maps.app.goo.gl", "t.me", "wa.me",
    }
)  # fmt: skip
"""Hosts of URL-shortening and redirecting services; a link to one hides where it leads."""

# ---------------------------------------------------------------------------------------------
# Normalisation with an offset map back to the text as given


@dataclass(slots=True)
class _Scan:
    """The normalised text, with for each of its characters the span of the original it came from."""

    text: str
    starts: list[int]
    ends: list[int]

    @classmethod
    def of(cls, original: str) -> _Scan:
        chars: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        for i, ch in enumerate(original):
            for out in unicodedata.normalize("NFKC", ch):
                if unicodedata.category(out) in ("Cf", "Mn", "Me"):
                    continue
                chars.append(out)
                starts.append(i)
                ends.append(i + 1)
        return cls("".join(chars), starts, ends)

    def sub(self, pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str]) -> None:
        """Replace every match of ``pattern``; replacement characters map to the whole match."""
        pieces: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        pos = 0
        for m in pattern.finditer(self.text):
            if m.start() == m.end():
                continue
            pieces.append(self.text[pos : m.start()])
            starts.extend(self.starts[pos : m.start()])
            ends.extend(self.ends[pos : m.start()])
            new = repl(m)
            pieces.append(new)
            starts.extend([self.starts[m.start()]] * len(new))
            ends.extend([self.ends[m.end() - 1]] * len(new))
            pos = m.end()
        if not pieces:
            return
        pieces.append(self.text[pos:])
        starts.extend(self.starts[pos:])
        ends.extend(self.ends[pos:])
        self.text, self.starts, self.ends = "".join(pieces), starts, ends

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of normalised characters ``start:end`` (``end > start``)."""
        return self.starts[start], self.ends[end - 1]


_OPEN = r"[\[\(\{<【〔「『]"
_CLOSE = r"[\]\)\}>】〕」』]"
_DEFANG: Final[tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...]] = (
    # example。com (IDNA label separator), www・example・jp, example·com (dots swapped for middle
    # dots or bullets) — only between ASCII alphanumerics, so that ordinary Japanese is untouched.
    (re.compile(r"(?<=[A-Za-z0-9])[ \t]*[。・·•∙⋅][ \t]*(?=[A-Za-z0-9])"), lambda m: "."),
    # example[.]com, example(dot)com, example [ドット] com
    (re.compile(rf" ?{_OPEN}\s*(?:\.|。|dot|ドット|点)\s*{_CLOSE} ?", re.I), lambda m: "."),
    # example dot com
    (re.compile(r"(?<=[A-Za-z0-9])[ \t]+(?:dot|ドット)[ \t]+(?=[A-Za-z0-9])", re.I), lambda m: "."),
    # example . com, example .com (a sentence never has a space before its full stop)
    (re.compile(r"(?<=[A-Za-z0-9])[ \t]+\.[ \t]*(?=[A-Za-z0-9])"), lambda m: "."),
    # user[at]example.com, user (at) example.com, user[@]example.com
    (re.compile(rf" ?{_OPEN}\s*(?:at|@|アット)\s*{_CLOSE} ?", re.I), lambda m: "@"),
    (re.compile(r"(?<=[A-Za-z0-9])[ \t]+@[ \t]+(?=[A-Za-z0-9])"), lambda m: "@"),
    # hxxp, hXXp, h**p, h__p, ttp, h t t p (scheme disguises)
    (
        re.compile(r"(?<![A-Za-z0-9])(?:h\s?[tx*_]\s?[tx*_]\s?p|t\s?t\s?p)(?=\s?s?\s*(?:\[:\]|\(:\)|:))", re.I),
        lambda m: m.group() if m.group().lower() == "http" else "http",
    ),
    # [:]// , :[//], : / /
    (re.compile(r"(?:\[:\]|\(:\))"), lambda m: ":"),
    (re.compile(r"(?:(?<=http)|(?<=https)|(?<=ftp)|(?<=ftps)):\s*(?:\[//\]|/\s*/)", re.I), lambda m: "://"),
)

# ---------------------------------------------------------------------------------------------
# Patterns (run on the normalised text)

_URL_BODY = r"[^\s<>\"'`()\[\]{}\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]*"
_SCHEME_URL = re.compile(rf"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{{0,30}}://{_URL_BODY}")
_OTHER_URL = re.compile(
    r"(?<![A-Za-z0-9+.\-])(?:mailto|javascript|vbscript|data|file|intent|market):(?=[^\s/]|//)" + _URL_BODY, re.I
)
_WWW = re.compile(rf"(?<![A-Za-z0-9\-.@])www\d{{0,3}}\.[A-Za-z0-9\u0080-\uffff\-]{_URL_BODY}", re.I)
# A label: ASCII letters/digits/hyphens or any other word characters (IDN labels such as 価格).
_LABEL = r"[\w\-]{1,63}"
# The last label: punycode, ASCII letters (which end where Japanese text may follow without a space:
# example.comへ), or other letters (価格.com is ASCII; 例え.みんな is not).
_HOST = rf"(?:{_LABEL}\.)+(?:xn--[a-z0-9\-]{{1,59}}|[a-z]{{2,63}}(?![A-Za-z0-9\-])|[^\W\d_A-Za-z]{{1,63}})"
_HOST_END = r"(?![A-Za-z0-9\-]|\.[\w\-])"
_PORT_PATH = rf"(?::\d{{1,5}})?(?:/{_URL_BODY})?"
_DOMAIN = re.compile(rf"(?<![A-Za-z0-9_\-.@])({_HOST}){_HOST_END}{_PORT_PATH}", re.I)
_EMAIL = re.compile(rf"(?<![A-Za-z0-9_.+\-])[\w.+\-]{{1,64}}@(?:{_HOST}|\[[0-9a-f:.]+\]){_HOST_END}", re.I)
_IPV4 = re.compile(r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9]|\.[0-9])")
_IPV6 = re.compile(
    r"(?<![0-9A-Za-z:.])(?:[0-9a-f]{0,4}:){2,7}(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}|[0-9a-f]{0,4})(?:%[A-Za-z0-9]+)?"
    r"(?![0-9A-Za-z:])",
    re.I,
)
# East Asian characters that may precede an ASCII host with no space in Japanese text
# (詳細はexample.comへ): they are trimmed from the front of a host whose next character is ASCII.
_CJK_PREFIX = re.compile(r"^[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+(?=[A-Za-z0-9])")

_PRIORITY: Final = {
    LinkKind.URL: 0,
    LinkKind.EMAIL: 1,
    LinkKind.WWW: 2,
    LinkKind.SHORTENER: 3,
    LinkKind.DOMAIN: 4,
    LinkKind.IP: 5,
}


@cache
def known_tlds() -> frozenset[str]:
    """IANA's delegated top-level domains, lower case (``xn--`` forms included)."""
    data = resources.files(__package__).joinpath("tlds-alpha-by-domain.txt").read_text(encoding="ascii")
    return frozenset(line.strip().lower() for line in data.splitlines() if line.strip() and not line.startswith("#"))


def _idna(label: str) -> str:
    """The ASCII (``xn--``) form of an internationalised label, or ``""``."""
    if label.isascii():
        return ""
    try:
        return label.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return ""


def _is_shortener(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(host == s or host.endswith("." + s) for s in SHORTENERS)


def _host_of(url: str) -> str:
    rest = url.split("://", 1)[-1]
    rest = re.split(r"[/?#]", rest, maxsplit=1)[0]
    rest = rest.rsplit("@", 1)[-1]
    return rest.split(":", 1)[0]


def _trim_url(s: str) -> str:
    """Drop trailing sentence punctuation that is more likely prose than part of a URL."""
    return s.rstrip(".!?;:'\"")


def _candidates(text: str, *, strict: bool) -> list[tuple[LinkKind, int, int]]:
    """(kind, start, end) spans in ``text`` (already normalised), overlapping allowed."""
    found: list[tuple[LinkKind, int, int]] = []

    def add(kind: LinkKind, start: int, matched: str) -> None:
        if matched:
            found.append((kind, start, start + len(matched)))

    for pattern in (_SCHEME_URL, _OTHER_URL):
        for m in pattern.finditer(text):
            url = _trim_url(m.group())
            kind = LinkKind.SHORTENER if _is_shortener(_host_of(url)) else LinkKind.URL
            add(kind, m.start(), url)
    for m in _WWW.finditer(text):
        matched = _trim_url(m.group())
        kind = LinkKind.SHORTENER if _is_shortener(_host_of(matched)) else LinkKind.WWW
        add(kind, m.start(), matched)
    for m in _EMAIL.finditer(text):
        prefix = _CJK_PREFIX.match(m.group())
        skip = prefix.end() if prefix else 0
        add(LinkKind.EMAIL, m.start() + skip, _trim_url(m.group()[skip:]))
    tlds = known_tlds()
    for m in _DOMAIN.finditer(text):
        host, start, end = m.group(1), m.start(), m.end()
        prefix = _CJK_PREFIX.match(host)
        if prefix:
            start += prefix.end()
            host = host[prefix.end() :]
        labels = host.lower().split(".")
        if any(not label or label.startswith("-") or label.endswith("-") for label in labels):
            continue
        tld = labels[-1]
        if not (tld in tlds or tld.startswith("xn--") or (strict and tld.isascii())):
            # An internationalised TLD may run on into the Japanese text after it (例え.みんなへ):
            # take its longest prefix that is a TLD, and no port or path.
            keep = next((n for n in range(len(tld), 0, -1) if _idna(tld[:n]) in tlds), 0)
            if not keep:
                continue
            host = host[: len(host) - len(tld) + keep]
            end = start + len(host)
        matched = _trim_url(text[start:end])
        kind = LinkKind.SHORTENER if _is_shortener(host) else LinkKind.DOMAIN
        add(kind, start, matched)
    for m in _IPV4.finditer(text):
        if all(int(octet) <= 255 for octet in m.group().split(".")):
            add(LinkKind.IP, m.start(), m.group())
    for m in _IPV6.finditer(text):
        candidate = m.group()
        if not re.search(r"[0-9a-f]", candidate, re.I):
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        add(LinkKind.IP, m.start(), candidate)
    return found


def find_links(text: str, *, strict: bool = False) -> list[Finding]:
    """Every link-like span of ``text``, in order, without overlaps (the longest span wins).

    ``strict`` also reports host-shaped tokens with an unknown top-level domain (see the module
    docstring). Ordinary Japanese and English prose, times (``10:00``), amounts (``1,000,000円``),
    decimals (``0.5 BTC``), stock codes (``7203``) and masked addresses (``153.156.x.x``) give none.
    """
    scan = _Scan.of(text)
    for pattern, repl in _DEFANG:
        scan.sub(pattern, repl)
    candidates = _candidates(scan.text, strict=strict)
    candidates.sort(key=lambda c: (c[1], -(c[2] - c[1]), _PRIORITY[c[0]]))
    findings: list[Finding] = []
    last_end = -1
    for kind, start, end in candidates:
        if start < last_end:
            continue
        last_end = end
        o_start, o_end = scan.span(start, end)
        findings.append(Finding(kind, o_start, o_end, text[o_start:o_end], scan.text[start:end]))
    return findings


def has_links(text: str, *, strict: bool = False) -> bool:
    """Whether :func:`find_links` finds anything."""
    return bool(find_links(text, strict=strict))
