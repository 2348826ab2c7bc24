"""Process-level tuning shared by the server and the benchmarks."""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Collect young objects less often and move what exists now out of the collector's sight.

    The engine keeps millions of long-lived objects (windows, first-seen maps); CPython's default
    thresholds make every full collection walk all of them, which shows up as multi-millisecond
    pauses in the decision latency. Nothing here relies on reference cycles being freed quickly.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
