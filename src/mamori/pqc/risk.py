"""Risk evaluation per information asset: harvest-now-decrypt-later exposure, Mosca's inequality, and a
priority along the FSA's three axes.

* **HNDL now** (the FSA: 「量子コンピュータの実現を待たずにHNDL攻撃に備え、現在から対策を講ずべきリスク」,
  exchanges of views with JSDA/JVCEA, June 2025): an asset is exposed when its traffic or stored data is
  protected by a quantum-vulnerable *key exchange or key transport* (not a signature: a signature can only
  be forged after a CRQC exists, it cannot be harvested), it is reachable (not offline), and its data must
  stay secret beyond the CRQC arrival: ``today + x > z_year``. A server that also offers X25519MLKEM768 but
  still accepts X25519 is exposed for every client that does not speak the hybrid.
* **Mosca's inequality** (M. Mosca, IACR ePrint 2015/1075): ``x + y > z`` with x = confidentiality years,
  y = migration time (per asset, else the policy default for its type), z = years until a CRQC under the
  chosen scenario (optimistic 2040, median 2035 = the FSA's 「2035年が目途」, pessimistic 2030; Global Risk
  Institute Quantum Threat Timeline report). For signature-only assets x = 0: the question is whether the
  migration finishes before the CRQC.
* **Priority** on the three axes of the FSA report (金融庁「預金取扱金融機関の耐量子計算機暗号への対応に
  関する検討会 報告書」2024-11: 猶予期間・攻撃リスク・情報の重要度), each scored 1-5 with the reason in
  Japanese and English:

  - 猶予期間 (grace period): the migration must be complete by the earlier of the policy deadline (NIST IR
    8547 disallowance, the end of that year) and the CRQC arrival less x (the data must still be secret
    then); it must start y years before that. Score from the years left until that latest start (≤0: 5,
    <2: 4, <5: 3, <10: 2, else 1), plus 1 when the next renewal (更改) comes after the latest start, so the
    work cannot ride on it. This is the brief's "earlier of the policy deadline and z − y", extended with x
    so that the axis equals Mosca's margin when the CRQC binds.
  - 攻撃リスク (attack risk): exposure (internet 3, partner 2, internal/offline 1), +1 when a vulnerable key
    exchange is observed on the wire (TLS/SSH scans), +1 when HNDL-exposed now.
  - 情報の重要度 (importance): the higher of the data class score (policy ``data_classes``) and a score from
    the confidentiality years (0: 1, <3: 2, <7: 3, <15: 4, else 5).

  Priority 0-100 = (sum of the three − 3) / 12, equal weights; high ≥ 67, medium ≥ 34. An asset whose
  cryptography is all quantum-safe or hybrid gets 0; an asset with no finding linked is *not inventoried*
  and is scored as if it were vulnerable (the FSA asks for an inventory 「抜け漏れなく」).

Everything takes ``today`` from the caller (no clock inside) and is deterministic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

from mamori.pqc.model import CryptoFinding
from mamori.pqc.policy_data import Classification, Policy, Scenario, default_policy
from mamori.pqc.register import Asset, Exposure, PqcRegister

__all__ = [
    "Assessor",
    "AssetRisk",
    "AssetState",
    "Axis",
    "CryptoSummary",
    "add_years",
    "assess_asset",
    "frac_year",
    "hndl_exposed",
    "is_hndl_relevant",
    "summarise",
]

AssetState = Literal["replace", "migrate", "review", "safe", "not-inventoried"]
Band = Literal["high", "medium", "low", "none"]
_WIRE_SOURCES: Final = frozenset({"tls", "ssh"})
_CONFIDENTIALITY_PRIMITIVES: Final = frozenset({"key-exchange", "public-key-encryption"})
_EXPOSURE_SCORE: Final[Mapping[str, int]] = {"internet": 3, "partner": 2, "internal": 1, "offline": 1}
_EXPOSURE_JA: Final[Mapping[str, str]] = {"internet": "インターネット公開", "partner": "取引先・外部接続",
                                          "internal": "社内ネットワーク", "offline": "オフライン"}
_YEAR_DAYS: Final = 365.25


def frac_year(d: dt.date) -> float:
    """2026-07-02 -> 2026.5 (the fraction of the year elapsed)."""
    start = dt.date(d.year, 1, 1).toordinal()
    length = dt.date(d.year + 1, 1, 1).toordinal() - start
    return d.year + (d.toordinal() - start) / length


def add_years(d: dt.date, years: float) -> dt.date:
    return d + dt.timedelta(days=round(years * _YEAR_DAYS))


def _years_between(a: dt.date, b: dt.date) -> float:
    return (b.toordinal() - a.toordinal()) / _YEAR_DAYS


def _g(v: float) -> str:
    return f"{round(v, 1):g}"


def _years_en(v: float) -> str:
    return f"{_g(v)} year" + ("" if _g(v) == "1" else "s")


def is_hndl_relevant(finding: CryptoFinding, cls: Classification) -> bool:
    """A quantum-vulnerable key exchange / key transport / public-key encryption (confidentiality), not a
    hybrid and not a signature. A public-key algorithm whose use is not known (``primitive="unknown"``, e.g.
    "RSA-2048" in an asset list) is assumed to establish keys: an inventory never assumes the safe case."""
    return (finding.primitive in _CONFIDENTIALITY_PRIMITIVES or finding.primitive == "unknown") \
        and cls.quantum_vulnerable and cls.status != "hybrid"


@dataclass(slots=True)
class CryptoSummary:
    """What an asset's current findings amount to (small: one per asset is kept in memory)."""

    findings: int = 0
    needs_migration: int = 0
    quantum_vulnerable: int = 0
    disallowed: int = 0
    unknown: int = 0
    vulnerable_kex: int = 0
    vulnerable_kex_wire: int = 0
    pq_kex: int = 0
    deadline: int | None = None
    deadline_rule: str = ""
    deadline_name: str = ""
    kex_examples: list[str] = field(default_factory=list)

    def add(self, finding: CryptoFinding, cls: Classification) -> None:
        self.findings += 1
        if cls.status == "disallowed":
            self.disallowed += 1
        elif cls.status == "unknown":
            self.unknown += 1
        if cls.quantum_vulnerable and cls.status != "hybrid":
            self.quantum_vulnerable += 1
        if cls.needs_migration:
            self.needs_migration += 1
            if cls.disallowed_after is not None and (self.deadline is None or cls.disallowed_after < self.deadline):
                self.deadline, self.deadline_rule, self.deadline_name = cls.disallowed_after, cls.rule_id, cls.name
        if is_hndl_relevant(finding, cls):
            self.vulnerable_kex += 1
            if finding.source in _WIRE_SOURCES:
                self.vulnerable_kex_wire += 1
            name = cls.name if finding.primitive != "unknown" else f"{cls.name} (use?)"
            if name not in self.kex_examples and len(self.kex_examples) < 3:
                self.kex_examples.append(name)
        elif finding.primitive in _CONFIDENTIALITY_PRIMITIVES and cls.status in ("hybrid", "quantum-safe"):
            self.pq_kex += 1


