"""Exports of a report: the entry workbook (Excel), the transaction rows (CSV) and JSON.

JAFIC's 事業者プログラム (the only electronic route to file, through e-Gov) has **no public import
schema**, so the workbook is an entry sheet: one sheet per screen of the program in the order of
「疑わしい取引の届出における入力要領」 - 届出票, 取引時確認情報, 口座情報, 取引情報 - with the
program's Japanese labels, an English gloss, and the value to type in, field by field.

Only a locked version exports as final; any other version is watermarked 下書き / DRAFT on every
sheet (first row, header and footer), in the CSV's status column and in the JSON's ``status``. Text
that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) is written as text.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Final, Literal

import orjson

from mamori.aml.reference_cases import BY_ID, CATEGORIES
from mamori.aml.reporting.model import LABELS_JA, ReportDocument, Subject, Transaction
from mamori.kit.errors import InvalidRequest

ExportFormat = Literal["xlsx", "csv", "json"]
FORMATS: Final = ("xlsx", "csv", "json")
ENCODINGS: Final = ("utf-8", "cp932")
JST: Final = timezone(timedelta(hours=9))
DRAFT_MARK: Final = "下書き / DRAFT — 届出には使用できません (not for filing)"
FINAL_MARK: Final = "確定版 / FINAL"
SHEETS: Final = ("届出票", "取引時確認情報", "口座情報", "取引情報")
_RISKY_START: Final = ("=", "+", "-", "@", "\t", "\r")

Getter = Callable[[ReportDocument], Any]
_GENDER: Final = {"male": "男", "female": "女", "other": "その他", "unknown": "不明"}

HEADER_ROWS: Final[tuple[tuple[str, str, Getter], ...]] = (
    ("届出年月日", "Filing date", lambda d: d.filing.filed_on),
    ("事業者名", "Reporting entity", lambda d: d.entity.name),
    ("代表者名", "Representative", lambda d: d.entity.representative),
    ("届出番号（年）", "Filing number (year)", lambda d: d.filing.number_year),
    ("届出番号（番号）", "Filing number", lambda d: d.filing.number),
    ("担当者名", "Person in charge", lambda d: d.entity.person_in_charge),
    ("部署名", "Department", lambda d: d.entity.department),
    ("営業所・代理店等名称", "Branch or agent", lambda d: d.entity.branch),
    ("役職", "Title", lambda d: d.entity.title),
    ("本店所在地（郵便番号）", "Head office postal code", lambda d: d.entity.head_office_postal_code),
    ("本店所在地", "Head office address", lambda d: d.entity.head_office_address),
    ("営業所・代理店等所在地（郵便番号）", "Branch postal code", lambda d: d.entity.branch_postal_code),
    ("営業所・代理店等所在地", "Branch address", lambda d: d.entity.branch_address),
    ("電話番号", "Phone", lambda d: d.entity.phone),
    ("内線番号", "Extension", lambda d: d.entity.extension),
    ("届出の区分", "Filing kind (new/additional/related)", lambda d: LABELS_JA[d.filing.kind.value]),
    ("関連する届出番号", "Related filing number", lambda d: d.filing.related_number),
    ("疑わしい取引の発生年月日（自）", "Transactions from", lambda d: d.filing.occurred_from),
    ("疑わしい取引の発生年月日（至）", "Transactions to", lambda d: d.filing.occurred_to),
    ("疑わしい取引の発生場所", "Place of the transactions", lambda d: d.filing.place),
    ("業務の内容", "Business line", lambda d: d.filing.business_line),
    ("財産の内容", "Property involved", lambda d: d.filing.property),
    ("参考事例", "FSA reference cases", lambda d: "\n".join(
        f"第{r.category}分類（{CATEGORIES[BY_ID[r.id].category][0]}）{r.id} {BY_ID[r.id].title_ja}"
        for r in d.reasons.reference_cases)),
    ("届出理由", "Reasons for reporting", lambda d: d.reasons.text),
    ("添付資料", "Attachments", lambda d: "\n".join(d.filing.attachments)),
    ("（参考）検知ルール", "(mamori) Rules that fired", lambda d: ", ".join(d.reasons.rule_ids)),
)  # fmt: skip

SUBJECT_ROWS: Final[tuple[tuple[str, str, Callable[[Subject], Any]], ...]] = (
    ("個人・法人の別", "Individual or corporation", lambda s: LABELS_JA[s.kind.value]),
    ("顧客番号", "Customer number(s)", lambda s: ", ".join(s.account_ids)),
    ("氏名・名称（漢字）", "Name (kanji)", lambda s: s.name_kanji),
    ("氏名・名称（カナ）", "Name (katakana)", lambda s: s.name_kana),
    ("氏名・名称（英字）", "Name (Latin)", lambda s: s.name_latin),
    ("生年月日", "Date of birth", lambda s: s.birth_date),
    ("性別", "Gender", lambda s: _GENDER.get(s.gender or "")),
    ("住居・所在地（郵便番号）", "Postal code", lambda s: s.postal_code),
    ("住居・所在地", "Address", lambda s: s.address),
    ("国籍", "Nationality", lambda s: s.nationality),
    ("職業・事業の内容", "Occupation or business", lambda s: s.occupation),
    ("取引を行う目的", "Purpose of the transactions", lambda s: s.purpose),
    ("取引時確認の実施日", "Verification date", lambda s: s.verified_on),
    ("取引時確認の方法", "Verification method", lambda s: s.verification_method),
    ("本人確認書類の種類", "ID document type", lambda s: s.id_document_type),
    ("本人確認書類の番号", "ID document number", lambda s: s.id_document_number),
    ("電話番号", "Phone", lambda s: s.phone),
    ("メールアドレス", "E-mail", lambda s: s.email),
    ("外国PEPs該当", "Foreign PEP", lambda s: {True: "該当", False: "非該当"}.get(s.foreign_pep)),  # type: ignore[arg-type]
    ("実質的支配者", "Beneficial owner", lambda s: s.beneficial_owner),
)  # fmt: skip

ACCOUNT_COLUMNS: Final = ("顧客番号（口座番号）", "口座開設日", "口座種別", "開設チャネル（対面・非対面）",
                          "口座の状態", "入庫用アドレス")
TRANSACTION_COLUMNS: Final = ("No.", "取引年月日時刻（日本時間）", "取引種別", "顧客番号", "金額", "通貨", "円換算額",
                              "暗号資産の種類・銘柄", "数量", "チェーン", "送付元アドレス", "送付先アドレス",
                              "トランザクションID", "相手方", "チャネル", "IPアドレス", "端末ID", "摘要", "検知ルール",
                              "イベントID")


def _label(value: Any) -> Any:
    return LABELS_JA.get(value.value, value.value) if hasattr(value, "value") else value


def transaction_cells(number: int, t: Transaction) -> list[Any]:
    """One 取引情報 row in :data:`TRANSACTION_COLUMNS` order (amounts as exact decimal text)."""
    def text(v: Any) -> str | None:
        return None if v is None else format(v, "f")

    return [number, t.at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S"), _label(t.kind), t.account_id,
            text(t.amount), t.currency, text(t.amount_jpy), t.asset, text(t.quantity), t.chain, t.from_address,
            t.to_address, t.tx_hash, t.counterparty, t.channel, t.ip, t.device_id, t.note, " ".join(t.rule_ids),
            t.event_id]


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_RISKY_START):
        return "'" + value
    return value


def _stamp(meta: dict[str, Any], final: bool) -> str:
    if not final:
        return f"{DRAFT_MARK}  {meta['reference']}"
    locked = datetime.fromtimestamp(meta["locked_at_us"] / 1e6, JST).strftime("%Y-%m-%d %H:%M") \
        if meta.get("locked_at_us") else "?"
    return f"{FINAL_MARK}  {meta['reference']}  確定 {locked} JST by {meta.get('locked_by')}"


# -- workbook -----------------------------------------------------------------------------------------------
@functools.cache
def _wrap() -> Any:
    from openpyxl.styles import Alignment  # type: ignore[import-untyped]

    return Alignment(wrap_text=True, vertical="top")


def _put(ws: Any, row: int, col: int, value: Any) -> None:
    cell = ws.cell(row=row, column=col, value=_label(value))
    if isinstance(cell.value, str):
        cell.data_type = "s"  # never a formula, whatever the text starts with
        if "\n" in cell.value or len(cell.value) > 40:
            cell.alignment = _wrap()


def _sheet(wb: Any, title: str, stamp: str, final: bool, widths: Sequence[int]) -> Any:
    from openpyxl.styles import Font

    ws = wb.create_sheet(title)
    _put(ws, 1, 1, stamp)
    ws.cell(row=1, column=1).font = Font(bold=True, color="006100" if final else "C00000", size=12 if final else 14)
    ws.oddHeader.center.text = stamp
    ws.oddFooter.center.text = stamp
    if not final:
        ws.sheet_properties.tabColor = "C00000"
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[ws.cell(row=2, column=i).column_letter].width = width
    return ws


def _header_row(ws: Any, row: int, labels: Sequence[str]) -> None:
    from openpyxl.styles import Font, PatternFill

    for col, label in enumerate(labels, start=1):
        _put(ws, row, col, label)
        ws.cell(row=row, column=col).font = Font(bold=True)
        ws.cell(row=row, column=col).fill = PatternFill("solid", fgColor="DDEBF7")


def workbook(document: ReportDocument, meta: dict[str, Any], *, final: bool) -> bytes:
    """The entry workbook: sheets 届出票, 取引時確認情報, 口座情報, 取引情報 (row 1: the draft/final mark,
    row 2: column labels, data from row 3)."""
    from openpyxl import Workbook  # type: ignore[import-untyped]

    stamp = _stamp(meta, final)
    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.title = f"疑わしい取引の届出 {meta['reference']}" + ("" if final else " (下書き / DRAFT)")
    ws = _sheet(wb, SHEETS[0], stamp, final, (34, 30, 80))
    _header_row(ws, 2, ("項目", "Item", "入力内容"))
    for i, (ja, en, get) in enumerate(HEADER_ROWS, start=3):
        _put(ws, i, 1, ja)
        _put(ws, i, 2, en)
        _put(ws, i, 3, get(document))
    ws = _sheet(wb, SHEETS[1], stamp, final, (26, 26, *([36] * len(document.subjects))))
    _header_row(ws, 2, ("項目", "Item", *[f"対象者{n}" for n in range(1, len(document.subjects) + 1)]))
    for i, (ja, en, get_subject) in enumerate(SUBJECT_ROWS, start=3):
        _put(ws, i, 1, ja)
        _put(ws, i, 2, en)
        for col, subject in enumerate(document.subjects, start=3):
            _put(ws, i, col, get_subject(subject))
    ws = _sheet(wb, SHEETS[2], stamp, final, (22, 14, 14, 20, 12, 60))
    _header_row(ws, 2, ACCOUNT_COLUMNS)
    for i, account in enumerate(document.accounts, start=3):
        cells = (account.account_id, account.opened_on, account.account_type, account.channel, account.status,
                 "\n".join(f"{a.chain}: {a.address}" for a in account.deposit_addresses))
        for col, value in enumerate(cells, start=1):
            _put(ws, i, col, value)
    ws = _sheet(wb, SHEETS[3], stamp, final, (6, 20, 18, 14, 16, 6, 16, 10, 14, 10, 44, 44, 44, 24, 8, 16, 16, 30,
                                              24, 24))
    _header_row(ws, 2, TRANSACTION_COLUMNS)
    for i, t in enumerate(document.transactions, start=3):
        for col, value in enumerate(transaction_cells(i - 2, t), start=1):
            _put(ws, i, col, value)
    ws.freeze_panes = "A3"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# -- CSV and JSON -------------------------------------------------------------------------------------------
def transactions_csv(document: ReportDocument, *, final: bool, encoding: str = "utf-8") -> bytes:
    """The 取引情報 rows as CSV, a first column 状態 (確定/FINAL or 下書き/DRAFT) on every row. ``utf-8`` is
    written with a BOM (Excel then reads it as UTF-8); ``cp932`` (Shift_JIS) for Japanese desktop tools, with a
    422 naming the row and column of a character Shift_JIS cannot hold."""
    if encoding not in ENCODINGS:
        raise InvalidRequest(f"encoding must be one of {', '.join(ENCODINGS)}", details={"field": "encoding"})
    status = "確定/FINAL" if final else "下書き/DRAFT"
    rows = [("状態", *TRANSACTION_COLUMNS)]
    rows += [(status, *(_safe(_label(v)) for v in transaction_cells(n, t)))
             for n, t in enumerate(document.transactions, start=1)]
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    text = buffer.getvalue()
    if encoding == "utf-8":
        return ("\ufeff" + text).encode("utf-8")
    try:
        return text.encode("cp932")
    except UnicodeEncodeError:
        pass
    for r, row in enumerate(rows):  # name the first cell Shift_JIS cannot hold
        for c, value in enumerate(row):
            try:
                str(value if value is not None else "").encode("cp932")
            except UnicodeEncodeError:
                raise InvalidRequest(f"row {r} column {rows[0][c]} has a character Shift_JIS (cp932) cannot hold; "
                                     "export with encoding=utf-8", details={"field": "encoding", "row": r,
                                                                            "column": c}) from None
    raise InvalidRequest("the report has a character Shift_JIS (cp932) cannot hold; export with encoding=utf-8",
                         details={"field": "encoding"})


def report_json(document: ReportDocument, meta: dict[str, Any], *, final: bool) -> bytes:
    body = {"format": "mamori-str-report/1", "status": "final" if final else "draft",
            "watermark": None if final else DRAFT_MARK, "report": meta, "document": document.to_json()}
    return orjson.dumps(body, option=orjson.OPT_INDENT_2)


def export_report(document: ReportDocument, meta: dict[str, Any], fmt: str, *, final: bool,
                  encoding: str = "utf-8") -> tuple[str, str, bytes]:
    """``(file name, media type, bytes)`` of the export in ``fmt`` (xlsx, csv or json)."""
    stem = f"{meta['reference'].replace(' ', '-')}-{'final' if final else 'draft'}"
    if fmt == "xlsx":
        return (f"{stem}.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                workbook(document, meta, final=final))
    if fmt == "csv":
        charset = "shift_jis" if encoding == "cp932" else "utf-8"
        return f"{stem}-transactions.csv", f"text/csv; charset={charset}", transactions_csv(
            document, final=final, encoding=encoding)
    if fmt == "json":
        return f"{stem}.json", "application/json", report_json(document, meta, final=final)
    raise InvalidRequest(f"format must be one of {', '.join(FORMATS)}", details={"field": "format"})
