"""Management figures: the FSA-style monthly table of unauthorised access and trading, and live counters.

The FSA publishes, per month, 不正アクセス件数, 不正取引件数, 売却金額 and 買付金額 of internet trading
(「インターネット取引サービスへの不正アクセス・不正取引による被害が急増しています」, 2025; the
figures it cited at its exchange of views with JSDA on 2025-06-17). Its notes: the sell and buy
amounts add up the fraudulent trades in the victims' accounts (repeated trades accumulate) and are
not the customers' losses. mamori computes the same table from its own store, as defined below
(:data:`DEFINITIONS`, also written into every export).

**Takeover incidents** (:func:`takeover_incidents`). An account is a confirmed takeover when

* an alert on it has status ``reported_takeover`` (set when the customer says "this was not me")
  or ``confirmed`` (an analyst confirmed it), or
* it was frozen (``account_freeze``) with reason ``customer_reported_not_me`` or ``fraud_confirmed``,

unless the freeze was lifted by an ``account_unlock`` with reason ``false_positive`` (that freeze,
and the ``reported_takeover`` alerts on events in the look-back before it, then confirm nothing).
Each confirmation (the alert's event time, the freeze time) opens an incident window:

* **start** — the attacker's first visit. Candidates for the attacker's client (device id; without
  one, the IP's /24 or /48) are the clients of the labelled events and of the *suspicious* successful
  logins (verdict challenge or hold, or any score, or itself labelled; a login mamori blocked gave no
  access and never counts) from the look-back (default 30 days) before the confirmation up to the
  last confirmation chained to it (each within the look-back of the previous). A client the customer
  had not used with an allowed login before is preferred, then the one with the most such events.
  The window starts at that client's first login let in, or first labelled event, in that span.
  Without any candidate: the first successful, not blocked login in the 24 h before the
  confirmation; without that, the confirmation time itself.
* **end** — the first freeze (any reason) at or after the start, if it comes within the look-back
  after the confirmation; otherwise just after the last confirmation that follows within the
  look-back. The window is ``[start, end)``.

**Per incident**: *unauthorised logins* are the successful, not blocked logins in the window;
*fraudulent trades* are the orders placed in the window that traded — valued by their executions
(quantity × price, whatever their time), or, when the firm reported no execution for the order and
mamori let it through (allow / challenge), by the order itself (quantity × limit or reference
price) — plus executions in the window of orders not in the store. Logins and orders from the
customer's own clients (a device or network with an allowed login before the window, other than the
attacker's) are the customer's and are left out — except when no attacker's client could be told
apart (malware driving the customer's own PC looks like the customer). Orders mamori held or
blocked are counted as *held orders*, not as trades. Amounts are exact yen (JPY only; trades in other
currencies are counted in ``non_jpy_trades`` and not valued), rounded half up once per month.

**Per month (JST)**: 不正アクセス件数 = accounts with at least one unauthorised login or fraudulent
trade that month (one account in one month is one case, however many logins; an account the attacker
traded in was accessed, so 不正取引件数 never exceeds it, as in the FSA's table); 不正取引件数 =
accounts with at least one fraudulent trade that month; 売却金額 / 買付金額 = yen of the fraudulent
sells / buys that month.
Also given: the number of unauthorised logins, fraudulent trades (orders) and held orders.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import orjson
from sqlalchemy import Engine, column, func, inspect, select, table

from mamori.adapters.geo import network_of
from mamori.adapters.sql.schema import alerts, decisions, events
from mamori.adapters.sql.store import now_us as clock_us
from mamori.events.models import EVENT_TYPES
from mamori.investigate.common import (
    JST,
    US_PER_DAY,
    US_PER_S,
    decimal_of,
    ensure_decision_index,
    iso_jst,
    iso_utc,
    jst_month,
    to_datetime,
    to_us,
    yen,
)
from mamori.investigate.summaries import order_value
from mamori.kit.errors import InvalidRequest

__all__ = ["CLOSED_CASE_STATUSES", "DEFINITIONS", "TAKEOVER_ALERT_STATUSES", "TAKEOVER_FREEZE_REASONS",
           "Incident", "live_counters", "monthly_figures", "takeover_incidents"]

TAKEOVER_ALERT_STATUSES: Final = ("reported_takeover", "confirmed")
TAKEOVER_FREEZE_REASONS: Final = ("customer_reported_not_me", "fraud_confirmed")
CLOSED_CASE_STATUSES: Final = ("closed", "resolved", "dismissed", "rejected")
ZERO: Final = Decimal(0)

DEFINITIONS: Final = {
    "unauthorised_accesses": {
        "ja": "不正アクセス件数: 乗っ取りが確認された口座（「身に覚えがない」の申告・不正確認による凍結、または"
              "reported_takeover / confirmed のアラート）のうち、当月に不正ログインまたは不正取引があった口座の数"
              "（同一口座は月1件）。不正ログイン = 攻撃者の端末からの最初のログインから凍結までの、遮断されなかった"
              "成功ログイン（お客様ご本人の既知の端末からのものを除く）。",
        "en": "Accounts confirmed as taken over (frozen as 'not me' or fraud confirmed, or an alert with status "
              "reported_takeover / confirmed) with an unauthorised login or a fraudulent trade in the month (one "
              "account is one case per month). Unauthorised login: a successful, not blocked login between the "
              "attacker's first visit and the freeze, except from the customer's own known devices."},
    "fraudulent_trades": {
        "ja": "不正取引件数: 同じ期間に不正取引（約定した注文、または約定報告がなく通過した注文）があった口座の数"
              "（同一口座は月1件）。保留・拒否した注文は含まない。",
        "en": "Accounts with at least one fraudulent trade in the month (an order placed in the incident window "
              "that executed, or that passed without a reported execution); held or blocked orders are not trades."},
    "sell_yen": {"ja": "売却金額(円): 不正取引のうち売却の約定代金の合計（同一口座で繰り返された取引は累積）。"
                       "顧客の損失額とは一致しない。",
                 "en": "Yen value of the fraudulent sells (executions, repeated trades accumulate); not the "
                       "customers' loss."},
    "buy_yen": {"ja": "買付金額(円): 不正取引のうち買付の約定代金の合計。",
                "en": "Yen value of the fraudulent buys."},
    "unauthorised_logins": {"ja": "不正ログイン回数: 上記の不正ログインの回数。",
                            "en": "Number of unauthorised logins."},
    "fraudulent_orders": {"ja": "不正取引の注文数: 不正取引となった注文の数。",
                          "en": "Number of orders that were fraudulent trades."},
    "held_orders": {"ja": "保留・拒否した注文数: 同じ期間に mamori が保留または拒否した注文の数。",
                    "en": "Orders placed in the incident windows that mamori held or blocked."},
}


@dataclass(frozen=True, slots=True)
class Trade:
    at_us: int
    side: str
    value: Decimal | None  # None: not in JPY
    order_id: str
    source: str  # "execution" or "order"


@dataclass(frozen=True, slots=True)
class Incident:
    """One takeover of one account: the window and what happened in it."""

    account_id: str
    start_us: int
    end_us: int
    ended_by: str  # "freeze" or "confirmation"
    confirmed_by: tuple[str, ...]
    logins: tuple[int, ...]
    trades: tuple[Trade, ...]
    held_orders: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "start": iso_utc(self.start_us), "end": iso_utc(self.end_us),
                "ended_by": self.ended_by, "confirmed_by": list(self.confirmed_by),
                "unauthorised_logins": len(self.logins), "fraudulent_orders": len({t.order_id for t in self.trades}),
                "sell_yen": yen(sum((t.value for t in self.trades if t.side == "sell" and t.value is not None), ZERO)),
                "buy_yen": yen(sum((t.value for t in self.trades if t.side == "buy" and t.value is not None), ZERO)),
                "held_orders": len(self.held_orders)}


@dataclass(slots=True)
class _Ev:
    at: int
    event_type: str
    event_id: str
    payload: dict[str, Any]
    verdict: str | None
    score: int


def _confirmations(engine: Engine, lookback_us: int) -> dict[str, list[tuple[int, str, str | None]]]:
    """account -> sorted [(time, what confirmed it, event id of a labelled alert)]."""
    ensure_decision_index(engine)
    with engine.connect() as conn:
        labelled = conn.execute(
            select(alerts.c.account_id, alerts.c.event_id, alerts.c.status, decisions.c.occurred_at_us)
            .join(decisions, decisions.c.event_id == alerts.c.event_id)
            .where(alerts.c.status.in_(TAKEOVER_ALERT_STATUSES))).all()
        lifecycle = conn.execute(
            select(events.c.account_id, events.c.occurred_at_us, events.c.event_type, events.c.payload)
            .select_from(decisions).join(events, events.c.event_id == decisions.c.event_id)
            .where(decisions.c.event_type.in_(("account_freeze", "account_unlock")))
            .order_by(events.c.occurred_at_us, events.c.seq)).all()
    out: dict[str, list[tuple[int, str, str | None]]] = {}
    lifted: dict[str, list[int]] = {}  # account -> times of freezes lifted as false positives
    pending: dict[str, list[tuple[int, str]]] = {}
    for account, at, event_type, raw in lifecycle:
        reason = orjson.loads(raw).get("reason")
        if event_type == "account_freeze":
            pending.setdefault(account, []).append((at, str(reason)))
            continue
        for frozen_at, why in pending.pop(account, []):
            if reason == "false_positive":
                lifted.setdefault(account, []).append(frozen_at)
            elif why in TAKEOVER_FREEZE_REASONS:
                out.setdefault(account, []).append((frozen_at, f"freeze:{why}", None))
    for account, frozen in pending.items():
        for frozen_at, why in frozen:
            if why in TAKEOVER_FREEZE_REASONS:
                out.setdefault(account, []).append((frozen_at, f"freeze:{why}", None))
    for account, event_id, status, at in labelled:
        voided = status == "reported_takeover" and any(f - lookback_us <= at <= f for f in lifted.get(account, ()))
        if not voided:
            out.setdefault(account, []).append((at, f"alert:{status}", event_id))
    for points in out.values():
        points.sort(key=lambda p: (p[0], p[1]))
    return out


def _account_events(engine: Engine, account_id: str, since_us: int, until_us: int) -> list[_Ev]:
    stmt = (select(events.c.occurred_at_us, events.c.event_type, events.c.event_id, events.c.payload,
                   decisions.c.decision, decisions.c.score)
            .select_from(events.outerjoin(decisions, decisions.c.event_id == events.c.event_id))
            .where(events.c.account_id == account_id, events.c.occurred_at_us >= since_us,
                   events.c.occurred_at_us < until_us, events.c.event_type != "holdings_snapshot")
            .order_by(events.c.occurred_at_us, events.c.seq))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [_Ev(at, t, eid, orjson.loads(raw), verdict, int(score or 0)) for at, t, eid, raw, verdict, score in rows]


def _client_key(e: _Ev) -> str | None:
    """The device of an event, else the /24 (/48) of its IP: how the attacker's client is recognised."""
    device = e.payload.get("device_id")
    if device:
        return f"device:{device}"
    ip = e.payload.get("ip")
    if ip:
        try:
            return f"network:{network_of(str(ip))}"
        except ValueError:
            return None
    return None


