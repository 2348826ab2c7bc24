"""Rule statistics: hit counts by hour (incremental), shadow comparisons, precision from closed cases.

Counting reads each stored decision once: a cursor (the event ``seq``) remembers how far it got, and
the counts, the shadow comparisons and the cursor move in one transaction, so nothing is counted
twice or lost however often the counter runs. A request then sums at most a few thousand hourly
rows instead of scanning a million decisions (``bench/rulesadmin_stats.py`` measures both).

Precision follows the analysts' verdicts: a closed case with disposition ``confirmed_takeover`` or
``fraud_attempt_blocked`` is a true positive for every rule that fired on one of its alerts,
``legitimate`` a false positive, ``duplicate`` is ignored. Rules that fire only on events that raise
no alert (e.g. a challenge) have no cases, hence no precision.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import orjson
from sqlalchemy import Connection, Engine, bindparam, case, func, insert, select, update

from mamori.adapters.sql.schema import alerts, decisions, events
from mamori.cases import store as cases_store
from mamori.cases.model import CaseState, Disposition
from mamori.rulesadmin.tables import rule_hit_counts, rule_shadow_counts, rule_shadow_samples, rulesadmin_cursor

HOUR_US: Final = 3_600_000_000
WINDOWS: Final = {"24h": 24, "7d": 24 * 7, "30d": 24 * 30}
TRUE_POSITIVE: Final = frozenset({Disposition.CONFIRMED_TAKEOVER.value, Disposition.FRAUD_ATTEMPT_BLOCKED.value})
FALSE_POSITIVE: Final = frozenset({Disposition.LEGITIMATE.value})
MAX_SHADOW_SAMPLES: Final = 200
CURSOR: Final = "hits"


@dataclass
class _Batch:
    hits: Counter[tuple[str, str, int]]
    shadow: Counter[tuple[str, str, str]]
    samples: list[dict[str, Any]]


class RuleCounter:
    """Counts fires per rule and hour from stored decisions, incrementally.

    ``shadow_rule_ids(identity)`` names the rules in ``mode: shadow`` of a rule set: when a candidate
    runs in the shadow slot, the decision's shadow fires mix both, and only those are shadow hits of
    the active rule set. On PostgreSQL, rows younger than ``settle_us`` are left for the next round
    (sequence numbers may commit out of order there)."""

    def __init__(self, engine: Engine, *, shadow_rule_ids: Callable[[str], frozenset[str]],
                 batch: int = 5000) -> None:
        self.engine = engine
        self.shadow_rule_ids = shadow_rule_ids
        self.batch = batch
        self.settle_us = 5_000_000 if engine.dialect.name == "postgresql" else 0
        self._lock = threading.Lock()

    def cursor(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(rulesadmin_cursor.c.seq).where(rulesadmin_cursor.c.name == CURSOR))
                       .scalar() or 0)

    def backlog(self) -> int:
        """How many stored decisions are not counted yet."""
        cursor = self.cursor()
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(events).where(events.c.seq > cursor))
                       .scalar_one())

    def catch_up(self, *, now_us: int, max_rows: int = 1_000_000) -> int:
        """Count decisions stored since the last round (at most ``max_rows``); returns how many."""
        done = 0
        with self._lock:
            while done < max_rows:
                n = self._one_batch(now_us, min(self.batch, max_rows - done))
                done += n
                if n == 0:
                    break
        return done

    def _one_batch(self, now_us: int, limit: int) -> int:
        with self.engine.begin() as conn:
            # FOR UPDATE (PostgreSQL): two instances counting at once take turns instead of counting twice.
            cursor = int(conn.execute(select(rulesadmin_cursor.c.seq).where(rulesadmin_cursor.c.name == CURSOR)
                                      .with_for_update()).scalar() or 0)
            stmt = (select(events.c.seq, events.c.received_at_us, decisions.c.decided_at_us, decisions.c.body)
                    .join(decisions, decisions.c.event_id == events.c.event_id)
                    .where(events.c.seq > cursor).order_by(events.c.seq).limit(limit))
            rows = conn.execute(stmt).all()
            batch = _Batch(Counter(), Counter(), [])
            last = cursor
            for seq, received_us, decided_us, body in rows:
                if self.settle_us and received_us > now_us - self.settle_us:
                    break
                self._count(batch, int(seq), int(decided_us), orjson.loads(body))
                last = int(seq)
            if last == cursor:
                return 0
            _add_hits(conn, batch.hits)
            _add_shadow(conn, batch.shadow, batch.samples)
            if conn.execute(update(rulesadmin_cursor).where(rulesadmin_cursor.c.name == CURSOR)
                            .values(seq=last)).rowcount == 0:
                conn.execute(insert(rulesadmin_cursor).values(name=CURSOR, seq=last))
            return sum(1 for r in rows if cursor < int(r[0]) <= last)

    def _count(self, batch: _Batch, seq: int, decided_us: int, body: dict[str, Any]) -> None:
        hour = decided_us - decided_us % HOUR_US
        for rule_id in {r["id"] for r in body.get("rules", ())}:
            batch.hits[(rule_id, "active", hour)] += 1
        shadow = body.get("shadow")
        if not isinstance(shadow, dict):
            return
        fired = {r["id"] for r in shadow.get("rules", ())}
        candidate = shadow.get("ruleset")
        if candidate:
            fired &= self.shadow_rule_ids(str(body.get("ruleset", "")))
            verdict = shadow.get("decision")
            if verdict:
                batch.shadow[(str(candidate), str(body.get("decision")), str(verdict))] += 1
                if verdict != body.get("decision"):
                    batch.samples.append({
                        "candidate": candidate, "event_id": body.get("event_id"), "seq": seq,
                        "summary": {"event_type": body.get("event_type"), "account_id": body.get("account_id"),
                                    "active": body.get("decision"), "candidate": verdict,
                                    "active_rules": [r["id"] for r in body.get("rules", ())],
                                    "candidate_rules": [r["id"] for r in shadow.get("rules", ())],
                                    "decided_at_us": decided_us}})
        for rule_id in fired:
            batch.hits[(rule_id, "shadow", hour)] += 1


def _add_hits(conn: Connection, hits: Counter[tuple[str, str, int]]) -> None:
    """Add ``hits`` to the hourly table: one read of the rows that exist, then one batched UPDATE and
    one batched INSERT (not a statement per key)."""
    if not hits:
        return
    t = rule_hit_counts
    hours = sorted({hour for _rule, _kind, hour in hits})
    existing: set[tuple[str, str, int]] = set()
    for i in range(0, len(hours), 500):
        rows = conn.execute(select(t.c.rule_id, t.c.kind, t.c.hour_us).where(t.c.hour_us.in_(hours[i:i + 500])))
        existing.update((str(r), str(k), int(h)) for r, k, h in rows)
    ups = [{"r": r, "k": k, "h": h, "n": n} for (r, k, h), n in hits.items() if (r, k, h) in existing]
    new = [{"rule_id": r, "kind": k, "hour_us": h, "hits": n} for (r, k, h), n in hits.items()
           if (r, k, h) not in existing]
    if ups:
        conn.execute(update(t).where(t.c.rule_id == bindparam("r"), t.c.kind == bindparam("k"),
                                     t.c.hour_us == bindparam("h")).values(hits=t.c.hits + bindparam("n")), ups)
    if new:
        conn.execute(insert(t), new)


def _add_shadow(conn: Connection, counts: Counter[tuple[str, str, str]], samples: list[dict[str, Any]]) -> None:
    t = rule_shadow_counts
    for (candidate, active, verdict), n in counts.items():
        changed = conn.execute(update(t).where(t.c.candidate == candidate, t.c.active_verdict == active,
                                               t.c.candidate_verdict == verdict)
                               .values(events=t.c.events + n)).rowcount
        if changed == 0:
            conn.execute(insert(t).values(candidate=candidate, active_verdict=active, candidate_verdict=verdict,
                                          events=n))
    s = rule_shadow_samples
    by_candidate: dict[str, list[dict[str, Any]]] = {}
    for sample in samples:
        by_candidate.setdefault(sample["candidate"], []).append(sample)
    for candidate, items in by_candidate.items():
        have = int(conn.execute(select(func.count()).select_from(s).where(s.c.candidate == candidate)).scalar_one())
        room = max(0, MAX_SHADOW_SAMPLES - have)
        if room:
            conn.execute(insert(s), [{"candidate": candidate, "event_id": str(i["event_id"]), "seq": i["seq"],
                                      "summary": orjson.dumps(i["summary"]).decode()} for i in items[:room]])


def hit_counts(engine: Engine, *, now_us: int) -> dict[str, dict[str, dict[str, int]]]:
    """``{rule id: {"active"|"shadow": {"24h": n, "7d": n, "30d": n}}}``. A window of N hours is the
    current hour and the N-1 before it."""
    current = now_us - now_us % HOUR_US
    starts = {name: current - (hours - 1) * HOUR_US for name, hours in WINDOWS.items()}
    t = rule_hit_counts
    columns = [func.coalesce(func.sum(case((t.c.hour_us >= start, t.c.hits), else_=0)), 0).label(name)
               for name, start in starts.items()]
    stmt = (select(t.c.rule_id, t.c.kind, *columns).where(t.c.hour_us >= starts["30d"])
            .group_by(t.c.rule_id, t.c.kind))
    out: dict[str, dict[str, dict[str, int]]] = {}
    with engine.connect() as conn:
        for row in conn.execute(stmt).mappings():
            out.setdefault(row["rule_id"], {})[row["kind"]] = {name: int(row[name]) for name in WINDOWS}
    return out


def precision(engine: Engine) -> dict[str, dict[str, Any]]:
    """``{rule id: {true_positive, false_positive, closed_cases, precision}}`` from closed cases."""
    c, ca = cases_store.cases, cases_store.case_alerts
    stmt = (select(c.c.id, c.c.disposition, alerts.c.rules)
            .join(ca, ca.c.case_id == c.c.id).join(alerts, alerts.c.id == ca.c.alert_id)
            .where(c.c.state == CaseState.CLOSED.value, c.c.disposition.in_(TRUE_POSITIVE | FALSE_POSITIVE)))
    tp: dict[str, set[int]] = {}
    fp: dict[str, set[int]] = {}
    with engine.connect() as conn:
        for case_id, disposition, rules in conn.execute(stmt):
            target = tp if disposition in TRUE_POSITIVE else fp
            for rule_id in orjson.loads(rules):
                target.setdefault(str(rule_id), set()).add(int(case_id))
    out: dict[str, dict[str, Any]] = {}
    for rule_id in set(tp) | set(fp):
        t, f = len(tp.get(rule_id, ())), len(fp.get(rule_id, ()))
        out[rule_id] = {"true_positive": t, "false_positive": f, "closed_cases": t + f,
                        "precision": round(t / (t + f), 4)}
    return out


def case_labels(engine: Engine, *, limit: int = 1_000_000) -> dict[str, bool]:
    """Event id -> fraud, from alerts in closed cases (true positive dispositions win over
    ``legitimate`` when an alert is in several cases)."""
    c, ca = cases_store.cases, cases_store.case_alerts
    stmt = (select(alerts.c.event_id, c.c.disposition)
            .join(ca, ca.c.alert_id == alerts.c.id).join(c, c.c.id == ca.c.case_id)
            .where(c.c.state == CaseState.CLOSED.value, c.c.disposition.in_(TRUE_POSITIVE | FALSE_POSITIVE))
            .limit(limit))
    labels: dict[str, bool] = {}
    with engine.connect() as conn:
        for event_id, disposition in conn.execute(stmt):
            labels[str(event_id)] = labels.get(str(event_id), False) or disposition in TRUE_POSITIVE
    return labels


def shadow_report(engine: Engine, candidate: str, *, samples: int = 50) -> dict[str, Any]:
    """How the candidate's verdicts differ from the active ones, over every counted decision."""
    t, s = rule_shadow_counts, rule_shadow_samples
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.active_verdict, t.c.candidate_verdict, t.c.events)
                            .where(t.c.candidate == candidate)).all()
        examples = conn.execute(select(s.c.event_id, s.c.summary).where(s.c.candidate == candidate)
                                .order_by(s.c.seq).limit(samples)).all()
    total = sum(int(r[2]) for r in rows)
    changed = sum(int(r[2]) for r in rows if r[0] != r[1])
    return {"candidate": candidate, "events": total, "changed": changed,
            "transitions": [{"from": a, "to": b, "count": int(n)} for a, b, n in sorted(rows) if a != b],
            "changed_events": [{"event_id": e, **orjson.loads(summary)} for e, summary in examples]}
