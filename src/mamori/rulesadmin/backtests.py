"""Backtests of a draft on stored history, in a background thread with progress and cancellation.

The stored events of a period (at most ``max_events``, in acceptance order) are replayed through
the active rule set and the candidate with :func:`mamori.risk.backtest.backtest`; closed cases give
the labels (:func:`mamori.rulesadmin.stats.case_labels`). Progress is written to the backtest's row
every :data:`PROGRESS_EVERY` events, the result (verdict transitions, fires per rule, a sample of the
changed events, precision and recall before and after) when it ends. A cancelled run stops at the
next event (no partial result is kept).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from sqlalchemy import Engine, and_, func, select, update

from mamori.adapters.geo import GeoProvider
from mamori.adapters.sql.schema import events
from mamori.adapters.sql.store import SqlStore, now_us
from mamori.events.models import EventBase
from mamori.events.parse import parse_event
from mamori.kit.errors import MamoriError
from mamori.risk.backtest import backtest
from mamori.risk.rules.model import Ruleset
from mamori.rulesadmin.stats import case_labels
from mamori.rulesadmin.tables import rule_backtests

log = logging.getLogger("mamori.rulesadmin")

PROGRESS_EVERY: Final = 2000
MAX_EVENTS: Final = 1_000_000


class _Cancelled(Exception):
    pass


@dataclass
class Job:
    """A running backtest: the cancel flag and the progress the thread updates."""

    backtest_id: int
    cancel: threading.Event = field(default_factory=threading.Event)
    processed: int = 0
    thread: threading.Thread | None = None


def count_period(engine: Engine, since_us: int | None, until_us: int | None) -> int:
    cond = []
    if since_us is not None:
        cond.append(events.c.occurred_at_us >= since_us)
    if until_us is not None:
        cond.append(events.c.occurred_at_us < until_us)
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events).where(and_(True, *cond))).scalar_one())


def _events(store: SqlStore, job: Job, since_us: int | None, until_us: int | None,
            max_events: int) -> Iterator[EventBase]:
    for n, payload in enumerate(store.iter_events_between(since_us, until_us)):
        if n >= max_events:
            return
        if job.cancel.is_set():
            raise _Cancelled
        if n and n % PROGRESS_EVERY == 0:
            job.processed = n
            _update(store.engine, job.backtest_id, processed=n)
        yield parse_event(payload)
        job.processed = n + 1


def _update(engine: Engine, backtest_id: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(rule_backtests).where(rule_backtests.c.id == backtest_id).values(**values))


def run(store: SqlStore, job: Job, *, baseline: Ruleset, candidate: Ruleset, geo: GeoProvider | None,
        since_us: int | None, until_us: int | None, max_events: int) -> None:
    """The thread's body: replay, then store the result (or the failure) on the backtest's row."""
    status, error = "done", None
    labels = case_labels(store.engine)
    report = None
    try:
        source = _events(store, job, since_us, until_us, max_events)
        report = backtest(source, baseline=baseline, candidate=candidate, geo=geo, labels=labels, max_examples=100)
    except _Cancelled:
        status = "cancelled"
    except MamoriError as exc:
        status, error = "failed", f"{exc.code}: {exc.message}"
    except Exception as exc:  # a thread must record why it stopped, never die silently
        log.exception("backtest %d failed", job.backtest_id)
        status, error = "failed", f"{exc.__class__.__name__}: {exc}"
    result = report.to_dict() if report is not None else None
    if result is not None:
        result["labelled_events"] = len(labels)
    _update(store.engine, job.backtest_id, status=status, processed=job.processed, finished_at_us=now_us(),
            result=orjson.dumps(result).decode() if result is not None else None, error=error)


def start(store: SqlStore, job: Job, **kwargs: Any) -> None:
    job.thread = threading.Thread(target=run, args=(store, job), kwargs=kwargs,
                                  name=f"mamori-backtest-{job.backtest_id}", daemon=True)
    job.thread.start()
