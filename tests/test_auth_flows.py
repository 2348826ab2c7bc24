"""The login service end to end over HTTP against a real ``mamori serve`` on loopback, with a
software passkey authenticator (tests/softauthn.py); the browser tests drive Chromium instead."""

from __future__ import annotations

import concurrent.futures
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyotp
import pytest

from mamori.bench.softauthn import SoftAuthenticator
from server import RunningServer, free_port, start_server

PASSWORD = "Kabuto-yama 2026 autumn!"
RP_CALLBACK = "http://127.0.0.1:9/oidc/callback"  # never contacted: the test reads the redirect itself


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    port = free_port()
    data = tmp_path_factory.mktemp("auth")
    clients = data / "oidc-clients.yaml"
    clients.write_text(f"""clients:
  - client_id: trading-site
    name: Trading site
    token_endpoint_auth_method: none
    redirect_uris: ["{RP_CALLBACK}"]
""", encoding="utf-8")
    # The tests speak for many customers from one loopback address: as a firm's reverse proxy would,
    # they name each customer's address in X-Forwarded-For (trusted from 127.0.0.1 only here).
    with start_server(data, port=port, env={"MAMORI_AUTH_ORIGIN": f"http://localhost:{port}",
                                            "MAMORI_AUTH_TRUSTED_PROXIES": "127.0.0.1/32",
                                            "MAMORI_OIDC_CLIENTS_PATH": str(clients)}) as running:
        yield running


def customer_ip() -> str:
    """A fresh address in a Japanese consumer ISP's range (NTT, 153.128.0.0/10) per browser."""
    n = uuid.uuid4().int
    return f"153.{156 + n % 8}.{(n >> 8) % 256}.{1 + (n >> 16) % 250}"


def origin(server: RunningServer) -> str:
    return f"http://localhost:{server.port}"


