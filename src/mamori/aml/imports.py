"""Reading risk-list files: CSV (English or Japanese headers), JSON and STIX 2.1 bundles.

Pure: bytes in, ``(entries, line errors)`` out; storing them is :class:`mamori.aml.lists.ListStore`'s
job. A bad line is rejected with its line number and the problem; the rest of the file is kept.

CSV columns (header names are case-insensitive; either language):

=============  ==========================================  =====================================
column         Japanese header                             meaning
=============  ==========================================  =====================================
chain          チェーン / ネットワーク                       ``bitcoin``, ``eth``, ``trc20`` … (aliases)
address        アドレス / ウォレット                         the address (validated and normalised)
name           名称 / 氏名 / 名前 / 法人名                   an entity's name (rows without address)
aliases        別名                                         other spellings, separated by ``;`` or ``|``
category       区分 / カテゴリ / 種別                        scam, online_casino, mixer, sanctioned …
source         情報源 / 出典 / 提供元                        where the entry comes from
confidence     確度 / 信頼度                                 0–1 (or 0–100 %)
first_seen     初回確認日                                    date or RFC 3339 time
expires_at     有効期限 (also ``expiry``, ``valid_until``)    date (valid through that day, JST) or time
reference      参照 / 備考 / 参考                            a case number, report or URL
kind           種類                                          address / entity (informative; as exported)
=============  ==========================================  =====================================

JSON: a list of objects with the same keys, or ``{"entries": [...]}``.

STIX 2.1: a bundle whose ``indicator`` objects have a ``pattern`` comparing a cryptocurrency-address
object, e.g. ``[cryptocurrency-wallet:address = '…']``. Accepted object types: ``cryptocurrency-wallet``,
``cryptocurrency-address``, ``x-cryptocurrency-wallet``, ``x-crypto-wallet``, ``x-crypto-address``,
``x-cryptocurrency-address`` and ``x-<chain>-address`` (e.g. ``x-btc-address``); properties ``address`` or
``value``; several comparisons joined by ``OR``; a ``… AND <object>:currency = 'BTC'`` (or ``chain``)
names the chain. Otherwise the chain comes from the indicator's ``x_mamori_chain`` / ``x_chain``, or is
recognised from the address format (Bitcoin, EVM as ``ethereum``, Tron, XRP). The category comes from
``x_mamori_category``, then the ``labels`` and ``indicator_types`` (a label that names a category, e.g.
``mixer``, ``online_casino``, ``sanctioned``), else ``other``; ``confidence`` (0–100) becomes 0–1;
``valid_from`` → first seen, ``valid_until`` → expiry; the ``created_by_ref`` identity's name, when
in the bundle, becomes the source.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import orjson

from mamori.aml.addresses import normalise_address, normalise_chain
from mamori.aml.lists import LineError
from mamori.aml.model import EntryKind, ListEntry, RiskCategory, risk_category
from mamori.kit.errors import InvalidAddress, InvalidRequest, UnknownChain

MAX_BYTES: Final = 64 * 1024 * 1024
MAX_ROWS: Final = 2_000_000
JST: Final = timezone(timedelta(hours=9))
FORMATS: Final = ("csv", "json", "stix")

HEADERS: Final[dict[str, str]] = {
    "chain": "chain", "network": "chain", "blockchain": "chain", "チェーン": "chain", "ネットワーク": "chain",
    "address": "address", "wallet": "address", "アドレス": "address", "ウォレット": "address",
    "name": "name", "entity": "name", "名称": "name", "氏名": "name", "名前": "name", "法人名": "name",
    "aliases": "aliases", "alias": "aliases", "別名": "aliases",
    "category": "category", "type": "category", "risk": "category", "区分": "category", "カテゴリ": "category",
    "カテゴリー": "category", "種別": "category",
    "source": "source", "情報源": "source", "出典": "source", "提供元": "source",
    "confidence": "confidence", "確度": "confidence", "信頼度": "confidence",
    "first_seen": "first_seen", "初回確認日": "first_seen", "初回観測日": "first_seen",
    "expires_at": "expires_at", "expiry": "expires_at", "expires": "expires_at", "valid_until": "expires_at",
    "有効期限": "expires_at",
    "reference": "reference", "ref": "reference", "note": "reference", "参照": "reference", "備考": "reference",
    "参考": "reference",
    "kind": "kind", "種類": "kind",  # address | entity: informative (what a row is follows from its address)
}


class _Reject(ValueError):
    pass


def parse(data: bytes, fmt: str, *, source: str, default_category: str | None = None,
          added_by: str | None = None) -> tuple[list[ListEntry], list[LineError]]:
    """Read a list file. ``source`` applies to lines that name none; ``default_category`` likewise."""
    if len(data) > MAX_BYTES:
        raise InvalidRequest(f"list file larger than {MAX_BYTES} bytes", details={"max_bytes": MAX_BYTES})
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise InvalidRequest(f"unknown list format {fmt!r}; expected one of {', '.join(FORMATS)}",
                             details={"field": "format"})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"list file is not UTF-8 text: {exc}", details={"field": "file"}) from None
    defaults = {"source": source, "category": default_category, "added_by": added_by}
    if fmt == "csv":
        rows = _csv_rows(text)
    else:
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"list file is not valid JSON: {exc}", details={"field": "file"}) from None
        rows = _stix_rows(document) if fmt == "stix" else _json_rows(document)
    entries: list[ListEntry] = []
    errors: list[LineError] = []
    for line, row in rows:
        if len(entries) + len(errors) >= MAX_ROWS:
            errors.append(LineError(line, f"more than {MAX_ROWS} rows: the rest of the file was not read"))
            break
        try:
            if isinstance(row, str):
                raise _Reject(row)
            entries.append(entry_from_row(row, defaults))
        except (_Reject, InvalidAddress, UnknownChain) as exc:
            errors.append(LineError(line, getattr(exc, "message", None) or str(exc)))
    return entries, errors


def _csv_rows(text: str) -> Iterable[tuple[int, Mapping[str, Any] | str]]:
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [HEADERS.get(cell.strip().lower(), HEADERS.get(cell.strip(), "")) for cell in row]
            unknown = [cell for cell, key in zip(row, header, strict=True) if not key]
            if unknown:
                raise InvalidRequest(f"unknown CSV column(s): {', '.join(unknown)}",
                                     details={"field": "header", "known": sorted(set(HEADERS.values()))})
            if "address" not in header and "name" not in header:
                raise InvalidRequest("the CSV header needs an address or a name column", details={"field": "header"})
            continue
        if len(row) != len(header):
            yield line, f"{len(row)} cells, the header has {len(header)}"
            continue
        yield line, {k: v for k, v in zip(header, row, strict=True) if v.strip()}


def _json_rows(document: Any) -> Iterable[tuple[int, Mapping[str, Any] | str]]:
    items = document.get("entries") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise InvalidRequest("a JSON list file is a list of entries or {\"entries\": [...]}", details={"field": "file"})
    for index, item in enumerate(items, start=1):
        yield index, item if isinstance(item, dict) else "an entry must be a JSON object"


def entry_from_row(row: Mapping[str, Any], defaults: Mapping[str, str | None]) -> ListEntry:
    """One entry from a row of named values (CSV, JSON, or what STIX yields)."""
    address = _text(row.get("address"))
    name = _text(row.get("name"))
    category_text = _text(row.get("category")) or defaults.get("category")
    if not category_text:
        raise _Reject("no category (give a category column or a default category)")
    try:
        category = risk_category(category_text)
    except ValueError as exc:
        raise _Reject(str(exc)) from None
    source = _text(row.get("source")) or defaults.get("source")
    if not source:
        raise _Reject("no source")
    common: dict[str, Any] = {
        "category": category, "source": source[:128], "confidence": _confidence(row.get("confidence")),
        "first_seen": _time(row.get("first_seen"), "first_seen", end_of_day=False),
        "expires_at": _time(row.get("expires_at"), "expires_at", end_of_day=True),
        "reference": (_text(row.get("reference")) or None), "added_by": defaults.get("added_by"),
        "aliases": _aliases(row.get("aliases")), "name": name[:300] if name else None,
    }
    if common["reference"]:
        common["reference"] = common["reference"][:300]
    if address:
        chain = _text(row.get("chain"))
        if not chain:
            raise _Reject("an address needs its chain")
        canonical = normalise_chain(chain)
        return ListEntry(kind=EntryKind.address, chain=canonical, address=normalise_address(canonical, address),
                         **common)
    if not name:
        raise _Reject("neither an address nor a name")
    return ListEntry(kind=EntryKind.entity, **common)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise _Reject(f"expected text, got {type(value).__name__}")
    return str(value).strip()


def _aliases(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else re.split(r"[;|]", str(value))
    return tuple(dict.fromkeys(str(v).strip()[:300] for v in items if str(v).strip()))[:50]


def _confidence(value: Any) -> Decimal:
    if value is None or value == "":
        return Decimal(1)
    try:
        text = str(value).strip().rstrip("%")
        number = Decimal(text)
    except InvalidOperation:
        raise _Reject(f"confidence {value!r} is not a number") from None
    if str(value).strip().endswith("%") or number > 1:
        number = number / 100
    if not Decimal(0) <= number <= Decimal(1):
        raise _Reject(f"confidence {value!r} is outside 0–1 (or 0–100 %)")
    return number.quantize(Decimal("0.0001"))


def _time(value: Any, name: str, *, end_of_day: bool) -> datetime | None:
    text = _text(value)
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text.replace("/", "-"))
            start = datetime(day.year, day.month, day.day, tzinfo=JST)
            return (start + timedelta(days=1) if end_of_day else start).astimezone(UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _Reject(f"{name} {text!r} is not a date (YYYY-MM-DD) or an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise _Reject(f"{name} {text!r} has no timezone offset")
    return parsed.astimezone(UTC)


# --- STIX 2.1 --------------------------------------------------------------------------------------

_OBJECT_TYPES: Final = re.compile(
    r"^(?:cryptocurrency-wallet|cryptocurrency-address|x-cryptocurrency-wallet|x-crypto-wallet|x-crypto-address|"
    r"x-cryptocurrency-address|x-[a-z0-9]+-address)$")
_COMPARISON: Final = re.compile(r"([a-z0-9-]+):([a-z_]+)\s*=\s*'((?:[^'\\]|\\.)*)'", re.IGNORECASE)


def _stix_rows(document: Any) -> Iterable[tuple[int, Mapping[str, Any] | str]]:
    objects = document.get("objects") if isinstance(document, dict) else None
    if not isinstance(document, dict) or document.get("type") != "bundle" or not isinstance(objects, list):
        raise InvalidRequest("a STIX file must be a bundle: {\"type\": \"bundle\", \"objects\": [...]}",
                             details={"field": "file"})
    identities = {o.get("id"): o.get("name") for o in objects if isinstance(o, dict) and o.get("type") == "identity"}
    for index, obj in enumerate(objects, start=1):
        if not isinstance(obj, dict) or obj.get("type") != "indicator":
            continue
        pattern = obj.get("pattern")
        if not isinstance(pattern, str):
            yield index, f"indicator {obj.get('id')} has no pattern"
            continue
        addresses: list[str] = []
        chain = _text(obj.get("x_mamori_chain") or obj.get("x_chain")) or None
        for object_type, prop, value in _COMPARISON.findall(pattern):
            object_type, prop = object_type.lower(), prop.lower()
            if not _OBJECT_TYPES.match(object_type):
                continue
            if prop in ("address", "value"):
                addresses.append(value.replace("\\'", "'").replace("\\\\", "\\"))
            elif prop in ("currency", "chain", "network", "currency_type"):
                chain = value
            if chain is None and object_type.startswith("x-") and object_type.endswith("-address") \
                    and object_type not in ("x-crypto-address", "x-cryptocurrency-address"):
                chain = object_type[2:-len("-address")]
        if not addresses:
            yield index, f"indicator {obj.get('id')}: no cryptocurrency address in pattern {pattern[:120]!r}"
            continue
        labels = [str(x) for x in (obj.get("labels") or []) + (obj.get("indicator_types") or [])]
        category = _text(obj.get("x_mamori_category")) or _category_from_labels(labels)
        confidence = obj.get("confidence")
        for address in addresses:
            row = {
                "address": address, "chain": chain or guess_chain(address), "category": category,
                "source": identities.get(obj.get("created_by_ref")) or None,
                "confidence": Decimal(confidence) / 100 if isinstance(confidence, int) else None,
                "first_seen": obj.get("valid_from"), "expires_at": obj.get("valid_until"),
                "reference": obj.get("id"), "name": obj.get("name"),
            }
            if row["chain"] is None:
                yield index, f"indicator {obj.get('id')}: the chain of {address[:64]!r} is not named or recognisable"
                continue
            yield index, {k: v for k, v in row.items() if v is not None}


def _category_from_labels(labels: list[str]) -> str:
    for label in labels:
        try:
            return risk_category(label).value
        except ValueError:
            continue
    return RiskCategory.other.value


def guess_chain(address: str) -> str | None:
    """The chain an address's format points to when nothing names it (EVM addresses → ethereum)."""
    text = address.strip()
    candidates = ("ethereum",) if text[:2].lower() == "0x" else ("bitcoin", "tron", "xrp", "litecoin")
    for chain in candidates:
        try:
            normalise_address(chain, text)
        except (InvalidAddress, UnknownChain):
            continue
        return chain
    return None
