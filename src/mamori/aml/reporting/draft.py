"""A report draft pre-filled from a case: what mamori knows, in the sections of the filing.

From the case's accounts and alerts it collects, in the case window (``lookback`` before the first
alert to a day after the last), each account's deposits, withdrawals, executions, settings changes,
and the logins and orders that fired a rule, with their decisions; the fired rules lead to the
FSA reference cases (:func:`mamori.aml.reporting.links.reference_cases_for_rule`), and a reason text
is drafted in Japanese from these facts in 5W1H order, marked as a draft to edit. The customer
identification items (取引時確認) are left for the compliance officer (``PUT`` or a KYC import):
mamori does not hold them.

Bounded: at most :data:`MAX_ROWS` events are read (the draft says so when there were more).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import orjson
from pydantic import ValidationError
from sqlalchemy import Connection, and_, func, or_, select

from mamori.adapters.sql.schema import alerts, decisions, events
from mamori.aml.reference_cases import BY_ID, CATEGORIES
from mamori.aml.reporting.links import reference_cases_for_rule
from mamori.aml.reporting.model import (
    MAX_ACCOUNTS,
    MAX_SUBJECTS,
    Account,
    AccountStatus,
    Filing,
    Reasons,
    ReferenceCaseRef,
    ReportDocument,
    ReportingEntity,
    Subject,
    Transaction,
    TransactionKind,
)
from mamori.cases.store import case_alerts, case_attachments, load_case

JST: Final = timezone(timedelta(hours=9))
DAY_US: Final = 86_400_000_000
MAX_ROWS: Final = 2000
DRAFT_MARK: Final = "【mamoriによる自動作成の下書き：事実関係を確認し、判断の理由を加筆・修正してください】"
_ALWAYS: Final = ("fiat_deposit", "fiat_withdrawal", "crypto_deposit", "crypto_withdrawal", "execution",
                  "settings_change")
_IF_FIRED: Final = ("login", "order")
_ONLINE: Final = frozenset({"web", "app", "api"})


@dataclass(slots=True)
class DraftFacts:
    """What the draft was built from (ids and counts: safe for the audit log)."""

    case_id: int
    accounts: list[str] = field(default_factory=list)
    rule_ids: list[str] = field(default_factory=list)
    reference_cases: list[str] = field(default_factory=list)
    rows: int = 0
    truncated: bool = False
    unchecked_addresses: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "accounts": len(self.accounts), "rule_ids": self.rule_ids,
                "reference_cases": self.reference_cases, "rows": self.rows, "truncated": self.truncated,
                "unchecked_addresses": self.unchecked_addresses}


def _dec(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        out = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return out if out.is_finite() else None


def _at(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC).astimezone(JST) + timedelta(microseconds=us)


def _amount_text(value: Decimal) -> str:
    return f"{int(value):,}" if value == value.to_integral_value() else f"{value.normalize():,f}"


def _row(event_type: str, payload: dict[str, Any], rule_ids: list[str], at_us: int) -> dict[str, Any]:
    """A 取引情報 row (before validation) from an event payload."""
    row: dict[str, Any] = {"at": _at(at_us).isoformat(), "account_id": payload.get("account_id"),
                           "channel": payload.get("channel"), "ip": payload.get("ip"),
                           "device_id": payload.get("device_id"), "event_id": payload.get("id"),
                           "rule_ids": rule_ids[:50]}
    if event_type in ("fiat_deposit", "fiat_withdrawal"):
        currency = payload.get("currency") or "JPY"
        row |= {"kind": event_type, "amount": payload.get("amount"), "currency": currency,
                "amount_jpy": payload.get("amount") if currency == "JPY" else None}
        if payload.get("bank_account_fingerprint"):
            row["counterparty"] = f"銀行口座（指紋 {str(payload['bank_account_fingerprint'])[:40]}）"
    elif event_type in ("crypto_deposit", "crypto_withdrawal"):
        side = "from_address" if event_type == "crypto_deposit" else "to_address"
        row |= {"kind": event_type, "asset": payload.get("asset"), "quantity": payload.get("amount"),
                "chain": payload.get("chain"), side: payload.get("address"), "amount_jpy": payload.get("amount_jpy"),
                "tx_hash": payload.get("tx_hash")}
    elif event_type in ("execution", "order"):
        quantity, price = _dec(payload.get("quantity")), _dec(payload.get("price"))
        row |= {"kind": "buy" if payload.get("side") == "buy" else "sell", "asset": payload.get("symbol"),
                "quantity": payload.get("quantity"), "currency": payload.get("currency") or "JPY",
                "amount": str(quantity * price) if quantity is not None and price is not None else None,
                "note": "注文" if event_type == "order" else "約定"}
    elif event_type == "login":
        row |= {"kind": "login", "note": f"ログイン {payload.get('result', '')} {payload.get('method', '')}".strip()}
    elif event_type == "settings_change":
        row |= {"kind": "settings_change",
                "note": f"登録情報の変更 {payload.get('setting', '')} {payload.get('change', '')}".strip()}
    else:
        row |= {"kind": "other", "note": event_type}
    return {k: v for k, v in row.items() if v is not None}


def _transaction(row: dict[str, Any], facts: DraftFacts) -> Transaction:
    """Validate a row; an address (or asset) that fails its check is kept in the note, never dropped."""
    try:
        return Transaction.model_validate(row)
    except ValidationError as exc:
        bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        kept = {k: v for k, v in row.items() if k not in bad}
        notes = [f"{k}（未検証）: {str(row[k])[:120]}" for k in sorted(bad) if k in row]
        kept["note"] = "; ".join(filter(None, [str(row.get("note", "")), *notes]))[:200] or None
        if {"from_address", "to_address"} & bad:
            facts.unchecked_addresses += 1
        return Transaction.model_validate({k: v for k, v in kept.items() if v is not None})


def _account_status(conn: Connection, account_id: str) -> AccountStatus | None:
    """Frozen when the account's latest freeze is later than its latest unlock (else unknown)."""
    latest = dict(conn.execute(
        select(events.c.event_type, func.max(events.c.occurred_at_us))
        .where(events.c.account_id == account_id, events.c.event_type.in_(("account_freeze", "account_unlock")))
        .group_by(events.c.event_type)).all())
    freeze, unlock = latest.get("account_freeze"), latest.get("account_unlock")
    if freeze is not None and (unlock is None or freeze > unlock):
        return AccountStatus.FROZEN
    return None


