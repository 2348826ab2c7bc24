"""Compliance pages of the console (STR drafts, AML lists, screening, traces, effectiveness) against a real
``mamori serve`` on loopback, with operators signed in by a (software) passkey: which role opens which
page, that session writes need the CSRF token, that the person who last edited a report cannot lock it
(four eyes) and the page says so, and that every view of a report is in the audit log under the
operator's name."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import orjson
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from aml_console_seed import ACCOUNT, CASINO, DEST, WITHDRAWAL_TX, Seeded, seed
from console_client import Operator, signed_in_operator
from mamori.aml.addresses import synthetic_address
from pg import PostgresServer
from server import RunningServer, start_server

ROLES = ("analyst", "supervisor", "compliance", "auditor", "admin")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The server's store: SQLite in its data directory, or a fresh database on the test PostgreSQL."""
    if request.param == "sqlite":
        yield {}
        return
    pg: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"console_aml_{uuid.uuid4().hex}"
    admin = create_engine(pg.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield {"MAMORI_DATABASE_URL": pg.url(name)}
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, database: dict[str, str]) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("console-aml") / "data"
    with start_server(data_dir, env=database) as running:
        assert (data_dir / "mamori.db").exists() == (not database)  # the back end asked for is the one in use
        yield running


@pytest.fixture(scope="module")
def seeded(server: RunningServer) -> Seeded:
    return seed(server)


@pytest.fixture(scope="module")
def ops(server: RunningServer) -> Iterator[dict[str, Operator]]:
    made = {role: signed_in_operator(server, f"aml-{role}", role) for role in ROLES}
    made["compliance2"] = signed_in_operator(server, "aml-compliance2", "compliance")
    yield made
    for op in made.values():
        op.close()


def code(response: httpx.Response) -> str | None:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


@pytest.fixture(scope="module")
def report_id(seeded: Seeded, ops: dict[str, Operator]) -> int:
    created = ops["analyst"].post_json(f"/v1/cases/{seeded.case_id}/str", {})
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def test_pages_follow_the_role(seeded: Seeded, report_id: int, ops: dict[str, Operator]) -> None:
    str_pages = ("/console/str", f"/console/str/{report_id}")
    aml_pages = ("/console/aml/lists", "/console/aml/screen", "/console/aml/traces",
                 f"/console/aml/traces/{seeded.trace_id}", "/console/aml/effectiveness")
    expected = {  # role -> (STR pages, AML pages)
        "analyst": (200, 200), "supervisor": (200, 200), "compliance": (200, 200),
        "auditor": (403, 200), "admin": (403, 403)}
    for role, (str_status, aml_status) in expected.items():
        for path in str_pages:
            assert ops[role].http.get(path).status_code == str_status, (role, path)
        for path in aml_pages:
            assert ops[role].http.get(path).status_code == aml_status, (role, path)
    # The navigation shows what the role may open.
    compliance_nav = ops["compliance"].http.get("/console/aml/lists").text
    assert 'href="/console/str"' in compliance_nav and 'href="/console/aml"' in compliance_nav
    auditor_nav = ops["auditor"].http.get("/console/aml/lists").text
    assert 'href="/console/str"' not in auditor_nav
    # /console/aml leads to the lists.
    assert ops["auditor"].http.get("/console/aml").headers["location"] == "/console/aml/lists"


