"""The HTTP API against a real ``mamori serve`` process on 127.0.0.1 (httpx, no in-process app).

One server per module serves most tests (each test uses its own account and event ids, so tests do
not see each other's data); rule-reload tests start their own server with a private rule copy.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mamori.events.models import EVENT_TYPES
from mamori.risk.rules.loader import builtin_rules_path
from server import RunningServer, run_cli, start_server

JST = timezone(timedelta(hours=9))
NOW = datetime.now(UTC)
MAX_BATCH = 50

# Every secret the tests handle; none may ever reach the server's log.
SECRETS: list[str] = []


# -- fixtures and helpers ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(tmp_path_factory.mktemp("api"), env={"MAMORI_MAX_BATCH": str(MAX_BATCH)})
    try:
        SECRETS.append(server.admin_key)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api(srv: RunningServer) -> Iterator[httpx.Client]:
    with srv.client() as client:
        yield client


def uid(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def ts(at: datetime) -> str:
    """RFC 3339 in Japan time (the offset the firms send)."""
    return at.astimezone(JST).isoformat()


def event(kind: str, *, account: str | None = None, at: datetime | None = None, **fields: Any) -> dict[str, Any]:
    """A valid event of type ``kind`` with realistic defaults; ``fields`` override them."""
    base: dict[str, Any] = {"id": uid("ev"), "type": kind, "occurred_at": ts(at or datetime.now(UTC)),
                            "account_id": account or uid("acct"), "ip": "153.156.20.31",
                            "device_id": "dev-home", "channel": "web",
                            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0"}
    defaults: dict[str, dict[str, Any]] = {
        "login": {"result": "success", "method": "passkey"},
        "logout": {},
        "settings_change": {"setting": "email", "change": "updated", "new_value_fingerprint": "fp-1"},
        "order": {"order_id": uid("ord"), "side": "buy", "symbol": "7203", "market": "TSE",
                  "quantity": "100", "price": "2850", "order_type": "limit"},
        "order_cancel": {"order_id": uid("ord"), "symbol": "7203"},
        "execution": {"execution_id": uid("exe"), "order_id": uid("ord"), "side": "buy", "symbol": "7203",
                      "market": "TSE", "quantity": "100", "price": "2850"},
        "fiat_deposit": {"transfer_id": uid("tr"), "amount": "300000", "bank_account_fingerprint": "bank-1"},
        "fiat_withdrawal": {"transfer_id": uid("tr"), "amount": "50000", "bank_account_fingerprint": "bank-1"},
        "crypto_deposit": {"transfer_id": uid("tr"), "asset": "BTC", "chain": "bitcoin",
                           "address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "amount": "0.01",
                           "amount_jpy": "150000"},
        "crypto_withdrawal": {"transfer_id": uid("tr"), "asset": "ETH", "chain": "ethereum",
                              "address": "0x52908400098527886E0F7030069857D2E4169EE7", "amount": "0.5",
                              "amount_jpy": "250000"},
        "holdings_snapshot": {"positions": [{"symbol": "7203", "quantity": "300", "market_value_jpy": "855000"},
                                            {"symbol": "9984", "quantity": "0"}]},
        "account_unlock": {"operator_id": "op-1", "reason": "false_positive"},
        "account_profile": {"segment": "retail", "daily_buy_limit_jpy": "1000000"},
        "account_freeze": {"reason": "operator", "operator_id": "op-1"},
        "firm_block": {"target": "network", "value": "203.0.113.0/24", "operation": "block",
                       "operator_id": "op-1", "reason": "stuffing source"},
    }
    return {**base, **defaults[kind], **fields}


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]


def fields_of(error: dict[str, Any]) -> list[str]:
    details = error["details"]
    assert isinstance(details, list) and details, error
    for d in details:
        assert set(d) >= {"field", "message", "kind"}, d
    return [d["field"] for d in details]


def create_key(srv: RunningServer, *scopes: str, name: str = "test key") -> str:
    args = ["keys", "create", "--name", name]
    for scope in scopes:
        args += ["--scope", scope]
    key = run_cli(*args, data_dir=srv.data_dir).stdout.strip().splitlines()[0]
    assert key.startswith("mk_")
    SECRETS.append(key)
    return key


def key_id(key: str) -> str:
    return key.split("_", 2)[1]


def decisions_of(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every decision matching ``params``, following next_cursor."""
    out: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        q = {**params, **({"cursor": cursor} if cursor else {})}
        r = api.get("/v1/decisions", params=q)
        assert r.status_code == 200, r.text
        page = r.json()
        out += page["decisions"]
        cursor = page["next_cursor"]
        if cursor is None:
            return out
    raise AssertionError("pagination does not end")


def assert_healthy(srv: RunningServer) -> None:
    assert srv.alive(), srv.log()[-3000:]
    with httpx.Client(trust_env=False, timeout=10) as c:
        assert c.get(f"{srv.url}/healthz").status_code == 200


