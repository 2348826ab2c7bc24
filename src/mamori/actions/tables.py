"""Tables of actions (SQLAlchemy Core, own ``MetaData``, created on the shared engine; SQLite and
PostgreSQL; times in integer microseconds UTC like the rest of the store).

* ``held_items`` - one row per order or withdrawal the engine held: ``pending`` until an approved
  action ``released`` or ``cancelled`` it (who, when, which action). Filled incrementally from the
  alerts table (every ``hold`` decision raises an alert) past a watermark kept in ``held_state``.
* ``actions`` - one row per proposed action, its parameters, its state and who moved it.
* ``action_audit`` - the audit outbox: each step's record, written in the step's own transaction.
* ``action_webhooks`` - the outbox of calls to the firm's systems: written in the transaction that
  approves the action, delivered by the worker with backoff, ``pending`` -> ``delivered`` | ``gave_up``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Engine, Index, Integer, MetaData, String, Table, Text

from mamori.adapters.sql.schema import AUTO_ID

metadata = MetaData()

held_items = Table(
    "held_items", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("event_id", String(128), nullable=False, unique=True),
    Column("alert_id", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),  # order | withdrawal
    Column("event_type", String(32), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("reference", String(128), nullable=False),  # the order id or transfer id of the firm
    Column("summary", Text, nullable=False),  # JSON: symbol, side, quantity, amount... (no addresses)
    Column("rules", Text, nullable=False),  # JSON list of the rule ids that fired
    Column("held_at_us", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),  # pending | released | cancelled
    Column("resolved_by", String(128), nullable=True),  # the approver
    Column("resolved_at_us", BigInteger, nullable=True),
    Column("action_id", String(32), nullable=True),
)  # fmt: skip
Index("ix_held_items_state", held_items.c.state, held_items.c.id)
Index("ix_held_items_account", held_items.c.account_id, held_items.c.id)

held_state = Table(
    "held_state", metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)  # fmt: skip

actions = Table(
    "actions", metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("control", String(16), nullable=False),  # four_eyes | single (the policy that applied)
    Column("target", String(160), nullable=False),  # account:<id> | held:<id> | network:<cidr> | symbol:<s>
    Column("account_id", String(128), nullable=True),
    Column("held_id", BigInteger, nullable=True),
    Column("case_id", BigInteger, nullable=True),
    Column("params", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("proposed_by", String(128), nullable=False),
    Column("proposed_at_us", BigInteger, nullable=False),
    Column("decided_by", String(128), nullable=True),
    Column("decided_at_us", BigInteger, nullable=True),
    Column("decision_note", Text, nullable=True),
    Column("executed_at_us", BigInteger, nullable=True),
    Column("effects", Text, nullable=False),  # JSON: engine event ids, held item state
    Column("webhook", String(16), nullable=False),  # pending | delivered | failed | not_configured
    Column("error", String(300), nullable=True),
    Column("updated_at_us", BigInteger, nullable=False),
)  # fmt: skip
Index("ix_actions_state", actions.c.state, actions.c.proposed_at_us)
Index("ix_actions_account", actions.c.account_id, actions.c.proposed_at_us)

action_webhooks = Table(
    "action_webhooks", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("action_id", String(32), nullable=False, unique=True),
    Column("webhook_id", String(64), nullable=False, unique=True),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | gave_up
    Column("attempts", Integer, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("first_attempt_at_us", BigInteger, nullable=True),
    Column("next_attempt_at_us", BigInteger, nullable=False),
    Column("delivered_at_us", BigInteger, nullable=True),
    Column("last_error", String(300), nullable=False),
    Column("ready", Boolean, nullable=False),  # the action's effects inside mamori are done
    Column("updated_at_us", BigInteger, nullable=False),
)  # fmt: skip
Index("ix_action_webhooks_due", action_webhooks.c.status, action_webhooks.c.next_attempt_at_us)

action_audit = Table(
    "action_audit", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(160), nullable=False),
    Column("details", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("pending", Boolean, nullable=False),
)  # fmt: skip
"""Every step, written in the transaction that makes it, then appended to the hash-chained audit log
(``pending`` until appended; appended at least once, with its ``audit_id``)."""
Index("ix_action_audit_pending", action_audit.c.pending, action_audit.c.id)


def create_tables(engine: Engine) -> None:
    metadata.create_all(engine)
