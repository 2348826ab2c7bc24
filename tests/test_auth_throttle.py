"""The credential-stuffing throttle (mamori.auth.throttle): stuffing bursts and spread attacks are
throttled quickly at the right scope, shared addresses with a normal failure ratio never are."""

from __future__ import annotations

import ipaddress
import random
import re
import sys
import tracemalloc
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.auth.throttle import (
    ALLOWED,
    DEFAULT_ASN_LIMITS,
    DEFAULT_IP_LIMITS,
    DEFAULT_NETWORK_LIMITS,
    ScopeLimits,
    SourceThrottle,
    ThrottleConfig,
    ThrottleVerdict,
    _v6_prefix_key,
    bench_throttle,
)


class Clock:
    def __init__(self, t: float = 10_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def attempt(throttle: SourceThrottle, ip: str, account: str, success: bool) -> tuple[bool, ThrottleVerdict | None]:
    """What the login service does: check first; only an allowed attempt is hashed and recorded."""
    if not throttle.check(ip).allowed:
        return False, None
    return True, throttle.record(ip, account=account, success=success)


# -- the stuffing burst ------------------------------------------------------------------------


def test_burst_over_distinct_accounts_is_throttled_within_25_attempts() -> None:
    clock = Clock()
    throttle = SourceThrottle(clock=clock)
    passed = 0
    starts: list[ThrottleVerdict] = []
    for i in range(1_000):  # 1,000 attempts/s
        allowed, started = attempt(throttle, "198.51.100.7", f"victim{i}@example.jp", success=False)
        clock.advance(0.001)
        passed += allowed
        if started is not None:
            starts.append(started)
    assert passed <= 25
    assert passed >= DEFAULT_IP_LIMITS.distinct_accounts - 1  # not tripping on noise either
    assert len(starts) == 1
    assert starts[0].scope == "ip" and starts[0].key == "198.51.100.7" and starts[0].reason == "accounts"
    assert starts[0].retry_after_s == 900
    denied = throttle.check("198.51.100.7")
    assert not denied.allowed and denied.scope == "ip" and 899 <= denied.retry_after_s <= 900
    assert throttle.check("198.51.100.8").allowed  # the neighbour is not punished by one IP
    stats = throttle.stats()
    assert stats["throttles_started_ip"] == 1 and stats["checks_rejected"] == 1_000 - passed + 1


@given(seed=st.integers(0, 2**32 - 1), hit_rate=st.sampled_from([0.0, 0.01, 0.02, 0.05]))
@settings(max_examples=25, deadline=None)
def test_burst_with_stuffing_hits_and_one_laundering_account_still_throttled(seed: int, hit_rate: float) -> None:
    """Real stuffing succeeds on 0.1-2 % of accounts, and the attacker may also log into an account
    of his own every few attempts to look legitimate: neither keeps the source under the limit."""
    rng = random.Random(seed)
    clock = Clock()
    throttle = SourceThrottle(clock=clock)
    passed = 0
    for i in range(1_000):
        if i % 5 == 4:
            account, success = "attacker-own-account", True
        else:
            account, success = f"victim{i}", rng.random() < hit_rate
        allowed, _ = attempt(throttle, "192.0.2.66", account, success)
        passed += allowed
        clock.advance(0.001)
    assert passed <= 35  # 20 distinct failed accounts take ~25-30 attempts when every fifth is a success


def test_single_account_brute_force_matches_auth0_and_cannot_launder_the_reset() -> None:
    """Auth0 parity: 100 failures per IP trips; a success resets -- but one account resets once."""
    clock = Clock()
    throttle = SourceThrottle(clock=clock)
    for _ in range(99):
        assert throttle.record("203.0.113.9", account="victim", success=False) is None
    assert throttle.record("203.0.113.9", account="own", success=True) is None  # reset (Auth0)
    for _ in range(99):
        assert throttle.record("203.0.113.9", account="victim", success=False) is None
    assert throttle.check("203.0.113.9").allowed
    assert throttle.record("203.0.113.9", account="own", success=True) is None  # same account: no second reset
    started = throttle.record("203.0.113.9", account="victim", success=False)
    assert started is not None and started.reason == "failures" and started.scope == "ip"
    assert not throttle.check("203.0.113.9").allowed


def test_volume_bucket_refills_like_auth0() -> None:
    clock = Clock()
    throttle = SourceThrottle(clock=clock)
    for _ in range(99):
        throttle.record("203.0.113.10", account="victim", success=False)
    clock.advance(2 * 864)  # two refills of 14.4 min
    assert throttle.record("203.0.113.10", account="victim", success=False) is None
    assert throttle.record("203.0.113.10", account="victim", success=False) is None
    assert throttle.record("203.0.113.10", account="victim", success=False) is not None


# -- shared addresses --------------------------------------------------------------------------


def _cgnat_day(seed: int, span_s: float, ips: list[str]) -> tuple[int, int, list[tuple[bool, ThrottleVerdict | None]]]:
    """2,000 customers behind carrier NAT log in twice each within ``span_s``; 5 % of attempts fail
    (typos, mostly followed by a successful retry; some customers give up)."""
    rng = random.Random(seed)
    clock = Clock()
    throttle = SourceThrottle(asn_of=lambda ip: 9605, clock=clock)  # one carrier ASN
    sessions = sorted((rng.uniform(0, span_s), f"customer{c}") for c in range(2_000) for _ in range(2))
    failures = attempts = 0
    outcomes = []
    start = clock.t
    for at, customer in sessions:
        clock.t = start + at
        ip = rng.choice(ips)
        while True:
            ok = rng.random() >= 0.05
            outcomes.append(attempt(throttle, ip, customer, ok))
            attempts += 1
            failures += not ok
            if ok or rng.random() < 0.2:  # success, or gives up
                break
            clock.advance(rng.uniform(2, 20))
    return failures, attempts, outcomes


@pytest.mark.parametrize("span_s", [3_600.0, 86_400.0], ids=["peak-hour", "whole-day"])
@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=8, deadline=None)
def test_cgnat_address_with_2000_customers_and_5pct_failures_is_never_throttled(span_s: float, seed: int) -> None:
    failures, attempts, outcomes = _cgnat_day(seed, span_s, ["100.64.12.34"])
    assert 0.03 < failures / attempts < 0.07
    assert failures > 150  # well over Auth0's 100 failures per IP per day
    assert all(allowed and started is None for allowed, started in outcomes)


