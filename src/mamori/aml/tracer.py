"""Following funds forward from a withdrawal, with taint (issue 6 §3; FSA: keep following where funds
go after they leave the exchange, and stop at online casinos, scams and mixers).

Two standard taint methods (Möser, Böhme & Breuker, "Towards risk scoring of Bitcoin transactions",
FC 2014; the "poison" and "haircut" policies):

* **haircut** (proportional). A node (address, asset) holds ``taint`` out of its balance ``B(t)``.
  When it spends in a transaction at time ``t``, its tainted input is
  ``min(taint, v_in * taint / B(t))`` (``v_in`` = the value of its input legs; ``B(t)`` = received
  minus spent in the imported data before the transaction). A transaction passes on
  ``r = Σ tainted inputs / Σ inputs`` of every output: output ``o`` receives ``v_o · r`` (taint on
  the fee is lost with the fee). For an account-model transfer (one input, one output of value ``v``)
  this is ``v · taint / B(t)``: the address's tainted share of its balance at that time. Taint is
  conserved (what leaves a node is subtracted from it), so a cycle never counts funds twice.
* **poison**: any tainted input makes every output of the transaction fully tainted, and a node,
  once reached, taints every later spend.

Only transactions later in time than the funds' arrival are followed (ordered by (time, import
order); the spend that created the funds is never followed again). A node labelled by the
:class:`~mamori.aml.model.LabelLookup` is recorded as a reached entity; at an entity of
:data:`~mamori.aml.model.STOP_CATEGORIES` (exchange, casino, mixer …) the trace stops.

Bounds (never a hang): ``max_hops``, ``max_nodes`` reached, ``max_edges_per_node`` (a node's later
spends, and a transaction's outputs: the largest are kept), a dust threshold below which taint is
not followed, and a time budget. A result cut short says ``truncated`` and why (``reasons``).
UTXO inputs are attributed at the address level (the formats carry addresses, not outpoints).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np

from mamori.aml.chaindata import normalise_txid
from mamori.aml.graph import ChainGraph
from mamori.aml.model import RISKY_CATEGORIES, STOP_CATEGORIES, LabelLookup
from mamori.kit.errors import InvalidRequest, NotFound

Method = Literal["haircut", "poison"]
METHODS: Final[tuple[str, ...]] = ("haircut", "poison")
MAX_HOPS_LIMIT: Final = 20
_CHECK_EVERY: Final = 16
_STOP: Final = frozenset(str(c) for c in STOP_CATEGORIES)
_RISKY: Final = frozenset(str(c) for c in RISKY_CATEGORIES)


@dataclass(frozen=True, slots=True)
class TraceLimits:
    """Bounds of one trace. ``dust``: taint below this (absolute, in the asset's units) is not
    followed; by default ``dust_fraction`` of the start amount."""

    max_nodes: int = 10_000
    max_edges_per_node: int = 1_000
    dust: float | None = None
    dust_fraction: float = 1e-3
    time_budget_s: float = 5.0

    def to_dict(self) -> dict[str, Any]:
        return {"max_nodes": self.max_nodes, "max_edges_per_node": self.max_edges_per_node, "dust": self.dust,
                "dust_fraction": self.dust_fraction, "time_budget_s": self.time_budget_s}


@dataclass(frozen=True, slots=True)
class PathStep:
    txid: str
    at_us: int
    from_address: str
    to_address: str
    taint: float

    def to_dict(self) -> dict[str, Any]:
        return {"txid": self.txid, "at_us": self.at_us, "from": self.from_address, "to": self.to_address,
                "taint": _round(self.taint)}


@dataclass(frozen=True, slots=True)
class TaintedAddress:
    address: str
    hop: int
    taint: float            # total tainted value received
    first_at_us: int
    category: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "hop": self.hop, "taint": _round(self.taint), "first_at_us": self.first_at_us,
                "category": self.category}


@dataclass(frozen=True, slots=True)
class ReachedEntity:
    address: str
    category: str
    risky: bool
    stopped: bool           # a stop category: the trace did not go further
    hop: int
    taint: float
    first_at_us: int
    path: tuple[PathStep, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "category": self.category, "risky": self.risky, "stopped": self.stopped,
                "hop": self.hop, "taint": _round(self.taint), "first_at_us": self.first_at_us,
                "path": [s.to_dict() for s in self.path]}


@dataclass(slots=True)
class TraceResult:
    chain: str
    asset: str
    method: str
    start: dict[str, Any]
    start_amount: float
    max_hops: int
    addresses: list[TaintedAddress]
    entities: list[ReachedEntity]
    truncated: bool
    reasons: list[str]
    stats: dict[str, Any] = field(default_factory=dict)

    def taint_of(self, address: str) -> float:
        return next((a.taint for a in self.addresses if a.address == address), 0.0)

    def to_dict(self, *, max_addresses: int = 500) -> dict[str, Any]:
        ranked = sorted(self.addresses, key=lambda a: (-a.taint, a.hop, a.address))
        return {"chain": self.chain, "asset": self.asset, "method": self.method, "start": self.start,
                "start_amount": _round(self.start_amount), "max_hops": self.max_hops,
                "entities": [e.to_dict() for e in self.entities],
                "addresses": [a.to_dict() for a in ranked[:max_addresses]],
                "addresses_total": len(self.addresses), "truncated": self.truncated, "reasons": self.reasons,
                "stats": self.stats}


def _round(value: float) -> str:
    """Taint as a decimal string to 8 places (satoshi precision), trailing zeros removed."""
    text = f"{value:.8f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


@dataclass(slots=True)
class _Node:
    taint: float = 0.0          # currently held (haircut) — poison: unused
    received: float = 0.0       # total taint received
    hop: int = 0
    first_at: int = 0
    first_tx: int = -1
    parent: tuple[int, int] | None = None    # (node, tx) of the first arrival
    category: str | None = None
    stop: bool = False
    spend_lo: int = 0
    spend_hi: int = 0
    cursor: int = -1            # next spend leg index not yet considered
    recv_pos: int = -1          # receipts before the last balance query (queries come in time order)
    scheduled: bool = False
    spends_followed: int = 0
    address: str | None = None  # read once, when the node is labelled


class _Tracer:
    def __init__(self, graph: ChainGraph, *, method: str, max_hops: int, labels: LabelLookup | None,
                 limits: TraceLimits, clock: Callable[[], float]) -> None:
        self.g = graph
        # plain views of the memory maps (no copy): a memory map's scalar reads cost several times more
        a = self.a = {name: np.asarray(arr) for name, arr in graph.arrays.items()}
        self.spend_ptr, self.spend_time, self.spend_tx, self.spend_cum = (
            a["spend_ptr"], a["spend_time"], a["spend_tx"], a["spend_cum"])
        self.recv_ptr, self.recv_time, self.recv_tx, self.recv_cum, self.recv_val = (
            a["recv_ptr"], a["recv_time"], a["recv_tx"], a["recv_cum"], a["recv_val"])
        self.in_ptr, self.in_node, self.in_val = a["tx_in_ptr"], a["in_node"], a["in_val"]
        self.out_ptr, self.out_node, self.out_val = a["tx_out_ptr"], a["out_node"], a["out_val"]
        self.poison = method == "poison"
        self.max_hops = max_hops
        self.labels = labels
        self.limits = limits
        self.clock = clock
        self.began = clock()
        self.nodes: dict[int, _Node] = {}
        self.done_tx: set[int] = set()
        self.heap: list[tuple[int, int, int, int]] = []   # (time, tx, node, leg)
        self.reasons: dict[str, Any] = {}
        self.full = False
        self.dust = 0.0
        self.edges = 0
        self.steps = 0

    # -- arrivals and scheduling -----------------------------------------------------------------
    def arrive(self, node: int, amount: float, at: int, tx: int, hop: int, parent: tuple[int, int] | None) -> None:
        state = self.nodes.get(node)
        if state is None:
            state = self.new_node(node, at, tx, hop, parent)
            if state is None:
                return
        state.hop = min(state.hop, hop)
        state.received += amount
        state.taint += amount
        if state.stop or state.hop >= self.max_hops or (not self.poison and state.taint <= self.dust):
            return
        if state.scheduled or state.spend_lo == state.spend_hi:
            return
        lo, hi = state.spend_lo, state.spend_hi
        times, spend_tx = self.spend_time, self.spend_tx
        pos = lo + int(np.searchsorted(times[lo:hi], at, side="left"))
        while pos < hi and int(times[pos]) == at and int(spend_tx[pos]) <= tx:
            pos += 1
        self.push(node, state, max(pos, state.cursor))

    def new_node(self, node: int, at: int, tx: int, hop: int, parent: tuple[int, int] | None) -> _Node | None:
        """The state of a node reached for the first time (None, and the walk ends, past ``max_nodes``)."""
        if len(self.nodes) >= self.limits.max_nodes:
            self.reasons["max_nodes"] = self.limits.max_nodes
            self.full = True
            return None
        state = _Node(hop=hop, first_at=at, first_tx=tx, parent=parent,
                      spend_lo=self.spend_ptr.item(node), spend_hi=self.spend_ptr.item(node + 1))
        if self.labels is not None:
            chain, address, _asset = self.g.node(node)
            state.address = address
            label = self.labels.label(chain, address)
            if label is not None:
                state.category = str(label)
                state.stop = state.category in _STOP
        self.nodes[node] = state
        return state

    def address(self, node: int) -> str:
        state = self.nodes.get(node)
        if state is not None and state.address is not None:
            return state.address
        return self.g.node(node)[1]

    def push(self, node: int, state: _Node, pos: int) -> None:
        if pos >= state.spend_hi:
            return
        if state.spends_followed >= self.limits.max_edges_per_node:
            self.reasons.setdefault("max_edges_per_node", self.g.node(node)[1])
            return
        state.scheduled = True
        heapq.heappush(self.heap, (self.spend_time.item(pos), self.spend_tx.item(pos), node, pos))

    def balance(self, node: int, state: _Node, at: int, tx: int, leg: int | None) -> float:
        """Balance of ``node`` just before ``tx``: receipts found with a cursor that only moves forward
        (the walk asks in time order), spends from the leg's running sum."""
        spent = float(self.spend_cum[leg]) if leg is not None else self.g.sum_before("spend", node, at, tx)
        lo, hi = int(self.recv_ptr[node]), int(self.recv_ptr[node + 1])
        pos = state.recv_pos
        times, txs = self.recv_time, self.recv_tx
        if pos < 0:
            pos = lo + int(np.searchsorted(times[lo:hi], at, side="left"))
        while pos < hi and (int(times[pos]) < at or (int(times[pos]) == at and int(txs[pos]) < tx)):
            pos += 1
        state.recv_pos = pos
        received = float(self.recv_cum[pos]) if pos < hi else (
            float(self.recv_cum[hi - 1]) + float(self.recv_val[hi - 1]) if hi > lo else 0.0)
        return max(0.0, received - spent)

    # -- the walk ----------------------------------------------------------------------------------
    def run(self) -> None:
        heap = self.heap
        while heap and not self.full:
            self.steps += 1
            if self.steps % _CHECK_EVERY == 0 and self.clock() - self.began > self.limits.time_budget_s:
                self.reasons["time_budget"] = self.limits.time_budget_s
                return
            at, tx, node, leg = heapq.heappop(heap)
            state = self.nodes[node]
            state.scheduled = False
            state.cursor = leg + 1
            if tx not in self.done_tx:
                state.spends_followed += 1
                self.spend(tx, at, node, leg)
            # a self-transfer re-scheduled the node while it spent: one walker per node, never two
            if not state.scheduled and (self.poison or state.taint > self.dust):
                self.push(node, state, leg + 1)

    def spend(self, tx: int, at: int, popped: int, leg: int) -> None:
        lo, hi = int(self.in_ptr[tx]), int(self.in_ptr[tx + 1])
        per_node: dict[int, float]
        if hi - lo == 1:
            total_in = float(self.in_val[lo])
            per_node = {int(self.in_node[lo]): total_in}
        else:
            per_node = {}
            for n, v in zip(self.in_node[lo:hi].tolist(), self.in_val[lo:hi].tolist(), strict=True):
                per_node[n] = per_node.get(n, 0.0) + v
            total_in = sum(per_node.values())
        tainted_in = 0.0
        hop = self.max_hops
        main: tuple[float, int] | None = None
        for n, value in per_node.items():
            state = self.nodes.get(n)
            if (state is None or (state.first_at, state.first_tx) >= (at, tx) or state.stop
                    or state.hop >= self.max_hops):
                continue
            if self.poison:
                share = value
            else:
                balance = self.balance(n, state, at, tx, leg if n == popped else None)
                share = min(state.taint, value * state.taint / balance) if balance > 0 else min(state.taint, value)
                state.taint -= share
            if share <= 0:
                continue
            tainted_in += share
            hop = min(hop, state.hop + 1)
            if main is None or share > main[0]:
                main = (share, n)
        self.done_tx.add(tx)
        if main is None:
            return
        ratio = 1.0 if self.poison else (tainted_in / total_in if total_in > 0 else 0.0)
        olo, ohi = int(self.out_ptr[tx]), int(self.out_ptr[tx + 1])
        if ohi - olo == 1:
            outs: list[tuple[int, float]] = [(int(self.out_node[olo]), float(self.out_val[olo]))]
        else:
            out_nodes, out_vals = self.out_node[olo:ohi], self.out_val[olo:ohi]
            if ohi - olo > self.limits.max_edges_per_node:
                keep = np.argsort(-out_vals, kind="stable")[: self.limits.max_edges_per_node]
                out_nodes, out_vals = out_nodes[keep], out_vals[keep]
                self.reasons.setdefault("max_edges_per_node", self.g.txid(tx))
            outs = list(zip(out_nodes.tolist(), out_vals.tolist(), strict=True))
        self.edges += len(outs)
        for n, v in outs:
            amount = v * ratio
            if amount > 0:
                self.arrive(n, amount, at, tx, hop, (main[1], tx))

    # -- results -----------------------------------------------------------------------------------
    def path_to(self, node: int) -> tuple[PathStep, ...]:
        steps: list[PathStep] = []
        seen: set[int] = set()
        current = node
        while len(steps) <= self.max_hops + 1 and current not in seen:
            seen.add(current)
            parent = self.nodes[current].parent
            if parent is None:
                break
            prev, tx = parent
            state = self.nodes[current]
            steps.append(PathStep(self.g.txid(tx), int(self.a["tx_time"][tx]),
                                  self.address(prev) if prev >= 0 else "", self.address(current), state.received))
            current = prev
            if prev < 0:
                break
        return tuple(reversed(steps))


class _PoisonWalk(_Tracer):
    """The poison walk of :class:`_Tracer` with fewer Python operations per step: ``ndarray.item``
    reads, and a straight path for the one-input, one-output transfer of account chains (the
    bulk of a 10-million-edge graph). Same order of steps, same nodes, taints, hops, paths and reasons
    (``tests/test_aml_tracer_poison.py`` compares the two on random graphs)."""

    def __init__(self, graph: ChainGraph, *, max_hops: int, labels: LabelLookup | None, limits: TraceLimits,
                 clock: Callable[[], float]) -> None:
        super().__init__(graph, method="poison", max_hops=max_hops, labels=labels, limits=limits, clock=clock)

    def arrive(self, node: int, amount: float, at: int, tx: int, hop: int, parent: tuple[int, int] | None) -> None:
        state = self.nodes.get(node)
        if state is None:
            state = self.new_node(node, at, tx, hop, parent)
            if state is None:
                return
        elif hop < state.hop:
            state.hop = hop
        state.received += amount
        if state.stop or state.hop >= self.max_hops or state.scheduled:
            return
        lo, hi = state.spend_lo, state.spend_hi
        if lo == hi:
            return
        time_at, tx_at = self.spend_time.item, self.spend_tx.item
        if hi - lo <= 8:
            pos = lo
            while pos < hi and time_at(pos) < at:
                pos += 1
        else:
            pos = lo + int(np.searchsorted(self.spend_time[lo:hi], at, side="left"))
        while pos < hi and time_at(pos) == at and tx_at(pos) <= tx:
            pos += 1
        self.push(node, state, max(pos, state.cursor))

    def run(self) -> None:
        heap, nodes, done = self.heap, self.nodes, self.done_tx
        in_ptr, in_node, in_val = self.in_ptr.item, self.in_node.item, self.in_val.item
        out_ptr, out_node, out_val = self.out_ptr.item, self.out_node.item, self.out_val.item
        max_hops, budget, clock, began = self.max_hops, self.limits.time_budget_s, self.clock, self.began
        pop, arrive = heapq.heappop, self.arrive
        while heap and not self.full:
            self.steps += 1
            if self.steps % _CHECK_EVERY == 0 and clock() - began > budget:
                self.reasons["time_budget"] = budget
                return
            at, tx, node, leg = pop(heap)
            state = nodes[node]
            state.scheduled = False
            state.cursor = leg + 1
            if tx not in done:
                state.spends_followed += 1
                lo = in_ptr(tx)
                olo = out_ptr(tx)
                if in_ptr(tx + 1) - lo == 1 and out_ptr(tx + 1) - olo == 1:
                    done.add(tx)
                    sender = in_node(lo)
                    source = nodes.get(sender)
                    if (source is not None and not source.stop and source.hop < max_hops and in_val(lo) > 0
                            and (source.first_at, source.first_tx) < (at, tx)):
                        self.edges += 1
                        value = out_val(olo)
                        if value > 0:
                            arrive(out_node(olo), value, at, tx, source.hop + 1, (sender, tx))
                else:
                    self.spend(tx, at, node, leg)
            if not state.scheduled:
                self.push(node, state, leg + 1)


def trace(graph: ChainGraph, chain: str, start: str, *, method: str = "haircut", max_hops: int = 5,
          labels: LabelLookup | None = None, limits: TraceLimits | None = None, address: str | None = None,
          at_us: int | None = None, amount: float | None = None, asset: str | None = None,
          clock: Callable[[], float] = time.perf_counter, reference: bool = False) -> TraceResult:
    """Follow funds forward from ``start``: a transaction id (the exchange's withdrawal; only its
    outputs to ``address`` are tainted when given, else all of them) or an address that received
    ``amount`` at ``at_us`` (default: what it received at exactly that time). See the module docstring.
    ``reference`` runs poison with the plain step-by-step walk (what the faster one is tested against)."""
    if method not in METHODS:
        raise InvalidRequest(f"unknown taint method {method!r}; expected haircut or poison",
                             details={"field": "method"})
    if not 1 <= max_hops <= MAX_HOPS_LIMIT:
        raise InvalidRequest(f"max_hops must be 1..{MAX_HOPS_LIMIT}", details={"field": "max_hops"})
    limits = limits or TraceLimits()
    walker = (_PoisonWalk(graph, max_hops=max_hops, labels=labels, limits=limits, clock=clock)
              if method == "poison" and not reference else
              _Tracer(graph, method=method, max_hops=max_hops, labels=labels, limits=limits, clock=clock))
    seeds, description = _seeds(graph, chain, start, address=address, at_us=at_us, amount=amount, asset=asset)
    start_amount = sum(amount_ for _n, amount_, _at, _tx in seeds)
    walker.dust = limits.dust if limits.dust is not None else start_amount * limits.dust_fraction
    for node, value, at, tx in seeds:
        walker.arrive(node, value, at, tx, 0, (-1, tx) if tx >= 0 else None)
    walker.run()
    return _result(walker, chain, method, description, start_amount, seeds)


def _seeds(graph: ChainGraph, chain: str, start: str, *, address: str | None, at_us: int | None,
           amount: float | None, asset: str | None) -> tuple[list[tuple[int, float, int, int]], dict[str, Any]]:
    tx = graph.tx_index(chain, start)
    if tx is None and at_us is None:
        start = normalise_txid(start)   # hex txids are stored in lower case
        tx = graph.tx_index(chain, start)
    if tx is not None:
        olo, ohi = int(graph.tx_out_ptr[tx]), int(graph.tx_out_ptr[tx + 1])
        at = int(graph.tx_time[tx])
        seeds = []
        for i in range(olo, ohi):
            node = int(graph.out_node[i])
            if address is None or graph.node(node)[1] == address:
                seeds.append((node, float(graph.out_val[i]), at, tx))
        if not seeds:
            raise InvalidRequest(f"transaction {start} pays nothing to {address}", details={"field": "address"})
        return seeds, {"txid": start, "address": address, "at_us": at}
    if at_us is None:
        raise NotFound(f"no transaction {start[:80]!r} on {chain} in the imported chain data (to start from an "
                       "address, give the time it received the funds)", details={"chain": chain})
    nodes = graph.nodes_of(chain, start)
    if asset is not None:
        nodes = [n for n in nodes if graph.node(n)[2] == asset]
    if not nodes:
        raise NotFound(f"address {start[:80]} has no {asset or ''} transactions on {chain} in the imported chain data",
                       details={"chain": chain})
    node = nodes[0] if len(nodes) == 1 else _busiest(graph, nodes)
    lo, hi = graph.receipts(node)
    receipts = [(int(graph.recv_tx[i]), float(graph.recv_val[i])) for i in range(lo, hi)
                if int(graph.recv_time[i]) == at_us]
    if amount is None:
        if not receipts:
            raise NotFound(f"{start[:80]} received nothing at that time; give the amount", details={"field": "amount"})
        value, tx_at = sum(v for _t, v in receipts), receipts[-1][0]
    else:
        value, tx_at = amount, (receipts[-1][0] if receipts else -1)
    return [(node, value, at_us, tx_at)], {"address": start, "at_us": at_us, "amount": _round(value)}


def _busiest(graph: ChainGraph, nodes: list[int]) -> int:
    return max(nodes, key=lambda n: graph.receipts(n)[1] - graph.receipts(n)[0])


def _result(w: _Tracer, chain: str, method: str, start: dict[str, Any], start_amount: float,
            seeds: list[tuple[int, float, int, int]]) -> TraceResult:
    g = w.g
    addresses: list[TaintedAddress] = []
    entities: list[ReachedEntity] = []
    for node, state in w.nodes.items():
        address = state.address if state.address is not None else g.node(node)[1]
        addresses.append(TaintedAddress(address, state.hop, state.received, state.first_at, state.category))
        if state.category is not None:
            entities.append(ReachedEntity(address, state.category, state.category in _RISKY, state.stop, state.hop,
                                          state.received, state.first_at, w.path_to(node)))
    entities.sort(key=lambda e: (e.hop, -e.taint, e.address))
    asset_id = int(g.tx_asset[seeds[0][3]]) if seeds and seeds[0][3] >= 0 else -1
    asset = g.asset_name(asset_id) if asset_id >= 0 else g.node(seeds[0][0])[2]
    elapsed = w.clock() - w.began
    reasons = sorted(w.reasons)
    stats = {"nodes": len(w.nodes), "transactions": len(w.done_tx), "edges": w.edges, "steps": w.steps,
             "ms": round(elapsed * 1000, 3), "limits": w.limits.to_dict(), "dust": w.dust,
             "truncated_at": {k: v for k, v in w.reasons.items()}}
    return TraceResult(chain, asset, method, start, start_amount, w.max_hops, addresses, entities,
                       bool(reasons), reasons, stats)
