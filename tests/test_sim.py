"""The attack simulator (mamori simulate) and the closed-loop evaluation (mamori evaluate)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
import orjson
import pytest
from click.testing import CliRunner

from mamori.adapters.geo import open_geo_provider
from mamori.cli.sim_commands import register
from mamori.events.parse import parse_event
from mamori.risk.rules.loader import builtin_ruleset, load_ruleset
from mamori.sim import SimParams, Simulation, read_simulation, simulate, write_simulation
from mamori.sim.evaluate import collect, evaluate, metrics, rescore_sweep, run_closed_loop, summary_lines
from mamori.sim.population import CARRIERS, HOME_ISPS, HOSTING, JST, PRIVATE_RELAY_JP, VPN_JP, host_in
from mamori.sim.scenarios import ATTACK_SCENARIOS, LOOKALIKE_SHARES, Label, allocate

SMALL = SimParams(customers=90, days=5, seed=11, campaigns=10)
LAST_LINE = re.compile(r"^evaluate takeover_recall=\d\.\d{4} stopped_before_first_order=\d\.\d{4} "
                       r"legit_challenge_rate=\d\.\d{4} yen_prevented_ratio=\d\.\d{4}$")


@pytest.fixture(scope="module")
def small() -> Simulation:
    return simulate(SMALL)


@pytest.fixture(scope="module")
def geo():
    return open_geo_provider()


def cli() -> click.Group:
    group = click.Group("mamori")
    register(group)
    return group


# -- the simulator ------------------------------------------------------------------------------------
def test_given_the_same_seed_when_simulated_twice_then_the_files_are_byte_identical(tmp_path: Path, small):
    write_simulation(small, tmp_path / "a")
    write_simulation(simulate(SMALL), tmp_path / "b")
    for name in ("events.jsonl", "labels.jsonl", "campaigns.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    other = simulate(SimParams(customers=90, days=5, seed=12, campaigns=10))
    strip = [{k: v for k, v in e.items() if k != "id"} for e in small.events]
    assert [{k: v for k, v in e.items() if k != "id"} for e in other.events] != strip


def test_given_a_simulation_when_written_and_read_back_then_nothing_is_lost(tmp_path: Path, small):
    write_simulation(small, tmp_path)
    back = read_simulation(tmp_path)
    assert back.events == small.events
    assert back.labels == small.labels
    assert back.campaigns == small.campaigns and back.params == small.params


def test_every_generated_event_validates_against_the_contract_and_is_time_ordered(small):
    times = []
    for event in small.events:
        parsed = parse_event(event)  # raises on any extra or malformed field
        times.append(parsed.occurred_at)
    assert times == sorted(times)
    assert len({e["id"] for e in small.events}) == len(small.events)
    types = Counter(e["type"] for e in small.events)
    assert {"login", "order", "execution", "holdings_snapshot", "logout", "settings_change",
            "fiat_withdrawal"} <= set(types)
    snapshot = next(e for e in small.events if e["type"] == "holdings_snapshot")
    assert all("market_value_jpy" in p for p in snapshot["positions"])


def test_labels_cover_every_event_and_attack_labels_match_the_campaigns(small):
    assert set(small.labels) == {e["id"] for e in small.events}
    campaigns = {c["id"]: c for c in small.campaigns}
    lookalikes = {x["id"] for x in small.lookalikes}
    per_campaign: dict[str, set[str]] = {}
    for event in small.events:
        label = small.labels[event["id"]]
        if label.is_attack:
            assert label.campaign_id in campaigns
            assert label.scenario == campaigns[label.campaign_id]["scenario"]
            assert label.actor == "attacker"
            per_campaign.setdefault(label.campaign_id, set()).add(event["account_id"])
        else:
            assert label.campaign_id is None or label.campaign_id in lookalikes
            assert label.actor in ("customer", "firm")
        for required in label.requires:
            assert required in small.labels
    assert set(per_campaign) == set(campaigns)  # every campaign has events
    for cid, c in campaigns.items():
        assert set(c["takeovers"]) <= set(c["accounts"]) <= per_campaign[cid] | set(c["accounts"])
        assert set(c["accounts"]) <= per_campaign[cid]
        assert c["events"] == sum(1 for lab in small.labels.values() if lab.campaign_id == cid)


def test_attacks_and_lookalikes_are_present_in_the_expected_proportions(small):
    assert allocate(40, ATTACK_SCENARIOS) == {"phishing_takeover": 16, "credential_stuffing": 6,
                                              "coordinated_pump": 8, "takeover_withdrawal": 10}
    assert sum(allocate(7, ATTACK_SCENARIOS).values()) == 7
    got = Counter(c["scenario"] for c in small.campaigns)
    assert got == Counter(allocate(SMALL.campaigns, ATTACK_SCENARIOS))
    pumps = [c for c in small.campaigns if c["scenario"] == "coordinated_pump"]
    assert all(3 <= len(c["accounts"]) <= 8 for c in pumps)
    stuffing = [c for c in small.campaigns if c["scenario"] == "credential_stuffing"]
    for c in stuffing:
        logins = [e for e in small.events if small.labels[e["id"]].campaign_id == c["id"] and e["type"] == "login"]
        failures = sum(e["result"] == "failure" for e in logins)
        assert failures / len(logins) > 0.8 and 1 <= len(logins) - failures <= 0.2 * len(logins)
    looks = Counter(x["scenario"] for x in small.lookalikes)
    assert set(looks) == set(LOOKALIKE_SHARES)
    attack_share = sum(lab.is_attack for lab in small.labels.values()) / len(small.labels)
    assert 0.001 < attack_share < 0.25
    start = datetime.fromisoformat(small.params["start"])
    for c in small.campaigns:  # attacks only after the warm-up days
        assert datetime.fromisoformat(c["start"]) >= start + timedelta(days=small.params["warmup_days"])


def test_phishing_takeovers_relay_password_and_code_then_sell_out_and_buy_one_thin_symbol(small, geo):
    phish = [c for c in small.campaigns if c["scenario"] == "phishing_takeover"]
    assert phish
    for c in phish:
        events = [e for e in small.events if small.labels[e["id"]].campaign_id == c["id"]]
        logins = [e for e in events if e["type"] == "login"]
        assert logins[0]["method"] == "password" and all(e["result"] == "success" for e in logins)
        assert geo.lookup(logins[0]["ip"]).country is not None
        sells = [e for e in events if e["type"] == "order" and e["side"] == "sell"]
        buys = [e for e in events if e["type"] == "order" and e["side"] == "buy"]
        assert sells and buys and {b["symbol"] for b in buys} == {c["thin_symbol"]}
        assert min(b["occurred_at"] for b in buys) > max(s["occurred_at"] for s in sells)


def test_the_simulated_networks_are_classed_by_the_shipped_ip_data_as_the_scenarios_intend(geo):
    import random

    rng = random.Random(3)
    for prefixes in HOME_ISPS.values():
        for p in prefixes:
            info = geo.lookup(host_in(rng, p))
            assert (info.country, info.ip_class) == ("JP", "residential"), p
    for p in CARRIERS["docomo"] + CARRIERS["rakuten"]:
        assert geo.lookup(host_in(rng, p)).ip_class == "mobile", p
    for prefixes in HOSTING.values():
        for p in prefixes:
            assert geo.lookup(host_in(rng, p)).ip_class == "hosting", p
    for p in VPN_JP:
        assert geo.lookup(host_in(rng, p)).ip_class == "vpn", p
    for ip in PRIVATE_RELAY_JP:
        assert (geo.lookup(ip).country, geo.lookup(ip).ip_class) == ("JP", "hosting"), ip


# -- the closed loop on a hand-made scenario ------------------------------------------------------------
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=JST)


class Hand:
    """A tiny hand-written plan."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.labels: dict[str, Label] = {}

    def add(self, minutes: float, kind: str, account: str, label: Label, **fields: Any) -> str:
        eid = f"h{len(self.events) + 1}"
        at = (T0 + timedelta(minutes=minutes)).isoformat()
        self.events.append({"id": eid, "type": kind, "occurred_at": at, "account_id": account, **fields})
        self.labels[eid] = label
        return eid

    def sim(self, campaigns: list[dict[str, Any]]) -> Simulation:
        self.events.sort(key=lambda e: e["occurred_at"])
        return Simulation({"seed": 0}, self.events, self.labels, campaigns, [])


