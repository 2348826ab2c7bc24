"""The client's IP address behind reverse proxies: right-most untrusted ``X-Forwarded-For`` entry.

Throttling, risk scoring and audit all key on the client address, so it must be one the client
cannot choose. ``X-Forwarded-For`` (the de-facto form of RFC 7239 ``Forwarded: for=``) is a list
that every proxy *appends* its peer to; only the entries appended by proxies we operate are
trustworthy, and anything to their left was written by the client. RFC 7239 §8.1 ("Header
Validity and Integrity") says as much: the header cannot be relied on unless the proxies that add
it are trusted. The algorithm is therefore the standard one (nginx ``real_ip_recursive on``,
Go's ``realclientip`` "rightmost-trusted-range", OWASP's advice on ``X-Forwarded-For``):

1. the TCP peer is the starting address; if it is not a configured trusted proxy the header is
   ignored entirely (a client talking to us directly can write anything in it);
2. otherwise walk the list from the right, skipping entries that are themselves trusted proxies,
   and return the first untrusted address;
3. a malformed entry (``unknown``, an RFC 7239 obfuscated identifier such as ``_hidden``, garbage,
   an empty element) stops the walk and the last trustworthy address is returned -- never the
   garbage string; if every entry is trusted the left-most one is returned (as nginx does).

Addresses are canonicalised by :func:`mamori.adapters.geo.addresses.normalise` (the rest of mamori
uses the same text): RFC 5952 IPv6 text, zone index dropped, and IPv4-mapped IPv6
(``::ffff:192.0.2.1``, which dual-stack sockets report for IPv4 peers) turned into the IPv4
address -- *before* the trusted-proxy test, so an IPv4 proxy list matches a dual-stack listener.
Entries may carry a port as proxies write them (``192.0.2.1:4711``, ``[2001:db8::1]:4711``).

Several ``X-Forwarded-For`` header lines must be joined with ``,`` in order (RFC 9110 §5.3) before
the call. The walk looks at no more than :data:`MAX_HOPS` entries, so a huge forged header costs
nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Final

from mamori.adapters.geo.addresses import normalise

__all__ = ["MAX_HOPS", "IPNetwork", "client_ip", "is_trusted", "parse_network", "parse_trusted_proxies"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_HOPS: Final = 32
"""Entries of the header examined at most (a deployment has a handful of proxy tiers)."""

_MAPPED: Final = ipaddress.IPv6Network("::ffff:0:0/96")


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A canonical address from an ``X-Forwarded-For`` element, or ``None`` if it is not one.

    Accepts ``a.b.c.d``, ``a.b.c.d:port``, an IPv6 literal, ``[v6]`` and ``[v6]:port``.
    """
    text = text.strip()
    if not text or len(text) > 64:
        return None
    if text[0] == "[":
        end = text.find("]")
        if end < 0 or not (end == len(text) - 1 or (text[end + 1] == ":" and text[end + 2 :].isdigit())):
            return None
        text = text[1:end]
        if ":" not in text:  # brackets are for IPv6 only
            return None
    elif text.count(":") == 1:  # IPv4 with a port
        host, _, port = text.partition(":")
        if not port.isdigit():
            return None
        text = host
    if "%" in text:  # a zone index means nothing on another host
        return None
    try:
        canonical, _, _ = normalise(text)
    except ValueError:
        return None
    return ipaddress.ip_address(canonical)


def is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Sequence[IPNetwork]) -> bool:
    """Whether ``address`` lies in one of the ``trusted`` networks (mixed versions never match)."""
    return any(address in net for net in trusted)


def client_ip(peer: str, forwarded_for: str | None, trusted_proxies: Sequence[IPNetwork]) -> str:
    """The client address for a request that reached us from TCP peer ``peer``.

    ``forwarded_for`` is the (joined) ``X-Forwarded-For`` value or ``None``; it is consulted only
    when ``peer`` is in ``trusted_proxies``. Returns canonical address text (see the module
    docstring). Raises ``ValueError`` if ``peer`` itself is not an IP address (e.g. a Unix socket
    or a test client's placeholder host): there is then no trustworthy address to return.
    """
    current = _address(peer)
    if current is None:
        try:  # the peer may carry a zone index (fe80::1%eth0); normalise drops it
            current = ipaddress.ip_address(normalise(peer)[0])
        except ValueError:
            raise ValueError(f"peer is not an IP address: {peer!r:.80}") from None
    if not forwarded_for or not trusted_proxies or not is_trusted(current, trusted_proxies):
        return str(current)
    entries = forwarded_for.rsplit(",", MAX_HOPS)
    for raw in reversed(entries[-MAX_HOPS:]):
        entry = _address(raw)
        if entry is None:  # malformed (or past MAX_HOPS): stop at the last trustworthy address
            return str(current)
        current = entry
        if not is_trusted(current, trusted_proxies):
            return str(current)
    return str(current)


def parse_network(entry: str) -> IPNetwork:
    """One CIDR (``10.0.0.0/8``, ``2001:db8::/32``) or bare address (a /32 or /128).

    Strict: host bits set (``10.0.0.1/8``) is an error rather than silently widened, a /0 is
    refused (it would trust or allow every address), and an IPv4-mapped IPv6 network
    (``::ffff:10.0.0.0/104``) becomes its IPv4 network, matching canonicalised addresses.
    ``ValueError`` names the bad entry.
    """
    text = entry.strip()
    try:
        net: IPNetwork = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError(f"bad network {text!r}: {exc}") from None
    if net.prefixlen == 0:
        raise ValueError(f"bad network {text!r}: a /0 would match every address")
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96 and net.subnet_of(_MAPPED):
        mapped = net.network_address.ipv4_mapped
        assert mapped is not None
        net = ipaddress.IPv4Network((mapped, net.prefixlen - 96))
    return net


def parse_trusted_proxies(text: str) -> list[IPNetwork]:
    """The trusted-proxy setting: comma-separated CIDRs or addresses, e.g. ``"10.0.0.0/8, ::1"``.

    Empty elements (a trailing comma) are ignored; any other bad element raises ``ValueError``
    naming it (see :func:`parse_network`).
    """
    return [parse_network(part) for part in text.split(",") if part.strip()]
