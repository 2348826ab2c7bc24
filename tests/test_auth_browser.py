"""Passkeys end to end in a real browser: Debian's Chromium (Playwright, CDP virtual authenticator)
against a real ``mamori serve`` on loopback, through mamori's own login pages and script.

The journey: a customer in transition signs in with password + TOTP, enrols a passkey, signs out,
signs in again by passkey autofill (conditional mediation), approves a withdrawal bound to its
amount and destination; the trading back end then sees an altered or replayed approval refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pyotp
import pytest
from playwright.sync_api import Page

from browser import VirtualAuthenticator, chromium_fixture, new_page_fixture  # noqa: F401
from server import RunningServer, free_port, start_server

PASSWORD = "Kabuto-yama 2026 autumn!"
# Headless Chromium says "HeadlessChrome" in its User-Agent, which mamori's LOGIN-BOT-001 rule rightly
# challenges as automation: the tests browse as the desktop Chrome a customer would use.
DESKTOP_CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/156.0.0.0 Safari/537.36")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    port = free_port()
    with start_server(tmp_path_factory.mktemp("browser"), port=port,
                      env={"MAMORI_AUTH_ORIGIN": f"http://localhost:{port}"}) as running:
        yield running


def base(server: RunningServer) -> str:
    return f"http://localhost:{server.port}"


def new_customer(server: RunningServer) -> tuple[str, str, str]:
    account = f"C-{uuid.uuid4().hex[:10]}"
    admin = server.client()
    assert admin.post("/v1/auth/customers", json={"account_id": account, "login_id": f"id-{account}",
                                                  "password": PASSWORD, "transition_days": 30}).status_code == 201
    secret = admin.post(f"/v1/auth/customers/{account}/totp").json()["secret"]
    return account, f"id-{account}", secret


def enter_password_and_totp(page: Page, server: RunningServer, login_id: str, secret: str) -> None:
    page.goto(f"{base(server)}/auth/login")
    page.fill("#login_id", login_id)
    page.click("#password-section summary")
    page.fill("#password", PASSWORD)
    page.click("#password-button")
    page.wait_for_selector("#totp-form:not([hidden])")
    page.fill("#totp", pyotp.TOTP(secret).now())
    page.click("#totp-button")


def sign_in_with_password_and_totp(page: Page, server: RunningServer, login_id: str, secret: str) -> None:
    enter_password_and_totp(page, server, login_id, secret)
    page.wait_for_url(f"{base(server)}/auth/account")


def enrol_passkey(page: Page, name: str) -> None:
    page.fill("#passkey-name", name)
    page.click("#enrol-button")
    page.wait_for_selector(f"#passkeys li .name:text('{name}')")


def test_enrol_then_sign_in_by_autofill_then_approve_a_bound_withdrawal(server: RunningServer, new_page: Any) -> None:
    account, login_id, secret = new_customer(server)
    page: Page = new_page(locale="ja-JP", user_agent=DESKTOP_CHROME)
    authenticator = VirtualAuthenticator(page).add()
    sign_in_with_password_and_totp(page, server, login_id, secret)
    assert page.locator("html").get_attribute("lang") == "ja"
    enrol_passkey(page, "ノートPC")
    [credential] = authenticator.credentials()
    assert credential["isResidentCredential"] and credential["rpId"] == "localhost"
    admin = server.client()
    assert admin.get(f"/v1/auth/customers/{account}").json()["passkeys"][0]["name"] == "ノートPC"

    page.click("#logout-button")
    page.wait_for_url(f"{base(server)}/auth/login")
    # The login page starts passkey autofill on load; the virtual authenticator answers it.
    page.wait_for_url(f"{base(server)}/auth/account")
    assert authenticator.credentials()[0]["signCount"] >= 1
    decisions = admin.get("/v1/decisions", params={"account_id": account}).json()["decisions"]
    assert any(d["event_type"] == "login" for d in decisions)

    operation = {"kind": "withdrawal", "amount": "250000", "currency": "JPY", "destination": "SMBC-123-7654321"}
    stepup = admin.post("/v1/auth/stepups", json={"account_id": account, "operation": operation}).json()
    approvals: list[bytes] = []
    page.on("request", lambda r: approvals.append(r.post_data_buffer or b"") if r.url.endswith("/approve") else None)
    page.goto(f"{base(server)}{stepup['page']}")
    assert page.locator("[data-field=amount]").inner_text() == "250000"
    assert page.locator("[data-field=destination]").inner_text() == "SMBC-123-7654321"
    page.click("#stepup-button")
    page.wait_for_selector("#stepup[data-status=approved]")
    assert admin.get(f"/v1/auth/stepups/{stepup['id']}", params={"account_id": account}).json()["status"] == "approved"

    # Replaying the browser's approval (same signed assertion) is refused.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    replay = httpx.post(f"{server.url}/auth/api/stepup/{stepup['id']}/approve", content=approvals[0], cookies=cookies,
                        headers={"origin": base(server), "content-type": "application/json"}, trust_env=False)
    assert replay.status_code == 409
    consume = f"/v1/auth/stepups/{stepup['id']}/consume"
    assert admin.post(consume, json={"account_id": account,
                                     "operation": {**operation, "amount": "2500000"}}).status_code == 409
    assert admin.post(consume, json={"account_id": account, "operation": operation}).status_code == 200
    assert admin.post(consume, json={"account_id": account, "operation": operation}).status_code == 409


def test_a_passkey_made_for_another_origin_cannot_sign_in(server: RunningServer, new_page: Any) -> None:
    """The phishing case in the browser: an assertion's client data names the origin the browser saw,
    so one obtained on a look-alike origin is refused by mamori."""
    _, login_id, secret = new_customer(server)
    page: Page = new_page(user_agent=DESKTOP_CHROME)
    VirtualAuthenticator(page).add()
    sign_in_with_password_and_totp(page, server, login_id, secret)
    enrol_passkey(page, "phone")
    options = page.evaluate("""async () => (await (await fetch('/auth/api/passkey/options', {method: 'POST',
        headers: {'Content-Type': 'application/json'}, body: '{}'})).json())""")
    credential = page.evaluate("""async (start) => {
        const cred = await navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(start.publicKey)});
        return cred.toJSON();
    }""", options)
    client_data = orjson.loads(_b64(credential["response"]["clientDataJSON"]))
    assert client_data["origin"] == base(server)
    forged = {**client_data, "origin": "https://mamori-login.example"}
    credential["response"]["clientDataJSON"] = _unb64(orjson.dumps(forged))
    r = httpx.post(f"{server.url}/auth/api/passkey/login", trust_env=False,
                   headers={"origin": base(server), "content-type": "application/json"},
                   content=orjson.dumps({"flow": options["flow"], "credential": credential}))
    assert r.status_code == 400 and r.json()["error"]["code"] == "mamori.webauthn.rejected"


def test_pages_in_english_and_without_passkey_support_messages(server: RunningServer, new_page: Any) -> None:
    page: Page = new_page(locale="en-US", user_agent=DESKTOP_CHROME)
    page.goto(f"{base(server)}/auth/login")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Sign in"
    page.click("a.lang")
    assert page.locator("html").get_attribute("lang") == "ja"
    # Every control has a label (accessibility): inputs are named by their <label for>.
    for field in ("#login_id", "#password", "#totp"):
        assert page.locator(f"label[for={field[1:]}]").count() == 1


def _b64(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _unb64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_a_headless_automation_browser_is_challenged_and_cannot_finish_with_password_and_totp(
        server: RunningServer, new_page: Any) -> None:
    """The engine's automation rule at work: the same customer, same factors, but a User-Agent that says
    HeadlessChrome (as phishing kits' relay browsers often do) gets no session without a passkey."""
    _, login_id, secret = new_customer(server)
    page: Page = new_page()
    assert "HeadlessChrome" in page.evaluate("navigator.userAgent")
    enter_password_and_totp(page, server, login_id, secret)
    page.wait_for_selector("#error:not([hidden])")
    assert page.locator("#error").get_attribute("data-code") == "mamori.login.passkey_required"
    assert page.url.startswith(f"{base(server)}/auth/login")