HOME = {"ip": "153.156.10.20", "device_id": "a1-pc", "user_agent": "Mozilla/5.0 Chrome/132.0", "channel": "web"}
BOOKS = Label("books", False, "firm", "books")


def customer_history(h: Hand, account: str = "a1") -> None:
    """Holdings and three passkey logins from the customer's own PC at home."""
    h.add(-60, "holdings_snapshot", account, BOOKS,
          positions=[{"symbol": "7203", "quantity": "100", "market_value_jpy": "280000"}])
    for i, minutes in enumerate((0, 11 * 60, 24 * 60)):
        sess = f"{account}-s{i}"
        h.add(minutes, "login", account, Label("normal", False, "customer", "login", session=sess),
              result="success", method="passkey", session_id=sess, **HOME)


def phishing_takeover(h: Hand) -> list[dict[str, Any]]:
    """Day 2, 10:00: password + SMS code relayed from AWS Tokyo, sell the holding, buy a thin symbol."""
    label = Label("phishing_takeover", True, "attacker", "login", "C0001", "atk-s")
    client = {"ip": "3.112.5.5", "device_id": "atk-dev-1", "user_agent": "Mozilla/5.0 Chrome/131.0",
              "session_id": "atk-s", "channel": "web"}
    start = 25 * 60
    h.add(start, "login", "a1", label, result="success", method="password", **client)
    h.add(start + 0.4, "login", "a1", label, result="success", method="sms_otp", **client)
    order = Label("phishing_takeover", True, "attacker", "order", "C0001", "atk-s")
    sell = h.add(start + 2, "order", "a1", order, order_id="o1", side="sell", symbol="7203", market="TSE",
                 quantity="100", order_type="market", reference_price="2800", **client)
    h.add(start + 2.1, "execution", "a1", Label("phishing_takeover", True, "attacker", "fill", "C0001", None, (sell,)),
          execution_id="x1", order_id="o1", side="sell", symbol="7203", market="TSE", quantity="100", price="2800")
    buy = h.add(start + 7, "order", "a1", order, order_id="o2", side="buy", symbol="3777", market="TSE",
                quantity="1000", price="450", order_type="limit", **client)
    h.add(start + 7.1, "execution", "a1", Label("phishing_takeover", True, "attacker", "fill", "C0001", None, (buy,)),
          execution_id="x2", order_id="o2", side="buy", symbol="3777", market="TSE", quantity="1000", price="450")
    return [{"id": "C0001", "scenario": "phishing_takeover", "variant": "hosting", "accounts": ["a1"],
             "takeovers": ["a1"]}]


