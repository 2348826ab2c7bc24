"""Firm-wide blocks of source networks and symbols (issue 5 item 3; FSA 2025 request 1: stop access
from sources that attack many accounts, request 4: act on a symbol being manipulated).

A ``firm_block`` event (:class:`mamori.events.models.FirmBlock`) blocks a network (CIDR) or a symbol
from its time on, until an ``unblock`` of the same value or its ``expires_at``. The state lives in
the engine like freezes, so it is durable through the event log and engine snapshots.

Network look-up is one dictionary probe per distinct prefix length in use (a /24 and a /16 block
cost two probes whatever the number of blocks), not a scan of every block.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from mamori.risk.features.base import EvalEnv, FeatureDef

# (IP version, prefix length) -> {network address as int: canonical CIDR}
_Index = dict[tuple[int, int], dict[int, str]]
ORDER = frozenset({"order"})


class FirmBlocks:
    name = "firm_blocks"
    state_attributes = ("networks", "symbols")  # what an engine snapshot saves and restores

    def __init__(self) -> None:
        self.networks: dict[str, tuple[float, float | None]] = {}  # CIDR -> (since, until)
        self.symbols: dict[str, tuple[float, float | None]] = {}  # upper-case symbol -> (since, until)
        self._index: _Index = {}
        self._indexed: dict[str, tuple[float, float | None]] | None = None

    def _network_index(self) -> _Index:
        if self._indexed is not self.networks:  # changed, or replaced by a snapshot load
            index: _Index = {}
            for cidr in self.networks:
                net = ipaddress.ip_network(cidr)
                index.setdefault((net.version, net.prefixlen), {})[int(net.network_address)] = cidr
            self._index, self._indexed = index, self.networks
        return self._index

    def matching_network(self, ip: str | None, ts: float) -> str | None:
        """The blocked network (CIDR) that contains ``ip`` at time ``ts``, or None."""
        if ip is None or not self.networks:
            return None
        address = ipaddress.ip_address(ip)
        value, bits = int(address), address.max_prefixlen
        for (version, prefix), nets in self._network_index().items():
            if version != address.version:
                continue
            cidr = nets.get(value >> (bits - prefix) << (bits - prefix) if prefix else 0)
            if cidr is not None and _active(self.networks[cidr], ts):
                return cidr
        return None

    def _symbol_blocked(self, env: EvalEnv) -> bool:
        symbol = getattr(env.event, "symbol", None)
        window = self.symbols.get(symbol.upper()) if symbol else None
        return window is not None and _active(window, env.ts)

    def features(self) -> Iterable[FeatureDef]:
        yield FeatureDef("source_network_blocked", "The event's IP address is in a network the firm blocked "
                         "(firm_block event, not lifted and not expired).", "bool",
                         lambda env: self.matching_network(env.event.ip, env.ts) is not None)
        yield FeatureDef("source_network_block", "The blocked network (CIDR) the event's IP address is in; None "
                         "when it is in none.", "str", lambda env: self.matching_network(env.event.ip, env.ts))
        yield FeatureDef("symbol_blocked", "The order's symbol is blocked firm-wide (firm_block event, not lifted "
                         "and not expired).", "bool", self._symbol_blocked, ORDER)

    def observe(self, env: EvalEnv) -> None:
        event: Any = env.event
        if event.type != "firm_block":
            return
        table = self.networks if event.target == "network" else self.symbols
        key = event.value if event.target == "network" else event.value.upper()
        if event.target == "network":
            self.networks = dict(table)  # a new object: the network index is rebuilt on next use
            table = self.networks
        if event.operation == "block":
            until = event.expires_at.timestamp() if event.expires_at is not None else None
            table[key] = (env.ts, until)
        else:
            table.pop(key, None)

    def commit(self, env: EvalEnv, verdict: str) -> None:
        return None


def _active(window: tuple[float, float | None], ts: float) -> bool:
    since, until = window
    return since <= ts and (until is None or ts < until)