def summarise(findings: Iterable[CryptoFinding], policy: Policy | None = None) -> CryptoSummary:
    pol = policy or default_policy()
    s = CryptoSummary()
    for f in findings:
        s.add(f, pol.classify(f))
    return s


@dataclass(frozen=True, slots=True)
class Axis:
    """One of the FSA's three axes: a 1-5 score and why, in Japanese and English."""

    score: int
    reason_ja: str
    reason_en: str

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "reason_ja": self.reason_ja, "reason_en": self.reason_en}


@dataclass(frozen=True, slots=True)
class AssetRisk:
    asset_id: str
    system: str
    asset_type: str
    state: AssetState
    scenario: str
    crqc_year: int
    x: float
    y: float
    z: float
    mosca_exposed: bool | None
    hndl_now: bool | None
    due: dt.date | None
    due_basis_ja: str
    due_basis_en: str
    latest_start: dt.date | None
    grace: Axis
    attack: Axis
    importance: Axis
    priority: int
    band: Band
    next_renewal: dt.date | None
    depends_on: tuple[str, ...]
    findings: int
    needs_migration: int
    mosca_ja: str
    mosca_en: str

    def to_dict(self) -> dict[str, Any]:
        return {"asset_id": self.asset_id, "system": self.system, "asset_type": self.asset_type,
                "state": self.state, "scenario": self.scenario, "crqc_year": self.crqc_year,
                "mosca": {"x": self.x, "y": self.y, "z": round(self.z, 2), "exposed": self.mosca_exposed,
                          "explanation_ja": self.mosca_ja, "explanation_en": self.mosca_en},
                "hndl_now": self.hndl_now, "due": self.due.isoformat() if self.due else None,
                "due_basis_ja": self.due_basis_ja, "due_basis_en": self.due_basis_en,
                "latest_start": self.latest_start.isoformat() if self.latest_start else None,
                "axes": {"grace_period": self.grace.to_dict(), "attack_risk": self.attack.to_dict(),
                         "importance": self.importance.to_dict()},
                "priority": self.priority, "band": self.band,
                "next_renewal": self.next_renewal.isoformat() if self.next_renewal else None,
                "depends_on": list(self.depends_on), "findings": self.findings,
                "needs_migration": self.needs_migration}