def _attacker(cluster: list[tuple[int, str, str | None]], by_id: dict[str, _Ev], suspicious: list[_Ev],
              known: set[str]) -> str | None:
    """The attacker's client among those of the cluster's labelled events and the suspicious logins:
    one the customer had not used (with an allowed login) before is preferred, then the one with the
    most such events, then the earliest. "This was not me" also labels alerts on the customer's own
    recent activity, so the first labelled event alone would not do."""
    seen: dict[str, list[int]] = {}  # client -> [events, first time]
    labelled = [by_id[eid] for _at, _what, eid in cluster if eid is not None and eid in by_id]
    for event in [*labelled, *suspicious]:
        key = _client_key(event)
        if key is not None:
            entry = seen.setdefault(key, [0, event.at])
            entry[0] += 1
            entry[1] = min(entry[1], event.at)
    if not seen:
        return None
    return min(seen, key=lambda c: (c in known, -seen[c][0], seen[c][1], c))


def _incidents_of(account: str, points: list[tuple[int, str, str | None]], evs: list[_Ev],
                  lookback_us: int, fallback_us: int) -> list[Incident]:
    labelled = {p[2] for p in points if p[2] is not None}
    by_id = {e.event_id: e for e in evs}
    good_logins = [e for e in evs if e.event_type == "login" and e.payload.get("result") == "success"
                   and e.verdict != "block"]
    login_times = [e.at for e in good_logins]
    freezes = [e.at for e in evs if e.event_type == "account_freeze"]
    incidents: list[Incident] = []
    prev_end = -(2**62)
    i = 0
    while i < len(points):
        anchor = points[i][0]
        if anchor < prev_end:
            i += 1
            continue
        j = i
        while j + 1 < len(points) and points[j + 1][0] - points[j][0] <= lookback_us:
            j += 1
        lo, last = max(anchor - lookback_us, prev_end), points[j][0]
        window = good_logins[bisect.bisect_left(login_times, lo):bisect.bisect_right(login_times, last)]
        suspicious = [e for e in window if e.verdict != "allow" or e.score > 0 or e.event_id in labelled]
        known = {c for e in good_logins if e.at < anchor and e.verdict == "allow" and (c := _client_key(e))}
        attacker = _attacker(points[i:j + 1], by_id, suspicious, known)
        if attacker is not None:
            # The attacker's first visit: their earliest login that was let in, or labelled event.
            visits = [e.at for e in evs if lo <= e.at <= last and _client_key(e) == attacker
                      and (e.event_id in labelled or (e.event_type == "login" and e.payload.get("result") == "success"
                                                      and e.verdict != "block"))]
            start = min(visits, default=anchor)
        else:
            recent = [e for e in window if anchor - fallback_us <= e.at <= anchor]
            start = recent[0].at if recent else anchor
        k = bisect.bisect_left(freezes, start)
        freeze = freezes[k] if k < len(freezes) and freezes[k] <= anchor + lookback_us else None
        if freeze is not None:
            end, ended_by = freeze, "freeze"
        else:
            end, ended_by = points[j][0] + 1, "confirmation"
        covered = [p for p in points[i:] if p[0] <= max(end, anchor)]
        i += len(covered)
        # The customer's own clients (allowed logins before the window) are the customer's, unless
        # the attacker could not be told apart (e.g. malware driving the customer's own PC).
        own = ({c for e in good_logins if e.at < start and e.verdict == "allow" and (c := _client_key(e))} - {attacker}
               if attacker is not None else set())
        incidents.append(_incident(account, start, end, ended_by, tuple(dict.fromkeys(p[1] for p in covered)),
                                   evs, own))
        prev_end = max(end, anchor + 1)
    return incidents


