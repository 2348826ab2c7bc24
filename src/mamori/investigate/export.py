"""The monthly figures as CSV and Excel, with Japanese and English headers in the FSA table's shape
(月, 不正アクセス件数, 不正取引件数, 売却金額(円), 買付金額(円)), followed by mamori's detail columns.

* CSV: UTF-8 with a byte-order mark (so that Excel in a Japanese locale opens it as UTF-8), one
  header row in the chosen language (``ja`` or ``en``), one row per month, then the total.
* Excel: sheet ``月次 Monthly`` (title, Japanese header row, English header row, months, total),
  sheet ``金融庁形式 FSA layout`` (the FSA's own layout: one row per figure, one column per month,
  then the total) and sheet ``定義 Definitions`` (how each figure is computed, in both languages).
"""

from __future__ import annotations

import csv
import io
from typing import Any, Final

__all__ = ["COLUMNS", "FSA_ROWS", "XLSX_MEDIA_TYPE", "figures_csv", "figures_xlsx"]

COLUMNS: Final = (
    ("month", "月", "month"),
    ("unauthorised_accesses", "不正アクセス件数", "unauthorised_accesses"),
    ("fraudulent_trades", "不正取引件数", "fraudulent_trades"),
    ("sell_yen", "売却金額(円)", "sell_yen"),
    ("buy_yen", "買付金額(円)", "buy_yen"),
    ("unauthorised_logins", "不正ログイン回数", "unauthorised_logins"),
    ("fraudulent_orders", "不正取引の注文数", "fraudulent_orders"),
    ("held_orders", "保留・拒否した注文数", "held_orders"),
    ("non_jpy_trades", "円建て以外の取引数", "non_jpy_trades"),
)
"""(key in the JSON rows, Japanese header, English header)."""

FSA_ROWS: Final = COLUMNS[1:5]
TOTAL_LABEL: Final = {"ja": "合計", "en": "total"}
_TITLE_JA: Final = "インターネット取引における不正アクセス・不正取引の状況（月次）"
_TITLE_EN: Final = "Unauthorised access and fraudulent trading in internet trading, by month"
XLSX_MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _rows(figures: dict[str, Any], lang: str) -> list[list[Any]]:
    out = [[row[key] for key, _ja, _en in COLUMNS] for row in figures["months"]]
    total = figures["total"]
    out.append([TOTAL_LABEL[lang], *(total[key] for key, _ja, _en in COLUMNS[1:])])
    return out


def figures_csv(figures: dict[str, Any], *, lang: str = "ja") -> bytes:
    """The table as CSV (UTF-8 with BOM); ``lang`` chooses the header row (``ja`` or ``en``)."""
    if lang not in ("ja", "en"):
        raise ValueError("lang must be ja or en")
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([ja if lang == "ja" else en for _key, ja, en in COLUMNS])
    writer.writerows(_rows(figures, lang))
    return buffer.getvalue().encode("utf-8-sig")


def _month_ja(month: str) -> str:
    year, mon = month.split("-")
    return f"{int(year)}年{int(mon)}月"


def figures_xlsx(figures: dict[str, Any]) -> bytes:
    """The table as an Excel workbook (see the module docstring for the sheets)."""
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped]
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

    bold = Font(bold=True)
    wb = Workbook()
    ws = wb.active
    ws.title = "月次 Monthly"
    ws.append([f"{_TITLE_JA} / {_TITLE_EN}"])
    ws.append([f"期間 Period: {figures['from']} – {figures['to']}（日本時間 JST） / "
               f"作成 Generated: {figures['generated_at']}"])
    ws.append([ja for _key, ja, _en in COLUMNS])
    ws.append([en for _key, _ja, en in COLUMNS])
    for row in _rows(figures, "ja"):
        ws.append(row)
    ws["A1"].font = Font(bold=True, size=12)
    for cell in (*ws[3], *ws[4], *ws[ws.max_row]):
        cell.font = bold
    for row in ws.iter_rows(min_row=5, min_col=2):
        for cell in row:
            cell.number_format = "#,##0"
    for i, (_key, ja, en) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, len(en) + 2, len(ja) * 2 + 2)
    ws.freeze_panes = "B5"

    fsa = wb.create_sheet("金融庁形式 FSA layout")
    months = [m["month"] for m in figures["months"]]
    fsa.append(["", "", *(_month_ja(m) for m in months), "合計"])
    fsa.append(["", "", *months, "total"])
    for key, ja, en in FSA_ROWS:
        fsa.append([ja, en, *(m[key] for m in figures["months"]), figures["total"][key]])
    for cell in (*fsa[1], *fsa[2]):
        cell.font = bold
        cell.alignment = Alignment(horizontal="center")
    for row in fsa.iter_rows(min_row=3, min_col=3):
        for cell in row:
            cell.number_format = "#,##0"
    fsa.column_dimensions["A"].width = 22
    fsa.column_dimensions["B"].width = 24
    for i in range(3, len(months) + 4):
        fsa.column_dimensions[get_column_letter(i)].width = 16

    notes = wb.create_sheet("定義 Definitions")
    notes.append(["項目 Figure", "定義（日本語）", "Definition (English)"])
    for cell in notes[1]:
        cell.font = bold
    for key, text in figures["definitions"].items():
        label = next((f"{ja} / {en}" for k, ja, en in COLUMNS if k == key), key)
        notes.append([label, text["ja"], text["en"]])
    notes.column_dimensions["A"].width = 36
    notes.column_dimensions["B"].width = 80
    notes.column_dimensions["C"].width = 80
    for row in notes.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")

    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()

