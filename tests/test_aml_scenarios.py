"""Every transfer-monitoring scenario through the real engine (built-in rule set, real events): the
pattern it must catch and the legitimate look-alike it must not."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest

from mamori.adapters.geo import open_geo_provider
from mamori.aml.addresses import synthetic_address
from mamori.aml.model import EntryKind, ListEntry, RiskCategory
from mamori.aml.reference_cases import BY_ID
from mamori.aml.scenarios import NON_ENGINE_DETECTORS, SCENARIOS, TYPOLOGIES, all_rule_ids, coverage, scenario_for_rule
from mamori.aml.screening import Screener
from mamori.events.parse import parse_event
from mamori.risk.engine import Decision, Engine
from mamori.risk.rules.loader import builtin_rules_path, load_ruleset

T0 = datetime(2026, 5, 11, 1, 0, tzinfo=UTC)  # 10:00 JST, a Monday
GEO = open_geo_provider()
RULES = load_ruleset(builtin_rules_path())
HOME_IP = "153.156.10.20"

SANCTIONED = synthetic_address("tron", b"sanctioned")
SCAM = synthetic_address("ethereum", b"scam")
MIXER = synthetic_address("bitcoin", b"mixer")
EXCHANGE = synthetic_address("bitcoin", b"exchange")
WEAK_SCAM = synthetic_address("bitcoin", b"weak")
EXPIRED = synthetic_address("bitcoin", b"expired")
NEAR_SCAM = synthetic_address("bitcoin", b"near-scam")
FAR_SCAM = synthetic_address("bitcoin", b"far-scam")


def _entry(chain: str, address: str, category: RiskCategory, **kw: Any) -> ListEntry:
    return ListEntry(kind=EntryKind.address, chain=chain, address=address, category=category, source="test-list", **kw)


class _Exposure:
    def exposure(self, chain: str, address: str) -> tuple[RiskCategory, int] | None:
        return {NEAR_SCAM: (RiskCategory.scam, 2), FAR_SCAM: (RiskCategory.scam, 5)}.get(address)


def _screener() -> Screener:
    entries = [
        _entry("tron", SANCTIONED, RiskCategory.sanctioned, id=1, reference="OFAC-SDN-1"),
        _entry("ethereum", SCAM, RiskCategory.scam, id=2, confidence=Decimal("0.9")),
        _entry("bitcoin", MIXER, RiskCategory.mixer, id=3),
        _entry("bitcoin", EXCHANGE, RiskCategory.exchange, id=4),
        _entry("bitcoin", WEAK_SCAM, RiskCategory.scam, id=5, confidence=Decimal("0.3")),
        _entry("bitcoin", EXPIRED, RiskCategory.scam, id=6, expires_at=T0 - timedelta(days=1)),
    ]
    return Screener.from_entries(entries, exposure_lookup=_Exposure(), clock=lambda: int(T0.timestamp() * 1e6))


@pytest.fixture
def engine() -> Engine:
    return Engine(RULES, geo=GEO, screening=_screener())


_ids = count()


def ev(kind: str, at: timedelta, account: str = "c1", **fields: Any) -> dict[str, Any]:
    n = next(_ids)
    body: dict[str, Any] = {"id": f"e{n}", "type": kind, "account_id": account, "occurred_at": (T0 + at).isoformat(),
                            "ip": HOME_IP, "device_id": f"dev-{account}"}
    if kind in ("fiat_deposit", "fiat_withdrawal", "crypto_deposit", "crypto_withdrawal"):
        body["transfer_id"] = f"t{n}"
    if kind == "login":
        body |= {"result": "success", "method": "passkey"}
    return body | fields


def crypto(kind: str, at: timedelta, address: str, jpy: int, *, chain: str = "bitcoin", asset: str = "BTC",
           amount: str | None = None, account: str = "c1", **fields: Any) -> dict[str, Any]:
    return ev(kind, at, account, chain=chain, asset=asset, address=address, amount=amount or str(Decimal(jpy) / 10_000_000),
              amount_jpy=str(jpy), **fields)


def run(engine: Engine, events: list[dict[str, Any]]) -> list[Decision]:
    return [engine.process(parse_event(e)) for e in events]


def fired(decision: Decision) -> set[str]:
    return {r.id for r in decision.rules}


H, D = timedelta(hours=1), timedelta(days=1)
OWN = synthetic_address("bitcoin", b"own-wallet")


# -- direct and indirect exposure --------------------------------------------------------------

def test_direct_withdrawal_to_sanctioned_is_blocked_with_the_hit_as_evidence(engine: Engine) -> None:
    [d] = run(engine, [crypto("crypto_withdrawal", H, SANCTIONED, 50_000, chain="tron", asset="USDT")])
    assert d.verdict.name == "block"
    rule = next(r for r in d.rules if r.id == "AML-SCREEN-WD-001")
    assert rule.values["address_screening_hit"]["reference"] == "OFAC-SDN-1"
    assert rule.values["address_risk_category"] == "sanctioned"


def test_direct_withdrawal_to_scam_is_held_mixed_case_address_too(engine: Engine) -> None:
    from mamori.aml.addresses import eip55

    checksummed = "0x" + eip55(SCAM[2:])
    [d] = run(engine, [crypto("crypto_withdrawal", H, checksummed, 80_000, chain="ethereum", asset="ETH")])
    assert "AML-SCREEN-WD-002" in fired(d)
    assert d.verdict.name == "hold"


def test_direct_deposit_from_mixer_alerts(engine: Engine) -> None:
    [d] = run(engine, [crypto("crypto_deposit", H, MIXER, 80_000)])
    assert "AML-SCREEN-DEP-001" in fired(d)
    assert d.alert


def test_direct_lookalikes_exchange_low_confidence_expired_and_malformed_do_not_stop(engine: Engine) -> None:
    ds = run(engine, [crypto("crypto_withdrawal", H * (i + 1), a, 80_000, account=f"x{i}")
                      for i, a in enumerate([EXCHANGE, WEAK_SCAM, EXPIRED, "bc1qnotavalidaddress"])])
    for d in ds:
        assert not fired(d) & {"AML-SCREEN-WD-001", "AML-SCREEN-WD-002"}
        assert not d.errors
    assert ds[0].features["address_hosted"] is True
    assert ds[3].features.get("address_valid") is False or "address_valid" not in ds[3].features


def test_indirect_exposure_within_hops_alerts_beyond_does_not(engine: Engine) -> None:
    near, far = run(engine, [crypto("crypto_withdrawal", H, NEAR_SCAM, 80_000),
                             crypto("crypto_withdrawal", 2 * H, FAR_SCAM, 80_000, account="c2")])
    assert "AML-EXPOSURE-WD-001" in fired(near)
    assert near.features["address_exposure_hops"] == 2
    assert "AML-EXPOSURE-WD-001" not in fired(far)


# -- flows ---------------------------------------------------------------------------------------

def test_passthrough_same_value_out_within_hours(engine: Engine) -> None:
    src, dst = synthetic_address("bitcoin", b"src"), synthetic_address("bitcoin", b"dst")
    ds = run(engine, [crypto("crypto_deposit", H, src, 1_000_000), crypto("crypto_withdrawal", 3 * H, dst, 980_000)])
    assert "AML-PASS-001" in fired(ds[1])


def test_passthrough_lookalike_part_withdrawn_or_days_later(engine: Engine) -> None:
    src, dst = synthetic_address("bitcoin", b"src"), synthetic_address("bitcoin", b"dst")
    ds = run(engine, [crypto("crypto_deposit", H, src, 1_000_000), crypto("crypto_withdrawal", 3 * H, dst, 300_000),
                      crypto("crypto_deposit", H, src, 1_000_000, account="c2"),
                      crypto("crypto_withdrawal", 3 * D, dst, 1_000_000, account="c2")])
    assert "AML-PASS-001" not in fired(ds[1]) | fired(ds[3])


def test_rapid_fiat_in_crypto_out_to_new_address(engine: Engine) -> None:
    ds = run(engine, [ev("fiat_deposit", H, amount="2000000"),
                      crypto("crypto_withdrawal", 3 * H, synthetic_address("bitcoin", b"new"), 1_500_000)])
    assert "XFER-RAPID-001" in fired(ds[1])


def test_rapid_lookalike_withdrawal_to_a_known_address(engine: Engine) -> None:
    ds = run(engine, [crypto("crypto_withdrawal", H, OWN, 10_000),
                      ev("fiat_deposit", 30 * D, amount="2000000"),
                      crypto("crypto_withdrawal", 30 * D + 3 * H, OWN, 100_000)])
    assert "XFER-RAPID-001" not in fired(ds[2])


def test_first_buyer_sends_everything_out(engine: Engine) -> None:
    ds = run(engine, [ev("fiat_deposit", H, amount="500000"),
                      crypto("crypto_withdrawal", 5 * H, synthetic_address("ethereum", b"romance"), 490_000,
                             chain="ethereum", asset="ETH")])
    assert "AML-F1-001" in fired(ds[1])


def test_first_buyer_lookalike_regular_customer_moves_all_to_own_wallet(engine: Engine) -> None:
    ds = run(engine, [crypto("crypto_withdrawal", H, OWN, 50_000),
                      ev("fiat_deposit", 20 * D, amount="500000"),
                      crypto("crypto_withdrawal", 20 * D + 5 * H, synthetic_address("bitcoin", b"cold"), 490_000)])
    assert "AML-F1-001" not in fired(ds[2])


def test_structuring_just_below_the_threshold(engine: Engine) -> None:
    ds = run(engine, [ev("fiat_deposit", i * D, amount="1950000") for i in range(3)])
    assert "AML-STRUCT-001" not in fired(ds[1])
    assert "AML-STRUCT-001" in fired(ds[2])


def test_structuring_lookalike_amounts_far_from_the_threshold(engine: Engine) -> None:
    ds = run(engine, [ev("fiat_deposit", i * D, amount=a) for i, a in enumerate(["1500000", "2500000", "1000000"])])
    assert all("AML-STRUCT-001" not in fired(d) for d in ds)


def test_online_casino_round_amounts_late_at_night(engine: Engine) -> None:
    casino = synthetic_address("tron", b"casino-deposit")
    night = timedelta(hours=13)  # 23:00 JST
    ds = run(engine, [crypto("crypto_withdrawal", night + i * D, casino, 15_000, chain="tron", asset="USDT",
                             amount="100") for i in range(3)])
    assert "AML-CASINO-001" in fired(ds[2])
    assert ds[2].verdict.name in ("hold", "block")


def test_online_casino_lookalike_daytime_savings_and_odd_amounts(engine: Engine) -> None:
    wallet = synthetic_address("tron", b"savings")
    ds = run(engine, [crypto("crypto_withdrawal", 2 * H + i * D, wallet, 15_000, chain="tron", asset="USDT",
                             amount="100") for i in range(3)])
    ds += run(engine, [crypto("crypto_withdrawal", timedelta(hours=13) + i * D, wallet, 15_000, chain="tron",
                              asset="USDT", amount="103.17", account="c2") for i in range(3)])
    assert all("AML-CASINO-001" not in fired(d) for d in ds)


def test_collection_point_three_customers_one_address(engine: Engine) -> None:
    collector = synthetic_address("tron", b"collector")
    ds = run(engine, [crypto("crypto_withdrawal", i * H, collector, 75_000, chain="tron", asset="USDT", account=f"v{i}")
                      for i in range(3)])
    assert "XFER-COLLECT-001" in fired(ds[2])


def test_collection_point_lookalike_three_customers_three_addresses(engine: Engine) -> None:
    ds = run(engine, [crypto("crypto_withdrawal", i * H, synthetic_address("tron", bytes([i])), 75_000, chain="tron",
                             asset="USDT", account=f"v{i}") for i in range(3)])
    assert all("XFER-COLLECT-001" not in fired(d) for d in ds)


def test_mule_fiat_from_several_bank_accounts(engine: Engine) -> None:
    ds = run(engine, [ev("fiat_deposit", i * H, amount="300000", bank_account_fingerprint=f"victim-{i}")
                      for i in range(3)])
    assert "AML-MULE-FIAT-001" in fired(ds[2])


def test_mule_lookalike_payday_deposits_from_own_bank(engine: Engine) -> None:
    ds = run(engine, [ev("fiat_deposit", i * D, amount="300000", bank_account_fingerprint="own-bank") for i in range(3)])
    assert all("AML-MULE-FIAT-001" not in fired(d) for d in ds)


def test_layering_to_many_new_addresses(engine: Engine) -> None:
    ds = run(engine, [crypto("crypto_withdrawal", i * H, synthetic_address("bitcoin", b"layer%d" % i), 200_000)
                      for i in range(4)])
    assert "AML-FANOUT-001" in fired(ds[3])


def test_layering_lookalike_repeated_withdrawals_to_one_wallet(engine: Engine) -> None:
    ds = run(engine, [crypto("crypto_withdrawal", i * H, OWN, 200_000) for i in range(4)])
    assert all("AML-FANOUT-001" not in fired(d) for d in ds)


# -- access ----------------------------------------------------------------------------------------

def test_shared_ip_three_customers(engine: Engine) -> None:
    ds = run(engine, [ev("login", i * H, f"s{i}") for i in range(3)])
    assert "AML-SHAREDIP-001" in fired(ds[2])


def test_shared_ip_lookalike_mobile_carrier_nat_and_a_couple(engine: Engine) -> None:
    ds = run(engine, [ev("login", i * H, f"m{i}", ip="49.96.1.1") for i in range(4)])
    ds += run(engine, [ev("login", i * H, f"f{i}", ip="153.156.99.1") for i in range(2)])
    assert all("AML-SHAREDIP-001" not in fired(d) for d in ds)


def test_foreign_ip_withdrawal_from_a_new_country(engine: Engine) -> None:
    ds = run(engine, [ev("login", H), crypto("crypto_withdrawal", D, OWN, 100_000, ip="81.2.69.1")])
    assert "AML-FOREIGN-001" in fired(ds[1])


def test_foreign_ip_lookalike_customer_known_to_log_in_from_there(engine: Engine) -> None:
    ds = run(engine, [ev("login", H, ip="81.2.69.1"), crypto("crypto_withdrawal", D, OWN, 100_000, ip="81.2.69.1")])
    assert "AML-FOREIGN-001" not in fired(ds[1])


def test_high_risk_country_withdrawal_is_held(engine: Engine) -> None:
    [d] = run(engine, [crypto("crypto_withdrawal", H, OWN, 100_000, ip="175.45.176.1")])
    assert "AML-HRCOUNTRY-001" in fired(d)
    assert d.verdict.name in ("hold", "block")


def test_high_risk_country_lookalike_other_foreign_country(engine: Engine) -> None:
    [d] = run(engine, [crypto("crypto_withdrawal", H, OWN, 100_000, ip="81.2.69.1")])
    assert "AML-HRCOUNTRY-001" not in fired(d)


def test_new_account_burst(engine: Engine) -> None:
    ds = run(engine, [ev("fiat_deposit", i * H, amount="100000", bank_account_fingerprint="own") for i in range(10)])
    assert "AML-NEWACCT-001" in fired(ds[9])
    assert "AML-NEWACCT-001" not in fired(ds[8])


def test_new_account_lookalike_old_account_same_activity(engine: Engine) -> None:
    ds = run(engine, [ev("login", timedelta(0))]
             + [ev("fiat_deposit", 60 * D + i * H, amount="100000", bank_account_fingerprint="own") for i in range(10)])
    assert all("AML-NEWACCT-001" not in fired(d) for d in ds)


def test_takeover_withdrawal_after_settings_change(engine: Engine) -> None:
    ds = run(engine, [ev("settings_change", H, setting="email"), crypto("crypto_withdrawal", 2 * H, OWN, 100_000)])
    assert "XFER-CHAIN-001" in fired(ds[1])


def test_takeover_lookalike_withdrawal_days_after_the_change(engine: Engine) -> None:
    ds = run(engine, [ev("settings_change", H, setting="email"), crypto("crypto_withdrawal", 3 * D, OWN, 100_000)])
    assert "XFER-CHAIN-001" not in fired(ds[1])


def test_large_withdrawal(engine: Engine) -> None:
    [d] = run(engine, [crypto("crypto_withdrawal", H, OWN, 6_000_000)])
    assert "XFER-LARGE-001" in fired(d)


def test_large_lookalike_ordinary_amount(engine: Engine) -> None:
    [d] = run(engine, [crypto("crypto_withdrawal", H, OWN, 1_000_000)])
    assert "XFER-LARGE-001" not in fired(d)


def test_deposits_from_many_addresses_mark_a_mule(engine: Engine) -> None:
    ds = run(engine, [crypto("crypto_deposit", i * H, synthetic_address("bitcoin", b"m%d" % i), 10_000)
                      for i in range(10)])
    assert "XFER-MULE-001" in fired(ds[9])


# -- the catalogue itself ------------------------------------------------------------------------

SCENARIO_TESTS: dict[str, tuple[Callable[..., None], Callable[..., None]]] = {
    "AML-EXPOSURE-DIRECT": (test_direct_withdrawal_to_sanctioned_is_blocked_with_the_hit_as_evidence,
                            test_direct_lookalikes_exchange_low_confidence_expired_and_malformed_do_not_stop),
    "AML-EXPOSURE-INDIRECT": (test_indirect_exposure_within_hops_alerts_beyond_does_not,) * 2,
    "AML-PASSTHROUGH": (test_passthrough_same_value_out_within_hours, test_passthrough_lookalike_part_withdrawn_or_days_later),
    "AML-RAPID-FIAT-OUT": (test_rapid_fiat_in_crypto_out_to_new_address, test_rapid_lookalike_withdrawal_to_a_known_address),
    "AML-FIRST-BUY-OUT": (test_first_buyer_sends_everything_out,
                          test_first_buyer_lookalike_regular_customer_moves_all_to_own_wallet),
    "AML-STRUCTURING": (test_structuring_just_below_the_threshold, test_structuring_lookalike_amounts_far_from_the_threshold),
    "AML-CASINO": (test_online_casino_round_amounts_late_at_night, test_online_casino_lookalike_daytime_savings_and_odd_amounts),
    "AML-COLLECTION-POINT": (test_collection_point_three_customers_one_address,
                             test_collection_point_lookalike_three_customers_three_addresses),
    "AML-MULE": (test_mule_fiat_from_several_bank_accounts, test_mule_lookalike_payday_deposits_from_own_bank),
    "AML-LAYERING": (test_layering_to_many_new_addresses, test_layering_lookalike_repeated_withdrawals_to_one_wallet),
    "AML-SHARED-IP": (test_shared_ip_three_customers, test_shared_ip_lookalike_mobile_carrier_nat_and_a_couple),
    "AML-FOREIGN-ACCESS": (test_foreign_ip_withdrawal_from_a_new_country,
                           test_foreign_ip_lookalike_customer_known_to_log_in_from_there),
    "AML-HIGH-RISK-COUNTRY": (test_high_risk_country_withdrawal_is_held,
                              test_high_risk_country_lookalike_other_foreign_country),
    "AML-NEW-ACCOUNT-BURST": (test_new_account_burst, test_new_account_lookalike_old_account_same_activity),
    "AML-TAKEOVER-WITHDRAWAL": (test_takeover_withdrawal_after_settings_change,
                                test_takeover_lookalike_withdrawal_days_after_the_change),
    "AML-LARGE": (test_large_withdrawal, test_large_lookalike_ordinary_amount),
}


def test_every_scenario_has_a_catch_and_a_lookalike_test() -> None:
    # a scenario detected only outside the engine is tested with its detector (AML-TRACE-REACH:
    # tests/test_aml_tracer_cases.py)
    engine_scenarios = {s.id for s in SCENARIOS if not set(s.rule_ids) <= set(NON_ENGINE_DETECTORS)}
    assert set(SCENARIO_TESTS) == engine_scenarios


def test_every_scenario_rule_is_in_the_builtin_rule_set_and_every_reference_is_known() -> None:
    rule_ids = {r.id for r in RULES.rules}
    assert set(all_rule_ids()) - set(NON_ENGINE_DETECTORS) <= rule_ids
    assert not set(NON_ENGINE_DETECTORS) & rule_ids, "a detector is an engine rule or not, never both"
    assert set(NON_ENGINE_DETECTORS) <= set(all_rule_ids()), "every outside detector belongs to a scenario"
    for scenario in SCENARIOS:
        assert set(scenario.reference_cases) <= set(BY_ID), scenario.id
        assert set(scenario.typologies) <= set(TYPOLOGIES), scenario.id
        assert set(scenario.thresholds) <= set(RULES.lists), scenario.id
        assert scenario.title_ja and scenario.title_en
    aml_rules = {r.id for r in RULES.rules if r.id.startswith("AML-")}
    assert aml_rules <= set(all_rule_ids()), "every AML rule belongs to a scenario"
    assert scenario_for_rule("AML-CASINO-001").id == "AML-CASINO"  # type: ignore[union-attr]
    assert scenario_for_rule("LOGIN-XYZ") is None


def test_coverage_maps_every_reference_case() -> None:
    cov = coverage()
    assert set(cov) == set(BY_ID)
    assert "AML-PASSTHROUGH" in cov["C14"] and "AML-CASINO" in cov["F3"]
    assert cov["C9"] == ()  # employee involvement: not something transfer rules can see
    every_attack = {t for s in SCENARIOS for t in s.typologies}
    assert every_attack >= {t for t in TYPOLOGIES if not t.startswith("benign_")}


def test_an_unavailable_attribution_provider_fails_closed_on_withdrawals() -> None:
    from mamori.aml.providers import ProviderUnavailable

    class Down:
        name = "vendor-x"

        def attribute(self, chain: str, address: str) -> list[Any]:
            raise ProviderUnavailable("timeout")

    engine = Engine(RULES, geo=GEO, screening=Screener.from_entries([], providers=[Down()]))
    [d] = run(engine, [crypto("crypto_withdrawal", H, OWN, 10_000)])
    assert d.verdict.name == "hold"
    assert {e.rule_id for e in d.errors} >= {"AML-SCREEN-WD-001", "AML-SCREEN-WD-002"}
    assert "vendor-x" in d.errors[0].error


def test_without_screening_the_list_features_are_none_and_nothing_fails() -> None:
    engine = Engine(RULES, geo=GEO)
    [d] = run(engine, [crypto("crypto_withdrawal", H, SANCTIONED, 10_000, chain="tron", asset="USDT")])
    assert not d.errors and "AML-SCREEN-WD-001" not in fired(d)
    assert d.features["address_risk_category"] is None


def test_rule_tests_take_a_risk_list_and_name_a_bad_entry(tmp_path: Any) -> None:
    from mamori.risk.ruletest import run_test_file

    good = synthetic_address("tron", b"rule-test")
    path = tmp_path / "x.test.yaml"
    path.write_text(f"""tests:
  - name: listed casino is held
    risk_list: [{{chain: tron, address: {good}, category: online_casino}}]
    events:
      - {{type: crypto_withdrawal, transfer_id: w1, chain: tron, asset: USDT, amount: "10", address: {good},
         at: +0s, expect: {{decision: hold, fired: [AML-SCREEN-WD-002]}}}}
  - name: broken list
    risk_list: [{{chain: tron, address: Tnot, category: scam}}]
    events: []
