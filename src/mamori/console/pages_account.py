"""Account investigation (timeline with decisions, fired rules and their feature values; overview;
linked accounts) and the monthly FSA-format report with a chart and CSV/Excel downloads.

The investigation services (:mod:`mamori.investigate`) do the reading; this module audits each view
with the same actions as the JSON API (``account.timeline.view``, ``account.overview.view``,
``account.links.view``, ``report.monthly.view``) before the page is sent: no audit record, no data.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from mamori.console.pages import ConsolePorts
from mamori.console.web import ConsoleShell
from mamori.investigate.export import COLUMNS
from mamori.investigate.figures import monthly_figures
from mamori.investigate.links import linked_accounts
from mamori.investigate.overview import account_overview
from mamori.investigate.timeline import account_timeline
from mamori.kit.errors import InvalidRequest

ACCOUNT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}")
MONTH = re.compile(r"\d{4}-\d{2}")
TIMELINE_PAGE = 200
LINK_CATCH_UP = 50_000
REPORT_LABELS_EN = {
    "month": "Month", "unauthorised_accesses": "Unauthorised accesses", "fraudulent_trades": "Fraudulent trades",
    "sell_yen": "Sells (yen)", "buy_yen": "Buys (yen)", "unauthorised_logins": "Unauthorised logins",
    "fraudulent_orders": "Fraudulent orders", "held_orders": "Orders held or blocked",
    "non_jpy_trades": "Non-JPY trades",
}  # the CSV/Excel export keeps the machine keys as English headers; people read these
CHART_SERIES = (("unauthorised_accesses", "#1f6fb4"), ("fraudulent_trades", "#d9822b"))


def bar_chart_svg(months: list[dict[str, Any]], labels: dict[str, str], *, title: str) -> str:
    """Grouped bars per month for the FSA counts (hand-written SVG, no plotting library, no script)."""
    width, height, left, bottom, top = 720, 260, 48, 40, 30
    plot_w, plot_h = width - left - 16, height - top - bottom
    peak = max([int(m[key]) for m in months for key, _ in CHART_SERIES] + [1])
    group = plot_w / max(len(months), 1)
    bar = max(2.0, group / (len(CHART_SERIES) + 1))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(title)}" class="chart">',
           f'<text x="{left}" y="18" class="chart-title">{escape(title)}</text>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 16}" y2="{top + plot_h}" class="axis"/>',
           f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" class="tick">{peak}</text>',
           f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" class="tick">0</text>']
    for i, month in enumerate(months):
        x0 = left + i * group + bar / 2
        for j, (key, colour) in enumerate(CHART_SERIES):
            h = plot_h * int(month[key]) / peak
            out.append(f'<rect x="{x0 + j * bar:.1f}" y="{top + plot_h - h:.1f}" width="{bar * 0.9:.1f}" '
                       f'height="{h:.1f}" fill="{colour}"><title>{escape(month["month"])} {escape(labels[key])}: '
                       f'{int(month[key])}</title></rect>')
        out.append(f'<text x="{x0 + bar:.1f}" y="{height - bottom + 16}" text-anchor="middle" class="tick">'
                   f'{escape(month["month"][2:])}</text>')
    for j, (key, colour) in enumerate(CHART_SERIES):
        out.append(f'<rect x="{width - 260}" y="{8 + j * 14}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{width - 245}" y="{17 + j * 14}" class="tick">{escape(labels[key])}</text>')
    out.append("</svg>")
    return "".join(out)


def register_account_pages(app: FastAPI, shell: ConsoleShell, ports: ConsolePorts) -> None:
    def audit(actor: str, action: str, target: str, details: dict[str, Any]) -> None:
        ports.store().audit(actor=actor, action=action, target=target, details=details)

    @app.get("/console/accounts", include_in_schema=False)
    async def account_search(request: Request) -> Response:
        ctx = await shell.page(request, "cases:read")
        wanted = request.query_params.get("account_id", "").strip()
        if ACCOUNT_ID.fullmatch(wanted):
            return RedirectResponse(f"/console/accounts/{quote(wanted, safe='')}", status_code=303)
        return shell.render(request, ctx, "account.html", title_key="account_title", account_id=None)

    @app.get("/console/accounts/{account_id:path}", include_in_schema=False)
    async def account(request: Request, account_id: str) -> Response:
        ctx = await shell.page(request, "cases:read")
        if not ACCOUNT_ID.fullmatch(account_id):
            return shell.render(request, ctx, "message.html", title_key="not_found_title", status=404)
        cursor = request.query_params.get("cursor") or None
        engine, geo = ports.store().engine, ports.geo()

        def read() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
            timeline = account_timeline(engine, account_id, limit=TIMELINE_PAGE, order="desc", cursor=cursor, geo=geo)
            audit(ctx.actor, "account.timeline.view", account_id, {
                "items": len(timeline["items"]), "types": [], "order": "desc", "continued": cursor is not None,
                "since": None, "until": None, "via": "console"})
            overview = account_overview(engine, account_id, top=20, geo=geo)
            audit(ctx.actor, "account.overview.view", account_id, {"events": overview["events"], "since": None,
                                                                   "until": None, "via": "console"})
            # Bounded work per page view: the link index folds at most LINK_CATCH_UP new events here (the
            # page says so when it is behind; the JSON API and the next views catch up the rest).
            links = linked_accounts(engine, account_id, top=20, max_catch_up=LINK_CATCH_UP)
            audit(ctx.actor, "account.links.view", account_id, {
                "linked_accounts": len(links["linked"]), "window_days": 30, "kinds": [], "via": "console"})
            return timeline, overview, links

        try:
            timeline, overview, links = await run_in_threadpool(read)
        except InvalidRequest as exc:
            return shell.render(request, ctx, "message.html", title_key="account_title", status=422,
                                message=exc.message)
        return shell.render(request, ctx, "account.html", title_key="account_title", account_id=account_id,
                            timeline=timeline, overview=overview, links=links)

    @app.get("/console/reports", include_in_schema=False)
    async def reports(request: Request) -> Response:
        ctx = await shell.page(request, "reports:read")
        start = request.query_params.get("from") or None
        end = request.query_params.get("to") or None
        for name, value in (("from", start), ("to", end)):
            if value is not None and not MONTH.fullmatch(value):
                return shell.render(request, ctx, "message.html", title_key="reports_title", status=422,
                                    message=f"{name}: YYYY-MM")
        engine = ports.store().engine
        try:
            figures = await run_in_threadpool(lambda: monthly_figures(engine, start_month=start, end_month=end))
        except InvalidRequest as exc:
            return shell.render(request, ctx, "message.html", title_key="reports_title", status=422,
                                message=exc.message)
        await run_in_threadpool(audit, ctx.actor, "report.monthly.view", "reports/monthly",
                                {"from": figures["from"], "to": figures["to"], "format": "html"})
        labels = {key: ja if ctx.lang == "ja" else REPORT_LABELS_EN.get(key, en) for key, ja, en in COLUMNS}
        chart = bar_chart_svg(figures["months"], labels, title=labels["unauthorised_accesses"] + " / "
                              + labels["fraudulent_trades"])
        return shell.render(request, ctx, "reports.html", title_key="reports_title", figures=figures,
                            columns=list(labels.items()), chart=chart)
