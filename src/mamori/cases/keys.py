"""Grouping keys of one alert (pure): which campaign or counterparty it may belong to.

Campaign keys (several accounts hit by one attacker, or buying one pumped symbol):

* ``device:<device id>`` - the same device identifier on several accounts' alerts;
* ``net:<network>`` - the same source network: the client IP's /24 (IPv4) or /48 (IPv6). Skipped
  for private addresses and for mobile carriers (carrier-grade NAT puts thousands of unrelated
  customers behind one /24), when the decision's enrichment says so;
* ``symbol:<code>`` - a buy order of one symbol on which a rule tagged ``campaign`` or ``pump`` fired
  (the 2025 pattern: taken-over accounts sell out and buy one thinly traded stock to push its price).

Counterparty keys (several accounts paying one destination):

* ``bank:<fingerprint>`` - a fiat withdrawal's ``bank_account_fingerprint``, or the new withdrawal
  account registered by a ``settings_change`` (the usual first step of the takeover-withdrawal chain);
* ``address:<address>`` - a crypto withdrawal's destination (``0x`` addresses compared in lower case).

Keys are listed most specific first: an alert that matches several open cases joins the first.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, Final

from mamori.cases.model import CaseKind

CAMPAIGN_TAGS: Final = frozenset({"campaign", "pump"})
_SKIP_CLASSES: Final = frozenset({"mobile", "private"})


def source_network(ip: str) -> str | None:
    """``203.0.113.0/24`` or ``2001:db8:1::/48`` for a public address; None for private/invalid ones."""
    parts = ip.split(".")
    if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 for p in parts):
        a, b, c, d = (int(p) for p in parts)
        if max(a, b, c, d) > 255:
            return None
        value = a << 24 | b << 16 | c << 8 | d
        if any(value & mask == net for net, mask in _NON_GLOBAL_V4):
            return None
        return f"{a}.{b}.{c}.0/24"  # the common case, without ipaddress objects (a hot loop)
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return source_network(str(address.ipv4_mapped))
    if not address.is_global:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


# IPv4 special-purpose ranges that are not globally reachable (IANA registry, RFC 6890 and successors).
_NON_GLOBAL_V4: Final = tuple(
    (int(n.network_address), int(n.netmask)) for n in map(ipaddress.ip_network, (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "240.0.0.0/4")))


def _fired_tags(body: Mapping[str, Any]) -> set[str]:
    tags: set[str] = set()
    for rule in body.get("rules") or ():
        if isinstance(rule, Mapping):
            tags.update(str(t) for t in rule.get("tags") or ())
    return tags


def grouping_keys(event_type: str, payload: Mapping[str, Any],
                  body: Mapping[str, Any]) -> list[tuple[CaseKind, str]]:
    """(case kind, key) pairs of an alert, from its event payload and its decision body."""
    keys: list[tuple[CaseKind, str]] = []
    device = payload.get("device_id")
    if isinstance(device, str) and device:
        keys.append((CaseKind.CAMPAIGN, f"device:{device}"))
    ip = payload.get("ip")
    features = body.get("features") or {}
    if isinstance(ip, str) and (features.get("ip_class") not in _SKIP_CLASSES):
        network = source_network(ip)
        if network is not None:
            keys.append((CaseKind.CAMPAIGN, f"net:{network}"))
    if event_type == "order" and payload.get("side") == "buy" and _fired_tags(body) & CAMPAIGN_TAGS:
        symbol = payload.get("symbol")
        if isinstance(symbol, str) and symbol:
            keys.append((CaseKind.CAMPAIGN, f"symbol:{symbol}"))
    destination: str | None = None
    if event_type == "fiat_withdrawal":
        fingerprint = payload.get("bank_account_fingerprint")
        destination = f"bank:{fingerprint}" if fingerprint else None
    elif event_type == "crypto_withdrawal":
        address = payload.get("address")
        if isinstance(address, str) and address:
            destination = f"address:{address.lower() if address[:2].lower() == '0x' else address}"
    elif event_type == "settings_change" and payload.get("setting") == "withdrawal_account":
        fingerprint = payload.get("new_value_fingerprint")
        destination = f"bank:{fingerprint}" if fingerprint else None
    if destination is not None:
        keys.append((CaseKind.COUNTERPARTY, destination))
    return keys


def describe_key(kind: CaseKind, key: str) -> str:
    """A case title for a key (English; the console translates)."""
    if kind is CaseKind.ACCOUNT:
        return f"Account {key}"
    family, _, value = key.partition(":")
    names = {"device": "one device on several accounts", "net": "one source network",
             "symbol": "coordinated buying of one symbol", "bank": "one bank account receiving withdrawals",
             "address": "one crypto address receiving withdrawals"}
    label = "Campaign" if kind is CaseKind.CAMPAIGN else "Counterparty"
    return f"{label}: {names.get(family, family)} ({value})"
