"""Sender-spoofing posture of a mail domain: what an attacker can send in the firm's name, and the fix.

The FSA's 2025 supervisory guideline, the JSDA guideline and the フィッシング対策協議会 guideline ask
securities firms to harden their own domains against spoofing: DMARC with an *enforcing* policy,
SPF and DKIM behind it, and the same for domains that never send mail (parked domains). This module
reads the public DNS (and one HTTPS policy file) of a domain and reports, check by check, what is
right, what is wrong, and the concrete record to publish instead, in English and Japanese.

Checks (each finding's ``check`` is one of these ids):

* ``domain.exists``, ``dns.reachable`` — the domain resolves at all (NXDOMAIN, timeouts and SERVFAIL
  become findings, never exceptions).
* ``mx.records``, ``mx.null``, ``mx.resolve`` — RFC 5321 §5.1 (implicit MX), RFC 7505 (null MX).
* ``spf.record``, ``spf.syntax``, ``spf.all``, ``spf.lookups``, ``spf.void_lookups``, ``spf.ptr``,
  ``spf.include``, ``spf.mx_limit``, ``spf.after_all``, ``spf.redirect_ignored``, ``spf.dns`` — RFC 7208
  (one record §4.5, ABNF §12, 10 DNS-querying terms and 2 void lookups §4.6.4, ``ptr`` §5.5, ``redirect``
  ignored next to ``all`` §6.1). Includes and redirects are evaluated recursively with a loop guard.
* ``dkim.selectors``, ``dkim.key``, ``dkim.revoked``, ``dkim.testing``, ``dkim.hash``, ``dkim.syntax`` —
  RFC 6376 §3.6.1 (key record), RFC 8301 (RSA ≥ 1024 bits required, ≥ 2048 recommended; no SHA-1),
  RFC 8463 (Ed25519).
* ``dmarc.record``, ``dmarc.syntax``, ``dmarc.policy``, ``dmarc.subdomain_policy``, ``dmarc.pct``,
  ``dmarc.testing``, ``dmarc.alignment``, ``dmarc.rua``, ``dmarc.ruf``, ``dmarc.report_authorization`` —
  RFC 7489 (policy discovery with the organizational-domain fallback §6.6.3, tags §6.3, external
  report destinations §7.1), DMARCbis tags ``np``, ``psd`` and ``t`` recognised.
* ``bimi.record``, ``bimi.dmarc``, ``bimi.logo``, ``bimi.certificate`` — BIMI (draft-brand-indicators-
  for-message-identification): informational, never scored; needs DMARC enforcement.
* ``mta_sts.record``, ``mta_sts.policy``, ``mta_sts.mode``, ``mta_sts.mx``, ``mta_sts.max_age`` —
  RFC 8461 (TXT §3.1, policy file §3.2–3.3, MX pattern matching §4.1).
* ``tls_rpt.record`` — RFC 8460 §3.

Scoring. A domain that receives mail earns up to 100 points: DMARC 40, SPF 25, DKIM 15, MTA-STS 10,
TLS-RPT 5, MX 5. A parked domain (null MX, or no MX and ``v=spf1 -all``) is scored on what matters
for it: DMARC 50, SPF 30, null MX 20 (M3AAWG parked-domain practice). Grades: A ≥ 90, B ≥ 80,
C ≥ 65, D ≥ 50, else F. A DNS failure scores 0 for the part it hides.

Organizational domain (for the DMARC fallback and for "is this report address external?"): the
public-suffix rule. A built-in list covers the generic one-label rule, the Japanese second-level
suffixes (co.jp, ne.jp, or.jp, ac.jp, go.jp, gr.jp, ed.jp, lg.jp, ad.jp) and a few common foreign
ones; when the Debian/Ubuntu ``publicsuffix`` file is installed it is read as well. Without that
file, Japanese geographic names (``*.tokyo.jp``, ``city.*.jp`` ...) are not known to be suffixes.
DMARCbis replaces the list with a DNS tree walk; that is not implemented here.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import dns.exception
import dns.name
import dns.rdtypes.ANY.MX
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.resolver
import httpx
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

Status = Literal["pass", "warn", "fail", "info"]

DEFAULT_SELECTORS: tuple[str, ...] = (
    "default", "selector1", "selector2", "google", "k1", "k2", "s1", "s2", "mail", "dkim",
)
"""Selectors tried when the caller names none: Microsoft 365 (selector1/2), Google Workspace (google),
Mailchimp/Mandrill (k1/k2), common MTA defaults. DKIM selectors cannot be listed from DNS, so a domain
that signs with another selector looks unsigned here: pass the real ones."""

SYSTEM_PSL_PATHS: tuple[str, ...] = ("/usr/share/publicsuffix/public_suffix_list.dat",)

_BUILTIN_SUFFIXES: tuple[str, ...] = (
    # Japan: the organisation-type second-level domains (JPRS).
    "jp", "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp", "gr.jp", "ed.jp", "lg.jp", "ad.jp",
    # A few common foreign second-level suffixes; everything else falls to the one-label rule.
    "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "com.cn", "net.cn", "org.cn",
    "com.tw", "com.hk", "co.kr", "com.sg", "co.nz", "com.br",
)

_WEIGHTS_MAIL: dict[str, int] = {"dmarc": 40, "spf": 25, "dkim": 15, "mta_sts": 10, "tls_rpt": 5, "mx": 5}
_WEIGHTS_PARKED: dict[str, int] = {"dmarc": 50, "spf": 30, "mx": 20}
_GRADES: tuple[tuple[int, str], ...] = ((90, "A"), (80, "B"), (65, "C"), (50, "D"), (0, "F"))

SPF_LOOKUP_LIMIT = 10
SPF_VOID_LIMIT = 2
_SPF_WALK_CAP = 50
"""Stop following includes after this many lookups (the count is then a lower bound)."""


# ---------------------------------------------------------------------------------------------------
# Public suffix list
# ---------------------------------------------------------------------------------------------------


class PublicSuffixList:
    """The public-suffix algorithm (https://publicsuffix.org/list/): normal, wildcard (``*.``) and
    exception (``!``) rules, and the implicit ``*`` rule (every TLD is a public suffix)."""

    def __init__(self, rules: Iterable[str]) -> None:
        self._rules: set[str] = set()
        self._wildcards: set[str] = set()
        self._exceptions: set[str] = set()
        for raw in rules:
            rule = raw.strip().lower()
            if not rule or rule.startswith("//"):
                continue
            rule = rule.split()[0]
            if rule.startswith("!"):
                self._exceptions.add(rule[1:])
            elif rule.startswith("*."):
                self._wildcards.add(rule[2:])
            else:
                self._rules.add(rule)

    @classmethod
    def builtin(cls) -> PublicSuffixList:
        return cls(_BUILTIN_SUFFIXES)

    @classmethod
    def from_file(cls, path: str | Path, *, extra: Iterable[str] = _BUILTIN_SUFFIXES) -> PublicSuffixList:
        """Read a ``public_suffix_list.dat`` (IDN rules are converted to their A-label form)."""
        rules: list[str] = list(extra)
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith("//"):
                continue
            prefix = "!" if line.startswith("!") else "*." if line.startswith("*.") else ""
            body = line[len(prefix):]
            try:
                body = _to_ascii(body)
            except ValueError:
                continue
            rules.append(prefix + body)
        return cls(rules)

    def public_suffix(self, domain: str) -> str:
        labels = _norm(domain).split(".")
        for i in range(len(labels)):
            candidate = ".".join(labels[i:])
            if candidate in self._exceptions:
                return ".".join(labels[i + 1:])
            if candidate in self._rules:
                return candidate
            parent = ".".join(labels[i + 1:])
            if i + 1 < len(labels) and parent in self._wildcards:
                return candidate
        return labels[-1]

    def organizational_domain(self, domain: str) -> str:
        """RFC 7489 §3.2: the public suffix plus one label (the domain itself if it is a suffix)."""
        name = _norm(domain)
        suffix = self.public_suffix(name)
        if name == suffix:
            return name
        labels = name.split(".")
        return ".".join(labels[-(len(suffix.split(".")) + 1):])


@lru_cache(maxsize=1)
def default_psl() -> PublicSuffixList:
    """The built-in rules, plus the system's public-suffix file when one is installed."""
    for candidate in SYSTEM_PSL_PATHS:
        if Path(candidate).is_file():
            try:
                return PublicSuffixList.from_file(candidate)
            except (OSError, UnicodeDecodeError):
                break
    return PublicSuffixList.builtin()


def organizational_domain(domain: str, psl: PublicSuffixList | None = None) -> str:
    return (psl or default_psl()).organizational_domain(domain)


# ---------------------------------------------------------------------------------------------------
# Report model
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One check: what was seen (``message_*``) and what to do about it (``fix_*``, empty when nothing)."""

    check: str
    status: Status
    message_en: str
    message_ja: str
    fix_en: str = ""
    fix_ja: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "status": self.status, "message_en": self.message_en,
                "message_ja": self.message_ja, "fix_en": self.fix_en, "fix_ja": self.fix_ja,
                "detail": dict(self.detail)}


@dataclass(frozen=True)
class DomainPosture:
    """The result for one domain. ``scores`` maps each scored part to ``(earned, maximum)``;
    ``records`` holds what was read from DNS (and the MTA-STS policy) for the report."""

    domain: str
    score: int
    grade: str
    parked: bool
    findings: tuple[Finding, ...]
    scores: Mapping[str, tuple[int, int]]
    records: Mapping[str, Any]

    def by_check(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    def statuses(self, check: str) -> set[str]:
        return {f.status for f in self.findings if f.check == check}

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "score": self.score, "grade": self.grade, "parked": self.parked,
                "scores": {k: list(v) for k, v in self.scores.items()},
                "findings": [f.to_dict() for f in self.findings], "records": dict(self.records)}


@dataclass(frozen=True)
class HttpsOptions:
    """How the MTA-STS policy (``https://mta-sts.<domain>/.well-known/mta-sts.txt``) is fetched.

    Production leaves everything at the default: the system trust store, port 443, normal name
    resolution. Tests (or a firm behind TLS inspection) give a CA bundle and a port. The certificate
    is always checked against ``mta-sts.<domain>`` (RFC 8461 §3.3), even when connecting to an
    explicit ``address`` or to the address found through the checker's own resolver.
    """

    ca_bundle: str | Path | None = None
    """PEM file of the CAs to trust instead of the default bundle."""
    port: int = 443
    timeout: float = 10.0
    address: str | None = None
    """Connect to this IP address instead of resolving ``mta-sts.<domain>``."""
    resolve_with_resolver: bool = True
    """When :func:`check_domain` was given a resolver, resolve ``mta-sts.<domain>`` through it too, so
    one resolver answers for the whole check (otherwise the system resolver is used)."""
    max_bytes: int = 64 * 1024
    """RFC 8461 §3.3: senders may stop at 64 KiB."""


# ---------------------------------------------------------------------------------------------------
# DNS access: every answer, including failures, becomes a value
# ---------------------------------------------------------------------------------------------------

LookupStatus = Literal["ok", "nxdomain", "nodata", "timeout", "servfail", "error"]


@dataclass(frozen=True)
class _Answer:
    status: LookupStatus
    values: tuple[Any, ...] = ()
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def void(self) -> bool:
        return self.status in ("nxdomain", "nodata")

    @property
    def failed(self) -> bool:
        return self.status in ("timeout", "servfail", "error")

    def describe(self) -> tuple[str, str]:
        """(English, Japanese) description of a failure."""
        return {
            "nxdomain": ("the name does not exist (NXDOMAIN)", "名前が存在しません (NXDOMAIN)"),
            "nodata": ("no record of that type (NODATA)", "該当する種類のレコードがありません (NODATA)"),
            "timeout": ("the DNS query timed out", "DNS問い合わせがタイムアウトしました"),
            "servfail": ("the name servers failed to answer (SERVFAIL)",
                         "ネームサーバが応答に失敗しました (SERVFAIL)"),
            "error": (f"DNS error: {self.error}", f"DNSエラー: {self.error}"),
            "ok": ("ok", "正常"),
        }[self.status]


class _Dns:
    def __init__(self, resolver: dns.resolver.Resolver) -> None:
        self.resolver = resolver
        self._cache: dict[tuple[str, str], _Answer] = {}

    def query(self, name: str, rdtype: str) -> _Answer:
        key = (_norm(name), rdtype)
        if key not in self._cache:
            self._cache[key] = self._query(key[0], rdtype)
        return self._cache[key]

    def _query(self, name: str, rdtype: str) -> _Answer:
        try:
            answer = self.resolver.resolve(dns.name.from_text(name), rdtype, search=False)
        except dns.resolver.NXDOMAIN:
            return _Answer("nxdomain")
        except dns.resolver.NoAnswer:
            return _Answer("nodata")
        except dns.exception.Timeout:
            return _Answer("timeout", error="timeout")
        except dns.resolver.NoNameservers as exc:
            return _Answer("servfail", error=str(exc))
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            return _Answer("error", error=str(exc) or type(exc).__name__)
        values: list[Any] = []
        for rdata in answer:
            if isinstance(rdata, dns.rdtypes.ANY.TXT.TXT):
                values.append(b"".join(rdata.strings).decode("utf-8", "replace"))
            elif isinstance(rdata, dns.rdtypes.ANY.MX.MX):
                host = "." if rdata.exchange == dns.name.root else _norm(rdata.exchange.to_text())
                values.append((int(rdata.preference), host))
            elif isinstance(rdata, dns.rdtypes.IN.A.A | dns.rdtypes.IN.AAAA.AAAA):
                values.append(str(rdata.address))
            else:
                values.append(rdata.to_text())
        if not values:
            return _Answer("nodata")
        return _Answer("ok", tuple(values))

    def addresses(self, name: str) -> _Answer:
        a = self.query(name, "A")
        if a.ok:
            return a
        aaaa = self.query(name, "AAAA")
        if aaaa.ok:
            return aaaa
        if a.failed:
            return a
        return aaaa if aaaa.failed else _Answer("nxdomain" if a.status == "nxdomain" else "nodata")


# ---------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------

_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _to_ascii(name: str) -> str:
    name = _norm(name)
    if name.isascii():
        return name
    import idna

    try:
        return ".".join(idna.encode(label, uts46=True).decode("ascii") for label in name.split("."))
    except idna.IDNAError as exc:
        raise ValueError(f"not a valid internationalised domain name: {name!r} ({exc})") from exc


def normalize_domain(domain: str) -> str:
    """Lower-case A-label form of ``domain``; ``ValueError`` when it cannot be a host name."""
    name = _to_ascii(domain)
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"not a domain name: {domain!r}")
    return name


def _valid_hostname(name: str) -> bool:
    name = name.rstrip(".")
    labels = name.lower().split(".")
    return bool(name) and len(name) <= 253 and all(_LABEL.match(x) for x in labels) and not labels[-1].isdigit()


def _tags(record: str) -> tuple[list[tuple[str, str]], list[str]]:
    """A ``tag=value; ...`` list (DKIM RFC 6376 §3.2, DMARC RFC 7489 §6.4, BIMI, TLS-RPT, MTA-STS TXT).
    Returns the pairs in order and the pieces that are not ``tag=value``."""
    pairs: list[tuple[str, str]] = []
    bad: list[str] = []
    for piece in record.split(";"):
        piece = piece.strip()
        if not piece:
            continue
        if "=" not in piece:
            bad.append(piece)
            continue
        tag, value = piece.split("=", 1)
        pairs.append((tag.strip().lower(), re.sub(r"\s+", " ", value.strip())))
    return pairs, bad


class _Report:
    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def add(self, check: str, status: Status, en: str, ja: str, fix_en: str = "", fix_ja: str = "",
            **detail: Any) -> None:
        self.findings.append(Finding(check, status, en, ja, fix_en, fix_ja, detail))

    def dns_failure(self, check: str, what_en: str, what_ja: str, name: str, answer: _Answer) -> None:
        en, ja = answer.describe()
        self.add(check, "fail", f"Could not read {what_en} at {name}: {en}.",
                 f"{name} の{what_ja}を取得できませんでした: {ja}。",
                 "Check the domain's authoritative name servers (all of them answer, the zone is "
                 "signed correctly if DNSSEC is on) and run the check again.",
                 "ドメインの権威ネームサーバ(すべてのサーバが応答すること、DNSSEC 利用時は署名が正しいこと)を確認し、"
                 "再度チェックしてください。", name=name, dns_status=answer.status)


# ---------------------------------------------------------------------------------------------------
# SPF (RFC 7208)
# ---------------------------------------------------------------------------------------------------

_SPF_MECH = re.compile(r"^([+\-~?]?)(all|include|a|mx|ptr|ip4|ip6|exists)(?=$|[:/])(.*)$", re.I)
_SPF_MOD = re.compile(r"^([a-z][a-z0-9_.\-]*)=(.*)$", re.I)
_MACRO = re.compile(r"%\{[slodiphcrtv]\d*r?[.\-+,/_=]*\}|%%|%_|%-", re.I)
_DUAL_CIDR = re.compile(r"^(?::(?P<dom>[^/]+))?(?:/(?P<v4>\d{1,2}))?(?://(?P<v6>\d{1,3}))?$")

_QUALIFIER_NAMES = {"+": "pass (+all)", "-": "fail (-all)", "~": "softfail (~all)", "?": "neutral (?all)"}


def _spf_records(txts: Sequence[str]) -> list[str]:
    """RFC 7208 §4.5: TXT records that begin with ``v=spf1`` followed by a space or the end."""
    out = []
    for txt in txts:
        head = txt[:7].lower()
        if head == "v=spf1" or head == "v=spf1 ":
            out.append(txt)
    return out


def _valid_domain_spec(spec: str) -> bool:
    if "%" in spec:
        rest = _MACRO.sub("", spec)
        return "%" not in rest and all(0x21 <= ord(c) <= 0x7E for c in rest)
    return _valid_hostname(spec)


@dataclass(frozen=True)
class _SpfTerm:
    qualifier: str
    name: str
    value: str
    """For mechanisms the target domain (may be empty: the current domain); for modifiers the value."""
    modifier: bool
    raw: str


def _parse_spf(record: str) -> tuple[list[_SpfTerm], list[str]]:
    """Parse one SPF record (RFC 7208 §12). Returns the terms and the syntax errors (permerror)."""
    terms: list[_SpfTerm] = []
    errors: list[str] = []
    for raw in record.split()[1:]:
        m = _SPF_MECH.match(raw)
        if m:
            qualifier, name, rest = m.group(1) or "+", m.group(2).lower(), m.group(3)
            target = ""
            if name == "all":
                if rest:
                    errors.append(f"'{raw}': 'all' takes no argument")
            elif name in ("include", "exists"):
                if not rest.startswith(":") or not _valid_domain_spec(rest[1:]):
                    errors.append(f"'{raw}': '{name}' needs ':<domain>'")
                target = rest[1:]
            elif name in ("a", "mx"):
                d = _DUAL_CIDR.match(rest)
                if (not d or (d["dom"] is not None and not _valid_domain_spec(d["dom"]))
                        or (d["v4"] is not None and int(d["v4"]) > 32)
                        or (d["v6"] is not None and int(d["v6"]) > 128)):
                    errors.append(f"'{raw}': bad domain or prefix length")
                elif d["dom"]:
                    target = d["dom"]
            elif name == "ptr":
                if rest and (not rest.startswith(":") or not _valid_domain_spec(rest[1:])):
                    errors.append(f"'{raw}': bad domain")
                target = rest[1:] if rest else ""
            else:  # ip4 / ip6
                errors.extend(_check_ip_mechanism(raw, name, rest))
            terms.append(_SpfTerm(qualifier, name, target, False, raw))
            continue
        mod = _SPF_MOD.match(raw)
        if mod:
            name, value = mod.group(1).lower(), mod.group(2)
            if name in ("redirect", "exp") and not _valid_domain_spec(value):
                errors.append(f"'{raw}': '{name}=' needs a domain")
            terms.append(_SpfTerm("", name, value, True, raw))
            continue
        errors.append(f"'{raw}': unknown mechanism or bad syntax")
    for name in ("redirect", "exp"):
        if sum(1 for t in terms if t.modifier and t.name == name) > 1:
            errors.append(f"'{name}=' appears more than once")
    return terms, errors


def _check_ip_mechanism(raw: str, name: str, rest: str) -> list[str]:
    if not rest.startswith(":"):
        return [f"'{raw}': '{name}' needs ':<address>'"]
    addr, _, prefix = rest[1:].partition("/")
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return [f"'{raw}': '{addr}' is not an IP address"]
    if (name == "ip4") != (ip.version == 4):
        return [f"'{raw}': {name} with an IPv{ip.version} address"]
    if prefix:
        limit = 32 if name == "ip4" else 128
        if not prefix.isdigit() or int(prefix) > limit:
            return [f"'{raw}': bad prefix length '/{prefix}'"]
    return []


@dataclass
class _SpfWalk:
    dns: _Dns
    lookups: int = 0
    void: int = 0
    void_names: list[str] = field(default_factory=list)
    syntax: list[str] = field(default_factory=list)
    include_problems: list[str] = field(default_factory=list)
    temperrors: list[str] = field(default_factory=list)
    ptr: list[str] = field(default_factory=list)
    mx_overflow: list[str] = field(default_factory=list)
    after_all: list[str] = field(default_factory=list)
    redirect_ignored: list[str] = field(default_factory=list)
    tree: list[dict[str, Any]] = field(default_factory=list)
    capped: bool = False

    def count(self) -> bool:
        self.lookups += 1
        if self.lookups > _SPF_WALK_CAP:
            self.capped = True
            return False
        return True

    def note_void(self, name: str, answer: _Answer) -> None:
        if answer.void:
            self.void += 1
            self.void_names.append(name)
        elif answer.failed:
            self.temperrors.append(f"{name}: {answer.describe()[0]}")

    def fetch(self, domain: str, via: str) -> str | None:
        answer = self.dns.query(domain, "TXT")
        self.note_void(domain, answer)
        if answer.failed:
            return None
        records = _spf_records(answer.values) if answer.ok else []
        if not records:
            self.include_problems.append(f"{via}:{domain} has no SPF record (permerror)")
            return None
        if len(records) > 1:
            self.include_problems.append(f"{via}:{domain} has {len(records)} SPF records (permerror)")
            return None
        return records[0]

    def walk(self, domain: str, record: str, chain: tuple[str, ...], depth: int) -> str | None:
        """Count the DNS-querying terms of ``record`` and of everything it includes; return the
        qualifier of the ``all`` that ends the evaluation (own, or through ``redirect=``)."""
        terms, errors = _parse_spf(record)
        self.tree.append({"domain": domain, "depth": depth, "record": record})
        self.syntax.extend(f"{domain}: {e}" for e in errors)
        all_terms = [t for t in terms if not t.modifier and t.name == "all"]
        if all_terms:
            index = terms.index(all_terms[0])
            later = [t.raw for t in terms[index + 1:] if not t.modifier]
            if later:
                self.after_all.append(f"{domain}: {' '.join(later)}")
        for term in terms:
            if term.modifier or term.name in ("all", "ip4", "ip6"):
                continue
            if not self.count():
                return all_terms[0].qualifier if all_terms else None
            target = _norm(term.value) if term.value else domain
            if "%" in target:
                continue  # macros depend on the message; counted, not resolved
            if term.name == "include":
                if target in chain:
                    self.include_problems.append(f"{domain}: include loop through {target}")
                    continue
                sub = self.fetch(target, "include")
                if sub is not None:
                    self.walk(target, sub, (*chain, target), depth + 1)
            elif term.name == "a":
                self.note_void(target, self.dns.addresses(target))
            elif term.name == "mx":
                answer = self.dns.query(target, "MX")
                self.note_void(target, answer)
                if answer.ok and len(answer.values) > 10:
                    self.mx_overflow.append(f"{domain}: mx:{target} has {len(answer.values)} MX records")
            elif term.name == "exists":
                self.note_void(target, self.dns.query(target, "A"))
            elif term.name == "ptr":
                self.ptr.append(domain)
        redirects = [t for t in terms if t.modifier and t.name == "redirect"]
        if all_terms:
            if redirects:
                self.redirect_ignored.append(domain)
            return all_terms[0].qualifier
        if redirects and "%" not in redirects[0].value:
            target = redirects[0].value.lower().rstrip(".")
            if not self.count():
                return None
            if target in chain:
                self.include_problems.append(f"{domain}: redirect loop through {target}")
                return None
            sub = self.fetch(target, "redirect")
            if sub is not None:
                return self.walk(target, sub, (*chain, target), depth + 1)
        return None


def _spf_with_all(record: str, qualifier: str = "-") -> str:
    terms = [t for t in record.split()[1:] if not re.fullmatch(r"[+\-~?]?all", t, re.I)
             and not t.lower().startswith("redirect=")]
    return " ".join(["v=spf1", *terms, f"{qualifier}all"])


def _check_spf(dns_: _Dns, domain: str, apex_txt: _Answer, parked: bool, report: _Report,
               records: dict[str, Any]) -> int:
    weight = (_WEIGHTS_PARKED if parked else _WEIGHTS_MAIL)["spf"]
    if apex_txt.failed:
        report.dns_failure("spf.record", "the SPF record (TXT)", "SPF レコード (TXT)", domain, apex_txt)
        return 0
    spf = _spf_records(apex_txt.values) if apex_txt.ok else []
    records["spf"] = spf
    null_fix_en = "Publish the null SPF record `v=spf1 -all` (this domain sends no mail)."
    null_fix_ja = "送信しないドメインであることを示す `v=spf1 -all` を公開してください。"
    if not spf:
        if parked:
            report.add("spf.record", "fail", f"{domain} has no SPF record: anyone can send as this parked domain "
                       "without an SPF failure.",
                       f"{domain} に SPF レコードがありません。メールを送らないドメインでも、なりすまし送信が SPF で"
                       "拒否されません。", null_fix_en, null_fix_ja)
        else:
            report.add("spf.record", "fail", f"{domain} has no SPF record (RFC 7208): receivers cannot tell which "
                       "servers may send as this domain.",
                       f"{domain} に SPF レコード (RFC 7208) がありません。"
                       "受信側はどのサーバが正規の送信元か判断できません。",
                       "List every service that sends as this domain and publish one TXT record such as "
                       "`v=spf1 ip4:<your outbound IP> include:<your mail provider> -all`.",
                       "このドメインで送信するサービスをすべて洗い出し、`v=spf1 ip4:<送信サーバのIP> "
                       "include:<メール事業者> -all` "
                       "のような TXT レコードを1つだけ公開してください。")
        return 0
    if len(spf) > 1:
        report.add("spf.record", "fail", f"{domain} publishes {len(spf)} SPF records; RFC 7208 §4.5 makes that a "
                   "permanent error, so SPF fails for every message.",
                   f"{domain} に SPF レコードが {len(spf)} 個あります。RFC 7208 §4.5 により permerror となり、すべての"
                   "メールで SPF が機能しません。",
                   "Merge them into a single `v=spf1 ... -all` TXT record and delete the others.",
                   "1つの `v=spf1 ... -all` レコードに統合し、残りは削除してください。", records=spf)
        return 0
    record = spf[0]
    walk = _SpfWalk(dns_)
    qualifier = walk.walk(domain, record, (domain,), 0)
    records["spf_tree"] = walk.tree
    report.add("spf.record", "pass", f"One SPF record: {record}", f"SPF レコードは1つです: {record}", record=record)

    permerror = False
    if walk.syntax:
        permerror = True
        report.add("spf.syntax", "fail", "SPF syntax errors (permerror, SPF fails for every message): "
                   + "; ".join(walk.syntax),
                   "SPF の構文エラーがあります (permerror となり SPF が機能しません): " + "; ".join(walk.syntax),
                   "Correct the listed terms (RFC 7208 §12): e.g. `ip4:` takes an IPv4 address, `include:` a domain.",
                   "指摘された項目を RFC 7208 §12 の構文どおりに修正してください (例: `ip4:` には IPv4 アドレス、"
                   "`include:` にはドメインを指定)。", errors=walk.syntax)
    if walk.include_problems:
        permerror = True
        report.add("spf.include", "fail", "SPF include/redirect problems: " + "; ".join(walk.include_problems),
                   "SPF の include / redirect に問題があります: " + "; ".join(walk.include_problems),
                   "Remove includes of domains without exactly one SPF record, and break any loop.",
                   "SPF レコードが1つだけ存在するドメインのみを include し、ループを解消してください。",
                   problems=walk.include_problems)
    if walk.mx_overflow:
        permerror = True
        report.add("spf.mx_limit", "fail", "More than 10 MX names behind an `mx` term (RFC 7208 §4.6.4): "
                   + "; ".join(walk.mx_overflow),
                   "`mx` の参照先 MX が10件を超えています (RFC 7208 §4.6.4): " + "; ".join(walk.mx_overflow),
                   "Replace the `mx` term with `ip4:`/`ip6:` ranges of the sending servers.",
                   "`mx` を送信サーバの `ip4:`/`ip6:` 指定に置き換えてください。")
    over = "+" if walk.capped else ""
    if walk.lookups > SPF_LOOKUP_LIMIT:
        permerror = True
        report.add("spf.lookups", "fail", f"SPF needs {walk.lookups}{over} DNS lookups (include, a, mx, ptr, exists, "
                   f"redirect, counted through nested includes); the limit is {SPF_LOOKUP_LIMIT} (RFC 7208 §4.6.4), "
                   "so receivers return permerror and SPF fails.",
                   f"SPF の評価に {walk.lookups}{over} 回の DNS 参照 (入れ子の include を含む include, a, mx, ptr, "
                   f"exists, redirect) が必要です。上限は {SPF_LOOKUP_LIMIT} 回 (RFC 7208 §4.6.4) のため permerror と"
                   "なり、SPF が機能しません。",
                   "Bring it to 10 or fewer: drop includes of services no longer used, replace `a`/`mx` with "
                   "`ip4:`/`ip6:`, flatten includes into IP ranges (keep them updated), or move bulk senders to a "
                   "subdomain with its own SPF.",
                   "10回以下にしてください: 使っていないサービスの include を削除する、`a`/`mx` を `ip4:`/`ip6:` に"
                   "置き換える、include を IP アドレスに展開する (変更に追随すること)、大量配信サービスは専用の"
                   "サブドメインに分ける、など。", lookups=walk.lookups)
    elif walk.lookups >= SPF_LOOKUP_LIMIT - 1:
        report.add("spf.lookups", "warn", f"SPF needs {walk.lookups} of the {SPF_LOOKUP_LIMIT} allowed DNS lookups: "
                   "one more include breaks it.",
                   f"SPF の DNS 参照回数が {walk.lookups} 回で、上限 {SPF_LOOKUP_LIMIT} 回に近づいています。",
                   "Remove unused includes before adding any sender.",
                   "送信元を追加する前に、不要な include を削除してください。", lookups=walk.lookups)
    else:
        report.add("spf.lookups", "pass", f"SPF needs {walk.lookups} DNS lookups (limit {SPF_LOOKUP_LIMIT}).",
                   f"SPF の DNS 参照回数は {walk.lookups} 回です (上限 {SPF_LOOKUP_LIMIT} 回)。", lookups=walk.lookups)
    if walk.void > SPF_VOID_LIMIT:
        permerror = True
        report.add("spf.void_lookups", "fail", f"{walk.void} SPF lookups return no data ({', '.join(walk.void_names)});"
                   f" more than {SPF_VOID_LIMIT} is a permerror (RFC 7208 §4.6.4).",
                   f"SPF の参照先のうち {walk.void} 件がレコードを返しません ({', '.join(walk.void_names)})。"
                   f"{SPF_VOID_LIMIT} 件を超えると permerror です (RFC 7208 §4.6.4)。",
                   "Remove the terms that point at names without records.",
                   "レコードの存在しない名前を指す項目を削除してください。", void=walk.void, names=walk.void_names)
    elif walk.void:
        report.add("spf.void_lookups", "warn",
                   f"{walk.void} SPF lookup(s) return no data: {', '.join(walk.void_names)}.",
                   f"SPF の参照先のうち {walk.void} 件がレコードを返しません: {', '.join(walk.void_names)}。",
                   "Remove the terms that point at names without records.",
                   "レコードの存在しない名前を指す項目を削除してください。", void=walk.void, names=walk.void_names)
    if walk.temperrors:
        report.add("spf.dns", "warn", "Some names behind the SPF record could not be resolved (temperror): "
                   + "; ".join(walk.temperrors),
                   "SPF の参照先の一部を解決できませんでした (temperror): " + "; ".join(walk.temperrors),
                   "Check the name servers of the included domains.",
                   "include 先ドメインのネームサーバを確認してください。")
    if walk.ptr:
        report.add("spf.ptr", "warn", "The SPF record uses `ptr`, which RFC 7208 §5.5 says SHOULD NOT be used (slow, "
                   "unreliable, and some receivers ignore it).",
                   "SPF で `ptr` が使われています。RFC 7208 §5.5 は使用しないよう求めています (低速で不確実、"
                   "無視する受信側もあります)。",
                   "Replace `ptr` with `ip4:`/`ip6:` ranges of the sending servers.",
                   "`ptr` を送信サーバの `ip4:`/`ip6:` 指定に置き換えてください。")
    if walk.after_all:
        report.add("spf.after_all", "warn", "Terms after `all` are never evaluated: " + "; ".join(walk.after_all),
                   "`all` より後ろの項目は評価されません: " + "; ".join(walk.after_all),
                   "Move those terms before `all`.", "それらの項目を `all` の前に移動してください。")
    if walk.redirect_ignored:
        report.add("spf.redirect_ignored", "warn", "`redirect=` is ignored when the record has `all` (RFC 7208 §6.1).",
                   "`all` があるレコードでは `redirect=` は無視されます (RFC 7208 §6.1)。",
                   "Keep either `redirect=` or `all`, not both.", "`redirect=` と `all` のどちらか一方にしてください。")

    earned = _spf_all_finding(domain, record, qualifier, parked, weight, report)
    if parked:
        mechanisms = [t for t in record.split()[1:] if not re.fullmatch(r"-all", t, re.I)]
        if qualifier == "-" and mechanisms:
            report.add("spf.record", "warn",
                       "This domain does not receive mail, yet its SPF record authorises senders: "
                       f"{' '.join(mechanisms)}.",
                       f"メールを受信しないドメインですが、SPF で送信元が許可されています: {' '.join(mechanisms)}。",
                       null_fix_en + " If the domain does send mail, publish its real MX instead of a null MX.",
                       null_fix_ja + " 実際に送信しているのであれば、null MX ではなく正しい MX を公開してください。")
            earned = min(earned, weight * 2 // 3)
    if permerror:
        return 0
    if walk.ptr:
        earned = max(0, earned - 3)
    return earned


def _spf_all_finding(domain: str, record: str, qualifier: str | None, parked: bool, weight: int,
                     report: _Report) -> int:
    fixed = "v=spf1 -all" if parked else _spf_with_all(record, "-")
    fix_en = f"End the record with `-all` once every legitimate sender is listed: `{fixed}`."
    fix_ja = f"正規の送信元をすべて列挙したことを確認のうえ、末尾を `-all` にしてください: `{fixed}`"
    if qualifier == "-":
        report.add("spf.all", "pass", "SPF ends in `-all`: mail from unlisted servers fails SPF.",
                   "SPF は `-all` で終わっており、未登録のサーバからのメールは SPF fail になります。", qualifier="-all")
        return weight
    if qualifier == "~":
        report.add("spf.all", "warn", "SPF ends in `~all` (softfail): mail from unlisted servers is only marked, not "
                   "rejected by SPF alone.",
                   "SPF が `~all` (softfail) で終わっています。未登録のサーバからのメールも SPF "
                   "だけでは拒否されません。",
                   fix_en, fix_ja, qualifier="~all")
        return weight * 4 // 5
    if qualifier == "+":
        report.add("spf.all", "fail", "SPF ends in `+all`: every server on the Internet is authorised to send as "
                   f"{domain}.",
                   f"SPF が `+all` で終わっており、インターネット上のあらゆるサーバに {domain} "
                   "としての送信を許可しています。",
                   fix_en, fix_ja, qualifier="+all")
        return 0
    shown = "`?all`" if qualifier == "?" else "no `all` (the default is neutral)"
    shown_ja = "`?all`" if qualifier == "?" else "`all` がなく (既定は neutral)"
    report.add("spf.all", "fail", f"SPF ends in {shown}: unlisted servers get a neutral result, so SPF does not "
               "protect the domain.",
               f"SPF が {shown_ja} で終わっており、未登録のサーバも neutral となるため、SPF "
               "がドメインを保護していません。",
               fix_en, fix_ja, qualifier="?all" if qualifier == "?" else None)
    return weight // 5


# ---------------------------------------------------------------------------------------------------
# DKIM (RFC 6376, RFC 8301, RFC 8463)
# ---------------------------------------------------------------------------------------------------


def _rsa_bits(key_bytes: bytes) -> int | None:
    """Size of an RSA key given as SubjectPublicKeyInfo (what everyone publishes) or as the bare
    RSAPublicKey that RFC 6376 §3.6.1 literally names."""
    try:
        key = load_der_public_key(key_bytes)
    except (ValueError, UnsupportedAlgorithm):
        pem = b"-----BEGIN RSA PUBLIC KEY-----\n" + base64.encodebytes(key_bytes) + b"-----END RSA PUBLIC KEY-----\n"
        try:
            key = load_pem_public_key(pem)
        except (ValueError, UnsupportedAlgorithm):
            return None
    return key.key_size if isinstance(key, rsa.RSAPublicKey) else None


def _dkim_key(record: str) -> dict[str, Any]:
    """Parse a DKIM key record; returns the facts (``error`` set when it is unusable)."""
    pairs, bad = _tags(record)
    tags = dict(pairs)
    out: dict[str, Any] = {"record": record, "k": tags.get("k", "rsa").lower(), "t": tags.get("t", ""),
                           "h": tags.get("h", "")}
    if bad:
        out["error"] = f"not tag=value: {', '.join(bad)}"
        return out
    if "v" in tags and (pairs[0][0] != "v" or tags["v"] != "DKIM1"):
        out["error"] = "v= must be first and equal DKIM1"
        return out
    if "p" not in tags:
        out["error"] = "no p= tag"
        return out
    p = re.sub(r"\s+", "", tags["p"])
    if not p:
        out["revoked"] = True
        return out
    try:
        raw = base64.b64decode(p, validate=True)
    except (binascii.Error, ValueError):
        out["error"] = "p= is not base64"
        return out
    if out["k"] == "rsa":
        bits = _rsa_bits(raw)
        if bits is None:
            out["error"] = "p= is not an RSA public key"
        else:
            out["bits"] = bits
    elif out["k"] == "ed25519":
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(raw)
            out["bits"] = 256
        except ValueError:
            out["error"] = f"an Ed25519 key is 32 bytes, this one is {len(raw)}"
    else:
        out["error"] = f"unknown key type k={out['k']}"
    return out


def _check_dkim(dns_: _Dns, domain: str, selectors: Sequence[str], parked: bool, report: _Report,
                records: dict[str, Any]) -> int:
    weight = _WEIGHTS_MAIL["dkim"]
    found: dict[str, dict[str, Any]] = {}
    failures: dict[str, str] = {}
    for selector in dict.fromkeys(s.strip().lower() for s in selectors if s.strip()):
        name = f"{selector}._domainkey.{domain}"
        answer = dns_.query(name, "TXT")
        if answer.failed:
            failures[selector] = answer.status
            continue
        if not answer.ok:
            continue
        keys = [v for v in answer.values if "p=" in v or v.startswith("v=DKIM1")]
        if keys:
            found[selector] = _dkim_key(keys[0])
    records["dkim"] = {s: k["record"] for s, k in found.items()}
    if failures:
        report.add("dkim.selectors", "warn", "Some DKIM selectors could not be looked up: "
                   + ", ".join(f"{s} ({st})" for s, st in failures.items()),
                   "一部の DKIM セレクタを参照できませんでした: "
                   + ", ".join(f"{s} ({st})" for s, st in failures.items()),
                   "Check the name servers and run the check again.",
                   "ネームサーバを確認し、再度チェックしてください。", failed=dict(failures))
    if parked:
        live = [s for s, k in found.items() if not k.get("revoked") and "error" not in k]
        if live:
            report.add("dkim.key", "warn",
                       f"This domain does not send mail but publishes DKIM keys ({', '.join(live)}).",
                       f"メールを送信しないドメインですが DKIM 公開鍵があります ({', '.join(live)})。",
                       "Remove them, or publish `v=DKIM1; p=` (revoked) at `*._domainkey`.",
                       "削除するか、`*._domainkey` に `v=DKIM1; p=` (失効) を公開してください。", selectors=live)
        else:
            report.add("dkim.selectors", "info", "No active DKIM key, as expected for a domain that sends no mail.",
                       "有効な DKIM 鍵はありません (メールを送信しないドメインとして適切です)。")
        return 0
    if not found:
        tried = ", ".join(dict.fromkeys(selectors))
        report.add("dkim.selectors", "warn", f"No DKIM key found at the selectors tried ({tried}). DKIM selectors "
                   "cannot be listed from DNS: if the domain signs with another selector, check again with it.",
                   f"試したセレクタ ({tried}) に DKIM 公開鍵が見つかりません。セレクタは DNS から列挙できないため、別の"
                   "セレクタで署名している場合はそのセレクタを指定して再チェックしてください。",
                   "Sign all outgoing mail with DKIM (RFC 6376) using a 2048-bit RSA key and publish it at "
                   "`<selector>._domainkey." + domain + "`; ask each sending service to sign with this domain.",
                   "送信するすべてのメールに 2048 ビット RSA 鍵で DKIM 署名 (RFC 6376) を付け、公開鍵を "
                   f"`<セレクタ>._domainkey.{domain}` に公開してください。"
                   "各送信サービスにもこのドメインでの署名を設定します。",
                   tried=list(dict.fromkeys(selectors)))
        return 0
    report.add("dkim.selectors", "pass" if any(not k.get("revoked") for k in found.values()) else "warn",
               f"DKIM keys found at: {', '.join(found)}.", f"DKIM 公開鍵が見つかったセレクタ: {', '.join(found)}。",
               selectors=list(found))
    best = 0
    for selector, key in found.items():
        name = f"{selector}._domainkey.{domain}"
        points = _dkim_selector_findings(selector, name, key, weight, report)
        best = max(best, points)
    return best


def _dkim_selector_findings(selector: str, name: str, key: dict[str, Any], weight: int, report: _Report) -> int:
    rotate_en = (f"Generate a 2048-bit RSA key, publish it under a new selector, switch signing to it, then publish "
                 f"`v=DKIM1; p=` at {name} to revoke the old key.")
    rotate_ja = ("2048 ビットの RSA 鍵を新しいセレクタで公開して署名を切り替え、"
                 f"その後 {name} に `v=DKIM1; p=` を公開して旧鍵を失効させてください。")
    if key.get("revoked"):
        report.add("dkim.revoked", "info", f"DKIM selector {selector}: key revoked (empty p=).",
                   f"DKIM セレクタ {selector}: 鍵は失効済みです (p= が空)。", selector=selector)
        return 0
    if "error" in key:
        report.add("dkim.syntax", "fail", f"DKIM selector {selector}: unusable key record ({key['error']}).",
                   f"DKIM セレクタ {selector}: 鍵レコードが不正です ({key['error']})。",
                   f"Republish the key record at {name} as `v=DKIM1; k=rsa; p=<base64 public key>`.",
                   f"{name} に `v=DKIM1; k=rsa; p=<base64 公開鍵>` の形式で鍵を公開し直してください。",
                   selector=selector, error=key["error"])
        return 0
    bits: int = key["bits"]
    points: int
    if key["k"] == "ed25519":
        report.add("dkim.key", "pass", f"DKIM selector {selector}: Ed25519 key (RFC 8463).",
                   f"DKIM セレクタ {selector}: Ed25519 鍵です (RFC 8463)。",
                   "Many receivers verify only RSA: also sign with a 2048-bit RSA key (dual signing).",
                   "RSA しか検証しない受信側が多いため、2048 ビット RSA 鍵でも署名してください (二重署名)。",
                   selector=selector, key_type="ed25519", bits=bits)
        points = weight
    elif bits >= 2048:
        report.add("dkim.key", "pass", f"DKIM selector {selector}: {bits}-bit RSA key.",
                   f"DKIM セレクタ {selector}: {bits} ビットの RSA 鍵です。",
                   selector=selector, key_type="rsa", bits=bits)
        points = weight
    elif bits >= 1024:
        report.add("dkim.key", "warn", f"DKIM selector {selector}: {bits}-bit RSA key; RFC 8301 §3.2 recommends at "
                   "least 2048 bits.",
                   f"DKIM セレクタ {selector}: {bits} ビットの RSA 鍵です。RFC 8301 §3.2 は 2048 "
                   "ビット以上を推奨しています。",
                   rotate_en, rotate_ja, selector=selector, key_type="rsa", bits=bits)
        points = weight // 2
    else:
        report.add("dkim.key", "fail", f"DKIM selector {selector}: {bits}-bit RSA key; RFC 8301 §3.2 forbids keys "
                   "under 1024 bits and receivers treat the signature as invalid.",
                   f"DKIM セレクタ {selector}: {bits} ビットの RSA 鍵です。RFC 8301 §3.2 は 1024 "
                   "ビット未満を禁止しており、"
                   "署名は無効として扱われます。", rotate_en, rotate_ja, selector=selector, key_type="rsa", bits=bits)
        points = weight // 7
    flags = [f.strip() for f in str(key["t"]).split(":") if f.strip()]
    if "y" in flags:
        report.add("dkim.testing", "warn", f"DKIM selector {selector}: testing flag t=y; RFC 6376 §3.6.1 says "
                   "verifiers must treat such mail like unsigned mail.",
                   f"DKIM セレクタ {selector}: テストフラグ t=y が付いています。RFC 6376 §3.6.1 により、検証側は"
                   "署名なしと同様に扱います。",
                   f"Remove `t=y` from the record at {name} once signing works.",
                   f"署名が正常に動作していることを確認したら、{name} のレコードから `t=y` を削除してください。",
                   selector=selector)
        points = max(0, points - 5)
    hashes = [h.strip().lower() for h in str(key["h"]).split(":") if h.strip()]
    if hashes and "sha256" not in hashes:
        report.add("dkim.hash", "warn", f"DKIM selector {selector}: h= allows only {', '.join(hashes)}; RFC 8301 "
                   "forbids SHA-1 signatures.",
                   f"DKIM セレクタ {selector}: h= が {', '.join(hashes)} のみです。RFC 8301 は SHA-1 "
                   "署名を禁止しています。",
                   "Remove the h= tag (or set h=sha256) and sign with rsa-sha256.",
                   "h= タグを削除する (または h=sha256 にする) とともに、rsa-sha256 で署名してください。",
                   selector=selector)
    return points


# ---------------------------------------------------------------------------------------------------
# DMARC (RFC 7489; DMARCbis tags recognised)
# ---------------------------------------------------------------------------------------------------

_DMARC_TAGS = {"v", "p", "sp", "np", "pct", "adkim", "aspf", "rua", "ruf", "fo", "rf", "ri", "psd", "t"}
_POLICY_RANK = {"none": 0, "quarantine": 1, "reject": 2}


def _dmarc_records(txts: Sequence[str]) -> list[str]:
    """RFC 7489 §6.6.3: records whose first tag is ``v=DMARC1``."""
    return [t for t in txts if re.match(r"^\s*v\s*=\s*DMARC1\s*(;|$)", t)]


def _report_uris(value: str) -> list[tuple[str, str | None]]:
    """``rua``/``ruf`` URIs (RFC 7489 §6.2): (uri, domain of a mailto address or None when unusable)."""
    out: list[tuple[str, str | None]] = []
    for uri in (u.strip() for u in value.split(",")):
        if not uri:
            continue
        m = re.fullmatch(r"mailto:([^@!\s]+)@([^!\s]+)(?:!\d+[kmgt]?)?", uri, re.I)
        out.append((uri, _norm(m.group(2)) if m and _valid_hostname(m.group(2)) else None))
    return out


def _suggest_dmarc(tags: Mapping[str, str], domain: str, parked: bool) -> str:
    parts = ["v=DMARC1", "p=reject"]
    if "sp" in tags or parked:
        parts.append("sp=reject")
    if parked:
        parts += ["adkim=s", "aspf=s"]
    for tag in ("adkim", "aspf", "rua", "ruf", "fo"):
        if tag in tags and not (parked and tag in ("adkim", "aspf")):
            parts.append(f"{tag}={tags[tag]}")
    if "rua" not in tags and not parked:
        parts.append(f"rua=mailto:dmarc-reports@{domain}")
    return "; ".join(parts)


@dataclass(frozen=True)
class _DmarcResult:
    points: int
    policy: str | None
    """The effective policy for this domain (``p``, or the organizational domain's ``sp``)."""
    pct: int


def _check_dmarc(dns_: _Dns, domain: str, psl: PublicSuffixList, parked: bool, report: _Report,
                 records: dict[str, Any]) -> _DmarcResult:
    weight = (_WEIGHTS_PARKED if parked else _WEIGHTS_MAIL)["dmarc"]
    name = f"_dmarc.{domain}"
    answer = dns_.query(name, "TXT")
    if answer.failed:
        report.dns_failure("dmarc.record", "the DMARC record", "DMARC レコード", name, answer)
        return _DmarcResult(0, None, 0)
    found = _dmarc_records(answer.values) if answer.ok else []
    policy_domain = domain
    inherited = False
    if not found:
        org = psl.organizational_domain(domain)
        if org != domain:
            org_name = f"_dmarc.{org}"
            org_answer = dns_.query(org_name, "TXT")
            if org_answer.failed:
                report.dns_failure("dmarc.record", "the organizational domain's DMARC record",
                                   "組織ドメインの DMARC レコード", org_name, org_answer)
                return _DmarcResult(0, None, 0)
            found = _dmarc_records(org_answer.values) if org_answer.ok else []
            if found:
                policy_domain, inherited = org, True
    fix_record = _suggest_dmarc({}, domain, parked)
    if not found:
        report.add("dmarc.record", "fail", f"No DMARC record at {name} (RFC 7489): receivers apply no policy to mail "
                   f"that spoofs {domain}.",
                   f"{name} に DMARC レコード (RFC 7489) がありません。{domain} "
                   "をかたるなりすましメールに受信側がポリシーを"
                   "適用できません。",
                   f"Publish a TXT record at {name}. Start with `v=DMARC1; p=none; rua=mailto:<reports address>` to "
                   f"collect reports, fix the senders that fail, then move to `{fix_record}` (the FSA and JSDA ask "
                   "for an enforcing policy).",
                   f"{name} に TXT レコードを公開してください。まず `v=DMARC1; p=none; "
                   "rua=mailto:<レポート受信アドレス>` で"
                   f"レポートを収集し、認証に失敗する正規の送信元を修正したうえで `{fix_record}` に移行します"
                   "(金融庁・日本証券業協会は強制力のあるポリシーを求めています)。")
        return _DmarcResult(0, None, 0)
    if len(found) > 1:
        report.add("dmarc.record", "fail", f"{len(found)} DMARC records at _dmarc.{policy_domain}: RFC 7489 §6.6.3 "
                   "makes receivers ignore them all.",
                   f"_dmarc.{policy_domain} に DMARC レコードが {len(found)} 個あります。RFC 7489 §6.6.3 により、"
                   "受信側は"
                   "すべて無視します。",
                   "Keep exactly one `v=DMARC1` record.", "`v=DMARC1` のレコードを1つだけにしてください。",
                   records=found)
        return _DmarcResult(0, None, 0)
    record = found[0]
    records["dmarc"] = record
    records["dmarc_domain"] = policy_domain
    pairs, bad = _tags(record)
    tags: dict[str, str] = {}
    problems: list[str] = [f"not tag=value: {b}" for b in bad]
    for tag, value in pairs:
        if tag in tags:
            problems.append(f"duplicate tag {tag}")
        elif tag not in _DMARC_TAGS:
            problems.append(f"unknown tag {tag} (ignored)")
        tags.setdefault(tag, value)
    p_raw = tags.get("p", "").lower()
    if p_raw not in _POLICY_RANK:
        problems.append("p= missing or invalid (RFC 7489 §6.6.3: treated as none)" if tags.get("rua")
                        else "p= missing or invalid")
    for tag in ("sp", "np"):
        if tag in tags and tags[tag].lower() not in _POLICY_RANK:
            problems.append(f"{tag}={tags[tag]} is not none, quarantine or reject")
    pct = 100
    if "pct" in tags:
        if tags["pct"].isdigit() and 0 <= int(tags["pct"]) <= 100:
            pct = int(tags["pct"])
        else:
            problems.append(f"pct={tags['pct']} is not 0-100")
    for tag in ("adkim", "aspf"):
        if tag in tags and tags[tag].lower() not in ("r", "s"):
            problems.append(f"{tag}={tags[tag]} is not r or s")
    suggestion = _suggest_dmarc(tags, domain, parked)
    if inherited:
        report.add("dmarc.record", "pass", f"No record at {name}; the organizational domain's record at "
                   f"_dmarc.{policy_domain} applies (RFC 7489 §6.6.3): {record}",
                   f"{name} にレコードはありませんが、組織ドメイン _dmarc.{policy_domain} のレコードが適用されます "
                   f"(RFC 7489 §6.6.3): {record}", record=record, inherited_from=policy_domain)
    else:
        report.add("dmarc.record", "pass", f"DMARC record: {record}", f"DMARC レコード: {record}", record=record)
    if problems:
        report.add("dmarc.syntax", "warn" if p_raw in _POLICY_RANK else "fail",
                   "DMARC record problems: " + "; ".join(problems), "DMARC レコードの問題: " + "; ".join(problems),
                   f"Rewrite the record in the RFC 7489 §6.4 form, e.g. `{suggestion}`.",
                   f"RFC 7489 §6.4 の形式で書き直してください。例: `{suggestion}`", problems=problems)

    p = p_raw if p_raw in _POLICY_RANK else "none"
    sp_raw = tags.get("sp", "").lower()
    sp = sp_raw if sp_raw in _POLICY_RANK else p
    effective = sp if inherited else p
    testing = tags.get("t", "").lower() == "y"
    points = _dmarc_policy_findings(domain, effective, inherited, pct, testing, suggestion, weight, parked, report)

    # Subdomains (sp=, DMARCbis np=): only meaningful for the domain that owns the record.
    sub_points = weight // 10
    if not inherited:
        if _POLICY_RANK[sp] < _POLICY_RANK[p]:
            report.add("dmarc.subdomain_policy", "warn", f"sp={sp} is weaker than p={p}: attackers can spoof any "
                       f"subdomain such as login.{domain}.",
                       f"sp={sp} が p={p} より弱いため、login.{domain} のような任意のサブドメインをかたられます。",
                       f"Set `sp=reject` (or remove sp= so subdomains inherit p=): `{suggestion}`.",
                       f"`sp=reject` にする (または sp= を削除して p= を継承させる) ことを推奨します: `{suggestion}`",
                       p=p, sp=sp)
            sub_points = 0
        elif "sp" in tags:
            report.add("dmarc.subdomain_policy", "pass", f"Subdomain policy sp={sp}.",
                       f"サブドメインのポリシーは sp={sp} です。", sp=sp)
        np_raw = tags.get("np", "").lower()
        if np_raw in _POLICY_RANK and _POLICY_RANK[np_raw] < _POLICY_RANK[sp]:
            report.add("dmarc.subdomain_policy", "warn",
                       f"np={np_raw} (DMARCbis, non-existent subdomains) is weaker than the subdomain policy {sp}.",
                       f"np={np_raw} (DMARCbis: 存在しないサブドメイン向け) がサブドメインのポリシー {sp} "
                       "より弱くなっています。",
                       "Set `np=reject` or remove np=.", "`np=reject` にするか np= を削除してください。")
    if _POLICY_RANK[effective] == 0:
        sub_points = 0
    points += sub_points

    alignment = {t: tags.get(t, "r").lower() for t in ("adkim", "aspf")}
    if not inherited:
        if all(v == "s" for v in alignment.values()):
            report.add("dmarc.alignment", "pass", "Strict alignment (adkim=s, aspf=s).",
                       "厳格なアライメント (adkim=s, aspf=s) です。", **alignment)
        else:
            report.add("dmarc.alignment", "info", f"Relaxed alignment (adkim={alignment['adkim']}, "
                       f"aspf={alignment['aspf']}): any subdomain of {policy_domain} aligns.",
                       f"緩和アライメント (adkim={alignment['adkim']}, aspf={alignment['aspf']}) です。"
                       f"{policy_domain} の任意のサブドメインが一致とみなされます。",
                       "Where every sender uses the exact domain, set `adkim=s; aspf=s`.",
                       "すべての送信元が同一ドメインを使っている場合は `adkim=s; aspf=s` を設定してください。",
                       **alignment)
        points += _dmarc_report_findings(dns_, domain, policy_domain, tags, psl, parked, weight, report)
    elif not parked:
        points += weight // 10  # reports go to the organizational domain's addresses
    return _DmarcResult(min(points, weight), effective, pct)


def _dmarc_policy_findings(domain: str, policy: str, inherited: bool, pct: int, testing: bool, suggestion: str,
                           weight: int, parked: bool, report: _Report) -> int:
    source = "sp= of the organizational domain" if inherited else "p="
    source_ja = "組織ドメインの sp=" if inherited else "p="
    full = weight * 8 // 10
    levels = {"reject": full, "quarantine": full * 7 // 10, "none": full // 8}
    if testing:
        report.add("dmarc.testing", "warn", "t=y (DMARCbis testing mode): receivers apply one step less than the "
                   "published policy.",
                   "t=y (DMARCbis のテストモード) のため、受信側は公開ポリシーより1段階弱い扱いをします。",
                   "Remove `t=y` once reports show the legitimate senders pass.",
                   "レポートで正規の送信元が合格していることを確認したら `t=y` を削除してください。")
        policy = {"reject": "quarantine", "quarantine": "none", "none": "none"}[policy]
    if policy == "reject":
        report.add("dmarc.policy", "pass", f"DMARC policy ({source}) is reject: receivers refuse mail that spoofs "
                   f"{domain}.",
                   f"DMARC ポリシー ({source_ja}) は reject です。{domain} をかたるメールは受信拒否されます。",
                   policy=policy)
    elif policy == "quarantine":
        report.add("dmarc.policy", "warn", f"DMARC policy ({source}) is quarantine: spoofed mail goes to spam folders "
                   "instead of being refused.",
                   f"DMARC ポリシー ({source_ja}) は quarantine です。なりすましメールは拒否されず迷惑メールフォルダに"
                   "配送されます。",
                   f"Move to reject once reports show no legitimate mail failing: `{suggestion}`.",
                   f"レポートで正規のメールが失敗していないことを確認し、reject に移行してください: `{suggestion}`",
                   policy=policy)
    else:
        report.add("dmarc.policy", "fail", f"DMARC policy ({source}) is none: monitoring only, spoofed mail is "
                   "delivered. The FSA and JSDA (2025) ask for an enforcing policy.",
                   f"DMARC ポリシー ({source_ja}) が none (モニタリングのみ) のため、"
                   "なりすましメールはそのまま配送されます。"
                   "金融庁・日本証券業協会 (2025年) は強制力のあるポリシーを求めています。",
                   "Read the aggregate reports, make every legitimate sender pass SPF or DKIM with alignment, then "
                   f"publish p=quarantine and finally `{suggestion}`." if not parked else
                   f"This domain sends no mail, so go straight to `{suggestion}`.",
                   "集計レポートを確認し、正規の送信元がすべてアライメントの取れた SPF または DKIM "
                   "に合格するよう設定してから、"
                   f"p=quarantine、最終的に `{suggestion}` に移行してください。" if not parked else
                   f"このドメインはメールを送信しないため、直ちに `{suggestion}` を設定してください。", policy=policy)
    points = levels[policy]
    if pct < 100 and policy != "none":
        report.add("dmarc.pct", "warn", f"pct={pct}: the policy applies to only {pct}% of failing mail (pct is "
                   "removed in DMARCbis).",
                   f"pct={pct} のため、ポリシーは認証に失敗したメールの {pct}% にしか適用されません (DMARCbis "
                   "では廃止)。",
                   "Remove `pct=` (100 is the default).", "`pct=` を削除してください (既定値は 100 です)。", pct=pct)
        points = levels["none"] + (points - levels["none"]) * pct // 100
    return points


def _dmarc_report_findings(dns_: _Dns, domain: str, policy_domain: str, tags: Mapping[str, str],
                           psl: PublicSuffixList, parked: bool, weight: int, report: _Report) -> int:
    points = 0
    rua = _report_uris(tags.get("rua", ""))
    ruf = _report_uris(tags.get("ruf", ""))
    if not rua:
        if parked:
            report.add("dmarc.rua", "info",
                       "No aggregate report address (rua=); optional for a domain that sends no mail.",
                       "集計レポートの送付先 (rua=) がありません (送信しないドメインでは任意です)。")
            points += weight // 10
        else:
            report.add("dmarc.rua", "warn", "No rua= address: the firm gets no aggregate reports, so it cannot see "
                       "who sends as its domain or move safely to reject.",
                       "rua= がないため集計レポートが届かず、誰がこのドメインで送信しているか把握できず、reject への"
                       "安全な移行もできません。",
                       f"Add `rua=mailto:dmarc-reports@{domain}` (or a report-processing service).",
                       f"`rua=mailto:dmarc-reports@{domain}` (またはレポート分析サービスのアドレス) "
                       "を追加してください。")
    else:
        report.add("dmarc.rua", "pass", f"Aggregate reports go to {', '.join(u for u, _ in rua)}.",
                   f"集計レポートの送付先: {', '.join(u for u, _ in rua)}。", rua=[u for u, _ in rua])
        points += weight // 10
    if ruf:
        report.add("dmarc.ruf", "info", f"Failure reports requested at {', '.join(u for u, _ in ruf)}; few receivers "
                   "send them, and they may carry personal data (個人情報保護法).",
                   f"失敗レポートの送付先: {', '.join(u for u, _ in ruf)}。送付する受信側は少なく、個人情報を含む"
                   "場合があるため取り扱いに注意してください。", ruf=[u for u, _ in ruf])
    own_org = psl.organizational_domain(policy_domain)
    unauthorised: list[str] = []
    for uri, rdomain in rua + ruf:
        if rdomain is None:
            report.add("dmarc.rua", "warn", f"Report URI {uri} is not a usable mailto: address.",
                       f"レポート送付先 {uri} は有効な mailto: アドレスではありません。",
                       "Use `mailto:<address>`.", "`mailto:<アドレス>` の形式にしてください。", uri=uri)
            continue
        if psl.organizational_domain(rdomain) == own_org:
            continue
        auth_name = f"{policy_domain}._report._dmarc.{rdomain}"
        answer = dns_.query(auth_name, "TXT")
        if answer.ok and _dmarc_records(answer.values):
            report.add("dmarc.report_authorization", "pass", f"External report destination {rdomain} authorises "
                       f"reports for {policy_domain} ({auth_name}).",
                       f"外部のレポート送付先 {rdomain} は {policy_domain} のレポート受信を許可しています "
                       f"({auth_name})。",
                       uri=uri, name=auth_name)
        elif answer.failed:
            report.dns_failure("dmarc.report_authorization", "the external report authorisation",
                               "外部レポート送付先の許可レコード", auth_name, answer)
        else:
            unauthorised.append(uri)
            report.add("dmarc.report_authorization", "warn", f"Report address {uri} is in another organization's "
                       f"domain ({rdomain}) and {auth_name} has no `v=DMARC1` record, so receivers will not send "
                       "reports there (RFC 7489 §7.1).",
                       f"レポート送付先 {uri} は別組織のドメイン ({rdomain}) ですが、{auth_name} に `v=DMARC1` "
                       "レコードが"
                       "ないため、受信側はレポートを送りません (RFC 7489 §7.1)。",
                       f"Ask the operator of {rdomain} to publish TXT `v=DMARC1` at {auth_name}, or send reports to "
                       f"an address in {policy_domain}.",
                       f"{rdomain} の管理者に {auth_name} への TXT `v=DMARC1` の公開を依頼するか、{policy_domain} 内の"
                       "アドレスに送付先を変更してください。", uri=uri, name=auth_name)
    if rua and unauthorised and all(u in unauthorised for u, _ in rua):
        points -= weight // 20
    return points


# ---------------------------------------------------------------------------------------------------
# BIMI (informational)
# ---------------------------------------------------------------------------------------------------


def _check_bimi(dns_: _Dns, domain: str, dmarc: _DmarcResult, report: _Report, records: dict[str, Any]) -> None:
    name = f"default._bimi.{domain}"
    answer = dns_.query(name, "TXT")
    if answer.failed:
        en, ja = answer.describe()
        report.add("bimi.record", "info", f"BIMI record at {name} could not be read: {en}.",
                   f"{name} の BIMI レコードを取得できませんでした: {ja}。", dns_status=answer.status)
        return
    found = [v for v in answer.values if re.match(r"^\s*v\s*=\s*BIMI1\s*(;|$)", v)] if answer.ok else []
    if not found:
        report.add("bimi.record", "info", "No BIMI record (optional). BIMI shows the firm's verified logo next to "
                   "authenticated mail (the FSA itself adopted it in 2025); it requires DMARC enforcement.",
                   "BIMI レコードはありません (任意)。BIMI は認証済みメールに企業の検証済みロゴを表示する仕組みで、"
                   "金融庁も 2025 年に導入しました。DMARC の強制ポリシーが前提です。",
                   f"After DMARC is at p=quarantine or reject, publish `v=BIMI1; l=https://<host>/logo.svg; "
                   f"a=https://<host>/vmc.pem` at {name} (SVG Tiny PS logo, VMC or CMC certificate).",
                   f"DMARC を p=quarantine または reject にした後、{name} に `v=BIMI1; l=https://<ホスト>/logo.svg; "
                   "a=https://<ホスト>/vmc.pem` を公開してください (SVG Tiny PS 形式のロゴと VMC または CMC 証明書)。")
        return
    record = found[0]
    records["bimi"] = record
    tags = dict(_tags(record)[0])
    logo, cert = tags.get("l", ""), tags.get("a", "")
    if not logo and not cert:
        report.add("bimi.record", "info", "BIMI record declines to show a logo (empty l= and a=).",
                   "BIMI レコードはロゴの表示を辞退する設定です (l= と a= が空)。", record=record)
        return
    report.add("bimi.record", "pass", f"BIMI record: {record}", f"BIMI レコード: {record}", record=record)
    if dmarc.policy not in ("quarantine", "reject") or dmarc.pct < 100:
        report.add("bimi.dmarc", "warn", "BIMI needs DMARC at p=quarantine or p=reject with pct=100; without it no "
                   "mailbox shows the logo.",
                   "BIMI には DMARC が p=quarantine または p=reject (pct=100) である必要があり、"
                   "現状ではロゴは表示されません。",
                   "Move DMARC to an enforcing policy first.", "先に DMARC を強制ポリシーに移行してください。")
    if not (logo.lower().startswith("https://") and logo.lower().split("?")[0].endswith(".svg")):
        report.add("bimi.logo", "warn", f"l={logo} should be an https URL of an SVG Tiny PS file.",
                   f"l={logo} は SVG Tiny PS ファイルの https URL である必要があります。",
                   "Host the logo as SVG Tiny PS over HTTPS and point l= at it.",
                   "ロゴを SVG Tiny PS 形式で HTTPS 上に置き、l= にその URL を指定してください。")
    if not cert:
        report.add("bimi.certificate", "info", "No a= (mark certificate): Gmail and Apple Mail show BIMI logos only "
                   "with a VMC or CMC.",
                   "a= (マーク証明書) がありません。Gmail や Apple Mail は VMC または CMC がないとロゴを表示しません。",
                   "Obtain a VMC (registered trademark) or CMC and publish its PEM URL in a=.",
                   "VMC (登録商標が必要) または CMC を取得し、PEM の URL を a= に指定してください。")
    elif not cert.lower().startswith("https://"):
        report.add("bimi.certificate", "warn", f"a={cert} must be an https URL.",
                   f"a={cert} は https URL である必要があります。",
                   "Serve the certificate PEM over HTTPS.", "証明書の PEM を HTTPS で公開してください。")


# ---------------------------------------------------------------------------------------------------
# MTA-STS (RFC 8461) and TLS-RPT (RFC 8460)
# ---------------------------------------------------------------------------------------------------


def mx_pattern_matches(pattern: str, host: str) -> bool:
    """RFC 8461 §4.1: an exact host name, or ``*.`` + domain matching exactly one extra leftmost label."""
    pattern, host = _norm(pattern), _norm(host)
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


def parse_mta_sts_policy(text: str) -> tuple[dict[str, Any], list[str]]:
    """Parse an MTA-STS policy file (RFC 8461 §3.2). Returns the fields (``mx`` as a list) and problems."""
    fields: dict[str, Any] = {"mx": []}
    problems: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        if ":" not in line:
            problems.append(f"line without 'key: value': {line.strip()!r}")
            continue
        key, value = (s.strip() for s in line.split(":", 1))
        if key == "mx":
            fields["mx"].append(value)
        elif key in fields:
            problems.append(f"duplicate {key}")
        else:
            fields[key] = value
    if fields.get("version") != "STSv1":
        problems.append("version must be STSv1")
    if fields.get("mode") not in ("enforce", "testing", "none"):
        problems.append("mode must be enforce, testing or none")
    age = fields.get("max_age")
    if age is None or not str(age).isdigit() or int(age) > 31557600:
        problems.append("max_age must be an integer 0-31557600")
    else:
        fields["max_age"] = int(age)
    if fields.get("mode") in ("enforce", "testing") and not fields["mx"]:
        problems.append("no mx: line")
    return fields, problems


def _fetch_policy(domain: str, dns_: _Dns, https: HttpsOptions, own_resolver: bool) -> tuple[str | None, str, str]:
    """Returns (policy text, error English, error Japanese)."""
    host = f"mta-sts.{domain}"
    connect = https.address
    if connect is None and own_resolver and https.resolve_with_resolver:
        answer = dns_.addresses(host)
        if not answer.ok:
            en, ja = answer.describe()
            return None, f"{host} does not resolve ({en})", f"{host} を名前解決できません ({ja})"
        connect = answer.values[0]
    target = connect or host
    if ":" in target:
        target = f"[{target}]"
    url = f"https://{target}:{https.port}/.well-known/mta-sts.txt"
    verify: ssl.SSLContext | bool = True
    if https.ca_bundle is not None:
        verify = ssl.create_default_context(cafile=str(https.ca_bundle))
    try:
        with httpx.Client(verify=verify, timeout=https.timeout, follow_redirects=False,
                          trust_env=connect is None) as client, \
                client.stream("GET", url, headers={"Host": host, "Accept": "text/plain"},
                              extensions={"sni_hostname": host}) as response:
            if response.status_code != 200:
                return (None, f"HTTP {response.status_code} from https://{host}/.well-known/mta-sts.txt (RFC 8461 "
                        "§3.3: only 200 counts, redirects are not followed)",
                        f"https://{host}/.well-known/mta-sts.txt が HTTP {response.status_code} を返しました "
                        "(RFC 8461 §3.3: 200 以外は無効、リダイレクトは追従されません)")
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > https.max_bytes:
                    return (None, f"policy larger than {https.max_bytes} bytes",
                            f"ポリシーが {https.max_bytes} バイトを超えています")
            ctype = response.headers.get("content-type", "")
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, ssl.SSLError, OSError, UnicodeError) as exc:
        reason = str(exc) or type(exc).__name__
        return (None, f"cannot fetch https://{host}/.well-known/mta-sts.txt: {reason}",
                f"https://{host}/.well-known/mta-sts.txt を取得できません: {reason}")
    text = body.decode("utf-8", "replace")
    if not ctype.lower().startswith("text/plain"):
        return text, f"content-type {ctype or '(none)'}", ctype
    return text, "", ""


def _check_mta_sts(dns_: _Dns, domain: str, mx_hosts: Sequence[str], https: HttpsOptions, own_resolver: bool,
                   report: _Report, records: dict[str, Any]) -> int:
    weight = _WEIGHTS_MAIL["mta_sts"]
    name = f"_mta-sts.{domain}"
    answer = dns_.query(name, "TXT")
    if answer.failed:
        report.dns_failure("mta_sts.record", "the MTA-STS record", "MTA-STS レコード", name, answer)
        return 0
    found = [v for v in answer.values if re.match(r"^\s*v\s*=\s*STSv1\s*(;|$)", v)] if answer.ok else []
    policy_example = ("version: STSv1\\nmode: enforce\\n" + "".join(f"mx: {h}\\n" for h in mx_hosts[:3])
                      + "max_age: 1209600")
    if not found:
        report.add("mta_sts.record", "warn", f"No MTA-STS (RFC 8461) at {name}: mail sent to {domain} can be "
                   "downgraded to plaintext or redirected by an attacker on the path.",
                   f"{name} に MTA-STS (RFC 8461) がありません。{domain} 宛てのメールは経路上の攻撃者に平文への"
                   "ダウングレードや転送先の差し替えをされるおそれがあります。",
                   f"Serve https://mta-sts.{domain}/.well-known/mta-sts.txt containing `{policy_example}` (start with "
                   f"mode: testing), then publish TXT `v=STSv1; id=<yyyymmddnn>` at {name} and a TLS-RPT record.",
                   f"https://mta-sts.{domain}/.well-known/mta-sts.txt に `{policy_example}` を置き (最初は mode: "
                   f"testing)、{name} に TXT `v=STSv1; id=<yyyymmddnn>` と TLS-RPT レコードを公開してください。")
        return 0
    if len(found) > 1:
        report.add("mta_sts.record", "fail", f"{len(found)} MTA-STS records at {name}; RFC 8461 §3.1 treats that as "
                   "no policy.",
                   f"{name} に MTA-STS レコードが {len(found)} 個あり、RFC 8461 §3.1 "
                   "によりポリシーなしとして扱われます。",
                   "Keep exactly one `v=STSv1; id=...` record.",
                   "`v=STSv1; id=...` のレコードを1つだけにしてください。")
        return 0
    tags = dict(_tags(found[0])[0])
    records["mta_sts"] = found[0]
    if not re.fullmatch(r"[A-Za-z0-9]{1,32}", tags.get("id", "")):
        report.add("mta_sts.record", "fail", f"MTA-STS record without a valid id= (1-32 letters or digits): {found[0]}",
                   f"MTA-STS レコードに有効な id= (英数字1～32文字) がありません: {found[0]}",
                   f"Publish `v=STSv1; id=<yyyymmddnn>` at {name} and change id= whenever the policy changes.",
                   f"{name} に `v=STSv1; id=<yyyymmddnn>` を公開し、ポリシー変更のたびに id= を更新してください。")
        return 0
    report.add("mta_sts.record", "pass", f"MTA-STS record: {found[0]}", f"MTA-STS レコード: {found[0]}")
    text, error_en, error_ja = _fetch_policy(domain, dns_, https, own_resolver)
    if text is None:
        report.add("mta_sts.policy", "fail", f"The MTA-STS policy cannot be fetched: {error_en}.",
                   f"MTA-STS ポリシーを取得できません: {error_ja}。",
                   f"Serve the policy at https://mta-sts.{domain}/.well-known/mta-sts.txt with a publicly trusted "
                   f"certificate for mta-sts.{domain}, HTTP 200 and Content-Type text/plain.",
                   f"https://mta-sts.{domain}/.well-known/mta-sts.txt で、mta-sts.{domain} "
                   "の公的に信頼される証明書を使い、"
                   "HTTP 200・Content-Type text/plain でポリシーを配信してください。")
        return 0
    policy, problems = parse_mta_sts_policy(text)
    records["mta_sts_policy"] = policy
    if error_en:
        problems.append(f"served with {error_en}, RFC 8461 §3.2 requires text/plain")
    if problems:
        report.add("mta_sts.policy", "fail" if "version must be STSv1" in problems or any(
            p.startswith("mode") for p in problems) else "warn",
                   "MTA-STS policy problems: " + "; ".join(problems), "MTA-STS ポリシーの問題: " + "; ".join(problems),
                   f"Serve a policy in the RFC 8461 §3.2 form, e.g. `{policy_example}`.",
                   f"RFC 8461 §3.2 の形式でポリシーを配信してください。例: `{policy_example}`", problems=problems)
        if any(p.startswith(("version", "mode")) for p in problems):
            return 0
    else:
        report.add("mta_sts.policy", "pass", "MTA-STS policy fetched over HTTPS and well formed.",
                   "MTA-STS ポリシーを HTTPS で取得でき、形式も正しいです。")
    mode = policy.get("mode")
    points = weight
    if mode == "enforce":
        report.add("mta_sts.mode", "pass", "MTA-STS mode: enforce.", "MTA-STS のモードは enforce です。", mode=mode)
    elif mode == "testing":
        report.add("mta_sts.mode", "warn", "MTA-STS mode: testing — senders report TLS failures but still deliver.",
                   "MTA-STS のモードが testing です。TLS の失敗は報告されますが、配送は継続されます。",
                   "After TLS-RPT reports show no failures, switch to `mode: enforce` and change the id= of the TXT "
                   "record.",
                   "TLS-RPT のレポートで失敗がないことを確認したら `mode: enforce` に変更し、TXT レコードの id= "
                   "を更新して"
                   "ください。", mode=mode)
        points = weight // 2
    else:
        report.add("mta_sts.mode", "warn", "MTA-STS mode: none — the policy is being withdrawn and protects nothing.",
                   "MTA-STS のモードが none です。ポリシー撤回用の設定であり、保護はありません。",
                   "Use `mode: testing`, then `mode: enforce`.",
                   "`mode: testing` を経て `mode: enforce` にしてください。",
                   mode=mode)
        points = 0
    patterns: list[str] = policy.get("mx", [])
    uncovered = [h for h in mx_hosts if not any(mx_pattern_matches(p, h) for p in patterns)]
    if mode in ("enforce", "testing") and uncovered:
        report.add("mta_sts.mx", "fail", f"MX hosts not covered by the policy's mx: lines ({', '.join(patterns)}): "
                   f"{', '.join(uncovered)}. In enforce mode senders refuse to deliver to them.",
                   f"ポリシーの mx: ({', '.join(patterns)}) に含まれない MX があります: {', '.join(uncovered)}。"
                   "enforce モードでは送信側はこれらのサーバへ配送しません。",
                   "Add an `mx:` line for each of them (or a `*.` pattern) and change the TXT record's id=.",
                   "それぞれの `mx:` 行 (または `*.` パターン) を追加し、TXT レコードの id= を更新してください。",
                   uncovered=uncovered, patterns=patterns)
        points = 0
    elif mode in ("enforce", "testing"):
        report.add("mta_sts.mx", "pass", "Every MX host matches an mx: line of the policy.",
                   "すべての MX がポリシーの mx: に一致しています。")
    age = policy.get("max_age")
    if isinstance(age, int) and age < 86400 and mode != "none":
        report.add("mta_sts.max_age", "warn", f"max_age={age} s is under a day: a downgrade attack only has to wait "
                   "for the cached policy to expire.",
                   f"max_age={age} 秒は1日未満のため、キャッシュの期限切れを待てばダウングレード攻撃が成立します。",
                   "Use max_age of one to several weeks (e.g. 1209600 = 14 days).",
                   "max_age は1～数週間 (例: 1209600 = 14日) にしてください。", max_age=age)
        points = max(0, points - 2)
    return points


def _check_tls_rpt(dns_: _Dns, domain: str, report: _Report, records: dict[str, Any]) -> int:
    name = f"_smtp._tls.{domain}"
    answer = dns_.query(name, "TXT")
    if answer.failed:
        report.dns_failure("tls_rpt.record", "the TLS-RPT record", "TLS-RPT レコード", name, answer)
        return 0
    found = [v for v in answer.values if re.match(r"^\s*v\s*=\s*TLSRPTv1\s*(;|$)", v)] if answer.ok else []
    fix_en = f"Publish TXT `v=TLSRPTv1; rua=mailto:tls-reports@{domain}` at {name}."
    fix_ja = f"{name} に TXT `v=TLSRPTv1; rua=mailto:tls-reports@{domain}` を公開してください。"
    if not found:
        report.add("tls_rpt.record", "warn", f"No TLS-RPT (RFC 8460) record at {name}: senders cannot report TLS "
                   "failures delivering to this domain.",
                   f"{name} に TLS-RPT (RFC 8460) レコードがなく、このドメインへの配送時の TLS 失敗が報告されません。",
                   fix_en, fix_ja)
        return 0
    records["tls_rpt"] = found[0]
    rua = dict(_tags(found[0])[0]).get("rua", "")
    uris = [u.strip() for u in rua.split(",") if u.strip()]
    if len(found) > 1 or not uris or not all(re.match(r"^(mailto:[^@\s]+@\S+|https://\S+)$", u, re.I) for u in uris):
        report.add("tls_rpt.record", "fail", f"TLS-RPT record is not usable (RFC 8460 §3: one record, rua=mailto: or "
                   f"https:): {'; '.join(found)}",
                   "TLS-RPT レコードが不正です (RFC 8460 §3: レコードは1つ、rua= は mailto: か https:): "
                   f"{'; '.join(found)}",
                   fix_en, fix_ja)
        return 0
    report.add("tls_rpt.record", "pass", f"TLS-RPT record: {found[0]}", f"TLS-RPT レコード: {found[0]}")
    return _WEIGHTS_MAIL["tls_rpt"]


# ---------------------------------------------------------------------------------------------------
# MX (RFC 5321, RFC 7505)
# ---------------------------------------------------------------------------------------------------


def _check_mx(dns_: _Dns, domain: str, mx: _Answer, parked: bool, null_mx: bool, report: _Report) -> int:
    weight = (_WEIGHTS_PARKED if parked else _WEIGHTS_MAIL)["mx"]
    null_fix_en = f"Publish the null MX `{domain}. MX 0 .` (RFC 7505) so that nobody tries to deliver mail to it."
    null_fix_ja = (f"null MX `{domain}. MX 0 .` (RFC 7505) を公開し、"
                   "このドメイン宛てにメールが配送されないようにしてください。")
    if mx.failed:
        report.dns_failure("mx.records", "the MX records", "MX レコード", domain, mx)
        return 0
    hosts = [h for _, h in mx.values] if mx.ok else []
    if null_mx:
        if len(hosts) > 1:
            report.add("mx.null", "fail", "A null MX (RFC 7505) must be the only MX record, but others are published: "
                       + ", ".join(h for h in hosts if h != "."),
                       "null MX (RFC 7505) は唯一の MX でなければなりませんが、他の MX も公開されています: "
                       + ", ".join(h for h in hosts if h != "."),
                       "Remove either the null MX or the other MX records.",
                       "null MX か他の MX のどちらかを削除してください。")
            return 0
        report.add("mx.null", "pass", "Null MX (RFC 7505): the domain declares it accepts no mail.",
                   "null MX (RFC 7505) により、メールを受け付けないドメインであることを宣言しています。")
        return weight
    if not hosts:
        if parked:
            report.add("mx.null", "warn", "No MX record: senders fall back to the A/AAAA record (RFC 5321 §5.1).",
                       "MX レコードがないため、送信側は A/AAAA レコードへ配送を試みます (RFC 5321 §5.1)。",
                       null_fix_en, null_fix_ja)
            return weight // 2
        report.add("mx.records", "warn", "No MX record: mail to this domain falls back to its A/AAAA record (RFC 5321 "
                   "§5.1). If it receives no mail, say so with a null MX.",
                   "MX レコードがないため、このドメイン宛てのメールは A/AAAA レコードへ配送されます (RFC 5321 §5.1)。"
                   "メールを受信しない場合は null MX で明示してください。",
                   null_fix_en + " Otherwise publish the MX records of the mail servers.",
                   null_fix_ja + " 受信する場合はメールサーバの MX を公開してください。")
        return weight // 2
    if parked:
        report.add("mx.null", "fail", f"The domain is treated as parked but publishes MX records: {', '.join(hosts)}.",
                   f"送受信しないドメインとして扱われていますが、MX が公開されています: {', '.join(hosts)}。",
                   null_fix_en, null_fix_ja)
        return 0
    report.add("mx.records", "pass", f"MX: {', '.join(f'{p} {h}' for p, h in sorted(mx.values))}.",
               f"MX: {', '.join(f'{p} {h}' for p, h in sorted(mx.values))}。", mx=[list(v) for v in sorted(mx.values)])
    unresolved = [h for h in hosts if not dns_.addresses(h).ok]
    if unresolved:
        report.add("mx.resolve", "warn", f"MX hosts without an address: {', '.join(unresolved)}.",
                   f"アドレスを解決できない MX ホストがあります: {', '.join(unresolved)}。",
                   "Point MX records at host names that have A or AAAA records (not CNAMEs, not IP literals).",
                   "MX には A/AAAA レコードを持つホスト名を指定してください (CNAME や IP アドレスは不可)。",
                   unresolved=unresolved)
        return weight // 2
    return weight


# ---------------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------------


def _grade(score: int) -> str:
    return next(g for threshold, g in _GRADES if score >= threshold)


def default_resolver(timeout: float = 5.0) -> dns.resolver.Resolver:
    """The system resolver (``/etc/resolv.conf``) with a bounded time per query."""
    resolver = dns.resolver.Resolver()
    resolver.lifetime = timeout
    return resolver


def check_domain(domain: str, *, resolver: dns.resolver.Resolver | None = None,
                 dkim_selectors: Sequence[str] = DEFAULT_SELECTORS, https: HttpsOptions | None = None,
                 psl: PublicSuffixList | None = None, parked: bool | None = None) -> DomainPosture:
    """Check the sender-spoofing posture of ``domain`` (SPF, DKIM, DMARC, BIMI, MTA-STS, TLS-RPT, MX).

    ``resolver``: dnspython resolver (default: the system's); ``dkim_selectors``: selectors to try;
    ``https``: how to fetch the MTA-STS policy; ``psl``: public-suffix rules for the DMARC
    organizational domain; ``parked``: force (or deny) the "sends and receives no mail" profile —
    by default a domain is parked when it has a null MX (RFC 7505), or no MX and ``v=spf1 -all``.

    DNS failures become findings; only a malformed ``domain`` raises (``ValueError``).
    """
    name = normalize_domain(domain)
    own_resolver = resolver is not None
    dns_ = _Dns(resolver if resolver is not None else default_resolver())
    https = https or HttpsOptions()
    psl = psl or default_psl()
    report = _Report()
    records: dict[str, Any] = {}

    mx = dns_.query(name, "MX")
    apex_txt = dns_.query(name, "TXT")
    if mx.status == "nxdomain" and apex_txt.status == "nxdomain":
        report.add("domain.exists", "fail", f"{name} does not exist (NXDOMAIN).",
                   f"{name} は存在しません (NXDOMAIN)。",
                   "Check the spelling. If the firm owns this name, register it and publish the parked-domain "
                   "records (null MX, `v=spf1 -all`, DMARC p=reject).",
                   "綴りを確認してください。自社で保有すべき名前であれば登録し、送受信しないドメイン向けのレコード "
                   "(null MX、`v=spf1 -all`、DMARC p=reject) を公開してください。")
        return DomainPosture(name, 0, "F", False, tuple(report.findings), {}, records)
    if mx.failed and apex_txt.failed:
        en, ja = mx.describe()
        report.add("dns.reachable", "fail",
                   f"The name servers of {name} do not answer: {en}. Nothing could be checked; receivers that "
                   "cannot read SPF/DMARC either may defer or accept spoofed mail.",
                   f"{name} のネームサーバが応答しません: {ja}。何もチェックできませんでした。受信側も SPF/DMARC を取得"
                   "できないため、配送遅延やなりすましメールの受け入れにつながります。",
                   "Check every authoritative name server (NS records at the parent, firewalls, DNSSEC signatures).",
                   "すべての権威ネームサーバ (親ゾーンの NS、ファイアウォール、DNSSEC 署名) を確認してください。",
                   dns_status=mx.status)
        return DomainPosture(name, 0, "F", False, tuple(report.findings), {}, records)

    null_mx = mx.ok and any(h == "." for _, h in mx.values)
    spf_now = _spf_records(apex_txt.values) if apex_txt.ok else []
    if parked is None:
        parked = null_mx or (mx.void and len(spf_now) == 1 and spf_now[0].lower().split() == ["v=spf1", "-all"])
    records["mx"] = [list(v) for v in mx.values] if mx.ok else []
    weights = _WEIGHTS_PARKED if parked else _WEIGHTS_MAIL
    earned: dict[str, int] = {}

    earned["mx"] = _check_mx(dns_, name, mx, parked, null_mx, report)
    earned["spf"] = _check_spf(dns_, name, apex_txt, parked, report, records)
    dmarc = _check_dmarc(dns_, name, psl, parked, report, records)
    earned["dmarc"] = dmarc.points
    dkim_points = _check_dkim(dns_, name, dkim_selectors, parked, report, records)
    if parked:
        for check, en, ja in (("mta_sts.record", "MTA-STS", "MTA-STS"), ("tls_rpt.record", "TLS-RPT", "TLS-RPT"),
                              ("bimi.record", "BIMI", "BIMI")):
            report.add(check, "info", f"{en}: not applicable, the domain sends and receives no mail.",
                       f"{ja}: メールを送受信しないドメインのため対象外です。")
    else:
        earned["dkim"] = dkim_points
        mx_hosts = [h for _, h in mx.values if h != "."] if mx.ok else []
        earned["mta_sts"] = _check_mta_sts(dns_, name, mx_hosts, https, own_resolver, report, records)
        earned["tls_rpt"] = _check_tls_rpt(dns_, name, report, records)
        _check_bimi(dns_, name, dmarc, report, records)

    scores = {k: (max(0, min(earned.get(k, 0), w)), w) for k, w in weights.items()}
    score = sum(e for e, _ in scores.values())
    return DomainPosture(name, score, _grade(score), parked, tuple(report.findings), scores, records)


def check_domains(domains: Iterable[str], **options: Any) -> list[DomainPosture]:
    return [check_domain(d, **options) for d in domains]
