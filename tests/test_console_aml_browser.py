"""The compliance pages in a real browser: Debian's Chromium (Playwright, CDP virtual authenticator) against a
real ``mamori serve`` on loopback.

A compliance officer opens a case, creates a suspicious transaction report draft from it, edits a field of
the 届出票 through the page's form, submits it, and is refused the lock (four eyes: the page says why); a
second compliance officer locks it. The officer also imports a risk list file, screens an address and
starts a funds trace from the pages. Every new page (STR, AML lists, screening, traces, effectiveness)
and the rule management pages are photographed in Japanese and English: each must answer 200, show its
main heading, and leave no page error, console error or failed request behind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from aml_console_seed import CASINO, DEST, WITHDRAWAL_TX, Seeded, seed
from browser import VirtualAuthenticator, chromium_fixture, new_page_fixture  # noqa: F401
from console_client import Watch, create_operator
from mamori.aml.addresses import synthetic_address
from server import RunningServer, start_server

MIN_PNG_BYTES = 15_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with start_server(tmp_path_factory.mktemp("console-aml-browser") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def seeded(server: RunningServer) -> Seeded:
    return seed(server)


def base(server: RunningServer) -> str:
    return f"http://localhost:{server.port}"


def sign_in(page: Page, server: RunningServer, login_id: str, role: str, landing: str) -> Watch:
    """Enrol with the one-time code; the login page's passkey autofill then signs the operator in."""
    code = create_operator(server, login_id, role, name=f"{login_id.title()} Test")
    watch = Watch(page)
    VirtualAuthenticator(page).add()
    page.goto(f"{base(server)}/console/enrol")
    page.fill("#enrol-login", login_id)
    page.fill("#enrol-code", code)
    page.click("#enrol-button")
    page.wait_for_url(f"{base(server)}{landing}")
    assert watch.take() == []
    return watch


