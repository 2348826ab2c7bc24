"""Micro-benchmark for mamori.risk.windows.Series (plain script, prints figures).

    .venv/bin/python bench/bench_windows.py

In-order streams, 4 window lengths (60 s, 10 min, 1 h, 1 day), retention 1 day, queries at the
newest event's time (the engine's hot path).
"""

from __future__ import annotations

import random
import time
from decimal import Decimal

from mamori.risk.windows import Series

WINDOWS = (60.0, 600.0, 3600.0, 86400.0)
RETENTION = 86400.0
N = 200_000
T0 = 1_700_000_000.0


def stream(n: int, rate_per_s: float, seed: int = 1) -> list[tuple[float, int, str | None]]:
    rnd = random.Random(seed)
    ts, out = T0, []
    for _ in range(n):
        ts += rnd.expovariate(rate_per_s)
        out.append((ts, rnd.randrange(1, 10**6), rnd.choice([None, *(f"acct-{k}" for k in range(500))])))
    return out


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f}/s"


def bench_one_series(rate_per_s: float) -> None:
    events = stream(N, rate_per_s)
    s = Series(RETENTION)
    t = time.perf_counter()
    for ts, v, item in events:
        s.add(ts, v, item)
    add_s = time.perf_counter() - t

    # add + all queries per event, so every query is at the newest time
    for name, q in (("count", Series.count), ("sum", Series.sum), ("distinct", Series.distinct)):
        s = Series(RETENTION)
        t = time.perf_counter()
        for ts, v, item in events:
            s.add(ts, v, item)
            for w in WINDOWS:
                q(s, ts, w)
        total = time.perf_counter() - t
        print(f"  {name:<9} queries {rate(N * len(WINDOWS), total - add_s)}  (held {len(s):,})")
    print(f"  add               {rate(N, add_s)}")


def bench_engine_like() -> None:
    # 10 000 keys, one Series each; per event: add, then count+sum+distinct+last_before x 4 windows
    keys = [f"k{k}" for k in range(10_000)]
    rnd = random.Random(2)
    events = [(ts, v, item, rnd.choice(keys)) for ts, v, item in stream(N, 50.0)]
    series: dict[str, Series] = {}
    t = time.perf_counter()
    for ts, v, item, key in events:
        s = series.get(key)
        if s is None:
            s = series[key] = Series(RETENTION)
        s.add(ts, Decimal(v) / 100, item)
        for w in WINDOWS:
            s.count(ts, w)
            s.sum(ts, w)
            s.distinct(ts, w)
        s.last_before(ts)
    total = time.perf_counter() - t
    print(f"engine-like, 10k keys, Decimal amounts, 13 queries/event: {rate(N, total)} events")


def bench_late(late_fraction: float, lateness_s: float) -> None:
    # one series at 1 event/s; a fraction of events arrive late and are queried at their own time
    rnd = random.Random(3)
    events = stream(N, 1.0)
    for i in range(len(events)):
        if rnd.random() < late_fraction:
            ts, v, item = events[i]
            events[i] = (ts - rnd.uniform(0, lateness_s), v, item)
    for name, q in (("count", Series.count), ("sum", Series.sum), ("distinct", Series.distinct)):
        s = Series(RETENTION)
        t = time.perf_counter()
        for ts, v, item in events:
            s.add(ts, v, item)
            for w in WINDOWS:
                q(s, ts, w)
        total = time.perf_counter() - t
        print(f"  add + 4 {name:<9} {rate(N, total)} events")


if __name__ == "__main__":
    for r in (1.0, 100.0):
        print(f"one series, {N:,} in-order events at {r:g}/s, 4 windows:")
        bench_one_series(r)
    for frac, lateness in ((0.01, 60.0), (0.01, 3600.0)):
        print(f"one series at 1/s, {frac:.0%} of events up to {lateness:g} s late, queried at their own time:")
        bench_late(frac, lateness)
    bench_engine_like()
