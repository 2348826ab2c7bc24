"""Outputs of the PQC inventory: the inventory ledger workbook (台帳, Japanese and English), a JSON report,
and a CI gate.

The workbook follows the FSA's request (金融庁「預金取扱金融機関の耐量子計算機暗号への対応に関する検討会
報告書」2024-11; exchanges of views with JSDA/JVCEA 2025-06): an inventory of the cryptography each
information asset uses, its risk evaluation (including HNDL), the importance/urgency evaluation and the
roadmap, with the policy's sources. Sheets, each with a Japanese header row above an English one:

* 資産台帳 Assets - one row per information asset.
* 暗号一覧 Cryptography - one row per current finding: classification, NIST IR 8547 / SP 800-131A dates,
  HNDL, CNSA 2.0, the rule and sources.
* リスク評価 Risk - the three FSA axes (猶予期間・攻撃リスク・情報の重要度) with reasons, Mosca (2015), HNDL.
* 移行計画 Roadmap - the plan in dependency order with target years and deadlines met or missed.
* 出典 Sources - the cited documents, the CRQC scenarios and the deadline table.

Everything is streamed (openpyxl write-only mode, findings and assets read in batches), so a 100,000-asset
register fits in well under 1 GB.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, Literal

import orjson

from mamori.pqc.model import CryptoFinding
from mamori.pqc.policy_data import Policy, deadline_table, default_policy
from mamori.pqc.register import Asset, PqcRegister
from mamori.pqc.risk import Assessor, AssetRisk, is_hndl_relevant
from mamori.pqc.roadmap import ACTION_JA, Roadmap, plan_roadmap

__all__ = [
    "GATE_DEADLINE_MISSED",
    "GATE_DEPRECATED",
    "GATE_DISALLOWED",
    "GATE_HNDL",
    "GATE_PASS",
    "GATE_QUANTUM_VULNERABLE",
    "GATE_UNKNOWN",
    "SHEETS",
    "GateResult",
    "ReportSummary",
    "evaluate_gate",
    "gate",
    "write_json_report",
    "write_workbook",
]

SHEETS: Final = ("資産台帳 Assets", "暗号一覧 Cryptography", "リスク評価 Risk", "移行計画 Roadmap", "出典 Sources")
STATUS_JA: Final = {"quantum-vulnerable": "量子脆弱", "hybrid": "ハイブリッド", "quantum-safe": "量子安全",
                    "deprecated": "非推奨", "disallowed": "使用不可", "not-applicable": "対象外", "unknown": "不明"}
STATE_JA: Final = {"replace": "使用不可暗号あり", "migrate": "要移行", "review": "要確認", "safe": "対応済み",
                   "not-inventoried": "棚卸し未実施"}
BAND_JA: Final = {"high": "高", "medium": "中", "low": "低", "none": "対応不要"}

_ASSET_HEADERS: Final = (
    ("資産ID", "Asset ID", 22), ("システム名", "System", 28), ("所管部署", "Owner", 16),
    ("業務機能", "Business function", 20), ("保有情報", "Data held", 24), ("情報区分", "Data class", 12),
    ("機密保持年数", "Confidentiality (years)", 12), ("公開範囲", "Exposure", 11), ("資産種別", "Asset type", 14),
    ("次回更改", "Next renewal", 12), ("ベンダー", "Vendor", 16), ("移行所要年数", "Migration (years)", 12),
    ("依存先", "Depends on", 20), ("所在パターン", "Location patterns", 30), ("検出数", "Findings", 9),
    ("要移行数", "Needing migration", 10), ("状態", "State", 14), ("備考", "Notes", 24))
_CRYPTO_HEADERS: Final = (
    ("資産ID", "Asset(s)", 22), ("検出元", "Source", 9), ("所在", "Location", 30), ("用途", "Primitive", 13),
    ("アルゴリズム", "Algorithm", 20), ("パラメータ", "Parameter", 12), ("文脈", "Context", 26),
    ("判定名", "Name", 20), ("判定", "Status (JA)", 12), ("Status", "Status", 18),
    ("安全性強度(bit)", "Security bits", 10), ("NIST量子カテゴリ", "NIST category", 10),
    ("非推奨（年以降）", "Deprecated after", 10), ("使用不可（年以降）", "Disallowed after", 10),
    ("HNDL", "HNDL", 14), ("CNSA 2.0適合", "CNSA 2.0", 9), ("推奨移行先", "Replacement", 28), ("規則", "Rule", 20),
    ("出典", "Sources", 30), ("注記", "Note (JA)", 40), ("Note", "Note (EN)", 40),
    ("初回検出スキャン", "First seen scan", 9), ("最終検出スキャン", "Last seen scan", 9), ("信頼度", "Confidence", 8))
_RISK_HEADERS: Final = (
    ("資産ID", "Asset ID", 22), ("システム名", "System", 24), ("状態", "State", 14), ("シナリオ", "Scenario", 10),
    ("CRQC想定年", "CRQC year", 9), ("x 機密保持年数", "x shelf life", 8), ("y 移行年数", "y migration", 8),
    ("z CRQCまで", "z years to CRQC", 8), ("Mosca x+y>z", "Mosca x+y>z", 10), ("Mosca説明", "Mosca (JA)", 40),
    ("Mosca", "Mosca (EN)", 40), ("HNDL対象", "HNDL now", 9), ("移行完了期限", "Due", 12),
    ("期限の根拠", "Due basis (JA)", 30), ("Due basis", "Due basis (EN)", 30), ("着手期限", "Latest start", 12),
    ("猶予期間", "Grace period", 8), ("理由", "Reason (JA)", 50), ("Reason", "Reason (EN)", 50),
    ("攻撃リスク", "Attack risk", 8), ("理由", "Reason (JA)", 50), ("Reason", "Reason (EN)", 50),
    ("情報の重要度", "Importance", 8), ("理由", "Reason (JA)", 50), ("Reason", "Reason (EN)", 50),
    ("優先度", "Priority (0-100)", 9), ("区分", "Band", 9))
_ROADMAP_HEADERS: Final = (
    ("順序", "Order", 7), ("波", "Wave", 6), ("資産ID", "Asset ID", 22), ("システム名", "System", 24),
    ("対応", "Action", 16), ("優先度", "Priority", 8), ("区分", "Band", 8), ("着手", "Start", 12),
    ("完了", "Finish", 12), ("完了目標年", "Target year", 9), ("移行完了期限", "Due", 12),
    ("期限の根拠", "Due basis (JA)", 34), ("Due basis", "Due basis (EN)", 34), ("期限内", "Meets deadline", 9),
    ("更改連動", "Aligned to renewal", 9), ("次回更改", "Next renewal", 12), ("依存先", "Depends on", 22),
    ("HNDL対象", "HNDL now", 9))
_SOURCE_HEADERS: Final = (
    ("ID", "ID", 26), ("文書名", "Title", 60), ("発行者", "Publisher", 24), ("日付", "Date", 12), ("URL", "URL", 50),
    ("注記", "Note (JA)", 60), ("Note", "Note (EN)", 60))


@dataclass(slots=True)
class ReportSummary:
    """Counts for the command line and the JSON report."""

    policy_version: str
    scenario: str
    crqc_year: int
    today: str
    assets: int = 0
    findings: int = 0
    unlinked_findings: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_state: dict[str, int] = field(default_factory=dict)
    by_band: dict[str, int] = field(default_factory=dict)
    hndl_assets: int = 0
    mosca_assets: int = 0
    roadmap_items: int = 0
    missing_deadline: int = 0
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"policy_version": self.policy_version, "scenario": self.scenario, "crqc_year": self.crqc_year,
                "today": self.today, "assets": self.assets, "findings": self.findings,
                "unlinked_findings": self.unlinked_findings, "by_status": self.by_status, "by_state": self.by_state,
                "by_band": self.by_band, "hndl_assets": self.hndl_assets, "mosca_assets": self.mosca_assets,
                "roadmap_items": self.roadmap_items, "missing_deadline": self.missing_deadline,
                "problems": self.problems}


class _Run:
    """One assessment shared by the workbook and the JSON report: assets and their risks are streamed once,
    tallied, and fed to the roadmap planner; the assets exposed to HNDL are remembered for the findings."""

    def __init__(self, register: PqcRegister, today: dt.date, scenario: str | None, policy: Policy | None,
                 wave_years: int) -> None:
        self.register = register
        self.assessor = Assessor(register, today=today, scenario=scenario, policy=policy)
        self.policy = self.assessor.policy
        self.today = today
        self.wave_years = wave_years
        sc = self.assessor.scenario
        self.summary = ReportSummary(policy_version=self.policy.version, scenario=sc.name, crqc_year=sc.year,
                                     today=today.isoformat(), findings=self.assessor.findings,
                                     unlinked_findings=self.assessor.unlinked,
                                     by_status=dict(sorted(self.assessor.by_status.items())))
        self.hndl_assets: set[str] = set()
        self.roadmap: Roadmap | None = None

    def risks(self) -> Iterator[tuple[Asset, AssetRisk]]:
        s = self.summary
        for asset, risk in self.assessor.risks():
            s.assets += 1
            s.by_state[risk.state] = s.by_state.get(risk.state, 0) + 1
            s.by_band[risk.band] = s.by_band.get(risk.band, 0) + 1
            if risk.hndl_now:
                s.hndl_assets += 1
                self.hndl_assets.add(asset.asset_id)
            if risk.mosca_exposed:
                s.mosca_assets += 1
            yield asset, risk

    def plan(self, risks: Iterable[AssetRisk]) -> Roadmap:
        self.roadmap = plan_roadmap(risks, today=self.today, wave_years=self.wave_years,
                                    scenario=self.assessor.scenario)
        self.summary.roadmap_items = len(self.roadmap.items)
        self.summary.missing_deadline = sum(1 for i in self.roadmap.items if i.meets_deadline is False)
        self.summary.problems = list(self.roadmap.problems)
        return self.roadmap

    def finding_rows(self) -> Iterator[dict[str, Any]]:
        for stored in self.register.iter_findings(current_only=True):
            f = stored.finding
            cls = self.policy.classify(f)
            owners = self.assessor.matcher.match(f.location)
            if is_hndl_relevant(f, cls):
                hndl = "exposed" if any(o in self.hndl_assets for o in owners) else "not-now"
            elif f.primitive in ("signature", "certificate") and cls.quantum_vulnerable:
                hndl = "n/a-signature"
            else:
                hndl = "n/a"
            yield {"finding": f, "classification": cls, "assets": owners, "hndl": hndl,
                   "first_seen_scan": stored.first_seen_scan, "last_seen_scan": stored.last_seen_scan}


_HNDL_JA: Final = {"exposed": "対象（要対策）", "not-now": "現時点では対象外", "n/a-signature": "対象外（署名）",
                   "n/a": "—"}


def _yes(v: bool | None) -> str:
    return "—" if v is None else "はい / yes" if v else "いいえ / no"


# -- workbook -----------------------------------------------------------------------------------------
def write_workbook(register: PqcRegister, out: Path | IO[bytes], *, today: dt.date, scenario: str | None = None,
                   policy: Policy | None = None, wave_years: int = 2) -> ReportSummary:
    """Write the inventory ledger workbook (``.xlsx``) and return its summary."""
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
    from openpyxl.styles import Alignment, Font, PatternFill  # type: ignore[import-untyped]

    run = _Run(register, today, scenario, policy, wave_years)
    wb = Workbook(write_only=True)
    sheets = {name: wb.create_sheet(name) for name in SHEETS}
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    fill_en = PatternFill("solid", fgColor="F2F2F2")

    def header(ws: Any, columns: tuple[tuple[str, str, int], ...]) -> None:
        from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

        for i, (_, _, width) in enumerate(columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.freeze_panes = "B3"
        for row, f in ((0, fill), (1, fill_en)):
            cells = []
            for column in columns:
                c = WriteOnlyCell(ws, column[row])
                c.font, c.fill, c.alignment = bold, f, Alignment(wrap_text=True, vertical="top")
                cells.append(c)
            ws.append(cells)

    a_ws, c_ws, r_ws, p_ws, s_ws = (sheets[n] for n in SHEETS)
    header(a_ws, _ASSET_HEADERS)
    header(c_ws, _CRYPTO_HEADERS)
    header(r_ws, _RISK_HEADERS)
    header(p_ws, _ROADMAP_HEADERS)
    header(s_ws, _SOURCE_HEADERS)

    def rows() -> Iterator[AssetRisk]:
        for asset, risk in run.risks():
            a_ws.append([asset.asset_id, asset.system, asset.owner, asset.business_function, asset.data_held,
                         asset.data_class, asset.confidentiality_years, asset.exposure, asset.asset_type,
                         asset.next_renewal, asset.vendor, risk.y, "; ".join(asset.depends_on),
                         "; ".join(asset.locations), risk.findings, risk.needs_migration,
                         f"{STATE_JA[risk.state]} / {risk.state}", asset.notes])
            r_ws.append([asset.asset_id, asset.system, f"{STATE_JA[risk.state]} / {risk.state}", risk.scenario,
                         risk.crqc_year, risk.x, risk.y, round(risk.z, 2), _yes(risk.mosca_exposed), risk.mosca_ja,
                         risk.mosca_en, _yes(risk.hndl_now), risk.due, risk.due_basis_ja, risk.due_basis_en,
                         risk.latest_start, risk.grace.score, risk.grace.reason_ja, risk.grace.reason_en,
                         risk.attack.score, risk.attack.reason_ja, risk.attack.reason_en, risk.importance.score,
                         risk.importance.reason_ja, risk.importance.reason_en, risk.priority,
                         f"{BAND_JA[risk.band]} / {risk.band}"])
            yield risk

    roadmap = run.plan(rows())
    for row in run.finding_rows():
        f: CryptoFinding = row["finding"]
        cls = row["classification"]
        c_ws.append(["; ".join(row["assets"]), f.source, f.location, f.primitive, f.algorithm, f.parameter,
                     f.context, cls.name, STATUS_JA[cls.status], cls.status, cls.security_bits, cls.nist_category,
                     cls.deprecated_after, cls.disallowed_after, f"{_HNDL_JA[row['hndl']]} / {row['hndl']}",
                     "はい / yes" if cls.cnsa2 else "いいえ / no", cls.replacement, cls.rule_id,
                     ", ".join(cls.sources), cls.note_ja, cls.note_en, row["first_seen_scan"], row["last_seen_scan"],
                     f.confidence])
    for item in roadmap.items:
        p_ws.append([item.order, item.wave, item.asset_id, item.system, f"{ACTION_JA[item.action]} / {item.action}",
                     item.priority, f"{BAND_JA[item.band]} / {item.band}", item.start, item.finish,
                     item.target_year, item.due, item.due_basis_ja, item.due_basis_en, _yes(item.meets_deadline),
                     _yes(item.aligned_to_renewal), item.next_renewal, "; ".join(item.depends_on),
                     _yes(item.hndl_now)])
    if roadmap.problems:
        p_ws.append([])
        for problem in roadmap.problems:
            p_ws.append(["問題 / problem", problem])
    def bold_cell(text: str) -> Any:
        c = WriteOnlyCell(s_ws, text)
        c.font = bold
        return c

    _write_sources(s_ws, run.policy, bold_cell)
    wb.save(out)
    return run.summary


def _write_sources(ws: Any, policy: Policy, bold_cell: Callable[[str], Any]) -> None:
    def title(text: str) -> None:
        ws.append([])
        ws.append([bold_cell(text)])

    for s in policy.sources.values():
        ws.append([s.id, s.title, s.publisher, s.date, s.url, s.note_ja, s.note_en])
    title(f"ポリシー / Policy: {policy.title_ja} / {policy.title_en} - version {policy.version}")
    title("CRQC到来シナリオ / CRQC arrival scenarios (z in Mosca's inequality)")
    ws.append(["シナリオ / scenario", "年 / year", "出典 / sources", "", "", "注記", "Note"])
    for sc in policy.scenarios.values():
        default = " (default)" if sc.name == policy.default_scenario else ""
        ws.append([sc.name + default, sc.year, ", ".join(sc.sources), "", "", sc.note_ja, sc.note_en])
    title("期限表 / Deadline table (NIST IR 8547 ipd, SP 800-131A, ...; golden-tested)")
    ws.append(["用途 / primitive", "アルゴリズム / algorithm", "パラメータ / parameter", "判定 / status",
               "非推奨（年以降）/ deprecated after", "使用不可（年以降）/ disallowed after", "規則 / rule"])
    for r in deadline_table(policy):
        ws.append([r["primitive"], r["algorithm"], r["parameter"], r["status"], r["deprecated_after"],
                   r["disallowed_after"], r["rule"]])
    title("移行所要年数の既定値 / default migration years by asset type (planning defaults, override per asset)")
    ws.append(["(default)", policy.migration_years_default])
    for kind, years in policy.migration_years_by_type.items():
        ws.append([kind, years])


# -- JSON ---------------------------------------------------------------------------------------------
def write_json_report(register: PqcRegister, out: IO[bytes], *, today: dt.date, scenario: str | None = None,
                      policy: Policy | None = None, wave_years: int = 2) -> ReportSummary:
    """Write the JSON report (streamed): ``assets`` (each with its risk), ``findings`` (each with its
    classification, linked assets and HNDL), ``roadmap``, ``summary``, ``sources``."""
    run = _Run(register, today, scenario, policy, wave_years)
    pol = run.policy
    out.write(b'{"report":"mamori-pqc-inventory","policy_version":' + orjson.dumps(pol.version)
              + b',"today":' + orjson.dumps(today.isoformat()) + b',"assets":[')

    def risks() -> Iterator[AssetRisk]:
        first = True
        for asset, risk in run.risks():
            out.write((b"" if first else b",") + orjson.dumps({"asset": asset.to_dict(), "risk": risk.to_dict()}))
            first = False
            yield risk

    roadmap = run.plan(risks())
    out.write(b'],"findings":[')
    first = True
    for row in run.finding_rows():
        item = {**row["finding"].to_dict(), "classification": row["classification"].to_dict(),
                "assets": row["assets"], "hndl": row["hndl"], "first_seen_scan": row["first_seen_scan"],
                "last_seen_scan": row["last_seen_scan"]}
        out.write((b"" if first else b",") + orjson.dumps(item))
        first = False
    out.write(b'],"roadmap":' + orjson.dumps(roadmap.to_dict()) + b',"summary":' + orjson.dumps(run.summary.to_dict())
              + b',"sources":' + orjson.dumps([{"id": s.id, "title": s.title, "publisher": s.publisher,
                                                  "date": s.date, "url": s.url} for s in pol.sources.values()])
              + b"}\n")
    return run.summary


# -- CI gate ------------------------------------------------------------------------------------------
GATE_PASS: Final = 0
GATE_DISALLOWED: Final = 3
"""A disallowed (classically broken) algorithm is in use: MD5, SHA-1 signatures, RC4, 3DES, RSA < 2048, TLS < 1.2."""
GATE_DEADLINE_MISSED: Final = 4
"""A policy disallowance date has passed for an algorithm still in use (e.g. SHA-1 in 2031, RSA in 2036)."""
GATE_DEPRECATED: Final = 5
GATE_QUANTUM_VULNERABLE: Final = 6
GATE_UNKNOWN: Final = 7
GATE_HNDL: Final = 8
"""Used by ``mamori pqc gate --fail-on hndl``: an asset is exposed to harvest-now-decrypt-later."""
FailOn = Literal["deprecated", "quantum-vulnerable", "unknown"]


@dataclass(frozen=True, slots=True)
class GateResult:
    code: int
    reasons: tuple[str, ...]
    counts: dict[str, int]


def evaluate_gate(findings: Iterable[CryptoFinding], policy: Policy | None = None, *, today: dt.date | None = None,
                  fail_on: Iterable[str] = (), max_reasons: int = 20) -> GateResult:
    """Check findings against the policy. Always fails on a disallowed algorithm (exit 3) or a passed
    disallowance date (4); optionally (``fail_on``) on deprecated (5), quantum-vulnerable (6) or unknown
    (7) algorithms. The most severe applicable code is returned, with the offending findings as reasons."""
    pol = policy or default_policy()
    year = (today or dt.datetime.now(dt.UTC).date()).year
    wanted = set(fail_on)
    bad = wanted - {"deprecated", "quantum-vulnerable", "unknown"}
    if bad:
        raise ValueError(f"unknown --fail-on value(s): {', '.join(sorted(bad))}")
    counts = {"disallowed": 0, "deadline-missed": 0, "deprecated": 0, "quantum-vulnerable": 0, "unknown": 0}
    reasons: list[str] = []
    for f in findings:
        c = pol.classify(f)
        hits = []
        if c.status == "disallowed":
            hits.append("disallowed")
        elif c.disallowed_after is not None and year > c.disallowed_after and c.needs_migration:
            hits.append("deadline-missed")
        if "deprecated" in wanted and (c.status == "deprecated" or (
                c.deprecated_after is not None and year > c.deprecated_after and c.status != "disallowed")):
            hits.append("deprecated")
        if "quantum-vulnerable" in wanted and c.quantum_vulnerable and c.status != "hybrid":
            hits.append("quantum-vulnerable")
        if "unknown" in wanted and c.status == "unknown":
            hits.append("unknown")
        for h in hits:
            counts[h] += 1
        if hits and len(reasons) < max_reasons:
            when = f", disallowed after {c.disallowed_after}" if c.disallowed_after else ""
            reasons.append(f"{'/'.join(hits)}: {c.name} at {f.location}"
                           f"{' (' + f.context + ')' if f.context else ''} - rule {c.rule_id}{when}")
    code = GATE_PASS
    for key, value in (("unknown", GATE_UNKNOWN), ("quantum-vulnerable", GATE_QUANTUM_VULNERABLE),
                       ("deprecated", GATE_DEPRECATED), ("deadline-missed", GATE_DEADLINE_MISSED),
                       ("disallowed", GATE_DISALLOWED)):
        if counts[key]:
            code = value
    return GateResult(code, tuple(reasons), counts)


def gate(findings: Iterable[CryptoFinding], policy: Policy | None = None, *, today: dt.date | None = None,
         fail_on: Iterable[str] = ()) -> int:
    """The CI exit code for these findings (see :func:`evaluate_gate`): 0 = pass."""
    return evaluate_gate(findings, policy, today=today, fail_on=fail_on).code
