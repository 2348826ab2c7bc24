"""HTTP API of the PQC register (``/v1/pqc/...``), scope ``pqc:admin``.

* ``GET /v1/pqc/assets?limit=&after=`` - the registered information assets, in id order (keyset pages).
* ``POST /v1/pqc/assets`` - a JSON list of assets (English or Japanese keys, as in the import file) to insert
  or replace; all-or-nothing: one invalid asset rejects the request with every problem listed.
* ``GET /v1/pqc/findings?current=true&scan_id=&limit=&after=`` - findings with their classification
  (policy rule, NIST IR 8547 / SP 800-131A dates, sources).
* ``GET /v1/pqc/assessment?scenario=&limit=&after=`` - per asset: HNDL, Mosca (x + y > z) and the FSA's
  three axes (猶予期間・攻撃リスク・情報の重要度) with reasons in Japanese and English.
* ``GET /v1/pqc/roadmap?scenario=&wave_years=`` - the migration plan.
* ``GET /v1/pqc/report.xlsx?scenario=`` - the inventory ledger workbook (資産台帳 ... 出典).

Every route first calls ``principal(request, "pqc:admin")``; errors are :mod:`mamori.kit.errors` classes,
rendered by the application's handler. Database work runs in the thread pool.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any, Final
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mamori.api.auth import Principal
from mamori.kit.errors import InvalidRequest
from mamori.pqc.policy_data import Policy, default_policy
from mamori.pqc.register import Asset, PqcRegister

__all__ = ["SCOPE", "pqc_router"]

SCOPE: Final = "pqc:admin"
_JST: Final = ZoneInfo("Asia/Tokyo")
_XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def pqc_router(get_register: Callable[[], PqcRegister], principal: Callable[[Request, str], Principal], *,
               policy: Policy | None = None, today: Callable[[], dt.date] | None = None,
               max_body_bytes: int = 16 * 1024 * 1024, max_assets_per_request: int = 100_000) -> APIRouter:
    """The PQC routes. ``today`` returns the assessment date (default: today in JST)."""
    router = APIRouter(prefix="/v1/pqc", tags=["pqc"])
    pol = policy or default_policy()

    def day() -> dt.date:
        return today() if today else dt.datetime.now(_JST).date()

    def scenario_name(value: str | None) -> str:
        name = value or pol.default_scenario
        if name not in pol.scenarios:
            raise InvalidRequest(f"unknown scenario {name!r}", details=[
                {"field": "scenario", "message": f"expected one of {', '.join(sorted(pol.scenarios))}",
                 "kind": "enum"}])
        return name

    @router.get("/assets", summary="List the information assets of the PQC register")
    async def list_assets(request: Request, limit: int = Query(100, ge=1, le=5000), after: str = "") -> Response:
        principal(request, SCOPE)
        items = await run_in_threadpool(
            lambda: [a.to_dict() for a in get_register().iter_assets(after=after, limit=limit)])
        return _json({"items": items, "next_after": items[-1]["asset_id"] if len(items) == limit else None})

    @router.post("/assets", summary="Insert or replace information assets (a JSON list)")
    async def post_assets(request: Request) -> Response:
        principal(request, SCOPE)
        body = await _read_body(request, max_body_bytes)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"the body is not JSON: {exc}") from None
        if not isinstance(data, list) or not data:
            raise InvalidRequest("the body must be a non-empty JSON list of assets")
        if len(data) > max_assets_per_request:
            raise InvalidRequest(f"at most {max_assets_per_request} assets per request")
        assets: list[Asset] = []
        problems: list[dict[str, str]] = []
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                problems.append({"field": f"{i}", "message": "expected an object", "kind": "model_type"})
                continue
            try:
                assets.append(Asset.from_mapping(item))
            except ValueError as exc:
                field, _, message = str(exc).partition(": ")
                problems.append({"field": f"{i}.{field}" if message else str(i), "message": message or str(exc),
                                 "kind": "value_error"})
        if problems:
            raise InvalidRequest(f"{len(problems)} invalid asset(s); nothing was stored", details=problems[:100])
        count = await run_in_threadpool(get_register().upsert_assets, assets)
        return _json({"upserted": count})

    @router.get("/findings", summary="Findings with their policy classification")
    async def list_findings(request: Request, current: bool = True, scan_id: int | None = None,
                            limit: int = Query(500, ge=1, le=10_000), after: int = Query(0, ge=0)) -> Response:
        principal(request, SCOPE)

        def load() -> list[dict[str, Any]]:
            reg = get_register()
            if scan_id is not None:
                reg.get_scan(scan_id)  # NotFound for an unknown scan
            return [{"finding_id": s.finding_id, **s.finding.to_dict(),
                     "classification": pol.classify(s.finding).to_dict(), "first_seen_scan": s.first_seen_scan,
                     "last_seen_scan": s.last_seen_scan}
                    for s in reg.iter_findings(current_only=current, scan_id=scan_id, after=after, limit=limit)]

        items = await run_in_threadpool(load)
        return _json({"items": items, "next_after": items[-1]["finding_id"] if len(items) == limit else None})

    @router.get("/assessment", summary="HNDL, Mosca and the FSA's three axes per asset")
    async def assessment(request: Request, scenario: str | None = None, limit: int = Query(1000, ge=1, le=10_000),
                         after: str = "") -> Response:
        principal(request, SCOPE)
        name = scenario_name(scenario)

        def load() -> dict[str, Any]:
            from mamori.pqc.risk import Assessor

            assessor = Assessor(get_register(), today=day(), scenario=name, policy=pol)
            items = [r.to_dict() for _, r in assessor.risks(after=after, limit=limit)]
            return {"scenario": name, "crqc_year": assessor.scenario.year, "today": assessor.today.isoformat(),
                    "policy_version": pol.version, "findings": assessor.findings, "unlinked": assessor.unlinked,
                    "items": items, "next_after": items[-1]["asset_id"] if len(items) == limit else None}

        return _json(await run_in_threadpool(load))

    @router.get("/roadmap", summary="The migration roadmap")
    async def roadmap(request: Request, scenario: str | None = None,
                      wave_years: int = Query(2, ge=1, le=10)) -> Response:
        principal(request, SCOPE)
        name = scenario_name(scenario)

        def load() -> dict[str, Any]:
            from mamori.pqc.risk import Assessor
            from mamori.pqc.roadmap import plan_roadmap

            when = day()
            assessor = Assessor(get_register(), today=when, scenario=name, policy=pol)
            return plan_roadmap((r for _, r in assessor.risks()), today=when, wave_years=wave_years,
                                scenario=assessor.scenario).to_dict()

        return _json(await run_in_threadpool(load))

    @router.get("/report.xlsx", summary="The inventory ledger workbook (資産台帳・暗号一覧・リスク評価・移行計画)")
    async def report_xlsx(request: Request, scenario: str | None = None) -> Response:
        principal(request, SCOPE)
        name = scenario_name(scenario)

        def build() -> tuple[bytes, str]:
            from mamori.pqc.report import write_workbook

            when = day()
            buffer = io.BytesIO()
            write_workbook(get_register(), buffer, today=when, scenario=name, policy=pol)
            return buffer.getvalue(), f"pqc-inventory-{when:%Y%m%d}.xlsx"

        data, filename = await run_in_threadpool(build)
        return Response(data, media_type=_XLSX, headers={
            "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff"})

    return router


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise InvalidRequest(f"the body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidRequest(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
