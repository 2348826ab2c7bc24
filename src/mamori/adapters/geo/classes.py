"""Network classification files: which ASNs / organisations / networks are hosting, VPN, Tor, mobile.

The format is documented at the top of the shipped ``network_classes.yaml`` (read with
``yaml.safe_load``). In short::

    version: 1
    entries:
      - name: Amazon Web Services          # the organisation (required)
        class: hosting                     # residential | mobile | hosting | vpn | tor
        asns: [16509, 14618]               # exact AS numbers (optional)
        org_patterns: ['^AMAZON-(02|AES)$']  # case-insensitive Python regexes, re.search on the
                                           # AS organisation name (optional)
        networks: ['203.0.113.0/24']       # CIDRs, longest prefix wins (optional)
        note: free text                    # optional

Within one file a network match beats an AS-number match, which beats an organisation-pattern
match; among patterns the first matching entry in file order wins. A firm's file is consulted
entirely before the shipped one (see :class:`Classifier`).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

import yaml

from mamori.kit.errors import GeoDatabaseError

from .model import FILE_CLASSES

SHIPPED_NAME: Final = "network_classes.yaml"
_ENTRY_KEYS: Final = frozenset({"name", "class", "asns", "org_patterns", "networks", "note"})
_MAX_ASN: Final = 0xFFFFFFFF  # 32-bit AS numbers (RFC 6793)
_ORG_CACHE_SIZE: Final = 16384


@dataclass(frozen=True, slots=True)
class ClassEntry:
    name: str
    ip_class: str
    asns: tuple[int, ...]
    org_patterns: tuple[re.Pattern[str], ...]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    note: str | None


class ClassTable:
    """One parsed classification file, indexed for lookup."""

    def __init__(self, source: str, entries: Sequence[ClassEntry]) -> None:
        self.source = source
        self.entries = tuple(entries)
        self._by_asn: dict[int, str] = {}
        self._patterns: tuple[tuple[re.Pattern[str], str], ...] = tuple(
            (p, e.ip_class) for e in self.entries for p in e.org_patterns
        )
        # version -> [(prefixlen, {network_int >> host_bits: class})], longest prefix first
        self._nets: dict[int, list[tuple[int, dict[int, str]]]] = {4: [], 6: []}
        by_len: dict[tuple[int, int], dict[int, str]] = {}
        for e in self.entries:
            for asn in e.asns:
                self._by_asn[asn] = e.ip_class
            for net in e.networks:
                host_bits = net.max_prefixlen - net.prefixlen
                by_len.setdefault((net.version, net.prefixlen), {})[int(net.network_address) >> host_bits] = (
                    e.ip_class
                )
        for (version, plen), table in sorted(by_len.items(), key=lambda kv: -kv[0][1]):
            self._nets[version].append((plen, table))
        self._org_cached: Callable[[str], str | None] = functools.lru_cache(maxsize=_ORG_CACHE_SIZE)(
            self._match_org
        )

    @property
    def has_networks(self) -> bool:
        return bool(self._nets[4] or self._nets[6])

    def match_network(self, n: int, version: int) -> str | None:
        """The class of the longest listed network containing address ``n`` (as an int), if any."""
        nets = self._nets[version]
        if nets:
            bits = 32 if version == 4 else 128
            for plen, table in nets:
                cls = table.get(n >> (bits - plen))
                if cls is not None:
                    return cls
        return None

    def match_as(self, asn: int | None, org: str | None) -> str | None:
        """The class for this AS number (exact) or else organisation name (first matching pattern)."""
        if asn is not None:
            cls = self._by_asn.get(asn)
            if cls is not None:
                return cls
        if org:
            return self._org_cached(org)
        return None

    def _match_org(self, org: str) -> str | None:
        for pattern, cls in self._patterns:
            if pattern.search(org):
                return cls
        return None


class Classifier:
    """Applies classification tables in precedence order (a firm's file first, then the shipped one).

    Falls back to ``residential`` when the ASN or organisation is known, ``unknown`` otherwise.
    """

    def __init__(self, tables: Sequence[ClassTable]) -> None:
        self.tables = tuple(tables)

    @property
    def has_networks(self) -> bool:
        return any(t.has_networks for t in self.tables)

    def classify(self, n: int, version: int, asn: int | None, org: str | None) -> str:
        """Class of address ``n`` (as an int) of this IP version, AS number and organisation."""
        for table in self.tables:
            cls = table.match_network(n, version) or table.match_as(asn, org)
            if cls is not None:
                return cls
        return _default(asn, org)

    def classify_as(self, asn: int | None, org: str | None) -> str:
        """Class by AS number / organisation only (valid when no table lists networks)."""
        for table in self.tables:
            cls = table.match_as(asn, org)
            if cls is not None:
                return cls
        return _default(asn, org)


def _default(asn: int | None, org: str | None) -> str:
    return "residential" if asn is not None or org else "unknown"


@functools.cache
def shipped_table() -> ClassTable:
    """The classification file shipped in this package (parsed once per process)."""
    text = resources.files(__package__).joinpath(SHIPPED_NAME).read_text(encoding="utf-8")
    return parse_class_table(text, f"<shipped {SHIPPED_NAME}>")


def load_class_table(path: str) -> ClassTable:
    """Read and validate a firm's classification file; ``GeoDatabaseError`` naming the problem."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise GeoDatabaseError(f"network classes file {path}: cannot read: {exc}") from exc
    return parse_class_table(text, path)


def parse_class_table(text: str, source: str) -> ClassTable:
    """Parse and validate classification-file ``text``; ``source`` names it in error messages."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise GeoDatabaseError(f"network classes file {source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise GeoDatabaseError(
            f"network classes file {source}: expected a mapping with 'version' and 'entries'"
        )
    unknown = set(doc) - {"version", "entries"}
    if unknown:
        raise GeoDatabaseError(
            f"network classes file {source}: unknown top-level keys {sorted(map(str, unknown))}"
        )
    if doc.get("version") != 1:
        raise GeoDatabaseError(
            f"network classes file {source}: 'version' must be 1, got {doc.get('version')!r}"
        )
    raw_entries = doc.get("entries")
    if not isinstance(raw_entries, list):
        raise GeoDatabaseError(f"network classes file {source}: 'entries' must be a list")
    entries = [_parse_entry(raw, i, source) for i, raw in enumerate(raw_entries)]
    _check_duplicates(entries, source)
    return ClassTable(source, entries)


def _parse_entry(raw: Any, index: int, source: str) -> ClassEntry:
    where = f"network classes file {source}: entry {index}"

    def fail(problem: str) -> GeoDatabaseError:
        return GeoDatabaseError(f"{where}: {problem}")

    if not isinstance(raw, dict):
        raise fail("must be a mapping")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail("'name' (the organisation) is required")
    where = f"{where} ({name})"
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise fail(f"unknown keys {sorted(map(str, unknown))}")
    cls = raw.get("class")
    if cls not in FILE_CLASSES:
        raise fail(f"'class' must be one of {', '.join(FILE_CLASSES)}; got {cls!r}")
    asns = _list(raw, "asns", fail)
    for a in asns:
        if not isinstance(a, int) or isinstance(a, bool) or not 0 < a <= _MAX_ASN:
            raise fail(f"'asns' must hold AS numbers 1..{_MAX_ASN}; got {a!r}")
    patterns: list[re.Pattern[str]] = []
    for p in _list(raw, "org_patterns", fail):
        if not isinstance(p, str) or not p:
            raise fail(f"'org_patterns' must hold non-empty strings; got {p!r}")
        try:
            patterns.append(re.compile(p, re.IGNORECASE))
        except re.error as exc:
            raise fail(f"org pattern {p!r} is not a valid regular expression: {exc}") from exc
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for c in _list(raw, "networks", fail):
        try:
            if not isinstance(c, str):
                raise TypeError("expected text such as '203.0.113.0/24'")
            networks.append(ipaddress.ip_network(c))
        except (TypeError, ValueError) as exc:
            raise fail(f"'networks' entry {c!r} is not a CIDR network: {exc}") from exc
    if not (asns or patterns or networks):
        raise fail("needs at least one of 'asns', 'org_patterns', 'networks'")
    note = raw.get("note")
    if note is not None and not isinstance(note, str):
        raise fail("'note' must be text")
    return ClassEntry(name.strip(), cls, tuple(asns), tuple(patterns), tuple(networks), note)


def _list(raw: dict[str, Any], key: str, fail: Callable[[str], GeoDatabaseError]) -> list[Any]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail(f"'{key}' must be a list")
    return value


def _check_duplicates(entries: Sequence[ClassEntry], source: str) -> None:
    seen_asn: dict[int, str] = {}
    seen_net: dict[str, str] = {}
    for e in entries:
        for a in e.asns:
            if a in seen_asn:
                raise GeoDatabaseError(
                    f"network classes file {source}: AS{a} listed by both {seen_asn[a]!r} and {e.name!r}"
                )
            seen_asn[a] = e.name
        for net in e.networks:
            key = str(net)
            if key in seen_net:
                raise GeoDatabaseError(
                    f"network classes file {source}: {key} listed by both {seen_net[key]!r} and {e.name!r}"
                )
            seen_net[key] = e.name
