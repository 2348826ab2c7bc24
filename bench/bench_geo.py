"""Benchmark mamori.adapters.geo: load time, memory, cold and cached lookups/s. Offline.

    .venv/bin/python bench/bench_geo.py [--n 200000]

"Cold" = every address seen for the first time (LRU miss: parse, database lookup, classification).
"Cached" = the same addresses again (LRU hit). The MaxMind figures use a synthetic GeoLite2-shaped
pair of .mmdb files written with mmdb_writer (a test dependency) into a temporary directory.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import random
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence

from mamori.adapters.geo import network_of, open_geo_provider, preload_builtin
from mamori.adapters.geo.model import GeoProvider


def rss_mib() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def random_ips(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    v6_prefixes = [0x2400_4050, 0x2001_0268, 0x240D_001A, 0x2A01_04F8, 0x2404_6800]
    out: list[str] = []
    while len(out) < n:
        if rng.random() < 0.9:
            a = ipaddress.IPv4Address(rng.getrandbits(32))
            if a.is_global:
                out.append(str(a))
        else:
            out.append(str(ipaddress.IPv6Address((rng.choice(v6_prefixes) << 96) | rng.getrandbits(96))))
    return out


def rate(fn: Callable[[str], object], ips: Sequence[str]) -> tuple[float, float]:
    start = time.perf_counter()
    for ip in ips:
        fn(ip)
    elapsed = time.perf_counter() - start
    return len(ips) / elapsed, elapsed / len(ips) * 1e6


def report(label: str, fn: Callable[[str], object], ips: Sequence[str]) -> None:
    per_s, us = rate(fn, ips)
    print(f"  {label:<44} {per_s:>12,.0f} /s   {us:7.2f} µs")


def cache_bytes_per_entry(factory: Callable[[], GeoProvider], ips: Sequence[str]) -> float:
    provider = factory()
    sample = ips[:20_000]
    for ip in sample[:2000]:  # warm the per-AS memo and interned strings first
        provider.lookup(ip)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for ip in sample[2000:]:
        provider.lookup(ip)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / len(sample[2000:])


def bench_provider(name: str, factory: Callable[[], GeoProvider], ips: Sequence[str]) -> None:
    print(name)
    provider = factory()
    report(f"cold ({len(ips):,} distinct addresses)", provider.lookup, ips)
    recent = ips[-50_000:]
    report("cached (the last 50,000 again, all LRU hits)", provider.lookup, recent)
    hot = list(ips[:1000]) * 100
    provider.lookup(hot[0])
    report("cached, 1,000 hot addresses x 100", provider.lookup, hot)
    per_entry = cache_bytes_per_entry(factory, ips)
    print(
        f"  cache memory ≈ {per_entry:.0f} B/entry (tracemalloc) -> "
        f"{per_entry * 65536 / 2**20:.0f} MiB at the default 65,536 entries"
    )


def build_mmdb(directory: str, networks: int) -> tuple[str, str] | None:
    try:
        from mmdb_writer import MmdbU32, MMDBWriter
        from netaddr import IPSet
    except ImportError:
        return None
    rng = random.Random(11)
    country = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    asn = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN")
    orgs = [(16509, "AMAZON-02"), (4713, "NTT Communications Corporation"), (9605, "NTT DOCOMO, INC.")]
    for i in range(networks):
        net = f"{ipaddress.IPv4Address(rng.getrandbits(16) << 16)}/16"
        code = rng.choice(["JP", "US", "DE", "SG"])
        country.insert_network(
            IPSet([net]), {"country": {"iso_code": code}, "registered_country": {"iso_code": code}}
        )
        number, org = orgs[i % len(orgs)]
        asn.insert_network(
            IPSet([net]),
            {"autonomous_system_number": MmdbU32(number), "autonomous_system_organization": org},
        )
    paths = os.path.join(directory, "Country.mmdb"), os.path.join(directory, "ASN.mmdb")
    country.to_db_file(paths[0])
    asn.to_db_file(paths[1])
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=200_000, help="distinct addresses per run")
    args = parser.parse_args(argv)
    ips = random_ips(args.n)
    print(f"python {sys.version.split()[0]}, {args.n:,} addresses (90% IPv4)\n")

    rss0 = rss_mib()
    load = preload_builtin()
    print(f"built-in data load: {load:.2f} s, RSS +{rss_mib() - rss0:.0f} MiB (now {rss_mib():.0f} MiB)\n")

    v4 = [ip for ip in ips if ":" not in ip]
    v6 = [ip for ip in ips if ":" in ip]
    print("network_of")
    report("IPv4 (string operations)", network_of, v4)
    report("IPv6 (inet_pton + int arithmetic)", network_of, v6)
    print()

    bench_provider("built-in provider (geoip2fast)", open_geo_provider, ips)
    print()
    with tempfile.TemporaryDirectory() as tmp:
        paths = build_mmdb(tmp, 2000)
        if paths is None:
            print("MaxMind provider: skipped (mmdb_writer not installed)")
        else:
            bench_provider(
                "MaxMind provider (synthetic GeoLite2-shaped .mmdb, C reader)",
                lambda: open_geo_provider(country_mmdb=paths[0], asn_mmdb=paths[1]),
                ips,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
