"""Shared helpers of the investigation package: times (stored UTC, shown JST), yen, cursors, and the
one index this package adds to the store.

The index ``ix_decisions_type_time ON decisions (event_type, occurred_at_us, decision, alert)`` lets
the figures find the rare event types (``account_freeze``, ``account_unlock``) and the live counters
count verdicts and alerts per type in a time window without reading the decisions themselves (the
index covers those queries). It is
created with ``CREATE INDEX IF NOT EXISTS`` the first time a figure is asked for (on PostgreSQL with
``CONCURRENTLY``, so writers are not blocked while it builds); call :func:`ensure_schema` at start-up
to pay that once, before the first request.
"""

from __future__ import annotations

import base64
import threading
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import Engine

from mamori.kit.errors import InvalidRequest

JST: Final = ZoneInfo("Asia/Tokyo")
# Japan has kept UTC+9 without daylight saving since 1952: formatting with the fixed offset gives the
# same text as ``JST`` for every time mamori stores, about ten times faster.
JST_FIXED: Final = timezone(timedelta(hours=9))
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_JST: Final = EPOCH.astimezone(JST_FIXED)
US_PER_S: Final = 1_000_000
US_PER_DAY: Final = 86_400 * US_PER_S
MAX_INT64: Final = 2**63 - 1

DECISION_INDEX_DDL: Final = ("CREATE INDEX {concurrently}IF NOT EXISTS ix_decisions_type_time "
                             "ON decisions (event_type, occurred_at_us, decision, alert)")

_ensured: weakref.WeakKeyDictionary[Engine, set[str]] = weakref.WeakKeyDictionary()
_ensure_lock = threading.Lock()


def once_per_engine(engine: Engine, name: str, create: Callable[[Engine], None]) -> None:
    """Run ``create(engine)`` the first time ``name`` is asked for on ``engine`` in this process
    (the DDL it runs is idempotent, so two processes doing it is harmless)."""
    with _ensure_lock:
        done = _ensured.setdefault(engine, set())
        if name in done:
            return
        create(engine)
        done.add(name)


def _create_decision_index(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(DECISION_INDEX_DDL.format(concurrently="CONCURRENTLY "))
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql(DECISION_INDEX_DDL.format(concurrently=""))


def ensure_schema(engine: Engine) -> None:
    """Create what this package adds to the store, if missing: the decisions index (see the module
    docstring) and the link index tables (:mod:`mamori.investigate.linkindex`)."""
    from mamori.investigate.linkindex import ensure_link_tables

    once_per_engine(engine, "decision_index", _create_decision_index)
    ensure_link_tables(engine)


def ensure_decision_index(engine: Engine) -> None:
    """Create ``ix_decisions_type_time`` if missing (once per engine per process)."""
    once_per_engine(engine, "decision_index", _create_decision_index)


# -- times ------------------------------------------------------------------------------------------
def to_datetime(us: int) -> datetime:
    """Microseconds since the epoch (UTC) as an aware datetime, exactly (no float rounding)."""
    return EPOCH + timedelta(microseconds=us)


def iso_utc(us: int) -> str:
    """``2026-03-02T01:00:00Z`` (microseconds when there are any)."""
    return (EPOCH + timedelta(microseconds=us)).isoformat()[:-6] + "Z"


def iso_jst(us: int) -> str:
    """``2026-03-02T10:00:00+09:00``."""
    return (EPOCH_JST + timedelta(microseconds=us)).isoformat()


def to_us(value: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch (exact)."""
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * US_PER_S + delta.microseconds


def jst_month(us: int) -> str:
    """``YYYY-MM`` of the month (JST) the instant falls in."""
    d = EPOCH_JST + timedelta(microseconds=us)
    return f"{d.year:04d}-{d.month:02d}"


def parse_time(value: str | None, field: str) -> int | None:
    """An RFC 3339 time (with offset) from a query parameter, as microseconds; 422 naming ``field``."""
    if value is None or value == "":
        return None
    text = value.strip()
    # An unencoded '+09:00' in a query string arrives as ' 09:00' ('+' means space there).
    if len(text) > 6 and text[-6] == " " and text[-3] == ":":
        text = text[:-6] + "+" + text[-5:]
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"{field} must be an RFC 3339 time, e.g. 2026-03-01T00:00:00+09:00",
                             details={"field": field}) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidRequest(f"{field} must include a timezone offset", details={"field": field})
    return to_us(parsed)


def check_range(since_us: int | None, until_us: int | None) -> None:
    if since_us is not None and until_us is not None and since_us >= until_us:
        raise InvalidRequest("since must be before until", details={"field": "since"})


# -- money ------------------------------------------------------------------------------------------
def decimal_of(value: Any) -> Decimal | None:
    """A Decimal from a payload value (text or integer); None when absent or not a finite number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return out if out.is_finite() else None


def yen(value: Decimal) -> int:
    """Whole yen, rounding half up (the figures add exact Decimal amounts first, then round once)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def decimal_text(value: Decimal) -> str:
    """Exact decimal text without exponent or trailing zeros (``"1000"``, ``"0.05"``)."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def yen_text(value: Decimal | None) -> str:
    """``¥1,234,567`` (or ``¥155.5``: exact, never rounded) for reading."""
    if value is None:
        return "¥?"
    if value == value.to_integral_value():
        return f"¥{int(value):,}"
    return f"¥{value.normalize():,f}"


# -- keyset cursors ---------------------------------------------------------------------------------
def encode_cursor(*parts: int | str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(parts))).decode().rstrip("=")


def decode_cursor(cursor: str, shape: tuple[type, ...], field: str = "cursor") -> list[Any]:
    """The parts of a cursor made by :func:`encode_cursor`; 422 naming ``field`` if it is not one."""
    try:
        parts = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        ok = isinstance(parts, list) and len(parts) == len(shape) and all(
            isinstance(p, t) and not isinstance(p, bool) and (not isinstance(p, int) or 0 <= p <= MAX_INT64)
            for p, t in zip(parts, shape, strict=True))
    except (ValueError, TypeError, orjson.JSONDecodeError):
        ok = False
    if not ok:
        raise InvalidRequest("malformed cursor", details={"field": field})
    return parts  # type: ignore[no-any-return]
