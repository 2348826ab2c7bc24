"""The effectiveness report's tables as an Excel workbook (openpyxl), Japanese and English headers:
概要 Summary, 指標 Metrics, 週次 Weekly, 閾値 Sweeps, 標本 Samples, 参考事例 Reference cases,
リスク評価 Risks, データ品質 Data quality. The same numbers as the HTML page."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import orjson


def _sheet(wb: Any, title: str, headers: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> Any:
    from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped]
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

    ws = wb.create_sheet(title)
    ws.append([ja for ja, _ in headers])
    ws.append([en for _, en in headers])
    for row in rows:
        ws.append([_cell(v) for v in row])
    for cell in (*ws[1], *ws[2]):
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for i, (ja, en) in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(i)].width = min(60, max(12, len(en) + 2, len(ja) * 2 + 2))
    ws.freeze_panes = "A3"
    return ws


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return value


def report_xlsx(report: dict[str, Any]) -> bytes:
    """The workbook as bytes."""
    from openpyxl import Workbook  # type: ignore[import-untyped]

    wb = Workbook()
    summary = wb.active
    summary.title = "概要 Summary"
    v = report["version"]
    for key, value in (("報告書ID / Report id", report["report_id"]), ("対象期間 / Period", report["period_label"]),
                       ("作成日時 / Generated", report["generated_at"]), ("ルールセット / Rule set", v["ruleset"]),
                       ("ルールセットのダイジェスト / Rule set digest", v["ruleset_digest"]),
                       ("期間内のルールセット / Rule sets in the period", _cell(v["rulesets_in_period"])),
                       ("mamori", v["mamori"]), ("パラメータ / Parameters", _cell(v["parameters"]))):
        summary.append([key, value])
    summary.column_dimensions["A"].width = 44
    summary.column_dimensions["B"].width = 90

    metrics = report["metrics"]
    _sheet(wb, "指標 Metrics", [("シナリオ", "Scenario"), ("名称", "Title"), ("ルール", "Rules"),
                                ("アラート", "Alerts"), ("案件化", "In a case"), ("案件化率", "Alert to case"),
                                ("届出ドラフト", "STR draft"), ("届出ドラフト率", "Alert to STR draft"),
                                ("届出確定", "STR locked"), ("届出確定率", "Alert to locked STR"), ("案件数", "Cases"),
                                ("真陽性", "TP"), ("偽陽性", "FP"), ("適合率", "Precision"),
                                ("終結まで中央値(時間)", "Median hours to close"),
                                ("届出確定まで中央値(時間)", "Median hours to STR lock")],
           [[m["scenario"], f"{m['title_ja']} / {m['title_en']}", m["rule_ids"], m["alerts"], m["in_case"],
             m["alert_to_case"], m["with_str_draft"], m["alert_to_str_draft"], m["with_locked_str"],
             m["alert_to_locked_str"], m["cases"], m["true_positive"], m["false_positive"], m["precision"],
             m["median_hours_to_close"], m["median_hours_to_str_lock"]] for m in metrics])
    weeks = list(metrics[-1]["weeks"]) if metrics else []
    _sheet(wb, "週次 Weekly", [("シナリオ", "Scenario"), *((w, w) for w in weeks)],
           [[m["scenario"], *(m["weeks"].get(w, 0) for w in weeks)] for m in metrics])
    _sheet(wb, "偽陽性理由 FP reasons", [("シナリオ", "Scenario"), ("理由", "Reason"), ("件数", "Count")],
           [[m["scenario"], r["reason"], r["count"]] for m in metrics for r in m["false_positive_reasons"]])
    _sheet(wb, "閾値 Sweeps", [("シナリオ", "Scenario"), ("閾値", "Threshold"), ("値", "Value"), ("現在値", "Current"),
                              ("検知件数", "Flagged"), ("真陽性", "TP"), ("偽陽性", "FP"), ("未レビュー", "Unreviewed"),
                              ("適合率", "Precision"), ("再現率", "Recall"), ("ラベル", "Labels")],
           [[s["scenario"], s["threshold"], r["value"], r["current"], r["alerts"], r["true_positive"],
             r["false_positive"], r["unreviewed"], r["precision"], r["recall"], s["labels"]]
            for s in report["sweeps"] for r in s["rows"]])
    samples = []
    for s in report["sweeps"]:
        for side, block in (("below", s["below_the_line"]), ("above", s["above_the_line"])):
            for e in (block or {}).get("events", []):
                samples.append([s["scenario"], s["threshold"], side, (block or {}).get("value"), e["event_id"],
                                e["account_id"], e["event_type"], e["occurred_at"], e.get("amount_jpy"), e["values"],
                                e.get("label")])
    _sheet(wb, "標本 Samples", [("シナリオ", "Scenario"), ("閾値", "Threshold"), ("区分", "Side"),
                               ("比較値", "Compared value"), ("イベント", "Event"), ("口座", "Account"),
                               ("種別", "Type"), ("発生", "Occurred"), ("金額(円)", "Amount JPY"),
                               ("特徴量", "Feature values"), ("ラベル", "Label")], samples)
    _sheet(wb, "参考事例 Reference cases", [("参考事例", "Reference case"), ("分類", "Category"), ("内容", "Pattern"),
                                           ("非対面", "Online"), ("稼働中のシナリオ", "Live scenarios"),
                                           ("稼働していない", "Not live"), ("対応", "Covered"),
                                           ("未対応の理由", "Reason if not covered")],
           [[c["id"], c["category"], f"{c['title_ja']} / {c['title_en']}", c["non_face_to_face"], c["scenarios"],
             c["not_live"], c["covered"], c["reason"]] for c in report["reference_coverage"]])
    _sheet(wb, "リスク評価 Risks", [("リスク", "Risk"), ("内容", "Description"), ("評価", "Rating"),
                                   ("残存", "Residual"), ("低減シナリオ", "Scenarios"), ("稼働中", "Live"),
                                   ("ギャップ", "Gap")],
           [[r["id"], f"{r['title_ja']} / {r['title_en']}", r["rating"], r["residual"], r["scenarios"],
             r["live_scenarios"], r["gap"]] for r in (report.get("risk_coverage") or [])])
    q = report["data_quality"]
    _sheet(wb, "データ品質 Data quality", [("確認項目", "Check"), ("値", "Value"), ("結果", "OK")],
           [[f"{c['ja']} / {c['en']}", c["value"], c["ok"]] for c in q["checks"]]
           + [[f"イベント / events: {t}", n, True] for t, n in q["events_by_type"].items()])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
