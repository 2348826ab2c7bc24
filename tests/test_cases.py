"""Case management: grouping, workflow, SLA, letters, attachments and audit, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import threading
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select, update

from mamori.adapters.sql.schema import audit_log
from mamori.adapters.sql.store import AcceptedRecord, SqlStore
from mamori.cases.attachments import FALLBACK_TYPE, clean_filename, download_headers, served_type
from mamori.cases.bench import bench_grouping
from mamori.cases.grouping import WATERMARK, CaseBuilder, GroupingPolicy
from mamori.cases.keys import grouping_keys, source_network
from mamori.cases.model import (
    DAY_US,
    HOUR_US,
    CaseKind,
    CaseState,
    CompensationStatus,
    ContactChannel,
    Disposition,
    MissingField,
    Sla,
    TransitionError,
    alert_priority,
    check_transition,
    sla_status,
)
from mamori.cases.service import CasesService
from mamori.cases.store import case_alerts, case_builder_state, case_events, cases
from mamori.kit.errors import Conflict, InvalidRequest, NotFound
from mamori.notify.linkcheck import find_links
from mamori.notify.templates import Language

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
MIN = 60_000_000
ACTOR = "api-key:tester"


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def alert(account: str, *, at: int, event_type: str = "order", decision: str = "hold", score: int = 60,
          ip: str | None = "", device: str | None = None, tags: tuple[str, ...] = (),
          **fields: Any) -> AcceptedRecord:
    """An alerting decision and its event, as the engine writes them (by default from the account's own
    device and home network)."""
    if ip == "":
        h = zlib.crc32(account.encode())
        ip = f"126.{h % 250 + 1}.{h // 250 % 250}.{h // 62500 % 250 + 1}"
    event_id = f"ev-{uuid.uuid4().hex[:16]}"
    payload: dict[str, Any] = {"id": event_id, "type": event_type, "account_id": account, **fields}
    if ip:
        payload["ip"] = ip
    payload["device_id"] = device or f"{account}-phone"
    body = {"event_id": event_id, "decision": decision, "score": score,
            "rules": [{"id": "RULE-1", "tags": list(tags)}], "features": {}}
    return AcceptedRecord(event_id=event_id, event_type=event_type, account_id=account, occurred_at_us=at,
                          received_at_us=at, payload=orjson.dumps(payload).decode(), decision=decision, score=score,
                          ruleset="test", alert=True, rule_ids=("RULE-1",), body=orjson.dumps(body).decode(),
                          decided_at_us=at)


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    s = SqlStore(store_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + DAY_US)


@pytest.fixture
def svc(store: SqlStore, tmp_path: Path, clock: Clock) -> CasesService:
    return CasesService(store, tmp_path / "data", firm_name_ja="まもり証券", firm_name_en="Mamori Securities",
                        support_phone="0120-000-000", clock=clock)


def rows(store: SqlStore, kind: CaseKind | None = None) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        stmt = select(cases).order_by(cases.c.id)
        if kind is not None:
            stmt = stmt.where(cases.c.kind == kind.value)
        return [dict(r) for r in conn.execute(stmt).mappings()]


def members(store: SqlStore, case_id: int) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(select(case_alerts.c.account_id).where(case_alerts.c.case_id == case_id)).scalars())


def account_case(store: SqlStore, account: str) -> int:
    return next(r["id"] for r in rows(store, CaseKind.ACCOUNT) if r["key"] == account and r["state"] != "closed")


# -- pure rules -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("current", "target", "kwargs", "error"), [
    (CaseState.OPEN, CaseState.INVESTIGATING, {}, None),
    (CaseState.INVESTIGATING, CaseState.OPEN, {}, TransitionError),
    (CaseState.OPEN, CaseState.OPEN, {}, TransitionError),
    (CaseState.OPEN, CaseState.CLOSED, {}, MissingField),
    (CaseState.OPEN, CaseState.CLOSED, {"disposition": Disposition.LEGITIMATE}, None),
    (CaseState.ESCALATED, CaseState.CLOSED, {"current_disposition": Disposition.FRAUD_ATTEMPT_BLOCKED}, None),
    (CaseState.CLOSED, CaseState.OPEN, {}, MissingField),
    (CaseState.CLOSED, CaseState.INVESTIGATING, {"reason": "customer called back"}, None),
    (CaseState.CLOSED, CaseState.WAITING_CUSTOMER, {"reason": "x"}, TransitionError),
    (CaseState.INVESTIGATING, CaseState.INVESTIGATING, {"disposition": Disposition.CONFIRMED_TAKEOVER,
                                                        "has_next_contact": True}, None),
    (CaseState.INVESTIGATING, CaseState.ESCALATED, {"disposition": Disposition.CONFIRMED_TAKEOVER}, MissingField),
])
def test_the_state_machine_allows_only_its_transitions(current, target, kwargs, error) -> None:
    args = {"disposition": None, "current_disposition": None, "reason": None, "has_next_contact": False, **kwargs}
    if error is None:
        check_transition(current, target, **args)
    else:
        with pytest.raises(error):
            check_transition(current, target, **args)


def test_sla_is_red_when_the_next_contact_is_overdue_and_amber_within_a_day() -> None:
    due = T0 + 10 * DAY_US
    assert sla_status(None, T0) is Sla.NONE
    assert sla_status(due, due - DAY_US - 1) is Sla.GREEN
    assert sla_status(due, due - DAY_US) is Sla.AMBER
    assert sla_status(due, due) is Sla.AMBER
    assert sla_status(due, due + 1) is Sla.RED
    assert [alert_priority("block", 0), alert_priority("hold", 10), alert_priority("allow", 30),
            alert_priority("allow", 5)] == [1, 2, 3, 4]


def test_grouping_keys_come_from_the_payload_and_the_fired_rules() -> None:
    body = {"rules": [{"id": "TRADE-PUMP-001", "tags": ["takeover-trading", "pump"]}], "features": {}}
    keys = grouping_keys("order", {"ip": "35.200.250.180", "device_id": "atk-1", "side": "buy", "symbol": "3777"},
                         body)
    assert keys == [(CaseKind.CAMPAIGN, "device:atk-1"), (CaseKind.CAMPAIGN, "net:35.200.250.0/24"),
                    (CaseKind.CAMPAIGN, "symbol:3777")]
    assert grouping_keys("order", {"side": "buy", "symbol": "3777"}, {"rules": [{"tags": ["notify"]}]}) == []
    assert grouping_keys("login", {"ip": "126.1.2.3"}, {"features": {"ip_class": "mobile"}}) == []
    assert grouping_keys("crypto_withdrawal", {"address": "0xAbC"}, {}) == [(CaseKind.COUNTERPARTY, "address:0xabc")]
    assert grouping_keys("settings_change", {"setting": "withdrawal_account", "new_value_fingerprint": "bank-9"},
                         {}) == [(CaseKind.COUNTERPARTY, "bank:bank-9")]
    assert [source_network(ip) for ip in ("10.0.0.1", "192.168.1.1", "203.0.113.7", "2400:4050:1:2::9", "bad")] \
        == [None, None, None, "2400:4050:1::/48", None]


# -- grouping -------------------------------------------------------------------------------------------
def test_alerts_of_one_account_share_one_open_case_and_a_closed_case_is_not_reused(store, svc) -> None:
    store.write_accepted([alert("A1", at=T0), alert("A1", at=T0 + MIN, decision="block"), alert("A2", at=T0)])
    report = svc.refresh()
    assert (report.alerts_filed, report.cases_created) == (3, 2)
    a1 = next(r for r in rows(store) if r["key"] == "A1")
    assert (a1["alert_count"], a1["account_count"], a1["priority"], a1["state"]) == (2, 1, 1, "open")
    svc.transition(ACTOR, a1["id"], CaseState.CLOSED, disposition=Disposition.LEGITIMATE)
    store.write_accepted([alert("A1", at=T0 + 2 * MIN)])
    assert svc.refresh().cases_created == 1
    a1_cases = [r for r in rows(store) if r["key"] == "A1"]
    assert [(r["state"], r["alert_count"]) for r in a1_cases] == [("closed", 2), ("open", 1)]


def test_three_accounts_from_one_network_within_the_window_make_a_campaign(store, svc) -> None:
    store.write_accepted([alert("V1", at=T0, ip="35.200.250.180"), alert("V2", at=T0 + 5 * MIN, ip="35.200.250.17"),
                          alert("X9", at=T0 + 9 * HOUR_US, ip="35.200.250.9")])  # outside the 6 h window
    svc.refresh()
    assert rows(store, CaseKind.CAMPAIGN) == []
    store.write_accepted([alert("V3", at=T0 + 30 * MIN, ip="35.200.250.44")])
    svc.refresh()
    (campaign,) = rows(store, CaseKind.CAMPAIGN)
    assert campaign["key"] == "net:35.200.250.0/24" and campaign["priority"] == 1
    assert members(store, campaign["id"]) == {"V1", "V2", "V3"} and campaign["account_count"] == 3
    store.write_accepted([alert("V4", at=T0 + 40 * MIN, ip="35.200.250.99"),
                          alert("V1", at=T0 + 41 * MIN, device="V1-home-pc")])
    svc.refresh()
    (campaign,) = rows(store, CaseKind.CAMPAIGN)
    assert members(store, campaign["id"]) == {"V1", "V2", "V3", "V4"}  # V1's home-network alert is not in it
    assert campaign["alert_count"] == 4


def test_a_second_wave_from_the_same_network_joins_the_campaign_that_is_still_open(store, svc) -> None:
    """Only one open case per grouping key: a second wave on the same network a day later (far outside
    the window of the first wave's alerts) joins the open campaign instead of opening a duplicate (which
    the unique index refused, failing the whole refresh)."""
    store.write_accepted([alert(f"W{i}", at=T0 + i * MIN, ip=f"35.201.7.{i + 1}") for i in range(3)])
    svc.refresh()
    (first,) = rows(store, CaseKind.CAMPAIGN)
    later = T0 + 30 * HOUR_US
    store.write_accepted([alert(f"L{i}", at=later + i * MIN, ip=f"35.201.7.{i + 50}") for i in range(3)])
    svc.refresh()
    (campaign,) = rows(store, CaseKind.CAMPAIGN)
    assert campaign["id"] == first["id"] and campaign["key"] == "net:35.201.7.0/24"
    assert members(store, campaign["id"]) == {"W0", "W1", "W2", "L0", "L1", "L2"}


def test_pump_buys_of_one_symbol_group_accounts_on_different_networks(store, svc) -> None:
    pump = ("takeover-trading", "pump")
    store.write_accepted([
        alert("P1", at=T0, ip="126.1.1.1", side="buy", symbol="3777", tags=pump),
        alert("P2", at=T0 + MIN, ip="153.2.2.2", side="buy", symbol="3777", tags=pump),
        alert("P3", at=T0 + 2 * MIN, ip="180.3.3.3", side="buy", symbol="3777", tags=("notify",)),  # not pump
    ])
    svc.refresh()
    assert rows(store, CaseKind.CAMPAIGN) == []
    store.write_accepted([alert("P4", at=T0 + 3 * MIN, ip="210.4.4.4", side="buy", symbol="3777", tags=("campaign",))])
    svc.refresh()
    (campaign,) = rows(store, CaseKind.CAMPAIGN)
    assert campaign["key"] == "symbol:3777" and members(store, campaign["id"]) == {"P1", "P2", "P4"}


def test_two_accounts_paying_one_destination_make_a_counterparty_case(store, svc) -> None:
    store.write_accepted([
        alert("W1", at=T0, event_type="fiat_withdrawal", bank_account_fingerprint="bank-mule-1", amount="300000"),
        alert("W2", at=T0 + DAY_US, event_type="settings_change", setting="withdrawal_account",
              new_value_fingerprint="bank-mule-1"),
        alert("W3", at=T0, event_type="crypto_withdrawal", address="0xABCDEF", asset="ETH"),
        alert("W4", at=T0 + HOUR_US, event_type="crypto_withdrawal", address="0xabcdef", asset="ETH"),
        alert("W5", at=T0, event_type="fiat_withdrawal", bank_account_fingerprint="bank-own-5", amount="1000"),
    ])
    svc.refresh()
    found = {r["key"]: members(store, r["id"]) for r in rows(store, CaseKind.COUNTERPARTY)}
    assert found == {"bank:bank-mule-1": {"W1", "W2"}, "address:0xabcdef": {"W3", "W4"}}


def test_grouping_is_idempotent_incremental_and_safe_with_concurrent_builders(store, svc) -> None:
    batch = [alert(f"C{i % 7}", at=T0 + i * MIN, ip=f"45.76.186.{i % 200 + 1}") for i in range(60)]
    store.write_accepted(batch[:30])
    small = GroupingPolicy(batch=7)
    builders = [CaseBuilder(store.engine, policy=small) for _ in range(3)]
    threads = [threading.Thread(target=b.run) for b in builders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.write_accepted(batch[30:])
    assert svc.refresh().alerts_filed == 30
    assert svc.refresh().alerts_filed == 0
    with store.engine.connect() as conn:
        per_kind = dict(conn.execute(select(case_alerts.c.kind, func.count()).group_by(case_alerts.c.kind)).all())
        assert conn.execute(select(case_builder_state.c.value).where(case_builder_state.c.name == WATERMARK)) \
            .scalar() == 60
    assert per_kind == {"account": 60, "campaign": 60}
    assert len(rows(store, CaseKind.ACCOUNT)) == 7 and len(rows(store, CaseKind.CAMPAIGN)) == 1


def test_an_alert_that_became_visible_below_the_watermark_is_still_filed(store, svc) -> None:
    store.write_accepted([alert("L1", at=T0)])
    with store.engine.begin() as conn:  # as if ids up to 5 had been seen while 2-5 were still uncommitted
        conn.execute(case_builder_state.insert().values(name=WATERMARK, value=5))
    store.write_accepted([alert("L2", at=T0), alert("L3", at=T0)])
    report = svc.refresh()
    assert report.alerts_filed == 3 and report.watermark == 5
    assert {r["key"] for r in rows(store)} == {"L1", "L2", "L3"}
    assert svc.refresh().alerts_filed == 0


def test_bench_helper_reports_a_rate() -> None:
    assert bench_grouping(1000) > 0


# -- workflow -------------------------------------------------------------------------------------------
def test_workflow_enforces_transitions_dispositions_and_reasons(store, svc, clock) -> None:
    store.write_accepted([alert("S1", at=T0)])
    svc.refresh()
    cid = account_case(store, "S1")
    assert svc.transition(ACTOR, cid, CaseState.INVESTIGATING)["state"] == "investigating"
    with pytest.raises(Conflict):
        svc.transition(ACTOR, cid, CaseState.OPEN)
    with pytest.raises(InvalidRequest) as missing:
        svc.transition(ACTOR, cid, CaseState.CLOSED)
    assert missing.value.details[0]["field"] == "disposition"
    with pytest.raises(InvalidRequest) as no_date:
        svc.transition(ACTOR, cid, CaseState.ESCALATED, disposition=Disposition.CONFIRMED_TAKEOVER)
    assert no_date.value.details[0]["field"] == "next_contact_due_at"
    confirmed = svc.transition(ACTOR, cid, CaseState.ESCALATED, disposition=Disposition.CONFIRMED_TAKEOVER,
                               next_contact_due_us=clock.now + 2 * DAY_US)
    assert (confirmed["disposition"], confirmed["sla"]) == ("confirmed_takeover", "green")
    closed = svc.transition(ACTOR, cid, CaseState.CLOSED)  # keeps the recorded disposition
    assert (closed["state"], closed["disposition"], closed["closed_at_us"]) == ("closed", "confirmed_takeover",
                                                                               clock.now)
    with pytest.raises(InvalidRequest) as why:
        svc.transition(ACTOR, cid, CaseState.OPEN)
    assert why.value.details[0]["field"] == "reason"
    store.write_accepted([alert("S1", at=T0 + MIN)])
    svc.refresh()  # a new open case for S1 exists now: reopening the old one would make two
    with pytest.raises(Conflict):
        svc.transition(ACTOR, cid, CaseState.OPEN, reason="customer disputes the outcome")
    with pytest.raises(NotFound):
        svc.transition(ACTOR, 999_999, CaseState.INVESTIGATING)
    history = svc.view(ACTOR, cid)["history"]
    assert [h["action"] for h in history] == ["case.create", "case.state", "case.state", "case.state"]
    assert history[1]["actor"] == ACTOR and history[2]["details"]["disposition"] == "confirmed_takeover"


def test_reopening_records_why(store, svc) -> None:
    store.write_accepted([alert("R1", at=T0)])
    svc.refresh()
    cid = account_case(store, "R1")
    svc.transition(ACTOR, cid, CaseState.CLOSED, disposition=Disposition.LEGITIMATE, reason="customer's new phone")
    reopened = svc.transition(ACTOR, cid, CaseState.INVESTIGATING, reason="customer now says it was not them")
    assert (reopened["state"], reopened["disposition"], reopened["closed_at_us"]) == ("investigating", None, None)
    last = svc.view(ACTOR, cid)["history"][-1]
    assert (last["action"], last["from_state"], last["to_state"], last["reason"]) == (
        "case.reopen", "closed", "investigating", "customer now says it was not them")


def test_sla_turns_red_when_the_next_contact_is_overdue_and_red_cases_come_first(store, svc, clock) -> None:
    store.write_accepted([alert(a, at=T0) for a in ("G1", "G2", "G3")])
    svc.refresh()
    g1, g2 = account_case(store, "G1"), account_case(store, "G2")
    svc.set_priority(ACTOR, g1, 4)
    for cid in (g1, g2):
        svc.transition(ACTOR, cid, CaseState.INVESTIGATING, disposition=Disposition.CONFIRMED_TAKEOVER,
                       next_contact_due_us=clock.now + 2 * HOUR_US)
    with pytest.raises(InvalidRequest) as needs_date:
        svc.add_contact(ACTOR, g2, channel=ContactChannel.PHONE, summary="called, no answer")
    assert needs_date.value.details[0]["field"] == "next_contact_due_at"
    svc.add_contact(ACTOR, g2, channel=ContactChannel.PHONE, summary="explained the held orders",
                    next_contact_due_us=clock.now + 3 * DAY_US)
    assert svc.list_cases(ACTOR, sla=Sla.AMBER)["cases"][0]["id"] == g1
    clock.now += 3 * HOUR_US
    listed = svc.list_cases(ACTOR)["cases"]
    assert (listed[0]["id"], listed[0]["sla"]) == (g1, "red")  # red first, though priority 4
    assert {c["id"]: c["sla"] for c in listed}[g2] == "green"
    assert [c["id"] for c in svc.list_cases(ACTOR, sla=Sla.RED)["cases"]] == [g1]
    svc.add_contact(ACTOR, g1, channel=ContactChannel.LETTER, summary="letter sent",
                    next_contact_due_us=clock.now + DAY_US)
    assert svc.list_cases(ACTOR, sla=Sla.RED)["total"] == 0


def test_assignment_priority_due_comments_and_compensation(store, svc, clock) -> None:
    store.write_accepted([alert("K1", at=T0), alert("K2", at=T0, ip="45.76.186.1"),
                          alert("K3", at=T0, ip="45.76.186.2"), alert("K4", at=T0, ip="45.76.186.3")])
    svc.refresh()
    cid = account_case(store, "K1")
    assert svc.assign(ACTOR, cid, "op-suzuki")["assignee"] == "op-suzuki"
    assert svc.list_cases(ACTOR, assignee="op-suzuki")["total"] == 1
    assert svc.set_priority(ACTOR, cid, 1)["priority"] == 1
    with pytest.raises(InvalidRequest):
        svc.set_priority(ACTOR, cid, 5)
    assert svc.set_due(ACTOR, cid, clock.now + HOUR_US)["due_at_us"] == clock.now + HOUR_US
    clock.now += 2 * HOUR_US
    assert svc.view(ACTOR, cid)["overdue"] is True
    comment = svc.comment(ACTOR, cid, "customer confirmed the login was not theirs")
    assert comment["body"].startswith("customer confirmed")
    comp = svc.set_compensation(ACTOR, cid, damage_yen=1_250_000, sells_yen=2_000_000, buys_yen=1_900_000,
                                status=CompensationStatus.ASSESSING, notes="prices from the TSE close")
    assert comp["damage_yen"] == 1_250_000
    svc.set_compensation(ACTOR, cid, damage_yen=1_250_000, sells_yen=2_000_000, buys_yen=1_900_000,
                         status=CompensationStatus.OFFERED)
    detail = svc.view(ACTOR, cid)
    assert detail["compensation"]["status"] == "offered" and len(detail["comments"]) == 1
    orjson.dumps(detail)  # the API serves it as it is
    with pytest.raises(InvalidRequest):
        svc.set_compensation(ACTOR, cid, damage_yen=-1, sells_yen=0, buys_yen=0, status=CompensationStatus.NONE)
    (campaign,) = rows(store, CaseKind.CAMPAIGN)
    with pytest.raises(Conflict):
        svc.set_compensation(ACTOR, campaign["id"], damage_yen=0, sells_yen=0, buys_yen=0,
                             status=CompensationStatus.NONE)
    with pytest.raises(Conflict):
        svc.add_contact(ACTOR, campaign["id"], channel=ContactChannel.PHONE, summary="x")


def test_bulk_actions_run_over_a_campaigns_account_cases(store, svc, clock) -> None:
    store.write_accepted([alert(f"B{i}", at=T0 + i * MIN, ip=f"45.76.186.{i + 1}") for i in range(4)])
    svc.refresh()
    (campaign,) = rows(store, CaseKind.CAMPAIGN)
    b0 = account_case(store, "B0")
    svc.transition(ACTOR, b0, CaseState.INVESTIGATING)
    out = svc.bulk(ACTOR, action="assign", campaign_id=campaign["id"], include_campaign=True, assignee="op-team-2")
    assert len(out["updated"]) == 5 and out["skipped"] == []
    out = svc.bulk(ACTOR, action="state", campaign_id=campaign["id"], state=CaseState.INVESTIGATING)
    assert len(out["updated"]) == 3 and [s["case_id"] for s in out["skipped"]] == [b0]
    assert out["skipped"][0]["code"] == "mamori.api.conflict"
    out = svc.bulk(ACTOR, action="comment", campaign_id=campaign["id"], body="same attacker network, see campaign")
    assert len(out["updated"]) == 4
    with pytest.raises(InvalidRequest):
        svc.bulk(ACTOR, action="state", campaign_id=campaign["id"])
    with pytest.raises(Conflict):
        svc.bulk(ACTOR, action="assign", campaign_id=b0, assignee="x")
    assert {c["assignee"] for c in svc.list_cases(ACTOR, kind=CaseKind.ACCOUNT)["cases"]} == {"op-team-2"}


# -- attachments and letters ----------------------------------------------------------------------------
def test_attachments_are_stored_by_digest_and_never_served_as_executable(store, svc, tmp_path) -> None:
    store.write_accepted([alert("F1", at=T0)])
    svc.refresh()
    cid = account_case(store, "F1")
    html = b"<html><script>alert(1)</script></html>"
    meta = svc.add_attachment(ACTOR, cid, filename="../../evil.html", content_type="text/html; charset=utf-8",
                              data_base64=base64.b64encode(html).decode())
    assert (meta["filename"], meta["content_type"], meta["size"]) == ("evil.html", "text/html", len(html))
    stored = tmp_path / "data" / "case-attachments" / meta["sha256"][:2] / meta["sha256"]
    assert stored.read_bytes() == html and stored.stat().st_mode & 0o077 == 0
    row, data = svc.attachment(ACTOR, cid, meta["id"])
    assert data == html and served_type(row["content_type"]) == FALLBACK_TYPE
    assert served_type("application/pdf") == "application/pdf" and served_type("image/svg+xml") == FALLBACK_TYPE
    assert download_headers("a\"b.pdf", meta["sha256"])["Content-Disposition"] == 'attachment; filename="a_b.pdf"'
    assert clean_filename("C:\\Users\\x\\明細.pdf") == "明細.pdf"
    for bad in ({"data_base64": "***"}, {"content_type": "html"}, {"filename": "/"}):
        args = {"filename": "a.txt", "content_type": "text/plain", "data_base64": "aGk=", **bad}
        with pytest.raises(InvalidRequest) as err:
            svc.add_attachment(ACTOR, cid, **args)
        assert err.value.details[0]["field"] == next(iter(bad))
    small = CasesService(store, tmp_path / "data", max_attachment_bytes=4)
    with pytest.raises(InvalidRequest):
        small.add_attachment(ACTOR, cid, filename="a.txt", content_type="text/plain",
                             data_base64=base64.b64encode(b"12345").decode())
    stored.write_bytes(b"tampered")
    with pytest.raises(Exception, match="SHA-256"):
        svc.attachment(ACTOR, cid, meta["id"])


def test_letters_have_no_links_and_refuse_typed_links(store, svc, clock, tmp_path) -> None:
    store.write_accepted([alert("Y1", at=T0, event_type="login", result="success"),
                          alert("Y1", at=T0 + MIN, side="sell", symbol="7203"),
                          alert("Y1", at=T0 + 2 * MIN, decision="block", side="buy", symbol="3777")])
    svc.refresh()
    cid = account_case(store, "Y1")
    svc.transition(ACTOR, cid, CaseState.INVESTIGATING, disposition=Disposition.CONFIRMED_TAKEOVER,
                   next_contact_due_us=clock.now + DAY_US)
    ja = svc.letter(ACTOR, cid, Language.JA, customer_name="山田 太郎", message="お電話でご説明した内容のとおりです。")
    en = svc.letter(ACTOR, cid, Language.EN)
    for letter in (ja, en):
        assert find_links(letter.subject + "\n" + letter.body) == []
        assert f"MC-{cid:06d}" in letter.body and "0120-000-000" in letter.body
    assert "山田 太郎 様" in ja.body and "保留" in ja.body and "ログイン" in ja.body
    assert "Dear customer," in en.body and "sell orders" in en.body
    for field, value in (("message", "詳しくは https://mamori.example.jp をご覧ください"),
                         ("message", "see ｗｗｗ．example．com"), ("customer_name", "taro@example.jp"),
                         ("message", "mail support (at) example [.] com")):
        with pytest.raises(InvalidRequest) as refused:
            svc.letter(ACTOR, cid, Language.JA, **{field: value})
        assert refused.value.details[0]["field"] == field
    store.write_accepted([alert(f"Z{i}", at=T0, ip="45.76.186.9") for i in range(3)])
    svc.refresh()
    (campaign,) = rows(store, CaseKind.CAMPAIGN)
    with pytest.raises(Conflict):
        svc.letter(ACTOR, campaign["id"], Language.JA)
    with pytest.raises(Conflict):
        CasesService(store, tmp_path / "data").letter(ACTOR, cid, Language.EN)  # no support phone configured


# -- audit ----------------------------------------------------------------------------------------------
def test_every_view_and_action_is_audited_without_personal_data(store, svc, clock) -> None:
    store.write_accepted([alert("U1", at=T0)])
    svc.refresh()
    cid = account_case(store, "U1")
    before = store.verify_audit_chain()
    svc.view(ACTOR, cid)
    svc.list_cases(ACTOR)
    svc.transition(ACTOR, cid, CaseState.INVESTIGATING, disposition=Disposition.CONFIRMED_TAKEOVER,
                   next_contact_due_us=clock.now + DAY_US)
    svc.comment(ACTOR, cid, "Mr Yamada's daughter answered")
    svc.add_contact(ACTOR, cid, channel=ContactChannel.PHONE, summary="spoke to Yamada Taro at 090-1234-5678",
                    next_contact_due_us=clock.now + 2 * DAY_US)
    svc.letter(ACTOR, cid, Language.JA, customer_name="山田 太郎")
    with store.engine.connect() as conn:
        records = conn.execute(select(audit_log).order_by(audit_log.c.seq)).mappings().all()[before:]
        pending = conn.execute(select(func.count()).where(case_events.c.audit_pending.is_(True))).scalar()
    assert [r["action"] for r in records] == ["case.view", "case.list", "case.state", "case.comment",
                                              "case.contact.add", "case.letter"]
    assert {r["actor"] for r in records} == {ACTOR} and {r["target"] for r in records} == {f"case:{cid}", "cases"}
    text = " ".join(r["details"] for r in records)
    for personal in ("Yamada", "山田", "090-1234-5678", "daughter"):
        assert personal not in text
    assert pending == 0
    assert store.verify_audit_chain() == before + 6


def test_an_action_whose_audit_append_fails_is_audited_later(store, svc, monkeypatch) -> None:
    store.write_accepted([alert("Q1", at=T0)])
    svc.refresh()
    cid = account_case(store, "Q1")
    real = store.audit

    def broken(**_kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "audit", broken)
    svc.assign(ACTOR, cid, "op-1")  # the action stands; its audit record waits
    with pytest.raises(RuntimeError):
        svc.view(ACTOR, cid)  # a view whose audit fails shows nothing
    monkeypatch.setattr(store, "audit", real)
    assert svc.flush_audit() == 1
    with store.engine.connect() as conn:
        last = conn.execute(select(audit_log).order_by(audit_log.c.seq.desc()).limit(1)).mappings().one()
    assert (last["action"], orjson.loads(last["details"])["assignee"]) == ("case.assign", "op-1")
    assert svc.flush_audit() == 0
    with store.engine.begin() as conn:  # the chain is what it verifies against, and verifies
        conn.execute(update(case_events).values(audit_pending=False))
    store.verify_audit_chain()