def _state(summary: CryptoSummary | None) -> AssetState:
    if summary is None or summary.findings == 0:
        return "not-inventoried"
    if summary.disallowed:
        return "replace"
    if summary.needs_migration > summary.unknown:
        return "migrate"
    if summary.unknown:
        return "review"
    return "safe"


def assess_asset(asset: Asset, summary: CryptoSummary | None, *, today: dt.date, scenario: Scenario,
                 policy: Policy | None = None) -> AssetRisk:
    """Evaluate one asset from the summary of its current findings (None: nothing linked)."""
    pol = policy or default_policy()
    state = _state(summary)
    s = summary or CryptoSummary()
    assumed = state == "not-inventoried"
    now = frac_year(today)
    crqc = dt.date(scenario.year, 1, 1)  # a CRQC "in 2035" is planned for at the start of 2035
    x = asset.confidentiality_years
    y = asset.migration_years if asset.migration_years is not None else pol.migration_years_for(asset.asset_type)
    z = scenario.year - now
    confidentiality = assumed or s.vulnerable_kex > 0
    vulnerable = assumed or s.quantum_vulnerable > 0

    # Mosca and HNDL
    if confidentiality:
        mosca: bool | None = x + y > z
        mosca_ja = (f"x（機密保持{_g(x)}年）+ y（移行{_g(y)}年）= {_g(x + y)}年 "
                    f"{'>' if mosca else '≤'} z（CRQCまで{_g(z)}年、{scenario.name} {scenario.year}年）")
        mosca_en = (f"x ({_years_en(x)} of confidentiality) + y ({_years_en(y)} to migrate) = {_g(x + y)} "
                    f"{'>' if mosca else '≤'} z ({_years_en(z)} until a CRQC, {scenario.name} {scenario.year})")
    elif vulnerable:
        mosca = y > z
        mosca_ja = (f"署名等のみのため x = 0。y（移行{_g(y)}年）{'>' if mosca else '≤'} z（CRQCまで{_g(z)}年、"
                    f"{scenario.name} {scenario.year}年）")
        mosca_en = (f"Signatures/other uses only, so x = 0: y ({_years_en(y)} to migrate) {'>' if mosca else '≤'} "
                    f"z ({_years_en(z)} until a CRQC, {scenario.name} {scenario.year})")
    else:
        mosca, mosca_ja, mosca_en = None, "量子脆弱な暗号なし（Moscaの不等式は対象外）", \
            "No quantum-vulnerable cryptography (Mosca's inequality does not apply)"
    hndl: bool | None
    if assumed:
        hndl = None
    else:
        hndl = s.vulnerable_kex > 0 and asset.exposure != "offline" and x > 0 and now + x > scenario.year

    # the deadline: the earlier of the policy date and the CRQC less the shelf life
    due: dt.date | None = None
    basis_ja = basis_en = ""
    if state != "safe":
        policy_year = 2035 if assumed else s.deadline
        candidates: list[tuple[dt.date, str, str]] = []
        if vulnerable or state == "review":  # unrecognised cryptography may be quantum-vulnerable too
            shelf = confidentiality and x > 0
            candidates.append((
                add_years(crqc, -x) if confidentiality else crqc,
                f"CRQC想定{scenario.year}年（{scenario.name}）" + (f"−機密保持{_g(x)}年" if shelf else ""),
                f"CRQC {scenario.year} ({scenario.name})" + (f" − {_years_en(x)} of confidentiality" if shelf else "")))
        if policy_year is not None:
            rule = "NIST IR 8547（仮定）" if assumed else f"{s.deadline_name}: {s.deadline_rule}"
            rule_en = "NIST IR 8547 (assumed)" if assumed else f"{s.deadline_name}: {s.deadline_rule}"
            candidates.append((dt.date(policy_year + 1, 1, 1), f"ポリシー期限 {policy_year}年末（{rule}）",
                               f"policy deadline end of {policy_year} ({rule_en})"))
        if s.disallowed:
            candidates.append((today, "使用不可の暗号を使用中（即時対応）", "a disallowed algorithm is in use (now)"))
        if candidates:
            due, basis_ja, basis_en = min(candidates, key=lambda c: c[0])
    latest_start = add_years(due, -y) if due else None

    grace = _grace_axis(today, due, latest_start, y, asset.next_renewal, basis_ja, basis_en, state)
    attack = _attack_axis(asset, s, hndl, assumed)
    importance = _importance_axis(asset, pol)
    band: Band
    if state == "safe":
        priority, band = 0, "none"
    else:
        priority = round(100 * (grace.score + attack.score + importance.score - 3) / 12)
        band = "high" if priority >= 67 else "medium" if priority >= 34 else "low"
    return AssetRisk(
        asset_id=asset.asset_id, system=asset.system, asset_type=asset.asset_type, state=state,
        scenario=scenario.name, crqc_year=scenario.year, x=x, y=y, z=z, mosca_exposed=mosca, hndl_now=hndl,
        due=due, due_basis_ja=basis_ja, due_basis_en=basis_en, latest_start=latest_start, grace=grace,
        attack=attack, importance=importance, priority=priority, band=band, next_renewal=asset.next_renewal,
        depends_on=asset.depends_on, findings=s.findings, needs_migration=s.needs_migration,
        mosca_ja=mosca_ja, mosca_en=mosca_en)


