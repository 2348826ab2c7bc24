"""The one place the crypto evaluation meets address screening and the chain graph.

The simulation's ``risk-list.csv`` is read by the same importer as ``mamori aml lists import``
(:func:`mamori.aml.imports.parse`) into a :class:`mamori.aml.screening.Screener`, which the engine uses
for its ``address_*`` screening features (``Engine(..., screening=...)``), so the AML rules screen
every crypto deposit's source and withdrawal's destination against it.

With ``exposure=True`` the screener also answers indirect exposure from the simulated chain
(:class:`mamori.aml.exposure.GraphExposure` over the graph of ``chain.jsonl``). That graph is the whole
simulated period: a withdrawal's destination is judged by where its funds went *afterwards*, which a
live engine cannot know at the time, so results with exposure are an upper bound for forward
exposure (backward exposure of a deposit's source only uses funding that happened before it).
"""

from __future__ import annotations

from typing import Any

from mamori.risk.engine import Engine
from mamori.risk.rules.model import Ruleset
from mamori.sim.crypto.risklist import to_csv
from mamori.sim.crypto.simulate import CryptoSimulation

LIST_SOURCE = "sim-vendor"


def screening_engine(sim: CryptoSimulation, ruleset: Ruleset, *, geo: Any, exposure: bool = False,
                     max_hops: int = 3) -> tuple[Engine, dict[str, Any]]:
    """A fresh engine with the simulation's risk list loaded (and optionally its chain for exposure),
    and what was loaded: ``{"status", "entries", "rejected", "exposure"}``."""
    from mamori.aml.imports import parse
    from mamori.aml.screening import Screener

    entries, errors = parse(to_csv(sim.risk_list).encode(), "csv", source=LIST_SOURCE)
    lookup = _exposure_lookup(sim, entries, max_hops) if exposure else None
    screener = Screener.from_entries(entries, exposure_lookup=lookup)
    info = {"status": f"{len(entries)} list entries loaded" + (f", {len(errors)} rejected" if errors else "")
              + (f"; exposure from the simulated chain within {max_hops} hops" if exposure else ""),
            "entries": len(entries), "rejected": len(errors), "exposure": exposure}
    return Engine(ruleset, geo=geo, screening=screener), info


def _exposure_lookup(sim: CryptoSimulation, entries: list[Any], max_hops: int) -> Any:
    from mamori.aml.chaindata import parse_record
    from mamori.aml.exposure import GraphExposure
    from mamori.aml.graph import append, empty_graph
    from mamori.aml.screening import Screener

    graph, _ = append(empty_graph(), ((n, parse_record(tx)) for n, tx in enumerate(sim.chain, 1)))
    return GraphExposure(graph, Screener.from_entries(entries), max_hops=max_hops)