def test_cgnat_pool_in_one_24_is_never_throttled_at_network_or_asn_scope() -> None:
    pool = [f"203.0.113.{h}" for h in range(1, 17)]
    _, _, outcomes = _cgnat_day(1, 3_600.0, pool)
    assert all(allowed and started is None for allowed, started in outcomes)


def test_stuffing_from_a_cgnat_address_is_caught_once_it_dominates() -> None:
    """The honest trade-off: an attacker sharing a busy NAT address is diluted by its customers. A
    burst still meets the Auth0-like volume bucket (100 failures with no new customer success in
    between); if customers keep succeeding meanwhile, he is throttled once his distinct failed
    accounts outnumber their distinct successes (min_failure_ratio 0.5)."""
    for customers_during_attack in (False, True):
        clock = Clock()
        throttle = SourceThrottle(clock=clock)
        for c in range(200):  # 200 customers logged in successfully in the last hour
            throttle.record("100.64.1.1", account=f"customer{c}", success=True)
        passed = 0
        last = None
        for i in range(1_000):
            if customers_during_attack and i % 10 == 0:
                attempt(throttle, "100.64.1.1", f"customer-late{i}", success=True)
            allowed, started = attempt(throttle, "100.64.1.1", f"victim{i}", success=False)
            passed += allowed
            last = started or last
            clock.advance(0.001)
        assert last is not None
        if customers_during_attack:
            assert last.reason == "accounts" and 180 <= passed <= 280
        else:
            assert last.reason == "failures" and passed <= DEFAULT_IP_LIMITS.fail_budget + 1  # +1: the bucket leaks


# -- spread attacks ----------------------------------------------------------------------------


def test_slash24_spread_is_throttled_at_network_scope() -> None:
    clock = Clock()
    throttle = SourceThrottle(clock=clock)
    hosts = [f"198.51.100.{h}" for h in range(1, 255)]
    passed = 0
    starts = []
    account = 0
    for _ in range(10):  # each IP tries 10 accounts: half its own limit
        for host in hosts:
            account += 1
            allowed, started = attempt(throttle, host, f"victim{account}", success=False)
            passed += allowed
            if started is not None:
                starts.append(started)
            clock.advance(0.01)
    assert passed <= DEFAULT_NETWORK_LIMITS.distinct_accounts + 8
    assert [s.scope for s in starts] == ["network"] and starts[0].key == "198.51.100.0/24"
    other = throttle.check("198.51.100.250")
    assert not other.allowed and other.scope == "network" and other.key == "198.51.100.0/24"
    assert throttle.check("198.51.101.1").allowed
    assert throttle.stats()["throttles_started_ip"] == 0


