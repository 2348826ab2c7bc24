"""mamori evaluate --domain crypto: replay through the real engine, recall and precision per typology."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import click
import orjson
import pytest
from click.testing import CliRunner

from mamori.adapters.geo import open_geo_provider
from mamori.aml.imports import parse
from mamori.aml.model import RiskCategory
from mamori.cli.sim_commands import register
from mamori.risk.rules.loader import builtin_rules_path, builtin_ruleset, load_ruleset
from mamori.risk.rules.model import Verdict
from mamori.sim.crypto import ATTACK_TYPOLOGIES, BENIGN_TYPOLOGIES, CryptoSimulation, simulate
from mamori.sim.crypto.evaluate import Outcome, evaluate, metrics
from mamori.sim.crypto.report import summary_lines
from mamori.sim.crypto.risklist import to_csv
from mamori.sim.crypto.screening_hook import _exposure_lookup
from mamori.sim.crypto.world import Label

LAST_LINE = re.compile(r"^evaluate-crypto recall=\d\.\d{4} precision=\d\.\d{4} alerts_per_1000=[\d.]+ "
                       + " ".join(rf"{t}_recall=\d\.\d{{4}}" for t in ATTACK_TYPOLOGIES) + "$")
START = "2026-05-04T00:00:00+09:00"


@pytest.fixture(scope="module")
def geo() -> Any:
    return open_geo_provider()


def cli() -> click.Group:
    @click.group()
    def main() -> None:
        pass

    register(main)
    return main


def _transfers_only(tmp_path: Path) -> Any:
    """The built-in transfer rules alone, so the hand-checked numbers do not move when other rule files
    are added to the built-in set."""
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("ruleset.yaml", "transfers.yaml"):
        shutil.copy(builtin_rules_path() / name, rules / name)
    return load_ruleset(rules)


def _withdrawal(n: int, account: str, address: str, minute: int, jpy: int) -> dict[str, Any]:
    return {"id": f"h-{n}", "type": "crypto_withdrawal", "occurred_at": f"2026-05-06T10:{minute:02d}:00+09:00",
            "account_id": account, "transfer_id": f"t-{n}", "asset": "BTC", "chain": "bitcoin",
            "address": address, "amount": "0.1", "amount_jpy": str(jpy)}


def _hand_sim() -> CryptoSimulation:
    """Three scam victims sending to one collection address (the second and third raise XFER-COLLECT-002,
    the third is held by XFER-COLLECT-001), one look-alike moving 25 million yen (held by XFER-LIMIT-001),
    and a normal customer's withdrawal."""
    collector = "bc1qhhjvsdxfaafr2qh02amsycdk6pp0j9jpd3pyec"
    events = [_withdrawal(1, "v1", collector, 1, 300_000), _withdrawal(2, "v2", collector, 5, 300_000),
              _withdrawal(3, "v3", collector, 9, 300_000),
              _withdrawal(4, "b1", "bc1q0ud64d5cgz5pgyxlh6sju50qkc7fxy4zlu2lqg", 20, 25_000_000),
              _withdrawal(5, "n1", "bc1q3g4ruz2ugytnq2u23f7gwre3n48u74nc9uxnsh", 30, 100_000)]
    details = {"h-1": Label("investment_scam_victim", "K1"), "h-2": Label("investment_scam_victim", "K2"),
               "h-3": Label("investment_scam_victim", "K3"), "h-4": Label("benign_exchange_rebalance", "K4"),
               "h-5": Label(None, None)}
    params = {"format": 1, "customers": 5, "days": 3, "seed": 0, "warmup_days": 0, "start": START}
    return CryptoSimulation(params, events, {k: v.typology for k, v in details.items()}, [], [], [], [], details)


