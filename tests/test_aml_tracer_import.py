"""Chain data import: the formats, per-line errors, idempotent re-import, persistence, exposure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mamori.aml.addresses import synthetic_address
from mamori.aml.exposure import GraphExposure
from mamori.aml.graph import ChainGraph, GraphStore
from mamori.aml.imports import entry_from_row
from mamori.aml.model import RiskCategory
from mamori.aml.screening import Screener, ScreeningIndex
from mamori.aml.tracer import TraceLimits, trace
from mamori.kit.errors import InvalidRequest

A = synthetic_address("bitcoin", b"A")
B = synthetic_address("bitcoin", b"B")
C = synthetic_address("bitcoin", b"C")
E1 = synthetic_address("ethereum", b"e1")
E2 = synthetic_address("ethereum", b"e2")
E3 = synthetic_address("ethereum", b"e3")


def jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return path


GOOD = [
    {"chain": "bitcoin", "txid": "AA" * 32, "time": "2026-05-01T10:00:00Z",
     "inputs": [{"address": A, "value": "0.5"}], "outputs": [{"address": B, "value": "0.4999"}]},
    {"chain": "eth", "txid": "0x" + "11" * 32, "time": "2026-05-01T10:00:00+09:00", "from": E1.upper().replace("0X", "0x"),
     "to": E2, "value": "1.25"},
    {"chain": "ethereum", "txid": "0x" + "12" * 32, "time": 1_777_600_000, "from": E2, "to": E3, "value": 2,
     "asset": "usdt"},
]


def test_jsonl_import_reports_bad_lines_and_imports_the_rest(tmp_path: Path) -> None:
    bad = [
        {"chain": "dogeparty", "txid": "01", "time": "2026-05-01T10:00:00Z", "from": E1, "to": E2, "value": "1"},
        {"chain": "ethereum", "txid": "02", "time": "2026-05-01T10:00:00Z", "from": "0x1234", "to": E2, "value": "1"},
        {"chain": "ethereum", "txid": "03", "time": "2026-05-01T10:00:00Z", "from": E1, "to": E2, "value": "-1"},
        {"chain": "ethereum", "txid": "04", "time": "yesterday", "from": E1, "to": E2, "value": "1"},
        "{not json",
        {"chain": "bitcoin", "txid": "05", "time": "2026-05-01T10:00:00Z", "from": A, "to": B, "value": "1"},
        GOOD[0],  # a duplicated txid in the same file
    ]
    store = GraphStore(tmp_path / "graph")
    report = store.import_file(jsonl(tmp_path / "chain.jsonl", GOOD + bad))
    assert report.added == 3
    codes = {p.line: p.code for p in report.problems}
    assert codes == {4: "unknown_chain", 5: "bad_address", 6: "bad_value", 7: "bad_time", 8: "bad_json",
                     9: "bad_record", 10: "duplicate_txid"}
    messages = {p.line: p.message for p in report.problems}
    assert "dogeparty" in messages[4] and "from" in messages[5] and "UTXO" in messages[9]
    graph = store.graph
    assert graph.n_tx == 3 and graph.tx_index("ethereum", "0x" + "11" * 32) is not None
    assert graph.node_index("ethereum", E1, "ETH") is not None          # EIP-55 upper case normalised
    assert graph.node_index("ethereum", E2, "USDT") is not None          # token symbol upper-cased
    # idempotent: importing the file again adds nothing
    again = store.import_file(tmp_path / "chain.jsonl")
    assert again.added == 0 and again.known == 3 and store.graph.version == graph.version


def test_the_graph_persists_and_reloads_memory_mapped(tmp_path: Path) -> None:
    store = GraphStore(tmp_path / "graph")
    store.import_file(jsonl(tmp_path / "a.jsonl", GOOD[:2]))
    store.import_file(jsonl(tmp_path / "b.jsonl", GOOD[2:]))                # appended by a later import
    reloaded = ChainGraph.load(tmp_path / "graph")
    assert reloaded.n_tx == 3 and reloaded.version == 2
    result = trace(reloaded, "ethereum", "0x" + "11" * 32, limits=TraceLimits(dust=0.0))
    assert result.taint_of(E2) == pytest.approx(1.25)
    assert result.taint_of(E3) == 0.0      # USDT is another asset: not the traced funds


def test_csv_and_node_exports(tmp_path: Path) -> None:
    csv_file = tmp_path / "edges.csv"
    csv_file.write_text("chain,txid,time,from,to,value,asset\n"
                        f"ethereum,0xab,2026-05-01T10:00:00Z,{E1},{E2},1.5,\n"
                        f"ethereum,0xab,2026-05-01T10:00:00Z,{E1},{E3},0.5,\n"
                        f"ethereum,0xac,2026-05-01T10:00:00Z,{E1},not-an-address,0.5,\n")
    store = GraphStore(tmp_path / "graph")
    report = store.import_file(csv_file)
    assert report.added == 2 and [p.code for p in report.problems] == ["bad_address"]
    assert store.graph.tx_index("ethereum", "0xab#1") is not None
    block = {"hash": "00" * 32, "time": 1_777_600_000, "tx": [
        {"txid": "cc" * 32, "vin": [{"coinbase": "03"}], "vout": [{"value": 3.125, "n": 0,
                                                                   "scriptPubKey": {"address": A}}]},
        {"txid": "dd" * 32, "vin": [{"txid": "cc" * 32, "vout": 0, "prevout": {"value": 3.125, "scriptPubKey":
                                                                               {"address": A}}}],
         "vout": [{"value": 3.0, "n": 0, "scriptPubKey": {"address": B}},
                  {"value": 0, "n": 1, "scriptPubKey": {"type": "nulldata"}}]}]}
    (tmp_path / "block.json").write_text(json.dumps(block))
    report = store.import_file(tmp_path / "block.json", "bitcoin-core")
    assert report.added == 1 and [p.code for p in report.problems] == ["coinbase"]
    eth_block = {"jsonrpc": "2.0", "id": 1, "result": {"number": "0x10", "timestamp": hex(1_777_600_100),
                 "transactions": [{"hash": "0x" + "ee" * 32, "from": E2, "to": E3, "value": hex(2 * 10**18)},
                                  {"hash": "0x" + "ef" * 32, "from": E2, "to": None, "value": "0x0"}]}}
    (tmp_path / "eth.json").write_text(json.dumps(eth_block))
    report = store.import_file(tmp_path / "eth.json", "ethereum-rpc")
    assert report.added == 1 and [p.code for p in report.problems] == ["contract_creation"]
    result = trace(store.graph, "ethereum", "0x" + "ee" * 32, limits=TraceLimits(dust=0.0))
    assert result.taint_of(E3) == pytest.approx(2.0)
    with pytest.raises(InvalidRequest, match="unknown chain data format"):
        store.import_file(csv_file, "parquet")
    with pytest.raises(InvalidRequest, match="cannot read"):
        store.import_file(tmp_path / "missing.jsonl")


def test_an_over_long_line_is_reported_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mamori.aml.chaindata.MAX_LINE_BYTES", 400)
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"chain": "ethereum", "txid": "0x1", "pad": "x" * 2000}) + "\n" + json.dumps(GOOD[1]))
    report = GraphStore(tmp_path / "graph").import_file(path)
    assert report.added == 1 and [(p.line, p.code) for p in report.problems] == [(1, "too_large")]


class Labels:
    def __init__(self, labels: dict[str, RiskCategory]) -> None:
        self.labels = labels

    def label(self, chain: str, address: str) -> RiskCategory | None:
        return self.labels.get(address)


def test_indirect_exposure_forward_and_backward(tmp_path: Path) -> None:
    e = [synthetic_address("ethereum", f"x{i}".encode()) for i in range(8)]
    rows = [
        (e[0], e[1]), (e[1], e[2]), (e[2], e[3]),    # e3 is a casino: e0 is 3 hops before it
        (e[4], e[5]), (e[5], e[6]),                  # e4 is a scam collector: e6 received from it 2 hops later
        (e[7], e[0]),                                # e7 is an exchange: not walked through
    ]
    records = [{"chain": "ethereum", "txid": f"0x{i:04x}", "time": f"2026-05-0{i + 1}T00:00:00Z", "from": a, "to": b,
                "value": "1"} for i, (a, b) in enumerate(rows)]
    store = GraphStore(tmp_path / "graph")
    store.import_file(jsonl(tmp_path / "x.jsonl", records))
    labels = Labels({e[3]: RiskCategory.online_casino, e[4]: RiskCategory.scam, e[7]: RiskCategory.exchange})
    exposure = GraphExposure(store, labels, max_hops=3)
    assert exposure.exposure_directed("ethereum", e[0], "forward") == (RiskCategory.online_casino, 3)
    assert exposure.exposure_directed("ethereum", e[6], "backward") == (RiskCategory.scam, 2)
    assert exposure.exposure_directed("ethereum", e[6], "forward") is None
    assert exposure.exposure("ethereum", e[2]) == (RiskCategory.online_casino, 1)
    assert GraphExposure(store, labels, max_hops=2).exposure("ethereum", e[0]) is None
    assert exposure.exposure("ethereum", "0xnot") is None and exposure.exposure("nochain", e[0]) is None
    # refreshed after an import: a new transfer e6 -> e3 puts e5 two hops from the casino
    more = [{"chain": "ethereum", "txid": "0xffff", "time": "2026-06-01T00:00:00Z", "from": e[6], "to": e[3],
             "value": "1"}]
    assert exposure.exposure_directed("ethereum", e[5], "forward") is None
    store.import_file(jsonl(tmp_path / "y.jsonl", more))
    assert exposure.exposure_directed("ethereum", e[5], "forward") == (RiskCategory.online_casino, 2)


def test_exposure_follows_a_change_of_the_risk_lists_without_a_new_graph(tmp_path: Path) -> None:
    """The cached answer is keyed on the screener's list version too: listing an address later changes
    the exposure of its neighbours at once, although the graph did not change."""
    a, b, c = (synthetic_address("ethereum", f"l{i}".encode()) for i in range(3))
    records = [{"chain": "ethereum", "txid": f"0x{i:04x}", "time": f"2026-05-0{i + 1}T00:00:00Z", "from": x, "to": y,
                "value": "1"} for i, (x, y) in enumerate([(a, b), (b, c)])]
    store = GraphStore(tmp_path / "graph")
    store.import_file(jsonl(tmp_path / "x.jsonl", records))
    screener = Screener.from_entries([])
    exposure = GraphExposure(store, screener, max_hops=3)
    assert exposure.exposure_directed("ethereum", a, "forward") is None
    listed = entry_from_row({"chain": "ethereum", "address": c, "category": "mixer"}, {"source": "t"})
    screener.index = ScreeningIndex([listed], version=1)  # what a refresh after a list import swaps in
    assert exposure.exposure_directed("ethereum", a, "forward") == (RiskCategory.mixer, 2)


def test_the_crypto_simulators_chain_is_imported_and_casino_payments_are_traced(tmp_path: Path) -> None:
    """E's simulator writes "mamori chain JSONL"; withdrawals of its online-casino typology reach a casino."""
    from mamori.sim.crypto import simulate

    sim = simulate(customers=300, days=20, seed=5)
    sim.write(tmp_path / "sim")
    store = GraphStore(tmp_path / "graph")
    report = store.import_file(tmp_path / "sim" / "chain.jsonl")
    assert report.added == len(sim.chain) and not report.problems
    risk = {(e["chain"], e["address"]): RiskCategory(e["category"]) for e in sim.risk_list}

    class SimLabels:
        def label(self, chain: str, address: str) -> RiskCategory | None:
            return risk.get((chain, address))

    reached: dict[str, list[bool]] = {}
    for event in sim.events:
        typology = sim.labels.get(event["id"])
        if event["type"] != "crypto_withdrawal" or typology not in ("online_casino", "benign_payday_buyer"):
            continue
        result = trace(store.graph, event["chain"], event["tx_hash"], address=event["address"], labels=SimLabels())
        reached.setdefault(str(typology), []).append(
            any(e.category == "online_casino" for e in result.entities))
    assert sum(reached["online_casino"]) >= 3
    assert not any(reached["benign_payday_buyer"])


def test_the_trace_benchmark_runs_small() -> None:
    from mamori.bench.aml_trace_bench import run_trace_bench

    figures = run_trace_bench(edges=20_000, traces=5)
    assert figures["edges"] == 20_000 and figures["traces"] == 5
    assert figures["trace_p50_ms"] <= figures["trace_p95_ms"] <= figures["trace_max_ms"]
    assert figures["method"] == "haircut"   # trace_* stays the figure; poison runs the same withdrawals
    assert figures["poison_trace_p50_ms"] <= figures["poison_trace_p95_ms"] <= figures["poison_trace_max_ms"]
    assert figures["poison_nodes_per_trace_max"] >= figures["nodes_per_trace_max"]  # poison taints at least as far
