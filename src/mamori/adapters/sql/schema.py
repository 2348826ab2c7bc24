"""Tables of the durable store (SQLAlchemy Core; SQLite by default, PostgreSQL in production).

Times are stored as integer microseconds since the Unix epoch (UTC): exact, sortable and the same
on both databases. Event payloads and decision bodies are JSON text as received / as returned.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

AUTO_ID = BigInteger().with_variant(Integer, "sqlite")
"""The type of auto-incremented ids: 64-bit on PostgreSQL, and SQLite's ``INTEGER PRIMARY KEY`` (the
rowid alias, the only column type SQLite auto-increments) there. Every store module uses this one."""

# Accepted events, in acceptance order (``seq``). The unique ``event_id`` is the idempotency key.
events = Table(
    "events", metadata,
    Column("seq", AUTO_ID, primary_key=True, autoincrement=True),
    Column("event_id", String(128), nullable=False, unique=True),
    Column("event_type", String(32), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("occurred_at_us", BigInteger, nullable=False),
    Column("received_at_us", BigInteger, nullable=False),
    Column("payload", Text, nullable=False),
)
Index("ix_events_account_time", events.c.account_id, events.c.occurred_at_us)
Index("ix_events_time", events.c.occurred_at_us)

# One decision per accepted event, written in the same transaction as the event.
decisions = Table(
    "decisions", metadata,
    Column("event_id", String(128), primary_key=True),
    Column("event_type", String(32), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("occurred_at_us", BigInteger, nullable=False),
    Column("decided_at_us", BigInteger, nullable=False),
    Column("decision", String(16), nullable=False),
    Column("score", Integer, nullable=False),
    Column("ruleset", String(128), nullable=False),
    Column("alert", Boolean, nullable=False),
    Column("body", Text, nullable=False),
)
Index("ix_decisions_account_time", decisions.c.account_id, decisions.c.occurred_at_us)
Index("ix_decisions_verdict_time", decisions.c.decision, decisions.c.decided_at_us)

# Alerts raised by decisions (verdict hold/block or a rule marked alert). Cases build on them.
alerts = Table(
    "alerts", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("event_id", String(128), nullable=False, unique=True),
    Column("event_type", String(32), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("score", Integer, nullable=False),
    Column("rules", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("status", String(32), nullable=False, default="open"),  # e.g. "reported_takeover" (17 characters)
)
Index("ix_alerts_status_time", alerts.c.status, alerts.c.created_at_us)
Index("ix_alerts_account", alerts.c.account_id)

# API keys: only a SHA-256 of the secret part is kept (the key has 256 bits of entropy, so a
# slow password hash adds nothing but latency to every request).
api_keys = Table(
    "api_keys", metadata,
    Column("key_id", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger, nullable=True),
)

# Every rule set that was ever active, immutable; decisions name it by ``identity``.
rulesets = Table(
    "rulesets", metadata,
    Column("identity", String(128), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("sources", Text, nullable=False),
    Column("activated_at_us", BigInteger, nullable=False),
)

# Append-only, hash-chained record of operator actions (key management, rule set activation).
audit_log = Table(
    "audit_log", metadata,
    Column("seq", AUTO_ID, primary_key=True, autoincrement=True),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(256), nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
