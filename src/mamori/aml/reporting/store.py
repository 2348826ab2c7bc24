"""Tables of suspicious transaction reports (SQLAlchemy Core, own ``MetaData``, on the shared engine).

* ``str_reports`` - one row per *version* of a report. A report is a series of versions that share
  ``series_id`` (the id of its first version); ``version`` counts from 1. Only workflow metadata is
  kept in clear (case, state, who and when). The report document itself - customer identification
  data (取引時確認情報), account and transaction data, the reasons - is ``content_enc``: AES-256-GCM
  ciphertext (see :mod:`mamori.aml.reporting.crypto`), so the database never holds personal data
  in clear.
* ``str_report_events`` - the history of every version: who did what when, with the names of the
  changed fields (never their values). Each row is also written to the hash-chained audit log
  (``audit_pending`` until it is: the table is the audit log's outbox, as for cases).

Contract 5 (for the effectiveness figures): :func:`reports_by_case` and :func:`locked_reports_by_case`.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    distinct,
    func,
    select,
)

from mamori.adapters.sql.schema import AUTO_ID

__all__ = ["FINAL_STATES", "create_tables", "locked_reports_by_case", "reports_by_case", "str_report_events",
           "str_reports"]

metadata = MetaData()

str_reports = Table(
    "str_reports", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("series_id", BigInteger, nullable=True),
    Column("version", Integer, nullable=False),
    Column("case_id", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("last_editor", String(128), nullable=False),
    Column("submitted_at_us", BigInteger, nullable=True),
    Column("submitted_by", String(128), nullable=True),
    Column("locked_at_us", BigInteger, nullable=True),
    Column("locked_by", String(128), nullable=True),
    Column("exported_at_us", BigInteger, nullable=True),
    Column("exported_by", String(128), nullable=True),
    Column("content_enc", LargeBinary, nullable=False),
)  # fmt: skip
Index("ix_str_reports_case", str_reports.c.case_id, str_reports.c.id)
Index("ix_str_reports_series", str_reports.c.series_id, str_reports.c.version, unique=True)
Index("ix_str_reports_state", str_reports.c.state, str_reports.c.updated_at_us)

str_report_events = Table(
    "str_report_events", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("report_id", BigInteger, nullable=False),
    Column("series_id", BigInteger, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("from_state", String(16), nullable=True),
    Column("to_state", String(16), nullable=True),
    Column("details", Text, nullable=False),
    Column("note_enc", LargeBinary, nullable=True),  # e.g. why a version went back to draft: encrypted
    Column("audit_pending", Boolean, nullable=False),
)  # fmt: skip
Index("ix_str_report_events_pending", str_report_events.c.audit_pending)
Index("ix_str_report_events_series", str_report_events.c.series_id, str_report_events.c.id)

FINAL_STATES: Final = ("locked", "exported")
"""States in which a version can no longer change (a compliance officer locked it)."""


def create_tables(engine: Engine) -> None:
    """Create the report tables on ``engine`` if they do not exist."""
    metadata.create_all(engine)


def _count_series(engine: Engine, *, final_only: bool) -> dict[int, int]:
    create_tables(engine)
    cond = [str_reports.c.state.in_(FINAL_STATES)] if final_only else []
    stmt = (select(str_reports.c.case_id, func.count(distinct(str_reports.c.series_id)))
            .where(*cond).group_by(str_reports.c.case_id))
    with engine.connect() as conn:
        return {int(case_id): int(n) for case_id, n in conn.execute(stmt)}


def reports_by_case(engine: Engine) -> dict[int, int]:
    """Case id -> number of suspicious transaction reports drafted from it, in any state (contract 5).

    A report counts once however many versions it has; cases without a report are absent."""
    return _count_series(engine, final_only=False)


def locked_reports_by_case(engine: Engine) -> dict[int, int]:
    """Case id -> number of reports of which a compliance officer locked at least one version
    (``locked`` or ``exported``): the reports that were filed or are ready to file (contract 5)."""
    return _count_series(engine, final_only=True)
