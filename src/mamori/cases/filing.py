"""The filing of one batch of alerts into cases, in memory, against what is already stored.

:class:`Filing` is the inside of :class:`mamori.cases.grouping.CaseBuilder`: given a batch of alerts
with their grouping keys (:mod:`mamori.cases.keys`) it loads the open account cases of the batch's
accounts and the recent alerts sharing its keys (each key's window around the batch), decides for
every alert in order which cases it joins or opens (:class:`GroupingPolicy`), and writes the
``case_alerts``, ``case_keys`` and ``case_events`` rows and the cases' aggregates in bulk. It runs
inside the builder's transaction.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import BigInteger, Connection, Table, and_, bindparam, case, func, insert, or_, select, update

from mamori.cases.keys import describe_key
from mamori.cases.model import HOUR_US, PRIORITY_DUE_US, CaseKind, CaseState, alert_priority
from mamori.cases.store import case_alerts, case_events, case_keys, cases

_CHUNK = 400  # values per IN (...) list


@dataclass(frozen=True, slots=True)
class GroupingPolicy:
    """Thresholds and windows of the grouping rules (see :mod:`mamori.cases.grouping`)."""

    campaign_min_accounts: int = 3
    counterparty_min_accounts: int = 2
    source_window_us: int = 6 * HOUR_US
    symbol_window_us: int = 2 * HOUR_US
    counterparty_window_us: int = 30 * 24 * HOUR_US
    batch: int = 1000
    lookback_ids: int = 10_000

    def window(self, key: str) -> int:
        if key.startswith("symbol:"):
            return self.symbol_window_us
        if key.startswith(("bank:", "address:")):
            return self.counterparty_window_us
        return self.source_window_us

    def threshold(self, kind: CaseKind) -> int:
        return self.counterparty_min_accounts if kind is CaseKind.COUNTERPARTY else self.campaign_min_accounts


@dataclass(slots=True)
class NewAlert:
    """An alert of the batch: its id, account, event time, verdict, score and grouping keys."""

    id: int
    account: str
    at: int
    decision: str
    score: int
    keys: list[tuple[CaseKind, str]]


@dataclass(slots=True)
class _KeyState:
    """Known alerts of one key near this batch: open cases' time spans and alerts awaiting a case."""

    spans: dict[int, list[int]] = field(default_factory=dict)            # open case id -> [first, last]
    waiting: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # account -> sorted (at, alert)


@dataclass(slots=True)
class _Touch:
    """Per case: what this batch adds."""

    alerts: int = 0
    first: int = 2**62
    last: int = 0
    score: int = 0
    priority: int = 4


