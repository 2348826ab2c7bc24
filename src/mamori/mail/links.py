"""Find links in mail to customers: plain text, HTML and QR codes in images.

Why: in its revised supervisory guidelines for securities firms (金融商品取引業者等向けの総合的な
監督指針, 2025-10-15) the FSA asks that mail and SMS to customers, in principle, carry **no URL or
login link leading to a page where a password is entered**; JSDA's guideline says the same. Phishing
mail copies the firms' real notices, so the only safe teaching is "our mail never has a link". This
module lets the outgoing-mail scanner (:mod:`mamori.mail.message`) prove that for every text part,
HTML part and image of a message. The hard part, recognising link-like spans in Japanese and English
text (NFKC, defanged forms, IANA's TLD list), is :func:`mamori.notify.linkcheck.find_links`, which
the customer-notice templates already use; this module maps its findings onto the mail vocabulary
(:class:`~mamori.mail.model.LinkFinding`) and adds what a mail needs on top: HTML attributes, QR
codes, and the heuristics below that keep ordinary business text from raising false alarms.

Kinds (:data:`LINK_KINDS`), one per finding, the first that applies in this order:

* ``obfuscated`` - a defanged or disguised link: ``hxxps://``, ``example[.]com``, ``example(dot)com``,
  ``example . com``, ``example。com``, or one split by zero-width characters;
* ``fullwidth`` - written in full-width (or other compatibility) characters, ``ｈｔｔｐｓ：／／``,
  ``ＥＸＡＭＰＬＥ．ｃｏｍ``: the text is matched after NFKC, the finding keeps the text as written;
* ``shortener`` - a URL-shortening service (``bit.ly``, ``t.co``, ``tinyurl.com``, ``lin.ee`` ...,
  :data:`mamori.notify.linkcheck.SHORTENERS`), with or without a scheme;
* ``ip_address`` - a full IPv4/IPv6 address, alone or as the host of a URL;
* ``url`` - anything with a scheme (``https://``, ``ftp://``, ``javascript:``, ``data:``, ...);
* ``bare_domain`` - a host name without a scheme whose last label is a delegated TLD
  (``example-sec.co.jp/login``, ``www.example.com``, ``価格.com``);
* ``html_href`` - a URL-valued HTML attribute (``<a href>``, ``<area href>``, ``<form action>``,
  ``<img src>`` other than ``cid:``, ``<meta http-equiv=refresh>``, CSS ``url()`` ...), reported as
  the attribute value;
* ``qr_code`` - a QR (or other 2-D) code in an image whose content has a link, reported as that
  content;
* ``image_unscannable`` - an image that could not be checked for QR codes (too large, corrupt or in
  a format Pillow does not read); the text says why. It is a finding because it proves nothing.

What is **not** a link (the FSA concern is pages where a password is typed):

* e-mail addresses, and the schemes in :data:`ALLOWED_SCHEMES` (``tel:``, ``mailto:``, ``sms:``,
  ``cid:`` and ``mid:`` for parts of the same message, ``#fragment`` anchors); a URL hidden inside
  one (``mailto:a@b?body=https://...``) is still found;
* numbers: versions ``1.2.3``, amounts ``¥1,234.56``, times ``10.30``; an IPv4-shaped version right
  after ``v``/``ver``/``version``/``バージョン`` (``Ver.1.2.3.4``);
* file names whose extension is not a TLD (``report.pdf``, ``明細.xlsx``). Some extensions *are*
  TLDs (:data:`FILE_EXTENSION_TLDS`: ``.zip``, ``.mov``, ``.py``, ``.md`` ...). A host-only name
  ending in one of them (no scheme, ``www.``, port or path) is taken as a **file name** when

  1. it is the name of one of the message's attachments (``attachment_names``), or
  2. the part before the extension could not be an ordinary host name (non-ASCII such as
     ``明細.zip``, or an underscore), or
  3. an attachment word (添付, ファイル, 圧縮, 解凍, 同封, 別添, attach…, file, archive, enclosed)
     is within 30 characters on the same line;

  otherwise (``see microsoft-update.zip``) it stays a ``bare_domain``. This trades a possible miss
  (a real ``.zip`` site mentioned next to the word "file") for quiet on the everyday "添付の
  report.zip をご確認ください";
* two sentences glued without a space (``today.Best regards``, ``U.S.Army``, ``Co.Ltd``): a host-only
  name whose last label is capitalised (``Best``) is prose unless that label is a TLD people write
  in domains (``.Com``, ``.Jp`` ...); ``ASP.NET``, ``VB.NET``, ``ADO.NET`` and ``CO.LTD`` are
  product/company words.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import ipaddress
import re
import threading
import unicodedata
import warnings
from collections import OrderedDict
from collections.abc import Iterable
from html.parser import HTMLParser
from io import BytesIO
from typing import Final
from urllib.parse import unquote

import zxingcpp
from PIL import Image, UnidentifiedImageError

from mamori.mail.model import LinkFinding
from mamori.notify.linkcheck import Finding, LinkKind
from mamori.notify.linkcheck import find_links as _linkcheck

__all__ = [
    "ALLOWED_SCHEMES",
    "FILE_EXTENSION_TLDS",
    "LINK_KINDS",
    "MAX_FINDINGS",
    "MAX_IMAGE_PIXELS",
    "find_links",
    "find_links_html",
    "find_links_in_image",
    "html_text",
    "image_pixels",
    "is_scannable_image",
]

LINK_KINDS: Final = (
    "url", "bare_domain", "ip_address", "obfuscated", "fullwidth", "shortener", "html_href", "qr_code",
    "image_unscannable",
)  # fmt: skip
ALLOWED_SCHEMES: Final = frozenset({"tel", "mailto", "sms", "cid", "mid"})
"""Schemes that cannot lead to a password page: a phone call, a new mail or SMS, a part of this mail."""
FILE_EXTENSION_TLDS: Final = frozenset(
    {"zip", "mov", "py", "sh", "pl", "rs", "md", "ps", "ai", "cc", "one", "pub", "so", "cab", "ml"}
)
"""Delegated TLDs that are also common file extensions."""
MAX_FINDINGS: Final = 500
"""Per call; a message with more links than this is flagged anyway."""
MAX_IMAGE_PIXELS: Final = 40_000_000
"""Larger images are not decoded (a decompression bomb costs memory and seconds); see
``image_unscannable``."""
MAX_DATA_URI_IMAGES: Final = 16
MAX_DATA_URI_BYTES: Final = 8 * 1024 * 1024

_ATTACHMENT_WORDS: Final = re.compile(r"添付|ファイル|圧縮|解凍|同封|別添|attach|\bfiles?\b|archive|enclosed", re.I)
_NOT_DOMAINS: Final = frozenset({"asp.net", "vb.net", "ado.net", "co.ltd"})
_DOMAIN_TLDS: Final = frozenset({"com", "net", "org", "jp", "info", "biz", "io", "co", "me", "app", "dev", "tokyo"})
_VERSION_BEFORE: Final = re.compile(r"(?:\bv|\bver\.?|\bversion|バージョン)\s*$", re.I)
_CONTEXT: Final = 30
_IMAGE_FORMATS: Final = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "ICO")
"""Pillow plugins allowed to open mail images (never EPS, which runs Ghostscript)."""
_MATRIX_FORMATS: Final = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.AllMatrix)
_IMAGE_MAGIC: Final = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*",
                       b"\x00\x00\x01\x00")


class _VisibleNfkc(dict[int, str]):
    """A :meth:`str.translate` table filled on demand: each code point as
    :func:`mamori.notify.linkcheck.find_links` normalises it before matching (NFKC, then format
    characters and combining marks dropped), so ``text.translate(table)`` is its normalised text."""

    def __missing__(self, code: int) -> str:
        out = "".join(c for c in unicodedata.normalize("NFKC", chr(code))
                      if unicodedata.category(c) not in ("Cf", "Mn", "Me"))
        if len(self) < 65_536:
            self[code] = out
        return out


_VISIBLE_NFKC: Final = _VisibleNfkc()
_ALNUM_I: Final = "A-Za-z0-9\u0130\u0131\u017f\u212a"
"""``[A-Za-z0-9]`` as linkcheck's case-insensitive patterns read it (İ ı ſ K fold to ASCII letters)."""
_WORDISH: Final = r"[^\x00-\x2c\x2e\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"
"""``[\\w\\-]`` or any non-ASCII character: a superset of what linkcheck allows on either side of the
dot of a host name (``[\\w\\-]``) or after ``www.``, written so that it compiles at once."""
_LINK_TRIGGER: Final = re.compile(
    rf"{_WORDISH}\.{_WORDISH}|[:@]|[{_ALNUM_I}](?:[ \t]+(?:\.|[dD][oO][tT]|ドット)|[ \t]*[。・·•∙⋅])"
    r"|[\[\(\{<【〔「『]\s*(?:[.。点@]|ドット|[dD][oO][tT]|[aA][tT]|アット)"
)
"""What a link needs in the normalised text, before or after linkcheck undoes disguises: ``:``
(schemes, IPv6), ``@`` (addresses), a dot between word characters (host names, IPv4, ``www.``), or
what linkcheck turns into a dot or ``@``: ``。・·•∙⋅`` or `` . `` after a letter or digit, ``[.]``,
``(dot)``, ``[at]``, `` dot ``. Text without any of these has no link (see :func:`_linkcheck_lines`)."""