def test_a_hand_checkable_run_through_the_real_engine(tmp_path: Path, geo: Any):
    report = evaluate(_hand_sim(), _transfers_only(tmp_path), geo=geo)
    scam = report["by_typology"]["investment_scam_victim"]
    assert (scam["episodes"], scam["flagged"], scam["recall"]) == (3, 2, 0.6667)
    assert scam["top_rules"] == {"XFER-COLLECT-002": 2, "XFER-COLLECT-001": 1}
    look = report["by_typology"]["benign_exchange_rebalance"]
    assert (look["episodes"], look["flagged"], look["false_positive_rate"]) == (1, 1, 1.0)
    assert "XFER-LIMIT-001" in look["top_rules"]
    assert report["by_typology"]["normal"] == {"episodes": 1, "flagged": 0, "flagged_events": 0, "top_rules": {},
                                               "false_positive_rate": 0.0}
    o = report["overall"]
    assert (o["attack_episodes"], o["caught"], o["recall"]) == (3, 2, 0.6667)
    assert (o["flagged_episodes"], o["precision"], o["alerts"]) == (3, 0.6667, 3)
    assert o["alerts_per_1000_customers"] == 600.0            # 3 alerts / 5 customers x 1,000
    assert o["alerts_per_1000_customers_30d"] == 6000.0       # over 3 measured days, scaled to 30
    assert report["by_typology"]["mule"] == {"episodes": 0, "flagged": 0, "flagged_events": 0, "top_rules": {},
                                             "recall": None, "time_to_detect_median_h": None}
    assert report["events"] == {"planned": 5, "processed": 5, "skipped": 0, "step_ups": 0}


def _outcome(n: int, account: str, label: Label, *, t: float, verdict: Verdict = Verdict.allow, alert: bool = False,
             kind: str = "crypto_withdrawal", rules: tuple[str, ...] = ()) -> Outcome:
    return Outcome(f"o{n}", kind, account, t, label, verdict=int(verdict), alert=alert, rules=rules)


def test_metrics_count_episodes_alerts_and_the_warm_up_by_the_definitions():
    sim = _hand_sim()
    sim.params = {**sim.params, "warmup_days": 1, "days": 4, "customers": 10}
    day0, day2 = 1777820400.0, 1777820400.0 + 2 * 86400          # 2026-05-04 00:00 JST and two days later
    mule_a, mule_b = Label("mule", "M1"), Label("mule", "M2")
    taker = Label("takeover_withdrawal", "T1", "attacker", "S1")
    outcomes = [
        _outcome(1, "m1", mule_a, t=day2, alert=True, kind="crypto_deposit", rules=("XFER-MULE-001",)),
        _outcome(2, "m1", mule_a, t=day2 + 60, alert=True, kind="crypto_deposit", rules=("XFER-MULE-001",)),
        _outcome(3, "m2", mule_b, t=day2),                                       # never flagged
        _outcome(4, "a1", taker, t=day2, verdict=Verdict.challenge, kind="login"),  # attacker cannot pass it
        _outcome(5, "n1", Label(None, None), t=day0 + 3600, verdict=Verdict.hold),  # during the warm-up: ignored
        _outcome(6, "n2", Label(None, None), t=day2, verdict=Verdict.hold, rules=("XFER-LIMIT-001",)),
        _outcome(7, "n3", Label(None, None), t=day2, verdict=Verdict.challenge, kind="login"),  # a customer's step-up
    ]
    r = metrics([(sim, outcomes)], "test@1")
    assert r["by_typology"]["mule"]["episodes"] == 2 and r["by_typology"]["mule"]["recall"] == 0.5
    assert r["by_typology"]["mule"]["flagged_events"] == 2
    assert r["by_typology"]["takeover_withdrawal"]["recall"] == 1.0
    assert r["by_typology"]["normal"]["episodes"] == 2 and r["by_typology"]["normal"]["flagged"] == 1
    o = r["overall"]
    assert (o["attack_episodes"], o["caught"], o["flagged_episodes"]) == (3, 2, 3)
    assert o["precision"] == 0.6667 and o["alerts"] == 4 and o["measured_days"] == 3
    assert o["alerts_per_1000_customers"] == 400.0
    assert r["by_rule"] == {"XFER-MULE-001": {"attack": 1, "benign": 0, "normal": 0, "precision": 1.0},
                            "XFER-LIMIT-001": {"attack": 0, "benign": 0, "normal": 1, "precision": 0.0}}
    line = summary_lines({**r, "screening": {"status": "test"}})[-1]
    assert line.startswith("evaluate-crypto recall=0.6667 precision=0.6667 alerts_per_1000=4000.0 ")
    assert "mule_recall=0.5000" in line and "takeover_withdrawal_recall=1.0000" in line
    assert LAST_LINE.match(line)


