"""Indirect exposure from the chain graph: is an address within n hops of a risky entity?

:class:`GraphExposure` implements :class:`mamori.aml.model.ExposureLookup` for the screening
engine (A's ``Screener(exposure_lookup=...)`` and the ``aml_exposure`` features): for a deposit's
source address it looks **backward** (where did the funds come from?), for a withdrawal's
destination **forward** (where do they go?), and :meth:`exposure` takes the nearer of the two —
Chainalysis KYT's "indirect exposure" and the FATF's counterparty VASP due diligence (FATF
Updated Guidance for a Risk-Based Approach to Virtual Assets and VASPs, 2021, §§ 160–170).

The walk is breadth-first over transactions, hop by hop, and bounded: at most ``max_hops``,
``max_nodes`` nodes and the ``max_edges_per_node`` most recent transactions of each node (an
exchange's hot wallet has millions); it does not walk through entities of
:data:`mamori.aml.model.STOP_CATEGORIES` (funds through an exchange are no longer the same funds).
Answers are cached per graph version: an import (a new version) refreshes them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final, Literal

from mamori.aml.addresses import normalise_address, normalise_chain
from mamori.aml.graph import ChainGraph, GraphStore
from mamori.aml.model import RISKY_CATEGORIES, STOP_CATEGORIES, LabelLookup, RiskCategory
from mamori.kit.errors import InvalidAddress, UnknownChain

Direction = Literal["backward", "forward", "both"]
_RISKY: Final = frozenset(RISKY_CATEGORIES)
_STOP: Final = frozenset(STOP_CATEGORIES)
CACHE_SIZE: Final = 100_000


class GraphExposure:
    """Exposure lookups over the current graph of a :class:`GraphStore` (or a fixed graph)."""

    def __init__(self, graphs: GraphStore | ChainGraph, labels: LabelLookup, *, max_hops: int = 3,
                 max_nodes: int = 2_000, max_edges_per_node: int = 200) -> None:
        self.graphs = graphs
        self.labels = labels
        self.max_hops = max_hops
        self.max_nodes = max_nodes
        self.max_edges_per_node = max_edges_per_node
        self._cache: OrderedDict[tuple[int, int, str, str, str], tuple[RiskCategory, int] | None] = OrderedDict()
        self._lock = threading.Lock()

    def _graph(self) -> ChainGraph:
        return self.graphs.graph if isinstance(self.graphs, GraphStore) else self.graphs

    def exposure(self, chain: str, address: str) -> tuple[RiskCategory, int] | None:
        """The nearest risky category in either direction and its hop count (1 = a direct counterparty)."""
        return self.exposure_directed(chain, address, "both")

    def exposure_directed(self, chain: str, address: str, direction: Direction) -> tuple[RiskCategory, int] | None:
        try:
            canonical = normalise_chain(chain)
            normalised = normalise_address(canonical, address)
        except (UnknownChain, InvalidAddress):
            return None
        graph = self._graph()
        # Answers depend on the graph and on the labels: a Screener's lists change without the graph.
        key = (graph.version, int(getattr(self.labels, "version", 0)), canonical, normalised, str(direction))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        if direction == "both":
            found = _nearest(self._walk(graph, canonical, normalised, "backward"),
                             self._walk(graph, canonical, normalised, "forward"))
        else:
            found = self._walk(graph, canonical, normalised, direction)
        with self._lock:
            self._cache[key] = found
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return found

    def _walk(self, graph: ChainGraph, chain: str, address: str, direction: str) -> tuple[RiskCategory, int] | None:
        frontier = graph.nodes_of(chain, address)
        seen = set(frontier)
        for hop in range(1, self.max_hops + 1):
            found: list[RiskCategory] = []
            next_frontier: list[int] = []
            for node in frontier:
                for other in self._neighbours(graph, node, direction):
                    if other in seen or len(seen) >= self.max_nodes:
                        continue
                    seen.add(other)
                    o_chain, o_address, _asset = graph.node(other)
                    category = self.labels.label(o_chain, o_address)
                    if category is not None and category in _RISKY:
                        found.append(category)
                    if category is None or category not in _STOP:
                        next_frontier.append(other)
            if found:
                return sorted(found, key=lambda c: c.value)[0], hop
            if not next_frontier:
                return None
            frontier = next_frontier
        return None

    def _neighbours(self, graph: ChainGraph, node: int, direction: str) -> list[int]:
        """Counterparties through the node's most recent transactions (at most ``max_edges_per_node``)."""
        a = graph.arrays
        if direction == "forward":
            lo, hi = graph.spends(node)
            txs, ptr, legs = a["spend_tx"][max(lo, hi - self.max_edges_per_node):hi], a["tx_out_ptr"], a["out_node"]
        else:
            lo, hi = graph.receipts(node)
            txs, ptr, legs = a["recv_tx"][max(lo, hi - self.max_edges_per_node):hi], a["tx_in_ptr"], a["in_node"]
        out: list[int] = []
        for tx in txs.tolist():
            start, end = int(ptr[tx]), int(ptr[tx + 1])
            out.extend(legs[start:min(end, start + self.max_edges_per_node)].tolist())
        return out


def _nearest(a: tuple[RiskCategory, int] | None, b: tuple[RiskCategory, int] | None) -> tuple[RiskCategory, int] | None:
    if a is None or b is None:
        return a or b
    return a if (a[1], a[0].value) <= (b[1], b[0].value) else b
