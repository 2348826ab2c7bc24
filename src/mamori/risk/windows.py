"""Exact sliding-window aggregates over one key's time series.

A :class:`Series` holds the observations of one key (account, IP, /24, device, symbol, ...).
Each observation is ``(ts, value, item)``: an event time in epoch seconds, an amount (``int`` or
``decimal.Decimal``, never ``float``) and an optional categorical item (``None`` = not counted).

Semantics. ``count``/``sum``/``distinct(end, window_s)`` are defined over *all* observations added
so far, whatever their arrival order, whose ``ts`` lies in the half-open window
``(end - window_s, end]``; several observations may share a timestamp. Late events are placed by
their own time. Answers are exact provided the window lies within retention, i.e.
``window_s <= retention_s`` (checked: ``ValueError``) and ``end - window_s >= newest - retention_s``
(not checked; older windows may miss data). ``sum`` returns an ``int`` while only ints were ever
added, otherwise a ``Decimal``, computed exactly (unbounded precision, never rounded).

Layout and complexity (n = observations held, w = observations in a window):

* sorted parallel lists ``_ts``/``_items`` plus prefix sums ``_pre`` (``_pre[i]`` = sum of the
  first ``i`` values). ``add`` in time order is an append, O(1); a late ``add`` is an insert plus
  a suffix update of ``_pre``, O(n - position), i.e. proportional to its lateness.
* ``count``/``sum``: two C-level bisects (one when ``end`` >= newest), O(log n), no allocation.
* ``distinct``: one cursor per window length, holding ``[lo, hi)`` = the window's index range and
  an item -> multiplicity dict. Queries at non-decreasing ``end`` slide it forward, O(1)
  amortized; late inserts update it in O(1) per cursor. A query behind the cursor leaves it
  where it is and costs O(min(w, d + distinct items)), d = observations between the two ends.
* retention: observations older than ``newest - retention_s`` are dropped in batches when the
  lists have doubled since the last collection (amortized O(1)); late events already older than
  that are ignored on arrival. Memory is at most ~2x the retention's worth (min 64 entries).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Hashable
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, Inexact, InvalidOperation

__all__ = ["Series"]

# Exact decimal arithmetic: additions and subtractions never round (Inexact would trap if they did).
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[InvalidOperation, Inexact])
_MIN_GC = 64  # never collect below this many held observations

Number = int | Decimal


class _Cursor:
    """Distinct-count state for one window length: ``[lo, hi)`` holds exactly the observations
    with ``low < ts <= end`` (``low = end - window_s``); all observations at ``>= hi`` have
    ``ts > end``; ``counts`` maps each non-None item in the range to its multiplicity."""

    __slots__ = ("counts", "end", "hi", "lo", "low")

    def __init__(self) -> None:
        self.end = self.low = 0.0
        self.lo = self.hi = 0
        self.counts: dict[Hashable, int] = {}


class Series:
    """Observations for one key, ordered by event time."""

    __slots__ = ("_cend_max", "_cursors", "_exact", "_gc_at", "_items", "_pre", "_retention", "_ts")

    def __init__(self, retention_s: float) -> None:
        self._retention = retention_s
        self._ts: list[float] = []
        self._items: list[Hashable | None] = []
        self._pre: list[Number] = [0]
        self._exact = False  # True once a non-int value was added: prefix sums go through _EXACT
        self._gc_at = _MIN_GC
        self._cursors: dict[float, _Cursor] = {}
        self._cend_max = float("-inf")  # upper bound of the cursors' ``end``

    def __len__(self) -> int:
        return len(self._ts)

    def add(self, ts: float, value: Number = 1, item: Hashable | None = None) -> None:
        t = self._ts
        pre = self._pre
        if not t or ts >= t[-1]:  # in order: append
            last = pre[-1]
            if type(value) is int and not self._exact:
                pre.append(last + value)
            else:
                pre.append(_EXACT.add(last, value))  # raises TypeError on float, before any mutation
                self._exact = True
            t.append(ts)
            self._items.append(item)
        else:  # late: insert at its own time
            if ts < t[-1] - self._retention:
                return  # outside retention already: no valid query can see it
            i = bisect_right(t, ts)
            if type(value) is int and not self._exact:
                tail = [p + value for p in pre[i:]]
            else:
                tail = [_EXACT.add(p, value) for p in pre[i:]]
                self._exact = True
            t.insert(i, ts)
            self._items.insert(i, item)
            pre[i + 1 :] = tail  # _pre[j] for j > i gains the new value (and shifts by one)
        if ts <= self._cend_max:
            for c in self._cursors.values():
                if ts > c.end:
                    continue
                c.hi += 1
                if ts <= c.low:
                    c.lo += 1
                elif item is not None:
                    c.counts[item] = c.counts.get(item, 0) + 1
        if len(t) >= self._gc_at:
            self._collect()

    def count(self, end: float, window_s: float) -> int:
        if window_s > self._retention:
            raise ValueError(f"window {window_s}s exceeds retention {self._retention}s")
        t = self._ts
        hi = len(t) if t and end >= t[-1] else bisect_right(t, end)
        return hi - bisect_right(t, end - window_s, 0, hi)

    def sum(self, end: float, window_s: float) -> Number:
        if window_s > self._retention:
            raise ValueError(f"window {window_s}s exceeds retention {self._retention}s")
        t = self._ts
        hi = len(t) if t and end >= t[-1] else bisect_right(t, end)
        lo = bisect_right(t, end - window_s, 0, hi)
        if lo == hi:
            return 0
        pre = self._pre
        if self._exact:
            return _EXACT.subtract(pre[hi], pre[lo])
        return pre[hi] - pre[lo]

    def distinct(self, end: float, window_s: float) -> int:
        if window_s > self._retention:
            raise ValueError(f"window {window_s}s exceeds retention {self._retention}s")
        c = self._cursors.get(window_s)
        if c is not None and end < c.end:  # behind the cursor: leave it where it is
            return self._distinct_behind(c, end, window_s)
        if c is None:
            c = self._cursors[window_s] = _Cursor()
            self._seek(c, end, window_s)
        elif end - window_s >= c.end:  # jumped past the whole window: rebuild
            self._seek(c, end, window_s)
        else:
            self._slide(c, end, window_s)
        if end > self._cend_max:
            self._cend_max = end
        return len(c.counts)

    def last_before(self, t: float) -> float | None:
        ts = self._ts
        i = bisect_left(ts, t)
        if i == 0:
            return None
        r = ts[i - 1]
        return r if r >= ts[-1] - self._retention else None

    # -- internals ---------------------------------------------------------------------------

    def _seek(self, c: _Cursor, end: float, window_s: float) -> None:
        t = self._ts
        low = end - window_s
        c.hi = hi = bisect_right(t, end)
        c.lo = lo = bisect_right(t, low, 0, hi)
        c.end, c.low = end, low
        counts = c.counts
        counts.clear()
        for it in self._items[lo:hi]:
            if it is not None:
                counts[it] = counts.get(it, 0) + 1

    def _slide(self, c: _Cursor, end: float, window_s: float) -> None:
        t, items, counts = self._ts, self._items, c.counts
        n = len(t)
        hi = c.hi
        while hi < n and t[hi] <= end:
            it = items[hi]
            hi += 1
            if it is not None:
                counts[it] = counts.get(it, 0) + 1
        low = end - window_s
        lo = c.lo
        while lo < hi and t[lo] <= low:
            it = items[lo]
            lo += 1
            if it is not None:
                k = counts[it] - 1
                if k:
                    counts[it] = k
                else:
                    del counts[it]
        c.lo = lo
        c.hi = hi
        c.end = end
        c.low = low

    def _distinct_behind(self, c: _Cursor, end: float, window_s: float) -> int:
        # The window is [lo, hi) with lo <= c.lo and hi <= c.hi. Either count the slice, O(hi - lo),
        # or patch a copy of the cursor's counts (+[lo, c.lo) -[hi, c.hi)), whichever is cheaper.
        t, items = self._ts, self._items
        hi = bisect_right(t, end, 0, c.hi)
        lo = bisect_right(t, end - window_s, 0, hi)
        if len(c.counts) + (c.hi - hi) + (c.lo - lo) >= hi - lo:
            found = set(items[lo:hi])
            found.discard(None)
            return len(found)
        counts = c.counts.copy()
        for it in items[lo : c.lo]:
            if it is not None:
                counts[it] = counts.get(it, 0) + 1
        for it in items[hi : c.hi]:
            if it is not None:
                k = counts[it] - 1
                if k:
                    counts[it] = k
                else:
                    del counts[it]
        return len(counts)

    def _collect(self) -> None:
        t = self._ts
        k = bisect_left(t, t[-1] - self._retention)
        if k:
            del t[:k]
            del self._items[:k]
            pre = self._pre
            base = pre[k]
            if self._exact:
                self._pre = [_EXACT.subtract(p, base) for p in pre[k:]]
            else:
                self._pre = [p - base for p in pre[k:]]
            for w, c in list(self._cursors.items()):
                if c.lo < k:
                    del self._cursors[w]  # rebuilt on its next query
                else:
                    c.lo -= k
                    c.hi -= k
        self._gc_at = max(2 * len(t), _MIN_GC)
