"""``mamori bench aml``: the three AML figures of issue 6 in one run.

* address screenings per second (:func:`mamori.bench.aml_screen_bench.run_screen_bench`), target
  >= 10,000/s per core;
* p95 of a 5-hop forward trace over a synthetic graph (:func:`mamori.bench.aml_trace_bench.run_trace_bench`,
  10 million edges by default; ``edges`` makes it smaller for a quick run), target <= 1 s;
* a scenario backtest over a million stored events (:mod:`mamori.bench.aml_backtest_bench`), target
  <= 60 s on 2 cores.

A part that fails stops the benchmark with its error: a figure is printed only when it was measured.
"""

from __future__ import annotations

from typing import Any

from mamori.bench.aml_backtest_bench import run_bench
from mamori.bench.aml_screen_bench import run_screen_bench
from mamori.bench.aml_trace_bench import run_trace_bench


def run(*, edges: int | None = None, traces: int | None = None, screenings: int | None = None,
        events: int = 1_000_000, workers: int = 2) -> dict[str, Any]:
    screen = (run_screen_bench() if screenings is None
              else run_screen_bench(entries=max(100, screenings // 2), lookups=screenings))
    trace = run_trace_bench(10_000_000 if edges is None else edges, 50 if traces is None else traces)
    backtest = run_bench(events, workers=workers)
    return {"screenings_per_s": float(screen["screenings_per_s"]), "trace_p95_ms": float(trace["trace_p95_ms"]),
            "backtest_events_per_s": float(backtest["events_per_s"]),
            "screen": screen, "trace": trace, "backtest": backtest}


def report(result: dict[str, Any]) -> list[str]:
    """The detail lines, then the one summary line ``aml screenings_per_s=… trace_p95_ms=… backtest_events_per_s=…``."""
    lines = []
    for name in ("screen", "trace", "backtest"):
        part = result.get(name)
        if part:
            shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in part.items()
                     if isinstance(v, (int, float, str))}
            lines.append(f"{name}: " + " ".join(f"{k}={v}" for k, v in shown.items()))
    lines.append(f"aml screenings_per_s={result['screenings_per_s']:.0f} trace_p95_ms={result['trace_p95_ms']:.1f} "
                 f"backtest_events_per_s={result['backtest_events_per_s']:.0f}")
    return lines
