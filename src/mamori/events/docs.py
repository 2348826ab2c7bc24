"""The event-contract reference (``docs/events.md``), generated from the models themselves.

Regenerate the file after any change to :mod:`mamori.events.models`::

    python -m mamori.events.docs > docs/events.md

A test compares the file with :func:`render_markdown`, so the reference cannot drift from the code.
Every field's text comes from its ``Field(description=...)``, every type line from its annotation and
constraints; only the introduction, the Japanese names and the examples are written here.
"""

from __future__ import annotations

import inspect
import json
import sys
import types
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import AfterValidator, BaseModel, BeforeValidator, StringConstraints
from pydantic.fields import FieldInfo

from mamori.events import models as m

JAPANESE_NAMES: dict[str, str] = {
    "login": "ログイン試行",
    "logout": "ログアウト",
    "settings_change": "登録情報の変更",
    "order": "注文",
    "order_cancel": "注文取消",
    "execution": "約定",
    "fiat_deposit": "法定通貨の入金",
    "fiat_withdrawal": "法定通貨の出金",
    "crypto_deposit": "暗号資産の入庫",
    "crypto_withdrawal": "暗号資産の出庫",
    "holdings_snapshot": "保有残高スナップショット",
    "account_unlock": "ロック解除（本人再確認後）",
    "account_profile": "顧客区分・取引上限の設定",
    "account_freeze": "口座の凍結",
    "firm_block": "全社的な遮断（ネットワーク・銘柄）",
}
"""The Japanese name of each event type, shown in parentheses in the section headings."""

NESTED_JAPANESE_NAMES: dict[str, str] = {"Position": "保有銘柄"}


def _envelope(n: int, type: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"evt-20240401-{n:06d}",
        "type": type,
        "version": 1,
        "occurred_at": f"2024-04-01T09:{n:02d}:15.250+09:00",
        "account_id": "C0012345",
        "ip": "203.0.113.10",
        "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) MamoriBank/5.2",
        "device_id": "dev-7f3a9c21",
        "session_id": "sess-4b1e0d",
        "channel": "app",
        **extra,
    }


EXAMPLES: dict[str, dict[str, Any]] = {
    "login": _envelope(1, type="login", result="failure", method="password",
                       failure_reason="bad_credential"),
    "logout": _envelope(2, type="logout"),
    "settings_change": _envelope(3, type="settings_change", setting="withdrawal_account", change="added",
                                 new_value_fingerprint="hmac-sha256:9f2c4e7a1b"),
    "order": _envelope(4, type="order", order_id="ORD-000981", side="sell", symbol="7203", market="TSE",
                       quantity="1000", price="2850.5", order_type="limit", reference_price="2848",
                       currency="JPY", account_type="specific"),
    "order_cancel": _envelope(5, type="order_cancel", order_id="ORD-000981", symbol="7203"),
    "execution": _envelope(6, type="execution", execution_id="EXE-55120", order_id="ORD-000981",
                           side="sell", symbol="7203", market="TSE", quantity="400", price="2850.5",
                           currency="JPY"),
    "fiat_deposit": _envelope(7, type="fiat_deposit", transfer_id="DEP-20240401-77", amount="1500000",
                              currency="JPY", bank_account_fingerprint="hmac-sha256:51d0aa3e"),
    "fiat_withdrawal": _envelope(8, type="fiat_withdrawal", transfer_id="WDR-20240401-12",
                                 amount="2999000", currency="JPY",
                                 bank_account_fingerprint="hmac-sha256:e4b7c119"),
    "crypto_deposit": _envelope(9, type="crypto_deposit", transfer_id="CDP-88412", asset="ETH",
                                chain="ethereum", address="0x52908400098527886E0F7030069857D2E4169EE7",
                                amount="1.25", amount_jpy="687500",
                                tx_hash="0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060",
                                memo="deposit-ref-1"),
    "crypto_withdrawal": _envelope(10, type="crypto_withdrawal", transfer_id="CWD-10293", asset="XRP",
                                   chain="xrpl", address="rPEPPER7kfTD9w2To4CQk6UCfuHM9c6GDY",
                                   amount="15000.5", amount_jpy="1230041",
                                   tx_hash="C53ECF838647FA5A4C780377025FEC7999AB4182590510CA461444B207AB74A9",
                                   memo="104729"),
    "holdings_snapshot": _envelope(11, type="holdings_snapshot", positions=[
        {"symbol": "7203", "quantity": "1000", "market_value_jpy": "2850000"},
        {"symbol": "9984", "quantity": "200", "market_value_jpy": "1720000"},
    ]),
    "account_unlock": _envelope(12, type="account_unlock", operator_id="op-tanaka", reason="reidentified",
                                reference="CASE-2024-0412"),
    "account_profile": _envelope(13, type="account_profile", segment="nisa", per_order_limit_jpy="3000000",
                                 daily_buy_limit_jpy="5000000", daily_sell_limit_jpy="10000000"),
    "account_freeze": _envelope(14, type="account_freeze", reason="customer_reported_not_me", operator_id="op-suzuki",
                                reference="evt-20240401-000001"),
    "firm_block": {**_envelope(15, type="firm_block", target="network", value="198.51.100.0/24", operation="block",
                               operator_id="op-sato", reason="credential stuffing source (case 412)",
                               expires_at="2024-04-08T09:00:00+09:00", reference="action-7f3a9c21"),
                   "account_id": "firm-controls"},
}
"""One complete example per event type: every field of the model is present."""