_CACHED_GROUP_CHARS: Final = 512
_CROSS_LINE: Final = tuple(re.compile(f"(?=({pattern}))", re.I) for pattern in (
    r"[\[\(\{<【〔「『]\s*(?:\.|。|dot|ドット|点|at|@|アット)\s*[\]\)\}>】〕」』]",
    r"(?:h\s?[tx*_]\s?[tx*_]\s?p|t\s?t\s?p)\s?s?\s*(?:\[:\]|\(:\)|:)",
    r"(?:\[:\]|\(:\)|:)\s*(?:\[//\]|/\s*/)",
))
"""The only things linkcheck reads across a line break (its ``\\s``): a bracketed dot or ``at``
(``[\\n.\\n]``), a spaced-out or disguised scheme up to its colon (``h t t p :``), and a colon then
slashes (``: / /``). Each is a superset of linkcheck's own patterns (no look-behind, every bracket
and colon form), looked for at every position (so overlapping ones count too): a line feed that
none of their matches spans is one that nothing in linkcheck spans."""


@functools.lru_cache(maxsize=4096)
def _linkcheck_cached(text: str) -> tuple[Finding, ...]:
    return tuple(_linkcheck(text))


def _linkcheck_group(text: str) -> list[Finding]:
    """linkcheck's findings in one group of lines. Short groups are remembered: a firm's mail repeats
    the same lines (signature, footer, disclaimer, standard phrases) message after message, and the
    findings are immutable values of the text alone."""
    return list(_linkcheck_cached(text)) if len(text) <= _CACHED_GROUP_CHARS else _linkcheck(text)


