"""The link index: which accounts used which device, network, destination or contact, per day.

Finding the accounts that share a device with one account would otherwise mean reading every
event's payload in the window (device ids and IPs live inside the JSON, and the events table has no
index on them; this package adds nothing to the existing tables). So the index is derived from the
events and kept in two tables of its own, created idempotently on first use:

``inv_link_keys (kind, value, account_id, day)`` — per UTC day: events, failed logins, first and
last time. Kinds and values:

* ``device`` — the event's ``device_id``;
* ``network`` — the /24 (IPv4) or /48 (IPv6) of the event's ``ip`` (:func:`mamori.adapters.geo.network_of`);
* ``destination`` — ``bank:<fingerprint>`` of a fiat withdrawal or of a new withdrawal account
  (``settings_change`` of ``withdrawal_account``), ``crypto:<chain>:<address>`` of a crypto withdrawal;
* ``contact`` — ``email:<fingerprint>`` / ``phone:<fingerprint>`` of a new e-mail or phone.

``inv_link_state`` — the ``seq`` of the last event folded in.

:func:`refresh_link_index` folds in the events stored after that ``seq``, in batches, each batch and
its new watermark in one transaction (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: the state row is
locked), so concurrent refreshes never count an event twice. It stops before a gap in ``seq`` that
is younger than ``settle_s`` (on PostgreSQL a lower ``seq`` can commit after a higher one; an old gap
is a rolled-back insert). Link queries refresh first; a worker may also call it periodically so that
queries find little to fold in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, Final

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from mamori.adapters.geo import network_of
from mamori.adapters.sql.schema import events
from mamori.adapters.sql.store import now_us as clock_us
from mamori.investigate.common import US_PER_DAY, once_per_engine
from mamori.risk.features.base import address_key

__all__ = ["KINDS", "ensure_link_tables", "link_keys", "link_state", "refresh_link_index"]

KINDS: Final = ("device", "network", "destination", "contact")
STATE_NAME: Final = "links"

link_metadata = MetaData()
link_keys = Table(
    "inv_link_keys", link_metadata,
    Column("kind", String(16), primary_key=True),
    Column("value", String(256), primary_key=True),
    Column("account_id", String(128), primary_key=True),
    Column("day", Integer, primary_key=True, autoincrement=False),
    Column("events", Integer, nullable=False),
    Column("failed_logins", Integer, nullable=False),
    Column("first_us", BigInteger, nullable=False),
    Column("last_us", BigInteger, nullable=False),
)
Index("ix_inv_link_keys_account", link_keys.c.account_id, link_keys.c.day)
link_state = Table(
    "inv_link_state", link_metadata,
    Column("name", String(32), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
)

# Events whose payload has none of these fields contribute nothing: skip them without parsing.
_MARKERS: Final = ('"ip"', '"device_id"', '"bank_account_fingerprint"', '"address"', '"new_value_fingerprint"')


def _create(engine: Engine) -> None:
    try:
        link_metadata.create_all(engine)
    except (OperationalError, ProgrammingError, IntegrityError):
        link_metadata.create_all(engine)  # another process created them meanwhile: checkfirst now sees them
    try:
        with engine.begin() as conn:
            if conn.execute(select(link_state.c.name).where(link_state.c.name == STATE_NAME)).first() is None:
                conn.execute(insert(link_state).values(name=STATE_NAME, last_seq=0))
    except IntegrityError:
        pass  # inserted by another process


def ensure_link_tables(engine: Engine) -> None:
    """Create ``inv_link_keys`` and ``inv_link_state`` if missing (once per engine per process)."""
    once_per_engine(engine, "link_tables", _create)


def keys_of(event_type: str, payload: dict[str, Any]) -> list[tuple[str, str]]:
    """The (kind, value) pairs an event contributes to the index."""
    out: list[tuple[str, str]] = []
    device = payload.get("device_id")
    if device:
        out.append(("device", str(device)))
    ip = payload.get("ip")
    if ip:
        with contextlib.suppress(ValueError):
            out.append(("network", network_of(str(ip))))
    if event_type == "fiat_withdrawal" and payload.get("bank_account_fingerprint"):
        out.append(("destination", f"bank:{payload['bank_account_fingerprint']}"))
    elif event_type == "crypto_withdrawal" and payload.get("address"):
        out.append(("destination", f"crypto:{address_key(str(payload.get('chain')), str(payload['address']))}"))
    elif (event_type == "settings_change" and payload.get("new_value_fingerprint")
          and payload.get("change") != "removed"):
        setting, fp = payload.get("setting"), payload["new_value_fingerprint"]
        if setting == "withdrawal_account":
            out.append(("destination", f"bank:{fp}"))
        elif setting in ("email", "phone"):
            out.append(("contact", f"{setting}:{fp}"))
    return out


def _lock(conn: Connection) -> int:
    """Take the refresh lock for this transaction and return the watermark."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock before reading the watermark
    stmt = select(link_state.c.last_seq).where(link_state.c.name == STATE_NAME)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    value = conn.execute(stmt).scalar()
    return int(value or 0)


