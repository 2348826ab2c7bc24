"""One-line summaries of events for the investigation timeline, in English and Japanese.

A summary says what happened, from where, and what mamori decided with the rules that made it so,
e.g. ``login (password) from new device d-7f2 via 45.76.1.2 (US, AS-CHOOPA, hosting) — challenge
(LOGIN-NEWDEV-001, LOGIN-ANON-001 +2)``. Amounts are exact yen; the client's network is described
with the IP database the engine uses (country, network operator, class).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mamori.adapters.geo import GeoProvider
from mamori.investigate.common import decimal_of, decimal_text, yen_text

IpDescriber = Callable[[str], tuple[str | None, str | None, str | None]]
"""ip -> (country, network operator, class); any part may be unknown."""

MAX_RULES_SHOWN = 3


def ip_describer(geo: GeoProvider | None) -> IpDescriber | None:
    """(country, operator, class) per IP from ``geo``, cached for one request."""
    if geo is None:
        return None
    cache: dict[str, tuple[str | None, str | None, str | None]] = {}

    def describe(ip: str) -> tuple[str | None, str | None, str | None]:
        found = cache.get(ip)
        if found is None:
            try:
                info = geo.lookup(ip)
                found = (info.country, info.asn_org, info.ip_class)
            except ValueError:
                found = (None, None, None)
            cache[ip] = found
        return found

    return describe


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the timeline knows of an event's decision."""

    decision: str | None
    rule_ids: tuple[str, ...]
    features: Mapping[str, Any]


def _where(payload: Mapping[str, Any], features: Mapping[str, Any], describe: IpDescriber | None) -> str:
    ip = payload.get("ip")
    if not ip:
        return ""
    country, operator, ip_class = describe(ip) if describe is not None else (None, None, None)
    ip_class = ip_class or features.get("ip_class")
    parts = [p for p in (country, operator, ip_class) if p]
    return f" via {ip}" + (f" ({', '.join(parts)})" if parts else "")


def _where_ja(payload: Mapping[str, Any], features: Mapping[str, Any], describe: IpDescriber | None) -> str:
    ip = payload.get("ip")
    if not ip:
        return ""
    country, operator, ip_class = describe(ip) if describe is not None else (None, None, None)
    ip_class = ip_class or features.get("ip_class")
    parts = [p for p in (country, operator, ip_class) if p]
    return f"{ip}" + (f"（{', '.join(parts)}）" if parts else "") + "経由"


def _device(payload: Mapping[str, Any], features: Mapping[str, Any]) -> tuple[str, str]:
    device = payload.get("device_id")
    if not device:
        return "", ""
    if features.get("new_device") is True:
        return f" from new device {device}", f"新しい端末 {device}"
    return f" from device {device}", f"端末 {device}"


def _verdict(v: Verdict) -> tuple[str, str]:
    if v.decision is None:
        return " — no decision stored", "（判定なし）"
    if v.decision == "allow" and not v.rule_ids:
        return "", ""
    rules = ", ".join(v.rule_ids[:MAX_RULES_SHOWN])
    if len(v.rule_ids) > MAX_RULES_SHOWN:
        rules += f" +{len(v.rule_ids) - MAX_RULES_SHOWN}"
    return (f" — {v.decision}" + (f" ({rules})" if rules else ""),
            f" — {v.decision}" + (f"（{rules}）" if rules else ""))


def _qty(value: Any) -> str:
    d = decimal_of(value)
    if d is None:
        return "?"
    whole = d == d.to_integral_value()
    return f"{int(d):,}" if whole else decimal_text(d)


def order_value(payload: Mapping[str, Any]) -> Decimal | None:
    """An order's value in its currency: quantity × limit price (or the reference price for market
    orders); None when neither price is known."""
    qty = decimal_of(payload.get("quantity"))
    price = decimal_of(payload.get("price")) or decimal_of(payload.get("reference_price"))
    return None if qty is None or price is None else qty * price


def _money(amount: Decimal | None, currency: str) -> str:
    if currency == "JPY":
        return yen_text(amount)
    return f"{currency} {decimal_text(amount)}" if amount is not None else f"{currency} ?"