def _grace_axis(today: dt.date, due: dt.date | None, latest_start: dt.date | None, y: float,
                renewal: dt.date | None, basis_ja: str, basis_en: str, state: AssetState) -> Axis:
    if due is None or latest_start is None:
        return Axis(1, "量子脆弱な暗号は検出されていない（期限なし）",
                    "No quantum-vulnerable cryptography found (no deadline)")
    left = _years_between(today, latest_start)
    score = 5 if left <= 0 else 4 if left < 2 else 3 if left < 5 else 2 if left < 10 else 1
    ja = (f"移行完了期限 {due.isoformat()}（{basis_ja}）、移行所要{_g(y)}年のため着手期限 {latest_start.isoformat()}: "
          + (f"既に{_g(-left)}年超過" if left <= 0 else f"残り{_g(left)}年"))
    en = (f"Must be migrated by {due.isoformat()} ({basis_en}); migration takes {_years_en(y)}, so work must "
          f"start by {latest_start.isoformat()}: " + (f"{_years_en(-left)} late" if left <= 0
                                                       else f"{_years_en(left)} left"))
    if state == "not-inventoried":
        ja = "暗号の棚卸し未実施のため量子脆弱と仮定。" + ja
        en = "Not inventoried, assumed quantum-vulnerable. " + en
    if renewal is None:
        ja += "。次回更改時期が未登録"
        en += ". No next renewal date recorded"
    elif left > 0 and renewal > latest_start:
        score = min(5, score + 1)
        ja += f"。次回更改（{renewal.isoformat()}）は着手期限より後のため、更改を待たない対応が必要（+1）"
        en += f". The next renewal ({renewal.isoformat()}) comes after that, so it cannot wait for the renewal (+1)"
    elif renewal >= today and renewal <= due:
        ja += f"。次回更改（{renewal.isoformat()}）で移行可能"
        en += f". The next renewal ({renewal.isoformat()}) falls within the window: migrate with it"
    return Axis(score, ja, en)


