"""The crypto-exchange simulator (mamori simulate --domain crypto): determinism, labels, the event
contract, the synthetic chain and the risk list."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
from collections import Counter, deque
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from mamori.aml.addresses import normalise_address
from mamori.aml.chaindata import LineProblem, read_chain_file
from mamori.aml.model import RISKY_CATEGORIES, risk_category
from mamori.aml.reference_cases import BY_ID
from mamori.aml.scenarios import TYPOLOGIES as SHARED_TYPOLOGIES
from mamori.events.parse import parse_event
from mamori.sim.crypto import ATTACK_TYPOLOGIES, TYPOLOGIES, CryptoSimulation, read_simulation, simulate
from mamori.sim.crypto.chain import MAX_HOPS
from mamori.sim.crypto.risklist import CSV_COLUMNS
from mamori.sim.crypto.world import REFERENCE_CASES

SIZE = {"customers": 400, "days": 21, "seed": 7}


@pytest.fixture(scope="module")
def sim() -> CryptoSimulation:
    return simulate(**SIZE)


def _digest(sim: CryptoSimulation) -> str:
    h = hashlib.sha256()
    for part in (sim.events, sim.labels, sim.chain, sim.risk_list, sim.episodes):
        h.update(orjson.dumps(part, option=orjson.OPT_SORT_KEYS))
    return h.hexdigest()


# -- determinism -------------------------------------------------------------------------------------------
def test_a_seed_gives_the_same_simulation_and_another_seed_a_different_one(sim: CryptoSimulation):
    assert _digest(simulate(**SIZE)) == _digest(sim)
    other = simulate(SIZE["customers"], SIZE["days"], SIZE["seed"] + 1)
    assert _digest(other) != _digest(sim)


def test_the_files_are_byte_identical_across_processes_with_different_hash_seeds(tmp_path: Path):
    code = ("import sys; from mamori.sim.crypto import simulate; "
            "simulate(60, 6, 3).write(sys.argv[1])")
    digests = []
    for hash_seed, name in (("1", "a"), ("987", "b")):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", code, str(tmp_path / name)], check=True, env=env, timeout=120)
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / name).iterdir()})
    assert digests[0] == digests[1]
    assert {"events.jsonl", "labels.json", "chain.jsonl", "risk-list.csv", "episodes.json"} <= set(digests[0])


# -- labels and events ------------------------------------------------------------------------------------
def test_every_event_parses_with_the_real_contract_and_is_in_time_order(sim: CryptoSimulation):
    times = []
    for event in sim.events:
        parsed = parse_event(event)
        times.append(parsed.occurred_at)
    assert times == sorted(times)
    assert len({e["id"] for e in sim.events}) == len(sim.events)
    kinds = Counter(e["type"] for e in sim.events)
    for kind in ("login", "order", "execution", "fiat_deposit", "fiat_withdrawal", "crypto_deposit",
                 "crypto_withdrawal", "settings_change", "logout", "holdings_snapshot", "account_profile"):
        assert kinds[kind] > 0, kind


def test_labels_cover_exactly_the_events_and_every_typology_is_present(sim: CryptoSimulation):
    assert set(sim.labels) == {e["id"] for e in sim.events}
    assert set(sim.labels.values()) - {None} == set(TYPOLOGIES)
    assert TYPOLOGIES == SHARED_TYPOLOGIES   # the names shared with mamori.aml.scenarios
    assert set(REFERENCE_CASES) == set(ATTACK_TYPOLOGIES)
    assert all(case in BY_ID for cases in REFERENCE_CASES.values() for case in cases)
    assert 0 < sum(v is not None for v in sim.labels.values()) < len(sim.labels)
    for event in sim.events:
        detail = sim.details[event["id"]]
        assert detail.typology == sim.labels[event["id"]]
        assert (detail.episode is None) == (detail.typology is None)
    by_episode = {e["id"]: e for e in sim.episodes}
    for event in sim.events:
        detail = sim.details[event["id"]]
        if detail.episode is not None:
            episode = by_episode[detail.episode]
            assert episode["typology"] == detail.typology and episode["account"] == event["account_id"]


def test_typologies_have_the_shape_their_names_promise(sim: CryptoSimulation):
    events_of: dict[str, list[dict[str, Any]]] = {}
    for event in sim.events:
        typology = sim.labels[event["id"]]
        if typology is not None:
            events_of.setdefault(typology, []).append(event)
    takeover = events_of["takeover_withdrawal"]
    assert {sim.details[e["id"]].actor for e in takeover} == {"attacker"}
    assert any(e["type"] == "settings_change" and e["setting"] == "withdrawal_account" for e in takeover)
    assert any(e["type"] == "crypto_withdrawal" for e in takeover)
    # scam victims of one ring send to shared collection addresses
    scam_destinations = Counter((e["account_id"], e["address"]) for e in events_of["investment_scam_victim"]
                                if e["type"] == "crypto_withdrawal")
    senders = Counter(address for _, address in scam_destinations)
    assert max(senders.values()) >= 2
    # casino sends are round amounts, mules receive from many addresses
    casino = [Decimal(e["amount"]) for e in events_of["online_casino"] if e["type"] == "crypto_withdrawal"]
    assert casino and all(a in {Decimal(x) * k for x in ("0.005", "0.1", "500") for k in (1, 2, 4, 10)}
                          for a in casino)
    mule_sources = {e["address"] for e in events_of["mule"] if e["type"] == "crypto_deposit"}
    assert len(mule_sources) >= 10
    # every attack episode moves crypto at least once (none is an empty label)
    moving = {sim.details[e["id"]].episode for e in sim.events if e["type"] in ("crypto_deposit", "crypto_withdrawal")}
    attack_episodes = {ep["id"] for ep in sim.episodes if ep["typology"] in ATTACK_TYPOLOGIES}
    assert attack_episodes and attack_episodes <= moving


# -- chain and risk list -----------------------------------------------------------------------------------
def _addresses(tx: dict[str, Any]) -> list[str]:
    if "inputs" in tx:
        return [leg["address"] for leg in (*tx["inputs"], *tx["outputs"])]
    return [tx["from"], tx["to"]]


def test_every_chain_address_is_valid_and_every_row_has_the_contract_shape(sim: CryptoSimulation):
    seen: set[tuple[str, str]] = set()
    for tx in sim.chain:
        assert tx["chain"] in ("bitcoin", "ethereum", "xrp") and tx["txid"] and tx["time"].endswith("Z")
        if tx["chain"] == "bitcoin":
            assert "inputs" in tx and "outputs" in tx
        else:
            assert {"from", "to", "value", "asset"} <= set(tx)
        for address in _addresses(tx):
            seen.add((tx["chain"], address))
    assert len(seen) > 100
    for chain, address in seen:
        assert normalise_address(chain, address) == address
    for event in sim.events:
        if event["type"] in ("crypto_deposit", "crypto_withdrawal"):
            assert normalise_address(event["chain"], event["address"]) == event["address"]


def test_the_chain_file_is_read_by_the_tracer_without_a_problem(sim: CryptoSimulation, tmp_path: Path):
    path = tmp_path / "chain.jsonl"
    path.write_bytes(b"".join(orjson.dumps(tx) + b"\n" for tx in sim.chain))
    items = list(read_chain_file(path))
    problems = [item for _, item in items if isinstance(item, LineProblem)]
    assert not problems and len(items) == len(sim.chain)
    for tx in sim.chain:
        values = [Decimal(leg["value"]) for leg in (*tx.get("inputs", ()), *tx.get("outputs", ()))] or \
            [Decimal(tx["value"])]
        assert all(v > 0 for v in values)
        if "inputs" in tx:   # inputs cover the outputs plus a fee
            assert sum(Decimal(i["value"]) for i in tx["inputs"]) >= sum(Decimal(o["value"]) for o in tx["outputs"])


def _forward_graph(chain: list[dict[str, Any]]) -> dict[tuple[str, str], set[tuple[str, str]]]:
    graph: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for tx in chain:
        c = tx["chain"]
        if "inputs" in tx:
            for i in tx["inputs"]:
                for o in tx["outputs"]:
                    graph.setdefault((c, i["address"]), set()).add((c, o["address"]))
        else:
            graph.setdefault((c, tx["from"]), set()).add((c, tx["to"]))
    return graph


def _reach(graph: dict[tuple[str, str], set[tuple[str, str]]], start: tuple[str, str], hops: int) -> set[tuple[str, str]]:
    seen, queue = {start}, deque([(start, 0)])
    while queue:
        node, depth = queue.popleft()
        if depth >= hops:
            continue
        for nxt in graph.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, depth + 1))
    return seen


def test_victims_funds_are_reachable_on_chain_from_their_withdrawals_to_a_cash_out(sim: CryptoSimulation):
    by_txid = {tx["txid"]: tx for tx in sim.chain}
    owners = {(chain, a): e for e in sim.entities for chain, addrs in e["addresses"].items() for a in addrs}
    graph = _forward_graph(sim.chain)
    checked = 0
    for event in sim.events:
        typology = sim.labels[event["id"]]
        if event["type"] != "crypto_withdrawal" or typology not in ("investment_scam_victim", "romance_scam_victim",
                                                                    "takeover_withdrawal", "layering"):
            continue
        tx = by_txid[event["tx_hash"]]           # the withdrawal's own transaction is on the chain
        assert event["address"] in _addresses(tx)
        reached = _reach(graph, (event["chain"], event["address"]), MAX_HOPS)
        categories = {owners[n]["category"] for n in reached if n in owners}
        assert categories & {"mixer", "exchange"}, (typology, categories)   # cashed out, several hops on
        assert len(reached) >= 3
        checked += 1
    assert checked >= 10


def test_the_risk_list_names_some_but_not_all_risky_entities(sim: CryptoSimulation):
    listed = {(r["chain"], r["address"]) for r in sim.risk_list if risk_category(r["category"]) in RISKY_CATEGORIES}
    hosted = {(r["chain"], r["address"]) for r in sim.risk_list if r["category"] == "exchange"}
    assert listed and hosted and len(listed) + len(hosted) == len(sim.risk_list)
    owners = {(chain, a): e for e in sim.entities for chain, addrs in e["addresses"].items() for a in addrs}
    assert {owners[a]["category"] for a in hosted} == {"exchange"}   # the exchanges' wallets, the firm's own
    risky = {(chain, a) for e in sim.entities if e["category"] in {c.value for c in RISKY_CATEGORIES}
             and e["category"] != "other" for chain, addrs in e["addresses"].items() for a in addrs}
    assert listed < risky                     # a strict subset: coverage is partial, like real lists
    withdrawals = {(e["chain"], e["address"]) for e in sim.events if e["type"] == "crypto_withdrawal"
                   and sim.labels[e["id"]] in ATTACK_TYPOLOGIES}
    assert withdrawals & listed and withdrawals - listed   # some attack withdrawals hit the list, some do not


def test_written_files_read_back_and_the_risk_list_is_csv(sim: CryptoSimulation, tmp_path: Path):
    small = simulate(80, 6, 2)
    small.write(tmp_path)
    back = read_simulation(tmp_path)
    assert back.events == small.events and back.labels == small.labels and back.chain == small.chain
    assert back.details == small.details
    rows = list(csv.DictReader(io.StringIO((tmp_path / "risk-list.csv").read_text())))
    assert rows and tuple(rows[0]) == CSV_COLUMNS
    assert orjson.loads((tmp_path / "labels.json").read_bytes()) == small.labels


@pytest.mark.parametrize("broken", ["episodes.json", "labels.json", "events.jsonl"])
def test_a_damaged_simulation_directory_is_reported_not_crashed(tmp_path: Path, broken: str):
    simulate(30, 3, 1).write(tmp_path)
    (tmp_path / broken).write_text("{not json")
    with pytest.raises(ValueError, match=broken.split(".")[0]):
        read_simulation(tmp_path)


@pytest.mark.parametrize(("customers", "days"), [(0, 5), (10, 0), (10, 400), (100_000, 30)])
def test_out_of_range_sizes_are_refused(customers: int, days: int):
    with pytest.raises(ValueError, match=r"customers|days"):
        simulate(customers, days, 1)
