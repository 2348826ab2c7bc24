"""Reading cases: the list (red SLA first), one case with everything an analyst needs, letter facts.

The list is ordered by victim-contact SLA (red, amber, then the rest), then priority (1 first), then
due date (earliest first, none last), then newest case first, and paged by offset.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from sqlalchemy import Connection, and_, case, distinct, func, select

from mamori.adapters.sql.schema import alerts, events
from mamori.cases.letters import LetterFacts
from mamori.cases.model import AMBER_BEFORE_US, CaseKind, CaseState, CompensationStatus, Sla
from mamori.cases.store import (
    CaseRecord,
    case_alerts,
    case_attachments,
    case_comments,
    case_contacts,
    case_events,
    case_keys,
    cases,
    load_case,
)
from mamori.cases.workflow import compensation_of

ALERT_LIMIT: Final = 500
_EVENT_FIELDS: Final = ("type", "occurred_at", "ip", "device_id", "channel", "user_agent", "result", "method",
                        "symbol", "side", "quantity", "price", "order_type", "amount", "asset", "chain", "address",
                        "amount_jpy", "bank_account_fingerprint", "setting", "change")


def plain(row: Any) -> dict[str, Any]:
    """A row mapping as a dict with plain ``str`` keys (column names can be ``quoted_name``)."""
    return {str(k): v for k, v in row.items()}


def sla_condition(sla: Sla, now: int) -> Any:
    due = cases.c.next_contact_due_at_us
    if sla is Sla.RED:
        return and_(due.is_not(None), due < now)
    if sla is Sla.AMBER:
        return and_(due.is_not(None), due >= now, due <= now + AMBER_BEFORE_US)
    if sla is Sla.GREEN:
        return and_(due.is_not(None), due > now + AMBER_BEFORE_US)
    return due.is_(None)


def list_cases(conn: Connection, *, now: int, state: CaseState | None = None, kind: CaseKind | None = None,
               assignee: str | None = None, sla: Sla | None = None, priority: int | None = None,
               account_id: str | None = None, open_only: bool = False, limit: int = 50,
               offset: int = 0) -> tuple[list[CaseRecord], int]:
    """A page of cases and the number of cases matching the filters."""
    cond: list[Any] = []
    if state is not None:
        cond.append(cases.c.state == state.value)
    if open_only:
        cond.append(cases.c.state != CaseState.CLOSED.value)
    if kind is not None:
        cond.append(cases.c.kind == kind.value)
    if assignee is not None:
        cond.append(cases.c.assignee == assignee)
    if sla is not None:
        cond.append(sla_condition(sla, now))
    if priority is not None:
        cond.append(cases.c.priority == priority)
    if account_id is not None:
        members = select(case_alerts.c.case_id).where(case_alerts.c.account_id == account_id)
        cond.append(cases.c.id.in_(members))
    due = cases.c.next_contact_due_at_us
    rank = case((sla_condition(Sla.RED, now), 0), (sla_condition(Sla.AMBER, now), 1), else_=2)
    stmt = (select(cases).where(*cond)
            .order_by(rank, cases.c.priority, case((cases.c.due_at_us.is_(None), 1), else_=0), cases.c.due_at_us,
                      due, cases.c.id.desc())
            .limit(limit).offset(offset))
    rows = [CaseRecord.from_row(r) for r in conn.execute(stmt)]
    total = int(conn.execute(select(func.count()).select_from(cases).where(*cond)).scalar_one())
    return rows, total


def case_alert_rows(conn: Connection, case_id: int, *, limit: int = ALERT_LIMIT) -> list[dict[str, Any]]:
    """The case's alerts in time order, each with the event fields an analyst reads (personal data)."""
    stmt = (select(alerts.c.id, alerts.c.event_id, alerts.c.event_type, alerts.c.account_id, alerts.c.decision,
                   alerts.c.score, alerts.c.rules, alerts.c.created_at_us, alerts.c.status, case_alerts.c.at_us,
                   events.c.payload)
            .select_from(case_alerts.join(alerts, alerts.c.id == case_alerts.c.alert_id)
                         .outerjoin(events, events.c.event_id == alerts.c.event_id))
            .where(case_alerts.c.case_id == case_id).order_by(case_alerts.c.at_us, alerts.c.id).limit(limit))
    out = []
    for r in conn.execute(stmt):
        payload = orjson.loads(r.payload) if r.payload else {}
        out.append({"id": r.id, "event_id": r.event_id, "event_type": r.event_type, "account_id": r.account_id,
                    "decision": r.decision, "score": r.score, "rules": orjson.loads(r.rules),
                    "created_at_us": r.created_at_us, "occurred_at_us": r.at_us, "status": r.status,
                    "event": {k: payload[k] for k in _EVENT_FIELDS if k in payload}})
    return out


