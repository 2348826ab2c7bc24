"""The audit log (internal audit: list, filter, verify the chain, export) and operator management,
as console pages and as JSON API endpoints (which API keys with the scope may use too).

* ``GET /v1/audit?actor=&action=&target=&since=&until=&limit=&before=`` (``audit:read``) - newest first;
* ``POST /v1/audit/verify`` (``audit:read``) - recompute the hash chain: OK, or the first broken record;
* ``GET /v1/audit/export?format=csv|jsonl&...`` (``audit:read``) - the whole (filtered) log, streamed;
* ``GET /v1/operators``, ``POST /v1/operators`` ``{"login_id", "name", "role"}`` (answers the one-time
  enrolment code), ``POST /v1/operators/{id}/disable|enable|reset``, ``POST /v1/operators/{id}/role``
  ``{"role"}`` (``operators:admin``).

Reading the audit log is itself audited (``audit.view``, ``audit.verify``, ``audit.export``). An
administrator cannot disable, reset or change the role of themself (no lock-out by mistake, and no
silent self-promotion).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from mamori.api.auth import Principal
from mamori.console import auditlog
from mamori.console.pages import ConsolePorts, json_response
from mamori.console.roles import OPERATORS_SCOPE, ROLE_NAMES, ROLES
from mamori.console.service import ConsoleService
from mamori.console.web import ConsoleShell
from mamori.kit.errors import Forbidden, InvalidRequest, MamoriError

AUDIT_SCOPE = "audit:read"


def _before(value: str | None) -> int | None:
    if not value:
        return None
    if not value.isdigit() or len(value) > 19:
        raise InvalidRequest("before must be a record number", details={"field": "before"})
    return int(value)


def _limit(value: str | None, default: int = 100) -> int:
    if not value:
        return default
    if not value.isdigit() or not 1 <= int(value) <= auditlog.MAX_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {auditlog.MAX_PAGE}", details={"field": "limit"})
    return int(value)


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > 16 * 1024:
        raise InvalidRequest("request body too large", details={"field": "(body)"})
    import orjson

    try:
        data = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise InvalidRequest("request body is not valid JSON", details={"field": "(body)"}) from None
    if not isinstance(data, dict):
        raise InvalidRequest("expected a JSON object", details={"field": "(body)"})
    return data


def register_admin_pages(app: FastAPI, shell: ConsoleShell, ports: ConsolePorts,
                         principal: Callable[[Request, str], Principal]) -> None:
    def console() -> ConsoleService:
        return shell.gate.get_service()

    def audit(actor: str, action: str, target: str, details: dict[str, Any]) -> None:
        ports.store().audit(actor=actor, action=action, target=target, details=details)

    # -- audit log ---------------------------------------------------------------------------------
    @app.get("/console/audit", include_in_schema=False)
    async def audit_page(request: Request) -> Response:
        ctx = await shell.page(request, AUDIT_SCOPE)
        try:
            flt = auditlog.AuditFilter.parse(request.query_params)
            before = _before(request.query_params.get("before"))
        except MamoriError as exc:
            return shell.render(request, ctx, "message.html", title_key="audit_title", status=422, message=exc.message)
        page = await run_in_threadpool(lambda: auditlog.query(ports.store().engine, flt, limit=100, before_seq=before))
        await run_in_threadpool(audit, ctx.actor, "audit.view", "audit_log", {"records": len(page["records"])})
        params = {k: v for k, v in request.query_params.items() if k in ("actor", "action", "target", "since", "until")
                  and v}
        return shell.render(request, ctx, "audit.html", title_key="audit_title", page=page, filters=params)

    @app.get("/v1/audit", tags=["audit"], summary="The audit log, newest first (audit:read; audited)")
    async def audit_list(request: Request) -> Response:
        p = principal(request, AUDIT_SCOPE)
        flt = auditlog.AuditFilter.parse(request.query_params)
        before, limit = _before(request.query_params.get("before")), _limit(request.query_params.get("limit"))
        page = await run_in_threadpool(lambda: auditlog.query(ports.store().engine, flt, limit=limit,
                                                              before_seq=before))
        await run_in_threadpool(audit, p.actor, "audit.view", "audit_log", {"records": len(page["records"])})
        return json_response(page)

    @app.post("/v1/audit/verify", tags=["audit"], summary="Recompute the audit log's hash chain")
    async def audit_verify(request: Request) -> Response:
        p = principal(request, AUDIT_SCOPE)
        result = await run_in_threadpool(auditlog.verify, ports.store())
        await run_in_threadpool(audit, p.actor, "audit.verify", "audit_log",
                                {"ok": result["ok"], "broken_seq": result.get("broken_seq")})
        return json_response(result)

    @app.get("/v1/audit/export", tags=["audit"], summary="Export the (filtered) audit log as CSV or JSONL")
    async def audit_export(request: Request) -> Response:
        p = principal(request, AUDIT_SCOPE)
        fmt = request.query_params.get("format") or "jsonl"
        if fmt not in ("csv", "jsonl"):
            raise InvalidRequest("format must be csv or jsonl", details={"field": "format"})
        flt = auditlog.AuditFilter.parse(request.query_params)
        await run_in_threadpool(audit, p.actor, "audit.export", "audit_log", {"format": fmt})
        engine = ports.store().engine
        body = auditlog.export_csv(engine, flt) if fmt == "csv" else auditlog.export_jsonl(engine, flt)
        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
        return StreamingResponse(body, media_type=media, headers={
            "Content-Disposition": f'attachment; filename="mamori-audit.{fmt}"', "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff"})

    # -- operators ---------------------------------------------------------------------------------
    @app.get("/console/operators", include_in_schema=False)
    async def operators_page(request: Request) -> Response:
        ctx = await shell.page(request, OPERATORS_SCOPE)
        rows = await run_in_threadpool(console().operators)
        return shell.render(request, ctx, "operators.html", title_key="operators_title", operators=rows,
                            roles=ROLES, role_names=ROLE_NAMES)

    def not_self(p: Principal, login_id: str) -> None:
        if p.kind == "operator" and p.key_id == login_id:
            raise Forbidden("administrators cannot change their own account", details={"login_id": login_id})

    @app.get("/v1/operators", tags=["operators"], summary="Console operators (operators:admin)")
    async def list_operators(request: Request) -> Response:
        principal(request, OPERATORS_SCOPE)
        return json_response({"operators": await run_in_threadpool(console().operators)})

    @app.post("/v1/operators", tags=["operators"], status_code=201,
              summary="Create an operator; answers the one-time enrolment code")
    async def create_operator(request: Request) -> Response:
        p = principal(request, OPERATORS_SCOPE)
        data = await _json_object(request)
        op, code = await run_in_threadpool(lambda: console().create_operator(
            login_id=data.get("login_id"), name=data.get("name"), role=data.get("role"),  # type: ignore[arg-type]
            actor=p.actor))
        return json_response({"login_id": op.login_id, "role": op.role, "enrolment_code": code,
                              "enrol_page": "/console/enrol"}, 201)

    @app.post("/v1/operators/{login_id}/{change}", tags=["operators"],
              summary="disable | enable | reset (new enrolment code, passkeys removed) | role")
    async def change_operator(request: Request, login_id: str, change: str) -> Response:
        p = principal(request, OPERATORS_SCOPE)
        not_self(p, login_id)
        svc = console()
        if change == "disable":
            ended = await run_in_threadpool(lambda: svc.disable(login_id, actor=p.actor))
            return json_response({"login_id": login_id, "active": False, "sessions_ended": ended})
        if change == "enable":
            await run_in_threadpool(lambda: svc.enable(login_id, actor=p.actor))
            return json_response({"login_id": login_id, "active": True})
        if change == "reset":
            code = await run_in_threadpool(lambda: svc.reset(login_id, actor=p.actor))
            return json_response({"login_id": login_id, "enrolment_code": code, "enrol_page": "/console/enrol"})
        if change == "role":
            data = await _json_object(request)
            await run_in_threadpool(lambda: svc.set_role(login_id, data.get("role"), actor=p.actor))  # type: ignore[arg-type]
            return json_response({"login_id": login_id, "role": data.get("role")})
        raise InvalidRequest("change must be disable, enable, reset or role", details={"field": "change"})