def shoot(page: Page, watch: Watch, url: str, heading: str, shots: Path, name: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    page.wait_for_load_state("networkidle")
    h1 = page.locator("main h1").first
    assert h1.is_visible() and heading in h1.inner_text(), (url, h1.inner_text())
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > MIN_PNG_BYTES, (path, path.stat().st_size)
    assert watch.take() == [], url


def test_str_from_a_case_edited_and_locked_by_a_second_officer(server: RunningServer, seeded: Seeded,
                                                                new_page: Any) -> None:
    page: Page = new_page(locale="ja-JP")
    watch = sign_in(page, server, "sakura", "compliance", "/console/dashboard")
    page.goto(f"{base(server)}/console/cases/{seeded.case_id}")
    page.click("#create-str")
    page.wait_for_url(re.compile(r".*/console/str/\d+$"))
    report_url = page.url
    expect(page.locator("#str-state")).to_have_attribute("data-state", "draft")
    expect(page.locator("#auto-drafted")).to_be_visible()

    # Edit one field of the 届出票 and save (PUT with the CSRF token): the page reloads with it.
    page.fill('#filing-form input[name="filing.place"]', "本店（オンライン取引）")
    with page.expect_navigation():
        page.click("#filing-form button[type=submit]")
    expect(page.locator('#filing-form input[name="filing.place"]')).to_have_value("本店（オンライン取引）")
    expect(page.locator("#str-history")).to_contain_text("str.update")
    # A list section through its JSON editor: the customer's name in katakana.
    page.click("details:has(#subjects-form) summary")
    subjects = json.loads(page.input_value("#subjects-form textarea"))
    subjects[0]["name_kana"] = "スズキ イチロウ"
    page.fill("#subjects-form textarea", json.dumps(subjects, ensure_ascii=False))
    with page.expect_navigation():
        page.click("#subjects-form button[type=submit]")
    expect(page.locator("#str-subjects")).to_contain_text("スズキ イチロウ")
    # A bad value is refused with the field's path, and nothing is saved.
    page.click("details:has(#subjects-form) summary")
    subjects[0]["name_kana"] = "suzuki"
    page.fill("#subjects-form textarea", json.dumps(subjects))
    page.click("#subjects-form button[type=submit]")
    expect(page.locator("#error")).to_contain_text("subjects.0.name_kana")
    refused = watch.take()
    assert refused and all("422" in p for p in refused), refused
    with page.expect_navigation():
        page.click("#submit-button")
    expect(page.locator("#str-state")).to_have_attribute("data-state", "submitted")
    expect(page.locator("#four-eyes-warning")).to_be_visible()
    assert watch.take() == []

    # The last editor tries to lock it anyway: refused, and the page says why.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#lock-button")
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_have_attribute("data-code", "mamori.actions.four_eyes")
    expect(error).to_contain_text("最終編集者は確定できません")
    problems = watch.take()
    # The refused call itself is the only problem (Chromium also logs it to the console).
    assert [p for p in problems if p.startswith("HTTP")] == [f"HTTP 403: {base(server)}/v1/str/" +
                                                               report_url.rsplit("/", 1)[1] + "/lock"], problems
    assert all("403" in p for p in problems), problems
    expect(page.locator("#str-state")).to_have_attribute("data-state", "submitted")

    # A second compliance officer locks it.
    other: Page = new_page(locale="en-US")
    other_watch = sign_in(other, server, "kyoko", "compliance", "/console/dashboard")
    other.goto(report_url)
    expect(other.locator("#four-eyes-warning")).to_have_count(0)
    other.once("dialog", lambda dialog: dialog.accept())
    with other.expect_navigation():
        other.click("#lock-button")
    expect(other.locator("#str-state")).to_have_attribute("data-state", "locked")
    expect(other.locator("#filing-form")).to_have_count(0)
    expect(other.locator("#new-version-button")).to_be_visible()
    expect(other.locator("#str-history")).to_contain_text("operator:kyoko")
    assert other_watch.take() == []


def test_lists_screening_and_a_trace_from_the_pages(server: RunningServer, seeded: Seeded, new_page: Any) -> None:
    page: Page = new_page(locale="en-US")
    watch = sign_in(page, server, "midori", "compliance", "/console/dashboard")
    scam = synthetic_address("tron", b"browser scam")
    page.goto(f"{base(server)}/console/aml/lists")
    page.fill("#import-form input[name=source]", "browser-test")
    page.set_input_files("#import-form input[type=file]", files=[{
        "name": "browser.csv", "mimeType": "text/csv",
        "buffer": f"chain,address,category\ntron,{scam},scam\n".encode()}])
    with page.expect_navigation():
        page.click("#import-form button[type=submit]")
    expect(page.locator("#batches")).to_contain_text("browser.csv")
    expect(page.locator("#entries")).to_contain_text(scam)
    # Remove it again: tick its row, give a reason, confirm.
    page.check(f"#entries tr:has-text('{scam}') input[name=ids]")
    page.fill("#remove-form input[name=reason]", "imported by mistake")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("#remove-form button[type=submit]")
    expect(page.locator("#entries")).not_to_contain_text(scam)
    expect(page.locator("#entries")).to_contain_text(CASINO)

    page.goto(f"{base(server)}/console/aml/screen")
    page.fill("#screen-form input[name=chain]", "tron")
    page.fill("#screen-form input[name=address]", CASINO)
    page.click("#screen-form button[type=submit]")
    expect(page.locator("#screen-result")).to_be_visible()
    expect(page.locator("#screen-result")).to_have_attribute("data-listed", "1")
    expect(page.locator("#screen-result tbody tr[data-category=online_casino]")).to_have_count(1)
    expect(page.locator("#screen-result [data-field=category]")).to_have_text("Online casino")
    assert watch.take() == []

    page.goto(f"{base(server)}/console/aml/traces?case_id={seeded.case_id}&chain=tron&start={WITHDRAWAL_TX}")
    page.fill("#trace-form input[name=address]", DEST)
    page.click("#trace-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/aml/traces/\d+$"))
    expect(page.locator("#trace-entities")).to_contain_text(CASINO)
    assert watch.take() == []


