"""HTTP API of the investigation view and the management figures.

Scope ``cases:read`` (analysts):

* ``GET /v1/accounts/{id}/timeline?since=&until=&types=login,order&limit=500&order=asc|desc&cursor=``
  — the account's events with decisions, fired rules, the feature values they read and summaries
  (keyset pages: pass ``next_cursor`` back as ``cursor``);
* ``GET /v1/accounts/{id}/overview?since=&until=&top=50`` — devices, networks, destinations,
  holdings, orders, transfers, state, alerts;
* ``GET /v1/accounts/{id}/links?window_days=30&since=&until=&kinds=device,network,destination,contact&top=20``
  — accounts sharing a device, network, destination or contact.

Scope ``reports:read`` (management, compliance):

* ``GET /v1/reports/monthly?from=YYYY-MM&to=YYYY-MM&format=json|csv|xlsx&lang=ja|en`` — the
  FSA-style monthly table (:mod:`mamori.investigate.figures`);
* ``GET /v1/reports/live`` — live counters.

Every view of an account's data and every monthly report appends an audit record
(``account.timeline.view``, ``account.overview.view``, ``account.links.view``, ``report.monthly.view``;
actor ``api-key:<id>`` or ``operator:<login id>``; target the account id or ``reports/monthly``;
details hold counts and parameters, never customer data) before the answer is sent: no audit record, no data. The live
counters are aggregates polled by dashboards and are not audited. Bad parameters are answered 422
with ``details.field`` naming the parameter. Database work runs in the thread pool.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, Final

import orjson
from fastapi import FastAPI, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mamori.adapters.geo import GeoProvider, open_geo_provider
from mamori.adapters.sql.store import SqlStore
from mamori.api.auth import Principal
from mamori.investigate.common import parse_time
from mamori.investigate.export import XLSX_MEDIA_TYPE, figures_csv, figures_xlsx
from mamori.investigate.figures import live_counters, monthly_figures
from mamori.investigate.links import linked_accounts, parse_kinds
from mamori.investigate.overview import account_overview
from mamori.investigate.timeline import MAX_LIMIT, account_timeline, parse_types
from mamori.kit.errors import InvalidRequest

__all__ = ["CASES_SCOPE", "REPORTS_SCOPE", "register_investigate"]

CASES_SCOPE: Final = "cases:read"
REPORTS_SCOPE: Final = "reports:read"
_ACCOUNT_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}")


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json", headers={"Cache-Control": "no-store"})


def _int(value: str | None, field: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidRequest(f"{field} must be an integer", details={"field": field}) from None
    if not low <= number <= high:
        raise InvalidRequest(f"{field} must be between {low} and {high}", details={"field": field})
    return number


def _choice(value: str | None, field: str, choices: tuple[str, ...]) -> str:
    chosen = value or choices[0]
    if chosen not in choices:
        raise InvalidRequest(f"{field} must be one of {', '.join(choices)}", details={"field": field})
    return chosen


def _account(account_id: str) -> str:
    if not _ACCOUNT_ID.fullmatch(account_id):
        raise InvalidRequest("not a valid account id", details={"field": "account_id"})
    return account_id


@functools.cache
def _builtin_geo() -> GeoProvider:
    """The offline IP database shipped with mamori (opened once, on first use)."""
    return open_geo_provider()


def register_investigate(app: FastAPI, get_store: Callable[[], SqlStore],
                         principal: Callable[[Request, str], Principal], *,
                         get_geo: Callable[[], GeoProvider | None] | None = None,
                         clock_us: Callable[[], int] | None = None) -> None:
    """Add the routes. ``get_geo`` gives the IP database for the network descriptions (default:
    the built-in offline one; the app passes the engine's, ``lambda: svc().engine.geo``);
    ``clock_us`` the current time in microseconds (tests)."""

    def geo() -> GeoProvider | None:
        return get_geo() if get_geo is not None else _builtin_geo()

    async def audit(p: Principal, action: str, target: str, details: dict[str, Any]) -> None:
        await run_in_threadpool(get_store().audit, actor=p.actor, action=action, target=target,
                                details=details)

    @app.get("/v1/accounts/{account_id:path}/timeline", tags=["investigation"],
             summary="An account's events in time order with decisions, fired rules and summaries")
    async def timeline(request: Request, account_id: str, since: str | None = None, until: str | None = None,
                       types: str | None = None, limit: str | None = None, order: str | None = None,
                       cursor: str | None = None) -> Response:
        p = principal(request, CASES_SCOPE)
        account = _account(account_id)
        args: dict[str, Any] = {
            "since_us": parse_time(since, "since"), "until_us": parse_time(until, "until"),
            "types": parse_types(types), "limit": _int(limit, "limit", 500, 1, MAX_LIMIT),
            "order": _choice(order, "order", ("asc", "desc")), "cursor": cursor or None}
        page = await run_in_threadpool(lambda: account_timeline(get_store().engine, account, geo=geo(), **args))
        await audit(p, "account.timeline.view", account, {
            "items": len(page["items"]), "types": list(args["types"] or ()), "order": args["order"],
            "continued": cursor is not None, "since": since, "until": until})
        return _json(page)

    @app.get("/v1/accounts/{account_id:path}/overview", tags=["investigation"],
             summary="An account's devices, networks, destinations, holdings, orders and alerts")
    async def overview(request: Request, account_id: str, since: str | None = None, until: str | None = None,
                       top: str | None = None) -> Response:
        p = principal(request, CASES_SCOPE)
        account = _account(account_id)
        since_us, until_us = parse_time(since, "since"), parse_time(until, "until")
        n = _int(top, "top", 50, 1, 1000)
        view = await run_in_threadpool(lambda: account_overview(get_store().engine, account, since_us=since_us,
                                                                until_us=until_us, top=n, geo=geo()))
        await audit(p, "account.overview.view", account, {"events": view["events"], "since": since, "until": until})
        return _json(view)

    @app.get("/v1/accounts/{account_id:path}/links", tags=["investigation"],
             summary="Accounts sharing a device, network, withdrawal destination or contact")
    async def links(request: Request, account_id: str, since: str | None = None, until: str | None = None,
                    window_days: str | None = None, kinds: str | None = None, top: str | None = None,
                    crowd_limit: str | None = None) -> Response:
        p = principal(request, CASES_SCOPE)
        account = _account(account_id)
        args: dict[str, Any] = {
            "since_us": parse_time(since, "since"), "until_us": parse_time(until, "until"),
            "window_days": _int(window_days, "window_days", 30, 1, 3660), "kinds": parse_kinds(kinds),
            "top": _int(top, "top", 20, 1, 500), "crowd_limit": _int(crowd_limit, "crowd_limit", 50, 1, 10_000)}
        if clock_us is not None:
            args["now_us"] = clock_us()
        view = await run_in_threadpool(lambda: linked_accounts(get_store().engine, account, **args))
        await audit(p, "account.links.view", account, {
            "linked_accounts": len(view["linked"]), "window_days": args["window_days"], "kinds": list(args["kinds"])})
        return _json(view)

    @app.get("/v1/reports/monthly", tags=["reports"],
             summary="Unauthorised access and fraudulent trading by month (FSA table shape): JSON, CSV or Excel")
    async def monthly(request: Request, format: str | None = None, lang: str | None = None,
                      from_: str | None = Query(None, alias="from", description="First month, YYYY-MM (JST)"),
                      to: str | None = Query(None, description="Last month, YYYY-MM (JST)")) -> Response:
        p = principal(request, REPORTS_SCOPE)
        fmt = _choice(format, "format", ("json", "csv", "xlsx"))
        language = _choice(lang, "lang", ("ja", "en"))
        start, end = from_ or None, to or None
        now = clock_us() if clock_us is not None else None
        figures = await run_in_threadpool(lambda: monthly_figures(get_store().engine, start_month=start,
                                                                  end_month=end, now_us=now))
        await audit(p, "report.monthly.view", "reports/monthly",
                    {"from": figures["from"], "to": figures["to"], "format": fmt})
        name = f"mamori-monthly-{figures['from']}_{figures['to']}"
        if fmt == "csv":
            return Response(figures_csv(figures, lang=language), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}.csv"',
                                     "Cache-Control": "no-store"})
        if fmt == "xlsx":
            data = await run_in_threadpool(figures_xlsx, figures)
            return Response(data, media_type=XLSX_MEDIA_TYPE,
                            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"',
                                     "Cache-Control": "no-store"})
        return _json(figures)

    @app.get("/v1/reports/live", tags=["reports"],
             summary="Live counters: logins, challenges, locks, held orders, alerts, open cases")
    async def live(request: Request) -> Response:
        principal(request, REPORTS_SCOPE)
        now = clock_us() if clock_us is not None else None
        return _json(await run_in_threadpool(lambda: live_counters(get_store().engine, now_us=now)))