""", encoding="utf-8")
    first, second = run_test_file(path, RULES, GEO)
    assert first.passed, first.failures
    assert second.failures and "risk_list entry 1" in second.failures[0] and "tron" in second.failures[0]


# -- precision: look-alikes an exchange can tell apart (crypto simulator, issue 6) --------------
# Each pair: the pattern still caught, and the legitimate look-alike told apart by a signal a real
# exchange holds (a listed exchange, coins that came from the address, the account's age, a passkey
# sign-in on the device, one customer rather than several paying an address).

def _long_standing(account: str = "c1") -> dict[str, Any]:
    """A passkey sign-in 200 days before T0: the engine has known the account (and its device) since."""
    return ev("login", -200 * D, account)


def test_rapid_lookalike_to_a_listed_exchange_or_back_to_where_the_coins_came_from(engine: Engine) -> None:
    cold = synthetic_address("bitcoin", b"cold-c2")
    ds = run(engine, [ev("fiat_deposit", H, amount="2000000"),
                      crypto("crypto_withdrawal", 3 * H, EXCHANGE, 1_500_000),
                      crypto("crypto_deposit", H, cold, 700_000, account="c2"),
                      ev("fiat_deposit", 2 * D, "c2", amount="1000000"),
                      crypto("crypto_withdrawal", 2 * D + 3 * H, cold, 990_000, account="c2"),
                      crypto("crypto_withdrawal", 2 * D + 4 * H, synthetic_address("bitcoin", b"stranger"), 5_000,
                             account="c2")])
    assert {"XFER-RAPID-001", "AML-F1-001", "AML-F1-002"}.isdisjoint(fired(ds[1]) | fired(ds[4]))
    assert "XFER-RAPID-001" in fired(ds[5])  # the same customer paying a stranger is still rapid movement


def test_first_buy_out_on_a_new_account_is_held(engine: Engine) -> None:
    ds = run(engine, [ev("fiat_deposit", H, amount="500000"),
                      crypto("crypto_withdrawal", 5 * H, synthetic_address("bitcoin", b"invest-collector"), 490_000)])
    assert {"AML-F1-001", "AML-F1-002", "XFER-RAPID-001"} <= fired(ds[1])
    assert ds[1].verdict.name == "hold" and ds[1].alert


def test_first_buy_out_lookalike_long_standing_customer_first_move_to_own_cold_wallet(engine: Engine) -> None:
    ds = run(engine, [_long_standing(), ev("fiat_deposit", H, amount="500000"),
                      crypto("crypto_withdrawal", 5 * H, synthetic_address("bitcoin", b"new-cold"), 490_000)])
    assert {"AML-F1-001", "AML-F1-002"}.isdisjoint(fired(ds[2]))
    assert ds[2].verdict.name not in ("hold", "block") and not ds[2].alert


def test_repeat_payment_to_an_uncleared_address_within_a_week_is_held(engine: Engine) -> None:
    collector = synthetic_address("bitcoin", b"lone-collector")
    ds = run(engine, [_long_standing(),
                      ev("fiat_deposit", H, amount="300000"), crypto("crypto_withdrawal", 2 * H, collector, 295_000),
                      ev("fiat_deposit", 3 * D, amount="450000"),
                      crypto("crypto_withdrawal", 3 * D + H, collector, 445_000)])
    assert "AML-F1-003" not in fired(ds[2]) and ds[2].verdict.name == "challenge"
    assert {"AML-F1-003", "XFER-RAPID-001"} <= fired(ds[4]) and ds[4].verdict.name == "hold"


def test_repeat_payment_lookalike_payday_buyer_two_weeks_apart_and_part_of_a_deposit(engine: Engine) -> None:
    cold = synthetic_address("bitcoin", b"payday-cold")
    ds = run(engine, [_long_standing(),
                      ev("fiat_deposit", H, amount="50000"), crypto("crypto_withdrawal", 2 * H, cold, 49_000),
                      ev("fiat_deposit", 14 * D, amount="50000"), crypto("crypto_withdrawal", 14 * D + H, cold, 49_000),
                      ev("fiat_deposit", 16 * D, amount="500000"), crypto("crypto_withdrawal", 16 * D + H, cold, 60_000)])
    assert all("AML-F1-003" not in fired(d) for d in ds)


def test_collection_point_two_customers_paying_one_address_over_weeks(engine: Engine) -> None:
    collector = synthetic_address("ethereum", b"romance-collector")
    ds = run(engine, [crypto("crypto_withdrawal", H, collector, 100_000, chain="ethereum", asset="ETH", account="v1"),
                      crypto("crypto_withdrawal", 9 * D, collector, 120_000, chain="ethereum", asset="ETH",
                             account="v2")])
    assert "XFER-COLLECT-002" not in fired(ds[0])
    assert "XFER-COLLECT-002" in fired(ds[1]) and ds[1].alert


def test_collection_point_lookalike_many_customers_paying_a_listed_exchange(engine: Engine) -> None:
    ds = run(engine, [crypto("crypto_withdrawal", i * H, EXCHANGE, 2_000_000, account=f"r{i}") for i in range(4)])
    assert all({"XFER-COLLECT-001", "XFER-COLLECT-002"}.isdisjoint(fired(d)) for d in ds)


def test_new_device_withdrawal_is_scored_until_the_customer_signs_in_there_with_a_passkey(engine: Engine) -> None:
    phone = {"device_id": "new-phone"}
    ds = run(engine, [_long_standing(),
                      ev("login", H, method="password", **phone),
                      crypto("crypto_withdrawal", 2 * H, OWN, 100_000, **phone),
                      ev("login", 3 * H, method="passkey", **phone),
                      crypto("crypto_withdrawal", 4 * H, OWN, 100_000, **phone)])
    assert "XFER-NEWDEV-001" in fired(ds[2])
    assert "XFER-NEWDEV-001" not in fired(ds[4])
    assert ds[4].features["device_passkey_verified"] is True


def test_takeover_lookalike_withdrawal_to_a_known_wallet_after_an_email_change(engine: Engine) -> None:
    ds = run(engine, [_long_standing(), crypto("crypto_withdrawal", H, OWN, 100_000),
                      ev("settings_change", 10 * D, setting="email"),
                      crypto("crypto_withdrawal", 10 * D + H, OWN, 100_000),
                      crypto("crypto_withdrawal", 10 * D + 2 * H, synthetic_address("bitcoin", b"attacker"), 100_000)])
    assert ds[1].verdict.name == "allow"
    assert "XFER-CHAIN-001" not in fired(ds[3])
    assert "XFER-CHAIN-001" in fired(ds[4])