def _incident(account: str, start: int, end: int, ended_by: str, confirmed_by: tuple[str, ...],
              evs: list[_Ev], own: set[str]) -> Incident:
    inside = [e for e in evs if start <= e.at < end and (e.event_type == "execution" or _client_key(e) not in own)]
    logins = tuple(e.at for e in inside if e.event_type == "login" and e.payload.get("result") == "success"
                   and e.verdict != "block")
    window_orders = {str(e.payload.get("order_id")): e for e in inside if e.event_type == "order"}
    known_orders = {str(e.payload.get("order_id")) for e in evs if e.event_type == "order"}
    executed: set[str] = set()
    trades: list[Trade] = []
    for e in evs:
        if e.event_type != "execution":
            continue
        oid = str(e.payload.get("order_id"))
        if oid in window_orders or (oid not in known_orders and start <= e.at < end):
            executed.add(oid)
            qty, price = decimal_of(e.payload.get("quantity")), decimal_of(e.payload.get("price"))
            jpy = (e.payload.get("currency") or "JPY") == "JPY" and qty is not None and price is not None
            trades.append(Trade(e.at, str(e.payload.get("side")), qty * price if jpy and qty and price else None,
                                oid, "execution"))
    held: list[int] = []
    for oid, e in window_orders.items():
        if e.verdict in ("hold", "block"):
            if oid not in executed:
                held.append(e.at)
        elif oid not in executed:
            value = order_value(e.payload) if (e.payload.get("currency") or "JPY") == "JPY" else None
            trades.append(Trade(e.at, str(e.payload.get("side")), value, oid, "order"))
    trades.sort(key=lambda t: (t.at_us, t.order_id))
    return Incident(account, start, end, ended_by, confirmed_by, logins, tuple(trades), tuple(sorted(held)))


