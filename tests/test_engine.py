"""The engine: verdict combination, failure modes, shadow mode, hot swap, backtest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mamori.adapters.geo import open_geo_provider
from mamori.events.parse import parse_event
from mamori.risk.backtest import backtest
from mamori.risk.engine import Engine
from mamori.risk.rules.loader import builtin_ruleset, ruleset_from_sources
from mamori.risk.rules.model import Verdict

GEO = open_geo_provider()
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
HEAD = "ruleset: {name: t, version: 1, thresholds: {challenge: 10, hold: 20, block: 40}}\n"


def rs(body: str, name: str = "t"):
    return ruleset_from_sources({"r.yaml": HEAD.replace("name: t", f"name: {name}") + body})


def withdrawal(i: int, minutes: float = 0, amount: str = "100000", **kw):
    return parse_event({"id": f"w{i}", "type": "fiat_withdrawal", "account_id": kw.pop("account_id", "a1"),
                        "transfer_id": f"t{i}", "amount": amount,
                        "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(), **kw})


def login(i: int, minutes: float = 0, **kw):
    return parse_event({"id": f"l{i}", "type": "login", "account_id": "a1", "result": "success", "method": "password",
                        "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(), **kw})


@pytest.mark.parametrize(
    ("rules", "verdict", "score"),
    [
        ("rules: [{id: A, description: a, score: 5, when: 'True'}]", Verdict.allow, 5),
        ("rules: [{id: A, description: a, score: 5, when: 'True'}, {id: B, description: b, score: 6, when: 'True'}]",
         Verdict.challenge, 11),
        ("rules: [{id: A, description: a, action: hold, when: 'True'}]", Verdict.hold, 0),
        ("rules: [{id: A, description: a, action: challenge, score: 45, when: 'True'}]", Verdict.block, 45),
        ("rules: [{id: A, description: a, action: block, when: 'True'}, {id: B, description: b, action: challenge,"
         " when: 'True'}]", Verdict.block, 0),
        ("rules: [{id: A, description: a, score: -30, when: 'True'}, {id: B, description: b, score: 35, when: 'True'}]",
         Verdict.allow, 5),
        ("rules: [{id: A, description: a, action: hold, when: 'False'}]", Verdict.allow, 0),
    ],
)
def test_given_fired_rules_when_combined_then_the_strongest_of_actions_and_score_thresholds_wins(rules, verdict, score):
    d = Engine(rs(rules), geo=GEO).process(withdrawal(1))
    assert (d.verdict, d.score) == (verdict, score)


def test_given_a_fired_rule_when_decided_then_the_values_that_made_it_fire_are_recorded():
    d = Engine(rs("rules: [{id: BIG, description: big, score: 25, events: [fiat_withdrawal],"
                  " when: 'notional_jpy >= 50000 and event.currency == \"JPY\"'}]"), geo=GEO).process(withdrawal(1))
    assert [r.id for r in d.rules] == ["BIG"]
    assert d.rules[0].to_dict()["values"] == {"notional_jpy": "100000", "event.currency": "JPY"}
    assert d.to_dict()["rules"][0]["description"] == "big"


@pytest.mark.parametrize(("event", "expected"), [
    (withdrawal(1), Verdict.hold),           # money movement: fail closed
    (login(1, ip="153.156.1.1"), Verdict.challenge),   # login: fail to challenge
    (parse_event({"id": "x", "type": "logout", "account_id": "a1", "occurred_at": T0.isoformat()}), Verdict.allow),
])
def test_given_a_rule_that_raises_when_evaluated_then_the_failure_mode_applies_and_is_recorded(event, expected):
    ruleset = rs("rules: [{id: BOOM, description: divides by zero, score: 1, when: '1 / 0 > 1'}]")
    d = Engine(ruleset, geo=GEO).process(event)
    assert d.verdict == expected
    assert d.errors[0].rule_id == "BOOM" and "ZeroDivisionError" in d.errors[0].error
    assert d.to_dict()["errors"][0]["failure_verdict"] == expected.name


def test_given_a_rule_with_its_own_on_error_when_it_raises_then_that_verdict_applies():
    ruleset = rs("rules: [{id: BOOM, description: d, score: 1, on_error: block, when: '1 / 0 > 1'}]")
    assert Engine(ruleset, geo=GEO).process(login(1)).verdict == Verdict.block


def test_given_shadow_rules_when_they_fire_then_they_are_logged_but_never_act():
    ruleset = rs("rules:\n  - {id: LIVE, description: l, score: 1, when: 'True'}\n"
                 "  - {id: SHADOW, description: s, action: block, mode: shadow, when: 'True'}\n"
                 "  - {id: DISABLED-1, description: o, action: block, mode: disabled, when: 'True'}\n")
    d = Engine(ruleset, geo=GEO).process(withdrawal(1))
    assert d.verdict == Verdict.allow
    assert [r.id for r in d.rules] == ["LIVE"]
    assert [r.id for r in d.shadow_rules] == ["SHADOW"]


def test_given_a_shadow_rule_set_when_events_flow_then_its_verdict_is_recorded_beside_the_active_one():
    active = rs("rules: [{id: A, description: a, score: 1, when: 'True'}]")
    candidate = rs("rules: [{id: C, description: c, action: hold, events: [fiat_withdrawal], when: 'notional_jpy > 50000'}]", name="cand")
    engine = Engine(active, geo=GEO, shadow=candidate)
    d = engine.process(withdrawal(1))
    assert d.verdict == Verdict.allow and d.shadow_verdict == Verdict.hold
    assert d.to_dict()["shadow"] == {"rules": [d.shadow_rules[0].to_dict()], "decision": "hold",
                                     "ruleset": candidate.identity}


def test_given_a_hot_swap_when_windows_are_shared_then_state_survives_and_new_windows_can_be_backfilled():
    v1 = rs("features: {n: {aggregate: count, events: [fiat_withdrawal], by: account, window: 1h}}\n"
            "rules: [{id: A, description: a, score: 1, when: 'n >= 0'}]")
    v2 = rs("features:\n  n: {aggregate: count, events: [fiat_withdrawal], by: account, window: 1h}\n"
            "  m: {aggregate: count, events: [fiat_withdrawal], by: account, window: 2h}\n"
            "rules: [{id: A, description: a, score: 1, when: 'n >= 0 and m >= 0'}]")
    engine = Engine(v1, geo=GEO)
    history = [withdrawal(i, minutes=i) for i in range(3)]
    for e in history:
        engine.process(e)
    fresh = engine.set_ruleset(v2)
    assert fresh == ["n", "m"]  # one shared stream whose retention grew: rebuilt, both backfilled
    engine.backfill(history, fresh)
    d = engine.process(withdrawal(9, minutes=10))
    assert d.features["n"] == 4 and d.features["m"] == 4
    assert d.ruleset == v2.identity


def test_given_history_when_restored_then_state_equals_processing_it_live():
    events = [login(i, minutes=i, ip="153.156.1.1", device_id="d1") for i in range(5)]
    live = Engine(builtin_ruleset(), geo=GEO)
    verdicts = [live.process(e).verdict.name for e in events]
    restored = Engine(builtin_ruleset(), geo=GEO)
    for e, v in zip(events, verdicts, strict=True):
        restored.restore(e, v)
    probe = login(99, minutes=30, ip="153.156.1.1", device_id="d1")
    assert live.process(probe).to_dict()["features"] == restored.process(probe).to_dict()["features"]


def test_given_a_candidate_when_backtested_then_changed_decisions_and_precision_recall_are_reported():
    baseline = rs("rules: [{id: A, description: a, action: hold, events: [fiat_withdrawal], when: 'notional_jpy > 500000'}]", name="base")
    candidate = rs("rules: [{id: B, description: b, action: hold, events: [fiat_withdrawal], when: 'notional_jpy > 150000'}]", name="cand")
    events = [withdrawal(1, amount="100000"), withdrawal(2, amount="200000"), withdrawal(3, amount="900000"),
              withdrawal(3, amount="900000")]  # a duplicate id is processed once
    labels = {"w1": False, "w2": True, "w3": True}
    report = backtest(events, baseline=baseline, candidate=candidate, geo=GEO, labels=labels).to_dict()
    assert report["events"] == 3 and report["changed"] == 1
    assert report["transitions"] == [{"from": "allow", "to": "hold", "count": 1}]
    assert report["changed_events"][0]["event_id"] == "w2"
    assert report["effectiveness"]["baseline"]["recall"] == 0.5
    assert report["effectiveness"]["candidate"]["recall"] == 1.0
    assert report["effectiveness"]["candidate"]["precision"] == 1.0
    assert {r["id"]: (r["baseline"], r["candidate"]) for r in report["rules"]} == {"A": (1, 0), "B": (0, 2)}


def test_given_a_snapshot_when_loaded_into_a_fresh_engine_then_decisions_continue_identically():
    events = [login(i, minutes=i, ip="153.156.1.1", device_id="d1") for i in range(6)]
    events += [withdrawal(10 + i, minutes=10 + i, amount="1200000", ip="153.156.1.1") for i in range(5)]
    original = Engine(builtin_ruleset(), geo=GEO)
    for e in events:
        original.process(e)
    copy = Engine(builtin_ruleset(), geo=GEO)
    assert copy.load_snapshot(original.snapshot()) == []
    probe = withdrawal(99, minutes=20, amount="1200000", ip="153.156.1.1")
    a, b = original.process(probe).to_dict(), copy.process(probe).to_dict()
    assert a["features"] == b["features"] and a["decision"] == b["decision"]
    assert "XFER-STRUCT-001" in [r["id"] for r in a["rules"]]


def test_given_a_snapshot_from_other_rules_when_loaded_then_missing_windows_are_named_for_backfill():
    old = Engine(rs("rules: [{id: A, description: a, score: 1, when: 'True'}]"), geo=GEO)
    new = Engine(rs("features: {n: {aggregate: count, events: [login], by: account, window: 1h}}\n"
                    "rules: [{id: A, description: a, score: 1, when: 'n >= 0'}]"), geo=GEO)
    assert new.load_snapshot(old.snapshot()) == ["n"]
    with pytest.raises(ValueError, match="not a mamori engine snapshot"):
        new.load_snapshot(__import__("pickle").dumps({"format": 99}))