@pytest.fixture
def allow_all(tmp_path: Path) -> Path:
    rules = tmp_path / "allow-all"
    rules.mkdir()
    (rules / "ruleset.yaml").write_text("ruleset:\n  name: allow-all\n  version: 1\n")
    return rules


def test_given_one_takeover_challenged_at_login_then_everything_is_counted_as_stopped(geo, allow_all: Path):
    h = Hand()
    customer_history(h)
    sim = h.sim(phishing_takeover(h))

    records = run_closed_loop(sim, builtin_ruleset(), geo)
    by_id = {r.event_id: r for r in records}
    assert by_id["h5"].verdict == 1 and {"LOGIN-WEAKNEW-001", "LOGIN-ANON-001"} <= set(by_id["h5"].rules)
    inserted = [r for r in records if r.synthetic]
    assert [(r.event_id, r.label.is_attack) for r in inserted] == [("h5-passkey-fail", True)]
    assert all(not r.processed for r in records if r.label.is_attack and r.event_id not in ("h5", "h5-passkey-fail"))
    m = metrics(collect(sim, records))["overall"]
    assert m["takeover_recall"] == 1.0
    assert m["stopped_before_first_order"] == 1.0
    assert m["yen_prevented"] == 100 * 2800 + 1000 * 450 and m["yen_executed"] == 0
    assert m["yen_prevented_ratio"] == 1.0
    assert m["time_to_detect"]["median_s"] == 0.0
    assert m["legit_signins"] == 3 and m["legit_challenge_rate"] == 0.0
    assert m["alert_precision"] == 1.0  # the challenged login and the failed passkey attempt: both attack

    records = run_closed_loop(sim, load_ruleset(allow_all), geo)
    assert all(r.processed and r.verdict == 0 for r in records)
    m = metrics(collect(sim, records))["overall"]
    assert m["takeover_recall"] == 0.0
    assert m["stopped_before_first_order"] == 0.0
    assert m["yen_prevented"] == 0 and m["yen_executed"] == 730_000 and m["yen_prevented_ratio"] == 0.0
    assert m["alert_precision"] is None and m["legit_challenge_rate"] == 0.0


