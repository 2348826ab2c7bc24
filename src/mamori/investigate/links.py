"""Accounts linked to an account: a shared device, IP network (/24 or /48), withdrawal destination or
new contact (e-mail / phone fingerprint) within a window.

Money-mule rings and takeover crews reuse devices, networks and payout accounts; the engine's
windowed features (``device_accounts_24h``, ``fingerprint_accounts_30d``, ``address_senders_24h``)
catch them as they happen, this view lets an analyst see them afterwards.

Bounded by design. A value that more than ``crowd_limit`` other accounts used in the window (a
carrier-grade NAT, a shared office network, a public Wi-Fi) is reported as *crowded* with "more
than ``crowd_limit``" and not expanded; every other value is expanded to the accounts that used it,
and the linked accounts are ranked by how specific their links are — each shared value weighs its
kind's weight (device, destination, contact: 3; network: 1) divided by how many accounts share it —
and only the ``top`` are listed (``linked_total`` says how many there were). Work per query is
bounded the same way: at most ``max_values`` of the account's own values per kind (the most recent),
and at most ``crowd_limit`` + 1 accounts read per value.

The window is resolved to the day: the index (:mod:`mamori.investigate.linkindex`) keeps per-day
counts, and a day that overlaps the window counts whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Engine, func, select

from mamori.adapters.sql.store import now_us as clock_us
from mamori.investigate.common import US_PER_DAY, check_range, iso_utc
from mamori.investigate.linkindex import KINDS, link_keys, refresh_link_index
from mamori.kit.errors import InvalidRequest

__all__ = ["KIND_WEIGHTS", "linked_accounts", "parse_kinds"]

KIND_WEIGHTS: Final = {"device": 3.0, "destination": 3.0, "contact": 3.0, "network": 1.0}


def parse_kinds(value: str | Iterable[str] | None, field: str = "kinds") -> tuple[str, ...]:
    """Link kinds from ``"device,network"`` (or a list; None: all); 422 naming ``field`` if unknown."""
    if value is None:
        return KINDS
    items = [k.strip() for k in (value.split(",") if isinstance(value, str) else value) if k.strip()]
    unknown = sorted(set(items) - set(KINDS))
    if unknown or not items:
        raise InvalidRequest(f"unknown link kind(s): {', '.join(unknown) or '(none given)'}",
                             details={"field": field, "allowed": list(KINDS)})
    return tuple(k for k in KINDS if k in items)


@dataclass(slots=True)
class _Link:
    account_id: str
    score: float = 0.0
    first_us: int | None = None
    last_us: int | None = None
    shared: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, value: str, sharers: int, events: int, failed: int, first: int, last: int) -> None:
        self.score += KIND_WEIGHTS[kind] / max(1, sharers)
        self.first_us = first if self.first_us is None else min(self.first_us, first)
        self.last_us = last if self.last_us is None else max(self.last_us, last)
        self.shared.append({"kind": kind, "value": value, "events": events, "failed_logins": failed,
                            "first_seen": iso_utc(first), "last_seen": iso_utc(last)})


def linked_accounts(engine: Engine, account_id: str, *, since_us: int | None = None, until_us: int | None = None,
                    window_days: int = 30, now_us: int | None = None, kinds: Iterable[str] | None = None,
                    top: int = 20, crowd_limit: int = 50, max_values: int = 200, refresh: bool = True,
                    max_catch_up: int | None = 250_000) -> dict[str, Any]:
    """The accounts that shared a device, network, destination or contact with ``account_id``
    between ``since_us`` (default: ``window_days`` before ``until_us``) and ``until_us`` (default:
    now), ranked, at most ``top``. Folds new events into the link index first (at most
    ``max_catch_up``; ``index.behind`` > 0 means the answer may miss the newest events)."""
    if not 1 <= top <= 500:
        raise InvalidRequest("top must be between 1 and 500", details={"field": "top"})
    if not 1 <= window_days <= 3660:
        raise InvalidRequest("window_days must be between 1 and 3660", details={"field": "window_days"})
    if not 1 <= crowd_limit <= 10_000:
        raise InvalidRequest("crowd_limit must be between 1 and 10000", details={"field": "crowd_limit"})
    wanted = parse_kinds(kinds)
    until = until_us if until_us is not None else (clock_us() if now_us is None else now_us)
    since = since_us if since_us is not None else until - window_days * US_PER_DAY
    check_range(since, until)
    index = refresh_link_index(engine, max_events=max_catch_up) if refresh else None
    k = link_keys.c
    in_window = [k.day >= since // US_PER_DAY, k.day <= (until - 1) // US_PER_DAY,
                 k.last_us >= since, k.first_us < until]
    own_values: list[dict[str, Any]] = []
    crowded: list[dict[str, Any]] = []
    links: dict[str, _Link] = {}
    with engine.connect() as conn:
        own = conn.execute(
            select(k.kind, k.value, func.sum(k.events), func.min(k.first_us), func.max(k.last_us))
            .where(k.account_id == account_id, k.kind.in_(wanted), *in_window)
            .group_by(k.kind, k.value).order_by(func.max(k.last_us).desc())).all()
        per_kind: dict[str, int] = {}
        truncated = False
        for kind, value, n, first, last in own:
            if per_kind.get(kind, 0) >= max_values:
                truncated = True
                continue
            per_kind[kind] = per_kind.get(kind, 0) + 1
            others = conn.execute(
                select(k.account_id).where(k.kind == kind, k.value == value, k.account_id != account_id, *in_window)
                .group_by(k.account_id).limit(crowd_limit + 1)).scalars().all()
            entry = {"kind": kind, "value": value, "events": int(n), "first_seen": iso_utc(first),
                     "last_seen": iso_utc(last), "other_accounts": len(others), "crowded": len(others) > crowd_limit}
            if entry["crowded"]:
                entry["other_accounts"] = f">{crowd_limit}"
                crowded.append(entry)
            own_values.append(entry)
            if not others or entry["crowded"]:
                continue
            rows = conn.execute(
                select(k.account_id, func.sum(k.events), func.sum(k.failed_logins), func.min(k.first_us),
                       func.max(k.last_us))
                .where(k.kind == kind, k.value == value, k.account_id.in_(others), *in_window)
                .group_by(k.account_id)).all()
            for other, events_n, failed_n, first_o, last_o in rows:
                link = links.get(other) or links.setdefault(other, _Link(other))
                link.add(kind, value, len(others), int(events_n), int(failed_n), int(first_o), int(last_o))
    ranked = sorted(links.values(), key=lambda lk: (-lk.score, -(lk.last_us or 0), lk.account_id))[:top]
    return {
        "account_id": account_id, "window": {"since": iso_utc(since), "until": iso_utc(until)},
        "index": index, "values": own_values, "values_truncated": truncated, "crowd_limit": crowd_limit,
        "crowded_values": crowded, "linked_total": len(links),
        "linked": [{"account_id": lk.account_id, "score": round(lk.score, 4),
                    "kinds": sorted({s["kind"] for s in lk.shared}),
                    "first_seen": iso_utc(lk.first_us) if lk.first_us is not None else None,
                    "last_seen": iso_utc(lk.last_us) if lk.last_us is not None else None,
                    "shared": lk.shared} for lk in ranked],
    }
