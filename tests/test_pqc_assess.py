"""The PQC register, classification, risk, roadmap and outputs as the FSA's workflow uses them: inventory per
information asset, risk evaluation (HNDL, Mosca), the three axes (猶予期間・攻撃リスク・情報の重要度), the
roadmap, the ledger workbook, the CI gate, and the HTTP API over a real loopback server."""

from __future__ import annotations

import datetime as dt
import io
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import create_engine

from mamori.adapters.sql.store import SqlStore
from mamori.kit.errors import ConfigError, MamoriError, NotFound, Unauthenticated
from mamori.pqc.model import CryptoFinding, ScanResult
from mamori.pqc.policy_data import classify, deadline_table, default_policy, load_policy
from mamori.pqc.register import Asset, LocationMatcher, PqcRegister
from mamori.pqc.report import (
    GATE_DEADLINE_MISSED,
    GATE_DEPRECATED,
    GATE_DISALLOWED,
    GATE_PASS,
    GATE_QUANTUM_VULNERABLE,
    GATE_UNKNOWN,
    SHEETS,
    evaluate_gate,
    gate,
    write_json_report,
    write_workbook,
)
from mamori.pqc.risk import Assessor, assess_asset, hndl_exposed, summarise
from mamori.pqc.roadmap import japanese_font, plan_roadmap, render_gantt

GOLDEN = Path(__file__).parent / "golden" / "pqc_deadlines.json"
TODAY = dt.date(2026, 11, 21)
POLICY = default_policy()
MEDIAN = POLICY.scenario("median")


def f(primitive: str, algorithm: str, parameter: str = "", context: str = "", *, location: str = "h.example.jp:443",
      source: str = "tls", **detail: Any) -> CryptoFinding:
    return CryptoFinding(source=source, location=location, primitive=primitive, algorithm=algorithm,  # type: ignore[arg-type]
                         parameter=parameter, context=context, detail=detail)


# -- classification ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("primitive", "algorithm", "parameter", "status", "deprecated", "disallowed"), [
    # quantum-vulnerable public-key cryptography (NIST IR 8547 ipd Tables 2 and 4)
    ("signature", "RSA", "2048", "quantum-vulnerable", 2030, 2035),
    ("key-exchange", "RSA", "4096", "quantum-vulnerable", None, 2035),
    ("signature", "ECDSA", "P-256", "quantum-vulnerable", None, 2035),  # 128-bit: not "deprecated 2030"
    ("key-exchange", "ECDH", "P-224", "quantum-vulnerable", 2030, 2035),  # 112-bit
    ("key-exchange", "X25519", "Curve25519", "quantum-vulnerable", None, 2035),
    ("signature", "ssh-ed25519", "", "quantum-vulnerable", None, 2035),
    ("key-exchange", "diffie-hellman-group14-sha256", "", "quantum-vulnerable", 2030, 2035),
    ("key-exchange", "ffdhe3072", "", "quantum-vulnerable", None, 2035),
    # hybrid key exchange
    ("key-exchange", "X25519MLKEM768", "768", "hybrid", None, None),
    ("key-exchange", "SecP384r1MLKEM1024", "", "hybrid", None, None),
    ("key-exchange", "mlkem768x25519-sha256", "", "hybrid", None, None),
    # post-quantum and symmetric
    ("key-exchange", "MLKEM1024", "1024", "quantum-safe", None, None),
    ("signature", "ML-DSA-65", "", "quantum-safe", None, None),
    ("signature", "SLH-DSA", "SHAKE-256f", "quantum-safe", None, None),
    ("signature", "XMSS", "", "quantum-safe", None, None),
    ("cipher", "AES", "256", "quantum-safe", None, None),
    ("cipher", "aes128-gcm", "", "quantum-safe", None, None),
    ("hash", "SHA-384", "", "quantum-safe", None, None),
    # broken classically or already disallowed
    ("hash", "MD5", "", "disallowed", None, None),
    ("certificate", "sha1WithRSAEncryption", "", "disallowed", None, 2013),
    ("cipher", "RC4", "128", "disallowed", None, None),
    ("cipher", "3DES", "168", "disallowed", None, 2023),
    ("signature", "RSA", "1024", "disallowed", None, 2013),
    ("protocol", "TLS", "1.0", "disallowed", None, None),
    ("protocol", "TLS", "SSL 3.0", "disallowed", None, None),
    ("signature", "DSA", "2048", "disallowed", None, 2023),  # FIPS 186-5: no DSA signature generation
    # weakening: SHA-1 outside signatures, 224-bit hashes
    ("mac", "HMAC", "SHA-1", "deprecated", None, 2030),
    ("hash", "SHA-224", "", "deprecated", None, 2030),
    # containers and unknowns
    ("protocol", "TLS", "1.2", "quantum-vulnerable", None, 2035),
    ("protocol", "TLS", "1.3", "not-applicable", None, None),
    ("key", "FrobCipher", "", "unknown", None, None),
])
def test_given_an_algorithm_when_classified_then_status_and_nist_dates_follow_the_policy(
        primitive: str, algorithm: str, parameter: str, status: str, deprecated: int | None,
        disallowed: int | None) -> None:
    c = classify(f(primitive, algorithm, parameter))
    assert (c.status, c.deprecated_after, c.disallowed_after) == (status, deprecated, disallowed), c
    assert c.rule_id and (c.sources or status == "unknown")
    assert all(s in POLICY.sources for s in c.sources)


