"""Evidence that PPAP and linked customer mail are going away: counts per month (JST), by sending
department and by counterparty domain, from the mail log the proxy and archive scans write.

A message counts once per month however many recipient classes it had (rows are per class and
domain; messages are told apart by their SHA-256).
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Any


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    months: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    departments: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    counterparties: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for row in rows:
        month, digest = row["month"], row["message_sha256"]
        months[month]["messages"].add(digest)
        ppap = row["encrypted_attachment"] or row["ppap_password"]
        if ppap:
            months[month]["ppap"].add(digest)
            departments[row["department"]][month].add(digest)
            if row["recipient_class"] != "internal":
                counterparties[row["counterparty"]][month].add(digest)
        if row["links"]:
            months[month]["linked_customer_mail"].add(digest)
        if row["action"] != "pass":
            months[month]["stopped"].add(digest)
    ordered = sorted(months)
    return {
        "months": [{"month": m, **{k: len(months[m][k]) for k in ("messages", "ppap", "linked_customer_mail",
                                                                   "stopped")}} for m in ordered],
        "ppap_by_department": {d: {m: len(v) for m, v in sorted(by.items())} for d, by in sorted(departments.items())},
        "ppap_by_counterparty": {c: {m: len(v) for m, v in sorted(by.items())}
                                 for c, by in sorted(counterparties.items())},
    }


def chart_svg(summary: dict[str, Any], *, width: int = 640, height: int = 260) -> str:
    """Bars per month: PPAP messages (dark) and linked customer mail (light)."""
    months = summary["months"]
    peak = max([1] + [max(m["ppap"], m["linked_customer_mail"]) for m in months])
    left, bottom, top = 40, 30, 20
    slot = (width - left - 10) / max(1, len(months))
    bar = max(2.0, slot / 3)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="PPAP and linked customer mail per month">',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#333"/>',
             f'<text x="4" y="{top}" font-size="11">{peak}</text>']
    scale = (height - bottom - top) / peak
    for i, m in enumerate(months):
        x = left + i * slot + slot / 6
        for j, (key, colour) in enumerate((("ppap", "#a61b1b"), ("linked_customer_mail", "#f0a500"))):
            h = m[key] * scale
            parts.append(f'<rect x="{x + j * bar:.1f}" y="{height - bottom - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="{colour}"><title>{escape(m["month"])} {key}: {m[key]}</title></rect>')
        parts.append(f'<text x="{x:.1f}" y="{height - 10}" font-size="10">{escape(m["month"])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def evidence_html(summary: dict[str, Any]) -> str:
    head = ("<tr><th>月 / month</th><th>メール数 / messages</th><th>PPAP</th>"
            "<th>リンク付き顧客宛 / linked customer mail</th><th>停止 / stopped</th></tr>")
    rows = "".join(f"<tr><td>{escape(m['month'])}</td><td>{m['messages']}</td><td>{m['ppap']}</td>"
                   f"<td>{m['linked_customer_mail']}</td><td>{m['stopped']}</td></tr>" for m in summary["months"])

    def table(title: str, data: dict[str, dict[str, int]]) -> str:
        months = sorted({m for by in data.values() for m in by})
        header = "".join(f"<th>{escape(m)}</th>" for m in months)
        body = "".join(f"<tr><td>{escape(name)}</td>" + "".join(f"<td>{by.get(m, 0)}</td>" for m in months) + "</tr>"
                       for name, by in data.items())
        return f"<h2>{title}</h2><table><tr><th></th>{header}</tr>{body}</table>"

    return ("<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>PPAP・リンク付きメールの推移"
            "</title></head><body><h1>PPAP・リンク付き顧客宛メールの推移 / PPAP and linked customer mail by month</h1>"
            f"{chart_svg(summary)}<table>{head}{rows}</table>"
            f"{table('部署別 PPAP / PPAP by department', summary['ppap_by_department'])}"
            f"{table('相手先別 PPAP / PPAP by counterparty', summary['ppap_by_counterparty'])}</body></html>\n")
