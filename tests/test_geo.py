"""IP enrichment (mamori.adapters.geo): built-in data, real .mmdb files, Tor list, firm overrides.

Everything is offline: the built-in data ships in the geoip2fast wheel and the MaxMind files are
written here with mmdb_writer, shaped like GeoLite2-Country and GeoLite2-ASN.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from mmdb_writer import MmdbU32, MMDBWriter
from netaddr import IPSet

from mamori.adapters.geo import IP_CLASSES, GeoProvider, IpInfo, network_of, open_geo_provider
from mamori.adapters.geo.addresses import is_special, normalise
from mamori.adapters.geo.classes import SHIPPED_NAME, parse_class_table, shipped_table
from mamori.adapters.geo.model import FILE_CLASSES
from mamori.kit.errors import GeoDatabaseError

SPECIAL_CIDRS = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/96", "64:ff9b:1::/48", "100::/64", "2001:2::/48", "2001:db8::/32", "3fff::/20", "5f00::/16",
    "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
]  # fmt: skip

# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def builtin() -> GeoProvider:
    return open_geo_provider()


def _country(code: str) -> dict[str, object]:
    return {"iso_code": code, "geoname_id": MmdbU32(1), "names": {"en": code}}


COUNTRY_RECORDS: dict[str, dict[str, object]] = {
    "153.156.0.0/16": {
        "continent": {"code": "AS"},
        "country": _country("JP"),
        "registered_country": _country("JP"),
    },
    "3.112.0.0/14": {"country": _country("JP"), "registered_country": _country("US")},
    # no country, only the registered country (GeoLite2 does this for e.g. satellite / anycast)
    "45.0.0.0/16": {"registered_country": _country("US")},
    "2400:4050::/32": {"country": _country("JP"), "registered_country": _country("JP")},
    "2a01:4f8::/32": {"country": _country("DE"), "registered_country": _country("DE")},
}

ASN_RECORDS: dict[str, dict[str, object]] = {
    "153.156.0.0/16": {
        "autonomous_system_number": MmdbU32(4713),
        "autonomous_system_organization": "NTT Communications Corporation",
    },
    "3.112.0.0/14": {
        "autonomous_system_number": MmdbU32(16509),
        "autonomous_system_organization": "AMAZON-02",
    },
    # a name no pattern knows: the class must come from the AS number (M247 = vpn)
    "45.0.0.0/16": {
        "autonomous_system_number": MmdbU32(9009),
        "autonomous_system_organization": "Renamed Carrier Ltd",
    },
    "2400:4050::/32": {
        "autonomous_system_number": MmdbU32(4713),
        "autonomous_system_organization": "NTT Communications Corporation",
    },
    "2a01:4f8::/32": {
        "autonomous_system_number": MmdbU32(24940),
        "autonomous_system_organization": "Hetzner Online GmbH",
    },
    "60.64.0.0/10": {
        "autonomous_system_number": MmdbU32(2914),
        "autonomous_system_organization": "NTT-LTD-2914",
    },
}


def _write_mmdb(
    path: Path, database_type: str, records: dict[str, dict[str, object]], ip_version: int = 6
) -> str:
    writer = MMDBWriter(
        ip_version=ip_version,
        ipv4_compatible=ip_version == 6,
        database_type=database_type,
        languages=["en"],
        description=f"mamori test {database_type}",
    )
    for cidr, record in records.items():
        if ip_version == 4 and ":" in cidr:
            continue
        writer.insert_network(IPSet([cidr]), record)
    writer.to_db_file(str(path))
    return str(path)


@pytest.fixture(scope="session")
def mmdb_dir(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("mmdb")
    ipinfo = {
        "153.156.0.0/16": {
            "country": "JP",
            "country_name": "Japan",
            "asn": "AS4713",
            "as_name": "NTT Communications Corporation",
        },
        "2a01:4f8::/32": {
            "country": "DE",
            "country_name": "Germany",
            "asn": "AS24940",
            "as_name": "Hetzner Online GmbH",
        },
    }
    not_mmdb = d / "not-a-database.mmdb"
    not_mmdb.write_text("this is a CSV, not a MaxMind DB\n1.0.0.0/24,AU\n")
    empty = d / "empty.mmdb"
    empty.write_bytes(b"")
    return {
        "country": _write_mmdb(d / "GeoLite2-Country.mmdb", "GeoLite2-Country", COUNTRY_RECORDS),
        "asn": _write_mmdb(d / "GeoLite2-ASN.mmdb", "GeoLite2-ASN", ASN_RECORDS),
        "country_v4": _write_mmdb(
            d / "GeoLite2-Country-v4.mmdb", "GeoLite2-Country", COUNTRY_RECORDS, ip_version=4
        ),
        "ipinfo": _write_mmdb(d / "country_asn.mmdb", "ipinfo country_asn.mmdb", ipinfo),
        # an unrecognised database_type whose records are ASN-shaped
        "asn_untyped": _write_mmdb(d / "asn-untyped.mmdb", "Custom-Thing", ASN_RECORDS),
        "not_mmdb": str(not_mmdb),
        "empty": str(empty),
        "dir": str(d),
    }


@pytest.fixture(scope="session")
def mm(mmdb_dir: dict[str, str]) -> GeoProvider:
    return open_geo_provider(country_mmdb=mmdb_dir["country"], asn_mmdb=mmdb_dir["asn"])


# -------------------------------------------------------------------------------------- network_of


@pytest.mark.parametrize(
    ("ip", "network"),
    [
        ("153.156.1.1", "153.156.1.0/24"),
        ("0.0.0.0", "0.0.0.0/24"),
        ("255.255.255.255", "255.255.255.0/24"),
        ("2400:4050::1", "2400:4050::/48"),
        ("2400:4050:1:2:3:4:5:6", "2400:4050:1::/48"),
        ("2400:4050:0001::1", "2400:4050:1::/48"),
        ("2001:DB8:ABCD:12::1", "2001:db8:abcd::/48"),
        ("::ffff:153.156.1.1", "153.156.1.0/24"),
        ("fe80::1%eth0", "fe80::/48"),
    ],
)
def test_network_of(ip: str, network: str) -> None:
    assert network_of(ip) == network


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "1.2.3",
        "1.2.3.4.5",
        "01.2.3.4",
        "256.1.1.1",
        " 1.2.3.4",
        "1.2.3.4/24",
        "example.jp",
        "1::2::3",
        "::g",
    ],
)
def test_network_of_rejects_invalid(bad: str) -> None:
    with pytest.raises(ValueError):
        network_of(bad)


@given(st.ip_addresses(v=4))
def test_network_of_ipv4_matches_ipaddress(addr: ipaddress.IPv4Address) -> None:
    assert network_of(str(addr)) == str(ipaddress.ip_network(f"{addr}/24", strict=False))


@given(st.ip_addresses(v=6))
def test_network_of_ipv6_matches_ipaddress(addr: ipaddress.IPv6Address) -> None:
    if addr.ipv4_mapped is not None:
        expected = str(ipaddress.ip_network(f"{addr.ipv4_mapped}/24", strict=False))
    else:
        expected = str(ipaddress.ip_network(f"{addr}/48", strict=False))
    assert network_of(str(addr)) == expected
    assert network_of(addr.exploded) == expected


@given(st.ip_addresses())
def test_normalise_agrees_with_ipaddress(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    expected = addr
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        expected = addr.ipv4_mapped
    forms = {str(addr), addr.exploded, str(addr).upper()}
    for form in forms:
        text, version, n = normalise(form)
        assert (text, version, n) == (str(expected), expected.version, int(expected))


@given(st.ip_addresses())
def test_special_ranges_match_a_plain_membership_check(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    text, version, n = normalise(str(addr))
    nets = [ipaddress.ip_network(c) for c in SPECIAL_CIDRS]
    expected = any(ipaddress.ip_address(text) in net for net in nets if net.version == version)
    assert is_special(n, version) == expected


@pytest.mark.parametrize(
    ("ip", "text"), [("::1.2.3.4", "::102:304"), ("::ffff:0:0", "0.0.0.0"), ("1:0:0:1::", "1:0:0:1::")]
)
def test_normalise_edge_forms(ip: str, text: str) -> None:
    assert normalise(ip)[0] == text == str(ipaddress.ip_address(text))


# --------------------------------------------------------------------------------- built-in provider


def test_builtin_is_a_geo_provider(builtin: GeoProvider) -> None:
    assert isinstance(builtin, GeoProvider)


@pytest.mark.parametrize(
    ("ip", "country", "org_part", "ip_class"),
    [
        ("153.156.1.1", "JP", "NTT", "residential"),
        ("47.74.1.1", "JP", "Alibaba", "hosting"),
        ("3.112.1.1", "JP", "AMAZON-02", "hosting"),
        ("159.89.1.1", "DE", "DIGITALOCEAN", "hosting"),
        ("49.96.1.1", "JP", "DOCOMO", "mobile"),
        ("2400:4050::1", "JP", "NTT", "residential"),
    ],
)
def test_builtin_examples(builtin: GeoProvider, ip: str, country: str, org_part: str, ip_class: str) -> None:
    info = builtin.lookup(ip)
    assert info.country == country
    assert info.asn_org is not None and org_part in info.asn_org
    assert info.ip_class == ip_class
    assert info.asn is None  # geoip2fast has names only
    assert info.asn_key == "org:" + info.asn_org.lower()
    assert info.version == (6 if ":" in ip else 4)
    assert info.network == network_of(ip)


def test_builtin_full_record(builtin: GeoProvider) -> None:
    assert builtin.lookup("153.156.1.1") == IpInfo(
        ip="153.156.1.1",
        version=4,
        network="153.156.1.0/24",
        country="JP",
        asn=None,
        asn_org="NTT Communications Corporation",
        asn_key="org:ntt communications corporation",
        ip_class="residential",
    )


@pytest.mark.parametrize(
    "ip",
    [
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",
        "100.64.0.1",  # CGNAT, RFC 6598
        "100.127.255.254",
        "0.0.0.0",
        "192.0.2.1",
        "198.18.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",
        "fd12:3456::1",
        "2001:db8::1",
        "ff02::1",
        "::ffff:10.0.0.1",
    ],
)
def test_private_and_special_ranges(builtin: GeoProvider, ip: str) -> None:
    info = builtin.lookup(ip)
    assert info.ip_class == "private"
    assert (info.country, info.asn, info.asn_org, info.asn_key) == (None, None, None, None)


def test_cgnat_boundary_is_not_private(builtin: GeoProvider) -> None:
    assert builtin.lookup("100.63.255.255").ip_class != "private"
    assert builtin.lookup("100.128.0.1").ip_class != "private"


def test_ipv4_mapped_ipv6_is_normalised_to_ipv4(builtin: GeoProvider) -> None:
    info = builtin.lookup("::ffff:153.156.1.1")
    assert dataclasses.replace(info) == builtin.lookup("153.156.1.1")
    assert info.ip == "153.156.1.1" and info.version == 4


def test_ipv6_text_is_normalised(builtin: GeoProvider) -> None:
    info = builtin.lookup("2400:4050:0000:0000:0000:0000:0000:0001")
    assert info.ip == "2400:4050::1"
    assert info.network == "2400:4050::/48"


@pytest.mark.parametrize(
    "bad",
    ["", "not-an-ip", "1.2.3", "01.2.3.4", "999.1.1.1", "1.2.3.4 ", "153.156.1.0/24", "2400:4050::1::1"],
)
def test_invalid_ip_raises_value_error(builtin: GeoProvider, bad: str) -> None:
    with pytest.raises(ValueError):
        builtin.lookup(bad)


def test_non_string_raises_value_error(builtin: GeoProvider) -> None:
    with pytest.raises(ValueError):
        builtin.lookup(167772161)  # type: ignore[arg-type]


def test_lookups_are_cached() -> None:
    provider = open_geo_provider(cache_size=8)
    first = provider.lookup("3.112.1.1")
    assert provider.lookup("3.112.1.1") is first
    assert provider.cache_info().hits == 1


def test_cache_can_be_disabled() -> None:
    provider = open_geo_provider(cache_size=0)
    assert provider.lookup("3.112.1.1") == provider.lookup("3.112.1.1")


@pytest.mark.parametrize("size", [-1, 1.5, True])
def test_bad_cache_size(size: object) -> None:
    with pytest.raises(ValueError):
        open_geo_provider(cache_size=size)  # type: ignore[arg-type]


def test_ipinfo_is_frozen(builtin: GeoProvider) -> None:
    info = builtin.lookup("3.112.1.1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.ip_class = "residential"  # type: ignore[misc]
    assert info.ip_class in IP_CLASSES


def test_loading_builtin_data_leaves_environment_alone() -> None:
    # geoip2fast writes PYTHONWARNINGS/PYTHONIOENCODING into os.environ on import; we restore them.
    code = (
        "import os; from mamori.adapters.geo import preload_builtin; preload_builtin(); "
        "print(os.environ.get('PYTHONWARNINGS'), os.environ.get('PYTHONIOENCODING'))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "PYTHONIOENCODING")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["None", "None"]


# ---------------------------------------------------------------------------------- MaxMind files


@pytest.mark.parametrize(
    ("ip", "country", "asn", "org", "ip_class"),
    [
        ("153.156.1.1", "JP", 4713, "NTT Communications Corporation", "residential"),
        ("3.112.1.1", "JP", 16509, "AMAZON-02", "hosting"),
        # registered_country fallback; class from the AS number
        ("45.0.1.1", "US", 9009, "Renamed Carrier Ltd", "vpn"),
        ("2400:4050:1::1", "JP", 4713, "NTT Communications Corporation", "residential"),
        ("2a01:4f8:1::1", "DE", 24940, "Hetzner Online GmbH", "hosting"),
        ("::ffff:3.112.1.1", "JP", 16509, "AMAZON-02", "hosting"),
    ],
)
def test_maxmind_lookup(mm: GeoProvider, ip: str, country: str, asn: int, org: str, ip_class: str) -> None:
    info = mm.lookup(ip)
    assert (info.country, info.asn, info.asn_org, info.ip_class) == (country, asn, org, ip_class)
    assert info.asn_key == f"AS{asn}"


def test_maxmind_asn_without_country(mm: GeoProvider) -> None:
    info = mm.lookup("60.64.1.1")
    assert (info.country, info.asn_key, info.ip_class) == (None, "AS2914", "residential")


def test_maxmind_address_not_in_database_is_unknown(mm: GeoProvider) -> None:
    info = mm.lookup("8.8.8.8")
    assert (info.country, info.asn, info.asn_org, info.asn_key, info.ip_class) == (
        None,
        None,
        None,
        None,
        "unknown",
    )


def test_maxmind_private_addresses(mm: GeoProvider) -> None:
    assert mm.lookup("192.168.0.10").ip_class == "private"
    assert mm.lookup("100.64.12.1").ip_class == "private"


def test_ipv4_only_country_database(mmdb_dir: dict[str, str]) -> None:
    provider = open_geo_provider(country_mmdb=mmdb_dir["country_v4"], asn_mmdb=mmdb_dir["asn"])
    assert provider.lookup("153.156.1.1").country == "JP"
    info = provider.lookup("2a01:4f8:1::1")  # not looked up in a v4-only file; ASN still found
    assert (info.country, info.asn) == (None, 24940)


def test_country_mmdb_only_falls_back_to_builtin_for_asn(mmdb_dir: dict[str, str]) -> None:
    provider = open_geo_provider(country_mmdb=mmdb_dir["country"])
    info = provider.lookup("3.112.1.1")
    assert info.country == "JP"
    assert (info.asn, info.asn_org, info.ip_class) == (None, "AMAZON-02", "hosting")


def test_asn_mmdb_only_falls_back_to_builtin_for_country(mmdb_dir: dict[str, str]) -> None:
    provider = open_geo_provider(asn_mmdb=mmdb_dir["asn"])
    info = provider.lookup("159.89.1.1")  # not in the test ASN file
    assert (info.country, info.asn, info.ip_class) == ("DE", None, "unknown")
    assert provider.lookup("3.112.1.1").asn_key == "AS16509"


def test_one_ipinfo_file_for_country_and_asn(mmdb_dir: dict[str, str]) -> None:
    provider = open_geo_provider(country_mmdb=mmdb_dir["ipinfo"], asn_mmdb=mmdb_dir["ipinfo"])
    info = provider.lookup("2a01:4f8::1")
    assert (info.country, info.asn, info.asn_org, info.ip_class) == (
        "DE",
        24940,
        "Hetzner Online GmbH",
        "hosting",
    )
    provider.close()


def test_untyped_asn_shaped_file_is_accepted(mmdb_dir: dict[str, str]) -> None:
    provider = open_geo_provider(asn_mmdb=mmdb_dir["asn_untyped"])
    assert provider.lookup("3.112.1.1").asn == 16509


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"country_mmdb": "missing"}, "file not found"),
        ({"asn_mmdb": "missing"}, "file not found"),
        ({"country_mmdb": "not_mmdb"}, "not a MaxMind DB"),
        ({"asn_mmdb": "empty"}, "not a MaxMind DB"),
        ({"country_mmdb": "dir"}, "directory"),
        ({"country_mmdb": "asn"}, "no country data"),  # the ASN file given as the country file
        ({"asn_mmdb": "country"}, "no ASN data"),  # and the reverse
        ({"country_mmdb": "asn_untyped"}, "expected a Country/City database"),
    ],
)
def test_bad_mmdb_files(mmdb_dir: dict[str, str], kwargs: dict[str, str], problem: str) -> None:
    paths = {
        k: mmdb_dir.get(v, os.path.join(mmdb_dir["dir"], "nope", "GeoLite2-Country.mmdb"))
        for k, v in kwargs.items()
    }
    with pytest.raises(GeoDatabaseError) as exc_info:
        open_geo_provider(**paths)
    err = exc_info.value
    assert problem in err.message
    assert next(iter(paths.values())) in err.message
    assert err.code == "mamori.geo.database_error"


# ------------------------------------------------------------------------------- Tor and overrides


def test_tor_exit_list_takes_precedence(tmp_path: Path, mmdb_dir: dict[str, str]) -> None:
    exits = tmp_path / "torbulkexitlist"
    exits.write_text(
        "# Tor exits, fetched by the firm\n"
        "\n"
        "3.112.1.1\n"
        "153.156.1.1   # trailing comment\n"
        "10.9.8.7\n"
        "ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E\n"
        "ExitAddress 2400:4050:0:0::5 2024-06-18 12:00:00\n"
    )
    overrides = tmp_path / "classes.yaml"
    overrides.write_text("version: 1\nentries:\n  - {name: NTT, class: mobile, asns: [4713]}\n")
    provider = open_geo_provider(
        country_mmdb=mmdb_dir["country"],
        asn_mmdb=mmdb_dir["asn"],
        tor_exits=str(exits),
        network_classes=str(overrides),
    )
    hosting = provider.lookup("3.112.1.1")
    assert (hosting.ip_class, hosting.asn, hosting.country) == ("tor", 16509, "JP")  # still enriched
    assert provider.lookup("153.156.1.1").ip_class == "tor"  # beats the firm override
    assert provider.lookup("153.156.1.2").ip_class == "mobile"
    assert provider.lookup("10.9.8.7").ip_class == "tor"  # beats private
    assert provider.lookup("2400:4050::5").ip_class == "tor"


@pytest.mark.parametrize(
    ("text", "problem"),
    [("1.2.3.4\nnot-an-ip\n", ":2:"), ("ExitAddress\n", ":1:"), ("1.2.3.4 5.6.7.8\n", ":1:")],
)
def test_bad_tor_exit_list(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "exits.txt"
    path.write_text(text)
    with pytest.raises(GeoDatabaseError, match=problem):
        open_geo_provider(tor_exits=str(path))
    with pytest.raises(GeoDatabaseError, match="cannot read"):
        open_geo_provider(tor_exits=str(tmp_path / "missing.txt"))


def test_firm_override_file(tmp_path: Path, mmdb_dir: dict[str, str]) -> None:
    path = tmp_path / "firm.yaml"
    path.write_text(
        "version: 1\n"
        "entries:\n"
        "  - name: Our office egress (over-rides NTT below for this /24)\n"
        "    class: hosting\n"
        "    networks: ['153.156.7.0/24', '2400:4050:7::/48']\n"
        "  - name: NTT Communications, treated as mobile by this firm\n"
        "    class: mobile\n"
        "    asns: [4713]\n"
        "  - name: Amazon, considered residential (a test of overriding the shipped file)\n"
        "    class: residential\n"
        "    org_patterns: ['^AMAZON-02$']\n"
    )
    builtin = open_geo_provider(network_classes=str(path))
    assert builtin.lookup("3.112.1.1").ip_class == "residential"  # shipped file says hosting
    assert builtin.lookup("153.156.7.9").ip_class == "hosting"
    assert builtin.lookup("153.156.8.9").ip_class == "residential"  # no AS number in the built-in data
    assert builtin.lookup("159.89.1.1").ip_class == "hosting"  # shipped file still applies
    mm = open_geo_provider(
        country_mmdb=mmdb_dir["country"], asn_mmdb=mmdb_dir["asn"], network_classes=str(path)
    )
    assert mm.lookup("153.156.8.9").ip_class == "mobile"
    assert mm.lookup("153.156.7.9").ip_class == "hosting"  # network beats AS number
    assert mm.lookup("2400:4050:7:1::1").ip_class == "hosting"
    assert mm.lookup("2400:4050:8::1").ip_class == "mobile"
    assert mm.lookup("10.0.0.1").ip_class == "private"  # private beats the firm file


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("version: 1\nentries: [{name: X, class: datacenter, asns: [1]}]\n", "'class' must be one of"),
        (
            "version: 1\nentries: [{name: X, class: vpn, org_patterns: ['(unclosed']}]\n",
            "not a valid regular expression",
        ),
        ("version: 1\nentries: [{name: X, class: vpn}]\n", "needs at least one of"),
        ("version: 1\nentries: [{class: vpn, asns: [1]}]\n", "'name'"),
        ("version: 1\nentries: [{name: X, class: vpn, asns: ['AS1']}]\n", "AS numbers"),
        ("version: 1\nentries: [{name: X, class: vpn, asns: [0]}]\n", "AS numbers"),
        ("version: 1\nentries: [{name: X, class: vpn, asn: [1]}]\n", "unknown keys"),
        ("version: 1\nentries: [{name: X, class: vpn, networks: ['10.0.0.1/8']}]\n", "not a CIDR network"),
        (
            "version: 1\nentries: [{name: A, class: vpn, asns: [7]}, {name: B, class: hosting, asns: [7]}]\n",
            "AS7",
        ),
        ("version: 2\nentries: []\n", "'version' must be 1"),
        ("entries: [\n", "not valid YAML"),
        ("- just a list\n", "expected a mapping"),
    ],
)
def test_bad_firm_classification_file(tmp_path: Path, body: str, problem: str) -> None:
    path = tmp_path / "firm.yaml"
    path.write_text(body)
    with pytest.raises(GeoDatabaseError) as exc_info:
        open_geo_provider(network_classes=str(path))
    assert problem in exc_info.value.message
    assert str(path) in exc_info.value.message


def test_missing_firm_classification_file(tmp_path: Path) -> None:
    with pytest.raises(GeoDatabaseError, match="cannot read"):
        open_geo_provider(network_classes=str(tmp_path / "nope.yaml"))


# --------------------------------------------------------------- contract: the shipped classes file

SHIPPED_PATH = Path(__file__).resolve().parents[1] / "src/mamori/adapters/geo" / SHIPPED_NAME

REQUIRED_ASNS = {
    "hosting": [16509, 14618, 396982, 15169, 8075, 45102, 37963, 132203, 45090, 31898, 14061, 63949, 20473,
                16276, 24940, 51167, 12876, 60781, 28753, 13335, 9370, 7684, 7506, 4694],
    "vpn": [9009, 60068, 147049],
    "mobile": [9605],
}  # fmt: skip


def test_shipped_file_parses_and_every_entry_is_well_formed() -> None:
    raw = yaml.safe_load(SHIPPED_PATH.read_text(encoding="utf-8"))
    assert raw["version"] == 1
    table = parse_class_table(SHIPPED_PATH.read_text(encoding="utf-8"), str(SHIPPED_PATH))
    assert len(table.entries) == len(raw["entries"]) > 40
    for entry, raw_entry in zip(table.entries, raw["entries"], strict=True):
        assert entry.name and entry.name == raw_entry["name"].strip()
        assert entry.ip_class in FILE_CLASSES
        assert entry.asns or entry.org_patterns or entry.networks
        for pattern in entry.org_patterns:
            assert pattern.pattern.strip() == pattern.pattern, (
                f"{entry.name}: whitespace in {pattern.pattern!r}"
            )
            assert not pattern.search(""), f"{entry.name}: {pattern.pattern!r} matches every name"


def test_shipped_file_documents_its_format() -> None:
    head = SHIPPED_PATH.read_text(encoding="utf-8").split("\nversion:", 1)[0]
    for word in ("FORMAT", "name:", "class:", "asns:", "org_patterns:", "networks:", "MATCHING"):
        assert word in head


@pytest.mark.parametrize(("ip_class", "asn"), [(c, a) for c, asns in REQUIRED_ASNS.items() for a in asns])
def test_shipped_file_covers_required_networks(ip_class: str, asn: int) -> None:
    assert shipped_table().match_as(asn, None) == ip_class


@pytest.mark.parametrize(
    ("org", "ip_class"),
    [
        ("AMAZON-02", "hosting"),
        ("AMAZON-AES", "hosting"),
        ("GOOGLE-CLOUD-PLATFORM", "hosting"),
        ("MICROSOFT-CORP-MSN-AS-BLOCK", "hosting"),
        ("DIGITALOCEAN-ASN", "hosting"),
        ("AS-CHOOPA", "hosting"),
        ("SAKURA Internet Inc.", "hosting"),
        ("GMO Internet,Inc", "hosting"),
        ("IDC Frontier Inc.", "hosting"),
        ("KDDI Web Communications Inc.", "hosting"),
        ("Xserver Inc.", "hosting"),
        ("M247 Europe SRL", "vpn"),
        ("Datacamp Limited", "vpn"),
        ("Packethub s.a.", "vpn"),
        ("SOFTETHER-AMERICA", "vpn"),
        ("NTT DOCOMO, INC.", "mobile"),
        ("Rakuten Mobile, Inc.", "mobile"),
        ("Stiftung Erneuerbare Freiheit", "tor"),
        # Japanese consumer ISPs must not be caught by any pattern
        ("NTT Communications Corporation", None),
        ("KDDI CORPORATION", "residential"),
        ("SoftBank Corp.", "residential"),
        ("Sony Network Communications Inc.", None),
        ("BIGLOBE Inc.", None),
        ("JCOM Co., Ltd.", None),
        ("OPTAGE Inc.", None),
        ("ARTERIA Networks Corporation", None),
        ("So-net Corporation", None),
        ("Asahi Net", None),
        ("FreeBit Co.,Ltd.", None),
        ("GOOGLE-FIBER", None),
        ("DOCOMO interTouch - Headquarter", None),
        ("GMO GlobalSign Holdings K.K.", None),
        ("VPS Securities Joint Stock Company", None),
    ],
)
def test_shipped_file_classifies_organisation_names(org: str, ip_class: str | None) -> None:
    assert shipped_table().match_as(None, org) == ip_class
