"""The faster poison walk against the plain step-by-step reference walk, on random small graphs.

Given a random graph of account transfers and many-input/many-output transactions (equal times,
zero values, self-transfers, cycles, labelled exchanges and scam addresses), when the same withdrawal
is traced with ``method="poison"`` by both walks under tight bounds, then the results are identical:
the same addresses with the same taints, hops and first arrivals, the same entities with their paths,
the same truncation reasons and the same counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mamori.aml.graph import ChainGraph, from_arrays
from mamori.aml.model import RiskCategory
from mamori.aml.tracer import TraceLimits, trace

CATEGORIES = (RiskCategory.exchange, RiskCategory.scam, RiskCategory.online_casino, RiskCategory.mixer)


class IndexLabels:
    def __init__(self, labels: dict[int, RiskCategory]) -> None:
        self.labels = {f"#{i}": c for i, c in labels.items()}

    def label(self, chain: str, address: str) -> RiskCategory | None:
        return self.labels.get(address)


def random_graph(seed: int, n_nodes: int, n_tx: int, multi_share: float) -> ChainGraph:
    rng = np.random.default_rng(seed)
    times: list[int] = []
    in_nodes: list[int] = []
    in_vals: list[float] = []
    out_nodes: list[int] = []
    out_vals: list[float] = []
    in_ptr, out_ptr = [0], [0]
    for _ in range(n_tx):
        times.append(int(rng.integers(0, 12)))          # few distinct times: many ties
        k_in, k_out = (int(rng.integers(1, 4)), int(rng.integers(1, 5))) if rng.random() < multi_share else (1, 1)
        for nodes, vals, k in ((in_nodes, in_vals, k_in), (out_nodes, out_vals, k_out)):
            for _leg in range(k):
                nodes.append(int(rng.integers(0, n_nodes)))        # self-transfers and repeats included
                vals.append(0.0 if rng.random() < 0.05 else float(rng.integers(1, 100)))
        in_ptr.append(len(in_nodes))
        out_ptr.append(len(out_nodes))
    return from_arrays(tx_time=np.array(times, np.int64), tx_asset=np.zeros(n_tx, np.int32),
                       tx_in_ptr=np.array(in_ptr, np.int64), in_node=np.array(in_nodes, np.int32),
                       in_val=np.array(in_vals, np.float64), tx_out_ptr=np.array(out_ptr, np.int64),
                       out_node=np.array(out_nodes, np.int32), out_val=np.array(out_vals, np.float64),
                       n_nodes=n_nodes, assets=["ethereum|ETH"])


def comparable(result: Any) -> dict[str, Any]:
    body: dict[str, Any] = result.to_dict(max_addresses=10**6)
    stats = body.pop("stats")
    stats.pop("ms")
    body["addresses"] = sorted(body["addresses"], key=lambda a: a["address"])
    return body | {"stats": stats}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_nodes=st.integers(2, 25), n_tx=st.integers(1, 60),
       multi_share=st.sampled_from([0.0, 0.3, 1.0]), max_hops=st.integers(1, 6), max_nodes=st.integers(1, 30),
       max_edges=st.integers(1, 6), n_labels=st.integers(0, 5), start=st.integers(0, 10**6))
def test_fast_poison_equals_the_reference_walk(seed: int, n_nodes: int, n_tx: int, multi_share: float,
                                               max_hops: int, max_nodes: int, max_edges: int, n_labels: int,
                                               start: int) -> None:
    graph = random_graph(seed, n_nodes, n_tx, multi_share)
    rng = np.random.default_rng(seed + 1)
    labels = IndexLabels({int(rng.integers(0, n_nodes)): CATEGORIES[int(rng.integers(0, len(CATEGORIES)))]
                          for _ in range(n_labels)})
    limits = TraceLimits(max_nodes=max_nodes, max_edges_per_node=max_edges, time_budget_s=60.0)
    start_tx = f"#{start % n_tx}"
    fast = trace(graph, "ethereum", start_tx, method="poison", max_hops=max_hops, labels=labels, limits=limits)
    slow = trace(graph, "ethereum", start_tx, method="poison", max_hops=max_hops, labels=labels, limits=limits,
                 reference=True)
    assert comparable(fast) == comparable(slow)


def test_the_comparison_sees_truncation_and_entities() -> None:
    """The random graphs do exercise the bounds and the entities (else the comparison above proves little)."""
    seen: set[str] = set()
    for seed in range(200):
        graph = random_graph(seed, 12, 50, 0.3)
        labels = IndexLabels({3: RiskCategory.scam, 5: RiskCategory.exchange})
        result = trace(graph, "ethereum", "#0", method="poison", labels=labels,
                       limits=TraceLimits(max_nodes=6, max_edges_per_node=2))
        seen.update(result.reasons)
        seen.update(f"entity:{e.category}" for e in result.entities)
    assert {"max_nodes", "max_edges_per_node", "entity:scam", "entity:exchange"} <= seen


def test_self_transfers_do_not_multiply_the_walk() -> None:
    """A wallet sending to itself again and again is walked once per transfer (it used to be walked
    once more per earlier self-transfer: quadratic, and cut by the time budget on a busy wallet)."""
    k = 300
    src = np.array([0] + [1] * k + [1], np.int32)
    dst = np.array([1] + [1] * k + [2], np.int32)
    n = len(src)
    ptr = np.arange(n + 1, dtype=np.int64)
    graph = from_arrays(tx_time=np.arange(n, dtype=np.int64), tx_asset=np.zeros(n, np.int32), tx_in_ptr=ptr,
                        in_node=src, in_val=np.ones(n), tx_out_ptr=ptr, out_node=dst, out_val=np.ones(n), n_nodes=3,
                        assets=["ethereum|ETH"])
    for method in ("poison", "haircut"):
        result = trace(graph, "ethereum", "#0", method=method, limits=TraceLimits(max_edges_per_node=10_000))
        assert result.stats["steps"] <= k + 1, method
        assert result.taint_of("#2") == 1.0 and not result.truncated
