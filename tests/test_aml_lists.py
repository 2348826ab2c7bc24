"""Risk lists on SQLite and PostgreSQL: imports (CSV with English or Japanese headers, JSON, STIX 2.1,
closed cases) with per-line errors, expiry, removal audited, search, export round trip, and the
screening index following list changes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from mamori.adapters.sql.schema import audit_log
from mamori.adapters.sql.store import AcceptedRecord, SqlStore
from mamori.aml.addresses import eip55, synthetic_address
from mamori.aml.imports import guess_chain, parse
from mamori.aml.model import RiskCategory
from mamori.aml.providers import ProviderUnavailable, StaticProvider
from mamori.aml.screening import Screener
from mamori.aml.screening_service import ScreeningService
from mamori.cases.model import CaseState, Disposition
from mamori.cases.service import CasesService
from mamori.cases.store import case_alerts
from mamori.cases.store import cases as cases_table
from mamori.kit.errors import InvalidAddress, InvalidRequest, UnknownChain

NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
NOW_US = int(NOW.timestamp() * 1_000_000)
TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
ETH = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
BTC = "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"


class Clock:
    def __init__(self) -> None:
        self.now = NOW_US

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    s = SqlStore(store_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def svc(store: SqlStore, clock: Clock) -> ScreeningService:
    return ScreeningService(store, clock=clock)


def audits(store: SqlStore, action: str) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.seq)).all()
    return [{"actor": r.actor, "target": r.target, "details": orjson.loads(r.details)} for r in rows]


JA_CSV = f"""チェーン,アドレス,区分,情報源,確度,有効期限,備考
TRC20,{TRON},詐欺,県警,0.9,2026-12-31,照会-2026-17
eth,{ETH},オンラインカジノ,,85%,,
bitcoin,{BTC},ミキサー,,,2026-05-01,
bitcoin,bc1qnot-an-address,scam,,,,
dogelon,abc,scam,,,,
tron,{TRON[:-1]}u,scam,,,,
,,,,,,
ethereum,{ETH},unknown-category,,,,
""".encode()


def test_japanese_csv_import_counts_lines_and_names_each_problem(svc: ScreeningService, store: SqlStore) -> None:
    report = svc.import_file(JA_CSV, "csv", source="own", actor="api-key:k1", filename="list.csv")
    assert (report.added, report.updated, report.rejected) == (3, 0, 4)
    messages = {e.line: e.message for e in report.errors}
    assert "bad character 'o'" in messages[5]
    assert "unknown chain 'dogelon'" in messages[6]
    assert "checksum" in messages[7]
    assert "unknown category" in messages[9]
    tron = svc.screen("trx", TRON)
    assert tron.category is RiskCategory.scam and tron.confidence == Decimal("0.9")
    assert tron.top is not None and tron.top.source == "県警" and tron.top.reference == "照会-2026-17"
    eth = svc.screen("ethereum", ETH.lower())
    assert eth.category is RiskCategory.online_casino and eth.confidence == Decimal("0.85")
    # expired on 2026-05-01 (end of that day, JST): the entry is kept but no longer matches
    assert not svc.screen("bitcoin", BTC).listed
    assert [a["details"] for a in audits(store, "aml.lists.import")] == [
        {"format": "csv", "added": 3, "updated": 0, "rejected": 4}]
    assert "TR7N" not in orjson.dumps(audits(store, "aml.lists.import")).decode()


def test_reimport_updates_instead_of_duplicating(svc: ScreeningService) -> None:
    svc.import_file(JA_CSV, "csv", source="own", actor="a")
    again = svc.import_file(JA_CSV, "csv", source="own", actor="a")
    assert (again.added, again.updated) == (0, 3)
    other = svc.import_file(f"chain,address,category\ntron,{TRON},sanctioned\n".encode(), "csv", source="ofac",
                            actor="a")
    assert other.added == 1
    hits = svc.screen("tron", TRON).hits
    assert [h.category for h in hits] == [RiskCategory.sanctioned, RiskCategory.scam]  # strongest first


def test_expiry_is_respected_as_time_passes(svc: ScreeningService, clock: Clock) -> None:
    svc.import_file(f"chain,address,category,expires_at\ntron,{TRON},scam,2026-06-02T00:00:00Z\n".encode(), "csv",
                    source="s", actor="a")
    assert svc.screen("tron", TRON).listed
    clock.now += 2 * 86_400_000_000
    assert not svc.screen("tron", TRON).listed  # same index, entry past its expiry


def test_json_and_entities(svc: ScreeningService) -> None:
    doc = {"entries": [{"chain": "sol", "address": "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA", "category": "darknet"},
                       {"name": "髙橋 一郎", "aliases": ["タカハシ イチロウ", "Ichiro Takahashi"],
                        "category": "sanctioned", "reference": "MOF-123"},
                       {"name": "x", "category": "scam", "confidence": "150"}, "not an object"]}
    report = svc.import_file(orjson.dumps(doc), "json", source="mof", actor="a")
    assert (report.added, report.rejected) == (2, 2)
    assert "outside 0–1" in report.errors[0].message and "JSON object" in report.errors[1].message
    assert svc.screen("solana", "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA").category is RiskCategory.darknet
    hits = svc.screen_names(["高橋一郎"], actor="a")
    assert hits and hits[0].entry.reference == "MOF-123"
    assert any("髙→高" in r for r in hits[0].match.reasons)
    assert svc.screen_names(["Takahashi Ichirou"], actor="a")[0].entry.name == "髙橋 一郎"
    assert svc.screen_names(["高橋二郎", "Jiro Takahashi"], actor="a") == []


STIX = {
    "type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [
        {"type": "identity", "id": "identity--11111111-1111-4111-8111-111111111111", "name": "JPCERT-like feed",
         "identity_class": "organization", "spec_version": "2.1"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--22222222-2222-4222-8222-222222222222",
         "created_by_ref": "identity--11111111-1111-4111-8111-111111111111", "labels": ["online-casino"],
         "pattern": f"[cryptocurrency-wallet:address = '{TRON}'] OR [cryptocurrency-wallet:address = '{ETH}']",
         "pattern_type": "stix", "valid_from": "2026-05-01T00:00:00Z", "confidence": 70},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--33333333-3333-4333-8333-333333333333",
         "pattern": "[x-btc-address:value = '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa']", "pattern_type": "stix",
         "x_mamori_category": "ransomware", "valid_from": "2026-05-01T00:00:00Z",
         "valid_until": "2026-05-02T00:00:00Z"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--44444444-4444-4444-8444-444444444444",
         "pattern": "[ipv4-addr:value = '203.0.113.5']", "pattern_type": "stix", "valid_from": "2026-05-01T00:00:00Z"},
    ]}


def test_stix_bundle_import(svc: ScreeningService) -> None:
    report = svc.import_file(orjson.dumps(STIX), "stix", source="feed", actor="a")
    assert (report.added, report.rejected) == (3, 1)
    assert "no cryptocurrency address" in report.errors[0].message
    tron = svc.screen("tron", TRON)
    assert tron.category is RiskCategory.online_casino and tron.confidence == Decimal("0.7")
    assert tron.top is not None and tron.top.source == "JPCERT-like feed"
    assert svc.screen("ethereum", ETH).category is RiskCategory.online_casino  # chain recognised from the format
    assert not svc.screen("bitcoin", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa").listed  # valid_until passed


def test_bad_files_are_refused_with_a_clear_error(svc: ScreeningService) -> None:
    with pytest.raises(InvalidRequest, match="unknown CSV column"):
        svc.import_file(b"chain,addr,colour\n", "csv", source="s", actor="a")
    with pytest.raises(InvalidRequest, match="not valid JSON"):
        svc.import_file(b"{", "json", source="s", actor="a")
    with pytest.raises(InvalidRequest, match="must be a bundle"):
        svc.import_file(b'{"type": "indicator"}', "stix", source="s", actor="a")
    with pytest.raises(InvalidRequest, match="not UTF-8"):
        svc.import_file(b"\xff\xfe\x00", "csv", source="s", actor="a")
    with pytest.raises(InvalidRequest, match="unknown list format"):
        svc.import_file(b"", "xml", source="s", actor="a")
    entries, errors = parse(b"address,category\n" + TRON.encode() + b",scam\n", "csv", source="s")
    assert entries == [] and "needs its chain" in errors[0].message


def test_remove_is_audited_and_search_and_export_round_trip(svc: ScreeningService, store: SqlStore) -> None:
    svc.import_file(JA_CSV, "csv", source="own", actor="a")
    found = svc.search(actor="api-key:k2", text="TR7N")
    assert [e.address for e in found] == [TRON]
    assert svc.search(actor="a", category="online_casino", chain="eth")[0].address == ETH.lower()
    exported = b"".join(svc.export(actor="a", fmt="csv", active_only=False))
    assert exported.count(b"\n") == 4
    removed = svc.remove([found[0].id or 0], actor="api-key:k2")
    assert [e.id for e in removed] == [found[0].id]
    assert not svc.screen("tron", TRON).listed
    [record] = audits(store, "aml.lists.remove")
    assert record["actor"] == "api-key:k2" and record["details"]["ids"] == [found[0].id]
    assert audits(store, "aml.lists.search")[0]["details"]["results"] == 1
    report = svc.import_file(exported, "csv", source="restored", actor="a")
    assert (report.added, report.updated, report.rejected) == (1, 2, 0)  # rows keep their own source
    assert svc.screen("tron", TRON).listed


def test_csv_export_defuses_spreadsheet_formulas(svc: ScreeningService) -> None:
    svc.import_file(b'name,category\n"=HYPERLINK(""x"")",scam\n', "csv", source="s", actor="a")
    exported = b"".join(svc.export(actor="a")).decode()
    assert "'=HYPERLINK" in exported


def test_another_process_changing_the_lists_is_picked_up(store: SqlStore, svc: ScreeningService) -> None:
    other = ScreeningService(store)
    svc.screener.refresh_every_s = 0.0
    other.import_file(f"chain,address,category\ntron,{TRON},mixer\n".encode(), "csv", source="s", actor="a")
    assert svc.screen("tron", TRON).category is None  # a screening never reads the store (it runs per event)
    svc.screener.maybe_refresh()  # what the server's background loop does every few seconds
    assert svc.screen("tron", TRON).category is RiskCategory.mixer


def _withdrawal(account: str, at_us: int, chain: str, address: str) -> AcceptedRecord:
    event_id = f"ev-{uuid.uuid4().hex[:12]}"
    payload = {"id": event_id, "type": "crypto_withdrawal", "account_id": account, "chain": chain, "address": address,
               "asset": "USDT", "amount": "100", "transfer_id": event_id, "ip": "126.1.2.3"}
    body = {"event_id": event_id, "decision": "hold", "score": 70, "rules": [{"id": "R", "tags": []}], "features": {}}
    return AcceptedRecord(event_id=event_id, event_type="crypto_withdrawal", account_id=account, occurred_at_us=at_us,
                          received_at_us=at_us, payload=orjson.dumps(payload).decode(), decision="hold", score=70,
                          ruleset="test", alert=True, rule_ids=("R",), body=orjson.dumps(body).decode(),
                          decided_at_us=at_us)


def test_destinations_of_closed_fraud_cases_become_list_entries(store: SqlStore, svc: ScreeningService,
                                                                 tmp_path: Path) -> None:
    fraud_dest = synthetic_address("tron", b"fraud")
    legit_dest = synthetic_address("ethereum", b"legit")
    store.write_accepted([_withdrawal("V1", NOW_US - 3_600_000_000, "tron", fraud_dest),
                          _withdrawal("L1", NOW_US - 3_600_000_000, "ethereum", "0x" + eip55(legit_dest[2:]))])
    cases = CasesService(store, tmp_path / "data", clock=lambda: NOW_US)
    cases.refresh()
    with store.engine.connect() as conn:
        rows = conn.execute(select(cases_table.c.id, case_alerts.c.account_id).join(
            case_alerts, case_alerts.c.case_id == cases_table.c.id).where(cases_table.c.kind == "account")).all()
    case_of = {account: case_id for case_id, account in rows}
    cases.transition("api-key:k", case_of["V1"], CaseState.CLOSED, disposition=Disposition.FRAUD_ATTEMPT_BLOCKED)
    cases.transition("api-key:k", case_of["L1"], CaseState.CLOSED, disposition=Disposition.LEGITIMATE)
    report = svc.import_closed_cases(actor="api-key:k")
    assert report.added == 1
    hit = svc.screen("tron", fraud_dest)
    assert hit.category is RiskCategory.fraud_collection
    assert hit.top is not None and hit.top.reference == f"case:{case_of['V1']}" and hit.top.source == "mamori-cases"
    assert not svc.screen("ethereum", legit_dest).listed
    assert svc.import_closed_cases(actor="api-key:k").updated == 1  # idempotent


def test_providers_are_merged_and_an_unavailable_one_is_reported() -> None:
    class Down:
        name = "vendor-x"

        def attribute(self, chain: str, address: str) -> list[Any]:
            raise ProviderUnavailable("timeout after 2 s")

    vendor = StaticProvider("vendor-y", {("tron", TRON): RiskCategory.sanctioned})
    screener = Screener.from_entries([], providers=[vendor, Down()])
    result = screener.screen("tron", TRON)
    assert result.category is RiskCategory.sanctioned and result.top is not None
    assert result.top.provider == "vendor-y"
    assert result.errors == ("vendor-x: timeout after 2 s",)
    with pytest.raises(UnknownChain):
        screener.screen("nochain", TRON)
    with pytest.raises(InvalidAddress):
        screener.screen("tron", "T123")


def test_guess_chain_from_the_address_format() -> None:
    assert guess_chain(ETH) == "ethereum"
    assert guess_chain(BTC) == "bitcoin"
    assert guess_chain(TRON) == "tron"
    assert guess_chain("rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh") == "xrp"
    assert guess_chain("not-an-address") is None


def test_bench_smoke() -> None:
    from mamori.bench.aml_screen_bench import run_screen_bench

    result = run_screen_bench(entries=500, lookups=2000, hit_share=0.5)
    assert 0.35 < result["hit_ratio"] < 0.65
    assert result["screenings_per_s"] > 0


def test_decimal_and_dates_kept_exact() -> None:
    entries, errors = parse(f"chain,address,category,confidence,first_seen\ntron,{TRON},scam,0.3333,2026/05/01\n"
                            .encode(), "csv", source="s")
    assert not errors
    assert entries[0].confidence == Decimal("0.3333")
    assert entries[0].first_seen == datetime(2026, 4, 30, 15, 0, tzinfo=UTC)
    assert entries[0].first_seen + timedelta(hours=9) == datetime(2026, 5, 1, 0, 0, tzinfo=UTC)
