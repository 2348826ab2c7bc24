"""Replaying JSON-lines event files through an engine: the core of ``mamori replay``,
``mamori rules backtest`` and the engine benchmark.

Bad lines are reported with their line number and field and skipped; the rest is processed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mamori.events.models import EventBase
from mamori.events.parse import parse_event_line
from mamori.kit.errors import InvalidEvent


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    error: InvalidEvent

    def __str__(self) -> str:
        details = self.error.details or []
        parts = [f"{d['field']}: {d['message']}" for d in details] or [self.error.message]
        return f"line {self.line}: " + "; ".join(parts)


def read_events(lines: Iterable[bytes | str]) -> Iterator[EventBase | LineError]:
    """Parse JSON lines; yields events, or a :class:`LineError` for a bad line. Blank lines are skipped."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield parse_event_line(line)
        except InvalidEvent as exc:
            yield LineError(number, exc)


class Deduplicator:
    """The same event id twice is processed once (the replay counterpart of the store's unique key)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def first_time(self, event_id: str) -> bool:
        if event_id in self.seen:
            return False
        self.seen.add(event_id)
        return True
