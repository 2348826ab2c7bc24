"""Tables of case management (SQLAlchemy Core, own ``MetaData``, created on the shared engine).

Works on SQLite and PostgreSQL; times are integer microseconds UTC like the rest of the store.

* ``cases`` - one row per case: kind (account | campaign | counterparty) and key (account id,
  campaign key such as ``net:203.0.113.0/24`` / ``device:…`` / ``symbol:3777``, or counterparty key
  ``bank:…`` / ``address:…``), workflow fields, alert aggregates and the victim-contact SLA fields.
  A partial unique index keeps at most one *open* case per (kind, key).
* ``case_alerts`` - which alert is in which case; an alert is in at most one case of each kind.
* ``case_keys`` - the grouping keys of every filed alert (campaign and counterparty evidence).
* ``case_comments``, ``case_attachments`` (files under the data directory, by SHA-256),
  ``case_contacts`` (victim contact log), ``case_compensation`` (one row per case).
* ``case_events`` - the case's own history: every change with who, when, why. It is also the
  outbox of the audit log: a row with ``audit_pending`` is appended to the hash-chained audit log
  after its transaction commits (see :mod:`mamori.cases.service`).
* ``case_builder_state`` - the grouping watermark (newest alert id filed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
)

from mamori.adapters.sql.schema import AUTO_ID
from mamori.cases.model import CaseKind, CaseState, Disposition, reference, sla_status
from mamori.kit.errors import NotFound

metadata = MetaData()

cases = Table(
    "cases", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("key", String(256), nullable=False),
    Column("title", String(300), nullable=False),
    Column("state", String(24), nullable=False),
    Column("disposition", String(32), nullable=True),
    Column("priority", Integer, nullable=False),
    Column("assignee", String(128), nullable=True),
    Column("due_at_us", BigInteger, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("closed_at_us", BigInteger, nullable=True),
    Column("first_alert_at_us", BigInteger, nullable=False),
    Column("last_alert_at_us", BigInteger, nullable=False),
    Column("alert_count", Integer, nullable=False),
    Column("account_count", Integer, nullable=False),
    Column("max_score", Integer, nullable=False),
    Column("next_contact_due_at_us", BigInteger, nullable=True),
    Column("last_contact_at_us", BigInteger, nullable=True),
)  # fmt: skip
Index("ux_cases_open_key", cases.c.kind, cases.c.key, unique=True,
      sqlite_where=cases.c.state != "closed", postgresql_where=cases.c.state != "closed")
Index("ix_cases_kind_key", cases.c.kind, cases.c.key)
Index("ix_cases_state_priority", cases.c.state, cases.c.priority)
Index("ix_cases_next_contact", cases.c.next_contact_due_at_us)

case_alerts = Table(
    "case_alerts", metadata,
    Column("alert_id", BigInteger, primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("case_id", BigInteger, ForeignKey("cases.id"), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("added_at_us", BigInteger, nullable=False),
)  # fmt: skip
Index("ix_case_alerts_case", case_alerts.c.case_id, case_alerts.c.account_id)
Index("ix_case_alerts_account", case_alerts.c.account_id)

case_keys = Table(
    "case_keys", metadata,
    Column("alert_id", BigInteger, primary_key=True),
    Column("key", String(256), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("at_us", BigInteger, nullable=False),
)  # fmt: skip
Index("ix_case_keys_key_time", case_keys.c.key, case_keys.c.at_us)

case_comments = Table(
    "case_comments", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, ForeignKey("cases.id"), nullable=False, index=True),
    Column("at_us", BigInteger, nullable=False),
    Column("author", String(128), nullable=False),
    Column("body", Text, nullable=False),
)  # fmt: skip

case_attachments = Table(
    "case_attachments", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, ForeignKey("cases.id"), nullable=False, index=True),
    Column("at_us", BigInteger, nullable=False),
    Column("author", String(128), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(128), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
)  # fmt: skip

case_contacts = Table(
    "case_contacts", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, ForeignKey("cases.id"), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("summary", Text, nullable=False),
    Column("next_contact_due_at_us", BigInteger, nullable=True),
    Column("by", String(128), nullable=False),
    Column("logged_at_us", BigInteger, nullable=False),
)  # fmt: skip

case_compensation = Table(
    "case_compensation", metadata,
    Column("case_id", BigInteger, ForeignKey("cases.id"), primary_key=True),
    Column("damage_yen", BigInteger, nullable=False),
    Column("sells_yen", BigInteger, nullable=False),
    Column("buys_yen", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("notes", Text, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("updated_by", String(128), nullable=False),
)  # fmt: skip

case_events = Table(
    "case_events", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, ForeignKey("cases.id"), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("from_state", String(24), nullable=True),
    Column("to_state", String(24), nullable=True),
    Column("reason", Text, nullable=True),
    Column("details", Text, nullable=False),
    Column("audit_pending", Boolean, nullable=False),
)  # fmt: skip
Index("ix_case_events_case", case_events.c.case_id, case_events.c.id)
Index("ix_case_events_pending", case_events.c.audit_pending)

case_builder_state = Table(
    "case_builder_state", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)  # fmt: skip

ALL_TABLES = (cases, case_alerts, case_keys, case_comments, case_attachments, case_contacts, case_compensation,
              case_events, case_builder_state)


def create_tables(engine: Engine) -> None:
    """Create the case tables on ``engine`` if they do not exist (next to the core store's tables)."""
    metadata.create_all(engine)


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """One row of ``cases``."""

    id: int
    kind: CaseKind
    key: str
    title: str
    state: CaseState
    disposition: Disposition | None
    priority: int
    assignee: str | None
    due_at_us: int | None
    created_at_us: int
    updated_at_us: int
    closed_at_us: int | None
    first_alert_at_us: int
    last_alert_at_us: int
    alert_count: int
    account_count: int
    max_score: int
    next_contact_due_at_us: int | None
    last_contact_at_us: int | None

    @classmethod
    def from_row(cls, row: Any) -> CaseRecord:
        m = row._mapping if hasattr(row, "_mapping") else row
        return cls(
            id=int(m["id"]), kind=CaseKind(m["kind"]), key=m["key"], title=m["title"], state=CaseState(m["state"]),
            disposition=Disposition(m["disposition"]) if m["disposition"] else None, priority=int(m["priority"]),
            assignee=m["assignee"], due_at_us=m["due_at_us"], created_at_us=int(m["created_at_us"]),
            updated_at_us=int(m["updated_at_us"]), closed_at_us=m["closed_at_us"],
            first_alert_at_us=int(m["first_alert_at_us"]), last_alert_at_us=int(m["last_alert_at_us"]),
            alert_count=int(m["alert_count"]), account_count=int(m["account_count"]), max_score=int(m["max_score"]),
            next_contact_due_at_us=m["next_contact_due_at_us"], last_contact_at_us=m["last_contact_at_us"])

    @property
    def is_open(self) -> bool:
        return self.state is not CaseState.CLOSED

    @property
    def takeover_confirmed(self) -> bool:
        return self.disposition is Disposition.CONFIRMED_TAKEOVER

    def to_dict(self, now_us: int) -> dict[str, Any]:
        return {
            "id": self.id, "reference": reference(self.id), "kind": self.kind.value, "key": self.key,
            "title": self.title, "state": self.state.value,
            "disposition": self.disposition.value if self.disposition else None, "priority": self.priority,
            "assignee": self.assignee, "due_at_us": self.due_at_us, "created_at_us": self.created_at_us,
            "updated_at_us": self.updated_at_us, "closed_at_us": self.closed_at_us,
            "first_alert_at_us": self.first_alert_at_us, "last_alert_at_us": self.last_alert_at_us,
            "alert_count": self.alert_count, "account_count": self.account_count, "max_score": self.max_score,
            "next_contact_due_at_us": self.next_contact_due_at_us, "last_contact_at_us": self.last_contact_at_us,
            "sla": sla_status(self.next_contact_due_at_us, now_us).value,
            "overdue": self.is_open and self.due_at_us is not None and now_us > self.due_at_us,
        }


def load_case(conn: Connection, case_id: int, *, for_update: bool = False) -> CaseRecord:
    """The case ``case_id`` (``FOR UPDATE`` on PostgreSQL when asked); :class:`NotFound` if there is none."""
    stmt = select(cases).where(cases.c.id == case_id)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        raise NotFound(f"no case {case_id}", details=[{"field": "case_id", "message": "unknown case",
                                                       "kind": "not_found"}])
    return CaseRecord.from_row(row)


def add_event(conn: Connection, *, case_id: int, at_us: int, actor: str, action: str,
              details: dict[str, Any] | None = None, from_state: str | None = None, to_state: str | None = None,
              reason: str | None = None, audit: bool = True) -> int:
    """Append to the case's history in the caller's transaction; ``audit`` queues it for the audit log.

    ``details`` must hold ids and codes only: it is copied into the audit log, which keeps no personal
    data (the free-text ``reason`` stays in the case's history)."""
    result = conn.execute(insert(case_events).values(
        case_id=case_id, at_us=at_us, actor=actor, action=action, from_state=from_state, to_state=to_state,
        reason=reason, details=orjson.dumps(details or {}, option=orjson.OPT_SORT_KEYS).decode(),
        audit_pending=audit).returning(case_events.c.id))
    return int(result.scalar_one())


def begin_write(conn: Connection) -> None:
    """Take SQLite's write lock at the start of a read-modify-write transaction (PostgreSQL locks
    rows with ``FOR UPDATE`` instead), so that two writers never both act on a stale read."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