def _linkcheck_lines(text: str) -> list[Finding]:
    """:func:`mamori.notify.linkcheck.find_links` of ``text``, run only on the lines that can hold a
    link: linkcheck normalises text one code point at a time in Python, so a long mail with a few
    links costs what its few lines cost.

    Lines are the text between line feeds, kept together where :data:`_CROSS_LINE` spans the line
    feed. linkcheck normalises each code point alone (a line feed stays a line feed, nothing else
    becomes one), then rewrites disguises and matches links with patterns that, apart from those
    in :data:`_CROSS_LINE`, neither contain a line feed nor look past one (their look-arounds see a
    line feed where a group of lines starts or ends, which they treat like the start or end of the
    text). So each group gives the findings of the whole text that fall in it, shifted by where it
    starts; a group in which :data:`_LINK_TRIGGER` finds nothing gives none
    (see :data:`_LINK_TRIGGER`)."""
    normalized = text.translate(_VISIBLE_NFKC)
    if _LINK_TRIGGER.search(normalized) is None:
        return []
    lines, normalized_lines = text.split("\n"), normalized.split("\n")
    if len(lines) == 1 or len(lines) != len(normalized_lines):
        return _linkcheck_group(text)
    joined: set[int] = set()  # line feeds (by number) that a cross-line construct spans
    for pattern in _CROSS_LINE:
        at = before = 0  # line feeds in normalized[:at], counted as the matches move on
        for m in pattern.finditer(normalized):
            feeds = m.group(1).count("\n")
            if feeds:
                before += normalized.count("\n", at, m.start())
                at = m.start()
                joined.update(range(before, before + feeds))
    found: list[Finding] = []
    start = offset = 0
    for index in range(len(lines)):
        if index in joined and index < len(lines) - 1:
            continue
        group = "\n".join(lines[start : index + 1]) + ("\n" if index < len(lines) - 1 else "")
        if _LINK_TRIGGER.search("\n".join(normalized_lines[start : index + 1])) is not None:
            found += [f if not offset else Finding(f.kind, f.start + offset, f.end + offset, f.text, f.normalized)
                      for f in _linkcheck_group(group)]
        start, offset = index + 1, offset + len(group)
    return found


