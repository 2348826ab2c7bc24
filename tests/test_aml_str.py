"""Suspicious transaction reports on the store (SQLite and PostgreSQL): drafts from cases, validation,
encryption at rest, the workflow with four-eyes and lock, versions and diffs, exports parsed back."""

from __future__ import annotations

import csv
import io
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import orjson
import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from mamori.adapters.sql.schema import audit_log
from mamori.adapters.sql.store import AcceptedRecord, SqlStore
from mamori.aml.addresses import synthetic_address
from mamori.aml.reporting import locked_reports_by_case, reports_by_case
from mamori.aml.reporting.crypto import ReportCipher
from mamori.aml.reporting.draft import DRAFT_MARK
from mamori.aml.reporting.export import DRAFT_MARK as EXPORT_DRAFT_MARK
from mamori.aml.reporting.export import SHEETS, TRANSACTION_COLUMNS
from mamori.aml.reporting.links import reference_cases_for_rule
from mamori.aml.reporting.model import ReportingEntity
from mamori.aml.reporting.service import StrService
from mamori.aml.reporting.store import str_report_events, str_reports
from mamori.aml.reporting.workflow import diff, flatten
from mamori.cases.service import CasesService
from mamori.cases.store import cases as cases_table
from mamori.kit.errors import (
    ConfigError,
    Conflict,
    FourEyesRequired,
    InvalidRequest,
    NotFound,
    ReportLocked,
    StorageUnavailable,
)

T0 = 1_780_300_800_000_000  # 2026-06-01T08:00:00Z
MIN = 60_000_000
DAY = 86_400_000_000
DRAFTER, SECOND, OFFICER = "api-key:drafter", "api-key:second", "api-key:officer"
DEST = synthetic_address("bitcoin", b"scam collector")
KYC = {"account_id": "C-1001", "name_kanji": "山田 太郎", "name_kana": "ヤマダ　タロウ", "name_latin": "Taro YAMADA",
       "birth_date": "1951-04-01", "postal_code": "1000001", "address": "東京都千代田区千代田1-1",
       "nationality": "jp", "occupation": "無職（年金受給者）", "purpose": "資産運用",
       "verified_on": "2026-05-20", "verification_method": "eKYC（施行規則6条1項1号ホ）",
       "id_document_type": "運転免許証", "channel": "non_face_to_face", "opened_on": "2026-05-20"}
SECRETS = ("山田", "ヤマダ", "Taro", "千代田", "年金", DEST, "C-1001", "126.1.2.3")


def record(account: str, event_type: str, at: int, *, rules: tuple[str, ...] = (), decision: str = "allow",
           score: int = 0, **fields: Any) -> AcceptedRecord:
    event_id = f"ev-{uuid.uuid4().hex[:16]}"
    payload = {"id": event_id, "type": event_type, "account_id": account, "occurred_at": "2026-06-01T08:00:00Z",
               "ip": "126.1.2.3", "device_id": f"{account}-phone", "channel": "web", **fields}
    body = {"event_id": event_id, "decision": decision, "score": score,
            "rules": [{"id": r, "description": f"rule {r}", "tags": ["aml"], "values": {}} for r in rules],
            "features": {}}
    return AcceptedRecord(event_id=event_id, event_type=event_type, account_id=account, occurred_at_us=at,
                          received_at_us=at, payload=orjson.dumps(payload).decode(), decision=decision, score=score,
                          ruleset="test", alert=bool(rules), rule_ids=rules, body=orjson.dumps(body).decode(),
                          decided_at_us=at)


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    s = SqlStore(store_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def world(store: SqlStore, tmp_path: Path) -> tuple[StrService, int]:
    """A first-time buyer deposits yen and sends crypto to a new address half an hour later: one case."""
    store.write_accepted([
        record("C-1001", "login", T0 - 10 * MIN, result="success", method="passkey", rules=()),
        record("C-1001", "fiat_deposit", T0, transfer_id="f1", amount="1000000", currency="JPY"),
        record("C-1001", "crypto_withdrawal", T0 + 30 * MIN, rules=("XFER-RAPID-001",), decision="hold", score=50,
               transfer_id="w1", asset="BTC", chain="bitcoin", address=DEST, amount="0.1", amount_jpy="990000",
               tx_hash="ab" * 32),
        record("C-2002", "crypto_withdrawal", T0, transfer_id="w2", asset="BTC", chain="bitcoin", address=DEST,
               amount="1"),  # another customer: not in the case
    ])
    cases = CasesService(store, tmp_path / "data")
    cases.refresh()
    with store.engine.connect() as conn:
        case_id = int(conn.execute(select(cases_table.c.id)).scalar_one())
    entity = ReportingEntity(name="まもり暗号資産株式会社", person_in_charge="佐藤 花子", department="コンプライアンス部")
    svc = StrService(store, ReportCipher(secrets.token_bytes(32)), entity=lambda: entity,
                     rule_texts=lambda: {"XFER-RAPID-001": "日本円入金から24時間以内の新規アドレスへの暗号資産出金"})
    return svc, case_id


def audit_text(store: SqlStore, since: int = 0) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(audit_log).where(audit_log.c.seq > since)
                                              .order_by(audit_log.c.seq)).mappings()]