def test_every_new_page_and_the_rules_pages_photographed(server: RunningServer, seeded: Seeded, new_page: Any,
                                                         tmp_path: Path) -> None:
    with server.client() as admin:
        report = admin.post(f"/v1/cases/{seeded.case_id}/str")
        assert report.status_code == 201, report.text
        report_id = report.json()["id"]
        assert admin.put(f"/v1/str/{report_id}", json={"filing": {"place": "本店"}}).status_code == 200
        rules = admin.get("/v1/rules").json()["rules"]
        rule_id = rules[0]["id"]
        text = admin.get(f"/v1/rules/{rule_id}").json()["text"]
        draft = admin.post("/v1/rules/drafts", json={"rule_id": rule_id, "text": text, "note": "screenshot"})
        assert draft.status_code == 201, draft.text
        draft_id = draft.json()["id"]
        backtest = admin.post(f"/v1/rules/drafts/{draft_id}/backtests", json={"max_events": 1000})
        assert backtest.status_code == 202, backtest.text
        backtest_id = backtest.json()["id"]
        # /console/rules/shadow answers 404 until a shadow run exists: start one to photograph it.
        assert admin.post(f"/v1/rules/drafts/{draft_id}/shadow").status_code in (200, 201, 202)

    compliance: Page = new_page(locale="ja-JP")
    watch = sign_in(compliance, server, "aoi", "compliance", "/console/dashboard")
    supervisor: Page = new_page(locale="ja-JP")
    supervisor_watch = sign_in(supervisor, server, "ren", "supervisor", "/console/dashboard")
    pages = [
        (compliance, watch, "/console/str", "str-list", {"ja": "疑わしい取引の届出", "en": "Suspicious transaction"}),
        (compliance, watch, f"/console/str/{report_id}", "str-report", {"ja": "届出", "en": "Report"}),
        (compliance, watch, f"/console/str/{report_id}/diff?against={report_id}", "str-diff",
         {"ja": "版の差分", "en": "Changes between versions"}),
        (compliance, watch, "/console/aml/lists", "aml-lists", {"ja": "リスクリスト", "en": "Risk lists"}),
        (compliance, watch, "/console/aml/screen", "aml-screen", {"ja": "アドレスの照合", "en": "Screen an address"}),
        (compliance, watch, "/console/aml/traces", "aml-traces", {"ja": "資金追跡", "en": "Funds traces"}),
        (compliance, watch, f"/console/aml/traces/{seeded.trace_id}", "aml-trace",
         {"ja": "資金追跡", "en": "Funds trace"}),
        (compliance, watch, "/console/aml/effectiveness", "aml-effectiveness",
         {"ja": "AML 有効性検証", "en": "AML effectiveness"}),
        (compliance, watch, f"/console/cases/{seeded.case_id}", "case-with-str-button", {"ja": "", "en": ""}),
        (supervisor, supervisor_watch, "/console/rules", "rules", {"ja": "検知ルール", "en": "Detection rules"}),
        (supervisor, supervisor_watch, f"/console/rules/{rule_id}", "rule", {"ja": rule_id, "en": rule_id}),
        (supervisor, supervisor_watch, f"/console/rules/drafts/{draft_id}", "rule-draft",
         {"ja": "ルール草案", "en": "Rule draft"}),
        (supervisor, supervisor_watch, f"/console/rules/backtests/{backtest_id}", "rule-backtest",
         {"ja": "バックテスト", "en": "Backtest"}),
        (supervisor, supervisor_watch, "/console/rules/shadow", "rules-shadow", {"ja": "シャドー", "en": "Shadow"}),
        (supervisor, supervisor_watch, "/console/rules/publications", "rules-publications",
         {"ja": "公開申請", "en": "Publication requests"}),
    ]
    for lang in ("ja", "en"):
        if lang == "en":
            for page, page_watch in ((compliance, watch), (supervisor, supervisor_watch)):
                page.click("header a.lang")  # remembered in a cookie
                page.wait_for_load_state("networkidle")
                assert page_watch.take() == []
        for page, page_watch, path, name, headings in pages:
            shoot(page, page_watch, f"{base(server)}{path}", headings[lang], tmp_path, f"{name}-{lang}")
            assert page.locator("html").get_attribute("lang") == lang