def case_detail(conn: Connection, case_id: int, *, now: int) -> dict[str, Any]:
    """One case with alerts, accounts, grouping keys, related cases, comments, attachments, contacts,
    compensation and history."""
    record = load_case(conn, case_id)
    detail = record.to_dict(now)
    detail["alerts"] = case_alert_rows(conn, case_id)
    detail["alerts_truncated"] = record.alert_count > len(detail["alerts"])
    accounts = conn.execute(select(case_alerts.c.account_id, func.count())
                            .where(case_alerts.c.case_id == case_id)
                            .group_by(case_alerts.c.account_id).order_by(case_alerts.c.account_id)).all()
    detail["accounts"] = [{"account_id": a, "alerts": int(n)} for a, n in accounts]
    if record.kind is CaseKind.ACCOUNT:
        detail["keys"] = []
        detail["related_cases"] = related_cases(conn, case_id)
    else:
        keys = conn.execute(select(case_keys.c.key, func.count(distinct(case_keys.c.account_id)))
                            .select_from(case_keys.join(case_alerts, and_(
                                case_alerts.c.alert_id == case_keys.c.alert_id,
                                case_alerts.c.kind == case_keys.c.kind)))
                            .where(case_alerts.c.case_id == case_id)
                            .group_by(case_keys.c.key).order_by(case_keys.c.key)).all()
        detail["keys"] = [{"key": k, "accounts": int(n)} for k, n in keys]
        detail["account_cases"] = member_account_cases(conn, case_id)
    detail["comments"] = [plain(r) for r in conn.execute(
        select(case_comments).where(case_comments.c.case_id == case_id).order_by(case_comments.c.id)).mappings()]
    detail["attachments"] = [plain(r) for r in conn.execute(
        select(case_attachments).where(case_attachments.c.case_id == case_id)
        .order_by(case_attachments.c.id)).mappings()]
    detail["contacts"] = [plain(r) for r in conn.execute(
        select(case_contacts).where(case_contacts.c.case_id == case_id)
        .order_by(case_contacts.c.at_us, case_contacts.c.id)).mappings()]
    detail["compensation"] = compensation_of(conn, case_id)
    detail["history"] = [
        {**{k: r[k] for k in ("id", "at_us", "actor", "action", "from_state", "to_state", "reason")},
         "details": orjson.loads(r["details"])}
        for r in conn.execute(select(case_events).where(case_events.c.case_id == case_id)
                              .order_by(case_events.c.id)).mappings()]
    return detail


def member_account_cases(conn: Connection, group_case_id: int, *, open_only: bool = False) -> list[dict[str, Any]]:
    """The account cases of the accounts in a campaign or counterparty case (newest per account)."""
    accounts = select(case_alerts.c.account_id).where(case_alerts.c.case_id == group_case_id)
    cond = [cases.c.kind == CaseKind.ACCOUNT.value, cases.c.key.in_(accounts)]
    if open_only:
        cond.append(cases.c.state != CaseState.CLOSED.value)
    rows = conn.execute(select(cases.c.id, cases.c.key, cases.c.state).where(*cond)
                        .order_by(cases.c.key, cases.c.id.desc())).all()
    return [{"id": int(i), "account_id": k, "state": s} for i, k, s in rows]


def related_cases(conn: Connection, account_case_id: int) -> list[dict[str, Any]]:
    """Campaign and counterparty cases that hold alerts of this account case."""
    mine = select(case_alerts.c.alert_id).where(case_alerts.c.case_id == account_case_id)
    rows = conn.execute(select(cases.c.id, cases.c.kind, cases.c.key, cases.c.state).distinct()
                        .select_from(case_alerts.join(cases, cases.c.id == case_alerts.c.case_id))
                        .where(case_alerts.c.alert_id.in_(mine), case_alerts.c.kind != CaseKind.ACCOUNT.value)
                        .order_by(cases.c.id)).all()
    return [{"id": int(i), "kind": k, "key": key, "state": s} for i, k, key, s in rows]


def letter_facts(conn: Connection, record: CaseRecord) -> LetterFacts:
    """What the victim letter of an account case may say, from its alerts and compensation."""
    rows = conn.execute(
        select(alerts.c.event_type, alerts.c.decision, events.c.payload)
        .select_from(case_alerts.join(alerts, alerts.c.id == case_alerts.c.alert_id)
                     .outerjoin(events, events.c.event_id == alerts.c.event_id))
        .where(case_alerts.c.case_id == record.id)).all()
    activities: set[str] = set()
    held = False
    for event_type, decision, payload in rows:
        held = held or decision in ("hold", "block")
        side = orjson.loads(payload).get("side") if payload else None
        activities.add({"login": "login", "fiat_withdrawal": "withdrawal", "crypto_withdrawal": "withdrawal",
                        "settings_change": "settings"}.get(event_type, "sell" if side == "sell" else
                                                           "buy" if side == "buy" else "other"))
    comp = compensation_of(conn, record.id)
    return LetterFacts(case_id=record.id, takeover_confirmed=record.takeover_confirmed,
                       first_at_us=record.first_alert_at_us, activities=frozenset(activities), held=held,
                       state=record.state, compensation=CompensationStatus(comp["status"]) if comp else None,
                       next_contact_due_us=record.next_contact_due_at_us)

