"""Tables of rule management (SQLAlchemy Core, own ``MetaData``, created on the shared engine).

Times are integer microseconds UTC, like the rest of the store; works on SQLite and PostgreSQL.

* ``rule_hit_counts`` - fires per (rule, kind, hour): ``kind`` is ``active`` (the rule set's
  verdict) or ``shadow`` (rules in ``mode: shadow``); filled incrementally from stored decisions;
* ``rule_shadow_counts`` - per shadow candidate identity: (active verdict, candidate verdict) counts;
* ``rule_shadow_samples`` - a bounded sample of events whose candidate verdict differs;
* ``rulesadmin_cursor`` - how far (event ``seq``) the counters have read;
* ``rule_drafts`` / ``rule_draft_revisions`` - drafts and every saved version of their text;
* ``rule_backtests`` - backtests of a draft revision with their progress and result;
* ``rule_shadow_runs`` - which draft revision ran in the shadow slot, from when to when;
* ``rule_publications`` - publication and rollback requests, their approval and the result.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Engine, Index, Integer, MetaData, String, Table, Text

from mamori.adapters.sql.schema import AUTO_ID

metadata = MetaData()

rule_hit_counts = Table(
    "rule_hit_counts", metadata,
    Column("rule_id", String(64), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("hour_us", BigInteger, primary_key=True),
    Column("hits", BigInteger, nullable=False),
)
Index("ix_rule_hit_counts_hour", rule_hit_counts.c.hour_us)

rule_shadow_counts = Table(
    "rule_shadow_counts", metadata,
    Column("candidate", String(128), primary_key=True),
    Column("active_verdict", String(16), primary_key=True),
    Column("candidate_verdict", String(16), primary_key=True),
    Column("events", BigInteger, nullable=False),
)

rule_shadow_samples = Table(
    "rule_shadow_samples", metadata,
    Column("candidate", String(128), primary_key=True),
    Column("event_id", String(128), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("summary", Text, nullable=False),
)

rulesadmin_cursor = Table(
    "rulesadmin_cursor", metadata,
    Column("name", String(32), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

rule_drafts = Table(
    "rule_drafts", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("rule_id", String(64), nullable=False),
    Column("is_new", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # open | published | withdrawn
    Column("author", String(160), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("revision", Integer, nullable=False),
)
Index("ix_rule_drafts_rule", rule_drafts.c.rule_id)

rule_draft_revisions = Table(
    "rule_draft_revisions", metadata,
    Column("draft_id", BigInteger, primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("text", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("author", String(160), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("base_identity", String(128), nullable=False),
    Column("candidate_identity", String(128), nullable=True),  # None: it does not compile
    Column("errors", Text, nullable=False),
)

rule_backtests = Table(
    "rule_backtests", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("draft_id", BigInteger, nullable=False, index=True),
    Column("revision", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # running | done | cancelled | failed | interrupted
    Column("requested_by", String(160), nullable=False),
    Column("since_us", BigInteger, nullable=True),
    Column("until_us", BigInteger, nullable=True),
    Column("max_events", Integer, nullable=False),
    Column("processed", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("started_at_us", BigInteger, nullable=False),
    Column("finished_at_us", BigInteger, nullable=True),
    Column("result", Text, nullable=True),
    Column("error", Text, nullable=True),
)

rule_shadow_runs = Table(
    "rule_shadow_runs", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("draft_id", BigInteger, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("candidate_identity", String(128), nullable=False),
    Column("started_by", String(160), nullable=False),
    Column("started_at_us", BigInteger, nullable=False),
    Column("from_seq", BigInteger, nullable=False),
    Column("stopped_at_us", BigInteger, nullable=True),
)

rule_publications = Table(
    "rule_publications", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # publish | rollback
    Column("draft_id", BigInteger, nullable=True),
    Column("revision", Integer, nullable=True),
    Column("status", String(16), nullable=False),  # requested | published | rejected | refused
    Column("requested_by", String(160), nullable=False),
    Column("requested_at_us", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("override_reason", Text, nullable=True),  # publishing without a finished backtest
    Column("base_identity", String(128), nullable=False),
    Column("decided_by", String(160), nullable=True),
    Column("decided_at_us", BigInteger, nullable=True),
    Column("new_identity", String(128), nullable=True),
    Column("directory", Text, nullable=True),
    Column("previous_directory", Text, nullable=True),
)


def create_tables(engine: Engine) -> None:
    """Create the rule management tables if they do not exist (idempotent)."""
    metadata.create_all(engine)