def takeover_incidents(engine: Engine, *, since_us: int | None = None, until_us: int | None = None,
                       lookback_days: int = 30, fallback_hours: int = 24) -> list[Incident]:
    """Every takeover incident whose window overlaps ``[since_us, until_us)`` (see the module
    docstring for the definition), ordered by start time."""
    lookback_us = lookback_days * US_PER_DAY
    fallback_us = fallback_hours * 3600 * US_PER_S
    out: list[Incident] = []
    for account, points in sorted(_confirmations(engine, lookback_us).items()):
        # An incident's window lies within the look-back of its confirmations (and its chain of them):
        # accounts confirmed only long before or after the period cannot overlap it.
        if not any((since_us is None or at >= since_us - 2 * lookback_us)
                   and (until_us is None or at < until_us + lookback_us) for at, _what, _eid in points):
            continue
        # from the account's first event: which clients were the customer's own before the window
        evs = _account_events(engine, account, 0, points[-1][0] + lookback_us + 1)
        for incident in _incidents_of(account, points, evs, lookback_us, fallback_us):
            if not (incident.logins or incident.trades or incident.held_orders
                    or any(c.startswith("freeze:") for c in incident.confirmed_by)):
                continue  # e.g. a labelled alert on a login refused after the freeze: nothing happened
            last_activity = max([incident.end_us, *(t.at_us for t in incident.trades)])
            if (since_us is None or last_activity >= since_us) and (until_us is None or incident.start_us < until_us):
                out.append(incident)
    out.sort(key=lambda inc: (inc.start_us, inc.account_id))
    return out


