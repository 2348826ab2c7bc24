"""The effectiveness report as one self-contained HTML page in Japanese and English: inline CSS and
inline SVG charts, no script, no external resource, so it can be archived, mailed to a reviewer or
printed for the FSA as it is."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

import orjson

from mamori.aml.effectiveness.charts import bar_chart, funnel_chart, line_chart

CSS = """
body{font-family:"Hiragino Sans","Noto Sans CJK JP",Meiryo,Helvetica,Arial,sans-serif;margin:2em;color:#222;
max-width:1100px}
h1{font-size:1.5em}h2{border-bottom:2px solid #1f6fb4;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.85em}th,td{border:1px solid #bbb;padding:.3em .5em;
vertical-align:top}th{background:#eef3f8;text-align:left}td.n{text-align:right}.en{color:#555}
.gap{background:#fdecea}.ok{background:#eaf7ea}.meta td:first-child{font-weight:bold;white-space:nowrap}
svg.chart{display:block;margin:1em 0;max-width:100%;height:auto}code{font-size:.9em}
"""


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _num(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return escape(str(value))


def _table(headers: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]], *, css: Sequence[str] | None = None,
           numeric: Sequence[int] = ()) -> str:
    out = ["<table><thead><tr>"]
    out += [f"<th>{escape(ja)}<br><span class=en>{escape(en)}</span></th>" for ja, en in headers]
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(rows):
        cls = f' class="{css[i]}"' if css and css[i] else ""
        cells = [f'<td class=n>{c}</td>' if j in numeric else f"<td>{c}</td>" for j, c in enumerate(row)]
        out.append(f"<tr{cls}>{''.join(cells)}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _h2(ja: str, en: str, anchor: str) -> str:
    return f'<h2 id="{anchor}">{escape(ja)} <span class=en>/ {escape(en)}</span></h2>'


def _summary(report: dict[str, Any]) -> str:
    v = report["version"]
    rows = [("報告書ID / Report id", f"<code>{escape(report['report_id'])}</code>"),
            ("対象期間 / Period", escape(report["period_label"])),
            ("作成日時 / Generated", escape(report["generated_at"])),
            ("ルールセット / Rule set", f"<code>{escape(v['ruleset'])}</code> (sha256 {escape(v['ruleset_digest'])})"),
            ("期間内に判定したルールセット / Rule sets that decided events",
             "<br>".join(f"<code>{escape(k)}</code>: {n:,}" for k, n in v["rulesets_in_period"].items()) or "—"),
            ("mamori", escape(v["mamori"])),
            ("パラメータ / Parameters", f"<code>{escape(_compact(v['parameters']))}</code>")]
    body = "".join(f"<tr><td>{k}</td><td>{val}</td></tr>" for k, val in rows)
    return f"<table class=meta>{body}</table>"


def _compact(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _metrics(report: dict[str, Any]) -> str:
    metrics = report["metrics"]
    headers = [("シナリオ", "Scenario"), ("アラート", "Alerts"), ("案件化", "In a case"),
               ("届出ドラフト", "STR draft"), ("届出確定", "STR locked"), ("真陽性", "TP"), ("偽陽性", "FP"),
               ("適合率", "Precision"), ("終結まで中央値(時間)", "Median h to close"),
               ("届出確定まで中央値(時間)", "Median h to STR lock")]
    rows = [[f"{escape(m['scenario'])}<br>{escape(m['title_ja'])}<br><span class=en>{escape(m['title_en'])}</span>",
             _num(m["alerts"]), f"{_num(m['in_case'])} ({_pct(m['alert_to_case'])})",
             f"{_num(m['with_str_draft'])} ({_pct(m['alert_to_str_draft'])})",
             f"{_num(m['with_locked_str'])} ({_pct(m['alert_to_locked_str'])})", _num(m["true_positive"]),
             _num(m["false_positive"]), _pct(m["precision"]), _num(m["median_hours_to_close"]),
             _num(m["median_hours_to_str_lock"])] for m in metrics]
    scenario_rows = [m for m in metrics if m["scenario"] != "ALL"]
    weeks = list(metrics[-1]["weeks"])
    everything = metrics[-1]
    busiest = sorted((m for m in scenario_rows if m["alerts"]), key=lambda m: -m["alerts"])[:8]  # legible
    series = [(m["scenario"], [m["weeks"].get(w, 0) for w in weeks]) for m in busiest] or \
        [("ALL", [everything["weeks"].get(w, 0) for w in weeks])]
    volume = line_chart(weeks, series, chart_id="chart-alert-volume",
                        title="週次アラート件数（上位8シナリオ） / Alerts per week (8 busiest scenarios)",
                        y_label="件 / alerts")
    total = everything
    funnel = funnel_chart([("アラート Alerts", total["alerts"]), ("案件 In a case", total["in_case"]),
                           ("届出ドラフト STR draft", total["with_str_draft"]),
                           ("届出確定 STR locked", total["with_locked_str"])],
                          title="アラートから届出まで / Alert → case → STR", chart_id="chart-funnel")
    precision = bar_chart([(m["scenario"], m["precision"]) for m in metrics], ratio=True,
                          title="シナリオ別適合率（終結案件） / Precision per scenario (closed cases)",
                          chart_id="chart-precision", note_missing="終結案件なし / no closed cases")
    reasons = []
    for m in metrics:
        for r in m["false_positive_reasons"]:
            reasons.append([escape(m["scenario"]), escape(r["reason"]), _num(r["count"])])
    reason_table = _table([("シナリオ", "Scenario"), ("偽陽性の理由", "False-positive reason"), ("件数", "Count")],
                          reasons, numeric=(2,)) if reasons else "<p>偽陽性として終結した案件はありません。 " \
        "<span class=en>No case was closed as a false positive.</span></p>"
    weekly = _table([("シナリオ", "Scenario"), *((w, "") for w in weeks)],
                    [[escape(m["scenario"]), *(_num(m["weeks"].get(w, 0)) for w in weeks)] for m in metrics],
                    numeric=tuple(range(1, len(weeks) + 1)))
    return (_table(headers, rows, numeric=(1, 2, 3, 4, 5, 6, 7, 8, 9)) + volume + weekly + funnel + precision
            + "<h3>主な偽陽性の理由 <span class=en>/ Top false-positive reasons</span></h3>" + reason_table)


def _samples(title_ja: str, title_en: str, block: dict[str, Any] | None) -> str:
    if block is None:
        return ""
    rows = [[escape(e["event_id"]), escape(e["account_id"]), escape(e["event_type"]), escape(e["occurred_at"]),
             _num(e.get("amount_jpy")), escape(_compact(e["values"])), escape(str(e.get("label") or ""))]
            for e in block["events"]]
    head = (f"<h4>{escape(title_ja)} <span class=en>/ {escape(title_en)}</span>: {escape(block['meaning_ja'])} "
            f"<span class=en>({escape(block['meaning_en'])})</span></h4>")
    if not rows:
        return head + "<p>該当なし <span class=en>/ none</span></p>"
    return head + _table([("イベント", "Event"), ("口座", "Account"), ("種別", "Type"), ("発生", "Occurred"),
                          ("金額(円)", "Amount (JPY)"), ("特徴量", "Feature values"), ("ラベル", "Label")],
                         rows, numeric=(4,))


def _sweeps(report: dict[str, Any]) -> str:
    if not report["sweeps"]:
        return "<p>閾値の検証は実施していません。 <span class=en>No threshold sweep was run.</span></p>"
    out = ["<p>検知件数は、保存済みイベントに対しシナリオのルールのいずれかが成立した件数です（ルールセット全体で"
           "アラートになったかを問いません）。真陽性・偽陽性はラベルに基づきます。 <span class=en>Flagged: stored "
           "events on which one of the scenario's rules fires at that value (whether or not the whole rule set "
           "raised an alert); TP and FP follow the labels.</span></p>"]
    for k, s in enumerate(report["sweeps"]):
        labels = [str(r["value"]) for r in s["rows"]]
        current = next((i for i, r in enumerate(s["rows"]) if r["current"]), None)
        out.append(f"<h3>{escape(s['scenario'])}: <code>{escape(s['threshold'])}</code> "
                   f"(現在値 current {escape(str(s['current_value']))}; ラベル labels: {escape(s['labels'])})</h3>")
        out.append(_table([("値", "Value"), ("検知件数", "Flagged"), ("真陽性", "TP"), ("偽陽性", "FP"),
                           ("未レビュー", "Unreviewed"), ("適合率", "Precision"), ("再現率", "Recall")],
                          [[escape(str(r["value"])) + (" ◀" if r["current"] else ""), _num(r["alerts"]),
                            _num(r["true_positive"]), _num(r["false_positive"]), _num(r["unreviewed"]),
                            _pct(r["precision"]), _pct(r["recall"])] for r in s["rows"]],
                          numeric=(1, 2, 3, 4, 5, 6)))
        out.append(line_chart(labels, [("検知件数 Flagged", [r["alerts"] for r in s["rows"]])],
                              title=f"{s['scenario']}: 検知件数 / flagged events by {s['threshold']}",
                              chart_id=f"chart-sweep-{k}-alerts", highlight=current))
        out.append(line_chart(labels, [("適合率 Precision", [r["precision"] for r in s["rows"]]),
                                       ("再現率 Recall", [r["recall"] for r in s["rows"]])], ratio=True,
                              title=f"{s['scenario']}: 適合率・再現率 / precision and recall by {s['threshold']}",
                              chart_id=f"chart-sweep-{k}-quality", highlight=current))
        out.append(_samples("閾値直下の標本", "Below the line", s["below_the_line"]))
        out.append(_samples("閾値直上の標本", "Above the line", s["above_the_line"]))
    return "".join(out)


def _coverage(report: dict[str, Any]) -> str:
    rows, css = [], []
    for c in report["reference_coverage"]:
        scenarios = ", ".join(c["scenarios"]) or "未対応 / not covered"
        if c["not_live"]:
            scenarios += f"<br><span class=en>稼働していない / not live: {escape(', '.join(c['not_live']))}</span>"
        rows.append([escape(c["id"]), f"{escape(c['title_ja'])}<br><span class=en>{escape(c['title_en'])}</span>",
                     escape(c["category_ja"]), "✓" if c["non_face_to_face"] else "", scenarios,
                     escape(c["reason"] or ("" if c["covered"] else "理由未記入 / no reason recorded"))])
        css.append("ok" if c["covered"] else "gap")
    out = _table([("参考事例", "Reference case"), ("内容", "Pattern"), ("分類", "Category"), ("非対面", "Online"),
                  ("稼働中のシナリオ", "Live scenarios"), ("未対応の理由", "Reason if not covered")], rows, css=css)
    risks = report.get("risk_coverage")
    if risks is None:
        out += ("<p>リスク評価ファイルが指定されていません（--risk-assessment）。 <span class=en>No risk assessment "
                "file was given (--risk-assessment).</span></p>")
        return out
    rows = [[escape(r["id"]), f"{escape(r['title_ja'])}<br><span class=en>{escape(r['title_en'])}</span>",
             escape(r["rating"]), escape(r["residual"] or ""), escape(", ".join(r["live_scenarios"]) or "—"),
             escape(", ".join(r["not_live"])), "ギャップ / gap" if r["gap"] else "✓"] for r in risks]
    out += "<h3>自社リスク評価 <span class=en>/ The firm's risk assessment</span></h3>"
    out += _table([("リスク", "Risk"), ("内容", "Description"), ("評価", "Rating"), ("残存", "Residual"),
                   ("稼働中の低減シナリオ", "Live mitigating scenarios"), ("稼働していない", "Not live"),
                   ("判定", "Result")], rows, css=["gap" if r["gap"] else "ok" for r in risks])
    return out


def _quality(report: dict[str, Any]) -> str:
    q = report["data_quality"]
    checks = _table([("確認項目", "Check"), ("値", "Value"), ("結果", "Result")],
                    [[f"{escape(c['ja'])}<br><span class=en>{escape(c['en'])}</span>", _num(c["value"]),
                      "OK" if c["ok"] else "要確認 / review"] for c in q["checks"]],
                    css=["ok" if c["ok"] else "gap" for c in q["checks"]], numeric=(1,))
    types = _table([("イベント種別", "Event type"), ("件数", "Events")],
                   [[escape(t), _num(n)] for t, n in q["events_by_type"].items()], numeric=(1,))
    return checks + types


def render_html(report: dict[str, Any]) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    sections = [
        ("summary", "概要", "Summary", _summary(report)),
        ("metrics", "シナリオ別の成果指標", "Outcome metrics per scenario", _metrics(report)),
        ("sweeps", "閾値の検証（スイープ・閾値前後の標本）", "Threshold sweeps and above/below-the-line samples",
         _sweeps(report)),
        ("coverage", "カバレッジ（参考事例・リスク評価）", "Coverage of the reference cases and the risk assessment",
         _coverage(report)),
        ("quality", "データ品質", "Data quality", _quality(report)),
    ]
    body = "".join(_h2(ja, en, anchor) + html for anchor, ja, en, html in sections)
    reproduce = escape(str(report["version"]["parameters"].get("command") or ""))
    return ("<!DOCTYPE html><html lang=ja><head><meta charset=utf-8>"
            f"<title>マネロン等対策の有効性検証 / AML effectiveness report {escape(report['report_id'])}</title>"
            f"<style>{CSS}</style></head><body>"
            "<h1>マネロン等対策の有効性検証報告 <span class=en>/ AML monitoring effectiveness report</span></h1>"
            f"<p>{escape(report['period_label'])}</p>{body}"
            + (f"<p>再現方法 <span class=en>/ To reproduce</span>: <code>{reproduce}</code></p>" if reproduce else "")
            + "</body></html>\n")
