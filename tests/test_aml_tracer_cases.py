"""Traces as case evidence, end to end on SQLite and PostgreSQL: a withdrawal raises an alert and an
account case; a trace is attached to the case; new chain data re-checks it; when the funds newly
reach an online casino, an AML-TRACE-REACH-001 alert is raised and filed into the customer's case."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from sqlalchemy import create_engine

from mamori.adapters.sql.store import AcceptedRecord, SqlStore
from mamori.aml.addresses import synthetic_address
from mamori.aml.chaindata import read_chain_file
from mamori.aml.graph import GraphStore
from mamori.aml.model import RiskCategory
from mamori.aml.traces import RULE_ID, TraceRequest, TraceService
from mamori.cases.service import CasesService
from mamori.kit.errors import InvalidRequest, NotFound

HOT = synthetic_address("ethereum", b"exchange-hot")
A = synthetic_address("ethereum", b"customer-wallet")
B = synthetic_address("ethereum", b"next-hop")
CASINO = synthetic_address("ethereum", b"casino")
OTHER_EXCHANGE = synthetic_address("ethereum", b"other-exchange")
T0 = 1_780_000_000_000_000


class Labels:
    def label(self, chain: str, address: str) -> RiskCategory | None:
        return {CASINO: RiskCategory.online_casino, OTHER_EXCHANGE: RiskCategory.exchange}.get(address)


def transfer(txid: str, minute: int, sender: str, receiver: str, value: str) -> dict[str, object]:
    return {"chain": "ethereum", "txid": txid, "time": T0 // 1_000_000 + minute * 60, "from": sender, "to": receiver,
            "value": value}


def write(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


def withdrawal_alert(store: SqlStore) -> None:
    payload = {"id": "wd-1", "type": "crypto_withdrawal", "occurred_at": "2026-05-28T00:00:00Z",
               "account_id": "acct-1", "transfer_id": "wd-1", "asset": "ETH", "chain": "ethereum", "address": A,
               "amount": "10", "amount_jpy": "5000000"}
    body = {"event_id": "wd-1", "decision": "hold", "score": 70, "rules": [{"id": "XFER-LARGE-001", "tags": []}],
            "features": {}}
    store.write_accepted([AcceptedRecord(event_id="wd-1", event_type="crypto_withdrawal", account_id="acct-1",
                                         occurred_at_us=T0, received_at_us=T0, payload=orjson.dumps(payload).decode(),
                                         decision="hold", score=70, ruleset="test", alert=True,
                                         rule_ids=("XFER-LARGE-001",), body=orjson.dumps(body).decode(),
                                         decided_at_us=T0)])


@pytest.fixture
def setup(store_url: str, tmp_path: Path) -> tuple[SqlStore, CasesService, TraceService]:
    store = SqlStore(store_url)
    cases = CasesService(store, tmp_path)
    traces = TraceService(store, GraphStore(tmp_path / "aml-graph"), cases=cases, labels=Labels)
    return store, cases, traces


def test_new_chain_data_rechecks_open_traces_and_alerts_into_the_case(
        setup: tuple[SqlStore, CasesService, TraceService], tmp_path: Path) -> None:
    store, cases, traces = setup
    withdrawal_alert(store)
    cases.refresh()
    case = cases.list_cases("tester", account_id="acct-1")["cases"][0]
    first = write(tmp_path / "day1.jsonl", [transfer("0x01", 0, HOT, A, "10"), transfer("0x02", 5, A, B, "4")])
    imported = traces.import_chain("api-key:t", read_chain_file(first))
    assert imported["added"] == 2 and imported["recheck"]["checked"] == 0

    # a trace for the case: attached as evidence (a JSON attachment and a comment)
    record = traces.create("api-key:t", TraceRequest(chain="eth", start="0x01", address=A, case_id=case["id"]))
    assert record["status"] == "open" and record["account_id"] == "acct-1"
    assert record["result"]["entities"] == []
    assert {a["address"]: a["taint"] for a in record["result"]["addresses"]} == {A: "10", B: "4"}
    detail = cases.view("tester", case["id"])
    assert [a["filename"] for a in detail["attachments"]] == [f"aml-trace-{record['id']}.json"]
    assert "資金追跡" in detail["comments"][0]["body"] and "Funds trace" in detail["comments"][0]["body"]

    # new chain data: B pays the casino -> re-check -> alert filed into acct-1's case
    second = write(tmp_path / "day2.jsonl", [transfer("0x03", 60, B, CASINO, "3")])
    imported = traces.import_chain("api-key:t", read_chain_file(second))
    assert imported["recheck"]["checked"] == 1 and len(imported["recheck"]["alerts"]) == 1
    alert_id = imported["recheck"]["alerts"][0]["alert_id"]
    alerts = store.query_alerts(account_id="acct-1")
    assert [a["rules"] for a in alerts if a["id"] == alert_id] == [[RULE_ID]]
    detail = cases.view("tester", case["id"])
    assert alert_id in [a["id"] for a in detail["alerts"]]
    assert len(detail["attachments"]) == 2 and "online_casino" in detail["comments"][-1]["body"]
    record = traces.get("api-key:t", record["id"])
    assert [c["new_entities"][0]["address"] for c in record["checks"]] == [CASINO]
    entity = record["result"]["entities"][0]
    assert entity["category"] == "online_casino" and entity["hop"] == 2 and entity["taint"] == "3"
    assert [s["txid"] for s in entity["path"]] == ["0x01", "0x02", "0x03"]
    assert store.get_decision(f"aml-trace:{record['id']}:v2")["rules"][0]["id"] == RULE_ID

    # the same casino reached again: no second alert; a closed trace is not re-checked
    third = write(tmp_path / "day3.jsonl", [transfer("0x04", 90, B, CASINO, "0.5")])
    assert traces.import_chain("api-key:t", read_chain_file(third))["recheck"]["alerts"] == []
    traces.close("api-key:t", record["id"])
    fourth = write(tmp_path / "day4.jsonl", [transfer("0x05", 120, A, CASINO, "1")])
    assert traces.import_chain("api-key:t", read_chain_file(fourth))["recheck"]["checked"] == 0
    assert len([a for a in store.query_alerts(account_id="acct-1") if a["rules"] == [RULE_ID]]) == 1

    # the case builder does not file the tracer's alert a second time
    cases.refresh()
    assert [a["id"] for a in cases.view("tester", case["id"])["alerts"]].count(alert_id) == 1
    actions = [r[0] for r in create_engine(store.url).connect().exec_driver_sql(
        "SELECT action FROM audit_log ORDER BY seq").all()]
    assert {"aml.trace.create", "aml.trace.view", "aml.trace.recheck", "aml.chain.import",
            "aml.trace.close"} <= set(actions)
    assert store.verify_audit_chain() > 0


def test_bad_trace_requests(setup: tuple[SqlStore, CasesService, TraceService], tmp_path: Path) -> None:
    _store, _cases, traces = setup
    traces.import_chain("t", read_chain_file(write(tmp_path / "c.jsonl", [transfer("0x01", 0, HOT, A, "10")])))
    with pytest.raises(NotFound, match="no transaction"):
        traces.create("t", TraceRequest(chain="ethereum", start="0x99"))
    with pytest.raises(InvalidRequest, match="needs the time"):
        traces.create("t", TraceRequest(chain="ethereum", start=A))
    with pytest.raises(NotFound, match="no case"):
        traces.create("t", TraceRequest(chain="ethereum", start="0x01", case_id=999))
    with pytest.raises(NotFound):
        traces.get("t", 12345)
    record = traces.create("t", TraceRequest(chain="ethereum", start=A, at_us=T0, amount=2.5))
    assert record["result"]["start_amount"] == "2.5" and record["case_id"] is None


def test_tracer_alerts_count_in_the_effectiveness_scenario(setup: tuple[SqlStore, CasesService, TraceService],
                                                           tmp_path: Path) -> None:
    """Scenario AML-TRACE-REACH (funds traced to a risky entity after withdrawal): the catch (the funds
    reach an online casino) alerts and counts in the scenario's metrics; the look-alike (the funds reach
    an exchange, not a risky entity) does not. Coverage treats it as live; backtests skip it, saying why."""
    import time

    from mamori.aml.effectiveness.coverage import live_scenarios
    from mamori.aml.effectiveness.metrics import scenario_metrics
    from mamori.aml.effectiveness.period import Period
    from mamori.aml.effectiveness.tuning import backtest
    from mamori.aml.scenarios import BY_SCENARIO_ID, NON_ENGINE_DETECTORS, SCENARIOS, scenario_for_rule
    from mamori.risk.rules.loader import builtin_rules_path, load_ruleset

    store, cases, traces = setup
    scenario = scenario_for_rule(RULE_ID)
    assert scenario is not None and scenario.id == "AML-TRACE-REACH" and RULE_ID in NON_ENGINE_DETECTORS
    assert {"C8", "C11", "F3"} <= set(scenario.reference_cases)
    now = int(time.time() * 1_000_000)
    period = Period(now - 86_400_000_000, now + 86_400_000_000)

    def reach_alerts() -> int:
        rows = {m.scenario_id: m for m in scenario_metrics(store.engine, period, SCENARIOS)}
        return rows["AML-TRACE-REACH"].alerts

    withdrawal_alert(store)
    cases.refresh()
    case = cases.list_cases("tester", account_id="acct-1")["cases"][0]
    traces.import_chain("t", read_chain_file(write(tmp_path / "d1.jsonl", [transfer("0x01", 0, HOT, A, "10")])))
    traces.create("t", TraceRequest(chain="eth", start="0x01", address=A, case_id=case["id"]))

    # look-alike: the funds go on to an exchange (a stop, not a risky entity): no alert
    lookalike = traces.import_chain("t", read_chain_file(write(tmp_path / "d2.jsonl",
                                                               [transfer("0x02", 5, A, OTHER_EXCHANGE, "2")])))
    assert lookalike["recheck"]["checked"] == 1 and lookalike["recheck"]["alerts"] == []
    assert reach_alerts() == 0

    # catch: the funds reach an online casino: one alert, counted, in the customer's case
    catch = traces.import_chain("t", read_chain_file(write(tmp_path / "d3.jsonl",
                                                           [transfer("0x03", 9, A, CASINO, "3")])))
    assert len(catch["recheck"]["alerts"]) == 1
    rows = {m.scenario_id: m for m in scenario_metrics(store.engine, period, SCENARIOS)}
    assert rows["AML-TRACE-REACH"].alerts == 1 and rows["AML-TRACE-REACH"].in_case == 1
    assert rows["ALL"].alerts == 1   # the withdrawal's engine alert counts in May, when its event occurred

    ruleset = load_ruleset(builtin_rules_path())
    assert RULE_ID not in {r.id for r in ruleset.rules}
    assert live_scenarios(SCENARIOS, ruleset)["AML-TRACE-REACH"] == (RULE_ID,)
    with pytest.raises(InvalidRequest, match="outside the rule engine"):
        backtest(store.url, period, BY_SCENARIO_ID["AML-TRACE-REACH"], ruleset, candidate={"x": 1})
