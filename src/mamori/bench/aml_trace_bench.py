"""Trace benchmark: 5-hop forward traces over a synthetic 10-million-edge chain graph (issue 6 target:
p95 <= 1 s on 2 cores).

The graph is generated with numpy in the shape of a real chain around an exchange:

* many small wallets whose activity follows a power law (a few wallets are busy, most send a few
  transfers a year);
* exchange-like hubs (0.01 % of the nodes) on about a fifth of all transfers, with fan-outs of
  tens of thousands — labelled ``exchange`` (the tracer stops there, as it would at a known
  service), plus one unlabelled hub (a service nobody listed) that the fan-out limit must bound;
* peel chains (a wallet forwards most of its funds to a fresh address, again and again);
* a few labelled online casinos and scam collectors.

Traces start at random withdrawals (a hub paying a wallet) and follow 5 hops, with the haircut
method (``trace_*``: the issue's figure) and then, from the same withdrawals over the same graph, with
the poison method (``poison_trace_*``); the figures are the latencies (p50/p95/max ms), the nodes per
trace, the traces cut short, the build time of the index, the memory (RSS) and the graph's size.
``python -m mamori.bench.aml_trace_bench [edges] [traces]`` prints them on one line.
"""

from __future__ import annotations

import resource
import sys
import time
from typing import Any

import numpy as np

from mamori.aml.graph import ChainGraph, from_arrays
from mamori.aml.model import RiskCategory
from mamori.aml.tracer import TraceLimits, trace

YEAR_US = 365 * 86_400 * 1_000_000
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