class Customer:
    """A customer's browser: its own cookie jar (device id, session) and passkey authenticator."""

    def __init__(self, server: RunningServer, account_id: str, login_id: str) -> None:
        self.server = server
        self.account_id = account_id
        self.login_id = login_id
        self.ip = customer_ip()
        self.http = httpx.Client(base_url=server.url, trust_env=False, timeout=30,
                                 headers={"x-forwarded-for": self.ip})
        self.http.get("/auth/login")  # receives a device cookie
        self.authenticator = SoftAuthenticator(origin(server))
        self.totp_secret: str | None = None
        self.totp_uses = 0

    def post(self, path: str, body: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
        return self.http.post(path, content=orjson.dumps(body or {}),
                              headers={"origin": origin(self.server), "content-type": "application/json", **headers})

    def password_login(self, password: str = PASSWORD) -> httpx.Response:
        r = self.post("/auth/api/password/login", {"login_id": self.login_id, "password": password})
        if r.status_code == 200 and r.json().get("next") == "totp":
            assert self.totp_secret is not None
            # A code is accepted once (RFC 6238 §5.2): a second login within 30 s uses the next step's
            # code, which the server accepts as clock drift.
            self.totp_uses += 1
            code = pyotp.TOTP(self.totp_secret).at(time.time() + 30 * (self.totp_uses - 1))
            r = self.post("/auth/api/totp", {"flow": r.json()["flow"], "code": code})
        return r

    def enrol(self, name: str = "iPhone") -> httpx.Response:
        start = self.post("/auth/api/enrol/options")
        assert start.status_code == 200, start.text
        credential = self.authenticator.create(start.json()["publicKey"])
        return self.post("/auth/api/enrol", {"flow": start.json()["flow"], "credential": credential, "name": name})

    def passkey_login(self, **get_kwargs: Any) -> httpx.Response:
        start = self.post("/auth/api/passkey/options").json()
        credential = self.authenticator.get(start["publicKey"], **get_kwargs)
        return self.post("/auth/api/passkey/login", {"flow": start["flow"], "credential": credential})

    def signed_in(self) -> bool:
        r = self.http.get("/auth/account", follow_redirects=False)
        return r.status_code == 200


def new_customer(server: RunningServer, *, totp: bool = True, transition_days: int | None = 30) -> Customer:
    account = f"C-{uuid.uuid4().hex[:10]}"
    admin = server.client()
    r = admin.post("/v1/auth/customers", json={"account_id": account, "login_id": f"login-{account}",
                                                "password": PASSWORD, "transition_days": transition_days})
    assert r.status_code == 201, r.text
    customer = Customer(server, account, f"login-{account}")
    if totp:
        customer.totp_secret = admin.post(f"/v1/auth/customers/{account}/totp").json()["secret"]
    return customer


def enrolled_customer(server: RunningServer) -> Customer:
    customer = new_customer(server)
    login = customer.password_login()
    assert login.status_code == 200, login.text
    r = customer.enrol()
    assert r.status_code == 200, r.text
    return customer


def login_events(server: RunningServer, account_id: str) -> list[dict[str, Any]]:
    with sqlite3.connect(server.data_dir / "mamori.db") as db:
        rows = db.execute("SELECT payload FROM events WHERE account_id = ? AND event_type = 'login'",
                          (account_id,)).fetchall()
    return [orjson.loads(r[0]) for r in rows]


def test_password_then_totp_creates_a_session_and_a_passkey_login_works(server: RunningServer) -> None:
    customer = new_customer(server)
    first = customer.post("/auth/api/password/login", {"login_id": customer.login_id, "password": PASSWORD})
    assert first.status_code == 200 and first.json()["next"] == "totp"
    assert not customer.signed_in()
    assert customer.password_login().status_code == 200
    assert customer.signed_in()
    assert customer.enrol().status_code == 200
    browser2 = Customer(server, customer.account_id, customer.login_id)
    browser2.authenticator = customer.authenticator
    r = browser2.passkey_login()
    assert r.status_code == 200 and r.json()["redirect"] == "/auth/account"
    assert browser2.signed_in()
    view = server.client().get(f"/v1/auth/customers/{customer.account_id}").json()
    assert view["passkeys"][0]["name"] == "iPhone" and view["passkeys"][0]["last_used_at"] is not None


def test_an_assertion_from_a_phishing_origin_is_rejected(server: RunningServer) -> None:
    customer = enrolled_customer(server)
    victim = Customer(server, customer.account_id, customer.login_id)
    victim.authenticator = customer.authenticator
    r = victim.passkey_login(origin="https://evil.example")
    assert r.status_code == 400 and r.json()["error"]["code"] == "mamori.webauthn.rejected"
    assert "origin" in r.json()["error"]["message"].lower()
    assert not victim.signed_in()


def test_user_verification_is_required(server: RunningServer) -> None:
    customer = enrolled_customer(server)
    customer.authenticator.user_verified = False
    r = customer.passkey_login()
    assert r.status_code == 400 and "verif" in r.json()["error"]["message"].lower()


def test_a_counter_that_does_not_increase_is_rejected_as_a_possible_clone(server: RunningServer) -> None:
    customer = enrolled_customer(server)
    assert customer.passkey_login().status_code == 200
    r = customer.passkey_login(count=customer.authenticator.credentials[0].sign_count)  # same counter again
    assert r.status_code == 400 and "count" in r.json()["error"]["message"].lower()


def test_a_login_challenge_is_single_use(server: RunningServer) -> None:
    customer = enrolled_customer(server)
    start = customer.post("/auth/api/passkey/options").json()
    credential = customer.authenticator.get(start["publicKey"])
    assert customer.post("/auth/api/passkey/login", {"flow": start["flow"], "credential": credential}).status_code == 200
    again = customer.post("/auth/api/passkey/login", {"flow": start["flow"], "credential": credential})
    assert again.status_code == 400


def test_fifty_wrong_passwords_from_elsewhere_do_not_stop_the_owners_passkey_login(server: RunningServer) -> None:
    customer = enrolled_customer(server)
    attacker = Customer(server, customer.account_id, customer.login_id)
    codes = [attacker.post("/auth/api/password/login", {"login_id": customer.login_id,
                                                        "password": f"guess-{i}"}).status_code for i in range(50)]
    assert set(codes) <= {401, 429} and codes.count(401) == 50 - codes.count(429)
    # The right password from the attacker's device is now refused too (the factor is locked for it) ...
    assert attacker.password_login().status_code in (401, 429)
    # ... but the owner's passkey works, and so does the password from the owner's own (known) device.
    owner = Customer(server, customer.account_id, customer.login_id)
    owner.authenticator = customer.authenticator
    assert owner.passkey_login().status_code == 200
    assert customer.password_login().status_code == 200


def test_one_hundred_concurrent_wrong_passwords_evaluate_exactly_the_threshold(server: RunningServer) -> None:
    customer = new_customer(server)

    # A botnet: 100 addresses at once (one address gets only a few attempts in flight at a time).
    def attempt(i: int) -> int:
        with httpx.Client(base_url=server.url, trust_env=False, timeout=60, headers={"x-forwarded-for": customer_ip()},
                          cookies={"mamori_device": "attacker-device-0001"}) as http:
            return http.post("/auth/api/password/login", content=orjson.dumps(
                {"login_id": customer.login_id, "password": f"wrong-{i}"}),
                headers={"origin": origin(server), "content-type": "application/json"}).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=100) as pool:
        codes = list(pool.map(attempt, range(100)))
    assert all(c in (401, 429) for c in codes)
    events = login_events(server, customer.account_id)
    evaluated = [e for e in events if e.get("failure_reason") == "bad_credential"]
    refused = [e for e in events if e.get("failure_reason") == "locked"]
    assert len(evaluated) == 5, [e.get("failure_reason") for e in events]
    assert len(evaluated) + len(refused) == codes.count(401)


