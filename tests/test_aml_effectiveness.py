"""AML effectiveness: outcome metrics from a hand-built store (exact numbers, SQLite and PostgreSQL),
coverage of the reference cases and of a risk-assessment file (incl. its errors), the period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import insert, select

from mamori.adapters.sql.schema import alerts
from mamori.adapters.sql.store import AcceptedRecord, SqlStore
from mamori.aml.effectiveness.coverage import parse_risk_assessment, reference_coverage, risk_coverage
from mamori.aml.effectiveness.metrics import scenario_metrics
from mamori.aml.effectiveness.period import Period, week_of
from mamori.aml.effectiveness.sources import LocalScenario
from mamori.aml.reference_cases import REFERENCE_CASES
from mamori.aml.reporting.store import create_tables as create_report_tables
from mamori.aml.reporting.store import str_reports
from mamori.aml.scenarios import SCENARIOS
from mamori.cases.model import CaseState, Disposition
from mamori.cases.service import CasesService
from mamori.kit.errors import InvalidRequest
from mamori.risk.rules.loader import ruleset_from_sources

HOUR = 3_600_000_000
T0 = int(datetime(2026, 5, 4, 1, 0, tzinfo=UTC).timestamp() * 1_000_000)  # Monday 10:00 JST
SCENARIO_A = LocalScenario("S-A", "シナリオA", "Scenario A", ("R1",))
SCENARIO_B = LocalScenario("S-B", "シナリオB", "Scenario B", ("R2",))
DOCS = Path(__file__).resolve().parent.parent / "docs"


def _record(event_id: str, account: str, at_us: int, rules: tuple[str, ...], address: str) -> AcceptedRecord:
    occurred = datetime.fromtimestamp(at_us / 1e6, UTC).isoformat()
    payload = {"id": event_id, "type": "crypto_withdrawal", "occurred_at": occurred, "account_id": account,
               "transfer_id": f"t-{event_id}", "asset": "BTC", "chain": "bitcoin", "address": address,
               "amount": "0.1", "amount_jpy": "1000000"}
    return AcceptedRecord(event_id=event_id, event_type="crypto_withdrawal", account_id=account, occurred_at_us=at_us,
                          received_at_us=at_us, payload=orjson.dumps(payload).decode(), decision="hold", score=70,
                          ruleset="t@1:abc", alert=True, rule_ids=rules, body="{}", decided_at_us=at_us)


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def _case_of(cases: CasesService, account: str) -> int:
    found = cases.list_cases("test", account_id=account)["cases"]
    return int(next(c["id"] for c in found if c["kind"] == "account"))


@pytest.fixture
def hand_built(store_url: str, tmp_path: Path) -> SqlStore:
    """Four alerts, three account cases (fraud, legitimate, open), one locked and one draft report."""
    store = SqlStore(store_url)
    store.write_accepted([_record("a1", "acct-1", T0, ("R1",), "bc1qa1"),
                          _record("a2", "acct-2", T0 + HOUR, ("R1", "R2"), "bc1qa2"),
                          _record("a3", "acct-3", T0 + 8 * 24 * HOUR, ("R2",), "bc1qa3")])
    clock = Clock(T0 + 9 * 24 * HOUR)
    cases = CasesService(store, tmp_path / "cases", clock=clock)
    cases.refresh()
    clock.now = T0 + 10 * HOUR
    cases.workflow.transition(_case_of(cases, "acct-1"), actor="analyst", state=CaseState.CLOSED,
                              disposition=Disposition.FRAUD_ATTEMPT_BLOCKED, reason="詐欺被害の送金を停止")
    clock.now = T0 + 5 * HOUR
    cases.workflow.transition(_case_of(cases, "acct-2"), actor="analyst", state=CaseState.CLOSED,
                              disposition=Disposition.LEGITIMATE, reason="  顧客本人の取引   確認済 ")
    store.write_accepted([_record("a4", "acct-4", T0 + 2 * HOUR, ("R1",), "bc1qa4")])  # never filed
    create_report_tables(store.engine)
    with store.engine.begin() as conn:
        for case_id, series, state, locked in ((_case_of(cases, "acct-1"), 1, "locked", T0 + 24 * HOUR),
                                               (_case_of(cases, "acct-3"), 2, "draft", None)):
            conn.execute(insert(str_reports).values(
                series_id=series, version=1, case_id=case_id, state=state, created_at_us=T0, created_by="co",
                updated_at_us=T0, last_editor="co", locked_at_us=locked, locked_by="co2" if locked else None,
                content_enc=b"x"))
    return store


def test_metrics_from_a_hand_built_store_are_exact(hand_built: SqlStore) -> None:
    # Given four alerts filed into cases with known outcomes and reports
    period = Period(T0 - HOUR, T0 + 14 * 24 * HOUR)
    # When the figures are computed
    rows = {m.scenario_id: m.to_dict() for m in scenario_metrics(hand_built.engine, period,
                                                                  [SCENARIO_A, SCENARIO_B])}
    # Then every number is the hand-counted one
    a, b, everything = rows["S-A"], rows["S-B"], rows["ALL"]
    assert (a["alerts"], a["in_case"], a["with_str_draft"], a["with_locked_str"]) == (3, 2, 1, 1)
    assert (a["true_positive"], a["false_positive"], a["precision"]) == (1, 1, 0.5)
    assert a["median_hours_to_close"] == 7.0  # 10 h and 4 h
    assert a["median_hours_to_str_lock"] == 24.0
    assert a["false_positive_reasons"] == [{"reason": "顧客本人の取引 確認済", "count": 1}]
    assert a["alert_to_case"] == round(2 / 3, 4) and a["cases"] == 2 and a["cases_with_locked_str"] == 1
    assert (b["alerts"], b["in_case"], b["with_str_draft"], b["with_locked_str"]) == (2, 2, 1, 0)
    assert (b["true_positive"], b["false_positive"], b["precision"]) == (0, 1, 0.0)
    assert b["median_hours_to_close"] == 4.0 and b["median_hours_to_str_lock"] is None
    assert everything["alerts"] == 4 and everything["true_positive"] == 1
    first, second = week_of(T0), week_of(T0 + 8 * 24 * HOUR)
    assert a["weeks"][first] == 3 and a["weeks"][second] == 0
    assert b["weeks"] == {first: 1, second: 1, week_of(period.end_us - 1): 0}


def test_metrics_only_count_alerts_inside_the_period(hand_built: SqlStore) -> None:
    rows = {m.scenario_id: m for m in scenario_metrics(hand_built.engine, Period(T0 + 7 * 24 * HOUR,
                                                                                  T0 + 14 * 24 * HOUR),
                                                       [SCENARIO_A, SCENARIO_B])}
    assert rows["S-A"].alerts == 0 and rows["S-B"].alerts == 1 and rows["S-B"].precision is None
    with hand_built.engine.connect() as conn:
        assert conn.execute(select(alerts.c.id)).all()  # the alerts are there, just outside


def _ruleset_with(rule_ids: list[str], *, shadow: tuple[str, ...] = ()) -> object:
    rules = "\n".join(f"  - id: {r}\n    description: {r}\n    events: [crypto_withdrawal]\n    when: notional_jpy"
                      f" is not None\n    score: 10\n    mode: {'shadow' if r in shadow else 'active'}"
                      for r in rule_ids)
    return ruleset_from_sources({"ruleset.yaml": "ruleset: {name: t, version: 1}\n", "rules.yaml": f"rules:\n{rules}\n"})


def test_reference_coverage_counts_only_live_scenarios() -> None:
    ruleset = _ruleset_with(["XFER-MULE-001", "XFER-RAPID-001"], shadow=("XFER-RAPID-001",))
    scenarios = [LocalScenario("S-MULE", "ミュール", "Mule", ("XFER-MULE-001",), ("C12",)),
                 LocalScenario("S-RAPID", "急速", "Rapid", ("XFER-RAPID-001",), ("C14",))]
    rows = {r["id"]: r for r in reference_coverage(scenarios, ruleset)}  # type: ignore[arg-type]
    assert len(rows) == len(REFERENCE_CASES)
    assert rows["C12"]["covered"] and rows["C12"]["scenarios"] == ["S-MULE"]
    assert not rows["C14"]["covered"] and rows["C14"]["not_live"] == ["S-RAPID"]  # shadow is not live
    assert not rows["C3"]["covered"] and rows["C3"]["reason"] is None


def test_the_shipped_example_risk_assessment_is_valid_and_gives_coverage_and_gaps() -> None:
    text = (DOCS / "aml-risk-assessment.example.yaml").read_text(encoding="utf-8")
    assessment = parse_risk_assessment(text, SCENARIOS)
    assert [r.id for r in assessment.risks] == ["R-01", "R-02", "R-03", "R-04", "R-05"]
    assert assessment.risks[2].scenarios == ("AML-MULE", "AML-PASSTHROUGH", "AML-LAYERING")
    ruleset = _ruleset_with(["XFER-MULE-001", "XFER-STRUCT-001"])
    risks = {r["id"]: r for r in risk_coverage(assessment, SCENARIOS, ruleset)}  # type: ignore[arg-type]
    assert risks["R-03"]["live_scenarios"] == ["AML-MULE"] and not risks["R-03"]["gap"]
    assert risks["R-02"]["gap"] and risks["R-02"]["live_scenarios"] == []
    cases = {r["id"]: r for r in reference_coverage(SCENARIOS, ruleset, assessment)}  # type: ignore[arg-type]
    assert cases["C3"]["reason"].startswith("当社は現金を取り扱わない")
    assert cases["C2"]["covered"]


@pytest.mark.parametrize(("text", "line", "words"), [
    ("risks:\n  - id: R-1\n    title_ja: あ\n    rating: high\n    scenarios:\n      - AML-MULE\n      - AML-NOPE\n",
     7, "unknown scenario 'AML-NOPE'"),
    ("risks:\n  - id: R-1\n    title_ja: あ\n    rating: severe\n    scenarios: [AML-MULE]\n", 4, "'rating' must be"),
    ("risks:\n  - id: R-1\n    title_ja: あ\n    rating: low\n    scenarios: [AML-MULE]\n"
     "    reference_cases: [C99]\n", 6, "unknown reference case 'C99'"),
    ("risks:\n  - id: R-1\n    title_ja: あ\n    rating: low\n  - id: R-1\n    title_ja: い\n    rating: low\n",
     5, "used twice"),
    ("risks:\n  - id: R-1\n    rating: low\n", 2, "'title_ja' is required"),
    ("firm: x\nrisks: []\n", 2, "non-empty list"),
    ("risks:\n  - id: R-1\n    title_ja: あ\n    rating: low\nnot_covered:\n  C77: なし\n", 6, "unknown reference case"),
    ("risks:\n  - id: R-1\n    title_ja: あ\n    rating: low\n    colour: red\n", 5, "unknown key 'colour'"),
])
def test_risk_assessment_errors_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_risk_assessment(text, SCENARIOS, origin="ra.yaml")
    first = caught.value.details[0]  # type: ignore[index]
    assert first["line"] == line and words in first["message"], caught.value.details
    assert caught.value.message.startswith(f"ra.yaml:{line}:")


def test_risk_assessment_reports_every_problem_and_yaml_syntax_errors() -> None:
    text = "risks:\n  - id: R-1\n    rating: huge\n    scenarios: [X-1, X-2]\n"
    with pytest.raises(InvalidRequest) as caught:
        parse_risk_assessment(text, SCENARIOS)
    assert len(caught.value.details) == 4  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="YAML syntax error"):
        parse_risk_assessment("risks: [\n", SCENARIOS)
    with pytest.raises(InvalidRequest, match="mapping"):
        parse_risk_assessment("- just a list\n", SCENARIOS)


def test_period_parsing() -> None:
    period = Period.parse("2026-05-01", "2026-06-01")
    assert period.start_us == int(datetime(2026, 4, 30, 15, tzinfo=UTC).timestamp() * 1_000_000)
    assert Period.parse("2026-05-01T00:00:00Z", "2026-05-02T00:00:00+09:00").end_us - \
        Period.parse("2026-05-01T00:00:00Z", "2026-05-02T00:00:00+09:00").start_us == 15 * HOUR
    for start, end, words in (("2026-05-01", "2026-05-01", "after"), ("yesterday", "2026-05-01", "expected a date"),
                              ("2026-05-01T00:00:00", "2026-06-01", "offset"),
                              ("2025-01-01", "2026-06-01", "400 days")):
        with pytest.raises(InvalidRequest, match=words):
            Period.parse(start, end)
    assert week_of(T0) == week_of(T0 + 6 * 24 * HOUR) != week_of(T0 + 7 * 24 * HOUR)
    assert (datetime(2026, 5, 4) + timedelta(days=0)).weekday() == 0


def test_report_from_the_hand_built_store_is_versioned_and_escapes_text(hand_built: SqlStore) -> None:
    from mamori.aml.effectiveness.render import render_html
    from mamori.aml.effectiveness.report import ReportOptions, build_report
    from mamori.aml.effectiveness.workbook import report_xlsx

    period = Period(T0 - HOUR, T0 + 14 * 24 * HOUR)
    ruleset = _ruleset_with(["R1", "R2"])
    args: dict[str, object] = {"ruleset": ruleset, "scenarios": [SCENARIO_A, SCENARIO_B],
                               "options": ReportOptions(sweeps="none")}
    first = build_report(hand_built.engine, hand_built.url, period, now=datetime(2026, 6, 1, tzinfo=UTC), **args)
    second = build_report(hand_built.engine, hand_built.url, period, now=datetime(2026, 7, 1, tzinfo=UTC), **args)
    assert first["report_id"] == second["report_id"] and first["generated_at"] != second["generated_at"]
    assert first["version"]["rulesets_in_period"] == {"t@1:abc": 4}
    assert first["version"]["ruleset"] == ruleset.identity  # type: ignore[attr-defined]
    checks = {c["check"]: c for c in first["data_quality"]["checks"]}
    assert checks["crypto_events"]["value"] == 4 and checks["undecided_events"]["ok"]
    first["metrics"][0]["false_positive_reasons"] = [{"reason": "<script>alert(1)</script>", "count": 1}]
    html = render_html(first)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert report_xlsx(first)[:2] == b"PK"  # a zip container: the workbook