def _reference_refs(rule_ids: list[str]) -> list[ReferenceCaseRef]:
    found: dict[str, None] = {}
    for rule_id in rule_ids:
        for case_id in reference_cases_for_rule(rule_id):
            found.setdefault(case_id)
    ordered = sorted(found, key=lambda c: (BY_ID[c].category, BY_ID[c].fsa_listed is False, int(c[1:])))
    return [ReferenceCaseRef(id=c) for c in ordered]


_WORDS: Final = {"fiat_deposit": "入金し", "fiat_withdrawal": "出金し", "crypto_deposit": "受け入れ",
                 "crypto_withdrawal": "外部アドレスへ移転し", "buy": "有価証券等の買付けに充て",
                 "sell": "売却代金として受け取っ"}


def _summary(rows: list[Transaction]) -> str:
    """``1,000,000円を入金し、0.1 BTCを外部アドレスへ移転し`` (totals per kind and unit, in a fixed order)."""
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for t in rows:
        crypto = t.kind in (TransactionKind.CRYPTO_DEPOSIT, TransactionKind.CRYPTO_WITHDRAWAL)
        value = t.quantity if crypto else t.amount
        if value is not None and t.kind.value in _WORDS:
            unit = (t.asset if crypto else t.currency) or ""
            sums[(t.kind.value, unit)] += value
    order = list(_WORDS)
    parts = []
    for (kind, unit), total in sorted(sums.items(), key=lambda item: (order.index(item[0][0]), item[0][1])):
        unit_text = "円" if unit == "JPY" else f" {unit}"
        parts.append(f"{_amount_text(total)}{unit_text}を{_WORDS[kind]}")
    return "、".join(parts)