# -- drafts ---------------------------------------------------------------------------------------------------
def test_a_draft_from_a_case_holds_the_transactions_rules_reference_cases_and_a_5w1h_reason(world, tmp_path) -> None:
    svc, case_id = world
    cases = CasesService(svc.store, tmp_path / "data")
    cases.add_attachment(DRAFTER, case_id, filename="本人確認書類.png", content_type="image/png",
                         data_base64="iVBORw0KGgo=")
    report = svc.create_from_case(DRAFTER, case_id)
    doc = report["document"]
    assert doc["filing"]["attachments"] == ["本人確認書類.png"]
    assert report["state"] == "draft" and report["version"] == 1 and report["case_id"] == case_id
    kinds = [t["kind"] for t in doc["transactions"]]
    assert kinds == ["fiat_deposit", "crypto_withdrawal"]  # the quiet login fired nothing: not a row
    wd = doc["transactions"][1]
    assert wd["to_address"] == DEST and wd["quantity"] == "0.1" and wd["asset"] == "BTC"
    assert wd["rule_ids"] == ["XFER-RAPID-001"] and wd["amount_jpy"] == "990000"
    assert {t["account_id"] for t in doc["transactions"]} == {"C-1001"}
    expected = reference_cases_for_rule("XFER-RAPID-001")
    assert expected and {r["id"] for r in doc["reasons"]["reference_cases"]} == set(expected)
    assert all(isinstance(r["category"], int) for r in doc["reasons"]["reference_cases"])
    text = doc["reasons"]["text"]
    assert text.startswith(DRAFT_MARK) and doc["reasons"]["auto_drafted"] is True
    for part in ("（いつ）", "（だれが）", "（どこで）", "（なにを）", "（どのように）", "（なぜ）"):
        assert part in text
    assert "1,000,000円を入金" in text and "0.1 BTCを外部アドレスへ移転" in text
    assert "日本円入金から24時間以内" in text and all(c in text for c in expected)
    assert doc["entity"]["name"] == "まもり暗号資産株式会社"
    assert doc["filing"]["occurred_from"] == "2026-06-01" and "暗号資産" in doc["filing"]["business_line"]
    assert doc["subjects"] == [{**doc["subjects"][0], "account_ids": ["C-1001"], "name_kanji": None}]
    assert report["draft_facts"]["rows"] == 2


def test_a_case_that_does_not_exist_is_404(world) -> None:
    svc, _ = world
    with pytest.raises(NotFound):
        svc.create_from_case(DRAFTER, 999)