class _IndexLabels:
    """Labels of an unnamed graph: node ``#i`` → category."""

    def __init__(self, labels: dict[int, RiskCategory]) -> None:
        self.labels = {f"#{i}": c for i, c in labels.items()}

    def label(self, chain: str, address: str) -> RiskCategory | None:
        return self.labels.get(address)


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def generate(edges: int, *, seed: int = 7) -> tuple[ChainGraph, _IndexLabels, np.ndarray]:
    """(graph, labels, withdrawal transaction indices) of a synthetic account-model chain."""
    rng = np.random.default_rng(seed)
    n_wallets = max(1000, edges // 5)
    n_hubs = max(3, n_wallets // 10_000)
    hubs = np.arange(n_hubs)                       # nodes 0..n_hubs-1 are hubs, the last one unlabelled
    wallet0 = n_hubs
    n_nodes = n_hubs + n_wallets
    peel_edges = edges // 10
    hub_edges = edges // 5
    plain_edges = edges - peel_edges - hub_edges

    # power-law wallet activity: wallet w is picked with weight (rank+1)^-0.9
    weights = (np.arange(n_wallets) + 1.0) ** -0.9
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]

    def wallets(k: int) -> np.ndarray:
        return wallet0 + np.minimum(np.searchsorted(cdf, rng.random(k)), n_wallets - 1)

    perm = rng.permutation(n_wallets)  # busy wallets are not all low ids
    src = wallet0 + perm[wallets(plain_edges) - wallet0]
    dst = wallet0 + perm[wallets(plain_edges) - wallet0]
    times = T0 + rng.integers(0, YEAR_US, plain_edges)
    vals = rng.lognormal(0.0, 1.5, plain_edges)

    # hub transfers: half withdrawals (hub → wallet), half deposits (wallet → hub)
    h = rng.integers(0, n_hubs, hub_edges)
    w = wallet0 + perm[wallets(hub_edges) - wallet0]
    out_of_hub = rng.random(hub_edges) < 0.5
    h_src = np.where(out_of_hub, h, w)
    h_dst = np.where(out_of_hub, w, h)
    h_times = T0 + rng.integers(0, YEAR_US, hub_edges)
    h_vals = rng.lognormal(0.5, 1.5, hub_edges)

    # peel chains of length 20: a → b → c … each step one minute later, 95 % of the value
    length = 20
    chains = max(1, peel_edges // length)
    starts = T0 + rng.integers(0, YEAR_US - length * 60_000_000, chains)
    nodes = wallet0 + rng.integers(0, n_wallets, (chains, length + 1))
    p_src = nodes[:, :-1].ravel()
    p_dst = nodes[:, 1:].ravel()
    p_times = (starts[:, None] + np.arange(length)[None, :] * 60_000_000).ravel()
    p_vals = (rng.lognormal(1.0, 1.0, chains)[:, None] * 0.95 ** np.arange(length)[None, :]).ravel()

    all_src = np.concatenate((src, h_src, p_src)).astype(np.int32)
    all_dst = np.concatenate((dst, h_dst, p_dst)).astype(np.int32)
    all_times = np.concatenate((times, h_times, p_times)).astype(np.int64)
    all_vals = np.concatenate((vals, h_vals, p_vals)).astype(np.float64)
    n = len(all_src)
    ptr = np.arange(n + 1, dtype=np.int64)
    graph = from_arrays(tx_time=all_times, tx_asset=np.zeros(n, np.int32), tx_in_ptr=ptr, in_node=all_src,
                        in_val=all_vals, tx_out_ptr=ptr, out_node=all_dst, out_val=all_vals, n_nodes=n_nodes,
                        assets=["ethereum|ETH"])
    labels: dict[int, RiskCategory] = {int(i): RiskCategory.exchange for i in hubs[:-1]}
    risky = wallet0 + rng.integers(0, n_wallets, 200)
    for k, node in enumerate(risky.tolist()):
        labels[node] = RiskCategory.online_casino if k % 2 else RiskCategory.fraud_collection
    withdrawals = plain_edges + np.flatnonzero(out_of_hub & (h < n_hubs - 1))
    return graph, _IndexLabels(labels), withdrawals


def _run_traces(graph: ChainGraph, labels: _IndexLabels, picks: list[int], *, method: str, max_hops: int,
                prefix: str) -> dict[str, Any]:
    latencies: list[float] = []
    nodes: list[int] = []
    truncated = 0
    limits = TraceLimits(time_budget_s=30.0)
    for tx in picks:
        t = time.perf_counter()
        result = trace(graph, "ethereum", f"#{tx}", method=method, max_hops=max_hops, labels=labels, limits=limits)
        latencies.append((time.perf_counter() - t) * 1000)
        nodes.append(len(result.addresses))
        truncated += result.truncated
    lat = np.array(latencies)
    return {f"{prefix}trace_p50_ms": round(float(np.percentile(lat, 50)), 2),
            f"{prefix}trace_p95_ms": round(float(np.percentile(lat, 95)), 2),
            f"{prefix}trace_max_ms": round(float(lat.max()), 2),
            f"{prefix}nodes_per_trace_p50": int(np.percentile(nodes, 50)),
            f"{prefix}nodes_per_trace_max": int(max(nodes)), f"{prefix}truncated_traces": truncated}


def run_trace_bench(edges: int = 10_000_000, traces: int = 50, *, seed: int = 7, max_hops: int = 5,
                    method: str = "haircut", poison: bool = True) -> dict[str, Any]:
    """Build the synthetic graph, run ``traces`` forward traces from random withdrawals with ``method``
    (``trace_*`` figures), then the same traces with the poison method (``poison_trace_*``, unless
    ``poison`` is False or ``method`` is already poison); figures in a dict."""
    rss0 = _rss_mb()
    began = time.perf_counter()
    graph, labels, withdrawals = generate(edges, seed=seed)
    build_s = time.perf_counter() - began
    rng = np.random.default_rng(seed + 1)
    picks = rng.choice(withdrawals, size=min(traces, len(withdrawals)), replace=False).tolist()
    figures: dict[str, Any] = {"edges": graph.n_edges, "nodes": graph.n_nodes, "traces": len(picks), "method": method,
                               "max_hops": max_hops}
    figures |= _run_traces(graph, labels, picks, method=method, max_hops=max_hops, prefix="")
    if poison and method != "poison":
        figures |= _run_traces(graph, labels, picks, method="poison", max_hops=max_hops, prefix="poison_")
    return figures | {
        "build_s": round(build_s, 2), "graph_mb": round(graph.nbytes() / 1e6, 1), "rss_mb": round(_rss_mb(), 1),
        "rss_growth_mb": round(_rss_mb() - rss0, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1)}


def main(argv: list[str]) -> None:
    edges = int(argv[0]) if argv else 10_000_000
    traces = int(argv[1]) if len(argv) > 1 else 50
    figures = run_trace_bench(edges, traces)
    print(" ".join(f"{k}={v}" for k, v in figures.items()), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
