"""The risk list the simulated exchange holds: some, not all, of the risky entities in its world.

Real lists are incomplete: a vendor or a police notice names a casino's main wallet but not every
per-player deposit address, one scam ring's collection addresses but not the next ring's, one mixer
but not another. The coverage here is fixed by entity, so a seed gives the same list, and what is
left off is exactly what indirect exposure (tracing) or behaviour rules must find.

Rows follow the CSV import format of :mod:`mamori.aml.lists` (``chain,address,category,source,name,
confidence,reference``).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from mamori.sim.crypto.chain import Chain

CSV_COLUMNS = ("chain", "address", "category", "source", "name", "confidence", "reference")
SOURCE = "sim-vendor"

# entity -> which of its addresses are listed: "all", "main" (hot wallet / pool / first collector) or "first-wave"
COVERAGE: dict[str, str] = {
    "casino-1": "all",            # one shared deposit address, listed
    "casino-2": "main",           # hot wallet listed; per-player deposit addresses are not
    "mixer-1": "all",
    "scam-invest-1": "collectors",
    "scam-invest-2": "first-wave",
    "scam-romance-1": "collectors",
    "darknet-1": "main",
    "hack-1": "main",
}
# Exchanges are on the lists too (attribution data clusters exchanges' hot wallets and deposit addresses,
# and the firm knows its own): a tracer stops there, and screening reads them as hosted wallets.
EXCHANGES: dict[str, str] = {"mamori-ex": "own-wallets", "exchange-jp-1": SOURCE, "exchange-jp-2": SOURCE,
                             "exchange-global-1": SOURCE, "exchange-offshore-1": SOURCE}
REFERENCES = {"online_casino": "FSA 2025 request 5", "scam": "sim police notice", "mixer": "sim vendor",
              "darknet": "sim vendor", "stolen_funds": "sim incident report"}


def _listed(coverage: str, purpose: str) -> bool:
    if coverage == "all":
        return True
    if coverage == "main":
        return purpose in ("hot", "pool", "main")
    if coverage == "collectors":
        return purpose.startswith("collect/")
    if coverage == "first-wave":
        return purpose == "collect/0"
    return False


def risk_list(chain: Chain) -> list[dict[str, Any]]:
    """The list rows, in a stable order (entity, chain, address)."""
    rows = []
    for name in sorted(COVERAGE):
        entity = chain.entities.get(name)
        if entity is None:
            continue
        for ch in sorted(entity.addresses):
            for address in sorted(entity.addresses[ch]):
                purpose = chain.purpose_of(ch, address)
                if _listed(COVERAGE[name], purpose):
                    rows.append({"chain": ch, "address": address, "category": entity.category, "source": SOURCE,
                                 "name": name, "confidence": "0.9" if COVERAGE[name] == "main" else "1",
                                 "reference": REFERENCES.get(entity.category, "")})
    for name, source in sorted(EXCHANGES.items()):
        entity = chain.entities.get(name)
        if entity is None:
            continue
        for ch in sorted(entity.addresses):
            rows.extend({"chain": ch, "address": address, "category": "exchange", "source": source, "name": name,
                         "confidence": "1", "reference": ""} for address in sorted(entity.addresses[ch]))
    return rows


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in CSV_COLUMNS})
    return buf.getvalue()