def _nfkc_visible(text: str) -> str:
    out: list[str] = []
    for ch in text:
        out.extend(c for c in unicodedata.normalize("NFKC", ch) if unicodedata.category(c) not in ("Cf", "Mn", "Me"))
    return "".join(out)


def _scheme(normalized: str) -> str:
    m = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*):", normalized)
    return m.group(1).lower() if m else ""


def _host(normalized: str) -> str:
    rest = normalized.split("://", 1)[1] if "://" in normalized else normalized
    rest = re.split(r"[/?#]", rest, maxsplit=1)[0].rsplit("@", 1)[-1]
    if rest.startswith("["):
        return rest[1:].split("]", 1)[0]
    return rest.rsplit(":", 1)[0] if rest.count(":") == 1 else rest


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _looks_like_file(f: Finding, text: str, names: frozenset[str]) -> bool:
    host = f.normalized
    labels = host.split(".")
    if labels[-1].lower() not in FILE_EXTENSION_TLDS:
        return False
    if host.lower() in names:
        return True
    base = host[: -len(labels[-1]) - 1]
    if not base.isascii() or "_" in base:
        return True
    line_start = text.rfind("\n", 0, f.start) + 1
    line_end = text.find("\n", f.end)
    line_end = len(text) if line_end < 0 else line_end
    before = text[max(line_start, f.start - _CONTEXT) : f.start]
    after = text[f.end : min(line_end, f.end + _CONTEXT)]
    return bool(_ATTACHMENT_WORDS.search(before) or _ATTACHMENT_WORDS.search(after))


def _is_prose(f: Finding) -> bool:
    host = f.normalized
    if host.lower() in _NOT_DOMAINS:
        return True
    tld = host.rsplit(".", 1)[-1]
    return len(tld) >= 2 and tld[0].isupper() and tld[1:].islower() and tld.lower() not in _DOMAIN_TLDS


def _kind(f: Finding) -> str | None:
    """The mail kind of a :mod:`linkcheck` finding, or ``None`` when it is not a link."""
    if f.kind is LinkKind.EMAIL:
        return None
    disguised = f.text != f.normalized
    if disguised:
        invisible = any(unicodedata.category(c) in ("Cf", "Mn", "Me") for c in f.text)
        return "obfuscated" if invisible or _nfkc_visible(f.text) != f.normalized else "fullwidth"
    if f.kind is LinkKind.SHORTENER:
        return "shortener"
    if f.kind is LinkKind.IP or _is_ip(_host(f.normalized)):
        return "ip_address"
    if f.kind is LinkKind.URL:
        return "url"
    return "bare_domain"


def _merge_idn_urls(findings: list[Finding]) -> list[Finding]:
    """``https://例え.jp/`` comes back as ``https://`` and ``例え.jp/`` (the URL pattern stops at CJK
    letters); join a scheme with nothing after it to the host that follows it directly."""
    out: list[Finding] = []
    for f in findings:
        prev = out[-1] if out else None
        if prev is not None and prev.kind is LinkKind.URL and prev.normalized.endswith("://") and prev.end == f.start:
            kind = f.kind if f.kind in (LinkKind.SHORTENER, LinkKind.IP) else LinkKind.URL
            out[-1] = Finding(kind, prev.start, f.end, prev.text + f.text, prev.normalized + f.normalized)
        else:
            out.append(f)
    return out


