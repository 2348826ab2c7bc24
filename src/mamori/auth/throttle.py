"""Credential-stuffing throttle, consulted *before* any password is hashed.

The login service asks :meth:`SourceThrottle.check` whether the request's source may try at all
(O(1), no hashing, no allocation on the common path); a throttled attempt is answered with HTTP 429
and ``Retry-After`` without hashing and without counting towards the victim account's lockout
(otherwise the attacker would lock real customers out). After an attempt the service reports its
outcome with :meth:`SourceThrottle.record`, which returns a verdict only when that outcome *started*
a throttle, so alerting happens once per throttle rather than per rejected attempt.

Anchors
-------
* **Auth0 "Suspicious IP Throttling"** (the bar to match): per IP, 100 failed logins a day, the
  bucket refills one attempt every 14.4 minutes (= 100 / 24 h), a successful login resets the
  count, and an allowlist exempts the firm's own addresses (API: ``pre-login.max_attempts`` 100,
  ``rate`` 864,000 ms). The ``ip`` scope's "volume" signal reproduces that
  (:data:`DEFAULT_IP_LIMITS`), with the reset made launder-proof (below).
* **OWASP Credential Stuffing Prevention Cheat Sheet**: throttle by source, not only per account;
  expect attackers to spread over many IPs (aggregate by network / ASN) and to use residential
  proxies and shared addresses; keep legitimate users behind NAT working.

Where mamori goes beyond Auth0
------------------------------
*Scopes.* Every outcome is counted at three scopes: ``ip`` (the address; for IPv6 the /64, because
one subscriber -- a mobile device under 3GPP, RFC 6459 §5.2, or one home LAN -- gets a whole /64 and
rotating inside it is free), ``network`` (IPv4 /24, IPv6 /48: the usual end-site assignment, RFC
6177 / JPNIC policy, the same aggregation :func:`mamori.adapters.geo.addresses.network_of` uses; a
Japanese FTTH household gets a /56 or /48 and a /48 holds at most 256 /56 households, the analogue
of a /24) and ``asn`` (via the ``asn_of`` callable). A spread attack keeping each IP under its own
limit still trips its network or ASN.

*Failure ratio and account diversity.* Japanese mobile carriers put thousands of customers behind
one carrier-grade NAT address, so raw failure counts per IP are meaningless there (Auth0's 100/day
would lock out a busy CGNAT address every morning). Credential stuffing is different in kind: it
fails on *many different accounts* (a stuffing list is one password per account) with a *tiny*
success rate (0.1-2 %), whereas customers behind a NAT fail on few accounts (typos, forgotten
passwords) and most of those then succeed. So each key also keeps, per time window, a sketch of
the distinct accounts that failed and of those that succeeded, and the "diversity" signal trips
when **distinct failed accounts >= ``distinct_accounts``** *and* **the account-level failure ratio
failed / (failed + succeeded) >= ``min_failure_ratio``**. A stuffing burst from one IP trips after
about ``distinct_accounts`` (default 20) attempts -- 20 ms of a 1,000 attempts/s burst -- while a
CGNAT address with 2,000 customers at a 5 % failure rate sits near a ratio of 0.05.

*Laundering.* Auth0's "success resets" lets an attacker holding one valid account log into it
every 99 attempts and never be throttled. Here (a) the account-level ratio counts each account once
per window, so one valid account is one success however often it logs in, and (b) the volume
reset is granted once per account: a key remembers the last :data:`RESETTER_RING` accounts whose
success reset it, and a repeat does not reset again.

Mechanics per key
-----------------
* volume: a leaky bucket of failures (``fail_budget``, draining at ``refill_per_s``); a success
  from an account not in the key's resetter ring empties it.
* diversity: two generations (current and previous ``window_s``) of linear-counting bitmaps
  (Whang et al. 1990) of account fingerprints, one for failures and one for successes, each
  ``sketch_bits`` wide. The estimate ``-m ln(zeros/m)`` is exact-enough at the thresholds (within
  about one account at 20 of 512 bits), the union of two windows is a bitwise OR, and the memory is
  fixed. Fingerprints are keyed BLAKE2b of the account id with a per-process random key, so an
  attacker cannot choose account ids that collide in the bitmap.
* a tripped key is blocked for ``block_s``. Its evidence persists (1-2 windows; the volume bucket
  drains over a day), so after the block a source that fails again is re-blocked at once: like
  Auth0's refill, a persistent attacker gets about one attempt per block period.

Memory is bounded: each scope tracks at most ``max_keys`` keys (least recently *recorded* evicted,
``collections.OrderedDict``), and at most ``max_keys`` active blocks (the oldest evicted first).
An evicted block is the price of the bound; a flood of fresh IPs large enough to evict it is
itself a spread attack that the network / ASN scopes (far fewer keys) see. Worst case per tracked
key is ``4 * (28 + sketch_bits / 8) + 300`` bytes (four bitmaps, the slot object, resetter ring,
dict entry, key text; :meth:`ScopeLimits.worst_case_bytes`, measured ~605 B for the ip scope).
With the defaults: 33 MB (ip, 50,000 keys) + 19 MB (network, 20,000) + 7 MB (asn, 5,000) + the
address cache (16,384 entries, 0.3-0.4 KB each: 7 MB) + block entries (~0.1 KB each: 8 MB) ~= 75 MB
at most; typical use is a small fraction (a key that only ever succeeded has no failure bitmap).

Thread safety: :meth:`~SourceThrottle.record` takes a lock; :meth:`~SourceThrottle.check` is
lock-free (single dict reads under the GIL).

Residual risks, on purpose: a slow attack that keeps every IP, network and ASN under its limits
(large residential-proxy botnets) is left to the per-account lockout and risk engine; an attacker
sharing a CGNAT address with many customers is diluted by them (that is the trade for not locking
the customers out); and the decision lags by the attempts in flight (those that passed ``check``
while earlier ones were still hashing), so the service should bound per-source concurrency.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import math
import os
import random
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, Literal, NamedTuple

from mamori.adapters.geo.addresses import normalise
from mamori.auth.client_ip import IPNetwork, parse_network

__all__ = [
    "ALLOWED",
    "DEFAULT_ASN_LIMITS",
    "DEFAULT_IP_LIMITS",
    "DEFAULT_NETWORK_LIMITS",
    "RESETTER_RING",
    "Scope",
    "ScopeLimits",
    "SourceThrottle",
    "ThrottleConfig",
    "ThrottleVerdict",
    "bench_throttle",
]

Scope = Literal["ip", "network", "asn"]
Reason = Literal["failures", "accounts"]
SCOPES: Final[tuple[Scope, ...]] = ("ip", "network", "asn")

RESETTER_RING: Final = 8
"""Accounts remembered per key whose success already reset the volume bucket."""

_DAY: Final = 86_400.0


@dataclass(frozen=True, slots=True)
class ScopeLimits:
    """Limits of one scope. Both signals trip on a failure only; a success never starts a throttle.

    * ``fail_budget`` / ``refill_per_s``: the volume leaky bucket (Auth0: 100 and 1 / 864 s).
    * ``distinct_accounts`` / ``min_failure_ratio`` / ``window_s``: the diversity signal trips when
      at least ``distinct_accounts`` distinct accounts failed within the current and previous
      window and failed / (failed + succeeded) distinct accounts is at least ``min_failure_ratio``.
    * ``block_s``: how long a tripped key is throttled (the ``Retry-After``).
    * ``max_keys``: keys tracked (LRU) and active blocks kept.
    * ``sketch_bits``: width of each distinct-account bitmap (power of two, 64-65536); the
      estimate saturates near ``sketch_bits * ln(sketch_bits)`` distinct accounts.
    * ``enabled``: ``False`` switches the scope off.
    """

    fail_budget: float
    refill_per_s: float
    distinct_accounts: int
    min_failure_ratio: float
    window_s: float
    block_s: float
    max_keys: int
    sketch_bits: int
    enabled: bool = True

    def __post_init__(self) -> None:
        if not self.fail_budget >= 1:
            raise ValueError(f"fail_budget must be >= 1, not {self.fail_budget!r}")
        if not self.refill_per_s >= 0:
            raise ValueError(f"refill_per_s must be >= 0, not {self.refill_per_s!r}")
        if self.distinct_accounts < 1:
            raise ValueError(f"distinct_accounts must be >= 1, not {self.distinct_accounts!r}")
        if not 0.0 <= self.min_failure_ratio <= 1.0:
            raise ValueError(f"min_failure_ratio must be in [0, 1], not {self.min_failure_ratio!r}")
        if not (self.window_s > 0 and self.block_s > 0):
            raise ValueError("window_s and block_s must be > 0")
        if self.max_keys < 1:
            raise ValueError(f"max_keys must be >= 1, not {self.max_keys!r}")
        m = self.sketch_bits
        if not (64 <= m <= 65536 and m & (m - 1) == 0):
            raise ValueError(f"sketch_bits must be a power of two in [64, 65536], not {m!r}")
        if self.distinct_accounts >= m * math.log(m):
            raise ValueError(f"distinct_accounts {self.distinct_accounts} is beyond what {m} sketch bits can count")

    def worst_case_bytes(self) -> int:
        """Upper estimate of the memory of one tracked key of this scope (CPython 3.11, 64-bit)."""
        bitmap = 28 + self.sketch_bits // 8  # a Python int with the top bit set
        return 4 * bitmap + 300


DEFAULT_IP_LIMITS: Final = ScopeLimits(
    fail_budget=100,  # Auth0 Suspicious IP Throttling: 100 failures per IP per day ...
    refill_per_s=100 / _DAY,  # ... refilling one attempt every 14.4 minutes
    distinct_accounts=20,  # no household or office fails on 20 accounts in 1-2 h; a stuffing run does in 20 ms
    min_failure_ratio=0.5,  # stuffing ~0.98-0.999; a NAT of customers ~0.05-0.2 (most failers then succeed)
    window_s=3_600,
    block_s=900,  # ~ Auth0's 14.4 min refill: a persistent source gets about one attempt per block
    max_keys=50_000,
    sketch_bits=512,
)
"""Per address (IPv6: per /64)."""

DEFAULT_NETWORK_LIMITS: Final = ScopeLimits(
    fail_budget=1_000,  # ten busy IPs' worth of Auth0 budget per /24 per day
    refill_per_s=1_000 / _DAY,
    distinct_accounts=60,  # three IPs' worth of diversity: a spread of 10 accounts per IP trips after 60
    min_failure_ratio=0.6,  # a /24 may be a carrier NAT pool: more collateral, so ask for clearer evidence
    window_s=3_600,
    block_s=900,
    max_keys=20_000,
    sketch_bits=1_024,
)
"""Per IPv4 /24 and IPv6 /48."""

DEFAULT_ASN_LIMITS: Final = ScopeLimits(
    fail_budget=10_000,
    refill_per_s=10_000 / _DAY,
    distinct_accounts=300,
    min_failure_ratio=0.8,  # an eyeball ASN carries many customers: the attack must dominate it 4:1
    window_s=3_600,
    block_s=300,  # short: an ASN block hurts every customer of that carrier or hoster
    max_keys=5_000,
    sketch_bits=2_048,
)
"""Per autonomous system (needs ``asn_of``). A saturated success sketch (more than ~15,000 distinct
successful accounts in 1-2 h) makes the ratio unreachable: an ASN that busy is never blocked whole."""


@dataclass(frozen=True, slots=True)
class ThrottleConfig:
    """Configuration of :class:`SourceThrottle`.

    ``allowlist``: CIDRs or addresses (text or :mod:`ipaddress` networks, e.g. the firm's offices
    and monitoring) that are never throttled nor counted; normalised to networks on construction,
    ``ValueError`` naming a bad entry. ``exempt_asns``: AS numbers not aggregated at the ``asn``
    scope (their addresses still count at ``ip`` and ``network``) -- for a carrier the firm will
    never block wholesale. ``ipv4_network_prefix`` / ``ipv6_source_prefix`` /
    ``ipv6_network_prefix``: the aggregation prefixes (24 / 64 / 48). ``resolve_cache_size``:
    addresses whose scope keys are cached (LRU).
    """

    ip: ScopeLimits = DEFAULT_IP_LIMITS
    network: ScopeLimits = DEFAULT_NETWORK_LIMITS
    asn: ScopeLimits = DEFAULT_ASN_LIMITS
    allowlist: tuple[str | IPNetwork, ...] = ()
    exempt_asns: frozenset[int] = frozenset()
    ipv4_network_prefix: int = 24
    ipv6_source_prefix: int = 64
    ipv6_network_prefix: int = 48
    resolve_cache_size: int = 16_384

    def __post_init__(self) -> None:
        networks = tuple(e if isinstance(e, ipaddress.IPv4Network | ipaddress.IPv6Network) else parse_network(e)
                         for e in self.allowlist)
        object.__setattr__(self, "allowlist", networks)
        object.__setattr__(self, "exempt_asns", frozenset(self.exempt_asns))
        if not 8 <= self.ipv4_network_prefix <= 32:
            raise ValueError(f"ipv4_network_prefix must be in [8, 32], not {self.ipv4_network_prefix!r}")
        if not 16 <= self.ipv6_network_prefix <= self.ipv6_source_prefix <= 128:
            raise ValueError("need 16 <= ipv6_network_prefix <= ipv6_source_prefix <= 128")
        if self.resolve_cache_size < 1:
            raise ValueError("resolve_cache_size must be >= 1")

    def limits(self, scope: Scope) -> ScopeLimits:
        return self.ip if scope == "ip" else self.network if scope == "network" else self.asn


@dataclass(frozen=True, slots=True)
class ThrottleVerdict:
    """``allowed``; if not, the ``scope`` and ``key`` that are throttled (e.g. ``"network"``,
    ``"203.0.113.0/24"``), ``retry_after_s`` (whole seconds, >= 1, for ``Retry-After``) and, on a
    verdict returned by ``record``, the ``reason`` (``"failures"``: the volume bucket is full;
    ``"accounts"``: failures on too many distinct accounts at a high failure ratio)."""

    allowed: bool
    scope: Scope | None = None
    retry_after_s: int = 0
    key: str | None = None
    reason: Reason | None = None


ALLOWED: Final = ThrottleVerdict(True)


class _Keys(NamedTuple):
    ip: str
    network: str | None
    asn: str | None
    allowlisted: bool


_INVALID_KEYS: Final = _Keys("invalid", None, None, False)


def _scope_keys(keys: _Keys) -> Iterator[tuple[Scope, str]]:
    """The (scope, key) pairs of an address, in the order ip, network, asn (disabled scopes skipped)."""
    if keys.ip:
        yield "ip", keys.ip
    if keys.network:
        yield "network", keys.network
    if keys.asn:
        yield "asn", keys.asn


def _v6_prefix_key(n: int, prefix: int) -> str:
    """``"<network>/<prefix>"`` of IPv6 address ``n`` in RFC 5952 text, as :mod:`ipaddress` prints it.

    Up to /64 the trailing run of zero groups (at least four) is always the longest, so it is the
    one compressed; string work only. Longer prefixes go through :mod:`ipaddress` (~5 µs)."""
    shift = 128 - prefix
    network = n >> shift << shift
    if prefix > 64:
        return f"{ipaddress.IPv6Address(network)}/{prefix}"
    groups = [(network >> (112 - 16 * i)) & 0xFFFF for i in range(4)]
    while groups and groups[-1] == 0:
        groups.pop()
    return ":".join([f"{g:x}" for g in groups]) + f"::/{prefix}"


class _Bucket:
    """Evidence for one key; see the module docstring."""

    __slots__ = ("cur_fail", "cur_ok", "fails", "gen", "prev_fail", "prev_ok", "resetters", "t")

    def __init__(self, now: float) -> None:
        self.t = now  # last leak of the volume bucket
        self.fails = 0.0  # volume bucket level
        self.gen = now  # start of the current window
        self.cur_fail = 0  # linear-counting bitmaps (Python ints) of account fingerprints
        self.prev_fail = 0
        self.cur_ok = 0
        self.prev_ok = 0
        self.resetters: array[int] | None = None  # 32-bit tags of accounts whose success reset the bucket


def _distinct(bits: int, m: int) -> float:
    """Linear-counting estimate of the distinct items hashed into an ``m``-bit bitmap."""
    zeros = m - bits.bit_count()
    if zeros <= 0:
        return m * math.log(m)  # saturated
    return -m * math.log(zeros / m)


class SourceThrottle:
    """Per-source throttle over the ``ip`` / ``network`` / ``asn`` scopes; see the module docstring.

    ``asn_of(ip)`` returns the AS number of a canonical address or ``None`` (no ``asn`` scope
    without it); it is called once per address not in the address cache and should not raise
    (e.g. ``lambda ip: provider.lookup(ip).asn`` over mamori's geo provider). ``clock`` is
    monotonic seconds (inject one in tests).

    ``check`` accepts any text; a value that is not an IP literal is counted under the single key
    ``"invalid"`` (pass :func:`mamori.auth.client_ip.client_ip` output and it never is).
    """

    def __init__(
        self,
        config: ThrottleConfig | None = None,
        asn_of: Callable[[str], int | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config = config or ThrottleConfig()
        self._asn_of = asn_of
        self._clock = clock
        self._fp_key = os.urandom(16)
        self._lock = threading.Lock()
        self._allow_ranges: tuple[tuple[int, int, int], ...] = tuple(
            (n.version, int(n.network_address), int(n.broadcast_address))
            for n in config.allowlist
            if not isinstance(n, str)
        )
        self._buckets: dict[Scope, OrderedDict[str, _Bucket]] = {s: OrderedDict() for s in SCOPES}
        self._blocks: dict[Scope, OrderedDict[str, float]] = {s: OrderedDict() for s in SCOPES}  # key -> until
        self._blk_ip = self._blocks["ip"]
        self._blk_net = self._blocks["network"]
        self._blk_asn = self._blocks["asn"]
        self._limits: dict[Scope, ScopeLimits] = {s: config.limits(s) for s in SCOPES}
        self._started: dict[Scope, int] = dict.fromkeys(SCOPES, 0)
        self._rejected = 0
        self._v4_shift = 32 - config.ipv4_network_prefix
        self._resolve: Callable[[str], _Keys] = functools.lru_cache(maxsize=config.resolve_cache_size)(
            self._resolve_uncached
        )

    # -- keys ---------------------------------------------------------------------------------

    def _resolve_uncached(self, ip: str) -> _Keys:
        try:
            text, version, n = normalise(ip)
        except ValueError:
            return _INVALID_KEYS
        allowlisted = any(v == version and lo <= n <= hi for v, lo, hi in self._allow_ranges)
        cfg = self.config
        if version == 4:
            ip_key = text
            if self._v4_shift == 8:  # the default /24: string operations only
                net_key = text[: text.rindex(".")] + ".0/24"
            else:
                shift = self._v4_shift
                net_key = f"{ipaddress.IPv4Address(n >> shift << shift)}/{cfg.ipv4_network_prefix}"
        else:
            ip_key = text if cfg.ipv6_source_prefix == 128 else _v6_prefix_key(n, cfg.ipv6_source_prefix)
            net_key = _v6_prefix_key(n, cfg.ipv6_network_prefix)
        asn_key = None
        if self._asn_of is not None and cfg.asn.enabled:
            asn = self._asn_of(text)
            if asn is not None and asn not in cfg.exempt_asns:
                asn_key = f"AS{asn}"
        return _Keys(ip_key if cfg.ip.enabled else "", net_key if cfg.network.enabled else None, asn_key, allowlisted)

    # -- the hot path -------------------------------------------------------------------------

    def check(self, ip: str) -> ThrottleVerdict:
        """May the source ``ip`` attempt a login now? O(1): a cached key lookup and up to three
        dict reads; no hashing, and no allocation unless a block applies."""
        blk_ip, blk_net, blk_asn = self._blk_ip, self._blk_net, self._blk_asn
        if not (blk_ip or blk_net or blk_asn):
            return ALLOWED
        keys = self._resolve(ip)
        if keys.allowlisted:
            return ALLOWED
        if blk_ip.get(keys.ip) is None and (keys.network is None or blk_net.get(keys.network) is None) and (
            keys.asn is None or blk_asn.get(keys.asn) is None
        ):
            return ALLOWED
        return self._blocked_verdict(keys)

    def _blocked_verdict(self, keys: _Keys) -> ThrottleVerdict:
        """The slow path: some scope of ``keys`` has a block entry; report the one that lasts longest.

        Read-only (expired entries are purged by ``record`` under the lock), so ``check`` never races it."""
        now = self._clock()
        worst: tuple[float, Scope, str] | None = None
        for scope, key in _scope_keys(keys):
            until = self._blocks[scope].get(key)
            if until is not None and until > now and (worst is None or until > worst[0]):
                worst = (until, scope, key)
        if worst is None:
            return ALLOWED
        self._rejected += 1
        return ThrottleVerdict(False, worst[1], max(1, math.ceil(worst[0] - now)), worst[2])

    # -- outcomes -----------------------------------------------------------------------------

    def fingerprint(self, account: str) -> int:
        """64-bit keyed BLAKE2b fingerprint of an account id (per-instance random key)."""
        digest = hashlib.blake2b(account.encode("utf-8", "surrogatepass"), key=self._fp_key, digest_size=8)
        return int.from_bytes(digest.digest(), "big")

    def record(self, ip: str, *, account: str, success: bool) -> ThrottleVerdict | None:
        """Count the outcome of an attempt from ``ip`` on ``account`` at every scope.

        Returns the verdict of a throttle this outcome *started* (the first tripped scope in the
        order ip, network, asn; every tripped scope is blocked), else ``None`` -- also when the
        scope was already throttled (outcomes of attempts that were in flight). Allowlisted
        sources are not counted.
        """
        keys = self._resolve(ip)
        if keys.allowlisted:
            return None
        fp = self.fingerprint(account)
        started: ThrottleVerdict | None = None
        with self._lock:
            now = self._clock()
            for blocks in self._blocks.values():
                self._purge_expired(blocks, now)
            for scope, key in _scope_keys(keys):
                limits = self._limits[scope]
                reason = self._observe(self._buckets[scope], key, limits, now, fp, success)
                if reason is None:
                    continue
                blocks = self._blocks[scope]
                until = blocks.get(key)
                if until is not None and until > now:
                    continue  # already throttled: not a new start
                self._block(blocks, key, now + limits.block_s, limits.max_keys)
                self._started[scope] += 1
                if started is None:
                    started = ThrottleVerdict(False, scope, max(1, math.ceil(limits.block_s)), key, reason)
        return started

    @staticmethod
    def _purge_expired(blocks: OrderedDict[str, float], now: float) -> None:
        """Drop expired blocks from the front: a scope's blocks all last ``block_s`` and are kept in
        start order, so the front is the earliest to expire (amortised O(1))."""
        while blocks:
            _, until = next(iter(blocks.items()))
            if until > now:
                return
            blocks.popitem(last=False)

    @staticmethod
    def _block(blocks: OrderedDict[str, float], key: str, until: float, max_blocks: int) -> None:
        blocks.pop(key, None)  # re-insert at the end: the order is block start order
        while len(blocks) >= max_blocks:
            blocks.popitem(last=False)  # the oldest block (expired ones were purged already)
        blocks[key] = until

    @staticmethod
    def _observe(
        buckets: OrderedDict[str, _Bucket], key: str, lim: ScopeLimits, now: float, fp: int, success: bool
    ) -> Reason | None:
        b = buckets.get(key)
        if b is None:
            b = buckets[key] = _Bucket(now)
            if len(buckets) > lim.max_keys:
                buckets.popitem(last=False)
        else:
            buckets.move_to_end(key)
        level = b.fails - (now - b.t) * lim.refill_per_s
        b.fails = level if level > 0.0 else 0.0
        b.t = now
        elapsed = now - b.gen
        if elapsed >= lim.window_s:
            if elapsed >= 2 * lim.window_s:
                b.prev_fail = b.prev_ok = 0
            else:
                b.prev_fail, b.prev_ok = b.cur_fail, b.cur_ok
            b.cur_fail = b.cur_ok = 0
            b.gen = now
        m = lim.sketch_bits
        bit = 1 << (fp & (m - 1))
        if success:
            b.cur_ok |= bit
            tag = fp >> 32
            ring = b.resetters
            if ring is None:
                b.resetters = array("L", (tag,))
                b.fails = 0.0
            elif tag not in ring:
                ring.append(tag)
                if len(ring) > RESETTER_RING:
                    del ring[0]
                b.fails = 0.0
            return None
        b.cur_fail |= bit
        b.fails += 1.0
        if b.fails >= lim.fail_budget:
            return "failures"
        failed = _distinct(b.cur_fail | b.prev_fail, m)
        if failed >= lim.distinct_accounts - 0.5:  # the estimate is a float; round to the nearest account
            succeeded = _distinct(b.cur_ok | b.prev_ok, m)
            if failed >= lim.min_failure_ratio * (failed + succeeded):
                return "accounts"
        return None

    # -- operations ---------------------------------------------------------------------------

    def unblock(self, scope: Scope, key: str) -> bool:
        """Lift a throttle early (operator action); its evidence is dropped too. ``True`` if one was active."""
        with self._lock:
            self._buckets[scope].pop(key, None)
            return self._blocks[scope].pop(key, None) is not None

    def stats(self) -> dict[str, int]:
        """Metrics: ``keys_<scope>`` tracked, ``blocked_<scope>`` blocks in force,
        ``throttles_started_<scope>`` since start, ``checks_rejected``, and the address cache's
        ``resolve_cache_entries``."""
        out: dict[str, int] = {}
        with self._lock:
            now = self._clock()
            for s in SCOPES:
                out[f"keys_{s}"] = len(self._buckets[s])
                out[f"blocked_{s}"] = sum(1 for until in self._blocks[s].values() if until > now)
                out[f"throttles_started_{s}"] = self._started[s]
        out["checks_rejected"] = self._rejected
        info = getattr(self._resolve, "cache_info", None)
        out["resolve_cache_entries"] = info().currsize if info is not None else 0
        return out


# -- benchmark --------------------------------------------------------------------------------


def _bench_population(rng: random.Random, n_ips: int) -> list[str]:
    ips: set[str] = set()
    while len(ips) < n_ips:
        if rng.random() < 0.85:
            ips.add(f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}")
        else:
            ips.add(f"2001:db8:{rng.randrange(65536):x}:{rng.randrange(65536):x}::{rng.randrange(1, 65536):x}")
    return sorted(ips)


def bench_throttle(seconds: float = 2.0, *, n_ips: int = 50_000, seed: int = 7) -> float:
    """``check()`` decisions per second on one core with a realistic key mix.

    ``n_ips`` addresses (85 % IPv4, 15 % IPv6) over ASNs derived from the first octets; 2 % of
    them are throttled at the ``ip`` scope, plus 20 /24 networks and one ASN; the request stream
    is Zipf-like (a few addresses send most requests, a long tail once each), so the address cache
    (default 16,384 entries, below ``n_ips``) also misses.
    """
    rng = random.Random(seed)
    ips = _bench_population(rng, n_ips)

    def asn_of(ip: str) -> int | None:  # 500 synthetic ASNs by /16 (IPv4) or third group (IPv6)
        if "." in ip:
            a, b, _ = ip.split(".", 2)
            return 64_512 + (int(a) * 256 + int(b)) % 500
        return 64_512 + int(ip.split(":")[2], 16) % 500

    throttle = SourceThrottle(ThrottleConfig(), asn_of=asn_of)
    account = 0
    for ip in rng.sample(ips, n_ips // 50):
        for _ in range(DEFAULT_IP_LIMITS.distinct_accounts):
            account += 1
            throttle.record(ip, account=f"victim{account}", success=False)
    v4 = [ip for ip in ips if "." in ip]
    for ip in rng.sample(v4, 20):
        prefix = ip.rsplit(".", 1)[0]
        for host in range(1, DEFAULT_NETWORK_LIMITS.distinct_accounts + 1):
            account += 1
            throttle.record(f"{prefix}.{host}", account=f"victim{account}", success=False)
    target_asn = asn_of(ips[0])
    spread = [ip for ip in v4 if asn_of(ip) == target_asn][:50]
    for i in range(DEFAULT_ASN_LIMITS.distinct_accounts + 10):
        account += 1
        throttle.record(spread[i % len(spread)], account=f"victim{account}", success=False)
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(n_ips)]
    stream = rng.choices(ips, weights=weights, k=200_000)
    check = throttle.check
    for ip in stream[:20_000]:  # warm the address cache
        check(ip)
    done = 0
    perf = time.perf_counter
    started = perf()
    deadline = started + seconds
    while True:
        for ip in stream:
            check(ip)
        done += len(stream)
        if perf() >= deadline:
            break
    return done / (perf() - started)


