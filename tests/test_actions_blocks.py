"""The firm-wide blocks feature (``mamori.risk.features.firm_blocks``): the indexed network look-up
against a brute-force scan (hypothesis), expiry and unblock, symbols, and engine snapshots."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.events.parse import parse_event
from mamori.kit.errors import InvalidEvent
from mamori.risk.engine import Engine
from mamori.risk.features.firm_blocks import FirmBlocks
from mamori.risk.rules.loader import builtin_rules_path, load_ruleset

T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def block(n: int, value: str, *, target: str = "network", op: str = "block", at: timedelta = timedelta(0),
          expires: datetime | None = None) -> Any:
    return parse_event({"id": f"b{n}", "type": "firm_block", "account_id": "firm-controls", "target": target,
                        "value": value, "operation": op, "operator_id": "op-1", "reason": "test",
                        "occurred_at": (T0 + at).isoformat(), **({"expires_at": expires.isoformat()} if expires else {})})


class Env:
    def __init__(self, event: Any, ts: float) -> None:
        self.event, self.ts = event, ts


networks = st.one_of(
    st.builds(lambda a, p: ipaddress.ip_network(f"{a}/{p}", strict=False), st.ip_addresses(v=4), st.integers(8, 32)),
    st.builds(lambda a, p: ipaddress.ip_network(f"{a}/{p}", strict=False), st.ip_addresses(v=6), st.integers(16, 128)))


@settings(max_examples=200, deadline=None)
@given(blocks=st.lists(networks, max_size=12), probes=st.lists(st.ip_addresses(), min_size=1, max_size=20),
       lifted=st.integers(0, 12))
def test_indexed_lookup_matches_a_brute_force_scan(blocks: list[Any], probes: list[Any], lifted: int) -> None:
    plugin = FirmBlocks()
    ts = T0.timestamp()
    for i, net in enumerate(blocks):
        plugin.observe(Env(block(i, str(net)), ts))  # type: ignore[arg-type]
    for i, net in enumerate(blocks[:lifted]):
        plugin.observe(Env(block(100 + i, str(net), op="unblock"), ts))  # type: ignore[arg-type]
    active = {str(n) for n in blocks} - {str(n) for n in blocks[:lifted]}
    for ip in probes:
        found = plugin.matching_network(str(ip), ts + 1)
        expected = {c for c in active if ip.version == ipaddress.ip_network(c).version and ip in ipaddress.ip_network(c)}
        assert (found is None) == (not expected)
        assert found is None or found in expected
        assert plugin.matching_network(str(ip), ts - 1) is None  # not before the block


def test_expiry_symbols_and_snapshots() -> None:
    engine = Engine(load_ruleset(builtin_rules_path()))
    engine.process(block(1, "203.0.113.7/24", expires=T0 + timedelta(hours=1)))
    engine.process(block(2, "abc1", target="symbol"))
    login = {"type": "login", "account_id": "a1", "result": "success", "method": "passkey", "ip": "203.0.113.9"}
    first = engine.process(parse_event({**login, "id": "l1", "occurred_at": (T0 + timedelta(minutes=5)).isoformat()}))
    assert first.features["source_network_block"] == "203.0.113.0/24" and "CTRL-NET-001" in [r.id for r in first.rules]
    fresh = Engine(load_ruleset(builtin_rules_path()))
    fresh.load_snapshot(engine.snapshot())
    order = {"type": "order", "account_id": "a1", "order_id": "o1", "side": "buy", "symbol": "ABC1", "market": "TSE",
             "quantity": "1", "price": "10", "order_type": "limit", "occurred_at": (T0 + timedelta(hours=2)).isoformat()}
    bought = fresh.process(parse_event({**order, "id": "o1"}))
    assert bought.features["symbol_blocked"] is True and bought.verdict.name == "block"  # case-insensitive
    later = fresh.process(parse_event({**login, "id": "l2", "occurred_at": (T0 + timedelta(hours=2)).isoformat()}))
    assert later.features["source_network_blocked"] is False  # expired after one hour


def test_a_malformed_block_names_the_field() -> None:
    for value, target in (("10.0.0.0/33", "network"), ("not/a/symbol", "symbol"), ("", "network")):
        try:
            block(9, value, target=target)
        except InvalidEvent as exc:
            assert [d["field"] for d in exc.details] == ["value"]
        else:
            raise AssertionError(f"{value!r} accepted as a {target}")
