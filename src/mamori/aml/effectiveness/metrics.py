"""Outcome figures per scenario over a period of stored history (FSA 「マネロン等対策の有効性検証に
関する対話のための論点・プラクティスの整理」, 2025-03-31: alert volume, alert → case → STR
conversion, precision, time to decision, false-positive reasons).

An alert counts in the period (and the week) in which its event occurred, so a backfill lands where
it belongs; an alert raised outside the engine (the funds tracer's ``AML-TRACE-REACH-001``, which has
no ``events`` row) counts when it was raised. It belongs to a scenario when one of the rules that fired
on it is one of the scenario's rules (so one alert may count for several scenarios). Conversion follows
the alert: into a case (any kind), to a case with a suspicious transaction report draft, to a case with
a locked report.
Precision is measured against *closed* cases only: an alert is a true positive when one of its
closed cases has a fraud disposition (``confirmed_takeover``, ``fraud_attempt_blocked``), a false
positive when its closed cases say ``legitimate``; ``duplicate`` and open cases do not count. Times
run from the alert (its decision) to the first close of one of its cases and to the first lock of a
report on one of its cases.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from sqlalchemy import Engine, and_, func, select

from mamori.adapters.sql.schema import alerts, events
from mamori.aml.effectiveness import sources
from mamori.aml.effectiveness.period import Period, week_of, weeks_of
from mamori.aml.effectiveness.sources import ScenarioLike
from mamori.cases.model import Disposition
from mamori.cases.store import case_alerts, case_events, cases, create_tables
from mamori.kit.errors import InvalidRequest

TRUE_POSITIVE: Final = frozenset({Disposition.CONFIRMED_TAKEOVER.value, Disposition.FRAUD_ATTEMPT_BLOCKED.value})
FALSE_POSITIVE: Final = frozenset({Disposition.LEGITIMATE.value})
HOUR_US: Final = 3_600_000_000
TOP_REASONS: Final = 5
MAX_ALERTS: Final = 5_000_000
"""Bound on the alerts one report reads (a period with more is refused, never a hang)."""


@dataclass(frozen=True, slots=True)
class CaseFacts:
    case_id: int
    closed: bool
    disposition: str | None
    closed_at_us: int | None
    reports: int
    locked_reports: int
    first_lock_us: int | None


@dataclass(frozen=True, slots=True)
class AlertFacts:
    alert_id: int
    event_id: str
    created_at_us: int
    """When the alert was raised (the decision): the start of the times to close and to lock."""
    occurred_at_us: int
    """When the event occurred: what the period and the weeks count by (a backfill is placed in its own week)."""
    rules: frozenset[str]
    cases: tuple[CaseFacts, ...]

    @property
    def outcome(self) -> str | None:
        """``tp``, ``fp`` or None (no closed case with a fraud or legitimate disposition)."""
        closed = [c.disposition for c in self.cases if c.closed]
        if any(d in TRUE_POSITIVE for d in closed):
            return "tp"
        if any(d in FALSE_POSITIVE for d in closed):
            return "fp"
        return None


@dataclass
class ScenarioMetrics:
    scenario_id: str
    title_ja: str
    title_en: str
    rule_ids: tuple[str, ...]
    weeks: dict[str, int] = field(default_factory=dict)
    alerts: int = 0
    in_case: int = 0
    with_str_draft: int = 0
    with_locked_str: int = 0
    cases: int = 0
    cases_with_str_draft: int = 0
    cases_with_locked_str: int = 0
    true_positive: int = 0
    false_positive: int = 0
    median_hours_to_close: float | None = None
    median_hours_to_str_lock: float | None = None
    false_positive_reasons: list[tuple[str, int]] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        judged = self.true_positive + self.false_positive
        return round(self.true_positive / judged, 4) if judged else None

    def rate(self, part: int) -> float | None:
        return round(part / self.alerts, 4) if self.alerts else None

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario_id, "title_ja": self.title_ja, "title_en": self.title_en,
                "rule_ids": list(self.rule_ids), "alerts": self.alerts, "weeks": dict(self.weeks),
                "in_case": self.in_case, "with_str_draft": self.with_str_draft,
                "with_locked_str": self.with_locked_str, "alert_to_case": self.rate(self.in_case),
                "alert_to_str_draft": self.rate(self.with_str_draft),
                "alert_to_locked_str": self.rate(self.with_locked_str), "cases": self.cases,
                "cases_with_str_draft": self.cases_with_str_draft,
                "cases_with_locked_str": self.cases_with_locked_str,
                "true_positive": self.true_positive, "false_positive": self.false_positive,
                "precision": self.precision, "median_hours_to_close": self.median_hours_to_close,
                "median_hours_to_str_lock": self.median_hours_to_str_lock,
                "false_positive_reasons": [{"reason": r, "count": n} for r, n in self.false_positive_reasons]}


def load_alerts(engine: Engine, period: Period) -> list[AlertFacts]:
    """Every alert raised in ``period`` with the facts of the cases it was filed into."""
    create_tables(engine)
    reports = sources.reports_by_case(engine)
    locked = sources.locked_reports_by_case(engine)
    first_lock = sources.first_lock_by_case(engine)
    occurred = func.coalesce(events.c.occurred_at_us, alerts.c.created_at_us)  # no event: a tracer alert
    in_period = and_(occurred >= period.start_us, occurred < period.end_us)
    with engine.connect() as conn:
        rows = conn.execute(select(alerts.c.id, alerts.c.event_id, alerts.c.created_at_us, alerts.c.rules, occurred)
                            .outerjoin(events, events.c.event_id == alerts.c.event_id)
                            .where(in_period).order_by(alerts.c.id).limit(MAX_ALERTS + 1)).all()
        if len(rows) > MAX_ALERTS:
            raise InvalidRequest(f"more than {MAX_ALERTS} alerts in the period; choose a shorter one",
                                 details=[{"field": "to", "message": "period too long", "kind": "value_error"}])
        links = conn.execute(
            select(case_alerts.c.alert_id, cases.c.id, cases.c.state, cases.c.disposition, cases.c.closed_at_us)
            .join(cases, cases.c.id == case_alerts.c.case_id)
            .join(alerts, alerts.c.id == case_alerts.c.alert_id)
            .outerjoin(events, events.c.event_id == alerts.c.event_id).where(in_period)).all()
    by_alert: dict[int, list[CaseFacts]] = {}
    for alert_id, case_id, state, disposition, closed_at in links:
        cid = int(case_id)
        by_alert.setdefault(int(alert_id), []).append(CaseFacts(
            cid, state == "closed", disposition, None if closed_at is None else int(closed_at),
            reports.get(cid, 0), locked.get(cid, 0), first_lock.get(cid)))
    return [AlertFacts(int(i), str(e), int(at), int(occurred), frozenset(orjson.loads(r)),
                       tuple(by_alert.get(int(i), ()))) for i, e, at, r, occurred in rows]


def false_positive_reasons(engine: Engine, case_ids: Iterable[int]) -> dict[int, str]:
    """Case id -> the reason given when it was last closed as ``legitimate`` (normalised: trimmed,
    whitespace collapsed, at most 120 characters)."""
    wanted = sorted(set(case_ids))
    out: dict[int, str] = {}
    with engine.connect() as conn:
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            rows = conn.execute(select(case_events.c.case_id, case_events.c.reason, case_events.c.details)
                                .where(case_events.c.case_id.in_(chunk), case_events.c.to_state == "closed")
                                .order_by(case_events.c.id)).all()
            for case_id, reason, details in rows:
                if orjson.loads(details).get("disposition") in FALSE_POSITIVE:
                    text = " ".join((reason or "").split())[:120]
                    out[int(case_id)] = text or "(理由なし / no reason given)"
    return out


def _median_hours(values: Sequence[int]) -> float | None:
    return round(statistics.median(values) / HOUR_US, 1) if values else None


def scenario_metrics(engine: Engine, period: Period, scenarios: Sequence[ScenarioLike],
                     *, facts: list[AlertFacts] | None = None) -> list[ScenarioMetrics]:
    """The outcome figures of each scenario, then one row ``ALL`` for every alert of the period."""
    facts = load_alerts(engine, period) if facts is None else facts
    weeks = weeks_of(period)
    fp_cases = {c.case_id for a in facts if a.outcome == "fp" for c in a.cases
                if c.closed and c.disposition in FALSE_POSITIVE}
    reasons = false_positive_reasons(engine, fp_cases)
    everything = sources.LocalScenario("ALL", "全アラート", "All alerts", ())
    out = []
    for scenario in [*scenarios, everything]:
        rule_ids = frozenset(scenario.rule_ids)
        mine = [a for a in facts if scenario.id == "ALL" or a.rules & rule_ids]
        out.append(_figures(scenario, mine, weeks, reasons))
    return out


def _figures(scenario: ScenarioLike, mine: list[AlertFacts], weeks: list[str],
             reasons: dict[int, str]) -> ScenarioMetrics:
    m = ScenarioMetrics(scenario.id, scenario.title_ja, scenario.title_en, tuple(scenario.rule_ids),
                        weeks=dict.fromkeys(weeks, 0))
    case_ids: set[int] = set()
    drafted: set[int] = set()
    locked: set[int] = set()
    to_close: list[int] = []
    to_lock: list[int] = []
    fp_reasons: Counter[str] = Counter()
    for alert in mine:
        m.alerts += 1
        week = week_of(alert.occurred_at_us)
        m.weeks[week] = m.weeks.get(week, 0) + 1
        if alert.cases:
            m.in_case += 1
        if any(c.reports for c in alert.cases):
            m.with_str_draft += 1
        if any(c.locked_reports for c in alert.cases):
            m.with_locked_str += 1
        for c in alert.cases:
            case_ids.add(c.case_id)
            if c.reports:
                drafted.add(c.case_id)
            if c.locked_reports:
                locked.add(c.case_id)
        outcome = alert.outcome
        if outcome == "tp":
            m.true_positive += 1
        elif outcome == "fp":
            m.false_positive += 1
            fp_reasons.update({reasons[c.case_id] for c in alert.cases if c.case_id in reasons})
        closes = [c.closed_at_us for c in alert.cases if c.closed and c.closed_at_us is not None]
        if closes:
            to_close.append(max(0, min(closes) - alert.created_at_us))
        locks = [c.first_lock_us for c in alert.cases if c.first_lock_us is not None]
        if locks:
            to_lock.append(max(0, min(locks) - alert.created_at_us))
    m.cases, m.cases_with_str_draft, m.cases_with_locked_str = len(case_ids), len(drafted), len(locked)
    m.median_hours_to_close = _median_hours(to_close)
    m.median_hours_to_str_lock = _median_hours(to_lock)
    m.false_positive_reasons = sorted(fp_reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REASONS]
    return m
