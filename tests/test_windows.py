"""Tests for mamori.risk.windows: exact sliding-window aggregates.

The property tests drive a Series and a brute-force reference (a plain list of observations,
filtered per query) with the same random interleaving of adds and queries.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Iterator
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from mamori.risk import windows
from mamori.risk.windows import Series

T0 = 1_700_000_000.0  # realistic epoch seconds; multiples of 1/4 stay exact at this magnitude
RETENTION = 30.0
WINDOWS = (1.0, 2.5, 10.0, 30.0)
Obs = tuple[float, int | Decimal, Hashable | None]


class Reference:
    """Brute force: every observation ever added, filtered per query."""

    def __init__(self, retention_s: float) -> None:
        self.retention = retention_s
        self.obs: list[Obs] = []
        self.saw_decimal = False

    @property
    def newest(self) -> float:
        return max(ts for ts, _, _ in self.obs)

    def add(self, ts: float, value: int | Decimal, item: Hashable | None) -> None:
        self.obs.append((ts, value, item))
        self.saw_decimal |= isinstance(value, Decimal)

    def _in(self, end: float, window_s: float) -> Iterator[Obs]:
        return (o for o in self.obs if end - window_s < o[0] <= end)

    def count(self, end: float, window_s: float) -> int:
        return sum(1 for _ in self._in(end, window_s))

    def sum(self, end: float, window_s: float) -> Fraction:
        return sum((Fraction(v) for _, v, _ in self._in(end, window_s)), Fraction(0))

    def distinct(self, end: float, window_s: float) -> int:
        return len({item for _, _, item in self._in(end, window_s) if item is not None})

    def last_before(self, t: float) -> float | None:
        before = [ts for ts, _, _ in self.obs if ts < t]
        if not before or max(before) < self.newest - self.retention:
            return None
        return max(before)

    def held_at_least(self) -> int:
        return sum(1 for ts, _, _ in self.obs if ts >= self.newest - self.retention)


def check_window(series: Series, ref: Reference, end: float, window_s: float) -> None:
    assert series.count(end, window_s) == ref.count(end, window_s)
    total = series.sum(end, window_s)
    assert not isinstance(total, float)
    assert Fraction(total) == ref.sum(end, window_s)
    if not ref.saw_decimal:
        assert type(total) is int
    assert series.distinct(end, window_s) == ref.distinct(end, window_s)


quarters = st.integers(min_value=0, max_value=4 * 8).map(lambda q: q / 4)
values = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**12),
    st.decimals(min_value=Decimal("-1e6"), max_value=Decimal("1e6"), places=8, allow_nan=False),
    st.sampled_from([Decimal("1e30"), Decimal("0.00000001"), Decimal("-1e30"), Decimal("0.1")]),
)
items = st.one_of(st.none(), st.integers(min_value=0, max_value=5), st.sampled_from(["a", "b", "acct-9"]))


class SeriesMachine(RuleBasedStateMachine):
    """Random interleavings of in-order, late, duplicate-time adds and queries at any valid time."""

    def __init__(self) -> None:
        super().__init__()
        self.saved_min_gc = windows._MIN_GC
        self.series = Series(RETENTION)
        self.ref = Reference(RETENTION)

    @initialize(min_gc=st.sampled_from([1, 3, 16, 64]))
    def collect_often(self, min_gc: int) -> None:
        windows._MIN_GC = min_gc  # small values force frequent collection in short runs
        self.series = Series(RETENTION)

    def teardown(self) -> None:
        windows._MIN_GC = self.saved_min_gc

    @rule(step=quarters, value=values, item=items)
    def add_in_order(self, step: float, value: int | Decimal, item: Hashable | None) -> None:
        ts = self.ref.newest + step if self.ref.obs else T0
        self.series.add(ts, value, item)
        self.ref.add(ts, value, item)

    @precondition(lambda self: bool(self.ref.obs))
    @rule(lateness=st.integers(min_value=0, max_value=4 * 40).map(lambda q: q / 4), value=values, item=items)
    def add_late(self, lateness: float, value: int | Decimal, item: Hashable | None) -> None:
        ts = self.ref.newest - lateness  # may fall outside retention: then it may be dropped
        self.series.add(ts, value, item)
        self.ref.add(ts, value, item)

    @precondition(lambda self: bool(self.ref.obs))
    @rule(pick=st.integers(min_value=1, max_value=30), value=values, item=items)
    def add_at_existing_time(self, pick: int, value: int | Decimal, item: Hashable | None) -> None:
        times = sorted({ts for ts, _, _ in self.ref.obs})
        ts = times[-min(pick, len(times))]  # a duplicate of a recent timestamp, in order or late
        self.series.add(ts, value, item)
        self.ref.add(ts, value, item)

    @precondition(lambda self: bool(self.ref.obs))
    @rule(window_s=st.sampled_from(WINDOWS), back=quarters, ahead=st.booleans())
    def query(self, window_s: float, back: float, ahead: bool) -> None:
        back = min(back, RETENTION - window_s)  # keep end - window_s within retention
        end = self.ref.newest + (back if ahead else -back)
        check_window(self.series, self.ref, end, window_s)

    @precondition(lambda self: bool(self.ref.obs))
    @rule(window_s=st.sampled_from(WINDOWS))
    def query_newest(self, window_s: float) -> None:
        check_window(self.series, self.ref, self.ref.newest, window_s)

    @precondition(lambda self: bool(self.ref.obs))
    @rule(back=st.integers(min_value=-8, max_value=4 * 40).map(lambda q: q / 4))
    def last_before(self, back: float) -> None:
        t = self.ref.newest - back
        assert self.series.last_before(t) == self.ref.last_before(t)

    @invariant()
    def holds_everything_within_retention(self) -> None:
        if self.ref.obs:
            assert len(self.series) >= self.ref.held_at_least()
        else:
            assert len(self.series) == 0


SeriesMachine.TestCase.settings = settings(max_examples=400, stateful_step_count=120, deadline=None)
TestSeriesMachine = pytest.mark.slow(SeriesMachine.TestCase)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), late_rate=st.sampled_from([0.0, 0.05, 0.3]))
def test_long_streams_match_reference(seed: int, late_rate: float) -> None:
    # Long streams with the default collection threshold, mostly in order, some late events,
    # and every query kind after each add at the newest time and at an earlier valid time.
    rnd = random.Random(seed)
    series, ref = Series(RETENTION), Reference(RETENTION)
    newest = T0
    for _ in range(600):
        if rnd.random() < late_rate:
            ts = newest - rnd.randrange(0, 4 * 35) / 4
        else:
            ts = newest = newest + rnd.randrange(0, 4) / 4
        amounts: list[int | Decimal] = [1, rnd.randrange(-100, 10**9), Decimal(rnd.randrange(10**9)) / 1000]
        value = rnd.choice(amounts)
        item = rnd.choice([None, *range(12)])
        series.add(ts, value, item)
        ref.add(ts, value, item)
        window_s = rnd.choice(WINDOWS)
        check_window(series, ref, newest, window_s)
        back = rnd.randrange(0, 4 * int(RETENTION - window_s) + 1) / 4
        check_window(series, ref, newest - back, window_s)
        t = newest - rnd.randrange(-4, 4 * 35) / 4
        assert series.last_before(t) == ref.last_before(t)
    assert len(series) <= 2 * ref.held_at_least() + windows._MIN_GC


# --- examples -------------------------------------------------------------------------------


def test_window_boundaries_are_half_open() -> None:
    # Given observations exactly at end - window and exactly at end
    s = Series(retention_s=3600)
    s.add(T0 - 60, 5, "x")
    s.add(T0, 7, "y")
    # When querying the 60 s window ending at T0
    # Then the one at end - window is excluded and the one at end is included
    assert s.count(T0, 60) == 1
    assert s.sum(T0, 60) == 7
    assert s.distinct(T0, 60) == 1
    # And a window ending exactly at T0 - 60 includes the first, a 59 s one ending at T0 - 0.5 neither
    assert s.count(T0 - 60, 60) == 1
    assert s.count(T0 - 0.5, 59) == 0


def test_late_event_is_counted_at_its_own_time() -> None:
    # Given a stream at T0 .. T0+100 and a cursor already at the newest time
    s = Series(retention_s=3600)
    for k in range(101):
        s.add(T0 + k, 1, "a")
    assert s.count(T0 + 100, 10) == 10
    assert s.distinct(T0 + 100, 10) == 1
    # When an event stamped T0 + 95 arrives late with a new item
    s.add(T0 + 95, 50, "late")
    # Then it counts in windows that contain T0 + 95, and not in those that don't
    assert s.count(T0 + 100, 10) == 11
    assert s.sum(T0 + 100, 10) == 60
    assert s.distinct(T0 + 100, 10) == 2
    assert s.distinct(T0 + 100, 4) == 1
    assert s.count(T0 + 94, 10) == 10
    assert s.last_before(T0 + 95.5) == T0 + 95


def test_late_event_at_the_cursor_end_after_a_same_time_append() -> None:
    # Given a distinct cursor at T0, then an in-order event also at T0 and a newer one
    s = Series(retention_s=60)
    s.add(T0, 1, "a")
    assert s.distinct(T0, 10) == 1
    s.add(T0, 1, "b")
    s.add(T0 + 1, 1, "c")
    # When a late event stamped T0 arrives
    s.add(T0, 1, "d")
    # Then the window ending at T0 holds a, b and d exactly once each
    assert (s.distinct(T0, 10), s.count(T0, 10)) == (3, 3)
    assert s.distinct(T0 + 1, 10) == 4


def test_duplicate_timestamps_all_count() -> None:
    # Given three observations sharing one timestamp
    s = Series(retention_s=60)
    for item in ("a", "a", None):
        s.add(T0, 2, item)
    # Then all count, None items are not distinct, and last_before is strict
    assert (s.count(T0, 1), s.sum(T0, 1), s.distinct(T0, 1)) == (3, 6, 1)
    assert s.last_before(T0) is None


def test_retention_eviction_keeps_answers_within_retention() -> None:
    # Given a long stream, one event per second for 10 000 s, retention 1 hour
    s, ref = Series(retention_s=3600), Reference(3600)
    for k in range(10_000):
        s.add(T0 + k, k, k % 37)
        ref.add(T0 + k, k, k % 37)
    # Then old observations have been dropped ...
    assert len(s) < 2 * 3601
    # ... and every window within retention is still exact, at the newest and earlier ends
    newest = T0 + 9_999
    for window_s in (60, 600, 3600):
        for end in (newest, newest - 1.5, newest - (3600 - window_s)):  # the last: oldest valid end
            check_window(s, ref, end, window_s)
    assert s.last_before(newest - 3600) is None  # 3600 s back is the retention edge
    assert s.last_before(newest - 3599) == newest - 3600


def test_decimal_sums_are_exact() -> None:
    # Given amounts that a float (or a 28-digit decimal context) cannot add exactly
    s = Series(retention_s=600)
    s.add(T0, Decimal("0.1"))
    s.add(T0 + 1, Decimal("0.2"))
    s.add(T0 + 2, Decimal("1e30"))
    s.add(T0 + 3, Decimal("0.00000001"))
    s.add(T0 + 1.5, 3)  # a late int
    # Then sums are exact Decimals
    assert s.sum(T0 + 1.5, 10) == Decimal("3.3")
    assert s.sum(T0 + 3, 10) == Decimal("1000000000000000000000000000003.30000001")
    assert s.sum(T0 + 3, 1) == Decimal("0.00000001")
    assert isinstance(s.sum(T0 + 3, 1), Decimal)


def test_int_sums_stay_int_and_empty_windows_are_zero() -> None:
    s = Series(retention_s=60)
    assert (s.count(T0, 10), s.sum(T0, 10), s.distinct(T0, 10), s.last_before(T0)) == (0, 0, 0, None)
    s.add(T0, 10**30)
    assert s.sum(T0, 10) == 10**30 and type(s.sum(T0, 10)) is int


def test_bad_inputs_are_rejected() -> None:
    s = Series(retention_s=60)
    s.add(T0, 1)
    # A window longer than retention cannot be answered exactly
    with pytest.raises(ValueError, match="retention"):
        s.count(T0, 61)
    # A float amount is rejected and leaves the series unchanged (in order and late)
    with pytest.raises(TypeError):
        s.add(T0 + 1, 0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        s.add(T0 - 1, 0.5)  # type: ignore[arg-type]
    assert len(s) == 1 and s.sum(T0 + 1, 60) == 1
