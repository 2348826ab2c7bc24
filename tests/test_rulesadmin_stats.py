"""Rule statistics against hand-built stores, on SQLite and PostgreSQL: hourly hit counts counted
incrementally from stored decisions, shadow hits and comparisons, precision and labels from cases."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import insert

from mamori.adapters.sql.store import AcceptedRecord, SqlStore
from mamori.cases import store as cases_store
from mamori.rulesadmin.stats import HOUR_US, RuleCounter, case_labels, hit_counts, precision, shadow_report
from mamori.rulesadmin.tables import create_tables

NOW = 1_780_000_000 * 1_000_000 - (1_780_000_000 * 1_000_000) % HOUR_US + 30 * 60 * 1_000_000  # hh:30
DAY = 24 * HOUR_US


def _record(n: int, decided_us: int, rules: list[str], *, verdict: str = "block", shadow: dict[str, Any] | None = None,
            account: str = "acct-1") -> AcceptedRecord:
    body: dict[str, Any] = {"event_id": f"e{n}", "event_type": "login", "account_id": account, "decision": verdict,
                            "score": 0, "rules": [{"id": r} for r in rules], "ruleset": "rs@1:abc", "alert": bool(rules)}
    if shadow is not None:
        body["shadow"] = shadow
    return AcceptedRecord(event_id=f"e{n}", event_type="login", account_id=account, occurred_at_us=decided_us,
                          received_at_us=decided_us, payload="{}", decision=verdict, score=0, ruleset="rs@1:abc",
                          alert=bool(rules), rule_ids=tuple(rules), body=orjson.dumps(body).decode(),
                          decided_at_us=decided_us)


@pytest.fixture
def store(store_url: str) -> SqlStore:
    s = SqlStore(store_url)
    create_tables(s.engine)
    cases_store.create_tables(s.engine)
    return s


def test_hit_counts_by_window_are_counted_once_and_incrementally(store: SqlStore) -> None:
    # Given decisions 1 h, 2 days, 10 days and 40 days old; R1 fires on all, R2 on the newest only.
    ages = [HOUR_US, 2 * DAY, 10 * DAY, 40 * DAY]
    store.write_accepted([_record(i, NOW - age, ["R1"] + (["R2"] if i == 0 else [])) for i, age in enumerate(ages)])
    counter = RuleCounter(store.engine, shadow_rule_ids=lambda _identity: frozenset({"S1"}))
    counter.settle_us = 0
    assert counter.backlog() == 4
    assert counter.catch_up(now_us=NOW) == 4
    assert counter.catch_up(now_us=NOW) == 0  # nothing new: nothing counted twice
    hits = hit_counts(store.engine, now_us=NOW)
    assert hits["R1"]["active"] == {"24h": 1, "7d": 2, "30d": 3}
    assert hits["R2"]["active"] == {"24h": 1, "7d": 1, "30d": 1}
    # When more decisions arrive (one with a shadow-mode rule firing), only they are read.
    store.write_accepted([_record(10, NOW, ["R1"], shadow={"rules": [{"id": "S1"}], "decision": None,
                                                            "ruleset": None})])
    assert counter.catch_up(now_us=NOW) == 1
    hits = hit_counts(store.engine, now_us=NOW)
    assert hits["R1"]["active"]["24h"] == 2 and hits["S1"]["shadow"] == {"24h": 1, "7d": 1, "30d": 1}
    assert counter.backlog() == 0


def test_a_candidate_in_the_shadow_slot_is_compared_with_the_active_verdicts(store: SqlStore) -> None:
    cand = "rs@2:def"
    store.write_accepted([
        _record(1, NOW, ["R1"], verdict="block", account="acct-a",
                shadow={"rules": [{"id": "S1"}], "decision": "allow", "ruleset": cand}),
        _record(2, NOW, ["R1"], verdict="block", shadow={"rules": [{"id": "R1"}], "decision": "block",
                                                          "ruleset": cand}),
        _record(3, NOW, [], verdict="allow", shadow={"rules": [], "decision": "allow", "ruleset": cand}),
    ])
    counter = RuleCounter(store.engine, shadow_rule_ids=lambda _identity: frozenset({"S1"}))
    counter.catch_up(now_us=NOW + 10 * 1_000_000_000)
    report = shadow_report(store.engine, cand)
    assert report["events"] == 3 and report["changed"] == 1
    assert report["transitions"] == [{"from": "block", "to": "allow", "count": 1}]
    assert report["changed_events"][0]["event_id"] == "e1" and report["changed_events"][0]["account_id"] == "acct-a"
    hits = hit_counts(store.engine, now_us=NOW)
    # The candidate's own fires of R1 are not shadow hits of the active rule set; S1's are.
    assert "shadow" not in hits["R1"] and hits["S1"]["shadow"]["24h"] == 1


def _case(store: SqlStore, case_id: int, state: str, disposition: str | None, alert_ids: list[int]) -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(cases_store.cases).values(
            id=case_id, kind="account", key=f"acct-{case_id}", title="t", state=state, disposition=disposition,
            priority=2, created_at_us=NOW, updated_at_us=NOW, first_alert_at_us=NOW, last_alert_at_us=NOW,
            alert_count=len(alert_ids), account_count=1, max_score=0,
            closed_at_us=NOW if state == "closed" else None))
        for a in alert_ids:
            conn.execute(insert(cases_store.case_alerts).values(alert_id=a, kind="account", case_id=case_id,
                                                                account_id=f"acct-{case_id}", at_us=NOW,
                                                                added_at_us=NOW))


def test_precision_counts_closed_cases_by_disposition(store: SqlStore) -> None:
    # Alerts 1..5 (ids follow insertion): R1 on all, R2 on 1 and 4 only.
    store.write_accepted([_record(i, NOW, ["R1"] + (["R2"] if i in (1, 4) else [])) for i in range(1, 6)])
    _case(store, 1, "closed", "confirmed_takeover", [1, 2])  # R1, R2: true positive
    _case(store, 2, "closed", "fraud_attempt_blocked", [3])  # R1: true positive
    _case(store, 3, "closed", "legitimate", [4])  # R1, R2: false positive
    _case(store, 4, "closed", "duplicate", [5])  # ignored
    _case(store, 5, "open", None, [])  # open: ignored
    prec = precision(store.engine)
    assert prec["R1"] == {"true_positive": 2, "false_positive": 1, "closed_cases": 3, "precision": 0.6667}
    assert prec["R2"] == {"true_positive": 1, "false_positive": 1, "closed_cases": 2, "precision": 0.5}
    assert case_labels(store.engine) == {"e1": True, "e2": True, "e3": True, "e4": False}
