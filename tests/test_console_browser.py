"""The console in a real browser: Debian's Chromium (Playwright, CDP virtual authenticator) against a real
``mamori serve`` on loopback holding a simulated attack.

An operator enrols a passkey with the one-time code, is signed in by passkey autofill, opens the
dashboard, the case list, a case and an account timeline in Japanese and in English, works the case
through the page's forms (a comment, a victim contact), and every main page is photographed: each must
render with HTTP 200, its main heading, no page error, no console error and no failed request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from browser import VirtualAuthenticator, chromium_fixture, new_page_fixture  # noqa: F401
from console_client import Watch, create_operator
from mamori.sim import SimParams, simulate
from server import RunningServer, start_server

MIN_PNG_BYTES = 15_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    firm = {"MAMORI_FIRM_NAME_JA": "まもり証券", "MAMORI_FIRM_NAME_EN": "Mamori Securities",
            "MAMORI_SUPPORT_PHONE": "0120-123-456"}  # letters name the firm and its phone number
    with start_server(tmp_path_factory.mktemp("console-browser"), env=firm) as running:
        sim = simulate(SimParams(customers=30, days=4, seed=5, campaigns=4))
        with running.client() as admin:
            for i in range(0, len(sim.events), 500):
                assert admin.post("/v1/events", json={"events": sim.events[i:i + 500]}).status_code == 200
            assert admin.post("/v1/cases/refresh").status_code == 200
        yield running


def base(server: RunningServer) -> str:
    return f"http://localhost:{server.port}"


def enrol_and_sign_in(page: Page, server: RunningServer, login_id: str, role: str) -> Watch:
    code = create_operator(server, login_id, role, name=f"{login_id.title()} Test")
    watch = Watch(page)
    VirtualAuthenticator(page).add()
    page.goto(f"{base(server)}/console/enrol")
    page.fill("#enrol-login", login_id)
    page.fill("#enrol-code", code)
    page.fill("#enrol-name", "業務PC")
    page.click("#enrol-button")
    # Enrolled -> the login page, whose passkey autofill signs the operator in -> the first page.
    page.wait_for_url(f"{base(server)}/console/dashboard")
    assert watch.take() == []
    return watch


def visit(page: Page, watch: Watch, url: str, heading: str, shots: Path, name: str, lang: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == lang
    h1 = page.locator("main h1").first
    assert h1.is_visible() and heading in h1.inner_text(), (url, h1.inner_text())
    path = shots / f"{name}-{lang}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > MIN_PNG_BYTES, (path, path.stat().st_size)
    assert watch.take() == [], url


def test_operator_enrols_signs_in_and_browses_in_both_languages(server: RunningServer, new_page: Any,
                                                                tmp_path: Path) -> None:
    page: Page = new_page(locale="ja-JP")
    watch = enrol_and_sign_in(page, server, "hanako", "supervisor")
    with server.client() as admin:
        cases = admin.get("/v1/cases", params={"kind": "account"}).json()["cases"]
    case = cases[0]
    account = case["key"]
    pages = [("/console/dashboard", "dashboard", {"ja": "ダッシュボード", "en": "Dashboard"}),
             ("/console/cases", "cases", {"ja": "ケース一覧", "en": "Cases"}),
             (f"/console/cases/{case['id']}", "case", {"ja": case["reference"], "en": case["reference"]}),
             (f"/console/accounts/{account}", "account", {"ja": "口座調査", "en": "Account investigation"}),
             ("/console/reports", "reports", {"ja": "月次報告", "en": "Monthly reports"})]
    for lang in ("ja", "en"):
        if lang == "en":
            page.click("header a.lang")  # the switch is remembered in a cookie
            page.wait_for_load_state("networkidle")
            assert watch.take() == []
        for path, name, headings in pages:
            visit(page, watch, f"{base(server)}{path}", headings[lang], tmp_path, name, lang)
    # The timeline shows the decisions with their fired rules and the feature values they read.
    page.goto(f"{base(server)}/console/accounts/{account}")
    assert page.locator("#timeline tbody tr").count() > 0
    assert page.locator("#timeline .rule code").count() > 0

    # Work the case through the page's own forms (JSON API + CSRF header from console.js).
    page.goto(f"{base(server)}/console/cases/{case['id']}")
    page.fill("#comment-form textarea[name=body]", "IP is a hosting provider; calling the customer")
    page.click("#comment-form button[type=submit]")
    page.wait_for_selector("text=IP is a hosting provider; calling the customer")
    page.select_option("#contact-form select[name=channel]", "phone")
    page.fill("#contact-form textarea[name=summary]", "Called the customer; password reset advised")
    page.fill("#contact-form input[name=next_contact_due_at]", "2030-01-15T10:00")
    page.click("#contact-form button[type=submit]")
    page.wait_for_selector("#contacts >> text=Called the customer; password reset advised")
    # The letter to the customer, previewed in both languages: no link anywhere in it.
    for lang_button, phrase in (("日本語", "0120-123-456"), ("English", "Mamori Securities")):
        page.click(f"button[data-letter]:text-is('{lang_button}')")
        expect(page.locator("#letter")).to_contain_text(phrase)
        letter = page.inner_text("#letter")
        assert "http" not in letter and "www." not in letter
    assert watch.take() == []
    with server.client() as admin:
        history = admin.get(f"/v1/cases/{case['id']}").json()["history"]
    assert {"case.comment", "case.contact.add"} <= {h["action"] for h in history if h["actor"] == "operator:hanako"}

    # Bulk action over the selected cases (e.g. a campaign's accounts): assign them in one go.
    page.goto(f"{base(server)}/console/cases?kind=account")
    boxes = page.locator("input[name=case_ids]")
    chosen = [boxes.nth(0).get_attribute("value"), boxes.nth(1).get_attribute("value")]
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.fill("#bulk input[name=assignee]", "hanako")
    with page.expect_navigation():
        page.click("#bulk button[data-bulk-action=assign]")
    for case_id in chosen:
        assert page.locator(f"tr:has(a[href='/console/cases/{case_id}']) td:nth-child(8)").inner_text() == "hanako"
    assert watch.take() == []

    # Sign out: that session is over (the login page's autofill would sign the operator in again at once,
    # so the old cookie is checked directly).
    [old_cookie] = [c for c in page.context.cookies() if c["name"] == "mamori_console"]
    assert old_cookie["httpOnly"] and old_cookie["sameSite"] == "Strict"
    page.click("#logout-button")
    page.wait_for_url(f"{base(server)}/console/login")
    with httpx.Client(base_url=base(server), trust_env=False, cookies={"mamori_console": old_cookie["value"]}) as old:
        assert old.get("/v1/cases").status_code == 401


def test_auditor_verifies_the_chain_and_admin_manages_operators(server: RunningServer, new_page: Any,
                                                                tmp_path: Path) -> None:
    auditor: Page = new_page(locale="en-US")
    watch = enrol_and_sign_in(auditor, server, "kenji", "auditor")
    visit(auditor, watch, f"{base(server)}/console/audit", "Audit log", tmp_path, "audit", "en")
    auditor.click("#verify-button")
    auditor.wait_for_selector("#verify-result[data-state=ok]")
    assert "Chain intact" in auditor.inner_text("#verify-result")
    assert auditor.locator("#audit tbody tr").count() > 10
    # The auditor has no operators page and no write button on cases.
    assert auditor.goto(f"{base(server)}/console/operators").status == 403  # type: ignore[union-attr]
    watch.take()

    admin: Page = new_page(locale="ja-JP")
    admin_watch = enrol_and_sign_in_admin(admin, server)
    visit(admin, admin_watch, f"{base(server)}/console/operators", "オペレーター管理", tmp_path, "operators", "ja")
    admin.fill("#create-operator input[name=login_id]", "yuki")
    admin.fill("#create-operator input[name=name]", "Yuki Tanaka")
    admin.select_option("#create-operator select[name=role]", "analyst")
    admin.click("#create-operator button[type=submit]")
    admin.wait_for_selector("#code-box:not([hidden])")
    assert "yuki" in admin.inner_text("#enrolment-code")
    assert admin_watch.take() == []


def enrol_and_sign_in_admin(page: Page, server: RunningServer) -> Watch:
    """Administrators land on the operators page: the first page their role may open."""
    code = create_operator(server, "root", "admin", name="Admin")
    watch = Watch(page)
    VirtualAuthenticator(page).add()
    page.goto(f"{base(server)}/console/enrol")
    page.fill("#enrol-login", "root")
    page.fill("#enrol-code", code)
    page.click("#enrol-button")
    page.wait_for_url(f"{base(server)}/console/operators")
    assert watch.take() == []
    return watch
