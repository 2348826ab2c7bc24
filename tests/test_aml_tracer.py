"""The funds tracer against hand-built graphs whose taint values are computed by hand here.

Given a small graph of transactions (times in minutes), when the tracer follows a withdrawal with
the haircut or poison method, then each address holds exactly the taint the formulas give.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from mamori.aml.addresses import synthetic_address
from mamori.aml.chaindata import ChainTx
from mamori.aml.graph import ChainGraph, append, empty_graph
from mamori.aml.model import RiskCategory
from mamori.aml.tracer import TraceLimits, trace
from mamori.kit.errors import InvalidRequest, NotFound

T0 = 1_780_000_000_000_000
MIN = 60_000_000


def btc(name: str) -> str:
    return synthetic_address("bitcoin", name.encode())


def eth(name: str) -> str:
    return synthetic_address("ethereum", name.encode())


def utxo(txid: str, minute: int, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]]) -> ChainTx:
    return ChainTx("bitcoin", txid, T0 + minute * MIN, "BTC",
                   tuple((btc(a), Decimal(v)) for a, v in inputs), tuple((btc(a), Decimal(v)) for a, v in outputs))


def xfer(txid: str, minute: int, sender: str, receiver: str, value: str, asset: str = "ETH") -> ChainTx:
    return ChainTx("ethereum", txid, T0 + minute * MIN, asset, ((eth(sender), Decimal(value)),),
                   ((eth(receiver), Decimal(value)),))


def graph_of(*txs: ChainTx) -> ChainGraph:
    graph, report = append(empty_graph(), list(enumerate(txs, start=1)))
    assert report.added == len(txs) and not report.problems
    return graph


class Labels:
    def __init__(self, labels: dict[str, RiskCategory]) -> None:
        self.labels = labels

    def label(self, chain: str, address: str) -> RiskCategory | None:
        return self.labels.get(address)


EXACT = TraceLimits(dust=0.0)


# -- account model: haircut is the tainted share of the balance at each later transfer -----------------
def account_graph() -> ChainGraph:
    return graph_of(
        xfer("0x01", -10, "old", "A", "10"),     # A's clean balance before the withdrawal
        xfer("0x02", 0, "exchange", "A", "10"),  # the withdrawal: 10 tainted, A's balance 20
        xfer("0x03", 1, "A", "B", "5"),          # haircut: 5 * 10/20 = 2.5; A keeps 7.5 of 15
        xfer("0x04", 2, "A", "C", "15"),         # haircut: 15 * 7.5/15 = 7.5; A keeps 0
        xfer("0x05", 3, "B", "D", "1"),          # B holds 2.5 of a balance of 5 - 1 = 4 → 1 * 2.5/4 = 0.625
        xfer("0x06", -5, "B", "E", "1"),         # earlier than B's funds: never followed (but B's balance)
    )


def test_account_model_haircut_matches_the_hand_computed_shares() -> None:
    result = trace(account_graph(), "ethereum", "0x02", method="haircut", limits=EXACT)
    assert result.taint_of(eth("A")) == pytest.approx(10.0)
    assert result.taint_of(eth("B")) == pytest.approx(2.5)
    assert result.taint_of(eth("C")) == pytest.approx(7.5)
    assert result.taint_of(eth("D")) == pytest.approx(0.625)
    assert result.taint_of(eth("E")) == 0.0
    assert not result.truncated
    # conservation: what A received equals what it passed on (B + C)
    assert result.taint_of(eth("B")) + result.taint_of(eth("C")) == pytest.approx(10.0)


def test_account_model_poison_taints_every_later_transfer_fully() -> None:
    result = trace(account_graph(), "ethereum", "0x02", method="poison", limits=EXACT)
    assert result.taint_of(eth("B")) == pytest.approx(5.0)
    assert result.taint_of(eth("C")) == pytest.approx(15.0)
    assert result.taint_of(eth("D")) == pytest.approx(1.0)
    assert result.taint_of(eth("E")) == 0.0


# -- UTXO: a peel chain, then a merge of tainted and clean inputs ----------------------------------------
def peel_graph() -> ChainGraph:
    return graph_of(
        utxo("aa01", 0, [("hot", "100")], [("P0", "10"), ("hot", "89.99")]),          # withdrawal to P0
        utxo("aa02", 1, [("P0", "10")], [("P1", "9"), ("X1", "0.99")]),                # fee 0.01
        utxo("aa03", 2, [("P1", "9")], [("P2", "8"), ("X2", "0.99")]),
        utxo("aa04", 3, [("P2", "8"), ("Q", "2")], [("R", "9.9")]),                    # merge with clean Q
        utxo("aa00", -1, [("coinbase", "2")], [("Q", "2")]),                            # Q's clean funds
        utxo("aa05", 4, [("R", "9.9")], [("S", "4.95"), ("U", "4.9")]),                # fee 0.05
    )


def test_peel_chain_and_merge_haircut() -> None:
    result = trace(peel_graph(), "bitcoin", "aa01", address=btc("P0"), method="haircut", limits=EXACT)
    assert result.taint_of(btc("P0")) == pytest.approx(10.0)
    assert result.taint_of(btc("hot")) == 0.0          # the exchange's change is not the customer's funds
    assert result.taint_of(btc("P1")) == pytest.approx(9.0)   # ratio 10/10
    assert result.taint_of(btc("X1")) == pytest.approx(0.99)
    assert result.taint_of(btc("P2")) == pytest.approx(8.0)
    # merge: tainted inputs 8 of 10 → R receives 9.9 * 8/10 = 7.92
    assert result.taint_of(btc("R")) == pytest.approx(7.92)
    # R spends all of its 9.9 (7.92 tainted): ratio 7.92/9.9 = 0.8 → S 3.96, U 3.92
    assert result.taint_of(btc("S")) == pytest.approx(3.96)
    assert result.taint_of(btc("U")) == pytest.approx(3.92)
    assert result.taint_of(btc("Q")) == 0.0
    hops = {a.address: a.hop for a in result.addresses}
    assert hops[btc("P0")] == 0 and hops[btc("P1")] == 1 and hops[btc("R")] == 3 and hops[btc("S")] == 4


def test_peel_chain_and_merge_poison() -> None:
    result = trace(peel_graph(), "bitcoin", "aa01", address=btc("P0"), method="poison", limits=EXACT)
    assert result.taint_of(btc("R")) == pytest.approx(9.9)
    assert result.taint_of(btc("S")) == pytest.approx(4.95)
    assert result.taint_of(btc("U")) == pytest.approx(4.9)


def test_max_hops_stops_the_walk() -> None:
    result = trace(peel_graph(), "bitcoin", "aa01", address=btc("P0"), max_hops=2, limits=EXACT)
    assert result.taint_of(btc("P2")) == pytest.approx(8.0)   # hop 2 is reached ...
    assert result.taint_of(btc("R")) == 0.0                    # ... and not spent from
    assert not result.truncated


# -- cycles: conserved taint, no double counting, termination ------------------------------------------
def cycle_graph() -> ChainGraph:
    return graph_of(
        xfer("0x10", 0, "exchange", "A", "10"),
        xfer("0x11", 1, "A", "B", "10"),   # B: 10 of 10
        xfer("0x12", 2, "B", "A", "4"),    # back to A: 4 * 10/10 = 4
        xfer("0x13", 3, "A", "B", "4"),    # and again: 4 * 4/4 = 4
        xfer("0x14", 4, "B", "A", "10"),   # B holds 10 of 10: 10
    )


@pytest.mark.parametrize("method", ["haircut", "poison"])
def test_cycles_terminate_and_count_each_transfer_once(method: str) -> None:
    result = trace(cycle_graph(), "ethereum", "0x10", method=method, max_hops=20, limits=EXACT)
    assert result.taint_of(eth("B")) == pytest.approx(14.0)
    assert result.taint_of(eth("A")) == pytest.approx(24.0)   # 10 + 4 + 10
    assert result.stats["transactions"] == 4


# -- fan-out above the limit ---------------------------------------------------------------------------
def fan_graph() -> ChainGraph:
    txs = [xfer("0x20", 0, "exchange", "F", "30")]
    txs += [xfer(f"0x3{i:02d}", 1 + i, "F", f"out{i}", "1") for i in range(30)]
    txs.append(utxo("bb00", 0, [("hot", "500")], [("H", "465"), ("hot", "35")]))
    txs.append(utxo("bb01", 1, [("H", "465")], [(f"o{i}", str(i + 1)) for i in range(30)]))
    return graph_of(*txs)


def test_fan_out_above_the_limit_is_bounded_and_says_so() -> None:
    limits = TraceLimits(dust=0.0, max_edges_per_node=5)
    result = trace(fan_graph(), "ethereum", "0x20", limits=limits)
    followed = [a for a in result.addresses if a.address.startswith("0x") and a.hop == 1]
    assert len(followed) == 5
    assert {a.address for a in followed} == {eth(f"out{i}") for i in range(5)}   # the earliest five
    assert result.truncated and "max_edges_per_node" in result.reasons


def test_a_transaction_with_too_many_outputs_keeps_the_largest() -> None:
    limits = TraceLimits(dust=0.0, max_edges_per_node=5)
    result = trace(fan_graph(), "bitcoin", "bb00", address=btc("H"), limits=limits)
    assert {a.address for a in result.addresses} == {btc("H")} | {btc(f"o{i}") for i in range(25, 30)}
    assert result.taint_of(btc("o29")) == pytest.approx(30.0)
    assert result.truncated and result.reasons == ["max_edges_per_node"]


def test_max_nodes_and_time_budget_bound_the_trace() -> None:
    small = trace(fan_graph(), "ethereum", "0x20", limits=TraceLimits(dust=0.0, max_nodes=3))
    assert len(small.addresses) == 3 and small.truncated and "max_nodes" in small.reasons
    ticks = iter(range(0, 10**9, 10))
    slow = trace(fan_graph(), "ethereum", "0x20", limits=TraceLimits(dust=0.0, time_budget_s=1.0),
                 clock=lambda: float(next(ticks)))
    assert slow.truncated and slow.reasons == ["time_budget"]


def test_dust_is_not_followed() -> None:
    result = trace(account_graph(), "ethereum", "0x02", limits=TraceLimits(dust=1.0))
    assert result.taint_of(eth("B")) == pytest.approx(2.5)
    assert result.taint_of(eth("D")) == pytest.approx(0.625)   # received (recorded) ...
    graph = graph_of(*[xfer("0x40", 0, "exchange", "A", "10"), xfer("0x41", 1, "A", "B", "0.5"),
                       xfer("0x42", 2, "B", "C", "0.5")])
    result = trace(graph, "ethereum", "0x40", limits=TraceLimits(dust=1.0))
    assert result.taint_of(eth("B")) == pytest.approx(0.5)
    assert result.taint_of(eth("C")) == 0.0                   # ... but B's dust is not followed


# -- entities ---------------------------------------------------------------------------------------------
def test_stops_at_known_entities_and_records_the_path() -> None:
    graph = graph_of(
        xfer("0x50", 0, "exchange", "A", "10"),
        xfer("0x51", 1, "A", "mule", "6"),
        xfer("0x52", 2, "mule", "casino", "6"),
        xfer("0x53", 3, "casino", "payout", "6"),
        xfer("0x54", 4, "A", "otherx", "4"),
    )
    labels = Labels({eth("casino"): RiskCategory.online_casino, eth("mule"): RiskCategory.mule,
                     eth("otherx"): RiskCategory.exchange})
    result = trace(graph, "ethereum", "0x50", labels=labels, limits=EXACT)
    by_address = {e.address: e for e in result.entities}
    casino = by_address[eth("casino")]
    assert casino.category == "online_casino" and casino.risky and casino.stopped and casino.hop == 2
    assert casino.taint == pytest.approx(6.0)
    assert [s.to_address for s in casino.path] == [eth("A"), eth("mule"), eth("casino")]
    assert [s.txid for s in casino.path] == ["0x50", "0x51", "0x52"]
    assert by_address[eth("mule")].stopped is False          # risky but not a stop category: followed
    assert by_address[eth("otherx")].risky is False
    assert result.taint_of(eth("payout")) == 0.0            # nothing followed beyond the casino


def test_start_from_an_address_time_and_amount() -> None:
    graph = account_graph()
    result = trace(graph, "ethereum", eth("A"), at_us=T0, limits=EXACT)
    assert result.start_amount == pytest.approx(10.0)
    assert result.taint_of(eth("B")) == pytest.approx(2.5)
    result = trace(graph, "ethereum", eth("A"), at_us=T0, amount=4.0, limits=EXACT)
    assert result.taint_of(eth("B")) == pytest.approx(1.0)   # 5 * 4/20


def test_bad_starts_are_clear_errors() -> None:
    graph = account_graph()
    with pytest.raises(NotFound, match="no transaction"):
        trace(graph, "ethereum", "0xdeadbeef")
    with pytest.raises(NotFound, match=r"no .*transactions"):
        trace(graph, "ethereum", eth("nobody"), at_us=T0)
    with pytest.raises(InvalidRequest, match="taint method"):
        trace(graph, "ethereum", "0x02", method="fifo")
    with pytest.raises(InvalidRequest, match="max_hops"):
        trace(graph, "ethereum", "0x02", max_hops=0)


def test_assets_do_not_mix() -> None:
    graph = graph_of(xfer("0x60", 0, "exchange", "A", "10", asset="USDT"), xfer("0x61", 1, "A", "B", "10"),
                     xfer("0x62", 2, "A", "C", "5", asset="USDT"))
    result = trace(graph, "ethereum", "0x60", limits=EXACT)
    assert result.asset == "USDT"
    assert result.taint_of(eth("C")) == pytest.approx(5.0)
    assert result.taint_of(eth("B")) == 0.0
