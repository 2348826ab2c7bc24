"""The period a verification covers: ``[start, end)`` in microseconds UTC, given as JST dates or
RFC 3339 times (mamori stores UTC and shows JST, ARCHITECTURE.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from mamori.kit.errors import InvalidRequest

JST = timezone(timedelta(hours=9), "JST")
WEEK_US = 7 * 86_400_000_000


def _invalid(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(message, details=[{"field": field, "message": message, "kind": "value_error"}])


def parse_instant(value: str, field: str) -> int:
    """``2026-05-01`` (midnight JST) or an RFC 3339 time with an offset, as microseconds UTC."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=JST)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise _invalid(field, f"{field}: a time needs an offset (e.g. +09:00), got {value!r}")
    except ValueError:
        raise _invalid(field, f"{field}: expected a date (2026-05-01, JST) or an RFC 3339 time, "
                       f"got {value!r}") from None
    return int(moment.timestamp() * 1_000_000)


@dataclass(frozen=True, slots=True)
class Period:
    start_us: int
    end_us: int

    @classmethod
    def parse(cls, start: str, end: str) -> Period:
        period = cls(parse_instant(start, "from"), parse_instant(end, "to"))
        if period.end_us <= period.start_us:
            raise _invalid("to", "'to' must be after 'from'")
        if period.end_us - period.start_us > 400 * 86_400_000_000:
            raise _invalid("to", "a period is at most 400 days")
        return period

    def contains(self, at_us: int) -> bool:
        return self.start_us <= at_us < self.end_us

    def label(self) -> str:
        """``2026-05-01 – 2026-05-31 (JST)`` (the end shown inclusive)."""
        first = jst(self.start_us)
        last = jst(self.end_us - 1)
        return f"{first:%Y-%m-%d %H:%M} – {last:%Y-%m-%d %H:%M} JST"

    def to_dict(self) -> dict[str, str | int]:
        return {"from": jst(self.start_us).isoformat(), "to": jst(self.end_us).isoformat(),
                "from_us": self.start_us, "to_us": self.end_us}


def jst(at_us: int) -> datetime:
    return datetime.fromtimestamp(at_us / 1_000_000, UTC).astimezone(JST)


def week_of(at_us: int) -> str:
    """The ISO week (Monday first, JST) of a time: ``2026-W18``."""
    year, week, _ = jst(at_us).isocalendar()
    return f"{year}-W{week:02d}"


def weeks_of(period: Period) -> list[str]:
    """Every ISO week the period touches, in order."""
    out: list[str] = []
    at = period.start_us
    while at < period.end_us:
        label = week_of(at)
        if not out or out[-1] != label:
            out.append(label)
        at += 86_400_000_000
    last = week_of(period.end_us - 1)
    if out[-1] != last:
        out.append(last)
    return out