def _text_findings(text: str, part: str, names: frozenset[str], depth: int = 0) -> list[LinkFinding]:
    out: list[LinkFinding] = []
    for f in _merge_idn_urls(_linkcheck_lines(text)):
        kind = _kind(f)
        if kind is None:
            continue
        if f.kind is LinkKind.URL and _scheme(f.normalized) in ALLOWED_SCHEMES:
            # mailto:a@b?body=https://evil.example - what is inside still counts.
            if depth < 2:
                inner = unquote(f.normalized.split(":", 1)[1])
                out.extend(_text_findings(inner, part, names, depth + 1))
            continue
        host_only = f.kind in (LinkKind.DOMAIN, LinkKind.WWW) and not re.search(r"[/:]", f.normalized)
        if host_only and f.kind is LinkKind.DOMAIN and (_looks_like_file(f, text, names) or _is_prose(f)):
            continue
        if f.kind is LinkKind.IP and _VERSION_BEFORE.search(text[max(0, f.start - 12) : f.start]):
            continue
        out.append(LinkFinding(kind, f.text, part))
    return out


def _unique(findings: Iterable[LinkFinding]) -> list[LinkFinding]:
    seen: set[tuple[str, str]] = set()
    out: list[LinkFinding] = []
    for f in findings:
        key = (f.kind, f.text)
        if key not in seen:
            seen.add(key)
            out.append(f)
            if len(out) >= MAX_FINDINGS:
                break
    return out


def find_links(text: str, part: str, *, attachment_names: Iterable[str] = ()) -> list[LinkFinding]:
    """Every link in ``text`` (a decoded ``text/plain`` body, RFC 2045/2046), in order, one finding
    per distinct (kind, text), at most :data:`MAX_FINDINGS`.

    ``part`` is copied into each finding (where it was found). ``attachment_names`` are the file
    names of the message's attachments, so that a mention of ``report.zip`` is not taken for the
    ``.zip`` domain (see the module docstring). Never raises on any ``str``.
    """
    names = frozenset(n.strip().lower() for n in attachment_names if n)
    return _unique(_text_findings(text, part, names))


# ---------------------------------------------------------------------------------------------
# HTML

_URL_ATTRIBUTES: Final = frozenset({
    "href", "src", "action", "formaction", "background", "poster", "cite", "longdesc", "lowsrc", "dynsrc",
    "codebase", "ping", "manifest", "icon", "profile", "xlink:href", "srcset", "imagesrcset",
})  # fmt: skip
_TEXT_ATTRIBUTES: Final = frozenset({"alt", "title", "value", "placeholder", "aria-label", "label", "content"})
_BLOCK_TAGS: Final = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset", "figcaption",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol",
    "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "title", "option",
})  # fmt: skip
_CSS_URL: Final = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)|@import\s+(?:"([^"]*)"|'([^']*)')""",
                             re.I)
_REFRESH_URL: Final = re.compile(r"""^\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?['"]?([^'"]*)""", re.I)
_MAX_HTML_DEPTH: Final = 3


