"""``mamori bench aml``: the three AML figures of issue 6 in one run.

* address screenings per second (:func:`mamori.bench.aml_screen_bench.run_screen_bench`), target
  >= 10,000/s per core;
* p95 of a 5-hop forward trace over a synthetic graph (:func:`mamori.bench.aml_trace_bench.run_trace_bench`,
  10 million edges by default; ``edges`` makes it smaller for a quick run), target <= 1 s;
* a scenario backtest over a million stored events (:mod:`mamori.bench.aml_backtest_bench`), target
  <= 60 s on 2 cores.

Each part is imported only when it runs; a part that is missing or fails is reported as such and
the others still run (its figure prints as ``nan``).
"""

from __future__ import annotations

import importlib
import inspect
import math
import traceback
from collections.abc import Callable
from typing import Any


def _call(module: str, function: str, **kwargs: Any) -> tuple[dict[str, Any] | None, str | None]:
    try:
        fn: Callable[..., dict[str, Any]] = getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as exc:
        return None, f"{module}.{function} is not available: {exc}"
    accepted = inspect.signature(fn).parameters
    try:
        return fn(**{k: v for k, v in kwargs.items() if v is not None and k in accepted}), None
    except Exception as exc:  # a failing part is reported; the others still run
        return None, f"{module}.{function} failed: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"


def _figure(result: dict[str, Any] | None, *keys: str) -> float:
    for key in keys:
        if result is not None and isinstance(result.get(key), (int, float)):
            return float(result[key])
    return math.nan


def run(*, edges: int | None = None, traces: int | None = None, screenings: int | None = None,
        events: int = 1_000_000, workers: int = 2) -> dict[str, Any]:
    screen, screen_error = _call("mamori.bench.aml_screen_bench", "run_screen_bench", lookups=screenings,
                                 entries=None if screenings is None else max(100, screenings // 2))
    trace, trace_error = _call("mamori.bench.aml_trace_bench", "run_trace_bench", edges=edges, traces=traces)
    backtest, backtest_error = _call("mamori.bench.aml_backtest_bench", "run_bench", n_events=events,
                                     workers=workers)
    return {"screenings_per_s": _figure(screen, "screenings_per_s"),
            "trace_p95_ms": _figure(trace, "trace_p95_ms", "p95_ms"),
            "poison_trace_p95_ms": _figure(trace, "poison_trace_p95_ms"),
            "backtest_events_per_s": _figure(backtest, "events_per_s"),
            "screen": screen, "trace": trace, "backtest": backtest,
            "errors": [e for e in (screen_error, trace_error, backtest_error) if e]}


def report(result: dict[str, Any]) -> list[str]:
    """The detail lines, then the one summary line ``aml screenings_per_s=… trace_p95_ms=… backtest_events_per_s=…``."""
    lines = []
    for name in ("screen", "trace", "backtest"):
        part = result.get(name)
        if part:
            shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in part.items()
                     if isinstance(v, (int, float, str))}
            lines.append(f"{name}: " + " ".join(f"{k}={v}" for k, v in shown.items()))
    lines += [f"error: {e.splitlines()[0]}" for e in result["errors"]]
    lines.append(f"aml screenings_per_s={result['screenings_per_s']:.0f} trace_p95_ms={result['trace_p95_ms']:.1f} "
                 f"backtest_events_per_s={result['backtest_events_per_s']:.0f}")
    return lines
