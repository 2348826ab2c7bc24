"""One account at a glance: what it used, where its money went, what it holds, what was decided.

* **devices** and **networks** (the IP's /24 or /48) seen, with first and last use, how many events
  and logins, failures, and whether a successful login from it was *allowed* — the same notion of
  "known" the engine's first-seen features use (a challenged or held attempt never makes a device
  known).
* **destinations**: bank-account fingerprints and crypto addresses withdrawn to or registered as the
  withdrawal account, with amounts and verdicts.
* **holdings**: the last ``holdings_snapshot`` moved by the executions after it (buys add, sells
  subtract), as the engine's holdings feature does.
* **orders**, **executions**, **transfers** and **logins** in counts and exact yen, by side and
  verdict; **state** (frozen or not, since when, why); **alerts** by status with the open ones.

One query reads the account's events in time order over ``ix_events_account_time`` with each
event's verdict (the decision's primary key; the decision bodies are not read).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

import orjson
from sqlalchemy import Engine, func, select

from mamori.adapters.geo import GeoProvider, network_of
from mamori.adapters.sql.schema import alerts, decisions, events
from mamori.investigate.common import check_range, decimal_of, decimal_text, iso_utc, yen
from mamori.investigate.summaries import ip_describer, order_value
from mamori.kit.errors import InvalidRequest

__all__ = ["account_overview"]

ZERO: Final = Decimal(0)
MAX_EVENTS: Final = 200_000


@dataclass(slots=True)
class _Seen:
    first_us: int
    last_us: int
    events: int = 0
    logins: int = 0
    failed_logins: int = 0
    allowed_logins: int = 0
    first_allowed_us: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def touch(self, at: int, event_type: str, payload: dict[str, Any], verdict: str | None) -> None:
        self.first_us = min(self.first_us, at)
        self.last_us = max(self.last_us, at)
        self.events += 1
        if event_type == "login":
            self.logins += 1
            if payload.get("result") != "success":
                self.failed_logins += 1
            elif verdict == "allow":
                self.allowed_logins += 1
                if self.first_allowed_us is None or at < self.first_allowed_us:
                    self.first_allowed_us = at

    def view(self) -> dict[str, Any]:
        return {"first_seen": iso_utc(self.first_us), "last_seen": iso_utc(self.last_us), "events": self.events,
                "logins": self.logins, "failed_logins": self.failed_logins, "allowed_logins": self.allowed_logins,
                "allowed": self.allowed_logins > 0,
                "known_since": iso_utc(self.first_allowed_us) if self.first_allowed_us is not None else None,
                **self.extra}


@dataclass(slots=True)
class _Destination:
    kind: str
    first_us: int
    last_us: int
    withdrawals: int = 0
    amount_jpy: Decimal = ZERO
    verdicts: Counter[str] = field(default_factory=Counter)
    registered_us: int | None = None

    def view(self, value: str) -> dict[str, Any]:
        return {"kind": self.kind, "destination": value, "first_seen": iso_utc(self.first_us),
                "last_seen": iso_utc(self.last_us), "withdrawals": self.withdrawals,
                "amount_jpy": yen(self.amount_jpy), "decisions": dict(self.verdicts),
                "allowed": self.verdicts.get("allow", 0) > 0,
                "registered_at": iso_utc(self.registered_us) if self.registered_us is not None else None}


@dataclass(slots=True)
class _Book:
    """Orders, executions, transfers and logins, in counts and exact amounts."""

    orders: Counter[str] = field(default_factory=Counter)
    order_yen: dict[str, Decimal] = field(default_factory=dict)
    order_decisions: Counter[str] = field(default_factory=Counter)
    symbols: Counter[str] = field(default_factory=Counter)
    cancels: int = 0
    executions: Counter[str] = field(default_factory=Counter)
    executed_yen: dict[str, Decimal] = field(default_factory=dict)
    non_jpy_executions: int = 0
    first_order_us: int | None = None
    last_order_us: int | None = None
    transfers: dict[str, list[Any]] = field(default_factory=dict)  # type -> [count, sum JPY, verdicts]
    logins: Counter[str] = field(default_factory=Counter)

    def add(self, event_type: str, at: int, p: dict[str, Any], verdict: str | None) -> None:
        if event_type == "order":
            side = str(p.get("side"))
            self.orders[side] += 1
            self.order_decisions[verdict or "none"] += 1
            self.symbols[str(p.get("symbol"))] += 1
            value = order_value(p)
            if value is not None and (p.get("currency") or "JPY") == "JPY":
                self.order_yen[side] = self.order_yen.get(side, ZERO) + value
            self.first_order_us = at if self.first_order_us is None else self.first_order_us
            self.last_order_us = at
        elif event_type == "order_cancel":
            self.cancels += 1
        elif event_type == "execution":
            side = str(p.get("side"))
            self.executions[side] += 1
            qty, price = decimal_of(p.get("quantity")), decimal_of(p.get("price"))
            if (p.get("currency") or "JPY") != "JPY" or qty is None or price is None:
                self.non_jpy_executions += 1
            else:
                self.executed_yen[side] = self.executed_yen.get(side, ZERO) + qty * price
        elif event_type in ("fiat_deposit", "fiat_withdrawal", "crypto_deposit", "crypto_withdrawal"):
            entry = self.transfers.setdefault(event_type, [0, ZERO, Counter()])
            entry[0] += 1
            if event_type.startswith("fiat"):
                amount = decimal_of(p.get("amount")) if (p.get("currency") or "JPY") == "JPY" else None
            else:
                amount = decimal_of(p.get("amount_jpy"))
            entry[1] += amount or ZERO
            entry[2][verdict or "none"] += 1
        elif event_type == "login":
            self.logins["success" if p.get("result") == "success" else "failure"] += 1
            self.logins[f"decision:{verdict or 'none'}"] += 1

    def view(self, top: int) -> dict[str, Any]:
        logins = {k: v for k, v in self.logins.items() if not k.startswith("decision:")}
        return {
            "orders": {"count": sum(self.orders.values()), "by_side": dict(self.orders),
                       "value_jpy_by_side": {k: yen(v) for k, v in self.order_yen.items()},
                       "by_decision": dict(self.order_decisions), "cancels": self.cancels,
                       "symbols": [{"symbol": s, "orders": n} for s, n in self.symbols.most_common(top)],
                       "first_at": iso_utc(self.first_order_us) if self.first_order_us is not None else None,
                       "last_at": iso_utc(self.last_order_us) if self.last_order_us is not None else None},
            "executions": {"count": sum(self.executions.values()), "by_side": dict(self.executions),
                           "value_jpy_by_side": {k: yen(v) for k, v in self.executed_yen.items()},
                           "not_in_jpy": self.non_jpy_executions},
            "transfers": {k: {"count": v[0], "amount_jpy": yen(v[1]), "by_decision": dict(v[2])}
                          for k, v in sorted(self.transfers.items())},
            "logins": {**logins, "by_decision": {k.split(":", 1)[1]: v for k, v in self.logins.items()
                                                 if k.startswith("decision:")}},
        }


def _holdings(snapshot: tuple[int, list[dict[str, Any]]] | None,
              after: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    base: dict[str, Decimal] = {}
    values: dict[str, Decimal | None] = {}
    if snapshot is not None:
        for position in snapshot[1]:
            symbol = str(position.get("symbol"))
            base[symbol] = base.get(symbol, ZERO) + (decimal_of(position.get("quantity")) or ZERO)
            values[symbol] = decimal_of(position.get("market_value_jpy"))
    bought: dict[str, Decimal] = {}
    sold: dict[str, Decimal] = {}
    for _at, p in after:
        qty = decimal_of(p.get("quantity")) or ZERO
        target = bought if p.get("side") == "buy" else sold
        symbol = str(p.get("symbol"))
        target[symbol] = target.get(symbol, ZERO) + qty
    positions = []
    for symbol in sorted(set(base) | set(bought) | set(sold)):
        held = base.get(symbol, ZERO) + bought.get(symbol, ZERO) - sold.get(symbol, ZERO)
        positions.append({"symbol": symbol, "quantity": decimal_text(max(held, ZERO)),
                          "snapshot_quantity": decimal_text(base.get(symbol, ZERO)),
                          "bought_since": decimal_text(bought.get(symbol, ZERO)),
                          "sold_since": decimal_text(sold.get(symbol, ZERO)),
                          "snapshot_value_jpy": yen(v) if (v := values.get(symbol)) is not None else None,
                          "new_since_snapshot": symbol not in base})
    return {"snapshot_at": iso_utc(snapshot[0]) if snapshot is not None else None,
            "executions_since_snapshot": len(after), "positions": positions}


def _alerts(engine: Engine, account_id: str, limit: int) -> dict[str, Any]:
    with engine.connect() as conn:
        by_status: dict[Any, Any] = dict(conn.execute(
            select(alerts.c.status, func.count()).where(alerts.c.account_id == account_id)
            .group_by(alerts.c.status)).all())
        rows = conn.execute(select(alerts).where(alerts.c.account_id == account_id, alerts.c.status == "open")
                            .order_by(alerts.c.id.desc()).limit(limit)).mappings().all()
    return {"by_status": {str(k): int(v) for k, v in by_status.items()},
            "open": [{"id": r["id"], "event_id": r["event_id"], "event_type": r["event_type"],
                      "decision": r["decision"], "score": r["score"], "rules": orjson.loads(r["rules"]),
                      "created_at": iso_utc(r["created_at_us"])} for r in rows]}


def _top(items: dict[str, Any], top: int) -> list[dict[str, Any]]:
    ordered = sorted(items.items(), key=lambda kv: (-kv[1].last_us, kv[0]))[:top]
    return [{"value": k, **v.view()} for k, v in ordered]


def account_overview(engine: Engine, account_id: str, *, since_us: int | None = None, until_us: int | None = None,
                     top: int = 50, max_events: int = MAX_EVENTS, geo: GeoProvider | None = None,
                     alerts_limit: int = 50) -> dict[str, Any]:
    """The account's devices, networks, destinations, holdings, orders, transfers, state and alerts
    (``since_us`` inclusive, ``until_us`` exclusive). Lists are the ``top`` most recently used; the
    totals say how many there are. At most ``max_events`` events are read (``truncated`` says so)."""
    if not 1 <= top <= 1000:
        raise InvalidRequest("top must be between 1 and 1000", details={"field": "top"})
    check_range(since_us, until_us)
    t = events.c.occurred_at_us
    cond = [events.c.account_id == account_id]
    if since_us is not None:
        cond.append(t >= since_us)
    if until_us is not None:
        cond.append(t < until_us)
    stmt = (select(events.c.event_type, t, events.c.payload, decisions.c.decision)
            .select_from(events.outerjoin(decisions, decisions.c.event_id == events.c.event_id))
            .where(*cond).order_by(t, events.c.seq).limit(max_events + 1))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    truncated = len(rows) > max_events
    rows = rows[:max_events]

    devices: dict[str, _Seen] = {}
    networks: dict[str, _Seen] = {}
    net_ips: dict[str, set[str]] = {}
    destinations: dict[str, _Destination] = {}
    book = _Book()
    snapshot: tuple[int, list[dict[str, Any]]] | None = None
    executions_after: list[tuple[int, dict[str, Any]]] = []
    state: dict[str, Any] = {"frozen": False, "frozen_at": None, "frozen_reason": None, "last_unlock": None}
    profile: dict[str, Any] | None = None
    settings: list[dict[str, Any]] = []
    types: Counter[str] = Counter()
    for event_type, at, raw, verdict in rows:
        p = orjson.loads(raw)
        types[event_type] += 1
        device, ip = p.get("device_id"), p.get("ip")
        if device:
            seen = devices.get(device) or devices.setdefault(device, _Seen(at, at))
            seen.touch(at, event_type, p, verdict)
            if ip:
                seen.extra["last_ip"] = ip
            if p.get("user_agent"):
                seen.extra["last_user_agent"] = p["user_agent"]
        if ip:
            try:
                net = network_of(ip)
            except ValueError:
                net = None
            if net is not None:
                nseen = networks.get(net) or networks.setdefault(net, _Seen(at, at))
                nseen.touch(at, event_type, p, verdict)
                net_ips.setdefault(net, set()).add(ip)
        book.add(event_type, at, p, verdict)
        if event_type in ("fiat_withdrawal", "crypto_withdrawal"):
            if event_type == "fiat_withdrawal":
                key, kind, amount = p.get("bank_account_fingerprint"), "bank_account", decimal_of(p.get("amount"))
                if (p.get("currency") or "JPY") != "JPY":
                    amount = None
            else:
                key, kind = f"{p.get('chain')}:{p.get('address')}", "crypto_address"
                amount = decimal_of(p.get("amount_jpy"))
            if key:
                dest = destinations.get(key) or destinations.setdefault(key, _Destination(kind, at, at))
                dest.first_us, dest.last_us = min(dest.first_us, at), max(dest.last_us, at)
                dest.withdrawals += 1
                dest.amount_jpy += amount or ZERO
                dest.verdicts[verdict or "none"] += 1
        elif event_type == "settings_change":
            settings.append({"at": iso_utc(at), "setting": p.get("setting"), "change": p.get("change"),
                             "decision": verdict})
            fp = p.get("new_value_fingerprint")
            if p.get("setting") == "withdrawal_account" and fp and p.get("change") != "removed":
                dest = destinations.get(fp) or destinations.setdefault(fp, _Destination("bank_account", at, at))
                dest.first_us, dest.last_us = min(dest.first_us, at), max(dest.last_us, at)
                dest.registered_us = at if dest.registered_us is None else dest.registered_us
        elif event_type == "holdings_snapshot":
            snapshot, executions_after = (at, p.get("positions") or []), []
        elif event_type == "execution":
            executions_after.append((at, p))
        elif event_type == "account_freeze":
            state.update(frozen=True, frozen_at=iso_utc(at), frozen_reason=p.get("reason"))
        elif event_type == "account_unlock":
            state.update(frozen=False, last_unlock={"at": iso_utc(at), "reason": p.get("reason")})
        elif event_type == "account_profile":
            profile = {k: v for k, v in p.items() if k in ("segment", "per_order_limit_jpy", "daily_buy_limit_jpy",
                                                           "daily_sell_limit_jpy")}
    describe = ip_describer(geo)
    for net, seen in networks.items():
        seen.extra["ips"] = len(net_ips.get(net, ()))
        if describe is not None:
            sample = next(iter(sorted(net_ips[net])))
            country, operator, ip_class = describe(sample)
            seen.extra.update(country=country, operator=operator, ip_class=ip_class)
    ordered_dest = sorted(destinations.items(), key=lambda kv: (-kv[1].last_us, kv[0]))[:top]
    return {
        "account_id": account_id, "events": len(rows), "truncated": truncated, "event_types": dict(types),
        "first_event_at": iso_utc(rows[0][1]) if rows else None,
        "last_event_at": iso_utc(rows[-1][1]) if rows else None,
        "devices": _top(devices, top), "devices_total": len(devices),
        "networks": _top(networks, top), "networks_total": len(networks),
        "destinations": [v.view(k) for k, v in ordered_dest], "destinations_total": len(destinations),
        "holdings": _holdings(snapshot, executions_after), **book.view(top),
        "settings_changes": settings[-top:][::-1], "state": state, "profile": profile,
        "alerts": _alerts(engine, account_id, alerts_limit),
    }