def test_policy_refuses_a_password_when_the_transition_is_over(server: RunningServer) -> None:
    customer = new_customer(server, transition_days=None)
    r = customer.post("/auth/api/password/login", {"login_id": customer.login_id, "password": PASSWORD})
    assert r.status_code == 403 and r.json()["error"]["code"] == "mamori.login.passkey_required"
    admin = server.client()
    assert admin.put(f"/v1/auth/customers/{customer.account_id}/transition",
                     json={"until": "2099-01-01"}).json()["fallback_allowed_now"] is True  # capped by max_days
    assert customer.password_login().status_code == 200
    schedule = admin.get("/v1/auth/policy").json()
    assert any(c["account_id"] == customer.account_id for c in schedule["customers_in_transition"])
    assert schedule["policy"]["passkey_required"] == "all"


def test_operation_bound_step_up_cannot_be_altered_or_replayed(server: RunningServer) -> None:
    customer = enrolled_customer(server)
    admin = server.client()
    operation = {"kind": "withdrawal", "amount": "100000", "currency": "JPY", "destination": "MUFG-001-1234567"}
    created = admin.post("/v1/auth/stepups", json={"account_id": customer.account_id, "operation": operation})
    assert created.status_code == 201, created.text
    stepup = created.json()
    assert stepup["page"] == f"/auth/stepup/{stepup['id']}"
    page = customer.http.get(stepup["page"])
    assert page.status_code == 200 and "100000" in page.text and "MUFG-001-1234567" in page.text
    options = customer.post(f"/auth/api/stepup/{stepup['id']}/options").json()
    # An assertion made for another step-up (another challenge) does not approve this one.
    other = admin.post("/v1/auth/stepups", json={"account_id": customer.account_id,
                                                 "operation": {**operation, "amount": "9000000"}}).json()
    other_options = customer.post(f"/auth/api/stepup/{other['id']}/options").json()
    wrong = customer.authenticator.get(other_options["publicKey"])
    assert customer.post(f"/auth/api/stepup/{stepup['id']}/approve", {"credential": wrong}).status_code == 400
    assertion = customer.authenticator.get(options["publicKey"])
    assert customer.post(f"/auth/api/stepup/{stepup['id']}/approve", {"credential": assertion}).json() == {
        "status": "approved"}
    # Replaying the same assertion is refused.
    assert customer.post(f"/auth/api/stepup/{stepup['id']}/approve", {"credential": assertion}).status_code == 409
    consume = f"/v1/auth/stepups/{stepup['id']}/consume"
    altered = admin.post(consume, json={"account_id": customer.account_id, "operation": {**operation, "amount": "100001"}})
    assert altered.status_code == 409 and altered.json()["error"]["code"] == "mamori.stepup.rejected"
    other_dest = admin.post(consume, json={"account_id": customer.account_id,
                                           "operation": {**operation, "destination": "EVIL-999"}})
    assert other_dest.status_code == 409
    same_in_other_form = {**operation, "amount": "100000.00", "currency": "jpy"}
    ok = admin.post(consume, json={"account_id": customer.account_id, "operation": same_in_other_form})
    assert ok.status_code == 200 and ok.json()["status"] == "consumed"
    assert admin.post(consume, json={"account_id": customer.account_id, "operation": operation}).status_code == 409


