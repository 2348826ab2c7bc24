"""The transfer-monitoring scenarios: what each one looks for, the engine rules that implement it,
the FSA reference cases it covers and the simulator typologies it is meant to catch.

FSA 2025 request 5 asks crypto-asset exchangers to monitor transfers, stop scam and online-casino
payments and verify that the monitoring works; the 犯罪収益移転防止法 (Act on Prevention of Transfer
of Criminal Proceeds) Art. 8 and the FSA's AML/CFT guidelines (II-2(3)(iii), 取引モニタリング) ask
for scenarios and thresholds that match the firm's risks and are verified. Rules are data in
``risk/builtin_rules/aml.yaml`` and ``transfers.yaml``; this module is the map between them, the
reference cases (:mod:`mamori.aml.reference_cases`) and the typologies of the crypto simulator.

``thresholds`` name the rule-set ``lists:`` constants that tune a scenario (what an effectiveness
sweep varies). A test keeps every rule id here present in the built-in rule set and every
reference-case id known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mamori.aml.reference_cases import BY_ID


@dataclass(frozen=True, slots=True)
class Scenario:
    id: str
    title_ja: str
    title_en: str
    rule_ids: tuple[str, ...]
    reference_cases: tuple[str, ...]
    typologies: tuple[str, ...]
    thresholds: tuple[str, ...]


TYPOLOGIES: Final[tuple[str, ...]] = (
    "investment_scam_victim", "romance_scam_victim", "online_casino", "mule", "takeover_withdrawal", "layering",
    "benign_active_trader", "benign_own_wallet", "benign_payday_buyer", "benign_exchange_rebalance",
)
"""Simulator typologies. Attacks first; benign look-alikes start with ``benign_``."""

ATTACK_TYPOLOGIES: Final[tuple[str, ...]] = tuple(t for t in TYPOLOGIES if not t.startswith("benign_"))
SCAM_VICTIMS: Final = ("investment_scam_victim", "romance_scam_victim")

SCENARIOS: Final[tuple[Scenario, ...]] = (
    Scenario("AML-EXPOSURE-DIRECT", "リスクアドレスとの直接取引", "Direct exposure to a listed risky address",
             ("AML-SCREEN-WD-001", "AML-SCREEN-WD-002", "AML-SCREEN-DEP-001"),
             ("C8", "C11", "C17", "F3"), (*SCAM_VICTIMS, "online_casino", "layering"),
             ("screening_min_confidence", "screening_block_categories", "screening_hold_categories",
              "screening_deposit_alert_categories")),
    Scenario("AML-EXPOSURE-INDIRECT", "リスクアドレスとの間接取引（nホップ）",
             "Indirect exposure to a risky address within n hops",
             ("AML-EXPOSURE-WD-001", "AML-EXPOSURE-DEP-001"), ("C8", "C11", "C12"),
             (*SCAM_VICTIMS, "layering"), ("exposure_max_hops",)),
    Scenario("AML-PASSTHROUGH", "入庫直後の同額送付（通過的な利用）",
             "Pass-through: crypto received and sent on at once for about the same value",
             ("AML-PASS-001",), ("C14",), ("mule", "layering"), ("passthrough_band_pct", "passthrough_min_jpy")),
    Scenario("AML-RAPID-FIAT-OUT", "日本円入金直後の新規アドレスへの出金",
             "First withdrawal to a new address soon after a fiat deposit",
             ("XFER-RAPID-001",), ("F1", "C14"), (*SCAM_VICTIMS, "mule"), ()),
    Scenario("AML-FIRST-BUY-OUT", "初回購入後の全額送付", "A first-time buyer sends everything out at once",
             ("AML-F1-001", "AML-F1-002", "AML-F1-003"), ("F1", "C13"), (*SCAM_VICTIMS, "online_casino"),
             ("first_buy_share_pct", "first_buy_min_jpy", "first_buy_account_days", "repeat_payment_min_count")),
    Scenario("AML-STRUCTURING", "敷居値を若干下回る取引の反復", "Structuring just below the confirmation threshold",
             ("AML-STRUCT-001", "XFER-STRUCT-001"), ("C2",), ("mule", "layering"),
             ("structuring_threshold_jpy", "structuring_band_pct", "structuring_min_count", "large_withdrawal_jpy")),
    Scenario("AML-CASINO", "オンラインカジノへの支払いパターン", "Online-casino payment pattern",
             ("AML-CASINO-001",), ("F3",), ("online_casino",),
             ("casino_max_significant_digits", "casino_min_sends", "casino_night_hours")),
    Scenario("AML-COLLECTION-POINT", "多数の顧客から同一アドレスへの送付（詐欺の集金先）",
             "Many customers sending to one address (a scam collection point)",
             ("XFER-COLLECT-001", "XFER-COLLECT-002"), ("C12", "F1"), (*SCAM_VICTIMS, "mule"),
             ("collection_min_senders",)),
    Scenario("AML-MULE", "多数の送付元からの受領（ミュール口座）",
             "One customer receiving from many unrelated sources (a mule account)",
             ("XFER-MULE-001", "AML-MULE-FIAT-001"), ("C12", "F2"), ("mule",), ("mule_fiat_min_sources",)),
    Scenario("AML-LAYERING", "多数の新規アドレスへの分散送付", "Layering: withdrawals spread over many new addresses",
             ("AML-FANOUT-001",), ("C12", "C14"), ("layering",), ("layering_min_addresses",)),
    Scenario("AML-SHARED-IP", "異なる顧客による同一IPアドレスからのアクセス",
             "Different customers using the same IP address", ("AML-SHAREDIP-001",), ("C5",),
             ("mule", "takeover_withdrawal"), ("shared_ip_min_accounts", "shared_ip_exempt_classes")),
    Scenario("AML-FOREIGN-ACCESS", "国内居住者の国外IP・匿名化ネットワークからの取引",
             "A resident transacting from a foreign IP or an anonymising network",
             ("AML-FOREIGN-001", "XFER-ANON-001"), ("C6",), ("takeover_withdrawal", "mule"), ("anonymising_classes",)),
    Scenario("AML-HIGH-RISK-COUNTRY", "非協力国・地域からのアクセス",
             "Access from a country the FATF calls on to counter (non-cooperative jurisdiction)",
             ("AML-HRCOUNTRY-001",), ("C7",), ("takeover_withdrawal",), ("aml_high_risk_countries",)),
    Scenario("AML-NEW-ACCOUNT-BURST", "口座開設直後の多額・頻繁な入出金",
             "Large or frequent flows shortly after account opening", ("AML-NEWACCT-001",), ("C13",),
             ("mule", "layering"), ("new_account_days", "new_account_min_transfers", "new_account_min_jpy")),
    Scenario("AML-TAKEOVER-WITHDRAWAL", "設定変更・不審ログイン直後の出金",
             "Withdrawal after a settings change or a suspicious login",
             ("XFER-CHAIN-001", "XFER-NEWDEST-001", "XFER-NEWDEV-001"), (), ("takeover_withdrawal",), ()),
    Scenario("AML-LARGE", "顧客の属性に見合わない高額な出金", "Large withdrawals (out of line with the customer)",
             ("XFER-LARGE-001", "XFER-LIMIT-001"), ("C10",), ("takeover_withdrawal", *SCAM_VICTIMS),
             ("large_withdrawal_jpy", "daily_withdrawal_limit_jpy")),
    Scenario("AML-TRACE-REACH", "出金後の資金追跡によるリスク先への到達",
             "Funds traced to a risky entity after withdrawal", ("AML-TRACE-REACH-001",), ("C8", "C11", "F3"),
             (*SCAM_VICTIMS, "online_casino", "layering"), ()),
)

NON_ENGINE_DETECTORS: Final[dict[str, str]] = {
    "AML-TRACE-REACH-001": "the funds tracer (mamori.aml.traces) re-checking open traces on new chain data",
}
"""Alert rule ids raised outside the rule engine -> what raises them. Effectiveness metrics count their
alerts and coverage treats their scenarios as live; backtests and threshold sweeps, which re-run engine
rules over stored events, skip them and say why."""

BY_SCENARIO_ID: Final[dict[str, Scenario]] = {s.id: s for s in SCENARIOS}
_BY_RULE: Final[dict[str, Scenario]] = {rule: s for s in SCENARIOS for rule in s.rule_ids}


def scenario_for_rule(rule_id: str) -> Scenario | None:
    """The scenario a rule implements (None for rules outside transfer monitoring)."""
    return _BY_RULE.get(rule_id)


def coverage() -> dict[str, tuple[str, ...]]:
    """Every reference case id -> the scenario ids that cover it; an empty tuple (``", ".join`` gives ``""``)
    when none does."""
    return {case_id: tuple(s.id for s in SCENARIOS if case_id in s.reference_cases) for case_id in BY_ID}


def all_rule_ids() -> tuple[str, ...]:
    return tuple(_BY_RULE)