def test_given_a_customer_on_a_new_phone_when_challenged_then_the_passkey_step_up_lets_the_session_go_on(geo):
    h = Hand()
    customer_history(h)
    sess = "a1-new"
    phone = {"ip": "1.72.3.4", "device_id": "a1-newphone", "user_agent": "BrokerApp/6.2", "session_id": sess,
             "channel": "app"}
    label = Label("new_phone", False, "customer", "login", "L0001", sess)
    h.add(26 * 60, "login", "a1", label, result="success", method="password", **phone)
    h.add(26 * 60 + 0.3, "login", "a1", label, result="success", method="sms_otp", **phone)
    order = Label("new_phone", False, "customer", "order", "L0001", sess)
    small_buy = h.add(26 * 60 + 3, "order", "a1", order, order_id="o1", side="buy", symbol="7203", market="TSE",
                      quantity="100", price="2790", order_type="limit", **phone)
    h.add(26 * 60 + 3.2, "execution", "a1", Label("new_phone", False, "customer", "fill", "L0001", None, (small_buy,)),
          execution_id="x1", order_id="o1", side="buy", symbol="7203", market="TSE", quantity="100", price="2790")
    huge = h.add(26 * 60 + 5, "order", "a1", order, order_id="o2", side="buy", symbol="7203", market="TSE",
                 quantity="50000", price="2790", order_type="limit", **phone)
    h.add(26 * 60 + 5.2, "execution", "a1", Label("new_phone", False, "customer", "fill", "L0001", None, (huge,)),
          execution_id="x2", order_id="o2", side="buy", symbol="7203", market="TSE", quantity="50000", price="2790")
    sim = h.sim([])
    records = {r.event_id: r for r in run_closed_loop(sim, builtin_ruleset(), geo)}
    first = records["h5"]
    assert first.verdict == 1 and "LOGIN-WEAKNEW-001" in first.rules  # password from a new device
    step = records["h5-stepup"]
    assert step.synthetic and step.processed  # the customer passed the passkey
    assert records["h6"].skipped == "replaced by the passkey step-up"
    assert records["h7"].effective and records["h8"].processed  # the small order filled
    assert records["h9"].verdict == 3 and "TRADE-LIMIT-001" in records["h9"].rules  # 139.5m yen: refused (limit)
    assert not records["h10"].processed  # so no fill follows it
    m = metrics(collect(sim, list(records.values())))["overall"]
    assert m["legit_signins"] == 4 and m["legit_signins_challenged"] == 1 and m["stepups"] == 1