def test_asn_spread_is_throttled_at_asn_scope() -> None:
    asn_table = {f"10.{n}.0.0/16": 64_500 for n in range(50)} | {"10.200.0.0/16": 64_501}
    nets = {ipaddress.ip_network(k): v for k, v in asn_table.items()}

    def asn_of(ip: str) -> int | None:
        address = ipaddress.ip_address(ip)
        return next((asn for net, asn in nets.items() if address in net), None)

    clock = Clock()
    throttle = SourceThrottle(asn_of=asn_of, clock=clock)
    sources = [f"10.{n}.{s}.{h}" for h in range(1, 6) for s in range(4) for n in range(50)]  # 200 /24s x 5 IPs
    passed = 0
    starts = []
    for i in range(2_000):
        allowed, started = attempt(throttle, sources[i % len(sources)], f"victim{i}", success=False)
        passed += allowed
        if started is not None:
            starts.append(started)
        clock.advance(0.005)
    assert DEFAULT_ASN_LIMITS.distinct_accounts - 30 <= passed <= DEFAULT_ASN_LIMITS.distinct_accounts + 30
    assert [(s.scope, s.key) for s in starts] == [("asn", "AS64500")]
    assert throttle.stats()["throttles_started_network"] == 0
    denied = throttle.check("10.7.3.200")
    assert not denied.allowed and denied.scope == "asn" and denied.retry_after_s <= DEFAULT_ASN_LIMITS.block_s
    assert throttle.check("10.200.0.1").allowed  # another ASN
    assert throttle.check("172.16.0.1").allowed  # no ASN known


def test_exempt_asn_is_not_aggregated() -> None:
    throttle = SourceThrottle(ThrottleConfig(exempt_asns=frozenset({64_500})), asn_of=lambda ip: 64_500)
    for i in range(2_000):
        throttle.record(f"10.{i % 250}.{i // 250}.1", account=f"victim{i}", success=False)
    assert throttle.stats()["keys_asn"] == 0


# -- IPv6 and canonical forms ------------------------------------------------------------------


def test_ipv6_addresses_in_one_64_count_as_one_source() -> None:
    clock = Clock()
    throttle = SourceThrottle(clock=clock)
    rng = random.Random(3)
    passed = 0
    for i in range(500):
        ip = str(ipaddress.IPv6Address((0x20010DB8_00010002 << 64) | rng.getrandbits(64)))
        allowed, _ = attempt(throttle, ip, f"victim{i}", success=False)
        passed += allowed
    assert passed <= 25
    verdict = throttle.check("2001:db8:1:2:ffff::1")
    assert not verdict.allowed and verdict.scope == "ip" and verdict.key == "2001:db8:1:2::/64"
    assert throttle.check("2001:db8:1:3::1").allowed


def test_ipv6_64s_in_one_48_trip_the_network_scope() -> None:
    throttle = SourceThrottle(clock=Clock())
    for i in range(200):
        throttle.record(f"2001:db8:7:{i:x}::1", account=f"victim{i}", success=False)
    verdict = throttle.check("2001:db8:7:ffff::99")
    assert not verdict.allowed and verdict.scope == "network" and verdict.key == "2001:db8:7::/48"


@given(
    groups=st.lists(st.sampled_from([0, 0, 0, 1, 0xDB8, 0xFFFF]) | st.integers(0, 0xFFFF), min_size=8, max_size=8),
    prefix=st.integers(16, 128),
)
def test_ipv6_prefix_keys_are_what_ipaddress_prints(groups: list[int], prefix: int) -> None:
    n = int.from_bytes(b"".join(g.to_bytes(2, "big") for g in groups), "big")
    expected = str(ipaddress.IPv6Network((n >> (128 - prefix) << (128 - prefix), prefix)))
    assert _v6_prefix_key(n, prefix) == expected


def test_ipv4_mapped_ipv6_is_the_same_source_as_ipv4() -> None:
    throttle = SourceThrottle(clock=Clock())
    for i in range(30):
        ip = "::ffff:192.0.2.44" if i % 2 else "192.0.2.44"
        throttle.record(ip, account=f"victim{i}", success=False)
    for ip in ("192.0.2.44", "::ffff:192.0.2.44", "::FFFF:c000:022c"):
        verdict = throttle.check(ip)
        assert not verdict.allowed and verdict.key == "192.0.2.44"


def test_invalid_addresses_do_not_raise_and_share_one_key() -> None:
    throttle = SourceThrottle(clock=Clock())
    for i in range(30):
        throttle.record(f"garbage-{i}", account=f"victim{i}", success=False)
    verdict = throttle.check("not an ip")
    assert not verdict.allowed and verdict.key == "invalid"
    assert throttle.check("192.0.2.1").allowed