# -- validation -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("section", "value", "field"), [
    ("subjects", [{"account_ids": ["C-1001"], "name_kana": "山田タロウ"}], "subjects.0.name_kana"),
    ("subjects", [{"account_ids": ["C-1001"], "birth_date": "1951-02-30"}], "subjects.0.birth_date"),
    ("subjects", [{"account_ids": ["C-1001"], "birth_date": "2999-01-01"}], "subjects.0.birth_date"),
    ("subjects", [{"account_ids": ["C-1001"], "postal_code": "100-01"}], "subjects.0.postal_code"),
    ("subjects", [{"account_ids": ["C-1001"], "nationality": "Japan"}], "subjects.0.nationality"),
    ("subjects", [{"account_ids": ["C-1001"], "name_latin": "山田"}], "subjects.0.name_latin"),
    ("subjects", [{"account_ids": ["C-1001"], "email": "not-an-address"}], "subjects.0.email"),
    ("subjects", [{"account_ids": ["C-1001"], "hobby": "golf"}], "subjects.0.hobby"),
    ("filing", {"kind": "additional"}, "filing"),
    ("filing", {"occurred_from": "2026-06-02", "occurred_to": "2026-06-01"}, "filing"),
    ("accounts", [{"account_id": "C-1001", "deposit_addresses": [{"chain": "bitcoin", "address": "bc1qnope"}]}],
     "accounts.0.deposit_addresses.0.address"),
    ("accounts", [{"account_id": "C-1001", "deposit_addresses": [{"chain": "dogecoin2", "address": "x"}]}],
     "accounts.0.deposit_addresses.0.chain"),
    ("transactions", [{"at": "2026-06-01T10:00:00+09:00", "kind": "crypto_withdrawal", "to_address": DEST}],
     "transactions.0.to_address"),
    ("transactions", [{"at": "2026-06-01T10:00:00", "kind": "crypto_deposit"}], "transactions.0.at"),
    ("reasons", {"reference_cases": [{"id": "C99"}]}, "reasons.reference_cases.0"),
])
def test_a_bad_field_is_named_and_nothing_is_stored(world, section, value, field) -> None:
    svc, case_id = world
    report = svc.create_from_case(DRAFTER, case_id)
    with pytest.raises(InvalidRequest) as info:
        svc.update(SECOND, report["id"], {section: value})
    assert field in [d["field"] for d in info.value.details]
    assert svc.view(SECOND, report["id"])["document"] == report["document"]
    assert svc.view(SECOND, report["id"])["last_editor"] == DRAFTER


def test_katakana_is_normalised_and_unknown_sections_are_refused(world) -> None:
    svc, case_id = world
    report = svc.create_from_case(DRAFTER, case_id)
    out = svc.update(SECOND, report["id"], {"subjects": [{"account_ids": ["C-1001"], "name_kana": "ﾔﾏﾀﾞ　ﾀﾛｳ",
                                                          "postal_code": "１０００００１"}]})
    subject = out["document"]["subjects"][0]
    assert subject["name_kana"] == "ヤマダ タロウ" and subject["postal_code"] == "100-0001"
    with pytest.raises(InvalidRequest) as info:
        svc.update(SECOND, report["id"], {"customer": {}})
    assert info.value.details[0]["field"] == "customer"


def test_kyc_import_fills_the_report_customer_and_skips_others(world) -> None:
    svc, case_id = world
    report = svc.create_from_case(DRAFTER, case_id)
    other = {"account_id": "C-7777", "name_kanji": "他人 次郎"}
    out = svc.import_kyc(SECOND, report["id"], {"customers": [KYC, other]})
    assert out["import"] == {"records": 2, "applied": 1, "skipped_not_in_report": 1,
                             "items": sorted(set(KYC) - {"account_id"})}
    subject = out["document"]["subjects"][0]
    assert subject["name_kana"] == "ヤマダ タロウ" and subject["nationality"] == "JP"
    assert out["document"]["accounts"][0]["channel"] == "non_face_to_face"
    assert "他人" not in orjson.dumps(out["document"]).decode()
    with pytest.raises(InvalidRequest) as info:
        svc.import_kyc(SECOND, report["id"], {"customers": [{**KYC, "name_kana": "やまだ"}]})
    assert info.value.details[0]["field"] == "customers.0.name_kana"
    with pytest.raises(InvalidRequest) as info:
        svc.import_kyc(SECOND, report["id"], {"customers": [{"name_kanji": "x"}]})
    assert info.value.details[0]["field"] == "customers.0.account_id"


# -- encryption at rest and audit ---------------------------------------------------------------------------------
def test_personal_data_is_not_in_the_database_or_the_audit_log_in_clear(world, store) -> None:
    svc, case_id = world
    report = svc.create_from_case(DRAFTER, case_id)
    svc.import_kyc(SECOND, report["id"], [KYC])
    svc.view(OFFICER, report["id"])
    svc.export(OFFICER, report["id"], "xlsx")
    with store.engine.connect() as conn:
        raw = [bytes(r.content_enc) for r in conn.execute(select(str_reports.c.content_enc))]
        events_text = " ".join(r.details for r in conn.execute(select(str_report_events.c.details)))
    assert raw and all(blob[:1] == b"\x01" for blob in raw)
    for secret in SECRETS:
        encoded = secret.encode("utf-8")
        assert all(encoded not in blob for blob in raw), secret
        assert secret not in events_text, secret
        assert all(secret not in (r["details"] + r["target"]) for r in audit_text(store)), secret
    actions = [r["action"] for r in audit_text(store) if r["target"] == f"str:{report['id']}"]
    assert actions == ["str.create", "str.kyc_import", "str.view", "str.export"]
    update_record = next(r for r in audit_text(store) if r["action"] == "str.kyc_import")
    assert "subjects.0.name_kana" in orjson.loads(update_record["details"])["fields"]  # the name, not the value