def _reason_text(*, accounts: list[str], rows: list[Transaction], alerted: list[Transaction],
                 rule_ids: list[str], rule_texts: Mapping[str, str], refs: list[ReferenceCaseRef],
                 truncated: bool) -> str:
    """The reason draft in 5W1H order (いつ・だれが・どこで・なにを・どのように・なぜ), from the facts only."""
    basis = alerted or rows
    lines = [DRAFT_MARK]
    if basis:
        first, last = min(t.at for t in basis), max(t.at for t in basis)
        lines.append(f"（いつ）{first.astimezone(JST):%Y年%m月%d日 %H:%M}から"
                     f"{last.astimezone(JST):%Y年%m月%d日 %H:%M}（日本時間）にかけて、")
    shown = "、".join(accounts[:5]) + (f" ほか{len(accounts) - 5}口座" if len(accounts) > 5 else "")
    lines.append(f"（だれが）顧客番号 {shown} の顧客が、")
    channels = {t.channel for t in rows if t.channel}
    ips = {t.ip for t in rows if t.ip}
    where = "インターネット経由（非対面）" if channels & _ONLINE or not channels else "対面"
    lines.append(f"（どこで）{where}で、IPアドレス{len(ips)}件から、")
    overall, flagged = _summary(rows), _summary(alerted)
    destinations = {t.to_address for t in basis if t.to_address}
    sent = f"（送付先アドレス{len(destinations)}件）" if destinations else ""
    period = ""
    if rows:
        period = (f"{min(t.at for t in rows).astimezone(JST):%m月%d日}から"
                  f"{max(t.at for t in rows).astimezone(JST):%m月%d日}までに")
    line = f"（なにを）{period}{overall or '取引を行っ'}た"
    if alerted and flagged != overall:
        line += f"（うち検知された取引：{flagged}）"
    lines.append(line + sent + "。")
    if rule_ids:
        described = "；".join(f"{r} {rule_texts.get(r, '')}".strip() for r in rule_ids[:12])
        lines.append(f"（どのように）取引モニタリングで次の検知があった：{described}。")
    if refs:
        cited = []
        for ref in refs:
            case = BY_ID[ref.id]
            note = "" if case.fsa_listed else "（参考事例に明示のない類型）"
            cited.append(f"第{case.category}「{CATEGORIES[case.category][0]}」{case.title_ja}（{ref.id}）{note}")
        lines.append("（なぜ）金融庁「疑わしい取引の参考事例」（暗号資産交換業者）の " + "、".join(cited)
                     + " に該当する可能性がある。")
    else:
        lines.append("（なぜ）[疑わしいと判断した理由を記載してください]")
    lines.append("顧客の取引時確認情報（職業・取引目的・収入・資産）と照らして、取引の経済合理性を確認すること。")
    if truncated:
        lines.append(f"（注）対象期間の取引が{MAX_ROWS}件を超えたため、取引情報は先頭{MAX_ROWS}件のみ。")
    return "\n".join(lines)


def _filing(rows: list[Transaction], alerted: list[Transaction], business_line: str | None,
            attachments: list[str]) -> Filing:
    basis = alerted or rows
    kinds = {t.kind for t in basis}
    crypto = any(t.kind in (TransactionKind.CRYPTO_DEPOSIT, TransactionKind.CRYPTO_WITHDRAWAL) for t in rows)
    line = business_line or ("暗号資産交換業（暗号資産の売買・交換・管理及び移転）" if crypto
                             else "金融商品取引業（有価証券の売買等）")
    assets = sorted({t.asset for t in basis if t.asset and t.kind in (
        TransactionKind.CRYPTO_DEPOSIT, TransactionKind.CRYPTO_WITHDRAWAL, TransactionKind.BUY, TransactionKind.SELL)})
    parts = (["暗号資産（" + "、".join(assets[:10]) + "）"] if assets else []) + \
        (["日本円"] if kinds & {TransactionKind.FIAT_DEPOSIT, TransactionKind.FIAT_WITHDRAWAL} else [])
    return Filing(
        occurred_from=min(t.at for t in basis).astimezone(JST).date().isoformat() if basis else None,
        occurred_to=max(t.at for t in basis).astimezone(JST).date().isoformat() if basis else None,
        place="インターネット取引（非対面）" if not {t.channel for t in rows if t.channel} - _ONLINE else None,
        business_line=line, property="、".join(parts) or None, attachments=attachments)


