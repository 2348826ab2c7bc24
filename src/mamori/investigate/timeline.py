"""One account's timeline: every event in time order with its decision, explained.

Each item carries the event (its payload without the envelope), the verdict, score and rule set,
every fired rule with the feature values it read (as stored on the decision: the decision is the
explanation, nothing is recomputed), rule failures, and a one-line summary in English and Japanese
(:mod:`mamori.investigate.summaries`).

Speed: one query per page. It walks ``ix_events_account_time (account_id, occurred_at_us)`` in
order (on SQLite the index also carries ``seq``, the rowid, so the keyset ``(occurred_at_us, seq)``
needs no sort) and joins each event's decision by its primary key, so only the page's decisions are
read. Pages are keyset pages: ``next_cursor`` names the last item's (time, seq); nothing is skipped
or repeated when events arrive meanwhile (a late event placed before the cursor is not shown on the
following pages: start again to see it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, Literal

import orjson
from sqlalchemy import Engine, and_, or_, select

from mamori.adapters.geo import GeoProvider
from mamori.adapters.sql.schema import decisions, events
from mamori.events.models import EVENT_TYPES
from mamori.investigate.common import (
    check_range,
    decode_cursor,
    encode_cursor,
    iso_jst,
    iso_utc,
)
from mamori.investigate.overview import account_overview
from mamori.investigate.summaries import Verdict, ip_describer, summarize
from mamori.kit.errors import InvalidRequest

__all__ = ["MAX_LIMIT", "account_overview", "account_timeline", "ip_describer", "parse_types"]

MAX_LIMIT: Final = 1000
MAX_POSITIONS_SHOWN: Final = 100
_ENVELOPE: Final = frozenset({"id", "type", "account_id", "occurred_at", "version"})


def parse_types(value: str | Iterable[str] | None, field: str = "types") -> tuple[str, ...] | None:
    """Event types from ``"login,order"`` (or a list); 422 naming ``field`` for an unknown type."""
    if value is None:
        return None
    items = [t.strip() for t in (value.split(",") if isinstance(value, str) else value) if t.strip()]
    unknown = sorted({t for t in items if t not in EVENT_TYPES})
    if unknown:
        raise InvalidRequest(f"unknown event type(s): {', '.join(unknown)}",
                             details={"field": field, "allowed": sorted(EVENT_TYPES)})
    return tuple(dict.fromkeys(items)) or None


def _event_view(payload: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in payload.items() if k not in _ENVELOPE}
    positions = view.get("positions")
    if isinstance(positions, list) and len(positions) > MAX_POSITIONS_SHOWN:
        view["positions"] = positions[:MAX_POSITIONS_SHOWN]
        view["positions_total"] = len(positions)
    return view


def _rules(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": r.get("id"), "version": r.get("version"), "action": r.get("action"), "score": r.get("score"),
             "description": r.get("description"), "tags": r.get("tags", []), "values": r.get("values", {})}
            for r in body.get("rules", ())]


def account_timeline(engine: Engine, account_id: str, *, since_us: int | None = None, until_us: int | None = None,
                     types: Iterable[str] | None = None, limit: int = 500, cursor: str | None = None,
                     order: Literal["asc", "desc"] = "asc", geo: GeoProvider | None = None) -> dict[str, Any]:
    """One page of the account's events (``since_us`` inclusive, ``until_us`` exclusive, optionally
    only ``types``), oldest first (``order="desc"``: newest first), each with its decision.

    Returns ``{"account_id", "order", "items": [...], "next_cursor"}``; pass ``next_cursor`` back as
    ``cursor`` for the next page (``None`` on the last page). Raises
    :class:`~mamori.kit.errors.InvalidRequest` naming the field for a bad limit, type, range or cursor.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}", details={"field": "limit"})
    if order not in ("asc", "desc"):
        raise InvalidRequest("order must be asc or desc", details={"field": "order"})
    check_range(since_us, until_us)
    wanted = parse_types(types)
    t, seq = events.c.occurred_at_us, events.c.seq
    cond = [events.c.account_id == account_id]
    if since_us is not None:
        cond.append(t >= since_us)
    if until_us is not None:
        cond.append(t < until_us)
    if wanted is not None:
        cond.append(events.c.event_type.in_(wanted))
    if cursor:
        at, after = decode_cursor(cursor, (int, int))
        # The first conjunct bounds the index range; the second breaks ties on seq.
        if order == "asc":
            cond += [t >= at, or_(t > at, and_(t == at, seq > after))]
        else:
            cond += [t <= at, or_(t < at, and_(t == at, seq < after))]
    sort = (t.asc(), seq.asc()) if order == "asc" else (t.desc(), seq.desc())
    stmt = (select(seq, events.c.event_id, events.c.event_type, t, events.c.payload, decisions.c.decision,
                   decisions.c.score, decisions.c.ruleset, decisions.c.alert, decisions.c.body)
            .select_from(events.outerjoin(decisions, decisions.c.event_id == events.c.event_id))
            .where(*cond).order_by(*sort).limit(limit + 1))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    more = len(rows) > limit
    rows = rows[:limit]
    describe = ip_describer(geo)
    items = []
    for row_seq, event_id, event_type, at, raw, verdict, score, ruleset, alert, raw_body in rows:
        payload = orjson.loads(raw)
        body = orjson.loads(raw_body) if raw_body is not None else {}
        rules = _rules(body)
        explained = Verdict(verdict, tuple(str(r["id"]) for r in rules), body.get("features") or {})
        en, ja = summarize(event_type, payload, explained, describe)
        item: dict[str, Any] = {
            "seq": row_seq, "event_id": event_id, "type": event_type,
            "occurred_at": iso_utc(at), "occurred_at_jst": iso_jst(at),
            "decision": verdict, "score": score, "alert": None if alert is None else bool(alert),
            "ruleset": ruleset, "rules": rules, "summary": en, "summary_ja": ja, "event": _event_view(payload),
        }
        if body.get("errors"):
            item["errors"] = body["errors"]
        items.append(item)
    next_cursor = encode_cursor(rows[-1][3], rows[-1][0]) if more and rows else None
    return {"account_id": account_id, "order": order, "items": items, "next_cursor": next_cursor}