def test_the_built_in_rules_catch_the_obvious_typologies(geo: Any):
    sim = simulate(600, 21, 5)
    report = evaluate(sim, builtin_ruleset(), geo=geo)
    assert report["screening"]["entries"] == len(sim.risk_list) and report["screening"]["rejected"] == 0
    assert any(rule.startswith("AML-SCREEN") for rule in report["rules_on_flagged_events"])  # the list is used
    by = report["by_typology"]
    assert set(by) == {*ATTACK_TYPOLOGIES, *BENIGN_TYPOLOGIES, "normal"}
    for typology in ATTACK_TYPOLOGIES:
        assert by[typology]["episodes"] >= 1 and set(by[typology]) >= {"recall", "flagged", "top_rules"}
    for typology in BENIGN_TYPOLOGIES:
        assert by[typology]["episodes"] >= 1 and "false_positive_rate" in by[typology]
    assert by["takeover_withdrawal"]["recall"] and by["takeover_withdrawal"]["recall"] >= 0.5
    assert by["mule"]["recall"] and by["mule"]["recall"] > 0
    assert by["investment_scam_victim"]["recall"] and by["investment_scam_victim"]["recall"] > 0
    o = report["overall"]
    assert 0 < o["recall"] <= 1 and 0 < o["precision"] <= 1
    assert o["caught"] == sum(by[t]["flagged"] for t in ATTACK_TYPOLOGIES)
    assert report["events"]["processed"] > 10_000