def test_removing_a_passkey_needs_a_bound_step_up(server: RunningServer) -> None:
    customer = enrolled_customer(server)
    start_first = customer.post("/auth/api/stepup/self", {"operation": {"kind": "mfa_change", "new_value": "passkey:add"}})
    step_id = start_first.json()["id"]
    options = customer.post(f"/auth/api/stepup/{step_id}/options").json()
    approved = customer.post(f"/auth/api/stepup/{step_id}/approve",
                             {"credential": customer.authenticator.get(options["publicKey"])})
    assert approved.status_code == 200
    start = customer.post("/auth/api/enrol/options", {"stepup_id": step_id}).json()
    second = customer.post("/auth/api/enrol", {"flow": start["flow"], "name": "YubiKey",
                                               "credential": customer.authenticator.create(start["publicKey"])})
    assert second.status_code == 200
    first_id = customer.post("/auth/api/enrol/options").json()  # without a step-up: refused
    assert first_id["error"]["code"] == "mamori.stepup.rejected"
    keys = server.client().get(f"/v1/auth/customers/{customer.account_id}").json()["passkeys"]
    target = keys[0]["credential_id"]
    refused = customer.post("/auth/api/passkeys/remove", {"credential_id": target})
    assert refused.status_code == 409
    step = customer.post("/auth/api/stepup/self", {"operation": {"kind": "passkey_remove", "credential_id": target}})
    opts = customer.post(f"/auth/api/stepup/{step.json()['id']}/options").json()
    customer.post(f"/auth/api/stepup/{step.json()['id']}/approve",
                  {"credential": customer.authenticator.get(opts["publicKey"], credential=customer.authenticator.credentials[1])})
    removed = customer.post("/auth/api/passkeys/remove", {"credential_id": target, "stepup_id": step.json()["id"]})
    assert removed.status_code == 200, removed.text
    assert [k["name"] for k in server.client().get(f"/v1/auth/customers/{customer.account_id}").json()["passkeys"]] == [
        "YubiKey"]


def test_cross_origin_requests_are_refused(server: RunningServer) -> None:
    customer = new_customer(server)
    r = customer.post("/auth/api/password/login", {"login_id": customer.login_id, "password": PASSWORD},
                      origin="https://evil.example")
    assert r.status_code == 403 and r.json()["error"]["code"] == "mamori.auth.csrf"
    form = customer.http.post("/auth/api/password/login", data={"login_id": customer.login_id, "password": PASSWORD},
                              headers={"origin": origin(server)})
    assert form.status_code == 403


def test_forwarded_for_is_honoured_only_from_a_trusted_proxy(server: RunningServer, tmp_path: Path) -> None:
    customer = new_customer(server)
    customer.post("/auth/api/password/login", {"login_id": customer.login_id, "password": "wrong"})
    assert {e.get("ip") for e in login_events(server, customer.account_id)} == {customer.ip}
    port = free_port()
    with start_server(tmp_path, port=port, env={"MAMORI_AUTH_ORIGIN": f"http://localhost:{port}"}) as untrusting:
        other = new_customer(untrusting)
        other.post("/auth/api/password/login", {"login_id": other.login_id, "password": "wrong"})
        assert {e.get("ip") for e in login_events(untrusting, other.account_id)} == {"127.0.0.1"}


def test_recovery_after_reidentification_allows_only_passkey_enrolment(server: RunningServer) -> None:
    customer = enrolled_customer(server)
    admin = server.client()
    issued = admin.post(f"/v1/auth/customers/{customer.account_id}/recovery",
                        json={"operator_id": "op-7", "method": "in_person", "reference": "T-100",
                              "remove_passkeys": True})
    assert issued.status_code == 200
    code = issued.json()["recovery_code"]
    assert not customer.signed_in()  # every session ended
    fresh = Customer(server, customer.account_id, customer.login_id)
    assert fresh.post("/auth/api/recover", {"login_id": customer.login_id, "code": "0000-0000-0000-0000"}
                      ).status_code == 401
    r = fresh.post("/auth/api/recover", {"login_id": customer.login_id, "code": code.lower()})
    assert r.status_code == 200
    # The recovery session can enrol a passkey but is no full session (no step-ups, no OIDC).
    assert fresh.post("/auth/api/stepup/self", {"operation": {"kind": "passkey_remove", "credential_id": "x"}}
                      ).status_code == 401
    assert fresh.enrol("new phone").json()["signed_out"] is True
    assert fresh.post("/auth/api/recover", {"login_id": customer.login_id, "code": code}).status_code == 401
    assert fresh.passkey_login().status_code == 200
    with sqlite3.connect(server.data_dir / "mamori.db") as db:
        actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE target = ?", (customer.account_id,))]
    assert "auth.recovery.issue" in actions and "auth.recovery.redeem" in actions and "auth.passkey.add" in actions


