"""Sliding-window aggregates that a rule set declares (``features:`` in a rule file).

Each aggregate counts, sums or distinct-counts the events of some types (optionally filtered by a
``where`` expression) per key (account, IP, /24 or /48 network, ASN, device, symbol, address, ...)
over the window ending at the event's own time, **including the event itself**. Aggregates over the
same stream (same types, filter, key and fields) share one time series per key; the series are exact
(see :mod:`mamori.risk.windows`), so late events count in the windows of their own time.

Each stream keeps its longest window plus ``allowed_lateness_s`` (the rule set's
``allowed_lateness``, default 15 minutes) of history: an event up to that late is placed exactly;
an event later than that (older than the newest one by more than a stream's retention) is not
added to the windows at all, and its own window values are approximate: raise ``allowed_lateness``
if a source delivers that late.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mamori.risk.features.base import KEY_FUNCTIONS, EvalEnv, FeatureDef
from mamori.risk.windows import Series

if TYPE_CHECKING:
    from mamori.risk.rules.expr import CompiledExpr

SWEEP_EVERY = 50_000


@dataclass(frozen=True)
class AggregateDef:
    name: str
    description: str
    aggregate: str  # count | sum | distinct
    events: frozenset[str]
    by: str
    window_s: float
    field: str | None = None  # summed (sum) or distinct-counted (distinct) value: a field or feature name
    where: CompiledExpr | None = None

    @property
    def stream_key(self) -> tuple[Any, ...]:
        return (tuple(sorted(self.events)), self.where.source if self.where else None, self.by,
                self.field if self.aggregate == "sum" else None,
                self.field if self.aggregate == "distinct" else None)


class _Stream:
    __slots__ = ("by", "distinct_field", "events", "key", "key_of", "retention", "series", "sum_field",
                 "where")

    def __init__(self, d: AggregateDef) -> None:
        self.key = d.stream_key
        self.events = d.events
        self.where = d.where
        self.by = d.by
        self.key_of = KEY_FUNCTIONS[d.by]
        self.sum_field = d.field if d.aggregate == "sum" else None
        self.distinct_field = d.field if d.aggregate == "distinct" else None
        self.retention = d.window_s
        self.series: dict[str, Series] = {}


class Aggregates:
    name = "aggregates"

    def __init__(self, definitions: Iterable[AggregateDef], *, allowed_lateness_s: float = 900.0) -> None:
        self.definitions = list(definitions)
        streams: dict[tuple[Any, ...], _Stream] = {}
        self._stream_of: dict[str, _Stream] = {}
        for d in self.definitions:
            stream = streams.get(d.stream_key)
            if stream is None:
                stream = streams[d.stream_key] = _Stream(d)
            stream.retention = max(stream.retention, d.window_s + allowed_lateness_s)
            self._stream_of[d.name] = stream
        self.streams = list(streams.values())
        self._by_type: dict[str, list[_Stream]] = {}
        for stream in self.streams:
            for t in stream.events:
                self._by_type.setdefault(t, []).append(stream)
        self._observed = 0

    def _compute(self, d: AggregateDef) -> Any:
        stream = self._stream_of[d.name]
        window, key_of = d.window_s, stream.key_of
        query = {"count": Series.count, "sum": Series.sum, "distinct": Series.distinct}[d.aggregate]

        def compute(env: EvalEnv) -> Any:
            key = key_of(env)
            if key is None:
                return None  # the event has no such key (e.g. no device id)
            series = stream.series.get(key)
            return query(series, env.ts, window) if series is not None else 0

        return compute

    def features(self) -> Iterable[FeatureDef]:
        for d in self.definitions:
            yield FeatureDef(d.name, d.description, "decimal" if d.aggregate == "sum" else "int",
                             self._compute(d))

    def adopt(self, previous: Aggregates) -> set[tuple[Any, ...]]:
        """Keep the windows of streams the previous rule set already maintained (hot reload).
        Returns the keys of streams that start empty: new ones, and ones whose retention grew
        (their old series dropped history the longer window needs)."""
        old = {s.key: s for s in previous.streams}
        fresh = set()
        for stream in self.streams:
            before = old.get(stream.key)
            if before is not None and before.retention >= stream.retention:
                stream.series, stream.retention = before.series, before.retention
            else:
                fresh.add(stream.key)
        return fresh

    def observe(self, env: EvalEnv, only: set[tuple[Any, ...]] | None = None) -> None:
        streams = self._by_type.get(env.event.type)  # type: ignore[attr-defined]
        if not streams:
            return
        for stream in streams:
            if only is not None and stream.key not in only:
                continue
            if stream.where is not None and not stream.where.evaluate(env):
                continue
            key = stream.key_of(env)
            if key is None:
                continue
            series = stream.series.get(key)
            if series is None:
                series = stream.series[key] = Series(stream.retention)
            value = env[stream.sum_field] if stream.sum_field else 1
            item = env[stream.distinct_field] if stream.distinct_field else None
            series.add(env.ts, value if value is not None else 0, item)
        self._observed += 1
        if self._observed % SWEEP_EVERY == 0:
            self.sweep(env.ts)

    def sweep(self, now_ts: float) -> None:
        """Forget keys with nothing left inside their stream's retention (bounded memory)."""
        inf = float("inf")
        for stream in self.streams:
            cutoff = now_ts - stream.retention
            stale = [k for k, s in stream.series.items() if (s.last_before(inf) or -inf) <= cutoff]
            for k in stale:
                del stream.series[k]

    def commit(self, env: EvalEnv, verdict: str) -> None:
        return None