def test_without_a_session_the_pages_go_to_login(server: RunningServer, seeded: Seeded) -> None:
    with httpx.Client(base_url=f"http://localhost:{server.port}", trust_env=False) as anonymous:
        for path in ("/console/str", "/console/aml/lists", f"/console/aml/traces/{seeded.trace_id}",
                     "/console/aml/effectiveness"):
            response = anonymous.get(path, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"].startswith("/console/login?next=")


def test_case_page_offers_the_str_draft_and_a_trace_by_role(seeded: Seeded, ops: dict[str, Operator]) -> None:
    compliance = ops["compliance"].http.get(f"/console/cases/{seeded.case_id}").text
    assert 'id="create-str"' in compliance and f'data-json-api="/v1/cases/{seeded.case_id}/str"' in compliance
    assert f"/console/aml/traces?case_id={seeded.case_id}" in compliance
    auditor = ops["auditor"].http.get(f"/console/cases/{seeded.case_id}").text
    assert 'id="create-str"' not in auditor
    # Hiding the button is not the control: the API refuses the auditor.
    refused = ops["auditor"].post_json(f"/v1/cases/{seeded.case_id}/str", {})
    assert refused.status_code == 403 and code(refused) == "mamori.auth.forbidden"


def test_the_account_table_names_every_field_of_the_model() -> None:
    from mamori.aml.reporting.model import Account
    from mamori.console.str_pages import ACCOUNT_FIELDS

    assert tuple(Account.model_fields) == ACCOUNT_FIELDS  # the template's cells follow this order


def test_json_editor_text_cannot_close_its_textarea() -> None:
    from mamori.console.str_pages import json_lines

    rows = [{"note": "</textarea><script>alert(1)</script> & \"quoted\""}, {"note": "二行目"}]
    text = str(json_lines(rows))
    assert "<" not in text and ">" not in text and text.count("\n") == 3
    unescaped = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert orjson.loads(unescaped) == rows and str(json_lines([])) == "[]"


def test_report_page_shows_the_sections_in_both_languages(seeded: Seeded, report_id: int,
                                                           ops: dict[str, Operator]) -> None:
    analyst = ops["analyst"]
    ja = analyst.http.get(f"/console/str/{report_id}", headers={"Accept-Language": "ja"})
    assert ja.status_code == 200
    for heading in ("届出票", "取引時確認情報", "口座情報", "取引情報", "届出理由"):
        assert heading in ja.text, heading
    assert 'id="filing-form"' in ja.text and 'id="reasons-form"' in ja.text and 'id="submit-button"' in ja.text
    assert "【mamoriによる自動作成の下書き" in ja.text and 'id="auto-drafted"' in ja.text
    assert "暗号資産の移転（出庫）" in ja.text and "生年月日" in ja.text  # the filing program's words
    assert DEST in ja.text  # the withdrawal's destination is in the 取引情報 rows
    # ... with a link that starts a trace of that withdrawal.
    assert f"/console/aml/traces?case_id={seeded.case_id}&amp;chain=tron&amp;start={WITHDRAWAL_TX}" in ja.text
    assert 'id="kyc-form"' in ja.text
    en = analyst.http.get(f"/console/str/{report_id}", headers={"Accept-Language": "en"})
    assert "Grounds for suspicion" in en.text and "Start a new version" not in en.text
    assert f"/v1/str/{report_id}/export?format=xlsx" in en.text
    listing = analyst.http.get("/console/str", params={"state": "draft"})
    assert f'href="/console/str/{report_id}"' in listing.text
    assert f'href="/console/str/{report_id}"' not in analyst.http.get("/console/str", params={"state": "locked"}).text
    assert analyst.http.get("/console/str/0").status_code == 404
    assert analyst.http.get("/console/str/999999").status_code == 404
    assert analyst.http.get("/console/str/abc").status_code == 404


def test_edit_submit_four_eyes_lock_and_new_version(server: RunningServer, seeded: Seeded,
                                                    ops: dict[str, Operator]) -> None:
    first, second, analyst = ops["compliance"], ops["compliance2"], ops["analyst"]
    created = first.post_json(f"/v1/cases/{seeded.case_id}/str", {})
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    # A session write without the CSRF token, or from another origin, is refused.
    change = {"filing": {"place": "本店（オンライン取引）", "kind": "new"}}
    no_token = first.post_json(f"/v1/str/{rid}", change, method="PUT", csrf="")
    assert no_token.status_code == 403 and code(no_token) == "mamori.auth.csrf"
    elsewhere = first.post_json(f"/v1/str/{rid}", change, method="PUT", origin="http://evil.example")
    assert elsewhere.status_code == 403 and code(elsewhere) == "mamori.auth.csrf"
    # What the page's filing form sends: every field of the section, empty ones as null.
    edited = first.post_json(f"/v1/str/{rid}", change, method="PUT")
    assert edited.status_code == 200, edited.text
    assert edited.json()["document"]["filing"]["place"] == "本店（オンライン取引）"
    bad = first.post_json(f"/v1/str/{rid}", {"subjects": [{"name_kana": "yamada"}]}, method="PUT")
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "subjects.0.name_kana"
    # The KYC upload as the page's script sends it: the JSON file is the body.
    kyc = {"customers": [{"account_id": ACCOUNT, "name_kana": "スズキ イチロウ", "nationality": "JP"},
                         {"account_id": "someone-else", "name_kana": "タナカ"}]}
    uploaded = first.http.post(f"/v1/str/{rid}/kyc", content=orjson.dumps(kyc), headers={
        "Origin": first.origin, "X-CSRF-Token": first.csrf, "Content-Type": "application/json"})
    assert uploaded.status_code == 200, uploaded.text
    assert "スズキ イチロウ" in first.http.get(f"/console/str/{rid}").text
    assert first.post_json(f"/v1/str/{rid}/submit", {}).status_code == 200

    # The last editor sees why the lock will be refused, and it is refused.
    mine = first.http.get(f"/console/str/{rid}").text
    assert 'id="lock-button"' in mine and 'id="four-eyes-warning"' in mine
    refused = first.post_json(f"/v1/str/{rid}/lock", {})
    assert refused.status_code == 403 and code(refused) == "mamori.actions.four_eyes"
    # The page script turns that code into a plain sentence in both languages.
    assert "data-error-four-eyes=" in mine and "最終編集者は確定できません" in mine
    # An analyst (str:write only) has no lock button and cannot lock.
    assert 'id="lock-button"' not in analyst.http.get(f"/console/str/{rid}").text
    assert analyst.post_json(f"/v1/str/{rid}/lock", {}).status_code == 403

    theirs = second.http.get(f"/console/str/{rid}").text
    assert 'id="lock-button"' in theirs and 'id="four-eyes-warning"' not in theirs
    locked = second.post_json(f"/v1/str/{rid}/lock", {})
    assert locked.status_code == 200 and locked.json()["state"] == "locked"
    page = second.http.get(f"/console/str/{rid}").text
    assert 'data-state="locked"' in page and 'id="filing-form"' not in page and 'id="new-version-button"' in page
    again = first.post_json(f"/v1/str/{rid}", change, method="PUT")
    assert again.status_code == 409 and code(again) == "mamori.str.locked"

    new = second.post_json(f"/v1/str/{rid}/versions", {})
    assert new.status_code == 201 and new.json()["version"] == 2
    new_id = new.json()["id"]
    second.post_json(f"/v1/str/{new_id}", {"filing": {"place": "大阪支店", "kind": "new"}}, method="PUT")
    diff = second.http.get(f"/console/str/{new_id}/diff")
    assert diff.status_code == 200 and "filing.place" in diff.text and "大阪支店" in diff.text
    history = second.http.get(f"/console/str/{new_id}").text
    assert f'href="/console/str/{rid}"' in history and "str.lock" in history and "operator:aml-compliance2" in history

    # Every view was audited under the operator's name, without personal data.
    with server.client() as admin:
        records = admin.get("/v1/audit", params={"actor": "operator:aml-compliance2", "action": "str.",
                                                 "limit": 500}).json()["records"]
    actions = {r["action"] for r in records}
    assert {"str.view", "str.versions", "str.diff", "str.lock", "str.version"} <= actions
    assert all("大阪支店" not in str(r["details"]) and "スズキ" not in str(r["details"]) for r in records)


def test_a_submitted_report_is_returned_to_draft_with_a_reason(report_id: int, ops: dict[str, Operator]) -> None:
    analyst, compliance = ops["analyst"], ops["compliance"]
    assert analyst.post_json(f"/v1/str/{report_id}/submit", {}).status_code == 200
    page = compliance.http.get(f"/console/str/{report_id}").text
    assert 'id="return-form"' in page and f'data-json-api="/v1/str/{report_id}/return"' in page
    assert 'id="return-form"' not in analyst.http.get(f"/console/str/{report_id}").text
    assert analyst.post_json(f"/v1/str/{report_id}/return", {"reason": "x"}).status_code == 403
    no_reason = compliance.post_json(f"/v1/str/{report_id}/return", {"reason": ""})
    assert no_reason.status_code == 422
    returned = compliance.post_json(f"/v1/str/{report_id}/return", {"reason": "取引目的の記載が不足"})
    assert returned.status_code == 200 and returned.json()["state"] == "draft"
    back = analyst.http.get(f"/console/str/{report_id}").text
    assert 'data-state="draft"' in back and "取引目的の記載が不足" in back  # the authors see why


def test_lists_search_import_and_remove_through_the_session(server: RunningServer, seeded: Seeded,
                                                            ops: dict[str, Operator]) -> None:
    compliance, analyst = ops["compliance"], ops["analyst"]
    page = compliance.http.get("/console/aml/lists", params={"q": CASINO[:12]})
    assert page.status_code == 200 and CASINO in page.text and 'id="import-form"' in page.text
    assert 'id="import-form"' not in analyst.http.get("/console/aml/lists").text
    # An unknown chain in the filter is named on the page, not a crash.
    odd = compliance.http.get("/console/aml/lists", params={"chain": "nochain"})
    assert odd.status_code == 200 and 'id="search-problem"' in odd.text

    # The upload as the page's script sends it: the file is the body, the rest the query.
    scam = synthetic_address("tron", b"console scam")
    body = f"chain,address,category\ntron,{scam},scam\ntron,not-an-address,scam\n".encode()
    params = {"format": "csv", "source": "console-test", "filename": "scam.csv"}
    headers = {"Origin": compliance.origin, "X-CSRF-Token": compliance.csrf, "Content-Type": "text/csv"}
    assert compliance.http.post("/v1/aml/lists/import", params=params, content=body,
                                headers={**headers, "X-CSRF-Token": ""}).status_code == 403
    denied = analyst.http.post("/v1/aml/lists/import", params=params, content=body,
                               headers={**headers, "Origin": analyst.origin, "X-CSRF-Token": analyst.csrf})
    assert denied.status_code == 403 and code(denied) == "mamori.auth.forbidden"
    imported = compliance.http.post("/v1/aml/lists/import", params=params, content=body, headers=headers)
    assert imported.status_code == 200, imported.text
    report = imported.json()
    assert report["added"] == 1 and report["rejected"] == 1
    listed = compliance.http.get("/console/aml/lists", params={"source": "console-test"}).text
    assert "scam.csv" in listed and scam in listed
    entry_id = listed.split('name="ids" value="', 1)[1].split('"', 1)[0]
    removed = compliance.post_json("/v1/aml/lists/remove", {"ids": [int(entry_id)], "reason": "test"})
    assert removed.status_code == 200 and removed.json()["removed"] == [int(entry_id)]
    assert scam not in compliance.http.get("/console/aml/lists", params={"source": "console-test"}).text

    # Screening an address (what the screen page's form sends).
    screened = analyst.post_json("/v1/aml/screen", {"chain": "tron", "address": CASINO})
    assert screened.status_code == 200 and screened.json()["category"] == "online_casino"
    assert 'id="screen-form"' in analyst.http.get("/console/aml/screen").text


def test_trace_and_effectiveness_pages(seeded: Seeded, ops: dict[str, Operator]) -> None:
    auditor, compliance = ops["auditor"], ops["compliance"]
    listing = auditor.http.get("/console/aml/traces", params={"case_id": seeded.case_id})
    assert f'href="/console/aml/traces/{seeded.trace_id}"' in listing.text
    assert 'id="trace-form"' not in listing.text  # aml:read only: no start form
    page = auditor.http.get(f"/console/aml/traces/{seeded.trace_id}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    entities = page.text.split('id="trace-entities"', 1)[1].split("</table>", 1)[0]
    assert "online_casino" in entities and CASINO in entities and DEST in entities  # the path to the casino
    assert "4000" in entities  # the casino's taint
    assert 'id="close-trace"' not in page.text
    assert auditor.http.get("/console/aml/traces/424242").status_code == 404
    prefilled = compliance.http.get("/console/aml/traces", params={"case_id": seeded.case_id, "chain": "tron",
                                                                   "start": "c1" * 32}).text
    assert 'id="trace-form"' in prefilled and f'value="{"c1" * 32}"' in prefilled
    assert compliance.post_json(f"/v1/aml/traces/{seeded.trace_id}/close", {}, csrf="").status_code == 403

    effectiveness = auditor.http.get("/console/aml/effectiveness", params={"from": "2026-05-01", "to": "2026-07-01"})
    assert effectiveness.status_code == 200
    assert 'id="eff-metrics"' in effectiveness.text and "<code>C1</code>" in effectiveness.text
    assert "/v1/aml/effectiveness/report?from=2026-05-01&amp;to=2026-07-01&amp;format=xlsx" in effectiveness.text
    bad = auditor.http.get("/console/aml/effectiveness", params={"from": "2026-07-01", "to": "2026-05-01"})
    assert bad.status_code == 422 and "after" in bad.text

    # What the auditor read is in the audit log under the operator's name.
    records = auditor.http.get("/v1/audit", params={"actor": "operator:aml-auditor", "limit": 500}).json()["records"]
    assert {"aml.trace.list", "aml.trace.view", "aml.effectiveness.metrics", "aml.effectiveness.coverage"} <= {
        r["action"] for r in records}
    assert all(CASINO not in str(r["details"]) for r in records)
