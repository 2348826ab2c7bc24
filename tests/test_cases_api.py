"""Case management end to end over HTTP on 127.0.0.1.

A simulated attack (:func:`mamori.sim.simulate`: phishing takeovers, a coordinated pump, credential
stuffing, takeover withdrawals) is sent to a real ``mamori serve`` process, whose engine raises the
alerts. A FastAPI app built here serves the case routes (:func:`mamori.api.cases_routes.register_cases`)
on the same database, with the real :class:`SqlStore` and :class:`KeyRing` (the application wires the
same router into its own app), under uvicorn in a thread. The tests then work the cases as analysts
would and check the audit trail.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy import select

from mamori.adapters.sql.schema import audit_log
from mamori.adapters.sql.store import SqlStore, now_us
from mamori.api.auth import KeyRing, Principal
from mamori.api.cases_routes import READ_SCOPE, WRITE_SCOPE, register_cases
from mamori.cases.model import DAY_US, HOUR_US
from mamori.cases.service import CasesService
from mamori.kit.errors import InvalidRequest, MamoriError
from mamori.notify.linkcheck import find_links
from mamori.sim import SimParams, Simulation, simulate
from server import RunningServer, start_server

SIM = SimParams(customers=60, days=5, seed=11, campaigns=6)
JST = timezone(timedelta(hours=9))
VICTIM_SCENARIOS = ("phishing_takeover", "coordinated_pump", "takeover_withdrawal")


class Clock:
    def __init__(self) -> None:
        self.now = now_us()

    def __call__(self) -> int:
        return self.now


@dataclass
class World:
    url: str
    sim: Simulation
    store: SqlStore
    clock: Clock
    analyst: str
    analyst_id: str
    reader: str

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, trust_env=False, timeout=30)

    def audit(self, since: int = 0) -> list[dict[str, Any]]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(audit_log).where(audit_log.c.seq > since).order_by(audit_log.c.seq))
            return [dict(r) for r in rows.mappings()]

    def last_seq(self) -> int:
        records = self.audit()
        return int(records[-1]["seq"]) if records else 0


def cases_app(store: SqlStore, cases: CasesService) -> FastAPI:
    """What the application does: the key ring for ``principal`` and the error rendering."""
    keys = KeyRing(store)
    app = FastAPI()

    def principal(request: Request, scope: str) -> Principal:
        p = keys.authenticate(request.headers.get("authorization") or request.headers.get("x-api-key"))
        p.require(scope)
        return p

    @app.exception_handler(MamoriError)
    async def on_error(_request: Request, exc: MamoriError) -> Response:
        return Response(orjson.dumps(exc.to_dict()), status_code=exc.http_status, media_type="application/json")

    @app.exception_handler(RequestValidationError)
    async def on_validation(_request: Request, exc: RequestValidationError) -> Response:
        details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "kind": e["type"]}
                   for e in exc.errors()]
        error = InvalidRequest("invalid request parameters", details=details)
        return Response(orjson.dumps(error.to_dict()), status_code=422, media_type="application/json")

    register_cases(app, lambda: cases, principal)
    return app


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("cases-api")
    srv: RunningServer = start_server(root / "serve")
    sim = simulate(SIM)
    with srv.client() as client:
        for i in range(0, len(sim.events), 500):
            response = client.post("/v1/events", json={"events": sim.events[i:i + 500]})
            assert response.status_code == 200, response.text
    store = SqlStore(f"sqlite:///{(root / 'serve' / 'mamori.db').resolve()}")
    clock = Clock()
    cases = CasesService(store, root / "cases", firm_name_ja="まもり証券", firm_name_en="Mamori Securities",
                         support_phone="0120-123-456", clock=clock)
    analyst_id, analyst = store.create_api_key(name="analyst", scopes=frozenset({READ_SCOPE, WRITE_SCOPE}))
    _, reader = store.create_api_key(name="auditor", scopes=frozenset({READ_SCOPE}))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(cases_app(store, cases), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield World(f"http://127.0.0.1:{port}", sim, store, clock, analyst, analyst_id, reader)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        srv.stop()
        store.close()


def refreshed(world: World) -> None:
    with world.client(world.analyst) as api:
        assert api.post("/v1/cases/refresh").status_code == 200


def all_cases(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    body = api.get("/v1/cases", params={"limit": 500, **params}).json()
    assert body["next_offset"] is None
    return body["cases"]  # type: ignore[no-any-return]


def account_case_of(api: httpx.Client, account: str) -> dict[str, Any]:
    (case,) = all_cases(api, kind="account", account_id=account)
    return case


# -- grouping of the simulated attack ------------------------------------------------------------------
def test_the_simulated_attack_is_filed_into_campaign_and_victim_cases(world: World) -> None:
    with world.client(world.analyst) as api:
        first = api.post("/v1/cases/refresh").json()
        assert first["alerts_filed"] > 0 and first["cases_created"] > 0
        assert api.post("/v1/cases/refresh").json()["alerts_filed"] == 0  # idempotent
        (pump,) = [c for c in world.sim.campaigns if c["scenario"] == "coordinated_pump"]
        campaigns = all_cases(api, kind="campaign")
        accounts = {c["id"]: {a["account_id"] for a in api.get(f"/v1/cases/{c['id']}").json()["accounts"]}
                    for c in campaigns}
        pump_case = next(cid for cid, members in accounts.items() if set(pump["accounts"]) <= members)
        assert accounts[pump_case] == set(pump["accounts"])  # the pump's accounts and nobody else
        detail = api.get(f"/v1/cases/{pump_case}").json()
        assert detail["kind"] == "campaign" and detail["account_count"] == len(pump["accounts"]) >= 3
        assert {a["account_id"] for a in detail["account_cases"]} == set(pump["accounts"])
        victims = {a for c in world.sim.campaigns if c["scenario"] in VICTIM_SCENARIOS for a in c["takeovers"]}
        for victim in victims:
            case = account_case_of(api, victim)
            assert case["alert_count"] >= 1 and case["state"] == "open", victim
        victim_detail = api.get(f"/v1/cases/{account_case_of(api, pump['accounts'][0])['id']}").json()
        assert pump_case in {r["id"] for r in victim_detail["related_cases"]}
        assert {a["event"]["type"] for a in victim_detail["alerts"]} <= {"order", "login", "settings_change"}


# -- access and input errors ---------------------------------------------------------------------------
def test_scopes_ids_and_bad_input_are_refused_with_the_right_status(world: World) -> None:
    refreshed(world)
    with world.client() as anonymous:
        assert anonymous.get("/v1/cases").status_code == 401
    with world.client(world.reader) as reader:
        case_id = all_cases(reader, kind="account")[0]["id"]
        assert reader.get(f"/v1/cases/{case_id}").status_code == 200
        denied = reader.post(f"/v1/cases/{case_id}/comments", json={"body": "x"})
        assert denied.status_code == 403 and denied.json()["error"]["details"]["required_scope"] == WRITE_SCOPE
    with world.client(world.analyst) as api:
        assert api.get("/v1/cases/999999").status_code == 404
        assert api.post("/v1/cases/999999/state", json={"state": "investigating"}).status_code == 404
        assert api.get("/v1/cases/abc").json()["error"]["details"][0]["field"] == "path.case_id"
        bad = api.post(f"/v1/cases/{case_id}/state", json={"state": "solved"})
        assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "body.state"
        closing = api.post(f"/v1/cases/{case_id}/state", json={"state": "closed"})
        assert closing.status_code == 422 and closing.json()["error"]["details"][0]["field"] == "disposition"
        assert api.get("/v1/cases", params={"sla": "purple"}).json()["error"]["details"][0]["field"] == "query.sla"
        assert api.post(f"/v1/cases/{case_id}/priority", json={"priority": 9}).status_code == 422
        assert api.post(f"/v1/cases/{case_id}/state", json={"state": "investigating"}).status_code == 200
        illegal = api.post(f"/v1/cases/{case_id}/state", json={"state": "open"})
        assert illegal.status_code == 409 and illegal.json()["error"]["code"] == "mamori.api.conflict"


# -- victim contact, SLA, compensation, letters ----------------------------------------------------------
def test_a_confirmed_takeover_turns_red_when_the_next_contact_is_overdue(world: World) -> None:
    refreshed(world)
    (phished,) = [c for c in world.sim.campaigns if c["scenario"] == "phishing_takeover"][:1]
    with world.client(world.analyst) as api:
        case_id = account_case_of(api, phished["takeovers"][0])["id"]
        due = time_str(world.clock.now + HOUR_US)
        missing = api.post(f"/v1/cases/{case_id}/state", json={"state": "escalated",
                                                               "disposition": "confirmed_takeover"})
        assert missing.status_code == 422
        assert missing.json()["error"]["details"][0]["field"] == "next_contact_due_at"
        confirmed = api.post(f"/v1/cases/{case_id}/state", json={
            "state": "escalated", "disposition": "confirmed_takeover", "next_contact_due_at": due,
            "reason": "customer confirmed by phone that the sells were not theirs"})
        assert confirmed.status_code == 200 and confirmed.json()["sla"] == "amber"
        assert case_id not in {c["id"] for c in all_cases(api, sla="red")}
        world.clock.now += 2 * HOUR_US  # the promised call did not happen
        listed = all_cases(api)
        assert listed[0]["sla"] == "red" and case_id in {c["id"] for c in all_cases(api, sla="red")}
        contact = api.post(f"/v1/cases/{case_id}/contacts", json={
            "channel": "phone", "summary": "called the customer, explained the held buy order",
            "next_contact_due_at": time_str(world.clock.now + 3 * DAY_US)})
        assert contact.status_code == 201
        assert case_id not in {c["id"] for c in all_cases(api, sla="red")}
        comp = api.put(f"/v1/cases/{case_id}/compensation", json={
            "damage_yen": 420_000, "sells_yen": 3_100_000, "buys_yen": 2_950_000, "status": "assessing"})
        assert comp.status_code == 200 and comp.json()["status"] == "assessing"
        assert api.put(f"/v1/cases/{case_id}/compensation", json={"damage_yen": -5, "status": "paid"}) \
            .json()["error"]["details"][0]["field"] == "body.damage_yen"
        detail = api.get(f"/v1/cases/{case_id}").json()
        assert detail["contacts"][0]["channel"] == "phone" and detail["compensation"]["damage_yen"] == 420_000
        assert [h["action"] for h in detail["history"]][-3:] == ["case.state", "case.contact.add",
                                                                  "case.compensation"]


def test_the_victim_letter_has_no_links_in_either_language(world: World) -> None:
    refreshed(world)
    (pump,) = [c for c in world.sim.campaigns if c["scenario"] == "coordinated_pump"]
    with world.client(world.analyst) as api:
        case_id = account_case_of(api, pump["accounts"][-1])["id"]
        letters = [api.get(f"/v1/cases/{case_id}/letter", params={"lang": lang}).json() for lang in ("ja", "en")]
        named = api.post(f"/v1/cases/{case_id}/letter", json={"lang": "ja", "customer_name": "佐藤 花子",
                                                               "message": "本日お電話でご説明した内容をお送りします。"})
        assert named.status_code == 200
        for letter in [*letters, named.json()]:
            text = letter["subject"] + "\n" + letter["body"]
            assert find_links(text) == [] and "0120-123-456" in text and f"MC-{case_id:06d}" in text
        assert "佐藤 花子 様" in named.json()["body"]
        assert letters[0]["lang"] == "ja" and "リンク（URL）を記載しておりません" in letters[0]["body"]
        assert letters[1]["lang"] == "en" and "This letter contains no links" in letters[1]["body"]
        for field, value in (("message", "ログインは https://mamori-sec.example.jp から"),
                             ("message", "see mamori-secure . com"), ("customer_name", "hanako@example.jp")):
            refused = api.post(f"/v1/cases/{case_id}/letter", json={"lang": "en", field: value})
            assert refused.status_code == 422 and refused.json()["error"]["details"][0]["field"] == field
        campaign = all_cases(api, kind="campaign")[0]["id"]
        assert api.get(f"/v1/cases/{campaign}/letter").status_code == 409


# -- attachments, comments, bulk -------------------------------------------------------------------------
def test_attachments_are_bounded_and_never_served_as_executable(world: World) -> None:
    refreshed(world)
    with world.client(world.analyst) as api:
        case_id = all_cases(api, kind="account")[-1]["id"]
        page = b"<html><body onload=alert(1)>statement</body></html>"
        up = api.post(f"/v1/cases/{case_id}/attachments", json={
            "filename": "statement.html", "content_type": "text/html", "data_base64": base64.b64encode(page).decode()})
        assert up.status_code == 201, up.text
        meta = up.json()
        down = api.get(f"/v1/cases/{case_id}/attachments/{meta['id']}")
        assert down.content == page and down.headers["content-type"] == "application/octet-stream"
        assert down.headers["x-content-type-options"] == "nosniff"
        assert down.headers["content-disposition"].startswith("attachment;")
        assert "sandbox" in down.headers["content-security-policy"]
        pdf = api.post(f"/v1/cases/{case_id}/attachments", json={
            "filename": "letter.pdf", "content_type": "application/pdf",
            "data_base64": base64.b64encode(b"%PDF-1.7 test").decode()}).json()
        assert api.get(f"/v1/cases/{case_id}/attachments/{pdf['id']}").headers["content-type"] == "application/pdf"
        huge = api.post(f"/v1/cases/{case_id}/attachments", content=b'{"filename": "x", "data_base64": "'
                        + b"A" * (15 * 1024 * 1024) + b'"}', headers={"Content-Type": "application/json"})
        assert huge.status_code == 422 and huge.json()["error"]["details"][0]["field"] == "(body)"
        bad = api.post(f"/v1/cases/{case_id}/attachments", json={"filename": "a", "content_type": "text/plain",
                                                                  "data_base64": "not base64!"})
        assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "data_base64"
        assert api.get(f"/v1/cases/{case_id}/attachments/999999").status_code == 404


def test_bulk_actions_over_the_pump_campaign(world: World) -> None:
    refreshed(world)
    (pump,) = [c for c in world.sim.campaigns if c["scenario"] == "coordinated_pump"]
    with world.client(world.analyst) as api:
        campaign = next(c["id"] for c in all_cases(api, kind="campaign")
                        if pump["accounts"][0] in {a["account_id"] for a in
                                                   api.get(f"/v1/cases/{c['id']}").json()["accounts"]})
        out = api.post("/v1/cases/bulk", json={"campaign_id": campaign, "action": "assign",
                                               "assignee": "op-pump-team", "include_campaign": True}).json()
        assert len(out["updated"]) == len(pump["accounts"]) + 1
        out = api.post("/v1/cases/bulk", json={"campaign_id": campaign, "action": "comment",
                                               "body": "One attacker: same hosting network, same thin symbol."})
        assert len(out.json()["updated"]) == len(pump["accounts"])
        states = api.post("/v1/cases/bulk", json={"campaign_id": campaign, "action": "state",
                                                  "state": "investigating"}).json()
        assert {s["code"] for s in states["skipped"]} <= {"mamori.api.conflict"}
        for account in pump["accounts"]:
            case = account_case_of(api, account)
            assert case["assignee"] == "op-pump-team" and case["state"] in ("investigating", "escalated")
        assert api.post("/v1/cases/bulk", json={"action": "state"}).status_code == 422


# -- the audit trail ------------------------------------------------------------------------------------
def test_every_view_and_action_is_in_the_audit_log_and_the_chain_verifies(world: World) -> None:
    refreshed(world)
    since = world.last_seq()
    actor = f"api-key:{world.analyst_id}"
    with world.client(world.analyst) as api:
        case_id = all_cases(api, kind="account")[0]["id"]
        api.get(f"/v1/cases/{case_id}")
        api.post(f"/v1/cases/{case_id}/assign", json={"assignee": "op-audit"})
        api.post(f"/v1/cases/{case_id}/priority", json={"priority": 1})
        api.post(f"/v1/cases/{case_id}/due", json={"due_at": time_str(world.clock.now + DAY_US)})
        api.post(f"/v1/cases/{case_id}/comments", json={"body": "Customer Suzuki Ichiro, born 1961"})
        api.post(f"/v1/cases/{case_id}/contacts", json={"channel": "letter", "summary": "letter to 1-2-3 Chiyoda"})
        api.get(f"/v1/cases/{case_id}/letter", params={"lang": "en"})
    records = [r for r in world.audit(since) if r["target"] == f"case:{case_id}" or r["action"] == "case.list"]
    assert [r["action"] for r in records] == ["case.list", "case.view", "case.assign", "case.priority", "case.due",
                                              "case.comment", "case.contact.add", "case.letter"]
    assert {r["actor"] for r in records} == {actor}
    details = [orjson.loads(r["details"]) for r in records]
    assert all(d.get("case_id") == case_id for d in details[1:])
    text = " ".join(r["details"] for r in records)
    assert "Suzuki" not in text and "Chiyoda" not in text and "1961" not in text
    everything = world.audit()
    assert {"case.refresh", "case.state", "case.bulk", "case.attachment.add", "case.attachment.view",
            "case.compensation"} <= {r["action"] for r in everything}
    assert world.store.verify_audit_chain() == len(everything)


def time_str(us: int) -> str:
    """RFC 3339 in Japan time, as a console in Tokyo sends it."""
    return datetime.fromtimestamp(us / 1e6, JST).isoformat()
