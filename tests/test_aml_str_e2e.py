"""End to end through a real ``mamori serve`` on 127.0.0.1: a crypto withdrawal right after a first yen
deposit raises an alert, the alert becomes a case, the case a report draft; the draft is completed
(PUT and a KYC import), submitted, refused to its own last editor, locked by a second key with
``str:approve``, refused any further change, exported (Excel, CSV in Shift_JIS, JSON) and read with
``mamori aml str`` - and the database and audit log hold none of the customer's personal data in clear."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path
from typing import Any

import openpyxl
import orjson

from mamori.aml.addresses import synthetic_address
from server import run_cli, start_server

DEST = synthetic_address("bitcoin", b"e2e scam collector")
ACCOUNT = "C-5001"
KYC = {"account_id": ACCOUNT, "name_kanji": "鈴木 一郎", "name_kana": "スズキ イチロウ", "birth_date": "1949-11-03",
       "address": "大阪府大阪市北区梅田1-1", "nationality": "JP", "occupation": "年金受給者",
       "purpose": "資産運用", "verified_on": "2026-05-28", "verification_method": "eKYC（ホ方式）",
       "id_document_type": "マイナンバーカード", "channel": "non_face_to_face", "opened_on": "2026-05-28"}
EVENTS = [
    {"id": "e2e-1", "type": "login", "occurred_at": "2026-06-01T09:50:00+09:00", "account_id": ACCOUNT,
     "result": "success", "method": "passkey", "ip": "126.10.20.30", "device_id": "dev-e2e", "channel": "web"},
    {"id": "e2e-2", "type": "fiat_deposit", "occurred_at": "2026-06-01T10:00:00+09:00", "account_id": ACCOUNT,
     "transfer_id": "f-1", "amount": "1000000", "ip": "126.10.20.30", "channel": "web"},
    {"id": "e2e-3", "type": "crypto_withdrawal", "occurred_at": "2026-06-01T10:30:00+09:00", "account_id": ACCOUNT,
     "transfer_id": "w-1", "asset": "BTC", "chain": "bitcoin", "address": DEST, "amount": "0.1",
     "amount_jpy": "990000", "ip": "126.10.20.30", "device_id": "dev-e2e", "channel": "web"},
]


def new_key(data_dir: Path, name: str, *scopes: str) -> str:
    args = ["keys", "create", "--name", name]
    for scope in scopes:
        args += ["--scope", scope]
    return run_cli(*args, data_dir=data_dir).stdout.strip()


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def test_alert_to_case_to_locked_report_to_export(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"MAMORI_STR_ENTITY_NAME": "まもり暗号資産株式会社", "MAMORI_STR_DEPARTMENT": "コンプライアンス部",
           "MAMORI_STR_HEAD_OFFICE_POSTAL_CODE": "1000005"}
    with start_server(data, env=env) as srv:
        drafter = new_key(data, "analyst", "events:write", "cases:read", "cases:write", "str:write")
        officer = new_key(data, "compliance", "str:approve")
        with srv.client(drafter) as analyst, srv.client(officer) as compliance:
            # Given the events, when the engine decides, the withdrawal raises an alert
            out = analyst.post("/v1/events", json={"events": EVENTS})
            assert out.status_code == 200, out.text
            assert out.json()["results"][2]["decision"] in ("hold", "block")
            assert analyst.post("/v1/cases/refresh").status_code == 200
            listed = analyst.get("/v1/cases", params={"account_id": ACCOUNT}).json()["cases"]
            assert len(listed) == 1
            case_id = listed[0]["id"]

            # A draft from the case
            assert compliance.post(f"/v1/cases/{case_id}/str").status_code == 403  # str:approve cannot draft
            paths = analyst.get("/openapi.json").json()["paths"]
            assert {"/v1/cases/{case_id}/str", "/v1/str/{report_id}", "/v1/str/{report_id}/export"} <= set(paths)
            created = analyst.post(f"/v1/cases/{case_id}/str")
            assert created.status_code == 201, created.text
            report = created.json()
            rid = report["id"]
            doc = report["document"]
            assert doc["entity"]["name"] == "まもり暗号資産株式会社"
            assert doc["entity"]["head_office_postal_code"] == "100-0005"
            assert "XFER-RAPID-001" in doc["reasons"]["rule_ids"]
            assert doc["reasons"]["reference_cases"] and doc["reasons"]["auto_drafted"]
            assert [t["kind"] for t in doc["transactions"]] == ["fiat_deposit", "crypto_withdrawal"]
            assert doc["transactions"][1]["to_address"] == DEST

            # Filled: a bad field is named; the KYC export fills the customer
            bad = analyst.put(f"/v1/str/{rid}", json={"subjects": [{"account_ids": [ACCOUNT], "name_kana": "すずき"}]})
            assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "subjects.0.name_kana"
            assert analyst.post(f"/v1/str/{rid}/kyc", json={"customers": [KYC]}).status_code == 200
            filing = {**doc["filing"], "filed_on": "2026-06-02"}
            assert analyst.put(f"/v1/str/{rid}", json={"filing": filing}).status_code == 200
            assert analyst.post(f"/v1/str/{rid}/submit").status_code == 200

            # Locked by a second key with str:approve, never by the drafter; then immutable
            assert analyst.post(f"/v1/str/{rid}/lock").status_code == 403  # lacks str:approve
            both = new_key(data, "drafter-approver", "str:write", "str:approve")
            with srv.client(both) as self_approver:
                assert self_approver.put(f"/v1/str/{rid}", json={"filing": filing}).status_code == 200
                self_approver.post(f"/v1/str/{rid}/submit")
                refused = self_approver.post(f"/v1/str/{rid}/lock")
                assert refused.status_code == 403 and error_code(refused) == "mamori.actions.four_eyes"
            locked = compliance.post(f"/v1/str/{rid}/lock")
            assert locked.status_code == 200 and locked.json()["state"] == "locked"
            changed = analyst.put(f"/v1/str/{rid}", json={"filing": filing})
            assert changed.status_code == 409 and error_code(changed) == "mamori.str.locked"

            # Exported as final
            xlsx = compliance.get(f"/v1/str/{rid}/export", params={"format": "xlsx"})
            assert xlsx.status_code == 200 and "-final.xlsx" in xlsx.headers["content-disposition"]
            wb = openpyxl.load_workbook(io.BytesIO(xlsx.content))
            assert wb.sheetnames == ["届出票", "取引時確認情報", "口座情報", "取引情報"]
            assert str(wb["届出票"]["A1"].value).startswith("確定版 / FINAL")
            subject = {wb["取引時確認情報"].cell(row=r, column=1).value: wb["取引時確認情報"].cell(row=r, column=3).value
                       for r in range(3, wb["取引時確認情報"].max_row + 1)}
            assert subject["氏名・名称（漢字）"] == "鈴木 一郎"
            sjis = analyst.get(f"/v1/str/{rid}/export", params={"format": "csv", "encoding": "cp932"})
            rows = list(csv.reader(io.StringIO(sjis.content.decode("cp932"))))
            assert rows[2][0] == "確定/FINAL" and DEST in rows[2]
            assert compliance.get(f"/v1/str/{rid}").json()["state"] == "exported"

            # A new version starts from the locked one; the diff is field-level
            v2 = analyst.post(f"/v1/str/{rid}/versions")
            assert v2.status_code == 201 and v2.json()["version"] == 2
            v2_id = v2.json()["id"]
            analyst.put(f"/v1/str/{v2_id}", json={"filing": {**filing, "kind": "additional",
                                                               "related_number": "2026-000001"}})
            changes = compliance.get(f"/v1/str/{v2_id}/diff").json()["changes"]
            assert {c["field"] for c in changes} == {"filing.kind", "filing.related_number"}

        # The CLI reads the same reports (with the same key file)
        listed_cli = run_cli("aml", "str", "list", "--json", data_dir=data)
        states = {r["id"]: r["state"] for r in orjson.loads(listed_cli.stdout)["reports"]}
        assert states == {rid: "exported", v2_id: "draft"}
        target = tmp_path / "out.json"
        run_cli("aml", "str", "export", str(v2_id), "--format", "json", "-o", str(target), data_dir=data)
        assert orjson.loads(target.read_bytes())["status"] == "draft"
        missing = run_cli("aml", "str", "show", "999", data_dir=data, check=False)
        assert missing.returncode != 0 and "no report 999" in missing.stderr

    # Nothing personal in clear in the database file (reports, history, audit log)
    with sqlite3.connect(data / "mamori.db") as db:
        blobs = [bytes(b) for (b,) in db.execute("SELECT content_enc FROM str_reports")]
        audit = " ".join(a + t + d for a, t, d in db.execute("SELECT action, target, details FROM audit_log"))
    for secret in ("鈴木", "スズキ", "梅田", "年金", "1949-11-03"):
        assert all(secret.encode() not in b for b in blobs) and secret not in audit
    for action in ("str.create", "str.update", "str.kyc_import", "str.submit", "str.lock", "str.export",
                   "str.view", "str.version", "str.diff", "str.list"):
        assert action in audit