def test_customers_can_list_and_end_their_other_sessions(server: RunningServer) -> None:
    customer = enrolled_customer(server)
    other = Customer(server, customer.account_id, customer.login_id)
    other.authenticator = customer.authenticator
    assert other.passkey_login().status_code == 200
    sessions = server.client().get(f"/v1/auth/customers/{customer.account_id}/sessions").json()["sessions"]
    assert len(sessions) == 2
    page = customer.http.get("/auth/account").text
    other_id = next(s["session_id"] for s in sessions if f'data-session-id="{s["session_id"]}"' in page
                    and "この端末" not in page.split(f'data-session-id="{s["session_id"]}"')[1].split("</li>")[0])
    assert customer.post("/auth/api/sessions/end", {"session_id": other_id}).json() == {"ended": 1}
    assert not other.signed_in() and customer.signed_in()


def test_pages_link_only_to_their_own_origin_and_load_nothing_from_elsewhere(server: RunningServer) -> None:
    import re

    customer = enrolled_customer(server)
    pages = ["/auth/login", "/auth/login?lang=en", "/auth/recover", "/auth/account", "/auth/recover?lang=en"]
    for path in pages:
        r = customer.http.get(path)
        assert r.status_code == 200
        assert "default-src 'self'" in r.headers["content-security-policy"]
        for url in re.findall(r'(?:href|src|action)="([^"]*)"', r.text):
            assert url == "data:," or (url.startswith("/") and not url.startswith("//")), (path, url)
        assert "http://" not in r.text and "https://" not in r.text, path
    script = customer.http.get("/auth/static/mamori-auth.js").text
    assert "http://" not in script and "https://" not in script


def test_next_parameter_cannot_redirect_to_another_site(server: RunningServer) -> None:
    customer = enrolled_customer(server)
    for evil in ("https://evil.example/login", "//evil.example", "/\\evil.example"):
        start = customer.post("/auth/api/passkey/options").json()
        r = customer.post("/auth/api/passkey/login", {"flow": start["flow"], "next": evil,
                                                      "credential": customer.authenticator.get(start["publicKey"])})
        assert r.json()["redirect"] == "/auth/account"


def test_bad_input_gets_named_errors_not_crashes(server: RunningServer) -> None:
    customer = new_customer(server)
    assert customer.post("/auth/api/password/login", {"login_id": customer.login_id}).json()["error"]["details"] == {
        "field": "password"}
    r = customer.http.post("/auth/api/passkey/login", content=b"{not json",
                           headers={"origin": origin(server), "content-type": "application/json"})
    assert r.status_code == 422
    start = customer.post("/auth/api/passkey/options").json()
    for junk in (None, "x", {"id": "AAAA"}, {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}):
        r = customer.post("/auth/api/passkey/login", {"flow": start["flow"], "credential": junk})
        assert r.status_code == 400, (junk, r.text)
    admin = server.client()
    bad = admin.post("/v1/auth/stepups", json={"account_id": customer.account_id,
                                               "operation": {"kind": "withdrawal", "amount": "-5"}})
    assert bad.status_code == 422
    assert admin.get("/healthz").status_code == 200


def test_data_dir_holds_no_plaintext_secrets(server: RunningServer) -> None:
    customer = new_customer(server)
    assert customer.password_login().status_code == 200
    raw = (server.data_dir / "mamori.db").read_bytes()
    for wal in Path(server.data_dir).glob("mamori.db-wal"):
        raw += wal.read_bytes()
    assert PASSWORD.encode() not in raw
    assert customer.totp_secret is not None and customer.totp_secret.encode() not in raw
    token = customer.http.cookies.get("mamori_session")
    assert token and token.encode() not in raw


def test_not_me_freezes_ends_sessions_and_only_reidentification_reopens(server: RunningServer) -> None:
    customer = enrolled_customer(server)
    assert customer.signed_in()
    admin = server.client()
    frozen = admin.post(f"/v1/accounts/{customer.account_id}/not-me", json={})
    assert frozen.status_code == 200 and frozen.json()["sessions_ended"] == 1
    assert not customer.signed_in()
    refused = customer.passkey_login()
    assert refused.status_code == 401 and not customer.signed_in()
    issued = admin.post(f"/v1/auth/customers/{customer.account_id}/recovery",
                        json={"operator_id": "op-2", "method": "video_call"}).json()
    assert issued["recovery_code"]
    assert customer.passkey_login().status_code == 200  # the freeze is lifted by the re-identification