def test_a_ciphertext_moved_to_another_row_or_a_wrong_key_does_not_decrypt(world, store) -> None:
    svc, case_id = world
    first = svc.create_from_case(DRAFTER, case_id)
    svc.submit(DRAFTER, first["id"])
    svc.lock(OFFICER, first["id"])
    second = svc.new_version(DRAFTER, first["id"])
    with store.engine.begin() as conn:
        blob = conn.execute(select(str_reports.c.content_enc).where(str_reports.c.id == first["id"])).scalar_one()
        conn.execute(update(str_reports).where(str_reports.c.id == second["id"]).values(content_enc=blob))
    with pytest.raises(ConfigError, match="cannot decrypt report"):
        svc.view(OFFICER, second["id"])
    stranger = StrService(store, ReportCipher(secrets.token_bytes(32)))
    with pytest.raises(ConfigError, match="not the one it was stored with"):
        stranger.view(OFFICER, first["id"])


# -- workflow -----------------------------------------------------------------------------------------------------
def test_submit_lock_four_eyes_and_locked_reports_never_change(world) -> None:
    svc, case_id = world
    report = svc.create_from_case(DRAFTER, case_id)
    rid = report["id"]
    with pytest.raises(Conflict):
        svc.lock(OFFICER, rid)  # not submitted yet
    svc.update(SECOND, rid, {"filing": {"filed_on": "2026-06-03", "place": "インターネット取引（非対面）"}})
    assert svc.submit(SECOND, rid)["state"] == "submitted"
    with pytest.raises(FourEyesRequired):
        svc.lock(SECOND, rid)  # the last editor
    svc.update(OFFICER, rid, {"reasons": {"text": "officer's own wording", "reference_cases": [{"id": "C14"}]}})
    assert svc.view(OFFICER, rid)["state"] == "draft"  # an edit sends a submitted report back to draft
    assert svc.view(OFFICER, rid)["document"]["reasons"]["auto_drafted"] is False
    svc.submit(OFFICER, rid)
    with pytest.raises(FourEyesRequired):
        svc.lock(OFFICER, rid)
    with pytest.raises(InvalidRequest):
        svc.return_to_draft(DRAFTER, rid, " ")
    assert svc.return_to_draft(DRAFTER, rid, "please cite the deposit")["state"] == "draft"
    returned = [h for h in svc.versions(OFFICER, rid)["history"] if h["action"] == "str.return"]
    assert [(h["note"], h["details"]) for h in returned] == [("please cite the deposit", {"reason_given": True})]
    with svc.engine.connect() as conn:  # the reason is kept for the authors, encrypted, never in clear
        raw = b"".join(r for r in conn.execute(select(str_report_events.c.note_enc)).scalars() if r)
        audit = " ".join(str(r) for r in conn.execute(select(audit_log.c.details)).scalars())
        history = " ".join(conn.execute(select(str_report_events.c.details)).scalars())
    assert raw and b"please cite" not in raw and "please cite" not in audit + history
    svc.submit(OFFICER, rid)
    locked = svc.lock(DRAFTER, rid)
    assert locked["state"] == "locked" and locked["locked_by"] == DRAFTER and locked["locked_at_us"]
    for attempt in (lambda: svc.update(OFFICER, rid, {"filing": {}}), lambda: svc.import_kyc(OFFICER, rid, [KYC]),
                    lambda: svc.submit(OFFICER, rid), lambda: svc.lock(SECOND, rid)):
        with pytest.raises(ReportLocked):
            attempt()