class _HtmlLinks(HTMLParser):
    """Collects URL-valued attributes, CSS ``url()``, visible text and inline data-URI images."""

    def __init__(self, depth: int) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = depth
        self.hrefs: list[str] = []
        self.text: list[str] = []
        self.attr_text: list[str] = []
        self.script: list[str] = []
        self.images: list[bytes] = []
        self.images_skipped = 0
        self._raw: str | None = None  # "script" or "style" while inside one

    def _url(self, value: str) -> None:
        value = value.strip()
        if not value or value.startswith("#"):
            return
        scheme = _scheme(value)
        if scheme in ALLOWED_SCHEMES:
            self.attr_text.append(unquote(value.split(":", 1)[1]))
            return
        if scheme == "about" and value.lower() == "about:blank":
            return
        if scheme == "data" and value[5:].lstrip().lower().startswith("image/"):
            self._data_image(value)
            return
        self.hrefs.append(value)

    def _data_image(self, value: str) -> None:
        header, _, payload = value.partition(",")
        if "svg" in header.lower():
            self.hrefs.append(value[:200])  # an SVG can carry its own links; don't try to read it here
            return
        if len(self.images) >= MAX_DATA_URI_IMAGES or len(payload) > MAX_DATA_URI_BYTES * 4 // 3 + 4:
            self.images_skipped += 1
            return
        try:
            data = base64.b64decode(unquote(payload), validate=False) if ";base64" in header.lower() else b""
        except (binascii.Error, ValueError):
            data = b""
        if data:
            self.images.append(data)

    def _css(self, css: str) -> None:
        for m in _CSS_URL.finditer(css):
            self._url(next((g for g in m.groups() if g), ""))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        if tag in ("script", "style"):
            self._raw = tag
        if tag in _BLOCK_TAGS:
            self.text.append("\n")
        for name, value in values.items():
            if name in ("srcset", "imagesrcset"):
                for candidate in value.split(","):
                    self._url(candidate.strip().split(" ", 1)[0])
            elif name in _URL_ATTRIBUTES or (name == "data" and tag == "object"):
                self._url(value)
            elif name == "style":
                self._css(value)
            elif name.startswith("on"):
                self.script.append(value)
            elif name in _TEXT_ATTRIBUTES and not (tag == "meta" and name == "content"):
                self.attr_text.append(value)
        if tag == "meta" and values.get("http-equiv", "").strip().lower() == "refresh":
            m = _REFRESH_URL.match(values.get("content", ""))
            if m and m.group(1).strip():
                self._url(m.group(1))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self._raw = None

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._raw = None
        if tag in _BLOCK_TAGS:
            self.text.append("\n")

    def handle_data(self, data: str) -> None:
        if self._raw == "style":
            self._css(data)
        elif self._raw == "script":
            self.script.append(data)
        else:
            self.text.append(data)

    def handle_comment(self, data: str) -> None:
        # Outlook's conditional comments carry real markup: <!--[if mso]><v:roundrect href="...">
        if data.lstrip().startswith("[if") and self.depth < _MAX_HTML_DEPTH:
            inner = _HtmlLinks(self.depth + 1)
            _feed(inner, data)
            self.hrefs.extend(inner.hrefs)
            self.attr_text.extend(inner.attr_text)
            self.attr_text.extend(inner.text)
            self.script.extend(inner.script)
            self.images.extend(inner.images)


def _feed(parser: HTMLParser, html: str) -> None:
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # html.parser is lenient; keep what it read before any surprise
        pass


def _parse_html(html: str) -> _HtmlLinks:
    parser = _HtmlLinks(0)
    _feed(parser, html)
    return parser


def html_text(html: str) -> str:
    """The text a reader sees in ``html`` (no markup, scripts or styles; block elements on their own
    lines), for the checks that read prose, such as the password-in-body check."""
    return "".join(_parse_html(html).text)


def find_links_html(
    html: str, part: str, *, attachment_names: Iterable[str] = (), max_pixels: int = MAX_IMAGE_PIXELS
) -> list[LinkFinding]:
    """Every link in an HTML body (``text/html``): URL-valued attributes as ``html_href``; links in
    the visible text, ``alt``/``title`` text and Outlook conditional comments with their own kinds;
    scheme URLs in scripts and event handlers; QR codes in ``data:image/...`` URIs.

    Parsed with the standard library's :class:`html.parser.HTMLParser` (lenient, like a mail client),
    never with regular expressions over the markup. Never raises on any ``str``.
    """
    parser = _parse_html(html)
    names = frozenset(n.strip().lower() for n in attachment_names if n)
    found = [LinkFinding("html_href", href, part) for href in parser.hrefs]
    found += _text_findings("".join(parser.text), part, names)
    found += _text_findings("\n".join(parser.attr_text), part, names)
    found += [f for f in _text_findings("\n".join(parser.script), part, names) if f.kind != "bare_domain"]
    for data in parser.images:
        found += find_links_in_image(data, f"{part}: data URI image", max_pixels=max_pixels)
    if parser.images_skipped:
        found.append(LinkFinding("image_unscannable", f"{parser.images_skipped} data URI image(s) over the limits",
                                 part))
    return _unique(found)


