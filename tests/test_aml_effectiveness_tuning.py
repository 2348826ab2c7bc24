"""AML effectiveness: threshold sweeps, above/below-the-line samples and backtests on hand-made events
run through the real engine into a store; the reduced scenario engine agrees with the full one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from mamori.adapters.sql.store import SqlStore
from mamori.aml.effectiveness import history
from mamori.aml.effectiveness.history import run
from mamori.aml.effectiveness.period import Period
from mamori.aml.effectiveness.runner import RunSpec, Truth, Variant, parse_threshold_value
from mamori.aml.effectiveness.sources import LocalScenario
from mamori.aml.effectiveness.tuning import backtest, simulation_truth, sweep
from mamori.events.parse import parse_event
from mamori.kit.errors import InvalidRequest
from mamori.risk.engine import Engine
from mamori.risk.rules.loader import ruleset_from_sources
from mamori.risk.rules.model import Ruleset
from mamori.risk.service import to_record

START = datetime(2026, 5, 4, 1, 0, tzinfo=UTC)
RULES = {
    "ruleset.yaml": "ruleset: {name: sweep-test, version: 1, thresholds: {challenge: 40, hold: 70, block: 100}}\n"
                    "lists:\n  big_jpy: 1000000\n  rapid_s: 3600\n",
    "rules.yaml": """
features:
  acct_wd_24h: {aggregate: sum, field: notional_jpy, events: [crypto_withdrawal], by: account, window: 24h}
rules:
  - id: T-BIG
    description: Withdrawals in 24 h at or above the line
    events: [crypto_withdrawal]
    when: acct_wd_24h >= big_jpy
    score: 50
  - id: T-RAPID
    description: Withdrawal soon after a fiat deposit
    events: [crypto_withdrawal]
    when: secs_since_fiat_deposit is not None and secs_since_fiat_deposit <= rapid_s
    score: 10