def _month_start(month: str, field_name: str) -> datetime:
    try:
        year, mon = (int(x) for x in month.split("-"))
        if len(month) != 7 or not 1 <= mon <= 12 or not 2000 <= year <= 2999:
            raise ValueError(month)
    except ValueError:
        raise InvalidRequest(f"{field_name} must be a month as YYYY-MM", details={"field": field_name}) from None
    return datetime(year, mon, 1, tzinfo=JST)


def _next_month(d: datetime) -> datetime:
    return d.replace(year=d.year + 1, month=1) if d.month == 12 else d.replace(month=d.month + 1)


def _empty_row(month: str) -> dict[str, Any]:
    return {"month": month, "unauthorised_accesses": 0, "fraudulent_trades": 0, "sell_yen": 0, "buy_yen": 0,
            "unauthorised_logins": 0, "fraudulent_orders": 0, "held_orders": 0, "non_jpy_trades": 0}


def monthly_figures(engine: Engine, *, start_month: str | None = None, end_month: str | None = None,
                    now_us: int | None = None, lookback_days: int = 30) -> dict[str, Any]:
    """The FSA-style table for the months ``start_month`` .. ``end_month`` (``YYYY-MM``, JST;
    default: the twelve months up to the current one), with totals and the definitions.
    Bad months raise :class:`~mamori.kit.errors.InvalidRequest` naming ``from`` or ``to``."""
    now = clock_us() if now_us is None else now_us
    last = _month_start(end_month, "to") if end_month else _month_start(jst_month(now), "to")
    if start_month:
        first = _month_start(start_month, "from")
    else:
        # the twelve months ending with ``last``
        first = last.replace(month=1) if last.month == 12 else last.replace(year=last.year - 1, month=last.month + 1)
    if first > last:
        raise InvalidRequest("from must not be after to", details={"field": "from"})
    months: list[str] = []
    cursor = first
    while cursor <= last:
        months.append(cursor.strftime("%Y-%m"))
        if len(months) > 120:
            raise InvalidRequest("at most 120 months at a time", details={"field": "from"})
        cursor = _next_month(cursor)
    since, until = to_us(first), to_us(_next_month(last))
    rows = {m: _empty_row(m) for m in months}
    access_cases: set[tuple[str, str]] = set()
    trade_cases: set[tuple[str, str]] = set()
    sums: dict[tuple[str, str], Decimal] = {}
    orders_seen: set[tuple[str, str]] = set()
    incidents = takeover_incidents(engine, since_us=since, until_us=until, lookback_days=lookback_days)
    for inc in incidents:
        for at in inc.logins:
            m = jst_month(at)
            if m in rows:
                rows[m]["unauthorised_logins"] += 1
                access_cases.add((inc.account_id, m))
        for at in inc.held_orders:
            if (m := jst_month(at)) in rows:
                rows[m]["held_orders"] += 1
        for t in inc.trades:
            m = jst_month(t.at_us)
            if m not in rows:
                continue
            trade_cases.add((inc.account_id, m))
            if (inc.account_id + "\x00" + t.order_id, m) not in orders_seen:
                orders_seen.add((inc.account_id + "\x00" + t.order_id, m))
                rows[m]["fraudulent_orders"] += 1
            if t.value is None:
                rows[m]["non_jpy_trades"] += 1
            else:
                sums[(m, t.side)] = sums.get((m, t.side), ZERO) + t.value
    for _account, m in access_cases | trade_cases:  # an account traded by the attacker was accessed
        rows[m]["unauthorised_accesses"] += 1
    for _account, m in trade_cases:
        rows[m]["fraudulent_trades"] += 1
    for (m, side), value in sums.items():
        if side in ("sell", "buy"):
            rows[m][f"{side}_yen"] = yen(value)
    table = [rows[m] for m in months]
    total = _empty_row("total")
    for row in table:
        for key in total:
            if key != "month":
                total[key] += row[key]
    return {"from": months[0], "to": months[-1], "timezone": "Asia/Tokyo", "generated_at": iso_jst(now),
            "months": table, "total": total, "incidents": len(incidents), "definitions": DEFINITIONS}