# -- expiry, allowlist, verdict on start only --------------------------------------------------


def _trip(throttle: SourceThrottle, ip: str, start: int = 0) -> ThrottleVerdict:
    for i in range(start, start + 100):
        started = throttle.record(ip, account=f"victim{i}", success=False)
        if started is not None:
            return started
    raise AssertionError("never tripped")


def test_throttle_expires_after_block_duration() -> None:
    clock = Clock()
    throttle = SourceThrottle(clock=clock)
    started = _trip(throttle, "198.51.100.20")
    assert started.retry_after_s == 900
    clock.advance(600)
    verdict = throttle.check("198.51.100.20")
    assert not verdict.allowed and verdict.retry_after_s == 300
    clock.advance(299.5)
    assert not throttle.check("198.51.100.20").allowed
    assert throttle.check("198.51.100.20").retry_after_s == 1
    clock.advance(0.5)
    assert throttle.check("198.51.100.20").allowed
    assert throttle.stats()["blocked_ip"] == 0  # the expired entry was dropped


def test_record_returns_a_verdict_only_when_a_throttle_starts() -> None:
    clock = Clock()
    throttle = SourceThrottle(clock=clock)
    first = _trip(throttle, "198.51.100.30")
    # outcomes of attempts that were already in flight: no second verdict (30 more stay under the /24's 60)
    assert all(throttle.record("198.51.100.30", account=f"late{i}", success=False) is None for i in range(30))
    assert throttle.stats()["throttles_started_ip"] == 1
    clock.advance(first.retry_after_s)
    assert throttle.check("198.51.100.30").allowed
    # the evidence is still fresh: the next failure starts a new throttle (one attempt per block period)
    again = throttle.record("198.51.100.30", account="victim-next", success=False)
    assert again is not None and again.scope == "ip"
    assert throttle.stats()["throttles_started_ip"] == 2


def test_evidence_ages_out_after_two_windows() -> None:
    clock = Clock()
    throttle = SourceThrottle(clock=clock)
    for i in range(19):
        throttle.record("198.51.100.40", account=f"victim{i}", success=False)
    clock.advance(2 * DEFAULT_IP_LIMITS.window_s)
    for i in range(19):
        assert throttle.record("198.51.100.40", account=f"other{i}", success=False) is None
    assert throttle.check("198.51.100.40").allowed


def test_allowlisted_sources_are_never_throttled_nor_counted() -> None:
    config = ThrottleConfig(allowlist=("192.0.2.0/28", ipaddress.ip_network("2001:db8:ff::/48")))
    clock = Clock()
    throttle = SourceThrottle(config, asn_of=lambda ip: 64_496, clock=clock)
    for i in range(5_000):
        for ip in ("192.0.2.5", "2001:db8:ff::1"):
            assert throttle.check(ip) is ALLOWED
            assert throttle.record(ip, account=f"victim{i}", success=False) is None
    assert throttle.stats()["keys_ip"] == 0
    _trip(throttle, "192.0.2.200")  # same /24, not allowlisted: the network is throttled too
    for i in range(200):
        throttle.record(f"192.0.2.{100 + i % 100}", account=f"v{i}", success=False)
    assert not throttle.check("192.0.2.17").allowed
    assert throttle.check("192.0.2.5") is ALLOWED  # allowlisted inside a throttled /24


def test_config_validation_names_the_bad_entry() -> None:
    with pytest.raises(ValueError, match=re.escape("10.0.0.1/8")):
        ThrottleConfig(allowlist=("192.0.2.0/24", "10.0.0.1/8"))
    with pytest.raises(ValueError, match="min_failure_ratio"):
        replace(DEFAULT_IP_LIMITS, min_failure_ratio=1.5)
    with pytest.raises(ValueError, match="sketch_bits"):
        replace(DEFAULT_IP_LIMITS, sketch_bits=1000)
    with pytest.raises(ValueError, match="beyond"):
        replace(DEFAULT_IP_LIMITS, sketch_bits=64, distinct_accounts=500)


def test_unblock() -> None:
    throttle = SourceThrottle(clock=Clock())
    started = _trip(throttle, "198.51.100.50")
    assert started.key is not None and throttle.unblock("ip", started.key)
    assert throttle.check("198.51.100.50").allowed
    assert not throttle.unblock("ip", started.key)


# -- memory and speed --------------------------------------------------------------------------


