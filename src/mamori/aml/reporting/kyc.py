"""Import of the firm's KYC export (取引時確認記録) into a report: the items mamori does not hold.

The export is JSON: ``{"customers": [record, ...]}`` (or the list alone). A record names the customer
number (``account_id``) and any of the 取引時確認 items of :class:`~mamori.aml.reporting.model.Subject`
(``kind``, ``name_kanji``, ``name_kana``, ``name_latin``, ``birth_date``, ``gender``, ``postal_code``,
``address``, ``nationality``, ``occupation``, ``purpose``, ``verified_on``, ``verification_method``,
``id_document_type``, ``id_document_number``, ``phone``, ``email``, ``foreign_pep``,
``beneficial_owner``) and of :class:`~mamori.aml.reporting.model.Account` (``opened_on``,
``account_type``, ``channel``, ``status``, ``deposit_addresses``)::

    {"customers": [{"account_id": "C-1001", "name_kanji": "山田 太郎", "name_kana": "ヤマダ タロウ",
                    "birth_date": "1958-04-01", "channel": "non_face_to_face", "opened_on": "2026-04-20"}]}

Every record is validated first (422 naming ``customers.<n>.<field>``, nothing applied when one is
bad); only customers the report is about are applied, the rest are counted and not kept (data
minimisation), and a given item replaces the report's value for it.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import ValidationError

from mamori.aml.reporting.model import Account, ReportDocument, Subject
from mamori.aml.reporting.workflow import field_errors
from mamori.kit.errors import InvalidRequest

MAX_RECORDS: Final = 10_000
SUBJECT_FIELDS: Final = frozenset(Subject.model_fields) - {"account_ids"}
ACCOUNT_FIELDS: Final = frozenset(Account.model_fields) - {"account_id"}


def _records(data: Any) -> list[Any]:
    records = data.get("customers") if isinstance(data, dict) else data
    if not isinstance(records, list):
        raise InvalidRequest('the KYC export must be {"customers": [...]} or a list of customer records',
                             details=[{"field": "customers", "message": "expected a list", "kind": "list_type"}])
    if len(records) > MAX_RECORDS:
        raise InvalidRequest(f"at most {MAX_RECORDS} customer records per import",
                             details=[{"field": "customers", "message": "too many records", "kind": "too_long"}])
    return records


def _parse(index: int, record: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    where = f"customers.{index}"
    if not isinstance(record, dict):
        raise InvalidRequest(f"{where} is not an object", details=[{"field": where, "message": "expected an object",
                                                                    "kind": "model_type"}])
    account_id = record.get("account_id")
    if not isinstance(account_id, str) or not account_id:
        raise InvalidRequest(f"{where}.account_id is required", details=[
            {"field": f"{where}.account_id", "message": "required (the customer number)", "kind": "missing"}])
    unknown = sorted(set(record) - SUBJECT_FIELDS - ACCOUNT_FIELDS - {"account_id"})
    if unknown:
        raise InvalidRequest(f"{where}: unknown field(s) {', '.join(unknown)}", details=[
            {"field": f"{where}.{k}", "message": "not a KYC item of the report", "kind": "extra_forbidden"}
            for k in unknown])
    subject = {k: v for k, v in record.items() if k in SUBJECT_FIELDS}
    account = {k: v for k, v in record.items() if k in ACCOUNT_FIELDS}
    try:  # validate each part alone first so that errors name the record's own fields
        Subject.model_validate({**subject, "account_ids": [account_id]})
        Account.model_validate({**account, "account_id": account_id})
    except ValidationError as exc:
        raise field_errors(exc, where) from None
    return account_id, subject, account


def apply_kyc(document: ReportDocument, data: Any) -> tuple[ReportDocument, dict[str, Any]]:
    """The document with the KYC items applied, and a summary (counts and field names only)."""
    parsed = [_parse(i, r) for i, r in enumerate(_records(data))]
    doc = document.to_json()
    in_report = {a["account_id"] for a in doc["accounts"]} | {i for s in doc["subjects"] for i in s["account_ids"]}
    applied, skipped, fields = 0, 0, set()
    for account_id, subject, account in parsed:
        if account_id not in in_report:
            skipped += 1
            continue
        applied += 1
        target = next((s for s in doc["subjects"] if account_id in s["account_ids"]), None)
        if target is None and subject:
            target = {"account_ids": [account_id]}
            doc["subjects"].append(target)
        if target is not None:
            target.update(subject)
        acct = next((a for a in doc["accounts"] if a["account_id"] == account_id), None)
        if acct is None and account:
            acct = {"account_id": account_id}
            doc["accounts"].append(acct)
        if acct is not None:
            acct.update(account)
        fields |= set(subject) | set(account)
    try:
        out = ReportDocument.model_validate(doc)
    except ValidationError as exc:
        raise field_errors(exc) from None
    return out, {"records": len(parsed), "applied": applied, "skipped_not_in_report": skipped,
                 "items": sorted(fields)}
