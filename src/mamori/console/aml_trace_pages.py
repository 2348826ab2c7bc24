"""Console pages of funds tracing and AML effectiveness (issue 6).

* ``/console/aml/traces`` - traces (open / closed, per case) and a form that starts one from a
  withdrawal's txid, or from an address and the time it received the funds; opened from a case
  (``?case_id=``) or a withdrawal (``?chain=&start=&account_id=``) the form is filled in. The FSA asks
  crypto-asset exchanges to keep following funds after they leave (see docs/aml-tracing.md).
* ``/console/aml/traces/{id}`` - one trace: its start and method, the entities reached with their
  paths, the taint per address, and the re-checks made when new chain data arrived.
* ``/console/aml/effectiveness`` - per-scenario outcome figures (alert → case → STR), coverage of the
  FSA's reference cases by live scenarios, and the report (HTML / Excel) to download, for the
  effectiveness verification the FSA's AML/CFT Guidelines (II-2 (3)(v)) ask of transaction monitoring.

Every read goes through the service with the operator's actor and is audited there
(``aml.trace.list``, ``aml.trace.view``, ``aml.effectiveness.*``); starting and closing a trace go
through ``/v1/aml/traces`` (``aml:write``, checked on the server).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mamori.aml.effectiveness.period import Period
from mamori.aml.tracer import MAX_HOPS_LIMIT
from mamori.console.aml_pages import category_names
from mamori.console.text import add_words
from mamori.console.web import JST, ConsoleShell, PageContext
from mamori.kit.errors import MamoriError

if TYPE_CHECKING:
    from mamori.console.aml_pages import AmlPorts

READ_SCOPE: Final = "aml:read"
DEFAULT_DAYS: Final = 30
MAX_ADDRESSES_SHOWN: Final = 200

add_words({
    "aml_traces_title": ("資金追跡", "Funds traces"),
    "aml_trace_title": ("資金追跡", "Funds trace"),
    "aml_effectiveness_title": ("AML 有効性検証", "AML effectiveness"),
    "aml_trace_status": ("状態", "Status"),
    "aml_trace_method": ("方式", "Method"),
    "aml_trace_case": ("ケース", "Case"),
    "aml_trace_created": ("開始", "Started"),
    "aml_trace_updated": ("更新", "Updated"),
    "aml_trace_none": ("資金追跡はありません。", "No traces."),
    "aml_trace_start": ("資金追跡を開始", "Start a trace"),
    "aml_trace_start_help": ("出金トランザクションの txid、またはアドレスと受領日時を指定します。",
                             "Give the withdrawal's txid, or an address and when it received the funds."),
    "aml_trace_from": ("起点（txid またはアドレス）", "Start (txid or address)"),
    "aml_trace_only_to": ("この出力先のみ（任意）", "Only outputs to (optional)"),
    "aml_trace_at": ("受領日時（アドレス起点の場合, JST）", "Received at (for an address, JST)"),
    "aml_trace_amount": ("金額（任意）", "Amount (optional)"),
    "aml_trace_asset": ("資産（任意）", "Asset (optional)"),
    "aml_trace_hops": ("最大ホップ数", "Max hops"),
    "aml_trace_account": ("顧客口座（任意）", "Customer account (optional)"),
    "aml_trace_run": ("追跡する", "Trace"),
    "aml_trace_close": ("追跡を終了（再確認しない）", "Close (no more re-checks)"),
    "aml_trace_entities": ("到達したリスク先・既知の主体", "Entities reached"),
    "aml_trace_no_entities": ("既知の主体には未到達です。", "No known entity reached."),
    "aml_trace_path": ("経路", "Path"),
    "aml_trace_taint": ("テイント", "Taint"),
    "aml_trace_risky": ("リスク先", "Risky"),
    "aml_trace_stopped": ("追跡停止", "Stopped here"),
    "aml_trace_addresses": ("アドレス別のテイント", "Taint per address"),
    "aml_trace_of_total": ("表示／全体", "shown / total"),
    "aml_trace_truncated": ("打ち切り", "Truncated"),
    "aml_trace_checks": ("再確認の履歴", "Re-checks"),
    "aml_trace_new_entities": ("新たな到達先", "Newly reached"),
    "aml_trace_alert": ("アラート", "Alert"),
    "aml_trace_start_amount": ("起点の金額", "Start amount"),
    "aml_trace_first_at": ("初回受領", "First received"),
    "aml_trace_all": ("すべて", "All"),
    "aml_trace_from_case": ("このケースの資金を追跡", "Trace funds of this case"),
    "aml_trace_this": ("この出金を追跡", "Trace this withdrawal"),
    "aml_eff_period": ("期間（JST, 終了日は含まない）", "Period (JST, end exclusive)"),
    "aml_eff_show": ("表示", "Show"),
    "aml_eff_scenario": ("シナリオ", "Scenario"),
    "aml_eff_alerts": ("アラート", "Alerts"),
    "aml_eff_to_case": ("ケース化率", "Alert → case"),
    "aml_eff_to_str": ("届出下書き率", "Alert → STR draft"),
    "aml_eff_to_locked": ("届出確定率", "Alert → locked STR"),
    "aml_eff_precision": ("適合率", "Precision"),
    "aml_eff_tp_fp": ("真陽性 / 偽陽性", "TP / FP"),
    "aml_eff_hours_close": ("終結までの時間（中央値）", "Median hours to close"),
    "aml_eff_coverage": ("参考事例の網羅状況", "Coverage of the reference cases"),
    "aml_eff_case": ("参考事例", "Reference case"),
    "aml_eff_covered": ("対応シナリオ", "Live scenarios"),
    "aml_eff_not_covered": ("未対応", "Not covered"),
    "aml_eff_report": ("有効性検証レポート", "Effectiveness report"),
    "aml_eff_report_html": ("HTML で開く", "Open as HTML"),
    "aml_eff_report_xlsx": ("Excel をダウンロード", "Download Excel"),
    "aml_eff_report_note": ("レポートの作成には時間がかかることがあります（閾値スイープを含みます）。",
                            "Building the report can take a while (it includes threshold sweeps)."),
    "aml_eff_ruleset": ("ルールセット", "Rule set"),
    "aml_status_open": ("追跡中", "Open"),
    "aml_status_closed": ("終了", "Closed"),
    "v_haircut": ("按分（haircut）", "Haircut"),
    "v_poison": ("全汚染（poison）", "Poison"),
})


def _id(value: str) -> int | None:
    return int(value) if value.isdigit() and 1 <= int(value) <= 2**62 else None


def default_period(now: datetime | None = None) -> tuple[str, str]:
    """The last :data:`DEFAULT_DAYS` JST days up to and including today (``to`` is exclusive)."""
    today = (now or datetime.now(UTC)).astimezone(JST).date()
    return (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(), (today + timedelta(days=1)).isoformat()


def register_trace_pages(app: FastAPI, shell: ConsoleShell, ports: AmlPorts) -> None:
    """Add ``/console/aml/traces``, ``/console/aml/traces/{id}`` and ``/console/aml/effectiveness``."""

    def problem(request: Request, ctx: PageContext, exc: MamoriError, title_key: str) -> Response:
        return shell.render(request, ctx, "message.html", title_key=title_key, status=exc.http_status,
                            message=exc.message)

    @app.get("/console/aml/traces", include_in_schema=False)
    async def traces(request: Request, status: str = "", case_id: str = "", chain: str = "", start: str = "",
                     account_id: str = "") -> Response:
        ctx = await shell.page(request, READ_SCOPE)
        chosen = status if status in ("open", "closed") else None
        case = _id(case_id)
        rows = await run_in_threadpool(lambda: ports.traces().list_traces(ctx.actor, status=chosen, case_id=case,
                                                                          limit=200))
        prefill = {"case_id": case, "chain": chain.strip()[:32], "start": start.strip()[:130],
                   "account_id": account_id.strip()[:128]}
        return shell.render(request, ctx, "aml_traces.html", title_key="aml_traces_title", tab="traces", rows=rows,
                            trace_status=chosen or "", case_id=case, prefill=prefill, max_hops=MAX_HOPS_LIMIT)

    @app.get("/console/aml/traces/{trace_id}", include_in_schema=False)
    async def trace_page(request: Request, trace_id: str) -> Response:
        ctx = await shell.page(request, READ_SCOPE)
        number = _id(trace_id)
        if number is None:
            return shell.render(request, ctx, "message.html", title_key="not_found_title", status=404)
        try:
            record = await run_in_threadpool(ports.traces().get, ctx.actor, number)
        except MamoriError as exc:
            return problem(request, ctx, exc, "aml_trace_title")
        result = record["result"]
        return shell.render(request, ctx, "aml_trace.html", title_key="aml_trace_title", tab="traces", trace=record,
                            result=result, addresses=result.get("addresses", [])[:MAX_ADDRESSES_SHOWN],
                            categories=category_names(ctx.lang))

    @app.get("/console/aml/effectiveness", include_in_schema=False)
    async def effectiveness(request: Request) -> Response:
        ctx = await shell.page(request, READ_SCOPE)
        start, end = default_period()
        start = request.query_params.get("from", start)[:40]
        end = request.query_params.get("to", end)[:40]

        def load() -> tuple[dict[str, Any], dict[str, Any]]:
            service = ports.effectiveness()
            period = Period.parse(start, end)
            return service.metrics(ctx.actor, period), service.coverage(ctx.actor, None)

        try:
            metrics, coverage = await run_in_threadpool(load)
        except MamoriError as exc:
            return problem(request, ctx, exc, "aml_effectiveness_title")
        return shell.render(request, ctx, "aml_effectiveness.html", title_key="aml_effectiveness_title",
                            tab="effectiveness", metrics=metrics, coverage=coverage, start=start, end=end)
