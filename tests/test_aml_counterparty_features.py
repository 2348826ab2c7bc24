"""The features that tell a crypto customer's own moves from a scam victim's or a takeover's, through the
real engine: ``destination_was_source`` (coins came from that address), ``device_passkey_verified`` (a
passkey sign-in on the device) and ``symbol_base`` (crypto pairs versus securities codes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest

from mamori.adapters.geo import open_geo_provider
from mamori.aml.addresses import synthetic_address
from mamori.aml.model import EntryKind, ListEntry, RiskCategory
from mamori.aml.screening import Screener
from mamori.events.parse import parse_event
from mamori.risk.engine import Decision, Engine
from mamori.risk.rules.loader import builtin_rules_path, load_ruleset

T0 = datetime(2026, 5, 11, 1, 0, tzinfo=UTC)
H = timedelta(hours=1)
RULES = load_ruleset(builtin_rules_path())
GEO = open_geo_provider()
MIXER = synthetic_address("bitcoin", b"feature-mixer")
COLD = synthetic_address("bitcoin", b"feature-cold")
_ids = count()


@pytest.fixture
def engine() -> Engine:
    entry = ListEntry(kind=EntryKind.address, chain="bitcoin", address=MIXER, category=RiskCategory.mixer,
                      source="test-list", id=1)
    screener = Screener.from_entries([entry], clock=lambda: int(T0.timestamp() * 1e6))
    return Engine(RULES, geo=GEO, screening=screener)


def ev(kind: str, at: timedelta, **fields: Any) -> dict[str, Any]:
    n = next(_ids)
    body: dict[str, Any] = {"id": f"f{n}", "type": kind, "account_id": "c1", "occurred_at": (T0 + at).isoformat(),
                            "ip": "153.156.10.20", "device_id": "home-pc"}
    if kind.startswith("crypto_"):
        body |= {"transfer_id": f"t{n}", "chain": "bitcoin", "asset": "BTC", "amount": "0.01", "amount_jpy": "150000"}
    if kind == "login":
        body |= {"result": "success", "method": "passkey"}
    return body | fields


def run(engine: Engine, events: list[dict[str, Any]]) -> list[Decision]:
    return [engine.process(parse_event(e)) for e in events]


def value(decision: Decision, feature: str) -> Any:
    return decision.features[feature]


def test_destination_was_source_only_after_an_allowed_deposit_from_that_address(engine: Engine) -> None:
    ds = run(engine, [ev("crypto_withdrawal", H, address=COLD),
                      ev("crypto_deposit", 2 * H, address=COLD),
                      ev("crypto_withdrawal", 3 * H, address=COLD),
                      ev("crypto_withdrawal", 4 * H, address=synthetic_address("bitcoin", b"elsewhere"))])
    assert value(ds[0], "destination_was_source") is False
    assert ds[1].verdict.name == "allow"
    assert value(ds[2], "destination_was_source") is True
    assert value(ds[3], "destination_was_source") is False


def test_a_deposit_from_a_risky_address_does_not_make_it_the_customer_s_own(engine: Engine) -> None:
    ds = run(engine, [ev("crypto_deposit", H, address=MIXER), ev("crypto_withdrawal", 2 * H, address=MIXER)])
    assert ds[0].alert and ds[0].verdict.name != "allow"
    assert value(ds[1], "destination_was_source") is False


def test_a_late_deposit_does_not_vouch_for_an_earlier_withdrawal(engine: Engine) -> None:
    ds = run(engine, [ev("crypto_deposit", 5 * H, address=COLD), ev("crypto_withdrawal", 2 * H, address=COLD)])
    assert value(ds[1], "destination_was_source") is False


def test_device_passkey_verified_needs_an_allowed_passkey_sign_in_on_that_device(engine: Engine) -> None:
    ds = run(engine, [ev("login", H, method="password", device_id="phone"),
                      ev("crypto_withdrawal", 2 * H, address=COLD, device_id="phone"),
                      ev("login", 3 * H, method="passkey", result="failure", failure_reason="other", device_id="phone"),
                      ev("crypto_withdrawal", 4 * H, address=COLD, device_id="phone"),
                      ev("login", 5 * H, device_id="phone"),
                      ev("crypto_withdrawal", 6 * H, address=COLD, device_id="phone"),
                      ev("crypto_withdrawal", 7 * H, address=COLD, device_id="laptop")])
    assert [value(d, "device_passkey_verified") for d in (ds[1], ds[3], ds[5], ds[6])] == [False, False, True, False]


def test_symbol_base_reads_crypto_pairs_and_leaves_securities_codes_alone(engine: Engine) -> None:
    order = {"order_id": "o", "side": "sell", "quantity": "1", "order_type": "market", "reference_price": "100"}
    ds = run(engine, [ev("order", H, symbol=s, market=m, **order)
                      for s, m in (("BTC_JPY", "SPOT"), ("eth_jpy", "SPOT"), ("7203", "TSE"), ("BRK.B", "NYSE"))])
    assert [value(d, "symbol_base") for d in ds] == ["BTC", "ETH", None, None]