# -- operations and documentation ---------------------------------------------------------------------
def test_healthz_and_event_schema_need_no_key(srv: RunningServer) -> None:
    with httpx.Client(base_url=srv.url, trust_env=False) as anon:
        health = anon.get("/healthz")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        assert health.json()["ruleset"].startswith("builtin@")
        schema = anon.get("/v1/schema/events")
        assert schema.status_code == 200
        doc = schema.json()
        assert doc["$schema"].endswith("2020-12/schema")
        tags = set(doc["discriminator"]["mapping"])
        assert tags == set(EVENT_TYPES)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def test_openapi_documents_paths_and_event_bodies(srv: RunningServer) -> None:
    with httpx.Client(base_url=srv.url, trust_env=False) as anon:
        doc = anon.get("/openapi.json").json()
    for path in ("/v1/decisions", "/v1/events", "/v1/decisions/{event_id}", "/v1/alerts",
                 "/v1/rulesets/active", "/v1/rulesets/reload", "/v1/schema/events", "/healthz"):
        assert path in doc["paths"], path
    one = doc["paths"]["/v1/decisions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(one["discriminator"]["mapping"]) == set(EVENT_TYPES)
    batch = doc["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert batch["required"] == ["events"]
    assert set(batch["properties"]["events"]["items"]["discriminator"]["mapping"]) == set(EVENT_TYPES)
    # Every reference resolves inside the document (the event models are published as components).
    schemas = doc["components"]["schemas"]
    for name in ("LoginAttempt", "CryptoWithdrawal", "HoldingsSnapshot", "Position"):
        assert name in schemas, name
    for ref in set(_refs(doc)):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, f"dangling $ref {ref}"
    assert schemas["LoginAttempt"]["properties"]["method"]


def test_unknown_routes_and_methods_use_the_error_shape(api: httpx.Client) -> None:
    error_of(api.get("/v1/nothing-here"), 404, "mamori.api.not_found")
    r = api.delete("/v1/decisions")
    assert r.status_code == 405
    assert set(r.json()) == {"error"}


def test_active_ruleset(api: httpx.Client) -> None:
    r = api.get("/v1/rulesets/active")
    assert r.status_code == 200
    body = r.json()
    ids = {rule["id"] for rule in body["active"]["rules"]}
    assert {"LOGIN-LOCK-001", "SET-CHAIN-001", "XFER-CHAIN-001"} <= ids
    assert body["shadow"] is None


# -- authentication -----------------------------------------------------------------------------------
def test_no_key_is_401(srv: RunningServer) -> None:
    with httpx.Client(base_url=srv.url, trust_env=False) as anon:
        error_of(anon.post("/v1/decisions", json=event("login")), 401, "mamori.auth.unauthenticated")
        error_of(anon.post("/v1/events", json={"events": []}), 401, "mamori.auth.unauthenticated")
        error_of(anon.get("/v1/decisions"), 401, "mamori.auth.unauthenticated")
        error_of(anon.get("/v1/alerts"), 401, "mamori.auth.unauthenticated")
        error_of(anon.post("/v1/rulesets/reload"), 401, "mamori.auth.unauthenticated")


def _bad_headers(admin_key: str) -> list[dict[str, str]]:
    kid = key_id(admin_key)
    secret = admin_key.split("_", 2)[2]
    wrong = ("A" if secret[0] != "A" else "B") + secret[1:]
    return [
        {"Authorization": "Bearer"},
        {"Authorization": "garbage"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer mk_"},
        {"Authorization": "Bearer mk__"},
        {"Authorization": f"Bearer mk_{kid}"},
        {"Authorization": f"Bearer mk_{kid}_"},
        {"Authorization": f"Bearer xk_{kid}_{secret}"},
        {"Authorization": f"Bearer mk_{kid}_{wrong}"},           # known id, wrong secret
        {"Authorization": f"Bearer mk_{kid}_{secret}x"},
        {"Authorization": f"Bearer mk_000000000000_{secret}"},   # unknown id
        {"Authorization": f"Bearer mk_{'z' * 500}_{secret}"},
        {"Authorization": "Bearer mk_\xe9_\xfc".encode("latin-1")},  # type: ignore[dict-item]
        {"X-API-Key": f"mk_{kid}_{wrong}"},
    ]


def test_malformed_or_unknown_keys_are_401(srv: RunningServer) -> None:
    with httpx.Client(base_url=srv.url, trust_env=False) as anon:
        for headers in _bad_headers(srv.admin_key):
            r = anon.post("/v1/decisions", json=event("login"), headers=headers)
            error_of(r, 401, "mamori.auth.unauthenticated")


def test_key_in_x_api_key_header_and_lowercase_bearer(srv: RunningServer) -> None:
    with httpx.Client(base_url=srv.url, trust_env=False) as anon:
        assert anon.get("/v1/decisions", params={"limit": 1}, headers={"X-API-Key": srv.admin_key}).status_code == 200
        r = anon.get("/v1/decisions", params={"limit": 1}, headers={"Authorization": f"bearer {srv.admin_key}"})
        assert r.status_code == 200, r.text


def test_scopes_are_enforced(srv: RunningServer) -> None:
    reader = create_key(srv, "decisions:read", name="dashboard")
    writer = create_key(srv, "events:write", name="order-system")
    with srv.client(reader) as rc, srv.client(writer) as wc:
        err = error_of(rc.post("/v1/decisions", json=event("login")), 403, "mamori.auth.forbidden")
        assert err["details"]["required_scope"] == "events:write"
        error_of(rc.post("/v1/events", json={"events": [event("login")]}), 403, "mamori.auth.forbidden")
        error_of(rc.post("/v1/rulesets/reload"), 403, "mamori.auth.forbidden")
        assert rc.get("/v1/decisions", params={"limit": 1}).status_code == 200
        assert rc.get("/v1/alerts", params={"limit": 1}).status_code == 200

        ev = event("login")
        assert wc.post("/v1/decisions", json=ev).status_code == 200
        error_of(wc.get("/v1/decisions"), 403, "mamori.auth.forbidden")
        error_of(wc.get(f"/v1/decisions/{ev['id']}"), 403, "mamori.auth.forbidden")
        error_of(wc.post("/v1/rulesets/reload"), 403, "mamori.auth.forbidden")
        # The forbidden event was not stored; the allowed one was.
        assert rc.get(f"/v1/decisions/{ev['id']}").status_code == 200

        # Lifting a protection or acting firm-wide needs accounts:admin too, in either endpoint.
        for kind in ("account_unlock", "firm_block"):
            control = event(kind)
            err = error_of(wc.post("/v1/decisions", json=control), 403, "mamori.auth.forbidden")
            assert err["details"]["required_scope"] == "accounts:admin"
            batch = {"events": [event("login"), event(kind)]}
            error_of(wc.post("/v1/events", json=batch), 403, "mamori.auth.forbidden")
            assert rc.get(f"/v1/decisions/{control['id']}").status_code == 404
            assert rc.get(f"/v1/decisions/{batch['events'][0]['id']}").status_code == 404  # all or nothing


def test_cli_created_keys_work_at_once(srv: RunningServer) -> None:
    with httpx.Client(base_url=srv.url, trust_env=False) as anon:
        for _ in range(3):
            # An unknown key makes the server look at its key table; the new key is created right
            # after, and must still be accepted on its very first use.
            anon.get("/v1/decisions", headers={"Authorization": "Bearer mk_123456789abc_nope"})
            key = create_key(srv, "events:write", "decisions:read", name="fresh")
            r = anon.post("/v1/decisions", json=event("logout"), headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200, r.text


def test_revoked_key_stops_working(srv: RunningServer) -> None:
    key = create_key(srv, "decisions:read", name="to be revoked")
    with srv.client(key) as c:
        assert c.get("/v1/decisions", params={"limit": 1}).status_code == 200
        out = run_cli("keys", "revoke", key_id(key), data_dir=srv.data_dir)
        assert "revoked" in out.stdout
        deadline = time.monotonic() + 7.0
        status = 200
        while time.monotonic() < deadline:
            status = c.get("/v1/decisions", params={"limit": 1}).status_code
            if status == 401:
                break
            time.sleep(0.2)
        assert status == 401, "a revoked key still works after 7 s"
        error_of(c.get("/v1/decisions"), 401, "mamori.auth.unauthenticated")


# -- decisions --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(EVENT_TYPES))
def test_each_event_type_gets_a_decision(api: httpx.Client, kind: str) -> None:
    ev = event(kind)
    r = api.post("/v1/decisions", json=ev)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["event_id"] == ev["id"]
    assert body["event_type"] == kind
    assert body["account_id"] == ev["account_id"]
    assert body["decision"] in {"allow", "challenge", "hold", "block"}
    assert isinstance(body["score"], int)
    assert isinstance(body["rules"], list)
    assert body["ruleset"].startswith("builtin@")
    assert "duplicate" not in body
    stored = api.get(f"/v1/decisions/{ev['id']}")
    assert stored.status_code == 200
    assert stored.json() == body


def test_takeover_story_escalates(api: httpx.Client) -> None:
    acct = uid("victim")
    start = NOW - timedelta(days=7)
    verdicts = []
    # The customer: six passkey logins from the home PC on a Japanese residential line.
    for day in range(6):
        at = start + timedelta(days=day, hours=12)
        r = api.post("/v1/decisions", json=event("login", account=acct, at=at, method="passkey",
                                                  ip=f"153.156.{40 + day}.17", device_id="home-pc"))
        assert r.status_code == 200, r.text
        assert r.json()["decision"] == "allow", r.json()
        verdicts.append("allow")
    # The attacker: password + SMS code from a new device on a cloud (AWS Tokyo) address.
    t0 = NOW - timedelta(minutes=30)
    attacker = {"account": acct, "ip": "3.112.1.1", "device_id": "attacker-vm",
                "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/125.0"}
    pw = api.post("/v1/decisions", json=event("login", at=t0, method="password", **attacker)).json()
    otp = api.post("/v1/decisions", json=event("login", at=t0 + timedelta(seconds=40), method="sms_otp",
                                                **attacker)).json()
    for login in (pw, otp):
        fired = {r["id"] for r in login["rules"]}
        assert {"LOGIN-NEWDEV-001", "LOGIN-ANON-001", "LOGIN-WEAKNEW-001"} <= fired, fired
        assert login["decision"] in {"challenge", "block"}
        weak = next(r for r in login["rules"] if r["id"] == "LOGIN-WEAKNEW-001")
        assert weak["values"]["new_device"] is True
        assert weak["values"]["login_count"] >= 6
        anon = next(r for r in login["rules"] if r["id"] == "LOGIN-ANON-001")
        assert anon["values"]["ip_class"] == "hosting"
    # Then the email address is changed ...
    change = api.post("/v1/decisions", json=event("settings_change", at=t0 + timedelta(minutes=3),
                                                   setting="email", **attacker)).json()
    fired = {r["id"]: r for r in change["rules"]}
    assert "SET-CHAIN-001" in fired, fired
    assert 0 < fired["SET-CHAIN-001"]["values"]["secs_since_new_device_login"] <= 3600
    assert fired["SET-CHAIN-001"]["values"]["event.setting"] == "email"
    assert change["decision"] in {"hold", "block"}
    # ... and the crypto is withdrawn.
    withdrawal = api.post("/v1/decisions", json=event(
        "crypto_withdrawal", at=t0 + timedelta(minutes=6), amount="2.5", amount_jpy="1200000",
        address="0x000000000000000000000000000000000000dEaD", **attacker)).json()
    fired = {r["id"]: r for r in withdrawal["rules"]}
    assert {"XFER-CHAIN-001", "XFER-NEWDEV-001", "XFER-ANON-001"} <= set(fired), fired
    assert 0 < fired["XFER-CHAIN-001"]["values"]["secs_since_email_change"] <= 86400
    assert withdrawal["decision"] in {"hold", "block"}
    assert withdrawal["score"] >= change["score"]
    rank = ["allow", "challenge", "hold", "block"]
    seq = [*verdicts, otp["decision"], change["decision"], withdrawal["decision"]]
    assert [rank.index(v) for v in seq] == sorted(rank.index(v) for v in seq), seq
    assert rank.index(withdrawal["decision"]) > rank.index(otp["decision"])
    # Both the change and the withdrawal raised alerts.
    alerts = api.get("/v1/alerts", params={"account_id": acct}).json()["alerts"]
    by_event = {a["event_id"]: a for a in alerts}
    assert set(by_event) == {change["event_id"], withdrawal["event_id"]}
    assert by_event[withdrawal["event_id"]]["decision"] == withdrawal["decision"]
    assert "XFER-CHAIN-001" in by_event[withdrawal["event_id"]]["rules"]
    assert all(a["status"] == "open" and a["account_id"] == acct for a in alerts)


def test_password_lockout(api: httpx.Client) -> None:
    acct = uid("brute")
    results = []
    for i in range(6):
        body = api.post("/v1/decisions", json=event(
            "login", account=acct, at=NOW - timedelta(minutes=10 - i), method="password", result="failure",
            failure_reason="bad_credential", device_id="unknown-dev", ip="126.10.20.30")).json()
        results.append(body)
    assert all("LOGIN-LOCK-001" not in {r["id"] for r in b["rules"]} for b in results[:4])
    for b in results[4:]:
        lock = next(r for r in b["rules"] if r["id"] == "LOGIN-LOCK-001")
        assert b["decision"] == "block"
        assert lock["values"]["login_locked"] is True


# -- idempotency --------------------------------------------------------------------------------------
def test_resending_an_event_returns_the_first_decision(api: httpx.Client) -> None:
    ev = event("crypto_withdrawal")
    first = api.post("/v1/decisions", json=ev)
    second = api.post("/v1/decisions", json=ev)
    assert first.status_code == second.status_code == 200
    a, b = first.json(), second.json()
    assert "duplicate" not in a
    assert b.pop("duplicate") is True
    assert a == b
    # A different payload under the same id is still the first event's decision.
    changed = api.post("/v1/decisions", json={**ev, "amount": "99", "occurred_at": ts(NOW - timedelta(hours=1))})
    assert changed.json() == {**a, "duplicate": True}
    assert len(decisions_of(api, account_id=ev["account_id"])) == 1


def test_concurrent_posts_of_one_new_id_store_it_once(srv: RunningServer) -> None:
    ev = event("fiat_withdrawal", amount="700000")

    async def fire() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(base_url=srv.url, headers=srv.headers(), trust_env=False,
                                     timeout=30, limits=limits) as client:
            return await asyncio.gather(*(client.post("/v1/decisions", json=ev) for _ in range(20)))

    responses = asyncio.run(fire())
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    bodies = [r.json() for r in responses]
    firsts = [b for b in bodies if not b.get("duplicate")]
    assert len(firsts) == 1, bodies
    for b in bodies:
        b.pop("duplicate", None)
        assert b == firsts[0]
    with srv.client() as api:
        stored = decisions_of(api, account_id=ev["account_id"])
    assert [d["event_id"] for d in stored] == [ev["id"]]


def test_batch_results_in_order_with_duplicates(api: httpx.Client) -> None:
    acct = uid("batch")
    known = event("login", account=acct, at=NOW - timedelta(minutes=5))
    assert api.post("/v1/decisions", json=known).status_code == 200
    fresh = [event(k, account=acct, at=NOW - timedelta(minutes=4 - i))
             for i, k in enumerate(["order", "execution", "fiat_deposit"])]
    batch = [fresh[0], known, fresh[1], fresh[0], fresh[2]]
    r = api.post("/v1/events", json={"events": batch})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 3
    assert body["duplicates"] == 2
    assert [x["event_id"] for x in body["results"]] == [e["id"] for e in batch]
    assert [x["duplicate"] for x in body["results"]] == [False, True, False, True, False]
    for x in body["results"]:
        assert x["decision"] in {"allow", "challenge", "hold", "block"}
        assert isinstance(x["rules"], list) and isinstance(x["score"], int)
    assert body["results"][0]["decision"] == body["results"][3]["decision"]
    stored = decisions_of(api, account_id=acct)
    assert sorted(d["event_id"] for d in stored) == sorted({e["id"] for e in batch})
    empty = api.post("/v1/events", json={"events": []})
    assert empty.status_code == 200
    assert empty.json() == {"accepted": 0, "duplicates": 0, "results": []}


# -- bad input ----------------------------------------------------------------------------------------
def _without(ev: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in ev.items() if k != key}


BAD_EVENTS: list[tuple[str, Any, str]] = [
    ("missing field", _without(event("login"), "result"), "result"),
    ("missing id", _without(event("order"), "id"), "id"),
    ("missing type", _without(event("order"), "type"), "type"),
    ("bad enum", event("login", method="fingerprint"), "method"),
    ("bad side", event("order", side="short"), "side"),
    ("naive timestamp", event("login", occurred_at="2026-01-05T09:00:00"), "occurred_at"),
    ("not a timestamp", event("login", occurred_at="yesterday"), "occurred_at"),
    ("invalid IP", event("login", ip="999.12.1.1"), "ip"),
    ("IP with text", event("login", ip="153.156.1.1; DROP TABLE events"), "ip"),
    ("unknown type", event("login", type="teleport"), "type"),
    ("negative amount", event("fiat_withdrawal", amount="-5"), "amount"),
    ("NaN amount", event("fiat_withdrawal", amount="NaN"), "amount"),
    ("unknown field", event("logout", password="hunter2"), "password"),
    ("bad id", event("logout", id="spaces are not ids"), "id"),
    ("nested position", event("holdings_snapshot", positions=[{"symbol": "7203", "quantity": "-1"}]),
     "positions.0.quantity"),
]


@pytest.mark.parametrize(("body", "field"), [(b, f) for _, b, f in BAD_EVENTS], ids=[n for n, _, _ in BAD_EVENTS])
def test_invalid_event_is_422_naming_the_field(api: httpx.Client, body: dict[str, Any], field: str) -> None:
    err = error_of(api.post("/v1/decisions", json=body), 422, "mamori.events.invalid")
    assert field in fields_of(err), err
    if "id" in body and isinstance(body["id"], str):
        assert api.get(f"/v1/decisions/{body['id']}").status_code in (404, 422)


@pytest.mark.parametrize(("content", "kind"), [
    (b"{not json", "json_invalid"),
    (b"", "json_invalid"),
    (b"\xff\xfe\x00", "json_invalid"),
    (b"[]", "model_type"),
    (b'[{"type": "login"}]', "model_type"),
    (b'"login"', "model_type"),
    (b"null", "model_type"),
    (b"42", "model_type"),
])
def test_body_that_is_not_an_object_is_422(api: httpx.Client, content: bytes, kind: str) -> None:
    r = api.post("/v1/decisions", content=content, headers={"Content-Type": "application/json"})
    err = error_of(r, 422, "mamori.events.invalid")
    assert fields_of(err) == ["(body)"]
    assert err["details"][0]["kind"] == kind


@pytest.mark.parametrize("body", [{"event": []}, {"events": {}}, [], {"events": None}, "x"])
def test_batch_body_must_hold_an_events_list(api: httpx.Client, body: Any) -> None:
    err = error_of(api.post("/v1/events", json=body), 422, "mamori.events.invalid")
    assert fields_of(err) == ["events"]


def test_batch_with_a_bad_event_stores_nothing(api: httpx.Client) -> None:
    acct = uid("allornothing")
    batch = [event("login", account=acct), event("order", account=acct),
             event("order", account=acct, quantity="0"), event("logout", account=acct)]
    err = error_of(api.post("/v1/events", json={"events": batch}), 422, "mamori.events.invalid")
    assert fields_of(err) == ["events.2.quantity"]
    for ev in batch:
        error_of(api.get(f"/v1/decisions/{ev['id']}"), 404, "mamori.api.not_found")
    assert decisions_of(api, account_id=acct) == []
    # Several problems are all reported, each prefixed with its index.
    batch[0] = _without(batch[0], "method")
    err = error_of(api.post("/v1/events", json={"events": batch}), 422, "mamori.events.invalid")
    assert set(fields_of(err)) == {"events.0.method", "events.2.quantity"}
    # Fixed, the same batch goes through as a whole.
    batch[0]["method"] = "passkey"
    batch[2]["quantity"] = "10"
    ok = api.post("/v1/events", json={"events": batch})
    assert ok.status_code == 200, ok.text
    assert ok.json()["accepted"] == 4


def test_oversize_batch_is_rejected_whole(api: httpx.Client) -> None:
    acct = uid("big")
    batch = [event("logout", account=acct) for _ in range(MAX_BATCH + 1)]
    err = error_of(api.post("/v1/events", json={"events": batch}), 422, "mamori.api.invalid_request")
    assert err["details"]["field"] == "events"
    assert err["details"]["max"] == MAX_BATCH
    assert decisions_of(api, account_id=acct) == []
    ok = api.post("/v1/events", json={"events": batch[:MAX_BATCH]})
    assert ok.status_code == 200
    assert ok.json()["accepted"] == MAX_BATCH


def test_oversize_body_is_rejected(api: httpx.Client) -> None:
    ev = event("login", user_agent="x" * 500)
    body = orjson.dumps({"events": [ev] * 10}) + b" " * (4 * 1024 * 1024)
    r = api.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code in (413, 422), r.text
    assert set(r.json()) == {"error"}
    error_of(api.get(f"/v1/decisions/{ev['id']}"), 404, "mamori.api.not_found")


# Random input: the edge must answer every request with a 2xx or 4xx and stay up.
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(text, children, max_size=5),
    max_leaves=25,
)
FIELDS = sorted({f for m in EVENT_TYPES.values() for f in m.model_fields})
tricky_values = st.one_of(
    json_values,
    st.sampled_from(["", " ", "0", "-1", "1e9999", "NaN", "Infinity", "9" * 60, "0.0000000000000000000000001",
                     "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-02-30T00:00:00Z",
                     "1970-01-01T00:00:00Z", "::1", "::ffff:1.2.3.4", "fe80::1%eth0", "0.0.0.0",
                     "255.255.255.255", "\u0000", "日本語", "a" * 200, "Z", "x/../y"]),
    st.integers(-(2**64), 2**64),
)


def _mutated(kind: str, changes: dict[str, Any], drops: list[str]) -> dict[str, Any]:
    ev = event(kind)
    ev.update(changes)
    for d in drops:
        ev.pop(d, None)
    return ev


fuzzed_events = st.builds(
    _mutated,
    st.sampled_from(sorted(EVENT_TYPES)),
    st.dictionaries(st.sampled_from(FIELDS), tricky_values, max_size=3),
    st.lists(st.sampled_from(FIELDS), max_size=2),
)

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])


def _no_5xx(r: httpx.Response) -> None:
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert set(r.json()) == {"error"}, r.text


@FUZZ
@given(body=st.binary(max_size=300))
def test_garbage_bytes_never_5xx(srv: RunningServer, api: httpx.Client, body: bytes) -> None:
    for path in ("/v1/decisions", "/v1/events"):
        _no_5xx(api.post(path, content=body, headers={"Content-Type": "application/json"}))


@FUZZ
@given(body=json_values)
def test_random_json_never_5xx(api: httpx.Client, body: Any) -> None:
    raw = orjson.dumps(body)
    _no_5xx(api.post("/v1/decisions", content=raw, headers={"Content-Type": "application/json"}))
    _no_5xx(api.post("/v1/events", content=orjson.dumps({"events": body}),
                     headers={"Content-Type": "application/json"}))


@FUZZ
@given(ev=fuzzed_events)
def test_mutated_events_never_5xx(api: httpx.Client, ev: dict[str, Any]) -> None:
    r = api.post("/v1/decisions", json=ev)
    _no_5xx(r)
    if r.status_code == 200 and isinstance(ev.get("id"), str):
        assert api.get(f"/v1/decisions/{ev['id']}").status_code == 200
    _no_5xx(api.post("/v1/events", json={"events": [event("logout"), ev]}))


@FUZZ
@given(params=st.dictionaries(
    st.sampled_from(["account_id", "decision", "since", "until", "limit", "cursor", "status"]),
    st.one_of(text, st.sampled_from([
        "2026-01-01T00:00:00+09:00", "2026-01-01", "-1", "0", "1001", str(2**70), "9999-12-31T23:59:59Z",
        base64.urlsafe_b64encode(b"[1000000000000000000000000000000, \"x\"]").decode(),
        base64.urlsafe_b64encode(orjson.dumps([-1, "x"])).decode(),
        base64.urlsafe_b64encode(orjson.dumps({"a": 1})).decode()])),
    max_size=4))
def test_random_query_parameters_never_5xx(api: httpx.Client, params: dict[str, str]) -> None:
    _no_5xx(api.get("/v1/decisions", params=params))
    _no_5xx(api.get("/v1/alerts", params=params))


def test_server_is_healthy_after_the_fuzzing(srv: RunningServer) -> None:
    assert_healthy(srv)
    assert "Traceback" not in srv.log(), srv.log()[-5000:]


# -- queries -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def history(api: httpx.Client) -> dict[str, Any]:
    """One account with 24 events an hour apart (some blocked), sent in batches."""
    acct = uid("hist")
    t0 = (NOW - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    events = []
    for i in range(24):
        at = t0 + timedelta(hours=i)
        if i % 6 == 5:  # a burst of failures from an unknown device ends in a lockout
            events += [event("login", account=acct, at=at + timedelta(seconds=s), method="password",
                             result="failure", device_id="stranger", ip="126.1.2.3") for s in range(6)]
        else:
            events.append(event("order", account=acct, at=at, side="buy" if i % 2 else "sell"))
    for i in range(0, len(events), MAX_BATCH):
        r = api.post("/v1/events", json={"events": events[i:i + MAX_BATCH]})
        assert r.status_code == 200, r.text
    return {"account": acct, "t0": t0, "events": events}


def test_list_filters_by_account_and_decision(api: httpx.Client, history: dict[str, Any]) -> None:
    acct, events = history["account"], history["events"]
    rows = decisions_of(api, account_id=acct)
    assert sorted(r["event_id"] for r in rows) == sorted(e["id"] for e in events)
    assert all(r["account_id"] == acct for r in rows)
    blocked = decisions_of(api, account_id=acct, decision="block")
    assert blocked and all(r["decision"] == "block" for r in blocked)
    assert all(any(x["id"] == "LOGIN-LOCK-001" for x in r["rules"]) for r in blocked)
    allowed = decisions_of(api, account_id=acct, decision="allow")
    others = [v for v in ("challenge", "hold") for _ in decisions_of(api, account_id=acct, decision=v)]
    assert len(blocked) + len(allowed) + len(others) == len(rows)
    # Newest first (by decision time), ties broken by event id.
    keys = [(r["decided_at_us"], r["event_id"]) for r in rows]
    assert keys == sorted(keys, reverse=True)
    error_of(api.get("/v1/decisions", params={"decision": "maybe"}), 422, "mamori.api.invalid_request")


def test_list_filters_by_time_with_offsets(api: httpx.Client, history: dict[str, Any]) -> None:
    acct, t0, events = history["account"], history["t0"], history["events"]

    def occurred(e: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(e["occurred_at"])

    since, until = t0 + timedelta(hours=6), t0 + timedelta(hours=12)
    expected = sorted(e["id"] for e in events if since <= occurred(e) < until)
    for fmt in (lambda d: d.astimezone(JST).isoformat(), lambda d: d.astimezone(UTC).isoformat(),
                lambda d: d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                lambda d: d.astimezone(timezone(timedelta(hours=-5))).isoformat()):
        rows = decisions_of(api, account_id=acct, since=fmt(since), until=fmt(until))
        assert sorted(r["event_id"] for r in rows) == expected
    assert decisions_of(api, account_id=acct, since=ts(NOW + timedelta(days=1))) == []
    # Written into the URL by hand, '+09:00' is not percent-encoded (and '+' means a space there).
    raw = f"/v1/decisions?account_id={acct}&since={ts(since)}&until={ts(until)}&limit=1000"
    assert "+09:00" in raw
    r = api.get(raw)
    assert r.status_code == 200, r.text
    assert sorted(d["event_id"] for d in r.json()["decisions"]) == expected
    for name in ("since", "until"):
        err = error_of(api.get("/v1/decisions", params={name: "2026-01-01T00:00:00"}), 422,
                       "mamori.api.invalid_request")
        assert err["details"]["field"] == name
        err = error_of(api.get("/v1/decisions", params={name: "last tuesday"}), 422, "mamori.api.invalid_request")
        assert err["details"]["field"] == name


@pytest.mark.parametrize("limit", [1, 4, 7, 29])
def test_pagination_visits_every_decision_once(api: httpx.Client, history: dict[str, Any], limit: int) -> None:
    acct, events = history["account"], history["events"]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"account_id": acct, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/v1/decisions", params=params).json()
        assert len(page["decisions"]) <= limit
        seen += [d["event_id"] for d in page["decisions"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == len(events)
    assert set(seen) == {e["id"] for e in events}
    assert pages >= len(events) // limit
    error_of(api.get("/v1/decisions", params={"cursor": "%%%not-a-cursor"}), 422, "mamori.api.invalid_request")
    error_of(api.get("/v1/decisions", params={"limit": 0}), 422, "mamori.api.invalid_request")


def test_out_of_range_cursors_are_422(api: httpx.Client) -> None:
    for raw in (b'[100000000000000000000000000000, "x"]', b'[-1, "x"]', b'[true, "x"]', b'[1, 2]', b'{"a": 1}'):
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        err = error_of(api.get("/v1/decisions", params={"cursor": cursor}), 422, "mamori.api.invalid_request")
        assert err["details"]["field"] == "cursor"
    for cursor in (str(2**63), str(2**70), "0", "x"):
        error_of(api.get("/v1/alerts", params={"cursor": cursor}), 422, "mamori.api.invalid_request")


def test_unknown_decision_is_404(api: httpx.Client) -> None:
    err = error_of(api.get("/v1/decisions/no-such-event-id"), 404, "mamori.api.not_found")
    assert "no-such-event-id" in err["message"]


def test_event_ids_with_slashes_can_be_looked_up(api: httpx.Client) -> None:
    ev = event("order", id=f"oms/{uuid.uuid4().hex}/1+2=3")
    body = api.post("/v1/decisions", json=ev).json()
    r = api.get(f"/v1/decisions/{ev['id']}")
    assert r.status_code == 200, r.text
    assert r.json() == body


def test_alerts_list_held_and_blocked_events(api: httpx.Client, history: dict[str, Any]) -> None:
    acct = history["account"]
    alerts = api.get("/v1/alerts", params={"account_id": acct, "limit": 1000}).json()["alerts"]
    blocked = {d["event_id"] for d in decisions_of(api, account_id=acct) if d["decision"] in ("hold", "block")}
    assert blocked
    assert {a["event_id"] for a in alerts} == blocked
    assert all(a["decision"] in ("hold", "block") and a["status"] == "open" for a in alerts)
    ids = [a["id"] for a in alerts]
    assert ids == sorted(ids, reverse=True)
    # Paging through alerts with the numeric cursor.
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"account_id": acct, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/alerts", params=params).json()
        seen += [a["id"] for a in page["alerts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert api.get("/v1/alerts", params={"account_id": acct, "status": "closed"}).json()["alerts"] == []
    error_of(api.get("/v1/alerts", params={"status": "NOT VALID"}), 422, "mamori.api.invalid_request")


def test_secrets_never_reach_the_log(srv: RunningServer) -> None:
    key = create_key(srv, "events:write", name="log check")
    with httpx.Client(base_url=srv.url, trust_env=False) as anon:
        assert anon.post("/v1/decisions", json=event("logout"), headers={"Authorization": f"Bearer {key}"}
                         ).status_code == 200
        # Failed attempts with real-looking keys are logged nowhere either.
        for headers in [*_bad_headers(srv.admin_key), *_bad_headers(key)]:
            anon.get("/v1/decisions", headers=headers)
            anon.post("/v1/rulesets/reload", headers=headers)
        anon.post("/v1/rulesets/reload", headers={"Authorization": f"Bearer {key}"})  # 403
    log = srv.log()
    assert "initial-api-key" in log  # the log names the file ...
    assert len(SECRETS) >= 2
    for key in SECRETS:
        secret = key.split("_", 2)[2]
        assert secret not in log  # ... never the key
        assert key not in log


# -- rule sets ---------------------------------------------------------------------------------------
HOT_RULE = """
rules:
  - id: HOT-001
    version: 1
    description: Logins of the hot account are refused
    events: [login]
    when: event.account_id == "acct-hot"
    action: block
    tags: [test]
"""


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(builtin_rules_path(), target)
    return target


@pytest.fixture
def reload_srv(tmp_path: Path, rules_dir: Path) -> Iterator[RunningServer]:
    # Automatic reloading off, so that only the API call reloads.
    server = start_server(tmp_path / "data", rules=rules_dir, env={"MAMORI_RULES_RELOAD_INTERVAL_S": "0"})
    try:
        yield server
    finally:
        server.stop()


def _login(api: httpx.Client, account: str) -> dict[str, Any]:
    r = api.post("/v1/decisions", json=event("login", account=account))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.mark.slow
def test_rule_hot_reload_and_compile_errors(reload_srv: RunningServer, rules_dir: Path) -> None:
    admin = create_key(reload_srv, "rules:admin", "events:write", "decisions:read", name="rules")
    with reload_srv.client(admin) as api:
        before = api.get("/v1/rulesets/active").json()["active"]["identity"]
        assert _login(api, "acct-hot")["decision"] == "allow"
        unchanged = api.post("/v1/rulesets/reload")
        assert unchanged.status_code == 200
        assert unchanged.json() == {"changed": False, "active": before}

        (rules_dir / "hot.yaml").write_text(HOT_RULE, encoding="utf-8")
        r = api.post("/v1/rulesets/reload")
        assert r.status_code == 200, r.text
        assert r.json()["changed"] is True
        hot_identity = r.json()["active"]
        assert hot_identity != before
        hot = _login(api, "acct-hot")
        assert hot["decision"] == "block"
        assert [x["id"] for x in hot["rules"]] == ["HOT-001"]
        assert hot["ruleset"] == hot_identity
        assert _login(api, "acct-cold")["decision"] == "allow"
        assert any(x["id"] == "HOT-001" for x in api.get("/v1/rulesets/active").json()["active"]["rules"])

        # A broken file: 422 with the place of the problem; the old rule set keeps deciding.
        (rules_dir / "broken.yaml").write_text(
            "rules:\n  - id: BROKEN-001\n    version: 1\n    description: broken\n    events: [login]\n"
            "    when: event.result == \n    score: 10\n", encoding="utf-8")
        bad = api.post("/v1/rulesets/reload")
        err = error_of(bad, 422, "mamori.rules.compile_error")
        details = err["details"] if isinstance(err["details"], list) else [err["details"]]
        place = next(d for d in details if d.get("file") == "broken.yaml")
        assert place["line"] == 6
        assert place["column"] >= 11
        assert "broken.yaml:6:" in err["message"]
        assert api.get("/healthz").json()["ruleset"] == hot_identity
        assert _login(api, "acct-hot")["decision"] == "block"

        # A file that is not text at all is a compile error too, not a crash.
        (rules_dir / "broken.yaml").write_bytes(b"rules: \xff\xfe\x00\x81")
        err = error_of(api.post("/v1/rulesets/reload"), 422, "mamori.rules.compile_error")
        assert "broken.yaml" in err["message"]
        assert _login(api, "acct-hot")["decision"] == "block"

        # Fixed: the reload goes through and the hot rule is gone again.
        (rules_dir / "broken.yaml").unlink()
        (rules_dir / "hot.yaml").unlink()
        r = api.post("/v1/rulesets/reload")
        assert r.json() == {"changed": True, "active": before}
        assert _login(api, "acct-hot")["decision"] == "allow"
    assert_healthy(reload_srv)
    assert "Traceback" not in reload_srv.log()


WINDOW_RULE = """
features:
  acct_logouts_1h:
    aggregate: count
    events: [logout]
    by: account
    window: 1h
rules:
  - id: HOT-LOGOUTS-001
    version: 1
    description: Many logouts in an hour
    events: [logout]
    when: acct_logouts_1h >= 4
    score: 45
    tags: [test]
"""


@pytest.mark.slow
def test_rule_files_are_watched_and_new_windows_backfilled(tmp_path: Path, rules_dir: Path) -> None:
    server = start_server(tmp_path / "data", rules=rules_dir, env={"MAMORI_RULES_RELOAD_INTERVAL_S": "0.2"})
    try:
        acct = uid("watched")
        with server.client() as api:
            for i in range(3):
                assert api.post("/v1/decisions", json=event("logout", account=acct,
                                                             at=NOW - timedelta(minutes=30 - i))).status_code == 200
            before = api.get("/healthz").json()["ruleset"]
            (rules_dir / "hot.yaml").write_text(WINDOW_RULE, encoding="utf-8")
            deadline = time.monotonic() + 10
            while api.get("/healthz").json()["ruleset"] == before and time.monotonic() < deadline:
                time.sleep(0.1)
            assert api.get("/healthz").json()["ruleset"] != before, server.log()[-3000:]
            # The new window was filled from stored history: the 4th logout fires the rule.
            body = api.post("/v1/decisions", json=event("logout", account=acct, at=NOW - timedelta(minutes=20))).json()
            fired = {r["id"]: r for r in body["rules"]}
            assert "HOT-LOGOUTS-001" in fired, body
            assert fired["HOT-LOGOUTS-001"]["values"]["acct_logouts_1h"] == 4
            assert body["decision"] == "challenge"
            # A broken edit is logged once and the server keeps the working rule set.
            (rules_dir / "hot.yaml").write_text(WINDOW_RULE.replace(">= 4", ">= "), encoding="utf-8")
            time.sleep(1.0)
            active = api.get("/healthz").json()["ruleset"]
            assert active != before
            assert server.log().count("rule set not reloaded") == 1, server.log()[-3000:]
            assert "HOT-LOGOUTS-001" in {r["id"] for r in api.post(
                "/v1/decisions", json=event("logout", account=acct, at=NOW - timedelta(minutes=19))).json()["rules"]}
    finally:
        server.stop()
    assert "Traceback" not in server.log()


SENDERS = 8


@pytest.mark.slow
def test_reloads_under_load_keep_every_window_complete(reload_srv: RunningServer, rules_dir: Path) -> None:
    """Rule sets swapped back and forth while events stream in: no request fails, and a window that
    is (re)created by a reload is backfilled with every event decided before the swap."""
    acct = uid("busy")
    start = datetime.now(UTC) - timedelta(minutes=50)
    sent: list[int] = []

    done = asyncio.Event()

    async def sender(http: httpx.AsyncClient, worker: int) -> None:
        for k in range(40):
            n = worker * 1000 + k
            r = await http.post("/v1/decisions", json=event(
                "logout", account=acct, at=start + timedelta(milliseconds=n)))
            assert r.status_code == 200, r.text
            sent.append(n)

    async def reloader(http: httpx.AsyncClient) -> list[bool]:
        changed = []
        hot = rules_dir / "hot.yaml"
        i = 0
        while not (done.is_set() and i % 2 == 1):  # toggle until the senders are done; end with the rule
            if i % 2 == 0:
                hot.write_text(WINDOW_RULE, encoding="utf-8")
            else:
                hot.unlink()
            r = await http.post("/v1/rulesets/reload")
            assert r.status_code == 200, r.text
            changed.append(r.json()["changed"])
            i += 1
        return changed

    async def senders(http: httpx.AsyncClient) -> None:
        await asyncio.gather(*(sender(http, w) for w in range(SENDERS)))
        done.set()

    async def run() -> list[bool]:
        async with httpx.AsyncClient(base_url=reload_srv.url, headers=reload_srv.headers(), trust_env=False,
                                     timeout=30, limits=httpx.Limits(max_connections=SENDERS + 2)) as http:
            changed, _ = await asyncio.gather(reloader(http), senders(http))
        return changed  # type: ignore[no-any-return]

    # Some history first, so that a backfill takes long enough to overlap with live events.
    with reload_srv.client() as api:
        for b in range(4):
            r = api.post("/v1/events", json={"events": [event("order", at=start + timedelta(seconds=b))
                                                        for _ in range(1000)]})
            assert r.status_code == 200, r.text
    changed = asyncio.run(run())
    assert len(changed) >= 3 and all(changed), changed
    assert len(sent) == SENDERS * 40
    with reload_srv.client() as api:
        body = api.post("/v1/decisions", json=event("logout", account=acct,
                                                     at=start + timedelta(minutes=1))).json()
    fired = {r["id"]: r for r in body["rules"]}
    assert fired["HOT-LOGOUTS-001"]["values"]["acct_logouts_1h"] == SENDERS * 40 + 1, body
    assert "Traceback" not in reload_srv.log()


@pytest.mark.slow
def test_sighup_reloads_the_rule_files(reload_srv: RunningServer, rules_dir: Path) -> None:
    with reload_srv.client() as api:
        before = api.get("/healthz").json()["ruleset"]
        (rules_dir / "hot.yaml").write_text(HOT_RULE, encoding="utf-8")
        os.kill(reload_srv.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while api.get("/healthz").json()["ruleset"] == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert api.get("/healthz").json()["ruleset"] != before
        assert _login(api, "acct-hot")["decision"] == "block"
        # A broken file on SIGHUP is logged; the server keeps running the last good rule set.
        (rules_dir / "hot.yaml").write_text(HOT_RULE.replace('== "acct-hot"', "=="), encoding="utf-8")
        os.kill(reload_srv.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "rule set not reloaded" not in reload_srv.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "hot.yaml:" in reload_srv.log()
        assert _login(api, "acct-hot")["decision"] == "block"
    assert_healthy(reload_srv)


def test_unlock_needs_the_accounts_scope_is_audited_and_ends_a_permanent_lock(srv: RunningServer) -> None:
    """Given a permanently locked account, when an operator with accounts:admin unlocks it, then the
    next login from the same unknown device is no longer blocked and the audit log names the action."""
    server = srv
    account = "acct-unlock"
    with server.client(server.admin_key) as c:
        def login(i: int, result: str) -> dict[str, Any]:
            r = c.post("/v1/decisions", json={
                "id": f"unl-{i}", "type": "login", "account_id": account, "result": result, "method": "password",
                "ip": "3.112.5.5", "device_id": "dev-attacker",
                "occurred_at": f"2026-03-02T0{i // 60}:{i % 60:02d}:00+00:00"})
            assert r.status_code == 200, r.text
            return r.json()
        minute = 0
        for lock in range(3):  # three locks within 12 h: the third is permanent
            for _ in range(5):
                login(minute, "failure")
                minute += 1
            minute += 60 * (2 ** lock) - 4 if lock < 2 else 0
        assert "LOGIN-LOCK-001" in [r["id"] for r in login(minute + 1, "success")["rules"]]
        bad = c.post(f"/v1/accounts/{account}/unlock", json={"operator_id": "op-1", "reason": "because"})
        assert bad.status_code == 422
    reader = run_cli("keys", "create", "--name", "reader", "--scope", "decisions:read",
                     data_dir=server.data_dir).stdout.strip()
    with server.client(reader) as c:
        assert c.post(f"/v1/accounts/{account}/unlock",
                      json={"operator_id": "op-1", "reason": "reidentified"}).status_code == 403
    with server.client(server.admin_key) as c:
        ok = c.post(f"/v1/accounts/{account}/unlock",
                    json={"operator_id": "op-1", "reason": "reidentified", "reference": "CASE-9"})
        assert ok.status_code == 200 and ok.json()["unlocked"] is True
        after = c.post("/v1/decisions", json={
            "id": "unl-after", "type": "login", "account_id": account, "result": "success", "method": "password",
            "ip": "3.112.5.5", "device_id": "dev-attacker", "occurred_at": "2026-03-02T12:00:00+00:00"}).json()
        assert "LOGIN-LOCK-001" not in [r["id"] for r in after["rules"]]
    audit = run_cli("audit", "verify", data_dir=server.data_dir).stdout
    assert "chain intact" in audit


def test_the_decision_fast_path_renders_errors_like_every_other_endpoint(srv: RunningServer) -> None:
    """Given the ASGI fast path that serves POST /v1/decisions, when a request is malformed, too large
    or unauthenticated, then the error has the same shape and status as on the other endpoints."""
    with httpx.Client(base_url=srv.url, timeout=10) as raw:
        assert raw.post("/v1/decisions", content=b"{}").json()["error"]["code"] == "mamori.auth.unauthenticated"
    with srv.client(srv.admin_key) as c:
        bad = c.post("/v1/decisions", content=b"{not json")
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "mamori.events.invalid"
        huge = c.post("/v1/decisions", content=b" " * (5 * 1024 * 1024))
        assert huge.status_code == 422 and huge.json()["error"]["details"]["field"] == "(body)"
        assert c.get("/v1/decisions/does-not-exist").status_code == 404  # other routes still reach FastAPI
        assert c.post("/v1/decisions", json=event("logout")).headers["content-type"] == "application/json"


def test_not_me_freezes_the_account_labels_its_alerts_and_is_audited(srv: RunningServer) -> None:
    """Given a takeover whose withdrawal was held, when the customer's app reports "this was not me",
    then every further action is blocked, the account's open alerts are labelled, and the audit log
    records it; an operator unlock after re-identification lifts the freeze."""
    account = f"acct-notme-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    with srv.client(srv.admin_key) as c:
        for i in range(6):
            c.post("/v1/decisions", json=event("login", account=account, at=now - timedelta(days=3, hours=i),
                                               method="passkey", ip="153.156.10.20", device_id="home"))
        c.post("/v1/decisions", json=event("login", account=account, at=now - timedelta(minutes=30),
                                           method="password", ip="3.112.5.5", device_id="attacker"))
        c.post("/v1/decisions", json=event("settings_change", account=account, at=now - timedelta(minutes=20),
                                           setting="withdrawal_account", ip="3.112.5.5", device_id="attacker"))
        held = c.post("/v1/decisions", json=event("fiat_withdrawal", account=account, at=now - timedelta(minutes=10),
                                                  ip="3.112.5.5", device_id="attacker")).json()
        assert held["decision"] in ("hold", "block")
        r = c.post(f"/v1/accounts/{account}/not-me", json={"reference": held["event_id"]})
        assert r.status_code == 200 and r.json()["frozen"] is True and r.json()["alerts_labelled"] >= 1
        alerts = c.get("/v1/alerts", params={"account_id": account}).json()["alerts"]
        assert alerts and all(a["status"] == "reported_takeover" for a in alerts)
        blocked = c.post("/v1/decisions", json=event("login", account=account, at=datetime.now(UTC) + timedelta(seconds=1),
                                                     method="passkey", ip="153.156.10.20", device_id="home")).json()
        assert blocked["decision"] == "block" and "ACCT-FROZEN-001" in [x["id"] for x in blocked["rules"]]
        assert c.post(f"/v1/accounts/{account}/unlock", json={"operator_id": "op-1", "reason": "reidentified"}).status_code == 200
        after = c.post("/v1/decisions", json=event("login", account=account, at=datetime.now(UTC) + timedelta(seconds=2),
                                                   method="passkey", ip="153.156.10.20", device_id="home")).json()
        assert "ACCT-FROZEN-001" not in [x["id"] for x in after["rules"]]
    assert "chain intact" in run_cli("audit", "verify", data_dir=srv.data_dir).stdout