def _core(event_type: str, p: Mapping[str, Any]) -> tuple[str, str]:
    """(English, Japanese) of what happened, without device, network or verdict."""
    currency = str(p.get("currency") or "JPY")
    if event_type == "login":
        method = p.get("method", "?")
        if p.get("result") == "success":
            return f"login ({method})", f"ログイン（{method}）"
        reason = p.get("failure_reason")
        extra = f", {reason}" if reason else ""
        return f"failed login ({method}{extra})", f"ログイン失敗（{method}{extra}）"
    if event_type == "logout":
        return "logout", "ログアウト"
    if event_type == "settings_change":
        setting, change = p.get("setting", "?"), p.get("change", "updated")
        fp = p.get("new_value_fingerprint")
        tail = f" (new value {fp})" if fp else ""
        return f"settings change: {setting} {change}{tail}", f"設定変更: {setting} {change}{tail}"
    if event_type == "order":
        side, symbol, market = p.get("side", "?"), p.get("symbol", "?"), p.get("market", "?")
        kind = p.get("order_type", "?")
        price = decimal_of(p.get("price"))
        at = f" {_money(price, currency)}" if price is not None else ""
        value = order_value(p)
        worth = f" ≈ {_money(value, currency)}" if value is not None else ""
        side_ja = {"buy": "買", "sell": "売"}.get(str(side), str(side))
        return (f"{side} order {p.get('order_id')}: {_qty(p.get('quantity'))} × {symbol} ({market}) {kind}{at}{worth}",
                f"{side_ja}注文 {p.get('order_id')}: {symbol}（{market}）{_qty(p.get('quantity'))}株 {kind}{at}{worth}")
    if event_type == "order_cancel":
        symbol = f" ({p['symbol']})" if p.get("symbol") else ""
        return f"order {p.get('order_id')}{symbol} cancelled", f"注文 {p.get('order_id')}{symbol} 取消"
    if event_type == "execution":
        side, symbol = p.get("side", "?"), p.get("symbol", "?")
        price = decimal_of(p.get("price"))
        qty = decimal_of(p.get("quantity"))
        total = qty * price if qty is not None and price is not None else None
        side_ja = {"buy": "買付", "sell": "売却"}.get(str(side), str(side))
        return (f"execution {p.get('execution_id')} of order {p.get('order_id')}: {side} {_qty(qty)} × {symbol} "
                f"@ {_money(price, currency)} = {_money(total, currency)}",
                f"約定 {p.get('execution_id')}（注文 {p.get('order_id')}）: {side_ja} {symbol} {_qty(qty)}株 "
                f"@ {_money(price, currency)} = {_money(total, currency)}")
    if event_type in ("fiat_deposit", "fiat_withdrawal"):
        amount = _money(decimal_of(p.get("amount")), currency)
        if event_type == "fiat_deposit":
            return f"deposit {amount}", f"入金 {amount}"
        bank = p.get("bank_account_fingerprint")
        to, to_ja = (f" to bank account {bank}", f" 出金先 {bank}") if bank else ("", "")
        return f"withdrawal {amount}{to}", f"出金 {amount}{to_ja}"
    if event_type in ("crypto_deposit", "crypto_withdrawal"):
        amount = f"{decimal_text(decimal_of(p.get('amount')) or Decimal(0))} {p.get('asset', '?')}"
        jpy = decimal_of(p.get("amount_jpy"))
        worth = f" ≈ {yen_text(jpy)}" if jpy is not None else ""
        where = f"{p.get('chain', '?')}:{p.get('address', '?')}"
        if event_type == "crypto_deposit":
            return f"crypto deposit {amount}{worth} from {where}", f"暗号資産入庫 {amount}{worth}（送付元 {where}）"
        return f"crypto withdrawal {amount}{worth} to {where}", f"暗号資産出庫 {amount}{worth}（送付先 {where}）"
    if event_type == "holdings_snapshot":
        positions = p.get("positions") or []
        total = sum((decimal_of(x.get("market_value_jpy")) or Decimal(0) for x in positions), Decimal(0))
        worth = f" ≈ {yen_text(total)}" if total else ""
        return (f"holdings snapshot: {len(positions)} position(s){worth}",
                f"保有残高: {len(positions)}銘柄{worth}")
    if event_type == "account_unlock":
        return (f"account unlocked by {p.get('operator_id')} ({p.get('reason')})",
                f"口座ロック解除（担当 {p.get('operator_id')}、{p.get('reason')}）")
    if event_type == "account_freeze":
        by = f" by {p['operator_id']}" if p.get("operator_id") else ""
        return f"account frozen ({p.get('reason')}){by}", f"口座凍結（{p.get('reason')}）{by}"
    if event_type == "account_profile":
        parts = [f"segment {p['segment']}"] if p.get("segment") else []
        for key, label in (("per_order_limit_jpy", "per-order limit"), ("daily_buy_limit_jpy", "daily buy limit"),
                           ("daily_sell_limit_jpy", "daily sell limit")):
            if p.get(key) is not None:
                parts.append(f"{label} {yen_text(decimal_of(p[key]))}")
        text = ", ".join(parts) or "no change"
        return f"profile: {text}", f"口座設定: {text}"
    return event_type, event_type


def summarize(event_type: str, payload: Mapping[str, Any], verdict: Verdict,
              describe: IpDescriber | None = None) -> tuple[str, str]:
    """(English, Japanese) one-line summary of an event and its decision."""
    en, ja = _core(event_type, payload)
    dev_en, dev_ja = _device(payload, verdict.features)
    v_en, v_ja = _verdict(verdict)
    context_ja = "、".join(x for x in (dev_ja, _where_ja(payload, verdict.features, describe)) if x)
    return (en + dev_en + _where(payload, verdict.features, describe) + v_en,
            ja + (f" {context_ja}" if context_ja else "") + v_ja)
