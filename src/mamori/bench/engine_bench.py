"""``mamori bench engine``: the in-process engine on one core with the full built-in rule set.

The engine first takes the customers' history (holdings and earlier logins, as a firm imports
before going live) and a warm-up stream; events are generated and validated before timing; then
each ``Engine.process`` call is timed on its own. The last line is ``engine events_per_s=<n> p50_ms=<x> p99_ms=<y>``.
"""

from __future__ import annotations

import platform
import time
from typing import Any

from mamori.adapters.geo import open_geo_provider
from mamori.bench.stream import generate, history
from mamori.events.parse import parse_event
from mamori.kit.runtime import tune_gc
from mamori.risk.engine import Engine
from mamori.risk.rules.loader import builtin_ruleset


def percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, int(q * len(sorted_values)))
    return float(sorted_values[index])


def run(n_events: int = 200_000, *, seed: int = 7, warmup: int = 20_000) -> dict[str, Any]:
    events = [parse_event(e) for e in generate(n_events + warmup, seed=seed)]
    ruleset = builtin_ruleset()
    engine = Engine(ruleset, geo=open_geo_provider())
    for event in (parse_event(e) for e in history(seed=seed)):
        engine.process(event)
    for event in events[:warmup]:
        engine.process(event)
    timed = events[warmup:]
    latencies = [0] * len(timed)
    verdicts: dict[str, int] = {}
    tune_gc()
    clock = time.perf_counter_ns
    started = clock()
    for i, event in enumerate(timed):
        t0 = clock()
        decision = engine.process(event)
        latencies[i] = clock() - t0
        verdicts[decision.verdict.name] = verdicts.get(decision.verdict.name, 0) + 1
    elapsed = (clock() - started) / 1e9
    latencies.sort()
    return {"events": len(timed), "rules": len(ruleset.rules), "aggregates": len(ruleset.aggregates),
            "seconds": elapsed, "events_per_s": len(timed) / elapsed,
            "p50_ms": percentile(latencies, 0.50) / 1e6, "p99_ms": percentile(latencies, 0.99) / 1e6,
            "p999_ms": percentile(latencies, 0.999) / 1e6, "verdicts": verdicts,
            "machine": f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}"}