def test_rescoring_at_the_configured_threshold_reproduces_the_run_and_is_monotone(small, geo):
    ruleset = builtin_ruleset()
    facts = collect(small, run_closed_loop(small, ruleset, geo))
    overall = metrics(facts)["overall"]
    points = {p["threshold"]: p for p in rescore_sweep(facts, ruleset, [10, 40, 80, 200])}
    assert points[40]["takeover_recall"] == overall["takeover_recall"]
    assert points[40]["legit_challenge_rate"] == overall["legit_challenge_rate"]
    rates = [points[t]["legit_challenge_rate"] for t in (10, 40, 80, 200)]
    assert rates == sorted(rates, reverse=True)
    recalls = [points[t]["takeover_recall"] for t in (10, 40, 80, 200)]
    assert recalls == sorted(recalls, reverse=True)


def test_evaluate_over_several_simulations_pools_them(geo):
    sims = [simulate(SimParams(customers=40, days=3, seed=s, campaigns=4)) for s in (1, 2)]
    report = evaluate(sims, builtin_ruleset(), geo=geo)
    assert [p["seed"] for p in report["per_seed"]] == [1, 2]
    assert report["overall"]["campaigns"] == sum(p["campaigns"] for p in report["per_seed"]) == 8
    assert LAST_LINE.match(summary_lines(report)[-1])


# -- the commands ---------------------------------------------------------------------------------------
def test_simulate_then_evaluate_through_the_commands(tmp_path: Path):
    out = tmp_path / "sim"
    runner = CliRunner()
    result = runner.invoke(cli(), ["simulate", "--out", str(out), "--customers", "60", "--days", "4", "--seed", "3",
                                   "--campaigns", "6"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("simulate events=") and "campaigns=6" in result.output
    assert {p.name for p in out.iterdir()} == {"events.jsonl", "labels.jsonl", "campaigns.json"}

    result = runner.invoke(cli(), ["evaluate", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert LAST_LINE.match(lines[-1]), lines[-1]
    report = orjson.loads((out / "report.json").read_bytes())
    o = report["overall"]
    assert lines[-1] == (f"evaluate takeover_recall={o['takeover_recall']:.4f} "
                         f"stopped_before_first_order={o['stopped_before_first_order']:.4f} "
                         f"legit_challenge_rate={o['legit_challenge_rate']:.4f} "
                         f"yen_prevented_ratio={o['yen_prevented_ratio']:.4f}")
    assert set(report["by_scenario"]) <= set(ATTACK_SCENARIOS)
    assert len(report["tradeoff"]["points"]) >= 10
    root = ET.fromstring((out / "tradeoff.svg").read_text())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("{http://www.w3.org/2000/svg}polyline") is not None
    page = (out / "tradeoff.html").read_text()
    assert page.startswith("<!doctype html>") and "<polyline" in page
    assert page.count("<tr><td>") == len(report["tradeoff"]["points"])


def test_evaluate_in_process_with_seeds_and_a_rule_set_dir(tmp_path: Path, allow_all: Path):
    runner = CliRunner()
    result = runner.invoke(cli(), ["evaluate", "--seeds", "1,2", "--customers", "40", "--days", "3",
                                   "--campaigns", "4", "--rules", str(allow_all), "--out", str(tmp_path / "r"),
                                   "--sweep", "exact"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last == ("evaluate takeover_recall=0.0000 stopped_before_first_order=0.0000 "
                    "legit_challenge_rate=0.0000 yen_prevented_ratio=0.0000")
    report = orjson.loads((tmp_path / "r" / "report.json").read_bytes())
    assert report["seeds"] == [1, 2] and report["ruleset"].startswith("allow-all@")
    assert "exact" in report["tradeoff"]
    ET.fromstring((tmp_path / "r" / "tradeoff.svg").read_text())


def test_evaluate_refuses_seeds_together_with_a_simulation_dir(tmp_path: Path):
    result = CliRunner().invoke(cli(), ["evaluate", str(tmp_path), "--seeds", "1,2"])
    assert result.exit_code == 2 and "--seeds" in result.output
    result = CliRunner().invoke(cli(), ["evaluate", "--seeds", "one"])
    assert result.exit_code == 2
