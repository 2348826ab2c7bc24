"""The console over HTTP against a real ``mamori serve`` on loopback: operators sign in with a (software)
passkey, then the permission matrix, CSRF, disabling, logout, the audit trail naming the operator,
audit-chain verification with a tampered record, exports, security headers and languages."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator

import httpx
import orjson
import pytest

from console_client import Operator, console_base, create_operator, signed_in_operator
from mamori.sim import SimParams, simulate
from server import RunningServer, run_cli, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with start_server(tmp_path_factory.mktemp("console-http")) as running:
        sim = simulate(SimParams(customers=30, days=4, seed=5, campaigns=4))
        with running.client() as admin:
            for i in range(0, len(sim.events), 500):
                assert admin.post("/v1/events", json={"events": sim.events[i:i + 500]}).status_code == 200
            assert admin.post("/v1/cases/refresh").status_code == 200
        yield running


@pytest.fixture(scope="module")
def case_id(server: RunningServer) -> int:
    with server.client() as admin:
        cases = admin.get("/v1/cases", params={"kind": "account"}).json()["cases"]
    assert cases, "the simulated attack should have opened account cases"
    return int(cases[0]["id"])


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def operators(server: RunningServer) -> Iterator[dict[str, Operator]]:
    made = {role: signed_in_operator(server, new_id(role[:4]), role)
            for role in ("analyst", "supervisor", "compliance", "admin", "auditor")}
    yield made
    for op in made.values():
        op.close()


def test_without_a_session_pages_redirect_to_login_and_the_api_says_401(server: RunningServer) -> None:
    with httpx.Client(base_url=console_base(server), trust_env=False, follow_redirects=False) as anon:
        page = anon.get("/console/cases", params={"state": "open"})
        assert page.status_code == 303
        assert page.headers["location"] == "/console/login?next=/console/cases%3Fstate%3Dopen"
        assert anon.get("/v1/cases").status_code == 401
        login = anon.get("/console/login")
        assert login.status_code == 200 and "autocomplete=\"username webauthn\"" in login.text
        # A forged session cookie is no session.
        anon.cookies.set("mamori_console", "forged")
        assert anon.get("/v1/cases").json()["error"]["code"] == "mamori.auth.unauthenticated"


PAGES = ["/console/dashboard", "/console/cases", "/console/accounts", "/console/reports", "/console/audit",
         "/console/operators"]
ALLOWED = {
    "analyst": {"/console/dashboard", "/console/cases", "/console/accounts", "/console/reports"},
    "supervisor": {"/console/dashboard", "/console/cases", "/console/accounts", "/console/reports"},
    "compliance": {"/console/dashboard", "/console/cases", "/console/accounts", "/console/reports", "/console/audit"},
    "admin": {"/console/operators"},
    "auditor": {"/console/dashboard", "/console/cases", "/console/accounts", "/console/reports", "/console/audit"},
}


def test_pages_follow_the_role(operators: dict[str, Operator]) -> None:
    for role, op in operators.items():
        for path in PAGES:
            status = op.http.get(path).status_code
            assert status == (200 if path in ALLOWED[role] else 403), (role, path, status)


def test_actions_follow_the_role(operators: dict[str, Operator], case_id: int) -> None:
    comment = f"/v1/cases/{case_id}/comments"
    # The auditor reads the case but cannot change it.
    assert operators["auditor"].http.get(f"/console/cases/{case_id}").status_code == 200
    refused = operators["auditor"].post_json(comment, {"body": "auditor note"})
    assert refused.status_code == 403 and refused.json()["error"]["details"] == {"required_scope": "cases:write"}
    assert operators["analyst"].post_json(comment, {"body": "checked the login ip"}).status_code == 201
    # Only an administrator manages operators; the administrator does not read cases.
    assert operators["analyst"].post_json("/v1/operators", {"login_id": new_id("x"), "name": "X",
                                                            "role": "admin"}).status_code == 403
    assert operators["supervisor"].http.get("/v1/operators").status_code == 403
    assert operators["admin"].http.get(f"/v1/cases/{case_id}").status_code == 403
    made = operators["admin"].post_json("/v1/operators", {"login_id": new_id("new"), "name": "New", "role": "auditor"})
    assert made.status_code == 201 and len(made.json()["enrolment_code"]) == 23
    # ... and cannot change their own account (no self-promotion, no lock-out).
    me = operators["admin"].login_id
    assert operators["admin"].post_json(f"/v1/operators/{me}/role", {"role": "supervisor"}).status_code == 403


def test_a_disabled_operator_is_out_at_once(server: RunningServer, operators: dict[str, Operator]) -> None:
    analyst = operators["analyst"]
    assert analyst.http.get("/v1/cases").status_code == 200
    ended = operators["admin"].post_json(f"/v1/operators/{analyst.login_id}/disable", {})
    assert ended.status_code == 200 and ended.json()["sessions_ended"] == 1
    assert analyst.http.get("/v1/cases").status_code == 401
    assert analyst.http.get("/console/cases").status_code == 303
    assert analyst.login().json()["error"]["code"] == "mamori.login.failed"


def test_csrf_is_required_for_session_writes_but_not_for_api_keys(server: RunningServer,
                                                                  operators: dict[str, Operator],
                                                                  case_id: int) -> None:
    op = operators["analyst"]
    url = f"/v1/cases/{case_id}/priority"

    def code(response: httpx.Response) -> str | None:
        return response.json().get("error", {}).get("code") if response.status_code != 200 else None

    assert code(op.post_json(url, {"priority": 2}, csrf="")) == "mamori.auth.csrf"  # missing
    assert code(op.post_json(url, {"priority": 2}, csrf="x" + op.csrf[1:])) == "mamori.auth.csrf"  # wrong
    assert code(op.post_json(url, {"priority": 2}, origin="https://evil.example")) == "mamori.auth.csrf"
    assert code(op.post_json(url, {"priority": 2}, origin="", headers={"Sec-Fetch-Site": "cross-site"})) \
        == "mamori.auth.csrf"
    assert code(op.post_json(url, {"priority": 2}, origin="")) == "mamori.auth.csrf"  # neither header
    # Another operator's token is not this session's token.
    assert code(op.post_json(url, {"priority": 2}, csrf=operators["supervisor"].csrf)) == "mamori.auth.csrf"
    assert op.post_json(url, {"priority": 2}).status_code == 200
    assert op.post_json(url, {"priority": 3}, origin="", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
    # GET needs no token; an API key needs neither token nor Origin, even next to a session cookie.
    assert op.http.get(f"/v1/cases/{case_id}").status_code == 200
    with server.client() as admin:
        assert admin.post(url, json={"priority": 1}).status_code == 200
        admin.cookies.update(op.http.cookies)
        assert admin.post(url, json={"priority": 1}).status_code == 200


def test_audit_records_name_the_operator(server: RunningServer, operators: dict[str, Operator], case_id: int) -> None:
    analyst, auditor = operators["analyst"], operators["auditor"]
    assert analyst.post_json(f"/v1/cases/{case_id}/assign", {"assignee": analyst.login_id}).status_code == 200
    page = analyst.http.get(f"/console/cases/{case_id}")
    assert page.status_code == 200 and analyst.login_id in page.text
    account = page.text.split('href="/console/accounts/', 1)[1].split('"', 1)[0]
    assert analyst.http.get(f"/console/accounts/{account}").status_code == 200
    records = auditor.http.get("/v1/audit", params={"actor": f"operator:{analyst.login_id}", "limit": 500}).json()
    actions = {r["action"] for r in records["records"]}
    assert {"operator.login", "case.assign", "case.view", "account.timeline.view", "account.overview.view",
            "account.links.view"} <= actions
    assert all(r["actor"] == f"operator:{analyst.login_id}" for r in records["records"])
    # Reading the audit log is itself audited.
    mine = auditor.http.get("/v1/audit", params={"actor": f"operator:{auditor.login_id}", "action": "audit."})
    assert any(r["action"] == "audit.view" for r in mine.json()["records"])


def test_audit_verify_export_and_a_tampered_record(server: RunningServer, operators: dict[str, Operator]) -> None:
    auditor, analyst = operators["auditor"], operators["analyst"]
    verdict = auditor.post_json("/v1/audit/verify", {})
    assert verdict.status_code == 200 and verdict.json()["ok"] is True and verdict.json()["records"] > 10
    assert analyst.post_json("/v1/audit/verify", {}).status_code == 403
    jsonl = auditor.http.get("/v1/audit/export", params={"format": "jsonl"})
    lines = [orjson.loads(x) for x in jsonl.content.splitlines()]
    assert jsonl.status_code == 200 and len(lines) >= verdict.json()["records"]
    assert [r["seq"] for r in lines] == sorted(r["seq"] for r in lines)
    csv_text = auditor.http.get("/v1/audit/export", params={"format": "csv", "action": "operator."}).text
    assert csv_text.startswith("\ufeffseq,at_us,actor,action,target,details,prev_hash,hash")
    assert "operator.login" in csv_text and "case.view" not in csv_text
    victim = lines[len(lines) // 2]
    db = sqlite3.connect(server.data_dir / "mamori.db")
    try:
        with db:
            db.execute("UPDATE audit_log SET actor = 'operator:nobody' WHERE seq = ?", (victim["seq"],))
        broken = auditor.post_json("/v1/audit/verify", {}).json()
        assert broken == {"ok": False, "broken_seq": victim["seq"],
                          "message": f"audit log chain broken at record {victim['seq']}"}
    finally:
        with db:
            db.execute("UPDATE audit_log SET actor = ? WHERE seq = ?", (victim["actor"], victim["seq"]))
        db.close()
    assert auditor.post_json("/v1/audit/verify", {}).json()["ok"] is True


def test_logout_ends_the_session(operators: dict[str, Operator]) -> None:
    op = operators["supervisor"]
    assert op.post_json("/console/api/logout", {}, csrf="").status_code == 403  # logout needs the token too
    response = op.post_json("/console/api/logout", {})
    assert response.status_code == 200 and response.json() == {"redirect": "/console/login"}
    assert op.http.get("/v1/cases").status_code == 401


def test_a_plain_form_may_carry_the_csrf_token_as_a_field(server: RunningServer) -> None:
    op = signed_in_operator(server, new_id("form"), "auditor")
    origin = {"Origin": op.origin}
    assert op.http.post("/console/api/logout", data={"csrf_token": "wrong"}, headers=origin).status_code == 403
    assert op.http.post("/console/api/logout", data={"csrf_token": op.csrf}, headers=origin).status_code == 200
    assert op.http.get("/v1/cases").status_code == 401
    op.close()


def test_session_cookie_and_page_headers(server: RunningServer) -> None:
    login_id = new_id("hdr")
    op = Operator(server, login_id)
    op.enrol(create_operator(server, login_id, "analyst"))
    response = op.login()
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("mamori_console=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/" in cookie and "Max-Age" not in cookie and "Domain" not in cookie
    page = op.http.get("/console/cases")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"
    assert "http://" not in page.text.replace(console_base(server), "") and "https://" not in page.text
    op.close()


def test_language_follows_the_cookie_then_accept_language(operators: dict[str, Operator]) -> None:
    op = operators["compliance"]
    english = op.http.get("/console/cases", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in english.text and "<h1>Cases</h1>" in english.text
    japanese = op.http.get("/console/cases", headers={"Accept-Language": "ja"})
    assert '<html lang="ja">' in japanese.text and "<h1>ケース一覧</h1>" in japanese.text
    switched = op.http.get("/console/lang", params={"to": "en", "next": "/console/audit"})
    assert switched.status_code == 303 and switched.headers["location"] == "/console/audit"
    remembered = op.http.get("/console/audit", headers={"Accept-Language": "ja"})
    assert '<html lang="en">' in remembered.text and "Verify the hash chain" in remembered.text
    evil = op.http.get("/console/lang", params={"to": "ja", "next": "//evil.example/x"})
    assert evil.headers["location"] == "/console/"


def test_bad_input_is_answered_not_crashed(operators: dict[str, Operator]) -> None:
    op = operators["auditor"]
    assert op.http.get("/console/cases", params={"state": "nonsense"}).status_code == 422
    assert op.http.get("/console/cases/abc").status_code == 404
    assert op.http.get("/console/cases/999999999").status_code == 404
    assert op.http.get("/console/accounts/%20bad").status_code == 404
    assert op.http.get("/console/reports", params={"from": "2026-13"}).status_code == 422
    assert op.http.get("/console/audit", params={"since": "yesterday"}).status_code == 422
    assert op.http.get("/v1/audit/export", params={"format": "xml"}).status_code == 422
    assert op.post_json("/console/api/login", {"flow": "x", "credential": "nope"}).status_code == 400
    assert op.post_json("/console/api/enrol/options", {"login_id": "x" * 65, "code": "y"}).status_code == 422


def test_cli_manages_operators_and_every_change_is_audited(server: RunningServer) -> None:
    login_id = new_id("cli")
    created = run_cli("operators", "create", "--login-id", login_id, "--name", "Hanako Sato", "--role", "supervisor",
                      data_dir=server.data_dir)
    code = created.stdout.split(f"enrolment code for {login_id}: ", 1)[1].split()[0]
    op = Operator(server, login_id)
    op.enrol(code)
    assert op.login().status_code == 200
    listed = [orjson.loads(line) for line in run_cli("operators", "list", "--json", data_dir=server.data_dir)
              .stdout.splitlines()]
    assert {"login_id": login_id, "role": "supervisor", "active": True, "passkeys": 1} \
        .items() <= next(o for o in listed if o["login_id"] == login_id).items()
    run_cli("operators", "set-role", login_id, "auditor", data_dir=server.data_dir)
    assert op.http.get("/v1/cases").status_code == 401  # the role change ended the session
    assert op.login().status_code == 200 and op.http.get("/console/audit").status_code == 200  # now an auditor
    reset = run_cli("operators", "reset", login_id, data_dir=server.data_dir)
    assert "enrolment code for" in reset.stdout and op.http.get("/v1/cases").status_code == 401
    assert op.login().status_code == 400  # the old passkey was removed
    bad = run_cli("operators", "set-role", login_id, "root", data_dir=server.data_dir, check=False)
    assert bad.returncode == 2 and "root" in bad.stderr
    missing = run_cli("operators", "disable", "nobody-here", data_dir=server.data_dir, check=False)
    assert missing.returncode == 1 and "no such operator" in missing.stderr
    auditor = signed_in_operator(server, new_id("aud"), "auditor")
    records = auditor.http.get("/v1/audit", params={"target": login_id, "limit": 100}).json()["records"]
    by_cli = {r["action"] for r in records if r["actor"].startswith("cli")}
    assert {"operator.create", "operator.set_role", "operator.reset"} <= by_cli
    op.close()
    auditor.close()