# ---------------------------------------------------------------------------------------------
# Images


def is_scannable_image(data: bytes) -> bool:
    """Whether ``data`` starts like a raster image this module reads (PNG, JPEG, GIF, BMP, TIFF, ICO,
    WebP), whatever the declared content type."""
    return data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def image_pixels(data: bytes) -> int | None:
    """Width x height from the image header (nothing decoded), or ``None`` if it cannot be read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(BytesIO(data), formats=_IMAGE_FORMATS) as image:
                width, height = image.size
                return int(width) * int(height)
    except Exception:  # same hostile-input reasoning as below
        return None


def find_links_in_image(data: bytes, part: str, *, max_pixels: int = MAX_IMAGE_PIXELS) -> list[LinkFinding]:
    """Links in the QR codes (and other 2-D codes: Micro QR, rMQR, Data Matrix, Aztec, PDF417) of a
    raster image, decoded with zxing-cpp; one ``qr_code`` finding per code whose content has a link.

    Bounded: only the formats in ``_IMAGE_FORMATS`` are opened, the size is read from the header and
    images over ``max_pixels`` are not decoded. Anything that stops the scan is an
    ``image_unscannable`` finding naming the reason, never an exception.

    What an image holds is remembered by its digest (BLAKE2b-128) for the last
    :data:`_IMAGE_MEMORY` images: a firm's mail carries the same logo and banner images again and
    again, and decoding one costs far more than the rest of a small message.
    """
    key = (hashlib.blake2b(data, digest_size=16).digest(), max_pixels)
    with _IMAGE_LOCK:
        known = _IMAGE_RESULTS.get(key)
        if known is not None:
            _IMAGE_RESULTS.move_to_end(key)
    if known is None:
        known, lasting = _image_codes(data, max_pixels)
        if lasting:
            with _IMAGE_LOCK:
                _IMAGE_RESULTS[key] = known
                while len(_IMAGE_RESULTS) > _IMAGE_MEMORY:
                    _IMAGE_RESULTS.popitem(last=False)
    return [LinkFinding(kind, text, part) for kind, text in known]


_IMAGE_MEMORY: Final = 1024
_IMAGE_RESULTS: Final[OrderedDict[tuple[bytes, int], tuple[tuple[str, str], ...]]] = OrderedDict()
_IMAGE_LOCK: Final = threading.Lock()


def _image_codes(data: bytes, max_pixels: int) -> tuple[tuple[tuple[str, str], ...], bool]:
    """(kind, text) of each finding of :func:`find_links_in_image`, and whether the answer is the
    image's own (not an error that another try might not meet, such as running out of memory)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning: we apply our own, lower limit
            with Image.open(BytesIO(data), formats=_IMAGE_FORMATS) as image:
                width, height = image.size
                if width * height > max_pixels:
                    too_big = f"{width}x{height} pixels is over the {max_pixels:,}-pixel limit"
                    return (("image_unscannable", too_big),), True
                if image.format == "JPEG":
                    image.draft("L", (width, height))
                gray = image.convert("L")
        low, high = gray.getextrema()
        if low == high:  # one shade all over (a blank or solid-colour image): no code to read
            return (), True
        barcodes = zxingcpp.read_barcodes(gray, formats=_MATRIX_FORMATS)
    except Exception as exc:  # Pillow's decoders raise many types on hostile input
        reason = "not an image format that can be read" if isinstance(exc, UnidentifiedImageError) else (
            f"{type(exc).__name__}: {exc}"[:200])
        return (("image_unscannable", reason),), False
    found: list[LinkFinding] = []
    for barcode in barcodes:
        content = barcode.text
        if content and _text_findings(content, "", frozenset()):
            found.append(LinkFinding("qr_code", content[:2000], ""))
    return tuple((f.kind, f.text) for f in _unique(found)), True