_INTRO = """\
# Event contract / イベント仕様

> 取引サイト・ウォレット・ログイン基盤から mamori に送るイベントの仕様です（契約バージョン {version}）。
> このファイルはモデル定義から自動生成されます。手で編集せず、`python -m mamori.events.docs > docs/events.md`
> で再生成してください。

This is the reference of every event the trading site, wallet and login service send to mamori
(contract version {version}). It is generated from `mamori.events.models` by
`python -m mamori.events.docs > docs/events.md`; a test fails when it is out of date, so do not edit
it by hand.

## Overview

**Envelope.** Every event is one JSON object. It carries the common envelope (below): its own `id`,
its `type`, when it happened, the customer account and optional client context (IP, user agent,
device, session, channel). Each type adds its own fields. Unknown fields are rejected, so a typo
never goes unnoticed. Leading and trailing whitespace of text fields is removed.

**Idempotency by `id`.** The sender chooses the `id`. Sending an event with an `id` mamori has
already accepted does not process it again: the first decision is returned (marked as a duplicate).
Retrying after a timeout is therefore always safe; reuse an `id` only for the same event.

**Time.** `occurred_at` is when the action happened at the source, as RFC 3339 text with a timezone
offset (`2024-04-01T09:30:00+09:00` or `2024-04-01T00:30:00Z`). Times without an offset and Unix
timestamps are rejected. The offset is kept; times with different offsets compare by the instant they
denote. A late event (a batch uploaded hours later, a retried request) is placed by its own
`occurred_at`, not by when it arrived, so windows and sequences stay correct.

**Money and quantities** are decimals. Send them as JSON strings (`"1500000"`, `"0.00012345"`) to
keep them exact: JSON numbers with a fraction are read as binary floating point and values with more
than about 15 significant digits are rounded. Integers are exact either way. NaN and infinities are
rejected; at most 38 digits.

**Versioning.** The `version` field is the contract version; `{version}` is the only version and the
default when it is absent. Any other value is rejected; an incompatible change to the contract will
come with a new version number.

**JSON Schema.** The machine-readable contract (JSON Schema 2020-12, a `oneOf` with a discriminator on
`type`) is printed by `mamori schema` and served at `GET /v1/schema/events`.

**Errors.** An event that does not match is rejected as a whole with `mamori.events.invalid` (HTTP
422). `details` lists every problem as `{{"field", "message", "kind"}}`, `field` being a dotted path such
as `amount` or `positions.3.quantity`; in a batch it is prefixed with the event's index
(`events.2.amount`) and nothing in the batch is accepted.

### Identifiers

Fields of type *identifier* are strings of {ident_len} characters matching `{ident_pattern}`: ASCII
letters and digits and `. _ : @ / + = -`, starting with a letter or digit. Use your own system's ids
(or keyed hashes of them); never put personal data such as names, e-mail addresses or account numbers
in them.
"""


