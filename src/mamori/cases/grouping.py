"""File the engine's alerts into cases: per account, per campaign, per counterparty.

:class:`CaseBuilder` reads the alerts after its watermark (the newest alert id it filed, kept in
``case_builder_state``) with each alert's decision body and event payload, and files every alert:

* into the **account** case of its account: the open one, or a new one (one open case per account);
* into a **campaign** case when accounts' alerts share a campaign key (:mod:`mamori.cases.keys`:
  same device, same source /24, or buys of one symbol after rules tagged ``campaign``/``pump``) and
  at least ``campaign_min_accounts`` (3) distinct accounts have such alerts within the key's window
  (6 h for sources, 2 h for symbols) of each other;
* into a **counterparty** case when at least ``counterparty_min_accounts`` (2) accounts send
  withdrawals to (or register as withdrawal account) one destination within 30 days.

Once a campaign or counterparty case is open, later alerts sharing any of its keys within the
window join it, and so do the earlier alerts with that key that were waiting for the threshold.
Alert times are the events' ``occurred_at`` (so replays and backfills group like live traffic).

Idempotent and incremental: each batch is one transaction that files its alerts and advances the
watermark with a compare-and-set, so two builders never file a batch twice (the loser rolls back
and retries), and ``case_alerts`` has one row per (alert, case kind). On PostgreSQL an alert id can
become visible after a higher one (concurrent writers); the builder therefore also re-reads the last
``lookback_ids`` ids below its watermark and files any alert found unfiled there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, exists, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from mamori.adapters.sql.schema import alerts, decisions, events
from mamori.adapters.sql.store import now_us
from mamori.cases.filing import Filing, GroupingPolicy, NewAlert
from mamori.cases.keys import grouping_keys
from mamori.cases.model import CaseKind
from mamori.cases.store import begin_write, case_alerts, case_builder_state, create_tables

__all__ = ["WATERMARK", "BuildReport", "CaseBuilder", "GroupingPolicy", "bench_grouping"]

WATERMARK = "alerts_watermark"
ANALYZE_EVERY_BATCHES = 5


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What one :meth:`CaseBuilder.run` did."""

    alerts_filed: int
    cases_created: int
    cases_updated: int
    watermark: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"alerts_filed": self.alerts_filed, "cases_created": self.cases_created,
                "cases_updated": self.cases_updated, "watermark": self.watermark,
                "seconds": round(self.seconds, 4)}


class WatermarkMoved(Exception):
    """Another builder filed this batch first (this one rolls back and reads again)."""


class CaseBuilder:
    """Files alerts into cases; safe to run from several threads or processes (see the module docstring)."""

    def __init__(self, engine: Engine, *, policy: GroupingPolicy | None = None,
                 clock: Callable[[], int] = now_us) -> None:
        self.engine = engine
        self.policy = policy or GroupingPolicy()
        self.clock = clock
        self._lock = threading.Lock()
        create_tables(engine)

    def watermark(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(select(case_builder_state.c.value)
                                 .where(case_builder_state.c.name == WATERMARK)).scalar()
        return int(value or 0)

    def run(self, *, max_batches: int | None = None) -> BuildReport:
        """File every alert not filed yet (or ``max_batches`` batches of them)."""
        began = time.perf_counter()
        filed = created = 0
        updated: set[int] = set()
        batches = 0
        with self._lock:
            for tail in (True, False):
                while max_batches is None or batches < max_batches:
                    n, made, touched, more = self._run_batch_retrying(tail=tail)
                    batches += 1 if n else 0
                    filed, created = filed + n, created + made
                    updated |= touched
                    if batches % ANALYZE_EVERY_BATCHES == 0 and n:
                        self._analyze()
                    if not more:
                        break
        return BuildReport(filed, created, len(updated), self.watermark(), time.perf_counter() - began)

    def _analyze(self) -> None:
        """Refresh PostgreSQL's planner statistics during a long backfill: tables that grew from empty
        in seconds (before autovacuum looked at them) would otherwise be scanned instead of indexed."""
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE case_keys, case_alerts, cases")

    def _run_batch_retrying(self, *, tail: bool) -> tuple[int, int, set[int], bool]:
        for attempt in range(8):
            try:
                with self.engine.begin() as conn:
                    begin_write(conn)  # SQLite: a snapshot that went stale under the event writer would fail
                    return self._batch(conn, tail=tail)
            except (WatermarkMoved, IntegrityError, OperationalError):
                if attempt == 7:
                    raise
                time.sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")

    # -- one batch, one transaction ------------------------------------------------------------
    def _batch(self, conn: Connection, *, tail: bool) -> tuple[int, int, set[int], bool]:
        wm_row = conn.execute(select(case_builder_state.c.value)
                              .where(case_builder_state.c.name == WATERMARK)).scalar()
        wm = int(wm_row or 0)
        batch = self.policy.batch
        if tail:  # unfiled alerts below the watermark (ids that became visible late)
            if wm == 0:
                return 0, 0, set(), False
            filed = exists().where(case_alerts.c.alert_id == alerts.c.id,
                                   case_alerts.c.kind == CaseKind.ACCOUNT.value)
            cond: Any = and_(alerts.c.id <= wm, alerts.c.id > wm - self.policy.lookback_ids, ~filed)
        else:
            cond = alerts.c.id > wm
        rows = conn.execute(
            select(alerts.c.id, alerts.c.event_type, alerts.c.account_id, alerts.c.decision, alerts.c.score,
                   decisions.c.occurred_at_us, decisions.c.body, events.c.payload)
            .select_from(alerts.join(decisions, decisions.c.event_id == alerts.c.event_id)
                         .join(events, events.c.event_id == alerts.c.event_id))
            .where(cond).order_by(alerts.c.id).limit(batch)).all()
        if not rows:
            return 0, 0, set(), False
        new_wm = max(wm, int(rows[-1][0]))
        if new_wm != wm:
            self._advance(conn, wm, new_wm, existed=wm_row is not None)
        batch_alerts = [NewAlert(int(r[0]), r[2], int(r[5]), r[3], int(r[4]),
                               grouping_keys(r[1], orjson.loads(r[7]), orjson.loads(r[6]))) for r in rows]
        created, touched = Filing(conn, self.policy, self.clock()).file(batch_alerts)
        return len(batch_alerts), created, touched, len(rows) == batch

    @staticmethod
    def _advance(conn: Connection, old: int, new: int, *, existed: bool) -> None:
        """Compare-and-set the watermark first, so that a concurrent builder waits here and then loses."""
        if not existed:  # a concurrent first insert fails on the primary key: the batch is retried
            conn.execute(insert(case_builder_state).values(name=WATERMARK, value=new))
            return
        result = conn.execute(update(case_builder_state).where(
            case_builder_state.c.name == WATERMARK, case_builder_state.c.value == old).values(value=new))
        if result.rowcount != 1:
            raise WatermarkMoved()


def bench_grouping(n: int = 20_000, *, url: str | None = None) -> float:
    """Alerts filed per second by :class:`CaseBuilder` over ``n`` synthetic alerts (see :mod:`mamori.cases.bench`)."""
    from mamori.cases import bench

    return bench.bench_grouping(n, url=url)