def test_new_versions_keep_history_and_diff_field_by_field(world) -> None:
    svc, case_id = world
    v1 = svc.create_from_case(DRAFTER, case_id)
    svc.import_kyc(DRAFTER, v1["id"], [KYC])
    svc.submit(DRAFTER, v1["id"])
    svc.lock(OFFICER, v1["id"])
    with pytest.raises(Conflict):
        svc.new_version(DRAFTER, svc.create_from_case(DRAFTER, case_id)["id"])  # a draft is edited, not versioned
    v2 = svc.new_version(SECOND, v1["id"])
    assert (v2["version"], v2["series_id"], v2["state"], v2["reference"]) == (2, v1["id"], "draft",
                                                                              f"STR-{v1['id']:06d} v2")
    with pytest.raises(Conflict):
        svc.new_version(SECOND, v1["id"])  # one open version at a time
    doc = svc.view(SECOND, v2["id"])["document"]
    svc.update(SECOND, v2["id"], {"filing": {**doc["filing"], "kind": "additional", "related_number": "2026-000123"},
                                  "subjects": [{**doc["subjects"][0], "occupation": "会社役員"}]})
    changes = {c["field"]: (c["before"], c["after"]) for c in svc.diff(OFFICER, v2["id"])["changes"]}
    assert changes == {"filing.kind": ("new", "additional"), "filing.related_number": (None, "2026-000123"),
                       "subjects.0.occupation": ("無職（年金受給者）", "会社役員")}
    history = svc.versions(OFFICER, v2["id"])
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert [h["action"] for h in history["history"]] == ["str.create", "str.kyc_import", "str.submit", "str.lock",
                                                         "str.version", "str.update"]
    assert history["history"][-1]["details"]["fields"] == sorted(changes)
    assert history["history"][3]["actor"] == OFFICER
    with pytest.raises(InvalidRequest):
        svc.diff(OFFICER, v1["id"])  # the first version has no predecessor


def test_flatten_and_diff_cover_added_and_removed_leaves() -> None:
    assert flatten({"a": {"b": [1, {"c": 2}]}, "d": []}) == {"a.b.0": 1, "a.b.1.c": 2, "d": []}
    assert diff({"x": [1, 2]}, {"x": [1]}) == [{"field": "x.1", "before": 2, "after": None}]


# -- exports -----------------------------------------------------------------------------------------------------
def _locked(svc: StrService, case_id: int) -> int:
    rid = int(svc.create_from_case(DRAFTER, case_id)["id"])
    svc.import_kyc(DRAFTER, rid, [KYC])
    svc.submit(DRAFTER, rid)
    svc.lock(OFFICER, rid)
    return rid


def test_the_workbook_mirrors_the_filing_program_and_a_draft_is_watermarked(world) -> None:
    svc, case_id = world
    rid = int(svc.create_from_case(DRAFTER, case_id)["id"])
    svc.import_kyc(DRAFTER, rid, [KYC])
    name, media, data = svc.export(OFFICER, rid, "xlsx")
    assert name.endswith("-draft.xlsx") and "spreadsheetml" in media
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == list(SHEETS)
    for ws in wb.worksheets:
        assert str(ws["A1"].value).startswith(EXPORT_DRAFT_MARK)
        assert "DRAFT" in ws.oddHeader.center.text
    header = wb["届出票"]
    labels = [header.cell(row=r, column=1).value for r in range(3, header.max_row + 1)]
    assert labels[:5] == ["届出年月日", "事業者名", "代表者名", "届出番号（年）", "届出番号（番号）"]
    values = {header.cell(row=r, column=1).value: header.cell(row=r, column=3).value
              for r in range(3, header.max_row + 1)}
    assert values["事業者名"] == "まもり暗号資産株式会社" and values["届出の区分"] == "新規"
    assert "C14" in values["参考事例"] and str(values["届出理由"]).startswith(DRAFT_MARK)
    kyc = {wb["取引時確認情報"].cell(row=r, column=1).value: wb["取引時確認情報"].cell(row=r, column=3).value
           for r in range(3, wb["取引時確認情報"].max_row + 1)}
    assert kyc["氏名・名称（カナ）"] == "ヤマダ タロウ" and kyc["生年月日"] == "1951-04-01" and kyc["国籍"] == "JP"
    accounts = wb["口座情報"]
    assert accounts["A3"].value == "C-1001" and accounts["D3"].value == "非対面"
    tx = wb["取引情報"]
    assert tuple(c.value for c in tx[2]) == TRANSACTION_COLUMNS
    row = {h: tx.cell(row=4, column=i + 1).value for i, h in enumerate(TRANSACTION_COLUMNS)}
    assert row["取引種別"] == "暗号資産の移転（出庫）" and row["送付先アドレス"] == DEST and row["数量"] == "0.1"
    assert row["取引年月日時刻（日本時間）"] == "2026-06-01 17:30:00"
    assert svc.view(OFFICER, rid)["state"] == "draft"  # a draft export changes nothing