class Filing:
    """The in-memory filing of one batch against the cases and keys already stored."""

    def __init__(self, conn: Connection, policy: GroupingPolicy, now: int) -> None:
        self.conn, self.policy, self.now = conn, policy, now
        self.keys: dict[str, _KeyState] = {}
        self.alert_case: dict[tuple[int, CaseKind], int] = {}
        self.alert_info: dict[int, tuple[str, int, int, int]] = {}  # alert -> (account, at, score, priority)
        self.alert_keys: dict[tuple[int, CaseKind], list[str]] = {}
        self.touch: dict[int, _Touch] = defaultdict(_Touch)
        self.case_kind: dict[int, CaseKind] = {}
        self.new_rows: list[dict[str, Any]] = []
        self.key_rows: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self.created = 0

    def file(self, batch: Sequence[NewAlert]) -> tuple[int, set[int]]:
        account_case = self._account_cases(batch)
        self._load_keys(batch)
        for a in batch:
            prio = alert_priority(a.decision, a.score)
            self.alert_info[a.id] = (a.account, a.at, a.score, prio)
            self._add(a.id, CaseKind.ACCOUNT, account_case[a.account])
            self._group(a)
        _insert_many(self.conn, case_alerts, self.new_rows)
        _insert_many(self.conn, case_keys, self.key_rows)
        _insert_many(self.conn, case_events, self.history)
        self._update_cases()
        return self.created, set(self.touch)

    # -- account cases ---------------------------------------------------------------------------
    def _account_cases(self, batch: Sequence[NewAlert]) -> dict[str, int]:
        accounts = sorted({a.account for a in batch})
        found: dict[str, int] = {}
        for chunk in _chunks(accounts):
            stmt = select(cases.c.id, cases.c.key).where(
                cases.c.kind == CaseKind.ACCOUNT.value, cases.c.state != CaseState.CLOSED.value, cases.c.key.in_(chunk))
            if self.conn.dialect.name == "postgresql":  # an analyst closing one of them waits, or wins and is seen
                stmt = stmt.with_for_update()
            for case_id, key in self.conn.execute(stmt):
                found[key] = int(case_id)
        first: dict[str, NewAlert] = {}
        for a in batch:
            if a.account not in found:
                first.setdefault(a.account, a)
        if first:
            new = [self._case_row(CaseKind.ACCOUNT, account, a) for account, a in first.items()]
            ids = self.conn.execute(insert(cases).returning(cases.c.id, cases.c.key, sort_by_parameter_order=True),
                                    new).all()
            for case_id, key in ids:
                found[key] = int(case_id)
                self._created(int(case_id), first[key].id)
        return found

    def _case_row(self, kind: CaseKind, key: str, a: NewAlert) -> dict[str, Any]:
        priority = alert_priority(a.decision, a.score) if kind is CaseKind.ACCOUNT else (
            1 if kind is CaseKind.CAMPAIGN else 2)
        return {"kind": kind.value, "key": key, "title": describe_key(kind, key), "state": CaseState.OPEN.value,
                "disposition": None, "priority": priority, "assignee": None,
                "due_at_us": self.now + PRIORITY_DUE_US[priority], "created_at_us": self.now,
                "updated_at_us": self.now, "closed_at_us": None, "first_alert_at_us": a.at,
                "last_alert_at_us": a.at, "alert_count": 0, "account_count": 0, "max_score": 0,
                "next_contact_due_at_us": None, "last_contact_at_us": None}

    def _created(self, case_id: int, alert_id: int) -> None:
        self.created += 1
        self.history.append({"case_id": case_id, "at_us": self.now, "actor": "system", "action": "case.create",
                             "from_state": None, "to_state": CaseState.OPEN.value, "reason": None,
                             "details": orjson.dumps({"first_alert_id": alert_id}).decode(), "audit_pending": False})

    # -- campaign and counterparty cases --------------------------------------------------------
    def _load_keys(self, batch: Sequence[NewAlert]) -> None:
        by_window: dict[int, set[str]] = defaultdict(set)
        for a in batch:
            for _, key in a.keys:
                by_window[self.policy.window(key)].add(key)
        if not by_window:
            return
        first, last = min(a.at for a in batch), max(a.at for a in batch)
        for window, wanted in sorted(by_window.items()):
            self._load_keys_near(sorted(wanted), first - window, last + window)

    def _load_keys_near(self, wanted: Sequence[str], lo: int, hi: int) -> None:
        filed = case_alerts.alias("filed")
        for chunk in _chunks(wanted):
            stmt = (select(case_keys.c.alert_id, case_keys.c.key, case_keys.c.kind, case_keys.c.account_id,
                           case_keys.c.at_us, filed.c.case_id, cases.c.state)
                    .select_from(case_keys.outerjoin(filed, and_(filed.c.alert_id == case_keys.c.alert_id,
                                                                 filed.c.kind == case_keys.c.kind))
                                 .outerjoin(cases, cases.c.id == filed.c.case_id))
                    .where(case_keys.c.key.in_(chunk), case_keys.c.at_us >= lo, case_keys.c.at_us <= hi))
            for alert_id, key, kind, account, at, case_id, state in self.conn.execute(stmt):
                ks = self.keys.setdefault(key, _KeyState())
                if case_id is None:
                    bisect.insort(ks.waiting.setdefault(account, []), (int(at), int(alert_id)))
                    self.alert_keys.setdefault((int(alert_id), CaseKind(kind)), []).append(key)
                    self.alert_info.setdefault(int(alert_id), (account, int(at), 0, 4))
                elif state != CaseState.CLOSED.value:
                    span = ks.spans.setdefault(int(case_id), [int(at), int(at)])
                    span[0], span[1] = min(span[0], int(at)), max(span[1], int(at))
                    self.alert_case[(int(alert_id), CaseKind(kind))] = int(case_id)

    def _group(self, a: NewAlert) -> None:
        for kind in (CaseKind.CAMPAIGN, CaseKind.COUNTERPARTY):
            keys = [k for kd, k in a.keys if kd is kind]
            if not keys:
                continue
            target = self._open_case_near(keys, a.at)
            if target is None:
                target = self._threshold_case(kind, keys, a)
            for key in keys:
                self.key_rows.append({"alert_id": a.id, "key": key, "kind": kind.value, "account_id": a.account,
                                      "at_us": a.at})
            if target is None:
                for key in keys:
                    ks = self.keys.setdefault(key, _KeyState())
                    bisect.insort(ks.waiting.setdefault(a.account, []), (a.at, a.id))
                self.alert_keys[(a.id, kind)] = keys
                continue
            self._file_group(a.id, kind, target, keys)
            for key in keys:  # alerts that waited on any of these keys join the campaign now
                for alert_id in self._waiting_near(key, a.at):
                    self._file_group(alert_id, kind, target, self.alert_keys.get((alert_id, kind), [key]))

    def _open_case_near(self, keys: Iterable[str], at: int) -> int | None:
        for key in keys:
            ks = self.keys.get(key)
            if ks is None:
                continue
            w = self.policy.window(key)
            for case_id, (first, last) in ks.spans.items():
                if first - w <= at <= last + w:
                    return case_id
        return None

    def _waiting_near(self, key: str, at: int) -> list[int]:
        ks = self.keys.get(key)
        if ks is None:
            return []
        w = self.policy.window(key)
        out: list[int] = []
        for entries in ks.waiting.values():
            i = bisect.bisect_left(entries, (at - w, -1))
            while i < len(entries) and entries[i][0] <= at + w:
                out.append(entries[i][1])
                i += 1
        return out

    def _threshold_case(self, kind: CaseKind, keys: list[str], a: NewAlert) -> int | None:
        need = self.policy.threshold(kind)
        for key in keys:
            ks = self.keys.get(key)
            if ks is None:
                continue
            w = self.policy.window(key)
            accounts = {a.account}
            for account, entries in ks.waiting.items():
                i = bisect.bisect_left(entries, (a.at - w, -1))
                if i < len(entries) and entries[i][0] <= a.at + w:
                    accounts.add(account)
            if len(accounts) >= need:
                # One open case per key (unique index): a new wave long after the last alert of a
                # campaign that is still open joins it rather than opening a second one.
                case_id = self._open_case_for(kind, key)
                if case_id is None:
                    row = self._case_row(kind, key, a)
                    case_id = int(self.conn.execute(insert(cases).values(**row).returning(cases.c.id)).scalar_one())
                    self._created(case_id, a.id)
                return case_id
        return None

    def _open_case_for(self, kind: CaseKind, key: str) -> int | None:
        found = self.conn.execute(select(cases.c.id).where(cases.c.kind == kind.value, cases.c.key == key,
                                                           cases.c.state != CaseState.CLOSED.value)).scalar()
        return None if found is None else int(found)

    def _file_group(self, alert_id: int, kind: CaseKind, case_id: int, keys: list[str]) -> None:
        if (alert_id, kind) in self.alert_case:
            return
        self._add(alert_id, kind, case_id)
        account, at, _, _ = self.alert_info[alert_id]
        for key in keys:
            ks = self.keys.setdefault(key, _KeyState())
            entries = ks.waiting.get(account)
            if entries is not None and (at, alert_id) in entries:
                entries.remove((at, alert_id))
                if not entries:
                    del ks.waiting[account]
            span = ks.spans.setdefault(case_id, [at, at])
            span[0], span[1] = min(span[0], at), max(span[1], at)

    def _add(self, alert_id: int, kind: CaseKind, case_id: int) -> None:
        self.alert_case[(alert_id, kind)] = case_id
        account, at, score, prio = self.alert_info[alert_id]
        self.new_rows.append({"alert_id": alert_id, "kind": kind.value, "case_id": case_id, "account_id": account,
                              "at_us": at, "added_at_us": self.now})
        self.case_kind[case_id] = kind
        t = self.touch[case_id]
        t.alerts += 1
        t.first, t.last = min(t.first, at), max(t.last, at)
        t.score, t.priority = max(t.score, score), min(t.priority, prio)

    # -- aggregates -----------------------------------------------------------------------------
    def _update_cases(self) -> None:
        """Add the batch's counts, times, scores and priorities to every touched case."""
        if not self.touch:
            return
        c = cases.c
        distinct_accounts = (select(func.count(func.distinct(case_alerts.c.account_id)))
                             .where(case_alerts.c.case_id == c.id).scalar_subquery())
        # An account case rises with its most urgent alert (and its due date with it); a group case
        # keeps its kind's priority.
        raised = and_(c.kind == CaseKind.ACCOUNT.value, c.priority > _bind("p"))
        raised_due = c.created_at_us + _bind("due")
        values: dict[str, Any] = {
            "alert_count": c.alert_count + _bind("n"),
            "first_alert_at_us": case((c.first_alert_at_us > _bind("first"), _bind("first")),
                                      else_=c.first_alert_at_us),
            "last_alert_at_us": case((c.last_alert_at_us < _bind("last"), _bind("last")), else_=c.last_alert_at_us),
            "max_score": case((c.max_score < _bind("score"), _bind("score")), else_=c.max_score),
            "priority": case((raised, _bind("p")), else_=c.priority),
            "due_at_us": case((and_(raised, or_(c.due_at_us.is_(None), c.due_at_us > raised_due)), raised_due),
                              else_=c.due_at_us),
            "updated_at_us": self.now,
        }
        params: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
        for cid, t in sorted(self.touch.items()):
            params[self.case_kind[cid] is CaseKind.ACCOUNT].append(
                {"cid": cid, "n": t.alerts, "first": t.first, "last": t.last, "score": t.score, "p": t.priority,
                 "due": PRIORITY_DUE_US[t.priority]})
        where = c.id == _bind("cid")
        if params[True]:  # an account case has one account: no need to count
            self.conn.execute(update(cases).where(where).values(**values, account_count=1), params[True])
        if params[False]:
            self.conn.execute(update(cases).where(where).values(**values, account_count=distinct_accounts),
                              params[False])


def _insert_many(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert plain rows in bulk: SQLite's ``executemany`` and PostgreSQL's ``COPY`` straight through
    the driver (SQLAlchemy's per-row parameter processing would cost more than the insert itself),
    Core's multi-row statements elsewhere. Table and column names are our own, never input."""
    if not rows:
        return
    names = list(rows[0])
    driver: Any = conn.connection.dbapi_connection  # psycopg's connection (COPY is not DB-API)
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg" and driver is not None:
        with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(tuple(r[n] for n in names))
        return
    if conn.dialect.name == "sqlite":
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"  # noqa: S608
        conn.exec_driver_sql(sql, [tuple(r[n] for n in names) for r in rows])
        return
    conn.execute(insert(table), rows)


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i:i + _CHUNK]


def _bind(name: str) -> Any:
    return bindparam(name, type_=BigInteger)