def test_aes128_is_quantum_safe_with_a_note_and_only_aes256_meets_cnsa2() -> None:
    aes128, aes256 = classify(f("cipher", "AES", "128")), classify(f("cipher", "AES", "256"))
    assert aes128.status == aes256.status == "quantum-safe"
    assert (aes128.nist_category, aes256.nist_category) == (1, 5)
    assert "Grover" in aes128.note_en and "CNSA 2.0" in aes128.note_en and "Grover" in aes128.note_ja
    assert not aes128.cnsa2 and aes256.cnsa2
    assert not aes128.needs_migration


def test_a_sha1_signed_certificate_is_disallowed_even_when_reported_as_its_key_family() -> None:
    c = classify(f("certificate", "RSA", "2048", "certificate[0] signature", hash="SHA-1"))
    assert (c.status, c.rule_id) == ("disallowed", "sha1-signature")
    assert c.name == "RSA-2048 with SHA-1"
    assert classify(f("certificate", "RSA", "2048", "certificate[0] signature", hash="SHA-256")).status == \
        "quantum-vulnerable"


def test_a_tls12_cipher_suite_takes_the_status_of_its_weakest_part() -> None:
    suite = classify(f("protocol", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"))
    assert (suite.status, suite.rule_id, suite.disallowed_after) == ("disallowed", "cipher-suite/tdea", 2023)
    assert classify(f("protocol", "TLS_AES_256_GCM_SHA384")).status == "quantum-safe"


def test_golden_deadline_table_matches_the_computed_one() -> None:
    """NIST IR 8547 ipd: 112-bit (RSA-2048, DH-2048, P-224) deprecated after 2030 / disallowed after 2035,
    128-bit and above (RSA-3072, P-256, X25519, Ed25519) disallowed after 2035; SP 800-131A for the rest."""
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    computed = deadline_table()
    assert [(g["primitive"], g["algorithm"], g["parameter"]) for g in golden] == \
        [(c["primitive"], c["algorithm"], c["parameter"]) for c in computed]
    for g, c in zip(golden, computed, strict=True):
        assert c == g, f"{g['algorithm']} {g['parameter']}: expected {g}, computed {c}"
    by_key = {(g["algorithm"], g["parameter"]): g for g in golden}
    assert (by_key[("RSA", "2048")]["deprecated_after"], by_key[("RSA", "2048")]["disallowed_after"]) == (2030, 2035)
    assert by_key[("ECDSA", "P-256")]["deprecated_after"] is None  # the common misreading, pinned


def test_policy_cites_its_sources_and_rejects_a_rule_citing_an_unknown_one(tmp_path: Path) -> None:
    for needed in ("nist-ir-8547-ipd", "nist-sp-800-131a-r2", "cryptrec-ls-0001-2022", "nsa-cnsa-2.0",
                   "fsa-pqc-report-2024", "mosca-2015", "gri-qtt-2024"):
        assert POLICY.sources[needed].url.startswith("https://")
    assert {s.name: s.year for s in POLICY.scenarios.values()} == {"optimistic": 2040, "median": 2035,
                                                                  "pessimistic": 2030}
    text = (Path(__file__).parents[1] / "src/mamori/pqc/policy.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "policy.yaml"
    bad.write_text(text.replace("sources: [rfc-7465, cryptrec-ls-0001-2022]", "sources: [rfc-7465, no-such-doc]"),
                   encoding="utf-8")
    with pytest.raises(ConfigError, match="no-such-doc"):
        load_policy(bad)


# -- Mosca and HNDL ---------------------------------------------------------------------------------------
CUSTOMER_TLS_X25519 = [f("key-exchange", "X25519", "Curve25519", "tls-1.3 supported group")]
CUSTOMER_TLS_HYBRID = [f("key-exchange", "X25519MLKEM768", "768", "tls-1.3 supported group")]
SIGNATURE_ONLY = [f("certificate", "ECDSA", "P-256", "certificate[0] signature")]


def test_ten_year_customer_data_behind_x25519_is_hndl_exposed_under_the_median_scenario() -> None:
    assert hndl_exposed(CUSTOMER_TLS_X25519, confidentiality_years=10, today=TODAY, scenario=MEDIAN)


def test_the_same_system_behind_x25519mlkem768_is_not_exposed() -> None:
    assert not hndl_exposed(CUSTOMER_TLS_HYBRID, confidentiality_years=10, today=TODAY, scenario=MEDIAN)


def test_a_signature_only_use_is_not_hndl() -> None:
    assert not hndl_exposed(SIGNATURE_ONLY, confidentiality_years=10, today=TODAY, scenario=MEDIAN)


@pytest.mark.parametrize(("scenario", "years", "hndl", "mosca"), [
    ("median", 10, True, True),        # 2026.9 + 10 > 2035; 10 + 1 > 8.1
    ("optimistic", 10, False, False),  # 2036.9 < 2040; 11 < 13.1
    ("optimistic", 13, False, True),   # 2039.9 < 2040, yet 13 + 1 > 13.1: migration must start now
    ("pessimistic", 4, True, True),    # 2030.9 > 2030
    ("median", 0, False, False),       # nothing to keep secret
])
def test_mosca_and_hndl_follow_the_scenario(scenario: str, years: float, hndl: bool, mosca: bool) -> None:
    asset = Asset("portal", confidentiality_years=years, exposure="internet", asset_type="web")
    risk = assess_asset(asset, summarise(CUSTOMER_TLS_X25519), today=TODAY, scenario=POLICY.scenario(scenario))
    assert risk.y == 1 and risk.z == pytest.approx(POLICY.scenario(scenario).year - 2026.89, abs=0.01)
    assert (risk.hndl_now, risk.mosca_exposed) == (hndl, mosca)


def test_an_offline_asset_is_not_harvestable_now() -> None:
    asset = Asset("vault", confidentiality_years=30, exposure="offline")
    assert assess_asset(asset, summarise(CUSTOMER_TLS_X25519), today=TODAY, scenario=MEDIAN).hndl_now is False


# -- the three axes -------------------------------------------------------------------------------------------
def test_priority_axes_score_and_explain_in_japanese_and_english() -> None:
    portal = Asset("web-portal", system="インターネット取引", data_class="customer", data_held="顧客情報",
                   confidentiality_years=10, exposure="internet", asset_type="web",
                   next_renewal=dt.date(2029, 4, 1))
    risk = assess_asset(portal, summarise(CUSTOMER_TLS_X25519 + SIGNATURE_ONLY), today=TODAY, scenario=MEDIAN)
    # 猶予期間: due 2025-01-01 (CRQC 2035 - 10 years), so already late
    assert (risk.grace.score, risk.due) == (5, dt.date(2025, 1, 1))
    assert "着手期限" in risk.grace.reason_ja and "10 years of confidentiality" in risk.grace.reason_en
    # 攻撃リスク: internet 3 + vulnerable key exchange on the wire + HNDL = 5
    assert risk.attack.score == 5
    assert "HNDL" in risk.attack.reason_ja and "X25519" in risk.attack.reason_en
    # 情報の重要度: customer data class 4, 10 years -> 4
    assert risk.importance.score == 4 and "顧客情報" in risk.importance.reason_ja
    assert (risk.priority, risk.band) == (92, "high")
    assert "x（機密保持10年）" in risk.mosca_ja


def test_a_renewal_after_the_latest_start_raises_the_grace_axis() -> None:
    batch = Asset("batch", confidentiality_years=0, exposure="internal", asset_type="batch",
                  next_renewal=dt.date(2034, 4, 1))
    risk = assess_asset(batch, summarise([f("signature", "RSA", "3072", location="batch")]), today=TODAY,
                        scenario=MEDIAN)
    # signatures only: done by the CRQC (2035-01-01), 2 years to migrate -> start by 2033: 6.1 years left = 2, +1
    assert risk.grace.score == 3
    assert "+1" in risk.grace.reason_ja and "cannot wait for the renewal" in risk.grace.reason_en


def test_a_safe_asset_has_no_priority_and_an_uninventoried_one_is_scored_as_vulnerable() -> None:
    safe = assess_asset(Asset("pq"), summarise(CUSTOMER_TLS_HYBRID), today=TODAY, scenario=MEDIAN)
    assert (safe.state, safe.priority, safe.band, safe.due) == ("safe", 0, "none", None)
    unknown = assess_asset(Asset("dark", exposure="internet", confidentiality_years=10), None, today=TODAY,
                           scenario=MEDIAN)
    assert unknown.state == "not-inventoried" and unknown.hndl_now is None and unknown.priority > 50
    assert "棚卸し未実施" in unknown.grace.reason_ja


# -- roadmap --------------------------------------------------------------------------------------------------
def _risk(asset: Asset, findings: list[CryptoFinding]) -> Any:
    return assess_asset(asset, summarise(findings), today=TODAY, scenario=MEDIAN)


def test_roadmap_puts_pki_roots_and_hsm_firmware_before_the_applications_that_depend_on_them() -> None:
    kex = CUSTOMER_TLS_X25519
    root = Asset("pki-root", asset_type="pki-root", exposure="internal")
    hsm = Asset("hsm-fw", asset_type="hsm", exposure="offline")
    portal = Asset("web-portal", asset_type="web", exposure="internet", confidentiality_years=10,
                   data_class="customer", depends_on=("pki-root", "hsm-fw"))
    other = Asset("intranet", asset_type="web", exposure="internal", confidentiality_years=1)
    done = Asset("done", asset_type="web")
    risks = [_risk(portal, kex), _risk(other, kex), _risk(root, SIGNATURE_ONLY), _risk(hsm, SIGNATURE_ONLY),
             _risk(done, CUSTOMER_TLS_HYBRID)]
    plan = plan_roadmap(risks, today=TODAY, scenario=MEDIAN)
    order = [i.asset_id for i in plan.items]
    assert "done" not in order
    assert order.index("pki-root") < order.index("web-portal") and order.index("hsm-fw") < order.index("web-portal")
    # the prerequisites of the most urgent item inherit its priority, so they come before "intranet"
    assert order.index("hsm-fw") < order.index("intranet") and order.index("pki-root") < order.index("intranet")
    items = {i.asset_id: i for i in plan.items}
    assert items["web-portal"].start >= max(items["pki-root"].finish, items["hsm-fw"].finish)
    assert items["web-portal"].meets_deadline is False  # HNDL-exposed: its deadline (2025) has passed
    assert items["pki-root"].meets_deadline is True and items["pki-root"].target_year == 2029
    assert plan.waves()[0][0] == 1 and not plan.problems


def test_roadmap_aligns_to_a_renewal_that_fits_and_reports_cycles_and_unknown_dependencies() -> None:
    core = Asset("core", asset_type="mainframe", confidentiality_years=0, next_renewal=dt.date(2033, 4, 1))
    a = Asset("a", depends_on=("b",))
    b = Asset("b", depends_on=("a", "ghost"))
    plan = plan_roadmap([_risk(core, SIGNATURE_ONLY), _risk(a, SIGNATURE_ONLY), _risk(b, SIGNATURE_ONLY)],
                        today=TODAY, scenario=MEDIAN)
    items = {i.asset_id: i for i in plan.items}
    assert items["core"].aligned_to_renewal and items["core"].finish == dt.date(2033, 4, 1)
    assert items["core"].start == dt.date(2028, 4, 1)  # 5 years of mainframe migration before the renewal
    assert any("cycle" in p for p in plan.problems) and any("ghost" in p for p in plan.problems)
    assert set(items) == {"core", "a", "b"}


def test_gantt_chart_is_a_png_with_labels_in_the_language_the_fonts_allow(tmp_path: Path) -> None:
    risks = [_risk(Asset(f"sys-{i}", asset_type="web", exposure="internet", confidentiality_years=i),
                   CUSTOMER_TLS_X25519) for i in range(5)]
    info = render_gantt(plan_roadmap(risks, today=TODAY, scenario=MEDIAN), tmp_path / "gantt.png", max_rows=3)
    with Image.open(info.path) as img:
        assert img.format == "PNG" and img.size[0] == 1400
    assert (info.rows, info.hidden) == (3, 2)
    assert info.japanese is (japanese_font() is not None)


# -- register -------------------------------------------------------------------------------------------------
@pytest.fixture
def register(store_url: str) -> Iterator[PqcRegister]:
    store = SqlStore(store_url)
    try:
        yield PqcRegister(store.engine)
    finally:
        store.close()


def test_register_deduplicates_findings_across_scans_and_diffs_them(register: PqcRegister) -> None:
    loc = "trade.example.jp:443"
    before = ScanResult("tls", loc, (
        f("key-exchange", "X25519", "Curve25519", "tls-1.3 supported group", location=loc),
        f("certificate", "ECDSA", "P-256", "certificate[0] signature", location=loc, not_after="2027-01-01"),
        f("protocol", "TLS", "1.2", "tls version", location=loc),
        f("protocol", "TLS", "1.2", "tls version", location=loc)))  # a duplicate inside one scan
    after = ScanResult("tls", loc, (
        f("key-exchange", "X25519MLKEM768", "768", "tls-1.3 supported group", location=loc),
        f("certificate", "ECDSA", "P-256", "certificate[0] signature", location=loc, not_after="2028-01-01"),
        f("protocol", "TLS", "1.3", "tls version", location=loc)))
    a, b = register.record_scan(before), register.record_scan(after)
    assert (register.get_scan(a).findings, register.get_scan(b).new_findings) == (3, 2)
    everything = list(register.iter_findings(current_only=False))
    assert len(everything) == 5  # the certificate once, with its first and last scans
    cert = next(s for s in everything if s.finding.primitive == "certificate")
    assert (cert.first_seen_scan, cert.last_seen_scan) == (a, b)
    current = {s.finding.algorithm for s in register.iter_findings()}
    assert current == {"X25519MLKEM768", "ECDSA", "TLS"}
    assert {s.finding.parameter for s in register.iter_findings() if s.finding.algorithm == "TLS"} == {"1.3"}

    d = register.diff(a, b)
    changes = {(c.before.algorithm, c.before.parameter, c.after.algorithm, c.after.parameter): c.what
               for c in d.changed}
    assert changes == {("X25519", "Curve25519", "X25519MLKEM768", "768"): ("algorithm", "parameter"),
                       ("ECDSA", "P-256", "ECDSA", "P-256"): ("detail",),
                       ("TLS", "1.2", "TLS", "1.3"): ("parameter",)}
    assert (d.added, d.removed, d.unchanged) == ((), (), 0)
    assert register.diff(b, b).unchanged == 3
    with pytest.raises(NotFound):
        register.diff(a, 999)


def test_register_streams_assets_and_links_findings_by_location_pattern(register: PqcRegister) -> None:
    assets = [Asset(f"a{i:03d}", locations=(f"host{i}.example.jp",)) for i in range(25)]
    assets.append(Asset("nginx", locations=("/etc/nginx/*",), depends_on=("a001",), next_renewal=dt.date(2030, 1, 1)))
    assets.append(Asset("payments", locations=("src/payments/**",)))
    assert register.upsert_assets(assets, batch=7) == 27
    assert register.upsert_assets([Asset("a000", system="renamed")]) == 1
    assert register.count_assets() == 27 and register.get_asset("a000").system == "renamed"
    assert [a.asset_id for a in register.iter_assets(batch=4)][:3] == ["a000", "a001", "a002"]
    assert [a.asset_id for a in register.iter_assets(after="a023", limit=2)] == ["a024", "nginx"]
    nginx = register.get_asset("nginx")
    assert nginx.depends_on == ("a001",) and nginx.next_renewal == dt.date(2030, 1, 1)
    m = register.matcher()
    assert m.match("host3.example.jp:443") == ["a003"]
    assert m.match("host33.example.jp:443") == []
    assert m.match("/etc/nginx/nginx.conf:12") == ["nginx"]
    assert m.match("/etc/nginx/sites/x.conf") == []  # * stays within one directory
    assert m.match("src/payments/api/v1/sign.py:40") == ["payments"]
    assert m.match("a005") == ["a005"]  # asset-list findings carry the asset id


def test_location_patterns_match_literals_ports_and_globs() -> None:
    m = LocationMatcher()
    m.add("portal", "trade.example.jp:443")
    m.add("all-web", "*.example.jp:443")
    m.add("pem", "/etc/ssl/*.pem")
    assert sorted(m.match("trade.example.jp:443")) == ["all-web", "portal"]
    assert m.match("trade.example.jp:8443") == []
    assert m.match("/etc/ssl/root.pem:3") == ["pem"]


def test_assets_accept_japanese_keys_and_reject_bad_values() -> None:
    a = Asset.from_mapping({"資産ID": "core", "システム名": "勘定系", "機密保持年数": "20年", "公開範囲": "社内",
                            "次回更改": "2031-04", "依存先": "hsm-fw;pki-root", "所在パターン": "core01"})
    assert (a.asset_id, a.confidentiality_years, a.exposure, a.next_renewal, a.depends_on, a.locations) == (
        "core", 20.0, "internal", dt.date(2031, 4, 1), ("hsm-fw", "pki-root"), ("core01",))
    with pytest.raises(ValueError, match="exposure"):
        Asset.from_mapping({"asset_id": "x", "exposure": "moon"})
    with pytest.raises(ValueError, match="itself"):
        Asset("x", depends_on=("x",))


# -- outputs ---------------------------------------------------------------------------------------------------
@pytest.fixture
def populated(tmp_path: Path) -> Iterator[PqcRegister]:
    store = SqlStore(f"sqlite:///{tmp_path / 'mamori.db'}")
    reg = PqcRegister(store.engine)
    reg.upsert_assets([
        Asset("pki-root", system="社内認証局", asset_type="pki-root", locations=("/etc/pki/**",)),
        Asset("web-portal", system="インターネット取引", asset_type="web", exposure="internet", data_class="customer",
              data_held="顧客情報", confidentiality_years=10, depends_on=("pki-root",),
              locations=("trade.example.jp",)),
        Asset("batch", system="夜間バッチ", asset_type="batch", locations=("src/batch/**",)),
        Asset("unscanned", system="未調査"),
    ])
    reg.record_scan(ScanResult("tls", "trade.example.jp:443", (
        f("key-exchange", "X25519", "Curve25519", "tls-1.3 supported group", location="trade.example.jp:443"),
        f("certificate", "ECDSA", "P-256", "certificate[0] signature", location="trade.example.jp:443"))))
    reg.record_scan(ScanResult("file", "/etc/pki", (
        f("certificate", "RSA", "2048", "certificate signature", location="/etc/pki/root.pem", source="file"),)))
    reg.record_scan(ScanResult("code", "src", (
        f("hash", "MD5", "", "hashlib.md5()", location="src/batch/job.py:3", source="code"),
        f("cipher", "AES", "128", "", location="lib/orphan.py:1", source="code"))))
    yield reg
    store.close()


def test_workbook_has_the_ledger_sheets_with_japanese_headers(populated: PqcRegister, tmp_path: Path) -> None:
    path = tmp_path / "ledger.xlsx"
    summary = write_workbook(populated, path, today=TODAY)
    assert (summary.assets, summary.findings, summary.unlinked_findings, summary.hndl_assets) == (4, 5, 1, 1)
    wb = load_workbook(path, read_only=True)
    assert wb.sheetnames == list(SHEETS)
    assert [s.split()[0] for s in SHEETS] == ["資産台帳", "暗号一覧", "リスク評価", "移行計画", "出典"]
    rows = {name: list(wb[name].iter_rows(values_only=True)) for name in SHEETS}
    assert rows["資産台帳 Assets"][0][:2] == ("資産ID", "システム名") and rows["資産台帳 Assets"][1][0] == "Asset ID"
    assert {r[0] for r in rows["資産台帳 Assets"][2:]} == {"pki-root", "web-portal", "batch", "unscanned"}
    crypto_head = rows["暗号一覧 Cryptography"][0]
    assert "判定" in crypto_head and "使用不可（年以降）" in crypto_head and "HNDL" in crypto_head
    x25519 = next(r for r in rows["暗号一覧 Cryptography"][2:] if r[4] == "X25519")
    assert x25519[0] == "web-portal" and x25519[8] == "量子脆弱" and x25519[13] == 2035
    assert x25519[14].startswith("対象（要対策）")
    risk_head = rows["リスク評価 Risk"][0]
    assert {"猶予期間", "攻撃リスク", "情報の重要度", "Mosca x+y>z", "HNDL対象"} <= set(risk_head)
    portal = next(r for r in rows["リスク評価 Risk"][2:] if r[0] == "web-portal")
    assert portal[risk_head.index("優先度")] == 92
    roadmap = [r[2] for r in rows["移行計画 Roadmap"][2:] if r and r[2]]
    assert roadmap.index("pki-root") < roadmap.index("web-portal") and "unscanned" in roadmap
    sources = [r[0] for r in rows["出典 Sources"][2:] if r]
    assert "nist-ir-8547-ipd" in sources and "fsa-pqc-report-2024" in sources


def test_json_report_carries_assets_findings_roadmap_and_sources(populated: PqcRegister) -> None:
    out = io.BytesIO()
    write_json_report(populated, out, today=TODAY, scenario="pessimistic")
    doc = json.loads(out.getvalue())
    assert doc["summary"]["scenario"] == "pessimistic" and doc["roadmap"]["crqc_year"] == 2030
    portal = next(a for a in doc["assets"] if a["asset"]["asset_id"] == "web-portal")
    assert portal["risk"]["hndl_now"] is True
    assert set(portal["risk"]["axes"]) == {"grace_period", "attack_risk", "importance"}
    md5 = next(x for x in doc["findings"] if x["algorithm"] == "MD5")
    assert md5["classification"]["status"] == "disallowed" and md5["assets"] == ["batch"]
    assert any(s["id"] == "mosca-2015" for s in doc["sources"])


# -- gate ------------------------------------------------------------------------------------------------------
def test_gate_exit_codes() -> None:
    clean = [f("key-exchange", "X25519MLKEM768", "768"), f("cipher", "AES", "256")]
    vulnerable = [*clean, f("key-exchange", "X25519")]
    assert gate(clean, today=TODAY) == GATE_PASS
    assert gate(vulnerable, today=TODAY) == GATE_PASS  # quantum-vulnerable is allowed until its deadline
    assert gate(vulnerable, today=dt.date(2036, 1, 1)) == GATE_DEADLINE_MISSED  # disallowed after 2035
    assert gate([f("hash", "SHA-1")], today=dt.date(2031, 1, 1)) == GATE_DEADLINE_MISSED
    assert gate([*vulnerable, f("cipher", "RC4")], today=TODAY) == GATE_DISALLOWED
    assert gate(vulnerable, today=TODAY, fail_on=["quantum-vulnerable"]) == GATE_QUANTUM_VULNERABLE
    assert gate([f("mac", "HMAC", "SHA-1")], today=TODAY, fail_on=["deprecated"]) == GATE_DEPRECATED
    assert gate([f("key", "FrobCipher")], today=TODAY, fail_on=["unknown"]) == GATE_UNKNOWN
    result = evaluate_gate([f("cipher", "3DES", location="db01:1521")], today=TODAY)
    assert result.code == GATE_DISALLOWED and "3DES at db01:1521" in result.reasons[0]
    with pytest.raises(ValueError, match="bogus"):
        gate(clean, fail_on=["bogus"])


# -- command line ------------------------------------------------------------------------------------------------
def test_cli_imports_an_asset_list_assesses_and_gates(tmp_path: Path) -> None:
    from mamori.cli.main import main

    csv_path = tmp_path / "assets.csv"
    csv_path.write_text(
        "資産ID,システム名,秘匿期間(年),公開区分,資産種別,依存先,所在パターン,暗号方式\n"
        "pki-root,社内認証局,0,内部,pki-root,,/etc/pki/**,RSA-2048\n"
        "web-portal,インターネット取引,10,インターネット,web,pki-root,trade.example.jp,X25519; ECDSA-P256\n"
        "core,勘定系,20,内部,mainframe,,,3DES\n", encoding="utf-8")
    data = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()
    imported = runner.invoke(main, ["pqc", "assets", "import", str(csv_path), *data], catch_exceptions=False)
    assert imported.exit_code == 0 and "3 asset(s)" in imported.output
    assessed = runner.invoke(main, ["pqc", "assess", "--today", "2026-11-21", "--json", *data])
    risks = {r["asset_id"]: r for r in map(json.loads, assessed.output.splitlines())}
    assert risks["web-portal"]["hndl_now"] is True and risks["core"]["state"] == "replace"
    assert risks["pki-root"]["depends_on"] == [] and risks["web-portal"]["depends_on"] == ["pki-root"]
    png = tmp_path / "gantt.png"
    planned = runner.invoke(main, ["pqc", "roadmap", "-o", str(png), "--today", "2026-11-21", *data])
    assert planned.exit_code == 0 and png.stat().st_size > 1000 and "wave 1" in planned.output
    scans = runner.invoke(main, ["pqc", "scans", *data])
    assert "#1" in scans.output and "asset-list" in scans.output
    bad = runner.invoke(main, ["pqc", "assess", "--scenario", "nope", *data])
    assert bad.exit_code == 2 and "median" in bad.output
    # the gate as CI runs it: a real process and its exit code
    proc = subprocess.run([sys.executable, "-m", "mamori.cli.main", "pqc", "gate", "--today", "2026-11-21", *data],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == GATE_DISALLOWED, proc.stderr
    assert "3DES at core" in proc.stdout and "FAIL (exit 3)" in proc.stderr
    findings = tmp_path / "findings.json"
    findings.write_text(json.dumps({"findings": [f("key-exchange", "X25519MLKEM768").to_dict()]}))
    ok = runner.invoke(main, ["pqc", "gate", "--findings", str(findings)])
    assert ok.exit_code == GATE_PASS


# -- HTTP API over a real loopback server ------------------------------------------------------------------------
@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    from mamori.api.pqc_routes import pqc_router

    store = SqlStore(f"sqlite:///{tmp_path / 'api.db'}")
    reg = PqcRegister(store.engine)
    reg.record_scan(ScanResult("tls", "trade.example.jp:443", (
        f("key-exchange", "X25519", "Curve25519", "tls-1.3 supported group", location="trade.example.jp:443"),)))
    scopes: list[str] = []

    def principal(request: Request, scope: str) -> str:
        if request.headers.get("authorization") != "Bearer test-key":
            raise Unauthenticated("an API key is required")
        scopes.append(scope)
        return "tester"

    app = FastAPI()

    @app.exception_handler(MamoriError)
    async def on_error(_request: Request, exc: MamoriError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

    app.include_router(pqc_router(lambda: reg, principal, today=lambda: TODAY))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}", scopes
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


def test_api_round_trip_over_real_http(api: tuple[str, list[str]]) -> None:
    base, scopes = api
    auth = {"Authorization": "Bearer test-key"}
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as client:
        assert client.get("/v1/pqc/assets").status_code == 401
        bad = client.post("/v1/pqc/assets", headers=auth, json=[{"asset_id": "x", "exposure": "moon"}])
        assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "0.exposure"
        posted = client.post("/v1/pqc/assets", headers=auth, json=[
            {"資産ID": "web-portal", "システム名": "インターネット取引", "機密保持年数": 10, "公開範囲": "internet",
             "情報区分": "customer", "所在パターン": "trade.example.jp"},
            {"asset_id": "pki-root", "asset_type": "pki-root"}])
        assert posted.status_code == 200 and posted.json() == {"upserted": 2}
        listed = client.get("/v1/pqc/assets", headers=auth, params={"limit": 1}).json()
        assert [a["asset_id"] for a in listed["items"]] == ["pki-root"] and listed["next_after"] == "pki-root"
        findings = client.get("/v1/pqc/findings", headers=auth).json()["items"]
        assert findings[0]["classification"]["status"] == "quantum-vulnerable"
        assessment = client.get("/v1/pqc/assessment", headers=auth).json()
        portal = next(r for r in assessment["items"] if r["asset_id"] == "web-portal")
        assert portal["hndl_now"] is True and portal["axes"]["attack_risk"]["score"] == 5
        assert client.get("/v1/pqc/assessment", headers=auth, params={"scenario": "x"}).status_code == 422
        roadmap = client.get("/v1/pqc/roadmap", headers=auth).json()
        assert roadmap["items"][0]["asset_id"] == "web-portal"
        xlsx = client.get("/v1/pqc/report.xlsx", headers=auth)
        assert xlsx.status_code == 200 and "spreadsheetml" in xlsx.headers["content-type"]
        assert load_workbook(io.BytesIO(xlsx.content), read_only=True).sheetnames == list(SHEETS)
    assert scopes and set(scopes) == {"pqc:admin"}


def test_register_tables_live_on_a_shared_engine_next_to_other_modules(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'shared.db'}")
    PqcRegister(engine)
    PqcRegister(engine)  # idempotent: the second module start finds the tables
    assert Assessor(PqcRegister(engine), today=TODAY).findings == 0


def test_a_classically_deprecated_algorithm_is_due_at_its_policy_date_not_at_the_crqc() -> None:
    risk = assess_asset(Asset("legacy-mac", confidentiality_years=10, exposure="internet"),
                        summarise([f("mac", "HMAC", "SHA-1")]), today=TODAY, scenario=MEDIAN)
    assert (risk.state, risk.due, risk.hndl_now, risk.mosca_exposed) == ("migrate", dt.date(2031, 1, 1), False, None)
    assert "2030" in risk.grace.reason_ja and "hmac-sha1" in risk.due_basis_en


def test_gantt_uses_the_given_font_for_japanese_labels(tmp_path: Path) -> None:
    font = next(iter(sorted(Path("/usr/share/fonts").rglob("DejaVuSans.ttf"))), None) or japanese_font()
    if font is None:
        pytest.skip("no TrueType font file on this machine")
    risk = _risk(Asset("web-portal", system="インターネット取引", exposure="internet", confidentiality_years=10),
                 CUSTOMER_TLS_X25519)
    info = render_gantt(plan_roadmap([risk], today=TODAY, scenario=MEDIAN), tmp_path / "g.png", font_path=font)
    assert info.japanese and info.rows == 1 and info.path.stat().st_size > 1000


def test_a_configuration_line_that_disables_an_algorithm_is_not_a_use_on_every_path() -> None:
    """`!RC4` or `jdk.tls.disabledAlgorithms=RC4` must not count as RC4 in use, whether the finding is
    classified through the module function or a Policy (as the assessment and the report do)."""
    from mamori.pqc.model import CryptoFinding
    from mamori.pqc.policy_data import classify, default_policy

    off = CryptoFinding("config", "nginx.conf:3", "cipher", "RC4", "", "ssl_ciphers", detail={"effect": "disable"})
    on = CryptoFinding("config", "nginx.conf:3", "cipher", "RC4", "", "ssl_ciphers", detail={"effect": "enable"})
    assert classify(off).status == default_policy().classify(off).status == "not-applicable"
    assert default_policy().classify(on).status == "disallowed"