def _ident_constraints() -> StringConstraints:
    for item in get_args(m.Identifier)[1:]:
        if isinstance(item, StringConstraints):
            return item
    raise TypeError("mamori.events.models.Identifier has no StringConstraints")


_VALIDATOR_NOTES: dict[Any, str] = {
    m._canonical_ip: "IPv4 or IPv6 address, stored in canonical form",
    m._rfc3339_text: "RFC 3339",
    m._aware: "timezone offset required",
    m._not_bool: "",
    m._block_value: "network: CIDR, stored canonical; symbol: pattern `^[A-Za-z0-9._:-]+$`",
}


def _escape(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _unwrap(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    """The core type of a field (without ``Annotated`` and ``| None``) and all its constraints."""
    meta = list(metadata)
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = get_args(annotation)
            meta.extend(extra)
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                raise TypeError(f"cannot document the union {annotation!r}")
            annotation = args[0]
        else:
            break
    flat: list[Any] = []
    for item in meta:
        flat.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    return annotation, flat


def _length(low: int | None, high: int | None, unit: str) -> str | None:
    if low and high:
        return f"{low}–{high} {unit}"
    if high:
        return f"≤ {high} {unit}"
    if low:
        return f"≥ {low} {unit}"
    return None


def _constraints(meta: list[Any], unit: str) -> list[str]:
    notes: list[str | None] = []
    for item in meta:
        if isinstance(item, StringConstraints):
            notes.append(_length(item.min_length, item.max_length, unit))
            if item.pattern:
                notes.append(f"pattern `{item.pattern}`")
        elif isinstance(item, annotated_types.MaxLen):
            notes.append(_length(None, item.max_length, unit))
        elif isinstance(item, annotated_types.MinLen):
            notes.append(_length(item.min_length, None, unit))
        elif isinstance(item, annotated_types.Gt):
            notes.append(f"> {item.gt}")
        elif isinstance(item, annotated_types.Ge):
            notes.append(f"≥ {item.ge}")
        elif isinstance(item, (AfterValidator, BeforeValidator)):
            if item.func not in _VALIDATOR_NOTES:
                raise TypeError(f"add a note for validator {item.func.__name__} to mamori.events.docs")
            notes.append(_VALIDATOR_NOTES[item.func])
        elif getattr(item, "allow_inf_nan", None) is False:
            notes.append("finite")
        elif getattr(item, "max_digits", None):
            notes.append(f"≤ {item.max_digits} digits")
        else:
            raise TypeError(f"mamori.events.docs does not know how to document {item!r}")
    return [n for n in notes if n]


def _values(values: list[Any]) -> str:
    return ", ".join(f"`{v}`" for v in values)


def _type_text(name: str, info: FieldInfo) -> str:
    """The *type* column: JSON type, allowed values and constraints."""
    core, meta = _unwrap(info.annotation, info.metadata)
    origin = get_origin(core)
    if origin is Literal:
        values = list(get_args(core))
        if name == "type" and len(values) == 1:
            return f"string, always `\"{values[0]}\"`"
        if all(isinstance(v, int) for v in values):
            return f"integer, {'always' if len(values) == 1 else 'one of'} {_values(values)}"
        return f"string, one of {_values(values)}"
    if isinstance(core, type) and issubclass(core, Enum):
        return f"string, one of {_values([e.value for e in core])}"
    if origin is list:
        (item,) = get_args(core)
        nested = isinstance(item, type) and issubclass(item, BaseModel)
        what = f"`{item.__name__}` objects" if nested else "values"
        notes = _constraints(meta, "items")
        return f"array of {what}" + (f" ({', '.join(notes)})" if notes else "")
    if core is str and _ident_constraints() in meta:
        rest = [item for item in meta if item != _ident_constraints()]
        notes = _constraints(rest, "chars")
        return "identifier" + (f" ({', '.join(notes)})" if notes else "")
    names = {str: ("string", "chars"), Decimal: ("decimal", "digits"), datetime: ("timestamp", ""),
             int: ("integer", ""), bool: ("boolean", "")}
    if core not in names:
        raise TypeError(f"mamori.events.docs does not know how to document the type {core!r} of {name}")
    label, unit = names[core]
    notes = _constraints(meta, unit)
    return label + (f" ({', '.join(notes)})" if notes else "")


def _required_text(info: FieldInfo) -> str:
    if info.is_required():
        return "yes"
    default = info.get_default()
    if default is None:
        return "no"
    if isinstance(default, Enum):
        default = default.value
    return f"no (default `{default}`)"


def _table(model: type[BaseModel], names: list[str]) -> list[str]:
    lines = ["| Field | Type | Required | Description |", "|---|---|---|---|"]
    for name in names:
        info = model.model_fields[name]
        lines.append(f"| `{name}` | {_escape(_type_text(name, info))} | {_required_text(info)} | "
                     f"{_escape(info.description or '')} |")
    return lines


def _nested_models(model: type[BaseModel], names: list[str]) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for name in names:
        core, _ = _unwrap(model.model_fields[name].annotation, [])
        candidates = get_args(core) if get_origin(core) is list else (core,)
        for candidate in candidates:
            if isinstance(candidate, type) and issubclass(candidate, BaseModel) and candidate not in found:
                found.append(candidate)
    return found


def _doc(model: type[BaseModel]) -> str:
    text = model.__doc__ or ""
    return " ".join(inspect.cleandoc(text).split()) if text.strip() else ""


def _own_fields(model: type[BaseModel]) -> list[str]:
    """``type`` first, then the fields the type adds to the envelope, in declaration order."""
    base = set(m.EventBase.model_fields)
    return ["type"] + [n for n in model.model_fields if n not in base and n != "type"]


def render_markdown() -> str:
    """The whole of ``docs/events.md``."""
    ident = _ident_constraints()
    out: list[str] = [_INTRO.format(version=m.SCHEMA_VERSION, ident_pattern=ident.pattern,
                                    ident_len=f"{ident.min_length}–{ident.max_length}").rstrip(), ""]

    out += ["## Common envelope (共通項目)", "", _doc(m.EventBase) + " Every event type has them; the "
            "sections below list only what each type adds.", ""]
    out += _table(m.EventBase, list(m.EventBase.model_fields))
    out += ["", "## Event types (イベント種別)", "",
            "| `type` | 日本語 | Model | Summary |", "|---|---|---|---|"]
    for type_name, model in m.EVENT_TYPES.items():
        out.append(f"| `{type_name}` | {JAPANESE_NAMES[type_name]} | "
                   f"`{model.__name__}` | {_escape(_doc(model).split('. ')[0].rstrip('.'))}. |")
    for type_name, model in m.EVENT_TYPES.items():
        names = _own_fields(model)
        out += ["", f"### {type_name} ({JAPANESE_NAMES[type_name]})", "",
                f"`\"type\": \"{type_name}\"` · model `{model.__name__}`", ""]
        if doc := _doc(model):
            out += [doc, ""]
        out += ["Fields in addition to the common envelope:", ""]
        out += _table(model, names)
        for nested in _nested_models(model, names):
            japanese = NESTED_JAPANESE_NAMES.get(nested.__name__)
            heading = f"#### `{nested.__name__}`" + (f" ({japanese})" if japanese else "")
            out += ["", heading, ""]
            if doc := _doc(nested):
                out += [doc, ""]
            out += _table(nested, list(nested.model_fields))
        out += ["", "Example:", "", "```json", json.dumps(EXAMPLES[type_name], indent=2, ensure_ascii=False),
                "```"]
    return "\n".join(out) + "\n"


def main() -> None:
    sys.stdout.buffer.write(render_markdown().encode("utf-8"))


if __name__ == "__main__":
    main()