def test_a_standard_oidc_client_completes_the_code_flow_with_pkce_after_a_passkey_login(server: RunningServer) -> None:
    import warnings

    with warnings.catch_warnings():
        import authlib.deprecate

        warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
        from authlib.common.security import generate_token
        from authlib.integrations.httpx_client import OAuth2Client
    from joserfc import jwt
    from joserfc.jwk import KeySet

    customer = enrolled_customer(server)
    browser = Customer(server, customer.account_id, customer.login_id)
    browser.authenticator = customer.authenticator
    issuer = origin(server)
    discovery = httpx.get(f"{server.url}/.well-known/openid-configuration", trust_env=False).json()
    assert discovery["issuer"] == issuer and discovery["code_challenge_methods_supported"] == ["S256"]
    local = {"transport": httpx.HTTPTransport(), "trust_env": False}
    rp = OAuth2Client(client_id="trading-site", redirect_uri=RP_CALLBACK, scope="openid",
                      code_challenge_method="S256", token_endpoint_auth_method="none", **local)
    verifier, nonce = generate_token(48), generate_token(20)
    url, _ = rp.create_authorization_url(discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    path = url.replace(issuer, "")
    to_login = browser.http.get(path, follow_redirects=False)
    assert to_login.status_code == 303 and to_login.headers["location"].startswith("/auth/login?next=")
    next_path = httpx.URL(to_login.headers["location"]).params["next"]
    start = browser.post("/auth/api/passkey/options").json()
    done = browser.post("/auth/api/passkey/login", {"flow": start["flow"], "next": next_path,
                                                    "credential": browser.authenticator.get(start["publicKey"])})
    assert done.json()["redirect"] == next_path
    back = browser.http.get(next_path, follow_redirects=False)
    assert back.status_code in (302, 303) and back.headers["location"].startswith(RP_CALLBACK)
    token = rp.fetch_token(f"{server.url}/oidc/token", authorization_response=back.headers["location"],
                           code_verifier=verifier)
    jwks = KeySet.import_key_set(httpx.get(f"{server.url}/oidc/jwks", trust_env=False).json())
    claims = jwt.decode(token["id_token"], jwks, algorithms=["RS256"]).claims
    assert claims["iss"] == issuer and claims["aud"] == "trading-site" and claims["sub"] == customer.account_id
    assert claims["nonce"] == nonce and claims["acr"] == "phr" and "mfa" in claims["amr"]
    userinfo = httpx.get(f"{server.url}/oidc/userinfo", trust_env=False,
                         headers={"authorization": f"Bearer {token['access_token']}"})
    assert userinfo.json() == {"sub": customer.account_id}
    # The same code a second time is refused (and revokes what it issued).
    again = httpx.post(f"{server.url}/oidc/token", trust_env=False, data={
        "grant_type": "authorization_code", "code": httpx.URL(back.headers["location"]).params["code"],
        "redirect_uri": RP_CALLBACK, "client_id": "trading-site", "code_verifier": verifier})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert httpx.get(f"{server.url}/oidc/userinfo", trust_env=False,
                     headers={"authorization": f"Bearer {token['access_token']}"}).status_code == 401


def test_a_firms_own_login_service_uses_the_pre_hash_throttle_through_the_api(server: RunningServer) -> None:
    """Credential stuffing against a firm that keeps its own login: it reports login events as usual
    and asks mamori, before hashing, whether the address may try at all."""
    admin = server.client()
    stuffer, neighbour = customer_ip(), customer_ip()
    assert admin.post("/v1/login-throttle/check", json={"ip": stuffer}).json()["allowed"] is True
    events = [{"id": f"stuff-{uuid.uuid4().hex}", "type": "login", "occurred_at": "2026-11-22T10:00:00+09:00",
               "account_id": f"victim-{i}", "ip": stuffer, "result": "failure", "method": "password",
               "failure_reason": "bad_credential"} for i in range(30)]
    assert admin.post("/v1/events", json={"events": events}).status_code == 200
    verdict = admin.post("/v1/login-throttle/check", json={"ip": stuffer}).json()
    assert verdict["allowed"] is False and verdict["retry_after_s"] > 0 and verdict["scope"] == "ip"
    assert admin.post("/v1/login-throttle/check", json={"ip": neighbour.rsplit(".", 2)[0] + ".1.1"}).json()[
        "allowed"] is True
    bad = admin.post("/v1/login-throttle/check", json={"ip": "not-an-ip"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "body.ip"
