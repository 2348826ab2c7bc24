"""Held orders and withdrawals: every ``order`` / ``fiat_withdrawal`` / ``crypto_withdrawal`` the engine
decided ``hold`` waits here (``pending``) until an approved action releases or cancels it.

Filled incrementally, like case grouping: every ``hold`` decision raises an alert (the engine's
rule), so :func:`refresh` reads the alerts after its watermark (a primary-key range, cheap with
millions of decisions), takes the held money movements with their event payloads, and inserts one
row each. It also looks ``LOOKBACK_IDS`` ids below the watermark for alerts not yet filed: on
PostgreSQL a lower id can become visible after a higher one. Inserts are idempotent (``event_id``
is unique), so two refreshers at once file each item once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Final

import orjson
from sqlalchemy import Connection, Engine, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from mamori.actions.tables import held_items, held_state
from mamori.adapters.sql.schema import alerts, events
from mamori.kit.errors import NotFound

KINDS: Final = {"order": "order", "fiat_withdrawal": "withdrawal", "crypto_withdrawal": "withdrawal"}
WATERMARK: Final = "alerts"
LOOKBACK_IDS: Final = 1000
BATCH: Final = 1000
MAX_BATCHES: Final = 200  # one refresh files at most 200,000 items; the next one continues
_SUMMARY_FIELDS: Final = ("order_id", "transfer_id", "side", "symbol", "market", "quantity", "price",
                          "order_type", "amount", "currency", "asset", "chain", "amount_jpy")
_lock = threading.Lock()


def refresh(engine: Engine) -> int:
    """File new held items; returns how many were added."""
    added = 0
    with _lock:
        for _ in range(MAX_BATCHES):
            with engine.connect() as conn:
                mark = int(conn.execute(select(held_state.c.value).where(held_state.c.name == WATERMARK)).scalar() or 0)
                rows = conn.execute(
                    select(alerts.c.id, alerts.c.event_id, alerts.c.event_type, alerts.c.account_id, alerts.c.rules,
                           alerts.c.created_at_us, events.c.payload)
                    .join(events, events.c.event_id == alerts.c.event_id)
                    .where(alerts.c.id > mark - LOOKBACK_IDS, alerts.c.decision == "hold",
                           alerts.c.event_type.in_(sorted(KINDS)),
                           ~exists().where(held_items.c.event_id == alerts.c.event_id))
                    .order_by(alerts.c.id).limit(BATCH)).all()
                newest = int(conn.execute(select(alerts.c.id).order_by(alerts.c.id.desc()).limit(1)).scalar() or 0)
            added += _file(engine, rows)
            top = max([mark, *(int(r.id) for r in rows)]) if len(rows) == BATCH else max(mark, newest)
            _set_watermark(engine, top)
            if len(rows) < BATCH:
                break
    return added


def _file(engine: Engine, rows: Sequence[Any]) -> int:
    """Insert the batch in one transaction; if another refresher filed some meanwhile, one by one."""
    items = [_item(r) for r in rows]
    if not items:
        return 0
    try:
        with engine.begin() as conn:
            conn.execute(insert(held_items), items)
        return len(items)
    except IntegrityError:
        pass
    added = 0
    for item in items:
        try:
            with engine.begin() as conn:
                conn.execute(insert(held_items).values(**item))
            added += 1
        except IntegrityError:
            continue  # filed meanwhile by another refresher
    return added


def _item(r: Any) -> dict[str, Any]:
    payload = orjson.loads(r.payload)
    return {"event_id": r.event_id, "alert_id": r.id, "kind": KINDS[r.event_type], "event_type": r.event_type,
            "account_id": r.account_id, "reference": str(payload.get("order_id") or payload.get("transfer_id")),
            "summary": orjson.dumps({k: payload[k] for k in _SUMMARY_FIELDS if k in payload}).decode(),
            "rules": r.rules, "held_at_us": r.created_at_us, "state": "pending"}


def _set_watermark(engine: Engine, value: int) -> None:
    t = held_state
    with engine.begin() as conn:
        if conn.execute(update(t).where(t.c.name == WATERMARK, t.c.value < value).values(value=value)).rowcount:
            return
        missing = conn.execute(select(t.c.value).where(t.c.name == WATERMARK)).first() is None
    if missing:
        try:
            with engine.begin() as conn:
                conn.execute(insert(t).values(name=WATERMARK, value=value))
        except IntegrityError:
            pass  # another refresher created it meanwhile


def as_dict(row: Any) -> dict[str, Any]:
    return {"id": row.id, "event_id": row.event_id, "kind": row.kind, "event_type": row.event_type,
            "account_id": row.account_id, "reference": row.reference, "summary": orjson.loads(row.summary),
            "rules": orjson.loads(row.rules), "held_at_us": row.held_at_us, "state": row.state,
            "resolved_by": row.resolved_by, "resolved_at_us": row.resolved_at_us, "action_id": row.action_id}


def query(engine: Engine, *, state: str | None = None, account_id: str | None = None, kind: str | None = None,
          limit: int = 100, before_id: int | None = None) -> list[dict[str, Any]]:
    """Held items, newest first; ``before_id`` pages."""
    cond = []
    if state is not None:
        cond.append(held_items.c.state == state)
    if account_id is not None:
        cond.append(held_items.c.account_id == account_id)
    if kind is not None:
        cond.append(held_items.c.kind == kind)
    if before_id is not None:
        cond.append(held_items.c.id < before_id)
    with engine.connect() as conn:
        rows = conn.execute(select(held_items).where(*cond).order_by(held_items.c.id.desc()).limit(limit)).all()
    return [as_dict(r) for r in rows]


def load(conn: Connection, held_id: int) -> Any:
    row = conn.execute(select(held_items).where(held_items.c.id == held_id)).first()
    if row is None:
        raise NotFound(f"no held item {held_id}", details={"held_id": held_id})
    return row


def resolve(conn: Connection, held_id: int, *, outcome: str, by: str, at_us: int, action_id: str) -> bool:
    """Compare-and-set ``pending`` -> ``outcome`` in the caller's transaction; False if no longer pending."""
    result = conn.execute(update(held_items).where(held_items.c.id == held_id, held_items.c.state == "pending")
                          .values(state=outcome, resolved_by=by, resolved_at_us=at_us, action_id=action_id))
    return bool(result.rowcount)
