"""Address screening throughput (issue 6 target: >= 10,000 screenings/s per core).

Builds a :class:`~mamori.aml.screening.ScreeningIndex` of ``entries`` listed addresses spread over
Bitcoin (segwit), Ethereum, Tron, XRP, Solana and Litecoin, then screens ``lookups`` addresses in one
thread: ``hit_share`` of them listed, the rest valid addresses that are not; each is validated and
normalised for its chain (checksums included) before the dictionary probe, as in production. EVM
addresses arrive in EIP-55 mixed case for ``eip55_share`` of the lookups (their checksum is a pure
Python Keccak-256, about 0.3 ms uncached; repeated addresses hit a cache) and in lower case otherwise.

``python -m mamori.bench.aml_screen_bench [entries] [lookups]`` prints the figures.
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any

from mamori.aml.addresses import EVM_CHAINS, eip55, synthetic_address
from mamori.aml.model import EntryKind, ListEntry, RiskCategory
from mamori.aml.screening import Screener

CHAINS = ("bitcoin", "ethereum", "tron", "xrp", "solana", "litecoin", "bsc")
CATEGORIES = (RiskCategory.scam, RiskCategory.online_casino, RiskCategory.mixer, RiskCategory.sanctioned,
              RiskCategory.exchange)


def _entries(n: int) -> list[ListEntry]:
    return [ListEntry(kind=EntryKind.address, chain=CHAINS[i % len(CHAINS)], id=i + 1, source="bench",
                      address=synthetic_address(CHAINS[i % len(CHAINS)], b"listed-%d" % i),
                      category=CATEGORIES[i % len(CATEGORIES)]) for i in range(n)]


def run_screen_bench(entries: int = 100_000, lookups: int = 200_000, *, hit_share: float = 0.1,
                     eip55_share: float = 0.05, seed: int = 7) -> dict[str, Any]:
    """Screen ``lookups`` addresses against ``entries`` listed ones; returns screenings_per_s and the hit
    ratio."""
    rng = random.Random(seed)
    listed = _entries(entries)
    started = time.perf_counter()
    screener = Screener.from_entries(listed)
    build_s = time.perf_counter() - started
    queries: list[tuple[str, str]] = []
    for i in range(lookups):
        if rng.random() < hit_share:
            entry = listed[rng.randrange(len(listed))]
            chain, address = str(entry.chain), str(entry.address)
        else:
            chain = CHAINS[i % len(CHAINS)]
            address = synthetic_address(chain, b"unlisted-%d" % rng.randrange(lookups))
        if chain in EVM_CHAINS and rng.random() < eip55_share:
            address = "0x" + eip55(address[2:])
        elif chain in ("bitcoin", "litecoin") and rng.random() < 0.5:
            address = address.upper()  # bech32 may come in upper case (QR codes)
        queries.append((chain, address))
    hits = 0
    started = time.perf_counter()
    for chain, address in queries:
        hits += screener.screen(chain, address).listed
    elapsed = time.perf_counter() - started
    return {"entries": entries, "lookups": lookups, "index_build_s": round(build_s, 3),
            "seconds": round(elapsed, 3), "screenings_per_s": lookups / elapsed if elapsed else float("inf"),
            "hit_ratio": hits / lookups if lookups else 0.0, "eip55_share": eip55_share}


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    result = run_screen_bench(*args)
    print(" ".join(f"{k}={round(v, 3) if isinstance(v, float) else v}" for k, v in result.items()))