""",
}
BIG = LocalScenario("S-BIG", "高額", "Big", ("T-BIG",), typologies=("mule",), thresholds=("big_jpy",))
RAPID = LocalScenario("S-RAPID", "急速", "Rapid", ("T-RAPID",), thresholds=("rapid_s",))
# account -> (withdrawal in yen, label)
ACCOUNTS = {"acct-a": (500_000, None), "acct-b": (800_000, "mule"), "acct-c": (1_000_000, "benign_payday_buyer"),
            "acct-d": (1_500_000, "mule"), "acct-e": (3_000_000, "mule")}


def _events() -> tuple[list[dict[str, Any]], dict[str, str | None]]:
    events: list[dict[str, Any]] = []
    labels: dict[str, str | None] = {}
    for i, (account, (yen, label)) in enumerate(sorted(ACCOUNTS.items())):
        at = START + timedelta(hours=i)
        events.append({"id": f"login-{account}", "type": "login", "occurred_at": at.isoformat(),
                       "account_id": account, "result": "success", "method": "passkey", "ip": "203.0.113.9",
                       "device_id": f"dev-{account}", "user_agent": "Mozilla/5.0"})
        events.append({"id": f"dep-{account}", "type": "fiat_deposit", "account_id": account,
                       "occurred_at": (at + timedelta(minutes=5)).isoformat(), "transfer_id": f"d-{account}",
                       "amount": str(yen)})
        wd_at = at + timedelta(minutes=20 + 30 * i)  # 20, 50, 80, 110, 140 minutes after the deposit - 5
        events.append({"id": f"wd-{account}", "type": "crypto_withdrawal", "account_id": account,
                       "occurred_at": wd_at.isoformat(), "transfer_id": f"w-{account}", "asset": "BTC",
                       "chain": "bitcoin", "address": f"bc1q{account[-1] * 20}", "amount": "0.1",
                       "amount_jpy": str(yen)})
        labels[f"wd-{account}"] = label
    return events, labels


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Ruleset, dict[str, str | None], Engine]:
    """The hand-made events run through the real engine and stored with their decisions."""
    path = tmp_path_factory.mktemp("sweep") / "mamori.db"
    url = f"sqlite:///{path}"
    ruleset = ruleset_from_sources(RULES)
    engine = Engine(ruleset, geo=None)
    events, labels = _events()
    store = SqlStore(url)
    records = []
    for raw in events:
        event = parse_event(raw)
        decision = engine.process(event)
        records.append(to_record(event, decision, orjson.dumps(decision.to_dict()), 0))
    store.write_accepted(records)
    store.close()
    return url, ruleset, labels, engine


PERIOD = Period(int(START.timestamp() * 1e6), int((START + timedelta(days=2)).timestamp() * 1e6))


@pytest.mark.parametrize("workers", [1, 2])
def test_sweep_counts_alerts_tp_fp_precision_recall_per_value(world: Any, workers: int,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    url, ruleset, labels, _ = world
    monkeypatch.setattr(history, "MIN_EVENTS_PER_PROCESS", 1)  # split even these few events by account
    result = sweep(url, PERIOD, BIG, ruleset, threshold="big_jpy", values=[700_000, 2_000_000],
                   truth=simulation_truth(labels, BIG), labels_name="simulation", workers=workers, geo=None)
    rows = {r["value"]: r for r in result.rows}
    assert list(rows) == [700_000, 1_000_000, 2_000_000] and rows[1_000_000]["current"]
    assert [(r["alerts"], r["true_positive"], r["false_positive"]) for r in result.rows] == [(4, 3, 1), (3, 2, 1),
                                                                                           (1, 1, 0)]
    assert [r["precision"] for r in result.rows] == [0.75, 0.6667, 1.0]
    assert [r["recall"] for r in result.rows] == [1.0, 0.6667, 0.3333]
    # Below the line: flagged at 700,000 but not at the current 1,000,000; above: flagged now, not at 2,000,000.
    assert result.below_the_line is not None and result.above_the_line is not None
    assert result.below_the_line["value"] == 700_000
    assert [e["event_id"] for e in result.below_the_line["events"]] == ["wd-acct-b"]
    assert result.below_the_line["events"][0]["values"]["acct_wd_24h"] == "800000"
    assert sorted(e["event_id"] for e in result.above_the_line["events"]) == ["wd-acct-c", "wd-acct-d"]
    assert result.run["processes"] == workers and result.run["events_read"] == 15


def test_samples_are_deterministic_and_bounded(world: Any) -> None:
    url, ruleset, _, _ = world
    first = sweep(url, PERIOD, BIG, ruleset, threshold="big_jpy", values=[100_000], workers=1, geo=None,
                  sample_size=2)
    again = sweep(url, PERIOD, BIG, ruleset, threshold="big_jpy", values=[100_000], workers=1, geo=None,
                  sample_size=2)
    assert first.below_the_line is not None and len(first.below_the_line["events"]) == 2  # 2 of the 2 below
    assert first.to_dict()["below_the_line"] == again.to_dict()["below_the_line"]
    assert first.rows[0]["unreviewed"] == 5 and first.rows[0]["precision"] is None  # no labels given


def test_backtest_of_a_candidate_threshold(world: Any) -> None:
    url, ruleset, labels, _ = world
    out = backtest(url, PERIOD, BIG, ruleset, candidate={"big_jpy": 700_000}, truth=simulation_truth(labels, BIG),
                   workers=1, geo=None)
    assert out["current"]["alerts"] == 3 and out["candidate"]["alerts"] == 4
    assert out["current"]["value"] == {"big_jpy": 1_000_000} and out["candidate"]["value"] == {"big_jpy": 700_000}
    assert [e["event_id"] for e in out["added_by_candidate"]] == ["wd-acct-b"] and out["removed_by_candidate"] == []
    assert out["candidate"]["recall"] == 1.0


def test_reduced_engine_agrees_with_the_full_engine_and_pulls_in_plugins_it_needs(world: Any) -> None:
    # T-RAPID reads since_last, whose state update on logins reads first_seen's new_device: the runner
    # must discover that and restart with first_seen, and still agree with the engine's decisions.
    url, ruleset, _, _ = world
    store = SqlStore(url)
    expected = sum(1 for d in store.query_decisions(limit=100) if any(r["id"] == "T-RAPID" for r in d["rules"]))
    store.close()
    result = sweep(url, PERIOD, RAPID, ruleset, threshold="rapid_s", values=[1800, 7200], workers=1, geo=None)
    rows = {r["value"]: r["alerts"] for r in result.rows}
    assert rows[3600] == expected == 2  # 15 and 45 minutes after the deposit
    assert rows[1800] == 1 and rows[7200] == 4
    assert "first_seen" in result.run["plugins"] and "since_last" in result.run["plugins"]


def test_variants_whose_features_differ_run_as_separate_groups(world: Any) -> None:
    url, ruleset, _, _ = world
    sources = dict(ruleset.sources)
    sources["rules.yaml"] = sources["rules.yaml"].replace(
        "by: account, window: 24h}", "by: account, window: 24h, where: 'notional_jpy >= floor_jpy'}")
    sources["ruleset.yaml"] += "  floor_jpy: 0\n"
    spec = RunSpec(tuple(sources.items()), ("T-BIG",),
                   (Variant("a"), Variant("b", (("floor_jpy", 2_000_000),)), Variant("c", (("big_jpy", 1),))))
    result = run(spec, url, PERIOD, workers=1)
    assert result.groups == 2
    store = SqlStore(url)
    assert history.account_ranges(store.engine, PERIOD.end_us, 2) == [(None, "acct-d"), ("acct-d", None)]
    store.close()
    assert result.tally.flagged == [3, 1, 5] and result.tally.events == 15


def test_bad_requests_are_clear_errors(world: Any) -> None:
    url, ruleset, _, _ = world
    with pytest.raises(InvalidRequest, match="not a threshold of scenario S-BIG"):
        sweep(url, PERIOD, BIG, ruleset, threshold="rapid_s", values=[1], workers=1, geo=None)
    with pytest.raises(InvalidRequest, match="at most 25"):
        sweep(url, PERIOD, BIG, ruleset, threshold="big_jpy", values=list(range(1, 40)), workers=1, geo=None)
    with pytest.raises(InvalidRequest, match="none of the rules of scenario S-X"):
        sweep(url, PERIOD, LocalScenario("S-X", "x", "x", ("NOPE",), thresholds=("big_jpy",)), ruleset,
              threshold="big_jpy", values=[1], workers=1, geo=None)
    with pytest.raises(InvalidRequest, match="give at least one"):
        backtest(url, PERIOD, BIG, ruleset, candidate={}, workers=1, geo=None)
    for text in ("abc", "nan", "inf"):
        with pytest.raises(InvalidRequest):
            parse_threshold_value(text)
    assert parse_threshold_value("8") == 8 and parse_threshold_value("0.5") == 0.5


def test_truth_judges_complete_and_partial_labels() -> None:
    sim = Truth({"e1": "mule", "e2": "benign_own_wallet"}, complete=True)
    assert sim.judge("e1") == (True, "mule") and sim.judge("e2") == (False, "benign_own_wallet")
    assert sim.judge("e3") == (False, None)
    cases = Truth({"e1": "fraud", "e2": None}, complete=False)
    assert cases.judge("e2") == (False, None) and cases.judge("e3") == (None, None)


def test_invalid_stored_payloads_are_counted_not_fatal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    store = SqlStore(url)
    from sqlalchemy import insert

    from mamori.adapters.sql.schema import events
    with store.engine.begin() as conn:
        conn.execute(insert(events).values(event_id="x", event_type="crypto_withdrawal", account_id="a",
                                           occurred_at_us=PERIOD.start_us + 1, received_at_us=0, payload="{nope"))
    store.close()
    ruleset = ruleset_from_sources(RULES)
    result = sweep(url, PERIOD, BIG, ruleset, threshold="big_jpy", values=[1], workers=1, geo=None)
    assert result.run["invalid_events"] == 1 and result.rows[0]["alerts"] == 0


def test_rerun_scenarios_screen_addresses_against_the_stores_risk_lists(tmp_path: Path) -> None:
    from mamori.aml.addresses import synthetic_address
    from mamori.aml.screening_service import ScreeningService

    listed, clean = synthetic_address("bitcoin", b"listed"), synthetic_address("bitcoin", b"clean")
    url = f"sqlite:///{tmp_path / 'screen.db'}"
    store = SqlStore(url)
    ScreeningService(store).import_file(f"chain,address,category,source,confidence\nbitcoin,{listed},scam,test,0.8\n"
                                        .encode(), "csv", source="test", actor="test")
    ruleset = ruleset_from_sources({
        "ruleset.yaml": "ruleset: {name: screen-test, version: 1}\nlists:\n  min_conf: 0.5\n",
        "rules.yaml": "rules:\n  - id: T-LISTED\n    description: Withdrawal to a listed address\n"
                      "    events: [crypto_withdrawal]\n    when: address_risk_category is not None and "
                      "address_risk_confidence >= min_conf\n    score: 80\n"})
    engine = Engine(ruleset, geo=None)
    records = []
    for i, address in enumerate((listed, clean)):
        event = parse_event({"id": f"wd-{i}", "type": "crypto_withdrawal", "account_id": f"acct-{i}",
                             "occurred_at": (START + timedelta(minutes=i)).isoformat(), "transfer_id": f"w{i}",
                             "asset": "BTC", "chain": "bitcoin", "address": address, "amount": "0.1"})
        decision = engine.process(event)
        records.append(to_record(event, decision, orjson.dumps(decision.to_dict()), 0))
    store.write_accepted(records)
    store.close()
    scenario = LocalScenario("S-LISTED", "リスト", "Listed", ("T-LISTED",), thresholds=("min_conf",))
    result = sweep(url, PERIOD, scenario, ruleset, threshold="min_conf", values=[0.9], workers=1, geo=None)
    assert [(r["value"], r["alerts"]) for r in result.rows] == [(0.5, 1), (0.9, 0)]
    assert result.above_the_line is not None
    assert [e["event_id"] for e in result.above_the_line["events"]] == ["wd-0"]
    assert result.above_the_line["events"][0]["values"]["address_risk_confidence"] in ("0.8", 0.8)


def test_sweep_streams_history_from_sqlite_and_postgresql(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ruleset = ruleset_from_sources(RULES)
    engine = Engine(ruleset, geo=None)
    events, labels = _events()
    store = SqlStore(store_url)
    records = []
    for raw in events:
        event = parse_event(raw)
        decision = engine.process(event)
        records.append(to_record(event, decision, orjson.dumps(decision.to_dict()), 0))
    store.write_accepted(records)
    store.close()
    monkeypatch.setattr(history, "MIN_EVENTS_PER_PROCESS", 1)
    result = sweep(store_url, PERIOD, BIG, ruleset, threshold="big_jpy", values=[700_000, 2_000_000],
                   truth=simulation_truth(labels, BIG), workers=2, geo=None)
    assert [(r["alerts"], r["true_positive"], r["false_positive"]) for r in result.rows] == [(4, 3, 1), (3, 2, 1),
                                                                                           (1, 1, 0)]
    assert result.run["processes"] == 2 and result.run["events_read"] == 15
    store = SqlStore(store_url)
    try:  # read in chunks of 4: every event once, in acceptance order; an account range reads its own
        rows = list(history.iter_history(store.engine, end_us=PERIOD.end_us, start_us=None, low=None, high=None,
                                         chunk=4))
        some = list(history.iter_history(store.engine, end_us=PERIOD.end_us, start_us=None, low="acct-b",
                                         high="acct-d", chunk=4))
    finally:
        store.close()
    assert [orjson.loads(p)["id"] for p, _, _ in rows] == [e["id"] for e in events]
    assert {orjson.loads(p)["account_id"] for p, _, _ in some} == {"acct-b", "acct-c"} and len(some) == 6
