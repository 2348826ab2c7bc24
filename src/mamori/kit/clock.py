"""Injected time: cores take a ``Clock`` instead of calling ``datetime.now()``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock for tests and replays: returns ``at`` until moved."""

    at: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at = datetime.fromtimestamp(self.at.timestamp() + seconds, UTC)


def monotonic_us() -> int:
    """Monotonic microseconds, for measuring latency only."""
    return time.perf_counter_ns() // 1000