def _upsert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    t = link_keys
    keys = [t.c.kind, t.c.value, t.c.account_id, t.c.day]
    if conn.dialect.name == "sqlite":
        s = sqlite_insert(t)
        conn.execute(s.on_conflict_do_update(index_elements=keys, set_={
            "events": t.c.events + s.excluded.events, "failed_logins": t.c.failed_logins + s.excluded.failed_logins,
            "first_us": func.min(t.c.first_us, s.excluded.first_us),
            "last_us": func.max(t.c.last_us, s.excluded.last_us)}), rows)
    elif conn.dialect.name == "postgresql":
        p = pg_insert(t)
        conn.execute(p.on_conflict_do_update(index_elements=keys, set_={
            "events": t.c.events + p.excluded.events, "failed_logins": t.c.failed_logins + p.excluded.failed_logins,
            "first_us": func.least(t.c.first_us, p.excluded.first_us),
            "last_us": func.greatest(t.c.last_us, p.excluded.last_us)}), rows)
    else:  # any other database: read, then update or insert (slower, same result under the lock)
        for r in rows:
            where = [c == r[c.name] for c in keys]
            old = conn.execute(select(t.c.events, t.c.failed_logins, t.c.first_us, t.c.last_us).where(*where)).first()
            if old is None:
                conn.execute(insert(t).values(**r))
            else:
                conn.execute(update(t).where(*where).values(
                    events=old.events + r["events"], failed_logins=old.failed_logins + r["failed_logins"],
                    first_us=min(old.first_us, r["first_us"]), last_us=max(old.last_us, r["last_us"])))


_Key = tuple[str, str, str, int]  # kind, value, account, day


def _fold(rows: Sequence[Any], watermark: int, settle_before_us: int) -> tuple[int, dict[_Key, list[int]]]:
    acc: dict[_Key, list[int]] = {}
    last = watermark
    for seq, event_type, account_id, at, received_at, raw in rows:
        if seq != last + 1 and received_at > settle_before_us:
            break  # a younger gap may be an insert still in flight: wait for it
        last = seq
        if not any(m in raw for m in _MARKERS):
            continue
        payload = orjson.loads(raw)
        failed = 1 if event_type == "login" and payload.get("result") != "success" else 0
        day = at // US_PER_DAY
        for kind, value in keys_of(event_type, payload):
            key = (kind, value[:256], account_id, day)
            entry = acc.get(key)
            if entry is None:
                acc[key] = [1, failed, at, at]
            else:
                entry[0] += 1
                entry[1] += failed
                entry[2] = min(entry[2], at)
                entry[3] = max(entry[3], at)
    return last, acc


def refresh_link_index(engine: Engine, *, max_events: int | None = None, batch: int = 10_000,
                       settle_s: float = 30.0, now_us: int | None = None) -> dict[str, Any]:
    """Fold the events stored since the last refresh into the index (at most ``max_events`` of them
    in this call; ``None``: all). Returns ``{"folded", "last_seq", "behind"}`` where ``behind`` is how
    many sequence numbers are still to fold (0 when the index is complete)."""
    ensure_link_tables(engine)
    folded = 0
    while max_events is None or folded < max_events:
        size = batch if max_events is None else min(batch, max_events - folded)
        settle_before = (clock_us() if now_us is None else now_us) - int(settle_s * 1_000_000)
        with engine.begin() as conn:
            watermark = _lock(conn)
            rows = conn.execute(
                select(events.c.seq, events.c.event_type, events.c.account_id, events.c.occurred_at_us,
                       events.c.received_at_us, events.c.payload)
                .where(events.c.seq > watermark).order_by(events.c.seq).limit(size)).all()
            last, acc = _fold(rows, watermark, settle_before)
            _upsert(conn, [{"kind": k[0], "value": k[1], "account_id": k[2], "day": k[3], "events": v[0],
                            "failed_logins": v[1], "first_us": v[2], "last_us": v[3]} for k, v in acc.items()])
            if last != watermark:
                conn.execute(update(link_state).where(link_state.c.name == STATE_NAME).values(last_seq=last))
        folded += sum(1 for r in rows if r[0] <= last)
        if len(rows) < size or last != (rows[-1][0] if rows else watermark):
            break  # caught up, or waiting for a gap to settle
    with engine.connect() as conn:
        newest = int(conn.execute(select(func.coalesce(func.max(events.c.seq), 0))).scalar_one())
        watermark = int(conn.execute(select(link_state.c.last_seq).where(link_state.c.name == STATE_NAME))
                        .scalar() or 0)
    return {"folded": folded, "last_seq": watermark, "behind": max(0, newest - watermark)}
