"""Client address behind trusted proxies (mamori.auth.client_ip): right-most untrusted
X-Forwarded-For entry, spoofing from untrusted peers ignored, malformed entries stop the walk."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.auth.client_ip import MAX_HOPS, client_ip, parse_network, parse_trusted_proxies

PROXIES = parse_trusted_proxies("10.0.0.0/8, 2001:db8:ffff::/48, 127.0.0.1")


def test_untrusted_peer_cannot_spoof() -> None:
    assert client_ip("198.51.100.7", "1.2.3.4", PROXIES) == "198.51.100.7"
    assert client_ip("198.51.100.7", "10.0.0.1", PROXIES) == "198.51.100.7"
    assert client_ip("198.51.100.7", None, PROXIES) == "198.51.100.7"
    assert client_ip("198.51.100.7", "1.2.3.4", []) == "198.51.100.7"


def test_one_trusted_proxy() -> None:
    assert client_ip("10.0.0.5", "198.51.100.7", PROXIES) == "198.51.100.7"
    assert client_ip("10.0.0.5", None, PROXIES) == "10.0.0.5"  # health check straight from the balancer
    assert client_ip("10.0.0.5", "", PROXIES) == "10.0.0.5"


def test_chain_through_two_trusted_proxies() -> None:
    # client 203.0.113.9 -> ingress 10.1.1.1 (appends the client) -> balancer 10.0.0.5 (appends the ingress) -> us
    assert client_ip("10.0.0.5", "203.0.113.9, 10.1.1.1", PROXIES) == "203.0.113.9"
    # the client forged entries to the left: they are never reached
    assert client_ip("10.0.0.5", "6.6.6.6, 10.9.9.9, 203.0.113.9, 10.1.1.1", PROXIES) == "203.0.113.9"
    # several header lines joined with "," (RFC 9110 §5.3)
    assert client_ip("10.0.0.5", "6.6.6.6,203.0.113.9 ,10.1.1.1", PROXIES) == "203.0.113.9"


def test_all_entries_trusted_returns_the_leftmost() -> None:
    assert client_ip("10.0.0.5", "10.0.0.9, 10.0.0.8", PROXIES) == "10.0.0.9"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("unknown", "10.0.0.5"),
        ("_hidden", "10.0.0.5"),
        ("203.0.113.9, garbage", "10.0.0.5"),
        ("garbage, 10.1.1.1", "10.1.1.1"),  # the last trustworthy address, never the garbage
        ("203.0.113.9, , 10.1.1.1", "10.1.1.1"),
        ("203.0.113.09", "10.0.0.5"),  # leading zero: not canonical, ambiguous (octal?)
        ("1.2.3", "10.0.0.5"),
        ("999.1.1.1", "10.0.0.5"),
        ("fe80::1%eth0", "10.0.0.5"),
        ("[2001:db8::1", "10.0.0.5"),
        ("[203.0.113.9]", "10.0.0.5"),
        ("203.0.113.9:abc", "10.0.0.5"),
        ("<script>", "10.0.0.5"),
        ('"203.0.113.9"', "10.0.0.5"),
        ("203.0.113.9:4711", "203.0.113.9"),
        ("[2001:db8::1]:4711", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
    ],
)
def test_malformed_and_port_forms(header: str, expected: str) -> None:
    assert client_ip("10.0.0.5", header, PROXIES) == expected


def test_ipv6_and_canonical_text() -> None:
    assert client_ip("2001:db8:ffff::1", "2001:DB8:0:0::0:1", PROXIES) == "2001:db8::1"
    assert client_ip("2001:db8:ffff::1", "203.0.113.9", PROXIES) == "203.0.113.9"
    assert client_ip("10.0.0.5", "2001:0db8::0001", PROXIES) == "2001:db8::1"
    assert client_ip("2001:db8:1::1", "1.2.3.4", PROXIES) == "2001:db8:1::1"  # untrusted IPv6 peer


def test_ipv4_mapped_peers_and_entries_are_ipv4() -> None:
    # a dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; the IPv4 proxy list must match
    assert client_ip("::ffff:10.0.0.5", "198.51.100.7", PROXIES) == "198.51.100.7"
    assert client_ip("::ffff:198.51.100.7", "1.2.3.4", PROXIES) == "198.51.100.7"
    assert client_ip("10.0.0.5", "::ffff:198.51.100.7", PROXIES) == "198.51.100.7"
    assert client_ip("10.0.0.5", "203.0.113.9, ::ffff:10.1.1.1", PROXIES) == "203.0.113.9"
    mapped_proxies = parse_trusted_proxies("::ffff:10.0.0.0/104")
    assert mapped_proxies == [ipaddress.IPv4Network("10.0.0.0/8")]
    assert client_ip("10.0.0.5", "198.51.100.7", mapped_proxies) == "198.51.100.7"


def test_bad_peer_raises() -> None:
    with pytest.raises(ValueError, match="peer"):
        client_ip("testclient", "1.2.3.4", PROXIES)
    assert client_ip("fe80::1%eth0", None, PROXIES) == "fe80::1"  # zone index dropped


def test_huge_forged_header_is_cheap_and_safe() -> None:
    forged = ", ".join(["10.0.0.1"] * 100_000)  # all "trusted": stops after MAX_HOPS
    assert client_ip("10.0.0.5", forged, PROXIES) == "10.0.0.1"
    real = ", ".join(["6.6.6.6"] * 100_000) + ", 203.0.113.9, 10.1.1.1"
    assert client_ip("10.0.0.5", real, PROXIES) == "203.0.113.9"
    assert MAX_HOPS >= 8


def test_parse_trusted_proxies() -> None:
    assert parse_trusted_proxies("") == []
    assert parse_trusted_proxies(" 10.0.0.0/8 ,192.0.2.1, ::1,") == [
        ipaddress.IPv4Network("10.0.0.0/8"),
        ipaddress.IPv4Network("192.0.2.1/32"),
        ipaddress.IPv6Network("::1/128"),
    ]
    with pytest.raises(ValueError, match=re.escape("'10.0.0.1/8'")):
        parse_trusted_proxies("192.0.2.0/24, 10.0.0.1/8")
    with pytest.raises(ValueError, match=re.escape("'proxy.internal'")):
        parse_trusted_proxies("10.0.0.0/8,proxy.internal")
    with pytest.raises(ValueError, match="every address"):
        parse_trusted_proxies("0.0.0.0/0")
    with pytest.raises(ValueError, match=re.escape("'2001:db8::/129'")):
        parse_network("2001:db8::/129")


# -- properties --------------------------------------------------------------------------------



def _untrusted(a: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not (isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped) and not any(a in n for n in PROXIES)


_untrusted_v4 = st.ip_addresses(v=4).filter(_untrusted)
_untrusted_v6 = st.ip_addresses(v=6).filter(_untrusted)
_trusted_hops = st.lists(st.ip_addresses(network="10.0.0.0/8"), max_size=5)


@given(
    client=st.one_of(_untrusted_v4, _untrusted_v6),
    forged=st.lists(st.text(max_size=20), max_size=5),
    hops=_trusted_hops,
    peer=st.ip_addresses(network="10.0.0.0/8"),
)
@settings(max_examples=300)
def test_rightmost_untrusted_whatever_the_client_forges(
    client: ipaddress.IPv4Address | ipaddress.IPv6Address,
    forged: list[str],
    hops: list[ipaddress.IPv4Address],
    peer: ipaddress.IPv4Address,
) -> None:
    header = ", ".join([*forged, str(client), *map(str, hops)])
    assert client_ip(str(peer), header, PROXIES) == str(client)


@given(peer=st.one_of(st.ip_addresses(), st.ip_addresses(network="10.0.0.0/8")), header=st.text(max_size=200))
@settings(max_examples=500)
def test_never_returns_garbage(peer: ipaddress.IPv4Address | ipaddress.IPv6Address, header: str) -> None:
    result = client_ip(str(peer), header, PROXIES)
    address = ipaddress.ip_address(result)
    assert str(address) == result  # canonical text of a real address
    assert not (isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped)
    canonical_peer = peer.ipv4_mapped if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped else peer
    if not any(canonical_peer in n for n in PROXIES):
        assert address == canonical_peer