def _small_config() -> ThrottleConfig:
    return ThrottleConfig(
        ip=replace(DEFAULT_IP_LIMITS, max_keys=1_000),
        network=replace(DEFAULT_NETWORK_LIMITS, max_keys=300),
        asn=replace(DEFAULT_ASN_LIMITS, max_keys=50),
        resolve_cache_size=2_000,
    )


@pytest.mark.slow
def test_memory_bound_under_a_million_distinct_ips() -> None:
    clock = Clock()
    throttle = SourceThrottle(_small_config(), asn_of=lambda ip: 64_512 + hash(ip[:5]) % 400, clock=clock)
    blocks_before = sys.getallocatedblocks()
    for i in range(1_000_000):
        ip = f"{11 + (i >> 16) % 200}.{(i >> 8) & 255}.{i & 255}.{1 + (i * 7919) % 254}"
        throttle.record(ip, account=f"victim{i % 50_000}", success=i % 17 == 0)
        if i % 10 == 0:
            clock.advance(0.001)
    grown = sys.getallocatedblocks() - blocks_before
    stats = throttle.stats()
    assert stats["keys_ip"] == 1_000 and stats["keys_network"] == 300 and stats["keys_asn"] <= 50
    assert stats["blocked_ip"] <= 1_000 and stats["blocked_network"] <= 300 and stats["blocked_asn"] <= 50
    assert stats["throttles_started_asn"] > 0  # the spread (one attempt per /24) is still seen per ASN
    assert stats["resolve_cache_entries"] <= 2_000
    assert grown < 100_000  # live objects bounded by max_keys and the cache, not by the million addresses


def test_worst_case_memory_estimate_is_an_upper_bound() -> None:
    limits = replace(DEFAULT_IP_LIMITS, max_keys=1_000)
    throttle = SourceThrottle(ThrottleConfig(ip=limits, network=replace(limits, enabled=False),
                                             asn=replace(limits, enabled=False)), clock=Clock())
    rng = random.Random(5)
    ips = [f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
           for _ in range(1_000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for ip in ips:  # every bitmap gets a high bit, every key a full resetter ring
            for k in range(40):
                throttle.record(ip, account=f"{ip}-{k}", success=k % 2 == 0)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert throttle.stats()["keys_ip"] == 1_000
    assert used < 1_000 * limits.worst_case_bytes() + 1_000 * 400  # + the address cache entries


def test_check_allocates_nothing_on_the_allowed_path() -> None:
    throttle = SourceThrottle(clock=Clock())
    _trip(throttle, "198.51.100.60")
    ips = [f"203.0.113.{h}" for h in range(1, 200)]
    for ip in ips:
        throttle.check(ip)  # warm the address cache
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(50):
            for ip in ips:
                assert throttle.check(ip).allowed
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 1_000


def test_bench_meets_the_floor() -> None:
    assert bench_throttle(0.3, n_ips=20_000) >= 20_000


# -- invariants under arbitrary traffic --------------------------------------------------------

_IPS = [f"198.51.100.{h}" for h in range(1, 9)] + [f"203.0.113.{h}" for h in range(1, 5)] + ["2001:db8::1", "192.0.2.1"]


@given(
    events=st.lists(
        st.tuples(st.sampled_from(_IPS), st.integers(0, 60), st.booleans(), st.sampled_from([0.0, 0.5, 30.0, 700.0])),
        max_size=400,
    )
)
@settings(max_examples=60, deadline=None)
def test_invariants_under_arbitrary_traffic(events: list[tuple[str, int, bool, float]]) -> None:
    limits = ScopeLimits(fail_budget=15, refill_per_s=0.01, distinct_accounts=5, min_failure_ratio=0.5,
                         window_s=600, block_s=60, max_keys=4, sketch_bits=64)
    config = ThrottleConfig(ip=limits, network=limits, asn=limits, allowlist=("192.0.2.1",))
    clock = Clock()
    throttle = SourceThrottle(config, asn_of=lambda ip: 64_500 if ip.startswith("198") else None, clock=clock)
    for ip, account, success, dt in events:
        clock.advance(dt)
        before = throttle.check(ip)
        started = throttle.record(ip, account=f"a{account}", success=success)
        after = throttle.check(ip)
        if started is not None:
            assert not success
            assert not after.allowed and 1 <= after.retry_after_s <= 60
            assert before.allowed or before.key != started.key  # a new throttle, not a running one
        if ip == "192.0.2.1":
            assert before is ALLOWED and after is ALLOWED and started is None
        stats = throttle.stats()
        assert all(stats[f"keys_{s}"] <= 4 and stats[f"blocked_{s}"] <= 4 for s in ("ip", "network", "asn"))