# -- live counters -----------------------------------------------------------------------------------
def _open_cases(engine: Engine) -> int | None:
    """Open cases when a ``cases`` table exists: rows whose ``state`` (or ``status``) column is not one
    of :data:`CLOSED_CASE_STATUSES` (every row without such a column); None without the table."""
    inspector = inspect(engine)
    if not inspector.has_table("cases"):
        return None
    columns = {c["name"] for c in inspector.get_columns("cases")}
    cases = table("cases", *(column(c) for c in columns))
    stmt = select(func.count()).select_from(cases)
    state = next((c for c in ("state", "status") if c in columns), None)
    if state is not None:
        stmt = stmt.where(cases.c[state].not_in(CLOSED_CASE_STATUSES))
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def live_counters(engine: Engine, *, now_us: int | None = None) -> dict[str, Any]:
    """Counters for the last hour, the last 24 hours and today (JST): login attempts, challenges,
    login blocks and lockouts, held and blocked orders and withdrawals, alerts raised, freezes and
    unlocks; plus open alerts and open cases (when a ``cases`` table exists). Counts are by the
    events' time; the verdict counts are read from ``ix_decisions_type_time`` alone."""
    ensure_decision_index(engine)
    now = clock_us() if now_us is None else now_us
    midnight = to_us(to_datetime(now).astimezone(JST).replace(hour=0, minute=0, second=0, microsecond=0))
    windows = {"last_hour": now - 3600 * US_PER_S, "last_24h": now - US_PER_DAY, "today_jst": midnight}
    d = decisions.c
    out: dict[str, Any] = {"at": iso_jst(now), "windows": {}}
    with engine.connect() as conn:
        for name, since in windows.items():
            counts: Counter[tuple[str, str, bool]] = Counter()
            for event_type, verdict, alert, n in conn.execute(
                    select(d.event_type, d.decision, d.alert, func.count())
                    .where(d.event_type.in_(sorted(EVENT_TYPES)), d.occurred_at_us >= since)
                    .group_by(d.event_type, d.decision, d.alert)).all():
                counts[(event_type, verdict, bool(alert))] += int(n)

            def total(event_type: str | None = None, verdict: str | None = None, alert: bool | None = None,
                      c: Counter[tuple[str, str, bool]] = counts) -> int:
                return sum(n for (t, v, a), n in c.items() if (event_type is None or t == event_type)
                           and (verdict is None or v == verdict) and (alert is None or a == alert))

            lockouts = conn.execute(
                select(func.count()).select_from(decisions)
                .where(d.event_type == "login", d.occurred_at_us >= since, d.decision == "block",
                       d.body.contains('"login_lock_started":true', autoescape=True))).scalar_one()
            withdrawals = ("fiat_withdrawal", "crypto_withdrawal")
            out["windows"][name] = {
                "since": iso_jst(since), "events": total(), "login_attempts": total("login"),
                "challenges": total(verdict="challenge"), "login_challenges": total("login", "challenge"),
                "login_blocks": total("login", "block"), "lockouts": int(lockouts),
                "held_orders": total("order", "hold"), "blocked_orders": total("order", "block"),
                "held_withdrawals": sum(total(w, "hold") + total(w, "block") for w in withdrawals),
                "alerts": total(alert=True), "freezes": total("account_freeze"), "unlocks": total("account_unlock"),
            }
        by_status: dict[Any, Any] = dict(conn.execute(select(alerts.c.status, func.count()).group_by(alerts.c.status))
                         .all())
    out["alerts_by_status"] = {str(k): int(v) for k, v in by_status.items()}
    out["open_alerts"] = int(by_status.get("open", 0))
    out["open_cases"] = _open_cases(engine)
    return out