def _attack_axis(asset: Asset, s: CryptoSummary, hndl: bool | None, assumed: bool) -> Axis:
    score = _EXPOSURE_SCORE[asset.exposure]
    ja = [f"公開範囲: {_EXPOSURE_JA[asset.exposure]}（{score}）"]
    en = [f"Exposure: {asset.exposure} ({score})"]
    if s.vulnerable_kex_wire:
        score += 1
        names = ", ".join(s.kex_examples)
        ja.append(f"通信路で量子脆弱な鍵交換を確認（{names}）（+1）")
        en.append(f"quantum-vulnerable key exchange observed on the wire ({names}) (+1)")
        if s.pq_kex:
            ja.append(f"ハイブリッド/PQC鍵交換も提供（{s.pq_kex}件）だが従来方式での接続が可能")
            en.append(f"hybrid/PQC key exchange also offered ({s.pq_kex}), but classical fallback is accepted")
    if hndl:
        score += 1
        ja.append("HNDL（今収集し後で解読）攻撃の対象（+1）")
        en.append("exposed to harvest-now-decrypt-later (+1)")
    elif hndl is None and assumed:
        ja.append("棚卸し未実施のためHNDL判定不能")
        en.append("HNDL exposure unknown (not inventoried)")
    else:
        ja.append("HNDLの対象外")
        en.append("not exposed to HNDL")
    return Axis(min(5, max(1, score)), "、".join(ja), "; ".join(en))


def _importance_axis(asset: Asset, policy: Policy) -> Axis:
    x = asset.confidentiality_years
    class_score = policy.data_class_score(asset.data_class)
    years_score = 1 if x <= 0 else 2 if x < 3 else 3 if x < 7 else 4 if x < 15 else 5
    held = f"（{asset.data_held}）" if asset.data_held else ""
    held_en = f" ({asset.data_held})" if asset.data_held else ""
    if class_score is None:
        ja_class = f"情報区分「{asset.data_class}」はポリシー未定義（2とみなす）"
        en_class = f"Data class {asset.data_class!r} is not defined in the policy (taken as 2)"
        class_score = 2
    else:
        ja_class = f"情報区分「{asset.data_class}」{held}: {class_score}"
        en_class = f"Data class {asset.data_class!r}{held_en}: {class_score}"
    score = max(class_score, years_score)
    return Axis(score, f"{ja_class}、機密保持期間{_g(x)}年: {years_score}、高い方を採用",
                f"{en_class}; {_years_en(x)} of confidentiality: {years_score}; the higher counts")


def hndl_exposed(findings: Iterable[CryptoFinding], *, confidentiality_years: float, today: dt.date,
                 scenario: Scenario, exposure: str = "internet", policy: Policy | None = None) -> bool:
    """Is data carried by these findings exposed to harvest-now-decrypt-later today? (See the module text.)"""
    asset = Asset(asset_id="hndl-check", confidentiality_years=confidentiality_years,
                  exposure=cast(Exposure, exposure))
    risk = assess_asset(asset, summarise(findings, policy), today=today, scenario=scenario, policy=policy)
    return bool(risk.hndl_now)


class Assessor:
    """One pass over the register's current findings (classified, matched to assets by location pattern),
    then :meth:`risks` streams one :class:`AssetRisk` per asset. Memory: the location matcher and one small
    :class:`CryptoSummary` per asset with findings."""

    def __init__(self, register: PqcRegister, *, today: dt.date, scenario: str | None = None,
                 policy: Policy | None = None) -> None:
        self.register = register
        self.policy = policy or default_policy()
        self.scenario = self.policy.scenario(scenario)
        self.today = today
        self.matcher = register.matcher()
        self.summaries: dict[str, CryptoSummary] = {}
        self.findings = 0
        self.unlinked = 0
        self.by_status: dict[str, int] = {}
        for stored in register.iter_findings(current_only=True):
            f = stored.finding
            cls = self.policy.classify(f)
            self.findings += 1
            self.by_status[cls.status] = self.by_status.get(cls.status, 0) + 1
            owners = self.matcher.match(f.location)
            if not owners:
                self.unlinked += 1
            for asset_id in owners:
                summary = self.summaries.get(asset_id)
                if summary is None:
                    summary = self.summaries[asset_id] = CryptoSummary()
                summary.add(f, cls)

    def risks(self, *, after: str = "", limit: int | None = None) -> Iterator[tuple[Asset, AssetRisk]]:
        """Each asset (in id order, optionally a page of them) with its evaluation."""
        for asset in self.register.iter_assets(after=after, limit=limit):
            yield asset, assess_asset(asset, self.summaries.get(asset.asset_id), today=self.today,
                                      scenario=self.scenario, policy=self.policy)