def test_simulate_then_evaluate_through_the_commands(tmp_path: Path):
    out = tmp_path / "sim"
    runner = CliRunner()
    result = runner.invoke(cli(), ["simulate", "--domain", "crypto", "--out", str(out), "--customers", "150",
                                   "--days", "8", "--seed", "4"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("simulate-crypto events=") and "takeover_withdrawal=1" in result.output
    assert {"events.jsonl", "labels.json", "chain.jsonl", "risk-list.csv", "episodes.json"} <= \
        {p.name for p in out.iterdir()}

    result = runner.invoke(cli(), ["evaluate", "--domain", "crypto", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert LAST_LINE.match(lines[-1]), lines[-1]
    report = orjson.loads((out / "report-crypto.json").read_bytes())
    o = report["overall"]
    assert lines[-1].startswith(f"evaluate-crypto recall={o['recall'] or 0:.4f} precision={o['precision'] or 0:.4f} ")
    assert any(line.startswith("online_casino") for line in lines)


def test_the_commands_refuse_what_they_cannot_do(tmp_path: Path):
    runner = CliRunner()
    securities = tmp_path / "sec"
    assert runner.invoke(cli(), ["simulate", "--out", str(securities), "--customers", "20", "--days", "2",
                                 "--campaigns", "1"]).exit_code == 0
    assert (securities / "campaigns.json").exists()      # the default domain is still securities
    result = runner.invoke(cli(), ["evaluate", "--domain", "crypto", str(securities)])
    assert result.exit_code != 0 and "not a crypto simulation directory" in result.output
    result = runner.invoke(cli(), ["evaluate", "--domain", "crypto", "--seeds", "1,2", str(securities)])
    assert result.exit_code != 0 and "--seeds simulates in-process" in result.output
    result = runner.invoke(cli(), ["simulate", "--domain", "crypto", "--out", str(tmp_path / "x"), "--days", "500"])
    assert result.exit_code != 0 and "days must be between 1 and 366" in result.output


def test_exposure_from_the_simulated_chain_reaches_a_listed_casino_through_its_sweep(tmp_path: Path):
    sim = simulate(300, 14, 9)
    owners = {(chain, a): (e["name"], e["category"]) for e in sim.entities for chain, addrs in e["addresses"].items()
              for a in addrs}
    listed = {(r["chain"], r["address"]) for r in sim.risk_list}
    player_deposits = [k for k, (name, _) in owners.items() if name == "casino-2" and k not in listed
                       and any(tx.get("to") == k[1] or any(o["address"] == k[1] for o in tx.get("outputs", ()))
                               for tx in sim.chain)]
    assert player_deposits, "no casino-2 player deposit address was used in this simulation"
    entries, _ = parse(to_csv(sim.risk_list).encode(), "csv", source="test")
    lookup = _exposure_lookup(sim, entries, 3)
    for chain, address in player_deposits:
        assert lookup.exposure(chain, address) == (RiskCategory.online_casino, 1)
    normal_own = [k for k, (_, category) in owners.items() if category == "self_custody"][:20]
    assert normal_own and all(lookup.exposure(c, a) is None for c, a in normal_own)


def test_evaluate_with_exposure_through_the_command(tmp_path: Path):
    runner = CliRunner()
    result = runner.invoke(cli(), ["evaluate", "--domain", "crypto", "--customers", "120", "--days", "6",
                                   "--exposure", "--out", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = orjson.loads((tmp_path / "report-crypto.json").read_bytes())
    assert report["screening"]["exposure"] is True and "exposure" in report["screening"]["status"]
    assert LAST_LINE.match(result.output.strip().splitlines()[-1])
    result = runner.invoke(cli(), ["evaluate", "--exposure", "--customers", "10", "--days", "2"])
    assert result.exit_code != 0 and "--exposure is for --domain crypto" in result.output


@pytest.mark.parametrize(("field", "value"), [("occurred_at", "yesterday"), ("account_id", "no spaces allowed")])
def test_an_event_that_breaks_the_contract_is_named_not_a_traceback(tmp_path: Path, field: str, value: str):
    simulate(30, 3, 2).write(tmp_path)
    lines = (tmp_path / "events.jsonl").read_bytes().splitlines()
    event = orjson.loads(lines[5])
    event[field] = value
    lines[5] = orjson.dumps(event)
    (tmp_path / "events.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    result = CliRunner().invoke(cli(), ["evaluate", "--domain", "crypto", str(tmp_path)])
    assert result.exit_code == 1 and f"event {event['id']!r}: invalid event: {field}" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_several_seeds_are_pooled(tmp_path: Path, geo: Any):
    sims = [simulate(80, 6, s) for s in (1, 2)]
    one = [evaluate(sim, builtin_ruleset(), geo=geo) for sim in sims]
    both = evaluate(sims, builtin_ruleset(), geo=geo)
    assert both["seeds"] == [1, 2]
    for typology in (*ATTACK_TYPOLOGIES, *BENIGN_TYPOLOGIES, "normal"):
        for key in ("episodes", "flagged", "flagged_events"):
            assert both["by_typology"][typology][key] == sum(r["by_typology"][typology][key] for r in one)
    assert both["overall"]["alerts"] == sum(r["overall"]["alerts"] for r in one)
    assert both["overall"]["alerts_per_1000_customers_30d"] == round(
        both["overall"]["alerts"] / (160 * 3) * 1000 * 30, 2)
    result = CliRunner().invoke(cli(), ["evaluate", "--domain", "crypto", "--seeds", "1,2", "--customers", "80",
                                        "--days", "6", "--out", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = orjson.loads((tmp_path / "report-crypto.json").read_bytes())
    assert report["seeds"] == [1, 2] and report["overall"] == both["overall"]