def _attachments(conn: Connection, case_id: int) -> list[str]:
    """The case's attached files (添付資料: identity documents, transaction records) by name."""
    names = conn.execute(select(case_attachments.c.filename).where(case_attachments.c.case_id == case_id)
                         .order_by(case_attachments.c.id).limit(100)).scalars()
    return [name[:200] for name in names if name.strip()]


def build_draft(conn: Connection, case_id: int, *, entity: ReportingEntity, lookback_us: int = 7 * DAY_US,
                rule_texts: Mapping[str, str] | None = None, business_line: str | None = None,
                max_rows: int = MAX_ROWS) -> tuple[ReportDocument, DraftFacts]:
    """The draft document for case ``case_id`` and the facts it rests on (``NotFound`` for no case)."""
    record = load_case(conn, case_id)
    facts = DraftFacts(case_id=case_id)
    accounts = [a for (a,) in conn.execute(select(case_alerts.c.account_id).distinct()
                                           .where(case_alerts.c.case_id == case_id)
                                           .order_by(case_alerts.c.account_id).limit(MAX_ACCOUNTS))]
    facts.accounts = accounts
    alerted_ids = {e for (e,) in conn.execute(
        select(alerts.c.event_id).select_from(case_alerts.join(alerts, alerts.c.id == case_alerts.c.alert_id))
        .where(case_alerts.c.case_id == case_id))}
    since, until = record.first_alert_at_us - lookback_us, record.last_alert_at_us + DAY_US
    stmt = (select(events.c.event_id, events.c.event_type, events.c.occurred_at_us, events.c.payload,
                   decisions.c.body)
            .select_from(events.outerjoin(decisions, decisions.c.event_id == events.c.event_id))
            .where(events.c.account_id.in_(accounts), events.c.occurred_at_us >= since,
                   events.c.occurred_at_us < until,
                   or_(events.c.event_type.in_(_ALWAYS),
                       and_(events.c.event_type.in_(_IF_FIRED), decisions.c.score > 0)))
            .order_by(events.c.occurred_at_us, events.c.seq).limit(max_rows + 1))
    rows: list[Transaction] = []
    alerted: list[Transaction] = []
    rule_ids: dict[str, None] = {}
    for event_id, event_type, at_us, raw, body in conn.execute(stmt):
        if len(rows) == max_rows:
            facts.truncated = True
            break
        fired = [str(r.get("id")) for r in orjson.loads(body).get("rules", ())] if body else []
        row = _transaction(_row(event_type, orjson.loads(raw), fired, at_us), facts)
        rows.append(row)
        if event_id in alerted_ids:
            alerted.append(row)
            for rule_id in fired:
                rule_ids.setdefault(rule_id)
    facts.rows = len(rows)
    facts.rule_ids = list(rule_ids)
    refs = _reference_refs(facts.rule_ids)
    facts.reference_cases = [r.id for r in refs]
    text = _reason_text(accounts=accounts, rows=rows, alerted=alerted, rule_ids=facts.rule_ids,
                        rule_texts=rule_texts or {}, refs=refs, truncated=facts.truncated)
    document = ReportDocument(
        entity=entity, filing=_filing(rows, alerted, business_line, _attachments(conn, case_id)),
        subjects=[Subject(account_ids=[a]) for a in accounts[:MAX_SUBJECTS]],
        accounts=[Account(account_id=a, status=_account_status(conn, a)) for a in accounts],
        transactions=rows,
        reasons=Reasons(text=text, reference_cases=refs, rule_ids=facts.rule_ids, auto_drafted=True))
    return document, facts
