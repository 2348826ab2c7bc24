"""HTTP API of AML effectiveness verification (``/v1/aml/effectiveness/...``), scope ``aml:read``.

* ``GET /v1/aml/effectiveness/metrics?from=&to=`` - per-scenario alert volume (by week), conversion
  alert → case → STR draft → locked STR, precision against closed cases, median times, top
  false-positive reasons;
* ``GET /v1/aml/effectiveness/coverage`` and ``POST`` with ``{"risk_assessment": "<YAML text>"}`` -
  reference cases and the firm's risks against live scenarios (a bad file: 422 naming the line);
* ``POST /v1/aml/effectiveness/sweep`` ``{"scenario", "threshold", "values", "from", "to"}``;
* ``POST /v1/aml/effectiveness/backtest`` ``{"scenario", "set": {"name": value}, "from", "to"}``;
* ``GET /v1/aml/effectiveness/report?from=&to=&format=html|xlsx|json&sweeps=auto|none`` - the report.

``from``/``to`` are JST dates (``2026-05-01``) or RFC 3339 times; ``to`` is exclusive. Labels are
those of closed cases. Every call is written to the audit log (``aml.effectiveness.*``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final, Literal

import orjson
from fastapi import FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from mamori.aml.effectiveness.period import Period
from mamori.aml.effectiveness.report import ReportOptions
from mamori.aml.effectiveness.service import EffectivenessService
from mamori.api.auth import Principal
from mamori.kit.errors import InvalidRequest

__all__ = ["READ_SCOPE", "register_aml_effectiveness"]

READ_SCOPE: Final = "aml:read"
XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Number = int | float


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CoverageBody(_Body):
    risk_assessment: str = Field(max_length=1_000_000)


class SweepBody(_Body):
    scenario: str = Field(min_length=1, max_length=64)
    threshold: str = Field(min_length=1, max_length=64)
    values: list[Number] = Field(min_length=1, max_length=25)
    start: str = Field(alias="from", max_length=40)
    end: str = Field(alias="to", max_length=40)


class BacktestBody(_Body):
    scenario: str = Field(min_length=1, max_length=64)
    candidate: dict[str, Number] = Field(alias="set", min_length=1, max_length=20)
    start: str = Field(alias="from", max_length=40)
    end: str = Field(alias="to", max_length=40)


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


async def _body(request: Request, model: type[_Body]) -> Any:
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        details = [{"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"], "kind": e["type"]}
                   for e in exc.errors()]
        raise InvalidRequest(f"invalid request body: {details[0]['field']}: {details[0]['message']}",
                             details=details) from None


def register_aml_effectiveness(app: FastAPI, get_service: Callable[[], EffectivenessService],
                               principal: Callable[[Request, str], Principal]) -> None:
    """Add the routes; ``get_service`` builds the service on the store and the active rule set."""

    @app.get("/v1/aml/effectiveness/metrics", tags=["aml"], summary="Outcome figures per AML scenario")
    async def metrics(request: Request, start: Annotated[str, Query(alias="from", max_length=40)],
                      end: Annotated[str, Query(alias="to", max_length=40)]) -> Response:
        p = principal(request, READ_SCOPE)
        period = Period.parse(start, end)
        return _json(await run_in_threadpool(lambda: get_service().metrics(p.actor, period)))

    @app.get("/v1/aml/effectiveness/coverage", tags=["aml"], summary="Reference cases against live scenarios")
    async def coverage(request: Request) -> Response:
        p = principal(request, READ_SCOPE)
        return _json(await run_in_threadpool(lambda: get_service().coverage(p.actor, None)))

    @app.post("/v1/aml/effectiveness/coverage", tags=["aml"],
              summary="Reference cases and the firm's risk assessment against live scenarios")
    async def coverage_with(request: Request) -> Response:
        p = principal(request, READ_SCOPE)
        body: CoverageBody = await _body(request, CoverageBody)

        def work() -> dict[str, Any]:
            service = get_service()
            return service.coverage(p.actor, service.assessment(body.risk_assessment))

        return _json(await run_in_threadpool(work))

    @app.post("/v1/aml/effectiveness/sweep", tags=["aml"], summary="Threshold sweep of one scenario")
    async def sweep(request: Request) -> Response:
        p = principal(request, READ_SCOPE)
        body: SweepBody = await _body(request, SweepBody)
        period = Period.parse(body.start, body.end)
        return _json(await run_in_threadpool(
            lambda: get_service().sweep(p.actor, period, body.scenario, body.threshold, body.values)))

    @app.post("/v1/aml/effectiveness/backtest", tags=["aml"], summary="Backtest candidate thresholds of a scenario")
    async def backtest(request: Request) -> Response:
        p = principal(request, READ_SCOPE)
        body: BacktestBody = await _body(request, BacktestBody)
        period = Period.parse(body.start, body.end)
        return _json(await run_in_threadpool(
            lambda: get_service().backtest(p.actor, period, body.scenario, body.candidate)))

    @app.get("/v1/aml/effectiveness/report", tags=["aml"], summary="The effectiveness report (HTML, Excel, JSON)")
    async def report(request: Request, start: Annotated[str, Query(alias="from", max_length=40)],
                     end: Annotated[str, Query(alias="to", max_length=40)],
                     format: Literal["html", "xlsx", "json"] = "html",
                     sweeps: Literal["auto", "none"] = "auto") -> Response:
        p = principal(request, READ_SCOPE)
        period = Period.parse(start, end)

        def work() -> dict[str, Any]:
            service = get_service()
            options = ReportOptions(sweeps=sweeps, workers=service.workers, geo=service.geo,
                                    home_country=service.home_country,
                                    extra={"command": f"GET /v1/aml/effectiveness/report?from={start}&to={end}"
                                                      f"&sweeps={sweeps}"})
            return service.report(p.actor, period, options=options)

        data = await run_in_threadpool(work)
        name = f"aml-effectiveness-{data['report_id']}"
        if format == "json":
            return _json(data)
        if format == "xlsx":
            from mamori.aml.effectiveness.workbook import report_xlsx

            content = await run_in_threadpool(report_xlsx, data)
            return Response(content, media_type=XLSX,
                            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
        from mamori.aml.effectiveness.render import render_html

        return Response(render_html(data), media_type="text/html; charset=utf-8",
                        headers={"Content-Disposition": f'inline; filename="{name}.html"',
                                 "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                                            "img-src data:"})


def effectiveness_service_for(get_risk_service: Callable[[], Any], settings: Any,
                              *, workers: int = 1) -> Callable[[], EffectivenessService]:
    """What the application passes as ``get_service``: a service on the running store and the rule set
    active at the time of the request (one process by default: a server shares its cores)."""
    geo = (("country_mmdb", settings.geo_country_mmdb), ("asn_mmdb", settings.geo_asn_mmdb),
           ("network_classes", settings.geo_network_classes), ("tor_exits", settings.geo_tor_exits))

    def build() -> EffectivenessService:
        svc = get_risk_service()
        return EffectivenessService(svc.store, svc.engine.ruleset, geo=geo, home_country=settings.home_country,
                                    workers=workers)

    return build
