"""Feature plugins against brute-force references, and their semantics on small stories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.adapters.geo import open_geo_provider
from mamori.events.parse import parse_event
from mamori.risk.engine import Engine
from mamori.risk.features.registry import builtin_feature_defs
from mamori.risk.rules.loader import ruleset_from_sources

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
GEO = open_geo_provider()

PROBE_RULES = """
ruleset: {name: probe, version: 1}
features:
  acct_fail_10m: {aggregate: count, events: [login], where: 'event.result == "failure"', by: account, window: 10m}
  ip_accounts_10m: {aggregate: distinct, field: event.account_id, events: [login], by: ip, window: 10m}
  acct_sell_1h: {aggregate: sum, field: notional_jpy, events: [order], where: 'event.side == "sell"', by: account, window: 1h}
rules:
  - {id: P1, description: probe, events: [login], score: 0,
     when: 'acct_fail_10m == acct_fail_10m and ip_accounts_10m == ip_accounts_10m and new_device == new_device and secs_since_login_failure == secs_since_login_failure'}
  - {id: P2, description: probe, events: [order], score: 0, when: 'acct_sell_1h == acct_sell_1h'}
"""

ACCOUNTS = ["a1", "a2", "a3"]
IPS = ["153.156.1.1", "153.156.1.2", "3.112.5.5"]
DEVICES = ["d1", "d2"]

login_st = st.fixed_dictionaries({
    "type": st.just("login"), "account_id": st.sampled_from(ACCOUNTS), "ip": st.sampled_from(IPS),
    "device_id": st.sampled_from(DEVICES), "result": st.sampled_from(["success", "failure"]),
    "method": st.just("password"), "t": st.integers(0, 900)})
order_st = st.fixed_dictionaries({
    "type": st.just("order"), "account_id": st.sampled_from(ACCOUNTS), "side": st.sampled_from(["buy", "sell"]),
    "quantity": st.integers(1, 500), "price": st.integers(1, 5000), "t": st.integers(0, 900)})


def _event(i: int, spec: dict) -> dict:
    data = {k: v for k, v in spec.items() if k != "t"}
    data["id"] = f"e{i}"
    data["occurred_at"] = (T0 + timedelta(seconds=spec["t"])).isoformat()
    if data["type"] == "order":
        data.update(order_id=f"o{i}", symbol="7203", market="TSE", order_type="limit",
                    quantity=str(data["quantity"]), price=str(data["price"]))
    return data


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(login_st, order_st), min_size=1, max_size=60))
def test_given_any_out_of_order_stream_when_processed_then_features_match_brute_force(specs):
    """Events arrive in any order within the allowed lateness (15 minutes)."""
    engine = Engine(ruleset_from_sources({"p.yaml": PROBE_RULES}), geo=GEO)
    seen: list[dict] = []
    for i, spec in enumerate(specs):
        decision = engine.process(parse_event(_event(i, spec)))
        f = decision.features
        t = spec["t"]
        seen.append(spec)
        mine = [s for s in seen if s["account_id"] == spec["account_id"]]
        if spec["type"] == "login":
            in_10m = [s for s in seen if s["type"] == "login" and t - 600 < s["t"] <= t]
            assert f["acct_fail_10m"] == sum(1 for s in in_10m if s["account_id"] == spec["account_id"]
                                             and s["result"] == "failure")
            assert f["ip_accounts_10m"] == len({s["account_id"] for s in in_10m if s["ip"] == spec["ip"]})
            earlier = seen[:-1]
            known = any(s["type"] == "login" and s["result"] == "success" and s["account_id"] == spec["account_id"]
                        and s["device_id"] == spec["device_id"] and s["t"] < t for s in earlier)
            assert f["new_device"] is (not known)
            fails = [s["t"] for s in earlier if s["type"] == "login" and s["result"] == "failure"
                     and s["account_id"] == spec["account_id"] and s["t"] < t]
            assert f["secs_since_login_failure"] == (t - max(fails) if fails else None)
        else:
            expected = sum(Decimal(s["quantity"]) * Decimal(s["price"]) for s in mine
                           if s["type"] == "order" and s["side"] == "sell" and t - 3600 < s["t"] <= t)
            assert f["acct_sell_1h"] == expected


def _login(i: int, minutes: float, **kw) -> dict:
    base = {"id": f"l{i}", "type": "login", "account_id": "a1", "result": "success", "method": "passkey",
            "ip": "153.156.10.20", "device_id": "home", "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat()}
    return {**base, **kw}


def _engine(rules: str = PROBE_RULES) -> Engine:
    return Engine(ruleset_from_sources({"p.yaml": rules}), geo=GEO)


def test_given_a_challenged_login_when_the_same_device_returns_then_it_is_still_new():
    rules = PROBE_RULES.replace("rules:\n", "rules:\n  - {id: C, description: c, events: [login], action: challenge,"
                                " when: 'event.device_id == \"attacker\"'}\n")
    engine = _engine(rules)
    first = engine.process(parse_event(_login(1, 0, device_id="attacker")))
    second = engine.process(parse_event(_login(2, 5, device_id="attacker")))
    assert first.verdict.name == "challenge"
    assert second.features["new_device"] is True  # a challenged login never makes a device known


def test_given_allowed_login_when_same_device_logs_in_again_then_it_is_known_and_time_since_is_measured():
    engine = _engine()
    engine.process(parse_event(_login(1, 0)))
    d = engine.process(parse_event(_login(2, 30, result="failure", method="password")))
    assert d.features["new_device"] is False
    d = engine.process(parse_event(_login(3, 45, result="failure", method="password")))
    assert d.features["secs_since_login_failure"] == 15 * 60


def test_given_a_late_event_when_processed_then_it_is_judged_by_its_own_time():
    engine = _engine()
    engine.process(parse_event(_login(1, 60)))                       # device known from minute 60
    late = engine.process(parse_event(_login(2, 10, result="failure", method="password")))
    assert late.features["new_device"] is True                         # at minute 10 it was not known yet


def test_given_holdings_when_selling_most_then_share_and_value_follow_executions():
    engine = Engine(ruleset_from_sources({"p.yaml": "ruleset: {name: h, version: 1}\nrules:\n"
                                          "  - {id: H, description: h, events: [order], score: 0,"
                                          " when: 'sell_share_of_position == sell_share_of_position and"
                                          " holdings_value_jpy == holdings_value_jpy and holding_qty == holding_qty'}\n"}),
                    geo=GEO)
    common = {"account_id": "a1", "symbol": "7203", "market": "TSE"}
    engine.process(parse_event({"id": "s", "type": "holdings_snapshot", "account_id": "a1",
                                "occurred_at": T0.isoformat(),
                                "positions": [{"symbol": "7203", "quantity": "1000", "market_value_jpy": "3000000"}]}))
    engine.process(parse_event({"id": "x", "type": "execution", "execution_id": "x1", "order_id": "o0", "side": "buy",
                                "quantity": "200", "price": "3100", "occurred_at": (T0 + timedelta(minutes=1)).isoformat(),
                                **common}))
    d = engine.process(parse_event({"id": "o", "type": "order", "order_id": "o1", "side": "sell", "quantity": "900",
                                    "order_type": "market", "reference_price": "3100",
                                    "occurred_at": (T0 + timedelta(minutes=2)).isoformat(), **common}))
    assert d.features["holding_qty"] == Decimal(1200)
    assert d.features["sell_share_of_position"] == Decimal(900) / Decimal(1200)
    assert d.features["holdings_value_jpy"] == Decimal(1200) * Decimal(3100)


def test_given_ip_enrichment_when_cloud_and_home_ips_then_classes_differ():
    defs = builtin_feature_defs()
    assert {"ip_country", "ip_class", "ip_asn_org", "ip_network", "ip_is_anonymising"} <= set(defs)
    engine = _engine()
    home = engine.process(parse_event(_login(1, 0, ip="153.156.1.1")))
    cloud = engine.process(parse_event(_login(2, 1, ip="3.112.1.1", device_id="x")))
    assert home.features["ip_accounts_10m"] == 1
    env_home = home.features
    assert env_home["new_device"] is True
    assert engine.geo is not None
    assert engine.geo.lookup("153.156.1.1").ip_class == "residential"
    assert engine.geo.lookup("3.112.1.1").ip_class == "hosting"
    assert cloud.features["new_device"] is True


def test_every_builtin_feature_is_documented_in_docs_features_md():
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "features.md").read_text(encoding="utf-8")
    missing = [name for name in builtin_feature_defs() if not name.startswith("event.") and f"`{name}`" not in text]
    assert missing == [], f"document these features in docs/features.md: {missing}"


def test_docs_features_md_is_generated_from_the_registry():
    from pathlib import Path

    from mamori.risk.features.docs import render_markdown

    text = (Path(__file__).parent.parent / "docs" / "features.md").read_text(encoding="utf-8")
    assert text == render_markdown(), "regenerate: python -m mamori.risk.features.docs > docs/features.md"


def _fail(i: int, minutes: float, **kw) -> dict:
    return _login(i, minutes, result="failure", method="password", device_id="attacker", ip="3.112.5.5", **kw)


def test_given_configured_thresholds_when_failures_accumulate_then_locks_follow_the_policy():
    rules = ("ruleset: {name: l, version: 1}\nlists: {lockout_threshold: 3, lockout_minutes: 10,"
             " lockout_permanent_after: 2, lockout_period_hours: 1}\nrules:\n"
             "  - {id: P, description: p, events: [login], score: 0,"
             " when: 'login_locked == login_locked and login_lock_remaining_s >= 0 and login_consecutive_failures >= 0"
             " and login_locks_in_period >= 0 and login_lock_permanent == login_lock_permanent'}\n")
    engine = _engine(rules)
    seen = [engine.process(parse_event(_fail(i, i))).features for i in range(3)]
    assert [f["login_locked"] for f in seen] == [False, False, True]
    assert seen[2]["login_lock_remaining_s"] == 600 and seen[2]["login_locks_in_period"] == 1
    assert seen[1]["login_consecutive_failures"] == 2
    after = engine.process(parse_event(_fail(10, 13))).features           # 13 min: first lock over
    assert after["login_locked"] is False and after["login_consecutive_failures"] == 1
    for i in range(11, 13):
        last = engine.process(parse_event(_fail(i, 14 + i - 11))).features
    assert last["login_locked"] is True and last["login_lock_permanent"] is True   # 2nd lock within 1 h
    later = engine.process(parse_event(_fail(20, 600))).features
    assert later["login_locked"] is True
    engine.process(parse_event({"id": "u", "type": "account_unlock", "account_id": "a1", "operator_id": "op",
                                "reason": "reidentified", "occurred_at": (T0 + timedelta(minutes=601)).isoformat()}))
    assert engine.process(parse_event(_fail(21, 602))).features["login_locked"] is False


def test_given_a_passkey_attempt_then_lock_features_do_not_apply():
    d = _engine("ruleset: {name: l, version: 1}\nrules:\n  - {id: P, description: p, events: [login], score: 0,"
                " when: 'login_locked is None'}\n").process(parse_event(_login(1, 0)))
    assert [r.id for r in d.rules] == ["P"]


def _campaign_story() -> list[dict]:
    events: list[dict] = []
    for n, account in enumerate(("v1", "v2", "v3")):
        events.append(_login(100 + n, n, account_id=account, device_id=f"new-{account}", method="password"))
    for n, account in enumerate(("v1", "v2", "v3")):
        events.append({"id": f"o{n}", "type": "order", "account_id": account, "order_id": f"o{n}", "side": "buy",
                       "symbol": "9999", "market": "TSE", "quantity": "1000", "price": "80", "order_type": "limit",
                       "occurred_at": (T0 + timedelta(minutes=5 + 3 * n)).isoformat()})
    return events


def _buy(account: str, minutes: float, symbol: str = "9999") -> dict:
    return {"id": f"b-{account}-{minutes}", "type": "order", "account_id": account, "order_id": f"b{minutes}",
            "side": "buy", "symbol": symbol, "market": "TSE", "quantity": "100", "price": "80",
            "order_type": "limit", "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat()}


def test_a_coordinated_campaign_raises_the_symbol_for_everyone_and_a_restore_rebuilds_it():
    live = _engine()
    decisions = [live.process(parse_event(e)) for e in _campaign_story()]
    assert [d.features["symbol_risk_raised"] for d in decisions[3:]] == [False, False, True]
    later = live.process(parse_event(_buy("longtime", 180)))
    assert later.features["symbol_risk_raised"] is True
    assert 0 < later.features["symbol_raised_remaining_s"] <= 24 * 3600
    assert live.process(parse_event(_buy("longtime", 181, symbol="7203"))).features["symbol_risk_raised"] is False
    assert live.process(parse_event(_buy("longtime", 25 * 60))).features["symbol_risk_raised"] is False
    rebuilt = _engine()
    for event, decision in zip(_campaign_story(), decisions, strict=True):
        rebuilt.restore(parse_event(event), decision.verdict.name)
    assert rebuilt.process(parse_event(_buy("other", 200))).features["symbol_risk_raised"] is True


def test_three_known_customers_buying_a_symbol_they_already_trade_raise_nothing():
    engine = _engine()
    for n, account in enumerate(("k1", "k2", "k3")):
        engine.process(parse_event(_login(200 + n, n, account_id=account, device_id=f"own-{account}")))
        engine.process(parse_event({"id": f"h{n}", "type": "holdings_snapshot", "account_id": account,
                                    "occurred_at": (T0 + timedelta(minutes=n)).isoformat(),
                                    "positions": [{"symbol": "9999", "quantity": "100"}]}))
    results = [engine.process(parse_event(_buy(a, 10 + n))) for n, a in enumerate(("k1", "k2", "k3"))]
    assert [r.features["symbol_risk_raised"] for r in results] == [False, False, False]


def test_impossible_travel_from_city_positions(tmp_path):
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    from mamori.adapters.geo import open_geo_provider
    from mamori.risk.features.travel import great_circle_km

    def city(iso: str, lat: float, lon: float, radius: int) -> dict:
        return {"country": {"iso_code": iso}, "location": {"latitude": lat, "longitude": lon, "accuracy_radius": radius}}

    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-City", languages=["en"], description="test city")
    writer.insert_network(IPSet(["153.156.0.0/16"]), city("JP", 35.6895, 139.6917, 20))   # Tokyo
    writer.insert_network(IPSet(["126.0.0.0/8"]), city("JP", 43.0618, 141.3545, 50))      # Sapporo
    writer.insert_network(IPSet(["60.0.0.0/8"]), city("JP", 35.4437, 139.6380, 10))       # Yokohama
    path = tmp_path / "city.mmdb"
    writer.to_db_file(str(path))
    geo = open_geo_provider(country_mmdb=str(path))
    assert geo.lookup("126.1.2.3").latitude == pytest.approx(43.0618)
    assert 820 < great_circle_km(35.6895, 139.6917, 43.0618, 141.3545) < 840  # Tokyo-Sapporo ~831 km
    engine = Engine(ruleset_from_sources({"p.yaml": PROBE_RULES}), geo=geo)

    def login(i: int, minutes: float, ip: str, device: str) -> dict:
        return parse_event(_login(300 + i, minutes, account_id="trav", ip=ip, device_id=device, method="password"))

    engine.process(login(0, 0, "153.156.10.20", "home"))
    near = engine.process(login(1, 5, "60.1.1.1", "other"))
    assert near.features["travel_km"] == pytest.approx(27, abs=3) and near.features["impossible_travel"] is False
    far = engine.process(login(2, 20, "126.1.1.1", "stranger"))
    assert far.features["travel_kmh"] > 2000 and far.features["impossible_travel"] is True
    assert far.features["country_hop_minutes"] is None  # same country: only the positions tell
    later = engine.process(login(3, 200, "126.1.1.1", "stranger"))
    assert later.features["impossible_travel"] is False  # 831 km in over three hours: a flight


def test_a_country_hop_within_two_hours_is_impossible_without_positions():
    engine = _engine()
    engine.process(parse_event(_login(400, 0, account_id="hop", ip="153.156.10.20")))
    quick = engine.process(parse_event(_login(401, 50, account_id="hop", ip="73.162.1.1", device_id="x")))
    assert quick.features["country_hop_minutes"] == pytest.approx(50)
    assert quick.features["impossible_travel"] is True and quick.features["travel_km"] is None
    slow = engine.process(parse_event(_login(402, 600, account_id="hop2", ip="153.156.10.20")))
    slow = engine.process(parse_event(_login(403, 800, account_id="hop2", ip="73.162.1.1", device_id="x")))
    assert slow.features["impossible_travel"] is False