def test_a_locked_report_exports_final_and_becomes_exported(world) -> None:
    svc, case_id = world
    rid = _locked(svc, case_id)
    name, _media, data = svc.export(OFFICER, rid, "xlsx")
    assert name.endswith("-final.xlsx")
    ws = openpyxl.load_workbook(io.BytesIO(data))["届出票"]
    assert str(ws["A1"].value).startswith("確定版 / FINAL") and OFFICER in str(ws["A1"].value)
    assert "DRAFT" not in str(ws["A1"].value)
    meta = svc.view(OFFICER, rid)
    assert meta["state"] == "exported" and meta["exported_by"] == OFFICER
    body = orjson.loads(svc.export(SECOND, rid, "json")[2])
    assert body["status"] == "final" and body["watermark"] is None
    assert body["document"]["subjects"][0]["name_kanji"] == "山田 太郎"
    assert locked_reports_by_case(svc.engine) == {case_id: 1}


def test_csv_utf8_with_bom_cp932_and_no_formulas(world) -> None:
    svc, case_id = world
    rid = int(svc.create_from_case(DRAFTER, case_id)["id"])
    doc = svc.view(DRAFTER, rid)["document"]
    doc["transactions"][0]["note"] = "=HYPERLINK(\"http://x\")"
    svc.update(SECOND, rid, {"transactions": doc["transactions"]})
    _name, media, data = svc.export(OFFICER, rid, "csv")
    assert media == "text/csv; charset=utf-8" and data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["状態", *TRANSACTION_COLUMNS] and len(rows) == 3
    assert {r[0] for r in rows[1:]} == {"下書き/DRAFT"}
    assert rows[1][TRANSACTION_COLUMNS.index("摘要") + 1] == "'=HYPERLINK(\"http://x\")"
    _name, media, sjis = svc.export(OFFICER, rid, "csv", encoding="cp932")
    assert media == "text/csv; charset=shift_jis"
    assert list(csv.reader(io.StringIO(sjis.decode("cp932")))) == rows
    wb = openpyxl.load_workbook(io.BytesIO(svc.export(OFFICER, rid, "xlsx")[2]))
    cell = wb["取引情報"].cell(row=3, column=TRANSACTION_COLUMNS.index("摘要") + 1)
    assert cell.data_type == "s" and cell.value == "=HYPERLINK(\"http://x\")"
    doc["transactions"][0]["note"] = "emoji 🙂"
    svc.update(SECOND, rid, {"transactions": doc["transactions"]})
    with pytest.raises(InvalidRequest, match="Shift_JIS"):
        svc.export(OFFICER, rid, "csv", encoding="cp932")


# -- contract 5 ---------------------------------------------------------------------------------------------------
def test_reports_by_case_counts_reports_not_versions(world) -> None:
    svc, case_id = world
    assert reports_by_case(svc.engine) == {} and locked_reports_by_case(svc.engine) == {}
    rid = _locked(svc, case_id)
    svc.new_version(SECOND, rid)
    svc.create_from_case(DRAFTER, case_id)
    assert reports_by_case(svc.engine) == {case_id: 2}
    assert locked_reports_by_case(svc.engine) == {case_id: 1}


# -- settings -----------------------------------------------------------------------------------------------------
def test_the_entity_comes_from_settings_and_a_bad_setting_is_named(monkeypatch) -> None:
    from mamori.aml.reporting.settings import StrSettings, entity_from_settings

    monkeypatch.setenv("MAMORI_FIRM_NAME_JA", "まもり証券")
    entity = entity_from_settings(StrSettings(head_office_postal_code="1000005", department="法務部"))
    assert (entity.name, entity.head_office_postal_code, entity.department) == ("まもり証券", "100-0005", "法務部")
    with pytest.raises(ConfigError, match="MAMORI_STR_HEAD_OFFICE_POSTAL_CODE"):
        entity_from_settings(StrSettings(head_office_postal_code="12"))


def test_without_the_audit_log_nothing_is_shown_and_changes_wait_to_be_logged(world, store) -> None:
    svc, case_id = world
    rid = int(svc.create_from_case(DRAFTER, case_id)["id"])
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE audit_log RENAME TO audit_log_away")
    try:
        with pytest.raises((StorageUnavailable, SQLAlchemyError)):  # PostgreSQL: the table is missing
            svc.view(OFFICER, rid)
        with pytest.raises(StorageUnavailable):
            svc.export(OFFICER, rid, "json")
        svc.submit(DRAFTER, rid)  # the action stands; its record waits in the outbox
    finally:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE audit_log_away RENAME TO audit_log")
    assert svc.flush_audit() == 2  # the export attempt and the submit
    assert [r["action"] for r in audit_text(store) if r["target"] == f"str:{rid}"] == [
        "str.create", "str.export", "str.submit"]
    assert store.verify_audit_chain() > 0
